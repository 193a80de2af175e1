/* gb_cuda_state.cu — the CUDA backend's plumbing: device discovery, the per-state backend
 * (a stream and, lazily, a cuBLAS handle per device), the error model (every failed call
 * becomes GB_ECUDA naming call, file and line; a sticky error marks the device lost for the
 * rest of the process), copies between host and devices, and the strided iterator setup. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gb_cuda_impl.h"

/* ---- devices ------------------------------------------------------------------------------
 * The CUDA context is per process, so what is known about devices is too: the count (asked
 * once) and which devices a sticky error has made unusable. */

static int g_count = -1;
static const char *g_why = NULL;
static char g_lost[GB_CUDA_MAXDEV][GB_ERRLEN / 2];

extern "C" int gb_cuda_device_count(const char **why) {
  if (g_count < 0) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      n = 0;
      switch (e) {
      case cudaErrorNoDevice: g_why = "no CUDA-capable device is present"; break;
      case cudaErrorInsufficientDriver:
        g_why = "no NVIDIA driver found, or the driver is older than this build's CUDA runtime";
        break;
      default: g_why = cudaGetErrorString(e); break;
      }
      (void)cudaGetLastError(); /* discovery errors are not sticky for the rest of us */
    } else if (n == 0) {
      g_why = "no CUDA-capable device is present";
    }
    if (n > GB_CUDA_MAXDEV) n = GB_CUDA_MAXDEV;
    if (n > 0 && !gb_cublas_load(&g_why)) n = 0; /* a GPU without cuBLAS is not usable */
    g_count = n;
  }
  if (why) *why = g_count > 0 ? NULL : g_why;
  return g_count;
}

static const char *short_file(const char *file) {
  const char *p = strstr(file, "gpu/");
  return p ? p : file;
}

static bool is_sticky(cudaError_t e) {
  switch (e) {
  case cudaErrorIllegalAddress:
  case cudaErrorLaunchFailure:
  case cudaErrorIllegalInstruction:
  case cudaErrorMisalignedAddress:
  case cudaErrorInvalidAddressSpace:
  case cudaErrorInvalidPc:
  case cudaErrorHardwareStackError:
  case cudaErrorAssert:
  case cudaErrorLaunchTimeout:
  case cudaErrorECCUncorrectable:
  case cudaErrorContextIsDestroyed: return true;
  default: return false;
  }
}

gb_status gb_cuda_fail(gb_state *S, gb_device dev, cudaError_t err, const char *call,
                       const char *file, int line) {
  int ord = gb_cuda_ord(dev);
  if (is_sticky(err) && ord < GB_CUDA_MAXDEV) {
    snprintf(g_lost[ord], sizeof g_lost[ord], "%s (%s at %s:%d)", cudaGetErrorString(err), call,
             short_file(file), line);
    return gb_errorf(S, GB_ECUDA,
                     "cuda:%d lost: %s failed at %s:%d: %s (a sticky error: the device cannot be "
                     "used again in this process)",
                     ord, call, short_file(file), line, cudaGetErrorString(err));
  }
  (void)cudaGetLastError(); /* clear a non-sticky error so the next call starts clean */
  if (err == cudaErrorMemoryAllocation)
    return gb_errorf(S, GB_EOOM, "cuda:%d out of memory: %s failed at %s:%d: %s", ord, call,
                     short_file(file), line, cudaGetErrorString(err));
  return gb_errorf(S, GB_ECUDA, "%s failed at %s:%d: %s", call, short_file(file), line,
                   cudaGetErrorString(err));
}

gb_status gb_cublas_fail(gb_state *S, gb_device dev, cublasStatus_t st, const char *call,
                         const char *file, int line) {
  /* an execution failure may hide a sticky device error: let that win */
  cudaError_t e = cudaGetLastError();
  if (is_sticky(e)) return gb_cuda_fail(S, dev, e, call, file, line);
  if (st == CUBLAS_STATUS_ALLOC_FAILED)
    return gb_errorf(S, GB_EOOM, "cuda:%d out of memory: %s failed at %s:%d: %s", gb_cuda_ord(dev),
                     call, short_file(file), line, cublasGetStatusString(st));
  return gb_errorf(S, GB_ECUDA, "%s failed at %s:%d: %s", call, short_file(file), line,
                   cublasGetStatusString(st));
}

