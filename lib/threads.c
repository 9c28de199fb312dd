/* threads.c -- the process-wide BLAS thread count. */
#include <unistd.h>
#include "blas.h"
#include "error.h"

#ifndef SEQVID_BLAS_REFERENCE
/* OpenBLAS's own controls (declared by its cblas.h). */
#define set_blas_threads(n) openblas_set_num_threads(n)
#define get_blas_threads() openblas_get_num_threads()
#else
static int ref_threads = 1; /* the reference BLAS is single-threaded; remember the request */
#define set_blas_threads(n) (ref_threads = (n))
#define get_blas_threads() ref_threads
#endif

int seqvid_set_threads(int n) {
    if (n < 0) return sv_fail(SEQVID_ERR_ARG, "seqvid_set_threads: n = %d must be >= 0", n);
    if (n == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = cores > 0 ? (int)cores : 1;
    }
    set_blas_threads(n);
    return SEQVID_OK;
}

int seqvid_get_threads(void) { return get_blas_threads(); }
