/*
 * pictures.c -- strips, GIFs and plots drawn with cairo (see pictures.h).
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* M_PI */

#include "pictures.h"

#include "cli.h"
#include "evaluate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cairo.h>
#include <gif_lib.h>

/* The look: frames on a dark background with light text; plots on white. */
#define FONT "DejaVu Sans"
static const double DARK[3] = {0.16, 0.16, 0.17}, LIGHT[3] = {0.92, 0.92, 0.92},
                    DIM[3] = {0.62, 0.62, 0.64};
enum { MARGIN = 8, GAP = 2, ROW_GAP = 8 };

ex_frames ex_frames_of(const float *data, size_t S, size_t D, size_t b, size_t t0, size_t n)
{
    ex_frames f = {data + (t0 * S + b) * D, n, S * D};
    return f;
}

int ex_shape_drawable(ex_shape s)
{
    return s.w > 0 && s.h > 0 && (s.c == 1 || s.c == 3);
}

/* =======================================================================================
 * Files: a temporary name, then rename
 * ===================================================================================== */
static const char *temp_name(const char *path)
{
    static char buf[PATH_MAX];
    if ((size_t)snprintf(buf, sizeof buf, "%s.tmp", path) >= sizeof buf)
        ex_die("path too long: %s", path);
    return buf;
}

static int finish_file(const char *tmp, const char *path, int ok, const char *why)
{
    if (ok && rename(tmp, path) == 0) return 0;
    fflush(stdout);
    fprintf(stderr, "%s: warning: could not write %s: %s\n", ex_progname, path,
            ok ? strerror(errno) : why);
    remove(tmp);
    return -1;
}

/* Write the surface as PNG and release the surface and its context. */
static int finish_png(cairo_t *cr, cairo_surface_t *s, const char *path)
{
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    const char *tmp = temp_name(path);
    if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_write_to_png(s, tmp);
    cairo_surface_destroy(s);
    return finish_file(tmp, path, st == CAIRO_STATUS_SUCCESS, cairo_status_to_string(st));
}

/* =======================================================================================
 * Drawing frames and text
 * ===================================================================================== */
/* A frame of shape.h x shape.w values in [0,1] (gray or RGB, channels innermost) as an
 * image surface; values outside [0,1] (real outputs) are clipped for display. */
static cairo_surface_t *frame_surface(const float *frame, ex_shape shape)
{
    cairo_surface_t *s =
        cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)shape.w, (int)shape.h);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) return s;
    cairo_surface_flush(s);
    unsigned char *px = cairo_image_surface_get_data(s);
    const int stride = cairo_image_surface_get_stride(s);
    for (size_t y = 0; y < shape.h; y++) {
        uint32_t *row = (uint32_t *)(void *)(px + (size_t)stride * y);
        for (size_t x = 0; x < shape.w; x++) {
            uint32_t rgb = 0;
            for (size_t k = 0; k < 3; k++) {
                float v = frame[(y * shape.w + x) * shape.c + (shape.c == 3 ? k : 0)];
                uint32_t b = (uint32_t)(v <= 0 ? 0 : v >= 1 ? 255 : v * 255.0f + 0.5f);
                rgb = rgb << 8 | b;
            }
            row[x] = rgb;
        }
    }
    cairo_surface_mark_dirty(s);
    return s;
}

