/* gemm_chunks.h -- private: how a backend cuts a product into pieces whose results do not
 * depend on the thread count (include/seqvid.h, "Determinism"; issue 14 item 9).
 *
 * A product's output C [M x N] is cut into chunks whose count and widths depend on the shape
 * only; each chunk is ONE single-threaded product, and the chunks are spread over the
 * library's own threads (sv_parallel_for). Every output element is then computed by the same
 * call in the same order whatever the count. Used by the CBLAS backend for every product
 * (OpenBLAS's own threading splits each shape differently per thread count) and by the
 * oneDNN backend where its kernels would split the inner dimension (gemm_onednn.c).
 *
 * Chunking: along N (columns) when M <= N, else along M (rows), so that each chunk re-reads
 * (and the kernel re-packs) the smaller operand only; about one chunk per SV_CHUNK_FLOPS of
 * work, at most SV_MAX_CHUNKS, no narrower than SV_MIN_WIDTH, widths rounded up to SV_ALIGN
 * elements (whole kernel tiles). A product below SV_CHUNK_FLOPS is one call. */
#ifndef SV_GEMM_CHUNKS_H
#define SV_GEMM_CHUNKS_H
#include <stddef.h>

#define SV_CHUNK_FLOPS (1L << 22) /* ~50 µs of one core: far above a thread's start-up */
#define SV_MAX_CHUNKS 16
#define SV_MIN_WIDTH 128 /* each chunk re-packs the other operand: a 1/(2 MIN_WIDTH) overhead */
#define SV_ALIGN 16

/* Chunks of an extent `dim` for `flops` of work: their count and width (a multiple of
 * SV_ALIGN unless there is one chunk). A function of the shape only. */
static inline int sv_plan_chunks(int dim, double flops, int *width) {
    double want = flops / (double)SV_CHUNK_FLOPS;
    if (want > dim / SV_MIN_WIDTH) want = dim / SV_MIN_WIDTH;
    int n = want < 1 ? 1 : want > SV_MAX_CHUNKS ? SV_MAX_CHUNKS : (int)want;
    int w = (dim + n - 1) / n;
    w = (w + SV_ALIGN - 1) / SV_ALIGN * SV_ALIGN;
    if (w >= dim) w = dim;
    *width = w;
    return (dim + w - 1) / w;
}

/* One product C = alpha op(A) op(B) + beta C (blas.h's arguments) and its chunking. */
typedef struct sv_gemm_job {
    int ta, tb, M, N, K, lda, ldb, ldc, width, by_cols;
    float alpha, beta;
    const float *A, *B;
    float *C;
} sv_gemm_job;

/* The job for a product, planned: returns the number of chunks. */
static inline int sv_gemm_plan(sv_gemm_job *j, int ta, int tb, int M, int N, int K,
                               float alpha, const float *A, int lda, const float *B, int ldb,
                               float beta, float *C, int ldc) {
    *j = (sv_gemm_job){ta, tb, M, N, K, lda, ldb, ldc, 0, M <= N, alpha, beta, A, B, C};
    return sv_plan_chunks(j->by_cols ? N : M, 2.0 * M * N * (K > 0 ? K : 1), &j->width);
}

/* Chunk c of the job as a product of its own: *sub has the job's arguments with M or N the
 * chunk's extent and A, B, C moved to its first row or column. */
static inline void sv_gemm_chunk(const sv_gemm_job *j, int c, sv_gemm_job *sub) {
    int lo = c * j->width, ext = (j->by_cols ? j->N : j->M) - lo;
    if (ext > j->width) ext = j->width;
    *sub = *j;
    if (j->by_cols) { /* columns [lo, lo+ext) of C and of op(B) */
        sub->N = ext;
        sub->B += j->tb ? (size_t)lo * j->ldb : (size_t)lo;
        sub->C += lo;
    } else { /* rows [lo, lo+ext) of C and of op(A) */
        sub->M = ext;
        sub->A += j->ta ? (size_t)lo : (size_t)lo * j->lda;
        sub->C += (size_t)lo * j->ldc;
    }
}

#endif
