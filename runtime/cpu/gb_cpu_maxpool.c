/* gb_cpu_maxpool.c — max pooling over (N,C,H,W) on the CPU: the forward row finds each
 * window's first maximum (NaN wins, as in the reductions) and, for a call recorded for
 * backward, writes its offset in the (H,W) plane as output 1; the backward row adds each
 * output's gradient at that offset, so no window is searched twice. Planes run in parallel
 * on the worker pool (gb_cpu_parallel.h); a 2x2 window of stride 2 without padding (the
 * common CNN block) has its own loop. Dilation spaces the taps; with ceil_mode the last
 * windows may hang over the input's end, and only their part inside is read (gb_window.h). */
#include <math.h>
#include <string.h>

#include "gb_cpu.h"
#include "gb_cpu_parallel.h"
#include "gb_window.h"

typedef struct pool_geom {
  int64_t planes, h, w, oh, ow;
  gb_window k;
} pool_geom;

typedef struct pool_job {
  pool_geom g;
  const float *x, *gout;
  const int64_t *idx_in;
  float *y, *gin;
  int64_t *idx;    /* NULL: the call is not recorded, no indices wanted */
  int64_t per_job; /* planes per job */
} pool_job;

/* Planes per job: about 2^15 input elements each, so a job outweighs its hand-off. */
static int64_t planes_per_job(const pool_geom *g) {
  int64_t hw = g->h * g->w > 0 ? g->h * g->w : 1, per = ((int64_t)1 << 15) / hw;
  return per < 1 ? 1 : per;
}

/* The taps [*k0, *k1) of a window starting at s0 (taps s0 + k*d, k < kn) inside 0..n-1. */
static void taps_inside(int64_t s0, int64_t kn, int64_t d, int64_t n, int64_t *k0, int64_t *k1) {
  *k0 = s0 < 0 ? -s0 / d + (-s0 % d != 0) : 0; /* ceil(-s0 / d), without overflow */
  int64_t last = n - 1 - s0;                   /* tap k is inside while k*d <= last */
  *k1 = last < 0 ? 0 : last / d + 1;
  if (*k1 > kn) *k1 = kn;
}

/* One window (oy, ox) of one plane: offset of its first maximum, -1 if it lies wholly in the
 * padding. Only the taps inside the image are read, so a huge padded kernel costs no more. */
static int64_t window_argmax(const pool_geom *g, const float *plane, int64_t oy, int64_t ox) {
  const gb_window *k = &g->k;
  int64_t y0 = oy * k->sh - k->ph, x0 = ox * k->sw - k->pw, ky0, ky1, kx0, kx1;
  taps_inside(y0, k->kh, k->dh, g->h, &ky0, &ky1);
  taps_inside(x0, k->kw, k->dw, g->w, &kx0, &kx1);
  if (ky0 >= ky1 || kx0 >= kx1) return -1;
  int64_t best = (y0 + ky0 * k->dh) * g->w + x0 + kx0 * k->dw;
  float bv = plane[best];
  for (int64_t ky = ky0; ky < ky1; ky++) {
    int64_t rowat = (y0 + ky * k->dh) * g->w + x0;
    for (int64_t kx = kx0; kx < kx1; kx++) {
      int64_t at = rowat + kx * k->dw;
      float v = plane[at];
      /* branch-free: random data mispredicts a branch half the time */
      int take = (bv == bv) & ((v != v) | (v > bv));
      best = take ? at : best;
      bv = take ? v : bv;
    }
  }
  return best;
}

/* 2x2 windows, stride 2, no padding: every window lies in the image. Each output row is done
 * with plain comparisons, which the compiler turns into vector blends; a row holding a NaN
 * (the comparisons would drop it) is redone by window_argmax's rule. */
static void plane_2x2(const pool_geom *g, const float *plane, float *y, int64_t *idx) {
  for (int64_t oy = 0; oy < g->oh; oy++) {
    const float *r0 = plane + 2 * oy * g->w, *r1 = r0 + g->w;
    float *yr = y + oy * g->ow;
    int64_t *ir = idx ? idx + oy * g->ow : NULL, base = 2 * oy * g->w;
    int nan = 0;
    for (int64_t ox = 0; ox < g->ow; ox++) {
      float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
      nan |= (a != a) | (b != b) | (c != c) | (d != d);
      /* the window position 0..3 of the first maximum, kept by arithmetic, not branches */
      int t = b > a, o = t;
      float m = t ? b : a;
      t = c > m, o += t * (2 - o), m = t ? c : m;
      t = d > m, o += t * (3 - o), m = t ? d : m;
      yr[ox] = m;
      if (ir) ir[ox] = base + (o >> 1) * g->w + 2 * ox + (o & 1);
    }
    if (!nan) continue;
    for (int64_t ox = 0; ox < g->ow; ox++) {
      int64_t at = window_argmax(g, plane, oy, ox);
      yr[ox] = plane[at];
      if (ir) ir[ox] = at;
    }
  }
}

