/* test_packed.c -- lib/packed.c, the products of a few rows on weights stored as
 * SEQVID_WEIGHTS_F32_PACKED (register tiles over B packed into panels):
 *   - against a float64 loop with float32's error bound (|c - exact| <= γ_{K+1} S, as in
 *     test_gemm.c), for B and for B transposed (the backward's product with W^T), on shapes
 *     that cross every edge of the kernel: rows 1-7 and tile
 *     multiples up to SV_PACKED_MAX_ROWS, a last panel narrower than 16 columns, K across
 *     the 256-row blocks, N across the scratch blocks, padded strides, beta 0 (C's NaNs
 *     never read), 1 and 0.5;
 *   - the three sources of B (the kept copy; blocks packed by the call, as when there is no
 *     memory for a copy; one block at a time on the stack, as when there is none for scratch
 *     either) give the same bits, and so do 1, 2 and 3 threads;
 *   - the copies: one pack per weight version, hits in between (B and B^T keep a copy
 *     each), the owner's new weights
 *     seen after it bumps the version (and not before: the copy is really used), a new
 *     pack after the range was unregistered and registered again; a hundred matrices of
 *     one range taking turns each keep their copy (no eviction to thrash);
 *   - what it leaves alone: B (or B^T) outside the registered ranges, more rows than
 *     SV_PACKED_MAX_ROWS, a transposed A, alpha other than 1. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "alloc.h"
#include "bf16.h"
#include "blas.h"
#include "packed.h"
#include "rng.h"
#include "seqvid.h"

typedef struct prob {
    int M, N, K, lda, ldb, ldc, tb; /* tb: the product takes B^T (B stored N x K) */
    float beta;
    float *A, *B, *C0;
    unsigned version;
    sv_packed_range range;
} prob;

