/* seqvid_mpi.c -- data-parallel training over MPI (include/seqvid_mpi.h, docs/distributed.md).
 *
 * Uses libseqvid's public API only: the gradient arena (seqvid_model_grads), the weights
 * (seqvid_model_params) and seqvid_optimizer_step. libseqvid itself knows nothing of MPI.
 *
 * A step, on every rank:
 *   1. gradients of the local contributions (micro-batches); earlier ones are kept in
 *      `stores`, the last stays in the model's gradient arena;
 *   2. AGREE: one small MPI_Allreduce(MAX) of doubles
 *        [ failure code | sequences per rank (p) | rec-loss sums (p) | fut-loss sums (p) |
 *          largest |g| per chunk of SEQVID_MPI_CHUNK parameters (n_chunks) ]
 *      A rank's slot holds its value and the others hold 0 (counts) or -inf (loss sums), so
 *      MAX gathers every rank's value. The failure code (size - rank) * 2^20 + status makes
 *      MAX pick the lowest failing rank; on failure that rank broadcasts its message and
 *      every rank returns before anything is written;
 *   3. PACK: with m_c the agreed largest |g| of chunk c and 2^(e-1) <= m_c < 2^e, the quantum
 *      is q_c = 2^(e-30); contribution j (weight w_j = S_j / S) adds
 *         Q_j[i] = rint(g_j[i] * w_j / q_c)       |Q_j[i]| <= w_j * 2^30
 *      into one int32 per parameter, written over the gradient arena in place. Because
 *      sum_j w_j = 1, every partial sum of all ranks' Q's stays below 2^30 + (#terms)/2 < 2^31:
 *      no overflow, whatever the order;
 *   4. ALLREDUCE: MPI_Allreduce(MPI_IN_PLACE, arena, n, MPI_UINT32_T, MPI_SUM) -- exact
 *      integer sums (unsigned: wrap-around is defined, though the bound above means none
 *      happens), hence independent of MPI's algorithm and of the rank count;
 *   5. UNPACK g[i] = (float)(A[i] * q_c), then seqvid_optimizer_step on every rank, and a
 *      tiny agreement on its status.
 * Error per element: each Q_j is off by at most q_c/2, so the sum of n terms is within
 * n * 2^(e-31) of the exact weighted sum, before the final rounding to float.
 *
 * The quantisation is written with plain double arithmetic on purpose (rint by adding and
 * subtracting 1.5 * 2^52, exact for |x| < 2^51): this file must not be compiled with
 * -ffast-math or -fassociative-math, which would fold that away.
 */
#include "seqvid_mpi.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK SEQVID_MPI_CHUNK
#define CODE_SCALE 1048576.0   /* 2^20: failure code = (size - rank) * 2^20 + status */
#define MAX_PIECE (1 << 30)     /* elements per MPI call (MPI counts are int) */
#define QBITS 30                /* |sum of quanta| < 2^30 (+ rounding) */
#define MSG_LEN 400

/* The three passes over the arena (maxima, pack, unpack) get an AVX2 clone, as the core's
 * loops do. Without contraction (-ffp-contract=off, lib/mpi/CMakeLists.txt) both clones
 * round every operation the same way, so they give the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(SEQVID_NO_CLONES)
#define VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define VECTOR_CLONES
#endif

struct seqvid_mpi {
    MPI_Comm comm;
    int rank, size;
    size_t n;        /* bound parameter count; 0 until the first call with a model */
    size_t n_chunks; /* ceil(n / CHUNK) */
    double *abuf;    /* the agreement buffer: 1 + 3 * size + n_chunks doubles */
    uint32_t *mx;    /* n_chunks: local largest |g| per chunk, as float bit patterns */
    float **stores;  /* gradients of earlier local micro-batches, n floats each */
    size_t n_stores;
    size_t *seqs;    /* sequences of each local contribution */
    double *w;       /* and its weight seqs / (global sequences) */
    size_t seqs_cap;
    char msg[MSG_LEN]; /* this rank's local failure message, until it has been agreed on */
    double t[SEQVID_MPI_T_COUNT_];
};

