/* test_cuda_ops.c — every row of the op table that has a CUDA launcher, run on the CPU and on
 * cuda:0 with the same random inputs: outputs must agree (1e-5 relative + 1e-6 absolute,
 * 1e-4 for matrix products), and so must the gradients the tape computes on each device for
 * loss = sum(out * W). Cases come from the row's shape rule, so a new row that reuses a rule
 * is tested without new code; a row with an unknown rule fails until a case is added here.
 * Also: bad labels/indices give the CPU's error message, a true OOM is an error the session
 * survives, and the allocator gives every byte back. Exits 77 (skip) without a device. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gb_backend.h"
#include "gb_cpu.h"
#include "gb_cuda.h"
#include "gb_fn.h"
#include "gb_kernels.h"
#include "gb_state.h"

/* The test links the plugin: register its backend directly (no search for the file). */
static int device_count(const char **why) {
  const gb_backend *b = gb_cuda_backend_entry(GB_BACKEND_ABI, why);
  if (!b) return 0;
  gb_backend_register(b);
  return gb_device_count(GB_KIND_CUDA, why);
}

/* the device compared with the CPU: cuda:0, or the CPU itself in self-check mode
 * (GPUBP_TEST_SELFCHECK=1 on a machine without GPU exercises the cases and the harness) */
static gb_device test_dev = GB_DEVICE(GB_KIND_CUDA, 0);

#define OK(S, call)                                                                                \
  do {                                                                                             \
    gb_status st_ = (call);                                                                        \
    if (st_ != GB_OK) {                                                                            \
      fprintf(stderr, "%s:%d: %s -> %d: %s\n", __FILE__, __LINE__, #call, (int)st_,                \
              gb_state_error(S));                                                                  \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)

static unsigned rng = 20261129u;
static double urand(void) {
  rng = rng * 1664525u + 1013904223u;
  return (double)(rng >> 8) / 16777216.0;
}

enum fillk { MIXED, POS, SMALLINT, BITS, LABELS };

/* New CPU tensor with values of kind k (LABELS: 1..hi). */
static gb_tensor *make(gb_state *S, int ndim, const int64_t *shape, gb_dtype dt, int k,
                       int64_t hi) {
  gb_tensor *t;
  OK(S, gb_tensor_empty(S, ndim, shape, dt, GB_CPU, &t));
  for (int64_t i = 0; i < t->numel; i++) {
    double v;
    switch (k) {
    case MIXED: v = urand() * 4.0 - 2.0; break;
    case POS: v = 0.2 + urand() * 2.0; break;
    case SMALLINT: v = (double)(int)(urand() * 3.0); break;
    case BITS: v = urand() < 0.5 ? 0.0 : 1.0; break;
    default: v = 1.0 + (double)(int64_t)(urand() * (double)hi); break;
    }
    char *p = gb_tensor_data(t);
    if (dt == GB_F32)
      ((float *)p)[i] = (float)v;
    else if (dt == GB_F64)
      ((double *)p)[i] = v;
    else if (dt == GB_I32)
      ((int32_t *)p)[i] = (int32_t)v;
    else
      ((int64_t *)p)[i] = (int64_t)v;
  }
  return t;
}

#define SHAPE(...)                                                                                 \
  (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]) {                         \
    __VA_ARGS__                                                                                    \
  }

typedef struct tcase {
  const char *what;
  int nin;
  gb_tensor *in[GB_MAXIN]; /* CPU, contiguous */
  bool trans[GB_MAXIN];    /* use the input through a transpose of its last two dims */
  bool constant[GB_MAXIN]; /* not made a leaf that requires grad (sdpa's mask: no gradient) */
  gb_opargs a;
  /* rows that write into an existing tensor */
  int dst_ndim;
  int64_t dst_shape[GB_MAXDIM];
  gb_dtype dst_dt;
  bool dst_trans;
  bool inplace; /* the row updates in[0] (and its state inputs) in place */
  double rtol, atol;
} tcase;

static void add_in(tcase *c, gb_tensor *t, bool trans) {
  c->in[c->nin] = t;
  c->trans[c->nin++] = trans;
}

/* The absolute tolerance of a K-term product of MIXED inputs (|a|, |b| <= 2): the two devices
 * sum in different orders, so outputs near zero differ by rounding that grows like sqrt(K)
 * max|a| max|b| eps (a fixed 1e-5 missed on about 6 of 12,800 outputs at K = 784). */
static double mixed_product_atol(int64_t k) {
  return 8.0 * sqrt((double)k) * 4.0 * FLT_EPSILON;
}

static bool positive_input(gb_opid id) {
  return id == GB_OP_LOG || id == GB_OP_SQRT || id == GB_OP_POW_SCALAR || id == GB_OP_RDIV_SCALAR ||
         id == GB_OP_POW || id == GB_OP_DIV || id == GB_OP_LOG1P;
}

