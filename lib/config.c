/* config.c -- the model configuration: defaults, validation (key names and ranges: keys.c). */
#include <math.h>
#include <stdlib.h>
#include "alloc.h"
#include "config.h"
#include "error.h"
#include "keys.h"

/* The documented defaults; names and ranges are in keys.c. */
static const double defaults[SV_CFG_NKEYS] = {
    [SEQVID_CFG_KIND] = SEQVID_COMPOSITE,
    [SEQVID_CFG_INPUT_DIM] = 4096,
    [SEQVID_CFG_HIDDEN] = 2048,
    [SEQVID_CFG_LAYERS] = 1,
    [SEQVID_CFG_PEEPHOLES] = 1,
    [SEQVID_CFG_INPUT_FRAMES] = 10,
    [SEQVID_CFG_FUTURE_FRAMES] = 10,
    [SEQVID_CFG_COND_RECON] = 1,
    [SEQVID_CFG_COND_FUTURE] = 1,
    [SEQVID_CFG_OUTPUT] = SEQVID_OUTPUT_BINARY,
    [SEQVID_CFG_RECON_FEED] = SEQVID_FEED_TRUTH,
    [SEQVID_CFG_SEED] = 42,
    [SEQVID_CFG_INIT_WEIGHT] = 0.01,
    [SEQVID_CFG_INIT_PEEPHOLE] = 0.1,
    [SEQVID_CFG_FORGET_BIAS] = 0,
};

void sv_config_defaults(struct seqvid_config *cfg) {
    for (int k = 0; k < SV_CFG_NKEYS; k++) cfg->v[k] = defaults[k];
}

int sv_config_check(int key, double value) {
    const sv_key *k = sv_key_find(SEQVID_NAMES_CONFIG, key);
    if (!k) return sv_fail(SEQVID_ERR_ARG, "config: unknown key %d", key);
    return sv_key_check(k, value, "config");
}

int sv_config_check_all(const struct seqvid_config *cfg) {
    for (int k = 1; k < SV_CFG_NKEYS; k++) {
        int st = sv_config_check(k, cfg->v[k]);
        if (st) return st;
    }
    /* The largest weight block, 4H x max(D, H), must be addressable with int GEMM sizes. */
    double h4 = 4.0 * cfg->v[SEQVID_CFG_HIDDEN];
    double d = fmax(cfg->v[SEQVID_CFG_INPUT_DIM], cfg->v[SEQVID_CFG_HIDDEN]);
    if (h4 * d > 2147483647.0)
        return sv_fail(SEQVID_ERR_OVERFLOW, "config: 4*HIDDEN x max(INPUT_DIM, HIDDEN) = %.0f "
                       "floats exceeds the 2^31 BLAS limit", h4 * d);
    return SEQVID_OK;
}

const char *sv_config_key_name(int key) { return seqvid_key_name(SEQVID_NAMES_CONFIG, key); }

int seqvid_config_create(seqvid_config **out) {
    SV_NOT_NULL(out);
    *out = sv_malloc(sizeof **out);
    if (!*out) return sv_fail(SEQVID_ERR_NOMEM, "seqvid_config_create: out of memory");
    sv_config_defaults(*out);
    return SEQVID_OK;
}

void seqvid_config_free(seqvid_config *cfg) { free(cfg); }

int seqvid_config_set(seqvid_config *cfg, int key, double value) {
    SV_NOT_NULL(cfg);
    int st = sv_config_check(key, value);
    if (st) return st;
    cfg->v[key] = value;
    return SEQVID_OK;
}

int seqvid_config_get(const seqvid_config *cfg, int key, double *value) {
    SV_NOT_NULL(cfg);
    SV_NOT_NULL(value);
    if (!sv_key_find(SEQVID_NAMES_CONFIG, key))
        return sv_fail(SEQVID_ERR_ARG, "seqvid_config_get: unknown key %d", key);
    *value = cfg->v[key];
    return SEQVID_OK;
}
