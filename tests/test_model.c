/* test_model.c -- the model API: bad arguments, non-finite handling, inference consistency,
 * variable lengths, and that training actually learns. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#define SEQVID_EXPERIMENTAL /* the experimental section too */
#define SEQVID_EXPERIMENTAL /* the precision functions */
#include "seqvid.h"
#include "blas.h"
#include "classifier.h"
#include "model.h"
#include "rng.h"

static seqvid_model *tiny_model(int kind, int D, int H, int K, int M, int output) {
    seqvid_config *cfg;
    assert_int_equal(seqvid_config_create(&cfg), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_KIND, kind), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_INPUT_DIM, D), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_HIDDEN, H), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_INPUT_FRAMES, K), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_FUTURE_FRAMES, M), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_OUTPUT, output), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_INIT_WEIGHT, 0.3), 0);
    seqvid_model *m;
    assert_int_equal(seqvid_model_create(cfg, &m), 0);
    seqvid_config_free(cfg);
    return m;
}

static seqvid_batch *random_batch(size_t T, size_t S, size_t D, uint64_t seed) {
    seqvid_batch *b;
    float *x;
    assert_int_equal(seqvid_batch_create(T, S, D, &b), 0);
    assert_int_equal(seqvid_batch_data(b, &x), 0);
    sv_rng r;
    sv_rng_seed(&r, seed);
    for (size_t i = 0; i < T * S * D; i++) x[i] = (float)sv_rng_uniform(&r);
    return b;
}

/* ---------------------------------------------------------------------------------------- */

static void test_version_and_status(void **state) {
    char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d", SEQVID_VERSION_MAJOR, SEQVID_VERSION_MINOR,
             SEQVID_VERSION_PATCH);
    assert_string_equal(seqvid_version_string(), buf);
    assert_int_equal(seqvid_version_number(), SEQVID_VERSION_NUMBER);
    for (int s = 0; s < SEQVID_STATUS_COUNT_; s++) {
        assert_non_null(seqvid_status_string(s));
        assert_string_not_equal(seqvid_status_string(s), "unknown status");
    }
    assert_string_equal(seqvid_status_string(-1), "unknown status");
    assert_string_equal(seqvid_status_string(SEQVID_STATUS_COUNT_), "unknown status");
    assert_int_equal(seqvid_set_threads(-1), SEQVID_ERR_ARG);
    assert_non_null(strstr(seqvid_last_error(), "seqvid_set_threads"));
    assert_int_equal(seqvid_set_threads(1), SEQVID_OK);
}

static void test_config_bad(void **state) {
    seqvid_config *cfg;
    double v;
    assert_int_equal(seqvid_config_create(NULL), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_config_create(&cfg), 0);
    assert_int_equal(seqvid_config_set(NULL, SEQVID_CFG_HIDDEN, 8), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_config_set(cfg, 0, 8), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_config_set(cfg, 999, 8), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_HIDDEN, 0), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_HIDDEN, 8.5), SEQVID_ERR_ARG);
    assert_non_null(strstr(seqvid_last_error(), "HIDDEN"));
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_HIDDEN, NAN), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_KIND, 4), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_INIT_WEIGHT, -1), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_config_get(cfg, SEQVID_CFG_HIDDEN, &v), 0);
    assert_true(v == 2048); /* unchanged by the failed sets: the SR15 default */
    assert_int_equal(seqvid_config_get(cfg, SEQVID_CFG_HIDDEN, NULL), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_config_get(NULL, SEQVID_CFG_HIDDEN, &v), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_config_get(cfg, 77, &v), SEQVID_ERR_ARG);
    /* 4H x D beyond the int BLAS limit */
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_HIDDEN, 65536), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_INPUT_DIM, 1 << 20), 0);
    seqvid_model *m = (seqvid_model *)cfg; /* poison: must be overwritten with NULL */
    assert_int_equal(seqvid_model_create(cfg, &m), SEQVID_ERR_OVERFLOW);
    assert_null(m);
    assert_int_equal(seqvid_model_create(NULL, &m), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_model_create(cfg, NULL), SEQVID_ERR_NULL);
    seqvid_config_free(cfg);
    seqvid_config_free(NULL);
}

