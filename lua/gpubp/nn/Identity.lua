-- nn/Identity.lua — returns its input unchanged (a placeholder layer).

local Module = require('gpubp.nn.Module')

local Identity = Module:extend('Identity')

function Identity:forward(x)
  return x
end

return Identity
