/* test_alloc.c -- every out-of-memory path of every create and load function (and of the
 * lazy workspace growth of the first training step, inference and saving), walked with the
 * library's fault-injection hook (lib/alloc.h): for n = 1, 2, ... the n-th allocation of the
 * call fails, until the call makes fewer than n allocations and succeeds. Each failing call
 * must return SEQVID_ERR_NOMEM with a message, leave its output NULL and touch nothing
 * else; run under ASan (tests/run.sh sanitize) a read after free or a leak on any path fails
 * the test. cJSON's allocations go through the same hook (cJSON_InitHooks): a header that
 * passed the strict JSON check but that cJSON could not build is out of memory, never a
 * format error. Where the library absorbs a failed allocation by design (the sparse-input
 * workspace: the dense products are taken instead), the walk accepts the success, renews
 * the objects and goes on to the next allocation. */
#define _POSIX_C_SOURCE 200809L
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
#include <zlib.h>

#include "seqvid.h"
#include "alloc.h"

enum { D = 6, H = 4, K = 3, M = 2, T = K + M, S = 2, C = 3 };

static seqvid_config *small_config(int kind) {
    seqvid_config *cfg = NULL;
    assert_int_equal(seqvid_config_create(&cfg), SEQVID_OK);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_KIND, kind), SEQVID_OK);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_INPUT_DIM, D), SEQVID_OK);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_HIDDEN, H), SEQVID_OK);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_LAYERS, 2), SEQVID_OK);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_INPUT_FRAMES, K), SEQVID_OK);
    assert_int_equal(seqvid_config_set(cfg, SEQVID_CFG_FUTURE_FRAMES, M), SEQVID_OK);
    return cfg;
}

static seqvid_batch *small_batch(void) {
    seqvid_batch *b = NULL;
    float *x;
    assert_int_equal(seqvid_batch_create(T, S, D, &b), SEQVID_OK);
    assert_int_equal(seqvid_batch_data(b, &x), SEQVID_OK);
    for (int i = 0; i < T * S * D; i++) x[i] = (float)((i * 7) % 11) / 11.0f;
    assert_int_equal(seqvid_batch_set_length(b, 1, T - 1), SEQVID_OK);
    return b;
}

/* The fault loop: op(ctx) is called with the n-th allocation failing, n = 1, 2, ...; a
 * failure must be SEQVID_ERR_NOMEM (or `alt`, if not 0) with a message; the first success
 * must be a call that made fewer than n allocations. undo(ctx) releases what a successful
 * call made; check(ctx) (optional) runs after every failure. Returns the number of failing
 * paths walked. */
typedef struct fault_op {
    const char *name;
    int (*op)(void *ctx);
    void (*undo)(void *ctx);
    void (*check)(void *ctx);
    int alt;
    int degrades; /* a failed allocation may be absorbed: success is then fine */
} fault_op;

static long walk(const fault_op *f, void *ctx) {
    for (long n = 1;; n++) {
        sv_alloc_fail_at(n);
        int st = f->op(ctx);
        long made = sv_alloc_fail_at(0);
        if (st == SEQVID_OK) {
            if (made >= n && !f->degrades)
                fail_msg("%s: succeeded although allocation %ld of %ld failed", f->name, n, made);
            if (f->undo) f->undo(ctx);
            if (made >= n) continue;
            return n - 1;
        }
        if (st != SEQVID_ERR_NOMEM && !(f->alt && st == f->alt))
            fail_msg("%s, allocation %ld failing: status %d (%s): %s", f->name, n, st,
                     seqvid_status_string(st), seqvid_last_error());
        assert_true(seqvid_last_error()[0] != '\0');
        if (f->check) f->check(ctx);
        assert_true(n < 100000);
    }
}

/* ---- the operations ------------------------------------------------------------------ */
typedef struct ctx {
    int kind;
    seqvid_config *cfg;
    seqvid_model *model, *src_model;
    seqvid_classifier *cls;
    seqvid_optimizer *opt;
    seqvid_batch *batch;
    seqvid_stream *stream;
    unsigned char *buf;
    size_t size;
    char path[256], path2[256];
    seqvid_digits *digits;
    seqvid_mmnist *gen;
    float *before;
    size_t n;
} ctx;