gb_status gb_cuda_after_launch(gb_state *S, gb_device dev, cudaStream_t stream, const char *what,
                               const char *file, int line) {
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess && GB_CUDA_STATE(S)->sync_each) e = cudaStreamSynchronize(stream);
  if (e != cudaSuccess) return gb_cuda_fail(S, dev, e, what, file, line);
  return GB_OK;
}

static gb_cuda_backend *backend(gb_state *S) {
  if (!GB_CUDA_STATE(S)) {
    gb_cuda_backend *b = (gb_cuda_backend *)calloc(1, sizeof *b);
    if (!b) return NULL;
    const char *sync = getenv("GPUBP_CUDA_SYNC");
    b->sync_each = sync && sync[0] == '1';
    S->backend[GB_KIND_CUDA] = b;
  }
  return GB_CUDA_STATE(S);
}

gb_status gb_cuda_ctx(gb_state *S, gb_device dev, gb_cuda_dev **out) {
  const char *why;
  int n = gb_cuda_device_count(&why);
  int ord = gb_cuda_ord(dev);
  if (gb_device_kind_of(dev) != GB_KIND_CUDA || ord >= n) {
    if (n == 0) return gb_errorf(S, GB_EDEVICE, "cuda unavailable: %s", why);
    return gb_errorf(S, GB_EDEVICE, "device cuda:%d does not exist (%d CUDA device%s present)", ord,
                     n, n == 1 ? "" : "s");
  }
  if (g_lost[ord][0])
    return gb_errorf(S, GB_ECUDA,
                     "cuda:%d is lost after an earlier sticky error: %s; restart the process", ord,
                     g_lost[ord]);
  gb_cuda_backend *b = backend(S);
  if (!b) return gb_errorf(S, GB_EOOM, "out of memory: CUDA backend state");
  gb_cuda_dev *c = &b->dev[ord];
  if (n > 1) GB_CU(S, dev, cudaSetDevice(ord));
  if (!c->ready) {
    if (n <= 1) GB_CU(S, dev, cudaSetDevice(ord));
    GB_CU(S, dev, cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    size_t flag_bytes = sizeof(unsigned long long) * GB_CUDA_CHECKS;
    GB_CU(S, dev, cudaMalloc((void **)&c->dflags, flag_bytes));
    GB_CU(S, dev, cudaMallocHost((void **)&c->hflags, flag_bytes));
    GB_CU(S, dev, cudaMemsetAsync(c->dflags, 0xff, flag_bytes, c->stream));
    for (int k = 0; k < GB_CUDA_STAGES; k++)
      GB_CU(S, dev, cudaEventCreateWithFlags(&c->stage[k].done, cudaEventDisableTiming));
    c->gc_threshold = (int64_t)1 << 30;
    c->gc_epoch_seen = S->gc_epoch;
    c->ready = true;
  }
  *out = c;
  return GB_OK;
}

void *gb_cuda_native_stream(gb_state *S, gb_device dev) {
  gb_cuda_dev *c = NULL;
  return gb_cuda_ctx(S, dev, &c) == GB_OK ? (void *)c->stream : NULL;
}

/* The math mode for plain FP32: CUBLAS_DEFAULT_MATH (PEDANTIC is NVIDIA's debugging mode),
 * with reduced-precision reductions disallowed; TF32 tensor cores only when asked for. */
static cublasMath_t blas_math_mode(bool tf32) {
  return (cublasMath_t)((tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH) |
                        CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION);
}

/* Creates the handle on first use, bound to the device's stream. A handle whose set-up failed
 * is destroyed, never kept: it would run later products on the legacy stream, outside the
 * allocator's stream order. */
gb_status gb_cuda_blas(gb_state *S, gb_device dev, gb_cuda_dev *c, cublasHandle_t *h) {
  bool want = GB_CUDA_STATE(S)->tf32;
  if (!c->blas) {
    cublasHandle_t fresh = NULL;
    GB_CUBLAS(S, dev, cublasCreate(&fresh));
    cublasStatus_t bs = cublasSetStream(fresh, c->stream);
    const char *call = "cublasSetStream";
    if (bs == CUBLAS_STATUS_SUCCESS) {
      bs = cublasSetMathMode(fresh, blas_math_mode(false));
      call = "cublasSetMathMode";
    }
    if (bs != CUBLAS_STATUS_SUCCESS) {
      cublasDestroy(fresh);
      return gb_cublas_fail(S, dev, bs, call, __FILE__, __LINE__);
    }
    c->blas = fresh;
    c->blas_tf32 = false;
  }
  if (want != c->blas_tf32) {
    GB_CUBLAS(S, dev, cublasSetMathMode(c->blas, blas_math_mode(want)));
    c->blas_tf32 = want;
  }
  *h = c->blas;
  return GB_OK;
}

extern "C" void gb_cuda_set_tf32(gb_state *S, bool on) {
  gb_cuda_backend *b = backend(S);
  if (b) b->tf32 = on;
}

extern "C" gb_status gb_cuda_synchronize(gb_state *S) {
  gb_cuda_backend *b = GB_CUDA_STATE(S);
  if (!b) return GB_OK;
  for (int d = 0; d < GB_CUDA_MAXDEV; d++) {
    if (!b->dev[d].ready) continue;
    gb_cuda_dev *c = NULL;
    gb_status st = gb_cuda_ctx(S, gb_cuda_device(d), &c);
    if (st) return st;
    GB_CU(S, gb_cuda_device(d), cudaStreamSynchronize(c->stream));
    if ((st = gb_cuda_checks_read(S, gb_cuda_device(d), c))) return st;
  }
  return GB_OK;
}

void gb_cuda_release_cache_dev(gb_state *S, gb_cuda_dev *c); /* gb_cuda_alloc.cu */

extern "C" void gb_cuda_shutdown(gb_state *S) {
  gb_cuda_backend *b = GB_CUDA_STATE(S);
  if (!b) return;
  int n = gb_cuda_device_count(NULL);
  for (int d = 0; d < GB_CUDA_MAXDEV; d++) {
    gb_cuda_dev *c = &b->dev[d];
    if (!c->ready) continue;
    if (d < n && !g_lost[d][0]) {
      /* best effort: errors here have nobody left to report to */
      cudaSetDevice(d);
      cudaStreamSynchronize(c->stream);
      gb_cuda_release_cache_dev(S, c);
      if (c->blas) cublasDestroy(c->blas);
      cudaFree(c->dflags);
      cudaFreeHost(c->hflags);
      for (int k = 0; k < GB_CUDA_STAGES; k++) {
        if (c->stage[k].buf) cudaFreeHost(c->stage[k].buf);
        cudaEventDestroy(c->stage[k].done);
      }
      cudaStreamDestroy(c->stream);
      (void)cudaGetLastError();
    }
    for (int k = 0; k < c->nchecks; k++) /* unread checks: their tensors are still held */
      gb_tensor_release(S, c->checks[k].ints);
    c->nchecks = 0;
    while (c->spare_nodes) {
      gb_cuda_block *blk = c->spare_nodes;
      c->spare_nodes = blk->next;
      free(blk);
    }
  }
  free(b);
  S->backend[GB_KIND_CUDA] = NULL;
}

/* ---- copies -------------------------------------------------------------------------------- */

#define GB_PINNED_MAX ((size_t)64 << 20)

/* Host -> device through the ring of pinned staging buffers: the copy runs asynchronously,
 * the caller's host buffer is free at once, and the host waits only when the buffer it would
 * reuse still feeds a copy (GB_CUDA_STAGES copies behind). */
static gb_status h2d(gb_state *S, gb_device dev, gb_cuda_dev *c, void *dst, const void *src,
                     size_t n) {
  if (n > GB_PINNED_MAX) {
    /* pageable source: the call returns once the bytes are staged by the driver */
    GB_CU(S, dev, cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, c->stream));
    return GB_OK;
  }
  gb_cuda_staging *b = &c->stage[c->next_stage];
  c->next_stage = (c->next_stage + 1) % GB_CUDA_STAGES;
  if (b->pending) {
    GB_CU(S, dev, cudaEventSynchronize(b->done));
    b->pending = false;
  }
  if (n > b->cap) {
    size_t cap = b->cap ? b->cap : ((size_t)1 << 20);
    while (cap < n)
      cap *= 2;
    if (b->buf) GB_CU(S, dev, cudaFreeHost(b->buf));
    b->buf = NULL;
    b->cap = 0;
    GB_CU(S, dev, cudaMallocHost(&b->buf, cap));
    b->cap = cap;
  }
  memcpy(b->buf, src, n);
  GB_CU(S, dev, cudaMemcpyAsync(dst, b->buf, n, cudaMemcpyHostToDevice, c->stream));
  GB_CU(S, dev, cudaEventRecord(b->done, c->stream));
  b->pending = true;
  return GB_OK;
}

