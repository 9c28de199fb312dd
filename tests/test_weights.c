/* test_weights.c -- weights stored as bfloat16 (the experimental SEQVID_WEIGHTS_BF16):
 * the rounding against an independent one (frexp, 8 significant bits, ties to even), the
 * product against a float64 one, and a bf16 model against the float32 model whose weights
 * the test rounded itself: every inference call agrees to float32 rounding, at 1 and 3
 * threads (bitwise), on dense and sparse frames, one sequence and several. Then what such a
 * model refuses (training, the float32 arrays, saving) without changing, the way back to
 * float32 (exact), the classifier built from its encoder and a classifier stored in bf16,
 * loading straight into bf16, and the failures: NaN, a weight too large for bf16, and every
 * allocation failing in turn, each leaving the model as it was. Last, the float32 weights
 * with packed copies (SEQVID_WEIGHTS_F32_PACKED): every inference call agrees with the plain
 * float32 model, the copies follow training and writes through the params array, and the
 * storage goes to bf16 and back, saves and loads. */
#define _POSIX_C_SOURCE 200809L /* getpid */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#define SEQVID_EXPERIMENTAL
#include "seqvid.h"
#include "alloc.h"
#include "bf16.h"
#include "packed.h"
#include "rng.h"

/* The independent rounding: x = m 2^e with 1/2 <= |m| < 1; keep 8 significant bits of m,
 * nearbyint's ties to even (the default rounding mode). For normal floats. */
static float ref_bf16(float x) {
    if (x == 0.0f) return x;
    int e;
    double m = frexp((double)x, &e);
    return (float)ldexp(nearbyint(ldexp(m, 8)), e - 8);
}

static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void test_rounding(void **state) {
    (void)state;
    assert_int_equal(sv_bf16_from_float(1.0f), 0x3f80);
    assert_int_equal(sv_bf16_from_float(-1.0f), 0xbf80);
    assert_int_equal(sv_bf16_from_float(from_bits(0x3f808000u)), 0x3f80); /* tie: to even */
    assert_int_equal(sv_bf16_from_float(from_bits(0x3f818000u)), 0x3f82); /* tie: up to even */
    assert_int_equal(sv_bf16_from_float(from_bits(0x3f808001u)), 0x3f81); /* above the tie */
    assert_int_equal(sv_bf16_from_float(from_bits(0x3f807fffu)), 0x3f80); /* below it */
    assert_int_equal(sv_bf16_from_float(from_bits(0x7f7f7fffu)), 0x7f7f); /* largest finite */
    assert_int_equal(sv_bf16_from_float(FLT_MAX), 0x7f80);               /* overflows */
    float big[3] = {1.0f, -from_bits(0x7f7f7fffu), 0.5f}, huge[2] = {0.0f, -FLT_MAX};
    assert_int_equal(sv_bf16_fits(big, 3), 1);
    assert_int_equal(sv_bf16_fits(huge, 2), 0);
    assert_true(sv_bf16_to_float(0x3f82) == 1.015625f);

    /* Random normal floats of every exponent: the bit rounding equals frexp's, widening is
     * exact, and the in-place rounding gives the same bf16 values. */
    enum { N = 200000 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    sv_rng r;
    sv_rng_seed(&r, 7);
    for (int i = 0; i < N; i++) {
        uint32_t u = (uint32_t)(sv_rng_uniform(&r) * 4294967296.0);
        uint32_t e = 1 + (uint32_t)(sv_rng_uniform(&r) * 253.0); /* exponent 1..253 */
        x[i] = from_bits((u & 0x807fffffu) | (e << 23));
    }
    x[0] = 0.0f, x[1] = -0.0f;
    memcpy(y, x, N * sizeof *y);
    uint16_t *h = sv_bf16_round_in_place(y, N);
    for (int i = 0; i < N; i++) {
        uint16_t b = sv_bf16_from_float(x[i]);
        assert_int_equal(h[i], b);
        float w = sv_bf16_to_float(b);
        if (bits(w) != bits(ref_bf16(x[i])))
            fail_msg("x %a: bf16 %a, reference %a", (double)x[i], (double)w,
                     (double)ref_bf16(x[i]));
    }
    float *z = malloc(N * sizeof *z);
    sv_bf16_widen(h, z, N);
    for (int i = 0; i < N; i++) assert_true(bits(z[i]) == (uint32_t)h[i] << 16);
    free(x);
    free(y);
    free(z);
}

/* C += A W against float64, with zeros in A (whole pairs of k too), streamed and in panels,
 * and bitwise the same at 1 and 3 threads. */
static void check_product(int M, int N, int K, int use_panel, sv_rng *r) {
    int lda = K + 3, ldc = N + 5;
    float *A = calloc((size_t)M * lda, sizeof *A), *W = malloc((size_t)K * N * sizeof *W);
    float *C0 = malloc((size_t)M * ldc * sizeof *C0), *C1 = malloc((size_t)M * ldc * sizeof *C1);
    float *C3 = malloc((size_t)M * ldc * sizeof *C3);
    float *panel = use_panel ? malloc(SV_BF16_PANEL * sizeof *panel) : NULL;
    uint16_t *W16 = malloc((size_t)K * N * sizeof *W16);
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++) /* zero where (k / 2 + m) % 3 == 0: whole pairs */
            A[(size_t)m * lda + k] = (k / 2 + m) % 3 ? (float)(2 * sv_rng_uniform(r) - 1) : 0.0f;
    for (size_t i = 0; i < (size_t)K * N; i++) {
        W[i] = (float)(2 * sv_rng_uniform(r) - 1);
        W16[i] = sv_bf16_from_float(W[i]);
    }
    for (size_t i = 0; i < (size_t)M * ldc; i++) C0[i] = (float)(sv_rng_uniform(r) - 0.5);
    memcpy(C1, C0, (size_t)M * ldc * sizeof *C1);
    memcpy(C3, C0, (size_t)M * ldc * sizeof *C3);
    assert_int_equal(seqvid_set_threads(1), 0);
    sv_bf16_gemm_acc(M, N, K, A, lda, W16, C1, ldc, panel);
    assert_int_equal(seqvid_set_threads(3), 0);
    sv_bf16_gemm_acc(M, N, K, A, lda, W16, C3, ldc, panel);
    assert_int_equal(seqvid_set_threads(1), 0);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < ldc; n++) {
            size_t i = (size_t)m * ldc + n;
            assert_true(bits(C1[i]) == bits(C3[i]));
            if (n >= N) { /* past the product's columns: untouched */
                assert_true(bits(C1[i]) == bits(C0[i]));
                continue;
            }
            double s = C0[i], mag = fabs(C0[i]);
            for (int k = 0; k < K; k++) {
                double t = (double)A[(size_t)m * lda + k] *
                           sv_bf16_to_float(W16[(size_t)k * N + n]);
                s += t, mag += fabs(t);
            }
            if (!(fabs(C1[i] - s) <= 1e-6 * mag + 1e-30))
                fail_msg("M %d N %d K %d panel %d: C[%d,%d] %.9g, float64 %.9g", M, N, K,
                         use_panel, m, n, (double)C1[i], s);
        }
    free(A), free(W), free(W16), free(C0), free(C1), free(C3), free(panel);
}

