-- nn/Conv1d.lua — 1-D convolution over (N, C, L) as in PyTorch: weight (out, in/groups, k),
-- bias (out), zero padding (a number, 'same' or 'valid'), stride, dilation and groups.
-- Options, init and forward are nn/ConvBase.lua's: the conv2d row runs on (N, C, 1, L).

local ConvBase = require('gpubp.nn.ConvBase')

local Conv1d = ConvBase:extend('Conv1d')

Conv1d.dims = 1

return Conv1d
