-- tensor_extras_spec.lua — what users reach for first: t:norm (values and gradients by
-- finite differences), t:slice (inclusive stop, negative indices, views, gradients),
-- readable shapes (gb.Size{2, 3}), t:equal and `==` as identity, and
-- gb.autograd.backward on lists of roots.
-- Run: build/gpubp /usr/bin/busted tests/lua/tensor_extras_spec.lua

local gb = require('gpubp')

local function close(a, b, tol) return math.abs(a - b) <= (tol or 1e-6) * (1 + math.abs(b)) end

local function err_of(fn)
  local ok, e = pcall(fn)
  assert(not ok, 'expected an error')
  return tostring(e)
end

describe('Tensor:norm', function()
  local t = gb.tensor({ { 3, -4 }, { 1, 0 } })

  it('gives the p-norms of all elements or along a dim', function()
    assert.is_true(close(t:norm():item(), math.sqrt(26)))
    assert.is_true(close(t:norm('fro'):item(), math.sqrt(26)))
    assert.are.equal(8, t:norm(1):item())
    assert.are.equal(4, t:norm(math.huge):item())
    assert.is_true(close(t:norm(3):item(), (27 + 64 + 1) ^ (1 / 3)))
    assert.are.same({ 5, 1 }, t:norm(2, 2):totable())
    assert.are.same({ { 4 }, { 1 } }, t:norm(math.huge, 2, true):totable())
    assert.are.same({ 4, 4 }, t:norm(1, 1):totable())
  end)

  it('is differentiable: gradients equal finite differences, zero at the zero vector', function()
    local x = gb.tensor({ { 0.5, -1.2, 2.0 }, { 0.3, 0.8, -0.7 } }):requires_grad_(true)
    for _, p in ipairs({ 2, 1, 3, 'fro' }) do
      local ok, msg = gb.autograd.gradcheck(function(v) return v:norm(p) end, { x },
        { eps = 1e-2, atol = 2e-3, rtol = 1e-2 })
      assert.is_true(ok, tostring(p) .. ': ' .. tostring(msg))
      ok, msg = gb.autograd.gradcheck(function(v) return v:norm(p, 2, true) end, { x },
        { eps = 1e-2, atol = 2e-3, rtol = 1e-2 })
      assert.is_true(ok, tostring(p) .. ' along dim 2: ' .. tostring(msg))
    end
    local z = gb.zeros(3):requires_grad_(true)
    z:norm():backward()
    assert.are.same({ 0, 0, 0 }, z.grad:totable())
    -- d|x|_2/dx = x / |x|
    local v = gb.tensor({ 3, 4 }):requires_grad_(true)
    v:norm():backward()
    local g = v.grad:totable()
    assert.is_true(close(g[1], 0.6) and close(g[2], 0.8))
  end)

  it('names a bad p', function()
    assert.matches("norm: p must be a positive number, math.huge or 'fro', got nuc$",
      err_of(function() t:norm('nuc') end))
  end)
end)

describe('Tensor:slice', function()
  local x = gb.arange(1, 11):view(2, 5) -- {{1..5}, {6..10}}

  it('takes start..stop inclusive, negative indices from the end, and a step', function()
    assert.are.same({ { 2, 3, 4 }, { 7, 8, 9 } }, x:slice(2, 2, 4):totable())
    assert.are.same({ { 4, 5 }, { 9, 10 } }, x:slice(-1, -2, -1):totable())
    assert.are.same({ { 1, 3, 5 }, { 6, 8, 10 } }, x:slice(2, 1, -1, 2):totable())
    assert.are.same({ { 2, 5 }, { 7, 10 } }, x:slice(2, 2, 5, 3):totable())
    assert.are.same({ { 6, 7, 8, 9, 10 } }, x:slice(1, 2, 2):totable())
    assert.are.same({ 2, 0 }, x:slice(2, 4, 3).shape)
  end)

  it('is a view for step 1 (writes reach the base)', function()
    local base = gb.zeros(2, 5)
    base:slice(2, 2, 3):fill_(7)
    assert.are.same({ { 0, 7, 7, 0, 0 }, { 0, 7, 7, 0, 0 } }, base:totable())
  end)

  it('is differentiable (finite differences), with and without a step', function()
    local v = gb.tensor({ { 0.5, -1.2, 2.0, 0.1 }, { 0.3, 0.8, -0.7, 1.5 } }):requires_grad_(true)
    for _, args in ipairs({ { 2, 2, 3 }, { 2, 1, -1, 2 }, { 1, -1, -1 } }) do
      local ok, msg = gb.autograd.gradcheck(function(t) return t:slice(table.unpack(args)) * 1.5 end,
        { v }, { eps = 1e-2, atol = 2e-3, rtol = 1e-2 })
      assert.is_true(ok, msg)
    end
  end)

  it('names bad arguments', function()
    assert.matches('slice: stop 6 out of range for dimension 2 of size 5 %(expected 1..5 or %-5..%-1%)$',
      err_of(function() x:slice(2, 1, 6) end))
    assert.matches('slice: start 0 out of range for dimension 2 of size 5', err_of(function() x:slice(2, 0, 3) end))
    assert.matches('slice: step must be a positive integer, got 0$', err_of(function() x:slice(2, 1, 3, 0) end))
    assert.matches('slice: dimension 3 out of range for a 2%-D tensor$', err_of(function() x:slice(3, 1, 1) end))
  end)
end)

