/* gb_cpu_reduce.c — CPU reductions: sum, mean, var, amax/amin over any set of dims, and
 * max/min/argmax/argmin along one dim (1-based int64 indices, first occurrence wins, NaN
 * propagates). The input is split into kept dims (one output element each) and reduced dims
 * (walked by an odometer), so any strides work; sums accumulate in double. */
#include <math.h>

#include "gb_cpu.h"
#include "gb_cpu_pool.h"
#include "gb_layout.h"

typedef gb_reduce_plan plan;

/* Offset of the o-th kept position (row-major over kept dims). */
static int64_t keep_offset(const plan *p, int64_t o) {
  int64_t off = 0;
  for (int d = p->nkeep - 1; d >= 0; d--) {
    off += (o % p->keep_shape[d]) * p->keep_stride[d];
    o /= p->keep_shape[d];
  }
  return off;
}

/* Walk the reduced block starting at `start`, calling BODY with `v` = element, `j` = its
 * row-major position within the block. Stops early (garbage result, which gb_op_run then
 * discards) when S says so, checked every GB_STOP_CHUNK elements. */
#define FOR_REDUCED(p, start, BODY)                                                                \
  do {                                                                                             \
    int64_t idx_[GB_MAXDIM] = {0}, off_ = (start);                                                 \
    int last_ = (p)->nred - 1;                                                                     \
    for (int64_t j = 0; j < (p)->nred_elems; j++) {                                                \
      if ((j & (GB_STOP_CHUNK - 1)) == GB_STOP_CHUNK - 1 && gb_should_stop(S)) break;              \
      float v = (p)->base[off_];                                                                   \
      BODY;                                                                                        \
      int d_ = last_;                                                                              \
      for (; d_ >= 0; d_--) {                                                                      \
        off_ += (p)->red_stride[d_];                                                               \
        if (++idx_[d_] < (p)->red_shape[d_]) break;                                                \
        off_ -= (p)->red_stride[d_] * (p)->red_shape[d_];                                          \
        idx_[d_] = 0;                                                                              \
      }                                                                                            \
    }                                                                                              \
  } while (0)

static double block_sum(gb_state *S, const plan *p, int64_t start) {
  /* fast path: one contiguous reduced dim */
  if (p->nred == 1 && p->red_stride[0] == 1) {
    const float *x = p->base + start;
    double acc = 0;
    for (int64_t c = 0; c < p->nred_elems; c += GB_STOP_CHUNK) {
      int64_t end = p->nred_elems - c < GB_STOP_CHUNK ? p->nred_elems : c + GB_STOP_CHUNK;
      for (int64_t j = c; j < end; j++)
        acc += x[j];
      if (end < p->nred_elems && gb_should_stop(S)) break;
    }
    return acc;
  }
  double acc = 0;
  FOR_REDUCED(p, start, acc += v);
  return acc;
}

/* Fast path for reducing the leading dims of a contiguous input — the bias gradient of a
 * batch, (B,N) -> (N): add whole rows, which vectorizes, instead of walking columns. */
static bool sum_leading_rows(const gb_tensor *x, uint64_t mask, float *o, bool mean) {
  int k = 0;
  while (k < x->ndim && (mask >> k & 1))
    k++;
  if (k == 0 || k == x->ndim || (mask >> k) != 0 || !gb_tensor_is_contiguous(x)) return false;
  int64_t rows = 1, n = 1;
  for (int d = 0; d < x->ndim; d++)
    *(d < k ? &rows : &n) *= x->shape[d];
  if (n > 4096) return false;
  double acc[4096];
  const float *xp = gb_tensor_f32(x);
  for (int64_t j = 0; j < n; j++)
    acc[j] = 0;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < n; j++)
      acc[j] += xp[r * n + j];
  for (int64_t j = 0; j < n; j++)
    o[j] = (float)(mean ? acc[j] / (double)rows : acc[j]);
  return true;
}

/* ---- large contiguous sums on the pool (gb_cpu_pool.h): the reduced elements of each output
 * are one contiguous run (sum(), sum(-1), mean over the last dim). Each output's run is cut
 * into fixed GB_PAR_GRAIN chunks summed in double and added in chunk order, whatever the
 * thread count, so results are deterministic. ---- */

