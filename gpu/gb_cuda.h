/* gb_cuda.h — the CUDA backend's entries in plain C (no CUDA headers): what the plugin's
 * gb_backend table (gb_cuda_backend.cu) points at, and what tests/gpu call directly (they
 * link libgpubp_cuda.so). The core includes nothing from gpu/: it reaches CUDA only through
 * gb_backend.h. Launchers follow the op table (gb_ops.def); everything returns a gb_status
 * with the failing call, file and line on S. */
#ifndef GB_CUDA_H
#define GB_CUDA_H

#include "gb_backend.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default) /* exported by the plugin, for tests/gpu */

/* The plugin's entry point: the CUDA gb_backend (gb_backend.h), or NULL with *why when it was
 * built for another GB_BACKEND_ABI. Runs device discovery. */
const gb_backend *gb_cuda_backend_entry(int abi, const char **why);
/* Devices usable by this process (0 when no driver/GPU); never fails. When 0, *why (if not
 * NULL) gets a static string saying why (no driver, no device, driver too old, ...). */
int gb_cuda_device_count(const char **why);
/* Bytes on device `dev` from the state's caching allocator; GB_EOOM (message with sizes) only
 * after a host GC, cache release and retry. */
gb_status gb_cuda_alloc(gb_state *S, gb_device dev, size_t nbytes, void **out);
void gb_cuda_free(gb_state *S, gb_device dev, void *p, size_t nbytes);
void gb_cuda_memstats(gb_state *S, gb_device dev, gb_memstats *out);
/* Release cached blocks back to the driver. */
void gb_cuda_empty_cache(gb_state *S);
/* Copy nbytes between any two of host (GB_CPU) and devices; synchronous for host targets. */
gb_status gb_cuda_memcpy(gb_state *S, void *dst, gb_device ddev, const void *src, gb_device sdev,
                         size_t nbytes);
gb_status gb_cuda_synchronize(gb_state *S);
/* TF32 for matrix products (off by default so results match the CPU). */
void gb_cuda_set_tf32(gb_state *S, bool on);
/* Free everything the backend holds for S (streams, handles, cached memory). */
void gb_cuda_shutdown(gb_state *S);
/* The stream S's work on `dev` goes to (a cudaStream_t), creating it on first use; NULL if
 * the device fails. For libraries that order their work with S's (NCCL). */
void *gb_cuda_native_stream(gb_state *S, gb_device dev);
/* Set the peak of device `dev`'s statistics to what is allocated now. */
void gb_cuda_reset_peak(gb_state *S, gb_device dev);
/* Device name and total memory ("NVIDIA H200", bytes); false if dev does not exist. */
bool gb_cuda_device_info(gb_device dev, char *name, size_t cap, size_t *total_bytes);

#define GB_CUDA(x) x
#define GB_NOGRAD gb_grad_none
#define GB_NOCUDA gb_cuda_none /* declared, never defined: rows without a launcher */
#define GB_OP(id, name, nin, infer, cpu, cuda, grad)                                               \
  gb_status cuda(gb_state *S, const gb_opargs *a, gb_tensor **out);
#include "gb_ops.def"
#undef GB_OP
#undef GB_NOGRAD
#undef GB_NOCUDA
#undef GB_CUDA

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
