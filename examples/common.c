/*
 * common.c -- shared parts of the Moving MNIST example programs (see common.h).
 */
#define _POSIX_C_SOURCE 200809L

#include "common.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gif_lib.h>
#include <png.h>

/* =======================================================================================
 * Errors and messages
 * ===================================================================================== */
const char *ex_progname = "seqvid-example";

void ex_die(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s: ", ex_progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

void ex_check(int status, const char *what)
{
    if (status != SEQVID_OK)
        ex_die("%s: %s: %s", what, seqvid_status_string(status), seqvid_last_error());
}

int ex_warn_status(int status, const char *what)
{
    if (status != SEQVID_OK) {
        fflush(stdout);
        fprintf(stderr, "%s: warning: %s: %s: %s\n", ex_progname, what,
                seqvid_status_string(status), seqvid_last_error());
    }
    return status;
}

void *ex_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) ex_die("out of memory (%zu bytes)", n);
    return p;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) ex_die("out of memory (%zu x %zu bytes)", n, size);
    return p;
}

double ex_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* =======================================================================================
 * Flags
 * ===================================================================================== */
const char ex_common_help[] =
    "  --data DIR         MNIST IDX files (default ${SEQVID_DATA:-$HOME/.cache/seqvid}/mnist;\n"
    "                     made by examples/setup-mnist.sh)\n"
    "  --out DIR          output folder\n"
    "  --seed N           random seed\n"
    "  --threads N        BLAS threads (default 0: all cores)\n"
    "  --digits N         digits per Moving MNIST sequence, 1..8 (default 2)\n";

long ex_parse_long(const char *flag, const char *arg, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < min || v > max)
        ex_die("%s: '%s' is not an integer in [%ld, %ld]", flag, arg, min, max);
    return v;
}

double ex_parse_double(const char *flag, const char *arg, double min, double max)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !(v >= min && v <= max))
        ex_die("%s: '%s' is not a number in [%g, %g]", flag, arg, min, max);
    return v;
}

int ex_common_option(ex_common *c, int opt, const char *arg)
{
    switch (opt) {
    case EX_OPT_DATA: c->data_dir = arg; return 1;
    case EX_OPT_OUT: c->out_dir = arg; return 1;
    case EX_OPT_SEED: c->seed = (uint64_t)ex_parse_long("--seed", arg, 0, LONG_MAX); return 1;
    case EX_OPT_THREADS: c->threads = (int)ex_parse_long("--threads", arg, 0, 1024); return 1;
    case EX_OPT_DIGITS: c->digits = (int)ex_parse_long("--digits", arg, 1, 8); return 1;
    default: return 0;
    }
}

/* mkdir -p */
static void make_dirs(const char *path)
{
    char buf[PATH_MAX];
    if (strlen(path) >= sizeof buf) ex_die("path too long: %s", path);
    strcpy(buf, path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            ex_die("cannot create folder %s: %s", buf, strerror(errno));
        *p = saved;
        if (!saved) break;
    }
}

void ex_common_apply(const ex_common *c)
{
    ex_check(seqvid_set_threads(c->threads), "--threads");
    make_dirs(c->out_dir);
}

const char *ex_path(const char *out_dir, const char *name)
{
    static char bufs[4][PATH_MAX];
    static int next;
    char *buf = bufs[next++ % 4];
    if ((size_t)snprintf(buf, PATH_MAX, "%s/%s", out_dir, name) >= PATH_MAX)
        ex_die("path too long: %s/%s", out_dir, name);
    return buf;
}

/* =======================================================================================
 * Data
 * ===================================================================================== */
const char *ex_default_data_dir(void)
{
    static char buf[PATH_MAX];
    const char *base = getenv("SEQVID_DATA"), *home = getenv("HOME");
    int n;
    if (base && *base)
        n = snprintf(buf, sizeof buf, "%s/mnist", base);
    else
        n = snprintf(buf, sizeof buf, "%s/.cache/seqvid/mnist", home ? home : ".");
    if ((size_t)n >= sizeof buf) ex_die("data folder path too long");
    return buf;
}

/* dir/prefix-what-ubyte or the same with .gz, whichever exists; NULL if neither. */
static const char *find_idx(const char *dir, const char *prefix, const char *what)
{
    static char buf[2][PATH_MAX];
    static int next;
    char *p = buf[next++ % 2];
    static const char *const suffix[] = {"", ".gz"};
    for (int i = 0; i < 2; i++) {
        if ((size_t)snprintf(p, PATH_MAX, "%s/%s-%s-ubyte%s", dir, prefix, what, suffix[i]) >=
            PATH_MAX)
            ex_die("path too long: %s", dir);
        if (access(p, R_OK) == 0) return p;
    }
    return NULL;
}

seqvid_digits *ex_load_digits(const char *dir, int test, int required)
{
    /* The original MNIST and Fashion-MNIST files call the test split "t10k". */
    static const char *const train_names[] = {"train", NULL};
    static const char *const test_names[] = {"test", "t10k", NULL};
    const char *const *names = test ? test_names : train_names;
    if (!dir) dir = ex_default_data_dir();

    for (int i = 0; names[i]; i++) {
        const char *images = find_idx(dir, names[i], "images-idx3");
        if (!images) continue;
        const char *labels = find_idx(dir, names[i], "labels-idx1");
        seqvid_digits *digits;
        ex_check(seqvid_digits_load(images, labels, &digits), images);
        return digits;
    }
    if (!required) return NULL;
    ex_die("no %s digits in %s (looked for %s-images-idx3-ubyte[.gz]).\n"
           "  Run examples/setup-mnist.sh once to make them, or pass --data DIR.",
           test ? "test" : "training", dir, names[0]);
}

