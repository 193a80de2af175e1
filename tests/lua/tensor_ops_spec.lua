-- tensor_ops_spec.lua — issue 15's tensor ops from Lua: the bindings' defaults and argument
-- forms (elu's alpha, softplus's beta/threshold, masked_fill's mask dtypes and values,
-- logsumexp's dims), values against formulas computed here, and gradients by finite
-- differences. The rows themselves are checked in tests/c/test_ops.c.
-- Run: build/gpubp /usr/bin/busted tests/lua/tensor_ops_spec.lua

local gb = require('gpubp')

local function close(a, b, tol) return math.abs(a - b) <= (tol or 1e-6) * (1 + math.abs(b)) end

local function err_of(fn)
  local ok, e = pcall(fn)
  assert(not ok, 'expected an error')
  return tostring(e)
end

local function gradcheck(fn, x)
  local ok, msg = gb.autograd.gradcheck(fn, { x }, { eps = 1e-2, atol = 2e-3, rtol = 1e-2 })
  assert.is_true(ok, tostring(msg))
end

describe('elementwise maths', function()
  local xs = { -1.7, -0.4, 0.3, 1.1, 2.6 }
  local x = gb.tensor(xs)

  it('sin, cos, erf, log1p, floor, round match the C library', function()
    local want = {
      sin = math.sin, cos = math.cos,
      log1p = function(v) return math.log(1 + v) end,
      floor = math.floor,
    }
    for name, f in pairs(want) do
      local got = x[name](x):totable()
      for i, v in ipairs(xs) do
        if name ~= 'log1p' or v > -1 then
          assert.is_true(close(got[i], f(v), 1e-6), name .. '(' .. v .. ') = ' .. got[i])
        end
      end
    end
    assert.are.same({ 0, 2, 2, -2, -1, 1 }, gb.tensor({ 0.5, 1.5, 2.5, -2.5, -1.2, 0.7 }):round():totable())
    assert.is_true(close(gb.tensor({ 0.5 }):erf():item(), 0.5204998778130465, 1e-6))
    assert.is_true(gb.log1p(gb.tensor({ 1e-8 })):item() > 0.99e-8) -- log(1 + 1e-8) in float32 is 0
  end)

  it('silu, elu and softplus take PyTorch defaults and arguments', function()
    local s = x:silu():totable()
    for i, v in ipairs(xs) do assert.is_true(close(s[i], v / (1 + math.exp(-v)), 1e-6)) end
    local e, e2 = x:elu():totable(), gb.elu(x, 0.5):totable()
    for i, v in ipairs(xs) do
      assert.is_true(close(e[i], v > 0 and v or math.exp(v) - 1, 1e-6))
      assert.is_true(close(e2[i], v > 0 and v or 0.5 * (math.exp(v) - 1), 1e-6))
    end
    local sp = gb.tensor({ 0, 25, 1 }):softplus():totable()
    assert.is_true(close(sp[1], math.log(2), 1e-6))
    assert.are.equal(25, sp[2]) -- past the default threshold 20: x itself
    assert.is_true(close(gb.tensor({ 1 }):softplus(2, 1):item(), 1, 1e-6)) -- 2 > threshold 1
    assert.is_true(close(gb.tensor({ 0.25 }):softplus(2):item(), math.log(1 + math.exp(0.5)) / 2, 1e-6))
    assert.truthy(err_of(function() x:softplus(0) end):find('softplus: beta must not be 0', 1, true))
  end)

  it('are differentiable', function()
    local v = gb.tensor({ { -1.3, -0.45, 0.35 }, { 0.8, 1.25, 2.1 } }):requires_grad_(true)
    for _, name in ipairs({ 'sin', 'cos', 'erf', 'log1p', 'silu', 'elu', 'softplus' }) do
      gradcheck(function(t) return t[name](t) end, v)
    end
    gradcheck(function(t) return t:elu(0.7) end, v)
    gradcheck(function(t) return t:softplus(1.5, 1.0) end, v)
    local r = gb.tensor({ 0.3, 1.7 }):requires_grad_(true)
    local y = r:floor() + r:round()
    y:sum():backward() -- zero gradient: nothing reaches r (as sign)
    assert.is_true(r.grad == nil or r.grad:abs():sum():item() == 0)
  end)
end)

describe('masked_fill', function()
  local x = gb.tensor({ { 1, 2, 3 }, { 4, 5, 6 } })

  it('fills where the mask is nonzero, broadcasting a mask of any dtype', function()
    assert.are.same({ { 0, 2, 0 }, { 0, 5, 0 } },
      x:masked_fill(gb.tensor({ 1, 0, 1 }, { dtype = 'int64' }), 0):totable())
    assert.are.same({ { 1, 2, 3 }, { -1, -1, -1 } }, x:masked_fill(x:gt(3), -1):totable())
    assert.are.same({ { 9, 2, 3 }, { 4, 5, 6 } },
      gb.masked_fill(x, gb.tensor({ { 1, 0, 0 }, { 0, 0, 0 } }), gb.tensor(9)):totable())
    local m = x:masked_fill(x:gt(5), -math.huge):totable()
    assert.are.equal(-math.huge, m[2][3])
  end)

  it('has an in-place form and a gradient that skips the filled places', function()
    local y = x:clone():masked_fill_(x:lt(3), 7)
    assert.are.same({ { 7, 7, 3 }, { 4, 5, 6 } }, y:totable())
    local w = gb.tensor({ { 1, 2, 3 }, { 4, 5, 6 } }):requires_grad_(true)
    w:masked_fill(gb.tensor({ 0, 1, 0 }), 0):sum():backward()
    assert.are.same({ { 1, 0, 1 }, { 1, 0, 1 } }, w.grad:totable())
  end)

  it('names its arguments when they are wrong', function()
    assert.truthy(err_of(function() x:masked_fill(1, 0) end):find('mask must be a tensor', 1, true))
    assert.truthy(err_of(function() x:masked_fill(gb.ones(4), 0) end):find('masked_fill', 1, true))
    assert.truthy(err_of(function() x:masked_fill(gb.ones(3), gb.ones(2)) end)
      :find('one-element tensor', 1, true))
  end)
end)

describe('logsumexp', function()
  it('reduces one dim, several, or all, stably', function()
    local x = gb.tensor({ { 1, 2, 3 }, { 1000, 1000, 1000 } })
    local r = x:logsumexp(2):totable()
    assert.is_true(close(r[1], math.log(math.exp(1) + math.exp(2) + math.exp(3)), 1e-6))
    assert.is_true(close(r[2], 1000 + math.log(3), 1e-7))
    assert.are.same({ 2, 1 }, x:logsumexp(2, true).shape)
    local all = gb.tensor({ { 0, 0 }, { 0, 0 } }):logsumexp({ 1, 2 }):item()
    assert.is_true(close(all, math.log(4), 1e-6))
    assert.is_true(close(gb.zeros(2, 2):logsumexp():item(), math.log(4), 1e-6))
  end)

  it('has the softmax as its gradient', function()
    local v = gb.tensor({ { -1.3, 0.45, 0.35 }, { 0.8, 1.25, -2.1 } }):requires_grad_(true)
    gradcheck(function(t) return t:logsumexp(2) end, v)
    gradcheck(function(t) return t:logsumexp(1, true) end, v)
  end)
end)
