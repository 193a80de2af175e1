-- scheduler_spec.lua — every learning-rate scheduler against PyTorch's lr (and momentum)
-- sequences over 50 steps, to 1e-7 (tests/fixtures/schedulers/expected.lua, recorded by
-- make_schedulers.py beside it); the table form of every constructor; state_dict round
-- trips mid-sequence; strict options.
-- Run: build/gpubp /usr/bin/busted tests/lua/scheduler_spec.lua

local gb = require('gpubp')
local optim = gb.optim
local E = dofile('tests/fixtures/schedulers/expected.lua')
local STEPS = 50

local function sgd(momentum, groups)
  if (groups or 1) == 1 then
    return optim.SGD({ gb.zeros(1):requires_grad_(true) }, { lr = 0.1, momentum = momentum or 0 })
  end
  local gs = {}
  for k = 1, groups do gs[k] = { params = { gb.zeros(1):requires_grad_(true) }, lr = 0.1 * k } end
  return optim.SGD(gs, { lr = 0.1, momentum = momentum or 0 })
end

local function adam() return optim.Adam({ gb.zeros(1):requires_grad_(true) }, { lr = 0.01 }) end

-- name -> {make optimizer, make scheduler (table form), make scheduler (positional) | nil,
--          extra ('momentum' | 'beta1'), plateau}
local CASES = {
  StepLR = { sgd, function(o) return optim.StepLR(o, { step_size = 7, gamma = 0.5 }) end,
    function(o) return optim.StepLR(o, 7, 0.5) end },
  ExponentialLR = { sgd, function(o) return optim.ExponentialLR(o, { gamma = 0.93 }) end,
    function(o) return optim.ExponentialLR(o, 0.93) end },
  CosineAnnealingLR = { sgd,
    function(o) return optim.CosineAnnealingLR(o, { T_max = 20, eta_min = 0.01 }) end,
    function(o) return optim.CosineAnnealingLR(o, 20, 0.01) end },
  MultiStepLR = { sgd,
    function(o) return optim.MultiStepLR(o, { milestones = { 5, 12, 12, 30 }, gamma = 0.3 }) end,
    function(o) return optim.MultiStepLR(o, { 30, 5, 12, 12 }, 0.3) end },
  LambdaLR = { sgd, function(o) return optim.LambdaLR(o, { lr_lambda = function(e) return 1 / (1 + 0.1 * e) end }) end,
    function(o) return optim.LambdaLR(o, function(e) return 1 / (1 + 0.1 * e) end) end },
  LambdaLR_groups = { function() return sgd(0, 2) end,
    function(o) return optim.LambdaLR(o, { lr_lambda = { function(e) return 0.95 ^ e end,
      function(e) return 1 + math.sin(e) end } }) end },
  OneCycleLR = { function() return sgd(0.9) end,
    function(o) return optim.OneCycleLR(o, { max_lr = 0.5, total_steps = 50 }) end,
    function(o) return optim.OneCycleLR(o, 0.5, 50) end, 'momentum' },
  OneCycleLR_adam_three_phase_linear = { adam,
    function(o) return optim.OneCycleLR(o, { max_lr = 0.02, epochs = 5, steps_per_epoch = 10,
      pct_start = 0.25, anneal_strategy = 'linear', three_phase = true, div_factor = 10,
      final_div_factor = 100 }) end, nil, 'beta1' },
  ReduceLROnPlateau = { sgd, function(o) return optim.ReduceLROnPlateau(o, { mode = 'min',
    factor = 0.5, patience = 3, threshold = 0.01, cooldown = 2, min_lr = 0.002 }) end,
    function(o) return optim.ReduceLROnPlateau(o, 'min', 0.5, 3, 0.01, 'rel', 2, 0.002) end,
    nil, true },
  ReduceLROnPlateau_max_abs = { sgd, function(o) return optim.ReduceLROnPlateau(o, { mode = 'max',
    factor = 0.7, patience = 2, threshold = 0.005, threshold_mode = 'abs' }) end, nil, nil, true },
  LinearLR = { sgd, function(o) return optim.LinearLR(o, { start_factor = 0.25, end_factor = 1.0,
    total_iters = 10 }) end, function(o) return optim.LinearLR(o, 0.25, 1.0, 10) end },
  LinearLR_decay = { sgd, function(o) return optim.LinearLR(o, { start_factor = 1.0,
    end_factor = 0.1, total_iters = 30 }) end },
  SequentialLR = { sgd, function(o)
    return optim.SequentialLR(o, { schedulers = { optim.LinearLR(o, { start_factor = 0.1,
      total_iters = 5 }), optim.CosineAnnealingLR(o, { T_max = 45 }) }, milestones = { 5 } })
  end, function(o)
    return optim.SequentialLR(o, { optim.LinearLR(o, 0.1, 1, 5), optim.CosineAnnealingLR(o, 45) }, { 5 })
  end },
  SequentialLR_three = { sgd, function(o)
    return optim.SequentialLR(o, { schedulers = { optim.LinearLR(o, { start_factor = 0.5,
      total_iters = 4 }), optim.StepLR(o, { step_size = 5, gamma = 0.5 }),
      optim.ExponentialLR(o, { gamma = 0.9 }) }, milestones = { 5, 20 } })
  end },
}

