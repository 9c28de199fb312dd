/* composite.c -- the SR15 models: an encoder LSTM stack whose final state starts one or two
 * decoder stacks (reconstruction in reverse order, future prediction), readouts, losses,
 * training passes and inference roll-outs.
 *
 * Wiring (SR15 section 2), for a sequence of length len with n = min(len, K) input frames:
 *   encoder reads x_0 .. x_{n-1}; its final (h, c) of every layer starts the same layer of
 *   each decoder.
 *   recon decoder, step t < n: target x_{n-1-t}; input (conditional) x_{n-t} for t > 0.
 *   future decoder, step t < len-K (at most M): target x_{K+t}; input x_{K+t-1} for t > 0.
 *   Step 0 of a conditional decoder has no input; unconditioned decoders have no input
 *   weights at all. Readout y = h_top W_out + b_out (row vectors; weights are stored
 *   input-major, see lstm.h), then
 *     binary: loss = Σ_d softplus(y) - x y  (= cross-entropy of σ(y)),   ∂loss/∂y = σ(y) - x
 *     real:   loss = ½ Σ_d (y - x)²,                                      ∂loss/∂y = y - x
 * Each decoder's loss is averaged over its valid target frames; the objective is their sum.
 *
 * Scheduled sampling (Bengio et al. 2015; seqvid.h's experimental SAMPLE_RECON / _FUTURE =
 * p > 0): in a gradient pass, step t > 0 of row b of a conditional decoder reads, where its
 * coin u_{t,b} < p, the decoder's own output of step t-1 after the non-linearity (σ(y) or y)
 * instead of the target it would read. With inputs x~_t so assembled the pass is the
 * teacher-forced one on x~, and its backward too: the x~ are constants for the gradient
 * (no path from a fed-back output back into the step that produced it).
 */
#define SEQVID_EXPERIMENTAL /* the precision functions and constants, the sampling keys */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "batch.h"
#include "error.h"
#include "fastmath.h"
#include "model.h"
#include "parallel.h"
#include "util.h"

/* ------------------------------------------------------------------------------------------
 * Workspace: one growable buffer per role. A buffer is reallocated only when a call needs
 * more than it has (a larger batch or longer sequence); nothing allocates inside time loops.
 * ---------------------------------------------------------------------------------------- */
enum {
    WS_ENC,    /* encoder caches, L of them */
    WS_REC,    /* recon decoder caches */
    WS_FUT,    /* future decoder caches */
    WS_YREC,   /* recon logits -> dY */
    WS_YFUT,   /* future logits -> dY */
    WS_TGT,    /* recon targets (the input reversed per sequence) */
    WS_OUT,    /* roll-out outputs (after the non-linearity) */
    WS_DH,     /* two [T x B x H] gradient buffers, ping-ponged down a stack */
    WS_DSTATE, /* ∂L/∂(h, c) of the encoder's final state: [2 x L x B x H] */
    WS_TMP,    /* kernel scratch [2 x B x H] */
    WS_INREC,  /* inputs of a sampled recon decoder pass, steps 1..T-1 [(T-1) x B x D] */
    WS_INFUT,  /* inputs of a sampled future decoder pass */
    WS_LOSS,   /* the frame losses of one frame_loss call, a float per row [T x B] */
    WS_N
};

struct sv_workspace {
    float *buf[WS_N];
    size_t cap[WS_N];
    int *ints; /* [4 x B]: per-sequence step counts */
    size_t icap;
    /* Caches bound by the current call. */
    int encT, B;
    sv_lstm_cache enc[SV_MAX_LAYERS], dec[2][SV_MAX_LAYERS];
};

static float *ws_get(seqvid_model *m, int slot, size_t n) {
    return sv_ws_get(&m->ws->buf[slot], &m->ws->cap[slot], n);
}

static int *ws_ints(seqvid_model *m, size_t n) {
    struct sv_workspace *w = m->ws;
    if (n > w->icap) {
        int *p = sv_malloc(n * sizeof *p);
        if (!p) return NULL;
        free(w->ints);
        w->ints = p;
        w->icap = n;
    }
    return w->ints;
}

static void ws_free(struct sv_workspace *w) {
    if (!w) return;
    for (int i = 0; i < WS_N; i++) sv_free(w->buf[i]);
    for (int l = 0; l < SV_MAX_LAYERS; l++) {
        sv_lstm_cache_release(&w->enc[l]);
        sv_lstm_cache_release(&w->dec[0][l]);
        sv_lstm_cache_release(&w->dec[1][l]);
    }
    free(w->ints);
    free(w);
}

/* Bind L caches of (T, B) inside workspace slot `slot`. */
static int bind_caches(seqvid_model *m, int slot, int T, int B, sv_lstm_cache *caches) {
    size_t per = sv_lstm_cache_floats(T, B, m->H);
    float *mem = ws_get(m, slot, per * (size_t)m->L);
    if (!mem) return sv_fail(SEQVID_ERR_NOMEM, "model: out of memory for %d x %d caches", T, B);
    for (int l = 0; l < m->L; l++) sv_lstm_cache_bind(&caches[l], T, B, m->H, mem + l * per);
    return SEQVID_OK;
}

