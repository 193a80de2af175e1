/* test_ops.c — the table-driven op test: walks every row of gb_ops.def, runs it on small
 * inputs and compares with a value computed independently here (double precision, naive
 * loops); then, for every row with a backward rule, compares the tape's gradient with
 * central finite differences. A row without a case below fails the test, so a new row
 * cannot go untested. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gb_backend.h"
#include "gb_blas.h"
#include "gb_cpu.h"
#include "gb_fn.h"
#include "gb_kernels.h"
#include "gb_state.h"

/* ---- small helpers ---- */

static gb_tensor *make(gb_state *S, int nd, const int64_t *shape, gb_dtype dt) {
  gb_tensor *t;
  if (gb_tensor_empty(S, nd, shape, dt, GB_CPU, &t)) abort();
  return t;
}

static uint64_t rng = 88172645463325252ULL;
static double urand(double lo, double hi) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return lo + (hi - lo) * (double)(rng >> 11) / 9007199254740992.0;
}

/* float tensor with values in [lo, hi], kept at least 0.05 apart from each other's kinks */
static gb_tensor *frand(gb_state *S, int nd, const int64_t *shape, double lo, double hi) {
  gb_tensor *t = make(S, nd, shape, GB_F32);
  for (int64_t i = 0; i < t->numel; i++)
    gb_tensor_f32(t)[i] = (float)urand(lo, hi);
  return t;
}

static gb_tensor *labels(gb_state *S, int64_t n, int64_t c) {
  gb_tensor *t = make(S, 1, (int64_t[]){n}, GB_I64);
  for (int64_t i = 0; i < n; i++)
    ((int64_t *)gb_tensor_data(t))[i] = 1 + (i * 7 + 3) % c;
  return t;
}

static double at(const gb_tensor *t, int64_t i) {
  return gb_tensor_get_flat(t, i);
}

static bool close_to(double got, double want, double rtol, double atol) {
  if (isnan(want)) return isnan(got);
  if (isinf(want)) return got == want;
  return fabs(got - want) <= atol + rtol * fabs(want);
}

/* ---- one case per row: inputs, params, and the reference of output 0 ---- */

typedef struct opcase {
  gb_opargs a;
  gb_tensor *into; /* for nin == 0 rows */
  double *ref;     /* expected output 0, row-major */
  int64_t nref;
  bool smooth; /* gradcheck applies */
} opcase;

/* Set by a reference formula that has no case for the row: the row is then reported as
 * "row X has no case" (its case is dropped) instead of checked against nothing. */
static bool no_case;

/* Drop c's reference when the formula had no case for the row. */
static void drop_if_no_case(opcase *c) {
  if (!no_case) return;
  free(c->ref);
  c->ref = NULL;
  c->nref = 0;
  no_case = false;
}

static double ref_unary(gb_opid id, double x, double f0, double f1) {
  switch (id) {
  case GB_OP_AFFINE: return x * f0 + f1;
  case GB_OP_RDIV_SCALAR: return f0 / x;
  case GB_OP_POW_SCALAR: return pow(x, f0);
  case GB_OP_RPOW_SCALAR: return pow(f0, x);
  case GB_OP_EXP: return exp(x);
  case GB_OP_LOG: return log(x);
  case GB_OP_SQRT: return sqrt(x);
  case GB_OP_ABS: return fabs(x);
  case GB_OP_SIGN: return x > 0 ? 1 : x < 0 ? -1 : 0;
  case GB_OP_TANH: return tanh(x);
  case GB_OP_SIGMOID: return 1.0 / (1.0 + exp(-x));
  case GB_OP_RELU: return x > 0 ? x : 0;
  case GB_OP_LEAKY_RELU: return x > 0 ? x : f0 * x;
  case GB_OP_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
  case GB_OP_CLAMP: return x < f0 ? f0 : x > f1 ? f1 : x;
  case GB_OP_SIN: return sin(x);
  case GB_OP_COS: return cos(x);
  case GB_OP_ERF: return erf(x);
  case GB_OP_LOG1P: return log(1.0 + x);
  case GB_OP_FLOOR: return floor(x);
  case GB_OP_ROUND: { /* halves to even, as torch.round */
    double r = floor(x + 0.5);
    return (r - x == 0.5 && fmod(r, 2.0) != 0) ? r - 1 : r;
  }
  case GB_OP_SILU: return x / (1.0 + exp(-x));
  case GB_OP_ELU: return x > 0 ? x : f0 * (exp(x) - 1);
  case GB_OP_SOFTPLUS: return x * f0 > f1 ? x : log(1 + exp(f0 * x)) / f0;
  default: no_case = true; return NAN;
  }
}

static double ref_binary(gb_opid id, double x, double y, double f0, double f1) {
  switch (id) {
  case GB_OP_ADD: return x + y;
  case GB_OP_SUB: return x - y;
  case GB_OP_MUL: return x * y;
  case GB_OP_DIV: return x / y;
  case GB_OP_POW: return pow(x, y);
  case GB_OP_MAXIMUM: return x > y ? x : y;
  case GB_OP_MINIMUM: return x < y ? x : y;
  case GB_OP_RELU_BACKWARD: return y > 0 ? x : 0;
  case GB_OP_LEAKY_RELU_BACKWARD: return y > 0 ? x : x * f0;
  case GB_OP_SIGMOID_BACKWARD: return x * y * (1 - y);
  case GB_OP_TANH_BACKWARD: return x * (1 - y * y);
  case GB_OP_GELU_BACKWARD:
    return x * (0.5 * (1 + erf(y / sqrt(2.0))) +
                y * exp(-0.5 * y * y) / sqrt(2 * 3.14159265358979323846));
  case GB_OP_EQ: return x == y;
  case GB_OP_NE: return x != y;
  case GB_OP_LT: return x < y;
  case GB_OP_LE: return x <= y;
  case GB_OP_GT: return x > y;
  case GB_OP_GE: return x >= y;
  case GB_OP_SILU_BACKWARD: {
    double s = 1.0 / (1.0 + exp(-y));
    return x * (s + y * s * (1 - s));
  }
  case GB_OP_ELU_BACKWARD: return y <= 0 ? x * f0 * exp(y) : x;
  case GB_OP_SOFTPLUS_BACKWARD: return y * f0 > f1 ? x : x / (1.0 + exp(-f0 * y));
  case GB_OP_MASKED_FILL: return y != 0 ? f0 : x;
  default: no_case = true; return NAN;
  }
}

static double *alloc_ref(opcase *c, int64_t n) {
  c->nref = n;
  c->ref = calloc((size_t)(n ? n : 1), sizeof(double));
  return c->ref;
}

/* x (3,4) with y (4) broadcast over rows */
static void case_binary(gb_state *S, gb_opid id, opcase *c) {
  bool cmp = id >= GB_OP_EQ && id <= GB_OP_GE;
  gb_tensor *x = frand(S, 2, (int64_t[]){3, 4}, 0.3, 2.0),
            *y = frand(S, 1, (int64_t[]){4}, 0.3, 2.0);
  if (cmp) gb_tensor_f32(x)[5] = gb_tensor_f32(y)[1]; /* one tie */
  if (id == GB_OP_MAXIMUM || id == GB_OP_MINIMUM) /* no near-ties: finite differences step 1e-2 */
    for (int i = 0; i < 12; i++)
      if (fabs(at(x, i) - at(y, i % 4)) < 0.05) gb_tensor_f32(x)[i] += 0.1f;
  if (id == GB_OP_RELU_BACKWARD || id == GB_OP_LEAKY_RELU_BACKWARD || id == GB_OP_GELU_BACKWARD ||
      id == GB_OP_SILU_BACKWARD || id == GB_OP_ELU_BACKWARD || id == GB_OP_SOFTPLUS_BACKWARD)
    for (int k = 0; k < 4; k++)
      gb_tensor_f32(y)[k] -= 1.2f; /* both signs */
  double f0 = 0.1, f1 = 0;
  if (id == GB_OP_SOFTPLUS_BACKWARD) f0 = 2.0, f1 = 1.0; /* y = 0.7 is past the threshold */
  if (id == GB_OP_ELU_BACKWARD) f0 = 1.3;
  if (id == GB_OP_MASKED_FILL) /* a 0/1 mask broadcast over rows; fill value f0 */
    for (int k = 0; k < 4; k++)
      gb_tensor_f32(y)[k] = (float)(k == 0 || k == 3), f0 = -7.5;
  c->a = (gb_opargs){.in = {x, y}, .nin = 2, .f = {f0, f1}};
  double *r = alloc_ref(c, 12);
  for (int i = 0; i < 12; i++)
    r[i] = ref_binary(id, at(x, i), at(y, i % 4), f0, f1);
  drop_if_no_case(c);
  c->smooth = !cmp && id != GB_OP_MAXIMUM && id != GB_OP_MINIMUM;
  if (id == GB_OP_MAXIMUM || id == GB_OP_MINIMUM) c->smooth = true; /* no ties drawn */
}

static void case_unary(gb_state *S, gb_opid id, opcase *c) {
  double f0 = 0, f1 = 0, lo = 0.3, hi = 2.0;
  switch (id) {
  case GB_OP_AFFINE: f0 = -1.5, f1 = 0.25; break;
  case GB_OP_RDIV_SCALAR: f0 = 2.0; break;
  case GB_OP_POW_SCALAR: f0 = 2.5; break;
  case GB_OP_RPOW_SCALAR: f0 = 1.7; break;
  case GB_OP_LEAKY_RELU: f0 = 0.1, lo = -2.0; break;
  case GB_OP_CLAMP: f0 = 0.6, f1 = 1.4; break;
  case GB_OP_ELU: f0 = 1.3, lo = -2.0; break;
  case GB_OP_SOFTPLUS: f0 = 2.0, f1 = 2.8, lo = -2.0; break; /* threshold at x = 1.4 */
  case GB_OP_LOG1P: lo = -0.6; break;
  case GB_OP_FLOOR:
  case GB_OP_ROUND: lo = -3.0, hi = 3.0; break;
  case GB_OP_SIN:
  case GB_OP_COS:
  case GB_OP_ERF:
  case GB_OP_SILU:
  case GB_OP_ABS:
  case GB_OP_SIGN:
  case GB_OP_TANH:
  case GB_OP_SIGMOID:
  case GB_OP_RELU:
  case GB_OP_GELU: lo = -2.0; break;
  default: break;
  }
  gb_tensor *x = frand(S, 2, (int64_t[]){2, 5}, lo, hi);
  for (int i = 0; i < 10; i++) /* keep away from kinks (0 and the clamp bounds) */
    if (fabs(at(x, i)) < 0.1 || fabs(at(x, i) - 0.6) < 0.05 || fabs(at(x, i) - 1.4) < 0.05)
      gb_tensor_f32(x)[i] += 0.2f;
  c->a = (gb_opargs){.in = {x}, .nin = 1, .f = {f0, f1}};
  double *r = alloc_ref(c, 10);
  for (int i = 0; i < 10; i++)
    r[i] = ref_unary(id, at(x, i), f0, f1);
  drop_if_no_case(c);
  c->smooth = id != GB_OP_SIGN;
  if (id == GB_OP_ROUND) { /* exact halves: round to even, as torch.round */
    const float halves[4] = {0.5f, 1.5f, 2.5f, -2.5f};
    for (int i = 0; i < 4; i++) {
      gb_tensor_f32(x)[i] = halves[i];
      r[i] = ref_unary(id, halves[i], f0, f1);
    }
  }
}

/* reductions over dim mask {1} of a (3,4) input; argmax/max_dim along dim 1 */
static void case_reduce(gb_state *S, gb_opid id, opcase *c) {
  gb_tensor *x = frand(S, 2, (int64_t[]){3, 4}, -1.0, 1.0);
  c->a = (gb_opargs){.in = {x}, .nin = 1, .i = {2, 0, 1}};
  bool along =
      id == GB_OP_MAX_DIM || id == GB_OP_MIN_DIM || id == GB_OP_ARGMAX || id == GB_OP_ARGMIN;
  if (along) c->a.i[0] = 1;
  double *r = alloc_ref(c, 3);
  for (int i = 0; i < 3; i++) {
    double s = 0, mx = -1e9, mn = 1e9;
    int amx = 0, amn = 0;
    for (int j = 0; j < 4; j++) {
      double v = at(x, i * 4 + j);
      s += v;
      if (v > mx) mx = v, amx = j + 1;
      if (v < mn) mn = v, amn = j + 1;
    }
    double mu = s / 4, ss = 0;
    for (int j = 0; j < 4; j++)
      ss += (at(x, i * 4 + j) - mu) * (at(x, i * 4 + j) - mu);
    switch (id) {
    case GB_OP_SUM: r[i] = s; break;
    case GB_OP_MEAN: r[i] = mu; break;
    case GB_OP_VAR: r[i] = ss / 3; break;
    case GB_OP_LOGSUMEXP: {
      double z = 0;
      for (int j = 0; j < 4; j++)
        z += exp(at(x, i * 4 + j));
      r[i] = log(z);
      break;
    }
    case GB_OP_AMAX:
    case GB_OP_MAX_DIM: r[i] = mx; break;
    case GB_OP_AMIN:
    case GB_OP_MIN_DIM: r[i] = mn; break;
    case GB_OP_ARGMAX: r[i] = amx; break;
    default: r[i] = amn; break;
    }
  }
  c->smooth = id != GB_OP_ARGMAX && id != GB_OP_ARGMIN;
}

static void case_softmax(gb_state *S, gb_opid id, opcase *c) {
  gb_tensor *x = frand(S, 2, (int64_t[]){3, 4}, -2.0, 2.0);
  bool back = id == GB_OP_SOFTMAX_BACKWARD || id == GB_OP_LOG_SOFTMAX_BACKWARD;
  bool logf_ = id == GB_OP_LOG_SOFTMAX || id == GB_OP_LOG_SOFTMAX_BACKWARD;
  double *r = alloc_ref(c, 12), y[12];
  for (int i = 0; i < 3; i++) {
    double z = 0;
    for (int j = 0; j < 4; j++)
      z += exp(at(x, i * 4 + j));
    for (int j = 0; j < 4; j++)
      y[i * 4 + j] = logf_ ? at(x, i * 4 + j) - log(z) : exp(at(x, i * 4 + j)) / z;
  }
  if (!back) {
    c->a = (gb_opargs){.in = {x}, .nin = 1, .i = {1}};
    memcpy(r, y, sizeof y);
    c->smooth = true;
    return;
  }
  gb_tensor *g = frand(S, 2, (int64_t[]){3, 4}, -1.0, 1.0),
            *yt = make(S, 2, (int64_t[]){3, 4}, GB_F32);
  for (int k = 0; k < 12; k++) /* the reference reads y as stored (float32, exact in float64) */
    y[k] = gb_tensor_f32(yt)[k] = (float)y[k];
  for (int i = 0; i < 3; i++) {
    double dot = 0;
    for (int j = 0; j < 4; j++)
      dot += logf_ ? at(g, i * 4 + j) : at(g, i * 4 + j) * y[i * 4 + j];
    for (int j = 0; j < 4; j++) {
      int k = i * 4 + j;
      r[k] = logf_ ? at(g, k) - exp(y[k]) * dot : y[k] * (at(g, k) - dot);
    }
  }
  gb_tensor_release(S, x);
  c->a = (gb_opargs){.in = {g, yt}, .nin = 2, .i = {1}};
}

