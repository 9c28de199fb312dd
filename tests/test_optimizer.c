/* test_optimizer.c -- the optimizer handle and its update rules (lib/optimizer.c).
 *
 * The rules are checked through sv_optimizer_apply on small arrays against a double-precision
 * transcription of the header's equations, over several steps. seqvid_optimizer_step is
 * exercised with a hand-made struct seqvid_model (only params, grads and n_params are read),
 * so these tests do not need the model code. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h> /* RUNNING_ON_VALGRIND: valgrind ignores FTZ and DAZ */
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include "seqvid.h"
#include "error.h"
#include "model.h"
#include "optimizer.h"
#include "rng.h"
#include "assert_fails.h"

#define N 11   /* not a multiple of the vector width: the loop tails run too */
#define STEPS 6

/* ------------------------------------------------------------------------------------------
 * helpers
 * ---------------------------------------------------------------------------------------- */

static seqvid_optimizer *make(int kind) {
    seqvid_optimizer *opt = NULL;
    assert_int_equal(seqvid_optimizer_create(kind, &opt), SEQVID_OK);
    assert_non_null(opt);
    return opt;
}

static void set(seqvid_optimizer *opt, int key, double value) {
    assert_int_equal(seqvid_optimizer_set(opt, key, value), SEQVID_OK);
}

static double get(const seqvid_optimizer *opt, int key) {
    double v = -12345;
    assert_int_equal(seqvid_optimizer_get(opt, key, &v), SEQVID_OK);
    return v;
}

/* n values uniform in [-scale, scale), as float. */
static void fill(sv_rng *r, float *x, size_t n, double scale) {
    for (size_t i = 0; i < n; i++) x[i] = (float)((2 * sv_rng_uniform(r) - 1) * scale);
}

static void assert_close(const float *got, const double *want, size_t n, double rtol,
                         double atol) {
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]);
        if (!(err <= atol + rtol * fabs(want[i])))
            fail_msg("element %zu: got %.9g, want %.9g (err %.3g)", i, (double)got[i], want[i],
                     err);
    }
}

static double clampd(double x, double c) { return c > 0 ? fmin(fmax(x, -c), c) : x; }

/* Reference: the header's rules in double. p[] holds the optimizer's settings, k the step
 * (1-based), s1/s2 the state. g is clipped by the global norm on a copy. */
static void ref_step(int kind, const double *p, uint64_t k, double *w, double *s1, double *s2,
                     const float *gf, size_t n) {
    double g[64], norm = 0;
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++) norm += (double)gf[i] * gf[i];
    norm = sqrt(norm);
    double scale = p[SEQVID_OPT_GRAD_CLIP] > 0 && norm > p[SEQVID_OPT_GRAD_CLIP]
                       ? p[SEQVID_OPT_GRAD_CLIP] / norm : 1.0;
    for (size_t i = 0; i < n; i++) g[i] = gf[i] * scale;
    double lr = p[SEQVID_OPT_LR], wd = p[SEQVID_OPT_WEIGHT_DECAY], uc = p[SEQVID_OPT_UPDATE_CLIP];
    for (size_t i = 0; i < n; i++) {
        if (kind == SEQVID_OPT_SGD) {
            s1[i] = clampd(p[SEQVID_OPT_MOMENTUM] * s1[i] - lr * (g[i] + wd * w[i]), uc);
            w[i] += s1[i];
        } else if (kind == SEQVID_OPT_RMSPROP) {
            double d = p[SEQVID_OPT_DECAY];
            s1[i] = d * s1[i] + (1 - d) * g[i] * g[i];
            w[i] -= clampd(lr * (g[i] + wd * w[i]) / sqrt(s1[i] + p[SEQVID_OPT_EPS]), uc);
        } else {
            double b1 = p[SEQVID_OPT_BETA1], b2 = p[SEQVID_OPT_BETA2];
            s1[i] = b1 * s1[i] + (1 - b1) * g[i];
            s2[i] = b2 * s2[i] + (1 - b2) * g[i] * g[i];
            double mh = s1[i] / (1 - pow(b1, (double)k)), vh = s2[i] / (1 - pow(b2, (double)k));
            double step = lr * mh / (sqrt(vh) + p[SEQVID_OPT_EPS]) + lr * wd * w[i];
            w[i] -= clampd(step, uc);
        }
    }
}

/* Run STEPS steps of `opt` and of the reference from the same start, with fresh gradients
 * each step (gradient scale gscale), and compare weights and state after every step. If
 * lr2 > 0 the learning rate is changed to it after step 3 (a schedule). */
static void run_against_reference(seqvid_optimizer *opt, double gscale, double lr2,
                                   double rtol) {
    sv_rng r;
    sv_rng_seed(&r, 7);
    float w[N], g[N], gcopy[N];
    double wd[N], s1[N] = {0}, s2[N] = {0}, p[SV_OPT_NKEYS];
    fill(&r, w, N, 1.0);
    for (size_t i = 0; i < N; i++) wd[i] = w[i];
    for (int step = 1; step <= STEPS; step++) {
        if (lr2 > 0 && step == 4) set(opt, SEQVID_OPT_LR, lr2);
        for (int k = 1; k < SV_OPT_NKEYS; k++)
            if (seqvid_optimizer_get(opt, k, &p[k]) != SEQVID_OK) p[k] = 0;
        fill(&r, g, N, gscale);
        memcpy(gcopy, g, sizeof g);
        assert_int_equal(sv_optimizer_apply(opt, w, g, N), SEQVID_OK);
        assert_memory_equal(g, gcopy, sizeof g); /* the gradient is never written */
        ref_step(opt->kind, p, (uint64_t)step, wd, s1, s2, g, N);
        assert_close(w, wd, N, rtol, 1e-7);
        assert_close(opt->s1, s1, N, rtol, 1e-9);
        if (opt->kind == SEQVID_OPT_ADAM) assert_close(opt->s2, s2, N, rtol, 1e-12);
        uint64_t steps = 0;
        assert_int_equal(seqvid_optimizer_steps(opt, &steps), SEQVID_OK);
        assert_int_equal(steps, (uint64_t)step);
    }
}

