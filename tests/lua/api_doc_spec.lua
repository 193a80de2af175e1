-- api_doc_spec.lua — docs/api.md covers the API that exists: every public name reachable at
-- run time (gb and its sub-tables, tensor methods, the classes and their methods, module and
-- optimizer instance fields) and every GPUBP_API function of gpubp.h has a `### ` entry, and
-- every documented gb.* name or class method exists. Names starting with `_` are private.
-- Run: build/gpubp /usr/bin/busted tests/lua/api_doc_spec.lua

local gb = require('gpubp')

local function slurp(path)
  local f = assert(io.open(path, 'rb'))
  local s = f:read('a')
  f:close()
  return s
end

-- The public header, wherever the layer folders put it (tests run from the source root).
local function header_path()
  local p = io.popen("find . -name gpubp.h -not -path './build*' -not -path './.git/*' "
    .. "-not -path './shared/*' 2>/dev/null")
  local found = {}
  for line in p:lines() do found[#found + 1] = line end
  p:close()
  table.sort(found)
  return found[1]
end

-- ---- what docs/api.md documents --------------------------------------------------------------

-- Names ':' and '.' compare alike: `Module:parameters` and `Module.parameters` are one name.
local function norm(name) return (name:gsub(':', '.')) end

-- {normalized name = heading} from every `### ` heading's backticked spans; a span's name is
-- its leading run of identifier characters, dots and colons (`gb.nn.Linear(in, out)` ->
-- gb.nn.Linear). Also returns the list of entries {heading=, body=} for format checks.
local function documented(text)
  local names, entries = {}, {}
  local cur
  for line in (text .. '\n'):gmatch('(.-)\r?\n') do
    if line:match('^### ') then
      cur = { heading = line, body = {} }
      entries[#entries + 1] = cur
      for span in line:gmatch('`([^`]+)`') do
        local name = span:match('^([%w_%.:]+)')
        if name then names[norm(name)] = line end
      end
    elseif line:match('^##? ') then
      cur = nil
    elseif cur then
      cur.body[#cur.body + 1] = line
    end
  end
  return names, entries
end

-- ---- what exists at run time -----------------------------------------------------------------

local function is_class(v)
  return type(v) == 'table' and type(rawget(v, '__name')) == 'string' and v.extend ~= nil
end

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do
    if type(k) == 'string' and k:sub(1, 1) ~= '_' then ks[#ks + 1] = k end
  end
  table.sort(ks)
  return ks
end

-- Walks gb: every public key of gb and of its (nested) plain sub-tables by its full dotted
-- name; every class found (a table with __name and extend) is collected for class_names.
local function walk_tables(root, prefix, out, classes, seen)
  if seen[root] then return end
  seen[root] = true
  for _, k in ipairs(sorted_keys(root)) do
    local v, full = root[k], prefix .. '.' .. k
    out[#out + 1] = full
    if is_class(v) then
      classes[#classes + 1] = v
    elseif type(v) == 'table' then
      walk_tables(v, full, out, classes, seen)
    end
  end
end

-- The public classes' methods, each under the name of the highest public class that has it
-- (Linear:forward is Module:forward; Module:extend comes from the private base Object).
local function class_names(classes, out)
  local public = {}
  for _, c in ipairs(classes) do public[c] = true end
  for _, c in ipairs(classes) do
    local chain, k = {}, c
    while k do chain[#chain + 1] = k; k = rawget(k, 'super') end
    local names = {}
    for _, cls in ipairs(chain) do
      for _, key in ipairs(sorted_keys(cls)) do
        if key ~= 'init' and key ~= 'super' and type(cls[key]) == 'function' then names[key] = true end
      end
    end
    for key in pairs(names) do
      local owner = c
      for i = #chain, 1, -1 do
        if public[chain[i]] and chain[i][key] ~= nil then owner = chain[i]; break end
      end
      out[#out + 1] = rawget(owner, '__name') .. ':' .. key
    end
  end
end

-- Raw public fields of an instance (the data a user reads: net.training, opt.param_groups).
local function instance_fields(class_name, obj, out)
  for _, k in ipairs(sorted_keys(obj)) do
    if type(rawget(obj, k)) ~= 'function' then out[#out + 1] = class_name .. '.' .. k end
  end
end

local function public_names()
  local out, classes = {}, {}
  walk_tables(gb, 'gb', out, classes, {})
  class_names(classes, out)
  -- tensor methods: the table the metatable's __index closure looks names up in
  local index = debug.getmetatable(gb.zeros(1)).__index -- getmetatable answers false
  local methods = type(index) == 'table' and index or select(2, debug.getupvalue(index, 1))
  assert(type(methods) == 'table', 'the tensor metatable has no method table')
  for _, k in ipairs(sorted_keys(methods)) do out[#out + 1] = 'Tensor:' .. k end
  for _, k in ipairs(sorted_keys(gb._tensor_methods or {})) do out[#out + 1] = 'Tensor:' .. k end
  local net = gb.nn.Linear(2, 2)
  instance_fields('Module', gb.nn.Module(), out)
  local opt = gb.optim.SGD(net:parameters(), { lr = 0.1 })
  instance_fields('Optimizer', opt, out)
  local Plain = gb.optim.LRScheduler:extend('Plain') -- the base class's fields only
  function Plain.get_lr(_, base) return base end
  instance_fields('LRScheduler', Plain(opt), out)
  instance_fields('DataLoader', gb.data.DataLoader({ x = gb.zeros(4, 2), y = gb.zeros(4) },
    { device = 'cpu' }), out)
  local seen, uniq = {}, {}
  for _, n in ipairs(out) do
    if not seen[n] then seen[n] = true; uniq[#uniq + 1] = n end
  end
  table.sort(uniq)
  return uniq, classes
end

-- GPUBP_API function names and the GPUBP_* status codes declared in the header.
local function header_api(text)
  local fns, codes = {}, {}
  local flat = text:gsub('/%*.-%*/', ' ')
  for decl in flat:gmatch('GPUBP_API([^;{]-%b()%s*);') do
    local name = decl:match('([%w_]+)%s*%b()%s*$')
    if name then fns[#fns + 1] = name end
  end
  local enum = flat:match('enum%s*{(.-)}')
  for code in (enum or ''):gmatch('(GPUBP_[%u_]+)') do codes[#codes + 1] = code end
  return fns, codes
end

-- Names in `want` with no entry in `names` (both sides normalized).
local function missing(want, names)
  local out = {}
  for _, n in ipairs(want) do
    if not names[norm(n)] then out[#out + 1] = n end
  end
  return out
end

local function report(what, list)
  return #list .. ' ' .. what .. ' without a ### entry in docs/api.md:\n  '
    .. table.concat(list, '\n  ')
end

local doc = slurp('docs/api.md')
local doc_names, entries = documented(doc)

describe('docs/api.md', function()
  it('has an entry for every public Lua name', function()
    local want = public_names()
    assert.is_true(#want > 200, 'the walk found only ' .. #want .. ' names')
    local miss = missing(want, doc_names)
    assert(#miss == 0, report('public names', miss))
  end)

  it('has an entry for every GPUBP_API function of gpubp.h and names every status code', function()
    local path = header_path()
    assert(path, 'gpubp.h not found under the source tree')
    local fns, codes = header_api(slurp(path))
    assert.is_true(#fns >= 10, 'found only ' .. #fns .. ' GPUBP_API functions in ' .. path)
    assert.is_true(#codes >= 5, 'found only ' .. #codes .. ' status codes in ' .. path)
    local miss = missing(fns, doc_names)
    assert(#miss == 0, report('GPUBP_API functions of ' .. path, miss))
    local absent = {}
    for _, c in ipairs(codes) do
      if not doc:find(c, 1, true) then absent[#absent + 1] = c end
    end
    assert(#absent == 0, 'status codes not named in docs/api.md: ' .. table.concat(absent, ', '))
  end)

  it('documents only gb names, tensor methods and fields, and class methods that exist', function()
    local want, classes = public_names()
    local public = {}
    for _, n in ipairs(want) do public[norm(n)] = true end
    local by_name = {}
    for _, c in ipairs(classes) do by_name[rawget(c, '__name')] = c end
    -- tensor fields are computed by __index: probe a leaf with a gradient and a non-leaf
    local x = gb.ones(1, { requires_grad = true })
    local y = x * 2
    y:backward()
    local header = slurp(header_path())
    local c_api = {}
    for _, f in ipairs((header_api(header))) do c_api[f] = true end
    local stale = {}
    for name, heading in pairs(doc_names) do
      local head, key = name:match('^([%w_]+)%.([%w_]+)')
      local ok = true
      if public[name] then
        ok = true
      elseif head == 'gb' then
        local v = gb
        for part in name:gmatch('%.([%w_]+)') do v = type(v) == 'table' and v[part] or nil end
        ok = v ~= nil
      elseif head == 'Tensor' then
        ok = not name:find('%.', #'Tensor.' + 1) and (x[key] ~= nil or y[key] ~= nil)
      elseif by_name[head] and key then
        ok = by_name[head][key] ~= nil
      elseif name:match('^gpubp_') then
        ok = c_api[name] == true or header:find('%f[%w_]' .. name .. '%f[^%w_]') ~= nil
      end
      if not ok then stale[#stale + 1] = name .. '   (' .. heading .. ')' end
    end
    table.sort(stale)
    assert(#stale == 0, #stale .. ' documented names that do not exist:\n  '
      .. table.concat(stale, '\n  '))
  end)

  it('keeps the format help() reads: backticked names, an example in every entry', function()
    local bad = {}
    for _, e in ipairs(entries) do
      if not e.heading:match('^### `') then
        bad[#bad + 1] = 'heading does not start with a backticked name: ' .. e.heading
      else
        local body = table.concat(e.body, '\n')
        if not (('\n' .. body):find('\n```lua[^\n]*\n') or body:find('```c\n', 1, true)
                or body:find('```sh\n', 1, true)) then
          bad[#bad + 1] = 'no ```lua (```c, ```sh) example: ' .. e.heading
        end
      end
    end
    assert(#bad == 0, table.concat(bad, '\n'))
  end)

  it('has lua examples that compile', function()
    local bad, n = {}, 0
    for code in doc:gmatch('\n```lua[^\n]*\n(.-)```') do -- also ```lua norun: ...
      n = n + 1
      local ok, err = load(code, '=example', 't')
      if not ok then bad[#bad + 1] = err .. '\n    ' .. code end
    end
    assert.is_true(n > 150, 'found only ' .. n .. ' lua examples')
    assert(#bad == 0, #bad .. ' examples do not compile:\n  ' .. table.concat(bad, '\n  '))
  end)

  -- the examples run, and print what their --> comments say: api_examples_spec.lua

  it('the checker reports a name whose entry is removed', function()
    local cut = doc:gsub('\n### `Tensor:matmul%([^\n]*', '\n', 1)
    cut = cut:gsub('\n### `gpubp_open%([^\n]*', '\n', 1)
    local names = documented(cut)
    local miss = missing({ 'Tensor:matmul', 'gpubp_open', 'Tensor:sum' }, names)
    assert.are.same({ 'Tensor:matmul', 'gpubp_open' }, miss)
    local fns = header_api('GPUBP_API int gpubp_x(int a,\n  int b);\n/* GPUBP_API int no(void); */\n'
      .. 'GPUBP_API const char *gpubp_y(void);\nenum { GPUBP_OK = 0, GPUBP_ERRX /* x */ };')
    assert.are.same({ 'gpubp_x', 'gpubp_y' }, fns)
  end)
end)
