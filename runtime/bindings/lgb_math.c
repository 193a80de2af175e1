/* lgb_math.c — tensor maths from Lua: arithmetic metamethods, elementwise methods,
 * comparisons, where, reductions, softmax, matrix products, losses, indexing, in-place forms
 * and dtype/device conversion. Most entries are one C closure whose upvalue is the op row,
 * so adding a row to the table adds a method with one line here. */
#include <math.h>
#include <string.h>

#include "gb_fn.h"
#include "gb_kernels.h"
#include "gb_state.h"
#include "gb_window.h"
#include "lgb.h"

static int push_result(lua_State *L, gb_state *S, gb_status st, gb_tensor **r) {
  if (st) return gbL_raise(L, S);
  gbL_push_tensor(L, *r);
  return 1;
}

static gb_opid upvalue_op(lua_State *L) {
  return (gb_opid)lua_tointeger(L, lua_upvalueindex(1));
}

/* A 0-d tensor of `like`'s dtype and device holding v, owned by the Lua stack. */
static gb_tensor *scalar_tensor(lua_State *L, const gb_tensor *like, double v) {
  gb_state *S = gbL_state(L);
  gb_tensor *t;
  GBL_CHECK(L, S, gb_fn_full(S, 0, NULL, like->dtype, like->device, v, &t));
  gbL_push_tensor(L, t);
  return t;
}

/* Tensor at idx, or a number there turned into a 0-d tensor like `like`. */
static gb_tensor *tensor_or_number(lua_State *L, int idx, const gb_tensor *like) {
  gb_tensor *t = gbL_to_tensor(L, idx);
  if (t) return t;
  if (lua_type(L, idx) == LUA_TNUMBER) return scalar_tensor(L, like, lua_tonumber(L, idx));
  luaL_argerror(L, idx,
                lua_pushfstring(L, "tensor or number expected, got %s", luaL_typename(L, idx)));
  return NULL;
}

/* ---- unary ---- */

static int m_unary(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *r;
  return push_result(L, S, gb_op1(S, upvalue_op(L), gbL_check_tensor(L, 1), &r), &r);
}

static int m_neg(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *r;
  return push_result(L, S, gb_fn_affine(S, gbL_check_tensor(L, 1), -1, 0, &r), &r);
}

static int m_leaky_relu(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *r;
  double slope = luaL_optnumber(L, 2, 0.01);
  return push_result(
      L, S, gb_fn_scalar_op(S, GB_OP_LEAKY_RELU, gbL_check_tensor(L, 1), slope, 0, &r), &r);
}

/* t:elu([alpha=1]) */
static int m_elu(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *r;
  double alpha = luaL_optnumber(L, 2, 1.0);
  return push_result(L, S, gb_fn_scalar_op(S, GB_OP_ELU, gbL_check_tensor(L, 1), alpha, 0, &r), &r);
}

/* t:softplus([beta=1 [, threshold=20]]) */
static int m_softplus(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *r;
  double beta = luaL_optnumber(L, 2, 1.0), threshold = luaL_optnumber(L, 3, 20.0);
  if (beta == 0) return luaL_error(L, "softplus: beta must not be 0");
  return push_result(
      L, S, gb_fn_scalar_op(S, GB_OP_SOFTPLUS, gbL_check_tensor(L, 1), beta, threshold, &r), &r);
}

/* The mask argument of masked_fill as 0/1 in t's float dtype (any dtype accepted; nonzero =
 * fill), and the fill value: a number or a one-element tensor. */
static gb_tensor *mask_arg(lua_State *L, gb_state *S, double *value) {
  gb_tensor *m = gbL_to_tensor(L, 2), *v = gbL_to_tensor(L, 3);
  if (!m) luaL_argerror(L, 2, "masked_fill: the mask must be a tensor");
  if (v) {
    if (v->numel != 1)
      luaL_error(L,
                 "masked_fill: the value must be a number or a one-element tensor, got %d "
                 "elements",
                 (int)v->numel);
    gb_tensor *h;
    GBL_CHECK(L, S, gb_fn_to_device(S, v, GB_CPU, &h));
    *value = gb_tensor_get_flat(h, 0);
    gb_tensor_release(S, h);
  } else {
    *value = luaL_checknumber(L, 3);
  }
  gb_tensor *t = gbL_check_tensor(L, 1);
  gb_dtype want = t->dtype == GB_F64 ? GB_F64 : GB_F32; /* the row reads x and mask alike */
  if (m->dtype == want) return m;
  gb_tensor *mf;
  GBL_CHECK(L, S, gb_fn_to_dtype(S, m, want, &mf));
  gbL_push_tensor(L, mf);
  return mf;
}

