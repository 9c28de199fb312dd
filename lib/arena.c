/* arena.c -- the parameter arena of models and classifiers (arena.h): layout of named blocks,
 * LSTM stacks and readouts, initialisation, the readout's forward and backward products and
 * BPTT down a stack. */
#define SEQVID_EXPERIMENTAL /* the precision functions and constants */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "arena.h"
#include "bf16.h"
#include "blas.h"
#include "error.h"
#include "rng.h"
#include "util.h"

size_t sv_stack_param_count(int D, int H, int L, int peep) {
    size_t n = 0;
    for (int l = 0; l < L; l++) n += sv_lstm_param_count(l ? H : D, H, peep);
    return n;
}

size_t sv_readout_param_count(int in, int out) { return (size_t)in * (size_t)out + (size_t)out; }

/* The float32 weights registered for packed copies (packed.h) as the storage and precision
 * ask: for products in float32 and bf16 when stored SEQVID_WEIGHTS_F32_PACKED; for bf16
 * products only when stored SEQVID_WEIGHTS_F32 with bf16 precision asked for (the CBLAS
 * backend's bf16 mode runs on bf16 copies; its float32 products stay the backend's). Asked
 * for whether or not bf16 runs here now: packed.c checks the CPU and the environment per
 * product. */
static void sync_packed(sv_arena *a) {
    const int f32 = a->params && a->packed;
    const int want = f32 || (a->params && a->precision == SEQVID_PRECISION_BF16);
    if (a->pk.base && (!want || a->pk.f32 != f32)) sv_packed_unregister(&a->pk);
    if (!want || a->pk.base) return;
    if (f32) sv_packed_register(&a->pk, a->params, a->n_params, &a->version);
    else sv_packed_register_bf16(&a->pk, a->params, a->n_params, &a->version);
}

int sv_arena_alloc(sv_arena *a, size_t n, int weights, const char *fn) {
    a->n_params = n;
    a->grads = NULL;
    if (weights == SEQVID_WEIGHTS_BF16) { /* views bound by sv_arena_finish */
        size_t bytes = (n * sizeof(uint16_t) + 63) & ~(size_t)63;
        a->params16 = sv_aligned_alloc(64, bytes ? bytes : 64);
        if (!a->params16)
            return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory for %zu parameters", fn, n);
        memset(a->params16, 0, bytes);
        return SEQVID_OK;
    }
    a->params = sv_falloc(n);
    if (!a->params) return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory for %zu parameters", fn, n);
    /* A full table only costs speed (the weights are then not cached): no error. */
    (void)sv_blas_weights_register(a->params, n, &a->version);
    return SEQVID_OK;
}

void sv_arena_release(sv_arena *a) {
    sv_packed_unregister(&a->pk);
    if (a->params) sv_blas_weights_unregister(a->params);
    sv_free(a->params);
    sv_free(a->grads);
    sv_free(a->params16);
    sv_free(a->vec);
    sv_free(a->panel);
    a->params = a->grads = a->vec = a->panel = NULL;
    a->params16 = NULL;
}

int sv_arena_need_f32(const sv_arena *a, const char *what, const char *fn) {
    if (!a->params16) return SEQVID_OK;
    return sv_fail(SEQVID_ERR_STATE, "%s: the weights are stored as bf16 (inference only), so "
                   "there is no %s; store them as SEQVID_WEIGHTS_F32 first", fn, what);
}

int sv_arena_get_weights(const sv_arena *a, int *weights, const char *fn) {
    if (!weights) return sv_fail(SEQVID_ERR_NULL, "%s: argument 'weights' is NULL", fn);
    *weights = a->params16 ? SEQVID_WEIGHTS_BF16
               : a->packed ? SEQVID_WEIGHTS_F32_PACKED
                           : SEQVID_WEIGHTS_F32;
    return SEQVID_OK;
}

/* Every layer and readout viewing the float32 params, and grads where they exist: each view
 * and its gradient twin sit at the block's offset. */
static void bind_f32(sv_arena *a) {
    float *p = a->params, *g = a->grads;
    for (size_t i = 0; i < a->n_layers; i++) {
        sv_lstm_layer *l = a->layers[i];
        size_t off = a->layer_off[i];
        sv_lstm_bind(l, l->D, l->H, l->peep, p + off, g ? g + off : NULL);
    }
    for (size_t i = 0; i < a->n_readouts; i++) {
        sv_readout *r = a->readouts[i];
        size_t off = a->readout_off[i], w = (size_t)r->in * r->out;
        r->w = p + off, r->b = p + off + w, r->w16 = NULL, r->panel = NULL;
        r->gw = g ? g + off : NULL, r->gb = g ? g + off + w : NULL;
    }
}

