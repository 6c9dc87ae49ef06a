//! The auxiliary vector and the initial process stack a Linux program starts with.
//!
//! A static musl program reads argc, argv, envp and the auxiliary vector from its stack
//! pointer at entry, and finds its program headers (for TLS), page size and the 16 random
//! bytes (for the stack protector canary) there. The server must lay that stack out as
//! `fs/binfmt_elf.c` (`create_elf_tables`) and `fs/exec.c` do, so the layout is a pure
//! function here, tested by parsing it back. Keys are from `linux/auxvec.h` and the arm64
//! `asm/auxvec.h`.

/// `AT_NULL`: ends the vector.
pub const AT_NULL: u64 = 0;
/// `AT_IGNORE`: an entry to skip.
pub const AT_IGNORE: u64 = 1;
/// `AT_PHDR`: address of the program headers.
pub const AT_PHDR: u64 = 3;
/// `AT_PHENT`: size of one program header (56 for ELF64).
pub const AT_PHENT: u64 = 4;
/// `AT_PHNUM`: number of program headers.
pub const AT_PHNUM: u64 = 5;
/// `AT_PAGESZ`: the page size.
pub const AT_PAGESZ: u64 = 6;
/// `AT_BASE`: the interpreter's load address (0 for a static program).
pub const AT_BASE: u64 = 7;
/// `AT_FLAGS`.
pub const AT_FLAGS: u64 = 8;
/// `AT_ENTRY`: the program's entry point.
pub const AT_ENTRY: u64 = 9;
/// `AT_UID`.
pub const AT_UID: u64 = 11;
/// `AT_EUID`.
pub const AT_EUID: u64 = 12;
/// `AT_GID`.
pub const AT_GID: u64 = 13;
/// `AT_EGID`.
pub const AT_EGID: u64 = 14;
/// `AT_PLATFORM`: address of the platform string.
pub const AT_PLATFORM: u64 = 15;
/// `AT_HWCAP`: CPU capability bits.
pub const AT_HWCAP: u64 = 16;
/// `AT_CLKTCK`: the `times` tick rate (100).
pub const AT_CLKTCK: u64 = 17;
/// `AT_SECURE`: nonzero for a set-ID program.
pub const AT_SECURE: u64 = 23;
/// `AT_RANDOM`: address of 16 random bytes.
pub const AT_RANDOM: u64 = 25;
/// `AT_HWCAP2`: more CPU capability bits.
pub const AT_HWCAP2: u64 = 26;
/// `AT_EXECFN`: address of the executed file name.
pub const AT_EXECFN: u64 = 31;
/// `AT_SYSINFO_EHDR` (arm64): address of the vDSO.
pub const AT_SYSINFO_EHDR: u64 = 33;
/// `AT_MINSIGSTKSZ` (arm64): the stack a signal frame needs.
pub const AT_MINSIGSTKSZ: u64 = 51;

/// Where [`build_initial_stack`] put things, as client addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InitialStack {
    /// The stack pointer to start the program with; it points at argc and is 16-aligned.
    pub sp: u64,
    /// Bytes used, from `sp` to the top.
    pub used: usize,
    /// The argument count stored at `sp`.
    pub argc: u64,
    /// The argv array (`sp + 8`).
    pub argv_address: u64,
    /// The envp array.
    pub envp_address: u64,
    /// The auxiliary vector.
    pub auxv_address: u64,
    /// The 16 random bytes (`AT_RANDOM`).
    pub random_address: u64,
    /// The executed file name (`AT_EXECFN`).
    pub execfn_address: u64,
    /// Where the argument strings start (`argv[0]`); the environment strings follow them.
    pub strings_address: u64,
}

/// Why the initial stack could not be laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackError {
    /// The top of the stack is not 16-byte aligned.
    MisalignedTop,
    /// The stack needs `needed` bytes below the top; the buffer is smaller (`E2BIG`).
    BufferTooSmall {
        /// Bytes needed from the stack pointer to the top.
        needed: u64,
    },
    /// An argument, environment string or the file name contains a NUL byte.
    StringContainsNul,
    /// The caller passed `AT_NULL`, `AT_RANDOM` or `AT_EXECFN`, which this function adds.
    ReservedAuxiliaryKey(u64),
    /// Addresses would wrap around.
    AddressOverflow,
}

