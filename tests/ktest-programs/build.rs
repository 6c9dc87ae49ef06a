//! Links the programs with rt's layout when building for the bare-metal target
//! (kernel/rt/link_with_rt_layout.rs). The kernel switches FP/SIMD state lazily, but these
//! programs are built for aarch64-unknown-none-softfloat (the ktest ones reach FP/SIMD only
//! through asm, to test the switching).

include!("../../kernel/rt/link_with_rt_layout.rs");

fn main() {
    link_with_rt_layout();
}
