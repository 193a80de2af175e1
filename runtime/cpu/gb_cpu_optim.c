/* gb_cpu_optim.c — fused optimizer updates: one pass over a parameter, its gradient and its
 * state, in place, following PyTorch's documented SGD and Adam/AdamW algorithms (the same
 * float32 operation order, so results match PyTorch to rounding). */
#include <math.h>

#include "gb_cpu.h"
#include "gb_cpu_pool.h"

/* Parameters of OPTIM_PAR_MIN elements and up are updated as one contiguous piece per thread
 * of the CPU pool. The update is memory-bound, and the pieces match how the split products of
 * gb_blas leave the gradient in the two cores' caches: on the seed MLP's 100k-element weight
 * the serial pass took ~20% of the main thread's step, and splitting it made benchmark (r)'s
 * epoch 11% faster at idle (docs/benchmarks.md). An update is elementwise, so the bits are the same
 * for any split; it never stops halfway (no stop checks). */
#define OPTIM_PAR_MIN ((int64_t)1 << 15)

/* The element loops below are compiled for AVX-512, AVX2 and baseline x86-64 (picked at load
 * time by the CPU, GCC/Clang function multiversioning) so they run 16 or 8 lanes wide where
 * they can: Adam's scalar loop took 20% of benchmark (f)'s step. The file is built with
 * -fno-math-errno (CMakeLists.txt) so sqrtf vectorizes (its operand is never < 0: it would
 * not set errno anyway). Every clone computes the same IEEE expressions in the same order
 * (ISO C mode: no FMA contraction), so results are identical bit for bit on every CPU. */
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones) && !defined(__SANITIZE_ADDRESS__)
#define GB_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef GB_SIMD_CLONES
#define GB_SIMD_CLONES
#endif

typedef struct sgd_coef {
  float lr, mom, damp, wd;
  bool nesterov, first;
} sgd_coef;

/* One pass: buf and p are updated together, element by element. */
GB_SIMD_CLONES
static void sgd_rows(int64_t n, float *restrict p, const float *restrict g, float *restrict buf,
                     const sgd_coef *c) {
  const float lr = c->lr, mom = c->mom, damp = c->damp, wd = c->wd;
  /* the options are tested once, outside the loops, so each loop vectorizes */
  if (mom == 0.0f) {
    for (int64_t k = 0; k < n; k++)
      p[k] -= lr * (g[k] + wd * p[k]);
  } else if (c->first && c->nesterov) {
    for (int64_t k = 0; k < n; k++) {
      float d = g[k] + wd * p[k];
      buf[k] = d;
      p[k] -= lr * (d + mom * d);
    }
  } else if (c->first) {
    for (int64_t k = 0; k < n; k++) {
      float d = g[k] + wd * p[k];
      buf[k] = d;
      p[k] -= lr * d;
    }
  } else if (c->nesterov) {
    for (int64_t k = 0; k < n; k++) {
      float d = g[k] + wd * p[k], b = mom * buf[k] + (1.0f - damp) * d;
      buf[k] = b;
      p[k] -= lr * (d + mom * b);
    }
  } else {
    for (int64_t k = 0; k < n; k++) {
      float b = mom * buf[k] + (1.0f - damp) * (g[k] + wd * p[k]);
      buf[k] = b;
      p[k] -= lr * b;
    }
  }
}

/* Runs fn over [0, n): whole on the caller below OPTIM_PAR_MIN, else one piece per thread
 * (16-element aligned, so each piece's vector loop starts on a full vector; with one thread
 * the one piece runs inline). */
static void optim_pieces(int64_t n, void (*fn)(void *ctx, int64_t lo, int64_t hi), void *ctx) {
  if (n < OPTIM_PAR_MIN) {
    fn(ctx, 0, n);
    return;
  }
  int threads = gb_cpu_par_threads();
  int64_t piece = ((n + threads - 1) / threads + 15) & ~(int64_t)15;
  gb_cpu_parallel(NULL, n, piece, fn, ctx);
}