/* ------------------------------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------------------------- */
static _Thread_local char last_error[512];

const char *seqvid_mpi_last_error(void) { return last_error; }

static int fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

/* Record a local failure (message kept in ctx until the agreement). Returns status. */
static int local_fail(seqvid_mpi *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int local_fail(seqvid_mpi *c, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    return status;
}

#define CTX_NOT_NULL(c)                                                                       \
    do {                                                                                      \
        if (!(c)) return fail(SEQVID_ERR_NULL, "%s: the context is NULL (every rank must pass " \
                              "one: this rank cannot take part)", __func__);                  \
    } while (0)

/* A status as the agreement codes it; statuses outside [0, 2^20) become SEQVID_ERR_ARG. */
static int code_status(seqvid_mpi *c, int st) {
    if (st < 0 || st >= (int)CODE_SCALE) {
        local_fail(c, SEQVID_ERR_ARG, "status %d is not a seqvid_status", st);
        return SEQVID_ERR_ARG;
    }
    return st;
}

static double encode(const seqvid_mpi *c, int st) {
    return st ? (double)(c->size - c->rank) * CODE_SCALE + st : 0.0;
}

/* After an agreement: 0 -> OK; else the lowest failing rank broadcasts its message and every
 * rank returns its status (with "rank r: message" as seqvid_mpi_last_error). */
static int decode(seqvid_mpi *c, double code, const char *fn) {
    if (code == 0.0) return SEQVID_OK;
    int who = c->size - (int)floor(code / CODE_SCALE);
    int st = (int)(code - (double)(c->size - who) * CODE_SCALE);
    char msg[MSG_LEN];
    if (c->rank == who) memcpy(msg, c->msg, sizeof msg);
    MPI_Bcast(msg, MSG_LEN, MPI_CHAR, who, c->comm);
    msg[MSG_LEN - 1] = '\0';
    return fail(st, "%s: rank %d of %d failed: %s", fn, who, c->size, msg);
}

/* Agree on one status per rank (message of a failure in c->msg). */
static int agree(seqvid_mpi *c, int st, const char *fn) {
    double code = encode(c, code_status(c, st));
    MPI_Allreduce(MPI_IN_PLACE, &code, 1, MPI_DOUBLE, MPI_MAX, c->comm);
    return decode(c, code, fn);
}

/* ------------------------------------------------------------------------------------------
 * Context
 * ---------------------------------------------------------------------------------------- */
int seqvid_mpi_create(MPI_Comm comm, seqvid_mpi **out) {
    if (!out) return fail(SEQVID_ERR_NULL, "%s: argument 'out' is NULL", __func__);
    *out = NULL;
    int init = 0;
    MPI_Initialized(&init);
    if (!init) return fail(SEQVID_ERR_STATE, "%s: MPI is not initialised", __func__);
    seqvid_mpi *c = calloc(1, sizeof *c);
    int ok = c != NULL, all_ok = 0;
    /* Every rank must learn whether every other got its memory: agree on the communicator
     * the caller gave (nothing else exists yet). */
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, comm);
    if (!all_ok) {
        free(c);
        return fail(SEQVID_ERR_NOMEM, "%s: out of memory on %s", __func__,
                    ok ? "another rank" : "this rank");
    }
    MPI_Comm_dup(comm, &c->comm);
    MPI_Comm_rank(c->comm, &c->rank);
    MPI_Comm_size(c->comm, &c->size);
    *out = c;
    return SEQVID_OK;
}

static void free_buffers(seqvid_mpi *c) {
    for (size_t j = 0; j < c->n_stores; j++) free(c->stores[j]);
    free(c->stores);
    free(c->abuf);
    free(c->mx);
    free(c->seqs);
    free(c->w);
    c->stores = NULL, c->n_stores = 0, c->abuf = NULL, c->mx = NULL;
    c->seqs = NULL, c->w = NULL, c->seqs_cap = 0;
}

