/*
 * common.h -- what the Moving MNIST example programs share.
 *
 * Everything here is ordinary user code on top of <seqvid.h>: finding and loading the
 * digits, command-line flags common to both programs, sequence sets evaluated in chunks,
 * the two trivial baselines, and pictures (PNG strips, animated GIFs, a loss plot) written
 * with libpng and giflib. Unlike the library, these helpers print and exit on errors: they
 * are the part that talks to users.
 */
#ifndef SEQVID_EXAMPLES_COMMON_H
#define SEQVID_EXAMPLES_COMMON_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <seqvid.h>

/* ---------------------------------------------------------------------------------------
 * Errors and messages
 * ------------------------------------------------------------------------------------- */
extern const char *ex_progname; /* set by main; prefixes every error message */

/* Print "progname: message" on stderr and exit(1). */
void ex_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Exit with the library's status and detail unless status is SEQVID_OK. */
void ex_check(int status, const char *what);
/* Print "progname: warning: status: detail" and return status (for failures that should
 * not end a long training run, such as a picture that could not be written). */
int ex_warn_status(int status, const char *what);

/* malloc that exits with a message when memory runs out. */
void *ex_malloc(size_t n);

/* Seconds since an arbitrary fixed point (monotonic clock). */
double ex_now(void);

/* ---------------------------------------------------------------------------------------
 * Command-line flags shared by both programs
 * ------------------------------------------------------------------------------------- */
typedef struct ex_common {
    const char *data_dir; /* folder of the IDX files; NULL: ex_default_data_dir() */
    const char *out_dir;  /* where everything is written; created if missing */
    uint64_t seed;
    int threads;          /* BLAS threads; 0: all cores */
    int digits;           /* digits per Moving MNIST sequence */
} ex_common;

enum { EX_OPT_DATA = 1000, EX_OPT_OUT, EX_OPT_SEED, EX_OPT_THREADS, EX_OPT_DIGITS,
       EX_OPT_FIRST_FREE_ /* programs number their own long-only options from here */ };

/* Entries for a program's struct option table. */
#define EX_COMMON_LONG_OPTIONS                                   \
    {"data", required_argument, NULL, EX_OPT_DATA},              \
    {"out", required_argument, NULL, EX_OPT_OUT},                \
    {"seed", required_argument, NULL, EX_OPT_SEED},              \
    {"threads", required_argument, NULL, EX_OPT_THREADS},        \
    {"digits", required_argument, NULL, EX_OPT_DIGITS}

/* Help text of the common flags (to print after a program's own). */
extern const char ex_common_help[];

/* Handle a common option: returns 1 if `opt` was one of them, else 0. */
int ex_common_option(ex_common *c, int opt, const char *arg);
/* Set the BLAS threads and create the output folder. */
void ex_common_apply(const ex_common *c);

/* Checked number parsing for flag values; exit with a message naming the flag. */
long ex_parse_long(const char *flag, const char *arg, long min, long max);
double ex_parse_double(const char *flag, const char *arg, double min, double max);

/* out_dir + "/" + name in a static rotating buffer (valid for the next few calls). */
const char *ex_path(const char *out_dir, const char *name);

/* ---------------------------------------------------------------------------------------
 * Data
 * ------------------------------------------------------------------------------------- */
#define EX_CANVAS 64       /* Moving MNIST canvas side: frames have 64*64 = 4096 pixels */
#define EX_VAL_SEED 20150  /* the fixed seed of validation sequences (both programs) */

/* ${SEQVID_DATA:-$HOME/.cache/seqvid}/mnist */
const char *ex_default_data_dir(void);
/* The train or test split from `dir` (NULL: the default folder), accepting the names
 * {train,test,t10k}-{images-idx3,labels-idx1}-ubyte, plain or .gz. When the files are
 * missing: exits with a hint to run examples/setup-mnist.sh if `required`, else NULL. */
seqvid_digits *ex_load_digits(const char *dir, int test, int required);
/* A Moving MNIST generator over `digits` with `n_digits` digits per sequence. */
seqvid_mmnist *ex_generator(const seqvid_digits *digits, int n_digits, uint64_t seed);

/* A new batch holding steps [0, n_steps) of sequences [first, first + n_seqs) of src
 * (lengths are clipped to n_steps). */
seqvid_batch *ex_batch_slice(seqvid_batch *src, size_t first, size_t n_seqs, size_t n_steps);

/* A set of equally long sequences kept as chunks of at most `chunk` sequences, so a large
 * set is evaluated with model workspaces of a training batch's size. */
typedef struct ex_set {
    seqvid_batch **chunks;
    size_t n_chunks, n_seqs, n_steps, dim;
} ex_set;

