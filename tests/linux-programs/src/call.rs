//! The system calls the programs make, one safe wrapper each, returning the raw result: the
//! value, or `-errno`, as x0 holds it after `svc #0`.
//!
//! Pointer arguments are [`In`] (the kernel reads) or [`Out`] (the kernel writes): the
//! program's own memory, absent (a null pointer where Linux allows one), or a [`Bad`]
//! address that no mapping can hold, where a check wants `EFAULT`. That is what makes the
//! wrappers sound: the kernel touches only memory the borrow lends it for the call. The few
//! calls that can change the program's own memory map or signal handling take only values
//! that cannot break it, or are `unsafe` (brk, munmap, mprotect).

use std::ffi::{CStr, c_int, c_long};
use std::sync::atomic::AtomicI32;

/// An address no mapping can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bad {
    /// In the null page, which Linux never maps for a process (`vm.mmap_min_addr`) and our
    /// server keeps unmapped.
    NullPage,
    /// In the kernel half of the address space (bit 63 set): no user mapping is there.
    KernelHalf,
}

impl Bad {
    /// The address.
    pub const fn address(self) -> u64 {
        match self {
            Bad::NullPage => 0x10,
            Bad::KernelHalf => 0xFFFF_8000_0000_1000,
        }
    }
}

/// How many bytes a call is told a [`Bad`] buffer holds.
pub const BAD_LENGTH: u64 = 64;

/// Memory the kernel reads.
#[derive(Debug)]
pub enum In<'a, T: ?Sized> {
    /// The program's own value.
    From(&'a T),
    /// A null pointer.
    Absent,
    /// An address no mapping holds.
    Bad(Bad),
}

/// Memory the kernel writes.
#[derive(Debug)]
pub enum Out<'a, T: ?Sized> {
    /// The program's own value.
    To(&'a mut T),
    /// A null pointer.
    Absent,
    /// An address no mapping holds.
    Bad(Bad),
}

impl<T: ?Sized> In<'_, T> {
    fn address(&self) -> u64 {
        match self {
            In::From(value) => (*value as *const T).cast::<u8>() as u64,
            In::Absent => 0,
            In::Bad(bad) => bad.address(),
        }
    }
}

impl<T: ?Sized> Out<'_, T> {
    fn address(&mut self) -> u64 {
        match self {
            Out::To(value) => (*value as *mut T).cast::<u8>() as u64,
            Out::Absent => 0,
            Out::Bad(bad) => bad.address(),
        }
    }
}

impl In<'_, [u8]> {
    fn length(&self) -> u64 {
        match self {
            In::From(bytes) => bytes.len() as u64,
            In::Absent | In::Bad(_) => BAD_LENGTH,
        }
    }
}

impl Out<'_, [u8]> {
    fn length(&self) -> u64 {
        match self {
            Out::To(bytes) => bytes.len() as u64,
            Out::Absent | Out::Bad(_) => BAD_LENGTH,
        }
    }
}

/// `svc #0` with `number` and six arguments, through musl's `syscall`; the raw result.
/// Built with the `direct` feature, the call goes to the OS server through its client
/// library instead (path b: a direct ipc, no `svc #0`), so the same checks test that path.
///
/// # Safety
///
/// The call must not touch memory other than what the caller lends it, nor change the
/// program's memory map or threads in a way Rust cannot see.
pub unsafe fn raw(number: c_long, arguments: [u64; 6]) -> i64 {
    #[cfg(all(feature = "direct", target_arch = "aarch64"))]
    {
        // SAFETY: passed on to the caller; the client library sends the same call.
        return unsafe { client::system_call(number as u64, arguments) };
    }
    #[allow(unreachable_code, reason = "the direct build returned above")]
    let [first, second, third, fourth, fifth, sixth] = arguments;
    // SAFETY: passed on to the caller.
    let result = unsafe { libc::syscall(number, first, second, third, fourth, fifth, sixth) };
    if result == -1 {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        -i64::from(errno)
    } else {
        result as i64
    }
}

/// A call that takes only values (no pointers) and changes no memory.
fn values(number: c_long, arguments: [u64; 6]) -> i64 {
    // SAFETY: the callers below pass only calls that read no pointer and change nothing the
    // program's memory depends on.
    unsafe { raw(number, arguments) }
}

