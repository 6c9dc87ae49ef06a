//! The kernel's virtual address layout (a design choice, not a hardware fact).
//!
//! ```text
//! 0x0000_0000_0000_0000 ..            TTBR0: user address spaces (ASID-tagged), none yet
//! 0xFFFF_0000_0000_0000 + physical    linear map: all RAM (read-write, never executable; the
//!                                     kernel image's own frames read-only) and the devices
//!                                     the kernel drives itself (device memory)
//! 0xFFFF_FF80_0000_0000 ..            the kernel image at its link address (link.ld)
//! ```
//! One offset translates every physical address the kernel touches, so page tables, frames
//! and the device tree are reached without per-object mappings.

/// Start of the linear map: physical address `p` is visible at `LINEAR_MAP_BASE + p`.
pub const LINEAR_MAP_BASE: u64 = 0xFFFF_0000_0000_0000;

/// Link address of the kernel image (must equal `KERNEL_VIRTUAL_BASE` in link.ld).
pub const KERNEL_VIRTUAL_BASE: u64 = 0xFFFF_FF80_0000_0000;

/// Largest physical address the linear map can show (it must stay below the image).
pub const LINEAR_MAP_LIMIT: u64 = KERNEL_VIRTUAL_BASE - LINEAR_MAP_BASE;

/// The linear-map address of physical address `physical`.
pub const fn linear(physical: u64) -> u64 {
    LINEAR_MAP_BASE + physical
}

unsafe extern "C" {
    static __kernel_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __data_end: u8;
    static __stack_guard: u8;
    static __stack_bottom: u8;
    static __stack_top: u8;
    static __kernel_end: u8;
}

/// The kernel image's sections, as link addresses.
#[derive(Clone, Debug)]
pub struct ImageSections {
    /// Image header and code: read-execute.
    pub text: core::ops::Range<u64>,
    /// Constants: read-only.
    pub rodata: core::ops::Range<u64>,
    /// .data and .bss: read-write.
    pub data: core::ops::Range<u64>,
    /// The boot stack: read-write, with an unmapped guard page below it.
    pub stack: core::ops::Range<u64>,
    /// The whole image including the boot page tables.
    pub image: core::ops::Range<u64>,
}

/// Where link.ld put each section.
pub fn image_sections() -> ImageSections {
    // Only the addresses of these linker-defined symbols are taken: nothing is read and no
    // reference is formed.
    let (start, text_end, rodata_end, data_end, guard, bottom, top, end) = (
        (&raw const __kernel_start) as u64,
        (&raw const __text_end) as u64,
        (&raw const __rodata_end) as u64,
        (&raw const __data_end) as u64,
        (&raw const __stack_guard) as u64,
        (&raw const __stack_bottom) as u64,
        (&raw const __stack_top) as u64,
        (&raw const __kernel_end) as u64,
    );
    debug_assert_eq!(bottom - guard, 4096);
    ImageSections {
        text: start..text_end,
        rodata: text_end..rodata_end,
        data: rodata_end..data_end,
        stack: bottom..top,
        image: start..end,
    }
}