/* Fill case `v` of row `id`; false when the row has no case v. */
static bool make_case(gb_state *S, gb_opid id, int v, tcase *c) {
  memset(c, 0, sizeof *c);
  c->rtol = 1e-5;
  c->atol = 1e-6;
  c->what = "";
  const gb_oprow *r = &gb_ops[id];
  gb_infer_fn f = r->infer;
  gb_opargs *a = &c->a;
  if (f == gb_infer_into) {
    if (v > 2) return false;
    a->f[0] = -1.0, a->f[1] = 2.0, a->i[0] = 42, a->i[1] = 7;
    c->dst_ndim = 2;
    c->dst_shape[0] = 5, c->dst_shape[1] = 7;
    c->dst_dt = v == 2 ? GB_I64 : GB_F32;
    c->dst_trans = v == 1;
    c->what = v == 0 ? "float32" : v == 1 ? "transposed" : "int64";
    return true;
  }
  if (f == gb_infer_copy) {
    if (v > 3) return false;
    gb_dtype src = v == 3 ? GB_I64 : GB_F32;
    add_in(c, make(S, SHAPE(3, 4), src, v == 3 ? SMALLINT : MIXED, 0), v == 1);
    a->i[0] = v == 2 ? GB_I64 : v == 3 ? GB_F32 : -1;
    c->what = v == 0 ? "same dtype" : v == 1 ? "transposed" : v == 2 ? "f32->i64" : "i64->f32";
    return true;
  }
  if (f == gb_infer_reshape) {
    if (v > 0) return false;
    add_in(c, make(S, SHAPE(2, 6), GB_F32, MIXED, 0), false);
    a->i[0] = 3, a->i[1] = 3, a->i[2] = 2, a->i[3] = 2;
    return true;
  }
  if (f == gb_infer_permute) {
    if (v > 0) return false;
    add_in(c, make(S, SHAPE(2, 3, 4), GB_F32, MIXED, 0), false);
    a->i[0] = 3, a->i[1] = 2, a->i[2] = 0, a->i[3] = 1;
    return true;
  }
  if (f == gb_infer_transpose) {
    if (v > 0) return false;
    add_in(c, make(S, SHAPE(3, 4), GB_F32, MIXED, 0), false);
    a->i[0] = 0, a->i[1] = 1;
    return true;
  }
  if (f == gb_infer_narrow) {
    if (v > 0) return false;
    add_in(c, make(S, SHAPE(5, 4), GB_F32, MIXED, 0), false);
    a->i[0] = 0, a->i[1] = 1, a->i[2] = 3;
    return true;
  }
  if (f == gb_infer_select) {
    if (v > 0) return false;
    add_in(c, make(S, SHAPE(3, 4), GB_F32, MIXED, 0), false);
    a->i[0] = 1, a->i[1] = 2;
    return true;
  }
  if (f == gb_infer_expand) {
    if (v > 0) return false;
    add_in(c, make(S, SHAPE(3, 1), GB_F32, MIXED, 0), false);
    a->i[0] = 2, a->i[1] = 3, a->i[2] = 4;
    return true;
  }
  if (f == gb_infer_pad) {
    if (v > 1) return false;
    add_in(c, make(S, SHAPE(3, 4), GB_F32, MIXED, 0), v == 1);
    a->i[0] = v, a->i[1] = 1, a->i[2] = 6; /* (3,4) placed at 2 of 6 rows / columns */
    return true;
  }
  if (f == gb_infer_unary) {
    if (v > 2) return false;
    int k = positive_input(id) ? POS : MIXED;
    if (v == 2)
      add_in(c, make(S, SHAPE(40, 333), GB_F32, k, 0), false); /* several blocks */
    else
      add_in(c, make(S, SHAPE(4, 5), GB_F32, k, 0), v == 1);
    a->f[0] = 1.5, a->f[1] = -0.5;
    if (id == GB_OP_CLAMP) a->f[0] = -0.5, a->f[1] = 0.7;
    if (id == GB_OP_LEAKY_RELU) a->f[0] = 0.1;
    c->what = v == 0 ? "contiguous" : v == 1 ? "transposed" : "large";
    return true;
  }
  if (f == gb_infer_binary) {
    if (v > 2) return false;
    int k = positive_input(id) ? POS : MIXED;
    if (v == 0) { /* row broadcast */
      add_in(c, make(S, SHAPE(4, 5), GB_F32, k, 0), false);
      add_in(c, make(S, SHAPE(5), GB_F32, k, 0), false);
    } else if (v == 1) { /* outer broadcast */
      add_in(c, make(S, SHAPE(4, 1), GB_F32, k, 0), false);
      add_in(c, make(S, SHAPE(1, 5), GB_F32, k, 0), false);
    } else { /* same shape, one transposed */
      add_in(c, make(S, SHAPE(6, 4), GB_F32, k, 0), true);
      add_in(c, make(S, SHAPE(4, 6), GB_F32, k, 0), false);
    }
    if (id == GB_OP_MASKED_FILL) { /* a 0/1 mask in the second operand's shape */
      gb_tensor *m = c->in[1];
      c->in[1] = make(S, m->ndim, m->shape, GB_F32, BITS, 0);
      gb_tensor_release(S, m);
    }
    a->f[0] = 0.1;
    c->what = v == 0 ? "(4,5)x(5)" : v == 1 ? "(4,1)x(1,5)" : "transposed";
    return true;
  }
  if (f == gb_infer_compare) {
    if (v > 2) return false;
    gb_dtype dt = v == 0 ? GB_F32 : v == 1 ? GB_I64 : GB_I32;
    add_in(c, make(S, SHAPE(4, 5), dt, SMALLINT, 0), false);
    add_in(c, make(S, SHAPE(5), dt, SMALLINT, 0), false);
    c->what = gb_dtype_name(dt);
    return true;
  }
  if (f == gb_infer_where) {
    if (v > 0) return false;
    add_in(c, make(S, SHAPE(4, 5), GB_F32, BITS, 0), false);
    add_in(c, make(S, SHAPE(4, 5), GB_F32, MIXED, 0), false);
    add_in(c, make(S, SHAPE(5), GB_F32, MIXED, 0), false);
    return true;
  }
  if (f == gb_infer_reduce) {
    if (v > 4) return false;
    a->i[2] = 1; /* var: unbiased */
    switch (v) {
    case 0:
      add_in(c, make(S, SHAPE(3, 4, 5), GB_F32, MIXED, 0), false);
      a->i[0] = 5;
      break;
    case 1:
      add_in(c, make(S, SHAPE(3, 4, 5), GB_F32, MIXED, 0), false);
      a->i[0] = 0;
      break;
    case 2:
      add_in(c, make(S, SHAPE(3, 5, 4), GB_F32, MIXED, 0), true);
      a->i[0] = 2, a->i[1] = 1;
      break;
    case 3:
      add_in(c, make(S, SHAPE(2, 700), GB_F32, MIXED, 0), false);
      a->i[0] = 2;
      break;
    default:
      add_in(c, make(S, SHAPE(700, 3), GB_F32, MIXED, 0), false);
      a->i[0] = 1;
      break;
    }
    c->what = v == 0   ? "dims 1,3"
              : v == 1 ? "all"
              : v == 2 ? "transposed keepdim"
              : v == 3 ? "long rows"
                       : "long columns";
    if (v >= 3) c->rtol = 1e-4; /* 700-term float sums: summation order differs */
    return true;
  }
  if (f == gb_infer_reduce_dim) {
    if (v > 2) return false;
    if (v == 2)
      add_in(c, make(S, SHAPE(3, 100), GB_F32, MIXED, 0), false);
    else
      add_in(c, make(S, SHAPE(4, 6), GB_F32, MIXED, 0), false);
    a->i[0] = v == 1 ? 0 : 1;
    a->i[1] = v == 1;
    return true;
  }
  if (f == gb_infer_arg_reduce) {
    if (v > 2) return false;
    add_in(c, make(S, SHAPE(4, 6), GB_F32, MIXED, 0), v == 2);
    a->i[0] = v == 0 ? -1 : v == 1 ? 1 : 0;
    a->i[1] = v == 2;
    return true;
  }
  if (f == gb_infer_softmax) {
    if (v > 3) return false;
    switch (v) {
    case 0:
      add_in(c, make(S, SHAPE(4, 7), GB_F32, MIXED, 0), false);
      a->i[0] = 1;
      break;
    case 1:
      add_in(c, make(S, SHAPE(3, 4, 5), GB_F32, MIXED, 0), false);
      a->i[0] = 1;
      break;
    case 2:
      add_in(c, make(S, SHAPE(2, 50), GB_F32, MIXED, 0), false);
      a->i[0] = 1;
      break;
    default:
      add_in(c, make(S, SHAPE(7, 4), GB_F32, MIXED, 0), true);
      a->i[0] = 0;
      break;
    }
    return true;
  }
  if (f == gb_infer_softmax_backward) {
    if (v > 1) return false;
    if (v == 0) {
      add_in(c, make(S, SHAPE(4, 7), GB_F32, MIXED, 0), false);
      add_in(c, make(S, SHAPE(4, 7), GB_F32, POS, 0), false);
      a->i[0] = 1;
    } else {
      add_in(c, make(S, SHAPE(3, 40, 5), GB_F32, MIXED, 0), false);
      add_in(c, make(S, SHAPE(3, 40, 5), GB_F32, POS, 0), false);
      a->i[0] = 1;
    }
    return true;
  }
  if (f == gb_infer_class_loss || f == gb_infer_class_loss_backward) {
    if (v > 2) return false;
    int64_t n = v == 2 ? 50 : 6, cl = v == 2 ? 40 : 5;
    add_in(c, make(S, SHAPE(n, cl), GB_F32, MIXED, 0), false);
    add_in(c, make(S, SHAPE(n), v == 1 ? GB_I32 : GB_I64, LABELS, cl), false);
    if (f == gb_infer_class_loss_backward) {
      gb_tensor *g = make(S, 0, NULL, GB_F32, POS, 0);
      add_in(c, g, false);
    }
    c->what = v == 0 ? "int64 labels" : v == 1 ? "int32 labels" : "(50,40)";
    return true;
  }
  if (f == gb_infer_matmul) {
    if (v > 6) return false;
    c->rtol = 1e-4, c->atol = mixed_product_atol(v == 4 ? 784 : 6);
    switch (v) {
    case 0:
      add_in(c, make(S, SHAPE(4, 6), GB_F32, MIXED, 0), false);
      add_in(c, make(S, SHAPE(6, 3), GB_F32, MIXED, 0), false);
      break;
    case 1: /* both transposed views: passed to cuBLAS as flags */
      add_in(c, make(S, SHAPE(6, 4), GB_F32, MIXED, 0), true);
      add_in(c, make(S, SHAPE(3, 6), GB_F32, MIXED, 0), true);
      break;
    case 2:
      add_in(c, make(S, SHAPE(2, 4, 6), GB_F32, MIXED, 0), false);
      add_in(c, make(S, SHAPE(2, 6, 3), GB_F32, MIXED, 0), false);
      break;
    case 3:
      add_in(c, make(S, SHAPE(2, 4, 6), GB_F32, MIXED, 0), false);
      add_in(c, make(S, SHAPE(6, 3), GB_F32, MIXED, 0), false);
      break;
    case 5: /* 4-D batches, as attention's heads */
      add_in(c, make(S, SHAPE(2, 3, 4, 6), GB_F32, MIXED, 0), false);
      add_in(c, make(S, SHAPE(2, 3, 6, 5), GB_F32, MIXED, 0), false);
      break;
    case 6: /* 4-D with transposed matrices, and a shared 2-D right side */
      add_in(c, make(S, SHAPE(2, 3, 6, 4), GB_F32, MIXED, 0), true);
      add_in(c, make(S, SHAPE(6, 5), GB_F32, MIXED, 0), false);
      break;
    default: /* the MNIST layer's shapes */
      add_in(c, make(S, SHAPE(100, 784), GB_F32, MIXED, 0), false);
      add_in(c, make(S, SHAPE(128, 784), GB_F32, MIXED, 0), true);
      break;
    }
    return true;
  }
  if (f == gb_infer_addmm) {
    if (v > 2) return false;
    c->rtol = 1e-4, c->atol = 2.0 * mixed_product_atol(6); /* alpha = 2 */
    if (v == 2) { /* k = 0: out = beta * bias, cuBLAS not asked */
      add_in(c, make(S, SHAPE(4, 3), GB_F32, MIXED, 0), false);
      add_in(c, make(S, SHAPE(4, 0), GB_F32, MIXED, 0), false);
      add_in(c, make(S, SHAPE(0, 3), GB_F32, MIXED, 0), false);
      a->f[0] = 0.5, a->f[1] = 2.0;
      c->what = "k = 0";
      return true;
    }
    add_in(c, v == 0 ? make(S, SHAPE(3), GB_F32, MIXED, 0) : make(S, SHAPE(4, 3), GB_F32, MIXED, 0),
           false);
    add_in(c, make(S, SHAPE(6, 4), GB_F32, MIXED, 0), true);
    add_in(c, make(S, SHAPE(6, 3), GB_F32, MIXED, 0), false);
    a->f[0] = 0.5, a->f[1] = 2.0;
    return true;
  }
  if (f == gb_infer_index_select) {
    if (v > 1) return false;
    add_in(c, make(S, SHAPE(5, 3), GB_F32, MIXED, 0), false);
    add_in(c, make(S, SHAPE(4), GB_I64, LABELS, v == 0 ? 5 : 3), false);
    a->i[0] = v;
    return true;
  }
  if (f == gb_infer_index_add) {
    if (v > 0) return false;
    add_in(c, make(S, SHAPE(5, 3), GB_F32, MIXED, 0), false);
    add_in(c, make(S, SHAPE(8), GB_I64, LABELS, 5), false); /* repeats: atomics */
    add_in(c, make(S, SHAPE(8, 3), GB_F32, MIXED, 0), false);
    return true;
  }
  if (f == gb_infer_gather) {
    if (v > 1) return false;
    add_in(c, make(S, SHAPE(4, 5), GB_F32, MIXED, 0), false);
    if (v == 0)
      add_in(c, make(S, SHAPE(4, 3), GB_I64, LABELS, 5), false);
    else
      add_in(c, make(S, SHAPE(2, 5), GB_I64, LABELS, 4), false);
    a->i[0] = v == 0 ? 1 : 0;
    return true;
  }
  if (f == gb_infer_scatter_add) {
    if (v > 0) return false;
    add_in(c, make(S, SHAPE(4, 5), GB_F32, MIXED, 0), false);
    add_in(c, make(S, SHAPE(4, 6), GB_I64, LABELS, 5), false);
    add_in(c, make(S, SHAPE(4, 6), GB_F32, MIXED, 0), false);
    a->i[0] = 1;
    return true;
  }
  if (f == gb_infer_optim) {
    if (v > 1) return false;
    c->inplace = true;
    for (int k = 0; k < r->nin; k++) /* p, g, then state (second moments stay >= 0) */
      add_in(c, make(S, SHAPE(4, 5), GB_F32, k == 3 ? POS : MIXED, 0), false);
    if (id == GB_OP_ADAM_STEP) {
      a->f[0] = 0.01, a->f[1] = 0.9, a->f[2] = 0.999, a->f[3] = 1e-8, a->f[4] = 0.01;
      a->i[0] = 3, a->i[1] = v; /* v = 1: AdamW */
    } else {
      a->f[0] = 0.1, a->f[1] = 0.9, a->f[2] = 0.1, a->f[3] = 0.01;
      a->i[0] = v, a->i[1] = v == 0; /* nesterov on the second, first step on the first */
    }
    c->what = v == 0 ? "variant 1" : "variant 2";
    return true;
  }
  if (f == gb_infer_im2col || f == gb_infer_col2im) {
    if (v > 0) return false;
    int64_t w[8] = {3, 2, 2, 1, 1, 1, 5, 6}; /* kernel 3x2, stride 2x1, padding 1x1, 5x6 image */
    memcpy(a->i, w, sizeof w);
    if (f == gb_infer_im2col)
      add_in(c, make(S, SHAPE(2, 3, 5, 6), GB_F32, MIXED, 0), false);
    else
      add_in(c, make(S, SHAPE(2, 21, 18), GB_F32, MIXED, 0), false); /* OH*OW = 3*7 */
    return true;
  }
  if (f == gb_infer_pool2d || f == gb_infer_max_pool2d || f == gb_infer_max_pool2d_backward) {
    if (v > 2) return false;
    /* v 2: ceil_mode (i11) with dilation 2x1 (max: i9, i10) or divisor_override 5 (avg: i7):
     * 3x2 windows, stride 2, padding 1x0 over 5x6 -> 2x3 (max), 3x3 (avg) */
    static const int64_t w[3][12] = {
        {2, 2, 2, 2, 1, 1}, {3, 3, 1, 1, 0, 0}, {3, 2, 2, 2, 1, 0, 0, 5, 0, 2, 1, 1}};
    memcpy(a->i, w[v], sizeof w[v]);
    bool avg = f == gb_infer_pool2d;
    if (avg) a->i[9] = a->i[10] = 0; /* avg_pool2d has no dilation */
    int64_t oh = v < 2 ? 3 : avg ? 3 : 2, ow = v < 2 ? 4 : 3;
    gb_tensor *x = make(S, SHAPE(2, 3, 5, 6), GB_F32, MIXED, 0);
    if (f == gb_infer_max_pool2d_backward) { /* gout (2,3,OH,OW), the CPU forward's indices */
      add_in(c, make(S, SHAPE(2, 3, oh, ow), GB_F32, MIXED, 0), false);
      gb_opargs fa = {.in = {x}, .nin = 1};
      memcpy(fa.i, a->i, sizeof w[v]);
      a->i[6] = 5, a->i[7] = 6; /* the input's H, W */
      gb_tensor *o[2] = {NULL, NULL};
      x->requires_grad = true; /* a recorded call: it makes the indices */
      OK(S, gb_op_run(S, GB_OP_MAX_POOL2D, &fa, o));
      gb_tensor_release(S, o[0]);
      gb_tensor_release(S, x);
      add_in(c, o[1], false);
    } else {
      add_in(c, x, false);
    }
    c->what = v == 0 ? "2x2/2 pad 1" : v == 1 ? "3x3/1" : "3x2/2 pad 1x0 ceil, dilation or divisor";
    return true;
  }
  if (f == gb_infer_avg_pool2d_backward) { /* (gout, x) for avg_pool2d or adaptive_avg_pool2d */
    bool adaptive = id == GB_OP_ADAPTIVE_AVG_POOL2D_BACKWARD;
    if (v > (adaptive ? 0 : 2)) return false;
    /* all give 3x4; v 2: 3x3/2 pad 1, ceil_mode (i11), divisor_override 7 (i7) */
    static const int64_t w[3][12] = {
        {2, 2, 2, 2, 1, 1, 1}, {3, 3, 1, 1, 0, 0, 0}, {3, 3, 2, 2, 1, 1, 0, 7, 0, 0, 0, 1}};
    if (adaptive)
      a->i[0] = 3, a->i[1] = 4;
    else
      memcpy(a->i, w[v], sizeof w[v]);
    add_in(c, make(S, SHAPE(2, 3, 3, 4), GB_F32, MIXED, 0), false);
    add_in(c, make(S, SHAPE(2, 3, 5, 6), GB_F32, MIXED, 0), false);
    c->what = adaptive ? "5x6 -> 3x4"
              : v == 0 ? "2x2/2 pad 1, padding counted"
              : v == 1 ? "3x3/1"
                       : "3x3/2 pad 1 ceil, divisor 7";
    return true;
  }
  if (f == gb_infer_adaptive_pool2d) {
    if (v > 1) return false;
    a->i[0] = v == 0 ? 3 : 2, a->i[1] = v == 0 ? 4 : 5; /* uneven windows, then overlapping */
    add_in(c, make(S, SHAPE(2, 3, 5, 6), GB_F32, MIXED, 0), false);
    c->what = v == 0 ? "5x6 -> 3x4" : "5x6 -> 2x5";
    return true;
  }
  if (f == gb_infer_conv2d || f == gb_infer_conv2d_backward_input ||
      f == gb_infer_conv2d_backward_weight) {
    if (v > 3) return false;
    /* kh kw sh sw ph pw H W, bias flag, dh dw groups; input and output channels */
    static const int64_t p[4][12] = {{3, 3, 1, 1, 1, 1, 5, 6, 0, 1, 1, 1},
                                     {3, 2, 2, 1, 0, 1, 5, 6, 0, 1, 1, 1},
                                     {3, 2, 1, 2, 2, 1, 5, 6, 0, 2, 3, 2},
                                     {3, 3, 2, 2, 1, 1, 5, 6, 0, 1, 1, 3}};
    static const int64_t chans[4][2] = {{3, 4}, {3, 4}, {4, 6}, {3, 3}};
    memcpy(a->i, p[v], sizeof p[v]);
    int64_t ci = chans[v][0], co = chans[v][1], g = p[v][11];
    int64_t oh = (5 + 2 * p[v][4] - p[v][9] * (p[v][0] - 1) - 1) / p[v][2] + 1;
    int64_t ow = (6 + 2 * p[v][5] - p[v][10] * (p[v][1] - 1) - 1) / p[v][3] + 1;
    if (f != gb_infer_conv2d) add_in(c, make(S, SHAPE(2, co, oh, ow), GB_F32, MIXED, 0), false);
    if (f != gb_infer_conv2d_backward_input)
      add_in(c, make(S, SHAPE(2, ci, 5, 6), GB_F32, MIXED, 0), false);
    if (f != gb_infer_conv2d_backward_weight)
      add_in(c, make(S, SHAPE(co, ci / g, a->i[0], a->i[1]), GB_F32, MIXED, 0), false);
    if (f == gb_infer_conv2d) add_in(c, make(S, SHAPE(co), GB_F32, MIXED, 0), false);
    c->rtol = 1e-4, c->atol = 1e-5;
    static const char *what[4] = {"3x3/1 pad 1", "3x2 stride 2x1 pad 0x1",
                                  "groups 2, dilation 2x3, stride 1x2, pad 2x1",
                                  "depthwise 3x3/2 pad 1"};
    c->what = what[v];
    return true;
  }
  if (f == gb_infer_batch_norm || f == gb_infer_batch_norm_backward) {
    if (v > 2) return false;
    /* case 2: 300 elements per channel, more than the CUDA block's 256 threads */
    gb_tensor *x = v == 0   ? make(S, SHAPE(4, 3, 5), GB_F32, MIXED, 0)
                   : v == 1 ? make(S, SHAPE(5, 2, 3, 7), GB_F32, MIXED, 0)
                            : make(S, SHAPE(3, 4, 100), GB_F32, MIXED, 0);
    int64_t ch = x->shape[1];
    a->f[0] = 1e-5;
    if (f == gb_infer_batch_norm_backward)
      add_in(c, make(S, x->ndim, x->shape, GB_F32, MIXED, 0), false);
    add_in(c, x, false);
    add_in(c, make(S, SHAPE(ch), GB_F32, POS, 0), false);
    if (f == gb_infer_batch_norm) add_in(c, make(S, SHAPE(ch), GB_F32, MIXED, 0), false);
    c->rtol = 1e-4, c->atol = 1e-5;
    static const char *what[3] = {"(4,3,5)", "(5,2,3,7)", "(3,4,100)"};
    c->what = what[v];
    return true;
  }
  if (f == gb_infer_lstm_seq || f == gb_infer_gru_seq || f == gb_infer_lstm_seq_backward ||
      f == gb_infer_gru_seq_backward) {
    if (v > 1) return false;
    bool lstm = f == gb_infer_lstm_seq || f == gb_infer_lstm_seq_backward;
    bool back = f == gb_infer_lstm_seq_backward || f == gb_infer_gru_seq_backward;
    int64_t T = v == 0 ? 3 : 17, B = v == 0 ? 2 : 9, H = v == 0 ? 4 : 40, G = lstm ? 4 : 3;
    int64_t slots = lstm ? 6 : 5;
    c->rtol = 1e-4, c->atol = 1e-5;
    gb_tensor *w = make(S, SHAPE(H, G * H), GB_F32, MIXED, 0); /* used transposed: (G*H, H) */
    for (int64_t i = 0; i < w->numel; i++) /* keep the recurrence out of saturation */
      gb_tensor_f32(w)[i] *= (float)(0.5 / sqrt((double)H));
    if (back) {
      add_in(c, make(S, SHAPE(T + 1, B, slots * H), GB_F32, MIXED, 0), false);
      add_in(c, w, true);
      add_in(c, make(S, SHAPE(T + 1, B, slots * H), GB_F32, MIXED, 0), false);
    } else {
      add_in(c, make(S, SHAPE(T, B, G * H), GB_F32, MIXED, 0), false);
      add_in(c, w, true);
      add_in(c,
             lstm ? make(S, SHAPE(B, H), GB_F32, MIXED, 0)
                  : make(S, SHAPE(3 * H), GB_F32, MIXED, 0),
             false);
      add_in(c, make(S, SHAPE(B, H), GB_F32, MIXED, 0), false);
    }
    c->what = v == 0 ? "T=3 B=2 H=4" : "T=17 B=9 H=40";
    return true;
  }
  if (f == gb_infer_scan) { /* cumsum */
    if (v > 2) return false;
    if (v == 1)
      add_in(c, make(S, SHAPE(3, 40, 5), GB_F32, MIXED, 0), false);
    else
      add_in(c, make(S, SHAPE(6, 7), GB_F32, MIXED, 0), v == 2);
    a->i[0] = v == 2 ? 0 : 1, a->i[1] = v == 2; /* the last: reversed, on a transposed input */
    c->what = v == 0 ? "(6,7) dim 2" : v == 1 ? "(3,40,5) dim 2" : "reversed, transposed";
    c->rtol = 1e-5, c->atol = 1e-5;
    return true;
  }
  if (f == gb_infer_slice) {
    if (v > 1) return false;
    add_in(c, make(S, SHAPE(5, 12), GB_F32, MIXED, 0), false);
    a->i[0] = 1 - v, a->i[1] = 1, a->i[2] = v == 0 ? 4 : 2, a->i[3] = v == 0 ? 3 : 2;
    return true;
  }
  if (f == gb_infer_sort) { /* sort and topk; SMALLINT values make ties: both must be stable */
    if (v > 2) return false;
    if (v == 1)
      add_in(c, make(S, SHAPE(5, 3), GB_F32, MIXED, 0), true);
    else
      add_in(c, make(S, SHAPE(4, 300), GB_F32, v == 2 ? SMALLINT : MIXED, 0), false);
    a->i[0] = v == 1 ? 0 : 1;
    if (id == GB_OP_TOPK)
      a->i[1] = v == 1 ? 2 : 17, a->i[2] = v != 2, a->i[3] = 1;
    else
      a->i[1] = v == 1;
    c->what = v == 0 ? "(4,300)" : v == 1 ? "transposed, dim 1" : "ties";
    return true;
  }
  if (f == gb_infer_cat) { /* three pieces along dim 1 or 2, one of them transposed */
    if (v > 1) return false;
    if (v == 0) {
      add_in(c, make(S, SHAPE(2, 3), GB_F32, MIXED, 0), false);
      add_in(c, make(S, SHAPE(3, 4), GB_F32, MIXED, 0), true); /* (4,3) */
      add_in(c, make(S, SHAPE(1, 3), GB_F32, MIXED, 0), false);
    } else {
      add_in(c, make(S, SHAPE(3, 2), GB_I64, SMALLINT, 0), false);
      add_in(c, make(S, SHAPE(3, 5), GB_I64, SMALLINT, 0), false);
    }
    a->i[0] = v;
    c->what = v == 0 ? "float32 dim 1" : "int64 dim 2";
    return true;
  }
  if (f == gb_infer_repeat) {
    if (v > 2) return false;
    if (v == 1)
      add_in(c, make(S, SHAPE(3, 1), GB_I64, SMALLINT, 0), false);
    else
      add_in(c, make(S, SHAPE(3, 4), GB_F32, MIXED, 0), v == 2);
    a->i[0] = 2, a->i[1] = v == 1 ? 1 : 2, a->i[2] = v == 1 ? 5 : 3;
    c->what = v == 0 ? "float32" : v == 1 ? "int64" : "transposed";
    return true;
  }
  /* the Transformer rows (branch tfm): v0 small, v1 with rows longer than a CUDA block and a
   * transposed input (so the kernels see strides) */
  if (f == gb_infer_layer_norm || f == gb_infer_layer_norm_backward) {
    if (v > 1) return false;
    int64_t rows = v == 0 ? 3 : 17, n = v == 0 ? 8 : 300;
    a->f[0] = 1e-5, a->i[0] = 1;
    if (f == gb_infer_layer_norm_backward)
      add_in(c, make(S, SHAPE(rows, n), GB_F32, MIXED, 0), false);
    add_in(c, make(S, SHAPE(rows, n), GB_F32, MIXED, 0), false);
    add_in(c, make(S, SHAPE(n), GB_F32, POS, 0), false);
    if (f == gb_infer_layer_norm) add_in(c, make(S, SHAPE(n), GB_F32, MIXED, 0), false);
    c->rtol = 1e-4, c->atol = 1e-5;
    c->what = v == 0 ? "(3,8)" : "(17,300)";
    return true;
  }
  if (f == gb_infer_masked_softmax) {
    if (v > 2) return false;
    int64_t L = v == 0 ? 3 : 20, Sk = v == 0 ? 4 : 300;
    add_in(c, make(S, SHAPE(2, L, Sk), GB_F32, MIXED, 0), false);
    if (v == 1) add_in(c, make(S, SHAPE(Sk, L), GB_F32, MIXED, 0), true); /* (L,S) transposed */
    if (v == 2) add_in(c, make(S, SHAPE(2, 1, Sk), GB_F32, MIXED, 0), false);
    a->i[0] = v != 2;
    c->what = v == 0 ? "causal" : v == 1 ? "causal, (L,S) mask" : "padding mask";
    return true;
  }
  if (f == gb_infer_sdpa || f == gb_infer_sdpa_backward) {
    if (v > 4) return false;
    /* v2..v4 add a mask: (L,S) transposed with causal, (B,1,1,S) key padding, a full
     * (B,H,L,S) with more keys than a block has threads */
    static const int64_t Ls[] = {3, 40, 3, 40, 20}, Ss[] = {5, 40, 5, 40, 300};
    int64_t B = 2, H = v == 0 ? 2 : 3, L = Ls[v], Sk = Ss[v], E = 4, Ev = 3;
    if (f == gb_infer_sdpa_backward)
      add_in(c, make(S, SHAPE(B, L, H, Ev), GB_F32, MIXED, 0), false);
    add_in(c, make(S, SHAPE(B, H, L, E), GB_F32, MIXED, 0), false);
    if (v == 1)
      add_in(c, make(S, SHAPE(B, H, E, Sk), GB_F32, MIXED, 0), true); /* (B,H,S,E) transposed */
    else
      add_in(c, make(S, SHAPE(B, H, Sk, E), GB_F32, MIXED, 0), false);
    add_in(c, make(S, SHAPE(B, H, Sk, Ev), GB_F32, MIXED, 0), false);
    if (v >= 2) {
      gb_tensor *m = v == 2   ? make(S, SHAPE(Sk, L), GB_F32, MIXED, 0)
                     : v == 3 ? make(S, SHAPE(B, 1, 1, Sk), GB_F32, MIXED, 0)
                              : make(S, SHAPE(B, H, L, Sk), GB_F32, MIXED, 0);
      for (int64_t e = 3; e < m->numel; e += 7) /* hidden keys; every row keeps some */
        gb_tensor_f32(m)[e] = -INFINITY;
      c->constant[c->nin] = true;
      add_in(c, m, v == 2);
    }
    a->f[0] = 0.5, a->i[0] = v == 1 || v == 2;
    c->rtol = 1e-4, c->atol = 1e-5;
    static const char *what[] = {"L=3 S=5", "causal, L=S=40, transposed keys",
                                 "causal, (L,S) mask transposed", "(B,1,1,S) key padding",
                                 "(B,H,L,S) mask, S=300"};
    c->what = what[v];
    return true;
  }
  if (v == 0) CHECK(false, "row %s: no test case for its shape rule; add one", r->name);
  return false;
}

