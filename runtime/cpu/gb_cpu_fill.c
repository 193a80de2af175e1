/* gb_cpu_fill.c — CPU kernels that write a whole tensor: fill, arange, eye, the Philox
 * uniform/normal draws (element i depends only on seed, offset and i, as on CUDA), and copy
 * with dtype conversion between any strided layouts. */
#include <string.h>

#include "gb_checked.h"
#include "gb_cpu.h"
#include "gb_math.h"
#include "gb_philox.h"

/* Store double v into element k of a row of the given dtype. */
static inline void store(char *p, gb_dtype dt, int64_t k, double v) {
  switch (dt) {
  case GB_F32: ((float *)p)[k] = (float)v; break;
  case GB_F64: ((double *)p)[k] = v; break;
  case GB_I32: ((int32_t *)p)[k] = (int32_t)v; break;
  case GB_I64:
  case GB_NDTYPE: ((int64_t *)p)[k] = (int64_t)v; break;
  }
}

static void row_fill(int64_t n, char **p, const int64_t *s, const gb_opargs *a) {
  gb_dtype dt = (gb_dtype)a->i[7];
  if (dt == GB_F32 && s[0] == 1) {
    float v = (float)a->f[0], *o = (float *)p[0];
    for (int64_t k = 0; k < n; k++)
      o[k] = v;
    return;
  }
  for (int64_t k = 0; k < n; k++)
    store(p[0], dt, k * s[0], a->f[0]);
}

/* An integer target refuses a value it cannot hold (NaN, inf, out of range): converting it
 * is undefined behaviour in C and gave INT64_MIN. */
static gb_status check_fits(gb_state *S, const char *op, gb_dtype dt, double v) {
  if (gb_value_fits(dt, v)) return GB_OK;
  char vb[32];
  return gb_errorf(S, GB_EARG, "%s: the value %s cannot be converted to %s", op,
                   gb_value_str(v, vb), gb_dtype_name(dt));
}

gb_status gb_cpu_fill(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_status st = check_fits(S, "fill", out[0]->dtype, a->f[0]);
  if (st) return st;
  gb_opargs b = *a;
  b.i[7] = out[0]->dtype; /* rows see the target dtype through their args */
  gb_iter it;
  gb_iter_init(&it, out[0], 0, NULL);
  gb_iter_run(S, &it, row_fill, &b);
  return GB_OK;
}

/* Visit the elements of a (possibly strided) tensor in row-major order with their index. */
typedef double (*elem_fn)(int64_t i, const gb_opargs *a);

static gb_status write_each(gb_tensor *t, elem_fn f, const gb_opargs *a) {
  char *base = gb_tensor_data(t);
  int64_t idx[GB_MAXDIM] = {0};
  for (int64_t i = 0; i < t->numel; i++) {
    int64_t off = 0;
    for (int d = 0; d < t->ndim; d++)
      off += idx[d] * t->stride[d];
    store(base, t->dtype, off, f(i, a));
    for (int d = t->ndim - 1; d >= 0; d--) {
      if (++idx[d] < t->shape[d]) break;
      idx[d] = 0;
    }
  }
  return GB_OK;
}

static double elem_arange(int64_t i, const gb_opargs *a) {
  return a->f[0] + (double)i * a->f[1];
}
static double elem_eye(int64_t i, const gb_opargs *a) {
  return i / a->i[7] == i % a->i[7] ? 1.0 : 0.0;
}
static double elem_uniform(int64_t i, const gb_opargs *a) {
  float u = gb_philox_uniform((uint64_t)a->i[0], (uint64_t)a->i[1], i);
  return (float)a->f[0] + u * (float)(a->f[1] - a->f[0]);
}
static double elem_normal(int64_t i, const gb_opargs *a) {
  return (float)a->f[0] +
         gb_philox_normal((uint64_t)a->i[0], (uint64_t)a->i[1], i) * (float)a->f[1];
}
/* float64 targets: 53-bit draws, the bounds in double */
static double elem_uniform_d(int64_t i, const gb_opargs *a) {
  return a->f[0] +
         gb_philox_uniform_f64((uint64_t)a->i[0], (uint64_t)a->i[1], i) * (a->f[1] - a->f[0]);
}
static double elem_normal_d(int64_t i, const gb_opargs *a) {
  return a->f[0] + gb_philox_normal_f64((uint64_t)a->i[0], (uint64_t)a->i[1], i) * a->f[1];
}

gb_status gb_cpu_arange(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  int64_t n = out[0]->numel;
  gb_status st;
  if (n > 0 && ((st = check_fits(S, "arange", out[0]->dtype, elem_arange(0, a))) ||
                (st = check_fits(S, "arange", out[0]->dtype, elem_arange(n - 1, a)))))
    return st;
  return write_each(out[0], elem_arange, a);
}

/* steps in the target's float type (float32 for every dtype but float64), the first half
 * counted from the start and the second from the end, as PyTorch's linspace kernel (so both
 * ends are exact and the values match its bits) */
static double elem_linspace(int64_t i, const gb_opargs *a) {
  return gb_f_linspace_at((float)a->f[0], (float)a->f[1], a->i[6], i);
}
static double elem_linspace_d(int64_t i, const gb_opargs *a) {
  return gb_d_linspace_at(a->f[0], a->f[1], a->i[6], i);
}

gb_status gb_cpu_linspace(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_opargs b = *a;
  b.i[6] = out[0]->numel;
  return write_each(out[0], out[0]->dtype == GB_F64 ? elem_linspace_d : elem_linspace, &b);
}

