/* sparse.c -- products with a sparse input: a layer's input X [rows x D] stored by columns
 * when at most 1/SV_SPARSE_DENSITY of it is nonzero (video frames are mostly exact zeros:
 * Moving MNIST ~7% nonzero), for the input product A += X W and the input weights' gradient
 * dW = X^T dA. A zero input costs nothing here, where a dense GEMM pays for every pixel.
 * Threaded over blocks of output columns (sv_parallel_for): every output element is computed
 * by one thread in a fixed order, so results do not depend on the thread count. */
#define SEQVID_EXPERIMENTAL /* declares seqvid_experimental_sparse_density */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "bf16.h"
#include "blas.h" /* sv_blas_get_threads */
#include "error.h"
#include "fastmath.h"
#include "parallel.h"
#include "sparse.h"

#define SP_RW 64        /* columns of a unit of the row walk: 8 sums of 8 in registers */
#define SP_DC 256       /* rows of W per chunk of the row walk: 256 x 256 bytes = 64 KiB */
#define SP_ROWS_MIN 32  /* rows from which the forward walks rows (sp_rows_body); below it
                         * the column walk, which reads each row of W in one long piece, is as
                         * fast or faster (bench/sparse_products on Zen 4: 2-16 rows within
                         * 10% at 4H = 2048; 10-16 rows 0-9% faster at 4H = 8192) */

/* The last input stored, by columns, and the buffers it lives in (grown, never shrunk). */
struct sv_sparse {
    int rows, D;   /* shape of the X of the last sv_sparse_build */
    int used;      /* that X is stored here */
    int *cp;       /* column starts [D + 1] */
    int *nzc, n_nzc; /* the columns with a nonzero, ascending [n_nzc <= D] */
    int *cur;      /* while storing: each column's next nonzero's place [D] */
    int *ri;       /* row index of each nonzero, by column, rows ascending */
    float *cv;     /* its value */
    int *rp;       /* the same nonzeros by rows: row r's with d >= c SP_DC start at
                    * rp[r (nch + 1) + c], c <= nch; its end at rp[r (nch + 1) + nch] */
    int nch;       /* chunks of SP_DC columns: ceil(D / SP_DC) */
    int *rc;       /* column of each, columns ascending within a row */
    float *rv;     /* its value */
    size_t cp_cap, nz_cap, rp_cap; /* room of cp (nzc, cur), of ri, cv, rc and rv, and of rp */
};

void sv_sparse_free(sv_sparse *s) {
    if (!s) return;
    free(s->cp), free(s->nzc), free(s->cur), free(s->ri), free(s->cv);
    free(s->rp), free(s->rc), free(s->rv);
    free(s);
}

int sv_sparse_holds(const sv_sparse *s) { return s && s->used; }

void sv_sparse_forget(sv_sparse *s) {
    if (s) s->used = 0;
}

/* Room for D + 1 column starts (and D nonempty columns and cursors), `starts` row-chunk
 * starts (rp) and cap nonzeros; 0 if memory ran out (nothing lost: the caller takes the dense
 * path). */
static int reserve(sv_sparse *s, size_t cols, size_t starts, size_t cap) {
    if (cols > s->cp_cap) {
        int *cp = sv_malloc(cols * sizeof *cp), *nzc = sv_malloc(cols * sizeof *nzc);
        int *cur = sv_malloc(cols * sizeof *cur);
        if (!cp || !nzc || !cur) {
            free(cp), free(nzc), free(cur);
            return 0;
        }
        free(s->cp), free(s->nzc), free(s->cur);
        s->cp = cp, s->nzc = nzc, s->cur = cur, s->cp_cap = cols;
    }
    if (starts > s->rp_cap) {
        int *rp = sv_malloc(starts * sizeof *rp);
        if (!rp) return 0;
        free(s->rp);
        s->rp = rp, s->rp_cap = starts;
    }
    if (cap > s->nz_cap) {
        int *ri = sv_malloc(cap * sizeof *ri), *rc = sv_malloc(cap * sizeof *rc);
        float *cv = sv_malloc(cap * sizeof *cv), *rv = sv_malloc(cap * sizeof *rv);
        if (!ri || !cv || !rc || !rv) {
            free(ri), free(cv), free(rc), free(rv);
            return 0;
        }
        free(s->ri), free(s->cv), free(s->rc), free(s->rv);
        s->ri = ri, s->cv = cv, s->rc = rc, s->rv = rv, s->nz_cap = cap;
    }
    return 1;
}

