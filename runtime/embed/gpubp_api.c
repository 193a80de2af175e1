/* gpubp_api.c — the C embedding API declared in gpubp.h (part of libgpubp). A runtime is a
 * Lua state with `require 'gpubp'` loaded. Every entry point runs its Lua work inside
 * lua_pcall, so no Lua error escapes to the host; failures become a status and a message
 * kept on the runtime. Tensors are copied in/out through the core (gb_tensor.h, lgb.h). */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "gb_backend.h"
#include "gb_limits.h"
#include "gb_luaheap.h"
#include "gb_state.h"
#include "gb_tensor.h"
#include "gpubp.h"
#include "gpubp_guard.h"
#include "gpubp_sandbox.h"
#include "lgb.h"

#ifdef GB_HAVE_CUDA
#include "gb_cuda.h"
#endif

/* Lua instructions between two budget checks of the count hook. */
#define HOOK_COUNT 1000

struct gpubp_runtime {
  lua_State *L;
  gb_luaheap *heap;        /* the Lua state's small-block allocator */
  bool warn_on, warn_cont; /* Lua warnings: switched by "@on"/"@off" (the -W option) */
  int modref;              /* registry ref to the gpubp module table */
  bool allow_bytecode;     /* gpubp_options.allow_bytecode */
  char *err;               /* last error message (malloc'd), or NULL */
  gb_state *S;             /* the module's core state (set once open succeeded) */
  gb_limits lim;           /* budgets and the stop flag, shared with the core and the heap */
  gpubp_budget budget;
  int64_t instructions; /* Lua instructions counted by the hook in this top-level call */
  bool instr_spent;     /* the instruction budget ran out in this call */
  int depth;            /* nesting of API calls: budgets and the stop flag reset at 0 */
  bool sandboxed, interrupt_sets_hook;
  gb_sandbox sandbox;
};

/* What a protected body reports besides "it raised": the status to return for its error.
 * Bodies set `status` just before the step that may fail in a specific way. */
