/* gb_dist.h — the interface of the distributed plugin (runtime/dist/ -> libgpubp_dist.so, built
 * when MPI is found): process-group collectives over MPI for host memory and over NCCL for CUDA
 * memory. The bindings open the plugin with gb_plugin_symbol on gb.distributed.init, so a run
 * that never initialises it loads no MPI library. Plain C: no MPI, NCCL or CUDA types. */
#ifndef GB_DIST_H
#define GB_DIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gb_core.h"

#define GB_DIST_ABI 1
#define GB_DIST_ENTRY "gb_dist_plugin_entry"

typedef enum gb_dist_op { GB_DIST_SUM = 0, GB_DIST_MEAN, GB_DIST_MAX, GB_DIST_MIN } gb_dist_op;

/* all_reduce flags. TRUSTED: no header exchange before the data, for a caller that has
 * checked once that every rank makes the same sequence of these (DistributedDataParallel's
 * buckets); still numbered, and still watched for a peer's failure and the timeout. */
#define GB_DIST_TRUSTED 1u

/* One tensor's memory as the plugin sees it: contiguous, `numel` elements at `data`. */
typedef struct gb_dist_buf {
  void *data;
  gb_dtype dtype;
  gb_device device; /* GB_CPU, or a cuda device */
  int ndim;
  int64_t shape[GB_MAXDIM];
  int64_t numel;
  void *stream; /* the state's cudaStream_t for a cuda buffer, else NULL */
} gb_dist_buf;

/* Options of init; zero/negative fields take the defaults. */
typedef struct gb_dist_opts {
  double timeout_s; /* a collective not complete after this long fails (default 60) */
  bool nccl;        /* backend 'nccl': CUDA tensors go through NCCL */
} gb_dist_opts;

/* Every function returns 0 on success; on failure a nonzero value and a message (that
 * starts with "distributed: ") in err (cap bytes). Ranks are 0-based here. After a timeout
 * or a peer's abort the group is broken: every later call fails saying why. */
typedef struct gb_dist_api {
  int abi;
  const char *build; /* "mpi (Open MPI 4.1.4)", "+ nccl 2.x" */
  bool has_nccl;
  int (*init)(const gb_dist_opts *o, char *err, size_t cap);
  /* Finalizes MPI after a last header exchange; safe to call twice. */
  int (*finalize)(char *err, size_t cap);
  bool (*is_initialized)(void);
  int (*rank)(void);
  int (*world_size)(void);
  void (*set_timeout)(double seconds);
  double (*get_timeout)(void);
  int (*barrier)(char *err, size_t cap);
  /* In place. With handle != NULL it returns once the transfer is launched and *handle names
   * it for wait (0: nothing to wait for, as NCCL work, ordered on its stream); otherwise it
   * returns when b holds the result. flags: GB_DIST_TRUSTED skips the header exchange. */
  int (*all_reduce)(gb_dist_buf *b, gb_dist_op op, unsigned flags, int *handle, char *err,
                    size_t cap);
  int (*wait)(int handle, char *err, size_t cap);
  /* Drives the transfers in flight (MPI progresses only inside its calls). Never fails. */
  void (*progress)(void);
  int (*broadcast)(gb_dist_buf *b, int root, char *err, size_t cap);
  /* out: world_size * in->numel elements on in's device, rank r's at r * in->numel. */
  int (*all_gather)(const gb_dist_buf *in, void *out, char *err, size_t cap);
  /* Tells every other rank that this one fails with msg, waits a little for them to answer,
   * and leaves the group broken. For the error path of a script. */
  void (*abort)(const char *msg);
} gb_dist_api;

typedef const gb_dist_api *(*gb_dist_entry_fn)(int abi, const char **why);

#endif
