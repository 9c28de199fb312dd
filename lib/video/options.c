#define _DEFAULT_SOURCE /* clock_gettime */
/* options.c -- libseqvid_video's errors, option keys, output geometry, generator and the
 * cutting of 8-bit frames into float sequence batches. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "vid.h"

static _Thread_local char last_error[512];

const char *seqvid_video_last_error(void) { return last_error; }

int vid_fail(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

int vid_fail_core(int status, const char *what) {
    return vid_fail(status, "%s: %s", what, seqvid_last_error());
}

void vid_opts_default(vid_opts *o) {
    memset(o, 0, sizeof *o);
    o->channels = 1;
    o->stride = 1;
    o->patch_mode = SEQVID_VIDEO_PATCH_GRID;
    o->seed = 1;
    o->max_pixels = (uint64_t)1 << 26;
    o->max_packets = 4096;
    o->max_frames = (uint64_t)1 << 20;
    o->timeout = 60;
}

/* A non-negative integer option value (doubles carry integers exactly below 2^53). */
static int as_count(double v, double max, size_t *out) {
    if (!(v >= 0 && v <= max) || v != (double)(uint64_t)v) return 0;
    *out = (size_t)v;
    return 1;
}

int vid_opts_set(vid_opts *o, int key, double v, int *known, int *format_changed) {
    *known = 1;
    *format_changed = 0;
    size_t n = 0;
    const double big = 1 << 30;
    switch (key) {
    case SEQVID_VIDEO_CHANNELS:
        if (v != 1 && v != 3) return vid_fail(SEQVID_ERR_ARG, "CHANNELS must be 1 or 3, not %g", v);
        o->channels = (int)v;
        *format_changed = 1;
        return SEQVID_OK;
    case SEQVID_VIDEO_SEED:
        if (!(v >= 0 && v < 18446744073709551616.0) || v != (double)(uint64_t)v)
            return vid_fail(SEQVID_ERR_ARG, "SEED must be a non-negative integer, not %g", v);
        o->seed = (uint64_t)v;
        return SEQVID_OK;
    case SEQVID_VIDEO_PATCH_MODE:
        if (v != SEQVID_VIDEO_PATCH_GRID && v != SEQVID_VIDEO_PATCH_RANDOM)
            return vid_fail(SEQVID_ERR_ARG, "PATCH_MODE must be GRID (0) or RANDOM (1), not %g", v);
        o->patch_mode = (int)v;
        return SEQVID_OK;
    case SEQVID_VIDEO_TIMEOUT:
        if (!(v >= 0 && v <= 1e6))
            return vid_fail(SEQVID_ERR_ARG, "TIMEOUT must be in [0, 1e6] seconds, not %g", v);
        o->timeout = v;
        return SEQVID_OK;
    default:
        break;
    }
    size_t *target = NULL;
    uint64_t *target64 = NULL;
    size_t lo = 0;
    switch (key) {
    case SEQVID_VIDEO_OUT_WIDTH: target = &o->out_w; break;
    case SEQVID_VIDEO_OUT_HEIGHT: target = &o->out_h; break;
    case SEQVID_VIDEO_CROP_X: target = &o->crop_x; break;
    case SEQVID_VIDEO_CROP_Y: target = &o->crop_y; break;
    case SEQVID_VIDEO_CROP_WIDTH: target = &o->crop_w; break;
    case SEQVID_VIDEO_CROP_HEIGHT: target = &o->crop_h; break;
    case SEQVID_VIDEO_STRIDE: target = &o->stride; lo = 1; break;
    case SEQVID_VIDEO_PATCH: target = &o->patch; break;
    case SEQVID_VIDEO_MAX_PIXELS: target64 = &o->max_pixels; lo = 1; break;
    case SEQVID_VIDEO_MAX_PACKETS: target64 = &o->max_packets; lo = 1; break;
    case SEQVID_VIDEO_MAX_FRAMES: target64 = &o->max_frames; lo = 1; break;
    default:
        *known = 0;
        return vid_fail(SEQVID_ERR_ARG, "unknown or read-only key %d", key);
    }
    if (!as_count(v, big, &n) || n < lo)
        return vid_fail(SEQVID_ERR_ARG, "key %d: %g is not an integer in [%zu, 2^30]", key, v, lo);
    if (target) *target = n;
    else *target64 = n;
    *format_changed = key != SEQVID_VIDEO_STRIDE && key != SEQVID_VIDEO_PATCH &&
                      key != SEQVID_VIDEO_MAX_PACKETS;
    return SEQVID_OK;
}

