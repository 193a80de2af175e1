-- nn/AvgPool2d.lua — average pooling over (N, C, H, W) windows, as PyTorch's AvgPool2d: stride
-- defaults to the kernel size, padding (at most half the kernel) is zeros that count in the
-- divisor unless count_include_pad=false, divisor_override replaces the divisor, ceil_mode
-- keeps the last, partial windows (which count only what lies in the padded input). Options
-- and forward: nn/PoolBase.lua.

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local PoolBase = require('gpubp.nn.PoolBase')
local gb = require('gpubp.class').gb

local AvgPool2d = PoolBase:extend('AvgPool2d')

AvgPool2d.dims = 2
AvgPool2d.extra = { count_include_pad = true, divisor_override = options.opt(nil, 'integer') }

function AvgPool2d:_check_options(name)
  local d = self.divisor_override
  if d ~= nil and d < 1 then
    errors.raisef('%s: divisor_override must be a positive integer, got %d', name, d)
  end
end

function AvgPool2d:_pool(x, kh, kw, sh, sw, ph, pw)
  return gb._avg_pool2d(x, kh, kw, sh, sw, ph, pw, self.count_include_pad, self.ceil_mode,
    self.divisor_override)
end

function AvgPool2d:_extra_str()
  return (self.count_include_pad and '' or ', count_include_pad=false')
    .. (self.divisor_override and ', divisor_override=' .. self.divisor_override or '')
    .. PoolBase._extra_str(self)
end

return AvgPool2d
