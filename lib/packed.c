/* packed.c -- products C = A B + beta C of a few rows on weights stored as
 * SEQVID_WEIGHTS_F32_PACKED (packed.h), on a register-tile kernel over B packed into panels.
 *
 * Layout: op(B) [K x N] is cut into panels of PK_COLS = 16 columns, each stored k-major,
 *   P[p][k][c] = op(B)[k, 16 p + c],   the last panel padded with zeros,
 * so the kernel reads each panel as one contiguous stream. op(B) is B, or B^T (B stored
 * N x K: the backward pass's dH = dG W_h^T): the kernel is the same, only the packing reads
 * B another way (into the same buffer: ONE BUFFER A MATRIX, at copy_get).
 *
 * Kernel: register tiles of PK_TR = 6 rows x 16 columns (12 vectors of 8 sums; AVX2 has 16
 * registers), over k in blocks: a block of a panel stays in L1 while every row tile of A
 * passes over it. Each element is
 *   C[m, n] = (...((beta C[m, n]) + A[m,0] B[0,n]) + A[m,1] B[1,n]) ... + A[m,K-1] B[K-1,n],
 * in that order, by one thread (C holds the float32 sums between blocks of k, exactly): the
 * bits depend on the shape only, whatever the blocking, the thread count or where the panels
 * come from.
 *
 * Where the panels come from: the copy kept for B (packed once per weight version and way of
 * reading it, and kept with its registered range until the range goes); without memory for
 * it, or while another product reads a stale copy, blocks packed by
 * the call into per-thread scratch just before use (each row of B read contiguously, as
 * OpenBLAS packs); without memory for that, one panel block at a time on the stack.
 * Measured on a 2-core Zen 3 (AVX2), 2 threads, 16 x 512 x 2048: 180 GFLOP/s from the kept
 * copy against OpenBLAS's 113 with its per-call packing, and 96 packed per call; the
 * transposed 16 x 2048 x 512 of the backward, 182 against 111 (docs/performance.md,
 * "Weights packed once").
 *
 * bf16 mode (the CBLAS backend's): the section "bf16 mode" below, the same registry with bf16
 * copies and a kernel of its own. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "bf16.h" /* rounding, sv_bf16_cpu */
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
    int K, N, ldb, tb, bf16;
    unsigned version;
    int turned; /* packed over from the other way while that way's copy was current: at
                 * version turned_at (copy_get) */
    unsigned turned_at;
    size_t bytes; /* data's size */
    void *data; /* the panels: floats, or bf16 pairs (bf16) */
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

static void reg(sv_packed_range *r, const float *base, size_t n, const unsigned *version,
                int f32) {
    pthread_mutex_lock(&lock);
    r->base = base, r->n = n, r->version = version, r->copies = NULL, r->f32 = f32;
    r->next = ranges, ranges = r;
    pthread_mutex_unlock(&lock);
}

void sv_packed_register(sv_packed_range *r, const float *base, size_t n, const unsigned *version) {
    reg(r, base, n, version, 1);
}

