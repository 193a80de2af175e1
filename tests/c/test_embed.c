/* test_embed.c — the C embedding API (gpubp.h): statuses and messages for bad scripts and
 * bad arguments, tensors copied in and out by global name and stack slot (contiguous,
 * transposed, integer), stack balance, and two runtimes living side by side. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "gpubp.h"
#include "check.h"

static gpubp_runtime *open_cpu(void) {
  gpubp_options opt;
  gpubp_options_init(&opt);
  opt.device = "cpu";
  gpubp_runtime *rt = NULL;
  CHECK_ST(rt, gpubp_open(&opt, &rt), GPUBP_OK);
  return rt;
}

static void test_errors(void) {
  gpubp_runtime *rt = open_cpu();
  lua_State *L = gpubp_lua(rt);
  int top = lua_gettop(L);
  CHECK_ST(rt, gpubp_dostring(rt, "x = 1 +", "=bad"), GPUBP_ERRSYNTAX);
  CHECK(strstr(gpubp_errmsg(rt), "bad:1:") != NULL);
  CHECK_ST(rt, gpubp_dostring(rt, "error('boom')", "=script"), GPUBP_ERRRUN);
  CHECK(strstr(gpubp_errmsg(rt), "script:1: boom") != NULL);
  CHECK(strstr(gpubp_errmsg(rt), "stack traceback") != NULL);
  /* a core error surfaces as a Lua error naming the op, then as a status here */
  CHECK_ST(rt, gpubp_dostring(rt, "local t = gb.ones(2, 3):matmul(gb.ones(2, 3))", NULL),
           GPUBP_ERRRUN);
  CHECK(strstr(gpubp_errmsg(rt), "matmul") != NULL);
  CHECK_ST(rt, gpubp_dofile(rt, "/nonexistent/dir/script.lua"), GPUBP_ERRFILE);
  CHECK(strstr(gpubp_errmsg(rt), "nonexistent") != NULL);
  /* the runtime goes on after errors, and a success clears the message */
  CHECK_ST(rt, gpubp_dostring(rt, "ok_after = 1 + 1", NULL), GPUBP_OK);
  CHECK(strcmp(gpubp_errmsg(rt), "") == 0);
  double v = 0;
  CHECK_ST(rt, gpubp_get_number(rt, "ok_after", &v), GPUBP_OK);
  CHECK(v == 2.0);
  CHECK_ST(rt, gpubp_get_number(rt, "undefined_global", &v), GPUBP_ERRTYPE);
  /* bad arguments */
  CHECK_ST(rt, gpubp_dostring(rt, NULL, NULL), GPUBP_ERRARG);
  CHECK_ST(NULL, gpubp_dostring(NULL, "x = 1", NULL), GPUBP_ERRARG);
  int64_t shape[GPUBP_MAXDIM] = {2, -1};
  float data[4] = {0};
  CHECK_ST(rt, gpubp_set_tensor(rt, "T", data, 2, shape), GPUBP_ERRARG);
  CHECK_ST(rt, gpubp_set_tensor(rt, "T", data, 9, shape), GPUBP_ERRARG);
  CHECK_ST(rt, gpubp_set_tensor(rt, "T", NULL, 1, shape), GPUBP_ERRARG);
  /* lua_pcall-like call with traceback */
  lua_getglobal(L, "error");
  lua_pushstring(L, "from pcall");
  CHECK_ST(rt, gpubp_pcall(rt, 1, 0), GPUBP_ERRRUN);
  CHECK(strstr(gpubp_errmsg(rt), "from pcall") != NULL);
  lua_getglobal(L, "tostring");
  lua_pushinteger(L, 7);
  CHECK_ST(rt, gpubp_pcall(rt, 1, 1), GPUBP_OK);
  CHECK(lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), "7") == 0);
  lua_pop(L, 1);
  CHECK(lua_gettop(L) == top);
  CHECK_ST(rt, gpubp_close(rt), GPUBP_OK);
  CHECK_ST(NULL, gpubp_close(NULL), GPUBP_OK);
}

