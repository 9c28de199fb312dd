/* test_serialize.c -- safetensors models and checkpoints (lib/serialize.c): round trips,
 * metadata, hostile files, failed and interrupted saves, bitwise-exact resumption.
 *
 * Hostile files are made by mutating a valid file: either its raw bytes, or its decoded form
 * (metadata + a list of named tensors with their bytes) re-encoded with fresh, consistent
 * offsets and, where the test wants to get past it, a recomputed checksum. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <zlib.h>

#define SEQVID_EXPERIMENTAL /* the scheduled sampling keys */
#include "seqvid.h"
#include "error.h"
#include "model.h"
#include "optimizer.h"
#include "serialize.h"
#include "assert_fails.h"

#ifndef SV_SERIALIZE_DRIVER
#define SV_SERIALIZE_DRIVER "./serialize_driver"
#endif

static char tmpdir[256];
static int verbose; /* SV_TEST_VERBOSE=1: print every hostile file's status and message */

/* ------------------------------------------------------------------------------------------
 * helpers
 * ---------------------------------------------------------------------------------------- */
static void path_in(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", tmpdir, name);
}

static void rm_tree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb)) return;
    if (S_ISDIR(sb.st_mode)) {
        chmod(path, 0700);
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            rm_tree(sub);
        }
        if (d) closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int group_setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/seqvid_ser_XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    seqvid_set_threads(1); /* bitwise comparisons of training runs */
    verbose = getenv("SV_TEST_VERBOSE") != NULL;
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    rm_tree(tmpdir);
    return 0;
}

/* Number of entries of dir whose name contains ".tmp." */
static int count_temp_files(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

typedef struct spec {
    int kind, D, H, L, peep, cond, output;
} spec;

static seqvid_model *make_model(spec s, uint64_t seed) {
    seqvid_config *c = NULL;
    assert_int_equal(seqvid_config_create(&c), SEQVID_OK);
    assert_int_equal(seqvid_config_set(c, SEQVID_CFG_KIND, s.kind), SEQVID_OK);
    assert_int_equal(seqvid_config_set(c, SEQVID_CFG_INPUT_DIM, s.D), SEQVID_OK);
    assert_int_equal(seqvid_config_set(c, SEQVID_CFG_HIDDEN, s.H), SEQVID_OK);
    assert_int_equal(seqvid_config_set(c, SEQVID_CFG_LAYERS, s.L), SEQVID_OK);
    assert_int_equal(seqvid_config_set(c, SEQVID_CFG_PEEPHOLES, s.peep), SEQVID_OK);
    assert_int_equal(seqvid_config_set(c, SEQVID_CFG_COND_RECON, s.cond), SEQVID_OK);
    assert_int_equal(seqvid_config_set(c, SEQVID_CFG_COND_FUTURE, s.cond), SEQVID_OK);
    assert_int_equal(seqvid_config_set(c, SEQVID_CFG_OUTPUT, s.output), SEQVID_OK);
    assert_int_equal(seqvid_config_set(c, SEQVID_CFG_INPUT_FRAMES, 3), SEQVID_OK);
    assert_int_equal(seqvid_config_set(c, SEQVID_CFG_FUTURE_FRAMES, 2), SEQVID_OK);
    assert_int_equal(seqvid_config_set(c, SEQVID_CFG_SEED, (double)seed), SEQVID_OK);
    /* Doubles that are not short decimals: the metadata must carry them exactly. */
    assert_int_equal(seqvid_config_set(c, SEQVID_CFG_INIT_WEIGHT, 0.3), SEQVID_OK);
    assert_int_equal(seqvid_config_set(c, SEQVID_CFG_INIT_PEEPHOLE, 1.0 / 3.0), SEQVID_OK);
    assert_int_equal(seqvid_config_set(c, SEQVID_CFG_FORGET_BIAS, -2.0 / 7.0), SEQVID_OK);
    seqvid_model *m = NULL;
    assert_int_equal(seqvid_model_create(c, &m), SEQVID_OK);
    seqvid_config_free(c);
    return m;
}

static const spec tiny = {SEQVID_COMPOSITE, 3, 2, 1, 1, 1, SEQVID_OUTPUT_BINARY};

static void assert_models_equal(const seqvid_model *a, const seqvid_model *b) {
    for (int k = SEQVID_CFG_KIND; k <= SEQVID_CFG_FORGET_BIAS; k++) {
        double x, y;
        assert_int_equal(seqvid_model_get(a, k, &x), SEQVID_OK);
        assert_int_equal(seqvid_model_get(b, k, &y), SEQVID_OK);
        assert_memory_equal(&x, &y, sizeof x);
    }
    assert_int_equal(a->arena.n_params, b->arena.n_params);
    assert_memory_equal(a->arena.params, b->arena.params, a->arena.n_params * sizeof(float));
    assert_int_equal(a->arena.n_blocks, b->arena.n_blocks);
    for (size_t i = 0; i < a->arena.n_blocks; i++) {
        assert_string_equal(a->arena.blocks[i].name, b->arena.blocks[i].name);
        assert_int_equal(a->arena.blocks[i].offset, b->arena.blocks[i].offset);
        assert_int_equal(a->arena.blocks[i].rows, b->arena.blocks[i].rows);
        assert_int_equal(a->arena.blocks[i].cols, b->arena.blocks[i].cols);
    }
}

static unsigned char *model_bytes(const seqvid_model *m, size_t *size) {
    assert_int_equal(seqvid_model_save_buffer(m, NULL, 0, size), SEQVID_OK);
    unsigned char *buf = malloc(*size);
    assert_non_null(buf);
    size_t again = 0;
    assert_int_equal(seqvid_model_save_buffer(m, buf, *size, &again), SEQVID_OK);
    assert_int_equal(again, *size);
    return buf;
}

static unsigned char *ckpt_bytes(const seqvid_model *m, const seqvid_optimizer *o,
                                 const seqvid_mmnist *g, uint64_t step, size_t *size) {
    assert_int_equal(sv_checkpoint_save_buffer(m, o, g, step, NULL, 0, size), SEQVID_OK);
    unsigned char *buf = malloc(*size);
    assert_non_null(buf);
    assert_int_equal(sv_checkpoint_save_buffer(m, o, g, step, buf, *size, size), SEQVID_OK);
    return buf;
}

static void write_file(const char *path, const void *buf, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static unsigned char *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n ? *n : 1);
    assert_int_equal(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static uint64_t le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static void put_le64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* ---- a decoded file: metadata and tensors with their bytes --------------------------------- */
typedef struct entry {
    char name[80];
    char dtype[16];
    cJSON *shape;
    unsigned char *bytes;
    size_t n;
} entry;

typedef struct decoded {
    cJSON *meta;
    size_t n;
    entry e[256];
} decoded;

static decoded *decode(const unsigned char *buf, size_t size) {
    uint64_t hl = le64(buf);
    assert_true(hl + 8 <= size);
    cJSON *root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hl);
    assert_non_null(root);
    decoded *d = calloc(1, sizeof *d);
    const unsigned char *data = buf + 8 + hl;
    for (cJSON *c = root->child; c; c = c->next) {
        if (!strcmp(c->string, "__metadata__")) {
            d->meta = cJSON_Duplicate(c, 1);
            continue;
        }
        entry *e = &d->e[d->n++];
        snprintf(e->name, sizeof e->name, "%s", c->string);
        snprintf(e->dtype, sizeof e->dtype, "%s", cJSON_GetObjectItem(c, "dtype")->valuestring);
        e->shape = cJSON_Duplicate(cJSON_GetObjectItem(c, "shape"), 1);
        cJSON *o = cJSON_GetObjectItem(c, "data_offsets");
        size_t b = (size_t)cJSON_GetArrayItem(o, 0)->valuedouble;
        size_t en = (size_t)cJSON_GetArrayItem(o, 1)->valuedouble;
        e->n = en - b;
        e->bytes = malloc(e->n ? e->n : 1);
        memcpy(e->bytes, data + b, e->n);
    }
    cJSON_Delete(root);
    return d;
}

static void decoded_free(decoded *d) {
    cJSON_Delete(d->meta);
    for (size_t i = 0; i < d->n; i++) {
        cJSON_Delete(d->e[i].shape);
        free(d->e[i].bytes);
    }
    free(d);
}

static entry *find_entry(decoded *d, const char *name) {
    for (size_t i = 0; i < d->n; i++)
        if (!strcmp(d->e[i].name, name)) return &d->e[i];
    fail_msg("no tensor %s", name);
    return NULL;
}

static void remove_entry(decoded *d, const char *name) {
    entry *e = find_entry(d, name);
    cJSON_Delete(e->shape);
    free(e->bytes);
    size_t i = (size_t)(e - d->e);
    memmove(&d->e[i], &d->e[i + 1], (d->n - i - 1) * sizeof *e);
    d->n--;
}

static void set_meta(decoded *d, const char *key, const char *val) {
    cJSON_DeleteItemFromObject(d->meta, key);
    if (val) cJSON_AddStringToObject(d->meta, key, val);
}

/* Header text + data -> file bytes (header padded to a multiple of 8). */
static unsigned char *assemble(const char *json, const unsigned char *data, size_t data_n,
                               size_t *size) {
    size_t len = strlen(json), padded = (len + 7) & ~(size_t)7;
    *size = 8 + padded + data_n;
    unsigned char *buf = malloc(*size);
    put_le64(buf, padded);
    memcpy(buf + 8, json, len);
    memset(buf + 8 + len, ' ', padded - len);
    if (data_n) memcpy(buf + 8 + padded, data, data_n);
    return buf;
}

/* Encode with consecutive offsets; fix_crc: recompute data_crc32. */
static unsigned char *encode(decoded *d, int fix_crc, size_t *size) {
    size_t total = 0;
    for (size_t i = 0; i < d->n; i++) total += d->e[i].n;
    unsigned char *data = malloc(total ? total : 1);
    cJSON *root = cJSON_CreateObject();
    if (d->meta)
        cJSON_AddItemToObject(root, "__metadata__", cJSON_Duplicate(d->meta, 1));
    size_t off = 0;
    for (size_t i = 0; i < d->n; i++) {
        entry *e = &d->e[i];
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "dtype", e->dtype);
        cJSON_AddItemToObject(t, "shape", cJSON_Duplicate(e->shape, 1));
        cJSON *o = cJSON_AddArrayToObject(t, "data_offsets");
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)(off + e->n)));
        cJSON_AddItemToObject(root, e->name, t);
        memcpy(data + off, e->bytes, e->n);
        off += e->n;
    }
    if (fix_crc && d->meta) {
        char hex[16];
        snprintf(hex, sizeof hex, "%08lx", crc32(0, data, (uInt)total));
        cJSON *m = cJSON_GetObjectItem(root, "__metadata__");
        cJSON_ReplaceItemInObject(m, "data_crc32", cJSON_CreateString(hex));
    }
    char *json = cJSON_PrintUnformatted(root);
    unsigned char *buf = assemble(json, data, total, size);
    free(json);
    free(data);
    cJSON_Delete(root);
    return buf;
}

