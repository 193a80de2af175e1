-- errors.lua — raising errors at the user's line: the position prefixed to a message is
-- that of the first Lua frame outside lua/gpubp (the user's script, spec or REPL chunk),
-- however deep the library call chain or however the user subclassed a layer or optimizer.

local errors = {}

-- '@/path/to/lua/gpubp/' — every library chunk's source starts with it.
-- Kept from load time: a sandboxed runtime removes the global `debug` afterwards.
local getinfo = debug.getinfo

local LIB = getinfo(1, 'S').source:match('^(@.*[/\\])[^/\\]+$') or '@'
-- the C bindings position their errors with the same rule (gbL_where in lgb_module.c)
debug.getregistry()['gpubp.lib_source'] = LIB

-- True when `source` (a debug.getinfo source) is a file of lua/gpubp.
function errors.is_library(source)
  return source ~= nil and source:sub(1, #LIB) == LIB
end

-- The stack level, as error() counts it in the caller of user_level (1 is that caller), of
-- the first Lua function that is not library code; 2 (the caller's caller) when the whole
-- stack is library or C code.
function errors.user_level()
  local level = 2 -- as debug.getinfo counts here: 1 is user_level itself, 2 its caller
  while true do
    local info = getinfo(level, 'S')
    if not info then return 2 end
    if info.what ~= 'C' and not errors.is_library(info.source) then return level - 1 end
    level = level + 1
  end
end

-- Raises `msg` (a string) positioned at the user's line. Never returns.
function errors.raise(msg)
  error(msg, errors.user_level())
end

-- errors.raise(string.format(fmt, ...)).
function errors.raisef(fmt, ...)
  error(string.format(fmt, ...), errors.user_level())
end

-- The text of a caught error without the 'source:line: ' position Lua put in front of it
-- (for library code that catches an error and raises it again with more context).
function errors.message(e)
  return (tostring(e):gsub('^[^\n]-:%d+: ', '', 1))
end

return errors
