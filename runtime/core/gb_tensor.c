/* gb_tensor.c — tensor and storage lifetimes (refcounts, recycled headers), contiguity and
 * shape helpers. Kernels live in gb_cpu_*.c; ops and autograd in gb_op.c / gb_tape.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gb_checked.h"
#include "gb_state.h"

static gb_tensor *tensor_header(gb_state *S) {
  gb_tensor *t = S->free_tensors;
  if (t) {
    S->free_tensors = t->next_free;
    S->nfree_tensors--;
  } else
    t = malloc(sizeof *t);
  if (t) memset(t, 0, sizeof *t);
  return t;
}

/* A storage header from the state's free list (linked through its data field), else malloc'd;
 * NULL when out of memory. The caller sets every field. */
static gb_storage *storage_header(gb_state *S) {
  gb_storage *sto = S->free_storages;
  if (sto) {
    S->free_storages = (gb_storage *)sto->data;
    S->nfree_storages--;
  } else
    sto = malloc(sizeof *sto);
  return sto;
}

void gb_tensor_set_contiguous_strides(gb_tensor *t) {
  int64_t n = 1;
  for (int d = t->ndim - 1; d >= 0; d--) {
    t->stride[d] = n;
    n *= t->shape[d];
  }
  t->numel = n;
}

const char *gb_value_str(double v, char *buf) {
  if (v != v)
    snprintf(buf, 32, "nan");
  else if (v - v != 0)
    snprintf(buf, 32, v > 0 ? "inf" : "-inf");
  else
    snprintf(buf, 32, "%.17g", v);
  return buf;
}

int64_t gb_shape_numel_checked(int ndim, const int64_t *shape) {
  int64_t extent = 1;
  bool zero = false;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] < 0) return -1;
    if (shape[d] == 0) {
      zero = true;
      continue;
    }
    if (gb_mul_ovf(extent, shape[d], &extent) || extent > GB_MAX_NUMEL) return -1;
  }
  return zero ? 0 : extent;
}

gb_status gb_shape_check(gb_state *S, const char *op, int ndim, const int64_t *shape,
                         int64_t *numel) {
  char sb[96];
  int64_t n = gb_shape_numel_checked(ndim, shape);
  if (n < 0) {
    for (int d = 0; d < ndim; d++)
      if (shape[d] < 0)
        return gb_errorf(S, GB_ESHAPE, "%s: invalid shape %s (sizes must be >= 0)", op,
                         gb_shape_str_n(ndim, shape, sb));
    return gb_errorf(S, GB_ESHAPE,
                     "%s: shape %s is too large (more than " GB_MAX_NUMEL_STR
                     " elements, counting sizes 0 as 1)",
                     op, gb_shape_str_n(ndim, shape, sb));
  }
  if (numel) *numel = n;
  return GB_OK;
}

gb_status gb_tensor_empty(gb_state *S, int ndim, const int64_t *shape, gb_dtype dt, gb_device dev,
                          gb_tensor **out) {
  char sb[GB_SHAPE_STRLEN];
  if (ndim < 0 || ndim > GB_MAXDIM)
    return gb_errorf(S, GB_EARG, "tensor: %d dimensions (at most %d supported)", ndim, GB_MAXDIM);
  for (int d = 0; d < ndim; d++)
    if (shape[d] < 0)
      return gb_errorf(S, GB_EARG, "tensor: invalid shape %s (sizes must be >= 0)",
                       gb_shape_str_n(ndim, shape, sb));
  int64_t n = gb_shape_numel_checked(ndim, shape);
  if (n < 0) {
    double elems = 1; /* the request in floating point: it may be far past int64 */
    for (int d = 0; d < ndim; d++)
      elems *= (double)shape[d];
    if (elems == 0)
      return gb_errorf(
          S, GB_ESHAPE,
          "tensor: shape %s is too large (its nonzero sizes multiply past " GB_MAX_NUMEL_STR
          " elements)",
          gb_shape_str_n(ndim, shape, sb));
    double bytes = elems * (double)gb_dtype_size(dt);
    return gb_errorf(
        S, GB_EOOM,
        "out of memory: tensor of shape %s needs %.4g GiB (%.0f bytes; at most " GB_MAX_NUMEL_STR
        " elements per tensor)",
        gb_shape_str_n(ndim, shape, sb), bytes / (double)(1 << 30), bytes);
  }
  size_t nbytes = (size_t)n * gb_dtype_size(dt);
  void *data = NULL;
  gb_status st = gb_alloc_bytes(S, dev, nbytes, &data);
  if (st) return st;
  gb_storage *sto = storage_header(S);
  gb_tensor *t = tensor_header(S);
  if (!sto || !t) {
    free(sto);
    free(t);
    gb_free_bytes(S, dev, data, nbytes);
    return gb_errorf(S, GB_EOOM, "out of memory: tensor header");
  }
  *sto = (gb_storage){.refcount = 1, .device = dev, .nbytes = nbytes, .data = data, .S = S};
  t->refcount = 1;
  t->dtype = dt;
  t->device = dev;
  t->ndim = ndim;
  if (ndim) memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
  gb_tensor_set_contiguous_strides(t);
  t->storage = sto;
  *out = t;
  return GB_OK;
}

