/* gb_state.h — the private layout of gb_state (runtime/ only): error message, RNG position,
 * grad mode, the CPU caching allocator's bins, recycled tensor and node objects, and the
 * device backends' slots. One per Lua state; nothing here is global. */
#ifndef GB_STATE_H
#define GB_STATE_H

#include "gb_backend.h"
#include "gb_limits.h"

#define GB_ALLOC_BINS 256
/* recycled objects kept per kind: enough for a training step's graph, small enough that a
 * burst of garbage (collected all at once by Lua's GC) is returned to malloc */
#define GB_FREE_KEEP 4096
/* New tensor bytes between two young collections (gb_core.h's GB_GC_YOUNG): more than a small
 * model's step allocates (the seed MLP's: ~0.9 MB), so its temporaries are dead when the next
 * one comes and are not promoted to old; measured on benchmark (r), 4 MiB cycled 12 blocks of
 * the step's largest size where no young collections cycled 80 (1 MiB: 110, temporaries
 * promoted mid-step). Overridable for measurements. */
#ifndef GB_GC_YOUNG_BYTES
#define GB_GC_YOUNG_BYTES ((int64_t)4 << 20)
#endif

typedef struct gb_cpu_block {
  struct gb_cpu_block *next;
} gb_cpu_block;

struct gb_state {
  char err[GB_ERRLEN];
  /* random numbers: Philox key and the next unused counter */
  uint64_t seed;
  uint64_t rng_offset;
  /* autograd */
  bool grad_enabled;
  bool detect_anomaly;     /* check every op's float outputs and gradients for NaN/Inf */
  const char *backward_of; /* op whose backward rule is running, for anomaly messages */
  uint64_t node_seq;
  gb_node *free_nodes;
  /* gradient hooks: the host's callback, the last id given, ids freed since the host looked */
  gb_grad_hook_fn hook_fn;
  void *hook_ud;
  uint32_t hook_seq;
  uint32_t *dead_hooks;
  int ndead_hooks, cap_dead_hooks;
  gb_tensor **hook_leaves; /* hooked leaves holding a gradient for the running backward */
  int nhook_leaves, cap_hook_leaves;
  /* recycled tensor headers and storages (no heap traffic in the steady state) */
  gb_tensor *free_tensors;
  gb_storage *free_storages;
  int nfree_tensors, nfree_storages, nfree_nodes; /* each list keeps at most GB_FREE_KEEP */
  /* CPU caching allocator: bins of freed blocks by size class */
  gb_cpu_block *bins[GB_ALLOC_BINS];
  int64_t cached_bytes;
  gb_memstats cpu;
  int64_t gc_threshold;  /* a full host GC when allocated bytes pass this: live + 1/8 + 4 MiB,
                          * since Lua cannot see the bytes behind the tensors it holds */
  int64_t gc_young_left; /* bytes to allocate before the next young collection */
  gb_gc_hook gc_hook;
  void *gc_ud;
  bool in_gc;
  gb_gc_request gc_pending; /* seen inside an op: the host collects at its next safe point */
  uint32_t gc_epoch;        /* completed collections (gb_state_gc_done): a device allocator seeing a
                             * new one recomputes its threshold from the bytes still live */
  bool in_backward;         /* a backward is running: a re-entrant one is refused */
  /* tensors closed while an op may hold them (gb_tensor_release_deferred), released at the
   * host's next safe point */
  gb_tensor **deferred;
  int ndeferred, cap_deferred;
  /* graph release without recursion: nodes whose last reference went, freed in a loop */
  gb_node *release_queue;
  bool releasing;
  /* graph growth across steps (gb_tape.c): nodes still holding their inputs, and how that
   * count moved over the last backward calls; one warning per state */
  int64_t graph_nodes, growth_prev, growth_start;
  int growth_streak;
  bool growth_warned, growth_pending;
  /* the active recording of kernel calls (gb_graph.h), NULL when none */
  struct gb_graph *recording;
  int graph_depth; /* kernels running inside a recorded kernel call (not recorded themselves) */
  struct gb_graph *graph_patch; /* the recording being patched (gb_graph_patch_begin), or NULL */
  int graph_patch_next, graph_patched;
  /* default placement for new tensors (GB_DEVICE_AUTO until first asked for) */
  gb_device default_device;
  gb_dtype default_dtype; /* of float creations: GB_F32 (gb_state_new) or GB_F64 */
  int nthreads;
  /* budgets and the stop flag of an embedding runtime, or NULL (gb_limits.h) */
  gb_limits *limits;
  int64_t device_bytes; /* bytes of live device storages, for limits->device_cap */
  /* what each device kind's backend holds for this state, opaque to the core */
  void *backend[GB_NKINDS];
};

#define GB_DEVICE_AUTO (-1) /* "cuda if a GPU is usable, else cpu", decided when first read */

/* Storage bytes from the device's backend (opening its plugin for the first tensor of its
 * kind); GB_EOOM after GC + cache release + retry, GB_EDEVICE when the kind is unavailable. */
gb_status gb_alloc_bytes(gb_state *S, gb_device dev, size_t nbytes, void **out);
void gb_free_bytes(gb_state *S, gb_device dev, void *p, size_t nbytes);
/* Release every tensor queued by gb_tensor_release_deferred (call only at a safe point: no op
 * in flight holds a borrowed pointer). */
void gb_state_release_deferred(gb_state *S);
/* Return all cached CPU blocks to the system. */
void gb_alloc_release_cache(gb_state *S);
/* The host allocator behind the CPU backend (gb_backend.h's entries for GB_KIND_CPU). */
gb_status gb_host_alloc(gb_state *S, gb_device dev, size_t nbytes, void **out);
void gb_host_free(gb_state *S, gb_device dev, void *p, size_t nbytes);
gb_status gb_host_copy(gb_state *S, void *dst, gb_device ddev, const void *src, gb_device sdev,
                       size_t nbytes);
void gb_host_memstats(gb_state *S, gb_device dev, gb_memstats *out);
void gb_host_reset_peak(gb_state *S, gb_device dev);
extern const gb_backend gb_host_backend;
/* The graph-growth warning (once per state): true, with the number of nodes still holding
 * their inputs and the backward calls it grew over, when the graph has grown at each of
 * the last GB_GROWTH_STEPS backward calls; the caller prints it. */
#define GB_GROWTH_STEPS 50
bool gb_state_take_growth_warning(gb_state *S, int64_t *nodes, int *steps);
/* Reserve `n` counters of the Philox stream; returns the first. */
uint64_t gb_rng_take(gb_state *S, uint64_t n);

#endif
