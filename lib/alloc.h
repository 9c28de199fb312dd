/* alloc.h -- private: the library's one allocation wrapper. Every malloc, calloc, realloc and
 * aligned allocation of the core library goes through these (release with plain free or
 * sv_free), so that a test can make the Nth allocation fail and walk every out-of-memory
 * path of every create and load function (tests/test_alloc.c). */
#ifndef SV_ALLOC_H
#define SV_ALLOC_H
#include <stddef.h>

void *sv_malloc(size_t bytes);
void *sv_calloc(size_t n, size_t size);
void *sv_realloc(void *p, size_t bytes);
void *sv_aligned_alloc(size_t align, size_t bytes); /* bytes a multiple of align */

/* Test hook (hidden: not exported from the shared library, reachable from the static one).
 * After sv_alloc_fail_at(n) with n >= 1, the n-th allocation from now fails (returns NULL)
 * and the others succeed; n = 0 turns failures off. Returns the allocations made since the
 * previous call (how far a loop over n must go). */
long sv_alloc_fail_at(long n);
#endif
