-- nn/ConvBase.lua — what Conv1d and Conv2d share (PyTorch's _ConvNd): options, parameters,
-- initialization and the forward, which runs the fused conv2d row (gb._conv2d; a 1-d input is
-- seen as (N, C, 1, L)). Weight (out, in/groups, k...), bias (out); zero padding: a number per
-- dim, or 'valid' (none) or 'same' (output as long as the input; stride 1 only, as in
-- PyTorch; an odd total padding puts the extra zero at the end). Subclasses set `dims`.

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local Parameter = require('gpubp.nn.Parameter')
local init = require('gpubp.nn.init_fns')
local window = require('gpubp.nn.window')
local gb = require('gpubp.class').gb

local ConvBase = Module:extend('ConvBase')

local SPEC = {
  stride = options.opt(1, 'integer', 'table'),
  padding = options.opt(0, 'integer', 'table', 'string'),
  dilation = options.opt(1, 'integer', 'table'),
  groups = options.opt(1, 'integer'),
  bias = true, device = options.optional, dtype = options.opt(nil, 'string'),
}

-- padding 'same': per dim, the zeros before and after that keep the length (d (k - 1) in all)
local function same_padding(name, k, s, d)
  local before, after = {}, {}
  for i = 1, #k do
    if s[i] ~= 1 then
      errors.raisef("%s: padding='same' is not supported for strided convolutions (stride %s)",
        name, window.show(s))
    end
    local total = d[i] * (k[i] - 1)
    before[i], after[i] = total // 2, total - total // 2
  end
  return before, after
end

-- The window options of a convolution with `kernel` sizes, checked and filled in (shared by
-- the layers and gb.nn.functional.conv1d/conv2d): {stride, padding (sizes or 'same'),
-- dilation, groups, _pad, _pad_after (nil unless 'same' pads unevenly)}.
function ConvBase._parse_window(name, dims, kernel, opts)
  local w = {}
  w.stride = window.sizes(name, 'stride', opts.stride, dims, 1)
  w.dilation = window.sizes(name, 'dilation', opts.dilation, dims, 1)
  w.groups = options.positive_int(name, 'groups', opts.groups)
  local p = opts.padding
  if p == 'valid' then p = 0 end
  if p == 'same' then
    w.padding = 'same'
    w._pad, w._pad_after = same_padding(name, kernel, w.stride, w.dilation)
  elseif type(p) == 'string' then
    errors.raisef("%s: padding must be 'same', 'valid', a non-negative integer%s, got '%s'", name,
      dims == 2 and ' or {h, w}' or '', p)
  else
    w.padding = window.sizes(name, 'padding', p, dims, 0)
    w._pad = w.padding
  end
  return w
end

-- Cls(in_channels, out_channels, kernel_size, {stride=1, padding=0, dilation=1, groups=1,
-- bias=true, device=, dtype=})
function ConvBase:init(in_channels, out_channels, kernel_size, opts)
  local name, dims = self:class_name(), self.dims
  in_channels = options.positive_int(name, 'in_channels', in_channels)
  out_channels = options.positive_int(name, 'out_channels', out_channels)
  opts = options.check(name, opts, SPEC)
  self.in_channels, self.out_channels = in_channels, out_channels
  self.kernel_size = window.sizes(name, 'kernel_size', kernel_size, dims, 1)
  for k, v in pairs(ConvBase._parse_window(name, dims, self.kernel_size, opts)) do self[k] = v end
  if in_channels % self.groups ~= 0 or out_channels % self.groups ~= 0 then
    errors.raisef('%s: in_channels (%d) and out_channels (%d) must be divisible by groups (%d)',
      name, in_channels, out_channels, self.groups)
  end
  local shape = { out_channels, in_channels // self.groups, table.unpack(self.kernel_size) }
  local topts = { device = opts.device, dtype = opts.dtype }
  self.weight = Parameter(gb.empty(shape, topts))
  if opts.bias ~= false then self.bias = Parameter(gb.empty({ out_channels }, topts)) end
  self:reset_parameters()
end

-- kaiming_uniform(a=sqrt(5)) and bias U(+-1/sqrt(fan_in)), fan_in = in/groups * prod(k)
function ConvBase:reset_parameters()
  init.kaiming_uniform_(self.weight, math.sqrt(5))
  if self.bias then
    local fan_in = self.in_channels // self.groups
    for _, k in ipairs(self.kernel_size) do fan_in = fan_in * k end
    local bound = 1 / math.sqrt(fan_in)
    init.uniform_(self.bias, -bound, bound)
  end
end

-- x convolved with w (out, in/groups, k...) and b (out, or nil) under the window `win`
-- (_parse_window's table); x must have in_channels channels. The layers' forward and
-- gb.nn.functional's conv1d/conv2d.
function ConvBase._run(name, dims, x, w, b, win, in_channels)
  local x4, unbatched = window.as_nchw(name, x, dims, in_channels)
  local out = w:size(1)
  b = b or gb.zeros({ out }, { device = x.device, dtype = w.dtype })
  local kernel = { table.unpack(w.shape, 3) }
  if dims == 1 then w = w:unsqueeze(3) end
  -- 'same' with an odd total: pad by the larger side both ways, drop the first row/column
  local pad, extra = win._pad, {}
  if win._pad_after then
    pad = {}
    for i = 1, dims do
      pad[i], extra[i] = win._pad_after[i], win._pad_after[i] - win._pad[i]
    end
  end
  local kh, kw, sh, sw, ph, pw, dh, dw = window.args2d(kernel, win.stride, pad, win.dilation)
  local y = gb._conv2d(x4, w, b, kh, kw, sh, sw, ph, pw, dh, dw, win.groups)
  for i = 1, dims do
    if (extra[i] or 0) > 0 then
      local d = 4 - dims + i
      y = y:narrow(d, 2, y:size(d) - 1)
    end
  end
  return window.from_nchw(y, dims, unbatched)
end

function ConvBase:forward(x)
  return ConvBase._run(self:class_name(), self.dims, x, self.weight, self.bias, self,
    self.in_channels)
end

function ConvBase:__tostring()
  local extra = ''
  if self.dilation[1] ~= 1 or self.dilation[#self.dilation] ~= 1 then
    extra = extra .. ', dilation ' .. window.show(self.dilation)
  end
  if self.groups ~= 1 then extra = extra .. ', groups ' .. self.groups end
  if not self.bias then extra = extra .. ', bias=false' end
  return ('%s(%d -> %d, kernel %s, stride %s, padding %s%s)'):format(self:class_name(),
    self.in_channels, self.out_channels, window.show(self.kernel_size), window.show(self.stride),
    self.padding == 'same' and "'same'" or window.show(self.padding), extra)
end

return ConvBase