typedef struct sum_job {
  const plan *p;
  float *o;
  bool mean;
  double *partial; /* one per chunk (single output), or NULL */
} sum_job;

static double run_sum(const float *x, int64_t n) {
  double acc = 0;
  for (int64_t j = 0; j < n; j++)
    acc += x[j];
  return acc;
}

static double chunked_sum(const float *x, int64_t n) {
  double acc = 0;
  for (int64_t c = 0; c < n; c += GB_PAR_GRAIN)
    acc += run_sum(x + c, n - c < GB_PAR_GRAIN ? n - c : GB_PAR_GRAIN);
  return acc;
}

static void sum_chunks(void *ctx, int64_t lo, int64_t hi) { /* single output: chunk lo / grain */
  const sum_job *j = ctx;
  j->partial[lo / GB_PAR_GRAIN] = run_sum(j->p->base + lo, hi - lo);
}

static void sum_outputs(void *ctx, int64_t lo, int64_t hi) { /* outputs lo..hi-1 */
  const sum_job *j = ctx;
  for (int64_t k = lo; k < hi; k++) {
    double s = chunked_sum(j->p->base + keep_offset(j->p, k), j->p->nred_elems);
    j->o[k] = (float)(j->mean ? s / (double)j->p->nred_elems : s);
  }
}

/* true when it handled the reduction (contiguous runs, large enough to split) */
static bool sum_parallel(gb_state *S, const plan *p, float *o, bool mean) {
  if (p->nred != 1 || p->red_stride[0] != 1) return false;
  /* runs up to one grain sum exactly as the serial loop does, so splitting them over
   * outputs changes no bits; longer runs always take the chunked sum */
  bool long_runs = p->nred_elems > GB_PAR_GRAIN;
  if (!long_runs && (p->nout < 2 || p->nout * p->nred_elems < GB_PAR_MIN_ELEMS)) return false;
  sum_job j = {p, o, mean, NULL};
  if (p->nout == 1) {
    int64_t nchunks = (p->nred_elems + GB_PAR_GRAIN - 1) / GB_PAR_GRAIN;
    size_t bytes = (size_t)nchunks * sizeof(double);
    if (gb_alloc_bytes(S, GB_CPU, bytes, (void **)&j.partial)) return false;
    gb_cpu_parallel(S, p->nred_elems, GB_PAR_GRAIN, sum_chunks, &j);
    double s = 0;
    for (int64_t c = 0; c < nchunks; c++)
      s += j.partial[c];
    o[0] = (float)(mean ? s / (double)p->nred_elems : s);
    gb_free_bytes(S, GB_CPU, j.partial, bytes);
    return true;
  }
  int64_t grain = GB_PAR_GRAIN / p->nred_elems + 1;
  gb_cpu_parallel(S, p->nout, grain, sum_outputs, &j);
  return true;
}

static gb_status reduce_sum_mean(gb_state *S, const gb_opargs *a, gb_tensor *out, bool mean) {
  plan p;
  float *o = gb_tensor_f32(out);
  if (sum_leading_rows(a->in[0], (uint64_t)a->i[0], o, mean)) return GB_OK;
  gb_reduce_plan_init(a->in[0], (uint64_t)a->i[0], &p);
  if (sum_parallel(S, &p, o, mean)) return GB_OK;
  for (int64_t k = 0; k < p.nout; k++) {
    double s = block_sum(S, &p, keep_offset(&p, k));
    if ((k & 1023) == 1023 && gb_should_stop(S)) break;
    o[k] = (float)(mean ? s / (double)p.nred_elems : s);
  }
  return GB_OK;
}

gb_status gb_cpu_sum(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  if (out[0]->dtype == GB_F64) return gb_cpu_reduce_f64(S, GB_OP_SUM, a, out[0]);
  return reduce_sum_mean(S, a, out[0], false);
}

gb_status gb_cpu_mean(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  if (out[0]->dtype == GB_F64) return gb_cpu_reduce_f64(S, GB_OP_MEAN, a, out[0]);
  return reduce_sum_mean(S, a, out[0], true);
}

