/* gb_cuda_nn.cu — CUDA kernels of the softmax family and the class losses, matching
 * runtime/cpu/gb_cpu_nn.c. Softmax views a contiguous input as (outer, n, inner) with the reduced
 * dim in the middle; one thread block per (outer, inner) row, cub::BlockReduce for the max
 * and the double-precision sums. The losses take (N,C) scores and 1-based int labels: a label
 * out of 1..C is recorded by the kernel in a device flag (the first bad row wins) that the
 * launcher reads back, so a bad label is GB_EARG with the CPU's message, never a fault. */
#include <cub/block/block_reduce.cuh>

#include "gb_cuda_impl.h"

typedef gb_dim_span span; /* shared with the CPU: runtime/core/gb_layout.h */

static unsigned rows_grid(int64_t rows) {
  return (unsigned)(rows < 1 ? 1 : rows > 65535 * 16 ? 65535 * 16 : rows);
}

struct max_op {
  template <class T> __device__ __forceinline__ T operator()(T a, T b) const {
    return gb_cu_fmax(a, b);
  }
};

/* ---- softmax / log_softmax ---- */

/* T: float, or double for float64 (max and outputs in T, the sum of exponentials in double) */
template <int BLOCK, class T> __global__ void k_softmax(span sp, const T *x, T *y, bool log_form) {
  typedef cub::BlockReduce<T, BLOCK> RedT;
  typedef cub::BlockReduce<double, BLOCK> RedD;
  __shared__ union {
    typename RedT::TempStorage t;
    typename RedD::TempStorage d;
  } tmp;
  __shared__ T s_mx;
  __shared__ double s_sum;
  int64_t rows = sp.outer * sp.inner;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    int64_t o = r / sp.inner, i = r % sp.inner;
    const T *xr = x + o * sp.n * sp.inner + i;
    T *yr = y + o * sp.n * sp.inner + i;
    T mx = gb_cu_neg_inf<T>();
    for (int64_t k = threadIdx.x; k < sp.n; k += BLOCK)
      mx = gb_cu_fmax(mx, xr[k * sp.inner]);
    T m = RedT(tmp.t).Reduce(mx, max_op());
    if (threadIdx.x == 0) s_mx = m;
    __syncthreads();
    mx = s_mx;
    double sum = 0;
    for (int64_t k = threadIdx.x; k < sp.n; k += BLOCK)
      sum += gb_cu_exp(xr[k * sp.inner] - mx);
    double t = RedD(tmp.d).Sum(sum);
    if (threadIdx.x == 0) s_sum = t;
    __syncthreads();
    sum = s_sum;
    if (log_form) {
      /* (x - max) - log(sum): precise at large offsets, as the CPU kernel */
      T ls = (T)log(sum);
      for (int64_t k = threadIdx.x; k < sp.n; k += BLOCK)
        yr[k * sp.inner] = (xr[k * sp.inner] - mx) - ls;
    } else {
      T inv = (T)(1.0 / sum);
      for (int64_t k = threadIdx.x; k < sp.n; k += BLOCK)
        yr[k * sp.inner] = gb_cu_exp(xr[k * sp.inner] - mx) * inv;
    }
    __syncthreads();
  }
}

template <class T>
static void launch_softmax(span sp, cudaStream_t s, const gb_tensor *x, gb_tensor *y,
                           bool log_form) {
  unsigned grid = rows_grid(sp.outer * sp.inner);
  if (sp.n <= 32)
    k_softmax<32, T><<<grid, 32, 0, s>>>(sp, gb_cu_data<T>(x), gb_cu_data<T>(y), log_form);
  else
    k_softmax<GB_CUDA_ROW_THREADS, T>
        <<<grid, GB_CUDA_ROW_THREADS, 0, s>>>(sp, gb_cu_data<T>(x), gb_cu_data<T>(y), log_form);
}

static gb_status softmax_impl(gb_state *S, const gb_opargs *a, gb_tensor *out, bool log_form) {
  gb_cuda_dev *c;
  gb_device dev = out->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  if (out->numel == 0) return GB_OK;
  gb_tensor *xc;
  if ((st = gb_tensor_contiguous(S, a->in[0], &xc))) return st;
  span sp = gb_dim_span_of(xc, a->i[0]);
  if (out->dtype == GB_F64)
    launch_softmax<double>(sp, c->stream, xc, out, log_form);
  else
    launch_softmax<float>(sp, c->stream, xc, out, log_form);
  gb_tensor_release(S, xc);
  GB_LAUNCHED(S, dev, c, log_form ? "log_softmax kernel" : "softmax kernel");
  return GB_OK;
}

extern "C" gb_status gb_cuda_softmax(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return softmax_impl(S, a, out[0], false);
}
extern "C" gb_status gb_cuda_log_softmax(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return softmax_impl(S, a, out[0], true);
}

