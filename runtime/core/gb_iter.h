/* gb_iter.h — the N-d strided iterator both backends use for elementwise ops: inputs are
 * broadcast to the output's shape (stride 0 on broadcast dims) and dimensions are coalesced
 * (size-1 dims dropped, neighbours whose strides chain merged), so same-shaped contiguous
 * operands become one flat row (gb_iter.c). The CPU walks it row by row (gb_cpu_iter.c); the CUDA
 * backend copies it into its kernels' arguments. Pointers may be host or device addresses. */
#ifndef GB_ITER_H
#define GB_ITER_H

#include "gb_tensor.h"

#define GB_ITER_MAXOP 4

typedef struct gb_iter {
  int ndim; /* after coalescing; the last dimension is the inner loop */
  int nop;  /* operand 0 is the output */
  int64_t shape[GB_MAXDIM];
  int64_t stride[GB_ITER_MAXOP][GB_MAXDIM]; /* elements; 0 on broadcast dims */
  char *base[GB_ITER_MAXOP];
  size_t esize[GB_ITER_MAXOP];
} gb_iter;

/* Describe `out` and the inputs broadcast to its shape (at most GB_ITER_MAXOP - 1 inputs). */
GB_API void gb_iter_init(gb_iter *it, gb_tensor *out, int nin, gb_tensor *const *in);

#endif
