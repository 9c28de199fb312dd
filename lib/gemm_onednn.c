/* gemm_onednn.c -- the oneDNN backend of blas.h (Debian libdnnl-dev 2.6, OpenMP runtime).
 *
 * One-row float32 products stream B in plain C (below); the others take one of three paths,
 * all on oneDNN's matmul primitive:
 *   plain   float32, operands as they are (B re-packed by oneDNN on each call). Not
 *           dnnl_sgemm: that splits K between threads on the data-gradient shapes (dA W^T),
 *           so its results change with the thread count.
 *   cached  the matmul primitive with its weights in the layout it prefers
 *           (dnnl_format_tag_any): when B lies in memory registered as weights
 *           (sv_blas_weights_register), B is reordered once per (address, layout, version)
 *           and the copy is reused by every later product with it, until the owner bumps
 *           the version. This is how the recurrent weights stop being packed 60 times a step.
 *   bf16    (opt-in, sv_blas_set_bf16, AVX512-BF16 only) the matmul primitive on bfloat16
 *           operands with float32 accumulation and output: A is rounded to bf16 per call
 *           (round to nearest even), B through the cache when registered (converted once),
 *           else per call. Not for sv_sgemm_f32 nor sv_sgemm_grad (the weight gradients):
 *           float32 always.
 * Matmul primitives are created once per shape (and thread count: oneDNN sizes its work
 * split at creation) and kept in a small table; scratch memory is per calling thread.
 *
 * Results do not depend on the thread count (include/seqvid.h, "Determinism"). oneDNN's
 * brgemm matmul kernels (AVX-512 CPUs: implementations named "brg:...") split only M and N
 * between threads, so at any count they give the same bits (measured on every shape of the
 * step; tests/test_gemm.c and test_determinism check it). Its gemm-based matmul ("gemm:jit",
 * what AVX2-only CPUs get) may split K: on a 2-core Zen 3, 3 threads against 1 changed 66%
 * of the floats of test_determinism's runs. A product whose primitive is not a brgemm one is
 * therefore cut as gemm_chunks.h says instead, at every thread count (1 too: the pieces must
 * be the same whatever the count), each chunk a single-threaded matmul on B as stored
 * (gemm-based kernels pack B per call anyway: a cached copy buys nothing there), the chunks
 * spread over the library's threads, as the CBLAS backend does.
 *
 * Threads: Debian builds oneDNN on OpenMP, whose team size is a per-thread setting; every
 * product sets the calling thread's to the library's count (sv_blas_set_threads) and
 * restores the caller's afterwards.
 *
 * Failures: oneDNN returns statuses; the only ones reachable here are out-of-memory and
 * "unimplemented" (a shape/type the CPU's kernels do not cover: bf16 without AVX-512). Every
 * one degrades to the next path -- matmul on cached weights -> matmul on B as stored ->
 * dnnl_sgemm -> a plain C loop -- so the product is always computed; each degradation is
 * counted (sv_blas_info().fallbacks). */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h> /* dnnl_cpu_isa2str */
#include "alloc.h"
#include "bf16.h" /* sv_bf16_cpu */
#include "blas.h"
#include "fastmath.h" /* SV_VECTOR_CLONES */
#include "gemm_chunks.h"
#include "packed.h"
#include "parallel.h"

/* ---- state ------------------------------------------------------------------------------ */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static dnnl_engine_t engine; /* NULL: oneDNN unusable, every product takes the C loop */
static atomic_int n_threads;
/* Per calling thread: a model sets it for its own call (its precision key), so two models of
 * different precision may run in two threads at once. Products are issued by the calling
 * thread (the library's worker threads run element-wise loops and the chunks of a chunked
 * product, which are told the mode: gemm()'s bf16 argument). */
static _Thread_local int bf16_on;
static atomic_ulong n_fallbacks, n_reorders, n_hits, n_prims;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* the tables below */

static void init(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    atomic_store(&n_threads, cores > 0 ? (int)cores : 1);
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) engine = NULL;
}

/* Products below this many multiply-adds run on one thread: waking a team costs more than
 * they take (OpenBLAS draws the same line: 65536 x 4), and on a busy machine a parallel
 * region waits for a time slice. */