/* t:masked_fill(mask, value): value where mask is nonzero, t elsewhere (broadcasting) */
static int m_masked_fill(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *t = gbL_check_tensor(L, 1), *r;
  double v;
  gb_tensor *m = mask_arg(L, S, &v);
  gb_opargs a = {.in = {t, m}, .nin = 2, .f = {v}};
  return push_result(L, S, gb_op_run(S, GB_OP_MASKED_FILL, &a, &r), &r);
}

static double opt_bound(lua_State *L, int idx) {
  return lua_isnoneornil(L, idx) ? NAN : luaL_checknumber(L, idx);
}

static int m_clamp(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *r;
  return push_result(
      L, S,
      gb_fn_scalar_op(S, GB_OP_CLAMP, gbL_check_tensor(L, 1), opt_bound(L, 2), opt_bound(L, 3), &r),
      &r);
}

/* ---- binary: tensor (op) tensor|number, number (op) tensor ---- */

/* x op number through the scalar rows; returns false for ops without one */
static bool scalar_form(gb_opid id, double v, bool number_first, gb_opid *row, double *f0,
                        double *f1) {
  *f1 = 0;
  switch (id) {
  case GB_OP_ADD: *row = GB_OP_AFFINE, *f0 = 1, *f1 = v; return true;
  case GB_OP_SUB:
    *row = GB_OP_AFFINE;
    *f0 = number_first ? -1 : 1;
    *f1 = number_first ? v : -v;
    return true;
  case GB_OP_MUL: *row = GB_OP_AFFINE, *f0 = v; return true;
  case GB_OP_DIV:
    if (number_first)
      *row = GB_OP_RDIV_SCALAR, *f0 = v;
    else
      *row = GB_OP_AFFINE, *f0 = 1.0 / v;
    return true;
  case GB_OP_POW: *row = number_first ? GB_OP_RPOW_SCALAR : GB_OP_POW_SCALAR, *f0 = v; return true;
  default: return false;
  }
}

static int binary_impl(lua_State *L, gb_opid id);

/* Integer + - * (labels + 1, counts): computed in float32, which is exact below 2^24, and
 * converted back to the integer dtype. */
static int int_arith(lua_State *L, gb_opid id, gb_dtype dt) {
  gb_state *S = gbL_state(L);
  for (int k = 1; k <= 2; k++) {
    gb_tensor *t = gbL_to_tensor(L, k), *f;
    if (!t || t->dtype == GB_F32) continue;
    GBL_CHECK(L, S, gb_fn_to_dtype(S, t, GB_F32, &f));
    gbL_push_tensor(L, f);
    lua_replace(L, k);
  }
  binary_impl(L, id);
  gb_tensor *r;
  return push_result(L, S, gb_fn_to_dtype(S, gbL_check_tensor(L, -1), dt, &r), &r);
}

/* Two tensor operands at stack slots i and j of different dtypes, one of them a float, meet
 * in the wider float as PyTorch promotes (integer + float32 -> float32, anything + float64 ->
 * float64): the other is converted (recorded by autograd, so its gradient comes back in its
 * own dtype) and replaces it on the stack. Integer pairs and numbers are left alone. */
static void promote_pair(lua_State *L, int i, int j) {
  gb_tensor *x = gbL_to_tensor(L, i), *y = gbL_to_tensor(L, j), *c;
  if (!x || !y || x->dtype == y->dtype) return;
  if (!gb_dtype_is_float(x->dtype) && !gb_dtype_is_float(y->dtype)) return;
  gb_dtype to = x->dtype == GB_F64 || y->dtype == GB_F64 ? GB_F64 : GB_F32;
  int k = x->dtype == to ? j : i;
  gb_state *S = gbL_state(L);
  GBL_CHECK(L, S, gb_fn_to_dtype(S, gbL_to_tensor(L, k), to, &c));
  gbL_push_tensor(L, c);
  lua_replace(L, k);
}