/* ------------------------------------------------------------------------------------------
 * Creation: the parameter arena and its named blocks.
 * ---------------------------------------------------------------------------------------- */
static int has_rec(const seqvid_model *m) { return m->kind != SEQVID_PREDICTOR; }
static int has_fut(const seqvid_model *m) { return m->kind != SEQVID_AUTOENCODER; }

static void add_decoder(seqvid_model *m, const char *name, int conditional, sv_decoder *d) {
    d->present = 1;
    d->conditional = conditional;
    sv_arena_add_stack(&m->arena, name, conditional ? m->D : 0, m->H, m->L, m->peep, &d->stack);
    sv_arena_add_readout(&m->arena, name, m->H, m->D, &d->out);
}

int seqvid_model_create(const seqvid_config *cfg, seqvid_model **out) {
    return sv_model_create(cfg, SEQVID_WEIGHTS_F32, "seqvid_model_create", out);
}

int sv_model_create(const seqvid_config *cfg, int weights, const char *fn, seqvid_model **out) {
    SV_NOT_NULL(out);
    *out = NULL;
    SV_NOT_NULL(cfg);
    int st = sv_config_check_all(cfg);
    if (st) return st;

    seqvid_model *m = sv_calloc(1, sizeof *m);
    if (!m) return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);
    m->cfg = *cfg;
    const double *v = cfg->v;
    m->kind = (int)v[SEQVID_CFG_KIND], m->D = (int)v[SEQVID_CFG_INPUT_DIM];
    m->H = (int)v[SEQVID_CFG_HIDDEN], m->L = (int)v[SEQVID_CFG_LAYERS];
    m->K = (int)v[SEQVID_CFG_INPUT_FRAMES], m->M = (int)v[SEQVID_CFG_FUTURE_FRAMES];
    m->peep = (int)v[SEQVID_CFG_PEEPHOLES], m->output = (int)v[SEQVID_CFG_OUTPUT];
    int cond_rec = (int)v[SEQVID_CFG_COND_RECON], cond_fut = (int)v[SEQVID_CFG_COND_FUTURE];

    size_t readout = sv_readout_param_count(m->H, m->D), n;
    n = sv_stack_param_count(m->D, m->H, m->L, m->peep);
    if (has_rec(m)) n += sv_stack_param_count(cond_rec ? m->D : 0, m->H, m->L, m->peep) + readout;
    if (has_fut(m)) n += sv_stack_param_count(cond_fut ? m->D : 0, m->H, m->L, m->peep) + readout;

    m->ws = sv_calloc(1, sizeof *m->ws);
    st = m->ws ? sv_arena_alloc(&m->arena, n, weights, fn)
               : sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);
    if (st) {
        seqvid_model_free(m);
        return st;
    }
    sv_arena_add_stack(&m->arena, "encoder", m->D, m->H, m->L, m->peep, &m->enc);
    if (has_rec(m)) add_decoder(m, "recon", cond_rec, &m->rec);
    if (has_fut(m)) add_decoder(m, "future", cond_fut, &m->fut);
    if ((st = sv_arena_finish(&m->arena, fn))) {
        seqvid_model_free(m);
        return st;
    }
    if (weights == SEQVID_WEIGHTS_F32) sv_arena_init(&m->arena, &m->cfg);
    sv_model_seed_sampling(m);
    *out = m;
    return SEQVID_OK;
}

void seqvid_model_free(seqvid_model *m) {
    if (!m) return;
    sv_arena_release(&m->arena);
    ws_free(m->ws);
    free(m->coins[0]);
    free(m->coins[1]);
    free(m);
}

int seqvid_model_get(const seqvid_model *m, int key, double *value) {
    SV_NOT_NULL(m);
    return seqvid_config_get(&m->cfg, key, value);
}

int seqvid_model_set(seqvid_model *m, int key, double value) {
    SV_NOT_NULL(m);
    if (key != SEQVID_CFG_RECON_FEED && key != SEQVID_CFG_SAMPLE_RECON &&
        key != SEQVID_CFG_SAMPLE_FUTURE)
        return sv_fail(SEQVID_ERR_STATE, "seqvid_model_set: key %d is fixed at creation; only "
                       "SEQVID_CFG_RECON_FEED and the SAMPLE_* keys may change", key);
    int st = sv_config_check(key, value);
    if (st) return st;
    struct seqvid_config cfg = m->cfg;
    *sv_config_slot(&cfg, key) = value;
    if ((st = sv_config_check_sampling(&cfg, "seqvid_model_set"))) return st;
    m->cfg = cfg;
    return SEQVID_OK;
}

/* The coin stream's start: seeded by SEED, moved off the initialisation's stream (which
 * sv_arena_init seeds with SEED itself) by a constant of its own ("sampling"). */
static void sampling_start(const seqvid_model *m, sv_rng *r) {
    sv_rng_seed(r, (uint64_t)m->cfg.v[SEQVID_CFG_SEED] ^ 0x73616d706c696e67ull);
}

