# MPI tests (libseqvid_mpi, lib/mpi/; docs/distributed.md). Run under mpirun on 1, 2 and 4
# ranks (oversubscribed on small machines). Skipped, with a message, when MPI is missing.
if(NOT TARGET seqvid_mpi)
  message(STATUS "MPI tests skipped: no MPI (Debian: apt install libopenmpi-dev openmpi-bin)")
  return()
endif()
find_program(SEQVID_MPIEXEC NAMES mpirun mpiexec HINTS ${MPIEXEC_EXECUTABLE})
if(NOT SEQVID_MPIEXEC)
  message(STATUS "MPI tests skipped: no mpirun/mpiexec found")
  return()
endif()
# Open MPI refuses root without --allow-run-as-root (containers, CI) and more ranks than
# cores without --oversubscribe; MPICH needs neither and does not know them.
execute_process(COMMAND ${SEQVID_MPIEXEC} --version OUTPUT_VARIABLE _sv_mpi_version
                ERROR_VARIABLE _sv_mpi_version)
set(SEQVID_MPI_FLAGS "")
if(_sv_mpi_version MATCHES "Open MPI|OpenRTE")
  set(SEQVID_MPI_FLAGS --allow-run-as-root --oversubscribe --timeout 120)
endif()

add_executable(test_mpi_train ${CMAKE_CURRENT_SOURCE_DIR}/mpi/test_mpi_train.c)
target_link_libraries(test_mpi_train PRIVATE seqvid_mpi ${MATH_LIB})
foreach(np 1 2 4)
  add_test(NAME mpi_train_np${np}
           COMMAND ${SEQVID_MPIEXEC} ${SEQVID_MPI_FLAGS} -np ${np} $<TARGET_FILE:test_mpi_train>)
  # One BLAS thread per rank (the program also sets it); no test may hang: the timeout ends it.
  set_tests_properties(mpi_train_np${np} PROPERTIES TIMEOUT 150 PROCESSORS ${np}
                       ENVIRONMENT "OMPI_MCA_rmaps_base_oversubscribe=1;OPENBLAS_NUM_THREADS=1")
endforeach()

# The example program end to end: train on 2 ranks with a checkpoint, resume it on 1 rank,
# and compare with an uninterrupted 1-rank run (tests/mpi/example_resume.sh).
if(SEQVID_EXAMPLES)
  add_test(NAME mpi_example_resume
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/mpi/example_resume.sh ${SEQVID_MPIEXEC}
                   $<TARGET_FILE:train_mpi> "${SEQVID_MPI_FLAGS}")
  set_tests_properties(mpi_example_resume PROPERTIES TIMEOUT 240 PROCESSORS 2
                       ENVIRONMENT "OPENBLAS_NUM_THREADS=1")
endif()
