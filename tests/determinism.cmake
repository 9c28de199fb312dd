# test_determinism: the default thread count depends on the backend (include/seqvid.h):
# OPENBLAS_NUM_THREADS with OpenBLAS, 1 with the reference CBLAS, all cores with oneDNN.
if(TARGET test_determinism AND SEQVID_BLAS STREQUAL "reference")
  target_compile_definitions(test_determinism PRIVATE SEQVID_BLAS_REFERENCE)
elseif(TARGET test_determinism AND SEQVID_BLAS STREQUAL "onednn")
  target_compile_definitions(test_determinism PRIVATE SEQVID_BLAS_ONEDNN)
endif()
