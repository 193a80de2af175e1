/* gb_grad.c — the backward rules of the op table. Each rule builds d(loss)/d(input) from the
 * node (inputs, saved output, parameters) and the incoming gradient g using ordinary ops,
 * so the same rule runs on the CPU or the GPU. Broadcast inputs get g summed back to their
 * shape. Rules run with grad mode off (gb_backward), so nothing here is recorded. */
#include <math.h>
#include <string.h>

#include "gb_fn.h"
#include "gb_kernels.h"
#include "gb_state.h"

#define IN(k) (n->args.in[k])
#define REL(t) gb_tensor_release(S, (t))

/* gin[k] = sum_to(t, IN(k)), consuming t. */
static gb_status give(gb_state *S, gb_node *n, int k, gb_tensor *t, gb_tensor **gin) {
  gb_status st = GB_OK;
  if (IN(k)->requires_grad) st = gb_fn_sum_to(S, t, IN(k), &gin[k]);
  REL(t);
  return st;
}

static gb_status mul_into(gb_state *S, gb_node *n, int k, gb_tensor *x, gb_tensor *y,
                          gb_tensor **gin) {
  gb_tensor *t;
  gb_status st = gb_fn_binary(S, GB_OP_MUL, x, y, &t);
  return st ? st : give(S, n, k, t, gin);
}

gb_status gb_grad_zero(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return GB_OK;
}

/* a float input gets g in its own dtype (x:double() sends float64 gradients back to a
 * float32 leaf as float32); an integer input has no gradient */
gb_status gb_grad_copy(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  if (!gb_dtype_is_float(IN(0)->dtype)) return GB_OK;
  if (g->dtype != IN(0)->dtype) return gb_fn_to_dtype(S, g, IN(0)->dtype, &gin[0]);
  gb_tensor_retain(g);
  gin[0] = g;
  return GB_OK;
}

/* ---- views ---- */

gb_status gb_grad_reshape(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return gb_fn_reshape(S, g, IN(0)->ndim, IN(0)->shape, &gin[0]);
}

gb_status gb_grad_permute(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_opargs a = {.in = {g}, .nin = 1, .i = {n->args.i[0]}};
  for (int d = 0; d < IN(0)->ndim; d++)
    a.i[1 + n->args.i[1 + d]] = d;
  return gb_op_run(S, GB_OP_PERMUTE, &a, &gin[0]);
}

gb_status gb_grad_transpose(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return gb_fn_transpose(S, g, (int)n->args.i[0], (int)n->args.i[1], &gin[0]);
}

/* zeros shaped like the input, with g copied into the part the view `id` selected */
static gb_status scatter_view(gb_state *S, gb_node *n, gb_opid id, gb_tensor *g, gb_tensor **gin) {
  gb_tensor *z, *part;
  gb_status st = gb_fn_full(S, IN(0)->ndim, IN(0)->shape, g->dtype, g->device, 0.0, &z);
  if (st) return st;
  gb_opargs a = n->args;
  a.in[0] = z;
  if ((st = gb_op_run(S, id, &a, &part))) {
    REL(z);
    return st;
  }
  st = gb_fn_copy_into(S, part, g);
  REL(part);
  if (st)
    REL(z);
  else
    gin[0] = z;
  return st;
}

gb_status gb_grad_narrow(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return scatter_view(S, n, GB_OP_NARROW, g, gin);
}

gb_status gb_grad_select(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return scatter_view(S, n, GB_OP_SELECT, g, gin);
}

gb_status gb_grad_pad(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_opargs a = {
      .in = {g}, .nin = 1, .i = {n->args.i[0], n->args.i[1], IN(0)->shape[n->args.i[0]]}};
  return gb_op_run(S, GB_OP_NARROW, &a, &gin[0]);
}

gb_status gb_grad_expand(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return gb_fn_sum_to(S, g, IN(0), &gin[0]);
}

/* ---- elementwise, one input ---- */

gb_status gb_grad_affine(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return gb_fn_affine(S, g, n->args.f[0], 0.0, &gin[0]);
}

