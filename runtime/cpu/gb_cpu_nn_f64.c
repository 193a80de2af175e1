/* gb_cpu_nn_f64.c — the float64 loops of the softmax family and the class losses, the double
 * twins of gb_cpu_nn.c's (same layout: a contiguous copy seen as (outer, n, inner); losses on
 * (N,C) scores with 1-based labels), with exp/log in double throughout. */
#include <math.h>

#include "gb_cpu.h"
#include "gb_layout.h"

typedef gb_dim_span span;

/* softmax / log_softmax of x along dim i0 into y */
static void softmax_rows(const double *x, double *y, span sp, bool log_form) {
  for (int64_t o = 0; o < sp.outer; o++)
    for (int64_t i = 0; i < sp.inner; i++) {
      const double *xr = x + o * sp.n * sp.inner + i;
      double *yr = y + o * sp.n * sp.inner + i, mx = -INFINITY, sum = 0;
      for (int64_t k = 0; k < sp.n; k++)
        mx = fmax(mx, xr[k * sp.inner]);
      for (int64_t k = 0; k < sp.n; k++)
        sum += exp(xr[k * sp.inner] - mx);
      double ls = log(sum), inv = 1.0 / sum;
      for (int64_t k = 0; k < sp.n; k++)
        yr[k * sp.inner] =
            log_form ? (xr[k * sp.inner] - mx) - ls : exp(xr[k * sp.inner] - mx) * inv;
    }
}

/* (gout, y) -> softmax: y (g - sum(g y)); log_softmax: g - exp(y) sum(g) */
static void softmax_backward_rows(const double *g, const double *y, double *r, span sp,
                                  bool log_form) {
  for (int64_t o = 0; o < sp.outer; o++)
    for (int64_t i = 0; i < sp.inner; i++) {
      int64_t base = o * sp.n * sp.inner + i;
      double dot = 0;
      for (int64_t k = 0; k < sp.n; k++) {
        int64_t at = base + k * sp.inner;
        dot += log_form ? g[at] : g[at] * y[at];
      }
      for (int64_t k = 0; k < sp.n; k++) {
        int64_t at = base + k * sp.inner;
        r[at] = log_form ? g[at] - exp(y[at]) * dot : y[at] * (g[at] - dot);
      }
    }
}

/* log-sum-exp of a row kept as max and log(sum exp(x - max)), as row_logsumexp */
static double row_lse(const double *x, int64_t c, double *mx_out) {
  double mx = -INFINITY, s = 0;
  for (int64_t k = 0; k < c; k++)
    mx = fmax(mx, x[k]);
  for (int64_t k = 0; k < c; k++)
    s += exp(x[k] - mx);
  *mx_out = mx;
  return log(s);
}

/* cross_entropy / nll_loss and their backward rows on (N,C) x with 0-based cls */
static void loss_rows(gb_opid id, const double *x, const int64_t *cls, int64_t n, int64_t c,
                      double gout, double *o) {
  double total = 0, scale = gout / (double)n;
  for (int64_t i = 0; i < n; i++) {
    const double *row = x + i * c;
    double mx, ls;
    switch (id) {
    case GB_OP_CROSS_ENTROPY:
      ls = row_lse(row, c, &mx);
      total += (mx - row[cls[i]]) + ls;
      break;
    case GB_OP_CROSS_ENTROPY_BACKWARD:
      ls = row_lse(row, c, &mx);
      for (int64_t k = 0; k < c; k++)
        o[i * c + k] = exp((row[k] - mx) - ls) * scale;
      o[i * c + cls[i]] -= scale;
      break;
    case GB_OP_NLL_LOSS: total -= row[cls[i]]; break;
    default: /* nll_loss_backward */
      for (int64_t k = 0; k < c; k++)
        o[i * c + k] = 0.0;
      o[i * c + cls[i]] = -scale;
      break;
    }
  }
  if (id == GB_OP_CROSS_ENTROPY || id == GB_OP_NLL_LOSS) o[0] = total / (double)n;
}

static gb_status run_loss(gb_state *S, gb_opid id, const gb_opargs *a, gb_tensor *out) {
  int64_t n = a->in[0]->shape[0], c = a->in[0]->shape[1], *cls;
  bool ce = id == GB_OP_CROSS_ENTROPY || id == GB_OP_CROSS_ENTROPY_BACKWARD;
  size_t bytes = (size_t)n * sizeof(int64_t);
  gb_tensor *xc;
  gb_status st = gb_alloc_bytes(S, GB_CPU, bytes, (void **)&cls);
  if (st) return st;
  if ((st = gb_cpu_labels_0based(S, ce ? "cross_entropy" : "nll_loss", a->in[1], c, cls))) {
    gb_free_bytes(S, GB_CPU, cls, bytes);
    return st;
  }
  if (!(st = gb_tensor_contiguous(S, a->in[0], &xc))) {
    double gout = a->nin > 2 ? gb_tensor_get_flat(a->in[2], 0) : 1.0;
    loss_rows(id, gb_tensor_data(xc), cls, n, c, gout, gb_tensor_data(out));
    gb_tensor_release(S, xc);
  }
  gb_free_bytes(S, GB_CPU, cls, bytes);
  return st;
}

gb_status gb_cpu_nn_f64(gb_state *S, gb_opid id, const gb_opargs *a, gb_tensor *out) {
  if (id != GB_OP_SOFTMAX && id != GB_OP_LOG_SOFTMAX && id != GB_OP_SOFTMAX_BACKWARD &&
      id != GB_OP_LOG_SOFTMAX_BACKWARD)
    return run_loss(S, id, a, out);
  bool log_form = id == GB_OP_LOG_SOFTMAX || id == GB_OP_LOG_SOFTMAX_BACKWARD;
  gb_tensor *c0, *c1 = NULL;
  gb_status st = gb_tensor_contiguous(S, a->in[0], &c0);
  if (st) return st;
  if (a->nin > 1 && (st = gb_tensor_contiguous(S, a->in[1], &c1))) {
    gb_tensor_release(S, c0);
    return st;
  }
  span sp = gb_dim_span_of(c1 ? c1 : c0, a->i[0]);
  if (c1)
    softmax_backward_rows(gb_tensor_data(c0), gb_tensor_data(c1), gb_tensor_data(out), sp,
                          log_form);
  else
    softmax_rows(gb_tensor_data(c0), gb_tensor_data(out), sp, log_form);
  gb_tensor_release(S, c0);
  gb_tensor_release(S, c1);
  return GB_OK;
}
