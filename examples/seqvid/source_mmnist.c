/*
 * source_mmnist.c -- Moving MNIST: sequences generated from real MNIST digits. Training
 * sequences come from the training digits, held-out ones from the test digits.
 */
#include "source.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct mmnist_source {
    source base;
    seqvid_digits *train, *test;
    int digits;
    uint64_t held_out_seed;
} mmnist_source;

static void mm_fill(source *src, seqvid_batch *batch, uint64_t step, unsigned attempt)
{
    (void)step, (void)attempt; /* the generator's state (kept in checkpoints) decides */
    ex_check(seqvid_mmnist_fill(src->gen, batch, NULL, 0), "Moving MNIST");
}

static void mm_held_out(source *src, ex_set *set, size_t n_steps, size_t n_seqs, size_t chunk)
{
    mmnist_source *m = (mmnist_source *)src;
    seqvid_mmnist *gen = ex_generator(m->test, m->digits, m->held_out_seed);
    ex_set_generate(set, gen, n_steps ? n_steps : 20, n_seqs, chunk);
    seqvid_mmnist_free(gen);
}

static float *mm_mean_frame(source *src)
{
    mmnist_source *m = (mmnist_source *)src;
    return m->train ? ex_mean_frame(m->train, m->digits, 10000) : NULL;
}

static void mm_free(source *src)
{
    mmnist_source *m = (mmnist_source *)src;
    seqvid_mmnist_free(src->gen);
    seqvid_digits_free(m->train);
    seqvid_digits_free(m->test);
    free(m);
}

static const source_ops mmnist_ops = {mm_fill, mm_held_out, mm_mean_frame, mm_free};

source *source_open_mmnist(const source_options *o, int purpose)
{
    mmnist_source *m = ex_calloc(1, sizeof *m);
    source *s = &m->base;
    s->ops = &mmnist_ops;
    s->shape = (ex_shape){EX_CANVAS, EX_CANVAS, 1};
    s->output = SEQVID_OUTPUT_BINARY;
    m->digits = o->common.digits;
    /* Training needs the training digits; using a model only wants them for the
     * mean-frame baseline. */
    m->train = ex_load_digits(o->common.data_dir, 0, purpose == SOURCE_TRAIN);
    m->test = ex_load_digits(o->common.data_dir, 1, 1);
    size_t n_train = 0, n_test;
    if (m->train) ex_check(seqvid_digits_shape(m->train, &n_train, NULL, NULL), "digits");
    ex_check(seqvid_digits_shape(m->test, &n_test, NULL, NULL), "digits");
    if (purpose == SOURCE_TRAIN) {
        s->gen = ex_generator(m->train, m->digits, o->common.seed);
        m->held_out_seed = EX_VAL_SEED;
        snprintf(s->description, sizeof s->description,
                 "Moving MNIST, %d digit%s per sequence: training sequences from %zu training "
                 "digits, %ld held-out sequences from %zu test digits (seed %d)",
                 m->digits, m->digits > 1 ? "s" : "", n_train, o->val_size, n_test,
                 EX_VAL_SEED);
    } else {
        m->held_out_seed = o->common.seed;
        snprintf(s->description, sizeof s->description,
                 "Moving MNIST, %d digit%s per sequence from %zu test digits (seed %llu)",
                 m->digits, m->digits > 1 ? "s" : "", n_test,
                 (unsigned long long)o->common.seed);
    }
    return s;
}
