/* test_classifier.c -- the LSTM classifier (lib/classifier.c): finite-difference gradient
 * checks of every block, dropout, freezing, initialisation from an encoder, bad arguments,
 * and saving/loading with hostile files.
 *
 * Gradient criterion (as tests/test_gradcheck.c), per block: |g - f|_2 <= 2e-2 * max(|g|_2,
 * |f|_2) + 1e-4 * sqrt(n), g analytic, f float32 central differences with step 1e-2, weights
 * U(-0.5, 0.5) so that every non-linearity works away from its linear regime.
 */
#define _POSIX_C_SOURCE 200809L
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
#include <cjson/cJSON.h>
#include "seqvid.h"
#include "classifier.h"
#include "error.h"
#include "optimizer.h"
#include "rng.h"
#include "serialize.h"
#include "assert_fails.h"

enum { D = 5, H = 3, C = 4, T = 4, B = 3 };

static seqvid_config *stack_config(int d, int h, int layers, int peep, uint64_t seed) {
    seqvid_config *cfg;
    assert_int_equal(seqvid_config_create(&cfg), SEQVID_OK);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_INPUT_DIM, d), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_HIDDEN, h), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_LAYERS, layers), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_PEEPHOLES, peep), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_SEED, (double)seed), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_INPUT_FRAMES, 2), 0);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_FUTURE_FRAMES, 2), 0);
    return cfg;
}

/* A classifier with every parameter ~ U(-0.5, 0.5). */
static seqvid_classifier *make_cls(int layers, int peep, uint64_t seed) {
    seqvid_config *cfg = stack_config(D, H, layers, peep, seed);
    seqvid_classifier *c;
    assert_int_equal(seqvid_classifier_create(cfg, C, &c), SEQVID_OK);
    seqvid_config_free(cfg);
    float *p;
    size_t n;
    assert_int_equal(seqvid_classifier_params(c, &p), 0);
    assert_int_equal(seqvid_classifier_param_count(c, &n), 0);
    sv_rng r;
    sv_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) p[i] = (float)(sv_rng_uniform(&r) - 0.5);
    return c;
}

/* sparse: ~85% exact zeros (the kernel's sparse input path); varlen: lengths 4, 2, 1. */
static seqvid_batch *make_batch(int sparse, int varlen, uint64_t seed) {
    seqvid_batch *b;
    assert_int_equal(seqvid_batch_create(T, B, D, &b), SEQVID_OK);
    float *x;
    assert_int_equal(seqvid_batch_data(b, &x), 0);
    sv_rng r;
    sv_rng_seed(&r, seed);
    for (size_t i = 0; i < (size_t)T * B * D; i++) {
        x[i] = (float)(2.0 * sv_rng_uniform(&r) - 1.0);
        if (sparse && sv_rng_uniform(&r) < 0.85) x[i] = 0.0f;
    }
    if (varlen) {
        assert_int_equal(seqvid_batch_set_length(b, 1, 2), 0);
        assert_int_equal(seqvid_batch_set_length(b, 2, 1), 0);
    }
    return b;
}

static const int labels[B] = {2, 0, 3};

/* The objective the gradient belongs to: without dropout the evaluation's loss; with
 * dropout the gradient pass's own loss after restarting the dropout stream (the masks are
 * then the same in every call: they do not depend on the weights). */
static double objective(seqvid_classifier *c, const seqvid_batch *b, int with_dropout) {
    float loss;
    if (with_dropout) {
        assert_int_equal(seqvid_classifier_set(c, SEQVID_CLS_DROPOUT_SEED, 99), 0);
        assert_int_equal(seqvid_classifier_gradients(c, b, labels, B, &loss, NULL), 0);
    } else {
        assert_int_equal(seqvid_classifier_evaluate(c, b, labels, B, &loss, NULL), 0);
    }
    return loss;
}

/* Compare every block of the analytic gradient with central differences. Returns the number
 * of blocks that fail (scale_wrong != 1 makes a wrong gradient, for the test of the test). */
static int gradcheck(seqvid_classifier *c, const seqvid_batch *b, int with_dropout,
                     double scale_wrong, const char *what) {
    float *p, *g, loss, loss2;
    size_t n, nblocks;
    seqvid_classifier_params(c, &p);
    seqvid_classifier_grads(c, &g);
    seqvid_classifier_param_count(c, &n);
    if (with_dropout) assert_int_equal(seqvid_classifier_set(c, SEQVID_CLS_DROPOUT_SEED, 99), 0);
    assert_int_equal(seqvid_classifier_gradients(c, b, labels, B, &loss, NULL), SEQVID_OK);
    if (!with_dropout) { /* the gradient pass reports the evaluation's loss */
        assert_int_equal(seqvid_classifier_evaluate(c, b, labels, B, &loss2, NULL), 0);
        assert_float_equal(loss, loss2, 1e-6);
    }
    float *ga = malloc(n * sizeof *ga);
    memcpy(ga, g, n * sizeof *ga);
    int bad = 0;
    assert_int_equal(seqvid_classifier_param_block_count(c, &nblocks), 0);
    const float eps = 1e-2f;
    for (size_t k = 0; k < nblocks; k++) {
        const char *name;
        size_t off, rows, cols;
        assert_int_equal(seqvid_classifier_param_block(c, k, &name, &off, &rows, &cols), 0);
        double dd = 0, na = 0, nf = 0;
        for (size_t i = off; i < off + rows * cols; i++) {
            float save = p[i];
            p[i] = save + eps;
            double lp = objective(c, b, with_dropout);
            p[i] = save - eps;
            double lm = objective(c, b, with_dropout);
            p[i] = save;
            double f = (lp - lm) / (2.0 * eps), a = scale_wrong * ga[i];
            dd += (a - f) * (a - f), na += a * a, nf += f * f;
        }
        double err = sqrt(dd), scale = fmax(sqrt(na), sqrt(nf));
        double tol = 2e-2 * scale + 1e-4 * sqrt((double)(rows * cols));
        if (!(err <= tol) || scale == 0.0) {
            bad++;
            if (scale_wrong == 1.0 || getenv("SV_TEST_VERBOSE"))
                print_error("%s: block %s |g-f| = %.3g, |g| = %.3g, |f| = %.3g\n", what, name,
                            err, sqrt(na), sqrt(nf));
        }
    }
    free(ga);
    return bad;
}

/* ---------------------------------------------------------------------------------------- */

static void test_gradients(void **state) {
    (void)state;
    for (int layers = 1; layers <= 2; layers++)
        for (int peep = 0; peep <= 1; peep++)
            for (int varlen = 0; varlen <= 1; varlen++)
                for (int sparse = 0; sparse <= 1; sparse++) {
                    char what[96];
                    snprintf(what, sizeof what, "L%d peep %d varlen %d sparse %d", layers, peep,
                             varlen, sparse);
                    seqvid_classifier *c = make_cls(layers, peep, 100 + (uint64_t)layers);
                    seqvid_batch *b = make_batch(sparse, varlen, 7);
                    if (gradcheck(c, b, 0, 1.0, what)) fail_msg("%s: gradient check failed", what);
                    seqvid_batch_free(b);
                    seqvid_classifier_free(c);
                }
}

/* With dropout on, the gradient is that of the loss under the masks drawn. */
static void test_gradients_dropout(void **state) {
    (void)state;
    for (int layers = 1; layers <= 2; layers++) {
        seqvid_classifier *c = make_cls(layers, 1, 5);
        assert_int_equal(seqvid_classifier_set(c, SEQVID_CLS_DROPOUT, 0.4), 0);
        seqvid_batch *b = make_batch(1, 1, 8);
        if (gradcheck(c, b, 1, 1.0, "dropout")) fail_msg("dropout gradient check failed");
        seqvid_batch_free(b);
        seqvid_classifier_free(c);
    }
}

/* The check must be able to fail: a gradient 20% off is caught in every block (5% in the
 * blocks whose gradient is large against the check's absolute floor). */