/* ------------------------------------------------------------------------------------------
 * creation, defaults, keys
 * ---------------------------------------------------------------------------------------- */

static void test_defaults(void **state) {
    (void)state;
    seqvid_optimizer *sgd = make(SEQVID_OPT_SGD);
    assert_true(get(sgd, SEQVID_OPT_LR) == 1e-4);
    assert_true(get(sgd, SEQVID_OPT_MOMENTUM) == 0.9);
    assert_true(get(sgd, SEQVID_OPT_WEIGHT_DECAY) == 1e-4);
    assert_true(get(sgd, SEQVID_OPT_UPDATE_CLIP) == 1e-4);
    assert_true(get(sgd, SEQVID_OPT_GRAD_CLIP) == 0);
    seqvid_optimizer *rms = make(SEQVID_OPT_RMSPROP);
    assert_true(get(rms, SEQVID_OPT_LR) == 1e-3);
    assert_true(get(rms, SEQVID_OPT_DECAY) == 0.95);
    assert_true(get(rms, SEQVID_OPT_EPS) == 1e-6);
    assert_true(get(rms, SEQVID_OPT_WEIGHT_DECAY) == 0);
    assert_true(get(rms, SEQVID_OPT_UPDATE_CLIP) == 0);
    assert_true(get(rms, SEQVID_OPT_GRAD_CLIP) == 0);
    seqvid_optimizer *adam = make(SEQVID_OPT_ADAM);
    assert_true(get(adam, SEQVID_OPT_LR) == 1e-3);
    assert_true(get(adam, SEQVID_OPT_BETA1) == 0.9);
    assert_true(get(adam, SEQVID_OPT_BETA2) == 0.999);
    assert_true(get(adam, SEQVID_OPT_EPS) == 1e-8);
    assert_true(get(adam, SEQVID_OPT_WEIGHT_DECAY) == 0);
    assert_true(get(adam, SEQVID_OPT_UPDATE_CLIP) == 0);
    assert_true(get(adam, SEQVID_OPT_GRAD_CLIP) == 0);
    uint64_t steps = 99;
    assert_int_equal(seqvid_optimizer_steps(adam, &steps), SEQVID_OK);
    assert_int_equal(steps, 0);
    assert_int_equal(adam->n, 0); /* unbound until the first step */
    seqvid_optimizer_free(sgd);
    seqvid_optimizer_free(rms);
    seqvid_optimizer_free(adam);
    seqvid_optimizer_free(NULL); /* no-op */
}

static void test_create_errors(void **state) {
    (void)state;
    seqvid_optimizer *opt = (seqvid_optimizer *)&opt; /* non-NULL garbage must become NULL */
    assert_fails(seqvid_optimizer_create(SEQVID_OPT_SGD, NULL), SEQVID_ERR_NULL);
    assert_fails(seqvid_optimizer_create(0, &opt), SEQVID_ERR_ARG);
    assert_null(opt);
    opt = (seqvid_optimizer *)&opt;
    assert_fails(seqvid_optimizer_create(4, &opt), SEQVID_ERR_ARG);
    assert_null(opt);
    assert_fails(seqvid_optimizer_create(-1, &opt), SEQVID_ERR_ARG);
    assert_null(opt);
}

/* Keys of other kinds, per kind. */
static const int wrong_keys[4][4] = {
    {0},
    [SEQVID_OPT_SGD] = {SEQVID_OPT_DECAY, SEQVID_OPT_BETA1, SEQVID_OPT_BETA2, SEQVID_OPT_EPS},
    [SEQVID_OPT_RMSPROP] = {SEQVID_OPT_MOMENTUM, SEQVID_OPT_BETA1, SEQVID_OPT_BETA2, 0},
    [SEQVID_OPT_ADAM] = {SEQVID_OPT_MOMENTUM, SEQVID_OPT_DECAY, 0, 0},
};