typedef struct api_call {
  gpubp_runtime *rt;
  int status;
  /* arguments, used by the bodies that need them */
  const gpubp_options *opt;
  const char *name;
  const void *data;
  gb_dtype dtype;
  int ndim;
  const int64_t *shape;
  int idx;
  void *obuf;
  /* gpubp_wrap_tensor */
  void *wdata;
  gb_device device;
  const int64_t *strides;
  gpubp_release_fn release;
  void *release_ud;
  /* gpubp_register, gpubp_set_metrics_hook */
  gpubp_cfunction hostfn;
  gpubp_metric_fn metric;
  void *hostud;
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

/* ---- budgets and interruption --------------------------------------------------------- */

static gpubp_runtime *runtime_of(lua_State *L) {
  return *(gpubp_runtime **)lua_getextraspace(L);
}

/* The count hook (installed while a time or instruction budget is set, or set by
 * gpubp_interrupt with interrupt_sets_hook): raises the budget's or the interrupt's error. */
static void limit_hook(lua_State *L, lua_Debug *ar);

static void install_hook(gpubp_runtime *rt) {
  if (rt->budget.instructions > 0 || rt->budget.seconds > 0)
    lua_sethook(rt->L, limit_hook, LUA_MASKCOUNT, HOOK_COUNT);
  else if (lua_gethook(rt->L) == limit_hook)
    lua_sethook(rt->L, NULL, 0, 0);
}

/* Raises msg at the line running in L (a hook has no frame of its own: level 0). */
static void hook_error(lua_State *L, const char *msg) {
  luaL_where(L, 0);
  lua_pushstring(L, msg);
  lua_concat(L, 2);
  lua_error(L);
}

/* A spent budget must end the call even if the script catches the error: from now on the
 * hook runs at every instruction of this thread and the main one, so the first instruction
 * after any pcall raises again. */
static void make_stick(lua_State *L, void *ud) {
  gpubp_runtime *rt = ud;
  if (!(atomic_load_explicit(&rt->lim.stop, memory_order_relaxed) & GB_STOP_TIME) &&
      !rt->instr_spent)
    return;
  lua_sethook(L, limit_hook, LUA_MASKCOUNT, 1);
  if (L != rt->L) lua_sethook(rt->L, limit_hook, LUA_MASKCOUNT, 1);
}

static void limit_hook(lua_State *L, lua_Debug *ar) {
  gpubp_runtime *rt = runtime_of(L);
  char msg[96];
  if (ar->event == LUA_HOOKCALL || ar->event == LUA_HOOKRET || ar->event == LUA_HOOKTAILCALL) {
    lua_getinfo(L, "S", ar);
    if (ar->what[0] == 'C') return; /* e.g. the message handler: raise in Lua code only */
  }
  if (ar->event == LUA_HOOKCOUNT) rt->instructions += lua_gethookcount(L);
  int stop = atomic_load_explicit(&rt->lim.stop, memory_order_relaxed);
  if (!stop && rt->lim.deadline > 0) stop = gb_limits_check_time(&rt->lim);
  if (stop & GB_STOP_INTERRUPT) { /* one interrupt, one error */
    atomic_fetch_and_explicit(&rt->lim.stop, ~GB_STOP_INTERRUPT, memory_order_relaxed);
    rt->lim.interrupted = true;
    if (!(stop & GB_STOP_TIME) && !rt->instr_spent) install_hook(rt); /* back to normal */
    hook_error(L, "interrupted");
  }
  if (stop & GB_STOP_TIME) {
    make_stick(L, rt);
    lua_pushfstring(L, "time budget of %f s exceeded", rt->budget.seconds);
    hook_error(L, lua_tostring(L, -1));
  }
  if (rt->budget.instructions > 0 && rt->instructions > rt->budget.instructions) {
    rt->instr_spent = true;
    make_stick(L, rt);
    snprintf(msg, sizeof msg, "instruction budget of %lld exceeded",
             (long long)rt->budget.instructions);
    hook_error(L, msg);
  }
}

/* Entering a top-level call: fresh allowances, the stop flag cleared. */
static void enter(gpubp_runtime *rt) {
  if (rt->depth++ > 0) return;
  atomic_store_explicit(&rt->lim.stop, 0, memory_order_relaxed);
  rt->lim.lua_refused = false;
  rt->lim.tensor_refused = false;
  rt->lim.interrupted = false;
  rt->instructions = 0;
  rt->instr_spent = false;
  rt->lim.deadline = rt->budget.seconds > 0 ? gb_limits_now() + rt->budget.seconds : 0;
  rt->lim.time_cap = rt->budget.seconds;
  install_hook(rt);
}

/* Leaving it: the status of a failed call says which limit stopped it. */
static int leave(gpubp_runtime *rt, int status) {
  if (--rt->depth > 0) return status;
  int stop = atomic_load_explicit(&rt->lim.stop, memory_order_relaxed);
  rt->lim.deadline = 0;
  if (status == GPUBP_OK) return status;
  if (rt->lim.lua_refused && status == GPUBP_ERRMEM) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "out of memory: runtime budget of %lld bytes exceeded (the Lua heap: %lld bytes, "
             "tensors: %lld)",
             (long long)rt->lim.host_cap, (long long)rt->lim.lua_bytes,
             (long long)(rt->lim.cpu ? rt->lim.cpu->allocated : 0));
    set_err(rt, msg);
    return GPUBP_ERRMEM;
  }
  if (rt->lim.tensor_refused) return GPUBP_ERRMEM;
  if (stop || rt->instr_spent || rt->lim.interrupted) return GPUBP_ERRLIMIT;
  return status;
}

