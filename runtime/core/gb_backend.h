/* gb_backend.h — how the core reaches a device: one gb_backend (a table of function
 * pointers: memory, copies, synchronisation, statistics, capabilities and a kernel per op
 * row) per device kind. The CPU backend is linked in (runtime/cpu registers it); the others
 * are shared objects (libgpubp_<kind>.so beside the library or binary) opened with dlopen
 * the first time a device of their kind is asked for, so a CPU run never loads them. */
#ifndef GB_BACKEND_H
#define GB_BACKEND_H

#include "gb_op.h"

/* Bumped whenever gb_backend, gb_state, gb_tensor or gb_opargs change layout, or a row's
 * arguments change meaning: a plugin built against another version is refused ("cuda
 * unavailable: plugin ABI 3, runtime 4"). 4: GB_MAXIN 5, sdpa's optional mask and
 * sdpa_max_keys. */
#define GB_BACKEND_ABI 4

/* What a backend can do beyond the required entries (gb_backend.caps). */
enum {
  GB_CAP_ASYNC = 1, /* kernels are queued: results are ready after synchronize */
  GB_CAP_TF32 = 2   /* set_tf32 changes how matrix products round */
};

typedef struct gb_backend {
  int abi; /* GB_BACKEND_ABI of the build that made it */
  gb_device_kind kind;
  const char *name; /* device names are "name" (index 0) and "name:N" */
  unsigned caps;    /* GB_CAP_* */
  /* Devices usable by this process (0 when none: *why, if not NULL, says why). Never fails. */
  int (*device_count)(const char **why);
  /* Device name and total memory; false if dev does not exist. */
  bool (*device_info)(gb_device dev, char *name, size_t cap, size_t *total_bytes);
  /* Bytes on dev from S's caching allocator; GB_EOOM (sizes in the message) only after a
   * host GC, cache release and retry. free takes the size alloc was asked for. */
  gb_status (*alloc)(gb_state *S, gb_device dev, size_t nbytes, void **out);
  void (*free)(gb_state *S, gb_device dev, void *p, size_t nbytes);
  /* nbytes from src on sdev to dst on ddev, where each is the host (GB_CPU) or a device of
   * this kind; returns when a host destination holds the bytes. */
  gb_status (*copy)(gb_state *S, void *dst, gb_device ddev, const void *src, gb_device sdev,
                    size_t nbytes);
  /* Wait for all work S queued on dev's kind. */
  gb_status (*synchronize)(gb_state *S);
  void (*memstats)(gb_state *S, gb_device dev, gb_memstats *out);
  void (*reset_peak)(gb_state *S, gb_device dev);
  /* Return cached blocks of every device to the system. */
  void (*empty_cache)(gb_state *S);
  /* TF32 for matrix products (GB_CAP_TF32); NULL when the backend has no such mode. */
  void (*set_tf32)(gb_state *S, bool on);
  /* Free everything the backend holds for S (called by gb_state_free). */
  void (*release_state)(gb_state *S);
  /* One kernel per op row, indexed by gb_opid; NULL: "op: not supported on <device>". */
  const gb_kernel_fn *kernels;
  /* The queue S's work on dev goes to (a cudaStream_t for cuda), for libraries that must
   * order their work with it (NCCL); NULL when the backend has none or dev fails. */
  void *(*native_stream)(gb_state *S, gb_device dev);
  /* True when the row's kernel runs float64 operands (in double); NULL or false: the shape
   * rules refuse float64 with "op: float64 is not supported on <device>; use :float()". */
  bool (*runs_f64)(gb_opid id);
  /* The most keys per query the sdpa row takes on this backend (0: any), so that callers can
   * take the materialised softmax instead of an error (gb._sdpa_takes). */
  int64_t sdpa_max_keys;
} gb_backend;

/* Register b for its kind (b lives as long as the process). Thread-safe; the last one wins. */
GB_API void gb_backend_register(const gb_backend *b);

/* The backend of `kind`, opening its plugin on the first call for a plugin kind; NULL when
 * it is not available, with *why (if not NULL) saying why (a static string). */
GB_API const gb_backend *gb_backend_get(gb_device_kind kind, const char **why);

/* The backend already serving tensors of dev's kind, or NULL; never loads anything (the hot
 * path: a tensor on a device implies its backend was loaded). */
const gb_backend *gb_backend_loaded(gb_device dev);

/* Devices of `kind` usable now (loads the kind's plugin); 0 with *why when none. */
GB_API int gb_device_count(gb_device_kind kind, const char **why);

/* GB_OK when dev can hold tensors, else GB_EDEVICE with "cuda:1 unavailable: <why>" on S. */
GB_API gb_status gb_device_check(gb_state *S, gb_device dev);

/* Opens libgpubp_<name>.so where backend plugins are looked for (beside the binary or
 * library holding the core, its install libdir, the loader's path) and returns its symbol
 * `sym`; NULL with the reason in why (cap bytes). The library stays open. */
GB_API void *gb_plugin_symbol(const char *name, const char *sym, char *why, size_t cap);

/* Kind names, for parsing and printing devices without loading a backend. */
const char *gb_kind_name(gb_device_kind kind);

#endif
