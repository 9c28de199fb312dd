/* parallel.c -- sv_parallel_for on a persistent pool of POSIX threads.
 *
 * A training step issues hundreds of parallel loops of 20-200 µs each (the chunks of every
 * product, the sparse products, the optimizer's update), so starting threads per call cost
 * more than it bought: at H=256 a step ran slower on 2 threads than on 1 (issue 14). The pool
 * is started on first use and grows to the largest thread count asked for; its workers wait
 * for a job by spinning briefly (the next loop of a step usually follows within microseconds)
 * and then sleeping on a condition variable, so an idle library uses no CPU.
 *
 * One caller at a time owns the pool (pool.busy). A second thread of the application that
 * calls in meanwhile, or a loop nested inside a chunk, starts threads for its own call as
 * before: never a deadlock, never a wait on another caller. Results do not depend on who runs
 * a chunk: the chunks are fixed by (n, thread count) and each is one call of fn.
 *
 * Lifetime: workers are joined when the library is unloaded or the process exits normally
 * (destructor); a child of fork() starts with no pool (the workers were not copied). */
#include <pthread.h>
#include "parallel.h"
#include "seqvid.h"

#define SV_MAX_THREADS 64
#define SPIN_ROUNDS 4000 /* ~100 µs of pause instructions before a worker sleeps */

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

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

static void split(chunk *c, int nt, int n, void (*fn)(void *, int, int), void *ctx) {
    for (int t = 0; t < nt; t++)
        c[t] = (chunk){fn, ctx, (int)((long)n * t / nt), (int)((long)n * (t + 1) / nt)};
}

/* The old way, for a caller that finds the pool owned: threads started for this call. */
static void run_with_new_threads(chunk *c, int nt) {
    pthread_t tid[SV_MAX_THREADS];
    int started[SV_MAX_THREADS] = {0};
    for (int t = 1; t < nt; t++) started[t] = pthread_create(&tid[t], NULL, run_chunk, &c[t]) == 0;
    run_chunk(&c[0]);
    for (int t = 1; t < nt; t++) {
        if (started[t]) pthread_join(tid[t], NULL);
        else run_chunk(&c[t]); /* could not start a thread: do its share here */
    }
}

/* ---- the pool --------------------------------------------------------------------------- *
 * The owner writes the job (chunks, nt), then publishes it by incrementing gen (release).
 * Every worker w = 1..nworkers sees the new gen (acquire), runs chunk w if w < nt, and
 * decrements pending; the owner runs chunk 0, then waits for pending == 0 before it returns,
 * so no worker still reads the job when the next one is written. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    pthread_t tid[SV_MAX_THREADS];
    int nworkers;               /* started; worker w runs chunk w */
    unsigned start_gen[SV_MAX_THREADS]; /* gen when worker w was started: its jobs come after */
    chunk job[SV_MAX_THREADS];  /* written by the owner only */
    int nt;                     /* chunks of the job */
    unsigned gen;               /* atomic: job generation */
    int pending;                /* atomic: workers that have not finished the job */
    int stop;                   /* under mu: workers exit */
    int busy;                   /* atomic: a caller owns the pool */
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

static void *worker(void *arg) {
    int w = (int)(long)arg;
    unsigned seen = pool.start_gen[w]; /* not gen itself: the first job may be out already */
    for (;;) {
        unsigned g = seen;
        for (int k = 0; k < SPIN_ROUNDS && (g = __atomic_load_n(&pool.gen, __ATOMIC_ACQUIRE)) == seen; k++)
            cpu_relax();
        if (g == seen) {
            pthread_mutex_lock(&pool.mu);
            while ((g = __atomic_load_n(&pool.gen, __ATOMIC_ACQUIRE)) == seen && !pool.stop)
                pthread_cond_wait(&pool.wake, &pool.mu);
            int stop = pool.stop;
            pthread_mutex_unlock(&pool.mu);
            if (g == seen && stop) return NULL;
        }
        seen = g;
        if (w < pool.nt) run_chunk(&pool.job[w]);
        if (__atomic_sub_fetch(&pool.pending, 1, __ATOMIC_ACQ_REL) == 0) {
            pthread_mutex_lock(&pool.mu); /* the owner may be about to sleep: signal under mu */
            pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.mu);
        }
    }
}