static void free_case(gb_state *S, tcase *c) {
  for (int k = 0; k < c->nin; k++)
    gb_tensor_release(S, c->in[k]);
}

typedef struct result {
  gb_tensor *out[GB_MAXOUT];  /* on the CPU */
  gb_tensor *grad[GB_MAXIN];  /* on the CPU, NULL when none */
  gb_tensor *state[GB_MAXIN]; /* in-place rows: every input after the update, on the CPU */
} result;

static void free_result(gb_state *S, result *r) {
  for (int k = 0; k < GB_MAXOUT; k++)
    gb_tensor_release(S, r->out[k]);
  for (int k = 0; k < GB_MAXIN; k++)
    gb_tensor_release(S, r->grad[k]);
  for (int k = 0; k < GB_MAXIN; k++)
    gb_tensor_release(S, r->state[k]);
  memset(r, 0, sizeof *r);
}

/* While `collect_deferred` is set, an error a copy to the host reports (a deferred check of
 * an earlier kernel: a bad label or index) is kept here instead of failing the test. */
static bool collect_deferred;
static gb_status deferred_st;
static char deferred_msg[GB_ERRLEN];

static gb_tensor *to_cpu(gb_state *S, gb_tensor *t) {
  gb_tensor *h = NULL;
  if (collect_deferred) {
    gb_status st = gb_fn_to_device(S, t, GB_CPU, &h);
    if (st && !deferred_st) {
      deferred_st = st;
      snprintf(deferred_msg, sizeof deferred_msg, "%s", gb_state_error(S));
    }
    return st ? NULL : h;
  }
  OK(S, gb_fn_to_device(S, t, GB_CPU, &h));
  return h;
}

