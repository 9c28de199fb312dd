/* test_mpi_train.c -- libseqvid_mpi under mpirun (tests/mpi.cmake runs it on 1, 2 and 4 ranks).
 *
 * On a world of P ranks, for every communicator size s <= P (the first s ranks):
 *   exact     N steps of seqvid_mpi_train_step on the same global batch (fixed micro-batches,
 *             one of them smaller, spread unevenly when s does not divide their number)
 *             give bitwise the weights and losses of s = 1, identical on every rank;
 *             seqvid_mpi_step with caller-computed gradients gives the same bits; and the
 *             weights are within a stated tolerance of plain single-process
 *             seqvid_model_train_step on the whole global batch (different float rounding).
 *   failure   a NaN in one rank's batch, a bad batch shape, a NULL optimizer, a failing
 *             caller status: every rank returns the same status naming the failing rank, no
 *             rank's weights move, the last checkpoint loads and equals the weights, and
 *             training then goes on (no rank hangs: ctest and mpirun --timeout guard it).
 *   resume    a checkpoint written at step N/2 on P ranks, loaded on 1 .. P-1 ranks and
 *             trained to N gives bitwise the weights of the uninterrupted P-rank run.
 *   broadcast rank 0's weights reach every rank.
 * Only rank 0 prints; every rank's failures count in the exit status.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <seqvid_mpi.h>

static int world_rank, world_size, failures;

static void check_at(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void check_at(int ok, const char *file, int line, const char *fmt, ...) {
    if (ok) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[rank %d] %s:%d: FAILED: ", world_rank, file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    failures++;
}
#define CHECK(cond, ...) check_at((cond), __FILE__, __LINE__, __VA_ARGS__)
#define CHECK_OK(expr)                                                                        \
    do {                                                                                      \
        int st_ = (expr);                                                                     \
        CHECK(st_ == SEQVID_OK, "%s = %d (%s | %s)", #expr, st_, seqvid_last_error(),        \
              seqvid_mpi_last_error());                                                       \
    } while (0)

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
    if (world_rank) return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

/* ---------------------------------------------------------------------------------------
 * A tiny composite model and data that depend only on (step, global sequence index)
 * ------------------------------------------------------------------------------------- */
enum { K = 3, M = 3, T = K + M, STEPS = 6 };
static int D = 16, H = 8; /* test_ranks_x_threads makes the model larger for a while */
/* The global batch: micro-batches of these sizes (11 sequences; the last one is short). */
static const size_t MICRO[] = {3, 3, 3, 2};
enum { N_MICRO = 4, G = 11 };

static seqvid_model *new_model(void) {
    seqvid_config *cfg;
    seqvid_model *m = NULL;
    CHECK_OK(seqvid_config_create(&cfg));
    CHECK_OK(seqvid_config_set(cfg, SEQVID_CFG_INPUT_DIM, D));
    CHECK_OK(seqvid_config_set(cfg, SEQVID_CFG_HIDDEN, H));
    CHECK_OK(seqvid_config_set(cfg, SEQVID_CFG_INPUT_FRAMES, K));
    CHECK_OK(seqvid_config_set(cfg, SEQVID_CFG_FUTURE_FRAMES, M));
    CHECK_OK(seqvid_config_set(cfg, SEQVID_CFG_INIT_WEIGHT, 0.3));
    CHECK_OK(seqvid_model_create(cfg, &m));
    seqvid_config_free(cfg);
    return m;
}

static seqvid_optimizer *new_optimizer(void) {
    seqvid_optimizer *o = NULL;
    CHECK_OK(seqvid_optimizer_create(SEQVID_OPT_ADAM, &o));
    CHECK_OK(seqvid_optimizer_set(o, SEQVID_OPT_LR, 1e-2));
    return o;
}

