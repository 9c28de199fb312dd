/* test_gradcheck.c -- every parameter block of every model variant against central finite
 * differences of the training objective (rec + fut loss, teacher-forced, as trained), and of
 * the scheduled-sampling objective (decoders partly fed their own outputs, which the gradient
 * holds fixed).
 *
 * Variants: kind (AE, FP, composite) x layers (1, 2) x peepholes (on, off) x decoders
 * (conditional, unconditioned, mixed) x output (binary, real) x lengths (full, variable) x
 * inputs (dense, 90% zeros: the kernel's sparse path).
 * Sizes are tiny so the whole matrix runs in about a second; weights are drawn U(-0.5, 0.5)
 * (not the 0.01 init) so every non-linearity works away from its linear regime.
 *
 * Criterion, per block: |g - f|_2 <= 2e-2 * max(|g|_2, |f|_2) + 1e-4 * sqrt(n), where g is the
 * analytic gradient and f the float32 central difference with step 1e-2 (float32 rounding of
 * a loss of size ~5 gives ~1e-4 absolute noise per element at this step).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#define SEQVID_EXPERIMENTAL /* the scheduled sampling keys */
#include "seqvid.h"
#include "model.h"
#include "rng.h"

enum { D = 5, H = 3, K = 3, M = 2, B = 3, T = K + M };

typedef struct variant {
    int kind, layers, peep, cond_rec, cond_fut, output, varlen;
    int sparse; /* most frame values exactly 0, as in Moving MNIST: the sparse input path */
} variant;

static seqvid_model *make_model(const variant *v, uint64_t seed) {
    seqvid_config *cfg;
    assert_int_equal(seqvid_config_create(&cfg), SEQVID_OK);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_KIND, v->kind), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_INPUT_DIM, D), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_HIDDEN, H), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_LAYERS, v->layers), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_PEEPHOLES, v->peep), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_INPUT_FRAMES, K), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_FUTURE_FRAMES, M), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_COND_RECON, v->cond_rec), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_COND_FUTURE, v->cond_fut), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_OUTPUT, v->output), 0);
    seqvid_model *m;
    assert_int_equal(seqvid_model_create(cfg, &m), SEQVID_OK);
    seqvid_config_free(cfg);
    float *p;
    size_t n;
    assert_int_equal(seqvid_model_params(m, &p), 0);
    assert_int_equal(seqvid_model_param_count(m, &n), 0);
    sv_rng r;
    sv_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) p[i] = (float)(sv_rng_uniform(&r) - 0.5);
    return m;
}

static seqvid_batch *make_batch(const variant *v, uint64_t seed) {
    seqvid_batch *b;
    assert_int_equal(seqvid_batch_create(T, B, D, &b), SEQVID_OK);
    float *x;
    assert_int_equal(seqvid_batch_data(b, &x), 0);
    sv_rng r;
    sv_rng_seed(&r, seed);
    for (size_t i = 0; i < (size_t)T * B * D; i++) {
        double u = sv_rng_uniform(&r);
        x[i] = v->output == SEQVID_OUTPUT_BINARY ? (float)u : (float)(2 * u - 1);
        if (v->sparse && sv_rng_uniform(&r) < 0.9) x[i] = 0.0f;
    }
    if (v->varlen) { /* one full, one one-future-frame, one shorter than K */
        assert_int_equal(seqvid_batch_set_length(b, 1, K + 1), 0);
        assert_int_equal(seqvid_batch_set_length(b, 2, K - 1), 0);
    }
    return b;
}

static double objective(seqvid_model *m, seqvid_batch *b) {
    float rec, fut;
    assert_int_equal(seqvid_model_evaluate(m, b, SEQVID_EVAL_TEACHER_FORCED, &rec, &fut), 0);
    return (double)rec + (double)fut;
}

/* The scheduled-sampling objective: the loss of a gradient pass whose decoders read the
 * inputs of the last sampled pass (model.h's sample_replay), i.e. the loss the sampled
 * gradient belongs to, the fed-back outputs held fixed. */
