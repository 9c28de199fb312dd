/*
 * predict.c -- `seqvid predict` and `seqvid eval`: a trained model on a source's sequences.
 *
 * Both score the model on the sequences (decoders fed as at inference) next to the
 * baselines on the same targets. predict also writes the reconstructions and predictions as
 * .npy files and draws the first sequences.
 */
#include "commands.h"
#include "model.h"
#include "source.h"

#include "../support/cli.h"
#include "../support/data.h"
#include "../support/evaluate.h"
#include "../support/pictures.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct options {
    source_options src;
    const char *model;
    long future, rollout, pictures, batch;
    int weights; /* SEQVID_WEIGHTS_* */
} options;

enum { OPT_MODEL = SRC_OPT_FIRST_FREE_, OPT_FUTURE, OPT_ROLLOUT, OPT_PICTURES, OPT_BATCH,
       OPT_WEIGHTS };

static const struct option long_options[] = {
    {"model", required_argument, NULL, OPT_MODEL},
    {"future", required_argument, NULL, OPT_FUTURE},
    {"rollout", required_argument, NULL, OPT_ROLLOUT},
    {"pictures", required_argument, NULL, OPT_PICTURES},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"weights", required_argument, NULL, OPT_WEIGHTS},
    {"help", no_argument, NULL, 'h'},
    SOURCE_LONG_OPTIONS,
    {NULL, 0, NULL, 0}};

static options parse_options(int argc, char **argv, const char *cmd, int predict)
{
    /* Moving MNIST sequences default to the trainer's validation seed, so --count 256
     * reproduces its numbers. */
    options o = {.src = source_defaults(predict ? "out/predict" : "out/eval", EX_VAL_SEED),
                 .model = "out/model.safetensors", .rollout = 100, .pictures = 4,
                 .batch = 16};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        if (source_option(&o.src, c, optarg)) continue;
        switch (c) {
        case OPT_MODEL: o.model = optarg; break;
        case OPT_FUTURE: o.future = ex_parse_long("--future", optarg, 1, 100000); break;
        case OPT_ROLLOUT: o.rollout = ex_parse_long("--rollout", optarg, 0, 100000); break;
        case OPT_PICTURES: o.pictures = ex_parse_long("--pictures", optarg, 0, 1000); break;
        case OPT_BATCH: o.batch = ex_parse_long("--batch", optarg, 1, 1 << 16); break;
        case OPT_WEIGHTS: o.weights = model_weights_option(optarg); break;
        case 'h': command_usage(stdout, cmd); exit(0);
        default: command_usage(stderr, cmd); exit(2);
        }
    }
    if (optind < argc) {
        if (optind + 1 < argc) ex_die("unexpected argument '%s' (see seqvid %s --help)",
                                      argv[optind + 1], cmd);
        o.model = argv[optind]; /* seqvid predict MODEL */
    }
    if (!predict && (o.future || o.pictures != 4 || o.rollout != 100))
        ex_die("--future, --pictures and --rollout are for seqvid predict");
    return o;
}

/* The model's reconstructions (n_future == 0) or predictions of n_future frames for every
 * sequence of the set, as one time-major array (T, n_seqs, D). */
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

/* A time-major (T, S, frame shape...) float32 .npy. */
static void save_npy(const char *path, const float *x, size_t T, size_t S, ex_shape shape)
{
    size_t dims[5] = {T, S, shape.h, shape.w, shape.c}, n = shape.w ? (shape.c > 1 ? 5 : 4) : 3;
    ex_check(seqvid_npy_save(path, x, n, dims), path);
    ex_say("wrote %s (float32, time-major: %zu frames x %zu sequences, %s)\n", path, T, S,
           ex_shape_name(shape));
}

static int run(int argc, char **argv, const char *cmd, int predict)
{
    options o = parse_options(argc, argv, cmd, predict);
    const char *out = o.src.common.out_dir;
    ex_check(seqvid_set_threads(o.src.common.threads), "--threads");

    seqvid_model *model = model_read(o.model, o.weights);
    ex_model_info m = ex_model_describe(model);
    const size_t K = m.input_frames, M = m.future_frames;
    ex_say("%s: %s, %zu x %zu LSTM, K=%zu input frames, M=%zu future frames\n", o.model,
           ex_kind_name(m.kind), m.layers, m.hidden, K, M);

    source *src = source_open(&o.src, SOURCE_USE);
    ex_say("data: %s\n", src->description);
    const size_t D = ex_shape_dim(src->shape);
    if (D != m.dim)
        ex_die("the frames have %zu values (%s); the model reads %zu", D,
               ex_shape_name(src->shape), m.dim);
    size_t n_steps = K + (m.has_fut ? M : 0);
    if (src->max_steps && src->max_steps < n_steps) n_steps = src->max_steps;
    if (n_steps < K) ex_die("the sequences have %zu frames; the model reads %zu", n_steps, K);

    ex_set set;
    src->ops->held_out(src, &set, n_steps, (size_t)o.src.count, (size_t)o.batch);
    float *mean_frame = src->ops->mean_frame(src);
    ex_losses loss = ex_set_evaluate(model, &set);
    ex_baselines base = ex_set_baselines(&set, &m, mean_frame);
    ex_say("losses on %zu sequences (decoders fed as at inference):\n", set.n_seqs);
    if (ex_log_alive()) ex_print_loss_table(stdout, &loss, &base, &m);
    if (isnan(loss.rec) && isnan(loss.fut))
        ex_say("  (no model loss: the sequences are shorter than K + M = %zu frames)\n", K + M);
    if (!mean_frame) ex_say("  (no mean-frame baseline: no training data to average)\n");

    if (predict) {
        ex_make_dirs(out);
        if (m.has_fut) {
            size_t F = o.future ? (size_t)o.future : M;
            float *pred = run_model(model, &set, K, F);
            save_npy(ex_path(out, "predictions.npy"), pred, F, set.n_seqs, src->shape);
            free(pred);
        }
        if (m.has_rec) {
            float *rec = run_model(model, &set, K, 0);
            save_npy(ex_path(out, "reconstructions.npy"), rec, K, set.n_seqs, src->shape);
            free(rec);
        }
        size_t n_first;
        ex_check(seqvid_batch_shape(set.chunks[0], NULL, &n_first, NULL), "batch");
        const size_t n_pics = (size_t)o.pictures < n_first ? (size_t)o.pictures : n_first;
        if (n_pics && ex_shape_drawable(src->shape)) {
            int failed = ex_write_pictures(model, set.chunks[0], n_pics, &src->shape, out,
                                           "seq", (size_t)o.rollout);
            ex_say("wrote %s/seq<i>.png/.gif%s for %zu sequences%s\n", out,
                   m.has_fut && o.rollout ? " and seq<i>_rollout.png/.gif" : "", n_pics,
                   failed ? " (some failed)" : "");
        }
    }
    ex_set_free(&set);
    free(mean_frame);
    source_free(src);
    seqvid_model_free(model);
    return 0;
}

int cmd_predict(int argc, char **argv) { return run(argc, argv, "predict", 1); }
int cmd_eval(int argc, char **argv) { return run(argc, argv, "eval", 0); }
