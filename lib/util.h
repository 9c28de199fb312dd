/* util.h -- private: aligned arrays, the finiteness scan, and the limits shared by the units. */
#ifndef SV_UTIL_H
#define SV_UTIL_H
#include <stddef.h>

/* 2^53: every integer up to it is exact in a double. The bound of integer settings held in
 * doubles (seeds, freeze steps) and of sizes read from JSON numbers. */
#define SV_EXACT_INT 9007199254740992.0

/* 64-byte aligned, zero-filled allocation of n floats (NULL on failure or n*4 overflow);
 * release with sv_free. Aligned so the gate loops vectorise on full cache lines. */
float *sv_falloc(size_t n);
void sv_free(void *p);

/* 1 if all n values are finite. Large arrays (a model's gradients) are scanned by the
 * library's threads (sv_parallel_for): a memory-bandwidth loop. */
int sv_all_finite(const float *x, size_t n);
#endif
