/* gb_cpu_nn.c — CPU kernels of the softmax family and the class losses. Softmax works on a
 * contiguous copy viewed as (outer, n, inner) with the reduced dim in the middle; the losses
 * take (N,C) scores and 1-based int labels, checked against C with a message naming the row. */
#include <math.h>

#include "gb_cpu.h"
#include "gb_layout.h"

typedef gb_dim_span span;

static gb_status softmax_impl(gb_state *S, const gb_opargs *a, gb_tensor *out, bool log_form) {
  if (out->dtype == GB_F64)
    return gb_cpu_nn_f64(S, log_form ? GB_OP_LOG_SOFTMAX : GB_OP_SOFTMAX, a, out);
  gb_tensor *xc;
  gb_status st = gb_tensor_contiguous(S, a->in[0], &xc);
  if (st) return st;
  span sp = gb_dim_span_of(xc, a->i[0]);
  const float *x = gb_tensor_f32(xc);
  float *y = gb_tensor_f32(out);
  for (int64_t o = 0; o < sp.outer; o++) {
    for (int64_t i = 0; i < sp.inner; i++) {
      const float *xr = x + o * sp.n * sp.inner + i;
      float *yr = y + o * sp.n * sp.inner + i;
      float mx = -INFINITY;
      for (int64_t k = 0; k < sp.n; k++)
        mx = fmaxf(mx, xr[k * sp.inner]);
      double sum = 0;
      for (int64_t k = 0; k < sp.n; k++)
        sum += expf(xr[k * sp.inner] - mx);
      if (log_form) {
        /* (x - max) - log(sum), never x - (max + log(sum)): at |max| ~ 1e3 the sum max +
         * log(sum) already rounds away the digits of log(sum) */
        float ls = (float)log(sum);
        for (int64_t k = 0; k < sp.n; k++)
          yr[k * sp.inner] = (xr[k * sp.inner] - mx) - ls;
      } else {
        float inv = (float)(1.0 / sum);
        for (int64_t k = 0; k < sp.n; k++)
          yr[k * sp.inner] = expf(xr[k * sp.inner] - mx) * inv;
      }
    }
  }
  gb_tensor_release(S, xc);
  return GB_OK;
}

gb_status gb_cpu_softmax(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return softmax_impl(S, a, out[0], false);
}

gb_status gb_cpu_log_softmax(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return softmax_impl(S, a, out[0], true);
}

/* (gout, y) -> gin; softmax: y*(g - sum(g*y)); log_softmax: g - exp(y)*sum(g) */
static gb_status softmax_backward_impl(gb_state *S, const gb_opargs *a, gb_tensor *out,
                                       bool log_form) {
  if (out->dtype == GB_F64)
    return gb_cpu_nn_f64(S, log_form ? GB_OP_LOG_SOFTMAX_BACKWARD : GB_OP_SOFTMAX_BACKWARD, a, out);
  gb_tensor *gc, *yc;
  gb_status st = gb_tensor_contiguous(S, a->in[0], &gc);
  if (st) return st;
  if ((st = gb_tensor_contiguous(S, a->in[1], &yc))) {
    gb_tensor_release(S, gc);
    return st;
  }
  span sp = gb_dim_span_of(yc, a->i[0]);
  const float *g = gb_tensor_f32(gc), *y = gb_tensor_f32(yc);
  float *r = gb_tensor_f32(out);
  for (int64_t o = 0; o < sp.outer; o++) {
    for (int64_t i = 0; i < sp.inner; i++) {
      int64_t base = o * sp.n * sp.inner + i;
      double dot = 0;
      for (int64_t k = 0; k < sp.n; k++) {
        int64_t at = base + k * sp.inner;
        dot += log_form ? g[at] : g[at] * y[at];
      }
      for (int64_t k = 0; k < sp.n; k++) {
        int64_t at = base + k * sp.inner;
        r[at] = log_form ? g[at] - expf(y[at]) * (float)dot : y[at] * (g[at] - (float)dot);
      }
    }
  }
  gb_tensor_release(S, gc);
  gb_tensor_release(S, yc);
  return GB_OK;
}

gb_status gb_cpu_softmax_backward(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return softmax_backward_impl(S, a, out[0], false);
}

gb_status gb_cpu_log_softmax_backward(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return softmax_backward_impl(S, a, out[0], true);
}

/* ---- class losses ------------------------------------------------------------------------ */

static int64_t label_at(const gb_tensor *y, int64_t i) {
  const char *base = gb_tensor_data(y);
  int64_t off = i * y->stride[0];
  return y->dtype == GB_I64 ? ((const int64_t *)base)[off] : ((const int32_t *)base)[off];
}

gb_status gb_cpu_labels_0based(gb_state *S, const char *op, const gb_tensor *y, int64_t C,
                               int64_t *cls) {
  for (int64_t i = 0; i < y->shape[0]; i++) {
    int64_t c = label_at(y, i);
    if (c < 1 || c > C)
      return gb_errorf(S, GB_EARG, "%s: label %lld at position %lld is out of range 1..%lld", op,
                       (long long)c, (long long)i + 1, (long long)C);
    cls[i] = c - 1;
  }
  return GB_OK;
}

