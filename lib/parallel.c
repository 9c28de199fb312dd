/* parallel.c -- sv_parallel_for on POSIX threads. Threads are started per call: the loops that
 * use it run for milliseconds, next to which thread start-up (~20 µs) is noise. */
#include <pthread.h>
#include "parallel.h"
#include "seqvid.h"

#define SV_MAX_THREADS 64

typedef struct chunk {
    void (*fn)(void *, int, int);
    void *ctx;
    int begin, end;
} chunk;

static void *run_chunk(void *arg) {
    chunk *c = arg;
    c->fn(c->ctx, c->begin, c->end);
    return NULL;
}

void sv_parallel_for(int n, void (*fn)(void *ctx, int begin, int end), void *ctx) {
    int nt = seqvid_get_threads();
    if (nt > n) nt = n;
    if (nt > SV_MAX_THREADS) nt = SV_MAX_THREADS;
    if (nt <= 1) {
        if (n > 0) fn(ctx, 0, n);
        return;
    }
    chunk c[SV_MAX_THREADS];
    pthread_t tid[SV_MAX_THREADS];
    int started[SV_MAX_THREADS] = {0};
    for (int t = 0; t < nt; t++)
        c[t] = (chunk){fn, ctx, (int)((long)n * t / nt), (int)((long)n * (t + 1) / nt)};
    for (int t = 1; t < nt; t++) started[t] = pthread_create(&tid[t], NULL, run_chunk, &c[t]) == 0;
    run_chunk(&c[0]);
    for (int t = 1; t < nt; t++) {
        if (started[t]) pthread_join(tid[t], NULL);
        else run_chunk(&c[t]); /* could not start a thread: do its share here */
    }
}
