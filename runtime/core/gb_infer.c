/* gb_infer.c — the shape rules of the op table: validate the inputs' shapes and dtypes,
 * compute the outputs' (or, for view rows, the view's strides). Messages name the op, the
 * operands' shapes/dtypes and what was expected. Dims here are 0-based. */
#include <string.h>

#include "gb_backend.h"
#include "gb_checked.h"
#include "gb_kernels.h"
#include "gb_state.h"
#include "gb_window.h"

#define NAME (gb_ops[op].name)

static void set_out(gb_outspec *o, int k, int ndim, const int64_t *shape, gb_dtype dt) {
  o->ndim[k] = ndim;
  if (ndim) memcpy(o->shape[k], shape, sizeof(int64_t) * (size_t)ndim);
  o->dtype[k] = dt;
}

bool gb_op_runs_f64(gb_opid op, gb_device dev) {
  const gb_backend *b = gb_backend_loaded(dev);
  return b && b->runs_f64 && b->runs_f64(op);
}

gb_status gb_f64_refused(gb_state *S, const char *op, gb_device dev) {
  char d[GB_DEVICE_STRLEN];
  return gb_errorf(S, GB_EDTYPE, "%s: float64 is not supported on %s; use :float()", op,
                   gb_device_name(dev, d));
}

/* The slow half of need_float_like: everything but two float32 operands. */
static gb_status check_float(gb_state *S, gb_opid op, const gb_tensor *t, int argno,
                             const gb_tensor *like) {
  char d[GB_DEVICE_STRLEN], s0[GB_SHAPE_STRLEN], s1[GB_SHAPE_STRLEN];
  bool f64 = gb_op_runs_f64(op, t->device);
  if (!gb_dtype_is_float(t->dtype))
    return gb_errorf(S, GB_EDTYPE,
                     "%s: argument %d has dtype %s, expected float32%s (convert with :float())",
                     NAME, argno, gb_dtype_name(t->dtype), f64 ? " or float64" : "");
  if (t->dtype == GB_F64 && !f64) return gb_f64_refused(S, NAME, t->device);
  if (gb_dtype_is_float(like->dtype) && like->dtype != t->dtype)
    return gb_errorf(S, GB_EDTYPE,
                     "%s: argument %d %s has dtype %s but the operand %s is %s (on %s); convert "
                     "one with :to('%s')",
                     NAME, argno, gb_shape_str(t, s0), gb_dtype_name(t->dtype),
                     gb_shape_str(like, s1), gb_dtype_name(like->dtype),
                     gb_device_name(t->device, d), gb_dtype_name(like->dtype));
  return GB_OK;
}

/* t (argument argno) is float32, or float64 where the device's backend runs `op` in double
 * (gb_backend.runs_f64), and has the dtype of `like` (the row's first float operand) when
 * that is a float, so the kernel reads one type. */
static inline gb_status need_float_like(gb_state *S, gb_opid op, const gb_tensor *t, int argno,
                                        const gb_tensor *like) {
  if (t->dtype == GB_F32 && like->dtype == GB_F32) return GB_OK;
  return check_float(S, op, t, argno, like);
}

gb_status gb_need_float_like(gb_state *S, gb_opid op, const gb_tensor *t, int argno,
                             const gb_tensor *like) {
  return need_float_like(S, op, t, argno, like);
}

static inline gb_status need_float(gb_state *S, gb_opid op, const gb_tensor *t, int argno) {
  return need_float_like(S, op, t, argno, t);
}

static gb_status need_dim(gb_state *S, gb_opid op, const gb_tensor *t, int64_t dim) {
  if (dim >= 0 && dim < t->ndim) return GB_OK;
  char sb[GB_SHAPE_STRLEN];
  return gb_errorf(S, GB_EARG, "%s: dimension %lld out of range for a tensor of shape %s", NAME,
                   (long long)dim + 1, gb_shape_str(t, sb));
}

gb_status gb_infer_into(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  return gb_errorf(S, GB_EARG, "%s: writes into an existing tensor (use the in-place form)", NAME);
}

gb_status gb_infer_copy(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *x = a->in[0];
  gb_dtype dt = a->i[0] < 0 ? x->dtype : (gb_dtype)a->i[0];
  if ((unsigned)dt >= GB_NDTYPE) return gb_errorf(S, GB_EDTYPE, "copy: unknown dtype");
  set_out(o, 0, x->ndim, x->shape, dt);
  return GB_OK;
}

/* ---- views ---------------------------------------------------------------------------- */

static void view_of(gb_outspec *o, const gb_tensor *x, int ndim, const int64_t *shape,
                    const int64_t *stride, int64_t offset) {
  o->view = true;
  set_out(o, 0, ndim, shape, x->dtype);
  if (ndim) memcpy(o->view_stride, stride, sizeof(int64_t) * (size_t)ndim);
  o->view_offset = offset;
}

