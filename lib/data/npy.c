/* npy.c -- NumPy .npy files: sequence arrays in, per-sequence lengths in, float32 arrays out.
 *
 * Format (numpy.lib.format): the 6 bytes "\x93NUMPY", major and minor version bytes (the
 * versions are 1.0, 2.0 and 3.0; any other, 1.9 or 2.1, is refused), the header length
 * (uint16 LE in version 1, uint32 LE in versions 2 and 3), then the header: a Python dict
 * literal {'descr': '<f4', 'fortran_order': False, 'shape': (20, 10000, 64, 64), } padded
 * with spaces and ended by '\n' (required, as numpy's own reader requires it), then the
 * elements in C order. Paths that are not regular files (FIFOs, directories) are refused at
 * once, without blocking. The dict is parsed here
 * by hand: exactly those three keys, strings in ' or ", True/False, a tuple of integers
 * (Python 2 numpy wrote them with an 'L' suffix). Multi-byte elements are decoded from
 * little-endian bytes explicitly, so the files read the same on any host. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../alloc.h"
#include "../batch.h"
#include "../error.h"
#include "../fileio.h"

#define NPY_MAX_HEADER 65536 /* numpy itself refuses more than 10000 bytes by default */
#define NPY_MAX_DIMS 32      /* numpy < 2 allows 32; files with more are taken as corrupt */

typedef struct npy_header {
    char kind;       /* 'u', 'i' or 'f' (others are refused while parsing) */
    size_t itemsize; /* bytes per element: 1, 2, 4 or 8 */
    int fortran;     /* fortran_order */
    size_t ndim, shape[NPY_MAX_DIMS];
    size_t count;    /* product of shape (checked) */
    long offset;     /* where the data starts */
} npy_header;

/* ---- the header dict ------------------------------------------------------------------ */

typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int accept(cursor *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted string without escapes into out[cap]; 0 on syntax error. */
static int parse_string(cursor *c, char *out, size_t cap) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return 0;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= cap) return 0;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end) return 0;
    c->p++;
    out[n] = '\0';
    return 1;
}

static int parse_word(cursor *c, const char *w) {
    skip_ws(c);
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0) return 0;
    c->p += n;
    return 1;
}

/* A tuple of non-negative integers: (), (5,), (2, 3), (2, 3,), with optional L suffixes. */
static int parse_shape(cursor *c, npy_header *h, const char *fn, const char *path) {
    if (!accept(c, '('))
        return sv_fail(SEQVID_ERR_FORMAT, "%s: '%s': header 'shape' is not a tuple", fn, path);
    h->ndim = 0;
    if (accept(c, ')')) return SEQVID_OK;
    for (;;) {
        skip_ws(c);
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
            return sv_fail(SEQVID_ERR_FORMAT, "%s: '%s': header 'shape' holds a non-integer",
                           fn, path);
        size_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            size_t digit = (size_t)(*c->p++ - '0');
            if (v > (SIZE_MAX - digit) / 10)
                return sv_fail(SEQVID_ERR_OVERFLOW, "%s: '%s': a dimension overflows size_t",
                               fn, path);
            v = v * 10 + digit;
        }
        if (c->p < c->end && *c->p == 'L') c->p++;
        if (h->ndim == NPY_MAX_DIMS)
            return sv_fail(SEQVID_ERR_FORMAT, "%s: '%s': more than %d dimensions", fn, path,
                           NPY_MAX_DIMS);
        h->shape[h->ndim++] = v;
        int comma = accept(c, ',');
        if (accept(c, ')')) {
            if (h->ndim == 1 && !comma)
                return sv_fail(SEQVID_ERR_FORMAT, "%s: '%s': header shape (n) is not a tuple",
                               fn, path);
            return SEQVID_OK;
        }
        if (!comma)
            return sv_fail(SEQVID_ERR_FORMAT, "%s: '%s': header 'shape' is malformed", fn, path);
    }
}

/* descr: byte order, kind, size ('<f4', '|u1', ...). Only plain little-endian integers and
 * floats are understood; everything else numpy can write is refused as unsupported. */