#define SMALL_WORK 262144.0

static int threads_for_call(double work) {
    pthread_once(&init_once, init);
    return work < SMALL_WORK ? 1 : atomic_load(&n_threads);
}

void sv_blas_set_threads(int n) {
    pthread_once(&init_once, init);
    atomic_store(&n_threads, n > 0 ? n : 1);
}

int sv_blas_get_threads(void) {
    pthread_once(&init_once, init);
    return atomic_load(&n_threads);
}

/* ---- registered weights ------------------------------------------------------------------ */
#define MAX_RANGES 64
static struct { const float *base; size_t n; const unsigned *version; } ranges[MAX_RANGES];

int sv_blas_weights_register(const float *base, size_t n, const unsigned *version) {
    int st = -1;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_RANGES && st; i++)
        if (!ranges[i].base) ranges[i].base = base, ranges[i].n = n, ranges[i].version = version, st = 0;
    pthread_mutex_unlock(&lock);
    return st;
}

/* The weight copies of a range die with it (defined below, after the table they live in). */
static void drop_weight_copies(const float *base, size_t n);

void sv_blas_weights_unregister(const float *base) {
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_RANGES; i++)
        if (ranges[i].base == base) {
            drop_weight_copies(base, ranges[i].n);
            ranges[i].base = NULL;
        }
    pthread_mutex_unlock(&lock);
}

/* Under the lock: is [p, p + len) inside a registered range? Then its current version. */
static int find_range(const float *p, size_t len, unsigned *version) {
    for (int i = 0; i < MAX_RANGES; i++) {
        const float *b = ranges[i].base;
        if (b && p >= b && p + len <= b + ranges[i].n) {
            *version = *ranges[i].version;
            return 1;
        }
    }
    return 0;
}

