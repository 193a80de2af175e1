/* gb_kernels.h — prototypes of the core's functions the op table names (shape rules, backward
 * rules, and the device-independent "kernels" of view rows), generated from gb_ops.def so the
 * table and the code cannot drift apart. Backends declare their own columns (cpu/gb_cpu.h,
 * gpu/gb_cuda.h). */
#ifndef GB_KERNELS_H
#define GB_KERNELS_H

#include "gb_op.h"

#define GB_OP(id, name, nin, infer, cpu, cuda, grad)                                               \
  gb_status infer(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o);
#include "gb_ops.def"
#undef GB_OP
#define GB_NOGRAD gb_grad_none /* declared, never defined: rows without a derivative */
#define GB_OP(id, name, nin, infer, cpu, cuda, grad)                                               \
  gb_status grad(gb_state *S, gb_node *n, gb_tensor *gout, gb_tensor **gin);
#include "gb_ops.def"
#undef GB_OP
#undef GB_NOGRAD

/* GB_EDTYPE "<op>: float64 is not supported on <device>; use :float()": the shape rules of
 * rows whose kernels run float32 only (gb_backend.runs_f64) answer a float64 operand so. */
gb_status gb_f64_refused(gb_state *S, const char *op, gb_device dev);
/* Whether the backend of dev runs row op in double (gb_backend.runs_f64; false while that
 * backend is not loaded). */
bool gb_op_runs_f64(gb_opid op, gb_device dev);
/* The dtype rule of the float rows, for the shape rules outside gb_infer.c: t (argument
 * argno) is float32, or float64 where the device's backend runs `op` in double, and has the
 * dtype of `like` (the row's first float operand); else GB_EDTYPE naming op and dtypes. */
gb_status gb_need_float_like(gb_state *S, gb_opid op, const gb_tensor *t, int argno,
                             const gb_tensor *like);

/* Kernels of rows that work on any device: a view's output shares in0's storage
 * (gb_view_kernel); pad is built from fill, narrow and copy (gb_pad_kernel). Every backend's
 * table names them in its column. */
GB_API gb_status gb_view_kernel(gb_state *S, const gb_opargs *a, gb_tensor **out);
GB_API gb_status gb_pad_kernel(gb_state *S, const gb_opargs *a, gb_tensor **out);
/* cat: each input copied into its narrow of the output (gb_cat.c) */
GB_API gb_status gb_cat_kernel(gb_state *S, const gb_opargs *a, gb_tensor **out);

#endif
