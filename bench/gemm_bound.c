/* gemm_bound.c -- this CPU's limit on the products of a case (issue 13): the best measured
 * rate of every GEMM shape over the implementations at hand, and the memory bandwidth that
 * bounds the batch-1 products.
 *
 *   bench_seqvid --plan --case train --hidden 512 --batch 16 | gemm_bound --threads 2
 *
 * reads the plans' shape lines ("#   name  NT m=.. n=.. k=.. xCOUNT ...", one or more plans) and
 * times each distinct shape
 * (one warm-up call, then calls for --time seconds, at least 3; the median) with
 *   openblas     cblas_sgemm (and cblas_sgemv for one-row products; the faster counts)
 * and, in a -DSEQVID_BLAS=onednn build, through the library's own backend (lib/blas.h):
 *   dnnl_sgemm   oneDNN's BLAS-like call (re-packs B each call)
 *   onednn_f32   sv_sgemm: the matmul primitive, B as stored (not a weight: re-packed per call)
 *   onednn_w     sv_sgemm with B registered as weights: reordered once into oneDNN's layout,
 *                reused (forward and data-gradient products, where B is a weight matrix; the
 *                weight-gradient products have no weight operand and run as onednn_f32)
 *   onednn_bf16  the same with bf16 products (A rounded per call, B converted once if a
 *                weight, else per call), only where the CPU has AVX512-BF16
 * Prints per shape a '#' line, then per case
 *   BOUND case=.. H=.. B=.. threads=.. impl=IMPL bound_ms=.. gflop=..   (Σ count x median)
 *   BOUND ... impl=best_f32  (per shape the fastest float32 implementation)
 *   BOUND ... impl=best_bf16 (per shape the fastest of all)
 *   BOUND ... impl=bandwidth bound_ms=..   (every weight matrix read once per product at
 *                                           the measured bandwidth: the batch-1 limit)
 * and "BANDWIDTH threads=.. gbps=.." (a read-only sum over 512 MiB, split over the threads, best
 * of 5).
 * The machine must be quiet for the numbers to mean anything. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cblas.h>
#include <seqvid.h>
#include "blas.h"
#include "bench_util.h"
#ifdef GB_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif

enum { I_OPENBLAS, I_DNNL_SGEMM, I_ONEDNN_F32, I_ONEDNN_W, I_ONEDNN_BF16, I_N };
static const char *const impl_name[I_N] = {"openblas", "dnnl_sgemm", "onednn_f32", "onednn_w",
                                           "onednn_bf16"};
static const int impl_bf16[I_N] = {0, 0, 0, 0, 1};

static void *xmalloc(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 1) != 0) {
        fprintf(stderr, "gemm_bound: out of memory\n");
        exit(1);
    }
    return p;
}

typedef struct shape {
    char name[32];
    int ta, tb;
    long m, n, k, count;
} shape;

typedef struct call {
    int impl, gemv;
    const shape *s;
    const float *A, *B;
    float *C;
} call;

static void run_call(const call *c) {
    const shape *s = c->s;
    int m = (int)s->m, n = (int)s->n, k = (int)s->k;
    int lda = s->ta ? m : k, ldb = s->tb ? k : n;
    switch (c->impl) {
    case I_OPENBLAS:
        if (c->gemv) {
            if (s->tb) cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1.0f, c->B, k, c->A, 1, 1.0f, c->C, 1);
            else cblas_sgemv(CblasRowMajor, CblasTrans, k, n, 1.0f, c->B, n, c->A, 1, 1.0f, c->C, 1);
        } else {
            cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans,
                        s->tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, c->A, lda, c->B, ldb,
                        1.0f, c->C, n);
        }
        break;
#ifdef GB_ONEDNN
    case I_DNNL_SGEMM:
        dnnl_sgemm(s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', m, n, k, 1.0f, c->A, lda, c->B, ldb,
                   1.0f, c->C, n);
        break;
#endif
    default:
        sv_sgemm(s->ta, s->tb, m, n, k, 1.0f, c->A, lda, c->B, ldb, 1.0f, c->C, n);
        break;
    }
}

static double time_call(const call *c, double budget) {
    run_call(c);
    double v[256], start = now();
    int n = 0;
    while (n < 256 && (n < 3 || now() - start < budget)) {
        double t0 = now();
        run_call(c);
        v[n++] = 1e3 * (now() - t0);
    }
    return median(v, n);
}

/* ---- memory bandwidth ------------------------------------------------------------------- */
typedef struct bw_job {
    const float *p;
    size_t n;
    double sum;
} bw_job;