void sv_packed_register_bf16(sv_packed_range *r, const float *base, size_t n,
                             const unsigned *version) {
    reg(r, base, n, version, 0);
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

size_t sv_packed_bytes(void) {
    size_t n = 0;
    pthread_mutex_lock(&lock);
    for (sv_packed_range *r = ranges; r; r = r->next)
        for (pk_copy *c = r->copies; c; c = c->next) n += c->bytes;
    pthread_mutex_unlock(&lock);
    return n;
}

/* Under the lock: the registered range holding floats [p, p + len), or NULL. */
static sv_packed_range *find_range(const float *p, size_t len) {
    for (sv_packed_range *r = ranges; r; r = r->next)
        if (p >= r->base && p + len <= r->base + r->n) return r;
    return NULL;
}

static void pack_bf16_copy(uint32_t *dst, const float *B, int K, int N, int ldb, int tb);
static size_t bf16_copy_words(int K, int N);

static void pack_copy(void *dst, const float *B, int K, int N, int ldb, int tb, int bf16) {
    if (bf16) {
        pack_bf16_copy(dst, B, K, N, ldb, tb);
    } else {
        pack_job pj = {B, K, N, ldb, tb, dst};
        sv_parallel_for((N + PK_NB - 1) / PK_NB, pack_blocks, &pj);
    }
    atomic_fetch_add(&n_packs, 1);
}

static size_t copy_bytes(int K, int N, int bf16) {
    return bf16 ? bf16_copy_words(K, N) * sizeof(uint32_t)
                : (size_t)K * ((N + PK_COLS - 1) / PK_COLS) * PK_COLS * sizeof(float);
}

/* The current copy of B with a user counted, or NULL (no memory, or another thread reads a
 * stale copy: pack per call). The packing runs under the lock: a model's weights are used
 * by one thread at a time (the library's objects are not shared between concurrent calls),
 * so nobody waits for it in practice.
 *
 * ONE BUFFER A MATRIX: a matrix is read one way in a forward pass (W) and the other in a
 * backward pass (W^T), each once per weight version in training. The copy of the other way,
 * when nobody reads it and it is as large, is packed over in place rather than kept beside:
 * the packing is the same (each way is packed once per version either way), and a training
 * step holds one copy of each matrix instead of two (at H = 2048 in bf16 mode 128 MB less,
 * docs/performance.md). A caller that alternates the two ways within one version (gradients
 * of several micro-batches before an optimizer step, or an evaluation between the gradients
 * and the step) would pack on every turn: the second turn within a version is seen (the
 * copy was turned while current, at this version) and the matrix gets a copy per way from
 * then on, as before -- one extra packing, once. */
static pk_copy *copy_get(sv_packed_range *r, const float *B, int K, int N, int ldb, int tb,
                         int bf16) {
    if (!keep) return NULL;
    const size_t bytes = copy_bytes(K, N, bf16);
    pk_copy *e = r->copies, *other = NULL;
    for (; e; e = e->next) {
        if (e->src != B || e->bf16 != bf16 || e->ldb != ldb) continue;
        if (e->K == K && e->N == N && e->tb == tb) break;
        if (e->tb != tb && !e->users && e->bytes == bytes) other = e;
    }
    if (other && other->turned && other->turned_at == *r->version &&
        other->version == *r->version)
        other = NULL; /* turned back within one version: a copy per way (above) */
    if (!e && other) { /* the other way's copy: packed over below */
        e = other;
        e->turned = e->version == *r->version, e->turned_at = *r->version;
        e->K = K, e->N = N, e->tb = tb;
        e->version = *r->version + 1; /* stale whatever it held */
    }
    if (e && e->version != *r->version) {
        if (e->users) return NULL;
        pack_copy(e->data, B, K, N, ldb, tb, bf16);
        e->version = *r->version;
    } else if (e) {
        atomic_fetch_add(&n_hits, 1);
    } else {
        void *data = sv_aligned_alloc(64, bytes);
        if (!data || !(e = sv_malloc(sizeof *e))) {
            free(data);
            return NULL;
        }
        pack_copy(data, B, K, N, ldb, tb, bf16);
        *e = (pk_copy){B, K, N, ldb, tb, bf16, *r->version, 0, 0, bytes, data, 0, r->copies};
        r->copies = e;
    }
    e->users++;
    return e;
}

/* The range registered for op(B) that takes this kind of product (a range registered for
 * bf16 only does not take float32 ones), or NULL; *e: its current copy of B, float32 or bf16,
 * with a user counted, or NULL (no memory, or a stale copy being read: pack per call). */
static sv_packed_range *acquire(const float *B, int K, int N, int ldb, int tb, int bf16,
                                pk_copy **e) {
    /* B's floats: K rows of N (op(B) = B), or N rows of K (op(B) = B^T) */
    const size_t extent = tb ? (size_t)(N - 1) * ldb + K : (size_t)(K - 1) * ldb + N;
    pthread_mutex_lock(&lock);
    sv_packed_range *r = ranges ? find_range(B, extent) : NULL;
    if (r && !bf16 && !r->f32) r = NULL;
    *e = r ? copy_get(r, B, K, N, ldb, tb, bf16) : NULL;
    pthread_mutex_unlock(&lock);
    return r;
}

static void release(pk_copy *e) {
    if (!e) return;
    pthread_mutex_lock(&lock);
    e->users--;
    pthread_mutex_unlock(&lock);
}

int sv_packed_gemm(int transa, int transb, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (transa || alpha != 1.0f || M < 1 || M > SV_PACKED_MAX_ROWS || N < 1 || K < 1) return 0;
    const int tb = transb != 0;
    pk_copy *e;
    if (!acquire(B, K, N, ldb, tb, 0, &e)) return 0;
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
    release(e);
    return 1;
}

/* ---- bf16 mode -------------------------------------------------------------------------
 * A bf16 copy holds op(B) [K x N] in panels of PB_COLS = 32 columns with k in pairs, one
 * 32-bit word per column and pair:
 *   W[q][i][c] = bf16(op(B)[2i, 32q + c]) | bf16(op(B)[2i + 1, 32q + c]) << 16,
 * K padded with a zero row to even, the last panel with zero columns. A is rounded per call
 * into rows of such pairs (KP = ceil(K/2) words a row). AVX512-BF16's vdpbf16ps multiplies
 * one word of A, broadcast, by 16 words of a panel row and adds both products of each pair
 * into 16 float32 sums. Tiles of PB_TR = 4 rows x 32 columns (8 sums in registers) over
 * blocks of PB_TKP pairs of k (16 KiB of a panel, in L1) while the row tiles of A pass:
 * measured on a Zen 4 core, 4 x 32 ran 190-214 GFLOP/s on the model's shapes against 6 x 32's
 * 187-209 and 8 x 32's 169-192 (bf16 peak 234; OpenBLAS's float32 sgemm ran 81-107 there).
 * Between blocks C holds the float32 sums: the order of a sum is that of k, whatever the
 * blocking or the thread count. */
#define PB_COLS 32
#define PB_TR 4
#define PB_TKP 128
#define PB_NB 1024 /* columns of a unit of the copy's packing */
#define PB_PKI 8     /* pairs of k per panel written in one pass of op(B) = B's packing */

static inline uint32_t bf16_pair(float lo, float hi) {
    return (uint32_t)sv_bf16_from_float(lo) | (uint32_t)sv_bf16_from_float(hi) << 16;
}

static size_t bf16_copy_words(int K, int N) {
    return (size_t)((K + 1) / 2) * (size_t)((N + PB_COLS - 1) / PB_COLS) * PB_COLS;
}

typedef struct pb_job {
    int M, N, K, kp, lda, ldc, width;
    size_t arow, apair; /* Ab's word strides: between rows of op(A), between pairs of k */
    float beta;
    const float *A;
    uint32_t *Ab; /* op(A) rounded into pairs */
    const uint32_t *P;
    float *C;
} pb_job;

/* Rows [16 u0, 16 u1) of A (those there are) into pairs: row m's at Ab + m KP. */
static void pb_round_rows(void *ctx, int u0, int u1) {
    const pb_job *j = ctx;
    const int half = j->K / 2, m1 = 16 * u1 < j->M ? 16 * u1 : j->M;
    for (int m = 16 * u0; m < m1; m++) {
        const float *a = j->A + (size_t)m * j->lda;
        uint32_t *o = j->Ab + (size_t)m * j->arow;
        for (int i = 0; i < half; i++) o[i] = bf16_pair(a[2 * i], a[2 * i + 1]);
        if (j->K & 1) o[half] = bf16_pair(a[j->K - 1], 0.0f);
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define PB_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

/* ---- the bf16 copy, packed with the instructions that read it ----
 * vcvtne2ps2bf16 rounds 32 floats to bf16 as sv_bf16_from_float does (to nearest, ties to
 * even), except that subnormal floats become zero -- as vdpbf16ps would take them anyway. */
typedef struct pb_pack_job {
    const float *B;
    int K, N, ldb, tb;
    uint32_t *dst;
    int width; /* columns of op(B) a unit: a multiple of PB_COLS, at most PB_NB */
} pb_pack_job;

/* 16 floats at p where mask m says, else 0, rounded and paired with 16 at p1 (NULL: 0):
 * word c = bf16(p[c]) | bf16(p1[c]) << 16. */
PB_TARGET static inline __m512i pb_pairs_of_rows(const float *p, const float *p1, __mmask16 m) {
    static const short inter[32] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
                                    8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
    const __m512 x0 = _mm512_maskz_loadu_ps(m, p);
    const __m512 x1 = p1 ? _mm512_maskz_loadu_ps(m, p1) : _mm512_setzero_ps();
    const __m512i h = (__m512i)_mm512_cvtne2ps_pbh(x1, x0); /* x0's 16, then x1's */
    return _mm512_permutexvar_epi16(_mm512_loadu_si512(inter), h);
}

/* Transpose 16 x 16 32-bit words in place (r[i] holds row i). */
PB_TARGET static inline void pb_transpose16(__m512i r[16]) {
    __m512i t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    /* r[4a + b] now holds in its 128-bit lane L column 4L + b of rows 4a..4a+3: a 4 x 4
     * transpose of lanes (two rounds of 128-bit shuffles) makes r[c] all of column c */
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0x88);      /* lanes 0, 2 of each */
        t[i + 4] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0xdd);  /* lanes 1, 3 */
        t[i + 8] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0xdd);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0xdd);
        r[i + 4] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0x88);
        r[i + 12] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0xdd);
    }
}

