//! The Linux aarch64 system-call ABI as plain data: the one definition shared by the OS
//! server, the trampoline and the client library.
//!
//! The personality runs unmodified static aarch64 Linux binaries (busybox, musl programs).
//! They speak the Linux ABI bit for bit, so every number, flag and structure layout the
//! server answers with must be exactly the kernel's. Writing them down once, as typed
//! values with compile-time layout asserts, means the three consumers cannot disagree with
//! each other or with Linux.
//!
//! Every value comes from the Linux uapi headers that arm64 uses:
//! `asm-generic/unistd.h` (arm64 enables `__ARCH_WANT_RENAMEAT`, `_NEW_STAT`,
//! `_SET_GET_RLIMIT`), `asm-generic/errno-base.h` and `errno.h`, `asm-generic/signal.h`
//! and `signal-defs.h` with `arch/arm64/include/uapi/asm/signal.h`, `asm-generic/stat.h`,
//! `asm-generic/fcntl.h` with the arm64 overrides in `arch/arm64/include/uapi/asm/fcntl.h`,
//! `asm-generic/mman-common.h`, `linux/mman.h`, `asm-generic/termbits.h`, `ioctls.h`,
//! `asm-generic/resource.h`, `linux/auxvec.h`, `linux/time_types.h`, `linux/utsname.h`,
//! `linux/wait.h`, `linux/sched.h` and `linux/random.h`; numbers were cross-checked
//! against musl's `arch/aarch64` headers.
//!
//! - [`syscall`]: system call numbers and names.
//! - [`errno`]: error numbers and how a call returns them in x0.
//! - [`signal`]: signal numbers, default actions, `sigaction` flags, signal sets.
//! - [`layout`]: `#[repr(C)]` structures with their byte encodings, and `getdents64` records.
//! - [`file`](mod@file): file types, mode bits, open flags, `*at` flags, `fcntl` commands.
//! - [`memory`]: `mmap`, `mprotect`, `mremap` and `madvise` values.
//! - [`terminal`]: terminal ioctls, termios flags and control-character indices.
//! - [`process`]: clocks, resource limits, wait statuses, clone flags, `getrandom` flags.
//! - [`auxv`]: auxiliary-vector keys and the initial process stack.
//!
//! Nothing here touches hardware; it is `no_std` without allocation and tested on the host
//! with `cargo test -p linux-abi`.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auxv;
pub mod errno;
pub mod file;
pub mod layout;
pub mod memory;
pub mod process;
pub mod signal;
pub mod syscall;
pub mod terminal;
