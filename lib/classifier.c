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
#define SEQVID_EXPERIMENTAL /* the precision functions and constants */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "batch.h"
#include "blas.h"
#include "classifier.h"
#include "error.h"
#include "keys.h"
#include "optimizer.h"
#include "util.h"

/* ------------------------------------------------------------------------------------------
 * Keys
 * ---------------------------------------------------------------------------------------- */
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
    const sv_key *k = sv_key_find(SEQVID_NAMES_CLASSIFIER, key);
    return k && !(k->flags & SV_KEY_READONLY) ? k->name : NULL;
}

int sv_classifier_check(int key, double v) {
    if (!sv_classifier_key_name(key))
        return sv_fail(SEQVID_ERR_ARG, "seqvid_classifier_set: unknown classifier key %d", key);
    return sv_key_check(sv_key_find(SEQVID_NAMES_CLASSIFIER, key), v, "seqvid_classifier_set");
}

/* ------------------------------------------------------------------------------------------
 * Workspace: one growable buffer per role, reallocated only when a call needs more.
 * ---------------------------------------------------------------------------------------- */
enum {
    CW_CACHE,  /* L layer caches */
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
};

static float *ws_get(seqvid_classifier *c, int slot, size_t n) {
    return sv_ws_get(&c->ws->buf[slot], &c->ws->cap[slot], n);
}

static void ws_free(struct sv_cls_workspace *w) {
    if (!w) return;
    for (int i = 0; i < CW_N; i++) sv_free(w->buf[i]);
    for (int l = 0; l < SV_MAX_LAYERS; l++) sv_lstm_cache_release(&w->cache[l]);
    free(w);
}

/* ------------------------------------------------------------------------------------------
 * Creation
 * ---------------------------------------------------------------------------------------- */
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

    seqvid_classifier *c = sv_calloc(1, sizeof *c);
    if (!c) return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", __func__);
    c->cfg = own;
    c->D = (int)own.v[SEQVID_CFG_INPUT_DIM], c->H = (int)own.v[SEQVID_CFG_HIDDEN];
    c->L = (int)own.v[SEQVID_CFG_LAYERS], c->peep = (int)own.v[SEQVID_CFG_PEEPHOLES];
    c->C = n_classes;
    c->n_stack = sv_stack_param_count(c->D, c->H, c->L, c->peep);
    c->ws = sv_calloc(1, sizeof *c->ws);
    st = c->ws ? sv_arena_alloc(&c->arena, c->n_stack + sv_readout_param_count(c->H, c->C),
                                SEQVID_WEIGHTS_F32, __func__)
               : sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", __func__);
    if (st) {
        seqvid_classifier_free(c);
        return st;
    }
    /* The arena: the stack (the models' layout, named "classifier"), then the readout. The
     * encoder comes first in a model's arena with the same blocks and sv_arena_init draws
     * them first, so this stack equals the encoder of seqvid_model_create on the same
     * configuration. */
    sv_arena_add_stack(&c->arena, "classifier", c->D, c->H, c->L, c->peep, &c->stack);
    sv_arena_add_readout(&c->arena, "classifier", c->H, c->C, &c->out);
    sv_arena_init(&c->arena, &c->cfg);
    c->dropout_seed = own.v[SEQVID_CFG_SEED];
    sv_rng_seed(&c->rng, (uint64_t)c->dropout_seed);
    *out = c;
    return SEQVID_OK;
}