/* (gout, y) -> gin; softmax: y*(g - sum(g*y)); log_softmax: g - exp(y)*sum(g) */
template <int BLOCK, class T>
__global__ void k_softmax_backward(span sp, const T *g, const T *y, T *r, bool log_form) {
  typedef cub::BlockReduce<double, BLOCK> RedD;
  __shared__ typename RedD::TempStorage tmp;
  __shared__ double s_dot;
  int64_t rows = sp.outer * sp.inner;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    int64_t o = row / sp.inner, i = row % sp.inner;
    int64_t base = o * sp.n * sp.inner + i;
    double dot = 0;
    for (int64_t k = threadIdx.x; k < sp.n; k += BLOCK) {
      int64_t at = base + k * sp.inner;
      dot += log_form ? (double)g[at] : (double)(g[at] * y[at]);
    }
    double t = RedD(tmp).Sum(dot);
    if (threadIdx.x == 0) s_dot = t;
    __syncthreads();
    T d = (T)s_dot;
    for (int64_t k = threadIdx.x; k < sp.n; k += BLOCK) {
      int64_t at = base + k * sp.inner;
      r[at] = log_form ? g[at] - gb_cu_exp(y[at]) * d : y[at] * (g[at] - d);
    }
    __syncthreads();
  }
}

template <class T>
static void launch_softmax_backward(span sp, cudaStream_t s, const gb_tensor *g, const gb_tensor *y,
                                    gb_tensor *r, bool log_form) {
  unsigned grid = rows_grid(sp.outer * sp.inner);
  if (sp.n <= 32)
    k_softmax_backward<32, T>
        <<<grid, 32, 0, s>>>(sp, gb_cu_data<T>(g), gb_cu_data<T>(y), gb_cu_data<T>(r), log_form);
  else
    k_softmax_backward<GB_CUDA_ROW_THREADS, T><<<grid, GB_CUDA_ROW_THREADS, 0, s>>>(
        sp, gb_cu_data<T>(g), gb_cu_data<T>(y), gb_cu_data<T>(r), log_form);
}

static gb_status softmax_backward_impl(gb_state *S, const gb_opargs *a, gb_tensor *out,
                                       bool log_form) {
  gb_cuda_dev *c;
  gb_device dev = out->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  if (out->numel == 0) return GB_OK;
  gb_tensor *gc, *yc;
  if ((st = gb_tensor_contiguous(S, a->in[0], &gc))) return st;
  if ((st = gb_tensor_contiguous(S, a->in[1], &yc))) {
    gb_tensor_release(S, gc);
    return st;
  }
  span sp = gb_dim_span_of(yc, a->i[0]);
  if (out->dtype == GB_F64)
    launch_softmax_backward<double>(sp, c->stream, gc, yc, out, log_form);
  else
    launch_softmax_backward<float>(sp, c->stream, gc, yc, out, log_form);
  gb_tensor_release(S, gc);
  gb_tensor_release(S, yc);
  GB_LAUNCHED(S, dev, c, "softmax_backward kernel");
  return GB_OK;
}

extern "C" gb_status gb_cuda_softmax_backward(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return softmax_backward_impl(S, a, out[0], false);
}
extern "C" gb_status gb_cuda_log_softmax_backward(gb_state *S, const gb_opargs *a,
                                                  gb_tensor **out) {
  return softmax_backward_impl(S, a, out[0], true);
}

/* ---- class losses ---------------------------------------------------------------------- */

/* Labels as the kernels see them: base pointer, element stride, int64 or int32. */
struct labels {
  const void *p;
  int64_t stride;
  bool i64;
};

__device__ __forceinline__ int64_t label_at(const labels &y, int64_t i) {
  return y.i64 ? ((const int64_t *)y.p)[i * y.stride] : ((const int32_t *)y.p)[i * y.stride];
}

/* 0-based class of row i, or -1 after recording i as a bad row (smallest row wins). */
__device__ __forceinline__ int64_t class_of(const labels &y, int64_t i, int64_t C,
                                            unsigned long long *flag) {
  int64_t c = label_at(y, i);
  if (c < 1 || c > C) {
    atomicMin(flag, (unsigned long long)i);
    return -1;
  }
  return c - 1;
}

/* log-sum-exp of a row as max (*mx) and log(sum exp(x - max)) (returned), kept apart so
 * that x - max is taken first (precision at large offsets, as the CPU kernel) */
template <class T> __device__ __forceinline__ T row_lse(const T *row, int64_t C, T *mx_out) {
  /* one thread per row: the rows are short (classes), so this stays simple */
  T mx = gb_cu_neg_inf<T>();
  for (int64_t k = 0; k < C; k++)
    mx = gb_cu_fmax(mx, row[k]);
  double s = 0;
  for (int64_t k = 0; k < C; k++)
    s += gb_cu_exp(row[k] - mx);
  *mx_out = mx;
  return (T)log(s);
}

enum { LOSS_CE, LOSS_NLL };

/* per-row terms: CE lse - x[cls]; NLL -x[cls]. Bad rows contribute 0 (the launcher errors). */
template <class T>
__global__ void k_loss_rows(const T *x, labels y, int64_t N, int64_t C, int kind, double *terms,
                            unsigned long long *flag) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < N;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t cls = class_of(y, i, C, flag);
    const T *row = x + i * C;
    if (cls < 0) {
      terms[i] = 0;
      continue;
    }
    if (kind == LOSS_CE) {
      T mx, ls = row_lse(row, C, &mx);
      terms[i] = (double)((mx - row[cls]) + ls);
    } else {
      terms[i] = -(double)row[cls];
    }
  }
}

