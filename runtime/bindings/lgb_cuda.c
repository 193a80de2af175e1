/* lgb_cuda.c — the `gb.cuda` table: is_available, device_count, why_unavailable,
 * synchronize, memory_stats, reset_peak_memory_stats, empty_cache, set_tf32, get_device_name.
 * Every call goes through the CUDA backend (core/gb_backend.h), opening its plugin on the
 * first one; where the plugin, driver or a device is missing nothing is available and
 * why_unavailable says why. Devices are numbered from 0 as in 'cuda:0' ('cuda:N' works too). */
#include <string.h>

#include "gb_backend.h"
#include "gb_state.h"
#include "lgb.h"

void gbL_open_cuda(lua_State *L);

/* The CUDA backend when it has a usable device, else NULL. */
static const gb_backend *cuda(void) {
  return gb_device_count(GB_KIND_CUDA, NULL) > 0 ? gb_backend_get(GB_KIND_CUDA, NULL) : NULL;
}

/* Optional device argument: nil (device 0), an ordinal, or a name 'cuda'/'cuda:N'. */
static gb_device opt_device(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx)) return GB_DEVICE(GB_KIND_CUDA, 0);
  if (lua_type(L, idx) == LUA_TSTRING) {
    gb_device d;
    const char *s = lua_tostring(L, idx);
    if (!gb_device_parse(s, &d) || gb_device_kind_of(d) != GB_KIND_CUDA)
      return luaL_error(L, "cuda: '%s' is not a CUDA device (expected 'cuda' or 'cuda:N')", s);
    return d;
  }
  lua_Integer d = luaL_checkinteger(L, idx);
  if (d < 0 || d >= GB_MAXINDEX) return luaL_error(L, "cuda: device %d out of range", (int)d);
  return GB_DEVICE(GB_KIND_CUDA, d);
}

static int l_is_available(lua_State *L) {
  lua_pushboolean(L, gb_device_count(GB_KIND_CUDA, NULL) > 0);
  return 1;
}

static int l_device_count(lua_State *L) {
  lua_pushinteger(L, gb_device_count(GB_KIND_CUDA, NULL));
  return 1;
}

static int l_why_unavailable(lua_State *L) {
  const char *why = NULL;
  if (gb_device_count(GB_KIND_CUDA, &why) > 0 || !why) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushstring(L, why);
  return 1;
}

static int l_synchronize(lua_State *L) {
  const gb_backend *b = cuda();
  gb_state *S = gbL_state(L);
  if (b) GBL_CHECK(L, S, b->synchronize(S));
  return 0;
}

static void set_int(lua_State *L, const char *k, int64_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}

/* memory_stats([dev]) -> {allocated=, reserved=, peak=, count=} in bytes */
static int l_memory_stats(lua_State *L) {
  gb_device dev = opt_device(L, 1);
  gb_memstats m;
  gb_state_memstats(gbL_state(L), dev, &m); /* zeros while the backend is not loaded */
  lua_createtable(L, 0, 4);
  set_int(L, "allocated", m.allocated);
  set_int(L, "reserved", m.reserved);
  set_int(L, "peak", m.peak);
  set_int(L, "count", m.nalloc);
  return 1;
}

static int l_reset_peak(lua_State *L) {
  gb_device dev = opt_device(L, 1);
  const gb_backend *b = gb_backend_loaded(dev);
  if (b) b->reset_peak(gbL_state(L), dev);
  return 0;
}

static int l_empty_cache(lua_State *L) {
  const gb_backend *b = gb_backend_loaded(GB_DEVICE(GB_KIND_CUDA, 0));
  if (b) b->empty_cache(gbL_state(L));
  return 0;
}

static int l_set_tf32(lua_State *L) {
  luaL_checktype(L, 1, LUA_TBOOLEAN);
  const gb_backend *b = cuda();
  if (b && b->set_tf32) b->set_tf32(gbL_state(L), lua_toboolean(L, 1));
  return 0;
}

static int l_get_device_name(lua_State *L) {
  gb_device dev = opt_device(L, 1);
  const gb_backend *b = cuda();
  char name[256];
  size_t total = 0;
  if (b && b->device_info(dev, name, sizeof name, &total)) {
    lua_pushstring(L, name);
    lua_pushinteger(L, (lua_Integer)total);
    return 2;
  }
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