/// Lays out the initial stack of a new program in `buffer`, which holds the client
/// memory just below `top` (`buffer[buffer.len() - 1]` is the byte at `top - 1`).
///
/// From the top down, as Linux does: a zero word, the file name, the environment strings,
/// the argument strings (so `argv[0]` is lowest and the strings are contiguous), then,
/// 16-aligned, the 16 random bytes, then argc, the argv pointers and NULL, the envp
/// pointers and NULL, and the auxiliary vector: `auxv`, then `AT_RANDOM`, `AT_EXECFN`
/// and `AT_NULL`. The stack pointer is 16-aligned. Everything from the stack pointer to the
/// top is written, padding as zero; bytes below it are untouched.
pub fn build_initial_stack(
    top: u64,
    buffer: &mut [u8],
    argv: &[&[u8]],
    envp: &[&[u8]],
    auxv: &[(u64, u64)],
    random: [u8; 16],
    execfn: &[u8],
) -> Result<InitialStack, StackError> {
    if !top.is_multiple_of(16) {
        return Err(StackError::MisalignedTop);
    }
    let strings = || {
        argv.iter()
            .chain(envp.iter())
            .chain(core::iter::once(&execfn))
    };
    if strings().any(|string| string.contains(&0)) {
        return Err(StackError::StringContainsNul);
    }
    if let Some(&(key, _)) = auxv
        .iter()
        .find(|(key, _)| matches!(*key, AT_NULL | AT_RANDOM | AT_EXECFN))
    {
        return Err(StackError::ReservedAuxiliaryKey(key));
    }

    // Measure first, in u64 with checks, so nothing is written unless it all fits.
    let mut string_bytes: u64 = 8;
    for string in strings() {
        string_bytes = add(add(string_bytes, length(string.len())?)?, 1)?;
    }
    let strings_address = top
        .checked_sub(string_bytes)
        .ok_or(StackError::AddressOverflow)?;
    let random_address = (strings_address & !15)
        .checked_sub(16)
        .ok_or(StackError::AddressOverflow)?;
    let auxiliary_words = multiply(add(length(auxv.len())?, 3)?, 2)?;
    let words = add(add(length(argv.len())?, length(envp.len())?)?, 3)?;
    let table_bytes = multiply(add(words, auxiliary_words)?, 8)?;
    let sp = random_address
        .checked_sub(table_bytes)
        .ok_or(StackError::AddressOverflow)?
        & !15;
    let needed = top - sp;
    let base = top
        .checked_sub(length(buffer.len())?)
        .ok_or(StackError::AddressOverflow)?;
    if base > sp {
        return Err(StackError::BufferTooSmall { needed });
    }

    // Everything fits between base and top: write it, lowest string first.
    let mut memory = StackMemory {
        base,
        bytes: buffer,
    };
    memory.zero_from(sp);
    memory.write_bytes(random_address, &random);
    let argv_address = sp + 8;
    let envp_address = argv_address + (argv.len() as u64 + 1) * 8;
    let auxv_address = envp_address + (envp.len() as u64 + 1) * 8;
    memory.write_word(sp, argv.len() as u64);
    let mut string_address = strings_address;
    for (index, string) in argv.iter().chain(envp.iter()).enumerate() {
        let pointer_address = if index < argv.len() {
            argv_address + index as u64 * 8
        } else {
            envp_address + (index - argv.len()) as u64 * 8
        };
        memory.write_word(pointer_address, string_address);
        memory.write_bytes(string_address, string);
        string_address += string.len() as u64 + 1;
    }
    let execfn_address = string_address;
    memory.write_bytes(execfn_address, execfn);
    let appended = [
        (AT_RANDOM, random_address),
        (AT_EXECFN, execfn_address),
        (AT_NULL, 0),
    ];
    for (index, &(key, value)) in auxv.iter().chain(appended.iter()).enumerate() {
        let entry_address = auxv_address + index as u64 * 16;
        memory.write_word(entry_address, key);
        memory.write_word(entry_address + 8, value);
    }

    Ok(InitialStack {
        sp,
        used: usize::try_from(needed).map_err(|_| StackError::AddressOverflow)?,
        argc: argv.len() as u64,
        argv_address,
        envp_address,
        auxv_address,
        random_address,
        execfn_address,
        strings_address,
    })
}

fn length(length: usize) -> Result<u64, StackError> {
    u64::try_from(length).map_err(|_| StackError::AddressOverflow)
}