static int op_config(void *p) {
    ctx *c = p;
    seqvid_config *cfg = (seqvid_config *)&c->buf; /* poison: must become NULL on failure */
    int st = seqvid_config_create(&cfg);
    if (st) assert_null(cfg);
    else seqvid_config_free(cfg);
    return st;
}

static int op_model(void *p) {
    ctx *c = p;
    int st = seqvid_model_create(c->cfg, &c->model);
    if (st) assert_null(c->model);
    return st;
}
static void undo_model(void *p) {
    ctx *c = p;
    seqvid_model_free(c->model);
    c->model = NULL;
}

static int op_classifier(void *p) {
    ctx *c = p;
    int st = seqvid_classifier_create(c->cfg, C, &c->cls);
    if (st) assert_null(c->cls);
    return st;
}
static int op_classifier_from_encoder(void *p) {
    ctx *c = p;
    int st = seqvid_classifier_create_from_encoder(c->src_model, C, &c->cls);
    if (st) assert_null(c->cls);
    return st;
}
static void undo_classifier(void *p) {
    ctx *c = p;
    seqvid_classifier_free(c->cls);
    c->cls = NULL;
}

static int op_optimizer(void *p) {
    ctx *c = p;
    int st = seqvid_optimizer_create(c->kind, &c->opt);
    if (st) assert_null(c->opt);
    return st;
}
static void undo_optimizer(void *p) {
    ctx *c = p;
    seqvid_optimizer_free(c->opt);
    c->opt = NULL;
}

static int op_batch(void *p) {
    ctx *c = p;
    int st = seqvid_batch_create(T, S, D, &c->batch);
    if (st) assert_null(c->batch);
    return st;
}
static int op_batch_wrap(void *p) {
    ctx *c = p;
    static float data[T * S * D];
    int st = seqvid_batch_wrap(data, T, S, D, &c->batch);
    if (st) assert_null(c->batch);
    return st;
}
static void undo_batch(void *p) {
    ctx *c = p;
    seqvid_batch_free(c->batch);
    c->batch = NULL;
}

static int op_stream(void *p) {
    ctx *c = p;
    int st = seqvid_stream_create(c->src_model, S, &c->stream);
    if (st) assert_null(c->stream);
    return st;
}
static void undo_stream(void *p) {
    ctx *c = p;
    seqvid_stream_free(c->stream);
    c->stream = NULL;
}

/* Loads: from a buffer and from a file, of a model, checkpoint and classifier. */
static int op_model_load_buffer(void *p) {
    ctx *c = p;
    int st = seqvid_model_load_buffer(c->buf, c->size, &c->model);
    if (st) assert_null(c->model);
    return st;
}
static int op_model_load(void *p) {
    ctx *c = p;
    int st = seqvid_model_load(c->path, &c->model);
    if (st) assert_null(c->model);
    return st;
}
static int op_checkpoint_load(void *p) {
    ctx *c = p;
    uint64_t step = 0;
    int st = seqvid_checkpoint_load(c->path, &c->model, &c->opt, NULL, &step);
    if (st) assert_null(c->model), assert_null(c->opt);
    return st;
}
static void undo_checkpoint(void *p) {
    undo_model(p);
    undo_optimizer(p);
}
static int op_classifier_load_buffer(void *p) {
    ctx *c = p;
    int st = seqvid_classifier_load_buffer(c->buf, c->size, &c->cls);
    if (st) assert_null(c->cls);
    return st;
}
static int op_classifier_load(void *p) {
    ctx *c = p;
    int st = seqvid_classifier_load(c->path, &c->cls);
    if (st) assert_null(c->cls);
    return st;
}