describe('shapes', function()
  it('print as gb.Size{...} and stay plain tables', function()
    local x = gb.zeros(2, 3)
    assert.are.equal('gb.Size{2, 3}', tostring(x:size()))
    assert.are.equal('gb.Size{2, 3}', tostring(x.shape))
    assert.are.equal('gb.Size{}', tostring(gb.tensor(1):size()))
    assert.are.same({ 2, 3 }, x.shape)
    assert.are.equal(2, #x.shape)
    assert.are.equal('2,3', table.concat(x.shape, ','))
    assert.are.equal(3, x:size(2))
  end)
end)

describe('Tensor:equal and ==', function()
  it('equal compares shape and values; == is identity', function()
    local a = gb.tensor({ 1, 2, 3 })
    assert.is_true(a:equal(gb.tensor({ 1, 2, 3 })))
    assert.is_true(a:equal(gb.tensor({ 1, 2, 3 }, 'int64')))
    assert.is_false(a:equal(gb.tensor({ 1, 2, 4 })))
    assert.is_false(a:equal(gb.tensor({ { 1, 2, 3 } })))
    assert.is_false(gb.tensor({ 0 / 0 }):equal(gb.tensor({ 0 / 0 })))
    assert.is_true(gb.zeros(0):equal(gb.zeros(0)))
    assert.is_false(a == gb.tensor({ 1, 2, 3 }))
    assert.is_true(a == a)
    assert.matches('equal: expected a tensor, got table$', err_of(function() a:equal({ 1, 2, 3 }) end))
  end)
end)

describe('gb.autograd.backward', function()
  it('takes a list of roots and gradients, in one pass (shared graphs work)', function()
    local a = gb.tensor({ 1, 2 }):requires_grad_(true)
    local h = a * a -- shared by both roots
    local y1, y2 = h * 2, h:sum()
    gb.autograd.backward({ y1, y2 }, { gb.tensor({ 1, -1 }) })
    -- d/da [2 a^2 . (1, -1) + sum a^2] = 4a * (1, -1) + 2a
    assert.are.same({ 6, -4 }, a.grad:totable())
    local b = gb.tensor({ 3 }):requires_grad_(true)
    gb.autograd.backward({ (b * b):sum() })
    assert.are.same({ 6 }, b.grad:totable())
    local c = gb.tensor({ 2 }):requires_grad_(true)
    gb.autograd.backward((c * 3):sum())
    assert.are.same({ 3 }, c.grad:totable())
  end)

  it('names what is wrong', function()
    local a = gb.tensor({ 1, 2 }):requires_grad_(true)
    assert.matches('autograd.backward: element 1 has shape %(2%) float32: a gradient can be implied only for a scalar$',
      err_of(function() gb.autograd.backward({ a * 2 }) end))
    assert.matches('autograd.backward: element 2 does not require grad and has no grad_fn$',
      err_of(function() gb.autograd.backward({ a:sum(), gb.ones(1):sum() }) end))
    assert.matches('autograd.backward: gradient 1 has shape %(3%) float32, tensor 1 has %(2%) float32$',
      err_of(function() gb.autograd.backward({ a * 2 }, { gb.ones(3) }) end))
    assert.matches("autograd.backward: unknown option 'retain'$",
      err_of(function() gb.autograd.backward({ a:sum() }, nil, { retain = true }) end))
  end)
end)
