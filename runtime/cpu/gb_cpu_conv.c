/* gb_cpu_conv.c — CPU kernels for convolution and pooling on (N,C,H,W) tensors: im2col turns
 * every output position's receptive field into a row (so a convolution is one matrix
 * product), col2im is its adjoint (overlaps summed), and max pooling with its backward. */
#include <math.h>
#include <string.h>

#include "gb_cpu.h"

typedef struct window {
  int64_t n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow;
} window;

static window window_of(const gb_opargs *a, int64_t n, int64_t c, int64_t h, int64_t w) {
  window g = {n, c, h, w, a->i[0], a->i[1], a->i[2], a->i[3], a->i[4], a->i[5], 0, 0};
  g.oh = (h + 2 * g.ph - g.kh) / g.sh + 1;
  g.ow = (w + 2 * g.pw - g.kw) / g.sw + 1;
  return g;
}

/* x: (N,C,H,W) -> cols: (N, OH*OW, C*kh*kw); outside the image reads 0 */
gb_status gb_cpu_im2col(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *xc;
  gb_status st = gb_tensor_contiguous(S, a->in[0], &xc);
  if (st) return st;
  window g = window_of(a, xc->shape[0], xc->shape[1], xc->shape[2], xc->shape[3]);
  const float *x = gb_tensor_f32(xc);
  float *col = gb_tensor_f32(out[0]);
  int64_t k = g.c * g.kh * g.kw;
  for (int64_t n = 0; n < g.n; n++)
    for (int64_t oy = 0; oy < g.oh && !gb_should_stop(S); oy++) /* stops: output discarded */
      for (int64_t ox = 0; ox < g.ow; ox++) {
        float *row = col + ((n * g.oh + oy) * g.ow + ox) * k;
        for (int64_t c = 0; c < g.c; c++)
          for (int64_t ky = 0; ky < g.kh; ky++) {
            int64_t iy = oy * g.sh - g.ph + ky;
            for (int64_t kx = 0; kx < g.kw; kx++) {
              int64_t ix = ox * g.sw - g.pw + kx;
              bool in = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
              *row++ = in ? x[((n * g.c + c) * g.h + iy) * g.w + ix] : 0.0f;
            }
          }
      }
  gb_tensor_release(S, xc);
  return GB_OK;
}

/* cols: (N, OH*OW, C*kh*kw) -> (N,C,H,W), each column entry added where im2col read it */
gb_status gb_cpu_col2im(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *cc;
  gb_status st = gb_tensor_contiguous(S, a->in[0], &cc);
  if (st) return st;
  gb_tensor *y = out[0];
  window g = window_of(a, y->shape[0], y->shape[1], y->shape[2], y->shape[3]);
  const float *col = gb_tensor_f32(cc);
  float *img = gb_tensor_f32(y);
  memset(img, 0, (size_t)y->numel * sizeof(float));
  for (int64_t n = 0; n < g.n; n++)
    for (int64_t oy = 0; oy < g.oh && !gb_should_stop(S); oy++) /* stops: output discarded */
      for (int64_t ox = 0; ox < g.ow; ox++) {
        const float *row = col + ((n * g.oh + oy) * g.ow + ox) * g.c * g.kh * g.kw;
        for (int64_t c = 0; c < g.c; c++)
          for (int64_t ky = 0; ky < g.kh; ky++) {
            int64_t iy = oy * g.sh - g.ph + ky;
            for (int64_t kx = 0; kx < g.kw; kx++, row++) {
              int64_t ix = ox * g.sw - g.pw + kx;
              if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w)
                img[((n * g.c + c) * g.h + iy) * g.w + ix] += *row;
            }
          }
      }
  gb_tensor_release(S, cc);
  return GB_OK;
}

/* Offset (within one (H,W) plane) of the first maximum of window (oy, ox); -1 if the window
 * lies entirely in the padding. NaN wins, as in the reductions. */
static int64_t window_argmax(const window *g, const float *plane, int64_t oy, int64_t ox) {
  int64_t best = -1;
  /* only the window's part inside the image: a huge padded kernel costs no more */
  int64_t y0 = oy * g->sh - g->ph, x0 = ox * g->sw - g->pw;
  int64_t ky1 = g->h - y0 < g->kh ? g->h - y0 : g->kh, kx1 = g->w - x0 < g->kw ? g->w - x0 : g->kw;
  int64_t ky0 = y0 < 0 ? -y0 : 0, kx0 = x0 < 0 ? -x0 : 0;
  if (ky0 >= ky1 || kx0 >= kx1) return -1;
  best = (y0 + ky0) * g->w + x0 + kx0;
  float bv = plane[best]; /* plane[best], kept in a register */
  for (int64_t ky = ky0; ky < ky1; ky++) {
    const float *row = plane + (y0 + ky) * g->w + x0;
    for (int64_t kx = kx0; kx < kx1; kx++) {
      float v = row[kx];
      /* branch-free: random data mispredicts a branch half the time */
      int take = (bv == bv) & ((v != v) | (v > bv));
      int64_t at = (y0 + ky) * g->w + x0 + kx;
      best = take ? at : best;
      bv = take ? v : bv;
    }
  }
  return best;
}

gb_status gb_cpu_max_pool2d(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *xc;
  gb_status st = gb_tensor_contiguous(S, a->in[0], &xc);
  if (st) return st;
  window g = window_of(a, xc->shape[0], xc->shape[1], xc->shape[2], xc->shape[3]);
  const float *x = gb_tensor_f32(xc);
  float *y = gb_tensor_f32(out[0]);
  for (int64_t p = 0; p < g.n * g.c; p++) {
    const float *plane = x + p * g.h * g.w;
    for (int64_t oy = 0; oy < g.oh && !gb_should_stop(S); oy++) /* stops: output discarded */
      for (int64_t ox = 0; ox < g.ow; ox++) {
        int64_t at = window_argmax(&g, plane, oy, ox);
        *y++ = at < 0 ? -INFINITY : plane[at];
      }
  }
  gb_tensor_release(S, xc);
  return GB_OK;
}

/* (gout, x) -> gin: each output's gradient goes to its window's first maximum */
gb_status gb_cpu_max_pool2d_backward(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *gc, *xc;
  gb_status st = gb_tensor_contiguous(S, a->in[0], &gc);
  if (st) return st;
  if ((st = gb_tensor_contiguous(S, a->in[1], &xc))) {
    gb_tensor_release(S, gc);
    return st;
  }
  window g = window_of(a, xc->shape[0], xc->shape[1], xc->shape[2], xc->shape[3]);
  const float *x = gb_tensor_f32(xc), *gout = gb_tensor_f32(gc);
  float *gin = gb_tensor_f32(out[0]);
  memset(gin, 0, (size_t)out[0]->numel * sizeof(float));
  for (int64_t p = 0; p < g.n * g.c; p++) {
    const float *plane = x + p * g.h * g.w;
    float *gplane = gin + p * g.h * g.w;
    for (int64_t oy = 0; oy < g.oh && !gb_should_stop(S); oy++) /* stops: output discarded */
      for (int64_t ox = 0; ox < g.ow; ox++) {
        int64_t at = window_argmax(&g, plane, oy, ox);
        float gv = *gout++;
        if (at >= 0) gplane[at] += gv;
      }
  }
  gb_tensor_release(S, gc);
  gb_tensor_release(S, xc);
  return GB_OK;
}
