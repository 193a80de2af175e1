/* test_ops_window.c — the window options of the convolution and pooling rows (gb_window.h)
 * at awkward sizes: conv2d with dilation and groups, and its two backward rows, against naive
 * double loops written here, through the rows' own kernels and through oneDNN
 * (gb_dnnl_set_mode OFF and ALWAYS); max_pool2d with dilation and ceil_mode, avg_pool2d with
 * ceil_mode, count_include_pad and divisor_override, forward and backward rows against naive
 * windows; the tape's gradients against central finite differences; the shape rules'
 * refusals. test_ops.c covers the plain windows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gb_backend.h"
#include "gb_cpu.h"
#include "gb_dnnl.h"
#include "gb_fn.h"
#include "gb_kernels.h"
#include "gb_state.h"
#include "gb_window.h"

static gb_tensor *make(gb_state *S, int nd, const int64_t *shape, gb_dtype dt) {
  gb_tensor *t;
  if (gb_tensor_empty(S, nd, shape, dt, GB_CPU, &t)) abort();
  return t;
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static gb_tensor *frand(gb_state *S, int nd, const int64_t *shape) {
  gb_tensor *t = make(S, nd, shape, GB_F32);
  for (int64_t i = 0; i < t->numel; i++) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    gb_tensor_f32(t)[i] = (float)(2.0 * (double)(rng >> 11) / 9007199254740992.0 - 1.0);
  }
  return t;
}

static double at(const gb_tensor *t, int64_t i) {
  return gb_tensor_get_flat(t, i);
}

static bool close_to(double got, double want, double rtol, double atol) {
  return fabs(got - want) <= atol + rtol * fabs(want);
}

/* ---- convolution: x (n,c,h,w), w (o,c/groups,kh,kw), b (o) ---- */

typedef struct conv_case {
  int64_t n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, groups;
  bool fd; /* small enough for finite differences on every element */
  const char *what;
} conv_case;

static const conv_case CONV_CASES[] = {
    {2, 4, 7, 6, 6, 3, 2, 2, 1, 1, 2, 2, 3, 2, true, "groups 2, dilation 2x3, stride 2x1, pad 1x2"},
    {1, 3, 9, 10, 3, 3, 3, 2, 2, 1, 1, 1, 1, 3, true, "depthwise 3x3, stride 2, pad 1"},
    {2, 3, 8, 7, 6, 3, 3, 1, 1, 2, 2, 2, 2, 3, true, "depthwise x2, dilation 2, pad 2"},
    {2, 6, 5, 5, 4, 1, 1, 1, 1, 0, 0, 1, 1, 2, true, "1x1, groups 2 (the direct path)"},
    {2, 5, 9, 8, 5, 3, 2, 1, 2, 1, 2, 2, 3, 5, true, "depthwise 3x2, dilation 2x3, stride 1x2"},
    {1, 4, 6, 7, 4, 3, 3, 1, 1, 1, 1, 1, 1, 4, true, "depthwise 3x3/1 pad 1 (stride 1 rows)"},
    {1, 2, 6, 9, 2, 2, 3, 1, 3, 0, 1, 3, 2, 1, true, "dilation 3x2, stride 1x3, one group"},
    {2, 6, 5, 7, 9, 2, 2, 1, 1, 1, 0, 1, 1, 3, true, "groups 3, 2x2 kernel, pad 1x0"},
    {1, 2, 90, 91, 4, 3, 3, 1, 1, 1, 1, 2, 1, 2, false, "groups 2, 90x91: several tiles"},
};

static int64_t out_size(int64_t n, int64_t k, int64_t s, int64_t p, int64_t d) {
  return (n + 2 * p - d * (k - 1) - 1) / s + 1;
}

/* every multiply-add of the convolution: fn(yi, xi, wi) with flat indices of y, x, w */
typedef struct conv_ref {
  const conv_case *g;
  int64_t oh, ow;
  const gb_tensor *x, *w, *gy;
  double *y, *gx, *gw, *gb;
} conv_ref;

