/* gb_kernels.h — prototypes of every function the op table names (shape rules, CPU kernels,
 * backward rules), generated from gb_ops.def so the table and the code cannot drift apart. */
#ifndef GB_KERNELS_H
#define GB_KERNELS_H

#include "gb_op.h"

#define GB_CUDA(x) x
#define GB_NOCUDA NULL
#define GB_OP(id, name, nin, infer, cpu, cuda, grad)                                               \
  gb_status infer(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o);                     \
  gb_status cpu(gb_state *S, const gb_opargs *a, gb_tensor **out);
#include "gb_ops.def"
#undef GB_OP
#define GB_NOGRAD gb_grad_none /* declared, never defined: rows without a derivative */
#define GB_OP(id, name, nin, infer, cpu, cuda, grad)                                               \
  gb_status grad(gb_state *S, gb_node *n, gb_tensor *gout, gb_tensor **gin);
#include "gb_ops.def"
#undef GB_OP
#undef GB_NOGRAD
#undef GB_CUDA
#undef GB_NOCUDA

#endif
