-- nan_spec.lua — NaN honesty seen from Lua: relu and friends keep a NaN (so a NaN in the
-- data cannot train silently), NaN prints as `nan`, log_softmax/cross-entropy keep their
-- digits at large offsets, and clip_grad_norm's error_if_nonfinite (PyTorch semantics).
-- Run: build/gpubp /usr/bin/busted tests/lua/nan_spec.lua

local gb = require('gpubp')
local nan = 0 / 0

local function isnan(v) return v ~= v end

describe('NaN propagates as in PyTorch', function()
  it('relu, leaky_relu, clamp, abs, max/argmax, softmax', function()
    local t = gb.tensor({ nan, -1, 2 })
    local r = t:relu():totable()
    assert.is_true(isnan(r[1])); assert.are.same({ 0, 2 }, { r[2], r[3] })
    assert.is_true(isnan(t:leaky_relu(0.1):totable()[1]))
    assert.is_true(isnan(t:clamp(0, 1):totable()[1]))
    assert.is_true(isnan(t:abs():totable()[1]))
    assert.is_true(isnan(t:max():item()))
    assert.are.equal(1, t:argmax():item())
    assert.are.equal(1, t:argmin():item())
    for _, v in ipairs(t:softmax(1):totable()) do assert.is_true(isnan(v)) end
    assert.is_true(isnan(gb.nn.CrossEntropyLoss()(gb.tensor({ { nan, 1, 2 } }),
      gb.tensor({ 2 }, { dtype = 'int64' })):item()))
  end)

  it('a NaN in the data reaches the loss instead of reading as a clean number', function()
    gb.manual_seed(1)
    local net = gb.nn.Sequential(gb.nn.Linear(3, 4), gb.nn.ReLU(), gb.nn.Linear(4, 2))
    local x = gb.tensor({ { 1, nan, 0.5 }, { 0.2, 0.1, -1 } })
    local loss = gb.nn.CrossEntropyLoss()(net(x), gb.tensor({ 1, 2 }, { dtype = 'int64' }))
    assert.is_true(isnan(loss:item()))
  end)
end)

describe('printing', function()
  it('shows NaN as nan and infinities as inf', function()
    local t = gb.tensor({ nan, -nan, 1 / 0, -1 / 0 })
    assert.are.equal('tensor([nan, nan, inf, -inf], shape=(4), dtype=float32, device=cpu)', tostring(t))
    assert.are.equal('nan', tostring(gb.tensor({ nan }):item()))
    assert.are.equal('nan', tostring((gb.tensor({ nan }) * -1):totable()[1]))
  end)
end)

describe('large offsets', function()
  it('log_softmax of three equal 1000.5 is -1.09861231 with a ~6e-08 gradient (PyTorch)', function()
    for _, off in ipairs({ 1000.5, 1e6 }) do
      local x = gb.full({ 3 }, off):requires_grad_(true)
      local y = x:log_softmax(1)
      y:sum():backward()
      for _, v in ipairs(y:totable()) do
        assert.are.equal('-1.09861231', string.format('%.8f', v))
      end
      for _, g in ipairs(x.grad:totable()) do assert.is_true(math.abs(g) <= 1e-7, tostring(g)) end
    end
  end)

  it('CrossEntropyLoss at offset 1e6 gives 1.40760589 and its gradient (PyTorch)', function()
    local x = gb.tensor({ { 1e6, 1e6 - 1, 1e6 - 2 } }):requires_grad_(true)
    local loss = gb.nn.CrossEntropyLoss()(x, gb.tensor({ 2 }, { dtype = 'int64' }))
    loss:backward()
    -- torch.nn.functional.cross_entropy in float32: 1.4076058864593506 and
    -- grad {0.665241003036499, -0.7552714943885803, 0.09003058075904846}
    assert.is_true(math.abs(loss:item() - 1.4076058864593506) < 2e-7)
    local want = { 0.665241003036499, -0.7552714943885803, 0.09003058075904846 }
    for i, g in ipairs(x.grad:totable()[1]) do assert.is_true(math.abs(g - want[i]) < 2e-7) end
  end)
end)

describe('nn.utils.clip_grad_norm', function()
  local function param(g)
    local p = gb.zeros(#g):requires_grad_(true)
    p.grad = gb.tensor(g)
    return p
  end

  it('error_if_nonfinite raises on a NaN or infinite norm', function()
    assert.has_error(function() gb.nn.utils.clip_grad_norm({ param({ nan, 1 }) }, 1, 2, true) end,
      'nn.utils.clip_grad_norm: the total norm of order 2 of the gradients is nan, so it cannot '
      .. 'be clipped; to scale the gradients by it anyway, set error_if_nonfinite=false')
    assert.has_error(function()
      gb.nn.utils.clip_grad_norm({ param({ 1 / 0, 1 }) }, 1, { error_if_nonfinite = true })
    end, 'nn.utils.clip_grad_norm: the total norm of order 2 of the gradients is inf, so it '
      .. 'cannot be clipped; to scale the gradients by it anyway, set error_if_nonfinite=false')
    assert.has_error(function() gb.nn.utils.clip_grad_norm({ param({ 1 }) }, 1, { error_if_finite = true }) end,
      "nn.utils.clip_grad_norm: unknown option 'error_if_finite'")
  end)

  it('without it, a NaN norm makes every gradient NaN, as PyTorch', function()
    local p = param({ nan, 1 })
    assert.is_true(isnan(gb.nn.utils.clip_grad_norm({ p }, 1)))
    for _, v in ipairs(p.grad:totable()) do assert.is_true(isnan(v)) end
    local q = param({ 3, 4 })
    assert.are.equal(5, gb.nn.utils.clip_grad_norm({ q }, 1, { error_if_nonfinite = true }))
    local g = q.grad:totable()
    assert.is_true(math.abs(g[1] - 0.6) < 1e-6 and math.abs(g[2] - 0.8) < 1e-6)
  end)
end)
