/* gb_layout.c — reduction plans and BLAS matrix layouts (see gb_layout.h). */
#include "gb_layout.h"

#include <limits.h>

void gb_reduce_plan_init(const gb_tensor *x, uint64_t mask, gb_reduce_plan *p) {
  if (mask == 0) mask = ~(uint64_t)0;
  p->nkeep = p->nred = 0;
  p->nout = p->nred_elems = 1;
  for (int d = 0; d < x->ndim; d++) {
    if (mask >> d & 1) {
      p->red_shape[p->nred] = x->shape[d];
      p->red_stride[p->nred++] = x->stride[d];
      p->nred_elems *= x->shape[d];
    } else {
      p->keep_shape[p->nkeep] = x->shape[d];
      p->keep_stride[p->nkeep++] = x->stride[d];
      p->nout *= x->shape[d];
    }
  }
  p->base = gb_tensor_f32(x);
}

/* BLAS libraries take int leading dimensions: a layout whose ld would not fit is refused, so
 * the caller makes a contiguous copy (whose ld, the row length, the product checks). */
bool gb_mat_layout_of(int64_t rows, int64_t cols, int64_t s0, int64_t s1, gb_mat_layout *m) {
  if (s1 == 1 || cols == 1) {
    int64_t ld = s0 > cols ? s0 : cols;
    if (ld > INT_MAX) return false;
    m->trans = false;
    m->ld = (int)(ld < 1 ? 1 : ld);
    return rows == 1 || s0 >= cols;
  }
  if (s0 == 1 || rows == 1) {
    int64_t ld = s1 > rows ? s1 : rows;
    if (ld > INT_MAX) return false;
    m->trans = true;
    m->ld = (int)(ld < 1 ? 1 : ld);
    return cols == 1 || s1 >= rows;
  }
  return false;
}

gb_status gb_blas_operand(gb_state *S, gb_tensor *t, gb_contiguous_fn contiguous, gb_tensor **use,
                          gb_mat_layout *m) {
  int nd = t->ndim;
  int64_t r = t->shape[nd - 2], c = t->shape[nd - 1];
  if (r > INT_MAX || c > INT_MAX)
    return gb_errorf(S, GB_ESHAPE,
                     "matmul: a (%lld,%lld) operand: matrix sizes above %d are not supported",
                     (long long)r, (long long)c, INT_MAX);
  if (gb_mat_layout_of(r, c, t->stride[nd - 2], t->stride[nd - 1], m)) {
    gb_tensor_retain(t);
    *use = t;
    return GB_OK;
  }
  gb_status st = contiguous(S, t, use);
  if (!st) gb_mat_layout_of(r, c, (*use)->stride[nd - 2], (*use)->stride[nd - 1], m);
  return st;
}

gb_dim_span gb_dim_span_of(const gb_tensor *x, int64_t dim) {
  gb_dim_span s = {1, x->shape[dim], 1};
  for (int d = 0; d < dim; d++)
    s.outer *= x->shape[d];
  for (int d = (int)dim + 1; d < x->ndim; d++)
    s.inner *= x->shape[d];
  return s;
}
