-- utils/check.lua — the toolkit's side of the shared checks (gpubp.errors, gpubp.options):
-- errors at the user's line, strict option tables with "no default" entries, and telling an
-- options table from a list (schedulers take either positional arguments or one table).

local errors = require('gpubp.errors')
local options = require('gpubp.options')

local check = {}

-- Raises msg at the first Lua frame outside lua/gpubp (gpubp.errors).
check.raise = errors.raise

-- True for a table of named options (every key a string; {} counts), as opposed to a list.
function check.is_options(t)
  if type(t) ~= 'table' or getmetatable(t) ~= nil then return false end
  for k in pairs(t) do
    if type(k) ~= 'string' then return false end
  end
  return true
end

-- Spec markers: an option without a default (any type accepted), as options.optional.
check.NONE = options.optional
check.ANY = options.optional

-- Checks opts against `allowed` ({name = default}, a default's type being the option's
-- type; check.NONE for no default) with the shared checker (gpubp.options); returns the
-- options with the defaults filled in.
function check.options(name, opts, allowed)
  return options.check(name, opts, allowed)
end

return check
