/* packed.c -- products C = A B + beta C of a few rows on weights stored as
 * SEQVID_WEIGHTS_F32_PACKED (packed.h), on a register-tile kernel over B packed into panels.
 *
 * Layout: op(B) [K x N] is cut into panels of PK_COLS = 16 columns, each stored k-major,
 *   P[p][k][c] = op(B)[k, 16 p + c],   the last panel padded with zeros,
 * so the kernel reads each panel as one contiguous stream. op(B) is B, or B^T (B stored
 * N x K: the backward pass's dH = dG W_h^T): the kernel is the same, only the packing reads
 * B another way, and each way keeps a copy of its own.
 *
 * Kernel: register tiles of PK_TR = 6 rows x 16 columns (12 vectors of 8 sums; AVX2 has 16
 * registers), over k in blocks: a block of a panel stays in L1 while every row tile of A
 * passes over it. Each element is
 *   C[m, n] = (...((beta C[m, n]) + A[m,0] B[0,n]) + A[m,1] B[1,n]) ... + A[m,K-1] B[K-1,n],
 * in that order, by one thread (C holds the float32 sums between blocks of k, exactly): the
 * bits depend on the shape only, whatever the blocking, the thread count or where the panels
 * come from.
 *
 * Where the panels come from: the copy kept for B (packed once per weight version and kept
 * with its registered range until the range goes: one per matrix and way of reading it, so
 * products taking turns cannot evict each other); without memory for it, blocks packed by
 * the call into per-thread scratch just before use (each row of B read contiguously, as
 * OpenBLAS packs); without memory for that, one panel block at a time on the stack.
 * Measured on a 2-core Zen 3 (AVX2), 2 threads, 16 x 512 x 2048: 180 GFLOP/s from the kept
 * copy against OpenBLAS's 113 with its per-call packing, and 96 packed per call; the
 * transposed 16 x 2048 x 512 of the backward, 182 against 111 (docs/performance.md,
 * "Weights packed once"). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "blas.h" /* sv_blas_get_threads */
#include "fastmath.h" /* SV_VECTOR_CLONES */
#include "gemm_chunks.h"
#include "packed.h"
#include "parallel.h"

#define PK_COLS 16
#define PK_TR 6
#define PK_TK 256
#define PK_NB 1024        /* columns of a block packed by a call, at most: 4 KiB of a row */
#define PK_SCRATCH 65536  /* floats of such a block (256 KiB, in L2) */

typedef float v8f __attribute__((vector_size(32)));

/* ---- packing ---------------------------------------------------------------------------- */
/* Rows [k0, k0 + kn) x columns [n0, n1) of op(B) as panels of 16 columns (n0 a multiple of
 * 16): panel q's row k at dst + q * stride + 16 k. B is read along its rows: op(B)'s rows
 * when tb = 0, its columns (B's rows, contiguous in k) when tb = 1. */
static void pack_block(const float *B, int ldb, int tb, int k0, int kn, int n0, int n1,
                       float *dst, size_t stride) {
    const int panels = (n1 - n0 + PK_COLS - 1) / PK_COLS, pad = panels * PK_COLS - (n1 - n0);
    if (tb) { /* op(B)[k, n] = B[n, k]: each row of B read along k, 64 k at a time so that
               * the 4 KiB of panel they fill stays in L1 (B's rows are a multiple of 4 KiB
               * apart at the usual sizes: reading 16 of them in step would thrash L1's sets) */
        for (int q = 0; q < panels; q++) {
            const int w = q < panels - 1 || !pad ? PK_COLS : PK_COLS - pad;
            const float *s = B + (size_t)(n0 + q * PK_COLS) * ldb + k0;
            float *d = dst + q * stride;
            for (int kb = 0; kb < kn; kb += 64) {
                const int ke = kn - kb < 64 ? kn : kb + 64;
                for (int c = 0; c < PK_COLS; c++)
                    for (int k = kb; k < ke; k++)
                        d[(size_t)k * PK_COLS + c] = c < w ? s[(size_t)c * ldb + k] : 0.0f;
            }
        }
        return;
    }
    for (int k = 0; k < kn; k++) {
        const float *s = B + (size_t)(k0 + k) * ldb + n0;
        for (int q = 0; q < panels - (pad > 0); q++) /* whole panels: two vectors */
            memcpy(dst + q * stride + (size_t)k * PK_COLS, s + q * PK_COLS, PK_COLS * sizeof *dst);
        if (pad) {
            float *d = dst + (panels - 1) * stride + (size_t)k * PK_COLS;
            for (int c = 0; c < PK_COLS; c++)
                d[c] = c < PK_COLS - pad ? s[(panels - 1) * PK_COLS + c] : 0.0f;
        }
    }
}

