/* test_embed_host.c — what a host hands a runtime and gets back (gpubp.h): C functions
 * registered for scripts, the metrics hook fed by gb.utils.Logger and gb.host_metric,
 * zero-copy tensors over host memory (views, strides, in-place writes through, the release
 * callback called exactly once: at the last reference or at close, never on failure), and
 * copies in and out as int32 and int64 with their exact errors. */
#include <math.h>

#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gpubp.h"

static gpubp_runtime *open_cpu(void) {
  gpubp_options opt;
  gpubp_options_init(&opt);
  opt.device = "cpu";
  gpubp_runtime *rt = NULL;
  CHECK_ST(rt, gpubp_open(&opt, &rt), GPUBP_OK);
  return rt;
}

static double num(gpubp_runtime *rt, const char *name) {
  double v = -1;
  CHECK_ST(rt, gpubp_get_number(rt, name, &v), GPUBP_OK);
  return v;
}

/* ---- registered functions ------------------------------------------------------------- */

static int add_scaled(lua_State *L, void *ud) {
  double k = *(double *)ud;
  double a = luaL_checknumber(L, 1), b = luaL_checknumber(L, 2);
  if (b < 0) return luaL_error(L, "add_scaled: b must be >= 0, got %f", b);
  lua_pushnumber(L, k * (a + b));
  return 1;
}

static void test_register(void) {
  gpubp_runtime *rt = open_cpu();
  double k = 10;
  CHECK_ST(rt, gpubp_register(rt, "add_scaled", add_scaled, &k), GPUBP_OK);
  CHECK_ST(rt, gpubp_dostring(rt, "r = add_scaled(1, 2)", NULL), GPUBP_OK);
  CHECK(num(rt, "r") == 30);
  CHECK_ST(rt, gpubp_dostring(rt, "add_scaled(1, -1)", "=cb"), GPUBP_ERRRUN);
  CHECK_MSG(rt, "cb:1: add_scaled: b must be >= 0, got -1");
  CHECK_ST(rt, gpubp_dostring(rt, "ok, e = pcall(add_scaled, 'x')", NULL), GPUBP_OK);
  CHECK_ST(rt, gpubp_dostring(rt, "bad = e:find('number expected, got string') and 1 or 0", NULL),
           GPUBP_OK);
  CHECK(num(rt, "bad") == 1);
  CHECK_ST(rt, gpubp_register(rt, "1x", add_scaled, &k), GPUBP_ERRARG);
  CHECK_ST(rt, gpubp_register(rt, "ok", NULL, &k), GPUBP_ERRARG);
  gpubp_close(rt);
}

/* ---- the metrics hook ------------------------------------------------------------------ */

typedef struct metrics {
  int n;
  char names[64][32];
  int64_t steps[64];
  double values[64];
} metrics;

static void on_metric(void *ud, const char *name, int64_t step, double value) {
  metrics *m = ud;
  if (m->n >= 64) return;
  snprintf(m->names[m->n], sizeof m->names[0], "%s", name);
  m->steps[m->n] = step;
  m->values[m->n] = value;
  m->n++;
}