static gb_tensor *transposed(gb_state *S, gb_tensor *t) {
  gb_tensor *u;
  OK(S, gb_fn_transpose(S, t, t->ndim - 2, t->ndim - 1, &u));
  return u;
}

/* Run the case on `dev`; W (weights of the loss) is made on the first call and reused. */
static gb_status run_case(gb_state *S, gb_opid id, const tcase *c, gb_device dev, gb_tensor **W,
                          result *r) {
  memset(r, 0, sizeof *r);
  gb_tensor *leaf[GB_MAXIN] = {0}, *res[GB_MAXOUT] = {0};
  gb_opargs a = c->a;
  a.nin = c->nin;
  bool grad = gb_ops[id].grad != NULL;
  gb_status st = GB_OK;
  if (c->nin == 0) {
    gb_tensor *dst, *use;
    int64_t shp[GB_MAXDIM];
    memcpy(shp, c->dst_shape, sizeof shp);
    if (c->dst_trans) shp[0] = c->dst_shape[1], shp[1] = c->dst_shape[0];
    OK(S, gb_tensor_empty(S, c->dst_ndim, shp, c->dst_dt, dev, &dst));
    use = c->dst_trans ? transposed(S, dst) : (gb_tensor_retain(dst), dst);
    st = gb_op_run_into(S, id, &a, use);
    gb_tensor_release(S, use);
    if (!st) r->out[0] = to_cpu(S, dst);
    gb_tensor_release(S, dst);
    return st;
  }
  for (int k = 0; k < c->nin; k++) {
    OK(S, gb_fn_to_device(S, c->in[k], dev, &leaf[k]));
    if (dev == GB_CPU) { /* to_device returned the case's own tensor: work on a copy */
      gb_tensor *cp;
      OK(S, gb_fn_clone(S, leaf[k], &cp));
      gb_tensor_release(S, leaf[k]);
      leaf[k] = cp;
    }
    if (grad && gb_dtype_is_float(leaf[k]->dtype) && !c->constant[k]) leaf[k]->requires_grad = true;
    a.in[k] = c->trans[k] ? transposed(S, leaf[k]) : (gb_tensor_retain(leaf[k]), leaf[k]);
  }
  if (c->inplace) {
    st = gb_op_run_into(S, id, &a, leaf[0]);
    for (int k = 0; !st && k < c->nin; k++)
      r->state[k] = to_cpu(S, leaf[k]);
  } else {
    st = gb_op_run(S, id, &a, res);
  }
  if (!st && !c->inplace) {
    for (int k = 0; k < GB_MAXOUT; k++)
      if (res[k]) r->out[k] = to_cpu(S, res[k]);
    if (grad && gb_dtype_is_float(res[0]->dtype) && res[0]->requires_grad) {
      if (!*W) {
        gb_tensor *w = make(S, res[0]->ndim, res[0]->shape, res[0]->dtype, MIXED, 0);
        *W = w;
      }
      gb_tensor *wd, *prod, *loss;
      OK(S, gb_fn_to_device(S, *W, dev, &wd));
      OK(S, gb_fn_binary(S, GB_OP_MUL, res[0], wd, &prod));
      OK(S, gb_fn_reduce(S, GB_OP_SUM, prod, 0, false, &loss));
      gb_status bs = gb_backward(S, loss, NULL, false);
      char dn[16];
      CHECK(bs == GB_OK, "%s [%s]: backward on %s failed: %s", gb_ops[id].name, c->what,
            gb_device_name(dev, dn), gb_state_error(S));
      for (int k = 0; bs == GB_OK && k < c->nin; k++)
        if (leaf[k]->grad) r->grad[k] = to_cpu(S, leaf[k]->grad);
      gb_tensor_release(S, wd);
      gb_tensor_release(S, prod);
      gb_tensor_release(S, loss);
    }
  }
  for (int k = 0; k < GB_MAXOUT; k++)
    gb_tensor_release(S, res[k]);
  for (int k = 0; k < c->nin; k++) {
    gb_tensor_release(S, a.in[k]);
    gb_tensor_release(S, leaf[k]);
  }
  return st;
}