/// `openat(dirfd, path, flags, mode)`.
pub fn openat(dirfd: c_int, path: In<CStr>, flags: c_int, mode: u32) -> i64 {
    let arguments = [
        dirfd as u64,
        path.address(),
        flags as u64,
        u64::from(mode),
        0,
        0,
    ];
    // SAFETY: the kernel reads the path (ours, or a bad address) and opens a file.
    unsafe { raw(libc::SYS_openat, arguments) }
}

/// `close(fd)`: the program closes only descriptors it opened.
pub fn close(fd: c_int) -> i64 {
    values(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0])
}

/// `read(fd, buffer, length of buffer)`.
pub fn read(fd: c_int, mut buffer: Out<[u8]>) -> i64 {
    let arguments = [fd as u64, buffer.address(), buffer.length(), 0, 0, 0];
    // SAFETY: the kernel writes at most the buffer's length into it.
    unsafe { raw(libc::SYS_read, arguments) }
}

/// `write(fd, bytes, length)`.
pub fn write(fd: c_int, bytes: In<[u8]>) -> i64 {
    let arguments = [fd as u64, bytes.address(), bytes.length(), 0, 0, 0];
    // SAFETY: the kernel only reads the bytes.
    unsafe { raw(libc::SYS_write, arguments) }
}

/// `lseek(fd, offset, whence)`.
pub fn lseek(fd: c_int, offset: i64, whence: c_int) -> i64 {
    values(
        libc::SYS_lseek,
        [fd as u64, offset as u64, whence as u64, 0, 0, 0],
    )
}

/// `pread64(fd, buffer, length of buffer, offset)`.
pub fn pread64(fd: c_int, mut buffer: Out<[u8]>, offset: i64) -> i64 {
    let arguments = [
        fd as u64,
        buffer.address(),
        buffer.length(),
        offset as u64,
        0,
        0,
    ];
    // SAFETY: as for read.
    unsafe { raw(libc::SYS_pread64, arguments) }
}

/// `readv(fd, iov, count)` with one iovec per buffer.
pub fn readv(fd: c_int, buffers: &mut [&mut [u8]]) -> i64 {
    let vectors: Vec<libc::iovec> = buffers
        .iter_mut()
        .map(|buffer| libc::iovec {
            iov_base: buffer.as_mut_ptr().cast(),
            iov_len: buffer.len(),
        })
        .collect();
    let arguments = [
        fd as u64,
        vectors.as_ptr() as u64,
        vectors.len() as u64,
        0,
        0,
        0,
    ];
    // SAFETY: the kernel writes into the buffers the iovecs describe, which the exclusive
    // borrow lends it.
    unsafe { raw(libc::SYS_readv, arguments) }
}

/// `writev(fd, iov, count)` with one iovec per buffer.
pub fn writev(fd: c_int, buffers: &[&[u8]]) -> i64 {
    let vectors: Vec<libc::iovec> = buffers
        .iter()
        .map(|buffer| libc::iovec {
            iov_base: buffer.as_ptr().cast_mut().cast(),
            iov_len: buffer.len(),
        })
        .collect();
    let arguments = [
        fd as u64,
        vectors.as_ptr() as u64,
        vectors.len() as u64,
        0,
        0,
        0,
    ];
    // SAFETY: the kernel only reads the buffers.
    unsafe { raw(libc::SYS_writev, arguments) }
}

/// `readv(fd, bad, count)`: the iovec array itself at a bad address.
pub fn readv_from_bad_vector(fd: c_int, bad: Bad, count: u64) -> i64 {
    let arguments = [fd as u64, bad.address(), count, 0, 0, 0];
    // SAFETY: the kernel cannot read the iovecs at a bad address, so writes nothing.
    unsafe { raw(libc::SYS_readv, arguments) }
}

/// `writev(fd, iov, 1)` with one iovec whose base is a bad address.
pub fn writev_from_bad_base(fd: c_int, bad: Bad) -> i64 {
    let vector = libc::iovec {
        iov_base: bad.address() as *mut libc::c_void,
        iov_len: BAD_LENGTH as usize,
    };
    let arguments = [fd as u64, &raw const vector as u64, 1, 0, 0, 0];
    // SAFETY: the kernel only reads, and cannot read a bad address.
    unsafe { raw(libc::SYS_writev, arguments) }
}

/// `fstat(fd, status)`.
pub fn fstat(fd: c_int, mut status: Out<libc::stat>) -> i64 {
    let arguments = [fd as u64, status.address(), 0, 0, 0, 0];
    // SAFETY: the kernel writes one struct stat.
    unsafe { raw(libc::SYS_fstat, arguments) }
}

