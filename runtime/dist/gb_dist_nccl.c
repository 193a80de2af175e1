/* gb_dist_nccl.c — CUDA tensors of the distributed plugin through NCCL, built when nccl.h is
 * found. libnccl is opened with dlopen on the first CUDA collective (so a CPU-only run of a
 * build with NCCL needs no libnccl), its communicator bootstrapped over MPI; each collective
 * is queued on the state's stream with an event the watchdog thread polls, together with
 * ncclCommGetAsyncError, aborting the communicator and ending the process on an error or a
 * timeout (NCCL's own waits never end). */
#define _GNU_SOURCE
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <nccl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "gb_dist_impl.h"

#define MAX_PENDING 512

/* the entry points of libnccl we use, opened at run time */
static struct {
  bool tried, ok;
  char why[256];
  ncclResult_t (*get_unique_id)(ncclUniqueId *);
  ncclResult_t (*comm_init_rank)(ncclComm_t *, int, ncclUniqueId, int);
  ncclResult_t (*all_reduce)(const void *, void *, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t,
                             cudaStream_t);
  ncclResult_t (*broadcast)(const void *, void *, size_t, ncclDataType_t, int, ncclComm_t,
                            cudaStream_t);
  ncclResult_t (*all_gather)(const void *, void *, size_t, ncclDataType_t, ncclComm_t,
                             cudaStream_t);
  ncclResult_t (*async_error)(ncclComm_t, ncclResult_t *);
  ncclResult_t (*abort)(ncclComm_t);
  ncclResult_t (*destroy)(ncclComm_t);
  const char *(*error_string)(ncclResult_t);
} N;

typedef struct pending {
  cudaEvent_t done;
  double t0;
  char what[200];
} pending;

static struct {
  ncclComm_t comm;
  atomic_int device; /* set before comm, read by the watchdog thread */
  atomic_bool aborted;
  /* when the main thread entered ncclCommInitRank (0: not in it), and the collective that
   * made it: a blocking call with no timeout of its own, so the watchdog bounds it */
  _Atomic double init_t0;
  char init_what[200];
  pthread_mutex_t lock;
  pending q[MAX_PENDING];
  int nq;
} C = {.device = -1, .lock = PTHREAD_MUTEX_INITIALIZER};

bool gb_dist_nccl_built(void) {
  return true;
}

const char *gb_dist_nccl_version(void) {
  static char v[32];
  snprintf(v, sizeof v, "%d.%d (headers)", NCCL_MAJOR, NCCL_MINOR);
  return v;
}

static bool load_nccl(void) {
  if (N.tried) return N.ok;
  N.tried = true;
  void *h = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
  if (!h) h = dlopen("libnccl.so", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(N.why, sizeof N.why, "libnccl.so.2 does not load: %s", dlerror());
    return false;
  }
#define SYM(field, name)                                                                           \
  do {                                                                                             \
    *(void **)&N.field = dlsym(h, name);                                                           \
    if (!N.field) {                                                                                \
      snprintf(N.why, sizeof N.why, "libnccl has no %s", name);                                    \
      return false;                                                                                \
    }                                                                                              \
  } while (0)
  SYM(get_unique_id, "ncclGetUniqueId");
  SYM(comm_init_rank, "ncclCommInitRank");
  SYM(all_reduce, "ncclAllReduce");
  SYM(broadcast, "ncclBroadcast");
  SYM(all_gather, "ncclAllGather");
  SYM(async_error, "ncclCommGetAsyncError");
  SYM(abort, "ncclCommAbort");
  SYM(destroy, "ncclCommDestroy");
  SYM(error_string, "ncclGetErrorString");
#undef SYM
  N.ok = true;
  return true;
}

static int nccl_fail(ncclResult_t r, const char *call, const char *what, char *err, size_t cap) {
  return gb_dist_fail(err, cap, "distributed: %s: %s failed on rank %d: %s", what, call,
                      gb_dist_rank0() + 1, N.error_string ? N.error_string(r) : "?");
}