/* Saving (plan, header, temporary name): a failure leaves no file behind. */
static int op_model_save(void *p) {
    ctx *c = p;
    int st = seqvid_model_save(c->src_model, c->path);
    if (st) assert_int_not_equal(access(c->path, F_OK), 0);
    return st;
}
static void undo_unlink(void *p) { unlink(((ctx *)p)->path); }
static int op_checkpoint_save(void *p) {
    ctx *c = p;
    int st = seqvid_checkpoint_save(c->path, c->src_model, c->opt, NULL, 7);
    if (st) assert_int_not_equal(access(c->path, F_OK), 0);
    return st;
}

/* The first training step of a fresh model and optimizer allocates the workspaces and the
 * optimizer state: a failure must leave the weights exactly as they were. */
static int op_train_step(void *p) {
    ctx *c = p;
    return seqvid_model_train_step(c->model, c->opt, c->batch, NULL, NULL);
}
static int op_cls_train_step(void *p) {
    ctx *c = p;
    static const int labels[S] = {0, 2};
    return seqvid_classifier_train_step(c->cls, c->opt, c->batch, labels, S, NULL, NULL);
}
static void check_model_unchanged(void *p) {
    ctx *c = p;
    float *w;
    uint64_t steps;
    if (c->model) assert_int_equal(seqvid_model_params(c->model, &w), SEQVID_OK);
    else assert_int_equal(seqvid_classifier_params(c->cls, &w), SEQVID_OK);
    assert_memory_equal(w, c->before, c->n * sizeof *w);
    assert_int_equal(seqvid_optimizer_steps(c->opt, &steps), SEQVID_OK);
    assert_int_equal(steps, 0);
}
/* After a success that absorbed a failed allocation: a fresh model (the same initial weights:
 * the same configuration and seed) and optimizer, so the next walk starts as the first. */
static void renew_model(void *p) {
    ctx *c = p;
    seqvid_model_free(c->model);
    c->model = NULL;
    assert_int_equal(seqvid_model_create(c->cfg, &c->model), SEQVID_OK);
    if (c->opt) {
        seqvid_optimizer_free(c->opt);
        c->opt = NULL;
        assert_int_equal(seqvid_optimizer_create(c->kind, &c->opt), SEQVID_OK);
    }
}
static void renew_classifier(void *p) {
    ctx *c = p;
    seqvid_classifier_free(c->cls);
    c->cls = NULL;
    assert_int_equal(seqvid_classifier_create(c->cfg, C, &c->cls), SEQVID_OK);
    seqvid_optimizer_free(c->opt);
    c->opt = NULL;
    assert_int_equal(seqvid_optimizer_create(c->kind, &c->opt), SEQVID_OK);
}
/* Inference on a fresh model: its workspace grows on the first call. */
static int op_infer(void *p) {
    ctx *c = p;
    float out[M * S * D + T * S * D + 4 * H * S];
    float rec, fut;
    int st = seqvid_model_evaluate(c->model, c->batch, SEQVID_EVAL_INFERENCE, &rec, &fut);
    if (!st) st = seqvid_model_reconstruct(c->model, c->batch, out, sizeof out / sizeof *out);
    if (!st) st = seqvid_model_predict(c->model, c->batch, M, out, sizeof out / sizeof *out);
    if (!st) st = seqvid_model_encode(c->model, c->batch, out, sizeof out / sizeof *out);
    return st;
}

/* cJSON through the hook too. */
static void *hooked_malloc(size_t n) { return sv_malloc(n); }