/* ---- bf16 ------------------------------------------------------------------------------- */
int sv_blas_bf16_supported(void) {
    pthread_once(&init_once, init);
    if (!engine || !sv_bf16_cpu()) return 0;
    /* oneDNN's own view (it honours ONEDNN_MAX_CPU_ISA too). */
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return ((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) ==
           (unsigned)dnnl_cpu_isa_avx512_core_bf16;
}

int sv_blas_set_bf16(int on) {
    int mode = on && sv_blas_bf16_supported();
    bf16_on = mode;
    return mode;
}

int sv_blas_get_bf16(void) { return bf16_on; }

/* float -> bfloat16, rounded to nearest even (oneDNN's reorders round the same way); NaN
 * stays NaN. */
static inline uint16_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* rows x cols of a row-major matrix with row stride ld -> packed bf16 rows x cols. */
static void pack_bf16(const float *X, int rows, int cols, int ld, uint16_t *out) {
    for (int r = 0; r < rows; r++) {
        const float *x = X + (size_t)r * ld;
        uint16_t *o = out + (size_t)r * cols;
        for (int c = 0; c < cols; c++) o[c] = to_bf16(x[c]);
    }
}

/* ---- per-thread state -------------------------------------------------------------------
 * Buffers (bf16 operands, the primitive's scratchpad), a stream, and for each slot of the
 * primitive table the memory objects of its four arguments: a product then only repoints
 * them (dnnl_memory_set_data_handle) instead of allocating, which for small products costs
 * more than the arithmetic. */
#define MAX_PRIMS 64
typedef struct tl_mem { unsigned long gen; dnnl_memory_t m[4]; } tl_mem;
typedef struct tls {
    void *p[3];
    size_t n[3];
    dnnl_stream_t stream;
    tl_mem mem[MAX_PRIMS];
} tls;
static pthread_key_t tls_key;
static int tls_ok;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tl_mem_clear(tl_mem *t) {
    for (int i = 0; i < 4; i++)
        if (t->m[i]) dnnl_memory_destroy(t->m[i]), t->m[i] = NULL;
    t->gen = 0;
}

static void tls_free(void *s_) {
    tls *s = s_;
    for (int i = 0; i < 3; i++) free(s->p[i]);
    for (int i = 0; i < MAX_PRIMS; i++) tl_mem_clear(&s->mem[i]);
    if (s->stream) dnnl_stream_destroy(s->stream);
    free(s);
}
static void tls_init(void) { tls_ok = pthread_key_create(&tls_key, tls_free) == 0; }

static tls *tls_get(void) {
    pthread_once(&tls_once, tls_init);
    if (!tls_ok) return NULL;
    tls *s = pthread_getspecific(tls_key);
    if (!s) {
        if (!(s = sv_calloc(1, sizeof *s))) return NULL;
        if (pthread_setspecific(tls_key, s) != 0) return free(s), NULL;
    }
    if (!s->stream && dnnl_stream_create(&s->stream, engine, dnnl_stream_default_flags) !=
                          dnnl_success)
        s->stream = NULL;
    return s->stream ? s : NULL;
}

/* Buffer i of this thread with at least `bytes` bytes (64-aligned); NULL if no memory. */
static void *scratch_get(tls *s, int i, size_t bytes) {
    if (s->n[i] < bytes) {
        void *p = sv_aligned_alloc(64, (bytes + 63) & ~(size_t)63);
        if (!p) return NULL;
        free(s->p[i]);
        s->p[i] = p, s->n[i] = bytes;
    }
    return s->p[i];
}

/* ---- matmul primitives, one per shape ---------------------------------------------------- */
typedef struct mm_key {
    int bf16, cached_b; /* bf16 operands; B in the primitive's preferred layout */
    int ta, tb, M, N, K, lda, ldb, ldc, threads;
    float alpha, beta;
} mm_key;

typedef struct mm_entry {
    mm_key key;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t a_md, b_md, b_plain_md, c_md; /* b_md: what the primitive reads */
    size_t scratch_bytes;
    unsigned long gen; /* creation stamp: per-thread memory objects belong to one entry */
    unsigned long last_use;
    int in_use;
    int invariant; /* a brgemm kernel: results independent of the thread count (header) */
} mm_entry;

static mm_entry prims[MAX_PRIMS];
static unsigned long use_clock, gen_clock;

static void md_2d(dnnl_memory_desc_t *md, int rows, int cols, int trans, int ld,
                  dnnl_data_type_t dt) {
    /* Logical rows x cols; stored row-major with stride ld, or transposed (cols x rows). */
    dnnl_dims_t dims = {rows, cols}, strides = {trans ? 1 : ld, trans ? ld : 1};
    dnnl_memory_desc_init_by_strides(md, 2, dims, dt, strides);
}

/* Create the primitive of key k into e (not under the lock: JIT takes milliseconds). */
static int mm_create(const mm_key *k, mm_entry *e) {
    dnnl_data_type_t in = k->bf16 ? dnnl_bf16 : dnnl_f32;
    /* bf16 operands are packed per call (A always, B when not cached): dense strides. */
    int lda = k->bf16 ? (k->ta ? k->M : k->K) : k->lda;
    int ldb = k->bf16 && !k->cached_b ? (k->tb ? k->K : k->N) : k->ldb;
    md_2d(&e->a_md, k->M, k->K, k->ta, lda, in);
    md_2d(&e->b_plain_md, k->K, k->N, k->tb, k->ldb, dnnl_f32);
    if (k->cached_b) {
        dnnl_dims_t dims = {k->K, k->N};
        dnnl_memory_desc_init_by_tag(&e->b_md, 2, dims, in, dnnl_format_tag_any);
    } else {
        md_2d(&e->b_md, k->K, k->N, k->tb, ldb, in);
    }
    md_2d(&e->c_md, k->M, k->N, 0, k->ldc, dnnl_f32);

    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_matmul_desc_t desc;
    int ok = dnnl_primitive_attr_create(&attr) == dnnl_success &&
             dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) ==
                 dnnl_success;
    if (ok && k->alpha != 1.0f)
        ok = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &k->alpha) == dnnl_success;
    if (ok && k->beta != 0.0f)
        ok = dnnl_post_ops_create(&po) == dnnl_success &&
             dnnl_post_ops_append_sum(po, k->beta) == dnnl_success &&
             dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
    ok = ok && dnnl_matmul_desc_init(&desc, &e->a_md, &e->b_md, NULL, &e->c_md) == dnnl_success &&
         dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL) == dnnl_success;
    if (ok) {
        e->b_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        e->scratch_bytes = dnnl_memory_desc_get_size(
            dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0));
        const char *impl = NULL;
        if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success)
            impl = NULL;
        e->invariant = impl && !strncmp(impl, "brg", 3);
        ok = dnnl_primitive_create(&e->prim, pd) == dnnl_success;
    }
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (ok) e->key = *k, atomic_fetch_add(&n_prims, 1);
    return ok;
}

