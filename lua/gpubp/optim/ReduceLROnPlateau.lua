-- optim/ReduceLROnPlateau.lua — multiplies the lr by `factor` once a metric has not improved
-- for `patience` steps, as PyTorch's ReduceLROnPlateau: step(metric) after each evaluation.

local check = require('gpubp.utils.check')
local LRScheduler = require('gpubp.optim.LRScheduler')

-- a scheduler driven by a metric: LRScheduler's state_dict and get_last_lr, its own step
local ReduceLROnPlateau = LRScheduler:extend('ReduceLROnPlateau')

local SPEC = {
  { 'mode', 'min' }, { 'factor', 0.1 }, { 'patience', 10 }, { 'threshold', 1e-4 },
  { 'threshold_mode', 'rel' }, { 'cooldown', 0 }, { 'min_lr', 0 }, { 'eps', 1e-8 },
  { 'verbose', false },
}

-- ReduceLROnPlateau(optimizer, {mode='min'|'max', factor=0.1, patience=10, threshold=1e-4,
-- threshold_mode='rel'|'abs', cooldown=0, min_lr=0 (or one per group), eps=1e-8}); the
-- options may also be given positionally in that order.
function ReduceLROnPlateau:init(optimizer, ...)
  local name = 'ReduceLROnPlateau'
  if type(optimizer) ~= 'table' or type(optimizer.param_groups) ~= 'table' then
    check.raise(name .. ': expected an optimizer (with param_groups), got ' .. type(optimizer))
  end
  local a = LRScheduler._read_args(name, SPEC, ...)
  LRScheduler._check_number(name, 'factor', a.factor, 0)
  if a.factor >= 1 then check.raise(name .. ': factor should be < 1.0, got ' .. tostring(a.factor)) end
  if a.mode ~= 'min' and a.mode ~= 'max' then
    check.raise(name .. ": mode must be 'min' or 'max', got " .. tostring(a.mode))
  end
  if a.threshold_mode ~= 'rel' and a.threshold_mode ~= 'abs' then
    check.raise(name .. ": threshold_mode must be 'rel' or 'abs', got " .. tostring(a.threshold_mode))
  end
  self.optimizer = optimizer
  self.min_lrs = {}
  if type(a.min_lr) == 'table' and #a.min_lr ~= #optimizer.param_groups then
    check.raise(string.format('%s: expected %d min_lrs (one per group), got %d', name,
      #optimizer.param_groups, #a.min_lr))
  end
  for i = 1, #optimizer.param_groups do
    local m = type(a.min_lr) == 'table' and a.min_lr[i] or a.min_lr
    self.min_lrs[i] = LRScheduler._check_number(name, 'min_lr', m, 0)
  end
  self.factor = LRScheduler._check_number(name, 'factor', a.factor, 0)
  self.patience = LRScheduler._check_number(name, 'patience', a.patience, 0)
  self.cooldown = LRScheduler._check_number(name, 'cooldown', a.cooldown, 0)
  self.threshold = LRScheduler._check_number(name, 'threshold', a.threshold, 0)
  self.eps = LRScheduler._check_number(name, 'eps', a.eps, 0)
  self.mode, self.threshold_mode, self.verbose = a.mode, a.threshold_mode, a.verbose
  self.best = a.mode == 'min' and math.huge or -math.huge
  self.num_bad_epochs, self.cooldown_counter, self.last_epoch = 0, 0, 0
  self.last_lr = {}
  for i, g in ipairs(optimizer.param_groups) do self.last_lr[i] = g.lr end
end

function ReduceLROnPlateau:_is_better(a)
  local best, th = self.best, self.threshold
  if self.mode == 'min' then
    if self.threshold_mode == 'rel' then return a < best * (1 - th) end
    return a < best - th
  end
  if self.threshold_mode == 'rel' then return a > best * (th + 1) end
  return a > best + th
end

-- Feeds one value of the watched metric (a number or a one-element tensor).
function ReduceLROnPlateau:step(metric)
  if type(metric) ~= 'number' then
    local ok, v = pcall(function() return metric:item() end)
    if not ok or type(v) ~= 'number' then
      check.raise('ReduceLROnPlateau:step: expected a number metric, got ' .. type(metric))
    end
    metric = v
  end
  self.last_epoch = self.last_epoch + 1
  if self:_is_better(metric) then
    self.best, self.num_bad_epochs = metric, 0
  else
    self.num_bad_epochs = self.num_bad_epochs + 1
  end
  if self.cooldown_counter > 0 then
    self.cooldown_counter = self.cooldown_counter - 1
    self.num_bad_epochs = 0
  end
  if self.num_bad_epochs > self.patience then
    for i, g in ipairs(self.optimizer.param_groups) do
      local new = math.max(g.lr * self.factor, self.min_lrs[i])
      if g.lr - new > self.eps then
        g.lr = new
        if self.verbose then
          print(string.format('ReduceLROnPlateau: step %d: reducing the lr of group %d to %.4e',
            self.last_epoch, i, new))
        end
      end
    end
    self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
  end
  for i, g in ipairs(self.optimizer.param_groups) do self.last_lr[i] = g.lr end
end

return ReduceLROnPlateau
