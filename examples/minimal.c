/* examples/minimal.c -- train a tiny libseqvid model on random frames.
 * README.md and docs/getting-started.md show this file verbatim (tests/doc_blocks.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <seqvid.h>

/* On failure: report the library's message and jump to the cleanup. */
#define TRY(call)                                                                  \
    do {                                                                           \
        int st_ = (call);                                                          \
        if (st_ != SEQVID_OK) {                                                    \
            fprintf(stderr, "%s: %s (%s)\n", #call, seqvid_status_string(st_),     \
                    seqvid_last_error());                                          \
            goto done;                                                             \
        }                                                                          \
    } while (0)

int main(void) {
    enum { D = 16, K = 3, M = 2, T = K + M, S = 4 }; /* frame size, frames in/out, seqs */
    int rc = 1;
    seqvid_config *cfg = NULL;
    seqvid_model *model = NULL;
    seqvid_optimizer *opt = NULL;
    seqvid_batch *batch = NULL;
    float *x = NULL, rec = 0, fut = 0;

    printf("libseqvid %s\n", seqvid_version_string());

    /* A configuration starts with the paper's defaults; shrink it. */
    TRY(seqvid_config_create(&cfg));
    TRY(seqvid_config_set(cfg, SEQVID_CFG_KIND, SEQVID_COMPOSITE));
    TRY(seqvid_config_set(cfg, SEQVID_CFG_INPUT_DIM, D));
    TRY(seqvid_config_set(cfg, SEQVID_CFG_HIDDEN, 8));
    TRY(seqvid_config_set(cfg, SEQVID_CFG_INPUT_FRAMES, K));
    TRY(seqvid_config_set(cfg, SEQVID_CFG_FUTURE_FRAMES, M));
    TRY(seqvid_model_create(cfg, &model)); /* copies cfg */

    /* One batch of T = K + M frames per sequence, pixels in [0, 1]. */
    TRY(seqvid_batch_create(T, S, D, &batch));
    TRY(seqvid_batch_data(batch, &x));
    for (int i = 0; i < T * S * D; i++) x[i] = (float)rand() / (float)RAND_MAX;

    TRY(seqvid_optimizer_create(SEQVID_OPT_ADAM, &opt));
    for (int step = 1; step <= 10; step++) {
        TRY(seqvid_model_train_step(model, opt, batch, &rec, &fut));
        printf("step %2d: reconstruction %.3f, future %.3f nats/frame\n", step, rec, fut);
    }
    rc = 0;
done:
    seqvid_batch_free(batch);
    seqvid_optimizer_free(opt);
    seqvid_model_free(model);
    seqvid_config_free(cfg);
    return rc;
}
