-- nn/MaxPool2d.lua — max pooling over (N, C, H, W) windows, as PyTorch's MaxPool2d:
-- stride defaults to the kernel size, padding (at most half the kernel) never wins the max.

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local gb = require('gpubp.class').gb

local MaxPool2d = Module:extend('MaxPool2d')

local function pair(v, what, allow_zero)
  local h, w = v, v
  if type(v) == 'table' then h, w = v[1], v[2] end
  local lo = allow_zero and 0 or 1
  if math.type(h) ~= 'integer' or math.type(w) ~= 'integer' or h < lo or w < lo
     or (type(v) == 'table' and #v ~= 2) then
    errors.raise('MaxPool2d: ' .. what .. ' must be a ' .. (allow_zero and 'non-negative' or 'positive')
      .. ' integer or {h, w}, got ' .. (type(v) == 'table' and '{' .. table.concat(v, ', ') .. '}'
      or tostring(v)))
  end
  return h, w
end

local SPEC = { stride = options.opt(nil, 'integer', 'table'),
               padding = options.opt(0, 'integer', 'table') }

-- MaxPool2d(kernel_size, {stride=kernel_size, padding=0})
function MaxPool2d:init(kernel_size, opts)
  self.kh, self.kw = pair(kernel_size, 'kernel_size')
  opts = options.check('MaxPool2d', opts, SPEC)
  self.sh, self.sw = pair(opts.stride or kernel_size, 'stride')
  self.ph, self.pw = pair(opts.padding, 'padding', true)
end

function MaxPool2d:forward(x)
  return gb._max_pool2d(x, self.kh, self.kw, self.sh, self.sw, self.ph, self.pw)
end

function MaxPool2d:__tostring()
  return ('MaxPool2d(kernel %dx%d, stride %dx%d, padding %dx%d)'):format(
    self.kh, self.kw, self.sh, self.sw, self.ph, self.pw)
end

return MaxPool2d