static int parse_descr(const char *s, npy_header *h, const char *fn, const char *path) {
    char order = s[0];
    if (order != '<' && order != '>' && order != '|' && order != '=')
        return sv_fail(SEQVID_ERR_FORMAT, "%s: '%s': dtype '%s' has no byte-order mark", fn,
                       path, s);
    char kind = s[1];
    char *endp = NULL;
    errno = 0;
    long size = kind && s[2] >= '0' && s[2] <= '9' ? strtol(s + 2, &endp, 10) : 0;
    if (!endp || errno || *endp != '\0' || size < 1)
        return sv_fail(kind == 'O' ? SEQVID_ERR_UNSUPPORTED : SEQVID_ERR_FORMAT,
                       "%s: '%s': dtype '%s' is %s", fn, path, s,
                       kind == 'O' ? "an object array (pickled Python objects)" : "malformed");
    if (kind != 'u' && kind != 'i' && kind != 'f')
        return sv_fail(SEQVID_ERR_UNSUPPORTED,
                       "%s: '%s': dtype '%s' is not an integer or floating type", fn, path, s);
    if (size != 1 && size != 2 && size != 4 && size != 8)
        return sv_fail(SEQVID_ERR_UNSUPPORTED, "%s: '%s': dtype '%s' has an unusual size", fn,
                       path, s);
    if (size > 1 && order == '>')
        return sv_fail(SEQVID_ERR_UNSUPPORTED, "%s: '%s': dtype '%s' is big-endian", fn, path, s);
    if (size > 1 && order != '<')
        return sv_fail(SEQVID_ERR_UNSUPPORTED,
                       "%s: '%s': dtype '%s' has no explicit little-endian order", fn, path, s);
    h->kind = kind;
    h->itemsize = (size_t)size;
    return SEQVID_OK;
}

static int parse_dict(const char *text, size_t n, npy_header *h, const char *fn,
                      const char *path) {
    cursor c = {text, text + n};
    int seen_descr = 0, seen_fortran = 0, seen_shape = 0, st;
    char key[32], descr[32];
    if (!accept(&c, '{'))
        return sv_fail(SEQVID_ERR_FORMAT, "%s: '%s': header is not a dict", fn, path);
    while (!accept(&c, '}')) {
        if (!parse_string(&c, key, sizeof key) || !accept(&c, ':'))
            return sv_fail(SEQVID_ERR_FORMAT, "%s: '%s': header dict is malformed", fn, path);
        if (!strcmp(key, "descr") && !seen_descr) {
            skip_ws(&c);
            if (c.p < c.end && *c.p == '[')
                return sv_fail(SEQVID_ERR_UNSUPPORTED, "%s: '%s': structured dtypes are not "
                               "supported", fn, path);
            if (!parse_string(&c, descr, sizeof descr))
                return sv_fail(SEQVID_ERR_FORMAT, "%s: '%s': header 'descr' is not a string",
                               fn, path);
            seen_descr = 1;
        } else if (!strcmp(key, "fortran_order") && !seen_fortran) {
            if (parse_word(&c, "True"))
                h->fortran = 1;
            else if (parse_word(&c, "False"))
                h->fortran = 0;
            else
                return sv_fail(SEQVID_ERR_FORMAT, "%s: '%s': 'fortran_order' is not a bool", fn,
                               path);
            seen_fortran = 1;
        } else if (!strcmp(key, "shape") && !seen_shape) {
            if ((st = parse_shape(&c, h, fn, path))) return st;
            seen_shape = 1;
        } else {
            return sv_fail(SEQVID_ERR_FORMAT, "%s: '%s': unexpected or repeated header key '%s'",
                           fn, path, key);
        }
        if (!accept(&c, ',')) {
            if (!accept(&c, '}'))
                return sv_fail(SEQVID_ERR_FORMAT, "%s: '%s': header dict is malformed", fn,
                               path);
            break;
        }
    }
    skip_ws(&c);
    if (c.p != c.end)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: '%s': bytes after the header dict", fn, path);
    if (!seen_descr || !seen_fortran || !seen_shape)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: '%s': header lacks descr, fortran_order or shape",
                       fn, path);
    return parse_descr(descr, h, fn, path);
}