seqvid_mmnist *ex_generator(const seqvid_digits *digits, int n_digits, uint64_t seed)
{
    seqvid_mmnist *gen;
    ex_check(seqvid_mmnist_create(digits, &gen), "Moving MNIST generator");
    ex_check(seqvid_mmnist_set(gen, SEQVID_MM_DIGITS, n_digits), "--digits");
    ex_check(seqvid_mmnist_set(gen, SEQVID_MM_SEED, (double)seed), "--seed");
    return gen;
}

seqvid_batch *ex_batch_slice(seqvid_batch *src, size_t first, size_t n_seqs, size_t n_steps)
{
    size_t T, S, D;
    float *from, *to;
    seqvid_batch *out;
    ex_check(seqvid_batch_shape(src, &T, &S, &D), "batch shape");
    if (n_seqs == 0 || first + n_seqs > S || n_steps == 0 || n_steps > T)
        ex_die("cannot take sequences %zu..%zu, %zu steps, of a batch of %zu x %zu", first,
               first + n_seqs, n_steps, S, T);
    ex_check(seqvid_batch_create(n_steps, n_seqs, D, &out), "batch");
    ex_check(seqvid_batch_data(src, &from), "batch");
    ex_check(seqvid_batch_data(out, &to), "batch");
    for (size_t t = 0; t < n_steps; t++)
        memcpy(to + t * n_seqs * D, from + (t * S + first) * D, n_seqs * D * sizeof *to);
    for (size_t b = 0; b < n_seqs; b++) {
        size_t len;
        ex_check(seqvid_batch_get_length(src, first + b, &len), "batch");
        ex_check(seqvid_batch_set_length(out, b, len < n_steps ? len : n_steps), "batch");
    }
    return out;
}

static void set_init(ex_set *set, size_t n_steps, size_t n_seqs, size_t dim, size_t chunk)
{
    if (n_seqs == 0 || chunk == 0) ex_die("an empty sequence set");
    set->n_chunks = (n_seqs + chunk - 1) / chunk;
    set->chunks = xcalloc(set->n_chunks, sizeof *set->chunks);
    set->n_seqs = n_seqs;
    set->n_steps = n_steps;
    set->dim = dim;
}

void ex_set_generate(ex_set *set, seqvid_mmnist *gen, size_t n_steps, size_t n_seqs,
                     size_t chunk)
{
    set_init(set, n_steps, n_seqs, EX_CANVAS * EX_CANVAS, chunk);
    for (size_t c = 0; c < set->n_chunks; c++) {
        size_t n = n_seqs - c * chunk < chunk ? n_seqs - c * chunk : chunk;
        ex_check(seqvid_batch_create(n_steps, n, set->dim, &set->chunks[c]), "batch");
        ex_check(seqvid_mmnist_fill(gen, set->chunks[c], NULL, 0), "Moving MNIST");
    }
}

void ex_set_from_batch(ex_set *set, seqvid_batch *src, size_t n_seqs, size_t n_steps,
                       size_t chunk)
{
    size_t dim;
    ex_check(seqvid_batch_shape(src, NULL, NULL, &dim), "batch");
    set_init(set, n_steps, n_seqs, dim, chunk);
    for (size_t c = 0; c < set->n_chunks; c++) {
        size_t n = n_seqs - c * chunk < chunk ? n_seqs - c * chunk : chunk;
        set->chunks[c] = ex_batch_slice(src, c * chunk, n, n_steps);
    }
}

void ex_set_free(ex_set *set)
{
    for (size_t c = 0; c < set->n_chunks; c++) seqvid_batch_free(set->chunks[c]);
    free(set->chunks);
    memset(set, 0, sizeof *set);
}

/* =======================================================================================
 * Losses and baselines
 * ===================================================================================== */
static double model_key(const seqvid_model *model, int key)
{
    double v;
    ex_check(seqvid_model_get(model, key, &v), "model settings");
    return v;
}

ex_model_info ex_model_describe(const seqvid_model *model)
{
    ex_model_info m;
    m.kind = (int)model_key(model, SEQVID_CFG_KIND);
    m.has_rec = m.kind != SEQVID_PREDICTOR;
    m.has_fut = m.kind != SEQVID_AUTOENCODER;
    m.input_frames = (size_t)model_key(model, SEQVID_CFG_INPUT_FRAMES);
    m.future_frames = (size_t)model_key(model, SEQVID_CFG_FUTURE_FRAMES);
    m.dim = (size_t)model_key(model, SEQVID_CFG_INPUT_DIM);
    m.hidden = (size_t)model_key(model, SEQVID_CFG_HIDDEN);
    m.layers = (size_t)model_key(model, SEQVID_CFG_LAYERS);
    m.cond_recon = (int)model_key(model, SEQVID_CFG_COND_RECON);
    m.cond_future = (int)model_key(model, SEQVID_CFG_COND_FUTURE);
    return m;
}

