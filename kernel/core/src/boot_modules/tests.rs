//! Tests of the initrd reader and the program checks, on archives written by the `cpio` crate
//! or by hand, ELF files assembled byte by byte, one real aarch64 binary, and random damage.

use std::format;
use std::io::Cursor;
use std::string::String;
use std::vec;
use std::vec::Vec;

use cpio::newc::{Builder, ModeFileType};

use super::*;

// ---------------------------------------------------------------------------------------------
// Archive builders
// ---------------------------------------------------------------------------------------------

/// An archive of `(name, type, contents)` members with a trailer, written by the `cpio` crate
/// (the writer `mkimage` uses), so the reader is checked against an independent writer.
fn archive(members: &[(&str, ModeFileType, &[u8])]) -> Vec<u8> {
    let inputs = members.iter().map(|(name, file_type, contents)| {
        let file_type = match file_type {
            ModeFileType::Regular => ModeFileType::Regular,
            ModeFileType::Directory => ModeFileType::Directory,
            ModeFileType::Symlink => ModeFileType::Symlink,
            _ => unreachable!("the tests use files, directories and links"),
        };
        (
            Builder::new(name).mode(0o755).set_mode_file_type(file_type),
            Cursor::new(contents.to_vec()),
        )
    });
    cpio::write_cpio(inputs, Vec::new()).expect("writing into a Vec cannot fail")
}

/// One newc entry assembled by hand, for names and fields the `cpio` crate would not write.
/// `name` is written as given, followed by a NUL that `name_size` counts.
fn hand_made_entry(name: &[u8], mode: u32, data: &[u8]) -> Vec<u8> {
    let mut entry = Vec::new();
    entry.extend_from_slice(b"070701");
    let name_size = name.len() + 1;
    for field in FIELD_NAMES {
        let value = match field {
            "mode" => mode,
            "nlink" => 1,
            "filesize" => data.len() as u32,
            "namesize" => name_size as u32,
            _ => 0,
        };
        entry.extend_from_slice(format!("{value:08X}").as_bytes());
    }
    entry.extend_from_slice(name);
    entry.push(0);
    while !entry.len().is_multiple_of(4) {
        entry.push(0);
    }
    entry.extend_from_slice(data);
    while !entry.len().is_multiple_of(4) {
        entry.push(0);
    }
    entry
}

/// The trailer record, by hand.
fn hand_made_trailer() -> Vec<u8> {
    hand_made_entry(b"TRAILER!!!", 0, &[])
}

/// Byte offset of header field `index` (0 = ino, 1 = mode, …) within a header.
fn field_offset(index: usize) -> usize {
    6 + 8 * index
}

/// The archive used by most initrd tests: two programs, a directory, a link and a text file.
fn boot_archive() -> Vec<u8> {
    archive(&[
        ("boot", ModeFileType::Directory, b""),
        ("boot/sigma0", ModeFileType::Regular, b"sigma0 image"),
        (
            "roottask",
            ModeFileType::Regular,
            b"root task image, a bit longer",
        ),
        ("init", ModeFileType::Symlink, b"roottask"),
        ("etc/motd", ModeFileType::Regular, b"hello\n"),
    ])
}

