#!/bin/bash
# abi-check.sh BUILD_DIR -- is the libseqvid.so built in BUILD_DIR compatible with the
# committed baseline? (the promise is in docs/abi.md). Checks, each one failing the script
# (1-3 also for libseqvid_video against tests/abi/libseqvid_video.abi, when it is built):
#   1. SONAME is libseqvid.so.<major of the baseline>.
#   2. `nm -D --defined-only` exports only seqvid_* functions, each versioned @@SEQVID_x.y,
#      except the experimental section's seqvid_experimental_* @@SEQVID_EXPERIMENTAL (not
#      stable: left out of ABI dumps, see tests/abi/experimental.suppr); every function the
#      header declares SEQVID_API is exported.
#   3. abidiff against tests/abi/libseqvid.abi: no removed or changed interface. Added functions
#      pass, but must live in a version node the baseline does not have (SEQVID_1.1, ...),
#      and every baseline symbol must keep its version.
#   4. The enum values of the released header (tests/abi/seqvid-1.0.h) are unchanged in
#      include/seqvid.h (compile-time constants are baked into users' binaries).
#   5. tests/abi/old_client.c, compiled against tests/abi/seqvid-1.0.h, runs against this library.
# Tools: abidw/abidiff (Debian abigail-tools), binutils (nm, readelf), cc.
set -uo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
lib="$build/libseqvid.so"
baseline="$src/tests/abi/libseqvid.abi"
old_header="$src/tests/abi/seqvid-1.0.h"
tmp=$(mktemp -d)
tmp_root=$tmp
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "abi-check: FAIL: $*"; failed=$((failed + 1)); }
pass() { echo "abi-check: ok: $*"; }

for tool in abidw abidiff nm readelf cc; do
    command -v "$tool" >/dev/null || { echo "abi-check: $tool not found" >&2; exit 2; }
done
[ -e "$lib" ] || { echo "abi-check: $lib not found (build the project first)" >&2; exit 2; }
[ -e "$baseline" ] || { echo "abi-check: $baseline not found" >&2; exit 2; }

