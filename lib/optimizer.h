/* optimizer.h -- private: the optimizer behind seqvid_optimizer (serialize.c saves its state). */
#ifndef SV_OPTIMIZER_H
#define SV_OPTIMIZER_H
#include <stddef.h>
#include <stdint.h>
#include "seqvid.h"
#include "util.h"

#define SV_OPT_NKEYS 10 /* one past the largest seqvid_optimizer_key */
/* The step counter's limit, 2^53 (documented at seqvid_optimizer_steps): so that Adam's
 * step number k is exact as a double and the counter never wraps. A step from the limit
 * gives SEQVID_ERR_STATE; checkpoints beyond it are refused. */
#define SV_OPT_MAX_STEPS ((uint64_t)SV_EXACT_INT)

struct seqvid_optimizer {
    int kind;                /* seqvid_optimizer_kind */
    double v[SV_OPT_NKEYS];  /* settings, indexed by seqvid_optimizer_key */
    uint64_t steps;          /* updates applied */
    size_t n;                /* parameter count bound at the first step; 0 = not bound yet */
    float *s1;               /* SGD: velocity; RMSprop: mean square; Adam: first moment */
    float *s2;               /* Adam: second moment; else NULL */
    float s1max, s2max;      /* max |s1|, |s2| after the last update (+Inf: unknown), for the
                                bound that spares the finiteness check pass */
};

/* Names of kinds ("SGD", "RMSprop", "Adam") and keys ("LR", ...), as files store them; NULL if
 * unknown. */
const char *sv_optimizer_kind_name(int kind);
const char *sv_optimizer_key_name(int key);
/* Number of state arrays (s1, s2) the kind uses: 1 or 2 (0 for an unknown kind). */
int sv_optimizer_state_arrays(int kind);
/* Validate a setting for an optimizer kind: SEQVID_OK, or SEQVID_ERR_ARG with a message for an
 * unknown kind or key, a key that does not apply to the kind, or a value out of range
 * (serialize.c uses it on loaded checkpoints). */
int sv_optimizer_check(int kind, int key, double value);
/* Bind an unbound optimizer to n parameters, allocating zeroed state.
 * SEQVID_ERR_ARG for n == 0, SEQVID_ERR_STATE if already bound, SEQVID_ERR_OVERFLOW /
 * SEQVID_ERR_NOMEM with the optimizer left unbound. */
int sv_optimizer_bind(struct seqvid_optimizer *opt, size_t n);
/* The state arrays were written from outside (a loader): forget their maxima, so the next
 * update checks its results exactly instead of trusting a bound. */
void sv_optimizer_state_changed(struct seqvid_optimizer *opt);
/* One update of the n weights w with the gradient g (the core of seqvid_optimizer_step, on
 * plain arrays). Binds on first use; a different n later gives SEQVID_ERR_SHAPE. A non-finite
 * g gives SEQVID_ERR_NONFINITE. g is only read (the global-norm clip is applied on the fly).
 * On any failure w, the state and the step count are exactly unchanged. */
int sv_optimizer_apply(struct seqvid_optimizer *opt, float *w, const float *g, size_t n);
/* sv_optimizer_apply on the tail [first, n) of the n weights only: the optimizer binds to
 * (or must be bound to) n, while w[0, first) and the state of those elements stay exactly as
 * they are (the classifier's frozen layers: untouched by momentum and weight decay too). The
 * global-norm clip sees the tail's gradient only; the step count advances. first == 0 is
 * sv_optimizer_apply; first >= n gives SEQVID_ERR_ARG. */
int sv_optimizer_apply_tail(struct seqvid_optimizer *opt, float *w, const float *g, size_t n,
                            size_t first);
#endif
