/* gb_math.h — the elementwise rows in one place: each row's scalar formula as a GB_HD function
 * (gb_f_<row>), written once for both compilers (GB_HD is __host__ __device__ under nvcc,
 * static inline under a C compiler), and the lists of those rows that the CPU kernels
 * (cpu/gb_cpu_elementwise.c) and the CUDA kernels (gpu/gb_cuda_elementwise.cu) expand. So the
 * CPU tests exercise exactly the formula the CUDA kernels run. A new elementwise row: its
 * gb_ops.def line, its gb_f_ function and one entry in a list below. */
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

GB_HD float gb_f_sigmoid(float x) {
  /* two branches keep exp() from overflowing for large |x| */
  if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
  float e = expf(x);
  return e / (1.0f + e);
}
/* NaN stays NaN (as PyTorch's relu): a NaN in the data must not read as a clean 0 */
GB_HD float gb_f_relu(float x) {
  return (x > 0.0f || x != x) ? x : 0.0f;
}
GB_HD float gb_f_leaky_relu(float x, float slope) {
  return x > 0.0f ? x : x * slope;
}
/* e^x within ~2 ulp for x <= 88, written without branches so that CPU loops over it
 * vectorize (under -fno-trapping-math): x = k ln2 + r with |r| <= ln2/2 (ln2 in two parts),
 * e^r by its degree-7 Taylor polynomial, 2^k built in the exponent bits. x < -87 gives 0 (no
 * denormals), x > 88.72 gives inf, NaN stays NaN. */
GB_HD float gb_f_exp_fast(float x) {
  float xc = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x; /* NaN passes both tests */
  float kf = xc * 1.44269504f + 12582912.0f;              /* + 1.5 * 2^23 rounds to integer */
  int32_t kb;
  memcpy(&kb, &kf, sizeof kb);
  kf -= 12582912.0f;
  float r = xc - kf * 0.693359375f;
  r = r + kf * 2.12194440e-4f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t eb = (int32_t)(((uint32_t)(kb - 0x4B400000) + 127u) << 23);
  float scale;
  memcpy(&scale, &eb, sizeof scale);
  float y = p * scale;
  y = x < -87.0f ? 0.0f : y;
  return x > 88.72f ? INFINITY : y;
}
/* The standard normal CDF Phi(x) = erfc(-x/sqrt 2)/2, with erfc(z) for z >= 0 from Abramowitz
 * and Stegun 7.1.26 (|error| <= 1.5e-7) and the lower tail taken directly (no 1 - erf
 * cancellation); *gauss gets e^(-x^2/2), which GELU's gradient needs too. No branches. */
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
/* GELU (erf form, PyTorch's default): x Phi(x); its derivative Phi(x) + x phi(x) */
GB_HD float gb_f_gelu(float x) {
  float g;
  return x * gb_f_normal_cdf(x, &g);
}
GB_HD float gb_f_gelu_grad(float x) {
  float g, cdf = gb_f_normal_cdf(x, &g);
  return cdf + x * 0.39894228040143268f * g;
}
/* sign(NaN) = 0, as PyTorch 1.13's CPU sign */
GB_HD float gb_f_sign(float x) {
  return (float)((x > 0.0f) - (x < 0.0f));
}
/* clamp with NaN bounds meaning "no bound" */
GB_HD float gb_f_clamp(float x, float lo, float hi) {
  if (lo == lo && x < lo) x = lo;
  if (hi == hi && x > hi) x = hi;
  return x;
}
GB_HD float gb_f_sigmoid_backward(float g, float y) {
  return g * y * (1.0f - y);
}
GB_HD float gb_f_tanh_backward(float g, float y) {
  return g * (1.0f - y * y);
}
/* PyTorch's threshold_backward: the gradient passes unless x <= 0 (so it passes at NaN) */
GB_HD float gb_f_relu_backward(float g, float x) {
  return x <= 0.0f ? 0.0f : g;
}
GB_HD float gb_f_leaky_relu_backward(float g, float x, float slope) {
  return x > 0.0f ? g : g * slope;
}

/* ---- the rows: unary (x, f0, f1) and binary (x, y, f0, f1), f0/f1 the row's scalars ---------- */
GB_HD float gb_f_affine(float x, float f0, float f1) {
  return x * f0 + f1;
}
GB_HD float gb_f_rdiv_scalar(float x, float f0, float f1) {
  return f0 / x;
}
GB_HD float gb_f_pow_scalar(float x, float f0, float f1) {
  return powf(x, f0);
}
GB_HD float gb_f_rpow_scalar(float x, float f0, float f1) {
  return powf(f0, x);
}
GB_HD float gb_f_exp(float x, float f0, float f1) {
  return expf(x);
}
GB_HD float gb_f_log(float x, float f0, float f1) {
  return logf(x);
}
GB_HD float gb_f_sqrt(float x, float f0, float f1) {
  return sqrtf(x);
}
GB_HD float gb_f_abs(float x, float f0, float f1) {
  return fabsf(x);
}
GB_HD float gb_f_tanh(float x, float f0, float f1) {
  return tanhf(x);
}
GB_HD float gb_f_sign_row(float x, float f0, float f1) {
  return gb_f_sign(x);
}
GB_HD float gb_f_sigmoid_row(float x, float f0, float f1) {
  return gb_f_sigmoid(x);
}
GB_HD float gb_f_relu_row(float x, float f0, float f1) {
  return gb_f_relu(x);
}
GB_HD float gb_f_leaky_relu_row(float x, float f0, float f1) {
  return gb_f_leaky_relu(x, f0);
}
GB_HD float gb_f_gelu_row(float x, float f0, float f1) {
  return gb_f_gelu(x);
}
GB_HD float gb_f_clamp_row(float x, float f0, float f1) {
  return gb_f_clamp(x, f0, f1);
}