ex_losses ex_set_evaluate(seqvid_model *model, const ex_set *set)
{
    ex_model_info m = ex_model_describe(model);
    ex_losses out = {NAN, NAN};
    size_t need = m.input_frames + (m.has_fut ? m.future_frames : 0);
    if (set->n_steps < need) return out;

    double rec = 0, fut = 0;
    for (size_t c = 0; c < set->n_chunks; c++) {
        size_t n;
        float r, f;
        ex_check(seqvid_batch_shape(set->chunks[c], NULL, &n, NULL), "batch");
        ex_check(seqvid_model_evaluate(model, set->chunks[c], SEQVID_EVAL_INFERENCE, &r, &f),
                 "evaluation");
        /* Every sequence has the same length, so weighting chunks by their sequence
         * count gives the average over all target frames. */
        rec += (double)r * (double)n;
        fut += (double)f * (double)n;
    }
    if (m.has_rec) out.rec = rec / (double)set->n_seqs;
    if (m.has_fut) out.fut = fut / (double)set->n_seqs;
    return out;
}

float *ex_mean_frame(const seqvid_digits *train, int n_digits, size_t n_frames)
{
    enum { STEPS = 20, SEQS = 16 };
    const size_t D = EX_CANVAS * EX_CANVAS;
    seqvid_mmnist *gen = ex_generator(train, n_digits, EX_VAL_SEED + 1);
    seqvid_batch *batch;
    float *x, *mean = ex_malloc(D * sizeof *mean);
    double *sum = xcalloc(D, sizeof *sum);
    size_t done = 0;

    ex_check(seqvid_batch_create(STEPS, SEQS, D, &batch), "batch");
    ex_check(seqvid_batch_data(batch, &x), "batch");
    while (done < n_frames) {
        ex_check(seqvid_mmnist_fill(gen, batch, NULL, 0), "Moving MNIST");
        for (size_t i = 0; i < (size_t)STEPS * SEQS; i++)
            for (size_t d = 0; d < D; d++) sum[d] += x[i * D + d];
        done += (size_t)STEPS * SEQS;
    }
    for (size_t d = 0; d < D; d++) mean[d] = (float)(sum[d] / (double)done);
    free(sum);
    seqvid_batch_free(batch);
    seqvid_mmnist_free(gen);
    return mean;
}

/* Cross-entropy of frame x under pixel probabilities with logs lp = log p, lq = log(1-p):
 * -sum_d [x log p + (1-x) log(1-p)], the library's per-frame loss. */
static double frame_xent(const float *x, const double *lp, const double *lq, size_t D)
{
    double s = 0;
    for (size_t d = 0; d < D; d++) s -= x[d] * lp[d] + (1.0 - x[d]) * lq[d];
    return s;
}

/* Logs of p clipped to [1e-6, 1 - 1e-6], so a copied pixel of exactly 0 or 1 that turns out
 * wrong costs log(1e6) = 13.8 nats instead of infinity. */
static void clipped_logs(const float *p, double *lp, double *lq, size_t D)
{
    for (size_t d = 0; d < D; d++) {
        double v = p[d] < 1e-6 ? 1e-6 : p[d] > 1 - 1e-6 ? 1 - 1e-6 : p[d];
        lp[d] = log(v);
        lq[d] = log1p(-v);
    }
}

ex_baselines ex_set_baselines(const ex_set *set, size_t input_frames, size_t future_frames,
                              const float *mean_frame)
{
    const size_t D = set->dim, K = input_frames, M = future_frames;
    double *last_lp = ex_malloc(D * sizeof(double)), *last_lq = ex_malloc(D * sizeof(double));
    double *mean_lp = ex_malloc(D * sizeof(double)), *mean_lq = ex_malloc(D * sizeof(double));
    double last_rec = 0, last_fut = 0, mean_rec = 0, mean_fut = 0;
    size_t n_rec = 0, n_fut = 0;

    if (mean_frame) clipped_logs(mean_frame, mean_lp, mean_lq, D);
    for (size_t c = 0; c < set->n_chunks; c++) {
        size_t T, S;
        float *x;
        ex_check(seqvid_batch_shape(set->chunks[c], &T, &S, NULL), "batch");
        ex_check(seqvid_batch_data(set->chunks[c], &x), "batch");
        for (size_t b = 0; b < S; b++) {
            size_t len;
            ex_check(seqvid_batch_get_length(set->chunks[c], b, &len), "batch");
            size_t n_in = len < K ? len : K, end = len < K + M ? len : K + M;
            const float *last = x + ((n_in - 1) * S + b) * D;
            clipped_logs(last, last_lp, last_lq, D);
            for (size_t t = 0; t < end; t++) {
                const float *f = x + (t * S + b) * D;
                double l = frame_xent(f, last_lp, last_lq, D);
                double m = mean_frame ? frame_xent(f, mean_lp, mean_lq, D) : 0;
                if (t < n_in) {
                    last_rec += l, mean_rec += m, n_rec++;
                } else if (t >= K) {
                    last_fut += l, mean_fut += m, n_fut++;
                }
            }
        }
    }
    ex_baselines out;
    out.last.rec = n_rec ? last_rec / (double)n_rec : NAN;
    out.last.fut = n_fut ? last_fut / (double)n_fut : NAN;
    out.mean.rec = n_rec && mean_frame ? mean_rec / (double)n_rec : NAN;
    out.mean.fut = n_fut && mean_frame ? mean_fut / (double)n_fut : NAN;
    free(last_lp), free(last_lq), free(mean_lp), free(mean_lq);
    return out;
}

