/* gb_math.h — the elementwise rows in one place: each row's scalar formula as a GB_HD function,
 * written once for both compilers (GB_HD is __host__ __device__ under nvcc, static inline
 * under a C compiler) and for both float dtypes: GB_MATH_FORMULAS below is expanded for float
 * (gb_f_<row>, libm's expf...) and for double (gb_d_<row>, exp...), so each formula has one
 * place. The lists of rows at the end are what the CPU kernels (cpu/gb_cpu_elementwise.c) and
 * the CUDA kernels (gpu/gb_cuda_elementwise.cu) expand, so the CPU tests exercise exactly the
 * formula the CUDA kernels run. A new elementwise row: its gb_ops.def line, its formula in
 * GB_MATH_FORMULAS and one entry in a list below. */
#ifndef GB_MATH_H
#define GB_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define GB_HD __host__ __device__ __forceinline__
#else
#define GB_HD static inline
#endif

/* x = k ln2 + r for x clamped to [-87, 88] (ln2 in two parts, k rounded to nearest, so
 * |r| <= ln2/2): returns r and sets *scale = 2^k, built in the exponent bits (no branches). */
GB_HD float gb_f_exp_reduce(float x, float *scale) {
  float xc = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x; /* NaN passes both tests */
  float kf = xc * 1.44269504f + 12582912.0f;              /* + 1.5 * 2^23 rounds to integer */
  int32_t kb;
  memcpy(&kb, &kf, sizeof kb);
  kf -= 12582912.0f;
  float r = xc - kf * 0.693359375f;
  r = r + kf * 2.12194440e-4f;
  int32_t eb = (int32_t)(((uint32_t)(kb - 0x4B400000) + 127u) << 23);
  memcpy(scale, &eb, sizeof *scale);
  return r;
}
/* The Taylor polynomial of e^r - 1 by Horner's rule from its r^7 term on, lead being the
 * coefficient so far (1/5040, or 1/5040 + r/40320 for one term more). */
GB_HD float gb_f_expm1_poly(float lead, float r) {
  float p = lead;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  return p * r;
}
/* e^x within ~2 ulp for x <= 88, written without branches so that CPU loops over it
 * vectorize (under -fno-trapping-math): e^r by its degree-7 Taylor polynomial times 2^k
 * (gb_f_exp_reduce). x < -87 gives 0 (no denormals), x > 88.72 gives inf, NaN stays NaN. */
GB_HD float gb_f_exp_fast(float x) {
  float scale, r = gb_f_exp_reduce(x, &scale);
  float y = (gb_f_expm1_poly(1.0f / 5040.0f, r) + 1.0f) * scale;
  y = x < -87.0f ? 0.0f : y;
  return x > 88.72f ? INFINITY : y;
}
/* e^x - 1 within a few ulp, relative, also near 0 (where e^x - 1 would cancel), branch-free
 * like gb_f_exp_fast: 2^k (e^r - 1) + (2^k - 1), e^r - 1 by its degree-8 Taylor polynomial.
 * x < -87 gives -1, x > 88.72 inf, NaN stays NaN. */
GB_HD float gb_f_expm1_fast(float x) {
  float scale, r = gb_f_exp_reduce(x, &scale);
  float p = gb_f_expm1_poly(r * (1.0f / 40320.0f) + 1.0f / 5040.0f, r);
  float y = scale * p + (scale - 1.0f);
  y = x < -87.0f ? -1.0f : y;
  return x > 88.72f ? INFINITY : y;
}
/* tanh and the logistic sigmoid within a few ulp (relative) on every float, branch-free for
 * the recurrent cells (gb_rnn_math.h) that run them on every gate of every step: tanh|x| =
 * -m / (2 + m) with m = e^(-2|x|) - 1 in (-1, 0], so no cancellation near 0; the sign from x.
 * Measured: at most 2.6 ulp (tanh) and 2.5 ulp (sigmoid, x > -87; below, some value under
 * 1e-37) against double over every float in [-100, 100]. NaN stays NaN in both. */
