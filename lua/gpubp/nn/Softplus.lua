-- nn/Softplus.lua — log(1 + exp(beta * x)) / beta, linear (x) where beta * x > threshold,
-- as PyTorch's Softplus (the softplus row; defaults beta 1, threshold 20).

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')

local Softplus = Module:extend('Softplus')

-- Softplus([beta=1 [, threshold=20]]) or Softplus{beta=1, threshold=20}
function Softplus:init(beta, threshold)
  if type(beta) == 'table' then
    if threshold ~= nil then
      errors.raise('Softplus: expected Softplus([beta [, threshold]]) or Softplus{beta=, threshold=}')
    end
    local o = options.check('Softplus', beta, { beta = 1.0, threshold = 20.0 })
    beta, threshold = o.beta, o.threshold
  end
  for what, v in pairs({ beta = beta, threshold = threshold }) do
    if v ~= nil and type(v) ~= 'number' then
      errors.raise('Softplus: expected a number for ' .. what .. ', got ' .. type(v))
    end
  end
  if beta == 0 then errors.raise('Softplus: beta must not be 0') end
  self.beta, self.threshold = beta or 1.0, threshold or 20.0
end

function Softplus:forward(x)
  return x:softplus(self.beta, self.threshold)
end

function Softplus:extra_repr()
  return ('beta=%g, threshold=%g'):format(self.beta, self.threshold)
end

return Softplus
