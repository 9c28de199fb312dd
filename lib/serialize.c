/* serialize.c -- models, classifiers and training checkpoints as safetensors files (spec:
 * docs/format.md): what their tensors and metadata are. The byte format is safetensors.c,
 * numbers in text numfmt.c, the atomic file handling atomic_io.c.
 *
 * The header maps each tensor name to {dtype, shape, data_offsets = [begin, end) in the data
 * section}; "__metadata__" maps strings to strings (format, version, configuration, CRC-32 of the data section, and for
 * checkpoints the optimizer's settings and counters).
 *
 * Writing: the tensors are listed once (a "plan": model blocks in arena order, then the
 * optimizer state and the generator state), the CRC-32 of the data is computed in a first
 * pass, then header and data are streamed to a buffer or a file in 64 KiB chunks converted
 * to little-endian. Saving thus needs no second copy of the arena and writes the same bytes
 * on every host. Files go to "<path>.tmp.XXXXXX", are fsynced and renamed over <path>.
 *
 * Reading: the header is validated completely (lengths, JSON, fields, dtypes, offsets that
 * tile the data section exactly, metadata) before a model is made from the stored
 * configuration; the tensors must then match its blocks one to one by name and shape. Only
 * then is the data section read, straight into the model's arena (and the optimizer's state),
 * its CRC compared and every value checked to be finite. Any failure frees everything built,
 * so callers never see a partial model.
 *
 * Classifier files (lib/classifier.h) are model files of metadata type "classifier": the
 * stack's configuration keys, "classifier.*" settings and the classifier's blocks, written
 * and read by the same code through `contents` (what a file holds: parameters and blocks).
 */
#define SEQVID_EXPERIMENTAL /* seqvid_experimental_model_load_as */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <zlib.h>
#include "alloc.h"
#include "atomic_io.h"
#include "bf16.h"
#include "classifier.h"
#include "config.h"
#include "error.h"
#include "json_strict.h"
#include "keys.h"
#include "model.h"
#include "numfmt.h"
#include "optimizer.h"
#include "safetensors.h"
#include "serialize.h"
#include "util.h"

_Static_assert(sizeof(float) == 4 && FLT_MANT_DIG == 24 && FLT_MAX_EXP == 128,
               "the file format stores IEEE-754 binary32");

#define FORMAT_NAME "seqvid"
#define FORMAT_VERSION "1"
#define MAX_TENSORS (SV_MAX_BLOCKS + 3)  /* blocks + optimizer.s1, .s2 + data.rng_state */
#define MAX_META 4096                    /* metadata entries */


