-- nn/LogSoftmax.lua — log of Softmax along dim, computed stably (default -1, the last).

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')

local LogSoftmax = Module:extend('LogSoftmax')

-- LogSoftmax([dim=-1]) or LogSoftmax{dim=-1}
function LogSoftmax:init(dim)
  if type(dim) == 'table' then dim = options.check('LogSoftmax', dim, { dim = options.opt(nil, 'integer') }).dim end
  if dim ~= nil and math.type(dim) ~= 'integer' then
    errors.raise('LogSoftmax: expected an integer dim, got ' .. tostring(dim))
  end
  self.dim = dim or -1
end

function LogSoftmax:forward(x)
  return x:log_softmax(self.dim)
end

function LogSoftmax:extra_repr()
  return 'dim=' .. self.dim
end

return LogSoftmax
