-- nn/SiLU.lua — x * sigmoid(x) ("swish"), as PyTorch's SiLU (the silu row).
-- A stateless layer with no parameters.

local Module = require('gpubp.nn.Module')
local options = require('gpubp.options')

local SiLU = Module:extend('SiLU')

-- SiLU() takes no arguments (an empty options table is accepted).
function SiLU:init(opts)
  options.check('SiLU', opts, {})
end

function SiLU:forward(x)
  return x:silu()
end

return SiLU
