/* gb_cuda_index.cu — CUDA kernels that move elements by 1-based integer indices (int64 or
 * int32), matching runtime/cpu/gb_cpu_index.c: index_select / index_add along a dim, gather /
 * scatter_add, float32 and float64 alike. The adds use atomicAdd (their order, hence the last bits,
 * may vary). A bad index is skipped by the kernel and recorded in the device flag (the first
 * position wins); the launcher reads it back and returns GB_EARG with the CPU's message. */
#include <string.h>

#include "gb_cuda_impl.h"

/* Contiguous indices as the kernels see them. */
struct indices {
  const void *p;
  bool i64;
  int64_t limit;
};

/* 0-based index at position i, or -1 after recording i as bad. */
__device__ __forceinline__ int64_t index_at(const indices &ix, int64_t i,
                                            unsigned long long *flag) {
  int64_t j = ix.i64 ? ((const int64_t *)ix.p)[i] : ((const int32_t *)ix.p)[i];
  if (j < 1 || j > ix.limit) {
    atomicMin(flag, (unsigned long long)i);
    return -1;
  }
  return j - 1;
}

/* Offset in a contiguous tensor of shape `to` for the coordinates of linear index i in shape
 * `from` (same ndim), with coordinate `dim` replaced by j. */
struct shapes {
  int ndim;
  int64_t from[GB_MAXDIM], to[GB_MAXDIM];
};

__device__ __forceinline__ int64_t remap(const shapes &s, int64_t i, int dim, int64_t j) {
  int64_t off = 0, mul = 1;
  for (int d = s.ndim - 1; d >= 0; d--) {
    int64_t c = i % s.from[d];
    i /= s.from[d];
    off += (d == dim ? j : c) * mul;
    mul *= s.to[d];
  }
  return off;
}

/* index_select: out (outer, m, inner) <- x (outer, n, inner); element type by size */
template <class T>
__global__ void k_index_select(const T *x, T *o, indices ix, int64_t outer, int64_t n, int64_t m,
                               int64_t inner, unsigned long long *flag) {
  int64_t total = outer * m * inner;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t q = e % inner, r = e / inner, jpos = r % m, p = r / m;
    int64_t src = index_at(ix, jpos, flag);
    o[e] = src < 0 ? T(0) : x[(p * n + src) * inner + q];
  }
}

/* index_add: o (outer, n, inner) += s (outer, m, inner) rows at the indices; T float or
 * double (atomicAdd has both) */
template <class T>
__global__ void k_index_add(T *o, const T *s, indices ix, int64_t outer, int64_t n, int64_t m,
                            int64_t inner, unsigned long long *flag) {
  int64_t total = outer * m * inner;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t q = e % inner, r = e / inner, jpos = r % m, p = r / m;
    int64_t dst = index_at(ix, jpos, flag);
    if (dst >= 0) atomicAdd(&o[(p * n + dst) * inner + q], s[e]);
  }
}

template <class T>
__global__ void k_gather(const T *x, T *o, int64_t total, indices ix, shapes sh, int dim,
                         unsigned long long *flag) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t j = index_at(ix, i, flag);
    o[i] = j < 0 ? T(0) : x[remap(sh, i, dim, j)];
  }
}

template <class T>
__global__ void k_scatter_add(T *o, const T *s, int64_t total, indices ix, shapes sh, int dim,
                              unsigned long long *flag) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t j = index_at(ix, i, flag);
    if (j >= 0) atomicAdd(&o[remap(sh, i, dim, j)], s[i]);
  }
}

static void around(const gb_tensor *t, int64_t dim, int64_t *outer, int64_t *inner) {
  *outer = *inner = 1;
  for (int d = 0; d < dim; d++)
    *outer *= t->shape[d];
  for (int d = (int)dim + 1; d < t->ndim; d++)
    *inner *= t->shape[d];
}

/* What every launcher here does around its kernel: device, contiguous indices, and the
 * deferred check's slot (`flag`) for out-of-range indices. */
struct ix_call {
  gb_cuda_dev *c;
  gb_device dev;
  gb_tensor *ic;
  indices ix;
  unsigned long long *flag;
};

static gb_status ix_begin(gb_state *S, gb_tensor *out, gb_tensor *idx, int64_t limit, ix_call *k) {
  k->dev = out->device;
  k->ic = NULL;
  gb_status st = gb_cuda_ctx(S, k->dev, &k->c);
  if (st) return st;
  if ((st = gb_tensor_contiguous(S, idx, &k->ic))) return st;
  k->ix.p = gb_tensor_data(k->ic);
  k->ix.i64 = k->ic->dtype == GB_I64;
  k->ix.limit = limit;
  if ((st = gb_cuda_check_slot(S, k->dev, k->c, &k->flag))) {
    gb_tensor_release(S, k->ic);
    return st;
  }
  return GB_OK;
}

/* After the kernel: launch errors; the index check is read at the next sync, not here. */
static gb_status ix_end(gb_state *S, const char *op, ix_call *k, gb_status st) {
  if (!st) st = gb_cuda_after_launch(S, k->dev, k->c->stream, op, __FILE__, __LINE__);
  if (!st) gb_cuda_check_note(k->c, op, "index", k->ix.limit, k->ic);
  gb_tensor_release(S, k->ic);
  return st;
}

/* out = copy of base (the adds land on it) */
static gb_status copy_base(gb_state *S, gb_tensor *base, gb_tensor **out) {
  gb_opargs c;
  memset(&c, 0, sizeof c);
  c.in[0] = base;
  c.nin = 1;
  c.i[0] = -1;
  return gb_cuda_copy(S, &c, out);
}