/// `newfstatat(dirfd, path, status, flags)`.
pub fn newfstatat(dirfd: c_int, path: In<CStr>, mut status: Out<libc::stat>, flags: c_int) -> i64 {
    let arguments = [
        dirfd as u64,
        path.address(),
        status.address(),
        flags as u64,
        0,
        0,
    ];
    // SAFETY: the kernel reads the path and writes one struct stat.
    unsafe { raw(libc::SYS_newfstatat, arguments) }
}

/// `getdents64(fd, buffer, length of buffer)`.
pub fn getdents64(fd: c_int, mut buffer: Out<[u8]>) -> i64 {
    let arguments = [fd as u64, buffer.address(), buffer.length(), 0, 0, 0];
    // SAFETY: as for read.
    unsafe { raw(libc::SYS_getdents64, arguments) }
}

/// `readlinkat(dirfd, path, buffer, length of buffer)`.
pub fn readlinkat(dirfd: c_int, path: In<CStr>, mut buffer: Out<[u8]>) -> i64 {
    let arguments = [
        dirfd as u64,
        path.address(),
        buffer.address(),
        buffer.length(),
        0,
        0,
    ];
    // SAFETY: the kernel reads the path and writes at most the buffer's length.
    unsafe { raw(libc::SYS_readlinkat, arguments) }
}

/// `readlinkat(dirfd, path, buffer, 0)`: a zero length, which Linux refuses.
pub fn readlinkat_zero_length(dirfd: c_int, path: In<CStr>, buffer: &mut [u8]) -> i64 {
    let arguments = [
        dirfd as u64,
        path.address(),
        buffer.as_mut_ptr() as u64,
        0,
        0,
        0,
    ];
    // SAFETY: with a length of 0 the kernel writes nothing.
    unsafe { raw(libc::SYS_readlinkat, arguments) }
}

/// `getcwd(buffer, length of buffer)`.
pub fn getcwd(mut buffer: Out<[u8]>) -> i64 {
    let arguments = [buffer.address(), buffer.length(), 0, 0, 0, 0];
    // SAFETY: as for read.
    unsafe { raw(libc::SYS_getcwd, arguments) }
}

/// `chdir(path)`.
pub fn chdir(path: In<CStr>) -> i64 {
    let arguments = [path.address(), 0, 0, 0, 0, 0];
    // SAFETY: the kernel reads the path.
    unsafe { raw(libc::SYS_chdir, arguments) }
}

/// `dup(fd)`.
pub fn dup(fd: c_int) -> i64 {
    values(libc::SYS_dup, [fd as u64, 0, 0, 0, 0, 0])
}

/// `dup3(old, new, flags)`: the program never targets a descriptor it did not open.
pub fn dup3(old: c_int, new: c_int, flags: c_int) -> i64 {
    values(
        libc::SYS_dup3,
        [old as u64, new as u64, flags as u64, 0, 0, 0],
    )
}

/// The `fcntl` commands the programs use: the ones that take an integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fcntl {
    /// `F_DUPFD`: the lowest free descriptor at or above the argument.
    DuplicateAtLeast,
    /// `F_DUPFD_CLOEXEC`: the same, with close-on-exec.
    DuplicateAtLeastCloseOnExec,
    /// `F_GETFD`.
    GetDescriptorFlags,
    /// `F_SETFD`.
    SetDescriptorFlags,
    /// `F_GETFL`.
    GetStatusFlags,
    /// `F_SETFL`.
    SetStatusFlags,
    /// A command number Linux does not define.
    Undefined,
}

impl Fcntl {
    /// The command number.
    pub const fn number(self) -> c_int {
        match self {
            Fcntl::DuplicateAtLeast => libc::F_DUPFD,
            Fcntl::DuplicateAtLeastCloseOnExec => libc::F_DUPFD_CLOEXEC,
            Fcntl::GetDescriptorFlags => libc::F_GETFD,
            Fcntl::SetDescriptorFlags => libc::F_SETFD,
            Fcntl::GetStatusFlags => libc::F_GETFL,
            Fcntl::SetStatusFlags => libc::F_SETFL,
            Fcntl::Undefined => 999,
        }
    }
}

/// `fcntl(fd, command, argument)`.
pub fn fcntl(fd: c_int, command: Fcntl, argument: u64) -> i64 {
    values(
        libc::SYS_fcntl,
        [fd as u64, command.number() as u64, argument, 0, 0, 0],
    )
}