/* The frame with its top left corner at (x, y), each value a sharp scale x scale block. */
static void draw_frame(cairo_t *cr, double x, double y, const float *frame, ex_shape shape,
                       int scale)
{
    cairo_surface_t *s = frame_surface(frame, shape);
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_scale(cr, scale, scale);
    cairo_set_source_surface(cr, s, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_rectangle(cr, 0, 0, (double)shape.w, (double)shape.h);
    cairo_fill(cr);
    cairo_restore(cr);
    cairo_surface_destroy(s);
}

static void set_rgb(cairo_t *cr, const double *c) { cairo_set_source_rgb(cr, c[0], c[1], c[2]); }

/* cairo keeps the fonts it loaded (and fontconfig's patterns) until told otherwise; let go
 * of them at exit, so leak checkers (ASan, valgrind) see a clean program. */
static void release_fonts(void) { cairo_debug_reset_static_data(); }

static void set_font(cairo_t *cr, double size, int bold)
{
    static int registered;
    if (!registered) registered = 1, atexit(release_fonts);
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

static double text_width(cairo_t *cr, const char *s)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    return e.x_advance;
}

/* Text placed by its left end (align 0), centre (1) or right end (2), with the middle of
 * its capital letters at y. */
static void text_at(cairo_t *cr, double x, double y, const char *s, int align)
{
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    double w = text_width(cr, s);
    cairo_move_to(cr, x - (align == 1 ? w / 2 : align == 2 ? w : 0), y + 0.36 * fe.ascent);
    cairo_show_text(cr, s);
}

/* A context for measuring text before the picture's size is known. */
static cairo_t *measuring_context(cairo_surface_t **s)
{
    *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1);
    return cairo_create(*s);
}

/* =======================================================================================
 * Strips
 * ===================================================================================== */
int ex_write_strip(const char *path, const char *const *labels, const ex_frames *rows,
                   int n_rows, ex_shape shape, int scale, size_t wrap)
{
    const double cw = (double)shape.w * scale, ch = (double)shape.h * scale;
    const double font = scale > 1 ? 13 : 11, num_h = font + 4;
    cairo_surface_t *ms;
    cairo_t *mc = measuring_context(&ms);
    set_font(mc, font, 1);
    double label_w = 0;
    size_t cols = 0;
    for (int r = 0; r < n_rows; r++) {
        label_w = fmax(label_w, text_width(mc, labels[r]));
        size_t n = rows[r].n < wrap ? rows[r].n : wrap;
        if (n > cols) cols = n;
    }
    cairo_destroy(mc);
    cairo_surface_destroy(ms);

    /* Frame numbers head the columns; each row's label sits left of its first line. */
    const double left = MARGIN + label_w + 10;
    double height = MARGIN + num_h;
    for (int r = 0; r < n_rows; r++)
        height += (double)((rows[r].n + wrap - 1) / wrap) * (ch + GAP) + ROW_GAP;
    const int W = (int)ceil(left + (double)cols * (cw + GAP) + MARGIN - GAP);
    const int H = (int)ceil(height + MARGIN - ROW_GAP);

    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = cairo_create(s);
    set_rgb(cr, DARK);
    cairo_paint(cr);

    char num[24];
    set_font(cr, font - 2, 0);
    set_rgb(cr, DIM);
    for (size_t i = 0; i < cols; i++) {
        snprintf(num, sizeof num, "%zu", i + 1);
        text_at(cr, left + (double)i * (cw + GAP) + cw / 2, MARGIN + num_h / 2 - 1, num, 1);
    }
    double top = MARGIN + num_h;
    for (int r = 0; r < n_rows; r++) {
        for (size_t i = 0; i < rows[r].n; i++) {
            double x = left + (double)(i % wrap) * (cw + GAP);
            double y = top + (double)(i / wrap) * (ch + GAP);
            draw_frame(cr, x, y, rows[r].data + i * rows[r].stride, shape, scale);
            if (i % wrap) continue;
            /* The row's label on its first line, the frame number on wrapped lines. */
            snprintf(num, sizeof num, "%zu", i + 1);
            set_font(cr, i ? font - 2 : font, !i);
            set_rgb(cr, i ? DIM : LIGHT);
            text_at(cr, left - 10, y + ch / 2, i ? num : labels[r], 2);
        }
        top += (double)((rows[r].n + wrap - 1) / wrap) * (ch + GAP) + ROW_GAP;
    }
    return finish_png(cr, s, path);
}

/* =======================================================================================
 * GIFs: each frame drawn by cairo, then mapped to a 256-colour palette
 * ===================================================================================== */
static const unsigned char BAR_RED[3] = {230, 60, 50}, BAR_GREEN[3] = {60, 200, 90};

/* Gray content: 254 grays, then the two bar colours. Colour content: a 6x6x6 cube, 38
 * grays between its steps, then the bar colours. */