static void *bw_read(void *arg) {
    bw_job *j = arg;
    float acc[16] = {0};
    for (size_t i = 0; i + 16 <= j->n; i += 16)
        for (int l = 0; l < 16; l++) acc[l] += j->p[i + l];
    double s = 0;
    for (int l = 0; l < 16; l++) s += acc[l];
    j->sum = s;
    return NULL;
}

static double bandwidth_gbps(int threads) {
    size_t n = (size_t)1 << 27; /* 512 MiB of floats: far beyond any cache */
    float *x = xmalloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (float)(i & 7);
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        bw_job j[64];
        pthread_t t[64];
        double t0 = now();
        for (int i = 0; i < threads; i++) {
            j[i] = (bw_job){x + n / threads * i, n / threads, 0};
            pthread_create(&t[i], NULL, bw_read, &j[i]);
        }
        for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
        double gbps = (double)n * sizeof *x / (now() - t0) * 1e-9;
        if (gbps > best) best = gbps;
    }
    free(x);
    return best;
}

/* ---- the plans ----------------------------------------------------------------------------
 * stdin holds one or more plans ("PLAN case=.. H=.. B=.." then its shape lines); a shape
 * shared by several plans (same transposes, m, n, k) is timed once. */
#define MAX_PLANS 32
#define MAX_SHAPES 512
typedef struct plan {
    char cs[32];
    long H, B;
    int first, n; /* its shapes: s[first .. first + n) */
} plan;

static int read_plans(FILE *f, plan *p, int *np, shape *s, int max) {
    char line[512];
    int n = 0;
    *np = 0;
    while (fgets(line, sizeof line, f)) {
        plan q = {"?", 0, 0, n, 0};
        if (sscanf(line, "PLAN case=%31s H=%ld B=%ld", q.cs, &q.H, &q.B) == 3) {
            if (*np < MAX_PLANS) p[(*np)++] = q;
            continue;
        }
        shape x;
        char tt[3];
        if (*np && n < max &&
            sscanf(line, "# %31s %2s m=%ld n=%ld k=%ld x%ld", x.name, tt, &x.m, &x.n, &x.k,
                   &x.count) == 6) {
            x.ta = tt[0] == 'T', x.tb = tt[1] == 'T';
            s[n++] = x;
            p[*np - 1].n++;
        }
    }
    return n;
}

typedef struct timed {
    double ms[I_N], bw_ms;
} timed;

/* Time shape x on every implementation at hand. */
static timed time_shape(const shape *x, const int *have, double budget, double gbps) {
    timed t;
    size_t na = (size_t)x->m * x->k, nb = (size_t)x->k * x->n, nc = (size_t)x->m * x->n;
    float *A = xmalloc(na * sizeof *A), *B = xmalloc(nb * sizeof *B), *C = xmalloc(nc * sizeof *C);
    for (size_t j = 0; j < na; j++) A[j] = 1e-3f * (float)((j * 37) % 101) - 0.05f;
    for (size_t j = 0; j < nb; j++) B[j] = 1e-3f * (float)((j * 53) % 97) - 0.048f;
    memset(C, 0, nc * sizeof *C);
    /* forward and data-gradient products (A not transposed) multiply by a weight */
    int weight = !x->ta;
    unsigned version = 1;
    double f = 2.0 * x->m * x->n * x->k;
    char txt[256];
    int off = 0;
    for (int im = 0; im < I_N; im++) {
        t.ms[im] = INFINITY;
        if (!have[im]) continue;
        /* weights registered (as the library's owner does) only where B is a weight */
        int reg = (im == I_ONEDNN_W || im == I_ONEDNN_BF16) && weight;
        if (reg) sv_blas_weights_register(B, nb, &version);
        sv_blas_set_bf16(impl_bf16[im]);
        call c = {im, 0, x, A, B, C};
        t.ms[im] = time_call(&c, budget);
        if (im == I_OPENBLAS && x->m == 1 && !x->ta) {
            c.gemv = 1;
            double mv = time_call(&c, budget);
            if (mv < t.ms[im]) t.ms[im] = mv;
        }
        sv_blas_set_bf16(0);
        if (reg) sv_blas_weights_unregister(B);
        off += snprintf(txt + off, sizeof txt - (size_t)off, " %s %.1f", impl_name[im],
                        f / (t.ms[im] * 1e6));
    }
    /* Batch 1 reads each weight once per product: bytes / bandwidth. */
    t.bw_ms = (double)x->k * (double)x->n * 4.0 / (gbps * 1e9) * 1e3;
    printf("#   %-16s %c%c m=%-6ld n=%-6ld k=%-6ld GFLOP/s:%s | bw %.3f ms\n", x->name,
           x->ta ? 'T' : 'N', x->tb ? 'T' : 'N', x->m, x->n, x->k, txt, t.bw_ms);
    fflush(stdout);
    free(A), free(B), free(C);
    return t;
}

