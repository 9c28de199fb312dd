/* test_data.c -- IDX digits, the Moving MNIST generator (against SR15.md section 5), .npy
 * files, lengths and patches. Every file the tests read is written here into a temporary
 * folder, except the numpy-made fixtures in tests/data (see make_npy_fixtures.py). */
#define _POSIX_C_SOURCE 200809L
#define SEQVID_EXPERIMENTAL /* seqvid_experimental_mmnist_fill_motion */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data/digits.h"
#include "data/mmnist.h"
#include "seqvid.h"

static char tmpdir[256];

static const char *tmp(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static const char *fixture(const char *name) {
    static char buf[512];
    const char *dir = getenv("SEQVID_TEST_DATA");
    snprintf(buf, sizeof buf, "%s/%s", dir ? dir : "tests/data", name);
    return buf;
}

static void write_bytes(const char *path, const void *p, size_t n, int gz) {
    if (gz) {
        gzFile f = gzopen(path, "wb");
        assert_non_null(f);
        if (n) assert_int_equal(gzwrite(f, p, (unsigned)n), (int)n);
        assert_int_equal(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(p, 1, n, f), n);
        assert_int_equal(fclose(f), 0);
    }
}

static size_t read_bytes(const char *path, unsigned char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

/* An IDX file: magic 00 00 type ndim, big-endian dims, payload. */
static void write_idx(const char *path, int type, int ndim, const uint32_t *dims,
                      const unsigned char *payload, size_t n, int gz) {
    size_t hn = 4 + 4 * (size_t)ndim;
    unsigned char *b = malloc(hn + n);
    assert_non_null(b);
    b[0] = 0, b[1] = 0, b[2] = (unsigned char)type, b[3] = (unsigned char)ndim;
    for (int i = 0; i < ndim; i++)
        for (int k = 0; k < 4; k++) b[4 + 4 * i + k] = (unsigned char)(dims[i] >> (24 - 8 * k));
    if (n) memcpy(b + hn, payload, n);
    write_bytes(path, b, hn + n, gz);
    free(b);
}

static int setup_dir(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/seqvid_test_data_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ============================================================================ IDX digits */

enum { NI = 3, NR = 4, NC = 5 };

static void small_idx(const char *img, const char *lab, int gz) {
    unsigned char px[NI * NR * NC], lb[NI] = {7, 0, 255};
    for (int i = 0; i < NI * NR * NC; i++) px[i] = (unsigned char)(i * 37 % 256);
    uint32_t di[3] = {NI, NR, NC}, dl[1] = {NI};
    write_idx(img, 0x08, 3, di, px, sizeof px, gz);
    if (lab) write_idx(lab, 0x08, 1, dl, lb, sizeof lb, gz);
}

static void check_small(const seqvid_digits *d, int with_labels) {
    size_t count, rows, cols;
    assert_int_equal(seqvid_digits_shape(d, &count, &rows, &cols), SEQVID_OK);
    assert_int_equal(count, NI);
    assert_int_equal(rows, NR);
    assert_int_equal(cols, NC);
    for (size_t i = 0; i < NI; i++) {
        const float *p;
        assert_int_equal(seqvid_digits_image(d, i, &p), SEQVID_OK);
        for (size_t j = 0; j < NR * NC; j++)
            assert_true(p[j] == (float)((i * NR * NC + j) * 37 % 256) / 255.0f);
    }
    int label;
    if (with_labels) {
        const int want[NI] = {7, 0, 255};
        for (size_t i = 0; i < NI; i++) {
            assert_int_equal(seqvid_digits_label(d, i, &label), SEQVID_OK);
            assert_int_equal(label, want[i]);
        }
    } else {
        assert_int_equal(seqvid_digits_label(d, 0, &label), SEQVID_ERR_STATE);
    }
    const float *p;
    assert_int_equal(seqvid_digits_image(d, NI, &p), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_digits_label(d, NI, &label), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_digits_shape(d, NULL, NULL, NULL), SEQVID_OK);
}

static void idx_round_trip(void **state) {
    (void)state;
    for (int gz = 0; gz < 2; gz++) {
        seqvid_digits *d = NULL;
        small_idx(tmp("img"), tmp("lab"), gz);
        assert_int_equal(seqvid_digits_load(tmp("img"), tmp("lab"), &d), SEQVID_OK);
        check_small(d, 1);
        seqvid_digits_free(d);
        assert_int_equal(seqvid_digits_load(tmp("img"), NULL, &d), SEQVID_OK);
        check_small(d, 0);
        seqvid_digits_free(d);
    }
    /* gzipped images with plain labels: detection is per file, by content */
    seqvid_digits *d = NULL;
    small_idx(tmp("img.gz"), NULL, 1);
    small_idx(tmp("img.raw"), tmp("lab.raw"), 0);
    assert_int_equal(seqvid_digits_load(tmp("img.gz"), tmp("lab.raw"), &d), SEQVID_OK);
    check_small(d, 1);
    seqvid_digits_free(d);
    seqvid_digits_free(NULL);

    /* a set larger than the reader's first chunk (1 MiB), so its buffer has to grow */
    const size_t big = 1500, px = big * 28 * 28;
    unsigned char *raw = malloc(px), lab[1500];
    assert_non_null(raw);
    for (size_t i = 0; i < px; i++) raw[i] = (unsigned char)(i % 251);
    for (size_t i = 0; i < big; i++) lab[i] = (unsigned char)(i % 10);
    uint32_t di[3] = {(uint32_t)big, 28, 28}, dl[1] = {(uint32_t)big};
    for (int gz = 0; gz < 2; gz++) {
        write_idx(tmp("bigi"), 0x08, 3, di, raw, px, gz);
        write_idx(tmp("bigl"), 0x08, 1, dl, lab, big, gz);
        assert_int_equal(seqvid_digits_load(tmp("bigi"), tmp("bigl"), &d), SEQVID_OK);
        const float *p;
        int label;
        assert_int_equal(seqvid_digits_image(d, big - 1, &p), SEQVID_OK);
        for (size_t j = 0; j < 784; j++)
            assert_true(p[j] == (float)(((big - 1) * 784 + j) % 251) / 255.0f);
        assert_int_equal(seqvid_digits_label(d, big - 1, &label), SEQVID_OK);
        assert_int_equal(label, (int)((big - 1) % 10));
        seqvid_digits_free(d);
    }
    free(raw);
}

static int load_status(const char *img, const char *lab) {
    seqvid_digits *d = (seqvid_digits *)(uintptr_t)1;
    int st = seqvid_digits_load(img, lab, &d);
    if (st) {
        assert_null(d);
        assert_true(strlen(seqvid_last_error()) > 0);
    }
    seqvid_digits_free(d);
    return st;
}

static void idx_bad_files(void **state) {
    (void)state;
    unsigned char px[NI * NR * NC] = {0}, lb[NI] = {0};
    uint32_t di[3] = {NI, NR, NC}, dl[1] = {NI};
    small_idx(tmp("good_img"), tmp("good_lab"), 0);
    char lab[512]; /* tmp() recycles its buffers */
    snprintf(lab, sizeof lab, "%s", tmp("good_lab"));

    assert_int_equal(load_status(NULL, lab), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_digits_load(tmp("good_img"), NULL, NULL), SEQVID_ERR_NULL);
    assert_int_equal(load_status(tmp("does_not_exist"), NULL), SEQVID_ERR_IO);
    assert_int_equal(load_status(tmp("good_img"), tmp("does_not_exist")), SEQVID_ERR_IO);

    for (int gz = 0; gz < 2; gz++) {
        /* empty file, and a header cut short */
        write_bytes(tmp("b"), "", 0, gz);
        assert_int_equal(load_status(tmp("b"), NULL), SEQVID_ERR_FORMAT);
        write_bytes(tmp("b"), "\0\0\x08\x03\0\0", 6, gz);
        assert_int_equal(load_status(tmp("b"), NULL), SEQVID_ERR_FORMAT);
        /* wrong magic: a PNG, a text file */
        write_bytes(tmp("b"), "\x89PNG\r\n\x1a\n\0\0\0\0\0\0\0\0", 16, gz);
        assert_int_equal(load_status(tmp("b"), NULL), SEQVID_ERR_FORMAT);
        write_bytes(tmp("b"), "hello, world, this is text\n", 27, gz);
        assert_int_equal(load_status(tmp("b"), NULL), SEQVID_ERR_FORMAT);
        /* unknown element type / a valid but unsupported one (float) */
        write_idx(tmp("b"), 0x42, 3, di, px, sizeof px, gz);
        assert_int_equal(load_status(tmp("b"), NULL), SEQVID_ERR_FORMAT);
        write_idx(tmp("b"), 0x0D, 3, di, px, sizeof px, gz);
        assert_int_equal(load_status(tmp("b"), NULL), SEQVID_ERR_UNSUPPORTED);
        /* images and labels swapped: wrong number of dimensions */
        assert_int_equal(load_status(lab, NULL), SEQVID_ERR_FORMAT);
        assert_int_equal(load_status(tmp("good_img"), tmp("good_img")), SEQVID_ERR_FORMAT);
        /* truncated payload, and data after the payload */
        write_idx(tmp("b"), 0x08, 3, di, px, sizeof px - 1, gz);
        assert_int_equal(load_status(tmp("b"), NULL), SEQVID_ERR_FORMAT);
        unsigned char more[NI * NR * NC + 3] = {0};
        write_idx(tmp("b"), 0x08, 3, di, more, sizeof more, gz);
        assert_int_equal(load_status(tmp("b"), NULL), SEQVID_ERR_FORMAT);
        /* label count mismatch: more and fewer labels than images; truncated labels */
        uint32_t dl2[1] = {NI + 1}, dl0[1] = {NI - 1};
        unsigned char lb4[NI + 1] = {0};
        write_idx(tmp("l"), 0x08, 1, dl2, lb4, sizeof lb4, gz);
        assert_int_equal(load_status(tmp("good_img"), tmp("l")), SEQVID_ERR_FORMAT);
        write_idx(tmp("l"), 0x08, 1, dl0, lb, NI - 1, gz);
        assert_int_equal(load_status(tmp("good_img"), tmp("l")), SEQVID_ERR_FORMAT);
        write_idx(tmp("l"), 0x08, 1, dl, lb, NI - 1, gz);
        assert_int_equal(load_status(tmp("good_img"), tmp("l")), SEQVID_ERR_FORMAT);
        /* absurd sizes: zero, giant sides; a giant count with almost no data must be refused
         * as truncated without allocating what the header claims */
        uint32_t bad[][3] = {{0, 28, 28}, {10, 0, 28}, {10, 28, 100000}, {0xFFFFFFFFu, 28, 28},
                             {0x7FFFFFFFu, 4096, 4096}, {0x7FFFFFFFu, 28, 28}};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            write_idx(tmp("b"), 0x08, 3, bad[i], px, sizeof px, gz);
            assert_int_equal(load_status(tmp("b"), NULL), SEQVID_ERR_FORMAT);
        }
    }
    /* a gzip stream cut in the middle (the plain bytes would be valid) */
    unsigned char big[2000], z[4096];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (unsigned char)(i * 2654435761u >> 13);
    uint32_t dbig[3] = {5, 20, 20};
    write_idx(tmp("gzcut"), 0x08, 3, dbig, big, sizeof big, 1);
    size_t n = read_bytes(tmp("gzcut"), z, sizeof z);
    assert_true(n > 100);
    write_bytes(tmp("gzcut"), z, n / 2, 0);
    assert_int_equal(load_status(tmp("gzcut"), NULL), SEQVID_ERR_FORMAT);
    /* corrupt gzip body (flipped bytes after the gzip header) */
    write_idx(tmp("gzbad"), 0x08, 3, dbig, big, sizeof big, 1);
    n = read_bytes(tmp("gzbad"), z, sizeof z);
    for (size_t i = 12; i < n - 8; i += 7) z[i] ^= 0x5A;
    write_bytes(tmp("gzbad"), z, n, 0);
    assert_int_equal(load_status(tmp("gzbad"), NULL), SEQVID_ERR_FORMAT);
}

/* Debian's dataset-fashion-mnist (gzipped IDX). Skipped unless the files are present:
 * SEQVID_FASHION_DIR, else /usr/share/datasets/fashion-mnist. */
static void idx_fashion_mnist(void **state) {
    (void)state;
    const char *dir = getenv("SEQVID_FASHION_DIR");
    if (!dir) dir = "/usr/share/datasets/fashion-mnist";
    char img[512], lab[512];
    snprintf(img, sizeof img, "%s/t10k-images-idx3-ubyte.gz", dir);
    snprintf(lab, sizeof lab, "%s/t10k-labels-idx1-ubyte.gz", dir);
    if (access(img, R_OK) != 0 || access(lab, R_OK) != 0) skip();
    seqvid_digits *d;
    assert_int_equal(seqvid_digits_load(img, lab, &d), SEQVID_OK);
    size_t count, rows, cols;
    assert_int_equal(seqvid_digits_shape(d, &count, &rows, &cols), SEQVID_OK);
    assert_int_equal(count, 10000);
    assert_int_equal(rows, 28);
    assert_int_equal(cols, 28);
    int hist[10] = {0}, label;
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(seqvid_digits_label(d, i, &label), SEQVID_OK);
        assert_in_range(label, 0, 9);
        hist[label]++;
    }
    for (int c = 0; c < 10; c++) assert_int_equal(hist[c], 1000); /* the test set is balanced */
    const float *p;
    assert_int_equal(seqvid_digits_image(d, 0, &p), SEQVID_OK);
    float mx = 0;
    for (size_t j = 0; j < rows * cols; j++) mx = p[j] > mx ? p[j] : mx;
    assert_true(mx > 0.5f && mx <= 1.0f);
    seqvid_digits_free(d);
}

/* ==================================================================== Moving MNIST */

/* An in-memory digit set of `count` 28x28 images whose label is their index, so the labels
 * output of a fill tells which image each digit is. Pixels are in (0,1], never 0 inside a
 * 20x20 centre square (so every digit has a visible body), 0 on the border. */
static seqvid_digits *test_digits(size_t count, size_t side) {
    seqvid_digits *d = calloc(1, sizeof *d);
    assert_non_null(d);
    d->count = count, d->rows = side, d->cols = side;
    d->pixels = calloc(count * side * side, sizeof(float));
    d->labels = calloc(count, 1);
    assert_true(d->pixels && d->labels);
    for (size_t k = 0; k < count; k++) {
        d->labels[k] = (unsigned char)k;
        for (size_t r = 0; r < side; r++)
            for (size_t c = 0; c < side; c++) {
                float v = 0;
                if (r >= side / 7 && r < side - side / 7 && c >= side / 7 && c < side - side / 7)
                    v = (float)((r * 31 + c * 17 + k * 101) % 255 + 1) / 255.0f;
                d->pixels[(k * side + r) * side + c] = v;
            }
    }
    return d;
}

static void free_test_digits(seqvid_digits *d) {
    free(d->pixels);
    free(d->labels);
    free(d);
}

static seqvid_batch *mm_batch(size_t T, size_t S, size_t canvas) {
    seqvid_batch *b;
    assert_int_equal(seqvid_batch_create(T, S, canvas * canvas, &b), SEQVID_OK);
    return b;
}

static float *bdata(seqvid_batch *b) {
    float *p;
    assert_int_equal(seqvid_batch_data(b, &p), SEQVID_OK);
    return p;
}

static void mm_options_and_errors(void **state) {
    (void)state;
    seqvid_digits *d = test_digits(4, 28);
    seqvid_mmnist *g = (seqvid_mmnist *)(uintptr_t)1;
    assert_int_equal(seqvid_mmnist_create(NULL, &g), SEQVID_ERR_NULL);
    assert_null(g);
    assert_int_equal(seqvid_mmnist_create(d, NULL), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_mmnist_create(d, &g), SEQVID_OK);
    double v;
    const struct { int key; double value; } defaults[] = {
        {SEQVID_MM_DIGITS, 2}, {SEQVID_MM_CANVAS, 64}, {SEQVID_MM_SPEED_MIN, 0.1},
        {SEQVID_MM_SPEED_MAX, 0.1}, {SEQVID_MM_SEED, 1}};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(seqvid_mmnist_get(g, defaults[i].key, &v), SEQVID_OK);
        assert_true(v == defaults[i].value);
    }
    assert_int_equal(seqvid_mmnist_get(g, 99, &v), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_mmnist_set(g, 99, 1), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_DIGITS, 0), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_DIGITS, 9), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_DIGITS, 1.5), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_DIGITS, NAN), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_CANVAS, 28), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_CANVAS, 1e9), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_SPEED_MIN, -0.1), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_SPEED_MAX, 1.5), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_SEED, -1), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_SEED, 0.5), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_CANVAS, 29), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_DIGITS, 8), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_get(g, SEQVID_MM_CANVAS, &v), SEQVID_OK);
    assert_true(v == 29);

    seqvid_batch *b = mm_batch(3, 2, 29), *wrong = mm_batch(3, 2, 28);
    int labels[16];
    assert_int_equal(seqvid_mmnist_fill(g, wrong, NULL, 0), SEQVID_ERR_SHAPE);
    assert_int_equal(seqvid_mmnist_fill(g, NULL, NULL, 0), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_mmnist_fill(NULL, b, NULL, 0), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_mmnist_fill(g, b, labels, 15), SEQVID_ERR_BUFFER);
    assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_SPEED_MIN, 0.2), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_fill(g, b, labels, 16), SEQVID_ERR_STATE); /* min > max */
    assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_SPEED_MAX, 0.3), SEQVID_OK);
    assert_int_equal(seqvid_batch_set_length(b, 1, 1), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_fill(g, b, labels, 16), SEQVID_OK);
    size_t len;
    assert_int_equal(seqvid_batch_get_length(b, 1, &len), SEQVID_OK);
    assert_int_equal(len, 3); /* fill sets every length to T */
    for (int i = 0; i < 16; i++) assert_in_range(labels[i], 0, 3);

    /* a set without labels reports -1 */
    unsigned char *keep = d->labels;
    d->labels = NULL;
    assert_int_equal(seqvid_mmnist_fill(g, b, labels, 16), SEQVID_OK);
    for (int i = 0; i < 16; i++) assert_int_equal(labels[i], -1);
    d->labels = keep;

    seqvid_batch_free(b);
    seqvid_batch_free(wrong);
    seqvid_mmnist_free(g);
    seqvid_mmnist_free(NULL);
    free_test_digits(d);
}