static void test_batch_bad(void **state) {
    seqvid_batch *b;
    float x[24];
    size_t n;
    assert_int_equal(seqvid_batch_create(0, 2, 3, &b), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_batch_create(2, 0, 3, &b), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_batch_create(2, 2, 0, &b), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_batch_create(SIZE_MAX / 2, 4, 4, &b), SEQVID_ERR_OVERFLOW);
    assert_null(b);
    assert_int_equal(seqvid_batch_create(2, 2, 3, NULL), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_batch_wrap(NULL, 2, 2, 3, &b), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_batch_wrap(x, 4, 2, 3, &b), 0);
    assert_int_equal(seqvid_batch_set_length(b, 2, 1), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_batch_set_length(b, 0, 0), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_batch_set_length(b, 0, 5), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_batch_set_length(b, 1, 3), 0);
    assert_int_equal(seqvid_batch_get_length(b, 1, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(seqvid_batch_get_length(b, 2, &n), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_batch_get_length(b, 0, NULL), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_batch_shape(NULL, &n, NULL, NULL), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_batch_data(b, NULL), SEQVID_ERR_NULL);
    float *p;
    assert_int_equal(seqvid_batch_data(b, &p), 0);
    assert_ptr_equal(p, x); /* a view is zero-copy */
    seqvid_batch_free(b);
    seqvid_batch_free(NULL);
}

static void test_model_bad(void **state) {
    seqvid_model *ae = tiny_model(SEQVID_AUTOENCODER, 6, 4, 3, 2, SEQVID_OUTPUT_BINARY);
    seqvid_model *fp = tiny_model(SEQVID_PREDICTOR, 6, 4, 3, 2, SEQVID_OUTPUT_BINARY);
    seqvid_batch *good = random_batch(5, 2, 6, 1), *wrong_d = random_batch(5, 2, 7, 1);
    seqvid_batch *short_b = random_batch(4, 2, 6, 1);
    float out[1000], r, f;
    double v;
    seqvid_optimizer *opt;
    assert_int_equal(seqvid_optimizer_create(SEQVID_OPT_ADAM, &opt), 0);

    assert_int_equal(seqvid_model_gradients(NULL, good, &r, &f), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_model_gradients(fp, NULL, &r, &f), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_model_gradients(fp, wrong_d, &r, &f), SEQVID_ERR_SHAPE);
    assert_non_null(strstr(seqvid_last_error(), "7"));
    assert_int_equal(seqvid_model_gradients(fp, short_b, &r, &f), SEQVID_ERR_SHAPE);
    assert_int_equal(seqvid_model_gradients(ae, short_b, &r, &f), SEQVID_OK); /* AE needs K */
    assert_int_equal(seqvid_model_train_step(NULL, opt, good, &r, &f), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_model_train_step(fp, NULL, good, &r, &f), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_model_train_step(fp, opt, NULL, &r, &f), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_model_evaluate(fp, good, 7, &r, &f), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_model_evaluate(NULL, good, 0, &r, &f), SEQVID_ERR_NULL);

    assert_int_equal(seqvid_model_reconstruct(fp, good, out, 1000), SEQVID_ERR_UNSUPPORTED);
    assert_int_equal(seqvid_model_predict(ae, good, 3, out, 1000), SEQVID_ERR_UNSUPPORTED);
    assert_int_equal(seqvid_model_predict(fp, good, 0, out, 1000), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_model_predict(fp, good, 3, NULL, 1000), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_model_predict(fp, good, 3, out, 3 * 2 * 6 - 1), SEQVID_ERR_BUFFER);
    assert_int_equal(seqvid_model_predict(fp, good, 3, out, 3 * 2 * 6), SEQVID_OK);
    assert_int_equal(seqvid_model_predict(fp, good, SIZE_MAX / 4, out, 1000), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_model_reconstruct(ae, good, out, 5 * 2 * 6 - 1), SEQVID_ERR_BUFFER);
    assert_int_equal(seqvid_model_reconstruct(ae, wrong_d, out, 1000), SEQVID_ERR_SHAPE);
    assert_int_equal(seqvid_model_encode(ae, good, out, 2 * 8 - 1), SEQVID_ERR_BUFFER);
    assert_int_equal(seqvid_model_encode(NULL, good, out, 1000), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_model_encode(ae, NULL, out, 1000), SEQVID_ERR_NULL);

    size_t n, nb;
    assert_int_equal(seqvid_model_feature_dim(ae, &n), 0);
    assert_int_equal(n, 8);
    assert_int_equal(seqvid_model_feature_dim(ae, NULL), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_model_param_count(NULL, &n), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_model_param_block_count(ae, &nb), 0);
    assert_int_equal(seqvid_model_param_block(ae, nb, NULL, NULL, NULL, NULL), SEQVID_ERR_ARG);
    float *p;
    assert_int_equal(seqvid_model_params(NULL, &p), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_model_grads(ae, NULL), SEQVID_ERR_NULL);

    assert_int_equal(seqvid_model_get(ae, SEQVID_CFG_KIND, &v), 0);
    assert_true(v == SEQVID_AUTOENCODER);
    assert_int_equal(seqvid_model_get(ae, 99, &v), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_model_set(ae, SEQVID_CFG_HIDDEN, 8), SEQVID_ERR_STATE);
    assert_int_equal(seqvid_model_set(ae, SEQVID_CFG_RECON_FEED, 3), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_model_set(ae, SEQVID_CFG_RECON_FEED, SEQVID_FEED_PREDICTION), 0);

    /* An optimizer bound to one model size refuses another. */
    seqvid_model *comp = tiny_model(SEQVID_COMPOSITE, 6, 4, 3, 2, SEQVID_OUTPUT_BINARY);
    assert_int_equal(seqvid_model_train_step(fp, opt, good, &r, &f), 0);
    assert_int_equal(seqvid_model_train_step(comp, opt, good, &r, &f), SEQVID_ERR_SHAPE);
    seqvid_model_free(comp);

    seqvid_optimizer_free(opt);
    seqvid_batch_free(good);
    seqvid_batch_free(wrong_d);
    seqvid_batch_free(short_b);
    seqvid_model_free(ae);
    seqvid_model_free(fp);
    seqvid_model_free(NULL);
}

/* NaN/Inf: reported as its own status, weights and optimizer exactly as before. */
static void test_nonfinite(void **state) {
    seqvid_model *m = tiny_model(SEQVID_COMPOSITE, 6, 4, 3, 2, SEQVID_OUTPUT_REAL);
    seqvid_batch *b = random_batch(5, 2, 6, 3);
    seqvid_optimizer *opt;
    assert_int_equal(seqvid_optimizer_create(SEQVID_OPT_ADAM, &opt), 0);
    assert_int_equal(seqvid_model_train_step(m, opt, b, NULL, NULL), 0);
    float *p, *x;
    size_t n;
    uint64_t steps;
    seqvid_model_params(m, &p);
    seqvid_model_param_count(m, &n);
    seqvid_batch_data(b, &x);
    float *before = malloc(n * sizeof *before);
    memcpy(before, p, n * sizeof *before);

    x[7] = NAN;
    assert_int_equal(seqvid_model_train_step(m, opt, b, NULL, NULL), SEQVID_ERR_NONFINITE);
    x[7] = INFINITY;
    assert_int_equal(seqvid_model_evaluate(m, b, 0, NULL, NULL), SEQVID_ERR_NONFINITE);
    float out[100];
    assert_int_equal(seqvid_model_encode(m, b, out, 100), SEQVID_ERR_NONFINITE);
    x[7] = 0.5f;
    assert_memory_equal(before, p, n * sizeof *before);

    /* A finite batch whose loss overflows: a huge readout weight. */
    size_t nb, off;
    const char *name;
    seqvid_model_param_block_count(m, &nb);
    for (size_t i = 0; i < nb; i++) {
        seqvid_model_param_block(m, i, &name, &off, NULL, NULL);
        if (!strcmp(name, "future.readout.w")) break;
    }
    p[off] = 1e30f;
    before[off] = 1e30f;
    assert_int_equal(seqvid_model_train_step(m, opt, b, NULL, NULL), SEQVID_ERR_NONFINITE);
    assert_non_null(strstr(seqvid_last_error(), "not finite"));
    assert_memory_equal(before, p, n * sizeof *before);
    assert_int_equal(seqvid_optimizer_steps(opt, &steps), 0);
    assert_int_equal(steps, 1);
    free(before);
    seqvid_optimizer_free(opt);
    seqvid_batch_free(b);
    seqvid_model_free(m);
}

/* The inference calls agree with evaluate's inference losses, and roll out past M. */
static void test_inference_consistency(void **state) {
    enum { D = 8, K = 4, M = 3, S = 3 };
    seqvid_model *m = tiny_model(SEQVID_COMPOSITE, D, 5, K, M, SEQVID_OUTPUT_BINARY);
    seqvid_batch *b = random_batch(K + M, S, D, 9);
    float *x, rec, fut;
    seqvid_batch_data(b, &x);
    assert_int_equal(seqvid_model_evaluate(m, b, SEQVID_EVAL_INFERENCE, &rec, &fut), 0);

    seqvid_batch *inp; /* the first K frames: a zero-copy view (time-major prefix) */
    assert_int_equal(seqvid_batch_wrap(x, K, S, D, &inp), 0);
    float pred[4 * M * S * D], recon[K * S * D];
    assert_int_equal(seqvid_model_predict(m, inp, 4 * M, pred, sizeof pred / 4), 0);
    assert_int_equal(seqvid_model_reconstruct(m, inp, recon, sizeof recon / 4), 0);
    double lf = 0, lr = 0;
    for (int i = 0; i < M * S * D; i++) {
        float t = x[K * S * D + i], q = pred[i];
        assert_true(q > 0 && q < 1);
        lf -= t * log(q) + (1 - t) * log(1 - q);
    }
    for (int i = 0; i < K * S * D; i++) {
        float t = x[i], q = recon[i]; /* input order: recon[t] reconstructs x[t] */
        lr -= t * log(q) + (1 - t) * log(1 - q);
    }
    assert_float_equal(lf / (M * S), fut, 1e-3 * fut);
    assert_float_equal(lr / (K * S), rec, 1e-3 * rec);
    for (int i = 0; i < 4 * M * S * D; i++) assert_true(pred[i] >= 0 && pred[i] <= 1);

    /* Teacher forcing differs from feeding predictions back (the decoders are conditional). */
    float rec_tf, fut_tf;
    assert_int_equal(seqvid_model_evaluate(m, b, SEQVID_EVAL_TEACHER_FORCED, &rec_tf, &fut_tf), 0);
    assert_float_equal(rec_tf, rec, 1e-5 * rec); /* recon is fed the truth by default */
    assert_true(fabsf(fut_tf - fut) > 1e-4f * fut);
    seqvid_batch_free(inp);
    seqvid_batch_free(b);
    seqvid_model_free(m);
}

/* A sequence of length n inside a batch is encoded, reconstructed and trained exactly as
 * that sequence alone; padding contributes nothing. */
static void test_variable_lengths(void **state) {
    enum { D = 6, H = 5, K = 4, M = 2, S = 3 };
    seqvid_model *m = tiny_model(SEQVID_COMPOSITE, D, H, K, M, SEQVID_OUTPUT_BINARY);
    seqvid_batch *b = random_batch(K + M, S, D, 4);
    float *x;
    seqvid_batch_data(b, &x);
    assert_int_equal(seqvid_batch_set_length(b, 1, 3), 0);     /* shorter than K */
    assert_int_equal(seqvid_batch_set_length(b, 2, K + 1), 0); /* one future frame */
    float feat[S * 2 * H], feat1[2 * H];
    assert_int_equal(seqvid_model_encode(m, b, feat, S * 2 * H), 0);

    /* sequence 1 alone, 3 frames */
    float alone[3 * D];
    for (int t = 0; t < 3; t++) memcpy(alone + t * D, x + (t * S + 1) * D, D * sizeof *x);
    seqvid_batch *a;
    assert_int_equal(seqvid_batch_wrap(alone, 3, 1, D, &a), 0);
    assert_int_equal(seqvid_model_encode(m, a, feat1, 2 * H), 0);
    for (int j = 0; j < 2 * H; j++) assert_float_equal(feat[2 * H + j], feat1[j], 1e-6);
    float recon_all[(K + M) * S * D], recon1[3 * D];
    assert_int_equal(seqvid_model_reconstruct(m, b, recon_all, sizeof recon_all / 4), 0);
    assert_int_equal(seqvid_model_reconstruct(m, a, recon1, 3 * D), 0);
    for (int t = 0; t < 3; t++)
        for (int d = 0; d < D; d++)
            assert_float_equal(recon_all[(t * S + 1) * D + d], recon1[t * D + d], 1e-6);
    for (int t = 3; t < K + M; t++) assert_true(recon_all[(t * S + 1) * D] == 0.0f);

    /* Changing padding (finite) changes neither losses nor gradients. */
    float r1, f1, r2, f2;
    size_t n;
    float *g;
    seqvid_model_param_count(m, &n);
    seqvid_model_grads(m, &g);
    assert_int_equal(seqvid_model_gradients(m, b, &r1, &f1), 0);
    float *g1 = malloc(n * sizeof *g1);
    memcpy(g1, g, n * sizeof *g1);
    for (int t = 3; t < K + M; t++)
        for (int d = 0; d < D; d++) x[(t * S + 1) * D + d] = 0.123f * (float)d;
    for (int d = 0; d < D; d++) x[((K + 1) * S + 2) * D + d] = 0.5f;
    assert_int_equal(seqvid_model_gradients(m, b, &r2, &f2), 0);
    assert_true(r1 == r2 && f1 == f2);
    assert_memory_equal(g1, g, n * sizeof *g1);
    free(g1);
    seqvid_batch_free(a);
    seqvid_batch_free(b);
    seqvid_model_free(m);
}

/* A bar of 3 pixels bouncing along a 16-pixel line: the composite model must learn both to
 * reconstruct and to predict it (fed its own predictions): both losses fall by more than 10x
 * in 400 Adam steps (seed fixed). */
static void fill_bars(float *x, int T, int S, int D, sv_rng *r) {
    memset(x, 0, (size_t)T * S * D * sizeof *x);
    for (int s = 0; s < S; s++) {
        int pos = (int)(sv_rng_uniform(r) * (D - 3)), v = sv_rng_uniform(r) < 0.5 ? -1 : 1;
        for (int t = 0; t < T; t++) {
            if (pos + v < 0 || pos + v > D - 3) v = -v;
            pos += v;
            for (int k = 0; k < 3; k++) x[((size_t)t * S + s) * D + pos + k] = 1.0f;
        }
    }
}

static void test_training_learns(void **state) {
    enum { D = 16, K = 5, M = 5, S = 16, STEPS = 400 };
    seqvid_config *cfg;
    seqvid_config_create(&cfg);
    seqvid_config_set(cfg, SEQVID_CFG_INPUT_DIM, D);
    seqvid_config_set(cfg, SEQVID_CFG_HIDDEN, 32);
    seqvid_config_set(cfg, SEQVID_CFG_INPUT_FRAMES, K);
    seqvid_config_set(cfg, SEQVID_CFG_FUTURE_FRAMES, M);
    seqvid_config_set(cfg, SEQVID_CFG_INIT_WEIGHT, 0.1);
    seqvid_model *m;
    assert_int_equal(seqvid_model_create(cfg, &m), 0);
    seqvid_config_free(cfg);
    seqvid_optimizer *opt;
    seqvid_optimizer_create(SEQVID_OPT_ADAM, &opt);
    seqvid_optimizer_set(opt, SEQVID_OPT_LR, 1e-2);
    seqvid_optimizer_set(opt, SEQVID_OPT_GRAD_CLIP, 10);
    seqvid_batch *b, *val;
    float *x;
    seqvid_batch_create(K + M, S, D, &b);
    seqvid_batch_create(K + M, 64, D, &val);
    sv_rng r;
    sv_rng_seed(&r, 2015);
    seqvid_batch_data(val, &x);
    fill_bars(x, K + M, 64, D, &r);
    float rec0, fut0, rec, fut;
    assert_int_equal(seqvid_model_evaluate(m, val, SEQVID_EVAL_INFERENCE, &rec0, &fut0), 0);
    seqvid_batch_data(b, &x);
    for (int i = 0; i < STEPS; i++) {
        fill_bars(x, K + M, S, D, &r);
        assert_int_equal(seqvid_model_train_step(m, opt, b, NULL, NULL), 0);
    }
    assert_int_equal(seqvid_model_evaluate(m, val, SEQVID_EVAL_INFERENCE, &rec, &fut), 0);
    print_message("bars: rec %.3f -> %.3f, fut (fed back) %.3f -> %.3f nats/frame\n", rec0, rec,
                  fut0, fut);
    assert_true(rec < rec0 / 10); /* measured: 11.08 -> 0.29 */
    assert_true(fut < fut0 / 10); /* measured: 11.11 -> 0.22 */
    seqvid_batch_free(b);
    seqvid_batch_free(val);
    seqvid_optimizer_free(opt);
    seqvid_model_free(m);
}

/* Push the T frames of x [T x S x D] into st one at a time; after each, the stream's features
 * (F per sequence) must equal seqvid_model_encode's of the frames so far, within tol (tol < 0:
 * bitwise). f_enc: out, the encoding of all T frames [S x F]. */
static void stream_matches_encode(seqvid_model *m, seqvid_stream *st, float *x, size_t T,
                                  size_t S, size_t D, size_t F, double tol, float *f_enc) {
    float *f_str = malloc(S * F * sizeof *f_str);
    for (size_t t = 1; t <= T; t++) {
        assert_int_equal(seqvid_stream_push(st, x + (t - 1) * S * D, S * D), 0);
        seqvid_batch *p;
        assert_int_equal(seqvid_batch_wrap(x, t, S, D, &p), 0);
        assert_int_equal(seqvid_model_encode(m, p, f_enc, S * F), 0);
        assert_int_equal(seqvid_stream_features(st, f_str, S * F), 0);
        if (tol < 0) assert_memory_equal(f_enc, f_str, S * F * sizeof *f_str);
        else
            for (size_t j = 0; j < S * F; j++) assert_float_equal(f_enc[j], f_str[j], tol);
        seqvid_batch_free(p);
    }
    free(f_str);
}

/* Frame-by-frame streaming equals whole-sequence encoding, for every prefix. */
static void test_stream(void **state) {
    enum { D = 7, H = 6, T = 5, S = 2 };
    seqvid_config *cfg;
    seqvid_config_create(&cfg);
    seqvid_config_set(cfg, SEQVID_CFG_INPUT_DIM, D);
    seqvid_config_set(cfg, SEQVID_CFG_HIDDEN, H);
    seqvid_config_set(cfg, SEQVID_CFG_LAYERS, 2);
    seqvid_config_set(cfg, SEQVID_CFG_INIT_WEIGHT, 0.3);
    seqvid_model *m;
    assert_int_equal(seqvid_model_create(cfg, &m), 0);
    seqvid_config_free(cfg);
    seqvid_batch *b = random_batch(T, S, D, 11);
    float *x, f_enc[S * 4 * H], f_str[S * 4 * H];
    seqvid_batch_data(b, &x);
    seqvid_stream *st;
    assert_int_equal(seqvid_stream_create(NULL, S, &st), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_stream_create(m, 0, &st), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_stream_create(m, S, &st), 0);
    stream_matches_encode(m, st, x, T, S, D, 4 * H, 1e-5, f_enc);
    float bad[S * D] = {0};
    bad[3] = NAN;
    assert_int_equal(seqvid_stream_push(st, bad, S * D), SEQVID_ERR_NONFINITE);
    assert_int_equal(seqvid_stream_push(st, bad, S * D - 1), SEQVID_ERR_BUFFER);
    assert_int_equal(seqvid_stream_features(st, f_str, S * 4 * H - 1), SEQVID_ERR_BUFFER);
    assert_int_equal(seqvid_stream_features(st, f_str, S * 4 * H), 0);
    for (int j = 0; j < S * 4 * H; j++) assert_float_equal(f_enc[j], f_str[j], 1e-5);
    assert_int_equal(seqvid_stream_reset(st), 0);
    assert_int_equal(seqvid_stream_features(st, f_str, S * 4 * H), 0);
    for (int j = 0; j < S * 4 * H; j++) assert_true(f_str[j] == 0.0f);
    assert_int_equal(seqvid_stream_reset(NULL), SEQVID_ERR_NULL);
    seqvid_stream_free(st);
    seqvid_stream_free(NULL);
    seqvid_batch_free(b);
    seqvid_model_free(m);
}

/* Frames of video (mostly exact zeros) stream through the sparse input product, as
 * seqvid_model_encode's do: the features are bitwise the whole-sequence encoding's at every
 * prefix, with float32 weights and with bf16. (A dense input product over 2048 pixels sums
 * in blocks of k and rounds otherwise: checked to fail with the stream's input dense.) */
static void test_stream_sparse_frames(void **state) {
    (void)state;
    enum { D = 2048, H = 8, T = 6, S = 3 };
    seqvid_model *m = tiny_model(SEQVID_COMPOSITE, D, H, 10, 10, SEQVID_OUTPUT_BINARY);
    static float x[T * S * D];
    sv_rng r;
    sv_rng_seed(&r, 5);
    for (size_t i = 0; i < T * S * D; i++) x[i] = sv_rng_uniform(&r) < 0.07 ? 1.0f : 0.0f;
    for (int weights = 0; weights < 2; weights++) {
        assert_int_equal(seqvid_experimental_model_set_weights(
                             m, weights ? SEQVID_WEIGHTS_BF16 : SEQVID_WEIGHTS_F32),
                         0);
        seqvid_stream *st;
        assert_int_equal(seqvid_stream_create(m, S, &st), 0);
        float f_enc[S * 2 * H];
        stream_matches_encode(m, st, x, T, S, D, 2 * H, -1, f_enc);
        seqvid_stream_free(st);
    }
    seqvid_model_free(m);
}

/* 1.1: every key and kind has a name, and the name leads back to it. */
static void test_key_names(void **state) {
    (void)state;
    static const struct { int table, first, last; } t[] = {
        {SEQVID_NAMES_CONFIG, SEQVID_CFG_KIND, SEQVID_CFG_FORGET_BIAS},
        {SEQVID_NAMES_OPTIMIZER, SEQVID_OPT_LR, SEQVID_OPT_EPS},
        {SEQVID_NAMES_CLASSIFIER, SEQVID_CLS_DROPOUT, SEQVID_CLS_CLASSES},
        {SEQVID_NAMES_MMNIST, SEQVID_MM_DIGITS, SEQVID_MM_SEED},
        {SEQVID_NAMES_MODEL_KIND, SEQVID_AUTOENCODER, SEQVID_COMPOSITE},
        {SEQVID_NAMES_OPTIMIZER_KIND, SEQVID_OPT_SGD, SEQVID_OPT_ADAM},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        assert_null(seqvid_key_name(t[i].table, t[i].first - 1));
        assert_null(seqvid_key_name(t[i].table, t[i].last + 1));
        for (int k = t[i].first; k <= t[i].last; k++) {
            const char *name = seqvid_key_name(t[i].table, k);
            assert_non_null(name);
            int back = -1;
            assert_int_equal(seqvid_key_lookup(t[i].table, name, &back), SEQVID_OK);
            assert_int_equal(back, k);
        }
    }
    assert_string_equal(seqvid_key_name(SEQVID_NAMES_CONFIG, SEQVID_CFG_HIDDEN), "HIDDEN");
    assert_string_equal(seqvid_key_name(SEQVID_NAMES_OPTIMIZER_KIND, SEQVID_OPT_RMSPROP),
                        "RMSprop");
    assert_string_equal(seqvid_key_name(SEQVID_NAMES_CLASSIFIER, SEQVID_CLS_FREEZE_STEPS),
                        "FREEZE_STEPS");
    int k = 0;
    assert_int_equal(seqvid_key_lookup(SEQVID_NAMES_CONFIG, "input_dim", &k), SEQVID_OK);
    assert_int_equal(k, SEQVID_CFG_INPUT_DIM);
    assert_int_equal(seqvid_key_lookup(SEQVID_NAMES_OPTIMIZER_KIND, "adam", &k), SEQVID_OK);
    assert_int_equal(k, SEQVID_OPT_ADAM);
    assert_int_equal(seqvid_key_lookup(SEQVID_NAMES_MMNIST, "canvas", &k), SEQVID_OK);
    assert_int_equal(k, SEQVID_MM_CANVAS);
    assert_int_equal(seqvid_key_lookup(SEQVID_NAMES_CONFIG, "HIDDENX", &k), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_key_lookup(SEQVID_NAMES_CONFIG, "", &k), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_key_lookup(0, "HIDDEN", &k), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_key_lookup(99, "HIDDEN", &k), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_key_lookup(SEQVID_NAMES_CONFIG, NULL, &k), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_key_lookup(SEQVID_NAMES_CONFIG, "HIDDEN", NULL), SEQVID_ERR_NULL);
    assert_null(seqvid_key_name(0, 1));
    assert_null(seqvid_key_name(99, 1));
    /* The experimental section links too (node SEQVID_EXPERIMENTAL). */
    int density = 0;
    assert_int_equal(seqvid_experimental_sparse_density(&density), SEQVID_OK);
    assert_true(density >= 2);
    assert_int_equal(seqvid_experimental_sparse_density(NULL), SEQVID_ERR_NULL);
    /* The 1.1 step counter agrees with the 1.0 one. */
    seqvid_optimizer *o;
    uint64_t a = 1, b = 2;
    assert_int_equal(seqvid_optimizer_create(SEQVID_OPT_SGD, &o), SEQVID_OK);
    assert_int_equal(seqvid_optimizer_step_count(o, &a), SEQVID_OK);
    assert_int_equal(seqvid_optimizer_steps(o, &b), SEQVID_OK);
    assert_true(a == 0 && b == 0);
    assert_int_equal(seqvid_optimizer_step_count(o, NULL), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_optimizer_step_count(NULL, &a), SEQVID_ERR_NULL);
    seqvid_optimizer_free(o);
}

/* Scheduled sampling (the experimental SAMPLE_RECON / SAMPLE_FUTURE keys): settings and
 * errors, p = 0 bitwise the teacher-forced pass, p = 1 bitwise the inference roll-out, the
 * coins drawn from the model's own seeded stream and only in gradient passes. The gradient
 * itself is checked in test_gradcheck.c and against the NumPy reference. */
/* Both decoders' scheduled-sampling probability. */
static void set_both_p(seqvid_model *m, double p) {
    assert_int_equal(seqvid_model_set(m, SEQVID_CFG_SAMPLE_RECON, p), 0);
    assert_int_equal(seqvid_model_set(m, SEQVID_CFG_SAMPLE_FUTURE, p), 0);
}

static seqvid_model *sampling_model(int kind, int cond_rec, int cond_fut, int output,
                                    double seed) {
    seqvid_config *cfg;
    assert_int_equal(seqvid_config_create(&cfg), 0);
    const int set[][2] = {{SEQVID_CFG_KIND, kind},           {SEQVID_CFG_INPUT_DIM, 7},
                          {SEQVID_CFG_HIDDEN, 5},            {SEQVID_CFG_LAYERS, 2},
                          {SEQVID_CFG_INPUT_FRAMES, 4},      {SEQVID_CFG_FUTURE_FRAMES, 3},
                          {SEQVID_CFG_COND_RECON, cond_rec}, {SEQVID_CFG_COND_FUTURE, cond_fut},
                          {SEQVID_CFG_OUTPUT, output}};
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++)
        assert_int_equal(seqvid_config_set(cfg, set[i][0], set[i][1]), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_INIT_WEIGHT, 0.4), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_SEED, seed), 0);
    seqvid_model *m;
    assert_int_equal(seqvid_model_create(cfg, &m), 0);
    seqvid_config_free(cfg);
    return m;
}

