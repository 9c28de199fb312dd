/* lstm.h -- private: the SR15 peephole LSTM kernel (cell, layer, stack), forward and BPTT.
 *
 * The kernel knows sizes and pointers only: no models, files or handles.
 * All matrices are row-major float32. Sequences are time-major: row (t*B + b).
 *
 * Cell (gate order i, f, g, o; peepholes p_i, p_f read c_{t-1}, p_o reads c_t):
 *   a_t = x_t W_x + h_{t-1} W_h + b                   (4H pre-activations, row vectors)
 *   i = σ(a_i + p_i⊙c_{t-1})  f = σ(a_f + p_f⊙c_{t-1})  g = tanh(a_g)
 *   c_t = f⊙c_{t-1} + i⊙g     o = σ(a_o + p_o⊙c_t)      h_t = o⊙tanh(c_t)
 *
 * Speed plan: the input projections of all steps are one GEMM, the weight gradients of all
 * steps are one GEMM each, only h_{t-1} W_h (forward) and dA_t W_h^T (backward) run per step.
 * The caches below are allocated by the caller once per shape. The one thing the kernel
 * allocates itself is the sparse copy of an input (sparse.h), kept in the cache and grown
 * only when a larger input needs it: never inside the time loop.
 *
 * Lengths: row b is active at step t iff t < len[b] (len == NULL: all active). An inactive
 * row carries its state unchanged (h_t = h_{t-1}, c_t = c_{t-1}) and has zero gate
 * gradients, so the state after the last step is the state at the row's last valid frame.
 */
#ifndef SV_LSTM_H
#define SV_LSTM_H
#include <stddef.h>
#include <stdint.h>

typedef struct sv_lstm_layer {
    int D;    /* input size; 0 = this layer has no input (unconditioned decoder) */
    int H;    /* hidden units */
    int peep; /* 1: peepholes present */
    /* Views into the model's parameter arena ... */
    /* Weights are stored input-major ("x W"): row k holds what input k adds to the 4H gate
     * pre-activations, whose columns are ordered i, f, g, o. A row of a sparse input then
     * touches whole contiguous rows, and the batch-1 products stream W row by row. */
    float *wx; /* [D x 4H]; NULL when D == 0 */
    float *wh; /* [H x 4H] */
    float *p;  /* [3H] p_i, p_f, p_o; NULL without peepholes */
    float *b;  /* [4H] */
    /* Weights stored as bf16 (bf16.h; the model's experimental SEQVID_WEIGHTS_BF16): wx and
     * wh are then NULL and the forward reads these; p and b stay float32. Inference only:
     * no gradients, and sv_lstm_backward is never called. */
    const uint16_t *wx16, *wh16;
    float *panel; /* the arena's scratch for them (SV_BF16_PANEL floats: bf16.h) */
    /* ... and their twins in the gradient arena (written by sv_lstm_backward). */
    float *gwx, *gwh, *gp, *gb;
} sv_lstm_layer;

/* Forward cache of one layer for T steps of B rows. */
typedef struct sv_lstm_cache {
    float *h;     /* [(T+1) x B x H]; slot 0 = h_{-1} (initial state, written by the caller) */
    float *c;     /* [(T+1) x B x H]; slot 0 = c_{-1} */
    float *gates; /* [T x B] rows of 4H (row stride 4H + 16): activated i,f,g,o after forward;
                     dA after backward */
    float *tc;    /* [T x B x H]: tanh(c_t) */
    int zero_init; /* set by the caller: slot 0 is all zeros (an encoder's start), so step 0
                      skips its recurrent products */
    int sparse_input; /* set by the caller: X is video frames, mostly exact zeros; the forward
                         then keeps a sparse copy of it when that pays (sparse.h) */
    struct sv_sparse *sparse; /* the kernel's; starts NULL (a zeroed cache), freed by
                                 sv_lstm_cache_release */
} sv_lstm_cache;

/* Number of floats of one layer's parameters (the blocks above, in that order). */
size_t sv_lstm_param_count(int D, int H, int peep);
/* Point the layer's views at params / grads (which start at this layer's block; grads NULL:
 * no gradient views). */
void sv_lstm_bind(sv_lstm_layer *l, int D, int H, int peep, float *params, float *grads);
/* Point the layer at weights stored as bf16: w16 starts the layer's block (laid out as for
 * sv_lstm_bind: w_x, w_h, then the vectors, whose bf16 slots are unused), vec holds its
 * peepholes (with peepholes) then its biases in float32, panel is scratch for the products
 * (SV_BF16_PANEL floats, or NULL). */
void sv_lstm_bind_bf16(sv_lstm_layer *l, int D, int H, int peep, const uint16_t *w16,
                       float *vec, float *panel);
/* Floats needed by one sv_lstm_cache for (T, B, H). */
size_t sv_lstm_cache_floats(int T, int B, int H);
/* Carve a cache out of `mem` (sv_lstm_cache_floats floats). Clears zero_init and
 * sparse_input; keeps the sparse copy's buffers for reuse. */
void sv_lstm_cache_bind(sv_lstm_cache *c, int T, int B, int H, float *mem);
/* Free what the kernel allocated in the cache (not `mem`). */
void sv_lstm_cache_release(sv_lstm_cache *c);

/* Forward over T steps. X holds the inputs of steps x_t0..T-1 ([(T-x_t0) x B x D]);
 * steps before x_t0 (and every step when X == NULL or D == 0) have zero input.
 * The initial state must already be in slot 0 of cache->h / cache->c. */
void sv_lstm_forward(const sv_lstm_layer *l, int T, int B, const float *X, int x_t0,
                     const int *len, sv_lstm_cache *cache);

/* Step t alone of a forward over T steps into `cache` (bound for T steps), for inputs known
 * only one step at a time (a decoder fed its own outputs): x [B x D] is the input of step t
 * (NULL: none); row b runs iff len == NULL or len[b] > 0 (a one-step length, as in a
 * one-step sv_lstm_forward). Steps 0..t-1 must have been run (slot 0 written for t = 0).
 * After steps 0..T-1 the cache is what sv_lstm_forward over the T steps with these inputs
 * gives, up to rounding, and sv_lstm_backward runs on it (with the inputs as X, x_t0 = 0 or
 * 1); the cache keeps no sparse copy of them, so the backward runs the dense products. */
void sv_lstm_forward_step(const sv_lstm_layer *l, int t, int B, const float *x, const int *len,
                          sv_lstm_cache *cache);

/* BPTT over the T steps of the last forward with the same arguments.
 * dH:  [T x B x H] gradient w.r.t. h_t from above; consumed (overwritten).
 * dhT, dcT: [B x H] gradient w.r.t. the final state (NULL = zero).
 * dX:  [(T-x_t0) x B x D] receives the gradient w.r.t. X (NULL: not needed).
 * dh0, dc0: [B x H]: the gradient w.r.t. the initial state is ADDED into them (several
 *            decoders hand their gradients to one encoder state); NULL: not needed.
 * tmp: [2 x B x H] scratch.
 * The layer's gradient blocks l->g* are overwritten (each layer runs backward once per
 * pass; no separate zeroing of the gradient arena is needed). cache->gates becomes dA. */
void sv_lstm_backward(const sv_lstm_layer *l, int T, int B, const float *X, int x_t0,
                      const int *len, sv_lstm_cache *cache, float *dH, const float *dhT,
                      const float *dcT, float *dX, float *dh0, float *dc0, float *tmp);
#endif
