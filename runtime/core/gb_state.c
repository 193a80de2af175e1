#define _GNU_SOURCE /* madvise */
/* gb_state.c — the runtime state: creation, error messages, dtype/device names, the default
 * device and the RNG position, and the host's caching allocator (size-class bins, byte
 * accounting, GC-and-retry on failure) that the CPU backend serves its memory from. Device
 * memory is the device's backend's (gb_backend.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gb_backend.h"
#include "gb_state.h"

gb_state *gb_state_new(void) {
  gb_state *S = calloc(1, sizeof *S);
  if (!S) return NULL;
  S->seed = 0x5eed5eedULL;
  S->grad_enabled = true;
  S->default_device = GB_DEVICE_AUTO;
  S->default_dtype = GB_F32;
  S->gc_threshold = 4 << 20;
  S->gc_young_left = GB_GC_YOUNG_BYTES;
  S->nthreads = 1;
  return S;
}

static void free_lists(gb_state *S) {
  while (S->free_tensors) {
    gb_tensor *t = S->free_tensors;
    S->free_tensors = t->next_free;
    free(t);
  }
  while (S->free_storages) {
    gb_storage *st = S->free_storages;
    S->free_storages = (gb_storage *)st->data;
    free(st);
  }
  while (S->free_nodes) {
    gb_node *n = S->free_nodes;
    S->free_nodes = n->next_free;
    free(n);
  }
}

void gb_state_free(gb_state *S) {
  if (!S) return;
  gb_state_release_deferred(S);
  free(S->deferred);
  gb_state_set_limits(S, NULL);
  free_lists(S);
  free(S->dead_hooks);
  free(S->hook_leaves);
  gb_alloc_release_cache(S);
  for (int k = 0; k < GB_NKINDS; k++) {
    const gb_backend *b = S->backend[k] ? gb_backend_loaded(GB_DEVICE(k, 0)) : NULL;
    if (b && b->release_state) b->release_state(S);
  }
  free(S);
}

const char *gb_state_error(const gb_state *S) {
  return S->err;
}

void gb_state_set_gc_hook(gb_state *S, gb_gc_hook hook, void *ud) {
  S->gc_hook = hook;
  S->gc_ud = ud;
}

gb_gc_request gb_state_take_gc_request(gb_state *S) {
  if (S->in_gc) return GB_GC_NONE;
  gb_gc_request want = S->gc_pending;
  S->gc_pending = GB_GC_NONE;
  return want;
}

void gb_state_gc_done(gb_state *S, gb_gc_request done) {
  S->gc_young_left = GB_GC_YOUNG_BYTES;
  if (done != GB_GC_FULL) return;
  S->gc_threshold = S->cpu.allocated + S->cpu.allocated / 8 + (4 << 20);
  S->gc_epoch++;
}

void gb_tensor_release_deferred(gb_state *S, gb_tensor *t) {
  if (!t) return;
  if (S->ndeferred == S->cap_deferred) {
    int cap = S->cap_deferred ? S->cap_deferred * 2 : 64;
    gb_tensor **v = realloc(S->deferred, (size_t)cap * sizeof *v);
    if (!v) { /* cannot queue it: keep the reference (a leak beats a use after free) */
      return;
    }
    S->deferred = v;
    S->cap_deferred = cap;
  }
  S->deferred[S->ndeferred++] = t;
}

void gb_state_release_deferred(gb_state *S) {
  while (S->ndeferred > 0)
    gb_tensor_release(S, S->deferred[--S->ndeferred]);
}

gb_status gb_errorf(gb_state *S, gb_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(S->err, sizeof S->err, fmt, ap);
  va_end(ap);
  return st;
}

static const char *const dtype_names[GB_NDTYPE] = {"float32", "int32", "int64", "float64"};
static const size_t dtype_sizes[GB_NDTYPE] = {4, 4, 8, 8};

const char *gb_dtype_name(gb_dtype dt) {
  return (unsigned)dt < GB_NDTYPE ? dtype_names[dt] : "?";
}
size_t gb_dtype_size(gb_dtype dt) {
  return (unsigned)dt < GB_NDTYPE ? dtype_sizes[dt] : 0;
}

bool gb_dtype_parse(const char *name, gb_dtype *out) {
  static const struct {
    const char *name;
    gb_dtype dt;
  } names[] = {{"float32", GB_F32}, {"float", GB_F32}, {"float64", GB_F64}, {"double", GB_F64},
               {"int32", GB_I32},   {"int", GB_I32},   {"int64", GB_I64},   {"long", GB_I64}};
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
    if (strcmp(name, names[k].name) == 0) {
      *out = names[k].dt;
      return true;
    }
  return false;
}

