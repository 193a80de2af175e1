/* gb_rnn_math.h — the LSTM and GRU cells of the lstm_seq / gru_seq rows, one (batch row, unit j)
 * at a time, as GB_HD functions shared by the CPU kernels (cpu/gb_cpu_rnn.c) and the CUDA
 * kernels (gpu/gb_cuda_rnn.cu), so the CPU tests check the formulas the GPU runs.
 * Record layouts (one batch row of one step; H units per slot; gates in PyTorch's order):
 *   LSTM (6H): h c i f g o   — before the cell, slots i..o hold w_hh h_prev;
 *   GRU  (5H): h r z n hn    — before the cell, slots r z n hold w_hh h_prev (the cell adds
 *                            b_hh; hn keeps w_hn h_prev + b_hn for the backward).
 * The nonlinearities are gb_math.h's branch-free ones, so the CPU loops over j vectorize. */
#ifndef GB_RNN_MATH_H
#define GB_RNN_MATH_H

#include <stdint.h>

#include "gb_math.h"

/* row: this step's record, prev: the previous step's (c_prev at prev[H+j]); x: this step's
 * input projections (4H: i f g o, both biases included), added to row's i..o here */
GB_HD void gb_lstm_cell(float *row, const float *prev, const float *x, int64_t H, int64_t j) {
  float i = gb_f_sigmoid_fast(x[j] + row[2 * H + j]);
  float f = gb_f_sigmoid_fast(x[H + j] + row[3 * H + j]);
  float g = gb_f_tanh_fast(x[2 * H + j] + row[4 * H + j]);
  float o = gb_f_sigmoid_fast(x[3 * H + j] + row[5 * H + j]);
  float c = f * prev[H + j] + i * g;
  row[j] = o * gb_f_tanh_fast(c);
  row[H + j] = c;
  row[2 * H + j] = i, row[3 * H + j] = f, row[4 * H + j] = g, row[5 * H + j] = o;
}

/* grow: the gradient of this step's record; dh, dc: the gradient reaching h_t and c_t from
 * step t+1 (dc is replaced by the gradient of c_{t-1}); dG (4H): out, d(gate pre-activations).
 * The caller then sets dh = dG @ w_hh. */
GB_HD void gb_lstm_cell_backward(const float *row, const float *prev, const float *grow, float *dh,
                                 float *dc, float *dG, int64_t H, int64_t j) {
  float c = row[H + j], i = row[2 * H + j], f = row[3 * H + j], g = row[4 * H + j],
        o = row[5 * H + j];
  float gh = dh[j] + grow[j], tc = gb_f_tanh_fast(c);
  float gc = dc[j] + grow[H + j] + gh * o * (1.0f - tc * tc);
  float di = gc * g + grow[2 * H + j], df = gc * prev[H + j] + grow[3 * H + j];
  float dg = gc * i + grow[4 * H + j], dout = gh * tc + grow[5 * H + j];
  dG[j] = di * i * (1.0f - i);
  dG[H + j] = df * f * (1.0f - f);
  dG[2 * H + j] = dg * (1.0f - g * g);
  dG[3 * H + j] = dout * o * (1.0f - o);
  dc[j] = gc * f;
}

/* x: this step's input projections (3H: r z n, b_ih included), bh: b_hh (3H);
 * h = (1-z) n + z h_prev */
GB_HD void gb_gru_cell(float *row, const float *prev, const float *x, const float *bh, int64_t H,
                       int64_t j) {
  float r = gb_f_sigmoid_fast(x[j] + (row[H + j] + bh[j]));
  float z = gb_f_sigmoid_fast(x[H + j] + (row[2 * H + j] + bh[H + j]));
  float hn = row[3 * H + j] + bh[2 * H + j], n = gb_f_tanh_fast(x[2 * H + j] + r * hn);
  row[j] = n + z * (prev[j] - n);
  row[H + j] = r, row[2 * H + j] = z, row[3 * H + j] = n, row[4 * H + j] = hn;
}

/* dh: in, the gradient reaching h_t from step t+1; out, its direct part for h_{t-1} (the caller
 * adds dgh @ w_hh). d (6H): out, [d xg (r z n) | d(w_hh h_prev + b_hh) (r z n)]. */
GB_HD void gb_gru_cell_backward(const float *row, const float *prev, const float *grow, float *dh,
                                float *d, int64_t H, int64_t j) {
  float r = row[H + j], z = row[2 * H + j], n = row[3 * H + j], hn = row[4 * H + j];
  float gh = dh[j] + grow[j];
  float dn = gh * (1.0f - z) + grow[3 * H + j], dz = gh * (prev[j] - n) + grow[2 * H + j];
  float dnp = dn * (1.0f - n * n);
  float dr = dnp * hn + grow[H + j], dhn = dnp * r + grow[4 * H + j];
  float drp = dr * r * (1.0f - r), dzp = dz * z * (1.0f - z);
  d[j] = drp, d[H + j] = dzp, d[2 * H + j] = dnp;
  d[3 * H + j] = drp, d[4 * H + j] = dzp, d[5 * H + j] = dhn;
  dh[j] = gh * z;
}

#endif