fn add(left: u64, right: u64) -> Result<u64, StackError> {
    left.checked_add(right).ok_or(StackError::AddressOverflow)
}

fn multiply(left: u64, right: u64) -> Result<u64, StackError> {
    left.checked_mul(right).ok_or(StackError::AddressOverflow)
}

/// The buffer seen through client addresses; callers only pass addresses in
/// `base..base + bytes.len()`, which [`build_initial_stack`] checked.
struct StackMemory<'buffer> {
    base: u64,
    bytes: &'buffer mut [u8],
}

impl StackMemory<'_> {
    fn index(&self, address: u64) -> usize {
        (address - self.base) as usize
    }

    fn zero_from(&mut self, address: u64) {
        let start = self.index(address);
        self.bytes[start..].fill(0);
    }

    fn write_bytes(&mut self, address: u64, data: &[u8]) {
        let start = self.index(address);
        self.bytes[start..start + data.len()].copy_from_slice(data);
    }

    fn write_word(&mut self, address: u64, value: u64) {
        self.write_bytes(address, &value.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOP: u64 = 0x0000_8000_0000_0000;

    /// Reads the stack back the way musl's `__libc_start_main` and `__init_libc` do.
    struct Parsed {
        arguments: Vec<Vec<u8>>,
        environment: Vec<Vec<u8>>,
        auxiliary: Vec<(u64, u64)>,
    }

    fn word(buffer: &[u8], address: u64) -> u64 {
        let index = (address - (TOP - buffer.len() as u64)) as usize;
        u64::from_le_bytes(buffer[index..index + 8].try_into().unwrap())
    }

    fn string(buffer: &[u8], address: u64) -> Vec<u8> {
        let index = (address - (TOP - buffer.len() as u64)) as usize;
        let length = buffer[index..].iter().position(|&byte| byte == 0).unwrap();
        buffer[index..index + length].to_vec()
    }

    fn parse(buffer: &[u8], sp: u64) -> Parsed {
        let argc = word(buffer, sp);
        let mut address = sp + 8;
        let mut arguments = Vec::new();
        for _ in 0..argc {
            arguments.push(string(buffer, word(buffer, address)));
            address += 8;
        }
        assert_eq!(word(buffer, address), 0, "argv ends with NULL");
        address += 8;
        let mut environment = Vec::new();
        while word(buffer, address) != 0 {
            environment.push(string(buffer, word(buffer, address)));
            address += 8;
        }
        address += 8;
        let mut auxiliary = Vec::new();
        loop {
            let entry = (word(buffer, address), word(buffer, address + 8));
            auxiliary.push(entry);
            address += 16;
            if entry.0 == AT_NULL {
                break;
            }
        }
        Parsed {
            arguments,
            environment,
            auxiliary,
        }
    }

    fn auxiliary_value(parsed: &Parsed, key: u64) -> u64 {
        parsed
            .auxiliary
            .iter()
            .find(|entry| entry.0 == key)
            .unwrap()
            .1
    }

    #[test]
    fn the_initial_stack_parses_back_to_what_was_given() {
        let mut buffer = vec![0xcc; 4096];
        let random = *b"0123456789abcdef";
        let auxiliary = [
            (AT_PHDR, 0x40_0040),
            (AT_PHENT, 56),
            (AT_PHNUM, 4),
            (AT_PAGESZ, 4096),
        ];
        let stack = build_initial_stack(
            TOP,
            &mut buffer,
            &[b"/bin/sh", b"-c", b"echo hi"],
            &[b"PATH=/bin", b"HOME=/"],
            &auxiliary,
            random,
            b"/bin/busybox",
        )
        .unwrap();

        assert_eq!(stack.sp % 16, 0);
        assert_eq!(stack.used as u64, TOP - stack.sp);
        assert_eq!(stack.argc, 3);
        assert_eq!(stack.argv_address, stack.sp + 8);
        assert_eq!(stack.envp_address, stack.argv_address + 4 * 8);
        assert_eq!(stack.auxv_address, stack.envp_address + 3 * 8);

        let parsed = parse(&buffer, stack.sp);
        assert_eq!(parsed.arguments, [&b"/bin/sh"[..], b"-c", b"echo hi"]);
        assert_eq!(parsed.environment, [&b"PATH=/bin"[..], b"HOME=/"]);
        assert_eq!(&parsed.auxiliary[..4], &auxiliary);
        assert_eq!(parsed.auxiliary.len(), 7);
        assert_eq!(parsed.auxiliary.last(), Some(&(AT_NULL, 0)));

        let random_address = auxiliary_value(&parsed, AT_RANDOM);
        assert_eq!(random_address, stack.random_address);
        let index = (random_address - (TOP - 4096)) as usize;
        assert_eq!(buffer[index..index + 16], random);
        assert_eq!(
            string(&buffer, auxiliary_value(&parsed, AT_EXECFN)),
            b"/bin/busybox"
        );
        assert_eq!(string(&buffer, stack.strings_address), b"/bin/sh");
        assert_eq!(word(&buffer, TOP - 8), 0, "the top word stays zero");
        assert!(
            buffer[..buffer.len() - stack.used]
                .iter()
                .all(|&byte| byte == 0xcc)
        );
    }

    #[test]
    fn the_strings_are_contiguous_from_argv_zero_to_the_file_name() {
        let mut buffer = [0; 512];
        let stack = build_initial_stack(
            TOP,
            &mut buffer,
            &[b"a", b"bc"],
            &[b"d=e"],
            &[],
            [0; 16],
            b"/f",
        )
        .unwrap();
        let start = (stack.strings_address - (TOP - 512)) as usize;
        assert_eq!(&buffer[start..], b"a\0bc\0d=e\0/f\0\0\0\0\0\0\0\0\0");
        assert_eq!(stack.execfn_address, TOP - 8 - 3);
    }

    #[test]
    fn an_empty_program_still_gets_a_complete_aligned_stack() {
        let mut buffer = [0; 256];
        let stack = build_initial_stack(TOP, &mut buffer, &[], &[], &[], [7; 16], b"").unwrap();
        assert_eq!(stack.sp % 16, 0);
        let parsed = parse(&buffer, stack.sp);
        assert!(parsed.arguments.is_empty() && parsed.environment.is_empty());
        assert_eq!(parsed.auxiliary.len(), 3);
    }

    #[test]
    fn a_stack_that_does_not_fit_is_refused_without_writing() {
        let mut buffer = [0x55; 64];
        let result = build_initial_stack(TOP, &mut buffer, &[b"x"], &[], &[], [0; 16], b"/x");
        assert!(matches!(result, Err(StackError::BufferTooSmall { needed }) if needed > 64));
        assert!(buffer.iter().all(|&byte| byte == 0x55));
    }

    #[test]
    fn bad_inputs_are_refused() {
        let mut buffer = [0; 512];
        assert_eq!(
            build_initial_stack(TOP - 8, &mut buffer, &[], &[], &[], [0; 16], b""),
            Err(StackError::MisalignedTop)
        );
        assert_eq!(
            build_initial_stack(TOP, &mut buffer, &[b"a\0b"], &[], &[], [0; 16], b""),
            Err(StackError::StringContainsNul)
        );
        assert_eq!(
            build_initial_stack(TOP, &mut buffer, &[], &[], &[(AT_RANDOM, 1)], [0; 16], b""),
            Err(StackError::ReservedAuxiliaryKey(AT_RANDOM))
        );
        assert_eq!(
            build_initial_stack(64, &mut buffer, &[], &[], &[], [0; 16], b""),
            Err(StackError::AddressOverflow)
        );
    }

    #[test]
    fn auxiliary_keys_match_the_headers() {
        let keys = [
            (AT_NULL, 0),
            (AT_PHDR, 3),
            (AT_PHENT, 4),
            (AT_PHNUM, 5),
            (AT_PAGESZ, 6),
            (AT_BASE, 7),
            (AT_FLAGS, 8),
            (AT_ENTRY, 9),
            (AT_UID, 11),
            (AT_EUID, 12),
            (AT_GID, 13),
            (AT_EGID, 14),
            (AT_PLATFORM, 15),
            (AT_HWCAP, 16),
            (AT_CLKTCK, 17),
            (AT_SECURE, 23),
            (AT_RANDOM, 25),
            (AT_HWCAP2, 26),
            (AT_EXECFN, 31),
            (AT_SYSINFO_EHDR, 33),
            (AT_MINSIGSTKSZ, 51),
        ];
        for (key, value) in keys {
            assert_eq!(key, value);
        }
    }
}