void seqvid_mpi_free(seqvid_mpi *c) {
    if (!c) return;
    free_buffers(c);
    MPI_Comm_free(&c->comm);
    free(c);
}

int seqvid_mpi_rank(const seqvid_mpi *c, int *rank) {
    CTX_NOT_NULL(c);
    if (!rank) return fail(SEQVID_ERR_NULL, "%s: argument 'rank' is NULL", __func__);
    *rank = c->rank;
    return SEQVID_OK;
}

int seqvid_mpi_size(const seqvid_mpi *c, int *size) {
    CTX_NOT_NULL(c);
    if (!size) return fail(SEQVID_ERR_NULL, "%s: argument 'size' is NULL", __func__);
    *size = c->size;
    return SEQVID_OK;
}

int seqvid_mpi_timings(const seqvid_mpi *c, double *seconds, size_t count) {
    CTX_NOT_NULL(c);
    if (!seconds) return fail(SEQVID_ERR_NULL, "%s: argument 'seconds' is NULL", __func__);
    if (count > SEQVID_MPI_T_COUNT_)
        return fail(SEQVID_ERR_ARG, "%s: count %zu > %d timers", __func__, count,
                    SEQVID_MPI_T_COUNT_);
    memcpy(seconds, c->t, count * sizeof *seconds);
    return SEQVID_OK;
}

int seqvid_mpi_agree(seqvid_mpi *c, int status) {
    CTX_NOT_NULL(c);
    if (status) snprintf(c->msg, sizeof c->msg, "%s", seqvid_last_error());
    return agree(c, status, __func__);
}

/* Bind the context to the model's parameter count. The first call is collective and agreed
 * (every rank gets the same outcome, so whether a later call binds is the same everywhere);
 * later calls only check locally and return a status the caller must still agree on. */
static int bind(seqvid_mpi *c, const seqvid_model *model, const char *fn, int *agreed) {
    size_t n = 0;
    int st = SEQVID_OK;
    *agreed = 0;
    if (!model) st = local_fail(c, SEQVID_ERR_NULL, "%s: argument 'model' is NULL", fn);
    else seqvid_model_param_count(model, &n);
    if (c->n) {
        if (!st && n != c->n)
            st = local_fail(c, SEQVID_ERR_SHAPE, "%s: the model has %zu parameters, the "
                            "context is bound to %zu", fn, n, c->n);
        return st;
    }
    *agreed = 1;
    size_t n_chunks = (n + CHUNK - 1) / CHUNK;
    /* The agreement buffer's length is an int count of doubles. */
    if (!st && n_chunks > (size_t)(2147483647 - 1 - 3 * (size_t)c->size))
        st = local_fail(c, SEQVID_ERR_OVERFLOW, "%s: %zu parameters is too many", fn, n);
    if (!st) {
        c->abuf = malloc((1 + 3 * (size_t)c->size + n_chunks) * sizeof *c->abuf);
        c->mx = malloc((n_chunks ? n_chunks : 1) * sizeof *c->mx);
        if (!c->abuf || !c->mx) st = local_fail(c, SEQVID_ERR_NOMEM, "%s: out of memory", fn);
    }
    double v[3] = {encode(c, st), (double)n, -(double)n};
    MPI_Allreduce(MPI_IN_PLACE, v, 3, MPI_DOUBLE, MPI_MAX, c->comm);
    st = decode(c, v[0], fn);
    if (!st && v[1] != -v[2])
        st = fail(SEQVID_ERR_SHAPE, "%s: the ranks' models differ in size (%.0f to %.0f "
                  "parameters)", fn, -v[2], v[1]);
    if (st) {
        free_buffers(c);
        return st;
    }
    c->n = n, c->n_chunks = n_chunks;
    return SEQVID_OK;
}

/* ------------------------------------------------------------------------------------------
 * The exact average
 * ---------------------------------------------------------------------------------------- */

