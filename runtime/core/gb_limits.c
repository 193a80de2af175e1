/* gb_limits.c — the stop flag and time budget behind gpubp_interrupt and the runtime
 * budgets: set from any thread or a signal handler, read at the safe points (op boundaries,
 * chunk boundaries of long CPU loops, the Lua count hook). */
#define _POSIX_C_SOURCE 200809L
#include <time.h>

#include "gb_state.h"

double gb_limits_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void gb_limits_interrupt(gb_limits *lim) {
  if (lim) atomic_fetch_or_explicit(&lim->stop, GB_STOP_INTERRUPT, memory_order_relaxed);
}

int gb_limits_check_time(gb_limits *lim) {
  if (lim->deadline > 0 && gb_limits_now() >= lim->deadline)
    atomic_fetch_or_explicit(&lim->stop, GB_STOP_TIME, memory_order_relaxed);
  return atomic_load_explicit(&lim->stop, memory_order_relaxed);
}

void gb_state_set_limits(gb_state *S, gb_limits *lim) {
  if (S->limits) S->limits->cpu = NULL;
  S->limits = lim;
  if (lim) lim->cpu = &S->cpu;
}

int gb_should_stop(gb_state *S) {
  gb_limits *lim = S->limits;
  if (!lim) return 0;
  int s = atomic_load_explicit(&lim->stop, memory_order_relaxed);
  if (s || lim->deadline <= 0 || (++lim->tick & 15) != 0) return s;
  return gb_limits_check_time(lim);
}

gb_status gb_stop_error(gb_state *S) {
  gb_limits *lim = S->limits;
  int s = lim ? atomic_load_explicit(&lim->stop, memory_order_relaxed) : 0;
  if (s & GB_STOP_INTERRUPT) { /* one interrupt, one error: the script may catch it */
    atomic_fetch_and_explicit(&lim->stop, ~GB_STOP_INTERRUPT, memory_order_relaxed);
    lim->interrupted = true;
    return gb_errorf(S, GB_ELIMIT, "interrupted");
  }
  return gb_errorf(S, GB_ELIMIT, "time budget of %g s exceeded", lim ? lim->time_cap : 0.0);
}
