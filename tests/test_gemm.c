/* test_gemm.c -- the matrix-product backend (lib/blas.h) on its own, whichever backend this
 * build chose (openblas, reference or onednn):
 *   - every transpose combination, alpha/beta, padded leading dimensions and one-row
 *     products, against a float64 loop, with float32's error bound;
 *   - sgemv both ways;
 *   - the weight cache: registered weights give the same results, are reordered once per
 *     version, and a bumped version is seen (a cached stale copy would fail);
 *   - every backend: bitwise the same results at 1, 2 and 3 threads (the determinism the
 *     robustness issue asks of the whole library starts here);
 *   - bf16 (AVX512-BF16 CPUs; oneDNN: every product, CBLAS: those on registered weights,
 *     lib/packed.c): the error bound of bf16 products, derived below, holds and is needed
 *     (the result is not the float32 one); SEQVID_NO_BF16=1 forces the exact float32 path;
 *     the mode is per calling thread. Elsewhere: bf16 is reported unsupported and asking
 *     for it changes nothing.
 *
 * Error bounds, per element c = Σ_k a_k b_k, with S = Σ_k |a_k||b_k| (float64):
 *   float32 products: |c - c_exact| <= γ_K S with γ_K = K u / (1 - K u), u = 2^-24
 *     (Higham, Accuracy and Stability, 3.5); any summation order meets it.
 *   bf16 operands (8 significant bits: u_b = 2^-8, round to nearest), float32 accumulation:
 *     each operand carries relative error <= u_b, their product <= 2 u_b + u_b^2; then the
 *     float32 sum adds γ_K. So |c - c_exact| <= (2 u_b + u_b^2 + γ_K (1 + u_b)^2) S.
 *   The tests use these bounds with alpha, beta folded in exactly (alpha, beta are powers of
 *   two here, so they add no rounding). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#define SEQVID_EXPERIMENTAL /* seqvid_experimental_backend */
#include "seqvid.h"
#include "bf16.h"
#include "blas.h"
#include "packed.h"
#include "rng.h"

typedef struct prob {
    int ta, tb, M, N, K, lda, ldb, ldc;
    float alpha, beta;
    float *A, *B, *C0; /* C0: C before the product */
} prob;

static float *rnd(size_t n, sv_rng *r) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (float)(2 * sv_rng_uniform(r) - 1);
    return x;
}

static prob make(int ta, int tb, int M, int N, int K, int pad, float alpha, float beta,
                 uint64_t seed) {
    sv_rng r;
    sv_rng_seed(&r, seed);
    prob p = {ta, tb, M, N, K, (ta ? M : K) + pad, (tb ? K : N) + pad, N + pad, alpha, beta,
              NULL, NULL, NULL};
    p.A = rnd((size_t)(ta ? K : M) * p.lda, &r);
    p.B = rnd((size_t)(tb ? N : K) * p.ldb, &r);
    p.C0 = rnd((size_t)M * p.ldc, &r);
    return p;
}

static void unmake(prob *p) { free(p->A), free(p->B), free(p->C0); }

static double a_at(const prob *p, int i, int k) {
    return p->ta ? p->A[(size_t)k * p->lda + i] : p->A[(size_t)i * p->lda + k];
}
static double b_at(const prob *p, int k, int j) {
    return p->tb ? p->B[(size_t)j * p->ldb + k] : p->B[(size_t)k * p->ldb + j];
}

/* Run the product into a fresh copy of C0. */
static float *run(const prob *p) {
    size_t nc = (size_t)p->M * p->ldc;
    float *C = malloc(nc * sizeof *C);
    memcpy(C, p->C0, nc * sizeof *C);
    sv_sgemm(p->ta, p->tb, p->M, p->N, p->K, p->alpha, p->A, p->lda, p->B, p->ldb, p->beta, C,
             p->ldc);
    return C;
}