static float *rnd(size_t n, sv_rng *r) {
    float *x = malloc((n ? n : 1) * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (float)(2 * sv_rng_uniform(r) - 1);
    return x;
}

static size_t b_floats(const prob *p) { return (size_t)(p->tb ? p->N : p->K) * p->ldb; }

/* A product with B registered as weights (padding of `pad` on every stride), op(B) = B^T if
 * tb; *p holds the version the registration points at, so it stays put until unmake. */
static void make(prob *p, int M, int N, int K, int tb, int pad, float beta, uint64_t seed) {
    sv_rng r;
    sv_rng_seed(&r, seed);
    *p = (prob){M, N, K, K + pad, (tb ? K : N) + pad, N + pad, tb, beta, NULL, NULL, NULL, 1,
                {0}};
    p->A = rnd((size_t)M * p->lda, &r);
    p->B = rnd(b_floats(p), &r);
    p->C0 = rnd((size_t)M * p->ldc, &r);
    if (beta == 0.0f) /* never read: NaN would show */
        for (size_t i = 0; i < (size_t)M * p->ldc; i++) p->C0[i] = NAN;
    sv_packed_register(&p->range, p->B, b_floats(p), &p->version);
}

static void unmake(prob *p) {
    sv_packed_unregister(&p->range);
    free(p->A), free(p->B), free(p->C0);
}

static float *run(const prob *p) {
    size_t nc = (size_t)p->M * p->ldc;
    float *C = malloc(nc * sizeof *C);
    memcpy(C, p->C0, nc * sizeof *C);
    assert_int_equal(sv_packed_gemm(0, p->tb, p->M, p->N, p->K, 1.0f, p->A, p->lda, p->B,
                                    p->ldb, p->beta, C, p->ldc),
                     1);
    return C;
}

/* x, or x rounded to bf16 (bf: the operands of bf16 mode's products). */
static double op(float x, int bf) { return bf ? sv_bf16_to_float(sv_bf16_from_float(x)) : x; }

static double b_at(const prob *p, int k, int n, int bf) { /* op(B)[k, n] */
    return op(p->tb ? p->B[(size_t)n * p->ldb + k] : p->B[(size_t)k * p->ldb + n], bf);
}

/* Max over elements of |C - exact| / (γ_{K+1} (S + |beta c0|)); padding must be untouched.
 * bf: exact for the operands rounded to bf16 (their products are exact in float32: 8 x 8
 * significant bits), the sums float32's. */
static double worst_of(const prob *p, const float *C, int bf) {
    const double u = ldexp(1.0, -24), g = (p->K + 1) * u / (1 - (p->K + 1) * u);
    double w = 0;
    for (int m = 0; m < p->M; m++) {
        for (int n = 0; n < p->N; n++) {
            double s = 0, S = 0;
            for (int k = 0; k < p->K; k++) {
                double t = op(p->A[(size_t)m * p->lda + k], bf) * b_at(p, k, n, bf);
                s += t, S += fabs(t);
            }
            double c0 = p->beta != 0.0f ? p->C0[(size_t)m * p->ldc + n] : 0.0;
            double exact = s + p->beta * c0;
            double err = fabs(C[(size_t)m * p->ldc + n] - exact);
            w = fmax(w, isnan(err) ? INFINITY : err / (g * (S + fabs(p->beta * c0)) + 1e-30));
        }
        for (int n = p->N; n < p->ldc; n++) /* padding columns: C0's NaNs or values, as were */
            if (memcmp(&C[(size_t)m * p->ldc + n], &p->C0[(size_t)m * p->ldc + n], 4) != 0)
                return INFINITY;
    }
    return w;
}

static double worst(const prob *p, const float *C) { return worst_of(p, C, 0); }

static size_t differ(const float *a, const float *b, size_t n) {
    size_t d = 0;
    for (size_t i = 0; i < n; i++) d += memcmp(&a[i], &b[i], 4) != 0;
    return d;
}

static int reset(void **state) {
    (void)state;
    sv_packed_keep(1);
    sv_blas_set_threads(2);
    return 0;
}

/* Every edge of the kernel against float64, and the three sources of B bitwise equal. */
static void test_against_float64(void **state) {
    (void)state;
    static const int rows[] = {1, 2, 3, 4, 5, 6, 7, 12, 13, 31, 64};
    static const int cols[] = {1, 15, 16, 17, 300, 1100};
    static const int ks[] = {1, 7, 256, 257, 600};
    static const float betas[] = {0.0f, 1.0f, 0.5f};
    uint64_t seed = 1;
    int cases = 0;
    for (int tb = 0; tb < 2; tb++)
    for (size_t a = 0; a < sizeof rows / sizeof *rows; a++)
        for (size_t b = 0; b < sizeof cols / sizeof *cols; b++)
            for (size_t c = 0; c < sizeof ks / sizeof *ks; c++) {
                /* every shape; beta and padding in turn */
                float beta = betas[seed % 3];
                prob p;
                make(&p, rows[a], cols[b], ks[c], tb, (int)(seed % 2) * 5, beta, seed);
                seed++;
                float *kept = run(&p);
                double w = worst(&p, kept);
                if (w > 1.0)
                    fail_msg("M=%d N=%d K=%d B^T %d beta=%g: error %.2f x the float32 bound",
                             p.M, p.N, p.K, tb, beta, w);
                sv_packed_keep(0); /* no copy: packed by the call, into scratch */
                float *per_call = run(&p);
                sv_alloc_fail_at(1); /* nor scratch (a thread's): a block at a time on the stack */
                float *stack = run(&p);
                sv_alloc_fail_at(0);
                sv_blas_set_threads(1);
                sv_alloc_fail_at(1); /* the whole product on the stack */
                float *stack1 = run(&p);
                sv_alloc_fail_at(0);
                sv_blas_set_threads(2);
                sv_packed_keep(1);
                size_t nc = (size_t)p.M * p.ldc, d1 = differ(kept, per_call, nc),
                       d2 = differ(kept, stack, nc), d3 = differ(kept, stack1, nc);
                if (d1 || d2 || d3)
                    fail_msg("M=%d N=%d K=%d B^T %d: the sources of B differ in %zu / %zu / "
                             "%zu of %zu elements", p.M, p.N, p.K, tb, d1, d2, d3, nc);
                free(kept), free(per_call), free(stack), free(stack1), unmake(&p);
                cases++;
            }
    assert_int_equal(cases, 2 * 11 * 6 * 5);
}

/* Bitwise the same at 1, 2 and 3 threads, cached or packed per call, on shapes the chunking
 * splits between threads. */
static void test_threads_bitwise(void **state) {
    (void)state;
    static const int shapes[][3] = {{16, 2048, 512}, {16, 512, 2048}, {5, 4096, 300},
                                    {64, 1000, 700}, {1, 2048, 512}};
    for (size_t s = 0; s < 2 * sizeof shapes / sizeof *shapes; s++)
        for (int keep = 0; keep < 2; keep++) {
            sv_packed_keep(keep);
            prob p;
            const int *sh = shapes[s / 2];
            make(&p, sh[0], sh[1], sh[2], (int)(s % 2), 0, 1.0f, 700 + s);
            sv_blas_set_threads(1);
            float *C1 = run(&p);
            for (int t = 2; t <= 3; t++) {
                sv_blas_set_threads(t);
                float *Ct = run(&p);
                size_t d = differ(C1, Ct, (size_t)p.M * p.ldc);
                if (d)
                    fail_msg("M=%d N=%d K=%d B^T %d, copy kept %d: %zu elements differ "
                             "between 1 and %d threads", p.M, p.N, p.K, p.tb, keep, d, t);
                free(Ct);
            }
            free(C1), unmake(&p);
        }
    sv_packed_keep(1);
}

/* ONE BUFFER A MATRIX (packed.c): W and W^T read once each per version, as a training step
 * does, keep one copy's bytes; turning back within a version (micro-batches before a step)
 * gives the matrix a copy per way from then on. The products stay exact either way. */
static void test_one_buffer(void **state) {
    (void)state;
    prob p;
    make(&p, 16, 96, 64, 0, 0, 0.0f, 43);
    static float At[16 * 96], Ct[16 * 64], Ct0[16 * 64];
    for (size_t i = 0; i < 16 * 96; i++) At[i] = (float)(i % 5) - 2.0f;
    const size_t bytes0 = sv_packed_bytes(), one = (size_t)64 * 96 * sizeof(float);
    float *C0 = NULL;
    for (int v = 0; v < 3; v++, p.version++) { /* forward W, backward W^T, then a new version */
        float *C = run(&p);
        assert_int_equal(sv_packed_bytes() - bytes0, one);
        assert_int_equal(sv_packed_gemm(0, 1, 16, 64, 96, 1.0f, At, 96, p.B, p.ldb, 0.0f, Ct,
                                        64), 1);
        assert_int_equal(sv_packed_bytes() - bytes0, one);
        if (!C0) C0 = C, memcpy(Ct0, Ct, sizeof Ct);
        else assert_memory_equal(C, C0, (size_t)p.M * p.ldc * sizeof *C), free(C);
        assert_memory_equal(Ct, Ct0, sizeof Ct);
    }
    unsigned long packs0, hits0, packs, hits;
    for (int mb = 0; mb < 3; mb++) { /* three micro-batches in one version */
        sv_packed_counts(&packs0, &hits0);
        float *C = run(&p);
        assert_int_equal(sv_packed_gemm(0, 1, 16, 64, 96, 1.0f, At, 96, p.B, p.ldb, 0.0f, Ct,
                                        64), 1);
        sv_packed_counts(&packs, &hits);
        /* 1st: W packed over W^T's copy of the last version, W^T over it; 2nd: W gets a
         * buffer of its own (one pack); 3rd: both hits */
        assert_int_equal(packs - packs0, mb == 0 ? 2 : mb == 1 ? 1 : 0);
        assert_int_equal(sv_packed_bytes() - bytes0, mb == 0 ? one : 2 * one);
        assert_memory_equal(C, C0, (size_t)p.M * p.ldc * sizeof *C);
        assert_memory_equal(Ct, Ct0, sizeof Ct);
        free(C);
    }
    unmake(&p);
    assert_int_equal(sv_packed_bytes(), bytes0);
    free(C0);
}

/* One pack per version, hits between, new weights seen after the bump; a stale copy would be
 * used without it (so the copy is really what the products read); unregistering drops it. */
static void test_versions(void **state) {
    (void)state;
    prob p;
    make(&p, 16, 96, 64, 0, 0, 0.0f, 42);
    unsigned long packs0, hits0, packs, hits;
    sv_packed_counts(&packs0, &hits0);
    float *C1 = run(&p), *C2 = run(&p);
    sv_packed_counts(&packs, &hits);
    assert_int_equal(packs - packs0, 1);
    assert_int_equal(hits - hits0, 1);
    assert_memory_equal(C1, C2, (size_t)p.M * p.ldc * sizeof *C1);
    /* the same weights as B^T (a 64 x 96 product, as large a copy): packed over B's copy
     * (one buffer a matrix), checked against float64; B read again packs B's way again */
    static float At[16 * 96], Ct[16 * 64];
    for (size_t i = 0; i < 16 * 96; i++) At[i] = (float)(i % 7) - 3.0f;
    assert_int_equal(sv_packed_gemm(0, 1, 16, 64, 96, 1.0f, At, 96, p.B, p.ldb, 0.0f, Ct, 64), 1);
    for (int m = 0; m < 16; m++)
        for (int n = 0; n < 64; n++) {
            double t = 0;
            for (int k = 0; k < 96; k++) t += (double)At[m * 96 + k] * p.B[(size_t)n * p.ldb + k];
            assert_true(fabs(Ct[m * 64 + n] - t) <= 1e-4 * (1.0 + fabs(t)));
        }
    sv_packed_counts(&packs, &hits);
    assert_int_equal(packs - packs0, 2);
    /* B again within the same version (as micro-batches of one optimizer step alternate):
     * a copy of its own now, beside B^T's, and from then on both ways are hits */
    float *C2b = run(&p);
    assert_memory_equal(C2b, C1, (size_t)p.M * p.ldc * sizeof *C1);
    sv_packed_counts(&packs, &hits);
    assert_int_equal(packs - packs0, 3);
    assert_int_equal(hits - hits0, 1);
    free(C2b);
    static float Ct2[16 * 64];
    assert_int_equal(sv_packed_gemm(0, 1, 16, 64, 96, 1.0f, At, 96, p.B, p.ldb, 0.0f, Ct2, 64), 1);
    assert_memory_equal(Ct2, Ct, sizeof Ct);
    C2b = run(&p);
    assert_memory_equal(C2b, C1, (size_t)p.M * p.ldc * sizeof *C1);
    free(C2b);
    sv_packed_counts(&packs, &hits);
    assert_int_equal(packs - packs0, 3);
    assert_int_equal(hits - hits0, 3);
    for (size_t i = 0; i < b_floats(&p); i++) p.B[i] = -p.B[i]; /* the owner changes them */
    float *stale = run(&p); /* ...without telling: the kept copy is used */
    assert_memory_equal(stale, C1, (size_t)p.M * p.ldc * sizeof *C1);
    p.version++;
    float *C3 = run(&p);
    assert_true(worst(&p, C3) <= 1.0);
    for (size_t i = 0; i < (size_t)p.M * p.ldc; i++) assert_true(C3[i] == -C1[i]);
    sv_packed_counts(&packs, &hits);
    assert_int_equal(packs - packs0, 4);
    /* unregistered and registered again (as an arena rebinding its weights): packed anew */
    sv_packed_unregister(&p.range);
    sv_packed_register(&p.range, p.B, b_floats(&p), &p.version);
    float *C4 = run(&p);
    assert_memory_equal(C4, C3, (size_t)p.M * p.ldc * sizeof *C1);
    sv_packed_counts(&packs, &hits);
    assert_int_equal(packs - packs0, 5);
    unmake(&p);
    free(C1), free(C2), free(C3), free(C4), free(stale);
}

/* Not its products: B outside the registered ranges, or more rows than it takes. */
static void test_declines(void **state) {
    (void)state;
    float A[65 * 8] = {0}, B[8 * 16] = {0}, C[65 * 16] = {0};
    assert_int_equal(sv_packed_gemm(0, 0, 4, 16, 8, 1.0f, A, 8, B, 16, 0.0f, C, 16), 0);
    unsigned v = 0;
    sv_packed_range r;
    sv_packed_register(&r, B, 8 * 16, &v);
    assert_int_equal(sv_packed_gemm(0, 0, SV_PACKED_MAX_ROWS + 1, 16, 8, 1.0f, A, 8, B, 16, 0.0f, C,
                                    16),
                     0);
    assert_int_equal(
        sv_packed_gemm(0, 0, SV_PACKED_MAX_ROWS, 16, 8, 1.0f, A, 8, B, 16, 0.0f, C, 16), 1);
    /* B^T (8 rows of 16): taken */
    assert_int_equal(sv_packed_gemm(0, 1, 4, 8, 16, 1.0f, A, 16, B, 16, 0.0f, C, 8), 1);
    /* a transposed A, or alpha other than 1: the backend's */
    assert_int_equal(sv_packed_gemm(1, 0, 4, 16, 8, 1.0f, A, 4, B, 16, 0.0f, C, 16), 0);
    assert_int_equal(sv_packed_gemm(0, 0, 4, 16, 8, 2.0f, A, 8, B, 16, 0.0f, C, 16), 0);
    /* B or B^T reaching past the registered range: not taken */
    assert_int_equal(sv_packed_gemm(0, 0, 4, 16, 8, 1.0f, A, 8, B + 1, 16, 0.0f, C, 16), 0);
    assert_int_equal(sv_packed_gemm(0, 1, 4, 8, 16, 1.0f, A, 16, B + 1, 16, 0.0f, C, 8), 0);
    assert_int_equal(sv_packed_gemm(0, 1, 4, 9, 16, 1.0f, A, 16, B, 16, 0.0f, C, 9), 0);
    sv_packed_unregister(&r);
    assert_int_equal(sv_packed_gemm(0, 0, 4, 16, 8, 1.0f, A, 8, B, 16, 0.0f, C, 16), 0);
    sv_packed_unregister(&r); /* not registered: nothing happens */
}

/* A hundred matrices in one range, used in turn: each is packed once and then only reused. */
static void test_many_matrices(void **state) {
    (void)state;
    enum { NW = 100, M = 4, N = 32, K = 24 };
    float *arena = malloc((size_t)NW * K * N * sizeof *arena), *A = malloc(M * K * sizeof *A),
          *C = malloc(M * N * sizeof *C);
    sv_rng r;
    sv_rng_seed(&r, 9);
    for (size_t i = 0; i < (size_t)NW * K * N; i++) arena[i] = (float)sv_rng_uniform(&r);
    for (size_t i = 0; i < M * K; i++) A[i] = (float)sv_rng_uniform(&r);
    unsigned version = 1;
    sv_packed_range range;
    sv_packed_register(&range, arena, (size_t)NW * K * N, &version);
    unsigned long packs0, hits0, packs, hits;
    sv_packed_counts(&packs0, &hits0);
    for (int pass = 0; pass < 3; pass++)
        for (int w = 0; w < NW; w++) {
            const float *B = arena + (size_t)w * K * N;
            assert_int_equal(sv_packed_gemm(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N), 1);
        }
    sv_packed_counts(&packs, &hits);
    assert_int_equal(packs - packs0, NW);
    assert_int_equal(hits - hits0, 2 * NW);
    sv_packed_unregister(&range);
    free(arena), free(A), free(C);
}

/* bf16 mode's products (AVX512-BF16 CPUs): against float64 on the operands rounded to bf16,
 * across the kernel's edges (rows 1-5 and past its 4-row tiles, up to hundreds of rows as
 * the readouts' products have; a last panel of 1-31 of its 32 columns; odd K, whose last
 * pair is half padding; K across the 256-row blocks; padded strides; beta 0, 1, 0.5), for B
 * and B^T; the same bits at 1, 2 and 3 threads, and rounded per call (the weight gradients'
 * product) with A as stored or transposed; a range registered for bf16 only is not taken by
 * float32 products. */
static void test_bf16_products(void **state) {
    (void)state;
    if (!sv_bf16_cpu()) skip();
    static const int rows[] = {1, 3, 4, 5, 17, 64, 250};
    static const int cols[] = {1, 31, 32, 33, 100, 1100};
    static const int ks[] = {1, 2, 7, 256, 257, 600};
    static const float betas[] = {0.0f, 1.0f, 0.5f};
    uint64_t seed = 700;
    double w_max = 0;
    for (int tb = 0; tb < 2; tb++)
    for (size_t a = 0; a < sizeof rows / sizeof *rows; a++)
    for (size_t c = 0; c < sizeof cols / sizeof *cols; c++)
    for (size_t k = 0; k < sizeof ks / sizeof *ks; k++) {
        if ((double)rows[a] * cols[c] * ks[k] > 4e6) continue; /* the float64 loop's time */
        prob p;
        make(&p, rows[a], cols[c], ks[k], tb, (int)(seed % 3), betas[seed % 3], seed);
        seed++;
        sv_packed_unregister(&p.range); /* for bf16 only, as a float32 model in bf16 mode */
        sv_packed_register_bf16(&p.range, p.B, b_floats(&p), &p.version);
        size_t nc = (size_t)p.M * p.ldc;
        float *C[3];
        for (int t = 1; t <= 3; t++) {
            sv_blas_set_threads(t);
            C[t - 1] = malloc(nc * sizeof *C[0]);
            memcpy(C[t - 1], p.C0, nc * sizeof *C[0]);
            assert_int_equal(sv_packed_gemm_bf16(0, p.tb, p.M, p.N, p.K, 1.0f, p.A, p.lda, p.B,
                                                 p.ldb, p.beta, C[t - 1], p.ldc),
                             1);
        }
        double w = worst_of(&p, C[0], 1);
        if (!(w <= 1.0))
            fail_msg("bf16 %c M=%d N=%d K=%d beta=%g: error %g of the bound", tb ? 'T' : 'N',
                     p.M, p.N, p.K, (double)p.beta, w);
        w_max = fmax(w_max, w);
        assert_int_equal(differ(C[0], C[1], nc), 0);
        assert_int_equal(differ(C[0], C[2], nc), 0);
        /* rounded per call (the weight gradients' way), with A as stored and transposed:
         * the same pairs, the same sums */
        const int ldt = p.M + 1;
        float *At = malloc((size_t)p.K * ldt * sizeof *At);
        for (int m = 0; m < p.M; m++)
            for (int q = 0; q < p.K; q++) At[(size_t)q * ldt + m] = p.A[(size_t)m * p.lda + q];
        for (int ta = 0; ta < 2; ta++) {
            memcpy(C[1], p.C0, nc * sizeof *C[1]);
            assert_int_equal(sv_packed_gemm_bf16_once(ta, p.tb, p.M, p.N, p.K, 1.0f,
                                                      ta ? At : p.A, ta ? ldt : p.lda, p.B,
                                                      p.ldb, p.beta, C[1], p.ldc),
                             1);
            assert_int_equal(differ(C[0], C[1], nc), 0);
        }
        free(At);
        /* float32 products do not take a bf16-only range */
        assert_int_equal(sv_packed_gemm(0, p.tb, p.M, p.N, p.K, 1.0f, p.A, p.lda, p.B, p.ldb,
                                        p.beta, C[1], p.ldc),
                         0);
        for (int t = 0; t < 3; t++) free(C[t]);
        sv_packed_unregister(&p.range);
        sv_packed_register(&p.range, p.B, b_floats(&p), &p.version);
        unmake(&p);
    }
    print_message("bf16 products: worst error %.3g of the float32 bound on bf16 operands\n",
                  w_max);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_bf16_products, reset),
        cmocka_unit_test_setup(test_against_float64, reset),
        cmocka_unit_test_setup(test_threads_bitwise, reset),
        cmocka_unit_test_setup(test_versions, reset),
        cmocka_unit_test_setup(test_one_buffer, reset),
        cmocka_unit_test_setup(test_many_matrices, reset),
        cmocka_unit_test_setup(test_declines, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
