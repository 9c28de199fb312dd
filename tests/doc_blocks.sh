#!/bin/sh
# doc_blocks.sh SRC -- the programs the documentation shows are the files CI builds.
# A fenced block right after a line `<!-- file:PATH ... -->` in README.md,
# docs/getting-started.md or bindings/python/README.md must be byte-identical to PATH;
# and the `<!-- ci:sh python -->` install blocks of README.md and bindings/python/README.md
# must agree. (.ci/consumers.sh runs the `ci:sh` blocks from a fresh clone.)
set -u
src=${1:-.}
cd "$src" || exit 2
fail=0
# block FILE MARKER: the fenced block after the first line starting with MARKER.
block() {
    awk -v m="$2" 'index($0, m) == 1 { f = 1; next } f && /^```/ { if (p) exit; p = 1; next } p' "$1"
}
checked=0
for doc in README.md docs/getting-started.md bindings/python/README.md; do
    for path in $(sed -n 's/^<!-- file:\([^ ]*\).*/\1/p' "$doc"); do
        if ! block "$doc" "<!-- file:$path" | cmp -s - "$path"; then
            echo "doc_blocks: the block of $doc marked file:$path differs from $path:"
            block "$doc" "<!-- file:$path" | diff - "$path" | head -20
            fail=1
        fi
        checked=$((checked + 1))
    done
done
a=$(block README.md "<!-- ci:sh python")
b=$(block bindings/python/README.md "<!-- ci:sh python")
if [ -z "$a" ] || [ "$a" != "$b" ]; then
    echo "doc_blocks: the ci:sh python blocks of README.md and bindings/python/README.md differ"
    fail=1
fi
# The README must show each of these programs (the test is empty otherwise).
for need in "README.md examples/minimal.c" "README.md bindings/rust/seqvid/examples/minimal.rs" \
            "docs/getting-started.md examples/minimal.c"; do
    set -- $need
    grep -q "^<!-- file:$2" "$1" || { echo "doc_blocks: $1 does not show $2"; fail=1; }
done
[ $fail -eq 0 ] && echo "doc_blocks: $checked blocks identical to their files"
exit $fail
