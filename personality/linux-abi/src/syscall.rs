//! Linux aarch64 system call numbers: what a client puts in x8 before `svc #0`.
//!
//! arm64 has no table of its own; it uses the generic one in `asm-generic/unistd.h` with
//! `__ARCH_WANT_RENAMEAT`, `__ARCH_WANT_NEW_STAT` (so 79 is `newfstatat`) and
//! `__ARCH_WANT_SET_GET_RLIMIT` enabled. The list covers what the personality implements
//! and what busybox and musl call; a number not listed here decodes to `None`, and the
//! server answers it with `ENOSYS`.

/// Defines [`Syscall`] with its number and Linux name from one table, so the three cannot
/// drift apart.
macro_rules! system_calls {
    ($($variant:ident = $number:literal, $name:literal;)*) => {
        /// An aarch64 Linux system call, by its number in x8.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum Syscall {
            $(
                #[doc = concat!("`", $name, "` (", stringify!($number), ").")]
                $variant = $number,
            )*
        }

        impl Syscall {
            /// Every call this crate knows, in ascending number order.
            pub const ALL: &'static [Syscall] = &[$(Syscall::$variant,)*];

            /// Decodes a call number, or `None` for a call this crate does not know.
            pub const fn from_number(number: u64) -> Option<Syscall> {
                match number {
                    $($number => Some(Syscall::$variant),)*
                    _ => None,
                }
            }

            /// The Linux name, as in `__NR_<name>` (`"newfstatat"`, `"exit_group"`).
            pub const fn name(self) -> &'static str {
                match self {
                    $(Syscall::$variant => $name,)*
                }
            }
        }
    };
}

system_calls! {
    Getcwd = 17, "getcwd";
    Dup = 23, "dup";
    Dup3 = 24, "dup3";
    Fcntl = 25, "fcntl";
    Ioctl = 29, "ioctl";
    Flock = 32, "flock";
    Mknodat = 33, "mknodat";
    Mkdirat = 34, "mkdirat";
    Unlinkat = 35, "unlinkat";
    Symlinkat = 36, "symlinkat";
    Linkat = 37, "linkat";
    Renameat = 38, "renameat";
    Umount2 = 39, "umount2";
    Mount = 40, "mount";
    Statfs = 43, "statfs";
    Fstatfs = 44, "fstatfs";
    Truncate = 45, "truncate";
    Ftruncate = 46, "ftruncate";
    Fallocate = 47, "fallocate";
    Faccessat = 48, "faccessat";
    Chdir = 49, "chdir";
    Fchdir = 50, "fchdir";
    Chroot = 51, "chroot";
    Fchmod = 52, "fchmod";
    Fchmodat = 53, "fchmodat";
    Fchownat = 54, "fchownat";
    Fchown = 55, "fchown";
    Openat = 56, "openat";
    Close = 57, "close";
    Pipe2 = 59, "pipe2";
    Getdents64 = 61, "getdents64";
    Lseek = 62, "lseek";
    Read = 63, "read";
    Write = 64, "write";
    Readv = 65, "readv";
    Writev = 66, "writev";
    Pread64 = 67, "pread64";
    Pwrite64 = 68, "pwrite64";
    Preadv = 69, "preadv";
    Pwritev = 70, "pwritev";
    Sendfile = 71, "sendfile";
    Pselect6 = 72, "pselect6";
    Ppoll = 73, "ppoll";
    Readlinkat = 78, "readlinkat";
    Newfstatat = 79, "newfstatat";
    Fstat = 80, "fstat";
    Sync = 81, "sync";
    Fsync = 82, "fsync";
    Fdatasync = 83, "fdatasync";
    Utimensat = 88, "utimensat";
    Exit = 93, "exit";
    ExitGroup = 94, "exit_group";
    Waitid = 95, "waitid";
    SetTidAddress = 96, "set_tid_address";
    Futex = 98, "futex";
    SetRobustList = 99, "set_robust_list";
    GetRobustList = 100, "get_robust_list";
    Nanosleep = 101, "nanosleep";
    Getitimer = 102, "getitimer";
    Setitimer = 103, "setitimer";
    ClockSettime = 112, "clock_settime";
    ClockGettime = 113, "clock_gettime";
    ClockGetres = 114, "clock_getres";
    ClockNanosleep = 115, "clock_nanosleep";
    SchedGetaffinity = 123, "sched_getaffinity";
    SchedYield = 124, "sched_yield";
    RestartSyscall = 128, "restart_syscall";
    Kill = 129, "kill";
    Tkill = 130, "tkill";
    Tgkill = 131, "tgkill";
    Sigaltstack = 132, "sigaltstack";
    RtSigsuspend = 133, "rt_sigsuspend";
    RtSigaction = 134, "rt_sigaction";
    RtSigprocmask = 135, "rt_sigprocmask";
    RtSigpending = 136, "rt_sigpending";
    RtSigtimedwait = 137, "rt_sigtimedwait";
    RtSigqueueinfo = 138, "rt_sigqueueinfo";
    RtSigreturn = 139, "rt_sigreturn";
    Setpriority = 140, "setpriority";
    Getpriority = 141, "getpriority";
    Reboot = 142, "reboot";
    Setregid = 143, "setregid";
    Setgid = 144, "setgid";
    Setreuid = 145, "setreuid";
    Setuid = 146, "setuid";
    Setresuid = 147, "setresuid";
    Getresuid = 148, "getresuid";
    Setresgid = 149, "setresgid";
    Getresgid = 150, "getresgid";
    Times = 153, "times";
    Setpgid = 154, "setpgid";
    Getpgid = 155, "getpgid";
    Getsid = 156, "getsid";
    Setsid = 157, "setsid";
    Getgroups = 158, "getgroups";
    Setgroups = 159, "setgroups";
    Uname = 160, "uname";
    Sethostname = 161, "sethostname";
    Getrlimit = 163, "getrlimit";
    Setrlimit = 164, "setrlimit";
    Getrusage = 165, "getrusage";
    Umask = 166, "umask";
    Prctl = 167, "prctl";
    Gettimeofday = 169, "gettimeofday";
    Settimeofday = 170, "settimeofday";
    Getpid = 172, "getpid";
    Getppid = 173, "getppid";
    Getuid = 174, "getuid";
    Geteuid = 175, "geteuid";
    Getgid = 176, "getgid";
    Getegid = 177, "getegid";
    Gettid = 178, "gettid";
    Sysinfo = 179, "sysinfo";
    Brk = 214, "brk";
    Munmap = 215, "munmap";
    Mremap = 216, "mremap";
    Clone = 220, "clone";
    Execve = 221, "execve";
    Mmap = 222, "mmap";
    Fadvise64 = 223, "fadvise64";
    Mprotect = 226, "mprotect";
    Msync = 227, "msync";
    Madvise = 233, "madvise";
    Wait4 = 260, "wait4";
    Prlimit64 = 261, "prlimit64";
    Renameat2 = 276, "renameat2";
    Getrandom = 278, "getrandom";
    MemfdCreate = 279, "memfd_create";
    Execveat = 281, "execveat";
    Membarrier = 283, "membarrier";
    CopyFileRange = 285, "copy_file_range";
    Statx = 291, "statx";
    Rseq = 293, "rseq";
    Clone3 = 435, "clone3";
    CloseRange = 436, "close_range";
    Faccessat2 = 439, "faccessat2";
}