/// The kernel's `struct termios` (asm-generic/termbits.h), which TCGETS and TCSETS move; the
/// C library's is larger.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelTermios {
    /// Input modes.
    pub input: u32,
    /// Output modes.
    pub output: u32,
    /// Control modes.
    pub control: u32,
    /// Local modes (ICANON, ECHO, ...).
    pub local: u32,
    /// The line discipline.
    pub line: u8,
    /// Control characters.
    pub characters: [u8; 19],
}

/// An ioctl request number as a register (its C type differs between C libraries).
#[allow(clippy::unnecessary_cast)] // A u64 with glibc, an int with musl.
const fn request(request: libc::Ioctl) -> u64 {
    request as u64
}

/// `ioctl(fd, TCGETS, termios)`.
pub fn get_terminal_attributes(fd: c_int, mut termios: Out<KernelTermios>) -> i64 {
    let arguments = [fd as u64, request(libc::TCGETS), termios.address(), 0, 0, 0];
    // SAFETY: TCGETS writes one kernel termios.
    unsafe { raw(libc::SYS_ioctl, arguments) }
}

/// `ioctl(fd, TCSETS, termios)`.
pub fn set_terminal_attributes(fd: c_int, termios: In<KernelTermios>) -> i64 {
    let arguments = [fd as u64, request(libc::TCSETS), termios.address(), 0, 0, 0];
    // SAFETY: TCSETS reads one kernel termios.
    unsafe { raw(libc::SYS_ioctl, arguments) }
}

/// `ioctl(fd, TIOCGWINSZ, size)`.
pub fn get_window_size(fd: c_int, mut size: Out<libc::winsize>) -> i64 {
    let arguments = [
        fd as u64,
        request(libc::TIOCGWINSZ),
        size.address(),
        0,
        0,
        0,
    ];
    // SAFETY: TIOCGWINSZ writes one struct winsize.
    unsafe { raw(libc::SYS_ioctl, arguments) }
}

/// `ioctl(fd, request, 0)` with a request no driver defines (`_IO(0xEE, 0x77)`).
pub fn undefined_ioctl(fd: c_int) -> i64 {
    values(libc::SYS_ioctl, [fd as u64, 0xEE77, 0, 0, 0, 0])
}

/// `getpid()`.
pub fn getpid() -> i64 {
    values(libc::SYS_getpid, [0; 6])
}

/// `getppid()`.
pub fn getppid() -> i64 {
    values(libc::SYS_getppid, [0; 6])
}

/// `gettid()`.
pub fn gettid() -> i64 {
    values(libc::SYS_gettid, [0; 6])
}

/// `getuid()`.
pub fn getuid() -> i64 {
    values(libc::SYS_getuid, [0; 6])
}

/// `geteuid()`.
pub fn geteuid() -> i64 {
    values(libc::SYS_geteuid, [0; 6])
}

/// `getgid()`.
pub fn getgid() -> i64 {
    values(libc::SYS_getgid, [0; 6])
}

/// `getegid()`.
pub fn getegid() -> i64 {
    values(libc::SYS_getegid, [0; 6])
}

/// `set_tid_address(word)`: the kernel stores 0 there when the thread ends; the word lives
/// as long as the program.
pub fn set_tid_address(word: &'static AtomicI32) -> i64 {
    let arguments = [word.as_ptr() as u64, 0, 0, 0, 0, 0];
    // SAFETY: the kernel keeps the address and writes an int there when the thread exits;
    // the static outlives the thread, and an atomic may be written behind Rust's back.
    unsafe { raw(libc::SYS_set_tid_address, arguments) }
}

/// `fork()` (musl's: `clone(SIGCHLD, 0)` and its own bookkeeping): the child's pid in the
/// parent, 0 in the child, or `-errno`.
pub fn fork() -> i64 {
    // SAFETY: the programs are single-threaded, so the child's copy of the address space is
    // consistent (no lock held by another thread).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        -i64::from(errno)
    } else {
        i64::from(pid)
    }
}

/// `wait4(pid, status, options, NULL)`.
pub fn wait4(pid: libc::pid_t, mut status: Out<c_int>, options: c_int) -> i64 {
    let arguments = [pid as u64, status.address(), options as u64, 0, 0, 0];
    // SAFETY: the kernel writes one int.
    unsafe { raw(libc::SYS_wait4, arguments) }
}

