/* test_determinism.c -- the header's promise that results are bitwise independent of the
 * thread count (issue 14 item 9): training, evaluation, encoding, prediction and
 * reconstruction of models, and training, evaluation and prediction of classifiers, give the
 * same bits with 1, 2 and 3 threads, set either with seqvid_set_threads or, in a child
 * process, only through OPENBLAS_NUM_THREADS (the library's default).
 *
 * Sizes are chosen so that the products are cut into several chunks (lib/gemm_cblas.c) and that
 * OpenBLAS would thread them on its own (before the fix 1 vs 2 threads differed in most
 * weights after a few steps); frames are sparse binary for the composite (the sparse-input
 * path) and dense real for the autoencoder. Adam with a global-norm clip (a reduction over
 * all gradients) is the optimizer. A third model trains with scheduled sampling (the
 * experimental SAMPLE_* keys): its coins, drawn on the calling thread, and the step-by-step
 * decoder passes they cause must not depend on the thread count either. */
#define _GNU_SOURCE /* sched_getaffinity */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define SEQVID_EXPERIMENTAL /* the scheduled sampling keys */
#include "seqvid.h"
#include "rng.h"

enum { D = 400, H = 96, K = 5, M = 5, T = K + M, S = 16, STEPS = 8, NCLS = 4, NFUT = 4 };

