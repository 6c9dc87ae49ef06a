//! Bad blobs and bad buffers: each must give its typed error, and nothing may panic.
//!
//! The DTB comes from outside the kernel, so besides the handful of named failure modes this
//! file feeds thousands of randomly corrupted copies of the real blobs to the parser. Those
//! only check that `parse` returns; a panic (including a `debug_assert!` inside `fdt-rs`,
//! which host tests compile in) fails the test.

mod common;

use common::{
    AlignedBytes, INDEX_BUFFER_SIZE, QEMU_BLOBS, compact, header, load, parse, read, read_u32,
    write_u32,
};
use devicetree::Error;

/// A small, deterministic pseudo-random generator (Marsaglia's xorshift64).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value in `0..bound`.
    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

/// Parses a copy of `bytes` placed at an aligned address.
fn parse_copy(bytes: &[u8]) -> Result<(), Error> {
    parse(AlignedBytes::new(bytes).bytes()).map(|_| ())
}

#[test]
fn a_blob_cut_short_of_its_totalsize_is_truncated() {
    let blob = load("gicv3-512m-smp4.dtb");
    for length in [40, 0x1000, 0x1d00, blob.len() - 1] {
        assert_eq!(
            parse(&blob[..length]).err(),
            Some(Error::Truncated),
            "{length}"
        );
    }
}

#[test]
fn a_blob_shorter_than_a_header_is_truncated() {
    let blob = load("gicv2-512m-smp1.dtb");
    for length in [0, 1, 4, 8, 39] {
        assert_eq!(
            parse(&blob[..length]).err(),
            Some(Error::Truncated),
            "{length}"
        );
    }
}

#[test]
fn a_blob_with_a_bad_magic_is_refused() {
    let mut copy = AlignedBytes::new(&read("gicv2-512m-smp1.dtb"));
    write_u32(copy.bytes_mut(), header::MAGIC, 0xfeed_d00d);
    assert_eq!(parse(copy.bytes()).err(), Some(Error::BadMagic));
}

#[test]
fn garbage_bytes_are_refused_without_panicking() {
    let mut random = XorShift(0x1234_5678_9abc_def1);
    for length in [0, 3, 40, 64, 100, 4096, 65536] {
        let garbage: Vec<u8> = (0..length).map(|_| random.next() as u8).collect();
        assert!(parse_copy(&garbage).is_err());
        assert!(parse_copy(&vec![0u8; length]).is_err());
        assert!(parse_copy(&vec![0xffu8; length]).is_err());
    }
}

#[test]
fn garbage_behind_a_valid_magic_is_refused_without_panicking() {
    let mut random = XorShift(0x0bad_cafe_dead_beef);
    for _ in 0..2000 {
        let length = 40 + random.below(400);
        let mut garbage: Vec<u8> = (0..length).map(|_| random.next() as u8).collect();
        write_u32(&mut garbage, header::MAGIC, 0xd00d_feed);
        if random.below(2) == 0 {
            write_u32(&mut garbage, header::TOTAL_SIZE, length as u32);
        }
        assert!(parse_copy(&garbage).is_err());
    }
}

#[test]
fn a_misaligned_blob_is_refused() {
    let bytes = read("gicv2-512m-smp1.dtb");
    for misalignment in 1..4 {
        let copy = AlignedBytes::at_misalignment(&bytes, misalignment);
        assert_eq!(parse(copy.bytes()).err(), Some(Error::MisalignedBlob));
    }
    let copy = AlignedBytes::at_misalignment(&bytes, 4);
    assert!(parse(copy.bytes()).is_ok(), "4-byte alignment is enough");
}

#[test]
fn an_index_buffer_that_is_too_small_reports_the_size_it_needs() {
    let blob = load("gicv3-512m-smp4.dtb");
    let mut small = AlignedBytes::new(&[0u8; 1024]);
    let Err(Error::IndexBufferTooSmall { needed }) = devicetree::parse(blob, small.bytes_mut())
    else {
        panic!("a 1 KiB index buffer should be too small");
    };
    assert!(needed > 1024 && needed < INDEX_BUFFER_SIZE, "{needed}");
    let mut exact = AlignedBytes::new(&vec![0u8; needed]);
    assert!(devicetree::parse(blob, exact.bytes_mut()).is_ok());
    assert_eq!(
        devicetree::parse(blob, &mut exact.bytes_mut()[..needed - 1]).err(),
        Some(Error::IndexBufferTooSmall { needed })
    );
}

