#!/bin/sh
# Build a libFuzzer harness with clang (ASan + UBSan) in its own build folder and fuzz for
# SECONDS seconds (default 60). New inputs go to <build>/fuzz_work or <build>/fuzz_video_work (the committed seed
# corpus is only read); crashes to <build>/fuzz_artifacts or fuzz_video_artifacts.
#   usage: tests/fuzz/run.sh [SECONDS] [more libFuzzer flags, e.g. -jobs=2]
#   env:   SEQVID_FUZZ_BUILD=<folder>  (default <source>/build-fuzz)
#          SEQVID_FUZZ_TARGET=fuzz_load (the loaders, default) or fuzz_video (libseqvid_video
#          over in-memory videos; needs FFmpeg's development packages)
# To regenerate the seed corpora: build fuzz_make_corpus in any build and run it with
# tests/fuzz/corpus as argument; tests/fuzz/make_video_corpus.sh for tests/fuzz/video_corpus.
set -eu
secs=${1:-60}
[ $# -gt 0 ] && shift
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${SEQVID_FUZZ_BUILD:-$src/build-fuzz}
target=${SEQVID_FUZZ_TARGET:-fuzz_load}
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DSEQVID_FUZZ=ON -DSEQVID_EXAMPLES=OFF \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target "$target" -j2 >/dev/null
case $target in
fuzz_load)
    corpus="$src/tests/fuzz/corpus"
    set -- -dict="$src/tests/fuzz/safetensors.dict" "$@" ;;
fuzz_video)
    corpus="$src/tests/fuzz/video_corpus"
    # FFmpeg may legitimately take a while on a large frame; a hang is far longer.
    set -- -timeout=20 -rss_limit_mb=2048 "$@" ;;
*)
    echo "run.sh: unknown harness $target" >&2
    exit 2 ;;
esac
# fuzz_load keeps its historical folder names (fuzz_work, fuzz_artifacts)
[ "$target" = fuzz_load ] && tag=fuzz || tag=$target
mkdir -p "$build/${tag}_work" "$build/${tag}_artifacts"
exec "$build/tests/$target" -max_total_time="$secs" -rss_limit_mb=1024 -timeout=10 \
     -print_final_stats=1 -artifact_prefix="$build/${tag}_artifacts/" "$@" "$build/${tag}_work" \
     "$corpus"
