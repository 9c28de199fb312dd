/* error.h -- private: failing with a status and a message, checked size arithmetic. */
#ifndef SV_ERROR_H
#define SV_ERROR_H
#include <stddef.h>
#include "seqvid.h"

/* Record a message for seqvid_last_error() on this thread and return `status`.
 * Use as: return sv_fail(SEQVID_ERR_ARG, "%s: hidden size %d must be >= 1", __func__, h); */
int sv_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Guard for required pointer arguments of public functions. */
#define SV_NOT_NULL(p)                                                                       \
    do {                                                                                     \
        if (!(p)) return sv_fail(SEQVID_ERR_NULL, "%s: argument '%s' is NULL", __func__, #p); \
    } while (0)

/* *out = a * b, or 0 (and no write) if the product overflows size_t. */
int sv_mul(size_t a, size_t b, size_t *out);
/* *out = a * b * c with the same rule. */
int sv_mul3(size_t a, size_t b, size_t c, size_t *out);
#endif
