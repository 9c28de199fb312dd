/* safetensors.h -- private: the safetensors byte format (docs/format.md) and its CRC-32:
 * tensors, the header's length prefix and JSON, the data section, little-endian conversion,
 * writing to memory / a file descriptor / a checksum, reading from memory or a FILE. */
#ifndef SV_SAFETENSORS_H
#define SV_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>

#define SV_ST_MAX_HEADER ((uint64_t)100 << 20) /* 100 MiB, the safetensors reference limit */
#define SV_ST_NAME_CAP 64
#define SV_ST_CHUNK 16384 /* floats per conversion chunk (64 KiB) */

enum { SV_DT_F32 = 1, SV_DT_U8 = 2 };

typedef struct sv_tensor {
    char name[SV_ST_NAME_CAP];
    int dtype, ndim;
    size_t shape[2];
    size_t count;      /* elements */
    size_t begin, end; /* bytes [begin, end) of the data section */
    const void *src;   /* writing: host floats or bytes */
    void *dst;         /* reading: destination of the bytes (NULL: checksum only) */
    uint16_t *dst16;   /* reading F32 into a bf16 model: read through a buffer, checked and
                          rounded into here (dst NULL) */
    int through;       /* reading F32 with dst and dst16 NULL: read through a buffer and
                          checked, kept nowhere */
} sv_tensor;

void sv_put_u64le(unsigned char *p, uint64_t v);
uint64_t sv_get_u64le(const unsigned char *p);
/* Little-endian bytes -> host floats, in place (a no-op permutation on little-endian hosts). */
void sv_f32_from_le(void *mem, size_t n);
/* zlib's crc32 over any length. */
uint32_t sv_crc_update(uint32_t crc, const void *p, size_t n);
/* A printable copy of a name from a file, for messages. */
const char *sv_shown(const char *s, char *buf, size_t cap);

/* ---- writing ---- */
typedef struct sv_sink {
    unsigned char *buf; /* memory sink ... */
    size_t pos;
    int fd;              /* ... or file sink */
    int crc_only;        /* ... or only the checksum of what passes */
    uint32_t crc;
    unsigned char *chunk; /* SV_ST_CHUNK * 4 bytes of scratch (file and checksum sinks) */
    int err;              /* errno of a failed write */
} sv_sink;

/* 0, or -1 with s->err set. */
int sv_sink_bytes(sv_sink *s, const void *p, size_t n);
/* n floats as little-endian bytes. */
int sv_sink_f32(sv_sink *s, const float *x, size_t n);
/* Give the n tensors consecutive [begin, end) byte ranges; returns the data section's size. */
size_t sv_st_layout(sv_tensor *t, size_t n);
/* The header entry of tensor t ({dtype, shape, data_offsets}) in the JSON object root. */
int sv_st_json_tensor(cJSON *root, const sv_tensor *t);
/* The data section (the tensors' src, in order). */
int sv_st_emit_data(const sv_tensor *t, size_t n, sv_sink *s);
/* A whole file: length prefix, header (already padded to header_len), data. */
int sv_st_emit(const char *header, size_t header_len, const sv_tensor *t, size_t n,
               sv_sink *s);

/* ---- reading ---- */
typedef struct sv_source {
    const unsigned char *buf; /* memory source, or NULL for fp */
    FILE *fp;
    size_t size, pos;
    unsigned char *chunk; /* scratch for skipped tensors of a file */
} sv_source;

/* Read n bytes to dst (NULL: skip them), folding them into *crc when crc is not NULL. */
int sv_src_read(const char *fn, sv_source *s, void *dst, size_t n, uint32_t *crc);
/* The length prefix and the JSON header: one object, followed by whitespace only. *root
 * receives the parsed header (cJSON_Delete it), *data_bytes the size of the data section
 * that follows; src is left at the data section. */
int sv_st_read_header(const char *fn, sv_source *src, cJSON **root, size_t *data_bytes);
/* A JSON number usable as a size: integral, 0 <= v <= 2^53, representable in size_t. */
int sv_json_size(const cJSON *x, size_t *out);
/* Header entry e of a tensor: fields dtype (F32 or U8), shape (1 or 2 dims), data_offsets
 * inside the data_bytes-byte data section and agreeing with dtype and shape. */
int sv_st_parse_tensor(const char *fn, const cJSON *e, size_t data_bytes, sv_tensor *t);
/* Sort tensor indices by begin offset into order[] and require that the n tensors tile the
 * data section: no gap, no overlap, nothing left over. */
int sv_st_check_tiling(const char *fn, const sv_tensor *t, size_t n, size_t *order,
                       size_t data_bytes);
#endif