int sv_arena_grads(sv_arena *a, const char *fn) {
    int st = sv_arena_need_f32(a, "training", fn);
    if (st) return st;
    if (a->grads) return SEQVID_OK;
    float *g = sv_falloc(a->n_params);
    if (!g)
        return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory for %zu gradients", fn, a->n_params);
    a->grads = g;
    bind_f32(a);
    return SEQVID_OK;
}

size_t sv_arena_layer_offset(const sv_arena *a, const sv_lstm_layer *l) {
    for (size_t i = 0; i < a->n_layers; i++)
        if (a->layers[i] == l) return a->layer_off[i];
    return 0; /* not reached: the layers of an arena's owner are all registered */
}

/* Floats of the vectors (peepholes, biases) of every layer and readout. */
static size_t vector_count(const sv_arena *a) {
    size_t n = 0;
    for (size_t i = 0; i < a->n_layers; i++)
        n += (size_t)(a->layers[i]->peep ? 7 : 4) * (size_t)a->layers[i]->H;
    for (size_t i = 0; i < a->n_readouts; i++) n += (size_t)a->readouts[i]->out;
    return n;
}

void sv_arena_bind_bf16(sv_arena *a) {
    size_t v = 0;
    for (size_t i = 0; i < a->n_layers; i++) {
        sv_lstm_layer *l = a->layers[i];
        size_t h = (size_t)l->H, n = (size_t)(l->peep ? 7 : 4) * h, off = a->layer_off[i];
        sv_bf16_widen(a->params16 + off + 4 * h * ((size_t)l->D + h), a->vec + v, n);
        sv_lstm_bind_bf16(l, l->D, l->H, l->peep, a->params16 + off, a->vec + v, a->panel);
        v += n;
    }
    for (size_t i = 0; i < a->n_readouts; i++) {
        sv_readout *r = a->readouts[i];
        size_t off = a->readout_off[i];
        sv_bf16_widen(a->params16 + off + (size_t)r->in * r->out, a->vec + v, (size_t)r->out);
        r->w16 = a->params16 + off, r->w = NULL, r->b = a->vec + v, r->panel = a->panel;
        r->gw = r->gb = NULL;
        v += (size_t)r->out;
    }
}

/* The float32 arrays of the bf16 views: the vectors and the products' scratch. */
static int alloc_bf16_side(sv_arena *a, const char *fn) {
    float *vec = sv_falloc(vector_count(a)), *panel = sv_falloc(SV_BF16_PANEL);
    if (!vec || !panel) {
        sv_free(vec);
        sv_free(panel);
        return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);
    }
    a->vec = vec, a->panel = panel;
    return SEQVID_OK;
}

/* To bf16, in place: params becomes params16 (each float's bf16 written over the first half
 * of the array, which is then shrunk to it), so the conversion never holds more than the
 * float32 weights did. Everything that can fail is checked or allocated before the first
 * weight is overwritten. */
static int to_bf16(sv_arena *a, const char *fn) {
    if (!sv_all_finite(a->params, a->n_params))
        return sv_fail(SEQVID_ERR_NONFINITE, "%s: the weights hold NaN or Inf", fn);
    if (!sv_bf16_fits(a->params, a->n_params))
        return sv_fail(SEQVID_ERR_NONFINITE, "%s: a weight is too large for bf16 "
                       "(|w| >= 0x1.ffp127)", fn);
    int st = alloc_bf16_side(a, fn);
    if (st) return st;
    sv_blas_weights_unregister(a->params);
    uint16_t *p16 = sv_bf16_round_in_place(a->params, a->n_params);
    void *shrunk = sv_realloc(p16, a->n_params ? a->n_params * sizeof *p16 : 1);
    a->params16 = shrunk ? shrunk : p16; /* a failed shrink leaves a valid, larger array */
    sv_arena_bind_bf16(a);
    sv_free(a->grads);
    a->params = a->grads = NULL;
    a->exposed = 0; /* the float32 pointer handed out is gone */
    return SEQVID_OK;
}

