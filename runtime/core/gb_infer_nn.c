/* gb_infer_nn.c — shape rules of the nn-layer rows (gb_ops.def, "nn layers" block): fused
 * convolution and its two backward rows, adaptive average pooling, batch norm. All size
 * arithmetic goes through gb_checked.h. Dims here are 0-based. */
#include <string.h>

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

static gb_status need_f32(gb_state *S, gb_opid op, const gb_tensor *t, int argno) {
  if (t->dtype == GB_F32) return GB_OK;
  if (t->dtype == GB_F64) return gb_f64_refused(S, NAME, t->device); /* float32 kernels only */
  return gb_errorf(S, GB_EDTYPE,
                   "%s: argument %d has dtype %s, expected float32 (convert with :float())", NAME,
                   argno, gb_dtype_name(t->dtype));
}

static gb_status need_ndim(gb_state *S, gb_opid op, const gb_tensor *t, int argno, int nd,
                           const char *what) {
  gb_status st = need_f32(S, op, t, argno);
  if (st || t->ndim == nd) return st;
  char sb[GB_SHAPE_STRLEN];
  return gb_errorf(S, GB_ESHAPE, "%s: argument %d: expected %s, got %s", NAME, argno, what,
                   gb_shape_str(t, sb));
}

/* Output size of a conv2d row's window over (h, w) (gb_window.h: any padding >= 0, dilation,
 * as PyTorch's conv2d). */
static gb_status conv_out(gb_state *S, gb_opid op, const gb_opargs *a, int64_t h, int64_t w,
                          int64_t *oh, int64_t *ow) {
  gb_window win = gb_window_of(a);
  return gb_window_out(S, NAME, GB_WINDOW_CONV, &win, false, h, w, oh, ow);
}

/* groups i11 must be >= 1 and divide size 1 of t (`what`: "input", "weight", ...) */
static gb_status check_groups(gb_state *S, gb_opid op, const gb_opargs *a, const gb_tensor *t,
                              const char *what) {
  int64_t g = gb_window_groups(a);
  if (g < 1) return gb_errorf(S, GB_EARG, "%s: groups must be >= 1, got %lld", NAME, (long long)g);
  if (t->shape[1] % g == 0) return GB_OK;
  char sb[GB_SHAPE_STRLEN];
  return gb_errorf(S, GB_ESHAPE, "%s: %s %s has %lld channels, not divisible by groups=%lld", NAME,
                   what, gb_shape_str(t, sb), (long long)t->shape[1], (long long)g);
}

/* w (O,C/groups,kh,kw) must have kernel i0 x i1, O divisible by groups i11 and fit c input
 * channels (c divisible by groups: the caller checked) */
static gb_status check_weight(gb_state *S, gb_opid op, const gb_opargs *a, const gb_tensor *w,
                              int argno, int64_t c) {
  gb_status st = need_ndim(S, op, w, argno, 4, "a weight (O,C/groups,kh,kw)");
  if (st) return st;
  int64_t g = gb_window_groups(a);
  char sb[GB_SHAPE_STRLEN];
  if (g >= 1 && w->shape[0] % g)
    return gb_errorf(S, GB_ESHAPE,
                     "%s: weight %s has %lld output channels, not divisible by groups=%lld", NAME,
                     gb_shape_str(w, sb), (long long)w->shape[0], (long long)g);
  if (w->shape[1] == c / g && w->shape[2] == a->i[0] && w->shape[3] == a->i[1]) return GB_OK;
  if (g == 1)
    return gb_errorf(S, GB_ESHAPE,
                     "%s: weight %s does not fit %lld input channels and a %lldx%lld "
                     "kernel",
                     NAME, gb_shape_str(w, sb), (long long)c, (long long)a->i[0],
                     (long long)a->i[1]);
  return gb_errorf(S, GB_ESHAPE,
                   "%s: weight %s does not fit %lld input channels in %lld groups and a %lldx%lld "
                   "kernel: expected (%lld,%lld,%lld,%lld)",
                   NAME, gb_shape_str(w, sb), (long long)c, (long long)g, (long long)a->i[0],
                   (long long)a->i[1], (long long)w->shape[0], (long long)(c / g),
                   (long long)a->i[0], (long long)a->i[1]);
}

