/* lgb_tensor.c — the tensor userdata: lifetime (__gc, __close), fields through __index
 * (shape, dtype, device, grad, requires_grad, is_leaf, t[i]), assignment through __newindex,
 * printing (__tostring), inspection (size, dim, numel, item, totable) and the view methods.
 * Everything user-facing counts from 1; negative dims count from the end. */
#include <math.h>
#include <string.h>

#include "gb_fn.h"
#include "gb_state.h"
#include "lgb.h"

/* ---- userdata ----------------------------------------------------------------------------- */

/* `tag` is the box's own address mixed with a constant, written only by gbL_push_tensor.
 * Scripts can give any userdata the tensor metatable (debug.setmetatable(io.tmpfile(), mt)),
 * but they cannot write the bytes of a userdata, so a box is taken as a tensor only when its
 * size and tag match. The other way round, a tensor dressed as a file
 * (debug.setmetatable(t, getmetatable(io.stdout))): Lua's io library reads a box as
 * {FILE *f; lua_CFunction closef} and takes closef == NULL as "closed file", so `io_null`
 * (always NULL, second) makes every io call on it "attempt to use a closed file". */
typedef struct tbox {
  gb_tensor *t;
  void *io_null;
  uintptr_t tag;
} tbox;

#define TBOX_SALT ((uintptr_t)0x9e3779b97f4a7c15u)
static uintptr_t tag_of(const tbox *b) {
  return (uintptr_t)b ^ TBOX_SALT;
}

/* The metatable also lives under this address key in the registry: a pointer-keyed lookup
 * is cheaper than luaL_testudata's by-name one. */
static const char MT_KEY = 'T';

void gbL_push_tensor(lua_State *L, gb_tensor *t) {
  tbox *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->t = t;
  b->io_null = NULL;
  b->tag = tag_of(b);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &MT_KEY);
  lua_setmetatable(L, -2);
}

/* The box at idx, or NULL if that is not a tensor userdata. The size and the tag decide, not
 * the metatable: only gbL_push_tensor writes a tag, so a match is one of our boxes even if a
 * script gave it another metatable (debug.setmetatable), and that is all memory safety needs.
 * Not comparing metatables keeps three API calls off every tensor argument of every op. */
static tbox *test_box(lua_State *L, int idx) {
  if (lua_type(L, idx) != LUA_TUSERDATA || lua_rawlen(L, idx) != sizeof(tbox)) return NULL;
  tbox *b = lua_touserdata(L, idx);
  return b->tag == tag_of(b) ? b : NULL;
}

gb_tensor *gbL_to_tensor(lua_State *L, int idx) {
  tbox *b = test_box(L, idx);
  return b ? b->t : NULL;
}

gb_tensor *gbL_check_tensor(lua_State *L, int idx) {
  tbox *b = test_box(L, idx);
  if (!b) {
    const char *got = luaL_typename(L, idx);
    luaL_argerror(L, idx, lua_pushfstring(L, "tensor expected, got %s", got));
  }
  if (!b->t) luaL_argerror(L, idx, "tensor was closed");
  return b->t;
}

/* Collected: nothing can be using the tensor (its userdata was unreachable). */
static int t_gc(lua_State *L) {
  tbox *b = test_box(L, 1);
  if (b && b->t) gb_tensor_release(gbL_state(L), b->t);
  if (!b) return 0;
  b->t = NULL;
  return 0;
}

/* Closed (`local x <close>`, explicit __close): the userdata is still reachable, perhaps
 * borrowed by an op that a finalizer interrupted, so the release waits for the next safe
 * point (gbL_enter); the tensor reads as closed at once. */
static int t_close(lua_State *L) {
  tbox *b = test_box(L, 1);
  if (!b) return 0;
  if (b->t) gb_tensor_release_deferred(gbL_state(L), b->t);
  b->t = NULL;
  return 0;
}

/* ---- printing ------------------------------------------------------------------------------ */