static void case_loss(gb_state *S, gb_opid id, opcase *c) {
  gb_tensor *x = frand(S, 2, (int64_t[]){4, 3}, -2.0, 2.0), *y = labels(S, 4, 3);
  bool back = id == GB_OP_CROSS_ENTROPY_BACKWARD || id == GB_OP_NLL_LOSS_BACKWARD;
  bool ce = id == GB_OP_CROSS_ENTROPY || id == GB_OP_CROSS_ENTROPY_BACKWARD;
  double *r = alloc_ref(c, back ? 12 : 1), total = 0, gscale = (float)0.7; /* as stored */
  for (int i = 0; i < 4; i++) {
    int64_t cls = (int64_t)at(y, i) - 1;
    double z = 0;
    for (int j = 0; j < 3; j++)
      z += exp(at(x, i * 3 + j));
    total += ce ? log(z) - at(x, i * 3 + cls) : -at(x, i * 3 + cls);
    for (int j = 0; back && j < 3; j++) {
      double p = ce ? exp(at(x, i * 3 + j)) / z : 0;
      r[i * 3 + j] = (p - (j == cls)) * gscale / 4;
    }
  }
  if (!back) {
    r[0] = total / 4;
    c->a = (gb_opargs){.in = {x, y}, .nin = 2};
    c->smooth = true;
    return;
  }
  gb_tensor *g = make(S, 0, NULL, GB_F32);
  *gb_tensor_f32(g) = (float)gscale;
  c->a = (gb_opargs){.in = {x, y, g}, .nin = 3};
}

static void case_matmul(gb_state *S, gb_opid id, opcase *c) {
  gb_tensor *x = frand(S, 2, (int64_t[]){3, 4}, -1, 1), *w = frand(S, 2, (int64_t[]){4, 2}, -1, 1);
  gb_tensor *b = frand(S, 1, (int64_t[]){2}, -1, 1);
  double *r = alloc_ref(c, 6), beta = 0.5, alpha = 2.0;
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 2; j++) {
      double s = 0;
      for (int k = 0; k < 4; k++)
        s += at(x, i * 4 + k) * at(w, k * 2 + j);
      r[i * 2 + j] = id == GB_OP_ADDMM ? beta * at(b, j) + alpha * s : s;
    }
  if (id == GB_OP_ADDMM) {
    c->a = (gb_opargs){.in = {b, x, w}, .nin = 3, .f = {beta, alpha}};
  } else {
    gb_tensor_release(S, b);
    c->a = (gb_opargs){.in = {x, w}, .nin = 2};
  }
  c->smooth = true;
}

/* index rows along dim 0 of a (3,2) tensor with indices {3,1,3} */
static void case_index(gb_state *S, gb_opid id, opcase *c) {
  gb_tensor *x = frand(S, 2, (int64_t[]){3, 2}, -1, 1);
  int64_t iv[3] = {3, 1, 3};
  if (id == GB_OP_INDEX_SELECT || id == GB_OP_INDEX_ADD) {
    gb_tensor *idx = make(S, 1, (int64_t[]){3}, GB_I64);
    memcpy(gb_tensor_data(idx), iv, sizeof iv);
    if (id == GB_OP_INDEX_SELECT) {
      double *r = alloc_ref(c, 6);
      for (int j = 0; j < 3; j++)
        for (int q = 0; q < 2; q++)
          r[j * 2 + q] = at(x, (iv[j] - 1) * 2 + q);
      c->a = (gb_opargs){.in = {x, idx}, .nin = 2, .i = {0}};
      c->smooth = true;
      return;
    }
    gb_tensor *src = frand(S, 2, (int64_t[]){3, 2}, -1, 1);
    double *r = alloc_ref(c, 6);
    for (int k = 0; k < 6; k++)
      r[k] = at(x, k);
    for (int j = 0; j < 3; j++)
      for (int q = 0; q < 2; q++)
        r[(iv[j] - 1) * 2 + q] += at(src, j * 2 + q);
    c->a = (gb_opargs){.in = {x, idx, src}, .nin = 3, .i = {0}};
    c->smooth = true; /* d/d(base) and d/d(src), row 3 hit twice */
    return;
  }
  /* gather / scatter_add with a (2,2) index along dim 0 */
  int64_t gv[4] = {3, 1, 2, 3};
  gb_tensor *idx = make(S, 2, (int64_t[]){2, 2}, GB_I64);
  memcpy(gb_tensor_data(idx), gv, sizeof gv);
  if (id == GB_OP_GATHER) {
    double *r = alloc_ref(c, 4);
    for (int k = 0; k < 4; k++)
      r[k] = at(x, (gv[k] - 1) * 2 + k % 2);
    c->a = (gb_opargs){.in = {x, idx}, .nin = 2, .i = {0}};
    c->smooth = true;
    return;
  }
  gb_tensor *src = frand(S, 2, (int64_t[]){2, 2}, -1, 1);
  double *r = alloc_ref(c, 6);
  for (int k = 0; k < 6; k++)
    r[k] = at(x, k);
  for (int k = 0; k < 4; k++)
    r[(gv[k] - 1) * 2 + k % 2] += at(src, k);
  c->a = (gb_opargs){.in = {x, idx, src}, .nin = 3, .i = {0}};
  c->smooth = true;
}

/* views of a (2,3,4) input; the reference is the view's elements in row-major order */
static void case_view(gb_state *S, gb_opid id, opcase *c) {
  gb_tensor *x = frand(S, 3, (int64_t[]){2, 3, 4}, -1, 1);
  c->a = (gb_opargs){.in = {x}, .nin = 1};
  double *r;
  switch (id) {
  case GB_OP_RESHAPE:
    c->a.i[0] = 2, c->a.i[1] = 6, c->a.i[2] = 4;
    r = alloc_ref(c, 24);
    for (int k = 0; k < 24; k++)
      r[k] = at(x, k);
    break;
  case GB_OP_PERMUTE: /* order (3,1,2): out[k][i][j] = x[i][j][k] */
    c->a.i[0] = 3, c->a.i[1] = 2, c->a.i[2] = 0, c->a.i[3] = 1;
    r = alloc_ref(c, 24);
    for (int k = 0; k < 4; k++)
      for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
          r[k * 6 + i * 3 + j] = at(x, i * 12 + j * 4 + k);
    break;
  case GB_OP_TRANSPOSE: /* dims 1,3 */
    c->a.i[0] = 0, c->a.i[1] = 2;
    r = alloc_ref(c, 24);
    for (int k = 0; k < 4; k++)
      for (int j = 0; j < 3; j++)
        for (int i = 0; i < 2; i++)
          r[k * 6 + j * 2 + i] = at(x, i * 12 + j * 4 + k);
    break;
  case GB_OP_NARROW: /* dim 3, start 2 (0-based 1), length 2 */
    c->a.i[0] = 2, c->a.i[1] = 1, c->a.i[2] = 2;
    r = alloc_ref(c, 12);
    for (int i = 0; i < 6; i++)
      for (int k = 0; k < 2; k++)
        r[i * 2 + k] = at(x, i * 4 + 1 + k);
    break;
  case GB_OP_SELECT: /* dim 2, index 3 (0-based 2) */
    c->a.i[0] = 1, c->a.i[1] = 2;
    r = alloc_ref(c, 8);
    for (int i = 0; i < 2; i++)
      for (int k = 0; k < 4; k++)
        r[i * 4 + k] = at(x, i * 12 + 2 * 4 + k);
    break;
  default: { /* expand (2,1,4) -> (2,3,4) */
    gb_tensor_release(S, x);
    x = frand(S, 3, (int64_t[]){2, 1, 4}, -1, 1);
    c->a.in[0] = x;
    c->a.i[0] = 3, c->a.i[1] = 2, c->a.i[2] = 3, c->a.i[3] = 4;
    r = alloc_ref(c, 24);
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 3; j++)
        for (int k = 0; k < 4; k++)
          r[i * 12 + j * 4 + k] = at(x, i * 4 + k);
  }
  }
  c->smooth = true;
}

static void case_fill(gb_state *S, gb_opid id, opcase *c) {
  gb_tensor *t = make(S, 2, (int64_t[]){3, 3}, GB_F32);
  double *r = alloc_ref(c, 9);
  c->into = t;
  switch (id) {
  case GB_OP_FILL:
    c->a = (gb_opargs){.f = {2.5}};
    for (int k = 0; k < 9; k++)
      r[k] = 2.5;
    break;
  case GB_OP_ARANGE:
    c->a = (gb_opargs){.f = {1.0, 0.5}};
    for (int k = 0; k < 9; k++)
      r[k] = 1.0 + 0.5 * k;
    break;
  case GB_OP_EYE:
    for (int k = 0; k < 9; k++)
      r[k] = k % 4 == 0;
    break;
  case GB_OP_LINSPACE: /* 9 steps from -1 to 2: both ends exact */
    c->a = (gb_opargs){.f = {-1.0, 2.0}};
    for (int k = 0; k < 9; k++)
      r[k] = -1.0 + 3.0 * k / 8.0;
    break;
  default: /* uniform/normal: checked statistically in check_random */ c->nref = 0;
  }
}

/* optimizer rows update in[0] (n elements) in place; the reference follows PyTorch's algorithm
 * in double */
static void case_optim_n(gb_state *S, gb_opid id, opcase *c, int64_t n) {
  gb_tensor *p = frand(S, 1, (int64_t[]){n}, -1, 1), *g = frand(S, 1, (int64_t[]){n}, -1, 1);
  gb_tensor *s1 = frand(S, 1, (int64_t[]){n}, -0.5, 0.5),
            *s2 = frand(S, 1, (int64_t[]){n}, 0.1, 0.5);
  double *r = alloc_ref(c, n);
  c->into = p;
  gb_tensor_retain(p);
  if (id == GB_OP_SGD_STEP) { /* lr 0.1, momentum 0.9, dampening 0.1, wd 0.01, nesterov */
    c->a = (gb_opargs){.in = {p, g, s1}, .nin = 3, .f = {0.1, 0.9, 0.1, 0.01}, .i = {1, 0}};
    for (int64_t k = 0; k < n; k++) {
      double d = at(g, k) + 0.01 * at(p, k), buf = 0.9 * at(s1, k) + 0.9 * d;
      r[k] = at(p, k) - 0.1 * (d + 0.9 * buf);
    }
    gb_tensor_release(S, s2);
    return;
  }
  /* Adam step 3: lr 0.01, betas (0.9, 0.999), eps 1e-8, wd 0.1 as L2 */
  c->a =
      (gb_opargs){.in = {p, g, s1, s2}, .nin = 4, .f = {0.01, 0.9, 0.999, 1e-8, 0.1}, .i = {3, 0}};
  for (int64_t k = 0; k < n; k++) {
    double d = at(g, k) + 0.1 * at(p, k);
    double m = 0.9 * at(s1, k) + 0.1 * d, v = 0.999 * at(s2, k) + 0.001 * d * d;
    double mhat = m / (1 - pow(0.9, 3)), vhat = v / (1 - pow(0.999, 3));
    r[k] = at(p, k) - 0.01 * mhat / (sqrt(vhat) + 1e-8);
  }
}

static void case_optim(gb_state *S, gb_opid id, opcase *c) {
  case_optim_n(S, id, c, 6);
}

/* (2,2,4,5) images, kernel 3x2, stride 1x2, padding 1x1: out 4x3 positions per image */
enum { CN = 2, CC = 2, CH = 4, CW = 5, KH = 3, KW = 2, SH = 1, SW = 2, PH = 1, PW = 1 };
enum { OH = (CH + 2 * PH - KH) / SH + 1, OW = (CW + 2 * PW - KW) / SW + 1, KK = CC * KH * KW };

/* image element read by patch entry (n, pos, k), or -1 in the padding */
static int64_t patch_source(int64_t n, int64_t pos, int64_t k) {
  int64_t oy = pos / OW, ox = pos % OW, c = k / (KH * KW), ky = k / KW % KH, kx = k % KW;
  int64_t iy = oy * SH - PH + ky, ix = ox * SW - PW + kx;
  if (iy < 0 || iy >= CH || ix < 0 || ix >= CW) return -1;
  return ((n * CC + c) * CH + iy) * CW + ix;
}

/* The first maximum of each window (kernel KH x KW, stride SH x SW, padding 1x0) of x
 * (CN,CC,CH,CW), as an offset in its plane: (CN,CC,oh,ow) int64, by naive search. */
static gb_tensor *pool_argmax_ref(gb_state *S, const gb_tensor *x, int64_t oh, int64_t ow) {
  gb_tensor *idx = make(S, 4, (int64_t[]){CN, CC, oh, ow}, GB_I64);
  for (int p = 0; p < CN * CC; p++)
    for (int oy = 0; oy < oh; oy++)
      for (int ox = 0; ox < ow; ox++) {
        int64_t best = -1;
        for (int ky = 0; ky < KH; ky++)
          for (int kx = 0; kx < KW; kx++) {
            int iy = oy * SH - 1 + ky, ix = ox * SW + kx;
            if (iy < 0 || iy >= CH) continue;
            int64_t e = (int64_t)p * CH * CW + iy * CW + ix;
            if (best < 0 || at(x, e) > at(x, best)) best = e;
          }
        ((int64_t *)gb_tensor_data(idx))[((int64_t)p * oh + oy) * ow + ox] =
            best - (int64_t)p * CH * CW;
      }
  return idx;
}

