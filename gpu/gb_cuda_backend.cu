/* gb_cuda_backend.cu — the CUDA backend as the core sees it: the gb_backend table (memory,
 * copies, statistics, the CUDA column of gb_ops.def as kernels) that libgpubp_cuda.so hands
 * to the core's plugin loader (core/gb_backend.c) from its one exported entry point. */
#include "gb_cuda_impl.h"
#include "gb_f64_rows.h"

static const gb_kernel_fn cuda_kernels[GB_NOPS] = {
#define GB_CUDA(x) x
#define GB_NOCUDA NULL
#define GB_OP(id, name, nin, infer, cpu, cuda, grad) cuda,
#include "gb_ops.def"
#undef GB_OP
#undef GB_NOCUDA
#undef GB_CUDA
};

static gb_status cuda_copy(gb_state *S, void *dst, gb_device ddev, const void *src, gb_device sdev,
                           size_t nbytes) {
  return gb_cuda_memcpy(S, dst, ddev, src, sdev, nbytes);
}

/* The rows whose CUDA launchers run float64 in double (gb_backend.runs_f64): the list both
 * backends share (gb_f64_rows.h), each kernel a template over the element type. The others
 * (convolution, pools, the recurrent and attention rows) refuse float64 in their
 * shape rules. */
static bool cuda_runs_f64(gb_opid id) {
  switch (id) {
  GB_F64_ROWS_CASES:
    return true;
  default: return false;
  }
}

static gb_backend make_backend() {
  gb_backend b;
  memset(&b, 0, sizeof b);
  b.abi = GB_BACKEND_ABI;
  b.kind = GB_KIND_CUDA;
  b.name = "cuda";
  b.caps = GB_CAP_ASYNC | GB_CAP_TF32;
  b.device_count = gb_cuda_device_count;
  b.device_info = gb_cuda_device_info;
  b.alloc = gb_cuda_alloc;
  b.free = gb_cuda_free;
  b.copy = cuda_copy;
  b.synchronize = gb_cuda_synchronize;
  b.memstats = gb_cuda_memstats;
  b.reset_peak = gb_cuda_reset_peak;
  b.empty_cache = gb_cuda_empty_cache;
  b.set_tf32 = gb_cuda_set_tf32;
  b.release_state = gb_cuda_shutdown;
  b.kernels = cuda_kernels;
  b.native_stream = gb_cuda_native_stream;
  b.runs_f64 = cuda_runs_f64;
  b.sdpa_max_keys = GB_CUDA_SDPA_MAX_KEYS;
  return b;
}

static const gb_backend cuda_backend = make_backend();

/* The plugin's entry point (dlsym'd by name): the backend, or NULL with *why. Device
 * discovery runs here, once, under the loader's lock. */
extern "C" const gb_backend *gb_cuda_backend_entry(int abi, const char **why) {
  if (abi != GB_BACKEND_ABI) {
    if (why) *why = "plugin built for another version of gpubp (backend ABI differs)";
    return NULL;
  }
  (void)gb_cuda_device_count(NULL);
  return &cuda_backend;
}
