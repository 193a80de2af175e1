-- nn/ModuleList.lua — holds submodules in a list, as PyTorch's ModuleList: they are
-- registered (named "1", "2", ...) so parameters(), to(), state_dict() see them, and
-- reachable as list[i] (negative from the end), #list and ipairs(list). Not callable.

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')

local ModuleList = Module:extend('ModuleList')

local function check_module(where, m)
  if not Module.is_module(m) then
    errors.raise('ModuleList' .. where .. ': expected a Module, got ' .. type(m))
  end
end

-- ModuleList([{m1, m2, ...}])
function ModuleList:init(mods, extra)
  if extra ~= nil then
    errors.raise('ModuleList: expected one list of modules, got a second argument')
  end
  if mods == nil then return end
  if type(mods) ~= 'table' or Module.is_module(mods) then
    errors.raise('ModuleList: expected a list of modules, got ' .. type(mods))
  end
  self:extend(mods)
end

-- Appends a module; returns self.
function ModuleList:append(m)
  check_module(':append', m)
  Module.__newindex(self, tostring(#self + 1), m)
  return self
end

-- Appends every module of a list (or of another ModuleList); returns self.
function ModuleList:extend(mods)
  if type(mods) ~= 'table' then
    errors.raise('ModuleList:extend: expected a list of modules, got ' .. type(mods))
  end
  local items = {}
  for i, m in ipairs(mods) do
    if not Module.is_module(m) then
      errors.raise('ModuleList: element ' .. i .. ' is not a Module (got ' .. type(m) .. ')')
    end
    items[i] = m
  end
  for _, m in ipairs(items) do self:append(m) end
  return self
end

-- Inserts m at position i (1..#list+1), moving the later ones up; returns self.
function ModuleList:insert(i, m)
  local n = #self
  local at = options.tointeger(i)
  if at == nil then
    errors.raise('ModuleList:insert: index must be an integer, got ' .. tostring(i))
  end
  i = at
  if i < 0 then i = n + 2 + i end
  if i < 1 or i > n + 1 then
    errors.raise(('ModuleList:insert: index %d out of range for a list of %d'):format(i, n))
  end
  check_module(':insert', m)
  local map = rawget(self, '_modules').map
  for k = n, i, -1 do Module.__newindex(self, tostring(k + 1), map[tostring(k)]) end
  Module.__newindex(self, tostring(i), m)
  return self
end

-- 1-based position of k (negative counts from the end); nil when out of range
local function position(self, k)
  local n = #rawget(self, '_modules').names
  local i = k < 0 and n + 1 + k or k
  if i < 1 or i > n then return nil end
  return i
end

-- list[i] is nil past the end (so ipairs stops there); i may be an integral float (list[n / 2])
function ModuleList.__index(self, k)
  local ki = options.tointeger(k)
  if ki then
    local i = position(self, ki)
    return i and rawget(self, '_modules').map[tostring(i)]
  end
  return Module.__index(self, k)
end

function ModuleList.__newindex(self, k, v)
  local ki = options.tointeger(k)
  if ki then
    local i = position(self, ki)
    if not i then
      errors.raise(('ModuleList: index %d out of range for a list of %d (use append)'):format(ki, #self))
    end
    check_module('', v)
    return Module.__newindex(self, tostring(i), v)
  end
  return Module.__newindex(self, k, v)
end

function ModuleList:__len()
  return #rawget(self, '_modules').names
end

function ModuleList:forward()
  errors.raise('ModuleList: is not callable (it has no forward); call its modules')
end

return ModuleList
