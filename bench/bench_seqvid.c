/* bench_seqvid.c -- the libseqvid benchmark of issue 8, over the public API only.
 *
 * Model: SR15 composite (one encoder, reconstruction and future decoders, both conditional),
 * 1 layer, peepholes on, D = 4096 binary frames, K = M = 10, sigmoid + cross-entropy.
 *
 * Cases (--case, a comma list):
 *   train          seqvid_model_train_step (forward + BPTT + optimizer), batch of K+M frames
 *   eval_tf        seqvid_model_evaluate, teacher-forced (forward only)
 *   eval_inf       seqvid_model_evaluate, inference (the future predictor fed its own output)
 *   encode         seqvid_model_encode of K frames in one call (batch --encode-batch, 1)
 *   encode_stream  the same K frames pushed one frame per call into a seqvid_stream (reset,
 *                  K x seqvid_stream_push, seqvid_stream_features); checked once against
 *                  seqvid_model_encode
 * Every combination of --case x --hidden x --batch x --threads runs in turn. Peak memory is a
 * per-process number (ru_maxrss), so bench/run.sh runs one combination per process; several
 * in one process report the running maximum.
 *
 * Each combination: --warmup untimed-for-the-median runs, more while the warm-up has taken
 * less than WARM_S seconds (the last one's time sizes the repetitions: reps = clamp(budget /
 * t_warm, min_reps, reps); a single run longer than --long seconds caps reps at 2), then the
 * timed reps; prints the median. WARM_S: OpenBLAS's idle worker threads spin (sched_yield)
 * for 2^28 cycles, ~0.1 s, after the library starts; timed within that window, a frame of
 * the stream at H=256 took 2.6 ms on 2 threads instead of 0.5-0.7 (the spinning thread
 * competes with the library's own), which no program sees after its first tenth of a
 * second.
 *
 * --plan: print the shapes and FLOPs of each case without timing anything; bench/gemm_bound
 * reads it and times every shape (the bounds: OpenBLAS's rate and this CPU's limit).
 *
 * Output: one machine-readable line per combination,
 *   RESULT impl=seqvid case=train H=256 B=16 threads=2 ... median_ms=... gflops=... rss_mb=...
 * and '#' lines for people. bench/table.py reads these.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#define SEQVID_EXPERIMENTAL /* seqvid_experimental_model_set_precision (--precision) */
#include <seqvid.h>
#include "bench_util.h"

enum { CASE_TRAIN, CASE_EVAL_TF, CASE_EVAL_INF, CASE_ENCODE, CASE_ENCODE_STREAM, CASE_N };
static const char *const case_name[CASE_N] = {"train", "eval_tf", "eval_inf", "encode",
                                              "encode_stream"};

#define MAX_LIST 16
#define WARM_S 0.5 /* seconds of warm-up at least (top of the file) */
typedef struct {
    int n;
    long v[MAX_LIST];
} list;

typedef struct {
    list cases, hidden, batch, threads, encode_batch;
    long D, K, M;
    double density; /* fraction of ones in the frames */
    int peep, adam;
    int warmup, reps, min_reps;
    double budget, long_run; /* seconds */
    int plan;
    int layout; /* 0 auto (from the library), 1 input-major, 2 output-major */
    int bf16;   /* --precision bf16: the model's products in bf16 (experimental API) */
    int w16;    /* --weights bf16: the model's weights stored as bf16 (experimental API) */
    int packed; /* --weights f32-packed: float32 plus packed copies (experimental API) */
} options;

