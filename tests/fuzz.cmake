# The libFuzzer harnesses of the file readers (tests/fuzz), one per reader:
#   load   the safetensors loaders (models, checkpoints; lib/serialize.c)  corpus/
#   idx    the IDX reader, plain or gzipped (lib/data/idx.c)              corpus_idx/
#   gzip   the gzip path of the IDX reader, structure-aware (fuzz_gzip.c)  corpus_gzip/
#   npy    the .npy readers, frames and lengths (lib/data/npy.c)           corpus_npy/
# Registered for each harness H:
#  - fuzz_H_corpus: the harness replayed over its committed seed corpus and the reproducers
#    of slow units (slow_units/H_*) with the normal compiler (no clang needed), in every build;
#  - with -DSEQVID_FUZZ=ON (clang): the libFuzzer binary fuzz_H and a short run fuzz_H_short.
# tests/fuzz/run.sh runs them (CI's fuzz stage, and long runs by hand).
set(SV_FUZZ_HARNESSES load idx gzip npy)
set(SV_FUZZ_DIR ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)

# The seed corpus of fuzz_load is committed; fuzz_make_corpus regenerates it (the data
# corpora come from tests/fuzz/make_data_corpus.py).
add_executable(fuzz_make_corpus ${SV_FUZZ_DIR}/make_corpus.c)
target_include_directories(fuzz_make_corpus PRIVATE ${PROJECT_SOURCE_DIR}/lib)
target_link_libraries(fuzz_make_corpus PRIVATE seqvid_static)

function(sv_fuzz_corpus harness out)
  if(harness STREQUAL "load")
    set(${out} ${SV_FUZZ_DIR}/corpus PARENT_SCOPE)
  else()
    set(${out} ${SV_FUZZ_DIR}/corpus_${harness} PARENT_SCOPE)
  endif()
endfunction()

foreach(h ${SV_FUZZ_HARNESSES})
  sv_fuzz_corpus(${h} corpus)
  add_executable(fuzz_${h}_replay ${SV_FUZZ_DIR}/fuzz_${h}.c ${SV_FUZZ_DIR}/replay_main.c)
  target_include_directories(fuzz_${h}_replay PRIVATE ${PROJECT_SOURCE_DIR}/lib)
  target_link_libraries(fuzz_${h}_replay PRIVATE seqvid_static ZLIB::ZLIB)
  # Reproducers of slow units (tests/fuzz/slow_units/<harness>_*) are replayed too, but kept
  # out of the seed corpus: libFuzzer would spend most of its time mutating them.
  file(GLOB slow ${SV_FUZZ_DIR}/slow_units/${h}_*)
  add_test(NAME fuzz_${h}_corpus COMMAND fuzz_${h}_replay ${corpus} ${slow})
  set_tests_properties(fuzz_${h}_corpus PROPERTIES TIMEOUT 60)
endforeach()

option(SEQVID_FUZZ "Build the libFuzzer harnesses tests/fuzz/fuzz_* (clang only)" OFF)
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
  foreach(h ${SV_FUZZ_HARNESSES})
    sv_fuzz_corpus(${h} corpus)
    add_executable(fuzz_${h} ${SV_FUZZ_DIR}/fuzz_${h}.c)
    target_include_directories(fuzz_${h} PRIVATE ${PROJECT_SOURCE_DIR}/lib)
    target_compile_options(fuzz_${h} PRIVATE -fsanitize=fuzzer ${SV_FUZZ_FLAGS})
    target_link_options(fuzz_${h} PRIVATE -fsanitize=fuzzer ${SV_FUZZ_FLAGS})
    target_link_libraries(fuzz_${h} PRIVATE seqvid_static ZLIB::ZLIB)
    # A short run; new inputs go to a scratch folder, the seed corpus is only read.
    set(d ${h})
    if(h STREQUAL "gzip")
      set(d idx) # its inputs end in IDX bytes
    endif()
    set(dict)
    if(EXISTS ${SV_FUZZ_DIR}/${d}.dict)
      set(dict -dict=${SV_FUZZ_DIR}/${d}.dict)
    endif()
    add_test(NAME fuzz_${h}_short
             COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
                     $<TARGET_FILE:fuzz_${h}> -max_total_time=20 -rss_limit_mb=1024 ${dict}
                     ${CMAKE_CURRENT_BINARY_DIR}/fuzz_scratch_${h} ${corpus})
    file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/fuzz_scratch_${h})
    set_tests_properties(fuzz_${h}_short PROPERTIES TIMEOUT 120)
  endforeach()
endif()
