-- optim/ExponentialLR.lua — lr = base_lr * gamma ^ epoch.

local LRScheduler = require('gpubp.optim.LRScheduler')

local ExponentialLR = LRScheduler:extend('ExponentialLR')

-- ExponentialLR(optimizer, gamma)
function ExponentialLR:init(optimizer, gamma)
  if type(gamma) ~= 'number' then
    error('ExponentialLR: expected a number gamma, got ' .. type(gamma), 3)
  end
  self.gamma = gamma
  LRScheduler.init(self, optimizer)
end

function ExponentialLR:get_lr(base, epoch)
  return base * self.gamma ^ epoch
end

return ExponentialLR
