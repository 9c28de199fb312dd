/*
 * data.c -- digits, Moving MNIST, .npy headers, batch slices and sequence sets (see data.h).
 */
#define _POSIX_C_SOURCE 200809L

#include "data.h"

#include "cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

size_t ex_shape_dim(ex_shape s)
{
    return s.w ? s.h * s.w * s.c : s.h;
}

const char *ex_shape_name(ex_shape s)
{
    static char buf[64];
    if (!s.w)
        snprintf(buf, sizeof buf, "%zu-vector", s.h);
    else
        snprintf(buf, sizeof buf, "%zux%zu %s", s.w, s.h,
                 s.c == 1 ? "gray" : s.c == 3 ? "RGB" : "multi-channel");
    return buf;
}

/* =======================================================================================
 * MNIST digits and Moving MNIST
 * ===================================================================================== */
const char *ex_data_home(void)
{
    static char buf[PATH_MAX];
    const char *base = getenv("SEQVID_DATA"), *home = getenv("HOME");
    int n;
    if (base && *base)
        n = snprintf(buf, sizeof buf, "%s", base);
    else
        n = snprintf(buf, sizeof buf, "%s/.cache/seqvid", home ? home : ".");
    if ((size_t)n >= sizeof buf) ex_die("data folder path too long");
    return buf;
}

const char *ex_default_data_dir(void)
{
    static char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", ex_path(ex_data_home(), "mnist"));
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

float *ex_mean_frame(const seqvid_digits *train, int n_digits, size_t n_frames)
{
    enum { STEPS = 20, SEQS = 16 };
    const size_t D = EX_CANVAS * EX_CANVAS;
    seqvid_mmnist *gen = ex_generator(train, n_digits, EX_VAL_SEED + 1);
    seqvid_batch *batch;
    float *x, *mean = ex_malloc(D * sizeof *mean);
    double *sum = ex_calloc(D, sizeof *sum);
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

/* =======================================================================================
 * .npy headers (format 1.0-3.0: magic, version, header length, a Python dict literal)
 * ===================================================================================== */
/* The value after 'key': in the dict, or NULL. */
static const char *dict_value(const char *dict, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(dict, pat);
    if (!p) return NULL;
    p = strchr(p + strlen(pat), ':');
    if (!p) return NULL;
    for (p++; *p == ' '; p++) {}
    return p;
}

int ex_npy_info_read(const char *path, ex_npy_info *info, char *why, size_t why_size)
{
    unsigned char pre[12];
    char *dict = NULL;
    int rc = -1;
    FILE *f = fopen(path, "rb");
    memset(info, 0, sizeof *info);
    if (!f) {
        snprintf(why, why_size, "cannot open");
        return -1;
    }
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        snprintf(why, why_size, "not a .npy file (no \\x93NUMPY magic)");
        goto out;
    }
    size_t hlen, skip;
    if (pre[6] == 1) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8, skip = 10;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) goto truncated;
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 |
               (size_t)pre[11] << 24;
        skip = 12;
    } else {
        snprintf(why, why_size, ".npy format version %d is not known", pre[6]);
        goto out;
    }
    if (hlen > 1 << 20) {
        snprintf(why, why_size, "header of %zu bytes is too long", hlen);
        goto out;
    }
    dict = ex_malloc(hlen + 1);
    if (fread(dict, 1, hlen, f) != hlen) goto truncated;
    dict[hlen] = '\0';
    info->data_offset = skip + hlen;

    const char *d = dict_value(dict, "descr"), *fo = dict_value(dict, "fortran_order"),
               *sh = dict_value(dict, "shape");
    if (!d || *d != '\'' || !fo || !sh || *sh != '(') {
        snprintf(why, why_size, "header is not a numpy array description");
        goto out;
    }
    size_t n = strcspn(d + 1, "'");
    if (n >= sizeof info->descr) n = sizeof info->descr - 1;
    memcpy(info->descr, d + 1, n);
    info->fortran = !strncmp(fo, "True", 4);
    for (const char *p = sh + 1; *p && *p != ')';) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')') break;
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p || info->ndim == EX_NPY_MAX_DIMS) {
            snprintf(why, why_size, "shape is not a tuple of at most %d integers",
                     EX_NPY_MAX_DIMS);
            goto out;
        }
        info->shape[info->ndim++] = (size_t)v;
        p = end;
    }
    rc = 0;
    goto out;
