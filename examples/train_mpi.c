/*
 * train_mpi.c -- train a libseqvid model on Moving MNIST across MPI ranks (data parallel).
 *
 *   mpirun -np 2 train_mpi --steps 1000                  2 ranks, global batch 16
 *   mpirun -np 4 train_mpi --batch 80 --micro 10 --hidden 2048 --steps 100000
 *   mpirun -np 1 train_mpi --resume out/checkpoint.safetensors --micro 10 --steps 200000
 *
 * Every step trains on one global batch of --batch sequences, cut into micro-batches of
 * --micro sequences that are spread over the ranks (contiguous, as evenly as they go).
 * Sequence i of step s is drawn from a generator seeded with a hash of (--seed, s, i), so the
 * data do not depend on the number of ranks, and with the same --micro the weights are
 * bitwise the same on any number of ranks (libseqvid_mpi's exact reduction; see
 * docs/distributed.md). A checkpoint therefore resumes on any number of ranks.
 *
 * Rank 0 alone validates, prints progress, and writes pictures and checkpoints (into --out,
 * which need only exist for rank 0). All ranks read the MNIST digits (--data: the same files
 * on every node). SIGUSR1 to mpirun (which forwards it), or SIGINT/SIGTERM delivered to the
 * ranks, stops every rank at the same step and saves.
 */
#define _XOPEN_SOURCE 700 /* sigaction */

#include "support/cli.h"
#include "support/data.h"
#include "support/evaluate.h"
#include "support/pictures.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <seqvid_mpi.h>

#define DEFAULT_HIDDEN 512
#define DEFAULT_BATCH 16
#define N_PICTURES 4
#define ROLLOUT 100
#define MAX_BAD_STEPS 20
#define WARMUP_STEPS 2 /* left out of the timing summary (allocation, caches) */

typedef struct options {
    ex_common common;
    int kind, hidden, layers, cond, batch, micro, optimizer;
    double lr, grad_clip, minutes;
    long steps, val_every, val_size, log_every;
    const char *resume;
    int lr_given, threads_given;
} options;

enum { OPT_KIND = EX_OPT_FIRST_FREE_, OPT_HIDDEN, OPT_LAYERS, OPT_COND, OPT_UNCOND, OPT_BATCH,
       OPT_MICRO, OPT_OPTIMIZER, OPT_LR, OPT_GRAD_CLIP, OPT_STEPS, OPT_MINUTES, OPT_RESUME,
       OPT_VAL_EVERY, OPT_VAL_SIZE, OPT_LOG_EVERY };

static const struct option long_options[] = {
    {"kind", required_argument, NULL, OPT_KIND},
    {"hidden", required_argument, NULL, OPT_HIDDEN},
    {"layers", required_argument, NULL, OPT_LAYERS},
    {"cond", no_argument, NULL, OPT_COND},
    {"uncond", no_argument, NULL, OPT_UNCOND},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"micro", required_argument, NULL, OPT_MICRO},
    {"optimizer", required_argument, NULL, OPT_OPTIMIZER},
    {"lr", required_argument, NULL, OPT_LR},
    {"grad-clip", required_argument, NULL, OPT_GRAD_CLIP},
    {"steps", required_argument, NULL, OPT_STEPS},
    {"minutes", required_argument, NULL, OPT_MINUTES},
    {"resume", required_argument, NULL, OPT_RESUME},
    {"val-every", required_argument, NULL, OPT_VAL_EVERY},
    {"val-size", required_argument, NULL, OPT_VAL_SIZE},
    {"log-every", required_argument, NULL, OPT_LOG_EVERY},
    {"help", no_argument, NULL, 'h'},
    EX_COMMON_LONG_OPTIONS,
    {NULL, 0, NULL, 0}};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mpirun [-np P] %s [options]\n"
            "Train an LSTM encoder-decoder (SR15) on Moving MNIST across MPI ranks.\n\n"
            "model (taken from the checkpoint with --resume):\n"
            "  --kind K           ae | fp | composite (default composite)\n"
            "  --hidden H         LSTM units per layer (default %d)\n"
            "  --layers L         layers per LSTM stack (default 1)\n"
            "  --cond, --uncond   decoders conditioned on the previous frame or not (default --uncond)\n"
            "training:\n"
            "  --batch N          sequences per step, over all ranks (default %d)\n"
            "  --micro N          sequences per micro-batch (default: batch / ranks, one\n"
            "                     micro-batch per rank). With the same --micro the weights are\n"
            "                     bitwise the same on any number of ranks; a rank holding k\n"
            "                     micro-batches keeps k-1 extra gradient arrays\n"
            "  --optimizer O      sgd | rmsprop | adam (default adam)\n"
            "  --lr X             learning rate (default: the optimizer's, adam 1e-3)\n"
            "  --grad-clip X      clip the gradient's global L2 norm to X, 0 off (default 10)\n"
            "  --steps N          stop at step N (counted from the start, also with --resume)\n"
            "  --minutes M        stop after M minutes of this run (default 10 unless --steps)\n"
            "  --resume FILE      continue from a checkpoint (made on any number of ranks)\n"
            "  --val-every N      validate, save a checkpoint and pictures every N steps (default 200)\n"
            "  --val-size N       validation sequences (default 256)\n"
            "  --log-every N      a progress line every N steps (default 50)\n"
            "common:\n"
            "%s"
            "                     (here the default is cores per node / ranks per node)\n"
            "  -h, --help         this help\n\n"
            "Rank 0 writes into --out (default out/): checkpoint.safetensors, model.safetensors,\n"
            "val<i>.png/.gif and val<i>_rollout.png/.gif. At the end it prints where the step\n"
            "time went (gradients, agreement, packing, allreduce, update) and the throughput.\n",
            ex_progname, DEFAULT_HIDDEN, DEFAULT_BATCH, ex_common_help);
}

