//! Flattens the kernel ELF into the raw arm64 `Image` that QEMU's `-kernel` loader boots.
//!
//! The kernel is linked at a high virtual address, but QEMU only treats a file as a Linux
//! kernel (2 MiB-aligned load, DTB address in x0, initrd placed and announced in /chosen,
//! secondary CPUs parked in PSCI) when it is a flat binary that starts with the arm64 `Image`
//! header. So we lay out every `PT_LOAD` segment that has file contents at its *physical*
//! (load) address relative to the lowest one, zero the gaps, and leave the bss out: the
//! kernel clears it itself, and the header's `image_size` tells the loader how much memory
//! the kernel really needs.
//!
//! Everything that can go wrong is refused with a [`KernelImageError`] before a byte is
//! written, because a malformed image only shows up later as a silent hang in QEMU.

use core::fmt;

use object::elf::{EM_AARCH64, FileHeader64, PT_LOAD};
use object::read::elf::{ElfFile64, FileHeader as _, ProgramHeader as _};
use object::{Endianness, FileKind};

/// The largest image we are willing to write; anything bigger is a linker-script mistake.
pub const MAXIMUM_IMAGE_SIZE: u64 = 64 * 1024 * 1024;

/// Byte offset of the `image_size` field (u64, little-endian) in the arm64 `Image` header.
pub const IMAGE_SIZE_OFFSET: usize = 16;

/// Byte offset of the `magic` field (u32, little-endian) in the arm64 `Image` header.
pub const IMAGE_MAGIC_OFFSET: usize = 0x38;

/// The arm64 `Image` magic, "ARM\x64", as it appears in the file.
pub const IMAGE_MAGIC: [u8; 4] = *b"ARM\x64";

/// Size of the arm64 `Image` header: code0, code1, text_offset, image_size, flags,
/// res2..res4, magic, res5.
pub const IMAGE_HEADER_SIZE: usize = 64;

/// The flat binary made from a kernel ELF, with the facts that were checked on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelImage {
    /// The bytes to hand to QEMU's `-kernel`.
    pub bytes: Vec<u8>,
    /// Physical address the first byte was linked for (the lowest `p_paddr`).
    pub physical_base: u64,
    /// Memory the kernel occupies from `physical_base`, bss included.
    pub memory_size: u64,
    /// The `image_size` the header declares.
    pub declared_image_size: u64,
}

/// A loadable segment's place in physical memory, used to report overlaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentPlacement {
    /// Index of the program header in the ELF file.
    pub program_header: usize,
    /// `p_paddr`.
    pub physical_address: u64,
    /// Bytes the segment covers in memory: the larger of `p_memsz` and `p_filesz`.
    pub memory_size: u64,
}

impl SegmentPlacement {
    fn end(&self) -> u64 {
        // Cannot overflow: checked when the placement is made.
        self.physical_address + self.memory_size
    }
}

impl fmt::Display for SegmentPlacement {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "program header {} at physical {:#x}..{:#x}",
            self.program_header,
            self.physical_address,
            self.end()
        )
    }
}

/// Why a kernel ELF cannot become a bootable `Image`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelImageError {
    /// The file does not start with the ELF magic.
    NotElf,
    /// The file is an ELF file, but not a 64-bit one.
    NotElf64,
    /// The file is a big-endian ELF file.
    NotLittleEndian,
    /// The file is built for another architecture (`e_machine`).
    NotAarch64 {
        /// The `e_machine` value found.
        machine: u16,
    },
    /// The object crate could not parse the file.
    Malformed {
        /// What the parser complained about.
        reason: String,
    },
    /// A program header points outside the file.
    SegmentOutsideFile {
        /// Index of the program header.
        program_header: usize,
    },
    /// A segment's address plus size does not fit in 64 bits.
    SegmentAddressOverflow {
        /// Index of the program header.
        program_header: usize,
    },
    /// No `PT_LOAD` segment has any file contents.
    NoLoadableSegment,
    /// Two loadable segments claim the same physical memory.
    OverlappingSegments {
        /// The segment with the lower address.
        first: SegmentPlacement,
        /// The segment that starts inside `first`.
        second: SegmentPlacement,
    },
    /// The flat image would be larger than [`MAXIMUM_IMAGE_SIZE`].
    TooLarge {
        /// Size the image would have.
        size: u64,
    },
    /// The image is too short to hold an arm64 `Image` header at all.
    TooShortForHeader {
        /// Size of the flat image.
        size: u64,
    },
    /// The image does not carry "ARM\x64" at offset 0x38.
    MissingImageMagic {
        /// The four bytes found there.
        found: [u8; 4],
    },
    /// The header's `image_size` does not even cover the file.
    ImageSizeBelowFile {
        /// `image_size` from the header.
        declared: u64,
        /// Length of the flat image.
        file_size: u64,
    },
    /// The header's `image_size` does not cover the bss, so QEMU may put the DTB or
    /// initrd where the kernel will zero memory.
    ImageSizeBelowMemory {
        /// `image_size` from the header.
        declared: u64,
        /// Memory the segments occupy from the lowest physical address, bss included.
        memory_size: u64,
    },
}

