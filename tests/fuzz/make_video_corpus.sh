#!/bin/sh
# make_video_corpus.sh [DIR] -- the seed corpus of tests/fuzz/fuzz_video.c: tiny videos (16x16,
# 4 frames of FFmpeg's test pattern) in the containers and codecs libseqvid_video meets most
# (AVI, Matroska, MP4, GIF, Y4M; FFV1, MPEG-4, MS-MPEG-4, H.264, MJPEG, Cinepak, VP8), plus a
# truncated one and three lists of other files (refused). Needs the ffmpeg program. The corpus
# is committed; rerun only to change it.
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
# Lists of other files and URLs, which libseqvid_video refuses (it reads only the input it is
# given): an HLS playlist naming a local segment and an http one, an ffconcat list, an SDP.
printf '#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nraw.y4m\n#EXTINF:1,\nhttp://127.0.0.1:9/x.ts\n#EXT-X-ENDLIST\n' \
    >"$out/list_hls.m3u8"
printf "ffconcat version 1.0\nfile 'raw.y4m'\nfile 'ffv1.mkv'\n" >"$out/list_concat.ffconcat"
printf 'v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\nm=video 9 RTP/AVP 96\na=rtpmap:96 MP4V-ES/90000\n' \
    >"$out/list_sdp.sdp"
# (vp8_size_change.webm is not made here: a fuzzer find -- a VP8 stream whose frames claim
# a huge size -- kept as a regression seed for the decoder pixel limit)
ls -l "$out"