impl Syscall {
    /// The number a client puts in x8.
    pub const fn number(self) -> u32 {
        self as u32
    }
}

/// A call number that this crate does not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownSyscall(pub u64);

impl TryFrom<u64> for Syscall {
    type Error = UnknownSyscall;

    fn try_from(number: u64) -> Result<Self, Self::Error> {
        Syscall::from_number(number).ok_or(UnknownSyscall(number))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_round_trips_through_its_number() {
        for &call in Syscall::ALL {
            assert_eq!(Syscall::try_from(u64::from(call.number())), Ok(call));
        }
    }

    #[test]
    fn the_table_is_sorted_without_duplicate_numbers_or_names() {
        for pair in Syscall::ALL.windows(2) {
            assert!(
                pair[0].number() < pair[1].number(),
                "{:?} {:?}",
                pair[0],
                pair[1]
            );
        }
        for (index, call) in Syscall::ALL.iter().enumerate() {
            for other in &Syscall::ALL[index + 1..] {
                assert_ne!(call.name(), other.name());
            }
        }
    }

    #[test]
    fn known_numbers_match_the_arm64_table() {
        let known = [
            (Syscall::Getcwd, 17, "getcwd"),
            (Syscall::Ioctl, 29, "ioctl"),
            (Syscall::Openat, 56, "openat"),
            (Syscall::Read, 63, "read"),
            (Syscall::Write, 64, "write"),
            (Syscall::Newfstatat, 79, "newfstatat"),
            (Syscall::Fstat, 80, "fstat"),
            (Syscall::Exit, 93, "exit"),
            (Syscall::ExitGroup, 94, "exit_group"),
            (Syscall::SetTidAddress, 96, "set_tid_address"),
            (Syscall::RtSigaction, 134, "rt_sigaction"),
            (Syscall::RtSigreturn, 139, "rt_sigreturn"),
            (Syscall::Uname, 160, "uname"),
            (Syscall::Getrlimit, 163, "getrlimit"),
            (Syscall::Getpid, 172, "getpid"),
            (Syscall::Brk, 214, "brk"),
            (Syscall::Clone, 220, "clone"),
            (Syscall::Execve, 221, "execve"),
            (Syscall::Mmap, 222, "mmap"),
            (Syscall::Wait4, 260, "wait4"),
            (Syscall::Prlimit64, 261, "prlimit64"),
            (Syscall::Getrandom, 278, "getrandom"),
            (Syscall::Clone3, 435, "clone3"),
        ];
        for (call, number, name) in known {
            assert_eq!(call.number(), number, "{name}");
            assert_eq!(call.name(), name);
        }
    }

    #[test]
    fn unknown_numbers_are_rejected() {
        assert_eq!(Syscall::try_from(244), Err(UnknownSyscall(244)));
        assert_eq!(Syscall::try_from(u64::MAX), Err(UnknownSyscall(u64::MAX)));
        assert_eq!(Syscall::from_number(1 << 32 | 63), None);
    }
}
