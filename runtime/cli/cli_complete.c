/* cli_complete.c — Tab completion for the gpubp REPL: turns a partial Lua name ("pri",
 * "gb.nn.Li", "x:su", "net:") into the names it can become: globals, table fields, __index
 * chains, tensor methods, and for class instances (modules, optimizers) their parameters,
 * children and class chain; '_' names stay hidden unless typed. A small Lua function. */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "cli_common.h"

#define COMPLETER_KEY "gpubp.cli.complete"

static const char completer_src[] =
    "local keywords = {'and', 'break', 'do', 'else', 'elseif', 'end', 'false', 'for',\n"
    "  'function', 'goto', 'if', 'in', 'local', 'nil', 'not', 'or', 'repeat', 'return',\n"
    "  'then', 'true', 'until', 'while'}\n"
    "local function ident(k) return type(k) == 'string' and k:match('^[%a_][%w_]*$') end\n"
    "local function get(obj, k)\n"
    "  local ok, v = pcall(function() return obj[k] end)\n"
    "  if ok then return v end\n"
    "end\n"
    "local function callable(v)\n"
    "  if type(v) == 'function' then return true end\n"
    "  local mt = debug.getmetatable(v)\n"
    "  return mt ~= nil and type(mt) == 'table' and mt.__call ~= nil\n"
    "end\n"
    "-- the table a userdata/table's methods live in when __index is a function\n"
    "local function method_table()\n"
    "  for _, name in ipairs({'gpubp', 'gpubp.core'}) do\n"
    "    local gb = package.loaded[name]\n"
    "    local m = type(gb) == 'table' and rawget(gb, '_tensor_methods')\n"
    "    if type(m) == 'table' then return m end\n"
    "  end\n"
    "end\n"
    "-- tensor fields that __index computes rather than finds in the method table\n"
    "local tensor_fields = {shape = 1, dtype = 1, device = 1, grad = 1, requires_grad = 1,\n"
    "  is_leaf = 1}\n"
    "-- a class instance (gpubp's class.lua): the names its __index function resolves:\n"
    "-- registered parameters, submodules and buffers (ordered maps), then the class chain\n"
    "local class_machinery = {new = 1, extend = 1, init = 1, is_instance = 1, class_name = 1,\n"
    "  is_module = 1}\n"
    "local function instance(obj, mt, add)\n"
    "  for _, reg in ipairs({'_parameters', '_modules', '_buffers'}) do\n"
    "    local r = rawget(obj, reg)\n"
    "    if type(r) == 'table' and type(r.map) == 'table' then\n"
    "      for k, v in next, r.map do add(k, v) end\n"
    "    end\n"
    "  end\n"
    "  local c, seen = mt, {}\n"
    "  while type(c) == 'table' and not seen[c] do\n"
    "    seen[c] = true\n"
    "    for k, v in next, c do\n"
    "      if not class_machinery[k] then add(k, v) end\n"
    "    end\n"
    "    local cm = debug.getmetatable(c)\n"
    "    local up = type(cm) == 'table' and rawget(cm, '__index')\n"
    "    c = rawget(c, 'super') or (type(up) == 'table' and up) or nil\n"
    "  end\n"
    "end\n"
    "-- adds every (key, value) reachable from obj through fields and __index chains\n"
    "local function collect(obj, add)\n"
    "  local seen = {}\n"
    "  for _ = 1, 16 do\n"
    "    if obj == nil or seen[obj] then return end\n"
    "    seen[obj] = true\n"
    "    local mt = debug.getmetatable(obj)\n"
    "    if type(obj) == 'table' then\n"
    "      -- a lazy package (gpubp.lazy) loads its entries so they can be listed\n"
    "      local load_all = type(mt) == 'table' and rawget(mt, '__load_all')\n"
    "      if load_all then pcall(load_all) end\n"
    "      for k, v in next, obj do add(k, v) end\n"
    "    end\n"
    "    if type(mt) ~= 'table' then return end\n"
    "    local idx = rawget(mt, '__index')\n"
    "    if type(idx) == 'function' then\n"
    "      local m = type(obj) == 'userdata' and method_table()\n"
    "      if m then\n"
    "        for k, v in next, m do add(k, v) end\n"
    "        for k in next, tensor_fields do add(k, 0) end\n"
    "      elseif type(obj) == 'table' then\n"
    "        instance(obj, mt, add)\n"
    "      end\n"
    "      return\n"
    "    end\n"
    "    obj = idx\n"
    "  end\n"
    "end\n"
    "return function(word)\n"
    "  local head, sep, last = word:match('^(.*)([.:])([%w_]*)$')\n"
    "  local out, have = {}, {}\n"
    "  local function add(k, v, prefix)\n"
    "    if ident(k) and k:sub(1, #last) == last and not have[k]\n"
    "       and (k:sub(1, 1) ~= '_' or last:sub(1, 1) == '_') and k ~= 'super' then\n"
    "      if sep == ':' and not callable(v) then return end\n"
    "      have[k] = true\n"
    "      out[#out + 1] = prefix .. k\n"
    "    end\n"
    "  end\n"
    "  if not head then\n"
    "    last = word\n"
    "    if not word:match('^[%a_][%w_]*$') and word ~= '' then return out end\n"
    "    collect(_G, function(k, v) add(k, v, '') end)\n"
    "    for _, k in ipairs(keywords) do add(k, nil, '') end\n"
    "  else\n"
    "    if head:find(':') then return out end\n"
    "    local obj = _G\n"
    "    for part in (head .. '.'):gmatch('([^.]*)%.') do\n"
    "      if not ident(part) then return out end\n"
    "      obj = get(obj, part)\n"
    "      if obj == nil then return out end\n"
    "    end\n"
    "    local prefix = head .. sep\n"
    "    collect(obj, function(k, v) add(k, v, prefix) end)\n"
    "  end\n"
    "  table.sort(out)\n"
    "  return out\n"
    "end\n";

static int complete_body(lua_State *L) {
  const char *word = lua_touserdata(L, 1);
  if (lua_getfield(L, LUA_REGISTRYINDEX, COMPLETER_KEY) != LUA_TFUNCTION) {
    lua_pop(L, 1);
    if (luaL_loadbuffer(L, completer_src, sizeof completer_src - 1, "=repl_complete") != LUA_OK)
      return lua_error(L);
    lua_call(L, 0, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, COMPLETER_KEY);
  }
  lua_pushstring(L, word);
  lua_call(L, 1, 1);
  if (!lua_istable(L, -1)) luaL_error(L, "completer returned no table");
  return 1;
}

void gb_cli_completions(lua_State *L, const char *word) {
  lua_pushcfunction(L, complete_body);
  lua_pushlightuserdata(L, (void *)word);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    lua_pop(L, 1);
    lua_newtable(L);
  }
}
