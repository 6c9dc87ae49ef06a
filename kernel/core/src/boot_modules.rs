//! Finds sigma0 and the root task in the initrd, and describes how to load each of them.
//!
//! The kernel itself starts exactly two programs: sigma0, which owns all RAM, and the root
//! task, which starts everything else. Both come in the initrd, a cpio "newc" archive that
//! `mkimage initrd` packs and QEMU places in RAM, so before any user space exists the kernel
//! has to read that archive and the two ELF files in it. All of those bytes come from outside
//! the kernel: every header field is an allegation, checked before it is used (no unchecked
//! arithmetic, slicing only through `get`, no panics), and every refusal is a typed error that
//! says what is wrong and where.
//!
//! This module only *describes*. [`Initrd`] yields named entries that borrow the archive, and
//! [`parse_program`] turns a static aarch64 ELF64 executable into a [`Program`]: its entry
//! point and its [`LoadSegment`]s, each an address range, the file bytes that begin it and its
//! permissions. Taking frames, copying, zeroing and mapping is the EL1 glue's job. Nothing here
//! allocates, so it runs before the kernel heap exists.
//!
//! Why these crates: ELF headers are read with the `elf` crate (no_std, no alloc, no unsafe,
//! fuzzed upstream); the policy on top of it (static, aarch64, user half, W^X, no shared pages)
//! is ours. The cpio reader is ours too, because the no_std reader on crates.io
//! (`cpio_reader`) stops silently at the first bad header and drops the trailer, so a damaged
//! archive would look like a short one and a missing trailer like a complete archive; newc is
//! a 110-byte ASCII header, a name and the data, which takes a page to read carefully.

use core::fmt;
use core::iter::FusedIterator;
use core::ops::Range;

use aarch64::page_table::{PAGE_SIZE as TRANSLATION_GRANULE, VIRTUAL_ADDRESS_BITS};
use elf::ElfBytes;
use elf::abi::{
    EI_CLASS, EI_DATA, ELFCLASS64, ELFDATA2LSB, EM_AARCH64, ET_EXEC, PF_R, PF_W, PF_X, PT_INTERP,
    PT_LOAD,
};
use elf::endian::LittleEndian;
use elf::segment::ProgramHeader;

#[cfg(test)]
mod tests;

// ---------------------------------------------------------------------------------------------
// The initrd: a cpio newc archive
// ---------------------------------------------------------------------------------------------

/// The magic that opens every newc header. The "070702" variant (newc with a checksum) and the
/// older binary and "070707" formats are refused: `mkimage` writes plain newc only, and a
/// reader that accepts less has less to get wrong.
const NEWC_MAGIC: &[u8; 6] = b"070701";

/// Length of a newc header: the magic and thirteen 8-digit hexadecimal fields.
const HEADER_LENGTH: usize = 110;

/// Length of one hexadecimal header field.
const FIELD_LENGTH: usize = 8;

/// The header fields in the order they follow the magic, named as the newc format names them
/// (these names appear in [`InitrdError::BadHeaderField`]).
const FIELD_NAMES: [&str; 13] = [
    "ino",
    "mode",
    "uid",
    "gid",
    "nlink",
    "mtime",
    "filesize",
    "devmajor",
    "devminor",
    "rdevmajor",
    "rdevminor",
    "namesize",
    "check",
];

/// The name of the record that ends an archive.
const TRAILER_NAME: &str = "TRAILER!!!";

/// Headers and file data start at multiples of this, counted from the start of the archive.
const ARCHIVE_ALIGNMENT: usize = 4;

/// The file-type bits of a Unix mode (`S_IFMT`).
const FILE_TYPE_MASK: u32 = 0o170_000;
/// File type of a regular file (`S_IFREG`).
const REGULAR_FILE_TYPE: u32 = 0o100_000;
/// File type of a directory (`S_IFDIR`).
const DIRECTORY_TYPE: u32 = 0o040_000;
/// File type of a symbolic link (`S_IFLNK`).
const SYMBOLIC_LINK_TYPE: u32 = 0o120_000;

