-- nn/Softmax.lua — exp(x) / sum(exp(x)) along dim (default -1, the last).

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')

local Softmax = Module:extend('Softmax')

-- Softmax([dim=-1]) or Softmax{dim=-1}
function Softmax:init(dim)
  if type(dim) == 'table' then dim = options.check('Softmax', dim, { dim = options.opt(nil, 'integer') }).dim end
  local d = options.tointeger(dim) -- 2.0 as 2
  if dim ~= nil and d == nil then
    errors.raise('Softmax: expected an integer dim, got ' .. tostring(dim))
  end
  self.dim = d or -1
end

function Softmax:forward(x)
  return x:softmax(self.dim)
end

function Softmax:extra_repr()
  return 'dim=' .. self.dim
end

return Softmax