/* Max over elements of |C - exact| / bound(S); padding columns must be untouched. */
static double worst(const prob *p, const float *C, double rel_bound) {
    double w = 0;
    for (int i = 0; i < p->M; i++) {
        for (int j = 0; j < p->N; j++) {
            double s = 0, S = 0;
            for (int k = 0; k < p->K; k++) {
                double t = a_at(p, i, k) * b_at(p, k, j);
                s += t, S += fabs(t);
            }
            double c0 = p->C0[(size_t)i * p->ldc + j];
            double exact = p->alpha * s + p->beta * c0;
            /* beta c0 is one more term of the sum: rel_bound is taken at K + 1 by callers */
            double bound = rel_bound * (fabs(p->alpha) * S + fabs(p->beta * c0)) + 1e-30;
            w = fmax(w, fabs(C[(size_t)i * p->ldc + j] - exact) / bound);
        }
        for (int j = p->N; j < p->ldc; j++)
            assert_true(C[(size_t)i * p->ldc + j] == p->C0[(size_t)i * p->ldc + j]);
    }
    return w;
}

static double gamma_f32(int K) {
    double u = ldexp(1.0, -24);
    return K * u / (1 - K * u);
}

static double bound_bf16(int K) {
    double ub = ldexp(1.0, -8);
    return 2 * ub + ub * ub + gamma_f32(K) * (1 + ub) * (1 + ub);
}

/* The kernel's shapes in miniature: recurrent (few rows), time-batched input (more rows),
 * weight gradients (transposed A), data gradients (transposed B), one-row products. */
static const int shapes[][3] = {{4, 96, 24}, {30, 96, 70}, {24, 96, 30}, {1, 96, 24},
                                {1, 200, 300}, {17, 33, 129}};

static void test_f32_all_transposes(void **state) {
    (void)state;
    assert_int_equal(sv_blas_set_bf16(0), 0);
    int seed = 1;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int ab = 0; ab < 3; ab++) {
                    float alpha = ab == 2 ? 0.5f : 1.0f, beta = ab == 0 ? 0.0f : 1.0f;
                    prob p = make(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2],
                                  ab == 1 ? 5 : 0, alpha, beta, (uint64_t)seed++);
                    float *C = run(&p);
                    double w = worst(&p, C, gamma_f32(p.K + 1));
                    if (w > 1.0)
                        fail_msg("f32 %c%c M=%d N=%d K=%d: error %.2f x the float32 bound",
                                 ta ? 'T' : 'N', tb ? 'T' : 'N', p.M, p.N, p.K, w);
                    free(C), unmake(&p);
                }
}

static void test_sgemv(void **state) {
    (void)state;
    sv_rng r;
    sv_rng_seed(&r, 7);
    int M = 37, N = 53, lda = 60;
    float *A = rnd((size_t)M * lda, &r), *x = rnd(64, &r), *y0 = rnd(64, &r), y[64];
    for (int trans = 0; trans < 2; trans++) {
        int n_out = trans ? N : M, n_in = trans ? M : N;
        memcpy(y, y0, sizeof y);
        sv_sgemv(trans, M, N, 1.0f, A, lda, x, 1, 1.0f, y, 1);
        for (int o = 0; o < n_out; o++) {
            double s = y0[o], S = fabs(y0[o]);
            for (int i = 0; i < n_in; i++) {
                double t = (double)(trans ? A[(size_t)i * lda + o] : A[(size_t)o * lda + i]) * x[i];
                s += t, S += fabs(t);
            }
            assert_true(fabs(y[o] - s) <= gamma_f32(n_in + 1) * S + 1e-30);
        }
        for (int o = n_out; o < 64; o++) assert_true(y[o] == y0[o]);
    }
    free(A), free(x), free(y0);
}

/* Registered weights: results equal the unregistered product's (same kernels, or within
 * the float32 bound when the backend switches kernels), a second call reuses the copy, and
 * after the owner changes the weights and bumps the version the new weights are used. */
