#!/usr/bin/env bash
# tests/run.sh -- the whole test suite, from a fresh Debian 12 clone to a verdict.
#
# Installs the Debian packages it needs, then runs, each stage in its own build folder:
#   main       Release build, warnings as errors, OpenBLAS: every ctest test (cmocka unit
#              tests, gradient checks, the NumPy float64 reference, data, serialization with
#              crash-atomicity, threads, the Python and Rust bindings, libseqvid_video on
#              its own videos and OpenCV's samples, fetched by examples/setup-video.sh)
#   sanitize   ASan + UBSan build: the C tests again, the seqvid command's and fewlabels' tests
#   valgrind   the model, kernel, optimizer, data and thread tests under valgrind memcheck
#   reference  the reference (netlib) CBLAS instead of OpenBLAS: the C tests again
#   onednn     the oneDNN backend (-DSEQVID_BLAS=onednn) instead of OpenBLAS: the C tests
#              again, the NumPy references included, and the bf16 products (tests/test_gemm.c)
#   abi        abidiff against tests/abi/, exported symbols, SONAME, an old client; then the
#              consumers built out of tree against an installed prefix (C via pkg-config,
#              C++ via find_package, the examples both ways, Python, Rust), and README.md's
#              install sections for C, Python and Rust run from a fresh clone
#   tsan       the thread tests under ThreadSanitizer
#   fuzz       short libFuzzer runs of the file loaders and of libseqvid_video (tests/fuzz)
#   docs       the doxygen API reference builds
#
# usage: tests/run.sh [STAGE ...]        (no stage: all of them, in the order above)
# Timings are never asserted; speed lives in bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
jobs=${JOBS:-$(nproc)}

packages=(build-essential cmake pkg-config libopenblas-dev libblas-dev libdnnl-dev libcmocka-dev
          zlib1g-dev libcjson-dev libgif-dev libcairo2-dev fonts-dejavu-core python3-numpy python3-cffi
          python3-pytest python3-matplotlib abigail-tools clang libclang-rt-14-dev valgrind doxygen
          libopenmpi-dev openmpi-bin git python3-venv python3-setuptools python3-wheel
          libavformat-dev libavcodec-dev libswscale-dev libavutil-dev ffmpeg)
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
# OpenBLAS picks its AVX-512 kernels on some CPUs, slower for the skinny products of an LSTM
# step; Haswell's are the fast ones there (docs/performance.md). Results are the same.
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}

# OpenCV's sample videos for the video tests (libseqvid_video): fetched once with
# apt-get download into ${SEQVID_DATA:-~/.cache/seqvid}/video (examples/setup-video.sh).
video_data() {
    export SEQVID_VIDEO_DATA="${SEQVID_DATA:-$HOME/.cache/seqvid}/video"
    examples/setup-video.sh "$SEQVID_VIDEO_DATA"
}

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(main sanitize valgrind reference onednn abi tsan fuzz docs)
failed=()

configure_build() { # dir, cmake args...
    local dir=$1
    shift
    mkdir -p "$dir"
    cmake -S "$src" -B "$dir" -DSEQVID_WERROR=ON "$@" >"$dir/configure.log" 2>&1 ||
        { cat "$dir/configure.log"; return 1; }
    cmake --build "$dir" -j "$jobs" 2>&1 | grep -E 'warning|error' || true
    [ "${PIPESTATUS[0]}" = 0 ]
}

c_tests='^test_|reference_numpy|safetensors_numpy|fuzz_video_corpus'

