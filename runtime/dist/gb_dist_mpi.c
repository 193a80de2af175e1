/* gb_dist_mpi.c — the process group of the distributed plugin over MPI: init from the MPI
 * environment, the header every collective agrees on first (kind, sequence number, dtype,
 * shape: one small all-reduce of their minima and maxima; a mismatch is an error on every
 * rank), host-memory collectives as non-blocking MPI requests waited against a deadline, a
 * control channel that carries one rank's error to the others and answers "where are you"
 * after a timeout, and a watchdog thread for what no wait can see (NCCL, a stuck call). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gb_dist_impl.h"

#define HDR_MAGIC 0x67627031 /* "gbp1" */
#define TAG_ABORT 12
#define TAG_PING 13            /* on ctl_comm: "which collective are you in?" (after a timeout) */
#define TAG_PONG 14            /* on hdr_comm: the answer, the header of the collective it is in */
#define HDR_NF (8 + GB_MAXDIM) /* the header's fields that must agree (hdr_fields) */
#define PING_WAIT_S 1.0
#define MAX_WORKS 256
#define HOSTLEN 64
#define ABORTLEN 1024
#define WHYLEN 1536

typedef struct work {
  bool used, done, agreed; /* agreed: every rank passed its header (not a trusted one) */
  MPI_Request req;
  gb_dist_hdr h;
  double t0;
  gb_dist_buf buf;
} work;

typedef struct peer_info {
  int32_t pid;
  char host[HOSTLEN];
} peer_info;

static struct {
  bool inited, finalized, broken, aborted_self;
  int rank, size;
  MPI_Comm hdr_comm, data_comm, ctl_comm;
  int64_t seq;
  double timeout;
  peer_info *peers;
  gb_dist_hdr mine, pong, *in;
  int64_t agree_in[2 * HDR_NF], agree_out[2 * HDR_NF];
  MPI_Request *reqs;
  MPI_Request abort_req;
  char abort_in[ABORTLEN], abort_out[ABORTLEN];
  bool *said_abort;
  char why[WHYLEN];
  work works[MAX_WORKS];
  atomic_int nworks;
  /* Held by the main thread whenever it is inside the plugin, except while it naps in a
   * wait; the watchdog thread takes it (trylock) to drive MPI's progress on the transfers
   * in flight, so MPI sees one thread at a time (MPI_THREAD_SERIALIZED). */
  pthread_mutex_t lock;
  bool progress_thread;
  pthread_t watchdog;
  bool watchdog_running;
  atomic_bool stop;
  atomic_int in_poll;
  _Atomic double beat;
  char sigmsg[2][512];
  atomic_int sigcur;
} D = {.timeout = 60.0, .lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- small helpers ----------------------------------------------------------------------- */

double gb_dist_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int gb_dist_fail(char *err, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (err && cap) vsnprintf(err, cap, fmt, ap);
  va_end(ap);
  return -1;
}

MPI_Comm gb_dist_comm(void) {
  return D.data_comm;
}
int gb_dist_rank0(void) {
  return D.rank;
}
int gb_dist_size(void) {
  return D.size;
}
double gb_dist_timeout(void) {
  return D.timeout;
}

void gb_dist_break(const char *why) {
  if (!D.broken) snprintf(D.why, sizeof D.why, "%s", why);
  D.broken = true;
}

void gb_dist_die(const char *msg) {
  fprintf(stderr, "%s\n", msg);
  fflush(stderr);
  _exit(1);
}

static const char *dtype_name(int dt) {
  return dt == GB_F32   ? "float32"
         : dt == GB_F64 ? "float64"
         : dt == GB_I32 ? "int32"
         : dt == GB_I64 ? "int64"
                        : "?";
}
static const char *op_name(int op) {
  static const char *names[] = {"sum", "mean", "max", "min"};
  return op >= 0 && op < 4 ? names[op] : "?";
}

const char *gb_dist_describe(const gb_dist_hdr *h, char *buf, size_t cap) {
  static const char *kinds[] = {"?",          "barrier",  "all_reduce", "broadcast",
                                "all_gather", "finalize", "nccl_init"};
  const char *k = h->kind > 0 && h->kind <= GB_DK_NCCL_INIT ? kinds[h->kind] : "?";
  int n = snprintf(buf, cap, "#%lld %s", (long long)h->seq, k);
  if (n < 0 || (size_t)n >= cap) return buf;
  if (h->kind == GB_DK_ALL_REDUCE) n += snprintf(buf + n, cap - (size_t)n, "(%s)", op_name(h->op));
  if (h->kind == GB_DK_BROADCAST) n += snprintf(buf + n, cap - (size_t)n, "(root %d)", h->root + 1);
  if (h->kind == GB_DK_ALL_REDUCE || h->kind == GB_DK_BROADCAST || h->kind == GB_DK_ALL_GATHER) {
    n += snprintf(buf + n, cap - (size_t)n, " %s (", dtype_name(h->dtype));
    for (int d = 0; d < h->ndim && n > 0 && (size_t)n < cap; d++)
      n += snprintf(buf + n, cap - (size_t)n, "%s%lld", d ? "," : "", (long long)h->shape[d]);
    if (n > 0 && (size_t)n < cap)
      n += snprintf(buf + n, cap - (size_t)n, ")%s", h->cuda ? " on cuda" : "");
  }
  return buf;
}

/* What a SIGTERM from the launcher prints: kept ready, since a handler cannot format. */
static void set_sigmsg(const gb_dist_hdr *h) {
  char what[256];
  int next = 1 - atomic_load(&D.sigcur);
  snprintf(D.sigmsg[next], sizeof D.sigmsg[next],
           "distributed: rank %d was stopped by the launcher (signal) in or after collective "
           "%s: the launcher ends every rank once one fails; its report names the rank\n",
           D.rank + 1, gb_dist_describe(h, what, sizeof what));
  atomic_store(&D.sigcur, next);
}

static void on_sigterm(int sig) {
  const char *m = D.sigmsg[atomic_load(&D.sigcur)];
  ssize_t w = write(2, m, strlen(m));
  (void)w;
  signal(sig, SIG_DFL);
  raise(sig);
}

static int mpi_fail(int rc, const char *call, char *err, size_t cap) {
  char s[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, s, &len) != MPI_SUCCESS) snprintf(s, sizeof s, "error %d", rc);
  return gb_dist_fail(err, cap, "distributed: %s failed on rank %d: %s", call, D.rank + 1, s);
}

