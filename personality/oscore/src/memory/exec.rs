//! `execve`'s loader: a fresh address space from a static aarch64 ELF64 file, with the
//! initial stack a Linux program expects.
//!
//! What runs here is what the personality can run: static programs, linked at fixed
//! addresses (`ET_EXEC`, as GCC and busybox build them) or position independent without an
//! interpreter (`ET_DYN` without `PT_INTERP`, the static-PIE that Rust's
//! `aarch64-unknown-linux-musl` target produces). A static-PIE program is loaded at
//! [`Layout::static_pie_base`] and relocates itself: musl's `_dlstart` takes its base from
//! `AT_PHDR` minus `PT_PHDR`'s address, so `AT_PHDR` is computed from the `PT_LOAD` that
//! holds the program headers, and a `PT_PHDR` that disagrees with it is refused. Programs
//! with `PT_INTERP` need a dynamic loader the personality does not have (`ENOEXEC`).
//!
//! Segments are not mapped from the file but copied, page by page on first touch, into
//! private frames ([`super::BackingKind::Image`]): file offsets need not be congruent with
//! addresses, and a page that holds the end of one segment and the start of the next (the
//! text's last page and the data's first, with some linkers) gets the bytes of both and the
//! *union* of their permissions — a page cannot have two protections, and taking the union
//! never breaks a program, where Linux's later-segment-wins could take execute away from the
//! text's last instructions. Segments whose bytes overlap are refused.
//!
//! `PT_GNU_STACK` decides whether the stack is executable (without it, it is not: arm64's
//! default). `PT_TLS` needs nothing from the loader: musl sets up TLS from the program
//! headers. The heap starts at the page after the highest segment end.

use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use elf::ElfBytes;
use elf::abi::{
    EI_CLASS, EI_DATA, ELFCLASS64, ELFDATA2LSB, EM_AARCH64, ET_DYN, ET_EXEC, PF_X, PT_GNU_STACK,
    PT_INTERP, PT_LOAD, PT_PHDR,
};
use elf::endian::LittleEndian;
use linux_abi::auxv::{
    AT_BASE, AT_CLKTCK, AT_EGID, AT_ENTRY, AT_EUID, AT_FLAGS, AT_GID, AT_HWCAP, AT_HWCAP2,
    AT_PAGESZ, AT_PHDR, AT_PHENT, AT_PHNUM, AT_SECURE, AT_UID, InitialStack, StackError,
    build_initial_stack,
};
use linux_abi::errno::Errno;

use super::area::{Area, Backing, ImagePiece};
use super::frames::Frames;
use super::layout::Layout;
use super::rights::Protection;
use super::space::{AddressSpace, MemoryLimits};
use super::user::{ARGUMENT_STRING_LIMIT, argument_space};
use super::{PAGE_SIZE, page_ceiling, page_floor};

/// `AT_HWCAP` for QEMU's Cortex-A72: `fp | asimd | aes | pmull | sha1 | sha2 | crc32`.
///
/// Linux on that CPU reports `0x8ff`, which adds `evtstrm` (bit 2: the generic timer's event
/// stream wakes `wfe` periodically) and `cpuid` (bit 11: the kernel emulates EL0 reads of
/// the ID registers). Our kernel does neither, and a program that trusted those bits would
/// hang in `wfe` or die on `mrs`, so they are left out. `-cpu max` has more features; a
/// subset is always safe to report.
pub const HWCAP: u64 =
    HWCAP_FP | HWCAP_ASIMD | HWCAP_AES | HWCAP_PMULL | HWCAP_SHA1 | HWCAP_SHA2 | HWCAP_CRC32;

const HWCAP_FP: u64 = 1 << 0;
const HWCAP_ASIMD: u64 = 1 << 1;
const HWCAP_AES: u64 = 1 << 3;
const HWCAP_PMULL: u64 = 1 << 4;
const HWCAP_SHA1: u64 = 1 << 5;
const HWCAP_SHA2: u64 = 1 << 6;
const HWCAP_CRC32: u64 = 1 << 7;

/// `AT_CLKTCK`: the tick rate of `times` (Linux's `USER_HZ`).
pub const CLOCK_TICKS_PER_SECOND: u64 = 100;

/// The size of an ELF64 program header (`AT_PHENT`).
const PROGRAM_HEADER_SIZE: u64 = 56;

