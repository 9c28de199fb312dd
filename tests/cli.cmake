# The `seqvid` command (examples/seqvid/), when the examples are built: every subcommand on
# tiny data, a closed log pipe followed by Ctrl-C, and exact resume. Scripts in tests/cli/.
# demo_video runs README's `examples/demo.sh --video` for two steps (skipped without the
# sample footage). (examples/ is added after tests/, so the target is named, not tested for.)
if(SEQVID_EXAMPLES)
  foreach(t commands pipe resume demo_video)
    add_test(NAME seqvid_${t} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_${t}.sh
             $<TARGET_FILE:seqvid_cmd>)
    set_tests_properties(seqvid_${t} PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
  endforeach()
endif()