static void test_check_has_teeth(void **state) {
    (void)state;
    seqvid_classifier *c = make_cls(1, 1, 3);
    seqvid_batch *b = make_batch(0, 1, 4);
    size_t nblocks;
    seqvid_classifier_param_block_count(c, &nblocks);
    int bad5 = gradcheck(c, b, 0, 1.05, "teeth"), bad20 = gradcheck(c, b, 0, 1.2, "teeth");
    assert_true(bad5 >= 2);
    assert_int_equal(bad20, (int)nblocks);
    seqvid_batch_free(b);
    seqvid_classifier_free(c);
}

/* Loss and predictions by hand from the documented equations for a 1-layer stack whose
 * weights are zero except the readout bias: every step then has p = softmax(bias). */
static void test_loss_and_predict_by_hand(void **state) {
    (void)state;
    seqvid_classifier *c = make_cls(1, 1, 11);
    float *p;
    size_t n;
    seqvid_classifier_params(c, &p);
    seqvid_classifier_param_count(c, &n);
    memset(p, 0, n * sizeof *p);
    const float bias[C] = {0.5f, -1.0f, 2.0f, 0.0f};
    memcpy(p + n - C, bias, sizeof bias);
    double s = 0;
    for (int k = 0; k < C; k++) s += exp(bias[k]);
    seqvid_batch *b = make_batch(0, 1, 12);
    float loss, acc, probs[B * C];
    assert_int_equal(seqvid_classifier_evaluate(c, b, labels, B, &loss, &acc), 0);
    /* Lengths 4, 2, 1: the mean over 7 valid steps of -log p[label]. */
    double want = (4 * -log(exp(bias[2]) / s) + 2 * -log(exp(bias[0]) / s) +
                   1 * -log(exp(bias[3]) / s)) / 7.0;
    assert_float_equal(loss, want, 1e-5);
    assert_float_equal(acc, 1.0f / 3.0f, 1e-6); /* argmax is class 2: only sequence 0 right */
    assert_int_equal(seqvid_classifier_predict(c, b, probs, B * C), 0);
    for (int i = 0; i < B; i++)
        for (int k = 0; k < C; k++) assert_float_equal(probs[i * C + k], exp(bias[k]) / s, 1e-6);
    seqvid_batch_free(b);
    seqvid_classifier_free(c);
}

/* Frames past a sequence's length change nothing; predict averages over valid steps only,
 * its rows sum to 1, and the clip argmax is what evaluate's accuracy counts. */
static void test_lengths_and_predict(void **state) {
    (void)state;
    seqvid_classifier *c = make_cls(2, 1, 21);
    seqvid_batch *b = make_batch(0, 1, 22);
    float loss1, acc1, loss2, acc2, p1[B * C], p2[B * C];
    assert_int_equal(seqvid_classifier_evaluate(c, b, labels, B, &loss1, &acc1), 0);
    assert_int_equal(seqvid_classifier_predict(c, b, p1, B * C), 0);
    float *x;
    seqvid_batch_data(b, &x);
    for (int t = 2; t < T; t++) /* sequence 1 has length 2, sequence 2 length 1 */
        for (int d = 0; d < D; d++) x[((size_t)t * B + 1) * D + d] = 7.0f;
    for (int t = 1; t < T; t++)
        for (int d = 0; d < D; d++) x[((size_t)t * B + 2) * D + d] = -3.0f;
    assert_int_equal(seqvid_classifier_evaluate(c, b, labels, B, &loss2, &acc2), 0);
    assert_int_equal(seqvid_classifier_predict(c, b, p2, B * C), 0);
    assert_true(loss1 == loss2 && acc1 == acc2);
    assert_memory_equal(p1, p2, sizeof p1);
    int correct = 0;
    for (int i = 0; i < B; i++) {
        double s = 0;
        int best = 0;
        for (int k = 0; k < C; k++) {
            s += p1[i * C + k];
            if (p1[i * C + k] > p1[i * C + best]) best = k;
        }
        assert_float_equal(s, 1.0, 1e-5);
        correct += best == labels[i];
    }
    assert_float_equal(acc1, correct / (float)B, 1e-6);
    /* A sequence's prediction does not depend on the other sequences of the batch. */
    seqvid_batch *one;
    assert_int_equal(seqvid_batch_create(T, 1, D, &one), 0);
    float *y;
    seqvid_batch_data(one, &y);
    for (int t = 0; t < T; t++) memcpy(y + (size_t)t * D, x + ((size_t)t * B + 1) * D, D * 4);
    assert_int_equal(seqvid_batch_set_length(one, 0, 2), 0);
    float q[C];
    assert_int_equal(seqvid_classifier_predict(c, one, q, C), 0);
    for (int k = 0; k < C; k++) assert_float_equal(q[k], p1[C + k], 1e-5);
    seqvid_batch_free(one);
    seqvid_batch_free(b);
    seqvid_classifier_free(c);
}

/* Dropout: training passes only, deterministic from the seed, restartable. */
static void test_dropout(void **state) {
    (void)state;
    seqvid_classifier *c = make_cls(1, 1, 31), *c2 = make_cls(1, 1, 31);
    seqvid_batch *b = make_batch(1, 0, 32);
    size_t n;
    float *g, *g2, l0, l1, l2, e0, e1;
    seqvid_classifier_param_count(c, &n);
    seqvid_classifier_grads(c, &g);
    seqvid_classifier_grads(c2, &g2);
    assert_int_equal(seqvid_classifier_gradients(c, b, labels, B, &l0, NULL), 0);
    assert_int_equal(seqvid_classifier_evaluate(c, b, labels, B, &e0, NULL), 0);
    assert_float_equal(l0, e0, 1e-6);
    for (seqvid_classifier **x = (seqvid_classifier *[]){c, c2, NULL}; *x; x++)
        assert_int_equal(seqvid_classifier_set(*x, SEQVID_CLS_DROPOUT, 0.5), 0);
    assert_int_equal(seqvid_classifier_gradients(c, b, labels, B, &l1, NULL), 0);
    assert_int_equal(seqvid_classifier_gradients(c2, b, labels, B, &l2, NULL), 0);
    assert_true(l1 == l2); /* same seed, same stream */
    assert_memory_equal(g, g2, n * sizeof *g);
    assert_true(l1 != l0);
    assert_int_equal(seqvid_classifier_gradients(c2, b, labels, B, &l2, NULL), 0);
    assert_true(l1 != l2); /* the stream moved on */
    double seed;
    assert_int_equal(seqvid_classifier_get(c2, SEQVID_CLS_DROPOUT_SEED, &seed), 0);
    assert_true(seed == 31);
    assert_int_equal(seqvid_classifier_set(c2, SEQVID_CLS_DROPOUT_SEED, 31), 0);
    assert_int_equal(seqvid_classifier_gradients(c2, b, labels, B, &l2, NULL), 0);
    assert_true(l1 == l2); /* restarted */
    assert_int_equal(seqvid_classifier_evaluate(c, b, labels, B, &e1, NULL), 0);
    assert_true(e0 == e1); /* evaluation ignores dropout */
    seqvid_batch_free(b);
    seqvid_classifier_free(c);
    seqvid_classifier_free(c2);
}

/* Frozen layers do not move at all (momentum and weight decay included), their optimizer
 * state stays zero, and they thaw after FREEZE_STEPS. */
