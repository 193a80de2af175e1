# cmake/install.cmake — what `cmake --install` adds beyond the targets the top level installs:
# gpubp.pc for pkg-config and a CMake package, so find_package(gpubp) gives gpubp::gpubp.
# Both are relocatable: they locate the prefix from where they are installed, so
# `cmake --install build --prefix P` works for any P chosen at install time.
include(CMakePackageConfigHelpers)

set(GB_CMAKE_PKG_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/gpubp)

# ---- CMake package ------------------------------------------------------------------------
install(EXPORT gpubpTargets
  NAMESPACE gpubp::
  DESTINATION ${GB_CMAKE_PKG_DIR}
  FILE gpubpTargets.cmake)

# gpubp::gpubp links PkgConfig::LUA publicly (lua.h types appear in gpubp.h's API), so the
# package recreates that imported target before loading the exported one.
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/gpubpConfig.cmake.in [[
# gpubpConfig.cmake — find_package(gpubp) → the imported target gpubp::gpubp
# (libgpubp with gpubp.h; Lua 5.4 comes along through pkg-config).
@PACKAGE_INIT@
include(CMakeFindDependencyMacro)
find_dependency(PkgConfig)
if(NOT TARGET PkgConfig::LUA)
  pkg_check_modules(LUA REQUIRED IMPORTED_TARGET lua5.4)
endif()
include("${CMAKE_CURRENT_LIST_DIR}/gpubpTargets.cmake")
set(gpubp_LUA_DIR "@PACKAGE_GB_LUA_INSTALL_DIR@")
check_required_components(gpubp)
]])
set(GB_LUA_INSTALL_DIR ${GPUBP_INSTALL_LUADIR})
configure_package_config_file(
  ${CMAKE_CURRENT_BINARY_DIR}/gpubpConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/gpubpConfig.cmake
  INSTALL_DESTINATION ${GB_CMAKE_PKG_DIR}
  PATH_VARS GB_LUA_INSTALL_DIR)
write_basic_package_version_file(
  ${CMAKE_CURRENT_BINARY_DIR}/gpubpConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/gpubpConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/gpubpConfigVersion.cmake
  DESTINATION ${GB_CMAKE_PKG_DIR})

# ---- pkg-config -----------------------------------------------------------------------------
# prefix = ${pcfiledir}/<as many ".." as <libdir>/pkgconfig has components>
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(GB_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(GB_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  file(RELATIVE_PATH GB_PC_UP "/gb_root/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/gb_root")
  set(GB_PC_PREFIX "\${pcfiledir}/${GB_PC_UP}")
  set(GB_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(GB_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(GB_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/gpubp.pc CONTENT [[
prefix=@GB_PC_PREFIX@
libdir=@GB_PC_LIBDIR@
includedir=@GB_PC_INCLUDEDIR@
luadir=${prefix}/@GB_LUA_INSTALL_DIR@

Name: gpubp
Description: Scriptable deep-learning trainer: C runtime + Lua 5.4 (+ CUDA) embedding API
Version: @PROJECT_VERSION@
Requires: lua5.4
Libs: -L${libdir} -lgpubp
Cflags: -I${includedir}
]] @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/gpubp.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