/* ------------------------------------------------------------------------------------------
 * The GEMM plan: every matrix product one pass of a case needs, with its cblas shape
 * (C[m x n] += op(A)[m x k] op(B)[k x n]) and how many times it runs. It is the plan of the
 * issue (input projections and weight gradients batched over time, only the recurrent
 * products per step), counting only products whose operands are not known to be zero:
 *   - the encoder's step 0 has h_{-1} = 0: no recurrent product, and no dW_h rows for it;
 *   - a conditional decoder's step 0 has no input: its input projection and dW_x cover the
 *     T-1 later steps;
 *   - no dX for layer 0 (the input is data); no dh_{-1} for the encoder (nothing before it).
 * With G = 4H, B sequences, K input / M future frames (train, eval), per decoder with T steps
 * (T = K for the reconstruction decoder, M for the future one), as [rows x out x in]:
 *   forward   enc  x_proj [KB x G x D] + (K-1) x rec_fwd [B x G x H]
 *             dec  x_proj [(T-1)B x G x D] + T x rec_fwd [B x G x H] + readout [TB x D x H]
 *   backward  dec  readout dW [D x H x TB] + readout dH [TB x H x D] + T x rec_bwd [B x H x G]
 *                  + dW_h [G x H x TB] + dW_x [G x D x (T-1)B]
 *             enc  (K-1) x rec_bwd [B x H x G] + dW_h [G x H x (K-1)B] + dW_x [G x D x KB]
 * so, with the flop of one product = 2 m n k,
 *   FLOP(eval_tf) = 2G[KBD + (K-1)BH] + Σ_dec 2[(T-1)BGD + TBGH + TBDH]
 *   FLOP(train)   = FLOP(eval_tf) + 2G[(K-1)BH + (K-1)BH + KBD]
 *                   + Σ_dec 2[2TBDH + TBHG + TBGH + (T-1)BGD]
 *                 ~ 3 x FLOP(eval_tf)
 *   eval_inf: the same FLOPs as eval_tf; the reconstruction decoder, fed the truth, may run
 *             batched over time as in eval_tf; the future predictor, fed its own output,
 *             runs its input projection ([B x G x D], T-1 times) and readout ([B x D x H],
 *             T times) step by step.
 *   encode (batch S, K frames):   x_proj [KS x G x D] + (K-1) x rec_fwd [S x G x H]
 *   encode_stream:                K x x_proj [S x G x D] + (K-1) x rec_fwd [S x G x H]
 * Element-wise work (gates, losses, optimizer, bias sums) is not counted: GFLOP/s below are
 * GEMM flops per second of the whole call.
 *
 * The transposes follow the library's weight layout (read from its parameter blocks, or
 * --layout): input-major W [in x out] ("x W": forward NN, data gradients NT, weight gradients
 * X^T dA) or output-major W [out x in] ("x W^T", PyTorch's: forward NT, data gradients NN,
 * weight gradients dA^T X). For one-row products (batch 1) the bound also times sgemv and
 * takes the faster.
 * ---------------------------------------------------------------------------------------- */
typedef struct {
    const char *what;
    int ta, tb; /* 1 = transposed operand */
    long m, n, k, count;
} gemm_shape;

#define MAX_SHAPES 32
static int input_major = 1; /* the weight layout the plan assumes (see above) */

static int add_shape(gemm_shape *s, int n, const char *what, int ta, int tb, long m, long nn,
                     long k, long count) {
    if (m <= 0 || nn <= 0 || k <= 0 || count <= 0) return n;
    s[n].what = what, s[n].ta = ta, s[n].tb = tb;
    s[n].m = m, s[n].n = nn, s[n].k = k, s[n].count = count;
    return n + 1;
}

/* Forward product: [rows x in] times the weight -> [rows x out]. */
static int fwd(gemm_shape *s, int n, const char *what, long rows, long out, long in, long count) {
    return add_shape(s, n, what, 0, !input_major, rows, out, in, count);
}

/* Data gradient: [rows x out] times the weight transposed -> [rows x in]. */
static int bwd_data(gemm_shape *s, int n, const char *what, long rows, long in, long out,
                    long count) {
    return add_shape(s, n, what, 0, input_major, rows, in, out, count);
}

/* Weight gradient from inputs [rows x in] and output gradients [rows x out]. */
static int bwd_weight(gemm_shape *s, int n, const char *what, long out, long in, long rows) {
    return input_major ? add_shape(s, n, what, 1, 0, in, out, rows, 1)   /* X^T dA */
                       : add_shape(s, n, what, 1, 0, out, in, rows, 1);  /* dA^T X */
}

/* Shapes of one decoder with T steps: forward (teacher-forced or, with rollout, the
 * fed-back inference pass) and, with backward, its gradients. */
static int plan_decoder(gemm_shape *s, int n, int which, long T, long B, long D, long H,
                        int rollout, int backward) {
    static const char *const names[2][8] = {
        {"rec.x_proj", "rec.rec_fwd", "rec.readout", "rec.readout_dW", "rec.readout_dH",
         "rec.rec_bwd", "rec.dW_h", "rec.dW_x"},
        {"fut.x_proj", "fut.rec_fwd", "fut.readout", "fut.readout_dW", "fut.readout_dH",
         "fut.rec_bwd", "fut.dW_h", "fut.dW_x"}};
    const char *const *w = names[which];
    long G = 4 * H;
    if (rollout) {
        n = fwd(s, n, w[0], B, G, D, T - 1);
        n = fwd(s, n, w[1], B, G, H, T);
        n = fwd(s, n, w[2], B, D, H, T);
    } else {
        n = fwd(s, n, w[0], (T - 1) * B, G, D, 1);
        n = fwd(s, n, w[1], B, G, H, T);
        n = fwd(s, n, w[2], T * B, D, H, 1);
    }
    if (backward) {
        n = bwd_weight(s, n, w[3], D, H, T * B);
        n = bwd_data(s, n, w[4], T * B, H, D, 1);
        n = bwd_data(s, n, w[5], B, H, G, T);
        n = bwd_weight(s, n, w[6], G, H, T * B);
        n = bwd_weight(s, n, w[7], G, D, (T - 1) * B);
    }
    return n;
}

