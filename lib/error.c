/* error.c -- status strings and the per-thread last-error message. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include "error.h"

static _Thread_local char last_error[512];

static const char *const status_names[SEQVID_STATUS_COUNT_] = {
    [SEQVID_OK] = "success",
    [SEQVID_ERR_NULL] = "required pointer argument is NULL",
    [SEQVID_ERR_ARG] = "invalid argument",
    [SEQVID_ERR_SHAPE] = "shape mismatch",
    [SEQVID_ERR_OVERFLOW] = "size overflow",
    [SEQVID_ERR_NOMEM] = "out of memory",
    [SEQVID_ERR_NONFINITE] = "non-finite value (NaN or Inf)",
    [SEQVID_ERR_IO] = "input/output error",
    [SEQVID_ERR_FORMAT] = "corrupt or unrecognised data",
    [SEQVID_ERR_UNSUPPORTED] = "not supported",
    [SEQVID_ERR_STATE] = "invalid state for this call",
    [SEQVID_ERR_BUFFER] = "buffer too small",
};

const char *seqvid_status_string(int status) {
    if (status < 0 || status >= SEQVID_STATUS_COUNT_) return "unknown status";
    return status_names[status];
}

const char *seqvid_last_error(void) { return last_error; }

int sv_fail(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

int sv_mul(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

int sv_mul3(size_t a, size_t b, size_t c, size_t *out) {
    size_t ab;
    return sv_mul(a, b, &ab) && sv_mul(ab, c, out);
}
