-- nn/Dropout.lua — inverted dropout: in training mode zeroes each element with probability
-- p and scales the survivors by 1/(1-p); in eval mode returns the input unchanged.

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local gb = require('gpubp.class').gb

local Dropout = Module:extend('Dropout')

-- Dropout([p=0.5]) or Dropout{p=0.5}
function Dropout:init(p, extra)
  if type(p) == 'table' then p = options.check('Dropout', p, { p = 0.5 }).p end
  if extra ~= nil then errors.raise('Dropout: expected Dropout([p]) or Dropout{p=}, got a second argument') end
  p = p == nil and 0.5 or p
  if type(p) ~= 'number' or p < 0 or p > 1 then
    errors.raise('Dropout: expected a probability p in [0, 1], got ' .. tostring(p))
  end
  self.p = p
end

function Dropout:forward(x)
  if not self.training or self.p == 0 then return x end
  if self.p == 1 then return x * 0 end
  local keep = gb.rand_like(x):ge(self.p)
  if keep.dtype ~= x.dtype then keep = keep:float() end
  return x * (keep * (1 / (1 - self.p)))
end

function Dropout:extra_repr()
  return 'p=' .. self.p
end

return Dropout
