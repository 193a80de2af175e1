/* gb_layout.c — reduction plans and BLAS matrix layouts (see gb_layout.h). */
#include "gb_layout.h"

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

bool gb_mat_layout_of(int64_t rows, int64_t cols, int64_t s0, int64_t s1, gb_mat_layout *m) {
  if (s1 == 1 || cols == 1) {
    int64_t ld = s0 > cols ? s0 : cols;
    m->trans = false;
    m->ld = (int)(ld < 1 ? 1 : ld);
    return rows == 1 || s0 >= cols;
  }
  if (s0 == 1 || rows == 1) {
    int64_t ld = s1 > rows ? s1 : rows;
    m->trans = true;
    m->ld = (int)(ld < 1 ? 1 : ld);
    return cols == 1 || s1 >= rows;
  }
  return false;
}
