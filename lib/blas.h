/* blas.h -- private: the one door to the matrix-product backend. Every unit that multiplies
 * matrices includes this header and nothing else; only the backend files include a vendor
 * header (lib/gemm_cblas.c: cblas.h or cblas-netlib.h; lib/gemm_onednn.c: dnnl.h). The
 * backend is chosen at configure time: -DSEQVID_BLAS=openblas|reference|onednn.
 *
 * The calls mirror CBLAS's row-major sgemm/sgemv with the same argument order, minus the
 * layout argument (always row-major), so a call site reads as its CBLAS original:
 *   cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ...)  ->  sv_sgemm(SV_NOTRANS, SV_TRANS, ...)
 *
 * Failure: the products cannot fail. Their shapes are valid by construction (the kernel sizes
 * them); a backend whose fast path needs memory it cannot get (oneDNN: a reordered weight
 * copy, a primitive's scratchpad) computes the product on a slower path instead, and counts
 * it (sv_blas_info().fallbacks). Nothing here prints, exits or aborts. */
#ifndef SV_BLAS_H
#define SV_BLAS_H
#include <stddef.h>

enum { SV_NOTRANS = 0, SV_TRANS = 1 };

/* C[M x N] = alpha op(A)[M x K] op(B)[K x N] + beta C, all row-major; lda/ldb/ldc are the row
 * strides of A, B, C as stored (A stored K x M when transposed, B stored N x K when transposed). */
void sv_sgemm(int transa, int transb, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);

/* The same product, always in float32, whatever the calling thread's bf16 mode (below). */
void sv_sgemm_f32(int transa, int transb, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* The weight gradients dW = X^T dG. Both operands are activations, rounded per call in bf16
 * mode (no copy to amortise it over). In bf16 mode: bf16 on CBLAS (packed.c's kernel, 2x
 * OpenBLAS's float32 there with the rounding included), float32 on oneDNN (its bf16 matmul
 * re-lays-out both operands per call: the train step was 10% slower at H=2048 with them,
 * docs/performance.md "bf16 mode"). Float32 outside bf16 mode. */
void sv_sgemm_grad(int transa, int transb, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* y = alpha op(A) x + beta y with A [M x N] row-major (op(A) = A^T: y has N entries). */
void sv_sgemv(int trans, int M, int N, float alpha, const float *A, int lda, const float *x,
              int incx, float beta, float *y, int incy);

/* The backend's thread count (seqvid_set_threads; the library's own loops use the same). */
void sv_blas_set_threads(int n);
int sv_blas_get_threads(void);

/* ---- weights kept in the backend's layout ----------------------------------------------
 * A backend may keep a copy of a weight matrix in its own layout (oneDNN: reordered for its
 * kernels, or converted to bf16) and reuse it for every product with it, instead of
 * re-packing the matrix on each call (OpenBLAS packs W_h, 64 MB at H=2048, on each of the
 * 60 recurrent products of a train step). It may only do so for memory it is told holds
 * weights, and only while they are unchanged:
 *   sv_blas_weights_register(base, n, &version): floats [base, base + n) are parameters;
 *       the B operand of a product that lies inside such a range may be cached, keyed by
 *       its address, shape and the value of *version at the time of the call.
 *   The owner increments *version after every change of the parameters (optimizer step,
 *   load, copy, any handout of a writable pointer), and unregisters before freeing them.
 * Unregistered memory is never cached, so an owner that does not register loses speed, not
 * correctness. The CBLAS backend ignores all this. Thread-safe. Register returns 0, or -1
 * when the table is full (then the range is simply not cached). */
int sv_blas_weights_register(const float *base, size_t n, const unsigned *version);
void sv_blas_weights_unregister(const float *base);

/* ---- bf16 products (private, opt-in; AVX512-BF16 CPUs) ---------------------------------
 * With bf16 on, products multiply operands rounded to bfloat16 (8 significant bits) and
 * accumulate in float32; results stay float32. Which products: on oneDNN every sv_sgemm
 * (its matmul in bf16); on CBLAS those on registered weights that packed.c takes (B a
 * weight a model in bf16 precision registered, A not transposed, alpha 1: the products with
 * W, its own AVX512-BF16 kernel), the rest in float32. sv_sgemm_f32 and sv_sgemv are always
 * float32. sv_blas_bf16_supported(): 1 if this CPU has AVX512-BF16 with AVX-512 state
 * enabled by the OS (bf16.h, sv_bf16_cpu), the backend can use it, and the environment does
 * not force the fallback (SEQVID_NO_BF16 set to anything but "" or "0").
 * sv_blas_set_bf16(on) returns the mode now in effect: asking for bf16 where it is not
 * supported leaves the exact float32 path on. The mode belongs to the calling thread
 * (products are issued by the thread that called into the library): a model sets it from
 * its precision key on entry to each call and clears it on the way out. */
int sv_blas_bf16_supported(void);
int sv_blas_set_bf16(int on);
int sv_blas_get_bf16(void);

/* name, kernels, advice: static strings. kernels: the kernel set the backend picked for this
 * CPU ("Haswell", "SkylakeX", "Prescott", ... from openblas_get_corename(); oneDNN: its
 * effective ISA, "avx512_core_bf16", ...; "" where there is no choice). advice: NULL, or the
 * OPENBLAS_CORETYPE value to start the program with ("SkylakeX" on AVX-512 CPUs, "Haswell" on
 * AVX2 ones) when OpenBLAS runs its generic SSE3 kernels ("Prescott") on a CPU with AVX2 and
 * FMA -- what OpenBLAS before 0.3.25 falls back to on Intel CPUs it does not know (OpenBLAS
 * issue 4267; here: family 6 model 207), about 2x slower (docs/performance.md, "OpenBLAS
 * kernel choice"). */
typedef struct sv_blas_info {
    const char *name;         /* "openblas", "reference", "onednn" */
    const char *kernels;
    const char *advice;
    unsigned long fallbacks;  /* products computed on a slower path after a backend failure */
    unsigned long reorders;   /* weight copies made (cache misses) */
    unsigned long cache_hits; /* products that reused a cached weight copy */
    unsigned long primitives; /* kernels made for a new shape (oneDNN: JIT-compiled) */
    int weight_cache;         /* 1: products on registered weights use cached copies (oneDNN
                                 where its float32 matmul kernels are brgemm ones, probed on
                                 a 16 x 64 x 96 product: AVX-512 CPUs); else never */
} sv_blas_info_t;
sv_blas_info_t sv_blas_info(void);
#endif
