/*
 * info.c -- `seqvid info FILE...`: what a model, checkpoint, .npy or video file holds.
 */
#define _POSIX_C_SOURCE 200809L

#include "commands.h"

#include "../support/cli.h"
#include "../support/data.h"
#include "../support/evaluate.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The configuration keys by name, as docs/format.md spells them in a file's metadata.
 * (When the library offers name <-> key functions, this table goes.) */
static const struct { int key; const char *name; } config_keys[] = {
    {SEQVID_CFG_KIND, "KIND"}, {SEQVID_CFG_INPUT_DIM, "INPUT_DIM"},
    {SEQVID_CFG_HIDDEN, "HIDDEN"}, {SEQVID_CFG_LAYERS, "LAYERS"},
    {SEQVID_CFG_PEEPHOLES, "PEEPHOLES"}, {SEQVID_CFG_INPUT_FRAMES, "INPUT_FRAMES"},
    {SEQVID_CFG_FUTURE_FRAMES, "FUTURE_FRAMES"}, {SEQVID_CFG_COND_RECON, "COND_RECON"},
    {SEQVID_CFG_COND_FUTURE, "COND_FUTURE"}, {SEQVID_CFG_OUTPUT, "OUTPUT"},
    {SEQVID_CFG_RECON_FEED, "RECON_FEED"}, {SEQVID_CFG_SEED, "SEED"},
    {SEQVID_CFG_INIT_WEIGHT, "INIT_WEIGHT"}, {SEQVID_CFG_INIT_PEEPHOLE, "INIT_PEEPHOLE"},
    {SEQVID_CFG_FORGET_BIAS, "FORGET_BIAS"},
};

static const struct { int key; const char *name; } optimizer_keys[] = {
    {SEQVID_OPT_LR, "LR"}, {SEQVID_OPT_MOMENTUM, "MOMENTUM"},
    {SEQVID_OPT_WEIGHT_DECAY, "WEIGHT_DECAY"}, {SEQVID_OPT_UPDATE_CLIP, "UPDATE_CLIP"},
    {SEQVID_OPT_GRAD_CLIP, "GRAD_CLIP"}, {SEQVID_OPT_DECAY, "DECAY"},
    {SEQVID_OPT_BETA1, "BETA1"}, {SEQVID_OPT_BETA2, "BETA2"}, {SEQVID_OPT_EPS, "EPS"},
};

/* The safetensors header text (the first `cap` bytes of it), or "" if not one. */
static void safetensors_header(FILE *f, char *buf, size_t cap)
{
    unsigned char n8[8];
    buf[0] = '\0';
    rewind(f);
    if (fread(n8, 1, 8, f) != 8) return;
    unsigned long long n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | n8[i];
    size_t want = n < cap - 1 ? (size_t)n : cap - 1;
    size_t got = fread(buf, 1, want, f);
    buf[got] = '\0';
}

static int info_model(const char *path, FILE *f)
{
    seqvid_model *model = NULL;
    seqvid_optimizer *opt = NULL;
    uint64_t step = 0;
    /* A checkpoint first: it says more (step, optimizer); a model file is refused by
     * seqvid_checkpoint_load and read by seqvid_model_load. */
    int checkpoint = seqvid_checkpoint_load(path, &model, &opt, NULL, &step) == SEQVID_OK;
    if (!checkpoint) {
        int st = seqvid_model_load(path, &model);
        if (st != SEQVID_OK) {
            printf("%s: a safetensors file, but not a libseqvid model: %s: %s\n", path,
                   seqvid_status_string(st), seqvid_last_error());
            return 1;
        }
    }
    ex_model_info m = ex_model_describe(model);
    size_t n_params, F;
    ex_check(seqvid_model_param_count(model, &n_params), "model");
    ex_check(seqvid_model_feature_dim(model, &F), "model");
    printf("%s: libseqvid %s\n", path, checkpoint ? "training checkpoint" : "model");
    printf("  %s, %zu layer%s of %zu LSTM units, %zu values per frame, %s output\n",
           ex_kind_name(m.kind), m.layers, m.layers > 1 ? "s" : "", m.hidden, m.dim,
           m.output == SEQVID_OUTPUT_REAL ? "real (squared loss)" : "binary (cross-entropy)");
    printf("  trained on K=%zu input frames", m.input_frames);
    if (m.has_fut) printf(", M=%zu future frames", m.future_frames);
    printf("; %zu parameters; representation: %zu floats per clip\n", n_params, F);
    printf("  config:");
    for (size_t i = 0; i < sizeof config_keys / sizeof config_keys[0]; i++) {
        double v;
        if (seqvid_model_get(model, config_keys[i].key, &v) == SEQVID_OK)
            printf(" %s=%g", config_keys[i].name, v);
    }
    printf("\n");
    if (checkpoint) {
        uint64_t updates = 0;
        char header[1 << 16];
        seqvid_optimizer_steps(opt, &updates);
        printf("  step %llu, %llu optimizer updates; optimizer:", (unsigned long long)step,
               (unsigned long long)updates);
        for (size_t i = 0; i < sizeof optimizer_keys / sizeof optimizer_keys[0]; i++) {
            double v;
            if (seqvid_optimizer_get(opt, optimizer_keys[i].key, &v) == SEQVID_OK)
                printf(" %s=%g", optimizer_keys[i].name, v);
        }
        safetensors_header(f, header, sizeof header);
        printf("\n  data generator state: %s\n",
               strstr(header, "\"data.rng_state\"") ? "yes (Moving MNIST; resume continues "
                                                      "its random stream)"
                                                    : "no");
    }
    seqvid_optimizer_free(opt);
    seqvid_model_free(model);
    return 0;
}

