/* gb_cpu.h — what the CPU kernels share: an N-d strided iterator that broadcasts inputs to
 * the output's shape and coalesces dimensions, so kernels only write inner loops over
 * (pointer, stride) rows; and helpers to get contiguous float32 copies where a kernel
 * needs them. */
#ifndef GB_CPU_H
#define GB_CPU_H

#include "gb_kernels.h"
#include "gb_state.h"

#define GB_ITER_MAXOP 4

typedef struct gb_iter {
  int ndim; /* after coalescing; the last dimension is the inner loop */
  int nop;  /* operand 0 is the output */
  int64_t shape[GB_MAXDIM];
  int64_t stride[GB_ITER_MAXOP][GB_MAXDIM]; /* elements; 0 on broadcast dims */
  char *base[GB_ITER_MAXOP];
  size_t esize[GB_ITER_MAXOP];
} gb_iter;

/* One inner row: n elements, operand k at p[k] advancing by s[k] elements. */
typedef void (*gb_row_fn)(int64_t n, char **p, const int64_t *s, const gb_opargs *a);

/* Iterate `out` and the inputs broadcast to its shape. */
void gb_iter_init(gb_iter *it, gb_tensor *out, int nin, gb_tensor *const *in);
void gb_iter_run(const gb_iter *it, gb_row_fn row, const gb_opargs *a);

/* A contiguous view of t: t itself (retained) when already contiguous, else a copy. */
gb_status gb_cpu_contiguous(gb_state *S, gb_tensor *t, gb_tensor **out);

#endif
