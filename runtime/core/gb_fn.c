/* gb_fn.c — typed wrappers over gb_op_run (see gb_fn.h). */
#include <stdio.h>
#include <string.h>

#include "gb_fn.h"
#include "gb_state.h"

gb_status gb_fn_binary(gb_state *S, gb_opid id, gb_tensor *x, gb_tensor *y, gb_tensor **out) {
  gb_opargs a = {.in = {x, y}, .nin = 2};
  return gb_op_run(S, id, &a, out);
}

gb_status gb_fn_scalar_op(gb_state *S, gb_opid id, gb_tensor *x, double f0, double f1,
                          gb_tensor **out) {
  gb_opargs a = {.in = {x}, .nin = 1, .f = {f0, f1}};
  return gb_op_run(S, id, &a, out);
}

gb_status gb_fn_affine(gb_state *S, gb_tensor *x, double scale, double shift, gb_tensor **out) {
  return gb_fn_scalar_op(S, GB_OP_AFFINE, x, scale, shift, out);
}

gb_status gb_fn_full(gb_state *S, int ndim, const int64_t *shape, gb_dtype dt, gb_device dev,
                     double v, gb_tensor **out) {
  gb_tensor *t;
  gb_status st = gb_tensor_empty(S, ndim, shape, dt, dev, &t);
  if (st) return st;
  gb_opargs a = {.f = {v}};
  if ((st = gb_op_run_into(S, GB_OP_FILL, &a, t))) {
    gb_tensor_release(S, t);
    return st;
  }
  *out = t;
  return GB_OK;
}

gb_status gb_fn_scalar_like(gb_state *S, const gb_tensor *like, double v, gb_tensor **out) {
  return gb_fn_full(S, 0, NULL, like->dtype == GB_F64 ? GB_F64 : GB_F32, like->device, v, out);
}

gb_status gb_fn_contiguous(gb_state *S, gb_tensor *x, gb_tensor **out) {
  if (gb_tensor_is_contiguous(x)) return gb_tensor_contiguous(S, x, out); /* x, retained */
  /* else an op: recorded on the tape and in a graph recording (gb_tensor_contiguous is not) */
  gb_opargs a = {.in = {x}, .nin = 1, .i = {-1}};
  return gb_op_run(S, GB_OP_COPY, &a, out);
}

gb_status gb_fn_to_dtype(gb_state *S, gb_tensor *x, gb_dtype dt, gb_tensor **out) {
  gb_opargs a = {.in = {x}, .nin = 1, .i = {dt}};
  return gb_op_run(S, GB_OP_COPY, &a, out);
}

gb_status gb_fn_reshape(gb_state *S, gb_tensor *x, int ndim, const int64_t *shape,
                        gb_tensor **out) {
  gb_opargs a = {.nin = 1, .i = {ndim}};
  if (ndim > GB_MAXDIM)
    return gb_errorf(S, GB_EARG, "view: %d dimensions (at most %d)", ndim, GB_MAXDIM);
  if (ndim) memcpy(a.i + 1, shape, sizeof(int64_t) * (size_t)ndim);
  gb_tensor *c;
  gb_status st = gb_fn_contiguous(S, x, &c);
  if (st) return st;
  a.in[0] = c;
  st = gb_op_run(S, GB_OP_RESHAPE, &a, out);
  gb_tensor_release(S, c);
  return st;
}

gb_status gb_fn_transpose(gb_state *S, gb_tensor *x, int d0, int d1, gb_tensor **out) {
  gb_opargs a = {.in = {x}, .nin = 1, .i = {d0, d1}};
  return gb_op_run(S, GB_OP_TRANSPOSE, &a, out);
}

gb_status gb_fn_expand(gb_state *S, gb_tensor *x, int ndim, const int64_t *shape, gb_tensor **out) {
  gb_opargs a = {.in = {x}, .nin = 1, .i = {ndim}};
  if (ndim > GB_MAXDIM)
    return gb_errorf(S, GB_EARG, "expand: %d dimensions (at most %d)", ndim, GB_MAXDIM);
  if (ndim) memcpy(a.i + 1, shape, sizeof(int64_t) * (size_t)ndim);
  return gb_op_run(S, GB_OP_EXPAND, &a, out);
}

