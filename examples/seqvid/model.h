/*
 * model.h -- reading a model for the `seqvid` subcommands that use one.
 */
#ifndef SEQVID_CMD_MODEL_H
#define SEQVID_CMD_MODEL_H

#include <seqvid.h>

/* A model file, or the model inside a training checkpoint, its weights stored as `weights`
 * (SEQVID_WEIGHTS_*: --weights bf16, half the memory and faster frame-by-frame encoding,
 * results moved by the rounding of the weights; --weights f32-packed, faster batches of a
 * few clips for up to twice the weights' memory); exits with the reason if the file is
 * neither. */
seqvid_model *model_read(const char *path, int weights);
/* The value of --weights as a SEQVID_WEIGHTS_* value; exits on anything else. */
int model_weights_option(const char *arg);

#endif
