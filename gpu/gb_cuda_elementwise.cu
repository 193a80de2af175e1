/* gb_cuda_elementwise.cu — CUDA kernels of the elementwise rows: unary maths, broadcasting
 * binary maths and derivative helpers, comparisons (any dtype) and where. Each row's formula
 * is the one the CPU runs (gb_math.h or the same libm call); one templated kernel walks
 * flat operands (the common case after coalescing) and another any strides. */
#include "gb_cuda_impl.h"

/* Flat operands: operand k advances by s[k] (1, or 0 for a broadcast scalar). T is the
 * inputs' element type, OT the output's (float for comparisons and float32 rows, double for
 * the float64 rows), T0 the first input's (T but for where's float32 condition). */
template <int NIN, class T, class OT, class T0, class F>
__global__ void k_flat(int64_t n, OT *out, int so, const T0 *x0, int s0, const T *x1, int s1,
                       const T *x2, int s2, F f) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    T0 a = x0[i * s0];
    T b = NIN > 1 ? x1[i * s1] : (T)a;
    T c = NIN > 2 ? x2[i * s2] : (T)a;
    out[i * so] = f(a, b, c);
  }
}

template <int NIN, class T, class OT, class T0, class F>
__global__ void k_strided(gb_cuda_iter it, F f) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < it.numel;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t off[NIN + 1];
    gb_iter_offsets<NIN + 1>(it, i, off);
    T0 a = ((const T0 *)it.base[1])[off[1]];
    T b = NIN > 1 ? ((const T *)it.base[2])[off[2]] : (T)a;
    T c = NIN > 2 ? ((const T *)it.base[3])[off[3]] : (T)a;
    ((OT *)it.base[0])[off[0]] = f(a, b, c);
  }
}

template <int NIN, class T, class OT = float, class T0 = T, class F>
static gb_status launch(gb_state *S, const gb_opargs *a, gb_tensor *out, F f, const char *what) {
  gb_cuda_dev *c;
  gb_device dev = out->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  if (out->numel == 0) return GB_OK;
  gb_cuda_iter it;
  gb_cuda_iter_init(&it, out, NIN, a->in);
  unsigned blocks = gb_cuda_blocks(it.numel, GB_CUDA_THREADS);
  if (it.contiguous) {
    const T0 *p1 = (const T0 *)it.base[1];
    const T *p2 = (const T *)it.base[NIN > 1 ? 2 : 1];
    const T *p3 = (const T *)it.base[NIN > 2 ? 3 : 1];
    int s1 = (int)it.stride[1][0], s2 = NIN > 1 ? (int)it.stride[2][0] : 0,
        s3 = NIN > 2 ? (int)it.stride[3][0] : 0;
    k_flat<NIN, T, OT, T0, F><<<blocks, GB_CUDA_THREADS, 0, c->stream>>>(
        it.numel, (OT *)it.base[0], (int)it.stride[0][0], p1, s1, p2, s2, p3, s3, f);
  } else {
    k_strided<NIN, T, OT, T0, F><<<blocks, GB_CUDA_THREADS, 0, c->stream>>>(it, f);
  }
  GB_LAUNCHED(S, dev, c, what);
  return GB_OK;
}

/* ---- unary: `x` the element, f0/f1 the row's scalars; each row has a float functor (gb_f_
 * formula) and a double one (gb_d_), the output's dtype picks ---- */
