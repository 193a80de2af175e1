-- nn/ReLU.lua — elementwise max(x, 0).
-- A stateless layer with no parameters.

local Module = require('gpubp.nn.Module')
local options = require('gpubp.options')

local ReLU = Module:extend('ReLU')

-- ReLU() takes no arguments (an empty options table is accepted).
function ReLU:init(opts)
  options.check('ReLU', opts, {})
end

function ReLU:forward(x)
  return x:relu()
end

return ReLU
