/* mmnist.c -- the Moving MNIST generator of SR15's released code (SR15.md section 5).
 *
 * Every digit of a sequence gets, from the generator's one random stream:
 *   an image index k ~ uniform over the digit set,
 *   a start position (y, x) ~ U[0,1)^2 (row, column; units of the free range),
 *   a direction theta ~ U[0, 2 pi) and a speed s ~ U[min, max] (not drawn when min == max),
 *   a velocity (v_y, v_x) = (sin theta, cos theta) * s.
 * Frame t = 0, 1, ..: first the position moves, (y, x) += (v_y, v_x); then each coordinate
 * that is <= 0 or >= 1 is clamped to 0 or 1 and its velocity component negated (the bounce);
 * then the digit is drawn with its top-left pixel at (int)(R_y * y), (int)(R_x * x), where
 * R = canvas - digit side (36 for 64 and 28). Digits combine by per-pixel maximum.
 *
 * The released code draws digit indices as an epoch-shuffled permutation; here every index
 * is drawn uniformly and independently, so the stream needs no permutation state. */
#define SEQVID_EXPERIMENTAL /* declares seqvid_experimental_mmnist_fill_motion */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../alloc.h"
#include "../batch.h"
#include "../error.h"
#include "../util.h"
#include "digits.h"
#include "mmnist.h"

#define TWO_PI 6.283185307179586476925286766559
#define SEED_MAX SV_EXACT_INT

int seqvid_mmnist_create(const seqvid_digits *digits, seqvid_mmnist **out) {
    SV_NOT_NULL(out);
    *out = NULL;
    SV_NOT_NULL(digits);
    seqvid_mmnist *g = sv_calloc(1, sizeof *g);
    if (!g) return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", __func__);
    g->digits = digits;
    g->n_digits = 2;
    g->canvas = 64;
    g->speed_min = g->speed_max = 0.1;
    g->seed = 1;
    sv_rng_seed(&g->rng, g->seed);
    *out = g;
    return SEQVID_OK;
}

void seqvid_mmnist_free(seqvid_mmnist *gen) { free(gen); }

static size_t digit_side(const seqvid_digits *d) { return d->rows > d->cols ? d->rows : d->cols; }

int seqvid_mmnist_set(seqvid_mmnist *g, int key, double value) {
    SV_NOT_NULL(g);
    if (!isfinite(value))
        return sv_fail(SEQVID_ERR_ARG, "%s: key %d: value is not finite", __func__, key);
    int integral = value == floor(value);
    switch (key) {
    case SEQVID_MM_DIGITS:
        if (!integral || value < 1 || value > SV_MM_MAX_DIGITS)
            return sv_fail(SEQVID_ERR_ARG, "%s: SEQVID_MM_DIGITS %g must be an integer in 1..%d",
                           __func__, value, SV_MM_MAX_DIGITS);
        g->n_digits = (int)value;
        return SEQVID_OK;
    case SEQVID_MM_CANVAS: {
        size_t side = digit_side(g->digits);
        if (!integral || value <= (double)side || value > SV_MM_MAX_CANVAS)
            return sv_fail(SEQVID_ERR_ARG,
                           "%s: SEQVID_MM_CANVAS %g must be an integer in %zu..%d (larger than "
                           "the %zu x %zu digits)",
                           __func__, value, side + 1, SV_MM_MAX_CANVAS, g->digits->rows,
                           g->digits->cols);
        g->canvas = (size_t)value;
        return SEQVID_OK;
    }
    case SEQVID_MM_SPEED_MIN:
    case SEQVID_MM_SPEED_MAX:
        /* A speed of 1 crosses the whole free range in one frame; more makes no sense. */
        if (value < 0 || value > 1)
            return sv_fail(SEQVID_ERR_ARG, "%s: speed %g must lie in [0, 1]", __func__, value);
        if (key == SEQVID_MM_SPEED_MIN)
            g->speed_min = value;
        else
            g->speed_max = value;
        return SEQVID_OK;
    case SEQVID_MM_SEED:
        if (!integral || value < 0 || value > SEED_MAX)
            return sv_fail(SEQVID_ERR_ARG, "%s: SEQVID_MM_SEED %g must be an integer in 0..2^53",
                           __func__, value);
        g->seed = (uint64_t)value;
        sv_rng_seed(&g->rng, g->seed);
        return SEQVID_OK;
    default:
        return sv_fail(SEQVID_ERR_ARG, "%s: unknown key %d", __func__, key);
    }
}

int seqvid_mmnist_get(const seqvid_mmnist *g, int key, double *value) {
    SV_NOT_NULL(g);
    SV_NOT_NULL(value);
    switch (key) {
    case SEQVID_MM_DIGITS: *value = g->n_digits; return SEQVID_OK;
    case SEQVID_MM_CANVAS: *value = (double)g->canvas; return SEQVID_OK;
    case SEQVID_MM_SPEED_MIN: *value = g->speed_min; return SEQVID_OK;
    case SEQVID_MM_SPEED_MAX: *value = g->speed_max; return SEQVID_OK;
    case SEQVID_MM_SEED: *value = (double)g->seed; return SEQVID_OK;
    default: return sv_fail(SEQVID_ERR_ARG, "%s: unknown key %d", __func__, key);
    }
}

