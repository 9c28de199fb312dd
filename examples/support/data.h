/*
 * data.h -- where sequences come from: MNIST digits and the Moving MNIST generator, .npy
 * headers, batch slices, and sets of sequences kept in chunks.
 */
#ifndef SEQVID_EXAMPLES_DATA_H
#define SEQVID_EXAMPLES_DATA_H

#include <stddef.h>
#include <stdint.h>
#include <seqvid.h>

#define EX_CANVAS 64       /* Moving MNIST canvas side: frames have 64*64 = 4096 pixels */
#define EX_VAL_SEED 20150  /* the fixed seed of validation sequences (all programs) */

/* The geometry of a frame: h x w pixels of c channels (channels innermost), or a plain
 * vector of h values (w = c = 0: percepts, features) that is not drawn. */
typedef struct ex_shape {
    size_t h, w, c;
} ex_shape;
/* h*w*c, or h for a vector. */
size_t ex_shape_dim(ex_shape s);
/* "64x64 gray", "32x32 RGB", "4096-vector" (static buffer). */
const char *ex_shape_name(ex_shape s);

/* ${SEQVID_DATA:-$HOME/.cache/seqvid}: where data and caches are kept */
const char *ex_data_home(void);
/* ex_data_home()/mnist */
const char *ex_default_data_dir(void);
/* The train or test split from `dir` (NULL: the default folder), accepting the names
 * {train,test,t10k}-{images-idx3,labels-idx1}-ubyte, plain or .gz. When the files are
 * missing: exits with a hint to run examples/setup-mnist.sh if `required`, else NULL. */
seqvid_digits *ex_load_digits(const char *dir, int test, int required);
/* A Moving MNIST generator over `digits` with `n_digits` digits per sequence. */
seqvid_mmnist *ex_generator(const seqvid_digits *digits, int n_digits, uint64_t seed);
/* Per-pixel mean of `n_frames` frames generated from the training digits with a fixed
 * seed: the best constant prediction. Returns EX_CANVAS^2 floats (free()). */
float *ex_mean_frame(const seqvid_digits *train, int n_digits, size_t n_frames);

/* A .npy file's header: element type ("<f4", "|u1", ...), order and shape. Returns 0, or
 * -1 with a reason in `why` (the file is unreadable or not a .npy). */
#define EX_NPY_MAX_DIMS 8
typedef struct ex_npy_info {
    char descr[16];
    int fortran;
    size_t ndim, shape[EX_NPY_MAX_DIMS];
    size_t data_offset; /* where the array's bytes begin */
} ex_npy_info;
int ex_npy_info_read(const char *path, ex_npy_info *info, char *why, size_t why_size);

/* A new batch holding steps [t0, t0 + n_steps) of sequences [first, first + n_seqs) of src
 * (lengths are shifted and clipped to the new window). */
seqvid_batch *ex_batch_window(seqvid_batch *src, size_t first, size_t n_seqs, size_t t0,
                              size_t n_steps);
/* ex_batch_window from step 0. */
seqvid_batch *ex_batch_slice(seqvid_batch *src, size_t first, size_t n_seqs, size_t n_steps);

/* A set of equally long sequences kept as chunks of at most `chunk` sequences, so a large
 * set is evaluated with model workspaces of a training batch's size. */
typedef struct ex_set {
    seqvid_batch **chunks;
    size_t n_chunks, n_seqs, n_steps, dim;
} ex_set;

/* n_seqs fresh sequences of n_steps frames from gen. */
void ex_set_generate(ex_set *set, seqvid_mmnist *gen, size_t n_steps, size_t n_seqs,
                     size_t chunk);
/* Sequences [first, first + n_seqs) and steps [0, n_steps) of src, copied. */
void ex_set_from_batch(ex_set *set, seqvid_batch *src, size_t first, size_t n_seqs,
                       size_t n_steps, size_t chunk);
void ex_set_free(ex_set *set);

/* The per-value mean of the valid frames of sequences [first, first + n_seqs) of a batch
 * (free()). */
float *ex_batch_mean_frame(seqvid_batch *batch, size_t first, size_t n_seqs);

#endif