static uint64_t mix(uint64_t x) { /* splitmix64's finaliser */
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Sequence `gidx` of step `step`: pixels in [0, 1), a function of (step, gidx, t, d) only. */
static void fill_sequence(float *x, size_t S, size_t b, uint64_t step, uint64_t gidx) {
    for (size_t t = 0; t < T; t++)
        for (size_t d = 0; d < (size_t)D; d++) {
            uint64_t h = mix(mix(mix(step * 1000003u + gidx) + t) + d);
            x[(t * S + b) * D + d] = (float)((double)(h >> 11) * 0x1.0p-53);
        }
}

/* Micro-batch j of step `step`. */
static seqvid_batch *micro_batch(uint64_t step, size_t j) {
    size_t first = 0;
    for (size_t i = 0; i < j; i++) first += MICRO[i];
    seqvid_batch *b = NULL;
    float *x;
    CHECK_OK(seqvid_batch_create(T, MICRO[j], D, &b));
    CHECK_OK(seqvid_batch_data(b, &x));
    for (size_t s = 0; s < MICRO[j]; s++) fill_sequence(x, MICRO[j], s, step, first + s);
    return b;
}

/* The whole global batch of a step as one batch. */
static seqvid_batch *global_batch(uint64_t step) {
    seqvid_batch *b = NULL;
    float *x;
    CHECK_OK(seqvid_batch_create(T, G, D, &b));
    CHECK_OK(seqvid_batch_data(b, &x));
    for (size_t s = 0; s < G; s++) fill_sequence(x, G, s, step, s);
    return b;
}

/* Micro-batches [*first, *first + *count) belong to rank r of p (contiguous, uneven). */
static void my_share(int r, int p, size_t *first, size_t *count) {
    size_t a = (size_t)r * N_MICRO / (size_t)p, b = (size_t)(r + 1) * N_MICRO / (size_t)p;
    *first = a, *count = b - a;
}

static size_t n_params(seqvid_model *m) {
    size_t n = 0;
    CHECK_OK(seqvid_model_param_count(m, &n));
    return n;
}

static float *params(seqvid_model *m) {
    float *w = NULL;
    CHECK_OK(seqvid_model_params(m, &w));
    return w;
}

static float *copy_params(seqvid_model *m) {
    size_t n = n_params(m);
    float *c = malloc(n * sizeof *c);
    memcpy(c, params(m), n * sizeof *c);
    return c;
}

/* All ranks of comm hold bitwise the same n floats. */
static int same_on_all_ranks(MPI_Comm comm, const float *w, size_t n) {
    int size;
    MPI_Comm_size(comm, &size);
    float *r0 = malloc(n * sizeof *r0);
    memcpy(r0, w, n * sizeof *r0);
    MPI_Bcast(r0, (int)n, MPI_FLOAT, 0, comm);
    int same = memcmp(r0, w, n * sizeof *w) == 0, all = 0;
    MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_MIN, comm);
    free(r0);
    return all;
}

/* Train from `m`'s current state, steps [from, to), on ctx's ranks with train_step (or with
 * caller gradients + seqvid_mpi_step when by_hand). Losses of the last step out. */
static void train(seqvid_mpi *ctx, seqvid_model *m, seqvid_optimizer *o, uint64_t from,
                  uint64_t to, int by_hand, float *rec, float *fut) {
    int r, p;
    CHECK_OK(seqvid_mpi_rank(ctx, &r));
    CHECK_OK(seqvid_mpi_size(ctx, &p));
    size_t first, count;
    my_share(r, p, &first, &count);
    for (uint64_t step = from; step < to; step++) {
        seqvid_batch *mb[N_MICRO];
        for (size_t j = 0; j < count; j++) mb[j] = micro_batch(step, first + j);
        if (!by_hand) {
            CHECK_OK(seqvid_mpi_train_step(ctx, m, o, mb, count, rec, fut));
        } else {
            /* One contribution per rank: only exact across rank counts with one micro-batch
             * per rank, so this path is compared on s = N_MICRO ranks only. */
            int st = count == 1 ? seqvid_model_gradients(m, mb[0], rec, fut) : SEQVID_OK;
            CHECK_OK(seqvid_mpi_step(ctx, m, o, count ? MICRO[first] : 0, st));
        }
        for (size_t j = 0; j < count; j++) seqvid_batch_free(mb[j]);
    }
}

