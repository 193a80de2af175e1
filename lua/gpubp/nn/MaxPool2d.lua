-- nn/MaxPool2d.lua — max pooling over (N, C, H, W) windows, as PyTorch's MaxPool2d:
-- stride defaults to the kernel size, padding (at most half the kernel) never wins the max.

local errors = require('gpubp.errors')
local Module = require('gpubp.nn.Module')
local gb = require('gpubp.class').gb

local MaxPool2d = Module:extend('MaxPool2d')

local function pair(v) if type(v) == 'table' then return v[1], v[2] end return v, v end

-- MaxPool2d(kernel_size, {stride=kernel_size, padding=0})
function MaxPool2d:init(kernel_size, opts)
  opts = opts or {}
  if kernel_size == nil then errors.raise('MaxPool2d: kernel_size is required') end
  self.kh, self.kw = pair(kernel_size)
  self.sh, self.sw = pair(opts.stride or kernel_size)
  self.ph, self.pw = pair(opts.padding or 0)
end

function MaxPool2d:forward(x)
  return gb._max_pool2d(x, self.kh, self.kw, self.sh, self.sw, self.ph, self.pw)
end

function MaxPool2d:__tostring()
  return ('MaxPool2d(kernel %dx%d, stride %dx%d, padding %dx%d)'):format(
    self.kh, self.kw, self.sh, self.sw, self.ph, self.pw)
end

return MaxPool2d
