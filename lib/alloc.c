/* alloc.c -- the one allocation wrapper (alloc.h) and its fault-injection test hook. */
#include <stdlib.h>
#include "alloc.h"

/* Allocations left before the failing one (0: none fails) and allocations counted since the
 * last sv_alloc_fail_at. Atomics: the library's worker threads never allocate, but callers'
 * threads may, concurrently. The cost is one relaxed atomic add per allocation. */
static long fail_countdown, alloc_count;

/* 1 if this allocation must fail. */
static int injected_failure(void) {
    __atomic_add_fetch(&alloc_count, 1, __ATOMIC_RELAXED);
    if (__atomic_load_n(&fail_countdown, __ATOMIC_RELAXED) == 0) return 0;
    return __atomic_sub_fetch(&fail_countdown, 1, __ATOMIC_RELAXED) == 0;
}

long sv_alloc_fail_at(long n) {
    __atomic_store_n(&fail_countdown, n > 0 ? n : 0, __ATOMIC_RELAXED);
    return __atomic_exchange_n(&alloc_count, 0, __ATOMIC_RELAXED);
}

void *sv_malloc(size_t bytes) { return injected_failure() ? NULL : malloc(bytes); }

void *sv_calloc(size_t n, size_t size) { return injected_failure() ? NULL : calloc(n, size); }

void *sv_realloc(void *p, size_t bytes) {
    return injected_failure() ? NULL : realloc(p, bytes);
}

void *sv_aligned_alloc(size_t align, size_t bytes) {
    return injected_failure() ? NULL : aligned_alloc(align, bytes);
}