static void test_sampling_settings(void **state) {
    (void)state;
    seqvid_config *cfg;
    double v = -1;
    assert_int_equal(seqvid_config_create(&cfg), 0);
    for (int key = SEQVID_CFG_SAMPLE_RECON; key <= SEQVID_CFG_SAMPLE_FUTURE; key++) {
        assert_int_equal(seqvid_config_get(cfg, key, &v), 0);
        assert_true(v == 0); /* teacher forcing by default */
        assert_int_equal(seqvid_config_set(cfg, key, -0.01), SEQVID_ERR_ARG);
        assert_int_equal(seqvid_config_set(cfg, key, 1.01), SEQVID_ERR_ARG);
        assert_int_equal(seqvid_config_set(cfg, key, NAN), SEQVID_ERR_ARG);
        assert_int_equal(seqvid_config_set(cfg, key, 0.25), 0);
        assert_int_equal(seqvid_config_get(cfg, key, &v), 0);
        assert_true(v == 0.25);
    }
    assert_string_equal(seqvid_key_name(SEQVID_NAMES_CONFIG, SEQVID_CFG_SAMPLE_FUTURE),
                        "SAMPLE_FUTURE");
    int k = 0;
    assert_int_equal(seqvid_key_lookup(SEQVID_NAMES_CONFIG, "sample_recon", &k), SEQVID_OK);
    assert_int_equal(k, SEQVID_CFG_SAMPLE_RECON);
    assert_null(seqvid_key_name(SEQVID_NAMES_CONFIG, SEQVID_CFG_SAMPLE_RECON - 1));
    assert_null(seqvid_key_name(SEQVID_NAMES_CONFIG, SEQVID_CFG_SAMPLE_FUTURE + 1));
    assert_null(seqvid_key_name(SEQVID_NAMES_OPTIMIZER, SEQVID_CFG_SAMPLE_RECON));
    /* The combinations: p > 0 needs the decoder, conditional. */
    seqvid_model *m = NULL;
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_INPUT_DIM, 6), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_HIDDEN, 4), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_COND_FUTURE, 0), 0);
    assert_int_equal(seqvid_model_create(cfg, &m), SEQVID_ERR_UNSUPPORTED);
    assert_null(m);
    assert_non_null(strstr(seqvid_last_error(), "SAMPLE_FUTURE"));
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_SAMPLE_FUTURE, 0), 0);
    assert_int_equal(seqvid_model_create(cfg, &m), 0);
    assert_int_equal(seqvid_model_get(m, SEQVID_CFG_SAMPLE_RECON, &v), 0);
    assert_true(v == 0.25);
    assert_int_equal(seqvid_model_set(m, SEQVID_CFG_SAMPLE_FUTURE, 0.5), SEQVID_ERR_UNSUPPORTED);
    assert_int_equal(seqvid_model_set(m, SEQVID_CFG_SAMPLE_FUTURE, 0), 0);
    assert_int_equal(seqvid_model_set(m, SEQVID_CFG_SAMPLE_RECON, 1.5), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_model_set(m, SEQVID_CFG_SAMPLE_RECON, 1), 0);
    assert_int_equal(seqvid_model_get(m, SEQVID_CFG_SAMPLE_RECON, &v), 0);
    assert_true(v == 1);
    assert_int_equal(seqvid_model_set(NULL, SEQVID_CFG_SAMPLE_RECON, 1), SEQVID_ERR_NULL);
    seqvid_model_free(m);
    seqvid_model *fp = sampling_model(SEQVID_PREDICTOR, 1, 1, SEQVID_OUTPUT_BINARY, 1);
    assert_int_equal(seqvid_model_set(fp, SEQVID_CFG_SAMPLE_RECON, 0.5), SEQVID_ERR_UNSUPPORTED);
    assert_int_equal(seqvid_model_set(fp, SEQVID_CFG_SAMPLE_FUTURE, 0.5), 0);
    seqvid_model_free(fp);
    seqvid_config_free(cfg);
}

