# tests/package/tests.cmake — gpubp outside its own binary: every busted spec again under stock
# lua5.4 loading gpubp/core.so (lua54_*), the stock interpreter's behaviour (stock_lua), two
# states beside a gpubp.h runtime in one plain Lua host (two_hosts), the rock built with
# luarocks into a scratch tree (rock_train_mnist) and the Debian packages (deb_package).
# Included from tests/CMakeLists.txt. Under GPUBP_SANITIZE the module is instrumented and cannot
# load into an uninstrumented lua5.4, so these run only in ordinary builds.
if(GPUBP_SANITIZE)
  return()
endif()
find_program(GB_LUA54 lua5.4)
find_program(GB_BUSTED busted)
find_program(GB_LUAROCKS luarocks)
find_program(GB_DPKG_DEB dpkg-deb)

if(GB_LUA54 AND GB_BUSTED)
  foreach(spec ${GB_LUA_SPECS})
    get_filename_component(name ${spec} NAME_WE)
    add_test(NAME lua54_${name}
      COMMAND ${CMAKE_COMMAND} -E env "LUA_CPATH=${CMAKE_BINARY_DIR}/?.so;;"
              GPUBP_TEST_HOST=lua5.4 GPUBP_CLI=$<TARGET_FILE:gpubp_cli>
              ${GB_LUA54} -e "gb = require 'gpubp' gb.set_default_device('cpu')"
              ${GB_BUSTED} --output=TAP ${spec}
      WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  endforeach()
  gb_examples_scratch_dir(lua54_api_examples_spec) # tests/CMakeLists.txt says why
endif()

if(GB_LUA54)
  add_test(NAME stock_lua
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/package/stock_lua_test.sh ${CMAKE_BINARY_DIR}
            ${CMAKE_SOURCE_DIR} $<TARGET_FILE:gpubp_cli>)
  set_tests_properties(stock_lua PROPERTIES TIMEOUT 180)
endif()

add_executable(two_hosts ${CMAKE_CURRENT_SOURCE_DIR}/package/two_hosts.c)
target_compile_options(two_hosts PRIVATE ${GB_WARN})
target_link_libraries(two_hosts PRIVATE gpubp PkgConfig::LUA)
add_dependencies(two_hosts gpubp_lua)
add_test(NAME two_hosts COMMAND two_hosts ${CMAKE_BINARY_DIR})

if(GB_LUA54 AND GB_LUAROCKS)
  add_test(NAME rock_train_mnist
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/package/rock_test.sh ${CMAKE_SOURCE_DIR}
            ${CMAKE_SOURCE_DIR}/data/mnist)
  set_tests_properties(rock_train_mnist PROPERTIES TIMEOUT 900)
endif()

if(GB_DPKG_DEB)
  add_test(NAME deb_package
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/package/deb_test.sh ${CMAKE_BINARY_DIR}
            ${CMAKE_CPACK_COMMAND} ${PROJECT_VERSION})
  set_tests_properties(deb_package PROPERTIES TIMEOUT 600)
endif()
