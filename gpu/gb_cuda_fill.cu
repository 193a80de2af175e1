/* gb_cuda_fill.cu — CUDA kernels that write a whole tensor (any dtype, any strides): fill,
 * arange, eye, the Philox uniform/normal draws (element i depends only on seed, offset and i,
 * so the numbers equal the CPU's), and copy with dtype conversion between strided layouts.
 * The value formulas mirror runtime/cpu/gb_cpu_fill.c: computed as the CPU does, then stored. */
#include "gb_cuda_impl.h"
#include "gb_philox.h"

enum fill_kind {
  FILL_VALUE,
  FILL_ARANGE,
  FILL_EYE,
  FILL_UNIFORM,
  FILL_NORMAL,
  FILL_LINSPACE,
  FILL_LINSPACE64, /* linspace stepped in double (a float64 target), as the CPU */
  FILL_UNIFORM64,  /* float64 targets: 53-bit draws, bounds in double, as the CPU */
  FILL_NORMAL64
};

struct fill_args {
  int kind;
  double f0, f1;
  uint64_t seed, offset;
  int64_t ncols;
};

__device__ __forceinline__ double fill_value(const fill_args &p, int64_t i) {
  switch (p.kind) {
  case FILL_VALUE: return p.f0;
  case FILL_ARANGE: return p.f0 + (double)i * p.f1;
  case FILL_EYE: return i / p.ncols == i % p.ncols ? 1.0 : 0.0;
  case FILL_LINSPACE: return gb_f_linspace_at((float)p.f0, (float)p.f1, p.ncols, i);
  case FILL_LINSPACE64: return gb_d_linspace_at(p.f0, p.f1, p.ncols, i);
  case FILL_UNIFORM64: return p.f0 + gb_philox_uniform_f64(p.seed, p.offset, i) * (p.f1 - p.f0);
  case FILL_NORMAL64: return p.f0 + gb_philox_normal_f64(p.seed, p.offset, i) * p.f1;
  case FILL_UNIFORM: {
    float u = gb_philox_uniform(p.seed, p.offset, i);
    return (float)p.f0 + u * (float)(p.f1 - p.f0);
  }
  default: return (float)p.f0 + gb_philox_normal(p.seed, p.offset, i) * (float)p.f1;
  }
}

/* Element i (row-major over the coalesced shape, which keeps the logical order) of `it`'s
 * single operand gets fill_value(i) converted to T. */
template <class T> __global__ void k_fill(gb_cuda_iter it, fill_args p) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < it.numel;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t off[1];
    gb_iter_offsets<1>(it, i, off);
    ((T *)it.base[0])[off[0]] = (T)fill_value(p, i);
  }
}

template <class T> __global__ void k_fill_flat(int64_t n, T *o, T v) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    o[i] = v;
}

static gb_status run_fill(gb_state *S, gb_tensor *t, const fill_args &p, const char *what) {
  gb_cuda_dev *c;
  gb_device dev = t->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  if (t->numel == 0) return GB_OK;
  gb_cuda_iter it;
  gb_cuda_iter_init(&it, t, 0, NULL);
  unsigned blocks = gb_cuda_blocks(t->numel, GB_CUDA_THREADS);
  if (p.kind == FILL_VALUE && it.contiguous && it.stride[0][0] == 1) {
    switch (t->dtype) {
    case GB_F32:
      k_fill_flat<float>
          <<<blocks, GB_CUDA_THREADS, 0, c->stream>>>(t->numel, (float *)it.base[0], (float)p.f0);
      break;
    case GB_F64:
      k_fill_flat<double>
          <<<blocks, GB_CUDA_THREADS, 0, c->stream>>>(t->numel, (double *)it.base[0], p.f0);
      break;
    case GB_I32:
      k_fill_flat<int32_t><<<blocks, GB_CUDA_THREADS, 0, c->stream>>>(
          t->numel, (int32_t *)it.base[0], (int32_t)p.f0);
      break;
    case GB_I64:
    case GB_NDTYPE:
      k_fill_flat<int64_t><<<blocks, GB_CUDA_THREADS, 0, c->stream>>>(
          t->numel, (int64_t *)it.base[0], (int64_t)p.f0);
      break;
    }
  } else {
    switch (t->dtype) {
    case GB_F32: k_fill<float><<<blocks, GB_CUDA_THREADS, 0, c->stream>>>(it, p); break;
    case GB_F64: k_fill<double><<<blocks, GB_CUDA_THREADS, 0, c->stream>>>(it, p); break;
    case GB_I32: k_fill<int32_t><<<blocks, GB_CUDA_THREADS, 0, c->stream>>>(it, p); break;
    case GB_I64:
    case GB_NDTYPE: k_fill<int64_t><<<blocks, GB_CUDA_THREADS, 0, c->stream>>>(it, p); break;
    }
  }
  GB_LAUNCHED(S, dev, c, what);
  return GB_OK;
}

