/*
 * fewlabels.c -- SR15's few-labels experiment on Moving MNIST: does unsupervised pretraining
 * (a composite model) help an LSTM classifier when labels are scarce?
 *
 *   fewlabels                                   pretrain a composite model, then the table
 *   fewlabels --pretrained out/model.safetensors --seeds 3
 *   fewlabels --task direction --pretrained out/model.safetensors --seeds 3
 *
 * docs/representations.md has the measured tables and the commands that made them.
 *
 * 1. Pretraining: a composite model (unconditioned decoders, as the demo) trained on fresh
 *    Moving MNIST sequences of the *training* digits, without labels (or --pretrained).
 * 2. Labelled data: sequence i of the labelled set is what a generator over the training
 *    digits, seeded LABEL_SEED + i, draws first; its class comes from the digits' labels or
 *    their motion (--task, below). Held-out sequences come from the *test* digits (seed
 *    TEST_SEED + i), so no test digit is ever seen in training.
 * 3. For every labelled size n (100, 1,000, all) and every seed replicate r = 0..N-1
 *    (--seeds N), with the same minibatches and the same fixed budget of steps: an LSTM
 *    classifier from random weights ("scratch") and one whose LSTM stack is the pretrained
 *    encoder ("pretrained"), softmax at every step, predictions averaged over the clip
 *    (seqvid_classifier_*); and a linear softmax probe on seqvid_model_encode features
 *    (final h and c) of the pretrained encoder and of an untrained one.
 *    Replicate r uses seed s = --seed + r for everything random in a cell: the readout's
 *    initial weights (the same for both classifiers), the scratch stack's weights, the
 *    dropout stream, the minibatch order, the probes' minibatch order and the untrained
 *    encoder; and the labelled clips (r*n + i) mod --labelled, i < n (disjoint subsets
 *    while N*n <= --labelled; every replicate of "all" sees the whole set). The pretrained
 *    model and the held-out set are the same for every replicate.
 * Held-out clip accuracy goes into a table (stdout and <out>/fewlabels.md): the mean and
 * the sample standard deviation over the replicates, and the paired difference pretrained -
 * scratch (per replicate, then mean and standard deviation).
 *
 * Tasks (--task; default max):
 *   pair      two digits; class = the unordered pair {a, b} (55 classes). The digits cross
 *             and overlap (per-pixel max): a frame where they overlap is ambiguous (a 1 over
 *             a 7 looks like a 4), and which strokes belong to which digit is told by
 *             motion, so the clip carries more than any single frame.
 *   max       two digits; class = the larger of the two (10 classes, skewed: P(k) = (2k+1)%).
 *             Both digits must be read through the same crossings.
 *   single    one digit; class = the digit (10 classes). No occlusion: a sanity baseline.
 *   direction one digit; class = the compass sector of its velocity after frame 0 (the motion
 *             that carries it from frame 0 to frame 1, as seqvid_experimental_mmnist_fill_motion
 *             reports it): 0 = east, 1 = north-east, 2 = north (up the frame), .., 7 =
 *             south-east, each sector 45 degrees wide and centred on its direction. Defined
 *             by motion, as actions are: the digit's identity says nothing, and one frame
 *             only says where it is (the best guess from one frame's pixel offset is right
 *             16.5% of the time against chance 12.5%, tests/test_data.c mm_motion). Balanced:
 *             the generator's direction is uniform and a bounce maps sectors onto sectors,
 *             so each class has probability exactly 1/8.
 * --frames 1 trains and tests on the first frame alone: the control that shows what a single
 * frame tells.
 */
#define _POSIX_C_SOURCE 200809L /* strtok_r */
#define SEQVID_EXPERIMENTAL     /* seqvid_experimental_mmnist_fill_motion (--task direction) */

#include "support/cli.h"
#include "support/data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LABEL_SEED 7000000u  /* labelled sequence i: generator seed LABEL_SEED + i */
#define TEST_SEED 9000000u   /* held-out sequence i: TEST_SEED + i, over the test digits */
#define PRETRAIN_SEED 1000u  /* the unlabelled stream for pretraining (+ --seed) */
#define CHUNK 100            /* sequences per evaluation / encoding batch */
#define MAX_SIZES 8          /* --sizes */
#define MAX_SEEDS 100        /* --seeds */

/* ---------------------------------------------------------------------------------------
 * Tasks: generator labels -> class ids
 * ------------------------------------------------------------------------------------- */
enum { TASK_PAIR, TASK_MAX, TASK_SINGLE, TASK_DIRECTION, N_TASKS };
static const struct {
    const char *name;
    int digits, classes;
} tasks[] = {{"pair", 2, 55}, {"max", 2, 10}, {"single", 1, 10}, {"direction", 1, 8}};

/* The compass sector of a velocity (v_row, v_col), rows growing downwards: 0 = east,
 * 1 = north-east, 2 = north, .., 7 = south-east; sector k holds the angles within 22.5
 * degrees of k * 45 degrees (counter-clockwise from east). */
static int compass_sector(double v_row, double v_col)
{
    const double pi = 3.14159265358979323846;
    double a = atan2(-v_row, v_col); /* (-pi, pi], counter-clockwise from east */
    int k = (int)floor((a + pi / 8) / (pi / 4));
    return (k % 8 + 8) % 8;
}

/* The class of a sequence from the labels of its digits (as seqvid_mmnist_fill reports) and
 * their motion in frame 0 (seqvid_experimental_mmnist_fill_motion: row, col, v_row, v_col of
 * each digit). */
static int class_of(int task, const int *d, const double *motion0)
{
    switch (task) {
    case TASK_PAIR: { /* {a, b}, a <= b, numbered row by row: {0,0}=0, {0,1}=1, .., {9,9}=54 */
        int a = d[0] < d[1] ? d[0] : d[1], b = d[0] < d[1] ? d[1] : d[0];
        return a * 10 - a * (a - 1) / 2 + (b - a);
    }
    case TASK_MAX: return d[0] > d[1] ? d[0] : d[1];
    case TASK_DIRECTION: return compass_sector(motion0[2], motion0[3]);
    default: return d[0];
    }
}

