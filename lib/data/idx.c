/* idx.c -- MNIST digits from IDX files (LeCun's format), plain or gzipped.
 *
 * IDX layout: bytes 0-1 are zero, byte 2 the element type (0x08 = unsigned byte), byte 3 the
 * number of dimensions n, then n big-endian uint32 sizes, then the elements in C order.
 * Images are 3-D (count, rows, cols), labels 1-D (count). zlib's gzread reads gzip streams
 * and plain files alike, so the compression is detected from the content, not the name.
 *
 * Hostile files (gzip bombs): the header's claimed size is checked against
 * SEQVID_LIMIT_IDX_BYTES before anything is inflated; the payload is then inflated into a
 * buffer that grows only as data arrives (a stream shorter than announced costs what it
 * holds), and widened to floats in place once whole: the peak memory of a load is 4 bytes
 * per announced pixel, never the bytes and the floats together. After the payload the
 * stream must end: no byte more, and for gzip a whole trailer (zlib checks its CRC-32 and
 * size; a stream cut before it is an error here). */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "../alloc.h"
#include "../error.h"
#include "../fileio.h"
#include "../util.h"
#include "digits.h"

#define IDX_UBYTE 0x08
#define IDX_MAX_SIDE 4096          /* larger "digits" are taken as a corrupt header */
#define IDX_CHUNK ((size_t)1 << 20) /* first buffer size; doubled as data keeps arriving */

/* Status for a failed gzread/gzopen: an I/O error of the system, or a corrupt gzip stream
 * (zlib reports a stream cut short as Z_BUF_ERROR "unexpected end of file"). */
static int gz_failure(gzFile f, const char *fn, const char *path) {
    int zerr = Z_OK;
    const char *msg = gzerror(f, &zerr);
    if (zerr == Z_ERRNO)
        return sv_fail(SEQVID_ERR_IO, "%s: reading '%s': %s", fn, path, strerror(errno));
    return sv_fail(SEQVID_ERR_FORMAT, "%s: '%s' is a corrupt or truncated gzip stream (%s)", fn,
                   path, msg ? msg : "zlib error");
}

/* Read up to n bytes; *got receives how many arrived before end of file. */
static int gz_read(gzFile f, void *buf, size_t n, size_t *got, const char *fn,
                   const char *path) {
    unsigned char *p = buf;
    *got = 0;
    while (*got < n) {
        size_t want = n - *got;
        if (want > (size_t)1 << 30) want = (size_t)1 << 30; /* gzread takes an unsigned */
        int r = gzread(f, p + *got, (unsigned)want);
        if (r < 0) return gz_failure(f, fn, path);
        if (r == 0) break;
        *got += (size_t)r;
    }
    return SEQVID_OK;
}

static uint32_t be32(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* Read and check the header of a ubyte IDX file of `ndim` dimensions into dims[]. */
static int idx_header(gzFile f, unsigned ndim, size_t *dims, const char *fn, const char *path,
                      const char *what) {
    unsigned char h[4 + 4 * 3];
    size_t got, need = 4 + 4 * (size_t)ndim;
    int st = gz_read(f, h, 4, &got, fn, path);
    if (st) return st;
    if (got < 4)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: %s file '%s' is truncated (%zu bytes, no IDX header)",
                       fn, what, path, got);
    if (h[0] != 0 || h[1] != 0)
        return sv_fail(SEQVID_ERR_FORMAT,
                       "%s: '%s' is not an IDX file (magic %02x %02x %02x %02x, expected 00 00 08 %02x)",
                       fn, path, h[0], h[1], h[2], h[3], ndim);
    switch (h[2]) {
    case IDX_UBYTE: break;
    case 0x09: case 0x0B: case 0x0C: case 0x0D: case 0x0E:
        return sv_fail(SEQVID_ERR_UNSUPPORTED,
                       "%s: %s file '%s' holds IDX element type 0x%02x; only unsigned bytes (0x08) are read",
                       fn, what, path, h[2]);
    default:
        return sv_fail(SEQVID_ERR_FORMAT, "%s: '%s' has unknown IDX element type 0x%02x", fn, path,
                       h[2]);
    }
    if (h[3] != ndim)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: %s file '%s' has %u dimensions, expected %u", fn,
                       what, path, h[3], ndim);
    st = gz_read(f, h + 4, need - 4, &got, fn, path);
    if (st) return st;
    if (got < need - 4)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: %s file '%s' is truncated inside its header", fn,
                       what, path);
    for (unsigned i = 0; i < ndim; i++) dims[i] = be32(h + 4 + 4 * i);
    return SEQVID_OK;
}

