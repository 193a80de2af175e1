-- nn/GELU.lua — elementwise x * Phi(x) (the exact, erf-based GELU, PyTorch's default).
-- A stateless layer with no parameters.

local Module = require('gpubp.nn.Module')

local GELU = Module:extend('GELU')

function GELU:forward(x)
  return x:gelu()
end

return GELU
