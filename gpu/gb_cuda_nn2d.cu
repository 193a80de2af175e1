/* gb_cuda_nn2d.cu — the nn-layer rows on CUDA, matching runtime/cpu/gb_cpu_conv2d.c,
 * gb_cpu_pool.c and gb_cpu_batchnorm.c: direct convolution (one thread per output, input
 * gradient gathered per image element, weight gradient per weight element: deterministic, no
 * atomics; groups and dilation as gb_window.h lays them out), average pooling (backward spreads
 * each cell with atomicAdd, as max pooling does) and batch norm (one block per channel,
 * cub::BlockReduce in double; float32 and float64 tensors, one template body). */
#include <cub/block/block_reduce.cuh>

#include "gb_cuda_impl.h"

/* c and o count all channels; cg = c/groups, og = o/groups per group; output channel o reads
 * input channels [o/og*cg, o/og*cg + cg) */
struct cgeom {
  int64_t n, c, h, w, o, oh, ow, cg, og;
  gb_window k;
};

/* (oh, ow) from the tensors the shape rule made: gb_window_out is the one place for sizes */
static cgeom cgeom_of(const gb_opargs *a, int64_t n, int64_t c, int64_t h, int64_t w, int64_t o,
                      int64_t oh, int64_t ow) {
  int64_t groups = gb_window_groups(a);
  cgeom g = {n, c, h, w, o, oh, ow, c / groups, o / groups, gb_window_of(a)};
  return g;
}

#define GRID_LOOP(e, total)                                                                        \
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < (total);                    \
       e += (int64_t)gridDim.x * blockDim.x)

__global__ void k_conv2d(cgeom g, const float *x, const float *w, const float *b, float *y) {
  const gb_window &k = g.k;
  GRID_LOOP(e, g.n * g.o * g.oh * g.ow) {
    int64_t ox = e % g.ow, oy = (e / g.ow) % g.oh, o = (e / (g.ow * g.oh)) % g.o,
            n = e / (g.ow * g.oh * g.o), c0 = o / g.og * g.cg;
    float acc = b[o];
    for (int64_t c = 0; c < g.cg; c++)
      for (int64_t ky = 0; ky < k.kh; ky++) {
        int64_t iy = oy * k.sh - k.ph + ky * k.dh;
        if (iy < 0 || iy >= g.h) continue;
        for (int64_t kx = 0; kx < k.kw; kx++) {
          int64_t ix = ox * k.sw - k.pw + kx * k.dw;
          if (ix < 0 || ix >= g.w) continue;
          acc += x[((n * g.c + c0 + c) * g.h + iy) * g.w + ix] *
                 w[((o * g.cg + c) * k.kh + ky) * k.kw + kx];
        }
      }
    y[e] = acc;
  }
}

/* gx element (n, ci, iy, ix) gathers the outputs of its group that read it */
__global__ void k_conv2d_backward_input(cgeom g, const float *gout, const float *w, float *gx) {
  const gb_window &k = g.k;
  GRID_LOOP(e, g.n * g.c * g.h * g.w) {
    int64_t ix = e % g.w, iy = (e / g.w) % g.h, ci = (e / (g.w * g.h)) % g.c,
            n = e / (g.w * g.h * g.c), c = ci % g.cg, o0 = ci / g.cg * g.og;
    float acc = 0.0f;
    for (int64_t ky = 0; ky < k.kh; ky++) {
      int64_t ty = iy + k.ph - ky * k.dh; /* = oy * sh */
      if (ty < 0 || ty % k.sh) continue;
      int64_t oy = ty / k.sh;
      if (oy >= g.oh) continue;
      for (int64_t kx = 0; kx < k.kw; kx++) {
        int64_t tx = ix + k.pw - kx * k.dw;
        if (tx < 0 || tx % k.sw) continue;
        int64_t ox = tx / k.sw;
        if (ox >= g.ow) continue;
        for (int64_t o = o0; o < o0 + g.og; o++)
          acc += gout[((n * g.o + o) * g.oh + oy) * g.ow + ox] *
                 w[((o * g.cg + c) * k.kh + ky) * k.kw + kx];
      }
    }
    gx[e] = acc;
  }
}

