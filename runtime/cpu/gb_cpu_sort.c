/* gb_cpu_sort.c — CPU kernels of sort and topk along one dim: each line of a contiguous copy
 * is merge-sorted as (value, index) pairs by gb_sort.h (the code the CUDA kernels run), and
 * the first k pairs are written out with 1-based indices. */
#include "gb_cpu.h"
#include "gb_layout.h"
#include "gb_sort.h"

/* out values/indices laid out as (outer, k, inner) around the dim */
static gb_status sort_lines(gb_state *S, const gb_opargs *a, gb_tensor **out, int64_t k,
                            bool desc) {
  gb_tensor *xc;
  gb_status st = gb_tensor_contiguous(S, a->in[0], &xc);
  if (st) return st;
  gb_dim_span sp = gb_dim_span_of(xc, a->i[0]);
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
