-- optim/StepLR.lua — lr = base_lr * gamma ^ floor(epoch / step_size).

local LRScheduler = require('gpubp.optim.LRScheduler')
local check = require('gpubp.utils.check')
local options = require('gpubp.options')

local StepLR = LRScheduler:extend('StepLR')

-- StepLR(optimizer, step_size, gamma=0.1) or StepLR(optimizer, {step_size=, gamma=0.1})
function StepLR:init(optimizer, ...)
  local a = LRScheduler._read_args('StepLR', { { 'step_size', check.NONE }, { 'gamma', 0.1 } }, ...)
  self.step_size = options.integer_at_least(a.step_size, 1)
  if not self.step_size then
    check.raise('StepLR: expected a positive integer step_size, got ' .. tostring(a.step_size))
  end
  self.gamma = LRScheduler._check_positive('StepLR', 'gamma', a.gamma)
  LRScheduler.init(self, optimizer)
end

function StepLR:get_lr(base, epoch)
  return base * self.gamma ^ (epoch // self.step_size)
end

return StepLR