static gb_status too_large(gb_state *S, gb_opid op, int nd, const int64_t *shape) {
  return gb_shape_check(S, NAME, nd, shape, NULL);
}

/* the kernels multiply (O,K) by (K,positions) matrices: each size must fit an int */
static gb_status gemm_sizes(gb_state *S, gb_opid op, int64_t k, int64_t o, int64_t p) {
  const int64_t lim = 2147483647;
  if (k <= lim && o <= lim && p <= lim) return GB_OK;
  return gb_errorf(S, GB_ESHAPE,
                   "%s: %lld values per patch, %lld channels, %lld positions: each must be "
                   "below 2^31",
                   NAME, (long long)k, (long long)o, (long long)p);
}

/* (x (N,C,H,W), w (O,C/groups,kh,kw), bias (O)) -> (N,O,OH,OW) */
gb_status gb_infer_conv2d(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *x = a->in[0], *w = a->in[1], *b = a->in[2];
  int64_t oh = 0, ow = 0, k = 0;
  gb_status st;
  if ((st = need_ndim(S, op, x, 1, 4, "an (N,C,H,W) input")) ||
      (st = conv_out(S, op, a, x->shape[2], x->shape[3], &oh, &ow)) ||
      (st = check_groups(S, op, a, x, "input")) ||
      (st = check_weight(S, op, a, w, 2, x->shape[1])) ||
      (st = need_ndim(S, op, b, 3, 1, "a bias (O)")))
    return st;
  if (b->shape[0] != w->shape[0]) {
    char sb[GB_SHAPE_STRLEN], sw[GB_SHAPE_STRLEN];
    return gb_errorf(S, GB_ESHAPE, "%s: bias %s does not match weight %s", NAME,
                     gb_shape_str(b, sb), gb_shape_str(w, sw));
  }
  /* the kernels hold one (C/groups*kh*kw) column of patches per output position of a tile */
  if (gb_mul_ovf(w->shape[1], w->shape[2] * w->shape[3], &k) || k > GB_MAX_NUMEL)
    return gb_errorf(S, GB_ESHAPE, "%s: patches of %lld values are too large", NAME, (long long)k);
  int64_t shape[4] = {x->shape[0], w->shape[0], oh, ow};
  if ((st = too_large(S, op, 4, shape))) return st;
  if ((st = gemm_sizes(S, op, k, w->shape[0], oh * ow))) return st;
  set_out(o, 0, 4, shape, GB_F32);
  return GB_OK;
}

/* (gout (N,O,OH,OW), w (O,C/groups,kh,kw)) -> (N,C,H,W) with H = i6, W = i7 */
gb_status gb_infer_conv2d_backward_input(gb_state *S, gb_opid op, const gb_opargs *a,
                                         gb_outspec *o) {
  const gb_tensor *g = a->in[0], *w = a->in[1];
  int64_t oh = 0, ow = 0, c = 0;
  gb_status st;
  if ((st = need_ndim(S, op, g, 1, 4, "a gradient (N,O,OH,OW)")) ||
      (st = need_ndim(S, op, w, 2, 4, "a weight (O,C/groups,kh,kw)")) ||
      (st = check_groups(S, op, a, g, "gradient")))
    return st;
  if (gb_mul_ovf(w->shape[1], gb_window_groups(a), &c) || c > GB_MAX_NUMEL)
    return gb_errorf(S, GB_ESHAPE, "%s: %lld groups of %lld input channels are too many", NAME,
                     (long long)gb_window_groups(a), (long long)w->shape[1]);
  if ((st = check_weight(S, op, a, w, 2, c)) ||
      (st = conv_out(S, op, a, a->i[6], a->i[7], &oh, &ow)))
    return st;
  if (g->shape[1] != w->shape[0] || g->shape[2] != oh || g->shape[3] != ow) {
    char sg[GB_SHAPE_STRLEN], sw[GB_SHAPE_STRLEN];
    return gb_errorf(S, GB_ESHAPE, "%s: gradient %s does not fit weight %s and a %lldx%lld image",
                     NAME, gb_shape_str(g, sg), gb_shape_str(w, sw), (long long)a->i[6],
                     (long long)a->i[7]);
  }
  int64_t shape[4] = {g->shape[0], c, a->i[6], a->i[7]};
  if ((st = too_large(S, op, 4, shape)) ||
      (st = gemm_sizes(S, op, w->shape[1] * a->i[0] * a->i[1], w->shape[0], oh * ow)))
    return st;
  set_out(o, 0, 4, shape, GB_F32);
  return GB_OK;
}