static options parse_options(int argc, char **argv)
{
    options o = {.common = {NULL, "out", 1, 0, 2},
                 .kind = SEQVID_COMPOSITE, .hidden = DEFAULT_HIDDEN, .layers = 1, .cond = 0,
                 .batch = DEFAULT_BATCH, .optimizer = SEQVID_OPT_ADAM, .grad_clip = 10,
                 .val_every = 200, .val_size = 256, .log_every = 50};
    int c;
    while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        if (c == EX_OPT_THREADS) o.threads_given = 1;
        if (ex_common_option(&o.common, c, optarg)) continue;
        switch (c) {
        case OPT_KIND:
            o.kind = ex_parse_kind("--kind", optarg);
            break;
        case OPT_HIDDEN: o.hidden = (int)ex_parse_long("--hidden", optarg, 1, 1 << 16); break;
        case OPT_LAYERS: o.layers = (int)ex_parse_long("--layers", optarg, 1, 64); break;
        case OPT_COND: case OPT_UNCOND: o.cond = c == OPT_COND; break;
        case OPT_BATCH: o.batch = (int)ex_parse_long("--batch", optarg, 1, 1 << 20); break;
        case OPT_MICRO: o.micro = (int)ex_parse_long("--micro", optarg, 1, 1 << 20); break;
        case OPT_OPTIMIZER:
            o.optimizer = ex_parse_optimizer("--optimizer", optarg);
            break;
        case OPT_LR: o.lr = ex_parse_double("--lr", optarg, 1e-12, 1e3); o.lr_given = 1; break;
        case OPT_GRAD_CLIP: o.grad_clip = ex_parse_double("--grad-clip", optarg, 0, 1e12); break;
        case OPT_STEPS: o.steps = ex_parse_long("--steps", optarg, 1, 1L << 50); break;
        case OPT_MINUTES: o.minutes = ex_parse_double("--minutes", optarg, 1e-3, 1e7); break;
        case OPT_RESUME: o.resume = optarg; break;
        case OPT_VAL_EVERY: o.val_every = ex_parse_long("--val-every", optarg, 1, 1L << 50); break;
        case OPT_VAL_SIZE: o.val_size = ex_parse_long("--val-size", optarg, 1, 1 << 20); break;
        case OPT_LOG_EVERY: o.log_every = ex_parse_long("--log-every", optarg, 1, 1L << 50); break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    if (optind < argc) ex_die("unexpected argument '%s' (see --help)", argv[optind]);
    if (!o.steps && !o.minutes) o.minutes = 10;
    return o;
}

/* ---------------------------------------------------------------------------------------
 * Ranks
 * ------------------------------------------------------------------------------------- */
static int rank, n_ranks;

/* End every rank after a failure they all agreed on (rank 0 says why). */
static void die_all(int status, const char *what)
{
    if (rank == 0)
        fprintf(stderr, "%s: %s: %s: %s\n", ex_progname, what, seqvid_status_string(status),
                seqvid_mpi_last_error());
    MPI_Finalize();
    exit(1);
}

static void check_all(int status, const char *what)
{
    if (status != SEQVID_OK) die_all(status, what);
}

/* BLAS threads when --threads is not given: this node's cores shared by its ranks. */
static int default_threads(void)
{
    MPI_Comm node;
    int local = 1;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &local);
    MPI_Comm_free(&node);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int t = cores > 0 ? (int)(cores / local) : 1;
    return t > 0 ? t : 1;
}

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* ---------------------------------------------------------------------------------------
 * Data: sequence i of step s depends on (seed, s, i) only
 * ------------------------------------------------------------------------------------- */
