/* packed.h -- private: the weights of a model stored as SEQVID_WEIGHTS_F32_PACKED (the
 * experimental storage of include/seqvid.h): float32, plus a copy of each weight matrix that
 * a product of a few rows reads, packed once per weight version into panels for the
 * library's own register-tile kernel. OpenBLAS re-packs B on every call, which for products
 * of a few rows (the recurrent products of a step, decoders fed their own frames, readouts
 * at inference, the backward's products with W^T) costs about as much as the arithmetic; a
 * copy packed once does not. Either backend consults this before its own path. (One-row
 * products of lstm.c stay on sgemv, which streams W faster than the kernel reads a copy.)
 * The CBLAS backend's bf16 mode lives here too: bf16 copies of the weights for a kernel on
 * AVX512-BF16 (sv_packed_gemm_bf16, sv_packed_gemm_bf16_once). */
#ifndef SV_PACKED_H
#define SV_PACKED_H
#include <stddef.h>

/* Rows up to which a product on packed weights takes the kernel. Above it OpenBLAS's own
 * packing is amortised over the rows and its kernel is about as fast (measured:
 * docs/performance.md, "Weights packed once"). */
#define SV_PACKED_MAX_ROWS 64

/* A range of weights whose products use packed copies: the owner's node (an arena's), linked
 * into a list while registered, so registering cannot fail. The copies are keyed by the
 * value of *version when made; the owner bumps it after every change of the weights (as it
 * does for blas.h's weight cache) and unregisters before freeing or rewriting them. */
typedef struct sv_packed_range {
    const float *base;
    size_t n;
    const unsigned *version;
    struct sv_packed_range *next;
    struct sv_packed_copy *copies; /* its packed copies (packed.c), freed with it */
    int f32; /* 1: float32 products may use it (the owner's storage is packed) */
} sv_packed_range;
void sv_packed_register(sv_packed_range *r, const float *base, size_t n, const unsigned *version);
/* The same for bf16 products only (sv_packed_gemm_bf16): the owner's storage is plain
 * float32, its products in float32 stay the backend's, bit for bit. */
void sv_packed_register_bf16(sv_packed_range *r, const float *base, size_t n,
                             const unsigned *version);
void sv_packed_unregister(sv_packed_range *r); /* also drops its copies; a no-op if not in */

/* blas.h's sv_sgemm (same arguments). Returns 1 if computed here: op(A) = A, op(B) = B or
 * B^T (the backward pass's product with W^T: packed over B's copy, packed.c), alpha =
 * 1, B lies in a registered range and 1 <= M <= SV_PACKED_MAX_ROWS; else 0, having touched
 * nothing (the backend computes it). The kernel and its order of summation depend on the shape
 * only -- not on the thread count, nor on whether B's copy was kept (without memory for it
 * each call packs the blocks it is about to use, and without memory for that, one block at a
 * time on the stack): a product gives the same bits either way, and never fails. */
int sv_packed_gemm(int transa, int transb, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* bf16 mode's products on this CPU (AVX512-BF16 with the OS's AVX-512 state; bf16.h's
 * sv_bf16_cpu): C = A op(B) + beta C with A and op(B) rounded to bfloat16 (to nearest, ties
 * to even; subnormals count as zero, the instruction's rule) and every sum in float32. The
 * same conditions as sv_packed_gemm, except that any number of rows is taken (the CBLAS
 * backend has no other bf16 path) and B may lie in a range registered for bf16 only; its
 * copy is bf16, packed once per weight version. Each element is summed by one thread in
 * order of k (in pairs: the instruction adds a[2i] b[2i] + a[2i+1] b[2i+1] into the sum),
 * so the bits depend on the shape only. Returns 0, having touched nothing, where it does not
 * apply, on a CPU without the instruction, and when memory for the copy or for A's rounded
 * rows runs out (the caller then computes in float32). */
int sv_packed_gemm_bf16(int transa, int transb, int M, int N, int K, float alpha,
                        const float *A, int lda, const float *B, int ldb, float beta, float *C,
                        int ldc);

/* The same product with both operands rounded per call, A and B any of the library's
 * (transposed or not, registered or not; no copy is kept): for the weight gradients of bf16
 * mode on the CBLAS backend (blas.h, sv_sgemm_grad). Returns 0, having touched nothing,
 * where it does not apply (alpha other than 1, a CPU without the instruction) or without
 * memory for the rounded operands. */
int sv_packed_gemm_bf16_once(int transa, int transb, int M, int N, int K, float alpha,
                             const float *A, int lda, const float *B, int ldb, float beta,
                             float *C, int ldc);

/* Copies packed and products that reused one, since the process started (sv_blas_info). */
void sv_packed_counts(unsigned long *packs, unsigned long *hits);
/* Bytes of the copies kept now, over every registered range (tests/test_packed.c). */
size_t sv_packed_bytes(void);

/* Tests: 0 drops every copy and keeps none, so that each product packs per call, as when
 * memory for the copies runs out; 1 (the default) keeps them again. */
void sv_packed_keep(int on);
#endif
