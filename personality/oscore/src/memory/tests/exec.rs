//! The ELF loader and the initial stack, on hand-built ELF files.

use linux_abi::auxv::{
    AT_BASE, AT_CLKTCK, AT_EGID, AT_ENTRY, AT_EUID, AT_EXECFN, AT_FLAGS, AT_GID, AT_HWCAP, AT_NULL,
    AT_PAGESZ, AT_PHDR, AT_PHENT, AT_PHNUM, AT_RANDOM, AT_SECURE, AT_UID,
};
use linux_abi::errno::Errno;

use super::PAGE;
use crate::memory::exec::{
    Credentials, ExecError, ExecImage, ExecRequest, HWCAP, ProgramArea, load, parse_program,
};
use crate::memory::testing::{TestFrame, VecFrames};
use crate::memory::{
    Access, AddressSpace, BackingKind, DEFAULT_STACK_TOP, DEFAULT_STATIC_PIE_BASE, FaultError,
    Frames, Layout, MemoryLimits, Protection, Rights,
};

const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;
const PT_PHDR: u32 = 6;
const PT_TLS: u32 = 7;
const PT_GNU_STACK: u32 = 0x6474_e551;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;

/// One program header of a hand-built file.
#[derive(Clone, Copy)]
struct Header {
    kind: u32,
    flags: u32,
    offset: u64,
    address: u64,
    file_size: u64,
    memory_size: u64,
    alignment: u64,
}

impl Header {
    fn load(flags: u32, offset: u64, address: u64, file_size: u64, memory_size: u64) -> Header {
        Header {
            kind: PT_LOAD,
            flags,
            offset,
            address,
            file_size,
            memory_size,
            alignment: 0x1_0000,
        }
    }

    fn other(kind: u32, flags: u32, offset: u64, address: u64, size: u64) -> Header {
        Header {
            kind,
            flags,
            offset,
            address,
            file_size: size,
            memory_size: size,
            alignment: 8,
        }
    }
}

/// A hand-built ELF64 file: the header, the program headers at offset 64, `contents` at
/// their offsets, `size` bytes in all. Leaked, as initrd files live forever.
struct File {
    kind: u16,
    machine: u16,
    entry: u64,
    headers: Vec<Header>,
    contents: Vec<(u64, Vec<u8>)>,
    size: usize,
}

impl File {
    fn build(&self) -> &'static [u8] {
        let mut bytes = vec![0u8; self.size];
        bytes[..4].copy_from_slice(b"\x7fELF");
        bytes[4] = 2; // ELFCLASS64
        bytes[5] = 1; // ELFDATA2LSB
        bytes[6] = 1; // EV_CURRENT
        let mut put = |offset: usize, value: &[u8]| {
            bytes[offset..offset + value.len()].copy_from_slice(value);
        };
        put(16, &self.kind.to_le_bytes());
        put(18, &self.machine.to_le_bytes());
        put(20, &1u32.to_le_bytes());
        put(24, &self.entry.to_le_bytes());
        put(32, &64u64.to_le_bytes()); // e_phoff
        put(40, &0u64.to_le_bytes()); // e_shoff
        put(52, &64u16.to_le_bytes()); // e_ehsize
        put(54, &56u16.to_le_bytes()); // e_phentsize
        put(56, &(self.headers.len() as u16).to_le_bytes());
        put(58, &64u16.to_le_bytes()); // e_shentsize
        for (index, header) in self.headers.iter().enumerate() {
            let at = 64 + index * 56;
            put(at, &header.kind.to_le_bytes());
            put(at + 4, &header.flags.to_le_bytes());
            put(at + 8, &header.offset.to_le_bytes());
            put(at + 16, &header.address.to_le_bytes());
            put(at + 24, &header.address.to_le_bytes());
            put(at + 32, &header.file_size.to_le_bytes());
            put(at + 40, &header.memory_size.to_le_bytes());
            put(at + 48, &header.alignment.to_le_bytes());
        }
        for (offset, content) in &self.contents {
            put(*offset as usize, content);
        }
        Vec::leak(bytes)
    }
}