/// The stack area reaches this far below what the initial stack uses, as Linux's
/// `setup_arg_pages` expands it by 128 KiB; deeper faults grow it further.
const INITIAL_STACK_EXTRA: u64 = 128 * 1024;

/// The identity a program runs with, for the auxiliary vector.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    /// Real user ID (`AT_UID`).
    pub uid: u32,
    /// Effective user ID (`AT_EUID`).
    pub euid: u32,
    /// Real group ID (`AT_GID`).
    pub gid: u32,
    /// Effective group ID (`AT_EGID`).
    pub egid: u32,
}

/// Everything `execve` hands the loader.
#[derive(Clone, Copy)]
pub struct ExecRequest<'a> {
    /// The ELF file's bytes (in the initrd).
    pub file: &'static [u8],
    /// `argv`, without NUL bytes.
    pub arguments: &'a [&'a [u8]],
    /// `envp`, without NUL bytes.
    pub environment: &'a [&'a [u8]],
    /// The file name as executed, for `AT_EXECFN`.
    pub execfn: &'a [u8],
    /// 16 random bytes for `AT_RANDOM` (musl's stack-protector canary and pointer guard).
    pub random: [u8; 16],
    /// The identity for the auxiliary vector; `AT_SECURE` is set when effective and real IDs
    /// differ.
    pub credentials: Credentials,
    /// The limits the new image runs under (inherited across `execve`).
    pub limits: MemoryLimits,
    /// Auxiliary-vector entries of the server's own, placed after Linux's (before
    /// `AT_RANDOM`, `AT_EXECFN` and `AT_NULL`): `protocol::AT_SYSTEM_CALL_PATH`. Their keys
    /// must not be ones Linux defines.
    pub extra_auxiliary: &'a [(u64, u64)],
}

impl fmt::Debug for ExecRequest<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ExecRequest")
            .field("file_size", &self.file.len())
            .field("arguments", &self.arguments.len())
            .field("environment", &self.environment.len())
            .field("credentials", &self.credentials)
            .field("limits", &self.limits)
            .field("extra_auxiliary", &self.extra_auxiliary)
            .finish_non_exhaustive()
    }
}

/// A loaded program, ready to run.
#[derive(Debug)]
pub struct ExecImage<Frame> {
    /// The new address space; the old one is the caller's to clear.
    pub space: AddressSpace<Frame>,
    /// Where the program starts (`e_entry` plus the load bias).
    pub entry: u64,
    /// The initial stack pointer: it points at argc and is 16-byte aligned.
    pub stack_pointer: u64,
    /// Where the initial stack's parts are.
    pub stack: InitialStack,
    /// The program's description, as [`parse_program`] made it.
    pub program: Program,
}

/// One area of a program image: a page range and its protection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramArea {
    /// The page-aligned range, load bias applied.
    pub range: Range<u64>,
    /// The protection (the union of the segments' where they share a page).
    pub protection: Protection,
}

/// A checked static program: where its areas go and what the auxiliary vector says.
#[derive(Clone, Debug)]
pub struct Program {
    /// The entry point, load bias applied (`AT_ENTRY`).
    pub entry: u64,
    /// What was added to every link address (0 for `ET_EXEC`).
    pub load_bias: u64,
    /// Whether the file is static-PIE (`ET_DYN`).
    pub position_independent: bool,
    /// The address of the program headers in memory (`AT_PHDR`).
    pub program_headers: u64,
    /// The number of program headers (`AT_PHNUM`).
    pub program_header_count: u16,
    /// The image's areas in address order.
    pub areas: Vec<ProgramArea>,
    /// Where the heap starts: the page after the highest segment end.
    pub break_start: u64,
    /// Whether `PT_GNU_STACK` asks for an executable stack.
    pub executable_stack: bool,
    /// The segments' file bytes and where they go.
    pieces: Rc<[ImagePiece]>,
}

