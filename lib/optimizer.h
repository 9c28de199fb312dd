/* optimizer.h -- private: the optimizer behind seqvid_optimizer (serialize.c saves its state). */
#ifndef SV_OPTIMIZER_H
#define SV_OPTIMIZER_H
#include <stddef.h>
#include <stdint.h>
#include "seqvid.h"

#define SV_OPT_NKEYS 10 /* one past the largest seqvid_optimizer_key */

struct seqvid_optimizer {
    int kind;                /* seqvid_optimizer_kind */
    double v[SV_OPT_NKEYS];  /* settings, indexed by seqvid_optimizer_key */
    uint64_t steps;          /* updates applied */
    size_t n;                /* parameter count bound at the first step; 0 = not bound yet */
    float *s1;               /* SGD: velocity; RMSprop: mean square; Adam: first moment */
    float *s2;               /* Adam: second moment; else NULL */
};

/* Number of state arrays (s1, s2) the kind uses: 1 or 2. */
int sv_optimizer_state_arrays(int kind);
/* Bind an unbound optimizer to n parameters, allocating zeroed state. */
int sv_optimizer_bind(struct seqvid_optimizer *opt, size_t n);
#endif