/* Replace the header of a file with `json`, keeping its data section. */
static unsigned char *with_header(const unsigned char *buf, size_t size, const char *json,
                                  size_t *out_size) {
    uint64_t hl = le64(buf);
    return assemble(json, buf + 8 + hl, size - 8 - (size_t)hl, out_size);
}

static cJSON *header_of(const unsigned char *buf) {
    cJSON *root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)le64(buf));
    assert_non_null(root);
    return root;
}

/* Load a model buffer expecting `want`; a failure must leave out NULL and a message. */
static void expect_model(const unsigned char *buf, size_t size, int want) {
    seqvid_model *m = (seqvid_model *)&m;
    clear_error();
    int st = seqvid_model_load_buffer(buf, size, &m);
    if (verbose) print_message("  model: %d %s\n", st, seqvid_last_error());
    if (st != want) fail_msg("status %d (%s), wanted %d", st, seqvid_last_error(), want);
    if (want) {
        assert_null(m);
        assert_true(seqvid_last_error()[0] != '\0');
    }
    seqvid_model_free(m);
}

static void expect_ckpt(const unsigned char *buf, size_t size, seqvid_mmnist *gen, int want) {
    seqvid_model *m = (seqvid_model *)&m;
    seqvid_optimizer *o = (seqvid_optimizer *)&o;
    clear_error();
    int st = sv_checkpoint_load_buffer(buf, size, &m, &o, gen, NULL);
    if (verbose) print_message("  checkpoint: %d %s\n", st, seqvid_last_error());
    if (st != want) fail_msg("status %d (%s), wanted %d", st, seqvid_last_error(), want);
    if (want) {
        assert_null(m);
        assert_null(o);
    }
    seqvid_model_free(m);
    seqvid_optimizer_free(o);
}

static void expect_encoded(decoded *d, int fix_crc, int want) {
    size_t n;
    unsigned char *b = encode(d, fix_crc, &n);
    expect_model(b, n, want);
    free(b);
}

static void expect_json(const unsigned char *buf, size_t size, cJSON *root, int want) {
    char *json = cJSON_PrintUnformatted(root);
    size_t n;
    unsigned char *b = with_header(buf, size, json, &n);
    expect_model(b, n, want);
    free(b);
    free(json);
}

/* Tiny digit set as an IDX file, for the Moving MNIST generator. */
static seqvid_digits *tiny_digits(void) {
    char path[512];
    path_in(path, sizeof path, "digits.idx");
    unsigned char h[16] = {0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 4, 0, 0, 0, 4};
    unsigned char px[5 * 16];
    for (int i = 0; i < 5 * 16; i++) px[i] = (unsigned char)((i * 37 + 11) % 256);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(h, 1, sizeof h, f);
    fwrite(px, 1, sizeof px, f);
    fclose(f);
    seqvid_digits *d = NULL;
    assert_int_equal(seqvid_digits_load(path, NULL, &d), SEQVID_OK);
    return d;
}

static seqvid_mmnist *make_gen(const seqvid_digits *d, double seed) {
    seqvid_mmnist *g = NULL;
    assert_int_equal(seqvid_mmnist_create(d, &g), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_CANVAS, 8), SEQVID_OK);
    assert_int_equal(seqvid_mmnist_set(g, SEQVID_MM_SEED, seed), SEQVID_OK);
    return g;
}

/* ------------------------------------------------------------------------------------------
 * Round trips
 * ---------------------------------------------------------------------------------------- */
static void test_roundtrip_all_kinds(void **state) {
    (void)state;
    for (int kind = 1; kind <= 3; kind++)
        for (int peep = 0; peep <= 1; peep++)
            for (int cond = 0; cond <= 1; cond++)
                for (int L = 1; L <= 2; L++) {
                    spec s = {kind, 4, 3, L, peep, cond, (kind + L) % 2};
                    seqvid_model *m = make_model(s, (uint64_t)(kind * 100 + peep * 10 + cond));
                    assert_int_equal(seqvid_model_set(m, SEQVID_CFG_RECON_FEED, 1), SEQVID_OK);
                    size_t n;
                    unsigned char *buf = model_bytes(m, &n);
                    seqvid_model *b = NULL;
                    assert_int_equal(seqvid_model_load_buffer(buf, n, &b), SEQVID_OK);
                    assert_models_equal(m, b);
                    /* Saving the loaded model gives the same bytes. */
                    size_t n2;
                    unsigned char *buf2 = model_bytes(b, &n2);
                    assert_int_equal(n, n2);
                    assert_memory_equal(buf, buf2, n);
                    free(buf2);
                    seqvid_model_free(b);
                    free(buf);
                    seqvid_model_free(m);
                }
}

static void test_roundtrip_file(void **state) {
    (void)state;
    char path[512];
    path_in(path, sizeof path, "rt.safetensors");
    seqvid_model *m = make_model(tiny, 1), *b = NULL;
    assert_int_equal(seqvid_model_save(m, path), SEQVID_OK);
    assert_int_equal(seqvid_model_load(path, &b), SEQVID_OK);
    assert_models_equal(m, b);
    seqvid_model_free(b);
    /* Overwrite with another model; the file equals the buffer form; no temp files left. */
    seqvid_model *m2 = make_model(tiny, 2);
    assert_int_equal(seqvid_model_save(m2, path), SEQVID_OK);
    size_t fn, bn;
    unsigned char *fb = read_file(path, &fn), *bb = model_bytes(m2, &bn);
    assert_int_equal(fn, bn);
    assert_memory_equal(fb, bb, fn);
    assert_int_equal(count_temp_files(tmpdir), 0);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_true((sb.st_mode & 0400) && (sb.st_mode & 0200)); /* not left at some odd mode */
    /* A relative path (no folder part) works too. */
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(tmpdir), 0);
    assert_int_equal(seqvid_model_save(m2, "relative.safetensors"), SEQVID_OK);
    assert_int_equal(seqvid_model_load("relative.safetensors", &b), SEQVID_OK);
    assert_models_equal(m2, b);
    seqvid_model_free(b);
    assert_int_equal(chdir(cwd), 0);
    free(fb);
    free(bb);
    seqvid_model_free(m);
    seqvid_model_free(m2);
}

static void test_buffer_api(void **state) {
    (void)state;
    seqvid_model *m = make_model(tiny, 3), *b = NULL;
    size_t need = 0, got = 0;
    assert_int_equal(seqvid_model_save_buffer(m, NULL, 0, &need), SEQVID_OK);
    assert_true(need > 8);
    unsigned char *buf = malloc(need);
    memset(buf, 0xAB, need);
    assert_fails(seqvid_model_save_buffer(m, buf, need - 1, &got), SEQVID_ERR_BUFFER);
    assert_int_equal(got, need);
    for (size_t i = 0; i < need; i++) assert_int_equal(buf[i], 0xAB); /* nothing written */
    assert_fails(seqvid_model_save_buffer(NULL, buf, need, &got), SEQVID_ERR_NULL);
    assert_fails(seqvid_model_save_buffer(m, buf, need, NULL), SEQVID_ERR_NULL);
    assert_fails(seqvid_model_save(NULL, "x"), SEQVID_ERR_NULL);
    assert_fails(seqvid_model_save(m, NULL), SEQVID_ERR_NULL);
    assert_fails(seqvid_model_save(m, ""), SEQVID_ERR_ARG);
    assert_fails(seqvid_model_load(NULL, &b), SEQVID_ERR_NULL);
    assert_fails(seqvid_model_load("x", NULL), SEQVID_ERR_NULL);
    assert_fails(seqvid_model_load_buffer(NULL, 10, &b), SEQVID_ERR_NULL);
    assert_fails(seqvid_model_load_buffer(buf, need, NULL), SEQVID_ERR_NULL);
    seqvid_optimizer *o = NULL;
    assert_fails(seqvid_checkpoint_save(NULL, m, o, NULL, 0), SEQVID_ERR_NULL);
    assert_fails(seqvid_checkpoint_save("x", m, NULL, NULL, 0), SEQVID_ERR_NULL);
    assert_fails(seqvid_checkpoint_load("x", NULL, &o, NULL, NULL), SEQVID_ERR_NULL);
    assert_fails(seqvid_checkpoint_load("x", &b, NULL, NULL, NULL), SEQVID_ERR_NULL);
    char path[512];
    path_in(path, sizeof path, "does-not-exist.safetensors");
    assert_fails(seqvid_model_load(path, &b), SEQVID_ERR_IO);
    assert_null(b);
    assert_fails(seqvid_model_load(tmpdir, &b), SEQVID_ERR_IO); /* a folder */
    path_in(path, sizeof path, "fifo");
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_fails(seqvid_model_load(path, &b), SEQVID_ERR_IO); /* must not block */
    unlink(path);
    free(buf);
    seqvid_model_free(m);
}

