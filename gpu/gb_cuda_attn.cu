/* gb_cuda_attn.cu — the Transformer's fused rows on CUDA, matching runtime/cpu/gb_cpu_attn.c:
 * layer norm (one block per row; the weight and bias gradients one thread per column over
 * the rows, deterministic), the masked softmax (one block per row, masks read in place) and
 * scaled dot-product attention (one block per query row holding that row's scores in shared
 * memory, the optional additive mask read in place through broadcast strides; backward adds
 * into dK and dV with atomics). */
#include <cub/block/block_reduce.cuh>

#include "gb_cuda_impl.h"

#define ATT_THREADS 128
#define ATT_MAX_KEYS GB_CUDA_SDPA_MAX_KEYS

typedef cub::BlockReduce<float, ATT_THREADS> AttReduce;

struct att_max {
  __device__ float operator()(float a, float b) const { return a > b ? a : b; }
};

/* the block's sum (max) of v, returned to every thread */
__device__ float block_sum(float v) {
  __shared__ typename AttReduce::TempStorage tmp;
  __shared__ float out;
  float t = AttReduce(tmp).Sum(v);
  if (threadIdx.x == 0) out = t;
  __syncthreads();
  t = out;
  __syncthreads();
  return t;
}

__device__ float block_max(float v) {
  __shared__ typename AttReduce::TempStorage tmp;
  __shared__ float out;
  float t = AttReduce(tmp).Reduce(v, att_max());
  if (threadIdx.x == 0) out = t;
  __syncthreads();
  t = out;
  __syncthreads();
  return t;
}

/* ---- layer norm ---------------------------------------------------------------------------- */

__device__ void ln_moments(const float *x, int64_t n, float eps, float *mean, float *rstd) {
  float s = 0;
  for (int64_t k = threadIdx.x; k < n; k += ATT_THREADS)
    s += x[k];
  float mu = block_sum(s) / (float)n, ss = 0;
  for (int64_t k = threadIdx.x; k < n; k += ATT_THREADS)
    ss += (x[k] - mu) * (x[k] - mu);
  *mean = mu;
  *rstd = rsqrtf(block_sum(ss) / (float)n + eps);
}

__global__ void k_layer_norm(int64_t n, float eps, const float *x, const float *w, const float *b,
                             float *y, float *stats) {
  int64_t r = blockIdx.x;
  x += r * n, y += r * n;
  float mu, rs;
  ln_moments(x, n, eps, &mu, &rs);
  for (int64_t k = threadIdx.x; k < n; k += ATT_THREADS)
    y[k] = w ? (x[k] - mu) * rs * w[k] + b[k] : (x[k] - mu) * rs;
  if (threadIdx.x == 0) stats[2 * r] = mu, stats[2 * r + 1] = rs;
}

__global__ void k_layer_norm_backward(int64_t n, float eps, const float *g, const float *x,
                                      const float *w, float *gx, float *stats) {
  int64_t r = blockIdx.x;
  x += r * n, g += r * n, gx += r * n;
  float mu, rs, sa = 0, sb = 0;
  ln_moments(x, n, eps, &mu, &rs);
  for (int64_t k = threadIdx.x; k < n; k += ATT_THREADS) {
    float gh = g[k] * (w ? w[k] : 1.0f);
    sa += gh, sb += gh * (x[k] - mu) * rs;
  }
  float ma = block_sum(sa) / (float)n, mb = block_sum(sb) / (float)n;
  for (int64_t k = threadIdx.x; k < n; k += ATT_THREADS) {
    float xh = (x[k] - mu) * rs, gh = g[k] * (w ? w[k] : 1.0f);
    gx[k] = rs * (gh - ma - xh * mb);
  }
  if (threadIdx.x == 0) stats[2 * r] = mu, stats[2 * r + 1] = rs;
}

/* dw[k] = sum_r g[r,k] xh[r,k], db[k] = sum_r g[r,k]: one thread per column */
__global__ void k_layer_norm_params(int64_t rows, int64_t n, const float *g, const float *x,
                                    const float *stats, float *dwb) {
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < n;
       k += (int64_t)gridDim.x * blockDim.x) {
    float sw = 0, sb = 0;
    for (int64_t r = 0; r < rows; r++) {
      float gv = g[r * n + k];
      sw += gv * (x[r * n + k] - stats[2 * r]) * stats[2 * r + 1];
      sb += gv;
    }
    dwb[k] = sw, dwb[n + k] = sb;
  }
}

