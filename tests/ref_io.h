/* ref_io.h -- file helpers shared by the reference drivers (ref_driver.c,
 * classifier_ref_driver.c): raw float32 files in a case folder, and a results file of
 * "call status [values]" lines. Test code: every failure here exits 2. */
#ifndef REF_IO_H
#define REF_IO_H
#include <seqvid.h>

#include <stdio.h>
#include <stdlib.h>

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
#endif