/* The header as a NumPy user sees it. */
static void test_metadata_values(void **state) {
    (void)state;
    seqvid_model *m = make_model(tiny, 77);
    assert_int_equal(seqvid_model_set(m, SEQVID_CFG_RECON_FEED, 1), SEQVID_OK);
    size_t n;
    unsigned char *buf = model_bytes(m, &n);
    uint64_t hl = le64(buf);
    assert_int_equal((8 + hl) % 8, 0); /* data aligned */
    cJSON *root = header_of(buf);
    cJSON *meta = cJSON_GetObjectItem(root, "__metadata__");
    assert_string_equal(cJSON_GetObjectItem(meta, "format")->valuestring, "seqvid");
    assert_string_equal(cJSON_GetObjectItem(meta, "format_version")->valuestring, "1");
    assert_string_equal(cJSON_GetObjectItem(meta, "type")->valuestring, "model");
    assert_string_equal(cJSON_GetObjectItem(meta, "config.KIND")->valuestring, "3");
    assert_string_equal(cJSON_GetObjectItem(meta, "config.INPUT_DIM")->valuestring, "3");
    assert_string_equal(cJSON_GetObjectItem(meta, "config.RECON_FEED")->valuestring, "1");
    assert_string_equal(cJSON_GetObjectItem(meta, "config.SEED")->valuestring, "77");
    assert_string_equal(cJSON_GetObjectItem(meta, "config.INIT_WEIGHT")->valuestring,
                        "0.29999999999999999");
    for (cJSON *c = meta->child; c; c = c->next) assert_true(cJSON_IsString(c));
    double v = strtod(cJSON_GetObjectItem(meta, "config.FORGET_BIAS")->valuestring, NULL);
    double want = -2.0 / 7.0;
    assert_memory_equal(&v, &want, sizeof v);
    /* Checksum = zlib CRC-32 of the whole data section. */
    char hex[16];
    snprintf(hex, sizeof hex, "%08lx", crc32(0, buf + 8 + hl, (uInt)(n - 8 - hl)));
    assert_string_equal(cJSON_GetObjectItem(meta, "data_crc32")->valuestring, hex);
    /* Tensors: the blocks, in arena order, data section == the arena in little-endian. */
    size_t i = 0;
    for (cJSON *c = root->child; c; c = c->next) {
        if (c == meta) continue;
        const sv_block *b = &m->arena.blocks[i++];
        assert_string_equal(c->string, b->name);
        assert_string_equal(cJSON_GetObjectItem(c, "dtype")->valuestring, "F32");
        cJSON *shape = cJSON_GetObjectItem(c, "shape");
        int vec = b->init != SV_INIT_WEIGHT;
        assert_int_equal(cJSON_GetArraySize(shape), vec ? 1 : 2);
        assert_int_equal((size_t)cJSON_GetArrayItem(shape, 0)->valuedouble, b->rows);
        if (!vec) assert_int_equal((size_t)cJSON_GetArrayItem(shape, 1)->valuedouble, b->cols);
        cJSON *o = cJSON_GetObjectItem(c, "data_offsets");
        assert_int_equal((size_t)cJSON_GetArrayItem(o, 0)->valuedouble, 4 * b->offset);
        assert_int_equal((size_t)cJSON_GetArrayItem(o, 1)->valuedouble,
                         4 * (b->offset + b->rows * b->cols));
    }
    assert_int_equal(i, m->arena.n_blocks);
    assert_int_equal(n - 8 - hl, 4 * m->arena.n_params);
    const unsigned char *d = buf + 8 + hl;
    for (size_t k = 0; k < m->arena.n_params; k++) {
        uint32_t u = (uint32_t)d[4 * k] | (uint32_t)d[4 * k + 1] << 8 |
                     (uint32_t)d[4 * k + 2] << 16 | (uint32_t)d[4 * k + 3] << 24;
        float f;
        memcpy(&f, &u, 4);
        assert_memory_equal(&f, &m->arena.params[k], 4);
    }
    cJSON_Delete(root);
    free(buf);
    seqvid_model_free(m);
}

static void test_save_refuses_nonfinite(void **state) {
    (void)state;
    char path[512];
    path_in(path, sizeof path, "nan.safetensors");
    seqvid_model *m = make_model(tiny, 4);
    assert_int_equal(seqvid_model_save(m, path), SEQVID_OK);
    size_t n0;
    unsigned char *before = read_file(path, &n0);
    m->arena.params[1] = NAN;
    size_t need;
    assert_fails(seqvid_model_save(m, path), SEQVID_ERR_NONFINITE);
    assert_fails(seqvid_model_save_buffer(m, NULL, 0, &need), SEQVID_ERR_NONFINITE);
    size_t n1;
    unsigned char *after = read_file(path, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    free(before);
    free(after);
    seqvid_model_free(m);
}

/* ------------------------------------------------------------------------------------------
 * Hostile files
 * ---------------------------------------------------------------------------------------- */
static const spec small = {SEQVID_AUTOENCODER, 2, 1, 1, 0, 0, SEQVID_OUTPUT_BINARY};

static void test_truncations(void **state) {
    (void)state;
    seqvid_model *m = make_model(small, 5);
    size_t n;
    unsigned char *buf = model_bytes(m, &n);
    for (size_t len = 0; len < n; len++) {
        unsigned char *cut = malloc(len ? len : 1); /* exact size: ASan sees any overread */
        memcpy(cut, buf, len);
        expect_model(cut, len, SEQVID_ERR_FORMAT);
        free(cut);
    }
    /* ... and through files, at a few lengths. */
    char path[512];
    path_in(path, sizeof path, "cut.safetensors");
    size_t lens[] = {0, 7, 8, 9, n / 2, n - 1};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        write_file(path, buf, lens[i]);
        seqvid_model *b = (seqvid_model *)&b;
        assert_fails(seqvid_model_load(path, &b), SEQVID_ERR_FORMAT);
        assert_null(b);
    }
    /* One byte too many is as wrong as one too few. */
    unsigned char *longer = malloc(n + 1);
    memcpy(longer, buf, n);
    longer[n] = 0;
    expect_model(longer, n + 1, SEQVID_ERR_FORMAT);
    free(longer);
    free(buf);
    seqvid_model_free(m);
}

static void test_flipped_bytes(void **state) {
    (void)state;
    seqvid_model *m = make_model(small, 6);
    size_t n;
    unsigned char *buf = model_bytes(m, &n);
    unsigned char *x = malloc(n);
    for (size_t i = 0; i < n; i++) {
        for (int pattern = 0; pattern < 2; pattern++) {
            memcpy(x, buf, n);
            x[i] ^= pattern ? 0xFF : 0x80;
            seqvid_model *b = NULL;
            int st = seqvid_model_load_buffer(x, n, &b);
            if (st == SEQVID_OK) {
                /* Only a free-form note (library_version) may change and still load. */
                assert_models_equal(m, b);
                seqvid_model_free(b);
            } else {
                assert_null(b);
                assert_true(st == SEQVID_ERR_FORMAT || st == SEQVID_ERR_NONFINITE);
            }
        }
    }
    free(x);
    free(buf);
    seqvid_model_free(m);
}

static void test_header_length(void **state) {
    (void)state;
    seqvid_model *m = make_model(small, 7);
    size_t n;
    unsigned char *buf = model_bytes(m, &n);
    uint64_t hl = le64(buf);
    uint64_t bad[] = {0, 1, UINT64_MAX, (uint64_t)1 << 63, ((uint64_t)100 << 20) + 1,
                      n - 8 + 1, hl + 1, hl - 1};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        put_le64(buf, bad[i]);
        expect_model(buf, n, SEQVID_ERR_FORMAT);
    }
    put_le64(buf, hl);
    expect_model(buf, n, SEQVID_OK);
    free(buf);
    seqvid_model_free(m);
}

/* Issue 15: a file of another kind given as a model is named, not reported as a huge header
 * length; a valid model with the same first bytes' rules is still loaded. */
