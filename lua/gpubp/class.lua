-- class.lua — a tiny single-inheritance class helper used by nn, optim and data.
-- `local Foo = class('Foo')`, `local Bar = Foo:extend('Bar')`; `Bar(...)` builds an instance
-- through `Bar:new(...)`, which by default calls `self:init(...)`.

local errors = require('gpubp.errors')

local class = {}

-- Metamethods are looked up raw on the metatable, so a subclass copies its parent's.
local METAMETHODS = {
  '__index', '__newindex', '__call', '__tostring', '__len', '__eq', '__lt', '__le',
  '__concat', '__unm', '__add', '__sub', '__mul', '__div', '__mod', '__pow', '__close',
}

local function construct(cls, ...)
  return cls:new(...)
end

local function make(name, parent)
  local cls = {}
  cls.__name = name
  cls.__index = cls
  cls.super = parent
  if parent then
    for _, mm in ipairs(METAMETHODS) do
      local v = rawget(parent, mm)
      if v ~= nil and not (mm == '__index' and v == parent) then cls[mm] = v end
    end
  end
  return setmetatable(cls, { __index = parent, __call = construct,
                             __tostring = function() return 'class ' .. name end })
end

local Object = make('Object')

-- Allocates an instance of `cls` and runs its init with the constructor's arguments.
function Object.new(cls, ...)
  local self = setmetatable({}, cls)
  self:init(...)
  return self
end

function Object:init() end

-- Returns a subclass named `name` (used in messages and __tostring).
function Object.extend(cls, name)
  if type(name) ~= 'string' then
    errors.raise(tostring(cls.__name) .. ':extend: expected a class name (string), got ' .. type(name))
  end
  return make(name, cls)
end

-- True when `obj` is an instance of `cls` or of one of its subclasses.
function Object.is_instance(obj, cls)
  if type(obj) ~= 'table' then return false end
  local c = getmetatable(obj)
  while c do
    if c == cls then return true end
    c = rawget(c, 'super')
  end
  return false
end

-- Name of the class of an instance (or 'Object').
function Object.class_name(obj)
  local c = getmetatable(obj)
  return c and rawget(c, '__name') or 'Object'
end

class.Object = Object

-- `class.gb` stands for the `gpubp` module inside nn/optim/data files. gpubp's init.lua
-- requires those files while it is itself loading, so they cannot `require 'gpubp'` at load
-- time; this proxy resolves the module on first use instead.
class.gb = setmetatable({}, {
  __index = function(_, k)
    local gb = package.loaded.gpubp
    if type(gb) ~= 'table' then gb = require('gpubp') end
    return gb[k]
  end,
  __newindex = function() errors.raise('class.gb is a read-only view of the gpubp module') end,
})

return setmetatable(class, {
  __call = function(_, name) return Object:extend(name) end,
})
