/* serialize_driver.c -- helper program of the serialization tests (public API only).
 *
 *   serialize_driver save-loop PATH FIRST
 *       Saves versions v = FIRST, FIRST+1, ... of one model to PATH forever, with
 *       params[i] = v + (i % 1024) / 1024. Writes one byte to stdout once version FIRST is
 *       complete. test_serialize kills it with SIGKILL at random moments.
 *
 *   serialize_driver numpy DIR
 *       Saves two small composite models to DIR/{a,b}.safetensors and prints, for a 1-frame
 *       batch, the inputs and the library's reconstruction and 1-step prediction, one line
 *       each ("name v0 v1 ..."), for tests/test_safetensors_numpy.py to recompute from the
 *       raw weights with NumPy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "seqvid.h"

static void check(int st, const char *what) {
    if (st) {
        fprintf(stderr, "serialize_driver: %s: %s\n", what, seqvid_last_error());
        exit(2);
    }
}

static seqvid_model *model(int D, int H, int L, int peep, int cond, int output, double iw,
                           double ip, double fb) {
    seqvid_config *c;
    seqvid_model *m;
    check(seqvid_config_create(&c), "config");
    check(seqvid_config_set(c, SEQVID_CFG_INPUT_DIM, D), "D");
    check(seqvid_config_set(c, SEQVID_CFG_HIDDEN, H), "H");
    check(seqvid_config_set(c, SEQVID_CFG_LAYERS, L), "L");
    check(seqvid_config_set(c, SEQVID_CFG_PEEPHOLES, peep), "peep");
    check(seqvid_config_set(c, SEQVID_CFG_COND_RECON, cond), "cond");
    check(seqvid_config_set(c, SEQVID_CFG_COND_FUTURE, cond), "cond");
    check(seqvid_config_set(c, SEQVID_CFG_OUTPUT, output), "output");
    check(seqvid_config_set(c, SEQVID_CFG_INIT_WEIGHT, iw), "init");
    check(seqvid_config_set(c, SEQVID_CFG_INIT_PEEPHOLE, ip), "init");
    check(seqvid_config_set(c, SEQVID_CFG_FORGET_BIAS, fb), "bias");
    check(seqvid_model_create(c, &m), "create");
    seqvid_config_free(c);
    return m;
}

static int save_loop(const char *path, long first) {
    seqvid_model *m = model(64, 32, 1, 1, 1, 0, 0.01, 0.1, 0);
    size_t n;
    float *p;
    check(seqvid_model_param_count(m, &n), "count");
    check(seqvid_model_params(m, &p), "params");
    for (long v = first;; v++) {
        for (size_t i = 0; i < n; i++) p[i] = (float)v + (float)(i % 1024) / 1024.0f;
        check(seqvid_model_save(m, path), "save");
        if (v == first) {
            if (write(1, "r", 1) != 1) return 2;
        }
    }
}

static void print_row(const char *name, const float *x, size_t n) {
    printf("%s", name);
    for (size_t i = 0; i < n; i++) printf(" %.9g", (double)x[i]);
    printf("\n");
}

/* One model: save, then run a 1-frame batch of S sequences through it. */
static void numpy_case(const char *dir, const char *name, seqvid_model *m, size_t D) {
    enum { S = 2 };
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, name);
    check(seqvid_model_save(m, path), "save");
    seqvid_batch *b;
    float *x, rec[S * 16], fut[S * 16];
    check(seqvid_batch_create(1, S, D, &b), "batch");
    check(seqvid_batch_data(b, &x), "data");
    for (size_t i = 0; i < S * D; i++) x[i] = (float)((i * 7 + 3) % 11) / 10.0f;
    check(seqvid_model_reconstruct(m, b, rec, S * D), "reconstruct");
    check(seqvid_model_predict(m, b, 1, fut, S * D), "predict");
    printf("model %s %zu %d\n", path, D, S);
    print_row("input", x, S * D);
    print_row("recon", rec, S * D);
    print_row("future", fut, S * D);
    seqvid_batch_free(b);
}

static int numpy_cases(const char *dir) {
    /* Large initial weights so that every term of the cell matters in the outputs. */
    seqvid_model *a = model(5, 3, 2, 1, 1, SEQVID_OUTPUT_BINARY, 0.7, 0.6, 1.0);
    seqvid_model *b = model(4, 3, 1, 0, 0, SEQVID_OUTPUT_REAL, 0.7, 0.6, -0.5);
    numpy_case(dir, "a", a, 5);
    numpy_case(dir, "b", b, 4);
    seqvid_model_free(a);
    seqvid_model_free(b);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "save-loop")) return save_loop(argv[2], atol(argv[3]));
    if (argc == 3 && !strcmp(argv[1], "numpy")) return numpy_cases(argv[2]);
    fprintf(stderr, "usage: serialize_driver save-loop PATH FIRST | numpy DIR\n");
    return 2;
}