static void test_freeze(void **state) {
    (void)state;
    for (int kind = SEQVID_OPT_SGD; kind <= SEQVID_OPT_ADAM; kind++) {
        seqvid_classifier *c = make_cls(2, 1, 41);
        seqvid_batch *b = make_batch(0, 1, 42);
        seqvid_optimizer *opt;
        assert_int_equal(seqvid_optimizer_create(kind, &opt), 0);
        assert_int_equal(seqvid_optimizer_set(opt, SEQVID_OPT_LR, 1e-2), 0);
        assert_int_equal(seqvid_optimizer_set(opt, SEQVID_OPT_WEIGHT_DECAY, 0.1), 0);
        if (kind == SEQVID_OPT_SGD)
            assert_int_equal(seqvid_optimizer_set(opt, SEQVID_OPT_UPDATE_CLIP, 0), 0);
        assert_int_equal(seqvid_classifier_set(c, SEQVID_CLS_FREEZE_STEPS, 3), 0);
        assert_int_equal(seqvid_classifier_set(c, SEQVID_CLS_DROPOUT, 0.2), 0);
        float *p, *g;
        size_t n, nstack, rows, cols;
        seqvid_classifier_params(c, &p);
        seqvid_classifier_grads(c, &g);
        seqvid_classifier_param_count(c, &n);
        size_t nb;
        seqvid_classifier_param_block_count(c, &nb);
        assert_int_equal(seqvid_classifier_param_block(c, nb - 2, NULL, &nstack, &rows, &cols), 0);
        assert_true(rows == H && cols == C);
        float *before = malloc(n * sizeof *before);
        memcpy(before, p, n * sizeof *before);
        for (int step = 0; step < 3; step++) {
            float loss;
            assert_int_equal(seqvid_classifier_train_step(c, opt, b, labels, B, &loss, NULL), 0);
            for (size_t i = 0; i < nstack; i++) assert_true(g[i] == 0.0f); /* skipped */
        }
        assert_memory_equal(p, before, nstack * sizeof *p);
        assert_memory_not_equal(p + nstack, before + nstack, (n - nstack) * sizeof *p);
        assert_int_equal(opt->n, n); /* bound to the whole arena */
        for (size_t i = 0; i < nstack; i++) assert_true(opt->s1[i] == 0.0f);
        assert_int_equal(seqvid_classifier_train_step(c, opt, b, labels, B, NULL, NULL), 0);
        assert_memory_not_equal(p, before, nstack * sizeof *p); /* thawed */
        uint64_t steps;
        seqvid_optimizer_steps(opt, &steps);
        assert_int_equal(steps, 4);

        /* For good, and through gradients + update (all gradients computed, stack kept). */
        assert_int_equal(seqvid_classifier_set(c, SEQVID_CLS_FREEZE_STEPS, -1), 0);
        memcpy(before, p, n * sizeof *before);
        for (int step = 0; step < 3; step++) {
            assert_int_equal(seqvid_classifier_gradients(c, b, labels, B, NULL, NULL), 0);
            double gs = 0;
            for (size_t i = 0; i < nstack; i++) gs += fabs(g[i]);
            assert_true(gs > 0);
            assert_int_equal(seqvid_classifier_update(c, opt), 0);
        }
        assert_memory_equal(p, before, nstack * sizeof *p);
        assert_memory_not_equal(p + nstack, before + nstack, (n - nstack) * sizeof *p);
        free(before);
        seqvid_optimizer_free(opt);
        seqvid_batch_free(b);
        seqvid_classifier_free(c);
    }
}

/* A failed step (non-finite gradient) changes neither weights nor optimizer, frozen or not. */
static void test_failed_update_changes_nothing(void **state) {
    (void)state;
    seqvid_classifier *c = make_cls(1, 1, 51);
    seqvid_batch *b = make_batch(0, 0, 52);
    seqvid_optimizer *opt;
    assert_int_equal(seqvid_optimizer_create(SEQVID_OPT_ADAM, &opt), 0);
    float *p, *g;
    size_t n;
    seqvid_classifier_params(c, &p);
    seqvid_classifier_grads(c, &g);
    seqvid_classifier_param_count(c, &n);
    float *before = malloc(n * sizeof *before);
    for (int freeze = 0; freeze <= 1; freeze++) {
        assert_int_equal(seqvid_classifier_set(c, SEQVID_CLS_FREEZE_STEPS, -freeze), 0);
        assert_int_equal(seqvid_classifier_gradients(c, b, labels, B, NULL, NULL), 0);
        memcpy(before, p, n * sizeof *before);
        g[n - 1] = NAN;
        assert_fails(seqvid_classifier_update(c, opt), SEQVID_ERR_NONFINITE);
        assert_memory_equal(p, before, n * sizeof *p);
        uint64_t steps;
        seqvid_optimizer_steps(opt, &steps);
        assert_int_equal(steps, 0);
        assert_int_equal(opt->n, 0); /* not even bound */
    }
    free(before);
    seqvid_optimizer_free(opt);
    seqvid_batch_free(b);
    seqvid_classifier_free(c);
}

/* Training learns a task only the sequence as a whole tells: the class is the step (0..3) at
 * which a pulse appears on input 0; the other inputs are noise. */
static void test_learns(void **state) {
    (void)state;
    enum { S = 16 };
    seqvid_config *cfg = stack_config(D, 8, 1, 1, 61);
    seqvid_classifier *c;
    assert_int_equal(seqvid_classifier_create(cfg, C, &c), 0);
    seqvid_config_free(cfg);
    seqvid_optimizer *opt;
    assert_int_equal(seqvid_optimizer_create(SEQVID_OPT_ADAM, &opt), 0);
    assert_int_equal(seqvid_optimizer_set(opt, SEQVID_OPT_LR, 3e-2), 0);
    seqvid_batch *b;
    assert_int_equal(seqvid_batch_create(T, S, D, &b), 0);
    float *x;
    seqvid_batch_data(b, &x);
    int y[S];
    sv_rng r;
    sv_rng_seed(&r, 62);
    float acc = 0, loss = 0, first = 0;
    for (int step = 0; step < 300; step++) {
        for (int s = 0; s < S; s++) {
            y[s] = (int)(sv_rng_next(&r) % C);
            for (int t = 0; t < T; t++)
                for (int d = 0; d < D; d++)
                    x[((size_t)t * S + s) * D + d] =
                        d == 0 ? (t == y[s] ? 1.0f : 0.0f) : (float)(0.2 * sv_rng_uniform(&r));
        }
        assert_int_equal(seqvid_classifier_train_step(c, opt, b, y, S, &loss, NULL), 0);
        if (step == 0) first = loss;
    }
    assert_int_equal(seqvid_classifier_evaluate(c, b, y, S, &loss, &acc), 0);
    assert_true(loss < 0.5f * first);
    assert_true(acc == 1.0f);
    seqvid_batch_free(b);
    seqvid_optimizer_free(opt);
    seqvid_classifier_free(c);
}

static seqvid_model *make_model(int d, int h, int layers, int peep, uint64_t seed) {
    seqvid_config *cfg = stack_config(d, h, layers, peep, seed);
    seqvid_model *m;
    assert_int_equal(seqvid_model_create(cfg, &m), 0);
    seqvid_config_free(cfg);
    return m;
}

/* The encoder's blocks of a model, by name (encoder.<l>.<part>). */
static void encoder_block(seqvid_model *m, const char *cls_name, float **data, size_t *count) {
    char want[64];
    snprintf(want, sizeof want, "encoder.%s", cls_name + strlen("classifier."));
    size_t nb, off, rows, cols;
    const char *name;
    float *p;
    seqvid_model_params(m, &p);
    seqvid_model_param_block_count(m, &nb);
    for (size_t i = 0; i < nb; i++) {
        assert_int_equal(seqvid_model_param_block(m, i, &name, &off, &rows, &cols), 0);
        if (!strcmp(name, want)) {
            *data = p + off, *count = rows * cols;
            return;
        }
    }
    fail_msg("no block %s", want);
}

/* Random init equals the encoder of a model of the same configuration; create_from_encoder
 * and copy_encoder copy the encoder's blocks; sizes are checked. */
