/*
 * model.c -- reading a model (see model.h).
 */
#include "model.h"

#include "../support/cli.h"

seqvid_model *model_read(const char *path)
{
    seqvid_model *model;
    /* seqvid_model_load also accepts a checkpoint and returns its model. */
    ex_check(seqvid_model_load(path, &model), path);
    return model;
}
