/* gpubp_api.c — the C embedding API declared in gpubp.h (part of libgpubp). A runtime is a
 * Lua state with `require 'gpubp'` loaded. Every entry point runs its Lua work inside
 * lua_pcall, so no Lua error escapes to the host; failures become a status and a message
 * kept on the runtime. Tensors are copied in/out through the core (gb_tensor.h, lgb.h). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "gb_backend.h"
#include "gb_luaheap.h"
#include "gb_tensor.h"
#include "gpubp.h"
#include "lgb.h"

struct gpubp_runtime {
  lua_State *L;
  gb_luaheap *heap;        /* the Lua state's small-block allocator */
  bool warn_on, warn_cont; /* Lua warnings: switched by "@on"/"@off" (the -W option) */
  int modref;              /* registry ref to the gpubp module table */
  char *err;               /* last error message (malloc'd), or NULL */
};

/* What a protected body reports besides "it raised": the status to return for its error.
 * Bodies set `status` just before the step that may fail in a specific way. */
typedef struct api_call {
  gpubp_runtime *rt;
  int status;
  /* arguments, used by the bodies that need them */
  const gpubp_options *opt;
  const char *name;
  const float *data;
  int ndim;
  const int64_t *shape;
  int idx;
  float *buf;
  size_t cap;
  int *ondim;
  int64_t *oshape;
  size_t *onumel;
  double *onum;
} api_call;

static const char out_of_memory[] = "not enough memory";

static void set_err(gpubp_runtime *rt, const char *msg) {
  free(rt->err);
  rt->err = NULL;
  if (msg == NULL) return;
  size_t n = strlen(msg);
  rt->err = malloc(n + 1);
  if (rt->err) memcpy(rt->err, msg, n + 1);
}

static int lua_status_to_api(int st) {
  switch (st) {
  case LUA_OK: return GPUBP_OK;
  case LUA_ERRSYNTAX: return GPUBP_ERRSYNTAX;
  case LUA_ERRMEM: return GPUBP_ERRMEM;
  case LUA_ERRFILE: return GPUBP_ERRFILE;
  default: return GPUBP_ERRRUN;
  }
}

/* Takes the error message on top of the stack into rt->err and pops it. */
static void take_error(gpubp_runtime *rt) {
  lua_State *L = rt->L;
  const char *msg = lua_tostring(L, -1);
  set_err(rt, msg ? msg : "(error object is not a string)");
  lua_pop(L, 1);
}

static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Runs body(L) with the api_call as its only argument, protected; maps the outcome. */
static int run_protected(api_call *c, lua_CFunction body, int nresults) {
  lua_State *L = c->rt->L;
  if (!lua_checkstack(L, 8)) {
    set_err(c->rt, "Lua stack overflow");
    return GPUBP_ERRMEM;
  }
  c->status = GPUBP_ERRRUN;
  lua_pushcfunction(L, body);
  lua_pushlightuserdata(L, c);
  int st = lua_pcall(L, 1, nresults, 0);
  if (st == LUA_OK) {
    set_err(c->rt, NULL);
    return GPUBP_OK;
  }
  take_error(c->rt);
  return st == LUA_ERRMEM ? GPUBP_ERRMEM : c->status;
}

/* Fail from inside a body with a specific status. */
static int fail(lua_State *L, api_call *c, int status, const char *fmt, const char *arg) {
  c->status = status;
  return luaL_error(L, fmt, arg);
}

static void push_module(api_call *c) {
  lua_rawgeti(c->rt->L, LUA_REGISTRYINDEX, c->rt->modref);
}

/* ---- open / close ------------------------------------------------------------------------ */

void gpubp_options_init(gpubp_options *opt) {
  if (opt) memset(opt, 0, sizeof *opt);
}

