/* lgb_graph.c — recordings of kernel calls (runtime/core/gb_graph.h) as Lua userdata, for
 * gb.graph (lua/gpubp/graph.lua): gb._graph_new() makes one; rec:record(fn, ...) runs fn with
 * the recording active and returns fn's results; rec:replay() runs the calls again;
 * rec:patch(k, {f = {...}, i = {...}}) changes the scalar arguments of call k. */
#include "gb_graph.h"
#include "gb_state.h"
#include "lgb.h"

#define GBL_GRAPH_MT "gpubp.Recording"

static gb_graph **check_slot(lua_State *L) {
  return (gb_graph **)luaL_checkudata(L, 1, GBL_GRAPH_MT);
}

static gb_graph *check_graph(lua_State *L) {
  gb_graph **slot = check_slot(L);
  if (!*slot) luaL_error(L, "graph: the recording was released");
  return *slot;
}

static int l_graph_new(lua_State *L) {
  gb_graph **slot = (gb_graph **)lua_newuserdatauv(L, sizeof *slot, 0);
  *slot = NULL;
  luaL_setmetatable(L, GBL_GRAPH_MT);
  if (!(*slot = gb_graph_new())) return luaL_error(L, "out of memory: graph recording");
  return 1;
}

/* rec:record(fn, ...): calls fn(...) with the recording active; on an error inside fn the
 * recording is stopped and the error raised again (the caller drops the recording). */
static int m_record(lua_State *L) {
  gb_graph *g = check_graph(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  gb_state *S = gbL_state(L);
  if (gb_graph_size(g) > 0) return luaL_error(L, "graph: this recording is already made");
  GBL_CHECK(L, S, gb_graph_begin(S, g));
  int nargs = lua_gettop(L) - 2;
  int status = lua_pcall(L, nargs, LUA_MULTRET, 0);
  gb_graph_begin(S, NULL);
  if (status != LUA_OK) return lua_error(L);
  if (gb_graph_broken(check_graph(L))) /* fn may have released it (after a nested record) */
    return luaL_error(L, "out of memory: graph recording");
  return lua_gettop(L) - 1;
}

static int m_replay(lua_State *L) {
  gb_graph *g = check_graph(L);
  gb_state *S = gbL_state(L);
  GBL_CHECK(L, S, gb_graph_replay(S, g));
  return 0;
}

static int m_size(lua_State *L) {
  lua_pushinteger(L, gb_graph_size(check_graph(L)));
  return 1;
}

/* rec:op(k): the op name of call k (1-based), for tests and inspection */
static int m_op(lua_State *L) {
  gb_graph *g = check_graph(L);
  gb_opid id = gb_graph_op(g, (int)luaL_checkinteger(L, 2) - 1);
  if (id == GB_NOPS)
    return luaL_error(L, "graph: no call %d in this recording", (int)lua_tointeger(L, 2));
  lua_pushstring(L, gb_ops[id].name);
  return 1;
}

/* Copies list field `name` of the table at 3 into dst[0..n): numbers (f) or integers (i). */
static void patch_list(lua_State *L, const char *name, int n, double *fdst, int64_t *idst) {
  if (lua_getfield(L, 3, name) == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  luaL_checktype(L, -1, LUA_TTABLE);
  lua_Integer len = luaL_len(L, -1);
  if (len > n) luaL_error(L, "graph: patch.%s has %d entries, at most %d", name, (int)len, n);
  for (lua_Integer k = 1; k <= len; k++) {
    lua_geti(L, -1, k);
    if (!lua_isnil(L, -1)) {
      if (fdst)
        fdst[k - 1] = luaL_checknumber(L, -1);
      else
        idst[k - 1] = luaL_checkinteger(L, -1);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* rec:patch(k, {f = {...}, i = {...}}): the scalar arguments of call k (1-based) for the
 * next replays; nil entries keep their value. Only the numbers change, never the tensors.
 * Reading the table runs Lua code (__index, __len), which may release this recording, so
 * the call is looked up again after it. */
static int m_patch(lua_State *L) {
  gb_graph *g = check_graph(L);
  lua_Integer k = luaL_checkinteger(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  gb_opargs *a = gb_graph_args(g, (int)k - 1);
  if (!a) return luaL_error(L, "graph: no call %d in this recording", (int)k);
  gb_opargs fresh = *a; /* all checks first: a failed patch changes nothing */
  patch_list(L, "f", (int)(sizeof fresh.f / sizeof fresh.f[0]), fresh.f, NULL);
  patch_list(L, "i", (int)(sizeof fresh.i / sizeof fresh.i[0]), NULL, fresh.i);
  a = gb_graph_args(check_graph(L), (int)k - 1);
  if (!a) return luaL_error(L, "graph: no call %d in this recording", (int)k);
  *a = fresh;
  return 0;
}

/* rec:patching(fn): runs fn() in patch mode (fused optimizer rows patch their recorded calls,
 * other ops are refused); returns the number of calls patched, or raises fn's error. */
static int m_patching(lua_State *L) {
  gb_graph *g = check_graph(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  gb_state *S = gbL_state(L);
  if (S->recording || S->graph_patch)
    return luaL_error(L, "graph: patching inside a recording or another patch");
  gb_graph_patch_begin(S, g);
  lua_pushvalue(L, 2);
  int status = lua_pcall(L, 0, 0, 0);
  int patched = gb_graph_patch_begin(S, NULL);
  if (status != LUA_OK) return lua_error(L);
  lua_pushinteger(L, patched);
  return 1;
}

/* rec:release() (and __gc). Refused while the recording records or patches: the running
 * record/patching call, further up the stack, still uses it. */
static int m_release(lua_State *L) {
  gb_graph **slot = check_slot(L);
  gb_state *S = gbL_state(L);
  if (*slot && (S->recording == *slot || S->graph_patch == *slot))
    return luaL_error(L, "graph: cannot release a recording while it records or patches");
  if (*slot) {
    gb_graph_free(gbL_state(L), *slot);
    *slot = NULL;
  }
  return 0;
}

static const luaL_Reg methods[] = {
    {"record", m_record}, {"replay", m_replay},     {"size", m_size},       {"op", m_op},
    {"patch", m_patch},   {"patching", m_patching}, {"release", m_release}, {NULL, NULL},
};

void gbL_open_graph(lua_State *L) {
  if (luaL_newmetatable(L, GBL_GRAPH_MT)) {
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, m_release);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, m_release);
    lua_setfield(L, -2, "__close");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
  }
  lua_pop(L, 1);
  lua_pushcfunction(L, l_graph_new);
  lua_setfield(L, -2, "_graph_new");
}
