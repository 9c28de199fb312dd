/* vid_video.h -- private: what the data set uses of the video handle (lib/video/video.c). */
#ifndef SV_VID_VIDEO_H
#define SV_VID_VIDEO_H
#include "vid.h"

/* Decode every frame of `path` (at most o->max_frames) at the output format of `o` into one
 * malloc'd array of n_frames 8-bit frames of fh x fw x o->channels; damaged frames skipped
 * and counted. */
SV_HIDDEN int vid_decode_all(const char *path, const vid_opts *o, uint8_t **frames,
                             size_t *n_frames, size_t *fh, size_t *fw, uint64_t *damaged);
/* Check a batch against the output format and sequences seq0 .. seq0+n-1; its shape and data. */
SV_HIDDEN int vid_fill_check(const vid_opts *o, const vid_geom *g, seqvid_batch *batch,
                             size_t seq0, size_t n, size_t *T, size_t *S, float **data);
#endif
