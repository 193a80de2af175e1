-- nn/Sequential.lua — runs its children in order; children are named "1", "2", ... and
-- reachable as seq[i]; #seq is the count.

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')

local Sequential = Module:extend('Sequential')

-- Sequential(m1, m2, ...) or Sequential{m1, m2, ...}
function Sequential:init(...)
  local mods = { ... }
  if #mods == 1 and type(mods[1]) == 'table' and not Module.is_module(mods[1]) then
    mods = mods[1]
  end
  for i, m in ipairs(mods) do
    if not Module.is_module(m) then
      errors.raise('Sequential: argument ' .. i .. ' is not a Module (got ' .. type(m) .. ')')
    end
    self:add(m)
  end
end

-- Appends a module; returns self for chaining.
function Sequential:add(m)
  if not Module.is_module(m) then
    errors.raise('Sequential:add: expected a Module, got ' .. type(m))
  end
  self[tostring(#self + 1)] = m
  return self
end

function Sequential.__index(self, k)
  local i = options.tointeger(k) -- seq[n / 2] as seq[2]
  if i then
    local mods = rawget(self, '_modules')
    if i < 0 then i = #mods.names + 1 + i end
    return mods.map[tostring(i)]
  end
  return Module.__index(self, k)
end

function Sequential:__len()
  return #rawget(self, '_modules').names
end

function Sequential:forward(x)
  local mods = rawget(self, '_modules')
  for _, n in ipairs(mods.names) do x = mods.map[n](x) end
  return x
end

return Sequential
