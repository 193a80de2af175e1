-- nn/BatchNormBase.lua — what BatchNorm1d and BatchNorm2d share (PyTorch's _BatchNorm):
-- options, parameters and buffers, and the forward. Training mode normalizes each channel
-- (dim 2) with the batch's mean and biased variance in one fused row (gb._batch_norm, which
-- also returns the statistics) and updates the running estimates (momentum 0.1, unbiased
-- variance); eval mode uses the running estimates. Subclasses set `accepts` (input dims).

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local Parameter = require('gpubp.nn.Parameter')
local gb = require('gpubp.class').gb

local BatchNormBase = Module:extend('BatchNormBase')

-- Cls(num_features, {eps=1e-5, momentum=0.1, affine=true, track_running_stats=true, device=})
function BatchNormBase:init(num_features, opts)
  local name = self:class_name()
  num_features = options.positive_int(name, 'num_features', num_features)
  opts = options.check(name, opts, {
    eps = 1e-5, momentum = 0.1, affine = true, track_running_stats = true,
    device = options.optional,
  })
  if not (opts.eps > 0) then errors.raise(name .. ': eps must be > 0, got ' .. tostring(opts.eps)) end
  self.num_features = num_features
  self.eps, self.momentum = opts.eps, opts.momentum
  self.affine, self.track_running_stats = opts.affine, opts.track_running_stats
  local topts = { device = opts.device }
  if self.affine then
    self.weight = Parameter(gb.ones({ num_features }, topts))
    self.bias = Parameter(gb.zeros({ num_features }, topts))
  end
  if self.track_running_stats then
    self:register_buffer('running_mean', gb.zeros({ num_features }, topts))
    self:register_buffer('running_var', gb.ones({ num_features }, topts))
  end
end

-- (C) -> (1, C, 1, ...) to broadcast over an input of d dims
local function channels(t, d)
  local shape = { 1, t:size(1) }
  for k = 3, d do shape[k] = 1 end
  return t:view(shape)
end

function BatchNormBase:forward(x)
  local d = x:dim()
  if not self.accepts[d] or x:size(2) ~= self.num_features then
    errors.raise(self:_shape_error(x))
  end
  local c = self.num_features
  if self.training or not self.track_running_stats then
    local per_channel = x:numel() // c
    if per_channel < 2 and self.training then
      errors.raise(self:class_name() .. ': expected more than 1 value per channel when training, got input of shape ('
            .. table.concat(x.shape, ',') .. ')')
    end
    local w, b = self.weight, self.bias
    if not self.affine then
      local o = { dtype = x.dtype, device = x.device }
      w, b = gb.ones({ c }, o), gb.zeros({ c }, o)
    end
    local y, stats = gb._batch_norm(x, w, b, self.eps)
    if self.training and self.track_running_stats then
      local m = self.momentum
      local rm, rv = self.running_mean, self.running_var
      gb.no_grad(function()
        rm:mul_(1 - m)
        rm:add_(stats[1] * m)
        rv:mul_(1 - m)
        rv:add_(stats[2] * (m * per_channel / (per_channel - 1)))
      end)
    end
    return y
  end
  -- one scale and one shift per channel, so the batch is read twice, not four times, and
  -- only two batch-sized temporaries exist (evaluation batches are large)
  local scale = 1 / (self.running_var + self.eps):sqrt()
  local shift = -self.running_mean * scale
  if self.affine then
    scale = scale * self.weight
    shift = shift * self.weight + self.bias
  end
  return x * channels(scale, d) + channels(shift, d)
end

function BatchNormBase:extra_repr()
  return string.format('%d, eps=%g, momentum=%g, affine=%s, track_running_stats=%s',
    self.num_features, self.eps, self.momentum, tostring(self.affine),
    tostring(self.track_running_stats))
end

return BatchNormBase