/* Open `path`, parse its header and check that the file holds exactly the data announced. */
static int npy_open(const char *path, npy_header *h, FILE **out, const char *fn) {
    *out = NULL;
    memset(h, 0, sizeof *h);
    int fd;
    size_t fsize;
    int st = sv_open_regular(fn, path, &fd, &fsize);
    if (st) return st;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int err = errno;
        close(fd);
        return sv_fail(SEQVID_ERR_IO, "%s: cannot read '%s': %s", fn, path, strerror(err));
    }
    unsigned char pre[12];
    char *text = NULL;
    size_t hlen = 0, lenbytes = 0;
    if (fread(pre, 1, 8, f) != 8 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        st = sv_fail(SEQVID_ERR_FORMAT, "%s: '%s' is not a .npy file (bad magic)", fn, path);
        goto done;
    }
    if (pre[6] < 1 || pre[6] > 3 || pre[7] != 0) {
        st = sv_fail(SEQVID_ERR_UNSUPPORTED, "%s: '%s' is .npy version %u.%u; 1.0 to 3.0 are read",
                     fn, path, pre[6], pre[7]);
        goto done;
    }
    lenbytes = pre[6] == 1 ? 2 : 4;
    if (fread(pre + 8, 1, lenbytes, f) != lenbytes) {
        st = sv_fail(SEQVID_ERR_FORMAT, "%s: '%s' is truncated inside its header", fn, path);
        goto done;
    }
    for (size_t i = 0; i < lenbytes; i++) hlen |= (size_t)pre[8 + i] << (8 * i);
    if (hlen > NPY_MAX_HEADER) {
        st = sv_fail(SEQVID_ERR_FORMAT, "%s: '%s' announces a %zu-byte header (more than %d)",
                     fn, path, hlen, NPY_MAX_HEADER);
        goto done;
    }
    text = sv_malloc(hlen + 1);
    if (!text) {
        st = sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    if (fread(text, 1, hlen, f) != hlen) {
        st = sv_fail(SEQVID_ERR_FORMAT, "%s: '%s' is truncated inside its header", fn, path);
        goto done;
    }
    /* The spec ends the header with '\n' (numpy writes it, and its reader demands it). */
    if (hlen == 0 || text[hlen - 1] != '\n') {
        st = sv_fail(SEQVID_ERR_FORMAT, "%s: '%s': the header does not end with a newline", fn,
                     path);
        goto done;
    }
    if ((st = parse_dict(text, hlen - 1, h, fn, path))) goto done;
    h->count = 1;
    for (size_t i = 0; i < h->ndim; i++)
        if (!sv_mul(h->count, h->shape[i], &h->count)) {
            st = sv_fail(SEQVID_ERR_OVERFLOW, "%s: '%s': the shape's product overflows", fn,
                         path);
            goto done;
        }
    size_t bytes;
    if (!sv_mul(h->count, h->itemsize, &bytes) || bytes > (size_t)INT64_MAX) {
        st = sv_fail(SEQVID_ERR_OVERFLOW, "%s: '%s': the data size overflows", fn, path);
        goto done;
    }
    h->offset = (long)(8 + lenbytes + hlen); /* where the reads above left the stream */
    size_t have = fsize - (size_t)h->offset;   /* the reads prove fsize >= offset */
    if (have != bytes)
        st = sv_fail(SEQVID_ERR_FORMAT, "%s: '%s' holds %zu data bytes, its header announces %zu%s",
                     fn, path, have, bytes, have < bytes ? " (truncated)" : "");
done:
    free(text);
    if (st)
        fclose(f);
    else
        *out = f;
    return st;
}