/* ---------------------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------------------- */
typedef struct options {
    ex_common common;
    const char *pretrained; /* model file instead of pretraining */
    int task, hidden, frames, batch, layers;
    long pretrain_steps, steps, labelled, test, probe_epochs, seeds, dump;
    double lr, dropout, pretrain_lr;
    long freeze;
    long sizes[MAX_SIZES];
    int n_sizes;
} options;

enum { OPT_PRETRAINED = EX_OPT_FIRST_FREE_, OPT_TASK, OPT_HIDDEN, OPT_FRAMES, OPT_BATCH,
       OPT_PRETRAIN_STEPS, OPT_STEPS, OPT_LABELLED, OPT_TEST, OPT_LR, OPT_DROPOUT,
       OPT_PRETRAIN_LR, OPT_FREEZE, OPT_SIZES, OPT_PROBE_EPOCHS, OPT_SEEDS, OPT_DUMP };

static const struct option long_options[] = {
    {"pretrained", required_argument, NULL, OPT_PRETRAINED},
    {"task", required_argument, NULL, OPT_TASK},
    {"hidden", required_argument, NULL, OPT_HIDDEN},
    {"frames", required_argument, NULL, OPT_FRAMES},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"pretrain-steps", required_argument, NULL, OPT_PRETRAIN_STEPS},
    {"pretrain-lr", required_argument, NULL, OPT_PRETRAIN_LR},
    {"steps", required_argument, NULL, OPT_STEPS},
    {"labelled", required_argument, NULL, OPT_LABELLED},
    {"test", required_argument, NULL, OPT_TEST},
    {"lr", required_argument, NULL, OPT_LR},
    {"dropout", required_argument, NULL, OPT_DROPOUT},
    {"freeze", required_argument, NULL, OPT_FREEZE},
    {"sizes", required_argument, NULL, OPT_SIZES},
    {"probe-epochs", required_argument, NULL, OPT_PROBE_EPOCHS},
    {"seeds", required_argument, NULL, OPT_SEEDS},
    {"dump", required_argument, NULL, OPT_DUMP},
    {"help", no_argument, NULL, 'h'},
    EX_COMMON_LONG_OPTIONS,
    {NULL, 0, NULL, 0}};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [options]\n"
            "SR15's few-labels experiment: LSTM classifiers from scratch and from a pretrained\n"
            "composite model's encoder, and linear probes on its features, with 100, 1,000 and\n"
            "all labelled Moving MNIST sequences, over N seeds; held-out accuracy (mean and\n"
            "standard deviation over the seeds) in a table.\n\n"
            "  --task T            max | pair | single | direction (default max; see the\n"
            "                      source's header; direction: the compass sector of a digit's\n"
            "                      motion, 8 classes)\n"
            "  --seeds N           seed replicates of every cell: seeds --seed .. --seed+N-1,\n"
            "                      each with its own labelled subset (default 1)\n"
            "  --pretrained FILE   use this model (e.g. out/model.safetensors) instead of\n"
            "                      pretraining one; its INPUT_DIM must be 4096\n"
            "  --hidden H          LSTM units when pretraining (default 256)\n"
            "  --frames T          frames per clip; pretraining reads T, predicts T (default 10;\n"
            "                      1: the classifiers see the first frame only)\n"
            "  --pretrain-steps N  pretraining steps, batch 16 (default 2000)\n"
            "  --pretrain-lr X     Adam learning rate for pretraining (default 1e-3)\n"
            "  --steps N           training steps of every classifier: a fixed budget (default 800)\n"
            "  --batch N           classifier minibatch (default 32)\n"
            "  --lr X              Adam learning rate of the classifiers (default 3e-3)\n"
            "  --dropout X         dropout on the classifiers' inputs and outputs (default 0.2)\n"
            "  --freeze N          pretrained classifiers: encoder layers frozen for N steps,\n"
            "                      -1 for good (default 0)\n"
            "  --labelled N        size of the whole labelled set (default 10000)\n"
            "  --sizes A,B,..      labelled sizes to run, 0 = all (default 100,1000,0)\n"
            "  --test N            held-out sequences (default 1000)\n"
            "  --probe-epochs N    linear probe: passes over the labelled data, at least 300\n"
            "                      updates (default 30)\n"
            "  --dump N            write the first N labelled clips and their classes to\n"
            "                      <out>/fewlabels_clips.npy (T, N, 64, 64) and\n"
            "                      <out>/fewlabels_classes.npy (N,), then stop\n"
            "common (--digits is set by the task):\n"
            "%s"
            "  -h, --help          this help\n\n"
            "Writes <out>/fewlabels.md (the table) and, when it pretrains,\n"
            "<out>/fewlabels_pretrained.safetensors.\n",
            ex_progname, ex_common_help);
}

static void parse_sizes(options *o, const char *arg)
{
    char *copy = ex_malloc(strlen(arg) + 1), *save = NULL;
    strcpy(copy, arg);
    o->n_sizes = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (o->n_sizes == MAX_SIZES) ex_die("--sizes: at most %d sizes", MAX_SIZES);
        o->sizes[o->n_sizes++] = ex_parse_long("--sizes", tok, 0, 1L << 30);
    }
    free(copy);
    if (!o->n_sizes) ex_die("--sizes: no size given");
}

