# test_json_strict counts the library's strcmp calls (the work of a hostile header) by
# wrapping strcmp at link time.
if(TARGET test_json_strict)
  target_link_options(test_json_strict PRIVATE -Wl,--wrap=strcmp)
  target_link_libraries(test_json_strict PRIVATE m)
endif()