static void test_weight_cache(void **state) {
    (void)state;
    assert_int_equal(sv_blas_set_bf16(0), 0);
    prob p = make(0, 0, 16, 96, 64, 0, 1.0f, 1.0f, 99);
    size_t nb = (size_t)p.K * p.ldb;
    unsigned version = 1;
    assert_int_equal(sv_blas_weights_register(p.B, nb, &version), 0);
    sv_blas_info_t i0 = sv_blas_info();
    float *C1 = run(&p);
    assert_true(worst(&p, C1, gamma_f32(p.K + 1)) <= 1.0);
    float *C2 = run(&p);
    assert_memory_equal(C1, C2, (size_t)p.M * p.ldc * sizeof *C1);
    for (size_t i = 0; i < nb; i++) p.B[i] = -p.B[i]; /* the owner changes the weights */
    version++;
    float *C3 = run(&p);
    assert_true(worst(&p, C3, gamma_f32(p.K + 1)) <= 1.0); /* a stale copy would fail here */
    sv_blas_info_t i1 = sv_blas_info();
    if (i1.weight_cache) { /* oneDNN on brgemm kernels (else B is always read as stored) */
        assert_int_equal(i1.reorders - i0.reorders, 2);   /* once per version */
        assert_int_equal(i1.cache_hits - i0.cache_hits, 1);
    }
    assert_int_equal(i1.fallbacks, 0);
    sv_blas_weights_unregister(p.B);
    free(C1), free(C2), free(C3), unmake(&p);
}

/* More registered weight matrices than the backend keeps copies of (64): the least recently
 * used copies make room, every product stays right, none falls back to a slower path. */
static void test_weight_cache_full(void **state) {
    (void)state;
    assert_int_equal(sv_blas_set_bf16(0), 0);
    enum { NW = 80, M = 8, N = 32, K = 16 };
    /* One arena holding NW weight matrices, registered once, as a model's owner does. */
    float *arena = malloc((size_t)NW * K * N * sizeof *arena);
    prob p[NW];
    unsigned version = 1;
    unsigned long fb0 = sv_blas_info().fallbacks;
    for (int i = 0; i < NW; i++) {
        p[i] = make(0, 0, M, N, K, 0, 1.0f, 0.0f, (uint64_t)(1000 + i));
        memcpy(arena + (size_t)i * K * N, p[i].B, (size_t)K * N * sizeof *arena);
        free(p[i].B);
        p[i].B = arena + (size_t)i * K * N;
    }
    assert_int_equal(sv_blas_weights_register(arena, (size_t)NW * K * N, &version), 0);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < NW; i++) {
            float *C = run(&p[i]);
            assert_true(worst(&p[i], C, gamma_f32(K + 1)) <= 1.0);
            free(C);
        }
    assert_int_equal(sv_blas_info().fallbacks, fb0);
    sv_blas_weights_unregister(arena);
    for (int i = 0; i < NW; i++) p[i].B = NULL, unmake(&p[i]);
    free(arena);
}

/* Left to themselves, OpenBLAS 0.3.21 (NT 16 x 2048 x 512 differs in 2/3 of the elements
 * between 1 and 2 threads), dnnl_sgemm and oneDNN's gemm-based matmul (AVX2 CPUs, at 3
 * threads) give bits that depend on the thread count; the backends chunk such products
 * (gemm_chunks.h), oneDNN's brgemm matmul needs no help. */
static void test_threads_bitwise(void **state) {
    (void)state;
    assert_int_equal(sv_blas_set_bf16(0), 0);
    int saved = sv_blas_get_threads();
    /* Large enough for the backends to split the work between threads. */
    static const int big[][5] = {{16, 2048, 512, 0, 1}, {160, 1024, 512, 0, 0},
                                 {256, 1024, 160, 1, 0}, {160, 512, 1024, 0, 1},
                                 {1, 2048, 512, 0, 0}, {1, 2048, 512, 1, 1}};
    for (size_t s = 0; s < sizeof big / sizeof big[0]; s++) {
        prob p = make(big[s][3], big[s][4], big[s][0], big[s][1], big[s][2], 0, 1.0f, 1.0f,
                      (uint64_t)(500 + s));
        sv_blas_set_threads(1);
        float *C1 = run(&p);
        for (int t = 2; t <= 3; t++) { /* 3 on 2 cores too: kernels may split K by the count */
            sv_blas_set_threads(t);
            float *Ct = run(&p);
            size_t diff = 0;
            for (size_t i = 0; i < (size_t)p.M * p.ldc; i++) diff += memcmp(&C1[i], &Ct[i], 4) != 0;
            if (diff)
                fail_msg("%s (%s): %c%c M=%d N=%d K=%d: %zu of %zu elements differ between 1 "
                         "and %d threads", sv_blas_info().name, sv_blas_info().kernels,
                         p.ta ? 'T' : 'N', p.tb ? 'T' : 'N', p.M, p.N, p.K, diff,
                         (size_t)p.M * p.ldc, t);
            free(Ct);
        }
        free(C1), unmake(&p);
    }
    sv_blas_set_threads(saved);
}