static void test_tensors(void) {
  gpubp_runtime *rt = open_cpu();
  lua_State *L = gpubp_lua(rt);
  int top = lua_gettop(L);
  const float x[6] = {1, 2, 3, 4, 5, 6};
  const int64_t shape[2] = {2, 3};
  CHECK_ST(rt, gpubp_set_tensor(rt, "X", x, 2, shape), GPUBP_OK);
  CHECK_ST(rt, gpubp_dostring(rt, "Y = X * 2 + 1; S = X:sum(); XT = X:t()", NULL), GPUBP_OK);

  float buf[16];
  int ndim = -1;
  int64_t sh[GPUBP_MAXDIM];
  size_t numel = 0;
  CHECK_ST(rt, gpubp_get_tensor(rt, "Y", buf, 16, &ndim, sh, &numel), GPUBP_OK);
  CHECK(ndim == 2 && sh[0] == 2 && sh[1] == 3 && numel == 6);
  for (int i = 0; i < 6; i++)
    CHECK(buf[i] == x[i] * 2 + 1);

  /* a transposed view comes out in its own row-major order */
  CHECK_ST(rt, gpubp_get_tensor(rt, "XT", buf, 16, &ndim, sh, &numel), GPUBP_OK);
  CHECK(ndim == 2 && sh[0] == 3 && sh[1] == 2);
  const float xt[6] = {1, 4, 2, 5, 3, 6};
  for (int i = 0; i < 6; i++)
    CHECK(buf[i] == xt[i]);

  /* size query, then a buffer too small (shape still reported, nothing written) */
  CHECK_ST(rt, gpubp_get_tensor(rt, "X", NULL, 0, &ndim, sh, &numel), GPUBP_OK);
  CHECK(numel == 6);
  buf[0] = -99;
  CHECK_ST(rt, gpubp_get_tensor(rt, "X", buf, 5, &ndim, sh, &numel), GPUBP_ERRARG);
  CHECK(buf[0] == -99 && numel == 6);
  CHECK(strstr(gpubp_errmsg(rt), "too small") != NULL);

  /* not a tensor */
  CHECK_ST(rt, gpubp_dostring(rt, "NOT_T = {1, 2}", NULL), GPUBP_OK);
  CHECK_ST(rt, gpubp_get_tensor(rt, "NOT_T", buf, 16, &ndim, sh, &numel), GPUBP_ERRTYPE);
  CHECK_ST(rt, gpubp_get_tensor(rt, "MISSING", buf, 16, &ndim, sh, &numel), GPUBP_ERRTYPE);

  /* one-element tensors read as numbers; integer tensors convert to float */
  double s = 0;
  CHECK_ST(rt, gpubp_get_number(rt, "S", &s), GPUBP_OK);
  CHECK(s == 21.0);
  CHECK_ST(rt, gpubp_dostring(rt, "I = gb.tensor({{1, 2}, {3, 4}}, {dtype = 'int64'})", NULL),
           GPUBP_OK);
  CHECK_ST(rt, gpubp_get_tensor(rt, "I", buf, 16, &ndim, sh, &numel), GPUBP_OK);
  CHECK(numel == 4 && buf[0] == 1 && buf[3] == 4);

  /* scalar (ndim 0) and empty tensors */
  const float one = 3.5f;
  CHECK_ST(rt, gpubp_set_tensor(rt, "Z", &one, 0, NULL), GPUBP_OK);
  CHECK_ST(rt, gpubp_get_tensor(rt, "Z", buf, 1, &ndim, sh, &numel), GPUBP_OK);
  CHECK(ndim == 0 && numel == 1 && buf[0] == 3.5f);
  const int64_t empty_shape[1] = {0};
  CHECK_ST(rt, gpubp_set_tensor(rt, "E", NULL, 1, empty_shape), GPUBP_OK);
  CHECK_ST(rt, gpubp_get_tensor(rt, "E", buf, 0, &ndim, sh, &numel), GPUBP_OK);
  CHECK(ndim == 1 && sh[0] == 0 && numel == 0);

  /* stack variants */
  CHECK_ST(rt, gpubp_push_tensor(rt, x, 2, shape), GPUBP_OK);
  CHECK(lua_gettop(L) == top + 1);
  lua_getfield(L, -1, "sum"); /* t:sum():item() through the Lua API */
  lua_pushvalue(L, -2);
  CHECK_ST(rt, gpubp_pcall(rt, 1, 1), GPUBP_OK);
  lua_getfield(L, -1, "item");
  lua_insert(L, -2);
  CHECK_ST(rt, gpubp_pcall(rt, 1, 1), GPUBP_OK);
  CHECK(fabs(lua_tonumber(L, -1) - 21.0) < 1e-6);
  lua_pop(L, 1);
  CHECK_ST(rt, gpubp_to_tensor(rt, -1, buf, 16, &ndim, sh, &numel), GPUBP_OK);
  CHECK(numel == 6 && buf[5] == 6);
  lua_pushinteger(L, 5);
  CHECK_ST(rt, gpubp_to_tensor(rt, -1, buf, 16, &ndim, sh, &numel), GPUBP_ERRTYPE);
  CHECK_ST(rt, gpubp_to_tensor(rt, 99, buf, 16, &ndim, sh, &numel), GPUBP_ERRARG);
  lua_pop(L, 2);
  CHECK(lua_gettop(L) == top);
  gpubp_close(rt);
}