gb_status gb_cpu_var(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  if (out[0]->dtype == GB_F64) return gb_cpu_reduce_f64(S, GB_OP_VAR, a, out[0]);
  plan p;
  gb_reduce_plan_init(a->in[0], (uint64_t)a->i[0], &p);
  float *o = gb_tensor_f32(out[0]);
  double denom = (double)p.nred_elems - (double)a->i[2];
  for (int64_t k = 0; k < p.nout; k++) {
    int64_t start = keep_offset(&p, k);
    double mu = block_sum(S, &p, start) / (double)p.nred_elems, ss = 0;
    FOR_REDUCED(&p, start, ss += ((double)v - mu) * ((double)v - mu));
    o[k] = denom > 0 ? (float)(ss / denom) : NAN;
  }
  return GB_OK;
}

/* Index (0-based, within the block) of the max (want_max) or min; NaN wins. */
static int64_t block_arg(gb_state *S, const plan *p, int64_t start, bool want_max,
                         float *best_out) {
  float best = 0;
  int64_t at = -1;
  FOR_REDUCED(p, start, {
    if (at < 0 || (best == best && (v != v || (want_max ? v > best : v < best)))) {
      best = v;
      at = j;
    }
  });
  *best_out = best;
  return at;
}

static gb_status reduce_extreme(gb_state *S, const gb_opargs *a, gb_tensor **out, bool want_max,
                                uint64_t mask, bool values, bool indices) {
  if (a->in[0]->dtype == GB_F64)
    return gb_cpu_extreme_f64(S, a, out, want_max, mask, values, indices);
  plan p;
  gb_reduce_plan_init(a->in[0], mask, &p);
  float *vo = values ? gb_tensor_f32(out[0]) : NULL;
  int64_t *io = indices ? (int64_t *)gb_tensor_data(out[values ? 1 : 0]) : NULL;
  for (int64_t k = 0; k < p.nout; k++) {
    float best;
    int64_t at = block_arg(S, &p, keep_offset(&p, k), want_max, &best);
    if ((k & 1023) == 1023 && gb_should_stop(S)) break;
    if (vo) vo[k] = best;
    if (io) io[k] = at + 1;
  }
  return GB_OK;
}

gb_status gb_cpu_amax(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return reduce_extreme(S, a, out, true, (uint64_t)a->i[0], true, false);
}
gb_status gb_cpu_amin(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return reduce_extreme(S, a, out, false, (uint64_t)a->i[0], true, false);
}
gb_status gb_cpu_max_dim(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return reduce_extreme(S, a, out, true, (uint64_t)1 << a->i[0], true, true);
}
gb_status gb_cpu_min_dim(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return reduce_extreme(S, a, out, false, (uint64_t)1 << a->i[0], true, true);
}
gb_status gb_cpu_argmax(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  uint64_t mask = a->i[0] < 0 ? 0 : (uint64_t)1 << a->i[0];
  return reduce_extreme(S, a, out, true, mask, false, true);
}
gb_status gb_cpu_argmin(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  uint64_t mask = a->i[0] < 0 ? 0 : (uint64_t)1 << a->i[0];
  return reduce_extreme(S, a, out, false, mask, false, true);
}

/* logsumexp over the reduced block as max + log(sum(exp(x - max))): NaN when an element is
 * NaN, the max itself when it is infinite (+inf, or -inf for an all -inf or empty block). */
gb_status gb_cpu_logsumexp(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  if (out[0]->dtype == GB_F64) return gb_cpu_reduce_f64(S, GB_OP_LOGSUMEXP, a, out[0]);
  plan p;
  gb_reduce_plan_init(a->in[0], (uint64_t)a->i[0], &p);
  float *o = gb_tensor_f32(out[0]);
  for (int64_t k = 0; k < p.nout; k++) {
    int64_t start = keep_offset(&p, k);
    float mx = -INFINITY;
    bool nan = false;
    FOR_REDUCED(&p, start, {
      if (v != v)
        nan = true;
      else if (v > mx)
        mx = v;
    });
    if (nan || isinf(mx)) {
      o[k] = nan ? NAN : mx;
      continue;
    }
    double s = 0;
    FOR_REDUCED(&p, start, s += expf(v - mx));
    o[k] = (float)((double)mx + log(s));
  }
  return GB_OK;
}
