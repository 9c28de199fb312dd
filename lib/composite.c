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
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "batch.h"
#include "blas.h"
#include "error.h"
#include "fastmath.h"
#include "model.h"
#include "rng.h"

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
    WS_SPARSE, /* sparse copies of the three stacks' frame inputs */
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
    sv_sparse sp[3]; /* encoder, recon, future: layer 0's input */
};

static float *ws_get(seqvid_model *m, int slot, size_t n) {
    struct sv_workspace *w = m->ws;
    if (n > w->cap[slot]) {
        float *p = sv_falloc(n);
        if (!p) return NULL;
        sv_free(w->buf[slot]);
        w->buf[slot] = p;
        w->cap[slot] = n;
    }
    return w->buf[slot];
}

static int *ws_ints(seqvid_model *m, size_t n) {
    struct sv_workspace *w = m->ws;
    if (n > w->icap) {
        int *p = malloc(n * sizeof *p);
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

/* Room for sparse copies of the frame inputs of the encoder (T_enc steps), recon decoder and
 * future decoder (T_dec steps each) of B sequences. */
static int bind_sparse(seqvid_model *m, int T_enc, int T_dec, int B) {
    struct sv_workspace *w = m->ws;
    size_t fe = sv_sparse_floats(T_enc * B, m->D), fd = sv_sparse_floats(T_dec * B, m->D);
    float *mem = ws_get(m, WS_SPARSE, fe + 2 * fd);
    if (!mem) return sv_fail(SEQVID_ERR_NOMEM, "model: out of memory for sparse inputs");
    sv_sparse_bind(&w->sp[0], T_enc * B, m->D, mem);
    sv_sparse_bind(&w->sp[1], T_dec * B, m->D, mem + fe);
    sv_sparse_bind(&w->sp[2], T_dec * B, m->D, mem + fe + fd);
    return SEQVID_OK;
}

/* ------------------------------------------------------------------------------------------
 * Creation: the parameter arena and its named blocks.
 * ---------------------------------------------------------------------------------------- */
static size_t add_block(seqvid_model *m, const char *name, size_t rows, size_t cols, int init,
                        size_t *offset) {
    sv_block *bl = &m->blocks[m->n_blocks++];
    snprintf(bl->name, sizeof bl->name, "%s", name);
    bl->offset = *offset, bl->rows = rows, bl->cols = cols, bl->init = init;
    *offset += rows * cols;
    return bl->offset;
}

/* Input size of layer l of a stack (0: no input weights). */
static int layer_input(const seqvid_model *m, int l, int has_input) {
    return l > 0 ? m->H : (has_input ? m->D : 0);
}

static size_t stack_param_count(const seqvid_model *m, int has_input) {
    size_t n = 0;
    for (int l = 0; l < m->L; l++) n += sv_lstm_param_count(layer_input(m, l, has_input), m->H, m->peep);
    return n;
}

/* Lay out one stack's blocks (w_x, w_h, peephole, bias per layer) and bind its layers. */
static void build_stack(seqvid_model *m, const char *name, int has_input, sv_stack *st,
                        size_t *offset) {
    char bn[48];
    size_t h4 = 4 * (size_t)m->H;
    st->L = m->L;
    for (int l = 0; l < m->L; l++) {
        int din = layer_input(m, l, has_input);
        size_t start = *offset;
        if (din) {
            snprintf(bn, sizeof bn, "%s.%d.w_x", name, l);
            add_block(m, bn, (size_t)din, h4, SV_INIT_WEIGHT, offset);
        }
        snprintf(bn, sizeof bn, "%s.%d.w_h", name, l);
        add_block(m, bn, (size_t)m->H, h4, SV_INIT_WEIGHT, offset);
        if (m->peep) {
            snprintf(bn, sizeof bn, "%s.%d.peephole", name, l);
            add_block(m, bn, 3 * (size_t)m->H, 1, SV_INIT_PEEPHOLE, offset);
        }
        snprintf(bn, sizeof bn, "%s.%d.bias", name, l);
        add_block(m, bn, h4, 1, SV_INIT_LSTM_BIAS, offset);
        sv_lstm_bind(&st->layer[l], din, m->H, m->peep, m->params + start, m->grads + start);
    }
}

static void build_decoder(seqvid_model *m, const char *name, int conditional, sv_decoder *d,
                          size_t *offset) {
    char bn[48];
    d->present = 1;
    d->conditional = conditional;
    build_stack(m, name, conditional, &d->stack, offset);
    snprintf(bn, sizeof bn, "%s.readout.w", name);
    size_t w = add_block(m, bn, (size_t)m->H, (size_t)m->D, SV_INIT_WEIGHT, offset);
    snprintf(bn, sizeof bn, "%s.readout.b", name);
    size_t b = add_block(m, bn, (size_t)m->D, 1, SV_INIT_BIAS, offset);
    d->wout = m->params + w, d->gwout = m->grads + w;
    d->bout = m->params + b, d->gbout = m->grads + b;
}

static int has_rec(const seqvid_model *m) { return m->kind != SEQVID_PREDICTOR; }
static int has_fut(const seqvid_model *m) { return m->kind != SEQVID_AUTOENCODER; }

/* Weights U(-a, a), peepholes U(-p, p), biases 0 except the LSTM forget gate's. */
static void init_params(seqvid_model *m) {
    const struct seqvid_config *c = &m->cfg;
    double a = c->v[SEQVID_CFG_INIT_WEIGHT], p = c->v[SEQVID_CFG_INIT_PEEPHOLE];
    float fb = (float)c->v[SEQVID_CFG_FORGET_BIAS];
    sv_rng rng;
    sv_rng_seed(&rng, (uint64_t)c->v[SEQVID_CFG_SEED]);
    for (size_t i = 0; i < m->n_blocks; i++) {
        const sv_block *bl = &m->blocks[i];
        float *x = m->params + bl->offset;
        size_t n = bl->rows * bl->cols;
        double s = bl->init == SV_INIT_WEIGHT ? a : p;
        switch (bl->init) {
        case SV_INIT_WEIGHT:
        case SV_INIT_PEEPHOLE:
            for (size_t k = 0; k < n; k++) x[k] = (float)((2.0 * sv_rng_uniform(&rng) - 1.0) * s);
            break;
        case SV_INIT_LSTM_BIAS: /* rows [H, 2H) are the forget gate */
            for (size_t k = 0; k < n; k++) x[k] = (k / (size_t)m->H == 1) ? fb : 0.0f;
            break;
        default:
            memset(x, 0, n * sizeof *x);
        }
    }
}

int seqvid_model_create(const seqvid_config *cfg, seqvid_model **out) {
    SV_NOT_NULL(out);
    *out = NULL;
    SV_NOT_NULL(cfg);
    int st = sv_config_check_all(cfg);
    if (st) return st;

    seqvid_model *m = calloc(1, sizeof *m);
    if (!m) return sv_fail(SEQVID_ERR_NOMEM, "seqvid_model_create: out of memory");
    m->cfg = *cfg;
    const double *v = cfg->v;
    m->kind = (int)v[SEQVID_CFG_KIND], m->D = (int)v[SEQVID_CFG_INPUT_DIM];
    m->H = (int)v[SEQVID_CFG_HIDDEN], m->L = (int)v[SEQVID_CFG_LAYERS];
    m->K = (int)v[SEQVID_CFG_INPUT_FRAMES], m->M = (int)v[SEQVID_CFG_FUTURE_FRAMES];
    m->peep = (int)v[SEQVID_CFG_PEEPHOLES], m->output = (int)v[SEQVID_CFG_OUTPUT];
    int cond_rec = (int)v[SEQVID_CFG_COND_RECON], cond_fut = (int)v[SEQVID_CFG_COND_FUTURE];

    size_t readout = (size_t)m->D * (size_t)m->H + (size_t)m->D;
    m->n_params = stack_param_count(m, 1);
    if (has_rec(m)) m->n_params += stack_param_count(m, cond_rec) + readout;
    if (has_fut(m)) m->n_params += stack_param_count(m, cond_fut) + readout;

    m->params = sv_falloc(m->n_params);
    m->grads = sv_falloc(m->n_params);
    m->ws = calloc(1, sizeof *m->ws);
    if (!m->params || !m->grads || !m->ws) {
        seqvid_model_free(m);
        return sv_fail(SEQVID_ERR_NOMEM, "seqvid_model_create: out of memory for %zu parameters",
                       m->n_params);
    }
    size_t offset = 0;
    build_stack(m, "encoder", 1, &m->enc, &offset);
    if (has_rec(m)) build_decoder(m, "recon", cond_rec, &m->rec, &offset);
    if (has_fut(m)) build_decoder(m, "future", cond_fut, &m->fut, &offset);
    init_params(m);
    *out = m;
    return SEQVID_OK;
}

void seqvid_model_free(seqvid_model *m) {
    if (!m) return;
    sv_free(m->params);
    sv_free(m->grads);
    ws_free(m->ws);
    free(m);
}

int seqvid_model_get(const seqvid_model *m, int key, double *value) {
    SV_NOT_NULL(m);
    return seqvid_config_get(&m->cfg, key, value);
}

int seqvid_model_set(seqvid_model *m, int key, double value) {
    SV_NOT_NULL(m);
    if (key != SEQVID_CFG_RECON_FEED)
        return sv_fail(SEQVID_ERR_STATE, "seqvid_model_set: key %d is fixed at creation; only "
                       "SEQVID_CFG_RECON_FEED may change", key);
    int st = sv_config_check(key, value);
    if (st) return st;
    m->cfg.v[key] = value;
    return SEQVID_OK;
}

/* ------------------------------------------------------------------------------------------
 * Passes
 * ---------------------------------------------------------------------------------------- */

/* Encoder over T steps of X (time-major, B rows); zero initial state. */
static int encoder_forward(seqvid_model *m, const float *X, int T, int B, const int *len) {
    struct sv_workspace *w = m->ws;
    int st = bind_caches(m, WS_ENC, T, B, w->enc);
    if (!st) st = bind_sparse(m, T, m->M > T ? m->M : T, B);
    if (st) return st;
    w->encT = T, w->B = B;
    size_t BH = (size_t)B * m->H;
    for (int l = 0; l < m->L; l++) {
        memset(w->enc[l].h, 0, BH * sizeof(float));
        memset(w->enc[l].c, 0, BH * sizeof(float));
        w->enc[l].zero_init = 1;
        const float *in = l ? w->enc[l - 1].h + BH : X;
        sv_lstm_forward(&m->enc.layer[l], T, B, in, 0, len, &w->enc[l], l ? NULL : &w->sp[0]);
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

/* Y = H_top W_out + 1 b_out^T for `rows` rows. */
static void readout(const seqvid_model *m, const sv_decoder *d, const float *htop, int rows,
                    float *Y) {
    size_t D = (size_t)m->D;
    for (int r = 0; r < rows; r++) memcpy(Y + r * D, d->bout, D * sizeof *Y);
    sv_sgemm(SV_NOTRANS, SV_NOTRANS, rows, m->D, m->H, 1.0f, htop, m->H,
                d->wout, m->D, 1.0f, Y, m->D);
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
 * all). If dscale != 0, Y is overwritten by dscale * ∂loss/∂y (0 on padding rows). */
static double frame_loss(const seqvid_model *m, float *Y, const float *X, int T, int B,
                         const int *len, float dscale) {
    const size_t D = (size_t)m->D;
    double total = 0.0;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            float *y = Y + ((size_t)t * B + b) * D;
            if (len && t >= len[b]) {
                if (dscale != 0.0f) memset(y, 0, D * sizeof *y);
                continue;
            }
            total += row_loss(m->output, y, X + ((size_t)t * B + b) * D, m->D, dscale);
        }
    return total;
}

/* Teacher-forced decoder pass over T steps: targets tgt, logits into Y. */
static void decoder_forward(seqvid_model *m, const sv_decoder *d, sv_lstm_cache *caches, int T,
                            int B, const float *tgt, const int *len, float *Y, sv_sparse *sp) {
    size_t BH = (size_t)B * m->H;
    handoff(m, caches);
    for (int l = 0; l < m->L; l++) {
        const float *in = l ? caches[l - 1].h + BH : (d->conditional ? tgt : NULL);
        sv_lstm_forward(&d->stack.layer[l], T, B, in, l ? 0 : 1, len, &caches[l], l ? NULL : sp);
    }
    readout(m, d, caches[m->L - 1].h + BH, T * B, Y);
}

/* Backward through a stack whose top receives dH (in WS_DH's first half, T x B x H).
 * X0/x_t0: layer 0's input as in the forward. dhT/dcT: ∂L/∂ final state per layer (or NULL);
 * dh0/dc0: per-layer accumulators of ∂L/∂ initial state (or NULL). */
static void stack_backward(seqvid_model *m, const sv_stack *s, sv_lstm_cache *caches, int T,
                           int B, const float *X0, int x_t0, const int *len, float *dHbuf,
                           const float *dhT, const float *dcT, float *dh0, float *dc0,
                           float *tmp, const sv_sparse *sp) {
    size_t BH = (size_t)B * m->H, TBH = (size_t)T * BH;
    float *dH = dHbuf, *dBelow = dHbuf + TBH;
    for (int l = m->L - 1; l >= 0; l--) {
        const float *in = l ? caches[l - 1].h + BH : X0;
        size_t o = (size_t)l * BH;
        sv_lstm_backward(&s->layer[l], T, B, in, l ? 0 : x_t0, len, &caches[l], dH,
                         dhT ? dhT + o : NULL, dcT ? dcT + o : NULL, l ? dBelow : NULL,
                         dh0 ? dh0 + o : NULL, dc0 ? dc0 + o : NULL, tmp, l ? NULL : sp);
        float *t = dH; /* the layer below's output gradient is what we just wrote */
        dH = dBelow, dBelow = t;
    }
}

/* Readout backward: ∂W_out = H_top^T dY, ∂b_out (overwritten), and dH_top = dY W_out^T. */
static void readout_backward(const seqvid_model *m, const sv_decoder *d, const float *htop,
                             int rows, const float *dY, float *dH) {
    sv_sgemm(SV_TRANS, SV_NOTRANS, m->H, m->D, rows, 1.0f, htop, m->H, dY,
                m->D, 0.0f, d->gwout, m->D);
    memset(d->gbout, 0, (size_t)m->D * sizeof *d->gbout);
    for (int r = 0; r < rows; r++) {
        const float *y = dY + (size_t)r * m->D;
        for (int k = 0; k < m->D; k++) d->gbout[k] += y[k];
    }
    sv_sgemm(SV_NOTRANS, SV_TRANS, rows, m->H, m->D, 1.0f, dY, m->D,
                d->wout, m->D, 0.0f, dH, m->H);
}

/* Inference roll-out of a decoder for T steps, one step at a time: step t > 0 of a
 * conditional decoder reads truth[t-1] if truth != NULL, else its own output out[t-1].
 * Outputs (σ(y) or y) go to out [T x B x D] (0 on padding rows); if tgt != NULL the loss
 * against it is returned through *loss. */
static int decoder_rollout(seqvid_model *m, const sv_decoder *d, int slot, int T, int B,
                           const int *len, const float *truth, const float *tgt, float *out,
                           double *loss) {
    sv_lstm_cache c[SV_MAX_LAYERS];
    int st = bind_caches(m, slot, 1, B, c);
    if (st) return st;
    size_t BH = (size_t)B * m->H, BD = (size_t)B * m->D;
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
        for (int l = 0; l < m->L; l++) {
            if (t > 0) { /* the previous step's new state becomes this step's initial state */
                memcpy(c[l].h, c[l].h + BH, BH * sizeof(float));
                memcpy(c[l].c, c[l].c + BH, BH * sizeof(float));
            }
            sv_lstm_forward(&d->stack.layer[l], 1, B, l ? c[l - 1].h + BH : feed, 0,
                            len ? steplen : NULL, &c[l], NULL);
        }
        readout(m, d, c[m->L - 1].h + BH, B, y);
        if (tgt) total += frame_loss(m, y, tgt + (size_t)t * BD, 1, B, len ? steplen : NULL, 0);
        float *o = out + (size_t)t * BD;
        for (int b = 0; b < B; b++) {
            float *ob = o + (size_t)b * m->D;
            if (len && !steplen[b]) memset(ob, 0, (size_t)m->D * sizeof *ob);
            else output_row(m->output, y + (size_t)b * m->D, ob, m->D);
        }
    }
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
    float *first = l0->gwx ? l0->gwx : l0->gwh, *end = d->gbout + m->D;
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
            decoder_forward(m, &m->rec, w->dec[0], K, B, tgt_rec, len_in, yrec, &w->sp[1]);
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
            decoder_forward(m, &m->fut, w->dec[1], M, B, tgt_fut, len_fut, yfut, &w->sp[2]);
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
            readout_backward(m, &m->rec, htop, K * B, yrec, dh);
            stack_backward(m, &m->rec.stack, w->dec[0], K, B, m->rec.conditional ? tgt_rec : NULL,
                           1, len_in, dh, NULL, NULL, dhT, dcT, tmp, &w->sp[1]);
        }
        if (yfut) {
            const float *htop = w->dec[1][m->L - 1].h + BH;
            readout_backward(m, &m->fut, htop, M * B, yfut, dh);
            stack_backward(m, &m->fut.stack, w->dec[1], M, B, m->fut.conditional ? tgt_fut : NULL,
                           1, len_fut, dh, NULL, NULL, dhT, dcT, tmp, &w->sp[2]);
        }
        /* The encoder's outputs are seen only through its final state. */
        memset(dh, 0, (size_t)K * BH * sizeof *dh);
        stack_backward(m, &m->enc, w->enc, K, B, X, 0, len_in, dh, dhT, dcT, NULL, NULL, tmp,
                       &w->sp[0]);
        if (check_grads && !sv_all_finite(m->grads, m->n_params))
            return sv_fail(SEQVID_ERR_NONFINITE, "%s: a gradient is not finite", fn);
    }
    if (rec_loss) *rec_loss = (float)rec;
    if (fut_loss) *fut_loss = (float)fut;
    return SEQVID_OK;
}