static int starts_with(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Matrices ([rows, cols] in the file) are the weights; peepholes and biases are vectors
 * ([rows]) even when some dimension happens to be 1. */
static int block_ndim(const sv_block *b) { return b->init == SV_INIT_WEIGHT ? 2 : 1; }

/* ------------------------------------------------------------------------------------------
 * Writing
 * ---------------------------------------------------------------------------------------- */
typedef struct plan {
    size_t n;
    sv_tensor t[MAX_TENSORS];
    unsigned char *rng; /* owned copy of the generator state */
    char *header;       /* JSON padded with spaces to header_len bytes */
    size_t header_len, data_bytes, total;
} plan;

static void plan_free(plan *p) {
    if (!p) return;
    free(p->rng);
    free(p->header);
    free(p);
}

static sv_tensor *plan_add(plan *p, const char *name, int dtype, int ndim, size_t r, size_t c,
                        const void *src) {
    sv_tensor *t = &p->t[p->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = dtype, t->ndim = ndim, t->shape[0] = r, t->shape[1] = c;
    t->count = r * c;
    t->src = src;
    return t;
}

/* Small cJSON builders: every allocation is checked (a half-built tree would print a valid
 * but wrong header). */
static int add_str(cJSON *obj, const char *key, const char *val) {
    return cJSON_AddStringToObject(obj, key, val) != NULL;
}

static int add_num(cJSON *obj, const char *key, double v) {
    char buf[40];
    return sv_fmt_double(buf, sizeof buf, v) && add_str(obj, key, buf);
}

static int add_u64(cJSON *obj, const char *key, uint64_t v) {
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return add_str(obj, key, buf);
}

/* What a file holds: a model's or a classifier's parameters and blocks. */
typedef struct contents {
    const seqvid_model *model;     /* exactly one of these two is set */
    const seqvid_classifier *cls;
    const float *params;
    size_t n_params, n_blocks;
    const sv_block *blocks;
} contents;

static contents model_contents(const seqvid_model *m) {
    return (contents){m, NULL, m->arena.params, m->arena.n_params, m->arena.n_blocks, m->arena.blocks};
}

static contents classifier_contents(const seqvid_classifier *c) {
    return (contents){NULL, c, c->arena.params, c->arena.n_params, c->arena.n_blocks, c->arena.blocks};
}

/* A classifier setting by key, for files. */
static double cls_setting(const seqvid_classifier *c, int key) {
    double v = 0;
    seqvid_classifier_get(c, key, &v);
    return v;
}

/* Metadata "type" of a file. */
static const char *file_type(int checkpoint, int classifier) {
    return checkpoint ? (classifier ? "classifier_checkpoint" : "checkpoint")
                      : (classifier ? "classifier" : "model");
}

/* A random stream's position (xoshiro256** state) as 4 x 16 lower-case hex digits. */
static int add_state(cJSON *meta, const char *key, const uint64_t x[4]) {
    char st[68];
    snprintf(st, sizeof st, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, x[0], x[1],
             x[2], x[3]);
    return add_str(meta, key, st);
}

static int build_json(const plan *p, const contents *a, const seqvid_optimizer *opt,
                      uint64_t step, int checkpoint, uint32_t crc, char **out) {
    cJSON *root = cJSON_CreateObject(), *meta = root ? cJSON_AddObjectToObject(root, "__metadata__")
                                                     : NULL;
    int ok = meta != NULL;
    ok = ok && add_str(meta, "format", FORMAT_NAME) &&
         add_str(meta, "format_version", FORMAT_VERSION) &&
         add_str(meta, "type", file_type(checkpoint, a->cls != NULL)) &&
         add_str(meta, "library_version", seqvid_version_string());
    for (int k = 1; ok && k < SV_CFG_NKEYS; k++) {
        const char *name = sv_config_key_name(k);
        double v;
        if (!name || (a->cls && !sv_classifier_uses_key(k))) continue;
        char key[48];
        snprintf(key, sizeof key, "config.%s", name);
        ok = (a->cls ? seqvid_classifier_get(a->cls, k, &v) : seqvid_model_get(a->model, k, &v))
                 == SEQVID_OK && add_num(meta, key, v);
    }
    if (a->cls) {
        ok = ok && add_num(meta, "classifier.CLASSES", a->cls->C);
        for (int k = SEQVID_CLS_DROPOUT; ok && sv_classifier_key_name(k); k++) {
            char key[48];
            snprintf(key, sizeof key, "classifier.%s", sv_classifier_key_name(k));
            ok = add_num(meta, key, cls_setting(a->cls, k));
        }
    }
    char hex[16];
    snprintf(hex, sizeof hex, "%08" PRIx32, crc);
    ok = ok && add_str(meta, "data_crc32", hex);
    if (checkpoint) {
        ok = ok && add_str(meta, "optimizer.kind", sv_optimizer_kind_name(opt->kind)) &&
             add_u64(meta, "optimizer.steps", opt->steps) &&
             add_u64(meta, "optimizer.bound", (uint64_t)opt->n) &&
             add_u64(meta, "train.step", step);
        if (a->cls) /* where the dropout stream stands */
            ok = ok && add_state(meta, "train.dropout_state", a->cls->rng.s);
        /* Scheduled sampling (experimental): p where it is not 0, and where the coin stream
         * stands once it has moved, so files of runs without it stay as they were. */
        for (int k = SV_CFG_XBASE; ok && a->model && k < SV_CFG_XBASE + SV_CFG_NXKEYS; k++) {
            double v = a->model->cfg.x[k - SV_CFG_XBASE];
            char key[48];
            snprintf(key, sizeof key, "train.%s", sv_config_key_name(k));
            if (v != 0) ok = add_num(meta, key, v);
        }
        if (a->model && !sv_model_sampling_at_start(a->model))
            ok = ok && add_state(meta, "train.sample_state", a->model->sample_rng.s);
        for (int k = 1; ok && k < SV_OPT_NKEYS; k++) {
            if (!sv_optimizer_key_name(k) || isnan(opt->v[k])) continue; /* NaN: not for this kind */
            char key[48];
            snprintf(key, sizeof key, "optimizer.%s", sv_optimizer_key_name(k));
            ok = add_num(meta, key, opt->v[k]);
        }
    }
    for (size_t i = 0; ok && i < p->n; i++) ok = sv_st_json_tensor(root, &p->t[i]);
    *out = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return *out != NULL;
}

/* List what a save writes, compute the checksum, build the header. */
static int make_plan(const char *fn, const contents *m, const seqvid_optimizer *opt,
                     const seqvid_mmnist *gen, uint64_t step, int checkpoint, plan **out) {
    *out = NULL;
    if (!m->params) /* the experimental SEQVID_WEIGHTS_BF16: files hold float32 weights */
        return sv_fail(SEQVID_ERR_STATE, "%s: the %s's weights are stored as bf16; files hold "
                       "float32: store them as SEQVID_WEIGHTS_F32 first (exact), then save",
                       fn, m->cls ? "classifier" : "model");
    if (!sv_all_finite(m->params, m->n_params))
        return sv_fail(SEQVID_ERR_NONFINITE, "%s: the %s's weights hold NaN or Inf; such a "
                       "file could not be loaded, so nothing was written", fn,
                       m->cls ? "classifier" : "model");
    if (checkpoint) {
        if (opt->kind < SEQVID_OPT_SGD || opt->kind > SEQVID_OPT_ADAM)
            return sv_fail(SEQVID_ERR_STATE, "%s: optimizer has invalid kind %d", fn, opt->kind);
        if (opt->n && opt->n != m->n_params)
            return sv_fail(SEQVID_ERR_SHAPE, "%s: optimizer is bound to %zu parameters, the "
                           "model has %zu", fn, opt->n, m->n_params);
        if (opt->n && (!sv_all_finite(opt->s1, opt->n) ||
                       (opt->s2 && !sv_all_finite(opt->s2, opt->n))))
            return sv_fail(SEQVID_ERR_NONFINITE, "%s: the optimizer state holds NaN or Inf", fn);
    }
    plan *p = sv_calloc(1, sizeof *p);
    if (!p) return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);

    /* Model blocks in arena order (arena.c lays them out in order; sorting keeps the
     * data section equal to the arena even if that changes). */
    size_t idx[SV_MAX_BLOCKS];
    for (size_t i = 0; i < m->n_blocks; i++) {
        size_t j = i;
        for (; j > 0 && m->blocks[idx[j - 1]].offset > m->blocks[i].offset; j--)
            idx[j] = idx[j - 1];
        idx[j] = i;
    }
    for (size_t i = 0; i < m->n_blocks; i++) {
        const sv_block *b = &m->blocks[idx[i]];
        plan_add(p, b->name, SV_DT_F32, block_ndim(b), b->rows, b->cols, m->params + b->offset);
    }
    if (checkpoint && opt->n) {
        plan_add(p, "optimizer.s1", SV_DT_F32, 1, opt->n, 1, opt->s1);
        if (sv_optimizer_state_arrays(opt->kind) == 2)
            plan_add(p, "optimizer.s2", SV_DT_F32, 1, opt->n, 1, opt->s2);
    }
    if (checkpoint && gen) {
        size_t sz = 0;
        int st = seqvid_mmnist_state_size(gen, &sz);
        if (!st && !(p->rng = sv_malloc(sz ? sz : 1))) st = SEQVID_ERR_NOMEM;
        if (!st) st = seqvid_mmnist_get_state(gen, p->rng, sz);
        if (st) {
            plan_free(p);
            return st == SEQVID_ERR_NOMEM ? sv_fail(st, "%s: out of memory", fn) : st;
        }
        plan_add(p, "data.rng_state", SV_DT_U8, 1, sz, 1, p->rng);
    }
    p->data_bytes = sv_st_layout(p->t, p->n);

    sv_sink crc = {.crc_only = 1, .crc = (uint32_t)crc32(0, Z_NULL, 0)};
    crc.chunk = sv_malloc(4 * SV_ST_CHUNK);
    if (!crc.chunk) {
        plan_free(p);
        return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);
    }
    sv_st_emit_data(p->t, p->n, &crc);
    free(crc.chunk);

    char *json = NULL;
    if (!build_json(p, m, opt, step, checkpoint, crc.crc, &json)) {
        plan_free(p);
        return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory building the header", fn);
    }
    size_t len = strlen(json), padded = (len + 7) & ~(size_t)7; /* data starts at 8 + padded */
    p->header = sv_malloc(padded);
    if (!p->header) {
        free(json);
        plan_free(p);
        return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);
    }
    memcpy(p->header, json, len);
    memset(p->header + len, ' ', padded - len);
    free(json);
    p->header_len = padded;
    p->total = 8 + padded + p->data_bytes;
    *out = p;
    return SEQVID_OK;
}

static int save_buffer(const char *fn, const contents *m, const seqvid_optimizer *opt,
                       const seqvid_mmnist *gen, uint64_t step, int checkpoint, void *buf,
                       size_t cap, size_t *size) {
    plan *p;
    int st = make_plan(fn, m, opt, gen, step, checkpoint, &p);
    if (st) return st;
    *size = p->total;
    if (buf && cap < p->total)
        st = sv_fail(SEQVID_ERR_BUFFER, "%s: the file needs %zu bytes, the buffer holds %zu", fn,
                     p->total, cap);
    else if (buf) {
        sv_sink s = {.buf = buf};
        sv_st_emit(p->header, p->header_len, p->t, p->n, &s);
    }
    plan_free(p);
    return st;
}

/* Writes a planned file to a file descriptor (sv_save_atomic's writer). */
static int write_plan(void *ctx, int fd) {
    const plan *p = ctx;
    sv_sink s = {.fd = fd, .chunk = sv_malloc(4 * SV_ST_CHUNK)};
    if (!s.chunk) return ENOMEM;
    int r = sv_st_emit(p->header, p->header_len, p->t, p->n, &s);
    free(s.chunk);
    return r ? s.err : 0;
}

