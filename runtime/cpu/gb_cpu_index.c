/* gb_cpu_index.c — CPU kernels that move elements by integer indices (1-based, int64 or
 * int32): index_select / index_add along a dim, gather / scatter_add. Indices are checked
 * and an out-of-range one is an error naming its position. */
#include <string.h>

#include "gb_cpu.h"

static int64_t index_at(const gb_tensor *idx, int64_t i) {
  const char *b = gb_tensor_data(idx);
  return idx->dtype == GB_I64 ? ((const int64_t *)b)[i] : ((const int32_t *)b)[i];
}

/* Copy idx to a 0-based int64 array, checking 1..limit. Caller frees with gb_free_bytes. */
static gb_status indices_0based(gb_state *S, const char *op, gb_tensor *idx, int64_t limit,
                                int64_t **out) {
  gb_tensor *ic;
  gb_status st = gb_tensor_contiguous(S, idx, &ic);
  if (st) return st;
  int64_t n = ic->numel, *v;
  if ((st = gb_alloc_bytes(S, GB_CPU, (size_t)(n ? n : 1) * sizeof *v, (void **)&v))) {
    gb_tensor_release(S, ic);
    return st;
  }
  for (int64_t i = 0; i < n; i++) {
    int64_t j = index_at(ic, i);
    if (j < 1 || j > limit) {
      gb_tensor_release(S, ic);
      gb_free_bytes(S, GB_CPU, v, (size_t)(n ? n : 1) * sizeof *v);
      return gb_errorf(S, GB_EARG, "%s: index %lld at position %lld is out of range 1..%lld", op,
                       (long long)j, (long long)i + 1, (long long)limit);
    }
    v[i] = j - 1;
  }
  gb_tensor_release(S, ic);
  *out = v;
  return GB_OK;
}

static void free_indices(gb_state *S, int64_t *v, int64_t n) {
  gb_free_bytes(S, GB_CPU, v, (size_t)(n ? n : 1) * sizeof *v);
}

/* outer/inner element counts around `dim` of a contiguous shape */
static void around(const gb_tensor *t, int64_t dim, int64_t *outer, int64_t *inner) {
  *outer = *inner = 1;
  for (int d = 0; d < dim; d++)
    *outer *= t->shape[d];
  for (int d = (int)dim + 1; d < t->ndim; d++)
    *inner *= t->shape[d];
}

gb_status gb_cpu_index_select(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  int64_t dim = a->i[0], *iv, outer, inner;
  gb_tensor *xc;
  gb_status st = indices_0based(S, "index_select", a->in[1], a->in[0]->shape[dim], &iv);
  if (st) return st;
  if ((st = gb_tensor_contiguous(S, a->in[0], &xc))) {
    free_indices(S, iv, a->in[1]->numel);
    return st;
  }
  around(xc, dim, &outer, &inner);
  size_t es = gb_dtype_size(xc->dtype), row = (size_t)inner * es;
  int64_t n = xc->shape[dim], m = a->in[1]->numel;
  const char *x = gb_tensor_data(xc);
  char *o = gb_tensor_data(out[0]);
  for (int64_t p = 0; p < outer; p++)
    for (int64_t j = 0; j < m; j++)
      memcpy(o + (size_t)(p * m + j) * row, x + (size_t)(p * n + iv[j]) * row, row);
  gb_tensor_release(S, xc);
  free_indices(S, iv, m);
  return GB_OK;
}

