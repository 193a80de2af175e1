# cmake/dist.cmake — the distributed plugin libgpubp_dist.so (runtime/dist/): built when MPI is
# found (-DGPUBP_DIST=AUTO|ON|OFF), with its NCCL part when this build has the CUDA backend and
# nccl.h is in the CUDA toolkit. Nothing links it: gb.distributed.init opens it with dlopen, so
# the gpubp command, libgpubp and a CPU run never load MPI. Included by the top level after
# the CUDA backend.
set(GPUBP_DIST AUTO CACHE STRING "Build the MPI/NCCL plugin: AUTO, ON or OFF")
set_property(CACHE GPUBP_DIST PROPERTY STRINGS AUTO ON OFF)
set(GB_HAVE_DIST OFF)
set(GB_HAVE_NCCL OFF)
if(NOT GPUBP_DIST STREQUAL "OFF")
  find_package(MPI COMPONENTS C QUIET)
  if(MPI_C_FOUND)
    set(GB_HAVE_DIST ON)
  elseif(GPUBP_DIST STREQUAL "ON")
    message(FATAL_ERROR "GPUBP_DIST=ON but MPI was not found (apt install libopenmpi-dev)")
  endif()
endif()
if(GB_HAVE_DIST)
  set(GB_DIST_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/runtime/dist/gb_dist_mpi.c)
  if(GB_HAVE_CUDA)
    find_path(GB_NCCL_INCLUDE nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} NO_CACHE)
  endif()
  if(GB_HAVE_CUDA AND GB_NCCL_INCLUDE)
    set(GB_HAVE_NCCL ON)
    list(APPEND GB_DIST_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/runtime/dist/gb_dist_nccl.c)
  else()
    list(APPEND GB_DIST_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/runtime/dist/gb_dist_nonccl.c)
  endif()
  add_library(gpubp_dist SHARED ${GB_DIST_SOURCES})
  target_compile_options(gpubp_dist PRIVATE ${GB_WARN})
  target_include_directories(gpubp_dist PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/runtime/dist
    $<TARGET_PROPERTY:gb_core,INTERFACE_INCLUDE_DIRECTORIES>)
  target_link_libraries(gpubp_dist PRIVATE MPI::MPI_C Threads::Threads ${CMAKE_DL_LIBS})
  if(GB_HAVE_NCCL) # libnccl itself is opened with dlopen on the first CUDA collective
    target_include_directories(gpubp_dist PRIVATE ${GB_NCCL_INCLUDE} ${CUDAToolkit_INCLUDE_DIRS})
    target_link_libraries(gpubp_dist PRIVATE CUDA::cudart_static)
  endif()
  set_target_properties(gpubp_dist PROPERTIES C_VISIBILITY_PRESET hidden OUTPUT_NAME gpubp_dist)
  target_compile_definitions(gb_bindings PRIVATE GB_BUILT_DIST_PLUGIN=1)
  add_dependencies(gpubp_cli gpubp_dist) # built beside it, found there at run time
  # the Lua module looks beside itself (lib/lua/5.4/gpubp/): a link there, as for CUDA
  add_custom_command(TARGET gpubp_dist POST_BUILD
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/lua/gpubp
    COMMAND ${CMAKE_COMMAND} -E create_symlink $<TARGET_FILE:gpubp_dist>
            ${CMAKE_BINARY_DIR}/lua/gpubp/$<TARGET_FILE_NAME:gpubp_dist>
    VERBATIM)
  install(TARGETS gpubp_dist LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dist)
  file(RELATIVE_PATH GB_DIST_CMOD_TO_LIB /gb_root/${GPUBP_INSTALL_CMODDIR}/gpubp
    /gb_root/${CMAKE_INSTALL_LIBDIR})
  string(REGEX REPLACE "/$" "" GB_DIST_CMOD_TO_LIB "${GB_DIST_CMOD_TO_LIB}")
  install(CODE "
    set(gb_dir \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${GPUBP_INSTALL_CMODDIR}/gpubp\")
    file(MAKE_DIRECTORY \"\${gb_dir}\")
    file(CREATE_LINK ${GB_DIST_CMOD_TO_LIB}/libgpubp_dist.so \"\${gb_dir}/libgpubp_dist.so\"
         SYMBOLIC)" COMPONENT dist)
endif()
message(STATUS "gpubp: distributed plugin ${GB_HAVE_DIST} (NCCL ${GB_HAVE_NCCL})")
