/*
 * train.c -- `seqvid train`: train an LSTM encoder-decoder on a data source.
 *
 * Every step trains on a fresh batch from the source. Every --val-every steps the model is
 * scored on the source's fixed held-out sequences with the decoders fed as at inference
 * (the future predictor sees its own predictions), next to baselines on the same set, and
 * the loss plot is written; a checkpoint and pictures too, once --save-every seconds have
 * passed since the last ones (and at the end). Ctrl-C finishes the current step,
 * saves everything and exits cleanly; a second Ctrl-C quits at once. A closed pipe on
 * stdout (`| head`, a `tee` that was interrupted) stops the log, not the training.
 */
#define _XOPEN_SOURCE 700 /* sigaction with SA_RESETHAND */
#define SEQVID_EXPERIMENTAL /* SEQVID_CFG_SAMPLE_FUTURE (--sample-prob): scheduled sampling */

#include "commands.h"
#include "model.h"
#include "source.h"

#include "../support/cli.h"
#include "../support/data.h"
#include "../support/evaluate.h"
#include "../support/pictures.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* The demo defaults (help/train.txt states them): sized so that on 2 cores digit-shaped
 * reconstructions and moving predictions appear within about 10 minutes. Batch 48: with bf16
 * products (--precision auto, on AVX512-BF16 CPUs) the demo's 10 minutes end 3.4 nats of
 * future ahead of batch 32, at 398.7-399.9 on three seeds (docs/learning.md, "bf16
 * products, and batch 48"; batch 64: 399.9); in float32 48 (with a longer decay) tied 32
 * within 1 nat, and 32 was 3.6-6.5 ahead of 16 ("Batch 32 in the demo's 10 minutes"). A
 * conditional reconstruction decoder fed the true previous frame (as SR15's released code)
 * draws sharp digits early; an unconditioned future predictor predicts better than a
 * conditional one fed its own outputs after a short run (SR15.md section 7). */
#define DEFAULT_HIDDEN 512
#define DEFAULT_BATCH 48
#define DEFAULT_COND_RECON 1
#define DEFAULT_COND_FUTURE 0
#define DEFAULT_MINUTES 10.0
/* docs/learning.md, issue 16: at equal steps (1,000) a forget-gate bias of 3 and Adam at lr
 * 2e-3 gave 523.5 future / 369.9 reconstruction against 549.3 / 394.0 for bias 0 and 1e-3
 * (bias 1: 532.9 / 380.2), at no cost per step; bias 5: 516.6 / 367.6 (trial 13); a warm-up
 * was worse at that budget. */
#define DEFAULT_FORGET_BIAS 5.0
#define DEFAULT_ADAM_LR 2e-3
/* docs/learning.md, trials 27-37: Adam's second-moment decay B2 = 0.95 instead of the
 * library's 0.999 (the moments follow the quickly changing gradient scale of an early run). */
#define DEFAULT_ADAM_BETA2 0.95
#define DEFAULT_WARMUP 0
/* A checkpoint of the demo's model (H=512, Adam) is 290 MB, written, checksummed and fsynced
 * in ~0.9 s, and its pictures take ~0.8 s: at every validation (200 steps, ~25 s) that was
 * ~7% of the demo's 10 minutes. Once a minute it is ~3%, and a crash loses at most a minute;
 * Ctrl-C and the end of the run always save. */
#define DEFAULT_SAVE_EVERY 60.0
/* docs/learning.md, trials 46-51 and the pair at 4,500 steps: the peak lr held for 70% of the
 * run, then a half cosine to 0 over the last 30% ("warm-stable-decay"), gave 424.9 future /
 * 296.5 reconstruction at 4,500 steps against 443.0 / 302.5 at a constant lr (491.0 / 348.1
 * against 501.4 / 348.2 at 1,000); a cosine over the whole run was worse than constant (507.8
 * / 366.9 at 1,000): the lr is lowered only where the model has stopped gaining from it. */
#define DEFAULT_DECAY DECAY_COSINE
#define DEFAULT_DECAY_START 0.7

#define MAX_BAD_STEPS 20

typedef struct options {
    source_options src;
    int kind, hidden, layers, cond_recon, cond_future, batch, optimizer, output;
    long input_frames, future_frames;
    double lr, grad_clip, minutes; /* lr 0: the optimizer's default; minutes 0: no budget */
    double beta1, beta2;           /* Adam's moment decays, when given */
    double forget_bias;            /* initial forget-gate bias of every LSTM layer */
    double init_weight;            /* weights ~ U(-a, a); 0: the library's default */
    int output_bias;               /* OUTPUT_BIAS_ZERO | OUTPUT_BIAS_MEAN */
    long steps;                    /* train until this global step; 0: no limit */
    long warmup;                   /* linear lr warm-up over this many global steps */
    int decay;                     /* DECAY_NONE | DECAY_COSINE */
    double lr_min;                 /* where the cosine decay ends */
    double decay_start;            /* fraction of the run held at the peak before it */
    double sample_prob;            /* scheduled sampling of the future predictor: final p */
    long sample_ramp;              /* p rises linearly from 0 over this many global steps */
    int sample_given;              /* --sample-prob given: p follows the flags every step */
    long val_every, log_every, pictures, rollout;
    double save_every;             /* seconds between checkpoints (at validations); 0: each */
    const char *resume;
    int lr_given, model_flags_given, optimizer_given, beta1_given, beta2_given;
    int decay_start_given;
    int weights;                   /* SEQVID_WEIGHTS_F32_PACKED (default) | SEQVID_WEIGHTS_F32 */
    int precision;                 /* SEQVID_PRECISION_F32 | _BF16 | PRECISION_AUTO (default) */
} options;

enum { OPT_KIND = SRC_OPT_FIRST_FREE_, OPT_HIDDEN, OPT_LAYERS, OPT_COND, OPT_UNCOND, OPT_BATCH,
       OPT_OPTIMIZER, OPT_LR, OPT_GRAD_CLIP, OPT_STEPS, OPT_MINUTES, OPT_RESUME, OPT_VAL_EVERY,
       OPT_LOG_EVERY, OPT_COND_RECON, OPT_COND_FUTURE, OPT_OUTPUT, OPT_INPUT_FRAMES,
       OPT_FUTURE_FRAMES, OPT_PICTURES, OPT_ROLLOUT, OPT_FORGET_BIAS, OPT_INIT_WEIGHT, OPT_WARMUP, OPT_DECAY,
       OPT_LR_MIN, OPT_SAMPLE_PROB, OPT_SAMPLE_RAMP, OPT_BETA1, OPT_BETA2, OPT_OUTPUT_BIAS,
       OPT_SAVE_EVERY, OPT_DECAY_START, OPT_WEIGHTS, OPT_PRECISION };

enum { DECAY_NONE, DECAY_COSINE };
/* --precision auto: bf16 products where they run (AVX512-BF16), else float32. The demo's
 * learning curve is the same either way at 1.46x the steps per second on a Zen 4
 * (docs/performance.md, "bf16 mode on the default backend"). */
enum { PRECISION_AUTO = 2 };
enum { OUTPUT_BIAS_ZERO, OUTPUT_BIAS_MEAN };

static const struct option long_options[] = {
    {"kind", required_argument, NULL, OPT_KIND},
    {"hidden", required_argument, NULL, OPT_HIDDEN},
    {"layers", required_argument, NULL, OPT_LAYERS},
    {"cond", no_argument, NULL, OPT_COND},
    {"uncond", no_argument, NULL, OPT_UNCOND},
    {"cond-recon", required_argument, NULL, OPT_COND_RECON},
    {"cond-future", required_argument, NULL, OPT_COND_FUTURE},
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"input-frames", required_argument, NULL, OPT_INPUT_FRAMES},
    {"future-frames", required_argument, NULL, OPT_FUTURE_FRAMES},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"optimizer", required_argument, NULL, OPT_OPTIMIZER},
    {"lr", required_argument, NULL, OPT_LR},
    {"grad-clip", required_argument, NULL, OPT_GRAD_CLIP},
    {"beta1", required_argument, NULL, OPT_BETA1},
    {"beta2", required_argument, NULL, OPT_BETA2},
    {"forget-bias", required_argument, NULL, OPT_FORGET_BIAS},
    {"init-weight", required_argument, NULL, OPT_INIT_WEIGHT},
    {"output-bias", required_argument, NULL, OPT_OUTPUT_BIAS},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"decay", required_argument, NULL, OPT_DECAY},
    {"lr-min", required_argument, NULL, OPT_LR_MIN},
    {"decay-start", required_argument, NULL, OPT_DECAY_START},
    {"sample-prob", required_argument, NULL, OPT_SAMPLE_PROB},
    {"sample-ramp", required_argument, NULL, OPT_SAMPLE_RAMP},
    {"steps", required_argument, NULL, OPT_STEPS},
    {"minutes", required_argument, NULL, OPT_MINUTES},
    {"resume", required_argument, NULL, OPT_RESUME},
    {"val-every", required_argument, NULL, OPT_VAL_EVERY},
    {"save-every", required_argument, NULL, OPT_SAVE_EVERY},
    {"log-every", required_argument, NULL, OPT_LOG_EVERY},
    {"pictures", required_argument, NULL, OPT_PICTURES},
    {"rollout", required_argument, NULL, OPT_ROLLOUT},
    {"weights", required_argument, NULL, OPT_WEIGHTS},
    {"precision", required_argument, NULL, OPT_PRECISION},
    {"help", no_argument, NULL, 'h'},
    SOURCE_LONG_OPTIONS,
    {NULL, 0, NULL, 0}};

