//! The structures the personality copies to and from client memory, laid out exactly as
//! aarch64 Linux lays them out, with their byte encodings.
//!
//! Each structure is `#[repr(C)]` with compile-time asserts of its size and field offsets
//! against the kernel's (`asm-generic/stat.h`, `linux/time_types.h`, `linux/utsname.h`,
//! `linux/uio.h`, `asm-generic/termbits.h`, `asm-generic/termios.h`,
//! `linux/resource.h`, `asm-generic/signal.h`, and `linux_dirent64` from `fs/readdir.c`).
//! The server forbids unsafe code, so it cannot reinterpret a structure as bytes; instead
//! `to_bytes` and `from_bytes` encode each field little-endian at the asserted offset,
//! padding zeroed, which is what user memory holds on aarch64 Linux.

use core::mem::{offset_of, size_of};

use crate::signal::SignalSet;

/// A value with a fixed little-endian encoding at some offset of a structure.
trait Field: Sized {
    fn write(&self, bytes: &mut [u8]);
    fn read(bytes: &[u8]) -> Self;
}

macro_rules! integer_fields {
    ($($type:ty),*) => {
        $(impl Field for $type {
            fn write(&self, bytes: &mut [u8]) {
                bytes[..size_of::<$type>()].copy_from_slice(&self.to_le_bytes());
            }
            fn read(bytes: &[u8]) -> Self {
                let mut raw = [0; size_of::<$type>()];
                raw.copy_from_slice(&bytes[..size_of::<$type>()]);
                <$type>::from_le_bytes(raw)
            }
        })*
    };
}

integer_fields!(u8, u16, u32, u64, i32, i64);

impl<const LENGTH: usize> Field for [u8; LENGTH] {
    fn write(&self, bytes: &mut [u8]) {
        bytes[..LENGTH].copy_from_slice(self);
    }
    fn read(bytes: &[u8]) -> Self {
        let mut raw = [0; LENGTH];
        raw.copy_from_slice(&bytes[..LENGTH]);
        raw
    }
}

impl Field for SignalSet {
    fn write(&self, bytes: &mut [u8]) {
        self.0.write(bytes);
    }
    fn read(bytes: &[u8]) -> Self {
        SignalSet(u64::read(bytes))
    }
}

/// Gives a structure `SIZE`, `to_bytes` and `from_bytes` from its list of fields; padding
/// not covered by a field encodes as zero.
macro_rules! byte_encoding {
    ($type:ident { $($field:ident),* $(,)? }) => {
        impl $type {
            /// The size in bytes, as the kernel's structure.
            pub const SIZE: usize = size_of::<$type>();

            /// The bytes of the structure as aarch64 Linux stores it.
            pub fn to_bytes(&self) -> [u8; Self::SIZE] {
                let mut bytes = [0; Self::SIZE];
                $(Field::write(&self.$field, &mut bytes[offset_of!($type, $field)..]);)*
                bytes
            }

            /// Reads the structure back from its bytes.
            pub fn from_bytes(bytes: &[u8; Self::SIZE]) -> Self {
                $type { $($field: Field::read(&bytes[offset_of!($type, $field)..]),)* }
            }
        }

        impl Field for $type {
            fn write(&self, bytes: &mut [u8]) {
                bytes[..Self::SIZE].copy_from_slice(&self.to_bytes());
            }
            fn read(bytes: &[u8]) -> Self {
                let mut raw = [0; Self::SIZE];
                raw.copy_from_slice(&bytes[..Self::SIZE]);
                Self::from_bytes(&raw)
            }
        }
    };
}

/// `struct __kernel_timespec` (`nanosleep`, `clock_gettime`, `ppoll`, `utimensat`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Timespec {
    /// `tv_sec`.
    pub seconds: i64,
    /// `tv_nsec`, in `0..1_000_000_000`.
    pub nanoseconds: i64,
}
byte_encoding!(Timespec {
    seconds,
    nanoseconds
});

/// `struct timeval` on a 64-bit kernel (`gettimeofday`, `struct rusage`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Timeval {
    /// `tv_sec`.
    pub seconds: i64,
    /// `tv_usec`, in `0..1_000_000`.
    pub microseconds: i64,
}
byte_encoding!(Timeval {
    seconds,
    microseconds
});