/// Why the initrd could not be read. Offsets are byte offsets from the start of the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitrdError {
    /// A header does not begin with the newc magic "070701": the bytes are not a newc archive,
    /// or the entry before this offset said the wrong size.
    BadMagic {
        /// Where the header should begin.
        offset: usize,
    },
    /// The archive ends inside the entry (header, name or data) that begins here.
    Truncated {
        /// Where the cut entry begins.
        offset: usize,
    },
    /// A header field is not eight hexadecimal digits, or its value is impossible (a name size
    /// of zero, a name without its terminating NUL).
    BadHeaderField {
        /// Where the header begins.
        offset: usize,
        /// The field's name as the newc format spells it, for example `"filesize"`.
        field: &'static str,
    },
    /// The name of the entry that begins here is not UTF-8.
    NameNotUtf8 {
        /// Where the entry begins.
        offset: usize,
    },
    /// The archive ends cleanly between two entries but has no `TRAILER!!!` record, so it may
    /// have lost entries: it is refused rather than read as complete.
    MissingTrailer,
}

impl fmt::Display for InitrdError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic { offset } => {
                write!(
                    formatter,
                    "initrd: no cpio newc magic at offset {offset:#x}"
                )
            }
            Self::Truncated { offset } => {
                write!(
                    formatter,
                    "initrd: the entry at offset {offset:#x} is cut short"
                )
            }
            Self::BadHeaderField { offset, field } => write!(
                formatter,
                "initrd: bad {field} field in the header at offset {offset:#x}"
            ),
            Self::NameNotUtf8 { offset } => write!(
                formatter,
                "initrd: the name of the entry at offset {offset:#x} is not UTF-8"
            ),
            Self::MissingTrailer => write!(formatter, "initrd: no TRAILER!!! record"),
        }
    }
}

/// The initrd as a cpio newc archive, borrowed from wherever the boot loader put it.
///
/// Several archives concatenated one after the other (which Linux accepts) are not supported:
/// reading stops at the first trailer.
#[derive(Debug, Clone, Copy)]
pub struct Initrd<'a> {
    bytes: &'a [u8],
}

impl<'a> Initrd<'a> {
    /// Wraps `bytes` after checking that they begin with one whole, well-formed entry (which
    /// may be the trailer of an empty archive); the rest is checked as it is read.
    ///
    /// # Errors
    /// [`InitrdError::BadMagic`] when the bytes do not start like a newc archive, otherwise
    /// whatever is wrong with the first entry ([`InitrdError::Truncated`] for empty bytes).
    pub fn new(bytes: &'a [u8]) -> Result<Self, InitrdError> {
        let magic_prefix_length = bytes.len().min(NEWC_MAGIC.len());
        if bytes.get(..magic_prefix_length) != NEWC_MAGIC.get(..magic_prefix_length) {
            return Err(InitrdError::BadMagic { offset: 0 });
        }
        read_entry(bytes, 0)?;
        Ok(Self { bytes })
    }

