/* gb_layout.h — how both backends read a tensor's memory for reductions and matrix
 * products: the split of a tensor into kept and reduced dims (one output element per kept
 * position), and how a BLAS (OpenBLAS or cuBLAS) can read a strided matrix without a copy.
 * Plain C with host-side setup; the structs are passed by value into CUDA kernels. */
#ifndef GB_LAYOUT_H
#define GB_LAYOUT_H

#include "gb_tensor.h"

typedef struct gb_reduce_plan {
  int nkeep, nred;
  int64_t keep_shape[GB_MAXDIM], keep_stride[GB_MAXDIM];
  int64_t red_shape[GB_MAXDIM], red_stride[GB_MAXDIM];
  int64_t nout, nred_elems; /* output elements, elements reduced into each */
  const float *base;
} gb_reduce_plan;

/* Split x by the dims in `mask` (0 = all): kept dims in order, reduced dims in order. */
GB_API void gb_reduce_plan_init(const gb_tensor *x, uint64_t mask, gb_reduce_plan *p);

/* How a row-major BLAS call reads a (rows, cols) matrix with strides (s0, s1). */
typedef struct gb_mat_layout {
  bool trans; /* read as the transpose of a row-major matrix */
  int ld;     /* its leading dimension (>= 1) */
} gb_mat_layout;

/* False when no (trans, ld) describes the strides (the caller makes a contiguous copy). */
bool gb_mat_layout_of(int64_t rows, int64_t cols, int64_t s0, int64_t s1, gb_mat_layout *m);

/* "contiguous copy unless already contiguous" (gb_tensor_contiguous). */
typedef gb_status (*gb_contiguous_fn)(gb_state *S, gb_tensor *t, gb_tensor **out);

/* The last two dims of t as a BLAS operand: t itself (retained) when its strides fit a
 * (trans, ld) pair, else a contiguous copy from `contiguous`. *use is a new reference. */
GB_API gb_status gb_blas_operand(gb_state *S, gb_tensor *t, gb_contiguous_fn contiguous,
                                 gb_tensor **use, gb_mat_layout *m);

/* A contiguous tensor seen as (outer, n, inner) around dim: softmax-style kernels walk n. */
typedef struct gb_dim_span {
  int64_t outer, n, inner;
} gb_dim_span;

GB_API gb_dim_span gb_dim_span_of(const gb_tensor *x, int64_t dim);

#endif
