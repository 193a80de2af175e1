-- nn/Conv2d.lua — 2-D convolution over (N, C, H, W) as in PyTorch: weight (out, in/groups, kh,
-- kw), bias (out), zero padding (a number, {h, w}, 'same' or 'valid'), stride, dilation and
-- groups (groups = in_channels: depthwise). Options, init and forward are nn/ConvBase.lua's;
-- the fused conv2d row unfolds patches in bounded tiles, one matrix product per tile and
-- group, threaded over images (runtime/cpu/gb_cpu_conv2d.c).

local ConvBase = require('gpubp.nn.ConvBase')

local Conv2d = ConvBase:extend('Conv2d')

Conv2d.dims = 2

return Conv2d