static double replayed_objective(seqvid_model *m, seqvid_batch *b) {
    float rec, fut;
    assert_true(m->sample_replay);
    assert_int_equal(seqvid_model_gradients(m, b, &rec, &fut), 0);
    return (double)rec + (double)fut;
}

/* Each block of the analytic gradient ga against central differences of obj. Returns the
 * number of blocks off by more than the tolerance (with a message each if `report`). */
static int compare_blocks(seqvid_model *m, seqvid_batch *b, const float *ga,
                          double (*obj)(seqvid_model *, seqvid_batch *), const variant *v,
                          int report) {
    float *p;
    size_t nblocks;
    int bad = 0;
    assert_int_equal(seqvid_model_params(m, &p), 0);
    assert_int_equal(seqvid_model_param_block_count(m, &nblocks), 0);
    const float eps = 1e-2f;
    for (size_t k = 0; k < nblocks; k++) {
        const char *name;
        size_t off, rows, cols;
        assert_int_equal(seqvid_model_param_block(m, k, &name, &off, &rows, &cols), 0);
        double dd = 0, na = 0, nf = 0;
        for (size_t i = off; i < off + rows * cols; i++) {
            float save = p[i];
            p[i] = save + eps;
            double lp = obj(m, b);
            p[i] = save - eps;
            double lm = obj(m, b);
            p[i] = save;
            double f = (lp - lm) / (2.0 * eps);
            dd += (ga[i] - f) * (ga[i] - f), na += (double)ga[i] * ga[i], nf += f * f;
        }
        double err = sqrt(dd), scale = fmax(sqrt(na), sqrt(nf));
        double tol = 2e-2 * scale + 1e-4 * sqrt((double)(rows * cols));
        /* Both zero is right only where no input reached the block (sparse, short rows). */
        if (!(err <= tol) || (scale == 0.0 && !(v->sparse && v->varlen))) {
            bad++;
            if (report)
                print_error("kind %d L%d peep %d cond %d/%d out %d varlen %d sparse %d: block %s "
                            "|g-f| = %.3g, |g| = %.3g, |f| = %.3g\n",
                            v->kind, v->layers, v->peep, v->cond_rec, v->cond_fut, v->output,
                            v->varlen, v->sparse, name, err, sqrt(na), sqrt(nf));
        }
    }
    return bad;
}

/* A copy of the gradient arena. */
static float *grads_copy(seqvid_model *m) {
    float *g;
    size_t n;
    assert_int_equal(seqvid_model_grads(m, &g), 0);
    assert_int_equal(seqvid_model_param_count(m, &n), 0);
    float *ga = malloc(n * sizeof *ga);
    memcpy(ga, g, n * sizeof *ga);
    return ga;
}

static void check_variant(const variant *v) {
    seqvid_model *m = make_model(v, 1000 + (uint64_t)v->kind * 7 + (uint64_t)v->layers);
    seqvid_batch *b = make_batch(v, 77);
    float rec, fut, rec2, fut2;
    assert_int_equal(seqvid_model_gradients(m, b, &rec, &fut), SEQVID_OK);
    /* The gradient pass reports the same losses as the teacher-forced evaluation. */
    assert_int_equal(seqvid_model_evaluate(m, b, SEQVID_EVAL_TEACHER_FORCED, &rec2, &fut2), 0);
    assert_float_equal(rec, rec2, 1e-6);
    assert_float_equal(fut, fut2, 1e-6);
    float *ga = grads_copy(m);
    if (compare_blocks(m, b, ga, objective, v, 1)) fail_msg("gradient check failed");
    free(ga);
    seqvid_batch_free(b);
    seqvid_model_free(m);
}

/* A sampled gradient pass (p = 0.5 for every conditional decoder) whose coins feed some steps
 * their own output and others the truth: passes are drawn until each sampling decoder's
 * coins are mixed. Returns the analytic gradient; the model is left in replay mode. */
