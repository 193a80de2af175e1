/* test_embed_limits.c — budgets and interruption of embedded runtimes (gpubp.h): host-byte
 * (tensors and Lua heap), device-byte, instruction and time budgets with their exact
 * messages and statuses, the runtime usable afterwards with nothing left over, budgets
 * changed later, gpubp_interrupt from another thread against a running training loop and a
 * long reduction, and the chunk checks inside the CPU kernels (elementwise, reduction,
 * im2col, matrix product) driven directly. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <lua.h>

#include "check.h"
#include "gb_cpu.h"
#include "gb_limits.h"
#include "gb_state.h"
#include "gpubp.h"

static gpubp_runtime *open_with(const gpubp_budget *b) {
  gpubp_options opt;
  gpubp_options_init(&opt);
  opt.device = "cpu";
  if (b) opt.budget = *b;
  gpubp_runtime *rt = NULL;
  CHECK_ST(rt, gpubp_open(&opt, &rt), GPUBP_OK);
  return rt;
}

static double num(gpubp_runtime *rt, const char *name) {
  double v = -1;
  CHECK_ST(rt, gpubp_get_number(rt, name, &v), GPUBP_OK);
  return v;
}

/* Host bytes: a tensor over the cap fails with the budget's message; caught in the script
 * it is an ordinary error; the runtime goes on and the bytes come back. */
static void test_host_budget(void) {
  gpubp_budget b = {.host_bytes = 64 << 20};
  gpubp_runtime *rt = open_with(&b);
  gpubp_usage u0, u1;
  CHECK_ST(rt, gpubp_get_usage(rt, &u0), GPUBP_OK);
  CHECK(u0.lua_bytes > 0 && u0.host_bytes >= u0.lua_bytes);
  CHECK_ST(rt, gpubp_dostring(rt, "local t = gb.zeros(20000000)", "=big"), GPUBP_ERRMEM);
  CHECK_MSG(rt, "big:1: out of memory: runtime budget of 67108864 bytes exceeded (a cpu tensor "
                "of 80000000 bytes)");
  CHECK_ST(rt,
           gpubp_dostring(rt,
                          "ok, msg = pcall(gb.zeros, 20000000)\n"
                          "caught = (not ok and msg:find('runtime budget of 67108864 bytes "
                          "exceeded', 1, true)) and 1 or 0",
                          "=catch"),
           GPUBP_OK);
  CHECK(num(rt, "caught") == 1);
  /* under the cap, many tensors in a loop: garbage is collected, the loop finishes */
  CHECK_ST(rt,
           gpubp_dostring(rt,
                          "local s = 0\n"
                          "for i = 1, 200 do s = s + gb.ones(1000000):sum():item() end\n"
                          "total = s",
                          "=loop"),
           GPUBP_OK);
  CHECK(num(rt, "total") == 2e8);
  CHECK_ST(rt, gpubp_dostring(rt, "collectgarbage()", NULL), GPUBP_OK);
  CHECK_ST(rt, gpubp_get_usage(rt, &u1), GPUBP_OK);
  CHECK(u1.tensor_bytes <= u0.tensor_bytes + 4096);
  CHECK(u1.host_bytes <= b.host_bytes);
  /* changed later: a smaller cap refuses what the old one allowed, a larger one allows it */
  gpubp_budget small = {.host_bytes = u1.lua_bytes + (1 << 20)};
  CHECK_ST(rt, gpubp_set_budget(rt, &small), GPUBP_OK);
  CHECK_ST(rt, gpubp_dostring(rt, "x = gb.zeros(1000000)", "=small"), GPUBP_ERRMEM);
  char want[128];
  snprintf(want, sizeof want,
           "small:1: out of memory: runtime budget of %lld bytes exceeded (a cpu tensor of "
           "4000000 bytes)",
           (long long)small.host_bytes);
  CHECK_MSG(rt, want);
  gpubp_budget none = {0};
  CHECK_ST(rt, gpubp_set_budget(rt, &none), GPUBP_OK);
  CHECK_ST(rt, gpubp_dostring(rt, "x = gb.zeros(1000000); n = x:numel()", NULL), GPUBP_OK);
  CHECK(num(rt, "n") == 1e6);
  gpubp_budget bad = {.host_bytes = -1};
  CHECK_ST(rt, gpubp_set_budget(rt, &bad), GPUBP_ERRARG);
  CHECK_MSG(rt, "gpubp_set_budget: budget is NULL or has a negative field");
  gpubp_close(rt);
}

/* The Lua heap counts too: a script growing a table past the cap gets Lua's memory error
 * inside, and the host the budget's message. */
