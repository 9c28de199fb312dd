/* fastmath.h -- private: exp, sigmoid, tanh and log1p written so that loops over them
 * vectorise (no libm calls, no branches), and the attribute that compiles the hot loops for
 * AVX2+FMA as well as for the baseline, picked at load time (GCC function multi-versioning).
 *
 * Accuracy: relative error of sv_expf below 2e-7 over the clamped range [-87, 88]; the others
 * inherit it (sv_tanhf has ~1e-7 absolute error near 0, where 1 - 2/(e^{2x}+1) cancels).
 */
#ifndef SV_FASTMATH_H
#define SV_FASTMATH_H
#include <stdint.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(SEQVID_NO_CLONES)
#define SV_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SV_VECTOR_CLONES
#endif

/* Subnormal floats (0 < |x| < 2^-126) are slow on x86: an SSE/AVX instruction that reads or
 * produces one takes a microcode assist, ~100 cycles. Where a loop's values can decay into
 * that range and a subnormal cannot matter (the optimizer's moments: lib/optimizer.c),
 * sv_flush_begin() sets the calling thread's FTZ (subnormal results become 0) and DAZ
 * (subnormal inputs read as 0) bits and returns the previous control word, which
 * sv_flush_end() puts back: the caller's floating-point environment is never left changed.
 * Elsewhere both do nothing (the results then differ by subnormals only). */
#if defined(__SSE2__)
#include <xmmintrin.h>
static inline unsigned sv_flush_begin(void) {
    unsigned c = _mm_getcsr();
    _mm_setcsr(c | 0x8040u); /* FTZ (bit 15) | DAZ (bit 6) */
    return c;
}
static inline void sv_flush_end(unsigned c) { _mm_setcsr(c); }
#else
static inline unsigned sv_flush_begin(void) { return 0; }
static inline void sv_flush_end(unsigned c) { (void)c; }
#endif

/* e^x = 2^n 2^f with n = round(x log2 e), |f| <= 1/2. Adding 1.5*2^23 rounds to an integer in
 * the float's low mantissa bits; 2^f is its degree-6 Taylor series in f ln 2 (error < 1.2e-7
 * for |f| <= 1/2); 2^n is built directly in the exponent field. */
static inline float sv_expf(float x) {
    x = x < -87.0f ? -87.0f : x; /* (ternaries: fminf/fmaxf block vectorising) */
    x = x > 88.0f ? 88.0f : x;
    float t = x * 1.44269504f;
    union { float f; uint32_t u; } r = {t + 12582912.0f}, s;
    float f = t - (r.f - 12582912.0f);
    float p = 1.5403530e-4f;
    p = p * f + 1.3333558e-3f;
    p = p * f + 9.6181291e-3f;
    p = p * f + 5.5504109e-2f;
    p = p * f + 2.4022651e-1f;
    p = p * f + 6.9314718e-1f;
    p = p * f + 1.0f;
    s.u = (r.u - 0x4B400000u + 127u) << 23; /* (n + 127) << 23 */
    return p * s.f;
}

static inline float sv_sigmf(float x) { return 1.0f / (1.0f + sv_expf(-x)); }

static inline float sv_tanhf(float x) { return 1.0f - 2.0f / (sv_expf(2.0f * x) + 1.0f); }

/* log(1 + z) for z in [0, 1]: w = 1 + z is halved above sqrt 2 so that s = (w-1)/(w+1) stays
 * below 0.172, then log w = 2 atanh s = 2 (s + s^3/3 + s^5/5 + s^7/7 + s^9/9). */
static inline float sv_log1pf_unit(float z) {
    float w = 1.0f + z;
    float big = w > 1.41421356f ? 1.0f : 0.0f;
    float m = w - 0.5f * big * w, k = 0.69314718f * big;
    float s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
    float q = 1.0f / 9.0f;
    q = q * s2 + 1.0f / 7.0f;
    q = q * s2 + 1.0f / 5.0f;
    q = q * s2 + 1.0f / 3.0f;
    q = q * s2 + 1.0f;
    return k + 2.0f * s * q;
}
#endif