const char *ex_margin(double model, double last, double mean)
{
    static char buf[64];
    double best = isnan(mean) || last < mean ? last : mean;
    if (isnan(model) || isnan(best)) return "n/a";
    double d = best - model;
    snprintf(buf, sizeof buf, "%s by %.1f (%.0f%%)", d >= 0 ? "wins" : "loses", fabs(d),
             100.0 * fabs(d) / best);
    return buf;
}

static void table_cell(FILE *f, double v)
{
    if (isnan(v))
        fprintf(f, " %10s", "n/a");
    else
        fprintf(f, " %10.1f", v);
}

static void table_row(FILE *f, const char *name, const ex_losses *l, const ex_model_info *m)
{
    fprintf(f, "  %-12s", name);
    if (m->has_rec) table_cell(f, l->rec);
    if (m->has_fut) table_cell(f, l->fut);
    fputc('\n', f);
}

void ex_print_loss_table(FILE *f, const ex_losses *model, const ex_baselines *base,
                         const ex_model_info *m)
{
    fprintf(f, "  %-12s", "nats/frame");
    if (m->has_rec) fprintf(f, " %10s", "reconstr.");
    if (m->has_fut) fprintf(f, " %10s", "future");
    fputc('\n', f);
    if (model) table_row(f, "model", model, m);
    table_row(f, "last frame", &base->last, m);
    table_row(f, "mean frame", &base->mean, m);
    if (model && m->has_rec && !isnan(model->rec))
        fprintf(f, "  reconstruction: the model %s nats/frame over the best baseline\n",
                ex_margin(model->rec, base->last.rec, base->mean.rec));
    if (model && m->has_fut && !isnan(model->fut))
        fprintf(f, "  prediction:     the model %s nats/frame over the best baseline\n",
                ex_margin(model->fut, base->last.fut, base->mean.fut));
}

/* =======================================================================================
 * Pictures: an 8-bit image (1 channel: gray or palette index; 3: RGB), text, PNG, GIF
 * ===================================================================================== */
typedef struct image {
    int w, h, ch;
    unsigned char *px;
} image;

static image image_new(int w, int h, int ch, const unsigned char *fill)
{
    const size_t n = (size_t)w * (size_t)h, c = (size_t)ch;
    image im = {w, h, ch, ex_malloc(n * c)};
    for (size_t i = 0; i < n; i++) memcpy(im.px + i * c, fill, c);
    return im;
}

static void image_put(image *im, int x, int y, const unsigned char *color)
{
    if (x < 0 || y < 0 || x >= im->w || y >= im->h) return;
    size_t i = (size_t)y * (size_t)im->w + (size_t)x;
    memcpy(im->px + i * (size_t)im->ch, color, (size_t)im->ch);
}

static void image_rect(image *im, int x, int y, int w, int h, const unsigned char *color)
{
    for (int j = y; j < y + h; j++)
        for (int i = x; i < x + w; i++) image_put(im, i, j, color);
}

/* A frame of side*side values in [0,1] as gray, each pixel a scale x scale block. */
static void image_frame(image *im, int x0, int top, const float *frame, size_t side, int scale)
{
    for (size_t r = 0; r < side; r++)
        for (size_t c = 0; c < side; c++) {
            float v = frame[r * side + c];
            unsigned char g = (unsigned char)(v <= 0 ? 0 : v >= 1 ? 255 : v * 255.0f + 0.5f);
            unsigned char rgb[3] = {g, g, g};
            image_rect(im, x0 + (int)c * scale, top + (int)r * scale, scale, scale, rgb);
        }
}

/* A 5x7 font for labels and tick numbers: 7 rows of 5 columns, '#' is ink. Upper case is
 * drawn as lower case; characters not listed advance as a space. */
static const struct glyph {
    char c;
    const char rows[36];
} font[] = {
    {'0', ".###.#...##..###.#.###..##...#.###."}, {'1', "..#...##....#....#....#....#...###."},
    {'2', ".###.#...#....#...#...#...#...#####"}, {'3', "#####...#...#.....#.....##...#.###."},
    {'4', "...#...##..#.#.#..#.#####...#....#."}, {'5', "######....####.....#....##...#.###."},
    {'6', "..##..#...#....####.#...##...#.###."}, {'7', "#####....#...#...#...#....#....#..."},
    {'8', ".###.#...##...#.###.#...##...#.###."}, {'9', ".###.#...##...#.####....#...#..##.."},
    {'a', "...........###.....#.#####...#.####"}, {'b', "#....#....#.##.##..##...##...#####."},
    {'c', "...........###.#....#....#...#.###."}, {'d', "....#....#.##.##..###...##...#.####"},
    {'e', "...........###.#...#######.....###."}, {'f', "..##..#..#.#...###...#....#....#..."},
    {'g', "......#####...##...#.####....#.###."}, {'h', "#....#....#.##.##..##...##...##...#"},
    {'i', "..#........##....#....#....#...###."}, {'j', "...#........##....#....#.#..#..##.."},
    {'k', "#....#....#..#.#.#..##...#.#..#..#."}, {'l', ".##....#....#....#....#....#...###."},
    {'m', "..........##.#.#.#.##.#.##...##...#"}, {'n', "..........#.##.##..##...##...##...#"},
    {'o', "...........###.#...##...##...#.###."}, {'p', "..........####.#...#####.#....#...."},
    {'q', "...........##.##..##.####....#....#"}, {'r', "..........#.##.##..##....#....#...."},
    {'s', "...........###.#.....###.....#####."}, {'t', ".#....#...###...#....#....#..#..##."},
    {'u', "..........#...##...##...##..##.##.#"}, {'v', "..........#...##...##...#.#.#...#.."},
    {'w', "..........#...##...##.#.##.#.#.#.#."}, {'x', "..........#...#.#.#...#...#.#.#...#"},
    {'y', "..........#...##...#.####....#.###."}, {'z', "..........#####...#...#...#...#####"},
    {'.', "..........................##...##.."}, {'-', "................###................"},
    {'/', ".........#...#...#...#...#........."}, {':', "......##...##........##...##......."},
    {'%', "##...##..#...#...#...#...#..##...##"}, {'(', "...#...#...#....#....#.....#.....#."},
    {')', ".#.....#.....#....#....#...#...#..."}, {'=', "..........#####.....#####.........."},
};

