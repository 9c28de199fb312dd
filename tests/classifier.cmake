# The classifier's NumPy reference (tests/ref/classifier_ref.py, on top of sr15_ref.py): a
# plain driver dumps the library's loss, accuracy, gradients and clip probabilities for small
# cases; tests/ref/test_classifier_reference.py recomputes them in float64 from the header's
# equations (after checking its own gradient against finite differences) and compares.
add_executable(classifier_ref_driver ${CMAKE_CURRENT_SOURCE_DIR}/classifier_ref_driver.c)
target_link_libraries(classifier_ref_driver PRIVATE seqvid_static)
add_test(NAME classifier_reference_numpy
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/ref/test_classifier_reference.py
                 $<TARGET_FILE:classifier_ref_driver>)
set_tests_properties(classifier_reference_numpy PROPERTIES TIMEOUT 120)
