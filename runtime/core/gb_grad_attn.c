/* gb_grad_attn.c — backward rules of the Transformer's fused rows (gb_ops.def, branch tfm
 * block). Each calls its backward row or an existing one, so the rules are device-free. */
#include "gb_fn.h"
#include "gb_kernels.h"
#include "gb_state.h"

#define IN(k) (n->args.in[k])

/* row `row` (0: dw, 1: db) of a (2, n) result, viewed in the shape of `like` */
static gb_status param_grad(gb_state *S, gb_tensor *wb, int64_t row, const gb_tensor *like,
                            gb_tensor **out) {
  gb_opargs a = {.in = {wb}, .nin = 1, .i = {0, row}};
  gb_tensor *r;
  gb_status st = gb_op_run(S, GB_OP_SELECT, &a, &r);
  if (st) return st;
  st = gb_fn_reshape(S, r, like->ndim, like->shape, out);
  gb_tensor_release(S, r);
  return st;
}

gb_status gb_grad_layer_norm(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  bool affine = n->args.nin == 3;
  gb_opargs a = {.in = {g, IN(0), affine ? IN(1) : NULL},
                 .nin = affine ? 3 : 2,
                 .f = {n->args.f[0]},
                 .i = {n->args.i[0]}};
  gb_tensor *out[2] = {NULL, NULL};
  gb_status st = gb_op_run(S, GB_OP_LAYER_NORM_BACKWARD, &a, out);
  if (st) return st;
  if (IN(0)->requires_grad)
    gin[0] = out[0];
  else
    gb_tensor_release(S, out[0]);
  if (affine && IN(1)->requires_grad) st = param_grad(S, out[1], 0, IN(1), &gin[1]);
  if (!st && affine && IN(2)->requires_grad) st = param_grad(S, out[1], 1, IN(2), &gin[2]);
  gb_tensor_release(S, out[1]);
  return st;
}

/* The masks only remove entries, where the probabilities are 0: softmax's own backward along
 * the last dim. An additive float mask that requires grad gets the scores' gradient summed
 * to its shape (as d(x + mask)/d(mask)). */
gb_status gb_grad_masked_softmax(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_opargs a = {.in = {g, n->out}, .nin = 2, .i = {n->out->ndim - 1}};
  gb_tensor *gx;
  gb_status st = gb_op_run(S, GB_OP_SOFTMAX_BACKWARD, &a, &gx);
  if (st) return st;
  if (n->args.nin > 1 && IN(1)->requires_grad) st = gb_fn_sum_to(S, gx, IN(1), &gin[1]);
  if (!st && IN(0)->requires_grad) {
    gin[0] = gx;
    return GB_OK;
  }
  gb_tensor_release(S, gx);
  return st;
}

/* columns [from, from + len) of the (B,H,S,E+Ev) key/value gradient */
static gb_status kv_part(gb_state *S, gb_tensor *kv, int64_t from, int64_t len, gb_tensor **out) {
  gb_opargs a = {.in = {kv}, .nin = 1, .i = {3, from, len}};
  return gb_op_run(S, GB_OP_NARROW, &a, out);
}

/* The mask (input 4, when given) gets no gradient: the shape rule refuses one that requires
 * grad while recording. */
gb_status gb_grad_sdpa(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_opargs a = n->args;
  a.in[0] = g, a.in[1] = IN(0), a.in[2] = IN(1), a.in[3] = IN(2);
  if (n->args.nin > 3) a.in[4] = IN(3);
  a.nin = n->args.nin + 1;
  gb_tensor *out[2] = {NULL, NULL};
  gb_status st = gb_op_run(S, GB_OP_SDPA_BACKWARD, &a, out);
  if (st) return st;
  if (IN(0)->requires_grad)
    gin[0] = out[0];
  else
    gb_tensor_release(S, out[0]);
  int64_t e = IN(0)->shape[3], ev = IN(2)->shape[3];
  if (IN(1)->requires_grad) st = kv_part(S, out[1], 0, e, &gin[1]);
  if (!st && IN(2)->requires_grad) st = kv_part(S, out[1], e, ev, &gin[2]);
  gb_tensor_release(S, out[1]);
  return st;
}
