#!/bin/sh
# Build the libFuzzer harnesses of the file readers with clang (ASan + UBSan) in their own
# build folder and fuzz each for its share of SECONDS seconds (default 60 in all), one after
# the other: load (safetensors), idx, gzip, npy (see tests/fuzz.cmake); `video`
# (libseqvid_video over in-memory videos, needs FFmpeg's development packages) on request. New inputs go to
# <build>/fuzz_work_<harness> (the committed seed corpora tests/fuzz/corpus* are only read);
# crashes to <build>/fuzz_artifacts. Each run ends with libFuzzer's final statistics.
#   usage: tests/fuzz/run.sh [SECONDS] [more libFuzzer flags, e.g. -jobs=2]
#   env:   SEQVID_FUZZ_BUILD=<folder>      (default <source>/build-fuzz)
#          SEQVID_FUZZ_HARNESSES="idx npy" (default: load idx gzip npy; also: video)
# To regenerate the seed corpora: build fuzz_make_corpus in any build and run it with
# tests/fuzz/corpus as argument; tests/fuzz/make_data_corpus.py writes idx, gzip and npy's; make_video_corpus.sh video's.
set -eu
secs=${1:-60}
[ $# -gt 0 ] && shift
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${SEQVID_FUZZ_BUILD:-$src/build-fuzz}
harnesses=${SEQVID_FUZZ_HARNESSES:-load idx gzip npy}
n=$(echo $harnesses | wc -w)
each=$((secs / n))
[ "$each" -gt 0 ] || each=1
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DSEQVID_FUZZ=ON -DSEQVID_EXAMPLES=OFF \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
for h in $harnesses; do
    cmake --build "$build" --target "fuzz_$h" -j2 >/dev/null
done
mkdir -p "$build/fuzz_artifacts"
for h in $harnesses; do
    corpus=$src/tests/fuzz/corpus_$h
    rss=1024
    [ "$h" = load ] && corpus=$src/tests/fuzz/corpus
    # FFmpeg may legitimately need more memory on a large frame (its own limits bound it)
    [ "$h" = video ] && corpus=$src/tests/fuzz/video_corpus && rss=2048
    dict=
    d=$h
    [ "$h" = gzip ] && d=idx # its inputs end in IDX bytes
    [ -f "$src/tests/fuzz/$d.dict" ] && dict=-dict=$src/tests/fuzz/$d.dict
    mkdir -p "$build/fuzz_work_$h"
    echo "== fuzz_$h: $each s"
    # -timeout is wall-clock: on a loaded shared machine a niced run can stall for seconds
    # (inputs that take 1-12 ms in-process were reported as 18 s timeouts), so 60 s.
    "$build/tests/fuzz_$h" -max_total_time="$each" -rss_limit_mb=$rss -timeout=60 \
        -print_final_stats=1 $dict -artifact_prefix="$build/fuzz_artifacts/$h-" "$@" \
        "$build/fuzz_work_$h" "$corpus"
done