void sv_model_seed_sampling(seqvid_model *m) { sampling_start(m, &m->sample_rng); }

int sv_model_sampling_at_start(const seqvid_model *m) {
    sv_rng start;
    sampling_start(m, &start);
    return !memcmp(start.s, m->sample_rng.s, sizeof start.s);
}

/* ------------------------------------------------------------------------------------------
 * Passes
 * ---------------------------------------------------------------------------------------- */

/* Encoder over T steps of X (time-major, B rows); zero initial state. */
static int encoder_forward(seqvid_model *m, const float *X, int T, int B, const int *len) {
    struct sv_workspace *w = m->ws;
    int st = bind_caches(m, WS_ENC, T, B, w->enc);
    if (st) return st;
    w->encT = T, w->B = B;
    size_t BH = (size_t)B * m->H;
    for (int l = 0; l < m->L; l++) {
        memset(w->enc[l].h, 0, BH * sizeof(float));
        memset(w->enc[l].c, 0, BH * sizeof(float));
        w->enc[l].zero_init = 1;
        w->enc[l].sparse_input = l == 0; /* frames */
        const float *in = l ? w->enc[l - 1].h + BH : X;
        sv_lstm_forward(&m->enc.layer[l], T, B, in, 0, len, &w->enc[l]);
    }
    return SEQVID_OK;
}

/* Start a decoder's caches from the encoder's final state. */
static void handoff(seqvid_model *m, sv_lstm_cache *dec) {
    struct sv_workspace *w = m->ws;
    size_t BH = (size_t)w->B * m->H, last = (size_t)w->encT * BH;
    for (int l = 0; l < m->L; l++) {
        memcpy(dec[l].h, w->enc[l].h + last, BH * sizeof(float));
        memcpy(dec[l].c, w->enc[l].c + last, BH * sizeof(float));
    }
}

/* Loss of one frame (summed over its D values) from logits y against x; if dscale != 0, y is
 * overwritten by dscale * ∂loss/∂y. Binary: softplus(y) - x y with softplus(y) =
 * max(y, 0) + log(1 + e^{-|y|}), stable for any y. */
SV_VECTOR_CLONES
static float row_loss(int output, float *restrict y, const float *restrict x, int D,
                      float dscale) {
    float s = 0.0f;
    if (output == SEQVID_OUTPUT_BINARY) {
#pragma omp simd reduction(+ : s)
        for (int d = 0; d < D; d++) {
            float v = y[d];
            float a = v < 0.0f ? -v : v;
            s += (v > 0.0f ? v : 0.0f) + sv_log1pf_unit(sv_expf(-a)) - x[d] * v;
        }
        if (dscale != 0.0f)
#pragma omp simd
            for (int d = 0; d < D; d++) y[d] = dscale * (sv_sigmf(y[d]) - x[d]);
    } else {
#pragma omp simd reduction(+ : s)
        for (int d = 0; d < D; d++) s += 0.5f * (y[d] - x[d]) * (y[d] - x[d]);
        if (dscale != 0.0f)
            for (int d = 0; d < D; d++) y[d] = dscale * (y[d] - x[d]);
    }
    return s;
}

/* Outputs after the non-linearity: σ(y) for binary data, y itself for real data. */
SV_VECTOR_CLONES
static void output_row(int output, const float *restrict y, float *restrict o, int D) {
    if (output == SEQVID_OUTPUT_BINARY)
#pragma omp simd
        for (int d = 0; d < D; d++) o[d] = sv_sigmf(y[d]);
    else
        memcpy(o, y, (size_t)D * sizeof *o);
}

/* Loss of T steps of B frames against targets X; row b counts while t < len[b] (len NULL:
 * all). If dscale != 0, Y is overwritten by dscale * ∂loss/∂y (0 on padding rows). The rows
 * run over the library's threads (1.6% of a bf16 train step at H = 512 when serial) into
 * one float each, summed afterwards in row order: the total does not depend on the thread
 * count, and is what the serial loop (without memory for the rows' floats) gives. */
typedef struct loss_job {
    const seqvid_model *m;
    float *Y;
    const float *X;
    int B;
    const int *len;
    float dscale;
    float *part; /* per row (t B + b), 0 on padding rows; NULL: one row at a time */
} loss_job;

static float loss_row(const loss_job *j, int r) {
    const size_t D = (size_t)j->m->D;
    float *y = j->Y + (size_t)r * D;
    if (j->len && r / j->B >= j->len[r % j->B]) {
        if (j->dscale != 0.0f) memset(y, 0, D * sizeof *y);
        return 0.0f;
    }
    return row_loss(j->m->output, y, j->X + (size_t)r * D, j->m->D, j->dscale);
}

static void loss_rows(void *ctx, int r0, int r1) {
    const loss_job *j = ctx;
    for (int r = r0; r < r1; r++) j->part[r] = loss_row(j, r);
}

