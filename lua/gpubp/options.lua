-- options.lua — THE checker of option tables, shared by layers, losses, optimizers,
-- schedulers, the DataLoader, tensor constructors and gb.save/gb.load: an unknown key or a
-- value of the wrong type is an error naming the callee and the option, at the user's line.
-- Also the one rule for what counts as an integer on the Lua side (options.tointeger).

local errors = require('gpubp.errors')

local options = {}

local Typed = {} -- metatable marking a spec entry built by options.opt

-- v as a Lua integer when it is a number with an integral value: an integer, or a float
-- such as 2.0 that arithmetic gives (n / 2), converted by math.tointeger; nil for anything
-- else (2.5, NaN, inf, a float beyond the integers, a non-number). The C bindings take
-- integral floats as well (lua_tointegerx), so gb.nn.Linear(4.0, 2) works as gb.zeros(4.0)
-- does; numeric strings, which lua_tointegerx also takes, stay errors on the Lua side.
function options.tointeger(v)
  if type(v) ~= 'number' then return nil end
  return math.tointeger(v)
end

-- v as an integer (options.tointeger) when it is one >= lo, else nil: for the checks that
-- raise their own message.
function options.integer_at_least(v, lo)
  local n = options.tointeger(v)
  if n ~= nil and n >= lo then return n end
  return nil
end

-- A spec entry with an explicit default (nil allowed) and the accepted types: Lua type
-- names, or 'integer' (options.tointeger: an integral float is taken and converted),
-- 'tensor' (gb.is_tensor). No types: any value.
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
  if t == 'integer' then return options.tointeger(v) ~= nil end
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
-- every option of spec: the user's value (an integral float converted to an integer where
-- the entry takes 'integer') or the default. Raises, at the user's line,
-- "<callee>: unknown option '<k>'", "<callee>: option '<k>' expects a <type>, got <type>",
-- or "<callee>: expected an options table, got <type>".
function options.check(callee, opts, spec)
  if opts == nil then opts = {} end
  if type(opts) ~= 'table' or is_tensor(opts) then
    errors.raisef('%s: expected an options table, got %s', callee, describe(opts))
  end
  local out = {}
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
      local ok = false -- the first type v matches ('integer' converts it)
      for _, t in ipairs(types) do
        if type_ok(v, t) then ok = t break end
      end
      if not ok then
        local named = {}
        for i, t in ipairs(types) do named[i] = (t:match('^[aeiou]') and 'an ' or 'a ') .. t end
        errors.raisef("%s: option '%s' expects %s, got %s", callee, tostring(k),
          table.concat(named, ' or '), describe(v))
      end
      if ok == 'integer' then v = options.tointeger(v) end
    end
    out[k] = v
  end
  for k, s in pairs(spec) do
    if out[k] == nil then
      if getmetatable(s) == Typed then out[k] = s.default else out[k] = s end
    end
  end
  return out
end

-- Checks a required positional argument: returns v as an integer (options.tointeger) when it
-- is one >= 1 (>= 0 with allow_zero), else raises "<callee>: <what> must be a positive
-- integer, got <v>". Callers keep the returned value (4.0 comes back as 4).
function options.positive_int(callee, what, v, allow_zero)
  local n = options.integer_at_least(v, allow_zero and 0 or 1)
  if n == nil then
    errors.raisef('%s: %s must be a %s integer, got %s', callee, what,
      allow_zero and 'non-negative' or 'positive', tostring(v))
  end
  return n
end

return options
