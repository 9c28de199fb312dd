#!/bin/bash
# consumers.sh BUILD_DIR -- install the library built in BUILD_DIR into a fresh prefix and
# build programs against that prefix only, the ways a user would:
#   1. the installed file list (header, shared + static library, seqvid.pc, CMake package);
#   2. pkg-config by hand: examples/minimal.c (the program README.md and
#      docs/getting-started.md show), linked shared and static (`pkg-config --static`), run;
#   3. examples/ with CMake through pkg-config (the CMake package hidden) and through
#      find_package(seqvid CONFIG); every program's --help is run;
#   4. examples/cpp (C++, RAII wrapper) through find_package, shared and static, run;
#   5. the Python and Rust packages against the prefix;
#   6. README.md's install sections (its `<!-- ci:sh NAME -->` blocks: C, Python, Rust) run
#      as printed, in order, from a fresh clone of the committed tree, in a clean environment
#      (no LD_LIBRARY_PATH, PKG_CONFIG_PATH, SEQVID_*) with HOME in the temp folder; then the
#      installed Python package's tests without any environment variable, and the clone's
#      bindings/python must be as clean as before.
#   7. when built, libseqvid_video through `pkg-config seqvid_video`: a program reads a frame.
# Build trees and the prefix live in a temp folder that is removed at the end
# (KEEP=1 keeps it). Nothing here reads the source tree's include/ or lib/.
set -uo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
if [ "${KEEP:-0}" = 1 ]; then echo "consumers: keeping $tmp"; else trap 'rm -rf "$tmp"' EXIT; fi
prefix="$tmp/prefix"
jobs=${JOBS:-2}
passed=0
failed=0
ok() { echo "consumers: ok: $*"; passed=$((passed + 1)); }
fail() { echo "consumers: FAIL: $*"; failed=$((failed + 1)); }
# run LOG CMD...: run quietly, show the log on failure.
run() {
    local log=$1
    shift
    if "$@" >"$log" 2>&1; then return 0; fi
    echo "consumers: command failed: $*"
    tail -n 40 "$log" | sed 's/^/    /'
    return 1
}

# --- 1. install ----------------------------------------------------------------------------
if ! run "$tmp/install.log" cmake --install "$build" --prefix "$prefix"; then
    fail "cmake --install"
    echo "0 passed, 1 failed"
    exit 1
fi
pc=$(find "$prefix" -name seqvid.pc | head -n1)
cfg=$(find "$prefix" -name seqvidConfig.cmake | head -n1)
libdir=$(dirname "$(dirname "$pc")")
missing=""
for f in "$prefix/include/seqvid.h" "$libdir/libseqvid.so" "$libdir/libseqvid.a" \
    "$libdir/pkgconfig/seqvid.pc" "$libdir/cmake/seqvid/seqvidConfig.cmake" \
    "$libdir/cmake/seqvid/seqvidConfigVersion.cmake" "$libdir/cmake/seqvid/seqvidTargets.cmake"; do
    [ -e "$f" ] || missing="$missing ${f#$prefix/}"
done
soname=$(readelf -d "$libdir/libseqvid.so" 2>/dev/null | sed -n 's/.*soname: \[\(.*\)\].*/\1/p')
if [ -n "$pc" ] && [ -n "$cfg" ] && [ -z "$missing" ] && [ -e "$libdir/$soname" ]; then
    ok "installed into ${prefix}: $(cd "$prefix" && find . -type f -o -type l | sort | tr '\n' ' ')"
else
    fail "installed files missing:$missing ${soname:-(no SONAME)}"
fi
# Everything `cmake --install` puts into a prefix is named in README.md's install section:
# the file (versioned .so names as their unversioned link) or, for the CMake package, its
# folder. A companion library added to the install must be documented there too.
unnamed=""
for f in $(cd "$prefix" && find . -type f -o -type l | sed 's|^\./||' | sort); do
    base=$(basename "$f" | sed 's/\.so\.[0-9.]*$/.so/')
    dir=$(dirname "$f" | sed "s|^${libdir#$prefix/}|lib|")
    grep -qF -e "\`$base\`" -e "/$base\`" -e "\`$dir/\`" "$src/README.md" ||
        unnamed="$unnamed $f"
done
if [ -z "$unnamed" ]; then
    ok "every installed file is named in README.md"
else
    fail "installed but not named in README.md:$unnamed"
fi