static bool same_host(int r) {
  return strcmp(D.peers[r].host, D.peers[D.rank].host) == 0;
}

/* Whether rank r's process is known to be gone (only checkable on this host). */
static bool gone(int r) {
  return same_host(r) && kill((pid_t)D.peers[r].pid, 0) == -1 && errno == ESRCH;
}

/* Appends ", rank 2 (process 123 on vm) is gone" for the ranks whose process has ended. */
static int append_gone(char *buf, size_t cap, int n) {
  int any = 0;
  for (int r = 0; r < D.size && n > 0 && (size_t)n < cap; r++) {
    if (r == D.rank || !gone(r)) continue;
    n += snprintf(buf + n, cap - (size_t)n, "%s rank %d (process %d on %s) is gone",
                  any++ ? ";" : ":", r + 1, (int)D.peers[r].pid, D.peers[r].host);
  }
  if (!any && n > 0 && (size_t)n < cap)
    n += snprintf(buf + n, cap - (size_t)n,
                  ": no rank on this host is known to be gone (one may be stuck, or on "
                  "another host)");
  return n;
}

/* ---- the abort channel ------------------------------------------------------------------- */

static void post_abort_recv(void) {
  MPI_Irecv(D.abort_in, ABORTLEN, MPI_CHAR, MPI_ANY_SOURCE, MPI_ANY_TAG, D.ctl_comm, &D.abort_req);
}

/* Has a peer announced its failure? Then break the group and say so in err. A peer's ping
 * (it timed out and asks where every rank is) is answered with the collective this rank is
 * in, D.mine. */
static bool check_abort(const gb_dist_hdr *h, char *err, size_t cap) {
  int flag = 0;
  MPI_Status st;
  if (D.abort_req == MPI_REQUEST_NULL) return false;
  MPI_Test(&D.abort_req, &flag, &st);
  if (!flag) return false;
  int from = st.MPI_SOURCE;
  if (st.MPI_TAG == TAG_PING) {
    MPI_Request r;
    D.pong = D.mine;
    if (MPI_Isend(&D.pong, (int)sizeof D.pong, MPI_BYTE, from, TAG_PONG, D.hdr_comm, &r) ==
        MPI_SUCCESS)
      MPI_Request_free(&r);
    post_abort_recv();
    return false;
  }
  D.abort_in[ABORTLEN - 1] = '\0';
  char what[256], msg[WHYLEN];
  snprintf(msg, sizeof msg, "distributed: rank %d failed: %s (rank %d was in collective %s)",
           from + 1, D.abort_in, D.rank + 1, h ? gb_dist_describe(h, what, sizeof what) : "none");
  if (from >= 0 && from < D.size) D.said_abort[from] = true;
  post_abort_recv();
  gb_dist_break(msg);
  gb_dist_fail(err, cap, "%s", msg);
  return true;
}

/* ---- waiting ----------------------------------------------------------------------------- */

static void nap(int *spins) {
  if (++*spins < 64) return;
  long ns = *spins < 200 ? 20000 : 200000;
  struct timespec ts = {0, ns};
  pthread_mutex_unlock(&D.lock);
  nanosleep(&ts, NULL);
  pthread_mutex_lock(&D.lock);
}

static bool hdr_equal(const gb_dist_hdr *a, const gb_dist_hdr *b);

/* After a timeout: asks every other rank which collective it is in (TAG_PING; a rank
 * answers from any wait of its own) and waits up to PING_WAIT_S for the answers of those
 * whose process is not known to be gone, into D.in[p]. answered[p]: it answered. Only on
 * this failure path does anything cost O(N). */
