/* lgb_shape.c — the Lua side of issue 15's shape, scan and ordering rows: cumsum, repeat and
 * the strided slice behind Tensor:slice. Dims and starts arrive 1-based (or negative) and
 * leave 0-based; integer inputs of cumsum are summed in float32 and returned as int64. */
#include "gb_blas.h"
#include "gb_fn.h"
#include "gb_state.h"
#include "lgb.h"

static int push_result(lua_State *L, gb_state *S, gb_status st, gb_tensor **r) {
  if (st) return gbL_raise(L, S);
  gbL_push_tensor(L, *r);
  return 1;
}

/* t:cumsum(dim), gb.cumsum(t, dim) */
static int m_cumsum(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *t = gbL_check_tensor(L, 1), *f = t, *r;
  int d = gbL_check_dim(L, 2, t->ndim, "cumsum");
  gb_dtype dt = t->dtype;
  if (!gb_dtype_is_float(dt)) {
    GBL_CHECK(L, S, gb_fn_to_dtype(S, t, GB_F32, &f));
    gbL_push_tensor(L, f);
  }
  gb_opargs a = {.in = {f}, .nin = 1, .i = {d, 0}};
  GBL_CHECK(L, S, gb_op_run(S, GB_OP_CUMSUM, &a, &r));
  gbL_push_tensor(L, r);
  if (gb_dtype_is_float(dt)) return 1;
  gb_tensor *c;
  return push_result(L, S, gb_fn_to_dtype(S, r, GB_I64, &c), &c);
}

/* t:repeat(n1, n2, ...) or t:repeat{n1, n2, ...}: at least t:dim() factors; extra leading
 * factors add dims, as torch.Tensor.repeat. t:tile(...) also takes fewer factors, padded
 * with leading 1s, as torch.tile (and is callable with `:`: `repeat` is a Lua keyword). */
static int repeat_impl(lua_State *L, bool tile) {
  gb_state *S = gbL_enter(L);
  gb_tensor *t = gbL_check_tensor(L, 1), *x = t, *r;
  int64_t reps[GB_MAXDIM];
  int n = gbL_check_shape(L, 2, reps);
  if (n < t->ndim && tile) {
    int pad = t->ndim - n;
    for (int d = t->ndim - 1; d >= 0; d--)
      reps[d] = d < pad ? 1 : reps[d - pad];
    n = t->ndim;
  }
  if (n < t->ndim)
    return luaL_error(L, "repeat: %d factors for a %d-D tensor (at least %d expected)", n, t->ndim,
                      t->ndim);
  if (n > t->ndim) {
    int64_t shape[GB_MAXDIM];
    for (int d = 0; d < n; d++)
      shape[d] = d < n - t->ndim ? 1 : t->shape[d - (n - t->ndim)];
    GBL_CHECK(L, S, gb_fn_reshape(S, t, n, shape, &x));
    gbL_push_tensor(L, x);
  }
  gb_opargs a = {.in = {x}, .nin = 1, .i = {n}};
  for (int d = 0; d < n; d++)
    a.i[1 + d] = reps[d];
  return push_result(L, S, gb_op_run(S, GB_OP_REPEAT, &a, &r), &r);
}

static int m_repeat(lua_State *L) {
  return repeat_impl(L, false);
}

static int m_tile(lua_State *L) {
  return repeat_impl(L, true);
}

/* gb._slice(t, dim, start, count, step): the strided view (1-based dim and start, checked by
 * the caller, lua/gpubp/tensor_methods.lua's Tensor:slice) */
static int l_slice(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *t = gbL_check_tensor(L, 1), *r;
  int d = gbL_check_dim(L, 2, t->ndim, "slice");
  lua_Integer start = luaL_checkinteger(L, 3);
  if (start < 1) return luaL_error(L, "slice: start %I must be >= 1", (LUAI_UACINT)start);
  gb_opargs a = {
      .in = {t}, .nin = 1, .i = {d, start - 1, luaL_checkinteger(L, 4), luaL_checkinteger(L, 5)}};
  return push_result(L, S, gb_op_run(S, GB_OP_SLICE, &a, &r), &r);
}

/* sort/topk's input in float32 (integers are exact below 2^24); pushes a converted copy */
static gb_tensor *float_in(lua_State *L, gb_state *S, gb_tensor *t) {
  if (gb_dtype_is_float(t->dtype)) return t;
  gb_tensor *f;
  GBL_CHECK(L, S, gb_fn_to_dtype(S, t, GB_F32, &f));
  gbL_push_tensor(L, f);
  return f;
}