static void case_conv(gb_state *S, gb_opid id, opcase *c) {
  gb_opargs win = {.nin = 1, .i = {KH, KW, SH, SW, PH, PW, CH, CW}};
  gb_tensor *x = frand(S, 4, (int64_t[]){CN, CC, CH, CW}, -1, 1);
  c->a = win;
  c->smooth = true;
  if (id == GB_OP_IM2COL) {
    double *r = alloc_ref(c, CN * OH * OW * KK);
    for (int64_t i = 0; i < c->nref; i++) {
      int64_t src = patch_source(i / (OH * OW * KK), i / KK % (OH * OW), i % KK);
      r[i] = src < 0 ? 0 : at(x, src);
    }
    c->a.in[0] = x;
    return;
  }
  if (id == GB_OP_COL2IM) {
    gb_tensor *cols = frand(S, 3, (int64_t[]){CN, OH * OW, KK}, -1, 1);
    double *r = alloc_ref(c, CN * CC * CH * CW);
    for (int64_t i = 0; i < cols->numel; i++) {
      int64_t src = patch_source(i / (OH * OW * KK), i / KK % (OH * OW), i % KK);
      if (src >= 0) r[src] += at(cols, i);
    }
    gb_tensor_release(S, x);
    c->a.in[0] = cols;
    return;
  }
  /* max pooling: naive window maxima; backward routes gout to the first maximum */
  c->a.i[4] = 1, c->a.i[5] = 0; /* padding 1x0 */
  int oh = (CH + 2 - KH) / SH + 1, ow = (CW - KW) / SW + 1;
  gb_tensor *gout = frand(S, 4, (int64_t[]){CN, CC, oh, ow}, -1, 1);
  gb_tensor *idx = pool_argmax_ref(S, x, oh, ow);
  const int64_t *best = gb_tensor_data(idx);
  double *r = alloc_ref(c, id == GB_OP_MAX_POOL2D ? CN * CC * oh * ow : CN * CC * CH * CW);
  for (int64_t o = 0; o < idx->numel; o++) {
    int64_t e = o / (oh * ow) * CH * CW + best[o];
    if (id == GB_OP_MAX_POOL2D)
      r[o] = at(x, e);
    else
      r[e] += at(gout, o);
  }
  if (id == GB_OP_MAX_POOL2D) {
    gb_tensor_release(S, gout);
    gb_tensor_release(S, idx);
    c->a.in[0] = x;
  } else { /* (gout, the forward's indices) */
    gb_tensor_release(S, x);
    c->a.in[0] = gout, c->a.in[1] = idx, c->a.nin = 2;
  }
}

/* max_pool2d recorded for backward also makes its argmax offsets within each plane (the ones
 * pool_argmax_ref finds) as output 1; an unrecorded call makes no second output */
static void check_max_pool_indices(gb_state *S) {
  opcase f = {0};
  case_conv(S, GB_OP_MAX_POOL2D, &f);
  gb_tensor *x = f.a.in[0], *leaf, *out[2] = {NULL, NULL};
  free(f.ref);
  CHECK(gb_op_run(S, GB_OP_MAX_POOL2D, &f.a, out) == GB_OK && out[1] == NULL,
        "max_pool2d without grad: %s", out[1] ? "made indices" : gb_state_error(S));
  gb_tensor_release(S, out[0]);
  gb_fn_clone(S, x, &leaf);
  leaf->requires_grad = true;
  f.a.in[0] = leaf;
  CHECK(gb_op_run(S, GB_OP_MAX_POOL2D, &f.a, out) == GB_OK && out[1] != NULL &&
            out[1]->dtype == GB_I64,
        "max_pool2d recorded: no int64 indices (%s)", gb_state_error(S));
  gb_tensor *want = pool_argmax_ref(S, x, out[0]->shape[2], out[0]->shape[3]);
  for (int64_t o = 0; out[1] && o < want->numel; o++)
    CHECK(((int64_t *)gb_tensor_data(out[1]))[o] == ((int64_t *)gb_tensor_data(want))[o],
          "max_pool2d index %lld = %lld, expected %lld", (long long)o,
          (long long)((int64_t *)gb_tensor_data(out[1]))[o],
          (long long)((int64_t *)gb_tensor_data(want))[o]);
  gb_tensor_release(S, out[0]);
  gb_tensor_release(S, out[1]);
  gb_tensor_release(S, want);
  gb_tensor_release(S, leaf);
  gb_tensor_release(S, x);
}

/* ---- recurrent rows: T=3 steps, B=2, H=2; the record's reference from naive double loops,
 *      the backward rows' from central differences of that reference (double, eps 1e-6) ---- */
enum { RT = 3, RB = 2, RH = 2 };

static double sig(double x) {
  return 1.0 / (1.0 + exp(-x));
}

/* LSTM record (T+1,B,6H) [h c i f g o] of xg (T,B,4H), w (4H,H), h0, c0 (B,H) */
static void lstm_ref(const double *xg, const double *w, const double *h0, const double *c0,
                     double *y) {
  const int W = 6 * RH;
  memset(y, 0, sizeof(double) * (RT + 1) * RB * W);
  for (int b = 0; b < RB; b++)
    for (int j = 0; j < RH; j++)
      y[b * W + j] = h0[b * RH + j], y[b * W + RH + j] = c0[b * RH + j];
  for (int t = 0; t < RT; t++)
    for (int b = 0; b < RB; b++) {
      const double *prev = y + (t * RB + b) * W;
      double *row = y + ((t + 1) * RB + b) * W, pre[4 * RH];
      for (int k = 0; k < 4 * RH; k++) {
        pre[k] = xg[(t * RB + b) * 4 * RH + k];
        for (int m = 0; m < RH; m++)
          pre[k] += w[k * RH + m] * prev[m];
      }
      for (int j = 0; j < RH; j++) {
        double i = sig(pre[j]), f = sig(pre[RH + j]), g = tanh(pre[2 * RH + j]),
               o = sig(pre[3 * RH + j]), cc = f * prev[RH + j] + i * g;
        row[j] = o * tanh(cc), row[RH + j] = cc;
        row[2 * RH + j] = i, row[3 * RH + j] = f, row[4 * RH + j] = g, row[5 * RH + j] = o;
      }
    }
}

/* GRU record (T+1,B,5H) [h r z n hn]; dgh (T,B,3H, may be NULL) is added to w_hh h + b_hh */
static void gru_ref(const double *xg, const double *w, const double *bhh, const double *h0,
                    const double *dgh, double *y) {
  const int W = 5 * RH;
  memset(y, 0, sizeof(double) * (RT + 1) * RB * W);
  for (int b = 0; b < RB; b++)
    for (int j = 0; j < RH; j++)
      y[b * W + j] = h0[b * RH + j];
  for (int t = 0; t < RT; t++)
    for (int b = 0; b < RB; b++) {
      const double *prev = y + (t * RB + b) * W, *x = xg + (t * RB + b) * 3 * RH;
      double *row = y + ((t + 1) * RB + b) * W, gh[3 * RH];
      for (int k = 0; k < 3 * RH; k++) {
        gh[k] = bhh[k] + (dgh ? dgh[(t * RB + b) * 3 * RH + k] : 0);
        for (int m = 0; m < RH; m++)
          gh[k] += w[k * RH + m] * prev[m];
      }
      for (int j = 0; j < RH; j++) {
        double r = sig(x[j] + gh[j]), z = sig(x[RH + j] + gh[RH + j]),
               n = tanh(x[2 * RH + j] + r * gh[2 * RH + j]);
        row[j] = (1 - z) * n + z * prev[j];
        row[RH + j] = r, row[2 * RH + j] = z, row[3 * RH + j] = n, row[4 * RH + j] = gh[2 * RH + j];
      }
    }
}

static void to_double(const gb_tensor *t, double *d) {
  for (int64_t i = 0; i < t->numel; i++)
    d[i] = at(t, i);
}

static gb_tensor *from_double(gb_state *S, int nd, const int64_t *shape, const double *d) {
  gb_tensor *t = make(S, nd, shape, GB_F32);
  for (int64_t i = 0; i < t->numel; i++)
    gb_tensor_f32(t)[i] = (float)d[i];
  return t;
}

/* sum(record(v) * gy) for the reference forward, with one input array v perturbed by the
 * caller; lstm when ghp is unused */
typedef struct rnn_inputs {
  double xg[RT * RB * 4 * RH], w[4 * RH * RH], b[3 * RH], h0[RB * RH], c0[RB * RH];
  double dgh[RT * RB * 3 * RH], gy[(RT + 1) * RB * 6 * RH];
} rnn_inputs;

static double rnn_loss(const rnn_inputs *in, bool lstm) {
  double y[(RT + 1) * RB * 6 * RH], s = 0;
  int n = (RT + 1) * RB * (lstm ? 6 : 5) * RH;
  if (lstm)
    lstm_ref(in->xg, in->w, in->h0, in->c0, y);
  else
    gru_ref(in->xg, in->w, in->b, in->h0, in->dgh, y);
  for (int k = 0; k < n; k++)
    s += y[k] * in->gy[k];
  return s;
}

/* d rnn_loss / d v[k] by central differences */
static double rnn_slope(rnn_inputs *in, double *v, int k, bool lstm) {
  double keep = v[k], e = 1e-6;
  v[k] = keep + e;
  double up = rnn_loss(in, lstm);
  v[k] = keep - e;
  double down = rnn_loss(in, lstm);
  v[k] = keep;
  return (up - down) / (2 * e);
}

static void case_rnn(gb_state *S, gb_opid id, opcase *c) {
  bool lstm = id == GB_OP_LSTM_SEQ || id == GB_OP_LSTM_SEQ_BACKWARD;
  bool back = id == GB_OP_LSTM_SEQ_BACKWARD || id == GB_OP_GRU_SEQ_BACKWARD;
  int G = lstm ? 4 : 3, W = (lstm ? 6 : 5) * RH;
  gb_tensor *xg = frand(S, 3, (int64_t[]){RT, RB, G * RH}, -1.5, 1.5),
            *w = frand(S, 2, (int64_t[]){G * RH, RH}, -1, 1),
            *b = frand(S, 1, (int64_t[]){3 * RH}, -0.5, 0.5),
            *h0 = frand(S, 2, (int64_t[]){RB, RH}, -1, 1),
            *c0 = frand(S, 2, (int64_t[]){RB, RH}, -1, 1);
  static rnn_inputs in;
  memset(&in, 0, sizeof in);
  to_double(xg, in.xg), to_double(w, in.w), to_double(b, in.b);
  to_double(h0, in.h0), to_double(c0, in.c0);
  int64_t nrec = (RT + 1) * RB * W;
  double rec[(RT + 1) * RB * 6 * RH];
  if (lstm)
    lstm_ref(in.xg, in.w, in.h0, in.c0, rec);
  else
    gru_ref(in.xg, in.w, in.b, in.h0, NULL, rec);
  if (!back) {
    memcpy(alloc_ref(c, nrec), rec, sizeof(double) * (size_t)nrec);
    c->a = (gb_opargs){.in = {xg, w, lstm ? h0 : b, lstm ? c0 : h0}, .nin = 4};
    gb_tensor_release(S, lstm ? b : c0);
    c->smooth = true;
    return;
  }
  gb_tensor *gy = frand(S, 3, (int64_t[]){RT + 1, RB, W}, -1, 1);
  to_double(gy, in.gy);
  gb_tensor *y = from_double(S, 3, (int64_t[]){RT + 1, RB, W}, rec);
  int per = lstm ? 4 * RH : 6 * RH;
  double *r = alloc_ref(c, RT * RB * per);
  for (int tb = 0; tb < RT * RB; tb++)
    for (int k = 0; k < per; k++) {
      if (k < G * RH) /* d(gate pre-activation) = d xg */
        r[tb * per + k] = rnn_slope(&in, in.xg, tb * G * RH + k, lstm);
      else
        r[tb * per + k] = rnn_slope(&in, in.dgh, tb * 3 * RH + k - 3 * RH, lstm);
    }
  c->a = (gb_opargs){.in = {y, w, gy}, .nin = 3};
  gb_tensor_release(S, xg), gb_tensor_release(S, b);
  gb_tensor_release(S, h0), gb_tensor_release(S, c0);
}

/* ---- nn-layer rows (issue 15): conv2d and its backward rows on the same geometry as above
 * (O = 3 output channels), average pooling (fixed windows without counting the padding, and
 * adaptive 4x5 -> 3x2 windows that overlap), batch norm over (3,2,2) ---- */
enum { CO = 3 };

/* (n, o, oy, ox, c, ky, kx) of every multiply-add of the convolution; fn gets the image
 * element read (or -1 in the padding) */
typedef void (*conv_visit)(void *ud, int64_t yi, int64_t xi, int64_t wi);
static void conv_walk(conv_visit fn, void *ud) {
  for (int64_t n = 0; n < CN; n++)
    for (int64_t o = 0; o < CO; o++)
      for (int64_t pos = 0; pos < OH * OW; pos++)
        for (int64_t k = 0; k < KK; k++) {
          int64_t src = patch_source(n, pos, k);
          if (src >= 0) fn(ud, (n * CO + o) * OH * OW + pos, src, o * KK + k);
        }
}

typedef struct conv_refs {
  gb_tensor *x, *w, *g;
  double *r;
  gb_opid id;
} conv_refs;

static void conv_visit_ref(void *ud, int64_t yi, int64_t xi, int64_t wi) {
  conv_refs *c = ud;
  if (c->id == GB_OP_CONV2D) c->r[yi] += at(c->x, xi) * at(c->w, wi);
  if (c->id == GB_OP_CONV2D_BACKWARD_INPUT) c->r[xi] += at(c->g, yi) * at(c->w, wi);
  if (c->id == GB_OP_CONV2D_BACKWARD_WEIGHT) c->r[wi] += at(c->g, yi) * at(c->x, xi);
}

static void case_conv2d(gb_state *S, gb_opid id, opcase *c) {
  gb_tensor *x = frand(S, 4, (int64_t[]){CN, CC, CH, CW}, -1, 1);
  gb_tensor *w = frand(S, 4, (int64_t[]){CO, CC, KH, KW}, -1, 1);
  gb_tensor *g = frand(S, 4, (int64_t[]){CN, CO, OH, OW}, -1, 1);
  conv_refs cr = {x, w, g, NULL, id};
  c->a = (gb_opargs){.nin = 2, .i = {KH, KW, SH, SW, PH, PW, CH, CW}};
  if (id == GB_OP_CONV2D) {
    gb_tensor *b = frand(S, 1, (int64_t[]){CO}, -1, 1);
    cr.r = alloc_ref(c, CN * CO * OH * OW);
    for (int64_t i = 0; i < c->nref; i++)
      cr.r[i] = at(b, i / (OH * OW) % CO);
    conv_walk(conv_visit_ref, &cr);
    c->a.in[0] = x, c->a.in[1] = w, c->a.in[2] = b, c->a.nin = 3;
    c->smooth = true;
    gb_tensor_release(S, g);
    return;
  }
  cr.r = alloc_ref(c, id == GB_OP_CONV2D_BACKWARD_INPUT ? CN * CC * CH * CW : CO * KK);
  conv_walk(conv_visit_ref, &cr);
  c->a.in[0] = g;
  c->a.in[1] = id == GB_OP_CONV2D_BACKWARD_INPUT ? w : x;
  gb_tensor_release(S, id == GB_OP_CONV2D_BACKWARD_INPUT ? x : w);
}

