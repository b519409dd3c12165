//! Link-time layout for the shipped static binaries (issue 15, idle memory).
//!
//! Musl release builds (cross/build.sh, every Pi target) link with cross/startup.ld: the functions
//! `pipit serve` runs from start to idle go first in the text segment, together. A page fault in
//! the binary maps the whole page-cache folio around it (up to 128 KiB), so startup code scattered
//! over 8 MiB of text made most of the text resident; packed together it is about 1 MiB.
//! Regenerate the list with cross/startup-order.sh (hash-less patterns: it survives rebuilds and
//! dependency changes). Debug and glibc builds (tests) link as before.
fn main() {
    println!("cargo:rerun-if-changed=cross/startup.ld");
    println!("cargo:rerun-if-changed=build.rs");
    let musl = std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("musl");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    let script = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("cross/startup.ld");
    if musl && linux && release && script.exists() {
        // A partial script (`INSERT BEFORE .text`): everything else keeps the default layout.
        println!("cargo:rustc-link-arg-bin=pipit=-Wl,-T,{}", script.display());
    }
}