static void test_lua_heap_budget(void) {
  gpubp_runtime *rt = open_with(NULL);
  gpubp_usage u;
  CHECK_ST(rt, gpubp_get_usage(rt, &u), GPUBP_OK);
  gpubp_budget b = {.host_bytes = u.host_bytes + (8 << 20)};
  CHECK_ST(rt, gpubp_set_budget(rt, &b), GPUBP_OK);
  CHECK_ST(rt, gpubp_dostring(rt, "local t = {} for i = 1, 1e8 do t[i] = {i} end", "=grow"),
           GPUBP_ERRMEM);
  char want[96];
  snprintf(want, sizeof want, "out of memory: runtime budget of %lld bytes exceeded (the Lua heap",
           (long long)b.host_bytes);
  CHECK_MSG(rt, want);
  CHECK_ST(rt,
           gpubp_dostring(rt,
                          "local ok, e = pcall(function() local t = {} for i = 1, 1e8 do t[i] = "
                          "{i} end end)\n"
                          "inner = (not ok and e == 'not enough memory') and 1 or 0",
                          "=inner"),
           GPUBP_OK);
  CHECK(num(rt, "inner") == 1);
  CHECK_ST(rt, gpubp_dostring(rt, "collectgarbage(); y = gb.ones(3):sum():item()", NULL), GPUBP_OK);
  CHECK(num(rt, "y") == 3);
  gpubp_usage after;
  CHECK_ST(rt, gpubp_get_usage(rt, &after), GPUBP_OK);
  CHECK(after.lua_bytes < u.lua_bytes + (1 << 20));
  gpubp_close(rt);
}

/* Device bytes: the cap is checked before the device is asked, so the message is the
 * budget's even in a build without CUDA. */
static void test_device_budget(void) {
  gpubp_budget b = {.device_bytes = 1000};
  gpubp_runtime *rt = open_with(&b);
  CHECK_ST(rt, gpubp_dostring(rt, "x = gb.zeros(1000, {device = 'cuda'})", "=dev"), GPUBP_ERRMEM);
  CHECK_MSG(rt, "dev:1: out of memory: runtime budget of 1000 device bytes exceeded (a cuda:0 "
                "tensor of 4000 bytes)");
  CHECK_ST(rt, gpubp_dostring(rt, "x = gb.zeros(1000)", NULL), GPUBP_OK); /* cpu is not capped */
  gpubp_close(rt);
}

static void test_instruction_budget(void) {
  gpubp_budget b = {.instructions = 100000};
  gpubp_runtime *rt = open_with(&b);
  CHECK_ST(rt, gpubp_dostring(rt, "local i = 0 while true do i = i + 1 end", "=spin"),
           GPUBP_ERRLIMIT);
  CHECK_MSG(rt, "spin:1: instruction budget of 100000 exceeded");
  /* catching it does not help: after the first, every instruction raises again */
  CHECK_ST(
      rt, gpubp_dostring(rt, "while true do pcall(function() while true do end end) end", "=catch"),
      GPUBP_ERRLIMIT);
  CHECK_MSG(rt, "instruction budget of 100000 exceeded");
  /* each top-level call has its own allowance */
  CHECK_ST(rt, gpubp_dostring(rt, "local s = 0 for i = 1, 1000 do s = s + i end r = s", NULL),
           GPUBP_OK);
  gpubp_usage u;
  CHECK_ST(rt, gpubp_get_usage(rt, &u), GPUBP_OK);
  CHECK(u.instructions >= 2000 && u.instructions <= 100000);
  if (u.instructions < 2000) fprintf(stderr, "instructions: %lld\n", (long long)u.instructions);
  CHECK(num(rt, "r") == 500500);
  gpubp_close(rt);
}

static void test_time_budget(void) {
  gpubp_budget b = {.seconds = 0.2};
  gpubp_runtime *rt = open_with(&b);
  CHECK_ST(rt, gpubp_dostring(rt, "while true do end", "=spin"), GPUBP_ERRLIMIT);
  CHECK_MSG(rt, "spin:1: time budget of 0.2 s exceeded");
  CHECK_ST(rt,
           gpubp_dostring(rt,
                          "while true do\n"
                          "  pcall(function() while true do gb.ones(4):sum() end end)\n"
                          "end",
                          "=catch"),
           GPUBP_ERRLIMIT);
  CHECK_MSG(rt, "time budget of 0.2 s exceeded");
  /* inside a long reduction (no Lua instructions run): the kernel stops at a chunk */
  CHECK_ST(rt, gpubp_dostring(rt, "x = gb.ones(1):expand(2^36):sum()", "=sum"), GPUBP_ERRLIMIT);
  CHECK_MSG(rt, "sum:1: time budget of 0.2 s exceeded");
  CHECK_ST(rt, gpubp_dostring(rt, "y = gb.ones(4):sum():item()", NULL), GPUBP_OK);
  CHECK(num(rt, "y") == 4);
  gpubp_close(rt);
}