/* An entry for k, marked in use; NULL if it cannot be made. Unused entries are evicted least
 * recently used first; if all are in use (many threads, many shapes at once) the entry is a
 * private one (*owned = 1) that the caller destroys. */
static mm_entry *mm_get(const mm_key *k, int *owned) {
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_PRIMS; i++)
        if (prims[i].prim && !memcmp(&prims[i].key, k, sizeof *k)) {
            prims[i].in_use++, prims[i].last_use = ++use_clock;
            pthread_mutex_unlock(&lock);
            *owned = 0;
            return &prims[i];
        }
    pthread_mutex_unlock(&lock);
    mm_entry fresh = {0};
    if (!mm_create(k, &fresh)) return NULL;
    pthread_mutex_lock(&lock);
    int victim = -1;
    for (int i = 0; i < MAX_PRIMS; i++)
        if (!prims[i].in_use && (victim < 0 || prims[i].last_use < prims[victim].last_use))
            victim = i;
    if (victim < 0) {
        pthread_mutex_unlock(&lock);
        mm_entry *own = sv_malloc(sizeof *own);
        if (!own) return dnnl_primitive_destroy(fresh.prim), NULL;
        *own = fresh, *owned = 1;
        return own;
    }
    if (prims[victim].prim) dnnl_primitive_destroy(prims[victim].prim);
    prims[victim] = fresh;
    prims[victim].in_use = 1, prims[victim].last_use = ++use_clock;
    prims[victim].gen = ++gen_clock;
    pthread_mutex_unlock(&lock);
    *owned = 0;
    return &prims[victim];
}

static void mm_release(mm_entry *e, int owned) {
    if (owned) {
        dnnl_primitive_destroy(e->prim);
        free(e);
        return;
    }
    pthread_mutex_lock(&lock);
    e->in_use--;
    pthread_mutex_unlock(&lock);
}

/* ---- weight copies ------------------------------------------------------------------------ */
typedef struct w_entry {
    const float *src;
    dnnl_memory_desc_t plain_md, md; /* the source as stored; the copy's layout and type */
    unsigned version;
    void *data;
    size_t bytes;
    unsigned long last_use;
    int in_use, valid;
} w_entry;

#define MAX_WEIGHTS 64
static w_entry wcopies[MAX_WEIGHTS];

static void drop_weight_copies(const float *base, size_t n) { /* under the lock */
    for (int i = 0; i < MAX_WEIGHTS; i++)
        if (wcopies[i].data && wcopies[i].src >= base && wcopies[i].src < base + n &&
            !wcopies[i].in_use) {
            free(wcopies[i].data);
            memset(&wcopies[i], 0, sizeof wcopies[i]);
        }
}

static int reorder(const dnnl_memory_desc_t *from_md, const void *from,
                   const dnnl_memory_desc_t *to_md, void *to) {
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t r = NULL;
    dnnl_memory_t m_from = NULL, m_to = NULL;
    dnnl_stream_t st = NULL;
    int ok = dnnl_reorder_primitive_desc_create(&pd, from_md, engine, to_md, engine, NULL) ==
                 dnnl_success &&
             dnnl_primitive_create(&r, pd) == dnnl_success &&
             dnnl_memory_create(&m_from, from_md, engine, (void *)from) == dnnl_success &&
             dnnl_memory_create(&m_to, to_md, engine, to) == dnnl_success &&
             dnnl_stream_create(&st, engine, dnnl_stream_default_flags) == dnnl_success;
    if (ok) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, m_from}, {DNNL_ARG_TO, m_to}};
        ok = dnnl_primitive_execute(r, st, 2, args) == dnnl_success &&
             dnnl_stream_wait(st) == dnnl_success;
    }
    if (st) dnnl_stream_destroy(st);
    if (m_to) dnnl_memory_destroy(m_to);
    if (m_from) dnnl_memory_destroy(m_from);
    if (r) dnnl_primitive_destroy(r);
    if (pd) dnnl_primitive_desc_destroy(pd);
    return ok;
}