/* Both NULL, or same shape/dtype and values within tolerance. */
static void compare(const char *row, const char *what, const char *part, gb_tensor *cpu,
                    gb_tensor *gpu, double rtol, double atol) {
  if (!cpu || !gpu) {
    CHECK(!cpu && !gpu, "%s [%s] %s: present on %s only", row, what, part, cpu ? "cpu" : "cuda");
    return;
  }
  char s0[96], s1[96];
  CHECK(gb_shape_equal(cpu, gpu) && cpu->dtype == gpu->dtype, "%s [%s] %s: %s %s vs %s %s", row,
        what, part, gb_shape_str(cpu, s0), gb_dtype_name(cpu->dtype), gb_shape_str(gpu, s1),
        gb_dtype_name(gpu->dtype));
  if (!gb_shape_equal(cpu, gpu)) return;
  int bad = 0;
  for (int64_t i = 0; i < cpu->numel; i++) {
    double x = gb_tensor_get_flat(cpu, i), y = gb_tensor_get_flat(gpu, i);
    bool same = (x != x && y != y) || fabs(x - y) <= atol + rtol * fabs(x);
    if (!gb_dtype_is_float(cpu->dtype)) same = x == y;
    if (!same && bad++ < 3)
      CHECK(false, "%s [%s] %s: element %lld: cpu %.17g, cuda %.17g", row, what, part, (long long)i,
            x, y);
  }
  if (!bad) checks++;
}

