/* sparse.c -- products with a sparse input: a layer's input X [rows x D] stored by columns
 * when at most 1/SV_SPARSE_DENSITY of it is nonzero (video frames are mostly exact zeros:
 * Moving MNIST ~7% nonzero), for the input product A += X W and the input weights' gradient
 * dW = X^T dA. A zero input costs nothing here, where a dense GEMM pays for every pixel.
 * Threaded over blocks of output columns (sv_parallel_for): every output element is computed
 * by one thread in a fixed order, so results do not depend on the thread count. */
#define SEQVID_EXPERIMENTAL /* declares seqvid_experimental_sparse_density */
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include "alloc.h"
#include "bf16.h"
#include "blas.h" /* sv_blas_get_threads */
#include "error.h"
#include "fastmath.h"
#include "parallel.h"
#include "sparse.h"

/* The last input stored, by columns, and the buffers it lives in (grown, never shrunk). */
struct sv_sparse {
    int rows, D;   /* shape of the X of the last sv_sparse_build */
    int used;      /* that X is stored here */
    int *cp;       /* column starts [D + 1] */
    int *nzc, n_nzc; /* the columns with a nonzero, ascending [n_nzc <= D] */
    int *ri;       /* row index of each nonzero, by column, rows ascending */
    float *cv;     /* its value */
    size_t cp_cap, nz_cap; /* room of cp, and of ri and cv */
};

void sv_sparse_free(sv_sparse *s) {
    if (!s) return;
    free(s->cp), free(s->nzc), free(s->ri), free(s->cv);
    free(s);
}

int sv_sparse_holds(const sv_sparse *s) { return s && s->used; }

void sv_sparse_forget(sv_sparse *s) {
    if (s) s->used = 0;
}

/* Room for D + 1 column starts (and D nonempty columns) and cap nonzeros; 0 if memory ran
 * out (nothing lost: the caller takes the dense path). */
static int reserve(sv_sparse *s, size_t cols, size_t cap) {
    if (cols > s->cp_cap) {
        int *cp = sv_malloc(cols * sizeof *cp), *nzc = sv_malloc(cols * sizeof *nzc);
        if (!cp || !nzc) {
            free(cp), free(nzc);
            return 0;
        }
        free(s->cp), free(s->nzc);
        s->cp = cp, s->nzc = nzc, s->cp_cap = cols;
    }
    if (cap > s->nz_cap) {
        int *ri = sv_malloc(cap * sizeof *ri);
        float *cv = sv_malloc(cap * sizeof *cv);
        if (!ri || !cv) {
            free(ri), free(cv);
            return 0;
        }
        free(s->ri), free(s->cv);
        s->ri = ri, s->cv = cv, s->nz_cap = cap;
    }
    return 1;
}

int sv_sparse_build(sv_sparse **sp, const float *X, int rows, int D, int all_rows) {
    sv_sparse *s = *sp;
    if (!s && !(s = *sp = sv_calloc(1, sizeof *s))) return 0;
    s->used = 0;
    /* At most 1/SV_SPARSE_DENSITY of X nonzero, or the BLAS path is faster. */
    size_t cap = (size_t)all_rows * (size_t)D / SV_SPARSE_DENSITY + 1;
    if (cap > INT_MAX || !reserve(s, (size_t)D + 1, 0)) return 0;
    int nnz = 0;
    for (int d = 0; d <= D; d++) s->cp[d] = 0;
    for (size_t k = 0; k < (size_t)rows * D; k++) /* count per column, vectorisable */
        s->cp[k % (size_t)D + 1] += X[k] != 0.0f;
    for (int d = 0; d < D; d++) s->cp[d + 1] += s->cp[d];
    nnz = s->cp[D];
    if (nnz > (int)cap) return 0; /* too dense: the BLAS path is faster */
    if (!reserve(s, (size_t)D + 1, cap)) return 0;
    for (int r = 0; r < rows; r++) { /* fill; rows ascend within each column */
        const float *x = X + (size_t)r * D;
        for (int d = 0; d < D; d++)
            if (x[d] != 0.0f) {
                int at = s->cp[d]++;
                s->ri[at] = r, s->cv[at] = x[d];
            }
    }
    for (int d = D; d > 0; d--) s->cp[d] = s->cp[d - 1]; /* undo the fill's shift */
    s->cp[0] = 0;
    s->n_nzc = 0;
    for (int d = 0; d < D; d++)
        if (s->cp[d + 1] > s->cp[d]) s->nzc[s->n_nzc++] = d;
    s->rows = rows, s->D = D, s->used = 1;
    return 1;
}