/* n_seqs fresh sequences of n_steps frames from gen. */
void ex_set_generate(ex_set *set, seqvid_mmnist *gen, size_t n_steps, size_t n_seqs,
                     size_t chunk);
/* Sequences [0, n_seqs) and steps [0, n_steps) of src, copied. */
void ex_set_from_batch(ex_set *set, seqvid_batch *src, size_t n_seqs, size_t n_steps,
                       size_t chunk);
void ex_set_free(ex_set *set);

/* ---------------------------------------------------------------------------------------
 * Losses and baselines (nats per frame, binary cross-entropy)
 * ------------------------------------------------------------------------------------- */
typedef struct ex_losses {
    double rec, fut; /* reconstruction / future prediction; NaN where not applicable */
} ex_losses;

typedef struct ex_baselines {
    ex_losses last; /* every target predicted as the last input frame (clipped) */
    ex_losses mean; /* every target predicted as the mean training frame; NaN if unknown */
} ex_baselines;

/* What a model has: whether it reconstructs (autoencoder, composite) and predicts. */
typedef struct ex_model_info {
    int kind, has_rec, has_fut;
    size_t input_frames, future_frames, dim, hidden, layers;
    int cond_recon, cond_future;
} ex_model_info;
ex_model_info ex_model_describe(const seqvid_model *model);

/* The model's losses on the whole set (decoders fed as at inference: the honest numbers).
 * The set needs K + M steps if the model predicts, K if it only reconstructs. */
ex_losses ex_set_evaluate(seqvid_model *model, const ex_set *set);
/* Per-pixel mean of `n_frames` frames generated from the training digits with a fixed
 * seed: the best constant prediction. Returns EX_CANVAS^2 floats (free()). */
float *ex_mean_frame(const seqvid_digits *train, int n_digits, size_t n_frames);
/* The baselines on the targets the model would have: reconstruction targets are input
 * frames 0..K-1, future targets frames K..K+M-1. mean_frame may be NULL. */
ex_baselines ex_set_baselines(const ex_set *set, size_t input_frames, size_t future_frames,
                              const float *mean_frame);
/* A table of the model's losses (model may be NULL) next to the baselines. */
void ex_print_loss_table(FILE *f, const ex_losses *model, const ex_baselines *base,
                         const ex_model_info *info);
/* "wins by 123.4 (45%)" (or "loses by ...") of a model loss against the best baseline. */
const char *ex_margin(double model, double last, double mean);

/* ---------------------------------------------------------------------------------------
 * Pictures
 * ------------------------------------------------------------------------------------- */
/* n frames of side*side floats in [0,1]: frame i starts at data + i * stride. */
typedef struct ex_frames {
    const float *data;
    size_t n, stride;
} ex_frames;

/* Frames t0 .. t0+n-1 of sequence b in a time-major array of S sequences of dim D. */
ex_frames ex_frames_of(const float *data, size_t S, size_t D, size_t b, size_t t0, size_t n);

/* A PNG of labelled rows of frames, each row wrapping after `wrap` frames. */
int ex_write_strip(const char *path, const char *const *labels, const ex_frames *rows,
                   int n_rows, size_t side, int scale, size_t wrap);

/* An animated GIF of panels shown side by side, all with the same number of frames.
 * Frames from `future_from` on get a bar under the panel in the panel's colour, so the
 * viewer sees where the input ends and truth or prediction begins. */
enum { EX_BAR_GREEN = 1, EX_BAR_RED = 2 };
typedef struct ex_panel {
    const char *label;
    ex_frames frames;
    size_t future_from;
    int bar;
} ex_panel;
int ex_write_gif(const char *path, const ex_panel *panels, int n_panels, size_t side,
                 int scale, int delay_cs);

/* For sequences [0, n_seq) of `seqs` (time-major, at least K frames each): the model's
 * reconstruction and prediction pictures, named prefix<i>.png/.gif and
 * prefix<i>_rollout.png/.gif (a prediction of `rollout` frames). Truth future frames are
 * shown when seqs has more than K steps. Returns the number of files that failed. */
int ex_write_pictures(seqvid_model *model, seqvid_batch *seqs, size_t n_seq,
                      const char *out_dir, const char *prefix, size_t rollout);

/* A loss plot: step on x, loss on a log scale on y. Points with NaN y are skipped. */
typedef struct ex_curve {
    const char *label;
    const double *x, *y;
    size_t n;
    unsigned char rgb[3];
    int width;  /* line width in pixels */
    int dashed;
} ex_curve;
int ex_write_plot(const char *path, const ex_curve *curves, int n_curves, const char *xlabel,
                  const char *ylabel);

#endif