int seqvid_model_gradients(seqvid_model *m, const seqvid_batch *batch, float *rec_loss,
                           float *fut_loss) {
    return training_pass(m, batch, PASS_GRADIENTS, 1, rec_loss, fut_loss, __func__);
}

int seqvid_model_evaluate(seqvid_model *m, const seqvid_batch *batch, int flags, float *rec_loss,
                          float *fut_loss) {
    if (flags != SEQVID_EVAL_INFERENCE && flags != SEQVID_EVAL_TEACHER_FORCED)
        return sv_fail(SEQVID_ERR_ARG, "seqvid_model_evaluate: unknown flags %d", flags);
    return training_pass(m, batch,
                         flags == SEQVID_EVAL_TEACHER_FORCED ? PASS_TEACHER_FORCED : PASS_INFERENCE,
                         0, rec_loss, fut_loss, __func__);
}

int seqvid_model_train_step(seqvid_model *m, seqvid_optimizer *opt, const seqvid_batch *batch,
                            float *rec_loss, float *fut_loss) {
    SV_NOT_NULL(m);
    SV_NOT_NULL(opt);
    float rec, fut;
    /* The optimizer checks the gradients' finiteness before touching anything: one pass. */
    int st = training_pass(m, batch, PASS_GRADIENTS, 0, &rec, &fut, __func__);
    if (st) return st;
    st = seqvid_optimizer_step(opt, m);
    if (st) return st;
    if (rec_loss) *rec_loss = rec;
    if (fut_loss) *fut_loss = fut;
    return SEQVID_OK;
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

int seqvid_model_encode(seqvid_model *m, const seqvid_batch *batch, float *out, size_t out_count) {
    size_t F = m ? 2 * (size_t)m->L * m->H : 0;
    int st = inference_encode(m, batch, out, out_count, F, __func__);
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

int seqvid_model_reconstruct(seqvid_model *m, const seqvid_batch *batch, float *out,
                             size_t out_count) {
    if (m && !has_rec(m))
        return sv_fail(SEQVID_ERR_UNSUPPORTED, "seqvid_model_reconstruct: a future predictor "
                       "has no reconstruction decoder");
    size_t per = batch ? batch->T * (m ? (size_t)m->D : 0) : 0;
    int st = inference_encode(m, batch, out, out_count, per, __func__);
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

int seqvid_model_predict(seqvid_model *m, const seqvid_batch *batch, size_t n_future, float *out,
                         size_t out_count) {
    if (m && !has_fut(m))
        return sv_fail(SEQVID_ERR_UNSUPPORTED, "seqvid_model_predict: an autoencoder has no "
                       "future predictor");
    if (n_future < 1 || n_future > (size_t)1 << 30)
        return sv_fail(SEQVID_ERR_ARG, "seqvid_model_predict: n_future = %zu outside [1, 2^30]",
                       n_future);
    size_t per;
    if (!sv_mul(n_future, m ? (size_t)m->D : 0, &per))
        return sv_fail(SEQVID_ERR_OVERFLOW, "seqvid_model_predict: output size overflows");
    int st = inference_encode(m, batch, out, out_count, per, __func__);
    if (st) return st;
    return decoder_rollout(m, &m->fut, WS_FUT, (int)n_future, (int)batch->S, NULL, NULL, NULL,
                           out, NULL);
}

/* ------------------------------------------------------------------------------------------
 * The parameter arena
 * ---------------------------------------------------------------------------------------- */
int seqvid_model_param_count(const seqvid_model *m, size_t *count) {
    SV_NOT_NULL(m);
    SV_NOT_NULL(count);
    *count = m->n_params;
    return SEQVID_OK;
}

int seqvid_model_params(seqvid_model *m, float **params) {
    SV_NOT_NULL(m);
    SV_NOT_NULL(params);
    *params = m->params;
    return SEQVID_OK;
}

int seqvid_model_grads(seqvid_model *m, float **grads) {
    SV_NOT_NULL(m);
    SV_NOT_NULL(grads);
    *grads = m->grads;
    return SEQVID_OK;
}

int seqvid_model_param_block_count(const seqvid_model *m, size_t *count) {
    SV_NOT_NULL(m);
    SV_NOT_NULL(count);
    *count = m->n_blocks;
    return SEQVID_OK;
}

int seqvid_model_param_block(const seqvid_model *m, size_t i, const char **name, size_t *offset,
                             size_t *rows, size_t *cols) {
    SV_NOT_NULL(m);
    if (i >= m->n_blocks)
        return sv_fail(SEQVID_ERR_ARG, "seqvid_model_param_block: index %zu >= %zu blocks", i,
                       m->n_blocks);
    const sv_block *bl = &m->blocks[i];
    if (name) *name = bl->name;
    if (offset) *offset = bl->offset;
    if (rows) *rows = bl->rows;
    if (cols) *cols = bl->cols;
    return SEQVID_OK;
}