/* Back to float32: widen every bf16 weight (exact), rebind, free the bf16 arrays. */
static int to_f32(sv_arena *a, const char *fn) {
    float *p = sv_falloc(a->n_params);
    if (!p) return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory for %zu parameters", fn,
                           a->n_params);
    sv_bf16_widen(a->params16, p, a->n_params);
    sv_free(a->params16);
    sv_free(a->vec);
    sv_free(a->panel);
    a->params16 = NULL, a->vec = NULL, a->panel = NULL;
    a->params = p; /* grads: NULL since the bf16 conversion */
    bind_f32(a);
    (void)sv_blas_weights_register(a->params, a->n_params, &a->version);
    return SEQVID_OK;
}

int sv_arena_finish(sv_arena *a, const char *fn) {
    if (!a->params16) return SEQVID_OK; /* float32: bound by the layout already */
    int st = alloc_bf16_side(a, fn);
    if (!st) sv_arena_bind_bf16(a);
    return st;
}

int sv_arena_check_weights(int weights, const char *fn) {
    if (weights == SEQVID_WEIGHTS_F32 || weights == SEQVID_WEIGHTS_BF16 ||
        weights == SEQVID_WEIGHTS_F32_PACKED)
        return SEQVID_OK;
    return sv_fail(SEQVID_ERR_ARG, "%s: weight storage %d is not SEQVID_WEIGHTS_F32 (0), "
                   "SEQVID_WEIGHTS_BF16 (1) or SEQVID_WEIGHTS_F32_PACKED (2)", fn, weights);
}

int sv_arena_set_weights(sv_arena *a, int weights, const char *fn) {
    int st = sv_arena_check_weights(weights, fn);
    if (st) return st;
    const int bf16 = weights == SEQVID_WEIGHTS_BF16;
    if (bf16 != (a->params16 != NULL)) {
        /* The packed copies go before the float32 weights are rounded in place; to_bf16
         * fails only before it touches them, and then they come back. */
        if (bf16) sv_packed_unregister(&a->pk);
        st = bf16 ? to_bf16(a, fn) : to_f32(a, fn);
        if (st) {
            sync_packed(a);
            return st;
        }
        a->version++;
    }
    a->packed = weights == SEQVID_WEIGHTS_F32_PACKED;
    sync_packed(a);
    return SEQVID_OK;
}

void sv_arena_read(const sv_arena *a, size_t off, size_t n, float *dst) {
    if (a->params16) sv_bf16_widen(a->params16 + off, dst, n);
    else memcpy(dst, a->params + off, n * sizeof *dst);
}

void sv_arena_changed(sv_arena *a) { a->version++; }

int sv_arena_enter(sv_arena *a) {
    if (a->exposed) a->version++;
    int previous = sv_blas_get_bf16();
    sv_blas_set_bf16(a->precision == SEQVID_PRECISION_BF16);
    return previous;
}

void sv_arena_leave(int previous) { sv_blas_set_bf16(previous); }

int sv_arena_set_precision(sv_arena *a, int precision, const char *fn) {
    if (precision != SEQVID_PRECISION_F32 && precision != SEQVID_PRECISION_BF16)
        return sv_fail(SEQVID_ERR_ARG, "%s: precision %d is neither SEQVID_PRECISION_F32 (0) "
                       "nor SEQVID_PRECISION_BF16 (1)", fn, precision);
    a->precision = precision;
    sync_packed(a);
    return SEQVID_OK;
}

int sv_arena_get_precision(const sv_arena *a, int *precision, const char *fn) {
    if (!precision) return sv_fail(SEQVID_ERR_NULL, "%s: argument 'precision' is NULL", fn);
    *precision = a->precision == SEQVID_PRECISION_BF16 && sv_blas_bf16_supported()
                     ? SEQVID_PRECISION_BF16
                     : SEQVID_PRECISION_F32;
    return SEQVID_OK;
}

static size_t add_block(sv_arena *a, const char *name, size_t rows, size_t cols, int init) {
    sv_block *bl = &a->blocks[a->n_blocks++];
    snprintf(bl->name, sizeof bl->name, "%s", name);
    bl->offset = a->used, bl->rows = rows, bl->cols = cols, bl->init = init;
    a->used += rows * cols;
    return bl->offset;
}

