/*
 * model.c -- reading a model (see model.h).
 */
#define SEQVID_EXPERIMENTAL /* seqvid_experimental_model_load_as */
#include "model.h"

#include "../support/cli.h"

#include <string.h>

seqvid_model *model_read(const char *path, int bf16)
{
    seqvid_model *model;
    /* Both loads also accept a checkpoint and return its model; the bf16 one rounds each
     * tensor as it reads it, so the float32 weights are never held whole. */
    ex_check(seqvid_experimental_model_load_as(path, bf16 ? SEQVID_WEIGHTS_BF16
                                                          : SEQVID_WEIGHTS_F32, &model), path);
    return model;
}

int model_weights_option(const char *arg)
{
    if (!strcmp(arg, "f32")) return 0;
    if (!strcmp(arg, "bf16")) return 1;
    ex_die("--weights: '%s' is neither f32 nor bf16", arg);
    return 0;
}