extern "C" gb_status gb_cuda_layer_norm(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_cuda_dev *c;
  gb_device dev = out[0]->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  gb_tensor *in[3];
  if ((st = gb_opargs_contiguous(S, a, a->nin, in))) return st;
  int64_t rows = out[1]->shape[0], n = rows ? in[0]->numel / rows : 0;
  if (rows > 0 && n > 0)
    k_layer_norm<<<(unsigned)rows, ATT_THREADS, 0, c->stream>>>(
        n, (float)a->f[0], gb_tensor_f32(in[0]), a->nin == 3 ? gb_tensor_f32(in[1]) : NULL,
        a->nin == 3 ? gb_tensor_f32(in[2]) : NULL, gb_tensor_f32(out[0]), gb_tensor_f32(out[1]));
  gb_tensors_release(S, in, a->nin);
  GB_LAUNCHED(S, dev, c, "layer_norm kernel");
  return GB_OK;
}

extern "C" gb_status gb_cuda_layer_norm_backward(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_cuda_dev *c;
  gb_device dev = out[0]->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  gb_tensor *in[3], *stats = NULL;
  if ((st = gb_opargs_contiguous(S, a, a->nin, in))) return st;
  int64_t n = out[1]->shape[1], rows = n ? in[1]->numel / n : 0;
  int64_t sshape[2] = {rows, 2};
  st = gb_tensor_empty(S, 2, sshape, GB_F32, dev, &stats);
  if (!st && n > 0) {
    if (rows > 0)
      k_layer_norm_backward<<<(unsigned)rows, ATT_THREADS, 0, c->stream>>>(
          n, (float)a->f[0], gb_tensor_f32(in[0]), gb_tensor_f32(in[1]),
          a->nin == 3 ? gb_tensor_f32(in[2]) : NULL, gb_tensor_f32(out[0]), gb_tensor_f32(stats));
    k_layer_norm_params<<<gb_cuda_blocks(n, GB_CUDA_THREADS), GB_CUDA_THREADS, 0, c->stream>>>(
        rows, n, gb_tensor_f32(in[0]), gb_tensor_f32(in[1]), gb_tensor_f32(stats),
        gb_tensor_f32(out[1]));
  }
  gb_tensor_release(S, stats);
  gb_tensors_release(S, in, a->nin);
  if (st) return st;
  GB_LAUNCHED(S, dev, c, "layer_norm_backward kernel");
  return GB_OK;
}

/* ---- masked softmax ------------------------------------------------------------------------ */

/* st[0..nd) <- the element strides of mask m aligned right to nd dims, 0 on the dims it
 * broadcasts over (missing or of size 1); as gb_cpu_attn.c's */
static void bcast_strides(const gb_tensor *m, int nd, int64_t *st) {
  for (int d = 0; d < nd; d++) {
    int md = d - (nd - m->ndim);
    st[d] = md >= 0 && m->shape[md] != 1 ? m->stride[md] : 0;
  }
}

struct msm_geom {
  int nd;
  int64_t shape[GB_MAXDIM], mstride[GB_MAXDIM]; /* mask strides aligned to the scores */
  int64_t L, S;
  bool causal;
};

__global__ void k_masked_softmax(msm_geom g, const float *x, const float *m, float *y) {
  int64_t r = blockIdx.x, i = r % g.L, valid = g.causal ? min(i + 1, g.S) : g.S;
  x += r * g.S, y += r * g.S;
  int64_t off = 0, rest = r, ms = g.mstride[g.nd - 1];
  for (int d = g.nd - 2; d >= 0; d--) {
    off += (rest % g.shape[d]) * g.mstride[d];
    rest /= g.shape[d];
  }
  if (m) m += off;
  float mx = -INFINITY;
  for (int64_t k = threadIdx.x; k < valid; k += ATT_THREADS) {
    float v = x[k] + (m ? m[k * ms] : 0.0f);
    mx = v > mx ? v : mx;
  }
  mx = block_max(mx);
  float s = 0;
  for (int64_t k = threadIdx.x; k < valid; k += ATT_THREADS)
    s += expf(x[k] + (m ? m[k * ms] : 0.0f) - mx);
  float inv = 1.0f / block_sum(s);
  for (int64_t k = threadIdx.x; k < g.S; k += ATT_THREADS)
    y[k] = k < valid ? expf(x[k] + (m ? m[k * ms] : 0.0f) - mx) * inv : 0.0f;
}