static void ping_peers(bool *answered) {
  static const char ping = 1;
  int n = 0;
  for (int p = 0; p < D.size; p++) {
    answered[p] = p == D.rank;
    D.reqs[p] = MPI_REQUEST_NULL;
    if (p == D.rank || gone(p)) continue;
    MPI_Request r;
    if (MPI_Isend(&ping, 1, MPI_CHAR, p, TAG_PING, D.ctl_comm, &r) == MPI_SUCCESS)
      MPI_Request_free(&r);
    memset(&D.in[p], 0, sizeof D.in[p]);
    MPI_Irecv(&D.in[p], (int)sizeof D.in[p], MPI_BYTE, p, TAG_PONG, D.hdr_comm, &D.reqs[p]);
    n++;
  }
  double t0 = gb_dist_now();
  int spins = 0;
  while (n > 0 && gb_dist_now() - t0 < PING_WAIT_S) {
    char ignored[16];
    check_abort(NULL, ignored, sizeof ignored); /* answer a peer that pings us meanwhile */
    for (int p = 0; p < D.size; p++) {
      int flag = 0;
      if (D.reqs[p] == MPI_REQUEST_NULL) continue;
      MPI_Test(&D.reqs[p], &flag, MPI_STATUS_IGNORE);
      if (flag) {
        answered[p] = true;
        n--;
      }
    }
    nap(&spins);
  }
  for (int p = 0; p < D.size; p++)
    if (D.reqs[p] != MPI_REQUEST_NULL) {
      MPI_Cancel(&D.reqs[p]);
      MPI_Request_free(&D.reqs[p]);
    }
}

/* The timeout message: for each other rank, whether it is in this collective too, in
 * another (which), or did not answer (its process gone, or stuck outside gpubp's waits);
 * agreed: every rank passed this collective's header already. */
static int timed_out(const gb_dist_hdr *h, bool agreed, double waited, char *err, size_t cap) {
  char what[256], msg[WHYLEN];
  int len =
      snprintf(msg, sizeof msg, "distributed: collective %s timed out after %.1f s on rank %d",
               gb_dist_describe(h, what, sizeof what), waited, D.rank + 1);
  bool *answered = calloc((size_t)D.size, sizeof *answered);
  int missing = 0;
  if (answered) ping_peers(answered);
  for (int r = 0; answered && r < D.size && len > 0 && (size_t)len < sizeof msg; r++) {
    if (r == D.rank) continue;
    const char *sep = missing ? ";" : ":";
    if (!answered[r]) {
      bool dead = gone(r);
      len += snprintf(msg + len, sizeof msg - (size_t)len, "%s rank %d %s%s", sep, r + 1,
                      agreed ? "reached it but stopped answering" : "did not reach it",
                      dead ? " (its process is gone)"
                           : " (it does not answer: busy outside gpubp's collectives, stuck, "
                             "or unreachable)");
      missing++;
    } else if (D.in[r].magic == HDR_MAGIC && !hdr_equal(&D.in[r], h)) {
      len += snprintf(msg + len, sizeof msg - (size_t)len, "%s rank %d is in collective %s", sep,
                      r + 1, gb_dist_describe(&D.in[r], what, sizeof what));
      missing++;
    }
  }
  free(answered);
  if (!missing && len > 0 && (size_t)len < sizeof msg) {
    len += snprintf(msg + len, sizeof msg - (size_t)len,
                    ": every rank reached it but the transfer did not finish");
    len = append_gone(msg, sizeof msg, len);
  }
  gb_dist_break(msg);
  return gb_dist_fail(err, cap, "%s", msg);
}

/* Waits for reqs[0..n) until t0 + timeout, watching the abort channel (agreed: as
 * timed_out's). On failure the group is broken and err says why. */
static int wait_reqs(int n, MPI_Request *reqs, const gb_dist_hdr *h, bool agreed, double t0,
                     char *err, size_t cap) {
  int spins = 0;
  atomic_store(&D.in_poll, 1);
  for (;;) {
    int flag = 0;
    int rc = MPI_Testall(n, reqs, &flag, MPI_STATUSES_IGNORE);
    double now = gb_dist_now();
    atomic_store(&D.beat, now);
    if (rc != MPI_SUCCESS) {
      atomic_store(&D.in_poll, 0);
      char what[256], msg[WHYLEN];
      mpi_fail(rc, gb_dist_describe(h, what, sizeof what), msg, sizeof msg);
      gb_dist_break(msg);
      return gb_dist_fail(err, cap, "%s", msg);
    }
    if (flag) break;
    if (check_abort(h, err, cap)) {
      atomic_store(&D.in_poll, 0);
      return -1;
    }
    if (now - t0 > D.timeout) {
      atomic_store(&D.in_poll, 0);
      return timed_out(h, agreed, now - t0, err, cap);
    }
    nap(&spins);
  }
  atomic_store(&D.in_poll, 0);
  return 0;
}

