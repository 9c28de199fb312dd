/* vid.h -- private to libseqvid_video: options, errors, the generator and the cutting of
 * 8-bit frames into float batches, shared by the video handle, the data set and the cache. */
#ifndef SV_VID_H
#define SV_VID_H
#include <stddef.h>
#include <stdint.h>
#include "seqvid_video.h"

#define SV_HIDDEN __attribute__((visibility("hidden")))

/* Record a message for seqvid_video_last_error() on this thread and return `status`. */
SV_HIDDEN int vid_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Copy the core's last error (a seqvid_* call failed with `status`). */
SV_HIDDEN int vid_fail_core(int status, const char *what);

#define VID_NOT_NULL(p)                                                                      \
    do {                                                                                     \
        if (!(p)) return vid_fail(SEQVID_ERR_NULL, "%s: argument '%s' is NULL", __func__, #p); \
    } while (0)

/* The settable keys of seqvid_video_key: one struct for a video and a data set. */
typedef struct vid_opts {
    int channels;                  /* 1 or 3 */
    size_t out_w, out_h;           /* 0 = derived */
    size_t crop_x, crop_y, crop_w, crop_h;
    size_t stride, patch;
    int patch_mode;
    uint64_t seed;
    uint64_t max_pixels, max_packets, max_frames;
    double timeout;
} vid_opts;

SV_HIDDEN void vid_opts_default(vid_opts *o);
/* Set key in o: SEQVID_OK, or SEQVID_ERR_ARG (bad value, or not a settable video key:
 * *known = 0 then, so a data set can try its own keys). *format_changed = 1 when the key
 * changes the decoded frames (channels, size, crop, limits on frames). */
SV_HIDDEN int vid_opts_set(vid_opts *o, int key, double value, int *known, int *format_changed);
/* Read a settable key; 0 if the key is not one. */
SV_HIDDEN int vid_opts_get(const vid_opts *o, int key, double *value);

/* Output geometry of a W x H source under o: the crop window and the output size.
 * SEQVID_ERR_ARG when the crop leaves the frame or a patch does not fit. */
typedef struct vid_geom {
    size_t cx, cy, cw, ch; /* crop window in source pixels */
    size_t ow, oh;         /* output frame */
} vid_geom;
SV_HIDDEN int vid_geometry(const vid_opts *o, size_t src_w, size_t src_h, vid_geom *g);

/* Monotonic seconds (time limits, the data set's wait time). */
SV_HIDDEN double vid_now(void);

/* splitmix64: the generator of patch positions, file and clip draws. */
SV_HIDDEN uint64_t vid_rand(uint64_t *state);
/* Uniform integer in [0, n) (n >= 1). */
SV_HIDDEN size_t vid_uniform(uint64_t *state, size_t n);
/* FNV-1a 64 over bytes, continuing from h (start with VID_FNV_INIT). */
#define VID_FNV_INIT 0xcbf29ce484222325ULL
SV_HIDDEN uint64_t vid_fnv(uint64_t h, const void *data, size_t n);

/* Patch position of sequence j: grid cell j mod cells, or a draw from *rng. */
SV_HIDDEN void vid_patch_pos(const vid_opts *o, size_t fh, size_t fw, size_t j, uint64_t *rng,
                             size_t *y, size_t *x);
/* Write sequence `seq` of a time-major batch (T steps, S sequences, dim D) from n_frames
 * 8-bit frames (frames[t], fh x fw x c): the whole frame (patch 0, D = fh*fw*c) or the
 * P x P patch at (y, x) (D = P*P*c), scaled by 1/255; steps t >= n_frames are zero. */
SV_HIDDEN void vid_cut(const uint8_t *const *frames, size_t n_frames, size_t fh, size_t fw,
                       size_t c, size_t patch, size_t y, size_t x, float *data, size_t T,
                       size_t S, size_t seq);
#endif
