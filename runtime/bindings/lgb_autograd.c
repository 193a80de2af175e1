/* lgb_autograd.c — autograd from Lua (backward, no_grad/enable_grad scopes, detach,
 * requires_grad_) and runtime introspection (memory_stats, time, build_info). */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include <time.h>

#include "gb_blas.h"
#include "gb_fn.h"
#include "gb_state.h"
#include "lgb.h"

/* t:backward([grad] [, {retain_graph=bool}]) */
static int m_backward(lua_State *L) {
  gb_state *S = gbL_state(L);
  gb_tensor *t = gbL_check_tensor(L, 1);
  gb_tensor *g = gbL_to_tensor(L, 2);
  bool retain = false;
  int oi = g ? 3 : 2;
  if (lua_istable(L, oi)) {
    lua_getfield(L, oi, "retain_graph");
    retain = lua_toboolean(L, -1);
  } else if (lua_isboolean(L, oi)) {
    retain = lua_toboolean(L, oi);
  }
  GBL_CHECK(L, S, gb_backward(S, t, g, retain));
  return 0;
}

/* Run fn(...) with grad mode set to `on`, restoring the previous mode even on error. */
static int with_grad_mode(lua_State *L, bool on) {
  gb_state *S = gbL_state(L);
  luaL_checktype(L, 1, LUA_TFUNCTION);
  bool was = gb_set_grad_enabled(S, on);
  int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
  gb_set_grad_enabled(S, was);
  if (status != LUA_OK) return lua_error(L);
  return lua_gettop(L);
}

static int l_no_grad(lua_State *L) {
  return with_grad_mode(L, false);
}
static int l_enable_grad(lua_State *L) {
  return with_grad_mode(L, true);
}

static int l_is_grad_enabled(lua_State *L) {
  lua_pushboolean(L, gb_grad_enabled(gbL_state(L)));
  return 1;
}

static int l_set_grad_enabled(lua_State *L) {
  lua_pushboolean(L, gb_set_grad_enabled(gbL_state(L), lua_toboolean(L, 1)));
  return 1;
}

/* detach: a new tensor sharing storage, outside the graph */
static int m_detach(lua_State *L) {
  gb_state *S = gbL_state(L);
  gb_tensor *a = gb_tensor_alias(S, gbL_check_tensor(L, 1));
  if (!a) return luaL_error(L, "detach: out of memory");
  gbL_push_tensor(L, a);
  return 1;
}

static int m_requires_grad_(lua_State *L) {
  gb_tensor *t = gbL_check_tensor(L, 1);
  bool on = lua_isnone(L, 2) ? true : lua_toboolean(L, 2);
  if (t->grad_fn)
    return luaL_error(L, "requires_grad_: only leaf tensors can change requires_grad (use "
                         ":detach() first)");
  if (on && t->dtype != GB_F32)
    return luaL_error(L, "requires_grad_: only float32 tensors can require grad, got %s",
                      gb_dtype_name(t->dtype));
  t->requires_grad = on;
  lua_settop(L, 1);
  return 1;
}

/* gb.set_detect_anomaly(bool): NaN/Inf checks after every op and backward rule */
static int l_set_detect_anomaly(lua_State *L) {
  gb_set_detect_anomaly(gbL_state(L), lua_toboolean(L, 1));
  return 0;
}

static int l_is_anomaly_enabled(lua_State *L) {
  lua_pushboolean(L, gbL_state(L)->detect_anomaly);
  return 1;
}

static void set_int(lua_State *L, const char *k, int64_t v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

/* gb.memory_stats([device]) -> {allocated, peak, reserved, count} in bytes */
static int l_memory_stats(lua_State *L) {
  gb_state *S = gbL_state(L);
  gb_device dev = GB_CPU;
  const char *n = luaL_optstring(L, 1, "cpu");
  if (!gb_device_parse(n, &dev)) return luaL_error(L, "memory_stats: unknown device '%s'", n);
  gb_memstats m;
  gb_state_memstats(S, dev, &m);
  lua_createtable(L, 0, 4);
  set_int(L, "allocated", m.allocated);
  set_int(L, "peak", m.peak);
  set_int(L, "reserved", m.reserved);
  set_int(L, "count", m.nalloc);
  return 1;
}

static int l_release_cache(lua_State *L) {
  gb_alloc_release_cache(gbL_state(L));
  return 0;
}

/* monotonic wall clock in seconds */
static int l_time(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9);
  return 1;
}

static int l_build_info(lua_State *L) {
#ifdef GB_BUILT_CUDA_PLUGIN
  const char *cuda = "CUDA plugin built";
#else
  const char *cuda = "CUDA plugin not built";
#endif
  lua_pushfstring(L, "gpubp %s (%s; Lua %s.%s; BLAS %s)", GB_VERSION, cuda, LUA_VERSION_MAJOR,
                  LUA_VERSION_MINOR, gb_blas_name());
  return 1;
}

static int l_is_tensor(lua_State *L) {
  lua_pushboolean(L, gbL_to_tensor(L, 1) != NULL);
  return 1;
}

static const luaL_Reg fns[] = {
    {"no_grad", l_no_grad},
    {"enable_grad", l_enable_grad},
    {"is_grad_enabled", l_is_grad_enabled},
    {"set_grad_enabled", l_set_grad_enabled},
    {"set_detect_anomaly", l_set_detect_anomaly},
    {"is_anomaly_enabled", l_is_anomaly_enabled},
    {"memory_stats", l_memory_stats},
    {"release_cache", l_release_cache},
    {"time", l_time},
    {"build_info", l_build_info},
    {"is_tensor", l_is_tensor},
    {NULL, NULL},
};

static const luaL_Reg methods[] = {
    {"backward", m_backward},
    {"detach", m_detach},
    {"requires_grad_", m_requires_grad_},
    {NULL, NULL},
};

void gbL_open_autograd(lua_State *L) {
  luaL_setfuncs(L, fns, 0);
  gbL_add_methods(L, methods);
  lua_pushstring(L, GB_VERSION);
  lua_setfield(L, -2, "version");
}