static void test_two_runtimes(void) {
  gpubp_runtime *a = open_cpu(), *b = open_cpu();
  CHECK(a != b && gpubp_lua(a) != gpubp_lua(b));
  CHECK_ST(a, gpubp_dostring(a, "only_in_a = gb.ones(3)", NULL), GPUBP_OK);
  CHECK_ST(b, gpubp_dostring(b, "assert(only_in_a == nil)", NULL), GPUBP_OK);
  CHECK_ST(b, gpubp_dostring(b, "error('b fails')", NULL), GPUBP_ERRRUN);
  CHECK(strcmp(gpubp_errmsg(a), "") == 0); /* errors are per runtime */
  /* same seed, same numbers, in each runtime */
  CHECK_ST(a, gpubp_dostring(a, "gb.manual_seed(5); R = gb.rand(4)", NULL), GPUBP_OK);
  CHECK_ST(b, gpubp_dostring(b, "gb.manual_seed(5); R = gb.rand(4)", NULL), GPUBP_OK);
  float ra[4], rb[4];
  int nd;
  int64_t sh[GPUBP_MAXDIM];
  CHECK_ST(a, gpubp_get_tensor(a, "R", ra, 4, &nd, sh, NULL), GPUBP_OK);
  CHECK_ST(b, gpubp_get_tensor(b, "R", rb, 4, &nd, sh, NULL), GPUBP_OK);
  CHECK(memcmp(ra, rb, sizeof ra) == 0);
  /* the default dtype is per runtime: float64 in a leaves b's creations float32 */
  CHECK_ST(a, gpubp_dostring(a, "gb.set_default_dtype('float64')", NULL), GPUBP_OK);
  CHECK_ST(a, gpubp_dostring(a, "assert(gb.zeros(2).dtype == 'float64')", NULL), GPUBP_OK);
  CHECK_ST(b, gpubp_dostring(b, "assert(gb.get_default_dtype() == 'float32')", NULL), GPUBP_OK);
  CHECK_ST(b, gpubp_dostring(b, "assert(gb.zeros(2).dtype == 'float32')", NULL), GPUBP_OK);
  gpubp_close(a);
  CHECK_ST(b, gpubp_dostring(b, "assert(gb.ones(2):sum():item() == 2)", NULL), GPUBP_OK);
  gpubp_close(b);
}

