# cmake/package.cmake — Debian packages with CPack (`cpack -G DEB` in a build directory):
#   gpubp_<version>_<arch>.deb       the CLI, libgpubp, the Lua module and the Lua side,
#                                    gpubp.h, gpubp.pc and the CMake package
#   gpubp-cuda_<version>_<arch>.deb  the CUDA plugin libgpubp_cuda.so (install component
#                                    `cuda`), depending on gpubp and on cuBLAS
#   gpubp-dist_<version>_<arch>.deb  the MPI/NCCL plugin libgpubp_dist.so (component `dist`,
#                                    cmake/dist.cmake), depending on gpubp and Open MPI
# Included at the end of the top level, after every install() rule.
set(CPACK_PACKAGE_NAME gpubp)
set(CPACK_PACKAGE_VENDOR "gpubp")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "scriptable deep-learning trainer: C runtime, Lua 5.4 tensors and autograd")
set(CPACK_PACKAGE_DESCRIPTION "gpubp runs Lua 5.4 training scripts with tensors, an autograd \
tape, nn layers, optimizers and data loaders: the gpubp command and REPL, the Lua module for \
any Lua 5.4 host (require 'gpubp'), and libgpubp with gpubp.h for C embedders.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "gpubp developers <gpubp@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON) # dpkg-shlibdeps (dpkg-dev): liblua5.4-0, libopenblas…
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS lua5.4)
# OpenBLAS and oneDNN are opened with dlopen (cmake/blas.cmake, cmake/dnnl.cmake), so
# dpkg-shlibdeps cannot see them
set(GB_DLOPEN_DEPENDS "")
if(GB_OPENBLAS_SONAME)
  list(APPEND GB_DLOPEN_DEPENDS
       "libopenblas0-pthread | libopenblas0-openmp | libopenblas0-serial | libopenblas0")
endif()
if(GB_DNNL_SONAME MATCHES "^libdnnl\\.so\\.([0-9]+)$") # Debian names the package libdnnl<N>
  list(APPEND GB_DLOPEN_DEPENDS "libdnnl${CMAKE_MATCH_1}")
endif()
if(GB_DLOPEN_DEPENDS)
  list(JOIN GB_DLOPEN_DEPENDS ", " GB_DLOPEN_DEPENDS)
  set(CPACK_DEBIAN_UNSPECIFIED_PACKAGE_DEPENDS "${GB_DLOPEN_DEPENDS}")
endif()
set(CPACK_DEB_COMPONENT_INSTALL ON)

# The install rules without a component (all but the plugin) make the main package.
execute_process(COMMAND dpkg --print-architecture OUTPUT_VARIABLE GB_DEB_ARCH
  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT GB_DEB_ARCH)
  set(GB_DEB_ARCH amd64)
endif()
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${GB_DEB_ARCH})
set(CPACK_COMPONENTS_ALL Unspecified)
set(CPACK_DEBIAN_UNSPECIFIED_PACKAGE_NAME gpubp)
set(CPACK_DEBIAN_UNSPECIFIED_FILE_NAME gpubp_${PROJECT_VERSION}_${GB_DEB_ARCH}.deb)

# The CUDA plugin, where this build makes one (a shared libgpubp_cuda.so opened with dlopen).
if(TARGET gpubp_cuda)
  get_target_property(GB_CUDA_TYPE gpubp_cuda TYPE)
  if(GB_CUDA_TYPE STREQUAL "SHARED_LIBRARY" OR GB_CUDA_TYPE STREQUAL "MODULE_LIBRARY")
    # This is the plugin's only install rule (component cuda, so the main package lacks it).
    install(TARGETS gpubp_cuda LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT cuda)
    # The runtime looks for the plugin beside the file holding it; for the Lua module that is
    # lib/lua/5.4/gpubp/, so a link there leads to the plugin (build tree and install).
    add_custom_command(TARGET gpubp_cuda POST_BUILD
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/lua/gpubp
      COMMAND ${CMAKE_COMMAND} -E create_symlink $<TARGET_FILE:gpubp_cuda>
              ${CMAKE_BINARY_DIR}/lua/gpubp/$<TARGET_FILE_NAME:gpubp_cuda>
      VERBATIM)
    file(RELATIVE_PATH GB_CMOD_TO_LIB /gb_root/${GPUBP_INSTALL_CMODDIR}/gpubp
      /gb_root/${CMAKE_INSTALL_LIBDIR})
    string(REGEX REPLACE "/$" "" GB_CMOD_TO_LIB "${GB_CMOD_TO_LIB}")
    install(CODE "
      set(gb_dir \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${GPUBP_INSTALL_CMODDIR}/gpubp\")
      file(MAKE_DIRECTORY \"\${gb_dir}\")
      file(CREATE_LINK ${GB_CMOD_TO_LIB}/libgpubp_cuda.so \"\${gb_dir}/libgpubp_cuda.so\"
           SYMBOLIC)" COMPONENT cuda)
    list(APPEND CPACK_COMPONENTS_ALL cuda)
    string(REGEX MATCH "^[0-9]+\\.[0-9]+" GB_CUDA_MM "${CUDAToolkit_VERSION}")
    string(REPLACE "." "-" GB_CUDA_MM_DASH "${GB_CUDA_MM}")
    set(CPACK_DEBIAN_CUDA_PACKAGE_NAME gpubp-cuda)
    set(CPACK_DEBIAN_CUDA_FILE_NAME gpubp-cuda_${PROJECT_VERSION}_${GB_DEB_ARCH}.deb)
    # the plugin links the CUDA runtime statically and opens cuBLAS with dlopen, so
    # dpkg-shlibdeps cannot see it: name NVIDIA's and Debian's cuBLAS packages here
    set(CPACK_DEBIAN_CUDA_PACKAGE_SHLIBDEPS OFF)
    set(CPACK_DEBIAN_CUDA_PACKAGE_DEPENDS "gpubp (= ${PROJECT_VERSION}), \
libcublas-${GB_CUDA_MM_DASH} | libcublas${CUDAToolkit_VERSION_MAJOR}")
    set(CPACK_DEBIAN_CUDA_DESCRIPTION "gpubp's CUDA backend (cuBLAS), opened on first use of \
a cuda device; needs an NVIDIA driver")
  endif()
endif()
# The distributed plugin, where MPI was found (cmake/dist.cmake gives its install rules).
if(TARGET gpubp_dist)
  list(APPEND CPACK_COMPONENTS_ALL dist)
  set(CPACK_DEBIAN_DIST_PACKAGE_NAME gpubp-dist)
  set(CPACK_DEBIAN_DIST_FILE_NAME gpubp-dist_${PROJECT_VERSION}_${GB_DEB_ARCH}.deb)
  # dpkg-shlibdeps finds libmpi (libopenmpi3); mpirun (openmpi-bin) starts the ranks, but a
  # world of one rank runs without it. libnccl is opened with dlopen, so it is only suggested.
  set(CPACK_DEBIAN_DIST_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_DIST_PACKAGE_DEPENDS "gpubp (= ${PROJECT_VERSION})")
  set(CPACK_DEBIAN_DIST_PACKAGE_RECOMMENDS openmpi-bin)
  if(GB_HAVE_NCCL)
    set(CPACK_DEBIAN_DIST_PACKAGE_SUGGESTS "libnccl2")
  endif()
  set(CPACK_DEBIAN_DIST_DESCRIPTION "gpubp's distributed plugin: gb.distributed and \
nn.DistributedDataParallel over MPI (and NCCL for cuda tensors), opened by \
gb.distributed.init(); start the ranks with mpirun -np N gpubp script.lua")
endif()
include(CPack)
