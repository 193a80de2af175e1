/* lgb_create.c — tensor creation from Lua: gb.tensor(nested table | number), zeros, ones,
 * full, empty, rand, randn, arange, eye, randperm, the *_like variants, and the RNG and
 * default-device controls. Options tables take dtype=, device=, requires_grad=. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gb_checked.h"
#include "gb_cpu.h"
#include "gb_fn.h"
#include "gb_philox.h"
#include "gb_state.h"
#include "lgb.h"

typedef struct opts {
  gb_dtype dtype;
  gb_device device;
  bool requires_grad;
  bool has_dtype, has_device; /* given in the options table */
} opts;

static bool is_options(lua_State *L, int idx) {
  return lua_istable(L, idx) && lua_rawlen(L, idx) == 0;
}

static void parse_dtype(lua_State *L, int idx, const char *fn, opts *o) {
  if (lua_type(L, idx) != LUA_TSTRING) /* an __index may answer anything */
    luaL_error(L, "%s: option 'dtype' expects a string, got %s", fn, luaL_typename(L, idx));
  const char *n = lua_tostring(L, idx);
  if (!gb_dtype_parse(n, &o->dtype))
    luaL_error(L, "%s: unknown dtype '%s' (expected float32, float64, int32 or int64)", fn, n);
  o->has_dtype = true;
}

/* Read the options at idx over the defaults in *o: nothing (none or nil), a dtype string
 * (gb.ones(2, 'int64')), or a table {dtype=, device=, requires_grad=} whose every key must
 * be one of those ("zeros: unknown option 'dtyp'"). Anything else is an error. */
static void read_opts(lua_State *L, int idx, const char *fn, opts *o) {
  if (lua_isnoneornil(L, idx)) return;
  if (lua_type(L, idx) == LUA_TSTRING) {
    parse_dtype(L, idx, fn, o);
    return;
  }
  if (!is_options(L, idx))
    luaL_error(L,
               "%s: expected an options table {dtype=, device=, requires_grad=} or a dtype "
               "string as argument %d, got %s",
               fn, idx, luaL_typename(L, idx));
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    if (k == NULL || (strcmp(k, "dtype") && strcmp(k, "device") && strcmp(k, "requires_grad"))) {
      lua_pushvalue(L, -2);
      luaL_error(L, "%s: unknown option '%s'", fn, luaL_tolstring(L, -1, NULL));
    }
    bool is_bool = strcmp(k, "requires_grad") == 0;
    if (is_bool ? !lua_isboolean(L, -1) : lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "%s: option '%s' expects a %s, got %s", fn, k, is_bool ? "boolean" : "string",
                 luaL_typename(L, -1));
    lua_pop(L, 1);
  }
  if (lua_getfield(L, idx, "dtype") != LUA_TNIL) {
    parse_dtype(L, -1, fn, o);
  }
  if (lua_getfield(L, idx, "device") != LUA_TNIL) {
    const char *n = luaL_checkstring(L, -1);
    if (!gb_device_parse(n, &o->device))
      luaL_error(L, "%s: unknown device '%s' (expected cpu, cuda or cuda:N)", fn, n);
    o->has_device = true;
  }
  if (lua_getfield(L, idx, "requires_grad") != LUA_TNIL) o->requires_grad = lua_toboolean(L, -1);
  lua_pop(L, 3);
}

static opts default_opts(lua_State *L) {
  gb_state *S = gbL_state(L);
  opts o = {gb_state_default_dtype(S), gb_state_default_device(S), false, false, false};
  return o;
}

/* Shape from args 1.. (numbers or a table), then an optional options table. */
static int shape_and_opts(lua_State *L, const char *fn, int64_t *shape, opts *o) {
  gbL_enter(L); /* every creation from sizes starts here, before any pointer is taken */
  *o = default_opts(L);
  if (lua_type(L, 1) != LUA_TNUMBER && !lua_istable(L, 1))
    luaL_error(L, "%s: expected sizes (numbers or one table), got %s", fn, luaL_typename(L, 1));
  int nd = gbL_check_shape(L, 1, shape);
  int next = lua_istable(L, 1) && !is_options(L, 1) ? 2 : nd + 1;
  read_opts(L, next, fn, o);
  if (!lua_isnone(L, next + 1))
    luaL_error(L, "%s: unexpected argument %d (%s) after the options", fn, next + 1,
               luaL_typename(L, next + 1));
  return nd;
}