enum { GRAYS = 254, INDEX_RED = 254, INDEX_GREEN = 255, CUBE = 216 };

static ColorMapObject *make_palette(int color)
{
    ColorMapObject *map = GifMakeMapObject(256, NULL);
    if (!map) ex_die("out of memory");
    if (!color) {
        for (int i = 0; i < GRAYS; i++) {
            GifByteType g = (GifByteType)((i * 255 + (GRAYS - 1) / 2) / (GRAYS - 1));
            map->Colors[i] = (GifColorType){g, g, g};
        }
    } else {
        for (int i = 0; i < CUBE; i++)
            map->Colors[i] = (GifColorType){(GifByteType)(i / 36 * 51),
                                            (GifByteType)(i / 6 % 6 * 51),
                                            (GifByteType)(i % 6 * 51)};
        for (int i = CUBE; i < INDEX_RED; i++) {
            GifByteType g = (GifByteType)((i - CUBE) * 255 / (INDEX_RED - CUBE - 1));
            map->Colors[i] = (GifColorType){g, g, g};
        }
    }
    map->Colors[INDEX_RED] = (GifColorType){BAR_RED[0], BAR_RED[1], BAR_RED[2]};
    map->Colors[INDEX_GREEN] = (GifColorType){BAR_GREEN[0], BAR_GREEN[1], BAR_GREEN[2]};
    return map;
}

static GifByteType palette_index(int color, unsigned r, unsigned g, unsigned b)
{
    if (r == BAR_RED[0] && g == BAR_RED[1] && b == BAR_RED[2]) return INDEX_RED;
    if (r == BAR_GREEN[0] && g == BAR_GREEN[1] && b == BAR_GREEN[2]) return INDEX_GREEN;
    if (!color) {
        unsigned y = (299 * r + 587 * g + 114 * b + 500) / 1000;
        return (GifByteType)((y * (GRAYS - 1) + 127) / 255);
    }
    /* The nearer of the cube's colour and the gray ramp's level. */
    unsigned cr = (r + 25) / 51, cg = (g + 25) / 51, cb = (b + 25) / 51;
    unsigned y = (r + g + b) / 3, gi = (y * (INDEX_RED - CUBE - 1) + 127) / 255;
    unsigned gv = gi * 255 / (INDEX_RED - CUBE - 1);
    long ec = 0, eg = 0;
    const unsigned v[3] = {r, g, b}, c[3] = {cr * 51, cg * 51, cb * 51};
    for (int k = 0; k < 3; k++) {
        ec += ((long)v[k] - (long)c[k]) * ((long)v[k] - (long)c[k]);
        eg += ((long)v[k] - (long)gv) * ((long)v[k] - (long)gv);
    }
    return (GifByteType)(eg < ec ? CUBE + gi : cr * 36 + cg * 6 + cb);
}