static void test_product(void **state) {
    (void)state;
    sv_rng r;
    sv_rng_seed(&r, 11);
    const int Ms[] = {1, 2, 3, 5, 8, 17}, Ns[] = {1, 7, 8, 9, 40, 257}, Ks[] = {1, 2, 3, 31, 64};
    for (int a = 0; a < 6; a++)
        for (int b = 0; b < 6; b++)
            for (int c = 0; c < 5; c++)
                for (int p = 0; p < 2; p++) check_product(Ms[a], Ns[b], Ks[c], p, &r);
    check_product(33, 4096, 200, 1, &r); /* panels of 128 and 72 rows of W */
    check_product(8, 8192, 520, 1, &r);  /* 8 rows, W past 2^22 weights: panels of 64 */
    check_product(40, 257, 70, 1, &r);   /* one panel */
    check_product(40, 257, 70, 0, &r);   /* no scratch: tiles */
    check_product(1, 8192, 37, 1, &r);   /* one row: streamed even with a panel */
    check_product(32, 100, 600, 1, &r);  /* tiles up to 32 rows, K past a block of 256 */

    /* A row gives bitwise the same sums alone (streamed) as in a batch of tiles. */
    enum { RM = 7, RK = 300, RN = 77 };
    float A[RM * RK], C[RM * RN], C1[RN];
    uint16_t W[RK * RN];
    for (int i = 0; i < RM * RK; i++) A[i] = i % 5 ? (float)(sv_rng_uniform(&r) - 0.5) : 0.0f;
    for (int i = 0; i < RK * RN; i++) W[i] = sv_bf16_from_float((float)(sv_rng_uniform(&r) - 0.5));
    for (int i = 0; i < RM * RN; i++) C[i] = (float)(sv_rng_uniform(&r) + 0.5);
    float C0[RM * RN];
    memcpy(C0, C, sizeof C);
    sv_bf16_gemm_acc(RM, RN, RK, A, RK, W, C, RN, NULL);
    for (int m = 0; m < RM; m++) {
        memcpy(C1, C0 + m * RN, sizeof C1);
        sv_bf16_gemm_acc(1, RN, RK, A + m * RK, RK, W, C1, RN, NULL);
        assert_memory_equal(C1, C + m * RN, sizeof C1);
    }
}

/* ---- models ------------------------------------------------------------------------------ */

enum { D = 48, H = 16, K = 4, M = 3 };

