/* optimizer.c -- momentum SGD (per-element update clip), RMSprop and Adam over one flat
 * parameter array, with an optional global L2-norm gradient clip.
 *
 * Rules (header, "Optimizers"); g is the gradient after the clip, k = 1, 2, ... the step:
 *   clip:    s = GRAD_CLIP / |g|_2 if GRAD_CLIP > 0 and |g|_2 > GRAD_CLIP, else 1;  g <- s*g
 *   SGD:     v <- MOMENTUM*v - LR*(g + WD*w);  v <- clamp(v, +-UPDATE_CLIP);  w <- w + v
 *   RMSprop: r <- DECAY*r + (1-DECAY)*g^2;  d = LR*(g + WD*w)/sqrt(r + EPS);  w <- w - clamp(d)
 *   Adam:    m <- B1*m + (1-B1)*g;  v <- B2*v + (1-B2)*g^2;
 *            d = LR/(1-B1^k) * m / (sqrt(v/(1-B2^k)) + EPS) + LR*WD*w;  w <- w - clamp(d)
 *
 * Settings are kept in double; every per-step coefficient (bias corrections, 1-B, the clip
 * scale) is formed once in double and rounded to float, so the loops are plain float
 * arithmetic that gcc -O3 vectorises. s is applied on the fly: the caller's gradient array is
 * never written. An UPDATE_CLIP of 0 ("off") is run as a clamp at +-infinity, which is the
 * identity, so each rule has a single branch-free loop.
 *
 * Atomicity: every check that can fail (pointers, non-finite gradient, shape, allocation)
 * happens before the first write, so a failure leaves weights, state and step count as they
 * were (seqvid_model_train_step relies on this).
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include "alloc.h"
#include "error.h"
#include "keys.h"
#include "model.h"
#include "optimizer.h"
#include "parallel.h"
#include "util.h"

#define NA NAN /* "this key does not apply to this kind" in the defaults table */

/* Default per kind (index seqvid_optimizer_kind; NA = the key does not apply to the kind).
 * Names and ranges are in keys.c. */
static const double defaults[SV_OPT_NKEYS][4] = {
    /*                       -  SGD    RMSprop Adam */
    [SEQVID_OPT_LR] = {NA, 1e-4, 1e-3, 1e-3},
    [SEQVID_OPT_MOMENTUM] = {NA, 0.9, NA, NA},
    [SEQVID_OPT_WEIGHT_DECAY] = {NA, 1e-4, 0, 0},
    [SEQVID_OPT_UPDATE_CLIP] = {NA, 1e-4, 0, 0},
    [SEQVID_OPT_GRAD_CLIP] = {NA, 0, 0, 0},
    [SEQVID_OPT_DECAY] = {NA, NA, 0.95, NA},
    [SEQVID_OPT_BETA1] = {NA, NA, NA, 0.9},
    [SEQVID_OPT_BETA2] = {NA, NA, NA, 0.999},
    [SEQVID_OPT_EPS] = {NA, NA, 1e-6, 1e-8},
};

static int valid_kind(int kind) { return kind >= SEQVID_OPT_SGD && kind <= SEQVID_OPT_ADAM; }

const char *sv_optimizer_kind_name(int kind) {
    return seqvid_key_name(SEQVID_NAMES_OPTIMIZER_KIND, kind);
}

const char *sv_optimizer_key_name(int key) { return seqvid_key_name(SEQVID_NAMES_OPTIMIZER, key); }

/* Key known and applicable to kind (kind must be valid); else fail with a message. */
static int check_key(const char *fn, int kind, int key) {
    const sv_key *k = sv_key_find(SEQVID_NAMES_OPTIMIZER, key);
    if (!k || key >= SV_OPT_NKEYS)
        return sv_fail(SEQVID_ERR_ARG, "%s: unknown optimizer key %d", fn, key);
    if (isnan(defaults[key][kind]))
        return sv_fail(SEQVID_ERR_ARG, "%s: key %s does not apply to a %s optimizer", fn,
                       k->name, sv_optimizer_kind_name(kind));
    return SEQVID_OK;
}

static int check_value(const char *fn, int key, double value) {
    return sv_key_check(sv_key_find(SEQVID_NAMES_OPTIMIZER, key), value, fn);
}