extern "C" gb_status gb_cuda_masked_softmax(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_cuda_dev *c;
  gb_device dev = out[0]->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  gb_tensor *in[2];
  if ((st = gb_opargs_contiguous(S, a, a->nin, in))) return st;
  msm_geom g = {};
  const gb_tensor *x = in[0];
  g.nd = x->ndim, g.L = x->shape[x->ndim - 2], g.S = x->shape[x->ndim - 1];
  g.causal = a->i[0] != 0;
  for (int d = 0; d < g.nd; d++)
    g.shape[d] = x->shape[d];
  if (a->nin > 1) bcast_strides(in[1], g.nd, g.mstride);
  int64_t rows = g.S ? x->numel / g.S : 0;
  if (rows > 0)
    k_masked_softmax<<<(unsigned)rows, ATT_THREADS, 0, c->stream>>>(
        g, gb_tensor_f32(in[0]), a->nin > 1 ? gb_tensor_f32(in[1]) : NULL, gb_tensor_f32(out[0]));
  gb_tensors_release(S, in, a->nin);
  GB_LAUNCHED(S, dev, c, "masked_softmax kernel");
  return GB_OK;
}

/* ---- scaled dot-product attention: contiguous q (B,H,L,E), k (B,H,S,E), v (B,H,S,Ev) and an
 *      optional mask of any strides (ms: over (B,H,L,S), 0 where it broadcasts) ---- */

struct sdpa_geom {
  int64_t B, H, L, S, E, Ev;
  float scale;
  bool causal;
  int64_t ms[4];
};

/* p[0..S) <- the probabilities of query row (bh, i), the mask m (or NULL) added to the scaled
 * scores; returns how many keys it sees. A row the mask hides entirely is NaN, as on the CPU. */
__device__ int64_t sdpa_row_probs(const sdpa_geom &g, const float *q, const float *K,
                                  const float *m, float *p) {
  int64_t bh = blockIdx.x / g.L, i = blockIdx.x % g.L, valid = g.causal ? min(i + 1, g.S) : g.S;
  if (m) m += (bh / g.H) * g.ms[0] + (bh % g.H) * g.ms[1] + i * g.ms[2];
  float mx = -INFINITY;
  for (int64_t j = threadIdx.x; j < valid; j += ATT_THREADS) {
    float s = 0;
    for (int64_t e = 0; e < g.E; e++)
      s += q[e] * K[j * g.E + e];
    s *= g.scale;
    if (m) s += m[j * g.ms[3]];
    p[j] = s;
    mx = s > mx ? s : mx;
  }
  mx = block_max(mx);
  float sum = 0;
  for (int64_t j = threadIdx.x; j < valid; j += ATT_THREADS) {
    p[j] = expf(p[j] - mx);
    sum += p[j];
  }
  float inv = 1.0f / block_sum(sum);
  for (int64_t j = threadIdx.x; j < g.S; j += ATT_THREADS)
    p[j] = j < valid ? p[j] * inv : 0.0f;
  __syncthreads();
  return valid;
}

/* block = (bh, i): out (B,L,H,Ev) row (b, i, h) */
__global__ void k_sdpa(sdpa_geom g, const float *q, const float *k, const float *v, const float *m,
                       float *o) {
  extern __shared__ float p[];
  int64_t bh = blockIdx.x / g.L, i = blockIdx.x % g.L, b = bh / g.H, h = bh % g.H;
  const float *K = k + bh * g.S * g.E, *V = v + bh * g.S * g.Ev;
  int64_t valid = sdpa_row_probs(g, q + (bh * g.L + i) * g.E, K, m, p);
  float *out = o + ((b * g.L + i) * g.H + h) * g.Ev;
  for (int64_t e = threadIdx.x; e < g.Ev; e += ATT_THREADS) {
    float s = 0;
    for (int64_t j = 0; j < valid; j++)
      s += p[j] * V[j * g.Ev + e];
    out[e] = s;
  }
}