static options parse_options(int argc, char **argv)
{
    options o = {.common = {NULL, "out", 1, 0, 2},
                 .task = TASK_MAX, .hidden = 256, .frames = 10, .batch = 32, .layers = 1,
                 .pretrain_steps = 2000, .steps = 800, .labelled = 10000, .test = 1000,
                 .probe_epochs = 30, .seeds = 1, .lr = 3e-3, .dropout = 0.2, .pretrain_lr = 1e-3,
                 .sizes = {100, 1000, 0}, .n_sizes = 3};
    int c;
    while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        if (ex_common_option(&o.common, c, optarg)) continue;
        switch (c) {
        case OPT_PRETRAINED: o.pretrained = optarg; break;
        case OPT_TASK: {
            const char *names[N_TASKS + 1] = {NULL};
            for (int t = 0; t < N_TASKS; t++) names[t] = tasks[t].name;
            o.task = ex_parse_choice("--task", optarg, names);
            break;
        }
        case OPT_HIDDEN: o.hidden = (int)ex_parse_long("--hidden", optarg, 1, 1 << 14); break;
        case OPT_FRAMES: o.frames = (int)ex_parse_long("--frames", optarg, 1, 1000); break;
        case OPT_BATCH: o.batch = (int)ex_parse_long("--batch", optarg, 1, 4096); break;
        case OPT_PRETRAIN_STEPS:
            o.pretrain_steps = ex_parse_long("--pretrain-steps", optarg, 0, 1L << 40);
            break;
        case OPT_PRETRAIN_LR:
            o.pretrain_lr = ex_parse_double("--pretrain-lr", optarg, 1e-9, 10);
            break;
        case OPT_STEPS: o.steps = ex_parse_long("--steps", optarg, 1, 1L << 40); break;
        case OPT_LABELLED: o.labelled = ex_parse_long("--labelled", optarg, 1, 1L << 30); break;
        case OPT_TEST: o.test = ex_parse_long("--test", optarg, 1, 1L << 24); break;
        case OPT_LR: o.lr = ex_parse_double("--lr", optarg, 1e-9, 10); break;
        case OPT_DROPOUT: o.dropout = ex_parse_double("--dropout", optarg, 0, 0.95); break;
        case OPT_FREEZE: o.freeze = ex_parse_long("--freeze", optarg, -1, 1L << 40); break;
        case OPT_SIZES: parse_sizes(&o, optarg); break;
        case OPT_PROBE_EPOCHS:
            o.probe_epochs = ex_parse_long("--probe-epochs", optarg, 1, 100000);
            break;
        case OPT_SEEDS: o.seeds = ex_parse_long("--seeds", optarg, 1, MAX_SEEDS); break;
        case OPT_DUMP: o.dump = ex_parse_long("--dump", optarg, 1, 1L << 20); break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    if (optind < argc) ex_die("unexpected argument '%s' (see --help)", argv[optind]);
    o.common.digits = tasks[o.task].digits; /* the task decides */
    for (int i = 0; i < o.n_sizes; i++)
        if (o.sizes[i] == 0 || o.sizes[i] > o.labelled) o.sizes[i] = o.labelled;
    return o;
}

/* ---------------------------------------------------------------------------------------
 * Labelled sequence sets: sequence i is regenerated on demand from seed base + i, so a set
 * of any size costs no memory and every run sees exactly the same sequences.
 * ------------------------------------------------------------------------------------- */
typedef struct seqset {
    seqvid_mmnist *gen;
    uint64_t base;
    int task;
    seqvid_batch *one; /* one sequence */
    float *one_data;
    double *motion;    /* its digits' motion: T x 1 x digits x 4 */
    size_t T;
} seqset;

static void seqset_init(seqset *s, const seqvid_digits *digits, uint64_t base, int task,
                        size_t T)
{
    s->gen = ex_generator(digits, tasks[task].digits, base);
    s->base = base, s->task = task, s->T = T;
    ex_check(seqvid_batch_create(T, 1, EX_CANVAS * EX_CANVAS, &s->one), "batch");
    ex_check(seqvid_batch_data(s->one, &s->one_data), "batch");
    s->motion = ex_malloc(T * (size_t)tasks[task].digits * 4 * sizeof *s->motion);
}

static void seqset_free(seqset *s)
{
    seqvid_batch_free(s->one);
    seqvid_mmnist_free(s->gen);
    free(s->motion);
}

/* Sequence i into s->one; returns its class. */
static int seqset_draw(seqset *s, size_t i)
{
    int labels[2];
    ex_check(seqvid_mmnist_set(s->gen, SEQVID_MM_SEED, (double)(s->base + i)), "seed");
    ex_check(seqvid_experimental_mmnist_fill_motion(s->gen, s->one, labels, 2, s->motion,
                                                    s->T * (size_t)tasks[s->task].digits * 4),
             "Moving MNIST");
    return class_of(s->task, labels, s->motion);
}

/* Sequences idx[0..n) into slots 0..n of dst (T x n), their classes into cls (may be NULL). */
static void seqset_fill(seqset *s, const size_t *idx, size_t n, seqvid_batch *dst, int *cls)
{
    const size_t D = EX_CANVAS * EX_CANVAS;
    float *x;
    ex_check(seqvid_batch_data(dst, &x), "batch");
    for (size_t b = 0; b < n; b++) {
        int c = seqset_draw(s, idx[b]);
        for (size_t t = 0; t < s->T; t++)
            memcpy(x + (t * n + b) * D, s->one_data + t * D, D * sizeof *x);
        if (cls) cls[b] = c;
    }
}

/* The classes of sequences [0, n). */
static int *seqset_classes(seqset *s, size_t n)
{
    int *cls = ex_malloc(n * sizeof *cls);
    for (size_t i = 0; i < n; i++) cls[i] = seqset_draw(s, i);
    return cls;
}

/* A small deterministic generator for minibatch order (the library's RNG is private). */
static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void shuffle(size_t *a, size_t n, uint64_t *rng)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(mix(rng) % i), t = a[i - 1];
        a[i - 1] = a[j], a[j] = t;
    }
}

/* Minibatch indices: passes over [0, n) in shuffled order (one permutation per pass). */
typedef struct sampler {
    size_t *perm, n, pos;
    uint64_t rng;
} sampler;

static void sampler_init(sampler *s, size_t n, uint64_t seed)
{
    s->perm = ex_malloc(n * sizeof *s->perm);
    for (size_t i = 0; i < n; i++) s->perm[i] = i;
    s->n = n, s->pos = n, s->rng = seed;
}

static void sampler_next(sampler *s, size_t *out, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        if (s->pos == s->n) shuffle(s->perm, s->n, &s->rng), s->pos = 0;
        out[i] = s->perm[s->pos++];
    }
}