/// The generic `struct stat` that arm64 uses for `fstat` and `newfstatat`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Stat {
    /// `st_dev`: the device holding the file.
    pub device: u64,
    /// `st_ino`.
    pub inode: u64,
    /// `st_mode`: type and permission bits ([`crate::file::S_IFMT`]).
    pub mode: u32,
    /// `st_nlink`.
    pub link_count: u32,
    /// `st_uid`.
    pub user_id: u32,
    /// `st_gid`.
    pub group_id: u32,
    /// `st_rdev`: the device a device file stands for.
    pub special_device: u64,
    /// `__pad1`.
    pub reserved_1: u64,
    /// `st_size`.
    pub size: i64,
    /// `st_blksize`.
    pub block_size: i32,
    /// `__pad2`.
    pub reserved_2: i32,
    /// `st_blocks`, in 512-byte units.
    pub blocks: i64,
    /// `st_atime`, `st_atime_nsec`.
    pub access_time: Timespec,
    /// `st_mtime`, `st_mtime_nsec`.
    pub modification_time: Timespec,
    /// `st_ctime`, `st_ctime_nsec`.
    pub change_time: Timespec,
    /// `__unused4`, `__unused5`.
    pub reserved_3: [u8; 8],
}
byte_encoding!(Stat {
    device,
    inode,
    mode,
    link_count,
    user_id,
    group_id,
    special_device,
    reserved_1,
    size,
    block_size,
    reserved_2,
    blocks,
    access_time,
    modification_time,
    change_time,
    reserved_3,
});

/// The length of each `uname` field including its NUL, `__NEW_UTS_LEN + 1`.
pub const UTS_FIELD_LENGTH: usize = 65;

/// `struct new_utsname`, what `uname` fills in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct UtsName {
    /// `sysname` (`"Linux"`).
    pub system_name: [u8; UTS_FIELD_LENGTH],
    /// `nodename`.
    pub node_name: [u8; UTS_FIELD_LENGTH],
    /// `release`.
    pub release: [u8; UTS_FIELD_LENGTH],
    /// `version`.
    pub version: [u8; UTS_FIELD_LENGTH],
    /// `machine` (`"aarch64"`).
    pub machine: [u8; UTS_FIELD_LENGTH],
    /// `domainname`.
    pub domain_name: [u8; UTS_FIELD_LENGTH],
}
byte_encoding!(UtsName {
    system_name,
    node_name,
    release,
    version,
    machine,
    domain_name
});

impl UtsName {
    /// A field holding `text`, cut to 64 bytes and NUL-padded.
    pub const fn field(text: &[u8]) -> [u8; UTS_FIELD_LENGTH] {
        let mut field = [0; UTS_FIELD_LENGTH];
        let mut index = 0;
        while index < text.len() && index < UTS_FIELD_LENGTH - 1 {
            field[index] = text[index];
            index += 1;
        }
        field
    }
}

/// `struct iovec` (`readv`, `writev`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Iovec {
    /// `iov_base`: the client address.
    pub base: u64,
    /// `iov_len`.
    pub length: u64,
}
byte_encoding!(Iovec { base, length });

/// The kernel's `struct termios`, what `TCGETS` and `TCSETS*` copy (not glibc's larger one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Termios {
    /// `c_iflag`.
    pub input_flags: u32,
    /// `c_oflag`.
    pub output_flags: u32,
    /// `c_cflag`.
    pub control_flags: u32,
    /// `c_lflag`.
    pub local_flags: u32,
    /// `c_line`.
    pub line_discipline: u8,
    /// `c_cc`, indexed by [`crate::terminal::VINTR`] and friends.
    pub control_characters: [u8; crate::terminal::NCCS],
}
byte_encoding!(Termios {
    input_flags,
    output_flags,
    control_flags,
    local_flags,
    line_discipline,
    control_characters,
});

/// `struct winsize` (`TIOCGWINSZ`, `TIOCSWINSZ`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Winsize {
    /// `ws_row`.
    pub rows: u16,
    /// `ws_col`.
    pub columns: u16,
    /// `ws_xpixel`.
    pub width_pixels: u16,
    /// `ws_ypixel`.
    pub height_pixels: u16,
}
byte_encoding!(Winsize {
    rows,
    columns,
    width_pixels,
    height_pixels
});