int sv_optimizer_check(int kind, int key, double value) {
    if (!valid_kind(kind))
        return sv_fail(SEQVID_ERR_ARG, "%s: unknown optimizer kind %d", __func__, kind);
    int st = check_key(__func__, kind, key);
    return st ? st : check_value(__func__, key, value);
}

int sv_optimizer_state_arrays(int kind) {
    switch (kind) {
    case SEQVID_OPT_SGD:
    case SEQVID_OPT_RMSPROP: return 1;
    case SEQVID_OPT_ADAM: return 2;
    default: return 0;
    }
}

int sv_optimizer_bind(struct seqvid_optimizer *opt, size_t n) {
    SV_NOT_NULL(opt);
    if (opt->n != 0)
        return sv_fail(SEQVID_ERR_STATE, "%s: optimizer is already bound to %zu parameters",
                       __func__, opt->n);
    if (n == 0) return sv_fail(SEQVID_ERR_ARG, "%s: parameter count must be >= 1", __func__);
    size_t bytes;
    if (!sv_mul(n, sizeof(float), &bytes))
        return sv_fail(SEQVID_ERR_OVERFLOW, "%s: %zu parameters overflow size_t", __func__, n);
    if (!valid_kind(opt->kind))
        return sv_fail(SEQVID_ERR_STATE, "%s: optimizer has invalid kind %d", __func__,
                       opt->kind);
    int two = sv_optimizer_state_arrays(opt->kind) == 2;
    float *s1 = sv_falloc(n);
    float *s2 = two ? sv_falloc(n) : NULL;
    if (!s1 || (two && !s2)) {
        sv_free(s1);
        sv_free(s2);
        return sv_fail(SEQVID_ERR_NOMEM, "%s: no memory for the state of %zu parameters",
                       __func__, n);
    }
    opt->s1 = s1;
    opt->s2 = s2;
    opt->n = n;
    return SEQVID_OK;
}

/* |g|_2^2 in double. Eight independent partial sums in a fixed order: the result does not
 * depend on vectorisation, and the loop is not one long dependency chain. Finite floats
 * cannot overflow it (FLT_MAX^2 * 2^64 < DBL_MAX). */
static double sq_norm(const float *g, size_t n) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += (double)g[i + j] * (double)g[i + j];
    for (; i < n; i++) acc[i & 7] += (double)g[i] * (double)g[i];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

static inline float clampf(float x, float c) {
    x = x > c ? c : x;
    return x < -c ? -c : x;
}

static void sgd(size_t n, float *restrict w, float *restrict v, const float *restrict g,
                float s, float lr, float mom, float wd, float uc) {
    for (size_t i = 0; i < n; i++) {
        float vi = clampf(mom * v[i] - lr * (s * g[i] + wd * w[i]), uc);
        v[i] = vi;
        w[i] += vi;
    }
}

static void rmsprop(size_t n, float *restrict w, float *restrict r, const float *restrict g,
                    float s, float lr, float dec, float omd, float wd, float eps, float uc) {
    for (size_t i = 0; i < n; i++) {
        float gi = s * g[i];
        float ri = dec * r[i] + omd * gi * gi;
        r[i] = ri;
        w[i] -= clampf(lr * (gi + wd * w[i]) / sqrtf(ri + eps), uc);
    }
}

/* alpha = LR/(1-B1^k), ib2 = 1/(1-B2^k), lrwd = LR*WD. */
static void adam(size_t n, float *restrict w, float *restrict m, float *restrict v,
                 const float *restrict g, float s, float b1, float omb1, float b2, float omb2,
                 float alpha, float ib2, float eps, float lrwd, float uc) {
    for (size_t i = 0; i < n; i++) {
        float gi = s * g[i];
        float mi = b1 * m[i] + omb1 * gi;
        float vi = b2 * v[i] + omb2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] -= clampf(alpha * mi / (sqrtf(vi * ib2) + eps) + lrwd * w[i], uc);
    }
}

/* Everything one update needs, for chunks run in parallel. b1/omb1 double as momentum
 * (SGD) and decay/1-decay (RMSprop). */
typedef struct upd_job {
    int kind;
    float *w, *s1, *s2;
    const float *g;
    size_t n;
    float s, uc, lr, wd, eps, b1, omb1, b2, omb2, alpha, ib2, lrwd;
} upd_job;

#define UPD_CHUNK ((size_t)1 << 16)