static void conv_reference(conv_ref *r) {
  const conv_case *g = r->g;
  int64_t cg = g->c / g->groups, og = g->o / g->groups;
  for (int64_t n = 0; n < g->n; n++)
    for (int64_t o = 0; o < g->o; o++)
      for (int64_t oy = 0; oy < r->oh; oy++)
        for (int64_t ox = 0; ox < r->ow; ox++) {
          int64_t yi = ((n * g->o + o) * r->oh + oy) * r->ow + ox;
          r->gb[o] += at(r->gy, yi);
          for (int64_t c = 0; c < cg; c++)
            for (int64_t ky = 0; ky < g->kh; ky++)
              for (int64_t kx = 0; kx < g->kw; kx++) {
                int64_t iy = oy * g->sh - g->ph + ky * g->dh, ix = ox * g->sw - g->pw + kx * g->dw;
                if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) continue;
                int64_t ci = o / og * cg + c; /* the input channel of group o / og */
                int64_t xi = ((n * g->c + ci) * g->h + iy) * g->w + ix;
                int64_t wi = ((o * cg + c) * g->kh + ky) * g->kw + kx;
                r->y[yi] += at(r->x, xi) * at(r->w, wi);
                r->gx[xi] += at(r->gy, yi) * at(r->w, wi);
                r->gw[wi] += at(r->gy, yi) * at(r->x, xi);
              }
        }
}

static gb_opargs conv_args(const conv_case *g) {
  gb_opargs a = {.nin = 2};
  int64_t i[12] = {g->kh, g->kw, g->sh, g->sw, g->ph, g->pw,
                   g->h,  g->w,  0,     g->dh, g->dw, g->groups};
  memcpy(a.i, i, sizeof i);
  return a;
}

static void expect(const gb_tensor *got, const double *want, int64_t n, const char *what,
                   const char *mode, const conv_case *g) {
  CHECK(got && got->numel == n, "%s (%s), %s: %lld elements, expected %lld", g->what, mode, what,
        got ? (long long)got->numel : -1LL, (long long)n);
  for (int64_t i = 0; got && i < n && i < got->numel; i++)
    if (!close_to(at(got, i), want[i], 1e-5, 1e-5)) {
      CHECK(false, "%s (%s), %s[%lld] = %.9g, expected %.9g", g->what, mode, what, (long long)i,
            at(got, i), want[i]);
      break;
    }
}

/* sum(conv2d(x, w, b) * r) in double, grad off */
static double conv_loss(gb_state *S, gb_opargs *a, const gb_tensor *r) {
  gb_tensor *y = NULL;
  if (gb_op_run(S, GB_OP_CONV2D, a, &y)) return NAN;
  double s = 0;
  for (int64_t i = 0; i < y->numel; i++)
    s += at(y, i) * at(r, i);
  gb_tensor_release(S, y);
  return s;
}

/* the tape's gradients of sum(y * r) for x, w, b against central differences (the loss is
 * linear in each input, so differences are exact but for rounding) */
static void conv_gradcheck(gb_state *S, const conv_case *g, gb_tensor *x, gb_tensor *w,
                           gb_tensor *b) {
  gb_tensor *leaf[3];
  gb_opargs a = conv_args(g);
  a.nin = 3;
  gb_tensor *in[3] = {x, w, b};
  for (int k = 0; k < 3; k++) {
    gb_fn_clone(S, in[k], &leaf[k]);
    leaf[k]->requires_grad = true;
    a.in[k] = leaf[k];
  }
  gb_tensor *y = NULL, *prod = NULL, *loss = NULL;
  CHECK(gb_op_run(S, GB_OP_CONV2D, &a, &y) == GB_OK, "%s: %s", g->what, gb_state_error(S));
  gb_tensor *r = frand(S, y->ndim, y->shape);
  gb_fn_binary(S, GB_OP_MUL, y, r, &prod);
  gb_fn_reduce(S, GB_OP_SUM, prod, 0, false, &loss);
  CHECK(gb_backward(S, loss, NULL, false) == GB_OK, "%s backward: %s", g->what, gb_state_error(S));
  bool was = gb_set_grad_enabled(S, false);
  static const char *names[3] = {"x", "w", "b"};
  for (int k = 0; k < 3; k++) {
    CHECK(leaf[k]->grad != NULL, "%s: no gradient for %s", g->what, names[k]);
    for (int64_t i = 0; leaf[k]->grad && i < leaf[k]->numel; i++) {
      float *p = gb_tensor_f32(leaf[k]) + i, keep = *p;
      const float eps = 0.25f;
      *p = keep + eps;
      double up = conv_loss(S, &a, r);
      *p = keep - eps;
      double down = conv_loss(S, &a, r);
      *p = keep;
      double num = (up - down) / (2.0 * eps), ana = at(leaf[k]->grad, i);
      if (!close_to(ana, num, 1e-4, 1e-4)) {
        CHECK(false, "%s: d/d%s[%lld]: tape %.7g, finite differences %.7g", g->what, names[k],
              (long long)i, ana, num);
        break;
      }
    }
  }
  gb_set_grad_enabled(S, was);
  gb_tensor_release(S, y), gb_tensor_release(S, r);
  gb_tensor_release(S, prod), gb_tensor_release(S, loss);
  for (int k = 0; k < 3; k++)
    gb_tensor_release(S, leaf[k]);
}