impl fmt::Display for KernelImageError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotElf => write!(formatter, "not an ELF file"),
            Self::NotElf64 => write!(formatter, "not a 64-bit ELF file (aarch64 ELF64 expected)"),
            Self::NotLittleEndian => {
                write!(
                    formatter,
                    "big-endian ELF file (little-endian aarch64 expected)"
                )
            }
            Self::NotAarch64 { machine } => write!(
                formatter,
                "ELF file for machine {machine} (e_machine), not aarch64 ({})",
                EM_AARCH64.0
            ),
            Self::Malformed { reason } => write!(formatter, "malformed ELF file: {reason}"),
            Self::SegmentOutsideFile { program_header } => write!(
                formatter,
                "program header {program_header} points outside the file"
            ),
            Self::SegmentAddressOverflow { program_header } => write!(
                formatter,
                "program header {program_header} ends beyond the 64-bit address space"
            ),
            Self::NoLoadableSegment => {
                write!(formatter, "no PT_LOAD segment with file contents")
            }
            Self::OverlappingSegments { first, second } => {
                write!(formatter, "overlapping segments: {first} and {second}")
            }
            Self::TooLarge { size } => write!(
                formatter,
                "image would be {size} bytes, more than the limit of {MAXIMUM_IMAGE_SIZE} bytes \
                 (check the linker script's physical addresses)"
            ),
            Self::TooShortForHeader { size } => write!(
                formatter,
                "image is {size} bytes, too short for the {IMAGE_HEADER_SIZE}-byte arm64 Image header"
            ),
            Self::MissingImageMagic { found } => write!(
                formatter,
                "no arm64 Image magic \"ARM\\x64\" at offset {IMAGE_MAGIC_OFFSET:#x} (found {found:02x?}); \
                 the kernel must start with the Linux Image header"
            ),
            Self::ImageSizeBelowFile {
                declared,
                file_size,
            } => write!(
                formatter,
                "Image header declares image_size {declared:#x}, smaller than the file ({file_size:#x} bytes)"
            ),
            Self::ImageSizeBelowMemory {
                declared,
                memory_size,
            } => write!(
                formatter,
                "Image header declares image_size {declared:#x}, smaller than the memory the \
                 segments occupy with bss ({memory_size:#x} bytes)"
            ),
        }
    }
}

impl std::error::Error for KernelImageError {}

/// A `PT_LOAD` segment as the flattener needs it.
struct LoadSegment<'data> {
    placement: SegmentPlacement,
    contents: &'data [u8],
}

/// Turns the bytes of a kernel ELF file into a flat arm64 `Image`.
///
/// Segments with file contents are placed at `p_paddr - lowest p_paddr`, gaps are zeroed,
/// and bss at the end is not written. See [`KernelImageError`] for what is refused.
pub fn flatten(elf: &[u8]) -> Result<KernelImage, KernelImageError> {
    let segments = load_segments(elf)?;
    check_no_overlap(&segments)?;

    let with_contents = || {
        segments
            .iter()
            .filter(|segment| !segment.contents.is_empty())
    };
    let physical_base = with_contents()
        .map(|segment| segment.placement.physical_address)
        .min()
        .ok_or(KernelImageError::NoLoadableSegment)?;
    let file_end = with_contents()
        .map(|segment| segment.placement.physical_address + segment.contents.len() as u64)
        .max()
        .unwrap_or(physical_base);
    let memory_end = segments
        .iter()
        .map(|segment| segment.placement.end())
        .max()
        .unwrap_or(file_end)
        .max(file_end);

    let size = file_end - physical_base;
    if size > MAXIMUM_IMAGE_SIZE {
        return Err(KernelImageError::TooLarge { size });
    }
    let mut bytes = vec![0u8; size as usize];
    for segment in with_contents() {
        let offset = (segment.placement.physical_address - physical_base) as usize;
        bytes[offset..offset + segment.contents.len()].copy_from_slice(segment.contents);
    }

    let memory_size = memory_end - physical_base;
    let declared_image_size = check_image_header(&bytes, memory_size)?;
    Ok(KernelImage {
        bytes,
        physical_base,
        memory_size,
        declared_image_size,
    })
}

