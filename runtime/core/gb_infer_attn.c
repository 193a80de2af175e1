/* gb_infer_attn.c — shape rules of the Transformer's fused rows (gb_ops.def, branch tfm
 * block): layer norm and its backward, the masked softmax, scaled dot-product attention and
 * its backward. Size arithmetic goes through gb_checked.h; dims are 0-based. */
#include <string.h>

#include "gb_checked.h"
#include "gb_kernels.h"
#include "gb_state.h"

#define NAME (gb_ops[op].name)

static void set_out(gb_outspec *o, int k, int ndim, const int64_t *shape) {
  o->ndim[k] = ndim;
  if (ndim) memcpy(o->shape[k], shape, sizeof(int64_t) * (size_t)ndim);
  o->dtype[k] = GB_F32;
}

static gb_status need_f32(gb_state *S, gb_opid op, const gb_tensor *t, int argno) {
  if (t->dtype == GB_F32) return GB_OK;
  if (t->dtype == GB_F64) return gb_f64_refused(S, NAME, t->device); /* float32 kernels only */
  return gb_errorf(S, GB_EDTYPE,
                   "%s: argument %d has dtype %s, expected float32 (convert with :float())", NAME,
                   argno, gb_dtype_name(t->dtype));
}

static gb_status all_f32(gb_state *S, gb_opid op, const gb_opargs *a) {
  gb_status st = GB_OK;
  for (int k = 0; k < a->nin && !st; k++)
    st = need_f32(S, op, a->in[k], k + 1);
  return st;
}

/* Every input float32, or every one float64 where the backend runs op in double (the layer
 * norm rows: gb_cpu_attn.c's rows have both) */
static gb_status all_float_like_first(gb_state *S, gb_opid op, const gb_opargs *a) {
  gb_status st = GB_OK;
  for (int k = 0; k < a->nin && !st; k++)
    st = gb_need_float_like(S, op, a->in[k], k + 1, a->in[0]);
  return st;
}

/* The row count and row length of x normalized over its trailing a->i[0] dims; w and b (the
 * inputs from `first`) must have exactly those dims. */
static gb_status norm_geometry(gb_state *S, gb_opid op, const gb_opargs *a, const gb_tensor *x,
                               int first, int64_t *rows, int64_t *n) {
  char sx[GB_SHAPE_STRLEN], sp[GB_SHAPE_STRLEN];
  int64_t k = a->i[0];
  if (k < 1 || k > x->ndim)
    return gb_errorf(S, GB_ESHAPE, "%s: cannot normalize the last %lld dims of %s", NAME,
                     (long long)k, gb_shape_str(x, sx));
  if (!(a->f[0] > 0)) return gb_errorf(S, GB_EARG, "%s: eps must be > 0, got %g", NAME, a->f[0]);
  int lead = x->ndim - (int)k;
  *rows = gb_shape_numel_checked(lead, x->shape);
  *n = gb_shape_numel_checked((int)k, x->shape + lead);
  if (*rows < 0 || *n < 0)
    return gb_errorf(S, GB_ESHAPE, "%s: input %s is too large", NAME, gb_shape_str(x, sx));
  for (int j = first; j < a->nin; j++) {
    const gb_tensor *p = a->in[j];
    bool ok = p->ndim == (int)k;
    for (int d = 0; ok && d < (int)k; d++)
      ok = p->shape[d] == x->shape[lead + d];
    if (!ok)
      return gb_errorf(S, GB_ESHAPE, "%s: argument %d %s does not match the normalized dims of %s",
                       NAME, j + 1, gb_shape_str(p, sp), gb_shape_str(x, sx));
  }
  return GB_OK;
}

/* (x [, w, b]) -> y like x, stats (rows, 2) */
gb_status gb_infer_layer_norm(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  gb_status st = all_float_like_first(S, op, a);
  if (st) return st;
  if (a->nin != 1 && a->nin != 3)
    return gb_errorf(S, GB_EARG, "%s: expected (x) or (x, weight, bias), got %d tensors", NAME,
                     a->nin);
  int64_t rows, n;
  if ((st = norm_geometry(S, op, a, a->in[0], 1, &rows, &n))) return st;
  set_out(o, 0, a->in[0]->ndim, a->in[0]->shape);
  o->nout = 2;
  set_out(o, 1, 2, (int64_t[]){rows, 2});
  o->dtype[0] = o->dtype[1] = a->in[0]->dtype;
  return GB_OK;
}