# --- 1b. the installed command ------------------------------------------------------------
# `seqvid` is installed into bin/ when the build has the examples; it must run from the
# prefix alone (it finds libseqvid through its RUNPATH $ORIGIN/../<libdir>).
if [ -x "$build/examples/seqvid/seqvid" ]; then
    sv="$prefix/bin/seqvid"
    if [ ! -x "$sv" ]; then
        fail "seqvid is not installed in $prefix/bin"
    elif ! run "$tmp/seqvid.log" env -u LD_LIBRARY_PATH "$sv" --version ||
        ! run "$tmp/seqvid-help.log" env -u LD_LIBRARY_PATH "$sv" train --help; then
        fail "installed seqvid does not run"
    elif [ "$(readlink -f "$(ldd "$sv" | awk '$1 == "'"$soname"'" { print $3 }')")" != \
        "$(readlink -f "$libdir/$soname")" ]; then
        fail "installed seqvid does not load the prefix's libseqvid: $(ldd "$sv" | grep seqvid)"
    else
        ok "seqvid installed in bin/ and runs from the prefix: $(head -n1 "$tmp/seqvid.log")"
    fi
fi

# --- 2. pkg-config by hand -----------------------------------------------------------------
export PKG_CONFIG_PATH="$libdir/pkgconfig"
mkdir -p "$tmp/pc"
# The program README.md and docs/getting-started.md show (tests/doc_blocks.sh).
cp "$src/examples/minimal.c" "$tmp/pc/minimal.c"
if [ ! -s "$tmp/pc/minimal.c" ]; then
    fail "no examples/minimal.c"
else
    cflags=$(pkg-config --cflags seqvid)
    libs=$(pkg-config --libs seqvid)
    if run "$tmp/pc/shared.log" cc -std=c11 -Wall -Wextra -Werror "$tmp/pc/minimal.c" $cflags \
            $libs -Wl,-rpath,"$(pkg-config --variable=libdir seqvid)" -o "$tmp/pc/minimal" &&
        readelf -d "$tmp/pc/minimal" | grep -q "NEEDED.*\[$soname\]" &&
        run "$tmp/pc/shared-run.log" "$tmp/pc/minimal"; then
        ok "pkg-config, shared: minimal.c built (NEEDED $soname) and ran: $(tail -n1 "$tmp/pc/shared-run.log")"
    else
        fail "pkg-config, shared: minimal.c"
    fi
    scflags=$(pkg-config --cflags --static seqvid)
    slibs=$(pkg-config --libs --static seqvid | sed 's/-lseqvid\b/-Wl,-Bstatic -lseqvid -Wl,-Bdynamic/')
    if run "$tmp/pc/static.log" cc -std=c11 -Wall -Wextra -Werror "$tmp/pc/minimal.c" $scflags \
            $slibs -o "$tmp/pc/minimal-static" &&
        ! readelf -d "$tmp/pc/minimal-static" | grep -q "NEEDED.*libseqvid" &&
        run "$tmp/pc/static-run.log" "$tmp/pc/minimal-static"; then
        ok "pkg-config --static: minimal.c linked libseqvid.a and ran"
    else
        fail "pkg-config --static: minimal.c"
    fi
fi

# --- 3. examples/ out of tree, both ways ---------------------------------------------------
# examples/CMakeLists.txt prefers the CMake package and falls back to pkg-config; hiding the
# package (CMAKE_DISABLE_FIND_PACKAGE_seqvid) forces the pkg-config path.
build_examples() { # NAME CACHE-ENTRY EXTRA-CMAKE-ARGS...
    local name=$1 entry=$2
    shift 2
    local dir="$tmp/examples-$name"
    if ! run "$dir.configure.log" cmake -S "$src/examples" -B "$dir" \
        -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS="-Werror" "$@"; then
        fail "examples via $name: configure"
        return
    fi
    # The cache entry that only this way of finding seqvid sets must point into the prefix.
    if ! grep -q "^$entry[:=].*$prefix" "$dir/CMakeCache.txt"; then
        fail "examples via $name: $entry does not point into $prefix"
        return
    fi
    if ! run "$dir.build.log" cmake --build "$dir" -j "$jobs"; then
        fail "examples via $name: build"
        return
    fi
    local progs=0 prog
    for prog in $(find "$dir" -maxdepth 2 -type f -executable -not -path '*/CMakeFiles/*' | sort); do
        if ! run "$dir.$(basename "$prog").log" "$prog" --help; then
            fail "examples via $name: $(basename "$prog") --help"
            return
        fi
        progs=$((progs + 1))
    done
    if [ "$progs" -eq 0 ]; then
        fail "examples via $name: no program built"
    else
        ok "examples via $name: $progs programs built against the prefix, --help ran"
    fi
}
build_examples pkg-config pkgcfg_lib_SEQVID_seqvid -DCMAKE_DISABLE_FIND_PACKAGE_seqvid=ON
build_examples find_package seqvid_DIR

