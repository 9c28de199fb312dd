/* json_strict.c -- a strict RFC 8259 pass over a safetensors header, run before cJSON parses
 * it, and an O(k log k) duplicate-key check (json_strict.h).
 *
 * The grammar (RFC 8259 section 2-7), checked by one loop with an explicit stack of open
 * containers (no recursion, so no stack overflow however deep the input tries to go):
 *   value  = object / array / string / number / true / false / null
 *   object = { [ string : value *( , string : value ) ] }    array = [ [ value *( , value ) ] ]
 *   number = at most 20 digits, no leading zero (the safetensors subset: sizes and offsets)
 *   string = " *( unescaped UTF-8 >= U+0020 except " and \ / \ ( " \ / b f n r t uXXXX ) "
 * UTF-8 (RFC 3629): 1-4 bytes, shortest form only, no U+D800..DFFF, at most U+10FFFF.
 */
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "json_strict.h"

typedef struct scanner {
    const unsigned char *p, *end, *start;
    const char *why;
} scanner;

static int fail(scanner *s, const char *why) {
    s->why = why;
    return 0;
}

static void skip_ws(scanner *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hex4(const unsigned char *p, unsigned *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d = c >= '0' && c <= '9'   ? c - '0'
                               : c >= 'a' && c <= 'f' ? c - 'a' + 10
                               : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                      : 16;
        if (d == 16) return 0;
        *v = *v << 4 | d;
    }
    return 1;
}

/* One UTF-8 sequence of a non-ASCII code point at s->p (RFC 3629 table 3-7). */
static int utf8_char(scanner *s) {
    const unsigned char *p = s->p;
    size_t left = (size_t)(s->end - p);
    unsigned c = p[0], lo = 0x80, hi = 0xBF;
    int len;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;      /* no overlong 3-byte forms */
        else if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;      /* no overlong 4-byte forms */
        else if (c == 0xF4) hi = 0x8F; /* nothing past U+10FFFF */
    } else
        return fail(s, "invalid UTF-8 lead byte in a string");
    if (left < (size_t)len) return fail(s, "truncated UTF-8 sequence in a string");
    if (p[1] < lo || p[1] > hi) return fail(s, "invalid UTF-8 sequence in a string");
    for (int i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF) return fail(s, "invalid UTF-8 sequence in a string");
    s->p += len;
    return 1;
}

/* A string at s->p (the opening quote); max: longest content in bytes (0: no limit). */
static int string(scanner *s, size_t max) {
    const unsigned char *open = ++s->p;
    while (s->p < s->end) {
        unsigned c = *s->p;
        if (c == '"') {
            if (max && (size_t)(s->p - open) > max) {
                s->p = open;
                return fail(s, "object key longer than the limit");
            }
            s->p++;
            return 1;
        }
        if (c < 0x20) return fail(s, "raw control character in a string");
        if (c >= 0x80) {
            if (!utf8_char(s)) return 0;
            continue;
        }
        if (c != '\\') {
            s->p++;
            continue;
        }
        if (s->end - s->p < 2) break;
        c = s->p[1];
        if (c == 'u') {
            unsigned v, w;
            if (s->end - s->p < 6 || !hex4(s->p + 2, &v)) return fail(s, "bad \\u escape");
            s->p += 6;
            if (v >= 0xDC00 && v <= 0xDFFF) return fail(s, "unpaired low surrogate escape");
            if (v >= 0xD800 && v <= 0xDBFF) { /* must be followed by \u of a low surrogate */
                if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
                    !hex4(s->p + 2, &w) || w < 0xDC00 || w > 0xDFFF)
                    return fail(s, "unpaired high surrogate escape");
                s->p += 6;
            }
            continue;
        }
        if (!strchr("\"\\/bfnrt", (int)c) || c == 0) return fail(s, "invalid escape");
        s->p += 2;
    }
    return fail(s, "unterminated string");
}