extern "C" gb_status gb_cuda_memcpy(gb_state *S, void *dst, gb_device ddev, const void *src,
                                    gb_device sdev, size_t nbytes) {
  if (nbytes == 0) return GB_OK;
  gb_cuda_dev *dc = NULL, *sc = NULL;
  gb_status st;
  if (ddev == GB_CPU && sdev == GB_CPU) {
    memmove(dst, src, nbytes);
    return GB_OK;
  }
  if (sdev != GB_CPU && (st = gb_cuda_ctx(S, sdev, &sc))) return st;
  if (ddev != GB_CPU && (st = gb_cuda_ctx(S, ddev, &dc))) return st;
  if (sdev == GB_CPU) return h2d(S, ddev, dc, dst, src, nbytes);
  if (ddev == GB_CPU) { /* a natural sync: the pending checks are read here */
    GB_CU(S, sdev, cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, sc->stream));
    GB_CU(S, sdev, cudaStreamSynchronize(sc->stream));
    return gb_cuda_checks_read(S, sdev, sc);
  }
  if (sdev == ddev) {
    GB_CU(S, sdev, cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToDevice, sc->stream));
    return GB_OK;
  }
  /* between devices: order after pending work on both streams */
  GB_CU(S, ddev, cudaStreamSynchronize(dc->stream));
  GB_CU(S, sdev,
        cudaMemcpyPeerAsync(dst, gb_cuda_ord(ddev), src, gb_cuda_ord(sdev), nbytes, sc->stream));
  GB_CU(S, sdev, cudaStreamSynchronize(sc->stream));
  return GB_OK;
}

