/* gb_cuda_impl.h — what the gpu/ .cu files share (CUDA C++ only, never seen by runtime/):
 * the per-state backend (one stream, one cuBLAS handle and one caching allocator per device,
 * created lazily), the error-checking macros that turn cudaError_t / cublasStatus_t into
 * GB_ECUDA with call, file and line, and the strided N-d indexing used by the kernels. */
#ifndef GB_CUDA_IMPL_H
#define GB_CUDA_IMPL_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime.h>

#include "gb_cublas.h"

#include "gb_math.h" /* C++ linkage (math.h must not sit in extern "C"); before gb_checked.h */
extern "C" {
#include "gb_checked.h"
#include "gb_iter.h"
#include "gb_layout.h"
#include "gb_op.h"
#include "gb_state.h"
#include "gb_window.h"
}
#include "gb_cuda.h"

#define GB_CUDA_MAXDEV 16
#define GB_CUDA_BINS 256
/* Threads per block: elementwise and fill kernels, and the row-wise reductions (one block
 * per row, CUB block reduce). */
#define GB_CUDA_THREADS 256
#define GB_CUDA_ROW_THREADS 256
#define GB_CUDA_LOSS_THREADS 128 /* per-row loss terms: one thread per row of (N,C) */
/* Keys per query of the sdpa kernels: one query row's scores live in shared memory (2 x 16 KiB
 * in backward). The backend reports it (gb_backend.sdpa_max_keys). */
#define GB_CUDA_SDPA_MAX_KEYS 4096

/* The backend's state on S, and the CUDA ordinal of a device (cuda:N -> N). */
#define GB_CUDA_STATE(S) ((gb_cuda_backend *)(S)->backend[GB_KIND_CUDA])
static inline int gb_cuda_ord(gb_device dev) {
  return gb_device_index(dev);
}
static inline gb_device gb_cuda_device(int ord) {
  return GB_DEVICE(GB_KIND_CUDA, ord);
}

/* A cached device block waiting in its size class (host-side node; device memory cannot
 * hold the link). */
typedef struct gb_cuda_block {
  void *ptr;
  struct gb_cuda_block *next;
} gb_cuda_block;

#define GB_CUDA_CHECKS 64 /* deferred checks pending before the host must look */
#define GB_CUDA_STAGES 4  /* pinned staging buffers in the host->device ring */

/* A pending check: which op, what kind of integer it checked, and the tensor holding them
 * (held until the check is read, to name the bad value). A conversion check (what == NULL)
 * holds the copy's source instead, with the target dtype and the output's shape (the slot
 * records the output position, mapped back to the source when the source broadcasts). */
typedef struct gb_cuda_check {
  const char *op;   /* a static string */
  const char *what; /* "label" or "index"; NULL: a dtype conversion */
  int64_t limit;    /* valid values are 1..limit */
  gb_tensor *ints;  /* the checked integers, or the conversion's source */
  gb_dtype to;      /* conversion: the target dtype */
  int out_ndim;     /* conversion: the output's shape */
  int64_t out_shape[GB_MAXDIM];
} gb_cuda_check;

typedef struct gb_cuda_staging {
  void *buf;
  size_t cap;
  cudaEvent_t done;
  bool pending;
} gb_cuda_staging;

/* Everything S holds on one device. */
typedef struct gb_cuda_dev {
  bool ready;
  cudaStream_t stream;
  cublasHandle_t blas; /* created on the first matrix product */
  bool blas_tf32;      /* math mode currently set on `blas` */
  /* caching allocator */
  gb_cuda_block *bins[GB_CUDA_BINS];
  gb_cuda_block *spare_nodes;
  gb_memstats stats;
  int64_t cached;
  int64_t gc_threshold;   /* ask the host for a collection when allocated bytes pass this */
  uint32_t gc_epoch_seen; /* S->gc_epoch when gc_threshold was last set from live bytes */
  /* Deferred checks: a kernel that may meet a bad label or index records its first bad
   * position in its own slot of dflags (all ones: none), and the host reads every pending
   * slot at the next natural sync (a copy to the host, synchronize), never inside a step. */
  unsigned long long *dflags; /* GB_CUDA_CHECKS slots on the device */
  unsigned long long *hflags; /* their pinned host mirror */
  gb_cuda_check checks[GB_CUDA_CHECKS];
  int nchecks;
  bool draining;
  /* host->device copies go through a ring of pinned staging buffers, each reused once its
   * own copy has completed (its event), so the host runs ahead of the device */
  gb_cuda_staging stage[GB_CUDA_STAGES];
  int next_stage;
} gb_cuda_dev;

typedef struct gb_cuda_backend {
  gb_cuda_dev dev[GB_CUDA_MAXDEV];
  bool tf32;
  bool sync_each; /* GPUBP_CUDA_SYNC=1: synchronize after each launch (locates faults) */
} gb_cuda_backend;

/* The backend's state for device `dev` (a cuda device) of S, created on first use (stream, flag
 * buffer). Fails with GB_EDEVICE for a device that does not exist and GB_ECUDA for a lost one. */
gb_status gb_cuda_ctx(gb_state *S, gb_device dev, gb_cuda_dev **out);

/* Turn a failed CUDA / cuBLAS call into GB_ECUDA on S ("call failed at file:line: why");
 * a sticky error marks the device lost for the rest of the process. */
gb_status gb_cuda_fail(gb_state *S, gb_device dev, cudaError_t err, const char *call,
                       const char *file, int line);
gb_status gb_cublas_fail(gb_state *S, gb_device dev, cublasStatus_t st, const char *call,
                         const char *file, int line);
/* After a kernel launch: launch errors now, and with sync_each, execution errors too. */
gb_status gb_cuda_after_launch(gb_state *S, gb_device dev, cudaStream_t stream, const char *what,
                               const char *file, int line);

