/* gb_cuda_alloc.cu — the caching device allocator, one per (state, device): sizes round up to
 * a class with 4 steps per power of two (as the CPU allocator in runtime/core/gb_state.c), freed
 * blocks wait in their class's bin for the next request, so a training loop that repeats its
 * shapes stops calling cudaMalloc after the first step. Device bytes are invisible to Lua's
 * GC, so passing a threshold asks the host for a full collection; a failed cudaMalloc asks
 * for one too, releases the cache and retries before reporting GB_EOOM with the sizes.
 * All work of a state runs on one stream per device, so a block freed by the host can be
 * handed to the next kernel at once: stream order keeps the old and new uses apart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gb_cuda_impl.h"

#define GB_CUDA_MIN_BLOCK 512

static int size_class(size_t n, size_t *rounded) {
  if (n < GB_CUDA_MIN_BLOCK) n = GB_CUDA_MIN_BLOCK;
  int lg = 63 - __builtin_clzll((unsigned long long)n);
  size_t base = (size_t)1 << lg, quarter = base >> 2;
  size_t step = (n - base + quarter - 1) / quarter; /* 0..4 */
  *rounded = base + step * quarter;
  return lg * 4 + (int)step;
}

static void collect(gb_state *S) {
  if (!S->gc_hook || S->in_gc) return;
  S->in_gc = true;
  S->gc_hook(S->gc_ud);
  S->in_gc = false;
  gb_state_gc_done(S, GB_GC_FULL);
}

/* The collection threshold over `live` device bytes: the CPU allocator's rule (an eighth
 * more than what is live) with a 256 MiB floor, since a collection costs more than a step of
 * a small model allocates. It is set from the bytes that survived the last collection (the
 * threshold moves when a request is made, and again once the host has collected), never
 * from the bytes counted at the request, which still include the garbage to be freed: that
 * let the next threshold double with every request and the device fill up before the host
 * was asked again, ending in a collection inside an op at cudaMalloc's failure. */
static int64_t next_threshold(int64_t live) {
  return live + live / 8 + ((int64_t)256 << 20);
}

/* Frees every cached block of the device back to the driver. */
void gb_cuda_release_cache_dev(gb_state *S, gb_cuda_dev *c) {
  (void)S;
  /* kernels queued before the host released a block may still use it */
  if (c->cached > 0) cudaStreamSynchronize(c->stream);
  for (int k = 0; k < GB_CUDA_BINS; k++) {
    while (c->bins[k]) {
      gb_cuda_block *b = c->bins[k];
      c->bins[k] = b->next;
      cudaFree(b->ptr);
      b->next = c->spare_nodes;
      c->spare_nodes = b;
    }
  }
  c->cached = 0;
  c->stats.reserved = c->stats.allocated;
}

static void note_alloc(gb_cuda_dev *c, int64_t n) {
  c->stats.allocated += n;
  c->stats.nalloc++;
  if (c->stats.allocated > c->stats.peak) c->stats.peak = c->stats.allocated;
  c->stats.reserved = c->stats.allocated + c->cached;
}

