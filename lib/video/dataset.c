/* dataset.c -- a data set over many video files: listing (folder, glob, list file), the split
 * by file-name hash, decoded frames (memory, and the cache files of cache.c), sampling of
 * clips and patches into batches, and the worker thread that prepares the next batch. */
#define _DEFAULT_SOURCE /* fileno, fsync, stat.st_mtim, strdup, glob, clock_gettime */
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "vid_cache.h"
#include "vid_video.h"

typedef struct file {
    char *path;
    int split;
    int loaded;     /* 1 once decoding was tried (frames or status) */
    int status;
    char *message;
    vid_frames fr;
} file;

/* The batch the worker prepares: valid for the next call with the same split, shape and
 * generator state (so prefetching never changes which batches come out). */
typedef struct prefetch {
    pthread_t thread;
    int running, ready;
    int split;
    size_t T, S, D;
    float *data;
    size_t *len;
    size_t cap;
    uint64_t rng_in, rng_out;
    int status;
    char message[512];
} prefetch;

struct seqvid_video_dataset {
    file *files;
    size_t n_files;
    vid_opts o;
    double val_fraction;
    uint64_t split_seed;
    int prefetch_on;
    char *cache;
    uint64_t rng[2];
    uint64_t cache_hits;
    double wait;
    prefetch pf;
};


/* ---- listing ----------------------------------------------------------------------------- */
static int add_file(seqvid_video_dataset *ds, const char *path, size_t *cap) {
    if (ds->n_files == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        file *nf = realloc(ds->files, ncap * sizeof *nf);
        if (!nf) return vid_fail(SEQVID_ERR_NOMEM, "no memory for the file list");
        ds->files = nf;
        *cap = ncap;
    }
    file *f = &ds->files[ds->n_files];
    memset(f, 0, sizeof *f);
    if (!(f->path = strdup(path))) return vid_fail(SEQVID_ERR_NOMEM, "no memory for the file list");
    ds->n_files++;
    return SEQVID_OK;
}

