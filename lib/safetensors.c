/* safetensors.c -- the safetensors byte format (spec: docs/format.md): an 8-byte
 * little-endian header length N | N bytes of JSON header, padded with spaces so that the data
 * starts at a multiple of 8 | the data section, tensors tiling it exactly. Explicit
 * little-endian bytes, never struct or host-order dumps; CRC-32 (zlib) of the data section.
 * What the tensors and the metadata mean is serialize.c's business. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "alloc.h"
#include "atomic_io.h"
#include "error.h"
#include "json_strict.h"
#include "safetensors.h"
#include "sniff.h"
#include "util.h"

/* ------------------------------------------------------------------------------------------
 * Bytes
 * ---------------------------------------------------------------------------------------- */
void sv_put_u64le(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

uint64_t sv_get_u64le(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static void f32_to_le(unsigned char *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++, dst += 4) {
        uint32_t u;
        memcpy(&u, &src[i], 4);
        dst[0] = (unsigned char)u, dst[1] = (unsigned char)(u >> 8);
        dst[2] = (unsigned char)(u >> 16), dst[3] = (unsigned char)(u >> 24);
    }
}

/* Little-endian bytes -> host floats, in place (a no-op permutation on little-endian hosts). */
void sv_f32_from_le(void *mem, size_t n) {
    unsigned char *p = mem;
    for (size_t i = 0; i < n; i++, p += 4) {
        uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24;
        memcpy(p, &u, 4);
    }
}

/* zlib's crc32 takes 32-bit lengths. */
uint32_t sv_crc_update(uint32_t crc, const void *p, size_t n) {
    const unsigned char *b = p;
    while (n) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, b, k);
        b += k, n -= k;
    }
    return crc;
}

/* A printable copy of a name from a file, for messages. */
const char *sv_shown(const char *s, char *buf, size_t cap) {
    size_t i = 0;
    for (; s[i] && i + 4 < cap; i++) buf[i] = (s[i] >= 32 && s[i] < 127) ? s[i] : '?';
    if (s[i]) buf[i++] = '.', buf[i++] = '.', buf[i++] = '.';
    buf[i] = 0;
    return buf;
}

/* ------------------------------------------------------------------------------------------
 * Writing
 * ---------------------------------------------------------------------------------------- */
int sv_sink_bytes(sv_sink *s, const void *p, size_t n) {
    if (s->crc_only) {
        s->crc = sv_crc_update(s->crc, p, n);
        return 0;
    }
    if (s->buf) {
        memcpy(s->buf + s->pos, p, n);
        s->pos += n;
        return 0;
    }
    const unsigned char *b = p;
    while (n) {
        ssize_t w = write(s->fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            s->err = w < 0 ? errno : EIO;
            return -1;
        }
        b += w, n -= (size_t)w;
    }
    return 0;
}

int sv_sink_f32(sv_sink *s, const float *x, size_t n) {
    if (s->buf && !s->crc_only) { /* convert straight into the caller's buffer */
        f32_to_le(s->buf + s->pos, x, n);
        s->pos += 4 * n;
        return 0;
    }
    for (size_t i = 0; i < n; i += SV_ST_CHUNK) {
        size_t k = n - i < SV_ST_CHUNK ? n - i : SV_ST_CHUNK;
        f32_to_le(s->chunk, x + i, k);
        if (sv_sink_bytes(s, s->chunk, 4 * k)) return -1;
    }
    return 0;
}

int sv_st_emit_data(const sv_tensor *t, size_t n, sv_sink *s) {
    for (size_t i = 0; i < n; i++) {
        int r = t[i].dtype == SV_DT_F32 ? sv_sink_f32(s, t[i].src, t[i].count)
                                        : sv_sink_bytes(s, t[i].src, t[i].count);
        if (r) return -1;
    }
    return 0;
}

int sv_st_emit(const char *header, size_t header_len, const sv_tensor *t, size_t n,
               sv_sink *s) {
    unsigned char len[8];
    sv_put_u64le(len, header_len);
    if (sv_sink_bytes(s, len, 8) || sv_sink_bytes(s, header, header_len)) return -1;
    return sv_st_emit_data(t, n, s);
}

size_t sv_st_layout(sv_tensor *t, size_t n) {
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t bytes = t[i].count * (t[i].dtype == SV_DT_F32 ? 4 : 1); /* in memory: fits */
        t[i].begin = off;
        t[i].end = off += bytes;
    }
    return off;
}

static int add_sizes(cJSON *obj, const char *key, const size_t *v, int n) {
    cJSON *a = cJSON_AddArrayToObject(obj, key);
    if (!a) return 0;
    for (int i = 0; i < n; i++) {
        cJSON *x = cJSON_CreateNumber((double)v[i]);
        if (!x || !cJSON_AddItemToArray(a, x)) {
            cJSON_Delete(x);
            return 0;
        }
    }
    return 1;
}


int sv_st_json_tensor(cJSON *root, const sv_tensor *t) {
    cJSON *e = cJSON_AddObjectToObject(root, t->name);
    size_t offs[2] = {t->begin, t->end};
    return e && cJSON_AddStringToObject(e, "dtype", t->dtype == SV_DT_F32 ? "F32" : "U8") &&
           add_sizes(e, "shape", t->shape, t->ndim) && add_sizes(e, "data_offsets", offs, 2);
}