static float *sampled_gradients(seqvid_model *m, seqvid_batch *b, const variant *v,
                                float *rec, float *fut) {
    int samp[2] = {v->kind != SEQVID_PREDICTOR && v->cond_rec,
                   v->kind != SEQVID_AUTOENCODER && v->cond_fut};
    if (samp[0]) assert_int_equal(seqvid_model_set(m, SEQVID_CFG_SAMPLE_RECON, 0.5), 0);
    if (samp[1]) assert_int_equal(seqvid_model_set(m, SEQVID_CFG_SAMPLE_FUTURE, 0.5), 0);
    const size_t n[2] = {(K - 1) * B, (M - 1) * B};
    for (int tries = 0;; tries++) {
        assert_true(tries < 100);
        assert_int_equal(seqvid_model_gradients(m, b, rec, fut), SEQVID_OK);
        int mixed = 1;
        for (int d = 0; d < 2; d++) {
            size_t heads = 0;
            for (size_t i = 0; samp[d] && i < n[d]; i++) heads += m->coins[d][i];
            mixed &= !samp[d] || (heads > 0 && heads < n[d]);
        }
        if (mixed) break;
    }
    m->sample_replay = 1;
    return grads_copy(m);
}

static void check_sampled_variant(const variant *v) {
    seqvid_model *m = make_model(v, 2000 + (uint64_t)v->kind * 7 + (uint64_t)v->layers);
    seqvid_batch *b = make_batch(v, 78);
    float rec, fut;
    float *ga = sampled_gradients(m, b, v, &rec, &fut);
    /* The replayed pass is the sampled pass again (run layer by layer instead of step by
     * step: equal up to rounding). */
    float rec2, fut2;
    assert_int_equal(seqvid_model_gradients(m, b, &rec2, &fut2), 0);
    assert_float_equal(rec, rec2, 1e-5 * fabs(rec));
    assert_float_equal(fut, fut2, 1e-5 * fabs(fut));
    if (compare_blocks(m, b, ga, replayed_objective, v, 1))
        fail_msg("sampled gradient check failed");
    free(ga);
    seqvid_batch_free(b);
    seqvid_model_free(m);
}

static void run_kind(int kind) {
    int conds[3][2] = {{1, 1}, {0, 0}, {1, 0}};
    for (int layers = 1; layers <= 2; layers++)
        for (int peep = 0; peep <= 1; peep++)
            for (int c = 0; c < 3; c++)
                for (int out = 0; out <= 1; out++)
                    for (int varlen = 0; varlen <= 1; varlen++) {
                        if (c == 2 && kind != SEQVID_COMPOSITE) continue; /* mixed: composite */
                        variant v = {kind, layers, peep, conds[c][0], conds[c][1], out, varlen, 0};
                        check_variant(&v);
                        v.sparse = 1;
                        check_variant(&v);
                    }
}

/* Scheduled sampling: kind x layers x decoders (both conditional, one of them) x output x
 * lengths, dense and sparse frames. */
static void test_sampled(void **state) {
    (void)state;
    int conds[3][2] = {{1, 1}, {1, 0}, {0, 1}};
    for (int kind = SEQVID_AUTOENCODER; kind <= SEQVID_COMPOSITE; kind++)
        for (int layers = 1; layers <= 2; layers++)
            for (int c = 0; c < 3; c++)
                for (int out = 0; out <= 1; out++)
                    for (int varlen = 0; varlen <= 1; varlen++) {
                        if (c > 0 && kind != SEQVID_COMPOSITE) continue;
                        variant v = {kind, layers, 1, conds[c][0], conds[c][1], out, varlen,
                                     varlen && out == SEQVID_OUTPUT_BINARY};
                        check_sampled_variant(&v);
                    }
}

