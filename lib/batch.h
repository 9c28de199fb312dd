/* batch.h -- private: the sequence batch behind seqvid_batch. */
#ifndef SV_BATCH_H
#define SV_BATCH_H
#include <stddef.h>
#include "seqvid.h"

struct seqvid_batch {
    size_t T, S, D; /* steps, sequences, floats per frame */
    float *data;    /* time-major [T x S x D] */
    int *len;       /* [S] valid steps per sequence, 1..T */
    int owned;      /* data is ours to free */
};

/* Validate a batch argument of a public function: not NULL, and (if D != 0) of dim D. */
int sv_batch_check(const struct seqvid_batch *b, size_t D, const char *fn);
#endif