/* Columns [b * width, ...) of the copy. op(B) = B: rows 2i and 2i + 1 of B read along the
 * unit's columns and interleaved; op(B) = B^T: 16 of B's rows (columns of op(B)) read 32 k
 * at a time, rounded into 16 pairs each, and the 16 x 16 block of pairs transposed. */
PB_TARGET static void pb_pack_units(void *ctx, int b0, int b1) {
    const pb_pack_job *j = ctx;
    const int kp = (j->K + 1) / 2;
    for (int b = b0; b < b1; b++) {
        const int n0 = b * j->width, n1 = j->N - n0 < j->width ? j->N : n0 + j->width;
        if (!j->tb) { /* by blocks of PB_PKI pairs: B's rows read along, each panel written
                       * PB_PKI lines at a time (walking a panel down K read one line of a
                       * row in each 4 KiB page: 13 GB/s at K = 2048) */
            const int qe = (n1 + PB_COLS - 1) / PB_COLS * PB_COLS; /* zero columns too */
            for (int i0 = 0; i0 < kp; i0 += PB_PKI) {
                const int i1 = kp - i0 < PB_PKI ? kp : i0 + PB_PKI;
                for (int q0 = n0; q0 < qe; q0 += 16) {
                    const int w = n1 - q0 <= 0 ? 0 : n1 - q0 < 16 ? n1 - q0 : 16;
                    const __mmask16 m = (__mmask16)((1u << w) - 1);
                    uint32_t *d = j->dst + (size_t)(q0 / PB_COLS) * kp * PB_COLS + q0 % PB_COLS;
                    for (int i = i0; i < i1; i++) {
                        const float *r0 = j->B + (size_t)(2 * i) * j->ldb + q0;
                        _mm512_storeu_si512(d + (size_t)i * PB_COLS,
                                            pb_pairs_of_rows(r0, 2 * i + 1 < j->K ? r0 + j->ldb
                                                                                   : NULL, m));
                    }
                }
            }
            continue;
        }
        for (int q0 = n0; q0 < n1; q0 += PB_COLS) {
            const int w = n1 - q0 < PB_COLS ? n1 - q0 : PB_COLS;
            uint32_t *d = j->dst + (size_t)(q0 / PB_COLS) * kp * PB_COLS;
            for (int h = 0; h < 2; h++) { /* the panel's two halves of 16 columns */
                const int wh = w - 16 * h < 0 ? 0 : w - 16 * h > 16 ? 16 : w - 16 * h;
                for (int i0 = 0; i0 < kp; i0 += 16) {
                    const int k0 = 2 * i0, kn = j->K - k0 < 32 ? j->K - k0 : 32;
                    const __mmask16 lo = kn >= 16 ? 0xffff : (__mmask16)((1u << kn) - 1);
                    const __mmask16 hi = kn >= 32 ? 0xffff
                                         : kn > 16 ? (__mmask16)((1u << (kn - 16)) - 1) : 0;
                    __m512i r[16];
                    for (int c = 0; c < 16; c++) {
                        if (c >= wh) {
                            r[c] = _mm512_setzero_si512();
                            continue;
                        }
                        const float *s = j->B + (size_t)(q0 + 16 * h + c) * j->ldb + k0;
                        const __m512 x0 = _mm512_maskz_loadu_ps(lo, s);
                        const __m512 x1 = _mm512_maskz_loadu_ps(hi, s + 16);
                        r[c] = (__m512i)_mm512_cvtne2ps_pbh(x1, x0); /* pairs in order of k */
                    }
                    pb_transpose16(r);
                    const int in = kp - i0 < 16 ? kp - i0 : 16;
                    for (int i = 0; i < in; i++)
                        _mm512_storeu_si512(d + (size_t)(i0 + i) * PB_COLS + 16 * h, r[i]);
                }
            }
        }
    }
}