static void test_set_get_errors(void **state) {
    (void)state;
    for (int kind = SEQVID_OPT_SGD; kind <= SEQVID_OPT_ADAM; kind++) {
        seqvid_optimizer *opt = make(kind);
        double v = 0;
        assert_fails(seqvid_optimizer_set(NULL, SEQVID_OPT_LR, 0.1), SEQVID_ERR_NULL);
        assert_fails(seqvid_optimizer_get(NULL, SEQVID_OPT_LR, &v), SEQVID_ERR_NULL);
        assert_fails(seqvid_optimizer_get(opt, SEQVID_OPT_LR, NULL), SEQVID_ERR_NULL);
        const int unknown[] = {0, -1, SV_OPT_NKEYS, 1000, 1 << 30};
        for (size_t i = 0; i < sizeof unknown / sizeof *unknown; i++) {
            assert_fails(seqvid_optimizer_set(opt, unknown[i], 0.1), SEQVID_ERR_ARG);
            assert_fails(seqvid_optimizer_get(opt, unknown[i], &v), SEQVID_ERR_ARG);
        }
        for (int i = 0; i < 4 && wrong_keys[kind][i]; i++) {
            int key = wrong_keys[kind][i];
            assert_fails(seqvid_optimizer_set(opt, key, 0.5), SEQVID_ERR_ARG);
            assert_fails(seqvid_optimizer_get(opt, key, &v), SEQVID_ERR_ARG);
            assert_int_equal(sv_optimizer_check(kind, key, 0.5), SEQVID_ERR_ARG);
        }
        /* Out-of-range values of the keys this kind has; the setting stays as it was. */
        const struct { int key; double value; } bad[] = {
            {SEQVID_OPT_LR, 0}, {SEQVID_OPT_LR, -1e-3}, {SEQVID_OPT_LR, NAN},
            {SEQVID_OPT_LR, INFINITY}, {SEQVID_OPT_LR, 1e39}, {SEQVID_OPT_LR, 1e-300},
            {SEQVID_OPT_WEIGHT_DECAY, -1e-4}, {SEQVID_OPT_WEIGHT_DECAY, NAN},
            {SEQVID_OPT_UPDATE_CLIP, -1}, {SEQVID_OPT_UPDATE_CLIP, INFINITY},
            {SEQVID_OPT_GRAD_CLIP, -1}, {SEQVID_OPT_GRAD_CLIP, NAN},
            {SEQVID_OPT_MOMENTUM, 1.0}, {SEQVID_OPT_MOMENTUM, -0.1},
            {SEQVID_OPT_DECAY, 1.0}, {SEQVID_OPT_DECAY, -0.5},
            {SEQVID_OPT_BETA1, 1.0}, {SEQVID_OPT_BETA1, -0.1}, {SEQVID_OPT_BETA1, NAN},
            {SEQVID_OPT_BETA2, 1.0}, {SEQVID_OPT_BETA2, 2.0},
            {SEQVID_OPT_EPS, 0}, {SEQVID_OPT_EPS, -1e-8}, {SEQVID_OPT_EPS, -INFINITY},
        };
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
            double before;
            if (seqvid_optimizer_get(opt, bad[i].key, &before) != SEQVID_OK) continue;
            assert_fails(seqvid_optimizer_set(opt, bad[i].key, bad[i].value), SEQVID_ERR_ARG);
            assert_true(get(opt, bad[i].key) == before);
            assert_int_equal(sv_optimizer_check(kind, bad[i].key, bad[i].value),
                             SEQVID_ERR_ARG);
        }
        /* Edges that are valid. */
        set(opt, SEQVID_OPT_LR, 2.5);
        assert_true(get(opt, SEQVID_OPT_LR) == 2.5);
        set(opt, SEQVID_OPT_WEIGHT_DECAY, 0);
        set(opt, SEQVID_OPT_UPDATE_CLIP, 0);
        set(opt, SEQVID_OPT_GRAD_CLIP, 5);
        assert_true(get(opt, SEQVID_OPT_GRAD_CLIP) == 5);
        if (kind == SEQVID_OPT_SGD) set(opt, SEQVID_OPT_MOMENTUM, 0);
        if (kind == SEQVID_OPT_ADAM) set(opt, SEQVID_OPT_BETA1, 0);
        assert_int_equal(sv_optimizer_check(kind, SEQVID_OPT_LR, 0.1), SEQVID_OK);
        seqvid_optimizer_free(opt);
    }
    assert_fails(sv_optimizer_check(0, SEQVID_OPT_LR, 0.1), SEQVID_ERR_ARG);
    assert_fails(sv_optimizer_check(4, SEQVID_OPT_LR, 0.1), SEQVID_ERR_ARG);
}

static void test_steps_step_errors(void **state) {
    (void)state;
    seqvid_optimizer *opt = make(SEQVID_OPT_SGD);
    uint64_t steps;
    assert_fails(seqvid_optimizer_steps(NULL, &steps), SEQVID_ERR_NULL);
    assert_fails(seqvid_optimizer_steps(opt, NULL), SEQVID_ERR_NULL);
    struct seqvid_model *model = calloc(1, sizeof *model);
    assert_non_null(model);
    assert_fails(seqvid_optimizer_step(NULL, model), SEQVID_ERR_NULL);
    assert_fails(seqvid_optimizer_step(opt, NULL), SEQVID_ERR_NULL);
    float w[4] = {0}, g[4] = {0};
    assert_fails(sv_optimizer_apply(NULL, w, g, 4), SEQVID_ERR_NULL);
    assert_fails(sv_optimizer_apply(opt, NULL, g, 4), SEQVID_ERR_NULL);
    assert_fails(sv_optimizer_apply(opt, w, NULL, 4), SEQVID_ERR_NULL);
    assert_fails(sv_optimizer_apply(opt, w, g, 0), SEQVID_ERR_ARG);
    assert_int_equal(opt->n, 0);
    assert_int_equal(opt->steps, 0);
    free(model);
    seqvid_optimizer_free(opt);
}

