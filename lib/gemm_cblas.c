/* gemm_cblas.c -- the CBLAS backend of blas.h: OpenBLAS (default) or Debian's reference
 * (netlib) CBLAS. There is no weight cache (OpenBLAS packs its operands on every call; weights
 * stored as SEQVID_WEIGHTS_F32_PACKED bring their own, packed.h). bf16 mode is packed.c's:
 * the products on registered weights (a model asking for bf16 registers them) run on its
 * AVX512-BF16 tiles over a bf16 copy, the weight gradients (sv_sgemm_grad) on the same tiles
 * with both operands rounded per call; every other product stays float32.
 *
 * Results do not depend on the thread count (include/seqvid.h, "Determinism"; issue 14 item
 * 9). OpenBLAS's own threading splits a product differently for each thread count (1 vs 2
 * threads differ in 10-65% of the elements of every product shape the library uses), so the
 * library never lets it thread: every product is cut as gemm_chunks.h says, each chunk one
 * single-threaded BLAS call, the chunks spread over the library's own threads.
 *
 * OpenBLAS must compute each chunk single-threaded: while any library call is inside a
 * product, OpenBLAS's thread count is held at 1 (a counted section: the first product in
 * saves the count, the last one out restores it). The library's thread count is separate
 * (sv_blas_set_threads); until set, it is what OpenBLAS was set to when first asked
 * (OPENBLAS_NUM_THREADS, else all cores). The reference CBLAS is single-threaded already;
 * its count defaults to 1. */
#include <pthread.h>
#include <stddef.h>
#include "bf16.h" /* sv_bf16_cpu */
#include "blas.h"
#include "gemm_chunks.h"
#include "packed.h"
#include "parallel.h"
#ifdef SEQVID_BLAS_REFERENCE
#include <cblas-netlib.h>
#else
#include <cblas.h>
#endif

static enum CBLAS_TRANSPOSE tr(int t) { return t ? CblasTrans : CblasNoTrans; }

/* ---- the library's thread count --------------------------------------------------------- */
static int lib_threads; /* 0: not set yet; read and written atomically */
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void read_default(void) {
#ifndef SEQVID_BLAS_REFERENCE
    int n = openblas_get_num_threads(); /* before any pin: else it would read 1 */
#else
    int n = 1;
#endif
    int zero = 0;
    __atomic_compare_exchange_n(&lib_threads, &zero, n > 0 ? n : 1, 0, __ATOMIC_RELAXED,
                                __ATOMIC_RELAXED);
}

void sv_blas_set_threads(int n) {
    pthread_once(&default_once, read_default); /* a later first query must not override n */
    __atomic_store_n(&lib_threads, n > 0 ? n : 1, __ATOMIC_RELAXED);
}

int sv_blas_get_threads(void) {
    pthread_once(&default_once, read_default);
    return __atomic_load_n(&lib_threads, __ATOMIC_RELAXED);
}

/* ---- OpenBLAS single-threaded inside products ------------------------------------------- */
#ifndef SEQVID_BLAS_REFERENCE
static pthread_mutex_t pin_lock = PTHREAD_MUTEX_INITIALIZER;
static int pin_depth, pin_saved;

static void blas_single_begin(void) {
    pthread_once(&default_once, read_default);
    pthread_mutex_lock(&pin_lock);
    if (pin_depth++ == 0) {
        pin_saved = openblas_get_num_threads();
        if (pin_saved != 1) openblas_set_num_threads(1);
    }
    pthread_mutex_unlock(&pin_lock);
}

static void blas_single_end(void) {
    pthread_mutex_lock(&pin_lock);
    if (--pin_depth == 0 && pin_saved != 1) openblas_set_num_threads(pin_saved);
    pthread_mutex_unlock(&pin_lock);
}
#define BACKEND_NAME "openblas"
#else
static void blas_single_begin(void) {}
static void blas_single_end(void) {}
#define BACKEND_NAME "reference"
#endif

/* ---- C = alpha op(A) op(B) + beta C ------------------------------------------------------ */
static void gemm_chunks(void *ctx, int c0, int c1) {
    const sv_gemm_job *j = ctx;
    for (int c = c0; c < c1; c++) {
        sv_gemm_job p;
        sv_gemm_chunk(j, c, &p);
        cblas_sgemm(CblasRowMajor, tr(p.ta), tr(p.tb), p.M, p.N, p.K, p.alpha, p.A, p.lda, p.B,
                    p.ldb, p.beta, p.C, p.ldc);
    }
}

/* The calling thread's bf16 mode (blas.h). */
static _Thread_local int bf16_on;

