/* gb_cuda_conv.cu — convolution helpers and max pooling on (N,C,H,W) tensors, matching
 * runtime/cpu/gb_cpu_conv.c: im2col (one thread per patch entry), col2im (one thread per image
 * element, gathering the entries that read it: deterministic, no atomics), max_pool2d (each
 * window's first maximum, NaN winning, and its offset for a recorded call; dilation and
 * ceil_mode's overhanging windows as gb_window.h lays them out) and its backward (the
 * gradient goes where the forward's offsets point). */
#include "gb_cuda_impl.h"

struct window {
  int64_t n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow;
};

/* im2col/col2im's window (no dilation): their patches' (N, OH*OW, K) shape does not give OH
 * and OW apart, so they are worked out here as the shape rule did */
static window window_of(const gb_opargs *a, int64_t n, int64_t c, int64_t h, int64_t w) {
  window g = {n, c, h, w, a->i[0], a->i[1], a->i[2], a->i[3], a->i[4], a->i[5], 0, 0};
  g.oh = (h + 2 * g.ph - g.kh) / g.sh + 1;
  g.ow = (w + 2 * g.pw - g.kw) / g.sw + 1;
  return g;
}

/* max pooling's planes and window; (oh, ow) from the tensors the shape rule made */
struct pgeom {
  int64_t planes, h, w, oh, ow;
  gb_window k;
};

static pgeom pgeom_of(const gb_opargs *a, const gb_tensor *x, int64_t oh, int64_t ow) {
  pgeom g = {x->shape[0] * x->shape[1], x->shape[2], x->shape[3], oh, ow, gb_window_of(a)};
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

/* the taps [*k0, *k1) of a window starting at s0 (taps s0 + k*d, k < kn) inside 0..n-1 */
__device__ __forceinline__ void taps_inside(int64_t s0, int64_t kn, int64_t d, int64_t n,
                                            int64_t *k0, int64_t *k1) {
  *k0 = s0 < 0 ? -s0 / d + (-s0 % d != 0) : 0;
  int64_t last = n - 1 - s0;
  *k1 = last < 0 ? 0 : last / d + 1;
  if (*k1 > kn) *k1 = kn;
}

/* offset within the plane of window (oy, ox)'s first maximum, -1 if all padding */
__device__ __forceinline__ int64_t window_argmax(const pgeom &g, const float *plane, int64_t oy,
                                                 int64_t ox) {
  const gb_window &k = g.k;
  int64_t best = -1;
  float bv = 0.0f;
  /* only the window's taps inside the image: a huge padded kernel costs no more */
  int64_t y0 = oy * k.sh - k.ph, x0 = ox * k.sw - k.pw, ky0, ky1, kx0, kx1;
  taps_inside(y0, k.kh, k.dh, g.h, &ky0, &ky1);
  taps_inside(x0, k.kw, k.dw, g.w, &kx0, &kx1);
  for (int64_t ky = ky0; ky < ky1; ky++) {
    int64_t iy = y0 + ky * k.dh;
    for (int64_t kx = kx0; kx < kx1; kx++) {
      int64_t ix = x0 + kx * k.dw;
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
__global__ void k_max_pool(pgeom g, const float *x, float *y, int64_t *idx) {
  int64_t total = g.planes * g.oh * g.ow;
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
__global__ void k_max_pool_backward(pgeom g, const int64_t *idx, const float *gout, float *gin) {
  int64_t total = g.planes * g.oh * g.ow, hw = g.h * g.w;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t at = idx[e], p = e / (g.ow * g.oh);
    if (at >= 0 && at < hw) atomicAdd(&gin[p * hw + at], gout[e]);
  }
}

typedef void (*patch_kernel)(window, const float *, float *);

/* im2col or col2im: kernel k from in[0] (made contiguous) into out[0], one thread per output
 * element; the window is that of the image, x = in[0] (im2col) or y = out[0] (col2im) */
static gb_status patch_launch(gb_state *S, const gb_opargs *a, gb_tensor **out, bool to_cols,
                              patch_kernel k, const char *what) {
  gb_cuda_dev *c;
  gb_device dev = out[0]->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  if (out[0]->numel == 0) return GB_OK;
  gb_tensor *in;
  if ((st = gb_tensor_contiguous(S, a->in[0], &in))) return st;
  const gb_tensor *img = to_cols ? in : out[0];
  window g = window_of(a, img->shape[0], img->shape[1], img->shape[2], img->shape[3]);
  k<<<gb_cuda_blocks(out[0]->numel, GB_CUDA_THREADS), GB_CUDA_THREADS, 0, c->stream>>>(
      g, gb_tensor_f32(in), gb_tensor_f32(out[0]));
  gb_tensor_release(S, in);
  GB_LAUNCHED(S, dev, c, what);
  return GB_OK;
}

extern "C" gb_status gb_cuda_im2col(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return patch_launch(S, a, out, true, k_im2col, "im2col kernel");
}

extern "C" gb_status gb_cuda_col2im(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return patch_launch(S, a, out, false, k_col2im, "col2im kernel");
}

extern "C" gb_status gb_cuda_max_pool2d(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_cuda_dev *c;
  gb_device dev = out[0]->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  if (out[0]->numel == 0) return GB_OK;
  gb_tensor *xc;
  if ((st = gb_tensor_contiguous(S, a->in[0], &xc))) return st;
  pgeom g = pgeom_of(a, xc, out[0]->shape[2], out[0]->shape[3]);
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
  gb_tensor *in[2]; /* gout, indices */
  if ((st = gb_opargs_contiguous(S, a, 2, in))) return st;
  pgeom g = pgeom_of(a, out[0], in[0]->shape[2], in[0]->shape[3]);
  if (in[0]->numel > 0)
    k_max_pool_backward<<<gb_cuda_blocks(in[0]->numel, GB_CUDA_THREADS), GB_CUDA_THREADS, 0,
                          c->stream>>>(g, (const int64_t *)gb_tensor_data(in[1]),
                                       gb_tensor_f32(in[0]), gb_tensor_f32(out[0]));
  gb_tensors_release(S, in, 2);
  GB_LAUNCHED(S, dev, c, "max_pool2d_backward kernel");
  return GB_OK;
}