# Checks 1-3 for one shared library:
#   check_library LIB.so BASE HEADER BASELINE API_MACRO SYMBOL_PREFIX NODE_PREFIX MAP
# (libseqvid: libseqvid include/seqvid.h tests/abi/libseqvid.abi SEQVID_API seqvid_ SEQVID
# lib/seqvid.map; the companion libraries likewise with their own names).
check_library() {
    local lib=$1 base=$2 header=$3 baseline=$4 api=$5 prefix=$6 node_prefix=$7 map=$8
    local tmp="$tmp_root/$base" major soname bad missing extra rc moved sym name node
    mkdir -p "$tmp"
    echo "abi-check: --- $base"
    [ -e "$baseline" ] || { fail "$baseline not found"; return; }
    # --- 1. SONAME -----------------------------------------------------------------------------
    major=$(sed -n "s/.*soname='$base\.so\.\([0-9]*\)'.*/\1/p" "$baseline" | head -n1)
    soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
    if [ "$soname" = "$base.so.$major" ]; then
        pass "SONAME $soname"
    else
        fail "SONAME is '$soname', the baseline's is $base.so.$major"
    fi

    # --- 2. exported symbols -------------------------------------------------------------------
    # nm -D lists the version nodes themselves as absolute symbols (type A); they are not code.
    nm -D --defined-only "$lib" | awk '$2 != "A" { print $3 }' | sort >"$tmp/exports"
    # The experimental section: ${prefix}experimental_* in node ${node_prefix}_EXPERIMENTAL only.
    local exp_re="^${prefix}experimental_[a-z0-9_]+@@${node_prefix}_EXPERIMENTAL\$" bad_exp
    bad=$(grep -Ev "^${prefix}[a-z0-9_]+@@${node_prefix}_[0-9]+\\.[0-9]+\$|$exp_re" "$tmp/exports" |
        grep -v "^${prefix}experimental_" || true)
    bad_exp=$(grep -E "^${prefix}experimental_|@@${node_prefix}_EXPERIMENTAL\$" "$tmp/exports" |
        grep -Ev "$exp_re" || true)
    if [ -z "$bad$bad_exp" ]; then
        pass "$(wc -l <"$tmp/exports") exported symbols, all ${prefix}*@@${node_prefix}_x.y" \
            "($(grep -c "@@${node_prefix}_EXPERIMENTAL\$" "$tmp/exports") experimental)"
    else
        fail "exports that are not ${prefix}*@@${node_prefix}_x.y (or ${prefix}experimental_*@@${node_prefix}_EXPERIMENTAL):"
        printf '%s\n%s\n' "$bad" "$bad_exp" | sed '/^$/d; s/^/    /'
    fi
    sed 's/@.*//' "$tmp/exports" | sort -u >"$tmp/export_names"
    # Declared: every `SEQVID_API <type> <name>(` of the header (declarations may span lines).
    grep -v "^[[:space:]]*#" "$header" | tr "\n" " " | grep -o "$api [^;(]*(" |
        sed -E 's/.*[ *](seqvid_[a-z0-9_]+)\($/\1/' | sort -u >"$tmp/declared"
    missing=$(comm -23 "$tmp/declared" "$tmp/export_names")
    extra=$(comm -13 "$tmp/declared" "$tmp/export_names")
    if [ -z "$missing" ]; then
        pass "all $(wc -l <"$tmp/declared") functions declared in ${header#$src/} are exported"
    else
        fail "declared in ${header#$src/} but not exported (not implemented?):"
        echo "$missing" | sed 's/^/    /'
    fi
    if [ -n "$extra" ]; then
        fail "exported but not declared in ${header#$src/} (make them static or sv_*):"
        echo "$extra" | sed 's/^/    /'
    fi

    # --- 3. abidiff against the baseline -------------------------------------------------------
    "$src/tests/abi/abi-dump.sh" "$lib" "$tmp/current.abi" || { fail "abidw failed on $lib"; return; }
    local suppr=()  # the experimental section is left out of the comparison
    [ -e "$src/tests/abi/experimental.suppr" ] && suppr=(--suppressions "$src/tests/abi/experimental.suppr")
    abidiff "${suppr[@]}" "$baseline" "$tmp/current.abi" >"$tmp/abidiff.txt" 2>&1
    rc=$?
    # Exit code bits (abidiff(1)): 1 error, 2 usage error, 4 ABI change, 8 incompatible change.
    # Bit 4 alone means "a human must look"; rerun without added symbols: if that is clean, the
    # only changes are additions (allowed in a minor version), otherwise something that existed
    # changed -- a changed signature or type is incompatible for us, whatever abidiff guesses.
    if [ $((rc & 3)) -ne 0 ]; then
        fail "abidiff could not compare (exit $rc)"
        sed 's/^/    /' "$tmp/abidiff.txt"
    elif [ $((rc & 8)) -ne 0 ]; then
        fail "incompatible ABI change (abidiff exit $rc):"
        sed 's/^/    /' "$tmp/abidiff.txt"
    elif [ $((rc & 4)) -ne 0 ]; then
        abidiff "${suppr[@]}" --no-added-syms "$baseline" "$tmp/current.abi" \
            >"$tmp/abidiff-noadd.txt" 2>&1
        if [ $? -eq 0 ]; then
            pass "abidiff: only additions (allowed in a minor version):"
            sed 's/^/    /' "$tmp/abidiff.txt"
        else
            fail "existing interfaces changed (abidiff exit $rc):"
            sed 's/^/    /' "$tmp/abidiff.txt"
        fi
    else
        pass "abidiff: no ABI change against ${baseline#$src/}"
    fi
    # Versions: baseline symbols keep theirs; new symbols go into a node the baseline lacks.
    sed -n "s/.*<elf-symbol name='\([^']*\)' version='\([^']*\)'.*/\1@@\2/p" "$baseline" |
        sort -u >"$tmp/base_syms"
    sed 's/.*@@//' "$tmp/base_syms" | sort -u >"$tmp/base_nodes"
    moved=$(comm -23 "$tmp/base_syms" "$tmp/exports")
    if [ -n "$moved" ]; then
        fail "baseline symbols missing or re-versioned (see $map):"
        echo "$moved" | sed 's/^/    /'
    fi
    while IFS= read -r sym; do
        name=${sym%@@*}
        node=${sym#*@@}
        if [ "$node" = "${node_prefix}_EXPERIMENTAL" ] && grep -q "^$name@@" "$tmp/base_syms"; then
            fail "$name is in the baseline but now experimental: a stable function cannot go back"
        fi
        if ! grep -q "^$name@@" "$tmp/base_syms" && grep -qx "$node" "$tmp/base_nodes"; then
            fail "new function $name is in released node $node; add a new node to $map"
        fi
    done <"$tmp/exports"
}

check_library "$lib" libseqvid "$src/include/seqvid.h" "$baseline" SEQVID_API seqvid_ SEQVID \
    lib/seqvid.map
# libseqvid_video (lib/video/), when this build has it (FFmpeg found).
video_lib="$build/libseqvid_video.so"
if [ -e "$video_lib" ]; then
    check_library "$video_lib" libseqvid_video "$src/include/seqvid_video.h" \
        "$src/tests/abi/libseqvid_video.abi" SEQVID_VIDEO_API seqvid_video_ SEQVID_VIDEO \
        lib/video/seqvid_video.map
else
    echo "abi-check: libseqvid_video not built (no FFmpeg): its checks are skipped"
fi
echo "abi-check: --- libseqvid (released header)"
major=$(sed -n "s/.*soname='libseqvid\.so\.\([0-9]*\)'.*/\1/p" "$baseline" | head -n1)
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')

# --- 4. enum values of the released header -------------------------------------------------
# Every `SEQVID_X = N` of the old header must still hold; sentinels ending in '_' may grow.
{
    echo '#include "seqvid.h"'
    sed -nE 's/^[[:space:]]*(SEQVID_[A-Z0-9_]*[A-Z0-9])[[:space:]]*=[[:space:]]*([0-9]+).*/_Static_assert(\1 == \2, "\1 changed value");/p' \
        "$old_header"
} >"$tmp/enums.c"
n_enums=$(grep -c _Static_assert "$tmp/enums.c")
if cc -std=c11 -fsyntax-only -I "$src/include" "$tmp/enums.c" 2>"$tmp/enums.err"; then
    pass "$n_enums enum values of tests/abi/seqvid-1.0.h unchanged"
else
    fail "enum values of the released header changed or were removed:"
    grep -E 'error' "$tmp/enums.err" | sed 's/^/    /'
fi

# --- 5. a 1.0 client runs against this library ---------------------------------------------
# Link and run through links to exactly this file, named as the linker and loader look for it.
mkdir -p "$tmp/lib"
ln -s "$(readlink -f "$lib")" "$tmp/lib/libseqvid.so"
ln -s "$(readlink -f "$lib")" "$tmp/lib/${soname:-libseqvid.so.$major}"
if cc -std=c11 -Wall -Wextra -o "$tmp/old_client" "$src/tests/abi/old_client.c" \
        -I "$src/abi" -L "$tmp/lib" -lseqvid -lm -Wl,-rpath,"$tmp/lib" 2>"$tmp/cc.err"; then
    if "$tmp/old_client"; then
        pass "old_client (1.0 header) ran against $(readlink -f "$lib")"
    else
        fail "old_client (1.0 header) failed against the current library"
    fi
else
    fail "old_client does not compile/link against tests/abi/seqvid-1.0.h + current library:"
    sed 's/^/    /' "$tmp/cc.err"
fi

if [ "$failed" -ne 0 ]; then
    echo "abi-check: $failed check(s) FAILED"
    exit 1
fi
echo "abi-check: all checks passed"
