-- nn/MSELoss.lua — loss(input, target) = mean((input - target)^2).
-- {reduction='mean'|'sum'|'none'}.

local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local reduction = require('gpubp.nn.reduction')

local MSELoss = Module:extend('MSELoss')

function MSELoss:init(opts)
  opts = options.check('MSELoss', opts, { reduction = 'mean' })
  self.reduction = reduction.check('MSELoss', opts.reduction)
end

function MSELoss:forward(input, target)
  local diff = input - target
  return reduction.apply(self.reduction, diff * diff)
end

function MSELoss:extra_repr()
  return self.reduction == 'mean' and '' or "reduction='" .. self.reduction .. "'"
end

return MSELoss