static void check_conv_case(gb_state *S, const conv_case *g) {
  int64_t oh = out_size(g->h, g->kh, g->sh, g->ph, g->dh);
  int64_t ow = out_size(g->w, g->kw, g->sw, g->pw, g->dw);
  int64_t cg = g->c / g->groups;
  gb_tensor *x = frand(S, 4, (int64_t[]){g->n, g->c, g->h, g->w});
  gb_tensor *w = frand(S, 4, (int64_t[]){g->o, cg, g->kh, g->kw});
  gb_tensor *b = frand(S, 1, (int64_t[]){g->o});
  gb_tensor *gy = frand(S, 4, (int64_t[]){g->n, g->o, oh, ow});
  int64_t ny = gy->numel;
  conv_ref r = {g,
                oh,
                ow,
                x,
                w,
                gy,
                calloc((size_t)ny, sizeof(double)),
                calloc((size_t)x->numel, sizeof(double)),
                calloc((size_t)w->numel, sizeof(double)),
                calloc((size_t)g->o, sizeof(double))};
  for (int64_t i = 0; i < ny; i++)
    r.y[i] = at(b, i / (oh * ow) % g->o);
  conv_reference(&r);
  static const gb_dnnl_mode modes[2] = {GB_DNNL_OFF, GB_DNNL_ALWAYS};
  static const char *mode_names[2] = {"own kernels", "oneDNN"};
  for (int m = 0; m < 2; m++) {
    gb_dnnl_mode was = gb_dnnl_set_mode(modes[m]);
    gb_opargs a = conv_args(g);
    gb_tensor *out[2] = {NULL, NULL};
    a.in[0] = x, a.in[1] = w, a.in[2] = b, a.nin = 3;
    CHECK(gb_op_run(S, GB_OP_CONV2D, &a, out) == GB_OK, "%s: %s", g->what, gb_state_error(S));
    expect(out[0], r.y, ny, "conv2d", mode_names[m], g);
    gb_tensor_release(S, out[0]), out[0] = NULL;
    a.in[0] = gy, a.in[1] = w, a.nin = 2;
    CHECK(gb_op_run(S, GB_OP_CONV2D_BACKWARD_INPUT, &a, out) == GB_OK, "%s: %s", g->what,
          gb_state_error(S));
    expect(out[0], r.gx, x->numel, "conv2d_backward_input", mode_names[m], g);
    gb_tensor_release(S, out[0]), out[0] = NULL;
    a.in[1] = x, a.i[8] = 1; /* with the bias gradient */
    CHECK(gb_op_run(S, GB_OP_CONV2D_BACKWARD_WEIGHT, &a, out) == GB_OK, "%s: %s", g->what,
          gb_state_error(S));
    expect(out[0], r.gw, w->numel, "conv2d_backward_weight", mode_names[m], g);
    expect(out[1], r.gb, g->o, "conv2d_backward_weight bias", mode_names[m], g);
    gb_tensor_release(S, out[0]), gb_tensor_release(S, out[1]);
    if (g->fd) conv_gradcheck(S, g, x, w, b);
    gb_dnnl_set_mode(was);
  }
  free(r.y), free(r.gx), free(r.gw), free(r.gb);
  gb_tensor_release(S, x), gb_tensor_release(S, w);
  gb_tensor_release(S, b), gb_tensor_release(S, gy);
}

