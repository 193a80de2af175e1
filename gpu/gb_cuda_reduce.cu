/* gb_cuda_reduce.cu — CUDA reductions: sum, mean, var, amax/amin over any set of dims, and
 * max/min/argmax/argmin along one dim (1-based int64 indices, first occurrence wins, NaN
 * propagates), matching runtime/cpu/gb_cpu_reduce.c. As on the CPU the input splits into kept
 * dims (one output element each: one thread block) and reduced dims (the block's threads
 * stride over them); cub::BlockReduce combines the threads. Sums accumulate in double. */
#include <cub/block/block_reduce.cuh>

#include "gb_cuda_impl.h"

typedef gb_reduce_plan plan; /* shared with the CPU: runtime/core/gb_layout.h */

__device__ __forceinline__ int64_t keep_offset(const plan &p, int64_t o) {
  int64_t off = 0;
  for (int d = p.nkeep - 1; d >= 0; d--) {
    off += (o % p.keep_shape[d]) * p.keep_stride[d];
    o /= p.keep_shape[d];
  }
  return off;
}

/* offset of the j-th (row-major) element of the reduced block */
__device__ __forceinline__ int64_t red_offset(const plan &p, int64_t j) {
  if (p.nred == 1) return j * p.red_stride[0];
  int64_t off = 0;
  for (int d = p.nred - 1; d >= 0; d--) {
    off += (j % p.red_shape[d]) * p.red_stride[d];
    j /= p.red_shape[d];
  }
  return off;
}

/* ---- sum / mean / var ---- */

enum { RED_SUM, RED_MEAN, RED_VAR };

/* T: float, or double for float64 tensors (base is the input's data, out the output's) */
template <int BLOCK, class T>
__global__ void k_sum(plan p, const T *base, T *out, int mode, double correction) {
  typedef cub::BlockReduce<double, BLOCK> Reduce;
  __shared__ typename Reduce::TempStorage tmp;
  __shared__ double shared_mu;
  for (int64_t o = blockIdx.x; o < p.nout; o += gridDim.x) {
    const T *x = base + keep_offset(p, o);
    double acc = 0;
    for (int64_t j = threadIdx.x; j < p.nred_elems; j += BLOCK)
      acc += (double)x[red_offset(p, j)];
    double total = Reduce(tmp).Sum(acc);
    if (mode != RED_VAR) {
      if (threadIdx.x == 0) out[o] = (T)(mode == RED_MEAN ? total / (double)p.nred_elems : total);
      __syncthreads(); /* tmp is reused by the next output */
      continue;
    }
    if (threadIdx.x == 0) shared_mu = total / (double)p.nred_elems;
    __syncthreads();
    double mu = shared_mu, ss = 0;
    for (int64_t j = threadIdx.x; j < p.nred_elems; j += BLOCK) {
      double v = (double)x[red_offset(p, j)] - mu;
      ss += v * v;
    }
    double sst = Reduce(tmp).Sum(ss);
    if (threadIdx.x == 0) {
      double denom = (double)p.nred_elems - correction;
      out[o] = denom > 0 ? (T)(sst / denom) : (T)__int_as_float(0x7fc00000);
    }
    __syncthreads();
  }
}

static unsigned grid_for(int64_t nout) {
  return (unsigned)(nout < 1 ? 1 : nout > 65535 * 16 ? 65535 * 16 : nout);
}

static gb_status reduce_sum(gb_state *S, const gb_opargs *a, gb_tensor *out, int mode,
                            const char *what) {
  gb_cuda_dev *c;
  gb_device dev = out->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  plan p;
  gb_reduce_plan_init(a->in[0], (uint64_t)a->i[0], &p);
  if (p.nout == 0) return GB_OK;
  unsigned grid = grid_for(p.nout);
  double corr = (double)a->i[2];
  if (out->dtype == GB_F64) {
    const double *x = (const double *)gb_tensor_data(a->in[0]);
    double *o = (double *)gb_tensor_data(out);
    if (p.nred_elems <= 32)
      k_sum<32, double><<<grid, 32, 0, c->stream>>>(p, x, o, mode, corr);
    else
      k_sum<GB_CUDA_ROW_THREADS, double>
          <<<grid, GB_CUDA_ROW_THREADS, 0, c->stream>>>(p, x, o, mode, corr);
  } else if (p.nred_elems <= 32) {
    k_sum<32, float><<<grid, 32, 0, c->stream>>>(p, p.base, gb_tensor_f32(out), mode, corr);
  } else {
    k_sum<GB_CUDA_ROW_THREADS, float>
        <<<grid, GB_CUDA_ROW_THREADS, 0, c->stream>>>(p, p.base, gb_tensor_f32(out), mode, corr);
  }
  GB_LAUNCHED(S, dev, c, what);
  return GB_OK;
}