    /// The entries in archive order, up to but not including the trailer. A damaged archive
    /// ends the iteration with one `Err`; an archive without a trailer ends with
    /// [`InitrdError::MissingTrailer`].
    pub fn entries(&self) -> Entries<'a> {
        Entries {
            archive: self.bytes,
            offset: 0,
            finished: false,
        }
    }

    /// The entry named `path`, where a leading `"./"` or `"/"` is ignored on both sides, so
    /// `"sigma0"`, `"./sigma0"` and `"/sigma0"` are one name. Other than that the match is
    /// exact: `"boot/sigma0"` is not `"sigma0"`.
    ///
    /// The whole archive is read, so a damaged archive is reported even when the entry comes
    /// before the damage. A name that occurs more than once gives its last entry, the one that
    /// unpacking the archive (as Linux does with an initramfs) would leave behind.
    ///
    /// # Errors
    /// The first [`InitrdError`] met while reading the archive.
    pub fn find(&self, path: &str) -> Result<Option<Entry<'a>>, InitrdError> {
        let wanted = without_leading_root(path);
        let mut found = None;
        for entry in self.entries() {
            let entry = entry?;
            if without_leading_root(entry.name) == wanted {
                found = Some(entry);
            }
        }
        Ok(found)
    }

    /// Finds the regular file `path` (as [`Initrd::find`] does) and describes it as a program
    /// with [`parse_program`]: what the kernel does for sigma0 and the root task.
    ///
    /// # Errors
    /// [`BootModuleError`] says which step failed.
    pub fn find_program(&self, path: &str) -> Result<Program<'a>, BootModuleError> {
        let entry = self
            .find(path)
            .map_err(BootModuleError::Initrd)?
            .ok_or(BootModuleError::NotFound)?;
        if !entry.is_regular_file() {
            return Err(BootModuleError::NotARegularFile);
        }
        parse_program(entry.data).map_err(BootModuleError::Program)
    }
}

/// `name` without one leading `"./"` or `"/"`.
fn without_leading_root(name: &str) -> &str {
    name.strip_prefix("./")
        .or_else(|| name.strip_prefix('/'))
        .unwrap_or(name)
}

/// One member of the archive: a file, a directory, a symbolic link or anything else a Unix
/// mode can say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The path as stored, for example `"sigma0"` or `"./boot/sigma0"`.
    pub name: &'a str,
    /// The Unix mode: file type and permission bits.
    pub mode: u32,
    /// The contents: a file's bytes, a symbolic link's target, empty for a directory.
    pub data: &'a [u8],
}

impl Entry<'_> {
    /// Whether this is a regular file (and not a directory, link, device, FIFO or socket).
    pub fn is_regular_file(&self) -> bool {
        self.mode & FILE_TYPE_MASK == REGULAR_FILE_TYPE
    }

    /// Whether this is a directory.
    pub fn is_directory(&self) -> bool {
        self.mode & FILE_TYPE_MASK == DIRECTORY_TYPE
    }

    /// Whether this is a symbolic link; its target is in [`Entry::data`].
    pub fn is_symbolic_link(&self) -> bool {
        self.mode & FILE_TYPE_MASK == SYMBOLIC_LINK_TYPE
    }
}

/// The iterator of [`Initrd::entries`].
#[derive(Debug, Clone)]
pub struct Entries<'a> {
    archive: &'a [u8],
    /// Where the next header begins.
    offset: usize,
    /// Set after the trailer or an error: nothing more is read.
    finished: bool,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, InitrdError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        if self.offset >= self.archive.len() {
            self.finished = true;
            return Some(Err(InitrdError::MissingTrailer));
        }
        match read_entry(self.archive, self.offset) {
            Err(error) => {
                self.finished = true;
                Some(Err(error))
            }
            Ok((entry, _)) if entry.name == TRAILER_NAME => {
                self.finished = true;
                None
            }
            Ok((entry, next_offset)) => {
                self.offset = next_offset;
                Some(Ok(entry))
            }
        }
    }
}

impl FusedIterator for Entries<'_> {}

