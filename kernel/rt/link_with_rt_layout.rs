// The one definition of how our EL0 programs are linked, `include!`d by each program crate's
// build.rs (a build script cannot depend on a target crate, and a separate helper crate for
// ten lines would be heavier than this file).
//
// For the bare-metal targets: rt's linker script (text at 0x40_0000, one page-aligned
// segment each for text, rodata and data) and 4 KiB file alignment instead of lld's 64 KiB,
// for a small initrd. Host builds (the workspace's `cargo test`) link normally.

/// Emit the link arguments for the crate being built, which lies two levels below the
/// repository root (as every EL0 program crate does).
fn link_with_rt_layout() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let target = std::env::var("TARGET").unwrap_or_default();
    let script = format!("{manifest}/../../kernel/rt/link.ld");
    if target.starts_with("aarch64") && target.contains("-none") {
        println!("cargo:rustc-link-arg-bins=-T{script}");
        println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");
    }
    println!("cargo:rerun-if-changed={script}");
}
