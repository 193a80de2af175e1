-- help.lua — help(x) for the CLI and REPL. The text comes from docs/api.md (one source),
-- found next to the Lua side: <dir>/../docs/api.md where <dir> holds gpubp/ (the source
-- tree), or <dir>/../../gpubp/docs/api.md (an install: <dir> is share/lua/5.4). Entries are `### ` headings that start with names in
-- backticks; `## ` headings are sections. x may be a value (function, class, instance,
-- tensor, module table) or a name ('gb.nn.Linear', 'Linear', 'matmul', 'Tensor:sum').

local help = {}

local docs_cache

-- The path of docs/api.md for this installation (or nil when it is not there).
function help.docs_path()
  local src = debug.getinfo(1, 'S').source
  local dir = src:sub(1, 1) == '@' and src:sub(2):match('^(.*)[/\\]gpubp[/\\]help%.lua$')
  local candidates = {}
  if dir then
    candidates[#candidates + 1] = dir .. '/../docs/api.md'
    candidates[#candidates + 1] = dir .. '/../../gpubp/docs/api.md'
  end
  for _, p in ipairs(candidates) do
    local f = io.open(p, 'r')
    if f then
      f:close()
      return p
    end
  end
  return nil
end

-- Parses api.md: {entries = {{names=, heading=, body=, section=}...}, by_name = {}, sections}
function help.load(path)
  local f, err = io.open(path, 'r')
  if not f then return nil, err end
  local docs = { entries = {}, by_name = {}, sections = {}, path = path }
  local section, entry
  local in_code = false
  for line in f:lines() do
    if line:match('^```') then in_code = not in_code end
    local h2 = not in_code and line:match('^##%s+(.-)%s*$')
    local h3 = not in_code and line:match('^###%s+(.-)%s*$')
    if h3 then
      entry = { heading = h3, body = {}, section = section, names = {} }
      for span in h3:gmatch('`([^`]+)`') do
        local name = span:match('^([%w_%.:]+)')
        if name then
          entry.names[#entry.names + 1] = name
          docs.by_name[name] = docs.by_name[name] or entry
        end
      end
      docs.entries[#docs.entries + 1] = entry
      if section then section.entries[#section.entries + 1] = entry end
    elseif h2 and not line:match('^###') then
      section = { title = h2, entries = {}, body = {} }
      docs.sections[#docs.sections + 1] = section
      entry = nil
    elseif entry then
      entry.body[#entry.body + 1] = line
    elseif section then
      section.body[#section.body + 1] = line
    end
  end
  f:close()
  return docs
end

local function docs()
  if docs_cache == nil then
    local path = help.docs_path()
    docs_cache = path and help.load(path) or false
  end
  return docs_cache or nil
end

-- Names (as api.md writes them) under which `gb` holds each value, found by walking the
-- module tables, the classes (methods as Class:method, under the class defining them) and
-- the tensor method table.
local function value_names(gb)
  local names = {}
  local function add(v, n)
    names[v] = names[v] or {}
    table.insert(names[v], n)
  end
  local seen = {}
  local function is_class(t)
    return type(t) == 'table' and rawget(t, '__index') == t and type(rawget(t, '__name')) == 'string'
  end
  local function walk(t, path, depth)
    if seen[t] or depth > 4 then return end
    seen[t] = true
    for k, v in pairs(t) do
      if type(k) == 'string' and k:sub(1, 1) ~= '_' then
        local p = path .. '.' .. k
        if type(v) == 'function' then
          add(v, p)
        elseif type(v) == 'table' then
          add(v, p)
          if is_class(v) then
            local cname = rawget(v, '__name')
            for mk, mv in pairs(v) do
              if type(mk) == 'string' and type(mv) == 'function' and mk:sub(1, 1) ~= '_' then
                add(mv, cname .. ':' .. mk)
                add(mv, p .. ':' .. mk)
              end
            end
          else
            walk(v, p, depth + 1)
          end
        end
      end
    end
  end
  walk(gb, 'gb', 0)
  for k, v in pairs(rawget(gb, '_tensor_methods') or {}) do
    if type(v) == 'function' then add(v, 'Tensor:' .. k) end
  end
  return names
end

local function find_entry(d, name)
  local e = d.by_name[name]
  if e then return e end
  -- 'Linear' -> 'gb.nn.Linear'; 'matmul' -> 'Tensor:matmul'; 'gb.nn.Linear:forward' -> 'Linear:forward'
  local short = name:match('[%.:]([%w_]+)$') or name
  local cls, meth = name:match('([%w_]+):([%w_]+)$')
  if cls then
    e = d.by_name[cls .. ':' .. meth]
    if e then return e end
  end
  local found = {}
  for n, entry in pairs(d.by_name) do
    if n:match('[%.:]' .. short .. '$') or n == short then found[#found + 1] = { n, entry } end
  end
  table.sort(found, function(a, b) return #a[1] < #b[1] end)
  return found[1] and found[1][2]
end

local function print_entry(e, out)
  out('### ' .. e.heading:gsub('`', ''))
  local body = e.body
  local last = #body
  while last > 0 and body[last]:match('^%s*$') do last = last - 1 end
  local first = 1
  while first <= last and body[first]:match('^%s*$') do first = first + 1 end
  for i = first, last do out(body[i]) end
end

local function print_section(s, out)
  out('## ' .. s.title)
  for _, e in ipairs(s.entries) do out('  ' .. e.heading:gsub('`', '')) end
end

-- Prints the documentation of x; returns the entry's heading (or nil when nothing matched).
function help.help(x, opts)
  local out = (opts and opts.print) or print
  local gb = package.loaded.gpubp
  local d = docs()
  if not d then
    out('help: docs/api.md was not found next to the Lua side of gpubp; see the reference online')
    return nil
  end
  if x == nil then
    out('help(x) prints the reference entry of a function, class, method or module, from '
      .. d.path .. '.')
    out('Examples: help(gb.nn.Linear), help(gb.optim.SGD), help(t.sum), help("matmul"), help(gb.nn)')
    out('Sections:')
    for _, s in ipairs(d.sections) do out('  ' .. s.title) end
    return nil
  end
  local candidates = {}
  if type(x) == 'string' then
    candidates[1] = x
    if not x:find('[%.:]') then candidates[2] = 'gb.' .. x end
  else
    local names = gb and value_names(gb)[x]
    if names then for _, n in ipairs(names) do candidates[#candidates + 1] = n end end
    if gb and gb.is_tensor and gb.is_tensor(x) then candidates[#candidates + 1] = 'Tensor' end
    local mt = type(x) == 'table' and getmetatable(x)
    if not names and type(mt) == 'table' and type(rawget(mt, '__name')) == 'string' then
      local cname = rawget(mt, '__name') -- an instance: its class
      local cnames = gb and value_names(gb)[mt]
      if cnames then for _, n in ipairs(cnames) do candidates[#candidates + 1] = n end end
      candidates[#candidates + 1] = cname
    end
  end
  for _, n in ipairs(candidates) do
    local e = d.by_name[n]
    if e then print_entry(e, out) return e.heading end
  end
  -- a module table (gb.nn, gb.optim ...): its section(s)
  for _, n in ipairs(candidates) do
    local shown = false
    for _, s in ipairs(d.sections) do
      if s.title == n or s.title:match('^' .. n:gsub('%.', '%%.') .. '[%s%(:]') then
        print_section(s, out)
        shown = true
      end
    end
    if shown then return n end
  end
  for _, n in ipairs(candidates) do
    local e = find_entry(d, n)
    if e then print_entry(e, out) return e.heading end
  end
  if x == gb then
    for _, s in ipairs(d.sections) do out('  ' .. s.title) end
    return 'gb'
  end
  out(string.format('help: no entry for %s in %s', type(x) == 'string' and ("'" .. x .. "'")
    or (candidates[1] or tostring(x)), d.path))
  return nil
end

return help