gb_status gb_infer_reshape(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *x = a->in[0];
  int ndim = (int)a->i[0];
  int64_t shape[GB_MAXDIM], n = 1, infer_at = -1;
  char s0[GB_SHAPE_STRLEN], s1[GB_SHAPE_STRLEN];
  gb_status st;
  if (ndim < 0 || ndim > GB_MAXDIM)
    return gb_errorf(S, GB_EARG, "view: %d dimensions (at most %d)", ndim, GB_MAXDIM);
  for (int d = 0; d < ndim; d++) {
    shape[d] = a->i[1 + d];
    if (shape[d] == -1 && infer_at < 0) {
      infer_at = d;
      continue;
    }
    if (shape[d] < 0)
      return gb_errorf(S, GB_EARG, "view: invalid size %lld in %s", (long long)shape[d],
                       gb_shape_str_n(ndim, a->i + 1, s0));
    if (gb_mul_ovf(n, shape[d], &n) || n > GB_MAX_NUMEL) n = -1; /* never equals a numel */
    if (n < 0) break;
  }
  if (infer_at >= 0 && n == 0)
    return gb_errorf(S, GB_ESHAPE,
                     "view: cannot infer the size -1 in %s: the other sizes multiply to 0, so "
                     "any size would fit",
                     gb_shape_str_n(ndim, a->i + 1, s0));
  if (infer_at >= 0 && n > 0 && x->numel % n == 0) {
    shape[infer_at] = x->numel / n;
    n = x->numel;
  }
  if (n == x->numel && (st = gb_shape_check(S, "view", ndim, shape, NULL))) return st;
  if (n != x->numel)
    return gb_errorf(S, GB_ESHAPE,
                     "view: shape %s is invalid for a tensor of shape %s (%lld elements)",
                     gb_shape_str_n(ndim, a->i + 1, s0), gb_shape_str(x, s1), (long long)x->numel);
  if (!gb_tensor_is_contiguous(x))
    return gb_errorf(S, GB_ESHAPE,
                     "view: the tensor of shape %s is not contiguous; use reshape or "
                     ":contiguous() first",
                     gb_shape_str(x, s1));
  int64_t stride[GB_MAXDIM], step = 1; /* bounded by gb_shape_check above */
  for (int d = ndim - 1; d >= 0; d--) {
    stride[d] = step;
    step *= shape[d];
  }
  view_of(o, x, ndim, shape, stride, x->offset);
  return GB_OK;
}

gb_status gb_infer_permute(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *x = a->in[0];
  int64_t shape[GB_MAXDIM], stride[GB_MAXDIM];
  bool seen[GB_MAXDIM] = {false};
  char sb[GB_SHAPE_STRLEN];
  if (a->i[0] != x->ndim)
    return gb_errorf(S, GB_EARG, "permute: %lld dimensions given for a tensor of shape %s",
                     (long long)a->i[0], gb_shape_str(x, sb));
  for (int d = 0; d < x->ndim; d++) {
    int64_t p = a->i[1 + d];
    if (p < 0 || p >= x->ndim || seen[p])
      return gb_errorf(S, GB_EARG, "permute: the order must name each dimension 1..%d once",
                       x->ndim);
    seen[p] = true;
    shape[d] = x->shape[p];
    stride[d] = x->stride[p];
  }
  view_of(o, x, x->ndim, shape, stride, x->offset);
  return GB_OK;
}

gb_status gb_infer_transpose(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *x = a->in[0];
  gb_status st;
  if ((st = need_dim(S, op, x, a->i[0])) || (st = need_dim(S, op, x, a->i[1]))) return st;
  int64_t shape[GB_MAXDIM], stride[GB_MAXDIM];
  memcpy(shape, x->shape, sizeof shape);
  memcpy(stride, x->stride, sizeof stride);
  int64_t d0 = a->i[0], d1 = a->i[1];
  shape[d0] = x->shape[d1], shape[d1] = x->shape[d0];
  stride[d0] = x->stride[d1], stride[d1] = x->stride[d0];
  view_of(o, x, x->ndim, shape, stride, x->offset);
  return GB_OK;
}

gb_status gb_infer_narrow(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *x = a->in[0];
  int64_t dim = a->i[0], start = a->i[1], len = a->i[2];
  gb_status st = need_dim(S, op, x, dim);
  if (st) return st;
  if (start < 0 || len < 0 || start > x->shape[dim] || len > x->shape[dim] - start) {
    char sb[GB_SHAPE_STRLEN];
    return gb_errorf(S, GB_EARG,
                     "narrow: start %lld and length %lld exceed dimension %lld (size %lld) of %s",
                     (long long)start + 1, (long long)len, (long long)dim + 1,
                     (long long)x->shape[dim], gb_shape_str(x, sb));
  }
  int64_t shape[GB_MAXDIM];
  memcpy(shape, x->shape, sizeof shape);
  shape[dim] = len;
  view_of(o, x, x->ndim, shape, x->stride, x->offset + start * x->stride[dim]);
  return GB_OK;
}

