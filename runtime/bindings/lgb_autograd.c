/* lgb_autograd.c — autograd from Lua (backward, no_grad/enable_grad scopes, detach,
 * requires_grad_) and runtime introspection (memory_stats, time, build_info, isatty). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gb_blas.h"
#include "gb_fn.h"
#include "gb_state.h"
#include "lgb.h"

/* ---- gradient hooks: registry[HOOKS_KEY][id] is the list of functions of hook id ------ */
#define HOOKS_KEY "gpubp.grad_hooks"

typedef struct hook_call {
  gb_state *S;
  uint32_t id;
  gb_tensor **grad;
} hook_call;

/* What a hook returns to take the gradient itself (gb._grad_taken, private): the tape then
 * neither adds it to .grad nor passes it on. DistributedDataParallel accumulates a
 * parameter's gradient straight into its bucket this way. */
static char grad_taken;

/* Protected body of the tape's callback: calls each function with the gradient; a tensor
 * returned replaces it (same shape, dtype and device), nil keeps it, gb._grad_taken drops
 * it (the later functions of the list are not called). */
static int hook_body(lua_State *L) {
  hook_call *c = lua_touserdata(L, 1);
  if (lua_getfield(L, LUA_REGISTRYINDEX, HOOKS_KEY) != LUA_TTABLE) return 0;
  if (lua_rawgeti(L, -1, (lua_Integer)c->id) != LUA_TTABLE) return 0;
  int list = lua_gettop(L);
  lua_Integer n = (lua_Integer)lua_rawlen(L, list);
  for (lua_Integer i = 1; i <= n; i++) {
    if (lua_rawgeti(L, list, i) != LUA_TFUNCTION) { /* false: a removed hook */
      lua_pop(L, 1);
      continue;
    }
    gb_tensor_retain(*c->grad);
    gbL_push_tensor(L, *c->grad);
    lua_call(L, 1, 1);
    if (lua_touserdata(L, -1) == &grad_taken && lua_islightuserdata(L, -1)) {
      gb_tensor_release(c->S, *c->grad);
      *c->grad = NULL;
      return 0;
    }
    gb_tensor *r = gbL_to_tensor(L, -1);
    if (r) {
      gb_tensor *g = *c->grad;
      if (!gb_shape_equal(r, g) || r->dtype != g->dtype || r->device != g->device) {
        char s0[GB_SHAPE_STRLEN], s1[GB_SHAPE_STRLEN];
        /* no position: backward reports this message inside its own */
        lua_pushfstring(L, "a gradient hook returned a %s %s tensor for a %s %s gradient",
                        gb_shape_str(r, s0), gb_dtype_name(r->dtype), gb_shape_str(g, s1),
                        gb_dtype_name(g->dtype));
        return lua_error(L);
      }
      gb_tensor_retain(r);
      gb_tensor_release(c->S, g);
      *c->grad = r;
    } else if (!lua_isnil(L, -1)) {
      return luaL_error(L, "a gradient hook must return nil or a tensor, got %s",
                        luaL_typename(L, -1));
    }
    lua_pop(L, 1);
  }
  return 0;
}

static gb_status lua_grad_hook(gb_state *S, void *ud, uint32_t id, gb_tensor **grad) {
  lua_State *L = ud;
  hook_call c = {S, id, grad};
  int top = lua_gettop(L);
  lua_pushcfunction(L, hook_body);
  lua_pushlightuserdata(L, &c);
  gb_status st = GB_OK;
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    st = gb_errorf(S, GB_EARG, "backward: %s", msg ? msg : "a gradient hook raised an error");
  }
  lua_settop(L, top);
  return st;
}

/* Forget the functions of hooks whose tensor or node is gone. */
static void drop_dead_hooks(lua_State *L, gb_state *S) {
  uint32_t ids[64];
  int n;
  if (!S->ndead_hooks) return;
  luaL_getsubtable(L, LUA_REGISTRYINDEX, HOOKS_KEY);
  while ((n = gb_hooks_take_dead(S, ids, 64)) > 0)
    for (int i = 0; i < n; i++) {
      lua_pushnil(L);
      lua_rawseti(L, -2, (lua_Integer)ids[i]);
    }
  lua_pop(L, 1);
}

/* gb._hook_id(t) -> the hook id of t (its list in gb._grad_hooks()) */
static int l_hook_id(lua_State *L) {
  gb_state *S = gbL_state(L);
  gb_tensor *t = gbL_check_tensor(L, 1);
  drop_dead_hooks(L, S);
  uint32_t id = gb_hooks_attach(S, t);
  if (!id)
    return luaL_error(L, "register_hook: the tensor does not require grad, so no gradient "
                         "will flow to it");
  lua_pushinteger(L, (lua_Integer)id);
  return 1;
}

/* gb._grad_hooks() -> the table {[id] = {functions...}} the tape's callback reads */
static int l_grad_hooks(lua_State *L) {
  drop_dead_hooks(L, gbL_state(L));
  luaL_getsubtable(L, LUA_REGISTRYINDEX, HOOKS_KEY);
  return 1;
}

/* ---- callbacks after each backward: registry[POST_KEY] is a list of functions ------------ */
#define POST_KEY "gpubp.post_backward"

/* Calls each function of gb._post_backward() once a backward has finished (DDP waits for its
 * gradient all-reduces there); an error propagates as backward's. One lookup when empty. */