extern "C" gb_status gb_cuda_sum(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return reduce_sum(S, a, out[0], RED_SUM, "sum kernel");
}
extern "C" gb_status gb_cuda_mean(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return reduce_sum(S, a, out[0], RED_MEAN, "mean kernel");
}
extern "C" gb_status gb_cuda_var(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return reduce_sum(S, a, out[0], RED_VAR, "var kernel");
}

/* ---- extremes: (value, position) pairs; NaN wins, then the larger (smaller), then the
 * earlier position, so the result does not depend on how threads split the block ---- */

template <class T> struct arg_pair {
  T v;
  int64_t at; /* -1: empty */
};

template <bool WANT_MAX, class T> struct arg_better {
  __device__ __forceinline__ arg_pair<T> operator()(const arg_pair<T> &a,
                                                    const arg_pair<T> &b) const {
    if (a.at < 0) return b;
    if (b.at < 0) return a;
    bool an = a.v != a.v, bn = b.v != b.v;
    if (an || bn) {
      if (an && bn) return a.at <= b.at ? a : b;
      return an ? a : b;
    }
    if (a.v == b.v) return a.at <= b.at ? a : b;
    return (WANT_MAX ? a.v > b.v : a.v < b.v) ? a : b;
  }
};

/* T: float, or double for float64 (base is the input's data) */
template <int BLOCK, bool WANT_MAX, class T>
__global__ void k_extreme(plan p, const T *base, T *vals, int64_t *idx) {
  typedef cub::BlockReduce<arg_pair<T>, BLOCK> Reduce;
  __shared__ typename Reduce::TempStorage tmp;
  arg_better<WANT_MAX, T> better;
  for (int64_t o = blockIdx.x; o < p.nout; o += gridDim.x) {
    const T *x = base + keep_offset(p, o);
    arg_pair<T> best = {(T)0, -1};
    for (int64_t j = threadIdx.x; j < p.nred_elems; j += BLOCK) {
      arg_pair<T> cand = {x[red_offset(p, j)], j};
      best = better(best, cand);
    }
    arg_pair<T> r = Reduce(tmp).Reduce(best, better);
    if (threadIdx.x == 0) {
      if (vals) vals[o] = r.v;
      if (idx) idx[o] = r.at + 1;
    }
    __syncthreads();
  }
}

template <bool WANT_MAX, class T>
static void launch_extreme(const plan &p, cudaStream_t s, T *vo, int64_t *io) {
  unsigned grid = grid_for(p.nout);
  const T *x = (const T *)p.base;
  if (p.nred_elems <= 32)
    k_extreme<32, WANT_MAX, T><<<grid, 32, 0, s>>>(p, x, vo, io);
  else
    k_extreme<GB_CUDA_ROW_THREADS, WANT_MAX, T><<<grid, GB_CUDA_ROW_THREADS, 0, s>>>(p, x, vo, io);
}

template <class T>
static void extreme_t(const plan &p, cudaStream_t s, gb_tensor **out, bool want_max, bool values,
                      bool indices) {
  T *vo = values ? gb_cu_data<T>(out[0]) : NULL;
  int64_t *io = indices ? (int64_t *)gb_tensor_data(out[values ? 1 : 0]) : NULL;
  if (want_max)
    launch_extreme<true, T>(p, s, vo, io);
  else
    launch_extreme<false, T>(p, s, vo, io);
}

static gb_status reduce_extreme(gb_state *S, const gb_opargs *a, gb_tensor **out, bool want_max,
                                uint64_t mask, bool values, bool indices, const char *what) {
  gb_cuda_dev *c;
  gb_device dev = out[0]->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  plan p;
  gb_reduce_plan_init(a->in[0], mask, &p);
  if (p.nout == 0) return GB_OK;
  if (a->in[0]->dtype == GB_F64)
    extreme_t<double>(p, c->stream, out, want_max, values, indices);
  else
    extreme_t<float>(p, c->stream, out, want_max, values, indices);
  GB_LAUNCHED(S, dev, c, what);
  return GB_OK;
}