/* Gradients and losses of one gradient pass. */
typedef struct pass_result {
    float rec, fut, *grads;
    size_t n;
} pass_result;

static pass_result grad_pass(seqvid_model *m, const seqvid_batch *b) {
    pass_result r;
    float *g;
    assert_int_equal(seqvid_model_gradients(m, b, &r.rec, &r.fut), SEQVID_OK);
    assert_int_equal(seqvid_model_grads(m, &g), 0);
    assert_int_equal(seqvid_model_param_count(m, &r.n), 0);
    r.grads = malloc(r.n * sizeof *r.grads);
    memcpy(r.grads, g, r.n * sizeof *g);
    return r;
}

static int same_pass(pass_result a, pass_result b) {
    return !memcmp(&a.rec, &b.rec, sizeof a.rec) && !memcmp(&a.fut, &b.fut, sizeof a.fut) &&
           a.n == b.n && !memcmp(a.grads, b.grads, a.n * sizeof *a.grads);
}

static void test_sampling_limits(void **state) {
    (void)state;
    for (int output = 0; output <= 1; output++) {
        seqvid_batch *b = random_batch(7, 4, 7, 50 + (uint64_t)output);
        assert_int_equal(seqvid_batch_set_length(b, 1, 5), 0); /* 1 future frame */
        assert_int_equal(seqvid_batch_set_length(b, 2, 3), 0); /* shorter than K */
        seqvid_model *m = sampling_model(SEQVID_COMPOSITE, 1, 1, output, 3);
        seqvid_model *fresh = sampling_model(SEQVID_COMPOSITE, 1, 1, output, 3);
        pass_result tf = grad_pass(m, b);

        /* p = 0 after sampled passes (which moved the stream): the teacher-forced pass. */
        set_both_p(m, 0.5);
        pass_result half = grad_pass(m, b);
        assert_false(same_pass(half, tf));
        assert_false(sv_model_sampling_at_start(m));
        set_both_p(m, 0);
        pass_result zero = grad_pass(m, b);
        assert_true(same_pass(zero, tf));
        assert_true(sv_model_sampling_at_start(fresh)); /* p = 0 draws nothing */
        pass_result fr = grad_pass(fresh, b);
        assert_true(same_pass(fr, tf));
        assert_true(sv_model_sampling_at_start(fresh));

        /* p = 1: every step fed its own output, as inference (recon: fed predictions). */
        set_both_p(m, 1);
        pass_result one = grad_pass(m, b);
        float rec, fut;
        assert_int_equal(seqvid_model_set(m, SEQVID_CFG_RECON_FEED, SEQVID_FEED_PREDICTION), 0);
        assert_int_equal(seqvid_model_evaluate(m, b, SEQVID_EVAL_INFERENCE, &rec, &fut), 0);
        assert_memory_equal(&rec, &one.rec, sizeof rec);
        assert_memory_equal(&fut, &one.fut, sizeof fut);
        /* evaluate never samples: teacher-forced evaluation is the p = 0 pass */
        assert_int_equal(seqvid_model_evaluate(m, b, SEQVID_EVAL_TEACHER_FORCED, &rec, &fut), 0);
        assert_memory_equal(&rec, &tf.rec, sizeof rec);
        assert_memory_equal(&fut, &tf.fut, sizeof fut);
        assert_false(same_pass(one, tf));
        free(tf.grads), free(half.grads), free(zero.grads), free(fr.grads), free(one.grads);
        seqvid_model_free(m);
        seqvid_model_free(fresh);
        seqvid_batch_free(b);
    }
}