static double frame_loss(seqvid_model *m, float *Y, const float *X, int T, int B,
                         const int *len, float dscale) {
    const int rows = T * B;
    loss_job j = {m, Y, X, B, len, dscale, rows > 1 ? ws_get(m, WS_LOSS, (size_t)rows) : NULL};
    double total = 0.0;
    if (j.part) sv_parallel_for(rows, loss_rows, &j);
    for (int r = 0; r < rows; r++) total += j.part ? j.part[r] : loss_row(&j, r);
    return total;
}

/* Teacher-forced decoder pass over T steps: targets tgt, logits into Y. */
static void decoder_forward(seqvid_model *m, const sv_decoder *d, sv_lstm_cache *caches, int T,
                            int B, const float *tgt, const int *len, float *Y) {
    size_t BH = (size_t)B * m->H;
    handoff(m, caches);
    for (int l = 0; l < m->L; l++) {
        const float *in = l ? caches[l - 1].h + BH : (d->conditional ? tgt : NULL);
        caches[l].sparse_input = l == 0; /* frames */
        sv_lstm_forward(&d->stack.layer[l], T, B, in, l ? 0 : 1, len, &caches[l]);
    }
    sv_readout_forward(&d->out, caches[m->L - 1].h + BH, T * B, Y);
}

/* The sampling probability p of a decoder (0 for teacher forcing). */
static double sample_p(const seqvid_model *m, const sv_decoder *d) {
    int key = d == &m->rec ? SEQVID_CFG_SAMPLE_RECON : SEQVID_CFG_SAMPLE_FUTURE;
    return m->cfg.x[key - SV_CFG_XBASE];
}

/* The decoder forward of a training-shaped pass. Teacher-forced (decoder_forward, *in = NULL)
 * unless `sample` and the decoder's p > 0: then a scheduled-sampling pass (see the top of the
 * file) with the same caches and logits Y, and the inputs of steps 1..T-1 in *in
 * [(T-1) x B x D] (a workspace slot) for the backward. It runs step by step, since step t of
 * row b reads the output of step t-1 where its coin is 1. The coins come from the model's
 * stream, in the order t = 1..T-1, then b (all rows); m->coins[which] keeps them.
 * steplen: [B] ints of scratch. */
static int decoder_forward_train(seqvid_model *m, const sv_decoder *d, int sample,
                                 sv_lstm_cache *caches, int T, int B, const float *tgt,
                                 const int *len, float *Y, float **in, int *steplen) {
    *in = NULL;
    if (!sample || !(sample_p(m, d) > 0)) {
        decoder_forward(m, d, caches, T, B, tgt, len, Y);
        return SEQVID_OK;
    }
    const int which = d == &m->fut;
    const size_t D = (size_t)m->D, BD = (size_t)B * D, BH = (size_t)B * m->H;
    const size_t n = T > 1 ? (size_t)(T - 1) * B : 0;
    *in = ws_get(m, which ? WS_INFUT : WS_INREC, (n ? n : 1) * D);
    if (!*in) return sv_fail(SEQVID_ERR_NOMEM, "model: out of memory for %zu inputs", n);
    if (m->sample_replay) { /* tests: the inputs of the previous pass, teacher-forced */
        decoder_forward(m, d, caches, T, B, *in, len, Y);
        return SEQVID_OK;
    }
    if (n > m->coins_cap[which]) {
        unsigned char *c = sv_malloc(n);
        if (!c) return sv_fail(SEQVID_ERR_NOMEM, "model: out of memory for %zu coins", n);
        free(m->coins[which]);
        m->coins[which] = c, m->coins_cap[which] = n;
    }
    unsigned char *coin = m->coins[which];
    const double p = sample_p(m, d);
    for (size_t i = 0; i < n; i++) coin[i] = sv_rng_uniform(&m->sample_rng) < p;

    handoff(m, caches);
    for (int t = 0; t < T; t++) {
        const float *x = NULL;
        if (t > 0) { /* x~_t: the target of step t-1, or the output of step t-1 */
            float *xt = *in + (size_t)(t - 1) * BD;
            for (int b = 0; b < B; b++) {
                size_t r = (size_t)(t - 1) * BD + (size_t)b * D;
                if (coin[(size_t)(t - 1) * B + b]) output_row(m->output, Y + r, xt + b * D, m->D);
                else memcpy(xt + b * D, tgt + r, D * sizeof *xt);
            }
            x = xt;
        }
        if (len)
            for (int b = 0; b < B; b++) steplen[b] = t < len[b];
        for (int l = 0; l < m->L; l++)
            sv_lstm_forward_step(&d->stack.layer[l], t, B, l ? caches[l - 1].h + (t + 1) * BH : x,
                                 len ? steplen : NULL, &caches[l]);
        sv_readout_forward(&d->out, caches[m->L - 1].h + (t + 1) * BH, B, Y + t * BD);
    }
    return SEQVID_OK;
}

/* Inference roll-out of a decoder for T steps, one step at a time: step t > 0 of a
 * conditional decoder reads truth[t-1] if truth != NULL, else its own output out[t-1].
 * Outputs (σ(y) or y) go to out [T x B x D] (0 on padding rows); if tgt != NULL the loss
 * against it is returned through *loss. */
