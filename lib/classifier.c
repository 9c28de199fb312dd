/* classifier.c -- SR15's supervised use of the representation: an LSTM stack of the models'
 * cell (lstm.h) with a softmax readout at every step, trained with cross-entropy, initialised
 * at random or from a trained model's encoder.
 *
 * Pass, for B sequences of T steps (row r = t*B + b, valid iff t < n_b), N = Σ_b n_b:
 *   X~ = X ⊙ M_in / (1-r)                       (training with dropout r; else X~ = X)
 *   H  = stack(X~) top outputs [TB x H]          (zero initial state, carried past n_b)
 *   H~ = H ⊙ M_out / (1-r)                      (training with dropout; else H~ = H)
 *   Z  = H~ W + 1 c^T [TB x C],  P = softmax(Z) row-wise
 *   loss = -(1/N) Σ_{valid r} log P[r, y_b] = (1/N) Σ (logsumexp(Z_r) - Z_r[y_b])
 * Backward: dZ = (P - onehot(y)) / N on valid rows, 0 elsewhere;
 *   dW = H~^T dZ,  dc = Σ_r dZ_r,  dH = (dZ W^T) ⊙ M_out / (1-r),  then BPTT down the stack
 *   (layer 0 reads X~, so its input-weight gradient is X~^T dA).
 * Clip prediction: P_b = (1/n_b) Σ_{t<n_b} P[t*B + b]; accuracy = mean_b [argmax P_b = y_b].
 *
 * Dropout masks: a zero input value stays zero whatever its mask, so masks are drawn only
 * for nonzero inputs (Moving MNIST frames are ~93% zeros); the dropped input stays sparse
 * and the kernel's sparse path still applies.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "batch.h"
#include "blas.h"
#include "classifier.h"
#include "error.h"
#include "optimizer.h"

/* ------------------------------------------------------------------------------------------
 * Keys
 * ---------------------------------------------------------------------------------------- */
static const char *const cls_key_names[SV_CLS_NKEYS] = {
    [SEQVID_CLS_DROPOUT - 100] = "DROPOUT",
    [SEQVID_CLS_FREEZE_STEPS - 100] = "FREEZE_STEPS",
    [SEQVID_CLS_DROPOUT_SEED - 100] = "DROPOUT_SEED",
};

#define EXACT_INT 9007199254740992.0 /* 2^53 */

int sv_classifier_uses_key(int key) {
    switch (key) {
    case SEQVID_CFG_INPUT_DIM:
    case SEQVID_CFG_HIDDEN:
    case SEQVID_CFG_LAYERS:
    case SEQVID_CFG_PEEPHOLES:
    case SEQVID_CFG_SEED:
    case SEQVID_CFG_INIT_WEIGHT:
    case SEQVID_CFG_INIT_PEEPHOLE:
    case SEQVID_CFG_FORGET_BIAS: return 1;
    default: return 0;
    }
}

const char *sv_classifier_key_name(int key) {
    return key >= SEQVID_CLS_DROPOUT && key <= SEQVID_CLS_DROPOUT_SEED ? cls_key_names[key - 100]
                                                                      : NULL;
}

int sv_classifier_check(int key, double v) {
    const char *fn = "seqvid_classifier_set";
    switch (key) {
    case SEQVID_CLS_DROPOUT:
        if (!(v >= 0.0 && v < 1.0)) /* NaN fails too */
            return sv_fail(SEQVID_ERR_ARG, "%s: DROPOUT = %g is outside [0, 1)", fn, v);
        return SEQVID_OK;
    case SEQVID_CLS_FREEZE_STEPS:
        if (!(v >= -1.0 && v <= EXACT_INT) || v != floor(v))
            return sv_fail(SEQVID_ERR_ARG, "%s: FREEZE_STEPS = %g must be an integer in "
                           "[-1, 2^53]", fn, v);
        return SEQVID_OK;
    case SEQVID_CLS_DROPOUT_SEED:
        if (!(v >= 0.0 && v <= EXACT_INT) || v != floor(v))
            return sv_fail(SEQVID_ERR_ARG, "%s: DROPOUT_SEED = %g must be an integer in "
                           "[0, 2^53]", fn, v);
        return SEQVID_OK;
    default:
        return sv_fail(SEQVID_ERR_ARG, "%s: unknown classifier key %d", fn, key);
    }
}