gb_status gb_tensor_wrap(gb_state *S, void *data, gb_dtype dt, gb_device dev, int ndim,
                         const int64_t *shape, const int64_t *strides, gb_tensor **out) {
  char sb[96];
  size_t es = gb_dtype_size(dt);
  if (es == 0) return gb_errorf(S, GB_EARG, "wrap: unknown dtype %d", (int)dt);
  if (ndim < 0 || ndim > GB_MAXDIM)
    return gb_errorf(S, GB_EARG, "wrap: %d dimensions (0..%d supported)", ndim, GB_MAXDIM);
  int64_t n = gb_shape_numel_checked(ndim, shape);
  if (n < 0)
    return gb_errorf(S, GB_EARG,
                     "wrap: invalid shape %s (sizes must be >= 0, at most " GB_MAX_NUMEL_STR
                     " elements)",
                     gb_shape_str_n(ndim, shape, sb));
  int64_t stride[GB_MAXDIM], extent = n > 0 ? 1 : 0; /* elements spanned: 1 + max offset */
  int64_t run = 1;                                   /* contiguous strides, when none given */
  for (int d = ndim - 1; d >= 0; d--) {
    stride[d] = strides ? strides[d] : run;
    if (n > 0) run *= shape[d];
    if (stride[d] < 0)
      return gb_errorf(S, GB_EARG, "wrap: stride %lld of dim %d is negative", (long long)stride[d],
                       d + 1);
    if (n > 0 && shape[d] > 1) {
      if (stride[d] > (((int64_t)1 << 62) - extent) / (shape[d] - 1))
        return gb_errorf(S, GB_EARG, "wrap: strides of shape %s span more than 2^62 elements",
                         gb_shape_str_n(ndim, shape, sb));
      extent += (shape[d] - 1) * stride[d];
    }
  }
  if (extent > 0 && data == NULL)
    return gb_errorf(S, GB_EARG, "wrap: data is NULL for a tensor of shape %s",
                     gb_shape_str_n(ndim, shape, sb));
  if ((uintptr_t)data % es != 0)
    return gb_errorf(S, GB_EARG, "wrap: data is not aligned to %zu bytes for %s", es,
                     gb_dtype_name(dt));
  if (extent > ((int64_t)1 << 62) / (int64_t)es)
    return gb_errorf(S, GB_EARG, "wrap: tensor of shape %s spans too many bytes",
                     gb_shape_str_n(ndim, shape, sb));
  gb_storage *sto = storage_header(S);
  gb_tensor *t = tensor_header(S);
  if (!sto || !t) {
    free(sto);
    free(t);
    return gb_errorf(S, GB_EOOM, "out of memory: tensor header");
  }
  *sto = (gb_storage){.refcount = 1,
                      .device = dev,
                      .nbytes = (size_t)extent * es,
                      .data = data,
                      .S = S,
                      .external = true};
  t->refcount = 1;
  t->dtype = dt;
  t->device = dev;
  t->ndim = ndim;
  if (ndim) memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
  gb_tensor_set_contiguous_strides(t); /* numel */
  if (ndim) memcpy(t->stride, stride, sizeof(int64_t) * (size_t)ndim);
  t->storage = sto;
  *out = t;
  return GB_OK;
}

void gb_tensor_set_release(gb_tensor *t, void (*release)(void *ud, void *data), void *ud) {
  t->storage->release = release;
  t->storage->release_ud = ud;
}

gb_status gb_tensor_empty_like(gb_state *S, const gb_tensor *like, gb_tensor **out) {
  return gb_tensor_empty(S, like->ndim, like->shape, like->dtype, like->device, out);
}

