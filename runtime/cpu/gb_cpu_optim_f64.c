/* gb_cpu_optim_f64.c — the float64 twins of the fused optimizer updates of gb_cpu_optim.c
 * (PyTorch's SGD and Adam/AdamW, the same operation order), in double, for float64
 * parameters. Kept apart so the float32 loops stay as they are. */
#include <math.h>

#include "gb_cpu.h"

gb_status gb_cpu_sgd_step_f64(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  double *restrict p = gb_tensor_data(out[0]), *restrict buf = gb_tensor_data(a->in[2]);
  const double *restrict g = gb_tensor_data(a->in[1]);
  const double lr = a->f[0], mom = a->f[1], damp = a->f[2], wd = a->f[3];
  const bool nesterov = a->i[0] != 0, first = a->i[1] != 0;
  int64_t n = out[0]->numel;
  for (int64_t k = 0; k < n; k++) {
    double d = g[k] + wd * p[k];
    if (mom == 0.0) {
      p[k] -= lr * d;
      continue;
    }
    buf[k] = first ? d : mom * buf[k] + (1.0 - damp) * d;
    p[k] -= lr * (nesterov ? d + mom * buf[k] : buf[k]);
  }
  return GB_OK;
}

gb_status gb_cpu_adam_step_f64(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  double *restrict p = gb_tensor_data(out[0]), *restrict m = gb_tensor_data(a->in[2]);
  double *restrict v = gb_tensor_data(a->in[3]);
  const double *restrict g = gb_tensor_data(a->in[1]);
  const double lr = a->f[0], b1 = a->f[1], b2 = a->f[2], eps = a->f[3], wd = a->f[4];
  const bool decoupled = a->i[1] != 0;
  double t = (double)a->i[0];
  const double step_size = lr / (1.0 - pow(b1, t)), bc2_sqrt = sqrt(1.0 - pow(b2, t));
  const double l2 = decoupled ? 0.0 : wd, shrink = decoupled ? 1.0 - lr * wd : 1.0;
  int64_t n = out[0]->numel;
  for (int64_t k = 0; k < n; k++) {
    double d = g[k] + l2 * p[k];
    p[k] *= shrink;
    m[k] = m[k] * b1 + (1.0 - b1) * d;
    v[k] = v[k] * b2 + (1.0 - b2) * d * d;
    p[k] -= step_size * (m[k] / (sqrt(v[k]) / bc2_sqrt + eps));
  }
  return GB_OK;
}
