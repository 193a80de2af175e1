/* gb_cpu.h — what the CPU kernels share: the walk over the strided iterator's inner rows
 * (gb_iter.h), so kernels only write loops over (pointer, stride) rows; and a helper to get
 * a contiguous copy where a kernel needs one. */
#ifndef GB_CPU_H
#define GB_CPU_H

#include "gb_iter.h"
#include "gb_kernels.h"
#include "gb_state.h"

/* One inner row: n elements, operand k at p[k] advancing by s[k] elements. */
typedef void (*gb_row_fn)(int64_t n, char **p, const int64_t *s, const gb_opargs *a);

/* Call `row` for every inner row of the iterator (gb_iter.h). */
void gb_iter_run(gb_state *S, const gb_iter *it, gb_row_fn row, const gb_opargs *a);

/* A contiguous view of t: t itself (retained) when already contiguous, else a copy. */
gb_status gb_cpu_contiguous(gb_state *S, gb_tensor *t, gb_tensor **out);

#endif