/* Output columns per block: 32 floats = 4 vectors of 8, so one block of the rows' outputs
 * (rows x 128 bytes) stays in L1 while the columns stream through. GCC vector extensions;
 * the baseline clone splits each vector into SSE halves. The forward takes several blocks
 * per nonzero column when there are few rows (their outputs still within SP_L1 bytes): each
 * row of W is then read in longer contiguous pieces, which the memory system streams far
 * better than 128 bytes 4H floats apart (a batch of one sequence reads 8 KiB pieces). */
#define SP_BLOCK 32
#define SP_L1 16384
typedef float v8f __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4))); /* unaligned access */

typedef struct sp_job {
    const sv_sparse *s;
    int rows, D, N, lda; /* lda: row stride of the gate matrix (out forward, G backward) */
    const float *W; /* forward: W [D x N] */
    const uint16_t *W16; /* forward: W in bf16 instead (bf16.h), or NULL */
    const float *G; /* backward: dA [rows x N] */
    float *out;     /* forward: A [rows x N] (+=); backward: dW [D x N] (=) */
    int width;      /* forward: columns per unit of work, a multiple of SP_BLOCK */
} sp_job;

/* Forward, column by column: for each nonzero X[r, d] = v, A[r, blk] += v W[d, blk], over
 * the columns that have one only (a frame of one sequence lights ~7% of them: the others'
 * rows of W are neither read nor fetched). The W row piece sits in registers; the A rows it
 * updates sit in L1. bf16 (a constant in each call below, so each gets its own loop): W is
 * read from W16 and widened as it is loaded. */
static inline void sp_forward_body(const sp_job *j, int u0, int u1, const int bf16) {
    const sv_sparse *s = j->s;
    enum { AHEAD = 8 }; /* W's rows are 4H floats apart: too far for the hardware to guess */
    for (int u = u0; u < u1; u++) {
        const int lo = u * j->width, hi = j->N - lo < j->width ? j->N : lo + j->width;
        for (int q = 0; q < s->n_nzc; q++) {
            const int d = s->nzc[q];
            if (q + AHEAD < s->n_nzc) { /* fetch the row piece of a later nonempty column */
                const size_t ahead = (size_t)s->nzc[q + AHEAD] * j->N + lo;
                for (int c = 0; c < hi - lo; c += bf16 ? 32 : 16) { /* its 64-byte lines */
                    if (bf16) __builtin_prefetch(j->W16 + ahead + c);
                    else __builtin_prefetch(j->W + ahead + c);
                }
            }
            for (int c0 = lo; c0 < hi; c0 += SP_BLOCK) {
                const int w = hi - c0 < SP_BLOCK ? hi - c0 : SP_BLOCK;
                const size_t at = (size_t)d * j->N + c0;
                const float *wr = bf16 ? NULL : j->W + at;
                const uint16_t *wh = bf16 ? j->W16 + at : NULL;
                if (w == SP_BLOCK) {
                    v8f wv[4];
                    for (int i = 0; i < 4; i++) {
                        if (bf16) sv_bf16_widen8(wh + 8 * i, &wv[i]);
                        else wv[i] = ((const v8u *)wr)[i];
                    }
                    for (int k = s->cp[d]; k < s->cp[d + 1]; k++) {
                        v8u *o = (v8u *)(j->out + (size_t)s->ri[k] * j->lda + c0);
                        v8f v = (v8f){0} + s->cv[k];
                        for (int i = 0; i < 4; i++) o[i] += v * wv[i];
                    }
                } else {
                    for (int k = s->cp[d]; k < s->cp[d + 1]; k++) {
                        float *o = j->out + (size_t)s->ri[k] * j->lda + c0;
                        for (int c = 0; c < w; c++)
                            o[c] += s->cv[k] * (bf16 ? sv_bf16_to_float(wh[c]) : wr[c]);
                    }
                }
            }
        }
    }
}

