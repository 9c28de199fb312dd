/* numfmt.h -- private: numbers as text in the "C" locale whatever the caller's (metadata of
 * saved files). */
#ifndef SV_NUMFMT_H
#define SV_NUMFMT_H
#include <stddef.h>
#include <stdint.h>

/* v as "%.17g" (round-trips exactly) into buf; 0 if no C locale could be made. */
int sv_fmt_double(char *buf, size_t cap, double v);
/* A plain finite decimal -?(0|[1-9]digits)[.digits][(e|E)[+-]digits] (no spaces, leading
 * zeros, hex, inf or nan, at most 64 characters): 1 and *out set, else 0. */
int sv_parse_double(const char *s, double *out);
/* A plain integer -?(0|[1-9]digits) of at most 16 digits, not "-0" (no "03", "3e0", "3.0"):
 * 1 and *out set, else 0. For the integer settings of saved files. */
int sv_parse_int(const char *s, double *out);
/* Decimal digits only, no sign or leading zeros, no overflow: 1 and *out set, else 0. */
int sv_parse_u64(const char *s, uint64_t *out);
#endif
