//! Tell rustc where libseqvid is, and record it as an rpath. No crates: std only, offline.
//!
//! The library is looked for in this order; the first hit wins:
//! 1. `SEQVID_LIB_DIR`: a folder holding libseqvid.so (a build tree or `<prefix>/lib`);
//! 2. the `pkg-config` program (or `$PKG_CONFIG`) on `seqvid.pc`: an installed prefix in
//!    pkg-config's default path or in `PKG_CONFIG_PATH`;
//! 3. the usual prefixes: `SEQVID_PREFIX`, `~/.local`, `/usr/local`, `/usr` (each's `lib/`,
//!    `lib/<multiarch>/` and `lib64/`), so that `cmake --install build --prefix ~/.local`
//!    needs no further setting.
//!
//! If none has it, the build stops with a message saying where it looked and what to set.
//! The folder is passed on to dependent build scripts as `DEP_SEQVID_LIB_DIR` (the crate
//! `links = "seqvid"`): the safe crate gives its tests and examples an rpath to it, and a
//! program's own build.rs can do the same (bindings/rust/README.md). This crate's own tests
//! get the rpath here.
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const LIB: &str = "libseqvid.so";

/// Link libseqvid from `dir`, pass the folder on, and give this crate's own tests an rpath.
fn found_dir(dir: &str) {
    println!("cargo::rustc-link-search=native={dir}");
    println!("cargo::rustc-link-lib=dylib=seqvid");
    println!("cargo::metadata=lib_dir={dir}");
    if Path::new("tests").is_dir() {
        println!("cargo::rustc-link-arg-tests=-Wl,-rpath,{dir}");
    }
}

/// The library folder pkg-config reports for seqvid.pc, if pkg-config knows it.
fn from_pkg_config() -> Option<String> {
    let pkg_config = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_string());
    let out = Command::new(&pkg_config)
        .args(["--variable=libdir", "seqvid"])
        .output()
        .ok()?;
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && Path::new(&dir).join(LIB).exists()).then_some(dir)
}

/// `prefix`'s library folders that may hold libseqvid.so: lib, lib/<multiarch>, lib64.
fn lib_dirs(prefix: &Path) -> Vec<PathBuf> {
    let lib = prefix.join("lib");
    let mut dirs = vec![lib.clone()];
    if let Ok(entries) = lib.read_dir() {
        let mut multiarch: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains("-linux-"))
            })
            .collect();
        multiarch.sort();
        dirs.extend(multiarch);
    }
    dirs.push(prefix.join("lib64"));
    dirs
}

fn main() {
    for var in [
        "SEQVID_LIB_DIR",
        "SEQVID_PREFIX",
        "PKG_CONFIG",
        "PKG_CONFIG_PATH",
        "PKG_CONFIG_LIBDIR",
        "HOME",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    println!("cargo::rerun-if-changed=build.rs");

    if let Some(dir) = env::var_os("SEQVID_LIB_DIR").filter(|d| !d.is_empty()) {
        found_dir(&dir.to_string_lossy());
        return;
    }
    if let Some(dir) = from_pkg_config() {
        found_dir(&dir);
        return;
    }
    let mut prefixes: Vec<PathBuf> = Vec::new();
    if let Some(p) = env::var_os("SEQVID_PREFIX").filter(|p| !p.is_empty()) {
        prefixes.push(p.into());
    }
    if let Some(home) = env::var_os("HOME").filter(|p| !p.is_empty()) {
        prefixes.push(Path::new(&home).join(".local"));
    }
    prefixes.push("/usr/local".into());
    prefixes.push("/usr".into());
    let mut looked = Vec::new();
    for prefix in &prefixes {
        for dir in lib_dirs(prefix) {
            if dir.join(LIB).exists() {
                found_dir(&dir.to_string_lossy());
                return;
            }
            looked.push(dir.display().to_string());
        }
    }
    panic!(
        "\n\nseqvid-sys: cannot find {LIB}. Looked in SEQVID_LIB_DIR (unset), \
         `pkg-config --variable=libdir seqvid` (no seqvid.pc found), and:\n  {}\n\
         Install the library (from the libseqvid checkout: cmake -S . -B build && \
         cmake --build build -j && cmake --install build --prefix ~/.local), or set \
         SEQVID_LIB_DIR to the folder holding {LIB}, SEQVID_PREFIX to its install prefix, \
         or PKG_CONFIG_PATH to <prefix>/lib/pkgconfig.\n",
        looked.join("\n  ")
    );
}
