/* sparse.h -- private: products with a sparse layer input (the kernel's, lstm.c). */
#ifndef SV_SPARSE_H
#define SV_SPARSE_H
#include <stddef.h>

/* A sparse copy of a layer's input X [rows x D] in compressed columns, for the input product
 * and the input weights' gradient. Video frames are mostly exact
 * zeros (Moving MNIST: ~7% of pixels are not), and a zero input costs nothing here, where a
 * dense GEMM pays for every pixel. Built by sv_lstm_forward when at most 1/SV_SPARSE_DENSITY
 * of X is nonzero, reused by sv_lstm_backward; otherwise the dense BLAS path runs. */
#define SV_SPARSE_DENSITY 5
typedef struct sv_sparse {
    int cap;       /* nonzeros it can hold */
    int used;      /* the last forward stored X here */
    int *cp;       /* column starts [D + 1] */
    int *ri;       /* row index of each nonzero, by column, rows ascending */
    float *cv;     /* its value */
} sv_sparse;

/* Floats (ints count as floats: both 4 bytes) of an sv_sparse for X [rows x D]. */
size_t sv_sparse_floats(int rows, int D);
void sv_sparse_bind(sv_sparse *s, int rows, int D, float *mem);

/* Store X [rows x D] in s by columns if it is sparse enough; returns whether it did. */
int sv_sparse_build(sv_sparse *s, const float *X, int rows, int D);
/* A [rows x N, row stride lda] += X W for the X stored in s; W [D x N]. */
void sv_sparse_forward(const sv_sparse *s, int rows, int D, int N, const float *W, float *A,
                       int lda);
/* dW [D x N] = X^T G for the X stored in s; G [rows x N, row stride ldg]. */
void sv_sparse_weight_grad(const sv_sparse *s, int rows, int D, int N, const float *G, int ldg,
                           float *dW);
#endif
