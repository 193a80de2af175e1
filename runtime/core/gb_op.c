/* gb_op.c — the op table's core columns built from gb_ops.def, and gb_op_run: check devices,
 * apply the row's shape rule, allocate outputs (or build the view), call the kernel of the
 * device's backend (gb_backend.h) and record a tape node when grad is needed. This is the hot path:
 * no heap traffic beyond the recycled objects, no string formatting unless an error is raised. */
#include <stdio.h>
#include <string.h>

#include "gb_checked.h"
#include "gb_fn.h"
#include "gb_graph.h"
#include "gb_kernels.h"
#include "gb_state.h"
#define GB_NOGRAD NULL

const gb_oprow gb_ops[GB_NOPS] = {
#define GB_OP(id, name, nin, infer, cpu, cuda, grad) [id] = {name, nin, infer, grad},
#include "gb_ops.def"
#undef GB_OP
};

static gb_status check_devices(gb_state *S, gb_opid id, const gb_opargs *a, gb_device *dev) {
  *dev = a->in[0]->device;
  for (int k = 1; k < a->nin; k++) {
    if (a->in[k]->device != *dev) {
      char d0[GB_DEVICE_STRLEN], d1[GB_DEVICE_STRLEN];
      return gb_errorf(S, GB_EDEVICE,
                       "%s: expected all tensors on one device, got %s (argument 1) and %s "
                       "(argument %d)",
                       gb_ops[id].name, gb_device_name(*dev, d0),
                       gb_device_name(a->in[k]->device, d1), k + 1);
    }
  }
  return GB_OK;
}

static gb_kernel_fn kernel_for(gb_state *S, gb_opid id, gb_device dev, gb_status *st) {
  const gb_backend *b = gb_backend_loaded(dev); /* a tensor lives on dev: it is loaded */
  gb_kernel_fn fn = b && b->kernels ? b->kernels[id] : NULL;
  if (!fn) {
    char d[GB_DEVICE_STRLEN];
    *st = gb_errorf(S, GB_EDEVICE, "%s: not supported on %s", gb_ops[id].name,
                    gb_device_name(dev, d));
  }
  return fn;
}

gb_status gb_tensor_contiguous(gb_state *S, gb_tensor *t, gb_tensor **out) {
  if (gb_tensor_is_contiguous(t)) {
    gb_tensor_retain(t);
    *out = t;
    return GB_OK;
  }
  gb_status st;
  gb_kernel_fn copy = kernel_for(S, GB_OP_COPY, t->device, &st);
  if (!copy) return st;
  gb_tensor *c;
  if ((st = gb_tensor_empty_like(S, t, &c))) return st;
  gb_opargs a = {.in = {t}, .nin = 1, .i = {-1}};
  if ((st = copy(S, &a, &c))) {
    gb_tensor_release(S, c);
    return st;
  }
  *out = c;
  return GB_OK;
}

gb_status gb_opargs_contiguous(gb_state *S, const gb_opargs *a, int n, gb_tensor **c) {
  for (int k = 0; k < n; k++) {
    gb_status st = gb_tensor_contiguous(S, a->in[k], &c[k]);
    if (st) {
      gb_tensors_release(S, c, k);
      return st;
    }
  }
  return GB_OK;
}

void gb_tensors_release(gb_state *S, gb_tensor **c, int n) {
  for (int k = 0; k < n; k++)
    gb_tensor_release(S, c[k]);
}

bool gb_op_records(const gb_state *S, gb_opid id, const gb_opargs *a) {
  if (!S->grad_enabled || !gb_ops[id].grad) return false;
  for (int k = 0; k < a->nin; k++)
    if (a->in[k]->requires_grad) return true;
  return false;
}

/* Every view passes gb_shape_check (expand can ask for any size), so its numel, strides
 * and offsets stay representable. */
static gb_status make_view(gb_state *S, gb_opid id, const gb_opargs *a, const gb_outspec *o,
                           gb_tensor **out) {
  int64_t n;
  gb_status st = gb_shape_check(S, gb_ops[id].name, o->ndim[0], o->shape[0], &n);
  if (st) return st;
  gb_tensor *v = gb_tensor_alias(S, a->in[0]);
  if (!v) return gb_errorf(S, GB_EOOM, "out of memory: tensor header");
  v->ndim = o->ndim[0];
  memcpy(v->shape, o->shape[0], sizeof v->shape);
  memcpy(v->stride, o->view_stride, sizeof v->stride);
  v->offset = o->view_offset;
  v->numel = n;
  *out = v;
  return GB_OK;
}

