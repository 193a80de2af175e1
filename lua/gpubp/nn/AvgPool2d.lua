-- nn/AvgPool2d.lua — average pooling over (N, C, H, W) windows, as PyTorch's AvgPool2d:
-- stride defaults to the kernel size, padding (at most half the kernel) is zeros that count
-- in the divisor unless count_include_pad=false.

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local gb = require('gpubp.class').gb

local AvgPool2d = Module:extend('AvgPool2d')

local function pair(v, what, allow_zero)
  local h, w = v, v
  if type(v) == 'table' then h, w = v[1], v[2] end
  local lo = allow_zero and 0 or 1
  if math.type(h) ~= 'integer' or math.type(w) ~= 'integer' or h < lo or w < lo
     or (type(v) == 'table' and #v ~= 2) then
    errors.raise('AvgPool2d: ' .. what .. ' must be a ' .. (allow_zero and 'non-negative' or 'positive')
      .. ' integer or {h, w}, got ' .. (type(v) == 'table' and '{' .. table.concat(v, ', ') .. '}'
      or tostring(v)))
  end
  return h, w
end

local SPEC = { stride = options.opt(nil, 'integer', 'table'),
               padding = options.opt(0, 'integer', 'table'),
               count_include_pad = true, ceil_mode = false }

-- AvgPool2d(kernel_size, {stride=kernel_size, padding=0, count_include_pad=true})
function AvgPool2d:init(kernel_size, opts)
  self.kh, self.kw = pair(kernel_size, 'kernel_size')
  opts = options.check('AvgPool2d', opts, SPEC)
  if opts.ceil_mode then errors.raise('AvgPool2d: ceil_mode=true is not supported') end
  self.sh, self.sw = pair(opts.stride or kernel_size, 'stride')
  self.ph, self.pw = pair(opts.padding, 'padding', true)
  self.count_include_pad = opts.count_include_pad
end

function AvgPool2d:forward(x)
  return gb._avg_pool2d(x, self.kh, self.kw, self.sh, self.sw, self.ph, self.pw,
    self.count_include_pad)
end

function AvgPool2d:__tostring()
  return ('AvgPool2d(kernel %dx%d, stride %dx%d, padding %dx%d%s)'):format(
    self.kh, self.kw, self.sh, self.sw, self.ph, self.pw,
    self.count_include_pad and '' or ', count_include_pad=false')
end

return AvgPool2d