/* The plan of case c; B is the batch (the encode batch for the encode cases). */
static int plan_case(int c, long H, long B, long D, long K, long M, gemm_shape *s) {
    long G = 4 * H;
    int n = 0;
    if (c == CASE_ENCODE || c == CASE_ENCODE_STREAM) {
        if (c == CASE_ENCODE) n = fwd(s, n, "enc.x_proj", K * B, G, D, 1);
        else n = fwd(s, n, "enc.x_proj", B, G, D, K);
        return fwd(s, n, "enc.rec_fwd", B, G, H, K - 1);
    }
    n = fwd(s, n, "enc.x_proj", K * B, G, D, 1);
    n = fwd(s, n, "enc.rec_fwd", B, G, H, K - 1);
    int bwd = c == CASE_TRAIN;
    n = plan_decoder(s, n, 0, K, B, D, H, 0, bwd);
    n = plan_decoder(s, n, 1, M, B, D, H, c == CASE_EVAL_INF, bwd);
    if (bwd) {
        n = bwd_data(s, n, "enc.rec_bwd", B, H, G, K - 1);
        n = bwd_weight(s, n, "enc.dW_h", G, H, (K - 1) * B);
        n = bwd_weight(s, n, "enc.dW_x", G, D, K * B);
    }
    return n;
}

static double shape_flop(const gemm_shape *s) {
    return 2.0 * (double)s->m * (double)s->n * (double)s->k * (double)s->count;
}

static double plan_flop(const gemm_shape *s, int n) {
    double f = 0;
    for (int i = 0; i < n; i++) f += shape_flop(&s[i]);
    return f;
}

/* ------------------------------------------------------------------------------------------
 * Small helpers
 * ---------------------------------------------------------------------------------------- */
static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* Linux: kilobytes */
}

/* The resident size now (/proc/self/statm's second field, in pages); -1 where unreadable. */
static double rss_now_mb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size, res;
    int ok = f && fscanf(f, "%ld %ld", &size, &res) == 2;
    if (f) fclose(f);
    return ok ? (double)res * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0) : -1.0;
}

