/*
 * source_video.c -- video files through libseqvid_video (FFmpeg decodes, scales and
 * converts): whole frames or P x P patches, gray or RGB, optionally resized.
 *
 *  - Training reads a data set (a folder, a glob, a list file or one file): the held-out
 *    footage is --val-video (its files are left out of training: the training files are
 *    written to OUT/train-files.txt), or else files are split into training and held-out
 *    footage by a hash of their names. Decoded frames are cached on
 *    disk (${SEQVID_DATA:-~/.cache/seqvid}/video-cache), and the next batch is prepared on
 *    a worker thread while the model trains. The data set's own seeded generator chooses
 *    clips; on --resume the command draws (and drops) the batches of the steps already
 *    done, so a resumed run sees the batches an uninterrupted one would.
 *  - predict, eval and encode also take a single file: consecutive clips from its start
 *    (with patches: the grid cells of each clip).
 * Built when libseqvid_video is available; without it, --video says how to get it.
 */
#define _POSIX_C_SOURCE 200809L

#include "source.h"

#ifndef SEQVID_HAVE_VIDEO
source *source_open_video(const source_options *o, int purpose)
{
    (void)purpose;
    ex_die("--video %s: this seqvid was built without libseqvid_video (FFmpeg); install "
           "libavformat-dev libavcodec-dev libswscale-dev libavutil-dev and rebuild",
           o->video);
}
#else

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <seqvid_video.h>

typedef struct video_source {
    source base;
    seqvid_video_dataset *ds;  /* a folder, glob or list file */
    seqvid_video_dataset *val_ds; /* --val-video: the held-out footage, or NULL */
    const char *train_source;  /* what ds reads: --video, or list_path with --val-video */
    char list_path[PATH_MAX];
    seqvid_video *video;       /* a single file (predict, eval, encode) */
    const source_options *o;
    uint64_t drawn;            /* training batches drawn so far */
    size_t frame_count;        /* of the single file */
} video_source;

static void vcheck(int status, const char *what)
{
    if (status != SEQVID_OK)
        ex_die("%s: %s: %s", what, seqvid_status_string(status), seqvid_video_last_error());
}

/* The output format the flags ask for, on a video or a data set (the same keys). */
typedef int (*set_fn)(void *handle, int key, double value);
static int set_video(void *h, int key, double v) { return seqvid_video_set(h, key, v); }
static int set_dataset(void *h, int key, double v) { return seqvid_video_dataset_set(h, key, v); }

static void set_format(void *handle, set_fn set, const source_options *o)
{
    vcheck(set(handle, SEQVID_VIDEO_CHANNELS, o->rgb ? 3 : 1), "--rgb");
    vcheck(set(handle, SEQVID_VIDEO_OUT_WIDTH, (double)o->resize_w), "--resize");
    vcheck(set(handle, SEQVID_VIDEO_OUT_HEIGHT, (double)o->resize_h), "--resize");
    vcheck(set(handle, SEQVID_VIDEO_STRIDE, (double)o->frame_stride), "--frame-stride");
    vcheck(set(handle, SEQVID_VIDEO_SEED, (double)o->common.seed), "--seed");
    if (o->patch) vcheck(set(handle, SEQVID_VIDEO_PATCH, (double)o->patch), "--patch");
}

/* The shape of a sequence step, read from a video opened with the format (the data set
 * knows it only once a file is decoded). */
static ex_shape step_shape(seqvid_video *v, const source_options *o)
{
    double w, h, c;
    vcheck(seqvid_video_get(v, SEQVID_VIDEO_FRAME_WIDTH, &w), "video");
    vcheck(seqvid_video_get(v, SEQVID_VIDEO_FRAME_HEIGHT, &h), "video");
    vcheck(seqvid_video_get(v, SEQVID_VIDEO_CHANNELS, &c), "video");
    if (o->patch) {
        if ((double)o->patch > w || (double)o->patch > h)
            ex_die("--patch %ld: the frames are %gx%g", o->patch, w, h);
        return (ex_shape){(size_t)o->patch, (size_t)o->patch, (size_t)c};
    }
    return (ex_shape){(size_t)h, (size_t)w, (size_t)c};
}

static seqvid_video *open_video(const char *path, const source_options *o)
{
    seqvid_video *v;
    vcheck(seqvid_video_open(path, &v), path);
    set_format(v, set_video, o);
    return v;
}

