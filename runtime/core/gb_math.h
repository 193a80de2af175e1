/* gb_math.h — the elementwise rows in one place: each row's scalar formula as a GB_HD function
 * (gb_f_<row>), written once for both compilers (GB_HD is __host__ __device__ under nvcc,
 * static inline under a C compiler), and the lists of those rows that the CPU kernels
 * (cpu/gb_cpu_elementwise.c) and the CUDA kernels (gpu/gb_cuda_elementwise.cu) expand. So the
 * CPU tests exercise exactly the formula the CUDA kernels run. A new elementwise row: its
 * gb_ops.def line, its gb_f_ function and one entry in a list below. */
#ifndef GB_MATH_H
#define GB_MATH_H

#include <math.h>

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
/* exact GELU (erf form), as PyTorch's default */
GB_HD float gb_f_gelu(float x) {
  return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}
GB_HD float gb_f_gelu_grad(float x) {
  float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
  float pdf = 0.39894228040143268f * expf(-0.5f * x * x);
  return cdf + x * pdf;
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

/* ---- the rows: unary (x, f0, f1) and binary (x, y, f0), f0/f1 the row's scalars ---------- */
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

GB_HD float gb_f_add(float x, float y, float f0) {
  return x + y;
}
GB_HD float gb_f_sub(float x, float y, float f0) {
  return x - y;
}
GB_HD float gb_f_mul(float x, float y, float f0) {
  return x * y;
}
GB_HD float gb_f_div(float x, float y, float f0) {
  return x / y;
}
GB_HD float gb_f_pow(float x, float y, float f0) {
  return powf(x, y);
}
/* maximum/minimum propagate a NaN from either side, as torch.maximum */
GB_HD float gb_f_maximum(float x, float y, float f0) {
  return (x > y || x != x) ? x : y;
}
GB_HD float gb_f_minimum(float x, float y, float f0) {
  return (x < y || x != x) ? x : y;
}
GB_HD float gb_f_relu_backward_row(float g, float x, float f0) {
  return gb_f_relu_backward(g, x);
}
GB_HD float gb_f_leaky_relu_backward_row(float g, float x, float f0) {
  return gb_f_leaky_relu_backward(g, x, f0);
}
GB_HD float gb_f_sigmoid_backward_row(float g, float y, float f0) {
  return gb_f_sigmoid_backward(g, y);
}
GB_HD float gb_f_tanh_backward_row(float g, float y, float f0) {
  return gb_f_tanh_backward(g, y);
}
GB_HD float gb_f_gelu_backward_row(float g, float x, float f0) {
  return g * gb_f_gelu_grad(x);
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
  X(clamp, clamp_row)
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
  X(gelu_backward, gelu_backward_row)

#endif