gb_status gb_cpu_index_add(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  int64_t dim = a->i[0], *iv, outer, inner;
  gb_tensor *sc;
  gb_opargs c = {.in = {a->in[0]}, .nin = 1, .i = {-1}};
  gb_status st = gb_cpu_copy(S, &c, out);
  if (st) return st;
  if ((st = indices_0based(S, "index_add", a->in[1], a->in[0]->shape[dim], &iv))) return st;
  if ((st = gb_tensor_contiguous(S, a->in[2], &sc))) {
    free_indices(S, iv, a->in[1]->numel);
    return st;
  }
  around(out[0], dim, &outer, &inner);
  int64_t n = out[0]->shape[dim], m = a->in[1]->numel;
  if (out[0]->dtype == GB_F64) {
    const double *s = gb_tensor_data(sc);
    double *o = gb_tensor_data(out[0]);
    for (int64_t p = 0; p < outer; p++)
      for (int64_t j = 0; j < m; j++)
        for (int64_t q = 0; q < inner; q++)
          o[(p * n + iv[j]) * inner + q] += s[(p * m + j) * inner + q];
  } else {
    const float *s = gb_tensor_f32(sc);
    float *o = gb_tensor_f32(out[0]);
    for (int64_t p = 0; p < outer; p++)
      for (int64_t j = 0; j < m; j++) {
        float *dst = o + (p * n + iv[j]) * inner;
        const float *src = s + (p * m + j) * inner;
        for (int64_t q = 0; q < inner; q++)
          dst[q] += src[q];
      }
  }
  gb_tensor_release(S, sc);
  free_indices(S, iv, m);
  return GB_OK;
}

/* Element offset in a contiguous tensor of `shape` for the coordinates of linear index i in
 * `ishape`, with coordinate `dim` replaced by `j`. */
static int64_t remap(const gb_tensor *shape_of, const gb_tensor *ishape, int64_t i, int64_t dim,
                     int64_t j) {
  int64_t off = 0, mul = 1;
  for (int d = ishape->ndim - 1; d >= 0; d--) {
    int64_t c = i % ishape->shape[d];
    i /= ishape->shape[d];
    off += (d == dim ? j : c) * mul;
    mul *= shape_of->shape[d];
  }
  return off;
}

gb_status gb_cpu_gather(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  int64_t dim = a->i[0], *iv;
  gb_tensor *xc;
  gb_status st = indices_0based(S, "gather", a->in[1], a->in[0]->shape[dim], &iv);
  if (st) return st;
  if ((st = gb_tensor_contiguous(S, a->in[0], &xc))) {
    free_indices(S, iv, a->in[1]->numel);
    return st;
  }
  size_t es = gb_dtype_size(xc->dtype);
  const char *x = gb_tensor_data(xc);
  char *o = gb_tensor_data(out[0]);
  for (int64_t i = 0; i < out[0]->numel; i++)
    memcpy(o + (size_t)i * es, x + (size_t)remap(xc, out[0], i, dim, iv[i]) * es, es);
  gb_tensor_release(S, xc);
  free_indices(S, iv, a->in[1]->numel);
  return GB_OK;
}

gb_status gb_cpu_scatter_add(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  int64_t dim = a->i[0], *iv;
  gb_tensor *sc;
  gb_opargs c = {.in = {a->in[0]}, .nin = 1, .i = {-1}};
  gb_status st = gb_cpu_copy(S, &c, out);
  if (st) return st;
  if ((st = indices_0based(S, "scatter_add", a->in[1], a->in[0]->shape[dim], &iv))) return st;
  if ((st = gb_tensor_contiguous(S, a->in[2], &sc))) {
    free_indices(S, iv, a->in[1]->numel);
    return st;
  }
  if (out[0]->dtype == GB_F64) {
    const double *s = gb_tensor_data(sc);
    double *o = gb_tensor_data(out[0]);
    for (int64_t i = 0; i < sc->numel; i++)
      o[remap(out[0], sc, i, dim, iv[i])] += s[i];
  } else {
    const float *s = gb_tensor_f32(sc);
    float *o = gb_tensor_f32(out[0]);
    for (int64_t i = 0; i < sc->numel; i++)
      o[remap(out[0], sc, i, dim, iv[i])] += s[i];
  }
  gb_tensor_release(S, sc);
  free_indices(S, iv, a->in[1]->numel);
  return GB_OK;
}
