//! Links the server with rt's layout when building for the bare-metal target
//! (kernel/rt/link_with_rt_layout.rs). The trampoline's code page (`trampoline` crate, its own
//! 4 KiB-aligned section) lands in the text segment, whole, so the server can map that one
//! page into every client.

include!("../../kernel/rt/link_with_rt_layout.rs");

fn main() {
    link_with_rt_layout();
}