gb_status gb_fn_reduce(gb_state *S, gb_opid id, gb_tensor *x, uint64_t mask, bool keepdim,
                       gb_tensor **out) {
  gb_opargs a = {.in = {x}, .nin = 1, .i = {(int64_t)mask, keepdim}};
  if (id == GB_OP_VAR) a.i[2] = 1;
  return gb_op_run(S, id, &a, out);
}

gb_status gb_fn_sum_to(gb_state *S, gb_tensor *g, const gb_tensor *like, gb_tensor **out) {
  if (gb_shape_equal(g, like)) {
    gb_tensor_retain(g);
    *out = g;
    return GB_OK;
  }
  int lead = g->ndim - like->ndim;
  uint64_t mask = 0;
  for (int d = 0; d < g->ndim; d++)
    if (d < lead || (like->shape[d - lead] == 1 && g->shape[d] != 1)) mask |= (uint64_t)1 << d;
  if (mask == 0) return gb_fn_reshape(S, g, like->ndim, like->shape, out);
  gb_tensor *s;
  gb_status st = gb_fn_reduce(S, GB_OP_SUM, g, mask, true, &s);
  if (st) return st;
  st = gb_fn_reshape(S, s, like->ndim, like->shape, out);
  gb_tensor_release(S, s);
  return st;
}

gb_status gb_fn_copy_into(gb_state *S, gb_tensor *dst, gb_tensor *src) {
  gb_opargs a = {.in = {src}, .nin = 1, .i = {dst->dtype}};
  bool was = gb_set_grad_enabled(S, false);
  gb_status st = gb_op_run_into(S, GB_OP_COPY, &a, dst);
  gb_set_grad_enabled(S, was);
  return st;
}

gb_status gb_fn_clone(gb_state *S, gb_tensor *x, gb_tensor **out) {
  gb_opargs a = {.in = {x}, .nin = 1, .i = {-1}};
  return gb_op_run(S, GB_OP_COPY, &a, out);
}

/* The backend that moves bytes between two devices: the non-CPU one (each backend copies
 * between the host and its own devices). Two devices of different non-CPU kinds go through
 * the host in gb_fn_to_device. */
static const gb_backend *copier(gb_device a, gb_device b) {
  return gb_backend_loaded(gb_device_kind_of(a) != GB_KIND_CPU ? a : b);
}

static gb_status copy_bytes(gb_state *S, gb_tensor *dst, gb_tensor *src) {
  const gb_backend *b = copier(dst->device, src->device);
  return b->copy(S, gb_tensor_data(dst), dst->device, gb_tensor_data(src), src->device,
                 (size_t)src->numel * gb_dtype_size(src->dtype));
}

gb_status gb_fn_to_device(gb_state *S, gb_tensor *x, gb_device dev, gb_tensor **out) {
  if (x->device == dev) {
    gb_tensor_retain(x);
    *out = x;
    return GB_OK;
  }
  gb_status st = gb_device_check(S, dev);
  if (st) {
    char d[GB_DEVICE_STRLEN], why[GB_ERRLEN];
    snprintf(why, sizeof why, "%s", gb_state_error(S));
    return gb_errorf(S, GB_EDEVICE, "to: device %s is not available: %s", gb_device_name(dev, d),
                     why);
  }
  gb_tensor *c, *r;
  bool was = gb_set_grad_enabled(S, false);
  st = gb_fn_contiguous(S, x, &c);
  gb_set_grad_enabled(S, was);
  if (st) return st;
  if (gb_device_kind_of(dev) != GB_KIND_CPU && gb_device_kind_of(c->device) != GB_KIND_CPU &&
      gb_device_kind_of(dev) != gb_device_kind_of(c->device)) { /* via the host */
    gb_tensor *h;
    st = gb_fn_to_device(S, c, GB_CPU, &h);
    gb_tensor_release(S, c);
    if (st) return st;
    c = h;
  }
  if ((st = gb_tensor_empty(S, c->ndim, c->shape, c->dtype, dev, &r))) {
    gb_tensor_release(S, c);
    return st;
  }
  st = copy_bytes(S, r, c);
  gb_tensor_release(S, c);
  if (st) {
    gb_tensor_release(S, r);
    return st;
  }
  *out = r;
  return GB_OK;
}