/* ---- the header exchange ----------------------------------------------------------------- */

static bool hdr_equal(const gb_dist_hdr *a, const gb_dist_hdr *b) {
  if (a->kind != b->kind || a->seq != b->seq || a->dtype != b->dtype || a->op != b->op ||
      a->root != b->root || a->ndim != b->ndim || a->cuda != b->cuda)
    return false;
  for (int d = 0; d < a->ndim && d < GB_MAXDIM; d++)
    if (a->shape[d] != b->shape[d]) return false;
  return true;
}

static int check_usable(char *err, size_t cap) {
  if (!D.inited || D.finalized)
    return gb_dist_fail(err, cap, "distributed: %s",
                        D.finalized ? "finalize() was called already"
                                    : "init() has not been called");
  if (D.broken)
    return gb_dist_fail(err, cap, "distributed: the process group is unusable: %s", D.why);
  return 0;
}

/* Fills h for a collective on b (NULL: none) and numbers it. */
static void make_hdr(gb_dist_hdr *h, int kind, const gb_dist_buf *b, int op, int root) {
  memset(h, 0, sizeof *h);
  h->magic = HDR_MAGIC;
  h->kind = kind;
  h->op = op;
  h->root = root;
  h->seq = ++D.seq;
  if (b) {
    h->dtype = (int32_t)b->dtype;
    h->ndim = b->ndim;
    h->cuda = gb_device_kind_of(b->device) != GB_KIND_CPU;
    for (int d = 0; d < b->ndim && d < GB_MAXDIM; d++)
      h->shape[d] = b->shape[d];
  }
}

/* The fields of h that must agree across ranks. */
static void hdr_fields(const gb_dist_hdr *h, int64_t *f) {
  int k = 0;
  f[k++] = h->magic;
  f[k++] = h->kind;
  f[k++] = h->seq;
  f[k++] = h->dtype;
  f[k++] = h->op;
  f[k++] = h->root;
  f[k++] = h->ndim;
  f[k++] = h->cuda;
  for (int d = 0; d < GB_MAXDIM; d++)
    f[k++] = d < h->ndim ? h->shape[d] : 0;
}

/* Every rank checks that all agree on h: one all-reduce (MPI_MAX) of each field and of its
 * negation, i.e. of every field's maximum and minimum, O(log N) and a few hundred bytes.
 * Only when some field differs do the ranks gather every header, to name the rank and its
 * call. A mismatch is an error on every rank (the same message everywhere) and leaves the
 * group usable. */
static int exchange(const gb_dist_hdr *h, char *err, size_t cap) {
  double t0 = gb_dist_now();
  D.mine = *h;
  set_sigmsg(h);
  if (D.size == 1) return 0;
  int64_t f[HDR_NF];
  hdr_fields(h, f);
  for (int i = 0; i < HDR_NF; i++) {
    D.agree_in[i] = f[i];
    D.agree_in[HDR_NF + i] = -f[i];
  }
  MPI_Request req;
  int rc =
      MPI_Iallreduce(D.agree_in, D.agree_out, 2 * HDR_NF, MPI_INT64_T, MPI_MAX, D.hdr_comm, &req);
  if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Iallreduce (header)", err, cap);
  if (wait_reqs(1, &req, h, false, t0, err, cap)) return -1;
  bool same = true;
  for (int i = 0; i < HDR_NF && same; i++)
    same = D.agree_out[i] == f[i] && -D.agree_out[HDR_NF + i] == f[i];
  if (same) return 0;
  /* the rare path: every header, to say who differs */
  rc = MPI_Iallgather(&D.mine, (int)sizeof(gb_dist_hdr), MPI_BYTE, D.in, (int)sizeof(gb_dist_hdr),
                      MPI_BYTE, D.hdr_comm, &req);
  if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Iallgather (headers)", err, cap);
  if (wait_reqs(1, &req, h, true, t0, err, cap)) return -1;
  for (int p = 0; p < D.size; p++) {
    if (D.in[p].magic != HDR_MAGIC) {
      char msg[WHYLEN];
      snprintf(msg, sizeof msg,
               "distributed: rank %d sent a malformed header (another gpubp "
               "version, or memory corruption)",
               p + 1);
      gb_dist_break(msg);
      return gb_dist_fail(err, cap, "%s", msg);
    }
  }
  for (int p = 1; p < D.size; p++) {
    if (hdr_equal(&D.in[0], &D.in[p])) continue;
    char a[256], b[256];
    gb_dist_describe(&D.in[0], a, sizeof a);
    gb_dist_describe(&D.in[p], b, sizeof b);
    const char *why = D.in[0].kind == GB_DK_FINALIZE || D.in[p].kind == GB_DK_FINALIZE
                          ? " (a rank that ends or fails outside a collective calls finalize)"
                          : "";
    return gb_dist_fail(err, cap,
                        "distributed: collective #%lld does not match across ranks: rank 1 "
                        "called %s, rank %d called %s%s",
                        (long long)h->seq, a, p + 1, b, why);
  }
  return gb_dist_fail(err, cap, "distributed: collective #%lld: the ranks' headers differ (%s)",
                      (long long)h->seq, "their all-reduce and their gather disagree");
}