static int save_path(const char *fn, const char *path, const contents *m,
                     const seqvid_optimizer *opt, const seqvid_mmnist *gen, uint64_t step,
                     int checkpoint) {
    if (!*path) return sv_fail(SEQVID_ERR_ARG, "%s: path is empty", fn);
    plan *p;
    int st = make_plan(fn, m, opt, gen, step, checkpoint, &p);
    if (st) return st;
    st = sv_save_atomic(fn, path, write_plan, p);
    plan_free(p);
    return st;
}

/* ------------------------------------------------------------------------------------------
 * Reading
 * ---------------------------------------------------------------------------------------- */
/* What the header says. */
typedef struct header {
    size_t n;
    sv_tensor t[MAX_TENSORS];
    size_t order[MAX_TENSORS]; /* sv_tensor indices by begin offset */
    size_t data_bytes, model_bytes;
    int checkpoint;
    int classifier;                /* metadata type "classifier" */
    int cls_classes;               /* classifier.CLASSES */
    double cls_v[SV_CLS_NKEYS];    /* classifier settings, indexed by key - 100 */
    int cls_seen[SV_CLS_NKEYS];
    struct seqvid_config cfg;
    uint32_t crc;
    int opt_kind;
    double opt_v[SV_OPT_NKEYS];
    int opt_seen[SV_OPT_NKEYS];
    uint64_t opt_steps, opt_bound, step;
    uint64_t dropout_state[4];     /* train.dropout_state (classifier checkpoints) */
    int dropout_seen;
    double sample_p[SV_CFG_NXKEYS]; /* train.SAMPLE_* (model checkpoints; absent: 0) */
    uint64_t sample_state[4];      /* train.sample_state (model checkpoints) */
    int sample_seen;
    int s1, s2, rng; /* tensor index or -1 */
} header;

/* Turn the failure just recorded (by a config or optimizer check) into a format error about
 * `what`; the message is copied first because sv_fail writes the same buffer. */
static int refail(const char *fn, const char *what) {
    char msg[400];
    snprintf(msg, sizeof msg, "%s", seqvid_last_error());
    return sv_fail(SEQVID_ERR_FORMAT, "%s: metadata %s: %s", fn, what, msg);
}

static const char *meta_get(const cJSON *meta, const char *key) {
    for (const cJSON *c = meta->child; c; c = c->next)
        if (!strcmp(c->string, key)) return c->valuestring;
    return NULL;
}

