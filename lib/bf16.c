/* bf16.c -- bfloat16 weights (bf16.h): rounding, widening, and C += A W with W in bf16.
 *
 * Every weight is widened as it is read (zero-extend to 32 bits, shift left by 16: the float
 * whose upper half it is) and every sum is float32. Three ways to the product, by its shape
 * (sv_bf16_gemm_acc at the end chooses; the measurements are with the panels):
 *   one row    bf_row: each thread walks W row by row along its own run of columns, every
 *              row piece read once and contiguously (what the hardware prefetchers follow:
 *              a walk down columns of W, rows 4H x 2 bytes apart, ran at half the
 *              bandwidth). Bound by memory: a frame at a time reads half float32's bytes.
 *   few rows   bf_tiles: register tiles of rows x 16 columns fed straight from bf16.
 *   many rows  gemm_panels: W widened a panel at a time, the backend's float32 GEMM. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include "bf16.h"
#include "blas.h"
#include "fastmath.h"
#include "parallel.h"

/* The CPU's answer, asked once (cpuid leaves the virtual machine on every call). */
static int cpu_bf16;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

static void ask_cpu(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d) || !(a & (1u << 5))) return;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return; /* OSXSAVE */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    cpu_bf16 = (lo & 0xe6) == 0xe6; /* XCR0: SSE, AVX, opmask, both ZMM halves */
#endif
}

int sv_bf16_cpu(void) {
    const char *e = getenv("SEQVID_NO_BF16"); /* read on every call: tests switch it */
    if (e && *e && strcmp(e, "0") != 0) return 0;
    pthread_once(&cpu_once, ask_cpu);
    return cpu_bf16;
}

int sv_bf16_fits(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((sv_bf16_from_float(x[i]) & 0x7fffu) == 0x7f80u) return 0;
    return 1;
}

/* Through char copies: the float read and the bf16 written alias, which the compiler must
 * then see. Write i (bytes 2i, 2i+1) never reaches a float not yet read (bytes >= 4(i+1)). */
uint16_t *sv_bf16_round_in_place(float *x, size_t n) {
    unsigned char *b = (unsigned char *)x;
    for (size_t i = 0; i < n; i++) {
        float f;
        memcpy(&f, b + 4 * i, sizeof f);
        uint16_t h = sv_bf16_from_float(f);
        memcpy(b + 2 * i, &h, sizeof h);
    }
    return (uint16_t *)(void *)x;
}

void sv_bf16_widen(const uint16_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = sv_bf16_to_float(src[i]);
}

#define BF_COLS 8 /* columns per unit of work: one vector of C */
typedef sv_v8f v8f;
typedef float v8u __attribute__((vector_size(32), aligned(4))); /* unaligned access to C */

typedef struct bf_job {
    int M, N, K, lda, ldc;
    const float *A;
    const uint16_t *W;
    float *C;
} bf_job;

/* One row (a frame at a time), a thread's columns [u0, u1) x 8: W streamed row by row
 * along them, two rows of W per sweep over the thread's run of C (N / threads floats),
 *   C[c] = (C[c] + A[k] W[k,c]) + A[k+1] W[k+1,c],
 * a pair skipped where both A values are zero. */
SV_VECTOR_CLONES
static void bf_row(void *ctx, int u0, int u1) {
    const bf_job *j = ctx;
    const size_t N = (size_t)j->N;
    const int c0 = u0 * BF_COLS, c1 = u1 * BF_COLS < j->N ? u1 * BF_COLS : j->N;
    const int nv = (c1 - c0) / 8, tail = (c1 - c0) % 8, K = j->K;
    for (int k = 0; k < K; k += 2) {
        const int two = k + 1 < K;
        const float a0 = j->A[k], a1 = two ? j->A[k + 1] : 0.0f;
        if (a0 == 0.0f && a1 == 0.0f) continue;
        const uint16_t *w0 = j->W + (size_t)k * N + c0, *w1 = two ? w0 + N : w0;
        v8u *c = (v8u *)(j->C + c0);
        for (int v = 0; v < nv; v++) {
            v8f x0, x1;
            sv_bf16_widen8(w0 + 8 * v, &x0);
            sv_bf16_widen8(w1 + 8 * v, &x1);
            c[v] = c[v] + a0 * x0 + a1 * x1;
        }
        float *ct = j->C + c0 + 8 * nv;
        for (int x = 0; x < tail; x++)
            ct[x] = ct[x] + a0 * sv_bf16_to_float(w0[8 * nv + x]) +
                    a1 * sv_bf16_to_float(w1[8 * nv + x]);
    }
}

