//! Checks that a file is a static aarch64 ELF executable: what the OS server can start.
//!
//! The root filesystem's programs (busybox above all) come from outside the build: a Debian
//! package fetched by name, or a user's `EXTRA` directory. A wrong download (another
//! architecture, a dynamically linked build whose loader the image does not carry) would only
//! show up at boot as an `execve` failure deep inside the OS server, so `mkimage stage`
//! refuses it here instead, with a message that names the problem. "Static" means no
//! `PT_INTERP` program header: nothing has to be loaded before the program itself. Both
//! `ET_EXEC` and `ET_DYN` (static-pie) pass; what the server's loader accepts beyond that is
//! the server's policy, not this tool's.

use core::fmt;

use object::elf::{EM_AARCH64, ET_DYN, ET_EXEC, FileHeader64, PT_INTERP};
use object::read::elf::{FileHeader as _, ProgramHeader as _};
use object::{Endianness, FileKind};

/// Why a file is not a static aarch64 ELF executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutableError {
    /// The file is not ELF at all.
    NotElf,
    /// The file is 32-bit ELF.
    NotElf64,
    /// The file is big-endian.
    NotLittleEndian,
    /// The file is for another machine.
    NotAarch64 {
        /// `e_machine` as found.
        machine: u16,
    },
    /// The file is not an executable (a relocatable object, a core dump, ...).
    NotAnExecutable {
        /// `e_type` as found.
        file_type: u16,
    },
    /// The file names a program interpreter (`PT_INTERP`): it is dynamically linked.
    DynamicallyLinked,
    /// The headers cannot be read.
    Malformed {
        /// What the ELF reader said.
        reason: String,
    },
}

impl fmt::Display for ExecutableError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotElf => write!(formatter, "not an ELF file"),
            Self::NotElf64 => write!(formatter, "a 32-bit ELF file, not ELF64"),
            Self::NotLittleEndian => write!(formatter, "a big-endian ELF file"),
            Self::NotAarch64 { machine } => write!(
                formatter,
                "an ELF file for machine {machine}, not aarch64 ({})",
                EM_AARCH64.0
            ),
            Self::NotAnExecutable { file_type } => write!(
                formatter,
                "an ELF file of type {file_type}, not an executable (ET_EXEC or ET_DYN)"
            ),
            Self::DynamicallyLinked => write!(
                formatter,
                "dynamically linked (it has a PT_INTERP program header), not static"
            ),
            Self::Malformed { reason } => write!(formatter, "a malformed ELF file: {reason}"),
        }
    }
}

impl std::error::Error for ExecutableError {}

/// Checks that `bytes` are a little-endian ELF64 aarch64 executable without a program
/// interpreter.
///
/// # Errors
/// The first [`ExecutableError`] found, in the order of the variants.
pub fn check_static_aarch64(bytes: &[u8]) -> Result<(), ExecutableError> {
    match FileKind::parse(bytes) {
        Ok(FileKind::Elf64) => {}
        Ok(FileKind::Elf32) => return Err(ExecutableError::NotElf64),
        _ => return Err(ExecutableError::NotElf),
    }
    let malformed = |error: object::read::Error| ExecutableError::Malformed {
        reason: error.to_string(),
    };
    let header = FileHeader64::<Endianness>::parse(bytes).map_err(malformed)?;
    let endian = header.endian().map_err(malformed)?;
    if endian != Endianness::Little {
        return Err(ExecutableError::NotLittleEndian);
    }
    let machine = header.e_machine(endian);
    if machine != EM_AARCH64 {
        return Err(ExecutableError::NotAarch64 { machine: machine.0 });
    }
    let file_type = header.e_type(endian);
    if file_type != ET_EXEC && file_type != ET_DYN {
        return Err(ExecutableError::NotAnExecutable {
            file_type: file_type.0,
        });
    }
    let program_headers = header.program_headers(endian, bytes).map_err(malformed)?;
    if program_headers
        .iter()
        .any(|program_header| program_header.p_type(endian) == PT_INTERP)
    {
        return Err(ExecutableError::DynamicallyLinked);
    }
    Ok(())
}

/// Builds small ELF64 files for the tests of this crate.
#[cfg(test)]
pub(crate) mod test_files {
    use object::elf::{
        ELFCLASS64, ELFDATA2LSB, ELFMAG, ELFOSABI_NONE, EV_CURRENT, FileHeader64, FileType, Ident,
        Machine, PF_R, PF_X, PT_INTERP, PT_LOAD, ProgramHeader64,
    };
    use object::{LittleEndian, U16, U32, U64, bytes_of};

    const HEADER_SIZE: usize = size_of::<FileHeader64<LittleEndian>>();
    const PROGRAM_HEADER_SIZE: usize = size_of::<ProgramHeader64<LittleEndian>>();