/// `execve(path, argv, envp)` with NULL-terminated copies of `argv` and `envp`. Returns only
/// if it fails.
pub fn execve(path: In<CStr>, argv: &[&CStr], envp: &[&CStr]) -> i64 {
    let terminated = |strings: &[&CStr]| -> Vec<*const libc::c_char> {
        strings
            .iter()
            .map(|string| string.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect()
    };
    let argv = terminated(argv);
    let envp = terminated(envp);
    let arguments = [
        path.address(),
        argv.as_ptr() as u64,
        envp.as_ptr() as u64,
        0,
        0,
        0,
    ];
    // SAFETY: the kernel reads the strings and arrays; on success the program is replaced,
    // which ends every borrow.
    unsafe { raw(libc::SYS_execve, arguments) }
}

/// `execve(path, bad, NULL)`: the argument vector at a bad address.
pub fn execve_with_bad_arguments(path: &CStr, bad: Bad) -> i64 {
    let arguments = [path.as_ptr() as u64, bad.address(), 0, 0, 0, 0];
    // SAFETY: the kernel cannot read the vector, so the call fails before anything happens.
    unsafe { raw(libc::SYS_execve, arguments) }
}

/// `exit_group(status)`.
pub fn exit_group(status: c_int) -> ! {
    values(libc::SYS_exit_group, [status as u64, 0, 0, 0, 0, 0]);
    // Reached only if the kernel refused to end the process.
    std::process::abort()
}

/// `brk(address)`: the new break, or the current one if Linux refuses.
///
/// # Safety
///
/// Moving the break below memory in use frees it: the caller moves it back before anything
/// (the allocator included) could use memory above the old break.
pub unsafe fn brk(address: u64) -> i64 {
    // SAFETY: passed on to the caller.
    unsafe { raw(libc::SYS_brk, [address, 0, 0, 0, 0, 0]) }
}

/// `mmap(NULL, length, prot, flags, fd, offset)`: never replaces an existing mapping, since
/// `MAP_FIXED` and `MAP_FIXED_NOREPLACE` are taken out of `flags`, with no address hint.
pub fn mmap(length: u64, prot: c_int, flags: c_int, fd: c_int, offset: u64) -> i64 {
    let flags = flags & !(libc::MAP_FIXED | libc::MAP_FIXED_NOREPLACE);
    let arguments = [0, length, prot as u64, flags as u64, fd as u64, offset];
    // SAFETY: without a fixed address the kernel picks free address space.
    unsafe { raw(libc::SYS_mmap, arguments) }
}

/// `mmap(address, length, prot, flags | MAP_FIXED, -1, 0)`.
///
/// # Safety
///
/// The range must not hold memory the program uses (the kernel replaces what is there).
pub unsafe fn mmap_fixed(address: u64, length: u64, prot: c_int, flags: c_int) -> i64 {
    let flags = flags | libc::MAP_FIXED;
    let arguments = [address, length, prot as u64, flags as u64, u64::MAX, 0];
    // SAFETY: passed on to the caller.
    unsafe { raw(libc::SYS_mmap, arguments) }
}

/// `munmap(address, length)`.
///
/// # Safety
///
/// The range must not hold memory the program still uses.
pub unsafe fn munmap(address: u64, length: u64) -> i64 {
    // SAFETY: passed on to the caller.
    unsafe { raw(libc::SYS_munmap, [address, length, 0, 0, 0, 0]) }
}

/// `mprotect(address, length, prot)`.
///
/// # Safety
///
/// The program must not access the range in a way the new protection forbids, except to
/// provoke a fault in a child that is meant to die of it.
pub unsafe fn mprotect(address: u64, length: u64, prot: c_int) -> i64 {
    // SAFETY: passed on to the caller.
    unsafe { raw(libc::SYS_mprotect, [address, length, prot as u64, 0, 0, 0]) }
}

/// `clock_gettime(clock, time)`.
pub fn clock_gettime(clock: libc::clockid_t, mut time: Out<libc::timespec>) -> i64 {
    let arguments = [clock as u64, time.address(), 0, 0, 0, 0];
    // SAFETY: the kernel writes one timespec.
    unsafe { raw(libc::SYS_clock_gettime, arguments) }
}

/// `clock_getres(clock, resolution)`.
pub fn clock_getres(clock: libc::clockid_t, mut resolution: Out<libc::timespec>) -> i64 {
    let arguments = [clock as u64, resolution.address(), 0, 0, 0, 0];
    // SAFETY: the kernel writes one timespec.
    unsafe { raw(libc::SYS_clock_getres, arguments) }
}

/// `nanosleep(duration, remaining)`.
pub fn nanosleep(duration: In<libc::timespec>, mut remaining: Out<libc::timespec>) -> i64 {
    let arguments = [duration.address(), remaining.address(), 0, 0, 0, 0];
    // SAFETY: the kernel reads one timespec and may write one.
    unsafe { raw(libc::SYS_nanosleep, arguments) }
}

/// `uname(name)`.
pub fn uname(mut name: Out<libc::utsname>) -> i64 {
    let arguments = [name.address(), 0, 0, 0, 0, 0];
    // SAFETY: the kernel writes one struct utsname.
    unsafe { raw(libc::SYS_uname, arguments) }
}

/// `getrandom(buffer, length of buffer, flags)`.
pub fn getrandom(mut buffer: Out<[u8]>, flags: u32) -> i64 {
    let arguments = [buffer.address(), buffer.length(), u64::from(flags), 0, 0, 0];
    // SAFETY: as for read.
    unsafe { raw(libc::SYS_getrandom, arguments) }
}

/// A signal disposition: the only handlers the programs install.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// `SIG_DFL`.
    Default,
    /// `SIG_IGN`.
    Ignore,
    /// A function that does nothing: safe to run whenever the signal comes.
    Nothing,
}

