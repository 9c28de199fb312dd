/* sparse_products.c -- the library's two sparse input products on their own (lib/sparse.c):
 * the forward A += X W and the weight gradient dW = X^T dA, X [rows x 4096] holding frames
 * like Moving MNIST's (each row lights ~7% of its pixels: two 20 x 20 patches of 145 random
 * pixels, at random places in a 64 x 64 frame, values in (0, 1]), W [4096 x N].
 *
 *   sparse_products ROWS N [REPS [THREADS [uniform]]]   e.g.  sparse_products 160 2048 20 2
 *
 * ("uniform": each pixel lit with probability 0.07 instead, as bench_seqvid's frames.)
 *
 * Also times storing X (sv_sparse_build, one thread).
 * ROWS: T x B of a training step's one product over all frames (160 for batch 16), or B
 * for a frame at a time; N = 4H. Prints the best time of each over REPS calls (default 20;
 * THREADS default 2), and a checksum of both results: variants of the kernels that keep the
 * order of the sums must print the same checksums. Run it on a quiet machine. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "seqvid.h"
#include "sparse.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static unsigned long long state = 88172645463325252ull;
static double uniform(void) { /* xorshift64: fixed, the same on every machine */
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return (double)(state >> 11) / 9007199254740992.0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: sparse_products ROWS N [REPS [THREADS [uniform]]]\n");
        return 2;
    }
    const int rows = atoi(argv[1]), N = atoi(argv[2]), D = 4096;
    const int reps = argc > 3 ? atoi(argv[3]) : 20, threads = argc > 4 ? atoi(argv[4]) : 2;
    if (rows < 1 || N < 1 || reps < 1 || seqvid_set_threads(threads) != SEQVID_OK) {
        fprintf(stderr, "sparse_products: bad arguments\n");
        return 2;
    }
    float *X = calloc((size_t)rows * D, sizeof *X), *W = malloc((size_t)D * N * sizeof *W);
    const int ld = N + 16; /* the row stride of A and dA: lstm.c's gates are padded so */
    float *A = malloc((size_t)rows * ld * sizeof *A), *G = malloc((size_t)rows * ld * sizeof *G);
    float *dW = malloc((size_t)D * N * sizeof *dW);
    if (!X || !W || !A || !G || !dW) {
        fprintf(stderr, "sparse_products: out of memory\n");
        return 1;
    }
    const int uniform_frames = argc > 5 && strcmp(argv[5], "uniform") == 0;
    for (size_t i = 0; uniform_frames && i < (size_t)rows * D; i++)
        X[i] = uniform() < 0.07 ? 1.0f : 0.0f;
    for (int r = 0; r < rows && !uniform_frames; r++)
        for (int p = 0; p < 2; p++) {
            const int ox = (int)(uniform() * 44), oy = (int)(uniform() * 44);
            for (int k = 0; k < 145; k++) {
                const int x = ox + (int)(uniform() * 20), y = oy + (int)(uniform() * 20);
                X[(size_t)r * D + y * 64 + x] = (float)(1.0 - uniform());
            }
        }
    for (size_t i = 0; i < (size_t)D * N; i++) W[i] = (float)(0.02 * (uniform() - 0.5));
    for (size_t i = 0; i < (size_t)rows * ld; i++) G[i] = (float)(uniform() - 0.5);
    sv_sparse *s = NULL;
    /* 0.5 s of storing X first, as bench_seqvid warms up: OpenBLAS's idle threads spin for
     * ~0.1 s after it loads and would slow the library's own threads within that window */
    for (double t0 = now(); now() - t0 < 0.5;)
        if (!sv_sparse_build(&s, X, rows, D, rows)) break;
    double build = 1e30;
    for (int i = 0; i < reps; i++) { /* storing X (lib/sparse.c's sv_sparse_build) */
        double t = now();
        if (!sv_sparse_build(&s, X, rows, D, rows)) break;
        t = now() - t;
        build = t < build ? t : build;
    }
    if (!sv_sparse_build(&s, X, rows, D, rows)) {
        fprintf(stderr, "sparse_products: the input is too dense for the sparse path\n");
        return 1;
    }
    /* Between calls, 96 MiB written and read: W comes from memory, as in a training step,
     * where the other weights, gradients and moments pass through the caches in between. */
    const size_t nflush = (size_t)24 << 20;
    float *flush = malloc(nflush * sizeof *flush);
    double fwd = 1e30, bwd = 1e30, sink = 0;
    for (int i = 0; i < reps; i++) {
        for (size_t f = 0; flush && f < nflush; f++) flush[f] = (float)(f + (size_t)i);
        for (size_t f = 0; flush && f < nflush; f += 16) sink += flush[f];
        memset(A, 0, (size_t)rows * ld * sizeof *A);
        double t = now();
        sv_sparse_forward(s, N, W, NULL, A, ld);
        t = now() - t;
        fwd = t < fwd ? t : fwd;
        for (size_t f = 0; flush && f < nflush; f++) flush[f] = (float)(f + (size_t)i);
        t = now();
        sv_sparse_weight_grad(s, N, G, ld, dW);
        t = now() - t;
        bwd = t < bwd ? t : bwd;
    }
    double ca = 0, cw = 0;
    for (size_t i = 0; i < (size_t)rows * ld; i++) ca += A[i] * (double)(i % 7 + 1);
    for (size_t i = 0; i < (size_t)D * N; i++) cw += dW[i] * (double)(i % 5 + 1);
    size_t nnz = 0;
    for (size_t i = 0; i < (size_t)rows * D; i++) nnz += X[i] != 0.0f;
    printf("rows %d N %d threads %d nonzero %.1f%%: store %.3f ms, forward %.3f ms, "
           "weight gradient %.3f ms (checksums %.9g %.9g)\n",
           rows, N, threads, 100.0 * (double)nnz / ((double)rows * D), build * 1e3, fwd * 1e3,
           bwd * 1e3, ca, cw);
    if (sink == 42.0) puts(""); /* keeps the flush loops */
    sv_sparse_free(s);
    free(flush);
    free(X), free(W), free(A), free(G), free(dW);
    return 0;
}