/* The labelled clips of one cell: clip (first + i) mod total of the labelled set, i < n. */
typedef struct subset {
    size_t first, n, total;
} subset;

static size_t subset_index(const subset *u, size_t i) { return (u->first + i) % u->total; }

/* ---------------------------------------------------------------------------------------
 * Pretraining
 * ------------------------------------------------------------------------------------- */
static seqvid_model *pretrain(const options *o, const seqvid_digits *train, const char *path)
{
    seqvid_config *cfg;
    ex_check(seqvid_config_create(&cfg), "config");
    ex_check(seqvid_config_set(cfg, SEQVID_CFG_KIND, SEQVID_COMPOSITE), "kind");
    ex_check(seqvid_config_set(cfg, SEQVID_CFG_INPUT_DIM, EX_CANVAS * EX_CANVAS), "dim");
    ex_check(seqvid_config_set(cfg, SEQVID_CFG_HIDDEN, o->hidden), "--hidden");
    ex_check(seqvid_config_set(cfg, SEQVID_CFG_INPUT_FRAMES, o->frames), "--frames");
    ex_check(seqvid_config_set(cfg, SEQVID_CFG_FUTURE_FRAMES, o->frames), "--frames");
    ex_check(seqvid_config_set(cfg, SEQVID_CFG_COND_RECON, 0), "cond");
    ex_check(seqvid_config_set(cfg, SEQVID_CFG_COND_FUTURE, 0), "cond");
    ex_check(seqvid_config_set(cfg, SEQVID_CFG_SEED, (double)o->common.seed), "--seed");
    seqvid_model *m;
    ex_check(seqvid_model_create(cfg, &m), "model");
    seqvid_config_free(cfg);
    if (o->pretrain_steps == 0) return m;

    seqvid_optimizer *opt;
    ex_check(seqvid_optimizer_create(SEQVID_OPT_ADAM, &opt), "optimizer");
    ex_check(seqvid_optimizer_set(opt, SEQVID_OPT_LR, o->pretrain_lr), "--pretrain-lr");
    ex_check(seqvid_optimizer_set(opt, SEQVID_OPT_GRAD_CLIP, 10), "grad clip");
    seqvid_mmnist *gen = ex_generator(train, tasks[o->task].digits,
                                      PRETRAIN_SEED + o->common.seed);
    seqvid_batch *batch;
    ex_check(seqvid_batch_create(2 * (size_t)o->frames, 16, EX_CANVAS * EX_CANVAS, &batch),
             "batch");
    double t0 = ex_now(), sum_r = 0, sum_f = 0;
    printf("pretraining: composite model, H=%d, %d in / %d predicted frames, batch 16, "
           "Adam %g, %ld steps on unlabelled sequences of training digits\n",
           o->hidden, o->frames, o->frames, o->pretrain_lr, o->pretrain_steps);
    for (long s = 1; s <= o->pretrain_steps; s++) {
        float rec, fut;
        ex_check(seqvid_mmnist_fill(gen, batch, NULL, 0), "Moving MNIST");
        int st = seqvid_model_train_step(m, opt, batch, &rec, &fut);
        if (st == SEQVID_ERR_NONFINITE) continue; /* nothing updated; next batch */
        ex_check(st, "pretraining step");
        sum_r += rec, sum_f += fut;
        if (s % 100 == 0 || s == o->pretrain_steps) {
            long k = s % 100 ? s % 100 : 100;
            printf("  step %ld  rec %.1f  fut %.1f nats/frame  (%.1f min)\n", s, sum_r / k,
                   sum_f / k, (ex_now() - t0) / 60);
            fflush(stdout);
            sum_r = sum_f = 0;
        }
    }
    ex_warn_status(seqvid_model_save(m, path), path);
    printf("pretrained in %.1f min; saved %s\n", (ex_now() - t0) / 60, path);
    seqvid_batch_free(batch);
    seqvid_mmnist_free(gen);
    seqvid_optimizer_free(opt);
    return m;
}

/* ---------------------------------------------------------------------------------------
 * Classifiers
 * ------------------------------------------------------------------------------------- */
typedef struct result {
    double acc, loss, train_acc, seconds;
} result;

/* Held-out clip accuracy and loss (nats per step) over the test set. */
static result evaluate(seqvid_classifier *c, seqset *test, size_t n_test)
{
    seqvid_batch *b = NULL;
    size_t *idx = ex_malloc(CHUNK * sizeof *idx);
    int *cls = ex_malloc(CHUNK * sizeof *cls);
    double correct = 0, loss = 0;
    for (size_t first = 0; first < n_test; first += CHUNK) {
        size_t n = n_test - first < CHUNK ? n_test - first : CHUNK;
        seqvid_batch_free(b);
        ex_check(seqvid_batch_create(test->T, n, EX_CANVAS * EX_CANVAS, &b), "batch");
        for (size_t i = 0; i < n; i++) idx[i] = first + i;
        seqset_fill(test, idx, n, b, cls);
        float l, a;
        ex_check(seqvid_classifier_evaluate(c, b, cls, n, &l, &a), "evaluate");
        correct += a * (double)n, loss += l * (double)n; /* full-length clips: equal weights */
    }
    seqvid_batch_free(b);
    free(idx), free(cls);
    return (result){correct / (double)n_test, loss / (double)n_test, NAN, 0};
}

/* Train c for o->steps minibatches from the clips u of the labelled set, in an order and
 * with dropout masks fixed by seed; then its held-out accuracy. */
