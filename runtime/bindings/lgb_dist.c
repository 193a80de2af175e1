/* lgb_dist.c — gb._dist, the C side of gb.distributed (lua/gpubp/distributed.lua): opens the
 * plugin libgpubp_dist.so (core/gb_dist.h) on the first call that needs it, checks tensor
 * arguments and converts ranks (1..N here, 0-based in the plugin). Opening the module loads
 * nothing: a script that never calls init never maps MPI. */
#include <string.h>

#include "gb_backend.h"
#include "gb_dist.h"
#include "gb_state.h"
#include "gb_tensor.h"
#include "lgb.h"

void gbL_open_dist(lua_State *L);

static const gb_dist_api *api;
static char why_not[512];
static bool tried;

/* The plugin's table, or NULL with why_not set (tried once per process). */
static const gb_dist_api *plugin(void) {
  if (tried) return api;
  tried = true;
  gb_dist_entry_fn entry =
      (gb_dist_entry_fn)gb_plugin_symbol("dist", GB_DIST_ENTRY, why_not, sizeof why_not);
#ifndef GB_BUILT_DIST_PLUGIN
  if (!entry)
    snprintf(why_not, sizeof why_not,
             "this build has no MPI support (MPI was not found when it was configured)");
#endif
  if (!entry) return NULL;
  const char *why = NULL;
  const gb_dist_api *a = entry(GB_DIST_ABI, &why);
  if (!a || a->abi != GB_DIST_ABI) {
    snprintf(why_not, sizeof why_not, "libgpubp_dist.so: %s",
             why ? why : "built for another version of gpubp");
    return NULL;
  }
  api = a;
  return api;
}

static const gb_dist_api *need(lua_State *L, const char *fn) {
  const gb_dist_api *a = plugin();
  if (!a)
    luaL_error(L,
               "distributed.%s: distributed support is unavailable: %s (this build of gpubp "
               "needs MPI: apt install libopenmpi-dev, then rebuild)",
               fn, why_not);
  return a;
}

static int raise_msg(lua_State *L, const char *msg) {
  return luaL_error(L, "%s", msg);
}

/* gb._dist.available() -> true, build | false, why */
static int l_available(lua_State *L) {
  const gb_dist_api *a = plugin();
  lua_pushboolean(L, a != NULL);
  lua_pushstring(L, a ? a->build : why_not);
  return 2;
}

/* gb._dist.init(timeout_s, nccl) */
static int l_init(lua_State *L) {
  const gb_dist_api *a = need(L, "init");
  gb_dist_opts o = {.timeout_s = luaL_optnumber(L, 1, 0), .nccl = lua_toboolean(L, 2)};
  char err[1536];
  if (o.nccl && !a->has_nccl)
    return luaL_error(L,
                      "distributed.init: backend 'nccl' is not in this build (%s): nccl.h "
                      "was not found with the CUDA toolkit",
                      a->build);
  if (a->init(&o, err, sizeof err)) return raise_msg(L, err);
  return 0;
}

static int l_finalize(lua_State *L) {
  const gb_dist_api *a = plugin();
  char err[1536];
  if (a && a->finalize(err, sizeof err)) return raise_msg(L, err);
  return 0;
}

static int l_is_initialized(lua_State *L) {
  lua_pushboolean(L, api && api->is_initialized());
  return 1;
}

static const gb_dist_api *need_init(lua_State *L, const char *fn) {
  const gb_dist_api *a = need(L, fn);
  if (!a->is_initialized()) luaL_error(L, "distributed.%s: call gb.distributed.init() first", fn);
  return a;
}

static int l_rank(lua_State *L) {
  lua_pushinteger(L, need_init(L, "rank")->rank() + 1);
  return 1;
}

static int l_world_size(lua_State *L) {
  lua_pushinteger(L, need_init(L, "world_size")->world_size());
  return 1;
}

