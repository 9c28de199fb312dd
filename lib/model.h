/* model.h -- private: the model behind seqvid_model (composite.c owns it; serialize.c and
 * optimizer.c read its parameter arena). */
#ifndef SV_MODEL_H
#define SV_MODEL_H
#include <stddef.h>
#include "config.h"
#include "lstm.h"

#define SV_MAX_LAYERS 16
#define SV_MAX_BLOCKS (3 * SV_MAX_LAYERS * 4 + 4)

/* One named weight block: a slice of the arena. */
enum sv_init { SV_INIT_WEIGHT, SV_INIT_PEEPHOLE, SV_INIT_BIAS, SV_INIT_LSTM_BIAS };

typedef struct sv_block {
    char name[48];
    size_t offset, rows, cols;
    int init; /* enum sv_init: how seqvid_model_create fills it */
} sv_block;

typedef struct sv_stack {
    int L;
    sv_lstm_layer layer[SV_MAX_LAYERS];
} sv_stack;

/* A decoder: an LSTM stack initialised from the encoder's final state, and a readout
 * y = h_top W_out + b_out. */
typedef struct sv_decoder {
    int present;     /* the model kind has this decoder */
    int conditional; /* layer 0 reads the previous frame (else it has no input weights) */
    sv_stack stack;
    float *wout, *bout;   /* [H x D], [D] */
    float *gwout, *gbout; /* gradient twins */
} sv_decoder;

struct sv_workspace; /* composite.c: buffers sized for the largest batch seen */

struct seqvid_model {
    struct seqvid_config cfg; /* as created (RECON_FEED may change later) */
    int kind, D, H, L, K, M, peep, output;
    size_t n_params;
    float *params; /* the arena */
    float *grads;  /* its gradient twin */
    size_t n_blocks;
    sv_block blocks[SV_MAX_BLOCKS];
    sv_stack enc;
    sv_decoder rec, fut;
    struct sv_workspace *ws;
};
#endif
