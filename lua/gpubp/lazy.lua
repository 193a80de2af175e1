-- lazy.lua — package tables whose entries are loaded on first use, so that start-up reads
-- only the files a script touches (gb.nn alone is ~30 files). Indexing a known name requires
-- its module once and stores it in the table; pairs() and the REPL's completion (through
-- the metatable's __load_all) load every entry first, so walkers see the whole package.

-- lazy(tbl, entries) -> tbl. entries maps a name to a module name or to a function that
-- returns the value (for entries that are a field of another module).
return function(tbl, entries)
  local function load(name)
    local how = entries[name]
    local value
    if type(how) == 'function' then value = how() else value = require(how) end
    rawset(tbl, name, value)
    return value
  end
  local function load_all()
    for name in pairs(entries) do
      if rawget(tbl, name) == nil then load(name) end
    end
  end
  return setmetatable(tbl, {
    __index = function(_, name)
      if entries[name] ~= nil then return load(name) end
    end,
    __pairs = function(t)
      load_all()
      return next, t, nil
    end,
    __load_all = load_all,
  })
end