extern "C" fn do_nothing(_signal: c_int) {}

/// `SA_RESTORER` (asm-generic/signal-defs.h): the C library's return-from-handler code; the
/// programs never deliver a signal, so they leave it out.
pub const SA_RESTORER: u64 = 0x0400_0000;

/// The kernel's `struct sigaction` on arm64 (asm-generic/signal.h with `SA_RESTORER`):
/// handler, flags, restorer, one 64-bit mask. The C library's is a different layout.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelSigaction {
    handler: u64,
    /// `SA_*` flags.
    pub flags: u64,
    restorer: u64,
    /// Signals blocked while the handler runs (bit n - 1 for signal n).
    pub mask: u64,
}

impl KernelSigaction {
    /// An action with `disposition`, `flags` (without `SA_RESTORER`) and `mask`.
    pub fn new(disposition: Disposition, flags: u64, mask: u64) -> KernelSigaction {
        let handler = match disposition {
            Disposition::Default => libc::SIG_DFL as u64,
            Disposition::Ignore => libc::SIG_IGN as u64,
            Disposition::Nothing => do_nothing as *const () as u64,
        };
        KernelSigaction {
            handler,
            flags: flags & !SA_RESTORER,
            restorer: 0,
            mask,
        }
    }

    /// The handler word, as the kernel stores it.
    pub fn handler(&self) -> u64 {
        self.handler
    }
}

/// `rt_sigaction(signal, new, old, size)`. The kernel reads only what
/// [`KernelSigaction::new`] built, so no handler can be anything but the three kinds.
pub fn rt_sigaction(
    signal: c_int,
    new: In<KernelSigaction>,
    mut old: Out<KernelSigaction>,
    size: u64,
) -> i64 {
    let arguments = [signal as u64, new.address(), old.address(), size, 0, 0];
    // SAFETY: the kernel reads one action (a valid handler) and writes one.
    unsafe { raw(libc::SYS_rt_sigaction, arguments) }
}

/// `rt_sigprocmask(how, set, old, size)`.
pub fn rt_sigprocmask(how: c_int, set: In<u64>, mut old: Out<u64>, size: u64) -> i64 {
    let arguments = [how as u64, set.address(), old.address(), size, 0, 0];
    // SAFETY: the kernel reads and writes one mask; blocking signals changes no memory.
    unsafe { raw(libc::SYS_rt_sigprocmask, arguments) }
}

/// The kernel's `struct rlimit64`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limit {
    /// The soft limit.
    pub current: u64,
    /// The hard limit.
    pub maximum: u64,
}

/// `prlimit64(pid, resource, new, old)`.
pub fn prlimit64(pid: libc::pid_t, resource: c_int, new: In<Limit>, mut old: Out<Limit>) -> i64 {
    let arguments = [
        pid as u64,
        resource as u64,
        new.address(),
        old.address(),
        0,
        0,
    ];
    // SAFETY: the kernel reads and writes one limit each.
    unsafe { raw(libc::SYS_prlimit64, arguments) }
}

/// A system call number Linux does not define, with no arguments.
pub fn undefined_call(number: c_long) -> i64 {
    values(number, [0; 6])
}