static void test_not_safetensors(void **state) {
    (void)state;
    static const struct {
        const char *bytes;
        size_t len;
        const char *want;
    } cases[] = {
        {"# model settings\nhidden = 256\nlayers = 2\n", 42, "looks like text"},
        {"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10, "gzip"},
        {"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 16, "PNG image"},
        {"\x93NUMPY\x01\x00v\x00{'descr': '<f4'", 26, ".npy"},
        {"PK\x03\x04\x14\x00\x00\x00\x08\x00", 10, "zip archive"},
        {"\x00\x00\x08\x03\x00\x00\x27\x10\x00\x00\x00\x1c", 12, "IDX"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        seqvid_model *m = NULL;
        int st = seqvid_model_load_buffer(cases[i].bytes, cases[i].len, &m);
        assert_int_equal(st, SEQVID_ERR_FORMAT);
        assert_null(m);
        if (!strstr(seqvid_last_error(), "not a safetensors file") ||
            !strstr(seqvid_last_error(), cases[i].want))
            fail_msg("case %zu: %s", i, seqvid_last_error());
    }
    /* The same through a file, and through the checkpoint loader. */
    char path[] = "/tmp/seqvid_sniff_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, cases[0].bytes, cases[0].len), (ssize_t)cases[0].len);
    close(fd);
    seqvid_model *m = NULL;
    assert_int_equal(seqvid_model_load(path, &m), SEQVID_ERR_FORMAT);
    assert_non_null(strstr(seqvid_last_error(), "not a safetensors file: it looks like text"));
    assert_non_null(strstr(seqvid_last_error(), "\"# model \""));
    seqvid_optimizer *o = NULL;
    assert_int_equal(seqvid_checkpoint_load(path, &m, &o, NULL, NULL), SEQVID_ERR_FORMAT);
    assert_non_null(strstr(seqvid_last_error(), "not a safetensors file"));
    unlink(path);
    /* Unknown bytes keep the length message. */
    static const unsigned char odd[12] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x80};
    assert_int_equal(seqvid_model_load_buffer(odd, sizeof odd, &m), SEQVID_ERR_FORMAT);
    assert_null(strstr(seqvid_last_error(), "not a safetensors file"));
}

static void test_bad_json(void **state) {
    (void)state;
    seqvid_model *m = make_model(small, 8);
    size_t n, k;
    unsigned char *buf = model_bytes(m, &n);
    const char *texts[] = {
        "{",
        "{\"a\":}",
        "[]",
        " {}",
        "{}",
        "{} x",
        "{\"__metadata__\":{}}",
        "{\"__metadata__\":{\"format\":\"seqvid\"",
        "\"string\"",
        "{\"__metadata__\":[]}",
        "{\"__metadata__\":{\"format\":\"seqvid\"}} }",
        "{\"__metadata__\":{\"format\":\"seqvid\"}}\n\x01",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        unsigned char *b = with_header(buf, n, texts[i], &k);
        expect_model(b, k, SEQVID_ERR_FORMAT);
        free(b);
    }
    /* Deep nesting (cJSON has a limit, we must not crash either way). */
    char deep[4100];
    memset(deep, '[', sizeof deep - 1);
    deep[0] = '{', deep[1] = '"', deep[2] = 'a', deep[3] = '"', deep[4] = ':';
    deep[sizeof deep - 1] = 0;
    unsigned char *b = with_header(buf, n, deep, &k);
    expect_model(b, k, SEQVID_ERR_FORMAT);
    free(b);
    free(buf);
    seqvid_model_free(m);
}

/* The header must be strict JSON as docs/format.md says, though cJSON alone would accept all
 * of these (issue 14 item 5): each edit of a valid header's text is rejected with
 * SEQVID_ERR_FORMAT; the unedited text loads. */
static char *header_text(const unsigned char *buf) {
    size_t n = (size_t)le64(buf);
    char *t = malloc(n + 1);
    memcpy(t, buf + 8, n);
    t[n] = 0;
    return t;
}

/* text with its first `what` replaced by `with` (which must occur). */
static char *replaced(const char *text, const char *what, const char *with) {
    const char *at = strstr(text, what);
    assert_non_null(at);
    size_t a = (size_t)(at - text), w = strlen(what), n = strlen(with);
    char *out = malloc(strlen(text) - w + n + 1);
    memcpy(out, text, a);
    memcpy(out + a, with, n);
    strcpy(out + a + n, at + w);
    return out;
}

static void expect_text(const unsigned char *buf, size_t size, const char *text, int want) {
    size_t k;
    unsigned char *b = with_header(buf, size, text, &k);
    if (verbose) print_message("%s\n", text);
    expect_model(b, k, want);
    free(b);
}

static void test_strict_json(void **state) {
    (void)state;
    seqvid_model *m = make_model(small, 8);
    size_t n;
    unsigned char *buf = model_bytes(m, &n);
    char *text = header_text(buf);
    expect_text(buf, n, text, SEQVID_OK);
    /* in strings: raw invalid UTF-8 (a stray continuation byte, a lone lead byte, overlong
     * '/', an encoded surrogate, past U+10FFFF, cut short) and raw control bytes */
    const char *bad_notes[] = {
        "\"note\":\"\x80\",", "\"note\":\"\xff\",", "\"note\":\"\xc0\xaf\",",
        "\"note\":\"\xed\xa0\x80\",", "\"note\":\"\xf4\x90\x80\x80\",", "\"note\":\"\xe2\x82\",",
        "\"note\":\"a\x01z\",", "\"note\":\"tab\tin\",", "\"note\":\"\x1f\",",
        "\"no\x7f\x80te\":\"x\",", "\"note\":\"\\ud800\",", "\"note\":\"\\udc00\\ud800\",",
        "\"note\":\"\\x\",",
    };
    for (size_t i = 0; i < sizeof bad_notes / sizeof *bad_notes; i++) {
        char with[64];
        snprintf(with, sizeof with, "\"__metadata__\":{%s", bad_notes[i]);
        char *t = replaced(text, "\"__metadata__\":{", with);
        expect_text(buf, n, t, SEQVID_ERR_FORMAT);
        free(t);
    }
    /* ... while valid UTF-8 and escapes are fine (free-form notes are allowed) */
    char *t = replaced(text, "\"__metadata__\":{",
                       "\"__metadata__\":{\"n\xc3\xb6te\":\"\xe2\x82\xac \xf0\x9f\x98\x80 "
                       "\\u00e9\\ud83d\\ude00\\n\\\"\\/\",");
    expect_text(buf, n, t, SEQVID_OK);
    free(t);
    /* numbers: shapes and data_offsets are plain non-negative integers */
    const char *shape = strstr(text, "\"shape\":[");
    const char *offs = strstr(text, "\"data_offsets\":[");
    assert_non_null(shape);
    assert_non_null(offs);
    size_t r, c, b0, b1;
    assert_int_equal(sscanf(shape, "\"shape\":[%zu,%zu]", &r, &c), 2);
    assert_int_equal(sscanf(offs, "\"data_offsets\":[%zu,%zu]", &b0, &b1), 2);
    assert_int_equal(b0, 0);
    char was[64], now[64];
    snprintf(was, sizeof was, "\"shape\":[%zu,%zu]", r, c);
    const char *shape_forms[] = {"[0%zu,%zu]", "[%zu.0,%zu.0]", "[%zue0,%zu]", "[%zu,%zu.00]",
                                 "[-0,%zu]", "[%zu, %zu.5]"};
    for (size_t i = 0; i < sizeof shape_forms / sizeof *shape_forms; i++) {
        char form[64];
        snprintf(form, sizeof form, "\"shape\":%s", shape_forms[i]);
        if (!strncmp(shape_forms[i], "[-0", 3)) snprintf(now, sizeof now, form, c);
        else snprintf(now, sizeof now, form, r, c);
        t = replaced(text, was, now);
        expect_text(buf, n, t, SEQVID_ERR_FORMAT);
        free(t);
    }
    snprintf(was, sizeof was, "\"data_offsets\":[0,%zu]", b1);
    char mant[32];
    snprintf(mant, sizeof mant, "%zu", b1); /* b1 = d.ddd e(k-1), as in [0,1.92e2] */
    size_t k = strlen(mant);
    char sci[48];
    snprintf(sci, sizeof sci, "%c%s%se%zu", mant[0], k > 1 ? "." : "", mant + 1, k - 1);
    const char *offs_now[4];
    char f0[96], f1[96], f2[96], f3[96];
    snprintf(f0, sizeof f0, "\"data_offsets\":[0.0,%zu.0]", b1);
    snprintf(f1, sizeof f1, "\"data_offsets\":[0,%s]", sci);
    snprintf(f2, sizeof f2, "\"data_offsets\":[00,%zu]", b1);
    snprintf(f3, sizeof f3, "\"data_offsets\":[0,0%zu]", b1);
    offs_now[0] = f0, offs_now[1] = f1, offs_now[2] = f2, offs_now[3] = f3;
    for (int i = 0; i < 4; i++) {
        t = replaced(text, was, offs_now[i]);
        expect_text(buf, n, t, SEQVID_ERR_FORMAT);
        free(t);
    }
    /* other RFC 8259 violations cJSON lets through or that its limits would hide */
    const char *bad_tail[] = {"\"x\":[1,]", "\"x\":{\"a\":1,}", "\"x\":tru", "\"x\":[1 2]",
                              "\"x\":123456789012345678901"};
    for (size_t i = 0; i < sizeof bad_tail / sizeof *bad_tail; i++) {
        char with[96];
        snprintf(with, sizeof with, "\"__metadata__\":{\"note\":\"1\"},%s,\"_m\":{", bad_tail[i]);
        t = replaced(text, "\"__metadata__\":{", with);
        expect_text(buf, n, t, SEQVID_ERR_FORMAT);
        free(t);
    }
    free(text);
    free(buf);
    seqvid_model_free(m);
}

/* Integer configuration values are plain decimals (issue 14: "03", "3e0" and "4.0" loaded). */
static void test_config_integers(void **state) {
    (void)state;
    seqvid_model *m = make_model(small, 8);
    size_t n;
    unsigned char *buf = model_bytes(m, &n);
    char h[16];
    snprintf(h, sizeof h, "%d", small.H);
    struct {
        const char *key;
        char val[24];
        int want;
    } cases[] = {
        {"config.HIDDEN", "", SEQVID_OK}, {"config.HIDDEN", "0", SEQVID_ERR_FORMAT},
        {"config.HIDDEN", "e0", SEQVID_ERR_FORMAT}, {"config.HIDDEN", ".0", SEQVID_ERR_FORMAT},
        {"config.HIDDEN", "+", SEQVID_ERR_FORMAT}, {"config.HIDDEN", " ", SEQVID_ERR_FORMAT},
        {"config.LAYERS", "01", SEQVID_ERR_FORMAT}, {"config.LAYERS", "1e0", SEQVID_ERR_FORMAT},
        {"config.LAYERS", "1.0", SEQVID_ERR_FORMAT}, {"config.SEED", "-0", SEQVID_ERR_FORMAT},
        {"config.KIND", "0x2", SEQVID_ERR_FORMAT},
        {"config.INIT_WEIGHT", "00.3", SEQVID_ERR_FORMAT},
        {"config.INIT_WEIGHT", "3e-1", SEQVID_OK}, {"config.FORGET_BIAS", "-0.5", SEQVID_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char v[48];
        if (!strcmp(cases[i].key, "config.HIDDEN")) {
            /* value = prefix + H + suffix: "" -> H, "0" -> 0H, "e0" -> He0, ... */
            if (!strcmp(cases[i].val, "0") || !strcmp(cases[i].val, "+") ||
                !strcmp(cases[i].val, " "))
                snprintf(v, sizeof v, "%s%s", cases[i].val, h);
            else
                snprintf(v, sizeof v, "%s%s", h, cases[i].val);
        } else {
            snprintf(v, sizeof v, "%s", cases[i].val);
        }
        decoded *d = decode(buf, n);
        set_meta(d, cases[i].key, v);
        if (verbose) print_message("%s = '%s'\n", cases[i].key, v);
        expect_encoded(d, 1, cases[i].want);
        decoded_free(d);
    }
    free(buf);
    seqvid_model_free(m);
}

static void test_bad_tensors(void **state) {
    (void)state;
    seqvid_model *m = make_model(tiny, 9);
    size_t n;
    unsigned char *buf = model_bytes(m, &n);
    const char *w = "encoder.0.w_x";
    decoded *d;

#define FRESH() (d = decode(buf, n))
    /* Sanity: decoding and re-encoding is lossless. */
    FRESH();
    expect_encoded(d, 0, SEQVID_OK);
    decoded_free(d);

    /* dtype */
    const char *dtypes[] = {"F16", "BF16", "F64", "I32", "U8", "f32", ""};
    for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++) {
        FRESH();
        entry *e = find_entry(d, w);
        snprintf(e->dtype, sizeof e->dtype, "%s", dtypes[i]);
        expect_encoded(d, 1, SEQVID_ERR_FORMAT);
        decoded_free(d);
    }
    /* shapes that disagree with the configuration, with consistent byte counts */
    const sv_block *wb = NULL;
    for (size_t i = 0; i < m->arena.n_blocks; i++)
        if (!strcmp(m->arena.blocks[i].name, w)) wb = &m->arena.blocks[i];
    assert_non_null(wb);
    size_t r = wb->rows, c = wb->cols;
    char shapes[11][64];
    size_t elems[11];
    int ns = 0;
#define SHAPE(n, ...) (snprintf(shapes[ns], 64, __VA_ARGS__), elems[ns++] = (n))
    SHAPE(r * (c + 1), "[%zu, %zu]", r, c + 1);
    SHAPE(r * c, "[%zu]", r * c);
    SHAPE(r * c, "[%zu, %zu]", c, r); /* transposed */
    SHAPE(r * c, "[%zu, %zu, 1]", r, c);
    SHAPE(1, "[]");
    SHAPE(r * c, "[%zu, -%zu]", r, c);
    SHAPE(r * c, "[%zu, %zu.5]", r, c);
    SHAPE(r * c, "[%zu, \"%zu\"]", r, c);
    SHAPE(r * c, "[%zu, 1e300]", r);
    SHAPE(r * c, "{}");
    SHAPE(r * c, "7");
#undef SHAPE
    for (int i = 0; i < ns; i++) {
        FRESH();
        entry *e = find_entry(d, w);
        cJSON_Delete(e->shape);
        e->shape = cJSON_Parse(shapes[i]);
        assert_non_null(e->shape);
        e->bytes = realloc(e->bytes, 4 * elems[i]);
        memset(e->bytes, 0, 4 * elems[i]);
        e->n = 4 * elems[i];
        expect_encoded(d, 1, SEQVID_ERR_FORMAT);
        decoded_free(d);
    }
    /* a vector stored as [n, 1] is not accepted either */
    FRESH();
    entry *bias = find_entry(d, "encoder.0.bias");
    cJSON_AddItemToArray(bias->shape, cJSON_CreateNumber(1));
    expect_encoded(d, 1, SEQVID_ERR_FORMAT);
    decoded_free(d);

    /* missing, unknown and misplaced tensors */
    FRESH();
    remove_entry(d, "future.readout.b");
    expect_encoded(d, 1, SEQVID_ERR_FORMAT);
    decoded_free(d);
    const char *extra[] = {"encoder.1.w_x", "optimizer.s1", "data.rng_state", "x", ""};
    for (size_t i = 0; i < sizeof extra / sizeof *extra; i++) {
        FRESH();
        entry *e = &d->e[d->n++];
        snprintf(e->name, sizeof e->name, "%s", extra[i]);
        snprintf(e->dtype, sizeof e->dtype, "F32");
        e->shape = cJSON_Parse("[2]");
        e->bytes = calloc(1, 8);
        e->n = 8;
        expect_encoded(d, 1, SEQVID_ERR_FORMAT);
        decoded_free(d);
    }
    /* a long name */
    FRESH();
    memset(d->e[0].name, 'a', 79);
    d->e[0].name[79] = 0;
    expect_encoded(d, 1, SEQVID_ERR_FORMAT);
    decoded_free(d);

    /* checksum */
    FRESH();
    find_entry(d, w)->bytes[5] ^= 1;
    expect_encoded(d, 0, SEQVID_ERR_FORMAT);
    expect_encoded(d, 1, SEQVID_OK); /* the same change with a fixed checksum loads */
    set_meta(d, "data_crc32", "ABCDEF01");
    expect_encoded(d, 0, SEQVID_ERR_FORMAT);
    set_meta(d, "data_crc32", "1234567");
    expect_encoded(d, 0, SEQVID_ERR_FORMAT);
    set_meta(d, "data_crc32", NULL);
    expect_encoded(d, 0, SEQVID_ERR_FORMAT);
    decoded_free(d);

    /* NaN and Inf weights, with a checksum that matches them */
    const uint32_t bits[] = {0x7fc00000u, 0xffc00001u, 0x7f800000u, 0xff800000u};
    for (size_t i = 0; i < 4; i++) {
        FRESH();
        entry *e = find_entry(d, "recon.readout.w");
        for (int k = 0; k < 4; k++) e->bytes[4 + k] = (unsigned char)(bits[i] >> (8 * k));
        expect_encoded(d, 1, SEQVID_ERR_NONFINITE);
        decoded_free(d);
    }
#undef FRESH
    free(buf);
    seqvid_model_free(m);
}

static void test_bad_offsets(void **state) {
    (void)state;
    seqvid_model *m = make_model(tiny, 10);
    size_t n;
    unsigned char *buf = model_bytes(m, &n);
    size_t data_n = n - 8 - (size_t)le64(buf);
    struct {
        int tensor; /* index among tensors (0 = first after metadata) */
        const char *offsets;
    } cases[] = {
        {0, "[0]"},           {0, "[0, 96, 96]"},   {0, "[-4, 92]"},  {0, "[0.5, 96.5]"},
        {0, "[\"0\", 96]"},   {0, "[96, 0]"},       {0, "[4, 100]"},  {0, "{}"},
        {0, "[0, 1e300]"},    {0, "[1e300, 1e300]"},
        {1, "[92, 156]"},  /* overlaps tensor 0 (encoder.0.w_x, bytes [0, 96)) */
        {1, "[100, 164]"}, /* leaves a gap */
        {0, "[18446744073709551616, 18446744073709551712]"},
    };
    cJSON *orig = header_of(buf);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cJSON *root = cJSON_Duplicate(orig, 1);
        cJSON *t = root->child->next;
        for (int k = 0; k < cases[i].tensor; k++) t = t->next;
        cJSON_ReplaceItemInObject(t, "data_offsets", cJSON_Parse(cases[i].offsets));
        expect_json(buf, n, root, SEQVID_ERR_FORMAT);
        cJSON_Delete(root);
    }
    /* Past the end of the data section; a last tensor that stops short. */
    {
        cJSON *root = cJSON_Duplicate(orig, 1);
        cJSON *last = root->child;
        while (last->next) last = last->next;
        cJSON *o = cJSON_GetObjectItem(last, "data_offsets");
        double b = cJSON_GetArrayItem(o, 0)->valuedouble;
        double e = cJSON_GetArrayItem(o, 1)->valuedouble;
        assert_int_equal((size_t)e, data_n);
        char txt[64];
        snprintf(txt, sizeof txt, "[%.0f, %.0f]", b + 4, e + 4);
        cJSON_ReplaceItemInObject(last, "data_offsets", cJSON_Parse(txt));
        expect_json(buf, n, root, SEQVID_ERR_FORMAT);
        cJSON_Delete(root);
    }
    /* Two tensors swapped in the data section (same sizes): valid layout, loads, and the
     * values land in the right blocks (the checksum covers the bytes, not their order). */
    {
        cJSON *root = cJSON_Duplicate(orig, 1);
        cJSON *a = cJSON_GetObjectItem(root, "recon.0.bias");
        cJSON *b = cJSON_GetObjectItem(root, "future.0.bias");
        cJSON *oa = cJSON_Duplicate(cJSON_GetObjectItem(a, "data_offsets"), 1);
        cJSON *ob = cJSON_Duplicate(cJSON_GetObjectItem(b, "data_offsets"), 1);
        cJSON_ReplaceItemInObject(a, "data_offsets", ob);
        cJSON_ReplaceItemInObject(b, "data_offsets", oa);
        char *json = cJSON_PrintUnformatted(root);
        size_t k;
        unsigned char *f = with_header(buf, n, json, &k);
        seqvid_model *x = NULL;
        assert_int_equal(seqvid_model_load_buffer(f, k, &x), SEQVID_OK);
        size_t ra = 0, rb = 0;
        for (size_t j = 0; j < m->arena.n_blocks; j++) {
            if (!strcmp(m->arena.blocks[j].name, "recon.0.bias")) ra = m->arena.blocks[j].offset;
            if (!strcmp(m->arena.blocks[j].name, "future.0.bias")) rb = m->arena.blocks[j].offset;
        }
        assert_memory_equal(x->arena.params + ra, m->arena.params + rb, 8 * sizeof(float));
        assert_memory_equal(x->arena.params + rb, m->arena.params + ra, 8 * sizeof(float));
        seqvid_model_free(x);
        free(f);
        free(json);
        cJSON_Delete(root);
    }
    cJSON_Delete(orig);
    free(buf);
    seqvid_model_free(m);
}

static void test_duplicates(void **state) {
    (void)state;
    seqvid_model *m = make_model(tiny, 11);
    size_t n;
    unsigned char *buf = model_bytes(m, &n);
    cJSON *orig = header_of(buf);
    /* a tensor twice (same bytes: overlapping too, but the name is caught first) */
    cJSON *root = cJSON_Duplicate(orig, 1);
    cJSON_AddItemToObject(root, "encoder.0.w_h", cJSON_Duplicate(cJSON_GetObjectItem(root,
                                                 "encoder.0.w_h"), 1));
    expect_json(buf, n, root, SEQVID_ERR_FORMAT);
    cJSON_Delete(root);
    /* __metadata__ twice */
    root = cJSON_Duplicate(orig, 1);
    cJSON_AddItemToObject(root, "__metadata__",
                          cJSON_Duplicate(cJSON_GetObjectItem(root, "__metadata__"), 1));
    expect_json(buf, n, root, SEQVID_ERR_FORMAT);
    cJSON_Delete(root);
    /* a metadata key twice, with different values */
    root = cJSON_Duplicate(orig, 1);
    cJSON_AddStringToObject(cJSON_GetObjectItem(root, "__metadata__"), "config.HIDDEN", "3");
    expect_json(buf, n, root, SEQVID_ERR_FORMAT);
    cJSON_Delete(root);
    /* a field twice inside a tensor; an unknown field */
    root = cJSON_Duplicate(orig, 1);
    cJSON_AddStringToObject(cJSON_GetObjectItem(root, "encoder.0.bias"), "dtype", "F32");
    expect_json(buf, n, root, SEQVID_ERR_FORMAT);
    cJSON_Delete(root);
    root = cJSON_Duplicate(orig, 1);
    cJSON_AddStringToObject(cJSON_GetObjectItem(root, "encoder.0.bias"), "stride", "1");
    expect_json(buf, n, root, SEQVID_ERR_FORMAT);
    cJSON_Delete(root);
    /* a tensor lacking a field; a tensor that is not an object */
    root = cJSON_Duplicate(orig, 1);
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(root, "encoder.0.bias"), "shape");
    expect_json(buf, n, root, SEQVID_ERR_FORMAT);
    cJSON_Delete(root);
    root = cJSON_Duplicate(orig, 1);
    cJSON_ReplaceItemInObject(root, "encoder.0.bias", cJSON_CreateNumber(1));
    expect_json(buf, n, root, SEQVID_ERR_FORMAT);
    cJSON_Delete(root);
    cJSON_Delete(orig);
    free(buf);
    seqvid_model_free(m);
}