/// Reads the entry whose header begins at `offset`; returns it and where the next header
/// begins (which may lie past the end of the archive).
fn read_entry(archive: &[u8], offset: usize) -> Result<(Entry<'_>, usize), InitrdError> {
    let truncated = InitrdError::Truncated { offset };
    let header_end = offset.checked_add(HEADER_LENGTH).ok_or(truncated)?;
    let header = archive.get(offset..header_end).ok_or(truncated)?;
    let Some((magic, fields)) = header.split_first_chunk() else {
        return Err(truncated);
    };
    if magic != NEWC_MAGIC {
        return Err(InitrdError::BadMagic { offset });
    }

    let mut values = [0_u32; FIELD_NAMES.len()];
    for ((value, digits), field) in values
        .iter_mut()
        .zip(fields.chunks_exact(FIELD_LENGTH))
        .zip(FIELD_NAMES)
    {
        *value = parse_hexadecimal(digits).ok_or(InitrdError::BadHeaderField { offset, field })?;
    }
    let [_, mode, _, _, _, _, file_size, _, _, _, _, name_size, _] = values;
    let file_size = usize::try_from(file_size).map_err(|_| truncated)?;
    let name_size = usize::try_from(name_size).map_err(|_| truncated)?;

    // The name size counts the terminating NUL, so zero is impossible.
    let name_end = header_end.checked_add(name_size).ok_or(truncated)?;
    let name_with_nul = archive.get(header_end..name_end).ok_or(truncated)?;
    let Some((&0, name)) = name_with_nul.split_last() else {
        return Err(InitrdError::BadHeaderField {
            offset,
            field: "namesize",
        });
    };
    let name = core::str::from_utf8(name).map_err(|_| InitrdError::NameNotUtf8 { offset })?;

    let data_start = name_end
        .checked_next_multiple_of(ARCHIVE_ALIGNMENT)
        .ok_or(truncated)?;
    let data_end = data_start.checked_add(file_size).ok_or(truncated)?;
    let data = archive.get(data_start..data_end).ok_or(truncated)?;
    let next_offset = data_end
        .checked_next_multiple_of(ARCHIVE_ALIGNMENT)
        .ok_or(truncated)?;
    Ok((Entry { name, mode, data }, next_offset))
}

/// The value of eight ASCII hexadecimal digits (either case); `None` for anything else,
/// including the sign that `u32::from_str_radix` would accept.
fn parse_hexadecimal(digits: &[u8]) -> Option<u32> {
    if digits.len() != FIELD_LENGTH {
        return None;
    }
    digits.iter().try_fold(0_u32, |value, &digit| {
        let digit = char::from(digit).to_digit(16)?;
        Some(value << 4 | digit)
    })
}

// ---------------------------------------------------------------------------------------------
// Programs: static aarch64 ELF64 executables
// ---------------------------------------------------------------------------------------------

/// Size of a page: segments are mapped in pages, so a page is also the unit in which their
/// permissions can differ.
pub const PAGE_SIZE: u64 = TRANSLATION_GRANULE;

/// One past the highest user virtual address: TTBR0_EL1 translates `0..2^48`; everything
/// above belongs to the kernel (TTBR1_EL1) or to no one.
pub const USER_ADDRESS_LIMIT: u64 = 1 << VIRTUAL_ADDRESS_BITS;

/// The most loadable segments a [`Program`] may have. Linkers give a static executable two to
/// four (read-only data, text, data with bss, sometimes a separate RELRO); a fixed bound keeps
/// [`Program`] free of allocation.
pub const MAXIMUM_LOAD_SEGMENTS: usize = 8;

/// aarch64 instructions are four bytes long and four-byte aligned.
const INSTRUCTION_ALIGNMENT: u64 = 4;