static int binary_impl(lua_State *L, gb_opid id) {
  gb_state *S = gbL_state(L);
  gb_tensor *x = gbL_to_tensor(L, 1), *y = gbL_to_tensor(L, 2), *r;
  if (x && y) {
    if (x->dtype == y->dtype && gb_dtype_is_float(x->dtype)) /* the common case, first */
      return push_result(L, S, gb_fn_binary(S, id, x, y, &r), &r);
    promote_pair(L, 1, 2);
    x = gbL_to_tensor(L, 1), y = gbL_to_tensor(L, 2);
  }
  bool int_ok = id == GB_OP_ADD || id == GB_OP_SUB || id == GB_OP_MUL;
  gb_tensor *it = x && !gb_dtype_is_float(x->dtype)   ? x
                  : y && !gb_dtype_is_float(y->dtype) ? y
                                                      : NULL;
  if (int_ok && it && (!x || !y || x->dtype == y->dtype)) return int_arith(L, id, it->dtype);
  if (!x && !y) return luaL_error(L, "%s: expected at least one tensor operand", gb_ops[id].name);
  bool number_first = !x;
  gb_tensor *t = x ? x : y;
  int num_idx = x ? 2 : 1;
  if (!(x && y) && lua_type(L, num_idx) == LUA_TNUMBER && gb_dtype_is_float(t->dtype)) {
    gb_opid row;
    double f0, f1;
    if (scalar_form(id, lua_tonumber(L, num_idx), number_first, &row, &f0, &f1))
      return push_result(L, S, gb_fn_scalar_op(S, row, t, f0, f1, &r), &r);
  }
  if (!x) x = tensor_or_number(L, 1, y);
  if (!y) y = tensor_or_number(L, 2, x);
  return push_result(L, S, gb_fn_binary(S, id, x, y, &r), &r);
}

static int m_binary(lua_State *L) {
  gbL_enter(L);
  return binary_impl(L, upvalue_op(L));
}

/* Reductions run in the input's float dtype; an integer input is converted to float32 first (exact
 * below 2^24, which covers labels and indices) and, for sum/max/min, the values are converted back.
 */
static gb_tensor *float_input(lua_State *L, gb_tensor *t) {
  if (gb_dtype_is_float(t->dtype)) return t;
  gb_state *S = gbL_state(L);
  gb_tensor *f;
  GBL_CHECK(L, S, gb_fn_to_dtype(S, t, GB_F32, &f));
  gbL_push_tensor(L, f);
  return f;
}

static int restore_dtype(lua_State *L, gb_dtype dt, int idx) {
  gb_state *S = gbL_state(L);
  gb_tensor *v = gbL_check_tensor(L, idx), *c;
  if (gb_dtype_is_float(dt) || v->dtype != GB_F32) return 0;
  GBL_CHECK(L, S, gb_fn_to_dtype(S, v, dt == GB_I32 ? GB_I64 : dt, &c));
  gbL_push_tensor(L, c);
  lua_replace(L, idx);
  return 0;
}

/* max/min: with a tensor argument the elementwise maximum/minimum; with a dim, values and
 * indices along it; with nothing, the extreme of all elements */
static int extreme(lua_State *L, const char *name, gb_opid pair, gb_opid along, gb_opid all) {
  gb_state *S = gbL_state(L);
  gb_tensor *t0 = gbL_check_tensor(L, 1), *r[2];
  if (gbL_to_tensor(L, 2)) return binary_impl(L, pair);
  bool all_dims = lua_isnoneornil(L, 2);
  int d = all_dims ? 0 : gbL_check_dim(L, 2, t0->ndim, name);
  bool keepdim = lua_toboolean(L, 3);
  gb_tensor *t = float_input(L, t0); /* may push: arguments are read above */
  if (all_dims) {
    gb_opargs a = {.in = {t}, .nin = 1, .i = {0, 0}};
    push_result(L, S, gb_op_run(S, all, &a, r), &r[0]);
    restore_dtype(L, t0->dtype, lua_gettop(L));
    return 1;
  }
  gb_opargs a = {.in = {t}, .nin = 1, .i = {d, keepdim}};
  GBL_CHECK(L, S, gb_op_run(S, along, &a, r));
  gbL_push_tensor(L, r[0]);
  restore_dtype(L, t0->dtype, lua_gettop(L));
  gbL_push_tensor(L, r[1]);
  return 2;
}

static int m_max(lua_State *L) {
  return extreme(L, "max", GB_OP_MAXIMUM, GB_OP_MAX_DIM, GB_OP_AMAX);
}
static int m_min(lua_State *L) {
  return extreme(L, "min", GB_OP_MINIMUM, GB_OP_MIN_DIM, GB_OP_AMIN);
}