/* The copy of weights B (as stored: plain_md) in layout md at `version`, marked in use;
 * NULL if there is no room or memory. The reorder runs under the lock: one owner's weights
 * are used by one thread at a time (the library's objects are not shared across concurrent
 * calls), so nobody else waits for it in practice. */
static w_entry *w_get(const float *B, const dnnl_memory_desc_t *plain_md,
                      const dnnl_memory_desc_t *md, unsigned version) {
    w_entry *e = NULL, *free_slot = NULL;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_WEIGHTS && !e; i++) {
        w_entry *w = &wcopies[i];
        if (w->data && w->src == B && dnnl_memory_desc_equal(&w->md, md) &&
            dnnl_memory_desc_equal(&w->plain_md, plain_md) && !w->in_use)
            e = w;
        else if (!w->data && !free_slot)
            free_slot = w;
    }
    if (!e && !free_slot) { /* table full: drop the least recently used copy nobody is using */
        for (int i = 0; i < MAX_WEIGHTS; i++) {
            w_entry *w = &wcopies[i];
            if (!w->in_use && (!free_slot || w->last_use < free_slot->last_use)) free_slot = w;
        }
        if (free_slot) {
            free(free_slot->data);
            memset(free_slot, 0, sizeof *free_slot);
        }
    }
    if (e) e->last_use = ++use_clock;
    if (e && e->valid && e->version == version) {
        e->in_use = 1;
        pthread_mutex_unlock(&lock);
        atomic_fetch_add(&n_hits, 1);
        return e;
    }
    if (!e && free_slot) {
        size_t bytes = dnnl_memory_desc_get_size(md);
        void *p = sv_aligned_alloc(64, (bytes + 63) & ~(size_t)63);
        if (p) {
            e = free_slot;
            e->src = B, e->plain_md = *plain_md, e->md = *md, e->data = p, e->bytes = bytes;
            e->last_use = ++use_clock;
        }
    }
    if (e) {
        e->valid = reorder(plain_md, B, md, e->data);
        e->version = version;
        if (e->valid) e->in_use = 1;
        else e = NULL;
    }
    pthread_mutex_unlock(&lock);
    if (e) atomic_fetch_add(&n_reorders, 1);
    return e;
}

static void w_release(w_entry *e) {
    pthread_mutex_lock(&lock);
    e->in_use = 0;
    pthread_mutex_unlock(&lock);
}

/* ---- the products ------------------------------------------------------------------------ */