/// Why an ELF file cannot be loaded as sigma0 or the root task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgramError {
    /// The file does not start with the ELF magic.
    NotElf,
    /// Not a 64-bit little-endian ELF file, the only kind an aarch64 EL0 program can be here.
    NotLittleEndian64,
    /// Built for another machine than aarch64 (`e_machine` is not `EM_AARCH64`).
    NotAarch64,
    /// Not `ET_EXEC`. Programs are loaded at their link addresses with no relocation, so
    /// position-independent files (`ET_DYN`), static-pie included, are refused along with
    /// relocatable objects and core files: a static-pie relocates itself only after it has been
    /// placed, and the kernel has no policy for choosing where.
    NotExecutable,
    /// The file asks for a program interpreter (`PT_INTERP`): it is dynamically linked, and
    /// the kernel has no dynamic linker to start first.
    NeedsInterpreter,
    /// The ELF structures themselves are broken: the program header table lies outside the
    /// file, has the wrong entry size, or the section header table does.
    Malformed,
    /// There is no `PT_LOAD` segment with a non-zero memory size: nothing to run.
    NoLoadableSegment,
    /// More than [`MAXIMUM_LOAD_SEGMENTS`] loadable segments.
    TooManySegments,
    /// A segment's file bytes (`p_offset`, `p_filesz`) lie outside the file.
    SegmentFileRangeOutOfBounds,
    /// A segment has more file bytes than memory (`p_filesz > p_memsz`): the ELF rule is that
    /// memory is the file bytes followed by zeros, so this is a broken file.
    FileSizeAboveMemorySize,
    /// A segment's end (`p_vaddr + p_memsz`) overflows 64 bits.
    SegmentAddressOverflow,
    /// A segment reaches above [`USER_ADDRESS_LIMIT`], into addresses that user page tables
    /// (TTBR0_EL1) cannot map.
    SegmentInKernelHalf,
    /// Two segments overlap, or merely share a page. A page has one set of permissions and
    /// one frame, so two segments in one page would force the loader either to merge their
    /// permissions (giving one of them rights its linker did not ask for) or to let one
    /// overwrite the other.
    OverlappingSegments,
    /// A segment is both writable and executable. W^X holds for user space as well as for the
    /// kernel: code that can be rewritten turns any memory-safety bug into code injection, and
    /// no program of ours needs it.
    WritableAndExecutable,
    /// The entry point is not among the file bytes of an executable segment, so the first
    /// instruction would fault, run zeros or run data.
    EntryOutsideExecutableSegment,
    /// The entry point is not four-byte aligned: the first instruction fetch would take a
    /// PC alignment fault.
    EntryMisaligned,
}

impl fmt::Display for ProgramError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = match self {
            Self::NotElf => "not an ELF file",
            Self::NotLittleEndian64 => "not a 64-bit little-endian ELF file",
            Self::NotAarch64 => "not built for aarch64",
            Self::NotExecutable => "not a static executable (ET_EXEC)",
            Self::NeedsInterpreter => "dynamically linked (has PT_INTERP)",
            Self::Malformed => "malformed ELF headers",
            Self::NoLoadableSegment => "no loadable segment",
            Self::TooManySegments => "too many loadable segments",
            Self::SegmentFileRangeOutOfBounds => "a segment's file bytes lie outside the file",
            Self::FileSizeAboveMemorySize => "a segment has more file bytes than memory",
            Self::SegmentAddressOverflow => "a segment's end address overflows",
            Self::SegmentInKernelHalf => "a segment lies above the user address space",
            Self::OverlappingSegments => "two segments overlap or share a page",
            Self::WritableAndExecutable => "a segment is both writable and executable",
            Self::EntryOutsideExecutableSegment => {
                "the entry point is outside the executable segments"
            }
            Self::EntryMisaligned => "the entry point is not four-byte aligned",
        };
        write!(formatter, "program: {reason}")
    }
}

/// Why [`Initrd::find_program`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootModuleError {
    /// The archive is damaged.
    Initrd(InitrdError),
    /// No entry has that name.
    NotFound,
    /// The entry is a directory, a symbolic link or another non-file.
    NotARegularFile,
    /// The file is not a program the kernel can load.
    Program(ProgramError),
}

impl fmt::Display for BootModuleError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Initrd(error) => error.fmt(formatter),
            Self::NotFound => write!(formatter, "not in the initrd"),
            Self::NotARegularFile => write!(formatter, "not a regular file"),
            Self::Program(error) => error.fmt(formatter),
        }
    }
}