static int open_body(lua_State *L) {
  api_call *c = lua_touserdata(L, 1);
  const gpubp_options *o = c->opt;
  luaL_openlibs(L);
  c->status = GPUBP_ERRINIT;
  gbL_install(L);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "gpubp");
  lua_call(L, 1, 1);
  if (!lua_istable(L, -1)) luaL_error(L, "require 'gpubp' did not return a table");
  lua_pushvalue(L, -1);
  c->rt->modref = luaL_ref(L, LUA_REGISTRYINDEX);
  if (!o || !o->no_global) {
    lua_pushvalue(L, -1);
    lua_setglobal(L, "gb");
    lua_getfield(L, -1, "help"); /* help(x) for scripts and the REPL (lua/gpubp/help.lua) */
    lua_setglobal(L, "help");
  }
  if (o && o->device) {
    c->status = GPUBP_ERRDEVICE;
    lua_getfield(L, -1, "set_default_device");
    lua_pushstring(L, o->device);
    lua_call(L, 1, 0);
  }
  if (o && o->seed_set) {
    c->status = GPUBP_ERRRUN;
    lua_getfield(L, -1, "manual_seed");
    lua_pushinteger(L, (lua_Integer)o->seed);
    lua_call(L, 1, 0);
  }
  /* Generational GC, entered once the modules are loaded (they become old at once): a
   * training loop's temporaries die young, and cheap minor collections free them — and the
   * tensor memory behind them — within a few thousand allocations. */
  lua_gc(L, LUA_GCGEN, 0, 0);
  return 0;
}

/* As luaL_newstate's panic: say why; Lua then aborts. Only reachable outside a protected
 * call, which this file never makes. */
static int panic(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  fprintf(stderr, "PANIC: unprotected error in call to Lua API (%s)\n", msg ? msg : "?");
  return 0;
}

/* Lua's warning function, as lauxlib's: off until "@on", pieces joined until tocont is 0 */
static void warnf(void *ud, const char *msg, int tocont) {
  gpubp_runtime *rt = ud;
  if (!rt->warn_cont && *msg == '@') {
    if (strcmp(msg, "@on") == 0) rt->warn_on = true;
    if (strcmp(msg, "@off") == 0) rt->warn_on = false;
    return;
  }
  if (rt->warn_on)
    fprintf(stderr, "%s%s%s", rt->warn_cont ? "" : "Lua warning: ", msg, tocont ? "" : "\n");
  rt->warn_cont = tocont != 0;
}

int gpubp_open(const gpubp_options *opt, gpubp_runtime **out) {
  if (out == NULL) return GPUBP_ERRARG;
  *out = NULL;
  gpubp_runtime *rt = calloc(1, sizeof *rt);
  if (rt == NULL) return GPUBP_ERRMEM;
  rt->modref = LUA_NOREF;
  *out = rt;
  rt->heap = gb_luaheap_new();
  rt->L = rt->heap ? lua_newstate(gb_luaheap_alloc, rt->heap) : NULL;
  if (rt->L) {
    lua_atpanic(rt->L, panic);
    lua_setwarnf(rt->L, warnf, rt);
  }
  if (rt->L == NULL) {
    set_err(rt, "cannot create a Lua state: not enough memory");
    return GPUBP_ERRMEM;
  }
  api_call c = {.rt = rt, .opt = opt};
  int st = run_protected(&c, open_body, 0);
  if (st != GPUBP_OK) rt->modref = LUA_NOREF; /* later calls answer "did not open" */
  return st;
}

int gpubp_close(gpubp_runtime *rt) {
  if (rt == NULL) return GPUBP_OK;
  if (rt->L) lua_close(rt->L);
  gb_luaheap_free(rt->heap);
  free(rt->err);
  free(rt);
  return GPUBP_OK;
}

lua_State *gpubp_lua(gpubp_runtime *rt) {
  return rt ? rt->L : NULL;
}

const char *gpubp_errmsg(const gpubp_runtime *rt) {
  if (rt == NULL) return out_of_memory;
  return rt->err ? rt->err : "";
}

const char *gpubp_status_string(int status) {
  switch (status) {
  case GPUBP_OK: return "ok";
  case GPUBP_ERRRUN: return "runtime error";
  case GPUBP_ERRSYNTAX: return "syntax error";
  case GPUBP_ERRMEM: return "out of memory";
  case GPUBP_ERRFILE: return "file error";
  case GPUBP_ERRARG: return "bad argument";
  case GPUBP_ERRTYPE: return "wrong type";
  case GPUBP_ERRDEVICE: return "device unavailable";
  case GPUBP_ERRINIT: return "gpubp modules not loadable";
  default: return "unknown status";
  }
}

const char *gpubp_version(void) {
  return GB_VERSION;
}

