/* classifier.h -- private: the LSTM classifier behind seqvid_classifier (classifier.c owns it;
 * serialize.c reads its arena and settings and builds loaded ones). */
#ifndef SV_CLASSIFIER_H
#define SV_CLASSIFIER_H
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "model.h"
#include "rng.h"

#define SV_CLS_MAX_CLASSES 65536
#define SV_CLS_NKEYS 5 /* settings indexed by key - SEQVID_CLS_DROPOUT + 1 (slot 0 unused) */

struct sv_cls_workspace; /* classifier.c: buffers sized for the largest batch seen */

struct seqvid_classifier {
    /* The stack keys as created (sv_classifier_uses_key); every other key at its default. */
    struct seqvid_config cfg;
    int D, H, L, C, peep;
    double dropout;        /* SEQVID_CLS_DROPOUT */
    double freeze;         /* SEQVID_CLS_FREEZE_STEPS; -1: for good */
    double dropout_seed;   /* SEQVID_CLS_DROPOUT_SEED */
    sv_rng rng;            /* the dropout stream */
    sv_arena arena;        /* the weights ... */
    size_t n_stack;        /* ... whose LSTM layers are [0, n_stack), the readout the rest */
    sv_stack stack;
    sv_readout out;        /* [H x C], [C] */
    struct sv_cls_workspace *ws;
};

/* 1 if the classifier reads (and files store) this seqvid_config_key: INPUT_DIM, HIDDEN,
 * LAYERS, PEEPHOLES, SEED, INIT_WEIGHT, INIT_PEEPHOLE, FORGET_BIAS. */
int sv_classifier_uses_key(int key);
/* Upper-case name of a settable seqvid_classifier_key ("DROPOUT", "FREEZE_STEPS",
 * "DROPOUT_SEED"; used in files), NULL otherwise. */
const char *sv_classifier_key_name(int key);
/* Validate a value of a settable seqvid_classifier_key (SEQVID_OK or SEQVID_ERR_ARG with a
 * message). */
int sv_classifier_check(int key, double value);
#endif
