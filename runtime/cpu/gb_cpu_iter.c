/* gb_cpu_iter.c — the strided N-d iterator behind every CPU elementwise kernel, and the
 * contiguous-copy helper. Coalescing turns same-shaped contiguous operands into one flat
 * row, so the common case runs a single tight loop. */
#include <string.h>

#include "gb_cpu.h"

void gb_iter_init(gb_iter *it, gb_tensor *out, int nin, gb_tensor *const *in) {
  int nd = out->ndim;
  it->nop = nin + 1;
  gb_tensor *ops[GB_ITER_MAXOP] = {out};
  for (int k = 0; k < nin; k++)
    ops[k + 1] = in[k];
  /* broadcast strides, right-aligned against the output */
  int64_t shape[GB_MAXDIM], stride[GB_ITER_MAXOP][GB_MAXDIM];
  for (int d = 0; d < nd; d++)
    shape[d] = out->shape[d];
  for (int k = 0; k < it->nop; k++) {
    gb_tensor *t = ops[k];
    int lead = nd - t->ndim;
    for (int d = 0; d < nd; d++) {
      int td = d - lead;
      stride[k][d] = (td < 0 || t->shape[td] == 1) ? 0 : t->stride[td];
    }
    it->esize[k] = gb_dtype_size(t->dtype);
    it->base[k] = (char *)gb_tensor_data(t);
  }
  /* drop size-1 dims, merge neighbours whose strides chain for every operand */
  int m = 0;
  for (int d = 0; d < nd; d++) {
    if (shape[d] == 1) continue;
    bool merge = m > 0;
    for (int k = 0; merge && k < it->nop; k++)
      merge = stride[k][d] * shape[d] == it->stride[k][m - 1];
    if (merge) {
      it->shape[m - 1] *= shape[d];
      for (int k = 0; k < it->nop; k++)
        it->stride[k][m - 1] = stride[k][d];
    } else {
      it->shape[m] = shape[d];
      for (int k = 0; k < it->nop; k++)
        it->stride[k][m] = stride[k][d];
      m++;
    }
  }
  if (m == 0) {                /* a scalar, or all dims of size 1 */
    it->shape[0] = out->numel; /* 1, or 0 for an empty tensor */
    for (int k = 0; k < it->nop; k++)
      it->stride[k][0] = 0;
    m = 1;
  }
  it->ndim = m;
}

void gb_iter_run(gb_state *S, const gb_iter *it, gb_row_fn row, const gb_opargs *a) {
  int nd = it->ndim, inner = nd - 1;
  for (int d = 0; d < nd; d++)
    if (it->shape[d] == 0) return;
  int64_t idx[GB_MAXDIM] = {0};
  int64_t s[GB_ITER_MAXOP], since = 0, n = it->shape[inner];
  char *p[GB_ITER_MAXOP];
  for (int k = 0; k < it->nop; k++)
    s[k] = it->stride[k][inner];
  for (;;) {
    for (int k = 0; k < it->nop; k++) {
      int64_t off = 0;
      for (int d = 0; d < inner; d++)
        off += idx[d] * it->stride[k][d];
      p[k] = it->base[k] + off * (int64_t)it->esize[k];
    }
    /* rows run in chunks of GB_STOP_CHUNK; between chunks, an interrupt stops the loop */
    for (int64_t done = 0; done < n;) {
      int64_t m = n - done < GB_STOP_CHUNK ? n - done : GB_STOP_CHUNK;
      row(m, p, s, a);
      done += m;
      since += m;
      if (since >= GB_STOP_CHUNK) {
        since = 0;
        if (gb_should_stop(S)) return;
      }
      for (int k = 0; done < n && k < it->nop; k++)
        p[k] += m * s[k] * (int64_t)it->esize[k];
    }
    int d = inner - 1;
    for (; d >= 0; d--) {
      if (++idx[d] < it->shape[d]) break;
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

gb_status gb_cpu_contiguous(gb_state *S, gb_tensor *t, gb_tensor **out) {
  if (gb_tensor_is_contiguous(t)) {
    gb_tensor_retain(t);
    *out = t;
    return GB_OK;
  }
  gb_tensor *c;
  gb_status st = gb_tensor_empty_like(S, t, &c);
  if (st) return st;
  gb_opargs a = {.in = {t}, .nin = 1, .i = {-1}};
  if ((st = gb_cpu_copy(S, &a, &c))) {
    gb_tensor_release(S, c);
    return st;
  }
  *out = c;
  return GB_OK;
}