static fill_args args_of(int kind, const gb_opargs *a) {
  fill_args p;
  p.kind = kind;
  p.f0 = a->f[0];
  p.f1 = a->f[1];
  p.seed = (uint64_t)a->i[0];
  p.offset = (uint64_t)a->i[1];
  p.ncols = 1;
  return p;
}

/* An integer target refuses a value it cannot hold, as the CPU's fill and arange do (the
 * values are known here, so this fails at once). */
static gb_status check_fits(gb_state *S, const char *op, gb_dtype dt, double v) {
  if (gb_value_fits(dt, v)) return GB_OK;
  char vb[32];
  return gb_errorf(S, GB_EARG, "%s: the value %s cannot be converted to %s", op,
                   gb_value_str(v, vb), gb_dtype_name(dt));
}

extern "C" gb_status gb_cuda_fill(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_status st = check_fits(S, "fill", out[0]->dtype, a->f[0]);
  return st ? st : run_fill(S, out[0], args_of(FILL_VALUE, a), "fill kernel");
}

extern "C" gb_status gb_cuda_arange(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  int64_t n = out[0]->numel;
  gb_status st;
  if (n > 0 && ((st = check_fits(S, "arange", out[0]->dtype, a->f[0])) ||
                (st = check_fits(S, "arange", out[0]->dtype, a->f[0] + (double)(n - 1) * a->f[1]))))
    return st;
  return run_fill(S, out[0], args_of(FILL_ARANGE, a), "arange kernel");
}

extern "C" gb_status gb_cuda_eye(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *t = out[0];
  if (t->ndim != 2) return gb_errorf(S, GB_ESHAPE, "eye: needs a 2-D tensor");
  fill_args p = args_of(FILL_EYE, a);
  p.ncols = t->shape[1] ? t->shape[1] : 1;
  return run_fill(S, t, p, "eye kernel");
}

extern "C" gb_status gb_cuda_linspace(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  fill_args p = args_of(out[0]->dtype == GB_F64 ? FILL_LINSPACE64 : FILL_LINSPACE, a);
  p.ncols = out[0]->numel; /* the number of steps */
  return run_fill(S, out[0], p, "linspace kernel");
}

extern "C" gb_status gb_cuda_uniform(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  fill_args p = args_of(out[0]->dtype == GB_F64 ? FILL_UNIFORM64 : FILL_UNIFORM, a);
  return run_fill(S, out[0], p, "uniform kernel");
}

extern "C" gb_status gb_cuda_normal(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  fill_args p = args_of(out[0]->dtype == GB_F64 ? FILL_NORMAL64 : FILL_NORMAL, a);
  return run_fill(S, out[0], p, "normal kernel");
}

/* ---- copy: every (destination, source) dtype pair, strided on both sides ----
 * A narrowing conversion (float -> integer, int64 -> int32) checks every element with the
 * CPU's rule (gb_value_fits): a value the target cannot hold (NaN, inf, out of range) is
 * stored as 0 and its position goes into the deferred-check slot `flag` (NULL: no check),
 * read at the next sync, as the label and index checks are; the CPU fails at once with the
 * same message. */