/* Runs body(L) with the api_call as its only argument, protected; maps the outcome. */
static int run_protected(api_call *c, lua_CFunction body, int nresults) {
  lua_State *L = c->rt->L;
  if (!lua_checkstack(L, 8)) {
    set_err(c->rt, "Lua stack overflow");
    return GPUBP_ERRMEM;
  }
  c->status = GPUBP_ERRRUN;
  enter(c->rt);
  lua_pushcfunction(L, body);
  lua_pushlightuserdata(L, c);
  int st = lua_pcall(L, 1, nresults, 0);
  if (st == LUA_OK) {
    set_err(c->rt, NULL);
    return leave(c->rt, GPUBP_OK);
  }
  take_error(c->rt);
  return leave(c->rt, st == LUA_ERRMEM ? GPUBP_ERRMEM : c->status);
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
  gpubp_guard_install(L, o && o->allow_bytecode, o && o->allow_exit);
  c->rt->allow_bytecode = o && o->allow_bytecode;
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
  c->rt->S = gbL_state(L);
  gb_state_set_limits(c->rt->S, &c->rt->lim);
  gbL_host *h = gbL_host_of(L);
  h->on_stop = make_stick;
  h->on_stop_ud = c->rt;
  if (c->rt->sandboxed) {
    c->status = GPUBP_ERRINIT;
    lua_pushcfunction(L, gb_sandbox_apply);
    lua_pushlightuserdata(L, &c->rt->sandbox);
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
  if (opt) {
    rt->budget.host_bytes = opt->budget.host_bytes; /* time and instructions: after open */
    rt->budget.device_bytes = opt->budget.device_bytes;
    rt->lim.host_cap = opt->budget.host_bytes;
    rt->lim.device_cap = opt->budget.device_bytes;
    rt->interrupt_sets_hook = opt->interrupt_sets_hook != 0;
    if (opt->sandbox) {
      char why[4096 + 64];
      if (!gb_sandbox_init(&rt->sandbox, opt->read_dirs, opt->write_dirs, why, sizeof why)) {
        set_err(rt, why);
        return GPUBP_ERRARG;
      }
      rt->sandboxed = true;
    }
  }
  rt->heap = gb_luaheap_new(&rt->lim);
  rt->L = rt->heap ? lua_newstate(gb_luaheap_alloc, rt->heap) : NULL;
  if (rt->L) {
    lua_atpanic(rt->L, panic);
    lua_setwarnf(rt->L, warnf, rt);
    *(gpubp_runtime **)lua_getextraspace(rt->L) = rt; /* copied into every coroutine */
  }
  if (rt->L == NULL) {
    set_err(rt, rt->lim.host_cap ? "cannot create a Lua state: runtime budget too small"
                                 : "cannot create a Lua state: not enough memory");
    return GPUBP_ERRMEM;
  }
  api_call c = {.rt = rt, .opt = opt};
  int st = run_protected(&c, open_body, 0);
  if (st != GPUBP_OK) rt->modref = LUA_NOREF; /* later calls answer "did not open" */
  if (opt) rt->budget = opt->budget; /* the time and instruction budgets apply to scripts */
  return st;
}

int gpubp_close(gpubp_runtime *rt) {
  if (rt == NULL) return GPUBP_OK;
  if (rt->L) lua_close(rt->L); /* releases wrapped host memory through its callbacks */
  gb_luaheap_free(rt->heap);
  gb_sandbox_free(&rt->sandbox);
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
  case GPUBP_ERRLIMIT: return "stopped (interrupt or budget)";
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
  /* bytecode only when allowed and not sandboxed (malformed bytecode can crash) */
  return run_loaded(rt,
                    luaL_loadfilex(rt->L, path, rt->allow_bytecode && !rt->sandboxed ? NULL : "t"));
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
  enter(rt);
  st = lua_pcall(L, nargs, nresults, base);
  lua_remove(L, base);
  if (st != LUA_OK) {
    take_error(rt);
    return leave(rt, lua_status_to_api(st));
  }
  set_err(rt, NULL);
  return leave(rt, GPUBP_OK);
}

/* ---- tensors in -------------------------------------------------------------------------- */

static bool dtype_of(int api_dtype, gb_dtype *out) {
  switch (api_dtype) {
  case GPUBP_FLOAT32: *out = GB_F32; return true;
  case GPUBP_FLOAT64: *out = GB_F64; return true;
  case GPUBP_INT32: *out = GB_I32; return true;
  case GPUBP_INT64: *out = GB_I64; return true;
  default: return false;
  }
}

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
  if (gb_tensor_empty(S, c->ndim, c->shape, c->dtype, GB_CPU, &t) != GB_OK) {
    lua_pushstring(L, gb_state_error(S));
    return lua_error(L);
  }
  gbL_push_tensor(L, t);
  if (t->numel > 0) memcpy(gb_tensor_data(t), c->data, (size_t)t->numel * gb_dtype_size(t->dtype));
  c->status = GPUBP_ERRDEVICE;
  to_default_device(L, c);
  if (c->name) {
    lua_setglobal(L, c->name);
    return 0;
  }
  return 1;
}

