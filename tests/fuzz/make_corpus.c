/* make_corpus.c -- writes the seed corpus of fuzz_load into a folder (committed as
 * tests/fuzz/corpus): small valid models and checkpoints of every kind and optimizer, and a
 * few broken variants. Deterministic: rerunning gives the same files.
 *   usage: fuzz_make_corpus DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "seqvid.h"
#include "model.h"
#include "optimizer.h"
#include "serialize.h"
#include "fuzz_digits.h"

static const char *dir;

static void check(int st, const char *what) {
    if (st) {
        fprintf(stderr, "fuzz_make_corpus: %s: %s\n", what, seqvid_last_error());
        exit(1);
    }
}

static void put(const char *name, const unsigned char *b, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f)) {
        fprintf(stderr, "fuzz_make_corpus: cannot write %s\n", path);
        exit(1);
    }
}

static seqvid_model *model(int kind, int D, int H, int L, int peep, int cond, int out) {
    seqvid_config *c;
    seqvid_model *m;
    check(seqvid_config_create(&c), "config");
    check(seqvid_config_set(c, SEQVID_CFG_KIND, kind), "kind");
    check(seqvid_config_set(c, SEQVID_CFG_INPUT_DIM, D), "D");
    check(seqvid_config_set(c, SEQVID_CFG_HIDDEN, H), "H");
    check(seqvid_config_set(c, SEQVID_CFG_LAYERS, L), "L");
    check(seqvid_config_set(c, SEQVID_CFG_PEEPHOLES, peep), "peep");
    check(seqvid_config_set(c, SEQVID_CFG_COND_RECON, cond), "cond");
    check(seqvid_config_set(c, SEQVID_CFG_COND_FUTURE, cond), "cond");
    check(seqvid_config_set(c, SEQVID_CFG_OUTPUT, out), "out");
    check(seqvid_model_create(c, &m), "create");
    seqvid_config_free(c);
    return m;
}

static unsigned char *model_buf(seqvid_model *m, size_t *n) {
    check(seqvid_model_save_buffer(m, NULL, 0, n), "size");
    unsigned char *b = malloc(*n);
    check(seqvid_model_save_buffer(m, b, *n, n), "save");
    return b;
}

static unsigned char *ckpt_buf(seqvid_model *m, seqvid_optimizer *o, seqvid_mmnist *g,
                               size_t *n) {
    check(sv_checkpoint_save_buffer(m, o, g, 7, NULL, 0, n), "size");
    unsigned char *b = malloc(*n);
    check(sv_checkpoint_save_buffer(m, o, g, 7, b, *n, n), "save");
    return b;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_make_corpus DIR\n");
        return 2;
    }
    dir = argv[1];
    size_t n;
    unsigned char *b;

    /* valid models */
    seqvid_model *ae = model(SEQVID_AUTOENCODER, 2, 1, 1, 0, 0, 0);
    b = model_buf(ae, &n);
    put("model_autoencoder", b, n);
    /* broken variants of the smallest one */
    unsigned char *x = malloc(n);
    memcpy(x, b, n);
    put("broken_truncated", x, n / 2);
    x[n - 3] ^= 0x40; /* data byte: checksum mismatch */
    put("broken_checksum", x, n);
    memcpy(x, b, n);
    x[n - 1] = 0x7f, x[n - 2] = 0xc0, x[n - 3] = 0, x[n - 4] = 0; /* last weight NaN */
    put("broken_nan", x, n);
    memcpy(x, b, n);
    x[7] = 0x40; /* header length 2^62 */
    put("broken_header_length", x, n);
    memcpy(x, b, n);
    x[8] = '['; /* not an object */
    put("broken_json", x, n);
    free(x);
    free(b);
    seqvid_model_free(ae);

    seqvid_model *pred = model(SEQVID_PREDICTOR, 2, 2, 2, 1, 1, 1);
    b = model_buf(pred, &n);
    put("model_predictor_2layers", b, n);
    free(b);
    seqvid_model_free(pred);

    /* checkpoints of a composite model: SGD bound + generator, Adam bound, RMSprop unbound */
    seqvid_model *comp = model(SEQVID_COMPOSITE, 2, 1, 1, 1, 1, 0);
    const int kinds[3] = {SEQVID_OPT_SGD, SEQVID_OPT_ADAM, SEQVID_OPT_RMSPROP};
    const char *names[3] = {"checkpoint_sgd_generator", "checkpoint_adam", "checkpoint_rmsprop"};
    for (int i = 0; i < 3; i++) {
        seqvid_optimizer *o;
        check(seqvid_optimizer_create(kinds[i], &o), "optimizer");
        if (i < 2) {
            check(sv_optimizer_bind(o, comp->arena.n_params), "bind");
            for (size_t k = 0; k < comp->arena.n_params; k++) o->s1[k] = 0.001f * (float)k;
            o->steps = 3;
        }
        b = ckpt_buf(comp, o, i == 0 ? fuzz_generator() : NULL, &n);
        put(names[i], b, n);
        free(b);
        seqvid_optimizer_free(o);
    }
    seqvid_model_free(comp);
    return 0;
}
