-- optim_args_spec.lua — issue 19, silent wrong results in the optimizers and schedulers: a
-- parameter listed twice (it was stepped twice) and nonsense hyper-parameters (a negative
-- gamma, momentum 1.5, NaN lr ...) are errors with exact messages, at the caller's line.
local gb = require 'gpubp'
local support = dofile('tests/hostile/support.lua')
local optim = gb.optim
local err_of = support.err_of

local function is(expected, fn, ...)
  assert.are.equal(expected, err_of(fn, ...))
end

describe('optimizers refuse', function()
  local w, b = gb.zeros(3, 4):requires_grad_(), gb.zeros(4):requires_grad_()

  it('a parameter listed twice, in one group or across groups, naming it', function()
    is('SGD: parameter 3 of group 1, a (3,4) float32 tensor, is listed twice (it is also '
      .. 'parameter 1 of group 1); each parameter may appear once, in one group',
      optim.SGD, { w, b, w }, { lr = 0.1 })
    is('Adam: parameter 1 of group 2, a (4) float32 tensor, is listed twice (it is also '
      .. 'parameter 2 of group 1); each parameter may appear once, in one group',
      optim.Adam, { { params = { w, b } }, { params = { b }, lr = 0.1 } })
    local m = gb.nn.Linear(2, 3)
    is("RMSprop: parameter 1 of group 2, a (3,2) float32 tensor, is listed twice (it is also "
      .. "parameter 1 ('weight') of group 1); each parameter may appear once, in one group",
      optim.RMSprop, { { params = m }, { params = { m.weight } } })
    -- the error is at the caller's line, not inside lua/gpubp
    local ok, e = pcall(optim.SGD, { w, w })
    assert.is_false(ok)
    assert.is_truthy(tostring(e):find('optim_args_spec.lua:%d+: SGD: parameter 2 of group 1'), e)
    -- a tied weight shared by two modules appears once in parameters(): accepted
    local seq = gb.nn.Sequential(gb.nn.Linear(2, 2), gb.nn.Linear(2, 2))
    seq[2].weight = seq[1].weight
    assert.are.equal(3, #optim.SGD(seq, { lr = 0.1 }).param_groups[1].params)
  end)

  it('stepping a parameter once, not once per listing', function()
    -- before: SGD({p, p}) subtracted lr * g twice
    local p = gb.tensor({ 1, 2 }):requires_grad_()
    local opt = optim.SGD({ p }, { lr = 0.5 })
    ;(p * gb.tensor({ 2, 4 })):sum():backward()
    opt:step()
    assert.are.same({ 0, 0 }, p:totable())
  end)

  it('nonsense hyper-parameters, in the defaults and in a group', function()
    is('SGD: lr must be a number >= 0, got -1', optim.SGD, { w }, { lr = -1 })
    is('SGD: lr must be a number >= 0, got inf', optim.SGD, { w }, { lr = math.huge })
    is('SGD: lr must be a number >= 0, got ' .. tostring(0 / 0), optim.SGD, { w }, { lr = 0 / 0 })
    is('SGD: momentum must be a number in [0, 1), got 1.5', optim.SGD, { w }, { momentum = 1.5 })
    is('SGD: momentum must be a number in [0, 1), got -0.1', optim.SGD, { w }, { momentum = -0.1 })
    is('SGD: dampening must be a number in [0, 1], got 2', optim.SGD, { w }, { dampening = 2 })
    is('SGD: weight_decay must be a number >= 0, got -0.01', optim.SGD, { w },
      { weight_decay = -0.01 })
    is('SGD: momentum must be a number in [0, 1), got 1', optim.SGD,
      { { params = { w } }, { params = { b }, momentum = 1 } }, { lr = 0.1 })
    is("SGD: group 2: option 'lr' expects a number, got string", optim.SGD,
      { { params = { w } }, { params = { b }, lr = 'big' } })
    is("SGD: group 1: option 'nesterov' expects a boolean, got string", optim.SGD,
      { { params = { w }, nesterov = 'yes' } })
    is('SGD: group 2 is a number, not a table {params = ...}', optim.SGD, { { params = { w } }, 5 })
    is('Adam: betas[1] must be a number in [0, 1), got 1', optim.Adam, { w }, { betas = { 1, 0.9 } })
    is('Adam: betas[2] must be a number in [0, 1), got -0.5', optim.Adam, { w },
      { betas = { 0.9, -0.5 } })
    is('Adam: betas must be a table of two numbers in [0, 1)', optim.Adam, { w }, { betas = { 0.9 } })
    is('Adam: eps must be a number >= 0, got -1e-08', optim.Adam, { w }, { eps = -1e-8 })
    is('AdamW: weight_decay must be a number >= 0, got -1', optim.AdamW, { w }, { weight_decay = -1 })
    is('AdamW: lr must be a number >= 0, got -0.001', optim.AdamW, { w }, { lr = -1e-3 })
    is('RMSprop: alpha must be a number in [0, 1], got 1.01', optim.RMSprop, { w }, { alpha = 1.01 })
    is('RMSprop: momentum must be a number in [0, 1), got 3', optim.RMSprop, { w }, { momentum = 3 })
    is('RMSprop: eps must be a number >= 0, got -1', optim.RMSprop, { w }, { eps = -1 })
    -- the edges PyTorch accepts stay accepted
    optim.SGD({ w }, { lr = 0, momentum = 0.999, dampening = 1 })
    optim.Adam({ w }, { betas = { 0, 0 }, eps = 0 })
    optim.RMSprop({ w }, { alpha = 1, momentum = 0 })
  end)
end)

describe('schedulers refuse', function()
  local function opt() return optim.SGD({ gb.zeros(2):requires_grad_() }, { lr = 0.1, momentum = 0.9 }) end

  it('a gamma that is not a positive number', function()
    is('StepLR: gamma must be a positive number, got -0.5', optim.StepLR, opt(), 2, -0.5)
    is('StepLR: gamma must be a positive number, got 0', optim.StepLR, opt(), { step_size = 2, gamma = 0 })
    is('StepLR: gamma must be a positive number, got inf', optim.StepLR, opt(), 2, math.huge)
    is('ExponentialLR: gamma must be a positive number, got -0.9', optim.ExponentialLR, opt(), -0.9)
    is("ExponentialLR: missing argument 'gamma'", optim.ExponentialLR, opt(), {})
    is('MultiStepLR: gamma must be a positive number, got -2', optim.MultiStepLR, opt(), { 2, 4 }, -2)
    -- gamma > 1 (a growing lr) is allowed, as in PyTorch
    local o = opt()
    local sched = optim.ExponentialLR(o, 2)
    sched:step()
    assert.are.equal(0.2, o.param_groups[1].lr)
  end)

  it('sizes and periods that are not positive, and other ranges', function()
    is('StepLR: expected a positive integer step_size, got 0', optim.StepLR, opt(), 0)
    is('StepLR: expected a positive integer step_size, got -3', optim.StepLR, opt(), -3)
    is('CosineAnnealingLR: expected a positive T_max, got 0', optim.CosineAnnealingLR, opt(), 0)
    is('CosineAnnealingLR: expected a positive T_max, got -5', optim.CosineAnnealingLR, opt(), -5)
    is('CosineAnnealingLR: expected a positive T_max, got ' .. tostring(0 / 0),
      optim.CosineAnnealingLR, opt(), 0 / 0)
    is('CosineAnnealingLR: eta_min must be a number >= 0, got -0.1', optim.CosineAnnealingLR,
      opt(), 10, -0.1)
    is('LinearLR: total_iters must be a positive integer, got 0', optim.LinearLR, opt(),
      { total_iters = 0 })
    is('LinearLR: start_factor must be in (0, 1], got 0', optim.LinearLR, opt(), { start_factor = 0 })
    is('OneCycleLR: expected a positive integer total_steps, got 0', optim.OneCycleLR, opt(),
      { max_lr = 1, total_steps = 0 })
    is('OneCycleLR: max_lr must be a positive number, got -1', optim.OneCycleLR, opt(),
      { max_lr = -1, total_steps = 10 })
    is('OneCycleLR: div_factor must be a positive number, got 0', optim.OneCycleLR, opt(),
      { max_lr = 1, total_steps = 10, div_factor = 0 })
    is('OneCycleLR: final_div_factor must be a positive number, got -10', optim.OneCycleLR, opt(),
      { max_lr = 1, total_steps = 10, final_div_factor = -10 })
    is('OneCycleLR: max_momentum must be in [0, 1), got 1.5', optim.OneCycleLR, opt(),
      { max_lr = 1, total_steps = 10, max_momentum = 1.5 })
    is('OneCycleLR: max_lr must be a number or a list of 1 numbers, got 2', optim.OneCycleLR, opt(),
      { max_lr = { 1, 2 }, total_steps = 10 })
    is("ReduceLROnPlateau: factor must be a number >= 0, got half", optim.ReduceLROnPlateau,
      opt(), { factor = 'half' })
    is('ReduceLROnPlateau: factor should be < 1.0, got 1', optim.ReduceLROnPlateau, opt(), { factor = 1 })
    is('ReduceLROnPlateau: patience must be a number >= 0, got -1', optim.ReduceLROnPlateau, opt(),
      { patience = -1 })
    is('ReduceLROnPlateau: threshold must be a number >= 0, got -0.1', optim.ReduceLROnPlateau,
      opt(), { threshold = -0.1 })
    is('ReduceLROnPlateau: expected 1 min_lrs (one per group), got 2', optim.ReduceLROnPlateau,
      opt(), { min_lr = { 0, 0 } })
    assert.is_true(support.still_computes())
  end)
end)