static void test_from_encoder(void **state) {
    (void)state;
    seqvid_model *m = make_model(D, H, 2, 1, 71);
    seqvid_config *cfg = stack_config(D, H, 2, 1, 71);
    seqvid_classifier *fresh, *from;
    assert_int_equal(seqvid_classifier_create(cfg, C, &fresh), 0);
    /* Train the model a little so its weights are not the initial ones. */
    seqvid_optimizer *opt;
    assert_int_equal(seqvid_optimizer_create(SEQVID_OPT_ADAM, &opt), 0);
    seqvid_batch *mb;
    assert_int_equal(seqvid_batch_create(4, 2, D, &mb), 0);
    float *x;
    seqvid_batch_data(mb, &x);
    for (int i = 0; i < 4 * 2 * D; i++) x[i] = (float)(i % 3) / 2.0f;
    size_t nb, off, rows, cols;
    const char *name;
    float *p, *e;
    size_t ne;
    seqvid_classifier_params(fresh, &p);
    seqvid_classifier_param_block_count(fresh, &nb);
    for (size_t i = 0; i + 2 < nb; i++) { /* the stack blocks */
        assert_int_equal(seqvid_classifier_param_block(fresh, i, &name, &off, &rows, &cols), 0);
        encoder_block(m, name, &e, &ne);
        assert_int_equal(ne, rows * cols);
        assert_memory_equal(p + off, e, ne * sizeof *e);
    }
    assert_int_equal(seqvid_model_train_step(m, opt, mb, NULL, NULL), 0);
    assert_int_equal(seqvid_classifier_create_from_encoder(m, C, &from), 0);
    assert_int_equal(seqvid_classifier_copy_encoder(fresh, m), 0);
    for (seqvid_classifier **c = (seqvid_classifier *[]){from, fresh, NULL}; *c; c++) {
        seqvid_classifier_params(*c, &p);
        for (size_t i = 0; i + 2 < nb; i++) {
            assert_int_equal(seqvid_classifier_param_block(*c, i, &name, &off, &rows, &cols), 0);
            encoder_block(m, name, &e, &ne);
            assert_memory_equal(p + off, e, ne * sizeof *e);
        }
    }
    double v;
    assert_int_equal(seqvid_classifier_get(from, SEQVID_CLS_CLASSES, &v), 0);
    assert_true(v == C);
    assert_int_equal(seqvid_classifier_get(from, SEQVID_CFG_LAYERS, &v), 0);
    assert_true(v == 2);
    /* Size mismatches, each alone. */
    const int bad[4][4] = {{D + 1, H, 2, 1}, {D, H + 1, 2, 1}, {D, H, 1, 1}, {D, H, 2, 0}};
    for (int i = 0; i < 4; i++) {
        seqvid_model *o = make_model(bad[i][0], bad[i][1], bad[i][2], bad[i][3], 72);
        seqvid_classifier_params(fresh, &p);
        size_t n;
        seqvid_classifier_param_count(fresh, &n);
        float *keep = malloc(n * sizeof *keep);
        memcpy(keep, p, n * sizeof *keep);
        assert_fails(seqvid_classifier_copy_encoder(fresh, o), SEQVID_ERR_SHAPE);
        assert_memory_equal(p, keep, n * sizeof *p);
        free(keep);
        seqvid_model_free(o);
    }
    /* An optimizer bound to the model cannot step the classifier. */
    assert_fails(seqvid_classifier_update(from, opt), SEQVID_ERR_SHAPE);
    seqvid_optimizer_free(opt);
    seqvid_batch_free(mb);
    seqvid_config_free(cfg);
    seqvid_classifier_free(fresh);
    seqvid_classifier_free(from);
    seqvid_model_free(m);
}