/* The last resort: a plain loop (float accumulation in k order). */
static void gemm_loop(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = 0.0f;
            for (int k = 0; k < K; k++)
                s += (ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
                     (tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
            float *c = &C[(size_t)i * ldc + j];
            *c = alpha * s + (beta == 0.0f ? 0.0f : beta * *c);
        }
}

/* The matmul path (cached weights and/or bf16). Returns 1 when done; 0 if it could not run,
 * and -1 if its primitive is not a brgemm one and the caller did not accept any (both:
 * nothing written). */
static int gemm_matmul(int bf16, int cached, unsigned version, int ta, int tb, int M, int N,
                       int K, float alpha, const float *A, int lda, const float *B, int ldb,
                       float beta, float *C, int ldc, int threads, int accept_any) {
    tls *t = tls_get();
    if (!t) return 0;
    mm_key k = {bf16, cached, ta, tb, M, N, K, lda, ldb, ldc, threads, alpha, beta};
    int owned = 0, ok = 0;
    mm_entry *e = mm_get(&k, &owned);
    if (!e) return 0;
    if (!e->invariant && !accept_any) {
        mm_release(e, owned);
        return -1;
    }
    w_entry *w = NULL;
    const void *a = A, *b = B;
    void *pad = NULL;
    if (bf16) { /* A rounded to bf16, packed in its stored orientation */
        uint16_t *ab = scratch_get(t, 0, (size_t)M * K * sizeof *ab + 64);
        if (!ab) goto out;
        if (ta) pack_bf16(A, K, M, lda, ab);
        else pack_bf16(A, M, K, lda, ab);
        a = ab;
    }
    if (cached) {
        if (!(w = w_get(B, &e->b_plain_md, &e->b_md, version))) goto out;
        b = w->data;
    } else if (bf16) {
        uint16_t *bb = scratch_get(t, 1, (size_t)K * N * sizeof *bb + 64);
        if (!bb) goto out;
        if (tb) pack_bf16(B, N, K, ldb, bb);
        else pack_bf16(B, K, N, ldb, bb);
        b = bb;
    }
    if (e->scratch_bytes && !(pad = scratch_get(t, 2, e->scratch_bytes))) goto out;

    /* This thread's memory objects for the entry: made once, repointed per call. */
    tl_mem own_mem = {0}, *tm = owned ? &own_mem : &t->mem[e - prims];
    if (tm->gen != e->gen || owned) {
        tl_mem_clear(tm);
        dnnl_memory_desc_t pad_md;
        dnnl_dims_t pad_dims = {(dnnl_dim_t)(e->scratch_bytes ? e->scratch_bytes : 1)};
        dnnl_memory_desc_init_by_tag(&pad_md, 1, pad_dims, dnnl_u8, dnnl_a);
        const dnnl_memory_desc_t *mds[4] = {&e->a_md, &e->b_md, &e->c_md, &pad_md};
        for (int i = 0; i < 4; i++)
            if (dnnl_memory_create(&tm->m[i], mds[i], engine, DNNL_MEMORY_NONE) != dnnl_success)
                goto out_mem;
        tm->gen = owned ? 0 : e->gen;
    }
    ok = dnnl_memory_set_data_handle(tm->m[0], (void *)a) == dnnl_success &&
         dnnl_memory_set_data_handle(tm->m[1], (void *)b) == dnnl_success &&
         dnnl_memory_set_data_handle(tm->m[2], C) == dnnl_success &&
         (!pad || dnnl_memory_set_data_handle(tm->m[3], pad) == dnnl_success);
    if (ok) {
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, tm->m[0]}, {DNNL_ARG_WEIGHTS, tm->m[1]},
                                   {DNNL_ARG_DST, tm->m[2]}, {DNNL_ARG_SCRATCHPAD, tm->m[3]}};
        ok = dnnl_primitive_execute(e->prim, t->stream, pad ? 4 : 3, args) == dnnl_success &&
             dnnl_stream_wait(t->stream) == dnnl_success;
    }
out_mem:
    if (owned || !ok) tl_mem_clear(tm);
out:
    if (w) w_release(w);
    mm_release(e, owned);
    return ok;
}

/* ---- one-row products ---------------------------------------------------------------------
 * c[1 x N] = alpha a op(B) + beta c, float32. The matmul primitive, like sgemm, first copies B
 * into its layout; at one row the product is a single pass over B, so stream it instead:
 *   B stored K x N:  c[j] = Σ_k a_k B[k, j], rows of B added in k order into a block of c
 *   B stored N x K:  c[j] = a · B[j, :], a dot product per row of B
 * Threads take disjoint blocks of c, and every c[j] is summed by one thread in one fixed
 * order, so the result does not depend on the thread count. */
#define GEMV_BLOCK 1024 /* columns of c per block: 4 KB of each row of B, the sums in L1 */

typedef struct gemv_job {
    int tb, N, K, ldb, a_step; /* a_step: stride of a's elements (lda when A is transposed) */
    float alpha, beta;
    const float *a, *B;
    float *c;
} gemv_job;

SV_VECTOR_CLONES
static void gemv_blocks(void *ctx, int b0, int b1) {
    const gemv_job *g = ctx;
    for (int blk = b0; blk < b1; blk++) {
        int j0 = blk * GEMV_BLOCK, w = g->N - j0 < GEMV_BLOCK ? g->N - j0 : GEMV_BLOCK;
        float acc[GEMV_BLOCK];
        if (!g->tb) {
            for (int j = 0; j < w; j++) acc[j] = 0.0f;
            for (int k = 0; k < g->K; k++) {
                const float *b = g->B + (size_t)k * g->ldb + j0;
                float ak = g->a[(size_t)k * g->a_step];
#pragma omp simd
                for (int j = 0; j < w; j++) acc[j] += ak * b[j];
            }
        } else {
            for (int j = 0; j < w; j++) {
                const float *b = g->B + (size_t)(j0 + j) * g->ldb;
                float sum = 0.0f;
                if (g->a_step == 1) {
#pragma omp simd reduction(+ : sum)
                    for (int k = 0; k < g->K; k++) sum += g->a[k] * b[k];
                } else {
                    for (int k = 0; k < g->K; k++) sum += g->a[(size_t)k * g->a_step] * b[k];
                }
                acc[j] = sum;
            }
        }
        float *c = g->c + j0;
        for (int j = 0; j < w; j++) c[j] = g->alpha * acc[j] + (g->beta == 0.0f ? 0.0f : g->beta * c[j]);
    }
}

