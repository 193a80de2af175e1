/* lgb_nn.c — the internal module functions behind the nn layers of issue 15 (gb._conv2d,
 * gb._avg_pool2d, gb._adaptive_avg_pool2d, gb._batch_norm): raw positional arguments, checked
 * by the rows' shape rules; the lua/gpubp/nn classes are their only intended callers. */
#include "gb_dnnl.h"
#include "gb_state.h"
#include "gb_window.h"
#include "lgb.h"

static int push_result(lua_State *L, gb_state *S, gb_status st, gb_tensor **r) {
  if (st) return gbL_raise(L, S);
  gbL_push_tensor(L, *r);
  return 1;
}

static void window_args(lua_State *L, int idx, gb_opargs *a) {
  for (int k = 0; k < 6; k++)
    a->i[k] = luaL_checkinteger(L, idx + k);
}

/* gb._conv2d(x, w, b, kh, kw, sh, sw, ph, pw [, dh=1, dw=1, groups=1]) -> (N, O, OH, OW) */
static int l_conv2d(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *r;
  gb_opargs a = {.in = {gbL_check_tensor(L, 1), gbL_check_tensor(L, 2), gbL_check_tensor(L, 3)},
                 .nin = 3};
  window_args(L, 4, &a);
  a.i[GB_WIN_DH] = luaL_optinteger(L, 10, 1);
  a.i[GB_WIN_DW] = luaL_optinteger(L, 11, 1);
  a.i[GB_WIN_GROUPS] = luaL_optinteger(L, 12, 1);
  if (a.i[GB_WIN_DH] < 1 || a.i[GB_WIN_DW] < 1 || a.i[GB_WIN_GROUPS] < 1) /* the row reads 0 as 1 */
    return luaL_error(L, "conv2d: dilation %Ix%I and groups %I must be >= 1",
                      (LUAI_UACINT)a.i[GB_WIN_DH], (LUAI_UACINT)a.i[GB_WIN_DW],
                      (LUAI_UACINT)a.i[GB_WIN_GROUPS]);
  return push_result(L, S, gb_op_run(S, GB_OP_CONV2D, &a, &r), &r);
}

/* gb._avg_pool2d(x, kh, kw, sh, sw, ph, pw, count_include_pad [, ceil_mode=false
 * [, divisor_override (nil: none)]]) -> (N, C, OH, OW) */
static int l_avg_pool2d(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *r;
  gb_opargs a = {.in = {gbL_check_tensor(L, 1)}, .nin = 1};
  window_args(L, 2, &a);
  luaL_checktype(L, 8, LUA_TBOOLEAN);
  a.i[6] = lua_toboolean(L, 8);
  a.i[GB_WIN_CEIL] = lua_toboolean(L, 9);
  if (!lua_isnoneornil(L, 10)) {
    a.i[7] = luaL_checkinteger(L, 10);
    if (a.i[7] < 1) /* the row reads 0 as none */
      return luaL_error(L, "avg_pool2d: divisor_override must be > 0, got %I", (LUAI_UACINT)a.i[7]);
  }
  return push_result(L, S, gb_op_run(S, GB_OP_AVG_POOL2D, &a, &r), &r);
}

/* gb._adaptive_avg_pool2d(x, oh, ow) -> (N, C, oh, ow) */
static int l_adaptive_avg_pool2d(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *r;
  gb_opargs a = {.in = {gbL_check_tensor(L, 1)}, .nin = 1};
  a.i[0] = luaL_checkinteger(L, 2);
  a.i[1] = luaL_checkinteger(L, 3);
  return push_result(L, S, gb_op_run(S, GB_OP_ADAPTIVE_AVG_POOL2D, &a, &r), &r);
}

/* gb._batch_norm(x, w, b, eps) -> y, stats (2, C): batch mean and biased variance */
static int l_batch_norm(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *r[2] = {NULL, NULL};
  gb_opargs a = {.in = {gbL_check_tensor(L, 1), gbL_check_tensor(L, 2), gbL_check_tensor(L, 3)},
                 .nin = 3,
                 .f = {luaL_checknumber(L, 4)}};
  if (gb_op_run(S, GB_OP_BATCH_NORM, &a, r)) return gbL_raise(L, S);
  gbL_push_tensor(L, r[0]);
  gbL_push_tensor(L, r[1]);
  return 2;
}

/* gb._conv_dnnl([mode]) -> previous mode, library description. mode 'auto' (oneDNN where it
 * measured faster), 'off' (the rows' own kernels) or 'always' (oneDNN for every pass it
 * takes): a switch for tests and benchmarks, process-wide. */
static int l_conv_dnnl(lua_State *L) {
  static const char *const modes[] = {"auto", "off", "always", NULL};
  gb_dnnl_mode was;
  if (lua_isnoneornil(L, 1)) {
    was = gb_dnnl_set_mode(GB_DNNL_AUTO);
    gb_dnnl_set_mode(was);
  } else {
    was = gb_dnnl_set_mode((gb_dnnl_mode)luaL_checkoption(L, 1, NULL, modes));
  }
  lua_pushstring(L, modes[was]);
  lua_pushstring(L, gb_dnnl_name());
  return 2;
}

static const luaL_Reg nn_fns[] = {
    {"_conv2d", l_conv2d},         {"_conv_dnnl", l_conv_dnnl},
    {"_avg_pool2d", l_avg_pool2d}, {"_adaptive_avg_pool2d", l_adaptive_avg_pool2d},
    {"_batch_norm", l_batch_norm}, {NULL, NULL},
};

void gbL_open_nn(lua_State *L) {
  luaL_setfuncs(L, nn_fns, 0);
}