gb_status gb_infer_select(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *x = a->in[0];
  int64_t dim = a->i[0], idx = a->i[1];
  gb_status st = need_dim(S, op, x, dim);
  if (st) return st;
  if (idx < 0 || idx >= x->shape[dim]) {
    char sb[GB_SHAPE_STRLEN];
    return gb_errorf(S, GB_EARG, "select: index %lld out of range for dimension %lld of %s",
                     (long long)idx + 1, (long long)dim + 1, gb_shape_str(x, sb));
  }
  int64_t shape[GB_MAXDIM], stride[GB_MAXDIM];
  int nd = 0;
  for (int d = 0; d < x->ndim; d++) {
    if (d == dim) continue;
    shape[nd] = x->shape[d];
    stride[nd++] = x->stride[d];
  }
  view_of(o, x, nd, shape, stride, x->offset + idx * x->stride[dim]);
  return GB_OK;
}

gb_status gb_infer_expand(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *x = a->in[0];
  int ndim = (int)a->i[0], lead = ndim - x->ndim;
  int64_t shape[GB_MAXDIM], stride[GB_MAXDIM];
  char s0[GB_SHAPE_STRLEN], s1[GB_SHAPE_STRLEN];
  if (ndim > GB_MAXDIM || lead < 0)
    return gb_errorf(S, GB_ESHAPE, "expand: cannot expand %s to %d dimensions", gb_shape_str(x, s0),
                     ndim);
  for (int d = 0; d < ndim; d++) {
    int64_t want = a->i[1 + d];
    int64_t have = d < lead ? 1 : x->shape[d - lead];
    int64_t hstride = d < lead ? 0 : x->stride[d - lead];
    if (want == -1) want = have;
    if (want == have) {
      shape[d] = have;
      stride[d] = hstride;
    } else if (have == 1 && want >= 0) {
      shape[d] = want;
      stride[d] = 0;
    } else {
      return gb_errorf(S, GB_ESHAPE, "expand: cannot expand %s to %s (dimension %d: %lld vs %lld)",
                       gb_shape_str(x, s0), gb_shape_str_n(ndim, a->i + 1, s1), d + 1,
                       (long long)have, (long long)want);
    }
  }
  view_of(o, x, ndim, shape, stride, x->offset);
  return GB_OK;
}

gb_status gb_infer_pad(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *x = a->in[0];
  int64_t dim = a->i[0], start = a->i[1], size = a->i[2];
  gb_status st = need_dim(S, op, x, dim);
  if (st) return st;
  if (start < 0 || size < 0 || start > size || x->shape[dim] > size - start) {
    char sb[GB_SHAPE_STRLEN];
    return gb_errorf(
        S, GB_EARG, "pad: %s placed at %lld does not fit size %lld along dimension %lld",
        gb_shape_str(x, sb), (long long)start + 1, (long long)size, (long long)dim + 1);
  }
  int64_t shape[GB_MAXDIM];
  memcpy(shape, x->shape, sizeof shape);
  shape[dim] = size;
  if ((st = gb_shape_check(S, NAME, x->ndim, shape, NULL))) return st;
  set_out(o, 0, x->ndim, shape, x->dtype);
  return GB_OK;
}

/* ---- elementwise ---------------------------------------------------------------------- */

gb_status gb_infer_unary(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  gb_status st = need_float(S, op, a->in[0], 1);
  if (st) return st;
  set_out(o, 0, a->in[0]->ndim, a->in[0]->shape, a->in[0]->dtype);
  return GB_OK;
}

/* NumPy broadcasting of n tensors: align trailing dims; sizes must match or be 1. */
static gb_status broadcast(gb_state *S, gb_opid op, const gb_opargs *a, int n, int *ndim,
                           int64_t *shape) {
  int nd = 0;
  for (int k = 0; k < n; k++)
    if (a->in[k]->ndim > nd) nd = a->in[k]->ndim;
  for (int d = 0; d < nd; d++)
    shape[d] = 1;
  for (int k = 0; k < n; k++) {
    const gb_tensor *t = a->in[k];
    for (int d = 0; d < t->ndim; d++) {
      int64_t *s = &shape[nd - t->ndim + d], v = t->shape[d];
      if (*s == v || v == 1) continue;
      if (*s == 1) {
        *s = v;
        continue;
      }
      char s0[GB_SHAPE_STRLEN], s1[GB_SHAPE_STRLEN];
      return gb_errorf(S, GB_ESHAPE,
                       "%s: shapes %s and %s cannot be broadcast (dimension %d: %lld vs %lld)",
                       NAME, gb_shape_str(a->in[0], s0), gb_shape_str(t, s1), d + 1, (long long)*s,
                       (long long)v);
    }
  }
  *ndim = nd;
  return GB_OK;
}

gb_status gb_infer_binary(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  gb_status st;
  if ((st = need_float(S, op, a->in[0], 1)) || (st = need_float_like(S, op, a->in[1], 2, a->in[0])))
    return st;
  int nd = 0;
  int64_t shape[GB_MAXDIM];
  if ((st = broadcast(S, op, a, 2, &nd, shape))) return st;
  set_out(o, 0, nd, shape, a->in[0]->dtype);
  return GB_OK;
}

gb_status gb_infer_compare(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  if (a->in[0]->dtype != a->in[1]->dtype)
    return gb_errorf(S, GB_EDTYPE, "%s: dtypes differ (%s vs %s)", NAME,
                     gb_dtype_name(a->in[0]->dtype), gb_dtype_name(a->in[1]->dtype));
  int nd = 0;
  int64_t shape[GB_MAXDIM];
  gb_status st = broadcast(S, op, a, 2, &nd, shape);
  if (st) return st;
  set_out(o, 0, nd, shape, GB_F32);
  return GB_OK;
}

