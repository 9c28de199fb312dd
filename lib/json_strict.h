/* json_strict.h -- private: what the safetensors loader checks of a header's JSON beyond what
 * cJSON (lenient) does, in bounded work (docs/format.md, "What the loader rejects"). */
#ifndef SV_JSON_STRICT_H
#define SV_JSON_STRICT_H
#include <stddef.h>
#include <cjson/cJSON.h>

/* Longest object key, in bytes (tensor names are far shorter; metadata notes' keys too):
 * it bounds the work of the duplicate-key check below. */
#define SV_JSON_MAX_KEY 1024
/* Deepest nesting of arrays and objects (a seqvid header nests 3 deep). */
#define SV_JSON_MAX_DEPTH 64

/* 1 if text[0, n) is exactly one RFC 8259 JSON value, optionally surrounded by whitespace,
 * with every string valid UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF, no raw control bytes, only the standard escapes, \u surrogates paired), every
 * key at most SV_JSON_MAX_KEY bytes, nesting at most SV_JSON_MAX_DEPTH, and -- the
 * safetensors rule -- every number a plain non-negative integer: at most 20 digits, no
 * leading zero, no sign, fraction or exponent. Else 0 with *at the offset of the first offence and
 * *why a short reason. One pass, O(n), no allocation. */
int sv_json_strict(const char *text, size_t n, size_t *at, const char **why);

/* The first key (in byte order) that appears twice among the members of `object`, or NULL.
 * O(k log k) key comparisons for k members (pointers sorted, neighbours compared), each
 * reading at most SV_JSON_MAX_KEY + 1 bytes once sv_json_strict passed. *nomem is set if
 * the pointer array could not be allocated (then NULL is returned). */
const char *sv_json_duplicate_key(const cJSON *object, int *nomem);
#endif
