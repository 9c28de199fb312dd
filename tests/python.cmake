# The Python bindings' pytest suite (bindings/python/tests), run against the shared library
# of this build through SEQVID_LIBRARY. Skipped (with a message) when /usr/bin/python3 lacks
# cffi, numpy or pytest (Debian: python3-cffi python3-numpy python3-pytest).
set(SEQVID_PY /usr/bin/python3)
set(SEQVID_PY_OK FALSE)
if(EXISTS ${SEQVID_PY})
  execute_process(COMMAND ${SEQVID_PY} -c "import cffi, numpy, pytest"
                  RESULT_VARIABLE _seqvid_py_rc OUTPUT_QUIET ERROR_QUIET)
  if(_seqvid_py_rc EQUAL 0)
    set(SEQVID_PY_OK TRUE)
  endif()
endif()
if(SEQVID_PY_OK)
  # -p no:cacheprovider and PYTHONDONTWRITEBYTECODE keep the source tree clean.
  add_test(NAME python_bindings
           COMMAND ${SEQVID_PY} -m pytest -q -p no:cacheprovider bindings/python/tests
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(python_bindings PROPERTIES
                       ENVIRONMENT "SEQVID_LIBRARY=$<TARGET_FILE:seqvid>;PYTHONDONTWRITEBYTECODE=1"
                       TIMEOUT 300)
else()
  message(STATUS "python_bindings test skipped: ${SEQVID_PY} with cffi, numpy and pytest "
                 "is needed")
endif()