/* A new tensor for creator `fn`; a size the core refuses (negative, past the 2^36 cap) is
 * an error naming fn: "zeros: out of memory: tensor of shape (...) needs ... GiB". A failed
 * allocation or a spent budget keeps the allocator's message. */
static gb_tensor *new_tensor(lua_State *L, const char *fn, int nd, const int64_t *shape,
                             const opts *o) {
  gb_state *S = gbL_state(L);
  gb_tensor *t;
  gb_status st = gb_tensor_empty(S, nd, shape, o->dtype, o->device, &t);
  if (st) {
    char msg[GB_ERRLEN];
    const char *e = gb_state_error(S);
    bool shape_err = strncmp(e, "tensor: ", 8) == 0;
    if (shape_err || strncmp(e, "out of memory: tensor of shape ", 31) == 0) {
      snprintf(msg, sizeof msg, "%s", shape_err ? e + 8 : e);
      gb_errorf(S, st, "%s: %s", fn, msg);
    }
    gbL_raise(L, S);
  }
  gbL_push_tensor(L, t); /* owned by Lua from here on: an error below cannot leak it */
  return t;
}

static int finish(lua_State *L, gb_tensor *t, const opts *o) {
  if (o->requires_grad) {
    if (!gb_dtype_is_float(t->dtype))
      return luaL_error(L, "requires_grad: only float32 and float64 tensors can require grad");
    t->requires_grad = true;
  }
  return 1;
}

static void fill_into(lua_State *L, gb_opid id, gb_tensor *t, double f0, double f1) {
  gb_state *S = gbL_state(L);
  gb_opargs a = {.f = {f0, f1}};
  if (id == GB_OP_UNIFORM || id == GB_OP_NORMAL) {
    uint64_t seed;
    gb_state_get_seed(S, &seed, NULL);
    a.i[0] = (int64_t)seed;
    a.i[1] = (int64_t)gb_rng_take(S, gb_philox_counters(t->numel, t->dtype == GB_F64));
  }
  bool was = gb_set_grad_enabled(S, false);
  gb_status st = gb_op_run_into(S, id, &a, t);
  gb_set_grad_enabled(S, was);
  if (st) gbL_raise(L, S);
}

static int create_filled(lua_State *L, const char *fn, gb_opid id, double f0, double f1) {
  int64_t shape[GB_MAXDIM];
  opts o;
  int nd = shape_and_opts(L, fn, shape, &o);
  gb_tensor *t = new_tensor(L, fn, nd, shape, &o);
  fill_into(L, id, t, f0, f1);
  return finish(L, t, &o);
}

static int l_zeros(lua_State *L) {
  return create_filled(L, "zeros", GB_OP_FILL, 0, 0);
}
static int l_ones(lua_State *L) {
  return create_filled(L, "ones", GB_OP_FILL, 1, 0);
}
static int l_rand(lua_State *L) {
  return create_filled(L, "rand", GB_OP_UNIFORM, 0, 1);
}
static int l_randn(lua_State *L) {
  return create_filled(L, "randn", GB_OP_NORMAL, 0, 1);
}

static int l_empty(lua_State *L) {
  int64_t shape[GB_MAXDIM];
  opts o;
  int nd = shape_and_opts(L, "empty", shape, &o);
  return finish(L, new_tensor(L, "empty", nd, shape, &o), &o);
}

static int l_full(lua_State *L) {
  int64_t shape[GB_MAXDIM];
  opts o = default_opts(L);
  int nd;
  if (lua_istable(L, 1)) {
    nd = gbL_check_shape(L, 1, shape);
  } else {
    nd = 1;
    shape[0] = luaL_checkinteger(L, 1);
  }
  double v = luaL_checknumber(L, 2);
  read_opts(L, 3, "full", &o);
  gb_tensor *t = new_tensor(L, "full", nd, shape, &o);
  fill_into(L, GB_OP_FILL, t, v, 0);
  return finish(L, t, &o);
}

