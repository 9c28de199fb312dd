/* threads.c -- the process-wide thread count: the library's loops and the backend's products
 * (kept by the backend: gemm_cblas.c holds the library's own count and keeps OpenBLAS
 * single-threaded inside products; gemm_onednn.c sets oneDNN's per call). */
#include <unistd.h>
#include "blas.h"
#include "error.h"

int seqvid_set_threads(int n) {
    if (n < 0) return sv_fail(SEQVID_ERR_ARG, "seqvid_set_threads: n = %d must be >= 0", n);
    if (n == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = cores > 0 ? (int)cores : 1;
    }
    sv_blas_set_threads(n);
    return SEQVID_OK;
}

int seqvid_get_threads(void) { return sv_blas_get_threads(); }