typedef struct loss_ctx {
  gb_tensor *xc;
  int64_t n, c;
  int64_t *cls;
} loss_ctx;

static gb_status loss_begin(gb_state *S, const char *op, const gb_opargs *a, loss_ctx *L) {
  L->n = a->in[0]->shape[0];
  L->c = a->in[0]->shape[1];
  L->cls = NULL;
  L->xc = NULL;
  gb_status st = gb_alloc_bytes(S, GB_CPU, (size_t)L->n * sizeof(int64_t), (void **)&L->cls);
  if (st) return st;
  if ((st = gb_cpu_labels_0based(S, op, a->in[1], L->c, L->cls)) ||
      (st = gb_tensor_contiguous(S, a->in[0], &L->xc))) {
    gb_free_bytes(S, GB_CPU, L->cls, (size_t)L->n * sizeof(int64_t));
    return st;
  }
  return GB_OK;
}

static void loss_end(gb_state *S, loss_ctx *L) {
  gb_free_bytes(S, GB_CPU, L->cls, (size_t)L->n * sizeof(int64_t));
  gb_tensor_release(S, L->xc);
}

/* log-sum-exp of a row as max (*mx) and log(sum exp(x - max)) (returned), kept apart so
 * that callers subtract x - max first and keep the precision at large offsets */
static float row_logsumexp(const float *x, int64_t c, float *mx_out) {
  float mx = -INFINITY;
  for (int64_t k = 0; k < c; k++)
    mx = fmaxf(mx, x[k]);
  double s = 0;
  for (int64_t k = 0; k < c; k++)
    s += expf(x[k] - mx);
  *mx_out = mx;
  return (float)log(s);
}

gb_status gb_cpu_cross_entropy(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  if (out[0]->dtype == GB_F64) return gb_cpu_nn_f64(S, GB_OP_CROSS_ENTROPY, a, out[0]);
  loss_ctx L;
  gb_status st = loss_begin(S, "cross_entropy", a, &L);
  if (st) return st;
  const float *x = gb_tensor_f32(L.xc);
  double total = 0;
  for (int64_t i = 0; i < L.n; i++) {
    const float *row = x + i * L.c;
    float mx, ls = row_logsumexp(row, L.c, &mx);
    total += (double)((mx - row[L.cls[i]]) + ls);
  }
  *gb_tensor_f32(out[0]) = (float)(total / (double)L.n);
  loss_end(S, &L);
  return GB_OK;
}

/* (logits, labels, gout) -> (softmax - onehot) * gout / N */
gb_status gb_cpu_cross_entropy_backward(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  if (out[0]->dtype == GB_F64) return gb_cpu_nn_f64(S, GB_OP_CROSS_ENTROPY_BACKWARD, a, out[0]);
  loss_ctx L;
  gb_status st = loss_begin(S, "cross_entropy", a, &L);
  if (st) return st;
  const float *x = gb_tensor_f32(L.xc);
  float *g = gb_tensor_f32(out[0]);
  float scale = (float)gb_tensor_get_flat(a->in[2], 0) / (float)L.n;
  for (int64_t i = 0; i < L.n; i++) {
    const float *row = x + i * L.c;
    float *gr = g + i * L.c;
    float mx, ls = row_logsumexp(row, L.c, &mx);
    for (int64_t k = 0; k < L.c; k++)
      gr[k] = expf((row[k] - mx) - ls) * scale;
    gr[L.cls[i]] -= scale;
  }
  loss_end(S, &L);
  return GB_OK;
}

gb_status gb_cpu_nll_loss(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  if (out[0]->dtype == GB_F64) return gb_cpu_nn_f64(S, GB_OP_NLL_LOSS, a, out[0]);
  loss_ctx L;
  gb_status st = loss_begin(S, "nll_loss", a, &L);
  if (st) return st;
  const float *x = gb_tensor_f32(L.xc);
  double total = 0;
  for (int64_t i = 0; i < L.n; i++)
    total -= x[i * L.c + L.cls[i]];
  *gb_tensor_f32(out[0]) = (float)(total / (double)L.n);
  loss_end(S, &L);
  return GB_OK;
}

gb_status gb_cpu_nll_loss_backward(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  if (out[0]->dtype == GB_F64) return gb_cpu_nn_f64(S, GB_OP_NLL_LOSS_BACKWARD, a, out[0]);
  loss_ctx L;
  gb_status st = loss_begin(S, "nll_loss", a, &L);
  if (st) return st;
  float *g = gb_tensor_f32(out[0]);
  float scale = (float)gb_tensor_get_flat(a->in[2], 0) / (float)L.n;
  for (int64_t k = 0; k < L.n * L.c; k++)
    g[k] = 0.0f;
  for (int64_t i = 0; i < L.n; i++)
    g[i * L.c + L.cls[i]] = -scale;
  loss_end(S, &L);
  return GB_OK;
}