static result train_classifier(const options *o, seqvid_classifier *c, seqset *train,
                               const subset *u, seqset *test, uint64_t seed, const char *what)
{
    double t0 = ex_now();
    const size_t n_labelled = u->n;
    ex_check(seqvid_classifier_set(c, SEQVID_CLS_DROPOUT, o->dropout), "--dropout");
    ex_check(seqvid_classifier_set(c, SEQVID_CLS_DROPOUT_SEED, (double)seed), "seed");
    seqvid_optimizer *opt;
    ex_check(seqvid_optimizer_create(SEQVID_OPT_ADAM, &opt), "optimizer");
    ex_check(seqvid_optimizer_set(opt, SEQVID_OPT_LR, o->lr), "--lr");
    ex_check(seqvid_optimizer_set(opt, SEQVID_OPT_GRAD_CLIP, 10), "grad clip");
    size_t B = (size_t)o->batch < n_labelled ? (size_t)o->batch : n_labelled;
    seqvid_batch *batch;
    ex_check(seqvid_batch_create(train->T, B, EX_CANVAS * EX_CANVAS, &batch), "batch");
    size_t *idx = ex_malloc(B * sizeof *idx);
    int *cls = ex_malloc(B * sizeof *cls);
    sampler smp;
    sampler_init(&smp, n_labelled, 12345 + seed); /* the same order for both inits */
    double acc_sum = 0;
    long acc_n = 0;
    for (long s = 1; s <= o->steps; s++) {
        sampler_next(&smp, idx, B);
        for (size_t b = 0; b < B; b++) idx[b] = subset_index(u, idx[b]);
        seqset_fill(train, idx, B, batch, cls);
        float loss, acc;
        int st = seqvid_classifier_train_step(c, opt, batch, cls, B, &loss, &acc);
        if (st == SEQVID_ERR_NONFINITE) continue;
        ex_check(st, "classifier step");
        if (s > o->steps - 50) acc_sum += acc, acc_n++; /* training accuracy at the end */
    }
    result r = evaluate(c, test, (size_t)o->test);
    r.train_acc = acc_n ? acc_sum / (double)acc_n : NAN;
    r.seconds = ex_now() - t0;
    printf("  %-22s %6zu labels, seed %llu: held-out accuracy %5.1f%%  loss %.3f  (train "
           "%5.1f%% with dropout; %.0f s)\n", what, n_labelled, (unsigned long long)seed,
           100 * r.acc, r.loss, 100 * r.train_acc, r.seconds);
    fflush(stdout);
    free(smp.perm), free(idx), free(cls);
    seqvid_batch_free(batch);
    seqvid_optimizer_free(opt);
    return r;
}

/* ---------------------------------------------------------------------------------------
 * Linear softmax probe on seqvid_model_encode features (user code: plain C, no BLAS)
 * ------------------------------------------------------------------------------------- */
/* Features of sequences [0, n) of a set: n x F, from the model's encoder. */
static float *encode_set(seqvid_model *m, seqset *s, size_t n, size_t *F_out)
{
    size_t F;
    ex_check(seqvid_model_feature_dim(m, &F), "features");
    float *feat = ex_malloc(n * F * sizeof *feat);
    size_t *idx = ex_malloc(CHUNK * sizeof *idx);
    seqvid_batch *b = NULL;
    for (size_t first = 0; first < n; first += CHUNK) {
        size_t k = n - first < CHUNK ? n - first : CHUNK;
        seqvid_batch_free(b);
        ex_check(seqvid_batch_create(s->T, k, EX_CANVAS * EX_CANVAS, &b), "batch");
        for (size_t i = 0; i < k; i++) idx[i] = first + i;
        seqset_fill(s, idx, k, b, NULL);
        ex_check(seqvid_model_encode(m, b, feat + first * F, k * F), "encode");
    }
    seqvid_batch_free(b);
    free(idx);
    *F_out = F;
    return feat;
}

/* Multinomial logistic regression on standardised features (mean and spread of the training
 * rows), L2 penalty lambda, minibatch SGD with momentum. The training rows are the rows u of
 * Xtr (and ytr). Returns held-out accuracy. */
static double linear_probe(const float *Xtr, const int *ytr, const subset *u, const float *Xte,
                           const int *yte, size_t n_te, size_t F, int C, long epochs,
                           uint64_t seed)
{
    const size_t n = u->n;
    const double lambda = 1e-3, lr = 0.1, mom = 0.9;
    double *mu = calloc(F, sizeof *mu), *sd = calloc(F, sizeof *sd);
    if (!mu || !sd) ex_die("out of memory");
    for (size_t i = 0; i < n; i++)
        for (size_t f = 0; f < F; f++) mu[f] += Xtr[subset_index(u, i) * F + f];
    for (size_t f = 0; f < F; f++) mu[f] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t f = 0; f < F; f++) sd[f] += pow(Xtr[subset_index(u, i) * F + f] - mu[f], 2);
    for (size_t f = 0; f < F; f++) sd[f] = sqrt(sd[f] / (double)n) + 1e-6;

    size_t Fc = (F + 1) * (size_t)C; /* weights [F x C] then bias [C] */
    double *W = calloc(Fc, sizeof *W), *V = calloc(Fc, sizeof *V), *G = malloc(Fc * sizeof *G);
    double *x = malloc(F * sizeof *x), *z = malloc((size_t)C * sizeof *z);
    if (!W || !V || !G || !x || !z) ex_die("out of memory");
    size_t mb = n < 100 ? n : 100;
    long updates = epochs * (long)((n + mb - 1) / mb);
    if (updates < 300) updates = 300;
    sampler smp;
    sampler_init(&smp, n, seed);
    size_t *idx = ex_malloc(mb * sizeof *idx);
    for (long step = 0; step < updates; step++) {
        sampler_next(&smp, idx, mb);
        memset(G, 0, Fc * sizeof *G);
        for (size_t r = 0; r < mb; r++) {
            const size_t row = subset_index(u, idx[r]);
            const float *xi = Xtr + row * F;
            for (size_t f = 0; f < F; f++) x[f] = (xi[f] - mu[f]) / sd[f];
            double zmax = -INFINITY, s = 0;
            for (int k = 0; k < C; k++) {
                double v = W[F * (size_t)C + (size_t)k];
                for (size_t f = 0; f < F; f++) v += x[f] * W[f * (size_t)C + (size_t)k];
                z[k] = v, zmax = fmax(zmax, v);
            }
            for (int k = 0; k < C; k++) s += (z[k] = exp(z[k] - zmax));
            for (int k = 0; k < C; k++) {
                double d = (z[k] / s - (k == ytr[row])) / (double)mb;
                for (size_t f = 0; f < F; f++) G[f * (size_t)C + (size_t)k] += d * x[f];
                G[F * (size_t)C + (size_t)k] += d;
            }
        }
        for (size_t i = 0; i < Fc; i++) {
            V[i] = mom * V[i] - lr * (G[i] + (i < F * (size_t)C ? lambda * W[i] : 0.0));
            W[i] += V[i];
        }
    }
    size_t correct = 0;
    for (size_t i = 0; i < n_te; i++) {
        for (size_t f = 0; f < F; f++) x[f] = (Xte[i * F + f] - mu[f]) / sd[f];
        int best = 0;
        double bestz = -INFINITY;
        for (int k = 0; k < C; k++) {
            double v = W[F * (size_t)C + (size_t)k];
            for (size_t f = 0; f < F; f++) v += x[f] * W[f * (size_t)C + (size_t)k];
            if (v > bestz) bestz = v, best = k;
        }
        correct += best == yte[i];
    }
    free(mu), free(sd), free(W), free(V), free(G), free(x), free(z), free(idx), free(smp.perm);
    return (double)correct / (double)n_te;
}