gb_status gb_cpu_eye(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *t = out[0];
  if (t->ndim != 2) return gb_errorf(S, GB_ESHAPE, "eye: needs a 2-D tensor");
  gb_opargs b = *a;
  b.i[7] = t->shape[1] ? t->shape[1] : 1;
  return write_each(t, elem_eye, &b);
}

gb_status gb_cpu_uniform(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return write_each(out[0], out[0]->dtype == GB_F64 ? elem_uniform_d : elem_uniform, a);
}

gb_status gb_cpu_normal(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return write_each(out[0], out[0]->dtype == GB_F64 ? elem_normal_d : elem_normal, a);
}

/* copy: every (destination, source) dtype pair, strided on both sides; float64 -> float32
 * rounds to nearest (overflow gives inf, as PyTorch) */
#define COPY_ROW(OT, IT)                                                                           \
  {                                                                                                \
    OT *o = (OT *)p[0];                                                                            \
    const IT *x = (const IT *)p[1];                                                                \
    for (int64_t k = 0; k < n; k++)                                                                \
      o[k * s[0]] = (OT)x[k * s[1]];                                                               \
    return;                                                                                        \
  }

static void row_copy(int64_t n, char **p, const int64_t *s, const gb_opargs *a) {
  gb_dtype od = (gb_dtype)a->i[6], id = (gb_dtype)a->i[7];
  if (od == id && s[0] == 1 && s[1] == 1) {
    memmove(p[0], p[1], (size_t)n * gb_dtype_size(od));
    return;
  }
  switch (od * GB_NDTYPE + id) {
  case GB_F32 *GB_NDTYPE + GB_F32: COPY_ROW(float, float)
  case GB_F32 *GB_NDTYPE + GB_F64: COPY_ROW(float, double)
  case GB_F32 *GB_NDTYPE + GB_I32: COPY_ROW(float, int32_t)
  case GB_F32 *GB_NDTYPE + GB_I64: COPY_ROW(float, int64_t)
  case GB_F64 *GB_NDTYPE + GB_F32: COPY_ROW(double, float)
  case GB_F64 *GB_NDTYPE + GB_F64: COPY_ROW(double, double)
  case GB_F64 *GB_NDTYPE + GB_I32: COPY_ROW(double, int32_t)
  case GB_F64 *GB_NDTYPE + GB_I64: COPY_ROW(double, int64_t)
  case GB_I32 *GB_NDTYPE + GB_F32: COPY_ROW(int32_t, float)
  case GB_I32 *GB_NDTYPE + GB_F64: COPY_ROW(int32_t, double)
  case GB_I32 *GB_NDTYPE + GB_I32: COPY_ROW(int32_t, int32_t)
  case GB_I32 *GB_NDTYPE + GB_I64: COPY_ROW(int32_t, int64_t)
  case GB_I64 *GB_NDTYPE + GB_F32: COPY_ROW(int64_t, float)
  case GB_I64 *GB_NDTYPE + GB_F64: COPY_ROW(int64_t, double)
  case GB_I64 *GB_NDTYPE + GB_I32: COPY_ROW(int64_t, int32_t)
  default: COPY_ROW(int64_t, int64_t)
  }
}

/* float -> integer and int64 -> int32 refuse the first element the target cannot hold */
static gb_status check_convert(gb_state *S, const gb_tensor *x, gb_dtype od) {
  bool from_float = gb_dtype_is_float(x->dtype);
  bool narrowing = (from_float && !gb_dtype_is_float(od)) || (x->dtype == GB_I64 && od == GB_I32);
  for (int64_t i = 0; narrowing && i < x->numel; i++) {
    double v = from_float ? gb_tensor_get_flat(x, i) : (double)gb_tensor_get_flat_int(x, i);
    if (!gb_value_fits(od, v)) {
      char vb[32], sb[96];
      return gb_errorf(S, GB_EARG,
                       "copy: element %lld of the %s %s tensor is %s, which %s cannot hold",
                       (long long)i + 1, gb_shape_str(x, sb), gb_dtype_name(x->dtype),
                       gb_value_str(v, vb), gb_dtype_name(od));
    }
  }
  return GB_OK;
}

gb_status gb_cpu_copy(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_status st = check_convert(S, a->in[0], out[0]->dtype);
  if (st) return st;
  gb_opargs b = *a;
  b.i[6] = out[0]->dtype;
  b.i[7] = a->in[0]->dtype;
  gb_iter it;
  gb_iter_init(&it, out[0], 1, a->in);
  gb_iter_run(S, &it, row_copy, &b);
  return GB_OK;
}

void gb_cpu_randperm(gb_state *S, gb_tensor *t) {
  int64_t n = t->numel, *v = gb_tensor_data(t);
  uint64_t seed;
  gb_state_get_seed(S, &seed, NULL);
  uint64_t off = gb_rng_take(S, gb_philox_counters(n, false)); /* one word per element */
  for (int64_t i = 0; i < n; i++)
    v[i] = i + 1;
  for (int64_t i = n - 1; i > 0; i--) {
    gb_u32x4 w = gb_philox4x32(off + (uint64_t)(i >> 2), seed);
    int64_t j = (int64_t)(((uint64_t)w.v[i & 3] * (uint64_t)(i + 1)) >> 32);
    int64_t tmp = v[i];
    v[i] = v[j];
    v[j] = tmp;
  }
}