/// Why a program cannot be loaded; [`ExecError::errno`] is what `execve` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecError {
    /// The file does not start with the ELF magic.
    NotElf,
    /// Not a 64-bit little-endian ELF file.
    NotLittleEndian64,
    /// Built for another machine than aarch64.
    NotAarch64,
    /// Neither `ET_EXEC` nor `ET_DYN`.
    NotExecutable,
    /// Dynamically linked: has `PT_INTERP`, and there is no dynamic loader.
    NeedsInterpreter,
    /// The headers cannot be parsed, or program headers have the wrong size.
    Malformed,
    /// No `PT_LOAD` segment with memory.
    NoLoadableSegment,
    /// A segment's file bytes lie beyond the end of the file.
    SegmentOutsideFile,
    /// A segment has more file bytes than memory.
    FileSizeAboveMemorySize,
    /// A segment's address range wraps around.
    SegmentAddressOverflow,
    /// Two segments' memory overlaps.
    OverlappingSegments,
    /// No `PT_LOAD` segment holds the program headers, so `AT_PHDR` would point nowhere.
    ProgramHeadersNotLoaded,
    /// `PT_PHDR` names another address than the loaded program headers have.
    ProgramHeaderAddressMismatch,
    /// A segment lies below the minimum address or beyond the usable range.
    SegmentOutsideUserRange,
    /// A segment covers a reserved range.
    SegmentInReservedRange,
    /// The stack would overlap the image.
    StackCollidesWithImage,
    /// The arguments and environment exceed the limits.
    ArgumentsTooLarge,
    /// An argument, environment string or the file name contains a NUL byte.
    StringContainsNul,
    /// No frames left to build the initial stack.
    OutOfMemory,
}

impl ExecError {
    /// The error number `execve` returns: `ENOEXEC` for files that are not loadable programs,
    /// `ENOMEM` for programs that do not fit, `E2BIG` for oversized arguments, `EINVAL` for
    /// strings with NUL bytes.
    pub const fn errno(self) -> Errno {
        match self {
            Self::NotElf
            | Self::NotLittleEndian64
            | Self::NotAarch64
            | Self::NotExecutable
            | Self::NeedsInterpreter
            | Self::Malformed
            | Self::NoLoadableSegment
            | Self::SegmentOutsideFile
            | Self::FileSizeAboveMemorySize
            | Self::SegmentAddressOverflow
            | Self::OverlappingSegments
            | Self::ProgramHeadersNotLoaded
            | Self::ProgramHeaderAddressMismatch => Errno::ENOEXEC,
            Self::SegmentOutsideUserRange
            | Self::SegmentInReservedRange
            | Self::StackCollidesWithImage
            | Self::OutOfMemory => Errno::ENOMEM,
            Self::ArgumentsTooLarge => Errno::E2BIG,
            Self::StringContainsNul => Errno::EINVAL,
        }
    }
}

impl fmt::Display for ExecError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::NotElf => "not an ELF file",
            Self::NotLittleEndian64 => "not a 64-bit little-endian ELF file",
            Self::NotAarch64 => "not built for aarch64",
            Self::NotExecutable => "not an executable (ET_EXEC or ET_DYN)",
            Self::NeedsInterpreter => "dynamically linked (PT_INTERP)",
            Self::Malformed => "malformed ELF headers",
            Self::NoLoadableSegment => "no loadable segment",
            Self::SegmentOutsideFile => "a segment's file bytes lie outside the file",
            Self::FileSizeAboveMemorySize => "a segment has more file bytes than memory",
            Self::SegmentAddressOverflow => "a segment's address range wraps around",
            Self::OverlappingSegments => "two segments overlap",
            Self::ProgramHeadersNotLoaded => "the program headers are in no loaded segment",
            Self::ProgramHeaderAddressMismatch => "PT_PHDR disagrees with the loaded headers",
            Self::SegmentOutsideUserRange => "a segment lies outside the usable range",
            Self::SegmentInReservedRange => "a segment covers a reserved range",
            Self::StackCollidesWithImage => "the stack would overlap the program",
            Self::ArgumentsTooLarge => "arguments and environment are too large",
            Self::StringContainsNul => "a string contains a NUL byte",
            Self::OutOfMemory => "out of memory",
        })
    }
}

/// A `PT_LOAD` segment with memory, checked on its own.
#[derive(Clone, Copy, Debug)]
struct Segment {
    /// The link address.
    virtual_address: u64,
    /// The memory size.
    memory_size: u64,
    /// The file bytes.
    bytes: &'static [u8],
    /// The file offset of `bytes`.
    file_offset: u64,
    /// The protection of its flags.
    protection: Protection,
}