extern "C" gb_status gb_cuda_amax(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return reduce_extreme(S, a, out, true, (uint64_t)a->i[0], true, false, "amax kernel");
}
extern "C" gb_status gb_cuda_amin(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return reduce_extreme(S, a, out, false, (uint64_t)a->i[0], true, false, "amin kernel");
}
extern "C" gb_status gb_cuda_max_dim(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return reduce_extreme(S, a, out, true, (uint64_t)1 << a->i[0], true, true, "max kernel");
}
extern "C" gb_status gb_cuda_min_dim(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return reduce_extreme(S, a, out, false, (uint64_t)1 << a->i[0], true, true, "min kernel");
}
extern "C" gb_status gb_cuda_argmax(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  uint64_t mask = a->i[0] < 0 ? 0 : (uint64_t)1 << a->i[0];
  return reduce_extreme(S, a, out, true, mask, false, true, "argmax kernel");
}
extern "C" gb_status gb_cuda_argmin(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  uint64_t mask = a->i[0] < 0 ? 0 : (uint64_t)1 << a->i[0];
  return reduce_extreme(S, a, out, false, mask, false, true, "argmin kernel");
}

/* ---- logsumexp: max (NaN wins), then max + log(sum(exp(x - max))), as the CPU ---- */

struct nan_max {
  template <class T> __device__ __forceinline__ T operator()(T a, T b) const {
    if (a != a) return a;
    if (b != b) return b;
    return a > b ? a : b;
  }
};

/* T: float, or double for float64 (the max in T, the sum of exponentials in double) */
template <int BLOCK, class T> __global__ void k_logsumexp(plan p, const T *base, T *out) {
  typedef cub::BlockReduce<T, BLOCK> ReduceT;
  typedef cub::BlockReduce<double, BLOCK> ReduceD;
  __shared__ union {
    typename ReduceT::TempStorage t;
    typename ReduceD::TempStorage d;
  } tmp;
  __shared__ T shared_mx;
  nan_max pick;
  for (int64_t o = blockIdx.x; o < p.nout; o += gridDim.x) {
    const T *x = base + keep_offset(p, o);
    T mx = gb_cu_neg_inf<T>();
    for (int64_t j = threadIdx.x; j < p.nred_elems; j += BLOCK)
      mx = pick(mx, x[red_offset(p, j)]);
    T m = ReduceT(tmp.t).Reduce(mx, pick);
    if (threadIdx.x == 0) shared_mx = m;
    __syncthreads();
    m = shared_mx;
    bool finite = m == m && !isinf(m);
    double s = 0;
    for (int64_t j = threadIdx.x; finite && j < p.nred_elems; j += BLOCK)
      s += (double)gb_cu_exp(x[red_offset(p, j)] - m);
    double total = ReduceD(tmp.d).Sum(s);
    if (threadIdx.x == 0) out[o] = finite ? (T)((double)m + log(total)) : m;
    __syncthreads();
  }
}

template <class T> static void launch_logsumexp(const plan &p, cudaStream_t s, gb_tensor *out) {
  unsigned grid = grid_for(p.nout);
  const T *x = (const T *)p.base;
  if (p.nred_elems <= 32)
    k_logsumexp<32, T><<<grid, 32, 0, s>>>(p, x, gb_cu_data<T>(out));
  else
    k_logsumexp<GB_CUDA_ROW_THREADS, T>
        <<<grid, GB_CUDA_ROW_THREADS, 0, s>>>(p, x, gb_cu_data<T>(out));
}

extern "C" gb_status gb_cuda_logsumexp(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_cuda_dev *c;
  gb_device dev = out[0]->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  plan p;
  gb_reduce_plan_init(a->in[0], (uint64_t)a->i[0], &p);
  if (p.nout == 0) return GB_OK;
  if (a->in[0]->dtype == GB_F64)
    launch_logsumexp<double>(p, c->stream, out[0]);
  else
    launch_logsumexp<float>(p, c->stream, out[0]);
  GB_LAUNCHED(S, dev, c, "logsumexp kernel");
  return GB_OK;
}