/* ---- gpubp_interrupt from another thread ------------------------------------------------ */

typedef struct interrupter {
  gpubp_runtime *rt;
  atomic_int go;
} interrupter;

static int started(lua_State *L, void *ud) {
  interrupter *in = ud;
  atomic_store(&in->go, 1);
  (void)L;
  return 0;
}

static void *interrupt_later(void *p) {
  interrupter *in = p;
  while (!atomic_load(&in->go)) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  struct timespec ts = {0, 100 * 1000000L};
  nanosleep(&ts, NULL);
  gpubp_interrupt(in->rt);
  return NULL;
}

static int interrupt_during(gpubp_runtime *rt, const char *script, const char *chunk) {
  interrupter in = {.rt = rt};
  CHECK_ST(rt, gpubp_register(rt, "started", started, &in), GPUBP_OK);
  pthread_t th;
  pthread_create(&th, NULL, interrupt_later, &in);
  int st = gpubp_dostring(rt, script, chunk);
  pthread_join(th, NULL);
  return st;
}

static const char train_loop[] =
    "local nn = gb.nn\n"
    "gb.manual_seed(1)\n"
    "local x, y = gb.randn(64, 20), (gb.rand(64) * 4):long() + 1\n"
    "local net = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 4))\n"
    "local opt = gb.optim.SGD(net:parameters(), {lr = 0.05})\n"
    "local crit = nn.CrossEntropyLoss()\n"
    "steps = 0\n"
    "while true do\n"
    "  opt:zero_grad()\n"
    "  local loss = crit(net(x), y)\n"
    "  loss:backward()\n"
    "  opt:step()\n"
    "  steps = steps + 1\n"
    /* the clock starts after a whole step: the first one also opens the BLAS, which takes
     * longer than the 100 ms wait on a loaded machine */
    "  if steps == 1 then started() end\n"
    "end\n";

static void test_interrupt_training(void) {
  gpubp_runtime *rt = open_with(NULL);
  CHECK_ST(rt, interrupt_during(rt, train_loop, "=train"), GPUBP_ERRLIMIT);
  CHECK_MSG(rt, "interrupted");
  CHECK(strstr(gpubp_errmsg(rt), "train:1") != NULL); /* raised at a line of the loop */
  CHECK(num(rt, "steps") > 0);
  /* the script may catch it (one interrupt, one error) and go on, e.g. to save its work */
  CHECK_ST(rt,
           interrupt_during(rt,
                            "started()\n"
                            "local ok, e = pcall(function() while true do gb.ones(8):sum() end "
                            "end)\n"
                            "caught = e\n"
                            "gb.ones(1):sum()\n"
                            "after = true\n",
                            "=catch"),
           GPUBP_OK);
  CHECK_ST(rt,
           gpubp_dostring(rt, "ok = caught:find('interrupted', 1, true) and after == true", NULL),
           GPUBP_OK);
  double ok = 0;
  lua_State *L = gpubp_lua(rt);
  lua_getglobal(L, "ok");
  ok = lua_toboolean(L, -1);
  lua_pop(L, 1);
  CHECK(ok == 1);
  /* inside one long kernel: a reduction over 2^36 elements (the largest view allowed) stops
   * mid-loop */
  CHECK_ST(rt, interrupt_during(rt, "started() x = gb.ones(1):expand(2^36):sum()", "=long"),
           GPUBP_ERRLIMIT);
  CHECK_MSG(rt, "long:1: interrupted");
  /* an interrupt between calls does not stop the next call */
  gpubp_interrupt(rt);
  CHECK_ST(rt, gpubp_dostring(rt, "z = gb.ones(2):sum():item()", NULL), GPUBP_OK);
  CHECK(num(rt, "z") == 2);
  gpubp_interrupt(NULL);
  gpubp_close(rt);
}

/* gpubp_interrupt called on the script's own thread, as a signal handler would be. */
static int interrupt_now(lua_State *L, void *ud) {
  (void)L;
  gpubp_interrupt(ud);
  return 0;
}

/* A plain Lua loop (no ops) stops at an interrupt when a hook watches it: the one
 * interrupt_sets_hook sets (the command line's setting), or a time/instruction budget's. */