/* The first s ranks of the world (MPI_COMM_NULL on the others). */
static MPI_Comm first_ranks(int s) {
    MPI_Comm c;
    MPI_Comm_split(MPI_COMM_WORLD, world_rank < s ? 0 : MPI_UNDEFINED, world_rank, &c);
    return c;
}

/* ---------------------------------------------------------------------------------------
 * ranks x threads: the header's determinism promise holds across both (issue 14 item 9).
 * A model large enough that OpenBLAS would thread its products on its own, trained on
 * s = 1 .. world_size ranks with 1, 2 and 3 threads each: the same bits everywhere.
 * ------------------------------------------------------------------------------------- */
static void test_ranks_x_threads(void) {
    D = 400, H = 96;
    float *ref = NULL;
    size_t n = 0;
    for (int s = 1; s <= world_size; s++)
        for (int t = 1; t <= 3; t++) {
            MPI_Comm comm = first_ranks(s);
            if (comm == MPI_COMM_NULL) continue;
            CHECK_OK(seqvid_set_threads(t));
            seqvid_mpi *ctx = NULL;
            CHECK_OK(seqvid_mpi_create(comm, &ctx));
            seqvid_model *m = new_model();
            seqvid_optimizer *o = new_optimizer();
            float rec = 0, fut = 0;
            n = n_params(m);
            train(ctx, m, o, 0, 3, 0, &rec, &fut);
            if (world_rank == 0) {
                if (!ref) ref = copy_params(m);
                else
                    CHECK(!memcmp(params(m), ref, n * sizeof(float)),
                          "%d ranks x %d threads: weights differ from 1 rank x 1 thread", s, t);
            }
            seqvid_model_free(m);
            seqvid_optimizer_free(o);
            seqvid_mpi_free(ctx);
            MPI_Comm_free(&comm);
        }
    free(ref);
    CHECK_OK(seqvid_set_threads(1));
    D = 16, H = 8;
    say("ranks x threads: 1..%d ranks x 1, 2, 3 threads, %zu parameters: the same bits\n",
        world_size, n);
}

/* ---------------------------------------------------------------------------------------
 * exact
 * ------------------------------------------------------------------------------------- */