typedef struct pack_job {
    const float *B;
    int K, N, ldb, tb;
    float *dst;
} pack_job;

/* Whole copies, in column blocks of PK_NB (a thread's share of the copy). */
SV_VECTOR_CLONES
static void pack_blocks(void *ctx, int b0, int b1) {
    const pack_job *j = ctx;
    for (int b = b0; b < b1; b++) {
        const int n0 = b * PK_NB, n1 = j->N - n0 < PK_NB ? j->N : n0 + PK_NB;
        pack_block(j->B, j->ldb, j->tb, 0, j->K, n0, n1,
                   j->dst + (size_t)(n0 / PK_COLS) * j->K * PK_COLS, (size_t)j->K * PK_COLS);
    }
}

/* ---- the kernel ------------------------------------------------------------------------- */
typedef struct pk_job {
    int M, N, K, lda, ldc, ldb, tb, width, kb; /* tb: op(B) = B^T; kb: rows of op(B) a
                                                * scratch block holds */
    float beta;
    const float *A, *B;
    const float *P; /* the kept copy, or NULL: the call packs into scratch */
    float *C;
} pk_job;

/* Rows [m0, m0 + rows) x columns [n0, n0 + w) of C, over the kn rows of k from k0 whose
 * panel rows start at b. */
static inline __attribute__((always_inline)) void tile(const pk_job *j, const float *b, int m0,
                                                       const int rows, int n0, int w, int k0,
                                                       int kn) {
    v8f acc[PK_TR][2];
    for (int r = 0; r < rows; r++) {
        float t[PK_COLS] = {0};
        const float *c = j->C + (size_t)(m0 + r) * j->ldc + n0;
        if (k0 > 0 || j->beta != 0.0f) { /* beta 0: C's old values are not read (may be NaN) */
            if (w == PK_COLS) memcpy(t, c, sizeof t); /* constant size: two vector loads */
            else memcpy(t, c, (size_t)w * sizeof *t);
            if (k0 == 0 && j->beta != 1.0f)
                for (int x = 0; x < PK_COLS; x++) t[x] *= j->beta;
        }
        memcpy(&acc[r][0], t, sizeof acc[r][0]);
        memcpy(&acc[r][1], t + 8, sizeof acc[r][1]);
    }
    const float *a = j->A + (size_t)m0 * j->lda + k0;
    for (int k = 0; k < kn; k++, b += PK_COLS) {
        v8f x0, x1;
        memcpy(&x0, b, sizeof x0);
        memcpy(&x1, b + 8, sizeof x1);
        for (int r = 0; r < rows; r++) {
            const float v = a[(size_t)r * j->lda + k];
            acc[r][0] += v * x0;
            acc[r][1] += v * x1;
        }
    }
    for (int r = 0; r < rows; r++) {
        float t[PK_COLS];
        memcpy(t, &acc[r][0], sizeof acc[r][0]);
        memcpy(t + 8, &acc[r][1], sizeof acc[r][1]);
        float *c = j->C + (size_t)(m0 + r) * j->ldc + n0;
        if (w == PK_COLS) memcpy(c, t, sizeof t);
        else memcpy(c, t, (size_t)w * sizeof *t);
    }
}

/* Every row of C x one panel's columns [n0, n0 + w), over one block of k. */
static inline __attribute__((always_inline)) void panel_block(const pk_job *j, const float *b,
                                                              int n0, int w, int k0, int kn) {
    int m0 = 0;
    for (; m0 + PK_TR <= j->M; m0 += PK_TR) tile(j, b, m0, PK_TR, n0, w, k0, kn);
    switch (j->M - m0) {
    case 5: tile(j, b, m0, 5, n0, w, k0, kn); break;
    case 4: tile(j, b, m0, 4, n0, w, k0, kn); break;
    case 3: tile(j, b, m0, 3, n0, w, k0, kn); break;
    case 2: tile(j, b, m0, 2, n0, w, k0, kn); break;
    case 1: tile(j, b, m0, 1, n0, w, k0, kn); break;
    default: break;
    }
}

