/* gb_math.h — the scalar formulas of the elementwise rows, written once for both compilers:
 * GB_HD is __host__ __device__ under nvcc and nothing under a C compiler, so the CPU tests
 * exercise exactly the formula the CUDA kernels run. */
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

#endif