static uint64_t mix(uint64_t x) /* splitmix64's finaliser */
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

typedef struct data {
    seqvid_mmnist *gen;
    seqvid_batch *one; /* a single sequence, filled then copied into a micro-batch */
    size_t n_steps, D;
} data;

/* Fill micro-batch `mb` with global sequences first .. first+S-1 of step `step`. */
static void fill_micro(data *d, uint64_t seed, uint64_t step, size_t first, seqvid_batch *mb)
{
    size_t S;
    float *x, *one;
    ex_check(seqvid_batch_shape(mb, NULL, &S, NULL), "batch");
    ex_check(seqvid_batch_data(mb, &x), "batch");
    ex_check(seqvid_batch_data(d->one, &one), "batch");
    for (size_t b = 0; b < S; b++) {
        uint64_t s = mix(mix(mix(seed) ^ step) ^ (first + b)) >> 11; /* < 2^53 */
        ex_check(seqvid_mmnist_set(d->gen, SEQVID_MM_SEED, (double)s), "generator seed");
        ex_check(seqvid_mmnist_fill(d->gen, d->one, NULL, 0), "Moving MNIST");
        for (size_t t = 0; t < d->n_steps; t++)
            memcpy(x + (t * S + b) * d->D, one + t * d->D, d->D * sizeof *x);
    }
}

/* ---------------------------------------------------------------------------------------
 * Rank 0: validation, pictures, checkpoints
 * ------------------------------------------------------------------------------------- */
typedef struct reporter {
    seqvid_digits *test_digits;
    ex_set val_set;
    ex_baselines base;
    seqvid_batch *pics;
    size_t n_pics;
    ex_model_info m;
} reporter;

static void reporter_setup(reporter *r, const options *o, seqvid_model *model, size_t n_steps,
                           const seqvid_digits *train_digits)
{
    r->m = ex_model_describe(model);
    r->test_digits = ex_load_digits(o->common.data_dir, 1, 1);
    seqvid_mmnist *val_gen = ex_generator(r->test_digits, o->common.digits, EX_VAL_SEED);
    ex_set_generate(&r->val_set, val_gen, n_steps, (size_t)o->val_size, (size_t)o->batch);
    seqvid_mmnist_free(val_gen);
    float *mean_frame = ex_mean_frame(train_digits, o->common.digits, 10000);
    r->base = ex_set_baselines(&r->val_set, &r->m, mean_frame);
    free(mean_frame);
    size_t first_chunk;
    ex_check(seqvid_batch_shape(r->val_set.chunks[0], NULL, &first_chunk, NULL), "batch");
    r->n_pics = first_chunk < N_PICTURES ? first_chunk : N_PICTURES;
    r->pics = ex_batch_slice(r->val_set.chunks[0], 0, r->n_pics, n_steps);
}

static void reporter_free(reporter *r)
{
    seqvid_batch_free(r->pics);
    ex_set_free(&r->val_set);
    seqvid_digits_free(r->test_digits);
}

static ex_losses validate(reporter *r, seqvid_model *model, uint64_t step, int pictures,
                          const char *out)
{
    ex_losses val = ex_set_evaluate(model, &r->val_set);
    printf("validation at step %llu:", (unsigned long long)step);
    if (r->m.has_rec) printf(" rec %.1f", val.rec);
    if (r->m.has_fut) printf(" fut %.1f", val.fut);
    printf(" nats/frame (fed back); %s %s over the best baseline\n",
           r->m.has_fut ? "prediction" : "reconstruction",
           r->m.has_fut ? ex_margin(val.fut, &r->base, 1)
                        : ex_margin(val.rec, &r->base, 0));
    if (pictures) ex_write_pictures(model, r->pics, r->n_pics, NULL, out, "val", ROLLOUT);
    fflush(stdout);
    return val;
}

