/* fileio.c -- opening input files safely, and the process-wide input limits. */
#define _POSIX_C_SOURCE 200809L
#include "fileio.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "error.h"

int sv_open_regular(const char *fn, const char *path, int *fd, size_t *size) {
    *fd = -1;
    int d = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (d < 0) {
        int err = errno;
        return sv_fail(err == ENOMEM ? SEQVID_ERR_NOMEM : SEQVID_ERR_IO,
                       "%s: cannot open '%s': %s", fn, path, strerror(err));
    }
    struct stat sb;
    if (fstat(d, &sb) || !S_ISREG(sb.st_mode)) {
        close(d);
        return sv_fail(SEQVID_ERR_IO, "%s: '%s' is not a regular file", fn, path);
    }
    if ((uintmax_t)sb.st_size > SIZE_MAX) {
        close(d);
        return sv_fail(SEQVID_ERR_OVERFLOW, "%s: '%s' is too large for this platform", fn, path);
    }
    *fd = d;
    *size = (size_t)sb.st_size;
    return SEQVID_OK;
}

/* ---- limits ---------------------------------------------------------------------------- */

/* One row per key: name, default and range (whole numbers of bytes). Values are atomics so
 * that a loader running in another thread reads either the old or the new value. */
#define LIMIT_MAX_BYTES ((double)((uint64_t)1 << 40)) /* 1 TiB: well above any real set */
static const struct {
    const char *name;
    double def, lo, hi;
} limits[] = {
    [SEQVID_LIMIT_IDX_BYTES] = {"IDX_BYTES", (double)((uint64_t)1 << 30), 1, LIMIT_MAX_BYTES},
};
#define NLIMITS (sizeof limits / sizeof limits[0])
static _Atomic uint64_t values[NLIMITS]; /* 0: not set, the default holds */

static int limit_key_ok(int key) { return key >= 1 && (size_t)key < NLIMITS && limits[key].name; }

size_t sv_limit(int key) {
    uint64_t v = atomic_load_explicit(&values[key], memory_order_relaxed);
    v = v ? v : (uint64_t)limits[key].def;
    return v > SIZE_MAX ? SIZE_MAX : (size_t)v;
}

int seqvid_set_limit(int key, double value) {
    if (!limit_key_ok(key)) return sv_fail(SEQVID_ERR_ARG, "%s: unknown key %d", __func__, key);
    if (!isfinite(value) || value < limits[key].lo || value > limits[key].hi ||
        value != floor(value))
        return sv_fail(SEQVID_ERR_ARG, "%s: %s = %g must be a whole number in [%g, %g]",
                       __func__, limits[key].name, value, limits[key].lo, limits[key].hi);
    atomic_store_explicit(&values[key], (uint64_t)value, memory_order_relaxed);
    return SEQVID_OK;
}

int seqvid_get_limit(int key, double *value) {
    SV_NOT_NULL(value);
    if (!limit_key_ok(key)) return sv_fail(SEQVID_ERR_ARG, "%s: unknown key %d", __func__, key);
    *value = (double)sv_limit(key);
    return SEQVID_OK;
}