static void test_metrics(void) {
  gpubp_runtime *rt = open_cpu();
  metrics m = {0};
  /* no hook: host_metric says so */
  CHECK_ST(rt, gpubp_dostring(rt, "r = gb.host_metric('x', 1, 2) and 1 or 0", NULL), GPUBP_OK);
  CHECK(num(rt, "r") == 0);
  CHECK_ST(rt, gpubp_set_metrics_hook(rt, on_metric, &m), GPUBP_OK);
  CHECK_ST(rt, gpubp_dostring(rt, "r = gb.host_metric('direct', 7, 0.5) and 1 or 0", NULL),
           GPUBP_OK);
  CHECK(num(rt, "r") == 1);
  CHECK(m.n == 1 && strcmp(m.names[0], "direct") == 0 && m.steps[0] == 7 && m.values[0] == 0.5);
  /* the Logger: each scalar of each step, epochs as name@epoch */
  m.n = 0;
  CHECK_ST(rt,
           gpubp_dostring(rt,
                          "local log = gb.utils.Logger()\n"
                          "for i = 1, 3 do log:log({loss = 1 / i, lr = gb.tensor(0.1)}) end\n"
                          "log:log_epoch({acc = 0.75})",
                          NULL),
           GPUBP_OK);
  CHECK(m.n == 7);
  /* names sorted within a step: lr before loss */
  CHECK(strcmp(m.names[0], "loss") == 0 || strcmp(m.names[0], "lr") == 0);
  int losses = 0;
  for (int i = 0; i < m.n && i < 6; i++)
    if (strcmp(m.names[i], "loss") == 0) {
      losses++;
      CHECK(m.values[i] == 1.0 / (double)m.steps[i]);
    } else {
      CHECK(strcmp(m.names[i], "lr") == 0 && (float)m.values[i] == 0.1f);
    }
  CHECK(losses == 3);
  CHECK(strcmp(m.names[6], "acc@epoch") == 0 && m.steps[6] == 1 && m.values[6] == 0.75);
  CHECK_ST(rt, gpubp_dostring(rt, "gb.host_metric('x', 'y', 1)", "=bad"), GPUBP_ERRRUN);
  CHECK_MSG(rt, "bad argument #2 to 'host_metric' (number expected, got string)");
  CHECK_ST(rt, gpubp_set_metrics_hook(rt, NULL, NULL), GPUBP_OK);
  CHECK_ST(rt, gpubp_dostring(rt, "r = gb.host_metric('x', 1, 2) and 1 or 0", NULL), GPUBP_OK);
  CHECK(num(rt, "r") == 0);
  gpubp_close(rt);
}

/* ---- zero-copy ----------------------------------------------------------------------------- */

static int releases;
static void *released_ptr;
static void count_release(void *ud, void *data) {
  releases++;
  released_ptr = data;
  CHECK(ud == (void *)&releases);
}
static void free_release(void *ud, void *data) {
  (void)ud;
  releases++;
  free(data);
}

