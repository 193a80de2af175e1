# blas.cmake — picks the CPU BLAS behind gb_blas_sgemm (runtime/cpu/gb_blas.c) and exposes it as
# the INTERFACE target gb_blas plus GB_BLAS_NAME. Included from the top CMakeLists.txt after
# find_package(PkgConfig).
#
# GPUBP_BLAS=AUTO (default) takes OpenBLAS (Debian: libopenblas-dev) and falls back to BLIS
# (libblis-dev). OpenBLAS measured as fast or faster at every shape that matters here
# (docs/benchmarks.md): with its AVX-512 kernels ~320-350 GFLOP/s at n >= 1024 on 2 cores and
# 2-3 us for the seed MLP's small 100x10x128 products, where BLIS 0.9 takes 5-24 us. gb_blas.c
# makes a DYNAMIC_ARCH OpenBLAS use those kernels even where it auto-detects a weaker core, with
# no environment variable for the user to set.

set(GPUBP_BLAS AUTO CACHE STRING "CPU BLAS for sgemm: AUTO, OPENBLAS or BLIS")
set_property(CACHE GPUBP_BLAS PROPERTY STRINGS AUTO OPENBLAS BLIS)

add_library(gb_blas INTERFACE)
set(GB_BLAS_NAME "")

if(GPUBP_BLAS STREQUAL "AUTO" OR GPUBP_BLAS STREQUAL "OPENBLAS")
  pkg_check_modules(OPENBLAS IMPORTED_TARGET openblas)
  if(OPENBLAS_FOUND)
    target_link_libraries(gb_blas INTERFACE PkgConfig::OPENBLAS)
    target_compile_definitions(gb_blas INTERFACE GB_BLAS_OPENBLAS=1)
    set(GB_BLAS_NAME "OpenBLAS ${OPENBLAS_VERSION}")
  elseif(GPUBP_BLAS STREQUAL "OPENBLAS")
    message(FATAL_ERROR "GPUBP_BLAS=OPENBLAS but pkg-config finds no 'openblas' "
                        "(Debian/Ubuntu: apt-get install libopenblas-dev)")
  endif()
endif()

if(NOT GB_BLAS_NAME AND (GPUBP_BLAS STREQUAL "AUTO" OR GPUBP_BLAS STREQUAL "BLIS"))
  # Debian ships no blis.pc; its blis.h and libblis.so are alternatives-managed symlinks to
  # the openmp, pthread or serial build.
  find_path(BLIS_INCLUDE_DIR blis.h PATH_SUFFIXES blis)
  find_library(BLIS_LIBRARY blis)
  if(BLIS_INCLUDE_DIR AND BLIS_LIBRARY)
    target_include_directories(gb_blas INTERFACE ${BLIS_INCLUDE_DIR})
    target_link_libraries(gb_blas INTERFACE ${BLIS_LIBRARY} m)
    target_compile_definitions(gb_blas INTERFACE GB_BLAS_BLIS=1)
    set(GB_BLAS_NAME "BLIS")
  elseif(GPUBP_BLAS STREQUAL "BLIS")
    message(FATAL_ERROR "GPUBP_BLAS=BLIS but blis.h / libblis were not found "
                        "(Debian/Ubuntu: apt-get install libblis-dev)")
  endif()
endif()

if(NOT GB_BLAS_NAME)
  message(FATAL_ERROR "No CPU BLAS found: install OpenBLAS (apt-get install libopenblas-dev) "
                      "or BLIS (apt-get install libblis-dev)")
endif()