# --- 4. C++ through find_package(seqvid CONFIG) --------------------------------------------
for kind in shared static; do
    dir="$tmp/cpp-$kind"
    static=OFF
    [ "$kind" = static ] && static=ON
    if run "$dir.configure.log" cmake -S "$src/examples/cpp" -B "$dir" \
            -DCMAKE_PREFIX_PATH="$prefix" -DSEQVID_CPP_STATIC=$static \
            -DCMAKE_CXX_FLAGS="-Werror" &&
        run "$dir.build.log" cmake --build "$dir" -j "$jobs" &&
        run "$dir.run.log" "$dir/seqvid_cpp"; then
        needed=$(readelf -d "$dir/seqvid_cpp" | grep -c "NEEDED.*libseqvid")
        want=1
        [ "$kind" = static ] && want=0
        if [ "$needed" -ne "$want" ]; then
            fail "C++ ($kind): wrong library linked (libseqvid NEEDED $needed times)"
        else
            ok "C++ via find_package, $kind: $(grep 'loss' "$dir.run.log")"
        fi
    else
        fail "C++ via find_package, $kind"
    fi
done

# Python: the package finds the installed library through SEQVID_PREFIX.
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import cffi, numpy, pytest" 2>/dev/null; then
    if run "$tmp/python.log" env SEQVID_PREFIX="$prefix" PYTHONDONTWRITEBYTECODE=1 \
            /usr/bin/python3 -m pytest -q -p no:cacheprovider "$src/bindings/python/tests"; then
        ok "Python against the prefix: $(tail -n1 "$tmp/python.log")"
    else
        fail "Python against the prefix"
    fi
else
    fail "Python: /usr/bin/python3 with cffi, numpy and pytest is needed"
fi

# Rust: seqvid-sys finds the installed library through pkg-config.
cargo=$(command -v cargo || echo "$HOME/.cargo/bin/cargo")
if [ -x "$cargo" ]; then
    if run "$tmp/rust.log" env PKG_CONFIG_PATH="$(dirname "$pc")" CARGO_TARGET_DIR="$tmp/cargo" \
            "$cargo" test --offline --quiet --manifest-path "$src/bindings/rust/Cargo.toml"; then
        ok "Rust against the prefix: $(grep -c '^test result: ok' "$tmp/rust.log") test groups ok"
    else
        fail "Rust against the prefix"
    fi
else
    echo "consumers: Rust skipped: no cargo"
fi

# --- 6. README.md's install sections, from a fresh clone --------------------------------------
# Each `<!-- ci:sh NAME -->` block runs as printed, in its own bash (set -e) from the top of
# the clone, with HOME in the temp folder (so ~/.local is a fresh prefix) and nothing else of
# this environment that could help: no LD_LIBRARY_PATH, PKG_CONFIG_PATH or SEQVID_*.
clone="$tmp/clone"
home="$tmp/home"
mkdir -p "$home"
cleanenv=(env -i HOME="$home" PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin" LANG=C.UTF-8
          CMAKE_BUILD_PARALLEL_LEVEL="$jobs")
[ -n "${OPENBLAS_CORETYPE:-}" ] && cleanenv+=(OPENBLAS_CORETYPE="$OPENBLAS_CORETYPE")
# rustup keeps its toolchains under the real HOME: point at them (not at the library).
[ -d "${RUSTUP_HOME:-$HOME/.rustup}" ] && cleanenv+=(RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}")
[ -d "${CARGO_HOME:-$HOME/.cargo}" ] && cleanenv+=(CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}")
if ! run "$tmp/clone.log" git clone -q "$src" "$clone"; then
    fail "git clone $src"
