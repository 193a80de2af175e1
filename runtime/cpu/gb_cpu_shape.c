/* gb_cpu_shape.c — CPU kernels of issue 15's shape and scan rows: repeat (tiles of the
 * input, any dtype and strides, into a contiguous output) and cumsum along one dim (a
 * double accumulator, forward or from the end). */
#include <string.h>

#include "gb_cpu.h"
#include "gb_layout.h"

/* out: x.shape * repeats, contiguous. Each output row along the last dim is one period read
 * from x (strided) and then copied out as whole periods. */
gb_status gb_cpu_repeat(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  const gb_tensor *x = a->in[0];
  gb_tensor *o = out[0];
  if (o->numel == 0) return GB_OK;
  size_t es = gb_dtype_size(x->dtype);
  const char *src = gb_tensor_data(x);
  char *dst = gb_tensor_data(o);
  if (o->ndim == 0) {
    memcpy(dst, src, es);
    return GB_OK;
  }
  int nd = o->ndim, last = nd - 1;
  int64_t period = x->shape[last], len = o->shape[last], xs = x->stride[last];
  int64_t idx[GB_MAXDIM] = {0}, rows = o->numel / len;
  for (int64_t row = 0; row < rows; row++) {
    int64_t off = 0;
    for (int d = 0; d < last; d++)
      off += (idx[d] % x->shape[d]) * x->stride[d];
    char *orow = dst + (size_t)(row * len) * es;
    for (int64_t k = 0; k < period; k++)
      memcpy(orow + (size_t)k * es, src + (size_t)(off + k * xs) * es, es);
    for (int64_t k = period; k < len; k += period)
      memcpy(orow + (size_t)k * es, orow, (size_t)period * es);
    for (int d = last - 1; d >= 0; d--) {
      if (++idx[d] < o->shape[d]) break;
      idx[d] = 0;
    }
    if ((row & 1023) == 1023 && gb_should_stop(S)) break;
  }
  return GB_OK;
}

/* y[k] = x[0] + ... + x[k] along dim i0 (i1: x[k] + ... + x[n-1]) */
gb_status gb_cpu_cumsum(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *xc;
  gb_status st = gb_tensor_contiguous(S, a->in[0], &xc);
  if (st) return st;
  gb_dim_span sp = gb_dim_span_of(xc, a->i[0]);
  bool dbl = out[0]->dtype == GB_F64; /* float64: read and written as double */
  const float *x = gb_tensor_f32(xc);
  float *y = gb_tensor_f32(out[0]);
  const double *xd = gb_tensor_data(xc);
  double *yd = gb_tensor_data(out[0]);
  bool rev = a->i[1] != 0;
  for (int64_t o = 0; o < sp.outer; o++) {
    for (int64_t i = 0; i < sp.inner; i++) {
      int64_t base = o * sp.n * sp.inner + i;
      double acc = 0;
      for (int64_t j = 0; j < sp.n; j++) {
        int64_t at = base + (rev ? sp.n - 1 - j : j) * sp.inner;
        acc += dbl ? xd[at] : x[at];
        if (dbl)
          yd[at] = acc;
        else
          y[at] = (float)acc;
      }
    }
  }
  gb_tensor_release(S, xc);
  return GB_OK;
}