static seqvid_model *make(int layers, int cond_future) {
    seqvid_config *cfg;
    assert_int_equal(seqvid_config_create(&cfg), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_INPUT_DIM, D), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_HIDDEN, H), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_LAYERS, layers), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_INPUT_FRAMES, K), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_FUTURE_FRAMES, M), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_COND_FUTURE, cond_future), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_INIT_WEIGHT, 0.3), 0);
    seqvid_model *m;
    assert_int_equal(seqvid_model_create(cfg, &m), 0);
    seqvid_config_free(cfg);
    return m;
}

/* A model and a copy (same seed) whose weights the test rounds itself. */
static void make_pair(int layers, int cond_future, seqvid_model **bf, seqvid_model **ref) {
    *bf = make(layers, cond_future);
    *ref = make(layers, cond_future);
    float *p;
    size_t n;
    assert_int_equal(seqvid_model_params(*ref, &p), 0);
    assert_int_equal(seqvid_model_param_count(*ref, &n), 0);
    for (size_t i = 0; i < n; i++) p[i] = ref_bf16(p[i]);
}

/* Frames: dense uniform, or binary with 10% ones (the kernel's sparse path). */
static seqvid_batch *frames(size_t S, int sparse, uint64_t seed) {
    seqvid_batch *b;
    float *x;
    size_t T = K + M;
    assert_int_equal(seqvid_batch_create(T, S, D, &b), 0);
    assert_int_equal(seqvid_batch_data(b, &x), 0);
    sv_rng r;
    sv_rng_seed(&r, seed);
    for (size_t i = 0; i < T * S * D; i++) {
        double u = sv_rng_uniform(&r);
        x[i] = sparse ? (float)(u < 0.1) : (float)u;
    }
    return b;
}

static void near(const float *a, const float *b, size_t n, double tol, const char *what) {
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)a[i] - (double)b[i]) <= tol * (1.0 + fabs((double)b[i]))))
            fail_msg("%s[%zu]: stored model %.9g, float32 model %.9g", what, i, (double)a[i],
                     (double)b[i]);
}

/* Every inference call of m, into one array (losses, features, reconstructions,
 * predictions, streamed features), in a fixed order. */
static float *outputs(seqvid_model *m, const seqvid_batch *b, size_t S, size_t *count) {
    const size_t F = 2 * 2 * H, T = K + M, NF = 5; /* F: up to 2 layers */
    size_t L = 0, n = 4 + S * F + T * S * D + NF * S * D + S * F;
    float *o = calloc(n, sizeof *o), *p = o;
    assert_int_equal(seqvid_model_evaluate(m, b, SEQVID_EVAL_INFERENCE, p, p + 1), 0);
    assert_int_equal(seqvid_model_evaluate(m, b, SEQVID_EVAL_TEACHER_FORCED, p + 2, p + 3), 0);
    p += 4;
    assert_int_equal(seqvid_model_feature_dim(m, &L), 0);
    assert_int_equal(seqvid_model_encode(m, b, p, S * L), 0);
    p += S * F;
    assert_int_equal(seqvid_model_reconstruct(m, b, p, T * S * D), 0);
    p += T * S * D;
    assert_int_equal(seqvid_model_predict(m, b, NF, p, NF * S * D), 0);
    p += NF * S * D;
    seqvid_stream *st;
    float *x;
    assert_int_equal(seqvid_batch_data((seqvid_batch *)b, &x), 0);
    assert_int_equal(seqvid_stream_create(m, S, &st), 0);
    for (size_t t = 0; t < T; t++)
        assert_int_equal(seqvid_stream_push(st, x + t * S * D, S * D), 0);
    assert_int_equal(seqvid_stream_features(st, p, S * L), 0);
    seqvid_stream_free(st);
    *count = n;
    return o;
}

/* A model stored as `weights` against the float32 model with the weights it should compute
 * with (bf16: rounded by the test; packed: the same): every inference call within `tol`, and
 * bitwise the same at 1 and 3 threads. */
static void check_storage(int weights, double tol) {
    for (int layers = 1; layers <= 2; layers++)
        for (int cond = 0; cond <= 1; cond++) {
            seqvid_model *m, *ref;
            if (weights == SEQVID_WEIGHTS_BF16) {
                make_pair(layers, cond, &m, &ref);
            } else {
                m = make(layers, cond), ref = make(layers, cond);
            }
            int w = -1;
            assert_int_equal(seqvid_experimental_model_get_weights(m, &w), 0);
            assert_int_equal(w, SEQVID_WEIGHTS_F32);
            assert_int_equal(seqvid_experimental_model_set_weights(m, weights), 0);
            assert_int_equal(seqvid_experimental_model_get_weights(m, &w), 0);
            assert_int_equal(w, weights);
            for (size_t S = 1; S <= 5; S += 4)
                for (int sparse = 0; sparse <= 1; sparse++) {
                    seqvid_batch *b = frames(S, sparse, 100 + S + sparse);
                    size_t n, n3;
                    unsigned long packs0, hits0, packs, hits;
                    sv_packed_counts(&packs0, &hits0);
                    float *want = outputs(ref, b, S, &n), *got = outputs(m, b, S, &n);
                    sv_packed_counts(&packs, &hits);
                    /* the packed products really ran (and only for packed weights) */
                    assert_int_equal(hits > hits0, weights == SEQVID_WEIGHTS_F32_PACKED);
                    near(got, want, n, tol, "output");
                    assert_int_equal(seqvid_set_threads(3), 0);
                    float *got3 = outputs(m, b, S, &n3);
                    assert_int_equal(seqvid_set_threads(1), 0);
                    assert_memory_equal(got, got3, n * sizeof *got); /* thread count: bitwise */
                    free(want), free(got), free(got3);
                    seqvid_batch_free(b);
                }
            seqvid_model_free(m);
            seqvid_model_free(ref);
        }
}

