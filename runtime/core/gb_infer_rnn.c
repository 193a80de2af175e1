/* gb_infer_rnn.c — shape rules of the recurrent rows (lstm_seq, gru_seq and their backward
 * rows): check the operands' dtypes and shapes against (T,B,G*H) input projections and a
 * (G*H,H) recurrent weight, and size the (T+1,B,S*H) record (gb_rnn_math.h has its layout). */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "gb_kernels.h"
#include "gb_state.h"

#define NAME (gb_ops[op].name)

static void set_out(gb_outspec *o, int k, int ndim, const int64_t *shape) {
  o->ndim[k] = ndim;
  memcpy(o->shape[k], shape, sizeof(int64_t) * (size_t)ndim);
  o->dtype[k] = GB_F32;
}

static bool has_shape(const gb_tensor *t, int nd, int64_t d0, int64_t d1, int64_t d2) {
  if (t->ndim != nd) return false;
  int64_t want[3] = {d0, d1, d2};
  for (int d = 0; d < nd; d++)
    if (t->shape[d] != want[d]) return false;
  return true;
}

static gb_status all_float(gb_state *S, gb_opid op, const gb_opargs *a) {
  for (int k = 0; k < a->nin; k++)
    if (a->in[k]->dtype == GB_F64)
      return gb_f64_refused(S, NAME, a->in[k]->device);
    else if (a->in[k]->dtype != GB_F32)
      return gb_errorf(S, GB_EDTYPE, "%s: argument %d has dtype %s, expected float32", NAME, k + 1,
                       gb_dtype_name(a->in[k]->dtype));
  return GB_OK;
}

/* The operands' shapes, for messages: "(5,3,8), (8,2), (3,2), (3,2)". */
static const char *shapes(const gb_opargs *a, char *buf, size_t cap) {
  char s[GB_SHAPE_STRLEN];
  size_t at = 0;
  buf[0] = 0;
  for (int k = 0; k < a->nin && at < cap; k++)
    at += (size_t)snprintf(buf + at, cap - at, "%s%s", k ? ", " : "", gb_shape_str(a->in[k], s));
  return buf;
}

/* H from w_hh (G*H, H), T and B from xg (T, B, G*H); false unless both fit. */
static bool dims_of(const gb_tensor *xg, const gb_tensor *w, int gates, int64_t *T, int64_t *B,
                    int64_t *H) {
  if (w->ndim != 2 || w->shape[1] < 1 || w->shape[0] != gates * w->shape[1] || xg->ndim != 3)
    return false;
  *H = w->shape[1], *T = xg->shape[0], *B = xg->shape[1];
  /* the kernels hand B and 6H to sgemm as ints */
  return xg->shape[2] == gates * *H && *H <= INT_MAX / 6 && *B <= INT_MAX;
}

gb_status gb_infer_lstm_seq(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  gb_status st = all_float(S, op, a);
  if (st) return st;
  int64_t T = 0, B = 0, H = 0;
  if (!dims_of(a->in[0], a->in[1], 4, &T, &B, &H) || !has_shape(a->in[2], 2, B, H, 0) ||
      !has_shape(a->in[3], 2, B, H, 0)) {
    char buf[4 * GB_SHAPE_STRLEN + 8];
    return gb_errorf(S, GB_ESHAPE,
                     "%s: %s: expected input projections (T,B,4H), w_hh (4H,H), h0 and c0 (B,H)",
                     NAME, shapes(a, buf, sizeof buf));
  }
  set_out(o, 0, 3, (int64_t[]){T + 1, B, 6 * H});
  return GB_OK;
}

gb_status gb_infer_gru_seq(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  gb_status st = all_float(S, op, a);
  if (st) return st;
  int64_t T = 0, B = 0, H = 0;
  if (!dims_of(a->in[0], a->in[1], 3, &T, &B, &H) || !has_shape(a->in[2], 1, 3 * H, 0, 0) ||
      !has_shape(a->in[3], 2, B, H, 0)) {
    char buf[4 * GB_SHAPE_STRLEN + 8];
    return gb_errorf(
        S, GB_ESHAPE,
        "%s: %s: expected input projections (T,B,3H), w_hh (3H,H), b_hh (3H), h0 (B,H)", NAME,
        shapes(a, buf, sizeof buf));
  }
  set_out(o, 0, 3, (int64_t[]){T + 1, B, 5 * H});
  return GB_OK;
}

/* (Y (T+1,B,S*H), w_hh (G*H,H), gY like Y) for S slots and G gates */
static gb_status backward_dims(gb_state *S, gb_opid op, const gb_opargs *a, int gates, int slots,
                               int64_t *T, int64_t *B, int64_t *H) {
  gb_status st = all_float(S, op, a);
  if (st) return st;
  const gb_tensor *y = a->in[0], *w = a->in[1], *g = a->in[2];
  bool ok = w->ndim == 2 && w->shape[1] >= 1 && w->shape[0] == gates * w->shape[1] &&
            y->ndim == 3 && y->shape[0] >= 1 && y->shape[2] == slots * w->shape[1] &&
            has_shape(g, 3, y->shape[0], y->shape[1], y->shape[2]);
  if (!ok) {
    char buf[3 * GB_SHAPE_STRLEN + 8];
    return gb_errorf(S, GB_ESHAPE,
                     "%s: %s: expected a record (T+1,B,%dH), w_hh (%dH,H) and its "
                     "gradient (T+1,B,%dH)",
                     NAME, shapes(a, buf, sizeof buf), slots, gates, slots);
  }
  *T = y->shape[0] - 1, *B = y->shape[1], *H = w->shape[1];
  return GB_OK;
}

gb_status gb_infer_lstm_seq_backward(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  int64_t T = 0, B = 0, H = 0;
  gb_status st = backward_dims(S, op, a, 4, 6, &T, &B, &H);
  if (st) return st;
  o->nout = 2;
  set_out(o, 0, 3, (int64_t[]){T, B, 4 * H});
  set_out(o, 1, 2, (int64_t[]){B, 2 * H});
  return GB_OK;
}

gb_status gb_infer_gru_seq_backward(gb_state *S, gb_opid op, const gb_opargs *a, gb_outspec *o) {
  int64_t T = 0, B = 0, H = 0;
  gb_status st = backward_dims(S, op, a, 3, 5, &T, &B, &H);
  if (st) return st;
  o->nout = 2;
  set_out(o, 0, 3, (int64_t[]){T, B, 6 * H});
  set_out(o, 1, 2, (int64_t[]){B, H});
  return GB_OK;
}