/// One range of user memory to set up: `memory_size` bytes at `virtual_address`, the first
/// `file_bytes.len()` of them copied from the file and the rest zero (the bss).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadSegment<'a> {
    /// Where the segment begins; not necessarily page-aligned.
    pub virtual_address: u64,
    /// How many bytes of memory it covers; at least `file_bytes.len()`, never zero.
    pub memory_size: u64,
    /// The bytes that begin it, borrowed from the ELF file.
    pub file_bytes: &'a [u8],
    /// Whether user code may read it.
    pub readable: bool,
    /// Whether user code may write it (never together with `executable`).
    pub writable: bool,
    /// Whether user code may execute it.
    pub executable: bool,
}

impl LoadSegment<'_> {
    /// A placeholder for the unused slots of a [`Program`].
    const UNUSED: LoadSegment<'static> = LoadSegment {
        virtual_address: 0,
        memory_size: 0,
        file_bytes: &[],
        readable: false,
        writable: false,
        executable: false,
    };

    /// The addresses the segment covers: `virtual_address..virtual_address + memory_size`.
    /// Exact for segments from [`parse_program`]; saturates for hand-made ones.
    pub fn address_range(&self) -> Range<u64> {
        self.virtual_address..self.virtual_address.saturating_add(self.memory_size)
    }

    /// The whole pages the segment touches, which the loader maps: its address range widened
    /// to page boundaries. Exact for segments from [`parse_program`], whose pages lie below
    /// [`USER_ADDRESS_LIMIT`] and are shared with no other segment; saturates for hand-made
    /// ones.
    pub fn page_range(&self) -> Range<u64> {
        let range = self.address_range();
        let first_page = range.start - range.start % PAGE_SIZE;
        let end_page = range.end.div_ceil(PAGE_SIZE).saturating_mul(PAGE_SIZE);
        first_page..end_page
    }

    /// How many bytes after the file bytes are to be zeroed.
    pub fn zero_fill_size(&self) -> u64 {
        let file_size = u64::try_from(self.file_bytes.len()).unwrap_or(u64::MAX);
        self.memory_size.saturating_sub(file_size)
    }
}

/// A static aarch64 ELF64 executable, checked and described for loading: where to start it
/// and which memory to set up. Borrows the file.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Program<'a> {
    /// The address of the first instruction; four-byte aligned and inside the file bytes of an
    /// executable segment.
    pub entry: u64,
    segments: [LoadSegment<'a>; MAXIMUM_LOAD_SEGMENTS],
    segment_count: usize,
}

impl<'a> Program<'a> {
    /// The loadable segments in ascending address order: at least one, none empty, none
    /// writable and executable, each below [`USER_ADDRESS_LIMIT`], no two sharing a page.
    pub fn segments(&self) -> &[LoadSegment<'a>] {
        self.segments.get(..self.segment_count).unwrap_or_default()
    }
}

impl fmt::Debug for Program<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Program")
            .field("entry", &format_args!("{:#x}", self.entry))
            .field("segments", &self.segments())
            .finish()
    }
}