/* *_like(t [, opts]): shape, dtype and device of t. The options are read before `like` is
 * taken: their __index may run Lua code that closes it. */
static int create_like(lua_State *L, const char *fn, gb_opid id, double f0, double f1, bool fill) {
  opts o = default_opts(L);
  read_opts(L, 2, fn, &o);
  gb_tensor *like = gbL_check_tensor(L, 1);
  if (!o.has_dtype) o.dtype = like->dtype;
  if (!o.has_device) o.device = like->device;
  gb_tensor *t = new_tensor(L, fn, like->ndim, like->shape, &o);
  if (fill) fill_into(L, id, t, f0, f1);
  return finish(L, t, &o);
}

static int l_zeros_like(lua_State *L) {
  return create_like(L, "zeros_like", GB_OP_FILL, 0, 0, true);
}
static int l_ones_like(lua_State *L) {
  return create_like(L, "ones_like", GB_OP_FILL, 1, 0, true);
}
static int l_rand_like(lua_State *L) {
  return create_like(L, "rand_like", GB_OP_UNIFORM, 0, 1, true);
}
static int l_randn_like(lua_State *L) {
  return create_like(L, "randn_like", GB_OP_NORMAL, 0, 1, true);
}
static int l_empty_like(lua_State *L) {
  return create_like(L, "empty_like", GB_OP_FILL, 0, 0, false);
}
static int l_full_like(lua_State *L) {
  double v = luaL_checknumber(L, 2);
  lua_remove(L, 2);
  return create_like(L, "full_like", GB_OP_FILL, v, 0, true);
}

/* A number for a message: whole numbers below 2^63 exactly, others with 15 digits. */
static const char *num_str(double v, char *buf) {
  if (v == floor(v) && fabs(v) < 9.2e18)
    snprintf(buf, 32, "%.0f", v);
  else
    snprintf(buf, 32, "%.15g", v);
  return buf;
}

/* arange(stop) | arange(start, stop [, step]): start, start+step, ... < stop (as PyTorch) */
static int l_arange(lua_State *L) {
  int n = lua_gettop(L);
  while (n > 0 && (lua_istable(L, n) || lua_type(L, n) == LUA_TSTRING))
    n--;
  double start = 0, stop, step = 1;
  if (n <= 1) {
    stop = luaL_checknumber(L, 1);
  } else {
    start = luaL_checknumber(L, 1);
    stop = luaL_checknumber(L, 2);
    if (n >= 3) step = luaL_checknumber(L, 3);
  }
  if (step == 0 || !isfinite(start) || !isfinite(stop) || !isfinite(step))
    return luaL_error(L, "arange: step must be non-zero and bounds finite");
  double cnt = ceil((stop - start) / step); /* +inf when the span overflows a double */
  if (cnt < 0) cnt = 0;
  if (!(cnt <= (double)GB_MAX_NUMEL)) { /* checked before the count becomes an integer */
    char b[4][32];
    return luaL_error(L,
                      "arange: from %s to %s by %s is %s elements, more than a tensor may have "
                      "(" GB_MAX_NUMEL_STR ")",
                      num_str(start, b[0]), num_str(stop, b[1]), num_str(step, b[2]),
                      num_str(cnt, b[3]));
  }
  opts o = default_opts(L); /* the default float dtype even for integer bounds (API.md) */
  read_opts(L, n + 1, "arange", &o);
  int64_t shape[1] = {(int64_t)cnt};
  gb_tensor *t = new_tensor(L, "arange", 1, shape, &o);
  fill_into(L, GB_OP_ARANGE, t, start, step);
  return finish(L, t, &o);
}

/* gb.linspace(start, end, steps [, opts]): steps evenly spaced values from start to end
 * inclusive (float32 unless opts.dtype says otherwise), as torch.linspace */