enum { GLYPH_W = 5, GLYPH_H = 7, GLYPH_ADVANCE = 6 };

static int text_width(const char *s, int scale)
{
    return (int)strlen(s) * GLYPH_ADVANCE * scale;
}

/* Text with its top left corner at (x, y), each font pixel a scale x scale block. */
static void image_text(image *im, int x, int y, const char *s, int scale,
                       const unsigned char *color)
{
    for (; *s; s++, x += GLYPH_ADVANCE * scale) {
        char c = (char)tolower((unsigned char)*s);
        for (size_t g = 0; g < sizeof font / sizeof font[0]; g++) {
            if (font[g].c != c) continue;
            for (int r = 0; r < GLYPH_H; r++)
                for (int k = 0; k < GLYPH_W; k++)
                    if (font[g].rows[r * GLYPH_W + k] == '#')
                        image_rect(im, x + k * scale, y + r * scale, scale, scale, color);
            break;
        }
    }
}

/* Files are written under a temporary name and renamed, so a viewer never sees half a
 * picture while training rewrites it. */
static const char *temp_name(const char *path)
{
    static char buf[PATH_MAX];
    if ((size_t)snprintf(buf, sizeof buf, "%s.tmp", path) >= sizeof buf)
        ex_die("path too long: %s", path);
    return buf;
}

static int finish_file(const char *tmp, const char *path, int ok)
{
    if (ok && rename(tmp, path) == 0) return 0;
    fflush(stdout);
    fprintf(stderr, "%s: warning: could not write %s: %s\n", ex_progname, path,
            ok ? strerror(errno) : "write error");
    remove(tmp);
    return -1;
}

static int png_write(const char *path, const image *im)
{
    const char *tmp = temp_name(path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return finish_file(tmp, path, 0);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return finish_file(tmp, path, 0);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)im->w, (png_uint_32)im->h, 8,
                 im->ch == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < im->h; y++)
        png_write_row(png, im->px + (size_t)y * (size_t)im->w * (size_t)im->ch);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return finish_file(tmp, path, fclose(f) == 0);
}

ex_frames ex_frames_of(const float *data, size_t S, size_t D, size_t b, size_t t0, size_t n)
{
    ex_frames f = {data + (t0 * S + b) * D, n, S * D};
    return f;
}

enum { GAP = 2, ROW_GAP = 6, MARGIN = 4 };
static const unsigned char BACKGROUND[3] = {48, 48, 48}, INK[3] = {255, 255, 255};

int ex_write_strip(const char *path, const char *const *labels, const ex_frames *rows,
                   int n_rows, size_t side, int scale, size_t wrap)
{
    const int cell = (int)side * scale;
    char num[24];
    int label_w = text_width("0000", scale), cols = 0, height = MARGIN;
    for (int r = 0; r < n_rows; r++) {
        size_t lines = (rows[r].n + wrap - 1) / wrap, n = rows[r].n < wrap ? rows[r].n : wrap;
        if (text_width(labels[r], scale) > label_w) label_w = text_width(labels[r], scale);
        if ((int)n > cols) cols = (int)n;
        height += (int)lines * (cell + GAP) + ROW_GAP;
    }
    const int left = MARGIN + label_w + MARGIN;
    image im = image_new(left + cols * (cell + GAP) + MARGIN, height, 1, BACKGROUND);

    int top = MARGIN;
    for (int r = 0; r < n_rows; r++) {
        for (size_t i = 0; i < rows[r].n; i++) {
            int x = left + (int)(i % wrap) * (cell + GAP);
            int y = top + (int)(i / wrap) * (cell + GAP);
            image_frame(&im, x, y, rows[r].data + i * rows[r].stride, side, scale);
            /* The row's label on its first line, the frame number on wrapped lines. */
            if (i % wrap) continue;
            snprintf(num, sizeof num, "%zu", i + 1);
            image_text(&im, MARGIN, y + cell / 2 - GLYPH_H * scale / 2, i ? num : labels[r],
                       scale, INK);
        }
        top += (int)((rows[r].n + wrap - 1) / wrap) * (cell + GAP) + ROW_GAP;
    }
    int rc = png_write(path, &im);
    free(im.px);
    return rc;
}

/* GIF palette: indices 0..GRAYS-1 are a gray ramp, then the bar colours. */
enum { GRAYS = 254, INDEX_RED = 254, INDEX_GREEN = 255 };

static unsigned char gray_index(unsigned char g)
{
    return (unsigned char)((g * (GRAYS - 1) + 127) / 255);
}