gb_tensor *gb_tensor_alias(gb_state *S, gb_tensor *t) {
  gb_tensor *a = tensor_header(S);
  if (!a) return NULL;
  a->refcount = 1;
  a->dtype = t->dtype;
  a->device = t->device;
  a->ndim = t->ndim;
  memcpy(a->shape, t->shape, sizeof a->shape);
  memcpy(a->stride, t->stride, sizeof a->stride);
  a->offset = t->offset;
  a->numel = t->numel;
  a->storage = t->storage;
  t->storage->refcount++;
  return a;
}

void gb_tensor_retain(gb_tensor *t) {
  t->refcount++;
}

void gb_node_release(gb_state *S, gb_node *n); /* gb_tape.c */

static void storage_release(gb_state *S, gb_storage *st) {
  if (--st->refcount > 0) return;
  if (!st->external)
    gb_free_bytes(S, st->device, st->data, st->nbytes);
  else if (st->release)
    st->release(st->release_ud, st->data);
  if (S->nfree_storages >= GB_FREE_KEEP) {
    free(st);
    return;
  }
  st->data = S->free_storages; /* the free list links through the data field */
  S->free_storages = st;
  S->nfree_storages++;
}

void gb_tensor_release(gb_state *S, gb_tensor *t) {
  if (!t || --t->refcount > 0) return;
  storage_release(S, t->storage);
  gb_tensor *g = t->grad;
  gb_node *fn = t->grad_fn;
  if (t->hook) gb_hooks_dead(S, t->hook);
  if (S->nfree_tensors < GB_FREE_KEEP) {
    t->next_free = S->free_tensors;
    S->free_tensors = t;
    S->nfree_tensors++;
  } else {
    free(t);
  }
  gb_tensor_release(S, g);
  if (fn) gb_node_release(S, fn);
}

bool gb_tensor_is_contiguous(const gb_tensor *t) {
  int64_t n = 1;
  for (int d = t->ndim - 1; d >= 0; d--) {
    if (t->shape[d] != 1 && t->stride[d] != n) return false;
    n *= t->shape[d];
  }
  return true;
}

bool gb_shape_equal(const gb_tensor *a, const gb_tensor *b) {
  if (a->ndim != b->ndim) return false;
  for (int d = 0; d < a->ndim; d++)
    if (a->shape[d] != b->shape[d]) return false;
  return true;
}

const char *gb_shape_str_n(int ndim, const int64_t *shape, char *buf) {
  size_t len = 0;
  buf[len++] = '(';
  for (int d = 0; d < ndim && len < 80; d++)
    len += (size_t)snprintf(buf + len, GB_SHAPE_STRLEN - len, d ? ",%lld" : "%lld",
                            (long long)shape[d]);
  snprintf(buf + len, GB_SHAPE_STRLEN - len, ")");
  return buf;
}

const char *gb_shape_str(const gb_tensor *t, char *buf) {
  return gb_shape_str_n(t->ndim, t->shape, buf);
}

static int64_t flat_offset(const gb_tensor *t, int64_t i) {
  int64_t off = t->offset;
  for (int d = t->ndim - 1; d >= 0; d--) {
    off += (i % t->shape[d]) * t->stride[d];
    i /= t->shape[d];
  }
  return off;
}

int64_t gb_tensor_get_flat_int(const gb_tensor *t, int64_t i) {
  int64_t off = flat_offset(t, i);
  const char *base = t->storage->data;
  switch (t->dtype) {
  case GB_F32: { /* NaN or out of range reads as 0 rather than undefined behaviour */
    float v = ((const float *)base)[off];
    return gb_value_fits(GB_I64, v) ? (int64_t)v : 0;
  }
  case GB_F64: {
    double v = ((const double *)base)[off];
    return gb_value_fits(GB_I64, v) ? (int64_t)v : 0;
  }
  case GB_I32: return ((const int32_t *)base)[off];
  case GB_I64:
  case GB_NDTYPE: break;
  }
  return ((const int64_t *)base)[off];
}

double gb_tensor_get_flat(const gb_tensor *t, int64_t i) {
  int64_t off = flat_offset(t, i);
  const char *base = t->storage->data;
  switch (t->dtype) {
  case GB_F32: return ((const float *)base)[off];
  case GB_F64: return ((const double *)base)[off];
  case GB_I32: return ((const int32_t *)base)[off];
  case GB_I64:
  case GB_NDTYPE: break;
  }
  return (double)((const int64_t *)base)[off];
}
