/* gb_limits.h — a runtime's budgets and its stop flag, shared by the allocator (host and
 * device bytes), the Lua heap (gb_luaheap), the op dispatcher and the long CPU loops (which
 * stop at chunk boundaries when an interrupt or the time budget says so). Owned by the
 * embedder (gpubp_api.c); the core only reads the caps and keeps the counters. */
#ifndef GB_LIMITS_H
#define GB_LIMITS_H

#include <stdbool.h>
#include <stdint.h>
#ifdef __cplusplus
/* The CUDA backend's C++ includes this through gb_state.h (inside extern "C"): the same
 * layout, never touched there. */
extern "C++" {
#include <atomic>
}
typedef std::atomic<int> gb_atomic_int;
#else
#include <stdatomic.h>
typedef atomic_int gb_atomic_int;
#endif

#include "gb_core.h"

/* Bits of gb_limits.stop: why the running script must stop at its next safe point. */
#define GB_STOP_INTERRUPT 1 /* gb_limits_interrupt (another thread, a signal handler) */
#define GB_STOP_TIME 2      /* the time budget ran out (set by gb_limits_check_time) */
/* Long CPU loops call gb_should_stop once per this many elements (a power of two). */
#define GB_STOP_CHUNK ((int64_t)1 << 16)

typedef struct gb_limits {
  /* Written from other threads and signal handlers: lock-free atomics only. */
  gb_atomic_int stop;
  /* Caps (0 = none), set by the host between calls. */
  int64_t host_cap;   /* Lua heap + CPU tensor bytes (in use and cached) */
  int64_t device_cap; /* bytes of tensors on devices */
  double time_cap;    /* seconds per top-level call */
  /* Counters. */
  int64_t lua_bytes;      /* the Lua heap's live bytes (kept by gb_luaheap) */
  const gb_memstats *cpu; /* the attached state's CPU tensor bytes, or NULL */
  double deadline;        /* gb_limits_now() value at which the time budget runs out; 0 = none */
  bool lua_refused;       /* the Lua heap refused a block for host_cap since the last reset */
  bool tensor_refused;    /* the allocator refused a tensor for a cap since the last reset */
  bool interrupted;       /* an interrupt was raised as an error since the last reset */
  unsigned tick;          /* gb_should_stop reads the clock every 16th call */
} gb_limits;

/* Seconds on a monotonic clock. */
double gb_limits_now(void);
/* Ask the running code to stop: sets GB_STOP_INTERRUPT. Async-signal-safe, thread-safe. */
GB_API void gb_limits_interrupt(gb_limits *lim);
/* Sets GB_STOP_TIME when the deadline has passed; returns the stop bits now set. */
int gb_limits_check_time(gb_limits *lim);

/* Attach `lim` to S (NULL detaches); the caller keeps ownership and outlives S's use. */
GB_API void gb_state_set_limits(gb_state *S, gb_limits *lim);
/* Nonzero when the running code should stop (an interrupt or a spent time budget). Cheap:
 * one relaxed load when no time budget is set. Used at op boundaries and kernel chunks. */
int gb_should_stop(gb_state *S);
/* The error for a stop (gb_should_stop was nonzero), with GB_ELIMIT: "interrupted" (which
 * clears the interrupt: one interrupt, one error) or "time budget of N s exceeded" (which
 * stays until the host resets the limits). */
gb_status gb_stop_error(gb_state *S);

#endif