/* 64 lower-case hex digits: four 64-bit words, not all zero (xoshiro's one bad state). */
static int parse_state(const char *s, uint64_t x[4]) {
    if (strlen(s) != 64 || strspn(s, "0123456789abcdef") != 64) return 0;
    for (int i = 0; i < 4; i++) {
        x[i] = 0;
        for (int j = 0; j < 16; j++) {
            char c = s[16 * i + j];
            x[i] = x[i] << 4 | (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
        }
    }
    return (x[0] | x[1] | x[2] | x[3]) != 0;
}

/* A setting's value as a file holds it: integer keys (SV_KEY_INT in keys.c) as plain
 * integers ("03", "3e0", "4.0" refused), the others as plain decimals. */
static int parse_setting(int table, int key, const char *val, double *v) {
    const sv_key *k = sv_key_find(table, key);
    return k && (k->flags & SV_KEY_INT) ? sv_parse_int(val, v) : sv_parse_double(val, v);
}
static const char *setting_form(int table, int key) {
    const sv_key *k = sv_key_find(table, key);
    return k && (k->flags & SV_KEY_INT) ? "a plain decimal integer" : "a number";
}

static int parse_metadata(const char *fn, const cJSON *meta, header *h) {
    char sh[80], sv[40];
    if (!cJSON_IsObject(meta))
        return sv_fail(SEQVID_ERR_FORMAT, "%s: __metadata__ is not an object", fn);
    size_t count = 0;
    for (const cJSON *c = meta->child; c; c = c->next) {
        if (++count > MAX_META) /* bounds the work of the checks below */
            return sv_fail(SEQVID_ERR_FORMAT, "%s: more than %d metadata entries", fn, MAX_META);
        if (!cJSON_IsString(c))
            return sv_fail(SEQVID_ERR_FORMAT, "%s: metadata '%s' is not a string (safetensors "
                           "metadata holds strings only)", fn, sv_shown(c->string, sh, sizeof sh));
    }
    int nomem;
    const char *dup = sv_json_duplicate_key(meta, &nomem);
    if (nomem) return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);
    if (dup)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: metadata key '%s' appears twice", fn,
                       sv_shown(dup, sh, sizeof sh));
    const char *format = meta_get(meta, "format"), *version = meta_get(meta, "format_version");
    const char *type = meta_get(meta, "type"), *crc = meta_get(meta, "data_crc32");
    if (!format || strcmp(format, FORMAT_NAME))
        return sv_fail(SEQVID_ERR_FORMAT, "%s: not a seqvid file (metadata format is %s%s%s)", fn,
                       format ? "'" : "", format ? sv_shown(format, sv, sizeof sv) : "missing",
                       format ? "'" : "");
    if (!version || strcmp(version, FORMAT_VERSION))
        return sv_fail(SEQVID_ERR_FORMAT, "%s: format_version %s; this library reads version "
                       FORMAT_VERSION, fn, version ? sv_shown(version, sv, sizeof sv) : "missing");
    if (!type || (strcmp(type, "model") && strcmp(type, "checkpoint") &&
                  strcmp(type, "classifier") && strcmp(type, "classifier_checkpoint")))
        return sv_fail(SEQVID_ERR_FORMAT, "%s: metadata type is %s, expected 'model', "
                       "'checkpoint', 'classifier' or 'classifier_checkpoint'", fn,
                       type ? sv_shown(type, sv, sizeof sv) : "missing");
    h->checkpoint = !strcmp(type, "checkpoint") || !strcmp(type, "classifier_checkpoint");
    h->classifier = !strcmp(type, "classifier") || !strcmp(type, "classifier_checkpoint");
    if (!crc || strlen(crc) != 8 || strspn(crc, "0123456789abcdef") != 8)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: data_crc32 is %s, expected 8 lower-case hex "
                       "digits", fn, crc ? "malformed" : "missing");
    h->crc = (uint32_t)strtoul(crc, NULL, 16);

    /* Namespaced keys: config.*, optimizer.*, train.*, classifier.* must all be known (a file from a newer
     * version with a setting this one lacks must not load as something else); any other key
     * is a free-form note and ignored. */
    int cfg_seen[SV_CFG_NKEYS] = {0}, steps_seen = 0, bound_seen = 0, step_seen = 0;
    sv_config_defaults(&h->cfg);
    const char *kind = meta_get(meta, "optimizer.kind");
    h->opt_kind = 0;
    for (int k = 1; kind && k <= SEQVID_OPT_ADAM; k++)
        if (!strcmp(kind, sv_optimizer_kind_name(k))) h->opt_kind = k;
    if (h->checkpoint && !h->opt_kind)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: optimizer.kind is %s%s%s, expected SGD, RMSprop "
                       "or Adam", fn, kind ? "'" : "", kind ? sv_shown(kind, sv, sizeof sv)
                       : "missing", kind ? "'" : "");
    for (const cJSON *c = meta->child; c; c = c->next) {
        const char *key = c->string, *val = c->valuestring;
        sv_shown(key, sh, sizeof sh);
        if (starts_with(key, "config.")) {
            int k = 1;
            while (k < SV_CFG_NKEYS && !(sv_config_key_name(k) &&
                                         !strcmp(key + 7, sv_config_key_name(k))))
                k++;
            double v;
            if (k == SV_CFG_NKEYS)
                return sv_fail(SEQVID_ERR_FORMAT, "%s: unknown configuration key '%s'", fn, sh);
            if (h->classifier && !sv_classifier_uses_key(k))
                return sv_fail(SEQVID_ERR_FORMAT, "%s: configuration key '%s' does not apply "
                               "to a classifier", fn, sh);
            if (!parse_setting(SEQVID_NAMES_CONFIG, k, val, &v))
                return sv_fail(SEQVID_ERR_FORMAT, "%s: metadata %s = '%s' is not %s", fn, sh,
                               sv_shown(val, sv, sizeof sv), setting_form(SEQVID_NAMES_CONFIG, k));
            if (sv_config_check(k, v)) return refail(fn, sh);
            h->cfg.v[k] = v;
            cfg_seen[k] = 1;
        } else if (starts_with(key, "optimizer.") || starts_with(key, "train.")) {
            if (!h->checkpoint)
                return sv_fail(SEQVID_ERR_FORMAT, "%s: metadata '%s' in a model file (it "
                               "belongs to checkpoints)", fn, sh);
            uint64_t u;
            if (!strcmp(key, "optimizer.kind")) continue; /* checked above */
            if (!strcmp(key, "train.dropout_state")) {
                if (!h->classifier)
                    return sv_fail(SEQVID_ERR_FORMAT, "%s: metadata '%s' in a model checkpoint "
                                   "(it belongs to classifier checkpoints)", fn, sh);
                if (!parse_state(val, h->dropout_state))
                    return sv_fail(SEQVID_ERR_FORMAT, "%s: metadata %s is not 64 lower-case hex "
                                   "digits of a valid (nonzero) generator state", fn, sh);
                h->dropout_seen = 1;
                continue;
            }
            int xk = SV_CFG_XBASE; /* a scheduled-sampling setting "train.SAMPLE_*"? */
            while (xk < SV_CFG_XBASE + SV_CFG_NXKEYS &&
                   !(starts_with(key, "train.") && !strcmp(key + 6, sv_config_key_name(xk))))
                xk++;
            if (xk < SV_CFG_XBASE + SV_CFG_NXKEYS || !strcmp(key, "train.sample_state")) {
                if (h->classifier)
                    return sv_fail(SEQVID_ERR_FORMAT, "%s: metadata '%s' in a classifier "
                                   "checkpoint (it belongs to model checkpoints)", fn, sh);
                if (xk == SV_CFG_XBASE + SV_CFG_NXKEYS) {
                    if (!parse_state(val, h->sample_state))
                        return sv_fail(SEQVID_ERR_FORMAT, "%s: metadata %s is not 64 lower-case "
                                       "hex digits of a valid (nonzero) generator state", fn, sh);
                    h->sample_seen = 1;
                    continue;
                }
                double v;
                if (!sv_parse_double(val, &v))
                    return sv_fail(SEQVID_ERR_FORMAT, "%s: metadata %s = '%s' is not a number",
                                   fn, sh, sv_shown(val, sv, sizeof sv));
                if (sv_config_check(xk, v)) return refail(fn, sh);
                h->sample_p[xk - SV_CFG_XBASE] = v;
                continue;
            }
            int is_u64 = !strcmp(key, "optimizer.steps") || !strcmp(key, "optimizer.bound") ||
                         !strcmp(key, "train.step");
            if (is_u64) {
                if (!sv_parse_u64(val, &u))
                    return sv_fail(SEQVID_ERR_FORMAT, "%s: metadata %s = '%s' is not an unsigned "
                                   "64-bit integer", fn, sh, sv_shown(val, sv, sizeof sv));
                if (key[10] == 's' && u > SV_OPT_MAX_STEPS) /* Adam's k must stay exact */
                    return sv_fail(SEQVID_ERR_FORMAT, "%s: metadata %s = %" PRIu64 " exceeds "
                                   "the limit of 2^53 steps", fn, sh, u);
                if (key[0] == 't') h->step = u, step_seen = 1;
                else if (key[10] == 's') h->opt_steps = u, steps_seen = 1;
                else h->opt_bound = u, bound_seen = 1;
                continue;
            }
            int k = 1;
            while (k < SV_OPT_NKEYS && !(starts_with(key, "optimizer.") &&
                                         sv_optimizer_key_name(k) &&
                                         !strcmp(key + 10, sv_optimizer_key_name(k))))
                k++;
            if (k == SV_OPT_NKEYS)
                return sv_fail(SEQVID_ERR_FORMAT, "%s: unknown checkpoint key '%s'", fn, sh);
            double v;
            if (!sv_parse_double(val, &v))
                return sv_fail(SEQVID_ERR_FORMAT, "%s: metadata %s = '%s' is not a number", fn,
                               sh, sv_shown(val, sv, sizeof sv));
            if (sv_optimizer_check(h->opt_kind, k, v)) return refail(fn, sh);
            h->opt_v[k] = v;
            h->opt_seen[k] = 1;
        } else if (starts_with(key, "classifier.")) {
            if (!h->classifier)
                return sv_fail(SEQVID_ERR_FORMAT, "%s: metadata '%s' in a %s file (it belongs "
                               "to classifier files)", fn, sh, type);
            int k = SEQVID_CLS_DROPOUT;
            while (sv_classifier_key_name(k) && strcmp(key + 11, sv_classifier_key_name(k))) k++;
            int classes = !strcmp(key + 11, "CLASSES");
            double v;
            if (!classes && !sv_classifier_key_name(k))
                return sv_fail(SEQVID_ERR_FORMAT, "%s: unknown classifier key '%s'", fn, sh);
            if (classes) k = SEQVID_CLS_CLASSES;
            if (!parse_setting(SEQVID_NAMES_CLASSIFIER, k, val, &v))
                return sv_fail(SEQVID_ERR_FORMAT, "%s: metadata %s = '%s' is not %s", fn, sh,
                               sv_shown(val, sv, sizeof sv),
                               setting_form(SEQVID_NAMES_CLASSIFIER, k));
            if (classes) {
                if (!(v >= 2 && v <= SV_CLS_MAX_CLASSES) || v != floor(v))
                    return sv_fail(SEQVID_ERR_FORMAT, "%s: metadata %s = '%s' is not an integer "
                                   "in [2, %d]", fn, sh, sv_shown(val, sv, sizeof sv),
                                   SV_CLS_MAX_CLASSES);
                h->cls_classes = (int)v;
                h->cls_seen[0] = 1;
                continue;
            }
            if (sv_classifier_check(k, v)) return refail(fn, sh);
            h->cls_v[k - 100] = v;
            h->cls_seen[k - 100] = 1;
        }
    }
    for (int k = 1; k < SV_CFG_NKEYS; k++)
        if (sv_config_key_name(k) && !cfg_seen[k] && (!h->classifier || sv_classifier_uses_key(k)))
            return sv_fail(SEQVID_ERR_FORMAT, "%s: metadata lacks config.%s", fn,
                           sv_config_key_name(k));
    for (int k = 0; h->classifier && k < SV_CLS_NKEYS; k++)
        if ((k == 0 || sv_classifier_key_name(k + 100)) && !h->cls_seen[k])
            return sv_fail(SEQVID_ERR_FORMAT, "%s: metadata lacks classifier.%s", fn,
                           k ? sv_classifier_key_name(k + 100) : "CLASSES");
    if (sv_config_check_all(&h->cfg)) return refail(fn, "the stored configuration");
    struct seqvid_config sampled = h->cfg; /* train.SAMPLE_* need the decoders they name */
    memcpy(sampled.x, h->sample_p, sizeof sampled.x);
    if (sv_config_check_sampling(&sampled, "checkpoint")) return refail(fn, "train.SAMPLE_*");
    if (h->checkpoint && h->classifier && !h->dropout_seen)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: classifier checkpoint lacks metadata "
                       "train.dropout_state", fn);
    if (h->checkpoint && (!steps_seen || !bound_seen || !step_seen))
        return sv_fail(SEQVID_ERR_FORMAT, "%s: checkpoint lacks metadata %s", fn,
                       !steps_seen ? "optimizer.steps" : !bound_seen ? "optimizer.bound"
                                                                     : "train.step");
    return SEQVID_OK;
}