/* Checks the runtime is usable; sets a message if not. */
static int check_rt(gpubp_runtime *rt) {
  if (rt == NULL) return GPUBP_ERRARG;
  if (rt->L == NULL || rt->modref == LUA_NOREF) {
    set_err(rt, "runtime did not open successfully");
    return GPUBP_ERRARG;
  }
  return GPUBP_OK;
}

/* ---- running code -------------------------------------------------------------------------- */

static int run_loaded(gpubp_runtime *rt, int load_status) {
  if (load_status != LUA_OK) {
    take_error(rt);
    return lua_status_to_api(load_status);
  }
  return gpubp_pcall(rt, 0, 0);
}

int gpubp_dofile(gpubp_runtime *rt, const char *path) {
  int st = check_rt(rt);
  if (st != GPUBP_OK) return st;
  return run_loaded(rt, luaL_loadfile(rt->L, path));
}

int gpubp_dostring(gpubp_runtime *rt, const char *code, const char *chunkname) {
  int st = check_rt(rt);
  if (st != GPUBP_OK) return st;
  if (code == NULL) {
    set_err(rt, "gpubp_dostring: code is NULL");
    return GPUBP_ERRARG;
  }
  return run_loaded(rt, luaL_loadbufferx(rt->L, code, strlen(code),
                                         chunkname ? chunkname : "=(gpubp_dostring)", "t"));
}

int gpubp_pcall(gpubp_runtime *rt, int nargs, int nresults) {
  int st = check_rt(rt);
  if (st != GPUBP_OK) return st;
  lua_State *L = rt->L;
  if (nargs < 0 || lua_gettop(L) < nargs + 1) {
    set_err(rt, "gpubp_pcall: not enough values on the stack");
    return GPUBP_ERRARG;
  }
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  st = lua_pcall(L, nargs, nresults, base);
  lua_remove(L, base);
  if (st != LUA_OK) {
    take_error(rt);
    return lua_status_to_api(st);
  }
  set_err(rt, NULL);
  return GPUBP_OK;
}

/* ---- tensors in -------------------------------------------------------------------------- */

/* Moves the tensor on top of the stack to the module's default device when that is not the
 * CPU: gb.get_default_device() if the module has it, else the device of a fresh tensor. */
static void to_default_device(lua_State *L, api_call *c) {
  push_module(c);
  if (lua_getfield(L, -1, "get_default_device") == LUA_TFUNCTION) {
    lua_call(L, 0, 1);
  } else {
    lua_pop(L, 1);
    lua_getfield(L, -1, "zeros");
    lua_pushinteger(L, 1);
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "device");
    lua_remove(L, -2);
  }
  lua_remove(L, -2); /* module */
  const char *dev = lua_tostring(L, -1);
  if (dev == NULL || strcmp(dev, "cpu") == 0) {
    lua_pop(L, 1);
    return;
  }
  lua_getfield(L, -2, "to"); /* t:to(dev) */
  lua_pushvalue(L, -3);
  lua_pushvalue(L, -3);
  lua_call(L, 2, 1);
  lua_replace(L, -3);
  lua_pop(L, 1);
}

static int push_tensor_body(lua_State *L) {
  api_call *c = lua_touserdata(L, 1);
  gb_state *S = gbL_state(L);
  gb_tensor *t = NULL;
  c->status = GPUBP_ERRMEM;
  if (gb_tensor_empty(S, c->ndim, c->shape, GB_F32, GB_CPU, &t) != GB_OK) {
    lua_pushstring(L, gb_state_error(S));
    return lua_error(L);
  }
  if (t->numel > 0) memcpy(gb_tensor_f32(t), c->data, (size_t)t->numel * sizeof(float));
  gbL_push_tensor(L, t);
  c->status = GPUBP_ERRDEVICE;
  to_default_device(L, c);
  if (c->name) {
    lua_setglobal(L, c->name);
    return 0;
  }
  return 1;
}