static int decoder_rollout(seqvid_model *m, const sv_decoder *d, int slot, int T, int B,
                           const int *len, const float *truth, const float *tgt, float *out,
                           double *loss) {
    sv_lstm_cache c[SV_MAX_LAYERS] = {{0}}; /* one step each */
    int st = bind_caches(m, slot, 1, B, c);
    if (st) return st;
    /* Fed the true frames: zero pixels cost nothing (sparse.h), as in the teacher-forced pass
     * (without it each step read all of W_x). Its own outputs are probabilities, not sparse. */
    c[0].sparse_input = truth != NULL;
    size_t BD = (size_t)B * m->D;
    float *y = ws_get(m, slot == WS_REC ? WS_YREC : WS_YFUT, BD);
    int *ints = ws_ints(m, 4 * (size_t)B);
    if (!y || !ints) return sv_fail(SEQVID_ERR_NOMEM, "model: out of memory for a roll-out");
    int *steplen = ints + 2 * (size_t)B; /* third quarter: which rows run this step */
    handoff(m, c);
    double total = 0.0;
    for (int t = 0; t < T; t++) {
        if (len)
            for (int b = 0; b < B; b++) steplen[b] = t < len[b];
        const float *feed = NULL;
        if (d->conditional && t > 0) feed = (truth ? truth : out) + (size_t)(t - 1) * BD;
        sv_stack_step(&d->stack, c, B, feed, len ? steplen : NULL);
        sv_readout_forward(&d->out, c[m->L - 1].h, B, y);
        if (tgt) total += frame_loss(m, y, tgt + (size_t)t * BD, 1, B, len ? steplen : NULL, 0);
        float *o = out + (size_t)t * BD;
        for (int b = 0; b < B; b++) {
            float *ob = o + (size_t)b * m->D;
            if (len && !steplen[b]) memset(ob, 0, (size_t)m->D * sizeof *ob);
            else output_row(m->output, y + (size_t)b * m->D, ob, m->D);
        }
    }
    sv_lstm_cache_release(&c[0]);
    if (loss) *loss = total;
    return SEQVID_OK;
}

/* Reverse each sequence's first n[b] frames of X into R (zeros past n[b]). */
static void reverse_frames(const float *X, int T, int B, int D, const int *n, float *R) {
    size_t d = (size_t)D;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            float *r = R + ((size_t)t * B + b) * d;
            int nb = n ? n[b] : T;
            if (t < nb) memcpy(r, X + ((size_t)(nb - 1 - t) * B + b) * d, d * sizeof *r);
            else memset(r, 0, d * sizeof *r);
        }
}

enum pass { PASS_GRADIENTS, PASS_TEACHER_FORCED, PASS_INFERENCE };

/* Every gradient block of a decoder (its stack and readout) set to 0. A decoder's blocks are
 * contiguous in the arena, from its first layer to its readout bias. */
static void zero_decoder_grads(seqvid_model *m, sv_decoder *d) {
    const sv_lstm_layer *l0 = &d->stack.layer[0];
    float *first = l0->gwx ? l0->gwx : l0->gwh, *end = d->out.gb + m->D;
    memset(first, 0, (size_t)(end - first) * sizeof *first);
}