/* Read exactly n payload bytes into a new buffer of `room` >= n bytes, then make sure the
 * stream ends there. The buffer grows (doubling from IDX_CHUNK) only as data arrives, so a
 * header that announces more than the stream holds costs only what the stream holds; large
 * reallocs are page remaps, not copies. */
static int idx_payload(gzFile f, size_t n, size_t room, unsigned char **out, const char *fn,
                       const char *path, const char *what) {
    *out = NULL;
    size_t cap = n < IDX_CHUNK ? n : IDX_CHUNK, have = 0;
    unsigned char *buf = sv_malloc(cap ? cap : 1);
    if (!buf) return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory for %zu bytes", fn, cap);
    int st = SEQVID_OK;
    while (have < n) {
        if (have == cap) {
            size_t ncap = cap > n / 2 ? n : cap * 2;
            unsigned char *nb = sv_realloc(buf, ncap);
            if (!nb) {
                st = sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory for %zu bytes", fn, ncap);
                goto fail;
            }
            buf = nb, cap = ncap;
        }
        size_t got;
        if ((st = gz_read(f, buf + have, cap - have, &got, fn, path))) goto fail;
        have += got;
        if (have < cap) break; /* end of file */
    }
    if (have < n) {
        st = sv_fail(SEQVID_ERR_FORMAT,
                     "%s: %s file '%s' is truncated: %zu of %zu data bytes present", fn, what,
                     path, have, n);
        goto fail;
    }
    unsigned char extra;
    size_t got;
    if ((st = gz_read(f, &extra, 1, &got, fn, path))) goto fail;
    if (got) {
        st = sv_fail(SEQVID_ERR_FORMAT,
                     "%s: %s file '%s' has data after the %zu bytes its header announces", fn,
                     what, path, n);
        goto fail;
    }
    /* gzread forgives a stream cut short (to read files still being written) and only records
     * Z_BUF_ERROR: all the data arrived, but not the trailer that vouches for it. */
    int zerr = Z_OK;
    gzerror(f, &zerr);
    if (zerr == Z_BUF_ERROR) {
        st = sv_fail(SEQVID_ERR_FORMAT,
                     "%s: %s file '%s' is a gzip stream without its trailer (CRC-32 and size)",
                     fn, what, path);
        goto fail;
    }
    if (room > cap) {
        unsigned char *nb = sv_realloc(buf, room);
        if (!nb) {
            st = sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory for %zu bytes", fn, room);
            goto fail;
        }
        buf = nb;
    }
    *out = buf;
    return SEQVID_OK;
fail:
    free(buf);
    return st;
}

/* Widen n bytes at the start of buf (room for n floats) into floats v / 255 in place. Going
 * from the last element down, float i (bytes 4i..4i+3) only overwrites bytes >= i, which
 * are read already: the set never needs the bytes and the floats at once. */
static float *bytes_to_pixels(unsigned char *buf, size_t n) {
    float scale[256];
    for (int v = 0; v < 256; v++) scale[v] = (float)v / 255.0f;
    for (size_t i = n; i-- > 0;) memcpy(buf + i * sizeof(float), &scale[buf[i]], sizeof(float));
    return (float *)(void *)buf;
}

/* Open a regular file (never blocking on a FIFO) for gzread; *size receives its size. */
static gzFile idx_open(const char *path, const char *fn, size_t *size, int *st) {
    int fd;
    if ((*st = sv_open_regular(fn, path, &fd, size))) return NULL;
    gzFile f = gzdopen(fd, "rb");
    if (!f) {
        close(fd);
        *st = sv_fail(SEQVID_ERR_NOMEM, "%s: cannot open '%s': out of memory", fn, path);
    }
    return f;
}

/* A header announcing n payload bytes: refused above the limit (before anything is inflated)
 * and, for a plain file, when the file is too short to hold them. */
static int idx_claim(gzFile f, size_t n, size_t file_size, size_t header, const char *fn,
                     const char *path, const char *what) {
    size_t limit = sv_limit(SEQVID_LIMIT_IDX_BYTES);
    if (n > limit)
        return sv_fail(SEQVID_ERR_FORMAT,
                       "%s: %s file '%s' announces %zu data bytes, more than the limit %zu "
                       "(seqvid_set_limit SEQVID_LIMIT_IDX_BYTES)", fn, what, path, n, limit);
    if (gzdirect(f) && file_size - header < n)
        return sv_fail(SEQVID_ERR_FORMAT,
                       "%s: %s file '%s' is truncated: %zu of %zu data bytes present", fn, what,
                       path, file_size - header, n);
    return SEQVID_OK;
}