/* Sort the tensors into model blocks, optimizer state and generator state. */
static int classify(const char *fn, header *h) {
    h->s1 = h->s2 = h->rng = -1;
    h->model_bytes = 0;
    for (size_t i = 0; i < h->n; i++) {
        sv_tensor *t = &h->t[i];
        int *slot = !strcmp(t->name, "optimizer.s1")     ? &h->s1
                    : !strcmp(t->name, "optimizer.s2")   ? &h->s2
                    : !strcmp(t->name, "data.rng_state") ? &h->rng
                                                         : NULL;
        if (!slot && !starts_with(t->name, "optimizer.") && !starts_with(t->name, "data.")) {
            h->model_bytes += t->end - t->begin; /* tiles the data: no overflow */
            continue;
        }
        if (!slot || !h->checkpoint)
            return sv_fail(SEQVID_ERR_FORMAT, "%s: unknown sv_tensor '%s'%s", fn, t->name,
                           h->checkpoint ? "" : " in a model file");
        *slot = (int)i;
        if (slot == &h->rng ? t->dtype != SV_DT_U8 || t->ndim != 1
                            : t->dtype != SV_DT_F32 || t->ndim != 1 || t->count != h->opt_bound)
            return sv_fail(SEQVID_ERR_FORMAT, "%s: sv_tensor '%s' must be %s, is %s [%zu%s]", fn,
                           t->name, slot == &h->rng ? "U8 [n]" : "F32 [optimizer.bound]",
                           t->dtype == SV_DT_F32 ? "F32" : "U8", t->shape[0],
                           t->ndim == 2 ? ", ..." : "");
    }
    if (h->checkpoint) {
        int arrays = h->opt_bound ? sv_optimizer_state_arrays(h->opt_kind) : 0;
        if ((h->s1 >= 0) != (arrays >= 1) || (h->s2 >= 0) != (arrays >= 2))
            return sv_fail(SEQVID_ERR_FORMAT, "%s: the optimizer (%s, bound to %" PRIu64
                           " parameters) has %d state tensors; the file %s optimizer.s%d", fn,
                           sv_optimizer_kind_name(h->opt_kind), h->opt_bound, arrays,
                           (h->s1 >= 0) != (arrays >= 1) ? (h->s1 >= 0 ? "has" : "lacks")
                                                         : (h->s2 >= 0 ? "has" : "lacks"),
                           (h->s1 >= 0) != (arrays >= 1) ? 1 : 2);
    }
    return SEQVID_OK;
}

/* A cheap lower bound of the parameter count of the stored configuration (encoder w_x of
 * layer 0, every encoder w_h and bias, one readout): a header claiming a huge model over a
 * small data section is rejected before seqvid_model_create allocates anything. The real
 * count is at most ~10x this bound, so memory stays proportional to the file size. */
static int check_plausible(const char *fn, const header *h) {
    const double *v = h->cfg.v;
    double D = v[SEQVID_CFG_INPUT_DIM], H = v[SEQVID_CFG_HIDDEN], L = v[SEQVID_CFG_LAYERS];
    double lb = 4 * H * D + L * (4 * H * H + 4 * H) + D * H + D;
    if (h->classifier) /* its readout is H x C */
        lb = 4 * H * D + L * (4 * H * H + 4 * H) + (H + 1) * h->cls_classes;
    if (lb * 4 > (double)h->model_bytes)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: the stored configuration needs at least %.0f "
                       "parameters, the file holds %zu bytes of weights", fn, lb,
                       h->model_bytes);
    return SEQVID_OK;
}

/* Match the model tensors to the blocks (of a model or classifier) by name and shape and
 * point them into its arena `params`. */
typedef struct dest {
    float *params;
    uint16_t *params16; /* a bf16 model's (params NULL) */
    size_t n_blocks;
    const sv_block *blocks;
} dest;

static int bind_blocks(const char *fn, header *h, const dest *m) {
    char matched[SV_MAX_BLOCKS] = {0};
    for (size_t i = 0; i < h->n; i++) {
        sv_tensor *t = &h->t[i];
        if ((int)i == h->s1 || (int)i == h->s2 || (int)i == h->rng) continue;
        size_t j = 0;
        while (j < m->n_blocks && strcmp(m->blocks[j].name, t->name)) j++;
        if (j == m->n_blocks)
            return sv_fail(SEQVID_ERR_FORMAT, "%s: unknown sv_tensor '%s' (the stored "
                           "configuration has no such block)", fn, t->name);
        const sv_block *b = &m->blocks[j];
        int nd = block_ndim(b);
        if (t->dtype != SV_DT_F32 || t->ndim != nd || t->shape[0] != b->rows ||
            (nd == 2 && t->shape[1] != b->cols)) {
            char want[64], got[64];
            snprintf(want, sizeof want, nd == 2 ? "F32 [%zu, %zu]" : "F32 [%zu]", b->rows,
                     b->cols);
            snprintf(got, sizeof got, t->ndim == 2 ? "%s [%zu, %zu]" : "%s [%zu]",
                     t->dtype == SV_DT_F32 ? "F32" : "U8", t->shape[0], t->shape[1]);
            return sv_fail(SEQVID_ERR_FORMAT, "%s: sv_tensor '%s' is %s, the stored configuration "
                           "gives %s", fn, t->name, got, want);
        }
        matched[j] = 1; /* names are unique (checked), so no block matches twice */
        if (m->params16) t->dst16 = m->params16 + b->offset;
        else t->dst = m->params + b->offset;
    }
    for (size_t j = 0; j < m->n_blocks; j++)
        if (!matched[j])
            return sv_fail(SEQVID_ERR_FORMAT, "%s: sv_tensor '%s' is missing", fn,
                           m->blocks[j].name);
    return SEQVID_OK;
}

/* The first value of a loaded F32 tensor that fails its check: not finite; negative where a
 * mean square is stored (RMSprop's s1, Adam's s2: sqrt would give NaN); too large for bf16
 * where the tensor is rounded to it (a load straight into bf16). */
enum { BAD_NONE, BAD_NONFINITE, BAD_NEGATIVE, BAD_BF16 };
typedef struct bad_value {
    int what;
    const sv_tensor *t;
    size_t i;
    double v;
} bad_value;