gb_status gb_infer_where(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  gb_status st;
  /* the condition is float32 0/1 (the bindings convert any dtype); x and y share a dtype */
  if ((st = need_float(S, op, a->in[0], 1)) || (st = need_float(S, op, a->in[1], 2)) ||
      (st = need_float_like(S, op, a->in[2], 3, a->in[1])))
    return st;
  if (a->in[0]->dtype != GB_F32)
    return gb_errorf(S, GB_EDTYPE, "where: the condition must be float32 0/1, got %s",
                     gb_dtype_name(a->in[0]->dtype));
  int nd = 0;
  int64_t shape[GB_MAXDIM];
  if ((st = broadcast(S, op, a, 3, &nd, shape))) return st;
  set_out(o, 0, nd, shape, a->in[1]->dtype);
  return GB_OK;
}

/* ---- reductions ----------------------------------------------------------------------- */

/* Output shape of reducing the dims in `mask` (0 = all). */
static void reduced_shape(const gb_tensor *x, uint64_t mask, bool keepdim, int *nd,
                          int64_t *shape) {
  if (mask == 0) mask = ~(uint64_t)0;
  *nd = 0;
  for (int d = 0; d < x->ndim; d++) {
    if (mask >> d & 1) {
      if (keepdim) shape[(*nd)++] = 1;
    } else {
      shape[(*nd)++] = x->shape[d];
    }
  }
}

gb_status gb_infer_reduce(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *x = a->in[0];
  gb_status st = need_float(S, op, x, 1);
  if (st) return st;
  uint64_t mask = (uint64_t)a->i[0];
  if (x->ndim < 64 && (mask >> x->ndim) != 0) {
    char sb[GB_SHAPE_STRLEN];
    return gb_errorf(S, GB_EARG, "%s: dimension out of range for a tensor of shape %s", NAME,
                     gb_shape_str(x, sb));
  }
  bool empty_ok = op == GB_OP_SUM || op == GB_OP_LOGSUMEXP; /* 0 and -inf, as PyTorch */
  if (x->numel == 0 && !empty_ok)
    return gb_errorf(S, GB_ESHAPE, "%s: cannot reduce an empty tensor", NAME);
  int nd = 0;
  int64_t shape[GB_MAXDIM];
  reduced_shape(x, mask, a->i[1] != 0, &nd, shape);
  set_out(o, 0, nd, shape, x->dtype);
  return GB_OK;
}

gb_status gb_infer_reduce_dim(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *x = a->in[0];
  gb_status st;
  if ((st = need_float(S, op, x, 1)) || (st = need_dim(S, op, x, a->i[0]))) return st;
  if (x->shape[a->i[0]] == 0)
    return gb_errorf(S, GB_ESHAPE, "%s: cannot reduce an empty dimension", NAME);
  int nd = 0;
  int64_t shape[GB_MAXDIM];
  reduced_shape(x, (uint64_t)1 << a->i[0], a->i[1] != 0, &nd, shape);
  o->nout = 2;
  set_out(o, 0, nd, shape, x->dtype);
  set_out(o, 1, nd, shape, GB_I64);
  return GB_OK;
}

gb_status gb_infer_arg_reduce(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *x = a->in[0];
  gb_status st = need_float(S, op, x, 1);
  if (st) return st;
  if (x->numel == 0) return gb_errorf(S, GB_ESHAPE, "%s: cannot reduce an empty tensor", NAME);
  if (a->i[0] < 0) {
    set_out(o, 0, 0, NULL, GB_I64);
    return GB_OK;
  }
  if ((st = need_dim(S, op, x, a->i[0]))) return st;
  int nd = 0;
  int64_t shape[GB_MAXDIM];
  reduced_shape(x, (uint64_t)1 << a->i[0], a->i[1] != 0, &nd, shape);
  set_out(o, 0, nd, shape, GB_I64);
  return GB_OK;
}

gb_status gb_infer_softmax(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *x = a->in[0];
  gb_status st;
  if ((st = need_float(S, op, x, 1)) || (st = need_dim(S, op, x, a->i[0]))) return st;
  if (a->nin > 1 && (st = need_float_like(S, op, a->in[1], 2, x))) return st;
  set_out(o, 0, x->ndim, x->shape, x->dtype);
  return GB_OK;
}

gb_status gb_infer_softmax_backward(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  if (!gb_shape_equal(a->in[0], a->in[1])) {
    char s0[GB_SHAPE_STRLEN], s1[GB_SHAPE_STRLEN];
    return gb_errorf(S, GB_ESHAPE, "%s: shapes %s and %s differ", NAME, gb_shape_str(a->in[0], s0),
                     gb_shape_str(a->in[1], s1));
  }
  return gb_infer_softmax(S, op, a, o);
}

/* ---- losses --------------------------------------------------------------------------- */

