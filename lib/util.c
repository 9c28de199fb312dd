/* util.c -- memory the hot loops like (64-byte aligned arrays) and the threaded finiteness
 * scan every NaN/Inf check goes through. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "error.h"
#include "fastmath.h"
#include "parallel.h"
#include "util.h"

float *sv_falloc(size_t n) {
    size_t bytes;
    if (!sv_mul(n ? n : 1, sizeof(float), &bytes) || bytes > SIZE_MAX - 64) return NULL;
    bytes = (bytes + 63) & ~(size_t)63;
    float *p = sv_aligned_alloc(64, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void sv_free(void *p) { free(p); }

/* NaN and Inf are the floats whose exponent bits are all ones; an integer test on the bits
 * vectorises and cannot be optimised away. */
SV_VECTOR_CLONES
static int finite_range(const float *x, size_t n) {
    uint32_t bad = 0;
#pragma omp simd reduction(| : bad)
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + i, sizeof u);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    return !bad;
}

#define FINITE_CHUNK ((size_t)1 << 18)

typedef struct finite_job {
    const float *x;
    size_t n;
    int bad; /* any chunk found a non-finite value (only ever set to 1) */
} finite_job;

static void finite_chunks(void *ctx, int c0, int c1) {
    finite_job *j = ctx;
    for (int c = c0; c < c1; c++) {
        size_t i0 = (size_t)c * FINITE_CHUNK, m = j->n - i0 < FINITE_CHUNK ? j->n - i0 : FINITE_CHUNK;
        if (!finite_range(j->x + i0, m)) __atomic_store_n(&j->bad, 1, __ATOMIC_RELAXED);
    }
}

/* Large arrays (a model's gradients) are scanned by the library's threads: this is a pure
 * memory-bandwidth loop. */
int sv_all_finite(const float *x, size_t n) {
    if (n <= FINITE_CHUNK) return finite_range(x, n);
    finite_job j = {x, n, 0};
    sv_parallel_for((int)((n + FINITE_CHUNK - 1) / FINITE_CHUNK), finite_chunks, &j);
    return !j.bad;
}