/* ------------------------------------------------------------------------------------------
 * Workspace: one growable buffer per role, reallocated only when a call needs more.
 * ---------------------------------------------------------------------------------------- */
enum {
    CW_CACHE,  /* L layer caches */
    CW_SPARSE, /* sparse copy of layer 0's input */
    CW_XDROP,  /* the input after dropout [TB x D] */
    CW_HDROP,  /* top outputs after dropout [TB x H] */
    CW_MASK,   /* their mask, 0 or 1/(1-r) [TB x H] */
    CW_Z,      /* logits -> probabilities -> dZ [TB x C] */
    CW_CLIP,   /* clip probabilities [B x C] */
    CW_DH,     /* two [TB x H] gradient buffers, ping-ponged down the stack */
    CW_TMP,    /* kernel scratch [2 x B x H] */
    CW_N
};

struct sv_cls_workspace {
    float *buf[CW_N];
    size_t cap[CW_N];
    sv_lstm_cache cache[SV_MAX_LAYERS];
    sv_sparse sp;
};

static float *ws_get(seqvid_classifier *c, int slot, size_t n) {
    struct sv_cls_workspace *w = c->ws;
    if (n > w->cap[slot]) {
        float *p = sv_falloc(n);
        if (!p) return NULL;
        sv_free(w->buf[slot]);
        w->buf[slot] = p;
        w->cap[slot] = n;
    }
    return w->buf[slot];
}

static void ws_free(struct sv_cls_workspace *w) {
    if (!w) return;
    for (int i = 0; i < CW_N; i++) sv_free(w->buf[i]);
    free(w);
}

/* ------------------------------------------------------------------------------------------
 * Creation
 * ---------------------------------------------------------------------------------------- */
static size_t add_block(seqvid_classifier *c, const char *name, size_t rows, size_t cols,
                        int init, size_t *offset) {
    sv_block *bl = &c->blocks[c->n_blocks++];
    snprintf(bl->name, sizeof bl->name, "%s", name);
    bl->offset = *offset, bl->rows = rows, bl->cols = cols, bl->init = init;
    *offset += rows * cols;
    return bl->offset;
}

/* The arena: per layer w_x, w_h, peephole, bias (the order of the models' stacks), then the
 * readout. */
static void build(seqvid_classifier *c) {
    char bn[48];
    size_t off = 0, h4 = 4 * (size_t)c->H;
    for (int l = 0; l < c->L; l++) {
        int din = l ? c->H : c->D;
        size_t start = off;
        snprintf(bn, sizeof bn, "classifier.%d.w_x", l);
        add_block(c, bn, (size_t)din, h4, SV_INIT_WEIGHT, &off);
        snprintf(bn, sizeof bn, "classifier.%d.w_h", l);
        add_block(c, bn, (size_t)c->H, h4, SV_INIT_WEIGHT, &off);
        if (c->peep) {
            snprintf(bn, sizeof bn, "classifier.%d.peephole", l);
            add_block(c, bn, 3 * (size_t)c->H, 1, SV_INIT_PEEPHOLE, &off);
        }
        snprintf(bn, sizeof bn, "classifier.%d.bias", l);
        add_block(c, bn, h4, 1, SV_INIT_LSTM_BIAS, &off);
        sv_lstm_bind(&c->stack.layer[l], din, c->H, c->peep, c->params + start, c->grads + start);
    }
    c->stack.L = c->L;
    c->n_stack = off;
    size_t w = add_block(c, "classifier.readout.w", (size_t)c->H, (size_t)c->C, SV_INIT_WEIGHT,
                         &off);
    size_t b = add_block(c, "classifier.readout.b", (size_t)c->C, 1, SV_INIT_BIAS, &off);
    c->wout = c->params + w, c->gwout = c->grads + w;
    c->bout = c->params + b, c->gbout = c->grads + b;
}