else
    [ -n "$(git -C "$src" status --porcelain --untracked-files=no 2>/dev/null)" ] &&
        echo "consumers: note: the clone has the committed tree; uncommitted changes are not in it"
    blocks=$(sed -n 's/^<!-- ci:sh \([a-z0-9_-]*\) -->.*/\1/p' "$clone/README.md")
    [ -n "$blocks" ] || fail "README.md: no <!-- ci:sh NAME --> install blocks"
    for name in $blocks; do
        awk -v m="<!-- ci:sh $name -->" '$0 == m { f = 1; next }
            f && /^```/ { if (p) exit; p = 1; next } p' "$clone/README.md" >"$tmp/readme-$name.sh"
        if (cd "$clone" && run "$tmp/readme-$name.log" "${cleanenv[@]}" \
                bash -eo pipefail "$tmp/readme-$name.sh"); then
            ok "README $name install section ran from a fresh clone: $(tail -n1 "$tmp/readme-$name.log")"
        else
            fail "README $name install section (commands: $(tr '\n' ';' <"$tmp/readme-$name.sh"))"
        fi
    done
    # The README's minimal program records where the library is: no LD_LIBRARY_PATH needed.
    if [ -x "$clone/minimal" ] && readelf -d "$clone/minimal" | grep -q "R.*PATH.*$home/.local/lib"; then
        ok "README C program carries the rpath $home/.local/lib"
    else
        fail "README C program: no ./minimal with an rpath to ~/.local/lib"
    fi
    # A crate of the user's own, as bindings/rust/README.md says: path dependencies and its
    # build.rs; the program (the README example) must run without LD_LIBRARY_PATH.
    crate="$tmp/own-crate"
    mkdir -p "$crate/src"
    cp "$clone/bindings/rust/seqvid/examples/minimal.rs" "$crate/src/main.rs"
    awk '/^<!-- ci:build.rs/ { f = 1; next } f && /^```/ { if (p) exit; p = 1; next } p' \
        "$clone/bindings/rust/README.md" >"$crate/build.rs"
    printf '[package]\nname = "own"\nversion = "0.1.0"\nedition = "2024"\n\n[dependencies]\nseqvid = { path = "%s" }\nseqvid-sys = { path = "%s" }\n' \
        "$clone/bindings/rust/seqvid" "$clone/bindings/rust/seqvid-sys" >"$crate/Cargo.toml"
    if [ -s "$crate/build.rs" ] &&
        (cd "$crate" && run "$tmp/own-crate.log" "${cleanenv[@]}" cargo build --offline -q) &&
        run "$tmp/own-crate-run.log" "${cleanenv[@]}" "$crate/target/debug/own"; then
        ok "own Rust crate with the README's build.rs runs without LD_LIBRARY_PATH"
    else
        fail "own Rust crate with the README's build.rs"
    fi
    # The installed Python package: its tests, importing the wheel's copy and its bundled
    # library with no environment variable (tests/test_install.py checks which was loaded).
    if [ -x "$clone/.venv/bin/python" ] && /usr/bin/python3 -c "import pytest" 2>/dev/null &&
        (cd "$tmp" && run "$tmp/venv-tests.log" "${cleanenv[@]}" SEQVID_TEST_INSTALLED=1 \
            PYTHONDONTWRITEBYTECODE=1 "$clone/.venv/bin/python" -m pytest -q -rs \
            -p no:cacheprovider "$clone/bindings/python/tests") &&
        ! grep -q "SKIPPED.*test_install" "$tmp/venv-tests.log"; then
        ok "installed Python package, no environment variable: $(tail -n1 "$tmp/venv-tests.log")"
    else
        fail "installed Python package tests"
    fi
    # Building the wheel leaves bindings/python as it was: no build/, no *.egg-info.
    left=$(git -C "$clone" status --porcelain --ignored -- bindings/python | tr '\n' ' ')
    if [ -z "$left" ]; then
        ok "bindings/python is clean after the install"
    else
        fail "the Python install left files in bindings/python: $left"
    fi
fi

# --- 7. libseqvid_video through pkg-config (when the build has it) ---------------------------
if [ -e "$libdir/pkgconfig/seqvid_video.pc" ]; then
    mkdir -p "$tmp/video"
    cat >"$tmp/video/first_frame.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <seqvid_video.h>
int main(int argc, char **argv) {
    seqvid_video *v;
    if (argc != 2 || seqvid_video_open(argv[1], &v)) return 1;
    double dim = 0;
    seqvid_video_get(v, SEQVID_VIDEO_FRAME_DIM, &dim);
    float *f = malloc((size_t)dim * sizeof *f);
    size_t n = 0;
    int st = seqvid_video_read(v, f, 1, &n);
    printf("%s: frame of %g floats, first %.3f\n", argv[1], dim, f[0]);
    free(f);
    seqvid_video_free(v);
    return st || n != 1;
}
C
    if run "$tmp/video/build.log" cc -std=c11 -Wall -Wextra -Werror "$tmp/video/first_frame.c" \
            $(pkg-config --cflags --libs seqvid_video) \
            -Wl,-rpath,"$(pkg-config --variable=libdir seqvid_video)" -o "$tmp/video/first_frame" &&
        [ -e "$prefix/include/seqvid_video.h" ] &&
        run "$tmp/video/run.log" "$tmp/video/first_frame" "$src/tests/fuzz/video_corpus/ffv1.mkv"; then
        ok "pkg-config seqvid_video: a program read a frame: $(tail -n1 "$tmp/video/run.log")"
    else
        fail "pkg-config seqvid_video"
    fi
fi

echo "consumers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
