/* gb_cuda_rnn.cu — CUDA launchers of the recurrent rows, matching runtime/cpu/gb_cpu_rnn.c: per
 * step one cuBLAS sgemm for the recurrent product into the step's record and one kernel running
 * the cell of gb_rnn_math.h over (B,H) (it adds the input projections and b_hh); backward walks
 * the steps in reverse the same way. All on the device's stream: nothing here synchronizes. */
#include <string.h>

#include "gb_cuda_impl.h"
#include "gb_rnn_math.h"

__global__ void k_lstm_cell(float *row, const float *prev, const float *xg, int64_t B, int64_t H) {
  int64_t n = B * H, W = 6 * H;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
       e += (int64_t)gridDim.x * blockDim.x)
    gb_lstm_cell(row + (e / H) * W, prev + (e / H) * W, xg + (e / H) * 4 * H, H, e % H);
}

__global__ void k_lstm_cell_backward(const float *row, const float *prev, const float *grow,
                                     float *dh, float *dc, float *dG, int64_t B, int64_t H) {
  int64_t n = B * H, W = 6 * H;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t b = e / H;
    gb_lstm_cell_backward(row + b * W, prev + b * W, grow + b * W, dh + b * H, dc + b * H,
                          dG + b * 4 * H, H, e % H);
  }
}

/* d0 (B,2H) = [dh + gy0 h slot, dc + gy0 c slot]; gy0 has rows of W floats */
__global__ void k_lstm_initial(const float *dh, const float *dc, const float *gy0, float *d0,
                               int64_t B, int64_t H) {
  int64_t n = B * H, W = 6 * H;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t b = e / H, j = e % H;
    d0[b * 2 * H + j] = dh[e] + gy0[b * W + j];
    d0[b * 2 * H + H + j] = dc[e] + gy0[b * W + H + j];
  }
}

__global__ void k_gru_cell(float *row, const float *prev, const float *xg, const float *bhh,
                           int64_t B, int64_t H) {
  int64_t n = B * H, W = 5 * H;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t b = e / H;
    gb_gru_cell(row + b * W, prev + b * W, xg + b * 3 * H, bhh, H, e % H);
  }
}

__global__ void k_gru_cell_backward(const float *row, const float *prev, const float *grow,
                                    float *dh, float *d, int64_t B, int64_t H) {
  int64_t n = B * H, W = 5 * H;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t b = e / H;
    gb_gru_cell_backward(row + b * W, prev + b * W, grow + b * W, dh + b * H, d + b * 6 * H, H,
                         e % H);
  }
}

/* dh (B,H) += the h slot of gy0 (rows of 5H) */
__global__ void k_gru_initial(float *dh, const float *gy0, int64_t B, int64_t H) {
  int64_t n = B * H;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
       e += (int64_t)gridDim.x * blockDim.x)
    dh[e] += gy0[(e / H) * 5 * H + e % H];
}

/* A row's work on contiguous forms c of its n inputs. */
typedef gb_status (*seq_work)(gb_state *S, gb_tensor **c, gb_tensor **out);
static gb_status on_contiguous(gb_state *S, const gb_opargs *a, int n, seq_work fn,
                               gb_tensor **out) {
  gb_tensor *c[4];
  gb_status st = gb_opargs_contiguous(S, a, n, c);
  if (st) return st;
  st = fn(S, c, out);
  gb_tensors_release(S, c, n);
  return st;
}

/* What every walk over the steps starts from: the device of `out` with its context, stream
 * and cuBLAS handle, and T, B, H from the first two operands — (T,B,G*H) projections and
 * (G*H,H) w_hh forward; backward a (T+1,B,S*H) record, so T is one less. */
typedef struct {
  gb_device dev;
  gb_cuda_dev *ctx;
  cublasHandle_t h;
  cudaStream_t s;
  int64_t T, B, H;
} seq_walk;

static gb_status walk_begin(gb_state *S, gb_tensor **c, const gb_tensor *out, bool backward,
                            seq_walk *k) {
  k->dev = out->device;
  gb_status st = gb_cuda_ctx(S, k->dev, &k->ctx);
  if (!st) st = gb_cuda_blas(S, k->dev, k->ctx, &k->h);
  if (st) return st;
  k->s = k->ctx->stream;
  k->T = c[0]->shape[0] - (backward ? 1 : 0), k->B = c[0]->shape[1], k->H = c[1]->shape[1];
  return GB_OK;
}