static gb_status check_class_args(gb_state *S, gb_opid op, const gb_tensor *x, const gb_tensor *y) {
  char s0[GB_SHAPE_STRLEN], s1[GB_SHAPE_STRLEN];
  gb_status st = need_float(S, op, x, 1);
  if (st) return st;
  if (x->ndim != 2)
    return gb_errorf(S, GB_ESHAPE, "%s: input must be (N,C), got %s", NAME, gb_shape_str(x, s0));
  if (y->dtype != GB_I64 && y->dtype != GB_I32)
    return gb_errorf(S, GB_EDTYPE,
                     "%s: labels must be int64 class indices 1..C, got dtype %s (convert with "
                     ":long())",
                     NAME, gb_dtype_name(y->dtype));
  if (y->ndim != 1 || y->shape[0] != x->shape[0])
    return gb_errorf(S, GB_ESHAPE, "%s: input %s needs labels of shape (%lld), got %s", NAME,
                     gb_shape_str(x, s0), (long long)x->shape[0], gb_shape_str(y, s1));
  if (x->shape[0] == 0) return gb_errorf(S, GB_ESHAPE, "%s: empty batch", NAME);
  return GB_OK;
}

gb_status gb_infer_class_loss(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  gb_status st = check_class_args(S, op, a->in[0], a->in[1]);
  if (st) return st;
  set_out(o, 0, 0, NULL, a->in[0]->dtype);
  return GB_OK;
}

gb_status gb_infer_class_loss_backward(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  gb_status st = check_class_args(S, op, a->in[0], a->in[1]);
  if (st) return st;
  if (a->nin > 2 && (st = need_float_like(S, op, a->in[2], 3, a->in[0]))) return st;
  set_out(o, 0, 2, a->in[0]->shape, a->in[0]->dtype);
  return GB_OK;
}

/* ---- matrix products ------------------------------------------------------------------ */

gb_status gb_infer_matmul(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *x = a->in[0], *y = a->in[1];
  char s0[GB_SHAPE_STRLEN], s1[GB_SHAPE_STRLEN];
  gb_status st;
  if ((st = need_float(S, op, x, 1)) || (st = need_float_like(S, op, y, 2, x))) return st;
  /* (...,M,K) x (K,N) shares the matrix over the batch; (...,M,K) x (...,K,N) pairs them */
  bool ok = x->ndim >= 2 && (y->ndim == 2 || y->ndim == x->ndim);
  for (int d = 0; ok && y->ndim > 2 && d < x->ndim - 2; d++)
    ok = x->shape[d] == y->shape[d];
  if (!ok)
    return gb_errorf(S, GB_ESHAPE,
                     "matmul: %s x %s: expected (M,K)x(K,N), (B,M,K)x(K,N) or (B,M,K)x(B,K,N) "
                     "(more batch dims alike)",
                     gb_shape_str(x, s0), gb_shape_str(y, s1));
  int64_t k1 = x->shape[x->ndim - 1], k2 = y->shape[y->ndim - 2];
  if (k1 != k2)
    return gb_errorf(S, GB_ESHAPE, "matmul: %s x %s: inner sizes differ (%lld vs %lld)",
                     gb_shape_str(x, s0), gb_shape_str(y, s1), (long long)k1, (long long)k2);
  int64_t shape[GB_MAXDIM];
  int nd = x->ndim;
  for (int d = 0; d < nd - 1; d++)
    shape[d] = x->shape[d];
  shape[nd - 1] = y->shape[y->ndim - 1];
  set_out(o, 0, nd, shape, x->dtype);
  return GB_OK;
}

gb_status gb_infer_addmm(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *bias = a->in[0], *x = a->in[1], *y = a->in[2];
  char s0[GB_SHAPE_STRLEN], s1[GB_SHAPE_STRLEN], s2[GB_SHAPE_STRLEN];
  gb_status st;
  for (int k = 0; k < 3; k++)
    if ((st = need_float_like(S, op, a->in[k], k + 1, a->in[0]))) return st;
  if (x->ndim != 2 || y->ndim != 2 || x->shape[1] != y->shape[0])
    return gb_errorf(S, GB_ESHAPE, "addmm: %s x %s: expected (M,K) x (K,N)", gb_shape_str(x, s0),
                     gb_shape_str(y, s1));
  int64_t m = x->shape[0], n = y->shape[1];
  bool fits = (bias->ndim == 1 && (bias->shape[0] == n || bias->shape[0] == 1)) ||
              (bias->ndim == 2 && (bias->shape[0] == m || bias->shape[0] == 1) &&
               (bias->shape[1] == n || bias->shape[1] == 1)) ||
              bias->ndim == 0;
  if (!fits)
    return gb_errorf(S, GB_ESHAPE,
                     "addmm: bias %s does not broadcast to the product (%lld,%lld) of %s x %s",
                     gb_shape_str(bias, s2), (long long)m, (long long)n, gb_shape_str(x, s0),
                     gb_shape_str(y, s1));
  int64_t shape[2] = {m, n};
  set_out(o, 0, 2, shape, bias->dtype);
  return GB_OK;
}

/* ---- indexing ------------------------------------------------------------------------- */