/* Uniform integer in [0, n), n >= 1, without modulo bias: reject the few top values that
 * would make some residues more likely. */
static size_t uniform_index(sv_rng *r, size_t n) {
    uint64_t m = (uint64_t)n, limit = -m % m; /* 2^64 mod n */
    uint64_t x;
    do x = sv_rng_next(r);
    while (x < limit);
    return (size_t)(x % m);
}

/* One coordinate's step and bounce, exactly as the released GetRandomTrajectory. */
static void step(double *p, double *v) {
    *p += *v;
    if (*p <= 0.0) {
        *p = 0.0;
        *v = -*v;
    }
    if (*p >= 1.0) {
        *p = 1.0;
        *v = -*v;
    }
}

/* The one generator behind seqvid_mmnist_fill and seqvid_experimental_mmnist_fill_motion
 * (fn names the caller in messages). motion, if not NULL, receives per frame t, sequence b
 * and digit n the position (row, col) after frame t's step and bounce and the velocity that
 * the next step adds: motion[((t*S + b)*N + n)*4 + {0, 1, 2, 3}] = y, x, v_y, v_x. */
static int fill(seqvid_mmnist *g, seqvid_batch *batch, int *labels, size_t labels_count,
                double *motion, size_t motion_count, const char *fn) {
    SV_NOT_NULL(g);
    int st = sv_batch_check(batch, 0, fn);
    if (st) return st;
    const seqvid_digits *d = g->digits;
    const size_t C = g->canvas, T = batch->T, S = batch->S, N = (size_t)g->n_digits;
    if (C <= digit_side(d))
        return sv_fail(SEQVID_ERR_STATE,
                       "%s: canvas %zu is not larger than the %zu x %zu digits; set "
                       "SEQVID_MM_CANVAS",
                       fn, C, d->rows, d->cols);
    if (batch->D != C * C)
        return sv_fail(SEQVID_ERR_SHAPE, "%s: batch frames have %zu floats, a %zu x %zu canvas "
                       "needs %zu", fn, batch->D, C, C, C * C);
    if (g->speed_min > g->speed_max)
        return sv_fail(SEQVID_ERR_STATE, "%s: SEQVID_MM_SPEED_MIN %g > SEQVID_MM_SPEED_MAX %g",
                       fn, g->speed_min, g->speed_max);
    size_t n_labels = S * N; /* S <= INT_MAX and N <= 8: no overflow */
    if (labels && labels_count < n_labels)
        return sv_fail(SEQVID_ERR_BUFFER, "%s: labels holds %zu ints, %zu are needed", fn,
                       labels_count, n_labels);
    if (motion && motion_count / 4 / N / S < T) /* divisions: T*S*N*4 may overflow */
        return sv_fail(SEQVID_ERR_BUFFER, "%s: motion holds %zu doubles, %zu x %zu x %zu x 4 "
                       "are needed", fn, motion_count, T, S, N);

    const size_t rows = d->rows, cols = d->cols, D = batch->D;
    const size_t range_y = C - rows, range_x = C - cols;
    float *data = batch->data;
    for (size_t b = 0; b < S; b++) {
        for (size_t t = 0; t < T; t++) memset(data + (t * S + b) * D, 0, D * sizeof *data);
        for (size_t n = 0; n < N; n++) {
            size_t k = uniform_index(&g->rng, d->count);
            double y = sv_rng_uniform(&g->rng), x = sv_rng_uniform(&g->rng);
            double theta = TWO_PI * sv_rng_uniform(&g->rng);
            double speed = g->speed_min;
            if (g->speed_max > g->speed_min)
                speed += (g->speed_max - g->speed_min) * sv_rng_uniform(&g->rng);
            double vy = sin(theta) * speed, vx = cos(theta) * speed;
            if (labels) labels[b * N + n] = d->labels ? d->labels[k] : -1;
            const float *img = d->pixels + k * rows * cols;
            for (size_t t = 0; t < T; t++) {
                step(&y, &vy);
                step(&x, &vx);
                if (motion) {
                    double *m = motion + ((t * S + b) * N + n) * 4;
                    m[0] = y, m[1] = x, m[2] = vy, m[3] = vx;
                }
                size_t top = (size_t)(range_y * y), left = (size_t)(range_x * x);
                float *frame = data + (t * S + b) * D + top * C + left;
                for (size_t r = 0; r < rows; r++)
                    for (size_t c = 0; c < cols; c++) {
                        float v = img[r * cols + c];
                        if (v > frame[r * C + c]) frame[r * C + c] = v;
                    }
            }
        }
        batch->len[b] = (int)T;
    }
    return SEQVID_OK;
}

int seqvid_mmnist_fill(seqvid_mmnist *gen, seqvid_batch *batch, int *labels,
                       size_t labels_count) {
    return fill(gen, batch, labels, labels_count, NULL, 0, __func__);
}

