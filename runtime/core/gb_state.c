/* gb_state.c — the runtime state: creation, error messages, dtype/device names, the CPU
 * caching allocator (size-class bins, byte accounting, GC-and-retry on failure) and the RNG
 * counter. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gb_state.h"
#ifdef GB_HAVE_CUDA
#include "gb_cuda.h"
#endif

gb_state *gb_state_new(void) {
  gb_state *S = calloc(1, sizeof *S);
  if (!S) return NULL;
  S->seed = 0x5eed5eedULL;
  S->grad_enabled = true;
  S->default_device = GB_CPU;
  S->gc_threshold = 4 << 20;
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
  gb_state_set_limits(S, NULL);
  free_lists(S);
  free(S->dead_hooks);
  free(S->hook_leaves);
  gb_alloc_release_cache(S);
#ifdef GB_HAVE_CUDA
  gb_cuda_shutdown(S);
#endif
  free(S);
}

const char *gb_state_error(const gb_state *S) {
  return S->err;
}

void gb_state_set_gc_hook(gb_state *S, gb_gc_hook hook, void *ud) {
  S->gc_hook = hook;
  S->gc_ud = ud;
}

gb_status gb_errorf(gb_state *S, gb_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(S->err, sizeof S->err, fmt, ap);
  va_end(ap);
  return st;
}

static const char *const dtype_names[GB_NDTYPE] = {"float32", "int32", "int64"};
static const size_t dtype_sizes[GB_NDTYPE] = {4, 4, 8};

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
  } names[] = {{"float32", GB_F32}, {"float", GB_F32}, {"int32", GB_I32},
               {"int", GB_I32},     {"int64", GB_I64}, {"long", GB_I64}};
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
    snprintf(buf, 16, "cuda:%d", dev);
  return buf;
}

bool gb_device_parse(const char *name, gb_device *out) {
  if (strcmp(name, "cpu") == 0) {
    *out = GB_CPU;
    return true;
  }
  if (strcmp(name, "cuda") == 0) {
    *out = 0;
    return true;
  }
  if (strncmp(name, "cuda:", 5) == 0 && name[5] >= '0' && name[5] <= '9') {
    char *end;
    long n = strtol(name + 5, &end, 10);
    if (*end == '\0' && n < 64) {
      *out = (int)n;
      return true;
    }
  }
  return false;
}

/* ---- CPU caching allocator ----------------------------------------------------------------
 * Sizes round up to a class with 4 steps per power of two (at most 25% waste); freed blocks
 * wait in their class's bin for the next request of that class, so a training loop that
 * repeats the same shapes never reaches malloc after its first step. */

#define GB_MIN_BLOCK 64
#define GB_CACHE_LIMIT ((int64_t)256 << 20)  /* bytes kept in the bins at most */
#define GB_CACHE_MAX_BLOCK ((size_t)4 << 20) /* larger blocks go straight back to malloc */

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
  (void)dev;
}

/* The runtime's budgets (gb_limits.h): a request that would pass a cap first releases the
 * cache and collects the host's garbage, then fails with the budget's message. */
static gb_status over_budget(gb_state *S, gb_device dev, size_t nbytes, int64_t rounded) {
  gb_limits *lim = S->limits;
  char dn[16];
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
  if (dev != GB_CPU) {
    gb_status st;
    if (lim && lim->device_cap && (st = over_budget(S, dev, nbytes, (int64_t)nbytes))) return st;
#ifdef GB_HAVE_CUDA
    st = gb_cuda_alloc(S, dev, nbytes, out);
    if (st == GB_OK) S->device_bytes += (int64_t)nbytes;
    return st;
#else
    return gb_errorf(S, GB_EDEVICE, "cuda: this build of gpubp has no CUDA backend");
#endif
  }
  size_t rounded;
  int cls = size_class(nbytes, &rounded);
  if (lim && lim->host_cap) {
    gb_status st = over_budget(S, dev, nbytes, (int64_t)rounded);
    if (st) return st;
  }
  if (S->cpu.allocated + (int64_t)rounded > S->gc_threshold) {
    maybe_collect(S, dev); /* the host frees tensors it no longer references */
    S->gc_threshold = S->cpu.allocated + S->cpu.allocated / 8 + (4 << 20);
  }
  if (cls < GB_ALLOC_BINS && S->bins[cls]) {
    gb_cpu_block *b = S->bins[cls];
    S->bins[cls] = b->next;
    S->cached_bytes -= (int64_t)rounded;
    note_alloc(&S->cpu, (int64_t)rounded);
    *out = b;
    return GB_OK;
  }
  void *p = cls < GB_ALLOC_BINS ? aligned_alloc(64, (rounded + 63) & ~(size_t)63) : NULL;
  if (!p) {
    gb_alloc_release_cache(S);
    maybe_collect(S, dev);
    p = cls < GB_ALLOC_BINS ? aligned_alloc(64, (rounded + 63) & ~(size_t)63) : NULL;
  }
  if (!p)
    return gb_errorf(S, GB_EOOM, "out of memory: cannot allocate %zu bytes on cpu (%lld in use)",
                     nbytes, (long long)S->cpu.allocated);
  note_alloc(&S->cpu, (int64_t)rounded);
  *out = p;
  return GB_OK;
}

void gb_free_bytes(gb_state *S, gb_device dev, void *p, size_t nbytes) {
  if (!p) return;
  if (dev != GB_CPU) {
#ifdef GB_HAVE_CUDA
    gb_cuda_free(S, dev, p, nbytes);
    S->device_bytes -= (int64_t)nbytes;
#endif
    return;
  }
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
  if (dev != GB_CPU) {
#ifdef GB_HAVE_CUDA
    gb_cuda_memstats(S, dev, out);
#else
    memset(out, 0, sizeof *out);
#endif
    return;
  }
  *out = S->cpu;
  out->reserved = S->cpu.allocated + S->cached_bytes;
}