static int l_linspace(lua_State *L) {
  double start = luaL_checknumber(L, 1), stop = luaL_checknumber(L, 2);
  if (!lua_isinteger(L, 3))
    return luaL_error(L, "linspace: steps must be an integer, got %s", luaL_typename(L, 3));
  lua_Integer steps = lua_tointeger(L, 3);
  if (steps < 0) return luaL_error(L, "linspace: steps must be >= 0, got %I", (LUAI_UACINT)steps);
  if (!isfinite(start) || !isfinite(stop))
    return luaL_error(L, "linspace: start and end must be finite");
  opts o = default_opts(L);
  read_opts(L, 4, "linspace", &o);
  if (!gb_value_fits(o.dtype, start) || !gb_value_fits(o.dtype, stop))
    return luaL_error(L, "linspace: start %g and end %g do not fit %s", start, stop,
                      gb_dtype_name(o.dtype));
  int64_t shape[1] = {(int64_t)steps};
  gb_tensor *t = new_tensor(L, "linspace", 1, shape, &o);
  fill_into(L, GB_OP_LINSPACE, t, start, stop);
  return finish(L, t, &o);
}

static int l_eye(lua_State *L) {
  int64_t n = luaL_checkinteger(L, 1);
  int64_t m = lua_isinteger(L, 2) ? lua_tointeger(L, 2) : n;
  opts o = default_opts(L);
  read_opts(L, lua_isinteger(L, 2) ? 3 : 2, "eye", &o);
  int64_t shape[2] = {n, m};
  gb_tensor *t = new_tensor(L, "eye", 2, shape, &o);
  fill_into(L, GB_OP_EYE, t, 0, 0);
  return finish(L, t, &o);
}

/* A random permutation of 1..n (int64) from the gb RNG. Made on the CPU (gb_cpu_randperm) and
 * copied for another device: there is no device kernel for it (a shuffle of indices, once
 * per epoch, is not worth one). */
static int l_randperm(lua_State *L) {
  gb_state *S = gbL_enter(L);
  int64_t n = luaL_checkinteger(L, 1);
  if (n < 0) return luaL_error(L, "randperm: n must be >= 0, got %I", (lua_Integer)n);
  if (n > GB_MAX_NUMEL)
    return luaL_error(
        L, "randperm: n = %I is more elements than a tensor may have (" GB_MAX_NUMEL_STR ")",
        (lua_Integer)n);
  opts o = default_opts(L);
  o.dtype = GB_I64;
  read_opts(L, 2, "randperm", &o);
  opts host = o;
  host.device = GB_CPU;
  int64_t shape[1] = {n};
  gb_tensor *t = new_tensor(L, "randperm", 1, shape, &host);
  gb_cpu_randperm(S, t);
  if (o.device != GB_CPU) {
    gb_tensor *d;
    GBL_CHECK(L, S, gb_fn_to_device(S, t, o.device, &d));
    gbL_push_tensor(L, d);
  }
  return 1;
}

/* ---- gb.tensor(nested table | number [, opts]) ---- */

static void nested_shape(lua_State *L, int idx, int *nd, int64_t *shape) {
  *nd = 0;
  lua_pushvalue(L, idx);
  while (lua_istable(L, -1)) {
    if (*nd == GB_MAXDIM) luaL_error(L, "tensor: more than %d nesting levels", GB_MAXDIM);
    shape[(*nd)++] = (int64_t)lua_rawlen(L, -1);
    if (lua_rawlen(L, -1) == 0) break;
    lua_rawgeti(L, -1, 1);
    lua_remove(L, -2);
  }
  lua_pop(L, 1);
}