static int is_regular(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_folder(seqvid_video_dataset *ds, const char *dir, size_t *cap) {
    DIR *d = opendir(dir);
    if (!d) return vid_fail(SEQVID_ERR_IO, "%s: cannot read the folder (%s)", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, ncap = 0;
    int st = SEQVID_OK;
    struct dirent *e;
    while (!st && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(len);
        if (!p) {
            st = vid_fail(SEQVID_ERR_NOMEM, "no memory for the file list");
            break;
        }
        snprintf(p, len, "%s/%s", dir, e->d_name);
        if (!is_regular(p)) {
            free(p);
            continue;
        }
        if (n == ncap) {
            char **nn = realloc(names, (ncap = ncap ? 2 * ncap : 16) * sizeof *nn);
            if (!nn) {
                free(p);
                st = vid_fail(SEQVID_ERR_NOMEM, "no memory for the file list");
                break;
            }
            names = nn;
        }
        names[n++] = p;
    }
    closedir(d);
    if (!st) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (!st) st = add_file(ds, names[i], cap);
        free(names[i]);
    }
    free(names);
    return st;
}

static int list_glob(seqvid_video_dataset *ds, const char *pattern, size_t *cap) {
    glob_t g;
    int r = glob(pattern, 0, NULL, &g);
    if (r == GLOB_NOMATCH) return SEQVID_OK;
    if (r) return vid_fail(SEQVID_ERR_IO, "%s: glob failed", pattern);
    int st = SEQVID_OK;
    for (size_t i = 0; !st && i < g.gl_pathc; i++)
        if (is_regular(g.gl_pathv[i])) st = add_file(ds, g.gl_pathv[i], cap);
    globfree(&g);
    return st;
}

static int list_file(seqvid_video_dataset *ds, const char *list, size_t *cap) {
    FILE *fp = fopen(list, "r");
    if (!fp) return vid_fail(SEQVID_ERR_IO, "%s: cannot open (%s)", list, strerror(errno));
    const char *slash = strrchr(list, '/');
    size_t dirlen = slash ? (size_t)(slash - list) : 0;
    char line[4096], path[8192];
    int st = SEQVID_OK;
    while (!st && fgets(line, sizeof line, fp)) {
        size_t n = strcspn(line, "\r\n");
        line[n] = 0;
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        n = strlen(s);
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = 0;
        if (!n || s[0] == '#') continue;
        if (s[0] == '/' || !slash) snprintf(path, sizeof path, "%s", s);
        else snprintf(path, sizeof path, "%.*s/%s", (int)dirlen, list, s);
        st = add_file(ds, path, cap);
    }
    fclose(fp);
    return st;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* Validation iff hash(file name, seed) / 2^64 < fraction: stable when files come and go. */
static void assign_splits(seqvid_video_dataset *ds) {
    for (size_t i = 0; i < ds->n_files; i++) {
        const char *p = ds->files[i].path, *name = strrchr(p, '/');
        name = name ? name + 1 : p;
        uint64_t h = vid_fnv(VID_FNV_INIT, &ds->split_seed, sizeof ds->split_seed);
        h = vid_fnv(h, name, strlen(name));
        uint64_t m = h; /* finalise (FNV's high bits mix poorly) */
        m = vid_rand(&m);
        double u = (double)(m >> 11) * (1.0 / 9007199254740992.0);
        ds->files[i].split = u < ds->val_fraction ? SEQVID_VIDEO_VALIDATION : SEQVID_VIDEO_TRAIN;
    }
}

static void restart(seqvid_video_dataset *ds, int split) {
    uint64_t s = ds->o.seed;
    ds->rng[split] = split == SEQVID_VIDEO_TRAIN ? s : vid_rand(&s) ^ 0x76616c6964ULL;
}

int seqvid_video_dataset_create(const char *source, seqvid_video_dataset **out) {
    VID_NOT_NULL(out);
    *out = NULL;
    VID_NOT_NULL(source);
    seqvid_video_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return vid_fail(SEQVID_ERR_NOMEM, "no memory for a data set");
    vid_opts_default(&ds->o);
    ds->val_fraction = 0.2;
    ds->prefetch_on = 1;
    size_t cap = 0;
    int st;
    struct stat sb;
    if (strpbrk(source, "*?[")) st = list_glob(ds, source, &cap);
    else if (stat(source, &sb) != 0)
        st = vid_fail(SEQVID_ERR_IO, "%s: no such file or folder", source);
    else if (S_ISDIR(sb.st_mode)) st = list_folder(ds, source, &cap);
    else if (ends_with(source, ".txt") || ends_with(source, ".lst") || ends_with(source, ".list"))
        st = list_file(ds, source, &cap);
    else st = add_file(ds, source, &cap);
    if (!st && !ds->n_files) st = vid_fail(SEQVID_ERR_IO, "%s: no files found", source);
    if (st) {
        seqvid_video_dataset_free(ds);
        return st;
    }
    assign_splits(ds);
    restart(ds, 0);
    restart(ds, 1);
    *out = ds;
    return SEQVID_OK;
}

static void join_worker(seqvid_video_dataset *ds) {
    if (ds->pf.running) {
        pthread_join(ds->pf.thread, NULL);
        ds->pf.running = 0;
    }
}

static void unload(seqvid_video_dataset *ds) {
    for (size_t i = 0; i < ds->n_files; i++) {
        file *f = &ds->files[i];
        free(f->fr.data);
        free(f->message);
        memset(&f->fr, 0, sizeof f->fr);
        f->message = NULL;
        f->loaded = 0;
        f->status = SEQVID_OK;
    }
    ds->pf.ready = 0;
}

void seqvid_video_dataset_free(seqvid_video_dataset *ds) {
    if (!ds) return;
    join_worker(ds);
    unload(ds);
    for (size_t i = 0; i < ds->n_files; i++) free(ds->files[i].path);
    free(ds->files);
    free(ds->cache);
    free(ds->pf.data);
    free(ds->pf.len);
    free(ds);
}

/* ---- options --------------------------------------------------------------------------------- */
int seqvid_video_dataset_set(seqvid_video_dataset *ds, int key, double value) {
    VID_NOT_NULL(ds);
    join_worker(ds);
    ds->pf.ready = 0;
    switch (key) {
    case SEQVID_VIDEO_VAL_FRACTION:
        if (!(value >= 0 && value <= 1))
            return vid_fail(SEQVID_ERR_ARG, "VAL_FRACTION must be in [0, 1], not %g", value);
        ds->val_fraction = value;
        assign_splits(ds);
        return SEQVID_OK;
    case SEQVID_VIDEO_SPLIT_SEED:
        if (!(value >= 0 && value < 9007199254740992.0) || value != (double)(uint64_t)value)
            return vid_fail(SEQVID_ERR_ARG, "SPLIT_SEED must be an integer in [0, 2^53)");
        ds->split_seed = (uint64_t)value;
        assign_splits(ds);
        return SEQVID_OK;
    case SEQVID_VIDEO_PREFETCH:
        if (value != 0 && value != 1) return vid_fail(SEQVID_ERR_ARG, "PREFETCH must be 0 or 1");
        ds->prefetch_on = (int)value;
        return SEQVID_OK;
    default:
        break;
    }
    int known, changed;
    int st = vid_opts_set(&ds->o, key, value, &known, &changed);
    if (st) return st;
    if (changed) unload(ds);
    if (key == SEQVID_VIDEO_SEED) {
        restart(ds, 0);
        restart(ds, 1);
    }
    return SEQVID_OK;
}

int seqvid_video_dataset_get(const seqvid_video_dataset *cds, int key, double *value) {
    VID_NOT_NULL(cds);
    VID_NOT_NULL(value);
    seqvid_video_dataset *ds = (seqvid_video_dataset *)cds; /* joining the worker only waits */
    join_worker(ds);
    if (vid_opts_get(&ds->o, key, value)) return SEQVID_OK;
    size_t n[2] = {0, 0}, c = (size_t)ds->o.channels;
    for (size_t i = 0; i < ds->n_files; i++) n[ds->files[i].split]++;
    switch (key) {
    case SEQVID_VIDEO_VAL_FRACTION: *value = ds->val_fraction; return SEQVID_OK;
    case SEQVID_VIDEO_SPLIT_SEED: *value = (double)ds->split_seed; return SEQVID_OK;
    case SEQVID_VIDEO_PREFETCH: *value = ds->prefetch_on; return SEQVID_OK;
    case SEQVID_VIDEO_FILES: *value = (double)ds->n_files; return SEQVID_OK;
    case SEQVID_VIDEO_TRAIN_FILES: *value = (double)n[0]; return SEQVID_OK;
    case SEQVID_VIDEO_VAL_FILES: *value = (double)n[1]; return SEQVID_OK;
    case SEQVID_VIDEO_CACHE_HITS: *value = (double)ds->cache_hits; return SEQVID_OK;
    case SEQVID_VIDEO_WAIT_SECONDS: *value = ds->wait; return SEQVID_OK;
    case SEQVID_VIDEO_SEQ_DIM:
        if (ds->o.patch) *value = (double)(ds->o.patch * ds->o.patch * c);
        else if (ds->o.out_w && ds->o.out_h) *value = (double)(ds->o.out_w * ds->o.out_h * c);
        else {
            *value = 0; /* the first decoded file's frame size, once known */
            for (size_t i = 0; i < ds->n_files; i++)
                if (ds->files[i].fr.data) {
                    *value = (double)(ds->files[i].fr.fh * ds->files[i].fr.fw * c);
                    break;
                }
        }
        return SEQVID_OK;
    default:
        return vid_fail(SEQVID_ERR_ARG, "%s: unknown key %d", __func__, key);
    }
}

int seqvid_video_dataset_cache(seqvid_video_dataset *ds, const char *folder) {
    VID_NOT_NULL(ds);
    join_worker(ds);
    free(ds->cache);
    ds->cache = NULL;
    if (!folder) return SEQVID_OK;
    if (mkdir(folder, 0777) != 0 && errno != EEXIST)
        return vid_fail(SEQVID_ERR_IO, "%s: cannot create the cache folder (%s)", folder,
                        strerror(errno));
    struct stat sb;
    if (stat(folder, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return vid_fail(SEQVID_ERR_IO, "%s: not a folder", folder);
    if (!(ds->cache = strdup(folder))) return vid_fail(SEQVID_ERR_NOMEM, "no memory");
    return SEQVID_OK;
}

int seqvid_video_dataset_file(const seqvid_video_dataset *ds, size_t i, const char **path,
                              int *split) {
    VID_NOT_NULL(ds);
    if (i >= ds->n_files)
        return vid_fail(SEQVID_ERR_ARG, "file %zu of a data set of %zu", i, ds->n_files);
    if (path) *path = ds->files[i].path;
    if (split) *split = ds->files[i].split;
    return SEQVID_OK;
}

int seqvid_video_dataset_file_status(const seqvid_video_dataset *cds, size_t i, int *status,
                                     const char **message, uint64_t *frames, uint64_t *damaged) {
    VID_NOT_NULL(cds);
    seqvid_video_dataset *ds = (seqvid_video_dataset *)cds;
    join_worker(ds);
    if (i >= ds->n_files)
        return vid_fail(SEQVID_ERR_ARG, "file %zu of a data set of %zu", i, ds->n_files);
    const file *f = &ds->files[i];
    if (status) *status = f->status;
    if (message) *message = f->message ? f->message : "";
    if (frames) *frames = f->fr.n;
    if (damaged) *damaged = f->fr.damaged;
    return SEQVID_OK;
}

/* ---- decoding and sampling (runs on the caller's thread or the worker) ---------------------- */
/* The cache key: the video's identity (path, size, mtime) and every option that changes the
 * decoded frames. */
static uint64_t cache_key(const vid_opts *o, const char *path, const struct stat *sb) {
    uint64_t h = vid_fnv(VID_FNV_INIT, path, strlen(path));
    int64_t id[4] = {(int64_t)sb->st_size, (int64_t)sb->st_mtim.tv_sec, (int64_t)sb->st_mtim.tv_nsec,
                     o->channels};
    uint64_t fmt[7] = {o->out_w, o->out_h, o->crop_x, o->crop_y, o->crop_w, o->crop_h,
                       o->max_frames};
    h = vid_fnv(h, id, sizeof id);
    return vid_fnv(h, fmt, sizeof fmt);
}

static void load(seqvid_video_dataset *ds, file *f) {
    if (f->loaded) return;
    f->loaded = 1;
    struct stat sb;
    uint64_t key = 0;
    int cacheable = ds->cache && stat(f->path, &sb) == 0;
    if (cacheable) {
        key = cache_key(&ds->o, f->path, &sb);
        if (vid_cache_read(ds->cache, key, &ds->o, &f->fr)) {
            ds->cache_hits++;
            return;
        }
    }
    uint8_t *data;
    size_t n, fh = 0, fw = 0;
    uint64_t damaged;
    f->status = vid_decode_all(f->path, &ds->o, &data, &n, &fh, &fw, &damaged);
    if (f->status) {
        f->message = strdup(seqvid_video_last_error());
        return;
    }
    if (!n) {
        free(data);
        f->status = SEQVID_ERR_FORMAT;
        f->message = strdup("no decodable frame");
        return;
    }
    f->fr = (vid_frames){.data = data, .n = n, .fh = fh, .fw = fw, .damaged = damaged};
    if (cacheable) vid_cache_write(ds->cache, key, &ds->o, &f->fr);
}

/* Clip starts of a file for clips of T frames (a file shorter than a clip has one start: a
 * short clip). */
static size_t starts(const vid_opts *o, const file *f, size_t T) {
    if (f->status || !f->fr.n) return 0;
    size_t span = (T - 1) * o->stride;
    return f->fr.n > span ? f->fr.n - span : 1;
}

static int sample(seqvid_video_dataset *ds, int split, size_t T, size_t S, size_t D, float *data,
                  size_t *len, uint64_t *rng) {
    size_t total = 0, c = (size_t)ds->o.channels;
    for (size_t i = 0; i < ds->n_files; i++) {
        file *f = &ds->files[i];
        if (f->split != split) continue;
        load(ds, f);
        total += starts(&ds->o, f, T);
    }
    if (!total)
        return vid_fail(SEQVID_ERR_STATE, "no decodable file in the %s split",
                        split == SEQVID_VIDEO_TRAIN ? "training" : "validation");
    const uint8_t **frames = malloc(T * sizeof *frames);
    if (!frames) return vid_fail(SEQVID_ERR_NOMEM, "no memory");
    int st = SEQVID_OK;
    for (size_t b = 0; b < S && !st; b++) {
        size_t r = vid_uniform(rng, total), i = 0, k;
        for (;; i++) { /* the file holding start number r */
            if (ds->files[i].split != split) continue;
            if (r < (k = starts(&ds->o, &ds->files[i], T))) break;
            r -= k;
        }
        const file *f = &ds->files[i];
        size_t P = ds->o.patch, fd = P ? P * P * c : f->fr.fh * f->fr.fw * c;
        if (fd != D) {
            st = vid_fail(SEQVID_ERR_SHAPE, "%s: %zu floats per step (frames %zu x %zu) where "
                          "the batch has %zu", f->path, fd, f->fr.fw, f->fr.fh, D);
            break;
        }
        if (P > f->fr.fh || P > f->fr.fw) {
            st = vid_fail(SEQVID_ERR_ARG, "%s: patch %zu does not fit %zu x %zu frames", f->path,
                          P, f->fr.fw, f->fr.fh);
            break;
        }
        size_t got = 0, fsz = f->fr.fh * f->fr.fw * c;
        for (size_t t = 0; t < T && r + t * ds->o.stride < f->fr.n; t++, got++)
            frames[t] = f->fr.data + (r + t * ds->o.stride) * fsz;
        size_t y, x;
        vid_patch_pos(&ds->o, f->fr.fh, f->fr.fw, b, rng, &y, &x);
        vid_cut(frames, got, f->fr.fh, f->fr.fw, c, P, y, x, data, T, S, b);
        len[b] = got;
    }
    free(frames);
    return st;
}

static void *worker(void *arg) {
    seqvid_video_dataset *ds = arg;
    prefetch *p = &ds->pf;
    uint64_t r = p->rng_in;
    p->status = sample(ds, p->split, p->T, p->S, p->D, p->data, p->len, &r);
    if (p->status) snprintf(p->message, sizeof p->message, "%s", seqvid_video_last_error());
    p->rng_out = r;
    p->ready = 1;
    return NULL;
}

static void start_worker(seqvid_video_dataset *ds, int split, size_t T, size_t S, size_t D) {
    prefetch *p = &ds->pf;
    size_t n = T * S * D;
    if (n > p->cap || !p->len || S > p->S) {
        float *nd = realloc(p->data, n * sizeof *nd);
        if (!nd) return;
        p->data = nd;
        p->cap = n;
        size_t *nl = realloc(p->len, S * sizeof *nl);
        if (!nl) return;
        p->len = nl;
    }
    p->split = split;
    p->T = T;
    p->S = S;
    p->D = D;
    p->rng_in = ds->rng[split];
    p->ready = 0;
    if (pthread_create(&p->thread, NULL, worker, ds) == 0) p->running = 1;
}

int seqvid_video_dataset_next(seqvid_video_dataset *ds, int split, seqvid_batch *batch) {
    VID_NOT_NULL(ds);
    VID_NOT_NULL(batch);
    if (split != SEQVID_VIDEO_TRAIN && split != SEQVID_VIDEO_VALIDATION)
        return vid_fail(SEQVID_ERR_ARG, "%s: split must be TRAIN (0) or VALIDATION (1)", __func__);
    size_t T, S, D;
    float *data;
    int st = seqvid_batch_shape(batch, &T, &S, &D);
    if (!st) st = seqvid_batch_data(batch, &data);
    if (st) return vid_fail_core(st, __func__);
    double t0 = vid_now();
    join_worker(ds);
    prefetch *p = &ds->pf;
    int used = 0;
    if (p->ready && !p->status && p->split == split && p->T == T && p->S == S && p->D == D &&
        p->rng_in == ds->rng[split]) {
        memcpy(data, p->data, T * S * D * sizeof *data);
        for (size_t b = 0; b < S && !st; b++) st = seqvid_batch_set_length(batch, b, p->len[b]);
        if (st) return vid_fail_core(st, __func__);
        ds->rng[split] = p->rng_out;
        used = 1;
    }
    p->ready = 0;
    if (!used) {
        size_t *len = malloc(S * sizeof *len);
        if (!len) return vid_fail(SEQVID_ERR_NOMEM, "no memory");
        uint64_t r = ds->rng[split];
        st = sample(ds, split, T, S, D, data, len, &r);
        for (size_t b = 0; b < S && !st; b++)
            if ((st = seqvid_batch_set_length(batch, b, len[b]))) st = vid_fail_core(st, __func__);
        free(len);
        if (st) {
            ds->wait += vid_now() - t0;
            return st;
        }
        ds->rng[split] = r;
    }
    if (ds->prefetch_on) start_worker(ds, split, T, S, D);
    ds->wait += vid_now() - t0;
    return SEQVID_OK;
}

int seqvid_video_dataset_rewind(seqvid_video_dataset *ds, int split) {
    VID_NOT_NULL(ds);
    if (split != SEQVID_VIDEO_TRAIN && split != SEQVID_VIDEO_VALIDATION)
        return vid_fail(SEQVID_ERR_ARG, "%s: split must be TRAIN (0) or VALIDATION (1)", __func__);
    join_worker(ds);
    restart(ds, split);
    return SEQVID_OK;
}
