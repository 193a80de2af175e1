-- nn/HuberLoss.lua — 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta) (d = input -
-- target), as PyTorch's. {reduction='mean'|'sum'|'none', delta=1}.

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local reduction = require('gpubp.nn.reduction')
local gb = require('gpubp.class').gb

local HuberLoss = Module:extend('HuberLoss')

function HuberLoss:init(opts)
  opts = options.check('HuberLoss', opts, { reduction = 'mean', delta = 1.0 })
  self.reduction = reduction.check('HuberLoss', opts.reduction)
  if not (opts.delta > 0) then
    errors.raise('HuberLoss: delta must be > 0, got ' .. tostring(opts.delta))
  end
  self.delta = opts.delta
end

function HuberLoss:forward(input, target)
  local d = input - target
  local a = d:abs()
  local losses = gb.where(a:lt(self.delta), d * d * 0.5, (a - 0.5 * self.delta) * self.delta)
  return reduction.apply(self.reduction, losses)
end

function HuberLoss:extra_repr()
  return ('delta=%g'):format(self.delta)
    .. (self.reduction == 'mean' and '' or ", reduction='" .. self.reduction .. "'")
end

return HuberLoss