/* The safetensors subset of JSON numbers: 0 or [1-9][0-9]*. */
static int number(scanner *s) {
    const unsigned char *p = s->p;
    if (*p == '-') return fail(s, "negative number (sizes and offsets are >= 0)");
    if (*p == '0' && p + 1 < s->end && p[1] >= '0' && p[1] <= '9')
        return fail(s, "number with a leading zero");
    while (p < s->end && *p >= '0' && *p <= '9') p++;
    if (p - s->p > 20) return fail(s, "number of more than 20 digits");
    if (p < s->end && (*p == '.' || *p == 'e' || *p == 'E'))
        return fail(s, "number with a fraction or exponent (sizes and offsets are integers)");
    s->p = p;
    return 1;
}

static int literal(scanner *s, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n)) return fail(s, "invalid literal");
    s->p += n;
    return 1;
}

int sv_json_strict(const char *text, size_t n, size_t *at, const char **why) {
    scanner s = {(const unsigned char *)text, (const unsigned char *)text + n,
                 (const unsigned char *)text, NULL};
    char stack[SV_JSON_MAX_DEPTH]; /* '{' or '[' per open container */
    int depth = 0, ok = 1;
    skip_ws(&s);
    for (;;) { /* at the start of a value */
        if (s.p >= s.end) {
            ok = fail(&s, "unexpected end of the header");
            break;
        }
        unsigned c = *s.p;
        if (c == '{' || c == '[') {
            if (depth == SV_JSON_MAX_DEPTH) {
                ok = fail(&s, "nested too deeply");
                break;
            }
            stack[depth++] = (char)c;
            s.p++;
            skip_ws(&s);
            if (s.p < s.end && *s.p == (c == '{' ? '}' : ']')) { /* empty */
                s.p++;
                depth--;
                goto after_value;
            }
            if (c == '{') goto member;
            continue;
        }
        if (c == '"') ok = string(&s, 0);
        else if (c >= '0' && c <= '9') ok = number(&s);
        else if (c == '-') ok = number(&s);
        else if (c == 't') ok = literal(&s, "true");
        else if (c == 'f') ok = literal(&s, "false");
        else if (c == 'n') ok = literal(&s, "null");
        else ok = fail(&s, "unexpected character");
        if (!ok) break;
    after_value:
        skip_ws(&s);
        if (depth == 0) {
            if (s.p != s.end) ok = fail(&s, "bytes after the JSON value");
            break;
        }
        if (s.p < s.end && *s.p == ',') {
            s.p++;
            skip_ws(&s);
            if (stack[depth - 1] == '[') continue;
        member: /* a key and a colon, then the value */
            if (s.p >= s.end || *s.p != '"') {
                ok = fail(&s, "expected a string key");
                break;
            }
            if (!(ok = string(&s, SV_JSON_MAX_KEY))) break;
            skip_ws(&s);
            if (s.p >= s.end || *s.p != ':') {
                ok = fail(&s, "expected ':'");
                break;
            }
            s.p++;
            skip_ws(&s);
            continue;
        }
        if (s.p < s.end && *s.p == (stack[depth - 1] == '{' ? '}' : ']')) {
            s.p++;
            depth--;
            goto after_value;
        }
        ok = fail(&s, stack[depth - 1] == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
        break;
    }
    if (!ok) {
        if (at) *at = (size_t)(s.p - s.start);
        if (why) *why = s.why;
    }
    return ok;
}

static int cmp_keys(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char *sv_json_duplicate_key(const cJSON *object, int *nomem) {
    *nomem = 0;
    size_t k = 0;
    for (const cJSON *c = object->child; c; c = c->next) k++;
    if (k < 2) return NULL;
    const char **keys = sv_malloc(k * sizeof *keys);
    if (!keys) {
        *nomem = 1;
        return NULL;
    }
    size_t i = 0;
    for (const cJSON *c = object->child; c; c = c->next) keys[i++] = c->string;
    qsort(keys, k, sizeof *keys, cmp_keys);
    const char *dup = NULL;
    for (i = 1; i < k && !dup; i++)
        if (!strcmp(keys[i - 1], keys[i])) dup = keys[i];
    free(keys);
    return dup;
}
