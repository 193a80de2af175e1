-- optim/LRScheduler.lua — base class of the learning-rate schedulers. It remembers each
-- group's initial lr, counts steps (last_epoch, 0 after construction, as PyTorch) and on
-- step() writes get_lr()'s closed-form values into the optimizer's param_groups.

local class = require('gpubp.class')
local check = require('gpubp.utils.check')

local LRScheduler = class.Object:extend('LRScheduler')

-- Reads a scheduler's arguments given either positionally (`StepLR(opt, 2, 0.5)`) or as
-- one table (`StepLR(opt, {step_size=2, gamma=0.5})`). spec lists {name, default} in
-- positional order; a default of check.NONE marks a required argument. Unknown options
-- and missing required ones are errors naming the scheduler.
function LRScheduler._read_args(name, spec, ...)
  local n = select('#', ...)
  local first = ...
  local out = {}
  if n == 1 and check.is_options(first) and not (spec[1][3] == 'list' and next(first) == nil) then
    local known = {}
    for _, s in ipairs(spec) do known[s[1]] = true end
    for k, v in pairs(first) do
      if not known[k] then check.raise(string.format("%s: unknown option '%s'", name, k)) end
      out[k] = v
    end
  else
    if n > #spec then
      check.raise(string.format('%s: expected at most %d arguments after the optimizer, got %d',
        name, #spec, n))
    end
    for i, s in ipairs(spec) do out[s[1]] = (select(i, ...)) end
  end
  for _, s in ipairs(spec) do
    if out[s[1]] == nil then
      if s[2] == check.NONE then
        check.raise(string.format("%s: missing argument '%s'", name, s[1]))
      end
      out[s[1]] = s[2]
    end
  end
  return out
end

-- A finite number within [lo, hi] (either bound optional); NaN and infinities are refused.
function LRScheduler._check_number(name, k, v, lo, hi)
  if type(v) ~= 'number' or v ~= v or v == math.huge or v == -math.huge or (lo and v < lo)
     or (hi and v > hi) then
    local range = lo and hi and string.format(' in [%g, %g]', lo, hi)
      or lo and string.format(' >= %g', lo) or ''
    check.raise(string.format('%s: %s must be a number%s, got %s', name, k, range, tostring(v)))
  end
  return v
end

-- A finite number > 0 (gamma, factors): "StepLR: gamma must be a positive number, got -0.5".
function LRScheduler._check_positive(name, k, v)
  if type(v) ~= 'number' or v ~= v or v <= 0 or v == math.huge then
    check.raise(string.format('%s: %s must be a positive number, got %s', name, k, tostring(v)))
  end
  return v
end

function LRScheduler:init(optimizer)
  local name = self.class_name(self)
  if type(optimizer) ~= 'table' or type(optimizer.param_groups) ~= 'table' then
    check.raise(name .. ': expected an optimizer (with param_groups), got ' .. type(optimizer))
  end
  self.optimizer = optimizer
  self.base_lrs = {}
  for i, g in ipairs(optimizer.param_groups) do
    if g.initial_lr == nil then g.initial_lr = g.lr end
    self.base_lrs[i] = g.initial_lr
  end
  self.last_epoch = -1
  self:step()
end

-- Advances one epoch (or jumps to `epoch`) and sets the groups' lr from
-- get_lr(base_lr, epoch, group_index).
function LRScheduler:step(epoch)
  self.last_epoch = epoch or self.last_epoch + 1
  self.last_lr = {}
  for i, g in ipairs(self.optimizer.param_groups) do
    g.lr = self:get_lr(self.base_lrs[i], self.last_epoch, i)
    self.last_lr[i] = g.lr
  end
end

-- The lr of group `group` at `epoch` from its initial lr; each scheduler implements it.
function LRScheduler:get_lr()
  check.raise(self.class_name(self) .. ': get_lr is not implemented')
end

-- The lr of each group after the last step (a list, one per group).
function LRScheduler:get_last_lr()
  local out = {}
  for i, v in ipairs(self.last_lr) do out[i] = v end
  return out
end

local function copy_plain(v)
  if type(v) ~= 'table' then return v end
  local t = {}
  for k, x in pairs(v) do
    if type(x) ~= 'function' then t[k] = copy_plain(x) end
  end
  return t
end
LRScheduler._copy_plain = copy_plain

-- Every field but the optimizer and functions (lambdas), as PyTorch's state_dict:
-- last_epoch, base_lrs, last_lr and the scheduler's own settings and counters.
function LRScheduler:state_dict()
  local sd = {}
  for k, v in pairs(self) do
    if k ~= 'optimizer' and type(v) ~= 'function' then sd[k] = copy_plain(v) end
  end
  return sd
end

-- Restores the fields saved by state_dict and the groups' lr of that position.
function LRScheduler:load_state_dict(sd)
  if type(sd) ~= 'table' then
    check.raise(self.class_name(self) .. ':load_state_dict: expected a table, got ' .. type(sd))
  end
  for k, v in pairs(sd) do
    if k ~= 'optimizer' then self[k] = copy_plain(v) end
  end
  if self.last_lr then
    for i, g in ipairs(self.optimizer.param_groups) do
      if self.last_lr[i] then g.lr = self.last_lr[i] end
    end
  end
end

return LRScheduler