/// All entries of `initrd`, panicking on the first error.
fn names(initrd: &Initrd<'_>) -> Vec<String> {
    initrd
        .entries()
        .map(|entry| String::from(entry.expect("a well-formed archive").name))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Initrd: well-formed archives
// ---------------------------------------------------------------------------------------------

#[test]
fn sigma0_and_the_root_task_are_found_in_an_archive_of_several_files() {
    let bytes = boot_archive();
    let initrd = Initrd::new(&bytes).unwrap();

    let sigma0 = initrd.find("boot/sigma0").unwrap().unwrap();
    assert_eq!(sigma0.name, "boot/sigma0");
    assert_eq!(sigma0.data, b"sigma0 image");
    assert!(sigma0.is_regular_file());
    assert_eq!(sigma0.mode, 0o100_755);

    let root_task = initrd.find("roottask").unwrap().unwrap();
    assert_eq!(root_task.data, b"root task image, a bit longer");
    assert!(root_task.is_regular_file());
}

#[test]
fn entries_come_in_archive_order_and_stop_before_the_trailer() {
    let bytes = boot_archive();
    let initrd = Initrd::new(&bytes).unwrap();
    assert_eq!(
        names(&initrd),
        ["boot", "boot/sigma0", "roottask", "init", "etc/motd"]
    );
}

#[test]
fn directories_and_symbolic_links_are_listed_but_are_not_regular_files() {
    let bytes = boot_archive();
    let initrd = Initrd::new(&bytes).unwrap();

    let directory = initrd.find("boot").unwrap().unwrap();
    assert!(directory.is_directory());
    assert!(!directory.is_regular_file());
    assert!(!directory.is_symbolic_link());
    assert!(directory.data.is_empty());

    let link = initrd.find("init").unwrap().unwrap();
    assert!(link.is_symbolic_link());
    assert!(!link.is_regular_file());
    assert!(!link.is_directory());
    assert_eq!(link.data, b"roottask");
}

#[test]
fn a_leading_dot_slash_or_slash_is_ignored_on_both_sides_of_a_lookup() {
    let bytes = archive(&[
        ("./sigma0", ModeFileType::Regular, b"dot slash"),
        ("/roottask", ModeFileType::Regular, b"slash"),
        ("plain", ModeFileType::Regular, b"plain"),
    ]);
    let initrd = Initrd::new(&bytes).unwrap();
    for path in ["sigma0", "./sigma0", "/sigma0"] {
        assert_eq!(
            initrd.find(path).unwrap().unwrap().data,
            b"dot slash",
            "{path}"
        );
    }
    for path in ["roottask", "./roottask", "/roottask"] {
        assert_eq!(initrd.find(path).unwrap().unwrap().data, b"slash", "{path}");
    }
    for path in ["plain", "./plain", "/plain"] {
        assert_eq!(initrd.find(path).unwrap().unwrap().data, b"plain", "{path}");
    }
    assert_eq!(initrd.find("./sigma0").unwrap().unwrap().name, "./sigma0");
}

#[test]
fn a_lookup_matches_whole_paths_only() {
    let bytes = boot_archive();
    let initrd = Initrd::new(&bytes).unwrap();
    assert_eq!(initrd.find("sigma0"), Ok(None));
    assert_eq!(initrd.find("boot/sigma"), Ok(None));
    assert_eq!(initrd.find("boot/sigma0/"), Ok(None));
    assert_eq!(initrd.find("ROOTTASK"), Ok(None));
    assert_eq!(initrd.find(""), Ok(None));
}

#[test]
fn a_name_that_occurs_twice_finds_its_last_entry() {
    let bytes = archive(&[
        ("sigma0", ModeFileType::Regular, b"first"),
        ("./sigma0", ModeFileType::Regular, b"second"),
        ("other", ModeFileType::Regular, b"other"),
    ]);
    let initrd = Initrd::new(&bytes).unwrap();
    assert_eq!(initrd.find("sigma0").unwrap().unwrap().data, b"second");
}

#[test]
fn an_archive_with_only_a_trailer_has_no_entries() {
    let bytes = archive(&[]);
    let initrd = Initrd::new(&bytes).unwrap();
    assert_eq!(initrd.entries().count(), 0);
    assert_eq!(initrd.find("sigma0"), Ok(None));
}

#[test]
fn empty_files_and_every_name_padding_are_read() {
    // Name lengths 1 to 8 cover every padding after the header and the name; file sizes 0 to
    // 4 every padding after the data.
    let names: Vec<String> = (1..=8).map(|length| "n".repeat(length)).collect();
    let contents: [&[u8]; 5] = [b"", b"a", b"ab", b"abc", b"abcd"];
    let members: Vec<(&str, ModeFileType, &[u8])> = names
        .iter()
        .enumerate()
        .map(|(index, name)| {
            (
                name.as_str(),
                ModeFileType::Regular,
                contents[index % contents.len()],
            )
        })
        .collect();
    let bytes = archive(&members);
    let initrd = Initrd::new(&bytes).unwrap();
    let entries: Vec<Entry<'_>> = initrd.entries().map(Result::unwrap).collect();
    assert_eq!(entries.len(), names.len());
    for (index, entry) in entries.iter().enumerate() {
        assert_eq!(entry.name, names[index]);
        assert_eq!(entry.data, contents[index % contents.len()]);
    }
}

#[test]
fn hexadecimal_fields_may_be_upper_or_lower_case() {
    // The hand-made entries use upper case, the cpio crate lower case.
    let mut bytes = hand_made_entry(b"sigma0", 0o100_644, b"\xAB\xCD");
    bytes.extend(hand_made_trailer());
    let initrd = Initrd::new(&bytes).unwrap();
    let entry = initrd.find("sigma0").unwrap().unwrap();
    assert_eq!(entry.mode, 0o100_644);
    assert_eq!(entry.data, b"\xAB\xCD");
}

#[test]
fn bytes_after_the_trailer_are_not_read() {
    let mut bytes = boot_archive();
    bytes.extend_from_slice(&[0; 512]);
    bytes.extend_from_slice(b"garbage that is not a header");
    let initrd = Initrd::new(&bytes).unwrap();
    assert_eq!(names(&initrd).len(), 5);
}

// ---------------------------------------------------------------------------------------------
// Initrd: damaged archives
// ---------------------------------------------------------------------------------------------

#[test]
fn an_archive_cut_at_any_byte_gives_a_prefix_of_its_entries_then_an_error() {
    let bytes = boot_archive();
    let whole: Vec<Entry<'_>> = Initrd::new(&bytes)
        .unwrap()
        .entries()
        .map(Result::unwrap)
        .collect();
    // The trailer is recognised once its header, name and the padding after the name are in.
    let trailer_offset = bytes
        .windows(10)
        .position(|window| window == b"TRAILER!!!")
        .unwrap()
        - HEADER_LENGTH;
    let complete_length = (trailer_offset + HEADER_LENGTH + 11).next_multiple_of(4);

    for length in 0..bytes.len() {
        let cut = &bytes[..length];
        let Ok(initrd) = Initrd::new(cut) else {
            assert!(
                length < HEADER_LENGTH + 8,
                "the first entry is whole at {length}"
            );
            continue;
        };
        let items: Vec<_> = initrd.entries().collect();
        let errors = items.iter().filter(|item| item.is_err()).count();
        if length >= complete_length {
            assert_eq!(errors, 0, "cut at {length}");
        } else {
            assert_eq!(errors, 1, "cut at {length}");
            assert!(items.last().unwrap().is_err(), "cut at {length}");
            assert!(initrd.find("roottask").is_err(), "cut at {length}");
        }
        for (item, expected) in items.iter().filter_map(|item| item.ok()).zip(&whole) {
            assert_eq!(&item, expected, "cut at {length}");
        }
    }
}

#[test]
fn an_archive_cut_inside_an_entry_is_truncated_at_that_entry() {
    let bytes = boot_archive();
    // Cut inside the data of the second entry, "boot/sigma0".
    let data_offset = bytes
        .windows(12)
        .position(|window| window == b"sigma0 image")
        .unwrap();
    let second_entry_offset = bytes
        .windows(11)
        .position(|window| window == b"boot/sigma0")
        .unwrap()
        - HEADER_LENGTH;
    let initrd = Initrd::new(&bytes[..data_offset + 3]).unwrap();
    let items: Vec<_> = initrd.entries().collect();
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[1],
        Err(InitrdError::Truncated {
            offset: second_entry_offset
        })
    );
}