/* The communicator for `device`, made on first use (one device per rank). */
static int comm_for(int device, const char *what, char *err, size_t cap) {
  if (atomic_load(&C.aborted))
    return gb_dist_fail(err, cap, "distributed: %s: the NCCL communicator was aborted", what);
  if (C.comm) {
    if (device != atomic_load(&C.device))
      return gb_dist_fail(err, cap,
                          "distributed: %s: this rank uses cuda:%d for NCCL; a tensor on "
                          "cuda:%d cannot join (one device per rank)",
                          what, atomic_load(&C.device), device);
    return 0;
  }
  if (!load_nccl()) return gb_dist_fail(err, cap, "distributed: %s: %s", what, N.why);
  ncclUniqueId id;
  memset(&id, 0, sizeof id);
  if (gb_dist_rank0() == 0) {
    ncclResult_t r = N.get_unique_id(&id);
    if (r != ncclSuccess) return nccl_fail(r, "ncclGetUniqueId", what, err, cap);
  }
  if (gb_dist_bcast_bytes(&id, (int)sizeof id, 0, err, cap)) return -1;
  /* NCCL uses the current device of the calling thread (this plugin's CUDA runtime keeps
   * its own, apart from the backend's) */
  if (cudaSetDevice(device) != cudaSuccess)
    return gb_dist_fail(err, cap, "distributed: %s: cudaSetDevice(%d) failed", what, device);
  atomic_store(&C.device, device);
  snprintf(C.init_what, sizeof C.init_what, "%s", what);
  atomic_store(&C.init_t0, gb_dist_now());
  ncclComm_t comm = NULL;
  ncclResult_t r = N.comm_init_rank(&comm, gb_dist_size(), id, gb_dist_rank0());
  atomic_store(&C.init_t0, 0.0);
  if (r != ncclSuccess) return nccl_fail(r, "ncclCommInitRank", what, err, cap);
  pthread_mutex_lock(&C.lock);
  C.comm = comm;
  pthread_mutex_unlock(&C.lock);
  return 0;
}

static ncclDataType_t nccl_type(gb_dtype dt) {
  return dt == GB_F32   ? ncclFloat32
         : dt == GB_F64 ? ncclFloat64
         : dt == GB_I32 ? ncclInt32
                        : ncclInt64;
}

static ncclRedOp_t nccl_op(gb_dist_op op) {
  return op == GB_DIST_MEAN  ? ncclAvg
         : op == GB_DIST_MAX ? ncclMax
         : op == GB_DIST_MIN ? ncclMin
                             : ncclSum;
}

/* Records an event after the queued collective for the watchdog. */
static int watch(cudaStream_t s, const char *what, char *err, size_t cap) {
  cudaEvent_t ev;
  if (cudaEventCreateWithFlags(&ev, cudaEventDisableTiming) != cudaSuccess ||
      cudaEventRecord(ev, s) != cudaSuccess)
    return gb_dist_fail(err, cap, "distributed: %s: cudaEventRecord failed", what);
  pthread_mutex_lock(&C.lock);
  if (C.nq == MAX_PENDING) { /* the oldest is long done in any sane program: stop watching it */
    cudaEventDestroy(C.q[0].done);
    memmove(C.q, C.q + 1, (MAX_PENDING - 1) * sizeof C.q[0]);
    C.nq--;
  }
  pending *p = &C.q[C.nq++];
  p->done = ev;
  p->t0 = gb_dist_now();
  snprintf(p->what, sizeof p->what, "%s", what);
  pthread_mutex_unlock(&C.lock);
  return 0;
}

int gb_dist_nccl_all_reduce(gb_dist_buf *b, gb_dist_op op, const char *what, char *err,
                            size_t cap) {
  if (comm_for(gb_device_index(b->device), what, err, cap)) return -1;
  ncclResult_t r = N.all_reduce(b->data, b->data, (size_t)b->numel, nccl_type(b->dtype),
                                nccl_op(op), C.comm, (cudaStream_t)b->stream);
  if (r != ncclSuccess) return nccl_fail(r, "ncclAllReduce", what, err, cap);
  return watch((cudaStream_t)b->stream, what, err, cap);
}

