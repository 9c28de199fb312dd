/* ref_io.h -- file helpers shared by the reference drivers (ref_driver.c,
 * classifier_ref_driver.c): raw float32 files in a case folder, and a results file of
 * "call status [values]" lines. Test code: every failure here exits 2. */
#ifndef REF_IO_H
#define REF_IO_H
#include <seqvid.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *g_dir;  /* the case folder, set by main */
static const char *g_prog = "ref driver"; /* the program name, for messages */

static void die(const char *msg, const char *detail)
{
    fprintf(stderr, "%s: %s %s\n", g_prog, msg, detail ? detail : "");
    exit(2);
}

static FILE *open_in(const char *file, const char *mode)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", g_dir, file);
    FILE *f = fopen(path, mode);
    if (!f)
        die("cannot open", path);
    return f;
}

static void read_f32(const char *file, float *buf, size_t n)
{
    FILE *f = open_in(file, "rb");
    if (fread(buf, sizeof(float), n, f) != n)
        die("short read", file);
    fclose(f);
}

static void write_f32(const char *file, const float *buf, size_t n)
{
    FILE *f = open_in(file, "wb");
    if (n && fwrite(buf, sizeof(float), n, f) != n)
        die("short write", file);
    fclose(f);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory", NULL);
    return p;
}

/* Record a call's status; print the library's message on failure. */
static void report(FILE *res, const char *call, int st, int nvals, double a, double b)
{
    fprintf(res, "%s %d", call, st);
    if (nvals > 0)
        fprintf(res, " %.9g", a);
    if (nvals > 1)
        fprintf(res, " %.9g", b);
    fprintf(res, "\n");
    if (st != SEQVID_OK)
        fprintf(stderr, "%s: %s -> %s: %s\n", g_prog, call, seqvid_status_string(st),
                seqvid_last_error());
}
/* Block i of the object under test: name, offset in the arena, rows x cols. */
typedef int (*block_fn)(const void *obj, size_t i, const char **name, size_t *off, size_t *rows,
                        size_t *cols);

#define MAX_GIVEN 256

/* Copy the weights python gave (params.txt: "name rows cols" lines, params.f32: their values
 * in that order) into the arena by block name, and write the object's own layout to
 * layout.txt. Every block must be given exactly once with the same shape. */
static void load_given_params(const void *obj, block_fn block, size_t nblocks, size_t count,
                              float *params, const char *what)
{
    static char names[MAX_GIVEN][128];
    size_t rows[MAX_GIVEN], cols[MAX_GIVEN], start[MAX_GIVEN], np = 0, total = 0;
    FILE *f = open_in("params.txt", "r");
    while (np < MAX_GIVEN && fscanf(f, "%127s %zu %zu", names[np], &rows[np], &cols[np]) == 3) {
        start[np] = total;
        total += rows[np] * cols[np];
        np++;
    }
    fclose(f);
    float *given = xmalloc(total * sizeof(float));
    read_f32("params.f32", given, total);
    FILE *lay = open_in("layout.txt", "w");
    fprintf(lay, "count %zu\n", count);
    int used[MAX_GIVEN] = {0};
    for (size_t i = 0; i < nblocks; i++) {
        const char *name = NULL;
        size_t off = 0, r = 0, c = 0, j;
        if (block(obj, i, &name, &off, &r, &c) != SEQVID_OK)
            die("param_block", seqvid_last_error());
        fprintf(lay, "%s %zu %zu %zu\n", name, off, r, c);
        if (off + r * c > count)
            die("block past the arena:", name);
        for (j = 0; j < np; j++)
            if (strcmp(names[j], name) == 0)
                break;
        if (j == np)
            die(what, name); /* "<kind> block not given by python:" */
        if (rows[j] != r || cols[j] != c)
            die("shape mismatch of block", name);
        memcpy(params + off, given + start[j], r * c * sizeof(float));
        used[j] = 1;
    }
    fclose(lay);
    for (size_t j = 0; j < np; j++)
        if (!used[j])
            die("python block not in the object under test:", names[j]);
    free(given);
}

/* data.f32 as a time-major batch view (the caller frees both), with the given lengths. */
static seqvid_batch *load_batch(long T, long S, long D, const size_t *lens, float **data)
{
    const size_t TSD = (size_t)T * (size_t)S * (size_t)D;
    *data = xmalloc(TSD * sizeof(float));
    read_f32("data.f32", *data, TSD);
    seqvid_batch *batch = NULL;
    if (seqvid_batch_wrap(*data, (size_t)T, (size_t)S, (size_t)D, &batch) != SEQVID_OK)
        die("batch_wrap", seqvid_last_error());
    for (size_t b = 0; b < (size_t)S; b++)
        if (seqvid_batch_set_length(batch, b, lens[b]) != SEQVID_OK)
            die("set_length", seqvid_last_error());
    return batch;
}
#endif