#define GB_CUDA_UNARY(name, EXPR, DEXPR)                                                           \
  struct op_##name {                                                                               \
    float f0, f1;                                                                                  \
    __device__ __forceinline__ float operator()(float x, float, float) const {                     \
      const float f0_ = f0, f1_ = f1;                                                              \
      (void)f0_, (void)f1_;                                                                        \
      return (EXPR);                                                                               \
    }                                                                                              \
  };                                                                                               \
  struct opd_##name {                                                                              \
    double f0, f1;                                                                                 \
    __device__ __forceinline__ double operator()(double x, double, double) const {                 \
      const double f0_ = f0, f1_ = f1;                                                             \
      (void)f0_, (void)f1_;                                                                        \
      return (DEXPR);                                                                              \
    }                                                                                              \
  };                                                                                               \
  extern "C" gb_status gb_cuda_##name(gb_state *S, const gb_opargs *a, gb_tensor **out) {          \
    if (out[0]->dtype == GB_F64) {                                                                 \
      opd_##name fd = {a->f[0], a->f[1]};                                                          \
      return launch<1, double, double>(S, a, out[0], fd, #name " kernel");                         \
    }                                                                                              \
    op_##name f = {(float)a->f[0], (float)a->f[1]};                                                \
    return launch<1, float>(S, a, out[0], f, #name " kernel");                                     \
  }

#define GB_CUDA_UNARY_ROW(row, f) GB_CUDA_UNARY(row, gb_f_##f(x, f0_, f1_), gb_d_##f(x, f0_, f1_))
GB_UNARY_ROWS(GB_CUDA_UNARY_ROW)
#undef GB_CUDA_UNARY_ROW

/* ---- binary with broadcasting: `x`, `y` the elements; float and double functors ---- */
#define GB_CUDA_BINARY(name, EXPR, DEXPR)                                                          \
  struct op_##name {                                                                               \
    float f0, f1;                                                                                  \
    __device__ __forceinline__ float operator()(float x, float y, float) const {                   \
      const float f0_ = f0, f1_ = f1;                                                              \
      (void)f0_, (void)f1_;                                                                        \
      return (EXPR);                                                                               \
    }                                                                                              \
  };                                                                                               \
  struct opd_##name {                                                                              \
    double f0, f1;                                                                                 \
    __device__ __forceinline__ double operator()(double x, double y, double) const {               \
      const double f0_ = f0, f1_ = f1;                                                             \
      (void)f0_, (void)f1_;                                                                        \
      return (DEXPR);                                                                              \
    }                                                                                              \
  };                                                                                               \
  extern "C" gb_status gb_cuda_##name(gb_state *S, const gb_opargs *a, gb_tensor **out) {          \
    if (out[0]->dtype == GB_F64) {                                                                 \
      opd_##name fd = {a->f[0], a->f[1]};                                                          \
      return launch<2, double, double>(S, a, out[0], fd, #name " kernel");                         \
    }                                                                                              \
    op_##name f = {(float)a->f[0], (float)a->f[1]};                                                \
    return launch<2, float>(S, a, out[0], f, #name " kernel");                                     \
  }

#define GB_CUDA_BINARY_ROW(row, f)                                                                 \
  GB_CUDA_BINARY(row, gb_f_##f(x, y, f0_, f1_), gb_d_##f(x, y, f0_, f1_))
GB_BINARY_ROWS(GB_CUDA_BINARY_ROW)
#undef GB_CUDA_BINARY_ROW

/* ---- comparisons: either dtype (both the same), float32 0/1 out ---- */
#define GB_CUDA_COMPARE(name, OP)                                                                  \
  struct op_##name {                                                                               \
    template <class T> __device__ __forceinline__ float operator()(T x, T y, T) const {            \
      return (float)(x OP y);                                                                      \
    }                                                                                              \
  };                                                                                               \
  extern "C" gb_status gb_cuda_##name(gb_state *S, const gb_opargs *a, gb_tensor **out) {          \
    op_##name f;                                                                                   \
    switch (a->in[0]->dtype) {                                                                     \
    case GB_F32: return launch<2, float>(S, a, out[0], f, #name " kernel");                        \
    case GB_F64: return launch<2, double>(S, a, out[0], f, #name " kernel");                       \
    case GB_I32: return launch<2, int32_t>(S, a, out[0], f, #name " kernel");                      \
    case GB_I64:                                                                                   \
    case GB_NDTYPE: break;                                                                         \
    }                                                                                              \
    return launch<2, int64_t>(S, a, out[0], f, #name " kernel");                                   \
  }

GB_CUDA_COMPARE(eq, ==)
GB_CUDA_COMPARE(ne, !=)
GB_CUDA_COMPARE(lt, <)
GB_CUDA_COMPARE(le, <=)
GB_CUDA_COMPARE(gt, >)
GB_CUDA_COMPARE(ge, >=)

/* where: the float32 0/1 condition picks x or y (float32 or float64, the output's dtype) */
struct op_where {
  template <class T> __device__ __forceinline__ T operator()(float c, T x, T y) const {
    return c != 0.0f ? x : y;
  }
};

extern "C" gb_status gb_cuda_where(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  op_where f;
  if (out[0]->dtype == GB_F64)
    return launch<3, double, double, float>(S, a, out[0], f, "where kernel");
  return launch<3, float>(S, a, out[0], f, "where kernel");
}