const char *gb_device_name(gb_device dev, char *buf) {
  if (dev == GB_CPU)
    strcpy(buf, "cpu");
  else
    snprintf(buf, GB_DEVICE_STRLEN, "%s:%d", gb_kind_name(gb_device_kind_of(dev)),
             gb_device_index(dev));
  return buf;
}

bool gb_device_parse(const char *name, gb_device *out) {
  if (strcmp(name, "cpu") == 0) {
    *out = GB_CPU;
    return true;
  }
  for (int k = GB_KIND_CPU + 1; k < GB_NKINDS; k++) {
    const char *kn = gb_kind_name((gb_device_kind)k);
    size_t len = strlen(kn);
    if (strncmp(name, kn, len) != 0) continue;
    if (name[len] == '\0') {
      *out = GB_DEVICE(k, 0);
      return true;
    }
    if (name[len] == ':' && name[len + 1] >= '0' && name[len + 1] <= '9') {
      char *end;
      long n = strtol(name + len + 1, &end, 10);
      if (*end == '\0' && n < GB_MAXINDEX) {
        *out = GB_DEVICE(k, n);
        return true;
      }
    }
  }
  return false;
}

/* Whether an NVIDIA driver's device node exists (/dev/nvidiactl, or /dev/dxg under WSL2).
 * Without one no GPU is usable, and the automatic default device need not map the CUDA
 * plugin (~4 ms of start-up) to learn that. */
static bool gpu_driver_present(void) {
  return access("/dev/nvidiactl", F_OK) == 0 || access("/dev/dxg", F_OK) == 0;
}

gb_device gb_state_default_device(gb_state *S) {
  if (S->default_device == GB_DEVICE_AUTO) /* the first ask decides: cuda if a GPU is usable */
    S->default_device = gpu_driver_present() && gb_device_count(GB_KIND_CUDA, NULL) > 0
                            ? GB_DEVICE(GB_KIND_CUDA, 0)
                            : GB_CPU;
  return S->default_device;
}

gb_status gb_state_set_default_device(gb_state *S, gb_device dev) {
  gb_status st = dev == GB_CPU ? GB_OK : gb_device_check(S, dev);
  if (st) return st;
  S->default_device = dev;
  return GB_OK;
}

gb_dtype gb_state_default_dtype(gb_state *S) {
  return S->default_dtype;
}

gb_status gb_state_set_default_dtype(gb_state *S, gb_dtype dt) {
  if (dt != GB_F32 && dt != GB_F64)
    return gb_errorf(S, GB_EDTYPE,
                     "set_default_dtype: %s is not a float dtype (expected float32 or float64)",
                     (unsigned)dt < GB_NDTYPE ? gb_dtype_name(dt) : "?");
  S->default_dtype = dt;
  return GB_OK;
}

void gb_state_set_seed(gb_state *S, uint64_t seed, uint64_t offset) {
  S->seed = seed;
  S->rng_offset = offset;
}

void gb_state_get_seed(const gb_state *S, uint64_t *seed, uint64_t *offset) {
  if (seed) *seed = S->seed;
  if (offset) *offset = S->rng_offset;
}

/* ---- CPU caching allocator ----------------------------------------------------------------
 * Sizes round up to a class with 4 steps per power of two (at most 25% waste); freed blocks
 * wait in their class's bin for the next request of that class, so a training loop that
 * repeats the same shapes never reaches malloc after its first step. */

#define GB_MIN_BLOCK 64
#define GB_CACHE_LIMIT ((int64_t)256 << 20)   /* bytes kept in the bins at most */
#define GB_CACHE_MAX_BLOCK ((size_t)64 << 20) /* larger blocks go straight back to malloc */

#include <sys/mman.h>
/* Blocks of 2 MiB and up sit on 2 MiB boundaries, advised as transparent huge pages: a fresh
 * large buffer (a CNN activation at an eval batch of 2000 is 200 MB) then costs one fault per
 * 2 MiB instead of per 4 KiB; on the project's VM that took conv2d at batch 2000 from 1089 to
 * 42 ms CPU (scripts/bench/conv_dnnl.c) and a CNN training step from 97 to 72 ms. */
static void *big_alloc(size_t n) {
  if (n < ((size_t)2 << 20)) return aligned_alloc(64, n);
  size_t m = (n + ((size_t)2 << 20) - 1) & ~(((size_t)2 << 20) - 1);
  void *p = aligned_alloc((size_t)2 << 20, m);
  if (p) madvise(p, m, MADV_HUGEPAGE);
  return p;
}

