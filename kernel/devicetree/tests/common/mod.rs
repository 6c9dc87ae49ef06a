//! Loading test blobs into 8-byte aligned memory, as the boot protocol hands them over.
//!
//! `include_bytes!` gives no alignment guarantee and `fdt-rs` needs 4 bytes, so every blob is
//! copied into a buffer at an aligned offset. Blobs are read at run time from `testdata/` so
//! that the test binaries stay small although QEMU pads each blob to 1 MiB.

#![allow(
    dead_code,
    reason = "each test crate includes this module and uses a different subset of it"
)]

use devicetree::{Error, Machine};

/// The index buffer size the kernel uses.
pub const INDEX_BUFFER_SIZE: usize = 64 * 1024;

/// The blobs dumped from QEMU (see `testdata/README.md`).
pub const QEMU_BLOBS: [&str; 5] = [
    "gicv2-512m-smp1.dtb",
    "gicv3-512m-smp4.dtb",
    "gicv3-128m-initrd.dtb",
    "gicv3-2g.dtb",
    "gicv3-el2.dtb",
];

/// Bytes copied to an 8-byte aligned address.
pub struct AlignedBytes {
    storage: Vec<u8>,
    offset: usize,
    length: usize,
}

impl AlignedBytes {
    /// Copies `bytes` to an 8-byte aligned address.
    pub fn new(bytes: &[u8]) -> Self {
        Self::at_misalignment(bytes, 0)
    }

    /// Copies `bytes` to an address that is `misalignment` bytes past an 8-byte boundary.
    pub fn at_misalignment(bytes: &[u8], misalignment: usize) -> Self {
        let mut storage = vec![0u8; bytes.len() + 16];
        let offset = storage.as_ptr().align_offset(8) + misalignment;
        storage[offset..offset + bytes.len()].copy_from_slice(bytes);
        Self {
            storage,
            offset,
            length: bytes.len(),
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.storage[self.offset..self.offset + self.length]
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.storage[self.offset..self.offset + self.length]
    }
}

/// The raw contents of `testdata/<name>`.
pub fn read(name: &str) -> Vec<u8> {
    let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("cannot read {path}: {error}"))
}

/// `testdata/<name>`, aligned and kept alive for the rest of the test run.
pub fn load(name: &str) -> &'static [u8] {
    Box::leak(Box::new(AlignedBytes::new(&read(name)))).bytes()
}

/// Parses `blob` with a fresh index buffer of the kernel's size.
pub fn parse(blob: &[u8]) -> Result<Machine<'_>, Error> {
    let mut index_buffer = vec![0u8; INDEX_BUFFER_SIZE];
    devicetree::parse(blob, &mut index_buffer)
}

/// Parses `testdata/<name>`, which must succeed.
pub fn machine(name: &str) -> Machine<'static> {
    parse(load(name)).unwrap_or_else(|error| panic!("{name} does not parse: {error:?}"))
}

/// Parses `testdata/<name>`, which must fail; returns the error.
pub fn parse_error(name: &str) -> Error {
    match parse(load(name)) {
        Ok(machine) => panic!("{name} parsed although it should not: {machine:?}"),
        Err(error) => error,
    }
}

/// Big-endian u32 at `offset` of `bytes`.
pub fn read_u32(bytes: &[u8], offset: usize) -> u32 {
    u32::from_be_bytes(bytes[offset..offset + 4].try_into().unwrap())
}

/// Writes a big-endian u32 at `offset` of `bytes`.
pub fn write_u32(bytes: &mut [u8], offset: usize, value: u32) {
    bytes[offset..offset + 4].copy_from_slice(&value.to_be_bytes());
}

/// Header field offsets (Devicetree Specification 5.2).
pub mod header {
    pub const MAGIC: usize = 0;
    pub const TOTAL_SIZE: usize = 4;
    pub const STRUCT_OFFSET: usize = 8;
    pub const STRINGS_OFFSET: usize = 12;
    pub const RESERVATION_OFFSET: usize = 16;
    pub const VERSION: usize = 20;
    pub const LAST_COMPATIBLE_VERSION: usize = 24;
    pub const STRINGS_SIZE: usize = 32;
    pub const STRUCT_SIZE: usize = 36;
}

/// A copy of a QEMU blob without its padding: cut after the strings block, with `totalsize`
/// rewritten to match, so that fuzzing copies a few KiB instead of 1 MiB per iteration.
pub fn compact(blob: &[u8]) -> Vec<u8> {
    let strings_end = read_u32(blob, header::STRINGS_OFFSET) as usize
        + read_u32(blob, header::STRINGS_SIZE) as usize;
    let length = strings_end.next_multiple_of(8);
    let mut copy = blob[..length].to_vec();
    write_u32(&mut copy, header::TOTAL_SIZE, length as u32);
    copy
}