static void test_open_options(void) {
  gpubp_options opt;
  gpubp_options_init(&opt);
  opt.device = "no-such-device";
  gpubp_runtime *rt = NULL;
  CHECK_ST(rt, gpubp_open(&opt, &rt), GPUBP_ERRDEVICE);
  CHECK(rt != NULL && strlen(gpubp_errmsg(rt)) > 0);
  CHECK_ST(rt, gpubp_dostring(rt, "x = 1", NULL), GPUBP_ERRARG); /* not usable */
  gpubp_close(rt);

  gpubp_options_init(&opt);
  opt.device = "cpu";
  opt.no_global = 1;
  opt.seed_set = 1;
  opt.seed = 123;
  rt = NULL;
  CHECK_ST(rt, gpubp_open(&opt, &rt), GPUBP_OK);
  CHECK_ST(rt,
           gpubp_dostring(rt,
                          "assert(gb == nil); local g = require 'gpubp'; "
                          "A = g.rand(3); g.manual_seed(123); B = g.rand(3); "
                          "assert((A - B):abs():sum():item() == 0)",
                          NULL),
           GPUBP_OK);
  gpubp_close(rt);

  CHECK_ST(NULL, gpubp_open(NULL, NULL), GPUBP_ERRARG);
  rt = NULL;
  CHECK_ST(rt, gpubp_open(NULL, &rt), GPUBP_OK); /* defaults: the module picks the device */
  CHECK_ST(rt, gpubp_dostring(rt, "assert(gb.ones(2, 2):sum():item() == 4)", NULL), GPUBP_OK);
  gpubp_close(rt);
  CHECK(strcmp(gpubp_status_string(GPUBP_ERRTYPE), "wrong type") == 0);
  CHECK(strlen(gpubp_version()) > 0);
}

/* Asking for a device: cpu always works; cuda either works or says why, and the answer is
 * the same through gpubp_device_available, gpubp_set_device and gb.cuda. */
static void test_devices(void) {
  const char *why = "unset";
  CHECK(gpubp_device_available("cpu", &why) == GPUBP_OK);
  CHECK(gpubp_device_available("tpu", &why) == GPUBP_ERRARG && strstr(why, "unknown device"));
  CHECK(gpubp_device_available(NULL, NULL) == GPUBP_ERRARG);
  why = NULL;
  int cuda = gpubp_device_available("cuda", &why);
  CHECK(cuda == GPUBP_OK || (cuda == GPUBP_ERRDEVICE && why &&
                             strncmp(why, "cuda unavailable: ", 18) == 0 && strlen(why) > 18),
        "gpubp_device_available(cuda): %d, %s", cuda, why ? why : "(null)");
  char want[512];
  snprintf(want, sizeof want, "%s", why ? why : "");
  gpubp_runtime *rt = open_cpu();
  CHECK_ST(rt, gpubp_set_device(rt, "cpu"), GPUBP_OK);
  CHECK_ST(rt, gpubp_set_device(rt, NULL), GPUBP_ERRARG);
  CHECK_ST(rt, gpubp_set_device(rt, "cuda"), cuda);
  if (cuda != GPUBP_OK) {
    CHECK(strstr(gpubp_errmsg(rt), want) != NULL, "set_device(cuda) says: %s (wanted %s)",
          gpubp_errmsg(rt), want);
    lua_State *L = gpubp_lua(rt);
    luaL_loadstring(L, "assert(gb.get_default_device() == 'cpu'); "
                       "local why = ...; "
                       "assert(('cuda unavailable: ' .. gb.cuda.why_unavailable()) == why, "
                       "gb.cuda.why_unavailable())");
    lua_pushstring(L, want);
    CHECK_ST(rt, gpubp_pcall(rt, 1, 0), GPUBP_OK);
  }
  gpubp_close(rt);
}

int main(void) {
  test_errors();
  test_devices();
  test_tensors();
  test_two_runtimes();
  test_open_options();
  if (failures) {
    fprintf(stderr, "test_embed: %d check(s) failed\n", failures);
    return 1;
  }
  printf("test_embed: all checks passed\n");
  return 0;
}
