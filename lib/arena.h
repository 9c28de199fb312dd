/* arena.h -- private: the flat parameter arena shared by models (composite.c) and classifiers
 * (classifier.c). One array holds every weight and a twin array every gradient; named blocks
 * are slices of it (what files store and seqvid_*_param_block report). LSTM stacks and
 * readouts are laid out in it by the same code for both owners, so a classifier's stack is the
 * encoder of a model of the same configuration by construction: same blocks, same order, same
 * initial values. */
#ifndef SV_ARENA_H
#define SV_ARENA_H
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "lstm.h"
#include "packed.h"

#define SV_MAX_LAYERS 16
#define SV_MAX_BLOCKS (3 * SV_MAX_LAYERS * 4 + 4)

/* How sv_arena_init fills a block. */
enum sv_init { SV_INIT_WEIGHT, SV_INIT_PEEPHOLE, SV_INIT_BIAS, SV_INIT_LSTM_BIAS };

/* One named weight block: a slice of the arena. */
typedef struct sv_block {
    char name[48];
    size_t offset, rows, cols;
    int init; /* enum sv_init */
} sv_block;

struct sv_readout;

typedef struct sv_arena {
    size_t n_params;
    float *params; /* the weights */
    float *grads;  /* their gradient twin: NULL until a training call needs it (sv_arena_grads) */
    size_t used;   /* floats laid out so far (== n_params once complete) */
    size_t n_blocks;
    sv_block blocks[SV_MAX_BLOCKS];
    /* The layers and readouts bound to the arena, so that the gradient twin, allocated late,
     * can be bound to them then. */
    size_t n_layers, n_readouts;
    sv_lstm_layer *layers[3 * SV_MAX_LAYERS];
    struct sv_readout *readouts[2];
    size_t layer_off[3 * SV_MAX_LAYERS], readout_off[2]; /* where their blocks start */
    /* The backend may keep the weights in its own layout (blas.h, weight cache), keyed by
     * this counter: it changes after every change of params (sv_arena_changed). exposed: a
     * writable pointer to params was handed out, so the user may have written through it
     * at any time since: every computing call starts with a bump (sv_arena_enter). */
    unsigned version;
    int exposed;
    int precision; /* SEQVID_PRECISION_* asked for (experimental API); see sv_arena_enter */
    /* Weight storage (experimental SEQVID_WEIGHTS_*). SEQVID_WEIGHTS_BF16: every weight
     * rounded to bfloat16 in params16 (the arena's layout: offsets as in params), params and
     * grads NULL; the layers and readouts read their matrices from params16 and their vectors
     * (peepholes, biases) widened from vec. Inference only: sv_arena_grads and the writable
     * pointers refuse (SEQVID_ERR_STATE). The storage is whichever of params and params16
     * is set (sv_arena_get_weights). */
    uint16_t *params16;
    /* SEQVID_WEIGHTS_F32_PACKED (packed = 1): float32 weights registered through pk for
     * packed copies of the matrices that products of a few rows read (packed.h); a float32
     * model in bf16 precision registers them too, for bf16 copies only (arena.c,
     * sync_packed). */
    int packed;
    sv_packed_range pk;
    float *vec;
    float *panel; /* scratch of the bf16 products (SV_BF16_PANEL floats; owners use one
                     thread at a time, so one is enough) */
} sv_arena;

/* An LSTM stack: L layers whose weights are views into an arena. */
typedef struct sv_stack {
    int L;
    sv_lstm_layer layer[SV_MAX_LAYERS];
} sv_stack;

/* An affine readout y = x W + b (row vectors), W [in x out], b [out], in an arena. */
typedef struct sv_readout {
    int in, out;
    float *w, *b;   /* weights */
    float *gw, *gb; /* gradient twins */
    const uint16_t *w16; /* W in bf16 (arena weights SEQVID_WEIGHTS_BF16; w is then NULL) */
    float *panel;        /* the arena's scratch for products with it (bf16.h) */
} sv_readout;

/* Floats of an L-layer stack of H units whose layer 0 reads D inputs (D = 0: no input
 * weights), and of a readout. */
size_t sv_stack_param_count(int D, int H, int L, int peep);
size_t sv_readout_param_count(int in, int out);

/* Allocate n zeroed weights stored as `weights` (SEQVID_WEIGHTS_F32 or _BF16; 0, or
 * SEQVID_ERR_NOMEM with a message); float32 ones are registered with the backend's weight
 * cache. The
 * gradients come later, with the first call that needs them: inference never allocates
 * them. After the layout (sv_arena_add_*), sv_arena_finish. */
int sv_arena_alloc(sv_arena *a, size_t n, int weights, const char *fn);
/* After the layout: a bf16 arena allocates its vectors and scratch and binds its views
 * (SEQVID_ERR_NOMEM possible); a float32 one is bound already. */
int sv_arena_finish(sv_arena *a, const char *fn);
/* Bind every view to params16 and widen the vectors from it into vec (after params16 was
 * written: a bf16 load). */
void sv_arena_bind_bf16(sv_arena *a);
void sv_arena_release(sv_arena *a);
/* The gradient twin, allocated (zeroed) and bound to every layer and readout on first use
 * (a->grads). Returns SEQVID_OK, SEQVID_ERR_NOMEM, or SEQVID_ERR_STATE where the weights are
 * stored as bf16 (no training), with the message set with fn. */
int sv_arena_grads(sv_arena *a, const char *fn);
/* Store the weights as SEQVID_WEIGHTS_F32, _BF16 or _F32_PACKED (see the struct). To bf16:
 * every weight is rounded (SEQVID_ERR_NONFINITE if one is NaN or Inf, or too large for bf16),
 * the float32 weights and the gradients are freed. Back to float32: the bf16 values widened
 * (exact). Packed: float32 (widened first from bf16) with packed copies made as products need
 * them. Nothing changes on failure (SEQVID_ERR_NOMEM, SEQVID_ERR_ARG for an unknown value). */
