# dnnl.cmake — oneDNN (Debian: libdnnl-dev, what PyTorch uses on the CPU) behind the conv2d rows
# (runtime/cpu/gb_dnnl.c), as the INTERFACE target gb_dnnl plus GB_DNNL_SONAME. Included from the
# top CMakeLists.txt.
#
# GPUBP_DNNL=AUTO (default) uses it when its header and library are found, ON requires it, OFF
# leaves it out (the rows' own kernels only). It is not linked: gb_dnnl.c opens it with dlopen on
# the first convolution (loading it maps ~60 MB and an OpenMP runtime), by the SONAME of the
# library found here; gb_dnnl carries only the header's include path.

set(GPUBP_DNNL AUTO CACHE STRING "oneDNN for the convolution rows: AUTO, ON or OFF")
set_property(CACHE GPUBP_DNNL PROPERTY STRINGS AUTO ON OFF)

add_library(gb_dnnl INTERFACE)
set(GB_DNNL_SONAME "")

# LeakSanitizer's exit-time scan crashes ("Tracer caught signal 11") once oneDNN's OpenMP
# threads exist, so the sanitizer build runs the rows' own kernels; the ordinary build and
# c_test_dnnl_missing cover gb_dnnl.c's two paths.
if(GPUBP_SANITIZE AND NOT GPUBP_DNNL STREQUAL "OFF")
  message(STATUS "oneDNN left out of the sanitizer build (LeakSanitizer cannot scan its threads)")
  set(GPUBP_DNNL OFF)
endif()

if(NOT GPUBP_DNNL STREQUAL "OFF")
  find_path(GB_DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.h)
  find_library(GB_DNNL_FILE NAMES dnnl)
  if(GB_DNNL_INCLUDE_DIR AND GB_DNNL_FILE)
    set(GB_DNNL_SONAME libdnnl.so.2)
    find_program(GB_OBJDUMP objdump)
    if(GB_OBJDUMP)
      execute_process(COMMAND ${GB_OBJDUMP} -p ${GB_DNNL_FILE} OUTPUT_VARIABLE dynamic_section
                      ERROR_QUIET)
      if(dynamic_section MATCHES "SONAME +([^\n ]+)")
        set(GB_DNNL_SONAME ${CMAKE_MATCH_1})
      endif()
    endif()
    target_include_directories(gb_dnnl INTERFACE ${GB_DNNL_INCLUDE_DIR})
    target_link_libraries(gb_dnnl INTERFACE ${CMAKE_DL_LIBS})
    target_compile_definitions(gb_dnnl INTERFACE GB_DNNL_SONAME="${GB_DNNL_SONAME}")
    message(STATUS "oneDNN for convolutions: ${GB_DNNL_SONAME} (opened on first use)")
  elseif(GPUBP_DNNL STREQUAL "ON")
    message(FATAL_ERROR "GPUBP_DNNL=ON but oneapi/dnnl/dnnl.h / libdnnl were not found "
                        "(Debian/Ubuntu: apt-get install libdnnl-dev)")
  else()
    message(STATUS "oneDNN not found: the convolution rows use their own kernels only")
  endif()
endif()
