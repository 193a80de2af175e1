-- options.lua — THE checker of option tables, shared by layers, losses, optimizers,
-- schedulers, the DataLoader, tensor constructors and gb.save/gb.load: an unknown key or a
-- value of the wrong type is an error naming the callee and the option, at the user's line.

local errors = require('gpubp.errors')

local options = {}

local Typed = {} -- metatable marking a spec entry built by options.opt

-- A spec entry with an explicit default (nil allowed) and the accepted types: Lua type
-- names, or 'integer' (math.type), 'tensor' (gb.is_tensor). No types: any value.
function options.opt(default, ...)
  return setmetatable({ default = default, types = { ... } }, Typed)
end

-- An option with no default that accepts any value.
options.optional = options.opt(nil)

local function is_tensor(v)
  local gb = package.loaded['gpubp.core']
  return gb ~= nil and gb.is_tensor(v)
end

local function type_ok(v, t)
  if t == 'integer' then return math.type(v) == 'integer' end
  if t == 'tensor' then return is_tensor(v) end
  if t == 'number' then return type(v) == 'number' end
  if t == 'table' then return type(v) == 'table' and not is_tensor(v) end
  return type(v) == t
end

local function describe(v)
  if is_tensor(v) then return 'tensor' end
  return type(v)
end

-- Checks the option table `opts` (nil means {}) of `callee` (the name used in messages,
-- e.g. 'Linear') against `spec` ({name = default} or {name = options.opt(default, types...)};
-- a plain default's Lua type is the type the option takes). Returns a new table holding
-- every option of spec: the user's value or the default. Raises, at the user's line,
-- "<callee>: unknown option '<k>'", "<callee>: option '<k>' expects a <type>, got <type>",
-- or "<callee>: expected an options table, got <type>".
function options.check(callee, opts, spec)
  if opts == nil then opts = {} end
  if type(opts) ~= 'table' or is_tensor(opts) then
    errors.raisef('%s: expected an options table, got %s', callee, describe(opts))
  end
  for k, v in pairs(opts) do
    local s = spec[k]
    if s == nil then errors.raisef("%s: unknown option '%s'", callee, tostring(k)) end
    local types
    if getmetatable(s) == Typed then
      types = s.types
    else
      types = { math.type(s) == 'integer' and 'number' or type(s) }
    end
    if #types > 0 then
      local ok = false
      for _, t in ipairs(types) do
        if type_ok(v, t) then ok = true break end
      end
      if not ok then
        local named = {}
        for i, t in ipairs(types) do named[i] = (t:match('^[aeiou]') and 'an ' or 'a ') .. t end
        errors.raisef("%s: option '%s' expects %s, got %s", callee, tostring(k),
          table.concat(named, ' or '), describe(v))
      end
    end
  end
  local out = {}
  for k, s in pairs(spec) do
    local v = opts[k]
    if v == nil then
      if getmetatable(s) == Typed then v = s.default else v = s end
    end
    out[k] = v
  end
  return out
end

-- Checks a required positional argument: returns v when it is an integer >= 1 (>= 0 with
-- allow_zero), else raises "<callee>: <what> must be a positive integer, got <v>".
function options.positive_int(callee, what, v, allow_zero)
  if math.type(v) ~= 'integer' or v < (allow_zero and 0 or 1) then
    errors.raisef('%s: %s must be a %s integer, got %s', callee, what,
      allow_zero and 'non-negative' or 'positive', tostring(v))
  end
  return v
end

return options
