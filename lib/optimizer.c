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
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "error.h"
#include "fastmath.h"
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
    opt->s1max = opt->s2max = 0.0f; /* the state is zero */
    return SEQVID_OK;
}

/* |g|_2^2 of n floats in double. Eight independent partial sums in a fixed order: the result
 * does not depend on vectorisation, and the loop is not one long dependency chain. Finite
 * floats cannot overflow it (FLT_MAX^2 * 2^64 < DBL_MAX). */
SV_VECTOR_CLONES
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

/* Everything one update needs, for chunks run in parallel. b1/omb1 double as momentum
 * (SGD) and decay/1-decay (RMSprop). */
typedef struct upd_job {
    int kind;
    float *w, *s1, *s2;
    const float *g;
    size_t n;
    float s, uc, lr, wd, eps, b1, omb1, b2, omb2, alpha, ib2, lrwd;
    int bad;           /* check pass: some new value is not finite (only ever set to 1) */
    uint32_t max1, max2; /* write pass: max |new s1|, |new s2| as float bits (>= 0: ordered) */
} upd_job;

/* The rules, one element at a time: new weight *w, new state *a (and *b for Adam) from the
 * old ones. The write loops and the check loop below share them, so the check tests exactly
 * the values that would be written. alpha = LR/(1-B1^k), ib2 = 1/(1-B2^k), lrwd = LR*WD. */
static inline void sgd_el(const upd_job *j, float w, float v, float g, float *wn, float *vn) {
    float vi = clampf(j->b1 * v - j->lr * (j->s * g + j->wd * w), j->uc);
    *vn = vi, *wn = w + vi;
}

static inline void rmsprop_el(const upd_job *j, float w, float r, float g, float *wn,
                              float *rn) {
    float gi = j->s * g;
    float ri = j->b1 * r + j->omb1 * gi * gi;
    *rn = ri, *wn = w - clampf(j->lr * (gi + j->wd * w) / sqrtf(ri + j->eps), j->uc);
}

static inline void adam_el(const upd_job *j, float w, float m, float v, float g, float *wn,
                           float *mn, float *vn) {
    float gi = j->s * g;
    float mi = j->b1 * m + j->omb1 * gi;
    float vi = j->b2 * v + j->omb2 * gi * gi;
    *mn = mi, *vn = vi;
    *wn = w - clampf(j->alpha * mi / (sqrtf(vi * j->ib2) + j->eps) + j->lrwd * w, j->uc);
}

static inline uint32_t nonfinite(float x) { /* 1 for NaN or Inf: exponent bits all ones */
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return (u & 0x7f800000u) == 0x7f800000u;
}

static inline uint32_t abs_bits(float x) { /* |x| as bits: ordered like |x| when finite */
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u & 0x7fffffffu;
}

/* Fold a chunk's maximum into *slot (max is order-free: the result does not depend on how
 * chunks are spread over threads). */