GB_HD float gb_f_tanh_fast(float x) {
  float m = gb_f_expm1_fast(-2.0f * fabsf(x));
  return copysignf(-m / (2.0f + m), x);
}
GB_HD float gb_f_sigmoid_fast(float x) {
  return 1.0f / (1.0f + gb_f_exp_fast(-x));
}
/* The standard normal CDF Phi(x) = erfc(-x/sqrt 2)/2. float: erfc(z) for z >= 0 from
 * Abramowitz and Stegun 7.1.26 (|error| <= 1.5e-7) with the lower tail taken directly (no
 * 1 - erf cancellation), no branches; double: erf. *gauss gets e^(-x^2/2), which GELU's
 * gradient needs too. */
GB_HD float gb_f_normal_cdf(float x, float *gauss) {
  float z = (x < 0.0f ? -x : x) * 0.70710678118654752f;
  float t = 1.0f / (1.0f + 0.3275911f * z);
  float poly = 1.061405429f;
  poly = poly * t - 1.453152027f;
  poly = poly * t + 1.421413741f;
  poly = poly * t - 0.284496736f;
  poly = poly * t + 0.254829592f;
  float g = gb_f_exp_fast(-0.5f * x * x);
  float half_erfc = 0.5f * poly * t * g;
  *gauss = g;
  return x < 0.0f ? half_erfc : 1.0f - half_erfc;
}
GB_HD double gb_d_normal_cdf(double x, double *gauss) {
  *gauss = exp(-0.5 * x * x);
  return 0.5 * (1.0 + erf(x * 0.70710678118654752));
}

/* GB_MATH_FORMULAS(T, P, M): the formulas over the type T, each named P<row> (P is gb_f_ or
 * gb_d_; grep "##<row>(" to find one), with M(exp) the libm function for T. Constants are
 * written (T)c, so the float expansion computes exactly what float literals did. */
