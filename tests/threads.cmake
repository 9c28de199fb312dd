# test_threads (tests/test_threads.c) starts pthreads; .ci/tsan.sh runs it under TSan.
find_package(Threads REQUIRED)
if(TARGET test_threads)
  target_link_libraries(test_threads PRIVATE Threads::Threads)
endif()
