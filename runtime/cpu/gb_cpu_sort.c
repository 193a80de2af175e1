/* gb_cpu_sort.c — CPU kernels of sort and topk along one dim: each line of a contiguous copy
 * is merge-sorted as (value, index) pairs by gb_sort.h (the code the CUDA kernels run), and
 * the first k pairs are written out with 1-based indices. */
#include <stdlib.h>

#include "gb_cpu.h"
#include "gb_layout.h"
#include "gb_sort.h"

/* float64 lines: (value, index) pairs ordered as gb_sort_before orders floats (NaN largest,
 * ties by index); with the index as the last key the order is total, so qsort gives the same
 * result as the stable merge sort */
typedef struct pair_d {
  double v;
  int64_t i;
} pair_d;

static int cmp_pair(const pair_d *a, const pair_d *b, bool desc) {
  bool na = a->v != a->v, nb = b->v != b->v;
  if (na != nb) return (desc ? na : nb) ? -1 : 1;
  if (!na && a->v != b->v) return (desc ? a->v > b->v : a->v < b->v) ? -1 : 1;
  return a->i < b->i ? -1 : a->i > b->i;
}
static int cmp_asc(const void *a, const void *b) {
  return cmp_pair(a, b, false);
}
static int cmp_desc(const void *a, const void *b) {
  return cmp_pair(a, b, true);
}

static gb_status sort_lines_f64(gb_state *S, const gb_tensor *xc, gb_dim_span sp, gb_tensor **out,
                                int64_t k, bool desc) {
  size_t bytes = (size_t)(sp.n ? sp.n : 1) * sizeof(pair_d);
  pair_d *w;
  gb_status st = gb_alloc_bytes(S, GB_CPU, bytes, (void **)&w);
  if (st) return st;
  const double *x = gb_tensor_data(xc);
  double *ov = gb_tensor_data(out[0]);
  int64_t *oi = (int64_t *)gb_tensor_data(out[1]);
  for (int64_t o = 0; o < sp.outer; o++)
    for (int64_t i = 0; i < sp.inner; i++) {
      for (int64_t j = 0; j < sp.n; j++)
        w[j] = (pair_d){x[(o * sp.n + j) * sp.inner + i], j};
      qsort(w, (size_t)sp.n, sizeof *w, desc ? cmp_desc : cmp_asc);
      for (int64_t j = 0; j < k; j++) {
        ov[(o * k + j) * sp.inner + i] = w[j].v;
        oi[(o * k + j) * sp.inner + i] = w[j].i + 1;
      }
    }
  gb_free_bytes(S, GB_CPU, w, bytes);
  return GB_OK;
}

/* out values/indices laid out as (outer, k, inner) around the dim */
static gb_status sort_lines(gb_state *S, const gb_opargs *a, gb_tensor **out, int64_t k,
                            bool desc) {
  gb_tensor *xc;
  gb_status st = gb_tensor_contiguous(S, a->in[0], &xc);
  if (st) return st;
  gb_dim_span sp = gb_dim_span_of(xc, a->i[0]);
  if (xc->dtype == GB_F64) {
    st = sort_lines_f64(S, xc, sp, out, k, desc);
    gb_tensor_release(S, xc);
    return st;
  }
  size_t n = (size_t)(sp.n ? sp.n : 1), bytes = 2 * n * (sizeof(float) + sizeof(int64_t));
  char *buf;
  if ((st = gb_alloc_bytes(S, GB_CPU, bytes, (void **)&buf))) {
    gb_tensor_release(S, xc);
    return st;
  }
  float *v = (float *)buf, *tv = v + n;
  int64_t *ix = (int64_t *)(tv + n), *ti = ix + n;
  const float *x = gb_tensor_f32(xc);
  float *ov = gb_tensor_f32(out[0]);
  int64_t *oi = (int64_t *)gb_tensor_data(out[1]);
  for (int64_t o = 0; o < sp.outer; o++) {
    for (int64_t i = 0; i < sp.inner; i++) {
      const float *line = x + o * sp.n * sp.inner + i;
      for (int64_t j = 0; j < sp.n; j++) {
        v[j] = line[j * sp.inner];
        ix[j] = j;
      }
      gb_sort_line(v, ix, tv, ti, sp.n, 1, desc);
      for (int64_t j = 0; j < k; j++) {
        int64_t at = (o * k + j) * sp.inner + i;
        ov[at] = v[j];
        oi[at] = ix[j] + 1;
      }
    }
    if ((o & 255) == 255 && gb_should_stop(S)) break;
  }
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
