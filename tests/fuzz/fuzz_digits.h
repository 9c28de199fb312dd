/* fuzz_digits.h -- a fixed 3-digit set of 4x4 images and a Moving MNIST generator over it
 * (canvas 8), shared by the fuzz harness and the corpus generator so that generator states
 * in the seed checkpoints match the harness's generator. Test code: reaches into the private
 * digit struct to avoid files. */
#ifndef SV_FUZZ_DIGITS_H
#define SV_FUZZ_DIGITS_H
#include "seqvid.h"
#include "data/digits.h"

static seqvid_mmnist *fuzz_generator(void) {
    static float pixels[3 * 16];
    static struct seqvid_digits digits = {3, 4, 4, pixels, NULL};
    static seqvid_mmnist *gen;
    if (!gen) {
        for (int i = 0; i < 3 * 16; i++) pixels[i] = (float)((i * 5) % 7) / 6.0f;
        if (seqvid_mmnist_create(&digits, &gen) || seqvid_mmnist_set(gen, SEQVID_MM_CANVAS, 8))
            return NULL;
    }
    return gen;
}
#endif