static void test_bind(void **state) {
    (void)state;
    assert_int_equal(sv_optimizer_state_arrays(SEQVID_OPT_SGD), 1);
    assert_int_equal(sv_optimizer_state_arrays(SEQVID_OPT_RMSPROP), 1);
    assert_int_equal(sv_optimizer_state_arrays(SEQVID_OPT_ADAM), 2);
    assert_int_equal(sv_optimizer_state_arrays(0), 0);
    for (int kind = SEQVID_OPT_SGD; kind <= SEQVID_OPT_ADAM; kind++) {
        seqvid_optimizer *opt = make(kind);
        assert_fails(sv_optimizer_bind(NULL, 5), SEQVID_ERR_NULL);
        assert_fails(sv_optimizer_bind(opt, 0), SEQVID_ERR_ARG);
        assert_fails(sv_optimizer_bind(opt, SIZE_MAX / 2), SEQVID_ERR_OVERFLOW);
        assert_int_equal(opt->n, 0);
        assert_null(opt->s1);
        assert_int_equal(sv_optimizer_bind(opt, 5), SEQVID_OK);
        assert_int_equal(opt->n, 5);
        assert_non_null(opt->s1);
        for (int i = 0; i < 5; i++) assert_true(opt->s1[i] == 0.0f);
        if (kind == SEQVID_OPT_ADAM) {
            assert_non_null(opt->s2);
            for (int i = 0; i < 5; i++) assert_true(opt->s2[i] == 0.0f);
        } else {
            assert_null(opt->s2);
        }
        assert_fails(sv_optimizer_bind(opt, 5), SEQVID_ERR_STATE);
        assert_int_equal(opt->n, 5);
        seqvid_optimizer_free(opt);
    }
}

/* ------------------------------------------------------------------------------------------
 * update rules against the reference
 * ---------------------------------------------------------------------------------------- */

static void test_sgd_rule(void **state) {
    (void)state;
    /* Clip off, large enough steps to see momentum and decay; lr schedule after step 3. */
    seqvid_optimizer *opt = make(SEQVID_OPT_SGD);
    set(opt, SEQVID_OPT_LR, 0.1);
    set(opt, SEQVID_OPT_WEIGHT_DECAY, 0.01);
    set(opt, SEQVID_OPT_UPDATE_CLIP, 0);
    run_against_reference(opt, 1.0, 0.03, 1e-5);
    seqvid_optimizer_free(opt);
    /* The SR15 defaults: the 1e-4 update clip is active on most elements. */
    opt = make(SEQVID_OPT_SGD);
    run_against_reference(opt, 3.0, 0, 1e-5);
    seqvid_optimizer_free(opt);
}

static void test_rmsprop_rule(void **state) {
    (void)state;
    seqvid_optimizer *opt = make(SEQVID_OPT_RMSPROP);
    run_against_reference(opt, 1.0, 0, 1e-5);
    seqvid_optimizer_free(opt);
    opt = make(SEQVID_OPT_RMSPROP);
    set(opt, SEQVID_OPT_LR, 0.01);
    set(opt, SEQVID_OPT_DECAY, 0.9);
    set(opt, SEQVID_OPT_WEIGHT_DECAY, 0.1);
    set(opt, SEQVID_OPT_UPDATE_CLIP, 0.02);
    set(opt, SEQVID_OPT_GRAD_CLIP, 1.0);
    run_against_reference(opt, 2.0, 0.005, 1e-5);
    seqvid_optimizer_free(opt);
}

static void test_adam_rule(void **state) {
    (void)state;
    seqvid_optimizer *opt = make(SEQVID_OPT_ADAM);
    run_against_reference(opt, 1.0, 0, 1e-5);
    seqvid_optimizer_free(opt);
    opt = make(SEQVID_OPT_ADAM);
    set(opt, SEQVID_OPT_LR, 0.05);
    set(opt, SEQVID_OPT_BETA1, 0.5);
    set(opt, SEQVID_OPT_BETA2, 0.9);
    set(opt, SEQVID_OPT_EPS, 1e-3);
    set(opt, SEQVID_OPT_WEIGHT_DECAY, 0.01);
    set(opt, SEQVID_OPT_UPDATE_CLIP, 0.04);
    set(opt, SEQVID_OPT_GRAD_CLIP, 0.5);
    run_against_reference(opt, 1.0, 0.02, 1e-5);
    seqvid_optimizer_free(opt);
}

/* Step 1 of Adam: m/(1-B1) = g and v/(1-B2) = g^2, so every weight moves by LR*sign(g)
 * whatever |g| is (for |g| >> EPS). Without the corrections the move would be
 * LR*(1-B1)/sqrt(1-B2) = 3.16 LR. */
static void test_adam_bias_correction(void **state) {
    (void)state;
    seqvid_optimizer *opt = make(SEQVID_OPT_ADAM);
    float w[6] = {0.5f, -0.25f, 1, 2, -3, 0}, w0[6];
    const float g[6] = {1e-3f, -1e-2f, 1, -5, 100, -1e4f};
    memcpy(w0, w, sizeof w);
    assert_int_equal(sv_optimizer_apply(opt, w, g, 6), SEQVID_OK);
    for (int i = 0; i < 6; i++) {
        double moved = (double)w[i] - w0[i], want = g[i] > 0 ? -1e-3 : 1e-3;
        /* 3e-7: float rounding of w (|w| <= 3) plus the EPS/|g| effect at |g| = 1e-3. */
        assert_true(fabs(moved - want) <= 3e-7);
    }
    seqvid_optimizer_free(opt);
}

/* ------------------------------------------------------------------------------------------
 * clipping
 * ---------------------------------------------------------------------------------------- */

/* With SGD, LR 1, no momentum, decay or update clip and w = 0, one step gives w = -g' where
 * g' is the clipped gradient, exactly. */
