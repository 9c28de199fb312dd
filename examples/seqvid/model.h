/*
 * model.h -- reading a model for the `seqvid` subcommands that use one.
 */
#ifndef SEQVID_CMD_MODEL_H
#define SEQVID_CMD_MODEL_H

#include <seqvid.h>

/* A model file, or the model inside a training checkpoint; exits with the reason if the
 * file is neither. */
seqvid_model *model_read(const char *path);

#endif