static void test_model_matches_rounded(void **state) {
    (void)state;
    check_storage(SEQVID_WEIGHTS_BF16, 2e-5);
}

/* What a bf16 model refuses, and that refusing changes nothing; then back to float32. */
static void test_refusals_and_way_back(void **state) {
    (void)state;
    seqvid_model *bf, *ref;
    make_pair(1, 0, &bf, &ref);
    seqvid_batch *b = frames(3, 1, 5);
    seqvid_optimizer *opt;
    assert_int_equal(seqvid_optimizer_create(SEQVID_OPT_ADAM, &opt), 0);
    float *g;
    /* Gradients allocated before the conversion: freed by it. */
    assert_int_equal(seqvid_model_gradients(bf, b, NULL, NULL), 0);
    assert_int_equal(seqvid_experimental_model_set_weights(bf, SEQVID_WEIGHTS_BF16), 0);
    assert_int_equal(seqvid_experimental_model_set_weights(bf, SEQVID_WEIGHTS_BF16), 0); /* no-op */
    size_t n;
    float *before = outputs(bf, b, 3, &n), *p;
    assert_int_equal(seqvid_model_params(bf, &p), SEQVID_ERR_STATE);
    assert_non_null(strstr(seqvid_last_error(), "bf16"));
    assert_int_equal(seqvid_model_grads(bf, &g), SEQVID_ERR_STATE);
    assert_int_equal(seqvid_model_gradients(bf, b, NULL, NULL), SEQVID_ERR_STATE);
    assert_int_equal(seqvid_model_train_step(bf, opt, b, NULL, NULL), SEQVID_ERR_STATE);
    assert_int_equal(seqvid_optimizer_step(opt, bf), SEQVID_ERR_STATE);
    char buf[64];
    size_t size = 0;
    assert_int_equal(seqvid_model_save_buffer(bf, buf, sizeof buf, &size), SEQVID_ERR_STATE);
    assert_int_equal(seqvid_model_save(bf, "never-written.safetensors"), SEQVID_ERR_STATE);
    assert_int_equal(seqvid_checkpoint_save("never-written.safetensors", bf, opt, NULL, 0),
                     SEQVID_ERR_STATE);
    FILE *f = fopen("never-written.safetensors", "rb");
    assert_null(f);
    assert_int_equal(seqvid_experimental_model_set_weights(bf, 3), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_experimental_model_set_weights(bf, -1), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_experimental_model_set_weights(NULL, 0), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_experimental_model_get_weights(bf, NULL), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_experimental_model_get_weights(NULL, &(int){0}), SEQVID_ERR_NULL);
    float *after = outputs(bf, b, 3, &n);
    assert_memory_equal(before, after, n * sizeof *before);

    /* Back: the weights are the rounded ones exactly, and the model trains and saves. */
    assert_int_equal(seqvid_experimental_model_set_weights(bf, SEQVID_WEIGHTS_F32), 0);
    float *pr;
    assert_int_equal(seqvid_model_params(bf, &p), 0);
    assert_int_equal(seqvid_model_params(ref, &pr), 0);
    assert_int_equal(seqvid_model_param_count(bf, &n), 0);
    assert_memory_equal(p, pr, n * sizeof *p);
    float l0, l1;
    assert_int_equal(seqvid_model_train_step(bf, opt, b, &l0, NULL), 0);
    assert_int_equal(seqvid_model_train_step(bf, opt, b, &l1, NULL), 0);
    assert_true(l1 < l0);
    assert_int_equal(seqvid_model_save_buffer(bf, NULL, 0, &size), 0);
    void *file = malloc(size);
    assert_int_equal(seqvid_model_save_buffer(bf, file, size, &size), 0);
    seqvid_model *back;
    float *pb;
    assert_int_equal(seqvid_model_load_buffer(file, size, &back), 0);
    assert_int_equal(seqvid_model_params(back, &pb), 0);
    assert_int_equal(seqvid_model_params(bf, &p), 0);
    assert_memory_equal(pb, p, n * sizeof *p);
    seqvid_model_free(back);
    free(file);
    free(before), free(after);
    seqvid_optimizer_free(opt);
    seqvid_batch_free(b);
    seqvid_model_free(bf);
    seqvid_model_free(ref);
}

