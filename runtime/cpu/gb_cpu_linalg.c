/* gb_cpu_linalg.c — CPU matrix products through gb_blas_sgemm. Transposed views are passed
 * to BLAS as transposes (no copy); only layouts BLAS cannot express are made contiguous. */
#include "gb_blas.h"
#include "gb_cpu.h"
#include "gb_layout.h"

typedef gb_mat_layout mat;

/* Offsets of batch item b in x and y (y: 0 when it is one matrix shared by the batch); the
 * batch dims are x's leading dims, walked in row-major order with each operand's strides, so
 * permuted views (heads of attention) need no copy. */
static void batch_offsets(const gb_tensor *x, const gb_tensor *y, int64_t b, int64_t *xo,
                          int64_t *yo) {
  *xo = 0, *yo = 0;
  for (int d = x->ndim - 3; d >= 0; d--) {
    int64_t i = b % x->shape[d];
    b /= x->shape[d];
    *xo += i * x->stride[d];
    if (y->ndim > 2) *yo += i * y->stride[d];
  }
}

/* out = alpha * x @ y + beta * out (out contiguous), batched over x's leading dims; float64
 * operands go to gb_blas_dgemm. */
static gb_status gemm(gb_state *S, gb_tensor *x, gb_tensor *y, gb_tensor *out, double alpha,
                      double beta) {
  gb_tensor *xu, *yu;
  mat mx, my;
  gb_status st = gb_blas_operand(S, x, gb_tensor_contiguous, &xu, &mx);
  if (st) return st;
  if ((st = gb_blas_operand(S, y, gb_tensor_contiguous, &yu, &my))) {
    gb_tensor_release(S, xu);
    return st;
  }
  int nd = xu->ndim;
  int m = (int)xu->shape[nd - 2], k = (int)xu->shape[nd - 1], n = (int)yu->shape[yu->ndim - 1];
  int64_t batch = 1;
  for (int d = 0; d < nd - 2; d++)
    batch *= xu->shape[d];
  const float *xp = gb_tensor_f32(xu), *yp = gb_tensor_f32(yu);
  float *op = gb_tensor_f32(out);
  /* Large products run in row blocks of about 2^26 multiply-adds, so an interrupt or a spent
   * time budget stops them between blocks (gb_op_run then discards the output). */
  int64_t per_row = (int64_t)n * k > 0 ? (int64_t)n * k : 1;
  int rows = per_row >= ((int64_t)1 << 26) ? 1 : (int)(((int64_t)1 << 26) / per_row);
  for (int64_t b = 0; b < batch; b++) {
    int64_t xb, yb;
    batch_offsets(xu, yu, b, &xb, &yb);
    for (int r = 0; r < m; r += rows) {
      if ((b > 0 || r > 0) && gb_should_stop(S)) goto done;
      int mr = m - r < rows ? m - r : rows;
      int64_t xo = xb + (mx.trans ? (int64_t)r : (int64_t)r * mx.ld);
      int64_t oo = b * (int64_t)m * n + (int64_t)r * n;
      if (out->dtype == GB_F64)
        gb_blas_dgemm(mx.trans, my.trans, mr, n, k, alpha, (const double *)gb_tensor_data(xu) + xo,
                      mx.ld, (const double *)gb_tensor_data(yu) + yb, my.ld, beta,
                      (double *)gb_tensor_data(out) + oo, n);
      else
        gb_blas_sgemm(mx.trans, my.trans, mr, n, k, (float)alpha, xp + xo, mx.ld, yp + yb, my.ld,
                      (float)beta, op + oo, n);
    }
  }
done:
  gb_tensor_release(S, xu);
  gb_tensor_release(S, yu);
  return GB_OK;
}

gb_status gb_cpu_matmul(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return gemm(S, a->in[0], a->in[1], out[0], 1.0, 0.0);
}

gb_status gb_cpu_addmm(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  double beta = a->f[0], alpha = a->f[1];
  gb_opargs c = {.in = {a->in[0]}, .nin = 1, .i = {-1}};
  gb_status st = gb_cpu_copy(S, &c, out); /* out = bias, broadcast over rows */
  if (st) return st;
  return gemm(S, a->in[1], a->in[2], out[0], alpha, beta);
}