/* gin0 = g * f(node) where f is built by `make` */
static gb_status chain(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor *factor, gb_status st,
                       gb_tensor **gin) {
  if (st) return st;
  st = gb_fn_binary(S, GB_OP_MUL, g, factor, &gin[0]);
  REL(factor);
  return st;
}

gb_status gb_grad_rdiv_scalar(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_tensor *q, *f; /* d(c/x) = -(c/x)/x */
  gb_status st = gb_fn_binary(S, GB_OP_DIV, n->out, IN(0), &q);
  if (st) return st;
  st = gb_fn_affine(S, q, -1.0, 0.0, &f);
  REL(q);
  return chain(S, n, g, f, st, gin);
}

gb_status gb_grad_pow_scalar(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_tensor *p, *f; /* p * x^(p-1) */
  double e = n->args.f[0];
  gb_status st = gb_fn_scalar_op(S, GB_OP_POW_SCALAR, IN(0), e - 1.0, 0, &p);
  if (st) return st;
  st = gb_fn_affine(S, p, e, 0.0, &f);
  REL(p);
  return chain(S, n, g, f, st, gin);
}

gb_status gb_grad_rpow_scalar(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_tensor *f; /* c^x * ln c */
  gb_status st = gb_fn_affine(S, n->out, log(n->args.f[0]), 0.0, &f);
  return chain(S, n, g, f, st, gin);
}

gb_status gb_grad_exp(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return gb_fn_binary(S, GB_OP_MUL, g, n->out, &gin[0]);
}

gb_status gb_grad_log(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return gb_fn_binary(S, GB_OP_DIV, g, IN(0), &gin[0]);
}

gb_status gb_grad_sqrt(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_tensor *q;
  gb_status st = gb_fn_binary(S, GB_OP_DIV, g, n->out, &q);
  if (st) return st;
  st = gb_fn_affine(S, q, 0.5, 0.0, &gin[0]);
  REL(q);
  return st;
}

gb_status gb_grad_abs(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_tensor *s;
  gb_status st = gb_op1(S, GB_OP_SIGN, IN(0), &s);
  return chain(S, n, g, s, st, gin);
}

gb_status gb_grad_tanh(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return gb_fn_binary(S, GB_OP_TANH_BACKWARD, g, n->out, &gin[0]);
}

gb_status gb_grad_sigmoid(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return gb_fn_binary(S, GB_OP_SIGMOID_BACKWARD, g, n->out, &gin[0]);
}

gb_status gb_grad_relu(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return gb_fn_binary(S, GB_OP_RELU_BACKWARD, g, IN(0), &gin[0]);
}

gb_status gb_grad_leaky_relu(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_opargs a = {.in = {g, IN(0)}, .nin = 2, .f = {n->args.f[0]}};
  return gb_op_run(S, GB_OP_LEAKY_RELU_BACKWARD, &a, &gin[0]);
}

gb_status gb_grad_gelu(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return gb_fn_binary(S, GB_OP_GELU_BACKWARD, g, IN(0), &gin[0]);
}

/* x cmp y as 0/1 in x's float dtype (comparisons give float32; a float64 gradient is
 * multiplied by the mask in float64) */
static gb_status cmp_mask(gb_state *S, gb_opid cmp, gb_tensor *x, gb_tensor *y, gb_tensor **m) {
  gb_status st = gb_fn_binary(S, cmp, x, y, m);
  if (st || x->dtype != GB_F64) return st;
  gb_tensor *w;
  st = gb_fn_to_dtype(S, *m, GB_F64, &w);
  REL(*m);
  *m = st ? NULL : w;
  return st;
}

