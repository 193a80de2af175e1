/* embed_overhead.c — benchmark: the cost of budgets and the metrics hook on a training step.
 * The seed MLP (784-128-10, SGD, batch 100, a Logger recording the loss each step) runs in
 * two embedded runtimes, one plain and one with all four budgets set (none reached) and a
 * metrics hook receiving every loss; rounds alternate between them and the medians are
 * printed side by side, as process CPU time per step (the build machine is loaded; run with
 * OPENBLAS_NUM_THREADS=1). Built as bench_embed_overhead (tests/extra.cmake); not a test.
 *   build/tests/bench_embed_overhead [rounds=7] [steps=100] */
#include <stdio.h>
#include <stdlib.h>

#include "gpubp.h"

static const char setup[] =
    "local nn = gb.nn\n"
    "gb.manual_seed(1)\n"
    "xs, ys = {}, {}\n"
    "for i = 1, 10 do xs[i] = gb.rand(100, 784); ys[i] = (gb.rand(100) * 10):long() + 1 end\n"
    "net = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))\n"
    "opt = gb.optim.SGD(net:parameters(), {lr = 0.01})\n"
    "crit = nn.CrossEntropyLoss()\n"
    "log = gb.utils.Logger()\n"
    "function run(steps)\n"
    "  local t0 = os.clock()\n"
    "  for s = 1, steps do\n"
    "    local i = s % 10 + 1\n"
    "    opt:zero_grad()\n"
    "    local loss = crit(net(xs[i]), ys[i])\n"
    "    loss:backward()\n"
    "    opt:step()\n"
    "    log:log({loss = loss:item()})\n"
    "  end\n"
    "  step_us = (os.clock() - t0) / steps * 1e6\n"
    "end\n";

static long hooked;
static void on_metric(void *ud, const char *name, int64_t step, double value) {
  (void)ud, (void)name, (void)step, (void)value;
  hooked++;
}

static gpubp_runtime *open_rt(int limited) {
  gpubp_options opt;
  gpubp_options_init(&opt);
  opt.device = "cpu";
  if (limited) {
    opt.budget.host_bytes = (int64_t)4 << 30;
    opt.budget.device_bytes = (int64_t)4 << 30;
    opt.budget.instructions = (int64_t)1 << 50;
    opt.budget.seconds = 3600;
  }
  gpubp_runtime *rt = NULL;
  if (gpubp_open(&opt, &rt) != GPUBP_OK || gpubp_dostring(rt, setup, "=setup") != GPUBP_OK) {
    fprintf(stderr, "setup: %s\n", gpubp_errmsg(rt));
    exit(1);
  }
  if (limited) gpubp_set_metrics_hook(rt, on_metric, NULL);
  return rt;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 7, steps = argc > 2 ? atoi(argv[2]) : 100;
  if (rounds < 1 || rounds > 99 || steps < 1) return 2;
  gpubp_runtime *rt[2] = {open_rt(0), open_rt(1)};
  double t[2][99];
  char call[32];
  snprintf(call, sizeof call, "run(%d)", steps);
  for (int k = 0; k < 2; k++) /* warm-up */
    gpubp_dostring(rt[k], call, "=warm");
  for (int r = 0; r < rounds; r++)
    for (int k = 0; k < 2; k++) {
      int which = (r & 1) ? 1 - k : k; /* alternate the order */
      if (gpubp_dostring(rt[which], call, "=bench") != GPUBP_OK ||
          gpubp_get_number(rt[which], "step_us", &t[which][r]) != GPUBP_OK) {
        fprintf(stderr, "run: %s\n", gpubp_errmsg(rt[which]));
        return 1;
      }
    }
  qsort(t[0], (size_t)rounds, sizeof(double), cmp);
  qsort(t[1], (size_t)rounds, sizeof(double), cmp);
  for (int k = 0; k < 2; k++) {
    printf("rounds %s:", k ? "budgets+hook" : "plain");
    for (int r = 0; r < rounds; r++)
      printf(" %.0f", t[k][r]);
    printf("\n");
  }
  printf("BENCH step_us_plain %.1f\n", t[0][rounds / 2]);
  printf("BENCH step_us_budgets_and_hook %.1f\n", t[1][rounds / 2]);
  printf("BENCH hook_calls %ld\n", hooked);
  gpubp_close(rt[0]);
  gpubp_close(rt[1]);
  return hooked == (long)(rounds + 1) * steps ? 0 : 1;
}