/* Units of PB_NB columns, narrower where that would leave a thread idle (N = 512 was one
 * unit: W_h^T at H = 512 packed on one core). The width does not change the copy. */
static void pack_bf16_copy(uint32_t *dst, const float *B, int K, int N, int ldb, int tb) {
    const int t = 2 * sv_blas_get_threads();
    int w = (N + t - 1) / t;
    w = (w + PB_COLS - 1) / PB_COLS * PB_COLS;
    pb_pack_job pj = {B, K, N, ldb, tb, dst, w > PB_NB ? PB_NB : w};
    sv_parallel_for((N + pj.width - 1) / pj.width, pb_pack_units, &pj);
}

/* op(A) = A^T (A stored K x M): pairs [16 u0, 16 u1) of k (those there are) from rows 2i and
 * 2i + 1 of A, 16 columns at a time: pair i of op(A)'s row m at Ab + i apair + m (apair: M
 * rounded up to 16; arow = 1). */
PB_TARGET static void pb_round_pairs(void *ctx, int u0, int u1) {
    const pb_job *j = ctx;
    const int i1 = 16 * u1 < j->kp ? 16 * u1 : j->kp;
    for (int i = 16 * u0; i < i1; i++) {
        const float *r0 = j->A + (size_t)(2 * i) * j->lda;
        const float *r1 = 2 * i + 1 < j->K ? r0 + j->lda : NULL;
        for (int m = 0; m < j->M; m += 16) {
            const int w = j->M - m < 16 ? j->M - m : 16;
            _mm512_storeu_si512(j->Ab + (size_t)i * j->apair + m,
                                pb_pairs_of_rows(r0 + m, r1 ? r1 + m : NULL,
                                                 (__mmask16)((1u << w) - 1)));
        }
    }
}

