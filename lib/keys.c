/* keys.c -- the names and ranges of every option key and kind (keys.h), and their public
 * lookup (seqvid_key_name, seqvid_key_lookup). The names are also those of saved files:
 * part of the format, never changed. */
#define SEQVID_EXPERIMENTAL /* the experimental configuration keys */
#include <math.h>
#include <float.h>
#include <stddef.h>
#include "config.h"
#include "error.h"
#include "keys.h"
#include "util.h"

#define NKEYS(t) ((int)(sizeof t / sizeof t[0]))

static const sv_key config_keys[] = {
    [SEQVID_CFG_KIND] = {"KIND", 1, 3, SV_KEY_INT},
    [SEQVID_CFG_INPUT_DIM] = {"INPUT_DIM", 1, 1 << 24, SV_KEY_INT},
    [SEQVID_CFG_HIDDEN] = {"HIDDEN", 1, 1 << 16, SV_KEY_INT},
    [SEQVID_CFG_LAYERS] = {"LAYERS", 1, 16, SV_KEY_INT},
    [SEQVID_CFG_PEEPHOLES] = {"PEEPHOLES", 0, 1, SV_KEY_INT},
    [SEQVID_CFG_INPUT_FRAMES] = {"INPUT_FRAMES", 1, 1 << 16, SV_KEY_INT},
    [SEQVID_CFG_FUTURE_FRAMES] = {"FUTURE_FRAMES", 1, 1 << 16, SV_KEY_INT},
    [SEQVID_CFG_COND_RECON] = {"COND_RECON", 0, 1, SV_KEY_INT},
    [SEQVID_CFG_COND_FUTURE] = {"COND_FUTURE", 0, 1, SV_KEY_INT},
    [SEQVID_CFG_OUTPUT] = {"OUTPUT", 0, 1, SV_KEY_INT},
    [SEQVID_CFG_RECON_FEED] = {"RECON_FEED", 0, 1, SV_KEY_INT},
    [SEQVID_CFG_SEED] = {"SEED", 0, SV_EXACT_INT, SV_KEY_INT},
    [SEQVID_CFG_INIT_WEIGHT] = {"INIT_WEIGHT", 0, 10, 0},
    [SEQVID_CFG_INIT_PEEPHOLE] = {"INIT_PEEPHOLE", 0, 10, 0},
    [SEQVID_CFG_FORGET_BIAS] = {"FORGET_BIAS", -100, 100, 0},
};

/* The experimental configuration keys (seqvid.h's experimental section), indexed by
 * key - SV_CFG_XBASE: a second range of the same table. */
static const sv_key config_xkeys[SV_CFG_NXKEYS] = {
    [SEQVID_CFG_SAMPLE_RECON - SV_CFG_XBASE] = {"SAMPLE_RECON", 0, 1, 0},
    [SEQVID_CFG_SAMPLE_FUTURE - SV_CFG_XBASE] = {"SAMPLE_FUTURE", 0, 1, 0},
};

/* Positive keys start at FLT_MIN and every bound is finite as a float, so no setting turns
 * into 0 or Inf when rounded for the float loops (EPS = 0 would make RMSprop divide 0 by 0 on
 * a zero gradient). */
static const sv_key optimizer_keys[] = {
    [SEQVID_OPT_LR] = {"LR", FLT_MIN, FLT_MAX, 0},
    [SEQVID_OPT_MOMENTUM] = {"MOMENTUM", 0, 1, SV_KEY_HI_OPEN},
    [SEQVID_OPT_WEIGHT_DECAY] = {"WEIGHT_DECAY", 0, FLT_MAX, 0},
    [SEQVID_OPT_UPDATE_CLIP] = {"UPDATE_CLIP", 0, FLT_MAX, 0},
    [SEQVID_OPT_GRAD_CLIP] = {"GRAD_CLIP", 0, FLT_MAX, 0},
    [SEQVID_OPT_DECAY] = {"DECAY", 0, 1, SV_KEY_HI_OPEN},
    [SEQVID_OPT_BETA1] = {"BETA1", 0, 1, SV_KEY_HI_OPEN},
    [SEQVID_OPT_BETA2] = {"BETA2", 0, 1, SV_KEY_HI_OPEN},
    [SEQVID_OPT_EPS] = {"EPS", FLT_MIN, FLT_MAX, 0},
};

/* Indexed by key - 100. */
static const sv_key classifier_keys[] = {
    [SEQVID_CLS_DROPOUT - 100] = {"DROPOUT", 0, 1, SV_KEY_HI_OPEN},
    [SEQVID_CLS_FREEZE_STEPS - 100] = {"FREEZE_STEPS", -1, SV_EXACT_INT, SV_KEY_INT},
    [SEQVID_CLS_DROPOUT_SEED - 100] = {"DROPOUT_SEED", 0, SV_EXACT_INT, SV_KEY_INT},
    [SEQVID_CLS_CLASSES - 100] = {"CLASSES", 2, 65536, SV_KEY_INT | SV_KEY_READONLY},
};