    /// A little-endian ELF64 file of `machine` and `file_type` with one `PT_LOAD` segment
    /// (eight bytes of code) and, if `interpreter` is set, a `PT_INTERP` naming it.
    pub(crate) fn elf(machine: Machine, file_type: FileType, interpreter: Option<&str>) -> Vec<u8> {
        let endian = LittleEndian;
        let code = [0xd5_u8, 0x03, 0x20, 0x1f, 0xd5, 0x03, 0x20, 0x1f];
        let interpreter = interpreter.map(|path| format!("{path}\0").into_bytes());
        let segment_count = 1 + usize::from(interpreter.is_some());
        let contents_offset = HEADER_SIZE + PROGRAM_HEADER_SIZE * segment_count;
        let header = FileHeader64::<LittleEndian> {
            e_ident: Ident {
                magic: ELFMAG,
                class: ELFCLASS64,
                data: ELFDATA2LSB,
                version: EV_CURRENT,
                os_abi: ELFOSABI_NONE,
                abi_version: 0,
                padding: [0; 7],
            },
            e_type: U16::new(endian, file_type),
            e_machine: U16::new(endian, machine),
            e_version: U32::new(endian, EV_CURRENT.0.into()),
            e_entry: U64::new(endian, 0x40_0000 + contents_offset as u64),
            e_phoff: U64::new(endian, HEADER_SIZE as u64),
            e_shoff: U64::new(endian, 0),
            e_flags: U32::new(endian, object::elf::FileFlags(0)),
            e_ehsize: U16::new(endian, HEADER_SIZE as u16),
            e_phentsize: U16::new(endian, PROGRAM_HEADER_SIZE as u16),
            e_phnum: U16::new(endian, segment_count as u16),
            e_shentsize: U16::new(endian, 0),
            e_shnum: U16::new(endian, 0),
            e_shstrndx: U16::new(endian, object::elf::SymbolSection(0)),
        };
        let segment = |kind, flags, offset: usize, size: usize| ProgramHeader64::<LittleEndian> {
            p_type: U32::new(endian, kind),
            p_flags: U32::new(endian, flags),
            p_offset: U64::new(endian, offset as u64),
            p_vaddr: U64::new(endian, 0x40_0000 + offset as u64),
            p_paddr: U64::new(endian, 0x40_0000 + offset as u64),
            p_filesz: U64::new(endian, size as u64),
            p_memsz: U64::new(endian, size as u64),
            p_align: U64::new(endian, 1),
        };
        let mut file = bytes_of(&header).to_vec();
        file.extend_from_slice(bytes_of(&segment(
            PT_LOAD,
            PF_R | PF_X,
            contents_offset,
            code.len(),
        )));
        if let Some(interpreter) = &interpreter {
            let offset = contents_offset + code.len();
            file.extend_from_slice(bytes_of(&segment(
                PT_INTERP,
                PF_R,
                offset,
                interpreter.len(),
            )));
        }
        file.extend_from_slice(&code);
        file.extend_from_slice(interpreter.as_deref().unwrap_or_default());
        file
    }

    /// A static aarch64 `ET_EXEC` file: what busybox-static is.
    pub(crate) fn static_aarch64_executable() -> Vec<u8> {
        elf(object::elf::EM_AARCH64, object::elf::ET_EXEC, None)
    }
}

#[cfg(test)]
mod tests {
    use super::test_files::{elf, static_aarch64_executable};
    use super::*;
    use object::elf::{ELFCLASS32, EM_X86_64, ET_REL};

    #[test]
    fn a_static_aarch64_executable_passes() {
        assert_eq!(check_static_aarch64(&static_aarch64_executable()), Ok(()));
    }

    #[test]
    fn a_static_position_independent_executable_passes() {
        assert_eq!(check_static_aarch64(&elf(EM_AARCH64, ET_DYN, None)), Ok(()));
    }

    #[test]
    fn a_dynamically_linked_executable_is_refused() {
        let file = elf(EM_AARCH64, ET_EXEC, Some("/lib/ld-linux-aarch64.so.1"));
        assert_eq!(
            check_static_aarch64(&file),
            Err(ExecutableError::DynamicallyLinked)
        );
    }

    #[test]
    fn an_executable_for_another_machine_is_refused_naming_the_machine() {
        let error = check_static_aarch64(&elf(EM_X86_64, ET_EXEC, None)).expect_err("x86-64");
        assert_eq!(
            error,
            ExecutableError::NotAarch64 {
                machine: EM_X86_64.0
            }
        );
        assert!(error.to_string().contains("62"), "{error}");
    }

    #[test]
    fn a_relocatable_object_is_refused() {
        assert_eq!(
            check_static_aarch64(&elf(EM_AARCH64, ET_REL, None)),
            Err(ExecutableError::NotAnExecutable {
                file_type: ET_REL.0
            })
        );
    }

    #[test]
    fn text_and_32_bit_and_big_endian_files_are_refused() {
        assert_eq!(
            check_static_aarch64(b"#!/bin/sh\nexec /bin/sh\n"),
            Err(ExecutableError::NotElf)
        );
        let mut thirty_two_bit = static_aarch64_executable();
        thirty_two_bit[4] = ELFCLASS32.0;
        assert_eq!(
            check_static_aarch64(&thirty_two_bit),
            Err(ExecutableError::NotElf64)
        );
        let mut big_endian = static_aarch64_executable();
        big_endian[5] = object::elf::ELFDATA2MSB.0;
        assert_eq!(
            check_static_aarch64(&big_endian),
            Err(ExecutableError::NotLittleEndian)
        );
    }

    #[test]
    fn program_headers_past_the_end_of_the_file_are_malformed() {
        let mut file = static_aarch64_executable();
        file.truncate(70);
        assert!(
            matches!(
                check_static_aarch64(&file),
                Err(ExecutableError::Malformed { .. })
            ),
            "{:?}",
            check_static_aarch64(&file)
        );
    }
}
