/* gb_cuda_linalg.cu — matrix products through cuBLAS (sgemm, sgemmStridedBatched; dgemm and
 * dgemmStridedBatched for float64). cuBLAS is
 * column-major: a row-major (r,c) matrix with row stride ld reads as its (c,r) transpose, so
 * C = A x B is computed as C^T = B^T x A^T with the operands swapped. Transposed views are
 * passed as transpose flags, never copied; only layouts cuBLAS cannot express are made
 * contiguous. TF32 stays off unless gb_cuda_set_tf32 turns it on. */
#include <limits.h>
#include <string.h>

#include "gb_cuda_impl.h"

typedef gb_mat_layout mat; /* shared with the CPU: runtime/core/gb_layout.h */

/* True when the batch dims [0, nb) of t step through memory with one stride (size-1 dims
 * aside), so the whole batch is one strided-batched call. */
static bool one_stride(const gb_tensor *t, int nb) {
  int64_t want = -1;
  for (int d = nb - 1; d >= 0; d--) {
    if (t->shape[d] == 1) continue;
    if (want >= 0 && t->stride[d] != want) return false;
    want = t->stride[d] * t->shape[d];
  }
  return true;
}

/* The stride of the innermost batch dim of size > 1 among [0, nb) (0 when none). */
static long long batch_stride(const gb_tensor *t, int nb) {
  for (int d = nb - 1; d >= 0; d--)
    if (t->shape[d] != 1) return t->stride[d];
  return 0;
}

/* Offsets of batch item b in x and y (0 for a y shared by the batch), row-major over x's
 * leading dims with each operand's strides. */
static void batch_offsets(const gb_tensor *x, const gb_tensor *y, long long b, long long *xo,
                          long long *yo) {
  *xo = 0, *yo = 0;
  for (int d = x->ndim - 3; d >= 0; d--) {
    long long i = b % x->shape[d];
    b /= x->shape[d];
    *xo += i * x->stride[d];
    if (y->ndim > 2) *yo += i * y->stride[d];
  }
}

/* out = alpha * x @ y + beta * out (out contiguous), batched over x's leading dims; float64
 * operands go through the cuBLAS d-calls with double alpha/beta. */
