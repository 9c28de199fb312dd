/* vid_cache.h -- private: the data set's decoded-frame cache files (lib/video/cache.c). */
#ifndef SV_VID_CACHE_H
#define SV_VID_CACHE_H
#include "vid.h"

/* The decoded 8-bit frames of one file: n frames of fh x fw x channels bytes. */
typedef struct vid_frames {
    uint8_t *data;
    size_t n, fh, fw;
    uint64_t damaged;
} vid_frames;

/* 1 and *f filled (data malloc'd) if <folder>/<key>.svc exists and passes every check for the
 * format `o`; 0 otherwise (missing, truncated, corrupt, other format: then rebuild it). */
SV_HIDDEN int vid_cache_read(const char *folder, uint64_t key, const vid_opts *o, vid_frames *f);
/* Write *f atomically (temporary file, fsync, rename); 1 on success. */
SV_HIDDEN int vid_cache_write(const char *folder, uint64_t key, const vid_opts *o,
                              const vid_frames *f);
#endif