/* In anomaly mode: name the op, and the backward rule it ran for, that made a NaN/Inf. */
static gb_status anomaly_check(gb_state *S, gb_opid id, const gb_tensor *t) {
  char what[GB_SHAPE_STRLEN]; /* "backward of <op> (in its <op>)": op names are short */
  if (S->backward_of)
    snprintf(what, sizeof what, "backward of %s (in its %s)", S->backward_of, gb_ops[id].name);
  else
    snprintf(what, sizeof what, "%s", gb_ops[id].name);
  return gb_check_finite(S, t, what);
}

/* Calls the kernel; while a recording is active, appends the call to it. Ops that a kernel
 * runs inside itself are not recorded: replaying the outer kernel repeats them. */
static gb_status run_kernel(gb_state *S, gb_opid id, gb_kernel_fn fn, const gb_opargs *a,
                            gb_tensor **res, int nout) {
  if (S->graph_patch)
    return gb_errorf(S, GB_EARG, "graph: %s cannot run while a recording is patched",
                     gb_ops[id].name);
  gb_status st;
  if (!S->recording) {
    if ((st = fn(S, a, res))) return st;
    /* a kernel that saw a stop at a chunk boundary ended early: its output is not valid (an
     * in-place target may be partly written) */
    return gb_should_stop(S) ? gb_stop_error(S) : GB_OK;
  }
  S->graph_depth++;
  st = fn(S, a, res);
  S->graph_depth--;
  if (!st && gb_should_stop(S)) st = gb_stop_error(S);
  if (!st && S->graph_depth == 0) gb_graph_note(S, id, fn, a, res, nout);
  return st;
}

gb_status gb_op_run(gb_state *S, gb_opid id, const gb_opargs *a, gb_tensor **out) {
  if (gb_should_stop(S)) return gb_stop_error(S); /* an op boundary is a safe point */
  gb_device dev;
  gb_status st = check_devices(S, id, a, &dev);
  if (st) return st;
  gb_outspec o;
  o.nout = 1;
  o.view = false;
  if ((st = gb_ops[id].infer(S, id, a, &o))) return st;
  gb_kernel_fn fn = kernel_for(S, id, dev, &st);
  if (!fn) return st;
  gb_tensor *res[GB_MAXOUT] = {NULL, NULL};
  if (o.view) {
    if ((st = make_view(S, id, a, &o, &res[0]))) return st;
  } else {
    for (int k = 0; k < o.nout; k++) {
      st = gb_tensor_empty(S, o.ndim[k], o.shape[k], o.dtype[k], dev, &res[k]);
      if (st) goto fail;
    }
    if ((st = run_kernel(S, id, fn, a, res, o.nout))) goto fail;
  }
  if (S->detect_anomaly && !o.view && (st = anomaly_check(S, id, res[0]))) goto fail;
  if (gb_op_records(S, id, a) && (st = gb_tape_record(S, id, a, res[0], res[1]))) goto fail;
  for (int k = 0; k < o.nout; k++)
    out[k] = res[k];
  return GB_OK;
fail:
  for (int k = 0; k < o.nout; k++)
    gb_tensor_release(S, res[k]);
  return st;
}

/* Several elements of t at one address: a dim of size > 1 with stride 0 (expand). The other
 * views (narrow, select, permute, reshape of contiguous) cannot overlap themselves. */
static bool self_overlapping(const gb_tensor *t) {
  if (t->numel == 0) return false; /* an empty tensor's strides may be 0 too */
  for (int d = 0; d < t->ndim; d++)
    if (t->shape[d] > 1 && t->stride[d] == 0) return true;
  return false;
}

/* The elements [lo, hi] of its storage that t can touch (strides are never negative). */
static void span_of(const gb_tensor *t, int64_t *lo, int64_t *hi) {
  *lo = *hi = t->offset;
  for (int d = 0; d < t->ndim; d++)
    *hi += (t->shape[d] - 1) * t->stride[d];
}

/* x reads memory that dst writes, and not element for element (then the result would depend
 * on the kernel's order): the op must read a copy of x. */
static bool reads_what_it_writes(const gb_tensor *x, const gb_tensor *dst) {
  if (x->storage != dst->storage || x->numel == 0 || dst->numel == 0) return false;
  bool same = x->offset == dst->offset && x->ndim == dst->ndim;
  for (int d = 0; same && d < x->ndim; d++)
    same = x->shape[d] == dst->shape[d] && x->stride[d] == dst->stride[d];
  if (same) return false;
  int64_t xlo, xhi, dlo, dhi;
  span_of(x, &xlo, &xhi);
  span_of(dst, &dlo, &dhi);
  return xlo <= dhi && dlo <= xhi;
}

static gb_status run_into(gb_state *S, gb_opid id, const gb_opargs *a, gb_tensor *dst);