/// Checks `file` as a static aarch64 program and says where it goes under `layout`.
///
/// # Errors
/// The first [`ExecError`] found: the file header, then each program header in table
/// order, then the segments together, then the program headers' address, then placement.
pub fn parse_program(file: &'static [u8], layout: &Layout) -> Result<Program, ExecError> {
    if file.get(..elf::abi::ELFMAGIC.len()) != Some(elf::abi::ELFMAGIC.as_slice()) {
        return Err(ExecError::NotElf);
    }
    if file.get(EI_CLASS) != Some(&ELFCLASS64) || file.get(EI_DATA) != Some(&ELFDATA2LSB) {
        return Err(ExecError::NotLittleEndian64);
    }
    let elf = ElfBytes::<LittleEndian>::minimal_parse(file).map_err(|_| ExecError::Malformed)?;
    let header = &elf.ehdr;
    if header.e_machine != EM_AARCH64 {
        return Err(ExecError::NotAarch64);
    }
    let position_independent = match header.e_type {
        ET_EXEC => false,
        ET_DYN => true,
        _ => return Err(ExecError::NotExecutable),
    };
    if u64::from(header.e_phentsize) != PROGRAM_HEADER_SIZE {
        return Err(ExecError::Malformed);
    }
    let table = elf.segments().ok_or(ExecError::NoLoadableSegment)?;

    let mut segments = Vec::new();
    let mut executable_stack = false;
    let mut declared_program_headers = None;
    let mut largest_alignment = PAGE_SIZE;
    for index in 0..table.len() {
        let program_header = table.get(index).map_err(|_| ExecError::Malformed)?;
        match program_header.p_type {
            PT_INTERP => return Err(ExecError::NeedsInterpreter),
            PT_GNU_STACK => executable_stack = program_header.p_flags & PF_X != 0,
            PT_PHDR => declared_program_headers = Some(program_header.p_vaddr),
            PT_LOAD => {
                if program_header.p_filesz > program_header.p_memsz {
                    return Err(ExecError::FileSizeAboveMemorySize);
                }
                let bytes = usize::try_from(program_header.p_offset)
                    .ok()
                    .zip(usize::try_from(program_header.p_filesz).ok())
                    .and_then(|(offset, size)| Some(offset..offset.checked_add(size)?))
                    .and_then(|range| file.get(range))
                    .ok_or(ExecError::SegmentOutsideFile)?;
                program_header
                    .p_vaddr
                    .checked_add(program_header.p_memsz)
                    .ok_or(ExecError::SegmentAddressOverflow)?;
                if program_header.p_memsz == 0 {
                    continue;
                }
                if program_header.p_align.is_power_of_two() {
                    largest_alignment = largest_alignment.max(program_header.p_align);
                }
                segments.push(Segment {
                    virtual_address: program_header.p_vaddr,
                    memory_size: program_header.p_memsz,
                    bytes,
                    file_offset: program_header.p_offset,
                    protection: Protection::from_segment_flags(program_header.p_flags),
                });
            }
            _ => {}
        }
    }
    segments.sort_unstable_by_key(|segment| segment.virtual_address);
    let (Some(lowest), Some(highest_end)) = (
        segments
            .first()
            .map(|segment| page_floor(segment.virtual_address)),
        segments
            .iter()
            .map(|segment| segment.virtual_address + segment.memory_size)
            .max(),
    ) else {
        return Err(ExecError::NoLoadableSegment);
    };
    if segments.windows(2).any(|pair| {
        matches!(pair, [lower, upper]
            if lower.virtual_address + lower.memory_size > upper.virtual_address)
    }) {
        return Err(ExecError::OverlappingSegments);
    }

    // Where the program headers are in memory, at link addresses.
    let header_table_size = u64::from(header.e_phnum) * PROGRAM_HEADER_SIZE;
    let linked_program_headers = segments
        .iter()
        .find_map(|segment| {
            let offset_in_segment = header.e_phoff.checked_sub(segment.file_offset)?;
            let end_in_segment = offset_in_segment.checked_add(header_table_size)?;
            (end_in_segment <= segment.bytes.len() as u64)
                .then(|| segment.virtual_address + offset_in_segment)
        })
        .ok_or(ExecError::ProgramHeadersNotLoaded)?;
    if declared_program_headers.is_some_and(|declared| declared != linked_program_headers) {
        return Err(ExecError::ProgramHeaderAddressMismatch);
    }

    // ET_EXEC runs at its link addresses; static-PIE moves its lowest page to the base,
    // aligned down to its largest segment alignment (as Linux aligns the load bias).
    let base = if position_independent {
        layout.static_pie_base() & !(largest_alignment - 1)
    } else {
        lowest
    };
    let load_bias = base.wrapping_sub(lowest);
    let place = |address: u64| address.wrapping_add(load_bias);
    let image_end = base
        .checked_add(highest_end - lowest)
        .and_then(page_ceiling)
        .ok_or(ExecError::SegmentOutsideUserRange)?;
    if base < layout.minimum_address() || image_end > layout.user_end() {
        return Err(ExecError::SegmentOutsideUserRange);
    }

    let mut areas: Vec<ProgramArea> = Vec::new();
    let mut pieces = Vec::new();
    for segment in &segments {
        let start = place(segment.virtual_address);
        let end =
            page_ceiling(start + segment.memory_size).ok_or(ExecError::SegmentOutsideUserRange)?;
        if !segment.bytes.is_empty() {
            pieces.push(ImagePiece {
                address: start,
                bytes: segment.bytes,
            });
        }
        add_segment_pages(&mut areas, page_floor(start)..end, segment.protection);
    }
    if areas
        .iter()
        .any(|area| layout.overlaps_reserved(&area.range))
    {
        return Err(ExecError::SegmentInReservedRange);
    }

    Ok(Program {
        entry: place(header.e_entry),
        load_bias,
        position_independent,
        program_headers: place(linked_program_headers),
        program_header_count: header.e_phnum,
        areas,
        break_start: image_end,
        executable_stack,
        pieces: Rc::from(pieces),
    })
}

