/* gb_fn.c — typed wrappers over gb_op_run (see gb_fn.h). */
#include <string.h>

#include "gb_fn.h"
#include "gb_state.h"
#ifdef GB_HAVE_CUDA
#include "gb_cuda.h"
#endif

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
  return gb_fn_full(S, 0, NULL, GB_F32, like->device, v, out);
}

gb_status gb_fn_contiguous(gb_state *S, gb_tensor *x, gb_tensor **out) {
  if (gb_tensor_is_contiguous(x)) {
    gb_tensor_retain(x);
    *out = x;
    return GB_OK;
  }
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

gb_status gb_fn_to_device(gb_state *S, gb_tensor *x, gb_device dev, gb_tensor **out) {
  if (x->device == dev) {
    gb_tensor_retain(x);
    *out = x;
    return GB_OK;
  }
#ifdef GB_HAVE_CUDA
  const char *why = NULL;
  if (dev != GB_CPU && dev >= gb_cuda_device_count(&why)) {
    char d[16];
    return gb_errorf(S, GB_EDEVICE, "to: device %s is not available (%s)", gb_device_name(dev, d),
                     why ? why : "no such device");
  }
  gb_tensor *c, *r;
  bool was = gb_set_grad_enabled(S, false);
  gb_status st = gb_fn_contiguous(S, x, &c);
  gb_set_grad_enabled(S, was);
  if (st) return st;
  if ((st = gb_tensor_empty(S, c->ndim, c->shape, c->dtype, dev, &r))) {
    gb_tensor_release(S, c);
    return st;
  }
  st = gb_cuda_memcpy(S, gb_tensor_data(r), dev, gb_tensor_data(c), c->device,
                      (size_t)c->numel * gb_dtype_size(c->dtype));
  gb_tensor_release(S, c);
  if (st) {
    gb_tensor_release(S, r);
    return st;
  }
  *out = r;
  return GB_OK;
#else
  char d[16];
  return gb_errorf(S, GB_EDEVICE, "to: device %s is not available (this build has no CUDA backend)",
                   gb_device_name(dev, d));
#endif
}