static seqvid_optimizer *plain_sgd(double grad_clip) {
    seqvid_optimizer *opt = make(SEQVID_OPT_SGD);
    set(opt, SEQVID_OPT_LR, 1);
    set(opt, SEQVID_OPT_MOMENTUM, 0);
    set(opt, SEQVID_OPT_WEIGHT_DECAY, 0);
    set(opt, SEQVID_OPT_UPDATE_CLIP, 0);
    set(opt, SEQVID_OPT_GRAD_CLIP, grad_clip);
    return opt;
}

static void test_grad_clip(void **state) {
    (void)state;
    sv_rng r;
    sv_rng_seed(&r, 3);
    enum { M = 37 };
    float g[M], gcopy[M], w[M];
    fill(&r, g, M, 1.0);
    double norm = 0;
    for (int i = 0; i < M; i++) norm += (double)g[i] * g[i];
    norm = sqrt(norm);
    memcpy(gcopy, g, sizeof g);

    /* Above the threshold: scaled to the threshold, direction kept, caller's g untouched. */
    double clip = norm / 4;
    seqvid_optimizer *opt = plain_sgd(clip);
    memset(w, 0, sizeof w);
    assert_int_equal(sv_optimizer_apply(opt, w, g, M), SEQVID_OK);
    assert_memory_equal(g, gcopy, sizeof g);
    double wn = 0;
    for (int i = 0; i < M; i++) {
        wn += (double)w[i] * w[i];
        assert_true(fabs(-(double)w[i] - g[i] * clip / norm) <= 1e-6 * fabs(g[i]));
    }
    assert_true(fabs(sqrt(wn) - clip) <= 1e-6 * clip);
    seqvid_optimizer_free(opt);

    /* Below the threshold (and exactly at it): unchanged, bit for bit. */
    const double clips[2] = {norm * 1.5, norm};
    for (int c = 0; c < 2; c++) {
        opt = plain_sgd(clips[c]);
        memset(w, 0, sizeof w);
        assert_int_equal(sv_optimizer_apply(opt, w, g, M), SEQVID_OK);
        for (int i = 0; i < M; i++) assert_true(w[i] == -g[i]);
        seqvid_optimizer_free(opt);
    }

    /* Off (0): unchanged however large the gradient. */
    opt = plain_sgd(0);
    memset(w, 0, sizeof w);
    float big[M];
    for (int i = 0; i < M; i++) big[i] = g[i] * 1e6f;
    assert_int_equal(sv_optimizer_apply(opt, w, big, M), SEQVID_OK);
    for (int i = 0; i < M; i++) assert_true(w[i] == -big[i]);
    seqvid_optimizer_free(opt);
}

/* SR15's SGD: each element of v is clamped to +-UPDATE_CLIP (1e-4 by default). */
static void test_sgd_update_clip(void **state) {
    (void)state;
    seqvid_optimizer *opt = make(SEQVID_OPT_SGD); /* lr 1e-4, mom 0.9, wd 1e-4, clip 1e-4 */
    float w[4] = {1, 1, 1, 1};
    const float g[4] = {100, -100, 0.1f, -0.1f};
    const float c = (float)1e-4;
    for (int step = 0; step < 3; step++)
        assert_int_equal(sv_optimizer_apply(opt, w, g, 4), SEQVID_OK);
    /* Large gradients: v is pinned at the clip, every step moved w by exactly the clip. */
    assert_true(opt->s1[0] == -c);
    assert_true(opt->s1[1] == c);
    float w0 = 1, w1 = 1;
    for (int step = 0; step < 3; step++) {
        w0 += -c;
        w1 += c;
    }
    assert_true(w[0] == w0);
    assert_true(w[1] == w1);
    /* Small gradients stay below the clip: v = 0.9 v - 1e-4 (g + 1e-4 w), unclipped. */
    double v = 0, wd = 1;
    for (int step = 0; step < 3; step++) {
        v = 0.9 * v - 1e-4 * (0.1 + 1e-4 * wd);
        wd += v;
    }
    assert_true(fabs(v) < 1e-4);
    assert_true(fabs((double)opt->s1[2] - v) <= 1e-6 * fabs(v));
    assert_true(fabs((double)w[2] - wd) <= 1e-7);
    seqvid_optimizer_free(opt);
}

/* ------------------------------------------------------------------------------------------
 * failures leave everything as it was
 * ---------------------------------------------------------------------------------------- */

static void test_nonfinite_gradient(void **state) {
    (void)state;
    const float bad_values[3] = {NAN, INFINITY, -INFINITY};
    for (int kind = SEQVID_OPT_SGD; kind <= SEQVID_OPT_ADAM; kind++) {
        for (int b = 0; b < 3; b++) {
            sv_rng r;
            sv_rng_seed(&r, 11);
            seqvid_optimizer *opt = make(kind);
            float w[N], g[N];
            fill(&r, w, N, 1.0);
            /* A NaN on the very first step leaves the optimizer unbound. */
            fill(&r, g, N, 1.0);
            g[N - 1] = bad_values[b];
            float wbefore[N];
            memcpy(wbefore, w, sizeof w);
            assert_fails(sv_optimizer_apply(opt, w, g, N), SEQVID_ERR_NONFINITE);
            assert_memory_equal(w, wbefore, sizeof w);
            assert_int_equal(opt->n, 0);
            assert_int_equal(opt->steps, 0);
            /* Two good steps so that the state is not zero, then a bad one. */
            set(opt, SEQVID_OPT_GRAD_CLIP, 0.5);
            for (int s = 0; s < 2; s++) {
                fill(&r, g, N, 1.0);
                assert_int_equal(sv_optimizer_apply(opt, w, g, N), SEQVID_OK);
            }
            float s1[N], s2[N];
            memcpy(wbefore, w, sizeof w);
            memcpy(s1, opt->s1, sizeof s1);
            if (opt->s2) memcpy(s2, opt->s2, sizeof s2);
            fill(&r, g, N, 1.0);
            g[3] = bad_values[b];
            assert_fails(sv_optimizer_apply(opt, w, g, N), SEQVID_ERR_NONFINITE);
            assert_memory_equal(w, wbefore, sizeof w);
            assert_memory_equal(opt->s1, s1, sizeof s1);
            if (opt->s2) assert_memory_equal(opt->s2, s2, sizeof s2);
            assert_int_equal(opt->steps, 2);
            assert_int_equal(opt->n, N);
            seqvid_optimizer_free(opt);
        }
    }
}