static gb_status need_index(gb_state *S, gb_opid op, const gb_tensor *idx, int argno) {
  if (idx->dtype == GB_I64 || idx->dtype == GB_I32) return GB_OK;
  return gb_errorf(S, GB_EDTYPE, "%s: argument %d (indices) must be int64, got %s", NAME, argno,
                   gb_dtype_name(idx->dtype));
}

gb_status gb_infer_index_select(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *x = a->in[0], *idx = a->in[1];
  gb_status st;
  if ((st = need_dim(S, op, x, a->i[0])) || (st = need_index(S, op, idx, 2))) return st;
  if (idx->ndim != 1) {
    char sb[GB_SHAPE_STRLEN];
    return gb_errorf(S, GB_ESHAPE, "index_select: indices must be 1-D, got %s",
                     gb_shape_str(idx, sb));
  }
  int64_t shape[GB_MAXDIM];
  memcpy(shape, x->shape, sizeof shape);
  shape[a->i[0]] = idx->shape[0];
  set_out(o, 0, x->ndim, shape, x->dtype);
  return GB_OK;
}

gb_status gb_infer_index_add(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *base = a->in[0], *idx = a->in[1], *src = a->in[2];
  gb_status st;
  if ((st = need_float(S, op, base, 1)) || (st = need_float_like(S, op, src, 3, base)) ||
      (st = need_dim(S, op, base, a->i[0])) || (st = need_index(S, op, idx, 2)))
    return st;
  bool ok = idx->ndim == 1 && src->ndim == base->ndim;
  for (int d = 0; ok && d < base->ndim; d++)
    ok = src->shape[d] == (d == a->i[0] ? idx->shape[0] : base->shape[d]);
  if (!ok) {
    char s0[GB_SHAPE_STRLEN], s1[GB_SHAPE_STRLEN], s2[GB_SHAPE_STRLEN];
    return gb_errorf(S, GB_ESHAPE, "index_add: base %s, indices %s and source %s do not fit",
                     gb_shape_str(base, s0), gb_shape_str(idx, s1), gb_shape_str(src, s2));
  }
  set_out(o, 0, base->ndim, base->shape, base->dtype);
  return GB_OK;
}

gb_status gb_infer_gather(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *x = a->in[0], *idx = a->in[1];
  gb_status st;
  if ((st = need_dim(S, op, x, a->i[0])) || (st = need_index(S, op, idx, 2))) return st;
  bool ok = idx->ndim == x->ndim;
  for (int d = 0; ok && d < x->ndim; d++)
    ok = d == a->i[0] || idx->shape[d] == x->shape[d];
  if (!ok) {
    char s0[GB_SHAPE_STRLEN], s1[GB_SHAPE_STRLEN];
    return gb_errorf(S, GB_ESHAPE,
                     "gather: indices %s must match the input %s except along dimension %lld",
                     gb_shape_str(idx, s1), gb_shape_str(x, s0), (long long)a->i[0] + 1);
  }
  set_out(o, 0, idx->ndim, idx->shape, x->dtype);
  return GB_OK;
}

gb_status gb_infer_scatter_add(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *base = a->in[0], *idx = a->in[1], *src = a->in[2];
  gb_status st;
  if ((st = need_float(S, op, base, 1)) || (st = need_float_like(S, op, src, 3, base)) ||
      (st = need_dim(S, op, base, a->i[0])) || (st = need_index(S, op, idx, 2)))
    return st;
  bool ok = gb_shape_equal(idx, src) && idx->ndim == base->ndim;
  for (int d = 0; ok && d < base->ndim; d++)
    ok = d == a->i[0] || idx->shape[d] == base->shape[d];
  if (!ok) {
    char s0[GB_SHAPE_STRLEN], s1[GB_SHAPE_STRLEN], s2[GB_SHAPE_STRLEN];
    return gb_errorf(S, GB_ESHAPE, "scatter_add: base %s, indices %s and source %s do not fit",
                     gb_shape_str(base, s0), gb_shape_str(idx, s1), gb_shape_str(src, s2));
  }
  set_out(o, 0, base->ndim, base->shape, base->dtype);
  return GB_OK;
}

/* optimizer rows: every tensor float32 and shaped like the parameter; the result is the
 * parameter itself (run with gb_op_run_into) */
gb_status gb_infer_optim(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  gb_status st;
  for (int k = 0; k < a->nin; k++) {
    if ((st = need_float_like(S, op, a->in[k], k + 1, a->in[0]))) return st;
    if (!gb_shape_equal(a->in[k], a->in[0]) || !gb_tensor_is_contiguous(a->in[k])) {
      char s0[GB_SHAPE_STRLEN], s1[GB_SHAPE_STRLEN];
      return gb_errorf(S, GB_ESHAPE,
                       "%s: argument %d %s must be contiguous and shaped like the parameter %s",
                       NAME, k + 1, gb_shape_str(a->in[k], s1), gb_shape_str(a->in[0], s0));
    }
  }
  set_out(o, 0, a->in[0]->ndim, a->in[0]->shape, a->in[0]->dtype);
  return GB_OK;
}

/* ---- convolution helpers and pooling ---------------------------------------------------- */

/* output spatial size of an (H,W) input under a pooling row's window (gb_window.h): i0..i5,
 * dilation i9/i10 and ceil_mode i11 for the pooling rows; im2col/col2im read only i0..i5 */