/* The build runs over the chunks of SP_DC columns on the library's threads (serial it was
 * 2% of a bf16 train step at H = 512: three builds of 160 rows a step). A count pass gives
 * every column its count and every row its count per chunk; from their running sums each
 * chunk fills its own columns' nonzeros (rows ascending) and its own piece of every row
 * (columns ascending), so the arrays are what one pass over the rows makes, whatever the
 * thread count. (Blocks of rows instead shared every column's few nonzeros -- the same cache
 * lines -- between the threads, and were slower than one thread.) */
typedef struct build_job {
    sv_sparse *s;
    const float *X;
    int rows, D;
} build_job;

SV_VECTOR_CLONES
static void build_count(void *ctx, int ch0, int ch1) {
    const build_job *j = ctx;
    sv_sparse *s = j->s;
    const int D = j->D, nch = s->nch, rows = j->rows; /* locals: the stores below cannot
                                                        * change them (the loops vectorise) */
    int *restrict c = s->cp + 1, *restrict rp = s->rp;
    for (int ch = ch0; ch < ch1; ch++) {
        const int d0 = ch * SP_DC, d1 = D - d0 < SP_DC ? D : d0 + SP_DC;
        memset(c + d0, 0, (size_t)(d1 - d0) * sizeof *c);
        for (int r = 0; r < rows; r++) {
            const float *restrict x = j->X + (size_t)r * D;
            int n = 0;
            for (int d = d0; d < d1; d++) {
                const int nz = x[d] != 0.0f;
                c[d] += nz, n += nz;
            }
            rp[(size_t)r * (nch + 1) + ch] = n;
        }
    }
}

static void build_fill(void *ctx, int ch0, int ch1) {
    const build_job *j = ctx;
    sv_sparse *s = j->s;
    const int D = j->D, nch = s->nch;
    for (int ch = ch0; ch < ch1; ch++) {
        const int d0 = ch * SP_DC, d1 = D - d0 < SP_DC ? D : d0 + SP_DC;
        for (int r = 0; r < j->rows; r++) {
            const float *x = j->X + (size_t)r * D;
            int n = s->rp[(size_t)r * (nch + 1) + ch];
            for (int d = d0; d < d1; d += 8) {
                const int e = d1 - d < 8 ? d1 : d + 8;
                if (e == d + 8) { /* most runs of 8 pixels are dark: one test for them */
                    uint32_t u[8], any = 0;
                    memcpy(u, x + d, sizeof u);
                    for (int i = 0; i < 8; i++) any |= u[i] << 1; /* -0.0f is zero too */
                    if (!any) continue;
                }
                for (int k = d; k < e; k++)
                    if (x[k] != 0.0f) {
                        int at = s->cur[k]++;
                        s->ri[at] = r, s->cv[at] = x[k];
                        s->rc[n] = k, s->rv[n++] = x[k];
                    }
            }
        }
    }
}

