/* gb_cpu_optim.c — fused optimizer updates: one pass over a parameter, its gradient and its
 * state, in place, following PyTorch's documented SGD and Adam/AdamW algorithms (the same
 * float32 operation order, so results match PyTorch to rounding). */
#include <math.h>

#include "gb_cpu.h"

/* (p, g, buf): g += wd*p; buf = first ? g : momentum*buf + (1-dampening)*g;
 * g = nesterov ? g + momentum*buf : buf; p -= lr*g  (no momentum: p -= lr*g) */
gb_status gb_cpu_sgd_step(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  if (out[0]->dtype == GB_F64) return gb_cpu_sgd_step_f64(S, a, out);
  float *restrict p = gb_tensor_f32(out[0]), *restrict buf = gb_tensor_f32(a->in[2]);
  const float *restrict g = gb_tensor_f32(a->in[1]);
  const float lr = (float)a->f[0], mom = (float)a->f[1], damp = (float)a->f[2];
  const float wd = (float)a->f[3];
  const bool nesterov = a->i[0] != 0, first = a->i[1] != 0;
  int64_t n = out[0]->numel;
  /* the options are tested once, outside the loops, so each loop vectorizes */
  if (mom == 0.0f) {
    for (int64_t k = 0; k < n; k++)
      p[k] -= lr * (g[k] + wd * p[k]);
    return GB_OK;
  }
  if (first)
    for (int64_t k = 0; k < n; k++)
      buf[k] = g[k] + wd * p[k];
  else
    for (int64_t k = 0; k < n; k++)
      buf[k] = mom * buf[k] + (1.0f - damp) * (g[k] + wd * p[k]);
  if (nesterov)
    for (int64_t k = 0; k < n; k++)
      p[k] -= lr * ((g[k] + wd * p[k]) + mom * buf[k]);
  else
    for (int64_t k = 0; k < n; k++)
      p[k] -= lr * buf[k];
  return GB_OK;
}

/* (p, g, m, v), step t >= 1: Adam (L2 weight decay into g) or AdamW (decoupled:
 * p *= 1 - lr*wd); m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
 * p -= (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps) */
gb_status gb_cpu_adam_step(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  if (out[0]->dtype == GB_F64) return gb_cpu_adam_step_f64(S, a, out);
  float *restrict p = gb_tensor_f32(out[0]), *restrict m = gb_tensor_f32(a->in[2]);
  float *restrict v = gb_tensor_f32(a->in[3]);
  const float *restrict g = gb_tensor_f32(a->in[1]);
  const float lr = (float)a->f[0], b1 = (float)a->f[1], b2 = (float)a->f[2];
  const float eps = (float)a->f[3], wd = (float)a->f[4];
  const bool decoupled = a->i[1] != 0;
  double t = (double)a->i[0];
  const float step_size = (float)((double)lr / (1.0 - pow((double)b1, t)));
  const float bc2_sqrt = (float)sqrt(1.0 - pow((double)b2, t));
  int64_t n = out[0]->numel;
  const float l2 = decoupled ? 0.0f : wd, shrink = decoupled ? 1.0f - lr * wd : 1.0f;
  for (int64_t k = 0; k < n; k++) {
    float d = g[k] + l2 * p[k];
    p[k] *= shrink;
    m[k] = m[k] * b1 + (1.0f - b1) * d;
    v[k] = v[k] * b2 + (1.0f - b2) * d * d;
    p[k] -= step_size * (m[k] / (sqrtf(v[k]) / bc2_sqrt + eps));
  }
  return GB_OK;
}