/// `struct rlimit` (`getrlimit`, `prlimit64`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Rlimit {
    /// `rlim_cur`, or [`crate::process::RLIM_INFINITY`].
    pub current: u64,
    /// `rlim_max`.
    pub maximum: u64,
}
byte_encoding!(Rlimit { current, maximum });

/// The kernel's `struct sigaction` on arm64, what `rt_sigaction` copies: unlike the C
/// library's, the mask comes last and `sa_restorer` is present.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct SigAction {
    /// `sa_handler`: a client address, [`crate::signal::SIG_DFL`] or `SIG_IGN`.
    pub handler: u64,
    /// `sa_flags` ([`crate::signal::SA_SIGINFO`] and friends).
    pub flags: u64,
    /// `sa_restorer`: where the handler returns to when `SA_RESTORER` is set.
    pub restorer: u64,
    /// `sa_mask`: signals blocked while the handler runs.
    pub mask: SignalSet,
}
byte_encoding!(SigAction {
    handler,
    flags,
    restorer,
    mask
});

/// The fixed head of a `struct linux_dirent64` record as `getdents64` returns it; the
/// NUL-terminated name follows at [`DIRENT64_NAME_OFFSET`], not at the end of this
/// (padded) structure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Dirent64Header {
    /// `d_ino`.
    pub inode: u64,
    /// `d_off`: the position to seek to for the next entry.
    pub offset: i64,
    /// `d_reclen`: the whole record's length, a multiple of 8.
    pub record_length: u16,
    /// `d_type` ([`crate::file::DT_REG`] and friends).
    pub entry_type: u8,
}

/// Where `d_name` starts in a `linux_dirent64` record.
pub const DIRENT64_NAME_OFFSET: usize = 19;

/// Why a directory entry could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirentError {
    /// The record needs this many bytes and the buffer has fewer: `getdents64` returns
    /// the entries so far, or `EINVAL` if this is the first.
    BufferTooSmall {
        /// The record length.
        needed: usize,
    },
    /// The name is empty, contains a NUL, or makes the record longer than `d_reclen`
    /// can say.
    InvalidName,
}

/// The length of the record for a name of `name_length` bytes: header, name, NUL, rounded
/// up to 8 as `fs/readdir.c` does.
pub const fn dirent64_record_length(name_length: usize) -> usize {
    (DIRENT64_NAME_OFFSET + name_length + 1).next_multiple_of(8)
}

/// Writes one `getdents64` record at the start of `buffer` and returns its length.
/// Padding after the name's NUL is zeroed.
pub fn write_dirent64(
    buffer: &mut [u8],
    inode: u64,
    offset: i64,
    entry_type: u8,
    name: &[u8],
) -> Result<usize, DirentError> {
    if name.is_empty() || name.contains(&0) {
        return Err(DirentError::InvalidName);
    }
    let length = dirent64_record_length(name.len());
    let record_length = u16::try_from(length).map_err(|_| DirentError::InvalidName)?;
    let record = buffer
        .get_mut(..length)
        .ok_or(DirentError::BufferTooSmall { needed: length })?;
    record.fill(0);
    record[0..8].copy_from_slice(&inode.to_le_bytes());
    record[8..16].copy_from_slice(&offset.to_le_bytes());
    record[16..18].copy_from_slice(&record_length.to_le_bytes());
    record[18] = entry_type;
    record[DIRENT64_NAME_OFFSET..DIRENT64_NAME_OFFSET + name.len()].copy_from_slice(name);
    Ok(length)
}

/// Reads the record at the start of `buffer`: its header and name (without the NUL), or
/// `None` if the bytes are not a well-formed record.
pub fn read_dirent64(buffer: &[u8]) -> Option<(Dirent64Header, &[u8])> {
    let head = buffer.get(..DIRENT64_NAME_OFFSET)?;
    let record_length = u16::read(&head[16..]);
    let record = buffer.get(..usize::from(record_length))?;
    let name_area = record.get(DIRENT64_NAME_OFFSET..)?;
    let name_length = name_area.iter().position(|&byte| byte == 0)?;
    let header = Dirent64Header {
        inode: u64::read(head),
        offset: i64::read(&head[8..]),
        record_length,
        entry_type: head[18],
    };
    Some((header, &name_area[..name_length]))
}

/// Asserts a structure's size and field offsets at compile time.
macro_rules! assert_layout {
    ($type:ident, $size:literal, { $($field:ident: $offset:literal),* $(,)? }) => {
        const _: () = assert!(size_of::<$type>() == $size);
        $(const _: () = assert!(offset_of!($type, $field) == $offset);)*
    };
}