/* 2x2 windows of stride 2, no padding or dilation, each inside the image (not ceil_mode's
 * last, overhanging ones) */
static bool is_2x2(const pool_geom *g) {
  const gb_window *k = &g->k;
  return k->kh == 2 && k->kw == 2 && k->sh == 2 && k->sw == 2 && k->ph == 0 && k->pw == 0 &&
         k->dh == 1 && k->dw == 1 && 2 * g->oh <= g->h && 2 * g->ow <= g->w;
}

static void pool_forward_job(void *ctx, int worker, int64_t job) {
  (void)worker;
  const pool_job *j = ctx;
  const pool_geom *g = &j->g;
  bool fast = is_2x2(g);
  int64_t p1 = (job + 1) * j->per_job < g->planes ? (job + 1) * j->per_job : g->planes;
  for (int64_t p = job * j->per_job; p < p1; p++) {
    const float *plane = j->x + p * g->h * g->w;
    float *y = j->y + p * g->oh * g->ow;
    int64_t *idx = j->idx ? j->idx + p * g->oh * g->ow : NULL;
    if (fast) {
      plane_2x2(g, plane, y, idx);
      continue;
    }
    for (int64_t oy = 0; oy < g->oh; oy++)
      for (int64_t ox = 0; ox < g->ow; ox++) {
        int64_t at = window_argmax(g, plane, oy, ox), o = oy * g->ow + ox;
        y[o] = at < 0 ? -INFINITY : plane[at];
        if (idx) idx[o] = at;
      }
  }
}

static pool_geom geom_of(const gb_opargs *a, int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh,
                         int64_t ow) {
  pool_geom g = {n * c, h, w, oh, ow, gb_window_of(a)};
  return g;
}

static void run_planes(pool_job *j, gb_par_fn fn) {
  j->per_job = planes_per_job(&j->g);
  int64_t njobs = (j->g.planes + j->per_job - 1) / j->per_job;
  gb_cpu_jobs(njobs, gb_cpu_jobs_threads(), fn, j);
}

/* x (N,C,H,W) -> y (N,C,OH,OW) [, indices (N,C,OH,OW) int64] */
gb_status gb_cpu_max_pool2d(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *xc;
  gb_status st = gb_tensor_contiguous(S, a->in[0], &xc);
  if (st) return st;
  gb_tensor *y = out[0];
  pool_job j = {.g = geom_of(a, xc->shape[0], xc->shape[1], xc->shape[2], xc->shape[3], y->shape[2],
                             y->shape[3]),
                .x = gb_tensor_f32(xc),
                .y = gb_tensor_f32(y),
                .idx = out[1] ? (int64_t *)gb_tensor_data(out[1]) : NULL};
  if (y->numel > 0) run_planes(&j, pool_forward_job);
  gb_tensor_release(S, xc);
  return GB_OK;
}

static void pool_backward_job(void *ctx, int worker, int64_t job) {
  (void)worker;
  const pool_job *j = ctx;
  const pool_geom *g = &j->g;
  int64_t p1 = (job + 1) * j->per_job < g->planes ? (job + 1) * j->per_job : g->planes;
  int64_t hw = g->h * g->w, ohw = g->oh * g->ow;
  for (int64_t p = job * j->per_job; p < p1; p++) {
    float *gplane = j->gin + p * hw;
    const float *go = j->gout + p * ohw;
    const int64_t *idx = j->idx_in + p * ohw;
    memset(gplane, 0, (size_t)hw * sizeof(float));
    for (int64_t o = 0; o < ohw; o++) /* in output order: overlapping windows sum the same way */
      if (idx[o] >= 0 && idx[o] < hw) gplane[idx[o]] += go[o];
  }
}

/* (gout (N,C,OH,OW), indices (N,C,OH,OW)) -> gin (N,C,H,W): gin[plane][idx] += gout;
 * an index outside the plane (not one the forward wrote) is skipped */
gb_status gb_cpu_max_pool2d_backward(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *c[2];
  gb_status st = gb_opargs_contiguous(S, a, 2, c);
  if (st) return st;
  gb_tensor *gc = c[0], *ic = c[1];
  gb_tensor *gin = out[0];
  pool_job j = {.g = geom_of(a, gin->shape[0], gin->shape[1], gin->shape[2], gin->shape[3],
                             gc->shape[2], gc->shape[3]),
                .gout = gb_tensor_f32(gc),
                .idx_in = (const int64_t *)gb_tensor_data(ic),
                .gin = gb_tensor_f32(gin)};
  if (gin->numel > 0) run_planes(&j, pool_backward_job);
  gb_tensors_release(S, c, 2);
  return GB_OK;
}