template <int BLOCK, class T> __global__ void k_mean_terms(const double *terms, int64_t N, T *out) {
  typedef cub::BlockReduce<double, BLOCK> RedD;
  __shared__ typename RedD::TempStorage tmp;
  double acc = 0;
  for (int64_t i = threadIdx.x; i < N; i += BLOCK)
    acc += terms[i];
  double t = RedD(tmp).Sum(acc);
  if (threadIdx.x == 0) *out = (T)(t / (double)N);
}

/* backward: CE (softmax - onehot) * gout / N; NLL -onehot * gout / N */
template <class T>
__global__ void k_loss_backward(const T *x, labels y, const T *gout, int64_t N, int64_t C, int kind,
                                T *g, unsigned long long *flag) {
  T scale = *gout / (T)N;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < N;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t cls = class_of(y, i, C, flag);
    const T *row = x + i * C;
    T *gr = g + i * C;
    if (kind == LOSS_CE) {
      T mx, ls = row_lse(row, C, &mx);
      for (int64_t k = 0; k < C; k++)
        gr[k] = gb_cu_exp((row[k] - mx) - ls) * scale;
    } else {
      for (int64_t k = 0; k < C; k++)
        gr[k] = (T)0;
    }
    if (cls >= 0) gr[cls] -= scale;
  }
}

/* The loss kernels in T; the rows are checked against `flag` (the deferred label check). */
template <class T>
static gb_status loss_t(gb_state *S, gb_device dev, gb_cuda_dev *c, const gb_opargs *a,
                        const gb_tensor *xc, labels y, int64_t N, int64_t C, int kind,
                        bool backward, gb_tensor *out, unsigned long long *flag) {
  unsigned blocks = gb_cuda_blocks(N, GB_CUDA_LOSS_THREADS);
  if (backward) {
    k_loss_backward<T><<<blocks, GB_CUDA_LOSS_THREADS, 0, c->stream>>>(
        gb_cu_data<T>(xc), y, gb_cu_data<T>(a->in[2]), N, C, kind, gb_cu_data<T>(out), flag);
    return gb_cuda_after_launch(S, dev, c->stream, "loss backward kernel", __FILE__, __LINE__);
  }
  void *terms;
  gb_status st = gb_cuda_alloc(S, dev, (size_t)N * sizeof(double), &terms);
  if (st) return st;
  k_loss_rows<T><<<blocks, GB_CUDA_LOSS_THREADS, 0, c->stream>>>(gb_cu_data<T>(xc), y, N, C, kind,
                                                                 (double *)terms, flag);
  if (N <= 32)
    k_mean_terms<32, T><<<1, 32, 0, c->stream>>>((const double *)terms, N, gb_cu_data<T>(out));
  else
    k_mean_terms<GB_CUDA_ROW_THREADS, T>
        <<<1, GB_CUDA_ROW_THREADS, 0, c->stream>>>((const double *)terms, N, gb_cu_data<T>(out));
  gb_cuda_free(S, dev, terms, (size_t)N * sizeof(double));
  return gb_cuda_after_launch(S, dev, c->stream, "loss kernel", __FILE__, __LINE__);
}

static gb_status class_loss(gb_state *S, const gb_opargs *a, gb_tensor *out, int kind,
                            bool backward) {
  const char *op = kind == LOSS_CE ? "cross_entropy" : "nll_loss";
  gb_cuda_dev *c;
  gb_device dev = out->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  const gb_tensor *yt = a->in[1];
  int64_t N = a->in[0]->shape[0], C = a->in[0]->shape[1];
  labels y = {gb_tensor_data(yt), yt->stride[0], yt->dtype == GB_I64};
  gb_tensor *xc;
  if ((st = gb_tensor_contiguous(S, a->in[0], &xc))) return st;
  unsigned long long *flag; /* the deferred label check, read at the next sync */
  if (!(st = gb_cuda_check_slot(S, dev, c, &flag))) {
    st = xc->dtype == GB_F64 ? loss_t<double>(S, dev, c, a, xc, y, N, C, kind, backward, out, flag)
                             : loss_t<float>(S, dev, c, a, xc, y, N, C, kind, backward, out, flag);
    if (!st) gb_cuda_check_note(c, op, "label", C, (gb_tensor *)yt);
  }
  gb_tensor_release(S, xc);
  return st;
}

extern "C" gb_status gb_cuda_cross_entropy(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return class_loss(S, a, out[0], LOSS_CE, false);
}
extern "C" gb_status gb_cuda_cross_entropy_backward(gb_state *S, const gb_opargs *a,
                                                    gb_tensor **out) {
  return class_loss(S, a, out[0], LOSS_CE, true);
}
extern "C" gb_status gb_cuda_nll_loss(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return class_loss(S, a, out[0], LOSS_NLL, false);
}
extern "C" gb_status gb_cuda_nll_loss_backward(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return class_loss(S, a, out[0], LOSS_NLL, true);
}