/* The models' initialisation rule, over the blocks in arena order from one stream seeded by
 * SEED: weights U(-a, a), peepholes U(-p, p), biases 0 except the LSTM forget gate's. The
 * encoder comes first in a model's arena and has the same blocks, so a classifier's stack
 * equals the encoder of seqvid_model_create on the same configuration. */
static void init_params(seqvid_classifier *c) {
    const double *v = c->cfg.v;
    double a = v[SEQVID_CFG_INIT_WEIGHT], p = v[SEQVID_CFG_INIT_PEEPHOLE];
    float fb = (float)v[SEQVID_CFG_FORGET_BIAS];
    sv_rng rng;
    sv_rng_seed(&rng, (uint64_t)v[SEQVID_CFG_SEED]);
    for (size_t i = 0; i < c->n_blocks; i++) {
        const sv_block *bl = &c->blocks[i];
        float *x = c->params + bl->offset;
        size_t n = bl->rows * bl->cols;
        double s = bl->init == SV_INIT_WEIGHT ? a : p;
        switch (bl->init) {
        case SV_INIT_WEIGHT:
        case SV_INIT_PEEPHOLE:
            for (size_t k = 0; k < n; k++) x[k] = (float)((2.0 * sv_rng_uniform(&rng) - 1.0) * s);
            break;
        case SV_INIT_LSTM_BIAS: /* rows [H, 2H) are the forget gate */
            for (size_t k = 0; k < n; k++) x[k] = (k / (size_t)c->H == 1) ? fb : 0.0f;
            break;
        default:
            memset(x, 0, n * sizeof *x);
        }
    }
}

int seqvid_classifier_create(const seqvid_config *cfg, int n_classes, seqvid_classifier **out) {
    SV_NOT_NULL(out);
    *out = NULL;
    SV_NOT_NULL(cfg);
    if (n_classes < 2 || n_classes > SV_CLS_MAX_CLASSES)
        return sv_fail(SEQVID_ERR_ARG, "%s: n_classes = %d is outside [2, %d]", __func__,
                       n_classes, SV_CLS_MAX_CLASSES);
    struct seqvid_config own;
    sv_config_defaults(&own);
    for (int k = 1; k < SV_CFG_NKEYS; k++)
        if (sv_classifier_uses_key(k)) own.v[k] = cfg->v[k];
    int st = sv_config_check_all(&own);
    if (st) return st;

    seqvid_classifier *c = calloc(1, sizeof *c);
    if (!c) return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", __func__);
    c->cfg = own;
    c->D = (int)own.v[SEQVID_CFG_INPUT_DIM], c->H = (int)own.v[SEQVID_CFG_HIDDEN];
    c->L = (int)own.v[SEQVID_CFG_LAYERS], c->peep = (int)own.v[SEQVID_CFG_PEEPHOLES];
    c->C = n_classes;
    c->n_params = (size_t)c->H * (size_t)c->C + (size_t)c->C;
    for (int l = 0; l < c->L; l++) c->n_params += sv_lstm_param_count(l ? c->H : c->D, c->H, c->peep);
    c->params = sv_falloc(c->n_params);
    c->grads = sv_falloc(c->n_params);
    c->ws = calloc(1, sizeof *c->ws);
    if (!c->params || !c->grads || !c->ws) {
        seqvid_classifier_free(c);
        return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory for %zu parameters", __func__,
                       c->n_params);
    }
    build(c);
    init_params(c);
    c->dropout_seed = own.v[SEQVID_CFG_SEED];
    sv_rng_seed(&c->rng, (uint64_t)c->dropout_seed);
    *out = c;
    return SEQVID_OK;
}

void seqvid_classifier_free(seqvid_classifier *c) {
    if (!c) return;
    sv_free(c->params);
    sv_free(c->grads);
    ws_free(c->ws);
    free(c);
}