-- Runs a case for `n` steps from a fresh optimizer; returns the recorded sequences.
local function run(case, make, n, sched_out)
  local opt = case[1]()
  local s = make(opt)
  if sched_out then sched_out.s, sched_out.opt = s, opt end
  local rec = {}
  local function record()
    for k, g in ipairs(opt.param_groups) do
      local l = rec['lr' .. k] or {}
      rec['lr' .. k] = l
      l[#l + 1] = g.lr
      if case[4] then
        local m = rec[case[4] .. k] or {}
        rec[case[4] .. k] = m
        m[#m + 1] = case[4] == 'momentum' and g.momentum or g.betas[1]
      end
    end
  end
  record()
  for i = 1, n do
    if case[5] then s:step(E.metrics[i]) else s:step() end
    record()
  end
  return rec, s, opt
end

local function compare(got, want, what)
  assert.are.equal(#want, #got, what .. ': length')
  for i = 1, #want do
    if math.abs(got[i] - want[i]) > 1e-7 then
      error(string.format('%s: step %d: got %.10g, PyTorch %.10g', what, i - 1, got[i], want[i]), 2)
    end
  end
end

describe('schedulers match PyTorch over 50 steps', function()
  local names = {}
  for name in pairs(CASES) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    local case = CASES[name]
    it(name .. ' (table form)', function()
      local rec = run(case, case[2], STEPS)
      for key, want in pairs(E[name]) do compare(rec[key], want, name .. ' ' .. key) end
    end)
    if case[3] then
      it(name .. ' (positional form)', function()
        local rec = run(case, case[3], STEPS)
        for key, want in pairs(E[name]) do compare(rec[key], want, name .. ' ' .. key) end
      end)
    end
    it(name .. ': state_dict after 20 steps resumes the sequence', function()
      local _, s = run(case, case[2], 20)
      local sd = s:state_dict()
      for k, v in pairs(sd) do assert.are_not.equal('function', type(v), k) end
      local out = {}
      local _, s2, opt2 = run(case, case[2], 0, out)
      s2:load_state_dict(sd)
      local want = E[name].lr1
      assert.is_true(math.abs(opt2.param_groups[1].lr - want[21]) <= 1e-7)
      for i = 21, STEPS do
        if case[5] then s2:step(E.metrics[i]) else s2:step() end
        local lr = opt2.param_groups[1].lr
        if math.abs(lr - want[i + 1]) > 1e-7 then
          error(string.format('step %d after reload: got %.10g, PyTorch %.10g', i, lr, want[i + 1]))
        end
      end
    end)
  end
end)

describe('scheduler arguments', function()
  local function msg(f)
    local ok, e = pcall(f)
    assert.is_false(ok)
    return tostring(e)
  end

  it('reject unknown options, naming the scheduler and the option, at the caller', function()
    local o = sgd()
    local e = msg(function() optim.StepLR(o, { step_size = 2, gama = 0.5 }) end)
    assert.are.equal("scheduler_spec.lua:" .. debug.getinfo(1, 'l').currentline - 1
      .. ": StepLR: unknown option 'gama'", e:match('[^/]*$'))
    assert.matches("OneCycleLR: unknown option 'max_lrs'",
      msg(function() optim.OneCycleLR(o, { max_lrs = 1, total_steps = 3 }) end), 1, true)
    assert.matches("ReduceLROnPlateau: unknown option 'patient'",
      msg(function() optim.ReduceLROnPlateau(o, { patient = 3 }) end), 1, true)
    assert.matches("LinearLR: unknown option 'warmup'",
      msg(function() optim.LinearLR(o, { warmup = 3 }) end), 1, true)
  end)

  it('name missing and bad arguments', function()
    local o = sgd()
    assert.matches("StepLR: missing argument 'step_size'", msg(function() optim.StepLR(o, {}) end), 1, true)
    assert.matches('MultiStepLR: milestone 2 is 2.5, not an integer',
      msg(function() optim.MultiStepLR(o, { 1, 2.5 }) end), 1, true)
    assert.matches('OneCycleLR: you must define either total_steps or (epochs and steps_per_epoch)',
      msg(function() optim.OneCycleLR(o, { max_lr = 1 }) end), 1, true)
    assert.matches('SequentialLR: expected 1 milestones for 2 schedulers, got 2',
      msg(function() optim.SequentialLR(o, { optim.StepLR(o, 2), optim.StepLR(o, 3) }, { 1, 2 }) end), 1, true)
    assert.matches('LambdaLR: expected 1 lr_lambda functions (one per group), got 2',
      msg(function() optim.LambdaLR(o, { function() return 1 end, function() return 1 end }) end), 1, true)
    assert.matches('ReduceLROnPlateau: factor should be < 1.0, got 2',
      msg(function() optim.ReduceLROnPlateau(o, { factor = 2 }) end), 1, true)
  end)

  it('OneCycleLR refuses to step past total_steps', function()
    local o = sgd(0.9)
    local s = optim.OneCycleLR(o, { max_lr = 1, total_steps = 3 })
    s:step(); s:step(); s:step()
    assert.matches('OneCycleLR: tried to step 4 times; the specified number of total steps is 3',
      msg(function() s:step() end), 1, true)
  end)
end)
