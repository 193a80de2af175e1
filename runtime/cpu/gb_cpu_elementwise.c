/* gb_cpu_elementwise.c — CPU kernels of the elementwise rows: unary maths, broadcasting
 * binary maths and derivative helpers, comparisons and where. The rows and their formulas come
 * from gb_math.h's lists (shared with CUDA); the loops here only walk (pointer, stride) rows. */
#include "gb_cpu.h"
#include "gb_math.h"

static gb_status run_rows(gb_state *S, gb_tensor **out, int nin, const gb_opargs *a,
                          gb_row_fn row) {
  gb_iter it;
  gb_iter_init(&it, out[0], nin, a->in);
  gb_iter_run(S, &it, row, a);
  return GB_OK;
}

/* Unary: `x` is the input element, f0/f1 the row's scalar parameters, all of type T (float or
 * double: each row has both, from gb_math.h's gb_f_/gb_d_ formulas). The contiguous loop is
 * written separately so the compiler vectorizes it. */
#define GB_UNARY_ROW(row, T, EXPR)                                                                 \
  GB_CPU_CLONES static void row(int64_t n, char **p, const int64_t *s, const gb_opargs *a) {       \
    T *o = (T *)p[0];                                                                              \
    const T *in = (const T *)p[1];                                                                 \
    const T f0 = (T)a->f[0], f1 = (T)a->f[1];                                                      \
    (void)f0, (void)f1;                                                                            \
    if (s[0] == 1 && s[1] == 1) {                                                                  \
      for (int64_t k = 0; k < n; k++) {                                                            \
        T x = in[k];                                                                               \
        o[k] = (EXPR);                                                                             \
      }                                                                                            \
    } else {                                                                                       \
      for (int64_t k = 0; k < n; k++) {                                                            \
        T x = in[k * s[1]];                                                                        \
        o[k * s[0]] = (EXPR);                                                                      \
      }                                                                                            \
    }                                                                                              \
  }