/* A classifier from a bf16 model's encoder gets the rounded encoder. */
static void test_classifier_from_bf16(void **state) {
    (void)state;
    seqvid_model *bf, *ref;
    make_pair(2, 1, &bf, &ref);
    assert_int_equal(seqvid_experimental_model_set_weights(bf, SEQVID_WEIGHTS_BF16), 0);
    seqvid_classifier *c1, *c2;
    assert_int_equal(seqvid_classifier_create_from_encoder(bf, 3, &c1), 0);
    assert_int_equal(seqvid_classifier_create_from_encoder(ref, 3, &c2), 0);
    float *p1, *p2, *pr;
    size_t n, nb;
    assert_int_equal(seqvid_classifier_params(c1, &p1), 0);
    assert_int_equal(seqvid_classifier_params(c2, &p2), 0);
    assert_int_equal(seqvid_classifier_param_count(c1, &n), 0);
    assert_memory_equal(p1, p2, n * sizeof *p1); /* the readout: both from the same seed */
    /* copy_encoder into a classifier whose encoder differs */
    assert_int_equal(seqvid_model_params(ref, &pr), 0);
    assert_int_equal(seqvid_classifier_param_block_count(c1, &nb), 0);
    memset(p1, 0, n * sizeof *p1);
    assert_int_equal(seqvid_classifier_copy_encoder(c1, bf), 0);
    for (size_t i = 0; i < nb; i++) {
        const char *name;
        size_t off, rows, cols;
        assert_int_equal(seqvid_classifier_param_block(c1, i, &name, &off, &rows, &cols), 0);
        if (strncmp(name, "encoder.", 8)) continue;
        assert_memory_equal(p1 + off, p2 + off, rows * cols * sizeof *p1);
    }
    seqvid_classifier_free(c1);
    seqvid_classifier_free(c2);
    seqvid_model_free(bf);
    seqvid_model_free(ref);
}

/* A classifier stored in bf16: predictions and losses of the float32 classifier with rounded
 * weights, bitwise alike at 1 and 3 threads; what it refuses changes nothing; back exactly. */
static void cls_outputs(seqvid_classifier *c, const seqvid_batch *b, const int *labels,
                        float *out) {
    assert_int_equal(seqvid_classifier_predict(c, b, out, 3 * 3), 0);
    assert_int_equal(seqvid_classifier_evaluate(c, b, labels, 3, out + 9, out + 10), 0);
}

static void test_classifier_weights(void **state) {
    (void)state;
    seqvid_model *m = make(2, 1);
    seqvid_classifier *c, *ref;
    assert_int_equal(seqvid_classifier_create_from_encoder(m, 3, &c), 0);
    assert_int_equal(seqvid_classifier_create_from_encoder(m, 3, &ref), 0);
    float *pr, *p;
    size_t n;
    assert_int_equal(seqvid_classifier_params(ref, &pr), 0);
    assert_int_equal(seqvid_classifier_param_count(ref, &n), 0);
    for (size_t i = 0; i < n; i++) pr[i] = ref_bf16(pr[i]);
    assert_int_equal(seqvid_experimental_classifier_set_weights(c, SEQVID_WEIGHTS_BF16), 0);
    int w = -1;
    assert_int_equal(seqvid_experimental_classifier_get_weights(c, &w), 0);
    assert_int_equal(w, SEQVID_WEIGHTS_BF16);
    const int labels[3] = {0, 2, 1};
    for (int sparse = 0; sparse <= 1; sparse++) {
        seqvid_batch *b = frames(3, sparse, 40 + sparse);
        float want[11], got[11], got3[11];
        cls_outputs(ref, b, labels, want);
        cls_outputs(c, b, labels, got);
        near(got, want, 11, 2e-5, "classifier output");
        assert_int_equal(seqvid_set_threads(3), 0);
        cls_outputs(c, b, labels, got3);
        assert_int_equal(seqvid_set_threads(1), 0);
        assert_memory_equal(got, got3, sizeof got);
        if (sparse) { /* refusals, then the same outputs */
            seqvid_optimizer *opt;
            assert_int_equal(seqvid_optimizer_create(SEQVID_OPT_ADAM, &opt), 0);
            assert_int_equal(seqvid_classifier_params(c, &p), SEQVID_ERR_STATE);
            assert_int_equal(seqvid_classifier_grads(c, &p), SEQVID_ERR_STATE);
            assert_int_equal(seqvid_classifier_gradients(c, b, labels, 3, NULL, NULL),
                             SEQVID_ERR_STATE);
            assert_int_equal(seqvid_classifier_update(c, opt), SEQVID_ERR_STATE);
            assert_int_equal(seqvid_classifier_train_step(c, opt, b, labels, 3, NULL, NULL),
                             SEQVID_ERR_STATE);
            assert_int_equal(seqvid_classifier_copy_encoder(c, m), SEQVID_ERR_STATE);
            size_t size;
            char buf[16];
            assert_int_equal(seqvid_classifier_save_buffer(c, buf, sizeof buf, &size),
                             SEQVID_ERR_STATE);
            cls_outputs(c, b, labels, got3);
            assert_memory_equal(got, got3, sizeof got);
            seqvid_optimizer_free(opt);
        }
        seqvid_batch_free(b);
    }
    assert_int_equal(seqvid_experimental_classifier_set_weights(c, 3), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_experimental_classifier_set_weights(NULL, 0), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_experimental_classifier_get_weights(c, NULL), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_experimental_classifier_set_weights(c, SEQVID_WEIGHTS_F32), 0);
    assert_int_equal(seqvid_classifier_params(c, &p), 0);
    assert_memory_equal(p, pr, n * sizeof *p);
    assert_int_equal(seqvid_classifier_copy_encoder(c, m), 0);
    seqvid_classifier_free(c);
    seqvid_classifier_free(ref);
    seqvid_model_free(m);
}