static void mm_determinism(void **state) {
    (void)state;
    seqvid_digits *d = test_digits(10, 28);
    seqvid_mmnist *g1, *g2;
    assert_int_equal(seqvid_mmnist_create(d, &g1), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_create(d, &g2), SEQVID_OK);
    const size_t T = 6, S = 3, D = 64 * 64, n = T * S * D;
    seqvid_batch *a = mm_batch(T, S, 64), *b = mm_batch(T, S, 64);
    float *first = malloc(n * sizeof *first);
    assert_non_null(first);
    assert_int_equal(seqvid_mmnist_set(g1, SEQVID_MM_SEED, 1234), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_set(g2, SEQVID_MM_SEED, 1234), SEQVID_OK);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(seqvid_mmnist_fill(g1, a, NULL, 0), SEQVID_OK);
        assert_int_equal(seqvid_mmnist_fill(g2, b, NULL, 0), SEQVID_OK);
        assert_memory_equal(bdata(a), bdata(b), n * sizeof(float));
        if (round == 0) memcpy(first, bdata(a), n * sizeof *first);
        else assert_memory_not_equal(first, bdata(a), n * sizeof(float)); /* stream moves on */
    }
    /* setting the seed restarts the stream */
    assert_int_equal(seqvid_mmnist_set(g1, SEQVID_MM_SEED, 1234), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_fill(g1, a, NULL, 0), SEQVID_OK);
    assert_memory_equal(first, bdata(a), n * sizeof(float));
    /* another seed gives other sequences */
    assert_int_equal(seqvid_mmnist_set(g2, SEQVID_MM_SEED, 1235), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_fill(g2, b, NULL, 0), SEQVID_OK);
    assert_memory_not_equal(first, bdata(b), n * sizeof(float));
    free(first);
    seqvid_batch_free(a);
    seqvid_batch_free(b);
    seqvid_mmnist_free(g1);
    seqvid_mmnist_free(g2);
    free_test_digits(d);
}

