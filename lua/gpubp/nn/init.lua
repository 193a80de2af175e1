-- nn/init.lua — gb.nn: the Module base class, layers, losses, nn.init and nn.utils.
-- Each class lives in its own file under lua/gpubp/nn/ and is loaded on first use
-- (gpubp.lazy).

local lazy = require('gpubp.lazy')

local entries = {
  Module = 'gpubp.nn.Module',
  Parameter = 'gpubp.nn.Parameter',
  init = 'gpubp.nn.init_fns',
  utils = 'gpubp.nn.utils',
  functional = 'gpubp.nn.functional',
}

local CLASSES = {
  'Sequential', 'Linear', 'Identity', 'ReLU', 'Sigmoid', 'Tanh', 'LeakyReLU', 'GELU',
  'Softmax', 'LogSoftmax', 'Dropout', 'Flatten', 'BatchNorm1d', 'LayerNorm',
  'Embedding', 'Conv2d', 'MaxPool2d', 'LSTM', 'GRU', 'LSTMCell', 'GRUCell', 'MultiheadAttention',
  'CrossEntropyLoss', 'NLLLoss', 'MSELoss', 'BCEWithLogitsLoss',
  'DistributedDataParallel',
  -- issue 15 (branch nn)
  'BatchNorm2d', 'AvgPool2d', 'AdaptiveAvgPool2d', 'Conv1d', 'Dropout2d', 'ModuleList',
  'ModuleDict', 'BCELoss', 'SmoothL1Loss', 'HuberLoss', 'KLDivLoss', 'SiLU', 'ELU', 'Softplus',
  'MaxPool1d', 'AvgPool1d',
}
for _, name in ipairs(CLASSES) do entries[name] = 'gpubp.nn.' .. name end

return lazy({}, entries)
