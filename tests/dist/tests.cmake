# tests/dist/ — gb.distributed under mpirun with two ranks (labelled `mpi`): the collectives
# against hand values, data-parallel training against one rank, the sharded DataLoader, and
# faults (a rank that errors or is killed mid-step); dist_three_ranks checks the header
# agreement at world size 3. Included by tests/CMakeLists.txt.
# Without MPI (or mpirun) one test, dist_unavailable, reports the skip (exit 77).
# Sanitizers: Open MPI leaks at exit and its shared-memory transport confuses ASan, so under
# GPUBP_SANITIZE these run with LeakSanitizer off (ASAN_OPTIONS detect_leaks=0); the runtime's
# own leaks are covered by the rest of the suite, which runs without MPI.
find_program(GB_MPIRUN NAMES mpirun mpiexec)
if(NOT GB_HAVE_DIST OR NOT GB_MPIRUN)
  add_test(NAME dist_unavailable COMMAND sh -c
    "echo 'skipped: no MPI (apt install libopenmpi-dev openmpi-bin, then reconfigure)'; exit 77")
  set_tests_properties(dist_unavailable PROPERTIES LABELS mpi SKIP_RETURN_CODE 77)
  return()
endif()
set(GB_MPI_RUN ${GB_MPIRUN} --oversubscribe --allow-run-as-root -np 2)
set(GB_DIST_ENV "OMPI_MCA_rmaps_base_oversubscribe=1")
if(GPUBP_SANITIZE)
  list(APPEND GB_DIST_ENV "ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1")
endif()
file(GLOB GB_DIST_SPECS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*_spec.lua)
foreach(spec ${GB_DIST_SPECS})
  get_filename_component(name ${spec} NAME_WE)
  add_test(NAME dist_${name}
    COMMAND ${GB_MPI_RUN} $<TARGET_FILE:gpubp_cli> --device cpu ${GB_BUSTED} --output=TAP ${spec}
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(dist_${name} PROPERTIES LABELS mpi TIMEOUT 120 ENVIRONMENT "${GB_DIST_ENV}")
endforeach()
add_test(NAME dist_faults
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/fault_test.sh $<TARGET_FILE:gpubp_cli> ${GB_MPIRUN}
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(dist_faults PROPERTIES LABELS mpi TIMEOUT 180 ENVIRONMENT "${GB_DIST_ENV}")
add_test(NAME dist_train_mnist
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/train_test.sh $<TARGET_FILE:gpubp_cli> ${GB_MPIRUN}
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(dist_train_mnist PROPERTIES LABELS mpi TIMEOUT 300 ENVIRONMENT "${GB_DIST_ENV}")
add_test(NAME dist_three_ranks
  COMMAND ${GB_MPIRUN} --oversubscribe --allow-run-as-root -np 3 $<TARGET_FILE:gpubp_cli>
          --device cpu ${CMAKE_CURRENT_LIST_DIR}/three_ranks.lua
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(dist_three_ranks PROPERTIES LABELS mpi TIMEOUT 120
  ENVIRONMENT "${GB_DIST_ENV}")
