/* gb_cuda_linalg.cu — matrix products through cuBLAS (sgemm, sgemmStridedBatched). cuBLAS is
 * column-major: a row-major (r,c) matrix with row stride ld reads as its (c,r) transpose, so
 * C = A x B is computed as C^T = B^T x A^T with the operands swapped. Transposed views are
 * passed as transpose flags, never copied; only layouts cuBLAS cannot express are made
 * contiguous. TF32 stays off unless gb_cuda_set_tf32 turns it on. */
#include <limits.h>
#include <string.h>

#include "gb_cuda_impl.h"

typedef gb_mat_layout mat; /* shared with the CPU: runtime/core/gb_layout.h */

/* out = alpha * x @ y + beta * out (out contiguous), batched when x is 3-D. */
static gb_status gemm(gb_state *S, gb_tensor *x, gb_tensor *y, gb_tensor *out, float alpha,
                      float beta) {
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
  long long batch = nd == 3 ? xu->shape[0] : 1;
  if (batch > INT_MAX) {
    gb_tensor_release(S, xu);
    gb_tensor_release(S, yu);
    return gb_errorf(S, GB_ESHAPE, "matmul: a batch of %lld on cuda: above %d is not supported",
                     batch, INT_MAX);
  }
  long long xb = nd == 3 ? xu->stride[0] : 0, yb = yu->ndim == 3 ? yu->stride[0] : 0;
  cublasStatus_t bs = CUBLAS_STATUS_SUCCESS;
  if (k == 0 && beta != 1.0f && out->numel > 0) {
    /* an empty inner dimension: out = beta * out (cuBLAS is not asked about k = 0) */
    cudaError_t e = cudaSuccess;
    float *cp = gb_tensor_f32(out);
    if (beta == 0.0f)
      e = cudaMemsetAsync(cp, 0, (size_t)out->numel * 4, c->stream);
    else
      for (int64_t at = 0; at < out->numel && bs == CUBLAS_STATUS_SUCCESS; at += INT_MAX) {
        int64_t len = out->numel - at < INT_MAX ? out->numel - at : INT_MAX;
        bs = cublasSscal(h, (int)len, &beta, cp + at, 1);
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
    if (batch == 1)
      bs = cublasSgemm(h, ob, oa, n, m, k, &alpha, bp, my.ld, ap, mx.ld, &beta, cp, n);
    else
      bs = cublasSgemmStridedBatched(h, ob, oa, n, m, k, &alpha, bp, my.ld, yb, ap, mx.ld, xb,
                                     &beta, cp, n, (long long)m * n, (int)batch);
  }
  gb_tensor_release(S, xu);
  gb_tensor_release(S, yu);
  if (bs != CUBLAS_STATUS_SUCCESS)
    return gb_cublas_fail(S, dev, bs, batch == 1 ? "cublasSgemm" : "cublasSgemmStridedBatched",
                          __FILE__, __LINE__);
  return GB_OK;
}

extern "C" gb_status gb_cuda_matmul(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return gemm(S, a->in[0], a->in[1], out[0], 1.0f, 0.0f);
}

extern "C" gb_status gb_cuda_addmm(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  float beta = (float)a->f[0], alpha = (float)a->f[1];
  gb_opargs c;
  memset(&c, 0, sizeof c);
  c.in[0] = a->in[0];
  c.nin = 1;
  c.i[0] = -1;
  gb_status st = gb_cuda_copy(S, &c, out); /* out = bias, broadcast over rows */
  if (st) return st;
  return gemm(S, a->in[1], a->in[2], out[0], alpha, beta);
}
