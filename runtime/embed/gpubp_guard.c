/* gpubp_guard.c — what every runtime (the CLI's and an embedder's) gets after the standard
 * libraries open: `load`, `loadfile`, `dofile` and `require` refuse precompiled (binary)
 * chunks unless bytecode was allowed, and `os.exit` raises instead of ending the host
 * process unless exiting was allowed (the gpubp command allows it). See docs/reliability.md. */
#include <lauxlib.h>
#include <lua.h>

#include "gpubp_guard.h"

/* load(chunk [, chunkname [, mode [, env]]]): the original `load` (upvalue 1) with mode "t",
 * keeping whether env was given (an explicit nil env differs from none). */
static int text_load(lua_State *L) {
  int n = lua_gettop(L);
  if (n < 3) lua_settop(L, 3);
  lua_pushliteral(L, "t");
  lua_replace(L, 3);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n < 3 ? 3 : n, LUA_MULTRET);
  return lua_gettop(L);
}

/* loadfile([filename [, mode [, env]]]): the original with mode "t". */
static int text_loadfile(lua_State *L) {
  int n = lua_gettop(L);
  if (n < 2) lua_settop(L, 2);
  lua_pushliteral(L, "t");
  lua_replace(L, 2);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n < 2 ? 2 : n, LUA_MULTRET);
  return lua_gettop(L);
}

static int dofile_cont(lua_State *L, int status, lua_KContext k) {
  (void)status;
  (void)k;
  return lua_gettop(L) - 1;
}

/* dofile([filename]): as Lua's, text chunks only. */
static int text_dofile(lua_State *L) {
  const char *fname = luaL_optstring(L, 1, NULL);
  lua_settop(L, 1);
  if (luaL_loadfilex(L, fname, "t") != LUA_OK) return lua_error(L);
  lua_callk(L, 0, LUA_MULTRET, 0, dofile_cont);
  return dofile_cont(L, 0, 0);
}

/* package.searchers[2] for text files only: package.searchpath(name, package.path) and
 * luaL_loadfilex(..., "t"); messages as Lua's own searcher. Upvalue 1: the package table. */
static int text_searcher(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  lua_getfield(L, lua_upvalueindex(1), "path");
  const char *path = lua_tostring(L, -1);
  if (path == NULL) return luaL_error(L, "'package.path' must be a string");
  lua_getfield(L, lua_upvalueindex(1), "searchpath");
  lua_pushvalue(L, 1);
  lua_pushvalue(L, -3);
  lua_call(L, 2, 2);
  if (lua_isnil(L, -2)) return 1; /* the "no file ..." list */
  lua_pop(L, 1);
  const char *filename = lua_tostring(L, -1);
  if (luaL_loadfilex(L, filename, "t") != LUA_OK)
    return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, filename,
                      lua_tostring(L, -1));
  lua_pushstring(L, filename);
  return 2;
}

static int refuse_exit(lua_State *L) {
  int code = lua_isboolean(L, 1) ? !lua_toboolean(L, 1) : (int)luaL_optinteger(L, 1, 0);
  return luaL_error(L,
                    "os.exit(%d) refused: this is an embedded gpubp runtime, and only its host "
                    "ends the process",
                    code);
}

/* Replaces the global `name` with a closure of fn over its original value. */
static void wrap_global(lua_State *L, const char *name, lua_CFunction fn) {
  lua_getglobal(L, name);
  lua_pushcclosure(L, fn, 1);
  lua_setglobal(L, name);
}

void gpubp_guard_install(lua_State *L, int allow_bytecode, int allow_exit) {
  if (!allow_bytecode) {
    wrap_global(L, "load", text_load);
    wrap_global(L, "loadfile", text_loadfile);
    lua_pushcfunction(L, text_dofile);
    lua_setglobal(L, "dofile");
    if (lua_getglobal(L, "package") == LUA_TTABLE) {
      if (lua_getfield(L, -1, "searchers") == LUA_TTABLE) {
        lua_pushvalue(L, -2);
        lua_pushcclosure(L, text_searcher, 1);
        lua_rawseti(L, -2, 2);
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  if (!allow_exit) {
    if (lua_getglobal(L, "os") == LUA_TTABLE) {
      lua_pushcfunction(L, refuse_exit);
      lua_setfield(L, -2, "exit");
    }
    lua_pop(L, 1);
  }
}