/* ---- helpers the launchers share ------------------------------------------------------------ */

gb_status gb_cuda_check_slot(gb_state *S, gb_device dev, gb_cuda_dev *c,
                             unsigned long long **slot) {
  if (c->nchecks == GB_CUDA_CHECKS) {
    gb_status st = gb_cuda_checks_read(S, dev, c);
    if (st) return st;
  }
  *slot = c->dflags + c->nchecks;
  return GB_OK;
}

void gb_cuda_check_note(gb_cuda_dev *c, const char *op, const char *what, int64_t limit,
                        gb_tensor *ints) {
  gb_cuda_check *k = &c->checks[c->nchecks++];
  k->op = op;
  k->what = what;
  k->limit = limit;
  gb_tensor_retain(ints);
  k->ints = ints;
  k->to = GB_F32;
  k->out_ndim = 0;
}

void gb_cuda_check_note_convert(gb_cuda_dev *c, const char *op, gb_tensor *src, gb_dtype to,
                                const gb_tensor *out) {
  gb_cuda_check_note(c, op, "index", 0, src);
  gb_cuda_check *k = &c->checks[c->nchecks - 1];
  k->what = NULL;
  k->to = to;
  k->out_ndim = out->ndim;
  memcpy(k->out_shape, out->shape, sizeof k->out_shape);
}

/* Element offset in t of the output position `pos` (row-major over out_shape), t broadcast
 * to that shape (dims aligned at the end, size-1 dims repeated); *linear gets the element's
 * row-major index in t itself. */
static int64_t source_offset(const gb_cuda_check *k, const gb_tensor *t, int64_t pos,
                             int64_t *linear) {
  int64_t off = 0, lin = 0, mul = 1;
  for (int d = k->out_ndim - 1, e = t->ndim - 1; d >= 0; d--, e--) {
    int64_t coord = pos % k->out_shape[d];
    pos /= k->out_shape[d];
    if (e < 0) continue;
    if (t->shape[e] == 1) coord = 0;
    off += coord * t->stride[e];
    lin += coord * mul;
    mul *= t->shape[e];
  }
  *linear = lin;
  return off;
}

