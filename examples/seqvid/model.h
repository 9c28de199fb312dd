/*
 * model.h -- reading a model for the `seqvid` subcommands that use one.
 */
#ifndef SEQVID_CMD_MODEL_H
#define SEQVID_CMD_MODEL_H

#include <seqvid.h>

/* A model file, or the model inside a training checkpoint; exits with the reason if the
 * file is neither. bf16: its weights then stored as bfloat16 (--weights bf16: half the
 * memory, faster frame-by-frame encoding; results differ by the rounding of the weights). */
seqvid_model *model_read(const char *path, int bf16);
/* The value of --weights: 0 for f32, 1 for bf16; exits on anything else. */
int model_weights_option(const char *arg);

#endif
