/* gb_cpu_reduce_f64.c — the float64 loops of the reductions (sum, mean, var, logsumexp,
 * amax/amin, max/min/argmax/argmin along a dim): the plan of gb_cpu_reduce.c (kept dims, one
 * output each; reduced dims walked by an odometer), in double throughout and serial, which
 * is what gradcheck-sized tensors need. The float32 kernels call these for float64 inputs. */
#include <math.h>

#include "gb_cpu.h"
#include "gb_layout.h"

typedef gb_reduce_plan plan;

static int64_t keep_offset(const plan *p, int64_t o) {
  int64_t off = 0;
  for (int d = p->nkeep - 1; d >= 0; d--) {
    off += (o % p->keep_shape[d]) * p->keep_stride[d];
    o /= p->keep_shape[d];
  }
  return off;
}

/* The reduced block at `start` of x, element j (row-major within the block) into v[j]'s
 * visitor: fills buf with the block's values so the reductions below are plain loops. */
static void block_values(const plan *p, const double *x, int64_t start, double *buf) {
  int64_t idx[GB_MAXDIM] = {0}, off = start;
  for (int64_t j = 0; j < p->nred_elems; j++) {
    buf[j] = x[off];
    for (int d = p->nred - 1; d >= 0; d--) {
      off += p->red_stride[d];
      if (++idx[d] < p->red_shape[d]) break;
      off -= p->red_stride[d] * p->red_shape[d];
      idx[d] = 0;
    }
  }
}

/* Runs fn on each output's block (buf holds nred_elems doubles from the CPU allocator). */
typedef double (*block_fn)(const double *v, int64_t n, const gb_opargs *a);

static gb_status reduce_blocks(gb_state *S, const gb_opargs *a, gb_tensor *out, uint64_t mask,
                               block_fn fn) {
  plan p;
  gb_reduce_plan_init(a->in[0], mask, &p);
  const double *x = (const double *)gb_tensor_data(a->in[0]);
  double *o = (double *)gb_tensor_data(out), *buf;
  size_t bytes = (size_t)(p.nred_elems ? p.nred_elems : 1) * sizeof(double);
  gb_status st = gb_alloc_bytes(S, GB_CPU, bytes, (void **)&buf);
  if (st) return st;
  for (int64_t k = 0; k < p.nout; k++) {
    if ((k & 1023) == 1023 && gb_should_stop(S)) break;
    block_values(&p, x, keep_offset(&p, k), buf);
    o[k] = fn(buf, p.nred_elems, a);
  }
  gb_free_bytes(S, GB_CPU, buf, bytes);
  return GB_OK;
}

static double sum_of(const double *v, int64_t n, const gb_opargs *a) {
  double s = 0;
  for (int64_t j = 0; j < n; j++)
    s += v[j];
  return s;
}
static double mean_of(const double *v, int64_t n, const gb_opargs *a) {
  return sum_of(v, n, a) / (double)n;
}
/* two passes (mean, then squared deviations); i2 is the correction (1: unbiased) */
static double var_of(const double *v, int64_t n, const gb_opargs *a) {
  double mu = mean_of(v, n, a), ss = 0, denom = (double)n - (double)a->i[2];
  for (int64_t j = 0; j < n; j++)
    ss += (v[j] - mu) * (v[j] - mu);
  return denom > 0 ? ss / denom : NAN;
}
/* max + log(sum(exp(x - max))); NaN in, NaN out; an infinite max is the result */
static double lse_of(const double *v, int64_t n, const gb_opargs *a) {
  double mx = -INFINITY, s = 0;
  for (int64_t j = 0; j < n; j++) {
    if (v[j] != v[j]) return NAN;
    if (v[j] > mx) mx = v[j];
  }
  if (isinf(mx)) return mx;
  for (int64_t j = 0; j < n; j++)
    s += exp(v[j] - mx);
  return mx + log(s);
}

gb_status gb_cpu_reduce_f64(gb_state *S, gb_opid id, const gb_opargs *a, gb_tensor *out) {
  block_fn fn = id == GB_OP_SUM    ? sum_of
                : id == GB_OP_MEAN ? mean_of
                : id == GB_OP_VAR  ? var_of
                                   : lse_of;
  return reduce_blocks(S, a, out, (uint64_t)a->i[0], fn);
}

gb_status gb_cpu_extreme_f64(gb_state *S, const gb_opargs *a, gb_tensor **out, bool want_max,
                             uint64_t mask, bool values, bool indices) {
  plan p;
  gb_reduce_plan_init(a->in[0], mask, &p);
  const double *x = (const double *)gb_tensor_data(a->in[0]);
  double *vo = values ? (double *)gb_tensor_data(out[0]) : NULL;
  int64_t *io = indices ? (int64_t *)gb_tensor_data(out[values ? 1 : 0]) : NULL;
  for (int64_t k = 0; k < p.nout; k++) {
    if ((k & 1023) == 1023 && gb_should_stop(S)) break;
    int64_t idx[GB_MAXDIM] = {0}, off = keep_offset(&p, k), at = -1;
    double best = 0;
    for (int64_t j = 0; j < p.nred_elems; j++) { /* first occurrence wins; a NaN wins */
      double v = x[off];
      if (at < 0 || (best == best && (v != v || (want_max ? v > best : v < best)))) {
        best = v;
        at = j;
      }
      for (int d = p.nred - 1; d >= 0; d--) {
        off += p.red_stride[d];
        if (++idx[d] < p.red_shape[d]) break;
        off -= p.red_stride[d] * p.red_shape[d];
        idx[d] = 0;
      }
    }
    if (vo) vo[k] = best;
    if (io) io[k] = at + 1;
  }
  return GB_OK;
}
