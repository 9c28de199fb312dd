#!/bin/bash
# test_demo_video.sh SEQVID -- README's video command, `examples/demo.sh --video`, for two
# steps of a tiny model with this build's seqvid (SEQVID_CMD: nothing installed or built):
# it finds OpenCV's sample footage (examples/setup-video.sh, which tests/run.sh has run
# into $SEQVID_VIDEO_DATA), trains on 32x32 gray patches of the five other videos and
# scores the held-out vtest.avi. Skipped (77) without libseqvid_video or the footage.
SEQVID=$1
source "$(dirname "$0")/lib.sh"
footage=${SEQVID_VIDEO_DATA:-${HOME:-.}/.cache/seqvid/video}
if [ $have_video = 0 ] || [ ! -s "$footage/vtest.avi" ]; then
    echo "skipped: no libseqvid_video or no sample footage in $footage (examples/setup-video.sh)"
    exit 77
fi
# The demo reads ${SEQVID_DATA}/video; lib.sh made SEQVID_DATA the test's own folder (the
# frame cache goes there), so the footage is linked in.
mkdir -p "$SEQVID_DATA"
ln -s "$(cd "$footage" && pwd)" "$SEQVID_DATA/video"
SEQVID_CMD=$SEQVID bash "$here/../../examples/demo.sh" --video --steps 2 "${tiny[@]}" \
    --out "$work/demo" >"$work/demo.log" 2>&1 || fail "demo.sh --video: $(tail -5 "$work/demo.log")"
grep -q "5 video files for training" "$work/demo.log" &&
    grep -q "1 held out (.*vtest.avi)" "$work/demo.log" &&
    grep -q "random patches 32x32 gray" "$work/demo.log" &&
    pass "demo.sh --video: 32x32 gray patches of 5 training videos, vtest.avi held out" ||
    fail "demo.sh --video: $(head -8 "$work/demo.log")"
[ "$(wc -l <"$work/demo/train-files.txt")" = 5 ] && ! grep -q vtest "$work/demo/train-files.txt" &&
    pass "train-files.txt: the five other videos" || fail "train-files.txt: $(cat "$work/demo/train-files.txt")"
grep -q "fut MSE/px" "$work/demo.log" && grep -q "^  clip mean" "$work/demo.log" &&
    [ -s "$work/demo/model.safetensors" ] && [ -s "$work/demo/val0.png" ] &&
    grep -q "^waiting for data: .* of the" "$work/demo.log" &&
    pass "demo.sh --video: baselines in MSE per pixel, the data pipeline's share, model and pictures" ||
    fail "demo.sh --video outputs: $(tail -12 "$work/demo.log")"
finish