int sv_sparse_build(sv_sparse **sp, const float *X, int rows, int D, int all_rows) {
    sv_sparse *s = *sp;
    if (!s && !(s = *sp = sv_calloc(1, sizeof *s))) return 0;
    s->used = 0;
    /* At most 1/SV_SPARSE_DENSITY of X nonzero, or the BLAS path is faster. */
    size_t cap = (size_t)all_rows * (size_t)D / SV_SPARSE_DENSITY + 1;
    const int nch = (D + SP_DC - 1) / SP_DC;
    if (cap > INT_MAX || !reserve(s, (size_t)D + 1, (size_t)rows * (nch + 1), 0)) return 0;
    build_job j = {s, X, rows, D};
    s->nch = nch;
    /* one thread for a few rows (a frame at a time): not worth waking the others */
    if (rows >= 16) sv_parallel_for(nch, build_count, &j);
    else build_count(&j, 0, nch);
    long long nnz = 0; /* int values below: checked against cap (<= INT_MAX) before use */
    s->cp[0] = 0;
    for (int d = 1; d <= D; d++) s->cp[d] = (int)(nnz += s->cp[d]);
    for (int r = 0, n = 0; r < rows && nnz <= (long long)cap; r++) {
        int *rp = s->rp + (size_t)r * (nch + 1);
        for (int ch = 0; ch < nch; ch++) {
            const int here = rp[ch];
            rp[ch] = n, n += here;
        }
        rp[nch] = n;
    }
    if (nnz > (long long)cap || !reserve(s, (size_t)D + 1, (size_t)rows * (nch + 1), cap))
        return 0; /* too dense (the BLAS path is faster), or no memory */
    memcpy(s->cur, s->cp, (size_t)D * sizeof *s->cur);
    if (rows >= 16) sv_parallel_for(nch, build_fill, &j);
    else build_fill(&j, 0, nch);
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

/* Forward for many rows (SP_ROWS_MIN or more), row by row: A[r, c0 .. c0 + 64) stays in
 * registers (8 vectors) while row r's nonzeros, columns ascending, add v W[d, c0 ..] -- the
 * terms of each A[r, c] in the same order as the column walk above, so the same bits,
 * without a load and a store of A per term. W's rows are 4H floats apart, a multiple of 4
 * KiB at the usual sizes, so the pieces of one column range all fall into the same few sets
 * of L1 and L2, which then hold a handful of them: the pieces of a chunk of SP_DC rows of W
 * are first copied next to each other (64 KiB; widened there from bf16), and every row's
 * nonzeros in that chunk are read from the copy. Measured (bench/sparse_products, Zen 4, 2
 * threads, 160 x 4096 x 2048, 5.8% nonzero): 4.8 ms for the column walk, 3.6-3.9 for this
 * walk with 32 columns and two rows at a time, 2.9-3.0 with 64 columns and one row. */
static inline __attribute__((always_inline)) void sp_rows_step(v8f *acc, const float *w,
                                                               float v, const int nv) {
    for (int i = 0; i < nv; i++) acc[i] += v * ((const v8u *)w)[i]; /* w: aligned or not */
}

static inline __attribute__((always_inline)) void sp_rows_body(const sp_job *j, int u0, int u1,
                                                               float *cw, const int bf16) {
    enum { NV = SP_RW / 8 };
    const sv_sparse *s = j->s;
    const int nch = s->nch;
    for (int u = u0; u < u1; u++) {
        const int c0 = u * SP_RW;
        if (j->N - c0 < SP_RW) { /* the last, narrower columns: the column walk (its units
                                   * are j->width = SP_RW columns too) */
            sp_forward_body(j, u, u + 1, bf16);
            continue;
        }
        int q = 0; /* the nonempty columns (s->nzc) copied so far */
        for (int ch = 0; ch < nch; ch++) {
            const int d0 = ch * SP_DC, d1 = s->D - d0 < SP_DC ? s->D : d0 + SP_DC;
            for (; q < s->n_nzc && s->nzc[q] < d1; q++) { /* only the rows of W used */
                const int d = s->nzc[q];
                const size_t at = (size_t)d * j->N + c0;
                if (q + 8 < s->n_nzc) { /* 4H floats apart: too far for the hardware to guess */
                    const size_t ah = (size_t)s->nzc[q + 8] * j->N + c0;
                    for (int c = 0; c < SP_RW; c += bf16 ? 32 : 16) {
                        if (bf16) __builtin_prefetch(j->W16 + ah + c);
                        else __builtin_prefetch(j->W + ah + c);
                    }
                }
                v8f *dst = (v8f *)(cw + (size_t)(d - d0) * SP_RW);
                for (int i = 0; i < NV; i++) {
                    if (bf16) sv_bf16_widen8(j->W16 + at + 8 * i, &dst[i]);
                    else dst[i] = ((const v8u *)(j->W + at))[i];
                }
            }
            const float *cb = cw - (size_t)d0 * SP_RW; /* cb + d SP_RW: W[d, c0 ..] */
            for (int r = 0; r < j->rows; r++) {
                const int *q0 = s->rp + (size_t)r * (nch + 1) + ch;
                const int e0 = q0[1];
                int i0 = q0[0];
                if (i0 == e0) continue;
                v8u *o0 = (v8u *)(j->out + (size_t)r * j->lda + c0);
                v8f a0[NV];
                for (int i = 0; i < NV; i++) a0[i] = o0[i];
                for (; i0 < e0; i0++)
                    sp_rows_step(a0, cb + (size_t)s->rc[i0] * SP_RW, s->rv[i0], NV);
                for (int i = 0; i < NV; i++) o0[i] = a0[i];
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

SV_VECTOR_CLONES
static void sp_forward_rows(void *ctx, int b0, int b1) {
    const sp_job *j = ctx;
    float *cw = sv_aligned_alloc(64, SP_DC * SP_RW * sizeof *cw); /* the chunk's copy */
    if (!cw) /* no memory for it: the column walk, the same sums */
        sp_forward_body(j, b0, b1, j->W16 != NULL);
    else if (j->W16)
        sp_rows_body(j, b0, b1, cw, 1);
    else
        sp_rows_body(j, b0, b1, cw, 0);
    free(cw);
}

/* Weight gradient: dW[d, blk] = Σ_k v_k dA[r_k, blk] over column d's nonzeros; the sum
 * stays in registers and every dW row is written once (zeros where the column is empty).
 * The block's column of dA is first copied into `g`, its rows next to each other (rows x 128
 * bytes, read again for every column d, in whatever order of rows d's nonzeros come): read
 * from dA itself, whose rows are 4H + 16 floats apart in lstm.c's gates, it took 1.3-1.5x
 * longer (bench/sparse_products, Zen 4). Two columns d at a time: 8 independent sums. */
static inline __attribute__((always_inline)) void sp_grad_block(const sp_job *j, int c0,
                                                                const float *g, int ldg) {
    const sv_sparse *s = j->s;
    for (int d = 0; d < j->D; d += 2) {
        const int two = d + 1 < j->D;
        v8f a0[4] = {{0}}, a1[4] = {{0}};
        int k0 = s->cp[d], k1 = two ? s->cp[d + 1] : 0;
        const int e0 = s->cp[d + 1], e1 = two ? s->cp[d + 2] : 0;
        for (; k0 < e0 && k1 < e1; k0++, k1++) {
            sp_rows_step(a0, g + (size_t)s->ri[k0] * ldg, s->cv[k0], 4);
            sp_rows_step(a1, g + (size_t)s->ri[k1] * ldg, s->cv[k1], 4);
        }
        for (; k0 < e0; k0++) sp_rows_step(a0, g + (size_t)s->ri[k0] * ldg, s->cv[k0], 4);
        for (; k1 < e1; k1++) sp_rows_step(a1, g + (size_t)s->ri[k1] * ldg, s->cv[k1], 4);
        v8u *o0 = (v8u *)(j->out + (size_t)d * j->N + c0);
        for (int i = 0; i < 4; i++) o0[i] = a0[i];
        if (two)
            for (int i = 0; i < 4; i++) ((v8u *)((float *)o0 + j->N))[i] = a1[i];
    }
}

SV_VECTOR_CLONES
static void sp_backward_blocks(void *ctx, int b0, int b1) {
    const sp_job *j = ctx;
    const sv_sparse *s = j->s;
    float *g = sv_aligned_alloc(64, (size_t)s->rows * SP_BLOCK * sizeof *g);
    for (int blk = b0; blk < b1; blk++) {
        int c0 = blk * SP_BLOCK, w = j->N - c0 < SP_BLOCK ? j->N - c0 : SP_BLOCK;
        if (w == SP_BLOCK && g) {
            for (int r = 0; r < s->rows; r++)
                for (int i = 0; i < 4; i++)
                    ((v8f *)(g + (size_t)r * SP_BLOCK))[i] =
                        ((const v8u *)(j->G + (size_t)r * j->lda + c0))[i];
            sp_grad_block(j, c0, g, SP_BLOCK);
        } else if (w == SP_BLOCK) { /* no memory for the copy: from dA itself */
            sp_grad_block(j, c0, j->G + c0, j->lda);
        } else {
            for (int d = 0; d < j->D; d++) {
                float *o = j->out + (size_t)d * j->N + c0;
                for (int c = 0; c < w; c++) o[c] = 0.0f;
                for (int k = s->cp[d]; k < s->cp[d + 1]; k++) {
                    const float *gr = j->G + (size_t)s->ri[k] * j->lda + c0;
                    for (int c = 0; c < w; c++) o[c] += s->cv[k] * gr[c];
                }
            }
        }
    }
    free(g);
}

void sv_sparse_forward(const sv_sparse *s, int N, const float *W, const uint16_t *W16, float *A,
                       int lda) {
    if (s->rows >= SP_ROWS_MIN) {
        sp_job j = {s, s->rows, s->D, N, lda, W, W16, NULL, A, SP_RW};
        sv_parallel_for((N + SP_RW - 1) / SP_RW, sp_forward_rows, &j);
        return;
    }
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
