#!/usr/bin/env bash
# setup-video.sh -- real sample footage for libseqvid: OpenCV's sample videos, from Debian.
#
# usage: examples/setup-video.sh [DEST]
#   DEST defaults to ${SEQVID_DATA:-$HOME/.cache/seqvid}/video.
#
# Source: Debian 12's opencv-doc package (4.6.0+dfsg-12), fetched once with
# `apt-get download` (no root install, nothing else of it is kept) and checked against the
# SHA-256 below. Only the videos are extracted:
#   vtest.avi          768x576, 10 fps, 795 frames, msmpeg4v3 (pedestrians)
#   Megamind.avi       720x528, mpeg4, 270 frames
#   Megamind_bugy.avi  the same clip as OpenCV keeps it for a bug case (claims 30 fps)
#   tree.avi           320x240, cinepak, 68 frames
#   box.mp4, cup.mp4   640x480, h264 (shipped gzipped under opencv4/html/, unpacked here)
# The outputs are checked against recorded SHA-256 sums too. With the videos there, running
# it again does nothing. SEQVID_OPENCV_DEB may point at a copy of the .deb (no network then).
set -euo pipefail

DEB_VERSION=4.6.0+dfsg-12
DEB_NAME=opencv-doc_${DEB_VERSION}_all.deb
DEB_SHA256=4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a
DOC=./usr/share/doc/opencv-doc
# name, path inside the package, SHA-256 of the video (after gunzip for .gz)
OUTPUTS=(
    "vtest.avi $DOC/examples/data/vtest.avi 45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf"
    "Megamind.avi $DOC/examples/data/Megamind.avi 0057387cb7e75c8fd1663b62cfdc51fa53f527795d0fe3c1fea2fd159d3130b5"
    "Megamind_bugy.avi $DOC/examples/data/Megamind_bugy.avi b82dd32d5444031d1a46a133e7554be7b80c54d12e3503a1b1332a540218e22c"
    "tree.avi $DOC/examples/data/tree.avi 4666099d0f704e310047b2f0a5ec9f936cb76a7271de9a2e70a0c57f82ac82dc"
    "box.mp4 $DOC/opencv4/html/box.mp4.gz 62b744b99403f899707c43398a3822441add6160379ab6dd6c12bde9e3075f8d"
    "cup.mp4 $DOC/opencv4/html/cup.mp4.gz 37db9cee98f70b1458985a15ad2e5b0183e90e24c281b534afcf812e5986154f"
)

dest="${1:-${SEQVID_DATA:-$HOME/.cache/seqvid}/video}"

die() { echo "setup-video: $*" >&2; exit 1; }
sha256() { sha256sum "$1" | cut -d' ' -f1; }

have_all=1
for entry in "${OUTPUTS[@]}"; do
    read -r name _ sum <<<"$entry"
    [[ -f "$dest/$name" && "$(sha256 "$dest/$name")" == "$sum" ]] || have_all=0
done
if (( have_all )); then
    echo "setup-video: videos already in $dest"
    exit 0
fi

mkdir -p "$dest"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work" # apt-get download writes as the _apt user when it can

if [[ -n "${SEQVID_OPENCV_DEB:-}" ]]; then
    cp "$SEQVID_OPENCV_DEB" "$work/$DEB_NAME"
else
    command -v apt-get >/dev/null || die "apt-get is needed to fetch opencv-doc (Debian), or" \
        "set SEQVID_OPENCV_DEB to a copy of $DEB_NAME"
    echo "setup-video: fetching opencv-doc=$DEB_VERSION with apt-get download (~96 MB)"
    fetch() { (cd "$work" && apt-get download -q "opencv-doc=$DEB_VERSION" >/dev/null 2>"$work/apt.err"); }
    # A fresh system may have no package lists yet: refresh them once (as root) and retry.
    fetch || { [ "$(id -u)" = 0 ] && apt-get update -qq >/dev/null 2>&1 && fetch; } ||
        die "apt-get download opencv-doc=$DEB_VERSION failed (run apt-get update?): $(tail -1 "$work/apt.err")"
fi
got="$(sha256 "$work/$DEB_NAME")"
[[ "$got" == "$DEB_SHA256" ]] || die "$DEB_NAME has SHA-256 $got, expected $DEB_SHA256"

members=()
for entry in "${OUTPUTS[@]}"; do
    read -r _ member _ <<<"$entry"
    members+=("$member")
done
mkdir "$work/x"
dpkg-deb --fsys-tarfile "$work/$DEB_NAME" | tar -x -C "$work/x" "${members[@]}" ||
    die "extracting the videos from $DEB_NAME failed"
for entry in "${OUTPUTS[@]}"; do
    read -r name member sum <<<"$entry"
    if [[ "$member" == *.gz ]]; then
        gunzip -c "$work/x/$member" >"$work/$name"
    else
        mv "$work/x/$member" "$work/$name"
    fi
    got="$(sha256 "$work/$name")"
    [[ "$got" == "$sum" ]] || die "$name has SHA-256 $got, expected $sum"
    mv "$work/$name" "$dest/$name"
done
echo "setup-video: ${#OUTPUTS[@]} videos in $dest"