static void test_bad_arguments(void **state) {
    (void)state;
    seqvid_config *cfg = stack_config(D, H, 1, 1, 81);
    seqvid_classifier *c = NULL, *c2;
    assert_fails(seqvid_classifier_create(cfg, C, NULL), SEQVID_ERR_NULL);
    c2 = (seqvid_classifier *)cfg; /* not NULL: must be reset on failure */
    assert_fails(seqvid_classifier_create(NULL, C, &c2), SEQVID_ERR_NULL);
    assert_null(c2);
    assert_fails(seqvid_classifier_create(cfg, 1, &c2), SEQVID_ERR_ARG);
    assert_fails(seqvid_classifier_create(cfg, 0, &c2), SEQVID_ERR_ARG);
    assert_fails(seqvid_classifier_create(cfg, -3, &c2), SEQVID_ERR_ARG);
    assert_fails(seqvid_classifier_create(cfg, SV_CLS_MAX_CLASSES + 1, &c2), SEQVID_ERR_ARG);
    assert_fails(seqvid_classifier_create_from_encoder(NULL, C, &c2), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_classifier_create(cfg, C, &c), 0);
    seqvid_model *m = make_model(D, H, 1, 1, 81);
    assert_fails(seqvid_classifier_create_from_encoder(m, 1, &c2), SEQVID_ERR_ARG);
    assert_null(c2);
    assert_fails(seqvid_classifier_copy_encoder(NULL, m), SEQVID_ERR_NULL);
    assert_fails(seqvid_classifier_copy_encoder(c, NULL), SEQVID_ERR_NULL);
    seqvid_classifier_free(NULL);

    /* Settings. */
    double v;
    assert_fails(seqvid_classifier_set(NULL, SEQVID_CLS_DROPOUT, 0.1), SEQVID_ERR_NULL);
    assert_fails(seqvid_classifier_set(c, SEQVID_CLS_DROPOUT, 1.0), SEQVID_ERR_ARG);
    assert_fails(seqvid_classifier_set(c, SEQVID_CLS_DROPOUT, -0.1), SEQVID_ERR_ARG);
    assert_fails(seqvid_classifier_set(c, SEQVID_CLS_DROPOUT, NAN), SEQVID_ERR_ARG);
    assert_fails(seqvid_classifier_set(c, SEQVID_CLS_FREEZE_STEPS, -2), SEQVID_ERR_ARG);
    assert_fails(seqvid_classifier_set(c, SEQVID_CLS_FREEZE_STEPS, 1.5), SEQVID_ERR_ARG);
    assert_fails(seqvid_classifier_set(c, SEQVID_CLS_FREEZE_STEPS, INFINITY), SEQVID_ERR_ARG);
    assert_fails(seqvid_classifier_set(c, SEQVID_CLS_DROPOUT_SEED, -1), SEQVID_ERR_ARG);
    assert_fails(seqvid_classifier_set(c, SEQVID_CLS_CLASSES, 5), SEQVID_ERR_STATE);
    assert_fails(seqvid_classifier_set(c, SEQVID_CFG_HIDDEN, 5), SEQVID_ERR_STATE);
    assert_fails(seqvid_classifier_set(c, SEQVID_CFG_KIND, 1), SEQVID_ERR_ARG);
    assert_fails(seqvid_classifier_set(c, 999, 1), SEQVID_ERR_ARG);
    assert_fails(seqvid_classifier_get(c, SEQVID_CFG_KIND, &v), SEQVID_ERR_ARG);
    assert_fails(seqvid_classifier_get(c, SEQVID_CFG_INPUT_FRAMES, &v), SEQVID_ERR_ARG);
    assert_fails(seqvid_classifier_get(c, 0, &v), SEQVID_ERR_ARG);
    assert_fails(seqvid_classifier_get(c, SEQVID_CLS_DROPOUT, NULL), SEQVID_ERR_NULL);
    assert_fails(seqvid_classifier_get(NULL, SEQVID_CLS_DROPOUT, &v), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_classifier_get(c, SEQVID_CLS_DROPOUT, &v), 0);
    assert_true(v == 0); /* unchanged by the failed sets */
    assert_int_equal(seqvid_classifier_get(c, SEQVID_CLS_FREEZE_STEPS, &v), 0);
    assert_true(v == 0);

    /* Passes. */
    seqvid_batch *b = make_batch(0, 0, 82), *wrong;
    assert_int_equal(seqvid_batch_create(T, B, D + 1, &wrong), 0);
    float loss, acc, probs[B * C];
    int bad_labels[B] = {0, C, 1}, neg_labels[B] = {0, 1, -1};
    seqvid_optimizer *opt;
    assert_int_equal(seqvid_optimizer_create(SEQVID_OPT_SGD, &opt), 0);
    assert_fails(seqvid_classifier_gradients(NULL, b, labels, B, &loss, &acc), SEQVID_ERR_NULL);
    assert_fails(seqvid_classifier_gradients(c, NULL, labels, B, &loss, &acc), SEQVID_ERR_NULL);
    assert_fails(seqvid_classifier_gradients(c, b, NULL, B, &loss, &acc), SEQVID_ERR_NULL);
    assert_fails(seqvid_classifier_gradients(c, wrong, labels, B, &loss, &acc), SEQVID_ERR_SHAPE);
    assert_fails(seqvid_classifier_gradients(c, b, labels, B - 1, &loss, &acc), SEQVID_ERR_SHAPE);
    assert_fails(seqvid_classifier_gradients(c, b, labels, B + 1, &loss, &acc), SEQVID_ERR_SHAPE);
    assert_fails(seqvid_classifier_gradients(c, b, bad_labels, B, &loss, &acc), SEQVID_ERR_ARG);
    assert_fails(seqvid_classifier_gradients(c, b, neg_labels, B, &loss, &acc), SEQVID_ERR_ARG);
    assert_fails(seqvid_classifier_evaluate(c, b, bad_labels, B, &loss, &acc), SEQVID_ERR_ARG);
    assert_fails(seqvid_classifier_evaluate(c, wrong, labels, B, &loss, &acc), SEQVID_ERR_SHAPE);
    assert_fails(seqvid_classifier_evaluate(c, b, NULL, B, &loss, &acc), SEQVID_ERR_NULL);
    assert_fails(seqvid_classifier_train_step(c, NULL, b, labels, B, &loss, &acc),
                 SEQVID_ERR_NULL);
    assert_fails(seqvid_classifier_train_step(NULL, opt, b, labels, B, &loss, &acc),
                 SEQVID_ERR_NULL);
    assert_fails(seqvid_classifier_train_step(c, opt, b, bad_labels, B, &loss, &acc),
                 SEQVID_ERR_ARG);
    assert_fails(seqvid_classifier_update(c, NULL), SEQVID_ERR_NULL);
    assert_fails(seqvid_classifier_update(NULL, opt), SEQVID_ERR_NULL);
    uint64_t steps;
    seqvid_optimizer_steps(opt, &steps);
    assert_int_equal(steps, 0);
    assert_fails(seqvid_classifier_predict(c, b, NULL, B * C), SEQVID_ERR_NULL);
    assert_fails(seqvid_classifier_predict(c, b, probs, B * C - 1), SEQVID_ERR_BUFFER);
    assert_fails(seqvid_classifier_predict(c, wrong, probs, sizeof probs), SEQVID_ERR_SHAPE);
    assert_fails(seqvid_classifier_predict(NULL, b, probs, B * C), SEQVID_ERR_NULL);
    float *x;
    seqvid_batch_data(b, &x);
    x[7] = NAN;
    assert_fails(seqvid_classifier_gradients(c, b, labels, B, &loss, &acc), SEQVID_ERR_NONFINITE);
    assert_fails(seqvid_classifier_predict(c, b, probs, B * C), SEQVID_ERR_NONFINITE);
    x[7] = 0;
    /* Huge weights overflow the logits: a non-finite loss is reported, nothing updated. */
    float *p;
    size_t n;
    seqvid_classifier_params(c, &p);
    seqvid_classifier_param_count(c, &n);
    for (size_t i = n - C; i < n; i++) p[i] = i == n - 1 ? INFINITY : 0.0f;
    assert_fails(seqvid_classifier_train_step(c, opt, b, labels, B, &loss, &acc),
                 SEQVID_ERR_NONFINITE);
    seqvid_optimizer_steps(opt, &steps);
    assert_int_equal(steps, 0);
    p[n - 1] = 0;

    /* Parameters. */
    size_t count;
    float *arr;
    const char *name;
    assert_fails(seqvid_classifier_param_count(NULL, &count), SEQVID_ERR_NULL);
    assert_fails(seqvid_classifier_param_count(c, NULL), SEQVID_ERR_NULL);
    assert_fails(seqvid_classifier_params(NULL, &arr), SEQVID_ERR_NULL);
    assert_fails(seqvid_classifier_grads(c, NULL), SEQVID_ERR_NULL);
    assert_fails(seqvid_classifier_param_block_count(NULL, &count), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_classifier_param_block_count(c, &count), 0);
    assert_int_equal(count, 6);
    assert_fails(seqvid_classifier_param_block(c, count, &name, NULL, NULL, NULL), SEQVID_ERR_ARG);
    assert_fails(seqvid_classifier_param_block(NULL, 0, &name, NULL, NULL, NULL), SEQVID_ERR_NULL);
    const char *names[6] = {"classifier.0.w_x", "classifier.0.w_h", "classifier.0.peephole",
                            "classifier.0.bias", "classifier.readout.w", "classifier.readout.b"};
    size_t expect_off = 0;
    for (size_t i = 0; i < count; i++) {
        size_t off, rows, cols;
        assert_int_equal(seqvid_classifier_param_block(c, i, &name, &off, &rows, &cols), 0);
        assert_string_equal(name, names[i]);
        assert_int_equal(off, expect_off);
        expect_off += rows * cols;
    }
    assert_int_equal(expect_off, n);

    seqvid_optimizer_free(opt);
    seqvid_batch_free(b);
    seqvid_batch_free(wrong);
    seqvid_model_free(m);
    seqvid_classifier_free(c);
    seqvid_config_free(cfg);
}

/* ------------------------------------------------------------------------------------------
 * Saving and loading
 * ---------------------------------------------------------------------------------------- */
static unsigned char *cls_bytes(const seqvid_classifier *c, size_t *size) {
    assert_int_equal(seqvid_classifier_save_buffer(c, NULL, 0, size), SEQVID_OK);
    unsigned char *buf = malloc(*size);
    size_t again;
    assert_fails(seqvid_classifier_save_buffer(c, buf, *size - 1, &again), SEQVID_ERR_BUFFER);
    assert_int_equal(seqvid_classifier_save_buffer(c, buf, *size, &again), SEQVID_OK);
    assert_int_equal(again, *size);
    return buf;
}

static void assert_cls_equal(const seqvid_classifier *a, const seqvid_classifier *b) {
    const int keys[] = {SEQVID_CFG_INPUT_DIM, SEQVID_CFG_HIDDEN, SEQVID_CFG_LAYERS,
                        SEQVID_CFG_PEEPHOLES, SEQVID_CFG_SEED, SEQVID_CFG_INIT_WEIGHT,
                        SEQVID_CFG_INIT_PEEPHOLE, SEQVID_CFG_FORGET_BIAS, SEQVID_CLS_DROPOUT,
                        SEQVID_CLS_FREEZE_STEPS, SEQVID_CLS_DROPOUT_SEED, SEQVID_CLS_CLASSES};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        double x, y;
        assert_int_equal(seqvid_classifier_get(a, keys[i], &x), 0);
        assert_int_equal(seqvid_classifier_get(b, keys[i], &y), 0);
        assert_memory_equal(&x, &y, sizeof x);
    }
    assert_int_equal(a->arena.n_params, b->arena.n_params);
    assert_memory_equal(a->arena.params, b->arena.params, a->arena.n_params * sizeof(float));
    assert_int_equal(a->arena.n_blocks, b->arena.n_blocks);
    for (size_t i = 0; i < a->arena.n_blocks; i++) assert_string_equal(a->arena.blocks[i].name, b->arena.blocks[i].name);
}

/* A copy of a file's bytes with its header JSON replaced, data kept (header padded). */
static unsigned char *with_header(const unsigned char *buf, size_t size, cJSON *root,
                                  size_t *out_size) {
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | buf[i];
    char *json = cJSON_PrintUnformatted(root);
    size_t len = strlen(json), padded = (len + 7) & ~(size_t)7, data = size - 8 - (size_t)hl;
    *out_size = 8 + padded + data;
    unsigned char *o = malloc(*out_size);
    for (int i = 0; i < 8; i++) o[i] = (unsigned char)(padded >> (8 * i));
    memcpy(o + 8, json, len);
    memset(o + 8 + len, ' ', padded - len);
    memcpy(o + 8 + padded, buf + 8 + hl, data);
    free(json);
    return o;
}