int ex_write_gif(const char *path, const ex_panel *panels, int n_panels, size_t side,
                 int scale, int delay_cs)
{
    enum { HEADER = GLYPH_H + 2 * MARGIN, BAR = 4 };
    const int cell = (int)side * scale;
    const int w = MARGIN + n_panels * (cell + MARGIN), h = HEADER + cell + MARGIN + BAR + MARGIN;
    const size_t n_frames = panels[0].frames.n;
    const char *tmp = temp_name(path);
    int err = 0, ok = 1;

    /* giflib would create the file readable by its owner only; open it as fopen would. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    GifFileType *gif = fd >= 0 ? EGifOpenFileHandle(fd, &err) : NULL;
    if (!gif) {
        if (fd >= 0) close(fd);
        return finish_file(tmp, path, 0);
    }
    EGifSetGifVersion(gif, true);
    ColorMapObject *map = GifMakeMapObject(256, NULL);
    if (!map) ex_die("out of memory");
    for (int i = 0; i < GRAYS; i++) {
        GifByteType g = (GifByteType)((i * 255 + (GRAYS - 1) / 2) / (GRAYS - 1));
        map->Colors[i] = (GifColorType){g, g, g};
    }
    map->Colors[INDEX_RED] = (GifColorType){230, 40, 40};
    map->Colors[INDEX_GREEN] = (GifColorType){40, 200, 60};
    ok = EGifPutScreenDesc(gif, w, h, 8, 0, map) == GIF_OK;

    /* The NETSCAPE2.0 application extension: loop forever. */
    static const unsigned char loop[3] = {1, 0, 0};
    ok = ok && EGifPutExtensionLeader(gif, APPLICATION_EXT_FUNC_CODE) == GIF_OK &&
         EGifPutExtensionBlock(gif, 11, "NETSCAPE2.0") == GIF_OK &&
         EGifPutExtensionBlock(gif, 3, loop) == GIF_OK &&
         EGifPutExtensionTrailer(gif) == GIF_OK;

    image im = image_new(w, h, 1, BACKGROUND);
    for (size_t t = 0; ok && t < n_frames; t++) {
        image_rect(&im, 0, 0, w, h, BACKGROUND);
        char num[24];
        snprintf(num, sizeof num, "%zu", t + 1);
        image_text(&im, w - MARGIN - text_width(num, 1), MARGIN, num, 1, INK);
        for (int p = 0; p < n_panels; p++) {
            int x = MARGIN + p * (cell + MARGIN);
            image_text(&im, x, MARGIN, panels[p].label, 1, INK);
            image_frame(&im, x, HEADER, panels[p].frames.data + t * panels[p].frames.stride,
                        side, scale);
        }
        for (size_t i = 0; i < (size_t)w * (size_t)h; i++) im.px[i] = gray_index(im.px[i]);
        /* The bars go in after the gray mapping: their indices are palette colours. */
        for (int p = 0; p < n_panels; p++) {
            int x = MARGIN + p * (cell + MARGIN);
            int future = t >= panels[p].future_from;
            unsigned char c = !future ? gray_index(160)
                              : panels[p].bar == EX_BAR_GREEN ? INDEX_GREEN : INDEX_RED;
            image_rect(&im, x, HEADER + cell + MARGIN, cell, BAR, &c);
        }
        GraphicsControlBlock gcb = {DISPOSE_DO_NOT, false,
                                    t + 1 == n_frames ? 4 * delay_cs : delay_cs,
                                    NO_TRANSPARENT_COLOR};
        GifByteType ext[4];
        EGifGCBToExtension(&gcb, ext);
        ok = EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, 4, ext) == GIF_OK &&
             EGifPutImageDesc(gif, 0, 0, w, h, false, NULL) == GIF_OK;
        for (int y = 0; ok && y < h; y++)
            ok = EGifPutLine(gif, im.px + (size_t)y * (size_t)w, w) == GIF_OK;
    }
    free(im.px);
    GifFreeMapObject(map);
    ok = EGifCloseFile(gif, &err) == GIF_OK && ok;
    return finish_file(tmp, path, ok);
}

/* Frames of a and then b, copied into one contiguous array (free()). */
static float *concat_frames(ex_frames a, ex_frames b, size_t D, ex_frames *out)
{
    float *x = ex_malloc((a.n + b.n) * D * sizeof *x);
    for (size_t i = 0; i < a.n; i++)
        memcpy(x + i * D, a.data + i * a.stride, D * sizeof *x);
    for (size_t i = 0; i < b.n; i++)
        memcpy(x + (a.n + i) * D, b.data + i * b.stride, D * sizeof *x);
    out->data = x, out->n = a.n + b.n, out->stride = D;
    return x;
}