static void die(const char *what, int st) {
    fprintf(stderr, "bench_seqvid: %s failed: %s (%s)\n", what, seqvid_status_string(st),
            seqvid_last_error());
    exit(1);
}
#define CHECK(call)                        \
    do {                                   \
        int st_ = (call);                  \
        if (st_ != SEQVID_OK) die(#call, st_); \
    } while (0)

static void *xmalloc(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 1) != 0) {
        fprintf(stderr, "bench_seqvid: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

/* Binary frames with a fraction `density` of ones at hashed positions (torch_composite.py
 * makes the same ones). Video frames are mostly zeros -- Moving MNIST has ~7% nonzero pixels,
 * the default -- and the library may skip zero inputs, so the density is part of the case;
 * the values themselves change no work. */
static void fill_binary(float *x, size_t T, size_t S, size_t D, double density) {
    const uint64_t thresh = (uint64_t)(density * 1000.0 + 0.5);
    for (size_t t = 0; t < T; t++)
        for (size_t b = 0; b < S; b++)
            for (size_t d = 0; d < D; d++) {
                uint64_t h = ((uint64_t)t * 1000003u + (uint64_t)b * 7919u + d) * 2654435761u;
                x[(t * S + b) * D + d] = (((h & 0xffffffffu) >> 8) % 1000) < thresh;
            }
}

/* ------------------------------------------------------------------------------------------
 * The cases
 * ---------------------------------------------------------------------------------------- */
typedef struct {
    seqvid_model *model;
    seqvid_optimizer *opt;
    seqvid_batch *batch;
    seqvid_stream *stream; /* encode_stream */
    float *out;            /* encode output */
    size_t out_count;
    float rec, fut;
} bench_ctx;

static void run_encode_stream(bench_ctx *x);

static void run_once(int c, bench_ctx *x) {
    switch (c) {
    case CASE_TRAIN:
        CHECK(seqvid_model_train_step(x->model, x->opt, x->batch, &x->rec, &x->fut));
        break;
    case CASE_EVAL_TF:
        CHECK(seqvid_model_evaluate(x->model, x->batch, SEQVID_EVAL_TEACHER_FORCED, &x->rec,
                                    &x->fut));
        break;
    case CASE_EVAL_INF:
        CHECK(seqvid_model_evaluate(x->model, x->batch, SEQVID_EVAL_INFERENCE, &x->rec,
                                    &x->fut));
        break;
    case CASE_ENCODE:
        CHECK(seqvid_model_encode(x->model, x->batch, x->out, x->out_count));
        break;
    case CASE_ENCODE_STREAM:
        run_encode_stream(x);
        break;
    }
}

/* Streaming encode: reset the stream, push the K frames one call each, read the features
 * (what seqvid_model_encode returns for the whole sequence; checked once in
 * check_stream). */
static void run_encode_stream(bench_ctx *x) {
    size_t T, S, D;
    float *data;
    CHECK(seqvid_batch_shape(x->batch, &T, &S, &D));
    CHECK(seqvid_batch_data(x->batch, &data));
    CHECK(seqvid_stream_reset(x->stream));
    for (size_t t = 0; t < T; t++) CHECK(seqvid_stream_push(x->stream, data + t * S * D, S * D));
    CHECK(seqvid_stream_features(x->stream, x->out, x->out_count));
}

static int bf16_in_effect; /* what the last make_model got (RESULT lines say it) */

/* The streamed features must equal the whole-sequence ones (untimed, once per process): to
 * float32 rounding, or in bf16 mode to bf16's (the two take different products: a whole
 * sequence's sparse input product stays float32, a single frame's runs dense in bf16;
 * measured at H=64 and 512: 2e-3 of the largest feature). */
static void check_stream(bench_ctx *x) {
    float *whole = xmalloc(x->out_count * sizeof *whole);
    CHECK(seqvid_model_encode(x->model, x->batch, whole, x->out_count));
    run_encode_stream(x);
    double err = 0, mag = 0;
    for (size_t i = 0; i < x->out_count; i++) {
        err = fmax(err, fabs((double)whole[i] - (double)x->out[i]));
        mag = fmax(mag, fabs((double)whole[i]));
    }
    free(whole);
    if (!(err <= (bf16_in_effect ? 0x1p-5 : 1e-4) * fmax(mag, 1e-3))) {
        fprintf(stderr, "bench_seqvid: streamed features differ from seqvid_model_encode's "
                "(max |diff| %g, max |feature| %g)\n", err, mag);
        exit(1);
    }
}

static seqvid_model *make_model(const options *o, long H);

/* --weights bf16: the model as a program that serves one would get it, loaded from a file
 * straight into bf16 (seqvid_experimental_model_load_as), so that the peak resident size is
 * what inference in bf16 costs. A child process makes the float32 model and saves it: its
 * memory does not count in this process's peak. */
static seqvid_model *make_model_bf16(const options *o, long H) {
    char path[] = "/tmp/bench_seqvid_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) die("mkstemp", SEQVID_ERR_IO);
    close(fd);
    options f32 = *o;
    f32.w16 = 0;
    pid_t pid = fork();
    if (pid == 0) {
        seqvid_model *m = make_model(&f32, H);
        _exit(seqvid_model_save(m, path) == SEQVID_OK ? 0 : 1);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        unlink(path);
        die("making the model file", SEQVID_ERR_IO);
    }
    seqvid_model *model;
    CHECK(seqvid_experimental_model_load_as(path, SEQVID_WEIGHTS_BF16, &model));
    unlink(path);
    return model;
}

/* The SR15 composite of the benchmark at hidden size H. */
static seqvid_model *make_model(const options *o, long H) {
    if (o->w16) return make_model_bf16(o, H);
    seqvid_model *model;
    seqvid_config *cfg;
    CHECK(seqvid_config_create(&cfg));
    CHECK(seqvid_config_set(cfg, SEQVID_CFG_KIND, SEQVID_COMPOSITE));
    CHECK(seqvid_config_set(cfg, SEQVID_CFG_INPUT_DIM, (double)o->D));
    CHECK(seqvid_config_set(cfg, SEQVID_CFG_HIDDEN, (double)H));
    CHECK(seqvid_config_set(cfg, SEQVID_CFG_LAYERS, 1));
    CHECK(seqvid_config_set(cfg, SEQVID_CFG_PEEPHOLES, o->peep));
    CHECK(seqvid_config_set(cfg, SEQVID_CFG_INPUT_FRAMES, (double)o->K));
    CHECK(seqvid_config_set(cfg, SEQVID_CFG_FUTURE_FRAMES, (double)o->M));
    CHECK(seqvid_config_set(cfg, SEQVID_CFG_COND_RECON, 1));
    CHECK(seqvid_config_set(cfg, SEQVID_CFG_COND_FUTURE, 1));
    CHECK(seqvid_config_set(cfg, SEQVID_CFG_OUTPUT, SEQVID_OUTPUT_BINARY));

    CHECK(seqvid_model_create(cfg, &model));
    seqvid_config_free(cfg);
    if (o->packed) CHECK(seqvid_experimental_model_set_weights(model, SEQVID_WEIGHTS_F32_PACKED));
    bf16_in_effect = 0;
    if (o->bf16) {
        int p;
        CHECK(seqvid_experimental_model_set_precision(model, SEQVID_PRECISION_BF16));
        CHECK(seqvid_experimental_model_get_precision(model, &p));
        bf16_in_effect = p == SEQVID_PRECISION_BF16;
        if (!bf16_in_effect)
            printf("# bf16 asked for, not available here (this build or CPU): float32\n");
    }

    return model;
}

/* The library's weight layout, from the shape of its first block (encoder.0.w_x: D x 4H
 * input-major, 4H x D output-major). */
static int detect_input_major(const options *o) {
    long H = o->D == 16 ? 8 : 4; /* 4H != D, or the shape could not tell */
    seqvid_model *model = make_model(o, H);
    size_t nb, rows = 0, cols = 0;
    const char *name = "";
    CHECK(seqvid_model_param_block_count(model, &nb));
    for (size_t i = 0; i < nb && strcmp(name, "encoder.0.w_x") != 0; i++)
        CHECK(seqvid_model_param_block(model, i, &name, NULL, &rows, &cols));
    seqvid_model_free(model);
    return !(rows == (size_t)(4 * H) && cols == (size_t)o->D);
}

static void run_model_case(const options *o, int c, long H, long B, int threads) {
    CHECK(seqvid_set_threads(threads));
    int encode = c == CASE_ENCODE || c == CASE_ENCODE_STREAM;
    gemm_shape shapes[MAX_SHAPES];
    double flop = plan_flop(shapes, plan_case(c, H, B, o->D, o->K, o->M, shapes));

    if (c == CASE_TRAIN && o->w16) {
        printf("# --weights bf16: the train case is skipped (a bf16 model does not train)\n");
        return;
    }
    bench_ctx x = {0};
    x.model = make_model(o, H);
    if (c == CASE_TRAIN) {
        if (o->adam) {
            CHECK(seqvid_optimizer_create(SEQVID_OPT_ADAM, &x.opt));
        } else { /* SR15's optimizer as run: the SGD defaults are its settings */
            CHECK(seqvid_optimizer_create(SEQVID_OPT_SGD, &x.opt));
        }
    }
    size_t T = encode ? (size_t)o->K : (size_t)(o->K + o->M);
    CHECK(seqvid_batch_create(T, (size_t)B, (size_t)o->D, &x.batch));
    float *data;
    CHECK(seqvid_batch_data(x.batch, &data));
    fill_binary(data, T, (size_t)B, (size_t)o->D, o->density);
    if (encode) {
        size_t F;
        CHECK(seqvid_model_feature_dim(x.model, &F));
        x.out_count = F * (size_t)B;
        x.out = xmalloc(x.out_count * sizeof *x.out);
    }
    if (c == CASE_ENCODE_STREAM) {
        CHECK(seqvid_stream_create(x.model, (size_t)B, &x.stream));
        check_stream(&x);
    }

    int reps = o->reps;
    double t_warm = 0;
    const double warm_start = now();
    for (int w = 0; w < o->warmup || (o->warmup > 0 && w < 10000 && now() - warm_start < WARM_S);
         w++) {
        double t0 = now();
        run_once(c, &x);
        t_warm = now() - t0;
    }
    if (o->warmup > 0 && o->budget > 0 && t_warm > 0) {
        double r = floor(o->budget / t_warm);
        reps = r < o->min_reps ? o->min_reps : (r > o->reps ? o->reps : (int)r);
        if (t_warm > o->long_run && reps > 2) reps = 2;
    }
    if (reps < 1) reps = 1;
    double *ms = xmalloc((size_t)reps * sizeof *ms);
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        run_once(c, &x);
        ms[r] = 1e3 * (now() - t0);
    }
    double mn = ms[0];
    for (int r = 1; r < reps; r++) mn = ms[r] < mn ? ms[r] : mn;
    double med = median(ms, reps);
    printf("RESULT impl=seqvid case=%s H=%ld B=%ld threads=%d density=%.3f%s%s status=ok "
           "reps=%d median_ms=%.3f min_ms=%.3f gflop=%.4f gflops=%.2f rss_mb=%.1f "
           "rss_now_mb=%.1f loss_rec=%.3f loss_fut=%.3f\n",
           case_name[c], H, B, threads, o->density, o->peep ? "" : " peep=0",
           bf16_in_effect ? " precision=bf16" : o->w16 ? " weights=bf16"
                                              : o->packed ? " weights=f32-packed" : "",
           reps, med, mn,
           flop * 1e-9, flop * 1e-9 / (med * 1e-3), peak_rss_mb(), rss_now_mb(), x.rec, x.fut);
    fflush(stdout);
    free(ms);
    free(x.out);
    seqvid_stream_free(x.stream);
    seqvid_batch_free(x.batch);
    seqvid_optimizer_free(x.opt);
    seqvid_model_free(x.model);
}

static void print_plan(const options *o, int c, long H, long B) {
    gemm_shape s[MAX_SHAPES];
    int n = plan_case(c, H, B, o->D, o->K, o->M, s);
    printf("PLAN case=%s H=%ld B=%ld layout=%s gflop=%.4f shapes=%d\n", case_name[c], H, B,
           input_major ? "input" : "output", plan_flop(s, n) * 1e-9, n);
    for (int i = 0; i < n; i++)
        printf("#   %-16s %c%c m=%-6ld n=%-6ld k=%-6ld x%-3ld %8.4f GFLOP\n", s[i].what,
               s[i].ta ? 'T' : 'N', s[i].tb ? 'T' : 'N', s[i].m, s[i].n, s[i].k, s[i].count,
               shape_flop(&s[i]) * 1e-9);
}

/* ------------------------------------------------------------------------------------------
 * --dump PREFIX: the data for torch_composite.py --check, which loads these weights into the
 * PyTorch model and compares losses and gradients (the two programs must time the same
 * model). Writes PREFIX.params.bin and PREFIX.grads.bin (raw float32 arenas; the gradients of
 * seqvid_model_gradients on the benchmark batch) and PREFIX.txt: one "block NAME OFFSET ROWS
 * COLS" line per parameter block and "loss CASE REC FUT" lines.
 * ---------------------------------------------------------------------------------------- */
static void write_floats(const char *path, const float *v, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(v, sizeof *v, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "bench_seqvid: cannot write %s\n", path);
        exit(1);
    }
}

