/* packed.h -- private: the weights of a model stored as SEQVID_WEIGHTS_F32_PACKED (the
 * experimental storage of include/seqvid.h): float32, plus a copy of each weight matrix that
 * a product of a few rows reads, packed once per weight version into panels for the
 * library's own register-tile kernel. OpenBLAS re-packs B on every call, which for products
 * of a few rows (the recurrent products of a step, decoders fed their own frames, readouts
 * at inference, the backward's products with W^T) costs about as much as the arithmetic; a
 * copy packed once does not. Either backend consults this before its own path. (One-row
 * products of lstm.c stay on sgemv, which streams W faster than the kernel reads a copy.) */
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
} sv_packed_range;
void sv_packed_register(sv_packed_range *r, const float *base, size_t n, const unsigned *version);
void sv_packed_unregister(sv_packed_range *r); /* also drops its copies; a no-op if not in */

/* blas.h's sv_sgemm (same arguments). Returns 1 if computed here: op(A) = A, op(B) = B or
 * B^T (the backward pass's product with W^T; each way B is read keeps its own copy), alpha =
 * 1, B lies in a registered range and 1 <= M <= SV_PACKED_MAX_ROWS; else 0, having touched
 * nothing (the backend computes it). The kernel and its order of summation depend on the shape
 * only -- not on the thread count, nor on whether B's copy was kept (without memory for it
 * each call packs the blocks it is about to use, and without memory for that, one block at a
 * time on the stack): a product gives the same bits either way, and never fails. */
int sv_packed_gemm(int transa, int transb, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* Copies packed and products that reused one, since the process started (sv_blas_info). */
void sv_packed_counts(unsigned long *packs, unsigned long *hits);

/* Tests: 0 drops every copy and keeps none, so that each product packs per call, as when
 * memory for the copies runs out; 1 (the default) keeps them again. */
void sv_packed_keep(int on);
#endif