/* the shape rules' refusals: the message names the op, the shapes and what was expected */
static void expect_error(gb_state *S, gb_opid id, gb_opargs *a, gb_status want, const char *msg) {
  gb_tensor *out[2] = {NULL, NULL};
  gb_status st = gb_op_run(S, id, a, out);
  CHECK(st == want && strstr(gb_state_error(S), msg), "%s: status %d, message '%s'; expected '%s'",
        gb_ops[id].name, (int)st, st ? gb_state_error(S) : "", msg);
  gb_tensor_release(S, out[0]), gb_tensor_release(S, out[1]);
}

static void check_conv_errors(gb_state *S) {
  gb_tensor *x = frand(S, 4, (int64_t[]){1, 4, 5, 5}), *w = frand(S, 4, (int64_t[]){6, 2, 3, 3});
  gb_tensor *w5 = frand(S, 4, (int64_t[]){5, 2, 3, 3}), *b = frand(S, 1, (int64_t[]){6});
  gb_tensor *b5 = frand(S, 1, (int64_t[]){5}), *gy = frand(S, 4, (int64_t[]){1, 6, 3, 3});
  gb_opargs a = {.in = {x, w, b}, .nin = 3, .i = {3, 3, 1, 1, 0, 0, 0, 0, 0, 1, 1, 3}};
  expect_error(S, GB_OP_CONV2D, &a, GB_ESHAPE,
               "conv2d: input (1,4,5,5) has 4 channels, not divisible by groups=3");
  a.i[GB_WIN_GROUPS] = -2;
  expect_error(S, GB_OP_CONV2D, &a, GB_EARG, "conv2d: groups must be >= 1, got -2");
  a.i[GB_WIN_GROUPS] = 2, a.in[1] = w5, a.in[2] = b5;
  expect_error(S, GB_OP_CONV2D, &a, GB_ESHAPE,
               "conv2d: weight (5,2,3,3) has 5 output channels, not divisible by groups=2");
  a.i[GB_WIN_GROUPS] = 1, a.in[1] = w, a.in[2] = b;
  expect_error(S, GB_OP_CONV2D, &a, GB_ESHAPE,
               "conv2d: weight (6,2,3,3) does not fit 4 input channels and a 3x3 kernel");
  a.i[GB_WIN_GROUPS] = 2, a.i[GB_WIN_DH] = 3;
  expect_error(S, GB_OP_CONV2D, &a, GB_ESHAPE,
               "conv2d: kernel 3x3 with dilation 3x1 spans 7x3, more than the padded input 5x5");
  a.i[GB_WIN_DH] = -1;
  expect_error(S, GB_OP_CONV2D, &a, GB_EARG, "conv2d: dilation -1x1 must be >= 1");
  a.i[GB_WIN_DH] = INT64_MAX;
  expect_error(
      S, GB_OP_CONV2D, &a, GB_ESHAPE,
      "conv2d: kernel 3x3 with dilation 9223372036854775807x1 and stride 1x1 is too large");
  /* backward rows: the gradient's channels and the groups of the weight */
  gb_opargs bi = {.in = {gy, w}, .nin = 2, .i = {3, 3, 1, 1, 0, 0, 5, 5, 0, 1, 1, 4}};
  expect_error(S, GB_OP_CONV2D_BACKWARD_INPUT, &bi, GB_ESHAPE,
               "conv2d_backward_input: gradient (1,6,3,3) has 6 channels, not divisible by "
               "groups=4");
  bi.i[GB_WIN_GROUPS] = INT64_MAX;
  expect_error(S, GB_OP_CONV2D_BACKWARD_INPUT, &bi, GB_ESHAPE,
               "conv2d_backward_input: gradient (1,6,3,3) has 6 channels, not divisible by");
  gb_opargs bw = {.in = {gy, x}, .nin = 2, .i = {3, 3, 1, 1, 0, 0, 0, 0, 0, 1, 1, 3}};
  expect_error(S, GB_OP_CONV2D_BACKWARD_WEIGHT, &bw, GB_ESHAPE,
               "conv2d_backward_weight: input (1,4,5,5) has 4 channels, not divisible by groups=3");
  bw.i[GB_WIN_GROUPS] = 2; /* fits: (6, 2, 3, 3) */
  gb_tensor *gw[2] = {NULL, NULL};
  CHECK(gb_op_run(S, GB_OP_CONV2D_BACKWARD_WEIGHT, &bw, gw) == GB_OK && gw[0]->shape[0] == 6 &&
            gw[0]->shape[1] == 2,
        "conv2d_backward_weight with groups 2: %s", gb_state_error(S));
  gb_tensor_release(S, gw[0]);
  gb_tensor *rel[6] = {x, w, w5, b, b5, gy};
  gb_tensors_release(S, rel, 6);
}