/* window of output cell (oy, ox) in a CH x CW plane; *cnt the divisor */
static void avg_window(bool adaptive, int64_t oy, int64_t ox, int64_t *y0, int64_t *y1, int64_t *x0,
                       int64_t *x1) {
  if (adaptive) { /* 4 -> 3 rows: [0,2) [1,3) [2,4); 5 -> 2 columns: [0,3) [2,5) */
    static const int64_t ry[3][2] = {{0, 2}, {1, 3}, {2, 4}}, rx[2][2] = {{0, 3}, {2, 5}};
    *y0 = ry[oy][0], *y1 = ry[oy][1], *x0 = rx[ox][0], *x1 = rx[ox][1];
    return;
  }
  *y0 = oy * SH - PH, *y1 = *y0 + KH, *x0 = ox * SW - PW, *x1 = *x0 + KW;
  if (*y0 < 0) *y0 = 0;
  if (*x0 < 0) *x0 = 0;
  if (*y1 > CH) *y1 = CH;
  if (*x1 > CW) *x1 = CW;
}

static void case_avg_pool(gb_state *S, gb_opid id, opcase *c) {
  bool adaptive = id == GB_OP_ADAPTIVE_AVG_POOL2D || id == GB_OP_ADAPTIVE_AVG_POOL2D_BACKWARD;
  bool fwd = id == GB_OP_AVG_POOL2D || id == GB_OP_ADAPTIVE_AVG_POOL2D;
  int64_t oh = adaptive ? 3 : OH, ow = adaptive ? 2 : OW;
  gb_tensor *x = frand(S, 4, (int64_t[]){CN, CC, CH, CW}, -1, 1);
  gb_tensor *g = frand(S, 4, (int64_t[]){CN, CC, oh, ow}, -1, 1);
  c->a = adaptive ? (gb_opargs){.i = {3, 2}} : (gb_opargs){.i = {KH, KW, SH, SW, PH, PW, 0}};
  double *r = alloc_ref(c, fwd ? CN * CC * oh * ow : CN * CC * CH * CW);
  for (int64_t p = 0; p < CN * CC; p++)
    for (int64_t oy = 0; oy < oh; oy++)
      for (int64_t ox = 0; ox < ow; ox++) {
        int64_t y0, y1, x0, x1, o = (p * oh + oy) * ow + ox;
        avg_window(adaptive, oy, ox, &y0, &y1, &x0, &x1);
        double cnt = (double)((y1 - y0) * (x1 - x0)), s = 0;
        for (int64_t iy = y0; iy < y1; iy++)
          for (int64_t ix = x0; ix < x1; ix++) {
            int64_t e = (p * CH + iy) * CW + ix;
            s += at(x, e);
            if (!fwd) r[e] += at(g, o) / cnt;
          }
        if (fwd) r[o] = s / cnt;
      }
  if (fwd) {
    c->a.in[0] = x, c->a.nin = 1, c->smooth = true;
    gb_tensor_release(S, g);
  } else {
    c->a.in[0] = g, c->a.in[1] = x, c->a.nin = 2;
  }
}

/* batch norm of x (3,2,2) per channel (dim 2), eps 1e-5 */
static void case_batch_norm(gb_state *S, gb_opid id, opcase *c) {
  enum { BN = 3, BC = 2, BS = 2 };
  const double eps = 1e-5;
  gb_tensor *x = frand(S, 3, (int64_t[]){BN, BC, BS}, -1, 1);
  gb_tensor *w = frand(S, 1, (int64_t[]){BC}, 0.5, 1.5), *b = frand(S, 1, (int64_t[]){BC}, -1, 1);
  gb_tensor *g = frand(S, 3, (int64_t[]){BN, BC, BS}, -1, 1);
  double *r = alloc_ref(c, BN * BC * BS);
  for (int ch = 0; ch < BC; ch++) {
    double mu = 0, var = 0, m = BN * BS, sg = 0, sgx = 0;
    for (int i = 0; i < BN; i++)
      for (int k = 0; k < BS; k++)
        mu += at(x, (i * BC + ch) * BS + k) / m;
    for (int i = 0; i < BN; i++)
      for (int k = 0; k < BS; k++)
        var += pow(at(x, (i * BC + ch) * BS + k) - mu, 2) / m;
    double inv = 1 / sqrt(var + eps);
    for (int i = 0; i < BN; i++)
      for (int k = 0; k < BS; k++) {
        int e = (i * BC + ch) * BS + k;
        sg += at(g, e), sgx += at(g, e) * (at(x, e) - mu) * inv;
      }
    for (int i = 0; i < BN; i++)
      for (int k = 0; k < BS; k++) {
        int e = (i * BC + ch) * BS + k;
        double xh = (at(x, e) - mu) * inv;
        r[e] = id == GB_OP_BATCH_NORM ? xh * at(w, ch) + at(b, ch)
                                      : at(w, ch) * inv * (at(g, e) - sg / m - xh * sgx / m);
      }
  }
  c->a = (gb_opargs){.nin = 3, .f = {eps}};
  if (id == GB_OP_BATCH_NORM) {
    c->a.in[0] = x, c->a.in[1] = w, c->a.in[2] = b, c->smooth = true;
    gb_tensor_release(S, g);
  } else {
    c->a.in[0] = g, c->a.in[1] = x, c->a.in[2] = w;
    gb_tensor_release(S, b);
  }
}

/* issue 15's Transformer rows (branch tfm): layer norm of x (3,2,4) over its last 2 dims;
 * the masked softmax of (2,3,4) scores plus a (3,4) additive mask with the causal mask; causal
 * attention of q (2,2,3,4) over k (2,2,5,4), v (2,2,5,3) at scale 0.5. References in double. */
static void ref_attn_probs(const gb_tensor *q, const gb_tensor *k, int64_t bh, int64_t i,
                           double scale, double *p) {
  enum { AL = 3, AS = 5, AE = 4 };
  double mx = -INFINITY, s = 0;
  for (int j = 0; j <= i; j++) {
    double d = 0;
    for (int e = 0; e < AE; e++)
      d += at(q, (bh * AL + i) * AE + e) * at(k, (bh * AS + j) * AE + e);
    p[j] = d * scale;
    mx = fmax(mx, p[j]);
  }
  for (int j = 0; j < AS; j++)
    p[j] = j <= i ? exp(p[j] - mx) : 0, s += p[j];
  for (int j = 0; j < AS; j++)
    p[j] /= s;
}

static void case_attn(gb_state *S, gb_opid id, opcase *c) {
  if (id == GB_OP_LAYER_NORM || id == GB_OP_LAYER_NORM_BACKWARD) {
    const double eps = 1e-5;
    gb_tensor *x = frand(S, 3, (int64_t[]){3, 2, 4}, -1, 1),
              *g = frand(S, 3, (int64_t[]){3, 2, 4}, -1, 1);
    gb_tensor *w = frand(S, 2, (int64_t[]){2, 4}, 0.5, 1.5),
              *b = frand(S, 2, (int64_t[]){2, 4}, -1, 1);
    double *r = alloc_ref(c, 24);
    for (int row = 0; row < 3; row++) {
      double mu = 0, var = 0, sg = 0, sgx = 0;
      for (int k = 0; k < 8; k++)
        mu += at(x, row * 8 + k) / 8;
      for (int k = 0; k < 8; k++)
        var += pow(at(x, row * 8 + k) - mu, 2) / 8;
      double rs = 1 / sqrt(var + eps);
      for (int k = 0; k < 8; k++) {
        double gh = at(g, row * 8 + k) * at(w, k);
        sg += gh, sgx += gh * (at(x, row * 8 + k) - mu) * rs;
      }
      for (int k = 0; k < 8; k++) {
        double xh = (at(x, row * 8 + k) - mu) * rs, gh = at(g, row * 8 + k) * at(w, k);
        r[row * 8 + k] =
            id == GB_OP_LAYER_NORM ? xh * at(w, k) + at(b, k) : rs * (gh - sg / 8 - xh * sgx / 8);
      }
    }
    c->a = (gb_opargs){.nin = 3, .f = {eps}, .i = {2}};
    if (id == GB_OP_LAYER_NORM) {
      c->a.in[0] = x, c->a.in[1] = w, c->a.in[2] = b, c->smooth = true;
      gb_tensor_release(S, g);
    } else {
      c->a.in[0] = g, c->a.in[1] = x, c->a.in[2] = w;
      gb_tensor_release(S, b);
    }
    return;
  }
  if (id == GB_OP_MASKED_SOFTMAX) {
    gb_tensor *x = frand(S, 3, (int64_t[]){2, 3, 4}, -2, 2),
              *m = frand(S, 2, (int64_t[]){3, 4}, -1, 1);
    double *r = alloc_ref(c, 24);
    for (int o = 0; o < 2; o++)
      for (int i = 0; i < 3; i++) {
        double mx = -INFINITY, s = 0;
        for (int j = 0; j <= i; j++)
          mx = fmax(mx, at(x, (o * 3 + i) * 4 + j) + at(m, i * 4 + j));
        for (int j = 0; j <= i; j++)
          s += exp(at(x, (o * 3 + i) * 4 + j) + at(m, i * 4 + j) - mx);
        for (int j = 0; j < 4; j++)
          r[(o * 3 + i) * 4 + j] =
              j <= i ? exp(at(x, (o * 3 + i) * 4 + j) + at(m, i * 4 + j) - mx) / s : 0;
      }
    c->a = (gb_opargs){.in = {x, m}, .nin = 2, .i = {1}};
    c->smooth = true;
    return;
  }
  const double scale = 0.5;
  gb_tensor *q = frand(S, 4, (int64_t[]){2, 2, 3, 4}, -1, 1);
  gb_tensor *k = frand(S, 4, (int64_t[]){2, 2, 5, 4}, -1, 1);
  gb_tensor *v = frand(S, 4, (int64_t[]){2, 2, 5, 3}, -1, 1);
  gb_tensor *g = frand(S, 4, (int64_t[]){2, 3, 2, 3}, -1, 1); /* (B,L,H,Ev) */
  bool fwd = id == GB_OP_SDPA;
  double *r = alloc_ref(c, fwd ? 36 : 48);
  for (int bh = 0; bh < 4; bh++)
    for (int i = 0; i < 3; i++) {
      int b = bh / 2, h = bh % 2;
      double p[5], dp[5], dot = 0;
      ref_attn_probs(q, k, bh, i, scale, p);
      for (int e = 0; e < 3 && fwd; e++) {
        double s = 0;
        for (int j = 0; j < 5; j++)
          s += p[j] * at(v, (bh * 5 + j) * 3 + e);
        r[((b * 3 + i) * 2 + h) * 3 + e] = s;
      }
      if (fwd) continue;
      for (int j = 0; j < 5; j++) {
        dp[j] = 0;
        for (int e = 0; e < 3; e++)
          dp[j] += at(g, ((b * 3 + i) * 2 + h) * 3 + e) * at(v, (bh * 5 + j) * 3 + e);
        dot += p[j] * dp[j];
      }
      for (int e = 0; e < 4; e++) {
        double s = 0;
        for (int j = 0; j < 5; j++)
          s += p[j] * (dp[j] - dot) * at(k, (bh * 5 + j) * 4 + e);
        r[(bh * 3 + i) * 4 + e] = scale * s;
      }
    }
  c->a = (gb_opargs){.nin = fwd ? 3 : 4, .f = {scale}, .i = {1}};
  if (fwd) {
    c->a.in[0] = q, c->a.in[1] = k, c->a.in[2] = v, c->smooth = true;
    gb_tensor_release(S, g);
  } else {
    c->a.in[0] = g, c->a.in[1] = q, c->a.in[2] = k, c->a.in[3] = v;
  }
}

/* issue 15's shape rows: cumsum along dim 2 of (3,4); slice of (2,3,5) along dim 3 from 1
 * with step 3 (elements 1 and 4); repeat (2,3) by {2,3} */
static void case_shape15(gb_state *S, gb_opid id, opcase *c) {
  c->smooth = true;
  if (id == GB_OP_CUMSUM) {
    gb_tensor *x = frand(S, 2, (int64_t[]){3, 4}, -1, 1);
    c->a = (gb_opargs){.in = {x}, .nin = 1, .i = {1, 0}};
    double *r = alloc_ref(c, 12);
    for (int i = 0; i < 3; i++) {
      double acc = 0;
      for (int j = 0; j < 4; j++)
        r[i * 4 + j] = acc += at(x, i * 4 + j);
    }
    return;
  }
  if (id == GB_OP_SLICE) {
    gb_tensor *x = frand(S, 3, (int64_t[]){2, 3, 5}, -1, 1);
    c->a = (gb_opargs){.in = {x}, .nin = 1, .i = {2, 0, 2, 3}};
    double *r = alloc_ref(c, 12);
    for (int i = 0; i < 6; i++)
      for (int k = 0; k < 2; k++)
        r[i * 2 + k] = at(x, i * 5 + 3 * k);
    return;
  }
  gb_tensor *x = frand(S, 2, (int64_t[]){2, 3}, -1, 1);
  c->a = (gb_opargs){.in = {x}, .nin = 1, .i = {2, 2, 3}};
  double *r = alloc_ref(c, 36);
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 9; j++)
      r[i * 9 + j] = at(x, (i % 2) * 3 + j % 3);
}

/* sort (4,3) ascending along dim 1 (a strided line); topk k = 2 largest along dim 2 of
 * (3,5). Values at least 0.2 apart, so finite differences never reorder them. */
static void case_sort(gb_state *S, gb_opid id, opcase *c) {
  bool sort = id == GB_OP_SORT;
  int64_t rows = sort ? 4 : 3, cols = sort ? 3 : 5;
  gb_tensor *x = make(S, 2, (int64_t[]){rows, cols}, GB_F32);
  for (int64_t k = 0; k < x->numel; k++)
    gb_tensor_f32(x)[k] = (float)(((k * 7) % x->numel) * 0.25 - 1.5 + urand(0, 0.05));
  c->smooth = true;
  double *r;
  if (sort) {
    c->a = (gb_opargs){.in = {x}, .nin = 1, .i = {0, 0}};
    r = alloc_ref(c, 12);
    for (int j = 0; j < 3; j++) { /* insertion sort of column j, in double */
      double col[4];
      for (int i = 0; i < 4; i++) {
        double v = at(x, i * 3 + j);
        int p = i;
        while (p > 0 && col[p - 1] > v)
          col[p] = col[p - 1], p--;
        col[p] = v;
      }
      for (int i = 0; i < 4; i++)
        r[i * 3 + j] = col[i];
    }
    return;
  }
  c->a = (gb_opargs){.in = {x}, .nin = 1, .i = {1, 2, 1, 1}};
  r = alloc_ref(c, 6);
  for (int i = 0; i < 3; i++) {
    double best = -1e9, second = -1e9;
    for (int j = 0; j < 5; j++) {
      double v = at(x, i * 5 + j);
      if (v > best)
        second = best, best = v;
      else if (v > second)
        second = v;
    }
    r[i * 2] = best, r[i * 2 + 1] = second;
  }
}