/* 1 where the bound did not clip: (x >= lo) * (x <= hi), NaN bounds ignored */
gb_status gb_grad_clamp(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_tensor *cur = g;
  gb_tensor_retain(cur);
  static const gb_opid cmp[2] = {GB_OP_GE, GB_OP_LE};
  for (int b = 0; b < 2; b++) {
    double bound = n->args.f[b];
    if (bound != bound) continue;
    gb_tensor *s, *m, *next;
    gb_status st = gb_fn_scalar_like(S, IN(0), bound, &s);
    if (st) {
      REL(cur);
      return st;
    }
    st = cmp_mask(S, cmp[b], IN(0), s, &m);
    REL(s);
    if (!st) {
      st = gb_fn_binary(S, GB_OP_MUL, cur, m, &next);
      REL(m);
    }
    REL(cur);
    if (st) return st;
    cur = next;
  }
  gin[0] = cur;
  return GB_OK;
}

/* ---- elementwise, two inputs ---- */

gb_status gb_grad_add(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_status st = GB_OK;
  for (int k = 0; k < 2 && !st; k++)
    if (IN(k)->requires_grad) st = gb_fn_sum_to(S, g, IN(k), &gin[k]);
  return st;
}

gb_status gb_grad_sub(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_status st = GB_OK;
  if (IN(0)->requires_grad) st = gb_fn_sum_to(S, g, IN(0), &gin[0]);
  if (!st && IN(1)->requires_grad) {
    gb_tensor *m;
    if ((st = gb_fn_affine(S, g, -1.0, 0.0, &m))) return st;
    st = give(S, n, 1, m, gin);
  }
  return st;
}

gb_status gb_grad_mul(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_status st = GB_OK;
  if (IN(0)->requires_grad) st = mul_into(S, n, 0, g, IN(1), gin);
  if (!st && IN(1)->requires_grad) st = mul_into(S, n, 1, g, IN(0), gin);
  return st;
}

gb_status gb_grad_div(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_status st = GB_OK;
  if (IN(0)->requires_grad) {
    gb_tensor *t;
    if ((st = gb_fn_binary(S, GB_OP_DIV, g, IN(1), &t))) return st;
    if ((st = give(S, n, 0, t, gin))) return st;
  }
  if (IN(1)->requires_grad) { /* -g * out / y */
    gb_tensor *q, *t;
    if ((st = gb_fn_binary(S, GB_OP_DIV, n->out, IN(1), &q))) return st;
    st = gb_fn_binary(S, GB_OP_MUL, g, q, &t);
    REL(q);
    if (st) return st;
    gb_tensor *neg;
    st = gb_fn_affine(S, t, -1.0, 0.0, &neg);
    REL(t);
    if (!st) st = give(S, n, 1, neg, gin);
  }
  return st;
}

gb_status gb_grad_pow(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_status st = GB_OK;
  if (IN(0)->requires_grad) { /* g * y * x^(y-1) = g * y * out / x */
    gb_tensor *q, *f;
    if ((st = gb_fn_binary(S, GB_OP_DIV, n->out, IN(0), &q))) return st;
    st = gb_fn_binary(S, GB_OP_MUL, q, IN(1), &f);
    REL(q);
    if (st) return st;
    st = mul_into(S, n, 0, g, f, gin);
    REL(f);
    if (st) return st;
  }
  if (IN(1)->requires_grad) { /* g * out * ln x */
    gb_tensor *l, *f;
    if ((st = gb_op1(S, GB_OP_LOG, IN(0), &l))) return st;
    st = gb_fn_binary(S, GB_OP_MUL, n->out, l, &f);
    REL(l);
    if (st) return st;
    st = mul_into(S, n, 1, g, f, gin);
    REL(f);
  }
  return st;
}

/* maximum/minimum: the gradient goes to the input that was chosen (x on ties) */
static gb_status grad_pick(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin, gb_opid cmp) {
  gb_tensor *m, *rest;
  gb_status st = cmp_mask(S, cmp, IN(0), IN(1), &m);
  if (st) return st;
  if (IN(0)->requires_grad && (st = mul_into(S, n, 0, g, m, gin))) goto done;
  if (IN(1)->requires_grad) {
    if ((st = gb_fn_affine(S, m, -1.0, 1.0, &rest))) goto done;
    st = mul_into(S, n, 1, g, rest, gin);
    REL(rest);
  }
done:
  REL(m);
  return st;
}