/* Render what SR15's generator must produce from the reported positions (motion[..0..1])
 * and the labels (which name the images): each digit at (int(R*y), int(R*x)), combined by
 * per-pixel maximum. */
static void expect_frames(const seqvid_digits *d, size_t T, size_t S, size_t N, size_t C,
                          const double *pos, const int *labels, float *out) {
    const size_t side = d->rows, R = C - side;
    memset(out, 0, T * S * C * C * sizeof *out);
    for (size_t t = 0; t < T; t++)
        for (size_t b = 0; b < S; b++)
            for (size_t n = 0; n < N; n++) {
                const double *p = pos + ((t * S + b) * N + n) * 4;
                size_t top = (size_t)((double)R * p[0]), left = (size_t)((double)R * p[1]);
                const float *img = d->pixels + (size_t)labels[b * N + n] * side * side;
                float *f = out + (t * S + b) * C * C;
                for (size_t r = 0; r < side; r++)
                    for (size_t c = 0; c < side; c++)
                        f[(top + r) * C + left + c] = fmaxf(f[(top + r) * C + left + c],
                                                            img[r * side + c]);
            }
}

/* The statistics SR15.md section 5 fixes, on a 64x64 canvas with 28x28 digits. */
static void mm_statistics(void **state) {
    (void)state;
    seqvid_digits *d = test_digits(10, 28);
    seqvid_mmnist *g;
    assert_int_equal(seqvid_mmnist_create(d, &g), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_SEED, 7), SEQVID_OK);
    const size_t T = 20, S = 24, N = 2, C = 64, D = C * C;
    seqvid_batch *b = mm_batch(T, S, C);
    double *pos = malloc(T * S * N * 4 * sizeof *pos);
    float *want = malloc(T * S * D * sizeof *want);
    int labels[24 * 2];
    assert_true(pos && want);
    assert_int_equal(
        seqvid_experimental_mmnist_fill_motion(g, b, labels, S * N, pos, T * S * N * 4),
        SEQVID_OK);

    /* 1. Frames are exactly the digits at (int(36 y), int(36 x)), max-combined; values in
     *    [0,1]; overlaps happen and take the larger pixel. */
    expect_frames(d, T, S, N, C, pos, labels, want);
    const float *got = bdata(b);
    size_t overlaps = 0;
    for (size_t i = 0; i < T * S * D; i++) {
        assert_true(got[i] == want[i]);
        assert_true(got[i] >= 0.0f && got[i] <= 1.0f);
    }
    for (size_t t = 0; t < T; t++)
        for (size_t s = 0; s < S; s++) {
            /* Pixels covered by the bodies of both digits: the frame holds the max of the two,
             * which differs from the second digit painted over the first somewhere. */
            const double *p0 = pos + ((t * S + s) * N) * 4, *p1 = p0 + 4;
            size_t t0 = (size_t)(36 * p0[0]), l0 = (size_t)(36 * p0[1]);
            size_t t1 = (size_t)(36 * p1[0]), l1 = (size_t)(36 * p1[1]);
            const float *i0 = d->pixels + (size_t)labels[s * N] * 784;
            const float *i1 = d->pixels + (size_t)labels[s * N + 1] * 784;
            for (size_t r = 0; r < C; r++)
                for (size_t c = 0; c < C; c++) {
                    if (r < t0 || r >= t0 + 28 || c < l0 || c >= l0 + 28) continue;
                    if (r < t1 || r >= t1 + 28 || c < l1 || c >= l1 + 28) continue;
                    float a = i0[(r - t0) * 28 + c - l0], e = i1[(r - t1) * 28 + c - l1];
                    if (a > 0 && e > 0) {
                        overlaps++;
                        assert_true(got[(t * S + s) * D + r * C + c] == fmaxf(a, e));
                    }
                }
        }
    assert_true(overlaps > 100); /* the check above did run */

    /* 2. Positions stay in [0,1] (offsets in [0,36]); away from walls each frame moves by
     *    exactly the speed 0.1 (3.6 px) along a constant velocity; at a wall the coordinate
     *    is clamped and that velocity component reflected, the other unchanged. */
    size_t free_steps = 0, bounces = 0;
    double px_dist = 0;
#define P(t, s, n, k) pos[(((t) * S + (s)) * N + (n)) * 4 + (k)]
#define INSIDE(t, s, n) (P(t, s, n, 0) > 0 && P(t, s, n, 0) < 1 && P(t, s, n, 1) > 0 && \
                         P(t, s, n, 1) < 1)
    for (size_t s = 0; s < S; s++)
        for (size_t n = 0; n < N; n++)
            for (size_t t = 0; t < T; t++) {
                for (int k = 0; k < 2; k++) {
                    assert_true(P(t, s, n, k) >= 0.0 && P(t, s, n, k) <= 1.0);
                    size_t off = (size_t)(36 * P(t, s, n, k));
                    assert_true(off <= 36);
                }
                if (t >= 1 && INSIDE(t - 1, s, n) && INSIDE(t, s, n)) {
                    double dy = P(t, s, n, 0) - P(t - 1, s, n, 0);
                    double dx = P(t, s, n, 1) - P(t - 1, s, n, 1);
                    assert_true(fabs(hypot(dy, dx) - 0.1) < 1e-12);
                    double oy = floor(36 * P(t, s, n, 0)) - floor(36 * P(t - 1, s, n, 0));
                    double ox = floor(36 * P(t, s, n, 1)) - floor(36 * P(t - 1, s, n, 1));
                    assert_true(fabs(oy - 36 * dy) < 1 && fabs(ox - 36 * dx) < 1);
                    px_dist += hypot(36 * dy, 36 * dx);
                    free_steps++;
                    if (t >= 2 && INSIDE(t - 2, s, n)) {
                        assert_true(fabs(dy - (P(t - 1, s, n, 0) - P(t - 2, s, n, 0))) < 1e-12);
                        assert_true(fabs(dx - (P(t - 1, s, n, 1) - P(t - 2, s, n, 1))) < 1e-12);
                    }
                }
                /* a bounce at t-1 on exactly one coordinate k, free flight around it */
                if (t >= 3 && INSIDE(t - 3, s, n) && INSIDE(t - 2, s, n) && INSIDE(t, s, n) &&
                    !INSIDE(t - 1, s, n)) {
                    int k = (P(t - 1, s, n, 0) == 0 || P(t - 1, s, n, 0) == 1) ? 0 : 1;
                    int o = 1 - k;
                    if (P(t - 1, s, n, o) == 0 || P(t - 1, s, n, o) == 1) continue; /* corner */
                    double wall = P(t - 1, s, n, k);
                    assert_true(wall == 0.0 || wall == 1.0);
                    double vk = P(t - 2, s, n, k) - P(t - 3, s, n, k);
                    double vo = P(t - 2, s, n, o) - P(t - 3, s, n, o);
                    /* it was heading into that wall, and now leaves it at the reflected speed */
                    assert_true(wall == 0.0 ? vk < 0 : vk > 0);
                    assert_true(fabs((P(t, s, n, k) - wall) - (-vk)) < 1e-12);
                    assert_true(fabs((P(t, s, n, o) - P(t - 1, s, n, o)) - vo) < 1e-12);
                    assert_true(fabs((P(t - 1, s, n, o) - P(t - 2, s, n, o)) - vo) < 1e-12);
                    bounces++;
                }
            }