static void run_dump(const options *o, const char *prefix) {
    long H = o->hidden.v[0], B = o->batch.v[0];
    size_t T = (size_t)(o->K + o->M);
    seqvid_model *model = make_model(o, H);
    seqvid_batch *batch;
    float *data, *params, *grads, rec[3], fut[3];
    size_t n, nb;
    CHECK(seqvid_batch_create(T, (size_t)B, (size_t)o->D, &batch));
    CHECK(seqvid_batch_data(batch, &data));
    fill_binary(data, T, (size_t)B, (size_t)o->D, o->density);
    CHECK(seqvid_model_param_count(model, &n));
    CHECK(seqvid_model_params(model, &params));
    /* x10: weights U(-0.1, 0.1), peepholes U(-1, 1), so that the gates work far from their
     * linear range and the check sees the non-linearities. */
    for (size_t i = 0; i < n; i++) params[i] *= 10.0f;
    CHECK(seqvid_model_evaluate(model, batch, SEQVID_EVAL_TEACHER_FORCED, &rec[0], &fut[0]));
    CHECK(seqvid_model_evaluate(model, batch, SEQVID_EVAL_INFERENCE, &rec[1], &fut[1]));
    CHECK(seqvid_model_gradients(model, batch, &rec[2], &fut[2]));
    CHECK(seqvid_model_grads(model, &grads));
    CHECK(seqvid_model_param_block_count(model, &nb));

    char path[1024];
    snprintf(path, sizeof path, "%s.params.bin", prefix);
    write_floats(path, params, n);
    snprintf(path, sizeof path, "%s.grads.bin", prefix);
    write_floats(path, grads, n);
    snprintf(path, sizeof path, "%s.txt", prefix);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "bench_seqvid: cannot write %s\n", path);
        exit(1);
    }
    fprintf(f, "model D %ld H %ld B %ld K %ld M %ld peep %d density %.3f params %zu\n", o->D,
            H, B, o->K, o->M, o->peep, o->density, n);
    for (size_t i = 0; i < nb; i++) {
        const char *name;
        size_t off, rows, cols;
        CHECK(seqvid_model_param_block(model, i, &name, &off, &rows, &cols));
        fprintf(f, "block %s %zu %zu %zu\n", name, off, rows, cols);
    }
    const char *cases[3] = {"eval_tf", "eval_inf", "train"};
    for (int i = 0; i < 3; i++) fprintf(f, "loss %s %.6f %.6f\n", cases[i], rec[i], fut[i]);
    if (fclose(f) != 0) {
        fprintf(stderr, "bench_seqvid: cannot write %s\n", path);
        exit(1);
    }
    printf("# wrote %s.{txt,params.bin,grads.bin}: %zu parameters, %zu blocks\n", prefix, n, nb);
    seqvid_batch_free(batch);
    seqvid_model_free(model);
}

