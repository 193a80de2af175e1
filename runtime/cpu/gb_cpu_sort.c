/* gb_cpu_sort.c — CPU kernels of sort and topk along one dim, float32 and float64: each line
 * of a contiguous copy is merge-sorted as (value, index) pairs by gb_sort.h (the code the
 * CUDA kernels run), and the first k pairs are written out with 1-based indices. */
#include "gb_cpu.h"
#include "gb_layout.h"
#include "gb_sort.h"

/* P##sort_lines: every (o, i) line of x (the (outer, n, inner) span sp) merge-sorted by
 * P##sort_line into the scratch v/ix (tv/ti its second half), the first k pairs written to
 * ov/oi laid out as (outer, k, inner) with 1-based indices. One body for float and double. */
#define SORT_LINES_FOR(T, P)                                                                       \
  static void P##sort_lines(gb_state *S, const T *x, T *ov, int64_t *oi, gb_dim_span sp,           \
                            int64_t k, bool desc, T *v, T *tv, int64_t *ix, int64_t *ti) {         \
    for (int64_t o = 0; o < sp.outer; o++) {                                                       \
      for (int64_t i = 0; i < sp.inner; i++) {                                                     \
        const T *line = x + o * sp.n * sp.inner + i;                                               \
        for (int64_t j = 0; j < sp.n; j++) {                                                       \
          v[j] = line[j * sp.inner];                                                               \
          ix[j] = j;                                                                               \
        }                                                                                          \
        P##sort_line(v, ix, tv, ti, sp.n, 1, desc);                                                \
        for (int64_t j = 0; j < k; j++) {                                                          \
          int64_t at = (o * k + j) * sp.inner + i;                                                 \
          ov[at] = v[j];                                                                           \
          oi[at] = ix[j] + 1;                                                                      \
        }                                                                                          \
      }                                                                                            \
      if ((o & 255) == 255 && gb_should_stop(S)) break;                                            \
    }                                                                                              \
  }
SORT_LINES_FOR(float, gb_f_)
SORT_LINES_FOR(double, gb_d_)

/* out values/indices laid out as (outer, k, inner) around the dim */
static gb_status sort_lines(gb_state *S, const gb_opargs *a, gb_tensor **out, int64_t k,
                            bool desc) {
  gb_tensor *xc;
  gb_status st = gb_tensor_contiguous(S, a->in[0], &xc);
  if (st) return st;
  gb_dim_span sp = gb_dim_span_of(xc, a->i[0]);
  size_t n = (size_t)(sp.n ? sp.n : 1), es = xc->dtype == GB_F64 ? sizeof(double) : sizeof(float);
  size_t bytes = 2 * n * (es + sizeof(int64_t));
  char *buf;
  if ((st = gb_alloc_bytes(S, GB_CPU, bytes, (void **)&buf))) {
    gb_tensor_release(S, xc);
    return st;
  }
  int64_t *ix = (int64_t *)buf, *ti = ix + n; /* the indices first: 8-byte aligned */
  void *v = ti + n, *tv = (char *)v + n * es;
  int64_t *oi = (int64_t *)gb_tensor_data(out[1]);
  if (xc->dtype == GB_F64)
    gb_d_sort_lines(S, gb_tensor_data(xc), gb_tensor_data(out[0]), oi, sp, k, desc, v, tv, ix, ti);
  else
    gb_f_sort_lines(S, gb_tensor_f32(xc), gb_tensor_f32(out[0]), oi, sp, k, desc, v, tv, ix, ti);
  gb_free_bytes(S, GB_CPU, buf, bytes);
  gb_tensor_release(S, xc);
  return GB_OK;
}

gb_status gb_cpu_sort(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return sort_lines(S, a, out, a->in[0]->ndim ? a->in[0]->shape[a->i[0]] : 1, a->i[1] != 0);
}

gb_status gb_cpu_topk(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return sort_lines(S, a, out, a->i[1], a->i[2] != 0);
}
