#!/bin/bash
# tsan.sh [BUILD_DIR] -- build the library, tests/test_threads.c and tests/test_determinism.c
# with ThreadSanitizer in their own build folder (default: build-tsan in the source root) and
# run them.
# Fails on any TSan report (exit code 66) or test failure.
#
# The library is built against the CBLAS chosen by SEQVID_BLAS (default openblas). OpenBLAS
# is not instrumented; with one BLAS thread (the test calls seqvid_set_threads(1), and
# OPENBLAS_NUM_THREADS=1 keeps its pool from starting) it runs every call on the caller's
# thread and TSan has nothing to report. If a future OpenBLAS trips TSan anyway, run with
# SEQVID_BLAS=reference (Debian's netlib CBLAS, single-threaded, no pool).
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build-tsan}
blas=${SEQVID_BLAS:-openblas}
tsan="-fsanitize=thread -fno-omit-frame-pointer"
# No target_clones (lib/fastmath.h): their IFUNC resolvers run during relocation, before the
# TSan runtime is up, and crash once instrumented.
cflags="$tsan -DSEQVID_NO_CLONES"

mkdir -p "$build"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEQVID_BLAS="$blas" \
    -DSEQVID_EXAMPLES=OFF -DSEQVID_TESTS=ON \
    -DCMAKE_C_FLAGS="$cflags" -DCMAKE_EXE_LINKER_FLAGS="$tsan" \
    -DCMAKE_SHARED_LINKER_FLAGS="$tsan" >"$build/configure.log" 2>&1 ||
    { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j "${JOBS:-2}" --target test_threads test_determinism

# halt_on_error: the first race fails the run; exitcode 66 is TSan's own marker.
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
export OPENBLAS_NUM_THREADS=1
echo "tsan: running test_threads under ThreadSanitizer (BLAS: $blas)"
"$build/tests/test_threads"
# The library's threads running chunked BLAS products (lib/gemm_cblas.c) with 1, 2 and 3 threads.
echo "tsan: running test_determinism under ThreadSanitizer"
"$build/tests/test_determinism"
echo "tsan: clean"
