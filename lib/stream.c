/* stream.c -- the streaming encoder: one frame at a time through the encoder stack.
 * At batch 1 the kernel's products become matrix-vector products (see gemm_acc in lstm.c),
 * which stream each weight matrix once per frame. */
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "error.h"
#include "model.h"
#include "util.h"

struct seqvid_stream {
    seqvid_model *m;
    size_t S;
    float *mem;                         /* the caches below */
    sv_lstm_cache c[SV_MAX_LAYERS];     /* one step each: slot 0 = state, slot 1 = next state */
};

int seqvid_stream_create(seqvid_model *m, size_t n_seqs, seqvid_stream **out) {
    SV_NOT_NULL(out);
    *out = NULL;
    SV_NOT_NULL(m);
    if (n_seqs < 1 || n_seqs > (1u << 24))
        return sv_fail(SEQVID_ERR_ARG, "seqvid_stream_create: n_seqs = %zu outside [1, 2^24]",
                       n_seqs);
    seqvid_stream *s = sv_calloc(1, sizeof *s);
    size_t per = sv_lstm_cache_floats(1, (int)n_seqs, m->H);
    if (s) s->mem = sv_falloc(per * (size_t)m->L);
    if (!s || !s->mem) {
        free(s);
        return sv_fail(SEQVID_ERR_NOMEM, "seqvid_stream_create: out of memory");
    }
    s->m = m, s->S = n_seqs;
    for (int l = 0; l < m->L; l++) sv_lstm_cache_bind(&s->c[l], 1, (int)n_seqs, m->H, s->mem + l * per);
    /* Frames: zero pixels cost nothing (sparse.h), as in seqvid_model_encode. Without it each
     * frame read all of W_x (128 MB at H=2048): 2.9x the time of the same frames in one call. */
    s->c[0].sparse_input = 1;
    *out = s;
    return SEQVID_OK;
}

void seqvid_stream_free(seqvid_stream *s) {
    if (!s) return;
    for (int l = 0; l < SV_MAX_LAYERS; l++) sv_lstm_cache_release(&s->c[l]);
    sv_free(s->mem);
    free(s);
}

int seqvid_stream_reset(seqvid_stream *s) {
    SV_NOT_NULL(s);
    size_t BH = s->S * (size_t)s->m->H;
    for (int l = 0; l < s->m->L; l++) {
        memset(s->c[l].h, 0, BH * sizeof(float));
        memset(s->c[l].c, 0, BH * sizeof(float));
    }
    return SEQVID_OK;
}

int seqvid_stream_push(seqvid_stream *s, const float *frames, size_t count) {
    SV_NOT_NULL(s);
    SV_NOT_NULL(frames);
    seqvid_model *m = s->m;
    size_t need = s->S * (size_t)m->D;
    if (count < need)
        return sv_fail(SEQVID_ERR_BUFFER, "seqvid_stream_push: %zu floats given, %zu needed",
                       count, need);
    if (!sv_all_finite(frames, need))
        return sv_fail(SEQVID_ERR_NONFINITE, "seqvid_stream_push: the frames hold NaN or Inf");
    int previous = sv_arena_enter(&m->arena);
    sv_stack_step(&m->enc, s->c, (int)s->S, frames, NULL);
    sv_arena_leave(previous);
    return SEQVID_OK;
}

int seqvid_stream_features(const seqvid_stream *s, float *out, size_t out_count) {
    SV_NOT_NULL(s);
    SV_NOT_NULL(out);
    size_t H = (size_t)s->m->H, F = 2 * (size_t)s->m->L * H;
    if (out_count < s->S * F)
        return sv_fail(SEQVID_ERR_BUFFER, "seqvid_stream_features: out has %zu floats, %zu "
                       "needed", out_count, s->S * F);
    for (size_t b = 0; b < s->S; b++)
        for (int l = 0; l < s->m->L; l++) {
            memcpy(out + b * F + (size_t)l * 2 * H, s->c[l].h + b * H, H * sizeof *out);
            memcpy(out + b * F + (size_t)l * 2 * H + H, s->c[l].c + b * H, H * sizeof *out);
        }
    return SEQVID_OK;
}
