/* gb_cuda_conv.cu — convolution helpers and max pooling on (N,C,H,W) tensors, matching
 * runtime/cpu/gb_cpu_conv.c: im2col (one thread per patch entry), col2im (one thread per image
 * element, gathering the entries that read it: deterministic, no atomics), max_pool2d (each
 * window's first maximum, NaN winning, and its offset for a recorded call) and its backward
 * (the gradient goes where the forward's offsets point). */
#include "gb_cuda_impl.h"

struct window {
  int64_t n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow;
};

static window window_of(const gb_opargs *a, int64_t n, int64_t c, int64_t h, int64_t w) {
  window g = {n, c, h, w, a->i[0], a->i[1], a->i[2], a->i[3], a->i[4], a->i[5], 0, 0};
  g.oh = (h + 2 * g.ph - g.kh) / g.sh + 1;
  g.ow = (w + 2 * g.pw - g.kw) / g.sw + 1;
  return g;
}

/* cols (N, OH*OW, C*kh*kw): entry e = ((n*OH + oy)*OW + ox)*K + (c*kh + ky)*kw + kx */
__global__ void k_im2col(window g, const float *x, float *col) {
  int64_t K = g.c * g.kh * g.kw, total = g.n * g.oh * g.ow * K;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t k = e % K, r = e / K;
    int64_t ox = r % g.ow, oy = (r / g.ow) % g.oh, n = r / (g.ow * g.oh);
    int64_t kx = k % g.kw, ky = (k / g.kw) % g.kh, c = k / (g.kw * g.kh);
    int64_t iy = oy * g.sh - g.ph + ky, ix = ox * g.sw - g.pw + kx;
    bool in = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
    col[e] = in ? x[((n * g.c + c) * g.h + iy) * g.w + ix] : 0.0f;
  }
}

/* image element (n,c,iy,ix) sums the entries of every window position that covers it */
__global__ void k_col2im(window g, const float *col, float *img) {
  int64_t K = g.c * g.kh * g.kw, total = g.n * g.c * g.h * g.w;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t ix = e % g.w, iy = (e / g.w) % g.h, c = (e / (g.w * g.h)) % g.c,
            n = e / (g.w * g.h * g.c);
    float acc = 0.0f;
    for (int64_t ky = 0; ky < g.kh; ky++) {
      int64_t ty = iy + g.ph - ky; /* = oy * sh */
      if (ty < 0 || ty % g.sh) continue;
      int64_t oy = ty / g.sh;
      if (oy >= g.oh) continue;
      for (int64_t kx = 0; kx < g.kw; kx++) {
        int64_t tx = ix + g.pw - kx;
        if (tx < 0 || tx % g.sw) continue;
        int64_t ox = tx / g.sw;
        if (ox >= g.ow) continue;
        acc += col[((n * g.oh + oy) * g.ow + ox) * K + (c * g.kh + ky) * g.kw + kx];
      }
    }
    img[e] = acc;
  }
}

/* offset within the plane of window (oy, ox)'s first maximum, -1 if all padding */
__device__ __forceinline__ int64_t window_argmax(const window &g, const float *plane, int64_t oy,
                                                 int64_t ox) {
  int64_t best = -1;
  float bv = 0.0f;
  /* only the window's part inside the image: a huge padded kernel costs no more */
  int64_t y0 = oy * g.sh - g.ph, x0 = ox * g.sw - g.pw;
  int64_t ky1 = g.h - y0 < g.kh ? g.h - y0 : g.kh, kx1 = g.w - x0 < g.kw ? g.w - x0 : g.kw;
  for (int64_t ky = y0 < 0 ? -y0 : 0; ky < ky1; ky++) {
    int64_t iy = y0 + ky;
    for (int64_t kx = x0 < 0 ? -x0 : 0; kx < kx1; kx++) {
      int64_t ix = x0 + kx;
      float v = plane[iy * g.w + ix];
      if (best < 0 || (bv == bv && (v != v || v > bv))) {
        best = iy * g.w + ix;
        bv = v;
      }
    }
  }
  return best;
}

/* y and, for a recorded call (idx not NULL), the argmax offsets in each (H,W) plane */
__global__ void k_max_pool(window g, const float *x, float *y, int64_t *idx) {
  int64_t total = g.n * g.c * g.oh * g.ow;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t ox = e % g.ow, oy = (e / g.ow) % g.oh, p = e / (g.ow * g.oh);
    const float *plane = x + p * g.h * g.w;
    int64_t at = window_argmax(g, plane, oy, ox);
    y[e] = at < 0 ? -INFINITY : plane[at];
    if (idx) idx[e] = at;
  }
}