const TEXT_MARK: &[u8] = b"\x1f\x20\x03\xd5TEXT"; // nop, then a marker
const DATA_MARK: &[u8] = b"DATA";

/// A typical static program linked at `base` (0 for static-PIE): headers and text in the
/// first segment (R X, offset 0), data with bss in the second (RW), `PT_PHDR`, `PT_TLS`
/// and `PT_GNU_STACK`.
fn typical(kind: u16, base: u64) -> File {
    File {
        kind,
        machine: 183,
        entry: base + 0x1000,
        headers: vec![
            Header::other(PT_PHDR, PF_R, 64, base + 64, 5 * 56),
            Header::load(PF_R | PF_X, 0, base, 0x1800, 0x1800),
            Header::load(PF_R | PF_W, 0x2000, base + 0x12000, 0x100, 0x3000),
            Header::other(PT_TLS, PF_R, 0x2000, base + 0x12000, 0x10),
            Header::other(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0),
        ],
        contents: vec![
            (0x1000, TEXT_MARK.to_vec()),
            // File bytes after the text's p_filesz, which must not be loaded.
            (0x1ff0, b"NOT TEXT".to_vec()),
            (0x2000, DATA_MARK.to_vec()),
        ],
        size: 0x2100,
    }
}

fn request(file: &'static [u8]) -> ExecRequest<'static> {
    ExecRequest {
        file,
        arguments: &[b"/bin/prog", b"-v", b"x y"],
        environment: &[b"PATH=/bin", b"TERM=vt100"],
        execfn: b"/bin/prog",
        random: *b"0123456789abcdef",
        credentials: Credentials {
            uid: 1000,
            euid: 1000,
            gid: 100,
            egid: 100,
        },
        limits: MemoryLimits::default(),
        extra_auxiliary: &[],
    }
}

/// The initial stack read back through the address space, as musl's start code reads it.
struct Decoded {
    arguments: Vec<Vec<u8>>,
    environment: Vec<Vec<u8>>,
    auxiliary: Vec<(u64, u64)>,
}

impl Decoded {
    fn value(&self, key: u64) -> u64 {
        self.auxiliary
            .iter()
            .find(|entry| entry.0 == key)
            .unwrap_or_else(|| panic!("auxiliary key {key} missing"))
            .1
    }
}

fn decode(image: &mut ExecImage<TestFrame>, frames: &mut VecFrames) -> Decoded {
    let space = &mut image.space;
    let sp = image.stack_pointer;
    assert_eq!(sp % 16, 0);
    let argc = space.read_u64(frames, sp).unwrap();
    let argv = space.read_pointer_array(frames, sp + 8, 100).unwrap();
    assert_eq!(argv.len() as u64, argc);
    let envp_address = sp + 8 + (argc + 1) * 8;
    let envp = space.read_pointer_array(frames, envp_address, 100).unwrap();
    let mut cursor = envp_address + (envp.len() as u64 + 1) * 8;
    let mut auxiliary = Vec::new();
    loop {
        let entry = (
            space.read_u64(frames, cursor).unwrap(),
            space.read_u64(frames, cursor + 8).unwrap(),
        );
        auxiliary.push(entry);
        cursor += 16;
        if entry.0 == AT_NULL {
            break;
        }
    }
    let mut strings = |pointers: Vec<u64>| -> Vec<Vec<u8>> {
        pointers
            .into_iter()
            .map(|pointer| space.read_c_string(frames, pointer, 4096).unwrap())
            .collect()
    };
    Decoded {
        arguments: strings(argv),
        environment: strings(envp),
        auxiliary,
    }
}

fn finish_image(image: ExecImage<TestFrame>, frames: &mut VecFrames) {
    super::finish(image.space, frames);
}

#[test]
fn an_et_exec_program_loads_at_its_link_addresses() {
    let mut frames = VecFrames::new();
    let file = typical(ET_EXEC, 0x40_0000).build();
    let image = load(&mut frames, &Layout::default(), &request(file)).unwrap();
    assert_eq!(image.entry, 0x40_1000);
    assert_eq!(image.program.load_bias, 0);
    assert!(!image.program.position_independent);
    assert_eq!(image.program.program_headers, 0x40_0040);
    assert_eq!(image.program.program_header_count, 5);
    assert_eq!(
        image.program.areas,
        [
            ProgramArea {
                range: 0x40_0000..0x40_2000,
                protection: Protection::READ_EXECUTE
            },
            ProgramArea {
                range: 0x41_2000..0x41_5000,
                protection: Protection::READ_WRITE
            },
        ]
    );
    let areas: Vec<_> = image.space.areas().collect();
    assert_eq!(areas.len(), 3);
    assert_eq!(areas[0].backing, BackingKind::Image);
    assert_eq!(areas[2].range.end, DEFAULT_STACK_TOP);
    assert!(areas[2].grows_down);
    assert_eq!(areas[2].protection, Protection::READ_WRITE);
    finish_image(image, &mut frames);
}

#[test]
fn a_static_pie_program_loads_at_the_static_pie_base() {
    let mut frames = VecFrames::new();
    let file = typical(ET_DYN, 0).build();
    let image = load(&mut frames, &Layout::default(), &request(file)).unwrap();
    let base = DEFAULT_STATIC_PIE_BASE;
    assert!(image.program.position_independent);
    assert_eq!(image.program.load_bias, base);
    assert_eq!(image.entry, base + 0x1000);
    // musl's _dlstart: base = AT_PHDR - PT_PHDR's p_vaddr.
    assert_eq!(image.program.program_headers - 64, base);
    assert_eq!(image.space.break_start(), base + 0x15000);
    finish_image(image, &mut frames);
}

#[test]
fn the_initial_stack_decodes_back_to_argc_argv_envp_and_the_auxiliary_vector() {
    let mut frames = VecFrames::new();
    let file = typical(ET_EXEC, 0x40_0000).build();
    let mut image = load(&mut frames, &Layout::default(), &request(file)).unwrap();
    let decoded = decode(&mut image, &mut frames);
    assert_eq!(decoded.arguments, [&b"/bin/prog"[..], b"-v", b"x y"]);
    assert_eq!(decoded.environment, [&b"PATH=/bin"[..], b"TERM=vt100"]);
    let expected = [
        (AT_HWCAP, HWCAP),
        (AT_PAGESZ, 4096),
        (AT_CLKTCK, 100),
        (AT_PHDR, 0x40_0040),
        (AT_PHENT, 56),
        (AT_PHNUM, 5),
        (AT_BASE, 0),
        (AT_FLAGS, 0),
        (AT_ENTRY, 0x40_1000),
        (AT_UID, 1000),
        (AT_EUID, 1000),
        (AT_GID, 100),
        (AT_EGID, 100),
        (AT_SECURE, 0),
    ];
    for (key, value) in expected {
        assert_eq!(decoded.value(key), value, "auxiliary key {key}");
    }
    assert_eq!(HWCAP, 0xfb);
    let random = decoded.value(AT_RANDOM);
    assert_eq!(
        image.space.read_array::<_, 16>(&mut frames, random),
        Ok(*b"0123456789abcdef")
    );
    let execfn = decoded.value(AT_EXECFN);
    assert_eq!(
        image
            .space
            .read_c_string(&mut frames, execfn, 4096)
            .unwrap(),
        b"/bin/prog"
    );
    assert_eq!(decoded.auxiliary.last(), Some(&(AT_NULL, 0)));
    assert!(
        image.stack_pointer < DEFAULT_STACK_TOP && image.stack_pointer > DEFAULT_STACK_TOP - PAGE
    );
    assert_eq!(image.stack.sp, image.stack_pointer);
    finish_image(image, &mut frames);
}

#[test]
fn the_program_headers_are_readable_at_at_phdr() {
    let mut frames = VecFrames::new();
    let file = typical(ET_DYN, 0).build();
    let mut image = load(&mut frames, &Layout::default(), &request(file)).unwrap();
    let mut headers = vec![0; 5 * 56];
    image
        .space
        .read(&mut frames, image.program.program_headers, &mut headers)
        .unwrap();
    assert_eq!(headers, file[64..64 + 5 * 56]);
    finish_image(image, &mut frames);
}

#[test]
fn image_pages_hold_the_file_bytes_then_zeros_and_are_populated_lazily() {
    let mut frames = VecFrames::new();
    let file = typical(ET_EXEC, 0x40_0000).build();
    let mut image = load(&mut frames, &Layout::default(), &request(file)).unwrap();
    let stack_frames = frames.live_count();
    assert_eq!(
        image.space.mapping(0x40_1000),
        None,
        "nothing loaded before a fault"
    );
    let text = image
        .space
        .fault(&mut frames, 0x40_1000, Access::Execute)
        .unwrap();
    assert_eq!(text.rights, Rights::READ_EXECUTE);
    assert_eq!(&frames.bytes(text.frame)[..8], TEXT_MARK);
    assert!(
        frames.bytes(text.frame)[0x800..]
            .iter()
            .all(|&byte| byte == 0),
        "past p_filesz"
    );
    let mut data = [0; 8];
    image.space.read(&mut frames, 0x41_2000, &mut data).unwrap();
    assert_eq!(&data, b"DATA\0\0\0\0");
    let mut bss = [0xff; 16];
    image.space.read(&mut frames, 0x41_4ff0, &mut bss).unwrap();
    assert_eq!(bss, [0; 16]);
    assert_eq!(frames.live_count(), stack_frames + 3);
    assert_eq!(
        image.space.fault(&mut frames, 0x41_2000, Access::Execute),
        Err(FaultError::AccessDenied)
    );
    assert_eq!(
        image.space.fault(&mut frames, 0x40_1000, Access::Write),
        Err(FaultError::AccessDenied)
    );
    finish_image(image, &mut frames);
}

#[test]
fn a_page_shared_by_text_and_data_gets_both_contents_and_the_union_of_permissions() {
    let mut frames = VecFrames::new();
    let file = File {
        kind: ET_EXEC,
        machine: 183,
        entry: 0x40_0100,
        headers: vec![
            Header::load(PF_R | PF_X, 0, 0x40_0000, 0x1234, 0x1234),
            Header::load(PF_R | PF_W, 0x1234, 0x40_1234, 0x10, 0x2000),
        ],
        contents: vec![(0x1230, b"TXT!".to_vec()), (0x1234, b"DAT!".to_vec())],
        size: 0x1244,
    }
    .build();
    let program = parse_program(file, &Layout::default()).unwrap();
    assert_eq!(
        program.areas,
        [
            ProgramArea {
                range: 0x40_0000..0x40_1000,
                protection: Protection::READ_EXECUTE
            },
            ProgramArea {
                range: 0x40_1000..0x40_2000,
                protection: Protection::READ_WRITE_EXECUTE
            },
            ProgramArea {
                range: 0x40_2000..0x40_4000,
                protection: Protection::READ_WRITE
            },
        ]
    );
    let mut image = load(&mut frames, &Layout::default(), &request(file)).unwrap();
    let mut shared = [0; 16];
    image
        .space
        .read(&mut frames, 0x40_1230, &mut shared)
        .unwrap();
    assert_eq!(&shared, b"TXT!DAT!\0\0\0\0\0\0\0\0");
    assert_eq!(image.space.break_start(), 0x40_4000);
    finish_image(image, &mut frames);
}

#[test]
fn three_segments_in_one_page_share_it() {
    let file = File {
        kind: ET_EXEC,
        machine: 183,
        entry: 0x40_0000,
        headers: vec![
            Header::load(PF_R | PF_X, 0, 0x40_0000, 0x100, 0x100),
            Header::load(PF_R, 0x100, 0x40_0100, 0x10, 0x10),
            Header::load(PF_R | PF_W, 0x200, 0x40_0200, 0x10, 0x10),
        ],
        contents: vec![],
        size: 0x210,
    }
    .build();
    let program = parse_program(file, &Layout::default()).unwrap();
    assert_eq!(
        program.areas,
        [ProgramArea {
            range: 0x40_0000..0x40_1000,
            protection: Protection::READ_WRITE_EXECUTE
        }]
    );
}

#[test]
fn pt_gnu_stack_with_pf_x_makes_the_stack_executable_and_its_absence_does_not() {
    let mut frames = VecFrames::new();
    let mut file = typical(ET_EXEC, 0x40_0000);
    file.headers[4].flags = PF_R | PF_W | PF_X;
    let image = load(&mut frames, &Layout::default(), &request(file.build())).unwrap();
    let stack = image.space.areas().last().unwrap();
    assert_eq!(stack.protection, Protection::READ_WRITE_EXECUTE);
    finish_image(image, &mut frames);

    let mut file = typical(ET_EXEC, 0x40_0000);
    file.headers.truncate(4);
    file.headers[0].file_size = 4 * 56;
    let image = load(&mut frames, &Layout::default(), &request(file.build())).unwrap();
    assert_eq!(
        image.space.areas().last().unwrap().protection,
        Protection::READ_WRITE
    );
    finish_image(image, &mut frames);
}

#[test]
fn the_heap_starts_at_the_page_after_the_highest_segment_end() {
    let mut frames = VecFrames::new();
    let file = typical(ET_EXEC, 0x40_0000).build();
    let mut image = load(&mut frames, &Layout::default(), &request(file)).unwrap();
    assert_eq!(image.space.break_start(), 0x41_5000);
    assert_eq!(image.space.brk(&mut frames, 0), 0x41_5000);
    assert_eq!(image.space.brk(&mut frames, 0x41_6000), 0x41_6000);
    image.space.write(&mut frames, 0x41_5000, b"heap").unwrap();
    finish_image(image, &mut frames);
}

#[test]
fn at_secure_is_set_when_effective_and_real_ids_differ() {
    let mut frames = VecFrames::new();
    let file = typical(ET_EXEC, 0x40_0000).build();
    let mut setuid = request(file);
    setuid.credentials.euid = 0;
    let mut image = load(&mut frames, &Layout::default(), &setuid).unwrap();
    let decoded = decode(&mut image, &mut frames);
    assert_eq!(decoded.value(AT_SECURE), 1);
    assert_eq!(decoded.value(AT_EUID), 0);
    finish_image(image, &mut frames);
}

fn refused(file: File) -> ExecError {
    parse_program(file.build(), &Layout::default()).unwrap_err()
}

#[test]
fn a_dynamically_linked_program_is_enoexec() {
    let mut file = typical(ET_DYN, 0);
    file.headers
        .push(Header::other(PT_INTERP, PF_R, 0x300, 0x300, 20));
    let error = refused(file);
    assert_eq!(error, ExecError::NeedsInterpreter);
    assert_eq!(error.errno(), Errno::ENOEXEC);
}

#[test]
fn files_for_another_machine_class_or_byte_order_are_enoexec() {
    let mut arm32 = typical(ET_EXEC, 0x40_0000);
    arm32.machine = 40;
    assert_eq!(refused(arm32), ExecError::NotAarch64);
    let mut relocatable = typical(ET_EXEC, 0x40_0000);
    relocatable.kind = 1;
    assert_eq!(refused(relocatable), ExecError::NotExecutable);
    let good = typical(ET_EXEC, 0x40_0000).build();
    let mut class32 = good.to_vec();
    class32[4] = 1;
    let mut big_endian = good.to_vec();
    big_endian[5] = 2;
    for bytes in [class32, big_endian] {
        let error = parse_program(Vec::leak(bytes), &Layout::default()).unwrap_err();
        assert_eq!(error, ExecError::NotLittleEndian64);
        assert_eq!(error.errno(), Errno::ENOEXEC);
    }
    assert_eq!(
        parse_program(b"#!/bin/sh\n", &Layout::default()).unwrap_err(),
        ExecError::NotElf
    );
    assert_eq!(
        parse_program(&good[..40], &Layout::default()).unwrap_err(),
        ExecError::Malformed
    );
}

#[test]
fn truncated_segments_and_bad_sizes_are_enoexec() {
    let mut truncated = typical(ET_EXEC, 0x40_0000);
    truncated.size = 0x2080;
    assert_eq!(refused(truncated), ExecError::SegmentOutsideFile);
    let mut oversized = typical(ET_EXEC, 0x40_0000);
    oversized.headers[2].file_size = 0x4000;
    assert_eq!(refused(oversized), ExecError::FileSizeAboveMemorySize);
    let mut wrapping = typical(ET_EXEC, 0x40_0000);
    wrapping.headers[2].address = u64::MAX - 0x100;
    assert_eq!(refused(wrapping), ExecError::SegmentAddressOverflow);
    let whole = typical(ET_EXEC, 0x40_0000).build();
    assert_eq!(
        parse_program(&whole[..200], &Layout::default()).unwrap_err(),
        ExecError::Malformed,
        "the program headers are cut off"
    );
    for error in [
        ExecError::SegmentOutsideFile,
        ExecError::FileSizeAboveMemorySize,
    ] {
        assert_eq!(error.errno(), Errno::ENOEXEC);
    }
}

#[test]
fn overlapping_segments_are_enoexec() {
    let mut file = typical(ET_EXEC, 0x40_0000);
    file.headers[2].address = 0x40_1000;
    assert_eq!(refused(file), ExecError::OverlappingSegments);
}

#[test]
fn a_file_without_loadable_segments_is_enoexec() {
    let mut file = typical(ET_EXEC, 0x40_0000);
    file.headers[1].memory_size = 0;
    file.headers[1].file_size = 0;
    file.headers[2].memory_size = 0;
    file.headers[2].file_size = 0;
    assert_eq!(refused(file), ExecError::NoLoadableSegment);
}

#[test]
fn program_headers_outside_every_segment_or_a_wrong_pt_phdr_are_enoexec() {
    let mut unloaded = typical(ET_EXEC, 0x40_0000);
    unloaded.headers[1].offset = 0x1000;
    unloaded.headers[1].address = 0x40_1000;
    unloaded.headers[1].file_size = 0x800;
    unloaded.headers[1].memory_size = 0x800;
    assert_eq!(refused(unloaded), ExecError::ProgramHeadersNotLoaded);
    let mut wrong = typical(ET_DYN, 0);
    wrong.headers[0].address = 0x80;
    assert_eq!(refused(wrong), ExecError::ProgramHeaderAddressMismatch);
}

#[test]
fn segments_outside_the_user_range_or_in_reserved_ranges_are_enomem() {
    let below = typical(ET_EXEC, 0x1000);
    let error = refused(below);
    assert_eq!(error, ExecError::SegmentOutsideUserRange);
    assert_eq!(error.errno(), Errno::ENOMEM);
    let above = typical(ET_EXEC, 1 << 47);
    assert_eq!(refused(above), ExecError::SegmentOutsideUserRange);
    let in_the_utcb_area = typical(ET_EXEC, 0x7F00_0000_0000);
    assert_eq!(refused(in_the_utcb_area), ExecError::SegmentInReservedRange);
    let data_pages = 0x41_0000..0x41_3000;
    let layout = Layout::with_reserved(vec![data_pages]).unwrap();
    let error = parse_program(typical(ET_EXEC, 0x40_0000).build(), &layout).unwrap_err();
    assert_eq!(error, ExecError::SegmentInReservedRange);
    assert_eq!(error.errno(), Errno::ENOMEM);
}

#[test]
fn a_program_in_the_stacks_place_is_enomem() {
    let mut frames = VecFrames::new();
    // Without reserved ranges the image may reach past the stack top, over the stack.
    let layout = Layout::with_reserved(vec![]).unwrap();
    let file = typical(ET_EXEC, DEFAULT_STACK_TOP - 0x1_0000).build();
    let error = load(&mut frames, &layout, &request(file)).unwrap_err();
    assert_eq!(error, ExecError::StackCollidesWithImage);
    assert_eq!(error.errno(), Errno::ENOMEM);
    assert_eq!(frames.live_count(), 0);
}

#[test]
fn oversized_arguments_are_e2big() {
    let mut frames = VecFrames::new();
    let file = typical(ET_EXEC, 0x40_0000).build();
    let long = vec![b'a'; 200 * 1024];
    let medium = vec![b'a'; 100 * 1024];
    // 3 MB of strings: more than a quarter of the 8 MiB stack limit.
    let strings: Vec<&[u8]> = vec![&medium; 30];
    let mut too_many = request(file);
    too_many.environment = &strings;
    let error = load(&mut frames, &Layout::default(), &too_many).unwrap_err();
    assert_eq!(error, ExecError::ArgumentsTooLarge);
    assert_eq!(error.errno(), Errno::E2BIG);
    let mut too_long = request(file);
    let one: Vec<&[u8]> = vec![&long];
    too_long.arguments = &one;
    assert_eq!(
        load(&mut frames, &Layout::default(), &too_long).unwrap_err(),
        ExecError::ArgumentsTooLarge
    );
    let mut with_nul = request(file);
    with_nul.arguments = &[b"a\0b"];
    assert_eq!(
        load(&mut frames, &Layout::default(), &with_nul).unwrap_err(),
        ExecError::StringContainsNul
    );
    assert_eq!(frames.live_count(), 0);
}

#[test]
fn exec_without_frames_for_the_stack_is_enomem_and_leaks_nothing() {
    let mut frames = VecFrames::with_limit(0);
    let file = typical(ET_EXEC, 0x40_0000).build();
    let error = load(&mut frames, &Layout::default(), &request(file)).unwrap_err();
    assert_eq!(error, ExecError::OutOfMemory);
    assert_eq!(frames.live_count(), 0);
}

#[test]
fn the_stack_grows_below_its_initial_area_up_to_the_limit() {
    let mut frames = VecFrames::new();
    let file = typical(ET_EXEC, 0x40_0000).build();
    let mut image = load(&mut frames, &Layout::default(), &request(file)).unwrap();
    let stack = image.space.areas().last().unwrap().range;
    assert_eq!(stack.end - stack.start, PAGE + 128 * 1024);
    let deep = DEFAULT_STACK_TOP - (8 << 20);
    assert!(image.space.fault(&mut frames, deep, Access::Write).is_ok());
    assert_eq!(
        image.space.fault(&mut frames, deep - 1, Access::Write),
        Err(FaultError::Unmapped)
    );
    finish_image(image, &mut frames);
}

#[test]
fn two_loads_of_one_file_are_independent() {
    let mut frames = VecFrames::new();
    let file = typical(ET_EXEC, 0x40_0000).build();
    let mut first = load(&mut frames, &Layout::default(), &request(file)).unwrap();
    let mut second = load(&mut frames, &Layout::default(), &request(file)).unwrap();
    first.space.write(&mut frames, 0x41_2000, b"mine").unwrap();
    let mut seen = [0; 4];
    second
        .space
        .read(&mut frames, 0x41_2000, &mut seen)
        .unwrap();
    assert_eq!(&seen, DATA_MARK);
    let _: &AddressSpace<TestFrame> = &second.space;
    first.space.clear(&mut frames);
    finish_image(second, &mut frames);
}