int seqvid_experimental_mmnist_fill_motion(seqvid_mmnist *gen, seqvid_batch *batch,
                                           int *labels, size_t labels_count, double *motion,
                                           size_t motion_count) {
    return fill(gen, batch, labels, labels_count, motion, motion_count, __func__);
}

/* ---- state: explicit little-endian bytes, independent of the host and of struct layout.
 *
 *   off size
 *     0    4  magic "SVMM"
 *     4    4  version (1)
 *     8   32  xoshiro256** state s[0..3]
 *    40    8  seed
 *    48    4  digits per sequence       52  4  canvas
 *    56    8  speed min (IEEE double)   64  8  speed max
 *    72    8  size of the digit set     80  4  digit rows   84  4  digit cols
 *    88    4  FNV-1a hash of bytes 0..87
 *
 * The options are part of the state, so restoring it continues the very same stream even
 * into a generator configured differently; the digit set's shape is recorded to refuse a
 * state saved over another set (same stream, other pictures). */
#define STATE_VERSION 1u
#define STATE_SIZE 92

static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}
static uint64_t dbits(double x) {
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}
static double bitsd(uint64_t u) {
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}
static uint32_t fnv1a(const unsigned char *p, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

int seqvid_mmnist_state_size(const seqvid_mmnist *gen, size_t *size) {
    SV_NOT_NULL(gen);
    SV_NOT_NULL(size);
    *size = STATE_SIZE;
    return SEQVID_OK;
}

int seqvid_mmnist_get_state(const seqvid_mmnist *g, void *buf, size_t size) {
    SV_NOT_NULL(g);
    SV_NOT_NULL(buf);
    if (size < STATE_SIZE)
        return sv_fail(SEQVID_ERR_BUFFER, "%s: buffer of %zu bytes, the state needs %d", __func__,
                       size, STATE_SIZE);
    unsigned char *p = buf;
    memcpy(p, "SVMM", 4);
    put32(p + 4, STATE_VERSION);
    for (int i = 0; i < 4; i++) put64(p + 8 + 8 * i, g->rng.s[i]);
    put64(p + 40, g->seed);
    put32(p + 48, (uint32_t)g->n_digits);
    put32(p + 52, (uint32_t)g->canvas);
    put64(p + 56, dbits(g->speed_min));
    put64(p + 64, dbits(g->speed_max));
    put64(p + 72, (uint64_t)g->digits->count);
    put32(p + 80, (uint32_t)g->digits->rows);
    put32(p + 84, (uint32_t)g->digits->cols);
    put32(p + 88, fnv1a(p, 88));
    return SEQVID_OK;
}

int seqvid_mmnist_set_state(seqvid_mmnist *g, const void *buf, size_t size) {
    const char *fn = __func__;
    SV_NOT_NULL(g);
    SV_NOT_NULL(buf);
    const unsigned char *p = buf;
    if (size != STATE_SIZE)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: %zu bytes, a generator state has %d", fn, size,
                       STATE_SIZE);
    if (memcmp(p, "SVMM", 4) != 0)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: not a Moving MNIST generator state (bad magic)",
                       fn);
    if (get32(p + 4) != STATE_VERSION)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: state version %u, this library reads %u", fn,
                       get32(p + 4), STATE_VERSION);
    if (get32(p + 88) != fnv1a(p, 88))
        return sv_fail(SEQVID_ERR_FORMAT, "%s: state checksum mismatch (corrupt buffer)", fn);
    sv_rng r;
    for (int i = 0; i < 4; i++) r.s[i] = get64(p + 8 + 8 * i);
    uint64_t seed = get64(p + 40);
    uint32_t nd = get32(p + 48), canvas = get32(p + 52);
    double smin = bitsd(get64(p + 56)), smax = bitsd(get64(p + 64));
    const seqvid_digits *d = g->digits;
    if ((r.s[0] | r.s[1] | r.s[2] | r.s[3]) == 0 || (double)seed > SEED_MAX || nd < 1 ||
        nd > SV_MM_MAX_DIGITS || canvas <= digit_side(d) || canvas > SV_MM_MAX_CANVAS ||
        !(smin >= 0 && smin <= 1) || !(smax >= 0 && smax <= 1))
        return sv_fail(SEQVID_ERR_FORMAT, "%s: state holds invalid settings", fn);
    if (get64(p + 72) != d->count || get32(p + 80) != d->rows || get32(p + 84) != d->cols)
        return sv_fail(SEQVID_ERR_SHAPE,
                       "%s: state was saved over %llu digits of %u x %u, this generator draws "
                       "from %zu of %zu x %zu",
                       fn, (unsigned long long)get64(p + 72), get32(p + 80), get32(p + 84),
                       d->count, d->rows, d->cols);
    g->rng = r;
    g->seed = seed;
    g->n_digits = (int)nd;
    g->canvas = canvas;
    g->speed_min = smin;
    g->speed_max = smax;
    return SEQVID_OK;
}