gb_status gb_op_run_into(gb_state *S, gb_opid id, const gb_opargs *a, gb_tensor *dst) {
  if (self_overlapping(dst)) {
    char sb[96];
    return gb_errorf(S, GB_EARG,
                     "%s: cannot write in place into the expanded view %s: several of its "
                     "elements share one memory location (clone() it first)",
                     gb_ops[id].name, gb_shape_str(dst, sb));
  }
  gb_opargs b = *a;
  gb_tensor *tmp[GB_MAXIN] = {NULL};
  gb_status st = GB_OK;
  for (int k = 0; k < a->nin && !st; k++) {
    if (!reads_what_it_writes(a->in[k], dst)) continue;
    bool was = gb_set_grad_enabled(S, false);
    gb_opargs c = {.in = {a->in[k]}, .nin = 1, .i = {-1}};
    st = gb_op_run(S, GB_OP_COPY, &c, &tmp[k]); /* a private copy of the overlapping input */
    gb_set_grad_enabled(S, was);
    if (!st) b.in[k] = tmp[k];
  }
  if (!st) st = run_into(S, id, &b, dst);
  for (int k = 0; k < a->nin; k++)
    gb_tensor_release(S, tmp[k]);
  return st;
}

static gb_status run_into(gb_state *S, gb_opid id, const gb_opargs *a, gb_tensor *dst) {
  gb_status st;
  if (gb_should_stop(S)) return gb_stop_error(S);
  if (dst->requires_grad && S->grad_enabled)
    return gb_errorf(S, GB_EGRAD,
                     "%s: in-place operation on a tensor that requires grad (wrap it in "
                     "gb.no_grad or use the out-of-place form)",
                     gb_ops[id].name);
  if (a->nin > 0) {
    gb_device dev;
    if ((st = check_devices(S, id, a, &dev))) return st;
    if (dev != dst->device) {
      char d0[GB_DEVICE_STRLEN], d1[GB_DEVICE_STRLEN];
      return gb_errorf(S, GB_EDEVICE, "%s: result on %s cannot be written into a tensor on %s",
                       gb_ops[id].name, gb_device_name(dev, d0), gb_device_name(dst->device, d1));
    }
    gb_outspec o;
    o.nout = 1;
    o.view = false;
    if ((st = gb_ops[id].infer(S, id, a, &o))) return st;
    bool same = o.ndim[0] == dst->ndim && o.dtype[0] == dst->dtype && !o.view;
    for (int d = 0; same && d < dst->ndim; d++)
      same = o.shape[0][d] == dst->shape[d];
    if (!same) {
      char s0[GB_SHAPE_STRLEN], s1[GB_SHAPE_STRLEN];
      return gb_errorf(S, GB_ESHAPE, "%s: in-place result %s %s does not fit the target %s %s",
                       gb_ops[id].name, gb_shape_str_n(o.ndim[0], o.shape[0], s0),
                       gb_dtype_name(o.dtype[0]), gb_shape_str(dst, s1), gb_dtype_name(dst->dtype));
    }
  }
  gb_kernel_fn fn = kernel_for(S, id, dst->device, &st);
  if (!fn) return st;
  gb_tensor *res[GB_MAXOUT] = {dst, NULL};
  dst->storage->version++; /* saved copies of this storage on the tape are now stale */
  return run_kernel(S, id, fn, a, res, 1);
}

void gb_set_detect_anomaly(gb_state *S, bool on) {
  S->detect_anomaly = on;
}

gb_status gb_check_finite(gb_state *S, const gb_tensor *t, const char *what) {
  if (!gb_dtype_is_float(t->dtype)) return GB_OK;
  gb_tensor *h = (gb_tensor *)t;
  gb_status st = t->device == GB_CPU ? GB_OK : gb_fn_to_device(S, (gb_tensor *)t, GB_CPU, &h);
  if (st) return st;
  int64_t bad = -1;
  for (int64_t i = 0; i < h->numel && bad < 0; i++) {
    double v = gb_tensor_get_flat(h, i);
    if (v != v || v - v != 0) bad = i;
  }
  double v = bad >= 0 ? gb_tensor_get_flat(h, bad) : 0;
  if (h != t) gb_tensor_release(S, h);
  if (bad < 0) return GB_OK;
  char sb[GB_SHAPE_STRLEN];
  return gb_errorf(S, GB_EARG, "anomaly: %s produced %s at element %lld of its %s result", what,
                   v != v ? "NaN" : "Inf", (long long)bad + 1, gb_shape_str(t, sb));
}

gb_status gb_op1(gb_state *S, gb_opid id, gb_tensor *x, gb_tensor **out) {
  gb_opargs a = {.in = {x}, .nin = 1};
  return gb_op_run(S, id, &a, out);
}