/* NaN, a weight too large for bf16, and out of memory: refused, nothing changed. */
static void test_failures_change_nothing(void **state) {
    (void)state;
    seqvid_model *m = make(1, 1);
    seqvid_batch *b = frames(2, 0, 9);
    size_t n, np;
    float *p, *want = outputs(m, b, 2, &n);
    assert_int_equal(seqvid_model_params(m, &p), 0);
    assert_int_equal(seqvid_model_param_count(m, &np), 0);
    float keep = p[np / 2];
    const float bad[2] = {NAN, FLT_MAX};
    for (int i = 0; i < 2; i++) {
        p[np / 2] = bad[i];
        assert_int_equal(seqvid_experimental_model_set_weights(m, SEQVID_WEIGHTS_BF16),
                         SEQVID_ERR_NONFINITE);
        int w;
        assert_int_equal(seqvid_experimental_model_get_weights(m, &w), 0);
        assert_int_equal(w, SEQVID_WEIGHTS_F32);
        float *q;
        assert_int_equal(seqvid_model_params(m, &q), 0);
        assert_ptr_equal(q, p);
        assert_true(bits(q[np / 2]) == bits(bad[i]));
        p[np / 2] = keep;
    }
    float *got = outputs(m, b, 2, &n);
    assert_memory_equal(got, want, n * sizeof *got);
    free(got);

    /* Every allocation of each direction fails in turn. */
    for (int dir = 0; dir < 2; dir++) {
        int target = dir ? SEQVID_WEIGHTS_F32 : SEQVID_WEIGHTS_BF16, st, w;
        float *ref = dir ? NULL : outputs(m, b, 2, &n);
        if (dir) {
            assert_int_equal(seqvid_experimental_model_set_weights(m, SEQVID_WEIGHTS_BF16), 0);
            ref = outputs(m, b, 2, &n);
        }
        long k = 1;
        do {
            sv_alloc_fail_at(k++);
            st = seqvid_experimental_model_set_weights(m, target);
            sv_alloc_fail_at(0);
            assert_int_equal(seqvid_experimental_model_get_weights(m, &w), 0);
            if (st) {
                assert_int_equal(st, SEQVID_ERR_NOMEM);
                assert_int_equal(w, 1 - target);
                got = outputs(m, b, 2, &n);
                assert_memory_equal(got, ref, n * sizeof *got);
                free(got);
            }
        } while (st);
        assert_int_equal(w, target);
        assert_true(k > 2); /* at least one failure was exercised */
        free(ref);
    }
    free(want);
    seqvid_batch_free(b);
    seqvid_model_free(m);
}

/* Loading straight into bf16 gives bitwise what loading and converting gives; a checkpoint
 * too; a weight too large for bf16 is refused; every allocation failing in turn is reported
 * and leaks nothing (the sanitizer and valgrind stages see to the leaks). */
