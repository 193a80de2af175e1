/* embed_sandbox_train.c — a host program that trains from an untrusted script: the runtime
 * is sandboxed (no processes, files only in a scratch folder) and budgeted (host bytes,
 * wall time), the host's data goes in without a copy (features) and as int64 (labels), the
 * script's loss comes back live through the metrics hook, and the host charts it as text.
 * Ctrl-C interrupts the script (gpubp_interrupt from the signal handler).
 *   embed_sandbox_train [script.lua]    (default examples/untrusted_train.lua)
 * Exits 0 when the script ran and its loss fell to under half of the first step's. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "gpubp.h"

#define N 300 /* points: three interleaved spirals in 2-D */
#define K 3
#define MAXSTEPS 4096

typedef struct chart {
  int n;
  double loss[MAXSTEPS];
  double accuracy;
} chart;

static gpubp_runtime *running; /* for the signal handler */

static void on_sigint(int sig) {
  (void)sig;
  gpubp_interrupt(running); /* async-signal-safe: an atomic store */
}

/* The metrics hook: Logger's scalars arrive here as (name, step, value). */
static void on_metric(void *ud, const char *name, int64_t step, double value) {
  chart *c = ud;
  if (strcmp(name, "loss") == 0 && step >= 1 && step <= MAXSTEPS) {
    c->loss[step - 1] = value;
    if (step > c->n) c->n = (int)step;
  } else if (strcmp(name, "accuracy@epoch") == 0) {
    c->accuracy = value;
  }
}

/* A host function the script may call: host_log(message). */
static int host_log(lua_State *L, void *ud) {
  (void)ud;
  printf("[script] %s\n", luaL_checkstring(L, 1));
  return 0;
}

static void free_features(void *ud, void *data) {
  (void)ud;
  free(data);
}

/* Loss against step as rows of '#' (one row per 10% of the run). */
static void print_chart(const chart *c) {
  double top = 0;
  for (int i = 0; i < c->n; i++)
    if (c->loss[i] > top) top = c->loss[i];
  printf("loss by step (received through the metrics hook)\n");
  for (int r = 0; r < 10 && c->n > 0; r++) {
    int i = r * (c->n - 1) / 9;
    int bar = top > 0 ? (int)(50 * c->loss[i] / top + 0.5) : 0;
    printf("%6d %7.4f |%.*s\n", i + 1, c->loss[i], bar,
           "##################################################");
  }
}

int main(int argc, char **argv) {
  const char *script = argc > 1 ? argv[1] : "examples/untrusted_train.lua";
  char scratch[] = "/tmp/gpubp_sandbox_XXXXXX";
  if (!mkdtemp(scratch)) return 1;
  const char *writable[] = {scratch, NULL};

  gpubp_options opt;
  gpubp_options_init(&opt);
  opt.device = "cpu";
  opt.seed_set = 1;
  opt.seed = 7;
  opt.sandbox = 1;
  opt.write_dirs = writable;
  opt.budget.host_bytes = 256 << 20; /* Lua heap + tensors */
  opt.budget.seconds = 120;          /* per call */
  gpubp_runtime *rt = NULL;
  if (gpubp_open(&opt, &rt) != GPUBP_OK) {
    fprintf(stderr, "open: %s\n", gpubp_errmsg(rt));
    gpubp_close(rt);
    return 1;
  }
  chart c = {0};
  gpubp_set_metrics_hook(rt, on_metric, &c);
  gpubp_register(rt, "host_log", host_log, NULL);

  /* the data: features wrapped zero-copy (the runtime frees them), labels copied as int64 */
  float *x = malloc(sizeof(float) * N * 2);
  int64_t y[N];
  for (int i = 0; i < N; i++) {
    int k = i % K;
    double t = (double)(i / K) / (N / K), a = t * 4.0 + k * 2.0944;
    x[2 * i] = (float)(t * cos(a));
    x[2 * i + 1] = (float)(t * sin(a));
    y[i] = k + 1;
  }
  const int64_t xs[2] = {N, 2}, ys[1] = {N};
  int st = gpubp_wrap_tensor(rt, "X", x, GPUBP_FLOAT32, "cpu", 2, xs, NULL, free_features, NULL);
  if (st != GPUBP_OK) free(x); /* on failure the host still owns it */
  if (st == GPUBP_OK) st = gpubp_set_tensor_typed(rt, "Y", y, GPUBP_INT64, 1, ys);
  if (st != GPUBP_OK) {
    fprintf(stderr, "data: %s\n", gpubp_errmsg(rt));
    gpubp_close(rt);
    return 1;
  }

  running = rt;
  signal(SIGINT, on_sigint);
  st = gpubp_dofile(rt, script);
  signal(SIGINT, SIG_DFL);
  if (st != GPUBP_OK)
    fprintf(stderr, "script stopped (%s): %s\n", gpubp_status_string(st), gpubp_errmsg(rt));
  print_chart(&c);
  int ok = st == GPUBP_OK && c.n > 1 && c.loss[c.n - 1] < 0.5 * c.loss[0];
  if (c.n > 1)
    printf("loss fell from %.4f to %.4f in %d steps; accuracy %.3f\n", c.loss[0], c.loss[c.n - 1],
           c.n, c.accuracy);
  gpubp_close(rt);
  remove(scratch);
  return ok ? 0 : 1;
}