static uint64_t le_bytes(const unsigned char *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* ---- frames ---------------------------------------------------------------------------- */

int seqvid_npy_load(const char *path, int layout, seqvid_batch **out) {
    const char *fn = __func__;
    SV_NOT_NULL(out);
    *out = NULL;
    SV_NOT_NULL(path);
    if (layout != SEQVID_LAYOUT_TIME_MAJOR && layout != SEQVID_LAYOUT_SEQ_MAJOR)
        return sv_fail(SEQVID_ERR_ARG, "%s: unknown layout %d", fn, layout);
    npy_header h;
    FILE *f;
    int st = npy_open(path, &h, &f, fn);
    if (st) return st;
    seqvid_batch *b = NULL;
    unsigned char *raw = NULL;
    if (!((h.kind == 'u' && h.itemsize == 1) || (h.kind == 'f' && h.itemsize == 4))) {
        st = sv_fail(SEQVID_ERR_UNSUPPORTED, "%s: '%s': frames must be uint8 or float32", fn,
                     path);
        goto done;
    }
    if (h.fortran) {
        st = sv_fail(SEQVID_ERR_UNSUPPORTED, "%s: '%s' is in Fortran order; save it in C order",
                     fn, path);
        goto done;
    }
    if (h.ndim < 3) {
        st = sv_fail(SEQVID_ERR_SHAPE, "%s: '%s' has %zu dimensions; need >= 3 (%s, ...)", fn,
                     path, h.ndim, layout == SEQVID_LAYOUT_TIME_MAJOR ? "T, N" : "N, T");
        goto done;
    }
    if (h.count == 0) {
        st = sv_fail(SEQVID_ERR_FORMAT, "%s: '%s' holds an empty array", fn, path);
        goto done;
    }
    size_t T = h.shape[layout == SEQVID_LAYOUT_TIME_MAJOR ? 0 : 1];
    size_t N = h.shape[layout == SEQVID_LAYOUT_TIME_MAJOR ? 1 : 0];
    size_t D = h.count / T / N; /* the product of the trailing dims; count did not overflow */
    if ((st = seqvid_batch_create(T, N, D, &b))) goto done;
    raw = sv_malloc(D * h.itemsize);
    if (!raw) {
        st = sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    /* Frames arrive in file order; frame i of a (N, T, ...) file is (t, n) = (i % T, i / T). */
    for (size_t i = 0; i < T * N; i++) {
        if (fread(raw, h.itemsize, D, f) != D) {
            st = sv_fail(ferror(f) ? SEQVID_ERR_IO : SEQVID_ERR_FORMAT,
                         "%s: '%s': read failed at frame %zu", fn, path, i);
            goto done;
        }
        size_t dst = layout == SEQVID_LAYOUT_TIME_MAJOR ? i : (i % T) * N + i / T;
        float *x = b->data + dst * D;
        if (h.itemsize == 1) {
            for (size_t j = 0; j < D; j++) x[j] = (float)raw[j] / 255.0f;
        } else {
            for (size_t j = 0; j < D; j++) {
                uint32_t u = (uint32_t)le_bytes(raw + 4 * j, 4);
                memcpy(x + j, &u, sizeof u);
            }
        }
    }
done:
    free(raw);
    fclose(f);
    if (st)
        seqvid_batch_free(b);
    else
        *out = b;
    return st;
}

/* ---- lengths --------------------------------------------------------------------------- */

int seqvid_npy_load_lengths(const char *path, seqvid_batch *batch) {
    const char *fn = __func__;
    SV_NOT_NULL(path);
    int st = sv_batch_check(batch, 0, fn);
    if (st) return st;
    npy_header h;
    FILE *f;
    if ((st = npy_open(path, &h, &f, fn))) return st;
    unsigned char *raw = NULL;
    int *len = NULL;
    if (h.kind != 'u' && h.kind != 'i') {
        st = sv_fail(SEQVID_ERR_UNSUPPORTED, "%s: '%s': lengths must be integers", fn, path);
        goto done;
    }
    if (h.ndim != 1 || h.count != batch->S) {
        st = sv_fail(SEQVID_ERR_SHAPE, "%s: '%s' must be 1-D with one length per sequence (%zu); "
                     "it has %zu dims and %zu values", fn, path, batch->S, h.ndim, h.count);
        goto done;
    }
    raw = sv_malloc(h.count * h.itemsize);
    len = sv_malloc(h.count * sizeof *len);
    if (!raw || !len) {
        st = sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    if (fread(raw, h.itemsize, h.count, f) != h.count) {
        st = sv_fail(SEQVID_ERR_IO, "%s: '%s': read failed", fn, path);
        goto done;
    }
    for (size_t i = 0; i < h.count; i++) {
        uint64_t u = le_bytes(raw + i * h.itemsize, h.itemsize);
        int negative = 0;
        if (h.kind == 'i' && h.itemsize < 8 && (u >> (8 * h.itemsize - 1)) & 1) negative = 1;
        if (h.kind == 'i' && h.itemsize == 8 && (u >> 63)) negative = 1;
        if (negative || u < 1 || u > batch->T) {
            st = sv_fail(SEQVID_ERR_SHAPE, "%s: '%s': length of sequence %zu is %s%llu, outside "
                         "[1, %zu]", fn, path, i, negative ? "negative " : "",
                         negative ? 0ull : (unsigned long long)u, batch->T);
            goto done;
        }
        len[i] = (int)u;
    }
    memcpy(batch->len, len, h.count * sizeof *len); /* all valid: only now touch the batch */
done:
    free(raw);
    free(len);
    fclose(f);
    return st;
}

/* ---- writing --------------------------------------------------------------------------- */

int seqvid_npy_save(const char *path, const float *data, size_t ndim, const size_t *shape) {
    const char *fn = __func__;
    SV_NOT_NULL(path);
    SV_NOT_NULL(data);
    SV_NOT_NULL(shape);
    if (ndim < 1 || ndim > NPY_MAX_DIMS)
        return sv_fail(SEQVID_ERR_ARG, "%s: ndim %zu outside 1..%d", fn, ndim, NPY_MAX_DIMS);
    size_t count = 1;
    for (size_t i = 0; i < ndim; i++)
        if (!sv_mul(count, shape[i], &count) || count > SIZE_MAX / 4)
            return sv_fail(SEQVID_ERR_OVERFLOW, "%s: the shape's product overflows", fn);

    /* Version 1.0 header: magic, 1, 0, uint16 LE length, the dict padded with spaces and
     * ended by '\n' so that the data starts at a multiple of 64 bytes (numpy's alignment). */
    char head[10 + 64 * 24 + 128];
    int n = snprintf(head + 10, sizeof head - 10, "{'descr': '<f4', 'fortran_order': False, "
                     "'shape': (");
    for (size_t i = 0; i < ndim; i++)
        n += snprintf(head + 10 + n, sizeof head - 10 - (size_t)n, "%zu%s", shape[i],
                      ndim == 1 ? "," : (i + 1 < ndim ? ", " : ""));
    n += snprintf(head + 10 + n, sizeof head - 10 - (size_t)n, "), }");
    size_t total = 10 + (size_t)n + 1;
    total = (total + 63) / 64 * 64;
    memset(head + 10 + n, ' ', total - 10 - (size_t)n - 1);
    head[total - 1] = '\n';
    memcpy(head, "\x93NUMPY\x01\x00", 8);
    head[8] = (char)((total - 10) & 0xff);
    head[9] = (char)((total - 10) >> 8);

    FILE *f = fopen(path, "wb");
    if (!f) return sv_fail(SEQVID_ERR_IO, "%s: cannot create '%s': %s", fn, path, strerror(errno));
    int ok = fwrite(head, 1, total, f) == total;
    unsigned char buf[4096];
    for (size_t i = 0; ok && i < count; i += sizeof buf / 4) {
        size_t m = count - i < sizeof buf / 4 ? count - i : sizeof buf / 4;
        for (size_t j = 0; j < m; j++) {
            uint32_t u;
            memcpy(&u, data + i + j, sizeof u);
            for (int k = 0; k < 4; k++) buf[4 * j + (size_t)k] = (unsigned char)(u >> (8 * k));
        }
        ok = fwrite(buf, 4, m, f) == m;
    }
    int err = errno;
    if (fclose(f) != 0 && ok) ok = 0, err = errno;
    if (!ok) {
        remove(path);
        return sv_fail(SEQVID_ERR_IO, "%s: writing '%s' failed: %s", fn, path, strerror(err));
    }
    return SEQVID_OK;
}