/* Largest |g| bits of chunks [c0, c1), folded into mx (uint32 max of the absolute bit
 * patterns orders non-negative floats as numbers). Returns 0 if an element is NaN or Inf. */
VECTOR_CLONES
static int chunk_maxima(const float *g, size_t n, uint32_t *mx, size_t c0, size_t c1) {
    uint32_t worst = 0;
    for (size_t c = c0; c < c1; c++) {
        size_t lo = c * CHUNK, hi = lo + CHUNK < n ? lo + CHUNK : n;
        uint32_t m = 0;
        for (size_t i = lo; i < hi; i++) {
            uint32_t u;
            memcpy(&u, g + i, sizeof u);
            u &= 0x7fffffffu;
            m = u > m ? u : m;
        }
        mx[c] = m > mx[c] ? m : mx[c];
        worst = m > worst ? m : worst;
    }
    return worst < 0x7f800000u;
}

static double bits_to_double(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return (double)f;
}

/* rint(x) for |x| < 2^51 (round half to even): the sum's rounding does it, exactly and the
 * same on every machine with IEEE doubles. */
static inline double round_even(double x) {
    const double magic = 6755399441055744.0; /* 1.5 * 2^52 */
    return (x + magic) - magic;
}

/* The quantum exponent of a chunk whose largest |g| is m > 0: q = 2^(e - QBITS), m < 2^e. */
static int chunk_exponent(double m) {
    int e;
    frexp(m, &e);
    return e;
}

/* Chunks [c0, c1) of the arena := sum_j Q_j as int32 bit patterns. src[j] are the
 * contributions (the last may be the arena itself: a chunk is read before it is written),
 * w[j] their weights, maxima the agreed chunk maxima. */
VECTOR_CLONES
static void pack(float *arena, size_t n, const float *const *src, const double *w, size_t k,
                 const double *maxima, size_t c0, size_t c1) {
    for (size_t c = c0; c < c1; c++) {
        size_t lo = c * CHUNK, len = lo + CHUNK < n ? CHUNK : n - lo;
        uint32_t acc[CHUNK];
        memset(acc, 0, sizeof acc);
        if (maxima[c] > 0.0) {
            double inv_q = ldexp(1.0, QBITS - chunk_exponent(maxima[c]));
            for (size_t j = 0; j < k; j++) {
                const float *g = src[j] + lo;
                double s = w[j] * inv_q;
                for (size_t i = 0; i < len; i++)
                    acc[i] += (uint32_t)(int32_t)round_even((double)g[i] * s);
            }
        }
        memcpy(arena + lo, acc, len * sizeof *acc);
    }
}

VECTOR_CLONES
static void unpack(float *arena, size_t n, const double *maxima, size_t c0, size_t c1) {
    for (size_t c = c0; c < c1; c++) {
        size_t lo = c * CHUNK, len = lo + CHUNK < n ? CHUNK : n - lo;
        double q = maxima[c] > 0.0 ? ldexp(1.0, chunk_exponent(maxima[c]) - QBITS) : 0.0;
        int32_t a[CHUNK];
        memcpy(a, arena + lo, len * sizeof *a);
        for (size_t i = 0; i < len; i++) arena[lo + i] = (float)((double)a[i] * q);
    }
}

/* The three passes run over chunk ranges on the rank's threads (seqvid_get_threads(), the
 * same count BLAS uses): they are memory-bound loops over the whole arena, a cost per rank
 * that does not shrink with more ranks. Chunks are independent, so the split changes no bit. */
enum pass { PASS_MAXIMA, PASS_PACK, PASS_UNPACK };
typedef struct pass_job {
    enum pass pass;
    float *arena;
    size_t n;
    const float *const *src;
    const double *w, *maxima;
    size_t k;
    uint32_t *mx;
    size_t c0, c1;
    int ok;
} pass_job;

#define MAX_THREADS 64
#define MIN_CHUNKS_PER_THREAD 1024 /* 256 K parameters: below, a thread costs more than it saves */