/* gw element (o, c, ky, kx), c within o's group */
__global__ void k_conv2d_backward_weight(cgeom g, const float *gout, const float *x, float *gw) {
  const gb_window &k = g.k;
  GRID_LOOP(e, g.o * g.cg * k.kh * k.kw) {
    int64_t kx = e % k.kw, ky = (e / k.kw) % k.kh, c = (e / (k.kw * k.kh)) % g.cg,
            o = e / (k.kw * k.kh * g.cg), ci = o / g.og * g.cg + c;
    double acc = 0.0;
    for (int64_t n = 0; n < g.n; n++)
      for (int64_t oy = 0; oy < g.oh; oy++) {
        int64_t iy = oy * k.sh - k.ph + ky * k.dh;
        if (iy < 0 || iy >= g.h) continue;
        for (int64_t ox = 0; ox < g.ow; ox++) {
          int64_t ix = ox * k.sw - k.pw + kx * k.dw;
          if (ix < 0 || ix >= g.w) continue;
          acc += (double)gout[((n * g.o + o) * g.oh + oy) * g.ow + ox] *
                 x[((n * g.c + ci) * g.h + iy) * g.w + ix];
        }
      }
    gw[e] = (float)acc;
  }
}

extern "C" gb_status gb_cuda_conv2d(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_cuda_dev *c;
  gb_device dev = out[0]->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st || out[0]->numel == 0) return st;
  gb_tensor *in[3];
  if ((st = gb_opargs_contiguous(S, a, 3, in))) return st;
  cgeom g = cgeom_of(a, in[0]->shape[0], in[0]->shape[1], in[0]->shape[2], in[0]->shape[3],
                     in[1]->shape[0], out[0]->shape[2], out[0]->shape[3]);
  k_conv2d<<<gb_cuda_blocks(out[0]->numel, GB_CUDA_THREADS), GB_CUDA_THREADS, 0, c->stream>>>(
      g, gb_tensor_f32(in[0]), gb_tensor_f32(in[1]), gb_tensor_f32(in[2]), gb_tensor_f32(out[0]));
  gb_tensors_release(S, in, 3);
  GB_LAUNCHED(S, dev, c, "conv2d kernel");
  return GB_OK;
}

extern "C" gb_status gb_cuda_conv2d_backward_input(gb_state *S, const gb_opargs *a,
                                                   gb_tensor **out) {
  gb_cuda_dev *c;
  gb_tensor *gx = out[0];
  gb_device dev = gx->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st || gx->numel == 0) return st;
  gb_tensor *in[2];
  if ((st = gb_opargs_contiguous(S, a, 2, in))) return st;
  cgeom g = cgeom_of(a, gx->shape[0], gx->shape[1], gx->shape[2], gx->shape[3], in[1]->shape[0],
                     in[0]->shape[2], in[0]->shape[3]);
  k_conv2d_backward_input<<<gb_cuda_blocks(gx->numel, GB_CUDA_THREADS), GB_CUDA_THREADS, 0,
                            c->stream>>>(g, gb_tensor_f32(in[0]), gb_tensor_f32(in[1]),
                                         gb_tensor_f32(gx));
  gb_tensors_release(S, in, 2);
  GB_LAUNCHED(S, dev, c, "conv2d_backward_input kernel");
  return GB_OK;
}

/* the bias gradient: gb[o] = sum over n and positions of gout[n][o], one block per channel
 * (a fixed tree: deterministic) */
#define CB_THREADS 256
__global__ void k_conv2d_bias_grad(cgeom g, const float *gout, float *gb) {
  typedef cub::BlockReduce<double, CB_THREADS> Reduce;
  __shared__ typename Reduce::TempStorage tmp;
  int64_t o = blockIdx.x, p = g.oh * g.ow, m = g.n * p;
  double s = 0;
  for (int64_t i = threadIdx.x; i < m; i += CB_THREADS)
    s += gout[(i / p * g.o + o) * p + i % p];
  double total = Reduce(tmp).Sum(s);
  if (threadIdx.x == 0) gb[o] = (float)total;
}