#define GB_MATH_FORMULAS(T, P, M)                                                                  \
  GB_HD T P##sigmoid(T x) {                                                                        \
    /* two branches keep exp() from overflowing for large |x| */                                   \
    if (x >= (T)0.0) return (T)1.0 / ((T)1.0 + M(exp)(-x));                                        \
    T e = M(exp)(x);                                                                               \
    return e / ((T)1.0 + e);                                                                       \
  }                                                                                                \
  /* NaN stays NaN (as PyTorch's relu): a NaN in the data must not read as a clean 0 */            \
  GB_HD T P##relu(T x) {                                                                           \
    return (x > (T)0.0 || x != x) ? x : (T)0.0;                                                    \
  }                                                                                                \
  GB_HD T P##leaky_relu(T x, T slope) {                                                            \
    return x > (T)0.0 ? x : x * slope;                                                             \
  }                                                                                                \
  /* GELU (erf form, PyTorch's default): x Phi(x) and its derivative Phi(x) + x phi(x), via        \
   * P##normal_cdf (float: branch-free, so CPU loops vectorize; double: erf) */                    \
  GB_HD T P##gelu(T x) {                                                                           \
    T g;                                                                                           \
    return x * P##normal_cdf(x, &g);                                                               \
  }                                                                                                \
  GB_HD T P##gelu_grad(T x) {                                                                      \
    T g, cdf = P##normal_cdf(x, &g);                                                               \
    return cdf + x * (T)0.39894228040143268 * g;                                                   \
  }                                                                                                \
  /* sign(NaN) = 0, as PyTorch 1.13's CPU sign */                                                  \
  GB_HD T P##sign(T x) {                                                                           \
    return (T)((x > (T)0.0) - (x < (T)0.0));                                                       \
  }                                                                                                \
  /* clamp with NaN bounds meaning "no bound" */                                                   \
  GB_HD T P##clamp(T x, T lo, T hi) {                                                              \
    if (lo == lo && x < lo) x = lo;                                                                \
    if (hi == hi && x > hi) x = hi;                                                                \
    return x;                                                                                      \
  }                                                                                                \
  GB_HD T P##sigmoid_backward(T g, T y) {                                                          \
    return g * y * ((T)1.0 - y);                                                                   \
  }                                                                                                \
  GB_HD T P##tanh_backward(T g, T y) {                                                             \
    return g * ((T)1.0 - y * y);                                                                   \
  }                                                                                                \
  /* PyTorch's threshold_backward: the gradient passes unless x <= 0 (so it passes at NaN) */      \
  GB_HD T P##relu_backward(T g, T x) {                                                             \
    return x <= (T)0.0 ? (T)0.0 : g;                                                               \
  }                                                                                                \
  GB_HD T P##leaky_relu_backward(T g, T x, T slope) {                                              \
    return x > (T)0.0 ? g : g * slope;                                                             \
  }                                                                                                \
                                                                                                   \
  /* ---- the rows: unary (x, f0, f1) and binary (x, y, f0, f1), f0/f1 the row's scalars           \
   * ---------- */                                                                                 \
  GB_HD T P##affine(T x, T f0, T f1) {                                                             \
    return x * f0 + f1;                                                                            \
  }                                                                                                \
  GB_HD T P##rdiv_scalar(T x, T f0, T f1) {                                                        \
    return f0 / x;                                                                                 \
  }                                                                                                \
  GB_HD T P##pow_scalar(T x, T f0, T f1) {                                                         \
    return M(pow)(x, f0);                                                                          \
  }                                                                                                \
  GB_HD T P##rpow_scalar(T x, T f0, T f1) {                                                        \
    return M(pow)(f0, x);                                                                          \
  }                                                                                                \
  GB_HD T P##exp(T x, T f0, T f1) {                                                                \
    return M(exp)(x);                                                                              \
  }                                                                                                \
  GB_HD T P##log(T x, T f0, T f1) {                                                                \
    return M(log)(x);                                                                              \
  }                                                                                                \
  GB_HD T P##sqrt(T x, T f0, T f1) {                                                               \
    return M(sqrt)(x);                                                                             \
  }                                                                                                \
  GB_HD T P##abs(T x, T f0, T f1) {                                                                \
    return M(fabs)(x);                                                                             \
  }                                                                                                \
  GB_HD T P##tanh(T x, T f0, T f1) {                                                               \
    return M(tanh)(x);                                                                             \
  }                                                                                                \
  GB_HD T P##sign_row(T x, T f0, T f1) {                                                           \
    return P##sign(x);                                                                             \
  }                                                                                                \
  GB_HD T P##sigmoid_row(T x, T f0, T f1) {                                                        \
    return P##sigmoid(x);                                                                          \
  }                                                                                                \
  GB_HD T P##relu_row(T x, T f0, T f1) {                                                           \
    return P##relu(x);                                                                             \
  }                                                                                                \
  GB_HD T P##leaky_relu_row(T x, T f0, T f1) {                                                     \
    return P##leaky_relu(x, f0);                                                                   \
  }                                                                                                \
  GB_HD T P##gelu_row(T x, T f0, T f1) {                                                           \
    return P##gelu(x);                                                                             \
  }                                                                                                \
  GB_HD T P##clamp_row(T x, T f0, T f1) {                                                          \
    return P##clamp(x, f0, f1);                                                                    \
  }                                                                                                \
                                                                                                   \
  GB_HD T P##add(T x, T y, T f0, T f1) {                                                           \
    return x + y;                                                                                  \
  }                                                                                                \
  GB_HD T P##sub(T x, T y, T f0, T f1) {                                                           \
    return x - y;                                                                                  \
  }                                                                                                \
  GB_HD T P##mul(T x, T y, T f0, T f1) {                                                           \
    return x * y;                                                                                  \
  }                                                                                                \
  GB_HD T P##div(T x, T y, T f0, T f1) {                                                           \
    return x / y;                                                                                  \
  }                                                                                                \
  GB_HD T P##pow(T x, T y, T f0, T f1) {                                                           \
    return M(pow)(x, y);                                                                           \
  }                                                                                                \
  /* maximum/minimum propagate a NaN from either side, as torch.maximum */                         \
  GB_HD T P##maximum(T x, T y, T f0, T f1) {                                                       \
    return (x > y || x != x) ? x : y;                                                              \
  }                                                                                                \
  GB_HD T P##minimum(T x, T y, T f0, T f1) {                                                       \
    return (x < y || x != x) ? x : y;                                                              \
  }                                                                                                \
  GB_HD T P##relu_backward_row(T g, T x, T f0, T f1) {                                             \
    return P##relu_backward(g, x);                                                                 \
  }                                                                                                \
  GB_HD T P##leaky_relu_backward_row(T g, T x, T f0, T f1) {                                       \
    return P##leaky_relu_backward(g, x, f0);                                                       \
  }                                                                                                \
  GB_HD T P##sigmoid_backward_row(T g, T y, T f0, T f1) {                                          \
    return P##sigmoid_backward(g, y);                                                              \
  }                                                                                                \
  GB_HD T P##tanh_backward_row(T g, T y, T f0, T f1) {                                             \
    return P##tanh_backward(g, y);                                                                 \
  }                                                                                                \
  GB_HD T P##gelu_backward_row(T g, T x, T f0, T f1) {                                             \
    return g * P##gelu_grad(x);                                                                    \
  }                                                                                                \
                                                                                                   \
  /* ---- issue 15's rows (sin .. masked_fill): formulas as PyTorch's float32 kernels ----------   \
   */                                                                                              \
  GB_HD T P##sin(T x, T f0, T f1) {                                                                \
    return M(sin)(x);                                                                              \
  }                                                                                                \
  GB_HD T P##cos(T x, T f0, T f1) {                                                                \
    return M(cos)(x);                                                                              \
  }                                                                                                \
  GB_HD T P##erf(T x, T f0, T f1) {                                                                \
    return M(erf)(x);                                                                              \
  }                                                                                                \
  GB_HD T P##log1p(T x, T f0, T f1) {                                                              \
    return M(log1p)(x);                                                                            \
  }                                                                                                \
  GB_HD T P##floor(T x, T f0, T f1) {                                                              \
    return M(floor)(x);                                                                            \
  }                                                                                                \
  /* halves to even (torch.round): rintf in the default rounding mode */                           \
  GB_HD T P##round(T x, T f0, T f1) {                                                              \
    return M(rint)(x);                                                                             \
  }                                                                                                \
  GB_HD T P##silu(T x, T f0, T f1) {                                                               \
    return x * P##sigmoid(x);                                                                      \
  }                                                                                                \
  /* d silu = s (1 + x (1 - s)), s = sigmoid(x) */                                                 \
  GB_HD T P##silu_backward(T g, T x, T f0, T f1) {                                                 \
    T s = P##sigmoid(x);                                                                           \
    return g * s * ((T)1.0 + x * ((T)1.0 - s));                                                    \
  }                                                                                                \
  /* f0 alpha; expm1 keeps the digits of small negative x */                                       \
  GB_HD T P##elu(T x, T f0, T f1) {                                                                \
    return x > (T)0.0 ? x : f0 * M(expm1)(x);                                                      \
  }                                                                                                \
  /* PyTorch's elu_backward tests x <= 0, so the gradient passes unchanged at NaN */               \
  GB_HD T P##elu_backward(T g, T x, T f0, T f1) {                                                  \
    return x <= (T)0.0 ? g * f0 * M(exp)(x) : g;                                                   \
  }                                                                                                \
  /* f0 beta, f1 threshold: linear where beta x > threshold */                                     \
  GB_HD T P##softplus(T x, T f0, T f1) {                                                           \
    T bx = x * f0;                                                                                 \
    return bx > f1 ? x : M(log1p)(M(exp)(bx)) / f0;                                                \
  }                                                                                                \
  /* the derivative sigmoid(beta x), written so large beta x cannot make inf / inf */              \
  GB_HD T P##softplus_backward(T g, T x, T f0, T f1) {                                             \
    T bx = x * f0;                                                                                 \
    return bx > f1 ? g : g * P##sigmoid(bx);                                                       \
  }                                                                                                \
  /* (x, mask) -> f0 where mask != 0 (a NaN mask counts as true, as bool(nan)), else x */          \
  GB_HD T P##masked_fill(T x, T m, T f0, T f1) {                                                   \
    return m != (T)0.0 ? f0 : x;                                                                   \
  }                                                                                                \
                                                                                                   \
  /* Element i of linspace(start, end, n) in T arithmetic, the first half stepped from             \
   * start and the rest from end, as PyTorch's kernel (both ends exact; the same bits). */         \
  GB_HD T P##linspace_at(T start, T end, int64_t n, int64_t i) {                                   \
    if (n <= 1) return start;                                                                      \
    T step = (end - start) / (T)(n - 1);                                                           \
    return i < n / 2 ? start + step * (T)i : end - step * (T)(n - 1 - i);                          \
  }                                                                                                \
  /* end of GB_MATH_FORMULAS */

