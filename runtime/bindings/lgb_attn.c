/* lgb_attn.c — the Transformer's fused rows for lua/gpubp/nn (LayerNorm, MultiheadAttention,
 * gb.nn.functional): gb._layer_norm, gb._masked_softmax and gb._sdpa take raw positional
 * arguments, checked by the rows' shape rules. Private: `_` names. */
#include "gb_kernels.h"
#include "gb_state.h"
#include "lgb.h"

static int push_first(lua_State *L, gb_state *S, gb_status st, gb_tensor **r, int nout) {
  if (st) return gbL_raise(L, S);
  gbL_push_tensor(L, r[0]);
  for (int k = 1; k < nout; k++)
    gb_tensor_release(S, r[k]);
  return 1;
}

/* gb._layer_norm(x, w|nil, b|nil, ndims, eps) -> y over the trailing ndims dims of x */
static int l_layer_norm(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_opargs a = {.in = {gbL_check_tensor(L, 1)}, .nin = 1};
  if (!lua_isnil(L, 2) || !lua_isnil(L, 3)) {
    a.in[1] = gbL_check_tensor(L, 2);
    a.in[2] = gbL_check_tensor(L, 3);
    a.nin = 3;
  }
  a.i[0] = luaL_checkinteger(L, 4);
  a.f[0] = luaL_checknumber(L, 5);
  gb_tensor *r[2] = {NULL, NULL};
  return push_first(L, S, gb_op_run(S, GB_OP_LAYER_NORM, &a, r), r, 2);
}

/* gb._layer_norm_fused(x) -> whether gb._layer_norm takes x's dtype on x's device: float32, or
 * float64 where that device's backend runs the row in double */
static int l_layer_norm_fused(lua_State *L) {
  gb_tensor *x = gbL_check_tensor(L, 1);
  lua_pushboolean(L, x->dtype == GB_F32 ||
                         (x->dtype == GB_F64 && gb_op_runs_f64(GB_OP_LAYER_NORM, x->device)));
  return 1;
}

/* gb._masked_softmax(scores, mask|nil, causal) -> softmax along the last dim */
static int l_masked_softmax(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_opargs a = {.in = {gbL_check_tensor(L, 1)}, .nin = 1};
  if (!lua_isnil(L, 2)) a.in[a.nin++] = gbL_check_tensor(L, 2);
  luaL_checktype(L, 3, LUA_TBOOLEAN);
  a.i[0] = lua_toboolean(L, 3);
  gb_tensor *r[1] = {NULL};
  return push_first(L, S, gb_op_run(S, GB_OP_MASKED_SOFTMAX, &a, r), r, 1);
}

/* gb._sdpa(q (B,H,L,E), k (B,H,S,E), v (B,H,S,Ev), scale, causal [, mask]) -> (B,L,H,Ev);
 * mask: additive float32, broadcast to (B,H,L,S) */
static int l_sdpa(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_opargs a = {.in = {gbL_check_tensor(L, 1), gbL_check_tensor(L, 2), gbL_check_tensor(L, 3)},
                 .nin = 3,
                 .f = {luaL_checknumber(L, 4)}};
  luaL_checktype(L, 5, LUA_TBOOLEAN);
  a.i[0] = lua_toboolean(L, 5);
  if (!lua_isnoneornil(L, 6)) a.in[a.nin++] = gbL_check_tensor(L, 6);
  gb_tensor *r[1] = {NULL};
  return push_first(L, S, gb_op_run(S, GB_OP_SDPA, &a, r), r, 1);
}

/* gb._sdpa_takes(k) -> whether gb._sdpa takes k's keys (k: (B,H,S,E)) on k's device: false only
 * where that device's backend caps the keys per query (cuda: the scores of one query row live
 * in shared memory) and S is over the cap; the callers then materialise the scores */
static int l_sdpa_takes(lua_State *L) {
  gb_tensor *k = gbL_check_tensor(L, 1);
  const gb_backend *b = gb_backend_loaded(k->device);
  int64_t keys = k->ndim >= 2 ? k->shape[k->ndim - 2] : 0;
  lua_pushboolean(L, !b || b->sdpa_max_keys <= 0 || keys <= b->sdpa_max_keys);
  return 1;
}

static const luaL_Reg attn_fns[] = {
    {"_layer_norm", l_layer_norm},         {"_layer_norm_fused", l_layer_norm_fused},
    {"_masked_softmax", l_masked_softmax}, {"_sdpa", l_sdpa},
    {"_sdpa_takes", l_sdpa_takes},         {NULL, NULL},
};

void gbL_open_attn(lua_State *L) {
  luaL_setfuncs(L, attn_fns, 0);
}
