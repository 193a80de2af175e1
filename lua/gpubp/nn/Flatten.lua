-- nn/Flatten.lua — merges dimensions start_dim..end_dim into one (defaults 2..-1: keeps the
-- batch dimension, as PyTorch's Flatten(1, -1) does with 0-based dims).

local errors = require('gpubp.errors')
local Module = require('gpubp.nn.Module')

local Flatten = Module:extend('Flatten')

function Flatten:init(start_dim, end_dim)
  self.start_dim = start_dim or 2
  self.end_dim = end_dim or -1
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