SV_VECTOR_CLONES
static void sp_forward_blocks(void *ctx, int b0, int b1) {
    const sp_job *j = ctx;
    if (j->W16) sp_forward_body(j, b0, b1, 1);
    else sp_forward_body(j, b0, b1, 0);
}

/* Weight gradient: dW[d, blk] = Σ_k v_k dA[r_k, blk] over column d's nonzeros; the sum
 * stays in registers and every dW row is written once (zeros where the column is empty). */
SV_VECTOR_CLONES
static void sp_backward_blocks(void *ctx, int b0, int b1) {
    const sp_job *j = ctx;
    const sv_sparse *s = j->s;
    for (int blk = b0; blk < b1; blk++) {
        int c0 = blk * SP_BLOCK, w = j->N - c0 < SP_BLOCK ? j->N - c0 : SP_BLOCK;
        for (int d = 0; d < j->D; d++) {
            float *o = j->out + (size_t)d * j->N + c0;
            if (w == SP_BLOCK) {
                v8f acc[4] = {{0}};
                for (int k = s->cp[d]; k < s->cp[d + 1]; k++) {
                    const v8u *g = (const v8u *)(j->G + (size_t)s->ri[k] * j->lda + c0);
                    v8f v = (v8f){0} + s->cv[k];
                    for (int i = 0; i < 4; i++) acc[i] += v * g[i];
                }
                for (int i = 0; i < 4; i++) ((v8u *)o)[i] = acc[i];
            } else {
                for (int c = 0; c < w; c++) o[c] = 0.0f;
                for (int k = s->cp[d]; k < s->cp[d + 1]; k++) {
                    const float *g = j->G + (size_t)s->ri[k] * j->lda + c0;
                    for (int c = 0; c < w; c++) o[c] += s->cv[k] * g[c];
                }
            }
        }
    }
}

void sv_sparse_forward(const sv_sparse *s, int N, const float *W, const uint16_t *W16, float *A,
                       int lda) {
    /* Blocks per unit: as many as keep the rows' outputs within SP_L1 bytes, and at least
     * two units per thread once there are enough columns. */
    const size_t row_bytes = (size_t)s->rows * SP_BLOCK * sizeof(float); /* one block's */
    const int nb = (N + SP_BLOCK - 1) / SP_BLOCK, t = sv_blas_get_threads();
    int blocks = row_bytes >= SP_L1 ? 1 : (int)(SP_L1 / row_bytes);
    if (blocks > nb / (2 * t)) blocks = nb / (2 * t);
    if (blocks < 1) blocks = 1;
    sp_job j = {s, s->rows, s->D, N, lda, W, W16, NULL, A, blocks * SP_BLOCK};
    sv_parallel_for((N + j.width - 1) / j.width, sp_forward_blocks, &j);
}

void sv_sparse_weight_grad(const sv_sparse *s, int N, const float *G, int ldg, float *dW) {
    sp_job j = {s, s->rows, s->D, N, ldg, NULL, NULL, G, dW, SP_BLOCK};
    sv_parallel_for((N + SP_BLOCK - 1) / SP_BLOCK, sp_backward_blocks, &j);
}

int seqvid_experimental_sparse_density(int *density) {
    SV_NOT_NULL(density);
    *density = SV_SPARSE_DENSITY;
    return SEQVID_OK;
}