/* Run case c of row id on the CPU and on the test device and compare outputs, updated
 * inputs and tape gradients. */
static void check_case(gb_state *S, gb_opid id, tcase *c) {
  const gb_oprow *row = &gb_ops[id];
  gb_tensor *W = NULL;
  result rc, rg;
  if (getenv("GPUBP_TEST_VERBOSE")) fprintf(stderr, "%s [%s]\n", row->name, c->what);
  gb_status sc = run_case(S, id, c, GB_CPU, &W, &rc);
  char cpu_msg[GB_ERRLEN];
  snprintf(cpu_msg, sizeof cpu_msg, "%s", gb_state_error(S));
  gb_status sg = run_case(S, id, c, test_dev, &W, &rg);
  CHECK(sc == GB_OK && sg == GB_OK, "%s [%s]: cpu status %d (%s), cuda status %d (%s)", row->name,
        c->what, (int)sc, sc ? cpu_msg : "", (int)sg, sg ? gb_state_error(S) : "");
  if (sc == GB_OK && sg == GB_OK) {
    for (int k = 0; k < GB_MAXOUT; k++) {
      char part[48];
      snprintf(part, sizeof part, "output %d", k + 1);
      compare(row->name, c->what, part, rc.out[k], rg.out[k], c->rtol, c->atol);
    }
    for (int k = 0; k < c->nin; k++) {
      char part[48];
      snprintf(part, sizeof part, "input %d after the update", k + 1);
      compare(row->name, c->what, part, rc.state[k], rg.state[k], c->rtol, c->atol);
      snprintf(part, sizeof part, "grad of input %d", k + 1);
      compare(row->name, c->what, part, rc.grad[k], rg.grad[k], c->rtol * 10, c->atol * 10);
    }
  }
  free_result(S, &rc);
  free_result(S, &rg);
  gb_tensor_release(S, W);
}

/* The float32 case c made float64: every float32 input (but where's 0/1 condition, which
 * stays float32) and a float32 target converted, values and gradients compared at 1e-10
 * relative + 1e-11 absolute (sums of up to 784 terms in different orders). */
static void to_float64_case(gb_state *S, gb_opid id, tcase *c, char *what, size_t len) {
  for (int k = 0; k < c->nin; k++) {
    if (c->in[k]->dtype != GB_F32 || (id == GB_OP_WHERE && k == 0)) continue;
    gb_tensor *d;
    OK(S, gb_fn_to_dtype(S, c->in[k], GB_F64, &d));
    gb_tensor_release(S, c->in[k]);
    c->in[k] = d;
  }
  if (c->nin == 0 && c->dst_dt == GB_F32) c->dst_dt = GB_F64;
  snprintf(what, len, "float64 %s", c->what);
  c->what = what;
  c->rtol = 1e-10, c->atol = 1e-11;
}

/* Every row with a launcher, each of its cases; the rows that run in double on both the CPU
 * and the device (gb_backend.runs_f64: on a GPU the CUDA list, gb_f64_rows.h) once more with
 * the case in float64. */
static int test_rows(gb_state *S) {
  int tested = 0;
  const gb_backend *be = gb_backend_loaded(test_dev), *cpu = gb_backend_loaded(GB_CPU);
  for (int id = 0; id < GB_NOPS; id++) {
    if (!be->kernels[id]) continue; /* no launcher for the row yet */
    bool f64 = be->runs_f64 && be->runs_f64((gb_opid)id) && cpu->runs_f64((gb_opid)id);
    for (int v = 0;; v++) {
      tcase c;
      if (!make_case(S, (gb_opid)id, v, &c)) break;
      check_case(S, (gb_opid)id, &c);
      tested++;
      free_case(S, &c);
      if (!f64 || !make_case(S, (gb_opid)id, v, &c)) continue;
      char what[96];
      to_float64_case(S, (gb_opid)id, &c, what, sizeof what);
      check_case(S, (gb_opid)id, &c);
      tested++;
      free_case(S, &c);
    }
  }
  return tested;
}

/* The same bad label / index must give the CPU's message on CUDA, there at the next sync
 * (here the copy of the result to the host) rather than inside the op: no stall per op. */
static void test_errors(gb_state *S) {
  struct {
    gb_opid id;
    int64_t bad;
  } rows[] = {{GB_OP_CROSS_ENTROPY, 7}, {GB_OP_CROSS_ENTROPY_BACKWARD, 0},
              {GB_OP_NLL_LOSS, -3},     {GB_OP_NLL_LOSS_BACKWARD, 6},
              {GB_OP_INDEX_SELECT, 9},  {GB_OP_GATHER, 0},
              {GB_OP_INDEX_ADD, 6},     {GB_OP_SCATTER_ADD, 99}};
  for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
    gb_opid id = rows[r].id;
    tcase c;
    if (!make_case(S, id, 0, &c)) continue;
    /* plant the bad value at position 3 (and a second one later: the first must win) */
    int64_t *lab = (int64_t *)gb_tensor_data(c.in[1]);
    lab[2] = rows[r].bad;
    lab[c.in[1]->numel - 1] = rows[r].bad + 100;
    char msg[2][GB_ERRLEN];
    gb_status st[2];
    for (int d = 0; d < 2; d++) {
      gb_tensor *W = NULL;
      result res;
      collect_deferred = d == 1;
      deferred_st = GB_OK;
      st[d] = run_case(S, id, &c, d == 0 ? GB_CPU : test_dev, &W, &res);
      snprintf(msg[d], sizeof msg[d], "%s", gb_state_error(S));
      if (d == 1 && test_dev != GB_CPU) { /* the self-check's "device" fails at once */
        CHECK(st[1] == GB_OK, "%s: cuda checked the bad value inside the op (status %d: %s)",
              gb_ops[id].name, (int)st[1], msg[1]);
        if (st[1] == GB_OK) {
          st[1] = deferred_st;
          snprintf(msg[1], sizeof msg[1], "%s", deferred_msg);
        }
      }
      collect_deferred = false;
      free_result(S, &res);
      gb_tensor_release(S, W);
    }
    CHECK(st[0] == GB_EARG && st[1] == GB_EARG, "%s: bad value gives status %d on cpu, %d on cuda",
          gb_ops[id].name, (int)st[0], (int)st[1]);
    CHECK(strcmp(msg[0], msg[1]) == 0, "%s: messages differ:\n  cpu:  %s\n  cuda: %s",
          gb_ops[id].name, msg[0], msg[1]);
    free_case(S, &c);
  }
  /* the device is still usable afterwards */
  gb_tensor *t;
  OK(S, gb_fn_full(S, 1, (int64_t[]){3}, GB_F32, test_dev, 2.0, &t));
  gb_tensor *h = to_cpu(S, t);
  CHECK(gb_tensor_get_flat(h, 2) == 2.0, "fill after an error");
  gb_tensor_release(S, h);
  gb_tensor_release(S, t);
}