/* Rows [m0, m0 + rows) x columns [n0, n0 + w) of C, over pairs [i0, i0 + in) whose panel
 * rows start at b. */
PB_TARGET static inline __attribute__((always_inline)) void pb_tile(const pb_job *j,
                                                                     const uint32_t *b, int m0,
                                                                     const int rows, int n0,
                                                                     int w, int i0, int in) {
    const __mmask16 lo = w >= 16 ? 0xffff : (__mmask16)((1u << w) - 1);
    const __mmask16 hi = w >= 32 ? 0xffff : w > 16 ? (__mmask16)((1u << (w - 16)) - 1) : 0;
    __m512 acc[PB_TR][2];
    for (int r = 0; r < rows; r++) {
        const float *c = j->C + (size_t)(m0 + r) * j->ldc + n0;
        acc[r][0] = acc[r][1] = _mm512_setzero_ps();
        if (i0 > 0 || j->beta != 0.0f) { /* beta 0: C's old values are not read (may be NaN) */
            acc[r][0] = _mm512_maskz_loadu_ps(lo, c);
            acc[r][1] = _mm512_maskz_loadu_ps(hi, c + 16);
            if (i0 == 0 && j->beta != 1.0f) {
                acc[r][0] = _mm512_mul_ps(acc[r][0], _mm512_set1_ps(j->beta));
                acc[r][1] = _mm512_mul_ps(acc[r][1], _mm512_set1_ps(j->beta));
            }
        }
    }
    const uint32_t *a = j->Ab + (size_t)m0 * j->arow + (size_t)i0 * j->apair;
    for (int i = 0; i < in; i++, b += PB_COLS, a += j->apair) {
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b);
        const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + 16);
        for (int r = 0; r < rows; r++) {
            const __m512bh x = (__m512bh)_mm512_set1_epi32((int)a[(size_t)r * j->arow]);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], x, b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], x, b1);
        }
    }
    for (int r = 0; r < rows; r++) {
        float *c = j->C + (size_t)(m0 + r) * j->ldc + n0;
        _mm512_mask_storeu_ps(c, lo, acc[r][0]);
        _mm512_mask_storeu_ps(c + 16, hi, acc[r][1]);
    }
}

/* Units are runs of j->width columns (a multiple of PB_COLS but the last), panel by panel,
 * each block of k over every row tile. */