static void run_post_backward(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, POST_KEY) != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  int list = lua_gettop(L);
  lua_Integer n = (lua_Integer)lua_rawlen(L, list);
  for (lua_Integer i = 1; i <= n; i++) {
    if (lua_rawgeti(L, list, i) == LUA_TFUNCTION)
      lua_call(L, 0, 0);
    else
      lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* gb._post_backward() -> the list of functions run after every backward (created empty) */
static int l_post_backward(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, POST_KEY) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, POST_KEY);
  }
  return 1;
}

/* The options of backward, read before any tensor is taken. */
static bool backward_retain(lua_State *L, int oi) {
  int ty = lua_type(L, oi);
  if (ty == LUA_TNONE || ty == LUA_TNIL) return false;
  if (ty == LUA_TBOOLEAN) return lua_toboolean(L, oi);
  if (ty != LUA_TTABLE)
    luaL_error(L, "backward: options must be a table ({retain_graph=bool}), got %s",
               luaL_typename(L, oi));
  lua_pushnil(L);
  while (lua_next(L, oi)) { /* the keys given (raw): each must be a known option */
    if (lua_type(L, -2) != LUA_TSTRING || strcmp(lua_tostring(L, -2), "retain_graph") != 0) {
      if (lua_type(L, -2) == LUA_TSTRING)
        luaL_error(L, "backward: unknown option '%s'", lua_tostring(L, -2));
      luaL_error(L, "backward: unknown option (a %s key)", luaL_typename(L, -2));
    }
    lua_pop(L, 1);
  }
  lua_getfield(L, oi, "retain_graph"); /* may run an __index: no tensor is taken yet */
  bool retain = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return retain;
}

/* The graph-growth warning (gb_state_take_growth_warning), once per runtime, on stderr at
 * the user's backward line: a plain print, as Lua's warnings are off unless asked for, and
 * the mistake it reports fills memory silently. Documented in docs/reliability.md. */
static void warn_growth(lua_State *L, gb_state *S) {
  int64_t nodes;
  int steps;
  if (!gb_state_take_growth_warning(S, &nodes, &steps)) return;
  gbL_where(L);
  fprintf(stderr,
          "%swarning: the autograd graph grew at each of the last %d backward calls and now "
          "holds %lld nodes that backward never released: a tensor that requires grad is "
          "carried from step to step (as in `total = total + loss`), so every step's graph "
          "stays in memory. Accumulate loss:item() or loss:detach() instead, or do the "
          "bookkeeping under gb.no_grad (this warning is shown once)\n",
          lua_tostring(L, -1), steps, (long long)nodes);
  fflush(stderr);
  lua_pop(L, 1);
}

/* t:backward([gradient] [, {retain_graph=bool}]), or t:backward({retain_graph=bool}). The
 * options are read before the tensor pointers are taken. Gradient hooks run Lua code
 * during backward, so t and grad are held (retained) for its duration: a hook that closes
 * them drops only their Lua boxes. */
static int m_backward(lua_State *L) {
  gb_state *S = gbL_enter(L);
  int ty = lua_type(L, 2), oi = 3;
  if (ty == LUA_TTABLE && lua_isnone(L, 3))
    oi = 2; /* the options alone */
  else if (ty != LUA_TNONE && ty != LUA_TNIL && ty != LUA_TUSERDATA)
    return luaL_error(L, "backward: the gradient (argument 1) must be a tensor or nil, got %s",
                      luaL_typename(L, 2));
  bool retain = backward_retain(L, oi);
  gb_tensor *t = gbL_check_tensor(L, 1);
  gb_tensor *g = oi == 3 && !lua_isnoneornil(L, 2) ? gbL_check_tensor(L, 2) : NULL;
  gb_tensor_retain(t);
  if (g) gb_tensor_retain(g);
  gb_grad_hook_fn old_fn = S->hook_fn;
  void *old_ud = S->hook_ud;
  gb_hooks_set_callback(S, lua_grad_hook, L);
  gb_status st = gb_backward(S, t, g, retain);
  gb_hooks_set_callback(S, old_fn, old_ud);
  gb_tensor_release(S, g);
  gb_tensor_release(S, t);
  if (st) gbL_raise(L, S);
  drop_dead_hooks(L, S);
  run_post_backward(L);
  warn_growth(L, S);
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
  gb_state *S = gbL_enter(L);
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
  if (on && !gb_dtype_is_float(t->dtype))
    return luaL_error(L,
                      "requires_grad_: only float32 and float64 tensors can require grad, got %s",
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
  gb_state *S = gbL_enter(L);
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

/* gb.isatty(fd | file): whether a file descriptor or an io file handle is a terminal */
static int l_isatty(lua_State *L) {
  int fd = -1;
  luaL_Stream *st = luaL_testudata(L, 1, LUA_FILEHANDLE);
  if (st) {
    if (!st->f || !st->closef) return luaL_error(L, "isatty: the file is closed");
    fd = fileno(st->f);
  } else {
    fd = (int)luaL_checkinteger(L, 1);
  }
  lua_pushboolean(L, fd >= 0 && isatty(fd));
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
    {"isatty", l_isatty},
    {"is_tensor", l_is_tensor},
    {"_hook_id", l_hook_id},
    {"_grad_hooks", l_grad_hooks},
    {"_post_backward", l_post_backward},
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
  lua_pushlightuserdata(L, &grad_taken);
  lua_setfield(L, -2, "_grad_taken");
}
