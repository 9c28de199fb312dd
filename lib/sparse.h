/* sparse.h -- private: the kernel's products with a sparse layer input (lstm.c owns the
 * workspace; nothing outside the kernel sees it).
 *
 * A sparse copy of a layer's input X [rows x D], by columns and by rows, serves the input product
 * A += X W and the input weights' gradient dW = X^T dA. Video frames are mostly exact zeros
 * (Moving MNIST: ~7% of pixels are not), and a zero input costs nothing here, where a dense
 * GEMM pays for every pixel. The copy is made when at most 1/SV_SPARSE_DENSITY of X is
 * nonzero; otherwise the caller runs the dense BLAS products. */
#ifndef SV_SPARSE_H
#define SV_SPARSE_H
#include <stdint.h>

#define SV_SPARSE_DENSITY 5

/* Opaque: the copy and its buffers, grown as needed and kept for the next call. */
typedef struct sv_sparse sv_sparse;

/* Store X [rows x D] in *sp (created on first use) if it is sparse enough: at most
 * all_rows * D / SV_SPARSE_DENSITY + 1 nonzeros, where all_rows >= rows counts the rows of
 * zero input too (a decoder's first step has none). Returns whether it did; out of memory
 * only means "no" (the dense path is always correct). */
int sv_sparse_build(sv_sparse **sp, const float *X, int rows, int D, int all_rows);
/* 1 if s holds the X of its last build (s may be NULL). */
int sv_sparse_holds(const sv_sparse *s);
/* Drop what s holds (s may be NULL). */
void sv_sparse_forget(sv_sparse *s);
void sv_sparse_free(sv_sparse *s);
/* A [rows x N, row stride lda] += X W for the X held; W [D x N] in float32, or in bf16 (W16
 * not NULL: bf16.h; W is then not read). */
void sv_sparse_forward(const sv_sparse *s, int N, const float *W, const uint16_t *W16, float *A,
                       int lda);
/* dW [D x N] = X^T G for the X held; G [rows x N, row stride ldg]. */
void sv_sparse_weight_grad(const sv_sparse *s, int N, const float *G, int ldg, float *dW);
#endif
