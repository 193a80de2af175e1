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

/* The float64 loops of the reduction rows (gb_cpu_reduce_f64.c), called by their kernels for
 * float64 inputs: sum/mean/var/logsumexp (id picks which) over the dims in a->i[0]; the
 * extremes as reduce_extreme in gb_cpu_reduce.c. */
gb_status gb_cpu_reduce_f64(gb_state *S, gb_opid id, const gb_opargs *a, gb_tensor *out);
gb_status gb_cpu_extreme_f64(gb_state *S, const gb_opargs *a, gb_tensor **out, bool want_max,
                             uint64_t mask, bool values, bool indices);

/* The float64 loops of the softmax family and the class losses (gb_cpu_nn_f64.c): row `id`
 * (softmax, log_softmax, their backward rows, cross_entropy, nll_loss and their backward
 * rows) on float64 operands into out. */
gb_status gb_cpu_nn_f64(gb_state *S, gb_opid id, const gb_opargs *a, gb_tensor *out);
/* The float64 optimizer steps (gb_cpu_optim_f64.c), called by gb_cpu_sgd_step /
 * gb_cpu_adam_step for float64 parameters; same arguments. */
gb_status gb_cpu_sgd_step_f64(gb_state *S, const gb_opargs *a, gb_tensor **out);
gb_status gb_cpu_adam_step_f64(gb_state *S, const gb_opargs *a, gb_tensor **out);

/* Labels y (int64/int32, 1-D) checked against 1..C into 0-based cls[]; GB_EARG names op, the
 * label and its position. */
gb_status gb_cpu_labels_0based(gb_state *S, const char *op, const gb_tensor *y, int64_t C,
                               int64_t *cls);

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