/* ------------------------------------------------------------------------------------------
 * Flags
 * ---------------------------------------------------------------------------------------- */
static void usage(FILE *f) {
    fprintf(f,
            "usage: bench_seqvid [options]   (lists are comma-separated)\n"
            "  --case LIST          train,eval_tf,eval_inf,encode,encode_stream or all "
            "[train]\n"
            "  --hidden LIST        H [256]\n"
            "  --batch LIST         batch of train/eval [16]\n"
            "  --encode-batch LIST  batch of encode/encode_stream [1]\n"
            "  --threads LIST       BLAS threads (seqvid_set_threads; 0 = all cores) [1]\n"
            "  --dim D --in-frames K --fut-frames M   [4096, 10, 10]\n"
            "  --density F          fraction of ones in the binary frames, in steps of 0.001\n"
            "                       [0.07, Moving MNIST's nonzero fraction]\n"
            "  --no-peep            peepholes off (compare with PyTorch nn.LSTM)\n"
            "  --opt sgd|adam       optimizer of train (SR15's SGD by default)\n"
            "  --precision f32|bf16 the model's products (bf16: experimental API, on CPUs\n"
            "                       with AVX512-BF16, either backend; elsewhere it says so\n"
            "                       and runs float32) [f32]\n"
            "  --weights f32|bf16|f32-packed   how the model stores its weights (experimental\n"
            "                       API). f32-packed: float32 plus packed copies for the\n"
            "                       products of up to 64 rows. bf16:\n"
            "                       inference cases only: the model is saved by a child process\n"
            "                       and loaded straight into bf16, so rss_mb is the peak of\n"
            "                       inference in bf16) [f32]\n"
            "  --warmup N           untimed runs [1]\n"
            "  --reps N             at most N timed runs [7]\n"
            "  --min-reps N         at least N timed runs [3]\n"
            "  --budget S           seconds of timed runs to aim for (0: exactly --reps) [3]\n"
            "  --long S             a warm-up run longer than S seconds caps reps at 2 [4]\n"
            "  --layout auto|input|output   weight layout of the plan's transposes [auto: the\n"
            "                       library's, from its parameter blocks]\n"
            "  --plan               print the GEMM plan and FLOPs; time nothing\n"
            "  --dump PREFIX        write weights, gradients and losses (first H and batch)\n"
            "                       for torch_composite.py --check PREFIX\n");
}

