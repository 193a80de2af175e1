/* gb_cublas.cu — loads cuBLAS on demand (gb_cublas.h): the first time device discovery finds
 * a GPU. A missing or broken libcublas makes CUDA unavailable with the loader's reason. */
#include <dlfcn.h>
#include <stdio.h>

#include "gb_cublas.h"

gb_cublas_api gb_cublas;

#define GB_STR2(x) #x
#define GB_STR(x) GB_STR2(x)

bool gb_cublas_load(const char **why) {
  static int state = 0; /* 0 not tried, 1 loaded, -1 failed */
  static char reason[512];
  if (state == 0) {
    const char *lib = "libcublas.so." GB_STR(CUBLAS_VER_MAJOR);
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    state = -1;
    if (!h) {
      snprintf(reason, sizeof reason, "%s", dlerror());
    } else {
      struct {
        void **slot;
        const char *name;
      } fns[] = {
          {(void **)&gb_cublas.create, "cublasCreate_v2"},
          {(void **)&gb_cublas.destroy, "cublasDestroy_v2"},
          {(void **)&gb_cublas.set_stream, "cublasSetStream_v2"},
          {(void **)&gb_cublas.set_math_mode, "cublasSetMathMode"},
          {(void **)&gb_cublas.status_string, "cublasGetStatusString"},
          {(void **)&gb_cublas.sgemm, "cublasSgemm_v2"},
          {(void **)&gb_cublas.sgemm_strided_batched, "cublasSgemmStridedBatched"},
          {(void **)&gb_cublas.sscal, "cublasSscal_v2"},
          {(void **)&gb_cublas.dgemm, "cublasDgemm_v2"},
          {(void **)&gb_cublas.dgemm_strided_batched, "cublasDgemmStridedBatched"},
          {(void **)&gb_cublas.dscal, "cublasDscal_v2"},
      };
      state = 1;
      for (auto &f : fns) {
        *f.slot = dlsym(h, f.name);
        if (!*f.slot) {
          snprintf(reason, sizeof reason, "%s has no %s", lib, f.name);
          state = -1;
          break;
        }
      }
    }
  }
  if (state < 0 && why) *why = reason;
  return state > 0;
}
