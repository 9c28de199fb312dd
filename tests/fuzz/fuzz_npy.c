/* fuzz_npy.c -- libFuzzer harness of the .npy readers (seqvid_npy_load and
 * seqvid_npy_load_lengths, lib/data/npy.c).
 *
 * Each input is loaded as frames in both layouts and as the lengths of a batch of three
 * sequences of eight steps. Oracles: no crash and no sanitizer report; a failed load returns
 * no batch, and a failed lengths load leaves the batch's lengths as they were; the two
 * layouts of one file hold the same frames, transposed (frame i of the file is (t, n) =
 * (i, .) time-major and (i % T, i / T) sequence-major); a loaded batch saved with
 * seqvid_npy_save reloads bitwise the same; loaded lengths are in [1, 8].
 * Built by -DSEQVID_FUZZ=ON (clang, see tests/fuzz/run.sh); replay_main.c runs the same
 * function over the seed corpus (tests/fuzz/corpus_npy) in ordinary builds. */
#include "fuzz_file.h"
#include <string.h>
#include "seqvid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static seqvid_batch *load(const char *path, int layout) {
    seqvid_batch *b = NULL;
    int st = seqvid_npy_load(path, layout, &b);
    if ((st == SEQVID_OK) != (b != NULL)) abort();
    return b;
}

static void shape(const seqvid_batch *b, size_t *T, size_t *S, size_t *D, float **x) {
    if (seqvid_batch_shape(b, T, S, D) || seqvid_batch_data((seqvid_batch *)b, x)) abort();
}

/* Saved and reloaded (time-major), the batch is bitwise the same. */
static void round_trip(const seqvid_batch *b) {
    size_t T, S, D, T2, S2, D2;
    float *x, *y;
    shape(b, &T, &S, &D, &x);
    const size_t dims[3] = {T, S, D};
    const uint8_t none = 0;
    const char *path = fuzz_file(1, &none, 0);
    if (seqvid_npy_save(path, x, 3, dims)) abort();
    seqvid_batch *c = load(path, SEQVID_LAYOUT_TIME_MAJOR);
    if (!c) abort();
    shape(c, &T2, &S2, &D2, &y);
    if (T2 != T || S2 != S || D2 != D || memcmp(x, y, T * S * D * sizeof(float))) abort();
    seqvid_batch_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(0, data, size);
    seqvid_batch *tm = load(path, SEQVID_LAYOUT_TIME_MAJOR);
    seqvid_batch *sm = load(path, SEQVID_LAYOUT_SEQ_MAJOR);
    if (tm && sm) {
        size_t T, N, D, T2, N2, D2;
        float *x, *y;
        shape(tm, &T, &N, &D, &x); /* the file's axes 0, 1: T, N */
        shape(sm, &T2, &N2, &D2, &y); /* the file's axes 0, 1: N2, T2 */
        if (T != N2 || N != T2 || D != D2) abort();
        for (size_t i = 0; i < T * N; i++)
            if (memcmp(x + i * D, y + ((i % T2) * N2 + i / T2) * D, D * sizeof(float))) abort();
    }
    if (tm) round_trip(tm);
    seqvid_batch_free(tm);
    seqvid_batch_free(sm);

    seqvid_batch *b;
    if (seqvid_batch_create(8, 3, 1, &b)) abort();
    const size_t before[3] = {8, 5, 2};
    for (size_t i = 0; i < 3; i++)
        if (seqvid_batch_set_length(b, i, before[i])) abort();
    int st = seqvid_npy_load_lengths(path, b);
    for (size_t i = 0; i < 3; i++) {
        size_t len;
        if (seqvid_batch_get_length(b, i, &len)) abort();
        if (st ? len != before[i] : len < 1 || len > 8) abort();
    }
    seqvid_batch_free(b);
    return 0;
}