static void build_case(gb_state *S, gb_opid id, opcase *c) {
  memset(c, 0, sizeof *c);
  switch (id) {
  case GB_OP_FILL:
  case GB_OP_ARANGE:
  case GB_OP_EYE:
  case GB_OP_LINSPACE:
  case GB_OP_UNIFORM:
  case GB_OP_NORMAL: case_fill(S, id, c); break;
  case GB_OP_CUMSUM:
  case GB_OP_SLICE:
  case GB_OP_REPEAT: case_shape15(S, id, c); break;
  case GB_OP_SORT:
  case GB_OP_TOPK: case_sort(S, id, c); break;
  case GB_OP_CAT: { /* (2,3), a transposed (3,1) seen as (1,3)... along dim 2: (2,3) (2,1) (2,2) */
    gb_tensor *x = frand(S, 2, (int64_t[]){2, 3}, -1, 1),
              *y0 = frand(S, 2, (int64_t[]){1, 2}, -1, 1);
    gb_tensor *y, *z = frand(S, 2, (int64_t[]){2, 2}, -1, 1);
    gb_fn_transpose(S, y0, 0, 1, &y); /* a strided piece */
    gb_tensor_release(S, y0);
    c->a = (gb_opargs){.in = {x, y, z}, .nin = 3, .i = {1}};
    double *r = alloc_ref(c, 12);
    for (int i = 0; i < 2; i++) {
      for (int j = 0; j < 3; j++)
        r[i * 6 + j] = at(x, i * 3 + j);
      r[i * 6 + 3] = at(y, i);
      for (int j = 0; j < 2; j++)
        r[i * 6 + 4 + j] = at(z, i * 2 + j);
    }
    c->smooth = true;
    break;
  }
  case GB_OP_COPY: {
    gb_tensor *x = frand(S, 2, (int64_t[]){3, 4}, -1, 1), *t;
    gb_fn_transpose(S, x, 0, 1, &t); /* a strided source */
    gb_tensor_release(S, x);
    c->a = (gb_opargs){.in = {t}, .nin = 1, .i = {-1}};
    double *r = alloc_ref(c, 12);
    for (int k = 0; k < 12; k++)
      r[k] = at(t, k);
    c->smooth = true;
    break;
  }
  case GB_OP_RESHAPE:
  case GB_OP_PERMUTE:
  case GB_OP_TRANSPOSE:
  case GB_OP_NARROW:
  case GB_OP_SELECT:
  case GB_OP_EXPAND: case_view(S, id, c); break;
  case GB_OP_PAD: { /* (2,3) placed at column 2 of (2,6) */
    gb_tensor *x = frand(S, 2, (int64_t[]){2, 3}, -1, 1);
    c->a = (gb_opargs){.in = {x}, .nin = 1, .i = {1, 1, 6}};
    double *r = alloc_ref(c, 12);
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 3; j++)
        r[i * 6 + 1 + j] = at(x, i * 3 + j);
    c->smooth = true;
    break;
  }
  case GB_OP_WHERE: {
    gb_tensor *cond = make(S, 1, (int64_t[]){4}, GB_F32);
    for (int k = 0; k < 4; k++)
      gb_tensor_f32(cond)[k] = (float)(k % 2);
    gb_tensor *x = frand(S, 2, (int64_t[]){3, 4}, -1, 1),
              *y = frand(S, 2, (int64_t[]){3, 4}, -1, 1);
    c->a = (gb_opargs){.in = {cond, x, y}, .nin = 3};
    double *r = alloc_ref(c, 12);
    for (int k = 0; k < 12; k++)
      r[k] = (k % 2) ? at(x, k) : at(y, k);
    c->smooth = true;
    break;
  }
  case GB_OP_SUM:
  case GB_OP_MEAN:
  case GB_OP_VAR:
  case GB_OP_LOGSUMEXP:
  case GB_OP_AMAX:
  case GB_OP_AMIN:
  case GB_OP_MAX_DIM:
  case GB_OP_MIN_DIM:
  case GB_OP_ARGMAX:
  case GB_OP_ARGMIN: case_reduce(S, id, c); break;
  case GB_OP_SOFTMAX:
  case GB_OP_LOG_SOFTMAX:
  case GB_OP_SOFTMAX_BACKWARD:
  case GB_OP_LOG_SOFTMAX_BACKWARD: case_softmax(S, id, c); break;
  case GB_OP_CROSS_ENTROPY:
  case GB_OP_CROSS_ENTROPY_BACKWARD:
  case GB_OP_NLL_LOSS:
  case GB_OP_NLL_LOSS_BACKWARD: case_loss(S, id, c); break;
  case GB_OP_MATMUL:
  case GB_OP_ADDMM: case_matmul(S, id, c); break;
  case GB_OP_INDEX_SELECT:
  case GB_OP_INDEX_ADD:
  case GB_OP_GATHER:
  case GB_OP_SCATTER_ADD: case_index(S, id, c); break;
  case GB_OP_SGD_STEP:
  case GB_OP_ADAM_STEP: case_optim(S, id, c); break;
  case GB_OP_IM2COL:
  case GB_OP_COL2IM:
  case GB_OP_MAX_POOL2D:
  case GB_OP_MAX_POOL2D_BACKWARD: case_conv(S, id, c); break;
  case GB_OP_LSTM_SEQ:
  case GB_OP_LSTM_SEQ_BACKWARD:
  case GB_OP_GRU_SEQ:
  case GB_OP_GRU_SEQ_BACKWARD: case_rnn(S, id, c); break;
  case GB_OP_CONV2D:
  case GB_OP_CONV2D_BACKWARD_INPUT:
  case GB_OP_CONV2D_BACKWARD_WEIGHT: case_conv2d(S, id, c); break;
  case GB_OP_AVG_POOL2D:
  case GB_OP_AVG_POOL2D_BACKWARD:
  case GB_OP_ADAPTIVE_AVG_POOL2D:
  case GB_OP_ADAPTIVE_AVG_POOL2D_BACKWARD: case_avg_pool(S, id, c); break;
  case GB_OP_BATCH_NORM:
  case GB_OP_BATCH_NORM_BACKWARD: case_batch_norm(S, id, c); break;
  case GB_OP_LAYER_NORM:
  case GB_OP_LAYER_NORM_BACKWARD:
  case GB_OP_MASKED_SOFTMAX:
  case GB_OP_SDPA:
  case GB_OP_SDPA_BACKWARD: case_attn(S, id, c); break;
  default:
    if (gb_ops[id].nin == 1)
      case_unary(S, id, c);
    else if (gb_ops[id].nin == 2)
      case_binary(S, id, c);
  }
}

static void free_case(gb_state *S, opcase *c) {
  for (int k = 0; k < c->a.nin; k++)
    gb_tensor_release(S, c->a.in[k]);
  gb_tensor_release(S, c->into);
  free(c->ref);
}

/* ---- forward check ---- */

/* Set during the float64 pass (check_float64): inputs are doubles, tolerances ~1e-12. */
static bool f64_pass;

static void check_forward(gb_state *S, gb_opid id, opcase *c) {
  const char *name = gb_ops[id].name;
  gb_tensor *out[2] = {NULL, NULL};
  if (c->into) {
    CHECK(gb_op_run_into(S, id, &c->a, c->into) == GB_OK, "%s: %s", name, gb_state_error(S));
    out[0] = c->into;
    gb_tensor_retain(out[0]);
  } else {
    CHECK(gb_op_run(S, id, &c->a, out) == GB_OK, "%s: %s", name, gb_state_error(S));
  }
  if (!out[0]) return;
  CHECK(out[0]->numel == c->nref || c->nref == 0, "%s: %lld elements, expected %lld", name,
        (long long)out[0]->numel, (long long)c->nref);
  bool sums = id == GB_OP_MATMUL || id == GB_OP_ADDMM || id == GB_OP_ADAM_STEP ||
              id == GB_OP_LSTM_SEQ || id == GB_OP_LSTM_SEQ_BACKWARD || id == GB_OP_GRU_SEQ ||
              id == GB_OP_GRU_SEQ_BACKWARD || id == GB_OP_SDPA || id == GB_OP_SDPA_BACKWARD;
  double tol = f64_pass ? 1e-12 : sums ? 1e-5 : 2e-6, atol = f64_pass ? 1e-14 : 1e-6;
  for (int64_t i = 0; i < c->nref && i < out[0]->numel; i++)
    CHECK(close_to(at(out[0], i), c->ref[i], tol, atol),
          "%s%s: element %lld = %.17g, expected %.17g", name, f64_pass ? " (float64)" : "",
          (long long)i, at(out[0], i), c->ref[i]);
  gb_tensor_release(S, out[0]);
  gb_tensor_release(S, out[1]);
}

/* A parameter of 2^15 elements or more is updated as one piece per pool thread
 * (gb_cpu_optim.c): with 1 and with 2 threads, an odd length (the pieces' 16-element alignment
 * leaves a tail) matches the reference everywhere, and the two runs agree bit for bit. */
static void check_optim_pieces(gb_state *S) {
  const int64_t n = ((int64_t)1 << 16) + 37;
  int threads_before = gb_blas_threads();
  for (int k = 0; k < 2; k++) {
    gb_opid id = k ? GB_OP_ADAM_STEP : GB_OP_SGD_STEP;
    float *first = malloc((size_t)n * sizeof *first);
    uint64_t seed = rng;
    for (int threads = 1; threads <= 2; threads++) {
      rng = seed; /* the same inputs on both passes */
      opcase c = {0};
      case_optim_n(S, id, &c, n);
      gb_blas_set_threads(threads);
      CHECK(gb_op_run_into(S, id, &c.a, c.into) == GB_OK, "%s: %s", gb_ops[id].name,
            gb_state_error(S));
      const float *got = gb_tensor_f32(c.into);
      int64_t bad = -1, differ = -1;
      for (int64_t i = 0; i < n; i++) {
        if (bad < 0 && !close_to(got[i], c.ref[i], 1e-5, 1e-6)) bad = i;
        if (threads == 1)
          first[i] = got[i];
        else if (differ < 0 && memcmp(&first[i], &got[i], sizeof *got) != 0)
          differ = i;
      }
      CHECK(bad < 0, "%s on %d threads, %lld elements: element %lld = %.9g, expected %.9g",
            gb_ops[id].name, threads, (long long)n, (long long)bad, bad < 0 ? 0 : got[bad],
            bad < 0 ? 0 : c.ref[bad]);
      CHECK(differ < 0, "%s: element %lld differs between 1 and 2 threads", gb_ops[id].name,
            (long long)differ);
      free_case(S, &c);
    }
    free(first);
  }
  gb_blas_set_threads(threads_before);
}

/* ---- gradient check: loss = sum(out * w); analytic (tape) vs central differences ---- */

static double weighted_loss(gb_state *S, gb_opid id, const gb_opargs *a, const gb_tensor *w) {
  gb_tensor *out[2] = {NULL, NULL};
  if (gb_op_run(S, id, a, out)) return NAN;
  double s = 0;
  for (int64_t i = 0; i < out[0]->numel; i++)
    s += at(out[0], i) * at(w, i);
  gb_tensor_release(S, out[0]);
  gb_tensor_release(S, out[1]);
  return s;
}

static void check_gradient(gb_state *S, gb_opid id, opcase *c) {
  const char *name = gb_ops[id].name;
  gb_opargs a = c->a;
  bool any = false;
  for (int k = 0; k < a.nin; k++) { /* fresh leaves so gradients start empty */
    if (!gb_dtype_is_float(a.in[k]->dtype) || (id == GB_OP_WHERE && k == 0) ||
        (id == GB_OP_MASKED_FILL && k == 1) || (id == GB_OP_SDPA && k == 3))
      continue;
    gb_tensor *leaf;
    gb_fn_clone(S, a.in[k], &leaf);
    leaf->requires_grad = true;
    a.in[k] = leaf;
    any = true;
  }
  if (!any) return;
  gb_tensor *out[2] = {NULL, NULL};
  CHECK(gb_op_run(S, id, &a, out) == GB_OK, "%s grad forward: %s", name, gb_state_error(S));
  gb_tensor *w = frand(S, out[0]->ndim, out[0]->shape, -1, 1), *prod = NULL, *loss = NULL;
  if (f64_pass) { /* d sum(out * w) / d in = the backward of out with gradient w */
    gb_tensor *wd;
    gb_fn_to_dtype(S, w, out[0]->dtype, &wd);
    gb_tensor_release(S, w);
    w = wd;
    CHECK(gb_backward(S, out[0], w, false) == GB_OK, "%s backward: %s", name, gb_state_error(S));
  } else {
    gb_fn_binary(S, GB_OP_MUL, out[0], w, &prod);
    gb_fn_reduce(S, GB_OP_SUM, prod, 0, false, &loss);
    CHECK(gb_backward(S, loss, NULL, false) == GB_OK, "%s backward: %s", name, gb_state_error(S));
  }
  bool was = gb_set_grad_enabled(S, false);
  for (int k = 0; k < a.nin; k++) {
    gb_tensor *leaf = a.in[k];
    if (!leaf->requires_grad) continue;
    CHECK(leaf->grad != NULL, "%s: input %d got no gradient", name, k + 1);
    for (int64_t i = 0; f64_pass && leaf->grad && i < leaf->numel; i++) {
      double *p = (double *)gb_tensor_data(leaf) + i, keep = *p;
      const double eps = 1e-6; /* central differences in double: error ~eps^2 + 1e-16/eps */
      *p = keep + eps;
      double up = weighted_loss(S, id, &a, w);
      *p = keep - eps;
      double down = weighted_loss(S, id, &a, w);
      *p = keep;
      double num = (up - down) / (2.0 * eps), ana = at(leaf->grad, i);
      CHECK(close_to(ana, num, 1e-6, 1e-8),
            "%s (float64): d/d(input %d)[%lld]: tape %.12g, finite differences %.12g", name, k + 1,
            (long long)i, ana, num);
    }
    for (int64_t i = 0; !f64_pass && leaf->grad && i < leaf->numel; i++) {
      float *p = gb_tensor_f32(leaf) + i, keep = *p;
      const float eps = 1e-2f;
      *p = keep + eps;
      double up = weighted_loss(S, id, &a, w);
      *p = keep - eps;
      double down = weighted_loss(S, id, &a, w);
      *p = keep;
      double num = (up - down) / (2.0 * eps), ana = at(leaf->grad, i);
      CHECK(close_to(ana, num, 2e-2, 2e-3),
            "%s: d/d(input %d)[%lld]: tape %.6g, finite differences %.6g", name, k + 1,
            (long long)i, ana, num);
    }
  }
  gb_set_grad_enabled(S, was);
  gb_tensor_release(S, out[0]);
  gb_tensor_release(S, out[1]);
  gb_tensor_release(S, w);
  gb_tensor_release(S, prod);
  gb_tensor_release(S, loss);
  for (int k = 0; k < a.nin; k++)
    if (a.in[k] != c->a.in[k]) gb_tensor_release(S, a.in[k]);
}