/* The coins: one per step t >= 1 and row, from the model's stream seeded by SEED (the same
 * calls give the same bits, another seed other coins), about a fraction p of them heads, and
 * a train step samples too. */
static void test_sampling_coins(void **state) {
    (void)state;
    enum { T = 4 + 3, S = 40 };
    seqvid_batch *b = random_batch(T, S, 7, 60);
    seqvid_model *m[3];
    pass_result r[3];
    for (int i = 0; i < 3; i++) {
        m[i] = sampling_model(SEQVID_PREDICTOR, 0, 1, SEQVID_OUTPUT_BINARY, i < 2 ? 8 : 9);
        assert_int_equal(seqvid_model_set(m[i], SEQVID_CFG_SAMPLE_FUTURE, 0.3), 0);
        r[i] = grad_pass(m[i], b);
    }
    assert_true(same_pass(r[0], r[1]));
    assert_memory_equal(m[0]->coins[1], m[1]->coins[1], 2 * S);
    assert_true(memcmp(m[0]->coins[1], m[2]->coins[1], 2 * S) != 0);
    int heads = 0;
    for (int i = 0; i < 2 * S; i++) heads += m[0]->coins[1][i];
    assert_true(heads > 10 && heads < 40); /* 0.3 of 80: mean 24, sd 4.1 */
    /* The next pass draws the next coins. */
    unsigned char first[2 * S];
    memcpy(first, m[0]->coins[1], sizeof first);
    pass_result again = grad_pass(m[0], b);
    assert_true(memcmp(first, m[0]->coins[1], sizeof first) != 0);
    assert_false(same_pass(again, r[0]));
    /* A train step's pass is a sampled gradient pass: m[1]'s second pass is m[0]'s. */
    seqvid_optimizer *opt;
    float rec, fut;
    assert_int_equal(seqvid_optimizer_create(SEQVID_OPT_ADAM, &opt), 0);
    assert_int_equal(seqvid_model_train_step(m[1], opt, b, &rec, &fut), 0);
    assert_memory_equal(&fut, &again.fut, sizeof fut);
    assert_memory_equal(m[0]->coins[1], m[1]->coins[1], sizeof first);
    seqvid_optimizer_free(opt);
    free(again.grads);
    for (int i = 0; i < 3; i++) {
        free(r[i].grads);
        seqvid_model_free(m[i]);
    }
    seqvid_batch_free(b);
}

