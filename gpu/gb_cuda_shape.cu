/* gb_cuda_shape.cu — CUDA kernels of issue 15's shape and scan rows, matching
 * runtime/cpu/gb_cpu_shape.c: repeat (one thread per output element, any dtype and input
 * strides) and cumsum (one thread per line along the dim, a double accumulator). */
#include "gb_cuda_impl.h"

struct repeat_args {
  int ndim;
  int64_t oshape[GB_MAXDIM];
  int64_t xshape[GB_MAXDIM];
  int64_t xstride[GB_MAXDIM];
};

template <class T> __global__ void k_repeat(int64_t n, repeat_args p, const T *x, T *o) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t rest = i, off = 0;
    for (int d = p.ndim - 1; d >= 0; d--) {
      int64_t c = rest % p.oshape[d];
      rest /= p.oshape[d];
      off += (c % p.xshape[d]) * p.xstride[d];
    }
    o[i] = x[off];
  }
}

extern "C" gb_status gb_cuda_repeat(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_cuda_dev *c;
  gb_tensor *o = out[0];
  const gb_tensor *x = a->in[0];
  gb_device dev = o->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  if (o->numel == 0) return GB_OK;
  repeat_args p;
  memset(&p, 0, sizeof p);
  p.ndim = o->ndim;
  for (int d = 0; d < o->ndim; d++) {
    p.oshape[d] = o->shape[d];
    p.xshape[d] = x->shape[d];
    p.xstride[d] = x->stride[d];
  }
  unsigned blocks = gb_cuda_blocks(o->numel, GB_CUDA_THREADS);
  if (gb_dtype_size(x->dtype) == 4)
    k_repeat<uint32_t><<<blocks, GB_CUDA_THREADS, 0, c->stream>>>(
        o->numel, p, (const uint32_t *)gb_tensor_data(x), (uint32_t *)gb_tensor_data(o));
  else
    k_repeat<uint64_t><<<blocks, GB_CUDA_THREADS, 0, c->stream>>>(
        o->numel, p, (const uint64_t *)gb_tensor_data(x), (uint64_t *)gb_tensor_data(o));
  GB_LAUNCHED(S, dev, c, "repeat kernel");
  return GB_OK;
}

/* T: float, or double for float64 (the accumulator is double for both) */
template <class T> __global__ void k_cumsum(gb_dim_span sp, const T *x, T *y, bool rev) {
  int64_t lines = sp.outer * sp.inner;
  for (int64_t l = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; l < lines;
       l += (int64_t)gridDim.x * blockDim.x) {
    int64_t base = (l / sp.inner) * sp.n * sp.inner + l % sp.inner;
    double acc = 0;
    for (int64_t j = 0; j < sp.n; j++) {
      int64_t at = base + (rev ? sp.n - 1 - j : j) * sp.inner;
      acc += (double)x[at];
      y[at] = (T)acc;
    }
  }
}

extern "C" gb_status gb_cuda_cumsum(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_cuda_dev *c;
  gb_device dev = out[0]->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  if (out[0]->numel == 0) return GB_OK;
  gb_tensor *xc;
  if ((st = gb_tensor_contiguous(S, a->in[0], &xc))) return st;
  gb_dim_span sp = gb_dim_span_of(xc, a->i[0]);
  int64_t lines = sp.outer * sp.inner;
  unsigned blocks = gb_cuda_blocks(lines, GB_CUDA_THREADS);
  if (xc->dtype == GB_F64)
    k_cumsum<double><<<blocks, GB_CUDA_THREADS, 0, c->stream>>>(
        sp, gb_cu_data<double>(xc), gb_cu_data<double>(out[0]), a->i[1] != 0);
  else
    k_cumsum<float><<<blocks, GB_CUDA_THREADS, 0, c->stream>>>(sp, gb_tensor_f32(xc),
                                                               gb_tensor_f32(out[0]), a->i[1] != 0);
  gb_tensor_release(S, xc); /* the allocator's stream order keeps the copy alive for the kernel */
  GB_LAUNCHED(S, dev, c, "cumsum kernel");
  return GB_OK;
}