__global__ void k_sdpa_backward(sdpa_geom g, const float *go, const float *q, const float *k,
                                const float *v, const float *m, float *gq, float *gkv) {
  extern __shared__ float p[]; /* p[0..S) probabilities, p[S..2S) dS */
  float *ds = p + g.S;
  int64_t bh = blockIdx.x / g.L, i = blockIdx.x % g.L, b = bh / g.H, h = bh % g.H;
  const float *K = k + bh * g.S * g.E, *V = v + bh * g.S * g.Ev, *Q = q + (bh * g.L + i) * g.E;
  const float *dO = go + ((b * g.L + i) * g.H + h) * g.Ev;
  int64_t valid = sdpa_row_probs(g, Q, K, m, p), ld = g.E + g.Ev;
  float dot = 0;
  for (int64_t j = threadIdx.x; j < valid; j += ATT_THREADS) {
    float d = 0;
    for (int64_t e = 0; e < g.Ev; e++)
      d += dO[e] * V[j * g.Ev + e];
    ds[j] = d;
    dot += p[j] * d;
  }
  dot = block_sum(dot);
  float *dK = gkv + bh * g.S * ld, *dV = dK + g.E;
  for (int64_t j = threadIdx.x; j < valid; j += ATT_THREADS) {
    ds[j] = p[j] * (ds[j] - dot);
    for (int64_t e = 0; e < g.E; e++)
      atomicAdd(&dK[j * ld + e], g.scale * ds[j] * Q[e]);
    for (int64_t e = 0; e < g.Ev; e++)
      atomicAdd(&dV[j * ld + e], p[j] * dO[e]);
  }
  __syncthreads();
  for (int64_t e = threadIdx.x; e < g.E; e += ATT_THREADS) {
    float s = 0;
    for (int64_t j = 0; j < valid; j++)
      s += ds[j] * K[j * g.E + e];
    gq[(bh * g.L + i) * g.E + e] = g.scale * s;
  }
}

/* the geometry of q, k, v = in[0..2] and of the mask (NULL when none) */
static gb_status sdpa_geom_of(gb_state *S, const gb_opargs *a, gb_tensor *const *in,
                              const gb_tensor *mask, sdpa_geom *g) {
  *g = {in[0]->shape[0], in[0]->shape[1], in[0]->shape[2], in[1]->shape[2], in[0]->shape[3],
        in[2]->shape[3], (float)a->f[0],  a->i[0] != 0,    {0, 0, 0, 0}};
  if (mask) bcast_strides(mask, 4, g->ms);
  if (g->S > ATT_MAX_KEYS)
    return gb_errorf(S, GB_ESHAPE, "sdpa: at most %d keys per query on cuda, got %lld",
                     ATT_MAX_KEYS, (long long)g->S);
  return GB_OK;
}

extern "C" gb_status gb_cuda_sdpa(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_cuda_dev *c;
  gb_device dev = out[0]->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  gb_tensor *in[3];
  if ((st = gb_opargs_contiguous(S, a, 3, in))) return st;
  const gb_tensor *mask = a->nin > 3 ? a->in[3] : NULL;
  sdpa_geom g;
  st = sdpa_geom_of(S, a, in, mask, &g);
  int64_t blocks = g.B * g.H * g.L;
  if (!st && blocks > 0)
    k_sdpa<<<(unsigned)blocks, ATT_THREADS, (size_t)g.S * sizeof(float), c->stream>>>(
        g, gb_tensor_f32(in[0]), gb_tensor_f32(in[1]), gb_tensor_f32(in[2]),
        mask ? gb_tensor_f32(mask) : NULL, gb_tensor_f32(out[0]));
  gb_tensors_release(S, in, 3);
  if (st) return st;
  GB_LAUNCHED(S, dev, c, "sdpa kernel");
  return GB_OK;
}

extern "C" gb_status gb_cuda_sdpa_backward(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_cuda_dev *c;
  gb_device dev = out[0]->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  gb_tensor *in[4];
  if ((st = gb_opargs_contiguous(S, a, 4, in))) return st;
  const gb_tensor *mask = a->nin > 4 ? a->in[4] : NULL;
  sdpa_geom g;
  st = sdpa_geom_of(S, a, in + 1, mask, &g);
  if (!st && out[1]->numel > 0) {
    cudaError_t e = cudaMemsetAsync(gb_tensor_f32(out[1]), 0, (size_t)out[1]->numel * 4, c->stream);
    if (e != cudaSuccess) st = gb_cuda_fail(S, dev, e, "cudaMemsetAsync", __FILE__, __LINE__);
  }
  int64_t blocks = g.B * g.H * g.L;
  if (!st && blocks > 0)
    k_sdpa_backward<<<(unsigned)blocks, ATT_THREADS, 2 * (size_t)g.S * sizeof(float), c->stream>>>(
        g, gb_tensor_f32(in[0]), gb_tensor_f32(in[1]), gb_tensor_f32(in[2]), gb_tensor_f32(in[3]),
        mask ? gb_tensor_f32(mask) : NULL, gb_tensor_f32(out[0]), gb_tensor_f32(out[1]));
  gb_tensors_release(S, in, 4);
  if (st) return st;
  GB_LAUNCHED(S, dev, c, "sdpa_backward kernel");
  return GB_OK;
}
