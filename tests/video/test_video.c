/* test_video.c -- libseqvid_video through its public header and shared library only.
 *
 * The test writes its own small videos with the ffmpeg program at test time: FFV1 (lossless,
 * so decoded frames are compared exactly with the pixels the test generated, gray and RGB)
 * and MPEG-4 part 2 (lossy, key frame every 5 frames: seeking must decode forward exactly).
 * OpenCV's sample videos (examples/setup-video.sh; tests/run.sh runs it) must decode with the
 * frame counts ffprobe reports. Damaged input: truncated and corrupted copies of both, random
 * bytes, empty files, folders, a codec FFmpeg does not know, hostile sizes. Data sets: split,
 * batches with and without prefetching, the frame cache (reused, and rebuilt when corrupt).
 * Playlists and lists of files (HLS, ffconcat, DASH, SDP) and URL-like names: only the file
 * named is ever opened. */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seqvid.h"
#include "seqvid_video.h"

enum { W = 64, H = 48, N = 20 };
static char tmpdir[256];
static int have_ffmpeg;

static const char *tmp(const char *name) {
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

/* The test's frames: a moving gradient and a square, different per channel and frame. */
static uint8_t pixel(int t, int y, int x, int c) {
    int v = (x * 3 + y * 5 + t * 7 + c * 40) & 255;
    if (x >= 10 + t && x < 26 + t && y >= 12 && y < 28) v = 255 - c * 60;
    return (uint8_t)v;
}

static void write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n) assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static size_t read_file(const char *path, uint8_t **out) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *out = malloc((size_t)n + 1);
    assert_non_null(*out);
    assert_int_equal(fread(*out, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return (size_t)n;
}

static int run(const char *fmt, ...) {
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* Encode the test frames (gray or RGB) with ffmpeg. */
static void encode(const char *raw_fmt, int c, const char *args, const char *out) {
    uint8_t *raw = malloc((size_t)N * H * W * c);
    assert_non_null(raw);
    for (int t = 0; t < N; t++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int k = 0; k < c; k++) raw[((t * H + y) * W + x) * c + k] = pixel(t, y, x, k);
    write_file(tmp("raw"), raw, (size_t)N * H * W * c);
    free(raw);
    assert_int_equal(run("ffmpeg -v error -y -f rawvideo -pix_fmt %s -s %dx%d -r 25 -i '%s' %s '%s'",
                         raw_fmt, W, H, tmp("raw"), args, out), 0);
}

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/seqvid_video_XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    have_ffmpeg = run("ffmpeg -version >/dev/null 2>&1") == 0;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    run("rm -rf '%s'", tmpdir);
    return 0;
}

#define NEED_FFMPEG()                                                                 \
    do {                                                                              \
        if (!have_ffmpeg) {                                                           \
            print_message("skipped: the ffmpeg program is needed to write test videos " \
                          "(Debian: apt install ffmpeg)\n");                          \
            skip();                                                                   \
        }                                                                             \
    } while (0)

static const char *gray_mkv(void) {
    const char *p = tmp("gray_ffv1.mkv");
    if (access(p, R_OK)) encode("gray", 1, "-c:v ffv1 -pix_fmt gray", p);
    return p;
}
static const char *rgb_mkv(void) {
    const char *p = tmp("rgb_ffv1.mkv");
    if (access(p, R_OK)) encode("rgb24", 3, "-c:v ffv1 -pix_fmt gbrp", p);
    return p;
}
static const char *lossy_avi(void) {
    const char *p = tmp("lossy_mpeg4.avi");
    if (access(p, R_OK)) encode("gray", 1, "-c:v mpeg4 -q:v 2 -g 5 -bf 0 -pix_fmt yuv420p", p);
    return p;
}

static double get(seqvid_video *v, int key) {
    double x = -1;
    assert_int_equal(seqvid_video_get(v, key, &x), SEQVID_OK);
    return x;
}

static float *read_all(seqvid_video *v, size_t max, size_t *n) {
    size_t dim = (size_t)get(v, SEQVID_VIDEO_FRAME_DIM);
    float *f = malloc(max * dim * sizeof *f);
    assert_non_null(f);
    assert_int_equal(seqvid_video_read(v, f, max, n), SEQVID_OK);
    return f;
}

/* Decode to the end in chunks: the frames delivered; *status the last call's. */
static size_t read_to_end(seqvid_video *v, int *status) {
    size_t dim = (size_t)get(v, SEQVID_VIDEO_FRAME_DIM), n, total = 0;
    float *f = malloc(16 * dim * sizeof *f);
    assert_non_null(f);
    do {
        *status = seqvid_video_read(v, f, 16, &n);
        total += n;
    } while (!*status && n == 16);
    free(f);
    return total;
}

/* ---- exact decoding ------------------------------------------------------------------------ */
static void test_ffv1_gray_exact(void **state) {
    (void)state;
    NEED_FFMPEG();
    seqvid_video *v;
    assert_int_equal(seqvid_video_open(gray_mkv(), &v), SEQVID_OK);
    assert_true(get(v, SEQVID_VIDEO_WIDTH) == W && get(v, SEQVID_VIDEO_HEIGHT) == H);
    assert_true(fabs(get(v, SEQVID_VIDEO_FPS) - 25) < 1e-9);
    assert_true(fabs(get(v, SEQVID_VIDEO_DURATION) - N / 25.0) < 0.05);
    /* Matroska has no frame count: estimated from duration x fps, then counted exactly. */
    assert_true(get(v, SEQVID_VIDEO_FRAME_COUNT_EXACT) == 0);
    assert_true(fabs(get(v, SEQVID_VIDEO_FRAME_COUNT) - N) <= 1);
    uint64_t count = 0;
    assert_int_equal(seqvid_video_count_frames(v, &count), SEQVID_OK);
    assert_int_equal(count, N);
    assert_true(get(v, SEQVID_VIDEO_FRAME_COUNT_EXACT) == 1);
    assert_true(get(v, SEQVID_VIDEO_FRAME_DIM) == W * H);
    size_t n;
    float *f = read_all(v, N + 5, &n);
    assert_int_equal(n, N);
    for (int t = 0; t < N; t++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                assert_true(f[(t * H + y) * W + x] == pixel(t, y, x, 0) / 255.0f);
    assert_true(get(v, SEQVID_VIDEO_DAMAGED) == 0);
    assert_true(get(v, SEQVID_VIDEO_POSITION) == N);
    assert_int_equal(seqvid_video_read(v, f, 1, &n), SEQVID_OK); /* at the end: 0 frames */
    assert_int_equal(n, 0);
    free(f);
    seqvid_video_free(v);
}

static void test_ffv1_rgb_exact_and_crop(void **state) {
    (void)state;
    NEED_FFMPEG();
    seqvid_video *v;
    assert_int_equal(seqvid_video_open(rgb_mkv(), &v), SEQVID_OK);
    assert_int_equal(seqvid_video_set(v, SEQVID_VIDEO_CHANNELS, 3), SEQVID_OK);
    size_t n;
    float *f = read_all(v, N, &n);
    assert_int_equal(n, N);
    for (int t = 0; t < N; t++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < 3; c++)
                    assert_true(f[((t * H + y) * W + x) * 3 + c] == pixel(t, y, x, c) / 255.0f);
    free(f);
    /* A crop at an odd position, no resize: exactly the sub-rectangle. */
    assert_int_equal(seqvid_video_set(v, SEQVID_VIDEO_CROP_X, 7), SEQVID_OK);
    assert_int_equal(seqvid_video_set(v, SEQVID_VIDEO_CROP_Y, 5), SEQVID_OK);
    assert_int_equal(seqvid_video_set(v, SEQVID_VIDEO_CROP_WIDTH, 21), SEQVID_OK);
    assert_int_equal(seqvid_video_set(v, SEQVID_VIDEO_CROP_HEIGHT, 13), SEQVID_OK);
    assert_true(get(v, SEQVID_VIDEO_FRAME_WIDTH) == 21 && get(v, SEQVID_VIDEO_FRAME_HEIGHT) == 13);
    assert_int_equal(seqvid_video_seek(v, 3), SEQVID_OK);
    f = read_all(v, 1, &n);
    assert_int_equal(n, 1);
    for (int y = 0; y < 13; y++)
        for (int x = 0; x < 21; x++)
            for (int c = 0; c < 3; c++)
                assert_true(f[(y * 21 + x) * 3 + c] == pixel(3, y + 5, x + 7, c) / 255.0f);
    free(f);
    /* A crop leaving the frame is refused at the read. */
    assert_int_equal(seqvid_video_set(v, SEQVID_VIDEO_CROP_WIDTH, 60), SEQVID_OK);
    float one;
    assert_int_equal(seqvid_video_read(v, &one, 1, &n), SEQVID_ERR_ARG);
    assert_non_null(strstr(seqvid_video_last_error(), "crop"));
    seqvid_video_free(v);
}

/* Resizing is FFmpeg's area filter: halving a frame averages 2x2 blocks. */
static void test_resize_area(void **state) {
    (void)state;
    NEED_FFMPEG();
    seqvid_video *v;
    assert_int_equal(seqvid_video_open(gray_mkv(), &v), SEQVID_OK);
    assert_int_equal(seqvid_video_set(v, SEQVID_VIDEO_OUT_WIDTH, W / 2), SEQVID_OK);
    assert_true(get(v, SEQVID_VIDEO_FRAME_HEIGHT) == H / 2); /* aspect kept */
    size_t n;
    float *f = read_all(v, 2, &n);
    assert_int_equal(n, 2);
    double worst = 0;
    for (int t = 0; t < 2; t++)
        for (int y = 0; y < H / 2; y++)
            for (int x = 0; x < W / 2; x++) {
                double m = (pixel(t, 2 * y, 2 * x, 0) + pixel(t, 2 * y, 2 * x + 1, 0) +
                            pixel(t, 2 * y + 1, 2 * x, 0) + pixel(t, 2 * y + 1, 2 * x + 1, 0)) /
                           4.0 / 255.0;
                worst = fmax(worst, fabs(f[(t * (H / 2) + y) * (W / 2) + x] - m));
            }
    assert_true(worst <= 1.01 / 255); /* rounding of the 8-bit result */
    free(f);
    seqvid_video_free(v);
}

/* Frames narrower than swscale's SIMD blocks (issue 14). libswscale 6 (FFmpeg 5.1, x86) writes
 * whole blocks past the end of a row: gray frames 1-5 pixels wide, and yuv420p -> RGB at widths
 * that are not a multiple of 16, overran the library's exact-size frame buffers (glibc then
 * aborted, "corrupted size vs. prev_size"; under ASan the fuzzer met a corrupted chunk in
 * quarantine). Narrow yuv420p videos, gray and RGB, whole and cropped, from a file and from
 * memory: every frame, exactly the values of the ffmpeg program's own conversion. */
static void test_narrow_frames(void **state) {
    (void)state;
    NEED_FFMPEG();
    enum { NH = 16, NT = 6 };
    static const int widths[] = {1, 2, 3, 5, 17};
    for (size_t i = 0; i < sizeof widths / sizeof *widths; i++) {
        int w = widths[i];
        uint8_t raw[NT * NH * 17 * 3];
        for (int t = 0; t < NT; t++)
            for (int y = 0; y < NH; y++)
                for (int x = 0; x < w; x++)
                    for (int k = 0; k < 3; k++) raw[((t * NH + y) * w + x) * 3 + k] = pixel(t, y, x, k);
        write_file(tmp("narrow.rgb"), raw, (size_t)NT * NH * w * 3);
        assert_int_equal(run("ffmpeg -v error -y -f rawvideo -pix_fmt rgb24 -s %dx%d -r 25 -i '%s' "
                             "-c:v ffv1 -pix_fmt yuv420p '%s'", w, NH, tmp("narrow.rgb"),
                             tmp("narrow.mkv")), 0);
        uint8_t *bytes;
        size_t size = read_file(tmp("narrow.mkv"), &bytes);
        for (int c = 1; c <= 3; c += 2) {
            /* the reference: the ffmpeg program's conversion of the decoded frames */
            assert_int_equal(run("ffmpeg -v error -y -i '%s' -f rawvideo -pix_fmt %s '%s'",
                                 tmp("narrow.mkv"), c == 3 ? "rgb24" : "gray", tmp("narrow.ref")), 0);
            uint8_t *ref;
            assert_int_equal(read_file(tmp("narrow.ref"), &ref), (size_t)NT * NH * w * c);
            for (int crop = 0; crop < 2; crop++) {
                seqvid_video *v;
                if (crop) assert_int_equal(seqvid_video_open_buffer(bytes, size, &v), SEQVID_OK);
                else assert_int_equal(seqvid_video_open(tmp("narrow.mkv"), &v), SEQVID_OK);
                assert_int_equal(seqvid_video_set(v, SEQVID_VIDEO_CHANNELS, c), SEQVID_OK);
                /* a crop one pixel in: from the left where there is room, else from the top */
                int cx = crop && w > 1, cy = crop && w == 1;
                assert_int_equal(seqvid_video_set(v, SEQVID_VIDEO_CROP_X, cx), SEQVID_OK);
                assert_int_equal(seqvid_video_set(v, SEQVID_VIDEO_CROP_Y, cy), SEQVID_OK);
                int ow = w - cx, oh = NH - cy;
                assert_true(get(v, SEQVID_VIDEO_FRAME_DIM) == ow * oh * c);
                size_t n;
                float *f = read_all(v, NT + 1, &n);
                assert_int_equal(n, NT);
                double worst = 0;
                for (int t = 0; t < NT; t++)
                    for (int y = 0; y < oh; y++)
                        for (int x = 0; x < ow * c; x++)
                            worst = fmax(worst, fabs(f[(t * oh + y) * ow * c + x] * 255.0 -
                                                     ref[(t * NH + y + cy) * w * c + cx * c + x]));
                if (worst > 1e-3) /* the same 8-bit values (floats are them / 255) */
                    fail_msg("%d pixels wide, %d channel(s), crop %d: %g levels off ffmpeg's "
                             "conversion", w, c, crop, worst);
                free(f);
                seqvid_video_free(v);
            }
            free(ref);
        }
        free(bytes);
    }
}

static void test_open_buffer_matches_file(void **state) {
    (void)state;
    NEED_FFMPEG();
    uint8_t *bytes;
    size_t size = read_file(lossy_avi(), &bytes);
    seqvid_video *a, *b;
    assert_int_equal(seqvid_video_open(lossy_avi(), &a), SEQVID_OK);
    assert_int_equal(seqvid_video_open_buffer(bytes, size, &b), SEQVID_OK);
    size_t na, nb;
    float *fa = read_all(a, N, &na), *fb = read_all(b, N, &nb);
    assert_int_equal(na, N);
    assert_int_equal(nb, N);
    assert_memory_equal(fa, fb, N * W * H * sizeof *fa);
    /* lossy, but close to the source */
    double err = 0;
    for (int t = 0; t < N; t++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) err += fabs(fa[(t * H + y) * W + x] - pixel(t, y, x, 0) / 255.0);
    assert_true(err / (N * W * H) < 0.03);
    free(fa);
    free(fb);
    seqvid_video_free(a);
    seqvid_video_free(b);
    free(bytes);
}

/* Seeking returns exactly the frame sequential decoding gives, forwards and backwards, in a
 * stream with key frames every 5 frames. */
static void check_seek(const char *path, size_t frames) {
    seqvid_video *v;
    assert_int_equal(seqvid_video_open(path, &v), SEQVID_OK);
    size_t dim = (size_t)get(v, SEQVID_VIDEO_FRAME_DIM), n;
    float *all = read_all(v, frames, &n);
    assert_int_equal(n, frames);
    float *one = malloc(dim * sizeof *one);
    const size_t order[] = {frames - 1, 0, frames / 2, 3, frames / 2 + 7, 1, frames - 2, frames / 3};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
        size_t k = order[i];
        assert_int_equal(seqvid_video_seek(v, k), SEQVID_OK);
        assert_true(get(v, SEQVID_VIDEO_POSITION) == k);
        assert_int_equal(seqvid_video_read(v, one, 1, &n), SEQVID_OK);
        assert_int_equal(n, 1);
        if (memcmp(one, all + k * dim, dim * sizeof *one))
            fail_msg("%s: frame %zu after a seek differs from sequential decoding", path, k);
    }
    assert_int_equal(seqvid_video_seek(v, frames + 10), SEQVID_OK); /* past the end */
    assert_int_equal(seqvid_video_read(v, one, 1, &n), SEQVID_OK);
    assert_int_equal(n, 0);
    free(one);
    free(all);
    seqvid_video_free(v);
}

static void test_seek_exact(void **state) {
    (void)state;
    NEED_FFMPEG();
    check_seek(lossy_avi(), N);
    check_seek(gray_mkv(), N);
}

static void test_clips_patches_batches(void **state) {
    (void)state;
    NEED_FFMPEG();
    seqvid_video *v;
    assert_int_equal(seqvid_video_open(gray_mkv(), &v), SEQVID_OK);
    /* clip: frames 2, 5, 8, 11 */
    assert_int_equal(seqvid_video_set(v, SEQVID_VIDEO_STRIDE, 3), SEQVID_OK);
    float *clip = malloc(4 * W * H * sizeof *clip);
    size_t n;
    assert_int_equal(seqvid_video_clip(v, 2, 4, clip, &n), SEQVID_OK);
    assert_int_equal(n, 4);
    for (int t = 0; t < 4; t++)
        assert_true(clip[t * W * H + 5 * W + 9] == pixel(2 + 3 * t, 5, 9, 0) / 255.0f);
    /* a clip running off the end: 17, 20 -> one frame */
    assert_int_equal(seqvid_video_clip(v, 17, 4, clip, &n), SEQVID_OK);
    assert_int_equal(n, 1);
    free(clip);
    /* grid patches of 16: 4 x 3 cells; sequence j -> cell j mod 12 */
    assert_int_equal(seqvid_video_set(v, SEQVID_VIDEO_STRIDE, 1), SEQVID_OK);
    assert_int_equal(seqvid_video_set(v, SEQVID_VIDEO_PATCH, 16), SEQVID_OK);
    assert_true(get(v, SEQVID_VIDEO_GRID_CELLS) == 12);
    assert_true(get(v, SEQVID_VIDEO_SEQ_DIM) == 256);
    seqvid_batch *b;
    const size_t T = 5, S = 14;
    assert_int_equal(seqvid_batch_create(T, S, 256, &b), SEQVID_OK);
    assert_int_equal(seqvid_video_fill_batch(v, b, 0, S, 1), SEQVID_OK);
    float *d;
    assert_int_equal(seqvid_batch_data(b, &d), SEQVID_OK);
    for (size_t j = 0; j < S; j++) {
        size_t cell = j % 12, y0 = cell / 4 * 16, x0 = cell % 4 * 16, len;
        assert_int_equal(seqvid_batch_get_length(b, j, &len), SEQVID_OK);
        assert_int_equal(len, T);
        for (size_t t = 0; t < T; t++)
            for (size_t r = 0; r < 16; r += 5)
                assert_true(d[(t * S + j) * 256 + r * 16 + 3] ==
                            pixel((int)(1 + t), (int)(y0 + r), (int)(x0 + 3), 0) / 255.0f);
    }
    /* short clip at frame 17: 3 frames, then zeros; lengths 3 */
    assert_int_equal(seqvid_video_fill_batch(v, b, 2, 2, 17), SEQVID_OK);
    size_t len;
    assert_int_equal(seqvid_batch_get_length(b, 3, &len), SEQVID_OK);
    assert_int_equal(len, 3);
    for (size_t i = 0; i < 256; i++) assert_true(d[(3 * S + 3) * 256 + i] == 0);
    /* random positions: reproducible from the seed, inside the frame */
    assert_int_equal(seqvid_video_set(v, SEQVID_VIDEO_PATCH_MODE, SEQVID_VIDEO_PATCH_RANDOM), SEQVID_OK);
    assert_int_equal(seqvid_video_set(v, SEQVID_VIDEO_SEED, 42), SEQVID_OK);
    assert_int_equal(seqvid_video_fill_batch(v, b, 0, S, 0), SEQVID_OK);
    float *first = malloc(T * S * 256 * sizeof *first);
    memcpy(first, d, T * S * 256 * sizeof *first);
    assert_int_equal(seqvid_video_set(v, SEQVID_VIDEO_SEED, 42), SEQVID_OK);
    assert_int_equal(seqvid_video_fill_batch(v, b, 0, S, 0), SEQVID_OK);
    assert_memory_equal(first, d, T * S * 256 * sizeof *first);
    assert_int_equal(seqvid_video_fill_batch(v, b, 0, S, 0), SEQVID_OK);
    assert_true(memcmp(first, d, T * S * 256 * sizeof *first) != 0); /* generator moved on */
    free(first);
    /* bad requests */
    assert_int_equal(seqvid_video_fill_batch(v, b, 0, S, 50), SEQVID_ERR_ARG); /* past the end */
    assert_int_equal(seqvid_video_fill_batch(v, b, 10, 5, 0), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_video_set(v, SEQVID_VIDEO_PATCH, 0), SEQVID_OK);
    assert_int_equal(seqvid_video_fill_batch(v, b, 0, 1, 0), SEQVID_ERR_SHAPE);
    assert_int_equal(seqvid_video_set(v, SEQVID_VIDEO_PATCH, 49), SEQVID_OK);
    double x;
    assert_int_equal(seqvid_video_get(v, SEQVID_VIDEO_SEQ_DIM, &x), SEQVID_ERR_ARG);
    seqvid_batch_free(b);
    seqvid_video_free(v);
}

static void test_arguments(void **state) {
    (void)state;
    seqvid_video *v = (seqvid_video *)1;
    assert_int_equal(seqvid_video_open(NULL, &v), SEQVID_ERR_NULL);
    assert_null(v);
    assert_int_equal(seqvid_video_open("x", NULL), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_video_open_buffer(NULL, 5, &v), SEQVID_ERR_NULL);
    assert_int_equal(seqvid_video_set(NULL, SEQVID_VIDEO_CHANNELS, 1), SEQVID_ERR_NULL);
    seqvid_video_free(NULL);
    seqvid_video_dataset_free(NULL);
    assert_non_null(strstr(seqvid_video_ffmpeg_version(), "libavformat"));
    if (!have_ffmpeg) return;
    assert_int_equal(seqvid_video_open(gray_mkv(), &v), SEQVID_OK);
    assert_int_equal(seqvid_video_set(v, SEQVID_VIDEO_CHANNELS, 2), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_video_set(v, SEQVID_VIDEO_STRIDE, 0), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_video_set(v, SEQVID_VIDEO_WIDTH, 10), SEQVID_ERR_ARG); /* read-only */
    assert_int_equal(seqvid_video_set(v, 999, 1), SEQVID_ERR_ARG);
    assert_int_equal(seqvid_video_set(v, SEQVID_VIDEO_OUT_WIDTH, 1.5), SEQVID_ERR_ARG);
    double x;
    assert_int_equal(seqvid_video_get(v, 999, &x), SEQVID_ERR_ARG);
    seqvid_video_free(v);
}

/* ---- broken and hostile input ------------------------------------------------------------- */
static void expect_open_fails(const char *path, int status, const char *words) {
    seqvid_video *v = (seqvid_video *)1;
    int st = seqvid_video_open(path, &v);
    if (st != status)
        fail_msg("%s: status %d (%s), expected %d", path, st, seqvid_video_last_error(), status);
    assert_null(v);
    if (words && !strstr(seqvid_video_last_error(), words))
        fail_msg("%s: message '%s' lacks '%s'", path, seqvid_video_last_error(), words);
}

static void test_not_videos(void **state) {
    (void)state;
    expect_open_fails(tmp("does-not-exist.mp4"), SEQVID_ERR_IO, "cannot open");
    expect_open_fails(tmpdir, SEQVID_ERR_IO, "directory");
    write_file(tmp("empty.avi"), "", 0);
    expect_open_fails(tmp("empty.avi"), SEQVID_ERR_FORMAT, "empty");
    uint8_t junk[65536];
    uint64_t s = 12345;
    for (size_t i = 0; i < sizeof junk; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        junk[i] = (uint8_t)(s >> 56);
    }
    write_file(tmp("random.mp4"), junk, sizeof junk);
    expect_open_fails(tmp("random.mp4"), SEQVID_ERR_FORMAT, NULL);
    seqvid_video *v = (seqvid_video *)1;
    assert_int_equal(seqvid_video_open_buffer(junk, sizeof junk, &v), SEQVID_ERR_FORMAT);
    assert_null(v);
    assert_int_equal(seqvid_video_open_buffer(junk, 0, &v), SEQVID_ERR_FORMAT);
}

static void test_missing_codec(void **state) {
    (void)state;
    NEED_FFMPEG();
    /* An AVI whose codec tag names no codec FFmpeg knows: the stream is there, its decoder
     * is not. */
    const char *src = tmp("tag.avi");
    encode("gray", 1, "-c:v ffv1 -pix_fmt gray", src);
    uint8_t *b;
    size_t n = read_file(src, &b);
    int patched = 0;
    for (size_t i = 0; i + 4 <= n; i++)
        if (!memcmp(b + i, "FFV1", 4)) {
            memcpy(b + i, "QQZ9", 4);
            patched++;
        }
    assert_true(patched >= 1);
    write_file(tmp("nocodec.avi"), b, n);
    free(b);
    expect_open_fails(tmp("nocodec.avi"), SEQVID_ERR_UNSUPPORTED, "decoder");
}

static void test_limits(void **state) {
    (void)state;
    NEED_FFMPEG();
    /* MAX_PIXELS binds on output frames; a video larger than the default limit is made
     * by the header alone and refused at open (checked in the fuzz corpus too). */
    seqvid_video *v;
    assert_int_equal(seqvid_video_open(gray_mkv(), &v), SEQVID_OK);
    assert_int_equal(seqvid_video_set(v, SEQVID_VIDEO_MAX_PIXELS, 100), SEQVID_OK);
    float f[W * H];
    size_t n;
    assert_int_equal(seqvid_video_read(v, f, 1, &n), SEQVID_ERR_OVERFLOW);
    assert_non_null(strstr(seqvid_video_last_error(), "MAX_PIXELS"));
    seqvid_video_free(v);
    /* MAX_PACKETS: packets read in a row without a frame. A file with an audio track
     * interleaved reads several packets per video frame: fine by default, refused under a
     * limit of 1 (what stops a hostile stream of packets that never decode to a frame). */
    assert_int_equal(run("ffmpeg -v error -y -f lavfi -i sine=d=2 -f rawvideo -pix_fmt gray -s "
                         "%dx%d -r 25 -i '%s' -map 0 -map 1 -c:a pcm_s16le -c:v ffv1 '%s'",
                         W, H, tmp("raw"), tmp("av.mkv")), 0);
    assert_int_equal(seqvid_video_open(tmp("av.mkv"), &v), SEQVID_OK);
    size_t dim = (size_t)get(v, SEQVID_VIDEO_FRAME_DIM);
    float *all = malloc(N * dim * sizeof *all);
    assert_int_equal(seqvid_video_read(v, all, N, &n), SEQVID_OK);
    assert_int_equal(n, N);
    assert_int_equal(seqvid_video_seek(v, 0), SEQVID_OK);
    assert_int_equal(seqvid_video_set(v, SEQVID_VIDEO_MAX_PACKETS, 1), SEQVID_OK);
    assert_int_equal(seqvid_video_read(v, all, N, &n), SEQVID_ERR_OVERFLOW);
    assert_non_null(strstr(seqvid_video_last_error(), "MAX_PACKETS"));
    free(all);
    seqvid_video_free(v);
}

/* ---- only the file named ------------------------------------------------------------------ */
/* A file's contents never make the library open anything else: playlists and lists of files
 * (HLS, ffconcat, DASH, SDP) are refused, local or not, from a path or from memory, before
 * FFmpeg opens what they name; no connection is made to a listening socket a playlist names;
 * a path is a local file even when it looks like a URL. */
static void expect_list_refused(const char *path, const char *format) {
    expect_open_fails(path, SEQVID_ERR_UNSUPPORTED, format);
    if (!strstr(seqvid_video_last_error(), "reads only the file it is given"))
        fail_msg("%s: message '%s'", path, seqvid_video_last_error());
}

static void write_text(const char *path, const char *text) { write_file(path, text, strlen(text)); }

static void test_only_the_named_file(void **state) {
    (void)state;
    NEED_FFMPEG();
    char text[65536], cwd[1024];
    const char *seg = tmp("seg.ts");
    encode("gray", 1, "-c:v mpeg2video -f mpegts", seg);
    seqvid_video *v;
    assert_int_equal(seqvid_video_open(seg, &v), SEQVID_OK); /* the segment itself is fine */
    seqvid_video_free(v);
    /* A listener on 127.0.0.1 that the playlists below name. */
    int lis = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(lis >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    assert_int_equal(bind(lis, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(lis, 4), 0);
    assert_int_equal(getsockname(lis, (struct sockaddr *)&a, &alen), 0);
    int port = ntohs(a.sin_port);
    const char *hls = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n%s\n#EXT-X-ENDLIST\n";
    snprintf(text, sizeof text, hls, "seg.ts"); /* a local playlist of a local segment */
    write_text(tmp("local.m3u8"), text);
    expect_list_refused(tmp("local.m3u8"), "'hls'");
    seqvid_video_dataset *ds; /* a data set of it: the file is left out, with the reason */
    seqvid_batch *batch;
    assert_int_equal(seqvid_video_dataset_create(tmp("local.m3u8"), &ds), SEQVID_OK);
    assert_int_equal(seqvid_video_dataset_set(ds, SEQVID_VIDEO_VAL_FRACTION, 0), SEQVID_OK);
    assert_int_equal(seqvid_video_dataset_set(ds, SEQVID_VIDEO_PATCH, 8), SEQVID_OK);
    assert_int_equal(seqvid_batch_create(2, 1, 64, &batch), SEQVID_OK);
    assert_int_equal(seqvid_video_dataset_next(ds, SEQVID_VIDEO_TRAIN, batch), SEQVID_ERR_STATE);
    int fst;
    const char *msg;
    assert_int_equal(seqvid_video_dataset_file_status(ds, 0, &fst, &msg, NULL, NULL), SEQVID_OK);
    assert_int_equal(fst, SEQVID_ERR_UNSUPPORTED);
    assert_non_null(strstr(msg, "'hls'"));
    seqvid_batch_free(batch);
    seqvid_video_dataset_free(ds);
    snprintf(text, sizeof text, hls, "/etc/hostname");
    write_text(tmp("etc.m3u8"), text);
    expect_list_refused(tmp("etc.m3u8"), "'hls'");
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x.ts", port);
    snprintf(text, sizeof text, hls, url);
    write_text(tmp("http.m3u8"), text);
    expect_list_refused(tmp("http.m3u8"), "'hls'");
    snprintf(text, sizeof text, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n%s\n", url);
    write_text(tmp("master.m3u8"), text);
    expect_list_refused(tmp("master.m3u8"), "'hls'");
    /* the segment as a data: URI */
    uint8_t *bytes;
    size_t n = read_file(seg, &bytes), k = snprintf(text, sizeof text,
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\ndata:video/mp2t;base64,");
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i + 3 <= n && k + 8 < sizeof text; i += 3, k += 4) {
        uint32_t w = (uint32_t)bytes[i] << 16 | (uint32_t)bytes[i + 1] << 8 | bytes[i + 2];
        for (int j = 0; j < 4; j++) text[k + j] = b64[(w >> (18 - 6 * j)) & 63];
    }
    snprintf(text + k, sizeof text - k, "\n#EXT-X-ENDLIST\n");
    write_text(tmp("data.m3u8"), text);
    expect_list_refused(tmp("data.m3u8"), "'hls'");
    free(bytes);
    write_text(tmp("local.ffconcat"), "ffconcat version 1.0\nfile 'seg.ts'\n");
    expect_list_refused(tmp("local.ffconcat"), "'concat'");
    snprintf(text, sizeof text, "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:"
             "2011\" type=\"static\" mediaPresentationDuration=\"PT1S\" minBufferTime=\"PT1S\">"
             "<Period><AdaptationSet mimeType=\"video/mp2t\"><Representation id=\"1\" "
             "bandwidth=\"1000\"><BaseURL>%s</BaseURL></Representation></AdaptationSet>"
             "</Period></MPD>\n", url);
    write_text(tmp("x.mpd"), text);
    seqvid_video_open(tmp("x.mpd"), &v); /* (FFmpeg without libxml2 has no DASH demuxer) */
    assert_null(v);
    snprintf(text, sizeof text, "v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\n"
             "m=video %d RTP/AVP 96\na=rtpmap:96 MP4V-ES/90000\n", port);
    write_text(tmp("x.sdp"), text);
    expect_list_refused(tmp("x.sdp"), "'sdp'");
    /* From memory, with the segment in the current folder (FFmpeg's concat resolved names
     * against it). A path that looks like a URL is the local file of that name. */
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(tmpdir), 0);
    const char *list = "ffconcat version 1.0\nfile 'seg.ts'\n";
    v = (seqvid_video *)1;
    int st = seqvid_video_open_buffer(list, strlen(list), &v);
    const char *sub = "subfile,,start,0,end,100,,:seg.ts";
    assert_int_equal(run("cp seg.ts '%s'", sub), 0);
    int st2 = seqvid_video_open(sub, &v);
    if (!st2) {
        assert_int_equal((size_t)get(v, SEQVID_VIDEO_WIDTH), W);
        seqvid_video_free(v);
    }
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(st, SEQVID_ERR_UNSUPPORTED);
    assert_non_null(strstr(seqvid_video_last_error(), "memory buffer"));
    if (st2) fail_msg("%s: status %d (%s)", sub, st2, seqvid_video_last_error());
    /* Nothing connected to the listener. */
    assert_int_equal(accept(lis, NULL, NULL), -1);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    close(lis);
    /* The library lets FFmpeg open the named file only: an image-sequence pattern (a file
     * named f%03d.png, next to f000.png ...) is refused, naming the file FFmpeg asked for. */
    assert_int_equal(run("ffmpeg -v error -y -f lavfi -i testsrc=s=%dx%d:r=25:d=0.2 "
                         "-start_number 0 '%s/f%%03d.png' && cp '%s/f000.png' '%s/f%%03d.png'",
                         W, H, tmpdir, tmpdir, tmpdir), 0);
    expect_open_fails(tmp("f%03d.png"), SEQVID_ERR_UNSUPPORTED, "f000.png");
    assert_int_equal(seqvid_video_open(tmp("f001.png"), &v), SEQVID_OK); /* one image: fine */
    assert_int_equal((size_t)get(v, SEQVID_VIDEO_WIDTH), W);
    seqvid_video_free(v);
}

/* Truncated and corrupted copies: a status or fewer frames, never a crash or a hang. */
static void damage(const char *path, const char *tag, size_t min_good_frames) {
    uint8_t *b;
    size_t size = read_file(path, &b);
    char name[64];
    size_t cuts[] = {1, 7, 64, 200, size / 10, size / 3, size / 2, size - size / 10, size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        snprintf(name, sizeof name, "%s.cut%zu", tag, i);
        write_file(tmp(name), b, cuts[i]);
        seqvid_video *v;
        int st = seqvid_video_open(tmp(name), &v);
        if (st) {
            if (st != SEQVID_ERR_FORMAT && st != SEQVID_ERR_UNSUPPORTED)
                fail_msg("%s cut at %zu: status %d (%s)", tag, cuts[i], st,
                         seqvid_video_last_error());
            assert_true(strlen(seqvid_video_last_error()) > 0);
            continue;
        }
        read_to_end(v, &st);
        assert_int_equal(st, SEQVID_OK);
        seqvid_video_free(v);
    }
    /* Corrupt bytes in the middle (headers intact): decoding goes on; the frames whose
     * packets were hit are skipped and counted, or concealed by the decoder. */
    uint64_t s = 99;
    uint8_t *c = malloc(size);
    memcpy(c, b, size);
    for (int k = 0; k < 40; k++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t at = size / 4 + (size_t)((s >> 33) % (size / 2));
        c[at] ^= (uint8_t)(s >> 24) | 1;
    }
    snprintf(name, sizeof name, "%s.corrupt", tag);
    write_file(tmp(name), c, size);
    seqvid_video *v;
    int st = seqvid_video_open_buffer(c, size, &v);
    if (!st) {
        size_t total = read_to_end(v, &st);
        assert_int_equal(st, SEQVID_OK);
        assert_true(total >= min_good_frames);
        print_message("%s corrupted: %zu frames delivered, %g damaged skipped\n", tag, total,
                      get(v, SEQVID_VIDEO_DAMAGED));
        seqvid_video_free(v);
    } else {
        assert_true(st == SEQVID_ERR_FORMAT);
    }
    free(c);
    free(b);
}

static void test_damaged_own(void **state) {
    (void)state;
    NEED_FFMPEG();
    damage(gray_mkv(), "ffv1", 1);
    damage(lossy_avi(), "mpeg4", 1);
}

/* A damaged frame inside a good file (intra-only MPEG-4: frame 10's packet half overwritten)
 * is skipped and counted; every other frame comes out exactly as from the intact file. */
static void test_damaged_frames_counted(void **state) {
    (void)state;
    NEED_FFMPEG();
    const char *p = tmp("intra.avi");
    encode("gray", 1, "-c:v mpeg4 -g 1 -q:v 2 -pix_fmt yuv420p", p);
    uint8_t *b;
    size_t size = read_file(p, &b);
    seqvid_video *good;
    assert_int_equal(seqvid_video_open(p, &good), SEQVID_OK);
    size_t n;
    float *want = read_all(good, N, &n);
    assert_int_equal(n, N);
    seqvid_video_free(good);
    /* Walk the chunks of the AVI 'movi' list to frame 10's '00dc' chunk. */
    uint8_t *m = memmem(b, size, "movi", 4);
    assert_non_null(m);
    size_t at = (size_t)(m - b) + 4, frame = 0;
    uint32_t len = 0;
    while (at + 8 <= size) {
        memcpy(&len, b + at + 4, 4);
        if (!memcmp(b + at, "00dc", 4) && frame++ == 10) break;
        at += 8 + len + (len & 1);
    }
    assert_int_equal(frame, 11);
    memset(b + at + 8 + len / 2, 0xff, len - len / 2);
    seqvid_video *v;
    assert_int_equal(seqvid_video_open_buffer(b, size, &v), SEQVID_OK);
    float *f = read_all(v, N, &n);
    assert_true(get(v, SEQVID_VIDEO_DAMAGED) == 1);
    assert_int_equal(n, N - 1);
    for (int t = 0; t < N - 1; t++) {
        int src = t < 10 ? t : t + 1;
        assert_memory_equal(f + t * W * H, want + src * W * H, W * H * sizeof *f);
    }
    free(f);
    free(want);
    seqvid_video_free(v);
    free(b);
}

/* ---- OpenCV's sample videos ---------------------------------------------------------------- */
static const char *sample_dir(void) {
    static char buf[512];
    const char *d = getenv("SEQVID_VIDEO_DATA");
    if (d) return d;
    const char *data = getenv("SEQVID_DATA"), *home = getenv("HOME");
    if (data) snprintf(buf, sizeof buf, "%s/video", data);
    else snprintf(buf, sizeof buf, "%s/.cache/seqvid/video", home ? home : ".");
    return buf;
}

static const struct {
    const char *name;
    int w, h;
    size_t frames; /* what ffprobe -count_frames reports (FFmpeg 5.1) */
} samples[] = {
    {"vtest.avi", 768, 576, 795},  {"Megamind.avi", 720, 528, 270},
    {"Megamind_bugy.avi", 720, 528, 270}, {"tree.avi", 320, 240, 68},
    {"box.mp4", 640, 480, 455},    {"cup.mp4", 640, 480, 217},
};

static int have_samples(void) {
    char p[600];
    snprintf(p, sizeof p, "%s/vtest.avi", sample_dir());
    if (access(p, R_OK) == 0) return 1;
    print_message("skipped: OpenCV's sample videos are not in %s (run examples/setup-video.sh; "
                  "tests/run.sh does)\n", sample_dir());
    return 0;
}

static void test_samples_decode(void **state) {
    (void)state;
    if (!have_samples()) skip();
    for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", sample_dir(), samples[i].name);
        seqvid_video *v;
        if (seqvid_video_open(p, &v)) fail_msg("%s: %s", p, seqvid_video_last_error());
        assert_true(get(v, SEQVID_VIDEO_WIDTH) == samples[i].w);
        assert_true(get(v, SEQVID_VIDEO_HEIGHT) == samples[i].h);
        /* decoded at a quarter of the size (area filter) to keep the test fast */
        assert_int_equal(seqvid_video_set(v, SEQVID_VIDEO_OUT_WIDTH, samples[i].w / 4), SEQVID_OK);
        int st;
        size_t total = read_to_end(v, &st);
        assert_int_equal(st, SEQVID_OK);
        if (total != samples[i].frames)
            fail_msg("%s: %zu frames decoded, ffprobe reports %zu", p, total, samples[i].frames);
        seqvid_video_free(v);
    }
}

static void test_samples_damaged(void **state) {
    (void)state;
    if (!have_samples()) skip();
    char p[600];
    snprintf(p, sizeof p, "%s/tree.avi", sample_dir());
    damage(p, "tree", 1);
    snprintf(p, sizeof p, "%s/cup.mp4", sample_dir());
    damage(p, "cup", 0); /* mp4: the index may point into the damage */
}

static void test_samples_seek(void **state) {
    (void)state;
    if (!have_samples()) skip();
    char p[600];
    snprintf(p, sizeof p, "%s/cup.mp4", sample_dir());
    check_seek(p, 217);
    snprintf(p, sizeof p, "%s/Megamind.avi", sample_dir());
    check_seek(p, 270);
}

/* ---- data sets ---------------------------------------------------------------------------- */
static void dset_files(void) {
    mkdir(tmp("set"), 0755);
    run("cp '%s' '%s/a.mkv' && cp '%s' '%s/b.avi' && cp '%s' '%s/c.mkv' && cp '%s' '%s/d.mkv'",
        gray_mkv(), tmp("set"), lossy_avi(), tmp("set"), gray_mkv(), tmp("set"), rgb_mkv(),
        tmp("set"));
    write_file(tmp("set/zz_not_a_video.mkv"), "hello", 5);
}

static seqvid_video_dataset *dset(const char *source, int prefetch, const char *cache) {
    seqvid_video_dataset *ds;
    if (seqvid_video_dataset_create(source, &ds)) fail_msg("%s", seqvid_video_last_error());
    assert_int_equal(seqvid_video_dataset_set(ds, SEQVID_VIDEO_VAL_FRACTION, 0), SEQVID_OK);
    assert_int_equal(seqvid_video_dataset_set(ds, SEQVID_VIDEO_PATCH, 16), SEQVID_OK);
    assert_int_equal(seqvid_video_dataset_set(ds, SEQVID_VIDEO_PATCH_MODE, 1), SEQVID_OK);
    assert_int_equal(seqvid_video_dataset_set(ds, SEQVID_VIDEO_STRIDE, 2), SEQVID_OK);
    assert_int_equal(seqvid_video_dataset_set(ds, SEQVID_VIDEO_SEED, 7), SEQVID_OK);
    assert_int_equal(seqvid_video_dataset_set(ds, SEQVID_VIDEO_PREFETCH, prefetch), SEQVID_OK);
    if (cache) assert_int_equal(seqvid_video_dataset_cache(ds, cache), SEQVID_OK);
    return ds;
}

/* 4 batches of T=12 (stride 2: clips span 23 frames > the 20 of a file: short clips). */
static float *batches(seqvid_video_dataset *ds, size_t *lens) {
    const size_t T = 12, S = 6, D = 256;
    float *out = malloc(4 * T * S * D * sizeof *out);
    seqvid_batch *b;
    assert_int_equal(seqvid_batch_create(T, S, D, &b), SEQVID_OK);
    for (int k = 0; k < 4; k++) {
        if (seqvid_video_dataset_next(ds, SEQVID_VIDEO_TRAIN, b))
            fail_msg("%s", seqvid_video_last_error());
        float *d;
        seqvid_batch_data(b, &d);
        memcpy(out + k * T * S * D, d, T * S * D * sizeof *d);
        for (size_t s = 0; s < S; s++) seqvid_batch_get_length(b, s, &lens[k * S + s]);
    }
    seqvid_batch_free(b);
    return out;
}

static void test_dataset(void **state) {
    (void)state;
    NEED_FFMPEG();
    dset_files();
    seqvid_video_dataset *ds = dset(tmp("set"), 0, NULL);
    double x;
    assert_int_equal(seqvid_video_dataset_get(ds, SEQVID_VIDEO_FILES, &x), SEQVID_OK);
    assert_true(x == 5);
    size_t lens_a[24], lens_b[24];
    float *a = batches(ds, lens_a);
    for (size_t i = 0; i < 24; i++) assert_true(lens_a[i] == 10); /* frames 0..19 at stride 2 */
    for (size_t i = 0; i < 12 * 6 * 256 * 4; i++) assert_true(a[i] >= 0 && a[i] <= 1);
    /* the broken file is reported, the others used */
    int st;
    const char *msg;
    uint64_t frames;
    assert_int_equal(seqvid_video_dataset_file_status(ds, 4, &st, &msg, &frames, NULL), SEQVID_OK);
    assert_int_equal(st, SEQVID_ERR_FORMAT);
    assert_true(strlen(msg) > 0);
    assert_int_equal(seqvid_video_dataset_file_status(ds, 0, &st, NULL, &frames, NULL), SEQVID_OK);
    assert_int_equal(st, SEQVID_OK);
    assert_int_equal(frames, N);
    seqvid_video_dataset_free(ds);

    /* prefetching on a worker thread gives the very same batches */
    ds = dset(tmp("set"), 1, NULL);
    float *b = batches(ds, lens_b);
    assert_memory_equal(a, b, 12 * 6 * 256 * 4 * sizeof *a);
    assert_memory_equal(lens_a, lens_b, sizeof lens_a);
    free(b);
    seqvid_video_dataset_free(ds);

    /* the cache: written, then read back (no decoding), same batches */
    const char *cache = tmp("cache");
    ds = dset(tmp("set"), 1, cache);
    b = batches(ds, lens_b);
    assert_memory_equal(a, b, 12 * 6 * 256 * 4 * sizeof *a);
    assert_int_equal(seqvid_video_dataset_get(ds, SEQVID_VIDEO_CACHE_HITS, &x), SEQVID_OK);
    assert_true(x == 0);
    free(b);
    seqvid_video_dataset_free(ds);
    ds = dset(tmp("set"), 1, cache);
    b = batches(ds, lens_b);
    assert_memory_equal(a, b, 12 * 6 * 256 * 4 * sizeof *a);
    assert_int_equal(seqvid_video_dataset_get(ds, SEQVID_VIDEO_CACHE_HITS, &x), SEQVID_OK);
    assert_true(x == 4);
    free(b);
    seqvid_video_dataset_free(ds);

    /* corrupt every cache file (a flipped byte, a truncation, garbage): rebuilt, same batches */
    assert_int_equal(run("cd '%s' && set -- *.svc && [ $# = 4 ] && "
                         "printf '\\377' | dd of=$1 bs=1 seek=5000 conv=notrunc 2>/dev/null && "
                         "truncate -s -100 $2 && head -c 3000 /dev/urandom > $3 && "
                         "printf 'X' | dd of=$4 bs=1 seek=20 conv=notrunc 2>/dev/null", cache), 0);
    ds = dset(tmp("set"), 1, cache);
    b = batches(ds, lens_b);
    assert_memory_equal(a, b, 12 * 6 * 256 * 4 * sizeof *a);
    assert_int_equal(seqvid_video_dataset_get(ds, SEQVID_VIDEO_CACHE_HITS, &x), SEQVID_OK);
    assert_true(x == 0);
    free(b);
    seqvid_video_dataset_free(ds);
    free(a);
}

static void test_dataset_split_and_sources(void **state) {
    (void)state;
    NEED_FFMPEG();
    dset_files();
    /* list file with a comment and relative paths; a glob */
    write_file(tmp("set/list.txt"), "# two files\na.mkv\n  b.avi  \n\n", 27);
    seqvid_video_dataset *ds;
    assert_int_equal(seqvid_video_dataset_create(tmp("set/list.txt"), &ds), SEQVID_OK);
    double x;
    const char *path;
    seqvid_video_dataset_get(ds, SEQVID_VIDEO_FILES, &x);
    assert_true(x == 2);
    assert_int_equal(seqvid_video_dataset_file(ds, 1, &path, NULL), SEQVID_OK);
    assert_string_equal(path, tmp("set/b.avi"));
    seqvid_video_dataset_free(ds);
    char pattern[600];
    snprintf(pattern, sizeof pattern, "%s/*.mkv", tmp("set"));
    assert_int_equal(seqvid_video_dataset_create(pattern, &ds), SEQVID_OK);
    seqvid_video_dataset_get(ds, SEQVID_VIDEO_FILES, &x);
    assert_true(x == 4);
    seqvid_video_dataset_free(ds);
    assert_int_equal(seqvid_video_dataset_create(tmp("nothing/*.mkv"), &ds), SEQVID_ERR_IO);
    assert_null(ds);
    assert_int_equal(seqvid_video_dataset_create(tmp("missing"), &ds), SEQVID_ERR_IO);

    /* The split depends on file names only: 200 names, fraction 0.25, about a quarter;
     * the same names in another order (another folder) split the same way. */
    mkdir(tmp("many"), 0755);
    FILE *l = fopen(tmp("many/list.txt"), "w");
    for (int i = 0; i < 200; i++) fprintf(l, "dir%d/clip%03d.mp4\n", i % 3, i);
    fclose(l);
    l = fopen(tmp("many/rev.txt"), "w");
    for (int i = 199; i >= 0; i--) fprintf(l, "other/clip%03d.mp4\n", i);
    fclose(l);
    seqvid_video_dataset *a, *b;
    assert_int_equal(seqvid_video_dataset_create(tmp("many/list.txt"), &a), SEQVID_OK);
    assert_int_equal(seqvid_video_dataset_create(tmp("many/rev.txt"), &b), SEQVID_OK);
    seqvid_video_dataset_set(a, SEQVID_VIDEO_VAL_FRACTION, 0.25);
    seqvid_video_dataset_set(b, SEQVID_VIDEO_VAL_FRACTION, 0.25);
    seqvid_video_dataset_get(a, SEQVID_VIDEO_VAL_FILES, &x);
    assert_true(x >= 30 && x <= 70);
    for (int i = 0; i < 200; i++) {
        int sa, sb;
        seqvid_video_dataset_file(a, (size_t)i, NULL, &sa);
        seqvid_video_dataset_file(b, (size_t)(199 - i), NULL, &sb);
        assert_int_equal(sa, sb);
    }
    /* another split seed, another split */
    int same = 0;
    int before[200];
    for (int i = 0; i < 200; i++) seqvid_video_dataset_file(a, (size_t)i, NULL, &before[i]);
    seqvid_video_dataset_set(a, SEQVID_VIDEO_SPLIT_SEED, 3);
    for (int i = 0; i < 200; i++) {
        int s;
        seqvid_video_dataset_file(a, (size_t)i, NULL, &s);
        same += s == before[i];
    }
    assert_true(same < 190);
    /* no file can be decoded: a clear status */
    seqvid_batch *batch;
    seqvid_batch_create(4, 2, 1024, &batch);
    seqvid_video_dataset_set(a, SEQVID_VIDEO_PATCH, 32);
    assert_int_equal(seqvid_video_dataset_next(a, SEQVID_VIDEO_TRAIN, batch), SEQVID_ERR_STATE);
    assert_non_null(strstr(seqvid_video_last_error(), "no decodable file"));
    seqvid_batch_free(batch);
    seqvid_video_dataset_free(a);
    seqvid_video_dataset_free(b);
}

int main(int argc, char **argv) {
    if (argc > 1) cmocka_set_test_filter(argv[1]); /* e.g. test_video test_narrow_frames */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_ffv1_gray_exact),
        cmocka_unit_test(test_ffv1_rgb_exact_and_crop),
        cmocka_unit_test(test_resize_area),
        cmocka_unit_test(test_narrow_frames),
        cmocka_unit_test(test_open_buffer_matches_file),
        cmocka_unit_test(test_seek_exact),
        cmocka_unit_test(test_clips_patches_batches),
        cmocka_unit_test(test_not_videos),
        cmocka_unit_test(test_missing_codec),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_only_the_named_file),
        cmocka_unit_test(test_damaged_own),
        cmocka_unit_test(test_damaged_frames_counted),
        cmocka_unit_test(test_samples_decode),
        cmocka_unit_test(test_samples_damaged),
        cmocka_unit_test(test_samples_seek),
        cmocka_unit_test(test_dataset),
        cmocka_unit_test(test_dataset_split_and_sources),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