#undef INSIDE
#undef P
    assert_true(free_steps > 500);
    assert_true(bounces > 10);
    assert_true(fabs(px_dist / (double)free_steps - 3.6) < 1e-9);

    free(pos);
    free(want);
    seqvid_batch_free(b);
    seqvid_mmnist_free(g);
    free_test_digits(d);
}

/* Speeds drawn U[min,max] per digit; digits drawn uniformly; 1 and 3 digits; other canvas. */
static void mm_random_speed_and_counts(void **state) {
    (void)state;
    seqvid_digits *d = test_digits(5, 12);
    seqvid_mmnist *g;
    assert_int_equal(seqvid_mmnist_create(d, &g), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_CANVAS, 20), SEQVID_OK); /* range 8 */
    assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_SPEED_MIN, 0.05), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_SPEED_MAX, 0.15), SEQVID_OK);
    for (size_t N = 1; N <= 3; N += 2) {
        assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_DIGITS, (double)N), SEQVID_OK);
        const size_t T = 4, S = 400;
        seqvid_batch *b = mm_batch(T, S, 20);
        double *pos = malloc(T * S * N * 4 * sizeof *pos);
        float *want = malloc(T * S * 400 * sizeof *want);
        int *labels = malloc(S * N * sizeof *labels);
        assert_true(pos && want && labels);
        assert_int_equal(
            seqvid_experimental_mmnist_fill_motion(g, b, labels, S * N, pos, T * S * N * 4),
            SEQVID_OK);
        expect_frames(d, T, S, N, 20, pos, labels, want);
        assert_memory_equal(bdata(b), want, T * S * 400 * sizeof(float));
        double lo = 1, hi = 0;
        size_t hist[5] = {0};
        for (size_t s = 0; s < S; s++)
            for (size_t n = 0; n < N; n++) {
                hist[labels[s * N + n]]++;
                const double *p0 = pos + (s * N + n) * 4, *p1 = pos + ((S + s) * N + n) * 4;
                if (p0[0] <= 0 || p0[0] >= 1 || p0[1] <= 0 || p0[1] >= 1 || p1[0] <= 0 ||
                    p1[0] >= 1 || p1[1] <= 0 || p1[1] >= 1)
                    continue;
                double v = hypot(p1[0] - p0[0], p1[1] - p0[1]);
                assert_true(v >= 0.05 - 1e-12 && v <= 0.15 + 1e-12);
                lo = fmin(lo, v), hi = fmax(hi, v);
            }
        assert_true(lo < 0.06 && hi > 0.14); /* the range is used, not one fixed speed */
        for (int k = 0; k < 5; k++) /* uniform digit choice: 80 (240) expected per image */
            assert_true(hist[k] > S * N / 5 * 6 / 10 && hist[k] < S * N / 5 * 14 / 10);
        free(pos);
        free(want);
        free(labels);
        seqvid_batch_free(b);
    }
    seqvid_mmnist_free(g);
    free_test_digits(d);
}

/* The compass sector (0 = east, 1 = north-east, .., 7 = south-east; rows grow downwards) of
 * a velocity (v_row, v_col): the class of fewlabels --task direction, restated here. */
static int sector8(double vy, double vx) {
    double a = atan2(-vy, vx); /* counter-clockwise from east, in (-pi, pi] */
    const double pi = 3.14159265358979323846;
    int k = (int)floor((a + pi / 8) / (pi / 4));
    return ((k % 8) + 8) % 8;
}

/* seqvid_experimental_mmnist_fill_motion: bad arguments; the same frames, labels and stream
 * as seqvid_mmnist_fill; positions and velocities obey the generator's law of motion; the
 * direction of frame 0's velocity is uniform (8 balanced classes); and what one frame tells
 * about that direction (the digit's pixel offset, all a frame shows of motion) is little,
 * while two frames tell it. */
static void mm_motion(void **state) {
    (void)state;
    seqvid_digits *d = test_digits(10, 28);
    seqvid_mmnist *g, *h;
    assert_int_equal(seqvid_mmnist_create(d, &g), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_create(d, &h), SEQVID_OK);
    const size_t T = 12, S = 40, N = 2, D = 64 * 64, M = T * S * N * 4;
    seqvid_batch *a = mm_batch(T, S, 64), *b = mm_batch(T, S, 64), *wrong = mm_batch(T, S, 32);
    double *mo = malloc(M * sizeof *mo);
    int la[80], lb[80];
    assert_non_null(mo);

    /* 1. Bad arguments: statuses, messages naming the function, nothing drawn. */
    unsigned char before[256], after[256];
    size_t size;
    assert_int_equal(seqvid_mmnist_state_size(g, &size), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_get_state(g, before, size), SEQVID_OK);
    assert_int_equal(seqvid_experimental_mmnist_fill_motion(NULL, a, NULL, 0, mo, M),
                     SEQVID_ERR_NULL);
    assert_int_equal(seqvid_experimental_mmnist_fill_motion(g, NULL, NULL, 0, mo, M),
                     SEQVID_ERR_NULL);
    assert_int_equal(seqvid_experimental_mmnist_fill_motion(g, wrong, NULL, 0, mo, M),
                     SEQVID_ERR_SHAPE);
    assert_int_equal(seqvid_experimental_mmnist_fill_motion(g, a, la, S * N - 1, mo, M),
                     SEQVID_ERR_BUFFER);
    assert_int_equal(seqvid_experimental_mmnist_fill_motion(g, a, la, S * N, mo, M - 1),
                     SEQVID_ERR_BUFFER);
    assert_non_null(strstr(seqvid_last_error(), "seqvid_experimental_mmnist_fill_motion"));
    assert_non_null(strstr(seqvid_last_error(), "motion"));
    assert_int_equal(seqvid_experimental_mmnist_fill_motion(g, a, la, S * N, mo, 0),
                     SEQVID_ERR_BUFFER);
    assert_int_equal(seqvid_experimental_mmnist_fill_motion(g, a, la, S * N, mo, 3),
                     SEQVID_ERR_BUFFER); /* not even one digit's four values */
    assert_int_equal(seqvid_mmnist_get_state(g, after, size), SEQVID_OK);
    assert_memory_equal(before, after, size);
    seqvid_mmnist_fill(g, wrong, NULL, 0); /* and the plain call names itself */
    assert_non_null(strstr(seqvid_last_error(), "seqvid_mmnist_fill:"));

    /* 2. The same stream as seqvid_mmnist_fill, calls mixed; motion NULL is allowed. */
    assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_SEED, 31), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_set(h, SEQVID_MM_SEED, 31), SEQVID_OK);
    for (int round = 0; round < 3; round++) {
        assert_int_equal(seqvid_experimental_mmnist_fill_motion(
                             g, a, la, S * N, round == 1 ? NULL : mo, round == 1 ? 0 : M),
                         SEQVID_OK);
        assert_int_equal(seqvid_mmnist_fill(h, b, lb, S * N), SEQVID_OK);
        assert_memory_equal(bdata(a), bdata(b), T * S * D * sizeof(float));
        assert_memory_equal(la, lb, S * N * sizeof *la);
    }

    /* 3. The law of motion, from the last round's motion: frame t+1 = frame t's position
     *    plus its velocity, a coordinate reaching 0 or 1 stopped there with that velocity
     *    component negated; the speed stays 0.1; positions are the drawn offsets (the frames
     *    are exactly those expect_frames paints). */
    float *want = malloc(T * S * D * sizeof *want);
    assert_non_null(want);
    expect_frames(d, T, S, N, 64, mo, la, want);
    assert_memory_equal(bdata(a), want, T * S * D * sizeof(float));
    free(want);
    size_t bounces = 0;
    for (size_t t = 0; t < T; t++)
        for (size_t i = 0; i < S * N; i++) {
            const double *m = mo + (t * S * N + i) * 4;
            assert_true(fabs(hypot(m[2], m[3]) - 0.1) < 1e-12);
            if (t == 0) continue;
            const double *p = mo + ((t - 1) * S * N + i) * 4;
            for (int k = 0; k < 2; k++) {
                double x = p[k] + p[2 + k], v = p[2 + k];
                if (x <= 0) x = 0, v = -v;
                if (x >= 1) x = 1, v = -v;
                assert_true(m[k] == x && m[2 + k] == v); /* exactly the generator's rule */
                bounces += v != p[2 + k];
            }
        }
    assert_true(bounces > 20); /* the rule's bounce branch was checked */

    /* 4. One digit, T = 2: frame 0's velocity falls in each of 8 compass sectors with
     *    probability 1/8 (balanced classes), and the best guess of the sector from frame 0's
     *    pixel offset alone (the Bayes rule estimated on one half, scored on the other) is
     *    barely above chance, while the offsets of frames 0 and 1 together tell it. */
    assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_DIGITS, 1), SEQVID_OK);
    enum { S2 = 2000, ROUNDS = 40, CELLS = 37 * 37 };
    const size_t n_all = (size_t)S2 * ROUNDS;
    seqvid_batch *c = mm_batch(2, S2, 64);
    double *m2 = malloc((size_t)2 * S2 * 4 * sizeof *m2);
    int *cls = malloc(n_all * sizeof *cls), *cell = malloc(n_all * sizeof *cell);
    int *cell01 = malloc(n_all * sizeof *cell01);
    assert_true(m2 && cls && cell && cell01);
    size_t hist[8] = {0};
    for (size_t r = 0; r < ROUNDS; r++) {
        assert_int_equal(seqvid_experimental_mmnist_fill_motion(g, c, NULL, 0, m2,
                                                               (size_t)2 * S2 * 4),
                         SEQVID_OK);
        for (size_t i = 0; i < S2; i++) {
            const double *f0 = m2 + i * 4, *f1 = m2 + (S2 + i) * 4;
            size_t j = r * S2 + i;
            int oy = (int)(36 * f0[0]), ox = (int)(36 * f0[1]);
            cls[j] = sector8(f0[2], f0[3]);
            cell[j] = oy * 37 + ox;
            /* frames 0 and 1: the offset's change, -4..4 per axis (3.6 px per frame) */
            int dy = (int)(36 * f1[0]) - oy, dx = (int)(36 * f1[1]) - ox;
            assert_true(abs(dy) <= 4 && abs(dx) <= 4);
            cell01[j] = (dy + 4) * 9 + (dx + 4);
            hist[cls[j]]++;
        }
    }
    for (int k = 0; k < 8; k++) /* 10,000 expected each; 5 sigma ~ 470 */
        assert_true(hist[k] > n_all / 8 - 500 && hist[k] < n_all / 8 + 500);
    const size_t half = n_all / 2;
    for (int two = 0; two < 2; two++) {
        const int *key = two ? cell01 : cell;
        size_t *count = calloc((size_t)CELLS * 8, sizeof *count);
        assert_non_null(count);
        for (size_t j = 0; j < half; j++) count[(size_t)key[j] * 8 + (size_t)cls[j]]++;
        size_t right = 0;
        for (size_t j = half; j < n_all; j++) {
            const size_t *row = count + (size_t)key[j] * 8;
            int best = 0;
            for (int k = 1; k < 8; k++)
                if (row[k] > row[best]) best = k;
            right += best == cls[j];
        }
        double acc = (double)right / (double)(n_all - half);
        if (two)
            assert_true(acc > 0.80); /* two frames: 85.6% in a large sample (pixel rounding) */
        else
            assert_true(acc > 0.125 && acc < 0.20); /* one frame: 16.8% in a large sample */
        free(count);
    }
    free(m2), free(cls), free(cell), free(cell01);
    seqvid_batch_free(c);

    free(mo);
    seqvid_batch_free(a);
    seqvid_batch_free(b);
    seqvid_batch_free(wrong);
    seqvid_mmnist_free(g);
    seqvid_mmnist_free(h);
    free_test_digits(d);
}