static void every_create_fails_cleanly(void **state) {
    (void)state;
    ctx c = {.kind = SEQVID_OPT_ADAM};
    c.cfg = small_config(SEQVID_COMPOSITE);
    long paths = 0;
    paths += walk(&(fault_op){"seqvid_config_create", op_config, NULL, NULL, 0, 0}, &c);
    for (int kind = SEQVID_COMPOSITE; kind >= SEQVID_AUTOENCODER; kind--) {
        assert_int_equal(seqvid_config_set(c.cfg, SEQVID_CFG_KIND, kind), SEQVID_OK);
        paths += walk(&(fault_op){"seqvid_model_create", op_model, undo_model, NULL, 0, 0}, &c);
    }
    assert_int_equal(seqvid_config_set(c.cfg, SEQVID_CFG_KIND, SEQVID_COMPOSITE), SEQVID_OK);
    paths += walk(&(fault_op){"seqvid_classifier_create", op_classifier, undo_classifier, NULL,
                              0, 0}, &c);
    assert_int_equal(seqvid_model_create(c.cfg, &c.src_model), SEQVID_OK);
    paths += walk(&(fault_op){"seqvid_classifier_create_from_encoder",
                              op_classifier_from_encoder, undo_classifier, NULL, 0, 0}, &c);
    for (c.kind = SEQVID_OPT_SGD; c.kind <= SEQVID_OPT_ADAM; c.kind++)
        paths += walk(&(fault_op){"seqvid_optimizer_create", op_optimizer, undo_optimizer, NULL,
                                  0, 0}, &c);
    paths += walk(&(fault_op){"seqvid_batch_create", op_batch, undo_batch, NULL, 0, 0}, &c);
    paths += walk(&(fault_op){"seqvid_batch_wrap", op_batch_wrap, undo_batch, NULL, 0, 0}, &c);
    paths += walk(&(fault_op){"seqvid_stream_create", op_stream, undo_stream, NULL, 0, 0}, &c);
    print_message("walked %ld failing allocations\n", paths);
    assert_true(paths >= 20);
    seqvid_model_free(c.src_model);
    seqvid_config_free(c.cfg);
}

static void first_steps_fail_cleanly(void **state) {
    (void)state;
    ctx c = {0};
    c.cfg = small_config(SEQVID_COMPOSITE);
    c.batch = small_batch();
    for (int kind = SEQVID_OPT_SGD; kind <= SEQVID_OPT_ADAM; kind++) {
        assert_int_equal(seqvid_model_create(c.cfg, &c.model), SEQVID_OK);
        assert_int_equal(seqvid_optimizer_create(kind, &c.opt), SEQVID_OK);
        c.kind = kind;
        float *w;
        assert_int_equal(seqvid_model_param_count(c.model, &c.n), SEQVID_OK);
        assert_int_equal(seqvid_model_params(c.model, &w), SEQVID_OK);
        c.before = malloc(c.n * sizeof *w);
        memcpy(c.before, w, c.n * sizeof *w);
        long n = walk(&(fault_op){"seqvid_model_train_step", op_train_step,
                                  renew_model, check_model_unchanged, 0, 1}, &c);
        assert_true(n >= 2);
        free(c.before);
        seqvid_optimizer_free(c.opt);
        seqvid_model_free(c.model);
        c.opt = NULL, c.model = NULL;
    }
    /* inference on a fresh model */
    assert_int_equal(seqvid_model_create(c.cfg, &c.model), SEQVID_OK);
    assert_true(walk(&(fault_op){"inference", op_infer, renew_model, NULL, 0, 1}, &c) >= 1);
    seqvid_model_free(c.model);
    c.model = NULL;
    /* the classifier's first step */
    assert_int_equal(seqvid_classifier_create(c.cfg, C, &c.cls), SEQVID_OK);
    assert_int_equal(seqvid_optimizer_create(SEQVID_OPT_ADAM, &c.opt), SEQVID_OK);
    c.kind = SEQVID_OPT_ADAM;
    float *w;
    assert_int_equal(seqvid_classifier_param_count(c.cls, &c.n), SEQVID_OK);
    assert_int_equal(seqvid_classifier_params(c.cls, &w), SEQVID_OK);
    c.before = malloc(c.n * sizeof *w);
    memcpy(c.before, w, c.n * sizeof *w);
    assert_true(walk(&(fault_op){"seqvid_classifier_train_step", op_cls_train_step,
                                 renew_classifier, check_model_unchanged, 0, 1}, &c) >= 1);
    free(c.before);
    seqvid_optimizer_free(c.opt);
    seqvid_classifier_free(c.cls);
    seqvid_batch_free(c.batch);
    seqvid_config_free(c.cfg);
}