static void test_wrap(void) {
  gpubp_runtime *rt = open_cpu();
  float x[6] = {1, 2, 3, 4, 5, 6};
  const int64_t shape[2] = {2, 3};
  releases = 0;
  CHECK_ST(
      rt,
      gpubp_wrap_tensor(rt, "X", x, GPUBP_FLOAT32, "cpu", 2, shape, NULL, count_release, &releases),
      GPUBP_OK);
  CHECK_ST(rt, gpubp_dostring(rt, "s = X:sum():item(); X:mul_(2); v = X:t()", NULL), GPUBP_OK);
  CHECK(num(rt, "s") == 21);
  CHECK(x[5] == 12); /* the in-place op wrote the host's array */
  x[0] = 100;        /* and the script sees the host's writes */
  CHECK_ST(rt, gpubp_dostring(rt, "a = v[1][1]:item()", NULL), GPUBP_OK);
  CHECK(num(rt, "a") == 100);
  /* the view v keeps the memory alive after X goes */
  CHECK_ST(rt, gpubp_dostring(rt, "X = nil collectgarbage() collectgarbage()", NULL), GPUBP_OK);
  CHECK(releases == 0);
  CHECK_ST(rt, gpubp_dostring(rt, "v = nil collectgarbage() collectgarbage()", NULL), GPUBP_OK);
  CHECK(releases == 1 && released_ptr == (void *)x);
  /* strides: a column of a 3x4 int64 matrix, as a (3) tensor with stride 4 */
  int64_t m[12];
  for (int i = 0; i < 12; i++)
    m[i] = i;
  const int64_t col_shape[1] = {3}, col_stride[1] = {4};
  CHECK_ST(
      rt,
      gpubp_wrap_tensor(rt, "C", m + 1, GPUBP_INT64, NULL, 1, col_shape, col_stride, NULL, NULL),
      GPUBP_OK);
  CHECK_ST(rt, gpubp_dostring(rt, "c = C:sum():item(); dt = C.dtype == 'int64' and 1 or 0", NULL),
           GPUBP_OK);
  CHECK(num(rt, "c") == 1 + 5 + 9 && num(rt, "dt") == 1);
  /* pushed on the stack; released at close when still referenced */
  int32_t *heap = malloc(4 * sizeof *heap);
  for (int i = 0; i < 4; i++)
    heap[i] = 7;
  const int64_t four[1] = {4};
  lua_State *L = gpubp_lua(rt);
  int top = lua_gettop(L);
  CHECK_ST(rt,
           gpubp_wrap_tensor(rt, NULL, heap, GPUBP_INT32, "cpu", 1, four, NULL, free_release, NULL),
           GPUBP_OK);
  CHECK(lua_gettop(L) == top + 1);
  lua_setglobal(L, "H");
  /* failures never call release */
  releases = 0;
  const int64_t neg[1] = {-1};
  CHECK_ST(
      rt,
      gpubp_wrap_tensor(rt, "Z", x, GPUBP_FLOAT32, "cpu", 1, four, neg, count_release, &releases),
      GPUBP_ERRARG);
  CHECK_MSG(rt, "wrap: stride -1 of dim 1 is negative");
  CHECK_ST(rt, gpubp_wrap_tensor(rt, "Z", NULL, GPUBP_FLOAT32, "cpu", 1, four, NULL, NULL, NULL),
           GPUBP_ERRARG);
  CHECK_MSG(rt, "wrap: data is NULL for a tensor of shape (4)");
  CHECK_ST(rt,
           gpubp_wrap_tensor(rt, "Z", (char *)m + 4, GPUBP_INT64, "cpu", 1, four, NULL, NULL, NULL),
           GPUBP_ERRARG);
  CHECK_MSG(rt, "wrap: data is not aligned to 8 bytes for int64");
  CHECK_ST(rt, gpubp_wrap_tensor(rt, "Z", x, 9, "cpu", 1, four, NULL, NULL, NULL), GPUBP_ERRARG);
  CHECK_MSG(rt, "unknown dtype 9 (GPUBP_FLOAT32, GPUBP_FLOAT64, GPUBP_INT32 or GPUBP_INT64)");
  CHECK_ST(rt, gpubp_wrap_tensor(rt, "Z", x, GPUBP_FLOAT32, "tpu", 1, four, NULL, NULL, NULL),
           GPUBP_ERRDEVICE);
  CHECK_MSG(rt, "gpubp_wrap_tensor: unknown device 'tpu' (cpu, cuda or cuda:N)");
  /* a device pointer the host owns: accepted only where the device is usable */
  int st = gpubp_wrap_tensor(rt, "D", (void *)(uintptr_t)0x1000, GPUBP_FLOAT32, "cuda:0", 1, four,
                             NULL, NULL, NULL);
  CHECK(st == GPUBP_ERRDEVICE || st == GPUBP_OK);
  if (st != GPUBP_OK) CHECK_MSG(rt, "gpubp_wrap_tensor: device 'cuda:0' is not usable (");
  CHECK(releases == 0);
  gpubp_close(rt); /* frees `heap` through free_release (ASan: no leak) */
}

/* ---- typed copies ------------------------------------------------------------------------- */