gb_status gb_grad_maximum(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return grad_pick(S, n, g, gin, GB_OP_GE);
}

gb_status gb_grad_minimum(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return grad_pick(S, n, g, gin, GB_OP_LE);
}

gb_status gb_grad_where(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_tensor *z;
  gb_status st = gb_fn_scalar_like(S, g, 0.0, &z);
  if (st) return st;
  for (int k = 1; k <= 2 && !st; k++) {
    if (!IN(k)->requires_grad) continue;
    gb_opargs a = {.in = {IN(0), k == 1 ? g : z, k == 1 ? z : g}, .nin = 3};
    gb_tensor *t;
    if (!(st = gb_op_run(S, GB_OP_WHERE, &a, &t))) st = give(S, n, k, t, gin);
  }
  REL(z);
  return st;
}

/* ---- reductions ---- */

/* g reshaped to the keepdim shape of the reduction, then expanded to the input's shape */
static gb_status spread(gb_state *S, gb_node *n, gb_tensor *g, uint64_t mask, gb_tensor **out) {
  const gb_tensor *x = IN(0);
  int64_t keep[GB_MAXDIM];
  if (mask == 0) mask = ~(uint64_t)0;
  for (int d = 0; d < x->ndim; d++)
    keep[d] = (mask >> d & 1) ? 1 : x->shape[d];
  gb_tensor *k;
  gb_status st = gb_fn_reshape(S, g, x->ndim, keep, &k);
  if (st) return st;
  st = gb_fn_expand(S, k, x->ndim, x->shape, out);
  REL(k);
  return st;
}

static int64_t reduced_count(const gb_tensor *x, uint64_t mask) {
  int64_t c = 1;
  for (int d = 0; d < x->ndim; d++)
    if (mask == 0 || (mask >> d & 1)) c *= x->shape[d];
  return c;
}

gb_status gb_grad_sum(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return spread(S, n, g, (uint64_t)n->args.i[0], &gin[0]);
}

gb_status gb_grad_mean(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_tensor *s;
  uint64_t mask = (uint64_t)n->args.i[0];
  gb_status st = gb_fn_affine(S, g, 1.0 / (double)reduced_count(IN(0), mask), 0.0, &s);
  if (st) return st;
  st = spread(S, n, s, mask, &gin[0]);
  REL(s);
  return st;
}

gb_status gb_grad_var(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  uint64_t mask = (uint64_t)n->args.i[0];
  double cnt = (double)reduced_count(IN(0), mask) - (double)n->args.i[2];
  gb_tensor *mu, *dev, *gs, *gx;
  gb_status st = gb_fn_reduce(S, GB_OP_MEAN, IN(0), mask, true, &mu);
  if (st) return st;
  st = gb_fn_binary(S, GB_OP_SUB, IN(0), mu, &dev);
  REL(mu);
  if (st) return st;
  if ((st = spread(S, n, g, mask, &gs))) goto done;
  st = gb_fn_binary(S, GB_OP_MUL, gs, dev, &gx);
  REL(gs);
  if (!st) {
    st = gb_fn_affine(S, gx, 2.0 / cnt, 0.0, &gin[0]);
    REL(gx);
  }
done:
  REL(dev);
  return st;
}

/* amax/amin: split g evenly among the elements equal to the extreme */
gb_status gb_grad_amax(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  uint64_t mask = (uint64_t)n->args.i[0];
  gb_tensor *ext, *eq, *cnt, *share, *spread_g;
  gb_status st = spread(S, n, n->out, mask, &ext);
  if (st) return st;
  st = cmp_mask(S, GB_OP_EQ, IN(0), ext, &eq);
  REL(ext);
  if (st) return st;
  if ((st = gb_fn_reduce(S, GB_OP_SUM, eq, mask, n->args.i[1] != 0, &cnt))) goto done;
  st = gb_fn_binary(S, GB_OP_DIV, g, cnt, &share);
  REL(cnt);
  if (st) goto done;
  st = spread(S, n, share, mask, &spread_g);
  REL(share);
  if (!st) {
    st = gb_fn_binary(S, GB_OP_MUL, spread_g, eq, &gin[0]);
    REL(spread_g);
  }
done:
  REL(eq);
  return st;
}