/// Checks `elf` as a static aarch64 executable that the kernel can load at its link addresses
/// and describes it. Program headers other than `PT_LOAD` (notes, `PT_GNU_STACK`, `PT_TLS`,
/// `PT_GNU_RELRO`, …) are the program's own business and are ignored, except `PT_INTERP`,
/// which is refused. `p_align` and `p_paddr` are ignored too: the loader copies segment bytes
/// into fresh frames, so file offsets need not be congruent with addresses. `PT_LOAD` entries
/// need not be sorted (the ELF rule); a segment with no memory is skipped.
///
/// # Errors
/// The first [`ProgramError`] found: the file header first, then each program header in
/// table order, then the segments together (overlap), then the entry point.
pub fn parse_program(elf: &[u8]) -> Result<Program<'_>, ProgramError> {
    if elf.get(..elf::abi::ELFMAGIC.len()) != Some(elf::abi::ELFMAGIC.as_slice()) {
        return Err(ProgramError::NotElf);
    }
    if elf.get(EI_CLASS) != Some(&ELFCLASS64) || elf.get(EI_DATA) != Some(&ELFDATA2LSB) {
        return Err(ProgramError::NotLittleEndian64);
    }
    let file = ElfBytes::<LittleEndian>::minimal_parse(elf).map_err(|_| ProgramError::Malformed)?;
    if file.ehdr.e_machine != EM_AARCH64 {
        return Err(ProgramError::NotAarch64);
    }
    if file.ehdr.e_type != ET_EXEC {
        return Err(ProgramError::NotExecutable);
    }
    let table = file.segments().ok_or(ProgramError::NoLoadableSegment)?;

    let mut segments = [LoadSegment::UNUSED; MAXIMUM_LOAD_SEGMENTS];
    let mut segment_count = 0;
    for index in 0..table.len() {
        let header = table.get(index).map_err(|_| ProgramError::Malformed)?;
        match header.p_type {
            PT_INTERP => return Err(ProgramError::NeedsInterpreter),
            PT_LOAD => {}
            _ => continue,
        }
        let Some(segment) = describe_segment(elf, &header)? else {
            continue;
        };
        let slot = segments
            .get_mut(segment_count)
            .ok_or(ProgramError::TooManySegments)?;
        *slot = segment;
        segment_count += 1;
    }

    let loaded = segments
        .get_mut(..segment_count)
        .ok_or(ProgramError::TooManySegments)?;
    if loaded.is_empty() {
        return Err(ProgramError::NoLoadableSegment);
    }
    loaded.sort_unstable_by_key(|segment| segment.virtual_address);
    // Sorted by start, so two segments share a page exactly when one's last page reaches the
    // next one's first page.
    if loaded.windows(2).any(
        |pair| matches!(pair, [lower, upper] if lower.page_range().end > upper.page_range().start),
    ) {
        return Err(ProgramError::OverlappingSegments);
    }

    let entry = file.ehdr.e_entry;
    if entry % INSTRUCTION_ALIGNMENT != 0 {
        return Err(ProgramError::EntryMisaligned);
    }
    let entry_is_code = loaded.iter().any(|segment| {
        segment.executable
            && entry
                .checked_sub(segment.virtual_address)
                .and_then(|offset| usize::try_from(offset).ok())
                .is_some_and(|offset| offset < segment.file_bytes.len())
    });
    if !entry_is_code {
        return Err(ProgramError::EntryOutsideExecutableSegment);
    }

    Ok(Program {
        entry,
        segments,
        segment_count,
    })
}

/// Checks one `PT_LOAD` header on its own; `None` for a segment with no memory.
fn describe_segment<'a>(
    elf: &'a [u8],
    header: &ProgramHeader,
) -> Result<Option<LoadSegment<'a>>, ProgramError> {
    if header.p_filesz > header.p_memsz {
        return Err(ProgramError::FileSizeAboveMemorySize);
    }
    let out_of_bounds = ProgramError::SegmentFileRangeOutOfBounds;
    let file_start = usize::try_from(header.p_offset).map_err(|_| out_of_bounds)?;
    let file_size = usize::try_from(header.p_filesz).map_err(|_| out_of_bounds)?;
    let file_end = file_start.checked_add(file_size).ok_or(out_of_bounds)?;
    let file_bytes = elf.get(file_start..file_end).ok_or(out_of_bounds)?;

    let end = header
        .p_vaddr
        .checked_add(header.p_memsz)
        .ok_or(ProgramError::SegmentAddressOverflow)?;
    if end > USER_ADDRESS_LIMIT {
        return Err(ProgramError::SegmentInKernelHalf);
    }

    let writable = header.p_flags & PF_W != 0;
    let executable = header.p_flags & PF_X != 0;
    if writable && executable {
        return Err(ProgramError::WritableAndExecutable);
    }
    if header.p_memsz == 0 {
        return Ok(None);
    }
    Ok(Some(LoadSegment {
        virtual_address: header.p_vaddr,
        memory_size: header.p_memsz,
        file_bytes,
        readable: header.p_flags & PF_R != 0,
        writable,
        executable,
    }))
}
