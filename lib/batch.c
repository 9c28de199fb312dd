/* batch.c -- sequence batches: owned storage or views of caller memory, per-sequence lengths. */
#include <limits.h>
#include <stdlib.h>
#include "alloc.h"
#include "batch.h"
#include "error.h"
#include "util.h"

static int batch_new(float *data, size_t T, size_t S, size_t D, seqvid_batch **out,
                     const char *fn) {
    SV_NOT_NULL(out);
    *out = NULL;
    if (!T || !S || !D)
        return sv_fail(SEQVID_ERR_ARG, "%s: sizes must be >= 1 (steps %zu, seqs %zu, dim %zu)",
                       fn, T, S, D);
    size_t n;
    /* Kernel sizes are ints (BLAS): keep every count below INT_MAX. */
    if (!sv_mul3(T, S, D, &n) || n > INT_MAX || T > INT_MAX || S > INT_MAX)
        return sv_fail(SEQVID_ERR_OVERFLOW, "%s: %zu x %zu x %zu floats is too large", fn, T, S,
                       D);
    seqvid_batch *b = sv_calloc(1, sizeof *b);
    if (!b) return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);
    b->T = T, b->S = S, b->D = D;
    b->len = sv_malloc(S * sizeof *b->len);
    b->owned = data == NULL;
    b->data = data ? data : sv_falloc(n);
    if (!b->len || !b->data) {
        seqvid_batch_free(b);
        return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory for %zu floats", fn, n);
    }
    for (size_t s = 0; s < S; s++) b->len[s] = (int)T;
    *out = b;
    return SEQVID_OK;
}

int seqvid_batch_create(size_t n_steps, size_t n_seqs, size_t dim, seqvid_batch **out) {
    return batch_new(NULL, n_steps, n_seqs, dim, out, "seqvid_batch_create");
}

int seqvid_batch_wrap(float *data, size_t n_steps, size_t n_seqs, size_t dim,
                      seqvid_batch **out) {
    if (out) *out = NULL;
    SV_NOT_NULL(data);
    return batch_new(data, n_steps, n_seqs, dim, out, "seqvid_batch_wrap");
}

void seqvid_batch_free(seqvid_batch *b) {
    if (!b) return;
    if (b->owned) sv_free(b->data);
    free(b->len);
    free(b);
}

int seqvid_batch_shape(const seqvid_batch *b, size_t *n_steps, size_t *n_seqs, size_t *dim) {
    SV_NOT_NULL(b);
    if (n_steps) *n_steps = b->T;
    if (n_seqs) *n_seqs = b->S;
    if (dim) *dim = b->D;
    return SEQVID_OK;
}

int seqvid_batch_data(seqvid_batch *b, float **data) {
    SV_NOT_NULL(b);
    SV_NOT_NULL(data);
    *data = b->data;
    return SEQVID_OK;
}

int seqvid_batch_set_length(seqvid_batch *b, size_t seq, size_t len) {
    SV_NOT_NULL(b);
    if (seq >= b->S)
        return sv_fail(SEQVID_ERR_ARG, "seqvid_batch_set_length: sequence %zu >= %zu", seq,
                       b->S);
    if (len < 1 || len > b->T)
        return sv_fail(SEQVID_ERR_ARG, "seqvid_batch_set_length: length %zu outside [1, %zu]",
                       len, b->T);
    b->len[seq] = (int)len;
    return SEQVID_OK;
}

int seqvid_batch_get_length(const seqvid_batch *b, size_t seq, size_t *len) {
    SV_NOT_NULL(b);
    SV_NOT_NULL(len);
    if (seq >= b->S)
        return sv_fail(SEQVID_ERR_ARG, "seqvid_batch_get_length: sequence %zu >= %zu", seq,
                       b->S);
    *len = (size_t)b->len[seq];
    return SEQVID_OK;
}

int sv_batch_check(const seqvid_batch *b, size_t D, const char *fn) {
    if (!b) return sv_fail(SEQVID_ERR_NULL, "%s: argument 'batch' is NULL", fn);
    if (D && b->D != D)
        return sv_fail(SEQVID_ERR_SHAPE, "%s: batch frames have %zu floats, the model wants %zu",
                       fn, b->D, D);
    return SEQVID_OK;
}