/* gin[plane][idx] += gout, through the forward's indices (one skipped when outside the plane) */
__global__ void k_max_pool_backward(window g, const int64_t *idx, const float *gout, float *gin) {
  int64_t total = g.n * g.c * g.oh * g.ow, hw = g.h * g.w;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t at = idx[e], p = e / (g.ow * g.oh);
    if (at >= 0 && at < hw) atomicAdd(&gin[p * hw + at], gout[e]);
  }
}

extern "C" gb_status gb_cuda_im2col(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_cuda_dev *c;
  gb_device dev = out[0]->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  if (out[0]->numel == 0) return GB_OK;
  gb_tensor *xc;
  if ((st = gb_tensor_contiguous(S, a->in[0], &xc))) return st;
  window g = window_of(a, xc->shape[0], xc->shape[1], xc->shape[2], xc->shape[3]);
  k_im2col<<<gb_cuda_blocks(out[0]->numel, GB_CUDA_THREADS), GB_CUDA_THREADS, 0, c->stream>>>(
      g, gb_tensor_f32(xc), gb_tensor_f32(out[0]));
  gb_tensor_release(S, xc);
  GB_LAUNCHED(S, dev, c, "im2col kernel");
  return GB_OK;
}

extern "C" gb_status gb_cuda_col2im(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_cuda_dev *c;
  gb_tensor *y = out[0];
  gb_device dev = y->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  if (y->numel == 0) return GB_OK;
  gb_tensor *cc;
  if ((st = gb_tensor_contiguous(S, a->in[0], &cc))) return st;
  window g = window_of(a, y->shape[0], y->shape[1], y->shape[2], y->shape[3]);
  k_col2im<<<gb_cuda_blocks(y->numel, GB_CUDA_THREADS), GB_CUDA_THREADS, 0, c->stream>>>(
      g, gb_tensor_f32(cc), gb_tensor_f32(y));
  gb_tensor_release(S, cc);
  GB_LAUNCHED(S, dev, c, "col2im kernel");
  return GB_OK;
}

extern "C" gb_status gb_cuda_max_pool2d(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_cuda_dev *c;
  gb_device dev = out[0]->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  if (out[0]->numel == 0) return GB_OK;
  gb_tensor *xc;
  if ((st = gb_tensor_contiguous(S, a->in[0], &xc))) return st;
  window g = window_of(a, xc->shape[0], xc->shape[1], xc->shape[2], xc->shape[3]);
  k_max_pool<<<gb_cuda_blocks(out[0]->numel, GB_CUDA_THREADS), GB_CUDA_THREADS, 0, c->stream>>>(
      g, gb_tensor_f32(xc), gb_tensor_f32(out[0]),
      out[1] ? (int64_t *)gb_tensor_data(out[1]) : NULL);
  gb_tensor_release(S, xc);
  GB_LAUNCHED(S, dev, c, "max_pool2d kernel");
  return GB_OK;
}

extern "C" gb_status gb_cuda_max_pool2d_backward(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_cuda_dev *c;
  gb_device dev = out[0]->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  if (out[0]->numel == 0) return GB_OK;
  GB_CU(S, dev, cudaMemsetAsync(gb_tensor_f32(out[0]), 0, (size_t)out[0]->numel * 4, c->stream));
  gb_tensor *gc, *ic;
  if ((st = gb_tensor_contiguous(S, a->in[0], &gc))) return st;
  if ((st = gb_tensor_contiguous(S, a->in[1], &ic))) {
    gb_tensor_release(S, gc);
    return st;
  }
  gb_tensor *gin = out[0];
  window g = window_of(a, gin->shape[0], gin->shape[1], gin->shape[2], gin->shape[3]);
  int64_t n = g.n * g.c * g.oh * g.ow;
  if (n > 0)
    k_max_pool_backward<<<gb_cuda_blocks(n, GB_CUDA_THREADS), GB_CUDA_THREADS, 0, c->stream>>>(
        g, (const int64_t *)gb_tensor_data(ic), gb_tensor_f32(gc), gb_tensor_f32(gin));
  gb_tensor_release(S, gc);
  gb_tensor_release(S, ic);
  GB_LAUNCHED(S, dev, c, "max_pool2d_backward kernel");
  return GB_OK;
}
