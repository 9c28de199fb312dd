/* fuzz_idx.h -- the oracles shared by the IDX harnesses (fuzz_idx.c, fuzz_gzip.c). */
#ifndef SV_FUZZ_IDX_H
#define SV_FUZZ_IDX_H
#include <stdlib.h>
#include "seqvid.h"

#define FUZZ_IDX_LIMIT (1 << 22) /* 4 MiB of pixels: 16 MiB of floats at most */

static void fuzz_idx_setup(void) {
    static int done;
    if (!done && seqvid_set_limit(SEQVID_LIMIT_IDX_BYTES, FUZZ_IDX_LIMIT)) abort();
    done = 1;
}

/* Whatever a load returns must be consistent (the status with the handle, the shape with
 * the limit, every pixel a byte over 255, every label a byte). */
static void fuzz_idx_check(int st, seqvid_digits *d, int with_labels) {
    if ((st == SEQVID_OK) != (d != NULL)) abort();
    if (!d) return;
    size_t count, rows, cols;
    if (seqvid_digits_shape(d, &count, &rows, &cols)) abort();
    if (!count || !rows || !cols || count * rows * cols > FUZZ_IDX_LIMIT) abort();
    for (size_t i = 0; i < count; i++) {
        const float *p;
        int label;
        if (seqvid_digits_image(d, i, &p)) abort();
        for (size_t j = 0; j < rows * cols; j++) {
            if (!(p[j] >= 0.0f && p[j] <= 1.0f)) abort();
            int v = (int)(p[j] * 255.0f + 0.5f);
            if (p[j] != (float)v / 255.0f) abort();
        }
        st = seqvid_digits_label(d, i, &label);
        if (with_labels ? st || label < 0 || label > 255 : st != SEQVID_ERR_STATE) abort();
    }
    if (seqvid_digits_image(d, count, &(const float *){0}) != SEQVID_ERR_ARG) abort();
    seqvid_digits_free(d);
}

static void fuzz_idx_check_images(const char *path) {
    seqvid_digits *d = NULL;
    int st = seqvid_digits_load(path, NULL, &d);
    fuzz_idx_check(st, d, 0);
}

static void fuzz_idx_check_labels(const char *images, const char *labels, size_t count) {
    seqvid_digits *d = NULL;
    int st = seqvid_digits_load(images, labels, &d);
    if (d) {
        size_t n;
        if (seqvid_digits_shape(d, &n, NULL, NULL) || n != count) abort();
    }
    fuzz_idx_check(st, d, 1);
}
#endif
