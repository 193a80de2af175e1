-- nn/BatchNorm1d.lua — normalizes each feature of an (N, C) batch (or (N, C, L)) with the
-- batch's mean and biased variance in training mode, updating running estimates
-- (momentum 0.1, unbiased variance, as PyTorch); eval mode uses the running estimates.

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local Parameter = require('gpubp.nn.Parameter')
local gb = require('gpubp.class').gb

local BatchNorm1d = Module:extend('BatchNorm1d')

-- BatchNorm1d(num_features, {eps=1e-5, momentum=0.1, affine=true, track_running_stats=true})
function BatchNorm1d:init(num_features, opts)
  options.positive_int('BatchNorm1d', 'num_features', num_features)
  opts = options.check('BatchNorm1d', opts, {
    eps = 1e-5, momentum = 0.1, affine = true, track_running_stats = true,
    device = options.optional,
  })
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

-- (N, C, L) is handled as (N*L, C).
local function to_rows(x)
  local n, c, l = x:size(1), x:size(2), x:size(3)
  return x:permute(1, 3, 2):reshape(n * l, c), function(y)
    return y:reshape(n, l, c):permute(1, 3, 2)
  end
end

function BatchNorm1d:forward(x)
  local d = x:dim()
  if (d ~= 2 and d ~= 3) or x:size(2) ~= self.num_features then
    errors.raise(string.format('BatchNorm1d: expected input of shape (N, %d) or (N, %d, L), got (%s)',
      self.num_features, self.num_features, table.concat(x.shape, ',')))
  end
  local back
  if d == 3 then x, back = to_rows(x) end
  local mean, var
  if self.training or not self.track_running_stats then
    local n = x:size(1)
    if n < 2 and self.training then
      errors.raise('BatchNorm1d: expected more than 1 value per channel when training, got input of shape ('
            .. table.concat(x.shape, ',') .. ')')
    end
    mean = x:mean(1)
    local centered = x - mean
    var = (centered * centered):mean(1)
    if self.training and self.track_running_stats then
      local m = self.momentum
      local rm, rv = self.running_mean, self.running_var
      gb.no_grad(function()
        rm:mul_(1 - m)
        rm:add_(mean:detach() * m)
        rv:mul_(1 - m)
        rv:add_(var:detach() * (m * n / (n - 1)))
      end)
    end
    local y = centered / (var + self.eps):sqrt()
    if self.affine then y = y * self.weight + self.bias end
    return back and back(y) or y
  end
  mean, var = self.running_mean, self.running_var
  local y = (x - mean) / (var + self.eps):sqrt()
  if self.affine then y = y * self.weight + self.bias end
  return back and back(y) or y
end

function BatchNorm1d:extra_repr()
  return string.format('%d, eps=%g, momentum=%g, affine=%s, track_running_stats=%s',
    self.num_features, self.eps, self.momentum, tostring(self.affine),
    tostring(self.track_running_stats))
end

return BatchNorm1d
