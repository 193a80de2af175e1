/* gb_cpu_nn.c — CPU kernels of the softmax family and the class losses. Softmax works on a
 * contiguous copy viewed as (outer, n, inner) with the reduced dim in the middle; the losses
 * take (N,C) scores and 1-based int labels, checked against C with a message naming the row. */
#include <math.h>

#include "gb_cpu.h"
#include "gb_layout.h"
#include "gb_math.h"

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

/* The rows of cross-entropy's logits x (n, c), shifted and exponentiated: mx[i] = max_k
 * x[i,k], e[i*c+k] = e^(x[i,k] - mx[i]) (gb_f_exp_fast, within ~2 ulp), sum[i] = sum_k
 * e[i*c+k] in double. The exponentials run as one flat loop over the n*c entries, which
 * vectorizes where a row of 10 classes would not (the seed MLP's loss: 3,000 scalar expf and
 * 200 log calls per step took ~20 µs of it); the shifts x - mx stay separate, so the precision
 * holds at large offsets. A NaN in a row reaches its sum (the max skips it, x - mx keeps it),
 * and so the loss and the row's gradient; a row of -inf or with +inf gives NaN, as before. */
GB_CPU_CLONES
static void class_rows_exp(const float *x, int64_t n, int64_t c, float *e, float *mx, double *sum) {
  for (int64_t i = 0; i < n; i++) {
    const float *row = x + i * c;
    float m = -INFINITY;
    for (int64_t k = 0; k < c; k++)
      m = row[k] > m ? row[k] : m;
    mx[i] = m;
    for (int64_t k = 0; k < c; k++)
      e[i * c + k] = row[k] - m;
  }
  for (int64_t j = 0; j < n * c; j++)
    e[j] = gb_f_exp_fast(e[j]);
  for (int64_t i = 0; i < n; i++) {
    double s = 0;
    for (int64_t k = 0; k < c; k++)
      s += e[i * c + k];
    sum[i] = s;
  }
}

/* Scratch for class_rows_exp: mx and sum per row, and e unless the caller gives it. n*c is a
 * tensor's element count (at most GB_MAX_NUMEL), so the byte count cannot overflow. */
typedef struct class_rows {
  float *e, *mx;
  double *sum;
  void *block;
  size_t bytes;
} class_rows;

static gb_status class_rows_begin(gb_state *S, const loss_ctx *L, float *e, class_rows *R) {
  size_t n = (size_t)L->n, ne = e ? 0 : n * (size_t)L->c;
  R->bytes = n * sizeof(double) + (n + ne) * sizeof(float);
  gb_status st = gb_alloc_bytes(S, GB_CPU, R->bytes ? R->bytes : 1, &R->block);
  if (st) return st;
  R->sum = R->block; /* doubles first: the block is aligned for them */
  R->mx = (float *)(R->sum + n);
  R->e = e ? e : R->mx + n;
  class_rows_exp(gb_tensor_f32(L->xc), L->n, L->c, R->e, R->mx, R->sum);
  return GB_OK;
}

static void class_rows_end(gb_state *S, class_rows *R) {
  gb_free_bytes(S, GB_CPU, R->block, R->bytes ? R->bytes : 1);
}

gb_status gb_cpu_cross_entropy(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  if (out[0]->dtype == GB_F64) return gb_cpu_nn_f64(S, GB_OP_CROSS_ENTROPY, a, out[0]);
  loss_ctx L;
  gb_status st = loss_begin(S, "cross_entropy", a, &L);
  if (st) return st;
  class_rows R;
  if ((st = class_rows_begin(S, &L, NULL, &R))) {
    loss_end(S, &L);
    return st;
  }
  const float *x = gb_tensor_f32(L.xc);
  double total = 0;
  for (int64_t i = 0; i < L.n; i++)
    total += (double)((R.mx[i] - x[i * L.c + L.cls[i]]) + (float)log(R.sum[i]));
  *gb_tensor_f32(out[0]) = (float)(total / (double)L.n);
  class_rows_end(S, &R);
  loss_end(S, &L);
  return GB_OK;
}

/* (logits, labels, gout) -> (softmax - onehot) * gout / N, the softmax as e / sum */
gb_status gb_cpu_cross_entropy_backward(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  if (out[0]->dtype == GB_F64) return gb_cpu_nn_f64(S, GB_OP_CROSS_ENTROPY_BACKWARD, a, out[0]);
  loss_ctx L;
  gb_status st = loss_begin(S, "cross_entropy", a, &L);
  if (st) return st;
  float *g = gb_tensor_f32(out[0]);
  class_rows R;
  if ((st = class_rows_begin(S, &L, g, &R))) {
    loss_end(S, &L);
    return st;
  }
  float scale = (float)gb_tensor_get_flat(a->in[2], 0) / (float)L.n;
  for (int64_t i = 0; i < L.n; i++) {
    float *gr = g + i * L.c, f = (float)((double)scale / R.sum[i]);
    for (int64_t k = 0; k < L.c; k++)
      gr[k] *= f;
    gr[L.cls[i]] -= scale;
  }
  class_rows_end(S, &R);
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
