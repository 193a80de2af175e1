/* gb_grad_nn.c — backward rules of the nn-layer rows (gb_ops.def, "nn layers" block): each
 * calls its backward row (written for both backends), so the rule itself is device-free. */
#include "gb_fn.h"
#include "gb_kernels.h"
#include "gb_state.h"

#define IN(k) (n->args.in[k])

/* x: d/dx via conv2d_backward_input; w: conv2d_backward_weight; bias: g summed over N,H,W */
gb_status gb_grad_conv2d(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_status st = GB_OK;
  gb_opargs a = n->args;
  a.nin = 2;
  a.in[0] = g;
  if (IN(0)->requires_grad) {
    a.in[1] = IN(1);
    a.i[6] = IN(0)->shape[2];
    a.i[7] = IN(0)->shape[3];
    if ((st = gb_op_run(S, GB_OP_CONV2D_BACKWARD_INPUT, &a, &gin[0]))) return st;
  }
  if (IN(1)->requires_grad) { /* with the bias gradient when it is wanted too (i8) */
    gb_tensor *r[2] = {NULL, NULL};
    a.in[1] = IN(0);
    a.i[8] = IN(2)->requires_grad;
    if ((st = gb_op_run(S, GB_OP_CONV2D_BACKWARD_WEIGHT, &a, r))) return st;
    gin[1] = r[0];
    if (r[1]) {
      gin[2] = r[1];
      return GB_OK;
    }
  }
  if (IN(2)->requires_grad)
    st = gb_fn_reduce(S, GB_OP_SUM, g, (1u << 0) | (1u << 2) | (1u << 3), false, &gin[2]);
  return st;
}

static gb_status pool_backward(gb_state *S, gb_node *n, gb_opid id, gb_tensor *g, gb_tensor **gin) {
  gb_opargs a = n->args;
  a.in[0] = g;
  a.in[1] = IN(0);
  a.nin = 2;
  return gb_op_run(S, id, &a, &gin[0]);
}

gb_status gb_grad_avg_pool2d(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return pool_backward(S, n, GB_OP_AVG_POOL2D_BACKWARD, g, gin);
}

gb_status gb_grad_adaptive_avg_pool2d(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  return pool_backward(S, n, GB_OP_ADAPTIVE_AVG_POOL2D_BACKWARD, g, gin);
}

/* one row (0: dw, 1: db) of the backward row's (2,C) output, as a new reference */
static gb_status stats_row(gb_state *S, gb_tensor *wb, int64_t row, gb_tensor **out) {
  gb_opargs a = {.in = {wb}, .nin = 1, .i = {0, row}};
  return gb_op_run(S, GB_OP_SELECT, &a, out);
}

gb_status gb_grad_batch_norm(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  /* with the forward's statistics (saved on the node) the backward need not recompute them */
  gb_opargs a = {.in = {g, IN(0), IN(1), n->out1}, .nin = n->out1 ? 4 : 3, .f = {n->args.f[0]}};
  gb_tensor *out[2] = {NULL, NULL};
  gb_status st = gb_op_run(S, GB_OP_BATCH_NORM_BACKWARD, &a, out);
  if (st) return st;
  if (IN(0)->requires_grad)
    gin[0] = out[0];
  else
    gb_tensor_release(S, out[0]);
  if (IN(1)->requires_grad) st = stats_row(S, out[1], 0, &gin[1]);
  if (!st && IN(2)->requires_grad) st = stats_row(S, out[1], 1, &gin[2]);
  gb_tensor_release(S, out[1]);
  return st;
}