template <class OT, class IT>
__device__ __forceinline__ OT convert(IT v, int64_t i, gb_dtype to, unsigned long long *flag) {
  if (flag && !gb_value_fits(to, (double)v)) {
    atomicMin(flag, (unsigned long long)i);
    return (OT)0;
  }
  return (OT)v;
}

template <class OT, class IT>
__global__ void k_copy(gb_cuda_iter it, gb_dtype to, unsigned long long *flag) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < it.numel;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t off[2];
    gb_iter_offsets<2>(it, i, off);
    ((OT *)it.base[0])[off[0]] = convert<OT, IT>(((const IT *)it.base[1])[off[1]], i, to, flag);
  }
}

template <class OT, class IT>
__global__ void k_copy_flat(int64_t n, OT *o, const IT *x, int sx, gb_dtype to,
                            unsigned long long *flag) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    o[i] = convert<OT, IT>(x[i * sx], i, to, flag);
}

template <class OT, class IT>
static void launch_copy(const gb_cuda_iter &it, gb_dtype to, unsigned long long *flag,
                        cudaStream_t s) {
  unsigned blocks = gb_cuda_blocks(it.numel, GB_CUDA_THREADS);
  if (it.contiguous && it.stride[0][0] == 1)
    k_copy_flat<OT, IT><<<blocks, GB_CUDA_THREADS, 0, s>>>(
        it.numel, (OT *)it.base[0], (const IT *)it.base[1], (int)it.stride[1][0], to, flag);
  else
    k_copy<OT, IT><<<blocks, GB_CUDA_THREADS, 0, s>>>(it, to, flag);
}

template <class OT>
static void launch_copy_from(gb_dtype id, const gb_cuda_iter &it, gb_dtype to,
                             unsigned long long *flag, cudaStream_t s) {
  switch (id) {
  case GB_F32: launch_copy<OT, float>(it, to, flag, s); break;
  case GB_F64: launch_copy<OT, double>(it, to, flag, s); break;
  case GB_I32: launch_copy<OT, int32_t>(it, to, flag, s); break;
  case GB_I64:
  case GB_NDTYPE: launch_copy<OT, int64_t>(it, to, flag, s); break;
  }
}

extern "C" gb_status gb_cuda_copy(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *o = out[0], *x = a->in[0];
  gb_cuda_dev *c;
  gb_device dev = o->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  if (o->numel == 0) return GB_OK;
  if (o->dtype == x->dtype && gb_shape_equal(o, x) && gb_tensor_is_contiguous(o) &&
      gb_tensor_is_contiguous(x)) {
    GB_CU(S, dev,
          cudaMemcpyAsync(gb_tensor_data(o), gb_tensor_data(x),
                          (size_t)o->numel * gb_dtype_size(o->dtype), cudaMemcpyDeviceToDevice,
                          c->stream));
    return GB_OK;
  }
  bool narrowing = (gb_dtype_is_float(x->dtype) && !gb_dtype_is_float(o->dtype)) ||
                   (x->dtype == GB_I64 && o->dtype == GB_I32);
  unsigned long long *flag = NULL;
  if (narrowing && (st = gb_cuda_check_slot(S, dev, c, &flag))) return st;
  gb_cuda_iter it;
  gb_cuda_iter_init(&it, o, 1, a->in);
  switch (o->dtype) {
  case GB_F32: launch_copy_from<float>(x->dtype, it, o->dtype, flag, c->stream); break;
  case GB_F64: launch_copy_from<double>(x->dtype, it, o->dtype, flag, c->stream); break;
  case GB_I32: launch_copy_from<int32_t>(x->dtype, it, o->dtype, flag, c->stream); break;
  case GB_I64:
  case GB_NDTYPE: launch_copy_from<int64_t>(x->dtype, it, o->dtype, flag, c->stream); break;
  }
  GB_LAUNCHED(S, dev, c, "copy kernel");
  if (narrowing) gb_cuda_check_note_convert(c, "copy", x, o->dtype, o);
  return GB_OK;
}
