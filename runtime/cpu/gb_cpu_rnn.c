/* gb_cpu_rnn.c — CPU kernels of the recurrent rows: a whole LSTM or GRU layer over T steps,
 * one sgemm per step for the recurrent product (written straight into the step's record; the
 * one temporary is w_hh transposed once per call) and the cell formulas of gb_rnn_math.h;
 * backward walks the steps in reverse.
 * Layouts of the (T+1,B,S*H) records: gb_ops.def and gb_rnn_math.h. */
#include <string.h>

#include "gb_blas.h"
#include "gb_cpu.h"
#include "gb_rnn_math.h"

/* The cells of one step over (B,H); clones so that the j loops run at the CPU's vector width
 * (gb_rnn_math.h's nonlinearities have no branches). ivdep: unit j reads and writes only
 * element j of each H-wide slot, so no two iterations touch the same float, which GCC cannot
 * prove with slots a runtime H apart. */
GB_CPU_CLONES static void lstm_cells(float *row, const float *prev, const float *xg, int64_t B,
                                     int64_t H) {
  for (int64_t b = 0; b < B; b++)
#pragma GCC ivdep
    for (int64_t j = 0; j < H; j++)
      gb_lstm_cell(row + b * 6 * H, prev + b * 6 * H, xg + b * 4 * H, H, j);
}

GB_CPU_CLONES static void lstm_cells_backward(const float *row, const float *prev,
                                              const float *grow, float *dh, float *dc, float *dG,
                                              int64_t B, int64_t H) {
  for (int64_t b = 0; b < B; b++)
#pragma GCC ivdep
    for (int64_t j = 0; j < H; j++)
      gb_lstm_cell_backward(row + b * 6 * H, prev + b * 6 * H, grow + b * 6 * H, dh + b * H,
                            dc + b * H, dG + b * 4 * H, H, j);
}

GB_CPU_CLONES static void gru_cells(float *row, const float *prev, const float *xg,
                                    const float *bhh, int64_t B, int64_t H) {
  for (int64_t b = 0; b < B; b++)
#pragma GCC ivdep
    for (int64_t j = 0; j < H; j++)
      gb_gru_cell(row + b * 5 * H, prev + b * 5 * H, xg + b * 3 * H, bhh, H, j);
}

GB_CPU_CLONES static void gru_cells_backward(const float *row, const float *prev, const float *grow,
                                             float *dh, float *d, int64_t B, int64_t H) {
  for (int64_t b = 0; b < B; b++)
#pragma GCC ivdep
    for (int64_t j = 0; j < H; j++)
      gb_gru_cell_backward(row + b * 5 * H, prev + b * 5 * H, grow + b * 5 * H, dh + b * H,
                           d + b * 6 * H, H, j);
}

static gb_status zeros(gb_state *S, int64_t rows, int64_t cols, gb_tensor **out) {
  gb_status st = gb_tensor_empty(S, 2, (int64_t[]){rows, cols}, GB_F32, GB_CPU, out);
  if (!st) memset(gb_tensor_f32(*out), 0, (size_t)(rows * cols) * sizeof(float));
  return st;
}

/* w (R,C) -> its transpose (C,R). The forward walks multiply by w^T every step: as a plain
 * (B,H) x (H,G*H) product gb_blas's own small kernels take it (not transposed B at k = H < 512
 * they leave to the library, which packs w again every call): 47 against 102 us for the
 * char_lstm recipe's 32x512x256 halves (docs/benchmarks.md, issue 15). 16x16 tiles, each
 * written row by row: writing down a column 4 KiB apart (R = 1024) evicts itself, 2 ms
 * against 75 us for the recipe's (1024,256). */
