# libseqvid_video tests (lib/video/, include/seqvid_video.h). test_video links the shared
# library only, like a user's program; it writes its own videos with the ffmpeg program and
# reads OpenCV's sample videos from $SEQVID_VIDEO_DATA (default ${SEQVID_DATA:-~/.cache/seqvid}/video,
# filled by examples/setup-video.sh, which tests/run.sh runs). fuzz_video_corpus replays the
# libFuzzer harness tests/fuzz/fuzz_video.c over its committed corpus.
if(NOT TARGET seqvid_video)
  message(STATUS "video tests skipped: no libseqvid_video (FFmpeg development packages missing)")
  return()
endif()
add_executable(test_video ${CMAKE_CURRENT_SOURCE_DIR}/video/test_video.c)
target_link_libraries(test_video PRIVATE seqvid_video seqvid ${CMOCKA_LIB} ${MATH_LIB})
add_test(NAME test_video COMMAND test_video)
set_tests_properties(test_video PROPERTIES TIMEOUT 300)

add_executable(fuzz_video_replay ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_video.c
                                 ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/replay_main.c)
target_link_libraries(fuzz_video_replay PRIVATE seqvid_video seqvid)
add_test(NAME fuzz_video_corpus
         COMMAND fuzz_video_replay ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/video_corpus)
set_tests_properties(fuzz_video_corpus PROPERTIES TIMEOUT 120)

# With -DSEQVID_FUZZ=ON (clang; see fuzz.cmake): the libFuzzer binary fuzz_video, with
# libseqvid_video instrumented (FFmpeg itself is the system's, uninstrumented), and a short
# run for CI. SEQVID_FUZZ_HARNESSES=video tests/fuzz/run.sh runs it longer.
if(SEQVID_FUZZ)
  target_compile_options(seqvid_video_obj PRIVATE -fsanitize=fuzzer-no-link ${SV_FUZZ_FLAGS})
  add_executable(fuzz_video ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_video.c
                            $<TARGET_OBJECTS:seqvid_video_obj>)
  target_include_directories(fuzz_video PRIVATE ${PROJECT_SOURCE_DIR}/include)
  target_compile_options(fuzz_video PRIVATE -fsanitize=fuzzer ${SV_FUZZ_FLAGS})
  target_link_options(fuzz_video PRIVATE -fsanitize=fuzzer ${SV_FUZZ_FLAGS})
  target_link_libraries(fuzz_video PRIVATE seqvid_static PkgConfig::FFMPEG Threads::Threads)
  add_test(NAME fuzz_video_short
           COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
                   $<TARGET_FILE:fuzz_video> -max_total_time=20 -rss_limit_mb=2048 -timeout=20
                   ${CMAKE_CURRENT_BINARY_DIR}/fuzz_video_scratch
                   ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/video_corpus)
  file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/fuzz_video_scratch)
  set_tests_properties(fuzz_video_short PROPERTIES TIMEOUT 120)
endif()