static void mm_state(void **state) {
    (void)state;
    seqvid_digits *d = test_digits(10, 28), *other = test_digits(11, 28);
    seqvid_mmnist *g, *h, *k;
    assert_int_equal(seqvid_mmnist_create(d, &g), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_create(d, &h), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_create(other, &k), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_SEED, 99), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_SPEED_MAX, 0.2), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_DIGITS, 3), SEQVID_OK);
    const size_t T = 5, S = 2, n = T * S * 4096;
    seqvid_batch *a = mm_batch(T, S, 64), *b = mm_batch(T, S, 64);
    int la[6], lb[6];
    assert_int_equal(seqvid_mmnist_fill(g, a, NULL, 0), SEQVID_OK);

    size_t size = 0;
    assert_int_equal(seqvid_mmnist_state_size(g, &size), SEQVID_OK);
    assert_true(size > 0 && size <= 256);
    unsigned char buf[256], bad[256];
    assert_int_equal(seqvid_mmnist_get_state(g, buf, size - 1), SEQVID_ERR_BUFFER);
    assert_int_equal(seqvid_mmnist_get_state(g, buf, size), SEQVID_OK);

    /* h has other options and another seed: the state brings the whole stream over */
    assert_int_equal(seqvid_mmnist_set(h, SEQVID_MM_SEED, 5), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_set_state(h, buf, size), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_fill(g, a, la, 6), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_fill(h, b, lb, 6), SEQVID_OK);
    assert_memory_equal(bdata(a), bdata(b), n * sizeof(float));
    assert_memory_equal(la, lb, sizeof la);
    double v;
    assert_int_equal(seqvid_mmnist_get(h, SEQVID_MM_DIGITS, &v), SEQVID_OK);
    assert_true(v == 3);
    assert_int_equal(seqvid_mmnist_get(h, SEQVID_MM_SEED, &v), SEQVID_OK);
    assert_true(v == 99);
    /* restoring into g itself rewinds it */
    assert_int_equal(seqvid_mmnist_set_state(g, buf, size), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_fill(g, a, NULL, 0), SEQVID_OK);
    assert_memory_equal(bdata(a), bdata(b), n * sizeof(float));

    /* wrong buffers are refused and leave the generator as it was */
    unsigned char before[256], after[256];
    assert_int_equal(seqvid_mmnist_get_state(h, before, size), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_set_state(h, buf, size - 1), SEQVID_ERR_FORMAT);
    assert_int_equal(seqvid_mmnist_set_state(h, buf, size + 1), SEQVID_ERR_FORMAT);
    for (size_t i = 0; i < size; i++) {
        memcpy(bad, buf, size);
        bad[i] ^= 0x10;
        assert_int_equal(seqvid_mmnist_set_state(h, bad, size), SEQVID_ERR_FORMAT);
    }
    memset(bad, 0, size);
    assert_int_equal(seqvid_mmnist_set_state(h, bad, size), SEQVID_ERR_FORMAT);
    assert_int_equal(seqvid_mmnist_set_state(k, buf, size), SEQVID_ERR_SHAPE); /* other set */
    assert_int_equal(seqvid_mmnist_set_state(h, NULL, size), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_mmnist_get_state(h, after, size), SEQVID_OK);
    assert_memory_equal(before, after, size);

    seqvid_batch_free(a);
    seqvid_batch_free(b);
    seqvid_mmnist_free(g);
    seqvid_mmnist_free(h);
    seqvid_mmnist_free(k);
    free_test_digits(d);
    free_test_digits(other);
}

/* ============================================================================ .npy */

/* A .npy file with a hand-written header (version 1), ended by the '\n' the format requires
 * if `dict` lacks it. */
static void write_npy_raw(const char *path, const char *dict, const void *data, size_t n) {
    size_t dl = strlen(dict), hl = dl + (dl == 0 || dict[dl - 1] != '\n');
    unsigned char *b = malloc(10 + hl + n);
    assert_non_null(b);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)(hl & 0xff), b[9] = (unsigned char)(hl >> 8);
    memcpy(b + 10, dict, dl);
    b[10 + hl - 1] = '\n';
    if (n) memcpy(b + 10 + hl, data, n);
    write_bytes(path, b, 10 + hl + n, 0);
    free(b);
}

static int npy_status(const char *path, int layout) {
    seqvid_batch *b = (seqvid_batch *)(uintptr_t)1;
    int st = seqvid_npy_load(path, layout, &b);
    if (st) {
        assert_null(b);
        assert_true(strlen(seqvid_last_error()) > 0);
    }
    seqvid_batch_free(b);
    return st;
}

static void check_shape(const seqvid_batch *b, size_t T, size_t S, size_t D) {
    size_t t, s, dd;
    assert_int_equal(seqvid_batch_shape(b, &t, &s, &dd), SEQVID_OK);
    assert_int_equal(t, T);
    assert_int_equal(s, S);
    assert_int_equal(dd, D);
}

/* Files numpy wrote: (T=2, N=3, 2, 2) uint8 and (N=3, T=2, 2, 3) float32 in a v2.0 header. */
static void npy_numpy_fixtures(void **state) {
    (void)state;
    seqvid_batch *b;
    assert_int_equal(seqvid_npy_load(fixture("npy_u8_tn22.npy"), SEQVID_LAYOUT_TIME_MAJOR, &b),
                     SEQVID_OK);
    check_shape(b, 2, 3, 4);
    for (size_t i = 0; i < 24; i++) assert_true(bdata(b)[i] == (float)(i * 7 % 256) / 255.0f);
    seqvid_batch_free(b);
    /* the same file read as (N, T, ...): N=2 sequences of T=3 frames */
    assert_int_equal(seqvid_npy_load(fixture("npy_u8_tn22.npy"), SEQVID_LAYOUT_SEQ_MAJOR, &b),
                     SEQVID_OK);
    check_shape(b, 3, 2, 4);
    for (size_t t = 0; t < 3; t++)
        for (size_t n = 0; n < 2; n++)
            for (size_t j = 0; j < 4; j++)
                assert_true(bdata(b)[(t * 2 + n) * 4 + j] ==
                            (float)(((n * 3 + t) * 4 + j) * 7 % 256) / 255.0f);
    seqvid_batch_free(b);

    assert_int_equal(seqvid_npy_load(fixture("npy_f4_nt23_v2.npy"), SEQVID_LAYOUT_SEQ_MAJOR, &b),
                     SEQVID_OK);
    check_shape(b, 2, 3, 6);
    for (size_t t = 0; t < 2; t++)
        for (size_t n = 0; n < 3; n++)
            for (size_t j = 0; j < 6; j++)
                assert_true(bdata(b)[(t * 3 + n) * 6 + j] ==
                            (float)((n * 2 + t) * 6 + j) / 4.0f - 1.0f);
    /* lengths written by numpy (int64 [1, 2, 2]) */
    assert_int_equal(seqvid_npy_load_lengths(fixture("npy_len_i64.npy"), b), SEQVID_OK);
    size_t len;
    const size_t want[3] = {1, 2, 2};
    for (size_t n = 0; n < 3; n++) {
        assert_int_equal(seqvid_batch_get_length(b, n, &len), SEQVID_OK);
        assert_int_equal(len, want[n]);
    }
    seqvid_batch_free(b);
    assert_int_equal(npy_status(fixture("npy_f4_big_endian.npy"), 0), SEQVID_ERR_UNSUPPORTED);
    assert_int_equal(npy_status(fixture("npy_f4_fortran.npy"), 0), SEQVID_ERR_UNSUPPORTED);
}

