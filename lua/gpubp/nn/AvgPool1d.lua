-- nn/AvgPool1d.lua — average pooling over (N, C, L) windows, as PyTorch's AvgPool1d: the
-- options and rules of AvgPool2d (nn/AvgPool2d.lua) with one size each and, as in PyTorch, no
-- divisor_override; run by the avg_pool2d row on (N, C, 1, L).

local AvgPool2d = require('gpubp.nn.AvgPool2d')

local AvgPool1d = AvgPool2d:extend('AvgPool1d')

AvgPool1d.dims = 1
AvgPool1d.extra = { count_include_pad = true }

return AvgPool1d