static void gemv(int transa, int transb, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int threads) {
    gemv_job g = {transb, N, K, ldb, transa ? lda : 1, alpha, beta, A, B, C};
    int blocks = (N + GEMV_BLOCK - 1) / GEMV_BLOCK;
    if (threads <= 1 || blocks == 1) gemv_blocks(&g, 0, blocks);
    else sv_parallel_for(blocks, gemv_blocks, &g);
}

static void gemm(int bf16, int chunk, int transa, int transb, int M, int N, int K, float alpha,
                 const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc,
                 int threads);

/* The OpenMP team size is the calling thread's setting, which the host program may use for
 * its own parallel regions: set it for the product, then put it back. */
static void product(int bf16, int transa, int transb, int M, int N, int K, float alpha,
                    const float *A, int lda, const float *B, int ldb, float beta, float *C,
                    int ldc) {
    if (M <= 0 || N <= 0) return;
    int threads = threads_for_call((double)M * N * K), saved = omp_get_max_threads();
    if (saved != threads) omp_set_num_threads(threads);
    gemm(bf16, 0, transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, threads);
    if (saved != threads) omp_set_num_threads(saved);
}

void sv_sgemm(int transa, int transb, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    /* Weights stored as SEQVID_WEIGHTS_F32_PACKED (packed.h) bring their own kernel, in
     * float32: bf16 mode, where it runs, takes the products it asked for. */
    if (!bf16_on && sv_packed_gemm(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc))
        return;
    product(bf16_on, transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sv_sgemm_f32(int transa, int transb, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    product(0, transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* The weight gradients (blas.h): float32 even in bf16 mode here. Their operands are
 * activations, which oneDNN's bf16 matmul re-lays-out per call: measured (docs/performance.md,
 * "bf16 mode"), the bf16 train step was 10% slower at H=2048 with them in bf16, level at
 * H=512. */
void sv_sgemm_grad(int transa, int transb, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    sv_sgemm_f32(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* The chunked product (header comment, gemm_chunks.h): every chunk on one thread, each
 * worker's OpenMP team held at 1 while it runs one. */
typedef struct split_job {
    sv_gemm_job g;
    int bf16;
} split_job;

static void split_chunks(void *ctx, int c0, int c1) {
    const split_job *s = ctx;
    int saved = omp_get_max_threads();
    if (saved != 1) omp_set_num_threads(1);
    for (int c = c0; c < c1; c++) {
        sv_gemm_job p;
        sv_gemm_chunk(&s->g, c, &p);
        gemm(s->bf16, 1, p.ta, p.tb, p.M, p.N, p.K, p.alpha, p.A, p.lda, p.B, p.ldb, p.beta, p.C,
             p.ldc, 1);
    }
    if (saved != 1) omp_set_num_threads(saved);
}

/* C = alpha op(A) op(B) + beta C on `threads` threads, down the paths of the header comment.
 * A whole product (chunk = 0) runs as one matmul on the cached weights (B registered) or on
 * B as stored when its primitive is a brgemm one; otherwise, and when the matmul cannot run,
 * it is chunked. A chunk (chunk = 1, one thread) takes the matmul on B as stored whatever
 * its kernel, then dnnl_sgemm, then the C loop. Either way, which calls compute an element
 * depends on the shape only, never on the thread count. */
static void gemm(int bf16, int chunk, int transa, int transb, int M, int N, int K, float alpha,
                 const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc,
                 int threads) {
    if (K <= 0 || alpha == 0.0f) { /* C = beta C */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                float *c = &C[(size_t)i * ldc + j];
                *c = beta == 0.0f ? 0.0f : beta * *c;
            }
        return;
    }
    if (M == 1 && !bf16) {
        gemv(transa, transb, N, K, alpha, A, lda, B, ldb, beta, C, threads);
        return;
    }
    if (!engine) {
        atomic_fetch_add(&n_fallbacks, 1);
        gemm_loop(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    if (chunk) {
        if (gemm_matmul(bf16, 0, 0, transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C,
                        ldc, 1, 1) == 1)
            return;
        atomic_fetch_add(&n_fallbacks, 1);
        if (dnnl_sgemm(transa ? 'T' : 'N', transb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb,
                       beta, C, ldc) == dnnl_success)
            return;
        atomic_fetch_add(&n_fallbacks, 1);
        gemm_loop(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    /* B's extent as stored: (rows - 1) * ld + cols floats. */
    size_t b_len = transb ? (size_t)(N - 1) * ldb + K : (size_t)(K - 1) * ldb + N;
    unsigned version = 0;
    pthread_mutex_lock(&lock);
    int cached = find_range(B, b_len, &version);
    pthread_mutex_unlock(&lock);
    int r = gemm_matmul(bf16, cached, version, transa, transb, M, N, K, alpha, A, lda, B, ldb,
                        beta, C, ldc, threads, 0);
    if (r == 0) {
        atomic_fetch_add(&n_fallbacks, 1);
        /* no room for a weight copy: the same kernels on B as stored */
        if (cached) r = gemm_matmul(bf16, 0, 0, transa, transb, M, N, K, alpha, A, lda, B, ldb,
                                    beta, C, ldc, threads, 0);
    }
    if (r == 1) return;
    split_job s = {.bf16 = bf16};
    int chunks = sv_gemm_plan(&s.g, transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    sv_parallel_for(chunks, split_chunks, &s);
}

void sv_sgemv(int trans, int M, int N, float alpha, const float *A, int lda, const float *x,
              int incx, float beta, float *y, int incy) {
    if (incx == 1 && incy == 1) {
        if (trans) /* y[1 x N] = x[1 x M] A */
            sv_sgemm(SV_NOTRANS, SV_NOTRANS, 1, N, M, alpha, x, M, A, lda, beta, y, N);
        else /* y[1 x M] = x[1 x N] A^T */
            sv_sgemm(SV_NOTRANS, SV_TRANS, 1, M, N, alpha, x, N, A, lda, beta, y, M);
        return;
    }
    int n_out = trans ? N : M, n_in = trans ? M : N;
    for (int o = 0; o < n_out; o++) {
        float s = 0.0f;
        for (int i = 0; i < n_in; i++)
            s += (trans ? A[(size_t)i * lda + o] : A[(size_t)o * lda + i]) * x[(size_t)i * incx];
        float *yo = &y[(size_t)o * incy];
        *yo = alpha * s + (beta == 0.0f ? 0.0f : beta * *yo);
    }
}

/* Whether a float32 product on registered weights uses the cache (sv_blas_info): its matmul
 * must be a brgemm one (gemm()), asked of oneDNN for one small shape. */
static int cache_probe;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static void probe(void) {
    pthread_once(&init_once, init);
    mm_key k = {0, 1, 0, 0, 16, 96, 64, 64, 96, 96, 1, 1.0f, 0.0f};
    mm_entry e = {0};
    if (engine && mm_create(&k, &e)) {
        cache_probe = e.invariant;
        dnnl_primitive_destroy(e.prim);
        atomic_fetch_sub(&n_prims, 1); /* not a product's primitive */
    }
}

sv_blas_info_t sv_blas_info(void) {
    pthread_once(&probe_once, probe);
    /* oneDNN detects the CPU by its features, not its model: nothing to advise. */
    const char *isa = dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa()); /* "cpu_isa_avx2" */
    if (!isa) isa = "";
    if (!strncmp(isa, "cpu_isa_", 8)) isa += 8;
    return (sv_blas_info_t){"onednn", isa, NULL, atomic_load(&n_fallbacks),
                            atomic_load(&n_reorders), atomic_load(&n_hits),
                            atomic_load(&n_prims), cache_probe};
}