static int l_where(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *c = gbL_check_tensor(L, 1), *r;
  gb_tensor *ref = gbL_to_tensor(L, 2) ? gbL_to_tensor(L, 2) : gbL_to_tensor(L, 3);
  if (!ref) ref = c;
  promote_pair(L, 2, 3);
  ref = gbL_to_tensor(L, 2) ? gbL_to_tensor(L, 2) : gbL_to_tensor(L, 3) ? gbL_to_tensor(L, 3) : c;
  gb_tensor *cf = c;
  if (c->dtype != GB_F32) {
    GBL_CHECK(L, S, gb_fn_to_dtype(S, c, GB_F32, &cf));
    gbL_push_tensor(L, cf);
  }
  gb_tensor *x = tensor_or_number(L, 2, ref), *y = tensor_or_number(L, 3, ref);
  gb_opargs a = {.in = {cf, x, y}, .nin = 3};
  return push_result(L, S, gb_op_run(S, GB_OP_WHERE, &a, &r), &r);
}

/* ---- reductions ---- */

/* dims from arg idx: nothing (all), one dim, or a table of dims; returns the bit mask */
static uint64_t dim_mask(lua_State *L, int idx, const gb_tensor *t, const char *op) {
  if (lua_isnoneornil(L, idx)) return 0;
  if (!lua_istable(L, idx)) return (uint64_t)1 << gbL_check_dim(L, idx, t->ndim, op);
  uint64_t m = 0;
  int n = (int)lua_rawlen(L, idx);
  for (int k = 1; k <= n; k++) {
    lua_rawgeti(L, idx, k);
    m |= (uint64_t)1 << gbL_check_dim(L, -1, t->ndim, op);
    lua_pop(L, 1);
  }
  return m;
}

static int m_reduce(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_opid id = upvalue_op(L);
  gb_tensor *t0 = gbL_check_tensor(L, 1), *r;
  uint64_t mask = dim_mask(L, 2, t0, gb_ops[id].name);
  if (mask == 0 && t0->ndim > 0) mask = ((uint64_t)1 << t0->ndim) - 1;
  gb_opargs a = {.nin = 1, .i = {(int64_t)mask, lua_toboolean(L, 3)}};
  a.i[2] = lua_isnoneornil(L, 4) || lua_toboolean(L, 4) ? 1 : 0; /* var: unbiased */
  gb_tensor *t = float_input(L, t0); /* may push: arguments are read above */
  a.in[0] = t;
  if (t->ndim == 0) a.i[0] = 0;
  push_result(L, S, gb_op_run(S, id, &a, &r), &r);
  if (id == GB_OP_SUM || id == GB_OP_AMAX || id == GB_OP_AMIN)
    restore_dtype(L, t0->dtype, lua_gettop(L));
  return 1;
}

static int m_std(lua_State *L) {
  gb_state *S = gbL_enter(L);
  lua_pushinteger(L, GB_OP_VAR);
  lua_pushcclosure(L, m_reduce, 1);
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  gb_tensor *r;
  return push_result(L, S, gb_op1(S, GB_OP_SQRT, gbL_check_tensor(L, -1), &r), &r);
}

static int m_arg(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_opid id = upvalue_op(L);
  gb_tensor *t0 = gbL_check_tensor(L, 1), *r;
  int d = lua_isnoneornil(L, 2) ? -1 : gbL_check_dim(L, 2, t0->ndim, gb_ops[id].name);
  gb_opargs a = {.nin = 1, .i = {d, lua_toboolean(L, 3)}};
  a.in[0] = float_input(L, t0);
  return push_result(L, S, gb_op_run(S, id, &a, &r), &r);
}

static int m_softmax(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_opid id = upvalue_op(L);
  gb_tensor *t = gbL_check_tensor(L, 1), *r;
  int d = gbL_opt_dim(L, 2, t->ndim, t->ndim - 1, gb_ops[id].name);
  gb_opargs a = {.in = {t}, .nin = 1, .i = {d}};
  return push_result(L, S, gb_op_run(S, id, &a, &r), &r);
}

/* ---- matrix products ---- */

/* matmul with 1-D operands promoted as in NumPy: (K) is (1,K) on the left, (K,1) on the right */
static int m_matmul(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *x = gbL_check_tensor(L, 1), *y = gbL_check_tensor(L, 2), *r;
  if (x->ndim != 1 && y->ndim != 1)
    return push_result(L, S, gb_fn_binary(S, GB_OP_MATMUL, x, y, &r), &r);
  gb_tensor *xx = x, *yy = y;
  if (x->ndim == 1) {
    GBL_CHECK(L, S, gb_fn_reshape(S, x, 2, (int64_t[]){1, x->shape[0]}, &xx));
    gbL_push_tensor(L, xx);
  }
  if (y->ndim == 1) {
    GBL_CHECK(L, S, gb_fn_reshape(S, y, 2, (int64_t[]){y->shape[0], 1}, &yy));
    gbL_push_tensor(L, yy);
  }
  gb_tensor *p;
  GBL_CHECK(L, S, gb_fn_binary(S, GB_OP_MATMUL, xx, yy, &p));
  gbL_push_tensor(L, p);
  int64_t shape[3];
  int nd = 0;
  for (int d = 0; d < p->ndim; d++) {
    bool drop = (d == p->ndim - 2 && x->ndim == 1) || (d == p->ndim - 1 && y->ndim == 1);
    if (!drop) shape[nd++] = p->shape[d];
  }
  return push_result(L, S, gb_fn_reshape(S, p, nd, shape, &r), &r);
}