static gb_status window_out(gb_state *S, gb_opid op, const gb_opargs *a, int64_t h, int64_t w,
                            int64_t *oh, int64_t *ow) {
  gb_window win = gb_window_of(a);
  bool plain = op == GB_OP_IM2COL || op == GB_OP_COL2IM;
  if (plain) win.dh = win.dw = 1;
  if (op == GB_OP_AVG_POOL2D) win.dh = win.dw = 1; /* avg_pool2d has no dilation (i9: unused) */
  return gb_window_out(S, NAME, GB_WINDOW_POOL, &win, !plain && a->i[GB_WIN_CEIL] != 0, h, w, oh,
                       ow);
}

static gb_status need_nchw(gb_state *S, gb_opid op, const gb_tensor *x) {
  gb_status st = need_float(S, op, x, 1);
  if (st) return st;
  if (x->ndim == 4) return GB_OK;
  char sb[GB_SHAPE_STRLEN];
  return gb_errorf(S, GB_ESHAPE, "%s: expected an (N,C,H,W) input, got %s", NAME,
                   gb_shape_str(x, sb));
}

gb_status gb_infer_im2col(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *x = a->in[0];
  int64_t oh = 0, ow = 0;
  gb_status st;
  if ((st = need_nchw(S, op, x)) || (st = window_out(S, op, a, x->shape[2], x->shape[3], &oh, &ow)))
    return st;
  int64_t shape[3] = {x->shape[0], 0, 0};
  if (gb_mul_ovf(oh, ow, &shape[1]) || gb_mul_ovf(x->shape[1], a->i[0], &shape[2]) ||
      gb_mul_ovf(shape[2], a->i[1], &shape[2]) || gb_shape_check(S, NAME, 3, shape, NULL)) {
    char sb[96];
    return gb_errorf(S, GB_ESHAPE,
                     "im2col: the patches of %s with a %lldx%lld kernel (output %lldx%lld) "
                     "have more than " GB_MAX_NUMEL_STR " elements",
                     gb_shape_str(x, sb), (long long)a->i[0], (long long)a->i[1], (long long)oh,
                     (long long)ow);
  }
  set_out(o, 0, 3, shape, GB_F32);
  return GB_OK;
}

gb_status gb_infer_col2im(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *c = a->in[0];
  int64_t oh = 0, ow = 0, kk = 0, ohw = 0;
  gb_status st = need_float(S, op, c, 1);
  if (st) return st;
  if ((st = window_out(S, op, a, a->i[6], a->i[7], &oh, &ow))) return st;
  bool ovf = gb_mul_ovf(a->i[0], a->i[1], &kk) || gb_mul_ovf(oh, ow, &ohw);
  if (ovf || c->ndim != 3 || c->shape[1] != ohw || kk <= 0 || c->shape[2] % kk != 0) {
    char sb[GB_SHAPE_STRLEN];
    return gb_errorf(S, GB_ESHAPE, "col2im: patches %s do not fit a %lldx%lld image",
                     gb_shape_str(c, sb), (long long)a->i[6], (long long)a->i[7]);
  }
  int64_t shape[4] = {c->shape[0], c->shape[2] / kk, a->i[6], a->i[7]};
  set_out(o, 0, 4, shape, GB_F32);
  return GB_OK;
}

gb_status gb_infer_pool2d(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *x = a->in[0];
  int64_t oh = 0, ow = 0;
  gb_status st;
  if ((st = need_nchw(S, op, x)) || (st = window_out(S, op, a, x->shape[2], x->shape[3], &oh, &ow)))
    return st;
  if (op == GB_OP_AVG_POOL2D && a->i[7] < 0) /* PyTorch refuses 0 too; here 0 means none */
    return gb_errorf(S, GB_EARG, "%s: divisor_override must be > 0, got %lld", NAME,
                     (long long)a->i[7]);
  int64_t shape[4] = {x->shape[0], x->shape[1], oh, ow};
  set_out(o, 0, 4, shape, GB_F32);
  return GB_OK;
}

/* max_pool2d: (N,C,OH,OW) maxima and, when the call is recorded for backward, their int64
 * offsets within each (H,W) plane (-1 for a window wholly in the padding), which the backward
 * row scatters through instead of searching the windows again */
gb_status gb_infer_max_pool2d(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  gb_status st = gb_infer_pool2d(S, op, a, o);
  if (st || !gb_op_records(S, op, a)) return st;
  o->nout = 2;
  set_out(o, 1, 4, o->shape[0], GB_I64);
  return GB_OK;
}

/* (gout (N,C,OH,OW), indices (N,C,OH,OW) int64) -> (N,C,H,W) with H, W = i6, i7; OH, OW must be
 * what the window (i0..i5) makes of H, W */