static cJSON *header_of(const unsigned char *buf) {
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | buf[i];
    cJSON *root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hl);
    assert_non_null(root);
    return root;
}

/* Load a file (with its header replaced by root, unless root is NULL) as a classifier (ckpt 0)
 * or a classifier checkpoint (ckpt 1): must fail with `want`, a message and nothing returned. */
static void expect_load_fails(const unsigned char *buf, size_t size, cJSON *root, int ckpt,
                              int want, const char *what) {
    size_t n = size;
    unsigned char *o = root ? with_header(buf, size, root, &n) : malloc(size);
    if (!root) memcpy(o, buf, size);
    seqvid_classifier *c = (seqvid_classifier *)o;
    seqvid_optimizer *opt = (seqvid_optimizer *)o;
    clear_error();
    int st = ckpt ? seqvid_classifier_checkpoint_load_buffer(o, n, &c, &opt, NULL)
                  : seqvid_classifier_load_buffer(o, n, &c);
    if (st != want) fail_msg("%s: status %d, expected %d (%s)", what, st, want, seqvid_last_error());
    assert_null(c);
    if (ckpt) assert_null(opt);
    assert_true(seqvid_last_error()[0] != 0);
    free(o);
    cJSON_Delete(root);
}

static void expect_header_fails(const unsigned char *buf, size_t size, cJSON *root, int want,
                                const char *what) {
    expect_load_fails(buf, size, root, 0, want, what);
}

static void test_save_load(void **state) {
    (void)state;
    seqvid_classifier *c = make_cls(2, 0, 91), *l = NULL;
    assert_int_equal(seqvid_classifier_set(c, SEQVID_CLS_DROPOUT, 1.0 / 3.0), 0);
    assert_int_equal(seqvid_classifier_set(c, SEQVID_CLS_FREEZE_STEPS, -1), 0);
    assert_int_equal(seqvid_classifier_set(c, SEQVID_CLS_DROPOUT_SEED, 12345), 0);
    size_t size;
    unsigned char *buf = cls_bytes(c, &size);
    assert_int_equal(seqvid_classifier_load_buffer(buf, size, &l), SEQVID_OK);
    assert_cls_equal(c, l);
    /* Same predictions and, from the restarted dropout stream, the same training pass. */
    seqvid_batch *b = make_batch(1, 1, 92);
    float p1[B * C], p2[B * C], l1, l2;
    assert_int_equal(seqvid_classifier_predict(c, b, p1, B * C), 0);
    assert_int_equal(seqvid_classifier_predict(l, b, p2, B * C), 0);
    assert_memory_equal(p1, p2, sizeof p1);
    assert_int_equal(seqvid_classifier_set(c, SEQVID_CLS_DROPOUT_SEED, 12345), 0);
    assert_int_equal(seqvid_classifier_gradients(c, b, labels, B, &l1, NULL), 0);
    assert_int_equal(seqvid_classifier_gradients(l, b, labels, B, &l2, NULL), 0);
    assert_true(l1 == l2);
    seqvid_classifier_free(l);

    /* Files, atomically written, and loaded again. */
    char dir[] = "/tmp/seqvid_cls_XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/c.safetensors", dir);
    assert_int_equal(seqvid_classifier_save(c, path), SEQVID_OK);
    assert_int_equal(seqvid_classifier_load(path, &l), SEQVID_OK);
    assert_cls_equal(c, l);
    seqvid_classifier_free(l);
    assert_fails(seqvid_classifier_save(NULL, path), SEQVID_ERR_NULL);
    assert_fails(seqvid_classifier_save(c, NULL), SEQVID_ERR_NULL);
    assert_fails(seqvid_classifier_save(c, ""), SEQVID_ERR_ARG);
    assert_fails(seqvid_classifier_load(NULL, &l), SEQVID_ERR_NULL);
    assert_fails(seqvid_classifier_load(path, NULL), SEQVID_ERR_NULL);
    assert_fails(seqvid_classifier_load_buffer(NULL, 8, &l), SEQVID_ERR_NULL);
    assert_fails(seqvid_classifier_save_buffer(c, NULL, 0, NULL), SEQVID_ERR_NULL);
    char missing[80];
    snprintf(missing, sizeof missing, "%s/none.safetensors", dir);
    assert_fails(seqvid_classifier_load(missing, &l), SEQVID_ERR_IO);

    /* Model files, checkpoints and classifiers do not load as one another. */
    seqvid_model *m = make_model(D, H, 1, 1, 93), *mm = NULL;
    char mpath[80];
    snprintf(mpath, sizeof mpath, "%s/m.safetensors", dir);
    assert_int_equal(seqvid_model_save(m, mpath), 0);
    assert_fails(seqvid_classifier_load(mpath, &l), SEQVID_ERR_FORMAT);
    assert_null(l);
    assert_fails(seqvid_model_load(path, &mm), SEQVID_ERR_FORMAT);
    assert_null(mm);
    seqvid_optimizer *o = NULL;
    assert_fails(seqvid_checkpoint_load(path, &mm, &o, NULL, NULL), SEQVID_ERR_FORMAT);
    seqvid_optimizer *opt;
    assert_int_equal(seqvid_optimizer_create(SEQVID_OPT_ADAM, &opt), 0);
    assert_int_equal(seqvid_checkpoint_save(mpath, m, opt, NULL, 3), 0);
    assert_fails(seqvid_classifier_load(mpath, &l), SEQVID_ERR_FORMAT);
    seqvid_optimizer_free(opt);
    unlink(mpath);
    unlink(path);
    rmdir(dir);
    seqvid_model_free(m);

    /* Every truncation, and every single flipped byte of the data (the CRC). */
    for (size_t k = 0; k < size; k++) {
        l = (seqvid_classifier *)buf;
        assert_int_not_equal(seqvid_classifier_load_buffer(buf, k, &l), SEQVID_OK);
        assert_null(l);
    }
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | buf[i];
    for (size_t k = 8 + (size_t)hl; k < size; k += 7) {
        buf[k] ^= 0x10;
        assert_fails(seqvid_classifier_load_buffer(buf, size, &l), SEQVID_ERR_FORMAT);
        buf[k] ^= 0x10;
    }

    /* Hostile headers. */
    cJSON *r;
    r = header_of(buf);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(r, "__metadata__"), "classifier.CLASSES",
                              cJSON_CreateString("1"));
    expect_header_fails(buf, size, r, SEQVID_ERR_FORMAT, "CLASSES 1");
    r = header_of(buf);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(r, "__metadata__"), "classifier.CLASSES",
                              cJSON_CreateString("5"));
    expect_header_fails(buf, size, r, SEQVID_ERR_FORMAT, "CLASSES 5 (readout shape)");
    r = header_of(buf);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(r, "__metadata__"), "classifier.CLASSES",
                              cJSON_CreateString("4.5"));
    expect_header_fails(buf, size, r, SEQVID_ERR_FORMAT, "CLASSES 4.5");
    r = header_of(buf);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(r, "__metadata__"), "classifier.DROPOUT",
                              cJSON_CreateString("1"));
    expect_header_fails(buf, size, r, SEQVID_ERR_FORMAT, "DROPOUT 1");
    r = header_of(buf);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(r, "__metadata__"), "classifier.FREEZE_STEPS",
                              cJSON_CreateString("-7"));
    expect_header_fails(buf, size, r, SEQVID_ERR_FORMAT, "FREEZE_STEPS -7");
    r = header_of(buf);
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(r, "__metadata__"), "classifier.DROPOUT_SEED");
    expect_header_fails(buf, size, r, SEQVID_ERR_FORMAT, "no DROPOUT_SEED");
    r = header_of(buf);
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(r, "__metadata__"), "classifier.CLASSES");
    expect_header_fails(buf, size, r, SEQVID_ERR_FORMAT, "no CLASSES");
    r = header_of(buf);
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(r, "__metadata__"), "config.HIDDEN");
    expect_header_fails(buf, size, r, SEQVID_ERR_FORMAT, "no HIDDEN");
    r = header_of(buf);
    cJSON_AddStringToObject(cJSON_GetObjectItem(r, "__metadata__"), "config.KIND", "3");
    expect_header_fails(buf, size, r, SEQVID_ERR_FORMAT, "config.KIND in a classifier");
    r = header_of(buf);
    cJSON_AddStringToObject(cJSON_GetObjectItem(r, "__metadata__"), "classifier.WIDTH", "3");
    expect_header_fails(buf, size, r, SEQVID_ERR_FORMAT, "unknown classifier key");
    r = header_of(buf);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(r, "__metadata__"), "type",
                              cJSON_CreateString("model"));
    expect_header_fails(buf, size, r, SEQVID_ERR_FORMAT, "type model with classifier keys");
    r = header_of(buf);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(r, "__metadata__"), "config.HIDDEN",
                              cJSON_CreateString("300000"));
    expect_header_fails(buf, size, r, SEQVID_ERR_FORMAT, "HIDDEN out of range");
    r = header_of(buf);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(r, "__metadata__"), "config.HIDDEN",
                              cJSON_CreateString("30000"));
    expect_header_fails(buf, size, r, SEQVID_ERR_FORMAT, "HIDDEN implausible for the data");
    r = header_of(buf);
    cJSON *w = cJSON_DetachItemFromObject(r, "classifier.readout.w");
    cJSON_AddItemToObject(r, "classifier.readout.weights", w);
    expect_header_fails(buf, size, r, SEQVID_ERR_FORMAT, "renamed tensor");
    r = header_of(buf);
    cJSON *shape = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "classifier.readout.w"), "shape");
    cJSON_ReplaceItemInArray(shape, 0, cJSON_CreateNumber(C));
    cJSON_ReplaceItemInArray(shape, 1, cJSON_CreateNumber(H));
    expect_header_fails(buf, size, r, SEQVID_ERR_FORMAT, "transposed readout");

    /* A model file with a classifier key is refused too. */
    m = make_model(D, H, 1, 1, 94);
    size_t msize;
    assert_int_equal(seqvid_model_save_buffer(m, NULL, 0, &msize), 0);
    unsigned char *mbuf = malloc(msize);
    assert_int_equal(seqvid_model_save_buffer(m, mbuf, msize, &msize), 0);
    r = header_of(mbuf);
    cJSON_AddStringToObject(cJSON_GetObjectItem(r, "__metadata__"), "classifier.DROPOUT", "0");
    size_t n2;
    unsigned char *o2 = with_header(mbuf, msize, r, &n2);
    assert_fails(seqvid_model_load_buffer(o2, n2, &mm), SEQVID_ERR_FORMAT);
    free(o2);
    cJSON_Delete(r);
    free(mbuf);
    seqvid_model_free(m);

    /* Non-finite weights are not saved. */
    c->arena.params[0] = NAN;
    assert_fails(seqvid_classifier_save_buffer(c, NULL, 0, &size), SEQVID_ERR_NONFINITE);
    free(buf);
    seqvid_batch_free(b);
    seqvid_classifier_free(c);
}


