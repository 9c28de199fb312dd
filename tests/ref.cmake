# The independent NumPy reference (tests/ref/): a plain driver program dumps the C library's
# losses, gradients and inference outputs for small cases; tests/ref/test_reference.py
# recomputes them in float64 from the SR15 equations and compares. The python script also
# proves its own hand-written BPTT against central finite differences first.
add_executable(ref_driver ${CMAKE_CURRENT_SOURCE_DIR}/ref_driver.c)
target_link_libraries(ref_driver PRIVATE seqvid_static)
target_include_directories(ref_driver PRIVATE ${PROJECT_SOURCE_DIR}/lib) # model.h: the coins
add_test(NAME reference_numpy
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/ref/test_reference.py
                 $<TARGET_FILE:ref_driver>)
set_tests_properties(reference_numpy PROPERTIES TIMEOUT 120)