static void test_bf16(void **state) {
    (void)state;
    unsetenv("SEQVID_NO_BF16");
    int sup = sv_blas_bf16_supported(), onednn = strcmp(sv_blas_info().name, "onednn") == 0;
    if (!onednn) assert_int_equal(sup, sv_bf16_cpu()); /* CBLAS: the CPU decides */
    int on = sv_blas_set_bf16(1);
    assert_int_equal(on, sup);
    assert_int_equal(sv_blas_get_bf16(), on);
    int seed = 300;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int reg = 0; reg < 2; reg++) {
                    prob p = make(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], reg ? 3 : 0,
                                  1.0f, reg ? 1.0f : 0.0f, (uint64_t)seed++);
                    unsigned version = 0;
                    sv_packed_range pk = {0};
                    if (reg) { /* as a model in bf16 precision registers its weights */
                        sv_blas_weights_register(p.B, (size_t)(tb ? p.N : p.K) * p.ldb,
                                                 &version);
                        sv_packed_register_bf16(&pk, p.B, (size_t)(tb ? p.N : p.K) * p.ldb,
                                                &version);
                    }
                    float *C = run(&p);
                    double w_bf = worst(&p, C, bound_bf16(p.K + 1));
                    double w_32 = worst(&p, C, gamma_f32(p.K + 1));
                    if (w_bf > 1.0)
                        fail_msg("bf16 %c%c M=%d N=%d K=%d: error %.2f x the bf16 bound",
                                 ta ? 'T' : 'N', tb ? 'T' : 'N', p.M, p.N, p.K, w_bf);
                    /* bf16 on: the products really are bf16 (far outside float32's bound);
                     * off: float32's bound holds. On CBLAS bf16 takes the products on
                     * registered weights with A as stored (packed.c), no others. */
                    if (on && (onednn || (reg && !ta))) assert_true(w_32 > 1.0);
                    else assert_true(w_32 <= 1.0);
                    if (reg) sv_blas_weights_unregister(p.B), sv_packed_unregister(&pk);
                    free(C), unmake(&p);
                }
    assert_int_equal(sv_blas_info().fallbacks, 0);
    sv_blas_set_bf16(0);
}

/* SEQVID_NO_BF16=1 forces the fallback: bf16 is reported unsupported, asking for it keeps
 * float32, and the products are bitwise those of the float32 path. */
static void test_bf16_forced_fallback(void **state) {
    (void)state;
    prob p = make(0, 1, 16, 96, 64, 0, 1.0f, 0.0f, 77);
    assert_int_equal(sv_blas_set_bf16(0), 0);
    float *C32 = run(&p);
    setenv("SEQVID_NO_BF16", "1", 1);
    assert_int_equal(sv_blas_bf16_supported(), 0);
    assert_int_equal(sv_blas_set_bf16(1), 0);
    assert_int_equal(sv_blas_get_bf16(), 0);
    float *C = run(&p);
    assert_memory_equal(C, C32, (size_t)p.M * p.ldc * sizeof *C);
    setenv("SEQVID_NO_BF16", "0", 1); /* "0" does not force it */
    unsetenv("SEQVID_NO_BF16");
    free(C), free(C32), unmake(&p);
}

/* The bf16 mode is the calling thread's: another thread's products stay float32. */
static void *other_thread(void *arg) {
    prob *p = arg;
    int *r = malloc(2 * sizeof *r);
    r[0] = sv_blas_get_bf16();
    float *C = run(p);
    r[1] = worst(p, C, gamma_f32(p->K + 1)) <= 1.0; /* float32's bound holds */
    free(C);
    return r;
}