/* ------------------------------------------------------------------------------------------
 * Classifier checkpoints (1.1)
 * ---------------------------------------------------------------------------------------- */
static seqvid_classifier *ckpt_cls(void) {
    seqvid_classifier *c = make_cls(2, 1, 93);
    assert_int_equal(seqvid_classifier_set(c, SEQVID_CLS_DROPOUT, 0.25), 0);
    assert_int_equal(seqvid_classifier_set(c, SEQVID_CLS_FREEZE_STEPS, 2), 0);
    return c;
}

/* k train steps of c with opt on batches drawn from seeds 500 + first .. */
static void train_k(seqvid_classifier *c, seqvid_optimizer *o, int first, int k) {
    for (int i = first; i < first + k; i++) {
        seqvid_batch *b = make_batch(1, i % 2, 500 + (uint64_t)i);
        assert_int_equal(seqvid_classifier_train_step(c, o, b, labels, B, NULL, NULL), 0);
        seqvid_batch_free(b);
    }
}

static void test_checkpoint_resume(void **state) {
    (void)state;
    for (int kind = SEQVID_OPT_SGD; kind <= SEQVID_OPT_ADAM; kind++) {
        /* Straight through: 6 steps (the stack thaws after 2, dropout on all along). */
        seqvid_classifier *a = ckpt_cls();
        seqvid_optimizer *oa;
        assert_int_equal(seqvid_optimizer_create(kind, &oa), 0);
        train_k(a, oa, 0, 6);
        /* Stopped after 3, saved, loaded, 3 more. */
        seqvid_classifier *b = ckpt_cls(), *r = NULL;
        seqvid_optimizer *ob, *orr = NULL;
        assert_int_equal(seqvid_optimizer_create(kind, &ob), 0);
        train_k(b, ob, 0, 3);
        size_t size;
        assert_int_equal(seqvid_classifier_checkpoint_save_buffer(b, ob, 3, NULL, 0, &size), 0);
        unsigned char *buf = malloc(size);
        assert_int_equal(seqvid_classifier_checkpoint_save_buffer(b, ob, 3, buf, size, &size), 0);
        uint64_t step = 0, n = 0;
        assert_int_equal(seqvid_classifier_checkpoint_load_buffer(buf, size, &r, &orr, &step), 0);
        assert_int_equal(step, 3);
        assert_int_equal(seqvid_optimizer_step_count(orr, &n), 0);
        assert_int_equal(n, 3);
        assert_cls_equal(b, r);
        train_k(r, orr, 3, 3);
        assert_memory_equal(a->arena.params, r->arena.params, a->arena.n_params * sizeof(float));
        assert_memory_equal(oa->s1, orr->s1, oa->n * sizeof(float));

        /* Files: atomic save, load, same bytes as the buffer. */
        char dir[] = "/tmp/seqvid_clsck_XXXXXX", path[64];
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/c.ckpt", dir);
        assert_int_equal(seqvid_classifier_checkpoint_save(path, b, ob, 3), 0);
        seqvid_classifier *f = NULL;
        seqvid_optimizer *of = NULL;
        assert_int_equal(seqvid_classifier_checkpoint_load(path, &f, &of, NULL), 0);
        assert_cls_equal(b, f);
        /* The plain classifier loader takes the classifier out of it. */
        seqvid_classifier *plain = NULL;
        assert_int_equal(seqvid_classifier_load(path, &plain), 0);
        assert_cls_equal(b, plain);
        /* Not a model checkpoint, and a model checkpoint is not a classifier checkpoint. */
        seqvid_model *mm = NULL;
        seqvid_optimizer *om = NULL;
        assert_fails(seqvid_checkpoint_load(path, &mm, &om, NULL, NULL), SEQVID_ERR_FORMAT);
        assert_null(mm);
        seqvid_model *m = make_model(D, H, 1, 1, 3);
        char mpath[80];
        snprintf(mpath, sizeof mpath, "%s/m.ckpt", dir);
        /* (an optimizer bound to the classifier does not fit the model) */
        assert_fails(seqvid_checkpoint_save(mpath, m, oa, NULL, 1), SEQVID_ERR_SHAPE);
        seqvid_optimizer *fresh;
        assert_int_equal(seqvid_optimizer_create(kind, &fresh), 0);
        assert_int_equal(seqvid_checkpoint_save(mpath, m, fresh, NULL, 1), 0);
        seqvid_classifier *f1 = NULL;
        seqvid_optimizer *of1 = NULL;
        assert_fails(seqvid_classifier_checkpoint_load(mpath, &f1, &of1, NULL), SEQVID_ERR_FORMAT);
        assert_null(f1);
        assert_null(of1);
        /* A plain classifier file is no checkpoint either. */
        assert_int_equal(seqvid_classifier_save(b, mpath), 0);
        seqvid_classifier *f2 = (seqvid_classifier *)mpath;
        seqvid_optimizer *of2 = (seqvid_optimizer *)mpath;
        assert_fails(seqvid_classifier_checkpoint_load(mpath, &f2, &of2, NULL), SEQVID_ERR_FORMAT);
        assert_null(f2);
        assert_null(of2);
        /* A failed save leaves the previous checkpoint whole. */
        a->arena.params[0] = NAN;
        assert_fails(seqvid_classifier_checkpoint_save(path, a, oa, 9), SEQVID_ERR_NONFINITE);
        seqvid_classifier_free(f), seqvid_optimizer_free(of);
        assert_int_equal(seqvid_classifier_checkpoint_load(path, &f, &of, &step), 0);
        assert_int_equal(step, 3);
        assert_cls_equal(b, f);
        assert_fails(seqvid_classifier_checkpoint_save(NULL, b, ob, 3), SEQVID_ERR_NULL);
        assert_fails(seqvid_classifier_checkpoint_save(path, NULL, ob, 3), SEQVID_ERR_NULL);
        assert_fails(seqvid_classifier_checkpoint_save(path, b, NULL, 3), SEQVID_ERR_NULL);
        assert_fails(seqvid_classifier_checkpoint_load(path, NULL, &of1, NULL), SEQVID_ERR_NULL);
        assert_fails(seqvid_classifier_checkpoint_load_buffer(buf, size, &f1, NULL, NULL),
                     SEQVID_ERR_NULL);
        seqvid_model_free(m);
        seqvid_optimizer_free(fresh);
        unlink(mpath), unlink(path), rmdir(dir);
        seqvid_classifier_free(f), seqvid_optimizer_free(of), seqvid_classifier_free(plain);
        free(buf);
        seqvid_classifier_free(a), seqvid_classifier_free(b), seqvid_classifier_free(r);
        seqvid_optimizer_free(oa), seqvid_optimizer_free(ob), seqvid_optimizer_free(orr);
    }
}