static int l_set_timeout(lua_State *L) {
  double s = luaL_checknumber(L, 1);
  if (!(s > 0)) return luaL_error(L, "distributed.set_timeout: expected seconds > 0, got %f", s);
  need(L, "set_timeout")->set_timeout(s);
  return 0;
}

static int l_get_timeout(lua_State *L) {
  lua_pushnumber(L, need(L, "get_timeout")->get_timeout());
  return 1;
}

static int l_barrier(lua_State *L) {
  const gb_dist_api *a = need_init(L, "barrier");
  char err[1536];
  if (a->barrier(err, sizeof err)) return raise_msg(L, err);
  return 0;
}

/* A contiguous tensor argument as the plugin's buffer; its stream when on cuda. */
static gb_tensor *check_buf(lua_State *L, gb_state *S, int idx, const char *fn, gb_dist_buf *b) {
  gb_tensor *t = gbL_check_tensor(L, idx);
  if (!gb_tensor_is_contiguous(t))
    luaL_error(L, "distributed.%s: the tensor must be contiguous (call :contiguous() first)", fn);
  memset(b, 0, sizeof *b);
  b->data = t->numel ? gb_tensor_data(t) : NULL;
  b->dtype = t->dtype;
  b->device = t->device;
  b->ndim = t->ndim;
  for (int d = 0; d < t->ndim; d++)
    b->shape[d] = t->shape[d];
  b->numel = t->numel;
  if (gb_device_kind_of(t->device) != GB_KIND_CPU) {
    const gb_backend *be = gb_backend_loaded(t->device);
    b->stream = be && be->native_stream ? be->native_stream(S, t->device) : NULL;
    if (!b->stream) luaL_error(L, "distributed.%s: no stream for the tensor's device", fn);
  }
  return t;
}

static const char *const op_names[] = {"sum", "mean", "max", "min", NULL};

/* gb._dist.all_reduce(t, op, async, trusted) -> handle (async) | nothing */
static int l_all_reduce(lua_State *L) {
  gb_state *S = gbL_enter(L);
  const gb_dist_api *a = need_init(L, "all_reduce");
  int op = luaL_checkoption(L, 2, "sum", op_names);
  bool async = lua_toboolean(L, 3);
  unsigned flags = lua_toboolean(L, 4) ? GB_DIST_TRUSTED : 0;
  gb_dist_buf b;
  gb_tensor *t = check_buf(L, S, 1, "all_reduce", &b);
  if (op == GB_DIST_MEAN && t->dtype != GB_F32 && t->dtype != GB_F64)
    return luaL_error(L, "distributed.all_reduce: 'mean' needs a float32 or float64 tensor, got %s",
                      gb_dtype_name(t->dtype));
  char err[1536];
  int handle = 0;
  if (a->all_reduce(&b, (gb_dist_op)op, flags, async ? &handle : NULL, err, sizeof err))
    return raise_msg(L, err);
  t->storage->version++;
  if (!async) return 0;
  lua_pushinteger(L, handle);
  return 1;
}

static int l_wait(lua_State *L) {
  const gb_dist_api *a = need_init(L, "wait");
  int h = (int)luaL_optinteger(L, 1, 0);
  if (h == 0) return 0; /* NCCL work: ordered on the stream, nothing to wait for here */
  char err[1536];
  if (a->wait(h, err, sizeof err)) return raise_msg(L, err);
  return 0;
}

static int l_progress(lua_State *L) {
  (void)L;
  if (api && api->is_initialized()) api->progress();
  return 0;
}

/* gb._dist.broadcast(t, root) with root 1..N */
static int l_broadcast(lua_State *L) {
  gb_state *S = gbL_enter(L);
  const gb_dist_api *a = need_init(L, "broadcast");
  lua_Integer root = luaL_optinteger(L, 2, 1);
  gb_dist_buf b;
  gb_tensor *t = check_buf(L, S, 1, "broadcast", &b);
  if (root < 1 || root > a->world_size())
    return luaL_error(L, "distributed.broadcast: root %d is not a rank (1..%d)", (int)root,
                      a->world_size());
  char err[1536];
  if (a->broadcast(&b, (int)root - 1, err, sizeof err)) return raise_msg(L, err);
  t->storage->version++;
  return 0;
}

