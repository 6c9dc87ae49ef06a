//! Memory-mapping values: `mmap` protections and flags, `mremap` and `madvise`.
//!
//! From `asm-generic/mman-common.h`, `asm-generic/mman.h` and `linux/mman.h`; arm64 only
//! adds `PROT_BTI` and `PROT_MTE` (`arch/arm64/include/uapi/asm/mman.h`).

/// `PROT_NONE`: no access.
pub const PROT_NONE: u32 = 0x0;
/// `PROT_READ`.
pub const PROT_READ: u32 = 0x1;
/// `PROT_WRITE`.
pub const PROT_WRITE: u32 = 0x2;
/// `PROT_EXEC`.
pub const PROT_EXEC: u32 = 0x4;
/// `PROT_BTI` (arm64): the pages are guarded by branch target identification.
pub const PROT_BTI: u32 = 0x10;
/// `PROT_MTE` (arm64): the pages carry memory tags.
pub const PROT_MTE: u32 = 0x20;

/// `MAP_SHARED`.
pub const MAP_SHARED: u32 = 0x01;
/// `MAP_PRIVATE`.
pub const MAP_PRIVATE: u32 = 0x02;
/// `MAP_SHARED_VALIDATE`.
pub const MAP_SHARED_VALIDATE: u32 = 0x03;
/// `MAP_TYPE`: the mask of the three values above.
pub const MAP_TYPE: u32 = 0x0f;
/// `MAP_FIXED`: place the mapping exactly at the address, replacing what is there.
pub const MAP_FIXED: u32 = 0x10;
/// `MAP_ANONYMOUS`: zero-filled memory, not backed by a file.
pub const MAP_ANONYMOUS: u32 = 0x20;
/// `MAP_GROWSDOWN`.
pub const MAP_GROWSDOWN: u32 = 0x0100;
/// `MAP_DENYWRITE` (ignored by Linux).
pub const MAP_DENYWRITE: u32 = 0x0800;
/// `MAP_NORESERVE`.
pub const MAP_NORESERVE: u32 = 0x4000;
/// `MAP_POPULATE`.
pub const MAP_POPULATE: u32 = 0x8000;
/// `MAP_STACK` (a hint).
pub const MAP_STACK: u32 = 0x20000;
/// `MAP_FIXED_NOREPLACE`: like `MAP_FIXED` but fail with `EEXIST` instead of replacing.
pub const MAP_FIXED_NOREPLACE: u32 = 0x100000;

/// `MAP_FAILED` as `mmap` would return it in C; the system call returns `-errno` instead.
pub const MAP_FAILED: u64 = u64::MAX;

/// `MREMAP_MAYMOVE`: the kernel may move the mapping.
pub const MREMAP_MAYMOVE: u32 = 1;
/// `MREMAP_FIXED`: move it to the given new address.
pub const MREMAP_FIXED: u32 = 2;

/// `MADV_NORMAL`.
pub const MADV_NORMAL: u32 = 0;
/// `MADV_RANDOM`.
pub const MADV_RANDOM: u32 = 1;
/// `MADV_SEQUENTIAL`.
pub const MADV_SEQUENTIAL: u32 = 2;
/// `MADV_WILLNEED`.
pub const MADV_WILLNEED: u32 = 3;
/// `MADV_DONTNEED`: private anonymous pages read back as zero afterwards.
pub const MADV_DONTNEED: u32 = 4;
/// `MADV_FREE`.
pub const MADV_FREE: u32 = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_values_match_the_generic_headers() {
        assert_eq!((PROT_READ, PROT_WRITE, PROT_EXEC), (1, 2, 4));
        assert_eq!(
            (MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS),
            (1, 2, 0x10, 0x20)
        );
        assert_eq!(MREMAP_MAYMOVE, 1);
        assert_eq!(MADV_DONTNEED, 4);
    }
}