static int size_class(size_t n, size_t *rounded) {
  if (n < GB_MIN_BLOCK) n = GB_MIN_BLOCK;
  int lg = 63 - __builtin_clzll((unsigned long long)n); /* 2^lg <= n */
  size_t base = (size_t)1 << lg, quarter = base >> 2;
  size_t step = (n - base + quarter - 1) / quarter; /* 0..4 */
  *rounded = base + step * quarter;
  return lg * 4 + (int)step;
}

static void note_alloc(gb_memstats *m, int64_t n) {
  m->allocated += n;
  m->nalloc++;
  if (m->allocated > m->peak) m->peak = m->allocated;
}

static void maybe_collect(gb_state *S, gb_device dev) {
  if (!S->gc_hook || S->in_gc) return;
  S->in_gc = true;
  S->gc_hook(S->gc_ud);
  S->in_gc = false;
  gb_state_gc_done(S, GB_GC_FULL); /* thresholds from what is still live */
  (void)dev;
}

/* The runtime's budgets (gb_limits.h): a request that would pass a cap first releases the
 * cache and collects the host's garbage, then fails with the budget's message. */
static gb_status over_budget(gb_state *S, gb_device dev, size_t nbytes, int64_t rounded) {
  gb_limits *lim = S->limits;
  char dn[GB_DEVICE_STRLEN];
  if (dev != GB_CPU) {
    if (S->device_bytes + rounded <= lim->device_cap) return GB_OK;
    maybe_collect(S, dev);
    if (S->device_bytes + rounded <= lim->device_cap) return GB_OK;
    lim->tensor_refused = true;
    return gb_errorf(S, GB_EOOM,
                     "out of memory: runtime budget of %lld device bytes exceeded (a %s tensor of "
                     "%zu bytes)",
                     (long long)lim->device_cap, gb_device_name(dev, dn), nbytes);
  }
  int64_t want = rounded + lim->lua_bytes + S->cpu.allocated;
  if (want + S->cached_bytes <= lim->host_cap) return GB_OK;
  for (int attempt = 0; attempt < 2; attempt++) {
    gb_alloc_release_cache(S);
    if (rounded + lim->lua_bytes + S->cpu.allocated <= lim->host_cap) return GB_OK;
    if (attempt == 0) maybe_collect(S, dev); /* tensors the script no longer holds */
  }
  lim->tensor_refused = true;
  return gb_errorf(S, GB_EOOM,
                   "out of memory: runtime budget of %lld bytes exceeded (a cpu tensor of %zu "
                   "bytes)",
                   (long long)lim->host_cap, nbytes);
}

gb_status gb_alloc_bytes(gb_state *S, gb_device dev, size_t nbytes, void **out) {
  gb_limits *lim = S->limits;
  gb_status st;
  /* a device budget refuses before any backend is asked (or opened) */
  if (dev != GB_CPU && lim && lim->device_cap &&
      (st = over_budget(S, dev, nbytes, (int64_t)nbytes)))
    return st;
  const gb_backend *b = gb_backend_loaded(dev);
  if (!b) { /* the first tensor of a plugin kind: open it */
    const char *why = NULL;
    if (!(b = gb_backend_get(gb_device_kind_of(dev), &why)))
      return gb_errorf(S, GB_EDEVICE, "%s unavailable: %s", gb_kind_name(gb_device_kind_of(dev)),
                       why);
  }
  if (dev == GB_CPU) return b->alloc(S, dev, nbytes, out); /* counts against host_cap itself */
  st = b->alloc(S, dev, nbytes, out);
  if (st == GB_OK) S->device_bytes += (int64_t)nbytes;
  return st;
}

