-- nn/init.lua — gb.nn: the Module base class, layers, losses, nn.init and nn.utils.
-- Each class lives in its own file under lua/gpubp/nn/.

local nn = {
  Module = require('gpubp.nn.Module'),
  Parameter = require('gpubp.nn.Parameter'),
  init = require('gpubp.nn.init_fns'),
  utils = require('gpubp.nn.utils'),
}

local CLASSES = {
  'Sequential', 'Linear', 'Identity', 'ReLU', 'Sigmoid', 'Tanh', 'LeakyReLU', 'GELU',
  'Softmax', 'LogSoftmax', 'Dropout', 'Flatten', 'BatchNorm1d', 'LayerNorm',
  'Embedding', 'Conv2d', 'MaxPool2d', 'LSTM', 'GRU', 'LSTMCell', 'GRUCell', 'MultiheadAttention', 'CrossEntropyLoss', 'NLLLoss', 'MSELoss', 'BCEWithLogitsLoss',
}
for _, name in ipairs(CLASSES) do
  nn[name] = require('gpubp.nn.' .. name)
end

return nn
