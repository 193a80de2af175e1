-- nn/SmoothL1Loss.lua — 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input -
-- target), as PyTorch's; beta = 0 is the L1 loss. {reduction='mean'|'sum'|'none', beta=1}.

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local reduction = require('gpubp.nn.reduction')
local gb = require('gpubp.class').gb

local SmoothL1Loss = Module:extend('SmoothL1Loss')

function SmoothL1Loss:init(opts)
  opts = options.check('SmoothL1Loss', opts, { reduction = 'mean', beta = 1.0 })
  self.reduction = reduction.check('SmoothL1Loss', opts.reduction)
  if opts.beta < 0 then
    errors.raise('SmoothL1Loss: beta must be >= 0, got ' .. tostring(opts.beta))
  end
  self.beta = opts.beta
end

function SmoothL1Loss:forward(input, target)
  local d = input - target
  local a = d:abs()
  if self.beta == 0 then return reduction.apply(self.reduction, a) end
  local losses = gb.where(a:lt(self.beta), d * d * (0.5 / self.beta), a - 0.5 * self.beta)
  return reduction.apply(self.reduction, losses)
end

function SmoothL1Loss:extra_repr()
  return ('beta=%g'):format(self.beta)
    .. (self.reduction == 'mean' and '' or ", reduction='" .. self.reduction .. "'")
end

return SmoothL1Loss