truncated:
    snprintf(why, why_size, "truncated header");
out:
    free(dict);
    fclose(f);
    return rc;
}

/* =======================================================================================
 * Batches and sets
 * ===================================================================================== */
seqvid_batch *ex_batch_window(seqvid_batch *src, size_t first, size_t n_seqs, size_t t0,
                              size_t n_steps)
{
    size_t T, S, D;
    float *from, *to;
    seqvid_batch *out;
    ex_check(seqvid_batch_shape(src, &T, &S, &D), "batch shape");
    if (n_seqs == 0 || first + n_seqs > S || n_steps == 0 || t0 + n_steps > T)
        ex_die("cannot take sequences %zu..%zu, steps %zu..%zu, of a batch of %zu x %zu",
               first, first + n_seqs, t0, t0 + n_steps, S, T);
    ex_check(seqvid_batch_create(n_steps, n_seqs, D, &out), "batch");
    ex_check(seqvid_batch_data(src, &from), "batch");
    ex_check(seqvid_batch_data(out, &to), "batch");
    for (size_t t = 0; t < n_steps; t++)
        memcpy(to + t * n_seqs * D, from + ((t0 + t) * S + first) * D, n_seqs * D * sizeof *to);
    for (size_t b = 0; b < n_seqs; b++) {
        size_t len;
        ex_check(seqvid_batch_get_length(src, first + b, &len), "batch");
        len = len > t0 ? len - t0 : 0;
        ex_check(seqvid_batch_set_length(out, b, len < n_steps ? len : n_steps), "batch");
    }
    return out;
}

seqvid_batch *ex_batch_slice(seqvid_batch *src, size_t first, size_t n_seqs, size_t n_steps)
{
    return ex_batch_window(src, first, n_seqs, 0, n_steps);
}

static void set_init(ex_set *set, size_t n_steps, size_t n_seqs, size_t dim, size_t chunk)
{
    if (n_seqs == 0 || chunk == 0) ex_die("an empty sequence set");
    set->n_chunks = (n_seqs + chunk - 1) / chunk;
    set->chunks = ex_calloc(set->n_chunks, sizeof *set->chunks);
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

void ex_set_from_batch(ex_set *set, seqvid_batch *src, size_t first, size_t n_seqs,
                       size_t n_steps, size_t chunk)
{
    size_t dim;
    ex_check(seqvid_batch_shape(src, NULL, NULL, &dim), "batch");
    set_init(set, n_steps, n_seqs, dim, chunk);
    for (size_t c = 0; c < set->n_chunks; c++) {
        size_t n = n_seqs - c * chunk < chunk ? n_seqs - c * chunk : chunk;
        set->chunks[c] = ex_batch_slice(src, first + c * chunk, n, n_steps);
    }
}

void ex_set_free(ex_set *set)
{
    for (size_t c = 0; c < set->n_chunks; c++) seqvid_batch_free(set->chunks[c]);
    free(set->chunks);
    memset(set, 0, sizeof *set);
}

float *ex_batch_mean_frame(seqvid_batch *batch, size_t first, size_t n_seqs)
{
    size_t T, S, D, n = 0;
    float *x;
    ex_check(seqvid_batch_shape(batch, &T, &S, &D), "batch");
    ex_check(seqvid_batch_data(batch, &x), "batch");
    double *sum = ex_calloc(D, sizeof *sum);
    float *mean = ex_malloc(D * sizeof *mean);
    for (size_t b = first; b < first + n_seqs && b < S; b++) {
        size_t len;
        ex_check(seqvid_batch_get_length(batch, b, &len), "batch");
        for (size_t t = 0; t < len; t++, n++)
            for (size_t d = 0; d < D; d++) sum[d] += x[(t * S + b) * D + d];
    }
    for (size_t d = 0; d < D; d++) mean[d] = n ? (float)(sum[d] / (double)n) : 0.0f;
    free(sum);
    return mean;
}
