-- nn/ELU.lua — x for x > 0, alpha * (exp(x) - 1) otherwise (default alpha 1), as PyTorch's
-- ELU (the elu row).

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')

local ELU = Module:extend('ELU')

-- ELU([alpha=1]) or ELU{alpha=1}
function ELU:init(alpha, extra)
  if type(alpha) == 'table' then alpha = options.check('ELU', alpha, { alpha = 1.0 }).alpha end
  if extra ~= nil then errors.raise('ELU: expected ELU([alpha]) or ELU{alpha=}, got a second argument') end
  if alpha ~= nil and type(alpha) ~= 'number' then
    errors.raise('ELU: expected a number for alpha, got ' .. type(alpha))
  end
  self.alpha = alpha or 1.0
end

function ELU:forward(x)
  return x:elu(self.alpha)
end

function ELU:extra_repr()
  return 'alpha=' .. self.alpha
end

return ELU
