-- nn/MaxPool2d.lua — max pooling over (N, C, H, W) windows, as PyTorch's MaxPool2d: stride
-- defaults to the kernel size, padding (at most half the kernel) never wins the max,
-- dilation spaces the taps, ceil_mode keeps the last, partial windows. Options and forward:
-- nn/PoolBase.lua; the max_pool2d row saves its argmax for the backward.

local options = require('gpubp.options')
local PoolBase = require('gpubp.nn.PoolBase')
local window = require('gpubp.nn.window')
local gb = require('gpubp.class').gb

local MaxPool2d = PoolBase:extend('MaxPool2d')

MaxPool2d.dims = 2
MaxPool2d.extra = { dilation = options.opt(1, 'integer', 'table') }

function MaxPool2d:_check_options(name)
  self.dilation = window.sizes(name, 'dilation', self.dilation, self.dims, 1)
end

function MaxPool2d:_pool(x, kh, kw, sh, sw, ph, pw, dh, dw)
  return gb._max_pool2d(x, kh, kw, sh, sw, ph, pw, dh, dw, self.ceil_mode)
end

function MaxPool2d:_extra_str()
  local s = ''
  for _, d in ipairs(self.dilation) do
    if d ~= 1 then s = ', dilation ' .. window.show(self.dilation) break end
  end
  return s .. PoolBase._extra_str(self)
end

return MaxPool2d
