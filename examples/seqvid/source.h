/*
 * source.h -- where the `seqvid` command's sequences come from.
 *
 * A data source hands out training batches and a fixed held-out set, and says what its
 * frames look like. Each kind lives in its own file (source_mmnist.c, source_npy.c,
 * source_video.c) behind the table of operations below; adding a kind is one file, one
 * entry in source.c's source_open, and its flags in source_options.
 */
#ifndef SEQVID_CMD_SOURCE_H
#define SEQVID_CMD_SOURCE_H

#include <stddef.h>
#include <stdint.h>
#include <seqvid.h>

#include "../support/cli.h"
#include "../support/data.h"

/* The flags every subcommand that reads data accepts (source_option parses them). */
typedef struct source_options {
    ex_common common;       /* --data --out --seed --threads --digits */
    const char *npy;        /* --npy FILE */
    const char *val_npy;    /* --val-npy FILE (train): held-out sequences from this file */
    int layout;             /* --layout time|seq */
    const char *video;      /* --video PATH: a file, folder, glob or list file */
    long patch;             /* --patch P: P x P patches (0: whole frames) */
    const char *val_video;  /* --val-video PATH (train): the held-out footage, left out of
                               the training files of --video */
    long resize_w, resize_h; /* --resize S or WxH: frames scaled first (0: native, or kept
                               in proportion when only the other side is given) */
    long frame_stride;      /* --frame-stride N: every N-th frame */
    int rgb;                /* --rgb (default gray) */
    int no_prefetch;        /* --no-prefetch: training batches on the training thread */
    long val_size;          /* --val-size N: held-out sequences */
    long count;             /* --count N (predict/eval/encode): sequences evaluated */
} source_options;

enum { SRC_OPT_NPY = EX_OPT_FIRST_FREE_, SRC_OPT_VAL_NPY, SRC_OPT_LAYOUT, SRC_OPT_VIDEO,
       SRC_OPT_PATCH, SRC_OPT_RESIZE, SRC_OPT_VAL_VIDEO, SRC_OPT_FRAME_STRIDE, SRC_OPT_RGB, SRC_OPT_GRAY, SRC_OPT_NO_PREFETCH,
       SRC_OPT_VAL_SIZE, SRC_OPT_COUNT,
       SRC_OPT_FIRST_FREE_ /* subcommands number their own long-only options from here */ };

#define SOURCE_LONG_OPTIONS                                          \
    EX_COMMON_LONG_OPTIONS,                                          \
    {"npy", required_argument, NULL, SRC_OPT_NPY},                   \
    {"val-npy", required_argument, NULL, SRC_OPT_VAL_NPY},           \
    {"layout", required_argument, NULL, SRC_OPT_LAYOUT},             \
    {"video", required_argument, NULL, SRC_OPT_VIDEO},               \
    {"val-video", required_argument, NULL, SRC_OPT_VAL_VIDEO},       \
    {"patch", required_argument, NULL, SRC_OPT_PATCH},               \
    {"resize", required_argument, NULL, SRC_OPT_RESIZE},             \
    {"frame-stride", required_argument, NULL, SRC_OPT_FRAME_STRIDE}, \
    {"rgb", no_argument, NULL, SRC_OPT_RGB},                         \
    {"gray", no_argument, NULL, SRC_OPT_GRAY},                       \
    {"no-prefetch", no_argument, NULL, SRC_OPT_NO_PREFETCH},         \
    {"val-size", required_argument, NULL, SRC_OPT_VAL_SIZE},         \
    {"count", required_argument, NULL, SRC_OPT_COUNT}

/* Defaults: out_dir as given, seed, 2 digits, val-size 256, count 256. */
source_options source_defaults(const char *out_dir, uint64_t seed);
/* Handle a source or common option: 1 if `opt` was one of them. */
int source_option(source_options *o, int opt, const char *arg);

/* What the source is opened for: training (batches + held-out set) or using a trained
 * model on it (only the held-out set: the sequences to evaluate, predict or encode). */
enum { SOURCE_TRAIN, SOURCE_USE };

typedef struct source source;
typedef struct source_ops {
    /* Training sequences into `batch` (its n_steps frames each) for global step `step`;
     * `attempt` > 0 when a batch of this step was skipped. Deterministic in (seed, step,
     * attempt), or in the generator state a checkpoint stores, so a resumed run sees the
     * same batches as an uninterrupted one. */
    void (*fill)(source *src, seqvid_batch *batch, uint64_t step, unsigned attempt);
    /* The held-out sequences: up to n_seqs of n_steps frames (0: as many as the data
     * have), kept in chunks of `chunk`. */
    void (*held_out)(source *src, ex_set *set, size_t n_steps, size_t n_seqs, size_t chunk);
    /* The per-value mean frame of the training data (free()), or NULL if unknown. */
    float *(*mean_frame)(source *src);
    void (*free)(source *src);
} source_ops;

struct source {
    const source_ops *ops;
    char description[512];   /* one line for the log */
    ex_shape shape;          /* of one frame */
    int output;              /* the model output that fits: SEQVID_OUTPUT_BINARY or _REAL */
    size_t max_steps;        /* frames per sequence available; 0: any number */
    seqvid_mmnist *gen;      /* the generator whose state checkpoints keep, or NULL */
    void *priv;
};

/* The source the flags name: --npy, --video, or else Moving MNIST. Exits with a message
 * when it cannot be opened. */
source *source_open(const source_options *o, int purpose);
void source_free(source *src);

/* The kinds (each in its own file). */
source *source_open_mmnist(const source_options *o, int purpose);
source *source_open_npy(const source_options *o, int purpose);
source *source_open_video(const source_options *o, int purpose);

/* A 64-bit hash of (a, b, c) for seeded choices (splitmix64 finaliser). */
uint64_t source_hash(uint64_t a, uint64_t b, uint64_t c);

#endif
