/* gb_cpu_batchnorm.c — training-mode batch norm over (N,C,S...) in one row: per channel the
 * batch mean and biased variance (two passes, in double), then y = (x - mean) * w /
 * sqrt(var + eps) + b; the backward row takes the forward's statistics (or recomputes them)
 * and gives dx, dw, db in two more passes. float32 and float64 tensors (one body, typed by
 * BN_CHANNELS_FOR). Channels run in parallel (gb_cpu_parallel.h). */
#include <math.h>

#include "gb_cpu.h"
#include "gb_cpu_parallel.h"

typedef struct bn_job {
  int64_t n, c, s; /* x viewed as (N, C, S) */
  double eps;
  /* float for float32 tensors, double for float64 ones (the channel functions cast) */
  const void *x, *w, *b, *g;
  const void *saved; /* backward: the forward's (2,C) mean and variance, or NULL */
  void *y, *stats, *gx, *gwb;
} bn_job;

/* sum of p[0..n) and of (p[k] - mu)^2: 8 float lanes per block of 256, each block added in
 * double, so the loops vectorize and the rounding stays that of short float sums */
static void f_plane_sums(const float *p, int64_t n, float mu, double *s, double *ss) {
  for (int64_t k0 = 0; k0 < n; k0 += 256) {
    int64_t k1 = n - k0 < 256 ? n : k0 + 256;
    float a[8] = {0}, b[8] = {0};
    int64_t k = k0;
    for (; k + 8 <= k1; k += 8)
      for (int l = 0; l < 8; l++) {
        float d = p[k + l] - mu;
        a[l] += p[k + l];
        b[l] += d * d;
      }
    for (; k < k1; k++) {
      float d = p[k] - mu;
      a[0] += p[k];
      b[0] += d * d;
    }
    for (int l = 0; l < 8; l++)
      *s += a[l], *ss += b[l];
  }
}

/* float64: plain double sums (float64 batches are gradcheck-sized: precision first) */
static void d_plane_sums(const double *p, int64_t n, double mu, double *s, double *ss) {
  for (int64_t k = 0; k < n; k++) {
    double d = p[k] - mu;
    *s += p[k], *ss += d * d;
  }
}

/* BN_CHANNELS_FOR(T, P): the per-channel work over elements of type T, one body for float
 * (f_) and double (d_). P##moments: batch mean and biased variance of channel c, a first pass
 * for a shift (the mean), then the sums around it, so the variance does not cancel
 * catastrophically. P##forward_channel: y and the (2,C) statistics. P##backward_channel: gx
 * and the (2,C) dw, db from the forward's statistics (or recomputed ones). */