/* max_dim/min_dim: g goes to the arg position, recomputed from the input */
gb_status gb_grad_max_dim(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  int64_t dim = n->args.i[0];
  gb_opargs aa = {.in = {IN(0)}, .nin = 1, .i = {dim, 1}};
  gb_tensor *idx, *z, *gk;
  gb_opid arg = n->op == GB_OP_MAX_DIM ? GB_OP_ARGMAX : GB_OP_ARGMIN;
  gb_status st = gb_op_run(S, arg, &aa, &idx);
  if (st) return st;
  int64_t keep[GB_MAXDIM];
  memcpy(keep, IN(0)->shape, sizeof keep);
  keep[dim] = 1;
  if ((st = gb_fn_reshape(S, g, IN(0)->ndim, keep, &gk))) goto done;
  if ((st = gb_fn_full(S, IN(0)->ndim, IN(0)->shape, g->dtype, g->device, 0.0, &z))) {
    REL(gk);
    goto done;
  }
  gb_opargs sa = {.in = {z, idx, gk}, .nin = 3, .i = {dim}};
  st = gb_op_run(S, GB_OP_SCATTER_ADD, &sa, &gin[0]);
  REL(z);
  REL(gk);
done:
  REL(idx);
  return st;
}

/* ---- softmax family and losses ---- */

static gb_status with_dim(gb_state *S, gb_node *n, gb_opid id, gb_tensor *g, gb_tensor **gin) {
  gb_opargs a = {.in = {g, n->out}, .nin = 2, .i = {n->args.i[0]}};
  return gb_op_run(S, id, &a, &gin[0]);
}

gb_status gb_grad_softmax(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return with_dim(S, n, GB_OP_SOFTMAX_BACKWARD, g, gin);
}

gb_status gb_grad_log_softmax(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return with_dim(S, n, GB_OP_LOG_SOFTMAX_BACKWARD, g, gin);
}

static gb_status class_loss(gb_state *S, gb_node *n, gb_opid id, gb_tensor *g, gb_tensor **gin) {
  gb_opargs a = {.in = {IN(0), IN(1), g}, .nin = 3};
  return gb_op_run(S, id, &a, &gin[0]);
}

gb_status gb_grad_cross_entropy(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return class_loss(S, n, GB_OP_CROSS_ENTROPY_BACKWARD, g, gin);
}

gb_status gb_grad_nll_loss(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return class_loss(S, n, GB_OP_NLL_LOSS_BACKWARD, g, gin);
}

/* ---- matrix products ---- */

/* x @ y^T over the last two dims (batched when 3-D) */
static gb_status matmul_t(gb_state *S, gb_tensor *x, gb_tensor *y, bool tx, bool ty,
                          gb_tensor **out) {
  gb_tensor *xt = x, *yt = y;
  gb_status st = GB_OK;
  if (tx) st = gb_fn_transpose(S, x, x->ndim - 2, x->ndim - 1, &xt);
  if (!st && ty) st = gb_fn_transpose(S, y, y->ndim - 2, y->ndim - 1, &yt);
  if (!st) st = gb_fn_binary(S, GB_OP_MATMUL, xt, yt, out);
  if (tx && xt != x) REL(xt);
  if (ty && yt != y) REL(yt);
  return st;
}

/* op(x) @ op(y) laid out like `like`: when like is a transposed (column-major) 2-D view, as
 * a weight used through w:t() is, compute (op(y)^T @ op(x)^T) and return its transpose, so
 * the gradient reaching the weight is contiguous and needs no copy. */
static gb_status matmul_like(gb_state *S, gb_tensor *x, gb_tensor *y, bool tx, bool ty,
                             const gb_tensor *like, gb_tensor **out) {
  bool column_major = like->ndim == 2 && like->shape[0] > 1 && like->shape[1] > 1 &&
                      like->stride[0] == 1 && like->stride[1] == like->shape[0];
  if (!column_major || x->ndim != 2 || y->ndim != 2) return matmul_t(S, x, y, tx, ty, out);
  gb_tensor *r;
  gb_status st = matmul_t(S, y, x, !ty, !tx, &r);
  if (st) return st;
  st = gb_fn_transpose(S, r, 0, 1, out);
  REL(r);
  return st;
}