/* The step shape from the first file of a data set that opens with the format. */
static ex_shape first_shape(const seqvid_video_dataset *ds, const source_options *o)
{
    double files;
    ex_shape shape = {0, 0, 0};
    vcheck(seqvid_video_dataset_get(ds, SEQVID_VIDEO_FILES, &files), "video data");
    for (size_t i = 0; i < (size_t)files && !shape.h; i++) {
        const char *path;
        seqvid_video *first;
        vcheck(seqvid_video_dataset_file(ds, i, &path, NULL), "video data");
        if (seqvid_video_open(path, &first) != SEQVID_OK) continue;
        set_format(first, set_video, o);
        shape = step_shape(first, o);
        seqvid_video_free(first);
    }
    if (!shape.h) ex_die("--video %s: no file FFmpeg can open", o->video);
    return shape;
}

/* ${SEQVID_DATA:-~/.cache/seqvid}/video-cache, created with its parents. */
static const char *cache_folder(void)
{
    const char *path = ex_path(ex_data_home(), "video-cache");
    ex_make_dirs(path);
    return path;
}

/* ---- data set ------------------------------------------------------------------------- */
static void ds_fill(source *src, seqvid_batch *batch, uint64_t step, unsigned attempt)
{
    video_source *v = (video_source *)src;
    /* Resumed at `step`: the batches of the steps before come out of the generator first. */
    for (; attempt == 0 && v->drawn < step; v->drawn++)
        vcheck(seqvid_video_dataset_next(v->ds, SEQVID_VIDEO_TRAIN, batch), "video data");
    vcheck(seqvid_video_dataset_next(v->ds, SEQVID_VIDEO_TRAIN, batch), "video data");
    v->drawn++;
}

/* The split that holds the held-out footage: validation, or (to use a model on a data
 * set whose files all fell into training) training. */
static int held_split(const video_source *v)
{
    double n_val;
    vcheck(seqvid_video_dataset_get(v->ds, SEQVID_VIDEO_VAL_FILES, &n_val), "video data");
    return n_val > 0 ? SEQVID_VIDEO_VALIDATION : SEQVID_VIDEO_TRAIN;
}

static void ds_held_out(source *src, ex_set *set, size_t n_steps, size_t n_seqs, size_t chunk)
{
    video_source *v = (video_source *)src;
    const size_t D = ex_shape_dim(src->shape);
    seqvid_video_dataset *ds = v->val_ds ? v->val_ds : v->ds;
    const int split = v->val_ds ? SEQVID_VIDEO_TRAIN : held_split(v);
    set->n_chunks = (n_seqs + chunk - 1) / chunk;
    set->chunks = ex_calloc(set->n_chunks, sizeof *set->chunks);
    set->n_seqs = n_seqs, set->n_steps = n_steps ? n_steps : 20, set->dim = D;
    /* The validation generator restarts, so the held-out set is the same every time. */
    vcheck(seqvid_video_dataset_rewind(ds, split), "video data");
    for (size_t c = 0; c < set->n_chunks; c++) {
        size_t n = n_seqs - c * chunk < chunk ? n_seqs - c * chunk : chunk;
        ex_check(seqvid_batch_create(set->n_steps, n, D, &set->chunks[c]), "batch");
        vcheck(seqvid_video_dataset_next(ds, split, set->chunks[c]), "held-out video");
    }
    if (ds == v->ds && split == SEQVID_VIDEO_TRAIN)
        vcheck(seqvid_video_dataset_rewind(ds, split), "video");
}

/* The mean frame of the training footage, from a second data set over the same files (its
 * own generator, so the training batches are not disturbed; the frames come from the
 * cache the first decoding wrote). */
