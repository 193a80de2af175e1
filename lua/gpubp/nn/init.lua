-- nn/init.lua — gb.nn: the Module base class, layers, losses, nn.init and nn.utils.
-- Each class lives in its own file under lua/gpubp/nn/ and is loaded on first use
-- (gpubp.lazy).

local lazy = require('gpubp.lazy')

local entries = {
  Module = 'gpubp.nn.Module',
  Parameter = 'gpubp.nn.Parameter',
  init = 'gpubp.nn.init_fns',
  utils = 'gpubp.nn.utils',
}

local CLASSES = {
  'Sequential', 'Linear', 'Identity', 'ReLU', 'Sigmoid', 'Tanh', 'LeakyReLU', 'GELU',
  'Softmax', 'LogSoftmax', 'Dropout', 'Flatten', 'BatchNorm1d', 'LayerNorm',
  'Embedding', 'Conv2d', 'MaxPool2d', 'LSTM', 'GRU', 'LSTMCell', 'GRUCell', 'MultiheadAttention',
  'CrossEntropyLoss', 'NLLLoss', 'MSELoss', 'BCEWithLogitsLoss',
  'DistributedDataParallel',
}
for _, name in ipairs(CLASSES) do entries[name] = 'gpubp.nn.' .. name end

return lazy({}, entries)
