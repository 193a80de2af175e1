-- optim/StepLR.lua — lr = base_lr * gamma ^ floor(epoch / step_size).

local LRScheduler = require('gpubp.optim.LRScheduler')

local StepLR = LRScheduler:extend('StepLR')

-- StepLR(optimizer, step_size, gamma=0.1)
function StepLR:init(optimizer, step_size, gamma)
  if math.type(step_size) ~= 'integer' or step_size < 1 then
    error('StepLR: expected a positive integer step_size, got ' .. tostring(step_size), 3)
  end
  self.step_size, self.gamma = step_size, gamma or 0.1
  LRScheduler.init(self, optimizer)
end

function StepLR:get_lr(base, epoch)
  return base * self.gamma ^ (epoch // self.step_size)
end

return StepLR