static options parse_options(int argc, char **argv)
{
    static const char *const outputs[] = {"auto", "binary", "real", NULL};
    static const char *const decays[] = {"none", "cosine", NULL};
    static const char *const output_biases[] = {"zero", "mean", NULL};
    static const char *const precisions[] = {"f32", "bf16", "auto", NULL}; /* SEQVID_PRECISION_*,
                                                                            PRECISION_AUTO */
    options o = {.src = source_defaults("out", 1),
                 .kind = SEQVID_COMPOSITE, .hidden = DEFAULT_HIDDEN, .layers = 1,
                 .cond_recon = DEFAULT_COND_RECON, .cond_future = DEFAULT_COND_FUTURE,
                 .batch = DEFAULT_BATCH, .optimizer = SEQVID_OPT_ADAM, .output = -1,
                 .input_frames = 10, .future_frames = 10,
                 .grad_clip = 10, .forget_bias = DEFAULT_FORGET_BIAS,
                 .warmup = DEFAULT_WARMUP, .decay = DEFAULT_DECAY, .decay_start = DEFAULT_DECAY_START, .val_every = 200, .save_every = DEFAULT_SAVE_EVERY, .log_every = 50, .pictures = 4,
                 .rollout = 100, .weights = SEQVID_WEIGHTS_F32_PACKED,
                 .precision = PRECISION_AUTO};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        if (source_option(&o.src, c, optarg)) continue;
        switch (c) {
        case OPT_KIND:
            o.kind = ex_parse_kind("--kind", optarg);
            o.model_flags_given = 1;
            break;
        case OPT_HIDDEN:
            o.hidden = (int)ex_parse_long("--hidden", optarg, 1, 1 << 16);
            o.model_flags_given = 1;
            break;
        case OPT_LAYERS:
            o.layers = (int)ex_parse_long("--layers", optarg, 1, 64);
            o.model_flags_given = 1;
            break;
        case OPT_COND:
        case OPT_UNCOND:
            o.cond_recon = o.cond_future = c == OPT_COND;
            o.model_flags_given = 1;
            break;
        case OPT_COND_RECON:
            o.cond_recon = (int)ex_parse_long("--cond-recon", optarg, 0, 1);
            o.model_flags_given = 1;
            break;
        case OPT_COND_FUTURE:
            o.cond_future = (int)ex_parse_long("--cond-future", optarg, 0, 1);
            o.model_flags_given = 1;
            break;
        case OPT_OUTPUT: {
            int i = ex_parse_choice("--output", optarg, outputs);
            o.output = i == 0 ? -1 : i == 1 ? SEQVID_OUTPUT_BINARY : SEQVID_OUTPUT_REAL;
            o.model_flags_given = 1;
            break;
        }
        case OPT_INPUT_FRAMES:
            o.input_frames = ex_parse_long("--input-frames", optarg, 1, 100000);
            o.model_flags_given = 1;
            break;
        case OPT_FUTURE_FRAMES:
            o.future_frames = ex_parse_long("--future-frames", optarg, 1, 100000);
            o.model_flags_given = 1;
            break;
        case OPT_BATCH: o.batch = (int)ex_parse_long("--batch", optarg, 1, 1 << 16); break;
        case OPT_OPTIMIZER:
            o.optimizer = ex_parse_optimizer("--optimizer", optarg);
            o.optimizer_given = 1;
            break;
        case OPT_LR: o.lr = ex_parse_double("--lr", optarg, 1e-12, 1e3); o.lr_given = 1; break;
        case OPT_GRAD_CLIP: o.grad_clip = ex_parse_double("--grad-clip", optarg, 0, 1e12); break;
        case OPT_BETA1: o.beta1 = ex_parse_double("--beta1", optarg, 0, 0.999999), o.beta1_given = 1; break;
        case OPT_BETA2: o.beta2 = ex_parse_double("--beta2", optarg, 0, 0.999999), o.beta2_given = 1; break;
        case OPT_FORGET_BIAS:
            o.forget_bias = ex_parse_double("--forget-bias", optarg, -100, 100);
            o.model_flags_given = 1;
            break;
        case OPT_INIT_WEIGHT:
            o.init_weight = ex_parse_double("--init-weight", optarg, 1e-9, 10);
            o.model_flags_given = 1;
            break;
        case OPT_OUTPUT_BIAS:
            o.output_bias = ex_parse_choice("--output-bias", optarg, output_biases);
            o.model_flags_given = 1;
            break;
        case OPT_WARMUP: o.warmup = ex_parse_long("--warmup", optarg, 0, 1L << 50); break;
        case OPT_DECAY: o.decay = ex_parse_choice("--decay", optarg, decays); break;
        case OPT_LR_MIN: o.lr_min = ex_parse_double("--lr-min", optarg, 0, 1e3); break;
        case OPT_DECAY_START:
            o.decay_start = ex_parse_double("--decay-start", optarg, 0, 0.999);
            o.decay_start_given = 1;
            break;
        case OPT_SAMPLE_PROB:
            o.sample_prob = ex_parse_double("--sample-prob", optarg, 0, 1);
            o.sample_given = 1;
            break;
        case OPT_SAMPLE_RAMP:
            o.sample_ramp = ex_parse_long("--sample-ramp", optarg, 0, 1L << 50);
            break;
        case OPT_STEPS: o.steps = ex_parse_long("--steps", optarg, 1, 1L << 50); break;
        case OPT_MINUTES: o.minutes = ex_parse_double("--minutes", optarg, 1e-3, 1e7); break;
        case OPT_RESUME: o.resume = optarg; break;
        case OPT_VAL_EVERY: o.val_every = ex_parse_long("--val-every", optarg, 1, 1L << 50); break;
        case OPT_SAVE_EVERY: o.save_every = ex_parse_double("--save-every", optarg, 0, 1e9); break;
        case OPT_WEIGHTS:
            o.weights = model_weights_option(optarg);
            if (o.weights == SEQVID_WEIGHTS_BF16)
                ex_die("--weights bf16 is for inference: training needs float32 weights");
            break;
        case OPT_PRECISION: o.precision = ex_parse_choice("--precision", optarg, precisions); break;
        case OPT_LOG_EVERY: o.log_every = ex_parse_long("--log-every", optarg, 1, 1L << 50); break;
        case OPT_PICTURES: o.pictures = ex_parse_long("--pictures", optarg, 0, 1000); break;
        case OPT_ROLLOUT: o.rollout = ex_parse_long("--rollout", optarg, 0, 100000); break;
        case 'h': command_usage(stdout, "train"); exit(0);
        default: command_usage(stderr, "train"); exit(2);
        }
    }
    if (optind < argc) ex_die("unexpected argument '%s' (see seqvid train --help)", argv[optind]);
    if (o.sample_ramp && !o.sample_given) ex_die("--sample-ramp needs --sample-prob");
    if (!o.steps && !o.minutes) o.minutes = DEFAULT_MINUTES;
    return o;
}

