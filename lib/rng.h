/* rng.h -- private: the project's one random generator (xoshiro256**, seeded by splitmix64).
 * Used for weight initialisation, the Moving MNIST generator and dropout, so every random
 * stream in the library is reproducible from a 64-bit seed on any platform. */
#ifndef SV_RNG_H
#define SV_RNG_H
#include <stdint.h>

typedef struct sv_rng {
    uint64_t s[4];
} sv_rng;

void sv_rng_seed(sv_rng *r, uint64_t seed);
uint64_t sv_rng_next(sv_rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
double sv_rng_uniform(sv_rng *r);
#endif