extern "C" gb_status gb_cuda_conv2d_backward_weight(gb_state *S, const gb_opargs *a,
                                                    gb_tensor **out) {
  gb_cuda_dev *c;
  gb_tensor *gw = out[0];
  gb_device dev = gw->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st || gw->numel == 0) return st;
  gb_tensor *in[2];
  if ((st = gb_opargs_contiguous(S, a, 2, in))) return st;
  cgeom g = cgeom_of(a, in[1]->shape[0], in[1]->shape[1], in[1]->shape[2], in[1]->shape[3],
                     gw->shape[0], in[0]->shape[2], in[0]->shape[3]);
  k_conv2d_backward_weight<<<gb_cuda_blocks(gw->numel, GB_CUDA_THREADS), GB_CUDA_THREADS, 0,
                             c->stream>>>(g, gb_tensor_f32(in[0]), gb_tensor_f32(in[1]),
                                          gb_tensor_f32(gw));
  if (out[1] && g.o > 0) /* i8: the bias gradient as well */
    k_conv2d_bias_grad<<<(unsigned)g.o, CB_THREADS, 0, c->stream>>>(g, gb_tensor_f32(in[0]),
                                                                    gb_tensor_f32(out[1]));
  gb_tensors_release(S, in, 2);
  GB_LAUNCHED(S, dev, c, "conv2d_backward_weight kernel");
  return GB_OK;
}

/* ---- average pooling ---- */

struct pgeom {
  int64_t np, h, w, oh, ow;
  gb_window k;
  bool adaptive, include_pad;
  int64_t divisor; /* divisor_override, 0: none */
};

struct pcell {
  int64_t y0, y1, x0, x1;
  float div;
};

__device__ __forceinline__ pcell pcell_of(const pgeom &g, int64_t oy, int64_t ox) {
  pcell c;
  if (!g.adaptive) { /* ceil_mode's last windows: only what lies in the padded input counts */
    const gb_window &k = g.k;
    int64_t y0 = oy * k.sh - k.ph, x0 = ox * k.sw - k.pw, y1 = y0 + k.kh, x1 = x0 + k.kw;
    int64_t py1 = y1 < g.h + k.ph ? y1 : g.h + k.ph, px1 = x1 < g.w + k.pw ? x1 : g.w + k.pw;
    c.y0 = y0 < 0 ? 0 : y0, c.x0 = x0 < 0 ? 0 : x0;
    c.y1 = y1 < g.h ? y1 : g.h, c.x1 = x1 < g.w ? x1 : g.w;
    c.div = g.divisor       ? (float)g.divisor
            : g.include_pad ? (float)(py1 - y0) * (float)(px1 - x0) /* each <= 2^36 */
                            : (float)((c.y1 - c.y0) * (c.x1 - c.x0));
  } else {
    c.y0 = oy * g.h / g.oh, c.y1 = ((oy + 1) * g.h + g.oh - 1) / g.oh;
    c.x0 = ox * g.w / g.ow, c.x1 = ((ox + 1) * g.w + g.ow - 1) / g.ow;
    c.div = (float)((c.y1 - c.y0) * (c.x1 - c.x0));
  }
  return c;
}

__global__ void k_avg_pool(pgeom g, const float *x, float *y) {
  GRID_LOOP(e, g.np * g.oh * g.ow) {
    int64_t ox = e % g.ow, oy = (e / g.ow) % g.oh, p = e / (g.ow * g.oh);
    const float *plane = x + p * g.h * g.w;
    pcell c = pcell_of(g, oy, ox);
    double s = 0;
    for (int64_t iy = c.y0; iy < c.y1; iy++)
      for (int64_t ix = c.x0; ix < c.x1; ix++)
        s += plane[iy * g.w + ix];
    y[e] = c.div > 0 ? (float)(s / c.div) : 0.0f;
  }
}

__global__ void k_avg_pool_backward(pgeom g, const float *gout, float *gin) {
  GRID_LOOP(e, g.np * g.oh * g.ow) {
    int64_t ox = e % g.ow, oy = (e / g.ow) % g.oh, p = e / (g.ow * g.oh);
    pcell c = pcell_of(g, oy, ox);
    if (c.div <= 0) continue;
    float share = gout[e] / c.div;
    for (int64_t iy = c.y0; iy < c.y1; iy++)
      for (int64_t ix = c.x0; ix < c.x1; ix++)
        atomicAdd(&gin[p * g.h * g.w + iy * g.w + ix], share);
  }
}

/* i6 count_include_pad, i7 divisor_override (avg_pool2d only: adaptive rows' i0, i1 are
 * output sizes) */
static pgeom pgeom_of(const gb_opargs *a, bool adaptive, const gb_tensor *x, int64_t oh,
                      int64_t ow) {
  pgeom g = {x->shape[0] * x->shape[1],
             x->shape[2],
             x->shape[3],
             oh,
             ow,
             gb_window_of(a),
             adaptive,
             !adaptive && a->i[6] != 0,
             adaptive ? 0 : a->i[7]};
  return g;
}