typedef struct sgd_piece {
  float *p;
  const float *g;
  float *buf;
  const sgd_coef *c;
} sgd_piece;

static void sgd_range(void *ctx, int64_t lo, int64_t hi) {
  sgd_piece *j = ctx;
  sgd_rows(hi - lo, j->p + lo, j->g + lo, j->buf ? j->buf + lo : NULL, j->c);
}

/* (p, g, buf): g += wd*p; buf = first ? g : momentum*buf + (1-dampening)*g;
 * g = nesterov ? g + momentum*buf : buf; p -= lr*g  (no momentum: p -= lr*g) */
gb_status gb_cpu_sgd_step(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  if (out[0]->dtype == GB_F64) return gb_cpu_sgd_step_f64(S, a, out);
  sgd_coef c = {.lr = (float)a->f[0],
                .mom = (float)a->f[1],
                .damp = (float)a->f[2],
                .wd = (float)a->f[3],
                .nesterov = a->i[0] != 0,
                .first = a->i[1] != 0};
  sgd_piece j = {.p = gb_tensor_f32(out[0]),
                 .g = gb_tensor_f32(a->in[1]),
                 .buf = gb_tensor_f32(a->in[2]),
                 .c = &c};
  optim_pieces(out[0]->numel, sgd_range, &j);
  return GB_OK;
}

typedef struct adam_coef {
  float b1, b2, eps, l2, shrink, step_size, bc2_sqrt;
} adam_coef;

GB_SIMD_CLONES
static void adam_rows(int64_t n, float *restrict p, const float *restrict g, float *restrict m,
                      float *restrict v, const adam_coef *c) {
  const float b1 = c->b1, b2 = c->b2, eps = c->eps, l2 = c->l2, shrink = c->shrink;
  const float step_size = c->step_size, bc2_sqrt = c->bc2_sqrt;
  for (int64_t k = 0; k < n; k++) {
    float d = g[k] + l2 * p[k];
    float mk = m[k] * b1 + (1.0f - b1) * d;
    float vk = v[k] * b2 + (1.0f - b2) * d * d;
    m[k] = mk;
    v[k] = vk;
    p[k] = p[k] * shrink - step_size * (mk / (sqrtf(vk) / bc2_sqrt + eps));
  }
}

typedef struct adam_piece {
  float *p;
  const float *g;
  float *m, *v;
  const adam_coef *c;
} adam_piece;

static void adam_range(void *ctx, int64_t lo, int64_t hi) {
  adam_piece *j = ctx;
  adam_rows(hi - lo, j->p + lo, j->g + lo, j->m + lo, j->v + lo, j->c);
}

/* (p, g, m, v), step t >= 1: Adam (L2 weight decay into g) or AdamW (decoupled:
 * p *= 1 - lr*wd); m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
 * p -= (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps) */
gb_status gb_cpu_adam_step(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  if (out[0]->dtype == GB_F64) return gb_cpu_adam_step_f64(S, a, out);
  const float lr = (float)a->f[0], wd = (float)a->f[4];
  const bool decoupled = a->i[1] != 0;
  double t = (double)a->i[0];
  adam_coef c = {.b1 = (float)a->f[1],
                 .b2 = (float)a->f[2],
                 .eps = (float)a->f[3],
                 .l2 = decoupled ? 0.0f : wd,
                 .shrink = decoupled ? 1.0f - lr * wd : 1.0f};
  c.step_size = (float)((double)lr / (1.0 - pow((double)c.b1, t)));
  c.bc2_sqrt = (float)sqrt(1.0 - pow((double)c.b2, t));
  adam_piece j = {.p = gb_tensor_f32(out[0]),
                  .g = gb_tensor_f32(a->in[1]),
                  .m = gb_tensor_f32(a->in[2]),
                  .v = gb_tensor_f32(a->in[3]),
                  .c = &c};
  optim_pieces(out[0]->numel, adam_range, &j);
  return GB_OK;
}
