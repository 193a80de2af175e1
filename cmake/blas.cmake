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
#
# OpenBLAS is not linked: gb_blas.c opens it with dlopen on the first product (loading it costs
# ~11 ms of start-up), by the SONAME of the library pkg-config finds. gb_blas carries only its
# headers; gb_blas_link links it for code that calls it directly (test_blas).

set(GPUBP_BLAS AUTO CACHE STRING "CPU BLAS for sgemm: AUTO, OPENBLAS or BLIS")
set_property(CACHE GPUBP_BLAS PROPERTY STRINGS AUTO OPENBLAS BLIS)

add_library(gb_blas INTERFACE)
set(GB_BLAS_NAME "")

if(GPUBP_BLAS STREQUAL "AUTO" OR GPUBP_BLAS STREQUAL "OPENBLAS")
  pkg_check_modules(OPENBLAS IMPORTED_TARGET openblas)
  if(OPENBLAS_FOUND)
    find_library(GB_OPENBLAS_FILE NAMES ${OPENBLAS_LIBRARIES} HINTS ${OPENBLAS_LIBRARY_DIRS})
    set(GB_OPENBLAS_SONAME libopenblas.so.0)
    find_program(GB_OBJDUMP objdump)
    if(GB_OPENBLAS_FILE AND GB_OBJDUMP)
      execute_process(COMMAND ${GB_OBJDUMP} -p ${GB_OPENBLAS_FILE} OUTPUT_VARIABLE dynamic_section
                      ERROR_QUIET)
      if(dynamic_section MATCHES "SONAME +([^\n ]+)")
        set(GB_OPENBLAS_SONAME ${CMAKE_MATCH_1})
      endif()
    endif()
    target_include_directories(gb_blas INTERFACE ${OPENBLAS_INCLUDE_DIRS})
    target_link_libraries(gb_blas INTERFACE ${CMAKE_DL_LIBS})
    target_compile_definitions(gb_blas INTERFACE GB_BLAS_OPENBLAS=1
                               GB_OPENBLAS_SONAME="${GB_OPENBLAS_SONAME}")
    add_library(gb_blas_link INTERFACE)
    target_link_libraries(gb_blas_link INTERFACE PkgConfig::OPENBLAS)
    set(GB_BLAS_NAME "OpenBLAS ${OPENBLAS_VERSION} (${GB_OPENBLAS_SONAME}, opened on first use)")
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
    add_library(gb_blas_link INTERFACE) # BLIS is linked anyway
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