static void fill_nested(lua_State *L, const gb_tensor *t, int d, int64_t *pos, int idx) {
  if (d == t->ndim) {
    int ok;
    lua_Number v = lua_tonumberx(L, idx, &ok);
    if (!ok) {
      if (lua_isboolean(L, idx))
        v = lua_toboolean(L, idx);
      else
        luaL_error(L, "tensor: element %I is %s, expected a number", (lua_Integer)*pos + 1,
                   luaL_typename(L, idx));
    }
    char *base = gb_tensor_data(t);
    if (!lua_isinteger(L, idx) && !gb_value_fits(t->dtype, v)) {
      char vb[32];
      luaL_error(L, "tensor: element %I is %s, which %s cannot hold", (lua_Integer)*pos + 1,
                 gb_value_str(v, vb), gb_dtype_name(t->dtype));
    }
    if (t->dtype == GB_I32 && lua_isinteger(L, idx) &&
        (lua_tointeger(L, idx) < INT32_MIN || lua_tointeger(L, idx) > INT32_MAX))
      luaL_error(L, "tensor: element %I is %I, which int32 cannot hold", (lua_Integer)*pos + 1,
                 lua_tointeger(L, idx));
    if (t->dtype == GB_I64 && lua_isinteger(L, idx)) /* exact beyond 2^53 */
      ((int64_t *)base)[*pos] = (int64_t)lua_tointeger(L, idx);
    else if (t->dtype == GB_F32)
      ((float *)base)[*pos] = (float)v;
    else if (t->dtype == GB_F64)
      ((double *)base)[*pos] = v;
    else if (t->dtype == GB_I32)
      ((int32_t *)base)[*pos] = (int32_t)v;
    else
      ((int64_t *)base)[*pos] = (int64_t)v;
    (*pos)++;
    return;
  }
  if (!lua_istable(L, idx) || (int64_t)lua_rawlen(L, idx) != t->shape[d])
    luaL_error(L, "tensor: ragged nested table (expected %I entries at depth %d)",
               (lua_Integer)t->shape[d], d + 1);
  luaL_checkstack(L, 4, "tensor");
  for (int64_t i = 1; i <= t->shape[d]; i++) {
    lua_rawgeti(L, idx, i);
    fill_nested(L, t, d + 1, pos, lua_gettop(L));
    lua_pop(L, 1);
  }
}

static int l_tensor(lua_State *L) {
  gb_state *S = gbL_enter(L);
  opts o = default_opts(L);
  read_opts(L, 2, "tensor", &o);
  gb_tensor *src = gbL_to_tensor(L, 1);
  if (src) { /* a copy of a tensor */
    gb_tensor *c;
    GBL_CHECK(L, S, gb_fn_to_dtype(S, src, o.dtype, &c));
    gbL_push_tensor(L, c);
    return 1;
  }
  if (!lua_istable(L, 1) && !lua_isnumber(L, 1) && !lua_isboolean(L, 1))
    return luaL_error(L, "tensor: expected a number or a nested table of numbers, got %s",
                      luaL_typename(L, 1));
  int nd;
  int64_t shape[GB_MAXDIM];
  nested_shape(L, 1, &nd, shape);
  opts host = o;
  host.device = GB_CPU;
  gb_tensor *t = new_tensor(L, "tensor", nd, shape, &host);
  int64_t pos = 0;
  fill_nested(L, t, 0, &pos, 1);
  if (o.device != GB_CPU) {
    gb_tensor *d;
    GBL_CHECK(L, S, gb_fn_to_device(S, t, o.device, &d));
    gbL_push_tensor(L, d);
    t = d;
  }
  return finish(L, t, &o);
}

/* ---- RNG and defaults ---- */

static int l_manual_seed(lua_State *L) {
  gb_state_set_seed(gbL_state(L), (uint64_t)luaL_checkinteger(L, 1), 0);
  return 0;
}

static int l_initial_seed(lua_State *L) {
  uint64_t seed;
  gb_state_get_seed(gbL_state(L), &seed, NULL);
  lua_pushinteger(L, (lua_Integer)seed);
  return 1;
}

/* RNG state as {seed, offset}, for checkpoints */
static int l_get_rng_state(lua_State *L) {
  uint64_t seed, offset;
  gb_state_get_seed(gbL_state(L), &seed, &offset);
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, (lua_Integer)seed);
  lua_setfield(L, -2, "seed");
  lua_pushinteger(L, (lua_Integer)offset);
  lua_setfield(L, -2, "offset");
  return 1;
}

static int l_set_rng_state(lua_State *L) {
  gb_state *S = gbL_state(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "seed");
  lua_getfield(L, 1, "offset");
  gb_state_set_seed(S, (uint64_t)luaL_checkinteger(L, -2), (uint64_t)luaL_checkinteger(L, -1));
  return 0;
}

