# The Rust bindings (bindings/rust: seqvid-sys and seqvid) built and tested with
# `cargo test --offline` against the shared library of this build. Cargo's output goes to
# <build>/cargo, not into the source tree. Skipped (with a message) when cargo is missing.
# rustup's cargo first (edition 2024 needs cargo >= 1.85; Debian 12's is 1.65). An unset
# CARGO_HOME must not become the hint "/bin", which finds Debian's cargo when it is installed.
set(_sv_cargo_hints $ENV{HOME}/.cargo/bin)
if(DEFINED ENV{CARGO_HOME} AND NOT "$ENV{CARGO_HOME}" STREQUAL "")
  list(PREPEND _sv_cargo_hints $ENV{CARGO_HOME}/bin)
endif()
find_program(SEQVID_CARGO cargo HINTS ${_sv_cargo_hints})
if(SEQVID_CARGO)
  # seqvid::video (feature `video`) when this build has libseqvid_video
  set(SEQVID_CARGO_FEATURES "")
  if(TARGET seqvid_video)
    set(SEQVID_CARGO_FEATURES --features video)
  endif()
  add_test(NAME rust_bindings
           COMMAND ${SEQVID_CARGO} test --offline --quiet ${SEQVID_CARGO_FEATURES}
                   --manifest-path ${PROJECT_SOURCE_DIR}/bindings/rust/Cargo.toml)
  # SEQVID_LIB_DIR: where seqvid-sys links from; LD_LIBRARY_PATH: for the doctests (the
  # test programs also get an rpath from the build scripts).
  set_tests_properties(rust_bindings PROPERTIES
                       ENVIRONMENT "SEQVID_LIB_DIR=$<TARGET_FILE_DIR:seqvid>;LD_LIBRARY_PATH=$<TARGET_FILE_DIR:seqvid>;CARGO_TARGET_DIR=${CMAKE_BINARY_DIR}/cargo;SEQVID_HEADER=${PROJECT_SOURCE_DIR}/include/seqvid.h"
                       TIMEOUT 900)
else()
  message(STATUS "rust_bindings test skipped: cargo not found")
endif()