static int check_shape_arg(gpubp_runtime *rt, const float *data, int ndim, const int64_t *shape) {
  if (ndim < 0 || ndim > GPUBP_MAXDIM || (ndim > 0 && shape == NULL)) {
    set_err(rt, "tensor copy-in: ndim must be 0..8 and shape non-NULL");
    return GPUBP_ERRARG;
  }
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) {
      set_err(rt, "tensor copy-in: negative size in shape");
      return GPUBP_ERRARG;
    }
    n *= shape[i];
  }
  if (n > 0 && data == NULL) {
    set_err(rt, "tensor copy-in: data is NULL");
    return GPUBP_ERRARG;
  }
  return GPUBP_OK;
}

int gpubp_set_tensor(gpubp_runtime *rt, const char *name, const float *data, int ndim,
                     const int64_t *shape) {
  int st = check_rt(rt);
  if (st == GPUBP_OK && name == NULL) {
    set_err(rt, "gpubp_set_tensor: name is NULL");
    st = GPUBP_ERRARG;
  }
  if (st == GPUBP_OK) st = check_shape_arg(rt, data, ndim, shape);
  if (st != GPUBP_OK) return st;
  api_call c = {.rt = rt, .name = name, .data = data, .ndim = ndim, .shape = shape};
  return run_protected(&c, push_tensor_body, 0);
}

int gpubp_push_tensor(gpubp_runtime *rt, const float *data, int ndim, const int64_t *shape) {
  int st = check_rt(rt);
  if (st == GPUBP_OK) st = check_shape_arg(rt, data, ndim, shape);
  if (st != GPUBP_OK) return st;
  api_call c = {.rt = rt, .data = data, .ndim = ndim, .shape = shape};
  return run_protected(&c, push_tensor_body, 1);
}

/* ---- tensors out ------------------------------------------------------------------------- */

/* Body for copy-out: the value is argument 2. */
static int read_tensor_body(lua_State *L) {
  api_call *c = lua_touserdata(L, 1);
  gb_tensor *t = gbL_to_tensor(L, 2);
  if (t == NULL)
    return fail(L, c, GPUBP_ERRTYPE, "value is a %s, not a tensor", luaL_typename(L, 2));
  *c->ondim = t->ndim;
  for (int i = 0; i < t->ndim; i++)
    c->oshape[i] = t->shape[i];
  if (c->onumel) *c->onumel = (size_t)t->numel;
  if (c->buf == NULL) return 0;
  if (c->cap < (size_t)t->numel) {
    c->status = GPUBP_ERRARG;
    return luaL_error(L, "buffer too small: tensor has %I elements, buffer holds %I",
                      (lua_Integer)t->numel, (lua_Integer)c->cap);
  }
  if (t->device != GB_CPU) { /* t = t:cpu() */
    lua_getfield(L, 2, "cpu");
    lua_pushvalue(L, 2);
    lua_call(L, 1, 1);
    t = gbL_to_tensor(L, -1);
    if (t == NULL) luaL_error(L, "t:cpu() did not return a tensor");
  }
  if (t->dtype == GB_F32 && gb_tensor_is_contiguous(t)) {
    if (t->numel > 0) memcpy(c->buf, gb_tensor_f32(t), (size_t)t->numel * sizeof(float));
  } else {
    for (int64_t i = 0; i < t->numel; i++)
      c->buf[i] = (float)gb_tensor_get_flat(t, i);
  }
  return 0;
}

static int global_body(lua_State *L) {
  api_call *c = lua_touserdata(L, 1);
  lua_settop(L, 1);
  lua_getglobal(L, c->name);
  return read_tensor_body(L);
}

static int check_out_args(gpubp_runtime *rt, int *ndim, int64_t *shape) {
  if (ndim == NULL || shape == NULL) {
    set_err(rt, "tensor copy-out: ndim and shape must not be NULL");
    return GPUBP_ERRARG;
  }
  return GPUBP_OK;
}

int gpubp_get_tensor(gpubp_runtime *rt, const char *name, float *buf, size_t cap, int *ndim,
                     int64_t *shape, size_t *numel) {
  int st = check_rt(rt);
  if (st == GPUBP_OK && name == NULL) {
    set_err(rt, "gpubp_get_tensor: name is NULL");
    st = GPUBP_ERRARG;
  }
  if (st == GPUBP_OK) st = check_out_args(rt, ndim, shape);
  if (st != GPUBP_OK) return st;
  api_call c = {.rt = rt,
                .name = name,
                .buf = buf,
                .cap = cap,
                .ondim = ndim,
                .oshape = shape,
                .onumel = numel};
  return run_protected(&c, global_body, 0);
}