static int info_npy(const char *path)
{
    ex_npy_info in;
    char why[256];
    if (ex_npy_info_read(path, &in, why, sizeof why) != 0) {
        printf("%s: %s\n", path, why);
        return 1;
    }
    printf("%s: NumPy array, %s, shape (", path, in.descr);
    for (size_t i = 0; i < in.ndim; i++) printf("%s%zu", i ? ", " : "", in.shape[i]);
    printf("%s)%s\n", in.ndim == 1 ? "," : "", in.fortran ? ", Fortran order" : "");
    if (in.ndim < 3) {
        printf("  not sequences (they have 3 or more dimensions: (T, N, ...) or (N, T, ...))\n");
        return 0;
    }
    const size_t *d = in.shape;
    size_t dim = 1;
    for (size_t i = 2; i < in.ndim; i++) dim *= d[i];
    const char *frame = in.ndim == 4 ? "gray frames" : in.ndim == 5 && (d[4] == 3 || d[4] == 1)
                                                          ? "frames of channels"
                                                          : "vectors";
    printf("  as sequences, time-major (--layout time): %zu sequences of %zu %s; "
           "sequence-major (--layout seq): %zu of %zu\n", d[1], d[0], frame, d[0], d[1]);
    printf("  %zu values per frame", dim);
    if (in.ndim >= 4) printf(" (%zu x %zu%s)", d[2], d[3], in.ndim == 5 ? " x channels" : "");
    printf("\n");

    /* The values, unless the file is too large to read for a summary. */
    size_t total = d[0] * d[1] * dim;
    if (total > ((size_t)1 << 28)) return 0;
    seqvid_batch *b;
    int st = seqvid_npy_load(path, SEQVID_LAYOUT_TIME_MAJOR, &b);
    if (st != SEQVID_OK) {
        printf("  cannot be read as sequences: %s: %s\n", seqvid_status_string(st),
               seqvid_last_error());
        return 1;
    }
    float *x;
    ex_check(seqvid_batch_data(b, &x), "batch");
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    size_t bad = 0;
    for (size_t i = 0; i < total; i++) {
        if (!isfinite(x[i])) {
            bad++;
            continue;
        }
        lo = fmin(lo, x[i]), hi = fmax(hi, x[i]), sum += x[i];
    }
    printf("  values%s: min %g, max %g, mean %g%s\n",
           strstr(in.descr, "u1") ? " (uint8 read as v / 255)" : "", lo, hi,
           sum / (double)(total - bad ? total - bad : 1),
           bad ? "" : (lo >= 0 && hi <= 1 ? "; fit binary output" : "; need real output"));
    if (bad) printf("  %zu values are NaN or infinite: training would refuse them\n", bad);
    seqvid_batch_free(b);
    return 0;
}

#ifdef SEQVID_HAVE_VIDEO
int info_video(const char *path); /* source_video.c */
#endif

static int info_file(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "%s: %s: %s\n", ex_progname, path, strerror(errno));
        return 1;
    }
    if (S_ISDIR(sb.st_mode)) {
#ifdef SEQVID_HAVE_VIDEO
        return info_video(path);
#else
        fprintf(stderr, "%s: %s is a folder\n", ex_progname, path);
        return 1;
#endif
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s: %s\n", ex_progname, path, strerror(errno));
        return 1;
    }
    unsigned char head[9] = {0};
    size_t n = fread(head, 1, sizeof head, f);
    int rc;
    if (n >= 6 && !memcmp(head, "\x93NUMPY", 6))
        rc = info_npy(path);
    else if (n == 9 && head[8] == '{')
        rc = info_model(path, f);
    else {
#ifdef SEQVID_HAVE_VIDEO
        rc = info_video(path);
#else
        fprintf(stderr, "%s: %s: not a libseqvid model or checkpoint, nor a .npy file "
                "(video files need a seqvid built with libseqvid_video)\n", ex_progname, path);
        rc = 1;
#endif
    }
    fclose(f);
    return rc;
}

int cmd_info(int argc, char **argv)
{
    if (argc < 2) {
        command_usage(stderr, "info");
        return 2;
    }
    int failed = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            command_usage(stdout, "info");
            return 0;
        }
    }
    for (int i = 1; i < argc; i++) failed += info_file(argv[i]) != 0;
    return failed ? 1 : 0;
}