static void test_typed(void) {
  gpubp_runtime *rt = open_cpu();
  int64_t labels[4] = {1, 10, 3, (int64_t)1 << 40};
  const int64_t n4[1] = {4};
  CHECK_ST(rt, gpubp_set_tensor_typed(rt, "Y", labels, GPUBP_INT64, 1, n4), GPUBP_OK);
  CHECK_ST(rt, gpubp_dostring(rt, "dt = Y.dtype; big = Y[4]:item() == 2^40 and 1 or 0", NULL),
           GPUBP_OK);
  CHECK(num(rt, "big") == 1);
  int32_t i32[3] = {-5, 0, 2147483647};
  const int64_t n3[1] = {3};
  CHECK_ST(rt, gpubp_set_tensor_typed(rt, "I", i32, GPUBP_INT32, 1, n3), GPUBP_OK);
  int nd;
  int64_t sh[GPUBP_MAXDIM];
  size_t n;
  int64_t back64[4];
  CHECK_ST(rt, gpubp_get_tensor_typed(rt, "Y", back64, GPUBP_INT64, 4, &nd, sh, &n), GPUBP_OK);
  CHECK(n == 4 && back64[3] == labels[3] && back64[1] == 10);
  int32_t back32[4];
  CHECK_ST(rt, gpubp_get_tensor_typed(rt, "I", back32, GPUBP_INT32, 3, &nd, sh, &n), GPUBP_OK);
  CHECK(back32[0] == -5 && back32[2] == 2147483647);
  CHECK_ST(rt, gpubp_get_tensor_typed(rt, "I", back64, GPUBP_INT64, 4, &nd, sh, &n), GPUBP_OK);
  CHECK(back64[0] == -5 && back64[2] == 2147483647);
  CHECK_ST(rt, gpubp_get_tensor_typed(rt, "Y", back32, GPUBP_INT32, 4, &nd, sh, &n), GPUBP_ERRARG);
  CHECK_MSG(rt, "element 4 of the tensor (1099511627776) does not fit int32");
  CHECK_ST(rt, gpubp_dostring(rt, "F = gb.tensor({1.5, 2})", NULL), GPUBP_OK);
  CHECK_ST(rt, gpubp_get_tensor_typed(rt, "F", back64, GPUBP_INT64, 4, &nd, sh, &n), GPUBP_ERRTYPE);
  CHECK_MSG(rt, "tensor is float32; copy it out as GPUBP_FLOAT32 or convert it first (t:long())");
  float f[4];
  CHECK_ST(rt, gpubp_get_tensor_typed(rt, "I", f, GPUBP_FLOAT32, 4, &nd, sh, &n), GPUBP_OK);
  CHECK(f[0] == -5.0f);
  /* pushed, then read back from the stack; labels drive a loss without conversion */
  lua_State *L = gpubp_lua(rt);
  int64_t lab[2] = {2, 1};
  const int64_t n2[1] = {2};
  CHECK_ST(rt, gpubp_push_tensor_typed(rt, lab, GPUBP_INT64, 1, n2), GPUBP_OK);
  CHECK_ST(rt, gpubp_to_tensor_typed(rt, -1, back64, GPUBP_INT64, 4, &nd, sh, &n), GPUBP_OK);
  CHECK(nd == 1 && back64[0] == 2 && back64[1] == 1);
  lua_setglobal(L, "L2");
  CHECK_ST(rt,
           gpubp_dostring(
               rt, "loss = gb.nn.CrossEntropyLoss()(gb.tensor({{0, 0}, {0, 0}}), L2):item()", NULL),
           GPUBP_OK);
  CHECK(fabs(num(rt, "loss") - log(2.0)) < 1e-6);
  CHECK_ST(rt, gpubp_set_tensor_typed(rt, "Q", labels, 5, 1, n4), GPUBP_ERRARG);
  CHECK_MSG(rt, "unknown dtype 5");
  CHECK_ST(rt, gpubp_get_tensor_typed(rt, "Y", back64, -1, 4, &nd, sh, &n), GPUBP_ERRARG);
  /* float64 both ways: a value only double holds survives; a float64 tensor asked for as
   * int64 is refused naming its dtype */
  double d[3] = {1 + 1e-12, -1.0 / 3, 1e300}, dback[3];
  CHECK_ST(rt, gpubp_set_tensor_typed(rt, "D", d, GPUBP_FLOAT64, 1, n3), GPUBP_OK);
  CHECK_ST(rt, gpubp_dostring(rt, "ddt = D.dtype == 'float64' and 1 or 0; D2 = D * 2", NULL),
           GPUBP_OK);
  CHECK(num(rt, "ddt") == 1);
  CHECK_ST(rt, gpubp_get_tensor_typed(rt, "D2", dback, GPUBP_FLOAT64, 3, &nd, sh, &n), GPUBP_OK);
  CHECK(n == 3 && dback[0] == 2 * d[0] && dback[1] == 2 * d[1] && dback[2] == 2 * d[2]);
  CHECK_ST(rt, gpubp_get_tensor_typed(rt, "Y", dback, GPUBP_FLOAT64, 3, &nd, sh, &n),
           GPUBP_ERRARG); /* 4 elements, room for 3 */
  CHECK_ST(rt, gpubp_get_tensor_typed(rt, "D", back64, GPUBP_INT64, 4, &nd, sh, &n), GPUBP_ERRTYPE);
  CHECK_MSG(rt, "tensor is float64; copy it out as GPUBP_FLOAT64 or convert it first (t:long())");
  gpubp_close(rt);
}

int main(void) {
  test_register();
  test_metrics();
  test_wrap();
  test_typed();
  if (failures) fprintf(stderr, "test_embed_host: %d failure(s)\n", failures);
  return failures ? 1 : 0;
}
