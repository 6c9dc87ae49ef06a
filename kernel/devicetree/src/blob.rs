//! Opening the blob: header checks, a guarded walk of the structure block, the memory
//! reservation block, and building the `fdt-rs` index in the caller's buffer.
//!
//! `fdt-rs` trusts its input more than a kernel can afford to, so everything it would assume
//! is checked here first:
//! - `DevTree::new` reads header fields with `unwrap()` once the magic matches, so the slice
//!   must be at least a header long; it also requires 4-byte alignment and a slice no longer
//!   than `totalsize`, so we cut the slice to exactly `totalsize`.
//! - Its tokenizer `next_devtree_token` starts with a `debug_assert!` that a whole token fits
//!   before the end of the blob, which panics (in debug builds, including host tests) on a
//!   blob whose tokens run off the end. [`check_structure_block`] walks the token stream once
//!   with that same tokenizer, checking the assertion's condition before each step; the index
//!   builder later walks the very same token sequence, so it cannot reach the assertion.
//! - Its reservation-block iterator has no accessor for the entries it yields (0.4.5 keeps them
//!   private) and unwraps a read that fails on a short blob, so that block, sixteen-byte
//!   big-endian pairs, is read here with checked slicing.

use fdt_rs::base::DevTree;
use fdt_rs::base::parse::next_devtree_token;
use fdt_rs::error::DevTreeError;
use fdt_rs::index::DevTreeIndex;

use crate::error::Error;
use crate::range::{PhysRange, RangeList};

/// The only FDT version this reader understands (the one dtc and QEMU write).
const SUPPORTED_VERSION: u32 = 17;
/// Size of one structure-block token.
const TOKEN_SIZE: usize = 4;
/// Size of one memory reservation entry: a big-endian u64 address and u64 size.
const RESERVATION_ENTRY_SIZE: usize = 16;

/// The `totalsize` of the blob whose header starts `header`: how many bytes to hand to
/// [`open`]. Only the header is read, so the caller can size its view of the blob first.
///
/// Errors: [`Error::Truncated`], [`Error::MisalignedBlob`], [`Error::BadMagic`],
/// [`Error::BadHeader`].
pub(crate) fn total_size(header: &[u8]) -> Result<usize, Error> {
    if header.len() < DevTree::MIN_HEADER_SIZE {
        return Err(Error::Truncated);
    }
    if !header.as_ptr().addr().is_multiple_of(TOKEN_SIZE) {
        return Err(Error::MisalignedBlob);
    }
    // SAFETY: `read_totalsize` requires a 4-byte aligned buffer of at least
    // `MIN_HEADER_SIZE` bytes; both were checked just above.
    let total_size = unsafe { DevTree::read_totalsize(header) }.map_err(Error::from_structure)?;
    if total_size < DevTree::MIN_HEADER_SIZE {
        return Err(Error::BadHeader);
    }
    Ok(total_size)
}

/// Validates the header of `dtb` and returns an `fdt-rs` view of exactly `totalsize` bytes.
///
/// Errors: [`Error::Truncated`], [`Error::MisalignedBlob`], [`Error::BadMagic`],
/// [`Error::UnsupportedVersion`], [`Error::BadHeader`], [`Error::MalformedStructure`].
pub(crate) fn open(dtb: &[u8]) -> Result<DevTree<'_>, Error> {
    if dtb.len() < DevTree::MIN_HEADER_SIZE {
        return Err(Error::Truncated);
    }
    if !dtb.as_ptr().addr().is_multiple_of(TOKEN_SIZE) {
        return Err(Error::MisalignedBlob);
    }
    // SAFETY: `read_totalsize` requires a 4-byte aligned buffer of at least
    // `MIN_HEADER_SIZE` bytes; both were checked just above.
    let total_size = unsafe { DevTree::read_totalsize(dtb) }.map_err(Error::from_structure)?;
    if total_size < DevTree::MIN_HEADER_SIZE {
        return Err(Error::BadHeader);
    }
    let blob = dtb.get(..total_size).ok_or(Error::Truncated)?;
    // SAFETY: `DevTree::new` requires a 4-byte aligned buffer exactly `totalsize` long:
    // `blob` starts where the aligned `dtb` starts and was cut to `total_size`, which is at
    // least a header long, so the header getters' internal `unwrap()`s cannot fail.
    let devtree = unsafe { DevTree::new(blob) }.map_err(Error::from_structure)?;
    check_header(&devtree)?;
    check_structure_block(&devtree)?;
    Ok(devtree)
}

/// Whether `[offset, offset + size)` lies inside a blob of `total_size` bytes.
fn block_fits(offset: usize, size: usize, total_size: usize) -> bool {
    offset
        .checked_add(size)
        .is_some_and(|end| offset >= DevTree::MIN_HEADER_SIZE && end <= total_size)
}

