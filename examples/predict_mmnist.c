/*
 * predict_mmnist.c -- load a trained model and show what it reconstructs and predicts.
 *
 *   predict_mmnist                                   out/model.safetensors, 2-digit sequences
 *   predict_mmnist --digits 3 --out out/three        out of domain: three digits
 *   predict_mmnist --npy mnist_test_seq.npy --count 1000
 *
 * The sequences are either generated from the test digits (by default with the same seed
 * as train_mmnist's validation set, so --count 256 reproduces its numbers) or read from a
 * .npy file such as the standard mnist_test_seq.npy (uint8, time-major (20, N, 64, 64)).
 * The model reads the first K frames of each; its predictions are compared with the frames
 * that follow, next to the two baselines, and written as pictures and .npy files.
 */
#define _POSIX_C_SOURCE 200809L

#include "common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ROLLOUT 100

typedef struct options {
    ex_common common;
    const char *model, *npy;
    int layout;
    long count, future, rollout, pictures, batch;
} options;

enum { OPT_MODEL = EX_OPT_FIRST_FREE_, OPT_NPY, OPT_LAYOUT, OPT_COUNT, OPT_FUTURE, OPT_ROLLOUT,
       OPT_PICTURES, OPT_BATCH };

static const struct option long_options[] = {
    {"model", required_argument, NULL, OPT_MODEL},
    {"npy", required_argument, NULL, OPT_NPY},
    {"layout", required_argument, NULL, OPT_LAYOUT},
    {"count", required_argument, NULL, OPT_COUNT},
    {"future", required_argument, NULL, OPT_FUTURE},
    {"rollout", required_argument, NULL, OPT_ROLLOUT},
    {"pictures", required_argument, NULL, OPT_PICTURES},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"help", no_argument, NULL, 'h'},
    EX_COMMON_LONG_OPTIONS,
    {NULL, 0, NULL, 0}};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [options]\n"
            "Reconstruct and predict Moving MNIST sequences with a trained libseqvid model.\n\n"
            "  --model FILE       model.safetensors or checkpoint (default out/model.safetensors)\n"
            "  --npy FILE         sequences from a .npy file (uint8 or float32, frames 64x64)\n"
            "  --layout L         time (T, N, H, W), as mnist_test_seq.npy, or seq (N, T, H, W);\n"
            "                     default time\n"
            "  --count N          use the first N sequences (default 256)\n"
            "  --future N         frames to predict into predictions.npy (default: the model's M)\n"
            "  --rollout N        frames of the long roll-out pictures (default %d)\n"
            "  --pictures N       sequences to draw (default 4)\n"
            "  --batch N          sequences evaluated at a time (default 16)\n"
            "Without --npy, sequences are generated from the test digits (--digits 1 or 3 are\n"
            "out of domain for a model trained on 2); --seed defaults to train_mmnist's\n"
            "validation seed. The mean-frame baseline needs the training digits in --data.\n"
            "common:\n"
            "%s"
            "  -h, --help         this help\n\n"
            "Writes into --out (default out/predict): predictions.npy (future, N, 64, 64),\n"
            "reconstructions.npy (K, N, 64, 64), seq<i>.png/.gif, seq<i>_rollout.png/.gif.\n",
            ex_progname, ROLLOUT, ex_common_help);
}

