/* test_embed_longlived.c — a long-lived host: one process opens and closes 1,000 runtimes
 * and runs 10,000 scripts in them (tensors, a training step, errors, budgets, wrapped host
 * memory, the metrics hook), and its resident memory stays flat: the RSS after the last
 * runtime is within 5% of the RSS after the first 100 (the warm-up: allocator arenas, BLAS
 * buffers). Under ASan/LSan, leaks fail the run at exit (and RSS, which ASan's quarantine
 * inflates, is only printed). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "gpubp.h"

#define RUNTIMES 1000
#define SCRIPTS_PER_RUNTIME 10

static long rss_kib(void) {
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return -1;
  if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
  fclose(f);
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int released;
static void on_release(void *ud, void *data) {
  (void)ud, (void)data;
  released++;
}
static double metric_sum;
static void on_metric(void *ud, const char *name, int64_t step, double value) {
  (void)ud, (void)name, (void)step;
  metric_sum += value;
}

static const char *const scripts[SCRIPTS_PER_RUNTIME] = {
    "x = gb.randn(64, 32):matmul(gb.randn(32, 8)):relu():sum():item()",
    "local net = gb.nn.Sequential(gb.nn.Linear(8, 16), gb.nn.ReLU(), gb.nn.Linear(16, 3))\n"
    "local opt = gb.optim.SGD(net:parameters(), {lr = 0.1})\n"
    "local l = gb.nn.CrossEntropyLoss()(net(gb.randn(16, 8)), gb.tensor({1,2,3,1,2,3,1,2,3,1,2,3,"
    "1,2,3,1}):long())\n"
    "opt:zero_grad() l:backward() opt:step() loss = l:item()",
    "error('expected failure')",
    "local t = {} for i = 1, 1000 do t[i] = tostring(i) end s = table.concat(t):len()",
    "W:mul_(2) w = W:sum():item() W = nil",
    "gb.host_metric('loss', 1, 0.5)",
    "local big = gb.zeros(1000000)",             /* over the 2 MB tensor budget: refused */
    "y = (gb.arange(1, 101) * 2):mean():item()", /* 101 */
    "z = gb.ones(3, {dtype = 'int64'}):sum():item()",
    "collectgarbage() n = collectgarbage('count')",
};

int main(void) {
  float host[16];
  const int64_t shape[1] = {16};
  long rss_warm = 0, rss_end;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int scripts_run = 0, expected_failures = 0;
  for (int r = 0; r < RUNTIMES; r++) {
    gpubp_options opt;
    gpubp_options_init(&opt);
    opt.device = "cpu";
    opt.seed_set = 1;
    opt.seed = r;
    opt.budget.host_bytes = 24 << 20;
    gpubp_runtime *rt = NULL;
    if (gpubp_open(&opt, &rt) != GPUBP_OK) {
      fprintf(stderr, "open %d: %s\n", r, gpubp_errmsg(rt));
      gpubp_close(rt);
      return 1;
    }
    for (int i = 0; i < 16; i++)
      host[i] = 1;
    CHECK(gpubp_wrap_tensor(rt, "W", host, GPUBP_FLOAT32, "cpu", 1, shape, NULL, on_release,
                            NULL) == GPUBP_OK);
    CHECK(gpubp_set_metrics_hook(rt, on_metric, NULL) == GPUBP_OK);
    gpubp_budget b = {.host_bytes = 24 << 20};
    for (int s = 0; s < SCRIPTS_PER_RUNTIME; s++) {
      if (s == 6) { /* only this script meets a tight cap: the rest run under 24 MB */
        gpubp_usage u;
        gpubp_get_usage(rt, &u);
        b.host_bytes = u.host_bytes + (2 << 20);
        gpubp_set_budget(rt, &b);
      }
      int st = gpubp_dostring(rt, scripts[s], "=longlived");
      scripts_run++;
      if (s == 2 || s == 6) {
        CHECK(st != GPUBP_OK);
        expected_failures += st != GPUBP_OK;
      } else if (st != GPUBP_OK) {
        fprintf(stderr, "runtime %d script %d: %s\n", r, s, gpubp_errmsg(rt));
        failures++;
      }
      if (s == 6) {
        b.host_bytes = 24 << 20;
        gpubp_set_budget(rt, &b);
      }
    }
    double y = 0;
    CHECK(gpubp_get_number(rt, "y", &y) == GPUBP_OK && y == 101);
    gpubp_close(rt);
    if (r == 99) rss_warm = rss_kib();
  }
  rss_end = rss_kib();
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  printf("test_embed_longlived: %d runtimes, %d scripts in %.1f s; RSS %ld KiB after 100 "
         "runtimes, %ld KiB after %d (%+.1f%%); %d wrapped arrays released\n",
         RUNTIMES, scripts_run, secs, rss_warm, rss_end, RUNTIMES,
         100.0 * (double)(rss_end - rss_warm) / (double)rss_warm, released);
  CHECK(scripts_run == RUNTIMES * SCRIPTS_PER_RUNTIME);
  CHECK(expected_failures == 2 * RUNTIMES);
  CHECK(released == RUNTIMES);
  CHECK(metric_sum == 0.5 * RUNTIMES);
  CHECK(host[0] == 2); /* the last runtime's W:mul_(2) wrote the host's array */
#if defined(__SANITIZE_ADDRESS__)
  /* ASan holds freed memory in its quarantine (256 MB by default), so RSS grows by design
   * there; LeakSanitizer at exit is the check in that build */
  printf("test_embed_longlived: ASan build, RSS not compared\n");
#else
  CHECK(rss_end <= rss_warm * 105 / 100 && rss_end >= rss_warm * 95 / 100);
#endif
  return failures ? 1 : 0;
}