static void test_interrupt_plain_lua(void) {
  for (int sets_hook = 0; sets_hook <= 1; sets_hook++) {
    gpubp_options opt;
    gpubp_options_init(&opt);
    opt.device = "cpu";
    opt.interrupt_sets_hook = sets_hook;
    opt.budget.instructions = sets_hook ? 0 : (int64_t)1 << 50;
    gpubp_runtime *rt = NULL;
    CHECK_ST(rt, gpubp_open(&opt, &rt), GPUBP_OK);
    CHECK_ST(rt, gpubp_register(rt, "interrupt_now", interrupt_now, rt), GPUBP_OK);
    CHECK_ST(rt, gpubp_dostring(rt, "interrupt_now()\nwhile true do end", "=plain"),
             GPUBP_ERRLIMIT);
    CHECK_MSG(rt, "plain:2: interrupted");
    gpubp_close(rt);
  }
  gpubp_runtime *rt = open_with(NULL);
  CHECK_ST(rt, gpubp_register(rt, "not a name", interrupt_now, rt), GPUBP_ERRARG);
  CHECK_MSG(rt, "gpubp_register: name must be a Lua identifier and fn non-NULL");
  gpubp_close(rt);
}

/* ---- chunk checks inside the kernels ---------------------------------------------------- */

/* With the stop flag already set, each long loop stops after its first chunk: the rest of
 * the output keeps the sentinel it was filled with. */
static void test_kernel_chunks(void) {
  gb_state *S = gb_state_new();
  gb_limits lim;
  memset(&lim, 0, sizeof lim);
  gb_state_set_limits(S, &lim);
  const int64_t n = 4 * GB_STOP_CHUNK;
  gb_tensor *x = NULL, *o = NULL;
  CHECK(gb_tensor_empty(S, 1, &n, GB_F32, GB_CPU, &x) == GB_OK);
  CHECK(gb_tensor_empty(S, 1, &n, GB_F32, GB_CPU, &o) == GB_OK);
  float *xp = gb_tensor_f32(x), *op = gb_tensor_f32(o);
  for (int64_t i = 0; i < n; i++)
    xp[i] = 1.0f, op[i] = -7.0f;
  atomic_store(&lim.stop, GB_STOP_INTERRUPT);
  /* elementwise (relu): the first chunk written, the last untouched */
  gb_opargs a = {.in = {x}, .nin = 1};
  CHECK(gb_cpu_relu(S, &a, &o) == GB_OK);
  CHECK(op[0] == 1.0f && op[GB_STOP_CHUNK - 1] == 1.0f);
  CHECK(op[n - 1] == -7.0f);
  /* through gb_op_run the stop is an error, "interrupted" */
  gb_tensor *r = NULL;
  CHECK(gb_op_run(S, GB_OP_RELU, &a, &r) == GB_ELIMIT);
  CHECK(strcmp(gb_state_error(S), "interrupted") == 0);
  atomic_store(&lim.stop, 0);
  CHECK(gb_op_run(S, GB_OP_RELU, &a, &r) == GB_OK);
  gb_tensor_release(S, r);
  /* matrix product in row blocks: 512x512x512 is two blocks of 256 rows */
  int64_t sq[2] = {512, 512};
  gb_tensor *m = NULL, *mo = NULL;
  CHECK(gb_tensor_empty(S, 2, sq, GB_F32, GB_CPU, &m) == GB_OK);
  CHECK(gb_tensor_empty(S, 2, sq, GB_F32, GB_CPU, &mo) == GB_OK);
  float *mp = gb_tensor_f32(m), *mop = gb_tensor_f32(mo);
  for (int64_t i = 0; i < 512 * 512; i++)
    mp[i] = 1.0f, mop[i] = -7.0f;
  atomic_store(&lim.stop, GB_STOP_INTERRUPT);
  gb_opargs mm = {.in = {m, m}, .nin = 2};
  CHECK(gb_cpu_matmul(S, &mm, &mo) == GB_OK);
  CHECK(mop[0] == 512.0f && mop[255 * 512 + 511] == 512.0f); /* first block done */
  CHECK(mop[256 * 512] == -7.0f);                            /* second block skipped */
  atomic_store(&lim.stop, 0);
  CHECK(gb_cpu_matmul(S, &mm, &mo) == GB_OK);
  CHECK(mop[511 * 512 + 511] == 512.0f);
  gb_state_set_limits(S, NULL);
  gb_tensor_release(S, x);
  gb_tensor_release(S, o);
  gb_tensor_release(S, m);
  gb_tensor_release(S, mo);
  gb_state_free(S);
}

int main(void) {
  test_host_budget();
  test_lua_heap_budget();
  test_device_budget();
  test_instruction_budget();
  test_time_budget();
  test_interrupt_training();
  test_interrupt_plain_lua();
  test_kernel_chunks();
  if (failures) fprintf(stderr, "test_embed_limits: %d failure(s)\n", failures);
  return failures ? 1 : 0;
}