/* ---- host-memory collectives ------------------------------------------------------------- */

static MPI_Datatype mpi_type(gb_dtype dt) {
  return dt == GB_F32   ? MPI_FLOAT
         : dt == GB_F64 ? MPI_DOUBLE
         : dt == GB_I32 ? MPI_INT32_T
                        : MPI_INT64_T;
}

static MPI_Op mpi_op(gb_dist_op op) {
  return op == GB_DIST_MAX ? MPI_MAX : op == GB_DIST_MIN ? MPI_MIN : MPI_SUM;
}

static int check_buf(const gb_dist_buf *b, const char *what, char *err, size_t cap) {
  if (b->numel > 0x7fffffff)
    return gb_dist_fail(err, cap,
                        "distributed: %s: %lld elements is more than one transfer "
                        "carries (2^31 - 1)",
                        what, (long long)b->numel);
  if (b->dtype != GB_F32 && b->dtype != GB_F64 && b->dtype != GB_I32 && b->dtype != GB_I64)
    return gb_dist_fail(err, cap, "distributed: %s: unsupported dtype", what);
  return 0;
}

static void finish_mean(work *w) {
  if (w->h.kind != GB_DK_ALL_REDUCE || w->h.op != GB_DIST_MEAN || w->h.cuda) return;
  if (w->buf.dtype == GB_F64) {
    double *x = w->buf.data, n = (double)D.size;
    for (int64_t i = 0; i < w->buf.numel; i++)
      x[i] /= n;
    return;
  }
  float *x = w->buf.data;
  float n = (float)D.size;
  for (int64_t i = 0; i < w->buf.numel; i++)
    x[i] /= n;
}

static work *new_work(const gb_dist_hdr *h, const gb_dist_buf *b, bool agreed) {
  for (int i = 0; i < MAX_WORKS; i++) {
    work *w = &D.works[i];
    if (w->used) continue;
    memset(w, 0, sizeof *w);
    w->used = true;
    w->h = *h;
    w->agreed = agreed;
    w->t0 = gb_dist_now();
    if (b) w->buf = *b;
    w->req = MPI_REQUEST_NULL;
    D.nworks++;
    return w;
  }
  return NULL;
}

static int wait_work(work *w, char *err, size_t cap) {
  int rc = wait_reqs(1, &w->req, &w->h, w->agreed, w->t0, err, cap);
  if (!rc) finish_mean(w);
  w->used = false;
  D.nworks--;
  return rc;
}

static int d_wait_locked(int handle, char *err, size_t cap) {
  if (handle < 1 || handle > MAX_WORKS || !D.works[handle - 1].used)
    return gb_dist_fail(err, cap, "distributed: wait: handle %d is not a transfer in flight",
                        handle);
  return wait_work(&D.works[handle - 1], err, cap);
}

/* Tests the transfers in flight (MPI advances them only inside its calls). Under D.lock. */
static void progress_locked(void) {
  if (!D.inited || D.finalized || atomic_load(&D.nworks) == 0) return;
  for (int i = 0; i < MAX_WORKS; i++) {
    work *w = &D.works[i];
    if (!w->used || w->done) continue;
    int flag = 0;
    MPI_Test(&w->req, &flag, MPI_STATUS_IGNORE);
    if (flag) w->done = true;
  }
}

static void d_progress(void) {
  pthread_mutex_lock(&D.lock);
  progress_locked();
  pthread_mutex_unlock(&D.lock);
}

static int d_barrier_locked(char *err, size_t cap) {
  if (check_usable(err, cap)) return -1;
  gb_dist_hdr h;
  make_hdr(&h, GB_DK_BARRIER, NULL, 0, 0);
  return exchange(&h, err, cap); /* everyone heard from everyone: a barrier */
}

static int d_all_reduce_locked(gb_dist_buf *b, gb_dist_op op, unsigned flags, int *handle,
                               char *err, size_t cap) {
  if (check_usable(err, cap) || check_buf(b, "all_reduce", err, cap)) return -1;
  gb_dist_hdr h;
  make_hdr(&h, GB_DK_ALL_REDUCE, b, (int)op, 0);
  if (!(flags & GB_DIST_TRUSTED)) {
    if (exchange(&h, err, cap)) return -1;
  } else {
    D.mine = h; /* what a timeout or the watchdog describe */
    set_sigmsg(&h);
  }
  char what[256];
  gb_dist_describe(&h, what, sizeof what);
  if (h.cuda) return gb_dist_nccl_all_reduce(b, op, what, err, cap);
  work *w = new_work(&h, b, !(flags & GB_DIST_TRUSTED));
  if (!w)
    return gb_dist_fail(err, cap, "distributed: %s: more than %d transfers in flight", what,
                        MAX_WORKS);
  int rc = MPI_Iallreduce(MPI_IN_PLACE, b->data, (int)b->numel, mpi_type(b->dtype), mpi_op(op),
                          D.data_comm, &w->req);
  if (rc != MPI_SUCCESS) {
    w->used = false;
    D.nworks--;
    return mpi_fail(rc, "MPI_Iallreduce", err, cap);
  }
  if (handle) {
    *handle = (int)(w - D.works) + 1;
    return 0;
  }
  return wait_work(w, err, cap);
}

