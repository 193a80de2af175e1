# tests/extra.cmake — tests of the three ways in: the `gpubp` command line (cli_test.sh), the
# REPL driven through a pseudo-terminal (repl/pty_drive.c + repl/*.pty scripts), the C
# embedding example, and an install into a temporary prefix with two out-of-tree consumers.
# Included at the end of tests/CMakeLists.txt.

# ---- the pty driver: forkpty lives in libc since glibc 2.34, in libutil before ----------------
add_executable(pty_drive ${CMAKE_CURRENT_SOURCE_DIR}/repl/pty_drive.c)
target_compile_options(pty_drive PRIVATE ${GB_WARN})
find_library(GB_UTIL_LIBRARY util)
if(GB_UTIL_LIBRARY)
  target_link_libraries(pty_drive PRIVATE ${GB_UTIL_LIBRARY})
endif()

# ---- command line -----------------------------------------------------------------------------
add_test(NAME cli_behaviour
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/repl/cli_test.sh $<TARGET_FILE:gpubp_cli>)

# ---- REPL through a terminal; HOME is a scratch directory so history stays out of ~ ---------
set(GB_REPL_HOME ${CMAKE_CURRENT_BINARY_DIR}/repl_home)
file(MAKE_DIRECTORY ${GB_REPL_HOME}/after_script)
foreach(script session interrupt complete toolkit)
  file(MAKE_DIRECTORY ${GB_REPL_HOME}/${script})
  add_test(NAME repl_${script}
    COMMAND ${CMAKE_COMMAND} -E env HOME=${GB_REPL_HOME}/${script}
            $<TARGET_FILE:pty_drive> ${CMAKE_CURRENT_SOURCE_DIR}/repl/${script}.pty
            -- $<TARGET_FILE:gpubp_cli>)
  set_tests_properties(repl_${script} PROPERTIES TIMEOUT 60)
endforeach()
add_test(NAME repl_after_script
  COMMAND ${CMAKE_COMMAND} -E env HOME=${GB_REPL_HOME}/after_script
          $<TARGET_FILE:pty_drive> ${CMAKE_CURRENT_SOURCE_DIR}/repl/after_script.pty
          -- $<TARGET_FILE:gpubp_cli> -i ${CMAKE_CURRENT_SOURCE_DIR}/repl/after_script.lua)
add_test(NAME repl_history
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/repl/history_test.sh $<TARGET_FILE:pty_drive>
          $<TARGET_FILE:gpubp_cli> ${CMAKE_CURRENT_SOURCE_DIR}/repl)
file(MAKE_DIRECTORY ${GB_REPL_HOME}/progress)
add_test(NAME repl_progress_tty
  COMMAND ${CMAKE_COMMAND} -E env HOME=${GB_REPL_HOME}/progress
          $<TARGET_FILE:pty_drive> ${CMAKE_CURRENT_SOURCE_DIR}/repl/progress.pty
          -- $<TARGET_FILE:gpubp_cli> ${CMAKE_CURRENT_SOURCE_DIR}/repl/progress_tty.lua)
set_tests_properties(repl_after_script repl_history repl_progress_tty PROPERTIES TIMEOUT 60)

# ---- charts rendered by headless Chromium must be readable (skips without chromium) ------
add_test(NAME chart_screenshot
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/repl/chart_test.sh $<TARGET_FILE:gpubp_cli>)
set_tests_properties(chart_screenshot PROPERTIES TIMEOUT 180 SKIP_RETURN_CODE 77)

# ---- hostile input at the command line and the terminal (issue 19) ------------------------
add_test(NAME hostile_cli
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/hostile/cli_test.sh $<TARGET_FILE:gpubp_cli>
          $<TARGET_FILE:pty_drive>)
add_test(NAME hostile_repl_paste
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/hostile/repl_paste_test.sh $<TARGET_FILE:pty_drive>
          $<TARGET_FILE:gpubp_cli>)
set_tests_properties(hostile_cli hostile_repl_paste PROPERTIES TIMEOUT 120)

# ---- the embedding example, linked against the shared libgpubp as an embedder would -------
add_executable(embed_train ${CMAKE_SOURCE_DIR}/examples/embed_train.c)
target_compile_options(embed_train PRIVATE ${GB_WARN})
target_link_libraries(embed_train PRIVATE gpubp m)
add_test(NAME example_embed_train COMMAND embed_train)
# the sandboxed, budgeted host that charts the loss it receives through the metrics hook
add_executable(embed_sandbox_train ${CMAKE_SOURCE_DIR}/examples/embed_sandbox_train.c)
target_compile_options(embed_sandbox_train PRIVATE ${GB_WARN})
target_link_libraries(embed_sandbox_train PRIVATE gpubp m)
add_test(NAME example_embed_sandbox_train COMMAND embed_sandbox_train
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
# benchmark: a training step with and without budgets and the metrics hook (docs/benchmarks.md);
# the test only runs it briefly to catch breakage, it asserts no time
add_executable(bench_embed_overhead ${CMAKE_SOURCE_DIR}/scripts/bench/embed_overhead.c)
target_compile_options(bench_embed_overhead PRIVATE ${GB_WARN})
target_link_libraries(bench_embed_overhead PRIVATE gpubp)
add_test(NAME bench_embed_overhead_quick COMMAND bench_embed_overhead 1 5)

# ---- install into a scratch prefix; build and run the pkg-config and find_package consumers --
# Under GPUBP_SANITIZE the installed libgpubp is instrumented, so the consumers must be too.
set(GB_CONSUMER_CFLAGS "")
if(GPUBP_SANITIZE)
  set(GB_CONSUMER_CFLAGS "-fsanitize=address,undefined")
endif()
add_test(NAME install_consumers
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/repl/install_test.sh ${CMAKE_BINARY_DIR}
          ${CMAKE_SOURCE_DIR} ${CMAKE_COMMAND} "${GB_CONSUMER_CFLAGS}")
set_tests_properties(install_consumers PROPERTIES TIMEOUT 300 RUN_SERIAL TRUE)