#[test]
fn an_empty_index_buffer_is_too_small() {
    let blob = load("gicv2-512m-smp1.dtb");
    assert!(matches!(
        devicetree::parse(blob, &mut []),
        Err(Error::IndexBufferTooSmall { .. })
    ));
}

#[test]
fn a_misaligned_index_buffer_is_aligned_within_and_counts_the_skipped_bytes() {
    let blob = load("gicv2-512m-smp1.dtb");
    let mut storage = AlignedBytes::new(&vec![0u8; INDEX_BUFFER_SIZE + 8]);
    let bytes = storage.bytes_mut();
    for misalignment in 1..8 {
        let buffer = &mut bytes[misalignment..misalignment + INDEX_BUFFER_SIZE];
        assert!(devicetree::parse(blob, buffer).is_ok(), "{misalignment}");
    }
    let Err(Error::IndexBufferTooSmall { needed: aligned }) =
        devicetree::parse(blob, &mut bytes[..8])
    else {
        panic!("8 bytes cannot hold an index");
    };
    let Err(Error::IndexBufferTooSmall { needed: misaligned }) =
        devicetree::parse(blob, &mut bytes[3..11])
    else {
        panic!("8 bytes cannot hold an index");
    };
    assert_eq!(misaligned, aligned + 5);
}

#[test]
fn an_unsupported_version_is_refused() {
    let mut copy = AlignedBytes::new(&read("gicv2-512m-smp1.dtb"));
    write_u32(copy.bytes_mut(), header::VERSION, 16);
    assert_eq!(
        parse(copy.bytes()).err(),
        Some(Error::UnsupportedVersion {
            version: 16,
            last_compatible_version: 16,
        })
    );
    write_u32(copy.bytes_mut(), header::VERSION, 18);
    write_u32(copy.bytes_mut(), header::LAST_COMPATIBLE_VERSION, 18);
    assert!(matches!(
        parse(copy.bytes()),
        Err(Error::UnsupportedVersion { .. })
    ));
}

#[test]
fn header_blocks_outside_the_blob_are_a_bad_header() {
    let original = compact(&read("gicv3-2g.dtb"));
    let total_size = original.len() as u32;
    for (field, value) in [
        (header::STRUCT_OFFSET, total_size),
        (header::STRUCT_OFFSET, u32::MAX - 3),
        (header::STRUCT_OFFSET, 0),
        (header::STRUCT_SIZE, total_size),
        (header::STRUCT_SIZE, u32::MAX),
        (header::STRUCT_SIZE, 0),
        (header::STRINGS_OFFSET, total_size),
        (header::STRINGS_SIZE, u32::MAX),
        (header::RESERVATION_OFFSET, total_size - 8),
        (header::TOTAL_SIZE, 8),
    ] {
        let mut copy = original.clone();
        write_u32(&mut copy, field, value);
        assert_eq!(
            parse_copy(&copy).err(),
            Some(Error::BadHeader),
            "{field} = {value:#x}"
        );
    }
}

#[test]
fn a_structure_block_cut_before_its_end_token_is_malformed() {
    let original = compact(&read("gicv3-2g.dtb"));
    let struct_size = read_u32(&original, header::STRUCT_SIZE);
    for size in [4, 8, 0x100, struct_size - 4] {
        let mut copy = original.clone();
        write_u32(&mut copy, header::STRUCT_SIZE, size);
        assert_eq!(
            parse_copy(&copy).err(),
            Some(Error::MalformedStructure),
            "{size}"
        );
    }
}

#[test]
fn a_structure_block_running_to_the_end_of_the_blob_is_malformed_not_a_panic() {
    // fdt-rs's tokenizer debug-asserts that a whole token fits before the end of the blob;
    // cut the blob right after the structure block so that its end token is the last word.
    let mut copy = compact(&read("gicv3-2g.dtb"));
    let struct_end =
        (read_u32(&copy, header::STRUCT_OFFSET) + read_u32(&copy, header::STRUCT_SIZE)) as usize;
    copy.truncate(struct_end);
    write_u32(&mut copy, header::TOTAL_SIZE, struct_end as u32);
    write_u32(&mut copy, header::STRINGS_SIZE, 0);
    write_u32(&mut copy, header::STRINGS_OFFSET, struct_end as u32);
    assert_eq!(parse_copy(&copy).err(), Some(Error::MalformedStructure));
}