int ex_write_gif(const char *path, const ex_panel *panels, int n_panels, ex_shape shape,
                 int scale, int delay_cs)
{
    enum { HEADER = 22, BAR = 4 };
    const int cw = (int)shape.w * scale, ch = (int)shape.h * scale;
    const int W = MARGIN + n_panels * (cw + MARGIN), H = HEADER + ch + MARGIN / 2 + BAR + MARGIN;
    const size_t n_frames = panels[0].frames.n;
    const int color = shape.c == 3;
    const char *tmp = temp_name(path);
    int err = 0, ok;

    /* giflib would create the file readable by its owner only; open it as fopen would. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    GifFileType *gif = fd >= 0 ? EGifOpenFileHandle(fd, &err) : NULL;
    if (!gif) {
        if (fd >= 0) close(fd);
        return finish_file(tmp, path, 0, fd >= 0 ? GifErrorString(err) : strerror(errno));
    }
    EGifSetGifVersion(gif, true);
    ColorMapObject *map = make_palette(color);
    ok = EGifPutScreenDesc(gif, W, H, 8, 0, map) == GIF_OK;

    /* The NETSCAPE2.0 application extension: loop forever. */
    static const unsigned char loop[3] = {1, 0, 0};
    ok = ok && EGifPutExtensionLeader(gif, APPLICATION_EXT_FUNC_CODE) == GIF_OK &&
         EGifPutExtensionBlock(gif, 11, "NETSCAPE2.0") == GIF_OK &&
         EGifPutExtensionBlock(gif, 3, loop) == GIF_OK &&
         EGifPutExtensionTrailer(gif) == GIF_OK;

    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = cairo_create(s);
    GifByteType *line = ex_malloc((size_t)W);
    char num[24];
    for (size_t t = 0; ok && t < n_frames; t++) {
        set_rgb(cr, DARK);
        cairo_paint(cr);
        set_font(cr, 12, 0);
        set_rgb(cr, DIM);
        snprintf(num, sizeof num, "%zu", t + 1);
        text_at(cr, W - MARGIN, HEADER / 2, num, 2);
        set_font(cr, 12, 1);
        for (int p = 0; p < n_panels; p++) {
            int x = MARGIN + p * (cw + MARGIN);
            set_rgb(cr, LIGHT);
            text_at(cr, x, HEADER / 2, panels[p].label, 0);
            draw_frame(cr, x, HEADER, panels[p].frames.data + t * panels[p].frames.stride,
                       shape, scale);
            const int future = t >= panels[p].future_from;
            const unsigned char *bar = panels[p].bar == EX_BAR_GREEN ? BAR_GREEN : BAR_RED;
            if (future)
                cairo_set_source_rgb(cr, bar[0] / 255.0, bar[1] / 255.0, bar[2] / 255.0);
            else
                set_rgb(cr, DIM);
            cairo_rectangle(cr, x, HEADER + ch + MARGIN / 2, cw, BAR);
            cairo_fill(cr);
        }
        cairo_surface_flush(s);
        const unsigned char *px = cairo_image_surface_get_data(s);
        const int stride = cairo_image_surface_get_stride(s);

        GraphicsControlBlock gcb = {DISPOSE_DO_NOT, false,
                                    t + 1 == n_frames ? 4 * delay_cs : delay_cs,
                                    NO_TRANSPARENT_COLOR};
        GifByteType ext[4];
        EGifGCBToExtension(&gcb, ext);
        ok = EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, 4, ext) == GIF_OK &&
             EGifPutImageDesc(gif, 0, 0, W, H, false, NULL) == GIF_OK;
        for (int y = 0; ok && y < H; y++) {
            const uint32_t *row = (const uint32_t *)(const void *)(px + (size_t)stride * (size_t)y);
            for (int x = 0; x < W; x++)
                line[x] = palette_index(color, row[x] >> 16 & 255, row[x] >> 8 & 255,
                                        row[x] & 255);
            ok = EGifPutLine(gif, line, W) == GIF_OK;
        }
    }
    free(line);
    cairo_destroy(cr);
    cairo_surface_destroy(s);
    GifFreeMapObject(map);
    ok = EGifCloseFile(gif, &err) == GIF_OK && ok;
    return finish_file(tmp, path, ok, GifErrorString(err));
}

/* =======================================================================================
 * A model's pictures
 * ===================================================================================== */
/* Frames of a and then b, copied into one contiguous array (free()). */
static float *concat_frames(ex_frames a, ex_frames b, size_t D, ex_frames *out)
{
    float *x = ex_malloc((a.n + b.n) * D * sizeof *x);
    for (size_t i = 0; i < a.n; i++)
        memcpy(x + i * D, a.data + i * a.stride, D * sizeof *x);
    for (size_t i = 0; i < b.n; i++)
        memcpy(x + (a.n + i) * D, b.data + i * b.stride, D * sizeof *x);
    out->data = x, out->n = a.n + b.n, out->stride = D;
    return x;
}

