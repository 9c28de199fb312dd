//! Give this crate's own tests and examples an rpath to the folder libseqvid was found in
//! (DEP_SEQVID_LIB_DIR from seqvid-sys), so `cargo test` and `cargo run --example` work
//! without LD_LIBRARY_PATH. Programs that depend on this crate decide their own rpath.
use std::path::Path;

fn main() {
    println!("cargo::rerun-if-env-changed=DEP_SEQVID_LIB_DIR");
    if let Ok(dir) = std::env::var("DEP_SEQVID_LIB_DIR") {
        // Cargo rejects these instructions for target kinds the package does not have
        // (e.g. a published copy without tests/).
        for kind in ["tests", "examples"] {
            if Path::new(kind).is_dir() {
                println!("cargo::rustc-link-arg-{kind}=-Wl,-rpath,{dir}");
            }
        }
    }
}