/// Adds a segment's pages to the image's areas (kept in address order): a first page that
/// the previous area already covers (the segments share it) becomes a one-page area with the
/// union of both protections.
fn add_segment_pages(areas: &mut Vec<ProgramArea>, pages: Range<u64>, protection: Protection) {
    let mut start = pages.start;
    if let Some(last) = areas.last_mut()
        && last.range.end > start
    {
        // Segments are sorted and do not overlap, so they share at most this one page.
        let shared = last.range.end - PAGE_SIZE..last.range.end;
        let union = last.protection.union(protection);
        if last.range.start == shared.start {
            last.protection = union;
        } else {
            last.range.end = shared.start;
            areas.push(ProgramArea {
                range: shared.clone(),
                protection: union,
            });
        }
        start = shared.end;
    }
    if start < pages.end {
        areas.push(ProgramArea {
            range: start..pages.end,
            protection,
        });
    }
}

/// Loads `request.file` into a new address space under `layout` and builds its initial
/// stack: argc, argv, envp, the auxiliary vector (`AT_HWCAP`, `AT_PAGESZ`, `AT_CLKTCK`,
/// `AT_PHDR`, `AT_PHENT`, `AT_PHNUM`, `AT_BASE` = 0, `AT_FLAGS` = 0, `AT_ENTRY`, the IDs,
/// `AT_SECURE`, `AT_HWCAP2` = 0, then `AT_RANDOM` and `AT_EXECFN`), strings and random
/// bytes, below [`Layout::stack_top`]. Image pages are populated lazily; the stack's used
/// pages are populated now.
///
/// # Errors
/// An [`ExecError`]; no frame stays allocated then.
pub fn load<F: Frames>(
    frames: &mut F,
    layout: &Layout,
    request: &ExecRequest<'_>,
) -> Result<ExecImage<F::Frame>, ExecError> {
    let program = parse_program(request.file, layout)?;
    check_argument_sizes(request)?;

    let mut space = AddressSpace::new(layout.clone());
    space.set_limits(request.limits);
    for area in &program.areas {
        space.insert_area(
            area.range.start,
            Area {
                end: area.range.end,
                protection: area.protection,
                backing: Backing::Image(Rc::clone(&program.pieces)),
                grows_down: false,
            },
        );
    }
    space.set_break_start(program.break_start);

    let credentials = request.credentials;
    let secure = credentials.uid != credentials.euid || credentials.gid != credentials.egid;
    let auxiliary = [
        (AT_HWCAP, HWCAP),
        (AT_PAGESZ, PAGE_SIZE),
        (AT_CLKTCK, CLOCK_TICKS_PER_SECOND),
        (AT_PHDR, program.program_headers),
        (AT_PHENT, PROGRAM_HEADER_SIZE),
        (AT_PHNUM, u64::from(program.program_header_count)),
        (AT_BASE, 0),
        (AT_FLAGS, 0),
        (AT_ENTRY, program.entry),
        (AT_UID, u64::from(credentials.uid)),
        (AT_EUID, u64::from(credentials.euid)),
        (AT_GID, u64::from(credentials.gid)),
        (AT_EGID, u64::from(credentials.egid)),
        (AT_SECURE, u64::from(secure)),
        (AT_HWCAP2, 0),
    ];
    let mut auxiliary = auxiliary.to_vec();
    auxiliary.extend_from_slice(request.extra_auxiliary);
    let top = layout.stack_top();
    let (buffer, stack) = lay_out_stack(top, request, &auxiliary)?;

    // The stack area: what the initial stack uses plus Linux's 128 KiB, within the limit.
    let used = page_ceiling(stack.used as u64).ok_or(ExecError::ArgumentsTooLarge)?;
    if used > request.limits.stack {
        return Err(ExecError::ArgumentsTooLarge);
    }
    let size = (used + INITIAL_STACK_EXTRA).min(page_floor(request.limits.stack).max(used));
    let stack_range = top.checked_sub(size).map(|start| start..top);
    let Some(stack_range) =
        stack_range.filter(|range| layout.is_usable(range) && !space.overlaps_area(range))
    else {
        return Err(ExecError::StackCollidesWithImage);
    };
    let protection = if program.executable_stack {
        Protection::READ_WRITE_EXECUTE
    } else {
        Protection::READ_WRITE
    };
    space.insert_area(
        stack_range.start,
        Area {
            end: top,
            protection,
            backing: Backing::Anonymous,
            grows_down: true,
        },
    );
    let stack_bytes = buffer
        .get(buffer.len() - stack.used..)
        .ok_or(ExecError::ArgumentsTooLarge)?;
    if space.write(frames, stack.sp, stack_bytes).is_err() {
        space.clear(frames);
        return Err(ExecError::OutOfMemory);
    }

    Ok(ExecImage {
        space,
        entry: program.entry,
        stack_pointer: stack.sp,
        stack,
        program,
    })
}