static void fmt_value(luaL_Buffer *B, const gb_tensor *t, int64_t flat) {
  char s[48];
  double v = gb_tensor_get_flat(t, flat);
  if (!gb_dtype_is_float(t->dtype)) /* exact: int64 max does not survive a trip through double */
    snprintf(s, sizeof s, "%lld", (long long)gb_tensor_get_flat_int(t, flat));
  else if (v != v) /* "nan" whatever its sign bit, as PyTorch prints it */
    snprintf(s, sizeof s, "nan");
  else if (isinf(v))
    snprintf(s, sizeof s, v > 0 ? "inf" : "-inf");
  else if (v == floor(v) && fabs(v) < 1e7)
    snprintf(s, sizeof s, "%.0f.", v);
  else if (v != v || fabs(v) >= 1e5 || (fabs(v) < 1e-4 && v != 0))
    snprintf(s, sizeof s, "%.4e", v);
  else
    snprintf(s, sizeof s, "%.4f", v);
  luaL_addstring(B, s);
}

/* Nested brackets; with more than `limit` elements each dim shows its first and last 3. */
static void fmt_dim(luaL_Buffer *B, const gb_tensor *t, int d, int64_t flat, bool summarize) {
  if (d == t->ndim) {
    fmt_value(B, t, flat);
    return;
  }
  int64_t n = t->shape[d], inner = 1;
  for (int k = d + 1; k < t->ndim; k++)
    inner *= t->shape[k];
  luaL_addchar(B, '[');
  for (int64_t i = 0; i < n; i++) {
    if (summarize && n > 6 && i == 3) {
      luaL_addstring(B, d == t->ndim - 1 ? "..., " : "...,\n");
      for (int k = 0; k <= d + 7 && d != t->ndim - 1; k++)
        luaL_addchar(B, ' ');
      i = n - 3;
    }
    fmt_dim(B, t, d + 1, flat + i * inner, summarize);
    if (i + 1 < n) {
      luaL_addchar(B, ',');
      if (d == t->ndim - 1) {
        luaL_addchar(B, ' ');
      } else { /* align under the opening brackets, after "tensor(" */
        for (int k = d + 1; k < t->ndim; k++)
          luaL_addchar(B, '\n');
        for (int k = 0; k <= d + 7; k++)
          luaL_addchar(B, ' ');
      }
    }
  }
  luaL_addchar(B, ']');
}

static int t_tostring(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *t = gbL_check_tensor(L, 1), *h = t;
  if (t->device != GB_CPU) GBL_CHECK(L, S, gb_fn_to_device(S, t, GB_CPU, &h));
  char sb[GB_SHAPE_STRLEN], db[GB_DEVICE_STRLEN];
  luaL_Buffer B;
  luaL_buffinit(L, &B);
  luaL_addstring(&B, "tensor(");
  if (h->numel > 0)
    fmt_dim(&B, h, 0, 0, h->numel > 1000);
  else
    luaL_addstring(&B, "[]");
  lua_pushfstring(L, ", shape=%s, dtype=%s, device=%s", gb_shape_str(t, sb),
                  gb_dtype_name(t->dtype), gb_device_name(t->device, db));
  luaL_addvalue(&B);
  if (t->grad_fn)
    lua_pushfstring(L, ", grad_fn=%s", gb_ops[t->grad_fn->op].name), luaL_addvalue(&B);
  else if (t->requires_grad)
    luaL_addstring(&B, ", requires_grad=true");
  luaL_addchar(&B, ')');
  if (h != t) gb_tensor_release(S, h);
  luaL_pushresult(&B);
  return 1;
}

/* ---- inspection ---------------------------------------------------------------------------- */

/* __tostring of shape tables: gb.Size{2, 3} */
static int size_tostring(lua_State *L) {
  luaL_Buffer B;
  luaL_buffinit(L, &B);
  luaL_addstring(&B, "gb.Size{");
  lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
  for (lua_Integer d = 1; d <= n; d++) {
    lua_rawgeti(L, 1, d);
    if (d > 1) luaL_addstring(&B, ", ");
    luaL_addvalue(&B);
  }
  luaL_addchar(&B, '}');
  luaL_pushresult(&B);
  return 1;
}

/* A shape is a plain table of sizes (t.shape, t:size()) with a metatable holding only
 * __tostring, so print(x:size()) reads gb.Size{2, 3} and tables still compare by contents. */