/* The training-shaped pass behind seqvid_model_gradients and seqvid_model_evaluate. */
static int training_pass(seqvid_model *m, const seqvid_batch *batch, enum pass pass,
                         int check_grads, float *rec_loss, float *fut_loss, const char *fn) {
    SV_NOT_NULL(m);
    int st = sv_batch_check(batch, (size_t)m->D, fn);
    if (st) return st;
    const int K = m->K, M = has_fut(m) ? m->M : 0, B = (int)batch->S;
    if (batch->T < (size_t)(K + M))
        return sv_fail(SEQVID_ERR_SHAPE, "%s: batch has %zu steps, the model needs %d (K%s)", fn,
                       batch->T, K + M, M ? " + M" : "");
    const size_t BD = (size_t)B * m->D, BH = (size_t)B * m->H;
    const float *X = batch->data;
    if (!sv_all_finite(X, (size_t)(K + M) * BD))
        return sv_fail(SEQVID_ERR_NONFINITE, "%s: the batch holds NaN or Inf", fn);
    if (pass == PASS_GRADIENTS && (st = sv_arena_grads(&m->arena, fn))) return st;

    /* Per-sequence step counts; NULL where every sequence is full (no masking work). */
    int *ints = ws_ints(m, 4 * (size_t)B);
    if (!ints) return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);
    int *n_in = ints, *n_fut = ints + B, full_in = 1, full_fut = 1;
    long n_rec_frames = 0, n_fut_frames = 0;
    for (int b = 0; b < B; b++) {
        int len = batch->len[b];
        n_in[b] = len < K ? len : K;
        n_fut[b] = len - K < 0 ? 0 : (len - K > M ? M : len - K);
        full_in &= n_in[b] == K, full_fut &= n_fut[b] == M;
        n_rec_frames += n_in[b], n_fut_frames += n_fut[b];
    }
    const int *len_in = full_in ? NULL : n_in, *len_fut = full_fut ? NULL : n_fut;

    st = encoder_forward(m, X, K, B, len_in);
    if (st) return st;
    struct sv_workspace *w = m->ws;
    double rec = 0.0, fut = 0.0;
    float *tgt_rec = NULL, *yrec = NULL, *yfut = NULL;
    float *in_rec = NULL, *in_fut = NULL; /* a sampled decoder's inputs (else the targets) */
    int *steplen = ints + 2 * (size_t)B;  /* third quarter: scratch of a sampled pass */
    const float *tgt_fut = X + (size_t)K * BD;

    if (has_rec(m)) {
        tgt_rec = ws_get(m, WS_TGT, (size_t)K * BD);
        if (!tgt_rec) return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);
        reverse_frames(X, K, B, m->D, n_in, tgt_rec);
        if (pass == PASS_INFERENCE) {
            float *o = ws_get(m, WS_OUT, (size_t)K * BD);
            if (!o) return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);
            int feed_truth = m->cfg.v[SEQVID_CFG_RECON_FEED] == SEQVID_FEED_TRUTH;
            st = decoder_rollout(m, &m->rec, WS_REC, K, B, len_in, feed_truth ? tgt_rec : NULL,
                                 tgt_rec, o, &rec);
            if (st) return st;
        } else {
            if ((st = bind_caches(m, WS_REC, K, B, w->dec[0]))) return st;
            yrec = ws_get(m, WS_YREC, (size_t)K * BD);
            if (!yrec) return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);
            if ((st = decoder_forward_train(m, &m->rec, pass == PASS_GRADIENTS, w->dec[0], K, B,
                                            tgt_rec, len_in, yrec, &in_rec, steplen)))
                return st;
            rec = frame_loss(m, yrec, tgt_rec, K, B, len_in,
                             pass == PASS_GRADIENTS ? 1.0f / (float)n_rec_frames : 0.0f);
        }
    }
    if (has_fut(m) && n_fut_frames > 0) {
        if (pass == PASS_INFERENCE) {
            float *o = ws_get(m, WS_OUT, (size_t)M * BD);
            if (!o) return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);
            st = decoder_rollout(m, &m->fut, WS_FUT, M, B, len_fut, NULL, tgt_fut, o, &fut);
            if (st) return st;
        } else {
            if ((st = bind_caches(m, WS_FUT, M, B, w->dec[1]))) return st;
            yfut = ws_get(m, WS_YFUT, (size_t)M * BD);
            if (!yfut) return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);
            if ((st = decoder_forward_train(m, &m->fut, pass == PASS_GRADIENTS, w->dec[1], M, B,
                                            tgt_fut, len_fut, yfut, &in_fut, steplen)))
                return st;
            fut = frame_loss(m, yfut, tgt_fut, M, B, len_fut,
                             pass == PASS_GRADIENTS ? 1.0f / (float)n_fut_frames : 0.0f);
        }
    }
    rec = n_rec_frames && has_rec(m) ? rec / (double)n_rec_frames : 0.0;
    fut = n_fut_frames ? fut / (double)n_fut_frames : 0.0;
    if (!isfinite(rec) || !isfinite(fut))
        return sv_fail(SEQVID_ERR_NONFINITE, "%s: the loss is not finite (rec %g, fut %g)", fn,
                       rec, fut);

    if (pass == PASS_GRADIENTS) {
        int Tmax = K > M ? K : M;
        float *dh = ws_get(m, WS_DH, 2 * (size_t)Tmax * BH);
        float *ds = ws_get(m, WS_DSTATE, 2 * (size_t)m->L * BH);
        float *tmp = ws_get(m, WS_TMP, 2 * BH);
        if (!dh || !ds || !tmp) return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);
        float *dhT = ds, *dcT = ds + (size_t)m->L * BH;
        memset(ds, 0, 2 * (size_t)m->L * BH * sizeof *ds);
        if (has_fut(m) && !yfut) /* no valid future frame in the batch: zero gradient */
            zero_decoder_grads(m, &m->fut);
        if (yrec) {
            const float *htop = w->dec[0][m->L - 1].h + BH;
            sv_readout_backward(&m->rec.out, htop, K * B, yrec, dh);
            const float *in = in_rec ? in_rec : tgt_rec;
            sv_stack_backward(&m->rec.stack, w->dec[0], K, B, m->rec.conditional ? in : NULL, 1,
                              len_in, dh, NULL, NULL, dhT, dcT, tmp);
        }
        if (yfut) {
            const float *htop = w->dec[1][m->L - 1].h + BH;
            sv_readout_backward(&m->fut.out, htop, M * B, yfut, dh);
            const float *in = in_fut ? in_fut : tgt_fut;
            sv_stack_backward(&m->fut.stack, w->dec[1], M, B, m->fut.conditional ? in : NULL, 1,
                              len_fut, dh, NULL, NULL, dhT, dcT, tmp);
        }
        /* The encoder's outputs are seen only through its final state. */
        memset(dh, 0, (size_t)K * BH * sizeof *dh);
        sv_stack_backward(&m->enc, w->enc, K, B, X, 0, len_in, dh, dhT, dcT, NULL, NULL, tmp);
        if (check_grads && !sv_all_finite(m->arena.grads, m->arena.n_params))
            return sv_fail(SEQVID_ERR_NONFINITE, "%s: a gradient is not finite", fn);
    }
    if (rec_loss) *rec_loss = (float)rec;
    if (fut_loss) *fut_loss = (float)fut;
    return SEQVID_OK;
}

