# cmake/lua_module.cmake — gpubp as a C module for any Lua 5.4 host: build/lua/gpubp/core.so
# (luaopen_gpubp_core) plus the alias gpubp.so (luaopen_gpubp: finds lua/gpubp by itself), and
# where `cmake --install`, the .deb and the rock put it and the Lua side. Included by the top
# level once the runtime's targets exist; with GPUBP_LUA_ROCK (the rockspec) nothing else is
# built or installed.

# Installed layout, relative to the prefix (absolute for the rock: luarocks' $(LUADIR) and
# $(LIBDIR)). Lua's default paths on Debian search exactly these below /usr and /usr/local.
# The runtime looks for the Lua side at ${GB_LUA_INSTALL_REL} above its own file (top level).
if(NOT DEFINED GPUBP_INSTALL_LUADIR)
  set(GPUBP_INSTALL_LUADIR ${GB_LUA_INSTALL_REL})
endif()
if(NOT DEFINED GPUBP_INSTALL_CMODDIR)
  set(GPUBP_INSTALL_CMODDIR ${CMAKE_INSTALL_LIBDIR}/lua/5.4)
endif()

# The module holds its own copy of the runtime (the same objects as libgpubp, compiled once)
# and does not link liblua: the host's Lua (the lua5.4 binary exports its symbols) provides
# the C API, as for any Lua C module. CUDA comes, as everywhere, from the plugin.
add_library(gpubp_lua MODULE $<TARGET_OBJECTS:gb_core> $<TARGET_OBJECTS:gb_cpu>
  $<TARGET_OBJECTS:gb_io> $<TARGET_OBJECTS:gb_bindings>)
target_link_libraries(gpubp_lua PRIVATE PkgConfig::JANSSON ZLIB::ZLIB gb_blas Threads::Threads
  m ${CMAKE_DL_LIBS})
# -Bsymbolic: the module's calls into its own runtime stay inside it, also when libgpubp (a
# second copy, through gpubp.h) is loaded in the same process.
# -z nodelete: the host's lua_close unloads C modules, but the runtime's worker threads (the
# CPU pool, runtime/cpu/gb_cpu_pool.c) outlive it and must keep their code mapped.
target_link_options(gpubp_lua PRIVATE -Wl,-Bsymbolic -Wl,-z,nodelete)
set_target_properties(gpubp_lua PROPERTIES PREFIX "" OUTPUT_NAME core
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lua/gpubp C_VISIBILITY_PRESET hidden)
# build/gpubp.so and build/lua/gpubp.so: `LUA_CPATH='build/?.so;;' lua5.4 -e "require 'gpubp'"`
# works from the source tree. Links, so a process maps one copy however it was reached.
add_custom_command(TARGET gpubp_lua POST_BUILD
  COMMAND ${CMAKE_COMMAND} -E create_symlink gpubp/core.so ${CMAKE_BINARY_DIR}/lua/gpubp.so
  COMMAND ${CMAKE_COMMAND} -E create_symlink lua/gpubp/core.so ${CMAKE_BINARY_DIR}/gpubp.so
  VERBATIM)

install(TARGETS gpubp_lua LIBRARY DESTINATION ${GPUBP_INSTALL_CMODDIR}/gpubp)
install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/lua/ DESTINATION ${GPUBP_INSTALL_LUADIR})
if(NOT GPUBP_LUA_ROCK)
  # the alias beside gpubp/: a host whose LUA_CPATH alone reaches the install finds the rest
  install(CODE "
    set(gb_dir \"\$ENV{DESTDIR}${GPUBP_INSTALL_CMODDIR}\")
    if(NOT IS_ABSOLUTE \"${GPUBP_INSTALL_CMODDIR}\")
      set(gb_dir \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${GPUBP_INSTALL_CMODDIR}\")
    endif()
    message(STATUS \"Installing: \${gb_dir}/gpubp.so -> gpubp/core.so\")
    file(CREATE_LINK gpubp/core.so \"\${gb_dir}/gpubp.so\" SYMBOLIC)")
endif()

if(GPUBP_LUA_ROCK)
  # the rock needs the module alone: leave the static core (CLI, tests) out of `all`
  set_target_properties(gpubp_core PROPERTIES EXCLUDE_FROM_ALL ON)
endif()