/* ---- pooling: x (n,c,h,w); max (dilation, ceil_mode) and avg (ceil_mode, count_include_pad,
 * divisor_override) ---- */

typedef struct pool_case {
  bool max;
  int64_t n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw;
  bool ceil, include_pad;
  int64_t divisor; /* 0: none */
  int64_t oh, ow;  /* PyTorch's sizes, worked out by hand in the comments */
  const char *what;
} pool_case;

static const pool_case POOL_CASES[] = {
    /* (7 + 2 - 2*2 - 1 + 1) // 2 + 1 = 3, last start 4 < 8; (8 + 0 - 1*1 - 1 + 1) // 2 + 1 = 4 */
    {true, 2, 3, 7, 8, 3, 2, 2, 2, 1, 0, 2, 1, true, false, 0, 3, 4,
     "max 3x2/2 pad 1x0 dil 2x1 ceil"},
    /* ceil: (5 - 2 + 1) // 2 + 1 = 3 rows, (7 - 2 + 1) // 2 + 1 = 4 columns: the 2x2 path's
     * overhanging last windows */
    {true, 1, 2, 5, 7, 2, 2, 2, 2, 0, 0, 1, 1, true, false, 0, 3, 4, "max 2x2/2 ceil, odd sizes"},
    /* (6 + 2 - 3 + 2) // 3 + 1 = 3: start 6 >= 6 + 1? no: 3 rows; w (5 + 2 - 3 + 2) // 3 + 1 = 3,
     * last start 6 >= 5 + 1: dropped -> 2 */
    {true, 1, 2, 6, 5, 3, 3, 3, 3, 1, 1, 1, 1, true, false, 0, 3, 2, "max 3x3/3 pad 1 ceil, drop"},
    {false, 2, 2, 6, 7, 3, 3, 2, 2, 1, 1, 1, 1, true, true, 0, 4, 4, "avg 3x3/2 pad 1 ceil"},
    /* (5 + 2 - 2 + 1) // 2 + 1 = 4, last start 6 >= 5 + 1: dropped -> 3; (6 + 2 - 3 + 1) // 2 + 1 =
       4 */
    {false, 1, 3, 5, 6, 2, 3, 2, 2, 1, 1, 1, 1, true, false, 0, 3, 4, "avg exclude pad, ceil"},
    {false, 1, 2, 5, 5, 2, 2, 2, 2, 0, 0, 1, 1, true, true, 3, 3, 3, "avg divisor 3, ceil"},
    {false, 2, 2, 4, 9, 1, 4, 1, 3, 0, 2, 1, 1, true, false, 0, 4, 4, "avg 1x4/1x3 pad 0x2 ceil"},
};

static gb_opargs pool_args(const pool_case *g) {
  gb_opargs a = {.nin = 1};
  int64_t i[12] = {g->kh,          g->kw,      g->sh, g->sw, g->ph, g->pw,
                   g->include_pad, g->divisor, 0,     1,     1,     g->ceil};
  if (g->max) i[6] = 0, i[7] = 0, i[9] = g->dh, i[10] = g->dw;
  memcpy(a.i, i, sizeof i);
  return a;
}