static void test_bad_metadata(void **state) {
    (void)state;
    seqvid_model *m = make_model(tiny, 12);
    size_t n;
    unsigned char *buf = model_bytes(m, &n);
    struct {
        const char *key, *val; /* val NULL: delete the key */
    } cases[] = {
        {"format", NULL},           {"format", "pt"},          {"format_version", "2"},
        {"format_version", NULL},   {"type", "optimizer"},     {"type", NULL},
        {"config.HIDDEN", NULL},    {"config.HIDDEN", "abc"},  {"config.HIDDEN", "1e999"},
        {"config.HIDDEN", "0x2"},   {"config.HIDDEN", " 2"},   {"config.HIDDEN", "2.5"},
        {"config.HIDDEN", "0"},     {"config.HIDDEN", ""},     {"config.HIDDEN", "nan"},
        {"config.HIDDEN", "inf"},   {"config.HIDDEN", "+2"},   {"config.HIDDEN", "2."},
        {"config.KIND", "4"},       {"config.PEEPHOLES", "0"}, {"config.KIND", "1"},
        {"config.INPUT_DIM", "4"},  {"config.LAYERS", "2"},    {"config.COND_RECON", "0"},
        {"config.FOO", "1"},        {"config.", "1"},          {"optimizer.kind", "SGD"},
        {"train.step", "1"},        {"data_crc32", "0"},
        /* plausible-looking configurations far larger than the file: rejected before any
         * allocation (the test would be slow or run out of memory otherwise) */
        {"config.HIDDEN", "20000"}, {"config.INPUT_DIM", "16777216"},
        {"config.LAYERS", "16"},
    };
    cJSON *orig = header_of(buf);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cJSON *root = cJSON_Duplicate(orig, 1);
        cJSON *meta = cJSON_GetObjectItem(root, "__metadata__");
        cJSON_DeleteItemFromObject(meta, cases[i].key);
        if (cases[i].val) cJSON_AddStringToObject(meta, cases[i].key, cases[i].val);
        expect_json(buf, n, root, SEQVID_ERR_FORMAT);
        cJSON_Delete(root);
    }
    /* non-string values; no metadata at all; metadata not an object */
    cJSON *root = cJSON_Duplicate(orig, 1);
    cJSON *meta = cJSON_GetObjectItem(root, "__metadata__");
    cJSON_ReplaceItemInObject(meta, "config.HIDDEN", cJSON_CreateNumber(2));
    expect_json(buf, n, root, SEQVID_ERR_FORMAT);
    cJSON_Delete(root);
    root = cJSON_Duplicate(orig, 1);
    cJSON_DeleteItemFromObject(root, "__metadata__");
    expect_json(buf, n, root, SEQVID_ERR_FORMAT);
    cJSON_Delete(root);
    /* free-form notes are ignored */
    root = cJSON_Duplicate(orig, 1);
    cJSON_AddStringToObject(cJSON_GetObjectItem(root, "__metadata__"), "note", "hello");
    expect_json(buf, n, root, SEQVID_OK);
    cJSON_Delete(root);
    /* a safetensors file from elsewhere, tensors in another order: its weights load */
    decoded *d = decode(buf, n);
    for (size_t i = 0; i < d->n / 2; i++) {
        entry t = d->e[i];
        d->e[i] = d->e[d->n - 1 - i];
        d->e[d->n - 1 - i] = t;
    }
    size_t k;
    unsigned char *rev = encode(d, 1, &k);
    seqvid_model *x = NULL;
    assert_int_equal(seqvid_model_load_buffer(rev, k, &x), SEQVID_OK);
    assert_models_equal(m, x);
    seqvid_model_free(x);
    free(rev);
    decoded_free(d);
    cJSON_Delete(orig);
    free(buf);
    seqvid_model_free(m);
}

