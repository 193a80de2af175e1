-- nn/Flatten.lua — merges dimensions start_dim..end_dim into one (defaults 2..-1: keeps the
-- batch dimension, as PyTorch's Flatten(1, -1) does with 0-based dims).

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')

local Flatten = Module:extend('Flatten')

-- Flatten([start_dim=2 [, end_dim=-1]]) or Flatten{start_dim=, end_dim=}
function Flatten:init(start_dim, end_dim)
  if type(start_dim) == 'table' then
    local o = options.check('Flatten', start_dim, { start_dim = 2, end_dim = -1 })
    start_dim, end_dim = o.start_dim, o.end_dim
  end
  local dims = {}
  for what, v in pairs({ start_dim = start_dim, end_dim = end_dim }) do
    dims[what] = options.tointeger(v) -- 2.0 as 2
    if v ~= nil and dims[what] == nil then
      errors.raise('Flatten: ' .. what .. ' must be an integer, got ' .. tostring(v))
    end
  end
  self.start_dim = dims.start_dim or 2
  self.end_dim = dims.end_dim or -1
end

function Flatten:forward(x)
  local d = x:dim()
  local s = self.start_dim < 0 and d + 1 + self.start_dim or self.start_dim
  local e = self.end_dim < 0 and d + 1 + self.end_dim or self.end_dim
  if s < 1 or e > d or s > e then
    if d == 0 then return x:reshape(1) end
    errors.raise(string.format('Flatten: dims %d..%d out of range for a %d-d input',
      self.start_dim, self.end_dim, d))
  end
  local shape, out, n = x.shape, {}, 1
  for i = 1, s - 1 do out[#out + 1] = shape[i] end
  for i = s, e do n = n * shape[i] end
  out[#out + 1] = n
  for i = e + 1, d do out[#out + 1] = shape[i] end
  return x:reshape(out)
end

function Flatten:extra_repr()
  return 'start_dim=' .. self.start_dim .. ', end_dim=' .. self.end_dim
end

return Flatten