static void expect_ckpt_fails(const unsigned char *buf, size_t size, cJSON *root, int want,
                              const char *what) {
    expect_load_fails(buf, size, root, 1, want, what);
}

static void test_checkpoint_hostile(void **state) {
    (void)state;
    seqvid_classifier *c = ckpt_cls();
    seqvid_optimizer *o;
    assert_int_equal(seqvid_optimizer_create(SEQVID_OPT_ADAM, &o), 0);
    train_k(c, o, 0, 2);
    size_t size;
    assert_int_equal(seqvid_classifier_checkpoint_save_buffer(c, o, 2, NULL, 0, &size), 0);
    unsigned char *buf = malloc(size);
    assert_int_equal(seqvid_classifier_checkpoint_save_buffer(c, o, 2, buf, size, &size), 0);
    size_t small;
    assert_int_equal(seqvid_classifier_checkpoint_save_buffer(c, o, 2, buf, size - 1, &small),
                     SEQVID_ERR_BUFFER);
    cJSON *r, *meta;
#define META(key) cJSON_GetObjectItemCaseSensitive(meta = cJSON_GetObjectItemCaseSensitive( \
                      r = header_of(buf), "__metadata__"), key)
    cJSON_DeleteItemFromObject(meta = cJSON_GetObjectItemCaseSensitive(r = header_of(buf),
                               "__metadata__"), "train.dropout_state");
    expect_ckpt_fails(buf, size, r, SEQVID_ERR_FORMAT, "no dropout state");
    cJSON_SetValuestring(META("train.dropout_state"), "00000000000000000000000000000000"
                                                      "00000000000000000000000000000000");
    expect_ckpt_fails(buf, size, r, SEQVID_ERR_FORMAT, "all-zero dropout state");
    cJSON_SetValuestring(META("train.dropout_state"), "xyz");
    expect_ckpt_fails(buf, size, r, SEQVID_ERR_FORMAT, "malformed dropout state");
    cJSON_SetValuestring(META("optimizer.bound"), "7");
    expect_ckpt_fails(buf, size, r, SEQVID_ERR_FORMAT, "optimizer bound to another size");
    cJSON_SetValuestring(META("type"), "checkpoint");
    expect_ckpt_fails(buf, size, r, SEQVID_ERR_FORMAT, "claims to be a model checkpoint");
    cJSON_SetValuestring(META("type"), "classifier");
    expect_ckpt_fails(buf, size, r, SEQVID_ERR_FORMAT, "claims to be a plain classifier");
    cJSON_SetValuestring(META("optimizer.kind"), "Adagrad");
    expect_ckpt_fails(buf, size, r, SEQVID_ERR_FORMAT, "unknown optimizer kind");
    cJSON_DeleteItemFromObject(meta = cJSON_GetObjectItemCaseSensitive(r = header_of(buf),
                               "__metadata__"), "optimizer.BETA2");
    expect_ckpt_fails(buf, size, r, SEQVID_ERR_FORMAT, "optimizer setting missing");
    cJSON_DeleteItemFromObject(r = header_of(buf), "optimizer.s2");
    expect_ckpt_fails(buf, size, r, SEQVID_ERR_FORMAT, "optimizer state tensor missing");
#undef META
    expect_ckpt_fails(buf, size - 4, NULL, SEQVID_ERR_FORMAT, "truncated");
    buf[size - 1] ^= 0x40; /* the last byte of Adam's second moment */
    expect_ckpt_fails(buf, size, NULL, SEQVID_ERR_FORMAT, "corrupt data (CRC)");
    buf[size - 1] ^= 0x40;
    /* A model checkpoint must not carry a dropout state. */
    seqvid_model *m = make_model(D, H, 1, 1, 3);
    seqvid_optimizer *om;
    assert_int_equal(seqvid_optimizer_create(SEQVID_OPT_SGD, &om), 0);
    size_t msize;
    assert_int_equal(sv_checkpoint_save_buffer(m, om, NULL, 1, NULL, 0, &msize), 0);
    unsigned char *mbuf = malloc(msize);
    assert_int_equal(sv_checkpoint_save_buffer(m, om, NULL, 1, mbuf, msize, &msize), 0);
    cJSON *ch = header_of(buf);
    r = header_of(mbuf);
    cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(r, "__metadata__"),
                            "train.dropout_state", cJSON_GetStringValue(cJSON_GetObjectItem(
                                cJSON_GetObjectItem(ch, "__metadata__"),
                                "train.dropout_state")));
    cJSON_Delete(ch);
    size_t n2;
    unsigned char *m2 = with_header(mbuf, msize, r, &n2);
    seqvid_model *lm = NULL;
    seqvid_optimizer *lo = NULL;
    assert_fails(sv_checkpoint_load_buffer(m2, n2, &lm, &lo, NULL, NULL), SEQVID_ERR_FORMAT);
    assert_null(lm);
    cJSON_Delete(r);
    free(m2), free(mbuf);
    seqvid_model_free(m), seqvid_optimizer_free(om);
    /* Untouched, it loads. */
    seqvid_classifier *l = NULL;
    seqvid_optimizer *lo2 = NULL;
    assert_int_equal(seqvid_classifier_checkpoint_load_buffer(buf, size, &l, &lo2, NULL), 0);
    assert_cls_equal(c, l);
    seqvid_classifier_free(l), seqvid_optimizer_free(lo2);
    free(buf);
    seqvid_classifier_free(c), seqvid_optimizer_free(o);
}

int main(void) {
    seqvid_set_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients),
        cmocka_unit_test(test_gradients_dropout),
        cmocka_unit_test(test_check_has_teeth),
        cmocka_unit_test(test_loss_and_predict_by_hand),
        cmocka_unit_test(test_lengths_and_predict),
        cmocka_unit_test(test_dropout),
        cmocka_unit_test(test_freeze),
        cmocka_unit_test(test_failed_update_changes_nothing),
        cmocka_unit_test(test_learns),
        cmocka_unit_test(test_from_encoder),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_checkpoint_resume),
        cmocka_unit_test(test_checkpoint_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
