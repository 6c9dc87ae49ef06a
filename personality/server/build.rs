//! Links the server with rt's layout (text at 0x40_0000, one page-aligned segment each for
//! text, rodata and data) when building for the bare-metal target. The trampoline's code page
//! (`trampoline` crate, its own 4 KiB-aligned section) lands in the text segment, whole, so
//! the server can map that one page into every client.

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let target = std::env::var("TARGET").unwrap_or_default();
    let script = format!("{manifest}/../../kernel/rt/link.ld");
    if target.starts_with("aarch64") && target.contains("-none") {
        println!("cargo:rustc-link-arg-bins=-T{script}");
        // 4 KiB file alignment instead of lld's 64 KiB: a small initrd.
        println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");
    }
    println!("cargo:rerun-if-changed={script}");
}