/* The dict of a version 1.0 .npy file (trailing padding removed) into hdr; checks the
 * padding rules and that `data_bytes` follow. Returns where the data starts. */
static char hdr[1024];
static size_t npy_header_of(const char *path, size_t data_bytes) {
    unsigned char raw[4096];
    size_t got = read_bytes(path, raw, sizeof raw);
    assert_true(got >= 10);
    assert_memory_equal(raw, "\x93NUMPY\x01\x00", 8);
    size_t hl = raw[8] | (size_t)raw[9] << 8;
    assert_int_equal((10 + hl) % 64, 0);
    assert_int_equal(got, 10 + hl + data_bytes);
    assert_int_equal(raw[10 + hl - 1], '\n');
    size_t n = hl - 1;
    while (n && raw[10 + n - 1] == ' ') n--;
    assert_true(n < sizeof hdr);
    memcpy(hdr, raw + 10, n);
    hdr[n] = '\0';
    return 10 + hl;
}

static void npy_save_round_trip(void **state) {
    (void)state;
    const size_t T = 3, N = 2, H = 4, W = 5, n = T * N * H * W;
    float x[3 * 2 * 4 * 5];
    for (size_t i = 0; i < n; i++) x[i] = (float)i * 0.25f - 7.0f;
    x[5] = -0.0f, x[6] = 1e-38f, x[7] = 3.4e38f;
    const size_t shape[4] = {T, N, H, W};
    assert_int_equal(seqvid_npy_save(tmp("s.npy"), x, 4, shape), SEQVID_OK);
    /* header exactly as numpy writes it: version 1.0, padded with spaces so that the data
     * starts at a multiple of 64, ended by '\n' */
    assert_int_equal(npy_header_of(tmp("s.npy"), n * 4), 128);
    assert_string_equal(hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2, 4, 5), }");

    seqvid_batch *b;
    assert_int_equal(seqvid_npy_load(tmp("s.npy"), SEQVID_LAYOUT_TIME_MAJOR, &b), SEQVID_OK);
    check_shape(b, T, N, H * W);
    assert_memory_equal(bdata(b), x, n * sizeof(float));
    seqvid_batch_free(b);
    assert_int_equal(seqvid_npy_load(tmp("s.npy"), SEQVID_LAYOUT_SEQ_MAJOR, &b), SEQVID_OK);
    check_shape(b, N, T, H * W); /* read as (N=3, T=2): transposed into time-major */
    for (size_t t = 0; t < N; t++)
        for (size_t s = 0; s < T; s++)
            assert_memory_equal(bdata(b) + (t * T + s) * H * W, x + (s * N + t) * H * W,
                                H * W * sizeof(float));
    seqvid_batch_free(b);

    /* 1-D and 3-D shapes print as numpy does */
    const size_t one[1] = {4}, three[3] = {1, 1, 1};
    assert_int_equal(seqvid_npy_save(tmp("1d.npy"), x, 1, one), SEQVID_OK);
    assert_int_equal(npy_header_of(tmp("1d.npy"), 16), 128);
    assert_string_equal(hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }");
    assert_int_equal(npy_status(tmp("1d.npy"), 0), SEQVID_ERR_SHAPE); /* < 3 dims */
    assert_int_equal(seqvid_npy_save(tmp("3d.npy"), x, 3, three), SEQVID_OK);
    assert_int_equal(seqvid_npy_load(tmp("3d.npy"), 0, &b), SEQVID_OK);
    check_shape(b, 1, 1, 1);
    seqvid_batch_free(b);

    const size_t huge[3] = {SIZE_MAX / 2, 4, 1};
    assert_int_equal(seqvid_npy_save(tmp("x.npy"), x, 3, huge), SEQVID_ERR_OVERFLOW);
    assert_int_equal(seqvid_npy_save(tmp("x.npy"), x, 0, shape), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_npy_save(tmp("x.npy"), NULL, 4, shape), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_npy_save(tmp("no/such/dir.npy"), x, 4, shape), SEQVID_ERR_IO);
}

static void npy_bad_files(void **state) {
    (void)state;
    unsigned char data[2 * 3 * 4 * 4] = {0};
    seqvid_batch *b;
    const char *P = tmp("bad.npy");
    assert_int_equal(npy_status(tmp("missing.npy"), 0), SEQVID_ERR_IO);
    assert_int_equal(npy_status(NULL, 0), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_npy_load(P, 0, NULL), SEQVID_ERR_NULL);

    /* a good one, to make sure the failures below come from what they change */
    write_npy_raw(P, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 4), }\n", data, 24);
    assert_int_equal(npy_status(P, SEQVID_LAYOUT_TIME_MAJOR), SEQVID_OK);
    assert_int_equal(npy_status(P, 7), SEQVID_ERR_ARG);
    /* double quotes, no trailing comma, Python 2 longs, float32 */
    write_npy_raw(P, "{\"shape\": (2L, 3L, 1L), \"fortran_order\": False, \"descr\": \"<f4\"}",
                  data, 24);
    assert_int_equal(npy_status(P, 0), SEQVID_OK);

    const struct { const char *dict; size_t n; int st; } cases[] = {
        /* truncated data, data after the array */
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 4), }", 23, SEQVID_ERR_FORMAT},
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 4), }", 25, SEQVID_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }", 95, SEQVID_ERR_FORMAT},
        /* types */
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3, 4), }", 96,
         SEQVID_ERR_UNSUPPORTED},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3, 1), }", 48,
         SEQVID_ERR_UNSUPPORTED},
        {"{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3, 1), }", 24,
         SEQVID_ERR_UNSUPPORTED},
        {"{'descr': '|O', 'fortran_order': False, 'shape': (2, 3, 1), }", 48,
         SEQVID_ERR_UNSUPPORTED},
        {"{'descr': '<U3', 'fortran_order': False, 'shape': (2, 3, 1), }", 72,
         SEQVID_ERR_UNSUPPORTED},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 3, 1), }", 24,
         SEQVID_ERR_UNSUPPORTED},
        {"{'descr': 'f4', 'fortran_order': False, 'shape': (2, 3, 1), }", 24, SEQVID_ERR_FORMAT},
        {"{'descr': '<fx', 'fortran_order': False, 'shape': (2, 3, 1), }", 24, SEQVID_ERR_FORMAT},
        {"{'descr': '|u1', 'fortran_order': True, 'shape': (2, 3, 4), }", 24,
         SEQVID_ERR_UNSUPPORTED},
        /* shapes */
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (6, 4), }", 24, SEQVID_ERR_SHAPE},
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (2, 0, 4), }", 0, SEQVID_ERR_FORMAT},
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (4294967296, 4294967296, "
         "4294967296), }", 24, SEQVID_ERR_OVERFLOW},
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (99999999999999999999999, 1, 1), }",
         24, SEQVID_ERR_OVERFLOW},
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (2, -3, 4), }", 24,
         SEQVID_ERR_FORMAT},
        {"{'descr': '|u1', 'fortran_order': False, 'shape': 24, }", 24, SEQVID_ERR_FORMAT},
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 4 }", 24, SEQVID_ERR_FORMAT},
        /* batch size limits (INT_MAX floats) */
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (65536, 65536, 1), }", 24,
         SEQVID_ERR_FORMAT},
        /* dict syntax */
        {"{'descr': '|u1', 'shape': (2, 3, 4), }", 24, SEQVID_ERR_FORMAT},
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 4), 'x': 1}", 24,
         SEQVID_ERR_FORMAT},
        {"{'descr': '|u1', 'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 4)}", 24,
         SEQVID_ERR_FORMAT},
        {"{'descr': '|u1', 'fortran_order': Maybe, 'shape': (2, 3, 4), }", 24,
         SEQVID_ERR_FORMAT},
        {"{'descr': '|u1' 'fortran_order': False, 'shape': (2, 3, 4), }", 24, SEQVID_ERR_FORMAT},
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 4), } junk", 24,
         SEQVID_ERR_FORMAT},
        {"['descr', '|u1']", 24, SEQVID_ERR_FORMAT},
        {"{'descr: '|u1', 'fortran_order': False, 'shape': (2, 3, 4), }", 24, SEQVID_ERR_FORMAT},
        {"", 24, SEQVID_ERR_FORMAT},
    };
    unsigned char big[128] = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_npy_raw(P, cases[i].dict, big, cases[i].n);
        int st = npy_status(P, 0);
        if (st != cases[i].st) print_error("case %zu: %s\n", i, seqvid_last_error());
        assert_int_equal(st, cases[i].st);
    }
    /* the (65536, 65536, 1) case above is a truncated file; a full-size one would be an
     * overflow of the batch limits, checked before any data is read: */
    assert_int_equal(seqvid_batch_create(65536, 65536, 1, &b), SEQVID_ERR_OVERFLOW);

    /* magic, version, header length */
    write_bytes(P, "\x93NUMPX\x01\x00\x10\x00{}", 12, 0);
    assert_int_equal(npy_status(P, 0), SEQVID_ERR_FORMAT);
    write_bytes(P, "\x93NUM", 4, 0);
    assert_int_equal(npy_status(P, 0), SEQVID_ERR_FORMAT);
    write_bytes(P, "\x93NUMPY\x04\x00\x10\x00{}", 12, 0);
    assert_int_equal(npy_status(P, 0), SEQVID_ERR_UNSUPPORTED);
    write_bytes(P, "\x93NUMPY\x01\x00\xff\xff{}", 12, 0); /* 65535 announced, 2 present */
    assert_int_equal(npy_status(P, 0), SEQVID_ERR_FORMAT);
    write_bytes(P, "\x93NUMPY\x02\x00\x00\x00\x00\x40{}", 14, 0); /* 1 GiB header */
    assert_int_equal(npy_status(P, 0), SEQVID_ERR_FORMAT);
    write_bytes(P, "\x93NUMPY\x01", 7, 0);
    assert_int_equal(npy_status(P, 0), SEQVID_ERR_FORMAT);
    /* version 3.0 (utf-8 header) is read like 2.0 */
    const char *d3 = "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1, 2), }\n";
    unsigned char v3[128];
    size_t hl = strlen(d3);
    memcpy(v3, "\x93NUMPY\x03\x00", 8);
    v3[8] = (unsigned char)hl, v3[9] = v3[10] = v3[11] = 0;
    memcpy(v3 + 12, d3, hl);
    v3[12 + hl] = 255, v3[13 + hl] = 0;
    write_bytes(P, v3, 14 + hl, 0);
    assert_int_equal(seqvid_npy_load(P, 0, &b), SEQVID_OK);
    assert_true(bdata(b)[0] == 1.0f && bdata(b)[1] == 0.0f);
    seqvid_batch_free(b);
}

