-- optim/ExponentialLR.lua — lr = base_lr * gamma ^ epoch.

local LRScheduler = require('gpubp.optim.LRScheduler')
local check = require('gpubp.utils.check')

local ExponentialLR = LRScheduler:extend('ExponentialLR')

-- ExponentialLR(optimizer, gamma) or ExponentialLR(optimizer, {gamma=})
function ExponentialLR:init(optimizer, ...)
  local a = LRScheduler._read_args('ExponentialLR', { { 'gamma', check.NONE } }, ...)
  self.gamma = LRScheduler._check_positive('ExponentialLR', 'gamma', a.gamma)
  LRScheduler.init(self, optimizer)
end

function ExponentialLR:get_lr(base, epoch)
  return base * self.gamma ^ epoch
end

return ExponentialLR