/* The message of a failed conversion check: the source value at output position pos. */
static gb_status convert_error(gb_state *S, const gb_cuda_check *k, int64_t pos) {
  const gb_tensor *t = k->ints;
  int64_t lin, off = source_offset(k, t, pos, &lin);
  const char *p = (const char *)gb_tensor_data(t) + (size_t)off * gb_dtype_size(t->dtype);
  double v;
  if (t->dtype == GB_F32) {
    float x = 0;
    GB_CU(S, t->device, cudaMemcpy(&x, p, 4, cudaMemcpyDeviceToHost));
    v = x;
  } else if (t->dtype == GB_F64) {
    GB_CU(S, t->device, cudaMemcpy(&v, p, 8, cudaMemcpyDeviceToHost));
  } else {
    int64_t x = 0;
    GB_CU(S, t->device, cudaMemcpy(&x, p, 8, cudaMemcpyDeviceToHost));
    v = (double)x;
  }
  char vb[32], sb[GB_SHAPE_STRLEN];
  return gb_errorf(S, GB_EARG, "%s: element %lld of the %s %s tensor is %s, which %s cannot hold",
                   k->op, (long long)lin + 1, gb_shape_str(t, sb), gb_dtype_name(t->dtype),
                   gb_value_str(v, vb), gb_dtype_name(k->to));
}

/* One int64/int32 element of a device tensor, by a plain synchronous copy (not through
 * gb_cuda_memcpy, which reads the checks). */
static gb_status read_int(gb_state *S, const gb_tensor *t, int64_t i, int64_t *v) {
  int64_t off = 0;
  for (int d = t->ndim - 1; d >= 0; d--) {
    off += (i % t->shape[d]) * t->stride[d];
    i /= t->shape[d];
  }
  size_t es = gb_dtype_size(t->dtype);
  const char *p = (const char *)gb_tensor_data(t) + (size_t)off * es;
  if (t->dtype == GB_I64) {
    GB_CU(S, t->device, cudaMemcpy(v, p, 8, cudaMemcpyDeviceToHost));
  } else {
    int32_t x = 0;
    GB_CU(S, t->device, cudaMemcpy(&x, p, 4, cudaMemcpyDeviceToHost));
    *v = x;
  }
  return GB_OK;
}

gb_status gb_cuda_checks_read(gb_state *S, gb_device dev, gb_cuda_dev *c) {
  int n = c->nchecks;
  if (n == 0 || c->draining) return GB_OK;
  size_t bytes = sizeof(unsigned long long) * (size_t)n;
  GB_CU(S, dev, cudaMemcpyAsync(c->hflags, c->dflags, bytes, cudaMemcpyDeviceToHost, c->stream));
  GB_CU(S, dev, cudaMemsetAsync(c->dflags, 0xff, bytes, c->stream));
  GB_CU(S, dev, cudaStreamSynchronize(c->stream));
  c->draining = true; /* releasing tensors below must not read the checks again */
  gb_status st = GB_OK;
  for (int k = 0; k < n; k++) {
    gb_cuda_check *ck = &c->checks[k];
    unsigned long long bad = c->hflags[k];
    if (!st && bad != ~0ULL && !ck->what) {
      st = convert_error(S, ck, (int64_t)bad);
    } else if (!st && bad != ~0ULL) {
      int64_t v = 0;
      st = read_int(S, ck->ints, (int64_t)bad, &v);
      if (!st)
        st = gb_errorf(S, GB_EARG, "%s: %s %lld at position %lld is out of range 1..%lld", ck->op,
                       ck->what, (long long)v, (long long)bad + 1, (long long)ck->limit);
    }
    gb_tensor_release(S, ck->ints);
  }
  c->nchecks = 0;
  c->draining = false;
  return st;
}

void gb_cuda_iter_init(gb_cuda_iter *it, gb_tensor *out, int nin, gb_tensor *const *in) {
  gb_iter g; /* the broadcast + coalescing is the CPU's, shared through gb_iter.h */
  gb_iter_init(&g, out, nin, in);
  it->ndim = g.ndim;
  it->nop = g.nop;
  it->numel = out->numel;
  memcpy(it->shape, g.shape, sizeof it->shape);
  memcpy(it->stride, g.stride, sizeof it->stride);
  memcpy(it->base, g.base, sizeof it->base);
  bool flat = g.ndim == 1 && g.stride[0][0] == 1;
  for (int k = 1; flat && k < g.nop; k++)
    flat = g.stride[k][0] <= 1;
  it->contiguous = flat || (g.ndim == 1 && g.shape[0] <= 1);
}

extern "C" bool gb_cuda_device_info(gb_device dev, char *name, size_t cap, size_t *total_bytes) {
  if (gb_cuda_ord(dev) >= gb_cuda_device_count(NULL)) return false;
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, gb_cuda_ord(dev)) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  if (name && cap) snprintf(name, cap, "%s", prop.name);
  if (total_bytes) *total_bytes = prop.totalGlobalMem;
  return true;
}