int vid_opts_get(const vid_opts *o, int key, double *v) {
    switch (key) {
    case SEQVID_VIDEO_CHANNELS: *v = o->channels; return 1;
    case SEQVID_VIDEO_OUT_WIDTH: *v = (double)o->out_w; return 1;
    case SEQVID_VIDEO_OUT_HEIGHT: *v = (double)o->out_h; return 1;
    case SEQVID_VIDEO_CROP_X: *v = (double)o->crop_x; return 1;
    case SEQVID_VIDEO_CROP_Y: *v = (double)o->crop_y; return 1;
    case SEQVID_VIDEO_CROP_WIDTH: *v = (double)o->crop_w; return 1;
    case SEQVID_VIDEO_CROP_HEIGHT: *v = (double)o->crop_h; return 1;
    case SEQVID_VIDEO_STRIDE: *v = (double)o->stride; return 1;
    case SEQVID_VIDEO_PATCH: *v = (double)o->patch; return 1;
    case SEQVID_VIDEO_PATCH_MODE: *v = o->patch_mode; return 1;
    case SEQVID_VIDEO_SEED: *v = (double)o->seed; return 1;
    case SEQVID_VIDEO_MAX_PIXELS: *v = (double)o->max_pixels; return 1;
    case SEQVID_VIDEO_MAX_PACKETS: *v = (double)o->max_packets; return 1;
    case SEQVID_VIDEO_TIMEOUT: *v = o->timeout; return 1;
    case SEQVID_VIDEO_MAX_FRAMES: *v = (double)o->max_frames; return 1;
    default: return 0;
    }
}

int vid_geometry(const vid_opts *o, size_t W, size_t H, vid_geom *g) {
    if (o->crop_x >= W || o->crop_y >= H)
        return vid_fail(SEQVID_ERR_ARG, "crop origin (%zu, %zu) is outside the %zu x %zu frame",
                        o->crop_x, o->crop_y, W, H);
    g->cx = o->crop_x;
    g->cy = o->crop_y;
    g->cw = o->crop_w ? o->crop_w : W - o->crop_x;
    g->ch = o->crop_h ? o->crop_h : H - o->crop_y;
    if (g->cw > W - g->cx || g->ch > H - g->cy)
        return vid_fail(SEQVID_ERR_ARG, "crop %zu x %zu at (%zu, %zu) leaves the %zu x %zu frame",
                        g->cw, g->ch, g->cx, g->cy, W, H);
    /* One side given: the other keeps the crop's aspect ratio (rounded, at least 1). */
    g->ow = o->out_w;
    g->oh = o->out_h;
    if (!g->ow && !g->oh) {
        g->ow = g->cw;
        g->oh = g->ch;
    } else if (!g->ow) {
        g->ow = (size_t)((double)g->cw * (double)g->oh / (double)g->ch + 0.5);
        if (!g->ow) g->ow = 1;
    } else if (!g->oh) {
        g->oh = (size_t)((double)g->ch * (double)g->ow / (double)g->cw + 0.5);
        if (!g->oh) g->oh = 1;
    }
    if ((uint64_t)g->ow * g->oh > o->max_pixels)
        return vid_fail(SEQVID_ERR_OVERFLOW, "output frame %zu x %zu exceeds MAX_PIXELS %llu",
                        g->ow, g->oh, (unsigned long long)o->max_pixels);
    if (o->patch && (o->patch > g->ow || o->patch > g->oh))
        return vid_fail(SEQVID_ERR_ARG, "patch %zu x %zu does not fit the %zu x %zu output frame",
                        o->patch, o->patch, g->ow, g->oh);
    return SEQVID_OK;
}

double vid_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

uint64_t vid_rand(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

size_t vid_uniform(uint64_t *s, size_t n) {
    /* Multiply-shift: unbiased enough for n far below 2^64 (bias < n / 2^64). */
    return (size_t)(((unsigned __int128)vid_rand(s) * n) >> 64);
}

uint64_t vid_fnv(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

void vid_patch_pos(const vid_opts *o, size_t fh, size_t fw, size_t j, uint64_t *rng, size_t *y,
                   size_t *x) {
    size_t P = o->patch;
    if (!P) {
        *y = *x = 0;
        return;
    }
    if (o->patch_mode == SEQVID_VIDEO_PATCH_RANDOM) {
        *y = vid_uniform(rng, fh - P + 1);
        *x = vid_uniform(rng, fw - P + 1);
    } else {
        size_t nx = fw / P, cells = nx * (fh / P), k = j % cells;
        *y = (k / nx) * P;
        *x = (k % nx) * P;
    }
}

void vid_cut(const uint8_t *const *frames, size_t n_frames, size_t fh, size_t fw, size_t c,
             size_t patch, size_t y, size_t x, float *data, size_t T, size_t S, size_t seq) {
    size_t ph = patch ? patch : fh, pw = patch ? patch : fw, row = pw * c, D = ph * row;
    for (size_t t = 0; t < T; t++) {
        float *d = data + (t * S + seq) * D;
        if (t >= n_frames) {
            memset(d, 0, D * sizeof *d);
            continue;
        }
        for (size_t r = 0; r < ph; r++) {
            const uint8_t *s = frames[t] + ((y + r) * fw + x) * c;
            for (size_t i = 0; i < row; i++) d[r * row + i] = s[i] / 255.0f;
        }
    }
}