/* (...,M,K) as (prod(...)*M,K) */
static gb_status flatten_batch(gb_state *S, gb_tensor *t, gb_tensor **out) {
  int64_t shape[2] = {1, t->shape[t->ndim - 1]};
  for (int d = 0; d < t->ndim - 1; d++)
    shape[0] *= t->shape[d];
  return gb_fn_reshape(S, t, 2, shape, out);
}

gb_status gb_grad_matmul(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_tensor *x = IN(0), *y = IN(1);
  gb_status st = GB_OK;
  if (x->requires_grad && (st = matmul_like(S, g, y, false, true, x, &gin[0]))) return st;
  if (!y->requires_grad) return GB_OK;
  if (x->ndim >= 3 && y->ndim == 2) { /* dY = sum_b X_b^T G_b = X'^T G' */
    gb_tensor *xf, *gf;
    if ((st = flatten_batch(S, x, &xf))) return st;
    if (!(st = flatten_batch(S, g, &gf))) {
      st = matmul_t(S, xf, gf, true, false, &gin[1]);
      REL(gf);
    }
    REL(xf);
    return st;
  }
  return matmul_like(S, x, g, true, false, y, &gin[1]);
}

gb_status gb_grad_addmm(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  double beta = n->args.f[0], alpha = n->args.f[1];
  gb_status st = GB_OK;
  gb_tensor *ga = g;
  if (alpha != 1.0 && (st = gb_fn_affine(S, g, alpha, 0.0, &ga))) return st;
  if (IN(0)->requires_grad) {
    gb_tensor *gb = g;
    if (beta != 1.0) st = gb_fn_affine(S, g, beta, 0.0, &gb);
    if (!st) st = gb_fn_sum_to(S, gb, IN(0), &gin[0]);
    if (gb != g) REL(gb);
  }
  if (!st && IN(1)->requires_grad) st = matmul_like(S, ga, IN(2), false, true, IN(1), &gin[1]);
  if (!st && IN(2)->requires_grad) st = matmul_like(S, IN(1), ga, true, false, IN(2), &gin[2]);
  if (ga != g) REL(ga);
  return st;
}

/* ---- indexing ---- */

static gb_status into_zeros(gb_state *S, gb_node *n, gb_opid id, gb_tensor *g, gb_tensor **gin) {
  gb_tensor *z;
  gb_status st = gb_fn_full(S, IN(0)->ndim, IN(0)->shape, g->dtype, g->device, 0.0, &z);
  if (st) return st;
  gb_opargs a = {.in = {z, IN(1), g}, .nin = 3, .i = {n->args.i[0]}};
  st = gb_op_run(S, id, &a, &gin[0]);
  REL(z);
  return st;
}

gb_status gb_grad_index_select(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  if (!gb_dtype_is_float(IN(0)->dtype)) return GB_OK;
  return into_zeros(S, n, GB_OP_INDEX_ADD, g, gin);
}

gb_status gb_grad_gather(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  if (!gb_dtype_is_float(IN(0)->dtype)) return GB_OK;
  return into_zeros(S, n, GB_OP_SCATTER_ADD, g, gin);
}

/* out = base + scatter of src: d/d(base) = g; d/d(src) = g read back at the places src went
 * (index_select for index_add, gather for scatter_add), with the same indices and dim. */
static gb_status scatter_back(gb_state *S, gb_node *n, gb_opid read, gb_tensor *g,
                              gb_tensor **gin) {
  if (IN(0)->requires_grad) {
    gb_tensor_retain(g);
    gin[0] = g;
  }
  if (!IN(2)->requires_grad) return GB_OK;
  gb_opargs a = {.in = {g, IN(1)}, .nin = 2, .i = {n->args.i[0]}};
  return gb_op_run(S, read, &a, &gin[2]);
}