static gb_status avg_pool(gb_state *S, const gb_opargs *a, gb_tensor **out, bool adaptive) {
  gb_cuda_dev *c;
  gb_device dev = out[0]->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st || out[0]->numel == 0) return st;
  gb_tensor *xc;
  if ((st = gb_tensor_contiguous(S, a->in[0], &xc))) return st;
  pgeom g = pgeom_of(a, adaptive, xc, out[0]->shape[2], out[0]->shape[3]);
  k_avg_pool<<<gb_cuda_blocks(out[0]->numel, GB_CUDA_THREADS), GB_CUDA_THREADS, 0, c->stream>>>(
      g, gb_tensor_f32(xc), gb_tensor_f32(out[0]));
  gb_tensor_release(S, xc);
  GB_LAUNCHED(S, dev, c, adaptive ? "adaptive_avg_pool2d kernel" : "avg_pool2d kernel");
  return GB_OK;
}

static gb_status avg_pool_backward(gb_state *S, const gb_opargs *a, gb_tensor **out,
                                   bool adaptive) {
  gb_cuda_dev *c;
  gb_device dev = out[0]->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st || out[0]->numel == 0) return st;
  GB_CU(S, dev, cudaMemsetAsync(gb_tensor_f32(out[0]), 0, (size_t)out[0]->numel * 4, c->stream));
  gb_tensor *gc;
  if ((st = gb_tensor_contiguous(S, a->in[0], &gc))) return st;
  pgeom g = pgeom_of(a, adaptive, a->in[1], gc->shape[2], gc->shape[3]);
  if (gc->numel > 0)
    k_avg_pool_backward<<<gb_cuda_blocks(gc->numel, GB_CUDA_THREADS), GB_CUDA_THREADS, 0,
                          c->stream>>>(g, gb_tensor_f32(gc), gb_tensor_f32(out[0]));
  gb_tensor_release(S, gc);
  GB_LAUNCHED(S, dev, c,
              adaptive ? "adaptive_avg_pool2d_backward kernel" : "avg_pool2d_backward kernel");
  return GB_OK;
}

extern "C" gb_status gb_cuda_avg_pool2d(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return avg_pool(S, a, out, false);
}
extern "C" gb_status gb_cuda_avg_pool2d_backward(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return avg_pool_backward(S, a, out, false);
}
extern "C" gb_status gb_cuda_adaptive_avg_pool2d(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return avg_pool(S, a, out, true);
}
extern "C" gb_status gb_cuda_adaptive_avg_pool2d_backward(gb_state *S, const gb_opargs *a,
                                                          gb_tensor **out) {
  return avg_pool_backward(S, a, out, true);
}

/* ---- batch norm: one block per channel of x viewed as (N, C, S) ---- */

#define BN_THREADS 256

struct bgeom {
  int64_t n, c, s;
  double eps;
};

/* element i (0..N*S) of channel ch */
__device__ __forceinline__ int64_t bn_at(const bgeom &g, int64_t ch, int64_t i) {
  return ((i / g.s) * g.c + ch) * g.s + i % g.s;
}

typedef cub::BlockReduce<double, BN_THREADS> BnReduce;

/* the kernels are templates over the element type T (float32: float, float64: double); the
 * statistics and the per-channel sums are double for both, as on the CPU */
template <class T>
__device__ void bn_moments(const bgeom &g, int64_t ch, const T *x, double *mean, double *var) {
  __shared__ typename BnReduce::TempStorage tmp;
  __shared__ double shared_mu, shared_var;
  int64_t m = g.n * g.s;
  double s = 0;
  for (int64_t i = threadIdx.x; i < m; i += BN_THREADS)
    s += x[bn_at(g, ch, i)];
  double tot = BnReduce(tmp).Sum(s);
  if (threadIdx.x == 0) shared_mu = tot / (double)m;
  __syncthreads();
  double mu = shared_mu, ss = 0;
  for (int64_t i = threadIdx.x; i < m; i += BN_THREADS) {
    double d = x[bn_at(g, ch, i)] - mu;
    ss += d * d;
  }
  tot = BnReduce(tmp).Sum(ss);
  if (threadIdx.x == 0) shared_var = tot / (double)m;
  __syncthreads();
  *mean = mu, *var = shared_var;
}

