# test_gemm again with OpenBLAS's generic kernels forced (OPENBLAS_CORETYPE=Prescott), so
# that test_backend_report sees both sides of seqvid_experimental_backend's advice whatever
# kernels this CPU gets by default. OpenBLAS builds only (the variable means nothing elsewhere).
if(TARGET test_gemm AND SEQVID_BLAS STREQUAL "openblas")
  add_test(NAME gemm_prescott COMMAND test_gemm)
  set_tests_properties(gemm_prescott PROPERTIES ENVIRONMENT "OPENBLAS_CORETYPE=Prescott")
endif()