/* "rec 412.3 fut 533.1", leaving out what the model does not have. */
static const char *pair(const char *what, ex_losses l)
{
    static char buf[2][64];
    static int next;
    char *p = buf[next++ % 2];
    int n = snprintf(p, 64, "%s", what);
    if (isnan(l.rec) && isnan(l.fut)) snprintf(p + n, (size_t)(64 - n), " -");
    if (!isnan(l.rec)) n += snprintf(p + n, (size_t)(64 - n), " rec %.4g", l.rec);
    if (!isnan(l.fut)) snprintf(p + n, (size_t)(64 - n), " fut %.4g", l.fut);
    return p;
}

/* ---------------------------------------------------------------------------------------
 * Loss history: the rows of loss.csv, also drawn as loss.png
 * ------------------------------------------------------------------------------------- */
typedef struct history {
    size_t n, cap;
    double *step;
    ex_losses *train, *val;
} history;

static void history_add(history *h, double step, ex_losses train, ex_losses val)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 256;
        h->step = realloc(h->step, h->cap * sizeof *h->step);
        h->train = realloc(h->train, h->cap * sizeof *h->train);
        h->val = realloc(h->val, h->cap * sizeof *h->val);
        if (!h->step || !h->train || !h->val) ex_die("out of memory");
    }
    h->step[h->n] = step, h->train[h->n] = train, h->val[h->n] = val;
    h->n++;
}

static const char CSV_HEADER[] = "step,train_rec,train_fut,val_rec,val_fut,last_frame_rec,"
                                 "last_frame_fut,mean_frame_rec,mean_frame_fut,clip_mean_rec,"
                                 "clip_mean_fut\n";

static void csv_value(FILE *f, double v, char sep)
{
    if (!isnan(v)) fprintf(f, "%.6g", v);
    fputc(sep, f);
}

static void csv_row(FILE *f, const history *h, size_t i, const ex_baselines *b)
{
    fprintf(f, "%.0f,", h->step[i]);
    csv_value(f, h->train[i].rec, ','), csv_value(f, h->train[i].fut, ',');
    csv_value(f, h->val[i].rec, ','), csv_value(f, h->val[i].fut, ',');
    csv_value(f, b->last.rec, ','), csv_value(f, b->last.fut, ',');
    csv_value(f, b->mean.rec, ','), csv_value(f, b->mean.fut, ',');
    csv_value(f, b->clip.rec, ','), csv_value(f, b->clip.fut, '\n');
    fflush(f);
}