void sv_arena_add_stack(sv_arena *a, const char *name, int D, int H, int L, int peep,
                        sv_stack *st) {
    char bn[48];
    size_t h4 = 4 * (size_t)H;
    st->L = L;
    for (int l = 0; l < L; l++) {
        int din = l ? H : D;
        size_t start = a->used;
        if (din) {
            snprintf(bn, sizeof bn, "%s.%d.w_x", name, l);
            add_block(a, bn, (size_t)din, h4, SV_INIT_WEIGHT);
        }
        snprintf(bn, sizeof bn, "%s.%d.w_h", name, l);
        add_block(a, bn, (size_t)H, h4, SV_INIT_WEIGHT);
        if (peep) {
            snprintf(bn, sizeof bn, "%s.%d.peephole", name, l);
            add_block(a, bn, 3 * (size_t)H, 1, SV_INIT_PEEPHOLE);
        }
        snprintf(bn, sizeof bn, "%s.%d.bias", name, l);
        add_block(a, bn, h4, 1, SV_INIT_LSTM_BIAS);
        sv_lstm_layer *ly = &st->layer[l];
        ly->D = din, ly->H = H, ly->peep = peep;
        if (a->params) sv_lstm_bind(ly, din, H, peep, a->params + start, NULL);
        a->layer_off[a->n_layers] = start;
        a->layers[a->n_layers++] = ly;
    }
}

void sv_arena_add_readout(sv_arena *a, const char *name, int in, int out, sv_readout *r) {
    char bn[48];
    snprintf(bn, sizeof bn, "%s.readout.w", name);
    size_t w = add_block(a, bn, (size_t)in, (size_t)out, SV_INIT_WEIGHT);
    snprintf(bn, sizeof bn, "%s.readout.b", name);
    size_t b = add_block(a, bn, (size_t)out, 1, SV_INIT_BIAS);
    r->in = in, r->out = out;
    r->w = a->params ? a->params + w : NULL, r->b = a->params ? a->params + b : NULL;
    r->w16 = NULL, r->panel = NULL;
    r->gw = r->gb = NULL; /* bound by sv_arena_grads */
    a->readout_off[a->n_readouts] = w;
    a->readouts[a->n_readouts++] = r;
}

void sv_arena_init(sv_arena *a, const struct seqvid_config *cfg) {
    const double *v = cfg->v;
    double wa = v[SEQVID_CFG_INIT_WEIGHT], p = v[SEQVID_CFG_INIT_PEEPHOLE];
    float fb = (float)v[SEQVID_CFG_FORGET_BIAS];
    size_t H = (size_t)v[SEQVID_CFG_HIDDEN];
    sv_rng rng;
    sv_rng_seed(&rng, (uint64_t)v[SEQVID_CFG_SEED]);
    for (size_t i = 0; i < a->n_blocks; i++) {
        const sv_block *bl = &a->blocks[i];
        float *x = a->params + bl->offset;
        size_t n = bl->rows * bl->cols;
        double s = bl->init == SV_INIT_WEIGHT ? wa : p;
        switch (bl->init) {
        case SV_INIT_WEIGHT:
        case SV_INIT_PEEPHOLE:
            for (size_t k = 0; k < n; k++) x[k] = (float)((2.0 * sv_rng_uniform(&rng) - 1.0) * s);
            break;
        case SV_INIT_LSTM_BIAS: /* rows [H, 2H) are the forget gate */
            for (size_t k = 0; k < n; k++) x[k] = (k / H == 1) ? fb : 0.0f;
            break;
        default:
            memset(x, 0, n * sizeof *x);
        }
    }
}

void sv_readout_forward(const sv_readout *r, const float *X, int rows, float *Y) {
    size_t out = (size_t)r->out;
    for (size_t i = 0; i < (size_t)rows; i++) memcpy(Y + i * out, r->b, out * sizeof *Y);
    if (r->w16) {
        sv_bf16_gemm_acc(rows, r->out, r->in, X, r->in, r->w16, Y, r->out, r->panel);
        return;
    }
    sv_sgemm(SV_NOTRANS, SV_NOTRANS, rows, r->out, r->in, 1.0f, X, r->in,
             r->w, r->out, 1.0f, Y, r->out);
}