#[test]
fn an_unterminated_reservation_block_fails_cleanly() {
    let mut copy = compact(&read("gicv2-512m-smp1.dtb"));
    let reservations = read_u32(&copy, header::RESERVATION_OFFSET) as usize;
    copy[reservations..reservations + 16].fill(0x11);
    assert!(parse_copy(&copy).is_err());
}

#[test]
fn every_prefix_of_a_small_blob_with_totalsize_rewritten_fails_cleanly() {
    let original = read("synthetic/board.dtb");
    for length in 0..original.len() {
        let mut copy = original[..length].to_vec();
        if length >= 8 {
            write_u32(&mut copy, header::TOTAL_SIZE, length as u32);
        }
        assert!(parse_copy(&copy).is_err(), "{length}");
    }
    assert!(parse_copy(&original).is_ok());
}

#[test]
fn randomly_corrupted_copies_of_real_blobs_never_panic() {
    let mut random = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut blobs: Vec<Vec<u8>> = QEMU_BLOBS.iter().map(|name| compact(&read(name))).collect();
    blobs.push(read("synthetic/board.dtb"));
    blobs.push(read("synthetic/one-cell-root.dtb"));
    let mut index_buffer = vec![0u8; INDEX_BUFFER_SIZE];
    let mut parsed = 0;
    for iteration in 0..6000 {
        let original = &blobs[iteration % blobs.len()];
        let mut copy = AlignedBytes::new(original);
        let bytes = copy.bytes_mut();
        let struct_start = read_u32(bytes, header::STRUCT_OFFSET) as usize;
        let length = bytes.len();
        let mutations = if random.below(2) == 0 {
            1
        } else {
            2 + random.below(6)
        };
        for _ in 0..mutations {
            match random.below(10) {
                // A random byte anywhere after the magic.
                0 => bytes[4 + random.below(length - 4)] = random.next() as u8,
                // A header field set to something random, small or near the size.
                1 => {
                    let field = 4 * (1 + random.below(9));
                    let value = match random.below(3) {
                        0 => random.next() as u32,
                        1 => random.below(64) as u32,
                        _ => (length as u32).wrapping_sub(random.below(16) as u32),
                    };
                    write_u32(bytes, field, value);
                }
                // A structure word set to a token, a small length or a random value.
                2..=5 => {
                    let word = struct_start + 4 * random.below((length - struct_start) / 4);
                    let value = match random.below(4) {
                        0 => [1, 2, 3, 4, 9][random.below(5)],
                        1 => random.below(64) as u32,
                        2 => random.next() as u32,
                        _ => 0,
                    };
                    if word + 4 <= length {
                        write_u32(bytes, word, value);
                    }
                }
                // A flipped bit in the structure or strings blocks.
                _ => {
                    let offset = struct_start + random.below(length - struct_start);
                    bytes[offset] ^= 1 << random.below(8);
                }
            }
        }
        // Sometimes also cut the blob inside its structure block and make the header agree
        // (no strings), which drives the tokenizer to the very end of the buffer.
        let cut = if random.below(8) == 0 {
            let cut = (struct_start + 4 + random.below(length - struct_start - 4)) & !3;
            write_u32(bytes, header::TOTAL_SIZE, cut as u32);
            write_u32(bytes, header::STRUCT_SIZE, (cut - struct_start) as u32);
            write_u32(bytes, header::STRINGS_OFFSET, cut as u32);
            write_u32(bytes, header::STRINGS_SIZE, 0);
            cut
        } else {
            length
        };
        if devicetree::parse(&copy.bytes()[..cut], &mut index_buffer).is_ok() {
            parsed += 1;
        }
    }
    // Some corruptions hit bytes nobody reads; the rest must have been refused, not crashed.
    assert!(parsed > 0 && parsed < 6000, "{parsed}");
}

#[test]
fn total_size_reads_the_header_of_a_real_blob_and_refuses_garbage() {
    #[repr(C, align(8))]
    struct Aligned([u8; 64]);
    let blob = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/gicv2-512m-smp1.dtb"
    ))
    .unwrap();
    let mut header = Aligned([0; 64]);
    header.0.copy_from_slice(&blob[..64]);
    assert_eq!(devicetree::total_size(&header.0), Ok(blob.len()));
    header.0[0] = 0;
    assert_eq!(
        devicetree::total_size(&header.0),
        Err(devicetree::Error::BadMagic)
    );
    assert_eq!(
        devicetree::total_size(&header.0[..20]),
        Err(devicetree::Error::Truncated)
    );
}