/* runs sort/topk and returns values (in the input's dtype family) and int64 indices */
static int ordered(lua_State *L, gb_state *S, gb_opid id, gb_opargs *a, gb_dtype dt) {
  gb_tensor *r[2];
  GBL_CHECK(L, S, gb_op_run(S, id, a, r));
  gbL_push_tensor(L, r[0]);
  gbL_push_tensor(L, r[1]);
  if (!gb_dtype_is_float(dt)) {
    gb_tensor *c;
    GBL_CHECK(L, S, gb_fn_to_dtype(S, r[0], GB_I64, &c));
    gbL_push_tensor(L, c);
    lua_replace(L, -3);
  }
  return 2;
}

/* t:sort([dim=-1 [, descending=false]]) -> values, indices (stable; NaN sorts as largest) */
static int m_sort(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *t = gbL_check_tensor(L, 1);
  if (t->ndim == 0) return luaL_error(L, "sort: expected a tensor with at least one dimension");
  int d = gbL_opt_dim(L, 2, t->ndim, t->ndim - 1, "sort");
  bool desc = lua_toboolean(L, 3);
  gb_dtype dt = t->dtype;
  gb_opargs a = {.in = {float_in(L, S, t)}, .nin = 1, .i = {d, desc}};
  return ordered(L, S, GB_OP_SORT, &a, dt);
}

/* t:topk(k [, dim=-1 [, largest=true [, sorted=true]]]) -> values, indices */
static int m_topk(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *t = gbL_check_tensor(L, 1);
  if (t->ndim == 0) return luaL_error(L, "topk: expected a tensor with at least one dimension");
  lua_Integer k = luaL_checkinteger(L, 2);
  int d = gbL_opt_dim(L, 3, t->ndim, t->ndim - 1, "topk");
  bool largest = lua_isnoneornil(L, 4) || lua_toboolean(L, 4);
  gb_dtype dt = t->dtype;
  gb_opargs a = {.in = {float_in(L, S, t)}, .nin = 1, .i = {d, k, largest, 1}};
  return ordered(L, S, GB_OP_TOPK, &a, dt);
}

/* gb._cat(dim, t1 [, t2, t3, t4]): one cat row (gb.cat in lua/gpubp/init.lua checks the
 * list and builds a tree of these for more pieces) */
static int l_cat(lua_State *L) {
  gb_state *S = gbL_enter(L);
  int n = lua_gettop(L) - 1;
  while (n > 0 && lua_isnil(L, n + 1))
    n--;
  if (n < 1 || n > GB_MAXIN)
    return luaL_error(L, "cat: 1 to %d tensors per row, got %d", GB_MAXIN, n);
  gb_tensor *r, *t1 = gbL_check_tensor(L, 2);
  int d = gbL_check_dim(L, 1, t1->ndim, "cat");
  gb_opargs a = {.nin = n, .i = {d}};
  for (int k = 0; k < n; k++)
    a.in[k] = gbL_check_tensor(L, k + 2);
  return push_result(L, S, gb_op_run(S, GB_OP_CAT, &a, &r), &r);
}

/* gb.set_num_threads(n) / gb.get_num_threads(): the CPU threads of matrix products and of
 * large elementwise loops and sums (process-wide, as torch.set_num_threads) */
static int l_set_num_threads(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  if (n < 1 || n > 1024)
    return luaL_error(L, "set_num_threads: expected 1..1024, got %I", (LUAI_UACINT)n);
  gb_blas_set_threads((int)n);
  return 0;
}

static int l_get_num_threads(lua_State *L) {
  lua_pushinteger(L, gb_blas_threads());
  return 1;
}

static const luaL_Reg methods[] = {
    {"sort", m_sort},     {"topk", m_topk}, {"cumsum", m_cumsum},
    {"repeat", m_repeat}, {"tile", m_tile}, {NULL, NULL},
};

static const luaL_Reg module_fns[] = {
    {"sort", m_sort},
    {"topk", m_topk},
    {"cumsum", m_cumsum},
    {"_slice", l_slice},
    {"_cat", l_cat},
    {"set_num_threads", l_set_num_threads},
    {"get_num_threads", l_get_num_threads},
    {NULL, NULL},
};

void gbL_open_shape(lua_State *L) {
  gbL_add_methods(L, methods);
  luaL_setfuncs(L, module_fns, 0);
}