static gb_status transposed(gb_state *S, const gb_tensor *w, gb_tensor **out) {
  int64_t R = w->shape[0], C = w->shape[1];
  gb_status st = gb_tensor_empty(S, 2, (int64_t[]){C, R}, GB_F32, GB_CPU, out);
  if (st) return st;
  const float *src = gb_tensor_f32(w);
  float *dst = gb_tensor_f32(*out);
  for (int64_t k0 = 0; k0 < C; k0 += 16)
    for (int64_t r0 = 0; r0 < R; r0 += 16)
      for (int64_t k = k0; k < C && k < k0 + 16; k++)
        for (int64_t r = r0; r < R && r < r0 + 16; r++)
          dst[k * R + r] = src[r * C + k];
  return GB_OK;
}

/* in: xg (T,B,4H), w (4H,H), h0, c0 (B,H) -> Y (T+1,B,6H) */
gb_status gb_cpu_lstm_seq(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *c[4], *wt = NULL;
  gb_status st = gb_opargs_contiguous(S, a, 4, c);
  if (st) return st;
  if ((st = transposed(S, c[1], &wt))) {
    gb_tensors_release(S, c, 4);
    return st;
  }
  int64_t T = c[0]->shape[0], B = c[0]->shape[1], H = c[1]->shape[1], W = 6 * H;
  const float *xg = gb_tensor_f32(c[0]), *w = gb_tensor_f32(wt);
  const float *h0 = gb_tensor_f32(c[2]), *c0 = gb_tensor_f32(c[3]);
  float *y = gb_tensor_f32(out[0]);
  memset(y, 0, (size_t)(B * W) * sizeof(float));
  for (int64_t b = 0; b < B; b++) {
    memcpy(y + b * W, h0 + b * H, (size_t)H * sizeof(float));
    memcpy(y + b * W + H, c0 + b * H, (size_t)H * sizeof(float));
  }
  for (int64_t t = 0; t < T && !gb_should_stop(S); t++) { /* stops: output discarded */
    float *row = y + (t + 1) * B * W;
    const float *prev = y + t * B * W;
    /* slots i..o (B,4H) = h_prev (B,H) @ w^T (H,4H); the cell adds xg */
    gb_blas_sgemm(false, false, (int)B, (int)(4 * H), (int)H, 1.0f, prev, (int)W, w, (int)(4 * H),
                  0.0f, row + 2 * H, (int)W);
    lstm_cells(row, prev, xg + t * B * 4 * H, B, H);
  }
  gb_tensor_release(S, wt);
  gb_tensors_release(S, c, 4);
  return GB_OK;
}

/* in: Y (T+1,B,6H), w (4H,H), gY -> dG (T,B,4H), d(h0,c0) (B,2H) */
gb_status gb_cpu_lstm_seq_backward(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *c[3], *dh = NULL, *dc = NULL;
  gb_status st = gb_opargs_contiguous(S, a, 3, c);
  if (st) return st;
  int64_t T = c[0]->shape[0] - 1, B = c[0]->shape[1], H = c[1]->shape[1], W = 6 * H;
  if ((st = zeros(S, B, H, &dh)) || (st = zeros(S, B, H, &dc))) goto done;
  const float *y = gb_tensor_f32(c[0]), *w = gb_tensor_f32(c[1]), *gy = gb_tensor_f32(c[2]);
  float *dG = gb_tensor_f32(out[0]), *d0 = gb_tensor_f32(out[1]);
  float *pdh = gb_tensor_f32(dh), *pdc = gb_tensor_f32(dc);
  for (int64_t t = T; t >= 1 && !gb_should_stop(S); t--) {
    const float *row = y + t * B * W, *prev = row - B * W, *grow = gy + t * B * W;
    float *dGt = dG + (t - 1) * B * 4 * H;
    lstm_cells_backward(row, prev, grow, pdh, pdc, dGt, B, H);
    /* dh (B,H) = dG_t (B,4H) @ w (4H,H) */
    gb_blas_sgemm(false, false, (int)B, (int)H, (int)(4 * H), 1.0f, dGt, (int)(4 * H), w, (int)H,
                  0.0f, pdh, (int)H);
  }
  for (int64_t b = 0; b < B; b++)
    for (int64_t j = 0; j < H; j++) {
      d0[b * 2 * H + j] = pdh[b * H + j] + gy[b * W + j];
      d0[b * 2 * H + H + j] = pdc[b * H + j] + gy[b * W + H + j];
    }
done:
  gb_tensor_release(S, dh);
  gb_tensor_release(S, dc);
  gb_tensors_release(S, c, 3);
  return st;
}