/* ---------------------------------------------------------------------------------------
 * The table: mean and spread over the seed replicates
 * ------------------------------------------------------------------------------------- */
/* One cell (labelled size x replicate). */
typedef struct cell {
    result scratch, pre;
    double probe_pre, probe_rnd;
    uint64_t seed;
} cell;

/* Mean and sample standard deviation (divisor n - 1; NAN for n < 2) of x[0 .. n). */
typedef struct stat {
    double mean, sd;
} stat;

static stat stats(const double *x, size_t n)
{
    double m = 0, v = 0;
    for (size_t i = 0; i < n; i++) m += x[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    return (stat){m, n > 1 ? sqrt(v / (double)(n - 1)) : NAN};
}

/* "16.7 ± 1.2%" (percent of a fraction), or "16.7%" for one replicate. */
static const char *pct(stat st, char *buf, size_t size)
{
    if (isnan(st.sd)) snprintf(buf, size, "%.1f%%", 100 * st.mean);
    else snprintf(buf, size, "%.1f ± %.1f%%", 100 * st.mean, 100 * st.sd);
    return buf;
}

typedef struct table {
    const options *o;
    int classes;
    double majority;
    const cell *cells; /* [size][replicate], MAX_SEEDS per size */
    long done;         /* replicates finished */
    const char *cmd, *pre_path;
    double t_start, t_pre;
} table;

static void write_table(FILE *f, const table *tb, int per_seed)
{
    const options *o = tb->o;
    const size_t R = (size_t)tb->done;
    fprintf(f, "\nHeld-out clip accuracy, task '%s' (%d classes; majority class %.1f%%), "
            "%ld test clips; %ld classifier steps per run; %zu seed%s (%llu..%llu)%s\n\n",
            tasks[o->task].name, tb->classes, 100 * tb->majority, o->test, o->steps, R,
            R > 1 ? "s" : "", (unsigned long long)o->common.seed,
            (unsigned long long)(o->common.seed + R - 1),
            R < (size_t)o->seeds ? " -- unfinished, more seeds to come" : "");
    fprintf(f, "| labelled clips | LSTM from scratch | LSTM from pretrained encoder | "
            "pretrained - scratch (paired) | ahead by more than the spread | linear probe, "
            "pretrained features | linear probe, untrained features |\n");
    fprintf(f, "|---:|---:|---:|---:|:---:|---:|---:|\n");
    for (int i = 0; i < o->n_sizes; i++) {
        double xs[MAX_SEEDS], xp[MAX_SEEDS], xd[MAX_SEEDS], ls[MAX_SEEDS], lp[MAX_SEEDS],
            qp[MAX_SEEDS], qr[MAX_SEEDS];
        for (size_t r = 0; r < R; r++) {
            const cell *c = &tb->cells[(size_t)i * MAX_SEEDS + r];
            xs[r] = c->scratch.acc, xp[r] = c->pre.acc, xd[r] = c->pre.acc - c->scratch.acc;
            ls[r] = c->scratch.loss, lp[r] = c->pre.loss;
            qp[r] = c->probe_pre, qr[r] = c->probe_rnd;
        }
        stat ss = stats(xs, R), sp = stats(xp, R), sd = stats(xd, R);
        char b1[48], b2[48], b3[48], b4[48], b5[48];
        if (isnan(sd.sd)) snprintf(b3, sizeof b3, "%+.1f", 100 * sd.mean);
        else snprintf(b3, sizeof b3, "%+.1f ± %.1f", 100 * sd.mean, 100 * sd.sd);
        /* "the seed spread": the largest of the three standard deviations */
        double spread = fmax(fmax(ss.sd, sp.sd), sd.sd);
        fprintf(f, "| %ld%s | %s (%.2f) | %s (%.2f) | %s | %s | %s | %s |\n", o->sizes[i],
                o->sizes[i] == o->labelled ? " (all)" : "", pct(ss, b1, sizeof b1),
                stats(ls, R).mean, pct(sp, b2, sizeof b2), stats(lp, R).mean, b3,
                isnan(spread) ? "n/a" : sd.mean > spread ? "yes" : "no",
                pct(stats(qp, R), b4, sizeof b4), pct(stats(qr, R), b5, sizeof b5));
    }
    fprintf(f, "\n(Mean ± sample standard deviation over the seeds, in points of accuracy. LSTM "
            "columns: accuracy (mean held-out cross-entropy, nats per step). \"pretrained - "
            "scratch\": the per-seed difference, same seed, same labelled clips and minibatches. "
            "\"ahead by more than the spread\": the mean difference exceeds the largest of the "
            "standard deviations of scratch, pretrained and their difference.)\n");
    if (per_seed) {
        fprintf(f, "\nPer seed (labelled clips: (r*n + i) mod %ld for replicate r):\n\n"
                "| labelled clips | seed | scratch | pretrained | probe, pretrained | probe, "
                "untrained |\n|---:|---:|---:|---:|---:|---:|\n", o->labelled);
        for (int i = 0; i < o->n_sizes; i++)
            for (size_t r = 0; r < R; r++) {
                const cell *c = &tb->cells[(size_t)i * MAX_SEEDS + r];
                fprintf(f, "| %ld | %llu | %.1f%% (%.2f) | %.1f%% (%.2f) | %.1f%% | %.1f%% |\n",
                        o->sizes[i], (unsigned long long)c->seed, 100 * c->scratch.acc,
                        c->scratch.loss, 100 * c->pre.acc, c->pre.loss, 100 * c->probe_pre,
                        100 * c->probe_rnd);
            }
    }
    fprintf(f, "\ncommand: `%s`; pretrained model: %s; total %.1f min (pretraining %.1f)\n",
            tb->cmd, tb->pre_path, (ex_now() - tb->t_start) / 60, tb->t_pre / 60);
}

/* <out>/fewlabels.md, rewritten after every replicate so that a stopped run keeps its rows. */
static void save_table(const table *tb)
{
    const char *path = ex_path(tb->o->common.out_dir, "fewlabels.md");
    FILE *md = fopen(path, "w");
    if (!md) {
        fprintf(stderr, "%s: warning: cannot write %s\n", ex_progname, path);
        return;
    }
    write_table(md, tb, 1);
    if (fclose(md) != 0) fprintf(stderr, "%s: warning: cannot write %s\n", ex_progname, path);
}

/* --dump: the first n labelled clips and their classes as .npy files. */
static void dump(const options *o, seqset *lab)
{
    const size_t n = (size_t)o->dump, T = lab->T, D = EX_CANVAS * EX_CANVAS;
    seqvid_batch *b;
    ex_check(seqvid_batch_create(T, n, D, &b), "batch");
    size_t *idx = ex_malloc(n * sizeof *idx);
    int *cls = ex_malloc(n * sizeof *cls);
    float *x, *y = ex_malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) idx[i] = i;
    seqset_fill(lab, idx, n, b, cls);
    for (size_t i = 0; i < n; i++) y[i] = (float)cls[i];
    ex_check(seqvid_batch_data(b, &x), "batch");
    const size_t shape[4] = {T, n, EX_CANVAS, EX_CANVAS};
    const char *clips = ex_path(o->common.out_dir, "fewlabels_clips.npy");
    const char *classes = ex_path(o->common.out_dir, "fewlabels_classes.npy");
    ex_check(seqvid_npy_save(clips, x, 4, shape), clips);
    ex_check(seqvid_npy_save(classes, y, 1, &n), classes);
    printf("wrote %s and %s: the first %zu labelled clips of task '%s'\n", clips, classes, n,
           tasks[o->task].name);
    free(idx), free(cls), free(y);
    seqvid_batch_free(b);
}