/* gb._dist.all_gather(t) -> a tensor (world_size, t's shape...) on t's device */
static int l_all_gather(lua_State *L) {
  gb_state *S = gbL_enter(L);
  const gb_dist_api *a = need_init(L, "all_gather");
  gb_dist_buf b;
  gb_tensor *t = check_buf(L, S, 1, "all_gather", &b);
  if (t->ndim >= GB_MAXDIM)
    return luaL_error(L,
                      "distributed.all_gather: a %d-dim tensor has no room for the rank "
                      "dimension (at most %d dims)",
                      t->ndim, GB_MAXDIM - 1);
  int64_t shape[GB_MAXDIM];
  shape[0] = a->world_size();
  for (int d = 0; d < t->ndim; d++)
    shape[d + 1] = t->shape[d];
  gb_tensor *out = NULL;
  GBL_CHECK(L, S, gb_tensor_empty(S, t->ndim + 1, shape, t->dtype, t->device, &out));
  gbL_push_tensor(L, out); /* owned by Lua from here: an error below cannot leak it */
  char err[1536];
  if (a->all_gather(&b, out->numel ? gb_tensor_data(out) : NULL, err, sizeof err))
    return raise_msg(L, err);
  return 1;
}

static int l_abort(lua_State *L) {
  const char *msg = luaL_optstring(L, 1, "aborted");
  if (api) api->abort(msg);
  return 0;
}

/* gb._dist.set_grad_view(p, v): p.grad becomes v itself (a view into a DDP bucket), not a
 * copy as `p.grad = v` makes; v must match p's shape, dtype and device and be contiguous. */
static int l_set_grad_view(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *p = gbL_check_tensor(L, 1), *v = gbL_check_tensor(L, 2);
  if (!gb_shape_equal(p, v) || p->dtype != v->dtype || p->device != v->device ||
      !gb_tensor_is_contiguous(v) || v->requires_grad)
    return luaL_error(L, "DistributedDataParallel: a bucket view does not fit its parameter");
  if (p->grad == v) return 0;
  gb_tensor_retain(v);
  gb_tensor_release_deferred(S, p->grad); /* an op (or a backward's hook) may be reading it */
  p->grad = v;
  return 0;
}

/* gb._dist.grad_is(p, v) -> whether p.grad is the tensor v itself (not an equal copy) */
static int l_grad_is(lua_State *L) {
  gb_tensor *p = gbL_check_tensor(L, 1), *v = gbL_check_tensor(L, 2);
  lua_pushboolean(L, p->grad != NULL && p->grad == v);
  return 1;
}

static const luaL_Reg dist_fns[] = {
    {"set_grad_view", l_set_grad_view},
    {"grad_is", l_grad_is},
    {"available", l_available},
    {"init", l_init},
    {"finalize", l_finalize},
    {"is_initialized", l_is_initialized},
    {"rank", l_rank},
    {"world_size", l_world_size},
    {"set_timeout", l_set_timeout},
    {"get_timeout", l_get_timeout},
    {"barrier", l_barrier},
    {"all_reduce", l_all_reduce},
    {"wait", l_wait},
    {"progress", l_progress},
    {"broadcast", l_broadcast},
    {"all_gather", l_all_gather},
    {"abort", l_abort},
    {NULL, NULL},
};

/* Adds the `_dist` subtable to the module table on top of the stack. */
void gbL_open_dist(lua_State *L) {
  lua_createtable(L, 0, (int)(sizeof dist_fns / sizeof dist_fns[0]));
  luaL_setfuncs(L, dist_fns, 0);
  lua_setfield(L, -2, "_dist");
}