/* Checks ndim/shape (and strides when given); *numel receives the element count. */
static int check_shape_arg(gpubp_runtime *rt, const void *data, int ndim, const int64_t *shape,
                           int64_t *numel) {
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
    if (shape[i] && n > ((int64_t)1 << 62) / shape[i]) {
      set_err(rt, "tensor copy-in: shape has more than 2^62 elements");
      return GPUBP_ERRARG;
    }
    n *= shape[i];
  }
  if (n > 0 && data == NULL) {
    set_err(rt, "tensor copy-in: data is NULL");
    return GPUBP_ERRARG;
  }
  if (numel) *numel = n;
  return GPUBP_OK;
}

static int check_dtype_arg(gpubp_runtime *rt, int dtype, gb_dtype *out) {
  if (dtype_of(dtype, out)) return GPUBP_OK;
  char msg[96];
  snprintf(msg, sizeof msg,
           "unknown dtype %d (GPUBP_FLOAT32, GPUBP_FLOAT64, GPUBP_INT32 or GPUBP_INT64)", dtype);
  set_err(rt, msg);
  return GPUBP_ERRARG;
}

/* What every typed copy (in, out, wrapped) checks first: the runtime, the global's name when
 * the call takes one (`fn` names the call in the message; NULL: no name taken), the dtype. */
static int check_copy_args(gpubp_runtime *rt, const char *fn, const char *name, int dtype,
                           gb_dtype *dt) {
  int st = check_rt(rt);
  if (st != GPUBP_OK) return st;
  if (fn && name == NULL) {
    char msg[64];
    snprintf(msg, sizeof msg, "%s: name is NULL", fn);
    set_err(rt, msg);
    return GPUBP_ERRARG;
  }
  return check_dtype_arg(rt, dtype, dt);
}

int gpubp_set_tensor_typed(gpubp_runtime *rt, const char *name, const void *data, int dtype,
                           int ndim, const int64_t *shape) {
  gb_dtype dt = GB_F32;
  int st = check_copy_args(rt, "gpubp_set_tensor", name, dtype, &dt);
  if (st == GPUBP_OK) st = check_shape_arg(rt, data, ndim, shape, NULL);
  if (st != GPUBP_OK) return st;
  api_call c = {.rt = rt, .name = name, .data = data, .dtype = dt, .ndim = ndim, .shape = shape};
  return run_protected(&c, push_tensor_body, 0);
}

int gpubp_push_tensor_typed(gpubp_runtime *rt, const void *data, int dtype, int ndim,
                            const int64_t *shape) {
  gb_dtype dt = GB_F32;
  int st = check_copy_args(rt, NULL, NULL, dtype, &dt);
  if (st == GPUBP_OK) st = check_shape_arg(rt, data, ndim, shape, NULL);
  if (st != GPUBP_OK) return st;
  api_call c = {.rt = rt, .data = data, .dtype = dt, .ndim = ndim, .shape = shape};
  return run_protected(&c, push_tensor_body, 1);
}

int gpubp_set_tensor(gpubp_runtime *rt, const char *name, const float *data, int ndim,
                     const int64_t *shape) {
  return gpubp_set_tensor_typed(rt, name, data, GPUBP_FLOAT32, ndim, shape);
}

int gpubp_push_tensor(gpubp_runtime *rt, const float *data, int ndim, const int64_t *shape) {
  return gpubp_push_tensor_typed(rt, data, GPUBP_FLOAT32, ndim, shape);
}

/* ---- zero-copy wrapping -------------------------------------------------------------------- */

