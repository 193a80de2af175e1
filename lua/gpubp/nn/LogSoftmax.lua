-- nn/LogSoftmax.lua — log of Softmax along dim, computed stably (default -1, the last).

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')

local LogSoftmax = Module:extend('LogSoftmax')

-- LogSoftmax([dim=-1]) or LogSoftmax{dim=-1}
function LogSoftmax:init(dim)
  if type(dim) == 'table' then dim = options.check('LogSoftmax', dim, { dim = options.opt(nil, 'integer') }).dim end
  local d = options.tointeger(dim) -- 2.0 as 2
  if dim ~= nil and d == nil then
    errors.raise('LogSoftmax: expected an integer dim, got ' .. tostring(dim))
  end
  self.dim = d or -1
end

function LogSoftmax:forward(x)
  return x:log_softmax(self.dim)
end

function LogSoftmax:extra_repr()
  return 'dim=' .. self.dim
end

return LogSoftmax
