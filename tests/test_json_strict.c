/* test_json_strict.c -- lib/json_strict.c: the strict RFC 8259 pass over safetensors headers
 * and the bounded duplicate-key check (issue 14 items 5 and 6).
 *
 * The work a header causes is measured by counting strcmp calls: this program is linked with
 * -Wl,--wrap=strcmp (tests/json_strict.cmake), so every strcmp the library makes goes through
 * __wrap_strcmp below. No timing is asserted. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "seqvid.h"
#include "json_strict.h"

static unsigned long strcmp_calls;
int __real_strcmp(const char *a, const char *b);
int __wrap_strcmp(const char *a, const char *b);
int __wrap_strcmp(const char *a, const char *b) {
    strcmp_calls++;
    return __real_strcmp(a, b);
}

static void strict_grammar(void **state) {
    (void)state;
    static const struct {
        const char *text;
        int ok;
    } cases[] = {
        {"{}", 1}, {" { } ", 1}, {"[]", 1}, {"0", 1}, {"{\"a\":[1,2,{\"b\":null}]}", 1},
        {"{\"a\":true,\"b\":false}", 1}, {"\"\\u00e9\\ud83d\\ude00\\b\\f\\n\\r\\t\\/\\\\\"", 1},
        {"\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"", 1},
        {"18446744073709551615", 1},
        /* numbers outside the safetensors subset */
        {"01", 0}, {"-1", 0}, {"1.0", 0}, {"1e2", 0}, {"1E2", 0}, {"[0.0]", 0}, {"-0", 0},
        {"123456789012345678901", 0}, {"+1", 0}, {".5", 0},
        /* strings */
        {"\"\x01\"", 0}, {"\"\x1f\"", 0}, {"\"a\nb\"", 0}, {"\"\x80\"", 0}, {"\"\xc1\xbf\"", 0},
        {"\"\xe0\x80\xaf\"", 0}, {"\"\xed\xbf\xbf\"", 0}, {"\"\xf4\x90\x80\x80\"", 0},
        {"\"\xf5\x80\x80\x80\"", 0}, {"\"\xe2\x82\"", 0}, {"\"\\x\"", 0}, {"\"\\u12\"", 0},
        {"\"\\ud800\"", 0}, {"\"\\ud800\\u0041\"", 0}, {"\"\\udc00\"", 0}, {"\"abc", 0},
        {"\"\\", 0},
        /* structure */
        {"", 0}, {" ", 0}, {"{", 0}, {"[1,]", 0}, {"{\"a\":1,}", 0}, {"{\"a\" 1}", 0},
        {"{1:2}", 0}, {"[1 2]", 0}, {"{} {}", 0}, {"tru", 0}, {"nul", 0}, {"[", 0}, {"]", 0},
        {"{\"a\":1]", 0}, {"[1}", 0}, {"\x00", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n = strlen(cases[i].text) + (cases[i].text[0] == 0 && i > 40), at = 12345;
        const char *why = NULL;
        int ok = sv_json_strict(cases[i].text, n, &at, &why);
        if (ok != cases[i].ok)
            fail_msg("case %zu '%s': %s (%s at %zu)", i, cases[i].text, ok ? "accepted" : "refused",
                     why ? why : "-", at);
        if (!ok) assert_non_null(why), assert_true(at <= n);
    }
    /* nesting: at the limit accepted, one more refused, 100k deep refused without recursion */
    static char deep[100002];
    for (int d = SV_JSON_MAX_DEPTH; d <= SV_JSON_MAX_DEPTH + 1; d++) {
        memset(deep, '[', (size_t)d);
        memset(deep + d, ']', (size_t)d);
        assert_int_equal(sv_json_strict(deep, 2 * (size_t)d, NULL, NULL),
                         d == SV_JSON_MAX_DEPTH);
    }
    memset(deep, '[', sizeof deep);
    assert_int_equal(sv_json_strict(deep, sizeof deep, NULL, NULL), 0);
    /* key length: at the limit accepted, one more refused */
    char *obj = malloc(SV_JSON_MAX_KEY + 16);
    for (int extra = 0; extra <= 1; extra++) {
        size_t len = SV_JSON_MAX_KEY + (size_t)extra;
        obj[0] = '{', obj[1] = '"';
        memset(obj + 2, 'k', len);
        memcpy(obj + 2 + len, "\":0}", 5);
        assert_int_equal(sv_json_strict(obj, strlen(obj), NULL, NULL), !extra);
    }
    free(obj);
}

