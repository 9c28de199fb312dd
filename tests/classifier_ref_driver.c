/*
 * classifier_ref_driver.c -- runs one case of the classifier's NumPy reference comparison
 * through the public API and dumps the results for tests/ref/test_classifier_reference.py.
 * Not a cmocka test: a plain program, like tests/ref_driver.c.
 *
 *   classifier_ref_driver CASEDIR
 *
 * Reads  CASEDIR/case.txt    "key value" lines: D H L peep C T S, "lengths l_0 ..",
 *                            "labels y_0 .."
 *        CASEDIR/data.f32    T*S*D float32, time-major
 *        CASEDIR/params.txt  "name rows cols" per block, in the order of params.f32
 *        CASEDIR/params.f32  the blocks' float32 values, concatenated
 * Writes CASEDIR/layout.txt  "count N" then "name offset rows cols" per block
 *        CASEDIR/results.txt "<call> <status> [loss accuracy]" for gradients, evaluate,
 *                            predict
 *        CASEDIR/grads.f32   the gradient arena after seqvid_classifier_gradients
 *        CASEDIR/predict.f32 S*C clip probabilities
 *        CASEDIR/grads_after.f32, params_after.f32   the arenas after evaluate and predict
 * Blocks are matched by name; a block missing on either side or of another shape is an
 * error (exit 2). Library failures are recorded, not fatal: python judges them.
 */
#include <seqvid.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEQS 64

#include "ref_io.h"

/* The classifier's parameter blocks, in the shape load_given_params wants. */
static int classifier_block(const void *obj, size_t i, const char **name, size_t *off, size_t *rows,
                    size_t *cols)
{
    return seqvid_classifier_param_block(obj, i, name, off, rows, cols);
}

int main(int argc, char **argv)
{
    g_prog = "classifier_ref_driver";
    if (argc != 2)
        die("usage: classifier_ref_driver CASEDIR", NULL);
    g_dir = argv[1];

    long D = 0, H = 0, L = 0, peep = 0, C = 0, T = 0, S = 0;
    size_t lens[MAX_SEQS], n_lens = 0, n_labels = 0;
    int labels[MAX_SEQS];
    {
        FILE *f = open_in("case.txt", "r");
        char key[64];
        while (fscanf(f, "%63s", key) == 1) {
            if (strcmp(key, "lengths") == 0) {
                unsigned long v;
                while (n_lens < MAX_SEQS && fscanf(f, "%lu", &v) == 1)
                    lens[n_lens++] = v;
                continue;
            }
            if (strcmp(key, "labels") == 0) {
                int v;
                while (n_labels < MAX_SEQS && fscanf(f, "%d", &v) == 1)
                    labels[n_labels++] = v;
                continue;
            }
            long v;
            if (fscanf(f, "%ld", &v) != 1)
                die("bad value for", key);
            struct { const char *k; long *p; } tab[] = {{"D", &D}, {"H", &H}, {"L", &L},
                                                         {"peep", &peep}, {"C", &C}, {"T", &T},
                                                         {"S", &S}};
            size_t i;
            for (i = 0; i < sizeof tab / sizeof tab[0]; i++)
                if (strcmp(key, tab[i].k) == 0) {
                    *tab[i].p = v;
                    break;
                }
            if (i == sizeof tab / sizeof tab[0])
                die("unknown key", key);
        }
        fclose(f);
        if (T <= 0 || S <= 0 || D <= 0 || (long)n_lens != S || (long)n_labels != S)
            die("bad case.txt (T, S, D, lengths, labels)", NULL);
    }

    seqvid_config *cfg = NULL;
    if (seqvid_config_create(&cfg) != SEQVID_OK)
        die("config_create", seqvid_last_error());
    struct { int key; long v; } set[] = {{SEQVID_CFG_INPUT_DIM, D}, {SEQVID_CFG_HIDDEN, H},
                                         {SEQVID_CFG_LAYERS, L}, {SEQVID_CFG_PEEPHOLES, peep}};
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++)
        if (seqvid_config_set(cfg, set[i].key, (double)set[i].v) != SEQVID_OK)
            die("config_set", seqvid_last_error());
    seqvid_classifier *cls = NULL;
    if (seqvid_classifier_create(cfg, (int)C, &cls) != SEQVID_OK)
        die("classifier_create", seqvid_last_error());
    seqvid_config_free(cfg);

    size_t count = 0, nblocks = 0;
    float *params = NULL, *grads = NULL;
    if (seqvid_classifier_param_count(cls, &count) != SEQVID_OK ||
        seqvid_classifier_param_block_count(cls, &nblocks) != SEQVID_OK ||
        seqvid_classifier_params(cls, &params) != SEQVID_OK ||
        seqvid_classifier_grads(cls, &grads) != SEQVID_OK)
        die("param arena", seqvid_last_error());
    load_given_params(cls, classifier_block, nblocks, count, params, "classifier block not given by python:");

    float *data;
    seqvid_batch *batch = load_batch(T, S, D, lens, &data);

    FILE *res = open_in("results.txt", "w");
    float loss = -1.0f, acc = -1.0f;
    int st = seqvid_classifier_gradients(cls, batch, labels, (size_t)S, &loss, &acc);
    report(res, "gradients", st, 2, loss, acc);
    write_f32("grads.f32", grads, count);
    loss = acc = -1.0f;
    st = seqvid_classifier_evaluate(cls, batch, labels, (size_t)S, &loss, &acc);
    report(res, "evaluate", st, 2, loss, acc);
    float *probs = xmalloc((size_t)S * (size_t)C * sizeof(float));
    st = seqvid_classifier_predict(cls, batch, probs, (size_t)S * (size_t)C);
    report(res, "predict", st, 0, 0, 0);
    write_f32("predict.f32", probs, st == SEQVID_OK ? (size_t)S * (size_t)C : 0);
    write_f32("grads_after.f32", grads, count);
    write_f32("params_after.f32", params, count);
    fclose(res);
    free(probs);
    seqvid_batch_free(batch);
    free(data);
    seqvid_classifier_free(cls);
    return 0;
}