static void every_save_and_load_fails_cleanly(void **state) {
    (void)state;
    ctx c = {0};
    c.cfg = small_config(SEQVID_COMPOSITE);
    c.batch = small_batch();
    snprintf(c.path, sizeof c.path, "/tmp/seqvid_test_alloc_%ld.safetensors", (long)getpid());
    cJSON_InitHooks(&(cJSON_Hooks){hooked_malloc, free});

    /* a trained model and optimizer, so the checkpoint has optimizer state */
    assert_int_equal(seqvid_model_create(c.cfg, &c.src_model), SEQVID_OK);
    assert_int_equal(seqvid_optimizer_create(SEQVID_OPT_ADAM, &c.opt), SEQVID_OK);
    assert_int_equal(seqvid_model_train_step(c.src_model, c.opt, c.batch, NULL, NULL), SEQVID_OK);

    walk(&(fault_op){"seqvid_model_save", op_model_save, undo_unlink, NULL, 0, 0}, &c);
    walk(&(fault_op){"seqvid_checkpoint_save", op_checkpoint_save, undo_unlink, NULL, 0, 0}, &c);
    seqvid_optimizer *trained = c.opt;
    c.opt = NULL;

    /* model: buffer and file */
    seqvid_model_save_buffer(c.src_model, NULL, 0, &c.size); /* size query */
    c.buf = malloc(c.size);
    assert_int_equal(seqvid_model_save_buffer(c.src_model, c.buf, c.size, &c.size), SEQVID_OK);
    assert_true(walk(&(fault_op){"seqvid_model_load_buffer", op_model_load_buffer, undo_model,
                                 NULL, 0, 0}, &c) >= 3);
    assert_int_equal(seqvid_model_save(c.src_model, c.path), SEQVID_OK);
    assert_true(walk(&(fault_op){"seqvid_model_load", op_model_load, undo_model, NULL, 0, 0},
                     &c) >= 3);
    free(c.buf);

    /* checkpoint: file */
    assert_int_equal(seqvid_checkpoint_save(c.path, c.src_model, trained, NULL, 7), SEQVID_OK);
    assert_true(walk(&(fault_op){"seqvid_checkpoint_load", op_checkpoint_load, undo_checkpoint,
                                 NULL, 0, 0}, &c) >= 4);

    /* classifier: buffer and file */
    seqvid_classifier *cls;
    assert_int_equal(seqvid_classifier_create(c.cfg, C, &cls), SEQVID_OK);
    seqvid_classifier_save_buffer(cls, NULL, 0, &c.size); /* size query */
    c.buf = malloc(c.size);
    assert_int_equal(seqvid_classifier_save_buffer(cls, c.buf, c.size, &c.size), SEQVID_OK);
    assert_true(walk(&(fault_op){"seqvid_classifier_load_buffer", op_classifier_load_buffer,
                                 undo_classifier, NULL, 0, 0}, &c) >= 3);
    assert_int_equal(seqvid_classifier_save(cls, c.path), SEQVID_OK);
    assert_true(walk(&(fault_op){"seqvid_classifier_load", op_classifier_load, undo_classifier,
                                 NULL, 0, 0}, &c) >= 3);
    free(c.buf);
    unlink(c.path);

    cJSON_InitHooks(NULL);
    seqvid_classifier_free(cls);
    seqvid_optimizer_free(trained);
    seqvid_model_free(c.src_model);
    seqvid_batch_free(c.batch);
    seqvid_config_free(c.cfg);
}