/* The row's kernel: the output's dtype (the shape rule made it the input's) picks the loop. */
#define GB_CPU_UNARY(row, f)                                                                       \
  GB_UNARY_ROW(row_##row, float, gb_f_##f(x, f0, f1))                                              \
  GB_UNARY_ROW(row_##row##_d, double, gb_d_##f(x, f0, f1))                                         \
  gb_status gb_cpu_##row(gb_state *S, const gb_opargs *a, gb_tensor **out) {                       \
    return run_rows(S, out, 1, a, out[0]->dtype == GB_F64 ? row_##row##_d : row_##row);            \
  }
GB_UNARY_ROWS(GB_CPU_UNARY)
#undef GB_CPU_UNARY

/* Binary with broadcasting: `x`, `y` are the input elements (both of type T). */
#define GB_BINARY_ROW(row, T, EXPR)                                                                \
  GB_CPU_CLONES static void row(int64_t n, char **p, const int64_t *s, const gb_opargs *a) {       \
    T *o = (T *)p[0];                                                                              \
    const T *xs = (const T *)p[1], *ys = (const T *)p[2];                                          \
    const T f0 = (T)a->f[0], f1 = (T)a->f[1];                                                      \
    (void)f0, (void)f1;                                                                            \
    if (s[0] == 1 && s[1] == 1 && s[2] == 1) {                                                     \
      for (int64_t k = 0; k < n; k++) {                                                            \
        T x = xs[k], y = ys[k];                                                                    \
        o[k] = (EXPR);                                                                             \
      }                                                                                            \
    } else if (s[0] == 1 && s[1] == 1 && s[2] == 0) {                                              \
      const T y = ys[0];                                                                           \
      for (int64_t k = 0; k < n; k++) {                                                            \
        T x = xs[k];                                                                               \
        o[k] = (EXPR);                                                                             \
      }                                                                                            \
    } else {                                                                                       \
      for (int64_t k = 0; k < n; k++) {                                                            \
        T x = xs[k * s[1]], y = ys[k * s[2]];                                                      \
        o[k * s[0]] = (EXPR);                                                                      \
      }                                                                                            \
    }                                                                                              \
  }

#define GB_CPU_BINARY(row, f)                                                                      \
  GB_BINARY_ROW(row_##row, float, gb_f_##f(x, y, f0, f1))                                          \
  GB_BINARY_ROW(row_##row##_d, double, gb_d_##f(x, y, f0, f1))                                     \
  gb_status gb_cpu_##row(gb_state *S, const gb_opargs *a, gb_tensor **out) {                       \
    return run_rows(S, out, 2, a, out[0]->dtype == GB_F64 ? row_##row##_d : row_##row);            \
  }
GB_BINARY_ROWS(GB_CPU_BINARY)
#undef GB_CPU_BINARY

/* Comparisons read either dtype (both inputs share it) and write float32 0/1. */
#define GB_COMPARE(kernel, row, OP)                                                                \
  GB_CPU_CLONES static void row(int64_t n, char **p, const int64_t *s, const gb_opargs *a) {       \
    float *o = (float *)p[0];                                                                      \
    switch (a->in[0]->dtype) {                                                                     \
    case GB_F32: {                                                                                 \
      const float *x = (const float *)p[1], *y = (const float *)p[2];                              \
      for (int64_t k = 0; k < n; k++)                                                              \
        o[k * s[0]] = (float)(x[k * s[1]] OP y[k * s[2]]);                                         \
      break;                                                                                       \
    }                                                                                              \
    case GB_I32: {                                                                                 \
      const int32_t *x = (const int32_t *)p[1], *y = (const int32_t *)p[2];                        \
      for (int64_t k = 0; k < n; k++)                                                              \
        o[k * s[0]] = (float)(x[k * s[1]] OP y[k * s[2]]);                                         \
      break;                                                                                       \
    }                                                                                              \
    case GB_F64: {                                                                                 \
      const double *x = (const double *)p[1], *y = (const double *)p[2];                           \
      for (int64_t k = 0; k < n; k++)                                                              \
        o[k * s[0]] = (float)(x[k * s[1]] OP y[k * s[2]]);                                         \
      break;                                                                                       \
    }                                                                                              \
    case GB_I64:                                                                                   \
    case GB_NDTYPE: {                                                                              \
      const int64_t *x = (const int64_t *)p[1], *y = (const int64_t *)p[2];                        \
      for (int64_t k = 0; k < n; k++)                                                              \
        o[k * s[0]] = (float)(x[k * s[1]] OP y[k * s[2]]);                                         \
      break;                                                                                       \
    }                                                                                              \
    }                                                                                              \
  }                                                                                                \
  gb_status kernel(gb_state *S, const gb_opargs *a, gb_tensor **out) {                             \
    return run_rows(S, out, 2, a, row);                                                            \
  }

GB_COMPARE(gb_cpu_eq, row_eq, ==)
GB_COMPARE(gb_cpu_ne, row_ne, !=)
GB_COMPARE(gb_cpu_lt, row_lt, <)
GB_COMPARE(gb_cpu_le, row_le, <=)
GB_COMPARE(gb_cpu_gt, row_gt, >)
GB_COMPARE(gb_cpu_ge, row_ge, >=)

/* where: the condition is float32 0/1 (the bindings convert it); x, y and the output share
 * the output's dtype */
static void row_where(int64_t n, char **p, const int64_t *s, const gb_opargs *a) {
  float *o = (float *)p[0];
  const float *c = (const float *)p[1], *x = (const float *)p[2], *y = (const float *)p[3];
  for (int64_t k = 0; k < n; k++)
    o[k * s[0]] = c[k * s[1]] != 0.0f ? x[k * s[2]] : y[k * s[3]];
}

static void row_where_d(int64_t n, char **p, const int64_t *s, const gb_opargs *a) {
  double *o = (double *)p[0];
  const float *c = (const float *)p[1];
  const double *x = (const double *)p[2], *y = (const double *)p[3];
  for (int64_t k = 0; k < n; k++)
    o[k * s[0]] = c[k * s[1]] != 0.0f ? x[k * s[2]] : y[k * s[3]];
}

gb_status gb_cpu_where(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return run_rows(S, out, 3, a, out[0]->dtype == GB_F64 ? row_where_d : row_where);
}
