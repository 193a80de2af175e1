/* gb_cat.c — the cat row: up to GB_MAXIN tensors joined along dim i0 (gb.cat builds a tree of
 * these for more pieces, so a list of n pieces costs log4(n) copies and its backward only
 * views). Its shape rule, its device-independent kernel (narrow + copy through the device's
 * backend, like pad) and its backward (each input gets a narrow view of the gradient). */
#include <string.h>

#include "gb_checked.h"
#include "gb_fn.h"
#include "gb_kernels.h"
#include "gb_state.h"

gb_status gb_infer_cat(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *x = a->in[0];
  int64_t dim = a->i[0], shape[GB_MAXDIM], total = 0;
  char s0[GB_SHAPE_STRLEN], s1[GB_SHAPE_STRLEN];
  if (dim < 0 || dim >= x->ndim)
    return gb_errorf(S, GB_EARG, "cat: dimension %lld out of range for a tensor of shape %s",
                     (long long)dim + 1, gb_shape_str(x, s0));
  for (int k = 0; k < a->nin; k++) {
    const gb_tensor *t = a->in[k];
    bool fits = t->ndim == x->ndim && t->dtype == x->dtype;
    for (int d = 0; fits && d < x->ndim; d++)
      fits = d == dim || t->shape[d] == x->shape[d];
    if (!fits)
      return gb_errorf(S, GB_ESHAPE,
                       "cat: tensor %d %s %s does not fit tensor 1 %s %s (all sizes but "
                       "dimension %lld must match, and the dtypes)",
                       k + 1, gb_shape_str(t, s1), gb_dtype_name(t->dtype), gb_shape_str(x, s0),
                       gb_dtype_name(x->dtype), (long long)dim + 1);
    if (gb_add_ovf(total, t->shape[dim], &total))
      return gb_errorf(S, GB_ESHAPE, "cat: the joined size overflows");
  }
  memcpy(shape, x->shape, sizeof shape);
  shape[dim] = total;
  gb_status st = gb_shape_check(S, "cat", x->ndim, shape, NULL);
  if (st) return st;
  o->ndim[0] = x->ndim;
  memcpy(o->shape[0], shape, sizeof shape);
  o->dtype[0] = x->dtype;
  return GB_OK;
}

/* each input copied into its narrow of the output */
gb_status gb_cat_kernel(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_status st = GB_OK;
  int64_t dim = a->i[0], at = 0;
  bool was = gb_set_grad_enabled(S, false);
  for (int k = 0; k < a->nin && !st; k++) {
    int64_t len = a->in[k]->shape[dim];
    if (len == 0) continue;
    gb_opargs na = {.in = {out[0]}, .nin = 1, .i = {dim, at, len}};
    gb_tensor *part;
    if (!(st = gb_op_run(S, GB_OP_NARROW, &na, &part))) {
      gb_opargs cp = {.in = {a->in[k]}, .nin = 1, .i = {part->dtype}};
      st = gb_op_run_into(S, GB_OP_COPY, &cp, part);
      gb_tensor_release(S, part);
    }
    at += len;
  }
  gb_set_grad_enabled(S, was);
  return st;
}

gb_status gb_grad_cat(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  int64_t dim = n->args.i[0], at = 0;
  gb_status st = GB_OK;
  for (int k = 0; k < n->args.nin && !st; k++) {
    gb_tensor *x = n->args.in[k];
    int64_t len = x->shape[dim];
    if (x->requires_grad && gb_dtype_is_float(x->dtype)) {
      gb_opargs na = {.in = {g}, .nin = 1, .i = {dim, at, len}};
      st = gb_op_run(S, GB_OP_NARROW, &na, &gin[k]);
    }
    at += len;
  }
  return st;
}