/* in: xg (T,B,3H), w (3H,H), b_hh (3H), h0 (B,H) -> Y (T+1,B,5H) */
gb_status gb_cpu_gru_seq(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *c[4], *wt = NULL;
  gb_status st = gb_opargs_contiguous(S, a, 4, c);
  if (st) return st;
  if ((st = transposed(S, c[1], &wt))) {
    gb_tensors_release(S, c, 4);
    return st;
  }
  int64_t T = c[0]->shape[0], B = c[0]->shape[1], H = c[1]->shape[1], W = 5 * H;
  const float *xg = gb_tensor_f32(c[0]), *w = gb_tensor_f32(wt);
  const float *bhh = gb_tensor_f32(c[2]), *h0 = gb_tensor_f32(c[3]);
  float *y = gb_tensor_f32(out[0]);
  memset(y, 0, (size_t)(B * W) * sizeof(float));
  for (int64_t b = 0; b < B; b++)
    memcpy(y + b * W, h0 + b * H, (size_t)H * sizeof(float));
  for (int64_t t = 0; t < T && !gb_should_stop(S); t++) { /* stops: output discarded */
    float *row = y + (t + 1) * B * W;
    const float *prev = y + t * B * W;
    /* slots r z n (B,3H) = h_prev (B,H) @ w^T (H,3H); the cell adds b_hh and xg */
    gb_blas_sgemm(false, false, (int)B, (int)(3 * H), (int)H, 1.0f, prev, (int)W, w, (int)(3 * H),
                  0.0f, row + H, (int)W);
    gru_cells(row, prev, xg + t * B * 3 * H, bhh, B, H);
  }
  gb_tensor_release(S, wt);
  gb_tensors_release(S, c, 4);
  return GB_OK;
}

/* in: Y (T+1,B,5H), w (3H,H), gY -> [d xg | d gh] (T,B,6H), d h0 (B,H) */
gb_status gb_cpu_gru_seq_backward(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *c[3];
  gb_status st = gb_opargs_contiguous(S, a, 3, c);
  if (st) return st;
  int64_t T = c[0]->shape[0] - 1, B = c[0]->shape[1], H = c[1]->shape[1], W = 5 * H;
  const float *y = gb_tensor_f32(c[0]), *w = gb_tensor_f32(c[1]), *gy = gb_tensor_f32(c[2]);
  float *d = gb_tensor_f32(out[0]), *dh = gb_tensor_f32(out[1]);
  memset(dh, 0, (size_t)(B * H) * sizeof(float)); /* accumulates in place, becomes d h0 */
  for (int64_t t = T; t >= 1 && !gb_should_stop(S); t--) {
    const float *row = y + t * B * W, *prev = row - B * W, *grow = gy + t * B * W;
    float *dt = d + (t - 1) * B * 6 * H;
    gru_cells_backward(row, prev, grow, dh, dt, B, H);
    /* dh (B,H) += dgh_t (B,3H) @ w (3H,H) */
    gb_blas_sgemm(false, false, (int)B, (int)H, (int)(3 * H), 1.0f, dt + 3 * H, (int)(6 * H), w,
                  (int)H, 1.0f, dh, (int)H);
  }
  for (int64_t b = 0; b < B; b++)
    for (int64_t j = 0; j < H; j++)
      dh[b * H + j] += gy[b * W + j];
  gb_tensors_release(S, c, 3);
  return GB_OK;
}
