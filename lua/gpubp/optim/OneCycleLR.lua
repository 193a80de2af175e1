-- optim/OneCycleLR.lua — the 1cycle policy (Smith & Topin), as PyTorch's OneCycleLR: the lr
-- rises from max_lr/div_factor to max_lr over pct_start of total_steps, then anneals to
-- initial_lr/final_div_factor (three_phase: back to initial_lr first); momentum (or Adam's
-- beta1) cycles the opposite way between max_momentum and base_momentum.

local LRScheduler = require('gpubp.optim.LRScheduler')
local check = require('gpubp.utils.check')
local options = require('gpubp.options')

local OneCycleLR = LRScheduler:extend('OneCycleLR')

local SPEC = {
  { 'max_lr', check.NONE }, { 'total_steps', false }, { 'epochs', false },
  { 'steps_per_epoch', false }, { 'pct_start', 0.3 }, { 'anneal_strategy', 'cos' },
  { 'cycle_momentum', true }, { 'base_momentum', 0.85 }, { 'max_momentum', 0.95 },
  { 'div_factor', 25.0 }, { 'final_div_factor', 1e4 }, { 'three_phase', false },
}

-- one value per group: `v` itself or v[i]; each a finite number in [lo, hi) (hi optional;
-- lo_open: > lo)
local function per_group(name, v, n, lo, lo_open, hi)
  local out = {}
  if type(v) == 'table' and #v ~= n then
    check.raise(string.format('OneCycleLR: %s must be a number or a list of %d numbers, got %d',
      name, n, #v))
  end
  for i = 1, n do
    local x = type(v) == 'table' and v[i] or v
    if type(x) ~= 'number' then
      check.raise(string.format('OneCycleLR: %s must be a number or a list of %d numbers', name, n))
    end
    if x ~= x or x == math.huge or x < lo or (lo_open and x == lo) or (hi and x >= hi) then
      check.raise(string.format('OneCycleLR: %s must be %s%s, got %s', name,
        hi and string.format('in [%g, %g)', lo, hi) or (lo_open and 'a positive number' or 'a number >= ' .. lo),
        type(v) == 'table' and string.format(' (group %d)', i) or '', tostring(x)))
    end
    out[i] = x
  end
  return out
end

local function positive_int(name, v)
  local n = options.integer_at_least(v, 1)
  if not n then
    check.raise(string.format('OneCycleLR: expected a positive integer %s, got %s', name, tostring(v)))
  end
  return n
end

-- OneCycleLR(optimizer, max_lr, total_steps, ...) or OneCycleLR(optimizer, {max_lr=,
-- total_steps= | epochs= and steps_per_epoch=, pct_start=0.3, anneal_strategy='cos'|'linear',
-- cycle_momentum=true, base_momentum=0.85, max_momentum=0.95, div_factor=25,
-- final_div_factor=1e4, three_phase=false})
function OneCycleLR:init(optimizer, ...)
  local a = LRScheduler._read_args('OneCycleLR', SPEC, ...)
  if type(optimizer) ~= 'table' or type(optimizer.param_groups) ~= 'table' then
    check.raise('OneCycleLR: expected an optimizer (with param_groups), got ' .. type(optimizer))
  end
  local total
  if a.total_steps then
    total = positive_int('total_steps', a.total_steps)
  elseif a.epochs and a.steps_per_epoch then
    total = positive_int('epochs', a.epochs) * positive_int('steps_per_epoch', a.steps_per_epoch)
  else
    check.raise('OneCycleLR: you must define either total_steps or (epochs and steps_per_epoch)')
  end
  self.total_steps = total
  local pct = LRScheduler._check_number('OneCycleLR', 'pct_start', a.pct_start, 0, 1)
  if a.anneal_strategy ~= 'cos' and a.anneal_strategy ~= 'linear' then
    check.raise("OneCycleLR: anneal_strategy must be 'cos' or 'linear', got "
      .. tostring(a.anneal_strategy))
  end
  self.anneal_strategy = a.anneal_strategy
  if a.three_phase then
    self.phases = {
      { end_step = pct * total - 1, from = 'initial_lr', to = 'max_lr', m_from = 'max_momentum',
        m_to = 'base_momentum' },
      { end_step = 2 * pct * total - 2, from = 'max_lr', to = 'initial_lr',
        m_from = 'base_momentum', m_to = 'max_momentum' },
      { end_step = total - 1, from = 'initial_lr', to = 'min_lr', m_from = 'max_momentum',
        m_to = 'max_momentum' },
    }
  else
    self.phases = {
      { end_step = pct * total - 1, from = 'initial_lr', to = 'max_lr', m_from = 'max_momentum',
        m_to = 'base_momentum' },
      { end_step = total - 1, from = 'max_lr', to = 'min_lr', m_from = 'base_momentum',
        m_to = 'max_momentum' },
    }
  end
  local groups = optimizer.param_groups
  local max_lrs = per_group('max_lr', a.max_lr, #groups, 0, true)
  LRScheduler._check_positive('OneCycleLR', 'div_factor', a.div_factor)
  LRScheduler._check_positive('OneCycleLR', 'final_div_factor', a.final_div_factor)
  for i, g in ipairs(groups) do
    g.initial_lr = max_lrs[i] / a.div_factor
    g.max_lr = max_lrs[i]
    g.min_lr = g.initial_lr / a.final_div_factor
  end
  self.cycle_momentum = a.cycle_momentum
  if a.cycle_momentum then
    local d = optimizer.defaults or {}
    if d.momentum == nil and d.betas == nil then
      check.raise('OneCycleLR: optimizer must support momentum with `cycle_momentum` option enabled')
    end
    self.use_beta1 = d.betas ~= nil
    local maxm = per_group('max_momentum', a.max_momentum, #groups, 0, false, 1)
    local basem = per_group('base_momentum', a.base_momentum, #groups, 0, false, 1)
    for i, g in ipairs(groups) do
      if self.use_beta1 then g.betas = { maxm[i], g.betas[2] } else g.momentum = maxm[i] end
      g.max_momentum, g.base_momentum = maxm[i], basem[i]
    end
  end
  LRScheduler.init(self, optimizer)
end

function OneCycleLR:_anneal(from, to, pct)
  if self.anneal_strategy == 'cos' then return to + (from - to) / 2 * (math.cos(math.pi * pct) + 1) end
  return (to - from) * pct + from
end

-- The lr at step last_epoch (0-based; at most total_steps), momentum set on the way.
function OneCycleLR:get_lr(_, step, i)
  if step > self.total_steps then
    check.raise(string.format('OneCycleLR: tried to step %d times; the specified number of '
      .. 'total steps is %d', step, self.total_steps))
  end
  local g = self.optimizer.param_groups[i]
  local start = 0
  for k, ph in ipairs(self.phases) do
    if step <= ph.end_step or k == #self.phases then
      local pct = (step - start) / (ph.end_step - start)
      if self.cycle_momentum then
        local m = self:_anneal(g[ph.m_from], g[ph.m_to], pct)
        if self.use_beta1 then g.betas = { m, g.betas[2] } else g.momentum = m end
      end
      return self:_anneal(g[ph.from], g[ph.to], pct)
    end
    start = ph.end_step
  end
end

return OneCycleLR
