/* numfmt.c -- numbers as text, independent of the caller's locale (a program that set
 * LC_NUMERIC=de_DE would otherwise write "0,01"). %.17g round-trips every double exactly. */
#define _POSIX_C_SOURCE 200809L
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "numfmt.h"

int sv_fmt_double(char *buf, size_t cap, double v) {
    locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (!c) return 0;
    locale_t old = uselocale(c);
    snprintf(buf, cap, "%.17g", v);
    uselocale(old);
    freelocale(c);
    return 1;
}

/* A plain decimal number as JSON writes one: -?(0|[1-9]digits)[.digits][(e|E)[+-]digits].
 * No spaces, leading zeros, hex, inf or nan. */
int sv_parse_double(const char *s, double *out) {
    const char *p = s;
    if (*p == '-') p++;
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9')) return 0;
    while (*p >= '0' && *p <= '9') p++;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') return 0;
        while (*p >= '0' && *p <= '9') p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (*p < '0' || *p > '9') return 0;
        while (*p >= '0' && *p <= '9') p++;
    }
    if (*p || p - s > 64) return 0;
    locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (!c) return 0;
    locale_t old = uselocale(c);
    char *end;
    double v = strtod(s, &end);
    uselocale(old);
    freelocale(c);
    if (*end || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

/* An integer setting: -?(0|[1-9]digits), at most 16 digits (so exact as a double), not "-0";
 * "03", "3e0", "3.0" are refused (docs/format.md: integers are plain decimals). */
int sv_parse_int(const char *s, double *out) {
    const char *p = s + (*s == '-');
    size_t n = strspn(p, "0123456789");
    if (n == 0 || n > 16 || p[n] || (p[0] == '0' && n > 1) || (s[0] == '-' && p[0] == '0'))
        return 0;
    double v = 0;
    for (size_t i = 0; i < n; i++) v = v * 10 + (p[i] - '0');
    *out = s[0] == '-' ? -v : v;
    return 1;
}

/* Decimal digits only, no sign or leading zeros, no overflow. */
int sv_parse_u64(const char *s, uint64_t *out) {
    uint64_t v = 0;
    if (!*s || (s[0] == '0' && s[1])) return 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return 0;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}