#[test]
fn empty_bytes_are_a_truncated_archive() {
    assert_eq!(
        Initrd::new(&[]).unwrap_err(),
        InitrdError::Truncated { offset: 0 }
    );
}

#[test]
fn bytes_that_do_not_start_with_the_newc_magic_are_refused() {
    let mut bytes = boot_archive();
    for (magic, what) in [
        (&b"070707"[..], "portable ASCII (odc)"),
        (b"070702", "newc with checksums"),
        (b"\x7fELF\x02\x01", "an ELF file"),
        (b"\xc7\x71\x00\x00\x00\x00", "old binary"),
    ] {
        bytes[..6].copy_from_slice(magic);
        assert_eq!(
            Initrd::new(&bytes).unwrap_err(),
            InitrdError::BadMagic { offset: 0 },
            "{what}"
        );
    }
    // Even a few bytes are enough to say that it is not an archive.
    assert_eq!(
        Initrd::new(b"07x").unwrap_err(),
        InitrdError::BadMagic { offset: 0 }
    );
    assert_eq!(
        Initrd::new(b"0707").unwrap_err(),
        InitrdError::Truncated { offset: 0 }
    );
}

#[test]
fn a_later_header_with_a_bad_magic_is_reported_at_its_offset() {
    let first = hand_made_entry(b"sigma0", 0o100_644, b"12345");
    let mut bytes = first.clone();
    let mut second = hand_made_entry(b"roottask", 0o100_644, b"abc");
    second[5] = b'7';
    bytes.extend(second);
    bytes.extend(hand_made_trailer());

    let initrd = Initrd::new(&bytes).unwrap();
    let items: Vec<_> = initrd.entries().collect();
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    assert_eq!(
        items[1],
        Err(InitrdError::BadMagic {
            offset: first.len()
        })
    );
    assert_eq!(
        initrd.find("sigma0"),
        Err(InitrdError::BadMagic {
            offset: first.len()
        })
    );
}

#[test]
fn a_header_field_that_is_not_eight_hexadecimal_digits_is_reported_by_name() {
    let pristine = boot_archive();
    for (index, field) in FIELD_NAMES.into_iter().enumerate() {
        for bad_digit in [b'g', b'G', b' ', b'+', b'-', b'x', 0, 0xff] {
            let mut bytes = pristine.clone();
            bytes[field_offset(index) + 3] = bad_digit;
            assert_eq!(
                Initrd::new(&bytes).unwrap_err(),
                InitrdError::BadHeaderField { offset: 0, field },
                "digit {bad_digit:#x} in {field}"
            );
        }
    }
    // A sign is not a digit, even in the first place where `from_str_radix` would take it.
    let mut bytes = pristine.clone();
    bytes[field_offset(6)] = b'+';
    assert_eq!(
        Initrd::new(&bytes).unwrap_err(),
        InitrdError::BadHeaderField {
            offset: 0,
            field: "filesize"
        }
    );
}

#[test]
fn an_archive_without_a_trailer_is_refused() {
    let mut bytes = hand_made_entry(b"sigma0", 0o100_644, b"sigma0");
    bytes.extend(hand_made_entry(b"roottask", 0o100_644, b"root"));
    let initrd = Initrd::new(&bytes).unwrap();
    let items: Vec<_> = initrd.entries().collect();
    assert_eq!(items.len(), 3);
    assert_eq!(items[2], Err(InitrdError::MissingTrailer));
    assert_eq!(initrd.find("sigma0"), Err(InitrdError::MissingTrailer));
}

#[test]
fn a_name_that_is_not_utf8_is_refused() {
    let mut bytes = hand_made_entry(b"sigma0", 0o100_644, b"x");
    let offset = bytes.len();
    bytes.extend(hand_made_entry(b"root\xfftask", 0o100_644, b"y"));
    bytes.extend(hand_made_trailer());
    let initrd = Initrd::new(&bytes).unwrap();
    assert_eq!(
        initrd.find("sigma0"),
        Err(InitrdError::NameNotUtf8 { offset })
    );
}

#[test]
fn a_name_without_its_terminating_nul_is_refused() {
    let mut bytes = hand_made_entry(b"sigma0", 0o100_644, b"x");
    bytes[HEADER_LENGTH + 6] = b'!';
    bytes.extend(hand_made_trailer());
    assert_eq!(
        Initrd::new(&bytes).unwrap_err(),
        InitrdError::BadHeaderField {
            offset: 0,
            field: "namesize"
        }
    );
}

#[test]
fn a_name_size_of_zero_is_refused() {
    let mut bytes = hand_made_entry(b"sigma0", 0o100_644, b"x");
    bytes[field_offset(11)..field_offset(12)].copy_from_slice(b"00000000");
    bytes.extend(hand_made_trailer());
    assert_eq!(
        Initrd::new(&bytes).unwrap_err(),
        InitrdError::BadHeaderField {
            offset: 0,
            field: "namesize"
        }
    );
}

#[test]
fn sizes_reaching_past_the_end_are_truncation_not_a_panic() {
    for (index, value) in [
        (6, &b"FFFFFFFF"[..]),
        (6, b"7FFFFFFF"),
        (6, b"00001000"),
        (11, b"FFFFFFFF"),
        (11, b"00010000"),
    ] {
        let mut bytes = boot_archive();
        bytes[field_offset(index)..field_offset(index + 1)].copy_from_slice(value);
        assert_eq!(
            Initrd::new(&bytes).unwrap_err(),
            InitrdError::Truncated { offset: 0 }
        );
    }
}

