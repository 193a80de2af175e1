-- optim/CosineAnnealingLR.lua — lr = eta_min + (base_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2,
-- the closed form of PyTorch's CosineAnnealingLR (identical to its recursive form for
-- epoch in 0..T_max; beyond T_max the closed form keeps following the cosine).

local LRScheduler = require('gpubp.optim.LRScheduler')
local check = require('gpubp.utils.check')

local CosineAnnealingLR = LRScheduler:extend('CosineAnnealingLR')

-- CosineAnnealingLR(optimizer, T_max, eta_min=0) or (optimizer, {T_max=, eta_min=0})
function CosineAnnealingLR:init(optimizer, ...)
  local a = LRScheduler._read_args('CosineAnnealingLR',
    { { 'T_max', check.NONE }, { 'eta_min', 0 } }, ...)
  if type(a.T_max) ~= 'number' or a.T_max ~= a.T_max or a.T_max <= 0 or a.T_max == math.huge then
    check.raise('CosineAnnealingLR: expected a positive T_max, got ' .. tostring(a.T_max))
  end
  self.T_max = a.T_max
  self.eta_min = LRScheduler._check_number('CosineAnnealingLR', 'eta_min', a.eta_min, 0)
  LRScheduler.init(self, optimizer)
end

function CosineAnnealingLR:get_lr(base, epoch)
  return self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2
end

return CosineAnnealingLR
