/*
 * video_composite.c -- SR15's natural-video setting on real footage: a composite model
 * (10 frames in, 10 reconstructed, 10 predicted; squared loss, real outputs) trained on
 * 32x32 patch sequences of video files through libseqvid_video, scored on a held-out file.
 *
 *   video_composite --data ~/.cache/seqvid/video --holdout vtest.avi --minutes 10
 *   video_composite --data DIR --frame 64          whole frames downscaled to 64x64 gray
 *
 * Training batches come from a seqvid_video_dataset over every file of --data except the
 * held-out one (random patch positions, random clips, next batch prepared on the data set's
 * worker thread while the model trains). At the end it prints the training loop's time and
 * the share of it spent waiting for data, then the mean squared error per pixel of the
 * reconstruction and of the prediction (the future predictor fed its own outputs) on fixed
 * clips of the held-out file, next to baselines on the same clips: the last input frame,
 * the mean training frame, and the mean of the clip's own input frames. Pictures (input /
 * reconstruction / truth / prediction) go to --out. Gray frames (SR15 used RGB patches).
 */
#define _XOPEN_SOURCE 700

#include "support/cli.h"
#include "support/pictures.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <seqvid_video.h>

enum { K = 10, M = 10, T = K + M, N_PICTURES = 4 };

static void vcheck(int status, const char *what) {
    if (status) ex_die("%s: %s (%s)", what, seqvid_video_last_error(), seqvid_status_string(status));
}

static double dget(const seqvid_video_dataset *ds, int key) {
    double v = 0;
    vcheck(seqvid_video_dataset_get(ds, key, &v), "seqvid_video_dataset_get");
    return v;
}

/* A data set of `source` with the experiment's frame format. */
static seqvid_video_dataset *dataset(const char *source, int patch, int frame, uint64_t seed,
                                     const char *cache, int prefetch) {
    seqvid_video_dataset *ds;
    vcheck(seqvid_video_dataset_create(source, &ds), source);
    vcheck(seqvid_video_dataset_set(ds, SEQVID_VIDEO_VAL_FRACTION, 0), "val fraction");
    vcheck(seqvid_video_dataset_set(ds, SEQVID_VIDEO_SEED, (double)seed), "seed");
    vcheck(seqvid_video_dataset_set(ds, SEQVID_VIDEO_PREFETCH, prefetch), "prefetch");
    if (frame) {
        vcheck(seqvid_video_dataset_set(ds, SEQVID_VIDEO_OUT_WIDTH, frame), "width");
        vcheck(seqvid_video_dataset_set(ds, SEQVID_VIDEO_OUT_HEIGHT, frame), "height");
    } else {
        vcheck(seqvid_video_dataset_set(ds, SEQVID_VIDEO_PATCH, patch), "patch");
        vcheck(seqvid_video_dataset_set(ds, SEQVID_VIDEO_PATCH_MODE, SEQVID_VIDEO_PATCH_RANDOM),
               "patch mode");
        /* half size: 32x32 patches then see objects, not single pixels of texture */
        vcheck(seqvid_video_dataset_set(ds, SEQVID_VIDEO_OUT_HEIGHT, 240), "height");
    }
    if (cache) vcheck(seqvid_video_dataset_cache(ds, cache), "cache");
    return ds;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: video_composite --data DIR [options]\n"
            "  --data DIR        folder of videos (examples/setup-video.sh fills one)\n"
            "  --holdout NAME    file of DIR held out for evaluation (default vtest.avi)\n"
            "  --out DIR         pictures and the list of training files (default out-video)\n"
            "  --minutes X       training time budget (default 10)\n"
            "  --steps N         stop after N steps (default: the time budget decides)\n"
            "  --hidden H        LSTM units (default 512)   --batch B (default 16)\n"
            "  --patch P         patch side (default 32)    --frame F: whole frames FxF instead\n"
            "  --cache DIR       decoded-frame cache (default: none)\n"
            "  --no-prefetch     prepare batches on the training thread\n"
            "  --eval N          held-out clips scored (default 512)\n"
            "  --threads N       BLAS threads (default: all cores)\n");
}

/* Mean squared error per pixel accumulated over frames. */
typedef struct acc {
    double sum;
    size_t n;
} acc;
static void add(acc *a, const float *y, const float *x, size_t D) {
    double s = 0;
    for (size_t d = 0; d < D; d++) s += ((double)y[d] - x[d]) * ((double)y[d] - x[d]);
    a->sum += s;
    a->n += D;
}
static double mse(const acc *a) { return a->n ? a->sum / (double)a->n : NAN; }