/* Whether the backend's cache takes a product of this shape on registered weights: oneDNN
 * keeps a copy only where its kernel is a brgemm one, which depends on the CPU and the shape
 * (on an AMD Zen 4, oneDNN 2.6 picks another kernel for the model's recurrent product, whose
 * output rows are the gates', 4H + 16 floats apart, and the product runs uncached). */
static int cache_takes(int M, int N, int K, int ldc) {
    float *w = calloc((size_t)K * N, sizeof *w), *a = calloc((size_t)M * K, sizeof *a);
    float *c = calloc((size_t)M * ldc, sizeof *c);
    unsigned version = 1;
    int took = 0;
    if (w && a && c && sv_blas_weights_register(w, (size_t)K * N, &version) == 0) {
        sv_blas_info_t before = sv_blas_info();
        for (int i = 0; i < 2; i++)
            sv_sgemm(SV_NOTRANS, SV_NOTRANS, M, N, K, 1.0f, a, K, w, N, 1.0f, c, ldc);
        took = sv_blas_info().cache_hits > before.cache_hits;
        sv_blas_weights_unregister(w);
    }
    free(w), free(a), free(c);
    return took;
}

/* The backend may keep weights in its own layout between calls (oneDNN: reordered copies,
 * lib/blas.h). Whatever changes the weights must make those copies stale: a write through
 * seqvid_model_params after the pointer was handed out (even long after), an optimizer step,
 * a copy of an encoder into a classifier. After each, results equal those of a fresh object
 * holding the same weights. On the CBLAS backends, and on oneDNN without brgemm kernels (AVX2
 * CPUs), nothing is cached and this passes trivially; where the cache takes the model's
 * recurrent product it is checked to be in use (cache hits), so a stale copy would show as a
 * different loss. */
static void test_weight_cache_never_stale(void **state) {
    enum { D = 24, H = 16, K = 4, M = 3, S = 6 };
    seqvid_model *a = tiny_model(SEQVID_COMPOSITE, D, H, K, M, SEQVID_OUTPUT_BINARY);
    seqvid_batch *b = random_batch(K + M, S, D, 21);
    size_t n;
    float *pa, *pf, r0, f0, r1, f1, r2, f2;
    assert_int_equal(seqvid_model_param_count(a, &n), 0);
    assert_int_equal(seqvid_model_params(a, &pa), 0); /* handed out first, written later */
    /* (asked before `before`: the probe's own products count hits) */
    const int takes = sv_blas_info().weight_cache && cache_takes(S, 4 * H, H, 4 * H + 16);
    sv_blas_info_t before = sv_blas_info();
    assert_int_equal(seqvid_model_evaluate(a, b, SEQVID_EVAL_TEACHER_FORCED, &r0, &f0), 0);
    assert_int_equal(seqvid_model_evaluate(a, b, SEQVID_EVAL_TEACHER_FORCED, &r0, &f0), 0);
    if (takes) /* the copies are made and used (oneDNN, brgemm) */
        assert_true(sv_blas_info().cache_hits > before.cache_hits);

    /* Write through the old pointer; a fresh model gets the same weights. */
    for (size_t i = 0; i < n; i++) pa[i] = 1.5f * pa[i] + 0.01f * (float)(i % 7);
    assert_int_equal(seqvid_model_evaluate(a, b, SEQVID_EVAL_TEACHER_FORCED, &r1, &f1), 0);
    seqvid_model *fresh = tiny_model(SEQVID_COMPOSITE, D, H, K, M, SEQVID_OUTPUT_BINARY);
    assert_int_equal(seqvid_model_params(fresh, &pf), 0);
    memcpy(pf, pa, n * sizeof *pf);
    assert_int_equal(seqvid_model_evaluate(fresh, b, SEQVID_EVAL_TEACHER_FORCED, &r2, &f2), 0);
    assert_true(r1 != r0 || f1 != f0); /* the write mattered */
    assert_true(r1 == r2 && f1 == f2);
    float fa[2 * H * S], ff[2 * H * S];
    assert_int_equal(seqvid_model_encode(a, b, fa, 2 * H * S), 0);
    assert_int_equal(seqvid_model_encode(fresh, b, ff, 2 * H * S), 0);
    assert_memory_equal(fa, ff, sizeof fa);
    seqvid_model_free(fresh);

    /* An optimizer step changes the weights: the next evaluation sees them, as a fresh model
     * holding the stepped weights does. */
    seqvid_optimizer *opt;
    assert_int_equal(seqvid_optimizer_create(SEQVID_OPT_ADAM, &opt), 0);
    seqvid_model *c = tiny_model(SEQVID_COMPOSITE, D, H, K, M, SEQVID_OUTPUT_BINARY);
    float *pc;
    assert_int_equal(seqvid_model_evaluate(c, b, SEQVID_EVAL_TEACHER_FORCED, &r0, &f0), 0);
    assert_int_equal(seqvid_model_train_step(c, opt, b, NULL, NULL), 0);
    assert_int_equal(seqvid_model_evaluate(c, b, SEQVID_EVAL_TEACHER_FORCED, &r1, &f1), 0);
    fresh = tiny_model(SEQVID_COMPOSITE, D, H, K, M, SEQVID_OUTPUT_BINARY);
    assert_int_equal(seqvid_model_params(fresh, &pf), 0);
    assert_int_equal(seqvid_model_params(c, &pc), 0);
    memcpy(pf, pc, n * sizeof *pf);
    assert_int_equal(seqvid_model_evaluate(fresh, b, SEQVID_EVAL_TEACHER_FORCED, &r2, &f2), 0);
    assert_true(r1 != r0 || f1 != f0);
    assert_true(r1 == r2 && f1 == f2);
    seqvid_model_free(fresh);

    /* A classifier that has run, then receives an encoder, predicts as one created from it. */
    seqvid_classifier *cl, *cl2;
    seqvid_batch *xb;
    float *x;
    seqvid_batch_data(b, &x);
    assert_int_equal(seqvid_batch_wrap(x, K, S, D, &xb), 0);
    assert_int_equal(seqvid_classifier_create_from_encoder(c, 3, &cl), 0);
    float p0[3 * S], p1[3 * S];
    assert_int_equal(seqvid_classifier_predict(cl, xb, p0, 3 * S), 0);
    assert_int_equal(seqvid_classifier_copy_encoder(cl, a), 0);
    assert_int_equal(seqvid_classifier_predict(cl, xb, p0, 3 * S), 0);
    assert_int_equal(seqvid_classifier_create_from_encoder(a, 3, &cl2), 0);
    assert_int_equal(seqvid_classifier_predict(cl2, xb, p1, 3 * S), 0);
    assert_memory_equal(p0, p1, sizeof p0);
    seqvid_classifier_free(cl);
    seqvid_classifier_free(cl2);
    seqvid_batch_free(xb);
    seqvid_optimizer_free(opt);
    seqvid_model_free(c);
    seqvid_model_free(a);
    seqvid_batch_free(b);
}