/* gb.addmm(bias, a, b [, {beta=1, alpha=1}]) = beta*bias + alpha*(a @ b). Options first:
 * their __index may run Lua code that closes a tensor argument. */
static int l_addmm(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *r;
  gb_opargs a = {.nin = 3, .f = {1, 1}};
  if (lua_istable(L, 4)) {
    lua_getfield(L, 4, "beta");
    lua_getfield(L, 4, "alpha");
    a.f[0] = luaL_optnumber(L, -2, 1);
    a.f[1] = luaL_optnumber(L, -1, 1);
  }
  for (int k = 0; k < 3; k++)
    a.in[k] = gbL_check_tensor(L, k + 1);
  return push_result(L, S, gb_op_run(S, GB_OP_ADDMM, &a, &r), &r);
}

/* ---- losses and indexing ---- */

static int l_class_loss(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *r;
  return push_result(
      L, S, gb_fn_binary(S, upvalue_op(L), gbL_check_tensor(L, 1), gbL_check_tensor(L, 2), &r), &r);
}

/* t:index_select(dim, idx), t:gather(dim, idx) */
static int m_index2(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_opid id = upvalue_op(L);
  gb_tensor *t = gbL_check_tensor(L, 1), *r;
  int d = gbL_check_dim(L, 2, t->ndim, gb_ops[id].name);
  gb_opargs a = {.in = {t, gbL_check_tensor(L, 3)}, .nin = 2, .i = {d}};
  return push_result(L, S, gb_op_run(S, id, &a, &r), &r);
}

/* t:index_add(dim, idx, src), t:scatter_add(dim, idx, src) (out of place) */
static int m_index3(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_opid id = upvalue_op(L);
  gb_tensor *t = gbL_check_tensor(L, 1), *r;
  int d = gbL_check_dim(L, 2, t->ndim, gb_ops[id].name);
  gb_opargs a = {.in = {t, gbL_check_tensor(L, 3), gbL_check_tensor(L, 4)}, .nin = 3, .i = {d}};
  return push_result(L, S, gb_op_run(S, id, &a, &r), &r);
}

/* ---- convolution and pooling ---- */

/* window params (kh, kw, sh, sw, ph, pw) from Lua args starting at idx */
static void window_args(lua_State *L, int idx, gb_opargs *a) {
  for (int k = 0; k < 6; k++)
    a->i[k] = luaL_checkinteger(L, idx + k);
}

/* gb._im2col(x, kh, kw, sh, sw, ph, pw) -> (N, OH*OW, C*kh*kw) */
static int l_im2col(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *r;
  gb_opargs a = {.in = {gbL_check_tensor(L, 1)}, .nin = 1};
  window_args(L, 2, &a);
  return push_result(L, S, gb_op_run(S, GB_OP_IM2COL, &a, &r), &r);
}

/* gb._pad(x, dim, start, size): x placed at start (1-based) of a zero tensor of `size` along
 * dim — differentiable; gb.cat uses it when its inputs need grad */
static int l_pad(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *x = gbL_check_tensor(L, 1), *r;
  int d = gbL_check_dim(L, 2, x->ndim, "pad");
  lua_Integer start = luaL_checkinteger(L, 3), size = luaL_checkinteger(L, 4);
  if (start < 1) return luaL_error(L, "pad: start %I must be >= 1", (LUAI_UACINT)start);
  gb_opargs a = {.in = {x}, .nin = 1, .i = {d, start - 1, size}};
  return push_result(L, S, gb_op_run(S, GB_OP_PAD, &a, &r), &r);
}

/* gb._max_pool2d(x, kh, kw, sh, sw, ph, pw [, dh=1, dw=1, ceil_mode=false]) -> (N, C, OH, OW);
 * a recorded call also makes the argmax indices, which only its tape node keeps */