void sv_sgemm_f32(int transa, int transb, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (sv_packed_gemm(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) return;
    sv_gemm_job j;
    int chunks = sv_gemm_plan(&j, transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    blas_single_begin();
    sv_parallel_for(chunks, gemm_chunks, &j);
    blas_single_end();
}

void sv_sgemm_grad(int transa, int transb, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (bf16_on && sv_packed_gemm_bf16_once(transa, transb, M, N, K, alpha, A, lda, B, ldb,
                                            beta, C, ldc))
        return;
    sv_sgemm_f32(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ---- y = alpha op(A) x + beta y, chunked along y ------------------------------------------ */
typedef struct gemv_job {
    int trans, M, N, lda, incx, incy, width;
    float alpha, beta;
    const float *A, *x;
    float *y;
} gemv_job;

static void gemv_chunks(void *ctx, int c0, int c1) {
    const gemv_job *j = ctx;
    int len = j->trans ? j->N : j->M; /* entries of y */
    for (int c = c0; c < c1; c++) {
        int lo = c * j->width, n = len - lo < j->width ? len - lo : j->width;
        float *y = j->y + (ptrdiff_t)lo * j->incy;
        if (j->trans) /* y[lo, lo+n) = columns [lo, lo+n) of A, transposed, times x */
            cblas_sgemv(CblasRowMajor, CblasTrans, j->M, n, j->alpha, j->A + lo, j->lda, j->x,
                        j->incx, j->beta, y, j->incy);
        else /* rows [lo, lo+n) of A times x */
            cblas_sgemv(CblasRowMajor, CblasNoTrans, n, j->N, j->alpha,
                        j->A + (size_t)lo * j->lda, j->lda, j->x, j->incx, j->beta, y, j->incy);
    }
}

void sv_sgemv(int trans, int M, int N, float alpha, const float *A, int lda, const float *x,
              int incx, float beta, float *y, int incy) {
    int len = trans ? N : M, other = trans ? M : N;
    if (len <= 0) return;
    gemv_job j = {trans, M, N, lda, incx, incy, 0, alpha, beta, A, x, y};
    int chunks = sv_plan_chunks(len, 2.0 * len * (other > 0 ? other : 1), &j.width);
    blas_single_begin();
    sv_parallel_for(chunks, gemv_chunks, &j);
    blas_single_end();
}

/* bf16 mode: the products packed.c takes (B a registered weight, A not transposed, alpha 1);
 * the rest, and all of them where it cannot, in float32. */
void sv_sgemm(int transa, int transb, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (bf16_on &&
        sv_packed_gemm_bf16(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc))
        return;
    sv_sgemm_f32(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ---- what this backend does not have ------------------------------------------------------ */
int sv_blas_weights_register(const float *base, size_t n, const unsigned *version) {
    (void)base, (void)n, (void)version;
    return 0;
}
void sv_blas_weights_unregister(const float *base) { (void)base; }

/* ---- bf16 mode (packed.c's products) ---------------------------------------------------- */
int sv_blas_bf16_supported(void) { return sv_bf16_cpu(); }
int sv_blas_set_bf16(int on) { return bf16_on = on && sv_blas_bf16_supported(); }
int sv_blas_get_bf16(void) { return bf16_on; }

/* ---- which kernels OpenBLAS picked (blas.h, sv_blas_info) ----------------------------------
 * OpenBLAS (DYNAMIC_ARCH builds, as Debian's) picks its kernel set when it loads, from the
 * CPU's model number, or from OPENBLAS_CORETYPE. Before 0.3.25 an Intel model it does not
 * know gets the generic SSE3 set "Prescott" whatever the CPU can do (OpenBLAS issue 4267):
 * Debian 12's 0.3.21 on family 6 model 207 does, and a train step then takes about twice as
 * long as with the "Haswell" or "SkylakeX" set (docs/performance.md). A library cannot change
 * the choice once OpenBLAS is loaded, so it reports it and says what to set. */
#ifndef SEQVID_BLAS_REFERENCE
/* The kernel set to advise for this CPU: "SkylakeX" (AVX-512) where the CPU and OS run
 * AVX-512 F/BW/DQ/VL -- measured 1.04-1.49x the demo's steps/s of "Haswell" on model 207 --,
 * "Haswell" (AVX2) where they run AVX2 and FMA, else NULL (Prescott is all there is). */
static const char *best_kernels(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init(); /* libgcc's CPU data (it also checks the OS saves the AVX state) */
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return NULL;
}

static const char *openblas_kernels(void) {
    const char *core = openblas_get_corename();
    return core ? core : "";
}

static const char *openblas_advice(void) {
    const char *k = openblas_kernels();
    static const char generic[] = "prescott";
    for (size_t i = 0; i < sizeof generic; i++) { /* ASCII case-insensitive equality */
        char c = k[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != generic[i]) return NULL;
    }
    return best_kernels();
}
#define BACKEND_KERNELS openblas_kernels()
#define BACKEND_ADVICE openblas_advice()
#else
#define BACKEND_KERNELS ""
#define BACKEND_ADVICE NULL
#endif

sv_blas_info_t sv_blas_info(void) {
    return (sv_blas_info_t){BACKEND_NAME, BACKEND_KERNELS, BACKEND_ADVICE, 0, 0, 0, 0, 0};
}