static void test_load_as(void **state) {
    (void)state;
    seqvid_model *m = make(2, 1), *a, *b;
    seqvid_batch *bt = frames(3, 1, 21);
    size_t size, n;
    assert_int_equal(seqvid_model_save_buffer(m, NULL, 0, &size), 0);
    unsigned char *file = malloc(size);
    assert_int_equal(seqvid_model_save_buffer(m, file, size, &size), 0);
    assert_int_equal(
        seqvid_experimental_model_load_buffer_as(file, size, SEQVID_WEIGHTS_BF16, &a), 0);
    assert_int_equal(seqvid_model_load_buffer(file, size, &b), 0);
    assert_int_equal(seqvid_experimental_model_set_weights(b, SEQVID_WEIGHTS_BF16), 0);
    int w;
    assert_int_equal(seqvid_experimental_model_get_weights(a, &w), 0);
    assert_int_equal(w, SEQVID_WEIGHTS_BF16);
    float *oa = outputs(a, bt, 3, &n), *ob = outputs(b, bt, 3, &n);
    assert_memory_equal(oa, ob, n * sizeof *oa);
    free(oa), free(ob);
    /* ... and back to float32: the same rounded weights */
    float *pa, *pb;
    assert_int_equal(seqvid_experimental_model_set_weights(a, SEQVID_WEIGHTS_F32), 0);
    assert_int_equal(seqvid_experimental_model_set_weights(b, SEQVID_WEIGHTS_F32), 0);
    assert_int_equal(seqvid_model_params(a, &pa), 0);
    assert_int_equal(seqvid_model_params(b, &pb), 0);
    assert_int_equal(seqvid_model_param_count(a, &n), 0);
    assert_memory_equal(pa, pb, n * sizeof *pa);
    seqvid_model_free(a);
    seqvid_model_free(b);

    /* F32 is seqvid_model_load; bad arguments */
    assert_int_equal(
        seqvid_experimental_model_load_buffer_as(file, size, SEQVID_WEIGHTS_F32, &a), 0);
    assert_int_equal(seqvid_experimental_model_get_weights(a, &w), 0);
    assert_int_equal(w, SEQVID_WEIGHTS_F32);
    seqvid_model_free(a);
    a = (seqvid_model *)file;
    assert_int_equal(seqvid_experimental_model_load_buffer_as(file, size, 3, &a), SEQVID_ERR_ARG);
    assert_null(a);
    assert_int_equal(seqvid_experimental_model_load_buffer_as(NULL, size, 1, &a), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_experimental_model_load_buffer_as(file, size, 1, NULL),
                     SEQVID_ERR_NULL);
    assert_int_equal(seqvid_experimental_model_load_as(NULL, 1, &a), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_experimental_model_load_as("no/such/file", 1, &a), SEQVID_ERR_IO);
    assert_int_equal(seqvid_experimental_model_load_buffer_as(file, size / 2, 1, &a),
                     SEQVID_ERR_FORMAT);
    assert_null(a);

    /* Every allocation fails in turn. */
    long k = 1;
    int st;
    do {
        sv_alloc_fail_at(k++);
        st = seqvid_experimental_model_load_buffer_as(file, size, SEQVID_WEIGHTS_BF16, &a);
        sv_alloc_fail_at(0);
        if (st) {
            assert_int_equal(st, SEQVID_ERR_NOMEM);
            assert_null(a);
        }
    } while (st);
    assert_true(k > 4);
    seqvid_model_free(a);

    /* A checkpoint with Adam's state, from a file. */
    seqvid_optimizer *opt;
    assert_int_equal(seqvid_optimizer_create(SEQVID_OPT_ADAM, &opt), 0);
    assert_int_equal(seqvid_model_train_step(m, opt, bt, NULL, NULL), 0);
    char path[64];
    snprintf(path, sizeof path, "test_weights_%ld.safetensors", (long)getpid());
    assert_int_equal(seqvid_checkpoint_save(path, m, opt, NULL, 1), 0);
    assert_int_equal(seqvid_experimental_model_load_as(path, SEQVID_WEIGHTS_BF16, &a), 0);
    assert_int_equal(seqvid_model_load(path, &b), 0);
    assert_int_equal(seqvid_experimental_model_set_weights(b, SEQVID_WEIGHTS_BF16), 0);
    oa = outputs(a, bt, 3, &n), ob = outputs(b, bt, 3, &n);
    assert_memory_equal(oa, ob, n * sizeof *oa);
    free(oa), free(ob);
    seqvid_model_free(a);
    seqvid_model_free(b);
    remove(path);

    /* A finite weight too large for bf16: the float32 load takes it, the bf16 one refuses. */
    float *p;
    assert_int_equal(seqvid_model_params(m, &p), 0);
    p[5] = FLT_MAX;
    assert_int_equal(seqvid_model_save_buffer(m, file, size, &size), 0);
    assert_int_equal(seqvid_model_load_buffer(file, size, &b), 0);
    seqvid_model_free(b);
    assert_int_equal(seqvid_experimental_model_load_buffer_as(file, size, SEQVID_WEIGHTS_BF16, &a),
                     SEQVID_ERR_NONFINITE);
    assert_non_null(strstr(seqvid_last_error(), "too large for bf16"));
    assert_null(a);
    free(file);
    seqvid_optimizer_free(opt);
    seqvid_batch_free(bt);
    seqvid_model_free(m);
}

/* ---- float32 with packed copies ------------------------------------------------------------ */

/* Only the order of float32 sums differs from the plain float32 model. */
static void test_packed_matches_f32(void **state) {
    (void)state;
    check_storage(SEQVID_WEIGHTS_F32_PACKED, 1e-5);
}

/* The copies follow the weights: through training (each optimizer step) and through writes
 * into the params array; the storage goes to bf16 and back, saves, and loads as packed. */