/* ------------------------------------------------------------------------------------------
 * Checkpoints
 * ---------------------------------------------------------------------------------------- */
static const spec ck = {SEQVID_COMPOSITE, 64, 6, 1, 1, 1, SEQVID_OUTPUT_BINARY};
#define CK_T 5 /* K + M */
#define CK_S 2

static seqvid_optimizer *make_opt(int kind) {
    seqvid_optimizer *o = NULL;
    assert_int_equal(seqvid_optimizer_create(kind, &o), SEQVID_OK);
    /* Settings that make every step count (SGD's default update clip of 1e-4 is tiny). */
    assert_int_equal(seqvid_optimizer_set(o, SEQVID_OPT_LR, kind == SEQVID_OPT_SGD ? 0.05 : 3e-3),
                     SEQVID_OK);
    assert_int_equal(seqvid_optimizer_set(o, SEQVID_OPT_UPDATE_CLIP, 0.01), SEQVID_OK);
    assert_int_equal(seqvid_optimizer_set(o, SEQVID_OPT_GRAD_CLIP, 5.0), SEQVID_OK);
    return o;
}

static void train(seqvid_model *m, seqvid_optimizer *o, seqvid_mmnist *g, seqvid_batch *b,
                  int steps) {
    for (int i = 0; i < steps; i++) {
        assert_int_equal(seqvid_mmnist_fill(g, b, NULL, 0), SEQVID_OK);
        float r, f;
        int st = seqvid_model_train_step(m, o, b, &r, &f);
        if (st) fail_msg("train step: %s", seqvid_last_error());
    }
}

static void assert_opts_equal(const seqvid_optimizer *a, const seqvid_optimizer *b) {
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->steps, b->steps);
    assert_int_equal(a->n, b->n);
    for (int k = 1; k < SV_OPT_NKEYS; k++) {
        if (isnan(a->v[k])) {
            assert_true(isnan(b->v[k]));
            continue;
        }
        assert_memory_equal(&a->v[k], &b->v[k], sizeof(double));
    }
    if (a->n) assert_memory_equal(a->s1, b->s1, a->n * sizeof(float));
    if (a->s2) assert_memory_equal(a->s2, b->s2, a->n * sizeof(float));
}

/* Train N, save, load, train N == train 2N, bitwise, for every optimizer; the generator
 * state travels in the checkpoint. */
static void test_checkpoint_exact(void **state) {
    (void)state;
    enum { N = 3 };
    seqvid_digits *digits = tiny_digits();
    seqvid_batch *batch = NULL;
    assert_int_equal(seqvid_batch_create(CK_T, CK_S, 64, &batch), SEQVID_OK);
    char path[512];
    path_in(path, sizeof path, "ck.safetensors");
    for (int kind = SEQVID_OPT_SGD; kind <= SEQVID_OPT_ADAM; kind++) {
        /* the reference: 2N steps in one go */
        seqvid_model *ref = make_model(ck, 21);
        seqvid_optimizer *ro = make_opt(kind);
        seqvid_mmnist *rg = make_gen(digits, 5);
        train(ref, ro, rg, batch, 2 * N);

        /* N steps, checkpoint, forget everything */
        seqvid_model *m = make_model(ck, 21);
        seqvid_optimizer *o = make_opt(kind);
        seqvid_mmnist *g = make_gen(digits, 5);
        train(m, o, g, batch, N);
        assert_int_equal(seqvid_checkpoint_save(path, m, o, g, 1000 + N), SEQVID_OK);
        size_t bn;
        unsigned char *bb = ckpt_bytes(m, o, g, 1000 + N, &bn);
        seqvid_model_free(m);
        seqvid_optimizer_free(o);
        seqvid_mmnist_free(g);

        /* resume from the file, with a generator seeded differently (the state overrides) */
        for (int from_buffer = 0; from_buffer <= 1; from_buffer++) {
            seqvid_mmnist *g2 = make_gen(digits, 999);
            seqvid_model *m2 = NULL;
            seqvid_optimizer *o2 = NULL;
            uint64_t step = 0;
            int st = from_buffer ? sv_checkpoint_load_buffer(bb, bn, &m2, &o2, g2, &step)
                                 : seqvid_checkpoint_load(path, &m2, &o2, g2, &step);
            if (st) fail_msg("%s", seqvid_last_error());
            assert_int_equal(step, 1000 + N);
            train(m2, o2, g2, batch, N);
            assert_memory_equal(m2->arena.params, ref->arena.params, ref->arena.n_params * sizeof(float));
            assert_opts_equal(o2, ro);
            seqvid_model_free(m2);
            seqvid_optimizer_free(o2);
            seqvid_mmnist_free(g2);
        }
        free(bb);
        seqvid_model_free(ref);
        seqvid_optimizer_free(ro);
        seqvid_mmnist_free(rg);
    }
    seqvid_batch_free(batch);
    seqvid_digits_free(digits);
}

/* Scheduled sampling (experimental): train N steps with a p schedule, checkpoint, resume,
 * train N more == 2N in one go, bitwise: the checkpoint holds p and where the coin stream
 * stands (restarting the stream instead gives other weights). Without sampling the
 * checkpoint holds no train.SAMPLE_* / train.sample_state entries, and model files never do. */
static void train_sampled(seqvid_model *m, seqvid_optimizer *o, seqvid_mmnist *g,
                          seqvid_batch *b, int from, int steps) {
    for (int i = from; i < from + steps; i++) {
        assert_int_equal(seqvid_model_set(m, SEQVID_CFG_SAMPLE_FUTURE, 0.1 * i), SEQVID_OK);
        train(m, o, g, b, 1);
    }
}

static void expect_ckpt_json(const unsigned char *buf, size_t size, cJSON *root, int want) {
    char *json = cJSON_PrintUnformatted(root);
    size_t n;
    unsigned char *b = with_header(buf, size, json, &n);
    expect_ckpt(b, n, NULL, want);
    free(b);
    free(json);
}