int ex_write_pictures(seqvid_model *model, seqvid_batch *seqs, size_t n_seq,
                      const char *out_dir, const char *prefix, size_t rollout)
{
    ex_model_info m = ex_model_describe(model);
    size_t T, S, D;
    float *x;
    ex_check(seqvid_batch_shape(seqs, &T, &S, &D), "batch");
    ex_check(seqvid_batch_data(seqs, &x), "batch");
    const size_t side = (size_t)lround(sqrt((double)D));
    if (side * side != D) return 0; /* not square frames: nothing to draw */
    if (n_seq > S) n_seq = S;
    const size_t K = T < m.input_frames ? T : m.input_frames, M = m.future_frames;
    const size_t n_truth = T > K ? (T - K < M ? T - K : M) : 0;
    const size_t n_pred = m.has_fut ? (rollout > M ? rollout : M) : 0;
    const size_t n_show = n_pred < M ? n_pred : M;
    float *recon = NULL, *pred = NULL;
    char name[PATH_MAX];
    int failed = 0;

    /* The model sees the first K frames only, like in training. */
    seqvid_batch *in = ex_batch_slice(seqs, 0, n_seq, K);
    if (m.has_rec) {
        recon = ex_malloc(K * n_seq * D * sizeof *recon);
        ex_check(seqvid_model_reconstruct(model, in, recon, K * n_seq * D), "reconstruction");
    }
    if (m.has_fut) {
        pred = ex_malloc(n_pred * n_seq * D * sizeof *pred);
        ex_check(seqvid_model_predict(model, in, n_pred, pred, n_pred * n_seq * D), "prediction");
    }

    for (size_t b = 0; b < n_seq; b++) {
        ex_frames input = ex_frames_of(x, S, D, b, 0, K);
        ex_frames truth = ex_frames_of(x, S, D, b, K, n_truth);
        const char *labels[4];
        ex_frames rows[4];
        int n = 0;

        /* Strip: input | reconstruction | true future | predicted future. */
        labels[n] = "input", rows[n++] = input;
        if (recon) labels[n] = "recon", rows[n++] = ex_frames_of(recon, n_seq, D, b, 0, K);
        if (n_truth) labels[n] = "truth", rows[n++] = truth;
        if (pred) labels[n] = "model", rows[n++] = ex_frames_of(pred, n_seq, D, b, 0, n_show);
        snprintf(name, sizeof name, "%s%zu.png", prefix, b);
        failed += ex_write_strip(ex_path(out_dir, name), labels, rows, n, side, 2,
                                 K > M ? K : M) != 0;

        /* GIF: input then truth | input then prediction (or input | reconstruction). */
        ex_panel panels[2];
        float *a = NULL, *c = NULL;
        int n_panels = 0;
        if (pred) {
            ex_frames t, p;
            a = concat_frames(input, truth, D, &t);
            c = concat_frames(input, ex_frames_of(pred, n_seq, D, b, 0, n_show), D, &p);
            if (n_truth) panels[n_panels++] = (ex_panel){"truth", t, K, EX_BAR_GREEN};
            panels[n_panels++] = (ex_panel){"model", p, K, EX_BAR_RED};
            /* A shorter truth (a short .npy) is shown only when lengths match. */
            if (n_truth != n_show) panels[0] = panels[n_panels - 1], n_panels = 1;
        } else {
            ex_frames r = ex_frames_of(recon, n_seq, D, b, 0, K);
            panels[n_panels++] = (ex_panel){"input", input, K, EX_BAR_GREEN};
            panels[n_panels++] = (ex_panel){"recon", r, K, EX_BAR_RED};
        }
        snprintf(name, sizeof name, "%s%zu.gif", prefix, b);
        failed += ex_write_gif(ex_path(out_dir, name), panels, n_panels, side, 2, 10) != 0;
        free(a), free(c);

        /* The long roll-out, far past the trained horizon M. */
        if (pred && rollout > 0) {
            ex_frames p;
            const char *rl[2] = {"input", "model"};
            ex_frames rr[2] = {input, ex_frames_of(pred, n_seq, D, b, 0, rollout)};
            snprintf(name, sizeof name, "%s%zu_rollout.png", prefix, b);
            failed += ex_write_strip(ex_path(out_dir, name), rl, rr, 2, side, 1, 10) != 0;
            float *r = concat_frames(input, rr[1], D, &p);
            ex_panel panel = {"model", p, K, EX_BAR_RED};
            snprintf(name, sizeof name, "%s%zu_rollout.gif", prefix, b);
            failed += ex_write_gif(ex_path(out_dir, name), &panel, 1, side, 2, 10) != 0;
            free(r);
        }
    }
    seqvid_batch_free(in);
    free(recon);
    free(pred);
    return failed;
}

/* =======================================================================================
 * Loss plot
 * ===================================================================================== */
/* A line of width w from (xa, ya) to (xb, yb), clipped to the box; dashed lines draw 6
 * pixels of every 10 along the line (the phase carries over between segments). */
typedef struct box { int x, y, w, h; } box;

static void plot_line(image *im, box clip, int xa, int ya, int xb, int yb, int w,
                      const unsigned char *color, int dashed, int *phase)
{
    int dx = abs(xb - xa), dy = -abs(yb - ya), sx = xa < xb ? 1 : -1, sy = ya < yb ? 1 : -1;
    int err = dx + dy;
    for (;;) { /* Bresenham */
        if (!dashed || (*phase)++ % 10 < 6)
            for (int j = ya - w / 2; j < ya - w / 2 + w; j++)
                for (int i = xa - w / 2; i < xa - w / 2 + w; i++)
                    if (i >= clip.x && i < clip.x + clip.w && j >= clip.y && j < clip.y + clip.h)
                        image_put(im, i, j, color);
        if (xa == xb && ya == yb) break;
        int e2 = 2 * err;
        if (e2 >= dy) err += dy, xa += sx;
        if (e2 <= dx) err += dx, ya += sy;
    }
}