/* An update that would overflow is refused with everything unchanged (issue 14: Adam with
 * LR 1e38 and RMSprop with LR 3.4e38 used to write +-Inf weights and return OK). Each case
 * runs on a small array and on one of several chunks spread over 2 threads, with one
 * element far out, after two good steps (non-zero state). */
typedef struct overflow_case {
    int kind;
    int key;
    double value;  /* the setting that makes the update overflow */
    float wbig;    /* if not 0: w[at] is set to this (weights near FLT_MAX) */
    float gbig;    /* if not 0: g[at] is set to this */
} overflow_case;

static void run_overflow_case(const overflow_case *c, size_t n, size_t at) {
    sv_rng r;
    sv_rng_seed(&r, 5);
    seqvid_optimizer *opt = make(c->kind);
    float *w = malloc(n * sizeof *w), *g = malloc(n * sizeof *g), *wb = malloc(n * sizeof *w);
    float *s1 = malloc(n * sizeof *w), *s2 = malloc(n * sizeof *w);
    fill(&r, w, n, 1.0);
    for (int s = 0; s < 2; s++) {
        fill(&r, g, n, 1.0);
        assert_int_equal(sv_optimizer_apply(opt, w, g, n), SEQVID_OK);
    }
    set(opt, c->key, c->value);
    if (c->kind == SEQVID_OPT_SGD) set(opt, SEQVID_OPT_UPDATE_CLIP, 0); /* else it clamps */
    fill(&r, g, n, 1.0);
    if (c->wbig != 0) w[at] = c->wbig;
    if (c->gbig != 0) g[at] = c->gbig;
    memcpy(wb, w, n * sizeof *w);
    memcpy(s1, opt->s1, n * sizeof *w);
    if (opt->s2) memcpy(s2, opt->s2, n * sizeof *w);
    assert_fails(sv_optimizer_apply(opt, w, g, n), SEQVID_ERR_NONFINITE);
    assert_memory_equal(w, wb, n * sizeof *w);
    assert_memory_equal(opt->s1, s1, n * sizeof *w);
    if (opt->s2) assert_memory_equal(opt->s2, s2, n * sizeof *w);
    assert_int_equal(opt->steps, 2);
    seqvid_optimizer_free(opt);
    free(w), free(g), free(wb), free(s1), free(s2);
}

/* The global norm over many chunks (the scan sums per-chunk partials in chunk order): the
 * clipped update of 3 chunks and a tail matches double precision, a NaN in the last chunk is
 * found, and the result is bitwise the same with 1 and 3 threads. */
static void test_grad_clip_many_chunks(void **state) {
    (void)state;
    const size_t n = 3 * ((size_t)1 << 16) + 123;
    float *g = malloc(n * sizeof *g), *w1 = calloc(n, sizeof *w1), *w3 = calloc(n, sizeof *w3);
    assert_non_null(g);
    assert_non_null(w1);
    assert_non_null(w3);
    sv_rng r;
    sv_rng_seed(&r, 11);
    fill(&r, g, n, 1.0);
    double norm = 0;
    for (size_t i = 0; i < n; i++) norm += (double)g[i] * g[i];
    norm = sqrt(norm);
    const double clip = norm / 8;
    int threads = seqvid_get_threads();
    float *out[2] = {w1, w3};
    const int counts[2] = {1, 3};
    for (int t = 0; t < 2; t++) {
        assert_int_equal(seqvid_set_threads(counts[t]), SEQVID_OK);
        seqvid_optimizer *opt = plain_sgd(clip);
        assert_int_equal(sv_optimizer_apply(opt, out[t], g, n), SEQVID_OK);
        seqvid_optimizer_free(opt);
    }
    assert_memory_equal(w1, w3, n * sizeof *w1);
    for (size_t i = 0; i < n; i++)
        assert_true(fabs(-(double)w1[i] - g[i] * clip / norm) <= 1e-6 * fabs(g[i]) + 1e-30);
    g[n - 5] = NAN; /* in the tail chunk */
    seqvid_optimizer *opt = plain_sgd(clip);
    memcpy(w3, w1, n * sizeof *w1);
    assert_fails(sv_optimizer_apply(opt, w1, g, n), SEQVID_ERR_NONFINITE);
    assert_memory_equal(w1, w3, n * sizeof *w1); /* nothing updated */
    seqvid_optimizer_free(opt);
    assert_int_equal(seqvid_set_threads(threads), SEQVID_OK);
    free(g);
    free(w1);
    free(w3);
}

/* Moments that decay into float32's subnormal range (0 < |x| < 2^-126) come out as exact
 * zeros (lib/optimizer.c, FLUSH: subnormals cost x86 a microcode assist per instruction), for
 * every kind, on one thread and over several chunks on 3; the weights do not move (a zero
 * gradient and a subnormal moment move nothing); and the caller's floating-point control word
 * is as it was (a subnormal product is still subnormal after the call). */