/* Scan x[0..n), elements at, at+1, ... of tensor t, into *bad unless it holds one already. */
static void find_bad(const sv_tensor *t, const float *x, size_t n, size_t at, int nonneg,
                     int bf16, bad_value *bad) {
    if (bad->what || (sv_all_finite(x, n) && !nonneg && !(bf16 && !sv_bf16_fits(x, n))))
        return;
    for (size_t i = 0; i < n && !bad->what; i++) {
        bad->what = !isfinite(x[i])                   ? BAD_NONFINITE
                    : nonneg && x[i] < 0              ? BAD_NEGATIVE
                    : bf16 && !sv_bf16_fits(x + i, 1) ? BAD_BF16
                                                      : BAD_NONE;
        bad->t = t, bad->i = at + i, bad->v = x[i];
    }
}

static int bad_status(const char *fn, const bad_value *b) {
    if (b->what == BAD_NEGATIVE)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: sv_tensor '%s' element %zu is %g; a mean square "
                       "cannot be negative", fn, b->t->name, b->i, b->v);
    return sv_fail(SEQVID_ERR_NONFINITE, "%s: sv_tensor '%s' element %zu is %g%s", fn,
                   b->t->name, b->i, b->v, b->what == BAD_BF16 ? ", too large for bf16" : "");
}

/* Convert a loaded F32 sv_tensor to host order and check it. */
static int finish_f32(const char *fn, const sv_tensor *t, int nonneg) {
    sv_f32_from_le(t->dst, t->count);
    bad_value bad = {0};
    find_bad(t, t->dst, t->count, 0, nonneg, 0, &bad);
    return bad.what ? bad_status(fn, &bad) : SEQVID_OK;
}

/* Tensor t (F32) through `bounce` (SV_ST_CHUNK floats): to host order, checked as
 * finish_f32 checks (and, rounded into t->dst16 if that is set, for bf16's range). The
 * first failure goes into *bad, reported after the checksum as finish_f32's are. */
static int read_through(const char *fn, sv_source *src, const sv_tensor *t, int nonneg,
                        float *bounce, uint32_t *crc, bad_value *bad) {
    for (size_t i0 = 0; i0 < t->count; i0 += SV_ST_CHUNK) {
        size_t k = t->count - i0 < SV_ST_CHUNK ? t->count - i0 : SV_ST_CHUNK;
        int st = sv_src_read(fn, src, bounce, k * sizeof *bounce, crc);
        if (st) return st;
        sv_f32_from_le(bounce, k);
        find_bad(t, bounce, k, i0, nonneg, t->dst16 != NULL, bad);
        if (t->dst16)
            for (size_t i = 0; i < k; i++) t->dst16[i0 + i] = sv_bf16_from_float(bounce[i]);
    }
    return SEQVID_OK;
}

typedef struct loaded {
    seqvid_model *model;
    seqvid_classifier *cls;
    seqvid_optimizer *opt;
    unsigned char *rng;
    size_t rng_size;
    uint64_t step;
} loaded;

/* What load() expects of a file and what it builds; a model file is 0. */
enum load_flags {
    LOAD_CHECKPOINT = 1, /* the file must be a checkpoint */
    LOAD_OPTIMIZER = 2,  /* build the optimizer (else its part is validated only) */
    LOAD_RNG = 4,        /* the file must hold the generator state; return it */
    LOAD_CLASSIFIER = 8, /* the file must be a classifier (else it must not be one) */
    LOAD_BF16 = 16       /* build the model with its weights in bf16 (seqvid_experimental_
                            model_load_as): each tensor rounded as it passes through a buffer
                            of SV_ST_CHUNK floats, the float32 weights never held whole */
};

/* RMSprop's s1 and Adam's s2 are running mean squares: >= 0, or sqrt gives NaN. */
static int nonneg_tensor(const header *h, size_t i) {
    return ((int)i == h->s1 && h->opt_kind == SEQVID_OPT_RMSPROP) || (int)i == h->s2;
}