/* Element i (row-major logical index) of a host tensor of any strides set to v. */
static void set_at(gb_tensor *t, int64_t i, double v) {
  int64_t off = 0;
  for (int d = t->ndim - 1; d >= 0; d--) {
    off += (i % t->shape[d]) * t->stride[d];
    i /= t->shape[d];
  }
  char *p = (char *)gb_tensor_data(t);
  if (t->dtype == GB_F32)
    ((float *)p)[off] = (float)v;
  else if (t->dtype == GB_F64)
    ((double *)p)[off] = v;
  else if (t->dtype == GB_I64)
    ((int64_t *)p)[off] = (int64_t)v;
  else
    ((int32_t *)p)[off] = (int32_t)v;
}

/* NaN, inf and out-of-range values converted to an integer dtype: the CPU's error and
 * message on CUDA too, there at the next sync (the copy to the host) since the values are
 * only seen by the kernel; fill and arange know their values and fail at once. */
static void test_conversions(gb_state *S) {
  struct {
    gb_dtype from, to;
    bool trans; /* a strided (transposed) source */
    int64_t bad_at;
    double bad;
  } rows[] = {{GB_F32, GB_I64, false, 2, NAN},
              {GB_F32, GB_I32, false, 5, INFINITY},
              {GB_F32, GB_I32, true, 4, 3e9},
              {GB_F32, GB_I64, true, 1, -1e20},
              {GB_I64, GB_I32, false, 3, 4294967296.0}};
  for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
    gb_tensor *x, *src;
    OK(S, gb_tensor_empty(S, 2, (int64_t[]){3, 2}, rows[r].from, GB_CPU, &x));
    for (int64_t i = 0; i < 6; i++) /* -2.5 .. 2.5, all convertible */
      set_at(x, i, (double)i - 2.5);
    src = rows[r].trans ? transposed(S, x) : (gb_tensor_retain(x), x);
    set_at(src, rows[r].bad_at, rows[r].bad);
    set_at(src, 5, rows[r].bad); /* a later one: the first must be named */
    char msg[2][GB_ERRLEN];
    gb_status st[2];
    for (int d = 0; d < 2; d++) {
      gb_device dev = d == 0 ? GB_CPU : test_dev;
      gb_tensor *xd, *in, *y = NULL;
      OK(S, gb_fn_to_device(S, x, dev, &xd));
      in = rows[r].trans ? transposed(S, xd) : (gb_tensor_retain(xd), xd);
      st[d] = gb_fn_to_dtype(S, in, rows[r].to, &y);
      snprintf(msg[d], sizeof msg[d], "%s", gb_state_error(S));
      if (d == 1 && test_dev != GB_CPU) {
        CHECK(st[1] == GB_OK, "conversion %d: cuda checked inside the op (status %d: %s)", (int)r,
              (int)st[1], msg[1]);
        collect_deferred = true;
        deferred_st = GB_OK;
        gb_tensor *h = y ? to_cpu(S, y) : NULL;
        collect_deferred = false;
        st[1] = deferred_st;
        snprintf(msg[1], sizeof msg[1], "%s", deferred_msg);
        gb_tensor_release(S, h);
      }
      gb_tensor_release(S, y);
      gb_tensor_release(S, in);
      gb_tensor_release(S, xd);
    }
    CHECK(st[0] == GB_EARG && st[1] == GB_EARG, "conversion %d: status %d on cpu, %d on %s", (int)r,
          (int)st[0], (int)st[1], test_dev == GB_CPU ? "cpu" : "cuda");
    CHECK(strcmp(msg[0], msg[1]) == 0, "conversion %d: messages differ:\n  cpu:  %s\n  cuda: %s",
          (int)r, msg[0], msg[1]);
    CHECK(strstr(msg[0], "cannot hold") != NULL, "conversion %d: message %s", (int)r, msg[0]);
    gb_tensor_release(S, src);
    gb_tensor_release(S, x);
  }
  /* the check was consumed: a good conversion afterwards works, truncating as the CPU does */
  gb_tensor *g, *gd, *gi, *h;
  OK(S, gb_tensor_empty(S, 1, (int64_t[]){2}, GB_F32, GB_CPU, &g));
  set_at(g, 0, 2.7);
  set_at(g, 1, -2.7);
  OK(S, gb_fn_to_device(S, g, test_dev, &gd));
  OK(S, gb_fn_to_dtype(S, gd, GB_I64, &gi));
  h = to_cpu(S, gi);
  CHECK(gb_tensor_get_flat_int(h, 0) == 2 && gb_tensor_get_flat_int(h, 1) == -2,
        "good conversion after a bad one: %lld %lld", (long long)gb_tensor_get_flat_int(h, 0),
        (long long)gb_tensor_get_flat_int(h, 1));
  gb_tensor_release(S, h);
  gb_tensor_release(S, gi);
  gb_tensor_release(S, gd);
  gb_tensor_release(S, g);
  /* fill with a value the dtype cannot hold: at once, on both */
  for (int d = 0; d < 2; d++) {
    gb_tensor *t = NULL;
    gb_status fs = gb_fn_full(S, 1, (int64_t[]){3}, GB_I32, d ? test_dev : GB_CPU, NAN, &t);
    CHECK(fs == GB_EARG && strcmp(gb_state_error(S), "fill: the value nan cannot be converted "
                                                     "to int32") == 0,
          "fill nan into int32 on %s: status %d, %s", d ? "the test device" : "cpu", (int)fs,
          gb_state_error(S));
    gb_tensor_release(S, t);
  }
}

/* A request far past the device's memory: GB_EOOM naming the sizes, then life goes on. */
static void test_oom(gb_state *S) {
  gb_tensor *t = NULL;
  int64_t n = (int64_t)1 << 39; /* 2 TiB of float32 */
  gb_status st = gb_tensor_empty(S, 1, &n, GB_F32, test_dev, &t);
  CHECK(st == GB_EOOM, "2 TiB on cuda:0 gives status %d (%s)", (int)st, gb_state_error(S));
  CHECK(strstr(gb_state_error(S), "out of memory") && strstr(gb_state_error(S), "2199023255552"),
        "OOM message names the request: %s", gb_state_error(S));
  gb_tensor_release(S, t);
  gb_tensor *u;
  OK(S, gb_fn_full(S, 2, (int64_t[]){64, 64}, GB_F32, test_dev, 1.0, &u));
  gb_tensor_release(S, u);
}

static void test_copies(gb_state *S) {
  /* host -> device -> device -> host round trip, larger than the first staging buffer */
  int64_t n = 3 << 20;
  gb_tensor *h = make(S, 1, &n, GB_F32, MIXED, 0), *d, *d2, *back;
  OK(S, gb_fn_to_device(S, h, test_dev, &d));
  OK(S, gb_fn_clone(S, d, &d2));
  back = to_cpu(S, d2);
  CHECK(memcmp(gb_tensor_data(h), gb_tensor_data(back), (size_t)n * 4) == 0, "round trip");
  gb_tensor_release(S, back);
  gb_tensor_release(S, d2);
  gb_tensor_release(S, d);
  gb_tensor_release(S, h);
  /* many small host->device copies in a row reuse the pinned buffer safely */
  gb_tensor *acc;
  OK(S, gb_fn_full(S, 1, (int64_t[]){1000}, GB_F32, test_dev, 0.0, &acc));
  for (int k = 0; k < 20; k++) {
    gb_tensor *x, *xd, *s;
    OK(S, gb_fn_full(S, 1, (int64_t[]){1000}, GB_F32, GB_CPU, (double)k, &x));
    OK(S, gb_fn_to_device(S, x, test_dev, &xd));
    gb_tensor_release(S, x);
    OK(S, gb_fn_binary(S, GB_OP_ADD, acc, xd, &s));
    gb_tensor_release(S, xd);
    gb_tensor_release(S, acc);
    acc = s;
  }
  gb_tensor *ha = to_cpu(S, acc);
  CHECK(gb_tensor_get_flat(ha, 999) == 190.0, "staged copies: sum %g, expected 190",
        gb_tensor_get_flat(ha, 999));
  gb_tensor_release(S, ha);
  gb_tensor_release(S, acc);
}

/* float64 on the device: the rows every backend runs for any dtype (fill, arange, linspace,
 * copy/conversion both ways, comparisons, index_select by element bytes) give the CPU's bits;
 * the float maths rows either run in double (the backend's runs_f64) and match the CPU's
 * float64 result to 1e-12, or refuse with "<op>: float64 is not supported on <device>; use
 * :float()". */