static int load_images(const char *path, seqvid_digits *d, const char *fn) {
    int st;
    size_t size;
    gzFile f = idx_open(path, fn, &size, &st);
    if (!f) return st;
    size_t dims[3], n = 0;
    st = idx_header(f, 3, dims, fn, path, "images");
    if (!st) {
        if (dims[0] < 1 || dims[0] > INT_MAX || dims[1] < 1 || dims[1] > IDX_MAX_SIDE ||
            dims[2] < 1 || dims[2] > IDX_MAX_SIDE)
            st = sv_fail(SEQVID_ERR_FORMAT,
                         "%s: images file '%s' has absurd sizes %zu x %zu x %zu (need 1..%d "
                         "images of 1..%d pixels a side)",
                         fn, path, dims[0], dims[1], dims[2], INT_MAX, IDX_MAX_SIDE);
        else if (!sv_mul3(dims[0], dims[1], dims[2], &n) || n > SIZE_MAX / sizeof(float) - 64)
            st = sv_fail(SEQVID_ERR_OVERFLOW, "%s: %zu x %zu x %zu pixels is too large", fn,
                         dims[0], dims[1], dims[2]);
    }
    if (!st) st = idx_claim(f, n, size, 16, fn, path, "images");
    unsigned char *buf = NULL;
    if (!st) st = idx_payload(f, n, n * sizeof(float), &buf, fn, path, "images");
    if (!st) d->pixels = bytes_to_pixels(buf, n);
    gzclose(f);
    if (st) return st;
    d->count = dims[0], d->rows = dims[1], d->cols = dims[2];
    return SEQVID_OK;
}

static int load_labels(const char *path, seqvid_digits *d, const char *fn) {
    int st;
    size_t size;
    gzFile f = idx_open(path, fn, &size, &st);
    if (!f) return st;
    size_t n = 0;
    st = idx_header(f, 1, &n, fn, path, "labels");
    if (!st && n != d->count)
        st = sv_fail(SEQVID_ERR_FORMAT, "%s: labels file '%s' holds %zu labels for %zu images",
                     fn, path, n, d->count);
    if (!st) st = idx_claim(f, n, size, 8, fn, path, "labels");
    if (!st) st = idx_payload(f, n, n, &d->labels, fn, path, "labels");
    gzclose(f);
    return st;
}

int seqvid_digits_load(const char *images_path, const char *labels_path, seqvid_digits **out) {
    SV_NOT_NULL(out);
    *out = NULL;
    SV_NOT_NULL(images_path);
    seqvid_digits *d = sv_calloc(1, sizeof *d);
    if (!d) return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", __func__);
    int st = load_images(images_path, d, __func__);
    if (!st && labels_path) st = load_labels(labels_path, d, __func__);
    if (st) {
        seqvid_digits_free(d);
        return st;
    }
    *out = d;
    return SEQVID_OK;
}

void seqvid_digits_free(seqvid_digits *d) {
    if (!d) return;
    sv_free(d->pixels);
    free(d->labels);
    free(d);
}

int seqvid_digits_shape(const seqvid_digits *d, size_t *count, size_t *rows, size_t *cols) {
    SV_NOT_NULL(d);
    if (count) *count = d->count;
    if (rows) *rows = d->rows;
    if (cols) *cols = d->cols;
    return SEQVID_OK;
}

int seqvid_digits_image(const seqvid_digits *d, size_t i, const float **pixels) {
    SV_NOT_NULL(d);
    SV_NOT_NULL(pixels);
    if (i >= d->count)
        return sv_fail(SEQVID_ERR_ARG, "%s: image %zu >= count %zu", __func__, i, d->count);
    *pixels = d->pixels + i * d->rows * d->cols;
    return SEQVID_OK;
}

int seqvid_digits_label(const seqvid_digits *d, size_t i, int *label) {
    SV_NOT_NULL(d);
    SV_NOT_NULL(label);
    if (i >= d->count)
        return sv_fail(SEQVID_ERR_ARG, "%s: image %zu >= count %zu", __func__, i, d->count);
    if (!d->labels)
        return sv_fail(SEQVID_ERR_STATE, "%s: the digit set was loaded without labels", __func__);
    *label = d->labels[i];
    return SEQVID_OK;
}
