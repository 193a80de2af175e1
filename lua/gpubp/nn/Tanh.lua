-- nn/Tanh.lua — elementwise tanh.
-- A stateless layer with no parameters.

local Module = require('gpubp.nn.Module')
local options = require('gpubp.options')

local Tanh = Module:extend('Tanh')

-- Tanh() takes no arguments (an empty options table is accepted).
function Tanh:init(opts)
  options.check('Tanh', opts, {})
end

function Tanh:forward(x)
  return x:tanh()
end

return Tanh