/// Refuses arguments and environments that `execve` would refuse (Linux's limits, as
/// [`AddressSpace::read_exec_arguments`] applies them), before anything is allocated for them.
fn check_argument_sizes(request: &ExecRequest<'_>) -> Result<(), ExecError> {
    let pointers = (request.arguments.len().max(1) as u64)
        .saturating_add(request.environment.len() as u64)
        .saturating_mul(8);
    let mut total = pointers;
    for string in request.arguments.iter().chain(request.environment.iter()) {
        let size = (string.len() as u64).saturating_add(1);
        if size > ARGUMENT_STRING_LIMIT {
            return Err(ExecError::ArgumentsTooLarge);
        }
        total = total.saturating_add(size);
    }
    if total > argument_space(request.limits.stack)
        || request.execfn.len() as u64 >= ARGUMENT_STRING_LIMIT
    {
        return Err(ExecError::ArgumentsTooLarge);
    }
    Ok(())
}

/// Builds the initial stack in a buffer that ends at `top`; returns the buffer and the
/// layout (the used bytes are the buffer's last `stack.used`).
fn lay_out_stack(
    top: u64,
    request: &ExecRequest<'_>,
    auxiliary: &[(u64, u64)],
) -> Result<(Vec<u8>, InitialStack), ExecError> {
    // Strings with their NULs, the top word, the random bytes, argc, the pointer arrays with
    // their NULLs, the auxiliary vector with the three entries added, and alignment slack.
    // `check_argument_sizes` bounded all of it by a few MiB.
    let strings: usize = request
        .arguments
        .iter()
        .chain(request.environment.iter())
        .chain(core::iter::once(&request.execfn))
        .map(|string| string.len() + 1)
        .sum();
    let words = request.arguments.len() + request.environment.len() + 3;
    let estimate = strings + 8 + 16 + 8 * words + 16 * (auxiliary.len() + 3) + 48;
    let mut size = estimate;
    for _ in 0..2 {
        let mut buffer = vec![0; size];
        match build_initial_stack(
            top,
            &mut buffer,
            request.arguments,
            request.environment,
            auxiliary,
            request.random,
            request.execfn,
        ) {
            Ok(stack) => return Ok((buffer, stack)),
            Err(StackError::BufferTooSmall { needed }) => {
                size = usize::try_from(needed).map_err(|_| ExecError::ArgumentsTooLarge)?;
            }
            Err(StackError::StringContainsNul) => return Err(ExecError::StringContainsNul),
            Err(_) => return Err(ExecError::ArgumentsTooLarge),
        }
    }
    Err(ExecError::ArgumentsTooLarge)
}