int main(int argc, char **argv) {
    const char *data = NULL, *holdout = "vtest.avi", *out = "out-video", *cache = NULL;
    double minutes = 10;
    long steps = 0, n_eval = 512;
    int hidden = 512, batch_n = 16, patch = 32, frame = 0, prefetch = 1, threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--no-prefetch")) {
            prefetch = 0;
            continue;
        }
        if (!v) {
            usage(stderr);
            ex_die("%s: unknown option or missing value", a);
        }
        i++;
        if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--holdout")) holdout = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--cache")) cache = v;
        else if (!strcmp(a, "--minutes")) minutes = ex_parse_double(a, v, 0, 1e6);
        else if (!strcmp(a, "--steps")) steps = ex_parse_long(a, v, 1, 1L << 40);
        else if (!strcmp(a, "--hidden")) hidden = (int)ex_parse_long(a, v, 1, 1 << 16);
        else if (!strcmp(a, "--batch")) batch_n = (int)ex_parse_long(a, v, 1, 1 << 16);
        else if (!strcmp(a, "--patch")) patch = (int)ex_parse_long(a, v, 1, 4096);
        else if (!strcmp(a, "--frame")) frame = (int)ex_parse_long(a, v, 1, 4096);
        else if (!strcmp(a, "--eval")) n_eval = ex_parse_long(a, v, 1, 1 << 20);
        else if (!strcmp(a, "--threads")) threads = (int)ex_parse_long(a, v, 0, 1024);
        else {
            usage(stderr);
            ex_die("unknown option %s", a);
        }
    }
    if (!data) {
        usage(stderr);
        ex_die("--data is required");
    }
    ex_check(seqvid_set_threads(threads), "seqvid_set_threads");
    mkdir(out, 0777);

    /* Training files: every file of --data but the held-out one (a list file). */
    seqvid_video_dataset *all = dataset(data, patch, frame, 1, NULL, 0);
    const char *list = ex_path(out, "train-files.txt");
    FILE *lf = fopen(list, "w");
    if (!lf) ex_die("%s: cannot write", list);
    char held[4096] = "";
    size_t n_files = (size_t)dget(all, SEQVID_VIDEO_FILES), n_train = 0;
    for (size_t i = 0; i < n_files; i++) {
        const char *p, *base;
        vcheck(seqvid_video_dataset_file(all, i, &p, NULL), "file");
        base = strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
        if (!strcmp(base, holdout)) snprintf(held, sizeof held, "%s", p);
        else if (strstr(base, ".avi") || strstr(base, ".mp4") || strstr(base, ".mkv"))
            fprintf(lf, "%s\n", p), n_train++;
    }
    fclose(lf);
    seqvid_video_dataset_free(all);
    if (!held[0]) ex_die("%s: no file named %s", data, holdout);
    printf("training files: %zu (list in %s), held out: %s\n", n_train, list, held);

    seqvid_video_dataset *train = dataset(list, patch, frame, 1, cache, prefetch);
    seqvid_video_dataset *val = dataset(held, patch, frame, 2015, cache, 0);
    size_t D = frame ? (size_t)frame * frame : (size_t)patch * patch;
    size_t side = frame ? (size_t)frame : (size_t)patch, S = (size_t)batch_n;

    seqvid_config *cfg;
    ex_check(seqvid_config_create(&cfg), "config");
    const double settings[][2] = {
        {SEQVID_CFG_KIND, SEQVID_COMPOSITE}, {SEQVID_CFG_INPUT_DIM, (double)D},
        {SEQVID_CFG_HIDDEN, hidden},         {SEQVID_CFG_INPUT_FRAMES, K},
        {SEQVID_CFG_FUTURE_FRAMES, M},       {SEQVID_CFG_OUTPUT, SEQVID_OUTPUT_REAL},
        {SEQVID_CFG_COND_RECON, 1},          {SEQVID_CFG_COND_FUTURE, 0}};
    for (size_t i = 0; i < sizeof settings / sizeof *settings; i++)
        ex_check(seqvid_config_set(cfg, (int)settings[i][0], settings[i][1]), "config_set");
    seqvid_model *model;
    ex_check(seqvid_model_create(cfg, &model), "model");
    seqvid_config_free(cfg);
    seqvid_optimizer *opt;
    ex_check(seqvid_optimizer_create(SEQVID_OPT_ADAM, &opt), "optimizer");
    ex_check(seqvid_optimizer_set(opt, SEQVID_OPT_GRAD_CLIP, 10), "grad clip");

    /* ---- training ---------------------------------------------------------------------- */
    seqvid_batch *b;
    ex_check(seqvid_batch_create(T, S, D, &b), "batch");
    /* The first batch decodes every training file (or reads the cache): not part of the
     * steady-state loop, timed separately. */
    double t_first = ex_now();
    vcheck(seqvid_video_dataset_next(train, SEQVID_VIDEO_TRAIN, b), "first batch");
    t_first = ex_now() - t_first;
    double wait0 = dget(train, SEQVID_VIDEO_WAIT_SECONDS);
    printf("decoding the training files (or reading the cache): %.1f s, %g cache hits\n",
           t_first, dget(train, SEQVID_VIDEO_CACHE_HITS));
    double t0 = ex_now(), train_time = 0, rec_avg = 0, fut_avg = 0;
    long step = 0;
    for (;;) {
        float rec, fut;
        double ts = ex_now();
        ex_check(seqvid_model_train_step(model, opt, b, &rec, &fut), "train step");
        train_time += ex_now() - ts;
        step++;
        rec_avg += rec;
        fut_avg += fut;
        if (step % 100 == 0) {
            printf("step %6ld  rec %.3f  fut %.3f  (squared loss per frame)  %.1f s  data %.2f%%\n",
                   step, rec_avg / 100, fut_avg / 100, ex_now() - t0,
                   100 * (dget(train, SEQVID_VIDEO_WAIT_SECONDS) - wait0) / (ex_now() - t0));
            fflush(stdout);
            rec_avg = fut_avg = 0;
        }
        if ((steps && step >= steps) || (!steps && ex_now() - t0 > 60 * minutes)) break;
        vcheck(seqvid_video_dataset_next(train, SEQVID_VIDEO_TRAIN, b), "next batch");
    }
    double loop = ex_now() - t0, wait = dget(train, SEQVID_VIDEO_WAIT_SECONDS) - wait0;
    printf("\ntraining loop: %ld steps in %.1f s (%.1f ms/step); waiting for data %.2f s = "
           "%.2f%% of the loop (prefetch %s); model steps %.1f s\n",
           step, loop, 1e3 * loop / step, wait, 100 * wait / loop, prefetch ? "on" : "off",
           train_time);

    /* The mean training frame: per-pixel mean over 64 training batches. */
    double *mean_d = calloc(D, sizeof *mean_d);
    float *mean = ex_malloc(D * sizeof *mean), *data_p;
    size_t n_mean = 0;
    for (int k = 0; k < 64; k++) {
        vcheck(seqvid_video_dataset_next(train, SEQVID_VIDEO_TRAIN, b), "mean batch");
        ex_check(seqvid_batch_data(b, &data_p), "data");
        for (size_t f = 0; f < T * S; f++, n_mean++)
            for (size_t d = 0; d < D; d++) mean_d[d] += data_p[f * D + d];
    }
    for (size_t d = 0; d < D; d++) mean[d] = (float)(mean_d[d] / (double)n_mean);
    free(mean_d);

    /* ---- evaluation on the held-out file --------------------------------------------------- */
    seqvid_batch *in;
    ex_check(seqvid_batch_create(K, S, D, &in), "input batch");
    float *in_p, *rec_out = ex_malloc(K * S * D * sizeof(float)),
                 *pred_out = ex_malloc(M * S * D * sizeof(float)),
                 *clip_mean = ex_malloc(D * sizeof(float));
    acc m_rec = {0}, m_fut = {0}, last_rec = {0}, last_fut = {0}, mean_rec = {0},
        mean_fut = {0}, cm_rec = {0}, cm_fut = {0};
    long scored = 0;
    int pictures = 0;
    vcheck(seqvid_video_dataset_rewind(val, SEQVID_VIDEO_TRAIN), "rewind");
    while (scored < n_eval) {
        vcheck(seqvid_video_dataset_next(val, SEQVID_VIDEO_TRAIN, b), "held-out batch");
        ex_check(seqvid_batch_data(b, &data_p), "data");
        ex_check(seqvid_batch_data(in, &in_p), "data");
        memcpy(in_p, data_p, K * S * D * sizeof *in_p);
        ex_check(seqvid_model_reconstruct(model, in, rec_out, K * S * D), "reconstruct");
        ex_check(seqvid_model_predict(model, in, M, pred_out, M * S * D), "predict");
        for (size_t s = 0; s < S && scored < n_eval; s++) {
            size_t len;
            ex_check(seqvid_batch_get_length(b, s, &len), "length");
            if (len < T) continue;
            const float *x = data_p + s * D; /* frame t of this sequence: x + t * S * D */
            for (size_t d = 0; d < D; d++) {
                double c = 0;
                for (size_t t = 0; t < K; t++) c += x[t * S * D + d];
                clip_mean[d] = (float)(c / K);
            }
            const float *last = x + (K - 1) * S * D;
            for (size_t t = 0; t < K; t++) {
                const float *xt = x + t * S * D;
                add(&m_rec, rec_out + (t * S + s) * D, xt, D);
                add(&last_rec, last, xt, D);
                add(&mean_rec, mean, xt, D);
                add(&cm_rec, clip_mean, xt, D);
            }
            for (size_t j = 0; j < M; j++) {
                const float *xt = x + (K + j) * S * D;
                add(&m_fut, pred_out + (j * S + s) * D, xt, D);
                add(&last_fut, last, xt, D);
                add(&mean_fut, mean, xt, D);
                add(&cm_fut, clip_mean, xt, D);
            }
            if (pictures < N_PICTURES) {
                /* clamped copies: real outputs may leave [0, 1] */
                float *rows = ex_malloc(4 * K * D * sizeof *rows);
                for (size_t t = 0; t < K; t++)
                    for (size_t d = 0; d < D; d++) {
                        float v4[4] = {x[t * S * D + d], rec_out[(t * S + s) * D + d],
                                       x[(K + t) * S * D + d], pred_out[(t * S + s) * D + d]};
                        for (int r = 0; r < 4; r++)
                            rows[(r * K + t) * D + d] = fminf(1, fmaxf(0, v4[r]));
                    }
                const char *labels[4] = {"input", "reconstruction", "truth", "prediction"};
                ex_frames fr[4];
                for (int r = 0; r < 4; r++) fr[r] = (ex_frames){rows + r * K * D, K, D};
                char name[64];
                snprintf(name, sizeof name, "heldout%d.png", pictures);
                ex_warn_status(ex_write_strip(ex_path(out, name), labels, fr, 4,
                                              (ex_shape){side, side, 1}, frame ? 2 : 4, K), name);
                /* a GIF: input then truth / input then prediction */
                float *seq_t = ex_malloc(T * D * sizeof *seq_t), *seq_p = ex_malloc(T * D * sizeof *seq_p);
                memcpy(seq_t, rows, K * D * sizeof *rows);
                memcpy(seq_t + K * D, rows + 2 * K * D, K * D * sizeof *rows);
                memcpy(seq_p, rows, K * D * sizeof *rows);
                memcpy(seq_p + K * D, rows + 3 * K * D, K * D * sizeof *rows);
                ex_panel panels[2] = {{"truth", {seq_t, T, D}, K, EX_BAR_GREEN},
                                      {"prediction", {seq_p, T, D}, K, EX_BAR_RED}};
                snprintf(name, sizeof name, "heldout%d.gif", pictures);
                ex_warn_status(ex_write_gif(ex_path(out, name), panels, 2, (ex_shape){side, side, 1},
                                            frame ? 2 : 4, 20),
                               name);
                free(seq_t);
                free(seq_p);
                free(rows);
                pictures++;
            }
            scored++;
        }
    }
    printf("\nheld-out %s: %ld clips of %d frames (%d in, %d future), mean squared error per "
           "pixel (x %zu = per frame)\n", holdout, scored, T, K, M, D);
    printf("  %-36s %12s %12s\n", "", "reconstruct", "predict");
    printf("  %-36s %12.5f %12.5f\n", "model", mse(&m_rec), mse(&m_fut));
    printf("  %-36s %12.5f %12.5f\n", "baseline: last input frame", mse(&last_rec), mse(&last_fut));
    printf("  %-36s %12.5f %12.5f\n", "baseline: mean training frame", mse(&mean_rec),
           mse(&mean_fut));
    printf("  %-36s %12.5f %12.5f\n", "baseline: mean of the clip's inputs", mse(&cm_rec),
           mse(&cm_fut));
    double best_fut = fmin(mse(&last_fut), fmin(mse(&mean_fut), mse(&cm_fut)));
    printf("prediction: model %.5f vs best baseline %.5f (%+.1f%%)\n", mse(&m_fut), best_fut,
           100 * (mse(&m_fut) - best_fut) / best_fut);
    const char *mpath = ex_path(out, "model.safetensors");
    ex_warn_status(seqvid_model_save(model, mpath), mpath);

    free(rec_out);
    free(pred_out);
    free(clip_mean);
    free(mean);
    seqvid_batch_free(in);
    seqvid_batch_free(b);
    seqvid_optimizer_free(opt);
    seqvid_model_free(model);
    seqvid_video_dataset_free(train);
    seqvid_video_dataset_free(val);
    return 0;
}
