/* gb_cpu_batchnorm.c — training-mode batch norm over (N,C,S...) in one row: per channel the
 * batch mean and biased variance (two passes, in double), then y = (x - mean) * w /
 * sqrt(var + eps) + b; the backward row takes the forward's statistics (or recomputes them)
 * and gives dx, dw, db in two more passes. Channels run in parallel (gb_cpu_parallel.h). */
#include <math.h>

#include "gb_cpu.h"
#include "gb_cpu_parallel.h"

typedef struct bn_job {
  int64_t n, c, s; /* x viewed as (N, C, S) */
  double eps;
  const float *x, *w, *b, *g;
  const float *saved; /* backward: the forward's (2,C) mean and variance, or NULL */
  float *y, *stats, *gx, *gwb;
} bn_job;

/* sum of p[0..n) and of (p[k] - mu)^2: 8 float lanes per block of 256, each block added in
 * double, so the loops vectorize and the rounding stays that of short float sums */
static void plane_sums(const float *p, int64_t n, float mu, double *s, double *ss) {
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

/* batch mean and biased variance of channel c: a first pass for a shift (the mean), then the
 * sums around it, so the variance does not cancel catastrophically */
static void moments(const bn_job *j, int64_t c, double *mean, double *var) {
  double m = (double)(j->n * j->s), s = 0, ss = 0, junk = 0;
  for (int64_t i = 0; i < j->n; i++)
    plane_sums(j->x + (i * j->c + c) * j->s, j->s, 0.0f, &s, &junk);
  double mu = s / m;
  s = 0;
  for (int64_t i = 0; i < j->n; i++)
    plane_sums(j->x + (i * j->c + c) * j->s, j->s, (float)mu, &junk, &ss);
  *mean = mu, *var = ss / m;
}

static void forward_channel(void *ctx, int worker, int64_t c) {
  (void)worker;
  const bn_job *j = ctx;
  double mu, var;
  moments(j, c, &mu, &var);
  double scale = j->w[c] / sqrt(var + j->eps), shift = j->b[c] - mu * scale;
  for (int64_t i = 0; i < j->n; i++) {
    const float *p = j->x + (i * j->c + c) * j->s;
    float *q = j->y + (i * j->c + c) * j->s;
    for (int64_t k = 0; k < j->s; k++)
      q[k] = (float)(p[k] * scale + shift);
  }
  j->stats[c] = (float)mu;
  j->stats[j->c + c] = (float)var;
}

static void backward_channel(void *ctx, int worker, int64_t c) {
  (void)worker;
  const bn_job *j = ctx;
  double mu, var, sg = 0, sgx = 0, m = (double)(j->n * j->s);
  if (j->saved)
    mu = j->saved[c], var = j->saved[j->c + c];
  else
    moments(j, c, &mu, &var);
  double inv = 1.0 / sqrt(var + j->eps);
  for (int64_t i = 0; i < j->n; i++) {
    const float *p = j->x + (i * j->c + c) * j->s, *g = j->g + (i * j->c + c) * j->s;
    for (int64_t k = 0; k < j->s; k++) {
      sg += g[k];
      sgx += g[k] * (p[k] - mu) * inv;
    }
  }
  double wi = j->w[c] * inv, mg = sg / m, mgx = sgx / m;
  for (int64_t i = 0; i < j->n; i++) {
    const float *p = j->x + (i * j->c + c) * j->s, *g = j->g + (i * j->c + c) * j->s;
    float *q = j->gx + (i * j->c + c) * j->s;
    for (int64_t k = 0; k < j->s; k++)
      q[k] = (float)(wi * (g[k] - mg - (p[k] - mu) * inv * mgx));
  }
  j->gwb[c] = (float)sgx;
  j->gwb[j->c + c] = (float)sg;
}

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
  j.x = gb_tensor_f32(c[0]), j.w = gb_tensor_f32(c[1]), j.b = gb_tensor_f32(c[2]);
  j.y = gb_tensor_f32(out[0]), j.stats = gb_tensor_f32(out[1]);
  run_channels(&j, forward_channel);
  gb_tensors_release(S, c, 3);
  return GB_OK;
}

/* (gout, x, w [, stats]); f0 eps -> gx, (2,C) dw and db */
gb_status gb_cpu_batch_norm_backward(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *c[4];
  gb_status st = gb_opargs_contiguous(S, a, a->nin, c);
  if (st) return st;
  bn_job j = job_of(c[1], a->f[0]);
  j.g = gb_tensor_f32(c[0]), j.x = gb_tensor_f32(c[1]), j.w = gb_tensor_f32(c[2]);
  j.gx = gb_tensor_f32(out[0]), j.gwb = gb_tensor_f32(out[1]);
  j.saved = a->nin > 3 ? gb_tensor_f32(c[3]) : NULL;
  run_channels(&j, backward_channel);
  gb_tensors_release(S, c, a->nin);
  return GB_OK;
}