int sv_arena_set_weights(sv_arena *a, int weights, const char *fn);
/* SEQVID_OK for a SEQVID_WEIGHTS_* value, else SEQVID_ERR_ARG with a message naming fn. */
int sv_arena_check_weights(int weights, const char *fn);
/* *weights = SEQVID_WEIGHTS_BF16 where params16 holds the weights, SEQVID_WEIGHTS_F32_PACKED
 * where they are packed, else SEQVID_WEIGHTS_F32 (SEQVID_ERR_NULL for a NULL weights). */
int sv_arena_get_weights(const sv_arena *a, int *weights, const char *fn);
/* SEQVID_OK where the weights are float32; else SEQVID_ERR_STATE with a message saying that
 * `fn` would need `what`, which a bf16 arena does not have (training, a writable array). */
int sv_arena_need_f32(const sv_arena *a, const char *what, const char *fn);
/* The offset of a layer's block (its first weight) in a, whichever way a stores them. */
size_t sv_arena_layer_offset(const sv_arena *a, const sv_lstm_layer *l);
/* n weights from offset off, as float32 (widened where they are stored as bf16). */
void sv_arena_read(const sv_arena *a, size_t off, size_t n, float *dst);
/* The weights have changed (optimizer step, load, copy): cached layouts are stale. */
void sv_arena_changed(sv_arena *a);
/* At the start of every public call that computes with the weights: if a writable pointer
 * was handed out (sv_arena_params), the user may have written through it, so count a change;
 * and set the calling thread's product precision to the owner's (bf16 where asked for and
 * supported, else float32). Returns the thread's previous precision mode, which
 * sv_arena_leave restores on the way out (the mode belongs to the thread, and two objects
 * of different precision may be used by it in turn). */
int sv_arena_enter(sv_arena *a);
void sv_arena_leave(int previous);
/* SEQVID_PRECISION_F32 or _BF16 (else SEQVID_ERR_ARG); and the precision in effect. */
int sv_arena_set_precision(sv_arena *a, int precision, const char *fn);
int sv_arena_get_precision(const sv_arena *a, int *precision, const char *fn);
/* Lay out a stack: per layer "<name>.<l>.w_x" (if it has input), ".w_h", ".peephole" (with
 * peepholes), ".bias", and bind st's layers to them. */
void sv_arena_add_stack(sv_arena *a, const char *name, int D, int H, int L, int peep,
                        sv_stack *st);
/* Lay out "<name>.readout.w" [in x out] and "<name>.readout.b" [out] and bind r to them. */
void sv_arena_add_readout(sv_arena *a, const char *name, int in, int out, sv_readout *r);
/* The initialisation rule, over the blocks in arena order from one random stream seeded by
 * SEED: weights U(-INIT_WEIGHT, INIT_WEIGHT), peepholes U(-INIT_PEEPHOLE, INIT_PEEPHOLE),
 * biases 0 except the LSTM forget gate's (FORGET_BIAS). */
void sv_arena_init(sv_arena *a, const struct seqvid_config *cfg);

/* Y [rows x out] = X W + 1 b^T. */
void sv_readout_forward(const sv_readout *r, const float *X, int rows, float *Y);
/* Gradients of the readout for dY [rows x out]: gw = X^T dY, gb = Σ_rows dY (overwritten);
 * dX [rows x in] = dY W^T unless dX is NULL. */
void sv_readout_backward(const sv_readout *r, const float *X, int rows, const float *dY,
                         float *dX);

/* BPTT down a stack whose top receives dH (the first half of dHbuf, [T x B x H]; the second
 * half is the layer below's buffer, the two ping-pong). caches: the forward's, per layer.
 * X0/x_t0: layer 0's input as in the forward. dhT/dcT: ∂L/∂ final state per layer ([L x B x H]
 * or NULL); dh0/dc0: per-layer accumulators of ∂L/∂ initial state (or NULL). tmp: [2 x B x H]. */
void sv_stack_backward(const sv_stack *s, sv_lstm_cache *caches, int T, int B, const float *X0,
                       int x_t0, const int *len, float *dHbuf, const float *dhT,
                       const float *dcT, float *dh0, float *dc0, float *tmp);
/* One step of a stack over B rows, on caches of one step each (slot 0: the state, slot 1: the
 * next): layer 0 reads x [B x D] (NULL: no input), layer l > 0 the new h of layer l - 1; then
 * every layer's new state becomes its state. Rows with len[b] == 0 keep their state (len NULL:
 * all run). The streaming encoder and the decoders' roll-outs. */
void sv_stack_step(const sv_stack *s, sv_lstm_cache *c, int B, const float *x, const int *len);

/* A growable workspace buffer: *buf holds at least n floats afterwards (reallocated, zeroed,
 * only when it holds fewer), or NULL on failure with *buf unchanged. */
float *sv_ws_get(float **buf, size_t *cap, size_t n);

/* The bodies of the public accessors (fn: the public function, for messages). */
int sv_arena_count(const sv_arena *a, size_t *count, const char *fn);
/* The writable weights (marks the arena exposed) and the gradients (allocated if needed);
 * SEQVID_ERR_STATE where the weights are stored as bf16. */
int sv_arena_params(sv_arena *a, float **out, const char *fn);
int sv_arena_grads_out(sv_arena *a, float **out, const char *fn);
int sv_arena_block_count(const sv_arena *a, size_t *count, const char *fn);
int sv_arena_block(const sv_arena *a, size_t i, const char **name, size_t *offset,
                   size_t *rows, size_t *cols, const char *fn);
#endif