PB_TARGET static void pb_units(void *ctx, int u0, int u1) {
    const pb_job *j = ctx;
    for (int u = u0; u < u1; u++) {
        const int c0 = u * j->width, c1 = j->N - c0 < j->width ? j->N : c0 + j->width;
        for (int n0 = c0; n0 < c1; n0 += PB_COLS) {
            const int w = c1 - n0 < PB_COLS ? c1 - n0 : PB_COLS;
            const uint32_t *p = j->P + (size_t)(n0 / PB_COLS) * j->kp * PB_COLS;
            for (int i0 = 0; i0 < j->kp; i0 += PB_TKP) {
                const int in = j->kp - i0 < PB_TKP ? j->kp - i0 : PB_TKP;
                const uint32_t *b = p + (size_t)i0 * PB_COLS;
                int m0 = 0;
                for (; m0 + PB_TR <= j->M; m0 += PB_TR) pb_tile(j, b, m0, PB_TR, n0, w, i0, in);
                switch (j->M - m0) {
                case 3: pb_tile(j, b, m0, 3, n0, w, i0, in); break;
                case 2: pb_tile(j, b, m0, 2, n0, w, i0, in); break;
                case 1: pb_tile(j, b, m0, 1, n0, w, i0, in); break;
                default: break;
                }
            }
        }
    }
}
#define PB_KERNEL 1
#else
static void pack_bf16_copy(uint32_t *dst, const float *B, int K, int N, int ldb, int tb) {
    (void)dst, (void)B, (void)K, (void)N, (void)ldb, (void)tb; /* never called: no kernel */
}
#endif

#ifdef PB_KERNEL
/* C = op(A) op(B) + beta C on the tiles: P is op(B)'s bf16 copy, op(A) is rounded here.
 * Returns 0, having touched nothing, without memory for op(A)'s pairs. */
static int pb_run(int ta, int M, int N, int K, const float *A, int lda, const uint32_t *P,
                  float beta, float *C, int ldc) {
    const int kp = (K + 1) / 2, mp = (M + 15) / 16 * 16;
    pb_job j = {M, N, K, kp, lda, ldc, 0, ta ? 1 : (size_t)kp, ta ? (size_t)mp : 1, beta, A,
                NULL, P, C};
    const size_t bytes = (size_t)(ta ? mp : M) * kp * sizeof *j.Ab;
    j.Ab = sv_aligned_alloc(64, (bytes + 63) & ~(size_t)63); /* whole 64-byte lines */
    if (!j.Ab) return 0;
    /* rounding A is worth threads from 64 Ki values (a few microseconds of one core) */
    const int units = ta ? (kp + 15) / 16 : (M + 15) / 16;
    void (*round)(void *, int, int) = ta ? pb_round_pairs : pb_round_rows;
    if ((size_t)M * K >= 65536) sv_parallel_for(units, round, &j);
    else round(&j, 0, units);
    int w, n = sv_plan_chunks(N, 2.0 * M * N * K, &w);
    w = (w + PB_COLS - 1) / PB_COLS * PB_COLS;
    n = (N + w - 1) / w;
    j.width = w;
    sv_parallel_for(n, pb_units, &j);
    free(j.Ab);
    return 1;
}
#endif

int sv_packed_gemm_bf16(int transa, int transb, int M, int N, int K, float alpha,
                        const float *A, int lda, const float *B, int ldb, float beta, float *C,
                        int ldc) {
#ifdef PB_KERNEL
    if (transa || alpha != 1.0f || M < 1 || N < 1 || K < 1 || !sv_bf16_cpu()) return 0;
    pk_copy *e;
    acquire(B, K, N, ldb, transb != 0, 1, &e);
    if (!e) return 0;
    const int done = pb_run(0, M, N, K, A, lda, e->data, beta, C, ldc);
    release(e);
    return done;
#else /* no copies are made: sv_packed_gemm_bf16 takes no product */
    (void)transa, (void)transb, (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)lda;
    (void)B, (void)ldb, (void)beta, (void)C, (void)ldc;
    return 0;
#endif
}

int sv_packed_gemm_bf16_once(int transa, int transb, int M, int N, int K, float alpha,
                             const float *A, int lda, const float *B, int ldb, float beta,
                             float *C, int ldc) {
#ifdef PB_KERNEL
    if (alpha != 1.0f || M < 1 || N < 1 || K < 1 || !sv_bf16_cpu()) return 0;
    uint32_t *P = sv_aligned_alloc(64, bf16_copy_words(K, N) * sizeof *P);
    if (!P) return 0;
    pack_bf16_copy(P, B, K, N, ldb, transb != 0);
    const int done = pb_run(transa != 0, M, N, K, A, lda, P, beta, C, ldc);
    free(P);
    return done;
#else
    (void)transa, (void)transb, (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)lda;
    (void)B, (void)ldb, (void)beta, (void)C, (void)ldc;
    return 0;
#endif
}
