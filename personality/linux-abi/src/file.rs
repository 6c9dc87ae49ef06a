//! File values: types and mode bits, directory-entry types, open flags, `*at` flags and
//! `fcntl` commands.
//!
//! arm64 differs from the generic table in four open flags (`O_DIRECTORY`, `O_NOFOLLOW`,
//! `O_DIRECT`, `O_LARGEFILE`, from `arch/arm64/include/uapi/asm/fcntl.h`); copying the
//! x86 or generic values here would make every `opendir` fail. Mode bits are from
//! `linux/stat.h`, `*at` flags from `linux/fcntl.h`, the rest from `asm-generic/fcntl.h`.

/// `S_IFMT`: the file-type bits of `st_mode`.
pub const S_IFMT: u32 = 0o170000;
/// `S_IFSOCK`: socket.
pub const S_IFSOCK: u32 = 0o140000;
/// `S_IFLNK`: symbolic link.
pub const S_IFLNK: u32 = 0o120000;
/// `S_IFREG`: regular file.
pub const S_IFREG: u32 = 0o100000;
/// `S_IFBLK`: block device.
pub const S_IFBLK: u32 = 0o060000;
/// `S_IFDIR`: directory.
pub const S_IFDIR: u32 = 0o040000;
/// `S_IFCHR`: character device.
pub const S_IFCHR: u32 = 0o020000;
/// `S_IFIFO`: pipe.
pub const S_IFIFO: u32 = 0o010000;
/// `S_ISUID`: set user ID on execution.
pub const S_ISUID: u32 = 0o4000;
/// `S_ISGID`: set group ID on execution.
pub const S_ISGID: u32 = 0o2000;
/// `S_ISVTX`: sticky bit.
pub const S_ISVTX: u32 = 0o1000;
/// The permission bits (`0o777`).
pub const PERMISSION_BITS: u32 = 0o777;

/// `DT_UNKNOWN`: `d_type` when the type is not known.
pub const DT_UNKNOWN: u8 = 0;
/// `DT_FIFO`: pipe.
pub const DT_FIFO: u8 = 1;
/// `DT_CHR`: character device.
pub const DT_CHR: u8 = 2;
/// `DT_DIR`: directory.
pub const DT_DIR: u8 = 4;
/// `DT_BLK`: block device.
pub const DT_BLK: u8 = 6;
/// `DT_REG`: regular file.
pub const DT_REG: u8 = 8;
/// `DT_LNK`: symbolic link.
pub const DT_LNK: u8 = 10;
/// `DT_SOCK`: socket.
pub const DT_SOCK: u8 = 12;

/// The `d_type` for a file mode: Linux defines it as `(mode & S_IFMT) >> 12`.
pub const fn directory_entry_type(mode: u32) -> u8 {
    ((mode & S_IFMT) >> 12) as u8
}

/// `O_ACCMODE`: the access-mode bits.
pub const O_ACCMODE: u32 = 0o3;
/// `O_RDONLY`.
pub const O_RDONLY: u32 = 0o0;
/// `O_WRONLY`.
pub const O_WRONLY: u32 = 0o1;
/// `O_RDWR`.
pub const O_RDWR: u32 = 0o2;
/// `O_CREAT`.
pub const O_CREAT: u32 = 0o100;
/// `O_EXCL`.
pub const O_EXCL: u32 = 0o200;
/// `O_NOCTTY`.
pub const O_NOCTTY: u32 = 0o400;
/// `O_TRUNC`.
pub const O_TRUNC: u32 = 0o1000;
/// `O_APPEND`.
pub const O_APPEND: u32 = 0o2000;
/// `O_NONBLOCK`.
pub const O_NONBLOCK: u32 = 0o4000;
/// `O_DSYNC`.
pub const O_DSYNC: u32 = 0o10000;
/// `O_ASYNC` (`FASYNC`).
pub const O_ASYNC: u32 = 0o20000;
/// `O_DIRECTORY` on arm64 (the generic value is `0o200000`).
pub const O_DIRECTORY: u32 = 0o40000;
/// `O_NOFOLLOW` on arm64 (the generic value is `0o400000`).
pub const O_NOFOLLOW: u32 = 0o100000;
/// `O_DIRECT` on arm64 (the generic value is `0o40000`).
pub const O_DIRECT: u32 = 0o200000;
/// `O_LARGEFILE` on arm64 (the generic value is `0o100000`); musl sets it on every open.
pub const O_LARGEFILE: u32 = 0o400000;
/// `O_NOATIME`.
pub const O_NOATIME: u32 = 0o1000000;
/// `O_CLOEXEC`.
pub const O_CLOEXEC: u32 = 0o2000000;
/// `O_SYNC` (`__O_SYNC | O_DSYNC`).
pub const O_SYNC: u32 = 0o4010000;
/// `O_PATH`.
pub const O_PATH: u32 = 0o10000000;
/// `O_TMPFILE` (`__O_TMPFILE | O_DIRECTORY`, with the arm64 `O_DIRECTORY`).
pub const O_TMPFILE: u32 = 0o20000000 | O_DIRECTORY;