static void atomic_max_bits(uint32_t *slot, float v) {
    uint32_t u, cur = __atomic_load_n(slot, __ATOMIC_RELAXED);
    memcpy(&u, &v, sizeof u);
    while (u > cur &&
           !__atomic_compare_exchange_n(slot, &cur, u, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

#define UPD_CHUNK ((size_t)1 << 16)

/* FLUSH: the update loops run with subnormals flushed to zero (fastmath.h, sv_flush_begin).
 * A weight whose gradient is (nearly) always zero -- the input weights of pixels that are
 * almost never on -- has moments that decay geometrically (Adam's m by B1 = 0.9 a step)
 * into float32's subnormal range, and each loop instruction that touches one costs a
 * microcode assist on x86: in the demo 1.5% of Adam's state was subnormal after 3,896 steps
 * and its update pass took 15% -> 23% of the step (docs/performance.md, "Subnormal
 * moments"). Flushed, such a moment is 0 instead of < 2^-126, which changes no weight: its
 * share of an update, LR m / (sqrt(v) + EPS), is below LR 2^-126 / EPS. */

/* The write pass over chunks [c0, c1): new weights and state, and the state's new maxima.
 * The job is copied to a local so that the compiler knows the stores into w and the state
 * cannot change its settings (the loops then vectorise). */
static void update_chunks(void *ctx, int c0, int c1) {
    upd_job *out = ctx;
    const upd_job jl = *out, *j = &jl;
    size_t i0 = (size_t)c0 * UPD_CHUNK, i1 = (size_t)c1 * UPD_CHUNK;
    if (i1 > j->n) i1 = j->n;
    float *restrict w = j->w, *restrict s1 = j->s1, *restrict s2 = j->s2;
    const float *restrict g = j->g;
    uint32_t m1 = 0, m2 = 0;
    float wn, an, bn;
    const unsigned fp_env = sv_flush_begin(); /* see FLUSH above */
    switch (j->kind) {
    case SEQVID_OPT_SGD:
        for (size_t i = i0; i < i1; i++) {
            sgd_el(j, w[i], s1[i], g[i], &wn, &an);
            w[i] = wn, s1[i] = an;
            uint32_t a = abs_bits(an);
            m1 = a > m1 ? a : m1;
        }
        break;
    case SEQVID_OPT_RMSPROP:
        for (size_t i = i0; i < i1; i++) {
            rmsprop_el(j, w[i], s1[i], g[i], &wn, &an);
            w[i] = wn, s1[i] = an;
            uint32_t a = abs_bits(an);
            m1 = a > m1 ? a : m1;
        }
        break;
    default:
        for (size_t i = i0; i < i1; i++) {
            adam_el(j, w[i], s1[i], s2[i], g[i], &wn, &an, &bn);
            w[i] = wn, s1[i] = an, s2[i] = bn;
            uint32_t a = abs_bits(an), b = abs_bits(bn);
            m1 = a > m1 ? a : m1;
            m2 = b > m2 ? b : m2;
        }
    }
    sv_flush_end(fp_env);
    float f1, f2;
    memcpy(&f1, &m1, sizeof f1);
    memcpy(&f2, &m2, sizeof f2);
    atomic_max_bits(&out->max1, f1);
    atomic_max_bits(&out->max2, f2);
}

/* The check pass over chunks [c0, c1): would any new weight or state value be non-finite?
 * Nothing is written. */
static void check_chunks(void *ctx, int c0, int c1) {
    upd_job *out = ctx;
    const upd_job jl = *out, *j = &jl;
    size_t i0 = (size_t)c0 * UPD_CHUNK, i1 = (size_t)c1 * UPD_CHUNK;
    if (i1 > j->n) i1 = j->n;
    const float *w = j->w, *s1 = j->s1, *s2 = j->s2, *g = j->g;
    uint32_t bad = 0;
    float a, b, c;
    const unsigned fp_env = sv_flush_begin(); /* as the write pass: the values it would write */
    switch (j->kind) {
    case SEQVID_OPT_SGD:
        for (size_t i = i0; i < i1; i++) {
            sgd_el(j, w[i], s1[i], g[i], &a, &b);
            bad |= nonfinite(a) | nonfinite(b);
        }
        break;
    case SEQVID_OPT_RMSPROP:
        for (size_t i = i0; i < i1; i++) {
            rmsprop_el(j, w[i], s1[i], g[i], &a, &b);
            bad |= nonfinite(a) | nonfinite(b);
        }
        break;
    default:
        for (size_t i = i0; i < i1; i++) {
            adam_el(j, w[i], s1[i], s2[i], g[i], &a, &b, &c);
            bad |= nonfinite(a) | nonfinite(b) | nonfinite(c);
        }
    }
    sv_flush_end(fp_env);
    if (bad) __atomic_store_n(&out->bad, 1, __ATOMIC_RELAXED);
}

/* A bound proving every new value finite without looking at them, from G = max|g| (the
 * gradient scan finds it), W = max|w| (FLT_MAX when not scanned) and the state's maxima kept
 * by the last write pass (S1, S2; +Inf when unknown). Each intermediate of the rules above is
 * bounded in double by the triangle inequality (sqrt(r + EPS) >= sqrt(EPS) and
 * sqrt(v/(1-B2^k)) + EPS >= EPS since the state is >= 0) and must stay below FLT_MAX/4, a
 * margin far larger than any float rounding of these few operations. When the bound cannot
 * decide (a huge LR, tiny EPS, weights near FLT_MAX) the exact check pass runs. */
static int provably_finite(const upd_job *j, double G, double W, double S1, double S2) {
    const double lim = FLT_MAX / 4.0, sG = j->s * G;
    double d; /* bound of the step subtracted from (or added to) w */
    switch (j->kind) {
    case SEQVID_OPT_SGD: {
        double v = j->b1 * S1 + j->lr * (sG + j->wd * W);
        if (!(v < lim) || !(sG + j->wd * W < lim)) return 0;
        d = v;
        break;
    }
    case SEQVID_OPT_RMSPROP: {
        double r = j->b1 * S1 + j->omb1 * sG * sG + sG, num = j->lr * (sG + j->wd * W);
        if (!(r < lim) || !(num < lim) || !(sG + j->wd * W < lim)) return 0;
        d = num / sqrt((double)j->eps) + num;
        break;
    }
    default: {
        double m = j->b1 * S1 + j->omb1 * sG, v = j->b2 * S2 + j->omb2 * sG * sG + sG;
        double am = j->alpha * m;
        if (!(m < lim) || !(v < lim) || !(v * j->ib2 < lim) || !(am < lim)) return 0;
        d = am / (double)j->eps + am + j->lrwd * W;
    }
    }
    if (d > j->uc) d = j->uc;
    /* w -+ d: finite if |w| + d < FLT_MAX, or whatever w if d < 2^102, below half an ulp of
     * FLT_MAX (2^103): the sum then rounds to at most FLT_MAX. */
    return d < lim && (d < 0x1p102 || W + d < lim);
}

/* One pass over an array in chunks of UPD_CHUNK, over the library's threads: the largest |x|
 * and, when asked, each chunk's sum of squares (summed afterwards in chunk order, so the
 * total does not depend on the thread count). */
typedef struct scan_job {
    const float *x;
    size_t n;
    double *sq;   /* per chunk, or NULL: not wanted */
    uint32_t max; /* float bits; 0x7f800000 (Inf) when a value is not finite */
} scan_job;

/* max |x| over n floats as bits; >= 0x7f800000 (Inf's bits) iff one is NaN or Inf. */
SV_VECTOR_CLONES
static uint32_t max_abs_bits(const float *x, size_t n) {
    uint32_t m = 0;
#pragma omp simd reduction(max : m)
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + i, sizeof u);
        u &= 0x7fffffffu;
        m = u > m ? u : m;
    }
    return m;
}

static void scan_chunks(void *ctx, int c0, int c1) {
    scan_job *j = ctx;
    uint32_t m = 0;
    for (int c = c0; c < c1; c++) {
        size_t i0 = (size_t)c * UPD_CHUNK, len = j->n - i0 < UPD_CHUNK ? j->n - i0 : UPD_CHUNK;
        uint32_t mc = max_abs_bits(j->x + i0, len);
        m = mc > m ? mc : m;
        /* the chunk is in cache now; its squares are only used when all values are finite */
        if (j->sq) j->sq[c] = mc < 0x7f800000u ? sq_norm(j->x + i0, len) : 0.0;
    }
    if (m > 0x7f800000u) m = 0x7f800000u; /* NaN: report it as Inf */
    float f;
    memcpy(&f, &m, sizeof f);
    atomic_max_bits(&j->max, f);
}

/* Largest |x| over n floats, or -1 if one is NaN or Inf; with sq != NULL also |x|_2^2 into
 * *sq (scratch: chunk partials, at most SQ_PARTS of them on the stack, else one serial sum). */
#define SQ_PARTS 4096 /* 2^28 parameters in chunks of 2^16 */
static double abs_max(const float *x, size_t n, double *sq) {
    int chunks = (int)((n + UPD_CHUNK - 1) / UPD_CHUNK);
    double part[SQ_PARTS];
    scan_job j = {x, n, sq && chunks <= SQ_PARTS ? part : NULL, 0};
    sv_parallel_for(chunks, scan_chunks, &j);
    float f;
    memcpy(&f, &j.max, sizeof f);
    if (!isfinite(f)) return -1.0;
    if (sq) {
        double t = 0;
        if (j.sq)
            for (int c = 0; c < chunks; c++) t += part[c];
        else
            t = sq_norm(x, n);
        *sq = t;
    }
    return (double)f;
}

void sv_optimizer_state_changed(struct seqvid_optimizer *opt) {
    opt->s1max = opt->s2max = INFINITY;
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
    double clip = opt->v[SEQVID_OPT_GRAD_CLIP], sq = 0;
    double G = abs_max(g, n, clip > 0 ? &sq : NULL); /* one pass: max |g| and |g|^2 */
    if (G < 0) {
        size_t i = 0;
        while (i < n && isfinite(g[i])) i++;
        return sv_fail(SEQVID_ERR_NONFINITE, "%s: gradient element %zu of %zu is %g; nothing "
                       "updated", fn, i, n, i < n ? (double)g[i] : 0.0);
    }
    if (opt->n != 0 && opt->n != n)
        return sv_fail(SEQVID_ERR_SHAPE, "%s: optimizer is bound to %zu parameters, got %zu",
                       fn, opt->n, n);
    if (opt->steps >= SV_OPT_MAX_STEPS)
        return sv_fail(SEQVID_ERR_STATE, "%s: the optimizer has taken %" PRIu64 " steps, the "
                       "limit", fn, opt->steps);
    if (opt->n == 0) {
        int st = sv_optimizer_bind(opt, n);
        if (st) return st;
    }

    const double *p = opt->v;
    upd_job j = {.kind = opt->kind, .w = w, .s1 = opt->s1, .s2 = opt->s2, .g = g, .n = n,
                 .s = 1.0f};
    if (clip > 0) {
        double norm = sqrt(sq);
        if (norm > clip) j.s = (float)(clip / norm);
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
        /* 0 <= B < 1 and 1 <= k <= 2^53 (exact), so 0 < 1 - B^k <= 1. */
        double bc1 = 1.0 - pow(b1, k), bc2 = 1.0 - pow(b2, k);
        j.b1 = (float)b1, j.omb1 = (float)(1.0 - b1), j.b2 = (float)b2, j.omb2 = (float)(1.0 - b2);
        j.alpha = (float)(p[SEQVID_OPT_LR] / bc1), j.ib2 = (float)(1.0 / bc2);
        j.lrwd = (float)(p[SEQVID_OPT_LR] * p[SEQVID_OPT_WEIGHT_DECAY]);
        break;
    }
    }
    /* Nothing non-finite is ever written: a bound proves the new values finite, or a check
     * pass computes them without writing. Every element's update is independent: chunks
     * over the library's threads (memory bandwidth, not arithmetic, bounds these loops). */
    int chunks = (int)((n + UPD_CHUNK - 1) / UPD_CHUNK);
    double S1 = opt->s1max, S2 = opt->s2 ? opt->s2max : 0.0, W = FLT_MAX;
    /* First without looking at the weights (enough unless the weight decay is large), then
     * with their maximum (they are the caller's: finite is not even guaranteed), then the
     * exact check. */
    if (!provably_finite(&j, G, W, S1, S2) &&
        ((W = abs_max(w, n, NULL)) < 0 || !provably_finite(&j, G, W, S1, S2))) {
        sv_parallel_for(chunks, check_chunks, &j);
        if (j.bad || W < 0)
            return sv_fail(SEQVID_ERR_NONFINITE, "%s: the update would make a weight or the "
                           "optimizer state non-finite (LR %g); nothing updated", fn,
                           p[SEQVID_OPT_LR]);
    }
    sv_parallel_for(chunks, update_chunks, &j);
    memcpy(&opt->s1max, &j.max1, sizeof(float));
    memcpy(&opt->s2max, &j.max2, sizeof(float));
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
    /* the head's state is untouched: the maxima bound the whole state only if they did */
    opt->s1max = fmaxf(opt->s1max, tail.s1max), opt->s2max = fmaxf(opt->s2max, tail.s2max);
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
    int st = sv_arena_grads(&model->arena, __func__);
    if (st) return st;
    st = sv_optimizer_apply(opt, model->arena.params, model->arena.grads,
                                model->arena.n_params);
    sv_arena_changed(&model->arena); /* even a failed step may have written some weights */
    return st;
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
