/* fuzz_video.c -- libFuzzer harness of libseqvid_video over in-memory input.
 *
 * Each input is opened with seqvid_video_open_buffer under tight limits (small frames, few
 * packets without a frame, a short time limit), then every frame is decoded as gray and as a
 * cropped, resized RGB patch batch, and a seek back is tried. Oracles: no crash and no
 * sanitizer report (ASan, UBSan, LeakSanitizer), no hang (libFuzzer's -timeout), bounded
 * memory (-rss_limit_mb); a failed open returns no handle and a message; every float out is
 * in [0, 1]. Built by -DSEQVID_FUZZ=ON (clang, see tests/fuzz/run.sh); replay_main.c runs
 * the same function over tests/fuzz/video_corpus in ordinary builds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "seqvid_video.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_range(const float *f, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!(f[i] >= 0 && f[i] <= 1)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    seqvid_video *v = (seqvid_video *)1;
    if (seqvid_video_open_buffer(size ? data : (const uint8_t *)"", size, &v)) {
        if (v || !seqvid_video_last_error()[0]) abort();
        return 0;
    }
    /* Limits first: the harness must never allocate much nor loop long. */
    if (seqvid_video_set(v, SEQVID_VIDEO_MAX_PIXELS, 1 << 20) ||
        seqvid_video_set(v, SEQVID_VIDEO_MAX_PACKETS, 256) ||
        seqvid_video_set(v, SEQVID_VIDEO_TIMEOUT, 5))
        abort();
    double dim_d = 0;
    if (seqvid_video_get(v, SEQVID_VIDEO_FRAME_DIM, &dim_d) == SEQVID_OK && dim_d <= (1 << 20)) {
        size_t dim = (size_t)dim_d, n = 0, total = 0;
        float *f = malloc(dim * sizeof *f);
        if (!f) abort();
        while (total < 64 && seqvid_video_read(v, f, 1, &n) == SEQVID_OK && n == 1) {
            check_range(f, dim);
            total++;
        }
        free(f);
    }
    /* RGB, cropped, resized, as 8x8 patches into a batch, from a seek back to frame 1. */
    seqvid_video_set(v, SEQVID_VIDEO_CHANNELS, 3);
    seqvid_video_set(v, SEQVID_VIDEO_CROP_X, 1);
    seqvid_video_set(v, SEQVID_VIDEO_OUT_WIDTH, 16);
    seqvid_video_set(v, SEQVID_VIDEO_OUT_HEIGHT, 16);
    seqvid_video_set(v, SEQVID_VIDEO_PATCH, 8);
    seqvid_video_set(v, SEQVID_VIDEO_PATCH_MODE, SEQVID_VIDEO_PATCH_RANDOM);
    seqvid_batch *b = NULL;
    if (seqvid_batch_create(3, 2, 8 * 8 * 3, &b)) abort();
    if (seqvid_video_fill_batch(v, b, 0, 2, 1) == SEQVID_OK) {
        float *d;
        seqvid_batch_data(b, &d);
        check_range(d, 3 * 2 * 8 * 8 * 3);
    }
    seqvid_batch_free(b);
    seqvid_video_free(v);
    return 0;
}
