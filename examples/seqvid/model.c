/*
 * model.c -- reading a model (see model.h).
 */
#define SEQVID_EXPERIMENTAL /* seqvid_experimental_model_load_as */
#include "model.h"

#include "../support/cli.h"

#include <string.h>

seqvid_model *model_read(const char *path, int weights)
{
    seqvid_model *model;
    /* Every storage also accepts a checkpoint and returns its model; the bf16 load rounds
     * each tensor as it reads it, so the float32 weights are never held whole. */
    ex_check(seqvid_experimental_model_load_as(path, weights, &model), path);
    return model;
}

int model_weights_option(const char *arg)
{
    if (!strcmp(arg, "f32")) return SEQVID_WEIGHTS_F32;
    if (!strcmp(arg, "bf16")) return SEQVID_WEIGHTS_BF16;
    if (!strcmp(arg, "f32-packed")) return SEQVID_WEIGHTS_F32_PACKED;
    ex_die("--weights: '%s' is not f32, bf16 or f32-packed", arg);
    return 0;
}