static int wrap_body(lua_State *L) {
  api_call *c = lua_touserdata(L, 1);
  gb_state *S = gbL_state(L);
  gb_tensor *t = NULL;
  c->status = GPUBP_ERRARG;
  if (gb_tensor_wrap(S, c->wdata, c->dtype, c->device, c->ndim, c->shape, c->strides, &t)) {
    lua_pushstring(L, gb_state_error(S));
    return lua_error(L);
  }
  c->status = GPUBP_ERRMEM;
  gbL_push_tensor(L, t); /* no release callback yet: a failure here leaves the memory alone */
  if (c->name) lua_setglobal(L, c->name);
  gb_tensor_set_release(t, c->release, c->release_ud); /* cannot fail: from here on, ours */
  return c->name ? 0 : 1;
}

/* Parses a device name for wrapping: "cpu" always; "cuda:N" only where it is usable. */
static int wrap_device(gpubp_runtime *rt, const char *name, gb_device *out) {
  char msg[160];
  if (!gb_device_parse(name ? name : "cpu", out)) {
    snprintf(msg, sizeof msg, "gpubp_wrap_tensor: unknown device '%s' (cpu, cuda or cuda:N)", name);
    set_err(rt, msg);
    return GPUBP_ERRDEVICE;
  }
  if (*out == GB_CPU) return GPUBP_OK;
#ifdef GB_HAVE_CUDA
  const char *why = NULL;
  int n = gb_cuda_device_count(&why);
  if (*out < n) return GPUBP_OK;
  snprintf(msg, sizeof msg, "gpubp_wrap_tensor: device '%s' is not usable (%s)", name,
           n > 0 ? "no such device"
           : why ? why
                 : "no CUDA device");
#else
  snprintf(msg, sizeof msg,
           "gpubp_wrap_tensor: device '%s' is not usable (this build of gpubp has no CUDA "
           "backend)",
           name);
#endif
  set_err(rt, msg);
  return GPUBP_ERRDEVICE;
}

int gpubp_wrap_tensor(gpubp_runtime *rt, const char *name, void *data, int dtype,
                      const char *device, int ndim, const int64_t *shape, const int64_t *strides,
                      gpubp_release_fn release, void *ud) {
  gb_dtype dt = GB_F32;
  gb_device dev = GB_CPU;
  int st = check_copy_args(rt, NULL, NULL, dtype, &dt);
  if (st == GPUBP_OK) st = wrap_device(rt, device, &dev);
  if (st == GPUBP_OK && (ndim < 0 || ndim > GPUBP_MAXDIM || (ndim > 0 && shape == NULL))) {
    set_err(rt, "gpubp_wrap_tensor: ndim must be 0..8 and shape non-NULL");
    st = GPUBP_ERRARG;
  }
  if (st != GPUBP_OK) return st;
  api_call c = {.rt = rt,
                .name = name,
                .wdata = data,
                .dtype = dt,
                .device = dev,
                .ndim = ndim,
                .shape = shape,
                .strides = strides,
                .release = release,
                .release_ud = ud};
  return run_protected(&c, wrap_body, name ? 0 : 1);
}

/* ---- tensors out ------------------------------------------------------------------------- */

/* Copies t (CPU) into c->obuf as c->dtype; raises for a conversion that is not exact. */
static void copy_out(lua_State *L, api_call *c, const gb_tensor *t) {
  if (c->dtype == GB_F32) {
    float *o = c->obuf;
    if (t->dtype == GB_F32 && gb_tensor_is_contiguous(t)) {
      if (t->numel > 0) memcpy(o, gb_tensor_f32(t), (size_t)t->numel * sizeof(float));
    } else {
      for (int64_t i = 0; i < t->numel; i++)
        o[i] = (float)gb_tensor_get_flat(t, i);
    }
    return;
  }
  if (c->dtype == GB_F64) {
    double *o = c->obuf;
    for (int64_t i = 0; i < t->numel; i++)
      o[i] = gb_tensor_get_flat(t, i);
    return;
  }
  if (t->dtype == GB_F32) {
    c->status = GPUBP_ERRTYPE;
    luaL_error(L, "tensor is float32; copy it out as GPUBP_FLOAT32 or convert it first (t:long())");
  }
  if (t->dtype == GB_F64) {
    c->status = GPUBP_ERRTYPE;
    luaL_error(L, "tensor is float64; copy it out as GPUBP_FLOAT64 or convert it first (t:long())");
  }
  for (int64_t i = 0; i < t->numel; i++) {
    int64_t v = gb_tensor_get_flat_int(t, i);
    if (c->dtype == GB_I64) {
      ((int64_t *)c->obuf)[i] = v;
    } else if (v < INT32_MIN || v > INT32_MAX) {
      c->status = GPUBP_ERRARG;
      luaL_error(L, "element %I of the tensor (%I) does not fit int32", (lua_Integer)i + 1,
                 (lua_Integer)v);
    } else {
      ((int32_t *)c->obuf)[i] = (int32_t)v;
    }
  }
}

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
  if (c->obuf == NULL) return 0;
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
  copy_out(L, c, t);
  return 0;
}