void sv_readout_backward(const sv_readout *r, const float *X, int rows, const float *dY,
                         float *dX) {
    sv_sgemm_grad(SV_TRANS, SV_NOTRANS, r->in, r->out, rows, 1.0f, X, r->in, dY, r->out, 0.0f,
                  r->gw, r->out);
    memset(r->gb, 0, (size_t)r->out * sizeof *r->gb);
    for (int i = 0; i < rows; i++) {
        const float *y = dY + (size_t)i * r->out;
        for (int k = 0; k < r->out; k++) r->gb[k] += y[k];
    }
    if (dX)
        sv_sgemm(SV_NOTRANS, SV_TRANS, rows, r->in, r->out, 1.0f, dY,
                 r->out, r->w, r->out, 0.0f, dX, r->in);
}

void sv_stack_backward(const sv_stack *s, sv_lstm_cache *caches, int T, int B, const float *X0,
                       int x_t0, const int *len, float *dHbuf, const float *dhT,
                       const float *dcT, float *dh0, float *dc0, float *tmp) {
    size_t BH = (size_t)B * s->layer[0].H, TBH = (size_t)T * BH;
    float *dH = dHbuf, *dBelow = dHbuf + TBH;
    for (int l = s->L - 1; l >= 0; l--) {
        const float *in = l ? caches[l - 1].h + BH : X0;
        size_t o = (size_t)l * BH;
        sv_lstm_backward(&s->layer[l], T, B, in, l ? 0 : x_t0, len, &caches[l], dH,
                         dhT ? dhT + o : NULL, dcT ? dcT + o : NULL, l ? dBelow : NULL,
                         dh0 ? dh0 + o : NULL, dc0 ? dc0 + o : NULL, tmp);
        float *t = dH; /* the layer below's output gradient is what we just wrote */
        dH = dBelow, dBelow = t;
    }
}

void sv_stack_step(const sv_stack *s, sv_lstm_cache *c, int B, const float *x, const int *len) {
    size_t BH = (size_t)B * s->layer[0].H;
    for (int l = 0; l < s->L; l++)
        sv_lstm_forward(&s->layer[l], 1, B, l ? c[l - 1].h + BH : x, 0, len, &c[l]);
    for (int l = 0; l < s->L; l++) { /* the new state becomes the state */
        memcpy(c[l].h, c[l].h + BH, BH * sizeof(float));
        memcpy(c[l].c, c[l].c + BH, BH * sizeof(float));
    }
}

float *sv_ws_get(float **buf, size_t *cap, size_t n) {
    if (n > *cap) {
        float *p = sv_falloc(n);
        if (!p) return NULL;
        sv_free(*buf);
        *buf = p;
        *cap = n;
    }
    return *buf;
}

int sv_arena_count(const sv_arena *a, size_t *count, const char *fn) {
    if (!count) return sv_fail(SEQVID_ERR_NULL, "%s: argument 'count' is NULL", fn);
    *count = a->n_params;
    return SEQVID_OK;
}

int sv_arena_params(sv_arena *a, float **out, const char *fn) {
    if (!out) return sv_fail(SEQVID_ERR_NULL, "%s: argument 'params' is NULL", fn);
    int st = sv_arena_need_f32(a, "float32 array to point to", fn);
    if (st) return st;
    a->exposed = 1;
    a->version++;
    *out = a->params;
    return SEQVID_OK;
}

int sv_arena_grads_out(sv_arena *a, float **out, const char *fn) {
    if (!out) return sv_fail(SEQVID_ERR_NULL, "%s: argument 'grads' is NULL", fn);
    int st = sv_arena_grads(a, fn);
    if (st) return st;
    *out = a->grads;
    return SEQVID_OK;
}

int sv_arena_block_count(const sv_arena *a, size_t *count, const char *fn) {
    if (!count) return sv_fail(SEQVID_ERR_NULL, "%s: argument 'count' is NULL", fn);
    *count = a->n_blocks;
    return SEQVID_OK;
}

int sv_arena_block(const sv_arena *a, size_t i, const char **name, size_t *offset,
                   size_t *rows, size_t *cols, const char *fn) {
    if (i >= a->n_blocks)
        return sv_fail(SEQVID_ERR_ARG, "%s: index %zu >= %zu blocks", fn, i, a->n_blocks);
    const sv_block *bl = &a->blocks[i];
    if (name) *name = bl->name;
    if (offset) *offset = bl->offset;
    if (rows) *rows = bl->rows;
    if (cols) *cols = bl->cols;
    return SEQVID_OK;
}