/* Load from src as `flags` (enum load_flags) say. */
static int load(const char *fn, sv_source *src, unsigned flags, loaded *out) {
    const int want_ckpt = !!(flags & LOAD_CHECKPOINT), want_opt = !!(flags & LOAD_OPTIMIZER);
    const int want_rng = !!(flags & LOAD_RNG), want_cls = !!(flags & LOAD_CLASSIFIER);
    const int bf16 = !!(flags & LOAD_BF16);
    float *bounce = NULL;
    bad_value bad = {0};
    memset(out, 0, sizeof *out);
    header *h = sv_calloc(1, sizeof *h);
    cJSON *root = NULL;
    seqvid_optimizer *opt = NULL;
    if (!h) return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);
    int st = sv_st_read_header(fn, src, &root, &h->data_bytes);
    if (st) goto fail;

    /* Entries: unique names, __metadata__ first, then the tensors. */
    const cJSON *meta = NULL;
    size_t entries = 0;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (++entries > MAX_TENSORS + 1) {
            st = sv_fail(SEQVID_ERR_FORMAT, "%s: more than %d tensors", fn, MAX_TENSORS);
            goto fail;
        }
        if (!strcmp(c->string, "__metadata__")) meta = c;
    }
    int nomem;
    const char *dup = sv_json_duplicate_key(root, &nomem);
    if (nomem || dup) {
        char nm[80];
        st = nomem ? sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn)
                   : sv_fail(SEQVID_ERR_FORMAT, "%s: header key '%s' appears twice", fn,
                             sv_shown(dup, nm, sizeof nm));
        goto fail;
    }
    if (!meta) {
        st = sv_fail(SEQVID_ERR_FORMAT, "%s: the header has no __metadata__ (not a seqvid file)",
                     fn);
        goto fail;
    }
    if ((st = parse_metadata(fn, meta, h))) goto fail;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (c == meta) continue;
        if ((st = sv_st_parse_tensor(fn, c, h->data_bytes, &h->t[h->n]))) goto fail;
        h->n++;
    }
    if ((st = sv_st_check_tiling(fn, h->t, h->n, h->order, h->data_bytes)) ||
        (st = classify(fn, h)))
        goto fail;
    if (want_ckpt && !h->checkpoint) {
        st = sv_fail(SEQVID_ERR_FORMAT, "%s: this is a %s file, not a checkpoint", fn,
                     file_type(h->checkpoint, h->classifier));
        goto fail;
    }
    if (h->classifier != want_cls) {
        st = sv_fail(SEQVID_ERR_FORMAT, want_cls ? "%s: this is a %s file, not a classifier"
                                                 : "%s: this is a %s file; load it with "
                                                   "seqvid_classifier_%s",
                     fn, file_type(h->checkpoint, h->classifier),
                     h->checkpoint ? "checkpoint_load" : "load");
        goto fail;
    }
    if (want_rng && h->rng < 0) {
        st = sv_fail(SEQVID_ERR_FORMAT, "%s: the checkpoint holds no generator state (it was "
                     "saved without one)", fn);
        goto fail;
    }
    if ((st = check_plausible(fn, h))) goto fail;

    /* The header is consistent: build the objects and bind every tensor to its place. */
    if (h->classifier) {
        if ((st = seqvid_classifier_create(&h->cfg, h->cls_classes, &out->cls))) goto fail;
        seqvid_classifier *c = out->cls;
        for (int k = SEQVID_CLS_DROPOUT; sv_classifier_key_name(k); k++)
            if ((st = seqvid_classifier_set(c, k, h->cls_v[k - 100]))) goto fail; /* checked */
        dest d = {c->arena.params, NULL, c->arena.n_blocks, c->arena.blocks};
        if ((st = bind_blocks(fn, h, &d))) goto fail;
    } else {
        if ((st = bf16 ? sv_model_create(&h->cfg, SEQVID_WEIGHTS_BF16, fn, &out->model)
                       : seqvid_model_create(&h->cfg, &out->model)))
            goto fail;
        const sv_arena *a = &out->model->arena;
        dest d = {a->params, a->params16, a->n_blocks, a->blocks};
        if ((st = bind_blocks(fn, h, &d))) goto fail;
    }
    if (h->checkpoint) {
        if ((st = seqvid_optimizer_create(h->opt_kind, &opt))) goto fail;
        for (int k = 1; k < SV_OPT_NKEYS; k++) {
            int applies = sv_optimizer_key_name(k) && !isnan(opt->v[k]);
            if (applies && !h->opt_seen[k]) {
                st = sv_fail(SEQVID_ERR_FORMAT, "%s: checkpoint lacks optimizer.%s", fn,
                             sv_optimizer_key_name(k));
                goto fail;
            }
            if (applies) opt->v[k] = h->opt_v[k];
        }
        size_t n = out->cls ? out->cls->arena.n_params : out->model->arena.n_params;
        if (h->opt_bound && h->opt_bound != n) {
            st = sv_fail(SEQVID_ERR_FORMAT, "%s: optimizer.bound %" PRIu64 " differs from the "
                         "%s's %zu parameters", fn, h->opt_bound,
                         out->cls ? "classifier" : "model", n);
            goto fail;
        }
        if (out->cls && want_ckpt) /* the dropout stream goes on where it stood */
            memcpy(out->cls->rng.s, h->dropout_state, sizeof out->cls->rng.s);
        if (out->model && want_ckpt) { /* scheduled sampling too (a model file: off) */
            memcpy(out->model->cfg.x, h->sample_p, sizeof out->model->cfg.x);
            if (h->sample_seen)
                memcpy(out->model->sample_rng.s, h->sample_state, sizeof h->sample_state);
        }
        opt->steps = h->opt_steps;
        if (h->opt_bound && !want_opt && bf16) { /* checked in passing, kept nowhere */
            h->t[h->s1].through = 1;
            if (h->s2 >= 0) h->t[h->s2].through = 1;
        } else if (h->opt_bound) { /* read and checked even when only the model is wanted */
            if ((st = sv_optimizer_bind(opt, (size_t)h->opt_bound))) goto fail;
            h->t[h->s1].dst = opt->s1;
            if (h->s2 >= 0) h->t[h->s2].dst = opt->s2;
            sv_optimizer_state_changed(opt);
        }
        if (want_rng) {
            out->rng_size = h->t[h->rng].count;
            if (!(out->rng = sv_malloc(out->rng_size ? out->rng_size : 1))) {
                st = sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);
                goto fail;
            }
            h->t[h->rng].dst = out->rng;
        }
        out->step = h->step;
    }

    /* The data, in file order, straight to its destinations. */
    if (!src->buf && !(src->chunk = sv_malloc(4 * SV_ST_CHUNK))) {
        st = sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);
        goto fail;
    }
    if (bf16 && !(bounce = sv_malloc(SV_ST_CHUNK * sizeof *bounce))) {
        st = sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);
        goto fail;
    }
    uint32_t crc = (uint32_t)crc32(0, Z_NULL, 0);
    for (size_t i = 0; i < h->n; i++) {
        const sv_tensor *t = &h->t[h->order[i]];
        if (t->through || t->dst16)
            st = read_through(fn, src, t, nonneg_tensor(h, h->order[i]), bounce, &crc, &bad);
        else
            st = sv_src_read(fn, src, t->dst, t->end - t->begin, &crc);
        if (st) goto fail;
    }
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    crc = h->crc; /* fuzz builds only: let mutated data reach the checks behind the CRC */
#endif
    if (crc != h->crc) {
        st = sv_fail(SEQVID_ERR_FORMAT, "%s: checksum mismatch: the header says CRC-32 %08" PRIx32
                     ", the data gives %08" PRIx32 " (corrupt file)", fn, h->crc, crc);
        goto fail;
    }
    if (bad.what) { /* a value read through the buffer failed its check */
        st = bad_status(fn, &bad);
        goto fail;
    }
    for (size_t i = 0; i < h->n; i++) {
        const sv_tensor *t = &h->t[i];
        if (!t->dst || t->dtype != SV_DT_F32) continue;
        if ((st = finish_f32(fn, t, nonneg_tensor(h, i)))) goto fail;
    }
    if (bf16) sv_arena_bind_bf16(&out->model->arena); /* the vectors, widened */
    /* The weights were written behind the arena's back: cached layouts are stale. */
    sv_arena_changed(out->cls ? &out->cls->arena : &out->model->arena);
    if (want_opt) out->opt = opt, opt = NULL;
    seqvid_optimizer_free(opt);
    cJSON_Delete(root);
    free(src->chunk);
    free(bounce);
    free(h);
    return SEQVID_OK;

fail:
    seqvid_model_free(out->model);
    seqvid_classifier_free(out->cls);
    seqvid_optimizer_free(opt);
    free(out->rng);
    memset(out, 0, sizeof *out);
    cJSON_Delete(root);
    free(src->chunk);
    src->chunk = NULL;
    free(bounce);
    free(h);
    return st;
}

/* load() from a file (path != NULL) or from memory. */
static int load_from(const char *fn, const char *path, const void *buf, size_t size,
                     unsigned flags, loaded *out) {
    sv_source src = {.buf = buf, .size = size};
    if (!path) return load(fn, &src, flags, out);
    memset(out, 0, sizeof *out);
    int st = sv_fopen_regular(fn, path, &src.fp, &src.size);
    if (st) return st;
    st = load(fn, &src, flags, out);
    fclose(src.fp);
    return st;
}

/* A model checkpoint from a file or memory: the generator's state restored into gen. */
static int checkpoint_from(const char *fn, const char *path, const void *buf, size_t size,
                           seqvid_model **model, seqvid_optimizer **opt, seqvid_mmnist *gen,
                           uint64_t *step) {
    loaded l;
    int st = load_from(fn, path, buf, size,
                       LOAD_CHECKPOINT | (opt ? LOAD_OPTIMIZER : 0) | (gen ? LOAD_RNG : 0), &l);
    if (st) return st;
    if (gen && (st = seqvid_mmnist_set_state(gen, l.rng, l.rng_size))) {
        seqvid_model_free(l.model);
        seqvid_optimizer_free(l.opt);
        free(l.rng);
        return st;
    }
    free(l.rng);
    *model = l.model;
    if (opt) *opt = l.opt;
    if (step) *step = l.step;
    return SEQVID_OK;
}

/* A classifier checkpoint from a file or memory. */
static int classifier_checkpoint_from(const char *fn, const char *path, const void *buf,
                                      size_t size, seqvid_classifier **cls,
                                      seqvid_optimizer **opt, uint64_t *step) {
    loaded l;
    int st = load_from(fn, path, buf, size, LOAD_CHECKPOINT | LOAD_OPTIMIZER | LOAD_CLASSIFIER,
                       &l);
    if (st) return st;
    *cls = l.cls;
    *opt = l.opt;
    if (step) *step = l.step;
    return SEQVID_OK;
}