/* ------------------------------------------------------------------------------------------
 * Reading
 * ---------------------------------------------------------------------------------------- */
/* Read n bytes to dst (NULL: skip them), folding them into *crc when crc is not NULL. */
int sv_src_read(const char *fn, sv_source *s, void *dst, size_t n, uint32_t *crc) {
    if (n > s->size - s->pos)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: truncated: %zu bytes needed at offset %zu of %zu",
                       fn, n, s->pos, s->size);
    if (s->buf) {
        if (dst) memcpy(dst, s->buf + s->pos, n);
        if (crc) *crc = sv_crc_update(*crc, s->buf + s->pos, n);
        s->pos += n;
        return SEQVID_OK;
    }
    unsigned char *d = dst;
    while (n) {
        size_t k = d ? n : (n < 4 * SV_ST_CHUNK ? n : 4 * SV_ST_CHUNK);
        unsigned char *to = d ? d : s->chunk;
        size_t got = fread(to, 1, k, s->fp);
        if (crc) *crc = sv_crc_update(*crc, to, got);
        s->pos += got;
        if (got != k)
            return ferror(s->fp)
                       ? sv_io_fail(fn, "read error in", "file", errno)
                       : sv_fail(SEQVID_ERR_FORMAT, "%s: the file ended at byte %zu (it "
                                 "shrank while being read?)", fn, s->pos);
        if (d) d += k;
        n -= k;
    }
    return SEQVID_OK;
}


int sv_st_read_header(const char *fn, sv_source *src, cJSON **out, size_t *data_bytes) {
    *out = NULL;
    if (src->size < 8)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: %zu bytes is too short for a safetensors file",
                       fn, src->size);
    unsigned char lenb[8];
    int st = sv_src_read(fn, src, lenb, 8, NULL);
    if (st) return st;
    uint64_t n = sv_get_u64le(lenb);
    if ((st = sv_sniff_not_safetensors(fn, lenb, n, src->size))) return st;
    if (n > SV_ST_MAX_HEADER)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: header length %" PRIu64 " exceeds the %" PRIu64
                       "-byte limit", fn, n, SV_ST_MAX_HEADER);
    if (n > src->size - 8)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: header length %" PRIu64 " exceeds the %zu bytes "
                       "that follow it (truncated file?)", fn, n, src->size - 8);
    if (n < 2)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: header length %" PRIu64 " is too short", fn, n);

    char *owned = NULL;
    cJSON *root = NULL;
    const char *json = (const char *)src->buf + 8;
    if (!src->buf) {
        if (!(owned = sv_malloc((size_t)n))) {
            st = sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory for a %" PRIu64 "-byte header", fn,
                         n);
            goto fail;
        }
        if ((st = sv_src_read(fn, src, owned, (size_t)n, NULL))) goto fail;
        json = owned;
    } else {
        src->pos += (size_t)n;
    }
    *data_bytes = src->size - 8 - (size_t)n;

    /* The JSON: one object, then only whitespace (safetensors pads with spaces). */
    const char *end = NULL;
    if (json[0] != '{') {
        st = sv_fail(SEQVID_ERR_FORMAT, "%s: the header does not start with '{'", fn);
        goto fail;
    }
    size_t bad_at;
    const char *why;
    if (!sv_json_strict(json, (size_t)n, &bad_at, &why)) { /* cJSON alone is lenient */
        st = sv_fail(SEQVID_ERR_FORMAT, "%s: the header is not valid JSON: %s (at byte %zu)", fn,
                     why, bad_at);
        goto fail;
    }
    root = cJSON_ParseWithLengthOpts(json, (size_t)n, &end, 0);
    if (!root) { /* valid JSON (checked above) that cJSON could not build: its allocation */
        st = sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory parsing the header", fn);
        goto fail;
    }
    for (const char *p = end; p < json + n; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            st = sv_fail(SEQVID_ERR_FORMAT, "%s: unexpected bytes after the header's JSON object "
                         "(at byte %td)", fn, p - json);
            goto fail;
        }
    if (!cJSON_IsObject(root)) {
        st = sv_fail(SEQVID_ERR_FORMAT, "%s: the header is not a JSON object", fn);
        goto fail;
    }
    free(owned);
    *out = root;
    return SEQVID_OK;
fail:
    cJSON_Delete(root);
    free(owned);
    return st;
}

/* A JSON number usable as a size: integral, 0 <= v <= 2^53 (beyond that doubles are not
 * exact), and representable in size_t. */
int sv_json_size(const cJSON *x, size_t *out) {
    if (!cJSON_IsNumber(x)) return 0;
    double v = x->valuedouble;
    if (!(v >= 0 && v <= SV_EXACT_INT) || v != floor(v) || v > (double)SIZE_MAX) return 0;
    *out = (size_t)v;
    return 1;
}