static options parse_options(int argc, char **argv)
{
    options o = {.common = {NULL, "out/predict", EX_VAL_SEED, 0, 2},
                 .model = "out/model.safetensors", .layout = SEQVID_LAYOUT_TIME_MAJOR,
                 .count = 256, .rollout = ROLLOUT, .pictures = 4, .batch = 16};
    int c;
    while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        if (ex_common_option(&o.common, c, optarg)) continue;
        switch (c) {
        case OPT_MODEL: o.model = optarg; break;
        case OPT_NPY: o.npy = optarg; break;
        case OPT_LAYOUT:
            if (!strcmp(optarg, "time")) o.layout = SEQVID_LAYOUT_TIME_MAJOR;
            else if (!strcmp(optarg, "seq")) o.layout = SEQVID_LAYOUT_SEQ_MAJOR;
            else ex_die("--layout: '%s' is not time or seq", optarg);
            break;
        case OPT_COUNT: o.count = ex_parse_long("--count", optarg, 1, 1L << 30); break;
        case OPT_FUTURE: o.future = ex_parse_long("--future", optarg, 1, 100000); break;
        case OPT_ROLLOUT: o.rollout = ex_parse_long("--rollout", optarg, 0, 100000); break;
        case OPT_PICTURES: o.pictures = ex_parse_long("--pictures", optarg, 0, 1000); break;
        case OPT_BATCH: o.batch = ex_parse_long("--batch", optarg, 1, 1 << 16); break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    if (optind < argc) ex_die("unexpected argument '%s' (see --help)", argv[optind]);
    return o;
}

/* A model file, or the model inside a training checkpoint. */
static seqvid_model *load_model(const char *path)
{
    seqvid_model *model;
    seqvid_optimizer *opt;
    uint64_t step;
    char why[512];
    int st = seqvid_model_load(path, &model);
    if (st == SEQVID_OK) return model;
    snprintf(why, sizeof why, "%s", seqvid_last_error());
    if (st == SEQVID_ERR_FORMAT &&
        seqvid_checkpoint_load(path, &model, &opt, NULL, &step) == SEQVID_OK) {
        printf("%s: a checkpoint at step %llu\n", path, (unsigned long long)step);
        seqvid_optimizer_free(opt);
        return model;
    }
    ex_die("%s: %s: %s", path, seqvid_status_string(st), why);
}

/* The first n_seqs sequences of the chunks, as a time-major array (T, n_seqs, D), from the
 * model's reconstructions (n_future == 0) or its predictions of n_future frames. */
static float *run_model(seqvid_model *model, const ex_set *set, size_t n_in, size_t n_future)
{
    const size_t D = set->dim, S = set->n_seqs, T = n_future ? n_future : n_in;
    float *all = ex_malloc(T * S * D * sizeof *all);
    for (size_t c = 0, first = 0; c < set->n_chunks; c++) {
        size_t n;
        ex_check(seqvid_batch_shape(set->chunks[c], NULL, &n, NULL), "batch");
        seqvid_batch *in = ex_batch_slice(set->chunks[c], 0, n, n_in);
        float *out = ex_malloc(T * n * D * sizeof *out);
        if (n_future)
            ex_check(seqvid_model_predict(model, in, n_future, out, T * n * D), "prediction");
        else
            ex_check(seqvid_model_reconstruct(model, in, out, T * n * D), "reconstruction");
        for (size_t t = 0; t < T; t++)
            memcpy(all + (t * S + first) * D, out + t * n * D, n * D * sizeof *out);
        free(out);
        seqvid_batch_free(in);
        first += n;
    }
    return all;
}

static void save_npy(const char *path, const float *x, size_t T, size_t S, size_t D)
{
    size_t side = (size_t)lround(sqrt((double)D));
    size_t shape[4] = {T, S, side, side};
    if (side * side != D) shape[2] = D;
    ex_check(seqvid_npy_save(path, x, side * side == D ? 4 : 3, shape), path);
    printf("wrote %s (float32, time-major: %zu frames x %zu sequences)\n", path, T, S);
}

int main(int argc, char **argv)
{
    ex_progname = "predict_mmnist";
    options o = parse_options(argc, argv);
    const char *out = o.common.out_dir;
    ex_common_apply(&o.common);

    seqvid_model *model = load_model(o.model);
    ex_model_info m = ex_model_describe(model);
    const size_t K = m.input_frames, M = m.future_frames;
    printf("%s: %zu x %zu LSTM, K=%zu input frames, M=%zu future frames\n", o.model, m.layers,
           m.hidden, K, M);

    /* The sequences: from a file, or generated from the test digits. */
    seqvid_batch *all;
    size_t T, S, D;
    if (o.npy) {
        ex_check(seqvid_npy_load(o.npy, o.layout, &all), o.npy);
        ex_check(seqvid_batch_shape(all, &T, &S, &D), "batch");
        printf("%s: %zu sequences of %zu frames of %zu values\n", o.npy, S, T, D);
    } else {
        seqvid_digits *test = ex_load_digits(o.common.data_dir, 1, 1);
        seqvid_mmnist *gen = ex_generator(test, o.common.digits, o.common.seed);
        T = K + M, S = (size_t)o.count, D = EX_CANVAS * EX_CANVAS;
        ex_check(seqvid_batch_create(T, S, D, &all), "batch");
        ex_check(seqvid_mmnist_fill(gen, all, NULL, 0), "Moving MNIST");
        seqvid_mmnist_free(gen);
        seqvid_digits_free(test);
        printf("generated %zu sequences of %zu frames with %d digit%s each from the test "
               "digits (seed %llu)\n", S, T, o.common.digits, o.common.digits > 1 ? "s" : "",
               (unsigned long long)o.common.seed);
    }
    if (D != m.dim) ex_die("the frames have %zu values; the model reads %zu", D, m.dim);
    if (T < K) ex_die("the sequences have %zu frames; the model reads %zu", T, K);
    const size_t n = (size_t)o.count < S ? (size_t)o.count : S;
    const size_t n_steps = T < K + M ? T : K + M;
    const size_t n_pics = (size_t)o.pictures < n ? (size_t)o.pictures : n;
    seqvid_batch *pics = n_pics ? ex_batch_slice(all, 0, n_pics, n_steps) : NULL;
    ex_set set;
    ex_set_from_batch(&set, all, n, n_steps, (size_t)o.batch);
    seqvid_batch_free(all); /* a whole mnist_test_seq.npy is 3 GB as floats */

    /* Losses next to the baselines. The mean frame needs the training digits. */
    ex_losses loss = ex_set_evaluate(model, &set);
    seqvid_digits *train = ex_load_digits(o.common.data_dir, 0, 0);
    float *mean_frame = train && D == EX_CANVAS * EX_CANVAS
                            ? ex_mean_frame(train, o.common.digits, 10000) : NULL;
    ex_baselines base = ex_set_baselines(&set, K, M, mean_frame);
    printf("losses on %zu sequences (decoders fed as at inference):\n", n);
    ex_print_loss_table(stdout, &loss, &base, &m);
    if (isnan(loss.rec) && isnan(loss.fut))
        printf("  (no model loss: the sequences are shorter than K + M = %zu frames)\n", K + M);
    if (!mean_frame) printf("  (no mean-frame baseline: training digits not found)\n");

    /* Predictions and reconstructions as .npy, then the pictures. */
    if (m.has_fut) {
        size_t F = o.future ? (size_t)o.future : M;
        float *pred = run_model(model, &set, K, F);
        save_npy(ex_path(out, "predictions.npy"), pred, F, n, D);
        free(pred);
    }
    if (m.has_rec) {
        float *rec = run_model(model, &set, K, 0);
        save_npy(ex_path(out, "reconstructions.npy"), rec, K, n, D);
        free(rec);
    }
    if (pics) {
        int failed = ex_write_pictures(model, pics, n_pics, out, "seq", (size_t)o.rollout);
        printf("wrote %s/seq<i>.png/.gif and seq<i>_rollout.png/.gif for %zu sequences%s\n",
               out, n_pics, failed ? " (some failed)" : "");
    }

    seqvid_batch_free(pics);
    ex_set_free(&set);
    free(mean_frame);
    seqvid_digits_free(train);
    seqvid_model_free(model);
    return 0;
}
