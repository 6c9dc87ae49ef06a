//! A client process's logical address space, kept by the OS server that is its pager.
//!
//! As in L4Linux, the server owns the memory its clients use: it gets frames from sigma0,
//! keeps for every client a *logical* page table (client page -> server frame, and the rights
//! it gave), and answers each page fault with a map item for one of its own pages. The
//! kernel's page tables are only a cache of these decisions: anything the kernel drops is
//! found again on the next fault, and anything the server takes back it revokes through the
//! mapping of its own page (`fpage_unmap`). This module is that bookkeeping and nothing else:
//! no kernel calls, no IPC, so every rule (which access may fault in which page, what `mmap`
//! may replace, where `brk` may grow, which user pointer is valid) is tested on the host.
//!
//! The pieces:
//! - [`Frames`]: the server's own memory, as the glue provides it (pages of the server's
//!   address space; a vector of boxed pages in tests, [`testing::VecFrames`]).
//! - [`Layout`]: where things go in every client (stack top, `mmap` base, static-PIE base) and
//!   the reserved ranges (UTCB area, trampoline) that are never handed out.
//! - [`AddressSpace`]: areas (Linux's VMAs) and the page table, with the page-fault path
//!   ([`AddressSpace::fault`]), `brk`, `mmap`, `munmap`, `mprotect`, fork's copy and `exit`'s
//!   release; [`AddressSpace::read`] and friends are the checked user-memory copies the system
//!   call dispatcher uses for every user pointer.
//! - [`exec`]: a fresh address space from a static aarch64 ELF file, with its initial stack;
//!   [`script`]: the `#!` line of an interpreter script.
//!
//! Why pages are copied and not shared: there is no fork sharing yet, so every private page
//! belongs to exactly one page table and is freed with it. The page table records the rights
//! each page was given apart from its area's protection, and who owns its frame, so that
//! copy-on-write can later share a frame between page tables with reduced rights without
//! changing the interface. Shared anonymous memory (`MAP_SHARED | MAP_ANONYMOUS`) is already
//! done properly: its frames belong to a shared object that the areas of every process
//! mapping it refer to, and fork keeps it shared.

mod area;
pub mod exec;
mod frames;
mod layout;
mod map;
mod rights;
pub mod script;
mod space;
pub mod testing;
mod user;

#[cfg(test)]
mod tests;

pub use area::{AreaInfo, BackingKind};
pub use frames::{FrameStatistics, Frames};
pub use layout::{
    DEFAULT_MINIMUM_ADDRESS, DEFAULT_MMAP_BASE, DEFAULT_RESERVED, DEFAULT_STACK_GUARD_GAP,
    DEFAULT_STACK_TOP, DEFAULT_STATIC_PIE_BASE, DEFAULT_USER_END, Layout, LayoutError,
    LayoutSettings, MAXIMUM_USER_END,
};
pub use rights::{Access, Protection, Rights};
pub use space::{
    AddressSpace, DEFAULT_STACK_LIMIT, FaultError, Mapping, MemoryLimits, SEGV_ACCERR, SEGV_MAPERR,
};
pub use user::{ARGUMENT_STRING_LIMIT, ExecArguments};

/// The page size of every client: the 4 KiB translation granule.
pub const PAGE_SIZE: u64 = 4096;

/// The page size as a `usize`, for indexing frame contents.
const PAGE_BYTES: usize = PAGE_SIZE as usize;

/// The start of the page that holds `address`.
pub const fn page_floor(address: u64) -> u64 {
    address & !(PAGE_SIZE - 1)
}

/// `value` rounded up to a whole number of pages, or `None` when that does not fit in 64 bits.
pub const fn page_ceiling(value: u64) -> Option<u64> {
    match value.checked_add(PAGE_SIZE - 1) {
        Some(sum) => Some(page_floor(sum)),
        None => None,
    }
}

/// Whether `value` is a multiple of [`PAGE_SIZE`].
pub const fn is_page_aligned(value: u64) -> bool {
    value & (PAGE_SIZE - 1) == 0
}