/* (gout (N,O,OH,OW), x (N,C,H,W)) -> (O,C/groups,kh,kw) */
gb_status gb_infer_conv2d_backward_weight(gb_state *S, gb_opid op, const gb_opargs *a,
                                          gb_outspec *o) {
  const gb_tensor *g = a->in[0], *x = a->in[1];
  int64_t oh = 0, ow = 0;
  gb_status st;
  if ((st = need_ndim(S, op, g, 1, 4, "a gradient (N,O,OH,OW)")) ||
      (st = need_ndim(S, op, x, 2, 4, "an (N,C,H,W) input")) ||
      (st = check_groups(S, op, a, g, "gradient")) || (st = check_groups(S, op, a, x, "input")) ||
      (st = conv_out(S, op, a, x->shape[2], x->shape[3], &oh, &ow)))
    return st;
  if (g->shape[0] != x->shape[0] || g->shape[2] != oh || g->shape[3] != ow) {
    char sg[GB_SHAPE_STRLEN], sx[GB_SHAPE_STRLEN];
    return gb_errorf(S, GB_ESHAPE, "%s: gradient %s does not fit input %s", NAME,
                     gb_shape_str(g, sg), gb_shape_str(x, sx));
  }
  int64_t shape[4] = {g->shape[1], x->shape[1] / gb_window_groups(a), a->i[0], a->i[1]};
  if ((st = too_large(S, op, 4, shape)) ||
      (st = gemm_sizes(S, op, shape[1] * a->i[0] * a->i[1], g->shape[1], oh * ow)))
    return st;
  set_out(o, 0, 4, shape, GB_F32);
  if (a->i[8]) { /* the bias gradient too, from the same pass over gout */
    o->nout = 2;
    set_out(o, 1, 1, shape, GB_F32);
  }
  return GB_OK;
}

/* x (N,C,H,W) -> (N,C,i0,i1); output sizes >= 1 */
gb_status gb_infer_adaptive_pool2d(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *x = a->in[0];
  gb_status st = need_ndim(S, op, x, 1, 4, "an (N,C,H,W) input");
  if (st) return st;
  if (a->i[0] < 1 || a->i[1] < 1 || a->i[0] > GB_MAX_NUMEL || a->i[1] > GB_MAX_NUMEL)
    return gb_errorf(S, GB_EARG, "%s: output size %lldx%lld must be >= 1", NAME, (long long)a->i[0],
                     (long long)a->i[1]);
  if (x->shape[2] < 1 || x->shape[3] < 1) {
    char sb[GB_SHAPE_STRLEN];
    return gb_errorf(S, GB_ESHAPE, "%s: input %s has an empty image", NAME, gb_shape_str(x, sb));
  }
  int64_t shape[4] = {x->shape[0], x->shape[1], a->i[0], a->i[1]};
  if ((st = too_large(S, op, 4, shape))) return st;
  set_out(o, 0, 4, shape, GB_F32);
  return GB_OK;
}