/* uniform/normal: range, mean and spread, and reproducibility from (seed, offset) */
static void check_random(gb_state *S, gb_opid id) {
  gb_tensor *t = make(S, 1, (int64_t[]){20000}, GB_F32),
            *u = make(S, 1, (int64_t[]){20000}, GB_F32);
  gb_opargs a = {.f = {id == GB_OP_UNIFORM ? -1.0 : 2.0, id == GB_OP_UNIFORM ? 3.0 : 0.5},
                 .i = {42, 7}};
  gb_op_run_into(S, id, &a, t);
  gb_op_run_into(S, id, &a, u);
  double s = 0, ss = 0, lo = 1e9, hi = -1e9;
  for (int64_t i = 0; i < t->numel; i++) {
    double v = at(t, i);
    s += v, ss += v * v;
    lo = fmin(lo, v), hi = fmax(hi, v);
    if (v != at(u, i)) failures++;
  }
  double mean = s / 20000, sd = sqrt(ss / 20000 - mean * mean);
  if (id == GB_OP_UNIFORM) {
    CHECK(lo >= -1.0 && hi < 3.0, "uniform: range [%g, %g]", lo, hi);
    CHECK(fabs(mean - 1.0) < 0.05 && fabs(sd - 4 / sqrt(12.0)) < 0.05, "uniform: mean %g sd %g",
          mean, sd);
  } else {
    CHECK(fabs(mean - 2.0) < 0.02 && fabs(sd - 0.5) < 0.02, "normal: mean %g sd %g", mean, sd);
  }
  gb_tensor_release(S, t);
  gb_tensor_release(S, u);
}

/* ---- NaN and large offsets: every float row either propagates a NaN as PyTorch does or
 * is listed as a pure copy; the softmax family and the losses stay exact at |x| ~ 1e3..1e6 ---- */

static gb_tensor *tensor_of(gb_state *S, int nd, const int64_t *shape, const float *v) {
  gb_tensor *t = make(S, nd, shape, GB_F32);
  memcpy(gb_tensor_f32(t), v, (size_t)t->numel * sizeof(float));
  return t;
}

/* runs row id on a (borrowed inputs) and compares output `which` with want[0..n) */
static void expect_row(gb_state *S, gb_opid id, gb_opargs *a, int which, const double *want,
                       int64_t n, double atol, const char *what) {
  gb_tensor *out[2] = {NULL, NULL};
  CHECK(gb_op_run(S, id, a, out) == GB_OK, "%s %s: %s", gb_ops[id].name, what, gb_state_error(S));
  if (!out[which]) return;
  for (int64_t i = 0; i < n && i < out[which]->numel; i++)
    CHECK(close_to(at(out[which], i), want[i], 1e-6, atol),
          "%s %s: element %lld = %.9g, expected %.9g", gb_ops[id].name, what, (long long)i,
          at(out[which], i), want[i]);
  gb_tensor_release(S, out[0]);
  gb_tensor_release(S, out[1]);
}

/* what PyTorch gives where an input is NaN (the naive double formula otherwise) */
static double nan_unary(gb_opid id, double x, double f0, double f1) {
  if (isnan(x)) return id == GB_OP_SIGN ? 0 : NAN; /* sign(nan) = 0, as torch 1.13 */
  return ref_unary(id, x, f0, f1);
}

static double nan_binary(gb_opid id, double x, double y, double f0, double f1) {
  bool any = isnan(x) || isnan(y);
  if (any && (id == GB_OP_MAXIMUM || id == GB_OP_MINIMUM)) return NAN;
  if (id == GB_OP_RELU_BACKWARD && isnan(y)) return x; /* threshold_backward: y <= 0 ? 0 : g */
  return ref_binary(id, x, y, f0, f1);
}

static int check_nan_elementwise(gb_state *S, gb_opid id) {
  const float X[4] = {NAN, -1.5f, 0.5f, 2.0f}, Y[4] = {1.0f, NAN, NAN, -1.0f};
  const int64_t n4[1] = {4};
  double want[4];
  gb_opargs a = {.f = {0.1, 0.9}};
  if (id == GB_OP_CLAMP) a.f[0] = -1.0, a.f[1] = 1.0;
  if (id == GB_OP_POW_SCALAR || id == GB_OP_RPOW_SCALAR) a.f[0] = 2.0;
  gb_tensor *x = tensor_of(S, 1, n4, X), *y = NULL;
  if (gb_ops[id].nin == 1) {
    a.in[0] = x, a.nin = 1;
    for (int k = 0; k < 4; k++)
      want[k] = nan_unary(id, X[k], a.f[0], a.f[1]);
  } else {
    y = tensor_of(S, 1, n4, Y);
    a.in[0] = x, a.in[1] = y, a.nin = 2;
    for (int k = 0; k < 4; k++)
      want[k] = nan_binary(id, X[k], Y[k], a.f[0], a.f[1]);
  }
  expect_row(S, id, &a, 0, want, 4, 1e-6, "with NaN inputs");
  gb_tensor_release(S, x);
  gb_tensor_release(S, y);
  return 1;
}

static const double QNAN = NAN;

/* reductions over dim 2 of (2,3) {{1, nan, 3}, {4, 5, 6}}: NaN wins (its index for argmax) */
static void check_nan_reduce(gb_state *S, gb_opid id) {
  const float v[6] = {1, NAN, 3, 4, 5, 6};
  gb_tensor *x = tensor_of(S, 2, (int64_t[]){2, 3}, v);
  gb_opargs a = {.in = {x}, .nin = 1, .i = {2, 0, 1}};
  bool along =
      id == GB_OP_MAX_DIM || id == GB_OP_MIN_DIM || id == GB_OP_ARGMAX || id == GB_OP_ARGMIN;
  if (along) a.i[0] = 1;
  double want[2] = {QNAN, 0};
  switch (id) {
  case GB_OP_SUM: want[1] = 15; break;
  case GB_OP_MEAN: want[1] = 5; break;
  case GB_OP_VAR: want[1] = 1; break;
  case GB_OP_LOGSUMEXP: want[1] = log(exp(4.0) + exp(5.0) + exp(6.0)); break;
  case GB_OP_AMAX:
  case GB_OP_MAX_DIM: want[1] = 6; break;
  case GB_OP_AMIN:
  case GB_OP_MIN_DIM: want[1] = 4; break;
  case GB_OP_ARGMAX: want[0] = 2, want[1] = 3; break;
  default: want[0] = 2, want[1] = 1; break; /* argmin */
  }
  expect_row(S, id, &a, 0, want, 2, 0, "with a NaN");
  if (id == GB_OP_MAX_DIM || id == GB_OP_MIN_DIM) { /* the index output names the NaN too */
    double idx[2] = {2, id == GB_OP_MAX_DIM ? 3 : 1};
    expect_row(S, id, &a, 1, idx, 2, 0, "indices with a NaN");
  }
  gb_tensor_release(S, x);
}

static void check_nan_rows(gb_state *S) {
  int64_t n2x3[2] = {2, 3};
  const float xv[6] = {NAN, 1, 2, 0.5f, -1, 2};
  double rowwant[6];
  gb_tensor *x = tensor_of(S, 2, n2x3, xv), *lab = labels(S, 2, 3);
  /* softmax family and the class losses: a NaN in a row makes that row NaN */
  for (int lg = 0; lg < 2; lg++) {
    gb_opid id = lg ? GB_OP_LOG_SOFTMAX : GB_OP_SOFTMAX;
    double z = exp(0.5) + exp(-1) + exp(2);
    for (int j = 0; j < 3; j++) {
      rowwant[j] = QNAN;
      rowwant[3 + j] = lg ? xv[3 + j] - log(z) : exp(xv[3 + j]) / z;
    }
    gb_opargs a = {.in = {x}, .nin = 1, .i = {1}};
    expect_row(S, id, &a, 0, rowwant, 6, 1e-6, "with a NaN row");
  }
  {
    gb_opargs a = {.in = {x, lab}, .nin = 2};
    double want = QNAN;
    expect_row(S, GB_OP_CROSS_ENTROPY, &a, 0, &want, 1, 0, "with a NaN logit");
    /* nll picks row 1's label 1 (labels() gives 1 + (7i+3)%3 = {1, 2}): NaN at x[0][0] */
    expect_row(S, GB_OP_NLL_LOSS, &a, 0, &want, 1, 0, "with a NaN picked");
  }
  /* max pooling: a NaN in a window is the window's maximum, and gets its gradient */
  {
    const float pv[4] = {1, NAN, 3, 2};
    gb_tensor *p = tensor_of(S, 4, (int64_t[]){1, 1, 2, 2}, pv);
    gb_opargs a = {.in = {p}, .nin = 1, .i = {2, 2, 2, 2, 0, 0, 2, 2}};
    double want = QNAN;
    expect_row(S, GB_OP_MAX_POOL2D, &a, 0, &want, 1, 0, "with a NaN");
    gb_tensor *g = tensor_of(S, 4, (int64_t[]){1, 1, 1, 1}, (float[]){0.5f}), *q, *o[2];
    gb_fn_clone(S, p, &q);
    q->requires_grad = true;
    a.in[0] = q;
    CHECK(gb_op_run(S, GB_OP_MAX_POOL2D, &a, o) == GB_OK, "max_pool2d: %s", gb_state_error(S));
    gb_opargs b = {.in = {g, o[1]}, .nin = 2, .i = {2, 2, 2, 2, 0, 0, 2, 2}};
    double gwant[4] = {0, 0.5, 0, 0};
    expect_row(S, GB_OP_MAX_POOL2D_BACKWARD, &b, 0, gwant, 4, 0, "with a NaN");
    gb_tensor_release(S, o[0]);
    gb_tensor_release(S, o[1]);
    gb_tensor_release(S, q);
    gb_tensor_release(S, g);
    gb_tensor_release(S, p);
  }
  /* where: a NaN condition counts as true (bool(nan)), NaN values pass through */
  {
    gb_tensor *c = tensor_of(S, 1, (int64_t[]){3}, (float[]){NAN, 0, 1});
    gb_tensor *u = tensor_of(S, 1, (int64_t[]){3}, (float[]){1, 2, NAN});
    gb_tensor *w = tensor_of(S, 1, (int64_t[]){3}, (float[]){4, NAN, 6});
    gb_opargs a = {.in = {c, u, w}, .nin = 3};
    double want[3] = {1, QNAN, QNAN};
    expect_row(S, GB_OP_WHERE, &a, 0, want, 3, 0, "with NaNs");
    gb_tensor_release(S, c);
    gb_tensor_release(S, u);
    gb_tensor_release(S, w);
  }
  /* a matrix product row with a NaN is NaN across */
  {
    gb_tensor *w = tensor_of(S, 2, (int64_t[]){3, 2}, (float[]){1, 0, 0, 1, 1, 1});
    gb_opargs a = {.in = {x, w}, .nin = 2};
    double want[4] = {QNAN, QNAN, 0.5 + 2, -1 + 2};
    expect_row(S, GB_OP_MATMUL, &a, 0, want, 4, 1e-6, "with a NaN");
    gb_tensor_release(S, w);
  }
  gb_tensor_release(S, x);
  gb_tensor_release(S, lab);
}

/* log_softmax and cross-entropy at large offsets: (x - max) - log(sum), not x - (max + log(sum));
 * three equal inputs of 1000.5 give -log 3 = -1.09861231 (PyTorch float32), not -1.09863281 */
static void check_large_offsets(gb_state *S) {
  const double offs[2] = {1000.5, 1e6};
  for (int o = 0; o < 2; o++) {
    float b = (float)offs[o];
    char what[64];
    snprintf(what, sizeof what, "at offset %g", offs[o]);
    gb_tensor *eq = tensor_of(S, 2, (int64_t[]){1, 3}, (float[]){b, b, b});
    gb_tensor *st = tensor_of(S, 2, (int64_t[]){1, 3}, (float[]){b, b - 1, b - 2});
    gb_opargs a = {.in = {eq}, .nin = 1, .i = {1}};
    double l3 = -log(3.0), want[3] = {l3, l3, l3};
    expect_row(S, GB_OP_LOG_SOFTMAX, &a, 0, want, 3, 1.2e-7, what);
    double z = 1 + exp(-1.0) + exp(-2.0), ws[3] = {-log(z), -1 - log(z), -2 - log(z)};
    a.in[0] = st;
    expect_row(S, GB_OP_LOG_SOFTMAX, &a, 0, ws, 3, 2.4e-7, what);
    /* d/dx sum(log_softmax(x)) = 1 - 3 softmax = 0: the tape's gradient stays below 1e-7
       (PyTorch 5.96e-08; the old x - (max + log sum) form gave 2.05e-05 at 1000.5) */
    gb_tensor *leaf, *y, *loss;
    gb_fn_clone(S, eq, &leaf);
    leaf->requires_grad = true;
    gb_opargs la = {.in = {leaf}, .nin = 1, .i = {1}};
    gb_tensor *outs[2] = {NULL, NULL};
    CHECK(gb_op_run(S, GB_OP_LOG_SOFTMAX, &la, outs) == GB_OK, "log_softmax: %s",
          gb_state_error(S));
    y = outs[0];
    gb_fn_reduce(S, GB_OP_SUM, y, 0, false, &loss);
    CHECK(gb_backward(S, loss, NULL, false) == GB_OK, "backward: %s", gb_state_error(S));
    for (int k = 0; leaf->grad && k < 3; k++)
      CHECK(fabs(at(leaf->grad, k)) <= 1e-7, "log_softmax gradient %s: %.3g, expected |g| <= 1e-7",
            what, at(leaf->grad, k));
    gb_tensor_release(S, loss);
    gb_tensor_release(S, y);
    gb_tensor_release(S, leaf);
    /* cross-entropy of the staircase row with label 2: (max - x[2]) + log(sum) = 1 + log z */
    gb_tensor *lab = make(S, 1, (int64_t[]){1}, GB_I64);
    ((int64_t *)gb_tensor_data(lab))[0] = 2;
    gb_opargs ca = {.in = {st, lab}, .nin = 2};
    double ce = 1 + log(z);
    expect_row(S, GB_OP_CROSS_ENTROPY, &ca, 0, &ce, 1, 2.4e-7, what);
    gb_tensor *g = make(S, 0, NULL, GB_F32);
    *gb_tensor_f32(g) = 1.0f;
    gb_opargs cb = {.in = {st, lab, g}, .nin = 3};
    double gw[3] = {1 / z, exp(-1.0) / z - 1, exp(-2.0) / z};
    expect_row(S, GB_OP_CROSS_ENTROPY_BACKWARD, &cb, 0, gw, 3, 1.2e-7, what);
    gb_tensor_release(S, g);
    gb_tensor_release(S, lab);
    gb_tensor_release(S, eq);
    gb_tensor_release(S, st);
  }
}