/* ------------------------------------------------------------------------------------------
 * Public entry points
 * ---------------------------------------------------------------------------------------- */
int seqvid_model_save(const seqvid_model *model, const char *path) {
    SV_NOT_NULL(model);
    SV_NOT_NULL(path);
    contents a = model_contents(model);
    return save_path(__func__, path, &a, NULL, NULL, 0, 0);
}

int seqvid_model_save_buffer(const seqvid_model *model, void *buf, size_t cap, size_t *size) {
    SV_NOT_NULL(model);
    SV_NOT_NULL(size);
    contents a = model_contents(model);
    return save_buffer(__func__, &a, NULL, NULL, 0, 0, buf, cap, size);
}

int seqvid_model_load(const char *path, seqvid_model **out) {
    SV_NOT_NULL(out);
    *out = NULL;
    SV_NOT_NULL(path);
    loaded l;
    int st = load_from(__func__, path, NULL, 0, 0, &l);
    if (!st) *out = l.model;
    return st;
}

int seqvid_model_load_buffer(const void *buf, size_t size, seqvid_model **out) {
    SV_NOT_NULL(out);
    *out = NULL;
    SV_NOT_NULL(buf);
    loaded l;
    int st = load_from(__func__, NULL, buf, size, 0, &l);
    if (!st) *out = l.model;
    return st;
}

/* seqvid_model_load(_buffer) with the weights stored as `weights`. */
static int load_as(const char *fn, const char *path, const void *buf, size_t size, int weights,
                   seqvid_model **out) {
    int st = sv_arena_check_weights(weights, fn);
    if (st) return st;
    loaded l;
    st = load_from(fn, path, buf, size, weights == SEQVID_WEIGHTS_BF16 ? LOAD_BF16 : 0, &l);
    if (!st && weights == SEQVID_WEIGHTS_F32_PACKED) /* float32, then packed: cannot fail */
        st = sv_arena_set_weights(&l.model->arena, weights, fn);
    if (!st) *out = l.model;
    return st;
}

int seqvid_experimental_model_load_as(const char *path, int weights, seqvid_model **out) {
    SV_NOT_NULL(out);
    *out = NULL;
    SV_NOT_NULL(path);
    return load_as(__func__, path, NULL, 0, weights, out);
}

int seqvid_experimental_model_load_buffer_as(const void *buf, size_t size, int weights,
                                             seqvid_model **out) {
    SV_NOT_NULL(out);
    *out = NULL;
    SV_NOT_NULL(buf);
    return load_as(__func__, NULL, buf, size, weights, out);
}

int seqvid_checkpoint_save(const char *path, const seqvid_model *model,
                           const seqvid_optimizer *opt, const seqvid_mmnist *gen, uint64_t step) {
    SV_NOT_NULL(path);
    SV_NOT_NULL(model);
    SV_NOT_NULL(opt);
    contents a = model_contents(model);
    return save_path(__func__, path, &a, opt, gen, step, 1);
}

int sv_checkpoint_save_buffer(const seqvid_model *model, const seqvid_optimizer *opt,
                              const seqvid_mmnist *gen, uint64_t step, void *buf, size_t cap,
                              size_t *size) {
    SV_NOT_NULL(model);
    SV_NOT_NULL(opt);
    SV_NOT_NULL(size);
    contents a = model_contents(model);
    return save_buffer(__func__, &a, opt, gen, step, 1, buf, cap, size);
}

int seqvid_checkpoint_load(const char *path, seqvid_model **model, seqvid_optimizer **opt,
                           seqvid_mmnist *gen, uint64_t *step) {
    if (model) *model = NULL;
    if (opt) *opt = NULL;
    SV_NOT_NULL(model);
    SV_NOT_NULL(opt);
    SV_NOT_NULL(path);
    return checkpoint_from(__func__, path, NULL, 0, model, opt, gen, step);
}

int sv_checkpoint_load_buffer(const void *buf, size_t size, seqvid_model **model,
                              seqvid_optimizer **opt, seqvid_mmnist *gen, uint64_t *step) {
    if (model) *model = NULL;
    if (opt) *opt = NULL;
    SV_NOT_NULL(model);
    SV_NOT_NULL(buf);
    return checkpoint_from(__func__, NULL, buf, size, model, opt, gen, step);
}

int seqvid_classifier_save(const seqvid_classifier *cls, const char *path) {
    SV_NOT_NULL(cls);
    SV_NOT_NULL(path);
    contents a = classifier_contents(cls);
    return save_path(__func__, path, &a, NULL, NULL, 0, 0);
}

int seqvid_classifier_save_buffer(const seqvid_classifier *cls, void *buf, size_t cap,
                                  size_t *size) {
    SV_NOT_NULL(cls);
    SV_NOT_NULL(size);
    contents a = classifier_contents(cls);
    return save_buffer(__func__, &a, NULL, NULL, 0, 0, buf, cap, size);
}

int seqvid_classifier_load(const char *path, seqvid_classifier **out) {
    SV_NOT_NULL(out);
    *out = NULL;
    SV_NOT_NULL(path);
    loaded l;
    int st = load_from(__func__, path, NULL, 0, LOAD_CLASSIFIER, &l);
    if (!st) *out = l.cls;
    return st;
}

int seqvid_classifier_load_buffer(const void *buf, size_t size, seqvid_classifier **out) {
    SV_NOT_NULL(out);
    *out = NULL;
    SV_NOT_NULL(buf);
    loaded l;
    int st = load_from(__func__, NULL, buf, size, LOAD_CLASSIFIER, &l);
    if (!st) *out = l.cls;
    return st;
}

int seqvid_classifier_checkpoint_save(const char *path, const seqvid_classifier *cls,
                                      const seqvid_optimizer *opt, uint64_t step) {
    SV_NOT_NULL(path);
    SV_NOT_NULL(cls);
    SV_NOT_NULL(opt);
    contents a = classifier_contents(cls);
    return save_path(__func__, path, &a, opt, NULL, step, 1);
}

int seqvid_classifier_checkpoint_save_buffer(const seqvid_classifier *cls,
                                             const seqvid_optimizer *opt, uint64_t step,
                                             void *buf, size_t cap, size_t *size) {
    SV_NOT_NULL(cls);
    SV_NOT_NULL(opt);
    SV_NOT_NULL(size);
    contents a = classifier_contents(cls);
    return save_buffer(__func__, &a, opt, NULL, step, 1, buf, cap, size);
}

int seqvid_classifier_checkpoint_load(const char *path, seqvid_classifier **cls,
                                      seqvid_optimizer **opt, uint64_t *step) {
    if (cls) *cls = NULL;
    if (opt) *opt = NULL;
    SV_NOT_NULL(cls);
    SV_NOT_NULL(opt);
    SV_NOT_NULL(path);
    return classifier_checkpoint_from(__func__, path, NULL, 0, cls, opt, step);
}

int seqvid_classifier_checkpoint_load_buffer(const void *buf, size_t size,
                                             seqvid_classifier **cls, seqvid_optimizer **opt,
                                             uint64_t *step) {
    if (cls) *cls = NULL;
    if (opt) *opt = NULL;
    SV_NOT_NULL(cls);
    SV_NOT_NULL(opt);
    SV_NOT_NULL(buf);
    return classifier_checkpoint_from(__func__, NULL, buf, size, cls, opt, step);
}
