#!/bin/sh
# Build the libFuzzer harness of the loaders with clang (ASan + UBSan) in its own build
# folder and fuzz for SECONDS seconds (default 60). New inputs go to <build>/fuzz_work (the
# committed seed corpus tests/fuzz/corpus is only read); crashes to <build>/fuzz_artifacts.
#   usage: tests/fuzz/run.sh [SECONDS] [more libFuzzer flags, e.g. -jobs=2]
#   env:   SEQVID_FUZZ_BUILD=<folder>  (default <source>/build-fuzz)
# To regenerate the seed corpus: build fuzz_make_corpus in any build and run it with
# tests/fuzz/corpus as argument.
set -eu
secs=${1:-60}
[ $# -gt 0 ] && shift
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${SEQVID_FUZZ_BUILD:-$src/build-fuzz}
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DSEQVID_FUZZ=ON -DSEQVID_EXAMPLES=OFF \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzz_load -j2 >/dev/null
mkdir -p "$build/fuzz_work" "$build/fuzz_artifacts"
exec "$build/tests/fuzz_load" -max_total_time="$secs" -rss_limit_mb=1024 -timeout=10 \
     -print_final_stats=1 -dict="$src/tests/fuzz/safetensors.dict" \
     -artifact_prefix="$build/fuzz_artifacts/" "$@" "$build/fuzz_work" "$src/tests/fuzz/corpus"