/* y and, for the gradient gy, gx of one pooling case, by naive windows */
static void pool_reference(const pool_case *g, const gb_tensor *x, const gb_tensor *gy, double *y,
                           double *gx) {
  for (int64_t p = 0; p < g->n * g->c; p++)
    for (int64_t oy = 0; oy < g->oh; oy++)
      for (int64_t ox = 0; ox < g->ow; ox++) {
        int64_t yi = (p * g->oh + oy) * g->ow + ox, y0 = oy * g->sh - g->ph,
                x0 = ox * g->sw - g->pw;
        int64_t best = -1, inside = 0;
        double sum = 0;
        for (int64_t ky = 0; ky < g->kh; ky++)
          for (int64_t kx = 0; kx < g->kw; kx++) {
            int64_t iy = y0 + ky * g->dh, ix = x0 + kx * g->dw;
            if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) continue;
            int64_t xi = (p * g->h + iy) * g->w + ix;
            if (best < 0 || at(x, xi) > at(x, best)) best = xi;
            sum += at(x, xi), inside++;
          }
        if (g->max) {
          y[yi] = at(x, best); /* every case's windows touch the input */
          gx[best] += at(gy, yi);
          continue;
        }
        /* the padded window: up to h + ph, w + pw */
        int64_t y1 = y0 + g->kh < g->h + g->ph ? y0 + g->kh : g->h + g->ph;
        int64_t x1 = x0 + g->kw < g->w + g->pw ? x0 + g->kw : g->w + g->pw;
        double div = g->divisor       ? (double)g->divisor
                     : g->include_pad ? (double)((y1 - y0) * (x1 - x0))
                                      : (double)inside;
        y[yi] = sum / div;
        for (int64_t iy = y0 < 0 ? 0 : y0; iy < y0 + g->kh && iy < g->h; iy++)
          for (int64_t ix = x0 < 0 ? 0 : x0; ix < x0 + g->kw && ix < g->w; ix++)
            gx[(p * g->h + iy) * g->w + ix] += at(gy, yi) / div;
      }
}

static double pool_loss(gb_state *S, gb_opid id, gb_opargs *a, const gb_tensor *r) {
  gb_tensor *y[2] = {NULL, NULL};
  if (gb_op_run(S, id, a, y)) return NAN;
  double s = 0;
  for (int64_t i = 0; i < y[0]->numel; i++)
    s += at(y[0], i) * at(r, i);
  gb_tensor_release(S, y[0]), gb_tensor_release(S, y[1]);
  return s;
}

static void check_pool_case(gb_state *S, const pool_case *g) {
  gb_opid fwd = g->max ? GB_OP_MAX_POOL2D : GB_OP_AVG_POOL2D;
  const char *name = gb_ops[fwd].name;
  gb_tensor *x = frand(S, 4, (int64_t[]){g->n, g->c, g->h, g->w});
  gb_tensor *gy = frand(S, 4, (int64_t[]){g->n, g->c, g->oh, g->ow}), *leaf, *y[2] = {NULL, NULL};
  double *ry = calloc((size_t)gy->numel, sizeof(double)),
         *rgx = calloc((size_t)x->numel, sizeof(double));
  pool_reference(g, x, gy, ry, rgx);
  /* forward on a leaf (max: the recorded call also saves the argmax), tape backward with gy */
  gb_fn_clone(S, x, &leaf);
  leaf->requires_grad = true;
  gb_opargs a = pool_args(g);
  a.in[0] = leaf;
  CHECK(gb_op_run(S, fwd, &a, y) == GB_OK, "%s %s: %s", name, g->what, gb_state_error(S));
  CHECK(y[0] && y[0]->shape[2] == g->oh && y[0]->shape[3] == g->ow, "%s %s: output %lldx%lld", name,
        g->what, y[0] ? (long long)y[0]->shape[2] : -1LL, y[0] ? (long long)y[0]->shape[3] : -1LL);
  conv_case label = {.what = g->what};
  if (y[0] && y[0]->numel == gy->numel) {
    expect(y[0], ry, gy->numel, name, "forward", &label);
    CHECK(gb_backward(S, y[0], gy, false) == GB_OK, "%s backward: %s", name, gb_state_error(S));
    expect(leaf->grad, rgx, x->numel, name, "tape gradient", &label);
    /* central differences (windows' maxima are apart by more than eps on random data) */
    bool was = gb_set_grad_enabled(S, false);
    for (int64_t i = 0; leaf->grad && i < x->numel; i++) {
      float *p = gb_tensor_f32(leaf) + i, keep = *p;
      const float eps = 1e-3f;
      *p = keep + eps;
      double up = pool_loss(S, fwd, &a, gy);
      *p = keep - eps;
      double down = pool_loss(S, fwd, &a, gy);
      *p = keep;
      double num = (up - down) / (2.0 * eps), ana = at(leaf->grad, i);
      if (!close_to(ana, num, 1e-2, 2e-3)) {
        CHECK(false, "%s %s: d/dx[%lld]: tape %.7g, finite differences %.7g", name, g->what,
              (long long)i, ana, num);
        break;
      }
    }
    gb_set_grad_enabled(S, was);
  }
  gb_tensor_release(S, y[0]), gb_tensor_release(S, y[1]);
  free(ry), free(rgx);
  gb_tensor_release(S, leaf), gb_tensor_release(S, x), gb_tensor_release(S, gy);
}