/* Field i of a CSV line as a number; NaN when empty. */
static double csv_field(const char *line, int i)
{
    for (; i > 0 && line; i--) {
        line = strchr(line, ',');
        if (line) line++;
    }
    char *end;
    double v = line ? strtod(line, &end) : NAN;
    return line && end != line ? v : NAN; /* empty fields and the header give NaN */
}

/* On resume: the rows of an earlier loss.csv before the checkpoint's step. At that step
 * itself only the regular row is kept (the first one, if the step is a log or validation
 * step): the extra row of the final validation at a stop would not be in an uninterrupted
 * run, and the resumed loss.csv is the same as that run's. */
static void history_load(history *h, const char *path, double ckpt_step, int regular)
{
    char line[1024];
    int at_ckpt = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        double step = csv_field(line, 0);
        if (isnan(step) || step > ckpt_step) continue; /* the header, or rows past the checkpoint */
        if (step == ckpt_step && (!regular || at_ckpt++)) continue;
        ex_losses t = {csv_field(line, 1), csv_field(line, 2)};
        ex_losses v = {csv_field(line, 3), csv_field(line, 4)};
        history_add(h, step, t, v);
    }
    fclose(f);
}

static int write_plot(const char *path, const history *h, const ex_baselines *b,
                      const ex_model_info *m)
{
    enum { MAX_CURVES = 7 };
    ex_curve cv[MAX_CURVES];
    int n = 0;
    /* The four loss columns as plain arrays. */
    double *tr = ex_malloc((h->n + 1) * 4 * sizeof(double));
    double *tf = tr + h->n, *vr = tf + h->n, *vf = vr + h->n;
    for (size_t i = 0; i < h->n; i++) {
        tr[i] = h->train[i].rec, tf[i] = h->train[i].fut;
        vr[i] = h->val[i].rec, vf[i] = h->val[i].fut;
    }
    /* The baselines as flat lines, for the loss that matters most: prediction if any. */
    const int fut = m->has_fut;
    double bx[2] = {0, h->n ? h->step[h->n - 1] : 1};
    double last[2], mean[2], clip[2];
    last[0] = last[1] = fut ? b->last.fut : b->last.rec;
    mean[0] = mean[1] = fut ? b->mean.fut : b->mean.rec;
    clip[0] = clip[1] = fut ? b->clip.fut : b->clip.rec;

    if (m->has_rec) cv[n++] = (ex_curve){"train rec", h->step, tr, h->n, {140, 175, 235}, 1.2, 0, 0};
    if (m->has_fut) cv[n++] = (ex_curve){"train fut", h->step, tf, h->n, {245, 160, 140}, 1.2, 0, 0};
    if (m->has_rec) cv[n++] = (ex_curve){"val rec", h->step, vr, h->n, {30, 80, 200}, 2.5, 0, 1};
    if (m->has_fut) cv[n++] = (ex_curve){"val fut", h->step, vf, h->n, {210, 40, 30}, 2.5, 0, 1};
    cv[n++] = (ex_curve){fut ? "last frame (fut)" : "last frame (rec)", bx, last, 2,
                         {110, 110, 110}, 1.6, 1, 0};
    cv[n++] = (ex_curve){fut ? "mean frame (fut)" : "mean frame (rec)", bx, mean, 2,
                         {40, 150, 60}, 1.6, 1, 0};
    cv[n++] = (ex_curve){fut ? "clip mean (fut)" : "clip mean (rec)", bx, clip, 2,
                         {150, 90, 180}, 1.6, 1, 0};
    char ylabel[96];
    snprintf(ylabel, sizeof ylabel, "loss, %s (validation: decoders fed back)", ex_loss_unit(m));
    int rc = ex_write_plot(path, cv, n, "step", ylabel);
    free(tr);
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Setting up
 * ------------------------------------------------------------------------------------- */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C ends the program at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* The API has no getter for an optimizer's kind (it comes from a checkpoint on resume);
 * the keys it accepts tell. */
static const char *optimizer_name(const seqvid_optimizer *opt)
{
    double v;
    if (seqvid_optimizer_get(opt, SEQVID_OPT_BETA1, &v) == SEQVID_OK) return "adam";
    if (seqvid_optimizer_get(opt, SEQVID_OPT_DECAY, &v) == SEQVID_OK) return "rmsprop";
    return "sgd";
}

/* The default lr of `opt`'s kind: the command's for Adam, else the library's. */
static double default_lr(const seqvid_optimizer *opt)
{
    static const char *const names[] = {"sgd", "rmsprop", "adam", NULL};
    if (!strcmp(optimizer_name(opt), "adam")) return DEFAULT_ADAM_LR;
    const int kinds[] = {SEQVID_OPT_SGD, SEQVID_OPT_RMSPROP, SEQVID_OPT_ADAM};
    const char *name = optimizer_name(opt);
    seqvid_optimizer *fresh;
    double lr;
    for (int i = 0; names[i]; i++)
        if (!strcmp(name, names[i])) {
            ex_check(seqvid_optimizer_create(kinds[i], &fresh), "optimizer");
            ex_check(seqvid_optimizer_get(fresh, SEQVID_OPT_LR, &lr), "optimizer");
            seqvid_optimizer_free(fresh);
            return lr;
        }
    ex_die("unknown optimizer %s", name);
}

/* --output-bias mean: every readout bias starts where the readout alone would predict the
 * training data's mean frame -- the log-odds logit(m_d) = log(m_d / (1 - m_d)) of pixel d
 * for a binary output (m_d clamped to [1e-4, 1 - 1e-4]: pixels never lit stay finite), m_d
 * itself for a real one. The initial prediction is then the mean-frame baseline instead of
 * p = 0.5 everywhere (4096 ln 2 = 2839 nats a frame), so the first steps need not spend the
 * lr walking every bias from 0 to about -3 (Adam moves a bias by ~lr a step). */
static void init_output_bias(seqvid_model *model, const float *mean_frame, int binary)
{
    size_t n_blocks, offset, rows, cols;
    const char *name;
    float *params;
    ex_check(seqvid_model_param_block_count(model, &n_blocks), "model");
    ex_check(seqvid_model_params(model, &params), "model");
    for (size_t i = 0; i < n_blocks; i++) {
        ex_check(seqvid_model_param_block(model, i, &name, &offset, &rows, &cols), "model");
        const size_t len = strlen(name), suffix = strlen(".readout.b");
        if (len < suffix || strcmp(name + len - suffix, ".readout.b")) continue;
        for (size_t d = 0; d < rows * cols; d++) {
            double m = mean_frame[d];
            if (binary) {
                m = m < 1e-4 ? 1e-4 : m > 1 - 1e-4 ? 1 - 1e-4 : m;
                m = log(m / (1 - m));
            }
            params[offset + d] = (float)m;
        }
    }
}

static void new_model(const options *o, const source *src, const float *mean_frame,
                      seqvid_model **model, seqvid_optimizer **opt)
{
    const int output = o->output >= 0 ? o->output : src->output;
    seqvid_config *cfg;
    ex_check(seqvid_config_create(&cfg), "config");
    ex_check(seqvid_config_set(cfg, SEQVID_CFG_KIND, o->kind), "--kind");
    ex_check(seqvid_config_set(cfg, SEQVID_CFG_INPUT_DIM, (double)ex_shape_dim(src->shape)),
             "frame size");
    ex_check(seqvid_config_set(cfg, SEQVID_CFG_HIDDEN, o->hidden), "--hidden");
    ex_check(seqvid_config_set(cfg, SEQVID_CFG_LAYERS, o->layers), "--layers");
    ex_check(seqvid_config_set(cfg, SEQVID_CFG_INPUT_FRAMES, (double)o->input_frames),
             "--input-frames");
    ex_check(seqvid_config_set(cfg, SEQVID_CFG_FUTURE_FRAMES, (double)o->future_frames),
             "--future-frames");
    ex_check(seqvid_config_set(cfg, SEQVID_CFG_COND_RECON, o->cond_recon), "--cond-recon");
    ex_check(seqvid_config_set(cfg, SEQVID_CFG_COND_FUTURE, o->cond_future), "--cond-future");
    ex_check(seqvid_config_set(cfg, SEQVID_CFG_OUTPUT, output), "--output");
    ex_check(seqvid_config_set(cfg, SEQVID_CFG_SEED, (double)o->src.common.seed), "--seed");
    ex_check(seqvid_config_set(cfg, SEQVID_CFG_FORGET_BIAS, o->forget_bias), "--forget-bias");
    if (o->init_weight > 0)
        ex_check(seqvid_config_set(cfg, SEQVID_CFG_INIT_WEIGHT, o->init_weight), "--init-weight");
    ex_check(seqvid_model_create(cfg, model), "model");
    seqvid_config_free(cfg);
    if (o->output_bias == OUTPUT_BIAS_MEAN) {
        if (!mean_frame) ex_die("--output-bias mean: the source has no training data to average");
        init_output_bias(*model, mean_frame, output != SEQVID_OUTPUT_REAL);
    }
    ex_check(seqvid_optimizer_create(o->optimizer, opt), "optimizer");
}

/* Everything a training run holds. */
typedef struct trainer {
    options o;
    const char *out;
    source *src;
    seqvid_model *model;
    seqvid_optimizer *opt;
    ex_model_info m;
    uint64_t step;
    seqvid_batch *batch;  /* the training batch, refilled every step */
    ex_set val_set;       /* the source's fixed held-out sequences */
    ex_baselines base;    /* on val_set */
    seqvid_batch *pics;   /* the first held-out sequences, drawn */
    size_t n_pics;
    history hist;
    FILE *csv;
    ex_losses val;        /* the last validation */
    uint64_t val_step;    /* its step */
    double peak_lr;       /* the lr the --warmup / --decay schedule scales; 0: no schedule */
    int precision;        /* SEQVID_PRECISION_* in effect (--precision) */
    double sum_rec, sum_fut; /* training losses since the last loss.csv row */
    long n_sum;
} trainer;

static void setup(trainer *t)
{
    options *o = &t->o;
    t->out = o->src.common.out_dir;
    t->val_step = UINT64_MAX;
    t->val = (ex_losses){NAN, NAN};
    t->src = source_open(&o->src, SOURCE_TRAIN);
    /* The mean training frame: a baseline of the validation, and --output-bias mean. */
    float *mean_frame = t->src->ops->mean_frame(t->src);

    /* Model and optimizer: new, or as they were at a checkpoint (with the generator's
     * random state, for the Moving MNIST source). */
    if (o->resume) {
        ex_check(seqvid_checkpoint_load(o->resume, &t->model, &t->opt, t->src->gen, &t->step),
                 o->resume);
        if (o->model_flags_given || o->optimizer_given)
            fprintf(stderr, "%s: note: the model and optimizer come from %s; the model "
                    "and --optimizer flags are ignored\n", ex_progname, o->resume);
    } else {
        new_model(o, t->src, mean_frame, &t->model, &t->opt);
    }
    if (o->lr_given || !o->resume) /* a checkpoint keeps its lr */
        ex_check(seqvid_optimizer_set(t->opt, SEQVID_OPT_LR, o->lr_given ? o->lr : default_lr(t->opt)),
                 "--lr");
    ex_check(seqvid_optimizer_set(t->opt, SEQVID_OPT_GRAD_CLIP, o->grad_clip), "--grad-clip");
    const int adam = !strcmp(optimizer_name(t->opt), "adam");
    if ((o->beta1_given || o->beta2_given) && !adam)
        ex_die("--beta1 and --beta2 are Adam's; this run's optimizer is %s",
               optimizer_name(t->opt));
    if (o->beta1_given)
        ex_check(seqvid_optimizer_set(t->opt, SEQVID_OPT_BETA1, o->beta1), "--beta1");
    if (adam && (o->beta2_given || !o->resume)) /* a checkpoint keeps its B2 */
        ex_check(seqvid_optimizer_set(t->opt, SEQVID_OPT_BETA2,
                                      o->beta2_given ? o->beta2 : DEFAULT_ADAM_BETA2), "--beta2");
    if (o->warmup || o->decay != DECAY_NONE) {
        /* The schedule scales --lr, or the optimizer kind's default: not the lr a checkpoint
         * holds, which is the schedule's value at the step it was saved. */
        t->peak_lr = o->lr_given ? o->lr : default_lr(t->opt);
        if (o->lr_min > t->peak_lr)
            ex_die("--lr-min %g is above the peak lr %g", o->lr_min, t->peak_lr);
    }
    if (o->resume && !o->lr_given && !t->peak_lr) {
        /* A run that ended its decay saved the lr it ended at: training on with it would
         * barely move. Say so rather than guess what the user wants. */
        double saved;
        ex_check(seqvid_optimizer_get(t->opt, SEQVID_OPT_LR, &saved), "optimizer");
        if (saved < 0.01 * default_lr(t->opt))
            fprintf(stderr, "%s: note: %s holds lr %g (where its decay ended) and this run has "
                    "no --decay: it trains on at that lr unless --lr is given\n", ex_progname,
                    o->resume, saved);
    }
    if (o->decay_start_given && o->decay == DECAY_NONE)
        ex_die("--decay-start says where the decay begins: it needs --decay cosine");
    if (o->weights != SEQVID_WEIGHTS_F32) /* a checkpoint holds float32 weights */
        ex_check(seqvid_experimental_model_set_weights(t->model, o->weights), "--weights");
    const int ask = o->precision == PRECISION_AUTO ? SEQVID_PRECISION_BF16 : o->precision;
    ex_check(seqvid_experimental_model_set_precision(t->model, ask), "--precision");
    int precision;
    ex_check(seqvid_experimental_model_get_precision(t->model, &precision), "--precision");
    if (o->precision == SEQVID_PRECISION_BF16 && precision != ask)
        fprintf(stderr, "%s: note: --precision bf16 needs a CPU with AVX512-BF16 (or "
                "SEQVID_NO_BF16 is set): the products stay float32\n", ex_progname);
    t->precision = precision;
    t->m = ex_model_describe(t->model);
    if (o->sample_given && o->sample_prob > 0 && !(t->m.has_fut && t->m.cond_future))
        ex_die("--sample-prob feeds the future predictor its own predictions: it needs a "
               "conditional one (--cond-future 1%s)", o->resume ? ", set when the run began" : "");
    const size_t D = ex_shape_dim(t->src->shape);
    if (t->m.dim != D)
        ex_die("%s: the model reads %zu values per frame; the data have %zu (%s)", o->resume,
               t->m.dim, D, ex_shape_name(t->src->shape));
    /* Every batch holds K + M frames (the autoencoder uses the first K). */
    const size_t n_steps = t->m.input_frames + (t->m.has_fut ? t->m.future_frames : 0);
    if (t->src->max_steps && t->src->max_steps < n_steps)
        ex_die("the sequences have %zu frames; the model needs %zu (K=%zu in%s): lower "
               "--input-frames/--future-frames", t->src->max_steps, n_steps,
               t->m.input_frames, t->m.has_fut ? " + M out" : "");

    size_t n_params;
    double lr;
    ex_check(seqvid_model_param_count(t->model, &n_params), "model");
    ex_check(seqvid_optimizer_get(t->opt, SEQVID_OPT_LR, &lr), "optimizer");
    ex_say("libseqvid %s: %s model, %zu x %zu LSTM, %s reconstruction and %s future "
           "decoders, K=%zu in, M=%zu out, %s output, %.1fM parameters\n",
           seqvid_version_string(), ex_kind_name(t->m.kind), t->m.layers, t->m.hidden,
           t->m.cond_recon ? "conditional" : "unconditioned",
           t->m.cond_future ? "conditional" : "unconditioned",
           t->m.input_frames, t->m.future_frames,
           t->m.output == SEQVID_OUTPUT_REAL ? "real (squared loss)" : "binary (cross-entropy)",
           (double)n_params / 1e6);
    ex_say("data: %s\n", t->src->description);
    char betas[64] = "";
    if (adam) {
        double b1, b2;
        ex_check(seqvid_optimizer_get(t->opt, SEQVID_OPT_BETA1, &b1), "optimizer");
        ex_check(seqvid_optimizer_get(t->opt, SEQVID_OPT_BETA2, &b2), "optimizer");
        snprintf(betas, sizeof betas, ", betas %g, %g", b1, b2);
    }
    char where[192]; /* what the products run on */
    snprintf(where, sizeof where, "BLAS threads %d (%s); %s weights%s", seqvid_get_threads(),
             ex_blas_describe(), o->weights == SEQVID_WEIGHTS_F32 ? "f32" : "f32-packed",
             t->precision == SEQVID_PRECISION_BF16 ? ", bf16 products" : "");
    if (t->peak_lr > 0) {
        char decay[96] = "", part[32] = "";
        if (o->decay_start > 0)
            snprintf(part, sizeof part, "last %g%% of the ", 100 * (1 - o->decay_start));
        if (o->decay == DECAY_COSINE)
            snprintf(decay, sizeof decay, ", cosine decay to %g over the %s%s", o->lr_min, part,
                     o->steps && o->minutes ? "steps or minutes" : o->steps ? "steps" : "minutes");
        ex_say("batch %d; %s lr %g (warm-up %ld steps%s)%s, grad clip %g; %s\n", o->batch,
               optimizer_name(t->opt), t->peak_lr, o->warmup, decay, betas, o->grad_clip, where);
    } else {
        ex_say("batch %d; %s lr %g%s, grad clip %g; %s\n", o->batch, optimizer_name(t->opt), lr,
               betas, o->grad_clip, where);
    }
    if (o->sample_given && o->sample_prob > 0) {
        ex_say("scheduled sampling: the future predictor fed its own prediction with p = %g",
               o->sample_prob);
        if (o->sample_ramp) ex_say(", rising from 0 over the first %ld steps", o->sample_ramp);
        ex_say("\n");
    } else if (o->resume && !o->sample_given) {
        double p = 0;
        if (t->m.has_fut) ex_check(seqvid_model_get(t->model, SEQVID_CFG_SAMPLE_FUTURE, &p), "model");
        if (p > 0)
            ex_say("scheduled sampling: p = %g, as the checkpoint holds it (--sample-prob "
                   "sets a schedule)\n", p);
    }
    if (o->resume) ex_say("resumed from %s at step %llu\n", o->resume, (unsigned long long)t->step);

    ex_check(seqvid_batch_create(n_steps, (size_t)o->batch, D, &t->batch), "batch");

    /* The held-out set and the baselines on it, computed once. */
    t->src->ops->held_out(t->src, &t->val_set, n_steps, (size_t)o->src.val_size,
                          (size_t)o->batch);
    t->base = ex_set_baselines(&t->val_set, &t->m, mean_frame);
    free(mean_frame);
    ex_say("validation: %zu held-out sequences; baselines on them:\n", t->val_set.n_seqs);
    ex_print_loss_table(stdout, NULL, &t->base, &t->m);
    ex_log_flush();

    /* The pictured sequences all come from the first chunk. */
    size_t first_chunk;
    ex_check(seqvid_batch_shape(t->val_set.chunks[0], NULL, &first_chunk, NULL), "batch");
    t->n_pics = first_chunk < (size_t)o->pictures ? first_chunk : (size_t)o->pictures;
    t->pics = t->n_pics ? ex_batch_slice(t->val_set.chunks[0], 0, t->n_pics, n_steps) : NULL;

    /* loss.csv: rewritten with the rows from before the checkpoint, then appended to. */
    const char *csv_path = ex_path(t->out, "loss.csv");
    if (o->resume)
        history_load(&t->hist, csv_path, (double)t->step,
                     t->step % (uint64_t)o->log_every == 0 || t->step % (uint64_t)o->val_every == 0);
    t->csv = fopen(csv_path, "w");
    if (!t->csv) ex_die("cannot write %s", csv_path);
    fputs(CSV_HEADER, t->csv);
    for (size_t i = 0; i < t->hist.n; i++) csv_row(t->csv, &t->hist, i, &t->base);
}

static void teardown(trainer *t)
{
    fclose(t->csv);
    seqvid_batch_free(t->batch);
    seqvid_batch_free(t->pics);
    ex_set_free(&t->val_set);
    free(t->hist.step), free(t->hist.train), free(t->hist.val);
    seqvid_optimizer_free(t->opt);
    seqvid_model_free(t->model);
    source_free(t->src);
}

/* ---------------------------------------------------------------------------------------
 * Training
 * ------------------------------------------------------------------------------------- */
/* A loss.csv row: the mean training losses since the last row, and `val`. */
static ex_losses add_row(trainer *t, ex_losses val)
{
    ex_losses mean = {NAN, NAN};
    if (t->n_sum && t->m.has_rec) mean.rec = t->sum_rec / (double)t->n_sum;
    if (t->n_sum && t->m.has_fut) mean.fut = t->sum_fut / (double)t->n_sum;
    history_add(&t->hist, (double)t->step, mean, val);
    csv_row(t->csv, &t->hist, t->hist.n - 1, &t->base);
    t->sum_rec = t->sum_fut = 0, t->n_sum = 0;
    return mean;
}

static void validate(trainer *t)
{
    t->val = ex_set_evaluate(t->model, &t->val_set);
    t->val_step = t->step;
}

/* Checkpoint, pictures and plot; the model file too at the end. Returns the failures. */
static int save(trainer *t, int final)
{
    int failed = 0;
    failed += ex_warn_status(seqvid_checkpoint_save(ex_path(t->out, "checkpoint.safetensors"),
                                                    t->model, t->opt, t->src->gen, t->step),
                             "checkpoint") != SEQVID_OK;
    if (final)
        failed += ex_warn_status(seqvid_model_save(t->model, ex_path(t->out, "model.safetensors")),
                                 "model") != SEQVID_OK;
    if (t->pics)
        failed += ex_write_pictures(t->model, t->pics, t->n_pics, &t->src->shape, t->out, "val",
                                    (size_t)t->o.rollout);
    failed += write_plot(ex_path(t->out, "loss.png"), &t->hist, &t->base, &t->m) != 0;
    return failed;
}

/* The learning rate of the step after global step `step`, `elapsed` seconds into this run:
 * a linear warm-up, lr = peak (step + 1) / warmup for the first --warmup steps (Adam's first
 * updates are large while its second-moment estimate is young), then with --decay cosine
 *     lr = lr_min + (peak - lr_min) (1 + cos(pi p)) / 2,
 * p in [0, 1] the fraction of the run done: of --steps, or of --minutes measured from the
 * start of this run (a run stopped by time ends at its lowest lr), whichever is further;
 * with --decay-start s the lr stays at the peak until p = s and the half cosine runs over
 * the rest, p -> (p - s) / (1 - s). */
static double scheduled_lr(const trainer *t, uint64_t step, double elapsed)
{
    const options *o = &t->o;
    double lr = t->peak_lr;
    if (o->decay == DECAY_COSINE) {
        double p = 0;
        if (o->steps) p = (double)step / (double)o->steps;
        if (o->minutes > 0) p = fmax(p, elapsed / (o->minutes * 60));
        p = fmin(p, 1.0);
        p = fmax(0.0, (p - o->decay_start) / (1 - o->decay_start));
        lr = o->lr_min + (t->peak_lr - o->lr_min) * 0.5 * (1 + cos(M_PI * p));
    }
    if ((uint64_t)o->warmup > step) lr *= (double)(step + 1) / (double)o->warmup;
    return lr;
}

/* The scheduled-sampling probability of the step after global step `step`: --sample-prob P,
 * reached linearly from 0 over the first --sample-ramp steps, p = P step / ramp. */
static double scheduled_sample_prob(const options *o, uint64_t step) {
    if ((uint64_t)o->sample_ramp > step) return o->sample_prob * (double)step / (double)o->sample_ramp;
    return o->sample_prob;
}

/* The lr of the step just taken (the schedule's value, or the constant one). */
static double current_lr(const trainer *t)
{
    double lr = NAN;
    seqvid_optimizer_get(t->opt, SEQVID_OPT_LR, &lr);
    return lr;
}

static void train(trainer *t)
{
    const options *o = &t->o;
    const double t_start = ex_now(), budget = o->minutes * 60;
    double t_steps = 0, t_drawn = 0; /* time spent in training steps; last progress line */
    /* Time waiting for training batches: the first (which may decode the footage or read
     * the frame cache) apart, then the steady state, a share of t_steps. */
    double t_data_first = -1, t_data = 0;
    double ema_rec = NAN, ema_fut = NAN;
    double t_saved = -INFINITY; /* the first validation saves */
    long run_steps = 0;
    unsigned bad = 0;

    while (!stop_requested && !(o->steps && t->step >= (uint64_t)o->steps) &&
           !(budget > 0 && ex_now() - t_start >= budget)) {
        float rec, fut;
        double t0 = ex_now();
        t->src->ops->fill(t->src, t->batch, t->step, bad);
        const double t_filled = ex_now();
        if (t_data_first < 0)
            t_data_first = t_filled - t0;
        else
            t_data += t_filled - t0;
        if (t->peak_lr > 0)
            ex_check(seqvid_optimizer_set(t->opt, SEQVID_OPT_LR,
                                          scheduled_lr(t, t->step, t0 - t_start)), "lr");
        if (o->sample_given && t->m.has_fut && t->m.cond_future)
            ex_check(seqvid_model_set(t->model, SEQVID_CFG_SAMPLE_FUTURE,
                                      scheduled_sample_prob(o, t->step)), "--sample-prob");
        int st = seqvid_model_train_step(t->model, t->opt, t->batch, &rec, &fut);
        t_steps += ex_now() - t0;
        if (st == SEQVID_ERR_NONFINITE) {
            /* Nothing was updated; another batch usually goes through. */
            ex_say("step %llu: %s; batch skipped\n", (unsigned long long)t->step + 1,
                   seqvid_last_error());
            if (++bad < MAX_BAD_STEPS) continue;
            ex_say("%d non-finite steps in a row: stopping (try a lower --lr)\n", MAX_BAD_STEPS);
            break;
        }
        ex_check(st, "training step");
        bad = 0, t->step++, run_steps++;
        t->sum_rec += rec, t->sum_fut += fut, t->n_sum++;
        ema_rec = isnan(ema_rec) ? rec : 0.95 * ema_rec + 0.05 * rec;
        ema_fut = isnan(ema_fut) ? fut : 0.95 * ema_fut + 0.05 * fut;
        const double rate = (double)run_steps / t_steps;

        const int validating = t->step % (uint64_t)o->val_every == 0;
        if (validating || t->step % (uint64_t)o->log_every == 0) {
            if (validating) validate(t);
            ex_losses mean = add_row(t, validating ? t->val : (ex_losses){NAN, NAN});
            if (!ex_progress_enabled())
                ex_say("step %llu  %.2f steps/s  lr %.3g  %s\n", (unsigned long long)t->step,
                       rate, current_lr(t), pair("train", mean));
        }
        if (validating) {
            const int f = t->m.has_fut, saving = ex_now() - t_saved >= o->save_every;
            ex_say("validation at step %llu:%s %s; %s %s over the best baseline%s\n",
                   (unsigned long long)t->step, pair("", t->val), ex_loss_unit(&t->m),
                   f ? "prediction" : "reconstruction",
                   ex_margin(f ? t->val.fut : t->val.rec, &t->base, f),
                   saving ? " (checkpoint saved)" : "");
            if (saving) {
                save(t, 0);
                t_saved = ex_now();
            } else { /* the loss plot at every validation (a failure has been reported) */
                write_plot(ex_path(t->out, "loss.png"), &t->hist, &t->base, &t->m);
            }
        }
        if (ex_progress_enabled() && (validating || ex_now() - t_drawn > 0.2)) {
            double eta = INFINITY;
            char steps[64] = "";
            if (o->steps) eta = (double)((uint64_t)o->steps - t->step) / rate;
            if (budget > 0) eta = fmin(eta, budget - (ex_now() - t_start));
            if (o->steps) snprintf(steps, sizeof steps, "/%ld", o->steps);
            ex_progress("step %llu%s | %.2f steps/s | ETA %s | lr %.3g | %s | %s",
                        (unsigned long long)t->step, steps, rate, ex_duration(eta), current_lr(t),
                        pair("train", (ex_losses){t->m.has_rec ? ema_rec : NAN,
                                                  t->m.has_fut ? ema_fut : NAN}),
                        pair("val", t->val));
            t_drawn = ex_now();
        }
    }
    if (stop_requested) ex_say("stopping on request: saving\n");
    ex_say("%ld steps in %.1f minutes (%.2f steps/s), now at step %llu\n", run_steps,
           (ex_now() - t_start) / 60, run_steps ? (double)run_steps / t_steps : 0.0,
           (unsigned long long)t->step);
    if (run_steps > 1)
        ex_say("waiting for data: %.2f s for the first batch, then %.2f s = %.2f%% of the "
               "%.1f s of the later training steps (batch + model step)\n", t_data_first, t_data,
               100 * t_data / (t_steps - t_data_first), t_steps - t_data_first);
}

int cmd_train(int argc, char **argv)
{
    trainer t = {0};
    t.o = parse_options(argc, argv);
    ex_common_apply(&t.o.src.common);
    /* From here on, Ctrl-C means: stop as soon as possible and save. */
    catch_signals();

    setup(&t);
    if (t.o.steps && t.o.minutes)
        ex_say("training to step %ld or for %g minutes, whichever comes first", t.o.steps,
               t.o.minutes);
    else if (t.o.steps)
        ex_say("training to step %ld", t.o.steps);
    else
        ex_say("training for %g minutes", t.o.minutes);
    ex_say(" (Ctrl-C stops and saves); outputs in %s/\n", t.out);

    train(&t);

    /* The final numbers (unless the last step was just validated) and files. */
    if (t.val_step != t.step) {
        validate(&t);
        add_row(&t, t.val);
    }
    int failed = save(&t, 1);
    ex_say("final validation on %zu sequences (decoders fed as at inference):\n",
           t.val_set.n_seqs);
    if (ex_log_alive()) ex_print_loss_table(stdout, &t.val, &t.base, &t.m);
    ex_log_flush();
    ex_say("wrote %s/: model.safetensors checkpoint.safetensors loss.csv loss.png%s%s\n", t.out,
           ex_shape_drawable(t.src->shape) ? " val<i>.png/.gif val<i>_rollout.png/.gif" : "",
           failed ? " (with failures)" : "");
    teardown(&t);
    return failed ? 1 : 0;
}
