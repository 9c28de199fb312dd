/* bf16.c -- bfloat16 weights (bf16.h): rounding, widening, and C += A W with W in bf16.
 *
 * The product gives each thread a contiguous run of C's columns and walks W row by row along
 * it: every row piece W[k, run] is read once, contiguously (what the hardware prefetchers
 * follow: a walk down columns of W, rows 4H x 2 bytes apart, runs at half the bandwidth),
 * widened as it is read (zero-extend to 32 bits, shift left by 16: the float whose upper half
 * it is), and added into the run's rows of C, which stay in L1 (the run is cut into passes of
 * at most 16 KiB of C). Two rows of W per sweep over C: two FMAs per load and store of C. */
#include <stdlib.h>
#include <string.h>
#include "bf16.h"
#include "blas.h"
#include "fastmath.h"
#include "parallel.h"

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

#define BF_COLS 8    /* columns per unit of work: one vector of C */
#define BF_L1 4096   /* floats of C one pass keeps in L1 (16 KiB): M rows x the pass's width */
typedef sv_v8f v8f;
typedef float v8u __attribute__((vector_size(32), aligned(4))); /* unaligned access to C */

typedef struct bf_job {
    int M, N, K, lda, ldc;
    const float *A;
    const uint16_t *W;
    float *C;
} bf_job;

/* Columns [c0, c0 + width) of every row of C, one pair of W rows at a time:
 *   C[m, c] = (C[m, c] + A[m,k] W[k,c]) + A[m,k+1] W[k+1,c]
 * in this order for every M (so one sequence gives the same numbers alone or in a batch), a
 * pair skipped where both A values are zero. M = 1 widens W as it streams it; M > 1 widens
 * the pair once into wbuf, from where every row reads it. */
static inline void bf_pass(const bf_job *j, int c0, int width, float *wbuf) {
    const size_t N = (size_t)j->N;
    const int nv = width / 8, tail = width % 8, K = j->K;
    for (int k = 0; k < K; k += 2) {
        const int two = k + 1 < K;
        const uint16_t *w0 = j->W + (size_t)k * N + c0, *w1 = two ? w0 + N : w0;
        if (j->M == 1) {
            const float a0 = j->A[k], a1 = two ? j->A[k + 1] : 0.0f;
            if (a0 == 0.0f && a1 == 0.0f) continue;
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
            continue;
        }
        float *restrict b0 = wbuf, *restrict b1 = wbuf + width;
        sv_bf16_widen(w0, b0, (size_t)width);
        sv_bf16_widen(w1, b1, (size_t)width);
        for (int m = 0; m < j->M; m++) {
            const float *a = j->A + (size_t)m * j->lda + k;
            const float a0 = a[0], a1 = two ? a[1] : 0.0f;
            if (a0 == 0.0f && a1 == 0.0f) continue;
            float *restrict c = j->C + (size_t)m * j->ldc + c0;
#pragma omp simd
            for (int x = 0; x < width; x++) c[x] = c[x] + a0 * b0[x] + a1 * b1[x];
        }
    }
}

/* A thread's contiguous run of columns, in passes whose rows of C fit in L1. */
SV_VECTOR_CLONES
static void bf_units(void *ctx, int u0, int u1) {
    const bf_job *j = ctx;
    float wbuf[2 * BF_L1];
    int c = u0 * BF_COLS, end = u1 * BF_COLS < j->N ? u1 * BF_COLS : j->N;
    int width = BF_L1 / j->M;
    width = width < 32 ? 32 : width - width % 8;
    while (c < end) {
        int w = end - c < width ? end - c : width;
        bf_pass(j, c, w, wbuf);
        c += w;
    }
}

/* Many rows: the product is bound by arithmetic, not by reading W, and the float32 GEMM of
 * the backend does it better. W is widened a panel of rows at a time into the caller's
 * scratch (SV_BF16_PANEL floats) and each panel's product added in. Measured (2 threads,
 * OpenBLAS Haswell kernels, AMD Zen 3, best of 30 calls on random data), against
 * sgemm on the float32 W:
 *   K x N = 2048 x 8192: M = 8 panels 3.9 ms, sgemm 4.5; M = 16 5.4 / 5.9; M = 4 streamed 2.9
 *   K x N = 512 x 2048: M = 8 panels 0.25 ms, sgemm 0.19; M = 16 0.34 / 0.28
 * and panels below 8 rows lose to the stream (M = 2: 11 ms against 1.7). */
#define BF_GEMM_ROWS 8
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
    int kc = SV_BF16_PANEL / N < K ? SV_BF16_PANEL / N : K;
    if (panel && M >= BF_GEMM_ROWS && kc >= 16) {
        gemm_panels(M, N, K, kc, A, lda, W, C, ldc, panel);
        return;
    }
    bf_job j = {M, N, K, lda, ldc, A, W, C};
    sv_parallel_for((N + BF_COLS - 1) / BF_COLS, bf_units, &j);
}