/* Every public call that computes runs between sv_arena_enter and sv_arena_leave (weight
 * cache versions, the precision of products). */
#define WITH_MODEL(m, call)                        \
    do {                                           \
        SV_NOT_NULL(m);                            \
        int previous_ = sv_arena_enter(&(m)->arena); \
        int st_ = (call);                          \
        sv_arena_leave(previous_);                 \
        return st_;                                \
    } while (0)

int seqvid_model_gradients(seqvid_model *m, const seqvid_batch *batch, float *rec_loss,
                           float *fut_loss) {
    WITH_MODEL(m, training_pass(m, batch, PASS_GRADIENTS, 1, rec_loss, fut_loss, __func__));
}

int seqvid_model_evaluate(seqvid_model *m, const seqvid_batch *batch, int flags, float *rec_loss,
                          float *fut_loss) {
    if (flags != SEQVID_EVAL_INFERENCE && flags != SEQVID_EVAL_TEACHER_FORCED)
        return sv_fail(SEQVID_ERR_ARG, "seqvid_model_evaluate: unknown flags %d", flags);
    WITH_MODEL(m, training_pass(m, batch,
                                flags == SEQVID_EVAL_TEACHER_FORCED ? PASS_TEACHER_FORCED
                                                                     : PASS_INFERENCE,
                                0, rec_loss, fut_loss, __func__));
}

static int train_step(seqvid_model *m, seqvid_optimizer *opt, const seqvid_batch *batch,
                      float *rec_loss, float *fut_loss) {
    SV_NOT_NULL(opt);
    float rec, fut;
    /* The optimizer checks the gradients' finiteness before touching anything: one pass. */
    int st = training_pass(m, batch, PASS_GRADIENTS, 0, &rec, &fut, "seqvid_model_train_step");
    if (st) return st;
    st = seqvid_optimizer_step(opt, m);
    if (st) return st;
    if (rec_loss) *rec_loss = rec;
    if (fut_loss) *fut_loss = fut;
    return SEQVID_OK;
}

int seqvid_model_train_step(seqvid_model *m, seqvid_optimizer *opt, const seqvid_batch *batch,
                            float *rec_loss, float *fut_loss) {
    WITH_MODEL(m, train_step(m, opt, batch, rec_loss, fut_loss));
}

/* ------------------------------------------------------------------------------------------
 * Inference on whole batches
 * ---------------------------------------------------------------------------------------- */

/* Common checks; runs the encoder over every valid frame of the batch. */
static int inference_encode(seqvid_model *m, const seqvid_batch *batch, const float *out,
                            size_t out_count, size_t need_per_seq, const char *fn) {
    SV_NOT_NULL(m);
    int st = sv_batch_check(batch, (size_t)m->D, fn);
    if (st) return st;
    if (!out) return sv_fail(SEQVID_ERR_NULL, "%s: argument 'out' is NULL", fn);
    size_t need;
    if (!sv_mul(need_per_seq, batch->S, &need))
        return sv_fail(SEQVID_ERR_OVERFLOW, "%s: output size overflows", fn);
    if (out_count < need)
        return sv_fail(SEQVID_ERR_BUFFER, "%s: out has %zu floats, %zu needed", fn, out_count,
                       need);
    if (!sv_all_finite(batch->data, batch->T * batch->S * batch->D))
        return sv_fail(SEQVID_ERR_NONFINITE, "%s: the batch holds NaN or Inf", fn);
    int full = 1;
    for (size_t b = 0; b < batch->S; b++) full &= batch->len[b] == (int)batch->T;
    return encoder_forward(m, batch->data, (int)batch->T, (int)batch->S, full ? NULL : batch->len);
}

static int model_encode(seqvid_model *m, const seqvid_batch *batch, float *out, size_t out_count) {
    size_t F = 2 * (size_t)m->L * m->H;
    int st = inference_encode(m, batch, out, out_count, F, "seqvid_model_encode");
    if (st) return st;
    struct sv_workspace *w = m->ws;
    size_t H = (size_t)m->H, last = (size_t)w->encT * w->B * H;
    for (int b = 0; b < w->B; b++)
        for (int l = 0; l < m->L; l++) {
            float *o = out + b * F + (size_t)l * 2 * H;
            memcpy(o, w->enc[l].h + last + b * H, H * sizeof *o);
            memcpy(o + H, w->enc[l].c + last + b * H, H * sizeof *o);
        }
    return SEQVID_OK;
}

