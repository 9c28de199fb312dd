/* old_client.c -- a program built against the header *as released* (abi/seqvid-1.0.h), run
 * against the current libseqvid.so. .ci/abi-check.sh compiles it with -I abi and links it to
 * the freshly built shared library: if it still runs correctly, binaries built against 1.0
 * keep working after an upgrade (enum values, argument order and meaning, error reporting).
 *
 * Only calls that exist in 1.0 may appear here; the file never changes after a release, a
 * new major version gets a new old_client against its own frozen header. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seqvid-1.0.h"

static int failures = 0;

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "old_client: %s:%d: check failed: %s (last error: %s)\n",        \
                    __FILE__, __LINE__, #cond, seqvid_last_error());                         \
            failures++;                                                                      \
        }                                                                                    \
    } while (0)

#define OK(call) CHECK((call) == SEQVID_OK)

enum { D = 12, H = 6, K = 3, M = 2, T = K + M, S = 2 };

int main(void) {
    /* Version: the linked library is 1.x with x >= the header's minor. */
    const char *v = seqvid_version_string();
    int n = seqvid_version_number();
    CHECK(v != NULL && v[0] == '1' && v[1] == '.');
    CHECK(n / 10000 == SEQVID_VERSION_MAJOR);
    CHECK(n >= SEQVID_VERSION_NUMBER);

    /* Statuses and per-thread errors keep their numbers and behaviour. */
    CHECK(strcmp(seqvid_status_string(SEQVID_OK), "") != 0);
    CHECK(seqvid_status_string(-1) != NULL);
    CHECK(seqvid_config_create(NULL) == SEQVID_ERR_NULL);
    CHECK(seqvid_last_error()[0] != '\0');

    /* Config: defaults and keys keep their numbers. */
    seqvid_config *cfg = NULL;
    OK(seqvid_config_create(&cfg));
    double x = 0;
    OK(seqvid_config_get(cfg, SEQVID_CFG_KIND, &x));
    CHECK(x == SEQVID_COMPOSITE);
    OK(seqvid_config_get(cfg, SEQVID_CFG_INPUT_DIM, &x));
    CHECK(x == 4096);
    CHECK(seqvid_config_set(cfg, 9999, 1.0) == SEQVID_ERR_ARG);
    OK(seqvid_config_set(cfg, SEQVID_CFG_INPUT_DIM, D));
    OK(seqvid_config_set(cfg, SEQVID_CFG_HIDDEN, H));
    OK(seqvid_config_set(cfg, SEQVID_CFG_INPUT_FRAMES, K));
    OK(seqvid_config_set(cfg, SEQVID_CFG_FUTURE_FRAMES, M));
    OK(seqvid_config_set(cfg, SEQVID_CFG_OUTPUT, SEQVID_OUTPUT_BINARY));
    OK(seqvid_config_set(cfg, SEQVID_CFG_SEED, 7));

    /* A model, a batch of values in [0, 1], one optimizer: train a few steps. */
    seqvid_model *model = NULL;
    OK(seqvid_model_create(cfg, &model));
    seqvid_config_free(cfg);
    seqvid_batch *batch = NULL;
    OK(seqvid_batch_create(T, S, D, &batch));
    float *data = NULL;
    OK(seqvid_batch_data(batch, &data));
    if (data)
        for (size_t i = 0; i < (size_t)T * S * D; i++) data[i] = (float)((i * 7919u) % 97) / 96.0f;
    seqvid_optimizer *opt = NULL;
    OK(seqvid_optimizer_create(SEQVID_OPT_ADAM, &opt));
    OK(seqvid_optimizer_set(opt, SEQVID_OPT_LR, 1e-2));

    float rec0 = 0, fut0 = 0, rec = 0, fut = 0;
    OK(seqvid_model_evaluate(model, batch, SEQVID_EVAL_TEACHER_FORCED, &rec0, &fut0));
    for (int step = 0; step < 5; step++) OK(seqvid_model_train_step(model, opt, batch, &rec, &fut));
    OK(seqvid_model_evaluate(model, batch, SEQVID_EVAL_TEACHER_FORCED, &rec, &fut));
    CHECK(isfinite(rec) && isfinite(fut));
    CHECK(rec + fut < rec0 + fut0); /* five Adam steps on one batch lower its loss */
    uint64_t steps = 0;
    OK(seqvid_optimizer_steps(opt, &steps));
    CHECK(steps == 5);

    /* Inference. */
    size_t F = 0;
    OK(seqvid_model_feature_dim(model, &F));
    CHECK(F == 2u * H);
    float feat[S * 2 * H], pred[3 * S * D];
    OK(seqvid_model_encode(model, batch, feat, sizeof feat / sizeof feat[0]));
    OK(seqvid_model_predict(model, batch, 3, pred, sizeof pred / sizeof pred[0]));
    for (size_t i = 0; i < sizeof pred / sizeof pred[0]; i++) CHECK(pred[i] >= 0 && pred[i] <= 1);
    CHECK(seqvid_model_predict(model, batch, 3, pred, 1) != SEQVID_OK); /* buffer too small */

    seqvid_optimizer_free(opt);
    seqvid_batch_free(batch);
    seqvid_model_free(model);
    seqvid_model_free(NULL);

    if (failures) {
        fprintf(stderr, "old_client: %d check(s) failed against library %s\n", failures, v);
        return 1;
    }
    printf("old_client: built against seqvid %s, ran against %s: OK\n", SEQVID_VERSION_STRING, v);
    return 0;
}
