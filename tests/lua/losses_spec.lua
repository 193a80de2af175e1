-- losses_spec.lua — BCELoss, SmoothL1Loss, HuberLoss and KLDivLoss (every reduction, the
-- options, gradients) against numbers recorded from PyTorch 1.13 (recipe:
-- tests/fixtures/losses/make_losses.py).
local gb = require 'gpubp'
local support = dofile('tests/lua/support.lua')
local fill, flat = support.fill, support.flat
local function close(got, want, what) support.assert_list_close(got, want, what, 2e-5) end
local nn = gb.nn
local E = dofile('tests/fixtures/losses/expected.lua')

-- every reduction of make(r)(x, y) and the gradient of the `grad_of` one
local function check(name, make, x, y, reductions, grad_of)
  for _, r in ipairs(reductions or { 'mean', 'sum', 'none' }) do
    local xi = x:clone():requires_grad_()
    local loss = make(r)(xi, y)
    close(flat(loss), E[name .. '_' .. r], name .. ' ' .. r)
    if r == (grad_of or 'sum') then
      loss:backward()
      close(flat(xi.grad), E[name .. '_grad'], name .. ' gradient')
    end
  end
end

local shape = { 3, 4 }

describe('BCELoss', function()
  it('matches PyTorch, with a weight, and clamps the logs at the ends', function()
    local p = fill(shape, 0.7, 0.2) * 0.45 + 0.5
    local t = fill(shape, 0.3, 1.1) * 0.5 + 0.5
    check('bce', function(r) return nn.BCELoss { reduction = r } end, p, t)
    local w = fill({ 4 }, 1.7, 0.1):abs() + 0.5
    check('bce_weight', function(r) return nn.BCELoss { reduction = r, weight = w } end, p, t)
    close(flat(nn.BCELoss { reduction = 'none' }(gb.tensor({ 0, 1, 0.5, 1e-30 }), gb.tensor({ 1, 0, 1, 1 }))),
      E.bce_ends_none, 'bce at the ends')
  end)

  it('refuses inputs outside [0, 1], mismatched shapes and unknown options', function()
    assert.has_error(function() nn.BCELoss()(gb.tensor({ 0.5, 1.5 }), gb.tensor({ 1, 0 })) end,
      'BCELoss: all elements of input should be between 0 and 1')
    assert.has_error(function() nn.BCELoss()(gb.tensor({ 0.5, 0.5 }), gb.tensor({ 1, 0, 1 })) end,
      'BCELoss: input (2) and target (3) must have the same shape')
    assert.has_error(function() nn.BCELoss { weigth = 1 } end, "BCELoss: unknown option 'weigth'")
  end)
end)

describe('SmoothL1Loss and HuberLoss', function()
  it('match PyTorch on both sides of beta and delta', function()
    local x = fill(shape, 0.9, 0.4) * 2.5
    local y = fill(shape, 0.45, 2.0)
    check('smoothl1', function(r) return nn.SmoothL1Loss { reduction = r } end, x, y)
    check('smoothl1_beta', function(r) return nn.SmoothL1Loss { reduction = r, beta = 0.5 } end, x, y)
    check('smoothl1_l1', function(r) return nn.SmoothL1Loss { reduction = r, beta = 0 } end, x, y)
    check('huber', function(r) return nn.HuberLoss { reduction = r } end, x, y)
    check('huber_delta', function(r) return nn.HuberLoss { reduction = r, delta = 1.5 } end, x, y)
  end)

  it('check their options', function()
    assert.has_error(function() nn.SmoothL1Loss { beta = -1 } end, 'SmoothL1Loss: beta must be >= 0, got -1')
    assert.has_error(function() nn.HuberLoss { delta = 0 } end, 'HuberLoss: delta must be > 0, got 0')
    assert.has_error(function() nn.HuberLoss { detla = 1 } end, "HuberLoss: unknown option 'detla'")
    assert.has_error(function() nn.SmoothL1Loss { reduction = 'avg' } end,
      "SmoothL1Loss: reduction must be 'mean', 'sum' or 'none', got 'avg'")
  end)
end)

describe('KLDivLoss', function()
  local all = { 'mean', 'batchmean', 'sum', 'none' }
  it('matches PyTorch for probability targets with zeros, every reduction', function()
    local logp = (fill(shape, 0.8, 0.3) * 2):log_softmax(2)
    local q = (fill(shape, 0.5, 1.7) * 3):softmax(2)
    gb.no_grad(function()
      q[1][2] = 0
      q[3][4] = 0
    end)
    check('kl', function(r) return nn.KLDivLoss { reduction = r } end, logp, q, all, 'batchmean')
  end)

  it('matches PyTorch for log targets', function()
    local logp = (fill(shape, 0.8, 0.3) * 2):log_softmax(2)
    local logq = (fill(shape, 0.5, 1.7) * 3):log_softmax(2)
    check('kl_log', function(r) return nn.KLDivLoss { reduction = r, log_target = true } end,
      logp, logq, all, 'batchmean')
  end)

  it('checks its options', function()
    assert.has_error(function() nn.KLDivLoss { reduction = 'avg' } end,
      "KLDivLoss: reduction must be 'mean', 'batchmean', 'sum' or 'none', got 'avg'")
    assert.has_error(function() nn.KLDivLoss { logtarget = true } end, "KLDivLoss: unknown option 'logtarget'")
  end)
end)
