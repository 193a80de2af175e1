/* gb_cublas.h — cuBLAS opened with dlopen, so the plugin maps libcublas (and its 500 MB
 * libcublasLt) only in a process that has a usable GPU: the calls of the .cu files keep
 * their cuBLAS names, which this header points at the loaded functions. A new cuBLAS call
 * needs its line here and in gb_cublas.cu (tests/gpu fail to link without it). */
#ifndef GB_CUBLAS_H
#define GB_CUBLAS_H

#include <cublas_v2.h>

typedef struct gb_cublas_api {
  decltype(&cublasCreate_v2) create;
  decltype(&cublasDestroy_v2) destroy;
  decltype(&cublasSetStream_v2) set_stream;
  decltype(&cublasSetMathMode) set_math_mode;
  decltype(&cublasGetStatusString) status_string;
  decltype(&cublasSgemm_v2) sgemm;
  decltype(&cublasSgemmStridedBatched) sgemm_strided_batched;
  decltype(&cublasSscal_v2) sscal;
  decltype(&cublasDgemm_v2) dgemm; /* float64 products */
  decltype(&cublasDgemmStridedBatched) dgemm_strided_batched;
  decltype(&cublasDscal_v2) dscal;
} gb_cublas_api;

extern gb_cublas_api gb_cublas;

/* Open libcublas.so.<major> once per process; false with *why (static) when it fails. */
bool gb_cublas_load(const char **why);

#undef cublasCreate
#undef cublasDestroy
#undef cublasSetStream
#undef cublasSgemm
#undef cublasSscal
#undef cublasDgemm
#undef cublasDscal
#define cublasCreate gb_cublas.create
#define cublasDestroy gb_cublas.destroy
#define cublasSetStream gb_cublas.set_stream
#define cublasSetMathMode gb_cublas.set_math_mode
#define cublasGetStatusString gb_cublas.status_string
#define cublasSgemm gb_cublas.sgemm
#define cublasSgemmStridedBatched gb_cublas.sgemm_strided_batched
#define cublasSscal gb_cublas.sscal
#define cublasDgemm gb_cublas.dgemm
#define cublasDgemmStridedBatched gb_cublas.dgemm_strided_batched
#define cublasDscal gb_cublas.dscal

#endif