int seqvid_classifier_copy_encoder(seqvid_classifier *c, const seqvid_model *m) {
    SV_NOT_NULL(c);
    SV_NOT_NULL(m);
    if (m->D != c->D || m->H != c->H || m->L != c->L || m->peep != c->peep)
        return sv_fail(SEQVID_ERR_SHAPE, "%s: the model's encoder (INPUT_DIM %d, HIDDEN %d, "
                       "LAYERS %d, PEEPHOLES %d) does not fit the classifier's stack (%d, %d, "
                       "%d, %d)", __func__, m->D, m->H, m->L, m->peep, c->D, c->H, c->L,
                       c->peep);
    size_t h = (size_t)c->H;
    for (int l = 0; l < c->L; l++) {
        const sv_lstm_layer *src = &m->enc.layer[l];
        sv_lstm_layer *dst = &c->stack.layer[l];
        memcpy(dst->wx, src->wx, (size_t)dst->D * 4 * h * sizeof(float));
        memcpy(dst->wh, src->wh, h * 4 * h * sizeof(float));
        if (c->peep) memcpy(dst->p, src->p, 3 * h * sizeof(float));
        memcpy(dst->b, src->b, 4 * h * sizeof(float));
    }
    return SEQVID_OK;
}

int seqvid_classifier_create_from_encoder(const seqvid_model *m, int n_classes,
                                          seqvid_classifier **out) {
    SV_NOT_NULL(out);
    *out = NULL;
    SV_NOT_NULL(m);
    seqvid_classifier *c;
    int st = seqvid_classifier_create(&m->cfg, n_classes, &c);
    if (st) return st;
    st = seqvid_classifier_copy_encoder(c, m);
    if (st) {
        seqvid_classifier_free(c);
        return st;
    }
    *out = c;
    return SEQVID_OK;
}

int seqvid_classifier_set(seqvid_classifier *c, int key, double value) {
    SV_NOT_NULL(c);
    if (key == SEQVID_CLS_CLASSES || sv_classifier_uses_key(key))
        return sv_fail(SEQVID_ERR_STATE, "%s: key %d is fixed at creation", __func__, key);
    int st = sv_classifier_check(key, value);
    if (st) return st;
    switch (key) {
    case SEQVID_CLS_DROPOUT: c->dropout = value; break;
    case SEQVID_CLS_FREEZE_STEPS: c->freeze = value; break;
    default: /* SEQVID_CLS_DROPOUT_SEED */
        c->dropout_seed = value;
        sv_rng_seed(&c->rng, (uint64_t)value);
    }
    return SEQVID_OK;
}

int seqvid_classifier_get(const seqvid_classifier *c, int key, double *value) {
    SV_NOT_NULL(c);
    SV_NOT_NULL(value);
    switch (key) {
    case SEQVID_CLS_DROPOUT: *value = c->dropout; return SEQVID_OK;
    case SEQVID_CLS_FREEZE_STEPS: *value = c->freeze; return SEQVID_OK;
    case SEQVID_CLS_DROPOUT_SEED: *value = c->dropout_seed; return SEQVID_OK;
    case SEQVID_CLS_CLASSES: *value = c->C; return SEQVID_OK;
    default:
        if (!sv_classifier_uses_key(key))
            return sv_fail(SEQVID_ERR_ARG, "%s: key %d is not a classifier key nor a stack "
                           "configuration key", __func__, key);
        *value = c->cfg.v[key];
        return SEQVID_OK;
    }
}

/* ------------------------------------------------------------------------------------------
 * The pass
 * ---------------------------------------------------------------------------------------- */
enum pass {
    PASS_GRADIENTS, /* dropout, all gradients */
    PASS_READOUT,   /* dropout, readout gradients only (frozen stack: its gradients are 0) */
    PASS_EVALUATE,  /* loss and accuracy */
    PASS_PREDICT    /* clip probabilities */
};

/* Inverted dropout of n values: x <- x/(1-r) with probability 1-r, else 0. mask (may be NULL)
 * receives the factor. Zeros of x draw nothing when mask is NULL (they stay zero). */
static void dropout(sv_rng *rng, double r, const float *x, float *y, float *mask, size_t n) {
    const float keep = (float)(1.0 / (1.0 - r));
    for (size_t i = 0; i < n; i++) {
        if (!mask && x[i] == 0.0f) {
            y[i] = 0.0f;
            continue;
        }
        float f = sv_rng_uniform(rng) < r ? 0.0f : keep;
        y[i] = x[i] * f;
        if (mask) mask[i] = f;
    }
}