static gb_status gemm(gb_state *S, gb_tensor *x, gb_tensor *y, gb_tensor *out, double alpha_d,
                      double beta_d) {
  const bool dbl = out->dtype == GB_F64;
  float alpha = (float)alpha_d, beta = (float)beta_d;
  gb_cuda_dev *c;
  gb_device dev = out->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  cublasHandle_t h;
  if ((st = gb_cuda_blas(S, dev, c, &h))) return st;
  gb_tensor *xu, *yu;
  mat mx, my;
  if ((st = gb_blas_operand(S, x, gb_tensor_contiguous, &xu, &mx))) return st;
  if ((st = gb_blas_operand(S, y, gb_tensor_contiguous, &yu, &my))) {
    gb_tensor_release(S, xu);
    return st;
  }
  int nd = xu->ndim;
  /* m, k, n fit in int: gb_blas_operand refuses larger matrices */
  int m = (int)xu->shape[nd - 2], k = (int)xu->shape[nd - 1], n = (int)yu->shape[yu->ndim - 1];
  int nb = nd - 2;
  long long batch = 1;
  for (int d = 0; d < nb; d++)
    batch *= xu->shape[d];
  /* one call for the whole batch when each operand's batch dims collapse to one stride, else
   * one call per item of the leading dims over the innermost batch dim */
  bool flat = one_stride(xu, nb) && (yu->ndim == 2 || one_stride(yu, nb));
  long long inner = flat || nb == 0 ? batch : xu->shape[nd - 3];
  if (inner > INT_MAX) {
    gb_tensor_release(S, xu);
    gb_tensor_release(S, yu);
    return gb_errorf(S, GB_ESHAPE, "matmul: a batch of %lld on cuda: above %d is not supported",
                     batch, INT_MAX);
  }
  long long xb = flat ? batch_stride(xu, nb) : (nb ? xu->stride[nd - 3] : 0);
  long long yb = yu->ndim == 2 ? 0 : flat ? batch_stride(yu, nb) : yu->stride[nd - 3];
  cublasStatus_t bs = CUBLAS_STATUS_SUCCESS;
  if (k == 0 && beta_d != 1.0 && out->numel > 0) {
    /* an empty inner dimension: out = beta * out (cuBLAS is not asked about k = 0) */
    cudaError_t e = cudaSuccess;
    float *cp = gb_tensor_f32(out);
    double *dp = (double *)gb_tensor_data(out);
    if (beta_d == 0.0)
      e = cudaMemsetAsync(gb_tensor_data(out), 0, (size_t)out->numel * gb_dtype_size(out->dtype),
                          c->stream);
    else
      for (int64_t at = 0; at < out->numel && bs == CUBLAS_STATUS_SUCCESS; at += INT_MAX) {
        int64_t len = out->numel - at < INT_MAX ? out->numel - at : INT_MAX;
        bs = dbl ? cublasDscal(h, (int)len, &beta_d, dp + at, 1)
                 : cublasSscal(h, (int)len, &beta, cp + at, 1);
      }
    gb_tensor_release(S, xu);
    gb_tensor_release(S, yu);
    if (e != cudaSuccess) return gb_cuda_fail(S, dev, e, "cudaMemsetAsync", __FILE__, __LINE__);
    if (bs != CUBLAS_STATUS_SUCCESS)
      return gb_cublas_fail(S, dev, bs, "cublasSscal", __FILE__, __LINE__);
    return GB_OK;
  }
  if (m > 0 && n > 0 && batch > 0 && k > 0) {
    /* column-major: C^T (n,m) = op(B^T) (n,k) x op(A^T) (k,m) */
    cublasOperation_t ob = my.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t oa = mx.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
    const float *ap = gb_tensor_f32(xu), *bp = gb_tensor_f32(yu);
    float *cp = gb_tensor_f32(out);
    const double *apd = (const double *)gb_tensor_data(xu),
                 *bpd = (const double *)gb_tensor_data(yu);
    double *cpd = (double *)gb_tensor_data(out);
    if (batch == 1)
      bs = dbl ? cublasDgemm(h, ob, oa, n, m, k, &alpha_d, bpd, my.ld, apd, mx.ld, &beta_d, cpd, n)
               : cublasSgemm(h, ob, oa, n, m, k, &alpha, bp, my.ld, ap, mx.ld, &beta, cp, n);
    else
      for (long long o = 0; o < batch && bs == CUBLAS_STATUS_SUCCESS; o += inner) {
        long long xo, yo;
        batch_offsets(xu, yu, o, &xo, &yo);
        if (dbl)
          bs = cublasDgemmStridedBatched(h, ob, oa, n, m, k, &alpha_d, bpd + yo, my.ld, yb,
                                         apd + xo, mx.ld, xb, &beta_d, cpd + o * m * n, n,
                                         (long long)m * n, (int)inner);
        else
          bs = cublasSgemmStridedBatched(h, ob, oa, n, m, k, &alpha, bp + yo, my.ld, yb, ap + xo,
                                         mx.ld, xb, &beta, cp + o * m * n, n, (long long)m * n,
                                         (int)inner);
      }
  }
  gb_tensor_release(S, xu);
  gb_tensor_release(S, yu);
  if (bs != CUBLAS_STATUS_SUCCESS)
    return gb_cublas_fail(S, dev, bs,
                          dbl ? (batch == 1 ? "cublasDgemm" : "cublasDgemmStridedBatched")
                              : (batch == 1 ? "cublasSgemm" : "cublasSgemmStridedBatched"),
                          __FILE__, __LINE__);
  return GB_OK;
}

extern "C" gb_status gb_cuda_matmul(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return gemm(S, a->in[0], a->in[1], out[0], 1.0, 0.0);
}

extern "C" gb_status gb_cuda_addmm(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  double beta = a->f[0], alpha = a->f[1];
  gb_opargs c;
  memset(&c, 0, sizeof c);
  c.in[0] = a->in[0];
  c.nin = 1;
  c.i[0] = -1;
  gb_status st = gb_cuda_copy(S, &c, out); /* out = bias, broadcast over rows */
  if (st) return st;
  return gemm(S, a->in[1], a->in[2], out[0], alpha, beta);
}