#define GB_MATH_FLOAT_FN(fn) fn##f
#define GB_MATH_DOUBLE_FN(fn) fn
GB_MATH_FORMULAS(float, gb_f_, GB_MATH_FLOAT_FN)
GB_MATH_FORMULAS(double, gb_d_, GB_MATH_DOUBLE_FN)

/* X(row, formula): the kernels gb_cpu_<row> / gb_cuda_<row> apply gb_f_<formula>. */
#define GB_UNARY_ROWS(X)                                                                           \
  X(affine, affine)                                                                                \
  X(rdiv_scalar, rdiv_scalar)                                                                      \
  X(pow_scalar, pow_scalar)                                                                        \
  X(rpow_scalar, rpow_scalar)                                                                      \
  X(exp, exp)                                                                                      \
  X(log, log)                                                                                      \
  X(sqrt, sqrt)                                                                                    \
  X(abs, abs)                                                                                      \
  X(sign, sign_row)                                                                                \
  X(tanh, tanh)                                                                                    \
  X(sigmoid, sigmoid_row)                                                                          \
  X(relu, relu_row)                                                                                \
  X(leaky_relu, leaky_relu_row)                                                                    \
  X(gelu, gelu_row)                                                                                \
  X(clamp, clamp_row)                                                                              \
  X(sin, sin)                                                                                      \
  X(cos, cos)                                                                                      \
  X(erf, erf)                                                                                      \
  X(log1p, log1p)                                                                                  \
  X(floor, floor)                                                                                  \
  X(round, round)                                                                                  \
  X(silu, silu)                                                                                    \
  X(elu, elu)                                                                                      \
  X(softplus, softplus)
#define GB_BINARY_ROWS(X)                                                                          \
  X(add, add)                                                                                      \
  X(sub, sub)                                                                                      \
  X(mul, mul)                                                                                      \
  X(div, div)                                                                                      \
  X(pow, pow)                                                                                      \
  X(maximum, maximum)                                                                              \
  X(minimum, minimum)                                                                              \
  X(relu_backward, relu_backward_row)                                                              \
  X(leaky_relu_backward, leaky_relu_backward_row)                                                  \
  X(sigmoid_backward, sigmoid_backward_row)                                                        \
  X(tanh_backward, tanh_backward_row)                                                              \
  X(gelu_backward, gelu_backward_row)                                                              \
  X(silu_backward, silu_backward)                                                                  \
  X(elu_backward, elu_backward)                                                                    \
  X(softplus_backward, softplus_backward)                                                          \
  X(masked_fill, masked_fill)

#endif
