-- nn/Conv1d.lua — 1-D convolution over (N, C, L) as in PyTorch: weight (out, in, k), bias
-- (out), zero padding, default init kaiming_uniform(a=sqrt(5)) and U(+-1/sqrt(in*k)).
-- Runs the conv2d row on the input seen as (N, C, 1, L).

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local Parameter = require('gpubp.nn.Parameter')
local init = require('gpubp.nn.init_fns')
local gb = require('gpubp.class').gb

local Conv1d = Module:extend('Conv1d')

-- an integer or a one-element table {v}
local function single(v, what, lo)
  if type(v) == 'table' and #v == 1 then v = v[1] end
  if math.type(v) ~= 'integer' or v < lo then
    errors.raise('Conv1d: ' .. what .. ' must be a ' .. (lo == 0 and 'non-negative' or 'positive')
      .. ' integer, got ' .. (type(v) == 'table' and '{' .. table.concat(v, ', ') .. '}'
      or tostring(v)))
  end
  return v
end

local SPEC = {
  stride = options.opt(1, 'integer', 'table'), padding = options.opt(0, 'integer', 'table'),
  bias = true, device = options.optional, dtype = options.opt(nil, 'string'),
}

-- Conv1d(in_channels, out_channels, kernel_size, {stride=1, padding=0, bias=true})
function Conv1d:init(in_channels, out_channels, kernel_size, opts)
  options.positive_int('Conv1d', 'in_channels', in_channels)
  options.positive_int('Conv1d', 'out_channels', out_channels)
  opts = options.check('Conv1d', opts, SPEC)
  self.in_channels, self.out_channels = in_channels, out_channels
  self.k = single(kernel_size, 'kernel_size', 1)
  self.stride = single(opts.stride, 'stride', 1)
  self.padding = single(opts.padding, 'padding', 0)
  local topts = { device = opts.device, dtype = opts.dtype }
  self.weight = Parameter(gb.empty({ out_channels, in_channels, self.k }, topts))
  if opts.bias ~= false then self.bias = Parameter(gb.empty({ out_channels }, topts)) end
  self:reset_parameters()
end

function Conv1d:reset_parameters()
  init.kaiming_uniform_(self.weight, math.sqrt(5))
  if self.bias then
    local bound = 1 / math.sqrt(self.in_channels * self.k)
    init.uniform_(self.bias, -bound, bound)
  end
end

function Conv1d:forward(x)
  if x:dim() ~= 3 or x:size(2) ~= self.in_channels then
    errors.raise(('Conv1d: expected input (N, %d, L), got (%s)'):format(self.in_channels,
      table.concat(x.shape, ',')))
  end
  local n, l = x:size(1), x:size(3)
  local b = self.bias or gb.zeros({ self.out_channels }, { device = x.device })
  local w = self.weight:view(self.out_channels, self.in_channels, 1, self.k)
  local y = gb._conv2d(x:view(n, self.in_channels, 1, l), w, b, 1, self.k, 1, self.stride, 0,
    self.padding)
  return y:view(n, self.out_channels, y:size(4))
end

function Conv1d:__tostring()
  return ('Conv1d(%d -> %d, kernel %d, stride %d, padding %d%s)'):format(
    self.in_channels, self.out_channels, self.k, self.stride, self.padding,
    self.bias and '' or ', bias=false')
end

return Conv1d
