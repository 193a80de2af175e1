-- nn/ReLU.lua — elementwise max(x, 0).
-- A stateless layer with no parameters.

local Module = require('gpubp.nn.Module')

local ReLU = Module:extend('ReLU')

function ReLU:forward(x)
  return x:relu()
end

return ReLU