static void npy_lengths(void **state) {
    (void)state;
    seqvid_batch *b;
    assert_int_equal(seqvid_batch_create(4, 3, 2, &b), SEQVID_OK);
    size_t len;
    const struct { const char *descr; size_t size; } types[] = {
        {"|u1", 1}, {"|i1", 1}, {"<u2", 2}, {"<i2", 2}, {"<u4", 4}, {"<i4", 4}, {"<u8", 8},
        {"<i8", 8}};
    for (size_t k = 0; k < 8; k++) {
        unsigned char raw[24] = {0};
        const unsigned want[3] = {4, 1, 3};
        for (int i = 0; i < 3; i++) raw[i * types[k].size] = (unsigned char)want[i];
        char dict[128];
        snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (3,), }",
                 types[k].descr);
        write_npy_raw(tmp("len.npy"), dict, raw, 3 * types[k].size);
        assert_int_equal(seqvid_npy_load_lengths(tmp("len.npy"), b), SEQVID_OK);
        for (size_t i = 0; i < 3; i++) {
            assert_int_equal(seqvid_batch_get_length(b, i, &len), SEQVID_OK);
            assert_int_equal(len, want[i]);
        }
    }
    /* failures leave the lengths as they were ({4, 1, 3}) */
    const struct { const char *dict; unsigned char raw[24]; size_t n; int st; } bad[] = {
        {"{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", {1, 0, 0, 0, 5}, 12,
         SEQVID_ERR_SHAPE}, /* 5 > T = 4 */
        {"{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", {1, 0, 0, 0, 0}, 12,
         SEQVID_ERR_SHAPE}, /* 0 */
        {"{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }", {1, 0, 0xff, 0xff, 1}, 6,
         SEQVID_ERR_SHAPE}, /* -1 */
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
         {1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x80, 1}, 24, SEQVID_ERR_SHAPE},
        {"{'descr': '<u8', 'fortran_order': False, 'shape': (3,), }",
         {1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}, 24, SEQVID_ERR_SHAPE}, /* 2^32+1 */
        {"{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", {1, 0, 0, 0, 1}, 8,
         SEQVID_ERR_SHAPE}, /* count */
        {"{'descr': '<i4', 'fortran_order': False, 'shape': (3, 1), }", {1, 0, 0, 0, 1}, 12,
         SEQVID_ERR_SHAPE}, /* 2-D */
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", {0}, 12,
         SEQVID_ERR_UNSUPPORTED},
        {"{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", {1}, 11,
         SEQVID_ERR_FORMAT}, /* truncated */
        {"{'descr': '>i4', 'fortran_order': False, 'shape': (3,), }", {0}, 12,
         SEQVID_ERR_UNSUPPORTED},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        write_npy_raw(tmp("len.npy"), bad[k].dict, bad[k].raw, bad[k].n);
        assert_int_equal(seqvid_npy_load_lengths(tmp("len.npy"), b), bad[k].st);
        const size_t want[3] = {4, 1, 3};
        for (size_t i = 0; i < 3; i++) {
            assert_int_equal(seqvid_batch_get_length(b, i, &len), SEQVID_OK);
            assert_int_equal(len, want[i]);
        }
    }
    assert_int_equal(seqvid_npy_load_lengths(NULL, b), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_npy_load_lengths(tmp("len.npy"), NULL), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_npy_load_lengths(tmp("missing.npy"), b), SEQVID_ERR_IO);
    seqvid_batch_free(b);
}

/* ============================================================================ patches */

static void crop(void **state) {
    (void)state;
    const size_t T = 2, S = 3, H = 4, W = 5, C = 2, D = H * W * C;
    seqvid_batch *src, *p = (seqvid_batch *)(uintptr_t)1;
    assert_int_equal(seqvid_batch_create(T, S, D, &src), SEQVID_OK);
    float *x = bdata(src);
    for (size_t i = 0; i < T * S * D; i++) x[i] = (float)i;
    assert_int_equal(seqvid_batch_set_length(src, 1, 1), SEQVID_OK);
    assert_int_equal(seqvid_batch_crop(src, H, W, C, 1, 2, 2, 3, &p), SEQVID_OK);
    check_shape(p, T, S, 2 * 3 * C);
    for (size_t f = 0; f < T * S; f++)
        for (size_t r = 0; r < 2; r++)
            for (size_t c = 0; c < 3; c++)
                for (size_t ch = 0; ch < C; ch++)
                    assert_true(bdata(p)[f * 12 + (r * 3 + c) * C + ch] ==
                                x[f * D + ((1 + r) * W + 2 + c) * C + ch]);
    size_t len;
    assert_int_equal(seqvid_batch_get_length(p, 1, &len), SEQVID_OK);
    assert_int_equal(len, 1);
    seqvid_batch_free(p);
    /* the whole frame is a valid patch, and a 1x1 one at the far corner */
    assert_int_equal(seqvid_batch_crop(src, H, W, C, 0, 0, H, W, &p), SEQVID_OK);
    assert_memory_equal(bdata(p), x, T * S * D * sizeof(float));
    seqvid_batch_free(p);
    assert_int_equal(seqvid_batch_crop(src, H, W, C, 3, 4, 1, 1, &p), SEQVID_OK);
    assert_true(bdata(p)[1] == x[D - 1]);
    seqvid_batch_free(p);

    assert_int_equal(seqvid_batch_crop(src, H, W, C, 3, 4, 2, 1, &p), SEQVID_ERR_ARG);
    assert_null(p);
    assert_int_equal(seqvid_batch_crop(src, H, W, C, 0, 4, 1, 2, &p), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_batch_crop(src, H, W, C, SIZE_MAX, 0, 1, 1, &p), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_batch_crop(src, H, W, C, 0, 0, 0, 1, &p), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_batch_crop(src, H, W, 1, 0, 0, 1, 1, &p), SEQVID_ERR_SHAPE);
    assert_int_equal(seqvid_batch_crop(src, SIZE_MAX, W, C, 0, 0, 1, 1, &p), SEQVID_ERR_SHAPE);
    assert_int_equal(seqvid_batch_crop(NULL, H, W, C, 0, 0, 1, 1, &p), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_batch_crop(src, H, W, C, 0, 0, 1, 1, NULL), SEQVID_ERR_NULL);
    seqvid_batch_free(src);
}

/* ================================================================== hostile inputs */

/* A FIFO (named pipe) or a directory given as a data file: refused at once as "not a regular
 * file" (SEQVID_ERR_IO). Before, opening a FIFO blocked forever waiting for a writer; the
 * alarm turns such a hang into a failure of this test. */
