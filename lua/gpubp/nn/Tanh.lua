-- nn/Tanh.lua — elementwise tanh.
-- A stateless layer with no parameters.

local Module = require('gpubp.nn.Module')

local Tanh = Module:extend('Tanh')

function Tanh:forward(x)
  return x:tanh()
end

return Tanh
