#!/bin/sh
# make_video_corpus.sh [DIR] -- the seed corpus of tests/fuzz/fuzz_video.c: tiny videos (16x16,
# 4 frames of FFmpeg's test pattern) in the containers and codecs libseqvid_video meets most
# (AVI, Matroska, MP4, GIF, Y4M; FFV1, MPEG-4, MS-MPEG-4, H.264, MJPEG, Cinepak, VP8), plus a
# truncated one. Needs the ffmpeg program. The corpus is committed; rerun only to change it.
set -eu
out=${1:-$(cd "$(dirname "$0")" && pwd)/video_corpus}
mkdir -p "$out"
src="-f lavfi -i testsrc2=s=16x16:r=5:d=0.8"
enc() { # name, encoder args
    name=$1
    shift
    ffmpeg -v error -y $src "$@" -fflags +bitexact -flags +bitexact "$out/$name"
}
enc ffv1.mkv -c:v ffv1 -pix_fmt yuv420p
enc ffv1_gray.avi -c:v ffv1 -pix_fmt gray
enc mpeg4.avi -c:v mpeg4 -g 2 -bf 1
enc msmpeg4.avi -c:v msmpeg4
enc h264.mp4 -c:v libx264 -preset ultrafast -g 2 -pix_fmt yuv420p
enc mjpeg.avi -c:v mjpeg -pix_fmt yuvj420p
enc cinepak.avi -c:v cinepak
enc vp8.webm -c:v libvpx -b:v 20k
enc anim.gif -c:v gif
enc raw.y4m -pix_fmt yuv420p
head -c 900 "$out/mpeg4.avi" >"$out/mpeg4_truncated.avi"
# Frames narrower than swscale's SIMD blocks (issue 14: it wrote past exact-size buffers):
# 1 and 2 pixels wide (gray output), 17 (yuv420p -> RGB, not a multiple of 16).
for w in 1 2 17; do
    ffmpeg -v error -y -f lavfi -i testsrc2=s=16x16:r=5:d=0.6 -vf scale=$w:16 -pix_fmt yuv420p \
        -fflags +bitexact -flags +bitexact "$out/narrow_w$w.y4m"
done
# (vp8_size_change.webm is not made here: a fuzzer find -- a VP8 stream whose frames claim
# a huge size -- kept as a regression seed for the decoder pixel limit)
ls -l "$out"
