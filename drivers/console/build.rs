//! Links the program with rt's layout when building for the bare-metal target
//! (kernel/rt/link_with_rt_layout.rs). The kernel switches FP/SIMD state lazily, but our own
//! EL0 programs are built for aarch64-unknown-none-softfloat and use none.

include!("../../kernel/rt/link_with_rt_layout.rs");

fn main() {
    link_with_rt_layout();
}
