#!/bin/sh
# abi-dump.sh LIB.so OUT.abi -- write the ABI of a built libseqvid (built with -g) as abixml.
#
# Only what a user can see is recorded: the exported symbols, and the types reachable from
# them as declared in include/ (--headers-dir + --drop-private-types: the structs behind the
# opaque handles stay opaque, so changing them is not an ABI change). Paths of the build
# machine are left out so the file is the same wherever it is made. Functions of the
# experimental section (version node SEQVID_EXPERIMENTAL) are left out too
# (experimental.suppr): they are not part of the stable ABI. Used by the CMake target
# `abi-baseline` (writes tests/abi/libseqvid.abi) and by .ci/abi-check.sh (writes a temp file).
set -eu
if [ $# -ne 2 ]; then
    echo "usage: $0 LIB.so OUT.abi" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
exec abidw --headers-dir "$here/../../include" --drop-private-types --exported-interfaces-only \
    --suppressions "$here/experimental.suppr" \
    --no-corpus-path --no-comp-dir-path --short-locs --no-elf-needed \
    --out-file "$2" "$1"
