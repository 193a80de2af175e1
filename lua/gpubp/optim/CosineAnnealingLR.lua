-- optim/CosineAnnealingLR.lua — lr = eta_min + (base_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2,
-- the closed form of PyTorch's CosineAnnealingLR (identical to its recursive form for
-- epoch in 0..T_max; beyond T_max the closed form keeps following the cosine).

local LRScheduler = require('gpubp.optim.LRScheduler')

local CosineAnnealingLR = LRScheduler:extend('CosineAnnealingLR')

-- CosineAnnealingLR(optimizer, T_max, eta_min=0)
function CosineAnnealingLR:init(optimizer, T_max, eta_min)
  if type(T_max) ~= 'number' or T_max <= 0 then
    error('CosineAnnealingLR: expected a positive T_max, got ' .. tostring(T_max), 3)
  end
  self.T_max, self.eta_min = T_max, eta_min or 0
  LRScheduler.init(self, optimizer)
end

function CosineAnnealingLR:get_lr(base, epoch)
  return self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2
end

return CosineAnnealingLR