/// Checks the version and that every block the header describes lies inside the blob.
fn check_header(devtree: &DevTree<'_>) -> Result<(), Error> {
    let version = devtree.version();
    let last_compatible_version = devtree.last_comp_version();
    if version < SUPPORTED_VERSION || last_compatible_version > SUPPORTED_VERSION {
        return Err(Error::UnsupportedVersion {
            version,
            last_compatible_version,
        });
    }
    let total_size = devtree.totalsize();
    let struct_size = devtree.size_dt_struct() as usize;
    let strings_size = devtree.size_dt_strings() as usize;
    let blocks_fit = block_fits(devtree.off_mem_rsvmap(), RESERVATION_ENTRY_SIZE, total_size)
        && block_fits(devtree.off_dt_struct(), struct_size, total_size)
        && block_fits(devtree.off_dt_strings(), strings_size, total_size)
        && struct_size >= TOKEN_SIZE;
    if !blocks_fit {
        return Err(Error::BadHeader);
    }
    Ok(())
}

/// Walks the structure block with `fdt-rs`'s own tokenizer until its end token, making sure
/// every token starts inside the structure block and leaves room for the tokenizer's
/// `debug_assert!` (see the module documentation).
///
/// Errors: [`Error::MalformedStructure`] if a token is invalid or runs past the block.
fn check_structure_block(devtree: &DevTree<'_>) -> Result<(), Error> {
    let buffer = devtree.buf();
    let mut offset = devtree.off_dt_struct();
    // `check_header` made sure this does not overflow and lies inside the blob.
    let struct_end = offset.saturating_add(devtree.size_dt_struct() as usize);
    loop {
        let token_end = offset
            .checked_add(TOKEN_SIZE)
            .ok_or(Error::MalformedStructure)?;
        if token_end > struct_end || token_end >= buffer.len() {
            return Err(Error::MalformedStructure);
        }
        // SAFETY: `next_devtree_token` requires a buffer holding a structure block and an
        // offset that is 4-byte aligned within it. `buffer` is the blob `DevTree::new`
        // accepted (4-byte aligned start, `off_dt_struct` 4-byte aligned, both checked by
        // `fdt-rs`), and every offset it hands back after `Ok(Some(_))` is realigned to 4 bytes
        // by the tokenizer itself. Its remaining precondition, a whole token before the end of
        // the buffer, is what the check just above establishes.
        let token = unsafe { next_devtree_token(buffer, &mut offset) };
        match token {
            Ok(Some(_)) => {}
            Ok(None) => return Ok(()),
            Err(_) => return Err(Error::MalformedStructure),
        }
    }
}

/// Adds every `/memreserve/` entry of the memory reservation block to `reserved`.
///
/// Errors: [`Error::BadHeader`] if the block is not terminated by an all-zero entry inside the
/// blob or an entry wraps around the address space; [`Error::CapacityExceeded`] if `reserved`
/// fills up.
pub(crate) fn read_reservation_block(
    devtree: &DevTree<'_>,
    reserved: &mut RangeList,
) -> Result<(), Error> {
    let buffer = devtree.buf();
    let mut offset = devtree.off_mem_rsvmap();
    loop {
        let entry_end = offset
            .checked_add(RESERVATION_ENTRY_SIZE)
            .ok_or(Error::BadHeader)?;
        let entry = buffer.get(offset..entry_end).ok_or(Error::BadHeader)?;
        let (address, size) = entry.split_at(RESERVATION_ENTRY_SIZE / 2);
        let address = u64::from_be_bytes(address.try_into().map_err(|_| Error::BadHeader)?);
        let size = u64::from_be_bytes(size.try_into().map_err(|_| Error::BadHeader)?);
        if address == 0 && size == 0 {
            return Ok(());
        }
        if address.checked_add(size).is_none() {
            return Err(Error::BadHeader);
        }
        reserved
            .push(PhysRange::new(address, size))
            .map_err(|_| Error::CapacityExceeded("reserved"))?;
        offset = entry_end;
    }
}

/// Builds the `fdt-rs` index of `devtree` in `buffer`, aligning it within the buffer.
///
/// Errors: [`Error::IndexBufferTooSmall`] with the length this buffer would need;
/// [`Error::MalformedStructure`] if `fdt-rs` rejects the token stream.
pub(crate) fn build_index<'i, 'dt>(
    devtree: DevTree<'dt>,
    buffer: &'i mut [u8],
) -> Result<DevTreeIndex<'i, 'dt>, Error> {
    let layout = DevTreeIndex::get_layout(&devtree).map_err(Error::from_structure)?;
    let misalignment = buffer.as_ptr().addr() % layout.align();
    let padding = if misalignment == 0 {
        0
    } else {
        layout.align() - misalignment
    };
    let needed = padding
        .checked_add(layout.size())
        .ok_or(Error::MalformedStructure)?;
    if buffer.len() < needed {
        return Err(Error::IndexBufferTooSmall { needed });
    }
    let aligned = buffer
        .get_mut(padding..)
        .ok_or(Error::IndexBufferTooSmall { needed })?;
    DevTreeIndex::new(devtree, aligned).map_err(|error| match error {
        DevTreeError::NotEnoughMemory => Error::IndexBufferTooSmall { needed },
        other => Error::from_structure(other),
    })
}
