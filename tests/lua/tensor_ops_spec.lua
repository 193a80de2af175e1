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

describe('cumsum', function()
  it('runs along a dim, for floats and integers, with the reverse sum as gradient', function()
    local x = gb.tensor({ { 1, 2, 3 }, { 4, 5, 6 } })
    assert.are.same({ { 1, 3, 6 }, { 4, 9, 15 } }, x:cumsum(2):totable())
    assert.are.same({ { 1, 2, 3 }, { 5, 7, 9 } }, gb.cumsum(x, 1):totable())
    local i = gb.tensor({ 1, 2, 3 }, { dtype = 'int64' }):cumsum(-1)
    assert.are.equal('int64', i.dtype)
    assert.are.same({ 1, 3, 6 }, i:totable())
    local w = gb.tensor({ 0.5, -1, 2 }):requires_grad_(true)
    w:cumsum(1):sum():backward()
    assert.are.same({ 3, 2, 1 }, w.grad:totable())
    gradcheck(function(t) return t:cumsum(1) end,
      gb.tensor({ { 0.3, -1.2 }, { 0.7, 2.0 } }):requires_grad_(true))
    assert.truthy(err_of(function() x:cumsum() end):find('number expected', 1, true))
  end)
end)

describe('split and chunk', function()
  local x = gb.arange(10):view(5, 2)

  it('split by a size or by sizes gives views', function()
    local p = x:split(2)
    assert.are.equal(3, #p)
    assert.are.same({ 2, 2 }, p[1].shape)
    assert.are.same({ 1, 2 }, p[3].shape)
    assert.are.same({ { 8, 9 } }, p[3]:totable())
    local q = gb.split(x, { 1, 4 })
    assert.are.same({ 4, 2 }, q[2].shape)
    local cols = x:split(1, 2)
    assert.are.same({ 0, 2, 4, 6, 8 }, cols[1]:reshape(-1):totable())
    p[1]:fill_(-1)
    assert.are.equal(-1, x[1][1]:item()) -- a view
    assert.truthy(err_of(function() x:split({ 1, 2 }) end)
      :find('split: sizes add up to 3 but dimension 1 has size 5', 1, true))
    assert.truthy(err_of(function() x:split(0) end):find('positive integer', 1, true))
  end)

  it('chunk follows torch.chunk, and gradients flow through the pieces', function()
    local sizes = {}
    for _, t in ipairs(gb.arange(5):chunk(4)) do sizes[#sizes + 1] = t:size(1) end
    assert.are.same({ 2, 2, 1 }, sizes)
    assert.are.equal(3, #gb.chunk(gb.zeros(6, 3), 3, 1))
    local w = gb.tensor({ 1, 2, 3, 4 }):requires_grad_(true)
    local a, b = table.unpack(w:chunk(2))
    local y = a * 2 + b * 3
    y:sum():backward()
    assert.are.same({ 2, 2, 3, 3 }, w.grad:totable())
  end)
end)

describe('repeat and tile', function()
  -- `repeat` is a Lua keyword: t['repeat'](t, ...) or t:tile(...)
  local function rep(t, ...) return t['repeat'](t, ...) end

  it('tiles like torch.Tensor.repeat and sums the tiles for the gradient', function()
    local x = gb.tensor({ { 1, 2 }, { 3, 4 } })
    assert.are.same({ { 1, 2, 1, 2, 1, 2 }, { 3, 4, 3, 4, 3, 4 } }, rep(x, 1, 3):totable())
    assert.are.same({ 2, 4, 2 }, rep(x, { 2, 2, 1 }).shape)
    assert.are.same({ 7, 7 }, rep(gb.tensor({ 7 }, { dtype = 'int64' }), 2):totable())
    assert.are.same({ { 1, 3 }, { 2, 4 }, { 1, 3 }, { 2, 4 } }, x:t():tile(2, 1):totable())
    assert.are.same({ { 1, 2, 1, 2 }, { 3, 4, 3, 4 } }, x:tile(2):totable()) -- torch.tile pads
    local w = gb.tensor({ { 0.5, -1 } }):requires_grad_(true)
    gradcheck(function(t) return rep(t, 3, 2) end, w)
    gradcheck(function(t) return t:tile(2, 1, 3) end, w)
    assert.truthy(err_of(function() rep(x, 2) end)
      :find('repeat: 1 factors for a 2-D tensor (at least 2 expected)', 1, true))
  end)
end)

describe('slice with a step', function()
  it('is a strided view, differentiable', function()
    local x = gb.arange(12):view(3, 4)
    local s = x:slice(2, 1, 4, 2)
    assert.are.same({ { 0, 2 }, { 4, 6 }, { 8, 10 } }, s:totable())
    s:fill_(-1)
    assert.are.same({ -1, 1, -1, 3 }, x[1]:totable()) -- writes reach the base
    assert.are.same({ { 1, 3 } }, gb.arange(12):view(3, 4):slice(1, -1, 3, 3):slice(2, 2, -1, 2)
      :add(-8):totable())
    local w = gb.tensor({ 1, 2, 3, 4, 5 }):requires_grad_(true)
    w:slice(1, 2, 5, 2):sum():backward()
    assert.are.same({ 0, 1, 0, 1, 0 }, w.grad:totable())
  end)
end)

describe('gb.one_hot and gb.linspace', function()
  it('one_hot counts classes from 1', function()
    local y = gb.tensor({ 3, 1, 2 }, { dtype = 'int64' })
    assert.are.same({ { 0, 0, 1 }, { 1, 0, 0 }, { 0, 1, 0 } }, gb.one_hot(y):totable())
    local h = gb.one_hot(y:int(), 4)
    assert.are.equal('int64', h.dtype)
    assert.are.same({ 3, 4 }, h.shape)
    assert.are.same({ 2, 2, 3 }, gb.one_hot(gb.ones(2, 2):long(), 3).shape)
    assert.truthy(err_of(function() gb.one_hot(y, 2) end)
      :find('one_hot: label 3 is out of range 1..2', 1, true))
    assert.truthy(err_of(function() gb.one_hot(gb.ones(2)) end):find('int64 or int32', 1, true))
  end)

  it('linspace matches torch.linspace: both ends exact', function()
    local t = gb.linspace(-1, 2, 9):totable()
    for k = 1, 9 do assert.is_true(close(t[k], -1 + 3 * (k - 1) / 8, 1e-7)) end
    assert.are.equal(2, t[9])
    assert.are.same({ 3 }, gb.linspace(3, 7, 1):totable())
    assert.are.equal(0, gb.linspace(0, 1, 0):numel())
    -- torch.linspace(0, 1, 7)[4] in float32 is 0.5 exactly (the middle counted from the end)
    assert.are.equal(0.5, gb.linspace(0, 1, 7):totable()[4])
    assert.are.same({ 0, 2, 5 }, gb.linspace(0, 5, 3, { dtype = 'int64' }):totable())
    assert.truthy(err_of(function() gb.linspace(0, 1, -1) end):find('steps must be >= 0', 1, true))
  end)
end)

describe('sort and topk', function()
  local x = gb.tensor({ { 3, 1, 2 }, { 0, 5, 4 } })

  it('sort gives values and 1-based indices, stably, along the last dim by default', function()
    local v, i = x:sort()
    assert.are.same({ { 1, 2, 3 }, { 0, 4, 5 } }, v:totable())
    assert.are.same({ { 2, 3, 1 }, { 1, 3, 2 } }, i:totable())
    assert.are.equal('int64', i.dtype)
    v, i = gb.sort(x, 1, true)
    assert.are.same({ { 3, 5, 4 }, { 0, 1, 2 } }, v:totable())
    assert.are.same({ { 1, 2, 2 }, { 2, 1, 1 } }, i:totable())
    local _, ti = gb.tensor({ 1, 0, 1, 0 }):sort(1, true)
    assert.are.same({ 1, 3, 2, 4 }, ti:totable()) -- ties keep their order
    local iv = gb.tensor({ 3, 1 }, { dtype = 'int64' }):sort()
    assert.are.equal('int64', iv.dtype)
    assert.are.same({ 1, 3 }, iv:totable())
  end)

  it('topk picks the k largest (or smallest) along a dim', function()
    local v, i = x:topk(2)
    assert.are.same({ { 3, 2 }, { 5, 4 } }, v:totable())
    assert.are.same({ { 1, 3 }, { 2, 3 } }, i:totable())
    v, i = x:topk(1, 1, false)
    assert.are.same({ { 0, 1, 2 } }, v:totable())
    assert.are.same({ { 2, 1, 1 } }, i:totable())
    assert.truthy(err_of(function() x:topk(4) end)
      :find('topk: k = 4 is out of range 0..3 for dimension 2 of (2,3)', 1, true))
  end)

  it('pass gradients back to where the values came from', function()
    local w = gb.tensor({ { 0.3, -1.2, 2.0 }, { 0.9, 0.1, -0.4 } }):requires_grad_(true)
    gradcheck(function(t) return (t:sort(2)) end, w)
    gradcheck(function(t) return (t:topk(2, 2)) end, w)
    gradcheck(function(t) return (t:sort(1, true)) end, w)
  end)
end)

describe('gb.cat and gb.stack as rows', function()
  it('join any number of pieces, promoting dtypes, with gradients as views', function()
    local a, b = gb.tensor({ { 1, 2 } }), gb.tensor({ { 3, 4 }, { 5, 6 } })
    assert.are.same({ { 1, 2 }, { 3, 4 }, { 5, 6 } }, gb.cat({ a, b }):totable())
    assert.are.same({ { 1, 2, 1, 2 } }, gb.cat({ a, a }, 2):totable())
    local mixed = gb.cat({ gb.tensor({ 1 }, { dtype = 'int64' }), gb.tensor({ 0.5 }) })
    assert.are.equal('float32', mixed.dtype)
    assert.are.same({ 1, 0.5 }, mixed:totable())
    local w = gb.tensor({ 1, 2, 3 }):requires_grad_(true)
    local z = gb.tensor({ 4, 5 }):requires_grad_(true)
    local y = gb.cat({ w, z, w })
    assert.are.same({ 1, 2, 3, 4, 5, 1, 2, 3 }, y:totable())
    local loss = (y * gb.arange(1, 9)):sum()
    loss:backward()
    assert.are.same({ 1 + 6, 2 + 7, 3 + 8 }, w.grad:totable())
    assert.are.same({ 4, 5 }, z.grad:totable())
    local s = gb.stack({ w, w }, 2)
    assert.are.same({ 3, 2 }, s.shape)
    assert.truthy(err_of(function() gb.cat({ a, gb.ones(1, 3) }) end)
      :find('cat: tensor 2 has size 3 in dimension 2, expected 2', 1, true))
  end)

  it('with 1000 pieces needing grad: exact gradients, memory linear in the pieces', function()
    local n, width = 1000, 50
    local pieces = {}
    for i = 1, n do pieces[i] = gb.full({ 1, width }, i):requires_grad_(true) end
    local y = gb.cat(pieces)
    assert.are.same({ n, width }, y.shape)
    assert.are.equal(n, y[n][1]:item())
    local loss = (y * gb.arange(1, n + 1):view(n, 1)):sum()
    loss:backward()
    for _, i in ipairs({ 1, 2, 417, 999, 1000 }) do
      assert.are.same(i, pieces[i].grad[1][1]:item())
      assert.are.same(i, pieces[i].grad[1][width]:item())
    end
    -- the output is n * width * 4 bytes (200 KB); the tree holds log4(n) levels of copies
    -- and the gradients. A sum of n padded copies (the old form) needs n * 200 KB = 200 MB.
    -- (the peak counts since this spec's process started: the cases above are tiny)
    local peak = gb.memory_stats().peak
    assert.is_true(peak < 40 * n * width * 4, 'peak ' .. peak .. ' bytes')
  end)
end)

describe('threaded elementwise loops and sums', function()
  it('give the same bits with 1, 2 or 4 threads', function()
    local default = gb.get_num_threads()
    gb.manual_seed(7)
    local n = (1 << 18) + 12345 -- past the threshold, and not a whole number of chunks
    local x, y = gb.randn(n), gb.randn(n)
    local m = gb.randn(600, 700) -- 600 outputs of 700: split over outputs
    local function results()
      return {
        (x + y):sum(-1):item(), -- elementwise then a long run in chunks
        x:exp():mean():item(),
        (x * y):gelu():sum():item(),
        m:sum(-1):totable(),
        m:t():contiguous():sum(-1):sum():item(),
        x:clone():add_(y):sub(y):equal(x),
      }
    end
    gb.set_num_threads(1)
    local one = results()
    for _, t in ipairs({ 2, 4 }) do
      gb.set_num_threads(t)
      assert.are.equal(t, gb.get_num_threads())
      assert.are.same(one, results())
    end
    gb.set_num_threads(default)
    -- chunks summed in double: 1 + ... + n comes out as the float32 nearest n (n + 1) / 2
    assert.is_true(close(gb.arange(1, n + 1):sum():item(), n * (n + 1) / 2, 6e-8))
    assert.truthy(err_of(function() gb.set_num_threads(0) end)
      :find('set_num_threads: expected 1..1024, got 0', 1, true))
  end)
end)