/* The sampled check can fail: the derivative of the loss *through* the fed-back outputs (at
 * p = 1 every step is fed its own output, the coins do not matter, and finite differences of
 * the plain gradient pass recompute the outputs from the perturbed weights) is not the
 * sampled gradient, and the check tells them apart. Real output (the output itself is fed
 * back) and decoder input and readout weights three times larger make that path count. */
static double sampled_objective(seqvid_model *m, seqvid_batch *b) {
    float rec, fut;
    assert_false(m->sample_replay);
    assert_int_equal(seqvid_model_gradients(m, b, &rec, &fut), 0);
    return (double)rec + (double)fut;
}

static void test_sampled_has_teeth(void **state) {
    (void)state;
    variant v = {SEQVID_COMPOSITE, 1, 1, 1, 1, SEQVID_OUTPUT_REAL, 0, 0};
    seqvid_model *m = make_model(&v, 31);
    seqvid_batch *b = make_batch(&v, 32);
    float *p, rec, fut;
    size_t nblocks, off, rows, cols;
    const char *name;
    assert_int_equal(seqvid_model_params(m, &p), 0);
    assert_int_equal(seqvid_model_param_block_count(m, &nblocks), 0);
    for (size_t k = 0; k < nblocks; k++) {
        assert_int_equal(seqvid_model_param_block(m, k, &name, &off, &rows, &cols), 0);
        if (strncmp(name, "encoder", 7) && (strstr(name, ".w_x") || strstr(name, "readout.w")))
            for (size_t i = off; i < off + rows * cols; i++) p[i] *= 3.0f;
    }
    assert_int_equal(seqvid_model_set(m, SEQVID_CFG_SAMPLE_RECON, 1), 0);
    assert_int_equal(seqvid_model_set(m, SEQVID_CFG_SAMPLE_FUTURE, 1), 0);
    assert_int_equal(seqvid_model_gradients(m, b, &rec, &fut), 0);
    float *ga = grads_copy(m);
    assert_true(compare_blocks(m, b, ga, sampled_objective, &v, 0) > 0);
    m->sample_replay = 1;
    assert_int_equal(compare_blocks(m, b, ga, replayed_objective, &v, 1), 0);
    free(ga);
    seqvid_batch_free(b);
    seqvid_model_free(m);
}

static void test_autoencoder(void **state) { run_kind(SEQVID_AUTOENCODER); }
static void test_predictor(void **state) { run_kind(SEQVID_PREDICTOR); }
static void test_composite(void **state) { run_kind(SEQVID_COMPOSITE); }

/* The check must be able to fail: a gradient off by 5% in one block is caught. */
static void test_check_has_teeth(void **state) {
    variant v = {SEQVID_COMPOSITE, 1, 1, 1, 1, SEQVID_OUTPUT_BINARY, 0, 0};
    seqvid_model *m = make_model(&v, 5);
    seqvid_batch *b = make_batch(&v, 6);
    float *p, *g;
    size_t off, rows, cols;
    seqvid_model_params(m, &p);
    seqvid_model_grads(m, &g);
    assert_int_equal(seqvid_model_gradients(m, b, NULL, NULL), 0);
    assert_int_equal(seqvid_model_param_block(m, 1, NULL, &off, &rows, &cols), 0); /* w_h */
    double dd = 0, nf = 0;
    for (size_t i = off; i < off + rows * cols; i++) {
        float save = p[i];
        p[i] = save + 1e-2f;
        double lp = objective(m, b);
        p[i] = save - 1e-2f;
        double lm = objective(m, b);
        p[i] = save;
        double f = (lp - lm) / 2e-2, wrong = 1.05 * g[i];
        dd += (wrong - f) * (wrong - f), nf += f * f;
    }
    assert_true(sqrt(dd) > 2e-2 * sqrt(nf));
    seqvid_batch_free(b);
    seqvid_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_autoencoder),
        cmocka_unit_test(test_predictor),
        cmocka_unit_test(test_composite),
        cmocka_unit_test(test_check_has_teeth),
        cmocka_unit_test(test_sampled),
        cmocka_unit_test(test_sampled_has_teeth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