int ex_write_pictures(seqvid_model *model, seqvid_batch *seqs, size_t n_seq,
                      const ex_shape *shape_in, const char *out_dir, const char *prefix,
                      size_t rollout)
{
    ex_model_info m = ex_model_describe(model);
    size_t T, S, D;
    float *x;
    ex_check(seqvid_batch_shape(seqs, &T, &S, &D), "batch");
    ex_check(seqvid_batch_data(seqs, &x), "batch");
    ex_shape shape;
    if (shape_in) {
        shape = *shape_in;
    } else {
        const size_t side = (size_t)lround(sqrt((double)D));
        shape = (ex_shape){side, side, 1};
    }
    if (!ex_shape_drawable(shape) || ex_shape_dim(shape) != D) return 0; /* not images */
    if (n_seq > S) n_seq = S;
    const size_t K = T < m.input_frames ? T : m.input_frames, M = m.future_frames;
    const size_t n_truth = T > K ? (T - K < M ? T - K : M) : 0;
    const size_t n_pred = m.has_fut ? (rollout > M ? rollout : M) : 0;
    const size_t n_show = n_pred < M ? n_pred : M;
    /* Small frames (patches) are drawn larger. */
    const int scale = shape.w <= 16 ? 6 : shape.w <= 40 ? 4 : shape.w <= 96 ? 2 : 1;
    const int roll_scale = scale > 1 ? scale / 2 : 1;
    float *recon = NULL, *pred = NULL;
    char name[PATH_MAX];
    int failed = 0;

    /* The model sees the first K frames only, like in training. */
    seqvid_batch *in = ex_batch_slice(seqs, 0, n_seq, K);
    if (m.has_rec) {
        recon = ex_malloc(K * n_seq * D * sizeof *recon);
        ex_check(seqvid_model_reconstruct(model, in, recon, K * n_seq * D), "reconstruction");
    }
    if (m.has_fut) {
        pred = ex_malloc(n_pred * n_seq * D * sizeof *pred);
        ex_check(seqvid_model_predict(model, in, n_pred, pred, n_pred * n_seq * D), "prediction");
    }

    for (size_t b = 0; b < n_seq; b++) {
        ex_frames input = ex_frames_of(x, S, D, b, 0, K);
        ex_frames truth = ex_frames_of(x, S, D, b, K, n_truth);
        const char *labels[4];
        ex_frames rows[4];
        int n = 0;

        /* Strip: input | reconstruction | true future | predicted future. */
        labels[n] = "input", rows[n++] = input;
        if (recon) labels[n] = "recon", rows[n++] = ex_frames_of(recon, n_seq, D, b, 0, K);
        if (n_truth) labels[n] = "truth", rows[n++] = truth;
        if (pred) labels[n] = "model", rows[n++] = ex_frames_of(pred, n_seq, D, b, 0, n_show);
        snprintf(name, sizeof name, "%s%zu.png", prefix, b);
        failed += ex_write_strip(ex_path(out_dir, name), labels, rows, n, shape, scale,
                                 K > M ? K : M) != 0;

        /* GIF: input then truth | input then prediction (or input | reconstruction). */
        ex_panel panels[2];
        float *a = NULL, *c = NULL;
        int n_panels = 0;
        if (pred) {
            ex_frames t, p;
            a = concat_frames(input, truth, D, &t);
            c = concat_frames(input, ex_frames_of(pred, n_seq, D, b, 0, n_show), D, &p);
            if (n_truth) panels[n_panels++] = (ex_panel){"truth", t, K, EX_BAR_GREEN};
            panels[n_panels++] = (ex_panel){"model", p, K, EX_BAR_RED};
            /* A shorter truth (a short .npy) is shown only when lengths match. */
            if (n_truth != n_show) panels[0] = panels[n_panels - 1], n_panels = 1;
        } else {
            ex_frames r = ex_frames_of(recon, n_seq, D, b, 0, K);
            panels[n_panels++] = (ex_panel){"input", input, K, EX_BAR_GREEN};
            panels[n_panels++] = (ex_panel){"recon", r, K, EX_BAR_RED};
        }
        snprintf(name, sizeof name, "%s%zu.gif", prefix, b);
        failed += ex_write_gif(ex_path(out_dir, name), panels, n_panels, shape, scale, 10) != 0;
        free(a), free(c);

        /* The long roll-out, far past the trained horizon M. */
        if (pred && rollout > 0) {
            ex_frames p;
            const char *rl[2] = {"input", "model"};
            ex_frames rr[2] = {input, ex_frames_of(pred, n_seq, D, b, 0, rollout)};
            snprintf(name, sizeof name, "%s%zu_rollout.png", prefix, b);
            failed += ex_write_strip(ex_path(out_dir, name), rl, rr, 2, shape, roll_scale,
                                     10) != 0;
            float *r = concat_frames(input, rr[1], D, &p);
            ex_panel panel = {"model", p, K, EX_BAR_RED};
            snprintf(name, sizeof name, "%s%zu_rollout.gif", prefix, b);
            failed += ex_write_gif(ex_path(out_dir, name), &panel, 1, shape, scale, 10) != 0;
            free(r);
        }
    }
    seqvid_batch_free(in);
    free(recon);
    free(pred);
    return failed;
}