assert_layout!(Timespec, 16, { seconds: 0, nanoseconds: 8 });
assert_layout!(Timeval, 16, { seconds: 0, microseconds: 8 });
assert_layout!(Stat, 128, {
    device: 0,
    inode: 8,
    mode: 16,
    link_count: 20,
    user_id: 24,
    group_id: 28,
    special_device: 32,
    reserved_1: 40,
    size: 48,
    block_size: 56,
    reserved_2: 60,
    blocks: 64,
    access_time: 72,
    modification_time: 88,
    change_time: 104,
    reserved_3: 120,
});
assert_layout!(UtsName, 390, {
    system_name: 0,
    node_name: 65,
    release: 130,
    version: 195,
    machine: 260,
    domain_name: 325,
});
assert_layout!(Iovec, 16, { base: 0, length: 8 });
assert_layout!(Termios, 36, {
    input_flags: 0,
    output_flags: 4,
    control_flags: 8,
    local_flags: 12,
    line_discipline: 16,
    control_characters: 17,
});
assert_layout!(Winsize, 8, { rows: 0, columns: 2, width_pixels: 4, height_pixels: 6 });
assert_layout!(Rlimit, 16, { current: 0, maximum: 8 });
assert_layout!(SigAction, 32, { handler: 0, flags: 8, restorer: 16, mask: 24 });
assert_layout!(Dirent64Header, 24, { inode: 0, offset: 8, record_length: 16, entry_type: 18 });

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::{DT_DIR, DT_REG, S_IFREG};
    use crate::signal::{SA_RESTORER, SA_SIGINFO, Signal};
    use crate::terminal::{ICANON, NCCS, VMIN};

    #[test]
    fn structures_have_the_sizes_aarch64_linux_gives_them() {
        assert_eq!(Stat::SIZE, 128);
        assert_eq!(Timespec::SIZE, 16);
        assert_eq!(Timeval::SIZE, 16);
        assert_eq!(UtsName::SIZE, 6 * 65);
        assert_eq!(Iovec::SIZE, 16);
        assert_eq!(Termios::SIZE, 36);
        assert_eq!(NCCS, 19);
        assert_eq!(Winsize::SIZE, 8);
        assert_eq!(Rlimit::SIZE, 16);
        assert_eq!(SigAction::SIZE, 32);
        assert_eq!(
            offset_of!(Dirent64Header, entry_type) + 1,
            DIRENT64_NAME_OFFSET
        );
    }

    #[test]
    fn stat_fields_are_encoded_at_the_generic_offsets() {
        let stat = Stat {
            device: 0x0102,
            inode: 42,
            mode: S_IFREG | 0o644,
            link_count: 1,
            user_id: 1000,
            group_id: 100,
            size: 0x1234,
            block_size: 4096,
            blocks: 8,
            access_time: Timespec {
                seconds: 1,
                nanoseconds: 2,
            },
            modification_time: Timespec {
                seconds: 3,
                nanoseconds: 4,
            },
            change_time: Timespec {
                seconds: 5,
                nanoseconds: 6,
            },
            ..Stat::default()
        };
        let bytes = stat.to_bytes();
        assert_eq!(bytes[0..8], 0x0102u64.to_le_bytes());
        assert_eq!(bytes[8..16], 42u64.to_le_bytes());
        assert_eq!(bytes[16..20], (S_IFREG | 0o644).to_le_bytes());
        assert_eq!(bytes[24..28], 1000u32.to_le_bytes());
        assert_eq!(bytes[48..56], 0x1234i64.to_le_bytes());
        assert_eq!(bytes[56..60], 4096i32.to_le_bytes());
        assert_eq!(bytes[64..72], 8i64.to_le_bytes());
        assert_eq!(bytes[72..80], 1i64.to_le_bytes());
        assert_eq!(bytes[80..88], 2i64.to_le_bytes());
        assert_eq!(bytes[104..112], 5i64.to_le_bytes());
        assert_eq!(bytes[112..120], 6i64.to_le_bytes());
        assert_eq!(Stat::from_bytes(&bytes), stat);
    }

    #[test]
    fn every_structure_reads_back_what_it_wrote() {
        let termios = Termios {
            local_flags: ICANON,
            control_characters: {
                let mut characters = [0; NCCS];
                characters[VMIN] = 1;
                characters[NCCS - 1] = 0x7f;
                characters
            },
            ..Termios::default()
        };
        let bytes = termios.to_bytes();
        assert_eq!(bytes[12..16], ICANON.to_le_bytes());
        assert_eq!(bytes[17 + VMIN], 1);
        assert_eq!(bytes[35], 0x7f);
        assert_eq!(Termios::from_bytes(&bytes), termios);

        let window = Winsize {
            rows: 24,
            columns: 80,
            width_pixels: 0,
            height_pixels: 0,
        };
        assert_eq!(window.to_bytes(), [24, 0, 80, 0, 0, 0, 0, 0]);
        assert_eq!(Winsize::from_bytes(&window.to_bytes()), window);

        let action = SigAction {
            handler: 0x40_1000,
            flags: SA_SIGINFO | SA_RESTORER,
            restorer: 0x40_2000,
            mask: SignalSet::of(Signal::SIGINT),
        };
        let bytes = action.to_bytes();
        assert_eq!(bytes[24..32], 2u64.to_le_bytes());
        assert_eq!(SigAction::from_bytes(&bytes), action);

        let limit = Rlimit {
            current: 8 << 20,
            maximum: u64::MAX,
        };
        assert_eq!(Rlimit::from_bytes(&limit.to_bytes()), limit);
        let vector = Iovec {
            base: 0x1000,
            length: 5,
        };
        assert_eq!(Iovec::from_bytes(&vector.to_bytes()), vector);
    }

    #[test]
    fn uname_fields_are_nul_padded_at_sixty_five_byte_strides() {
        let name = UtsName {
            system_name: UtsName::field(b"Linux"),
            node_name: UtsName::field(b"l4"),
            release: UtsName::field(b"6.1.0"),
            version: UtsName::field(b"#1"),
            machine: UtsName::field(b"aarch64"),
            domain_name: UtsName::field(&[b'x'; 100]),
        };
        let bytes = name.to_bytes();
        assert_eq!(&bytes[0..6], b"Linux\0");
        assert_eq!(&bytes[260..268], b"aarch64\0");
        assert_eq!(bytes[325 + 63], b'x');
        assert_eq!(bytes[325 + 64], 0);
    }

    #[test]
    fn directory_records_are_padded_to_eight_bytes() {
        assert_eq!(dirent64_record_length(1), 24);
        assert_eq!(dirent64_record_length(4), 24);
        assert_eq!(dirent64_record_length(5), 32);
        assert_eq!(dirent64_record_length(12), 32);
        assert_eq!(dirent64_record_length(13), 40);

        let mut buffer = [0xaa; 64];
        let first = write_dirent64(&mut buffer, 2, 1, DT_DIR, b".").unwrap();
        let second = write_dirent64(&mut buffer[first..], 17, 2, DT_REG, b"hello").unwrap();
        assert_eq!((first, second), (24, 32));
        assert_eq!(buffer[0..8], 2u64.to_le_bytes());
        assert_eq!(buffer[16..18], 24u16.to_le_bytes());
        assert_eq!(buffer[18], DT_DIR);
        assert_eq!(&buffer[19..24], b".\0\0\0\0");

        let (header, name) = read_dirent64(&buffer[first..]).unwrap();
        assert_eq!(
            header,
            Dirent64Header {
                inode: 17,
                offset: 2,
                record_length: 32,
                entry_type: DT_REG
            }
        );
        assert_eq!(name, b"hello");
        assert_eq!(
            buffer[first + second],
            0xaa,
            "nothing beyond the record is touched"
        );
    }

    #[test]
    fn directory_records_that_do_not_fit_or_have_bad_names_are_refused() {
        let mut buffer = [0; 30];
        assert_eq!(
            write_dirent64(&mut buffer, 1, 1, DT_REG, b"a-long-name"),
            Err(DirentError::BufferTooSmall { needed: 32 })
        );
        assert_eq!(
            write_dirent64(&mut buffer, 1, 1, DT_REG, b""),
            Err(DirentError::InvalidName)
        );
        assert_eq!(
            write_dirent64(&mut buffer, 1, 1, DT_REG, b"a\0b"),
            Err(DirentError::InvalidName)
        );
        assert_eq!(read_dirent64(&buffer[..10]), None);
    }
}