#define CHECK(call)                                                                          \
    do {                                                                                     \
        int st_ = (call);                                                                    \
        if (st_) fail_msg("%s: %s", #call, seqvid_last_error());                             \
    } while (0)

/* Everything a run produces, as one byte string (appended in a fixed order). */
typedef struct record {
    unsigned char *bytes;
    size_t n, cap;
} record;

static void put(record *r, const void *p, size_t n) {
    if (r->n + n > r->cap) {
        r->cap = (r->n + n) * 2;
        r->bytes = realloc(r->bytes, r->cap);
        assert_non_null(r->bytes);
    }
    memcpy(r->bytes + r->n, p, n);
    r->n += n;
}

static seqvid_batch *make_batch(uint64_t seed, double density) {
    seqvid_batch *b;
    float *x;
    CHECK(seqvid_batch_create(T, S, D, &b));
    CHECK(seqvid_batch_data(b, &x));
    sv_rng r;
    sv_rng_seed(&r, seed);
    for (size_t i = 0; i < (size_t)T * S * D; i++) {
        double u = sv_rng_uniform(&r);
        x[i] = density > 0 ? (float)(u < density) : (float)u;
    }
    CHECK(seqvid_batch_set_length(b, 3, T - 2)); /* masks too */
    return b;
}

static seqvid_config *make_config(int kind, int output, int layers) {
    seqvid_config *cfg;
    CHECK(seqvid_config_create(&cfg));
    CHECK(seqvid_config_set(cfg, SEQVID_CFG_KIND, kind));
    CHECK(seqvid_config_set(cfg, SEQVID_CFG_INPUT_DIM, D));
    CHECK(seqvid_config_set(cfg, SEQVID_CFG_HIDDEN, H));
    CHECK(seqvid_config_set(cfg, SEQVID_CFG_LAYERS, layers));
    CHECK(seqvid_config_set(cfg, SEQVID_CFG_INPUT_FRAMES, K));
    CHECK(seqvid_config_set(cfg, SEQVID_CFG_FUTURE_FRAMES, M));
    CHECK(seqvid_config_set(cfg, SEQVID_CFG_OUTPUT, output));
    CHECK(seqvid_config_set(cfg, SEQVID_CFG_SEED, 7));
    return cfg;
}

static seqvid_optimizer *make_adam(void) {
    seqvid_optimizer *o;
    CHECK(seqvid_optimizer_create(SEQVID_OPT_ADAM, &o));
    CHECK(seqvid_optimizer_set(o, SEQVID_OPT_LR, 3e-3));
    CHECK(seqvid_optimizer_set(o, SEQVID_OPT_GRAD_CLIP, 0.5));
    return o;
}

static void model_run(record *rec, int kind, int output, int layers, double density,
                      double sample) {
    seqvid_config *cfg = make_config(kind, output, layers);
    seqvid_model *m;
    CHECK(seqvid_model_create(cfg, &m));
    if (sample > 0) {
        CHECK(seqvid_model_set(m, SEQVID_CFG_SAMPLE_RECON, sample));
        CHECK(seqvid_model_set(m, SEQVID_CFG_SAMPLE_FUTURE, sample));
    }
    seqvid_batch *b = make_batch(11 + (uint64_t)kind, density);
    seqvid_optimizer *o = make_adam();
    float loss[2];
    for (int s = 0; s < STEPS; s++) {
        CHECK(seqvid_model_train_step(m, o, b, &loss[0], &loss[1]));
        put(rec, loss, sizeof loss);
    }
    size_t n;
    float *w, *g;
    CHECK(seqvid_model_param_count(m, &n));
    CHECK(seqvid_model_params(m, &w));
    CHECK(seqvid_model_grads(m, &g));
    put(rec, w, n * sizeof *w);
    put(rec, g, n * sizeof *g);
    for (int f = SEQVID_EVAL_INFERENCE; f <= SEQVID_EVAL_TEACHER_FORCED; f++) {
        CHECK(seqvid_model_evaluate(m, b, f, &loss[0], &loss[1]));
        put(rec, loss, sizeof loss);
    }
    static float out[T * S * D];
    size_t fd;
    CHECK(seqvid_model_feature_dim(m, &fd));
    CHECK(seqvid_model_encode(m, b, out, sizeof out / sizeof *out));
    put(rec, out, fd * S * sizeof *out);
    if (kind != SEQVID_AUTOENCODER) {
        CHECK(seqvid_model_predict(m, b, NFUT, out, sizeof out / sizeof *out));
        put(rec, out, (size_t)NFUT * S * D * sizeof *out);
    }
    if (kind != SEQVID_PREDICTOR) {
        CHECK(seqvid_model_reconstruct(m, b, out, sizeof out / sizeof *out));
        put(rec, out, (size_t)T * S * D * sizeof *out);
    }
    /* streaming: batch-1 products (vector-matrix) */
    seqvid_stream *st;
    CHECK(seqvid_stream_create(m, 1, &st));
    float *x;
    CHECK(seqvid_batch_data(b, &x));
    for (int t = 0; t < T; t++) CHECK(seqvid_stream_push(st, x + (size_t)t * S * D, D));
    CHECK(seqvid_stream_features(st, out, fd));
    put(rec, out, fd * sizeof *out);
    seqvid_stream_free(st);
    seqvid_optimizer_free(o);
    seqvid_batch_free(b);
    seqvid_model_free(m);
    seqvid_config_free(cfg);
}

static void classifier_run(record *rec) {
    seqvid_config *cfg = make_config(SEQVID_COMPOSITE, SEQVID_OUTPUT_BINARY, 2);
    seqvid_classifier *c;
    CHECK(seqvid_classifier_create(cfg, NCLS, &c));
    CHECK(seqvid_classifier_set(c, SEQVID_CLS_DROPOUT, 0.25));
    seqvid_batch *b = make_batch(21, 0.1);
    int labels[S];
    for (int i = 0; i < S; i++) labels[i] = i % NCLS;
    seqvid_optimizer *o = make_adam();
    float la[2];
    for (int s = 0; s < STEPS; s++) {
        CHECK(seqvid_classifier_train_step(c, o, b, labels, S, &la[0], &la[1]));
        put(rec, la, sizeof la);
    }
    size_t n;
    float *w;
    CHECK(seqvid_classifier_param_count(c, &n));
    CHECK(seqvid_classifier_params(c, &w));
    put(rec, w, n * sizeof *w);
    CHECK(seqvid_classifier_evaluate(c, b, labels, S, &la[0], &la[1]));
    put(rec, la, sizeof la);
    float probs[S * NCLS];
    CHECK(seqvid_classifier_predict(c, b, probs, S * NCLS));
    put(rec, probs, sizeof probs);
    seqvid_optimizer_free(o);
    seqvid_batch_free(b);
    seqvid_classifier_free(c);
    seqvid_config_free(cfg);
}

static record run_all(void) {
    record r = {0};
    /* dense first: its first library thread-count read happens inside a BLAS product */
    model_run(&r, SEQVID_AUTOENCODER, SEQVID_OUTPUT_REAL, 1, 0, 0);
    model_run(&r, SEQVID_COMPOSITE, SEQVID_OUTPUT_BINARY, 2, 0.1, 0);
    model_run(&r, SEQVID_COMPOSITE, SEQVID_OUTPUT_BINARY, 1, 0.1, 0.5);
    classifier_run(&r);
    return r;
}

static void assert_same_record(const record *a, const record *b, const char *what) {
    assert_int_equal(a->n, b->n);
    if (memcmp(a->bytes, b->bytes, a->n)) {
        size_t diff = 0, first = a->n;
        for (size_t i = 0; i < a->n; i += 4)
            if (memcmp(a->bytes + i, b->bytes + i, 4)) diff++, first = first < i ? first : i;
        fail_msg("%s: %zu of %zu floats differ (first at byte %zu)", what, diff, a->n / 4, first);
    }
}

static uint64_t digest(const record *r) { /* FNV-1a */
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < r->n; i++) h = (h ^ r->bytes[i]) * 1099511628211ull;
    return h;
}