static void *run_pass(void *arg) {
    pass_job *j = arg;
    j->ok = 1;
    switch (j->pass) {
    case PASS_MAXIMA: j->ok = chunk_maxima(j->src[0], j->n, j->mx, j->c0, j->c1); break;
    case PASS_PACK: pack(j->arena, j->n, j->src, j->w, j->k, j->maxima, j->c0, j->c1); break;
    case PASS_UNPACK: unpack(j->arena, j->n, j->maxima, j->c0, j->c1); break;
    }
    return NULL;
}

/* Run `proto` over every chunk; 1 if every part reported ok. */
static int run_parallel(pass_job proto, size_t n_chunks) {
    int nt = seqvid_get_threads();
    if (nt > MAX_THREADS) nt = MAX_THREADS;
    if ((size_t)nt > n_chunks / MIN_CHUNKS_PER_THREAD) nt = (int)(n_chunks / MIN_CHUNKS_PER_THREAD);
    if (nt < 1) nt = 1;
    pass_job job[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (int t = 0; t < nt; t++) {
        job[t] = proto;
        job[t].c0 = n_chunks * (size_t)t / (size_t)nt;
        job[t].c1 = n_chunks * (size_t)(t + 1) / (size_t)nt;
    }
    for (int t = 1; t < nt; t++) started[t] = pthread_create(&tid[t], NULL, run_pass, &job[t]) == 0;
    run_pass(&job[0]);
    int ok = job[0].ok;
    for (int t = 1; t < nt; t++) {
        if (started[t]) pthread_join(tid[t], NULL);
        else run_pass(&job[t]); /* no thread: do its share here */
        ok &= job[t].ok;
    }
    return ok;
}

/* Steps 2-5 of the file comment. st: this rank's status so far (message in c->msg);
 * src[0..k): its contributions with seqs[j] sequences each (src[k-1] may be the arena);
 * rec_sum, fut_sum: sum_j seqs[j] * loss_j. */
static int reduce_and_step(seqvid_mpi *c, seqvid_model *model, seqvid_optimizer *opt, int st,
                           const float *const *src, size_t k, double rec_sum, double fut_sum,
                           float *rec_loss, float *fut_loss, const char *fn) {
    const int p = c->size;
    double *code = c->abuf, *counts = code + 1, *recs = counts + p, *futs = recs + p;
    double *maxima = futs + p;
    double t0 = MPI_Wtime();

    /* Local part of the agreement buffer. */
    uint32_t *mx = c->mx;
    memset(mx, 0, c->n_chunks * sizeof *mx);
    size_t local_seqs = 0;
    for (size_t j = 0; j < k && !st; j++) {
        local_seqs += c->seqs[j];
        pass_job pj = {.pass = PASS_MAXIMA, .n = c->n, .src = src + j, .mx = mx};
        if (!run_parallel(pj, c->n_chunks))
            st = local_fail(c, SEQVID_ERR_NONFINITE, "%s: the gradient of local contribution "
                            "%zu holds NaN or Inf", fn, j);
    }
    for (size_t i = 0; i < c->n_chunks; i++) maxima[i] = st ? 0.0 : bits_to_double(mx[i]);
    for (int r = 0; r < p; r++) counts[r] = 0.0, recs[r] = -INFINITY, futs[r] = -INFINITY;
    if (!st && local_seqs >= (size_t)1 << 30)
        st = local_fail(c, SEQVID_ERR_ARG, "%s: %zu sequences on this rank (at most 2^30)", fn,
                        local_seqs);
    if (!st) counts[c->rank] = (double)local_seqs, recs[c->rank] = rec_sum,
             futs[c->rank] = fut_sum;
    code[0] = encode(c, st);
    double t1 = MPI_Wtime();
    c->t[SEQVID_MPI_T_PACK] += t1 - t0;

    MPI_Allreduce(MPI_IN_PLACE, c->abuf, (int)(1 + 3 * (size_t)p + c->n_chunks), MPI_DOUBLE,
                  MPI_MAX, c->comm);
    double t2 = MPI_Wtime();
    c->t[SEQVID_MPI_T_AGREE] += t2 - t1;
    if ((st = decode(c, code[0], fn))) return st;

    /* Every rank now knows the same total, losses and maxima. */
    double total = 0.0, rec = 0.0, fut = 0.0;
    for (int r = 0; r < p; r++)
        if (counts[r] > 0) total += counts[r], rec += recs[r], fut += futs[r];
    if (!(total > 0)) return fail(SEQVID_ERR_ARG, "%s: no rank has a sequence to train on", fn);
    if (total >= 1073741824.0)
        return fail(SEQVID_ERR_ARG, "%s: %.0f sequences in the global batch (at most 2^30)", fn,
                    total);

    float *arena;
    seqvid_model_grads(model, &arena);
    for (size_t j = 0; j < k; j++) c->w[j] = (double)c->seqs[j] / total;
    pass_job pj = {.pass = PASS_PACK, .arena = arena, .n = c->n, .src = src, .w = c->w,
                   .maxima = maxima, .k = k};
    run_parallel(pj, c->n_chunks);
    double t3 = MPI_Wtime();
    c->t[SEQVID_MPI_T_PACK] += t3 - t2;

    for (size_t done = 0; done < c->n; done += MAX_PIECE) {
        size_t piece = c->n - done < MAX_PIECE ? c->n - done : MAX_PIECE;
        MPI_Allreduce(MPI_IN_PLACE, arena + done, (int)piece, MPI_UINT32_T, MPI_SUM, c->comm);
    }
    double t4 = MPI_Wtime();
    c->t[SEQVID_MPI_T_ALLREDUCE] += t4 - t3;
    pj.pass = PASS_UNPACK;
    run_parallel(pj, c->n_chunks);
    double t5 = MPI_Wtime();
    c->t[SEQVID_MPI_T_PACK] += t5 - t4;

    if (opt) {
        /* Every rank applies the same gradient to the same weights, so the outcome can only
         * differ where a rank is short of memory (the optimizer allocates its state at its
         * first step). Agree; if some ranks stepped and others did not, say so. */
        st = seqvid_optimizer_step(opt, model);
        if (st) local_fail(c, st, "%s", seqvid_last_error());
        double v[2] = {encode(c, st), st ? 0.0 : 1.0};
        MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_DOUBLE, MPI_MAX, c->comm);
        c->t[SEQVID_MPI_T_UPDATE] += MPI_Wtime() - t5;
        if ((st = decode(c, v[0], fn))) {
            if (v[1] > 0)
                return fail(SEQVID_ERR_STATE, "%s; other ranks did step: the ranks' weights now "
                            "differ (reload the last checkpoint)", seqvid_mpi_last_error());
            return st;
        }
    }
    if (rec_loss) *rec_loss = (float)(rec / total);
    if (fut_loss) *fut_loss = (float)(fut / total);
    return SEQVID_OK;
}