static void test_checkpoint_sampling(void **state) {
    (void)state;
    enum { N = 3 };
    seqvid_digits *digits = tiny_digits();
    seqvid_batch *batch = NULL;
    assert_int_equal(seqvid_batch_create(CK_T, CK_S, 64, &batch), SEQVID_OK);

    seqvid_model *ref = make_model(ck, 21);
    seqvid_optimizer *ro = make_opt(SEQVID_OPT_ADAM);
    seqvid_mmnist *rg = make_gen(digits, 5);
    assert_int_equal(seqvid_model_set(ref, SEQVID_CFG_SAMPLE_RECON, 0.375), SEQVID_OK);
    train_sampled(ref, ro, rg, batch, 0, 2 * N);

    seqvid_model *m = make_model(ck, 21);
    seqvid_optimizer *o = make_opt(SEQVID_OPT_ADAM);
    seqvid_mmnist *g = make_gen(digits, 5);
    size_t n0;
    unsigned char *plain = ckpt_bytes(m, o, g, 0, &n0); /* before any sampling */
    assert_int_equal(seqvid_model_set(m, SEQVID_CFG_SAMPLE_RECON, 0.375), SEQVID_OK);
    size_t n1;
    unsigned char *unmoved = ckpt_bytes(m, o, g, 0, &n1); /* p set, the stream not moved */
    train_sampled(m, o, g, batch, 0, N);
    size_t bn;
    unsigned char *bb = ckpt_bytes(m, o, g, N, &bn);
    for (int restart = 0; restart <= 1; restart++) {
        seqvid_mmnist *g2 = make_gen(digits, 999);
        seqvid_model *m2 = NULL;
        seqvid_optimizer *o2 = NULL;
        if (sv_checkpoint_load_buffer(bb, bn, &m2, &o2, g2, NULL))
            fail_msg("%s", seqvid_last_error());
        double p;
        assert_int_equal(seqvid_model_get(m2, SEQVID_CFG_SAMPLE_RECON, &p), SEQVID_OK);
        assert_true(p == 0.375);
        assert_int_equal(seqvid_model_get(m2, SEQVID_CFG_SAMPLE_FUTURE, &p), SEQVID_OK);
        assert_true(p == 0.1 * (N - 1));
        assert_memory_equal(m2->sample_rng.s, m->sample_rng.s, sizeof m->sample_rng.s);
        if (restart) sv_model_seed_sampling(m2);
        train_sampled(m2, o2, g2, batch, N, N);
        int same = !memcmp(m2->arena.params, ref->arena.params,
                           ref->arena.n_params * sizeof(float));
        assert_int_equal(same, !restart);
        seqvid_model_free(m2);
        seqvid_optimizer_free(o2);
        seqvid_mmnist_free(g2);
    }

    /* The entries: present only where they differ from their defaults. */
    cJSON *h0 = header_of(plain), *h1 = header_of(unmoved), *h = header_of(bb);
    cJSON *m0 = cJSON_GetObjectItem(h0, "__metadata__"), *m1 = cJSON_GetObjectItem(h1, "__metadata__");
    cJSON *meta = cJSON_GetObjectItem(h, "__metadata__");
    for (const char **k = (const char *[]){"train.SAMPLE_RECON", "train.SAMPLE_FUTURE",
                                           "train.sample_state", NULL}; *k; k++)
        assert_null(cJSON_GetObjectItem(m0, *k));
    assert_string_equal(cJSON_GetObjectItem(m1, "train.SAMPLE_RECON")->valuestring, "0.375");
    assert_null(cJSON_GetObjectItem(m1, "train.SAMPLE_FUTURE"));
    assert_null(cJSON_GetObjectItem(m1, "train.sample_state"));
    assert_non_null(cJSON_GetObjectItem(meta, "train.SAMPLE_FUTURE"));
    assert_int_equal(strlen(cJSON_GetObjectItem(meta, "train.sample_state")->valuestring), 64);
    /* A model file holds none of it; loading a checkpoint as a model gives p = 0. */
    size_t mn;
    unsigned char *mb = model_bytes(m, &mn);
    cJSON *mh = header_of(mb);
    for (cJSON *c = cJSON_GetObjectItem(mh, "__metadata__")->child; c; c = c->next)
        assert_false(!strncmp(c->string, "train.", 6));
    seqvid_model *x = NULL;
    assert_int_equal(seqvid_model_load_buffer(bb, bn, &x), SEQVID_OK);
    double p = -1;
    assert_int_equal(seqvid_model_get(x, SEQVID_CFG_SAMPLE_RECON, &p), SEQVID_OK);
    assert_true(p == 0 && sv_model_sampling_at_start(x));
    seqvid_model_free(x);

    /* Hostile values. */
    struct {
        const char *key, *val;
    } bad[] = {
        {"train.SAMPLE_FUTURE", "1.5"},   {"train.SAMPLE_FUTURE", "-0.1"},
        {"train.SAMPLE_FUTURE", "nan"},   {"train.SAMPLE_RECON", "abc"},
        {"train.SAMPLE_RECON", ""},       {"train.SAMPLE_OTHER", "0.5"},
        {"train.sample_state", "0000000000000000000000000000000000000000000000000000000000000000"},
        {"train.sample_state", "12"},     {"train.sample_state", "xyz"},
        {"train.sample_state", "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cJSON *root = cJSON_Duplicate(h, 1);
        cJSON *mt = cJSON_GetObjectItem(root, "__metadata__");
        cJSON_DeleteItemFromObject(mt, bad[i].key);
        cJSON_AddStringToObject(mt, bad[i].key, bad[i].val);
        expect_ckpt_json(bb, bn, root, SEQVID_ERR_FORMAT);
        cJSON_Delete(root);
    }
    /* p > 0 for an unconditioned decoder; the entries in a model file */
    spec unc = ck;
    unc.cond = 0;
    seqvid_model *u = make_model(unc, 21);
    seqvid_optimizer *uo = make_opt(SEQVID_OPT_ADAM);
    size_t un;
    unsigned char *ub = ckpt_bytes(u, uo, NULL, 0, &un);
    cJSON *uh = header_of(ub);
    cJSON_AddStringToObject(cJSON_GetObjectItem(uh, "__metadata__"), "train.SAMPLE_FUTURE", "0.5");
    expect_ckpt_json(ub, un, uh, SEQVID_ERR_FORMAT);
    cJSON_Delete(uh);
    cJSON_AddStringToObject(cJSON_GetObjectItem(mh, "__metadata__"), "train.SAMPLE_FUTURE", "0.5");
    expect_json(mb, mn, mh, SEQVID_ERR_FORMAT);
    /* the checkpoint as written loads */
    expect_ckpt_json(bb, bn, h, SEQVID_OK);

    free(ub);
    seqvid_model_free(u);
    seqvid_optimizer_free(uo);
    cJSON_Delete(mh);
    free(mb);
    cJSON_Delete(h0), cJSON_Delete(h1), cJSON_Delete(h);
    free(plain), free(unmoved), free(bb);
    seqvid_model_free(m), seqvid_optimizer_free(o), seqvid_mmnist_free(g);
    seqvid_model_free(ref), seqvid_optimizer_free(ro), seqvid_mmnist_free(rg);
    seqvid_batch_free(batch);
    seqvid_digits_free(digits);
}

static void test_checkpoint_contents(void **state) {
    (void)state;
    seqvid_model *m = make_model(tiny, 31);
    seqvid_optimizer *o = NULL;
    assert_int_equal(seqvid_optimizer_create(SEQVID_OPT_ADAM, &o), SEQVID_OK);
    assert_int_equal(seqvid_optimizer_set(o, SEQVID_OPT_LR, 1.0 / 3e3), SEQVID_OK);
    assert_int_equal(seqvid_optimizer_set(o, SEQVID_OPT_BETA2, 0.99912345678901234), SEQVID_OK);

    /* Unbound optimizer (no step taken yet): no state tensors, loads unbound. */
    size_t n;
    uint64_t big = ((uint64_t)1 << 63) + 5, step = 0;
    unsigned char *b = ckpt_bytes(m, o, NULL, big, &n);
    seqvid_model *m2 = NULL;
    seqvid_optimizer *o2 = NULL;
    assert_int_equal(sv_checkpoint_load_buffer(b, n, &m2, &o2, NULL, &step), SEQVID_OK);
    assert_int_equal(step, big);
    assert_models_equal(m, m2);
    assert_opts_equal(o, o2);
    assert_int_equal(o2->n, 0);
    seqvid_model_free(m2);
    seqvid_optimizer_free(o2);
    /* A generator was asked for but none was saved. */
    seqvid_digits *digits = tiny_digits();
    seqvid_mmnist *g = make_gen(digits, 3);
    expect_ckpt(b, n, g, SEQVID_ERR_FORMAT);
    free(b);

    /* Bound, with some state, and a generator. */
    assert_int_equal(sv_optimizer_bind(o, m->arena.n_params), SEQVID_OK);
    for (size_t i = 0; i < m->arena.n_params; i++) o->s1[i] = (float)i * 0.25f - 3, o->s2[i] = (float)i;
    o->steps = 17;
    b = ckpt_bytes(m, o, g, 42, &n);
    seqvid_mmnist *g2 = make_gen(digits, 8);
    assert_int_equal(sv_checkpoint_load_buffer(b, n, &m2, &o2, g2, &step), SEQVID_OK);
    assert_int_equal(step, 42);
    assert_models_equal(m, m2);
    assert_opts_equal(o, o2);
    unsigned char s1[128], s2[128];
    size_t ss;
    assert_int_equal(seqvid_mmnist_state_size(g, &ss), SEQVID_OK);
    assert_true(ss <= sizeof s1);
    seqvid_mmnist_get_state(g, s1, ss);
    seqvid_mmnist_get_state(g2, s2, ss);
    assert_memory_equal(s1, s2, ss);
    seqvid_model_free(m2);
    seqvid_optimizer_free(o2);

    /* The model loader takes the model out of a checkpoint. */
    assert_int_equal(seqvid_model_load_buffer(b, n, &m2), SEQVID_OK);
    assert_models_equal(m, m2);
    seqvid_model_free(m2);
    /* The checkpoint loader refuses a model file. */
    size_t mn;
    unsigned char *mb = model_bytes(m, &mn);
    expect_ckpt(mb, mn, NULL, SEQVID_ERR_FORMAT);
    free(mb);
    /* Shape mismatch between optimizer and model is refused at save. */
    seqvid_model *other = make_model(small, 1);
    size_t dummy;
    assert_fails(sv_checkpoint_save_buffer(other, o, NULL, 0, NULL, 0, &dummy), SEQVID_ERR_SHAPE);
    seqvid_model_free(other);

    /* Metadata */
    cJSON *root = header_of(b);
    cJSON *meta = cJSON_GetObjectItem(root, "__metadata__");
    assert_string_equal(cJSON_GetObjectItem(meta, "type")->valuestring, "checkpoint");
    assert_string_equal(cJSON_GetObjectItem(meta, "optimizer.kind")->valuestring, "Adam");
    assert_string_equal(cJSON_GetObjectItem(meta, "optimizer.steps")->valuestring, "17");
    assert_string_equal(cJSON_GetObjectItem(meta, "train.step")->valuestring, "42");
    assert_null(cJSON_GetObjectItem(meta, "optimizer.MOMENTUM"));
    assert_non_null(cJSON_GetObjectItem(meta, "optimizer.BETA1"));
    cJSON_Delete(root);

    /* Hostile checkpoints. */
    struct {
        const char *key, *val;
    } cases[] = {
        {"optimizer.kind", "Nesterov"}, {"optimizer.kind", NULL},   {"optimizer.LR", "-1"},
        {"optimizer.LR", NULL},         {"optimizer.MOMENTUM", "0.9"}, {"optimizer.BETA1", "1"},
        {"optimizer.FOO", "1"},         {"optimizer.steps", "-1"},  {"optimizer.steps", "007"},
        {"optimizer.steps", "18446744073709551616"},                {"optimizer.bound", "0"},
        {"optimizer.steps", "18446744073709551615"}, /* 2^64-1: the next step wrapped */
        {"optimizer.steps", "9007199254740993"},     /* 2^53+1: over the documented limit */
        {"optimizer.bound", NULL},      {"train.step", NULL},       {"train.step", "1.5"},
        {"train.other", "1"},           {"type", "model"},
    };
    decoded *d;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        d = decode(b, n);
        set_meta(d, cases[i].key, cases[i].val);
        size_t k;
        unsigned char *x = encode(d, 1, &k);
        expect_ckpt(x, k, NULL, SEQVID_ERR_FORMAT);
        decoded_free(d);
        free(x);
    }
    /* optimizer.bound one more than the state length; a missing s2; s1 too short */
    const char *drop[] = {"optimizer.s2", "optimizer.s1", "data.rng_state"};
    for (int i = 0; i < 3; i++) {
        d = decode(b, n);
        remove_entry(d, drop[i]);
        size_t k;
        unsigned char *x = encode(d, 1, &k);
        expect_ckpt(x, k, g2, SEQVID_ERR_FORMAT);
        free(x);
        decoded_free(d);
    }
    d = decode(b, n);
    char bound[32];
    snprintf(bound, sizeof bound, "%zu", m->arena.n_params + 1);
    set_meta(d, "optimizer.bound", bound);
    size_t k;
    unsigned char *x = encode(d, 1, &k);
    expect_ckpt(x, k, NULL, SEQVID_ERR_FORMAT);
    free(x);
    decoded_free(d);
    /* a negative second moment; a NaN first moment (checksums fixed) */
    d = decode(b, n);
    find_entry(d, "optimizer.s2")->bytes[3] = 0xBF; /* s2[0] = -something */
    x = encode(d, 1, &k);
    expect_ckpt(x, k, NULL, SEQVID_ERR_FORMAT);
    free(x);
    decoded_free(d);
    d = decode(b, n);
    entry *e = find_entry(d, "optimizer.s1");
    e->bytes[2] = 0xC0, e->bytes[3] = 0x7F;
    x = encode(d, 1, &k);
    expect_ckpt(x, k, NULL, SEQVID_ERR_NONFINITE);
    expect_model(x, k, SEQVID_ERR_NONFINITE); /* the model loader checks the state too */
    free(x);
    decoded_free(d);
    /* a corrupt generator state (its own checksum catches it); the generator is unchanged */
    d = decode(b, n);
    find_entry(d, "data.rng_state")->bytes[10] ^= 1;
    x = encode(d, 1, &k);
    seqvid_mmnist_get_state(g2, s1, ss);
    expect_ckpt(x, k, g2, SEQVID_ERR_FORMAT);
    seqvid_mmnist_get_state(g2, s2, ss);
    assert_memory_equal(s1, s2, ss);
    /* ... but without a generator to restore, the same file loads */
    expect_ckpt(x, k, NULL, SEQVID_OK);
    free(x);
    decoded_free(d);
    /* truncations of a checkpoint */
    for (size_t len = 0; len < n; len += 7) expect_ckpt(b, len, NULL, SEQVID_ERR_FORMAT);

    free(b);
    seqvid_mmnist_free(g);
    seqvid_mmnist_free(g2);
    seqvid_digits_free(digits);
    seqvid_optimizer_free(o);
    seqvid_model_free(m);
}