static int l_set_default_device(lua_State *L) {
  gb_state *S = gbL_state(L);
  const char *n = luaL_checkstring(L, 1);
  gb_device d;
  if (!gb_device_parse(n, &d))
    return luaL_error(L, "set_default_device: unknown device '%s' (expected cpu, cuda or cuda:N)",
                      n);
  GBL_CHECK(L, S, gb_state_set_default_device(S, d)); /* refuses a device we cannot use */
  return 0;
}

/* set_default_dtype('float32' | 'float64' | 'double'): an integer dtype is the core's error */
static int l_set_default_dtype(lua_State *L) {
  const char *n = luaL_checkstring(L, 1);
  gb_dtype dt;
  if (!gb_dtype_parse(n, &dt))
    return luaL_error(L, "set_default_dtype: unknown dtype '%s' (expected float32 or float64)", n);
  GBL_CHECK(L, gbL_state(L), gb_state_set_default_dtype(gbL_state(L), dt));
  return 0;
}

static int l_get_default_dtype(lua_State *L) {
  lua_pushstring(L, gb_dtype_name(gb_state_default_dtype(gbL_state(L))));
  return 1;
}

static int l_get_default_device(lua_State *L) {
  char b[GB_DEVICE_STRLEN];
  lua_pushstring(L, gb_device_name(gb_state_default_device(gbL_state(L)), b));
  return 1;
}

static const luaL_Reg fns[] = {
    {"tensor", l_tensor},
    {"zeros", l_zeros},
    {"ones", l_ones},
    {"full", l_full},
    {"empty", l_empty},
    {"rand", l_rand},
    {"randn", l_randn},
    {"arange", l_arange},
    {"eye", l_eye},
    {"linspace", l_linspace},
    {"randperm", l_randperm},
    {"zeros_like", l_zeros_like},
    {"ones_like", l_ones_like},
    {"full_like", l_full_like},
    {"empty_like", l_empty_like},
    {"rand_like", l_rand_like},
    {"randn_like", l_randn_like},
    {"manual_seed", l_manual_seed},
    {"initial_seed", l_initial_seed},
    {"get_rng_state", l_get_rng_state},
    {"set_rng_state", l_set_rng_state},
    {"set_default_device", l_set_default_device},
    {"get_default_device", l_get_default_device},
    {"set_default_dtype", l_set_default_dtype},
    {"get_default_dtype", l_get_default_dtype},
    {NULL, NULL},
};

/* in-place random fills as tensor methods: uniform_(lo, hi), normal_(mean, std) */
static int m_uniform_(lua_State *L) {
  gb_tensor *t = gbL_check_tensor(L, 1);
  fill_into(L, GB_OP_UNIFORM, t, luaL_optnumber(L, 2, 0), luaL_optnumber(L, 3, 1));
  lua_settop(L, 1);
  return 1;
}

static int m_normal_(lua_State *L) {
  gb_tensor *t = gbL_check_tensor(L, 1);
  fill_into(L, GB_OP_NORMAL, t, luaL_optnumber(L, 2, 0), luaL_optnumber(L, 3, 1));
  lua_settop(L, 1);
  return 1;
}

static int m_fill_(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *t = gbL_check_tensor(L, 1);
  gb_opargs a = {.f = {luaL_checknumber(L, 2)}};
  GBL_CHECK(L, S, gb_op_run_into(S, GB_OP_FILL, &a, t));
  lua_settop(L, 1);
  return 1;
}

static int m_zero_(lua_State *L) {
  lua_settop(L, 1);
  lua_pushinteger(L, 0);
  return m_fill_(L);
}

static const luaL_Reg methods[] = {
    {"uniform_", m_uniform_}, {"normal_", m_normal_}, {"fill_", m_fill_},
    {"zero_", m_zero_},       {NULL, NULL},
};

void gbL_open_create(lua_State *L) {
  luaL_setfuncs(L, fns, 0);
  gbL_add_methods(L, methods);
}
