/*
 * evaluate.h -- a model's losses on a set of sequences, next to trivial baselines computed
 * on the same targets, and the table that shows them.
 *
 * Units are the library's: nats per frame for binary output (cross-entropy), squared-loss
 * units per frame (1/2 |y - x|^2) for real output.
 */
#ifndef SEQVID_EXAMPLES_EVALUATE_H
#define SEQVID_EXAMPLES_EVALUATE_H

#include <stdio.h>
#include <seqvid.h>

#include "data.h"

typedef struct ex_losses {
    double rec, fut; /* reconstruction / future prediction; NaN where not applicable */
} ex_losses;

typedef struct ex_baselines {
    ex_losses last; /* every target predicted as the last input frame (clipped) */
    ex_losses mean; /* every target predicted as the mean training frame; NaN if unknown */
    ex_losses clip; /* every target predicted as the mean of the clip's input frames */
} ex_baselines;

/* What a model has: whether it reconstructs (autoencoder, composite) and predicts. */
typedef struct ex_model_info {
    int kind, has_rec, has_fut, output;
    size_t input_frames, future_frames, dim, hidden, layers;
    int cond_recon, cond_future;
} ex_model_info;
ex_model_info ex_model_describe(const seqvid_model *model);
/* "autoencoder", "future predictor", "composite" */
const char *ex_kind_name(int kind);
/* "nats/frame" (binary output) or "sq.err/frame" (real). */
const char *ex_loss_unit(const ex_model_info *m);

/* The model's losses on the whole set (decoders fed as at inference: the honest numbers).
 * The set needs K + M steps if the model predicts, K if it only reconstructs; NaN if not. */
ex_losses ex_set_evaluate(seqvid_model *model, const ex_set *set);
/* The baselines on the targets the model would have: reconstruction targets are input
 * frames 0..K-1, future targets frames K..K+M-1, in the model's loss. mean_frame may be
 * NULL. */
ex_baselines ex_set_baselines(const ex_set *set, const ex_model_info *m,
                              const float *mean_frame);
/* A table of the model's losses (model may be NULL) next to the baselines. */
void ex_print_loss_table(FILE *f, const ex_losses *model, const ex_baselines *base,
                         const ex_model_info *info);
/* The best (lowest) baseline of the reconstruction (fut 0) or prediction (fut 1). */
double ex_best_baseline(const ex_baselines *base, int fut);
/* "wins by 123.4 (45%)" (or "loses by ...") of a model loss against the best baseline. */
const char *ex_margin(double model, const ex_baselines *base, int fut);

#endif
