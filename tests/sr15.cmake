# The SR15 full-size configuration through the shared library and the public header only.
# Not part of the sanitizer and reference-BLAS stages (their test filter is ^test_): at full
# size those would take minutes.
add_executable(sr15_full_size ${CMAKE_CURRENT_SOURCE_DIR}/sr15/sr15_full_size.c)
target_link_libraries(sr15_full_size PRIVATE seqvid m)
add_test(NAME sr15_full_size COMMAND sr15_full_size)
set_tests_properties(sr15_full_size PROPERTIES TIMEOUT 300)
