-- nn/Sigmoid.lua — elementwise 1 / (1 + exp(-x)).
-- A stateless layer with no parameters.

local Module = require('gpubp.nn.Module')
local options = require('gpubp.options')

local Sigmoid = Module:extend('Sigmoid')

-- Sigmoid() takes no arguments (an empty options table is accepted).
function Sigmoid:init(opts)
  options.check('Sigmoid', opts, {})
end

function Sigmoid:forward(x)
  return x:sigmoid()
end

return Sigmoid
