/* gb_iter.c — the broadcast and coalescing of gb_iter.h, shared by every backend: the CPU walks
 * the result row by row (cpu/gb_cpu_iter.c), the CUDA backend copies it into its kernels'
 * arguments. */
#include "gb_iter.h"

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
