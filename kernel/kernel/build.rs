//! Passes the linker script to the kernel binary (only when building for the bare-metal
//! target) and records the source version for the boot banner.
use std::process::Command;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("aarch64") && target.contains("none") {
        println!("cargo:rustc-link-arg-bins=-T{manifest}/src/arch/link.ld");
        println!("cargo:rerun-if-changed={manifest}/src/arch/link.ld");
    }
    let version = Command::new("git")
        .args(["describe", "--always", "--dirty", "--tags"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=KERNEL_SOURCE_VERSION={version}");
    println!("cargo:rerun-if-changed={manifest}/../../.git/HEAD");
    println!("cargo:rerun-if-changed={manifest}/../../.git/index");
}