/* ---- data loaders (lib/data) ---------------------------------------------------------- */
static int op_digits_load(void *p) {
    ctx *c = p;
    int st = seqvid_digits_load(c->path, c->path2[0] ? c->path2 : NULL, &c->digits);
    if (st) assert_null(c->digits);
    return st;
}
static void undo_digits(void *p) {
    ctx *c = p;
    seqvid_digits_free(c->digits);
    c->digits = NULL;
}
static int op_mmnist_create(void *p) {
    ctx *c = p;
    int st = seqvid_mmnist_create(c->digits, &c->gen);
    if (st) assert_null(c->gen);
    return st;
}
static void undo_mmnist(void *p) {
    ctx *c = p;
    seqvid_mmnist_free(c->gen);
    c->gen = NULL;
}
static int op_npy_load(void *p) {
    ctx *c = p;
    int st = seqvid_npy_load(c->path, SEQVID_LAYOUT_TIME_MAJOR, &c->batch);
    if (st) assert_null(c->batch);
    return st;
}
/* An IDX file of n 28 x 28 images (magic 00 00 08 ndim, big-endian dims), raw or gzip. */
static void write_idx(const char *path, int images, int n, int gz) {
    unsigned char head[16] = {0, 0, 8, (unsigned char)(images ? 3 : 1)};
    uint32_t dims[3] = {(uint32_t)n, 28, 28};
    size_t hn = images ? 16 : 8, body = images ? (size_t)n * 28 * 28 : (size_t)n;
    for (int i = 0; i < (images ? 3 : 1); i++)
        for (int k = 0; k < 4; k++) head[4 + 4 * i + k] = (unsigned char)(dims[i] >> (24 - 8 * k));
    unsigned char *b = malloc(hn + body);
    assert_non_null(b);
    memcpy(b, head, hn);
    for (size_t i = 0; i < body; i++) b[hn + i] = (unsigned char)(images ? i * 37 % 256 : i % 10);
    gzFile f = gzopen(path, gz ? "wb" : "wbT");
    assert_non_null(f);
    assert_int_equal(gzwrite(f, b, (unsigned)(hn + body)), (int)(hn + body));
    assert_int_equal(gzclose(f), Z_OK);
    free(b);
}

static void every_data_loader_fails_cleanly(void **state) {
    (void)state;
    ctx c = {0};
    long paths = 0;
    char img[256], lab[256];
    snprintf(img, sizeof img, "/tmp/seqvid_test_alloc_%ld.img", (long)getpid());
    snprintf(lab, sizeof lab, "/tmp/seqvid_test_alloc_%ld.lab", (long)getpid());
    for (int gz = 0; gz <= 1; gz++) {
        write_idx(img, 1, 4, gz);
        write_idx(lab, 0, 4, gz);
        snprintf(c.path, sizeof c.path, "%s", img);
        snprintf(c.path2, sizeof c.path2, "%s", lab);
        paths += walk(&(fault_op){"seqvid_digits_load", op_digits_load, undo_digits, NULL, 0, 0},
                      &c);
        c.path2[0] = 0;
        paths += walk(&(fault_op){"seqvid_digits_load (no labels)", op_digits_load, undo_digits,
                                  NULL, 0, 0}, &c);
    }
    assert_int_equal(seqvid_digits_load(img, NULL, &c.digits), SEQVID_OK);
    paths += walk(&(fault_op){"seqvid_mmnist_create", op_mmnist_create, undo_mmnist, NULL, 0, 0},
                  &c);
    seqvid_digits_free(c.digits);
    unlink(img), unlink(lab);

    /* .npy: a float array (time-major T x S x D) */
    const float x[3 * 2 * 4] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    const size_t shape[3] = {3, 2, 4};
    snprintf(c.path, sizeof c.path, "/tmp/seqvid_test_alloc_%ld.npy", (long)getpid());
    assert_int_equal(seqvid_npy_save(c.path, x, 3, shape), SEQVID_OK);
    paths += walk(&(fault_op){"seqvid_npy_load", op_npy_load, undo_batch, NULL, 0, 0}, &c);
    unlink(c.path);
    print_message("walked %ld failing allocations\n", paths);
    assert_true(paths >= 14); /* 7 while lib/data allocated past the hook */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_create_fails_cleanly),
        cmocka_unit_test(first_steps_fail_cleanly),
        cmocka_unit_test(every_save_and_load_fails_cleanly),
        cmocka_unit_test(every_data_loader_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