/* Softmax of row z (C values) in place; returns logsumexp(z) - z[y] (y < 0: 0). */
static double softmax_row(float *z, int C, int y) {
    float m = z[0];
    for (int k = 1; k < C; k++) m = z[k] > m ? z[k] : m;
    double s = 0.0;
    for (int k = 0; k < C; k++) s += exp((double)z[k] - m);
    double lse = (double)m + log(s), loss = y >= 0 ? lse - z[y] : 0.0;
    for (int k = 0; k < C; k++) z[k] = (float)exp((double)z[k] - lse);
    return loss;
}

static int check_labels(const seqvid_classifier *c, const seqvid_batch *batch, const int *labels,
                        size_t count, const char *fn) {
    if (!labels) return sv_fail(SEQVID_ERR_NULL, "%s: argument 'labels' is NULL", fn);
    if (count != batch->S)
        return sv_fail(SEQVID_ERR_SHAPE, "%s: %zu labels for a batch of %zu sequences", fn, count,
                       batch->S);
    for (size_t b = 0; b < count; b++)
        if (labels[b] < 0 || labels[b] >= c->C)
            return sv_fail(SEQVID_ERR_ARG, "%s: label %d of sequence %zu is outside [0, %d)", fn,
                           labels[b], b, c->C);
    return SEQVID_OK;
}

/* check_grads: fail on a non-finite gradient (train_step leaves that to the optimizer, which
 * checks before it writes anything). */
