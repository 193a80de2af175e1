/* lgb_module.c — the `gpubp.core` Lua module: owns the gb_state of its Lua state (freed
 * with it), wires the allocator's memory-pressure hook to Lua's GC, gathers the functions of
 * the other lgb_*.c files, and makes `require 'gpubp'` find the Lua side (lua/gpubp). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gb_cpu.h"
#include "gb_state.h"
#include "lgb.h"

static const char STATE_KEY = 'S'; /* registry key: its address is unique */

/* gbL_state runs several times per op, and the registry lookup costs ~100 instructions; each
 * OS thread remembers the last main thread it resolved. Only main threads are remembered:
 * they die only with their lua_State, whose closing (state_gc) bumps state_generation and so
 * invalidates every thread's entry before the address can be reused. (A coroutine's address
 * can be reused by another runtime's coroutine without any state closing, so coroutines
 * always look up.) */
static _Atomic unsigned long long state_generation;
static _Thread_local struct {
  lua_State *main;
  gb_state *S;
  unsigned long long generation;
} last_state;

static int state_gc(lua_State *L) {
  gb_state **box = lua_touserdata(L, 1);
  atomic_fetch_add(&state_generation, 1);
  if (*box) gb_state_free(*box);
  *box = NULL;
  return 0;
}

/* The allocator asks for a collection when an allocation fails: tensors that Lua no longer
 * references are only freed when their userdata is collected. (Mere pressure is handled at
 * the bindings' safe points, gbL_enter.) A finalizer that runs here can close tensors the
 * failing op holds: closing is deferred (t_close), so they stay valid until the op ends. */
static void run_full_gc(void *ud) {
  lua_gc((lua_State *)ud, LUA_GCCOLLECT);
}

gb_state *gbL_state(lua_State *L) {
  if (L == last_state.main && last_state.generation == atomic_load(&state_generation))
    return last_state.S;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &STATE_KEY);
  gb_state **box = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (box && *box) {
    unsigned long long generation = atomic_load(&state_generation);
    if (lua_pushthread(L)) /* L is its state's main thread */
      last_state.main = L, last_state.S = *box, last_state.generation = generation;
    lua_pop(L, 1);
    return *box;
  }
  box = lua_newuserdatauv(L, sizeof *box, 0);
  gb_cpu_backend_register();
  *box = gb_state_new();
  if (!*box) luaL_error(L, "gpubp: out of memory creating the runtime");
  lua_newtable(L);
  lua_pushcfunction(L, state_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &STATE_KEY);
  lua_State *main;
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  main = lua_tothread(L, -1);
  lua_pop(L, 1);
  gb_state_set_gc_hook(*box, run_full_gc, main);
  return *box;
}

gb_state *gbL_enter(lua_State *L) {
  gb_state *S = gbL_state(L);
  gb_gc_request want = gb_state_take_gc_request(S);
  if (want) {
    S->in_gc = true;
    if (want == GB_GC_FULL)
      lua_gc(L, LUA_GCCOLLECT);
    else
      lua_gc(L, LUA_GCSTEP, 0);
    S->in_gc = false;
    if (S->ndeferred) gb_state_release_deferred(S);
    gb_state_gc_done(S, want);
  }
  if (S->ndeferred) gb_state_release_deferred(S);
  return S;
}

void gbL_where(lua_State *L) {
  size_t n = 0;
  lua_getfield(L, LUA_REGISTRYINDEX, GBL_LIB_SOURCE_KEY);
  const char *lib = lua_tolstring(L, -1, &n);
  lua_Debug ar;
  for (int level = 1; lua_getstack(L, level, &ar); level++) {
    if (!lua_getinfo(L, "Sl", &ar) || ar.currentline <= 0) continue; /* C: no line */
    if (lib != NULL && n > 0 && strncmp(ar.source, lib, n) == 0) continue;
    lua_pop(L, 1);
    lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
    return;
  }
  lua_pop(L, 1);
  lua_pushliteral(L, "");
}

int gbL_error(lua_State *L, const char *fmt, ...) {
  va_list ap;
  gbL_where(L);
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_concat(L, 2);
  return lua_error(L);
}

int gbL_raise(lua_State *L, gb_state *S) {
  if (S->limits && atomic_load_explicit(&S->limits->stop, memory_order_relaxed)) {
    gbL_host *h = gbL_host_peek(L); /* a spent budget: the host makes it stick */
    if (h && h->on_stop) h->on_stop(L, h->on_stop_ud);
  }
  gbL_where(L);
  lua_pushstring(L, gb_state_error(S));
  lua_concat(L, 2);
  return lua_error(L);
}

/* Directory holding lua/gpubp: GB_INSTALL_LUA_REL below an ancestor of the running binary,
 * library or Lua module (prefix/bin, prefix/lib[/<multiarch>], prefix/lib[/<multiarch>]/lua/
 * 5.4/gpubp), else the source tree this build came from (a development build runs from there
 * with no install step). */
static const char *lua_dir(char *buf, size_t cap) {
  Dl_info info;
  char path[PATH_MAX];
  if (dladdr((void *)&lua_dir, &info) && info.dli_fname && realpath(info.dli_fname, path)) {
    char *dir = dirname(path);
    for (int up = 1; up <= 6; up++) {
      dir = dirname(dir);
      char probe[PATH_MAX + 64];
      snprintf(probe, sizeof probe, "%s/%s/gpubp/init.lua", dir, GB_INSTALL_LUA_REL);
      if (access(probe, R_OK) == 0) {
        snprintf(buf, cap, "%s/%s", dir, GB_INSTALL_LUA_REL);
        return buf;
      }
      if (strcmp(dir, "/") == 0) break;
    }
  }
  snprintf(buf, cap, "%s", GB_SOURCE_LUA_DIR);
  return buf;
}

void gbL_install(lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_gpubp_core);
  lua_setfield(L, -2, "gpubp.core");
  lua_pop(L, 1);
  char dir[PATH_MAX];
  lua_dir(dir, sizeof dir);
  lua_getglobal(L, "package");
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", dir, dir, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* `require 'gpubp'` answered by this shared object (build/gpubp.so, a link to gpubp/core.so),
 * for a host whose package.path does not reach the Lua side: make it findable as
 * gbL_install does, then run gpubp/init.lua and return what it returns. */
int luaopen_gpubp(lua_State *L) {
  gbL_install(L);
  char dir[PATH_MAX], init[PATH_MAX + 32];
  snprintf(init, sizeof init, "%s/gpubp/init.lua", lua_dir(dir, sizeof dir));
  if (luaL_loadfile(L, init) != LUA_OK) return lua_error(L);
  lua_pushliteral(L, "gpubp");
  lua_pushstring(L, init);
  lua_call(L, 2, 1);
  return 1;
}

/* Opening the module loads no backend: the default device is decided when first needed
 * (gb_state_default_device), so a script that sets cpu never initialises CUDA. */
int luaopen_gpubp_core(lua_State *L) {
  (void)gbL_state(L);
  lua_newtable(L);
  gbL_open_tensor(L);
  gbL_open_create(L);
  gbL_open_math(L);
  gbL_open_nn(L);
  gbL_open_autograd(L);
  gbL_open_io(L);
  gbL_open_optim(L);
  gbL_open_graph(L);
  gbL_open_cuda(L);
  gbL_open_host(L);
  gbL_open_dist(L);
  gbL_open_shape(L);
  gbL_open_data(L);
  gbL_open_rnn(L);
  gbL_open_attn(L);
  return 1;
}
