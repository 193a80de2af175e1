-- nn/PoolBase.lua — what MaxPool1d/2d and AvgPool1d/2d share (PyTorch's _MaxPoolNd and
-- _AvgPoolNd): the window options (kernel_size; stride, default the kernel size; padding, at
-- most half the kernel; ceil_mode), read by nn/window.lua, and the forward on (N, C, H, W)
-- (a 1-d layer's (N, C, L) runs as (N, C, 1, L)); an unbatched input (C, ...) is pooled as a
-- batch of one. Subclasses set `dims`, `extra` (their own options with defaults) and
-- `_pool(x4, kh, kw, sh, sw, ph, pw)`, which calls the row.

local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local window = require('gpubp.nn.window')

local PoolBase = Module:extend('PoolBase')

-- Cls(kernel_size [, {stride=kernel_size, padding=0, ceil_mode=false, <extra>...}])
function PoolBase:init(kernel_size, opts)
  local name, dims = self:class_name(), self.dims
  local spec = { stride = options.opt(nil, 'integer', 'table'),
                 padding = options.opt(0, 'integer', 'table'), ceil_mode = false }
  for k, v in pairs(self.extra) do spec[k] = v end
  self.kernel_size = window.sizes(name, 'kernel_size', kernel_size, dims, 1)
  opts = options.check(name, opts, spec)
  self.stride = window.sizes(name, 'stride', opts.stride or kernel_size, dims, 1)
  self.padding = window.sizes(name, 'padding', opts.padding, dims, 0)
  self.ceil_mode = opts.ceil_mode
  for k in pairs(self.extra) do self[k] = opts[k] end
  self:_check_options(name)
end

function PoolBase:_check_options() end

function PoolBase:forward(x)
  local x4, unbatched = window.as_nchw(self:class_name(), x, self.dims)
  local d = self.dilation or { 1, 1 }
  local kh, kw, sh, sw, ph, pw, dh, dw = window.args2d(self.kernel_size, self.stride,
    self.padding, d)
  return window.from_nchw(self:_pool(x4, kh, kw, sh, sw, ph, pw, dh, dw), self.dims, unbatched)
end

-- the options that differ from their defaults, for __tostring: ', ceil_mode=true', ...
function PoolBase:_extra_str()
  return self.ceil_mode and ', ceil_mode=true' or ''
end

function PoolBase:__tostring()
  return ('%s(kernel %s, stride %s, padding %s%s)'):format(self:class_name(),
    window.show(self.kernel_size), window.show(self.stride), window.show(self.padding),
    self:_extra_str())
end

return PoolBase