static int global_body(lua_State *L) {
  api_call *c = lua_touserdata(L, 1);
  lua_settop(L, 1);
  lua_getglobal(L, c->name);
  return read_tensor_body(L);
}

/* Copy-out: check_copy_args, then the places the shape goes. */
static int check_out_args(gpubp_runtime *rt, const char *fn, const char *name, int *ndim,
                          int64_t *shape, int dtype, gb_dtype *dt) {
  int st = check_copy_args(rt, fn, name, dtype, dt);
  if (st == GPUBP_OK && (ndim == NULL || shape == NULL)) {
    set_err(rt, "tensor copy-out: ndim and shape must not be NULL");
    st = GPUBP_ERRARG;
  }
  return st;
}

int gpubp_get_tensor_typed(gpubp_runtime *rt, const char *name, void *buf, int dtype, size_t cap,
                           int *ndim, int64_t *shape, size_t *numel) {
  gb_dtype dt = GB_F32;
  int st = check_out_args(rt, "gpubp_get_tensor", name, ndim, shape, dtype, &dt);
  if (st != GPUBP_OK) return st;
  api_call c = {.rt = rt,
                .name = name,
                .obuf = buf,
                .dtype = dt,
                .cap = cap,
                .ondim = ndim,
                .oshape = shape,
                .onumel = numel};
  return run_protected(&c, global_body, 0);
}

int gpubp_get_tensor(gpubp_runtime *rt, const char *name, float *buf, size_t cap, int *ndim,
                     int64_t *shape, size_t *numel) {
  return gpubp_get_tensor_typed(rt, name, buf, GPUBP_FLOAT32, cap, ndim, shape, numel);
}

int gpubp_to_tensor_typed(gpubp_runtime *rt, int idx, void *buf, int dtype, size_t cap, int *ndim,
                          int64_t *shape, size_t *numel) {
  gb_dtype dt = GB_F32;
  int st = check_out_args(rt, NULL, NULL, ndim, shape, dtype, &dt);
  if (st != GPUBP_OK) return st;
  lua_State *L = rt->L;
  int top = lua_gettop(L);
  if (idx < 0 && idx > LUA_REGISTRYINDEX) idx = top + idx + 1;
  if (idx < 1 || idx > top) {
    set_err(rt, "gpubp_to_tensor: stack index out of range");
    return GPUBP_ERRARG;
  }
  api_call c = {.rt = rt,
                .obuf = buf,
                .dtype = dt,
                .cap = cap,
                .ondim = ndim,
                .oshape = shape,
                .onumel = numel};
  if (!lua_checkstack(L, 8)) return GPUBP_ERRMEM;
  c.status = GPUBP_ERRRUN;
  enter(rt);
  lua_pushcfunction(L, read_tensor_body);
  lua_pushlightuserdata(L, &c);
  lua_pushvalue(L, idx);
  int ls = lua_pcall(L, 2, 0, 0);
  if (ls == LUA_OK) {
    set_err(rt, NULL);
    return leave(rt, GPUBP_OK);
  }
  take_error(rt);
  return leave(rt, ls == LUA_ERRMEM ? GPUBP_ERRMEM : c.status);
}

int gpubp_to_tensor(gpubp_runtime *rt, int idx, float *buf, size_t cap, int *ndim, int64_t *shape,
                    size_t *numel) {
  return gpubp_to_tensor_typed(rt, idx, buf, GPUBP_FLOAT32, cap, ndim, shape, numel);
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
  int st = check_rt(rt);
  if (st != GPUBP_OK) return st;
  if (!device) {
    set_err(rt, "gpubp_set_device: device is NULL");
    return GPUBP_ERRARG;
  }
  api_call c = {.rt = rt, .name = device};
  return run_protected(&c, set_device_body, 0);
}