gb_status gb_infer_max_pool2d_backward(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *g = a->in[0], *idx = a->in[1];
  int64_t oh = 0, ow = 0;
  gb_status st;
  if ((st = need_nchw(S, op, g)) || (st = window_out(S, op, a, a->i[6], a->i[7], &oh, &ow)))
    return st;
  if (idx->dtype != GB_I64)
    return gb_errorf(S, GB_EDTYPE, "%s: argument 2 (indices) must be int64, got %s", NAME,
                     gb_dtype_name(idx->dtype));
  bool ok = g->shape[2] == oh && g->shape[3] == ow && idx->ndim == 4;
  for (int d = 0; ok && d < 4; d++)
    ok = idx->shape[d] == g->shape[d];
  if (!ok) {
    char sg[GB_SHAPE_STRLEN], si[GB_SHAPE_STRLEN];
    return gb_errorf(
        S, GB_ESHAPE,
        "%s: gradient %s and indices %s do not fit a %lldx%lld input (output %lldx%lld)", NAME,
        gb_shape_str(g, sg), gb_shape_str(idx, si), (long long)a->i[6], (long long)a->i[7],
        (long long)oh, (long long)ow);
  }
  int64_t shape[4] = {g->shape[0], g->shape[1], a->i[6], a->i[7]};
  set_out(o, 0, 4, shape, GB_F32);
  return GB_OK;
}

/* ==== issue 15's rows (branch ops) ==== */

/* cumsum: float32, one dim, same shape */
gb_status gb_infer_scan(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *x = a->in[0];
  gb_status st;
  if ((st = need_float(S, op, x, 1)) || (st = need_dim(S, op, x, a->i[0]))) return st;
  set_out(o, 0, x->ndim, x->shape, x->dtype);
  return GB_OK;
}

/* count elements start, start + step, ... along dim: stride * step, offset + start * stride */
gb_status gb_infer_slice(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *x = a->in[0];
  int64_t dim = a->i[0], start = a->i[1], count = a->i[2], step = a->i[3], last = 0, stride = 0;
  gb_status st = need_dim(S, op, x, dim);
  if (st) return st;
  char sb[GB_SHAPE_STRLEN];
  bool bad = step < 1 || count < 0 || start < 0 || (count > 0 && start >= x->shape[dim]);
  if (!bad && count > 0)
    bad = gb_mul_ovf(count - 1, step, &last) || gb_add_ovf(last, start, &last) ||
          last >= x->shape[dim] || gb_mul_ovf(x->stride[dim], step, &stride);
  if (bad)
    return gb_errorf(S, GB_EARG,
                     "slice: %lld elements from %lld with step %lld do not fit dimension %lld "
                     "(size %lld) of %s",
                     (long long)count, (long long)start + 1, (long long)step, (long long)dim + 1,
                     (long long)x->shape[dim], gb_shape_str(x, sb));
  int64_t shape[GB_MAXDIM], strides[GB_MAXDIM];
  memcpy(shape, x->shape, sizeof shape);
  memcpy(strides, x->stride, sizeof strides);
  shape[dim] = count;
  strides[dim] = count > 1 ? stride : x->stride[dim];
  view_of(o, x, x->ndim, shape, strides, x->offset + (count > 0 ? start * x->stride[dim] : 0));
  return GB_OK;
}

/* repeat: one factor >= 0 per dim of the input (the bindings prepend size-1 dims) */
gb_status gb_infer_repeat(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *x = a->in[0];
  char s0[GB_SHAPE_STRLEN], s1[GB_SHAPE_STRLEN];
  if (a->i[0] != x->ndim)
    return gb_errorf(S, GB_EARG, "repeat: %lld factors for a tensor of shape %s",
                     (long long)a->i[0], gb_shape_str(x, s0));
  int64_t shape[GB_MAXDIM];
  for (int d = 0; d < x->ndim; d++) {
    if (a->i[1 + d] < 0 || gb_mul_ovf(x->shape[d], a->i[1 + d], &shape[d]))
      return gb_errorf(S, GB_EARG, "repeat: factors %s for a tensor of shape %s: each must be >= 0",
                       gb_shape_str_n(x->ndim, a->i + 1, s1), gb_shape_str(x, s0));
  }
  gb_status st = gb_shape_check(S, NAME, x->ndim, shape, NULL);
  if (st) return st;
  set_out(o, 0, x->ndim, shape, x->dtype);
  return GB_OK;
}

/* sort: values and indices shaped like x; topk: the dim shrunk to k (i1), 0 <= k <= size */
gb_status gb_infer_sort(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *x = a->in[0];
  gb_status st;
  if ((st = need_float(S, op, x, 1)) || (st = need_dim(S, op, x, a->i[0]))) return st;
  int64_t shape[GB_MAXDIM];
  memcpy(shape, x->shape, sizeof shape);
  if (op == GB_OP_TOPK) {
    int64_t k = a->i[1], n = x->ndim ? x->shape[a->i[0]] : 1;
    if (k < 0 || k > n) {
      char sb[GB_SHAPE_STRLEN];
      return gb_errorf(S, GB_EARG,
                       "topk: k = %lld is out of range 0..%lld for dimension %lld of %s",
                       (long long)k, (long long)n, (long long)a->i[0] + 1, gb_shape_str(x, sb));
    }
    shape[a->i[0]] = k;
  }
  o->nout = 2;
  set_out(o, 0, x->ndim, shape, x->dtype);
  set_out(o, 1, x->ndim, shape, GB_I64);
  return GB_OK;
}