/* ---- precision (experimental API) ------------------------------------------------------
 * bf16 mode rounds both operands of each product to bfloat16 (relative error u_b = 2^-8
 * each, round to nearest) and accumulates in float32: an element of a product is off by at
 * most (2 u_b + u_b^2 + γ_K (1 + u_b)^2) Σ|a_k b_k| ≈ 2^-7 Σ|a_k b_k| (tests/test_gemm.c).
 * Through a forward and BPTT the relative errors of the products add along the longest
 * chain of products: T steps of the encoder and T of a decoder, each with two products (in
 * and recurrent) forward and two backward, plus the readouts -- with K = 4, M = 3 about 40
 * products, but the weights are small (init 0.3 on H = 16: the recurrence contracts), so
 * the errors do not compound; the relative error of the loss is bounded by that of the
 * logits, ≈ 2^-7, and that of each gradient by a few times 2^-7. The tests use 2^-5 for the
 * loss and 2^-3 for the gradient norm: errors 4x and 16x the single-product bound, and they
 * still fail if the mode changes the result beyond rounding (e.g. a wrong operand). */
static seqvid_model *precision_model(int precision) {
    seqvid_model *m = tiny_model(SEQVID_COMPOSITE, 32, 16, 4, 3, SEQVID_OUTPUT_BINARY);
    assert_int_equal(seqvid_experimental_model_set_precision(m, precision), 0);
    return m;
}

static void test_precision_switch(void **state) {
    seqvid_model *m = tiny_model(SEQVID_COMPOSITE, 8, 4, 2, 2, SEQVID_OUTPUT_BINARY);
    int p = -1;
    assert_int_equal(seqvid_experimental_model_get_precision(m, &p), 0);
    assert_int_equal(p, SEQVID_PRECISION_F32); /* the default */
    assert_int_equal(seqvid_experimental_model_set_precision(m, 2), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_experimental_model_set_precision(NULL, 0), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_experimental_model_get_precision(m, NULL), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_experimental_model_set_precision(m, SEQVID_PRECISION_BF16), 0);
    assert_int_equal(seqvid_experimental_model_get_precision(m, &p), 0);
    assert_int_equal(p, sv_blas_bf16_supported() ? SEQVID_PRECISION_BF16 : SEQVID_PRECISION_F32);
    /* The calling thread's mode is restored after each call. */
    seqvid_batch *b = random_batch(4, 2, 8, 3);
    float r, f;
    assert_int_equal(seqvid_model_evaluate(m, b, SEQVID_EVAL_TEACHER_FORCED, &r, &f), 0);
    assert_int_equal(sv_blas_get_bf16(), 0);
    seqvid_classifier *c;
    assert_int_equal(seqvid_classifier_create_from_encoder(m, 3, &c), 0);
    assert_int_equal(seqvid_experimental_classifier_get_precision(c, &p), 0);
    assert_int_equal(p, SEQVID_PRECISION_F32); /* not inherited */
    assert_int_equal(seqvid_experimental_classifier_set_precision(c, 5), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_experimental_classifier_set_precision(c, SEQVID_PRECISION_BF16), 0);
    assert_int_equal(seqvid_experimental_classifier_get_precision(c, &p), 0);
    assert_int_equal(p, sv_blas_bf16_supported() ? SEQVID_PRECISION_BF16 : SEQVID_PRECISION_F32);
    seqvid_classifier_free(c);
    seqvid_batch_free(b);
    seqvid_model_free(m);
}

/* One train step (SGD) in bf16 against float32 from the same weights: losses, gradients and
 * the stepped weights agree within the tolerances derived above; where bf16 runs they also
 * differ (the mode is really on), elsewhere they are bitwise equal (fallback). */
static void test_precision_bf16_step(void **state) {
    enum { D = 32, K = 4, M = 3, S = 8 };
    seqvid_batch *b = random_batch(K + M, S, D, 5);
    seqvid_model *m[2] = {precision_model(SEQVID_PRECISION_F32),
                          precision_model(SEQVID_PRECISION_BF16)};
    float rec[2], fut[2], *g[2], *w[2];
    size_t n;
    assert_int_equal(seqvid_model_param_count(m[0], &n), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(seqvid_model_gradients(m[i], b, &rec[i], &fut[i]), 0);
        assert_int_equal(seqvid_model_grads(m[i], &g[i]), 0);
    }
    double d2 = 0, g2 = 0;
    for (size_t k = 0; k < n; k++) d2 += pow(g[1][k] - g[0][k], 2), g2 += pow(g[0][k], 2);
    print_message("bf16 vs f32: rec %g vs %g, fut %g vs %g, |dg|/|g| = %g\n", rec[1], rec[0],
                  fut[1], fut[0], sqrt(d2 / g2));
    assert_float_equal(rec[1], rec[0], 0x1p-5 * rec[0]);
    assert_float_equal(fut[1], fut[0], 0x1p-5 * fut[0]);
    assert_true(sqrt(d2) <= 0x1p-3 * sqrt(g2));
    if (sv_blas_bf16_supported()) assert_true(d2 > 0 && (rec[1] != rec[0] || fut[1] != fut[0]));
    else assert_true(d2 == 0 && rec[1] == rec[0] && fut[1] == fut[0]);

    /* The step: float32 master weights move by lr g, so they differ by lr |dg|. */
    seqvid_optimizer *opt;
    assert_int_equal(seqvid_optimizer_create(SEQVID_OPT_SGD, &opt), 0);
    assert_int_equal(seqvid_optimizer_set(opt, SEQVID_OPT_LR, 0.1), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(seqvid_optimizer_step(opt, m[i]), 0);
        assert_int_equal(seqvid_model_params(m[i], &w[i]), 0);
    }
    double dw2 = 0;
    for (size_t k = 0; k < n; k++) dw2 += pow(w[1][k] - w[0][k], 2);
    assert_true(sqrt(dw2) <= 0.1 * 0x1p-3 * sqrt(g2) * 1.01 + 1e-7);
    seqvid_optimizer_free(opt);
    for (int i = 0; i < 2; i++) seqvid_model_free(m[i]);
    seqvid_batch_free(b);
}