static void check_pool_errors(gb_state *S) {
  gb_tensor *x = frand(S, 4, (int64_t[]){1, 1, 2, 2});
  gb_opargs a = {.in = {x}, .nin = 1, .i = {3, 3, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1}};
  expect_error(S, GB_OP_MAX_POOL2D, &a, GB_ESHAPE,
               "max_pool2d: kernel 3x3 is larger than the padded input 2x2");
  a.i[2] = a.i[3] = 2; /* ceil_mode: (2 - 3 + 1) // 2 + 1 = 1 */
  gb_tensor *y[2] = {NULL, NULL};
  CHECK(gb_op_run(S, GB_OP_MAX_POOL2D, &a, y) == GB_OK && y[0]->shape[2] == 1 &&
            y[0]->shape[3] == 1,
        "max_pool2d 3x3/2 ceil over 2x2: %s", gb_state_error(S));
  gb_tensor_release(S, y[0]);
  a.i[2] = a.i[3] = INT64_MAX; /* ceil rounding must not overflow: (2 - 3) + (2^63 - 2) */
  CHECK(gb_op_run(S, GB_OP_MAX_POOL2D, &a, y) == GB_OK && y[0]->shape[2] == 1,
        "max_pool2d 3x3/huge ceil over 2x2: %s", gb_state_error(S));
  gb_tensor_release(S, y[0]);
  a.i[0] = a.i[1] = INT64_MAX, a.i[2] = a.i[3] = 1;
  expect_error(S, GB_OP_MAX_POOL2D, &a, GB_ESHAPE,
               "max_pool2d: kernel 9223372036854775807x9223372036854775807 is larger than the "
               "padded input 2x2");
  a.i[0] = a.i[1] = 2, a.i[GB_WIN_DH] = INT64_MAX;
  expect_error(S, GB_OP_MAX_POOL2D, &a, GB_ESHAPE,
               "max_pool2d: kernel 2x2 with dilation 9223372036854775807x1 and stride 1x1 is too "
               "large");
  gb_opargs v = {.in = {x}, .nin = 1, .i = {2, 2, 2, 2, 0, 0, 1, -3}};
  expect_error(S, GB_OP_AVG_POOL2D, &v, GB_EARG,
               "avg_pool2d: divisor_override must be > 0, got -3");
  /* a 2^34 x 2^34 window padded by 2^33 over one pixel: the padded window counts 2^68 (past
   * int64), one value of x divided by it */
  gb_tensor *one = frand(S, 4, (int64_t[]){1, 1, 1, 1});
  int64_t k = (int64_t)1 << 34;
  gb_opargs big = {.in = {one}, .nin = 1, .i = {k, k, k, k, k / 2, k / 2, 1}};
  CHECK(gb_op_run(S, GB_OP_AVG_POOL2D, &big, y) == GB_OK && y[0]->numel == 1 &&
            close_to(at(y[0], 0), at(one, 0) / ldexp(1.0, 68), 1e-6, 0),
        "avg_pool2d of a 2^34 window: %s", gb_state_error(S));
  gb_tensor_release(S, y[0]), gb_tensor_release(S, one);
  gb_tensor_release(S, x);
}

int main(void) {
  gb_cpu_backend_register();
  gb_state *S = gb_state_new();
  int n = (int)(sizeof CONV_CASES / sizeof CONV_CASES[0]);
  for (int k = 0; k < n; k++)
    check_conv_case(S, &CONV_CASES[k]);
  check_conv_errors(S);
  int np = (int)(sizeof POOL_CASES / sizeof POOL_CASES[0]);
  for (int k = 0; k < np; k++)
    check_pool_case(S, &POOL_CASES[k]);
  check_pool_errors(S);
  gb_memstats m;
  gb_state_memstats(S, GB_CPU, &m);
  CHECK(m.allocated == 0, "%lld bytes still allocated after all cases", (long long)m.allocated);
  gb_state_free(S);
  printf("%d convolution and %d pooling cases, %d checks, %d failures\n", n, np, checks, failures);
  return failures ? 1 : 0;
}