/* A valid model file whose metadata gets `k` extra note keys of `len` bytes sharing all but
 * their last 6 bytes (the worst case for comparisons); dup: the last key repeats the first. */
static unsigned char *many_keys(size_t k, size_t len, int dup, size_t *size) {
    seqvid_config *c;
    seqvid_model *m;
    assert_int_equal(seqvid_config_create(&c), SEQVID_OK);
    assert_int_equal(seqvid_config_set(c, SEQVID_CFG_INPUT_DIM, 4), SEQVID_OK);
    assert_int_equal(seqvid_config_set(c, SEQVID_CFG_HIDDEN, 2), SEQVID_OK);
    assert_int_equal(seqvid_model_create(c, &m), SEQVID_OK);
    size_t n;
    assert_int_equal(seqvid_model_save_buffer(m, NULL, 0, &n), SEQVID_OK);
    unsigned char *file = malloc(n);
    assert_int_equal(seqvid_model_save_buffer(m, file, n, &n), SEQVID_OK);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | file[i];
    const char *hdr = (const char *)file + 8, *meta = strstr(hdr, "\"__metadata__\":{");
    assert_non_null(meta);
    size_t head = (size_t)(meta - hdr) + strlen("\"__metadata__\":{");
    size_t notes = k * (len + 8), cap = hl + notes + 8;
    char *h = malloc(cap);
    memcpy(h, hdr, head);
    size_t at = head;
    for (size_t i = 0; i < k; i++) {
        h[at++] = '"';
        memset(h + at, 'x', len - 6);
        at += len - 6;
        at += (size_t)sprintf(h + at, "%06zu\":\"\",", dup && i == k - 1 ? (size_t)0 : i);
    }
    size_t rest = (size_t)hl - head;
    memcpy(h + at, hdr + head, rest);
    at += rest;
    while (at % 8) h[at++] = ' ';
    size_t data = n - 8 - (size_t)hl;
    *size = 8 + at + data;
    unsigned char *out = malloc(*size);
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)((uint64_t)at >> (8 * i));
    memcpy(out + 8, h, at);
    memcpy(out + 8 + at, file + 8 + hl, data);
    free(h);
    free(file);
    seqvid_model_free(m);
    seqvid_config_free(c);
    return out;
}

static void load_counting(const unsigned char *buf, size_t size, int want, unsigned long *calls) {
    seqvid_model *m = NULL;
    strcmp_calls = 0;
    int st = seqvid_model_load_buffer(buf, size, &m);
    *calls = strcmp_calls;
    if (st != want) fail_msg("status %d (%s), wanted %d", st, seqvid_last_error(), want);
    seqvid_model_free(m);
}

/* 4000 metadata keys of 1000 bytes: the duplicate check costs O(k log k) comparisons (it was
 * k^2/2 = 8 million: 7.6 s for the 24 KB keys), with or without a duplicate. */
static void many_keys_bounded_work(void **state) {
    (void)state;
    const size_t k = 4000, len = 1000;
    const unsigned long bound = (unsigned long)(4 * k * ceil(log2((double)k)) + 10 * k);
    for (int dup = 0; dup <= 1; dup++) {
        size_t size;
        unsigned char *buf = many_keys(k, len, dup, &size);
        unsigned long calls;
        load_counting(buf, size, dup ? SEQVID_ERR_FORMAT : SEQVID_OK, &calls);
        print_message("%zu keys of %zu bytes%s: %lu strcmp calls (bound %lu)\n", k, len,
                      dup ? ", one twice" : "", calls, bound);
        if (dup) assert_non_null(strstr(seqvid_last_error(), "appears twice"));
        assert_true(calls <= bound);
        free(buf);
    }
    /* the header shape (keys past the documented 1 KiB limit) is refused before any
     * key is compared */
    size_t size;
    unsigned char *buf = many_keys(400, 24 * 1024, 0, &size);
    unsigned long calls;
    load_counting(buf, size, SEQVID_ERR_FORMAT, &calls);
    assert_non_null(strstr(seqvid_last_error(), "key longer"));
    assert_true(calls < 100);
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strict_grammar),
        cmocka_unit_test(many_keys_bounded_work),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
