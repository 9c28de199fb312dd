/* config.c -- the model configuration: defaults, key ranges, validation. */
#include <math.h>
#include <stdlib.h>
#include "config.h"
#include "error.h"
#include "util.h"

/* One row per key: name, default, range and whether it must be integral. */
static const struct {
    const char *name;
    double def, lo, hi;
    int integral;
} keys[SV_CFG_NKEYS] = {
    [SEQVID_CFG_KIND] = {"KIND", SEQVID_COMPOSITE, 1, 3, 1},
    [SEQVID_CFG_INPUT_DIM] = {"INPUT_DIM", 4096, 1, 1 << 24, 1},
    [SEQVID_CFG_HIDDEN] = {"HIDDEN", 2048, 1, 1 << 16, 1},
    [SEQVID_CFG_LAYERS] = {"LAYERS", 1, 1, 16, 1},
    [SEQVID_CFG_PEEPHOLES] = {"PEEPHOLES", 1, 0, 1, 1},
    [SEQVID_CFG_INPUT_FRAMES] = {"INPUT_FRAMES", 10, 1, 1 << 16, 1},
    [SEQVID_CFG_FUTURE_FRAMES] = {"FUTURE_FRAMES", 10, 1, 1 << 16, 1},
    [SEQVID_CFG_COND_RECON] = {"COND_RECON", 1, 0, 1, 1},
    [SEQVID_CFG_COND_FUTURE] = {"COND_FUTURE", 1, 0, 1, 1},
    [SEQVID_CFG_OUTPUT] = {"OUTPUT", SEQVID_OUTPUT_BINARY, 0, 1, 1},
    [SEQVID_CFG_RECON_FEED] = {"RECON_FEED", SEQVID_FEED_TRUTH, 0, 1, 1},
    [SEQVID_CFG_SEED] = {"SEED", 42, 0, SV_EXACT_INT, 1},
    [SEQVID_CFG_INIT_WEIGHT] = {"INIT_WEIGHT", 0.01, 0, 10, 0},
    [SEQVID_CFG_INIT_PEEPHOLE] = {"INIT_PEEPHOLE", 0.1, 0, 10, 0},
    [SEQVID_CFG_FORGET_BIAS] = {"FORGET_BIAS", 0, -100, 100, 0},
};

void sv_config_defaults(struct seqvid_config *cfg) {
    for (int k = 0; k < SV_CFG_NKEYS; k++) cfg->v[k] = keys[k].def;
}

int sv_config_check(int key, double value) {
    if (key < 1 || key >= SV_CFG_NKEYS || !keys[key].name)
        return sv_fail(SEQVID_ERR_ARG, "config: unknown key %d", key);
    if (!isfinite(value) || value < keys[key].lo || value > keys[key].hi)
        return sv_fail(SEQVID_ERR_ARG, "config: %s = %g is outside [%g, %g]", keys[key].name,
                       value, keys[key].lo, keys[key].hi);
    if (keys[key].integral && value != floor(value))
        return sv_fail(SEQVID_ERR_ARG, "config: %s = %g must be an integer", keys[key].name,
                       value);
    return SEQVID_OK;
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

const char *sv_config_key_name(int key) {
    return key >= 1 && key < SV_CFG_NKEYS ? keys[key].name : NULL;
}

int seqvid_config_create(seqvid_config **out) {
    SV_NOT_NULL(out);
    *out = malloc(sizeof **out);
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
    if (key < 1 || key >= SV_CFG_NKEYS || !keys[key].name)
        return sv_fail(SEQVID_ERR_ARG, "seqvid_config_get: unknown key %d", key);
    *value = cfg->v[key];
    return SEQVID_OK;
}
