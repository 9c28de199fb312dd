/* fuzz_gzip.c -- libFuzzer harness of the gzip path of the IDX reader (lib/data/idx.c).
 *
 * Mutating a gzip file byte by byte mostly breaks its deflate stream or its CRC at once, so
 * this harness is structure-aware: an input is [op][p0][p1] followed by IDX bytes; the harness
 * gzips the IDX bytes (level op/8 % 10) and then, by op % 8, keeps the stream whole, cuts
 * 1..8 bytes of its trailer, flips a byte at p, truncates it at p, appends a second member
 * or appends garbage. Oracles (differential, against the plain-file reader):
 *  - whole stream: the gzip load and the plain load of the same IDX bytes agree on the
 *    status and, when loaded, on every pixel;
 *  - trailer cut or stream truncated: the load fails (a gzip stream must be whole);
 *  - any other change: whatever loads equals the plain load (the CRC-32 vouches for it);
 *  - and the consistency checks of fuzz_idx.h.
 * Built by -DSEQVID_FUZZ=ON (clang, see tests/fuzz/run.sh); replay_main.c runs the same
 * function over the seed corpus (tests/fuzz/corpus_gzip) in ordinary builds. */
#include "fuzz_file.h"
#include <string.h>
#include <zlib.h>
#include "seqvid.h"
#include "fuzz_idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* gzip `n` bytes at `level` into a new buffer of *zn bytes (and `extra` spare bytes after).
 * A 512-byte window and the smallest memory level keep deflate's state small (fast runs); the
 * streams are as valid as any. */
static uint8_t *gzip(const uint8_t *src, size_t n, int level, size_t extra, size_t *zn) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, level, Z_DEFLATED, 9 + 16, 1, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    size_t cap = deflateBound(&z, (uLong)n) + extra;
    uint8_t *out = malloc(cap);
    if (!out) abort();
    z.next_in = (Bytef *)(uintptr_t)src, z.avail_in = (uInt)n;
    z.next_out = out, z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    *zn = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

/* Load `path` as images: 1 and the set in *d (the caller frees it) if it loaded. */
static int load(const char *path, seqvid_digits **d) {
    *d = NULL;
    int st = seqvid_digits_load(path, NULL, d);
    if ((st == SEQVID_OK) != (*d != NULL)) abort();
    return st == SEQVID_OK;
}

static int same(const seqvid_digits *a, const seqvid_digits *b) {
    size_t c1, r1, k1, c2, r2, k2;
    if (seqvid_digits_shape(a, &c1, &r1, &k1) || seqvid_digits_shape(b, &c2, &r2, &k2)) abort();
    if (c1 != c2 || r1 != r2 || k1 != k2) return 0;
    const float *p, *q;
    if (seqvid_digits_image(a, 0, &p) || seqvid_digits_image(b, 0, &q)) abort();
    return !memcmp(p, q, c1 * r1 * k1 * sizeof(float));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3 || size > ((size_t)1 << 20)) return 0;
    fuzz_idx_setup();
    int op = data[0] % 8, level = data[0] / 8 % 10;
    size_t p = (size_t)data[1] | (size_t)data[2] << 8;
    const uint8_t *idx = data + 3;
    size_t n = size - 3, zn;
    uint8_t *z = gzip(idx, n, level, 64, &zn);
    int must_fail = 0, must_match = 1;
    switch (op) {
    case 0: break;                                      /* whole */
    case 1: zn -= 1 + p % 8, must_fail = 1; break;      /* trailer cut */
    case 2: z[p % zn] ^= (uint8_t)(data[1] | 1); break; /* a flipped byte */
    case 3: zn = p % zn, must_fail = 1; break;          /* truncated */
    case 4: {                                           /* a second member: IDX bytes twice */
        size_t z2n;
        uint8_t *z2 = gzip(idx, n, level, 0, &z2n), *both = malloc(zn + z2n);
        if (!both) abort();
        memcpy(both, z, zn), memcpy(both + zn, z2, z2n);
        free(z), free(z2);
        z = both, zn += z2n, must_match = 0;
        break;
    }
    default: /* garbage after the stream (zlib ignores what is not a gzip member) */
        memset(z + zn, data[1], p % 64), zn += p % 64;
        break;
    }
    /* IDX bytes that are themselves a gzip stream: the plain reader inflates them, the gzip
     * one (one level of gzip) does not, so the two are not comparable. */
    int nested = n >= 2 && idx[0] == 0x1f && idx[1] == 0x8b;
    if (nested) must_match = 0;
    seqvid_digits *plain, *gz;
    int plain_ok = load(fuzz_file(0, idx, n), &plain);
    int gz_ok = load(fuzz_file(1, z, zn), &gz);
    if (must_fail && gz_ok) abort();
    if (op == 0 && !nested && plain_ok != gz_ok) abort();
    if (must_match && gz_ok && (!plain_ok || !same(plain, gz))) abort();
    seqvid_digits_free(plain);
    seqvid_digits_free(gz);
    /* the same stream as the labels of three 2x2 images, and the oracles of fuzz_idx.h */
    fuzz_idx_check_images(fuzz_file(1, z, zn));
    static const uint8_t three[16 + 12] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2,
                                           0, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    fuzz_idx_check_labels(fuzz_file(2, three, sizeof three), fuzz_file(1, z, zn), 3);
    free(z);
    return 0;
}