/* (gout, x [, w]) -> gx like x, (2, n) dw and db */
gb_status gb_infer_layer_norm_backward(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  gb_status st = all_float_like_first(S, op, a);
  if (st) return st;
  if (a->nin != 2 && a->nin != 3)
    return gb_errorf(S, GB_EARG, "%s: expected (gout, x [, weight]), got %d tensors", NAME, a->nin);
  if (!gb_shape_equal(a->in[0], a->in[1])) {
    char s0[GB_SHAPE_STRLEN], s1[GB_SHAPE_STRLEN];
    return gb_errorf(S, GB_ESHAPE, "%s: gradient %s and input %s differ", NAME,
                     gb_shape_str(a->in[0], s0), gb_shape_str(a->in[1], s1));
  }
  int64_t rows, n;
  if ((st = norm_geometry(S, op, a, a->in[1], 2, &rows, &n))) return st;
  set_out(o, 0, a->in[1]->ndim, a->in[1]->shape);
  o->nout = 2;
  set_out(o, 1, 2, (int64_t[]){2, n});
  o->dtype[0] = o->dtype[1] = a->in[0]->dtype;
  return GB_OK;
}

/* (scores (..., L, S) [, mask broadcastable to them]) -> like scores */
gb_status gb_infer_masked_softmax(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  gb_status st = all_f32(S, op, a);
  if (st) return st;
  const gb_tensor *x = a->in[0];
  char sx[GB_SHAPE_STRLEN], sm[GB_SHAPE_STRLEN];
  if (x->ndim < 2)
    return gb_errorf(S, GB_ESHAPE, "%s: expected scores (..., L, S), got %s", NAME,
                     gb_shape_str(x, sx));
  if (a->nin > 1) {
    const gb_tensor *m = a->in[1];
    bool ok = m->ndim <= x->ndim;
    for (int d = 0; ok && d < m->ndim; d++) {
      int64_t ms = m->shape[m->ndim - 1 - d], xs = x->shape[x->ndim - 1 - d];
      ok = ms == xs || ms == 1;
    }
    if (!ok)
      return gb_errorf(S, GB_ESHAPE, "%s: mask %s does not broadcast to the scores %s", NAME,
                       gb_shape_str(m, sm), gb_shape_str(x, sx));
  }
  set_out(o, 0, x->ndim, x->shape);
  return GB_OK;
}

/* q (B,H,L,E), k (B,H,S,E), v (B,H,S,Ev): checks; the sizes land in sz = {B,H,L,S,E,Ev} */
static gb_status sdpa_sizes(gb_state *S, gb_opid op, gb_tensor *const *in, int64_t *sz) {
  const gb_tensor *q = in[0], *k = in[1], *v = in[2];
  char s0[GB_SHAPE_STRLEN], s1[GB_SHAPE_STRLEN], s2[GB_SHAPE_STRLEN];
  bool ok = q->ndim == 4 && k->ndim == 4 && v->ndim == 4;
  for (int d = 0; ok && d < 2; d++)
    ok = k->shape[d] == q->shape[d] && v->shape[d] == q->shape[d];
  ok = ok && k->shape[3] == q->shape[3] && v->shape[2] == k->shape[2];
  if (!ok)
    return gb_errorf(S, GB_ESHAPE,
                     "%s: expected query (B,H,L,E), key (B,H,S,E) and value (B,H,S,Ev), got %s, "
                     "%s and %s",
                     NAME, gb_shape_str(q, s0), gb_shape_str(k, s1), gb_shape_str(v, s2));
  if (k->shape[2] < 1)
    return gb_errorf(S, GB_ESHAPE, "%s: key %s has no positions to attend to", NAME,
                     gb_shape_str(k, s1));
  sz[0] = q->shape[0], sz[1] = q->shape[1], sz[2] = q->shape[2], sz[3] = k->shape[2];
  sz[4] = q->shape[3], sz[5] = v->shape[3];
  /* the kernels hand these to BLAS as int */
  for (int d = 2; d < 6; d++)
    if (sz[d] > (int64_t)1 << 30)
      return gb_errorf(S, GB_ESHAPE, "%s: sizes over 2^30 per dimension are not supported", NAME);
  return GB_OK;
}

