-- nn/ModuleDict.lua — holds submodules by name, as PyTorch's ModuleDict: registered (so
-- parameters(), to(), state_dict() see them, under their keys) and reachable as d.key or
-- d['key']; keys(), values(), items() in insertion order. Not callable.

local errors = require('gpubp.errors')
local Module = require('gpubp.nn.Module')

local ModuleDict = Module:extend('ModuleDict')

local METHODS = {
  keys = true, values = true, items = true, update = true, pop = true, contains = true,
}

local function set(self, k, m, where)
  if type(k) ~= 'string' or k == '' or k:find('.', 1, true) then
    errors.raise('ModuleDict' .. where .. ": keys must be non-empty strings without '.', got "
      .. (type(k) == 'string' and "'" .. k .. "'" or type(k)))
  end
  if METHODS[k] or Module[k] ~= nil then
    errors.raise('ModuleDict' .. where .. ": key '" .. k .. "' would hide a method")
  end
  if not Module.is_module(m) then
    errors.raise('ModuleDict' .. where .. ": value for '" .. k .. "' is not a Module (got "
      .. type(m) .. ')')
  end
  Module.__newindex(self, k, m)
end

-- ModuleDict([{name = module, ...}]); a table's string keys are added in sorted order
-- (Lua tables have no order), a list of {name, module} pairs in list order.
function ModuleDict:init(mods, extra)
  if extra ~= nil then
    errors.raise('ModuleDict: expected one table of modules, got a second argument')
  end
  if mods ~= nil then self:update(mods) end
end

-- Adds or replaces entries from {name = module} (sorted by name) or {{name, module}, ...}.
function ModuleDict:update(mods)
  if type(mods) ~= 'table' or Module.is_module(mods) then
    errors.raise('ModuleDict: expected a table of modules, got ' .. type(mods))
  end
  if #mods > 0 then
    for i, p in ipairs(mods) do
      if type(p) ~= 'table' or Module.is_module(p) then
        errors.raise('ModuleDict: element ' .. i .. ' is not a {name, module} pair')
      end
      set(self, p[1], p[2], '')
    end
    return self
  end
  local names = {}
  for k in pairs(mods) do names[#names + 1] = k end
  for _, k in ipairs(names) do
    if type(k) ~= 'string' then
      errors.raise('ModuleDict: keys must be strings, got ' .. type(k))
    end
  end
  table.sort(names)
  for _, k in ipairs(names) do set(self, k, mods[k], '') end
  return self
end

function ModuleDict:keys()
  local out = {}
  for i, n in ipairs(rawget(self, '_modules').names) do out[i] = n end
  return out
end

function ModuleDict:values()
  local m, out = rawget(self, '_modules'), {}
  for i, n in ipairs(m.names) do out[i] = m.map[n] end
  return out
end

-- {{name, module}, ...} in insertion order.
function ModuleDict:items()
  local m, out = rawget(self, '_modules'), {}
  for i, n in ipairs(m.names) do out[i] = { n, m.map[n] } end
  return out
end

function ModuleDict:contains(k)
  return rawget(self, '_modules').map[k] ~= nil
end

-- Removes and returns the module under k (an error when there is none).
function ModuleDict:pop(k)
  local m = rawget(self, '_modules').map[k]
  if m == nil then errors.raise("ModuleDict:pop: no module named '" .. tostring(k) .. "'") end
  Module.__newindex(self, k, nil)
  return m
end

-- d.key = module adds or replaces an entry; other values are plain fields, as on any Module.
function ModuleDict.__newindex(self, k, v)
  if not Module.is_module(v) then return Module.__newindex(self, k, v) end
  set(self, k, v, '')
end

function ModuleDict:__len()
  return #rawget(self, '_modules').names
end

function ModuleDict:forward()
  errors.raise('ModuleDict: is not callable (it has no forward); call its modules')
end

return ModuleDict
