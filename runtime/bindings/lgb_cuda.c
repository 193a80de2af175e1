/* lgb_cuda.c — the `gb.cuda` table: is_available, device_count, why_unavailable,
 * synchronize, memory_stats, reset_peak_memory_stats, empty_cache, set_tf32, get_device_name.
 * Works in a build without the CUDA backend too (nothing available, and why_unavailable says
 * so). Devices are numbered from 0 as in 'cuda:0'; a device may also be given as 'cuda:N'. */
#include <string.h>

#include "gb_state.h"
#include "lgb.h"
#ifdef GB_HAVE_CUDA
#include "gb_cuda.h"
#endif

void gbL_open_cuda(lua_State *L);

static int device_count(void) {
#ifdef GB_HAVE_CUDA
  return gb_cuda_device_count(NULL);
#else
  return 0;
#endif
}

/* Optional device argument: nil (device 0), an ordinal, or a name 'cuda'/'cuda:N'. */
static int opt_device(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx)) return 0;
  if (lua_type(L, idx) == LUA_TSTRING) {
    gb_device d;
    const char *s = lua_tostring(L, idx);
    if (!gb_device_parse(s, &d) || d == GB_CPU)
      return luaL_error(L, "cuda: '%s' is not a CUDA device (expected 'cuda' or 'cuda:N')", s);
    return d;
  }
  lua_Integer d = luaL_checkinteger(L, idx);
  if (d < 0 || d > 63) return luaL_error(L, "cuda: device %d out of range", (int)d);
  return (int)d;
}

static int l_is_available(lua_State *L) {
  lua_pushboolean(L, device_count() > 0);
  return 1;
}

static int l_device_count(lua_State *L) {
  lua_pushinteger(L, device_count());
  return 1;
}

static int l_why_unavailable(lua_State *L) {
#ifdef GB_HAVE_CUDA
  const char *why = NULL;
  if (gb_cuda_device_count(&why) > 0 || !why) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushstring(L, why);
#else
  lua_pushliteral(L, "built without CUDA");
#endif
  return 1;
}

static int l_synchronize(lua_State *L) {
#ifdef GB_HAVE_CUDA
  gb_state *S = gbL_state(L);
  GBL_CHECK(L, S, gb_cuda_synchronize(S));
#endif
  return 0;
}

static void set_int(lua_State *L, const char *k, int64_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}

/* memory_stats([dev]) -> {allocated=, reserved=, peak=, count=} in bytes */
static int l_memory_stats(lua_State *L) {
  int dev = opt_device(L, 1);
  gb_memstats m;
  memset(&m, 0, sizeof m);
#ifdef GB_HAVE_CUDA
  gb_state_memstats(gbL_state(L), dev, &m);
#else
  (void)dev;
#endif
  lua_createtable(L, 0, 4);
  set_int(L, "allocated", m.allocated);
  set_int(L, "reserved", m.reserved);
  set_int(L, "peak", m.peak);
  set_int(L, "count", m.nalloc);
  return 1;
}

static int l_reset_peak(lua_State *L) {
  int dev = opt_device(L, 1);
#ifdef GB_HAVE_CUDA
  gb_cuda_reset_peak(gbL_state(L), dev);
#else
  (void)dev;
#endif
  return 0;
}

static int l_empty_cache(lua_State *L) {
#ifdef GB_HAVE_CUDA
  gb_cuda_empty_cache(gbL_state(L));
#endif
  return 0;
}

static int l_set_tf32(lua_State *L) {
  luaL_checktype(L, 1, LUA_TBOOLEAN);
#ifdef GB_HAVE_CUDA
  gb_cuda_set_tf32(gbL_state(L), lua_toboolean(L, 1));
#endif
  return 0;
}

static int l_get_device_name(lua_State *L) {
  int dev = opt_device(L, 1);
#ifdef GB_HAVE_CUDA
  char name[256];
  size_t total = 0;
  if (gb_cuda_device_info(dev, name, sizeof name, &total)) {
    lua_pushstring(L, name);
    lua_pushinteger(L, (lua_Integer)total);
    return 2;
  }
#else
  (void)dev;
#endif
  lua_pushnil(L);
  return 1;
}

static const luaL_Reg cuda_fns[] = {
    {"is_available", l_is_available},       {"device_count", l_device_count},
    {"why_unavailable", l_why_unavailable}, {"synchronize", l_synchronize},
    {"memory_stats", l_memory_stats},       {"reset_peak_memory_stats", l_reset_peak},
    {"empty_cache", l_empty_cache},         {"set_tf32", l_set_tf32},
    {"get_device_name", l_get_device_name}, {NULL, NULL},
};

/* Adds the `cuda` subtable to the module table on top of the stack. */
void gbL_open_cuda(lua_State *L) {
  lua_createtable(L, 0, (int)(sizeof cuda_fns / sizeof cuda_fns[0]));
  luaL_setfuncs(L, cuda_fns, 0);
  lua_setfield(L, -2, "cuda");
}