static void test_exact(void) {
    seqvid_model *ref_model = NULL; /* rank 0: the s = 1 run */
    float ref_rec = 0, ref_fut = 0;
    size_t n = 0;
    for (int s = 1; s <= world_size; s++) {
        MPI_Comm comm = first_ranks(s);
        if (comm != MPI_COMM_NULL) {
            seqvid_mpi *ctx = NULL;
            CHECK_OK(seqvid_mpi_create(comm, &ctx));
            seqvid_model *m = new_model();
            seqvid_optimizer *o = new_optimizer();
            float rec = 0, fut = 0;
            n = n_params(m);
            train(ctx, m, o, 0, STEPS, 0, &rec, &fut);
            CHECK(same_on_all_ranks(comm, params(m), n), "s=%d: ranks hold different weights", s);
            if (world_rank == 0) {
                if (s == 1) {
                    ref_model = m, m = NULL, ref_rec = rec, ref_fut = fut;
                } else {
                    CHECK(!memcmp(params(m), params(ref_model), n * sizeof(float)),
                          "s=%d: weights differ from the 1-rank run", s);
                    CHECK(rec == ref_rec && fut == ref_fut,
                          "s=%d: losses %.9g %.9g differ from 1 rank's %.9g %.9g", s, rec, fut,
                          ref_rec, ref_fut);
                }
            }
            double t[SEQVID_MPI_T_COUNT_];
            CHECK_OK(seqvid_mpi_timings(ctx, t, SEQVID_MPI_T_COUNT_));
            CHECK(t[SEQVID_MPI_T_GRADIENTS] > 0 && t[SEQVID_MPI_T_ALLREDUCE] >= 0, "timings");
            seqvid_model_free(m);
            seqvid_optimizer_free(o);
            seqvid_mpi_free(ctx);
            MPI_Comm_free(&comm);
        }
        say("exact: %d rank%s, %d steps of %d sequences in micro-batches 3+3+3+2: %s\n", s,
            s > 1 ? "s" : " ", STEPS, G, s == 1 ? "reference" : "bitwise equal to 1 rank");
    }

    /* seqvid_mpi_step with the caller's gradients, one micro-batch per rank. */
    if (world_size >= N_MICRO) {
        MPI_Comm comm = first_ranks(N_MICRO);
        if (comm != MPI_COMM_NULL) {
            seqvid_mpi *ctx = NULL;
            CHECK_OK(seqvid_mpi_create(comm, &ctx));
            seqvid_model *m = new_model();
            seqvid_optimizer *o = new_optimizer();
            float rec, fut;
            train(ctx, m, o, 0, STEPS, 1, &rec, &fut);
            if (world_rank == 0)
                CHECK(!memcmp(params(m), params(ref_model), n * sizeof(float)),
                      "seqvid_mpi_step: weights differ from seqvid_mpi_train_step's");
            seqvid_model_free(m);
            seqvid_optimizer_free(o);
            seqvid_mpi_free(ctx);
            MPI_Comm_free(&comm);
        }
        say("exact: seqvid_mpi_step with caller gradients on %d ranks: bitwise equal\n",
            N_MICRO);
    }

    /* Plain single-process training on the whole batch at once: the same mathematics,
     * other float rounding (one GEMM over 11 sequences instead of four, float sums instead
     * of the fixed-point average). */
    if (world_rank == 0) {
        seqvid_model *m = new_model();
        seqvid_optimizer *o = new_optimizer();
        float rec = 0, fut = 0;
        for (uint64_t step = 0; step < STEPS; step++) {
            seqvid_batch *b = global_batch(step);
            CHECK_OK(seqvid_model_train_step(m, o, b, &rec, &fut));
            seqvid_batch_free(b);
        }
        const float *a = params(m), *b = params(ref_model);
        double max_diff = 0, max_w = 0;
        for (size_t i = 0; i < n; i++) {
            max_diff = fmax(max_diff, fabs((double)a[i] - b[i]));
            max_w = fmax(max_w, fabs((double)b[i]));
        }
        double lr = 1e-2, tol = 1e-4; /* measured: 5e-6 */
        /* Adam moves every weight by about lr per step, so differences are measured in lr. */
        CHECK(max_diff <= tol * lr * STEPS, "whole batch: max |dw| = %.3g > %.3g", max_diff,
              tol * lr * STEPS);
        CHECK(fabs(rec - ref_rec) <= 1e-5 * fabs(ref_rec) && fabs(fut - ref_fut) <= 1e-5 * fabs(ref_fut),
              "whole batch: losses %.9g %.9g vs %.9g %.9g", rec, fut, ref_rec, ref_fut);
        say("exact: single process, whole batch per step: max |dw| = %.2g (%.2g of lr*steps; "
            "max |w| %.2g), losses %.7g %.7g vs %.7g %.7g\n",
            max_diff, max_diff / (lr * STEPS), max_w, rec, fut, ref_rec, ref_fut);
        seqvid_model_free(m);
        seqvid_optimizer_free(o);
    }
    seqvid_model_free(ref_model);
}

/* The fixed-point average against the exact weighted mean (in double) of every rank's
 * gradient: within the header's bound n * 2^(e-31) per element, plus the rounding to float. */