/* A config of the pretrained model's LSTM stack (input, width, layers, peepholes) with the
 * given weight seed: what the scratch classifiers and the untrained encoder are made of. */
static seqvid_config *stack_config(const seqvid_model *m, uint64_t seed)
{
    static const int keys[] = {SEQVID_CFG_INPUT_DIM, SEQVID_CFG_HIDDEN, SEQVID_CFG_LAYERS,
                               SEQVID_CFG_PEEPHOLES};
    seqvid_config *cfg;
    ex_check(seqvid_config_create(&cfg), "config");
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        double v;
        ex_check(seqvid_model_get(m, keys[k], &v), "model");
        ex_check(seqvid_config_set(cfg, keys[k], v), "config");
    }
    ex_check(seqvid_config_set(cfg, SEQVID_CFG_SEED, (double)seed), "seed");
    return cfg;
}

/* ---------------------------------------------------------------------------------------
 * The experiment
 * ------------------------------------------------------------------------------------- */
int main(int argc, char **argv)
{
    ex_progname = "fewlabels";
    ex_blas_restart(argv);
    options o = parse_options(argc, argv);
    ex_common_apply(&o.common);
    const int C = tasks[o.task].classes;
    double t_start = ex_now();

    seqvid_digits *train = ex_load_digits(o.common.data_dir, 0, 1);
    seqvid_digits *test = ex_load_digits(o.common.data_dir, 1, 1);
    int label;
    if (o.task != TASK_DIRECTION && (seqvid_digits_label(train, 0, &label) != SEQVID_OK ||
                                     seqvid_digits_label(test, 0, &label) != SEQVID_OK))
        ex_die("the digits have no labels (the IDX label files are needed)");
    seqset lab, held;
    seqset_init(&lab, train, LABEL_SEED, o.task, (size_t)o.frames);
    seqset_init(&held, test, TEST_SEED, o.task, (size_t)o.frames);
    if (o.dump) {
        dump(&o, &lab);
        seqset_free(&lab), seqset_free(&held);
        seqvid_digits_free(train), seqvid_digits_free(test);
        return 0;
    }

    /* 1. The pretrained model. */
    seqvid_model *model;
    const char *pre_path = o.pretrained;
    if (o.pretrained) {
        ex_check(seqvid_model_load(o.pretrained, &model), o.pretrained);
        double d, h, l, k;
        ex_check(seqvid_model_get(model, SEQVID_CFG_INPUT_DIM, &d), "model");
        ex_check(seqvid_model_get(model, SEQVID_CFG_HIDDEN, &h), "model");
        ex_check(seqvid_model_get(model, SEQVID_CFG_LAYERS, &l), "model");
        ex_check(seqvid_model_get(model, SEQVID_CFG_INPUT_FRAMES, &k), "model");
        if (d != EX_CANVAS * EX_CANVAS)
            ex_die("%s reads %g values per frame, not 64 x 64 frames", o.pretrained, d);
        o.hidden = (int)h, o.layers = (int)l;
        printf("pretrained model: %s (H=%d, %d layer%s, trained on %g input frames)\n",
               o.pretrained, o.hidden, o.layers, o.layers > 1 ? "s" : "", k);
    } else {
        pre_path = ex_path(o.common.out_dir, "fewlabels_pretrained.safetensors");
        model = pretrain(&o, train, pre_path);
    }
    double t_pre = ex_now() - t_start;

    /* 2. Labelled and held-out classes. */
    int *y_lab = seqset_classes(&lab, (size_t)o.labelled);
    int *y_test = seqset_classes(&held, (size_t)o.test);
    long *count = ex_calloc((size_t)C, sizeof *count);
    for (long i = 0; i < o.test; i++) count[y_test[i]]++;
    long most = 0;
    for (int k = 0; k < C; k++) most = count[k] > most ? count[k] : most;
    double majority = (double)most / (double)o.test;
    free(count);
    printf("task '%s': %d classes, %d digit%s per clip of %d frame%s; labelled set: %ld "
           "sequences of training digits; held out: %ld sequences of test digits (majority "
           "class %.1f%%); %ld seed%s\n", tasks[o.task].name, C, tasks[o.task].digits,
           tasks[o.task].digits > 1 ? "s" : "", o.frames, o.frames > 1 ? "s" : "", o.labelled,
           o.test, 100 * majority, o.seeds, o.seeds > 1 ? "s" : "");

    /* 3. Features of the pretrained encoder for the probes: of every labelled clip that some
     *    replicate uses, and of the held-out clips. */
    double t_feat = ex_now();
    size_t F, n_feat = 0;
    for (int i = 0; i < o.n_sizes; i++) {
        size_t need = (size_t)o.seeds * (size_t)o.sizes[i];
        n_feat = need > n_feat ? need : n_feat;
    }
    if (n_feat > (size_t)o.labelled) n_feat = (size_t)o.labelled;
    for (int i = 0; i < o.n_sizes; i++)
        if (o.sizes[i] < o.labelled && o.seeds * o.sizes[i] > o.labelled)
            printf("note: %ld seeds x %ld clips > %ld labelled: the replicates' subsets of "
                   "%ld overlap\n", o.seeds, o.sizes[i], o.labelled, o.sizes[i]);
    float *f_pre = encode_set(model, &lab, n_feat, &F);
    float *f_pre_te = encode_set(model, &held, (size_t)o.test, &F);
    printf("features: %zu per clip (final h, c), %zu labelled and %ld held-out clips encoded "
           "in %.0f s\n", F, n_feat, o.test, ex_now() - t_feat);

    /* 4. The runs: replicate by replicate, every size. */
    printf("classifiers: %d x %d LSTM + softmax at every step, %ld steps of %d clips, Adam "
           "%g, grad clip 10, dropout %g%s\n", o.layers, o.hidden, o.steps, o.batch, o.lr,
           o.dropout, o.freeze ? (o.freeze < 0 ? ", pretrained encoder frozen"
                                                : ", encoder frozen at first") : "");
    char cmd[2048] = "";
    for (int i = 0; i < argc; i++) {
        size_t len = strlen(cmd);
        snprintf(cmd + len, sizeof cmd - len, "%s%s", i ? " " : "", argv[i]);
    }
    cell *cells = ex_calloc((size_t)o.n_sizes * MAX_SEEDS, sizeof *cells);
    table tb = {&o, C, majority, cells, 0, cmd, pre_path, t_start, t_pre};
    for (long r = 0; r < o.seeds; r++) {
        const uint64_t seed = o.common.seed + (uint64_t)r;
        /* the untrained control: an encoder of the same shape, this replicate's weights */
        seqvid_model *fresh;
        seqvid_config *cfg = stack_config(model, seed);
        ex_check(seqvid_model_create(cfg, &fresh), "model");
        float *f_rnd = encode_set(fresh, &lab, n_feat, &F);
        float *f_rnd_te = encode_set(fresh, &held, (size_t)o.test, &F);
        seqvid_model_free(fresh);
        for (int i = 0; i < o.n_sizes; i++) {
            const size_t n = (size_t)o.sizes[i];
            const subset u = {((size_t)r * n) % (size_t)o.labelled, n, (size_t)o.labelled};
            cell *c = &cells[(size_t)i * MAX_SEEDS + (size_t)r];
            c->seed = seed;
            /* scratch and pretrained: the same config and seed, so the same readout; the
             * pretrained one's stack is then overwritten by the encoder */
            seqvid_classifier *k;
            ex_check(seqvid_classifier_create(cfg, C, &k), "classifier");
            c->scratch = train_classifier(&o, k, &lab, &u, &held, seed, "scratch");
            seqvid_classifier_free(k);

            ex_check(seqvid_classifier_create(cfg, C, &k), "classifier");
            ex_check(seqvid_classifier_copy_encoder(k, model), "pretrained encoder");
            ex_check(seqvid_classifier_set(k, SEQVID_CLS_FREEZE_STEPS, (double)o.freeze),
                     "--freeze");
            c->pre = train_classifier(&o, k, &lab, &u, &held, seed, "pretrained encoder");
            seqvid_classifier_free(k);

            double tp = ex_now();
            c->probe_pre = linear_probe(f_pre, y_lab, &u, f_pre_te, y_test, (size_t)o.test, F,
                                        C, o.probe_epochs, 99 + seed);
            c->probe_rnd = linear_probe(f_rnd, y_lab, &u, f_rnd_te, y_test, (size_t)o.test, F,
                                        C, o.probe_epochs, 99 + seed);
            printf("  linear probe           %6zu labels, seed %llu: pretrained features "
                   "%5.1f%%, untrained encoder's features %5.1f%%  (%.0f s)\n", n,
                   (unsigned long long)seed, 100 * c->probe_pre, 100 * c->probe_rnd,
                   ex_now() - tp);
            fflush(stdout);
        }
        seqvid_config_free(cfg);
        free(f_rnd), free(f_rnd_te);
        tb.done = r + 1;
        save_table(&tb);
    }

    /* 5. The table. */
    write_table(stdout, &tb, 0);
    printf("wrote %s\n", ex_path(o.common.out_dir, "fewlabels.md"));

    free(cells);
    free(f_pre), free(f_pre_te), free(y_lab), free(y_test);
    seqset_free(&lab), seqset_free(&held);
    seqvid_model_free(model);
    seqvid_digits_free(train), seqvid_digits_free(test);
    return 0;
}
