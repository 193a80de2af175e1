-- nn/LeakyReLU.lua — x for x > 0, negative_slope * x otherwise (default slope 0.01).

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')

local LeakyReLU = Module:extend('LeakyReLU')

-- LeakyReLU([negative_slope=0.01]) or LeakyReLU{negative_slope=0.01}
function LeakyReLU:init(negative_slope)
  if type(negative_slope) == 'table' then
    negative_slope = options.check('LeakyReLU', negative_slope, { negative_slope = 0.01 }).negative_slope
  end
  if negative_slope ~= nil and type(negative_slope) ~= 'number' then
    errors.raise('LeakyReLU: expected a number for negative_slope, got ' .. type(negative_slope))
  end
  self.negative_slope = negative_slope or 0.01
end

function LeakyReLU:forward(x)
  return x:leaky_relu(self.negative_slope)
end

function LeakyReLU:extra_repr()
  return 'negative_slope=' .. self.negative_slope
end

return LeakyReLU