/* Copy `rows` rows of `cols` floats between pitched buffers (pitches in floats). */
static cudaError_t copy_rows(float *dst, int64_t dpitch, const float *src, int64_t spitch,
                             int64_t cols, int64_t rows, cudaStream_t s) {
  if (rows == 0 || cols == 0) return cudaSuccess;
  return cudaMemcpy2DAsync(dst, (size_t)dpitch * 4, src, (size_t)spitch * 4, (size_t)cols * 4,
                           (size_t)rows, cudaMemcpyDeviceToDevice, s);
}

static gb_status lstm_forward(gb_state *S, gb_tensor **c, gb_tensor **outs) {
  gb_tensor *out = outs[0];
  seq_walk k;
  gb_status st = walk_begin(S, c, out, false, &k);
  if (st) return st;
  int64_t T = k.T, B = k.B, H = k.H, W = 6 * H;
  const float *xg = gb_tensor_f32(c[0]), *w = gb_tensor_f32(c[1]);
  float *y = gb_tensor_f32(out);
  GB_CU(S, k.dev, cudaMemsetAsync(y, 0, (size_t)(B * W) * 4, k.s));
  GB_CU(S, k.dev, copy_rows(y, W, gb_tensor_f32(c[2]), H, H, B, k.s));
  GB_CU(S, k.dev, copy_rows(y + H, W, gb_tensor_f32(c[3]), H, H, B, k.s));
  const float one = 1.0f, zero = 0.0f;
  unsigned blocks = gb_cuda_blocks(B * H, GB_CUDA_THREADS);
  for (int64_t t = 0; t < T && B > 0; t++) {
    float *row = y + (t + 1) * B * W;
    const float *prev = y + t * B * W;
    /* column-major: slots i..o ^T (4H,B) = op(w) (4H,H) x h_prev^T (H,B); the cell adds xg */
    GB_CUBLAS(S, k.dev,
              cublasSgemm(k.h, CUBLAS_OP_T, CUBLAS_OP_N, (int)(4 * H), (int)B, (int)H, &one, w,
                          (int)H, prev, (int)W, &zero, row + 2 * H, (int)W));
    k_lstm_cell<<<blocks, GB_CUDA_THREADS, 0, k.s>>>(row, prev, xg + t * B * 4 * H, B, H);
    GB_LAUNCHED(S, k.dev, k.ctx, "lstm_seq kernel");
  }
  return GB_OK;
}

extern "C" gb_status gb_cuda_lstm_seq(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return on_contiguous(S, a, 4, lstm_forward, out);
}

static gb_status lstm_backward(gb_state *S, gb_tensor **c, gb_tensor **out, float *dh, float *dc) {
  seq_walk k;
  gb_status st = walk_begin(S, c, out[0], true, &k);
  if (st) return st;
  int64_t T = k.T, B = k.B, H = k.H, W = 6 * H;
  const float *y = gb_tensor_f32(c[0]), *w = gb_tensor_f32(c[1]), *gy = gb_tensor_f32(c[2]);
  float *dG = gb_tensor_f32(out[0]), *d0 = gb_tensor_f32(out[1]);
  if (B == 0) return GB_OK;
  GB_CU(S, k.dev, cudaMemsetAsync(dh, 0, (size_t)(B * H) * 4, k.s));
  GB_CU(S, k.dev, cudaMemsetAsync(dc, 0, (size_t)(B * H) * 4, k.s));
  const float one = 1.0f, zero = 0.0f;
  unsigned blocks = gb_cuda_blocks(B * H, GB_CUDA_THREADS);
  for (int64_t t = T; t >= 1; t--) {
    const float *row = y + t * B * W, *prev = row - B * W, *grow = gy + t * B * W;
    float *dGt = dG + (t - 1) * B * 4 * H;
    k_lstm_cell_backward<<<blocks, GB_CUDA_THREADS, 0, k.s>>>(row, prev, grow, dh, dc, dGt, B, H);
    GB_LAUNCHED(S, k.dev, k.ctx, "lstm_seq_backward kernel");
    /* column-major: dh^T (H,B) = w^T... i.e. w as (H,4H) x dG_t^T (4H,B) */
    GB_CUBLAS(S, k.dev,
              cublasSgemm(k.h, CUBLAS_OP_N, CUBLAS_OP_N, (int)H, (int)B, (int)(4 * H), &one, w,
                          (int)H, dGt, (int)(4 * H), &zero, dh, (int)H));
  }
  k_lstm_initial<<<blocks, GB_CUDA_THREADS, 0, k.s>>>(dh, dc, gy, d0, B, H);
  GB_LAUNCHED(S, k.dev, k.ctx, "lstm_seq_backward kernel");
  return GB_OK;
}