#define BN_CHANNELS_FOR(T, P)                                                                      \
  static void P##moments(const bn_job *j, int64_t c, double *mean, double *var) {                  \
    const T *x = j->x;                                                                             \
    double m = (double)(j->n * j->s), s = 0, ss = 0, junk = 0;                                     \
    for (int64_t i = 0; i < j->n; i++)                                                             \
      P##plane_sums(x + (i * j->c + c) * j->s, j->s, (T)0, &s, &junk);                             \
    double mu = s / m;                                                                             \
    s = 0;                                                                                         \
    for (int64_t i = 0; i < j->n; i++)                                                             \
      P##plane_sums(x + (i * j->c + c) * j->s, j->s, (T)mu, &junk, &ss);                           \
    *mean = mu, *var = ss / m;                                                                     \
  }                                                                                                \
  static void P##forward_channel(void *ctx, int worker, int64_t c) {                               \
    (void)worker;                                                                                  \
    const bn_job *j = ctx;                                                                         \
    const T *x = j->x, *w = j->w, *b = j->b;                                                       \
    T *y = j->y, *stats = j->stats;                                                                \
    double mu, var;                                                                                \
    P##moments(j, c, &mu, &var);                                                                   \
    double scale = w[c] / sqrt(var + j->eps), shift = b[c] - mu * scale;                           \
    for (int64_t i = 0; i < j->n; i++) {                                                           \
      const T *p = x + (i * j->c + c) * j->s;                                                      \
      T *q = y + (i * j->c + c) * j->s;                                                            \
      for (int64_t k = 0; k < j->s; k++)                                                           \
        q[k] = (T)(p[k] * scale + shift);                                                          \
    }                                                                                              \
    stats[c] = (T)mu;                                                                              \
    stats[j->c + c] = (T)var;                                                                      \
  }                                                                                                \
  static void P##backward_channel(void *ctx, int worker, int64_t c) {                              \
    (void)worker;                                                                                  \
    const bn_job *j = ctx;                                                                         \
    const T *x = j->x, *w = j->w, *gy = j->g, *saved = j->saved;                                   \
    T *gx = j->gx, *gwb = j->gwb;                                                                  \
    double mu, var, sg = 0, sgx = 0, m = (double)(j->n * j->s);                                    \
    if (saved)                                                                                     \
      mu = saved[c], var = saved[j->c + c];                                                        \
    else                                                                                           \
      P##moments(j, c, &mu, &var);                                                                 \
    double inv = 1.0 / sqrt(var + j->eps);                                                         \
    for (int64_t i = 0; i < j->n; i++) {                                                           \
      const T *p = x + (i * j->c + c) * j->s, *g = gy + (i * j->c + c) * j->s;                     \
      for (int64_t k = 0; k < j->s; k++) {                                                         \
        sg += g[k];                                                                                \
        sgx += g[k] * (p[k] - mu) * inv;                                                           \
      }                                                                                            \
    }                                                                                              \
    double wi = w[c] * inv, mg = sg / m, mgx = sgx / m;                                            \
    for (int64_t i = 0; i < j->n; i++) {                                                           \
      const T *p = x + (i * j->c + c) * j->s, *g = gy + (i * j->c + c) * j->s;                     \
      T *q = gx + (i * j->c + c) * j->s;                                                           \
      for (int64_t k = 0; k < j->s; k++)                                                           \
        q[k] = (T)(wi * (g[k] - mg - (p[k] - mu) * inv * mgx));                                    \
    }                                                                                              \
    gwb[c] = (T)sgx;                                                                               \
    gwb[j->c + c] = (T)sg;                                                                         \
  }
BN_CHANNELS_FOR(float, f_)
BN_CHANNELS_FOR(double, d_)

static bn_job job_of(const gb_tensor *x, double eps) {
  bn_job j = {.n = x->shape[0], .c = x->shape[1], .s = 1, .eps = eps};
  for (int d = 2; d < x->ndim; d++)
    j.s *= x->shape[d];
  return j;
}

/* channels in parallel when the tensor is large enough to pay for waking the pool */
static void run_channels(bn_job *j, gb_par_fn fn) {
  int threads = j->n * j->c * j->s >= (1 << 15) ? gb_cpu_jobs_threads() : 1;
  gb_cpu_jobs(j->c, threads, fn, j);
}

/* (x, w, b); f0 eps -> y, stats (2,C) */
gb_status gb_cpu_batch_norm(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *c[3];
  gb_status st = gb_opargs_contiguous(S, a, 3, c);
  if (st) return st;
  bn_job j = job_of(c[0], a->f[0]);
  j.x = gb_tensor_data(c[0]), j.w = gb_tensor_data(c[1]), j.b = gb_tensor_data(c[2]);
  j.y = gb_tensor_data(out[0]), j.stats = gb_tensor_data(out[1]);
  run_channels(&j, c[0]->dtype == GB_F64 ? d_forward_channel : f_forward_channel);
  gb_tensors_release(S, c, 3);
  return GB_OK;
}

/* (gout, x, w [, stats]); f0 eps -> gx, (2,C) dw and db */
gb_status gb_cpu_batch_norm_backward(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *c[4];
  gb_status st = gb_opargs_contiguous(S, a, a->nin, c);
  if (st) return st;
  bn_job j = job_of(c[1], a->f[0]);
  j.g = gb_tensor_data(c[0]), j.x = gb_tensor_data(c[1]), j.w = gb_tensor_data(c[2]);
  j.gx = gb_tensor_data(out[0]), j.gwb = gb_tensor_data(out[1]);
  j.saved = a->nin > 3 ? gb_tensor_data(c[3]) : NULL;
  run_channels(&j, c[1]->dtype == GB_F64 ? d_backward_channel : f_backward_channel);
  gb_tensors_release(S, c, a->nin);
  return GB_OK;
}