int gpubp_to_tensor(gpubp_runtime *rt, int idx, float *buf, size_t cap, int *ndim, int64_t *shape,
                    size_t *numel) {
  int st = check_rt(rt);
  if (st == GPUBP_OK) st = check_out_args(rt, ndim, shape);
  if (st != GPUBP_OK) return st;
  lua_State *L = rt->L;
  int top = lua_gettop(L);
  if (idx < 0 && idx > LUA_REGISTRYINDEX) idx = top + idx + 1;
  if (idx < 1 || idx > top) {
    set_err(rt, "gpubp_to_tensor: stack index out of range");
    return GPUBP_ERRARG;
  }
  api_call c = {.rt = rt, .buf = buf, .cap = cap, .ondim = ndim, .oshape = shape, .onumel = numel};
  if (!lua_checkstack(L, 8)) return GPUBP_ERRMEM;
  c.status = GPUBP_ERRRUN;
  lua_pushcfunction(L, read_tensor_body);
  lua_pushlightuserdata(L, &c);
  lua_pushvalue(L, idx);
  int ls = lua_pcall(L, 2, 0, 0);
  if (ls == LUA_OK) {
    set_err(rt, NULL);
    return GPUBP_OK;
  }
  take_error(rt);
  return ls == LUA_ERRMEM ? GPUBP_ERRMEM : c.status;
}

static int number_body(lua_State *L) {
  api_call *c = lua_touserdata(L, 1);
  lua_getglobal(L, c->name);
  if (lua_type(L, -1) == LUA_TNUMBER) {
    *c->onum = lua_tonumber(L, -1);
    return 0;
  }
  gb_tensor *t = gbL_to_tensor(L, -1);
  if (t == NULL || t->numel != 1)
    return fail(L, c, GPUBP_ERRTYPE, "global '%s' is not a number or a one-element tensor",
                c->name);
  lua_getfield(L, -1, "item");
  lua_pushvalue(L, -2);
  lua_call(L, 1, 1);
  *c->onum = lua_tonumber(L, -1);
  return 0;
}

int gpubp_get_number(gpubp_runtime *rt, const char *name, double *out) {
  int st = check_rt(rt);
  if (st == GPUBP_OK && (name == NULL || out == NULL)) {
    set_err(rt, "gpubp_get_number: name and out must not be NULL");
    st = GPUBP_ERRARG;
  }
  if (st != GPUBP_OK) return st;
  api_call c = {.rt = rt, .name = name, .onum = out};
  return run_protected(&c, number_body, 0);
}

/* ---- devices ------------------------------------------------------------------------------ */

int gpubp_device_available(const char *device, const char **why) {
  static _Thread_local char msg[GB_ERRLEN];
  gb_device d;
  if (!device || !gb_device_parse(device, &d)) {
    if (why) *why = "unknown device (expected cpu, cuda or cuda:N)";
    return GPUBP_ERRARG;
  }
  if (d == GB_CPU) return GPUBP_OK;
  const char *reason = NULL;
  int n = gb_device_count(gb_device_kind_of(d), &reason);
  if (n > gb_device_index(d)) return GPUBP_OK;
  if (n == 0)
    snprintf(msg, sizeof msg, "%s unavailable: %s", gb_kind_name(gb_device_kind_of(d)), reason);
  else
    snprintf(msg, sizeof msg, "%s unavailable: this process sees %d device%s of its kind", device,
             n, n == 1 ? "" : "s");
  if (why) *why = msg;
  return GPUBP_ERRDEVICE;
}

static int set_device_body(lua_State *L) {
  api_call *c = lua_touserdata(L, 1);
  push_module(c);
  lua_getfield(L, -1, "set_default_device");
  lua_pushstring(L, c->name);
  c->status = GPUBP_ERRDEVICE;
  lua_call(L, 1, 0);
  return 0;
}

int gpubp_set_device(gpubp_runtime *rt, const char *device) {
  if (!rt) return GPUBP_ERRARG;
  if (!device) {
    set_err(rt, "gpubp_set_device: device is NULL");
    return GPUBP_ERRARG;
  }
  api_call c = {.rt = rt, .name = device};
  return run_protected(&c, set_device_body, 0);
}
