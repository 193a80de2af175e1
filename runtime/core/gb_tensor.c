/* gb_tensor.c — tensor and storage lifetimes (refcounts, recycled headers), contiguity and
 * shape helpers. Kernels live in gb_cpu_*.c; ops and autograd in gb_op.c / gb_tape.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void gb_tensor_set_contiguous_strides(gb_tensor *t) {
  int64_t n = 1;
  for (int d = t->ndim - 1; d >= 0; d--) {
    t->stride[d] = n;
    n *= t->shape[d];
  }
  t->numel = n;
}

/* numel of a shape, or -1 on a negative size or overflow past 2^62 */
static int64_t shape_numel(int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] < 0) return -1;
    if (shape[d] && n > ((int64_t)1 << 62) / shape[d]) return -1;
    n *= shape[d];
  }
  return n;
}

gb_status gb_tensor_empty(gb_state *S, int ndim, const int64_t *shape, gb_dtype dt, gb_device dev,
                          gb_tensor **out) {
  char sb[GB_SHAPE_STRLEN];
  if (ndim < 0 || ndim > GB_MAXDIM)
    return gb_errorf(S, GB_EARG, "tensor: %d dimensions (at most %d supported)", ndim, GB_MAXDIM);
  int64_t n = shape_numel(ndim, shape);
  for (int d = 0; d < ndim; d++)
    if (shape[d] < 0)
      return gb_errorf(S, GB_EARG, "tensor: invalid shape %s (sizes must be >= 0)",
                       gb_shape_str_n(ndim, shape, sb));
  if (n < 0)
    return gb_errorf(S, GB_EOOM, "out of memory: tensor of shape %s has more than 2^62 elements",
                     gb_shape_str_n(ndim, shape, sb));
  size_t nbytes = (size_t)n * gb_dtype_size(dt);
  if (n > ((int64_t)1 << 40))
    return gb_errorf(S, GB_EOOM, "out of memory: tensor of shape %s needs %.3g GiB",
                     gb_shape_str_n(ndim, shape, sb), (double)nbytes / (1 << 30));
  void *data = NULL;
  gb_status st = gb_alloc_bytes(S, dev, nbytes, &data);
  if (st) return st;
  gb_storage *sto = S->free_storages;
  if (sto) {
    S->free_storages = (gb_storage *)sto->data;
    S->nfree_storages--;
  } else
    sto = malloc(sizeof *sto);
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
  int64_t n = shape_numel(ndim, shape);
  if (n < 0)
    return gb_errorf(S, GB_EARG, "wrap: invalid shape %s (sizes must be >= 0, product < 2^62)",
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
  gb_storage *sto = S->free_storages;
  if (sto) {
    S->free_storages = (gb_storage *)sto->data;
    S->nfree_storages--;
  } else
    sto = malloc(sizeof *sto);
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
  case GB_F32: return (int64_t)((const float *)base)[off];
  case GB_I32: return ((const int32_t *)base)[off];
  default: return ((const int64_t *)base)[off];
  }
}

double gb_tensor_get_flat(const gb_tensor *t, int64_t i) {
  int64_t off = flat_offset(t, i);
  const char *base = t->storage->data;
  switch (t->dtype) {
  case GB_F32: return ((const float *)base)[off];
  case GB_I32: return ((const int32_t *)base)[off];
  default: return (double)((const int64_t *)base)[off];
  }
}
