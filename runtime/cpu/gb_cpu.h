/* gb_cpu.h — what the CPU kernels share: the walk over the strided iterator's inner rows
 * (gb_iter.h), so kernels only write loops over (pointer, stride) rows; and a helper to get
 * a contiguous copy where a kernel needs one. */
#ifndef GB_CPU_H
#define GB_CPU_H

#include "gb_iter.h"
#include "gb_kernels.h"
#include "gb_state.h"

/* the CPU column of gb_ops.def */
#define GB_OP(id, name, nin, infer, cpu, cuda, grad)                                               \
  gb_status cpu(gb_state *S, const gb_opargs *a, gb_tensor **out);
#include "gb_ops.def"
#undef GB_OP

/* Put before a static function with a hot float loop: GCC compiles it for AVX-512, AVX2 and
 * the baseline and picks one when the program starts. Clones compute the same expressions in
 * the same order (ISO C: no FMA contraction), so results do not depend on the CPU. Off under
 * ASan (its interceptors and ifunc resolvers do not mix). */
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones) && !defined(__SANITIZE_ADDRESS__)
#define GB_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef GB_CPU_CLONES
#define GB_CPU_CLONES
#endif

/* Fill the 1-D int64 CPU tensor t with a random permutation of 1..numel: Fisher-Yates driven
 * by S's Philox stream (element i uses draw i, so it is reproducible for any n). */
void gb_cpu_randperm(gb_state *S, gb_tensor *t);

/* Register the CPU backend (its kernels over the host allocator) for GB_KIND_CPU. Call once
 * before running ops (the Lua bindings and the C tests do); repeating it is harmless. */
GB_API void gb_cpu_backend_register(void);

/* One inner row: n elements, operand k at p[k] advancing by s[k] elements. */
typedef void (*gb_row_fn)(int64_t n, char **p, const int64_t *s, const gb_opargs *a);

/* Call `row` for every inner row of the iterator (gb_iter.h). */
void gb_iter_run(gb_state *S, const gb_iter *it, gb_row_fn row, const gb_opargs *a);

#endif
