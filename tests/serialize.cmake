# Serialization tests beyond tests/test_serialize.c (lib/serialize.c, docs/format.md):
#  - serialize_driver: a public-API program that test_serialize kills while it saves
#    (crash atomicity) and that feeds the NumPy interop test;
#  - safetensors_numpy: Python with NumPy alone reads a saved model and recomputes outputs;
#  - fuzz_load_corpus: the libFuzzer harness replayed over the committed seed corpus with
#    the normal compiler (no clang needed);
#  - with -DSEQVID_FUZZ=ON (clang): the libFuzzer binary fuzz_load and a short fuzz run.
add_executable(serialize_driver ${CMAKE_CURRENT_SOURCE_DIR}/serialize_driver.c)
target_link_libraries(serialize_driver PRIVATE seqvid_static)
if(TARGET test_serialize)
  target_compile_definitions(test_serialize PRIVATE
                             SV_SERIALIZE_DRIVER="$<TARGET_FILE:serialize_driver>")
  add_dependencies(test_serialize serialize_driver)
  set_tests_properties(test_serialize PROPERTIES TIMEOUT 120)
endif()
add_test(NAME safetensors_numpy
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/test_safetensors_numpy.py
                 $<TARGET_FILE:serialize_driver>)
set_tests_properties(safetensors_numpy PROPERTIES TIMEOUT 60)

# The seed corpus is committed; fuzz_make_corpus regenerates it (see tests/fuzz/run.sh).
add_executable(fuzz_make_corpus ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/make_corpus.c)
target_include_directories(fuzz_make_corpus PRIVATE ${PROJECT_SOURCE_DIR}/lib)
target_link_libraries(fuzz_make_corpus PRIVATE seqvid_static)
add_executable(fuzz_load_replay ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_load.c
                                ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/replay_main.c)
target_include_directories(fuzz_load_replay PRIVATE ${PROJECT_SOURCE_DIR}/lib)
target_link_libraries(fuzz_load_replay PRIVATE seqvid_static)
add_test(NAME fuzz_load_corpus
         COMMAND fuzz_load_replay ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus)
set_tests_properties(fuzz_load_corpus PROPERTIES TIMEOUT 60)

option(SEQVID_FUZZ "Build the libFuzzer harness tests/fuzz/fuzz_load (clang only)" OFF)
if(SEQVID_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "SEQVID_FUZZ needs clang (-DCMAKE_C_COMPILER=clang)")
  endif()
  # The whole library is instrumented for coverage and checked by ASan/UBSan. The fuzz build
  # skips the data checksum comparison (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, the
  # libFuzzer convention) so mutations reach the code behind it.
  set(SV_FUZZ_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined
                    -fno-omit-frame-pointer)
  target_compile_options(seqvid_obj PRIVATE -fsanitize=fuzzer-no-link ${SV_FUZZ_FLAGS}
                         -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION)
  target_link_options(seqvid_static INTERFACE -fsanitize=address,undefined)
  add_executable(fuzz_load ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_load.c)
  target_include_directories(fuzz_load PRIVATE ${PROJECT_SOURCE_DIR}/lib)
  target_compile_options(fuzz_load PRIVATE -fsanitize=fuzzer ${SV_FUZZ_FLAGS})
  target_link_options(fuzz_load PRIVATE -fsanitize=fuzzer ${SV_FUZZ_FLAGS})
  target_link_libraries(fuzz_load PRIVATE seqvid_static)
  # A short run for CI; new inputs go to a scratch folder, the seed corpus is only read.
  add_test(NAME fuzz_load_short
           COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
                   $<TARGET_FILE:fuzz_load> -max_total_time=20 -rss_limit_mb=1024
                   -dict=${CMAKE_CURRENT_SOURCE_DIR}/fuzz/safetensors.dict
                   ${CMAKE_CURRENT_BINARY_DIR}/fuzz_scratch ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus)
  file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/fuzz_scratch)
  set_tests_properties(fuzz_load_short PROPERTIES TIMEOUT 120)
endif()
