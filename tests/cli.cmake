# The `seqvid` command (examples/seqvid/), when the examples are built: every subcommand on
# tiny data, a closed log pipe followed by Ctrl-C, and exact resume; and examples/fewlabels.
# Scripts in tests/cli/.
# demo_video runs README's `examples/demo.sh --video` for two steps (skipped without the
# sample footage). (examples/ is added after tests/, so the target is named, not tested for.)
if(SEQVID_EXAMPLES)
  foreach(t commands pipe resume demo_video)
    add_test(NAME seqvid_${t} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_${t}.sh
             $<TARGET_FILE:seqvid_cmd>)
    set_tests_properties(seqvid_${t} PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
  endforeach()
  # examples/fewlabels: the direction task's labels against the frames (NumPy), the
  # multi-seed table end to end on tiny budgets, bad flags.
  add_test(NAME fewlabels_smoke COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_fewlabels.sh
           $<TARGET_FILE:fewlabels>)
  set_tests_properties(fewlabels_smoke PROPERTIES TIMEOUT 300)
endif()