static int l_max_pool2d(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *r[GB_MAXOUT] = {NULL, NULL};
  gb_opargs a = {.in = {gbL_check_tensor(L, 1)}, .nin = 1};
  window_args(L, 2, &a);
  a.i[GB_WIN_DH] = luaL_optinteger(L, 8, 1);
  a.i[GB_WIN_DW] = luaL_optinteger(L, 9, 1);
  a.i[GB_WIN_CEIL] = lua_toboolean(L, 10);
  if (a.i[GB_WIN_DH] < 1 || a.i[GB_WIN_DW] < 1) /* the row reads 0 as 1 */
    return luaL_error(L, "max_pool2d: dilation %Ix%I must be >= 1", (LUAI_UACINT)a.i[GB_WIN_DH],
                      (LUAI_UACINT)a.i[GB_WIN_DW]);
  gb_status st = gb_op_run(S, GB_OP_MAX_POOL2D, &a, r);
  gb_tensor_release(S, r[1]);
  return push_result(L, S, st, &r[0]);
}

/* ---- in place ---- */

/* In-place forms name themselves (add_, not the row that implements them) when refused. */
static gb_tensor *check_inplace(lua_State *L, const char *name) {
  gb_tensor *t = gbL_check_tensor(L, 1);
  if (t->requires_grad && gb_grad_enabled(gbL_state(L)))
    luaL_error(L,
               "%s_: in-place operation on a tensor that requires grad (wrap it in "
               "gb.no_grad or use the out-of-place form)",
               name);
  return t;
}

static int m_inplace_binary(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_opid id = upvalue_op(L);
  gb_tensor *t = check_inplace(L, gb_ops[id].name);
  gb_opargs a = {.nin = 1};
  gb_opid row = id;
  bool has_alpha = !lua_isnoneornil(L, 3) && id == GB_OP_ADD; /* add_(y, alpha) */
  double alpha = has_alpha ? luaL_checknumber(L, 3) : 1;
  if (lua_type(L, 2) == LUA_TNUMBER && gb_dtype_is_float(t->dtype) &&
      scalar_form(id, lua_tonumber(L, 2), false, &row, &a.f[0], &a.f[1])) {
    a.in[0] = t;
  } else {
    gb_tensor *y = tensor_or_number(L, 2, t);
    if (y->dtype != t->dtype && gb_dtype_is_float(t->dtype) && gb_dtype_is_float(y->dtype)) {
      gb_tensor *yc; /* the result is t's dtype: x:add_(y) rounds a float64 y into a float32 x */
      GBL_CHECK(L, S, gb_fn_to_dtype(S, y, t->dtype, &yc));
      gbL_push_tensor(L, yc);
      y = yc;
    }
    if (has_alpha) {
      gb_tensor *ys;
      GBL_CHECK(L, S, gb_fn_affine(S, y, alpha, 0, &ys));
      gbL_push_tensor(L, ys);
      y = ys;
    }
    a.in[0] = t, a.in[1] = y, a.nin = 2;
  }
  GBL_CHECK(L, S, gb_op_run_into(S, row, &a, t));
  lua_settop(L, 1);
  return 1;
}

static int m_clamp_(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *t = check_inplace(L, "clamp");
  gb_opargs a = {.in = {t}, .nin = 1, .f = {opt_bound(L, 2), opt_bound(L, 3)}};
  GBL_CHECK(L, S, gb_op_run_into(S, GB_OP_CLAMP, &a, t));
  lua_settop(L, 1);
  return 1;
}

/* t:masked_fill_(mask, value): in place; the mask broadcasts to t's shape */
static int m_masked_fill_(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *t = check_inplace(L, "masked_fill");
  double v;
  gb_tensor *m = mask_arg(L, S, &v);
  gb_opargs a = {.in = {t, m}, .nin = 2, .f = {v}};
  GBL_CHECK(L, S, gb_op_run_into(S, GB_OP_MASKED_FILL, &a, t));
  lua_settop(L, 1);
  return 1;
}

static int m_unary_(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *t = check_inplace(L, gb_ops[upvalue_op(L)].name);
  gb_opargs a = {.in = {t}, .nin = 1};
  GBL_CHECK(L, S, gb_op_run_into(S, upvalue_op(L), &a, t));
  lua_settop(L, 1);
  return 1;
}

/* copy_(src): src broadcast to t's shape, converted to t's dtype, from any device */
static int m_copy_(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *t = gbL_check_tensor(L, 1), *src = gbL_check_tensor(L, 2), *moved, *e;
  GBL_CHECK(L, S, gb_fn_to_device(S, src, t->device, &moved));
  gbL_push_tensor(L, moved);
  GBL_CHECK(L, S, gb_fn_expand(S, moved, t->ndim, t->shape, &e));
  gbL_push_tensor(L, e);
  gb_opargs a = {.in = {e}, .nin = 1, .i = {t->dtype}};
  GBL_CHECK(L, S, gb_op_run_into(S, GB_OP_COPY, &a, t));
  lua_settop(L, 1);
  return 1;
}