static float *ds_mean_frame(source *src)
{
    video_source *v = (video_source *)src;
    if (!v->val_ds && held_split(v) == SEQVID_VIDEO_TRAIN)
        return NULL; /* no separate training footage */
    enum { BATCHES = 8, SEQS = 16, STEPS = 10 };
    const size_t D = ex_shape_dim(src->shape);
    seqvid_video_dataset *ds;
    seqvid_batch *b;
    vcheck(seqvid_video_dataset_create(v->train_source, &ds), v->train_source);
    set_format(ds, set_dataset, v->o);
    if (v->val_ds) vcheck(seqvid_video_dataset_set(ds, SEQVID_VIDEO_VAL_FRACTION, 0), "video");
    vcheck(seqvid_video_dataset_set(ds, SEQVID_VIDEO_SEED, (double)v->o->common.seed + 1),
           "video data");
    vcheck(seqvid_video_dataset_set(ds, SEQVID_VIDEO_PREFETCH, 0), "video data");
    vcheck(seqvid_video_dataset_cache(ds, cache_folder()), "video cache");
    ex_check(seqvid_batch_create(STEPS, SEQS, D, &b), "batch");
    double *sum = ex_calloc(D, sizeof *sum);
    for (int i = 0; i < BATCHES; i++) {
        vcheck(seqvid_video_dataset_next(ds, SEQVID_VIDEO_TRAIN, b), "video data");
        float *m = ex_batch_mean_frame(b, 0, SEQS);
        for (size_t d = 0; d < D; d++) sum[d] += m[d] / BATCHES;
        free(m);
    }
    float *mean = ex_malloc(D * sizeof *mean);
    for (size_t d = 0; d < D; d++) mean[d] = (float)sum[d];
    free(sum);
    seqvid_batch_free(b);
    seqvid_video_dataset_free(ds);
    return mean;
}

/* ---- a single file --------------------------------------------------------------------- */
static void file_held_out(source *src, ex_set *set, size_t n_steps, size_t n_seqs,
                          size_t chunk)
{
    video_source *v = (video_source *)src;
    const size_t D = ex_shape_dim(src->shape), T = n_steps ? n_steps : 20;
    const size_t span = T * (size_t)v->o->frame_stride;
    /* Whole frames: one clip per sequence. Patches: one clip per chunk, its grid cells. */
    const size_t per_clip = v->o->patch ? chunk : 1;
    const size_t clips = v->frame_count >= span ? (v->frame_count - span) / span + 1 : 0;
    if (!clips)
        ex_die("%s: %zu frames; a clip needs %zu", v->o->video, v->frame_count, span);
    if (n_seqs > clips * per_clip) n_seqs = clips * per_clip;
    set->n_chunks = (n_seqs + chunk - 1) / chunk;
    set->chunks = ex_calloc(set->n_chunks, sizeof *set->chunks);
    set->n_seqs = n_seqs, set->n_steps = T, set->dim = D;
    for (size_t c = 0, seq = 0; c < set->n_chunks; c++) {
        size_t n = n_seqs - c * chunk < chunk ? n_seqs - c * chunk : chunk;
        ex_check(seqvid_batch_create(T, n, D, &set->chunks[c]), "batch");
        for (size_t j = 0; j < n; j += per_clip, seq += per_clip) {
            size_t k = n - j < per_clip ? n - j : per_clip;
            vcheck(seqvid_video_fill_batch(v->video, set->chunks[c], j, k,
                                           (uint64_t)(seq / per_clip * span)),
                   v->o->video);
        }
    }
}

static void file_fill(source *src, seqvid_batch *batch, uint64_t step, unsigned attempt)
{
    (void)src, (void)batch, (void)step, (void)attempt;
    ex_die("one video file is not split into training and held-out footage: train on a "
           "folder, a glob or a list file of several videos");
}

static float *no_mean_frame(source *src)
{
    (void)src;
    return NULL;
}

static void video_free(source *src)
{
    video_source *v = (video_source *)src;
    seqvid_video_dataset_free(v->ds);
    seqvid_video_dataset_free(v->val_ds);
    seqvid_video_free(v->video);
    free(v);
}

static const source_ops dataset_ops = {ds_fill, ds_held_out, ds_mean_frame, video_free};
static const source_ops file_ops = {file_fill, file_held_out, no_mean_frame, video_free};

/* A single video file, not a folder, a glob or a list of files. */
static int is_single_video(const char *path)
{
    struct stat sb;
    if (strpbrk(path, "*?[") || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) return 0;
    seqvid_video *v;
    int ok = seqvid_video_open(path, &v) == SEQVID_OK;
    seqvid_video_free(v);
    return ok;
}

/* A data set over `path` in the flags' format, its frames cached; with `all_train`, every
 * file in its training split; `prefetch`: the next batch made on a worker thread. */
