//! Tell rustc where libseqvid is. No crates: this runs offline with std only.
//!
//! 1. `SEQVID_LIB_DIR`: a folder holding libseqvid.so (a build tree or `<prefix>/lib`);
//! 2. otherwise the `pkg-config` program (or `$PKG_CONFIG`) on `seqvid.pc`, which finds an
//!    installed prefix through `PKG_CONFIG_PATH`;
//! 3. otherwise plain `-lseqvid`, for a library in the linker's default path.
//!
//! The folder is passed on to dependent build scripts as `DEP_SEQVID_LIB_DIR` (the crate
//! `links = "seqvid"`), which the safe crate uses to give its tests and examples an rpath
//! (as this script does for its own tests).
use std::env;
use std::path::Path;
use std::process::Command;

/// Pass the library folder on to dependents, and give this crate's own tests an rpath.
fn found_dir(dir: &str) {
    println!("cargo::rustc-link-search=native={dir}");
    println!("cargo::metadata=lib_dir={dir}");
    if Path::new("tests").is_dir() {
        println!("cargo::rustc-link-arg-tests=-Wl,-rpath,{dir}");
    }
}

fn main() {
    for var in [
        "SEQVID_LIB_DIR",
        "PKG_CONFIG",
        "PKG_CONFIG_PATH",
        "PKG_CONFIG_LIBDIR",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    println!("cargo::rerun-if-changed=build.rs");

    if let Some(dir) = env::var_os("SEQVID_LIB_DIR").filter(|d| !d.is_empty()) {
        found_dir(&dir.to_string_lossy());
        println!("cargo::rustc-link-lib=dylib=seqvid");
        return;
    }

    let pkg_config = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_string());
    match Command::new(&pkg_config)
        .args(["--libs", "seqvid"])
        .output()
    {
        Ok(out) if out.status.success() => {
            let flags = String::from_utf8_lossy(&out.stdout).into_owned();
            let mut linked = false;
            for flag in flags.split_whitespace() {
                if let Some(dir) = flag.strip_prefix("-L") {
                    found_dir(dir);
                } else if let Some(lib) = flag.strip_prefix("-l") {
                    println!("cargo::rustc-link-lib=dylib={lib}");
                    linked |= lib == "seqvid";
                } else {
                    println!("cargo::rustc-link-arg={flag}");
                }
            }
            if !linked {
                println!("cargo::rustc-link-lib=dylib=seqvid");
            }
        }
        Ok(out) => {
            println!(
                "cargo::warning=`{pkg_config} --libs seqvid` failed ({}); linking plain -lseqvid. \
                 Set SEQVID_LIB_DIR or PKG_CONFIG_PATH to find the library.",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            println!("cargo::rustc-link-lib=dylib=seqvid");
        }
        Err(e) => {
            println!(
                "cargo::warning=cannot run `{pkg_config}` ({e}); linking plain -lseqvid. \
                 Set SEQVID_LIB_DIR to the folder of libseqvid.so."
            );
            println!("cargo::rustc-link-lib=dylib=seqvid");
        }
    }
}