/// `AT_FDCWD`: the directory argument of a `*at` call that means the working directory.
pub const AT_FDCWD: i32 = -100;
/// `AT_SYMLINK_NOFOLLOW`: do not follow a final symbolic link.
pub const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
/// `AT_EACCESS` (`faccessat`): check with the effective IDs.
pub const AT_EACCESS: u32 = 0x200;
/// `AT_REMOVEDIR` (`unlinkat`): remove a directory.
pub const AT_REMOVEDIR: u32 = 0x200;
/// `AT_SYMLINK_FOLLOW` (`linkat`): follow a final symbolic link.
pub const AT_SYMLINK_FOLLOW: u32 = 0x400;
/// `AT_EMPTY_PATH`: an empty path means the directory descriptor itself.
pub const AT_EMPTY_PATH: u32 = 0x1000;

/// `F_DUPFD`: duplicate to the lowest free descriptor at or above the argument.
pub const F_DUPFD: u32 = 0;
/// `F_GETFD`: read the descriptor flags.
pub const F_GETFD: u32 = 1;
/// `F_SETFD`: write the descriptor flags.
pub const F_SETFD: u32 = 2;
/// `F_GETFL`: read the open-file status flags.
pub const F_GETFL: u32 = 3;
/// `F_SETFL`: write the open-file status flags.
pub const F_SETFL: u32 = 4;
/// `F_GETLK`.
pub const F_GETLK: u32 = 5;
/// `F_SETLK`.
pub const F_SETLK: u32 = 6;
/// `F_SETLKW`.
pub const F_SETLKW: u32 = 7;
/// `F_DUPFD_CLOEXEC` (`F_LINUX_SPECIFIC_BASE + 6`).
pub const F_DUPFD_CLOEXEC: u32 = 1030;
/// `FD_CLOEXEC`: the descriptor flag `F_GETFD`/`F_SETFD` carry.
pub const FD_CLOEXEC: u32 = 1;

/// `SEEK_SET` (`linux/fs.h`).
pub const SEEK_SET: u32 = 0;
/// `SEEK_CUR`.
pub const SEEK_CUR: u32 = 1;
/// `SEEK_END`.
pub const SEEK_END: u32 = 2;

/// `F_OK` for `faccessat`: existence only.
pub const F_OK: u32 = 0;
/// `X_OK`: execute permission.
pub const X_OK: u32 = 1;
/// `W_OK`: write permission.
pub const W_OK: u32 = 2;
/// `R_OK`: read permission.
pub const R_OK: u32 = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm64_open_flags_differ_from_the_generic_ones() {
        assert_eq!(O_DIRECTORY, 0o40000);
        assert_eq!(O_NOFOLLOW, 0o100000);
        assert_eq!(O_DIRECT, 0o200000);
        assert_eq!(O_LARGEFILE, 0o400000);
        assert_eq!(O_TMPFILE, 0o20040000);
        assert_eq!(O_CLOEXEC, 0o2000000);
        assert_eq!(O_CREAT | O_EXCL | O_TRUNC | O_APPEND | O_NONBLOCK, 0o7300);
    }

    #[test]
    fn the_directory_entry_type_is_the_mode_type_shifted_down() {
        assert_eq!(directory_entry_type(S_IFREG | 0o644), DT_REG);
        assert_eq!(directory_entry_type(S_IFDIR | 0o755), DT_DIR);
        assert_eq!(directory_entry_type(S_IFLNK | 0o777), DT_LNK);
        assert_eq!(directory_entry_type(S_IFCHR), DT_CHR);
        assert_eq!(directory_entry_type(S_IFIFO), DT_FIFO);
        assert_eq!(directory_entry_type(S_IFSOCK), DT_SOCK);
        assert_eq!(directory_entry_type(S_IFBLK), DT_BLK);
    }

    #[test]
    fn at_and_fcntl_values_match_the_headers() {
        assert_eq!(AT_FDCWD, -100);
        assert_eq!(AT_SYMLINK_NOFOLLOW, 0x100);
        assert_eq!(AT_REMOVEDIR, 0x200);
        assert_eq!(AT_EMPTY_PATH, 0x1000);
        assert_eq!(F_DUPFD_CLOEXEC, 1030);
        assert_eq!(
            (F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL),
            (0, 1, 2, 3, 4)
        );
    }
}