static void test_subnormal_moments_flushed(void **state) {
    (void)state;
#if defined(__SSE2__)
    if (RUNNING_ON_VALGRIND) skip(); /* its CPU model keeps subnormals whatever MXCSR says */
    const size_t n = 3 * ((size_t)1 << 16) + 7;
    float *w = malloc(n * sizeof *w), *w0 = malloc(n * sizeof *w0), *g = calloc(n, sizeof *g);
    assert_non_null(w);
    assert_non_null(w0);
    assert_non_null(g);
    const int threads = seqvid_get_threads(), kinds[3] = {SEQVID_OPT_SGD, SEQVID_OPT_RMSPROP,
                                                         SEQVID_OPT_ADAM};
    for (int t = 1; t <= 3; t += 2)
        for (int k = 0; k < 3; k++) {
            assert_int_equal(seqvid_set_threads(t), SEQVID_OK);
            seqvid_optimizer *opt = make(kinds[k]);
            set(opt, SEQVID_OPT_WEIGHT_DECAY, 0); /* else a zero gradient still moves w */
            for (size_t i = 0; i < n; i++) w[i] = 1.0f, g[i] = 1.0f;
            assert_int_equal(sv_optimizer_apply(opt, w, g, n), SEQVID_OK); /* binds: state */
            for (size_t i = 0; i < n; i++) {
                opt->s1[i] = (i & 1 ? -1 : 1) * 1e-39f * (float)(1 + i % 5);
                if (opt->s2) opt->s2[i] = 2e-40f;
                g[i] = 0;
            }
            assert_true(fpclassify(opt->s1[0]) == FP_SUBNORMAL);
            memcpy(w0, w, n * sizeof *w);
            const unsigned control = 0xffc0u; /* the control bits, not the sticky flags */
            unsigned csr = _mm_getcsr() & control;
            assert_int_equal(sv_optimizer_apply(opt, w, g, n), SEQVID_OK);
            assert_int_equal(_mm_getcsr() & control, csr);
            volatile float tiny = 1e-38f, scale = 0.01f;
            assert_true(fpclassify(tiny * scale) == FP_SUBNORMAL);
            for (size_t i = 0; i < n; i++) {
                if (opt->s1[i] != 0 || (opt->s2 && opt->s2[i] != 0))
                    fail_msg("kind %d, %d threads: state %zu is %g / %g, not 0", kinds[k], t, i,
                             (double)opt->s1[i], opt->s2 ? (double)opt->s2[i] : 0.0);
            }
            assert_memory_equal(w, w0, n * sizeof *w);
            seqvid_optimizer_free(opt);
        }
    assert_int_equal(seqvid_set_threads(threads), SEQVID_OK);
    free(w);
    free(w0);
    free(g);
#else
    skip(); /* no flush on this architecture: subnormal moments stay */
#endif
}

static void test_nonfinite_update(void **state) {
    (void)state;
    const overflow_case cases[] = {
        {SEQVID_OPT_ADAM, SEQVID_OPT_LR, 1e38, 0, 0},
        {SEQVID_OPT_ADAM, SEQVID_OPT_LR, FLT_MAX, 0, 0},
        {SEQVID_OPT_RMSPROP, SEQVID_OPT_LR, 3.4e38, 0, 0},
        {SEQVID_OPT_SGD, SEQVID_OPT_LR, 3.4e38, 0, 1e3f},
        {SEQVID_OPT_ADAM, SEQVID_OPT_WEIGHT_DECAY, FLT_MAX, 3e38f, 0},
        {SEQVID_OPT_RMSPROP, SEQVID_OPT_LR, 1.0, 0, 1e20f}, /* the mean square overflows */
        {SEQVID_OPT_SGD, SEQVID_OPT_LR, 1.0, 3.3e38f, -1e38f}, /* w + v overflows */
    };
    seqvid_set_threads(2);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        run_overflow_case(&cases[i], N, 4);
        run_overflow_case(&cases[i], 3 * ((size_t)1 << 16) + 5, 150000);
    }
    seqvid_set_threads(1);
}

/* Weights near FLT_MAX defeat the bound, so the exact check runs, and passes when the new
 * values are finite: the update is applied exactly as the rule says. */
static void test_huge_but_finite_update(void **state) {
    (void)state;
    seqvid_optimizer *opt = make(SEQVID_OPT_SGD);
    set(opt, SEQVID_OPT_UPDATE_CLIP, 0);
    set(opt, SEQVID_OPT_WEIGHT_DECAY, 1e-2); /* LR*WD*FLT_MAX > 2^102: the bound needs W */
    float w[N], g[N];
    for (int i = 0; i < N; i++) w[i] = 1.0f, g[i] = 1.0f;
    w[2] = 3.3e38f; /* moves toward 0: finite */
    assert_int_equal(sv_optimizer_apply(opt, w, g, N), SEQVID_OK);
    float lr = 1e-4f, wd = 1e-2f;
    assert_true(w[2] == 3.3e38f - lr * (1.0f + wd * 3.3e38f));
    assert_true(w[0] == 1.0f - lr * (1.0f + wd * 1.0f));
    seqvid_optimizer_free(opt);
}

/* The step counter stops at 2^53 instead of wrapping (Adam's bias correction at k = 0 would
 * divide by zero). */
