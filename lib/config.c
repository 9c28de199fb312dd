/* config.c -- the model configuration: defaults, validation (key names and ranges: keys.c). */
#define SEQVID_EXPERIMENTAL /* the scheduled sampling keys */
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
    for (int k = 0; k < SV_CFG_NXKEYS; k++) cfg->x[k] = 0.0; /* SAMPLE_*: teacher forcing */
}

double *sv_config_slot(struct seqvid_config *cfg, int key) {
    if (!sv_key_find(SEQVID_NAMES_CONFIG, key)) return NULL;
    return key >= SV_CFG_XBASE ? &cfg->x[key - SV_CFG_XBASE] : &cfg->v[key];
}

int sv_config_check_sampling(const struct seqvid_config *cfg, const char *fn) {
    static const struct { int key, cond, kind; const char *decoder; } dec[2] = {
        {SEQVID_CFG_SAMPLE_RECON, SEQVID_CFG_COND_RECON, SEQVID_PREDICTOR, "reconstruction decoder"},
        {SEQVID_CFG_SAMPLE_FUTURE, SEQVID_CFG_COND_FUTURE, SEQVID_AUTOENCODER, "future predictor"}};
    for (int i = 0; i < 2; i++) {
        double p = cfg->x[dec[i].key - SV_CFG_XBASE];
        if (p > 0 && ((int)cfg->v[SEQVID_CFG_KIND] == dec[i].kind || !cfg->v[dec[i].cond]))
            return sv_fail(SEQVID_ERR_UNSUPPORTED, "%s: %s = %g needs a conditional %s, which "
                           "this model %s", fn, sv_config_key_name(dec[i].key), p,
                           dec[i].decoder,
                           (int)cfg->v[SEQVID_CFG_KIND] == dec[i].kind ? "does not have"
                                                                        : "has unconditioned");
    }
    return SEQVID_OK;
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
    for (int k = 0; k < SV_CFG_NXKEYS; k++) {
        int st = sv_config_check(SV_CFG_XBASE + k, cfg->x[k]);
        if (st) return st;
    }
    /* The largest weight block, 4H x max(D, H), must be addressable with int GEMM sizes. */
    double h4 = 4.0 * cfg->v[SEQVID_CFG_HIDDEN];
    double d = fmax(cfg->v[SEQVID_CFG_INPUT_DIM], cfg->v[SEQVID_CFG_HIDDEN]);
    if (h4 * d > 2147483647.0)
        return sv_fail(SEQVID_ERR_OVERFLOW, "config: 4*HIDDEN x max(INPUT_DIM, HIDDEN) = %.0f "
                       "floats exceeds the 2^31 BLAS limit", h4 * d);
    return sv_config_check_sampling(cfg, "config");
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
    *sv_config_slot(cfg, key) = value;
    return SEQVID_OK;
}

int seqvid_config_get(const seqvid_config *cfg, int key, double *value) {
    SV_NOT_NULL(cfg);
    SV_NOT_NULL(value);
    const double *slot = sv_config_slot((seqvid_config *)cfg, key);
    if (!slot) return sv_fail(SEQVID_ERR_ARG, "seqvid_config_get: unknown key %d", key);
    *value = *slot;
    return SEQVID_OK;
}
