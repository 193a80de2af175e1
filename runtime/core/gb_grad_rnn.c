/* gb_grad_rnn.c — backward rules of lstm_seq and gru_seq: the reverse walk over the steps is
 * the *_seq_backward row (one kernel per device); what is left — the recurrent weight's
 * gradient as one product over all steps, b_hh's as one sum, h0/c0 as slices — is built
 * here from ordinary ops, so it runs on whatever device holds the tensors. */
#include "gb_fn.h"
#include "gb_kernels.h"
#include "gb_state.h"

#define IN(k) (n->args.in[k])
#define REL(t) gb_tensor_release(S, (t))

static gb_status narrow(gb_state *S, gb_tensor *x, int dim, int64_t start, int64_t len,
                        gb_tensor **out) {
  gb_opargs a = {.in = {x}, .nin = 1, .i = {dim, start, len}};
  return gb_op_run(S, GB_OP_NARROW, &a, out);
}

/* A contiguous copy of columns [start, start+len) of x (..., C). */
static gb_status columns(gb_state *S, gb_tensor *x, int64_t start, int64_t len, gb_tensor **out) {
  gb_tensor *v;
  gb_status st = narrow(S, x, x->ndim - 1, start, len, &v);
  if (st) return st;
  st = gb_fn_contiguous(S, v, out);
  REL(v);
  return st;
}

/* (T*B, C) from a contiguous (T, B, C) */
static gb_status rows_of(gb_state *S, gb_tensor *x, gb_tensor **out) {
  int64_t shape[2] = {x->shape[0] * x->shape[1], x->shape[2]};
  return gb_fn_reshape(S, x, 2, shape, out);
}

/* d w_hh = sum over steps and batch of dgates^T h_prev: dgates (T,B,G) any layout, the record
 * y (T+1,B,S*H) whose steps 0..T-1 hold h_prev in their first H columns. */
static gb_status weight_grad(gb_state *S, gb_tensor *dgates, gb_tensor *y, int64_t H,
                             gb_tensor **out) {
  gb_tensor *steps, *hprev = NULL, *hp2 = NULL, *dg = NULL, *dg2 = NULL, *dgt = NULL;
  gb_status st = narrow(S, y, 0, 0, y->shape[0] - 1, &steps);
  if (st) return st;
  if (!(st = columns(S, steps, 0, H, &hprev)) && !(st = rows_of(S, hprev, &hp2)) &&
      !(st = gb_fn_contiguous(S, dgates, &dg)) && !(st = rows_of(S, dg, &dg2)) &&
      !(st = gb_fn_transpose(S, dg2, 0, 1, &dgt)))
    st = gb_fn_binary(S, GB_OP_MATMUL, dgt, hp2, out); /* (G,T*B) @ (T*B,H) */
  REL(steps);
  REL(hprev);
  REL(hp2);
  REL(dg);
  REL(dg2);
  REL(dgt);
  return st;
}

gb_status gb_grad_lstm_seq(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_tensor *y = n->out, *r[2] = {NULL, NULL};
  int64_t H = IN(1)->shape[1];
  gb_opargs a = {.in = {y, IN(1), g}, .nin = 3};
  gb_status st = gb_op_run(S, GB_OP_LSTM_SEQ_BACKWARD, &a, r);
  if (st) return st;
  if (IN(0)->requires_grad) {
    gb_tensor_retain(r[0]);
    gin[0] = r[0];
  }
  if (!st && IN(1)->requires_grad) st = weight_grad(S, r[0], y, H, &gin[1]);
  if (!st && IN(2)->requires_grad) st = columns(S, r[1], 0, H, &gin[2]);
  if (!st && IN(3)->requires_grad) st = columns(S, r[1], H, H, &gin[3]);
  REL(r[0]);
  REL(r[1]);
  return st;
}

gb_status gb_grad_gru_seq(gb_state *S, gb_node *n, gb_tensor *g, gb_tensor **gin) {
  gb_tensor *y = n->out, *r[2] = {NULL, NULL}, *dgh = NULL;
  int64_t H = IN(1)->shape[1];
  gb_opargs a = {.in = {y, IN(1), g}, .nin = 3};
  gb_status st = gb_op_run(S, GB_OP_GRU_SEQ_BACKWARD, &a, r);
  if (st) return st;
  if (IN(0)->requires_grad) st = columns(S, r[0], 0, 3 * H, &gin[0]);
  if (!st && (IN(1)->requires_grad || IN(2)->requires_grad))
    st = narrow(S, r[0], 2, 3 * H, 3 * H, &dgh);
  if (!st && IN(1)->requires_grad) st = weight_grad(S, dgh, y, H, &gin[1]);
  if (!st && IN(2)->requires_grad) st = gb_fn_reduce(S, GB_OP_SUM, dgh, 3, false, &gin[2]);
  if (!st && IN(3)->requires_grad) {
    gb_tensor_retain(r[1]);
    gin[3] = r[1];
  }
  REL(dgh);
  REL(r[0]);
  REL(r[1]);
  return st;
}
