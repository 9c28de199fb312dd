# Serialization tests beyond tests/test_serialize.c (lib/serialize.c, docs/format.md):
#  - serialize_driver: a public-API program that test_serialize kills while it saves
#    (crash atomicity) and that feeds the NumPy interop test;
#  - safetensors_numpy: Python with NumPy alone reads a saved model and recomputes outputs;
#  (the fuzz harness of the loaders, fuzz_load, is registered with the others in fuzz.cmake)
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