int sv_st_parse_tensor(const char *fn, const cJSON *e, size_t data_bytes, sv_tensor *t) {
    char nm[80];
    sv_shown(e->string, nm, sizeof nm);
    if (strlen(e->string) >= SV_ST_NAME_CAP)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: unknown tensor '%s' (name of %zu bytes)", fn, nm,
                       strlen(e->string));
    memcpy(t->name, e->string, strlen(e->string) + 1);
    if (!cJSON_IsObject(e))
        return sv_fail(SEQVID_ERR_FORMAT, "%s: tensor '%s' is not a JSON object", fn, nm);
    const cJSON *dtype = NULL, *shape = NULL, *offs = NULL;
    for (const cJSON *c = e->child; c; c = c->next) {
        const cJSON **slot = !strcmp(c->string, "dtype")          ? &dtype
                             : !strcmp(c->string, "shape")        ? &shape
                             : !strcmp(c->string, "data_offsets") ? &offs
                                                                  : NULL;
        char f[40];
        if (!slot)
            return sv_fail(SEQVID_ERR_FORMAT, "%s: tensor '%s' has an unknown field '%s'", fn,
                           nm, sv_shown(c->string, f, sizeof f));
        if (*slot)
            return sv_fail(SEQVID_ERR_FORMAT, "%s: tensor '%s' has field '%s' twice", fn, nm,
                           c->string);
        *slot = c;
    }
    if (!dtype || !shape || !offs)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: tensor '%s' lacks '%s'", fn, nm,
                       !dtype ? "dtype" : !shape ? "shape" : "data_offsets");
    char dt[24];
    if (cJSON_IsString(dtype) && !strcmp(dtype->valuestring, "F32")) t->dtype = SV_DT_F32;
    else if (cJSON_IsString(dtype) && !strcmp(dtype->valuestring, "U8")) t->dtype = SV_DT_U8;
    else
        return sv_fail(SEQVID_ERR_FORMAT, "%s: tensor '%s' has dtype %s; this format stores F32 "
                       "(and U8 for the generator state)", fn, nm,
                       cJSON_IsString(dtype) ? sv_shown(dtype->valuestring, dt, sizeof dt)
                                             : "(not a string)");
    if (!cJSON_IsArray(shape))
        return sv_fail(SEQVID_ERR_FORMAT, "%s: tensor '%s': shape is not an array", fn, nm);
    t->ndim = 0;
    t->count = 1;
    for (const cJSON *c = shape->child; c; c = c->next) {
        if (t->ndim == 2)
            return sv_fail(SEQVID_ERR_FORMAT, "%s: tensor '%s' has more than 2 dimensions", fn,
                           nm);
        size_t d;
        if (!sv_json_size(c, &d))
            return sv_fail(SEQVID_ERR_FORMAT, "%s: tensor '%s': a dimension is not an integer "
                           "in [0, 2^53]", fn, nm);
        if (!sv_mul(t->count, d, &t->count))
            return sv_fail(SEQVID_ERR_FORMAT, "%s: tensor '%s': element count overflows", fn, nm);
        t->shape[t->ndim++] = d;
    }
    if (t->ndim == 0)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: tensor '%s' is a scalar; expected 1 or 2 "
                       "dimensions", fn, nm);
    if (t->ndim == 1) t->shape[1] = 1;
    size_t bytes;
    if (!sv_mul(t->count, t->dtype == SV_DT_F32 ? 4 : 1, &bytes))
        return sv_fail(SEQVID_ERR_FORMAT, "%s: tensor '%s': byte size overflows", fn, nm);
    const cJSON *b = cJSON_IsArray(offs) ? offs->child : NULL;
    const cJSON *en = b ? b->next : NULL;
    if (!b || !en || en->next || !sv_json_size(b, &t->begin) || !sv_json_size(en, &t->end))
        return sv_fail(SEQVID_ERR_FORMAT, "%s: tensor '%s': data_offsets is not a pair of "
                       "integers", fn, nm);
    if (t->begin > t->end || t->end > data_bytes)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: tensor '%s': data_offsets [%zu, %zu) lie outside "
                       "the %zu-byte data section", fn, nm, t->begin, t->end, data_bytes);
    if (t->end - t->begin != bytes)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: tensor '%s': data_offsets span %zu bytes, its "
                       "dtype and shape need %zu", fn, nm, t->end - t->begin, bytes);
    return SEQVID_OK;
}

/* Sort tensor indices by begin offset and require that they tile the data section: no gap,
 * no overlap, nothing left over. */
int sv_st_check_tiling(const char *fn, const sv_tensor *t, size_t n, size_t *order,
                       size_t data_bytes) {
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        for (; j > 0 && t[order[j - 1]].begin > t[i].begin; j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const sv_tensor *ti = &t[order[i]];
        if (ti->begin != at)
            return sv_fail(SEQVID_ERR_FORMAT, "%s: tensor '%s' starts at data byte %zu, expected "
                           "%zu (tensors must tile the data section without %s)", fn, ti->name,
                           ti->begin, at, ti->begin < at ? "overlap" : "gaps");
        at = ti->end;
    }
    if (at != data_bytes)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: the tensors cover %zu bytes of a %zu-byte data "
                       "section", fn, at, data_bytes);
    return SEQVID_OK;
}