static void test_precision(void) {
    seqvid_mpi *ctx = NULL;
    CHECK_OK(seqvid_mpi_create(MPI_COMM_WORLD, &ctx));
    seqvid_model *m = new_model();
    size_t n = n_params(m), first, count;
    my_share(world_rank, world_size, &first, &count);
    float *g;
    CHECK_OK(seqvid_model_grads(m, &g));
    size_t seqs = 0;
    if (count) {
        seqvid_batch *b = micro_batch(0, first);
        CHECK_OK(seqvid_model_gradients(m, b, NULL, NULL));
        seqvid_batch_free(b);
        seqs = MICRO[first];
    } else {
        memset(g, 0, n * sizeof *g);
    }
    float *all = world_rank == 0 ? malloc(n * (size_t)world_size * sizeof *all) : NULL;
    unsigned long s = seqs, *all_s = malloc((size_t)world_size * sizeof *all_s);
    MPI_Gather(g, (int)n, MPI_FLOAT, all, (int)n, MPI_FLOAT, 0, MPI_COMM_WORLD);
    MPI_Gather(&s, 1, MPI_UNSIGNED_LONG, all_s, 1, MPI_UNSIGNED_LONG, 0, MPI_COMM_WORLD);
    float *before = copy_params(m);
    CHECK_OK(seqvid_mpi_step(ctx, m, NULL, seqs, SEQVID_OK));
    CHECK(!memcmp(before, params(m), n * sizeof(float)), "no optimizer, yet weights moved");
    if (world_rank == 0) {
        double total = 0, worst = 0;
        int terms = 0;
        for (int r = 0; r < world_size; r++) total += (double)all_s[r], terms += all_s[r] > 0;
        for (size_t c0 = 0; c0 < n; c0 += SEQVID_MPI_CHUNK) {
            size_t c1 = c0 + SEQVID_MPI_CHUNK < n ? c0 + SEQVID_MPI_CHUNK : n;
            double mx = 0;
            for (int r = 0; r < world_size; r++)
                for (size_t i = c0; i < c1; i++)
                    if (all_s[r]) mx = fmax(mx, fabs((double)all[(size_t)r * n + i]));
            int e = 0;
            frexp(mx, &e);
            for (size_t i = c0; i < c1; i++) {
                double exact = 0;
                for (int r = 0; r < world_size; r++)
                    exact += (double)all_s[r] / total * (double)all[(size_t)r * n + i];
                double bound = terms * ldexp(1.0, e - 31) + fabs(exact) * 0x1.0p-24;
                double err = fabs((double)g[i] - exact);
                CHECK(err <= bound, "element %zu: %.9g vs exact %.9g (bound %.3g)", i,
                      (double)g[i], exact, bound);
                if (mx > 0) worst = fmax(worst, err / mx);
            }
        }
        say("precision: average of %d rank gradients within n * 2^(e-31) + float rounding of "
            "the exact mean; worst error %.2g of the chunk's largest |g|\n", world_size, worst);
    }
    free(before);
    free(all);
    free(all_s);
    seqvid_model_free(m);
    seqvid_mpi_free(ctx);
}

/* The passes over the arena run on the rank's threads above 2048 chunks: a larger model's
 * synthetic gradients averaged with 1 and with 2 threads give the same bits. */
static void test_threaded_passes(void) {
    seqvid_config *cfg;
    seqvid_model *m = NULL;
    CHECK_OK(seqvid_config_create(&cfg));
    CHECK_OK(seqvid_config_set(cfg, SEQVID_CFG_INPUT_DIM, 512));
    CHECK_OK(seqvid_config_set(cfg, SEQVID_CFG_HIDDEN, 128));
    CHECK_OK(seqvid_model_create(cfg, &m));
    seqvid_config_free(cfg);
    size_t n = n_params(m);
    CHECK(n > 2 * 1024 * SEQVID_MPI_CHUNK, "model too small (%zu) to use 2 threads", n);
    seqvid_mpi *ctx = NULL;
    CHECK_OK(seqvid_mpi_create(MPI_COMM_WORLD, &ctx));
    float *g, *first = malloc(n * sizeof *first);
    CHECK_OK(seqvid_model_grads(m, &g));
    for (int threads = 1; threads <= 2; threads++) {
        for (size_t i = 0; i < n; i++) { /* magnitudes over many octaves, both signs */
            uint64_t h = mix(mix((uint64_t)world_rank) + i);
            g[i] = (float)ldexp((double)(h >> 40) / 16777216.0 - 0.5, -(int)(h % 23));
        }
        CHECK_OK(seqvid_set_threads(threads));
        CHECK_OK(seqvid_mpi_step(ctx, m, NULL, 1 + (size_t)world_rank, SEQVID_OK));
        if (threads == 1) memcpy(first, g, n * sizeof *g);
        else CHECK(!memcmp(first, g, n * sizeof *g), "2 threads: other bits than 1 thread");
    }
    CHECK_OK(seqvid_set_threads(1));
    say("threads: arena passes of %zu parameters on 1 and 2 threads: the same bits\n", n);
    free(first);
    seqvid_model_free(m);
    seqvid_mpi_free(ctx);
}