int seqvid_model_feature_dim(const seqvid_model *m, size_t *dim) {
    SV_NOT_NULL(m);
    SV_NOT_NULL(dim);
    *dim = 2 * (size_t)m->L * m->H;
    return SEQVID_OK;
}

static int model_reconstruct(seqvid_model *m, const seqvid_batch *batch, float *out,
                             size_t out_count) {
    if (!has_rec(m))
        return sv_fail(SEQVID_ERR_UNSUPPORTED, "seqvid_model_reconstruct: a future predictor "
                       "has no reconstruction decoder");
    size_t per = batch ? batch->T * (size_t)m->D : 0;
    int st = inference_encode(m, batch, out, out_count, per, "seqvid_model_reconstruct");
    if (st) return st;
    const int T = (int)batch->T, B = (int)batch->S;
    const size_t TBD = (size_t)T * B * m->D;
    float *tgt = ws_get(m, WS_TGT, TBD), *o = ws_get(m, WS_OUT, TBD);
    if (!tgt || !o) return sv_fail(SEQVID_ERR_NOMEM, "seqvid_model_reconstruct: out of memory");
    reverse_frames(batch->data, T, B, m->D, batch->len, tgt);
    int feed_truth = m->cfg.v[SEQVID_CFG_RECON_FEED] == SEQVID_FEED_TRUTH;
    st = decoder_rollout(m, &m->rec, WS_REC, T, B, batch->len, feed_truth ? tgt : NULL, NULL, o,
                         NULL);
    if (st) return st;
    /* The decoder emits x_{n-1} first: reversing again puts frames in input order. */
    reverse_frames(o, T, B, m->D, batch->len, out);
    return SEQVID_OK;
}

static int model_predict(seqvid_model *m, const seqvid_batch *batch, size_t n_future, float *out,
                         size_t out_count) {
    if (!has_fut(m))
        return sv_fail(SEQVID_ERR_UNSUPPORTED, "seqvid_model_predict: an autoencoder has no "
                       "future predictor");
    if (n_future < 1 || n_future > (size_t)1 << 30)
        return sv_fail(SEQVID_ERR_ARG, "seqvid_model_predict: n_future = %zu outside [1, 2^30]",
                       n_future);
    size_t per;
    if (!sv_mul(n_future, (size_t)m->D, &per))
        return sv_fail(SEQVID_ERR_OVERFLOW, "seqvid_model_predict: output size overflows");
    int st = inference_encode(m, batch, out, out_count, per, "seqvid_model_predict");
    if (st) return st;
    return decoder_rollout(m, &m->fut, WS_FUT, (int)n_future, (int)batch->S, NULL, NULL, NULL,
                           out, NULL);
}

int seqvid_model_encode(seqvid_model *m, const seqvid_batch *batch, float *out, size_t out_count) {
    WITH_MODEL(m, model_encode(m, batch, out, out_count));
}

int seqvid_model_reconstruct(seqvid_model *m, const seqvid_batch *batch, float *out,
                             size_t out_count) {
    WITH_MODEL(m, model_reconstruct(m, batch, out, out_count));
}

int seqvid_model_predict(seqvid_model *m, const seqvid_batch *batch, size_t n_future, float *out,
                         size_t out_count) {
    WITH_MODEL(m, model_predict(m, batch, n_future, out, out_count));
}

int seqvid_experimental_model_set_precision(seqvid_model *m, int precision) {
    SV_NOT_NULL(m);
    return sv_arena_set_precision(&m->arena, precision, __func__);
}

int seqvid_experimental_model_get_precision(const seqvid_model *m, int *precision) {
    SV_NOT_NULL(m);
    return sv_arena_get_precision(&m->arena, precision, __func__);
}

int seqvid_experimental_model_set_weights(seqvid_model *m, int weights) {
    SV_NOT_NULL(m);
    return sv_arena_set_weights(&m->arena, weights, __func__);
}

int seqvid_experimental_model_get_weights(const seqvid_model *m, int *weights) {
    SV_NOT_NULL(m);
    return sv_arena_get_weights(&m->arena, weights, __func__);
}

/* ------------------------------------------------------------------------------------------
 * The parameter arena
 * ---------------------------------------------------------------------------------------- */
int seqvid_model_param_count(const seqvid_model *m, size_t *count) {
    SV_NOT_NULL(m);
    return sv_arena_count(&m->arena, count, __func__);
}

int seqvid_model_params(seqvid_model *m, float **params) {
    SV_NOT_NULL(m);
    return sv_arena_params(&m->arena, params, __func__);
}

int seqvid_model_grads(seqvid_model *m, float **grads) {
    SV_NOT_NULL(m);
    return sv_arena_grads_out(&m->arena, grads, __func__);
}

int seqvid_model_param_block_count(const seqvid_model *m, size_t *count) {
    SV_NOT_NULL(m);
    return sv_arena_block_count(&m->arena, count, __func__);
}

int seqvid_model_param_block(const seqvid_model *m, size_t i, const char **name, size_t *offset,
                             size_t *rows, size_t *cols) {
    SV_NOT_NULL(m);
    return sv_arena_block(&m->arena, i, name, offset, rows, cols, __func__);
}
