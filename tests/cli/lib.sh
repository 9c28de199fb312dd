# Shared by the seqvid command tests: sourced with SEQVID (the program) set, and by the
# fewlabels test (SEQVID unset: no videos are made).
# Each test gets a fresh folder with the tiny data of make_data.py.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$here/make_data.py" "$work/d" || { echo "FAIL: make_data.py"; exit 1; }
d=$work/d
cd "$work" # commands that fail after making their default out/ leave it here
export OPENBLAS_NUM_THREADS=1
# For runs under AddressSanitizer: fontconfig's process-lifetime configuration is not a leak.
export LSAN_OPTIONS="suppressions=$here/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export SEQVID_DATA=$work/data-home # caches (the video frame cache) stay in the test's folder
# Videos, when this seqvid reads them and ffmpeg can write them: six 4-second FFV1 clips of
# 64x48 (lossless), different in hue, into $d/videos.
have_video=0
if [ -n "${SEQVID:-}" ] && $SEQVID --version | grep -q "^video: libseqvid_video" &&
    command -v ffmpeg >/dev/null; then
    mkdir -p "$d/videos"
    for i in 1 2 3 4 5 6; do
        ffmpeg -loglevel error -nostdin -y -f lavfi -i "testsrc=size=64x48:rate=10:duration=4" \
            -vf "hue=h=$((i * 50))" -c:v ffv1 "$d/videos/clip$i.mkv" || break
    done
    [ -s "$d/videos/clip6.mkv" ] && have_video=1
fi
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }
# A tiny model (8 units) that trains in a fraction of a second.
tiny=(--hidden 8 --batch 4 --val-size 4 --threads 1 --pictures 1 --rollout 12)
# expect_error WHAT PATTERN CMD...: CMD must exit non-zero and say PATTERN on stderr.
expect_error() {
    local what=$1 pattern=$2 rc
    shift 2
    "$@" >"$work/out" 2>"$work/err"
    rc=$?
    if [ $rc -ne 0 ] && grep -q -- "$pattern" "$work/err"; then
        pass "$what: exit $rc, '$(head -n1 "$work/err")'"
    else
        fail "$what: exit $rc, stderr: $(head -n3 "$work/err")"
    fi
}
finish() {
    if [ "$failures" -ne 0 ]; then
        echo "$failures failure(s)"
        exit 1
    fi
    echo "all passed"
}
