-- nn/Conv2d.lua — 2-D convolution over (N, C, H, W) as in PyTorch: weight (out, in, kh, kw),
-- bias (out), zero padding, default init kaiming_uniform(a=sqrt(5)) and U(+-1/sqrt(fan_in)).
-- Computed by the fused conv2d row (patches unfolded in bounded tiles, one matrix product
-- per tile, threaded over images: runtime/cpu/gb_cpu_conv2d.c).

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local Parameter = require('gpubp.nn.Parameter')
local init = require('gpubp.nn.init_fns')
local gb = require('gpubp.class').gb

local Conv2d = Module:extend('Conv2d')

-- n or {h, w} -> h, w
local function pair(v, what, allow_zero)
  local h, w = v, v
  if type(v) == 'table' then h, w = v[1], v[2] end
  local lo = allow_zero and 0 or 1
  if math.type(h) ~= 'integer' or math.type(w) ~= 'integer' or h < lo or w < lo
     or (type(v) == 'table' and #v ~= 2) then
    errors.raise('Conv2d: ' .. what .. ' must be a ' .. (allow_zero and 'non-negative' or 'positive')
      .. ' integer or {h, w}, got ' .. (type(v) == 'table' and '{' .. table.concat(v, ', ') .. '}'
      or tostring(v)))
  end
  return h, w
end

local SPEC = {
  stride = options.opt(1, 'integer', 'table'), padding = options.opt(0, 'integer', 'table'),
  bias = true, device = options.optional, dtype = options.opt(nil, 'string'),
}

-- Conv2d(in_channels, out_channels, kernel_size, {stride=1, padding=0, bias=true})
function Conv2d:init(in_channels, out_channels, kernel_size, opts)
  options.positive_int('Conv2d', 'in_channels', in_channels)
  options.positive_int('Conv2d', 'out_channels', out_channels)
  opts = options.check('Conv2d', opts, SPEC)
  self.in_channels, self.out_channels = in_channels, out_channels
  self.kh, self.kw = pair(kernel_size, 'kernel_size')
  self.sh, self.sw = pair(opts.stride, 'stride')
  self.ph, self.pw = pair(opts.padding, 'padding', true)
  local topts = { device = opts.device, dtype = opts.dtype }
  self.weight = Parameter(gb.empty({ out_channels, in_channels, self.kh, self.kw }, topts))
  if opts.bias ~= false then self.bias = Parameter(gb.empty({ out_channels }, topts)) end
  self:reset_parameters()
end

function Conv2d:reset_parameters()
  init.kaiming_uniform_(self.weight, math.sqrt(5))
  if self.bias then
    local bound = 1 / math.sqrt(self.in_channels * self.kh * self.kw)
    init.uniform_(self.bias, -bound, bound)
  end
end

function Conv2d:forward(x)
  if x:dim() ~= 4 or x:size(2) ~= self.in_channels then
    errors.raise(('Conv2d: expected input (N, %d, H, W), got (%s)'):format(self.in_channels,
      table.concat(x.shape, ',')))
  end
  local b = self.bias or gb.zeros({ self.out_channels }, { device = x.device })
  return gb._conv2d(x, self.weight, b, self.kh, self.kw, self.sh, self.sw, self.ph, self.pw)
end

function Conv2d:__tostring()
  return ('Conv2d(%d -> %d, kernel %dx%d, stride %dx%d, padding %dx%d%s)'):format(
    self.in_channels, self.out_channels, self.kh, self.kw, self.sh, self.sw, self.ph, self.pw,
    self.bias and '' or ', bias=false')
end

return Conv2d