static int parse_list(const char *s, list *l, int is_case) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    l->n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (is_case && strcmp(tok, "all") == 0) {
            for (int c = 0; c < CASE_N && l->n < MAX_LIST; c++) l->v[l->n++] = c;
            continue;
        }
        if (l->n == MAX_LIST) return 0;
        long v = -1;
        if (is_case) {
            for (int c = 0; c < CASE_N; c++)
                if (strcmp(tok, case_name[c]) == 0) v = c;
        } else {
            char *end;
            v = strtol(tok, &end, 10);
            if (*end || v < 0) v = -1;
        }
        if (v < 0) return 0;
        l->v[l->n++] = v;
    }
    return l->n > 0;
}

int main(int argc, char **argv) {
    options o = {.D = 4096, .K = 10, .M = 10, .density = 0.07, .peep = 1, .warmup = 1, .reps = 7,
                 .min_reps = 3, .budget = 3.0, .long_run = 4.0};
    const char *dump = NULL;
    parse_list("train", &o.cases, 1);
    parse_list("256", &o.hidden, 0);
    parse_list("16", &o.batch, 0);
    parse_list("1", &o.encode_batch, 0);
    parse_list("1", &o.threads, 0);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1, takes = 1;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--no-peep")) o.peep = 0, takes = 0;
        else if (!strcmp(a, "--plan")) o.plan = 1, takes = 0;
        else if (!v) ok = 0;
        else if (!strcmp(a, "--dump")) dump = v;
        else if (!strcmp(a, "--layout")) {
            o.layout = !strcmp(v, "auto")     ? 0
                       : !strcmp(v, "input")  ? 1
                       : !strcmp(v, "output") ? 2
                                              : -1;
            ok = o.layout >= 0;
        }
        else if (!strcmp(a, "--case")) ok = parse_list(v, &o.cases, 1);
        else if (!strcmp(a, "--hidden")) ok = parse_list(v, &o.hidden, 0);
        else if (!strcmp(a, "--batch")) ok = parse_list(v, &o.batch, 0);
        else if (!strcmp(a, "--encode-batch")) ok = parse_list(v, &o.encode_batch, 0);
        else if (!strcmp(a, "--threads")) ok = parse_list(v, &o.threads, 0);
        else if (!strcmp(a, "--dim")) ok = (o.D = atol(v)) > 0;
        else if (!strcmp(a, "--density")) ok = (o.density = atof(v)) >= 0 && o.density <= 1;
        else if (!strcmp(a, "--in-frames")) ok = (o.K = atol(v)) > 1;
        else if (!strcmp(a, "--fut-frames")) ok = (o.M = atol(v)) > 1;
        else if (!strcmp(a, "--weights")) {
            ok = !strcmp(v, "f32") || !strcmp(v, "bf16") || !strcmp(v, "f32-packed");
            o.w16 = !strcmp(v, "bf16");
            o.packed = !strcmp(v, "f32-packed");
        } else if (!strcmp(a, "--precision")) {
            ok = !strcmp(v, "f32") || !strcmp(v, "bf16");
            o.bf16 = !strcmp(v, "bf16");
        } else if (!strcmp(a, "--opt")) {
            ok = !strcmp(v, "sgd") || !strcmp(v, "adam");
            o.adam = !strcmp(v, "adam");
        } else if (!strcmp(a, "--warmup")) ok = (o.warmup = atoi(v)) >= 0;
        else if (!strcmp(a, "--reps")) ok = (o.reps = atoi(v)) >= 1;
        else if (!strcmp(a, "--min-reps")) ok = (o.min_reps = atoi(v)) >= 1;
        else if (!strcmp(a, "--budget")) ok = (o.budget = atof(v)) >= 0;
        else if (!strcmp(a, "--long")) ok = (o.long_run = atof(v)) > 0;
        else ok = 0;
        if (!ok) {
            fprintf(stderr, "bench_seqvid: bad option %s %s\n", a, takes && v ? v : "");
            usage(stderr);
            return 2;
        }
        i += takes;
    }
    if (o.min_reps > o.reps) o.min_reps = o.reps;

    printf("# libseqvid %s, D=%ld K=%ld M=%ld peepholes=%d opt=%s density=%.3f\n",
           seqvid_version_string(), o.D, o.K, o.M, o.peep, o.adam ? "adam" : "sgd", o.density);
    if (dump) {
        run_dump(&o, dump);
        return 0;
    }
    if (o.plan) {
        input_major = o.layout ? o.layout == 1 : detect_input_major(&o);
        printf("# GEMM plan for %s weights\n",
               input_major ? "input-major (x W)" : "output-major (x W^T)");
    }
    for (int ci = 0; ci < o.cases.n; ci++) {
        int c = (int)o.cases.v[ci];
        const list *bl = c == CASE_ENCODE || c == CASE_ENCODE_STREAM ? &o.encode_batch : &o.batch;
        for (int hi = 0; hi < o.hidden.n; hi++)
            for (int bi = 0; bi < bl->n; bi++) {
                long H = o.hidden.v[hi], B = bl->v[bi];
                if (H < 1 || B < 1) {
                    fprintf(stderr, "bench_seqvid: H and B must be >= 1\n");
                    return 2;
                }
                if (o.plan) {
                    print_plan(&o, c, H, B);
                    continue;
                }
                for (int ti = 0; ti < o.threads.n; ti++) {
                    int th = (int)o.threads.v[ti];
                    run_model_case(&o, c, H, B, th);
                }
            }
    }
    return 0;
}