/* ---------------------------------------------------------------------------------------
 * failure
 * ------------------------------------------------------------------------------------- */
static void test_failure(const char *dir) {
    seqvid_mpi *ctx = NULL;
    CHECK_OK(seqvid_mpi_create(MPI_COMM_WORLD, &ctx));
    seqvid_model *m = new_model();
    seqvid_optimizer *o = new_optimizer();
    char path[512];
    snprintf(path, sizeof path, "%s/fail.safetensors", dir);
    const int bad = world_size - 1; /* the rank that fails */
    size_t first, count, n = n_params(m);
    my_share(world_rank, world_size, &first, &count);

    train(ctx, m, o, 0, 2, 0, NULL, NULL);
    CHECK_OK(seqvid_mpi_checkpoint_save(ctx, path, world_rank == 0 ? m : NULL,
                                        world_rank == 0 ? o : NULL, NULL, 2));
    float *before = copy_params(m);
    uint64_t steps_before = 0, steps_after = 0;
    CHECK_OK(seqvid_optimizer_steps(o, &steps_before));

    /* A NaN in the last micro-batch of the last rank. */
    seqvid_batch *mb[N_MICRO];
    for (size_t j = 0; j < count; j++) mb[j] = micro_batch(2, first + j);
    if (world_rank == bad) {
        float *x;
        CHECK_OK(seqvid_batch_data(mb[count - 1], &x));
        x[5] = NAN;
    }
    float rec = -1, fut = -1;
    int st = seqvid_mpi_train_step(ctx, m, o, mb, count, &rec, &fut);
    CHECK(st == SEQVID_ERR_NONFINITE, "NaN: status %d, want SEQVID_ERR_NONFINITE", st);
    char want[64];
    snprintf(want, sizeof want, "rank %d of %d failed", bad, world_size);
    CHECK(strstr(seqvid_mpi_last_error(), want) && strstr(seqvid_mpi_last_error(), "NaN"),
          "NaN: message '%s'", seqvid_mpi_last_error());
    CHECK(!memcmp(before, params(m), n * sizeof(float)), "NaN: weights changed");
    CHECK_OK(seqvid_optimizer_steps(o, &steps_after));
    CHECK(steps_after == steps_before, "NaN: the optimizer stepped");
    CHECK(rec == -1 && fut == -1, "NaN: losses written");
    say("failure: NaN in rank %d's batch -> every rank: %s\n", bad, seqvid_mpi_last_error());

    /* The checkpoint is intact and holds exactly the current weights. */
    seqvid_model *m2 = NULL;
    seqvid_optimizer *o2 = NULL;
    uint64_t step = 0;
    CHECK_OK(seqvid_mpi_checkpoint_load(ctx, path, &m2, &o2, NULL, &step));
    CHECK(step == 2, "checkpoint step %llu", (unsigned long long)step);
    if (m2) CHECK(!memcmp(before, params(m2), n * sizeof(float)), "checkpoint != weights");
    seqvid_model_free(m2);
    seqvid_optimizer_free(o2);

    /* A batch of the wrong shape on the failing rank only. */
    seqvid_batch *wrong = NULL;
    CHECK_OK(seqvid_batch_create(T, 2, D + 1, &wrong));
    seqvid_batch *mine[N_MICRO + 1];
    size_t k = 0;
    for (size_t j = 0; j < count; j++) mine[k++] = mb[j];
    if (world_rank == bad) {
        float *x;
        CHECK_OK(seqvid_batch_data(mb[count - 1], &x));
        x[5] = 0.5f; /* repair the NaN */
        mine[k++] = wrong;
    }
    st = seqvid_mpi_train_step(ctx, m, o, mine, k, NULL, NULL);
    CHECK(st == SEQVID_ERR_SHAPE, "bad shape: status %d", st);
    CHECK(!memcmp(before, params(m), n * sizeof(float)), "bad shape: weights changed");
    say("failure: wrong batch shape on rank %d -> every rank: %s\n", bad,
        seqvid_mpi_last_error());

    /* A NULL optimizer on rank 0 only. */
    st = seqvid_mpi_train_step(ctx, m, world_rank == 0 ? NULL : o, mb, count, NULL, NULL);
    CHECK(st == SEQVID_ERR_NULL, "NULL optimizer: status %d", st);
    CHECK(!memcmp(before, params(m), n * sizeof(float)), "NULL optimizer: weights changed");

    /* A caller's own failure (data it could not read), and caller-computed gradients that
     * hold an Inf. */
    st = seqvid_mpi_agree(ctx, world_rank == bad ? SEQVID_ERR_IO : SEQVID_OK);
    CHECK(st == SEQVID_ERR_IO, "agree: status %d", st);
    CHECK_OK(seqvid_mpi_agree(ctx, SEQVID_OK));
    float *g;
    CHECK_OK(seqvid_model_grads(m, &g));
    if (count) CHECK_OK(seqvid_model_gradients(m, mb[0], NULL, NULL));
    if (world_rank == bad) g[n / 2] = INFINITY;
    st = seqvid_mpi_step(ctx, m, o, count ? MICRO[first] : 0, SEQVID_OK);
    CHECK(st == SEQVID_ERR_NONFINITE, "Inf gradient: status %d", st);
    CHECK(!memcmp(before, params(m), n * sizeof(float)), "Inf gradient: weights changed");
    say("failure: bad shape, NULL optimizer, caller status, Inf gradient: same status on "
        "every rank, no weight moved\n");

    /* And the job goes on: the repaired batch trains, identically everywhere. */
    CHECK_OK(seqvid_mpi_train_step(ctx, m, o, mb, count, NULL, NULL));
    CHECK(memcmp(before, params(m), n * sizeof(float)) != 0, "no update after recovery");
    CHECK(same_on_all_ranks(MPI_COMM_WORLD, params(m), n), "weights differ after recovery");
    say("failure: the next step trains on every rank\n");

    for (size_t j = 0; j < count; j++) seqvid_batch_free(mb[j]);
    seqvid_batch_free(wrong);
    free(before);
    seqvid_model_free(m);
    seqvid_optimizer_free(o);
    seqvid_mpi_free(ctx);
}

