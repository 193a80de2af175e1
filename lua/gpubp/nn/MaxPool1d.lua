-- nn/MaxPool1d.lua — max pooling over (N, C, L) windows, as PyTorch's MaxPool1d: the options
-- and rules of MaxPool2d (nn/MaxPool2d.lua) with one size each, run by the max_pool2d row on
-- (N, C, 1, L).

local MaxPool2d = require('gpubp.nn.MaxPool2d')

local MaxPool1d = MaxPool2d:extend('MaxPool1d')

MaxPool1d.dims = 1

return MaxPool1d
