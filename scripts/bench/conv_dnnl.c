/* conv_dnnl.c — the conv2d rows (runtime/cpu/gb_cpu_conv2d.c) against oneDNN's convolution
 * (Debian's libdnnl-dev, what PyTorch uses on the CPU) on the CNN recipe's layers: forward,
 * backward data and backward weights, plain NCHW/OIHW layouts (what an adoption inside the
 * rows would see), median CPU ms (getrusage, all threads) and wall ms per call.
 * Build and run (from the source tree, after `cmake --build build`):
 *   cc -O2 -std=c11 scripts/bench/conv_dnnl.c -Iruntime/core -Iruntime/cpu build/libgpubp_core.a \
 *      $(pkg-config --libs lua5.4 jansson zlib openblas) -ldnnl -lpthread -lm -ldl -o
 * build/conv_dnnl OMP_WAIT_POLICY=passive build/conv_dnnl [reps] Prints one line per (layer, pass):
 * gpubp and oneDNN CPU/wall ms, and oneDNN's implementation. */
#define _GNU_SOURCE
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "gb_cpu.h"
#include "gb_fn.h"
#include "gb_state.h"

#define CHECK_DNNL(x)                                                                              \
  do {                                                                                             \
    dnnl_status_t s_ = (x);                                                                        \
    if (s_ != dnnl_success) {                                                                      \
      fprintf(stderr, "%s failed: %d\n", #x, (int)s_);                                             \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)

static double cpu_ms(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e3 +
         (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e3;
}

static double wall_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef void (*run_fn)(void *ctx);

/* median CPU and wall ms of reps calls (after one warm-up) */
static void measure(run_fn f, void *ctx, int reps, double *cpu, double *wall) {
  double c[64], w[64];
  f(ctx);
  for (int r = 0; r < reps; r++) {
    double c0 = cpu_ms(), w0 = wall_ms();
    f(ctx);
    c[r] = cpu_ms() - c0, w[r] = wall_ms() - w0;
  }
  qsort(c, (size_t)reps, sizeof(double), cmp);
  qsort(w, (size_t)reps, sizeof(double), cmp);
  *cpu = c[reps / 2], *wall = w[reps / 2];
}

typedef struct layer {
  const char *name;
  int64_t n, c, h, w, o, k, pad;
} layer;

/* ---- gpubp's rows ---- */
typedef struct gb_ctx {
  gb_state *S;
  gb_opid id;
  gb_opargs a;
} gb_ctx;

static void gb_run(void *p) {
  gb_ctx *g = p;
  gb_tensor *out[2] = {NULL, NULL};
  if (gb_op_run(g->S, g->id, &g->a, out)) {
    fprintf(stderr, "%s\n", gb_state_error(g->S));
    exit(1);
  }
  gb_tensor_release(g->S, out[0]);
}

static gb_tensor *rnd(gb_state *S, int nd, const int64_t *shape) {
  gb_tensor *t;
  if (gb_tensor_empty(S, nd, shape, GB_F32, GB_CPU, &t)) exit(1);
  for (int64_t i = 0; i < t->numel; i++)
    gb_tensor_f32(t)[i] = (float)rand() / RAND_MAX - 0.5f;
  return t;
}

/* ---- oneDNN ---- */
typedef struct dn_ctx {
  dnnl_primitive_t p;
  dnnl_stream_t s;
  int nargs;
  dnnl_exec_arg_t args[4];
} dn_ctx;

static void dn_run(void *p) {
  dn_ctx *d = p;
  CHECK_DNNL(dnnl_primitive_execute(d->p, d->s, d->nargs, d->args));
  CHECK_DNNL(dnnl_stream_wait(d->s));
}

static dnnl_memory_t mem(dnnl_engine_t eng, const dnnl_memory_desc_t *md, void *ptr) {
  dnnl_memory_t m;
  CHECK_DNNL(dnnl_memory_create(&m, md, eng, ptr));
  return m;
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 9;
  if (reps < 1 || reps > 64) reps = 9;
  gb_cpu_backend_register();
  gb_state *S = gb_state_new();
  dnnl_engine_t eng;
  dnnl_stream_t strm;
  CHECK_DNNL(dnnl_engine_create(&eng, dnnl_cpu, 0));
  CHECK_DNNL(dnnl_stream_create(&strm, eng, dnnl_stream_default_flags));
  const layer layers[] = {
      {"conv1 b64", 64, 1, 28, 28, 32, 3, 1},     {"conv2 b64", 64, 32, 14, 14, 64, 3, 1},
      {"c4 b64", 64, 4, 28, 28, 32, 3, 1}, /* where the weight gradient changes sides */
      {"c8 b64", 64, 8, 28, 28, 32, 3, 1},        {"c16 b64", 64, 16, 14, 14, 32, 3, 1},
      {"conv1 b2000", 2000, 1, 28, 28, 32, 3, 1}, {"conv2 b2000", 2000, 32, 14, 14, 64, 3, 1},
  };
  printf("%-12s %-8s %10s %10s %10s %10s  %s\n", "layer", "pass", "gb cpu", "gb wall", "dnnl cpu",
         "dnnl wall", "oneDNN implementation");
  for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
    const layer *L = &layers[li];
    int64_t oh = L->h + 2 * L->pad - L->k + 1, ow = L->w + 2 * L->pad - L->k + 1;
    int64_t xs[4] = {L->n, L->c, L->h, L->w}, ws[4] = {L->o, L->c, L->k, L->k}, bs[1] = {L->o},
            ys[4] = {L->n, L->o, oh, ow};
    gb_tensor *x = rnd(S, 4, xs), *w = rnd(S, 4, ws), *b = rnd(S, 1, bs), *gy = rnd(S, 4, ys);
    gb_tensor *gx = rnd(S, 4, xs), *gw = rnd(S, 4, ws), *gbias = rnd(S, 1, bs), *y = rnd(S, 4, ys);
    dnnl_dims_t dx = {L->n, L->c, L->h, L->w}, dw = {L->o, L->c, L->k, L->k}, db = {L->o},
                dy = {L->n, L->o, oh, ow}, st = {1, 1}, pd_ = {L->pad, L->pad};
    dnnl_memory_desc_t xmd, wmd, bmd, ymd;
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(&xmd, 4, dx, dnnl_f32, dnnl_nchw));
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(&wmd, 4, dw, dnnl_f32, dnnl_oihw));
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(&bmd, 1, db, dnnl_f32, dnnl_x));
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(&ymd, 4, dy, dnnl_f32, dnnl_nchw));
    dnnl_convolution_desc_t fd, bdd, bwd;
    CHECK_DNNL(dnnl_convolution_forward_desc_init(
        &fd, dnnl_forward_training, dnnl_convolution_direct, &xmd, &wmd, &bmd, &ymd, st, pd_, pd_));
    CHECK_DNNL(dnnl_convolution_backward_data_desc_init(&bdd, dnnl_convolution_direct, &xmd, &wmd,
                                                        &ymd, st, pd_, pd_));
    CHECK_DNNL(dnnl_convolution_backward_weights_desc_init(&bwd, dnnl_convolution_direct, &xmd,
                                                           &wmd, &bmd, &ymd, st, pd_, pd_));
    dnnl_primitive_desc_t fpd, bdpd, bwpd;
    CHECK_DNNL(dnnl_primitive_desc_create(&fpd, &fd, NULL, eng, NULL));
    CHECK_DNNL(dnnl_primitive_desc_create(&bdpd, &bdd, NULL, eng, fpd));
    CHECK_DNNL(dnnl_primitive_desc_create(&bwpd, &bwd, NULL, eng, fpd));
    dnnl_memory_t mx = mem(eng, &xmd, gb_tensor_f32(x)), mw = mem(eng, &wmd, gb_tensor_f32(w)),
                  mb = mem(eng, &bmd, gb_tensor_f32(b)), my = mem(eng, &ymd, gb_tensor_f32(y)),
                  mgy = mem(eng, &ymd, gb_tensor_f32(gy)), mgx = mem(eng, &xmd, gb_tensor_f32(gx)),
                  mgw = mem(eng, &wmd, gb_tensor_f32(gw)),
                  mgb = mem(eng, &bmd, gb_tensor_f32(gbias));
    struct {
      const char *pass;
      dnnl_primitive_desc_t pd;
      dn_ctx d;
      gb_ctx g;
    } passes[3] = {
        {"forward",
         fpd,
         {NULL,
          strm,
          4,
          {{DNNL_ARG_SRC, mx}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_BIAS, mb}, {DNNL_ARG_DST, my}}},
         {S, GB_OP_CONV2D, {.in = {x, w, b}, .nin = 3, .i = {L->k, L->k, 1, 1, L->pad, L->pad}}}},
        {"bwd data",
         bdpd,
         {NULL,
          strm,
          3,
          {{DNNL_ARG_DIFF_DST, mgy}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DIFF_SRC, mgx}}},
         {S,
          GB_OP_CONV2D_BACKWARD_INPUT,
          {.in = {gy, w}, .nin = 2, .i = {L->k, L->k, 1, 1, L->pad, L->pad, L->h, L->w}}}},
        {"bwd wei",
         bwpd,
         {NULL,
          strm,
          4,
          {{DNNL_ARG_SRC, mx},
           {DNNL_ARG_DIFF_DST, mgy},
           {DNNL_ARG_DIFF_WEIGHTS, mgw},
           {DNNL_ARG_DIFF_BIAS, mgb}}},
         {S,
          GB_OP_CONV2D_BACKWARD_WEIGHT,
          {.in = {gy, x}, .nin = 2, .i = {L->k, L->k, 1, 1, L->pad, L->pad}}}},
    };
    for (int p = 0; p < 3; p++) {
      if (L->n > 64 && p > 0) continue; /* the eval batch runs forward only */
      CHECK_DNNL(dnnl_primitive_create(&passes[p].d.p, passes[p].pd));
      const char *impl = "?";
      dnnl_primitive_desc_query(passes[p].pd, dnnl_query_impl_info_str, 0, &impl);
      double gc, gw_, dc, dw_;
      measure(gb_run, &passes[p].g, reps, &gc, &gw_);
      measure(dn_run, &passes[p].d, reps, &dc, &dw_);
      printf("%-12s %-8s %10.2f %10.2f %10.2f %10.2f  %s\n", L->name, passes[p].pass, gc, gw_, dc,
             dw_, impl);
      dnnl_primitive_destroy(passes[p].d.p);
    }
    gb_tensor *all[] = {x, w, b, gy, gx, gw, gbias, y};
    for (size_t k = 0; k < 8; k++)
      gb_tensor_release(S, all[k]);
  }
  gb_state_free(S);
  return 0;
}
