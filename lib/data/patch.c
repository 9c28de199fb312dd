/* patch.c -- cutting fixed-size patches out of larger frames (SR15's 32x32 crops of video). */
#include <string.h>
#include "../batch.h"
#include "../error.h"

int seqvid_batch_crop(const seqvid_batch *src, size_t height, size_t width, size_t channels,
                      size_t y, size_t x, size_t ph, size_t pw, seqvid_batch **out) {
    const char *fn = __func__;
    SV_NOT_NULL(out);
    *out = NULL;
    int st = sv_batch_check(src, 0, fn);
    if (st) return st;
    size_t frame;
    if (!height || !width || !channels || !ph || !pw)
        return sv_fail(SEQVID_ERR_ARG, "%s: sizes must be >= 1 (frame %zu x %zu x %zu, patch "
                       "%zu x %zu)", fn, height, width, channels, ph, pw);
    if (!sv_mul3(height, width, channels, &frame) || frame != src->D)
        return sv_fail(SEQVID_ERR_SHAPE, "%s: frames of %zu x %zu x %zu do not match the "
                       "batch's %zu floats per frame", fn, height, width, channels, src->D);
    /* Both sides are <= D, so the sums cannot overflow. */
    if (y > height || ph > height - y || x > width || pw > width - x)
        return sv_fail(SEQVID_ERR_ARG, "%s: a %zu x %zu patch at (%zu, %zu) leaves the %zu x %zu "
                       "frame", fn, ph, pw, y, x, height, width);
    seqvid_batch *b;
    if ((st = seqvid_batch_create(src->T, src->S, ph * pw * channels, &b))) return st;
    const size_t row = pw * channels; /* contiguous floats per patch row */
    for (size_t f = 0; f < src->T * src->S; f++) {
        const float *s = src->data + f * src->D + (y * width + x) * channels;
        float *d = b->data + f * b->D;
        for (size_t r = 0; r < ph; r++) memcpy(d + r * row, s + r * width * channels,
                                               row * sizeof *d);
    }
    memcpy(b->len, src->len, src->S * sizeof *b->len);
    *out = b;
    return SEQVID_OK;
}
