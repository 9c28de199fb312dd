/* parallel.h -- private: a minimal parallel-for over the library's own loops (the chunks of
 * the CBLAS products, the sparse products, scans), using the library's thread count
 * (seqvid_set_threads). */
#ifndef SV_PARALLEL_H
#define SV_PARALLEL_H

/* Run fn(ctx, begin, end) over [0, n) split into contiguous chunks, one per thread; the
 * calling thread takes the first chunk. Every index is handled by exactly one call, so results
 * do not depend on the thread count. Falls back to one serial call if threads cannot start. */
void sv_parallel_for(int n, void (*fn)(void *ctx, int begin, int end), void *ctx);
#endif
