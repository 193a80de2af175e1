-- nn/Dropout2d.lua — channel dropout: in training mode zeroes whole channels of an
-- (N, C, H, W) (or unbatched (C, H, W)) input with probability p and scales the kept ones
-- by 1/(1-p), as PyTorch's Dropout2d; in eval mode returns the input unchanged.

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local gb = require('gpubp.class').gb

local Dropout2d = Module:extend('Dropout2d')

-- Dropout2d([p=0.5]) or Dropout2d{p=0.5}
function Dropout2d:init(p, extra)
  if type(p) == 'table' then p = options.check('Dropout2d', p, { p = 0.5 }).p end
  if extra ~= nil then
    errors.raise('Dropout2d: expected Dropout2d([p]) or Dropout2d{p=}, got a second argument')
  end
  p = p == nil and 0.5 or p
  if type(p) ~= 'number' or p < 0 or p > 1 then
    errors.raise('Dropout2d: expected a probability p in [0, 1], got ' .. tostring(p))
  end
  self.p = p
end

function Dropout2d:forward(x)
  local d = x:dim()
  if d ~= 3 and d ~= 4 then
    errors.raise('Dropout2d: expected an (N, C, H, W) or (C, H, W) input, got ('
      .. table.concat(x.shape, ',') .. ')')
  end
  if not self.training or self.p == 0 then return x end
  if self.p == 1 then return x * 0 end
  local mshape = d == 4 and { x:size(1), x:size(2), 1, 1 } or { x:size(1), 1, 1 }
  local keep = gb.rand(mshape, { device = x.device }):ge(self.p)
  if keep.dtype ~= x.dtype then keep = keep:float() end
  return x * (keep * (1 / (1 - self.p)))
end

function Dropout2d:extra_repr()
  return 'p=' .. self.p
end

return Dropout2d
