/* model.h -- private: the model behind seqvid_model (composite.c owns it; serialize.c and
 * optimizer.c read its parameter arena). */
#ifndef SV_MODEL_H
#define SV_MODEL_H
#include <stddef.h>
#include "arena.h"
#include "config.h"
#include "lstm.h"

/* A decoder: an LSTM stack initialised from the encoder's final state, and a readout
 * y = h_top W_out + b_out. */
typedef struct sv_decoder {
    int present;     /* the model kind has this decoder */
    int conditional; /* layer 0 reads the previous frame (else it has no input weights) */
    sv_stack stack;
    sv_readout out; /* [H x D], [D] */
} sv_decoder;

struct sv_workspace; /* composite.c: buffers sized for the largest batch seen */

struct seqvid_model {
    struct seqvid_config cfg; /* as created (RECON_FEED may change later) */
    int kind, D, H, L, K, M, peep, output;
    sv_arena arena; /* every weight, in blocks: encoder, then recon and future decoders */
    sv_stack enc;
    sv_decoder rec, fut;
    struct sv_workspace *ws;
};
#endif
