-- optim/init.lua — gb.optim: optimizers (SGD, Adam, AdamW, RMSprop) and learning-rate
-- schedulers (StepLR, ExponentialLR, CosineAnnealingLR, MultiStepLR, LambdaLR, OneCycleLR,
-- ReduceLROnPlateau, LinearLR, SequentialLR), and lr_find. One class per file, each loaded on
-- first use (gpubp.lazy).

local lazy = require('gpubp.lazy')

local entries = { lr_find = 'gpubp.optim.lr_find' }

local CLASSES = {
  'Optimizer', 'SGD', 'Adam', 'AdamW', 'RMSprop',
  'LRScheduler', 'StepLR', 'ExponentialLR', 'CosineAnnealingLR', 'MultiStepLR', 'LambdaLR',
  'OneCycleLR', 'ReduceLROnPlateau', 'LinearLR', 'SequentialLR',
}
for _, name in ipairs(CLASSES) do entries[name] = 'gpubp.optim.' .. name end

entries.flatten_state_dict = function() return require('gpubp.optim.Optimizer').flatten_state_dict end
entries.unflatten_state_dict = function()
  return require('gpubp.optim.Optimizer').unflatten_state_dict
end

return lazy({}, entries)