/* masked_fill keeps a NaN where the mask is 0 and a NaN mask fills (bool(nan) is true);
 * logsumexp at infinities (PyTorch: -inf for all -inf, +inf with one +inf) and at large
 * offsets, where max + log(sum(exp(x - max))) keeps the digits */
static void check_issue15_specials(gb_state *S) {
  {
    gb_tensor *x = tensor_of(S, 1, (int64_t[]){4}, (float[]){NAN, NAN, 1, 2});
    gb_tensor *m = tensor_of(S, 1, (int64_t[]){4}, (float[]){0, 1, NAN, 0});
    gb_opargs a = {.in = {x, m}, .nin = 2, .f = {9}};
    double want[4] = {QNAN, 9, 9, 2};
    expect_row(S, GB_OP_MASKED_FILL, &a, 0, want, 4, 0, "with NaNs");
    gb_tensor_release(S, x);
    gb_tensor_release(S, m);
  }
  {
    const float v[9] = {-INFINITY, -INFINITY, -INFINITY, 1, INFINITY, 2, 1000.5f, 1000.5f, 1000.5f};
    gb_tensor *x = tensor_of(S, 2, (int64_t[]){3, 3}, v);
    gb_opargs a = {.in = {x}, .nin = 1, .i = {2, 0}};
    double want[3] = {-INFINITY, INFINITY, 1000.5 + log(3.0)};
    expect_row(S, GB_OP_LOGSUMEXP, &a, 0, want, 3, 0, "at infinities and offset 1000.5");
    gb_tensor_release(S, x);
  }
  { /* cumsum: a NaN makes the rest of its line NaN, forward and reversed */
    gb_tensor *x = tensor_of(S, 1, (int64_t[]){4}, (float[]){1, NAN, 3, 4});
    gb_opargs a = {.in = {x}, .nin = 1, .i = {0, 0}};
    double want[4] = {1, QNAN, QNAN, QNAN}, rwant[4] = {QNAN, QNAN, 7, 4};
    expect_row(S, GB_OP_CUMSUM, &a, 0, want, 4, 0, "with a NaN");
    a.i[1] = 1;
    expect_row(S, GB_OP_CUMSUM, &a, 0, rwant, 4, 0, "reversed, with a NaN");
    gb_tensor_release(S, x);
  }
  { /* a stepped slice is a view; sizes that overflow are clean errors */
    gb_tensor *x = make(S, 2, (int64_t[]){4, 10}, GB_F32), *v = NULL;
    gb_opargs a = {.in = {x}, .nin = 1, .i = {1, 1, 3, 4}};
    CHECK(gb_op_run(S, GB_OP_SLICE, &a, &v) == GB_OK, "slice: %s", gb_state_error(S));
    CHECK(v && v->storage == x->storage && v->stride[1] == 4 && v->offset == 1 && v->shape[1] == 3,
          "slice: expected a view with stride 4 and offset 1");
    gb_tensor_release(S, v);
    a.i[2] = 4; /* 1 + 3 * 4 = 13 > 9 */
    CHECK(gb_op_run(S, GB_OP_SLICE, &a, &v) == GB_EARG &&
              strstr(gb_state_error(S), "do not fit dimension 2 (size 10)"),
          "slice past the end: %s", gb_state_error(S));
    a.i[2] = 2, a.i[3] = INT64_MAX / 2;
    CHECK(gb_op_run(S, GB_OP_SLICE, &a, &v) == GB_EARG, "slice with a huge step: %s",
          gb_state_error(S));
    gb_opargs r = {.in = {x}, .nin = 1, .i = {2, INT64_MAX / 2, 3}};
    CHECK(gb_op_run(S, GB_OP_REPEAT, &r, &v) != GB_OK && strstr(gb_state_error(S), "repeat"),
          "repeat past int64: %s", gb_state_error(S));
    r.i[1] = (int64_t)1 << 20, r.i[2] = (int64_t)1 << 20;
    CHECK(gb_op_run(S, GB_OP_REPEAT, &r, &v) == GB_ESHAPE && strstr(gb_state_error(S), "repeat"),
          "repeat past the element cap: %s", gb_state_error(S));
    gb_tensor_release(S, x);
  }
  { /* sort: stable (ties keep their order), NaN largest, 1-based indices; topk likewise */
    gb_tensor *x = tensor_of(S, 1, (int64_t[]){6}, (float[]){2, NAN, -1, 2, INFINITY, -1});
    gb_opargs a = {.in = {x}, .nin = 1, .i = {0, 0}};
    double v[6] = {-1, -1, 2, 2, INFINITY, QNAN}, ix[6] = {3, 6, 1, 4, 5, 2};
    expect_row(S, GB_OP_SORT, &a, 0, v, 6, 0, "ascending with ties and a NaN");
    expect_row(S, GB_OP_SORT, &a, 1, ix, 6, 0, "indices, ascending");
    a.i[1] = 1;
    double dv[6] = {QNAN, INFINITY, 2, 2, -1, -1}, dix[6] = {2, 5, 1, 4, 3, 6};
    expect_row(S, GB_OP_SORT, &a, 0, dv, 6, 0, "descending");
    expect_row(S, GB_OP_SORT, &a, 1, dix, 6, 0, "indices, descending");
    gb_opargs t = {.in = {x}, .nin = 1, .i = {0, 3, 0, 1}};
    expect_row(S, GB_OP_TOPK, &t, 1, ix, 3, 0, "smallest 3, indices");
    t.i[1] = 7;
    gb_tensor *o[2] = {NULL, NULL};
    CHECK(gb_op_run(S, GB_OP_TOPK, &t, o) == GB_EARG &&
              strstr(gb_state_error(S), "topk: k = 7 is out of range 0..6"),
          "topk with k past the size: %s", gb_state_error(S));
    gb_tensor_release(S, x);
  }
  { /* an empty reduction is -inf, as torch.logsumexp */
    gb_tensor *x = make(S, 2, (int64_t[]){2, 0}, GB_F32);
    gb_opargs a = {.in = {x}, .nin = 1, .i = {2, 0}};
    double want[2] = {-INFINITY, -INFINITY};
    expect_row(S, GB_OP_LOGSUMEXP, &a, 0, want, 2, 0, "of an empty dimension");
    gb_tensor_release(S, x);
  }
}

/* rows whose NaN behaviour is checked above or that only move values (a NaN moves like any
 * other value); a float row in neither list fails, so a new row gets a NaN case */
static bool nan_covered(gb_state *S, gb_opid id) {
  switch (id) {
  case GB_OP_FILL:
  case GB_OP_ARANGE:
  case GB_OP_EYE:
  case GB_OP_UNIFORM:
  case GB_OP_NORMAL:
  case GB_OP_COPY:
  case GB_OP_RESHAPE:
  case GB_OP_PERMUTE:
  case GB_OP_TRANSPOSE:
  case GB_OP_NARROW:
  case GB_OP_SELECT:
  case GB_OP_EXPAND:
  case GB_OP_PAD:
  case GB_OP_LINSPACE:
  case GB_OP_CAT:
  case GB_OP_SLICE:
  case GB_OP_REPEAT:
  case GB_OP_INDEX_SELECT:
  case GB_OP_INDEX_ADD:
  case GB_OP_GATHER:
  case GB_OP_SCATTER_ADD:
  case GB_OP_IM2COL:
  case GB_OP_COL2IM:
  case GB_OP_SGD_STEP:
  case GB_OP_ADAM_STEP: return true; /* moves and sums of values; updates: arithmetic */
  case GB_OP_SOFTMAX:
  case GB_OP_LOG_SOFTMAX:
  case GB_OP_CROSS_ENTROPY:
  case GB_OP_NLL_LOSS:
  case GB_OP_MAX_POOL2D:
  case GB_OP_MAX_POOL2D_BACKWARD:
  case GB_OP_WHERE:
  case GB_OP_MATMUL:
  case GB_OP_CUMSUM:
  case GB_OP_SORT:
  case GB_OP_TOPK: return true; /* check_nan_rows, check_issue15_specials */
  case GB_OP_SOFTMAX_BACKWARD:
  case GB_OP_LOG_SOFTMAX_BACKWARD:
  case GB_OP_CROSS_ENTROPY_BACKWARD:
  case GB_OP_NLL_LOSS_BACKWARD:
  case GB_OP_ADDMM:
  case GB_OP_CONV2D_BACKWARD_INPUT:
  case GB_OP_CONV2D_BACKWARD_WEIGHT:
  case GB_OP_AVG_POOL2D_BACKWARD:
  case GB_OP_ADAPTIVE_AVG_POOL2D_BACKWARD:
  case GB_OP_BATCH_NORM_BACKWARD:
  case GB_OP_LAYER_NORM_BACKWARD:
  case GB_OP_SDPA_BACKWARD: return true; /* arithmetic on the same values as their forward rows */
  case GB_OP_LAYER_NORM:
  case GB_OP_MASKED_SOFTMAX:
  case GB_OP_SDPA: return true; /* check_nan_attn */
  case GB_OP_CONV2D:
  case GB_OP_AVG_POOL2D:
  case GB_OP_ADAPTIVE_AVG_POOL2D:
  case GB_OP_BATCH_NORM: return true; /* check_nan_nn */
  case GB_OP_LSTM_SEQ:
  case GB_OP_LSTM_SEQ_BACKWARD:
  case GB_OP_GRU_SEQ:
  case GB_OP_GRU_SEQ_BACKWARD: return true; /* tests/lua/rnn_spec.lua: a NaN input */
  case GB_OP_SUM:
  case GB_OP_MEAN:
  case GB_OP_VAR:
  case GB_OP_LOGSUMEXP:
  case GB_OP_AMAX:
  case GB_OP_AMIN:
  case GB_OP_MAX_DIM:
  case GB_OP_MIN_DIM:
  case GB_OP_ARGMAX:
  case GB_OP_ARGMIN: check_nan_reduce(S, id); return true;
  default:
    if (gb_ops[id].nin == 1 || gb_ops[id].nin == 2) return check_nan_elementwise(S, id);
    return false;
  }
}

/* nn-layer rows: a NaN reaches exactly the outputs whose window (or channel) holds it */
static void check_nan_nn(gb_state *S) {
  const float xv[4] = {1, NAN, 3, 2};
  gb_tensor *x = tensor_of(S, 4, (int64_t[]){1, 1, 2, 2}, xv);
  gb_tensor *w = tensor_of(S, 4, (int64_t[]){1, 1, 1, 1}, (float[]){2});
  gb_tensor *b = tensor_of(S, 1, (int64_t[]){1}, (float[]){0.5f});
  gb_opargs cv = {.in = {x, w, b}, .nin = 3, .i = {1, 1, 1, 1, 0, 0}};
  double cw[4] = {2.5, QNAN, 6.5, 4.5};
  expect_row(S, GB_OP_CONV2D, &cv, 0, cw, 4, 1e-6, "with a NaN");
  gb_opargs ap = {.in = {x}, .nin = 1, .i = {1, 2, 1, 2, 0, 0, 1}}; /* rows {1, nan}, {3, 2} */
  double aw[2] = {QNAN, 2.5};
  expect_row(S, GB_OP_AVG_POOL2D, &ap, 0, aw, 2, 1e-6, "with a NaN");
  gb_opargs ad = {.in = {x}, .nin = 1, .i = {2, 1}};
  expect_row(S, GB_OP_ADAPTIVE_AVG_POOL2D, &ad, 0, aw, 2, 1e-6, "with a NaN");
  /* batch norm over (2,2): channel 2 holds the NaN, channel 1 ({1, 3}) normalizes to -+1 */
  gb_tensor *bx = tensor_of(S, 2, (int64_t[]){2, 2}, xv);
  gb_tensor *bw = tensor_of(S, 1, (int64_t[]){2}, (float[]){1, 1});
  gb_tensor *bb = tensor_of(S, 1, (int64_t[]){2}, (float[]){0, 0});
  gb_opargs bn = {.in = {bx, bw, bb}, .nin = 3, .f = {1e-12}};
  double bnw[4] = {-1, QNAN, 1, QNAN};
  expect_row(S, GB_OP_BATCH_NORM, &bn, 0, bnw, 4, 1e-5, "with a NaN");
  gb_tensor *objs[] = {x, w, b, bx, bw, bb};
  for (size_t k = 0; k < sizeof objs / sizeof objs[0]; k++)
    gb_tensor_release(S, objs[k]);
}

/* the Transformer rows: a NaN makes its row NaN (layer norm, softmax) and reaches exactly the
 * queries that may see it; a NaN at a causally masked position is never read */