static int d_broadcast_locked(gb_dist_buf *b, int root, char *err, size_t cap) {
  if (check_usable(err, cap) || check_buf(b, "broadcast", err, cap)) return -1;
  if (root < 0 || root >= D.size)
    return gb_dist_fail(err, cap, "distributed: broadcast: root %d is not a rank (1..%d)", root + 1,
                        D.size);
  gb_dist_hdr h;
  make_hdr(&h, GB_DK_BROADCAST, b, 0, root);
  if (exchange(&h, err, cap)) return -1;
  char what[256];
  gb_dist_describe(&h, what, sizeof what);
  if (h.cuda) return gb_dist_nccl_broadcast(b, root, what, err, cap);
  work *w = new_work(&h, b, true);
  if (!w) return gb_dist_fail(err, cap, "distributed: %s: too many transfers in flight", what);
  int rc = MPI_Ibcast(b->data, (int)b->numel, mpi_type(b->dtype), root, D.data_comm, &w->req);
  if (rc != MPI_SUCCESS) {
    w->used = false;
    D.nworks--;
    return mpi_fail(rc, "MPI_Ibcast", err, cap);
  }
  return wait_work(w, err, cap);
}

static int d_all_gather_locked(const gb_dist_buf *in, void *out, char *err, size_t cap) {
  if (check_usable(err, cap) || check_buf(in, "all_gather", err, cap)) return -1;
  gb_dist_hdr h;
  make_hdr(&h, GB_DK_ALL_GATHER, in, 0, 0);
  if (exchange(&h, err, cap)) return -1;
  char what[256];
  gb_dist_describe(&h, what, sizeof what);
  if (h.cuda) return gb_dist_nccl_all_gather(in, out, what, err, cap);
  work *w = new_work(&h, NULL, true);
  if (!w) return gb_dist_fail(err, cap, "distributed: %s: too many transfers in flight", what);
  MPI_Datatype t = mpi_type(in->dtype);
  int rc =
      MPI_Iallgather(in->data, (int)in->numel, t, out, (int)in->numel, t, D.data_comm, &w->req);
  if (rc != MPI_SUCCESS) {
    w->used = false;
    D.nworks--;
    return mpi_fail(rc, "MPI_Iallgather", err, cap);
  }
  return wait_work(w, err, cap);
}

/* For the NCCL part: a collective of its own (header kind GB_DK_NCCL_INIT) that broadcasts
 * n bytes from rank `root` (the NCCL unique id). */
int gb_dist_bcast_bytes(void *buf, int n, int root, char *err, size_t cap) {
  if (check_usable(err, cap)) return -1;
  gb_dist_hdr h;
  make_hdr(&h, GB_DK_NCCL_INIT, NULL, 0, root);
  if (exchange(&h, err, cap)) return -1;
  MPI_Request req;
  int rc = MPI_Ibcast(buf, n, MPI_BYTE, root, D.data_comm, &req);
  if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Ibcast", err, cap);
  return wait_reqs(1, &req, &h, true, gb_dist_now(), err, cap);
}

/* ---- the watchdog thread ----------------------------------------------------------------- */

/* Watches what the main thread's waits cannot: NCCL work queued on a stream, and an MPI call
 * that does not return (a wait loop whose heartbeat stops), 10 times a second; and while
 * host transfers are in flight, drives MPI's progress on them every 0.25 ms, so a bucket's
 * all-reduce advances while backward computes (MPI moves data only inside its calls). */
static void *watchdog_main(void *arg) {
  (void)arg;
  double last_watch = 0;
  while (!atomic_load(&D.stop)) {
    bool busy = D.progress_thread && atomic_load(&D.nworks) > 0;
    struct timespec ts = {0, busy ? 250000 : 100000000};
    nanosleep(&ts, NULL);
    if (busy && pthread_mutex_trylock(&D.lock) == 0) {
      progress_locked();
      pthread_mutex_unlock(&D.lock);
    }
    double now = gb_dist_now();
    if (now - last_watch < 0.1) continue;
    last_watch = now;
    if (atomic_load(&D.in_poll) && now - atomic_load(&D.beat) > D.timeout + 5.0) {
      char what[256], msg[WHYLEN];
      snprintf(msg, sizeof msg,
               "distributed: watchdog: rank %d is stuck inside an MPI call during collective %s "
               "for more than %.0f s; ending the process",
               D.rank + 1, gb_dist_describe(&D.mine, what, sizeof what), D.timeout + 5.0);
      gb_dist_die(msg);
    }
    gb_dist_nccl_watch(now);
  }
  return NULL;
}