static void update_chunks(void *ctx, int c0, int c1) {
    const upd_job *j = ctx;
    size_t i0 = (size_t)c0 * UPD_CHUNK, i1 = (size_t)c1 * UPD_CHUNK;
    if (i1 > j->n) i1 = j->n;
    size_t m = i1 - i0;
    float *w = j->w + i0, *s1 = j->s1 + i0;
    const float *g = j->g + i0;
    switch (j->kind) {
    case SEQVID_OPT_SGD:
        sgd(m, w, s1, g, j->s, j->lr, j->b1, j->wd, j->uc);
        break;
    case SEQVID_OPT_RMSPROP:
        rmsprop(m, w, s1, g, j->s, j->lr, j->b1, j->omb1, j->wd, j->eps, j->uc);
        break;
    default:
        adam(m, w, s1, j->s2 + i0, g, j->s, j->b1, j->omb1, j->b2, j->omb2, j->alpha, j->ib2,
             j->eps, j->lrwd, j->uc);
    }
}

int sv_optimizer_apply(struct seqvid_optimizer *opt, float *w, const float *g, size_t n) {
    /* Messages name the public entry point: this is its body. */
    static const char fn[] = "seqvid_optimizer_step";
    if (!opt || !w || !g)
        return sv_fail(SEQVID_ERR_NULL, "%s: %s is NULL", fn,
                       !opt ? "optimizer" : !w ? "weight array" : "gradient array");
    if (n == 0) return sv_fail(SEQVID_ERR_ARG, "%s: parameter count must be >= 1", fn);
    if (!valid_kind(opt->kind))
        return sv_fail(SEQVID_ERR_STATE, "%s: optimizer has invalid kind %d", fn, opt->kind);
    if (!sv_all_finite(g, n)) {
        size_t i = 0;
        while (i < n && isfinite(g[i])) i++;
        return sv_fail(SEQVID_ERR_NONFINITE, "%s: gradient element %zu of %zu is %g; nothing "
                       "updated", fn, i, n, i < n ? (double)g[i] : 0.0);
    }
    if (opt->n != 0 && opt->n != n)
        return sv_fail(SEQVID_ERR_SHAPE, "%s: optimizer is bound to %zu parameters, got %zu",
                       fn, opt->n, n);
    if (opt->n == 0) {
        int st = sv_optimizer_bind(opt, n);
        if (st) return st;
    }

    const double *p = opt->v;
    upd_job j = {.kind = opt->kind, .w = w, .s1 = opt->s1, .s2 = opt->s2, .g = g, .n = n,
                 .s = 1.0f};
    if (p[SEQVID_OPT_GRAD_CLIP] > 0) {
        double norm = sqrt(sq_norm(g, n));
        if (norm > p[SEQVID_OPT_GRAD_CLIP]) j.s = (float)(p[SEQVID_OPT_GRAD_CLIP] / norm);
    }
    j.uc = p[SEQVID_OPT_UPDATE_CLIP] > 0 ? (float)p[SEQVID_OPT_UPDATE_CLIP] : INFINITY;
    j.lr = (float)p[SEQVID_OPT_LR], j.wd = (float)p[SEQVID_OPT_WEIGHT_DECAY];
    j.eps = (float)p[SEQVID_OPT_EPS];
    switch (opt->kind) {
    case SEQVID_OPT_SGD:
        j.b1 = (float)p[SEQVID_OPT_MOMENTUM];
        break;
    case SEQVID_OPT_RMSPROP:
        j.b1 = (float)p[SEQVID_OPT_DECAY], j.omb1 = (float)(1.0 - p[SEQVID_OPT_DECAY]);
        break;
    default: { /* SEQVID_OPT_ADAM (the kind was checked above) */
        double b1 = p[SEQVID_OPT_BETA1], b2 = p[SEQVID_OPT_BETA2], k = (double)(opt->steps + 1);
        /* 0 <= B < 1 and k >= 1, so 0 < 1 - B^k <= 1. */
        double bc1 = 1.0 - pow(b1, k), bc2 = 1.0 - pow(b2, k);
        j.b1 = (float)b1, j.omb1 = (float)(1.0 - b1), j.b2 = (float)b2, j.omb2 = (float)(1.0 - b2);
        j.alpha = (float)(p[SEQVID_OPT_LR] / bc1), j.ib2 = (float)(1.0 / bc2);
        j.lrwd = (float)(p[SEQVID_OPT_LR] * p[SEQVID_OPT_WEIGHT_DECAY]);
        break;
    }
    }
    /* Every element's update is independent: chunks over the library's threads (memory
     * bandwidth, not arithmetic, bounds this loop; two cores move more bytes than one). */
    sv_parallel_for((int)((n + UPD_CHUNK - 1) / UPD_CHUNK), update_chunks, &j);
    opt->steps++;
    return SEQVID_OK;
}