static int reserve_seqs(seqvid_mpi *c, size_t k) {
    if (k <= c->seqs_cap) return 1;
    size_t *s = realloc(c->seqs, k * sizeof *s);
    if (s) c->seqs = s;
    double *w = realloc(c->w, k * sizeof *w);
    if (w) c->w = w;
    if (!s || !w) return 0;
    c->seqs_cap = k;
    return 1;
}

int seqvid_mpi_train_step(seqvid_mpi *c, seqvid_model *model, seqvid_optimizer *opt,
                          seqvid_batch *const *micro, size_t n_micro, float *rec_loss,
                          float *fut_loss) {
    static const char fn[] = "seqvid_mpi_train_step";
    CTX_NOT_NULL(c);
    int agreed, st = bind(c, model, fn, &agreed);
    if (agreed && st) return st;
    double t0 = MPI_Wtime();
    if (!st && !opt) st = local_fail(c, SEQVID_ERR_NULL, "%s: argument 'opt' is NULL", fn);
    if (!st && n_micro && !micro)
        st = local_fail(c, SEQVID_ERR_NULL, "%s: argument 'micro' is NULL", fn);
    if (!st && !reserve_seqs(c, n_micro ? n_micro : 1))
        st = local_fail(c, SEQVID_ERR_NOMEM, "%s: out of memory", fn);
    /* Room for the gradients of all micro-batches but the last. */
    if (!st && n_micro > 1 && c->n_stores < n_micro - 1) {
        float **s = realloc(c->stores, (n_micro - 1) * sizeof *s);
        if (s) {
            c->stores = s;
            while (c->n_stores < n_micro - 1 &&
                   (s[c->n_stores] = malloc(c->n * sizeof(float))) != NULL)
                c->n_stores++;
        }
        if (c->n_stores < n_micro - 1)
            st = local_fail(c, SEQVID_ERR_NOMEM, "%s: out of memory for %zu gradient copies of "
                            "%zu floats", fn, n_micro - 1, c->n);
    }

    float *arena = NULL;
    const float *src_stack[8];
    const float **src = n_micro <= 8 ? src_stack : malloc(n_micro * sizeof *src);
    if (!st && !src) st = local_fail(c, SEQVID_ERR_NOMEM, "%s: out of memory", fn);
    if (!st) seqvid_model_grads(model, &arena);
    double rec = 0.0, fut = 0.0;
    for (size_t j = 0; j < n_micro && !st; j++) {
        float r, f;
        size_t S = 0;
        if (!micro[j]) {
            st = local_fail(c, SEQVID_ERR_NULL, "%s: micro-batch %zu is NULL", fn, j);
            break;
        }
        seqvid_batch_shape(micro[j], NULL, &S, NULL);
        st = seqvid_model_gradients(model, micro[j], &r, &f);
        if (st) {
            local_fail(c, st, "micro-batch %zu: %s", j, seqvid_last_error());
            break;
        }
        c->seqs[j] = S;
        rec += (double)S * r, fut += (double)S * f;
        if (j + 1 < n_micro) {
            memcpy(c->stores[j], arena, c->n * sizeof *arena);
            src[j] = c->stores[j];
        } else {
            src[j] = arena;
        }
    }
    c->t[SEQVID_MPI_T_GRADIENTS] += MPI_Wtime() - t0;
    st = reduce_and_step(c, model, opt, st, src, st ? 0 : n_micro, rec, fut, rec_loss, fut_loss,
                         fn);
    if (src != src_stack) free(src);
    return st;
}