static int run(seqvid_classifier *c, const seqvid_batch *batch, const int *labels,
               size_t n_labels, enum pass pass, int check_grads, float *probs,
               size_t probs_count, float *loss_out, float *acc_out, const char *fn) {
    SV_NOT_NULL(c);
    int st = sv_batch_check(batch, (size_t)c->D, fn);
    if (st) return st;
    if (pass != PASS_PREDICT && (st = check_labels(c, batch, labels, n_labels, fn))) return st;
    const int T = (int)batch->T, B = (int)batch->S, H = c->H, C = c->C;
    const size_t TB = (size_t)T * B, BH = (size_t)B * H;
    if (pass == PASS_PREDICT) {
        if (!probs) return sv_fail(SEQVID_ERR_NULL, "%s: argument 'probs' is NULL", fn);
        if (probs_count / (size_t)C < (size_t)B)
            return sv_fail(SEQVID_ERR_BUFFER, "%s: probs has %zu floats, %zu needed", fn,
                           probs_count, (size_t)B * C);
    }
    if (!sv_all_finite(batch->data, TB * (size_t)c->D))
        return sv_fail(SEQVID_ERR_NONFINITE, "%s: the batch holds NaN or Inf", fn);

    struct sv_cls_workspace *w = c->ws;
    const int train = pass == PASS_GRADIENTS || pass == PASS_READOUT;
    const int drop = train && c->dropout > 0.0;
    size_t per = sv_lstm_cache_floats(T, B, H);
    float *caches = ws_get(c, CW_CACHE, per * (size_t)c->L);
    float *spm = ws_get(c, CW_SPARSE, sv_sparse_floats((int)TB, c->D));
    float *Z = ws_get(c, CW_Z, TB * (size_t)C), *clip = ws_get(c, CW_CLIP, (size_t)B * C);
    float *xd = drop ? ws_get(c, CW_XDROP, TB * (size_t)c->D) : NULL;
    float *hd = drop ? ws_get(c, CW_HDROP, TB * (size_t)H) : NULL;
    float *mask = drop ? ws_get(c, CW_MASK, TB * (size_t)H) : NULL;
    if (!caches || !spm || !Z || !clip || (drop && (!xd || !hd || !mask)))
        return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory for %d x %d workspaces", fn, T, B);
    sv_sparse_bind(&w->sp, (int)TB, c->D, spm);
    int full = 1;
    for (int b = 0; b < B; b++) full &= batch->len[b] == T;
    const int *len = full ? NULL : batch->len;

    /* Forward through the stack. */
    const float *X = batch->data;
    if (drop) {
        dropout(&c->rng, c->dropout, X, xd, NULL, TB * (size_t)c->D);
        X = xd;
    }
    for (int l = 0; l < c->L; l++) {
        sv_lstm_cache *k = &w->cache[l];
        sv_lstm_cache_bind(k, T, B, H, caches + l * per);
        memset(k->h, 0, BH * sizeof(float));
        memset(k->c, 0, BH * sizeof(float));
        sv_lstm_forward(&c->stack.layer[l], T, B, l ? w->cache[l - 1].h + BH : X, 0, len, k,
                        l ? NULL : &w->sp);
    }
    const float *htop = w->cache[c->L - 1].h + BH;
    if (drop) {
        dropout(&c->rng, c->dropout, htop, hd, mask, TB * (size_t)H);
        htop = hd;
    }

    /* Readout, softmax, loss, clip probabilities; Z becomes dZ when training. */
    for (size_t r = 0; r < TB; r++) memcpy(Z + r * C, c->bout, (size_t)C * sizeof *Z);
    sv_sgemm(SV_NOTRANS, SV_NOTRANS, (int)TB, C, H, 1.0f, htop, H, c->wout,
                C, 1.0f, Z, C);
    long n_valid = 0;
    for (int b = 0; b < B; b++) n_valid += batch->len[b];
    const float inv_n = 1.0f / (float)n_valid;
    double total = 0.0;
    memset(clip, 0, (size_t)B * C * sizeof *clip);
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            float *z = Z + ((size_t)t * B + b) * C;
            if (t >= batch->len[b]) {
                memset(z, 0, (size_t)C * sizeof *z);
                continue;
            }
            int y = pass == PASS_PREDICT ? -1 : labels[b];
            total += softmax_row(z, C, y);
            float *pc = clip + (size_t)b * C;
            for (int k = 0; k < C; k++) pc[k] += z[k];
            if (train) {
                for (int k = 0; k < C; k++) z[k] *= inv_n;
                z[y] -= inv_n;
            }
        }
    double loss = total / (double)n_valid;
    if (!isfinite(loss))
        return sv_fail(SEQVID_ERR_NONFINITE, "%s: the loss is not finite (%g)", fn, loss);
    int correct = 0;
    for (int b = 0; b < B; b++) {
        float *pc = clip + (size_t)b * C, s = 1.0f / (float)batch->len[b];
        int best = 0;
        for (int k = 0; k < C; k++) {
            pc[k] *= s;
            if (pc[k] > pc[best]) best = k;
        }
        if (pass != PASS_PREDICT) correct += best == labels[b];
    }
    if (pass == PASS_PREDICT) memcpy(probs, clip, (size_t)B * C * sizeof *probs);

    if (train) {
        /* Readout: dW = H~^T dZ, dc = Σ_r dZ_r. */
        sv_sgemm(SV_TRANS, SV_NOTRANS, H, C, (int)TB, 1.0f, htop, H, Z, C,
                    0.0f, c->gwout, C);
        memset(c->gbout, 0, (size_t)C * sizeof *c->gbout);
        for (size_t r = 0; r < TB; r++)
            for (int k = 0; k < C; k++) c->gbout[k] += Z[r * C + k];
        if (pass == PASS_READOUT) {
            memset(c->grads, 0, c->n_stack * sizeof *c->grads);
        } else {
            float *dh = ws_get(c, CW_DH, 2 * TB * (size_t)H), *tmp = ws_get(c, CW_TMP, 2 * BH);
            if (!dh || !tmp) return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);
            float *dH = dh, *dBelow = dh + TB * (size_t)H;
            /* dH_top = dZ W^T (⊙ the output mask). */
            sv_sgemm(SV_NOTRANS, SV_TRANS, (int)TB, H, C, 1.0f, Z, C,
                        c->wout, C, 0.0f, dH, H);
            if (drop)
                for (size_t i = 0; i < TB * (size_t)H; i++) dH[i] *= mask[i];
            for (int l = c->L - 1; l >= 0; l--) {
                const float *in = l ? w->cache[l - 1].h + BH : X;
                sv_lstm_backward(&c->stack.layer[l], T, B, in, 0, len, &w->cache[l], dH, NULL,
                                 NULL, l ? dBelow : NULL, NULL, NULL, tmp, l ? NULL : &w->sp);
                float *s = dH; /* the layer below's output gradient is what we just wrote */
                dH = dBelow, dBelow = s;
            }
        }
        if (check_grads && !sv_all_finite(c->grads, c->n_params))
            return sv_fail(SEQVID_ERR_NONFINITE, "%s: a gradient is not finite", fn);
    }
    if (loss_out) *loss_out = (float)loss;
    if (acc_out) *acc_out = (float)correct / (float)B;
    return SEQVID_OK;
}

