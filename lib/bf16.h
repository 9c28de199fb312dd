/* bf16.h -- private: weights stored as bfloat16 (seqvid.h's experimental SEQVID_WEIGHTS_BF16)
 * and the product that reads them.
 *
 * bfloat16 is the upper half of an IEEE float32: sign, the same 8 exponent bits, 7 of the 23
 * mantissa bits. Widening appends 16 zero bits (exact); rounding keeps the upper half, to
 * nearest with ties to even. A model whose weights are stored so computes exactly what the
 * float32 model with its weights rounded to bf16 computes, up to the order of the float32
 * sums: the products widen each weight as they read it and accumulate in float32. The point
 * is memory: half the bytes to hold, and to stream from memory for every product at batch 1,
 * where the weights are read once per frame and the product waits on memory, not on
 * arithmetic. */
#ifndef SV_BF16_H
#define SV_BF16_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline float sv_bf16_to_float(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Round to nearest, ties to even: add 0x7fff plus the lowest kept bit, then truncate. A
 * finite float at or above 0x1.ffp127 in magnitude rounds to infinity; callers check first
 * (sv_bf16_fits). NaN is not expected (weights are proven finite before conversion). */
static inline uint16_t sv_bf16_from_float(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* *out = eight bf16 values at p (unaligned) widened to floats: each zero-extended to 32 bits
 * and shifted into the upper half. (Through a pointer: a vector return value would change
 * the calling convention between the AVX2 and baseline clones of the callers.) */
typedef float sv_v8f __attribute__((vector_size(32)));
static inline void sv_bf16_widen8(const uint16_t *p, sv_v8f *out) {
    typedef uint16_t v8h __attribute__((vector_size(16)));
    typedef uint32_t v8i __attribute__((vector_size(32)));
    v8h h;
    memcpy(&h, p, sizeof h);
    v8i u = __builtin_convertvector(h, v8i) << 16;
    memcpy(out, &u, sizeof *out);
}

/* 1 if this CPU runs AVX512-BF16 (cpuid 7.1 EAX bit 5) with its AVX-512 state enabled by the
 * OS, and the environment does not force the float32 fallback (SEQVID_NO_BF16 set to
 * anything but "" or "0"): where bf16 mode's products may run (blas.h). */
int sv_bf16_cpu(void);

/* 1 if every one of the n finite floats rounds to a finite bf16. */
int sv_bf16_fits(const float *x, size_t n);
/* Round the n floats at x to bf16 in place: the i-th bf16 overwrites bytes 2i, 2i+1 of the
 * array (its first half); returns x as the bf16 array. */
uint16_t *sv_bf16_round_in_place(float *x, size_t n);
/* dst[i] = src[i] widened, for n values (exact). */
void sv_bf16_widen(const uint16_t *src, float *dst, size_t n);

/* Floats of the scratch sv_bf16_gemm_acc widens W into for products of many rows. */
#define SV_BF16_PANEL (1 << 19)

/* C[M x N, row stride ldc] += A[M x K, row stride lda] W, with W [K x N] bfloat16, row-major
 * (row stride N), every sum in float32. One row (a frame at a time): W streamed once, row by
 * row, pairs of k where A is zero skipped. 2 to 7 rows, and up to 32 rows of a W of at most
 * 2^22 weights: register tiles fed straight from bf16. Otherwise, with a scratch `panel` of
 * SV_BF16_PANEL floats: W widened panel by panel into it, each panel multiplied by the
 * backend's float32 GEMM (panel NULL: tiles). The first two sum over k in order, so a row
 * gets the same numbers alone as in a batch that takes the tiles; each column is one
 * thread's: the results do not depend on the thread count (nor do the backend's: blas.h). */
void sv_bf16_gemm_acc(int M, int N, int K, const float *A, int lda, const uint16_t *W,
                      float *C, int ldc, float *panel);
#endif