/* The generator's ranges depend on its digits (lib/data/mmnist.c checks them). */
static const sv_key mmnist_keys[] = {
    [SEQVID_MM_DIGITS] = {"DIGITS", 0, 0, SV_KEY_CUSTOM},
    [SEQVID_MM_CANVAS] = {"CANVAS", 0, 0, SV_KEY_CUSTOM},
    [SEQVID_MM_SPEED_MIN] = {"SPEED_MIN", 0, 0, SV_KEY_CUSTOM},
    [SEQVID_MM_SPEED_MAX] = {"SPEED_MAX", 0, 0, SV_KEY_CUSTOM},
    [SEQVID_MM_SEED] = {"SEED", 0, 0, SV_KEY_CUSTOM},
};

static const sv_key model_kinds[] = {
    [SEQVID_AUTOENCODER] = {"AUTOENCODER", 0, 0, 0},
    [SEQVID_PREDICTOR] = {"PREDICTOR", 0, 0, 0},
    [SEQVID_COMPOSITE] = {"COMPOSITE", 0, 0, 0},
};

static const sv_key optimizer_kinds[] = {
    [SEQVID_OPT_SGD] = {"SGD", 0, 0, 0},
    [SEQVID_OPT_RMSPROP] = {"RMSprop", 0, 0, 0},
    [SEQVID_OPT_ADAM] = {"Adam", 0, 0, 0},
};

/* A table is one or two ranges of keys: keys[i] is key base + i, xkeys[i] key xbase + i. */
static const struct {
    const sv_key *keys;
    int n, base;
    const sv_key *xkeys;
    int xn, xbase;
} tables[] = {
    [SEQVID_NAMES_CONFIG] = {config_keys, NKEYS(config_keys), 0, config_xkeys,
                             NKEYS(config_xkeys), SV_CFG_XBASE},
    [SEQVID_NAMES_OPTIMIZER] = {optimizer_keys, NKEYS(optimizer_keys), 0},
    [SEQVID_NAMES_CLASSIFIER] = {classifier_keys, NKEYS(classifier_keys), 100},
    [SEQVID_NAMES_MMNIST] = {mmnist_keys, NKEYS(mmnist_keys), 0},
    [SEQVID_NAMES_MODEL_KIND] = {model_kinds, NKEYS(model_kinds), 0},
    [SEQVID_NAMES_OPTIMIZER_KIND] = {optimizer_kinds, NKEYS(optimizer_kinds), 0},
};

const sv_key *sv_key_find(int table, int key) {
    if (table < 1 || table >= NKEYS(tables) || !tables[table].keys) return NULL;
    int i = key - tables[table].base;
    if (i >= 0 && i < tables[table].n && tables[table].keys[i].name)
        return &tables[table].keys[i];
    i = key - tables[table].xbase;
    if (tables[table].xkeys && i >= 0 && i < tables[table].xn && tables[table].xkeys[i].name)
        return &tables[table].xkeys[i];
    return NULL;
}

int sv_key_check(const sv_key *k, double v, const char *fn) {
    int above = (k->flags & SV_KEY_HI_OPEN) ? !(v < k->hi) : !(v <= k->hi);
    int bad_int = (k->flags & SV_KEY_INT) && v != floor(v);
    if (!(v >= k->lo) || above || bad_int) /* NaN fails the first test */
        return sv_fail(SEQVID_ERR_ARG, "%s: %s = %g %s [%g, %g%c", fn, k->name, v,
                       bad_int ? "must be an integer in" : "is outside", k->lo, k->hi,
                       (k->flags & SV_KEY_HI_OPEN) ? ')' : ']');
    return SEQVID_OK;
}

const char *seqvid_key_name(int table, int key) {
    const sv_key *k = sv_key_find(table, key);
    return k ? k->name : NULL;
}

/* ASCII case-insensitive equality. */
static int same_name(const char *a, const char *b) {
    for (;; a++, b++) {
        char x = *a >= 'a' && *a <= 'z' ? (char)(*a - 32) : *a;
        char y = *b >= 'a' && *b <= 'z' ? (char)(*b - 32) : *b;
        if (x != y) return 0;
        if (!x) return 1;
    }
}

int seqvid_key_lookup(int table, const char *name, int *key) {
    SV_NOT_NULL(name);
    SV_NOT_NULL(key);
    if (table < 1 || table >= NKEYS(tables) || !tables[table].keys)
        return sv_fail(SEQVID_ERR_ARG, "%s: unknown name table %d", __func__, table);
    for (int i = 0; i < tables[table].n; i++)
        if (tables[table].keys[i].name && same_name(tables[table].keys[i].name, name)) {
            *key = i + tables[table].base;
            return SEQVID_OK;
        }
    for (int i = 0; i < tables[table].xn; i++)
        if (tables[table].xkeys[i].name && same_name(tables[table].xkeys[i].name, name)) {
            *key = i + tables[table].xbase;
            return SEQVID_OK;
        }
    return sv_fail(SEQVID_ERR_ARG, "%s: no key named '%.64s' in table %d", __func__, name,
                   table);
}
