-- utils/check.lua — argument checks shared by the toolkit (schedulers, progress, Logger,
-- lr_find, GradMonitor): errors that name the callee and point at the user's line, the
-- first stack frame outside lua/gpubp, and strict option tables ("X: unknown option 'y'").

local check = {}

-- Raises msg at the first Lua frame outside the library (C frames are skipped too).
function check.raise(msg)
  local level = 2
  while true do
    local info = debug.getinfo(level, 'S')
    if not info then
      level = 0
      break
    end
    if info.what ~= 'C' and not info.source:find('lua/gpubp/', 1, true) then break end
    level = level + 1
  end
  error(msg, level)
end

-- True for a table of named options (every key a string; {} counts), as opposed to a list.
function check.is_options(t)
  if type(t) ~= 'table' or getmetatable(t) ~= nil then return false end
  for k in pairs(t) do
    if type(k) ~= 'string' then return false end
  end
  return true
end

-- Checks opts (nil or a table) against `allowed` ({name = default, ...} or a set of names)
-- and returns a new table with the defaults filled in. A default of false means "a boolean",
-- a number default "a number"; a default that is check.ANY accepts anything.
check.ANY = setmetatable({}, { __tostring = function() return 'any' end })
check.NONE = setmetatable({}, { __tostring = function() return 'none' end })

function check.options(name, opts, allowed)
  if opts == nil then opts = {} end
  if type(opts) ~= 'table' then
    check.raise(string.format('%s: expected a table of options, got %s', name, type(opts)))
  end
  local out = {}
  for k, v in pairs(opts) do
    local d = allowed[k]
    if d == nil then check.raise(string.format("%s: unknown option '%s'", name, tostring(k))) end
    if d ~= check.ANY and d ~= check.NONE and type(v) ~= type(d) then
      check.raise(string.format("%s: option '%s' expects a %s, got %s", name, k, type(d), type(v)))
    end
    out[k] = v
  end
  for k, d in pairs(allowed) do
    if out[k] == nil and d ~= check.ANY and d ~= check.NONE then out[k] = d end
  end
  return out
end

return check