#[test]
fn iteration_ends_after_the_first_error() {
    let mut bytes = boot_archive();
    let second_header = bytes
        .windows(11)
        .position(|window| window == b"boot/sigma0")
        .unwrap()
        - HEADER_LENGTH;
    bytes[second_header] = b'X';
    let initrd = Initrd::new(&bytes).unwrap();
    let mut entries = initrd.entries();
    assert!(entries.next().unwrap().is_ok());
    assert_eq!(
        entries.next(),
        Some(Err(InitrdError::BadMagic {
            offset: second_header
        }))
    );
    assert_eq!(entries.next(), None);
    assert_eq!(entries.next(), None);
}

#[test]
fn errors_describe_themselves_with_their_offsets() {
    assert_eq!(
        format!(
            "{}",
            InitrdError::BadHeaderField {
                offset: 0x70,
                field: "mode"
            }
        ),
        "initrd: bad mode field in the header at offset 0x70"
    );
    assert_eq!(
        format!("{}", BootModuleError::Program(ProgramError::NotAarch64)),
        "program: not built for aarch64"
    );
}

// ---------------------------------------------------------------------------------------------
// ELF builder
// ---------------------------------------------------------------------------------------------

const ELF_HEADER_SIZE: usize = 64;
const PROGRAM_HEADER_SIZE: usize = 56;
const READ: u32 = PF_R;
const WRITE: u32 = PF_W;
const EXECUTE: u32 = PF_X;
const PT_NOTE: u32 = 4;
const PT_GNU_STACK: u32 = 0x6474_e551;
const EM_X86_64: u16 = 62;
const ET_REL: u16 = 1;
const ET_DYN: u16 = 3;

/// Where the standard test program's text and data begin.
const TEXT_ADDRESS: u64 = 0x40_0000;
const DATA_ADDRESS: u64 = 0x41_0000;

/// One program header to assemble: its contents are placed in the file by [`elf_file`].
#[derive(Clone)]
struct TestSegment {
    kind: u32,
    flags: u32,
    virtual_address: u64,
    contents: Vec<u8>,
    memory_size: u64,
}

impl TestSegment {
    fn load(flags: u32, virtual_address: u64, contents: &[u8], memory_size: u64) -> Self {
        Self {
            kind: PT_LOAD,
            flags,
            virtual_address,
            contents: contents.to_vec(),
            memory_size,
        }
    }
}

/// An ELF64 little-endian file: the header, the program headers right after it, then each
/// segment's contents at a 16-byte aligned offset. No section headers.
fn elf_file(file_type: u16, machine: u16, entry: u64, segments: &[TestSegment]) -> Vec<u8> {
    let table_end = ELF_HEADER_SIZE + PROGRAM_HEADER_SIZE * segments.len();
    let mut bytes = vec![0_u8; table_end];
    bytes[..4].copy_from_slice(b"\x7fELF");
    bytes[4] = 2; // ELFCLASS64
    bytes[5] = 1; // ELFDATA2LSB
    bytes[6] = 1; // EV_CURRENT
    put_u16(&mut bytes, 16, file_type);
    put_u16(&mut bytes, 18, machine);
    put_u32(&mut bytes, 20, 1);
    put_u64(&mut bytes, 24, entry);
    put_u64(&mut bytes, 32, ELF_HEADER_SIZE as u64);
    put_u64(&mut bytes, 40, 0);
    put_u16(&mut bytes, 52, ELF_HEADER_SIZE as u16);
    put_u16(&mut bytes, 54, PROGRAM_HEADER_SIZE as u16);
    put_u16(&mut bytes, 56, segments.len() as u16);
    put_u16(&mut bytes, 58, 64);
    for (index, segment) in segments.iter().enumerate() {
        while !bytes.len().is_multiple_of(16) {
            bytes.push(0);
        }
        let file_offset = bytes.len() as u64;
        bytes.extend_from_slice(&segment.contents);
        let header = program_header_offset(index);
        put_u32(&mut bytes, header, segment.kind);
        put_u32(&mut bytes, header + 4, segment.flags);
        put_u64(&mut bytes, header + 8, file_offset);
        put_u64(&mut bytes, header + 16, segment.virtual_address);
        put_u64(&mut bytes, header + 24, segment.virtual_address);
        put_u64(&mut bytes, header + 32, segment.contents.len() as u64);
        put_u64(&mut bytes, header + 40, segment.memory_size);
        put_u64(&mut bytes, header + 48, PAGE_SIZE);
    }
    bytes
}

fn program_header_offset(index: usize) -> usize {
    ELF_HEADER_SIZE + PROGRAM_HEADER_SIZE * index
}

fn put_u16(bytes: &mut [u8], offset: usize, value: u16) {
    bytes[offset..offset + 2].copy_from_slice(&value.to_le_bytes());
}