/* ---- conversion ---- */

static int convert(lua_State *L, gb_tensor *t, gb_dtype dt, gb_device dev) {
  gb_state *S = gbL_state(L);
  gb_tensor *c = t, *r;
  if (dt != t->dtype) {
    GBL_CHECK(L, S, gb_fn_to_dtype(S, t, dt, &c));
    gbL_push_tensor(L, c);
  }
  return push_result(L, S, gb_fn_to_device(S, c, dev, &r), &r);
}

static int m_float(lua_State *L) {
  gb_tensor *t = gbL_check_tensor(L, 1);
  return convert(L, t, GB_F32, t->device);
}
static int m_double(lua_State *L) {
  gb_tensor *t = gbL_check_tensor(L, 1);
  return convert(L, t, GB_F64, t->device);
}
static int m_long(lua_State *L) {
  gb_tensor *t = gbL_check_tensor(L, 1);
  return convert(L, t, GB_I64, t->device);
}
static int m_int(lua_State *L) {
  gb_tensor *t = gbL_check_tensor(L, 1);
  return convert(L, t, GB_I32, t->device);
}
static int m_cpu(lua_State *L) {
  gb_tensor *t = gbL_check_tensor(L, 1);
  return convert(L, t, t->dtype, GB_CPU);
}
static int m_cuda(lua_State *L) {
  gb_tensor *t = gbL_check_tensor(L, 1);
  lua_Integer n = luaL_optinteger(L, 2, 0);
  if (n < 0 || n >= GB_MAXINDEX) return luaL_error(L, "cuda: device %d out of range", (int)n);
  return convert(L, t, t->dtype, GB_DEVICE(GB_KIND_CUDA, n));
}

/* to(dtype | device | tensor) — several may be given: t:to('cuda', 'int64') */
static int m_to(lua_State *L) {
  gb_tensor *t = gbL_check_tensor(L, 1);
  gb_dtype dt = t->dtype;
  gb_device dev = t->device;
  for (int k = 2; k <= lua_gettop(L); k++) {
    gb_tensor *o = gbL_to_tensor(L, k);
    if (o) {
      dev = o->device;
      continue;
    }
    const char *n = luaL_checkstring(L, k);
    if (!gb_dtype_parse(n, &dt) && !gb_device_parse(n, &dev))
      return luaL_error(L,
                        "to: '%s' is neither a dtype (float32, float64, int32, int64) nor a device "
                        "(cpu, cuda, cuda:N)",
                        n);
  }
  return convert(L, t, dt, dev);
}

/* Lua turns the result of < and <= into a boolean, so they cannot be elementwise. */
static int m_no_order(lua_State *L) {
  return luaL_error(L, "tensor: < and <= cannot compare elementwise in Lua; use :lt(), :le(), "
                       ":gt() or :ge()");
}

/* ---- registration ---- */

typedef struct op_method {
  const char *name;
  gb_opid op;
  lua_CFunction fn;
} op_method;

/* Rows of the op table that become a method t:name() and a function gb.name(t) of the same
 * name, picked by the row's shape rule: a new row with one of these rules needs no binding
 * code. Rows with scalar parameters have their own methods below (neg, clamp, leaky_relu and
 * the arithmetic metamethods), and derivative helpers are not user-facing. */
static lua_CFunction generic_binding(gb_opid id) {
  switch (id) {
  case GB_OP_AFFINE:
  case GB_OP_RDIV_SCALAR:
  case GB_OP_POW_SCALAR:
  case GB_OP_RPOW_SCALAR:
  case GB_OP_LEAKY_RELU:
  case GB_OP_CLAMP:
  case GB_OP_ELU:
  case GB_OP_SOFTPLUS:
  case GB_OP_MASKED_FILL: return NULL;
  default: break;
  }
  const char *name = gb_ops[id].name;
  size_t len = strlen(name);
  if (len > 9 && strcmp(name + len - 9, "_backward") == 0) return NULL;
  gb_infer_fn rule = gb_ops[id].infer;
  if (rule == gb_infer_unary) return m_unary;
  if (rule == gb_infer_binary || rule == gb_infer_compare) return m_binary;
  if (rule == gb_infer_reduce) return m_reduce;
  if (rule == gb_infer_arg_reduce) return m_arg;
  if (rule == gb_infer_softmax) return m_softmax;
  if (rule == gb_infer_index_select || rule == gb_infer_gather) return m_index2;
  if (rule == gb_infer_index_add || rule == gb_infer_scatter_add) return m_index3;
  return NULL;
}