static seqvid_video_dataset *open_dataset(const char *path, const source_options *o,
                                          int all_train, int prefetch)
{
    seqvid_video_dataset *ds;
    vcheck(seqvid_video_dataset_create(path, &ds), path);
    set_format(ds, set_dataset, o);
    vcheck(seqvid_video_dataset_set(ds, SEQVID_VIDEO_PREFETCH, prefetch), "video");
    if (all_train) vcheck(seqvid_video_dataset_set(ds, SEQVID_VIDEO_VAL_FRACTION, 0), path);
    if (o->patch) vcheck(seqvid_video_dataset_set(ds, SEQVID_VIDEO_PATCH_MODE,
                                                  SEQVID_VIDEO_PATCH_RANDOM), "--patch");
    vcheck(seqvid_video_dataset_cache(ds, cache_folder()), "video cache");
    return ds;
}

/* 1 if the data set lists a file that is `path` (the same file, however named). */
static int lists_file(const seqvid_video_dataset *ds, const char *path)
{
    double n;
    struct stat a, b;
    if (stat(path, &a) != 0) return 0;
    vcheck(seqvid_video_dataset_get(ds, SEQVID_VIDEO_FILES, &n), "video data");
    for (size_t i = 0; i < (size_t)n; i++) {
        const char *p;
        vcheck(seqvid_video_dataset_file(ds, i, &p, NULL), "video data");
        if (stat(p, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) return 1;
    }
    return 0;
}

/* --val-video: the files of --video that --val-video does not list, written to
 * OUT/train-files.txt (a list file the training data set then reads). */
static const char *training_list(const source_options *o, const seqvid_video_dataset *val)
{
    seqvid_video_dataset *all;
    double n;
    size_t kept = 0;
    vcheck(seqvid_video_dataset_create(o->video, &all), o->video);
    vcheck(seqvid_video_dataset_get(all, SEQVID_VIDEO_FILES, &n), o->video);
    ex_make_dirs(o->common.out_dir);
    const char *list = ex_path(o->common.out_dir, "train-files.txt");
    FILE *f = fopen(list, "w");
    if (!f) ex_die("cannot write %s", list);
    for (size_t i = 0; i < (size_t)n; i++) {
        const char *p;
        vcheck(seqvid_video_dataset_file(all, i, &p, NULL), o->video);
        if (lists_file(val, p)) continue;
        fprintf(f, "%s\n", p);
        kept++;
    }
    if (fclose(f) != 0) ex_die("cannot write %s", list);
    seqvid_video_dataset_free(all);
    if (!kept)
        ex_die("--video %s: no file left for training once --val-video %s is held out",
               o->video, o->val_video);
    return list;
}

source *source_open_video(const source_options *o, int purpose)
{
    video_source *v = ex_calloc(1, sizeof *v);
    source *s = &v->base;
    v->o = o;
    /* Natural video: real output and squared loss, SR15's setting for image patches. */
    s->output = SEQVID_OUTPUT_REAL;
    char fmt[96];
    if (purpose == SOURCE_USE && o->val_video)
        ex_die("--val-video goes with seqvid train (here, give the footage as --video)");
    if (o->val_video) {
        s->ops = &dataset_ops;
        v->val_ds = open_dataset(o->val_video, o, 1, 0);
        snprintf(v->list_path, sizeof v->list_path, "%s", training_list(o, v->val_ds));
        v->train_source = v->list_path;
        v->ds = open_dataset(v->train_source, o, 1, !o->no_prefetch);
        double train, val;
        vcheck(seqvid_video_dataset_get(v->ds, SEQVID_VIDEO_FILES, &train), "video data");
        vcheck(seqvid_video_dataset_get(v->val_ds, SEQVID_VIDEO_FILES, &val), "video data");
        s->shape = first_shape(v->val_ds, o);
        snprintf(fmt, sizeof fmt, "%s%s", o->patch ? "random patches " : "frames ",
                 ex_shape_name(s->shape));
        snprintf(s->description, sizeof s->description,
                 "%s: %g video files for training (listed in %s), %g held out (%s); clips "
                 "of %s", o->video, train, v->train_source, val, o->val_video, fmt);
        return s;
    }
    if (is_single_video(o->video)) {
        if (purpose == SOURCE_TRAIN)
            ex_die("--video %s: one file is not split into training and held-out footage; "
                   "hold out other footage with --val-video FILE, or train on a folder, a "
                   "glob or a list file of several videos", o->video);
        uint64_t frames;
        s->ops = &file_ops;
        v->video = open_video(o->video, o);
        vcheck(seqvid_video_count_frames(v->video, &frames), o->video);
        v->frame_count = (size_t)frames;
        s->shape = step_shape(v->video, o);
        snprintf(fmt, sizeof fmt, "%s%s", o->patch ? "patches " : "frames ",
                 ex_shape_name(s->shape));
        snprintf(s->description, sizeof s->description, "%s: %zu frames, clips of %s",
                 o->video, v->frame_count, fmt);
        return s;
    }

    s->ops = &dataset_ops;
    v->train_source = o->video;
    v->ds = open_dataset(o->video, o, 0, !o->no_prefetch);
    double files, train, val;
    vcheck(seqvid_video_dataset_get(v->ds, SEQVID_VIDEO_FILES, &files), "video data");
    vcheck(seqvid_video_dataset_get(v->ds, SEQVID_VIDEO_TRAIN_FILES, &train), "video data");
    vcheck(seqvid_video_dataset_get(v->ds, SEQVID_VIDEO_VAL_FILES, &val), "video data");
    if (purpose == SOURCE_TRAIN && (train == 0 || val == 0))
        ex_die("--video %s: %g files, %g for training and %g held out by the name hash: "
               "both splits need one (add files)", o->video, files, train, val);
    s->shape = first_shape(v->ds, o);
    snprintf(fmt, sizeof fmt, "%s%s", o->patch ? "random patches " : "frames ",
             ex_shape_name(s->shape));
    snprintf(s->description, sizeof s->description,
             "%s: %g video files, %g for training, %g held out (by name hash); clips of %s",
             o->video, files, train, val, fmt);
    return s;
}

/* `seqvid info` on a video file or a folder of them. */
int info_video(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        seqvid_video_dataset *ds;
        double files, val;
        int st = seqvid_video_dataset_create(path, &ds);
        if (st != SEQVID_OK) {
            fprintf(stderr, "%s: %s: %s\n", ex_progname, path, seqvid_video_last_error());
            return 1;
        }
        vcheck(seqvid_video_dataset_get(ds, SEQVID_VIDEO_FILES, &files), path);
        vcheck(seqvid_video_dataset_get(ds, SEQVID_VIDEO_VAL_FILES, &val), path);
        printf("%s: a folder of %g files (%g held out by name hash for validation)\n", path,
               files, val);
        for (size_t i = 0; i < (size_t)files; i++) {
            const char *p;
            int split;
            vcheck(seqvid_video_dataset_file(ds, i, &p, &split), path);
            printf("  %-10s %s\n", split == SEQVID_VIDEO_VALIDATION ? "held out" : "training", p);
        }
        seqvid_video_dataset_free(ds);
        return 0;
    }
    seqvid_video *v;
    int st = seqvid_video_open(path, &v);
    if (st != SEQVID_OK) {
        fprintf(stderr, "%s: %s: not a libseqvid model or checkpoint, a .npy file or a video "
                "FFmpeg decodes (%s: %s)\n", ex_progname, path, seqvid_status_string(st),
                seqvid_video_last_error());
        return 1;
    }
    double w, h, fps, dur, count, exact;
    vcheck(seqvid_video_get(v, SEQVID_VIDEO_WIDTH, &w), path);
    vcheck(seqvid_video_get(v, SEQVID_VIDEO_HEIGHT, &h), path);
    vcheck(seqvid_video_get(v, SEQVID_VIDEO_FPS, &fps), path);
    vcheck(seqvid_video_get(v, SEQVID_VIDEO_DURATION, &dur), path);
    vcheck(seqvid_video_get(v, SEQVID_VIDEO_FRAME_COUNT, &count), path);
    vcheck(seqvid_video_get(v, SEQVID_VIDEO_FRAME_COUNT_EXACT, &exact), path);
    printf("%s: video, %gx%g, %.4g frames/s, %.2f s, %g frames (%s)\n", path, w, h, fps, dur,
           count, exact ? "from the container" : "estimated from duration x rate");
    printf("  decoded by FFmpeg: %s\n", seqvid_video_ffmpeg_version());
    seqvid_video_free(v);
    return 0;
}
#endif