fn put_u32(bytes: &mut [u8], offset: usize, value: u32) {
    bytes[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
}

fn put_u64(bytes: &mut [u8], offset: usize, value: u64) {
    bytes[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
}

/// Sixteen aarch64 `nop`s.
fn text_bytes() -> Vec<u8> {
    [0x1f, 0x20, 0x03, 0xd5].repeat(16)
}

/// Text (R X, 64 bytes) and data (R W, 16 bytes of file and 8 KiB of memory: .data + .bss).
fn standard_segments() -> Vec<TestSegment> {
    vec![
        TestSegment::load(READ | EXECUTE, TEXT_ADDRESS, &text_bytes(), 64),
        TestSegment::load(READ | WRITE, DATA_ADDRESS, &[0xda; 16], 0x2000),
    ]
}

fn standard_program() -> Vec<u8> {
    elf_file(ET_EXEC, EM_AARCH64, TEXT_ADDRESS, &standard_segments())
}

/// `standard_program` with its segments replaced.
fn program_with(segments: &[TestSegment]) -> Vec<u8> {
    elf_file(ET_EXEC, EM_AARCH64, TEXT_ADDRESS, segments)
}

/// Checks everything `parse_program` promises about a program it accepted from `elf`.
fn assert_loadable(program: &Program<'_>, elf: &[u8]) {
    let segments = program.segments();
    assert!(!segments.is_empty());
    assert!(segments.len() <= MAXIMUM_LOAD_SEGMENTS);
    let file = elf.as_ptr_range();
    for segment in segments {
        assert!(segment.memory_size > 0);
        assert!(segment.file_bytes.len() as u64 <= segment.memory_size);
        assert!(segment.address_range().end <= USER_ADDRESS_LIMIT);
        assert!(segment.page_range().end <= USER_ADDRESS_LIMIT);
        assert!(!(segment.writable && segment.executable));
        let bytes = segment.file_bytes.as_ptr_range();
        assert!(file.start <= bytes.start && bytes.end <= file.end);
    }
    for pair in segments.windows(2) {
        assert!(pair[0].page_range().end <= pair[1].page_range().start);
    }
    assert_eq!(program.entry % 4, 0);
    assert!(segments.iter().any(|segment| segment.executable
        && segment.virtual_address <= program.entry
        && program.entry - segment.virtual_address < segment.file_bytes.len() as u64));
}

// ---------------------------------------------------------------------------------------------
// Programs: accepted
// ---------------------------------------------------------------------------------------------

#[test]
fn a_static_aarch64_executable_is_described_with_its_segments_and_entry() {
    let elf = standard_program();
    let program = parse_program(&elf).unwrap();
    assert_eq!(program.entry, TEXT_ADDRESS);
    let text = text_bytes();
    assert_eq!(
        program.segments(),
        [
            LoadSegment {
                virtual_address: TEXT_ADDRESS,
                memory_size: 64,
                file_bytes: &text,
                readable: true,
                writable: false,
                executable: true,
            },
            LoadSegment {
                virtual_address: DATA_ADDRESS,
                memory_size: 0x2000,
                file_bytes: &[0xda; 16],
                readable: true,
                writable: true,
                executable: false,
            },
        ]
    );
    assert_eq!(program.segments()[1].zero_fill_size(), 0x2000 - 16);
    assert_eq!(program.segments()[0].zero_fill_size(), 0);
    assert_loadable(&program, &elf);
}

#[test]
fn page_ranges_widen_unaligned_segments_to_whole_pages() {
    let elf = program_with(&[
        TestSegment::load(READ | EXECUTE, 0x40_0123, &text_bytes(), 0x1000),
        TestSegment::load(READ | WRITE, 0x40_2ff8, &[1; 8], 9),
    ]);
    let program = parse_program(&elf);
    // The entry must be in the text: move it there.
    assert_eq!(
        program.unwrap_err(),
        ProgramError::EntryOutsideExecutableSegment
    );
    let mut elf = elf;
    put_u64(&mut elf, 24, 0x40_0124);
    let program = parse_program(&elf).unwrap();
    assert_eq!(program.segments()[0].address_range(), 0x40_0123..0x40_1123);
    assert_eq!(program.segments()[0].page_range(), 0x40_0000..0x40_2000);
    assert_eq!(program.segments()[1].page_range(), 0x40_2000..0x40_4000);
}

#[test]
fn segments_are_described_in_address_order_whatever_the_table_order() {
    let mut segments = standard_segments();
    segments.reverse();
    let program_bytes = program_with(&segments);
    let program = parse_program(&program_bytes).unwrap();
    let addresses: Vec<u64> = program
        .segments()
        .iter()
        .map(|segment| segment.virtual_address)
        .collect();
    assert_eq!(addresses, [TEXT_ADDRESS, DATA_ADDRESS]);
}

#[test]
fn program_headers_other_than_load_are_ignored() {
    let mut segments = standard_segments();
    segments.push(TestSegment {
        kind: PT_NOTE,
        flags: READ,
        virtual_address: TEXT_ADDRESS,
        contents: vec![0; 24],
        memory_size: 24,
    });
    // A writable and executable stack request is not a loadable segment.
    segments.push(TestSegment {
        kind: PT_GNU_STACK,
        flags: READ | WRITE | EXECUTE,
        virtual_address: 0,
        contents: vec![],
        memory_size: 0,
    });
    let elf = program_with(&segments);
    assert_eq!(parse_program(&elf).unwrap().segments().len(), 2);
}

#[test]
fn load_segments_without_memory_are_skipped() {
    let mut segments = standard_segments();
    segments.insert(1, TestSegment::load(READ, 0x40_0000, &[], 0));
    let elf = program_with(&segments);
    assert_eq!(parse_program(&elf).unwrap().segments().len(), 2);
}

#[test]
fn a_segment_may_end_exactly_at_the_top_of_the_user_half() {
    let top = USER_ADDRESS_LIMIT - 0x1000;
    let mut segments = standard_segments();
    segments.push(TestSegment::load(READ | WRITE, top, &[], 0x1000));
    let elf = program_with(&segments);
    let program = parse_program(&elf).unwrap();
    assert_eq!(program.segments()[2].page_range(), top..USER_ADDRESS_LIMIT);
}

#[test]
fn the_most_segments_allowed_are_accepted() {
    let segments: Vec<TestSegment> = (0..MAXIMUM_LOAD_SEGMENTS as u64)
        .map(|index| {
            TestSegment::load(
                READ | EXECUTE,
                TEXT_ADDRESS + index * PAGE_SIZE,
                &text_bytes(),
                64,
            )
        })
        .collect();
    let elf = program_with(&segments);
    assert_eq!(
        parse_program(&elf).unwrap().segments().len(),
        MAXIMUM_LOAD_SEGMENTS
    );
}

/// A real binary: see `kernel/core/testdata/README.md` for how it was built.
const TINY_PROGRAM: &[u8] = include_bytes!("../../testdata/tiny-program");

#[test]
fn a_real_program_linked_for_aarch64_unknown_none_is_described() {
    let program = parse_program(TINY_PROGRAM).unwrap();
    assert_loadable(&program, TINY_PROGRAM);
    // As `readelf -l` shows it: read-only data, text, data with bss.
    assert_eq!(program.entry, 0x21_01d8);
    let summary: Vec<(u64, u64, usize, bool, bool, bool)> = program
        .segments()
        .iter()
        .map(|segment| {
            (
                segment.virtual_address,
                segment.memory_size,
                segment.file_bytes.len(),
                segment.readable,
                segment.writable,
                segment.executable,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (0x20_0000, 0x1d8, 0x1d8, true, false, false),
            (0x21_01d8, 0x4c, 0x4c, true, false, true),
            (0x22_0228, 0x210, 0x8, true, true, false),
        ]
    );
    // The text segment holds the code: its first instruction is a `nop` (d503201f).
    assert_eq!(
        program.segments()[1].file_bytes[..4],
        [0x1f, 0x20, 0x03, 0xd5]
    );
}

#[test]
fn a_program_is_found_in_the_initrd_and_borrows_the_archive() {
    let sigma0 = standard_program();
    let bytes = archive(&[
        ("sigma0", ModeFileType::Regular, sigma0.as_slice()),
        ("roottask", ModeFileType::Regular, TINY_PROGRAM),
        ("lib", ModeFileType::Directory, b""),
        ("notes", ModeFileType::Regular, b"not a program"),
    ]);
    let initrd = Initrd::new(&bytes).unwrap();

    let program = initrd.find_program("sigma0").unwrap();
    assert_eq!(program, parse_program(&sigma0).unwrap());
    assert_loadable(&program, &bytes);
    let root_task = initrd.find_program("./roottask").unwrap();
    assert_loadable(&root_task, &bytes);

    assert_eq!(
        initrd.find_program("absent"),
        Err(BootModuleError::NotFound)
    );
    assert_eq!(
        initrd.find_program("lib"),
        Err(BootModuleError::NotARegularFile)
    );
    assert_eq!(
        initrd.find_program("notes"),
        Err(BootModuleError::Program(ProgramError::NotElf))
    );
    assert_eq!(
        Initrd::new(&bytes[..bytes.len() - 200])
            .unwrap()
            .find_program("sigma0"),
        Err(BootModuleError::Initrd(InitrdError::Truncated {
            offset: bytes
                .windows(5)
                .position(|window| window == b"notes")
                .unwrap()
                - HEADER_LENGTH
        }))
    );
}

// ---------------------------------------------------------------------------------------------
// Programs: refused, one test per error
// ---------------------------------------------------------------------------------------------

#[test]
fn bytes_without_the_elf_magic_are_not_elf() {
    assert_eq!(parse_program(&[]), Err(ProgramError::NotElf));
    assert_eq!(parse_program(b"\x7fEL"), Err(ProgramError::NotElf));
    assert_eq!(parse_program(b"070701..."), Err(ProgramError::NotElf));
    let mut elf = standard_program();
    elf[1] = b'e';
    assert_eq!(parse_program(&elf), Err(ProgramError::NotElf));
}

#[test]
fn a_32_bit_or_big_endian_file_is_refused() {
    let mut elf = standard_program();
    elf[4] = 1; // ELFCLASS32
    assert_eq!(parse_program(&elf), Err(ProgramError::NotLittleEndian64));
    let mut elf = standard_program();
    elf[5] = 2; // ELFDATA2MSB
    assert_eq!(parse_program(&elf), Err(ProgramError::NotLittleEndian64));
    assert_eq!(
        parse_program(b"\x7fELF"),
        Err(ProgramError::NotLittleEndian64)
    );
}

#[test]
fn a_program_for_another_machine_is_refused() {
    let elf = elf_file(ET_EXEC, EM_X86_64, TEXT_ADDRESS, &standard_segments());
    assert_eq!(parse_program(&elf), Err(ProgramError::NotAarch64));
}

#[test]
fn position_independent_and_relocatable_files_are_not_executables() {
    // ET_DYN covers both shared libraries and static-pie executables.
    for file_type in [ET_DYN, ET_REL, 4, 0] {
        let elf = elf_file(file_type, EM_AARCH64, TEXT_ADDRESS, &standard_segments());
        assert_eq!(parse_program(&elf), Err(ProgramError::NotExecutable));
    }
}

#[test]
fn a_dynamically_linked_program_is_refused() {
    let mut segments = standard_segments();
    segments.insert(
        0,
        TestSegment {
            kind: PT_INTERP,
            flags: READ,
            virtual_address: 0x3f_f000,
            contents: b"/lib/ld-linux-aarch64.so.1\0".to_vec(),
            memory_size: 27,
        },
    );
    let elf = program_with(&segments);
    assert_eq!(parse_program(&elf), Err(ProgramError::NeedsInterpreter));
}

#[test]
fn broken_header_tables_are_malformed() {
    let mut elf = standard_program();
    put_u16(&mut elf, 54, 32); // e_phentsize
    assert_eq!(parse_program(&elf), Err(ProgramError::Malformed));

    let mut elf = standard_program();
    put_u64(&mut elf, 32, 0x10_0000); // e_phoff beyond the file
    assert_eq!(parse_program(&elf), Err(ProgramError::Malformed));

    let mut elf = standard_program();
    put_u64(&mut elf, 32, u64::MAX - 8); // e_phoff + table size overflows
    assert_eq!(parse_program(&elf), Err(ProgramError::Malformed));

    let mut elf = standard_program();
    put_u64(&mut elf, 40, 0x10_0000); // e_shoff beyond the file
    put_u16(&mut elf, 60, 3);
    assert_eq!(parse_program(&elf), Err(ProgramError::Malformed));

    let elf = standard_program();
    assert_eq!(parse_program(&elf[..40]), Err(ProgramError::Malformed));
    assert_eq!(parse_program(&elf[..100]), Err(ProgramError::Malformed));
}

#[test]
fn a_program_without_loadable_segments_is_refused() {
    let elf = program_with(&[]);
    assert_eq!(parse_program(&elf), Err(ProgramError::NoLoadableSegment));

    let mut elf = standard_program();
    put_u64(&mut elf, 32, 0); // no program header table at all
    assert_eq!(parse_program(&elf), Err(ProgramError::NoLoadableSegment));

    let elf = program_with(&[
        TestSegment {
            kind: PT_NOTE,
            flags: READ,
            virtual_address: TEXT_ADDRESS,
            contents: vec![0; 16],
            memory_size: 16,
        },
        TestSegment::load(READ | EXECUTE, TEXT_ADDRESS, &[], 0),
    ]);
    assert_eq!(parse_program(&elf), Err(ProgramError::NoLoadableSegment));
}

#[test]
fn more_loadable_segments_than_allowed_are_refused() {
    let segments: Vec<TestSegment> = (0..=MAXIMUM_LOAD_SEGMENTS as u64)
        .map(|index| TestSegment::load(READ, TEXT_ADDRESS + index * PAGE_SIZE, &[], 16))
        .collect();
    let elf = program_with(&segments);
    assert_eq!(parse_program(&elf), Err(ProgramError::TooManySegments));
}

#[test]
fn segment_file_bytes_outside_the_file_are_refused() {
    let data_header = program_header_offset(1);
    for (offset, size) in [
        (0x10_0000, 16),
        (0, 0x10_0000),
        (u64::MAX, 16),
        (u64::MAX - 4, 16),
        (16, u64::MAX - 4),
    ] {
        let mut elf = standard_program();
        put_u64(&mut elf, data_header + 8, offset);
        put_u64(&mut elf, data_header + 32, size);
        put_u64(&mut elf, data_header + 40, u64::MAX);
        put_u64(&mut elf, data_header + 16, 0);
        assert_eq!(
            parse_program(&elf),
            Err(ProgramError::SegmentFileRangeOutOfBounds),
            "offset {offset:#x}, size {size:#x}"
        );
    }
}

#[test]
fn a_segment_with_more_file_bytes_than_memory_is_refused() {
    let elf = program_with(&[
        TestSegment::load(READ | EXECUTE, TEXT_ADDRESS, &text_bytes(), 64),
        TestSegment::load(READ | WRITE, DATA_ADDRESS, &[0; 32], 31),
    ]);
    assert_eq!(
        parse_program(&elf),
        Err(ProgramError::FileSizeAboveMemorySize)
    );
}

#[test]
fn a_segment_whose_end_overflows_is_refused() {
    let elf = program_with(&[
        TestSegment::load(READ | EXECUTE, TEXT_ADDRESS, &text_bytes(), 64),
        TestSegment::load(READ | WRITE, u64::MAX - 0xfff, &[], 0x1000),
    ]);
    assert_eq!(
        parse_program(&elf),
        Err(ProgramError::SegmentAddressOverflow)
    );
}

#[test]
fn a_segment_above_the_user_half_is_refused() {
    for (address, size) in [
        (USER_ADDRESS_LIMIT - 0x1000, 0x1001),
        (USER_ADDRESS_LIMIT, 1),
        (0xffff_0000_0000_0000, 0x1000),
        (0, USER_ADDRESS_LIMIT + 1),
    ] {
        let elf = program_with(&[
            TestSegment::load(READ | EXECUTE, TEXT_ADDRESS, &text_bytes(), 64),
            TestSegment::load(READ | WRITE, address, &[], size),
        ]);
        assert_eq!(
            parse_program(&elf),
            Err(ProgramError::SegmentInKernelHalf),
            "{address:#x} + {size:#x}"
        );
    }
}

#[test]
fn segments_that_overlap_or_share_a_page_are_refused() {
    for data_address in [
        TEXT_ADDRESS,          // the same start
        TEXT_ADDRESS + 32,     // overlapping bytes
        TEXT_ADDRESS + 64,     // adjacent bytes, same page
        TEXT_ADDRESS + 0xfff,  // last byte of the text's page
        TEXT_ADDRESS - 0x1000, // data before text, running into its page
    ] {
        let elf = program_with(&[
            TestSegment::load(READ | EXECUTE, TEXT_ADDRESS, &text_bytes(), 64),
            TestSegment::load(READ | WRITE, data_address, &[], 0x1001),
        ]);
        assert_eq!(
            parse_program(&elf),
            Err(ProgramError::OverlappingSegments),
            "data at {data_address:#x}"
        );
    }
    // The next page is fine.
    let elf = program_with(&[
        TestSegment::load(READ | EXECUTE, TEXT_ADDRESS, &text_bytes(), 64),
        TestSegment::load(READ | WRITE, TEXT_ADDRESS + 0x1000, &[], 0x1001),
    ]);
    assert!(parse_program(&elf).is_ok());
}

#[test]
fn a_writable_and_executable_segment_is_refused() {
    let elf = program_with(&[TestSegment::load(
        READ | WRITE | EXECUTE,
        TEXT_ADDRESS,
        &text_bytes(),
        64,
    )]);
    assert_eq!(
        parse_program(&elf),
        Err(ProgramError::WritableAndExecutable)
    );
    let elf = program_with(&[TestSegment::load(
        WRITE | EXECUTE,
        TEXT_ADDRESS,
        &text_bytes(),
        64,
    )]);
    assert_eq!(
        parse_program(&elf),
        Err(ProgramError::WritableAndExecutable)
    );
}

#[test]
fn an_entry_outside_the_executable_file_bytes_is_refused() {
    for entry in [
        0,
        TEXT_ADDRESS - 4,
        TEXT_ADDRESS + 64, // just past the text
        DATA_ADDRESS,      // data is not executable
        DATA_ADDRESS + 0x100,
        u64::MAX - 3,
    ] {
        let elf = elf_file(ET_EXEC, EM_AARCH64, entry, &standard_segments());
        assert_eq!(
            parse_program(&elf),
            Err(ProgramError::EntryOutsideExecutableSegment),
            "entry {entry:#x}"
        );
    }
    // Zero-filled memory of an executable segment is not code either.
    let elf = program_with(&[TestSegment::load(
        READ | EXECUTE,
        TEXT_ADDRESS - 0x1000,
        &text_bytes(),
        0x2000,
    )]);
    assert_eq!(
        parse_program(&elf),
        Err(ProgramError::EntryOutsideExecutableSegment)
    );
    // The last instruction of the text is a valid entry.
    let elf = elf_file(ET_EXEC, EM_AARCH64, TEXT_ADDRESS + 60, &standard_segments());
    assert_eq!(parse_program(&elf).unwrap().entry, TEXT_ADDRESS + 60);
}

#[test]
fn a_misaligned_entry_is_refused() {
    for entry in [TEXT_ADDRESS + 1, TEXT_ADDRESS + 2, TEXT_ADDRESS + 7] {
        let elf = elf_file(ET_EXEC, EM_AARCH64, entry, &standard_segments());
        assert_eq!(parse_program(&elf), Err(ProgramError::EntryMisaligned));
    }
}

// ---------------------------------------------------------------------------------------------
// Random damage
// ---------------------------------------------------------------------------------------------

/// A xorshift64 generator: deterministic, so a failure can be replayed.
struct Xorshift(u64);

impl Xorshift {
    fn next_value(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next_value() % bound as u64) as usize
    }

    /// A byte that is often a value headers care about.
    fn interesting_byte(&mut self) -> u8 {
        const INTERESTING: [u8; 10] = [0, 1, 2, 0x7f, 0x80, 0xff, b'0', b'7', b'f', b'F'];
        if self.next_value().is_multiple_of(2) {
            INTERESTING[self.below(INTERESTING.len())]
        } else {
            self.next_value() as u8
        }
    }

    /// Overwrites a few bytes of `bytes`, mostly within its first `hot` bytes.
    fn damage(&mut self, bytes: &mut [u8], hot: usize) {
        for _ in 0..1 + self.below(8) {
            let range = if self.next_value().is_multiple_of(4) {
                bytes.len()
            } else {
                hot.min(bytes.len())
            };
            let index = self.below(range);
            bytes[index] = self.interesting_byte();
        }
    }
}

#[test]
fn randomly_damaged_programs_are_refused_or_loadable_and_never_panic() {
    let mut random = Xorshift(0x2545_f491_4f6c_dd1d);
    let originals = [standard_program(), TINY_PROGRAM.to_vec()];
    let mut accepted = 0;
    for iteration in 0..20_000 {
        let mut elf = originals[iteration % originals.len()].clone();
        // The headers are where the decisions are: the ELF header and three program headers.
        random.damage(&mut elf, ELF_HEADER_SIZE + 3 * PROGRAM_HEADER_SIZE);
        if random.next_value().is_multiple_of(8) {
            let length = random.below(elf.len() + 1);
            elf.truncate(length);
        }
        if let Ok(program) = parse_program(&elf) {
            assert_loadable(&program, &elf);
            accepted += 1;
        }
    }
    // Some damage lands in bytes that do not matter.
    assert!(accepted > 0);
}

#[test]
fn randomly_damaged_archives_give_errors_or_entries_and_never_panic() {
    let mut random = Xorshift(0x9e37_79b9_7f4a_7c15);
    let sigma0 = standard_program();
    let original = archive(&[
        ("boot", ModeFileType::Directory, b""),
        ("sigma0", ModeFileType::Regular, sigma0.as_slice()),
        ("roottask", ModeFileType::Regular, TINY_PROGRAM),
        ("init", ModeFileType::Symlink, b"roottask"),
    ]);
    for _ in 0..20_000 {
        let mut bytes = original.clone();
        let length = bytes.len();
        random.damage(&mut bytes, length);
        if random.next_value().is_multiple_of(8) {
            let length = random.below(bytes.len() + 1);
            bytes.truncate(length);
        }
        let Ok(initrd) = Initrd::new(&bytes) else {
            continue;
        };
        for entry in initrd.entries() {
            let Ok(entry) = entry else { break };
            let data = entry.data.as_ptr_range();
            let archive = bytes.as_ptr_range();
            assert!(archive.start <= data.start && data.end <= archive.end);
        }
        for path in ["sigma0", "roottask", "boot", "init"] {
            if let Ok(program) = initrd.find_program(path) {
                assert_loadable(&program, &bytes);
            }
        }
    }
}