int seqvid_classifier_gradients(seqvid_classifier *c, const seqvid_batch *batch,
                                const int *labels, size_t labels_count, float *loss,
                                float *accuracy) {
    return run(c, batch, labels, labels_count, PASS_GRADIENTS, 1, NULL, 0, loss, accuracy,
               __func__);
}

int seqvid_classifier_evaluate(seqvid_classifier *c, const seqvid_batch *batch,
                               const int *labels, size_t labels_count, float *loss,
                               float *accuracy) {
    return run(c, batch, labels, labels_count, PASS_EVALUATE, 0, NULL, 0, loss, accuracy,
               __func__);
}

int seqvid_classifier_predict(seqvid_classifier *c, const seqvid_batch *batch, float *probs,
                              size_t probs_count) {
    return run(c, batch, NULL, 0, PASS_PREDICT, 0, probs, probs_count, NULL, NULL, __func__);
}

/* The stack is frozen for this optimizer's next step. */
static int frozen(const seqvid_classifier *c, const seqvid_optimizer *opt) {
    return c->freeze < 0 || (double)opt->steps < c->freeze;
}

int seqvid_classifier_update(seqvid_classifier *c, seqvid_optimizer *opt) {
    SV_NOT_NULL(c);
    SV_NOT_NULL(opt);
    return sv_optimizer_apply_tail(opt, c->params, c->grads, c->n_params,
                                   frozen(c, opt) ? c->n_stack : 0);
}

int seqvid_classifier_train_step(seqvid_classifier *c, seqvid_optimizer *opt,
                                 const seqvid_batch *batch, const int *labels,
                                 size_t labels_count, float *loss, float *accuracy) {
    SV_NOT_NULL(c);
    SV_NOT_NULL(opt);
    float l, a;
    int st = run(c, batch, labels, labels_count, frozen(c, opt) ? PASS_READOUT : PASS_GRADIENTS,
                 0, NULL, 0, &l, &a, __func__);
    if (!st) st = seqvid_classifier_update(c, opt);
    if (st) return st;
    if (loss) *loss = l;
    if (accuracy) *accuracy = a;
    return SEQVID_OK;
}

/* ------------------------------------------------------------------------------------------
 * The parameter arena
 * ---------------------------------------------------------------------------------------- */
int seqvid_classifier_param_count(const seqvid_classifier *c, size_t *count) {
    SV_NOT_NULL(c);
    SV_NOT_NULL(count);
    *count = c->n_params;
    return SEQVID_OK;
}

int seqvid_classifier_params(seqvid_classifier *c, float **params) {
    SV_NOT_NULL(c);
    SV_NOT_NULL(params);
    *params = c->params;
    return SEQVID_OK;
}

int seqvid_classifier_grads(seqvid_classifier *c, float **grads) {
    SV_NOT_NULL(c);
    SV_NOT_NULL(grads);
    *grads = c->grads;
    return SEQVID_OK;
}

int seqvid_classifier_param_block_count(const seqvid_classifier *c, size_t *count) {
    SV_NOT_NULL(c);
    SV_NOT_NULL(count);
    *count = c->n_blocks;
    return SEQVID_OK;
}

int seqvid_classifier_param_block(const seqvid_classifier *c, size_t i, const char **name,
                                  size_t *offset, size_t *rows, size_t *cols) {
    SV_NOT_NULL(c);
    if (i >= c->n_blocks)
        return sv_fail(SEQVID_ERR_ARG, "%s: index %zu >= %zu blocks", __func__, i, c->n_blocks);
    const sv_block *bl = &c->blocks[i];
    if (name) *name = bl->name;
    if (offset) *offset = bl->offset;
    if (rows) *rows = bl->rows;
    if (cols) *cols = bl->cols;
    return SEQVID_OK;
}