static void test_packed_follows_weights(void **state) {
    (void)state;
    seqvid_model *pk = make(1, 1), *ref = make(1, 1);
    assert_int_equal(seqvid_experimental_model_set_weights(pk, SEQVID_WEIGHTS_F32_PACKED), 0);
    seqvid_batch *b = frames(5, 0, 31);
    size_t n, np;
    float *start = outputs(pk, b, 5, &n);
    seqvid_optimizer *o1, *o2;
    assert_int_equal(seqvid_optimizer_create(SEQVID_OPT_ADAM, &o1), 0);
    assert_int_equal(seqvid_optimizer_create(SEQVID_OPT_ADAM, &o2), 0);
    for (int i = 0; i < 5; i++) {
        float lp, lr;
        assert_int_equal(seqvid_model_train_step(pk, o1, b, &lp, NULL), 0);
        assert_int_equal(seqvid_model_train_step(ref, o2, b, &lr, NULL), 0);
        near(&lp, &lr, 1, 1e-5, "training loss");
    }
    float *got = outputs(pk, b, 5, &n), *want = outputs(ref, b, 5, &n);
    near(got, want, n, 1e-4, "after training");
    double moved = 0; /* the weights moved far more than the tolerance: a stale copy shows */
    for (size_t i = 0; i < n; i++) moved = fmax(moved, fabs((double)got[i] - start[i]));
    assert_true(moved > 1e-2);
    free(got), free(want);

    /* a write through the params array, with no call in between */
    float *pp, *pr;
    assert_int_equal(seqvid_model_params(pk, &pp), 0);
    assert_int_equal(seqvid_model_params(ref, &pr), 0);
    assert_int_equal(seqvid_model_param_count(pk, &np), 0);
    for (size_t i = 0; i < np; i++) pp[i] *= -0.5f, pr[i] *= -0.5f;
    got = outputs(pk, b, 5, &n), want = outputs(ref, b, 5, &n);
    near(got, want, n, 1e-4, "after a write through params");
    free(got), free(want);

    /* to bf16 and back to packed: the rounded weights, still packed */
    assert_int_equal(seqvid_experimental_model_set_weights(pk, SEQVID_WEIGHTS_BF16), 0);
    assert_int_equal(seqvid_experimental_model_set_weights(ref, SEQVID_WEIGHTS_BF16), 0);
    assert_int_equal(seqvid_experimental_model_set_weights(pk, SEQVID_WEIGHTS_F32_PACKED), 0);
    assert_int_equal(seqvid_experimental_model_set_weights(ref, SEQVID_WEIGHTS_F32), 0);
    int w;
    assert_int_equal(seqvid_experimental_model_get_weights(pk, &w), 0);
    assert_int_equal(w, SEQVID_WEIGHTS_F32_PACKED);
    got = outputs(pk, b, 5, &n), want = outputs(ref, b, 5, &n);
    near(got, want, n, 1e-5, "after bf16 and back");
    free(got), free(want);

    /* saves as float32; loads as packed; plain float32 again gives the plain products */
    size_t size;
    assert_int_equal(seqvid_model_save_buffer(pk, NULL, 0, &size), 0);
    void *file = malloc(size);
    assert_int_equal(seqvid_model_save_buffer(pk, file, size, &size), 0);
    seqvid_model *back;
    assert_int_equal(
        seqvid_experimental_model_load_buffer_as(file, size, SEQVID_WEIGHTS_F32_PACKED, &back), 0);
    assert_int_equal(seqvid_experimental_model_get_weights(back, &w), 0);
    assert_int_equal(w, SEQVID_WEIGHTS_F32_PACKED);
    float *a1 = outputs(back, b, 5, &n), *a2 = outputs(pk, b, 5, &n);
    assert_memory_equal(a1, a2, n * sizeof *a1);
    assert_int_equal(seqvid_experimental_model_set_weights(back, SEQVID_WEIGHTS_F32), 0);
    seqvid_model *loaded;
    assert_int_equal(seqvid_model_load_buffer(file, size, &loaded), 0);
    float *plain = outputs(back, b, 5, &n), *f32 = outputs(loaded, b, 5, &n);
    assert_memory_equal(plain, f32, n * sizeof *plain);
    free(a1), free(a2), free(plain), free(f32), free(file), free(start);
    seqvid_model_free(back), seqvid_model_free(loaded);
    seqvid_optimizer_free(o1), seqvid_optimizer_free(o2);
    seqvid_batch_free(b);
    seqvid_model_free(pk), seqvid_model_free(ref);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rounding),
        cmocka_unit_test(test_product),
        cmocka_unit_test(test_model_matches_rounded),
        cmocka_unit_test(test_refusals_and_way_back),
        cmocka_unit_test(test_classifier_from_bf16),
        cmocka_unit_test(test_classifier_weights),
        cmocka_unit_test(test_failures_change_nothing),
        cmocka_unit_test(test_load_as),
        cmocka_unit_test(test_packed_matches_f32),
        cmocka_unit_test(test_packed_follows_weights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
