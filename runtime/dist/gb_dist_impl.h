/* gb_dist_impl.h — what the files of the distributed plugin share: the process group (one
 * per process, as MPI is), the header every collective exchanges first, and the hooks the
 * NCCL part (gb_dist_nccl.c, built when nccl.h is found) gives the MPI part. */
#ifndef GB_DIST_IMPL_H
#define GB_DIST_IMPL_H

#include <mpi.h>
#include <stdarg.h>

#include "gb_dist.h"

#define GB_DIST_HIDDEN __attribute__((visibility("hidden")))

enum {
  GB_DK_BARRIER = 1,
  GB_DK_ALL_REDUCE,
  GB_DK_BROADCAST,
  GB_DK_ALL_GATHER,
  GB_DK_FINALIZE,
  GB_DK_NCCL_INIT
};

/* What every rank agrees on before each collective (one all-reduce of its fields' minima and
 * maxima; the headers themselves are gathered only on a mismatch): the data phase starts
 * only when all agree, so a mismatch is an error on every rank rather than a hang or
 * garbage. Also a rank's answer to a peer's "where are you" after a timeout. */
typedef struct gb_dist_hdr {
  int32_t magic;
  int32_t kind;
  int32_t dtype;
  int32_t op;
  int32_t root;
  int32_t ndim;
  int32_t cuda; /* 1: the tensor is on a cuda device */
  int32_t pad;
  int64_t seq;
  int64_t shape[GB_MAXDIM];
} gb_dist_hdr;

/* Formats "#12 all_reduce(sum) float32 (50,10)" for h into buf. */
GB_DIST_HIDDEN const char *gb_dist_describe(const gb_dist_hdr *h, char *buf, size_t cap);
GB_DIST_HIDDEN int gb_dist_fail(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
GB_DIST_HIDDEN MPI_Comm gb_dist_comm(void);
GB_DIST_HIDDEN int gb_dist_rank0(void);
GB_DIST_HIDDEN int gb_dist_size(void);
GB_DIST_HIDDEN double gb_dist_timeout(void);
GB_DIST_HIDDEN double gb_dist_now(void);
/* Marks the group broken with why (printed by later calls). */
GB_DIST_HIDDEN void gb_dist_break(const char *why);
/* The watchdog's last resort: print msg on stderr and end the process (non-zero). */
GB_DIST_HIDDEN void gb_dist_die(const char *msg);

GB_DIST_HIDDEN int gb_dist_bcast_bytes(void *buf, int n, int root, char *err, size_t cap);

/* NCCL part. Without NCCL the plugin links gb_dist_nonccl.c, whose versions fail. */
GB_DIST_HIDDEN bool gb_dist_nccl_built(void);
GB_DIST_HIDDEN const char *gb_dist_nccl_version(void);
GB_DIST_HIDDEN int gb_dist_nccl_all_reduce(gb_dist_buf *b, gb_dist_op op, const char *what,
                                           char *err, size_t cap);
GB_DIST_HIDDEN int gb_dist_nccl_broadcast(gb_dist_buf *b, int root, const char *what, char *err,
                                          size_t cap);
GB_DIST_HIDDEN int gb_dist_nccl_all_gather(const gb_dist_buf *in, void *out, const char *what,
                                           char *err, size_t cap);
/* Called by the watchdog thread every tick: checks the NCCL work in flight (events, the
 * communicator's asynchronous error) and aborts the communicator on an error or timeout. */
GB_DIST_HIDDEN void gb_dist_nccl_watch(double now);
/* Ends the communicator: ncclCommDestroy, or ncclCommAbort when the group is broken (a
 * destroy waits for work that a missing rank will never finish). */
GB_DIST_HIDDEN void gb_dist_nccl_finalize(bool broken);

#endif