void seqvid_classifier_free(seqvid_classifier *c) {
    if (!c) return;
    sv_arena_release(&c->arena);
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
    int st = sv_arena_need_f32(&c->arena, "float32 stack to copy into", __func__);
    if (st) return st;
    for (int l = 0; l < c->L; l++) {
        const sv_lstm_layer *src = &m->enc.layer[l];
        sv_lstm_layer *dst = &c->stack.layer[l];
        /* The layer's block, laid out alike in both arenas (arena.h), read as float32
         * however the model stores it (SEQVID_WEIGHTS_BF16: widened). */
        size_t n = sv_lstm_param_count(dst->D, c->H, c->peep);
        sv_arena_read(&m->arena, sv_arena_layer_offset(&m->arena, src), n,
                      c->arena.params + sv_arena_layer_offset(&c->arena, dst));
    }
    sv_arena_changed(&c->arena);
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
static int run_pass(seqvid_classifier *c, const seqvid_batch *batch, const int *labels,
                    size_t n_labels, enum pass pass, int check_grads, float *probs,
                    size_t probs_count, float *loss_out, float *acc_out, const char *fn) {
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
    if (train && (st = sv_arena_grads(&c->arena, fn))) return st;
    const int drop = train && c->dropout > 0.0;
    size_t per = sv_lstm_cache_floats(T, B, H);
    float *caches = ws_get(c, CW_CACHE, per * (size_t)c->L);
    float *Z = ws_get(c, CW_Z, TB * (size_t)C), *clip = ws_get(c, CW_CLIP, (size_t)B * C);
    float *xd = drop ? ws_get(c, CW_XDROP, TB * (size_t)c->D) : NULL;
    float *hd = drop ? ws_get(c, CW_HDROP, TB * (size_t)H) : NULL;
    float *mask = drop ? ws_get(c, CW_MASK, TB * (size_t)H) : NULL;
    if (!caches || !Z || !clip || (drop && (!xd || !hd || !mask)))
        return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory for %d x %d workspaces", fn, T, B);
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
        k->sparse_input = l == 0; /* frames */
        sv_lstm_forward(&c->stack.layer[l], T, B, l ? w->cache[l - 1].h + BH : X, 0, len, k);
    }
    const float *htop = w->cache[c->L - 1].h + BH;
    if (drop) {
        dropout(&c->rng, c->dropout, htop, hd, mask, TB * (size_t)H);
        htop = hd;
    }

    /* Readout, softmax, loss, clip probabilities; Z becomes dZ when training. */
    sv_readout_forward(&c->out, htop, (int)TB, Z);
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
        /* Readout: dW = H~^T dZ, dc = Σ_r dZ_r; dH_top = dZ W^T (⊙ the output mask). */
        if (pass == PASS_READOUT) {
            sv_readout_backward(&c->out, htop, (int)TB, Z, NULL);
            memset(c->arena.grads, 0, c->n_stack * sizeof *c->arena.grads);
        } else {
            float *dh = ws_get(c, CW_DH, 2 * TB * (size_t)H), *tmp = ws_get(c, CW_TMP, 2 * BH);
            if (!dh || !tmp) return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);
            sv_readout_backward(&c->out, htop, (int)TB, Z, dh);
            if (drop)
                for (size_t i = 0; i < TB * (size_t)H; i++) dh[i] *= mask[i];
            sv_stack_backward(&c->stack, w->cache, T, B, X, 0, len, dh, NULL, NULL, NULL, NULL,
                              tmp);
        }
        if (check_grads && !sv_all_finite(c->arena.grads, c->arena.n_params))
            return sv_fail(SEQVID_ERR_NONFINITE, "%s: a gradient is not finite", fn);
    }
    if (loss_out) *loss_out = (float)loss;
    if (acc_out) *acc_out = (float)correct / (float)B;
    return SEQVID_OK;
}

/* run_pass between sv_arena_enter and sv_arena_leave (weight cache versions, precision). */
static int run(seqvid_classifier *c, const seqvid_batch *batch, const int *labels,
               size_t n_labels, enum pass pass, int check_grads, float *probs,
               size_t probs_count, float *loss_out, float *acc_out, const char *fn) {
    SV_NOT_NULL(c);
    int previous = sv_arena_enter(&c->arena);
    int st = run_pass(c, batch, labels, n_labels, pass, check_grads, probs, probs_count,
                      loss_out, acc_out, fn);
    sv_arena_leave(previous);
    return st;
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
    int st = sv_arena_grads(&c->arena, __func__);
    if (st) return st;
    st = sv_optimizer_apply_tail(opt, c->arena.params, c->arena.grads, c->arena.n_params,
                                     frozen(c, opt) ? c->n_stack : 0);
    sv_arena_changed(&c->arena);
    return st;
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

int seqvid_experimental_classifier_set_precision(seqvid_classifier *c, int precision) {
    SV_NOT_NULL(c);
    return sv_arena_set_precision(&c->arena, precision, __func__);
}

int seqvid_experimental_classifier_get_precision(const seqvid_classifier *c, int *precision) {
    SV_NOT_NULL(c);
    return sv_arena_get_precision(&c->arena, precision, __func__);
}

int seqvid_experimental_classifier_set_weights(seqvid_classifier *c, int weights) {
    SV_NOT_NULL(c);
    return sv_arena_set_weights(&c->arena, weights, __func__);
}

int seqvid_experimental_classifier_get_weights(const seqvid_classifier *c, int *weights) {
    SV_NOT_NULL(c);
    return sv_arena_get_weights(&c->arena, weights, __func__);
}

/* ------------------------------------------------------------------------------------------
 * The parameter arena
 * ---------------------------------------------------------------------------------------- */
int seqvid_classifier_param_count(const seqvid_classifier *c, size_t *count) {
    SV_NOT_NULL(c);
    return sv_arena_count(&c->arena, count, __func__);
}

int seqvid_classifier_params(seqvid_classifier *c, float **params) {
    SV_NOT_NULL(c);
    return sv_arena_params(&c->arena, params, __func__);
}

int seqvid_classifier_grads(seqvid_classifier *c, float **grads) {
    SV_NOT_NULL(c);
    return sv_arena_grads_out(&c->arena, grads, __func__);
}

int seqvid_classifier_param_block_count(const seqvid_classifier *c, size_t *count) {
    SV_NOT_NULL(c);
    return sv_arena_block_count(&c->arena, count, __func__);
}

int seqvid_classifier_param_block(const seqvid_classifier *c, size_t i, const char **name,
                                  size_t *offset, size_t *rows, size_t *cols) {
    SV_NOT_NULL(c);
    return sv_arena_block(&c->arena, i, name, offset, rows, cols, __func__);
}