/* ---- init, finalize, abort --------------------------------------------------------------- */

static int d_finalize(char *err, size_t cap);

static void at_exit(void) {
  if (!D.inited || D.finalized) return;
  if (D.broken) { /* MPI_Finalize would wait for ranks that are gone; the launcher must end
                   * the job, which a plain exit does not always make it do */
    fflush(stdout);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    return;
  }
  char err[WHYLEN];
  if (d_finalize(err, sizeof err)) fprintf(stderr, "%s\n", err);
}

static int dup_comm(MPI_Comm *c, char *err, size_t cap) {
  int rc = MPI_Comm_dup(MPI_COMM_WORLD, c);
  if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Comm_dup", err, cap);
  MPI_Comm_set_errhandler(*c, MPI_ERRORS_RETURN);
  return 0;
}

static int d_init_locked(const gb_dist_opts *o, char *err, size_t cap) {
  if (D.finalized)
    return gb_dist_fail(err, cap, "distributed: init after finalize: MPI starts once per process");
  if (D.inited) return 0;
  if (o && o->timeout_s > 0) D.timeout = o->timeout_s;
  int flag = 0, provided = 0;
  MPI_Initialized(&flag);
  if (!flag) {
    /* Open MPI's non-blocking all-reduce (coll/libnbc) picks a binomial tree for two ranks,
     * which sends, receives and reduces the whole buffer at the root; reduce-scatter then
     * all-gather (Rabenseifner's, 3) has each rank reduce its 1/N: 2.3-2.5 against 4.5-4.9 ms
     * of CPU for DDP's 7.4 MB at two ranks (docs/benchmarks.md). A value the user gave
     * (mpirun --mca, or the variable) wins; other MPIs ignore the variable. */
    setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "3", 0);
    int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Init_thread", err, cap);
  } else {
    MPI_Query_thread(&provided);
  }
  D.progress_thread = provided >= MPI_THREAD_SERIALIZED && !getenv("GPUBP_DIST_NO_PROGRESS");
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  if (dup_comm(&D.hdr_comm, err, cap) || dup_comm(&D.data_comm, err, cap) ||
      dup_comm(&D.ctl_comm, err, cap))
    return -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &D.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &D.size);
  D.peers = calloc((size_t)D.size, sizeof *D.peers);
  D.in = calloc((size_t)D.size, sizeof *D.in);
  D.reqs = calloc((size_t)D.size, sizeof *D.reqs);
  D.said_abort = calloc((size_t)D.size, sizeof *D.said_abort);
  if (!D.peers || !D.in || !D.reqs || !D.said_abort)
    return gb_dist_fail(err, cap, "distributed: init: out of memory");
  peer_info me = {.pid = (int32_t)getpid()};
  gethostname(me.host, sizeof me.host - 1);
  D.inited = true;
  gb_dist_hdr h = {.kind = GB_DK_BARRIER, .seq = 0};
  MPI_Request req;
  int rc = MPI_Iallgather(&me, (int)sizeof me, MPI_BYTE, D.peers, (int)sizeof me, MPI_BYTE,
                          D.ctl_comm, &req);
  if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Iallgather", err, cap);
  D.abort_req = MPI_REQUEST_NULL;
  if (wait_reqs(1, &req, &h, false, gb_dist_now(), err, cap)) return -1;
  post_abort_recv();
  set_sigmsg(&h);
  struct sigaction old;
  if (sigaction(SIGTERM, NULL, &old) == 0 && old.sa_handler == SIG_DFL) signal(SIGTERM, on_sigterm);
  atomic_store(&D.stop, false);
  D.watchdog_running = pthread_create(&D.watchdog, NULL, watchdog_main, NULL) == 0;
  static bool registered = false;
  if (!registered) atexit(at_exit);
  registered = true;
  return 0;
}

static void stop_watchdog(void) {
  if (!D.watchdog_running) return;
  atomic_store(&D.stop, true);
  pthread_join(D.watchdog, NULL);
  D.watchdog_running = false;
}

static int d_finalize_locked(char *err, size_t cap) {
  if (!D.inited || D.finalized) return 0;
  int rc = 0;
  if (!D.broken) {
    for (int i = 0; i < MAX_WORKS && !rc; i++)
      if (D.works[i].used) rc = wait_work(&D.works[i], err, cap);
    gb_dist_hdr h;
    make_hdr(&h, GB_DK_FINALIZE, NULL, 0, 0);
    if (!rc) rc = exchange(&h, err, cap);
    if (rc) gb_dist_break(err);
  }
  stop_watchdog();
  gb_dist_nccl_finalize(D.broken);
  D.finalized = true;
  if (D.broken) return rc ? rc : gb_dist_fail(err, cap, "distributed: finalize: %s", D.why);
  if (D.abort_req != MPI_REQUEST_NULL) {
    MPI_Cancel(&D.abort_req);
    MPI_Wait(&D.abort_req, MPI_STATUS_IGNORE);
  }
  MPI_Comm_free(&D.hdr_comm);
  MPI_Comm_free(&D.data_comm);
  MPI_Comm_free(&D.ctl_comm);
  MPI_Finalize();
  return 0;
}

