/* gb_cpu_conv.c — CPU kernels for convolution and pooling on (N,C,H,W) tensors: im2col turns
 * every output position's receptive field into a row (so a convolution is one matrix
 * product) and col2im is its adjoint (overlaps summed). Max pooling is gb_cpu_maxpool.c. */
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
