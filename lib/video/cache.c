/* cache.c -- decoded-frame cache files of the data set.
 *
 * One file per (video, output format): <folder>/<key as 16 hex digits>.svc, where the key
 * hashes the video's path, size and mtime and every option that changes decoded frames.
 * Layout (little-endian, this machine's; a file from another byte order fails the checks):
 *   0  "SVVIDC01"            8 bytes magic
 *   8  key                   u64, must equal the key of the name
 *  16  frames, damaged       u64, u64
 *  32  height, width, chan   u32 x 3, then u32 0
 *  48  adler32 of the data   u32 (FFmpeg's av_adler32), then u32 0, u64 0
 *  64  frames x height x width x chan bytes
 * A file whose size, header or checksum does not match is not used (and is rewritten);
 * writes go to a temporary name and are renamed into place, so a reader never sees half a
 * file. */
#define _DEFAULT_SOURCE /* fileno, fsync, stat.st_mtim, strdup, glob, clock_gettime */
#include <libavutil/adler32.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "vid_cache.h"

#define MAGIC "SVVIDC01"
enum { HEADER = 64 };

typedef struct header {
    char magic[8];
    uint64_t key, frames, damaged;
    uint32_t h, w, c, zero0, sum, zero1;
    uint64_t zero2;
} header;
_Static_assert(sizeof(header) == HEADER, "cache header is 64 bytes");

static void cache_name(const char *folder, uint64_t key, char *out, size_t n) {
    snprintf(out, n, "%s/%016llx.svc", folder, (unsigned long long)key);
}

int vid_cache_read(const char *folder, uint64_t key, const vid_opts *o, vid_frames *f) {
    char name[4096];
    cache_name(folder, key, name, sizeof name);
    FILE *fp = fopen(name, "rb");
    if (!fp) return 0;
    header h;
    int ok = 0;
    uint8_t *data = NULL;
    if (fread(&h, sizeof h, 1, fp) != 1 || memcmp(h.magic, MAGIC, 8) || h.key != key ||
        h.c != (uint32_t)o->channels || !h.h || !h.w || (uint64_t)h.h * h.w > o->max_pixels ||
        h.frames > o->max_frames || h.zero0 || h.zero1 || h.zero2)
        goto out;
    uint64_t bytes = h.frames * h.h * h.w * h.c; /* bounded: frames <= 2^30, pixels <= 2^30 */
    if (fseek(fp, 0, SEEK_END) || ftell(fp) != (long)(HEADER + bytes) ||
        fseek(fp, HEADER, SEEK_SET))
        goto out;
    if (!(data = malloc(bytes ? bytes : 1))) goto out;
    if (bytes && fread(data, bytes, 1, fp) != 1) goto out;
    if (av_adler32_update(1, data, bytes) != h.sum) goto out;
    f->data = data;
    f->n = h.frames;
    f->fh = h.h;
    f->fw = h.w;
    f->damaged = h.damaged;
    data = NULL;
    ok = 1;
out:
    free(data);
    fclose(fp);
    return ok;
}

int vid_cache_write(const char *folder, uint64_t key, const vid_opts *o, const vid_frames *f) {
    char name[4096], tmp[4200];
    cache_name(folder, key, name, sizeof name);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", name, (long)getpid());
    size_t bytes = f->n * f->fh * f->fw * (size_t)o->channels;
    header h = {.key = key, .frames = f->n, .damaged = f->damaged, .h = (uint32_t)f->fh,
                .w = (uint32_t)f->fw, .c = (uint32_t)o->channels,
                .sum = av_adler32_update(1, f->data, bytes)};
    memcpy(h.magic, MAGIC, 8);
    FILE *fp = fopen(tmp, "wb");
    if (!fp) return 0;
    int ok = fwrite(&h, sizeof h, 1, fp) == 1 && (!bytes || fwrite(f->data, bytes, 1, fp) == 1);
    ok = (fflush(fp) == 0) & ok;
    ok = (fsync(fileno(fp)) == 0) & ok;
    ok = (fclose(fp) == 0) & ok;
    if (ok) ok = rename(tmp, name) == 0;
    if (!ok) unlink(tmp);
    return ok;
}