/* From the kept copy: units are the column chunks of gemm_chunks.h, panel by panel. */
SV_VECTOR_CLONES
static void pk_cached(void *ctx, int u0, int u1) {
    const pk_job *j = ctx;
    for (int u = u0; u < u1; u++) {
        const int c0 = u * j->width, c1 = j->N - c0 < j->width ? j->N : c0 + j->width;
        for (int n0 = c0; n0 < c1; n0 += PK_COLS) {
            const int w = c1 - n0 < PK_COLS ? c1 - n0 : PK_COLS;
            const float *p = j->P + (size_t)(n0 / PK_COLS) * j->K * PK_COLS;
            for (int k0 = 0; k0 < j->K; k0 += PK_TK) {
                const int kn = j->K - k0 < PK_TK ? j->K - k0 : PK_TK;
                panel_block(j, p + (size_t)k0 * PK_COLS, n0, w, k0, kn);
            }
        }
    }
}

/* Packed by the call: units are blocks of j->width columns (one per thread, up to PK_NB), a
 * block of j->kb rows of B at a time packed into scratch (PK_SCRATCH floats), each row of B
 * read contiguously along the block's columns. The blocking differs from pk_cached's, the
 * sums do not: C holds the float32 sums between blocks of k exactly. */
SV_VECTOR_CLONES
static void pk_scratch(void *ctx, int u0, int u1) {
    const pk_job *j = ctx;
    float *scratch = sv_aligned_alloc(64, PK_SCRATCH * sizeof(float));
    for (int u = u0; u < u1; u++) {
        const int b0 = u * j->width, b1 = j->N - b0 < j->width ? j->N : b0 + j->width;
        for (int k0 = 0; k0 < j->K; k0 += j->kb) {
            const int kn = j->K - k0 < j->kb ? j->K - k0 : j->kb;
            if (scratch) {
                pack_block(j->B, j->ldb, j->tb, k0, kn, b0, b1, scratch, (size_t)kn * PK_COLS);
                for (int n0 = b0; n0 < b1; n0 += PK_COLS)
                    panel_block(j, scratch + (size_t)(n0 - b0) / PK_COLS * kn * PK_COLS, n0,
                                b1 - n0 < PK_COLS ? b1 - n0 : PK_COLS, k0, kn);
            } else { /* no memory: one panel block at a time, on the stack */
                float one[PK_TK * PK_COLS];
                for (int n0 = b0; n0 < b1; n0 += PK_COLS)
                    for (int q0 = k0; q0 < k0 + kn; q0 += PK_TK) {
                        const int n1 = b1 - n0 < PK_COLS ? b1 : n0 + PK_COLS;
                        const int qn = k0 + kn - q0 < PK_TK ? k0 + kn - q0 : PK_TK;
                        pack_block(j->B, j->ldb, j->tb, q0, qn, n0, n1, one, 0);
                        panel_block(j, one, n0, n1 - n0, q0, qn);
                    }
            }
        }
    }
    free(scratch);
}

/* ---- registered ranges and their copies (under `lock`) --------------------------------- */
typedef struct sv_packed_copy {
    const float *src; /* B as the products name it */
    int K, N, ldb, tb;
    unsigned version;
    float *data; /* the panels */
    int users;   /* products reading it now */
    struct sv_packed_copy *next;
} pk_copy;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static sv_packed_range *ranges; /* a list through the owners' own nodes */
static int keep = 1;
static atomic_ulong n_packs, n_hits;

/* Free the copies of r that nobody reads (all of them, when the owner unregisters). */
static void drop_copies(sv_packed_range *r) {
    for (pk_copy **p = &r->copies; *p;) {
        pk_copy *c = *p;
        if (c->users) {
            p = &c->next;
            continue;
        }
        *p = c->next;
        free(c->data);
        free(c);
    }
}

void sv_packed_register(sv_packed_range *r, const float *base, size_t n, const unsigned *version) {
    pthread_mutex_lock(&lock);
    r->base = base, r->n = n, r->version = version, r->copies = NULL;
    r->next = ranges, ranges = r;
    pthread_mutex_unlock(&lock);
}