static void not_regular_files(void **state) {
    (void)state;
    char fifo[512];
    snprintf(fifo, sizeof fifo, "%s", tmp("fifo"));
    assert_int_equal(mkfifo(fifo, 0600), 0);
    small_idx(tmp("reg_img"), tmp("reg_lab"), 0);
    char img[512], lab[512];
    snprintf(img, sizeof img, "%s", tmp("reg_img"));
    snprintf(lab, sizeof lab, "%s", tmp("reg_lab"));
    seqvid_batch *b;
    assert_int_equal(seqvid_batch_create(2, 3, 4, &b), SEQVID_OK);
    const char *paths[2] = {fifo, tmpdir};
    alarm(30);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(npy_status(paths[i], 0), SEQVID_ERR_IO);
        assert_non_null(strstr(seqvid_last_error(), "not a regular file"));
        assert_int_equal(seqvid_npy_load_lengths(paths[i], b), SEQVID_ERR_IO);
        assert_non_null(strstr(seqvid_last_error(), "not a regular file"));
        assert_int_equal(load_status(paths[i], NULL), SEQVID_ERR_IO);
        assert_non_null(strstr(seqvid_last_error(), "not a regular file"));
        assert_int_equal(load_status(img, paths[i]), SEQVID_ERR_IO);
        assert_non_null(strstr(seqvid_last_error(), "not a regular file"));
    }
    alarm(0);
    assert_int_equal(load_status(img, lab), SEQVID_OK);
    seqvid_batch_free(b);
    unlink(fifo);
}

/* .npy versions other than 1.0, 2.0 and 3.0, and a header without its final newline. */
static void npy_strict_header(void **state) {
    (void)state;
    const char *P = tmp("strict.npy");
    const char *dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1, 2), }";
    unsigned char f[128], data[2] = {255, 0};
    size_t hl = strlen(dict);
    for (int v = 0; v < 5; v++) {
        /* 1.0 and 2.0 as numpy writes them; then 1.9, 2.1 and 1.0 without the newline */
        const unsigned char major[5] = {1, 2, 1, 2, 1}, minor[5] = {0, 0, 9, 1, 0};
        size_t n = hl + (v < 4), lb = major[v] == 1 ? 2 : 4;
        memcpy(f, "\x93NUMPY", 6);
        f[6] = major[v], f[7] = minor[v];
        memset(f + 8, 0, lb);
        f[8] = (unsigned char)n;
        memcpy(f + 8 + lb, dict, hl);
        f[8 + lb + hl] = '\n';
        memcpy(f + 8 + lb + n, data, 2);
        write_bytes(P, f, 8 + lb + n + 2, 0);
        int want = v < 2 ? SEQVID_OK : v < 4 ? SEQVID_ERR_UNSUPPORTED : SEQVID_ERR_FORMAT;
        assert_int_equal(npy_status(P, 0), want);
    }
}

/* The gzip trailer (CRC-32 of the data, then its size mod 2^32) vouches for the stream: a
 * stream without it, or with either field wrong, is refused. */
static void idx_gzip_trailer(void **state) {
    (void)state;
    unsigned char z[4096];
    small_idx(tmp("gzt"), NULL, 1);
    size_t n = read_bytes(tmp("gzt"), z, sizeof z);
    assert_true(n > 18 && n < sizeof z);
    assert_int_equal(load_status(tmp("gzt"), NULL), SEQVID_OK);
    for (size_t cut = 1; cut <= 8; cut++) { /* part or all of the trailer missing */
        write_bytes(tmp("gzt_cut"), z, n - cut, 0);
        assert_int_equal(load_status(tmp("gzt_cut"), NULL), SEQVID_ERR_FORMAT);
    }
    for (size_t at = n - 8; at < n; at++) { /* CRC (4 bytes) then ISIZE (4 bytes) */
        z[at] ^= 0x01;
        write_bytes(tmp("gzt_bad"), z, n, 0);
        assert_int_equal(load_status(tmp("gzt_bad"), NULL), SEQVID_ERR_FORMAT);
        z[at] ^= 0x01;
    }
}

static long peak_rss_kb(void) {
    struct rusage ru;
    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_maxrss;
}

/* An IDX gzip bomb of `zeros` payload bytes whose header announces count x 32 x 32 images:
 * a few KB on disk. Written through gzwrite in pieces so the test holds no big buffer. */
static void write_bomb(const char *path, uint32_t count, size_t zeros) {
    gzFile f = gzopen(path, "wb9");
    assert_non_null(f);
    unsigned char h[16] = {0, 0, 8, 3}, zero[65536] = {0};
    for (int k = 0; k < 4; k++) h[4 + k] = (unsigned char)(count >> (24 - 8 * k));
    h[11] = h[15] = 32;
    assert_int_equal(gzwrite(f, h, 16), 16);
    for (size_t done = 0; done < zeros; done += sizeof zero) {
        unsigned k = (unsigned)(zeros - done < sizeof zero ? zeros - done : sizeof zero);
        assert_int_equal(gzwrite(f, zero, k), (int)k);
    }
    assert_int_equal(gzclose(f), Z_OK);
}

/* SEQVID_LIMIT_IDX_BYTES: its checks, and gzip bombs under a 4 MiB limit. The peak memory
 * of the process (ru_maxrss, a high-water mark) may grow by at most the 16 MiB of floats the
 * limit allows (plus slack for the zlib state and the allocator) while loading a bomb that
 * inflates to 64 MiB; a header announcing more than the limit is refused before inflating. */
static void idx_limit_and_bombs(void **state) {
    (void)state;
    double v;
    assert_int_equal(seqvid_get_limit(SEQVID_LIMIT_IDX_BYTES, &v), SEQVID_OK);
    assert_true(v == 1073741824.0); /* the documented default, 2^30 */
    assert_int_equal(seqvid_get_limit(SEQVID_LIMIT_IDX_BYTES, NULL), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_get_limit(0, &v), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_get_limit(99, &v), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_set_limit(99, 1), SEQVID_ERR_ARG);
    const double bad[] = {0, -1, 1.5, NAN, INFINITY, 1099511627777.0 /* 2^40 + 1 */};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(seqvid_set_limit(SEQVID_LIMIT_IDX_BYTES, bad[i]), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_get_limit(SEQVID_LIMIT_IDX_BYTES, &v), SEQVID_OK);
    assert_true(v == 1073741824.0); /* failed sets changed nothing */

    /* the limit is on count x rows x cols, inclusive; labels are not counted */
    small_idx(tmp("lim_img"), tmp("lim_lab"), 1);
    assert_int_equal(seqvid_set_limit(SEQVID_LIMIT_IDX_BYTES, NI * NR * NC), SEQVID_OK);
    assert_int_equal(load_status(tmp("lim_img"), tmp("lim_lab")), SEQVID_OK);
    assert_int_equal(seqvid_set_limit(SEQVID_LIMIT_IDX_BYTES, NI * NR * NC - 1), SEQVID_OK);
    assert_int_equal(load_status(tmp("lim_img"), tmp("lim_lab")), SEQVID_ERR_FORMAT);
    assert_non_null(strstr(seqvid_last_error(), "SEQVID_LIMIT_IDX_BYTES"));

    const size_t limit = (size_t)4 << 20, bomb = (size_t)64 << 20;
    assert_int_equal(seqvid_set_limit(SEQVID_LIMIT_IDX_BYTES, (double)limit), SEQVID_OK);
    /* 1: the header announces (and the stream holds) 64 MiB: refused from the header */
    write_bomb(tmp("bomb1"), (uint32_t)(bomb / 1024), bomb);
    long rss0 = peak_rss_kb();
    assert_int_equal(load_status(tmp("bomb1"), NULL), SEQVID_ERR_FORMAT);
    assert_non_null(strstr(seqvid_last_error(), "limit"));
    long grow1 = peak_rss_kb() - rss0;
    /* 2: the header announces exactly the limit, the stream inflates to 64 MiB */
    write_bomb(tmp("bomb2"), (uint32_t)(limit / 1024), bomb);
    rss0 = peak_rss_kb();
    assert_int_equal(load_status(tmp("bomb2"), NULL), SEQVID_ERR_FORMAT);
    assert_non_null(strstr(seqvid_last_error(), "data after"));
    long grow2 = peak_rss_kb() - rss0;
    print_message("bomb peak RSS growth: %ld KiB (refused from the header), %ld KiB (read to "
                  "the 4 MiB limit)\n", grow1, grow2);
    assert_true(grow1 < 4096);
    assert_true(grow2 < (long)(4 * limit / 1024) + 4096);
    /* 3: the same size, whole: loads */
    write_bomb(tmp("bomb3"), (uint32_t)(limit / 1024), limit);
    assert_int_equal(load_status(tmp("bomb3"), NULL), SEQVID_OK);
    assert_int_equal(seqvid_set_limit(SEQVID_LIMIT_IDX_BYTES, 1073741824.0), SEQVID_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(idx_round_trip),
        cmocka_unit_test(idx_bad_files),
        cmocka_unit_test(idx_fashion_mnist),
        cmocka_unit_test(mm_options_and_errors),
        cmocka_unit_test(mm_determinism),
        cmocka_unit_test(mm_statistics),
        cmocka_unit_test(mm_random_speed_and_counts),
        cmocka_unit_test(mm_state),
        cmocka_unit_test(mm_motion),
        cmocka_unit_test(npy_numpy_fixtures),
        cmocka_unit_test(npy_save_round_trip),
        cmocka_unit_test(npy_bad_files),
        cmocka_unit_test(npy_lengths),
        cmocka_unit_test(crop),
        cmocka_unit_test(not_regular_files),
        cmocka_unit_test(npy_strict_header),
        cmocka_unit_test(idx_gzip_trailer),
        cmocka_unit_test(idx_limit_and_bombs),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
