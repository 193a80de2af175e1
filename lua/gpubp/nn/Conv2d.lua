-- nn/Conv2d.lua — 2-D convolution over (N, C, H, W) as in PyTorch: weight (out, in, kh, kw),
-- bias (out), zero padding, default init kaiming_uniform(a=sqrt(5)) and U(+-1/sqrt(fan_in)).
-- Computed as im2col (every receptive field as a row) followed by one matrix product.

local errors = require('gpubp.errors')
local Module = require('gpubp.nn.Module')
local Parameter = require('gpubp.nn.Parameter')
local init = require('gpubp.nn.init_fns')
local gb = require('gpubp.class').gb

local Conv2d = Module:extend('Conv2d')

-- n or {h, w} -> h, w
local function pair(v, what)
  if type(v) == 'table' then return v[1], v[2] end
  if math.type(v) ~= 'integer' then
    errors.raise('Conv2d: ' .. what .. ' must be an integer or {h, w}, got ' .. tostring(v))
  end
  return v, v
end

-- Conv2d(in_channels, out_channels, kernel_size, {stride=1, padding=0, bias=true})
function Conv2d:init(in_channels, out_channels, kernel_size, opts)
  opts = opts or {}
  if math.type(in_channels) ~= 'integer' or math.type(out_channels) ~= 'integer'
     or in_channels < 1 or out_channels < 1 then
    errors.raise('Conv2d: expected positive integer channel counts, got ' .. tostring(in_channels)
          .. ', ' .. tostring(out_channels))
  end
  self.in_channels, self.out_channels = in_channels, out_channels
  self.kh, self.kw = pair(kernel_size, 'kernel_size')
  self.sh, self.sw = pair(opts.stride or 1, 'stride')
  self.ph, self.pw = pair(opts.padding or 0, 'padding')
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
  local n, h, w = x:size(1), x:size(3), x:size(4)
  local oh = (h + 2 * self.ph - self.kh) // self.sh + 1
  local ow = (w + 2 * self.pw - self.kw) // self.sw + 1
  local cols = gb._im2col(x, self.kh, self.kw, self.sh, self.sw, self.ph, self.pw)
  local y = cols:matmul(self.weight:view(self.out_channels, -1):t()) -- (N, OH*OW, out)
  if self.bias then y = y + self.bias end
  return y:permute(1, 3, 2):reshape(n, self.out_channels, oh, ow)
end

function Conv2d:__tostring()
  return ('Conv2d(%d -> %d, kernel %dx%d, stride %dx%d, padding %dx%d%s)'):format(
    self.in_channels, self.out_channels, self.kh, self.kw, self.sh, self.sw, self.ph, self.pw,
    self.bias and '' or ', bias=false')
end

return Conv2d