/* ---- budgets, interruption, callbacks ------------------------------------------------------ */

int gpubp_set_budget(gpubp_runtime *rt, const gpubp_budget *budget) {
  int st = check_rt(rt);
  if (st != GPUBP_OK) return st;
  if (budget == NULL || budget->host_bytes < 0 || budget->device_bytes < 0 ||
      budget->instructions < 0 || !(budget->seconds >= 0)) {
    set_err(rt, "gpubp_set_budget: budget is NULL or has a negative field");
    return GPUBP_ERRARG;
  }
  rt->budget = *budget;
  rt->lim.host_cap = budget->host_bytes;
  rt->lim.device_cap = budget->device_bytes;
  if (rt->depth > 0) { /* from a host callback: the running call gets the new allowances */
    rt->lim.time_cap = budget->seconds;
    rt->lim.deadline = budget->seconds > 0 ? gb_limits_now() + budget->seconds : 0;
    install_hook(rt);
  }
  set_err(rt, NULL);
  return GPUBP_OK;
}

int gpubp_get_usage(gpubp_runtime *rt, gpubp_usage *out) {
  int st = check_rt(rt);
  if (st != GPUBP_OK) return st;
  if (out == NULL) {
    set_err(rt, "gpubp_get_usage: out is NULL");
    return GPUBP_ERRARG;
  }
  gb_memstats m;
  gb_state_memstats(rt->S, GB_CPU, &m);
  memset(out, 0, sizeof *out);
  out->lua_bytes = rt->lim.lua_bytes;
  out->tensor_bytes = m.allocated;
  out->cached_bytes = m.reserved - m.allocated;
  out->host_bytes = out->lua_bytes + m.reserved;
  out->device_bytes = rt->S->device_bytes;
  out->instructions = rt->instructions;
  return GPUBP_OK;
}

void gpubp_interrupt(gpubp_runtime *rt) {
  if (rt == NULL) return;
  gb_limits_interrupt(&rt->lim);
  if (rt->interrupt_sets_hook && rt->L) /* same thread only: lua_sethook is signal-safe */
    lua_sethook(rt->L, limit_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
}

typedef struct host_fn {
  gpubp_cfunction fn;
  void *ud;
} host_fn;

static int call_host_fn(lua_State *L) {
  host_fn *h = lua_touserdata(L, lua_upvalueindex(1));
  return h->fn(L, h->ud);
}

static int register_body(lua_State *L) {
  api_call *c = lua_touserdata(L, 1);
  host_fn *h = lua_newuserdatauv(L, sizeof *h, 0);
  h->fn = c->hostfn;
  h->ud = c->hostud;
  lua_pushcclosure(L, call_host_fn, 1);
  lua_setglobal(L, c->name);
  return 0;
}

static bool is_identifier(const char *s) {
  if (!s || !(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))) return false;
  for (; *s; s++)
    if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9')))
      return false;
  return true;
}

int gpubp_register(gpubp_runtime *rt, const char *name, gpubp_cfunction fn, void *ud) {
  int st = check_rt(rt);
  if (st != GPUBP_OK) return st;
  if (!is_identifier(name) || fn == NULL) {
    set_err(rt, "gpubp_register: name must be a Lua identifier and fn non-NULL");
    return GPUBP_ERRARG;
  }
  api_call c = {.rt = rt, .name = name, .hostfn = fn, .hostud = ud};
  return run_protected(&c, register_body, 0);
}

static int metrics_body(lua_State *L) {
  api_call *c = lua_touserdata(L, 1);
  gbL_host *h = gbL_host_of(L);
  h->metric = c->metric;
  h->metric_ud = c->hostud;
  return 0;
}

int gpubp_set_metrics_hook(gpubp_runtime *rt, gpubp_metric_fn fn, void *ud) {
  int st = check_rt(rt);
  if (st != GPUBP_OK) return st;
  api_call c = {.rt = rt, .metric = fn, .hostud = fn ? ud : NULL};
  return run_protected(&c, metrics_body, 0);
}