static const char *self_path;

static void same_bits_for_1_2_3_threads(void **state) {
    (void)state;
    record ref = {0};
    for (int t = 1; t <= 3; t++) {
        CHECK(seqvid_set_threads(t));
        assert_int_equal(seqvid_get_threads(), t);
        record r = run_all();
        if (t == 1) {
            ref = r;
            continue;
        }
        char what[64];
        snprintf(what, sizeof what, "seqvid_set_threads(%d) vs 1", t);
        assert_same_record(&ref, &r, what);
        free(r.bytes);
    }
    /* The default thread count comes from OPENBLAS_NUM_THREADS: children that never call
     * seqvid_set_threads. */
    for (int t = 1; t <= 3; t++) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "OPENBLAS_NUM_THREADS=%d '%s' --digest", t, self_path);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        unsigned long long got = 0;
        int threads = 0;
        assert_int_equal(fscanf(p, "%d %llx", &threads, &got), 2);
        assert_int_equal(pclose(p), 0);
        /* OpenBLAS caps the count at the cores; the default must not be lost (the library
         * pins OpenBLAS to 1 thread inside products: read before, it would say 1) */
        cpu_set_t cpus;
        int ncpu = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
#if defined SEQVID_BLAS_ONEDNN /* (oneDNN: the default is all cores, whatever OpenBLAS says) */
        assert_true(threads >= 1);
        (void)ncpu;
#elif defined SEQVID_BLAS_REFERENCE /* (with the reference CBLAS the default is 1) */
        assert_true(threads == 1);
        (void)ncpu;
#else
        assert_true(threads >= 1 && threads <= t);
        if (t >= 2 && ncpu >= 2) assert_true(threads >= 2);
#endif
        if (got != digest(&ref))
            fail_msg("OPENBLAS_NUM_THREADS=%d (%d threads): digest %016llx, 1 thread gives "
                     "%016llx", t, threads, got, (unsigned long long)digest(&ref));
    }
    free(ref.bytes);
    CHECK(seqvid_set_threads(1));
}

int main(int argc, char **argv) {
    self_path = argv[0];
    if (argc == 2 && !strcmp(argv[1], "--digest")) {
        record r = run_all(); /* the default thread count is first read inside */
        int t = seqvid_get_threads();
        printf("%d %016llx\n", t, (unsigned long long)digest(&r));
        free(r.bytes);
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_bits_for_1_2_3_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