/* ---------------------------------------------------------------------------------------
 * Main
 * ------------------------------------------------------------------------------------- */
static const char *timer_names[SEQVID_MPI_T_COUNT_] = {"gradients", "agree", "pack",
                                                        "allreduce", "update"};

int main(int argc, char **argv)
{
    ex_progname = "train_mpi";
    /* --help and bad flags need no MPI (and no mpirun). */
    options o = parse_options(argc, argv);

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &n_ranks);
    if (rank) {
        static char name[48];
        snprintf(name, sizeof name, "train_mpi[rank %d]", rank);
        ex_progname = name;
        o.common.out_dir = "."; /* rank 0 alone writes; nothing is created elsewhere */
    }
    if (!o.threads_given) o.common.threads = default_threads();
    if (rank == 0) ex_common_apply(&o.common);
    else ex_check(seqvid_set_threads(o.common.threads), "--threads");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL); /* Open MPI's mpirun forwards USR1 to every rank */

    seqvid_mpi *ctx;
    ex_check(seqvid_mpi_create(MPI_COMM_WORLD, &ctx), "seqvid_mpi_create");

    /* Model and optimizer, the same on every rank. */
    seqvid_model *model = NULL;
    seqvid_optimizer *opt = NULL;
    uint64_t step = 0;
    if (o.resume) {
        check_all(seqvid_mpi_checkpoint_load(ctx, o.resume, &model, &opt, NULL, &step), o.resume);
    } else {
        seqvid_config *cfg;
        ex_check(seqvid_config_create(&cfg), "config");
        ex_check(seqvid_config_set(cfg, SEQVID_CFG_KIND, o.kind), "--kind");
        ex_check(seqvid_config_set(cfg, SEQVID_CFG_INPUT_DIM, EX_CANVAS * EX_CANVAS), "frames");
        ex_check(seqvid_config_set(cfg, SEQVID_CFG_HIDDEN, o.hidden), "--hidden");
        ex_check(seqvid_config_set(cfg, SEQVID_CFG_LAYERS, o.layers), "--layers");
        ex_check(seqvid_config_set(cfg, SEQVID_CFG_COND_RECON, o.cond), "--cond");
        ex_check(seqvid_config_set(cfg, SEQVID_CFG_COND_FUTURE, o.cond), "--cond");
        ex_check(seqvid_config_set(cfg, SEQVID_CFG_SEED, (double)o.common.seed), "--seed");
        ex_check(seqvid_model_create(cfg, &model), "model");
        seqvid_config_free(cfg);
        ex_check(seqvid_optimizer_create(o.optimizer, &opt), "optimizer");
        /* Same seed, same weights; the broadcast makes it so whatever the ranks did. */
        check_all(seqvid_mpi_broadcast_params(ctx, model), "broadcast");
    }
    if (o.lr_given) ex_check(seqvid_optimizer_set(opt, SEQVID_OPT_LR, o.lr), "--lr");
    ex_check(seqvid_optimizer_set(opt, SEQVID_OPT_GRAD_CLIP, o.grad_clip), "--grad-clip");
    ex_model_info m = ex_model_describe(model);
    if (m.dim != EX_CANVAS * EX_CANVAS)
        ex_die("the model reads %zu values per frame, not %d x %d frames", m.dim, EX_CANVAS,
               EX_CANVAS);

    /* The global batch in micro-batches; this rank's are [first, first + count). */
    const size_t batch = (size_t)o.batch;
    const size_t micro = o.micro ? (size_t)o.micro : (batch + (size_t)n_ranks - 1) / (size_t)n_ranks;
    const size_t n_micro = (batch + micro - 1) / micro;
    const size_t first = (size_t)rank * n_micro / (size_t)n_ranks;
    const size_t count = (size_t)(rank + 1) * n_micro / (size_t)n_ranks - first;
    const size_t n_steps = m.input_frames + m.future_frames, D = m.dim;
    seqvid_batch **mb = ex_malloc((count ? count : 1) * sizeof *mb);
    for (size_t j = 0; j < count; j++) {
        size_t S = (first + j + 1) * micro <= batch ? micro : batch - (first + j) * micro;
        ex_check(seqvid_batch_create(n_steps, S, D, &mb[j]), "batch");
    }

    seqvid_digits *train_digits = ex_load_digits(o.common.data_dir, 0, 1);
    data d = {ex_generator(train_digits, o.common.digits, o.common.seed), NULL, n_steps, D};
    ex_check(seqvid_batch_create(n_steps, 1, D, &d.one), "batch");

    reporter rep = {0};
    size_t n_params;
    ex_check(seqvid_model_param_count(model, &n_params), "model");
    if (rank == 0) {
        printf("libseqvid %s on %d MPI rank%s x %d BLAS thread%s: %zu x %zu LSTM, %.1fM "
               "parameters (%.1f MB of gradients allreduced per step)\n",
               seqvid_version_string(), n_ranks, n_ranks > 1 ? "s" : "", o.common.threads,
               o.common.threads > 1 ? "s" : "", m.layers, m.hidden, (double)n_params / 1e6,
               (double)n_params * 4 / 1e6);
        printf("global batch %zu = %zu micro-batch%s of %zu; rank 0 holds %zu\n", batch,
               n_micro, n_micro > 1 ? "es" : "", micro, count);
        if (o.resume) printf("resumed from %s at step %llu\n", o.resume, (unsigned long long)step);
        reporter_setup(&rep, &o, model, n_steps, train_digits);
        printf("validation: %zu sequences of test digits; baselines:\n", rep.val_set.n_seqs);
        ex_print_loss_table(stdout, NULL, &rep.base, &rep.m);
        fflush(stdout);
    }

    /* Training. Every rank leaves the loop at the same step: the stop decision (time,
     * signal, steps) is agreed each step with a one-int allreduce. */
    const double t_start = ex_now(), budget = o.minutes * 60;
    double t_warm = 0, tm_warm[SEQVID_MPI_T_COUNT_] = {0}, t_log = t_start;
    double t_data = 0, t_val = 0; /* making batches; validating and saving (after warm-up) */
    long run_steps = 0, bad = 0, log_steps = 0;
    double sum_rec = 0, sum_fut = 0;
    ex_losses val = {NAN, NAN};
    for (;;) {
        int stop = stop_requested || (o.steps && step >= (uint64_t)o.steps) ||
                   (budget > 0 && ex_now() - t_start >= budget), any = 0;
        MPI_Allreduce(&stop, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        if (any) break;
        double t0 = ex_now();
        for (size_t j = 0; j < count; j++)
            fill_micro(&d, o.common.seed, step, (first + j) * micro, mb[j]);
        if (run_steps >= WARMUP_STEPS) t_data += ex_now() - t0;
        float rec, fut;
        int st = seqvid_mpi_train_step(ctx, model, opt, mb, count, &rec, &fut);
        if (st == SEQVID_ERR_NONFINITE) { /* agreed: every rank skips the same batch */
            if (rank == 0) printf("step %llu: %s; batch skipped\n", (unsigned long long)step + 1,
                                  seqvid_mpi_last_error());
            step++; /* the next step's data */
            if (++bad < MAX_BAD_STEPS) continue;
            die_all(st, "too many non-finite steps in a row (try a lower --lr)");
        }
        check_all(st, "training step");
        bad = 0, step++, run_steps++, log_steps++;
        sum_rec += rec, sum_fut += fut;
        if (run_steps == WARMUP_STEPS) {
            t_warm = ex_now();
            seqvid_mpi_timings(ctx, tm_warm, SEQVID_MPI_T_COUNT_);
        }
        if (rank == 0 && step % (uint64_t)o.log_every == 0) {
            double now = ex_now();
            printf("step %llu  %.2f steps/s  %.1f sequences/s  train", (unsigned long long)step,
                   (double)log_steps / (now - t_log), (double)(log_steps * o.batch) / (now - t_log));
            if (m.has_rec) printf(" rec %.1f", sum_rec / (double)log_steps);
            if (m.has_fut) printf(" fut %.1f", sum_fut / (double)log_steps);
            printf("\n");
            fflush(stdout);
            t_log = now, log_steps = 0, sum_rec = sum_fut = 0;
        }
        if (step % (uint64_t)o.val_every == 0) {
            double tv = ex_now();
            if (rank == 0) val = validate(&rep, model, step, 1, o.common.out_dir);
            ex_warn_status(seqvid_mpi_checkpoint_save(ctx, ex_path(o.common.out_dir,
                                                      "checkpoint.safetensors"),
                                                      model, opt, NULL, step),
                           "checkpoint");
            t_log = ex_now(); /* the rate excludes validation */
            if (run_steps > WARMUP_STEPS) t_val += t_log - tv;
        }
    }
    const double t_end = ex_now();

    /* Where the time went on this rank, over the steps after the warm-up: a step is making
     * its batches plus the five phases libseqvid_mpi times (validation and saving on rank 0
     * are left out; the other ranks wait for them outside the step). Rank 0 prints its own
     * figures and the largest allreduce share over all ranks. */
    double tm[SEQVID_MPI_T_COUNT_];
    seqvid_mpi_timings(ctx, tm, SEQVID_MPI_T_COUNT_);
    long timed = run_steps - WARMUP_STEPS;
    if (timed > 0) {
        double wall = t_end - t_warm - t_val, step_time = t_data;
        for (int i = 0; i < SEQVID_MPI_T_COUNT_; i++) tm[i] -= tm_warm[i], step_time += tm[i];
        double comm = tm[SEQVID_MPI_T_ALLREDUCE] / step_time, max_comm = 0;
        MPI_Reduce(&comm, &max_comm, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
        if (rank == 0) {
            printf("timing over %ld steps (after %d warm-up): %.4f s/step, %.3f steps/s, %.2f "
                   "sequences/s\n  rank 0 per step: data %.1f ms (%.1f%%)", timed, WARMUP_STEPS,
                   wall / (double)timed, (double)timed / wall, (double)(timed * o.batch) / wall,
                   1e3 * t_data / (double)timed, 100 * t_data / step_time);
            for (int i = 0; i < SEQVID_MPI_T_COUNT_; i++)
                printf(" %s %.1f ms (%.1f%%)", timer_names[i], 1e3 * tm[i] / (double)timed,
                       100 * tm[i] / step_time);
            printf("\n  allreduce share of the step, largest over ranks: %.2f%%; bytes per "
                   "step per rank: %.1f MB gradients + %.2f MB agreement\n", 100 * max_comm,
                   (double)n_params * 4 / 1e6,
                   (double)(1 + 3 * n_ranks + (n_params + SEQVID_MPI_CHUNK - 1) / SEQVID_MPI_CHUNK) * 8 / 1e6);
        }
    } else {
        double zero = 0, ignored;
        MPI_Reduce(&zero, &ignored, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    }

    /* Final checkpoint, model, pictures and validation (rank 0). */
    int failed = ex_warn_status(seqvid_mpi_checkpoint_save(ctx, ex_path(o.common.out_dir,
                                                           "checkpoint.safetensors"),
                                                           model, opt, NULL, step),
                                "checkpoint") != SEQVID_OK;
    if (rank == 0) {
        if (stop_requested) printf("stopped on request\n");
        printf("%ld steps in %.1f minutes, now at step %llu\n", run_steps,
               (t_end - t_start) / 60, (unsigned long long)step);
        failed += ex_warn_status(seqvid_model_save(model, ex_path(o.common.out_dir,
                                                   "model.safetensors")), "model") != SEQVID_OK;
        val = validate(&rep, model, step, 1, o.common.out_dir);
        ex_print_loss_table(stdout, &val, &rep.base, &rep.m);
        printf("wrote %s/: checkpoint.safetensors model.safetensors val<i>.png/.gif "
               "val<i>_rollout.png/.gif\n", o.common.out_dir);
        reporter_free(&rep);
    }
    for (size_t j = 0; j < count; j++) seqvid_batch_free(mb[j]);
    free(mb);
    seqvid_batch_free(d.one);
    seqvid_mmnist_free(d.gen);
    seqvid_digits_free(train_digits);
    seqvid_optimizer_free(opt);
    seqvid_model_free(model);
    seqvid_mpi_free(ctx);
    MPI_Finalize();
    return failed ? 1 : 0;
}