static void test_float64(gb_state *S) {
  const gb_backend *be = gb_backend_loaded(test_dev);
  int64_t n = 7, shape[1] = {7};
  gb_tensor *x = make(S, 1, shape, GB_F32, 0, false), *xd, *dev, *back, *h;
  for (int64_t i = 0; i < n; i++)
    set_at(x, i, i == 3 ? 1 + 1e-7 : urand() * 4 - 2);
  OK(S, gb_fn_to_dtype(S, x, GB_F64, &xd));
  set_at(xd, 2, 1 + 1e-12); /* a value only float64 holds */
  OK(S, gb_fn_to_device(S, xd, test_dev, &dev));
  h = to_cpu(S, dev);
  for (int64_t i = 0; i < n; i++)
    CHECK(gb_tensor_get_flat(h, i) == gb_tensor_get_flat(xd, i), "float64 round trip: element %lld",
          (long long)i);
  gb_tensor_release(S, h);
  /* conversions on the device: float64 -> float32 -> float64 and float64 -> int64 */
  OK(S, gb_fn_to_dtype(S, dev, GB_F32, &back));
  h = to_cpu(S, back);
  for (int64_t i = 0; i < n; i++)
    CHECK(gb_tensor_get_flat(h, i) == (float)gb_tensor_get_flat(xd, i),
          "float64 -> float32 on the device: element %lld", (long long)i);
  gb_tensor_release(S, h);
  gb_tensor_release(S, back);
  /* fill and linspace in double */
  gb_tensor *f;
  OK(S, gb_fn_full(S, 1, shape, GB_F64, test_dev, 0.1, &f));
  h = to_cpu(S, f);
  CHECK(gb_tensor_get_flat(h, 6) == 0.1, "float64 fill keeps the double 0.1");
  gb_tensor_release(S, h);
  gb_opargs la = {.f = {0.0, 1.0}};
  OK(S, gb_op_run_into(S, GB_OP_LINSPACE, &la, f));
  h = to_cpu(S, f);
  CHECK(gb_tensor_get_flat(h, 1) == 1.0 / 6, "float64 linspace steps in double: %.17g",
        gb_tensor_get_flat(h, 1));
  gb_tensor_release(S, h);
  /* a comparison in double: 1 + 1e-12 > 1 (float32 would say equal) */
  gb_tensor *one, *gt;
  OK(S, gb_fn_full(S, 1, shape, GB_F64, test_dev, 1.0, &one));
  OK(S, gb_fn_binary(S, GB_OP_GT, dev, one, &gt));
  h = to_cpu(S, gt);
  CHECK(gb_tensor_get_flat(h, 2) == 1.0, "float64 gt on the device");
  gb_tensor_release(S, h);
  /* the float maths rows: double results or the refusal, by the backend's answer */
  static const gb_opid rows[] = {GB_OP_ADD, GB_OP_EXP, GB_OP_SUM, GB_OP_SOFTMAX};
  for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
    gb_opid id = rows[r];
    gb_opargs a = {.in = {dev, one}, .nin = gb_ops[id].nin, .i = {0, 0}};
    gb_opargs ac = {.in = {xd, NULL}, .nin = gb_ops[id].nin, .i = {0, 0}};
    gb_tensor *onec = NULL, *out[2] = {NULL, NULL}, *ref[2] = {NULL, NULL};
    if (id == GB_OP_SUM) a.i[0] = ac.i[0] = 1;
    OK(S, gb_fn_full(S, 1, shape, GB_F64, GB_CPU, 1.0, &onec));
    ac.in[1] = onec;
    gb_status st = gb_op_run(S, id, &a, out);
    bool runs = be && be->runs_f64 && be->runs_f64(id);
    if (!runs) {
      char want[GB_ERRLEN], d[GB_DEVICE_STRLEN];
      snprintf(want, sizeof want, "%s: float64 is not supported on %s; use :float()",
               gb_ops[id].name, gb_device_name(test_dev, d));
      CHECK(st == GB_EDTYPE && strcmp(gb_state_error(S), want) == 0,
            "%s in float64 on %s: status %d, '%s' (expected '%s')", gb_ops[id].name, d, (int)st,
            gb_state_error(S), want);
    } else {
      CHECK(st == GB_OK, "%s in float64: %s", gb_ops[id].name, gb_state_error(S));
      OK(S, gb_op_run(S, id, &ac, ref));
      h = st == GB_OK ? to_cpu(S, out[0]) : NULL;
      for (int64_t i = 0; h && i < h->numel; i++)
        CHECK(fabs(gb_tensor_get_flat(h, i) - gb_tensor_get_flat(ref[0], i)) <=
                  1e-12 * (1 + fabs(gb_tensor_get_flat(ref[0], i))),
              "%s in float64: element %lld = %.17g, cpu %.17g", gb_ops[id].name, (long long)i,
              gb_tensor_get_flat(h, i), gb_tensor_get_flat(ref[0], i));
      gb_tensor_release(S, h);
    }
    for (int k = 0; k < 2; k++) {
      gb_tensor_release(S, out[k]);
      gb_tensor_release(S, ref[k]);
    }
    gb_tensor_release(S, onec);
  }
  /* a float64 product: (2,3) x (3,2) with entries only double holds, against the CPU's dgemm */
  gb_tensor *ma = make(S, 2, (int64_t[]){2, 3}, GB_F64, 0, 0), *mb, *mad, *mbd, *mo = NULL, *mr;
  for (int64_t i = 0; i < 6; i++)
    set_at(ma, i, 1 + (double)i * 1e-12);
  OK(S, gb_fn_transpose(S, ma, 0, 1, &mb)); /* a strided operand too */
  OK(S, gb_fn_to_device(S, ma, test_dev, &mad));
  OK(S, gb_fn_to_device(S, mb, test_dev, &mbd));
  gb_status mst = gb_fn_binary(S, GB_OP_MATMUL, mad, mbd, &mo);
  if (be && be->runs_f64 && be->runs_f64(GB_OP_MATMUL)) {
    CHECK(mst == GB_OK, "matmul in float64: %s", gb_state_error(S));
    OK(S, gb_fn_binary(S, GB_OP_MATMUL, ma, mb, &mr));
    h = mst == GB_OK ? to_cpu(S, mo) : NULL;
    for (int64_t i = 0; h && i < 4; i++)
      CHECK(fabs(gb_tensor_get_flat(h, i) - gb_tensor_get_flat(mr, i)) <= 1e-14,
            "matmul in float64: element %lld = %.17g, cpu %.17g", (long long)i,
            gb_tensor_get_flat(h, i), gb_tensor_get_flat(mr, i));
    gb_tensor_release(S, h);
    gb_tensor_release(S, mr);
  } else {
    CHECK(mst == GB_EDTYPE, "matmul in float64 on a backend without it: status %d", (int)mst);
  }
  gb_tensor_release(S, mo);
  gb_tensor_release(S, mad);
  gb_tensor_release(S, mbd);
  gb_tensor_release(S, ma);
  gb_tensor_release(S, mb);
  gb_tensor_release(S, gt);
  gb_tensor_release(S, one);
  gb_tensor_release(S, f);
  gb_tensor_release(S, dev);
  gb_tensor_release(S, xd);
  gb_tensor_release(S, x);
}

int main(void) {
  gb_cpu_backend_register();
  const char *why = NULL;
  const char *self = getenv("GPUBP_TEST_SELFCHECK");
  if (device_count(&why) == 0) {
    if (!self || self[0] != '1') {
      printf("skip: no CUDA device (%s)\n", why ? why : "?");
      return 77;
    }
    test_dev = GB_CPU;
  }
  gb_state *S = gb_state_new();
  int tested = test_rows(S);
  test_errors(S);
  test_conversions(S);
  test_float64(S);
  if (test_dev == GB_CPU) {
    gb_state_free(S);
    printf("self-check (cpu vs cpu): %d cases, %d checks, %d failures\n", tested, checks, failures);
    return failures ? 1 : 0;
  }
  test_oom(S);
  test_copies(S);
  OK(S, gb_cuda_synchronize(S));
  gb_memstats m;
  gb_state_memstats(S, test_dev, &m);
  CHECK(m.allocated == 0 && m.nalloc == 0,
        "device bytes still allocated after every tensor was released: %lld in %lld blocks",
        (long long)m.allocated, (long long)m.nalloc);
  CHECK(m.peak > 0 && m.reserved >= m.allocated, "memstats peak %lld reserved %lld",
        (long long)m.peak, (long long)m.reserved);
  gb_cuda_empty_cache(S);
  gb_state_memstats(S, test_dev, &m);
  CHECK(m.reserved == 0, "reserved after empty_cache: %lld", (long long)m.reserved);
  gb_state_free(S);
  printf("%d cases over the op table, %d checks, %d failures\n", tested, checks, failures);
  return failures ? 1 : 0;
}