/* The optional mask, input `at` of a, against the scores (B,H,L,S) = sz[0..3]: at most 4 dims,
 * each (right-aligned) the scores' size or 1. Only comparisons: the kernels' mask offsets
 * (index times stride, 0 on broadcast dims) stay within the mask's own validated extent. The
 * rows give the mask no gradient, so one that requires grad is refused where sdpa records
 * (PyTorch would differentiate it: the callers keep the materialised softmax for it). */
static gb_status sdpa_mask(gb_state *S, gb_opid op, const gb_opargs *a, int at, const int64_t *sz) {
  if (a->nin <= at) return GB_OK;
  const gb_tensor *m = a->in[at];
  bool ok = m->ndim <= 4;
  for (int d = 0; ok && d < m->ndim; d++) {
    int64_t ms = m->shape[m->ndim - 1 - d];
    ok = ms == sz[3 - d] || ms == 1;
  }
  char sm[GB_SHAPE_STRLEN], ss[GB_SHAPE_STRLEN];
  if (!ok)
    return gb_errorf(S, GB_ESHAPE, "%s: mask %s does not broadcast to the scores (B,H,L,S) %s",
                     NAME, gb_shape_str(m, sm), gb_shape_str_n(4, sz, ss));
  if (m->requires_grad && gb_op_records(S, op, a))
    return gb_errorf(S, GB_EGRAD,
                     "%s: the mask %s requires grad, but the fused row gives it no gradient "
                     "(detach it, or add it to the scores and use gb._masked_softmax)",
                     NAME, gb_shape_str(m, sm));
  return GB_OK;
}

/* (q, k, v [, mask]) -> (B,L,H,Ev) */
gb_status gb_infer_sdpa(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  gb_status st = all_f32(S, op, a);
  if (st) return st;
  int64_t sz[6];
  if ((st = sdpa_sizes(S, op, a->in, sz)) || (st = sdpa_mask(S, op, a, 3, sz))) return st;
  int64_t shape[4] = {sz[0], sz[2], sz[1], sz[5]};
  if ((st = gb_shape_check(S, NAME, 4, shape, NULL))) return st;
  set_out(o, 0, 4, shape);
  return GB_OK;
}

/* (gout (B,L,H,Ev), q, k, v [, mask]) -> gq like q, (B,H,S,E+Ev) */
gb_status gb_infer_sdpa_backward(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  gb_status st = all_f32(S, op, a);
  if (st) return st;
  int64_t sz[6];
  if ((st = sdpa_sizes(S, op, a->in + 1, sz)) || (st = sdpa_mask(S, op, a, 4, sz))) return st;
  const gb_tensor *g = a->in[0];
  int64_t want[4] = {sz[0], sz[2], sz[1], sz[5]};
  bool ok = g->ndim == 4;
  for (int d = 0; ok && d < 4; d++)
    ok = g->shape[d] == want[d];
  if (!ok) {
    char sg[GB_SHAPE_STRLEN], sw[GB_SHAPE_STRLEN];
    return gb_errorf(S, GB_ESHAPE, "%s: gradient %s, expected %s", NAME, gb_shape_str(g, sg),
                     gb_shape_str_n(4, want, sw));
  }
  int64_t kv[4] = {sz[0], sz[1], sz[3], 0};
  if (gb_add_ovf(sz[4], sz[5], &kv[3]) || (st = gb_shape_check(S, NAME, 4, kv, NULL)))
    return st ? st : gb_errorf(S, GB_ESHAPE, "%s: head sizes too large", NAME);
  set_out(o, 0, 4, a->in[1]->shape);
  o->nout = 2;
  set_out(o, 1, 4, kv);
  return GB_OK;
}