template <class T>
__global__ void k_batch_norm(bgeom g, const T *x, const T *w, const T *b, T *y, T *stats) {
  int64_t ch = blockIdx.x;
  double mu, var;
  bn_moments(g, ch, x, &mu, &var);
  double scale = w[ch] / sqrt(var + g.eps), shift = b[ch] - mu * scale;
  for (int64_t i = threadIdx.x; i < g.n * g.s; i += BN_THREADS) {
    int64_t at = bn_at(g, ch, i);
    y[at] = (T)(x[at] * scale + shift);
  }
  if (threadIdx.x == 0) {
    stats[ch] = (T)mu;
    stats[g.c + ch] = (T)var;
  }
}

template <class T>
__global__ void k_batch_norm_backward(bgeom g, const T *gout, const T *x, const T *w, T *gx,
                                      T *gwb) {
  __shared__ typename BnReduce::TempStorage tmp;
  __shared__ double shared_sg, shared_sgx;
  int64_t ch = blockIdx.x, m = g.n * g.s;
  double mu, var;
  bn_moments(g, ch, x, &mu, &var);
  double inv = 1.0 / sqrt(var + g.eps), sg = 0, sgx = 0;
  for (int64_t i = threadIdx.x; i < m; i += BN_THREADS) {
    int64_t at = bn_at(g, ch, i);
    sg += gout[at];
    sgx += gout[at] * (x[at] - mu) * inv;
  }
  double t = BnReduce(tmp).Sum(sg);
  if (threadIdx.x == 0) shared_sg = t;
  __syncthreads();
  t = BnReduce(tmp).Sum(sgx);
  if (threadIdx.x == 0) shared_sgx = t;
  __syncthreads();
  sg = shared_sg, sgx = shared_sgx;
  double wi = w[ch] * inv, mg = sg / (double)m, mgx = sgx / (double)m;
  for (int64_t i = threadIdx.x; i < m; i += BN_THREADS) {
    int64_t at = bn_at(g, ch, i);
    gx[at] = (T)(wi * (gout[at] - mg - (x[at] - mu) * inv * mgx));
  }
  if (threadIdx.x == 0) {
    gwb[ch] = (T)sgx;
    gwb[g.c + ch] = (T)sg;
  }
}

static bgeom bgeom_of(const gb_tensor *x, double eps) {
  bgeom g = {x->shape[0], x->shape[1], 1, eps};
  for (int d = 2; d < x->ndim; d++)
    g.s *= x->shape[d];
  return g;
}

/* the forward (k_batch_norm) or the backward (k_batch_norm_backward) in T */
template <class T>
static void bn_kernel_t(bool backward, const bgeom &g, cudaStream_t s, gb_tensor *const *in,
                        gb_tensor *const *out) {
  const T *i0 = gb_cu_data<T>(in[0]), *i1 = gb_cu_data<T>(in[1]), *i2 = gb_cu_data<T>(in[2]);
  if (backward) /* (gout, x, w) */
    k_batch_norm_backward<T><<<(unsigned)g.c, BN_THREADS, 0, s>>>(
        g, i0, i1, i2, gb_cu_data<T>(out[0]), gb_cu_data<T>(out[1]));
  else /* (x, w, b) */
    k_batch_norm<T><<<(unsigned)g.c, BN_THREADS, 0, s>>>(g, i0, i1, i2, gb_cu_data<T>(out[0]),
                                                         gb_cu_data<T>(out[1]));
}

/* One block per channel of x = in[xk] (forward: in[0]; backward: in[1] after gout): the kernel
 * over the first three inputs, made contiguous, into out[0] and the (2,C) out[1], in double
 * for float64 tensors. */
static gb_status bn_launch(gb_state *S, const gb_opargs *a, gb_tensor **out, int xk,
                           const char *what) {
  gb_cuda_dev *c;
  gb_device dev = out[0]->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  gb_tensor *in[3];
  if ((st = gb_opargs_contiguous(S, a, 3, in))) return st;
  bgeom g = bgeom_of(in[xk], a->f[0]);
  if (g.c > 0) {
    if (in[xk]->dtype == GB_F64)
      bn_kernel_t<double>(xk == 1, g, c->stream, in, out);
    else
      bn_kernel_t<float>(xk == 1, g, c->stream, in, out);
  }
  gb_tensors_release(S, in, 3);
  GB_LAUNCHED(S, dev, c, what);
  return GB_OK;
}

extern "C" gb_status gb_cuda_batch_norm(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return bn_launch(S, a, out, 0, "batch_norm kernel");
}

/* (gout, x, w [, the forward's statistics: recomputed here]) */
extern "C" gb_status gb_cuda_batch_norm_backward(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return bn_launch(S, a, out, 1, "batch_norm_backward kernel");
}