/* ---------------------------------------------------------------------------------------
 * resume and broadcast
 * ------------------------------------------------------------------------------------- */
static void test_resume(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/resume.safetensors", dir);
    seqvid_mpi *ctx = NULL;
    CHECK_OK(seqvid_mpi_create(MPI_COMM_WORLD, &ctx));
    seqvid_model *m = new_model();
    seqvid_optimizer *o = new_optimizer();
    size_t n = n_params(m);
    train(ctx, m, o, 0, STEPS / 2, 0, NULL, NULL);
    CHECK_OK(seqvid_mpi_checkpoint_save(ctx, path, m, o, NULL, STEPS / 2));
    train(ctx, m, o, STEPS / 2, STEPS, 0, NULL, NULL);
    seqvid_mpi_free(ctx);
    seqvid_optimizer_free(o);

    for (int s = 1; s <= world_size; s++) {
        MPI_Comm comm = first_ranks(s);
        if (comm != MPI_COMM_NULL) {
            seqvid_mpi *c2 = NULL;
            seqvid_model *m2 = NULL;
            seqvid_optimizer *o2 = NULL;
            uint64_t step = 0;
            CHECK_OK(seqvid_mpi_create(comm, &c2));
            CHECK_OK(seqvid_mpi_checkpoint_load(c2, path, &m2, &o2, NULL, &step));
            CHECK(step == STEPS / 2, "resume: step %llu", (unsigned long long)step);
            if (m2) {
                train(c2, m2, o2, step, STEPS, 0, NULL, NULL);
                CHECK(!memcmp(params(m), params(m2), n * sizeof(float)),
                      "resume on %d of %d ranks: weights differ from the uninterrupted run", s,
                      world_size);
            }
            seqvid_model_free(m2);
            seqvid_optimizer_free(o2);
            seqvid_mpi_free(c2);
            MPI_Comm_free(&comm);
        }
        say("resume: saved at step %d on %d rank%s, resumed on %d: bitwise equal to the "
            "uninterrupted run\n", STEPS / 2, world_size, world_size > 1 ? "s" : "", s);
    }

    /* Different checkpoints on different ranks are refused everywhere. */
    char other[512];
    snprintf(other, sizeof other, "%s/other.safetensors", dir);
    if (world_rank == 0) {
        seqvid_optimizer *o3 = new_optimizer();
        CHECK_OK(seqvid_checkpoint_save(other, m, o3, NULL, 1));
        seqvid_optimizer_free(o3);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    if (world_size > 1) {
        CHECK_OK(seqvid_mpi_create(MPI_COMM_WORLD, &ctx));
        seqvid_model *m3 = NULL;
        seqvid_optimizer *o3 = NULL;
        uint64_t step;
        int st = seqvid_mpi_checkpoint_load(ctx, world_rank == 1 ? other : path, &m3, &o3,
                                            NULL, &step);
        CHECK(st == SEQVID_ERR_STATE && !m3 && !o3, "different files: status %d", st);
        /* A missing file on one rank. */
        st = seqvid_mpi_checkpoint_load(ctx, world_rank == 1 ? "/nonexistent/x" : path, &m3,
                                        &o3, NULL, &step);
        CHECK(st == SEQVID_ERR_IO && !m3, "missing file: status %d", st);
        say("resume: different or missing checkpoints on some rank: refused on every rank\n");

        /* Broadcast: rank 0's weights everywhere. */
        float *w = params(m);
        for (size_t i = 0; i < n; i++) w[i] += (float)world_rank;
        CHECK_OK(seqvid_mpi_broadcast_params(ctx, m));
        CHECK(same_on_all_ranks(MPI_COMM_WORLD, w, n), "broadcast");
        /* A model of another size is refused on every rank. */
        seqvid_config *cfg;
        seqvid_model *small = NULL;
        CHECK_OK(seqvid_config_create(&cfg));
        CHECK_OK(seqvid_config_set(cfg, SEQVID_CFG_INPUT_DIM, D));
        CHECK_OK(seqvid_config_set(cfg, SEQVID_CFG_HIDDEN, world_rank == 1 ? H + 1 : H));
        CHECK_OK(seqvid_model_create(cfg, &small));
        seqvid_config_free(cfg);
        st = seqvid_mpi_broadcast_params(ctx, small);
        CHECK(st == SEQVID_ERR_SHAPE, "broadcast of a different model: status %d", st);
        seqvid_model_free(small);
        say("broadcast: rank 0's weights on every rank; a model of another size is refused\n");
        seqvid_mpi_free(ctx);
    }
    seqvid_model_free(m);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    seqvid_set_threads(1); /* the same BLAS thread count on every rank and in the reference */

    /* A scratch folder every rank can see (one machine: the same /tmp). */
    char dir[256] = "";
    if (world_rank == 0) {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/seqvid_mpi_XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(dir)) dir[0] = '\0';
    }
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    CHECK(dir[0] != '\0', "no scratch folder");

    say("test_mpi_train on %d rank%s\n", world_size, world_size > 1 ? "s" : "");
    test_exact();
    test_precision();
    test_threaded_passes();
    test_ranks_x_threads();
    test_failure(dir);
    test_resume(dir);

    MPI_Barrier(MPI_COMM_WORLD);
    if (world_rank == 0) {
        char p[600];
        const char *names[] = {"fail.safetensors", "resume.safetensors", "other.safetensors"};
        for (int i = 0; i < 3; i++) snprintf(p, sizeof p, "%s/%s", dir, names[i]), unlink(p);
        rmdir(dir);
    }
    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    say("%s: %d failure%s\n", total ? "FAILED" : "ok", total, total == 1 ? "" : "s");
    MPI_Finalize();
    return total ? 1 : 0;
}