int main(int argc, char **argv) {
    int threads = 1;
    double budget = 0.25;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--time")) budget = atof(argv[i + 1]);
        else {
            fprintf(stderr, "usage: bench_seqvid --plan ... | gemm_bound [--threads N] [--time S]\n");
            return 2;
        }
    }
    if (threads < 1 || threads > 64) threads = 1;
    seqvid_set_threads(threads); /* OpenBLAS's pool and the library's backend */
    openblas_set_num_threads(threads);
    static shape s[MAX_SHAPES];
    static timed t[MAX_SHAPES];
    plan p[MAX_PLANS];
    int np, n = read_plans(stdin, p, &np, s, MAX_SHAPES);
    if (!n) {
        fprintf(stderr, "gemm_bound: no shapes on stdin (pipe bench_seqvid --plan into it)\n");
        return 2;
    }
    int have[I_N] = {1, 0, 0, 0, 0};
#ifdef GB_ONEDNN
    have[I_DNNL_SGEMM] = have[I_ONEDNN_F32] = have[I_ONEDNN_W] = 1;
    have[I_ONEDNN_BF16] = sv_blas_bf16_supported();
#endif
    double gbps = bandwidth_gbps(threads);
    printf("BANDWIDTH threads=%d gbps=%.2f\n", threads, gbps);
    printf("# gemm_bound threads=%d backend=%s bf16=%s\n", threads, sv_blas_info().name,
           have[I_ONEDNN_BF16] ? "yes" : "no");
    for (int i = 0; i < n; i++) {
        int same = -1;
        for (int j = 0; j < i && same < 0; j++)
            if (s[j].ta == s[i].ta && s[j].tb == s[i].tb && s[j].m == s[i].m &&
                s[j].n == s[i].n && s[j].k == s[i].k)
                same = j;
        t[i] = same >= 0 ? t[same] : time_shape(&s[i], have, budget, gbps);
    }
    for (int q = 0; q < np; q++) {
        double bound[I_N] = {0}, best32 = 0, best16 = 0, bw = 0, flop = 0;
        for (int i = p[q].first; i < p[q].first + p[q].n; i++) {
            double b32 = INFINITY, b16 = INFINITY, c = (double)s[i].count;
            for (int im = 0; im < I_N; im++) {
                if (t[i].ms[im] < INFINITY) bound[im] += t[i].ms[im] * c;
                if (!impl_bf16[im] && t[i].ms[im] < b32) b32 = t[i].ms[im];
                if (t[i].ms[im] < b16) b16 = t[i].ms[im];
            }
            best32 += b32 * c, best16 += b16 * c, bw += t[i].bw_ms * c;
            flop += 2.0 * s[i].m * s[i].n * s[i].k * c;
        }
        char id[128];
        snprintf(id, sizeof id, "case=%.31s H=%ld B=%ld threads=%d", p[q].cs, p[q].H, p[q].B,
                 threads);
        for (int im = 0; im < I_N; im++)
            if (have[im])
                printf("BOUND %s impl=%s bound_ms=%.3f gflop=%.4f\n", id, impl_name[im],
                       bound[im], flop * 1e-9);
        printf("BOUND %s impl=best_f32 bound_ms=%.3f gflop=%.4f\n", id, best32, flop * 1e-9);
        printf("BOUND %s impl=best_bf16 bound_ms=%.3f gflop=%.4f\n", id, best16, flop * 1e-9);
        printf("BOUND %s impl=bandwidth bound_ms=%.3f gflop=%.4f\n", id, bw, flop * 1e-9);
    }
    return 0;
}