static void test_bf16_per_thread(void **state) {
    (void)state;
    unsetenv("SEQVID_NO_BF16");
    int on = sv_blas_set_bf16(1);
    prob p = make(0, 0, 16, 96, 64, 0, 1.0f, 0.0f, 88);
    pthread_t t;
    void *res = NULL;
    assert_int_equal(pthread_create(&t, NULL, other_thread, &p), 0);
    assert_int_equal(pthread_join(t, &res), 0);
    int *r = res;
    assert_int_equal(r[0], 0);
    assert_int_equal(r[1], 1);
    assert_int_equal(sv_blas_get_bf16(), on); /* this thread's mode is unchanged */
    free(r), unmake(&p);
    sv_blas_set_bf16(0);
}

/* The oneDNN backend sets OpenMP's team size for its products; the host program's own setting
 * (a per-thread OpenMP variable) must be as it was afterwards. OpenMP's calls are weak here:
 * the CBLAS builds do not link it. */
extern int omp_get_max_threads(void) __attribute__((weak));
extern void omp_set_num_threads(int) __attribute__((weak));

static void test_host_openmp_setting_kept(void **state) {
    (void)state;
    if (!omp_get_max_threads || !omp_set_num_threads) skip();
    int saved = sv_blas_get_threads();
    sv_blas_set_threads(2);
    omp_set_num_threads(3);
    prob small = make(0, 0, 4, 8, 8, 0, 1.0f, 0.0f, 5);     /* runs on one thread */
    prob big = make(0, 0, 64, 512, 512, 0, 1.0f, 0.0f, 6);  /* runs on two */
    float *C1 = run(&small), *C2 = run(&big);
    assert_int_equal(omp_get_max_threads(), 3);
    free(C1), free(C2), unmake(&small), unmake(&big);
    sv_blas_set_threads(saved);
}

/* seqvid_experimental_backend: the backend's name and kernel set, and the advice to restart
 * with OPENBLAS_CORETYPE exactly when OpenBLAS runs its generic "Prescott" kernels on a CPU
 * with AVX2 and FMA ("SkylakeX" on AVX-512 CPUs, "Haswell" on AVX2 ones). OpenBLAS picks its
 * kernels when it loads, so the cases come from the
 * environment the test was started in: ctest runs this program as test_gemm (tests/run.sh:
 * OPENBLAS_CORETYPE=Haswell, or whatever the caller set) and, in an OpenBLAS build, again as
 * gemm_prescott with OPENBLAS_CORETYPE=Prescott (tests/backend.cmake). */
static int ascii_caseeq(const char *a, const char *b) {
    for (;; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
        if (x != y) return 0;
        if (!x) return 1;
    }
}

static void test_backend_report(void **state) {
    (void)state;
    const char *name = NULL, *kernels = NULL, *advice = "unset";
    assert_int_equal(seqvid_experimental_backend(&name, &kernels, &advice), SEQVID_OK);
    assert_int_equal(seqvid_experimental_backend(NULL, NULL, NULL), SEQVID_OK);
    assert_non_null(name), assert_non_null(kernels);
    assert_string_equal(name, sv_blas_info().name);
    const char *forced = getenv("OPENBLAS_CORETYPE");
    if (strcmp(name, "openblas")) { /* reference, onednn: nothing to advise */
        assert_null(advice);
        if (!strcmp(name, "reference")) assert_string_equal(kernels, "");
        else assert_true(kernels[0] != '\0'); /* oneDNN's ISA */
        return;
    }
    assert_true(kernels[0] != '\0');
    int generic = ascii_caseeq(kernels, "Prescott");
    const char *best = NULL; /* the set to advise, from the CPU's features */
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        best = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        best = "Haswell";
#endif
    if (forced && (ascii_caseeq(forced, "Haswell") || ascii_caseeq(forced, "Prescott")))
        assert_true(ascii_caseeq(kernels, forced)); /* OpenBLAS took the forced set */
    if (generic && best)
        assert_string_equal(advice, best);
    else
        assert_null(advice);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backend_report),
        cmocka_unit_test(test_f32_all_transposes), cmocka_unit_test(test_sgemv),
        cmocka_unit_test(test_weight_cache),       cmocka_unit_test(test_weight_cache_full),
        cmocka_unit_test(test_threads_bitwise),
        cmocka_unit_test(test_bf16),               cmocka_unit_test(test_bf16_forced_fallback),
        cmocka_unit_test(test_bf16_per_thread),
        cmocka_unit_test(test_host_openmp_setting_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