/* Tells the others, then waits (a few seconds at most) until every rank still alive has
 * answered with its own abort: by then they have printed their message. */
static void d_abort_locked(const char *msg) {
  if (!D.inited || D.finalized || D.aborted_self) return;
  D.aborted_self = true;
  snprintf(D.abort_out, sizeof D.abort_out, "%s", msg ? msg : "(no message)");
  int len = (int)strlen(D.abort_out) + 1;
  for (int p = 0; p < D.size; p++) {
    if (p == D.rank) continue;
    MPI_Request r;
    if (MPI_Isend(D.abort_out, len, MPI_CHAR, p, TAG_ABORT, D.ctl_comm, &r) == MPI_SUCCESS)
      MPI_Request_free(&r);
  }
  double grace = D.timeout < 5.0 ? D.timeout : 5.0, t0 = gb_dist_now();
  int spins = 0;
  while (gb_dist_now() - t0 < grace) {
    char err[16];
    check_abort(NULL, err, sizeof err);
    bool all = true;
    for (int p = 0; p < D.size && all; p++)
      if (p != D.rank && !D.said_abort[p] && !gone(p)) all = false;
    if (all) break;
    nap(&spins);
  }
  char why[WHYLEN];
  snprintf(why, sizeof why, "rank %d aborted: %s", D.rank + 1, D.abort_out);
  gb_dist_break(why);
}

/* The entry points: each holds D.lock while it runs (the waits let go of it as they nap). */
#define LOCKED(call)                                                                               \
  do {                                                                                             \
    pthread_mutex_lock(&D.lock);                                                                   \
    int rc_ = (call);                                                                              \
    pthread_mutex_unlock(&D.lock);                                                                 \
    return rc_;                                                                                    \
  } while (0)

static int d_init(const gb_dist_opts *o, char *err, size_t cap) {
  LOCKED(d_init_locked(o, err, cap));
}
static int d_finalize(char *err, size_t cap) {
  LOCKED(d_finalize_locked(err, cap));
}
static int d_barrier(char *err, size_t cap) {
  LOCKED(d_barrier_locked(err, cap));
}
static int d_all_reduce(gb_dist_buf *b, gb_dist_op op, unsigned flags, int *handle, char *err,
                        size_t cap) {
  LOCKED(d_all_reduce_locked(b, op, flags, handle, err, cap));
}
static int d_wait(int handle, char *err, size_t cap) {
  LOCKED(d_wait_locked(handle, err, cap));
}
static int d_broadcast(gb_dist_buf *b, int root, char *err, size_t cap) {
  LOCKED(d_broadcast_locked(b, root, err, cap));
}
static int d_all_gather(const gb_dist_buf *in, void *out, char *err, size_t cap) {
  LOCKED(d_all_gather_locked(in, out, err, cap));
}
static void d_abort(const char *msg) {
  pthread_mutex_lock(&D.lock);
  d_abort_locked(msg);
  pthread_mutex_unlock(&D.lock);
}

static bool d_is_initialized(void) {
  return D.inited && !D.finalized;
}
static int d_rank(void) {
  return D.rank;
}
static int d_world_size(void) {
  return D.size;
}
static void d_set_timeout(double s) {
  if (s > 0) D.timeout = s;
}
static double d_get_timeout(void) {
  return D.timeout;
}

static char build_str[512];

static gb_dist_api api = {
    .abi = GB_DIST_ABI,
    .init = d_init,
    .finalize = d_finalize,
    .is_initialized = d_is_initialized,
    .rank = d_rank,
    .world_size = d_world_size,
    .set_timeout = d_set_timeout,
    .get_timeout = d_get_timeout,
    .barrier = d_barrier,
    .all_reduce = d_all_reduce,
    .wait = d_wait,
    .progress = d_progress,
    .broadcast = d_broadcast,
    .all_gather = d_all_gather,
    .abort = d_abort,
};

/* The plugin's one exported symbol: checks the ABI and returns the table. */
__attribute__((visibility("default"))) const gb_dist_api *gb_dist_plugin_entry(int abi,
                                                                               const char **why) {
  if (abi != GB_DIST_ABI) {
    if (why) *why = "libgpubp_dist.so was built for another version of gpubp";
    return NULL;
  }
  char lib[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(lib, &len);
  char *nl = strchr(lib, ',');
  if (nl) *nl = '\0';
  api.has_nccl = gb_dist_nccl_built();
  snprintf(build_str, sizeof build_str, "mpi (%s)%s%s", lib, api.has_nccl ? ", nccl " : "",
           api.has_nccl ? gb_dist_nccl_version() : "");
  api.build = build_str;
  return &api;
}