/* =======================================================================================
 * Loss plot
 * ===================================================================================== */
/* "%.0f" for numbers >= 1, else "%g" */
static void tick_label(char *buf, size_t size, double v)
{
    snprintf(buf, size, v >= 1 ? "%.0f" : "%g", v);
}

int ex_write_plot(const char *path, const ex_curve *curves, int n_curves, const char *xlabel,
                  const char *ylabel)
{
    enum { W = 900, H = 520, LEFT = 72, RIGHT = 24, TOP = 44, BOTTOM = 54 };
    const double ax = LEFT, ay = TOP, aw = W - LEFT - RIGHT, ah = H - TOP - BOTTOM;
    double xmax = 1, ymin = INFINITY, ymax = -INFINITY;
    char buf[32];

    for (int c = 0; c < n_curves; c++)
        for (size_t i = 0; i < curves[c].n; i++) {
            double x = curves[c].x[i], y = curves[c].y[i];
            if (x > xmax) xmax = x;
            if (isfinite(y) && y > 0) ymin = fmin(ymin, y), ymax = fmax(ymax, y);
        }
    if (!(ymin <= ymax)) ymin = 1, ymax = 10;
    /* Log scale, padded by 15% on both sides. */
    double la = log10(ymin / 1.15), lb = log10(ymax * 1.15);
    if (lb - la < 0.3) la -= 0.15, lb += 0.15;
#define PX(vx) (ax + (vx) / xmax * aw)
#define PY(vy) (ay + ah - (log10(vy) - la) / (lb - la) * ah)

    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    set_font(cr, 12, 0);
    cairo_set_line_width(cr, 1);

    /* y: grid lines at 1..9 x 10^k, labelled at 1, 2, 5 x 10^k (all of them when the range
     * spans less than a decade) */
    for (int k = (int)floor(la); k <= (int)ceil(lb); k++)
        for (int j = 1; j <= 9; j++) {
            double v = j * pow(10, k);
            if (log10(v) < la || log10(v) > lb) continue;
            double y = floor(PY(v)) + 0.5;
            int labelled = lb - la <= 1 || j == 1 || j == 2 || j == 5;
            cairo_set_source_rgb(cr, labelled ? 0.86 : 0.93, labelled ? 0.86 : 0.93,
                                 labelled ? 0.86 : 0.93);
            cairo_move_to(cr, ax, y), cairo_line_to(cr, ax + aw, y), cairo_stroke(cr);
            if (!labelled) continue;
            cairo_set_source_rgb(cr, 0, 0, 0);
            cairo_move_to(cr, ax - 5, y), cairo_line_to(cr, ax, y), cairo_stroke(cr);
            tick_label(buf, sizeof buf, v);
            text_at(cr, ax - 8, y, buf, 2);
        }
    /* x: about six ticks at a 1, 2, 5 x 10^k step */
    double raw = xmax / 6, mag = pow(10, floor(log10(raw))), step = mag;
    if (raw / mag > 5) step = 10 * mag;
    else if (raw / mag > 2) step = 5 * mag;
    else if (raw / mag > 1) step = 2 * mag;
    step = fmax(step, 1);
    for (double v = 0; v <= xmax + 1e-9; v += step) {
        double x = floor(PX(v)) + 0.5;
        cairo_set_source_rgb(cr, 0.86, 0.86, 0.86);
        cairo_move_to(cr, x, ay), cairo_line_to(cr, x, ay + ah), cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_move_to(cr, x, ay + ah), cairo_line_to(cr, x, ay + ah + 5), cairo_stroke(cr);
        tick_label(buf, sizeof buf, v);
        text_at(cr, x, ay + ah + 16, buf, 1);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_rectangle(cr, ax + 0.5, ay + 0.5, aw - 1, ah - 1);
    cairo_stroke(cr);
    set_font(cr, 13, 0);
    text_at(cr, ax + aw / 2, H - 16, xlabel, 1);
    set_font(cr, 14, 1);
    text_at(cr, ax, TOP / 2, ylabel, 0);

    /* Curves: consecutive finite points are joined, NaN points skipped. */
    cairo_save(cr);
    cairo_rectangle(cr, ax, ay, aw, ah);
    cairo_clip(cr);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    for (int c = 0; c < n_curves; c++) {
        const ex_curve *cv = &curves[c];
        const double dash[2] = {7, 5};
        cairo_set_dash(cr, dash, cv->dashed ? 2 : 0, 0);
        cairo_set_line_width(cr, cv->width);
        cairo_set_source_rgb(cr, cv->rgb[0] / 255.0, cv->rgb[1] / 255.0, cv->rgb[2] / 255.0);
        int have = 0;
        for (size_t i = 0; i < cv->n; i++) {
            if (!isfinite(cv->y[i]) || cv->y[i] <= 0) continue;
            if (have)
                cairo_line_to(cr, PX(cv->x[i]), PY(cv->y[i]));
            else
                cairo_move_to(cr, PX(cv->x[i]), PY(cv->y[i]));
            have = 1;
        }
        cairo_stroke(cr);
    }
    cairo_restore(cr);
    /* Dots after the clip is lifted: a point on the plot's edge is shown whole. */
    for (int c = 0; c < n_curves; c++) {
        const ex_curve *cv = &curves[c];
        cairo_set_source_rgb(cr, cv->rgb[0] / 255.0, cv->rgb[1] / 255.0, cv->rgb[2] / 255.0);
        for (size_t i = 0; cv->markers && i < cv->n; i++) {
            if (!isfinite(cv->y[i]) || cv->y[i] <= 0) continue;
            cairo_new_sub_path(cr);
            cairo_arc(cr, PX(cv->x[i]), PY(cv->y[i]), cv->width + 1, 0, 2 * M_PI);
            cairo_fill(cr);
        }
    }
#undef PX
#undef PY

    /* Legend, top right */
    set_font(cr, 12, 0);
    double lw = 0;
    for (int c = 0; c < n_curves; c++) lw = fmax(lw, text_width(cr, curves[c].label));
    const double lx = ax + aw - lw - 62, ly = ay + 10, lh = n_curves * 18 + 10;
    cairo_rectangle(cr, lx + 0.5, ly + 0.5, lw + 50, lh);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.7, 0.7, 0.7);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    for (int c = 0; c < n_curves; c++) {
        const ex_curve *cv = &curves[c];
        const double y = ly + 14 + c * 18, dash[2] = {7, 5};
        cairo_set_dash(cr, dash, cv->dashed ? 2 : 0, 0);
        cairo_set_line_width(cr, cv->width);
        cairo_set_source_rgb(cr, cv->rgb[0] / 255.0, cv->rgb[1] / 255.0, cv->rgb[2] / 255.0);
        cairo_move_to(cr, lx + 8, y), cairo_line_to(cr, lx + 36, y), cairo_stroke(cr);
        if (cv->markers) cairo_arc(cr, lx + 22, y, cv->width + 1, 0, 2 * M_PI), cairo_fill(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_at(cr, lx + 42, y, cv->label, 0);
    }
    return finish_png(cr, s, path);
}
