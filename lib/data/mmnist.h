/* mmnist.h -- private: the Moving MNIST generator behind seqvid_mmnist. */
#ifndef SV_MMNIST_H
#define SV_MMNIST_H
#include <stddef.h>
#include <stdint.h>
#include "../rng.h"
#include "seqvid.h"

struct seqvid_mmnist {
    const seqvid_digits *digits; /* borrowed; must outlive the generator */
    int n_digits;                /* SEQVID_MM_DIGITS, 1..SV_MM_MAX_DIGITS */
    size_t canvas;               /* SEQVID_MM_CANVAS, side of the square frame */
    double speed_min, speed_max; /* SEQVID_MM_SPEED_MIN/MAX, canvas-range units per frame */
    uint64_t seed;               /* SEQVID_MM_SEED */
    sv_rng rng;                  /* the stream; everything drawn comes from here */
};

#define SV_MM_MAX_DIGITS 8
#define SV_MM_MAX_CANVAS 4096

#endif
