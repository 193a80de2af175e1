-- optim/init.lua — gb.optim: optimizers (SGD, Adam, AdamW, RMSprop) and learning-rate
-- schedulers (StepLR, ExponentialLR, CosineAnnealingLR, MultiStepLR, LambdaLR, OneCycleLR,
-- ReduceLROnPlateau, LinearLR, SequentialLR), lr_find and grid_search. One class per file.

local optim = {}

local CLASSES = {
  'Optimizer', 'SGD', 'Adam', 'AdamW', 'RMSprop',
  'LRScheduler', 'StepLR', 'ExponentialLR', 'CosineAnnealingLR', 'MultiStepLR', 'LambdaLR',
  'OneCycleLR', 'ReduceLROnPlateau', 'LinearLR', 'SequentialLR',
}
for _, name in ipairs(CLASSES) do
  optim[name] = require('gpubp.optim.' .. name)
end

optim.lr_find = require('gpubp.optim.lr_find')

optim.flatten_state_dict = optim.Optimizer.flatten_state_dict
optim.unflatten_state_dict = optim.Optimizer.unflatten_state_dict

return optim
