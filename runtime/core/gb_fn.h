/* gb_fn.h — typed C wrappers over gb_op_run for the ops that C code composes (backward rules,
 * bindings, embedders): each fills gb_opargs for one row and returns a new reference in *out.
 * Dims are 0-based. Autograd records through them like any other op call. */
#ifndef GB_FN_H
#define GB_FN_H

#include "gb_op.h"

gb_status gb_fn_binary(gb_state *S, gb_opid id, gb_tensor *x, gb_tensor *y, gb_tensor **out);
gb_status gb_fn_affine(gb_state *S, gb_tensor *x, double scale, double shift, gb_tensor **out);
gb_status gb_fn_scalar_op(gb_state *S, gb_opid id, gb_tensor *x, double f0, double f1,
                          gb_tensor **out);
/* New tensor of the given shape on `dev`, filled with v. */
gb_status gb_fn_full(gb_state *S, int ndim, const int64_t *shape, gb_dtype dt, gb_device dev,
                     double v, gb_tensor **out);
/* 0-d float32 tensor on like's device. */
gb_status gb_fn_scalar_like(gb_state *S, const gb_tensor *like, double v, gb_tensor **out);
gb_status gb_fn_reshape(gb_state *S, gb_tensor *x, int ndim, const int64_t *shape,
                        gb_tensor **out); /* view when possible, else a contiguous copy */
gb_status gb_fn_transpose(gb_state *S, gb_tensor *x, int d0, int d1, gb_tensor **out);
gb_status gb_fn_expand(gb_state *S, gb_tensor *x, int ndim, const int64_t *shape, gb_tensor **out);
gb_status gb_fn_contiguous(gb_state *S, gb_tensor *x, gb_tensor **out);
/* A new contiguous copy (recorded on the tape like any op). */
gb_status gb_fn_clone(gb_state *S, gb_tensor *x, gb_tensor **out);
/* x on device dev: x itself (retained) when already there, else a copy. Not recorded. */
gb_status gb_fn_to_device(gb_state *S, gb_tensor *x, gb_device dev, gb_tensor **out);
gb_status gb_fn_to_dtype(gb_state *S, gb_tensor *x, gb_dtype dt, gb_tensor **out);
/* Reduction row `id` over the dims in mask (0 = all). */
gb_status gb_fn_reduce(gb_state *S, gb_opid id, gb_tensor *x, uint64_t mask, bool keepdim,
                       gb_tensor **out);
/* Sum g down to the shape of `like` (undoing broadcasting). */
gb_status gb_fn_sum_to(gb_state *S, gb_tensor *g, const gb_tensor *like, gb_tensor **out);
/* Copy src into dst (shapes equal, dtypes converted); not recorded on the tape. */
gb_status gb_fn_copy_into(gb_state *S, gb_tensor *dst, gb_tensor *src);

#endif