void sv_packed_unregister(sv_packed_range *r) {
    pthread_mutex_lock(&lock);
    for (sv_packed_range **p = &ranges; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            /* The owner frees or rewrites the weights next: no product may be reading them. */
            drop_copies(r);
            break;
        }
    r->base = NULL, r->next = NULL;
    pthread_mutex_unlock(&lock);
}

void sv_packed_keep(int on) {
    pthread_mutex_lock(&lock);
    keep = on;
    for (sv_packed_range *r = ranges; r && !on; r = r->next) drop_copies(r);
    pthread_mutex_unlock(&lock);
}

void sv_packed_counts(unsigned long *packs, unsigned long *hits) {
    *packs = atomic_load(&n_packs);
    *hits = atomic_load(&n_hits);
}

/* Under the lock: the registered range holding floats [p, p + len), or NULL. */
static sv_packed_range *find_range(const float *p, size_t len) {
    for (sv_packed_range *r = ranges; r; r = r->next)
        if (p >= r->base && p + len <= r->base + r->n) return r;
    return NULL;
}

static void pack_copy(float *dst, const float *B, int K, int N, int ldb, int tb) {
    pack_job pj = {B, K, N, ldb, tb, dst};
    sv_parallel_for((N + PK_NB - 1) / PK_NB, pack_blocks, &pj);
    atomic_fetch_add(&n_packs, 1);
}

/* The current copy of B with a user counted, or NULL (no memory, or another thread reads a
 * stale copy: pack per call). The packing runs under the lock: a model's weights are used
 * by one thread at a time (the library's objects are not shared between concurrent calls),
 * so nobody waits for it in practice. */
static pk_copy *copy_get(sv_packed_range *r, const float *B, int K, int N, int ldb, int tb) {
    if (!keep) return NULL;
    pk_copy *e = r->copies;
    while (e && !(e->src == B && e->K == K && e->N == N && e->ldb == ldb && e->tb == tb))
        e = e->next;
    if (e && e->version != *r->version) {
        if (e->users) return NULL;
        pack_copy(e->data, B, K, N, ldb, tb);
        e->version = *r->version;
    } else if (e) {
        atomic_fetch_add(&n_hits, 1);
    } else {
        const size_t panels = (size_t)(N + PK_COLS - 1) / PK_COLS;
        float *data = sv_aligned_alloc(64, (size_t)K * panels * PK_COLS * sizeof *data);
        if (!data || !(e = sv_malloc(sizeof *e))) {
            free(data);
            return NULL;
        }
        pack_copy(data, B, K, N, ldb, tb);
        *e = (pk_copy){B, K, N, ldb, tb, *r->version, data, 0, r->copies};
        r->copies = e;
    }
    e->users++;
    return e;
}

int sv_packed_gemm(int transa, int transb, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (transa || alpha != 1.0f || M < 1 || M > SV_PACKED_MAX_ROWS || N < 1 || K < 1) return 0;
    const int tb = transb != 0;
    /* B's floats: K rows of N (op(B) = B), or N rows of K (op(B) = B^T) */
    const size_t extent = tb ? (size_t)(N - 1) * ldb + K : (size_t)(K - 1) * ldb + N;
    pthread_mutex_lock(&lock);
    sv_packed_range *r = ranges ? find_range(B, extent) : NULL;
    pk_copy *e = r ? copy_get(r, B, K, N, ldb, tb) : NULL;
    pthread_mutex_unlock(&lock);
    if (!r) return 0;
    pk_job j = {M, N, K, lda, ldc, ldb, tb, 0, 0, beta, A, B, e ? e->data : NULL, C};
    if (e) {
        sv_parallel_for(sv_plan_chunks(N, 2.0 * M * N * K, &j.width), pk_cached, &j);
    } else { /* a block per thread, each row of it long enough to stream */
        int t = sv_blas_get_threads(), w = (N + t - 1) / t;
        w = (w + PK_COLS - 1) / PK_COLS * PK_COLS;
        j.width = w < PK_COLS ? PK_COLS : w > PK_NB ? PK_NB : w;
        j.kb = PK_SCRATCH / j.width;
        sv_parallel_for((N + j.width - 1) / j.width, pk_scratch, &j);
    }
    if (e) {
        pthread_mutex_lock(&lock);
        e->users--;
        pthread_mutex_unlock(&lock);
    }
    return 1;
}