/* (x (N,C,...), w (C), b (C)) -> y like x, stats (2,C) */
gb_status gb_infer_batch_norm(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *x = a->in[0];
  gb_status st = gb_need_float_like(S, op, x, 1, x); /* float64 where the backend runs it */
  if (st) return st;
  char sb[GB_SHAPE_STRLEN], sw[GB_SHAPE_STRLEN];
  if (x->ndim < 2)
    return gb_errorf(S, GB_ESHAPE, "%s: expected an (N,C,...) input, got %s", NAME,
                     gb_shape_str(x, sb));
  for (int k = 1; k <= 2; k++) {
    const gb_tensor *p = a->in[k];
    if ((st = gb_need_float_like(S, op, p, k + 1, x))) return st;
    if (p->ndim != 1 || p->shape[0] != x->shape[1])
      return gb_errorf(S, GB_ESHAPE, "%s: argument %d %s does not match the %lld channels of %s",
                       NAME, k + 1, gb_shape_str(p, sw), (long long)x->shape[1],
                       gb_shape_str(x, sb));
  }
  if (!(a->f[0] > 0)) return gb_errorf(S, GB_EARG, "%s: eps must be > 0, got %g", NAME, a->f[0]);
  set_out(o, 0, x->ndim, x->shape, x->dtype);
  int64_t stats[2] = {2, x->shape[1]};
  o->nout = 2;
  set_out(o, 1, 2, stats, x->dtype);
  return GB_OK;
}

/* (gout like x, x (N,C,...), w (C) [, the forward's (2,C) statistics]) -> gx like x, (2,C) dw
 * and db */
gb_status gb_infer_batch_norm_backward(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *g = a->in[0], *x = a->in[1], *w = a->in[2];
  gb_status st;
  if (a->nin != 3 && a->nin != 4)
    return gb_errorf(S, GB_EARG, "%s: expected 3 or 4 inputs, got %d", NAME, a->nin);
  for (int k = 0; k < a->nin; k++)
    if ((st = gb_need_float_like(S, op, a->in[k], k + 1, x))) return st;
  char sg[GB_SHAPE_STRLEN], sx[GB_SHAPE_STRLEN];
  bool ok = x->ndim >= 2 && g->ndim == x->ndim && w->ndim == 1 && w->shape[0] == x->shape[1];
  for (int d = 0; ok && d < x->ndim; d++)
    ok = g->shape[d] == x->shape[d];
  if (ok && a->nin == 4)
    ok = a->in[3]->ndim == 2 && a->in[3]->shape[0] == 2 && a->in[3]->shape[1] == x->shape[1];
  if (!ok)
    return gb_errorf(S, GB_ESHAPE, "%s: gradient %s, input %s: shapes do not fit", NAME,
                     gb_shape_str(g, sg), gb_shape_str(x, sx));
  if (!(a->f[0] > 0)) return gb_errorf(S, GB_EARG, "%s: eps must be > 0, got %g", NAME, a->f[0]);
  set_out(o, 0, x->ndim, x->shape, x->dtype);
  int64_t stats[2] = {2, x->shape[1]};
  o->nout = 2;
  set_out(o, 1, 2, stats, x->dtype);
  return GB_OK;
}

/* (gout, x): gout must be what the forward row (avg_pool2d / adaptive_avg_pool2d, same
 * params) makes of x */
gb_status gb_infer_avg_pool2d_backward(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  const gb_tensor *g = a->in[0], *x = a->in[1];
  gb_status st = need_ndim(S, op, g, 1, 4, "a gradient (N,C,OH,OW)");
  if (st) return st;
  gb_opid fwd = op == GB_OP_AVG_POOL2D_BACKWARD ? GB_OP_AVG_POOL2D : GB_OP_ADAPTIVE_AVG_POOL2D;
  gb_opargs fa = *a;
  fa.in[0] = a->in[1];
  fa.nin = 1;
  gb_outspec fo = {.nout = 1};
  if ((st = gb_ops[fwd].infer(S, fwd, &fa, &fo))) return st;
  bool ok = true;
  for (int d = 0; d < 4; d++)
    ok = ok && g->shape[d] == fo.shape[0][d];
  if (!ok) {
    char sg[GB_SHAPE_STRLEN], sx[GB_SHAPE_STRLEN];
    return gb_errorf(S, GB_ESHAPE, "%s: gradient %s does not fit input %s", NAME,
                     gb_shape_str(g, sg), gb_shape_str(x, sx));
  }
  set_out(o, 0, 4, x->shape, GB_F32);
  return GB_OK;
}
