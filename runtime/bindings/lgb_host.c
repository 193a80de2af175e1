/* lgb_host.c — what an embedding host plugs into the bindings: the folder rule that every
 * file the library opens must pass (the sandbox, gpubp_api.c), and the metrics hook behind
 * gb.host_metric(name, step, value), which gb.utils.Logger calls for every scalar. */
#include <string.h>

#include "lgb.h"

static const char HOST_KEY = 'h';

gbL_host *gbL_host_of(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &HOST_KEY);
  gbL_host *h = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (h) return h;
  h = lua_newuserdatauv(L, sizeof *h, 0);
  memset(h, 0, sizeof *h);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &HOST_KEY);
  return h;
}

gbL_host *gbL_host_peek(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &HOST_KEY);
  gbL_host *h = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return h;
}

void gbL_check_path(lua_State *L, const char *path, int write, const char *op) {
  gbL_host *h = gbL_host_peek(L);
  if (!h || !h->path) return;
  if (!h->path(h->path_ud, path, write))
    gbL_error(L, "%s: '%s' is outside the folders this script may %s", op, path,
              write ? "write" : "read");
}

/* gb.host_metric(name, step, value) -> true when a host hook received it, else false. */
static int host_metric(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  lua_Integer step = luaL_checkinteger(L, 2);
  double value = luaL_checknumber(L, 3);
  gbL_host *h = gbL_host_peek(L);
  if (!h || !h->metric) {
    lua_pushboolean(L, 0);
    return 1;
  }
  h->metric(h->metric_ud, name, (int64_t)step, value);
  lua_pushboolean(L, 1);
  return 1;
}

void gbL_open_host(lua_State *L) {
  lua_pushcfunction(L, host_metric);
  lua_setfield(L, -2, "host_metric");
}
