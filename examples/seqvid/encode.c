/*
 * encode.c -- `seqvid encode`: the learned representation of every clip, as .npy.
 *
 * features.npy holds one row per clip (N, F): the encoder's final (h, c) of every layer
 * (F = 2 L H, the layout of seqvid_model_encode). With --stream, features_stream.npy holds
 * the representation after every frame (T, N, F), from the streaming encoder, as a camera
 * would see it; its last frame equals features.npy.
 */
#include "commands.h"
#include "model.h"
#include "source.h"

#include "../support/cli.h"
#include "../support/evaluate.h"

#include <stdlib.h>
#include <string.h>

typedef struct options {
    source_options src;
    const char *model;
    long frames, batch;
    int stream, weights;
} options;

enum { OPT_MODEL = SRC_OPT_FIRST_FREE_, OPT_FRAMES, OPT_BATCH, OPT_STREAM, OPT_WEIGHTS };

static const struct option long_options[] = {
    {"model", required_argument, NULL, OPT_MODEL},
    {"frames", required_argument, NULL, OPT_FRAMES},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"stream", no_argument, NULL, OPT_STREAM},
    {"weights", required_argument, NULL, OPT_WEIGHTS},
    {"help", no_argument, NULL, 'h'},
    SOURCE_LONG_OPTIONS,
    {NULL, 0, NULL, 0}};

static options parse_options(int argc, char **argv)
{
    options o = {.src = source_defaults("out/encode", EX_VAL_SEED),
                 .model = "out/model.safetensors", .batch = 16};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        if (source_option(&o.src, c, optarg)) continue;
        switch (c) {
        case OPT_MODEL: o.model = optarg; break;
        case OPT_FRAMES: o.frames = ex_parse_long("--frames", optarg, 1, 1 << 20); break;
        case OPT_BATCH: o.batch = ex_parse_long("--batch", optarg, 1, 1 << 16); break;
        case OPT_STREAM: o.stream = 1; break;
        case OPT_WEIGHTS: o.weights = model_weights_option(optarg); break;
        case 'h': command_usage(stdout, "encode"); exit(0);
        default: command_usage(stderr, "encode"); exit(2);
        }
    }
    if (optind < argc) {
        if (optind + 1 < argc)
            ex_die("unexpected argument '%s' (see seqvid encode --help)", argv[optind + 1]);
        o.model = argv[optind];
    }
    return o;
}

int cmd_encode(int argc, char **argv)
{
    options o = parse_options(argc, argv);
    const char *out = o.src.common.out_dir;
    ex_common_apply(&o.src.common);

    seqvid_model *model = model_read(o.model, o.weights);
    ex_model_info m = ex_model_describe(model);
    size_t F;
    ex_check(seqvid_model_feature_dim(model, &F), "model");
    source *src = source_open(&o.src, SOURCE_USE);
    ex_say("data: %s\n", src->description);
    const size_t D = ex_shape_dim(src->shape);
    if (D != m.dim)
        ex_die("the frames have %zu values (%s); the model reads %zu", D,
               ex_shape_name(src->shape), m.dim);
    /* Clips: --frames frames, or the whole sequences of a file, or K generated ones. */
    size_t T = o.frames ? (size_t)o.frames : src->max_steps ? src->max_steps : m.input_frames;
    if (src->max_steps && T > src->max_steps)
        ex_die("--frames %zu: the sequences have %zu frames", T, src->max_steps);

    ex_set set;
    src->ops->held_out(src, &set, T, (size_t)o.src.count, (size_t)o.batch);
    const size_t N = set.n_seqs;
    float *clip = ex_malloc(N * F * sizeof *clip);
    float *per_frame = o.stream ? ex_malloc(T * N * F * sizeof *per_frame) : NULL;
    for (size_t c = 0, first = 0; c < set.n_chunks; c++) {
        size_t S;
        float *x;
        seqvid_batch *chunk = set.chunks[c];
        ex_check(seqvid_batch_shape(chunk, NULL, &S, NULL), "batch");
        ex_check(seqvid_model_encode(model, chunk, clip + first * F, S * F), "encoding");
        if (o.stream) {
            /* Frame by frame: after frame t the features are those of frames 0..t. */
            seqvid_stream *st;
            float *feat = ex_malloc(S * F * sizeof *feat);
            ex_check(seqvid_batch_data(chunk, &x), "batch");
            ex_check(seqvid_stream_create(model, S, &st), "stream");
            for (size_t t = 0; t < T; t++) {
                ex_check(seqvid_stream_push(st, x + t * S * D, S * D), "stream");
                ex_check(seqvid_stream_features(st, feat, S * F), "stream");
                memcpy(per_frame + (t * N + first) * F, feat, S * F * sizeof *feat);
            }
            seqvid_stream_free(st);
            free(feat);
        }
        first += S;
    }
    size_t shape2[2] = {N, F}, shape3[3] = {T, N, F};
    const char *path = ex_path(out, "features.npy");
    ex_check(seqvid_npy_save(path, clip, 2, shape2), path);
    ex_say("wrote %s: (%zu clips, %zu features) float32, the encoder's final (h, c) after "
           "%zu frames\n", path, N, F, T);
    if (o.stream) {
        path = ex_path(out, "features_stream.npy");
        ex_check(seqvid_npy_save(path, per_frame, 3, shape3), path);
        ex_say("wrote %s: (%zu frames, %zu clips, %zu features) float32, after every frame\n",
               path, T, N, F);
    }
    free(per_frame);
    free(clip);
    ex_set_free(&set);
    source_free(src);
    seqvid_model_free(model);
    return 0;
}
