/* gb_tensor.h — tensors: a refcounted storage (bytes on one device) seen through a
 * shape/stride/offset view, plus the autograd fields the tape uses. Views share storage.
 * Ownership: every gb_tensor* returned by a function here is a new reference the caller
 * must gb_tensor_release(); arguments are borrowed. */
#ifndef GB_TENSOR_H
#define GB_TENSOR_H

#include "gb_core.h"

typedef struct gb_storage {
  int refcount;
  gb_device device;
  size_t nbytes;
  void *data;
  gb_state *S;      /* the owner, for returning bytes to its allocator */
  uint32_t version; /* bumped by every in-place write; the tape checks it before backward */
  /* Host memory wrapped without a copy (gb_tensor_wrap): not the allocator's, so it is given
   * back through `release` (when set) instead of gb_free_bytes. */
  bool external;
  void (*release)(void *ud, void *data);
  void *release_ud;
} gb_storage;

struct gb_tensor {
  int refcount;
  gb_dtype dtype;
  gb_device device;
  int ndim;
  int64_t shape[GB_MAXDIM];
  int64_t stride[GB_MAXDIM]; /* in elements */
  int64_t offset;            /* in elements, into storage */
  int64_t numel;
  gb_storage *storage;
  /* autograd */
  bool requires_grad;   /* leaf: user asked for grad; non-leaf: some input needs grad */
  gb_tensor *grad;      /* accumulated gradient (leaves only), or NULL */
  gb_node *grad_fn;     /* node that produced this tensor (non-leaf), or NULL */
  uint32_t hook;        /* gradient hooks of a leaf (gb_hooks.c), 0 if none */
  gb_tensor *hook_acc;  /* a hooked leaf's gradient collected during one backward */
  gb_tensor *next_free; /* free-list link while recycled */
};

/* Raw element pointer at the view's offset (CPU or device address). */
static inline void *gb_tensor_data(const gb_tensor *t) {
  return (char *)t->storage->data + (size_t)t->offset * (t->dtype == GB_F32   ? 4
                                                         : t->dtype == GB_I32 ? 4
                                                                              : 8);
}
static inline float *gb_tensor_f32(const gb_tensor *t) {
  return (float *)gb_tensor_data(t);
}

/* New contiguous tensor of the given shape, uninitialised. ndim 0 is a scalar. */
GB_API gb_status gb_tensor_empty(gb_state *S, int ndim, const int64_t *shape, gb_dtype dt,
                                 gb_device dev, gb_tensor **out);
/* A tensor over memory the caller owns (`data` on `dev`), with the given shape and strides
 * (elements, >= 0; NULL = contiguous). No copy is made. The storage is external: when its
 * last reference dies, release(ud, data) is called if set (see gb_tensor_set_release), and
 * nothing is freed otherwise. Errors: GB_EARG (bad shape/strides, NULL data with elements,
 * misaligned data), GB_EOOM. On error nothing is called and the caller keeps `data`. */
gb_status gb_tensor_wrap(gb_state *S, void *data, gb_dtype dt, gb_device dev, int ndim,
                         const int64_t *shape, const int64_t *strides, gb_tensor **out);
/* Sets the release callback of t's (external) storage. */
void gb_tensor_set_release(gb_tensor *t, void (*release)(void *ud, void *data), void *ud);
/* Same shape/dtype/device as `like`. */
GB_API gb_status gb_tensor_empty_like(gb_state *S, const gb_tensor *like, gb_tensor **out);
/* A view: new tensor header sharing t's storage (no autograd fields). */
gb_tensor *gb_tensor_alias(gb_state *S, gb_tensor *t);

GB_API void gb_tensor_retain(gb_tensor *t);
GB_API void gb_tensor_release(gb_state *S, gb_tensor *t); /* NULL is allowed */
/* Drop a reference later, at the host's next safe point (gb_state_release_deferred): for
 * releases a script can trigger while an op may still hold the tensor (closing it from a
 * finalizer). NULL is allowed. */
GB_API void gb_tensor_release_deferred(gb_state *S, gb_tensor *t);

GB_API bool gb_tensor_is_contiguous(const gb_tensor *t);
GB_API bool gb_shape_equal(const gb_tensor *a, const gb_tensor *b);
/* Sets contiguous row-major strides and numel from shape. */
void gb_tensor_set_contiguous_strides(gb_tensor *t);
/* "(2,3)" into buf (GB_SHAPE_STRLEN bytes); returns buf. */
GB_API const char *gb_shape_str(const gb_tensor *t, char *buf);
const char *gb_shape_str_n(int ndim, const int64_t *shape, char *buf);

/* Read element i (row-major logical index) as double; for printing and tests. */
double gb_tensor_get_flat(const gb_tensor *t, int64_t i);
/* The same for integer dtypes, exact over the whole int64 range. */
int64_t gb_tensor_get_flat_int(const gb_tensor *t, int64_t i);

#endif