/* 2 to BF_TILE_ROWS rows (see sv_bf16_gemm_acc for which): register tiles of BF_TR rows x
 * 16 columns (2 BF_TR float32 vectors of sums), W read straight from bf16. A thread's
 * columns go in passes of BF_TN; within a pass, blocks of BF_TK rows of W (BF_TK x 16 x 2
 * bytes = 8 KiB a tile column: in L1 while every row tile uses it), so W is read from
 * memory once per call, whatever M. Each sum runs over k in order,
 *   C[m, c] = (...(C[m, c] + A[m,0] W[0,c]) + A[m,1] W[1,c]) ...,
 * the order of bf_row: a sequence gives the same numbers alone or in a batch that takes
 * them. */
#define BF_TILE_ROWS 32
#define BF_TR 6
#define BF_TC 16
#define BF_TK 256
#define BF_TN 256

static inline __attribute__((always_inline)) void tile(const bf_job *j, int m0, const int rows,
                                                       int n, int k0, int kn) {
    v8f acc[BF_TR][2];
    for (int r = 0; r < rows; r++) {
        const float *c = j->C + (size_t)(m0 + r) * j->ldc + n;
        memcpy(&acc[r][0], c, sizeof acc[r][0]);
        memcpy(&acc[r][1], c + 8, sizeof acc[r][1]);
    }
    const float *a = j->A + (size_t)m0 * j->lda;
    const uint16_t *w = j->W + (size_t)k0 * j->N + n;
    for (int k = k0; k < k0 + kn; k++, w += j->N) {
        v8f x0, x1;
        sv_bf16_widen8(w, &x0);
        sv_bf16_widen8(w + 8, &x1);
        for (int r = 0; r < rows; r++) {
            const float v = a[(size_t)r * j->lda + k];
            acc[r][0] += v * x0;
            acc[r][1] += v * x1;
        }
    }
    for (int r = 0; r < rows; r++) {
        float *c = j->C + (size_t)(m0 + r) * j->ldc + n;
        memcpy(c, &acc[r][0], sizeof acc[r][0]);
        memcpy(c + 8, &acc[r][1], sizeof acc[r][1]);
    }
}

SV_VECTOR_CLONES
static void bf_tiles(void *ctx, int u0, int u1) {
    const bf_job *j = ctx;
    const int begin = u0 * BF_TC, end = u1 * BF_TC < j->N ? u1 * BF_TC : j->N;
    for (int c0 = begin; c0 < end; c0 += BF_TN) {
        const int c1 = end - c0 < BF_TN ? end : c0 + BF_TN;
        const int full = c0 + (c1 - c0) / BF_TC * BF_TC;
        for (int k0 = 0; k0 < j->K; k0 += BF_TK) {
            const int kn = j->K - k0 < BF_TK ? j->K - k0 : BF_TK;
            for (int n = c0; n < full; n += BF_TC) {
                int m0 = 0;
                for (; m0 + BF_TR <= j->M; m0 += BF_TR) tile(j, m0, BF_TR, n, k0, kn);
                switch (j->M - m0) {
                case 5: tile(j, m0, 5, n, k0, kn); break;
                case 4: tile(j, m0, 4, n, k0, kn); break;
                case 3: tile(j, m0, 3, n, k0, kn); break;
                case 2: tile(j, m0, 2, n, k0, kn); break;
                case 1: tile(j, m0, 1, n, k0, kn); break;
                default: break;
                }
            }
            for (int m = 0; m < j->M; m++) /* the last columns, narrower than a tile */
                for (int k = k0; k < k0 + kn; k++) {
                    const float v = j->A[(size_t)m * j->lda + k];
                    const uint16_t *w = j->W + (size_t)k * j->N;
                    float *c = j->C + (size_t)m * j->ldc;
                    for (int x = full; x < c1; x++) c[x] += v * sv_bf16_to_float(w[x]);
                }
        }
    }
}