run_stage() {
    case $1 in
    main)
        video_data && configure_build build-test -DCMAKE_BUILD_TYPE=Release &&
            ctest --test-dir build-test --output-on-failure -j "$jobs" ;;
    sanitize)
        video_data && configure_build build-asan -DCMAKE_BUILD_TYPE=Debug -DSEQVID_SANITIZE=ON &&
            ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
                ctest --test-dir build-asan --output-on-failure -j "$jobs" -R "$c_tests|^seqvid_|^fewlabels_" ;;
    valgrind)
        [ -d build-test ] || configure_build build-test -DCMAKE_BUILD_TYPE=Release
        # (test_serialize is left to ASan: its file-size-limit test forks a child whose
        # rlimit also binds valgrind itself)
        for t in test_model test_data test_lstm test_optimizer test_threads; do
            OPENBLAS_NUM_THREADS=1 valgrind -q --error-exitcode=1 --leak-check=full \
                --errors-for-leak-kinds=definite "build-test/tests/$t" >/dev/null 2>build-test/$t.vg ||
                { cat "build-test/$t.vg"; return 1; }
            echo "valgrind: $t clean"
        done
        # libseqvid_video: FFmpeg is not instrumented by ASan, but valgrind sees its reads and
        # writes (issue 14: swscale wrote past the end of exact-size frame buffers). The fuzz
        # corpus and the narrow-frame test, whose inputs made it do so.
        if [ -x build-test/tests/fuzz_video_replay ]; then
            valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
                build-test/tests/fuzz_video_replay tests/fuzz/video_corpus >/dev/null \
                2>build-test/fuzz_video.vg || { cat build-test/fuzz_video.vg; return 1; }
            echo "valgrind: fuzz_video_replay over tests/fuzz/video_corpus clean"
            valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
                build-test/tests/test_video test_narrow_frames >/dev/null \
                2>build-test/test_video.vg || { cat build-test/test_video.vg; return 1; }
            echo "valgrind: test_video test_narrow_frames clean"
        fi ;;
    reference)
        configure_build build-refblas -DCMAKE_BUILD_TYPE=Release -DSEQVID_BLAS=reference \
            -DSEQVID_EXAMPLES=OFF &&
            ctest --test-dir build-refblas --output-on-failure -j "$jobs" -R "$c_tests" ;;
    onednn)
        configure_build build-onednn -DCMAKE_BUILD_TYPE=Release -DSEQVID_BLAS=onednn \
            -DSEQVID_EXAMPLES=OFF &&
            ctest --test-dir build-onednn --output-on-failure -j "$jobs" -R "$c_tests" ;;
    abi)
        [ -d build-test ] || configure_build build-test -DCMAKE_BUILD_TYPE=Release
        bash .ci/abi-check.sh build-test && bash .ci/consumers.sh build-test ;;
    tsan)
        bash .ci/tsan.sh "$src/build-tsan" ;;
    fuzz)
        mkdir -p build-fuzz
        sh tests/fuzz/run.sh "${FUZZ_SECONDS:-60}" >build-fuzz/run.log 2>&1 ||
            { tail -40 build-fuzz/run.log; return 1; }
        grep -E '^stat::number_of_executed_units|^Done' build-fuzz/run.log || true
        # libseqvid_video over in-memory videos, on its own (its corpus is also replayed by
        # ctest: fuzz_video_corpus, under ASan in the sanitize stage and valgrind above)
        SEQVID_FUZZ_HARNESSES=video sh tests/fuzz/run.sh "${FUZZ_VIDEO_SECONDS:-45}" \
            >build-fuzz/run_video.log 2>&1 || { tail -60 build-fuzz/run_video.log; return 1; }
        grep -E '^stat::number_of_executed_units|^Done' build-fuzz/run_video.log || true
        ;;
    docs)
        [ -d build-test ] || configure_build build-test -DCMAKE_BUILD_TYPE=Release
        cmake --build build-test --target docs >build-test/docs.log 2>&1 ||
            { tail -20 build-test/docs.log; return 1; } ;;
    *)
        echo "tests/run.sh: unknown stage '$1'" >&2
        return 2 ;;
    esac
}

for s in "${stages[@]}"; do
    echo "== stage $s"
    start=$SECONDS
    if run_stage "$s"; then
        echo "== stage $s: ok ($((SECONDS - start)) s)"
    else
        echo "== stage $s: FAILED ($((SECONDS - start)) s)"
        failed+=("$s")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "== FAILED stages: ${failed[*]}"
    exit 1
fi
echo "== all stages passed: ${stages[*]}"