gb_status gb_host_alloc(gb_state *S, gb_device dev, size_t nbytes, void **out) {
  gb_limits *lim = S->limits;
  size_t rounded;
  int cls = size_class(nbytes, &rounded);
  if (lim && lim->host_cap) {
    gb_status st = over_budget(S, dev, nbytes, (int64_t)rounded);
    if (st) return st;
  }
  if (S->cpu.allocated + (int64_t)rounded > S->gc_threshold) {
    /* the host frees tensors it no longer references, at its next safe point: collecting
     * here would run Lua finalizers inside the op that asked for these bytes */
    S->gc_pending = GB_GC_FULL;
    S->gc_threshold = S->cpu.allocated + S->cpu.allocated / 8 + (4 << 20);
  } else if ((S->gc_young_left -= (int64_t)rounded) < 0 && S->gc_pending == GB_GC_NONE) {
    S->gc_pending = GB_GC_YOUNG;
    S->gc_young_left = GB_GC_YOUNG_BYTES;
  }
  if (cls < GB_ALLOC_BINS && S->bins[cls]) {
    gb_cpu_block *b = S->bins[cls];
    S->bins[cls] = b->next;
    S->cached_bytes -= (int64_t)rounded;
    note_alloc(&S->cpu, (int64_t)rounded);
    *out = b;
    return GB_OK;
  }
  void *p = cls < GB_ALLOC_BINS ? big_alloc((rounded + 63) & ~(size_t)63) : NULL;
  if (!p) {
    gb_alloc_release_cache(S);
    maybe_collect(S, dev);
    p = cls < GB_ALLOC_BINS ? big_alloc((rounded + 63) & ~(size_t)63) : NULL;
  }
  if (!p)
    return gb_errorf(S, GB_EOOM, "out of memory: cannot allocate %zu bytes on cpu (%lld in use)",
                     nbytes, (long long)S->cpu.allocated);
  note_alloc(&S->cpu, (int64_t)rounded);
  *out = p;
  return GB_OK;
}

void gb_free_bytes(gb_state *S, gb_device dev, void *p, size_t nbytes) {
  const gb_backend *b = gb_backend_loaded(dev); /* set: it allocated p */
  if (!p || !b) return;
  if (dev != GB_CPU) S->device_bytes -= (int64_t)nbytes;
  b->free(S, dev, p, nbytes);
}

void gb_host_free(gb_state *S, gb_device dev, void *p, size_t nbytes) {
  (void)dev;
  size_t rounded;
  int cls = size_class(nbytes, &rounded);
  S->cpu.allocated -= (int64_t)rounded;
  S->cpu.nalloc--;
  if (rounded > GB_CACHE_MAX_BLOCK || S->cached_bytes + (int64_t)rounded > GB_CACHE_LIMIT) {
    free(p);
    return;
  }
  gb_cpu_block *b = p;
  b->next = S->bins[cls];
  S->bins[cls] = b;
  S->cached_bytes += (int64_t)rounded;
}

void gb_alloc_release_cache(gb_state *S) {
  for (int c = 0; c < GB_ALLOC_BINS; c++) {
    while (S->bins[c]) {
      gb_cpu_block *b = S->bins[c];
      S->bins[c] = b->next;
      free(b);
    }
  }
  S->cached_bytes = 0;
}

uint64_t gb_rng_take(gb_state *S, uint64_t n) {
  uint64_t first = S->rng_offset;
  S->rng_offset += n;
  return first;
}

void gb_state_memstats(gb_state *S, gb_device dev, gb_memstats *out) {
  const gb_backend *b = gb_backend_loaded(dev);
  memset(out, 0, sizeof *out);
  if (b && b->memstats) b->memstats(S, dev, out);
}

void gb_host_memstats(gb_state *S, gb_device dev, gb_memstats *out) {
  (void)dev;
  *out = S->cpu;
  out->reserved = S->cpu.allocated + S->cached_bytes;
}

void gb_host_reset_peak(gb_state *S, gb_device dev) {
  (void)dev;
  S->cpu.peak = S->cpu.allocated;
}

gb_status gb_host_copy(gb_state *S, void *dst, gb_device ddev, const void *src, gb_device sdev,
                       size_t nbytes) {
  (void)S, (void)ddev, (void)sdev;
  if (nbytes) memmove(dst, src, nbytes);
  return GB_OK;
}

static int host_count(const char **why) {
  (void)why;
  return 1;
}

static gb_status host_sync(gb_state *S) {
  (void)S;
  return GB_OK;
}

static void host_empty_cache(gb_state *S) {
  gb_alloc_release_cache(S);
}

/* The host's memory as a backend with no kernels: what the registry holds for the CPU kind
 * until runtime/cpu registers the full CPU backend (which shares these entries). */
const gb_backend gb_host_backend = {
    .abi = GB_BACKEND_ABI,
    .kind = GB_KIND_CPU,
    .name = "cpu",
    .device_count = host_count,
    .alloc = gb_host_alloc,
    .free = gb_host_free,
    .copy = gb_host_copy,
    .synchronize = host_sync,
    .memstats = gb_host_memstats,
    .reset_peak = gb_host_reset_peak,
    .empty_cache = host_empty_cache,
};