int seqvid_mpi_step(seqvid_mpi *c, seqvid_model *model, seqvid_optimizer *opt, size_t n_seqs,
                    int status) {
    static const char fn[] = "seqvid_mpi_step";
    CTX_NOT_NULL(c);
    if (status) snprintf(c->msg, sizeof c->msg, "%s", seqvid_last_error());
    int agreed, st = bind(c, model, fn, &agreed);
    if (agreed && st) return st;
    if (!st) st = code_status(c, status);
    if (!st && !reserve_seqs(c, 1)) st = local_fail(c, SEQVID_ERR_NOMEM, "%s: out of memory", fn);
    const float *src[1] = {NULL};
    if (!st) {
        float *arena;
        seqvid_model_grads(model, &arena);
        src[0] = arena;
        c->seqs[0] = n_seqs;
    }
    return reduce_and_step(c, model, opt, st, src, st || n_seqs == 0 ? 0 : 1, 0.0, 0.0, NULL,
                           NULL, fn);
}

/* ------------------------------------------------------------------------------------------
 * Weights and checkpoints
 * ---------------------------------------------------------------------------------------- */
int seqvid_mpi_broadcast_params(seqvid_mpi *c, seqvid_model *model) {
    static const char fn[] = "seqvid_mpi_broadcast_params";
    CTX_NOT_NULL(c);
    int agreed, st = bind(c, model, fn, &agreed);
    if (!agreed) st = agree(c, st, fn);
    if (st) return st;
    float *w;
    seqvid_model_params(model, &w);
    for (size_t done = 0; done < c->n; done += MAX_PIECE) {
        size_t piece = c->n - done < MAX_PIECE ? c->n - done : MAX_PIECE;
        MPI_Bcast(w + done, (int)piece, MPI_FLOAT, 0, c->comm);
    }
    return SEQVID_OK;
}

