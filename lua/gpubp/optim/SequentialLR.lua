-- optim/SequentialLR.lua — runs schedulers one after another, switching at the milestones,
-- as PyTorch's SequentialLR: at milestone k the next scheduler restarts from its epoch 0
-- (e.g. a LinearLR warm-up followed by CosineAnnealingLR).

local check = require('gpubp.utils.check')
local options = require('gpubp.options')
local LRScheduler = require('gpubp.optim.LRScheduler')

local SequentialLR = LRScheduler:extend('SequentialLR')

-- SequentialLR(optimizer, schedulers, milestones) or (optimizer, {schedulers=, milestones=}):
-- #milestones == #schedulers - 1, increasing step numbers; every scheduler built on optimizer.
function SequentialLR:init(optimizer, ...)
  local name = 'SequentialLR'
  local a = LRScheduler._read_args(name, { { 'schedulers', check.NONE, 'list' },
    { 'milestones', check.NONE } }, ...)
  if type(optimizer) ~= 'table' or type(optimizer.param_groups) ~= 'table' then
    check.raise(name .. ': expected an optimizer (with param_groups), got ' .. type(optimizer))
  end
  local scheds, ms = a.schedulers, a.milestones
  if type(scheds) ~= 'table' or #scheds == 0 then
    check.raise(name .. ': expected a non-empty list of schedulers')
  end
  for i, s in ipairs(scheds) do
    if type(s) ~= 'table' or s.optimizer ~= optimizer then
      check.raise(string.format('%s: scheduler %d is not built on the same optimizer', name, i))
    end
    if s.step ~= LRScheduler.step then
      check.raise(string.format('%s: scheduler %d (%s) cannot be chained', name, i,
        s.class_name(s)))
    end
  end
  if type(ms) ~= 'table' or #ms ~= #scheds - 1 then
    check.raise(string.format('%s: expected %d milestones for %d schedulers, got %s', name,
      #scheds - 1, #scheds, type(ms) == 'table' and tostring(#ms) or type(ms)))
  end
  local milestones = {}
  for i, m in ipairs(ms) do
    milestones[i] = options.tointeger(m)
    if milestones[i] == nil or (i > 1 and milestones[i] <= milestones[i - 1]) then
      check.raise(name .. ': milestones must be increasing integers')
    end
  end
  self.optimizer, self.schedulers, self.milestones = optimizer, scheds, milestones
  self.last_epoch = 0
  -- each scheduler's constructor already stepped once: start again from the initial lr
  for _, g in ipairs(optimizer.param_groups) do g.lr = g.initial_lr end
  for _, s in ipairs(scheds) do s.last_epoch = s.last_epoch - 1 end
  scheds[1]:step()
  self.last_lr = scheds[1]:get_last_lr()
end

function SequentialLR:step()
  self.last_epoch = self.last_epoch + 1
  local idx = 1
  for _, m in ipairs(self.milestones) do
    if m <= self.last_epoch then idx = idx + 1 end
  end
  local s = self.schedulers[idx]
  if idx > 1 and self.milestones[idx - 1] == self.last_epoch then s:step(0) else s:step() end
  self.last_lr = s:get_last_lr()
end

function SequentialLR:state_dict()
  local sd = { last_epoch = self.last_epoch, milestones = LRScheduler._copy_plain(self.milestones),
               last_lr = LRScheduler._copy_plain(self.last_lr), schedulers = {} }
  for i, s in ipairs(self.schedulers) do sd.schedulers[i] = s:state_dict() end
  return sd
end

function SequentialLR:load_state_dict(sd)
  if type(sd) ~= 'table' or type(sd.schedulers) ~= 'table' then
    check.raise('SequentialLR:load_state_dict: expected a table with schedulers')
  end
  self.last_epoch = sd.last_epoch
  self.milestones = LRScheduler._copy_plain(sd.milestones)
  for i, s in ipairs(self.schedulers) do s:load_state_dict(sd.schedulers[i]) end
  self.last_lr = LRScheduler._copy_plain(sd.last_lr)
  for i, g in ipairs(self.optimizer.param_groups) do g.lr = self.last_lr[i] end
end

return SequentialLR