static void pool_shutdown(void) {
    pthread_mutex_lock(&pool.mu);
    pool.stop = 1;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
    for (int w = 1; w <= pool.nworkers; w++) pthread_join(pool.tid[w], NULL);
    pool.nworkers = 0;
    pool.stop = 0;
}

/* A forked child has the parent's memory but none of its workers: forget them. */
static void pool_after_fork_child(void) {
    pool.nworkers = 0;
    pool.stop = 0;
    __atomic_store_n(&pool.busy, 0, __ATOMIC_RELAXED);
    pthread_mutex_init(&pool.mu, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.done, NULL);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void) { pthread_atfork(NULL, NULL, pool_after_fork_child); }

__attribute__((destructor)) static void pool_unload(void) {
    /* Only when no caller owns the pool (exit() from a thread while another runs a loop). */
    int idle = 0;
    if (__atomic_compare_exchange_n(&pool.busy, &idle, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        if (pool.nworkers > 0) pool_shutdown();
        __atomic_store_n(&pool.busy, 0, __ATOMIC_RELEASE);
    }
}

/* Owner only: start workers up to nt - 1. Returns the number running (may be fewer). */
static int pool_grow(int nt) {
    pthread_once(&atfork_once, register_atfork);
    while (pool.nworkers < nt - 1) {
        int w = pool.nworkers + 1;
        pool.start_gen[w] = __atomic_load_n(&pool.gen, __ATOMIC_RELAXED);
        if (pthread_create(&pool.tid[w], NULL, worker, (void *)(long)w) != 0) break;
        pool.nworkers = w;
    }
    return pool.nworkers;
}

void sv_parallel_for(int n, void (*fn)(void *ctx, int begin, int end), void *ctx) {
    int nt = seqvid_get_threads();
    if (nt > n) nt = n;
    if (nt > SV_MAX_THREADS) nt = SV_MAX_THREADS;
    if (nt <= 1) {
        if (n > 0) fn(ctx, 0, n);
        return;
    }
    int idle = 0;
    if (!__atomic_compare_exchange_n(&pool.busy, &idle, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        chunk c[SV_MAX_THREADS];
        split(c, nt, n, fn, ctx);
        run_with_new_threads(c, nt);
        return;
    }
    int have = pool_grow(nt);
    split(pool.job, nt, n, fn, ctx);
    pool.nt = have + 1 < nt ? have + 1 : nt; /* chunks past the workers run here, below */
    if (have > 0) {
        __atomic_store_n(&pool.pending, have, __ATOMIC_RELAXED);
        pthread_mutex_lock(&pool.mu); /* a worker may be between its check and its wait */
        __atomic_add_fetch(&pool.gen, 1, __ATOMIC_RELEASE);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.mu);
    }
    run_chunk(&pool.job[0]);
    for (int t = pool.nt; t < nt; t++) run_chunk(&pool.job[t]); /* workers that did not start */
    if (have > 0) {
        for (int k = 0; k < SPIN_ROUNDS && __atomic_load_n(&pool.pending, __ATOMIC_ACQUIRE) > 0; k++)
            cpu_relax();
        if (__atomic_load_n(&pool.pending, __ATOMIC_ACQUIRE) > 0) {
            pthread_mutex_lock(&pool.mu);
            while (__atomic_load_n(&pool.pending, __ATOMIC_ACQUIRE) > 0)
                pthread_cond_wait(&pool.done, &pool.mu);
            pthread_mutex_unlock(&pool.mu);
        }
    }
    __atomic_store_n(&pool.busy, 0, __ATOMIC_RELEASE);
}
