/*
 * pictures.h -- what a model does, shown: PNG strips of frames, animated GIFs, loss plots.
 *
 * Drawn with cairo (antialiased text in a real font, lines, PNG output) and written as GIF
 * with giflib. Every file is written under a temporary name and renamed, so a viewer never
 * sees half a picture while training rewrites it. Functions return 0, or -1 after a
 * warning on stderr (a picture that cannot be written never ends a training run).
 */
#ifndef SEQVID_EXAMPLES_PICTURES_H
#define SEQVID_EXAMPLES_PICTURES_H

#include <stddef.h>
#include <seqvid.h>

#include "data.h"

/* n frames of the shape's values in [0,1]: frame i starts at data + i * stride. */
typedef struct ex_frames {
    const float *data;
    size_t n, stride;
} ex_frames;

/* Frames t0 .. t0+n-1 of sequence b in a time-major array of S sequences of dim D. */
ex_frames ex_frames_of(const float *data, size_t S, size_t D, size_t b, size_t t0, size_t n);

/* 1 if frames of this shape can be drawn (an image of 1 or 3 channels). */
int ex_shape_drawable(ex_shape s);

/* A PNG of labelled rows of frames, each row wrapping after `wrap` frames; each frame pixel
 * is drawn as a scale x scale block. */
int ex_write_strip(const char *path, const char *const *labels, const ex_frames *rows,
                   int n_rows, ex_shape shape, int scale, size_t wrap);

/* An animated GIF of panels shown side by side, all with the same number of frames.
 * Frames from `future_from` on get a bar under the panel in the panel's colour, so the
 * viewer sees where the input ends and truth or prediction begins. */
enum { EX_BAR_GREEN = 1, EX_BAR_RED = 2 };
typedef struct ex_panel {
    const char *label;
    ex_frames frames;
    size_t future_from;
    int bar;
} ex_panel;
int ex_write_gif(const char *path, const ex_panel *panels, int n_panels, ex_shape shape,
                 int scale, int delay_cs);

/* For sequences [0, n_seq) of `seqs` (time-major, at least K frames each): the model's
 * reconstruction and prediction pictures, named prefix<i>.png/.gif and
 * prefix<i>_rollout.png/.gif (a prediction of `rollout` frames). Truth future frames are
 * shown when seqs has more than K steps. shape NULL: square gray frames. Frames that cannot
 * be drawn (vectors) give no pictures. Returns the number of files that failed. */
int ex_write_pictures(seqvid_model *model, seqvid_batch *seqs, size_t n_seq,
                      const ex_shape *shape, const char *out_dir, const char *prefix,
                      size_t rollout);

/* A loss plot: step on x, loss on a log scale on y. Points with NaN y are skipped. */
typedef struct ex_curve {
    const char *label;
    const double *x, *y;
    size_t n;
    unsigned char rgb[3];
    double width;  /* line width in pixels */
    int dashed;
    int markers;   /* a dot on every point (sparse curves, such as validations) */
} ex_curve;
int ex_write_plot(const char *path, const ex_curve *curves, int n_curves, const char *xlabel,
                  const char *ylabel);

#endif
