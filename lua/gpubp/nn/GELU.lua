-- nn/GELU.lua — elementwise x * Phi(x) (the exact, erf-based GELU, PyTorch's default).
-- A stateless layer with no parameters.

local Module = require('gpubp.nn.Module')
local options = require('gpubp.options')

local GELU = Module:extend('GELU')

-- GELU() takes no arguments (an empty options table is accepted).
function GELU:init(opts)
  options.check('GELU', opts, {})
end

function GELU:forward(x)
  return x:gelu()
end

return GELU
