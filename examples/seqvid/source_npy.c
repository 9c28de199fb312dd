/*
 * source_npy.c -- sequences from .npy files: frames of any size (gray (T, N, H, W) or
 * colour (T, N, H, W, 3)) or feature vectors (T, N, D), SR15's percepts. Training takes
 * random windows of random sequences, chosen by a hash of (seed, step), so a resumed run
 * sees the same batches as an uninterrupted one; the last --val-size sequences (or the
 * file --val-npy) are held out.
 */
#include "source.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct npy_source {
    source base;
    seqvid_batch *all, *held; /* held may be `all` (its last n_held sequences) */
    size_t T, N, n_train;     /* of `all`; the first n_train sequences train */
    size_t held_first, n_held, held_T;
    uint64_t seed;
} npy_source;

/* The frame shape from the dimensions after (T, N). */
static ex_shape frame_shape(const ex_npy_info *info)
{
    const size_t *d = info->shape + 2;
    const size_t n = info->ndim - 2;
    if (n == 2) return (ex_shape){d[0], d[1], 1};
    if (n == 3 && (d[2] == 1 || d[2] == 3)) return (ex_shape){d[0], d[1], d[2]};
    size_t dim = 1;
    for (size_t i = 0; i < n; i++) dim *= d[i];
    return (ex_shape){dim, 0, 0};
}

static seqvid_batch *load(const char *path, int layout, ex_shape *shape)
{
    ex_npy_info info;
    char why[256];
    seqvid_batch *b;
    if (ex_npy_info_read(path, &info, why, sizeof why) != 0) ex_die("%s: %s", path, why);
    if (info.ndim < 3)
        ex_die("%s: an array of %zu dimensions; sequences need (T, N, ...) or (N, T, ...) "
               "with at least 3", path, info.ndim);
    ex_check(seqvid_npy_load(path, layout, &b), path);
    *shape = frame_shape(&info);
    return b;
}

static void npy_fill(source *src, seqvid_batch *batch, uint64_t step, unsigned attempt)
{
    npy_source *n = (npy_source *)src;
    size_t steps, S, D;
    float *from, *to;
    ex_check(seqvid_batch_shape(batch, &steps, &S, &D), "batch");
    ex_check(seqvid_batch_data(n->all, &from), "batch");
    ex_check(seqvid_batch_data(batch, &to), "batch");
    for (size_t b = 0; b < S; b++) {
        uint64_t h = source_hash(n->seed, step, (uint64_t)attempt * S + b);
        size_t seq = (size_t)(h % n->n_train);
        size_t t0 = (size_t)((h >> 32) % (n->T - steps + 1));
        for (size_t t = 0; t < steps; t++)
            memcpy(to + (t * S + b) * D, from + ((t0 + t) * n->N + seq) * D, D * sizeof *to);
        ex_check(seqvid_batch_set_length(batch, b, steps), "batch");
    }
}

static void npy_held_out(source *src, ex_set *set, size_t n_steps, size_t n_seqs, size_t chunk)
{
    npy_source *n = (npy_source *)src;
    if (n_steps > n->held_T)
        ex_die("the held-out sequences have %zu frames; %zu are needed", n->held_T, n_steps);
    if (n_seqs > n->n_held) n_seqs = n->n_held;
    ex_set_from_batch(set, n->held, n->held_first, n_seqs, n_steps ? n_steps : n->held_T, chunk);
}

static float *npy_mean_frame(source *src)
{
    npy_source *n = (npy_source *)src;
    return n->n_train ? ex_batch_mean_frame(n->all, 0, n->n_train) : NULL;
}

static void npy_free(source *src)
{
    npy_source *n = (npy_source *)src;
    if (n->held != n->all) seqvid_batch_free(n->held);
    seqvid_batch_free(n->all);
    free(n);
}

static const source_ops npy_ops = {npy_fill, npy_held_out, npy_mean_frame, npy_free};

/* Binary output (sigmoid + cross-entropy) fits values in [0, 1]; anything else is real. */
static int fitting_output(seqvid_batch *b)
{
    size_t T, S, D;
    float *x;
    ex_check(seqvid_batch_shape(b, &T, &S, &D), "batch");
    ex_check(seqvid_batch_data(b, &x), "batch");
    for (size_t i = 0; i < T * S * D; i++)
        if (!(x[i] >= 0 && x[i] <= 1)) return SEQVID_OUTPUT_REAL;
    return SEQVID_OUTPUT_BINARY;
}

source *source_open_npy(const source_options *o, int purpose)
{
    npy_source *n = ex_calloc(1, sizeof *n);
    source *s = &n->base;
    s->ops = &npy_ops;
    n->seed = o->common.seed;
    n->all = load(o->npy, o->layout, &s->shape);
    size_t D;
    ex_check(seqvid_batch_shape(n->all, &n->T, &n->N, &D), "batch");
    s->output = fitting_output(n->all);
    s->max_steps = n->T;
    const char *what = s->shape.w ? "frames" : "feature vectors";

    if (purpose == SOURCE_USE) {
        n->held = n->all, n->n_held = n->N, n->held_T = n->T;
        snprintf(s->description, sizeof s->description,
                 "%s: %zu sequences of %zu %s (%s)", o->npy, n->N, n->T, what,
                 ex_shape_name(s->shape));
        return s;
    }
    if (o->val_npy) {
        ex_shape vs;
        size_t vD;
        n->held = load(o->val_npy, o->layout, &vs);
        ex_check(seqvid_batch_shape(n->held, &n->held_T, &n->n_held, &vD), "batch");
        if (vD != D)
            ex_die("%s has %zu values per frame, %s has %zu", o->val_npy, vD, o->npy, D);
        n->n_train = n->N;
    } else {
        if (n->N < 2)
            ex_die("%s: one sequence cannot be split into training and held-out ones; "
                   "pass --val-npy", o->npy);
        n->n_held = (size_t)o->val_size < n->N / 2 ? (size_t)o->val_size : n->N / 2;
        n->n_train = n->N - n->n_held;
        n->held = n->all, n->held_first = n->n_train, n->held_T = n->T;
    }
    snprintf(s->description, sizeof s->description,
             "%s: %zu training sequences of %zu %s (%s); %zu held out%s%s", o->npy,
             n->n_train, n->T, what, ex_shape_name(s->shape), n->n_held,
             o->val_npy ? " from " : " (the file's last)", o->val_npy ? o->val_npy : "");
    return s;
}