/// Parses the file and returns its `PT_LOAD` segments sorted by physical address.
fn load_segments(elf: &[u8]) -> Result<Vec<LoadSegment<'_>>, KernelImageError> {
    match FileKind::parse(elf) {
        Ok(FileKind::Elf64) => {}
        Ok(FileKind::Elf32) => return Err(KernelImageError::NotElf64),
        _ => return Err(KernelImageError::NotElf),
    }
    let malformed = |error: object::read::Error| KernelImageError::Malformed {
        reason: error.to_string(),
    };
    let header = FileHeader64::<Endianness>::parse(elf).map_err(malformed)?;
    let endian = header.endian().map_err(malformed)?;
    if endian != Endianness::Little {
        return Err(KernelImageError::NotLittleEndian);
    }
    let machine = header.e_machine(endian);
    if machine != EM_AARCH64 {
        return Err(KernelImageError::NotAarch64 { machine: machine.0 });
    }

    let file = ElfFile64::<Endianness>::parse(elf).map_err(malformed)?;
    let mut segments = Vec::new();
    for (index, program_header) in file.elf_program_headers().iter().enumerate() {
        if program_header.p_type(endian) != PT_LOAD {
            continue;
        }
        let contents = program_header.data(endian, elf).map_err(|()| {
            KernelImageError::SegmentOutsideFile {
                program_header: index,
            }
        })?;
        let physical_address = program_header.p_paddr(endian);
        let memory_size = program_header
            .p_memsz(endian)
            .max(program_header.p_filesz(endian));
        if physical_address.checked_add(memory_size).is_none() {
            return Err(KernelImageError::SegmentAddressOverflow {
                program_header: index,
            });
        }
        if memory_size == 0 {
            continue;
        }
        segments.push(LoadSegment {
            placement: SegmentPlacement {
                program_header: index,
                physical_address,
                memory_size,
            },
            contents,
        });
    }
    segments.sort_by_key(|segment| segment.placement.physical_address);
    Ok(segments)
}

