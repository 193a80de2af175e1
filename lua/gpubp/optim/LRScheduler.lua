-- optim/LRScheduler.lua — base class of the learning-rate schedulers. It remembers each
-- group's initial lr, counts steps (last_epoch, 0 after construction, as PyTorch) and on
-- step() writes get_lr()'s closed-form values into the optimizer's param_groups.

local class = require('gpubp.class')

local LRScheduler = class.Object:extend('LRScheduler')

function LRScheduler:init(optimizer)
  local name = self.class_name(self)
  if type(optimizer) ~= 'table' or type(optimizer.param_groups) ~= 'table' then
    error(name .. ': expected an optimizer (with param_groups), got ' .. type(optimizer), 4)
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

-- Advances one epoch (or jumps to `epoch`) and sets the groups' lr.
function LRScheduler:step(epoch)
  self.last_epoch = epoch or self.last_epoch + 1
  self.last_lr = {}
  for i, g in ipairs(self.optimizer.param_groups) do
    g.lr = self:get_lr(self.base_lrs[i], self.last_epoch)
    self.last_lr[i] = g.lr
  end
end

-- The lr of each group after the last step (a list, one per group).
function LRScheduler:get_last_lr()
  local out = {}
  for i, v in ipairs(self.last_lr) do out[i] = v end
  return out
end

function LRScheduler:state_dict()
  local base = {}
  for i, v in ipairs(self.base_lrs) do base[i] = v end
  return { last_epoch = self.last_epoch, base_lrs = base }
end

function LRScheduler:load_state_dict(sd)
  self.base_lrs = {}
  for i, v in ipairs(sd.base_lrs) do self.base_lrs[i] = v end
  self.last_epoch = sd.last_epoch
  self.last_lr = {}
  for i, g in ipairs(self.optimizer.param_groups) do
    g.lr = self:get_lr(self.base_lrs[i], self.last_epoch)
    self.last_lr[i] = g.lr
  end
end

return LRScheduler