int seqvid_mpi_checkpoint_save(seqvid_mpi *c, const char *path, const seqvid_model *model,
                               const seqvid_optimizer *opt, const seqvid_mmnist *gen,
                               uint64_t step) {
    static const char fn[] = "seqvid_mpi_checkpoint_save";
    CTX_NOT_NULL(c);
    int st = SEQVID_OK;
    if (c->rank == 0) {
        st = seqvid_checkpoint_save(path, model, opt, gen, step);
        if (st) local_fail(c, st, "%s", seqvid_last_error());
    }
    /* Only rank 0 can fail: its status is the agreement. */
    return agree(c, st, fn);
}

/* 64-bit hash of bytes (FNV-1a over 8-byte words, then a final mix); equal inputs, equal
 * hashes on every rank. */
static uint64_t hash_words(uint64_t h, const void *data, size_t bytes) {
    const unsigned char *p = data;
    size_t i = 0;
    for (; i + 8 <= bytes; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, sizeof w);
        h = (h ^ w) * 0x100000001b3ull;
    }
    for (; i < bytes; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

int seqvid_mpi_checkpoint_load(seqvid_mpi *c, const char *path, seqvid_model **model,
                               seqvid_optimizer **opt, seqvid_mmnist *gen, uint64_t *step) {
    static const char fn[] = "seqvid_mpi_checkpoint_load";
    CTX_NOT_NULL(c);
    seqvid_model *m = NULL;
    seqvid_optimizer *o = NULL;
    uint64_t s = 0, h = 0xcbf29ce484222325ull;
    int st = SEQVID_OK;
    if (!model || !opt || !step)
        st = local_fail(c, SEQVID_ERR_NULL, "%s: an output argument is NULL", fn);
    else if ((st = seqvid_checkpoint_load(path, &m, &o, gen, &s)))
        local_fail(c, st, "%s", seqvid_last_error());
    if (!st) {
        /* What must agree: the weights, the step, the optimizer's step count and settings. */
        size_t n;
        float *w;
        uint64_t steps;
        seqvid_model_param_count(m, &n);
        seqvid_model_params(m, &w);
        seqvid_optimizer_steps(o, &steps);
        h = hash_words(h, w, n * sizeof *w);
        h = hash_words(h, &s, sizeof s);
        h = hash_words(h, &steps, sizeof steps);
        for (int key = SEQVID_OPT_LR; key <= SEQVID_OPT_EPS; key++) {
            double v;
            if (seqvid_optimizer_get(o, key, &v) == SEQVID_OK) h = hash_words(h, &v, sizeof v);
        }
    }
    double code = encode(c, st);
    /* MAX of h and of ~h: all equal iff max(h) == ~max(~h) (= min(h)). */
    uint64_t hv[2] = {h, ~h};
    MPI_Allreduce(MPI_IN_PLACE, &code, 1, MPI_DOUBLE, MPI_MAX, c->comm);
    MPI_Allreduce(MPI_IN_PLACE, hv, 2, MPI_UINT64_T, MPI_MAX, c->comm);
    st = decode(c, code, fn);
    if (!st && hv[0] != ~hv[1])
        st = fail(SEQVID_ERR_STATE, "%s: the ranks loaded different checkpoints from '%s' "
                  "(weights, step or optimizer differ)", fn, path ? path : "(null)");
    if (st) {
        seqvid_model_free(m);
        seqvid_optimizer_free(o);
        return st;
    }
    *model = m, *opt = o, *step = s;
    return SEQVID_OK;
}