gb_status gb_grad_index_add(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return scatter_back(S, n, GB_OP_INDEX_SELECT, g, gin);
}

gb_status gb_grad_scatter_add(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return scatter_back(S, n, GB_OP_GATHER, g, gin);
}

/* ---- convolution and pooling ---- */

gb_status gb_grad_im2col(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_opargs a = n->args; /* window params in i0..i5 */
  a.in[0] = g;
  a.i[6] = IN(0)->shape[2];
  a.i[7] = IN(0)->shape[3];
  return gb_op_run(S, GB_OP_COL2IM, &a, &gin[0]);
}

gb_status gb_grad_col2im(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_opargs a = n->args;
  a.in[0] = g;
  return gb_op_run(S, GB_OP_IM2COL, &a, &gin[0]);
}

/* the gradient goes to the maxima the forward found (its indices, saved on the node) */
gb_status gb_grad_max_pool2d(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  if (!n->out1) return gb_errorf(S, GB_EGRAD, "max_pool2d: backward without the saved indices");
  gb_opargs a = n->args;
  a.in[0] = g;
  a.in[1] = n->out1;
  a.nin = 2;
  a.i[6] = IN(0)->shape[2];
  a.i[7] = IN(0)->shape[3];
  return gb_op_run(S, GB_OP_MAX_POOL2D_BACKWARD, &a, &gin[0]);
}

/* ==== issue 15's rows (branch ops) ==== */

gb_status gb_grad_sin(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_tensor *c;
  gb_status st = gb_op1(S, GB_OP_COS, IN(0), &c);
  return chain(S, n, g, c, st, gin);
}

gb_status gb_grad_cos(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_tensor *s, *f; /* -sin x */
  gb_status st = gb_op1(S, GB_OP_SIN, IN(0), &s);
  if (st) return st;
  st = gb_fn_affine(S, s, -1.0, 0.0, &f);
  REL(s);
  return chain(S, n, g, f, st, gin);
}

gb_status gb_grad_erf(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_tensor *sq, *e, *f; /* 2/sqrt(pi) exp(-x^2) */
  gb_status st = gb_fn_binary(S, GB_OP_MUL, IN(0), IN(0), &sq);
  if (st) return st;
  st = gb_fn_affine(S, sq, -1.0, 0.0, &e);
  REL(sq);
  if (st) return st;
  st = gb_op1(S, GB_OP_EXP, e, &f);
  REL(e);
  if (st) return st;
  st = gb_fn_affine(S, f, 1.12837916709551257, 0.0, &e);
  REL(f);
  return chain(S, n, g, e, st, gin);
}

gb_status gb_grad_log1p(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_tensor *d; /* g / (1 + x) */
  gb_status st = gb_fn_affine(S, IN(0), 1.0, 1.0, &d);
  if (st) return st;
  st = gb_fn_binary(S, GB_OP_DIV, g, d, &gin[0]);
  REL(d);
  return st;
}

/* the row's derivative helper on (g, x) with the forward row's scalars */
static gb_status helper(gb_state *S, gb_node *n, gb_opid id, gb_tensor *g, gb_tensor **gin) {
  gb_opargs a = {.in = {g, IN(0)}, .nin = 2, .f = {n->args.f[0], n->args.f[1]}};
  return gb_op_run(S, id, &a, &gin[0]);
}

gb_status gb_grad_silu(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return helper(S, n, GB_OP_SILU_BACKWARD, g, gin);
}

gb_status gb_grad_elu(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return helper(S, n, GB_OP_ELU_BACKWARD, g, gin);
}

gb_status gb_grad_softplus(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return helper(S, n, GB_OP_SOFTPLUS_BACKWARD, g, gin);
}