/* lstm_backward with its (2B, H) scratch for the running d h and d c */
static gb_status lstm_backward_rows(gb_state *S, gb_tensor **c, gb_tensor **out) {
  gb_tensor *tmp;
  int64_t B = c[0]->shape[1], H = c[1]->shape[1], shape[2] = {2 * B, H};
  gb_status st = gb_tensor_empty(S, 2, shape, GB_F32, out[0]->device, &tmp);
  if (st) return st;
  st = lstm_backward(S, c, out, gb_tensor_f32(tmp), gb_tensor_f32(tmp) + B * H);
  gb_tensor_release(S, tmp);
  return st;
}

extern "C" gb_status gb_cuda_lstm_seq_backward(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return on_contiguous(S, a, 3, lstm_backward_rows, out);
}

static gb_status gru_forward(gb_state *S, gb_tensor **c, gb_tensor **outs) {
  gb_tensor *out = outs[0];
  seq_walk k;
  gb_status st = walk_begin(S, c, out, false, &k);
  if (st) return st;
  int64_t T = k.T, B = k.B, H = k.H, W = 5 * H;
  const float *xg = gb_tensor_f32(c[0]), *w = gb_tensor_f32(c[1]), *bhh = gb_tensor_f32(c[2]);
  float *y = gb_tensor_f32(out);
  GB_CU(S, k.dev, cudaMemsetAsync(y, 0, (size_t)(B * W) * 4, k.s));
  GB_CU(S, k.dev, copy_rows(y, W, gb_tensor_f32(c[3]), H, H, B, k.s));
  const float one = 1.0f, zero = 0.0f;
  unsigned blocks = gb_cuda_blocks(B * H, GB_CUDA_THREADS);
  for (int64_t t = 0; t < T && B > 0; t++) {
    float *row = y + (t + 1) * B * W;
    const float *prev = y + t * B * W;
    /* slots r z n ^T (3H,B) = op(w) (3H,H) x h_prev^T (H,B); the cell adds b_hh and xg */
    GB_CUBLAS(S, k.dev,
              cublasSgemm(k.h, CUBLAS_OP_T, CUBLAS_OP_N, (int)(3 * H), (int)B, (int)H, &one, w,
                          (int)H, prev, (int)W, &zero, row + H, (int)W));
    k_gru_cell<<<blocks, GB_CUDA_THREADS, 0, k.s>>>(row, prev, xg + t * B * 3 * H, bhh, B, H);
    GB_LAUNCHED(S, k.dev, k.ctx, "gru_seq kernel");
  }
  return GB_OK;
}

extern "C" gb_status gb_cuda_gru_seq(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return on_contiguous(S, a, 4, gru_forward, out);
}

static gb_status gru_backward(gb_state *S, gb_tensor **c, gb_tensor **out) {
  seq_walk k;
  gb_status st = walk_begin(S, c, out[0], true, &k);
  if (st) return st;
  int64_t T = k.T, B = k.B, H = k.H, W = 5 * H;
  const float *y = gb_tensor_f32(c[0]), *w = gb_tensor_f32(c[1]), *gy = gb_tensor_f32(c[2]);
  float *d = gb_tensor_f32(out[0]), *dh = gb_tensor_f32(out[1]);
  if (B == 0) return GB_OK;
  GB_CU(S, k.dev, cudaMemsetAsync(dh, 0, (size_t)(B * H) * 4, k.s));
  const float one = 1.0f;
  unsigned blocks = gb_cuda_blocks(B * H, GB_CUDA_THREADS);
  for (int64_t t = T; t >= 1; t--) {
    const float *row = y + t * B * W, *prev = row - B * W, *grow = gy + t * B * W;
    float *dt = d + (t - 1) * B * 6 * H;
    k_gru_cell_backward<<<blocks, GB_CUDA_THREADS, 0, k.s>>>(row, prev, grow, dh, dt, B, H);
    GB_LAUNCHED(S, k.dev, k.ctx, "gru_seq_backward kernel");
    GB_CUBLAS(S, k.dev,
              cublasSgemm(k.h, CUBLAS_OP_N, CUBLAS_OP_N, (int)H, (int)B, (int)(3 * H), &one, w,
                          (int)H, dt + 3 * H, (int)(6 * H), &one, dh, (int)H));
  }
  k_gru_initial<<<blocks, GB_CUDA_THREADS, 0, k.s>>>(dh, gy, B, H);
  GB_LAUNCHED(S, k.dev, k.ctx, "gru_seq_backward kernel");
  return GB_OK;
}

extern "C" gb_status gb_cuda_gru_seq_backward(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return on_contiguous(S, a, 3, gru_backward, out);
}