GB_HD float gb_f_add(float x, float y, float f0, float f1) {
  return x + y;
}
GB_HD float gb_f_sub(float x, float y, float f0, float f1) {
  return x - y;
}
GB_HD float gb_f_mul(float x, float y, float f0, float f1) {
  return x * y;
}
GB_HD float gb_f_div(float x, float y, float f0, float f1) {
  return x / y;
}
GB_HD float gb_f_pow(float x, float y, float f0, float f1) {
  return powf(x, y);
}
/* maximum/minimum propagate a NaN from either side, as torch.maximum */
GB_HD float gb_f_maximum(float x, float y, float f0, float f1) {
  return (x > y || x != x) ? x : y;
}
GB_HD float gb_f_minimum(float x, float y, float f0, float f1) {
  return (x < y || x != x) ? x : y;
}
GB_HD float gb_f_relu_backward_row(float g, float x, float f0, float f1) {
  return gb_f_relu_backward(g, x);
}
GB_HD float gb_f_leaky_relu_backward_row(float g, float x, float f0, float f1) {
  return gb_f_leaky_relu_backward(g, x, f0);
}
GB_HD float gb_f_sigmoid_backward_row(float g, float y, float f0, float f1) {
  return gb_f_sigmoid_backward(g, y);
}
GB_HD float gb_f_tanh_backward_row(float g, float y, float f0, float f1) {
  return gb_f_tanh_backward(g, y);
}
GB_HD float gb_f_gelu_backward_row(float g, float x, float f0, float f1) {
  return g * gb_f_gelu_grad(x);
}

/* ---- issue 15's rows (sin .. masked_fill): formulas as PyTorch's float32 kernels ---------- */
GB_HD float gb_f_sin(float x, float f0, float f1) {
  return sinf(x);
}
GB_HD float gb_f_cos(float x, float f0, float f1) {
  return cosf(x);
}
GB_HD float gb_f_erf(float x, float f0, float f1) {
  return erff(x);
}
GB_HD float gb_f_log1p(float x, float f0, float f1) {
  return log1pf(x);
}
GB_HD float gb_f_floor(float x, float f0, float f1) {
  return floorf(x);
}
/* halves to even (torch.round): rintf in the default rounding mode */
GB_HD float gb_f_round(float x, float f0, float f1) {
  return rintf(x);
}
GB_HD float gb_f_silu(float x, float f0, float f1) {
  return x * gb_f_sigmoid(x);
}
/* d silu = s (1 + x (1 - s)), s = sigmoid(x) */
GB_HD float gb_f_silu_backward(float g, float x, float f0, float f1) {
  float s = gb_f_sigmoid(x);
  return g * s * (1.0f + x * (1.0f - s));
}
/* f0 alpha; expm1 keeps the digits of small negative x */
GB_HD float gb_f_elu(float x, float f0, float f1) {
  return x > 0.0f ? x : f0 * expm1f(x);
}
/* PyTorch's elu_backward tests x <= 0, so the gradient passes unchanged at NaN */
GB_HD float gb_f_elu_backward(float g, float x, float f0, float f1) {
  return x <= 0.0f ? g * f0 * expf(x) : g;
}
/* f0 beta, f1 threshold: linear where beta x > threshold */
GB_HD float gb_f_softplus(float x, float f0, float f1) {
  float bx = x * f0;
  return bx > f1 ? x : log1pf(expf(bx)) / f0;
}
/* the derivative sigmoid(beta x), written so large beta x cannot make inf / inf */
GB_HD float gb_f_softplus_backward(float g, float x, float f0, float f1) {
  float bx = x * f0;
  return bx > f1 ? g : g * gb_f_sigmoid(bx);
}
/* (x, mask) -> f0 where mask != 0 (a NaN mask counts as true, as bool(nan)), else x */
GB_HD float gb_f_masked_fill(float x, float m, float f0, float f1) {
  return m != 0.0f ? f0 : x;
}

/* Element i of linspace(start, end, n) in float32 arithmetic, the first half stepped from
 * start and the rest from end, as PyTorch's kernel (both ends exact; the same bits). */
GB_HD float gb_linspace_at(float start, float end, int64_t n, int64_t i) {
  if (n <= 1) return start;
  float step = (end - start) / (float)(n - 1);
  return i < n / 2 ? start + step * (float)i : end - step * (float)(n - 1 - i);
}

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
