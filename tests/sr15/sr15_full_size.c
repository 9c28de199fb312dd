/* sr15_full_size.c -- the "done when" of the core: a program that includes only seqvid.h and
 * links -lseqvid builds SR15's Moving MNIST composite configuration (1 layer x 2048 units,
 * 4096-d binary frames, 10 + 10 + 10 frames, conditional decoders), trains it with SR15's
 * SGD, predicts 100 future frames and encodes. Full size on purpose (about 2.5 GB, seconds
 * on 2 cores); the small models of the other tests check the numbers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <seqvid.h>

#define CHECK(call)                                                                        \
    do {                                                                                   \
        int st_ = (call);                                                                  \
        if (st_) {                                                                         \
            fprintf(stderr, "%s: %s (%s)\n", #call, seqvid_status_string(st_),             \
                    seqvid_last_error());                                                  \
            return 1;                                                                      \
        }                                                                                  \
    } while (0)

int main(void) {
    enum { S = 16, D = 4096, T = 20, K = 10, FUT = 100 };
    seqvid_config *cfg;
    seqvid_model *m;
    seqvid_optimizer *opt;
    seqvid_batch *b, *in;
    float *x, rec = 0, fut = 0;
    CHECK(seqvid_config_create(&cfg)); /* the defaults are SR15's configuration */
    CHECK(seqvid_model_create(cfg, &m));
    CHECK(seqvid_optimizer_create(SEQVID_OPT_SGD, &opt));
    CHECK(seqvid_batch_create(T, S, D, &b));
    CHECK(seqvid_batch_data(b, &x));
    /* A 4x4 square per sequence, moving one pixel a frame: sparse binary frames. */
    for (int t = 0; t < T; t++)
        for (int s = 0; s < S; s++)
            for (int i = 0; i < 16; i++) {
                int r = 10 + s + i / 4, c = (5 + t + 2 * s + i % 4) % 64;
                x[((size_t)t * S + s) * D + r * 64 + c] = 1.0f;
            }
    size_t n;
    double h;
    CHECK(seqvid_model_param_count(m, &n));
    CHECK(seqvid_model_get(m, SEQVID_CFG_HIDDEN, &h));
    for (int step = 0; step < 2; step++) CHECK(seqvid_model_train_step(m, opt, b, &rec, &fut));
    printf("SR15 composite: H=%.0f, %zu parameters; 2 SGD steps: rec %.1f, fut %.1f "
           "nats/frame\n", h, n, rec, fut);

    CHECK(seqvid_batch_wrap(x, K, S, D, &in)); /* the first K frames */
    float *pred = malloc((size_t)FUT * S * D * sizeof *pred);
    size_t F;
    CHECK(seqvid_model_feature_dim(m, &F));
    float *feat = malloc(S * F * sizeof *feat);
    if (!pred || !feat) return 1;
    CHECK(seqvid_model_predict(m, in, FUT, pred, (size_t)FUT * S * D));
    CHECK(seqvid_model_encode(m, in, feat, S * F));
    for (size_t i = 0; i < (size_t)FUT * S * D; i++)
        if (!(pred[i] >= 0.0f && pred[i] <= 1.0f)) {
            fprintf(stderr, "prediction %zu = %g is not a probability\n", i, pred[i]);
            return 1;
        }
    for (size_t i = 0; i < S * F; i++)
        if (!isfinite(feat[i])) return 1;
    printf("predicted %d frames of %d sequences; encoded %zu features each\n", FUT, S, F);
    free(pred), free(feat);
    seqvid_batch_free(in), seqvid_batch_free(b);
    seqvid_optimizer_free(opt), seqvid_model_free(m), seqvid_config_free(cfg);
    return 0;
}
