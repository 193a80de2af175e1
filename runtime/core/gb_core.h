/* gb_core.h — the runtime core's common vocabulary: statuses, dtypes, devices and the
 * per-Lua-state `gb_state` that owns everything (no globals). Plain C11: no Lua, no CUDA.
 * Every core function returns a gb_status and, on failure, leaves a message in S->err. */
#ifndef GB_CORE_H
#define GB_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define GB_API __attribute__((visibility("default")))
#define GB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define GB_API
#define GB_PRINTF(f, a)
#endif

typedef enum gb_status {
  GB_OK = 0,
  GB_EARG,    /* bad argument value (negative size, bad dim, unknown name) */
  GB_ESHAPE,  /* shapes do not fit the op */
  GB_EDTYPE,  /* dtype not supported by the op or mismatched */
  GB_EDEVICE, /* tensors on different devices, or device unavailable */
  GB_EOOM,    /* allocation failed after cache release and retry */
  GB_EIO,     /* file missing, unreadable, malformed */
  GB_ECUDA,   /* CUDA / cuBLAS failure (message has call, file, line) */
  GB_EGRAD,   /* autograd misuse (backward twice, in-place on leaf needing grad) */
  GB_ESTATE,  /* runtime misuse (closed runtime, wrong thread) */
  GB_ELIMIT   /* a budget ran out or the host interrupted the script (gb_limits.h) */
} gb_status;

/* GB_F64 comes last so the older values (and files that stored them) keep their numbers. */
typedef enum gb_dtype { GB_F32 = 0, GB_I32, GB_I64, GB_F64, GB_NDTYPE } gb_dtype;
/* float32 or float64: the dtypes maths runs in. */
static inline bool gb_dtype_is_float(gb_dtype dt) {
  return dt == GB_F32 || dt == GB_F64;
}

/* A device is (kind, index) packed in one int so tensors compare devices with ==: the kind
 * (which backend: gb_backend.h) in the high bits, the index (cuda:N's N) in the low 8. */
typedef int gb_device;
typedef enum gb_device_kind { GB_KIND_CPU = 0, GB_KIND_CUDA, GB_NKINDS } gb_device_kind;
#define GB_DEVICE(kind, index) ((gb_device)(((int)(kind) << 8) | (int)(index)))
#define GB_CPU GB_DEVICE(GB_KIND_CPU, 0)
#define GB_MAXINDEX 64 /* devices of one kind at most (cuda:0 .. cuda:63) */
static inline gb_device_kind gb_device_kind_of(gb_device d) {
  return (gb_device_kind)(d >> 8);
}
static inline int gb_device_index(gb_device d) {
  return d & 0xff;
}

#define GB_MAXDIM 8
#define GB_ERRLEN 512
/* Sizes of the message pieces formatted on the stack: a shape "(2,3,...)" (gb_shape_str,
 * up to GB_MAXDIM sizes of 64-bit integers) and a device name "cuda:12" (gb_device_name). */
#define GB_SHAPE_STRLEN 96
#define GB_DEVICE_STRLEN 16

typedef struct gb_state gb_state;
typedef struct gb_tensor gb_tensor;
typedef struct gb_node gb_node;

/* Byte accounting per device kind, read by gb.memory_stats() and the soak tests. */
typedef struct gb_memstats {
  int64_t allocated; /* bytes in live storages */
  int64_t peak;      /* high-water mark of allocated */
  int64_t reserved;  /* allocated + held in the cache */
  int64_t nalloc;    /* live storage count */
} gb_memstats;

/* Called by the allocator when an allocation fails: the host (Lua) runs a full GC cycle.
 * Mere memory pressure only sets a flag (gb_state_take_gc_request) that the host checks at
 * its safe points, so Lua finalizers do not run inside ops. */
typedef void (*gb_gc_hook)(void *ud);

