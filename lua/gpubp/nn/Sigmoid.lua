-- nn/Sigmoid.lua — elementwise 1 / (1 + exp(-x)).
-- A stateless layer with no parameters.

local Module = require('gpubp.nn.Module')

local Sigmoid = Module:extend('Sigmoid')

function Sigmoid:forward(x)
  return x:sigmoid()
end

return Sigmoid