extern "C" gb_status gb_cuda_alloc(gb_state *S, gb_device dev, size_t nbytes, void **out) {
  gb_cuda_dev *c;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  size_t rounded;
  int cls = size_class(nbytes, &rounded);
  if (cls >= GB_CUDA_BINS)
    return gb_errorf(S, GB_EOOM, "out of memory: cannot allocate %zu bytes on cuda:%d", nbytes,
                     gb_cuda_ord(dev));
  if (c->gc_epoch_seen != S->gc_epoch) { /* the host collected since: what is live now */
    c->gc_epoch_seen = S->gc_epoch;
    c->gc_threshold = next_threshold(c->stats.allocated);
  }
  if (c->stats.allocated + (int64_t)rounded > c->gc_threshold) {
    /* the host frees tensors it no longer references at its next safe point (never inside
     * an op, where a Lua finalizer could close the op's inputs); their blocks come back.
     * Until it has, the threshold moves past this request so each allocation does not ask
     * again; after the collection it is set from the live bytes (above). */
    S->gc_pending = GB_GC_FULL;
    c->gc_threshold = next_threshold(c->stats.allocated + (int64_t)rounded);
  }
  if (c->bins[cls]) {
    gb_cuda_block *b = c->bins[cls];
    c->bins[cls] = b->next;
    *out = b->ptr;
    b->next = c->spare_nodes;
    c->spare_nodes = b;
    c->cached -= (int64_t)rounded;
    note_alloc(c, (int64_t)rounded);
    return GB_OK;
  }
  void *p = NULL;
  cudaError_t e = cudaMalloc(&p, rounded);
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    collect(S); /* tensors the host no longer references hand their blocks back */
    if ((st = gb_cuda_ctx(S, dev, &c))) return st; /* the GC may have hit a lost device */
    if (c->bins[cls]) return gb_cuda_alloc(S, dev, nbytes, out); /* reuse one, before the */
    gb_cuda_release_cache_dev(S, c);                             /* cache is given back */
    e = cudaMalloc(&p, rounded);
    if (e == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      size_t freeb = 0, total = 0;
      cudaMemGetInfo(&freeb, &total);
      (void)cudaGetLastError();
      return gb_errorf(S, GB_EOOM,
                       "out of memory: cannot allocate %zu bytes on cuda:%d (%lld bytes in use by "
                       "tensors, %zu free of %zu on the device)",
                       nbytes, gb_cuda_ord(dev), (long long)c->stats.allocated, freeb, total);
    }
  }
  if (e != cudaSuccess) return gb_cuda_fail(S, dev, e, "cudaMalloc", __FILE__, __LINE__);
  note_alloc(c, (int64_t)rounded);
  *out = p;
  return GB_OK;
}

extern "C" void gb_cuda_free(gb_state *S, gb_device dev, void *p, size_t nbytes) {
  if (!p || !GB_CUDA_STATE(S) || gb_cuda_ord(dev) >= GB_CUDA_MAXDEV) return;
  gb_cuda_dev *c = &GB_CUDA_STATE(S)->dev[gb_cuda_ord(dev)];
  size_t rounded;
  int cls = size_class(nbytes, &rounded);
  c->stats.allocated -= (int64_t)rounded;
  c->stats.nalloc--;
  gb_cuda_block *b = c->spare_nodes;
  if (b)
    c->spare_nodes = b->next;
  else
    b = (gb_cuda_block *)malloc(sizeof *b);
  if (!b || cls >= GB_CUDA_BINS) { /* no node to remember it by: give it back */
    free(b);
    cudaStreamSynchronize(c->stream);
    cudaFree(p);
    (void)cudaGetLastError();
    c->stats.reserved = c->stats.allocated + c->cached;
    return;
  }
  b->ptr = p;
  b->next = c->bins[cls];
  c->bins[cls] = b;
  c->cached += (int64_t)rounded;
  c->stats.reserved = c->stats.allocated + c->cached;
}

extern "C" void gb_cuda_memstats(gb_state *S, gb_device dev, gb_memstats *out) {
  memset(out, 0, sizeof *out);
  if (!GB_CUDA_STATE(S) || gb_cuda_ord(dev) >= GB_CUDA_MAXDEV) return;
  gb_cuda_dev *c = &GB_CUDA_STATE(S)->dev[gb_cuda_ord(dev)];
  *out = c->stats;
  out->reserved = c->stats.allocated + c->cached;
}

extern "C" void gb_cuda_empty_cache(gb_state *S) {
  gb_cuda_backend *b = GB_CUDA_STATE(S);
  if (!b) return;
  for (int d = 0; d < GB_CUDA_MAXDEV; d++) {
    gb_cuda_dev *c = &b->dev[d];
    if (!c->ready) continue;
    if (gb_cuda_device_count(NULL) > 1) cudaSetDevice(d);
    cudaStreamSynchronize(c->stream);
    gb_cuda_release_cache_dev(S, c);
    (void)cudaGetLastError();
  }
}

/* Peak reset for memory_stats users who measure one phase. */
extern "C" void gb_cuda_reset_peak(gb_state *S, gb_device dev) {
  if (!GB_CUDA_STATE(S) || gb_cuda_ord(dev) >= GB_CUDA_MAXDEV) return;
  gb_cuda_dev *c = &GB_CUDA_STATE(S)->dev[gb_cuda_ord(dev)];
  c->stats.peak = c->stats.allocated;
}