static void push_shape(lua_State *L, const gb_tensor *t) {
  lua_createtable(L, t->ndim, 0);
  for (int d = 0; d < t->ndim; d++) {
    lua_pushinteger(L, t->shape[d]);
    lua_rawseti(L, -2, d + 1);
  }
  if (luaL_getmetatable(L, "gpubp.Size") == LUA_TNIL) {
    lua_pop(L, 1);
    luaL_newmetatable(L, "gpubp.Size");
    lua_pushcfunction(L, size_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_setmetatable(L, -2);
}

static int t_size(lua_State *L) {
  gb_tensor *t = gbL_check_tensor(L, 1);
  if (lua_isnoneornil(L, 2)) {
    push_shape(L, t);
    return 1;
  }
  lua_pushinteger(L, t->shape[gbL_check_dim(L, 2, t->ndim, "size")]);
  return 1;
}

static int t_dim(lua_State *L) {
  lua_pushinteger(L, gbL_check_tensor(L, 1)->ndim);
  return 1;
}

static int t_numel(lua_State *L) {
  lua_pushinteger(L, gbL_check_tensor(L, 1)->numel);
  return 1;
}

static int t_len(lua_State *L) {
  gb_tensor *t = gbL_check_tensor(L, 1);
  lua_pushinteger(L, t->ndim ? t->shape[0] : 0);
  return 1;
}

/* Whole float values come back as Lua integers (so `print(x:item())` shows 6, not 6.0).
 * A NaN comes back as the positive quiet NaN, which Lua prints as "nan" (0/0 on x86 makes a
 * NaN with the sign bit set, printed "-nan"). */
static void push_number(lua_State *L, const gb_tensor *t, double v) {
  if (v != v)
    lua_pushnumber(L, (double)NAN);
  else if (gb_dtype_is_float(t->dtype) && !(v == floor(v) && fabs(v) < 9007199254740992.0))
    lua_pushnumber(L, v);
  else
    lua_pushinteger(L, (lua_Integer)v);
}

/* Run fn on a CPU version of t (t itself on the CPU). */
static gb_tensor *host_copy(lua_State *L, gb_tensor *t) {
  gb_state *S = gbL_state(L);
  gb_tensor *h = t;
  if (t->device != GB_CPU)
    GBL_CHECK(L, S, gb_fn_to_device(S, t, GB_CPU, &h));
  else
    gb_tensor_retain(h);
  return h;
}

/* element `flat` (row-major) as a Lua number; integers exactly */
static void push_element(lua_State *L, const gb_tensor *t, int64_t flat) {
  if (gb_dtype_is_float(t->dtype))
    push_number(L, t, gb_tensor_get_flat(t, flat));
  else
    lua_pushinteger(L, (lua_Integer)gb_tensor_get_flat_int(t, flat));
}

static int t_item(lua_State *L) {
  gb_tensor *t = gbL_check_tensor(L, 1);
  if (t->numel != 1) {
    char sb[GB_SHAPE_STRLEN];
    return luaL_error(L,
                      "item: the tensor has shape %s; only one-element tensors convert to "
                      "a number",
                      gb_shape_str(t, sb));
  }
  gb_tensor *h = host_copy(L, t);
  push_element(L, h, 0);
  gb_tensor_release(gbL_state(L), h);
  return 1;
}

static void totable_dim(lua_State *L, const gb_tensor *t, int d, int64_t flat) {
  if (d == t->ndim) {
    push_element(L, t, flat);
    return;
  }
  int64_t inner = 1;
  for (int k = d + 1; k < t->ndim; k++)
    inner *= t->shape[k];
  lua_createtable(L, (int)t->shape[d], 0);
  for (int64_t i = 0; i < t->shape[d]; i++) {
    totable_dim(L, t, d + 1, flat + i * inner);
    lua_rawseti(L, -2, i + 1);
  }
}

static int t_totable(lua_State *L) {
  gb_tensor *h = host_copy(L, gbL_check_tensor(L, 1));
  luaL_checkstack(L, h->ndim + 4, "totable");
  totable_dim(L, h, 0, 0);
  gb_tensor_release(gbL_state(L), h);
  return 1;
}

/* ---- views ----------------------------------------------------------------------------------- */

static int push_result(lua_State *L, gb_state *S, gb_status st, gb_tensor **r) {
  if (st) return gbL_raise(L, S);
  gbL_push_tensor(L, *r);
  return 1;
}

/* view(shape...) requires a contiguous tensor; reshape copies when it must */
static int view_impl(lua_State *L, bool copy_ok) {
  gb_state *S = gbL_state(L);
  gb_tensor *t = gbL_check_tensor(L, 1), *r;
  gb_opargs a = {.in = {t}, .nin = 1};
  int nd = gbL_check_shape(L, 2, a.i + 1);
  a.i[0] = nd;
  if (copy_ok && !gb_tensor_is_contiguous(t)) {
    gb_tensor *c;
    GBL_CHECK(L, S, gb_fn_contiguous(S, t, &c));
    a.in[0] = c;
    gb_status st = gb_op_run(S, GB_OP_RESHAPE, &a, &r);
    gb_tensor_release(S, c);
    return push_result(L, S, st, &r);
  }
  return push_result(L, S, gb_op_run(S, GB_OP_RESHAPE, &a, &r), &r);
}

static int t_view(lua_State *L) {
  return view_impl(L, false);
}
static int t_reshape(lua_State *L) {
  return view_impl(L, true);
}

static int t_view_as(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *t = gbL_check_tensor(L, 1), *o = gbL_check_tensor(L, 2), *r;
  return push_result(L, S, gb_fn_reshape(S, t, o->ndim, o->shape, &r), &r);
}

static int t_flatten(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *t = gbL_check_tensor(L, 1), *r;
  int nd = t->ndim ? t->ndim : 1;
  int start = (int)gbL_opt_dim(L, 2, nd, 0, "flatten");
  int end = (int)gbL_opt_dim(L, 3, nd, nd - 1, "flatten");
  int64_t shape[GB_MAXDIM];
  int k = 0;
  for (int d = 0; d < t->ndim; d++) {
    if (d > start && d <= end)
      shape[k - 1] *= t->shape[d];
    else
      shape[k++] = t->shape[d];
  }
  if (t->ndim == 0) shape[k++] = 1;
  return push_result(L, S, gb_fn_reshape(S, t, k, shape, &r), &r);
}

static int t_transpose(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *t = gbL_check_tensor(L, 1), *r;
  int d0 = gbL_check_dim(L, 2, t->ndim, "transpose"),
      d1 = gbL_check_dim(L, 3, t->ndim, "transpose");
  return push_result(L, S, gb_fn_transpose(S, t, d0, d1, &r), &r);
}

static int t_t(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *t = gbL_check_tensor(L, 1), *r;
  if (t->ndim > 2) {
    char sb[GB_SHAPE_STRLEN];
    return luaL_error(L, "t: expects a tensor with at most 2 dimensions, got %s (use transpose)",
                      gb_shape_str(t, sb));
  }
  if (t->ndim < 2) {
    gb_tensor_retain(t);
    gbL_push_tensor(L, t);
    return 1;
  }
  return push_result(L, S, gb_fn_transpose(S, t, 0, 1, &r), &r);
}

static int t_permute(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *t = gbL_check_tensor(L, 1), *r;
  gb_opargs a = {.in = {t}, .nin = 1};
  int nd = gbL_check_shape(L, 2, a.i + 1);
  for (int d = 0; d < nd; d++) {
    int64_t v = a.i[1 + d];
    a.i[1 + d] = v < 0 ? v + t->ndim : v - 1;
  }
  a.i[0] = nd;
  return push_result(L, S, gb_op_run(S, GB_OP_PERMUTE, &a, &r), &r);
}

static int t_narrow(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *t = gbL_check_tensor(L, 1), *r;
  int d = gbL_check_dim(L, 2, t->ndim, "narrow");
  lua_Integer start = luaL_checkinteger(L, 3), len = luaL_checkinteger(L, 4);
  if (start < 0) start += t->shape[d] + 1;
  gb_opargs a = {.in = {t}, .nin = 1, .i = {d, start - 1, len}};
  return push_result(L, S, gb_op_run(S, GB_OP_NARROW, &a, &r), &r);
}

static int select_impl(lua_State *L, gb_tensor *t, int d, lua_Integer i) {
  gb_state *S = gbL_state(L);
  gb_tensor *r;
  if (t->ndim == 0) return luaL_error(L, "select: cannot index a 0-d tensor");
  if (i < 0) i += t->shape[d] + 1;
  gb_opargs a = {.in = {t}, .nin = 1, .i = {d, i - 1}};
  return push_result(L, S, gb_op_run(S, GB_OP_SELECT, &a, &r), &r);
}

static int t_select(lua_State *L) {
  gb_tensor *t = gbL_check_tensor(L, 1);
  int d = gbL_check_dim(L, 2, t->ndim, "select");
  return select_impl(L, t, d, luaL_checkinteger(L, 3));
}

static int t_squeeze(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *t = gbL_check_tensor(L, 1), *r;
  int only = lua_isnoneornil(L, 2) ? -1 : gbL_check_dim(L, 2, t->ndim, "squeeze");
  int64_t shape[GB_MAXDIM];
  int k = 0;
  for (int d = 0; d < t->ndim; d++)
    if (t->shape[d] != 1 || (only >= 0 && d != only)) shape[k++] = t->shape[d];
  return push_result(L, S, gb_fn_reshape(S, t, k, shape, &r), &r);
}

static int t_unsqueeze(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *t = gbL_check_tensor(L, 1), *r;
  int at = gbL_check_dim(L, 2, t->ndim + 1, "unsqueeze");
  if (t->ndim >= GB_MAXDIM) return luaL_error(L, "unsqueeze: at most %d dimensions", GB_MAXDIM);
  int64_t shape[GB_MAXDIM];
  for (int d = 0, k = 0; d <= t->ndim; d++)
    shape[d] = d == at ? 1 : t->shape[k++];
  return push_result(L, S, gb_fn_reshape(S, t, t->ndim + 1, shape, &r), &r);
}

static int t_expand(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *t = gbL_check_tensor(L, 1), *r;
  int64_t shape[GB_MAXDIM];
  int nd;
  gb_tensor *o = gbL_to_tensor(L, 2);
  if (o) {
    nd = o->ndim;
    memcpy(shape, o->shape, sizeof shape);
  } else {
    nd = gbL_check_shape(L, 2, shape);
  }
  return push_result(L, S, gb_fn_expand(S, t, nd, shape, &r), &r);
}

static int t_contiguous(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *r;
  return push_result(L, S, gb_fn_contiguous(S, gbL_check_tensor(L, 1), &r), &r);
}

static int t_clone(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *r;
  return push_result(L, S, gb_fn_clone(S, gbL_check_tensor(L, 1), &r), &r);
}

/* ---- fields ------------------------------------------------------------------------------------
 */

static int t_index(lua_State *L) {
  gb_tensor *t = gbL_check_tensor(L, 1);
  if (lua_type(L, 2) == LUA_TSTRING) {
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1; /* a method */
    const char *k = lua_tostring(L, 2);
    char db[GB_DEVICE_STRLEN];
    if (strcmp(k, "shape") == 0)
      push_shape(L, t);
    else if (strcmp(k, "dtype") == 0)
      lua_pushstring(L, gb_dtype_name(t->dtype));
    else if (strcmp(k, "device") == 0)
      lua_pushstring(L, gb_device_name(t->device, db));
    else if (strcmp(k, "requires_grad") == 0)
      lua_pushboolean(L, t->requires_grad);
    else if (strcmp(k, "is_leaf") == 0)
      lua_pushboolean(L, t->grad_fn == NULL);
    else if (strcmp(k, "ndim") == 0)
      lua_pushinteger(L, t->ndim);
    else if (strcmp(k, "grad_fn") == 0) {
      if (t->grad_fn)
        lua_pushstring(L, gb_ops[t->grad_fn->op].name);
      else
        lua_pushnil(L);
    } else if (strcmp(k, "grad") == 0) {
      if (t->grad) {
        gb_tensor_retain(t->grad);
        gbL_push_tensor(L, t->grad);
      } else {
        lua_pushnil(L);
      }
    } else if (strcmp(k, "is_cuda") == 0)
      lua_pushboolean(L, gb_device_kind_of(t->device) == GB_KIND_CUDA);
    else
      lua_pushnil(L);
    return 1;
  }
  if (lua_isinteger(L, 2)) return select_impl(L, t, 0, lua_tointeger(L, 2));
  return luaL_error(L, "tensor index: expected a field name or an integer, got %s",
                    luaL_typename(L, 2));
}

static int t_newindex(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *t = gbL_check_tensor(L, 1);
  if (lua_isinteger(L, 2)) { /* t[i] = number | tensor */
    select_impl(L, t, 0, lua_tointeger(L, 2));
    gb_tensor *dst = gbL_check_tensor(L, -1);
    gb_status st;
    if (lua_isnumber(L, 3)) {
      gb_opargs a = {.f = {lua_tonumber(L, 3)}};
      st = gb_op_run_into(S, GB_OP_FILL, &a, dst);
    } else {
      gb_tensor *src = gbL_check_tensor(L, 3), *e;
      GBL_CHECK(L, S, gb_fn_expand(S, src, dst->ndim, dst->shape, &e));
      gb_opargs a = {.in = {e}, .nin = 1, .i = {dst->dtype}};
      st = gb_op_run_into(S, GB_OP_COPY, &a, dst);
      gb_tensor_release(S, e);
    }
    if (st) gbL_raise(L, S);
    return 0;
  }
  const char *k = luaL_checkstring(L, 2);
  if (strcmp(k, "grad") == 0) {
    gb_tensor *g = lua_isnil(L, 3) ? NULL : gbL_check_tensor(L, 3), *c = NULL;
    if (g && (!gb_shape_equal(g, t) || g->device != t->device || g->dtype != t->dtype ||
              !gb_dtype_is_float(t->dtype))) {
      char s0[GB_SHAPE_STRLEN], s1[GB_SHAPE_STRLEN], d0[16], d1[16];
      return luaL_error(
          L, "grad: assigned gradient %s %s on %s does not match the tensor %s %s on %s",
          gb_shape_str(g, s0), gb_dtype_name(g->dtype), gb_device_name(g->device, d0),
          gb_shape_str(t, s1), gb_dtype_name(t->dtype), gb_device_name(t->device, d1));
    }
    if (g) { /* a copy of its own: no aliasing of the value or of the leaf, no expanded view */
      bool was = gb_set_grad_enabled(S, false);
      gb_status st = gb_fn_clone(S, g, &c);
      gb_set_grad_enabled(S, was);
      if (st) return gbL_raise(L, S);
    }
    gb_tensor_release_deferred(S, t->grad); /* an op (or a backward's hook) may be reading it */
    t->grad = c;
    return 0;
  }
  if (strcmp(k, "requires_grad") == 0) {
    lua_settop(L, 3);
    lua_getfield(L, 1, "requires_grad_");
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 3);
    lua_call(L, 2, 0);
    return 0;
  }
  return luaL_error(L, "tensor: cannot set field '%s'", k);
}

static const luaL_Reg methods[] = {
    {"size", t_size},           {"dim", t_dim},
    {"numel", t_numel},         {"nelement", t_numel},
    {"item", t_item},           {"totable", t_totable},
    {"view", t_view},           {"reshape", t_reshape},
    {"view_as", t_view_as},     {"flatten", t_flatten},
    {"transpose", t_transpose}, {"t", t_t},
    {"permute", t_permute},     {"narrow", t_narrow},
    {"select", t_select},       {"squeeze", t_squeeze},
    {"unsqueeze", t_unsqueeze}, {"expand", t_expand},
    {"expand_as", t_expand},    {"contiguous", t_contiguous},
    {"clone", t_clone},         {NULL, NULL},
};

static const luaL_Reg metamethods[] = {
    {"__newindex", t_newindex}, {"__gc", t_gc},   {"__close", t_close},
    {"__tostring", t_tostring}, {"__len", t_len}, {NULL, NULL},
};

void gbL_open_tensor(lua_State *L) {
  /* module table is at -1; the method table is shared by every lgb_*.c through the
   * metatable's __index upvalue and published as gb._tensor_methods */
  luaL_newmetatable(L, GBL_TENSOR_MT);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &MT_KEY);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_pushvalue(L, -1);
  lua_setfield(L, -4, "_tensor_methods");
  lua_pushcclosure(L, t_index, 1);
  lua_setfield(L, -2, "__index");
  luaL_setfuncs(L, metamethods, 0);
  lua_pushliteral(L, "Tensor");
  lua_setfield(L, -2, "__name");
  /* getmetatable(t) answers false: __gc/__close stay out of scripts' reach (they would
   * free a tensor that a binding further up the stack is using). debug.getmetatable still
   * reaches it; the bindings are written to survive that (docs/reliability.md). */
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
}
