# blas.cmake — picks the CPU BLAS behind gb_blas_sgemm and exposes it as target gb_blas.
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)
add_library(gb_blas INTERFACE)
target_link_libraries(gb_blas INTERFACE PkgConfig::OPENBLAS)
target_compile_definitions(gb_blas INTERFACE GB_BLAS_OPENBLAS=1)
set(GB_BLAS_NAME "OpenBLAS")