/* ------------------------------------------------------------------------------------------
 * Failed and interrupted saves
 * ---------------------------------------------------------------------------------------- */
static void test_failed_saves(void **state) {
    (void)state;
    seqvid_model *m = make_model(tiny, 41);
    char path[512], p2[600];
    /* a folder that does not exist */
    path_in(path, sizeof path, "no/such/folder/m.safetensors");
    assert_fails(seqvid_model_save(m, path), SEQVID_ERR_IO);
    /* a "folder" that is a file */
    path_in(path, sizeof path, "plain");
    write_file(path, "x", 1);
    snprintf(p2, sizeof p2, "%s/m.safetensors", path);
    assert_fails(seqvid_model_save(m, p2), SEQVID_ERR_IO);
    /* a path that is a folder: it stays, and no temporary file is left */
    path_in(path, sizeof path, "adir");
    assert_int_equal(mkdir(path, 0755), 0);
    assert_fails(seqvid_model_save(m, path), SEQVID_ERR_IO);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(count_temp_files(tmpdir), 0);
    /* a folder where files cannot be made (/proc refuses even root) */
    assert_fails(seqvid_model_save(m, "/proc/seqvid-test.safetensors"), SEQVID_ERR_IO);
    /* a read-only folder (root ignores permissions: only checked for other users) */
    path_in(path, sizeof path, "ro");
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(p2, sizeof p2, "%s/m.safetensors", path);
    assert_int_equal(seqvid_model_save(m, p2), SEQVID_OK);
    chmod(path, 0555);
    if (geteuid() != 0) {
        seqvid_model *m2 = make_model(tiny, 42), *b = NULL;
        assert_fails(seqvid_model_save(m2, p2), SEQVID_ERR_IO);
        assert_int_equal(seqvid_model_load(p2, &b), SEQVID_OK);
        assert_models_equal(m, b);
        seqvid_model_free(b);
        seqvid_model_free(m2);
    }
    chmod(path, 0755);
    seqvid_model_free(m);
}

/* A write that fails half-way (file size limit) leaves the old file intact and no temp. */
static void test_failed_write_keeps_old(void **state) {
    (void)state;
    char dir[512], path[600];
    path_in(dir, sizeof dir, "fsize");
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    seqvid_model *old = make_model(small, 51);
    assert_int_equal(seqvid_model_save(old, path), SEQVID_OK);
    size_t old_n;
    unsigned char *old_b = read_file(path, &old_n);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {4096, 4096};
        setrlimit(RLIMIT_FSIZE, &rl);
        spec big = {SEQVID_COMPOSITE, 40, 20, 1, 1, 1, 0};
        seqvid_config *c = NULL;
        seqvid_model *m = NULL;
        seqvid_config_create(&c);
        seqvid_config_set(c, SEQVID_CFG_INPUT_DIM, big.D);
        seqvid_config_set(c, SEQVID_CFG_HIDDEN, big.H);
        seqvid_model_create(c, &m);
        _exit(seqvid_model_save(m, path));
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), SEQVID_ERR_IO);
    size_t n;
    unsigned char *b = read_file(path, &n);
    assert_int_equal(n, old_n);
    assert_memory_equal(b, old_b, n);
    assert_int_equal(count_temp_files(dir), 0);
    free(b);
    free(old_b);
    seqvid_model_free(old);
}

/* Kill a process that saves in a loop at random moments; the file at path is always one of
 * the complete versions. The driver writes version v with params[i] = v + i/1024. */
static void test_crash_atomicity(void **state) {
    (void)state;
    char dir[512], path[600];
    path_in(dir, sizeof dir, "crash");
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    srand(12345);
    int kills = 50, later = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int k = 0; k < kills; k++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            dup2(fds[1], 1);
            close(fds[0]);
            char first[32];
            snprintf(first, sizeof first, "%d", k * 1000);
            execl(SV_SERIALIZE_DRIVER, SV_SERIALIZE_DRIVER, "save-loop", path, first,
                  (char *)NULL);
            _exit(127);
        }
        close(fds[1]);
        char c;
        assert_int_equal(read(fds[0], &c, 1), 1); /* the first version is complete */
        struct timespec d = {0, (long)(rand() % 30000) * 1000L};
        nanosleep(&d, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        close(fds[0]);
        assert_true(WIFSIGNALED(status));

        seqvid_model *m = NULL;
        int st = seqvid_model_load(path, &m);
        if (st) fail_msg("after kill %d: %s", k, seqvid_last_error());
        float v = m->arena.params[0];
        assert_true(v >= (float)(k * 1000) && v == floorf(v));
        for (size_t i = 0; i < m->arena.n_params; i++)
            if (m->arena.params[i] != v + (float)(i % 1024) / 1024.0f)
                fail_msg("after kill %d: version %g torn at %zu", k, (double)v, i);
        if ((long)v > k * 1000) later++;
        seqvid_model_free(m);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    print_message("crash atomicity: %d kills in %.2f s; %d found a later version than the "
                  "first, %d temporary files of interrupted saves\n", kills, secs, later,
                  count_temp_files(dir));
    /* Temporary files of killed saves may remain (a crash cannot clean up); they never
     * replace the file. */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_all_kinds),
        cmocka_unit_test(test_not_safetensors),
        cmocka_unit_test(test_roundtrip_file),
        cmocka_unit_test(test_buffer_api),
        cmocka_unit_test(test_metadata_values),
        cmocka_unit_test(test_save_refuses_nonfinite),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_flipped_bytes),
        cmocka_unit_test(test_header_length),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_strict_json),
        cmocka_unit_test(test_config_integers),
        cmocka_unit_test(test_bad_tensors),
        cmocka_unit_test(test_bad_offsets),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_bad_metadata),
        cmocka_unit_test(test_checkpoint_exact),
        cmocka_unit_test(test_checkpoint_contents),
        cmocka_unit_test(test_checkpoint_sampling),
        cmocka_unit_test(test_failed_saves),
        cmocka_unit_test(test_failed_write_keeps_old),
        cmocka_unit_test(test_crash_atomicity),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