/* the gradient passes where the mask is 0; the mask gets none */
gb_status gb_grad_masked_fill(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  if (!IN(0)->requires_grad) return GB_OK;
  gb_tensor *z, *t, *m = IN(1);
  gb_status st = gb_fn_scalar_like(S, g, 0.0, &z);
  if (st) return st;
  if (m->dtype != GB_F32 && (st = gb_fn_to_dtype(S, IN(1), GB_F32, &m))) { /* where's mask */
    REL(z);
    return st;
  }
  gb_opargs a = {.in = {m, z, g}, .nin = 3};
  st = gb_op_run(S, GB_OP_WHERE, &a, &t);
  REL(z);
  if (m != IN(1)) REL(m);
  return st ? st : give(S, n, 0, t, gin);
}

/* g * exp(x - logsumexp(x)), the softmax over the reduced dims */
gb_status gb_grad_logsumexp(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  uint64_t mask = (uint64_t)n->args.i[0];
  gb_tensor *lse, *d, *p, *gs;
  gb_status st = spread(S, n, n->out, mask, &lse);
  if (st) return st;
  st = gb_fn_binary(S, GB_OP_SUB, IN(0), lse, &d);
  REL(lse);
  if (st) return st;
  st = gb_op1(S, GB_OP_EXP, d, &p);
  REL(d);
  if (st) return st;
  if ((st = spread(S, n, g, mask, &gs))) {
    REL(p);
    return st;
  }
  st = gb_fn_binary(S, GB_OP_MUL, gs, p, &gin[0]);
  REL(gs);
  REL(p);
  return st;
}

/* the adjoint of a running sum is the running sum from the other end */
gb_status gb_grad_cumsum(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_opargs a = {.in = {g}, .nin = 1, .i = {n->args.i[0], !n->args.i[1]}};
  return gb_op_run(S, GB_OP_CUMSUM, &a, &gin[0]);
}

gb_status gb_grad_slice(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return scatter_view(S, n, GB_OP_SLICE, g, gin);
}

/* Each dim d repeated r times: g (contiguous) seen as (P, r, size_d * Q) and summed over r,
 * one dim at a time, so no more than three dims are ever needed. */
gb_status gb_grad_repeat(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  const gb_tensor *x = IN(0);
  if (!gb_dtype_is_float(x->dtype)) return GB_OK;
  int nd = x->ndim;
  int64_t shape[GB_MAXDIM];
  memcpy(shape, g->shape, sizeof shape);
  gb_tensor *cur = g;
  gb_tensor_retain(cur);
  gb_status st = GB_OK;
  for (int d = 0; d < nd && !st; d++) {
    int64_t r = n->args.i[1 + d], p = 1, q = x->shape[d];
    if (r == 1) continue;
    for (int k = 0; k < d; k++)
      p *= shape[k];
    for (int k = d + 1; k < nd; k++)
      q *= shape[k];
    gb_tensor *v, *s;
    int64_t three[3] = {p, r, q};
    if ((st = gb_fn_reshape(S, cur, 3, three, &v))) break;
    st = gb_fn_reduce(S, GB_OP_SUM, v, 2, false, &s);
    REL(v);
    if (st) break;
    shape[d] = x->shape[d];
    st = gb_fn_reshape(S, s, nd, shape, &v);
    REL(s);
    if (st) break;
    REL(cur);
    cur = v;
  }
  if (st) {
    REL(cur);
    return st;
  }
  gin[0] = cur;
  return GB_OK;
}

/* sort / topk: the indices are recomputed from the input (the tape keeps output 0 only) and
 * g is scattered back to where each value came from */
gb_status gb_grad_sort(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_tensor *r[2] = {NULL, NULL}, *z;
  gb_status st = gb_op_run(S, n->op, &n->args, r);
  if (st) return st;
  gb_tensor_release(S, r[0]);
  if ((st = gb_fn_full(S, IN(0)->ndim, IN(0)->shape, g->dtype, g->device, 0.0, &z))) {
    REL(r[1]);
    return st;
  }
  gb_opargs a = {.in = {z, r[1], g}, .nin = 3, .i = {n->args.i[0]}};
  st = gb_op_run(S, GB_OP_SCATTER_ADD, &a, &gin[0]);
  REL(z);
  REL(r[1]);
  return st;
}