/* A short learning curve of a tiny model, Adam on 4 fixed batches for 160 steps, in bf16 and
 * float32: the mean loss of every window of 20 steps agrees within 1% (stated tolerance: the
 * per-step losses differ by ~2^-7 relative, and the weights drift apart slowly as the
 * rounding differences accumulate through the optimizer), and both learn (the last window is
 * at least 15% below the first; measured: 43.2 -> 34.3, bf16 within 0.01% of float32). */
static void test_precision_bf16_curve(void **state) {
    enum { D = 32, K = 4, M = 3, S = 8, NB = 4, STEPS = 160, WIN = 20 };
    seqvid_batch *b[NB];
    for (int i = 0; i < NB; i++) {
        b[i] = random_batch(K + M, S, D, 100 + i);
        float *x;
        seqvid_batch_data(b[i], &x); /* binary frames, as Moving MNIST's */
        for (size_t k = 0; k < (size_t)(K + M) * S * D; k++) x[k] = x[k] < 0.3f;
    }
    double win[2][STEPS / WIN] = {{0}};
    for (int p = 0; p < 2; p++) {
        seqvid_model *m = precision_model(p ? SEQVID_PRECISION_BF16 : SEQVID_PRECISION_F32);
        seqvid_optimizer *opt;
        assert_int_equal(seqvid_optimizer_create(SEQVID_OPT_ADAM, &opt), 0);
        assert_int_equal(seqvid_optimizer_set(opt, SEQVID_OPT_LR, 3e-3), 0);
        for (int s = 0; s < STEPS; s++) {
            float r, f;
            assert_int_equal(seqvid_model_train_step(m, opt, b[s % NB], &r, &f), 0);
            win[p][s / WIN] += (r + f) / WIN;
        }
        seqvid_optimizer_free(opt);
        seqvid_model_free(m);
    }
    for (int w = 0; w < STEPS / WIN; w++) {
        print_message("window %d: f32 %.4f bf16 %.4f\n", w, win[0][w], win[1][w]);
        assert_float_equal(win[1][w], win[0][w], 0.01 * win[0][w]);
    }
    for (int p = 0; p < 2; p++) assert_true(win[p][STEPS / WIN - 1] < 0.85 * win[p][0]);
    for (int i = 0; i < NB; i++) seqvid_batch_free(b[i]);
}

/* SEQVID_NO_BF16=1 forces the fallback: bf16 is asked for, float32 is reported and computed
 * (bitwise the float32 results). */
static void test_precision_forced_fallback(void **state) {
    enum { D = 32, K = 4, M = 3, S = 8 };
    setenv("SEQVID_NO_BF16", "1", 1);
    seqvid_batch *b = random_batch(K + M, S, D, 5);
    seqvid_model *m[2] = {precision_model(SEQVID_PRECISION_F32),
                          precision_model(SEQVID_PRECISION_BF16)};
    int p;
    assert_int_equal(seqvid_experimental_model_get_precision(m[1], &p), 0);
    assert_int_equal(p, SEQVID_PRECISION_F32);
    float rec[2], fut[2], *g[2];
    size_t n;
    assert_int_equal(seqvid_model_param_count(m[0], &n), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(seqvid_model_gradients(m[i], b, &rec[i], &fut[i]), 0);
        assert_int_equal(seqvid_model_grads(m[i], &g[i]), 0);
    }
    assert_true(rec[0] == rec[1] && fut[0] == fut[1]);
    assert_memory_equal(g[0], g[1], n * sizeof *g[0]);
    unsetenv("SEQVID_NO_BF16");
    assert_int_equal(seqvid_experimental_model_get_precision(m[1], &p), 0);
    assert_int_equal(p, sv_blas_bf16_supported() ? SEQVID_PRECISION_BF16 : SEQVID_PRECISION_F32);
    for (int i = 0; i < 2; i++) seqvid_model_free(m[i]);
    seqvid_batch_free(b);
}

/* Lean inference: no gradient array until a call needs one. Inference on a model, a stream
 * and a classifier leaves it unallocated; the first gradient pass allocates and binds it,
 * and its gradients are those of a model that had it all along (asked for it first). */
static void test_lean_inference(void **state) {
    enum { D = 8, H = 6, K = 3, M = 2, S = 2 };
    seqvid_model *m = tiny_model(SEQVID_COMPOSITE, D, H, K, M, SEQVID_OUTPUT_BINARY);
    seqvid_batch *b = random_batch(K + M, S, D, 8);
    float r, f, feat[2 * H * S], pred[M * S * D], *x;
    seqvid_batch_data(b, &x);
    assert_int_equal(seqvid_model_evaluate(m, b, SEQVID_EVAL_INFERENCE, &r, &f), 0);
    assert_int_equal(seqvid_model_evaluate(m, b, SEQVID_EVAL_TEACHER_FORCED, &r, &f), 0);
    assert_int_equal(seqvid_model_encode(m, b, feat, 2 * H * S), 0);
    assert_int_equal(seqvid_model_predict(m, b, M, pred, M * S * D), 0);
    seqvid_stream *st;
    assert_int_equal(seqvid_stream_create(m, S, &st), 0);
    assert_int_equal(seqvid_stream_push(st, x, S * D), 0);
    seqvid_stream_free(st);
    seqvid_classifier *c;
    seqvid_batch *xb;
    assert_int_equal(seqvid_batch_wrap(x, K, S, D, &xb), 0);
    assert_int_equal(seqvid_classifier_create_from_encoder(m, 3, &c), 0);
    float probs[3 * S];
    assert_int_equal(seqvid_classifier_predict(c, xb, probs, 3 * S), 0);
    assert_null(m->arena.grads);
    assert_null(c->arena.grads);

    seqvid_model *ref = tiny_model(SEQVID_COMPOSITE, D, H, K, M, SEQVID_OUTPUT_BINARY);
    float *g, *gref;
    size_t n;
    assert_int_equal(seqvid_model_grads(ref, &gref), 0); /* allocated before any pass */
    assert_non_null(ref->arena.grads);
    assert_int_equal(seqvid_model_gradients(ref, b, NULL, NULL), 0);
    assert_int_equal(seqvid_model_gradients(m, b, NULL, NULL), 0);
    assert_non_null(m->arena.grads);
    assert_int_equal(seqvid_model_grads(m, &g), 0);
    assert_int_equal(seqvid_model_param_count(m, &n), 0);
    assert_memory_equal(g, gref, n * sizeof *g);
    seqvid_classifier_free(c);
    seqvid_batch_free(xb);
    seqvid_model_free(ref);
    seqvid_model_free(m);
    seqvid_batch_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_and_status),
        cmocka_unit_test(test_key_names),
        cmocka_unit_test(test_config_bad),
        cmocka_unit_test(test_batch_bad),
        cmocka_unit_test(test_model_bad),
        cmocka_unit_test(test_nonfinite),
        cmocka_unit_test(test_inference_consistency),
        cmocka_unit_test(test_variable_lengths),
        cmocka_unit_test(test_training_learns),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_stream_sparse_frames),
        cmocka_unit_test(test_sampling_settings),
        cmocka_unit_test(test_sampling_limits),
        cmocka_unit_test(test_sampling_coins),
        cmocka_unit_test(test_weight_cache_never_stale),
        cmocka_unit_test(test_lean_inference),
        cmocka_unit_test(test_precision_switch),
        cmocka_unit_test(test_precision_bf16_step),
        cmocka_unit_test(test_precision_bf16_curve),
        cmocka_unit_test(test_precision_forced_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