extern "C" gb_status gb_cuda_index_select(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  int64_t dim = a->i[0], outer, inner;
  gb_tensor *x = a->in[0], *o = out[0];
  ix_call k;
  gb_status st = ix_begin(S, o, a->in[1], x->shape[dim], &k);
  if (st) return st;
  gb_tensor *xc = NULL;
  if (!(st = gb_tensor_contiguous(S, x, &xc)) && o->numel > 0) {
    around(xc, dim, &outer, &inner);
    int64_t n = xc->shape[dim], m = a->in[1]->numel;
    unsigned blocks = gb_cuda_blocks(o->numel, GB_CUDA_THREADS);
    if (gb_dtype_size(xc->dtype) == 8)
      k_index_select<int64_t><<<blocks, GB_CUDA_THREADS, 0, k.c->stream>>>(
          (const int64_t *)gb_tensor_data(xc), (int64_t *)gb_tensor_data(o), k.ix, outer, n, m,
          inner, k.flag);
    else
      k_index_select<int32_t><<<blocks, GB_CUDA_THREADS, 0, k.c->stream>>>(
          (const int32_t *)gb_tensor_data(xc), (int32_t *)gb_tensor_data(o), k.ix, outer, n, m,
          inner, k.flag);
  }
  gb_tensor_release(S, xc);
  return ix_end(S, "index_select", &k, st);
}

extern "C" gb_status gb_cuda_index_add(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  int64_t dim = a->i[0], outer, inner;
  gb_tensor *o = out[0];
  gb_status st = copy_base(S, a->in[0], out);
  if (st) return st;
  ix_call k;
  if ((st = ix_begin(S, o, a->in[1], a->in[0]->shape[dim], &k))) return st;
  gb_tensor *sc = NULL;
  if (!(st = gb_tensor_contiguous(S, a->in[2], &sc)) && sc->numel > 0) {
    around(o, dim, &outer, &inner);
    int64_t n = o->shape[dim], m = a->in[1]->numel;
    unsigned blocks = gb_cuda_blocks(sc->numel, GB_CUDA_THREADS);
    if (o->dtype == GB_F64)
      k_index_add<double><<<blocks, GB_CUDA_THREADS, 0, k.c->stream>>>(
          gb_cu_data<double>(o), gb_cu_data<double>(sc), k.ix, outer, n, m, inner, k.flag);
    else
      k_index_add<float><<<blocks, GB_CUDA_THREADS, 0, k.c->stream>>>(
          gb_tensor_f32(o), gb_tensor_f32(sc), k.ix, outer, n, m, inner, k.flag);
  }
  gb_tensor_release(S, sc);
  return ix_end(S, "index_add", &k, st);
}

static shapes shapes_of(const gb_tensor *from, const gb_tensor *to) {
  shapes s;
  memset(&s, 0, sizeof s);
  s.ndim = from->ndim;
  for (int d = 0; d < from->ndim; d++) {
    s.from[d] = from->shape[d];
    s.to[d] = to->shape[d];
  }
  return s;
}

extern "C" gb_status gb_cuda_gather(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  int dim = (int)a->i[0];
  gb_tensor *x = a->in[0], *o = out[0];
  ix_call k;
  gb_status st = ix_begin(S, o, a->in[1], x->shape[dim], &k);
  if (st) return st;
  gb_tensor *xc = NULL;
  if (!(st = gb_tensor_contiguous(S, x, &xc)) && o->numel > 0) {
    shapes sh = shapes_of(o, xc);
    unsigned blocks = gb_cuda_blocks(o->numel, GB_CUDA_THREADS);
    if (gb_dtype_size(xc->dtype) == 8)
      k_gather<int64_t><<<blocks, GB_CUDA_THREADS, 0, k.c->stream>>>(
          (const int64_t *)gb_tensor_data(xc), (int64_t *)gb_tensor_data(o), o->numel, k.ix, sh,
          dim, k.flag);
    else
      k_gather<int32_t><<<blocks, GB_CUDA_THREADS, 0, k.c->stream>>>(
          (const int32_t *)gb_tensor_data(xc), (int32_t *)gb_tensor_data(o), o->numel, k.ix, sh,
          dim, k.flag);
  }
  gb_tensor_release(S, xc);
  return ix_end(S, "gather", &k, st);
}

extern "C" gb_status gb_cuda_scatter_add(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  int dim = (int)a->i[0];
  gb_tensor *o = out[0];
  gb_status st = copy_base(S, a->in[0], out);
  if (st) return st;
  ix_call k;
  if ((st = ix_begin(S, o, a->in[1], a->in[0]->shape[dim], &k))) return st;
  gb_tensor *sc = NULL;
  if (!(st = gb_tensor_contiguous(S, a->in[2], &sc)) && sc->numel > 0) {
    shapes sh = shapes_of(sc, o);
    unsigned blocks = gb_cuda_blocks(sc->numel, GB_CUDA_THREADS);
    if (o->dtype == GB_F64)
      k_scatter_add<double><<<blocks, GB_CUDA_THREADS, 0, k.c->stream>>>(
          gb_cu_data<double>(o), gb_cu_data<double>(sc), sc->numel, k.ix, sh, dim, k.flag);
    else
      k_scatter_add<float><<<blocks, GB_CUDA_THREADS, 0, k.c->stream>>>(
          gb_tensor_f32(o), gb_tensor_f32(sc), sc->numel, k.ix, sh, dim, k.flag);
  }
  gb_tensor_release(S, sc);
  return ix_end(S, "scatter_add", &k, st);
}