/* "%.0f" for numbers >= 1, else "%g": the font has digits, '.', '-' but no '+'. */
static void tick_label(char *buf, size_t size, double v)
{
    snprintf(buf, size, v >= 1 ? "%.0f" : "%g", v);
}

int ex_write_plot(const char *path, const ex_curve *curves, int n_curves, const char *xlabel,
                  const char *ylabel)
{
    enum { W = 800, H = 460, LEFT = 56, RIGHT = 16, TOP = 24, BOTTOM = 40 };
    static const unsigned char WHITE[3] = {255, 255, 255}, BLACK[3] = {0, 0, 0},
                               GRID[3] = {225, 225, 225}, FRAME_GRAY[3] = {150, 150, 150};
    const box area = {LEFT, TOP, W - LEFT - RIGHT, H - TOP - BOTTOM};
    double xmax = 1, ymin = INFINITY, ymax = -INFINITY;
    char buf[32];

    for (int c = 0; c < n_curves; c++)
        for (size_t i = 0; i < curves[c].n; i++) {
            double x = curves[c].x[i], y = curves[c].y[i];
            if (x > xmax) xmax = x;
            if (isfinite(y) && y > 0) ymin = fmin(ymin, y), ymax = fmax(ymax, y);
        }
    if (!(ymin <= ymax)) ymin = 1, ymax = 10;
    /* Log scale, padded by 15% on both sides. */
    double la = log10(ymin / 1.15), lb = log10(ymax * 1.15);
    if (lb - la < 0.3) la -= 0.15, lb += 0.15;
#define PX(vx) (area.x + (int)lround((vx) / xmax * (area.w - 1)))
#define PY(vy) (area.y + area.h - 1 - (int)lround((log10(vy) - la) / (lb - la) * (area.h - 1)))

    image im = image_new(W, H, 3, WHITE);

    /* y: grid lines at 1..9 x 10^k, labelled at 1, 2, 5 x 10^k (all of them when the range
     * spans less than a decade) */
    for (int k = (int)floor(la); k <= (int)ceil(lb); k++)
        for (int j = 1; j <= 9; j++) {
            double v = j * pow(10, k);
            if (log10(v) < la || log10(v) > lb) continue;
            int y = PY(v);
            image_rect(&im, area.x, y, area.w, 1, GRID);
            if (lb - la > 1 && j != 1 && j != 2 && j != 5) continue;
            image_rect(&im, area.x - 4, y, 4, 1, BLACK);
            tick_label(buf, sizeof buf, v);
            image_text(&im, area.x - 7 - text_width(buf, 1), y - GLYPH_H / 2, buf, 1, BLACK);
        }
    /* x: about six ticks at a 1, 2, 5 x 10^k step */
    double raw = xmax / 6, mag = pow(10, floor(log10(raw))), step = mag;
    if (raw / mag > 5) step = 10 * mag;
    else if (raw / mag > 2) step = 5 * mag;
    else if (raw / mag > 1) step = 2 * mag;
    step = fmax(step, 1);
    for (double v = 0; v <= xmax + 1e-9; v += step) {
        int x = PX(v);
        image_rect(&im, x, area.y, 1, area.h, GRID);
        image_rect(&im, x, area.y + area.h, 1, 4, BLACK);
        tick_label(buf, sizeof buf, v);
        image_text(&im, x - text_width(buf, 1) / 2, area.y + area.h + 7, buf, 1, BLACK);
    }
    image_rect(&im, area.x, area.y, 1, area.h, BLACK);
    image_rect(&im, area.x, area.y + area.h, area.w, 1, BLACK);
    image_text(&im, area.x + (area.w - text_width(xlabel, 1)) / 2, H - GLYPH_H - 6, xlabel, 1,
               BLACK);
    image_text(&im, 6, 8, ylabel, 1, BLACK);

    /* Curves: consecutive finite points are joined, NaN points skipped. */
    for (int c = 0; c < n_curves; c++) {
        const ex_curve *cv = &curves[c];
        int phase = 0, have = 0, px = 0, py = 0;
        for (size_t i = 0; i < cv->n; i++) {
            if (!isfinite(cv->y[i]) || cv->y[i] <= 0) continue;
            int x = PX(cv->x[i]), y = PY(cv->y[i]);
            if (!have) px = x, py = y, have = 1;
            plot_line(&im, area, px, py, x, y, cv->width, cv->rgb, cv->dashed, &phase);
            px = x, py = y;
        }
    }
#undef PX
#undef PY

    /* Legend, top right */
    int lw = 0;
    for (int c = 0; c < n_curves; c++)
        if (text_width(curves[c].label, 1) > lw) lw = text_width(curves[c].label, 1);
    box legend = {area.x + area.w - (lw + 44), area.y + 6, lw + 38, n_curves * 12 + 8};
    image_rect(&im, legend.x - 1, legend.y - 1, legend.w + 2, legend.h + 2, FRAME_GRAY);
    image_rect(&im, legend.x, legend.y, legend.w, legend.h, WHITE);
    for (int c = 0; c < n_curves; c++) {
        int y = legend.y + 10 + c * 12, phase = 0;
        plot_line(&im, legend, legend.x + 6, y - 1, legend.x + 26, y - 1, curves[c].width,
                  curves[c].rgb, curves[c].dashed, &phase);
        image_text(&im, legend.x + 32, y - 4, curves[c].label, 1, BLACK);
    }

    int rc = png_write(path, &im);
    free(im.px);
    return rc;
}