/* in-place forms, named after their rows */
static const op_method op_methods[] = {
    {"add_", GB_OP_ADD, m_inplace_binary},
    {"sub_", GB_OP_SUB, m_inplace_binary},
    {"mul_", GB_OP_MUL, m_inplace_binary},
    {"div_", GB_OP_DIV, m_inplace_binary},
    {"pow_", GB_OP_POW, m_inplace_binary},
    {"relu_", GB_OP_RELU, m_unary_},
    {"sqrt_", GB_OP_SQRT, m_unary_},
    {"exp_", GB_OP_EXP, m_unary_},
    {NULL, 0, NULL},
};

/* methods that are also module functions: gb.max(t, 2), gb.matmul(a, b), ... */
static const luaL_Reg plain_methods[] = {
    {"neg", m_neg},
    {"leaky_relu", m_leaky_relu},
    {"clamp", m_clamp},
    {"clip", m_clamp},
    {"max", m_max},
    {"min", m_min},
    {"std", m_std},
    {"matmul", m_matmul},
    {"elu", m_elu},
    {"softplus", m_softplus},
    {"masked_fill", m_masked_fill},
    {"mm", m_matmul},
    {"bmm", m_matmul},
    {NULL, NULL},
};

/* methods only: in-place forms and conversions (gb.cuda is the device namespace) */
static const luaL_Reg own_methods[] = {
    {"clamp_", m_clamp_}, {"masked_fill_", m_masked_fill_},
    {"copy_", m_copy_},   {"float", m_float},
    {"double", m_double}, {"long", m_long},
    {"int", m_int},       {"cpu", m_cpu},
    {"cuda", m_cuda},     {"to", m_to},
    {NULL, NULL},
};

static const struct {
  const char *event;
  gb_opid op;
} arith[] = {{"__add", GB_OP_ADD},
             {"__sub", GB_OP_SUB},
             {"__mul", GB_OP_MUL},
             {"__div", GB_OP_DIV},
             {"__pow", GB_OP_POW}};

/* unary minus; < and <= refuse (Lua would turn their result into a boolean) */
static const luaL_Reg metamethods[] = {
    {"__unm", m_neg},
    {"__lt", m_no_order},
    {"__le", m_no_order},
    {NULL, NULL},
};

/* module functions that are not tensor methods */
static const luaL_Reg module_fns[] = {
    {"where", l_where},
    {"addmm", l_addmm},
    {"_pad", l_pad},
    {"_im2col", l_im2col},
    {"_max_pool2d", l_max_pool2d},
    {NULL, NULL},
};

static void set_method(lua_State *L, const char *name, gb_opid op, lua_CFunction fn) {
  lua_pushinteger(L, op);
  lua_pushcclosure(L, fn, 1);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, name); /* t:exp() */
  lua_setfield(L, -3, name); /* gb.exp(t) */
}

void gbL_open_math(lua_State *L) {
  lua_getfield(L, -1, "_tensor_methods");
  for (int id = 0; id < GB_NOPS; id++) {
    lua_CFunction fn = generic_binding((gb_opid)id);
    if (fn) set_method(L, gb_ops[id].name, (gb_opid)id, fn);
  }
  for (const op_method *m = op_methods; m->name; m++)
    set_method(L, m->name, m->op, m->fn);
  luaL_setfuncs(L, own_methods, 0);
  luaL_setfuncs(L, plain_methods, 0);
  for (const luaL_Reg *r = plain_methods; r->name; r++) {
    lua_getfield(L, -1, r->name);
    lua_setfield(L, -3, r->name);
  }
  lua_pop(L, 1);
  luaL_getmetatable(L, GBL_TENSOR_MT);
  for (size_t k = 0; k < sizeof arith / sizeof arith[0]; k++) {
    lua_pushinteger(L, arith[k].op);
    lua_pushcclosure(L, m_binary, 1);
    lua_setfield(L, -2, arith[k].event);
  }
  luaL_setfuncs(L, metamethods, 0);
  lua_pop(L, 1);
  luaL_setfuncs(L, module_fns, 0);
  lua_pushinteger(L, GB_OP_CROSS_ENTROPY);
  lua_pushcclosure(L, l_class_loss, 1);
  lua_setfield(L, -2, "cross_entropy");
  lua_pushinteger(L, GB_OP_NLL_LOSS);
  lua_pushcclosure(L, l_class_loss, 1);
  lua_setfield(L, -2, "nll_loss");
}
