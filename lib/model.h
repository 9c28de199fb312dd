/* model.h -- private: the model behind seqvid_model (composite.c owns it; serialize.c and
 * optimizer.c read its parameter arena). */
#ifndef SV_MODEL_H
#define SV_MODEL_H
#include <stddef.h>
#include "arena.h"
#include "config.h"
#include "lstm.h"
#include "rng.h"

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
    /* Scheduled sampling (seqvid.h's experimental SAMPLE_RECON / SAMPLE_FUTURE, in cfg.x):
     * the coin stream, and the coins of the last sampled gradient pass of each decoder
     * (0: recon, 1: future), coins[i][(t-1)*B + b] = 1 where step t of row b was fed the
     * decoder's own output. */
    sv_rng sample_rng;
    unsigned char *coins[2];
    size_t coins_cap[2];
    /* Tests only: a gradient pass feeds every sampling decoder the inputs of the previous
     * (sampled) pass over the same batch again, teacher-forced, drawing no coins: the loss
     * whose gradient a sampled pass computes, for finite differences. */
    int sample_replay;
};

/* seqvid_model_create with the weights stored as `weights` (SEQVID_WEIGHTS_*) from the
 * start; fn names the public function for messages. SEQVID_WEIGHTS_BF16: the weights are
 * zeros, not initialised (for a loader that writes every block). */
int sv_model_create(const seqvid_config *cfg, int weights, const char *fn, seqvid_model **out);
/* Restart the coin stream at its seed (from SEED: a stream of its own). */
void sv_model_seed_sampling(seqvid_model *m);
/* 1 if the coin stream is where sv_model_seed_sampling put it (nothing drawn since). */
int sv_model_sampling_at_start(const seqvid_model *m);
#endif