/// Refuses two segments whose physical memory ranges (bss included) intersect.
fn check_no_overlap(segments: &[LoadSegment<'_>]) -> Result<(), KernelImageError> {
    for pair in segments.windows(2) {
        let (first, second) = (pair[0].placement, pair[1].placement);
        if second.physical_address < first.end() {
            return Err(KernelImageError::OverlappingSegments { first, second });
        }
    }
    Ok(())
}

/// Checks the arm64 `Image` header at the start of the flat image; returns `image_size`.
fn check_image_header(bytes: &[u8], memory_size: u64) -> Result<u64, KernelImageError> {
    let file_size = bytes.len() as u64;
    let header = bytes
        .get(..IMAGE_HEADER_SIZE)
        .ok_or(KernelImageError::TooShortForHeader { size: file_size })?;
    let mut found = [0u8; 4];
    found.copy_from_slice(&header[IMAGE_MAGIC_OFFSET..IMAGE_MAGIC_OFFSET + 4]);
    if found != IMAGE_MAGIC {
        return Err(KernelImageError::MissingImageMagic { found });
    }
    let mut image_size = [0u8; 8];
    image_size.copy_from_slice(&header[IMAGE_SIZE_OFFSET..IMAGE_SIZE_OFFSET + 8]);
    let declared = u64::from_le_bytes(image_size);
    if declared < file_size {
        return Err(KernelImageError::ImageSizeBelowFile {
            declared,
            file_size,
        });
    }
    if declared < memory_size {
        return Err(KernelImageError::ImageSizeBelowMemory {
            declared,
            memory_size,
        });
    }
    Ok(declared)
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::elf::{
        ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB, ELFMAG, ELFOSABI_NONE, EM_X86_64, ET_EXEC,
        EV_CURRENT, FileHeader64, Ident, PF_R, PT_NOTE, ProgramHeader64, ProgramType,
    };
    use object::{BigEndian, Endian, LittleEndian, U16, U32, U64, bytes_of};

    const HEADER_SIZE: u64 = size_of::<FileHeader64<LittleEndian>>() as u64;
    const PROGRAM_HEADER_SIZE: u64 = size_of::<ProgramHeader64<LittleEndian>>() as u64;

    /// One program header of a test ELF file.
    struct TestSegment {
        kind: ProgramType,
        physical_address: u64,
        contents: Vec<u8>,
        memory_size: u64,
    }

    fn load(physical_address: u64, contents: Vec<u8>) -> TestSegment {
        let memory_size = contents.len() as u64;
        TestSegment {
            kind: PT_LOAD,
            physical_address,
            contents,
            memory_size,
        }
    }

    fn with_bss(mut segment: TestSegment, bss: u64) -> TestSegment {
        segment.memory_size += bss;
        segment
    }

    /// A 64-byte arm64 Image header declaring `image_size`, followed by `body`.
    fn image_start(image_size: u64, body: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0u8; IMAGE_HEADER_SIZE];
        bytes[0..4].copy_from_slice(&0x1400_0010u32.to_le_bytes()); // b +0x40
        bytes[IMAGE_SIZE_OFFSET..IMAGE_SIZE_OFFSET + 8].copy_from_slice(&image_size.to_le_bytes());
        bytes[IMAGE_MAGIC_OFFSET..IMAGE_MAGIC_OFFSET + 4].copy_from_slice(&IMAGE_MAGIC);
        bytes.extend_from_slice(body);
        bytes
    }

    /// Assembles an ELF64 executable with the given byte order, machine and program headers;
    /// the segment contents follow the program header table in order.
    fn elf_file_with<E: Endian>(
        endian: E,
        data: object::elf::DataEncoding,
        machine: object::elf::Machine,
        segments: &[TestSegment],
    ) -> Vec<u8> {
        let program_headers_end = HEADER_SIZE + PROGRAM_HEADER_SIZE * segments.len() as u64;
        let header = FileHeader64::<E> {
            e_ident: Ident {
                magic: ELFMAG,
                class: ELFCLASS64,
                data,
                version: EV_CURRENT,
                os_abi: ELFOSABI_NONE,
                abi_version: 0,
                padding: [0; 7],
            },
            e_type: U16::new(endian, ET_EXEC),
            e_machine: U16::new(endian, machine),
            e_version: U32::new(endian, EV_CURRENT.0.into()),
            e_entry: U64::new(endian, 0xffff_0000_0000_0000),
            e_phoff: U64::new(endian, HEADER_SIZE),
            e_shoff: U64::new(endian, 0),
            e_flags: U32::new(endian, object::elf::FileFlags(0)),
            e_ehsize: U16::new(endian, HEADER_SIZE as u16),
            e_phentsize: U16::new(endian, PROGRAM_HEADER_SIZE as u16),
            e_phnum: U16::new(endian, segments.len() as u16),
            e_shentsize: U16::new(endian, 0),
            e_shnum: U16::new(endian, 0),
            e_shstrndx: U16::new(endian, object::elf::SymbolSection(0)),
        };
        let mut file = bytes_of(&header).to_vec();
        let mut offset = program_headers_end;
        for segment in segments {
            let program_header = ProgramHeader64::<E> {
                p_type: U32::new(endian, segment.kind),
                p_flags: U32::new(endian, PF_R),
                p_offset: U64::new(endian, offset),
                // The kernel runs at a high virtual address; only p_paddr may matter.
                p_vaddr: U64::new(endian, 0xffff_0000_0000_0000 + segment.physical_address),
                p_paddr: U64::new(endian, segment.physical_address),
                p_filesz: U64::new(endian, segment.contents.len() as u64),
                p_memsz: U64::new(endian, segment.memory_size),
                p_align: U64::new(endian, 0x1000),
            };
            file.extend_from_slice(bytes_of(&program_header));
            offset += segment.contents.len() as u64;
        }
        for segment in segments {
            file.extend_from_slice(&segment.contents);
        }
        file
    }

    fn elf_file(segments: &[TestSegment]) -> Vec<u8> {
        elf_file_with(LittleEndian, ELFDATA2LSB, EM_AARCH64, segments)
    }

    #[test]
    fn segments_are_placed_at_their_physical_offset_with_zeroed_gaps() {
        let text = image_start(0x1000, b"text");
        let data = b"data".to_vec();
        let image = flatten(&elf_file(&[
            load(0x4020_0000, text.clone()),
            load(0x4020_0100, data),
        ]))
        .expect("valid kernel");

        assert_eq!(image.physical_base, 0x4020_0000);
        assert_eq!(image.bytes.len(), 0x104);
        assert_eq!(&image.bytes[..text.len()], &text[..]);
        assert!(image.bytes[text.len()..0x100].iter().all(|&byte| byte == 0));
        assert_eq!(&image.bytes[0x100..], b"data");
    }

    #[test]
    fn segments_are_ordered_by_physical_address_not_by_program_header_order() {
        let image = flatten(&elf_file(&[
            load(0x8080, b"late".to_vec()),
            load(0x8000, image_start(0x100, b"")),
        ]))
        .expect("valid kernel");

        assert_eq!(image.physical_base, 0x8000);
        assert_eq!(image.bytes.len(), 0x84);
        assert_eq!(&image.bytes[..4], &0x1400_0010u32.to_le_bytes());
        assert_eq!(&image.bytes[0x80..], b"late");
    }

    #[test]
    fn bss_at_the_end_is_left_out_of_the_file_but_counted_in_memory() {
        let image = flatten(&elf_file(&[
            load(0x1000, image_start(0x2000, b"")),
            with_bss(load(0x1040, b"data".to_vec()), 0x1000),
        ]))
        .expect("valid kernel");

        assert_eq!(image.bytes.len(), 0x44);
        assert_eq!(image.memory_size, 0x1044);
        assert_eq!(image.declared_image_size, 0x2000);
    }

    #[test]
    fn segments_that_are_not_loadable_or_only_bss_are_not_written() {
        let note = TestSegment {
            kind: PT_NOTE,
            physical_address: 0,
            contents: b"note".to_vec(),
            memory_size: 4,
        };
        let bss_only = with_bss(load(0x2000, Vec::new()), 0x100);
        let image = flatten(&elf_file(&[
            note,
            load(0x1000, image_start(0x1100, b"")),
            bss_only,
        ]))
        .expect("valid kernel");

        assert_eq!(image.physical_base, 0x1000);
        assert_eq!(image.bytes.len(), IMAGE_HEADER_SIZE);
        assert_eq!(image.memory_size, 0x1100);
    }

    #[test]
    fn a_file_that_is_not_elf_is_refused() {
        assert_eq!(
            flatten(b"MZ not an elf file at all"),
            Err(KernelImageError::NotElf)
        );
    }

    #[test]
    fn a_32_bit_elf_file_is_refused() {
        let mut file = elf_file(&[load(0, image_start(0x100, b""))]);
        file[4] = 1; // EI_CLASS = ELFCLASS32
        assert_eq!(flatten(&file), Err(KernelImageError::NotElf64));
    }

    #[test]
    fn a_big_endian_elf_file_is_refused() {
        let file = elf_file_with(
            BigEndian,
            ELFDATA2MSB,
            EM_AARCH64,
            &[load(0, image_start(0x100, b""))],
        );
        assert_eq!(flatten(&file), Err(KernelImageError::NotLittleEndian));
    }

    #[test]
    fn an_elf_file_for_another_machine_is_refused() {
        let file = elf_file_with(
            LittleEndian,
            ELFDATA2LSB,
            EM_X86_64,
            &[load(0, image_start(0x100, b""))],
        );
        assert_eq!(
            flatten(&file),
            Err(KernelImageError::NotAarch64 {
                machine: EM_X86_64.0
            })
        );
    }

    #[test]
    fn a_file_without_loadable_contents_is_refused() {
        assert_eq!(
            flatten(&elf_file(&[])),
            Err(KernelImageError::NoLoadableSegment)
        );
        let bss_only = with_bss(load(0x1000, Vec::new()), 0x100);
        assert_eq!(
            flatten(&elf_file(&[bss_only])),
            Err(KernelImageError::NoLoadableSegment)
        );
    }

    #[test]
    fn overlapping_segments_are_refused() {
        let result = flatten(&elf_file(&[
            load(0x1000, image_start(0x1000, b"")),
            load(0x1020, b"clash".to_vec()),
        ]));
        assert_eq!(
            result,
            Err(KernelImageError::OverlappingSegments {
                first: SegmentPlacement {
                    program_header: 0,
                    physical_address: 0x1000,
                    memory_size: 0x40,
                },
                second: SegmentPlacement {
                    program_header: 1,
                    physical_address: 0x1020,
                    memory_size: 5,
                },
            })
        );
    }

    #[test]
    fn a_segment_whose_bss_runs_into_the_next_segment_is_refused() {
        let result = flatten(&elf_file(&[
            with_bss(load(0x1000, image_start(0x1000, b"")), 0x100),
            load(0x1080, b"data".to_vec()),
        ]));
        assert!(matches!(
            result,
            Err(KernelImageError::OverlappingSegments { .. })
        ));
    }

    #[test]
    fn an_image_larger_than_the_limit_is_refused() {
        let result = flatten(&elf_file(&[
            load(0, image_start(u64::MAX, b"")),
            load(MAXIMUM_IMAGE_SIZE, b"far".to_vec()),
        ]));
        assert_eq!(
            result,
            Err(KernelImageError::TooLarge {
                size: MAXIMUM_IMAGE_SIZE + 3
            })
        );
    }

    #[test]
    fn an_image_without_the_arm64_magic_is_refused() {
        let mut start = image_start(0x100, b"");
        start[IMAGE_MAGIC_OFFSET..IMAGE_MAGIC_OFFSET + 4].copy_from_slice(b"ELF!");
        assert_eq!(
            flatten(&elf_file(&[load(0, start)])),
            Err(KernelImageError::MissingImageMagic { found: *b"ELF!" })
        );
    }

    #[test]
    fn an_image_too_short_for_the_header_is_refused() {
        assert_eq!(
            flatten(&elf_file(&[load(0, b"tiny".to_vec())])),
            Err(KernelImageError::TooShortForHeader { size: 4 })
        );
    }

    #[test]
    fn an_image_size_smaller_than_the_file_is_refused() {
        assert_eq!(
            flatten(&elf_file(&[load(0, image_start(0x20, b"body"))])),
            Err(KernelImageError::ImageSizeBelowFile {
                declared: 0x20,
                file_size: 0x44
            })
        );
    }

    #[test]
    fn an_image_size_that_leaves_out_the_bss_is_refused() {
        assert_eq!(
            flatten(&elf_file(&[with_bss(
                load(0, image_start(0x44, b"body")),
                0x100
            )])),
            Err(KernelImageError::ImageSizeBelowMemory {
                declared: 0x44,
                memory_size: 0x144
            })
        );
    }

    #[test]
    fn a_segment_pointing_outside_the_file_is_refused() {
        let mut file = elf_file(&[load(0, image_start(0x100, b""))]);
        let file_size_field = (HEADER_SIZE + 32) as usize; // p_filesz of program header 0
        file[file_size_field..file_size_field + 8].copy_from_slice(&0x10_0000u64.to_le_bytes());
        assert_eq!(
            flatten(&file),
            Err(KernelImageError::SegmentOutsideFile { program_header: 0 })
        );
    }

    #[test]
    fn every_refusal_reads_as_one_line() {
        let errors = [
            KernelImageError::NotElf,
            KernelImageError::OverlappingSegments {
                first: SegmentPlacement {
                    program_header: 0,
                    physical_address: 0,
                    memory_size: 2,
                },
                second: SegmentPlacement {
                    program_header: 1,
                    physical_address: 1,
                    memory_size: 2,
                },
            },
            KernelImageError::MissingImageMagic { found: [0; 4] },
        ];
        for error in errors {
            let message = error.to_string();
            assert!(!message.contains('\n'), "{message}");
        }
    }
}