/* More rows, or 8 to 32 rows of a large W: the product is bound by arithmetic, and the
 * float32 GEMM of the backend does it better than the tiles. W is widened a panel of rows
 * at a time into the caller's scratch (SV_BF16_PANEL floats) and each panel's product added
 * in. Measured (2 threads, OpenBLAS Haswell kernels, AMD Zen 3, best of 30-50 calls on
 * random data; panels / tiles / sgemm on the float32 W, ms):
 *   M = 160, K x N = 4096 x 2048:  16.4 / 36.7 / 16.4
 *   M = 16,  K x N = 2048 x 8192:  5.8-7.3 / 6.2 / 5.7-5.9
 *   M = 16,  K x N = 4096 x 2048:  2.8 / 3.1 / 3.0
 *   M = 16,  K x N = 512 x 2048:   0.34-1.3 / 0.36-0.82 / 0.28-0.68
 *   M = 8,   K x N = 512 x 2048:   0.72-1.2 / 0.21 / 0.24-0.51
 *   M = 4,   K x N = 512 x 2048:   tiles 0.105, the earlier row-by-row stream 0.217
 * (tiles of 6 rows; of 4 rows they took 7.7, 3.6, 0.41-0.95 and 0.52 ms on the first four)
 * The panels' times swing (their widening runs on the library's threads between OpenBLAS's
 * calls, whose own threads spin): tiles up to 32 rows unless W exceeds BF_TILE_WEIGHTS. */
#define BF_TILE_WEIGHTS ((size_t)1 << 22)
typedef struct widen_job {
    const uint16_t *src;
    float *dst;
    size_t row;
} widen_job;

static void widen_rows(void *ctx, int r0, int r1) {
    const widen_job *j = ctx;
    sv_bf16_widen(j->src + (size_t)r0 * j->row, j->dst + (size_t)r0 * j->row,
                  (size_t)(r1 - r0) * j->row);
}

static void gemm_panels(int M, int N, int K, int kc, const float *A, int lda,
                        const uint16_t *W, float *C, int ldc, float *panel) {
    for (int k0 = 0; k0 < K; k0 += kc) {
        int kn = K - k0 < kc ? K - k0 : kc;
        widen_job wj = {W + (size_t)k0 * N, panel, (size_t)N};
        sv_parallel_for(kn, widen_rows, &wj);
        sv_sgemm_f32(SV_NOTRANS, SV_NOTRANS, M, N, kn, 1.0f, A + k0, lda, panel, N, 1.0f, C,
                     ldc);
    }
}

void sv_bf16_gemm_acc(int M, int N, int K, const float *A, int lda, const uint16_t *W,
                      float *C, int ldc, float *panel) {
    if (M <= 0 || N <= 0 || K <= 0) return;
    bf_job j = {M, N, K, lda, ldc, A, W, C};
    int kc = SV_BF16_PANEL / N < K ? SV_BF16_PANEL / N : K;
    const int tiles = M < 8 || (M <= BF_TILE_ROWS && (size_t)K * (size_t)N <= BF_TILE_WEIGHTS);
    if (M == 1)
        sv_parallel_for((N + BF_COLS - 1) / BF_COLS, bf_row, &j);
    else if (tiles || !panel || kc < 16)
        sv_parallel_for((N + BF_TC - 1) / BF_TC, bf_tiles, &j);
    else
        gemm_panels(M, N, K, kc, A, lda, W, C, ldc, panel);
}