static void test_step_limit(void **state) {
    (void)state;
    seqvid_optimizer *opt = make(SEQVID_OPT_ADAM);
    float w[N], g[N], wb[N];
    for (int i = 0; i < N; i++) w[i] = 0.5f, g[i] = 0.25f;
    assert_int_equal(sv_optimizer_apply(opt, w, g, N), SEQVID_OK);
    opt->steps = SV_OPT_MAX_STEPS - 1;
    assert_int_equal(sv_optimizer_apply(opt, w, g, N), SEQVID_OK);
    assert_true(opt->steps == SV_OPT_MAX_STEPS);
    for (int i = 0; i < N; i++) assert_true(isfinite(w[i]));
    memcpy(wb, w, sizeof w);
    assert_fails(sv_optimizer_apply(opt, w, g, N), SEQVID_ERR_STATE);
    assert_true(opt->steps == SV_OPT_MAX_STEPS);
    assert_memory_equal(w, wb, sizeof w);
    opt->steps = UINT64_MAX; /* as a hostile checkpoint once set it */
    assert_fails(sv_optimizer_apply(opt, w, g, N), SEQVID_ERR_STATE);
    assert_memory_equal(w, wb, sizeof w);
    seqvid_optimizer_free(opt);
}

static void test_shape_rebind(void **state) {
    (void)state;
    for (int kind = SEQVID_OPT_SGD; kind <= SEQVID_OPT_ADAM; kind++) {
        seqvid_optimizer *opt = make(kind);
        float w[5] = {1, 2, 3, 4, 5}, g[5] = {0.5f, -0.5f, 0.25f, 1, -1};
        assert_int_equal(sv_optimizer_apply(opt, w, g, 4), SEQVID_OK);
        assert_int_equal(opt->n, 4);
        float wbefore[5], s1[4], s2[4];
        memcpy(wbefore, w, sizeof w);
        memcpy(s1, opt->s1, sizeof s1);
        if (opt->s2) memcpy(s2, opt->s2, sizeof s2);
        assert_fails(sv_optimizer_apply(opt, w, g, 5), SEQVID_ERR_SHAPE);
        assert_fails(sv_optimizer_apply(opt, w, g, 3), SEQVID_ERR_SHAPE);
        assert_memory_equal(w, wbefore, sizeof w);
        assert_memory_equal(opt->s1, s1, sizeof s1);
        if (opt->s2) assert_memory_equal(opt->s2, s2, sizeof s2);
        assert_int_equal(opt->n, 4);
        assert_int_equal(opt->steps, 1);
        /* The bound size still works. */
        assert_int_equal(sv_optimizer_apply(opt, w, g, 4), SEQVID_OK);
        assert_int_equal(opt->steps, 2);
        seqvid_optimizer_free(opt);
    }
}

/* seqvid_optimizer_step reads the model's arena: same result as sv_optimizer_apply, binding
 * to the first model's size, SEQVID_ERR_SHAPE for another. */
static void test_step_on_model_arena(void **state) {
    (void)state;
    enum { P = 9 };
    float params[P], grads[P], w[P];
    sv_rng r;
    sv_rng_seed(&r, 5);
    fill(&r, params, P, 1.0);
    fill(&r, grads, P, 1.0);
    memcpy(w, params, sizeof w);
    struct seqvid_model *model = calloc(1, sizeof *model);
    assert_non_null(model);
    model->arena.params = params;
    model->arena.grads = grads;
    model->arena.n_params = P;
    seqvid_optimizer *a = make(SEQVID_OPT_ADAM), *b = make(SEQVID_OPT_ADAM);
    for (int s = 0; s < 3; s++) {
        assert_int_equal(seqvid_optimizer_step(a, model), SEQVID_OK);
        assert_int_equal(sv_optimizer_apply(b, w, grads, P), SEQVID_OK);
    }
    assert_memory_equal(params, w, sizeof w);
    uint64_t steps = 0;
    assert_int_equal(seqvid_optimizer_steps(a, &steps), SEQVID_OK);
    assert_int_equal(steps, 3);
    model->arena.n_params = P - 1;
    assert_fails(seqvid_optimizer_step(a, model), SEQVID_ERR_SHAPE);
    model->arena.n_params = P;
    grads[2] = NAN;
    assert_fails(seqvid_optimizer_step(a, model), SEQVID_ERR_NONFINITE);
    assert_memory_equal(params, w, sizeof w);
    assert_int_equal(seqvid_optimizer_steps(a, &steps), SEQVID_OK);
    assert_int_equal(steps, 3);
    seqvid_optimizer_free(a);
    seqvid_optimizer_free(b);
    free(model);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_set_get_errors),
        cmocka_unit_test(test_steps_step_errors),
        cmocka_unit_test(test_bind),
        cmocka_unit_test(test_sgd_rule),
        cmocka_unit_test(test_rmsprop_rule),
        cmocka_unit_test(test_adam_rule),
        cmocka_unit_test(test_adam_bias_correction),
        cmocka_unit_test(test_grad_clip),
        cmocka_unit_test(test_grad_clip_many_chunks),
        cmocka_unit_test(test_subnormal_moments_flushed),
        cmocka_unit_test(test_nonfinite_update),
        cmocka_unit_test(test_huge_but_finite_update),
        cmocka_unit_test(test_step_limit),
        cmocka_unit_test(test_sgd_update_clip),
        cmocka_unit_test(test_nonfinite_gradient),
        cmocka_unit_test(test_shape_rebind),
        cmocka_unit_test(test_step_on_model_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