/* State: one per Lua state (or per embedding runtime). Fields are private to runtime/. */
GB_API gb_state *gb_state_new(void);
GB_API void gb_state_free(gb_state *S);
GB_API const char *gb_state_error(const gb_state *S);
GB_API void gb_state_set_gc_hook(gb_state *S, gb_gc_hook hook, void *ud);
/* What the allocator asks of the host's garbage collector, at a point where no op is in flight
 * (gb_state_take_gc_request hands each request out once):
 *   GB_GC_YOUNG  every GB_GC_YOUNG_BYTES of new tensor memory: collect the young objects (Lua's
 *                generational minor collection, a step in incremental mode). A training step's
 *                temporaries die young; freeing them within a step or two gives their blocks
 *                back to the caching allocator while they are still in the CPU's caches, where
 *                a full collection every eighth of the live set (a 188 MB dataset: every ~40
 *                steps) cycled 80 blocks of each size through memory;
 *   GB_GC_FULL   the live bytes grew by an eighth (+4 MiB) over what survived the last full
 *                collection: run one (old garbage is only freed by a full one). */
typedef enum gb_gc_request { GB_GC_NONE, GB_GC_YOUNG, GB_GC_FULL } gb_gc_request;
GB_API gb_gc_request gb_state_take_gc_request(gb_state *S);
/* The host ran the collection it was asked for: the next young request comes after
 * GB_GC_YOUNG_BYTES more, and after a full one the next full request when the live bytes grow
 * by an eighth (+4 MiB) over what survived it. */
GB_API void gb_state_gc_done(gb_state *S, gb_gc_request done);
/* Byte accounting of the device's allocator (zeros for a device whose backend is not loaded). */
GB_API void gb_state_memstats(gb_state *S, gb_device dev, gb_memstats *out);

/* The device new tensors go to when none is named: set by gb_state_set_default_device, else
 * decided on the first call as cuda:0 when a GPU is usable (which opens the CUDA plugin),
 * else cpu. Setting cpu first means CUDA is never initialised. */
GB_API gb_device gb_state_default_device(gb_state *S);
/* GB_EDEVICE ("cuda unavailable: <why>") when dev cannot hold tensors; cpu always works. */
GB_API gb_status gb_state_set_default_device(gb_state *S, gb_device dev);
/* The float dtype creation functions use when none is named (gb.zeros, rand, tensor from
 * numbers, linspace, arange, layer parameters): float32 unless set, per state, as PyTorch's
 * torch.set_default_dtype. Setting refuses anything but GB_F32 and GB_F64 (GB_EDTYPE). */
GB_API gb_dtype gb_state_default_dtype(gb_state *S);
GB_API gb_status gb_state_set_default_dtype(gb_state *S, gb_dtype dt);
/* The Philox generator's key and next counter (gb.manual_seed sets (n, 0)). */
GB_API void gb_state_set_seed(gb_state *S, uint64_t seed, uint64_t offset);
GB_API void gb_state_get_seed(const gb_state *S, uint64_t *seed, uint64_t *offset);

/* Store a formatted message on S and return `st`. The message is kept until the next error. */
GB_API gb_status gb_errorf(gb_state *S, gb_status st, const char *fmt, ...) GB_PRINTF(3, 4);

GB_API const char *gb_dtype_name(gb_dtype dt);
GB_API size_t gb_dtype_size(gb_dtype dt);
/* Parse "float32"/"float"/"float64"/"double"/"int32"/"int"/"int64"/"long"; false if unknown. */
bool gb_dtype_parse(const char *name, gb_dtype *out);
/* Writes "cpu" or "cuda:N" into buf (GB_DEVICE_STRLEN bytes) and returns buf. */
const char *gb_device_name(gb_device dev, char *buf);
/* Parse "cpu", "cuda", "cuda:N" (N < GB_MAXINDEX); returns false if malformed. Loads nothing. */
bool gb_device_parse(const char *name, gb_device *out);

#endif