static void check_nan_attn(gb_state *S) {
  const float xv[6] = {NAN, 1, 2, 0.5f, -1, 2};
  gb_tensor *x = tensor_of(S, 2, (int64_t[]){2, 3}, xv);
  gb_opargs ln = {.in = {x}, .nin = 1, .f = {1e-5}, .i = {1}};
  double mu = 0.5, var = (0 + 2.25 + 2.25) / 3, want[6] = {QNAN, QNAN, QNAN};
  for (int k = 0; k < 3; k++)
    want[3 + k] = (xv[3 + k] - mu) / sqrt(var + 1e-5);
  expect_row(S, GB_OP_LAYER_NORM, &ln, 0, want, 6, 1e-6, "with a NaN row");
  gb_opargs sm = {.in = {x}, .nin = 1, .i = {0}};
  double z = exp(0.5) + exp(-1.0) + exp(2.0);
  for (int k = 0; k < 3; k++)
    want[3 + k] = exp(xv[3 + k]) / z;
  expect_row(S, GB_OP_MASKED_SOFTMAX, &sm, 0, want, 6, 1e-6, "with a NaN row");
  gb_tensor *c = tensor_of(S, 2, (int64_t[]){2, 2}, (float[]){1, NAN, 0, 1});
  gb_opargs cm = {.in = {c}, .nin = 1, .i = {1}};
  double cw[4] = {1, 0, 1 / (1 + exp(1.0)), exp(1.0) / (1 + exp(1.0))};
  expect_row(S, GB_OP_MASKED_SOFTMAX, &cm, 0, cw, 4, 1e-6, "with a NaN masked causally");
  gb_tensor *q = tensor_of(S, 4, (int64_t[]){1, 1, 2, 1}, (float[]){1, 1});
  gb_tensor *k = tensor_of(S, 4, (int64_t[]){1, 1, 2, 1}, (float[]){0.5f, NAN});
  gb_tensor *v = tensor_of(S, 4, (int64_t[]){1, 1, 2, 1}, (float[]){3, 4});
  gb_opargs at = {.in = {q, k, v}, .nin = 3, .f = {1}, .i = {1}};
  double aw[2] = {3, QNAN};
  expect_row(S, GB_OP_SDPA, &at, 0, aw, 2, 1e-6, "with a NaN key");
  /* a query row whose every key the mask hides is NaN, in the fused row as in the masked
   * softmax the materialised path runs (and PyTorch's math path); the other rows keep theirs */
  gb_tensor *fm = tensor_of(S, 2, (int64_t[]){2, 2}, (float[]){-INFINITY, -INFINITY, 0, -INFINITY});
  gb_tensor *k2 = tensor_of(S, 4, (int64_t[]){1, 1, 2, 1}, (float[]){0.5f, 2});
  gb_opargs am = {.in = {q, k2, v, fm}, .nin = 4, .f = {1}, .i = {0}};
  double amw[2] = {QNAN, 3};
  expect_row(S, GB_OP_SDPA, &am, 0, amw, 2, 1e-6, "with a fully masked row");
  gb_opargs sm2 = {.in = {fm, fm}, .nin = 2, .i = {0}}; /* scores -inf or 0, plus the mask */
  double smw[4] = {QNAN, QNAN, 1, 0};
  expect_row(S, GB_OP_MASKED_SOFTMAX, &sm2, 0, smw, 4, 1e-6, "with a fully masked row");
  gb_tensor *objs[] = {x, c, q, k, v, fm, k2};
  for (size_t j = 0; j < sizeof objs / sizeof objs[0]; j++)
    gb_tensor_release(S, objs[j]);
}

/* ---- sdpa with a mask (issue 15): every form the callers pass, on q (2,2,3,4), k (2,2,5,4),
 * v (2,2,5,3) at scale 0.5 with a (B,L,H,Ev) gradient: the output and sdpa_backward's gq
 * against the reference in double, and the tape's gradients of q, k, v against central
 * differences (the mask gets none: it is a constant of the loss). ---- */

typedef struct mask_form {
  const char *what;
  int nd;
  int64_t shape[4]; /* the logical mask shape, right-aligned to (B,H,L,S) */
  bool trans;       /* built as the transpose of its last two dims (a strided view) */
  bool causal;
  int hide; /* -inf at every hide-th element (0: none); no row is left without a key */
} mask_form;

/* the mask element read by score (b, h, i, j) of (2,2,3,5) */
static double mask_at(const gb_tensor *m, int64_t b, int64_t h, int64_t i, int64_t j) {
  int64_t c[4] = {b, h, i, j}, idx = 0;
  for (int d = 0; d < m->ndim; d++) {
    int64_t sd = m->shape[d], cd = c[4 - m->ndim + d];
    idx = idx * sd + (sd == 1 ? 0 : cd);
  }
  return at(m, idx);
}

/* out (B,L,H,Ev) and gq (B,H,L,E) of masked attention, in double */
static void ref_sdpa_masked(const gb_tensor *q, const gb_tensor *k, const gb_tensor *v,
                            const gb_tensor *m, const gb_tensor *g, bool causal, double *out,
                            double *gq) {
  enum { AH = 2, AL = 3, AS = 5, AE = 4, AV = 3 };
  const double scale = 0.5;
  for (int bh = 0; bh < 4; bh++)
    for (int i = 0; i < AL; i++) {
      int b = bh / AH, h = bh % AH, seen = causal ? i + 1 : AS;
      double p[AS], dp[AS], mx = -INFINITY, s = 0, dot = 0;
      for (int j = 0; j < AS; j++) {
        double d = 0;
        for (int e = 0; e < AE; e++)
          d += at(q, (bh * AL + i) * AE + e) * at(k, (bh * AS + j) * AE + e);
        p[j] = j < seen ? d * scale + mask_at(m, b, h, i, j) : -INFINITY;
        mx = fmax(mx, p[j]);
      }
      for (int j = 0; j < AS; j++)
        p[j] = exp(p[j] - mx), s += p[j];
      for (int j = 0; j < AS; j++)
        p[j] /= s;
      for (int e = 0; e < AV; e++) {
        double o = 0;
        for (int j = 0; j < AS; j++)
          o += p[j] * at(v, (bh * AS + j) * AV + e);
        out[((b * AL + i) * AH + h) * AV + e] = o;
      }
      for (int j = 0; j < AS; j++) {
        dp[j] = 0;
        for (int e = 0; e < AV; e++)
          dp[j] += at(g, ((b * AL + i) * AH + h) * AV + e) * at(v, (bh * AS + j) * AV + e);
        dot += p[j] * dp[j];
      }
      for (int e = 0; e < AE; e++) {
        double t = 0;
        for (int j = 0; j < AS; j++)
          t += p[j] * (dp[j] - dot) * at(k, (bh * AS + j) * AE + e);
        gq[(bh * AL + i) * AE + e] = scale * t;
      }
    }
}

static gb_tensor *make_mask(gb_state *S, const mask_form *f) {
  int64_t shp[4];
  memcpy(shp, f->shape, sizeof shp);
  if (f->trans) shp[f->nd - 2] = f->shape[f->nd - 1], shp[f->nd - 1] = f->shape[f->nd - 2];
  gb_tensor *m = frand(S, f->nd, shp, -1, 1), *t;
  for (int64_t e = f->hide; f->hide && e < m->numel; e += f->hide)
    gb_tensor_f32(m)[e] = -INFINITY;
  if (!f->trans) return m;
  if (gb_fn_transpose(S, m, f->nd - 2, f->nd - 1, &t)) abort();
  gb_tensor_release(S, m);
  return t;
}

static int check_sdpa_masks(gb_state *S) {
  static const mask_form forms[] = {
      {"(L,S)", 2, {3, 5}, false, false, 4},
      {"(L,S) transposed, causal", 2, {3, 5}, true, true, 0},
      {"(B,H,L,S)", 4, {2, 2, 3, 5}, false, false, 3},
      {"(B,H,L,S), causal", 4, {2, 2, 3, 5}, false, true, 7},
      {"(B,1,1,S) key padding", 4, {2, 1, 1, 5}, false, false, 4},
      {"(B,1,1,S) key padding, causal", 4, {2, 1, 1, 5}, false, true, 4},
      {"(B,1,L,S) (both masks summed)", 4, {2, 1, 3, 5}, false, false, 4},
      {"(H,L,S) over the batch, causal", 3, {2, 3, 5}, false, true, 0},
      {"(1,H,1,S)", 4, {1, 2, 1, 5}, false, false, 0},
      {"(S)", 1, {5}, false, false, 3},
  };
  int n = 0;
  for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
    const mask_form *mf = &forms[f];
    gb_tensor *q = frand(S, 4, (int64_t[]){2, 2, 3, 4}, -1, 1);
    gb_tensor *k = frand(S, 4, (int64_t[]){2, 2, 5, 4}, -1, 1);
    gb_tensor *v = frand(S, 4, (int64_t[]){2, 2, 5, 3}, -1, 1);
    gb_tensor *g = frand(S, 4, (int64_t[]){2, 3, 2, 3}, -1, 1);
    gb_tensor *m = make_mask(S, mf);
    opcase fw = {.a = {.in = {q, k, v, m}, .nin = 4, .f = {0.5}, .i = {mf->causal}}},
           bw = {.a = {.in = {g, q, k, v, m}, .nin = 5, .f = {0.5}, .i = {mf->causal}}};
    fw.ref = alloc_ref(&fw, 36), bw.ref = alloc_ref(&bw, 48);
    ref_sdpa_masked(q, k, v, m, g, mf->causal, fw.ref, bw.ref);
    int before = failures;
    check_forward(S, GB_OP_SDPA, &fw);
    check_gradient(S, GB_OP_SDPA, &fw);
    check_forward(S, GB_OP_SDPA_BACKWARD, &bw);
    if (failures > before)
      fprintf(stderr, "  (the failures above: sdpa with a mask %s)\n", mf->what);
    free(fw.ref), free(bw.ref);
    gb_tensor *objs[] = {q, k, v, g, m};
    for (size_t j = 0; j < sizeof objs / sizeof objs[0]; j++)
      gb_tensor_release(S, objs[j]);
    n++;
  }
  /* a mask that requires grad is refused where sdpa records (it would get no gradient), and
   * taken under no_grad; a mask that does not broadcast is refused naming both shapes */
  gb_tensor *q = frand(S, 4, (int64_t[]){2, 2, 3, 4}, -1, 1);
  gb_tensor *m = frand(S, 2, (int64_t[]){3, 5}, -1, 1),
            *bad = frand(S, 2, (int64_t[]){2, 5}, -1, 1);
  gb_tensor *k = frand(S, 4, (int64_t[]){2, 2, 5, 4}, -1, 1), *out[2] = {NULL, NULL};
  m->requires_grad = true;
  gb_opargs a = {.in = {q, k, k, m}, .nin = 4, .f = {1}};
  CHECK(gb_op_run(S, GB_OP_SDPA, &a, out) == GB_EGRAD &&
            !strcmp(gb_state_error(S),
                    "sdpa: the mask (3,5) requires grad, but the fused row gives "
                    "it no gradient (detach it, or add it to the scores and "
                    "use gb._masked_softmax)"),
        "%s", gb_state_error(S));
  bool was = gb_set_grad_enabled(S, false);
  CHECK(gb_op_run(S, GB_OP_SDPA, &a, out) == GB_OK, "%s", gb_state_error(S));
  gb_set_grad_enabled(S, was);
  gb_tensor_release(S, out[0]);
  a.in[3] = bad;
  CHECK(gb_op_run(S, GB_OP_SDPA, &a, out) == GB_ESHAPE &&
            !strcmp(gb_state_error(S),
                    "sdpa: mask (2,5) does not broadcast to the scores (B,H,L,S) (2,2,3,5)"),
        "%s", gb_state_error(S));
  gb_tensor *objs[] = {q, m, bad, k};
  for (size_t j = 0; j < sizeof objs / sizeof objs[0]; j++)
    gb_tensor_release(S, objs[j]);
  return n;
}

/* ---- float64: each row the CPU backend runs in double (gb_backend.runs_f64) gets its float32
 * case again with the float inputs widened to float64 (the same values, so the same double
 * reference), checked to 1e-12 instead of 2e-6, and its tape gradient checked against central
 * differences with a step of 1e-6 to 1e-6 relative (float32 used 1e-2 and 2e-2). ---- */

static gb_tensor *widened(gb_state *S, gb_tensor *t) {
  gb_tensor *w;
  bool was = gb_set_grad_enabled(S, false);
  gb_status st = gb_fn_to_dtype(S, t, GB_F64, &w);
  gb_set_grad_enabled(S, was);
  if (st) abort();
  return w;
}

static void widen_case(gb_state *S, gb_opid id, opcase *c) {
  gb_tensor *old_into = c->into;
  for (int k = 0; k < c->a.nin; k++) {
    gb_tensor *t = c->a.in[k];
    if (t->dtype != GB_F32 || (id == GB_OP_WHERE && k == 0)) continue; /* where's 0/1 mask */
    c->a.in[k] = widened(S, t);
    if (t == old_into) { /* an in-place row (optimizer steps) writes its widened input */
      gb_tensor_release(S, c->into);
      c->into = c->a.in[k];
      gb_tensor_retain(c->into);
    }
    gb_tensor_release(S, t);
  }
  if (c->into && c->into == old_into && c->into->dtype == GB_F32) {
    c->into = widened(S, old_into);
    gb_tensor_release(S, old_into);
  }
}

static int check_float64(gb_state *S) {
  const gb_backend *b = gb_backend_loaded(GB_CPU);
  int n = 0;
  f64_pass = true;
  for (int id = 0; id < GB_NOPS; id++) {
    if (!b->runs_f64 || !b->runs_f64((gb_opid)id)) continue;
    if (id == GB_OP_UNIFORM || id == GB_OP_NORMAL) continue; /* 53-bit draws: philox_spec.lua */
    opcase c;
    build_case(S, (gb_opid)id, &c);
    CHECK(c.nref > 0, "row %s runs float64 but has no case", gb_ops[id].name);
    widen_case(S, (gb_opid)id, &c);
    check_forward(S, (gb_opid)id, &c);
    if (gb_ops[id].grad && c.smooth && gb_ops[id].grad != gb_grad_zero)
      check_gradient(S, (gb_opid)id, &c);
    free_case(S, &c);
    n++;
  }
  f64_pass = false;
  return n;
}

int main(void) {
  gb_cpu_backend_register();
  gb_state *S = gb_state_new();
  int tested = 0, graded = 0;
  for (int id = 0; id < GB_NOPS; id++) {
    opcase c;
    build_case(S, (gb_opid)id, &c);
    bool covered = c.nref > 0 || id == GB_OP_UNIFORM || id == GB_OP_NORMAL;
    CHECK(covered, "row %s has no case in test_ops.c", gb_ops[id].name);
    if (id == GB_OP_UNIFORM || id == GB_OP_NORMAL)
      check_random(S, (gb_opid)id);
    else if (covered)
      check_forward(S, (gb_opid)id, &c);
    tested += covered;
    if (gb_ops[id].grad && c.smooth && gb_ops[id].grad != gb_grad_zero) {
      check_gradient(S, (gb_opid)id, &c);
      graded++;
    }
    free_case(S, &c);
    CHECK(nan_covered(S, (gb_opid)id), "row %s has no NaN case in test_ops.c", gb_ops[id].name);
  }
  check_nan_rows(S);
  check_nan_nn(S);
  check_nan_attn(S);
  check_large_offsets(S);
  check_issue15_specials(S);
  check_max_pool_indices(S);
  check_optim_pieces(S);
  int masks = check_sdpa_masks(S);
  int doubled = check_float64(S);
  gb_memstats m;
  gb_state_memstats(S, GB_CPU, &m);
  CHECK(m.allocated == 0, "%lld bytes still allocated after all cases", (long long)m.allocated);
  gb_state_free(S);
  printf("%d rows, %d forward-checked, %d gradient-checked, %d also in float64, %d sdpa mask "
         "forms, %d failures\n",
         GB_NOPS, tested, graded, doubled, masks, failures);
  return failures ? 1 : 0;
}