int gb_dist_nccl_broadcast(gb_dist_buf *b, int root, const char *what, char *err, size_t cap) {
  if (comm_for(gb_device_index(b->device), what, err, cap)) return -1;
  ncclResult_t r = N.broadcast(b->data, b->data, (size_t)b->numel, nccl_type(b->dtype), root,
                               C.comm, (cudaStream_t)b->stream);
  if (r != ncclSuccess) return nccl_fail(r, "ncclBroadcast", what, err, cap);
  return watch((cudaStream_t)b->stream, what, err, cap);
}

int gb_dist_nccl_all_gather(const gb_dist_buf *in, void *out, const char *what, char *err,
                            size_t cap) {
  if (comm_for(gb_device_index(in->device), what, err, cap)) return -1;
  ncclResult_t r = N.all_gather(in->data, out, (size_t)in->numel, nccl_type(in->dtype), C.comm,
                                (cudaStream_t)in->stream);
  if (r != ncclSuccess) return nccl_fail(r, "ncclAllGather", what, err, cap);
  return watch((cudaStream_t)in->stream, what, err, cap);
}

/* Runs on the watchdog thread, every tick. */
void gb_dist_nccl_watch(double now) {
  double t0 = atomic_load(&C.init_t0);
  if (t0 > 0 && now - t0 > gb_dist_timeout()) {
    char m[512];
    snprintf(m, sizeof m,
             "distributed: NCCL communicator set-up (ncclCommInitRank, for %s) not complete "
             "after %.1f s on rank %d: a rank did not join; ending the process",
             C.init_what, now - t0, gb_dist_rank0() + 1);
    gb_dist_break(m);
    gb_dist_die(m);
  }
  if (atomic_load(&C.aborted)) return;
  /* this thread's CUDA calls must use the rank's device: a thread starts on device 0, and
   * querying there would make a context on GPU 0 for every rank of the machine */
  static _Thread_local int set_for = -1;
  int dev = atomic_load(&C.device);
  if (dev < 0) return;
  if (set_for != dev) {
    if (cudaSetDevice(dev) != cudaSuccess) return;
    set_for = dev;
  }
  char msg[512] = "";
  pthread_mutex_lock(&C.lock);
  if (!C.comm) {
    pthread_mutex_unlock(&C.lock);
    return;
  }
  int keep = 0;
  for (int i = 0; i < C.nq; i++) {
    pending *p = &C.q[i];
    cudaError_t e = cudaEventQuery(p->done);
    if (e == cudaSuccess) {
      cudaEventDestroy(p->done);
      continue;
    }
    if (!msg[0] && now - p->t0 > gb_dist_timeout())
      snprintf(msg, sizeof msg,
               "distributed: NCCL collective %s not finished after %.1f s on rank %d (a rank "
               "is missing or stuck); aborting the communicator",
               p->what, now - p->t0, gb_dist_rank0() + 1);
    C.q[keep++] = *p;
  }
  C.nq = keep;
  ncclResult_t async = ncclSuccess;
  if (!msg[0] && N.async_error(C.comm, &async) == ncclSuccess && async != ncclSuccess &&
      async != ncclInProgress)
    snprintf(msg, sizeof msg, "distributed: NCCL reports an error on rank %d%s%s: %s",
             gb_dist_rank0() + 1, C.nq ? " during collective " : "", C.nq ? C.q[0].what : "",
             N.error_string(async));
  pthread_mutex_unlock(&C.lock);
  if (msg[0]) { /* ncclCommAbort may be called from another thread than the one blocked */
    atomic_store(&C.aborted, true);
    N.abort(C.comm);
    gb_dist_break(msg);
    gb_dist_die(msg);
  }
}

void gb_dist_nccl_finalize(bool broken) {
  if (!C.comm) return;
  pthread_mutex_lock(&C.lock);
  for (int i = 0; i < C.nq; i++)
    cudaEventDestroy(C.q[i].done);
  C.nq = 0;
  pthread_mutex_unlock(&C.lock);
  if (broken || atomic_load(&C.aborted))
    N.abort(C.comm);
  else
    N.destroy(C.comm);
  C.comm = NULL;
}
