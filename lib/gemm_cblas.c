/* gemm_cblas.c -- the CBLAS backend of blas.h: OpenBLAS (default) or Debian's reference
 * (netlib) CBLAS. Products go straight to cblas_sgemm / cblas_sgemv; there is no weight
 * cache (OpenBLAS packs its operands on every call) and no bf16 path. */
#include <stdatomic.h>
#include "blas.h"
#ifdef SEQVID_BLAS_REFERENCE
#include <cblas-netlib.h>
#else
#include <cblas.h>
#endif

static enum CBLAS_TRANSPOSE tr(int t) { return t ? CblasTrans : CblasNoTrans; }

void sv_sgemm(int transa, int transb, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    cblas_sgemm(CblasRowMajor, tr(transa), tr(transb), M, N, K, alpha, A, lda, B, ldb, beta, C,
                ldc);
}

void sv_sgemv(int trans, int M, int N, float alpha, const float *A, int lda, const float *x,
              int incx, float beta, float *y, int incy) {
    cblas_sgemv(CblasRowMajor, tr(trans), M, N, alpha, A, lda, x, incx, beta, y, incy);
}

#ifndef SEQVID_BLAS_REFERENCE
/* OpenBLAS's own pool (declared by its cblas.h). */
void sv_blas_set_threads(int n) { openblas_set_num_threads(n); }
int sv_blas_get_threads(void) { return openblas_get_num_threads(); }
#define BACKEND_NAME "openblas"
#else
/* The reference BLAS is single-threaded; remember the request for the library's own loops. */
static atomic_int ref_threads = 1;
void sv_blas_set_threads(int n) { atomic_store(&ref_threads, n); }
int sv_blas_get_threads(void) { return atomic_load(&ref_threads); }
#define BACKEND_NAME "reference"
#endif

int sv_blas_weights_register(const float *base, size_t n, const unsigned *version) {
    (void)base, (void)n, (void)version;
    return 0;
}
void sv_blas_weights_unregister(const float *base) { (void)base; }

int sv_blas_bf16_supported(void) { return 0; }
int sv_blas_set_bf16(int on) { return (void)on, 0; }
int sv_blas_get_bf16(void) { return 0; }

sv_blas_info_t sv_blas_info(void) { return (sv_blas_info_t){BACKEND_NAME, 0, 0, 0, 0}; }