#define GB_CU(S, dev, call)                                                                        \
  do {                                                                                             \
    cudaError_t gb_e_ = (call);                                                                    \
    if (gb_e_ != cudaSuccess) return gb_cuda_fail((S), (dev), gb_e_, #call, __FILE__, __LINE__);   \
  } while (0)
#define GB_CUBLAS(S, dev, call)                                                                    \
  do {                                                                                             \
    cublasStatus_t gb_b_ = (call);                                                                 \
    if (gb_b_ != CUBLAS_STATUS_SUCCESS)                                                            \
      return gb_cublas_fail((S), (dev), gb_b_, #call, __FILE__, __LINE__);                         \
  } while (0)
#define GB_LAUNCHED(S, dev, ctx, what)                                                             \
  do {                                                                                             \
    gb_status gb_s_ = gb_cuda_after_launch((S), (dev), (ctx)->stream, (what), __FILE__, __LINE__); \
    if (gb_s_) return gb_s_;                                                                       \
  } while (0)

/* Blocks for n elements at `threads` per block, capped so a grid-stride loop covers the rest. */
static inline unsigned gb_cuda_blocks(int64_t n, int threads) {
  int64_t b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  if (b > 65535 * 8) b = 65535 * 8;
  return (unsigned)b;
}

/* The device slot a checking kernel writes its first bad position into (atomicMin; all ones
 * means none). When every slot is pending the checks are read first (one sync, rare). */
gb_status gb_cuda_check_slot(gb_state *S, gb_device dev, gb_cuda_dev *c, unsigned long long **slot);
/* After the kernel was launched into the slot gb_cuda_check_slot gave: remember what it
 * checked (`ints` is held until the check is read). */
void gb_cuda_check_note(gb_cuda_dev *c, const char *op, const char *what, int64_t limit,
                        gb_tensor *ints);
/* The same for a dtype conversion of `src` into `out` (copy): the kernel records the first
 * output position whose value `to` cannot hold (NaN, inf, out of range). */
void gb_cuda_check_note_convert(gb_cuda_dev *c, const char *op, gb_tensor *src, gb_dtype to,
                                const gb_tensor *out);
/* Reads every pending check of the device (synchronizing its stream) and fails with the
 * first bad one: "<op>: <label|index> <v> at position <i> is out of range 1..<limit>", or for a
 * conversion "copy: element <i> of the <shape> <dtype> tensor is <v>, which <dtype> cannot hold"
 * (the CPU's message). */
gb_status gb_cuda_checks_read(gb_state *S, gb_device dev, gb_cuda_dev *c);
/* cuBLAS handle of the device, created on first use, with S's TF32 choice applied. */
gb_status gb_cuda_blas(gb_state *S, gb_device dev, gb_cuda_dev *c, cublasHandle_t *h);

/* ---- one kernel body for float32 and float64 -------------------------------------------
 * Kernels of the float rows are templates over the element type T (float or double); these
 * overloads pick the libm function of T, so a body written once computes in float for
 * float32 tensors (as before) and in double for float64 ones. Sums accumulate in double for
 * both; a launcher picks T from the tensor's dtype (GB_F64: double). */
__device__ __forceinline__ float gb_cu_exp(float x) {
  return expf(x);
}
__device__ __forceinline__ double gb_cu_exp(double x) {
  return exp(x);
}
__device__ __forceinline__ float gb_cu_fmax(float a, float b) {
  return fmaxf(a, b);
}
__device__ __forceinline__ double gb_cu_fmax(double a, double b) {
  return fmax(a, b);
}
__device__ __forceinline__ float gb_cu_sqrt(float x) {
  return sqrtf(x);
}
__device__ __forceinline__ double gb_cu_sqrt(double x) {
  return sqrt(x);
}
template <class T> __device__ __forceinline__ T gb_cu_nan() {
  return (T)__int_as_float(0x7fc00000);
}
template <class T> __device__ __forceinline__ T gb_cu_neg_inf() {
  return (T)__int_as_float(0xff800000);
}

/* The data of a float tensor as T (the launcher picked T from the dtype). */
template <class T> static inline T *gb_cu_data(const gb_tensor *t) {
  return (T *)gb_tensor_data(t);
}

/* ---- strided N-d indexing ------------------------------------------------------------------
 * Up to GB_CUDA_MAXOP operands (operand 0 the output) broadcast to the output's shape and
 * coalesced like the CPU iterator: size-1 dims dropped, neighbours that chain merged. Element
 * i of the output in row-major order sits at offset(k, i) in operand k. */
#define GB_CUDA_MAXOP GB_ITER_MAXOP

typedef struct gb_cuda_iter {
  int ndim;
  int nop;
  int64_t numel;
  int64_t shape[GB_MAXDIM];
  int64_t stride[GB_CUDA_MAXOP][GB_MAXDIM];
  char *base[GB_CUDA_MAXOP];
  bool contiguous; /* every operand is flat with stride 1 (or 0: a broadcast scalar) */
} gb_cuda_iter;

void gb_cuda_iter_init(gb_cuda_iter *it, gb_tensor *out, int nin, gb_tensor *const *in);

/* Offsets of element i for all operands at once (one division chain). */
template <int NOP>
__device__ __forceinline__ void gb_iter_offsets(const gb_cuda_iter &it, int64_t i,
                                                int64_t (&off)[NOP]) {
#pragma unroll
  for (int k = 0; k < NOP; k++)
    off[k] = 0;
  for (int d = it.ndim - 1; d >= 0; d--) {
    int64_t n = it.shape[d];
    int64_t c = i % n;
    i /= n;
#pragma unroll
    for (int k = 0; k < NOP; k++)
      off[k] += c * it.stride[k][d];
  }
}

#endif