int sv_optimizer_apply_tail(struct seqvid_optimizer *opt, float *w, const float *g, size_t n,
                            size_t first) {
    static const char fn[] = "seqvid_optimizer_step";
    if (first == 0) return sv_optimizer_apply(opt, w, g, n);
    if (!opt || !w || !g)
        return sv_fail(SEQVID_ERR_NULL, "%s: %s is NULL", fn,
                       !opt ? "optimizer" : !w ? "weight array" : "gradient array");
    if (first >= n)
        return sv_fail(SEQVID_ERR_ARG, "%s: the updated part [%zu, %zu) is empty", fn, first, n);
    if (opt->n != 0 && opt->n != n)
        return sv_fail(SEQVID_ERR_SHAPE, "%s: optimizer is bound to %zu parameters, got %zu",
                       fn, opt->n, n);
    if (!sv_all_finite(g + first, n - first)) /* before binding: failures change nothing */
        return sv_fail(SEQVID_ERR_NONFINITE, "%s: a gradient element in [%zu, %zu) is not "
                       "finite; nothing updated", fn, first, n);
    if (opt->n == 0) {
        int st = sv_optimizer_bind(opt, n);
        if (st) return st;
    }
    /* The tail is an optimizer of n - first parameters whose state starts at `first`. */
    struct seqvid_optimizer tail = *opt;
    tail.n = n - first;
    tail.s1 = opt->s1 + first;
    tail.s2 = opt->s2 ? opt->s2 + first : NULL;
    int st = sv_optimizer_apply(&tail, w + first, g + first, n - first);
    opt->steps = tail.steps;
    return st;
}

int seqvid_optimizer_create(int kind, seqvid_optimizer **out) {
    SV_NOT_NULL(out);
    *out = NULL;
    if (!valid_kind(kind))
        return sv_fail(SEQVID_ERR_ARG, "%s: unknown optimizer kind %d (1 SGD, 2 RMSprop, "
                       "3 Adam)", __func__, kind);
    struct seqvid_optimizer *opt = sv_calloc(1, sizeof *opt);
    if (!opt) return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", __func__);
    opt->kind = kind;
    for (int k = 0; k < SV_OPT_NKEYS; k++)
        opt->v[k] = sv_optimizer_key_name(k) ? defaults[k][kind] : NA;
    *out = opt;
    return SEQVID_OK;
}

void seqvid_optimizer_free(seqvid_optimizer *opt) {
    if (!opt) return;
    sv_free(opt->s1);
    sv_free(opt->s2);
    free(opt);
}

int seqvid_optimizer_set(seqvid_optimizer *opt, int key, double value) {
    SV_NOT_NULL(opt);
    int st = check_key(__func__, opt->kind, key);
    if (!st) st = check_value(__func__, key, value);
    if (st) return st;
    opt->v[key] = value;
    return SEQVID_OK;
}

int seqvid_optimizer_get(const seqvid_optimizer *opt, int key, double *value) {
    SV_NOT_NULL(opt);
    SV_NOT_NULL(value);
    int st = check_key(__func__, opt->kind, key);
    if (st) return st;
    *value = opt->v[key];
    return SEQVID_OK;
}

int seqvid_optimizer_step(seqvid_optimizer *opt, seqvid_model *model) {
    SV_NOT_NULL(opt);
    SV_NOT_NULL(model);
    return sv_optimizer_apply(opt, model->arena.params, model->arena.grads, model->arena.n_params);
}

int seqvid_optimizer_step_count(const seqvid_optimizer *opt, uint64_t *count) {
    SV_NOT_NULL(opt);
    SV_NOT_NULL(count);
    *count = opt->steps;
    return SEQVID_OK;
}

int seqvid_optimizer_steps(const seqvid_optimizer *opt, uint64_t *steps) {
    SV_NOT_NULL(opt);
    SV_NOT_NULL(steps);
    *steps = opt->steps;
    return SEQVID_OK;
}
