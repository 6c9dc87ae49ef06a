//! memory: brk, anonymous mmap and munmap, MAP_FIXED, mprotect, stack growth, fork's copy,
//! and EFAULT for system calls given memory that is missing or read-only.

#![no_main]

use std::ffi::{c_char, c_int};

use linux_programs::*;

const PAGE: u64 = 4096;
const READ_WRITE: c_int = libc::PROT_READ | libc::PROT_WRITE;
const PRIVATE_ANONYMOUS: c_int = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;

#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    let mut checks = Checks::new("memory");
    program_break(&mut checks);
    anonymous_mappings(&mut checks);
    mapping_errors(&mut checks);
    protection(&mut checks);
    faults(&mut checks);
    checks.finish()
}

fn program_break(checks: &mut Checks) {
    // Between reading the break and lowering it again nothing may allocate or print (the
    // allocator could take memory above the break it was told): results are kept in locals
    // and checked after.
    let size = 16 * PAGE;
    // SAFETY: brk(0) only asks for the current break.
    let start = unsafe { brk(0) };
    let Ok(start) = u64::try_from(start) else {
        checks.success("brk(0) gives the current break", start);
        return;
    };
    // SAFETY: raising the break frees nothing.
    let raised = unsafe { brk(start + size) };
    let (mut first, mut last) = (0, 0);
    if raised == (start + size) as i64 {
        let base = start as *mut u8;
        // SAFETY: [start, start + size) is the new heap, this program's and unused.
        unsafe {
            base.write_volatile(0x5A);
            base.add(size as usize - 1).write_volatile(0xA5);
            first = base.read_volatile();
            last = base.add(size as usize - 1).read_volatile();
        }
    }
    // SAFETY: back to the break the program had; the memory above it was used only here.
    let lowered = unsafe { brk(start) };
    // SAFETY: a break below the program's data is refused, so nothing changes.
    let refused = unsafe { brk(PAGE) };
    checks.check("brk(0) gives the current break", start > 0, || {
        format!("{start:#x}")
    });
    checks.equal("brk raises the break", raised, (start + size) as i64);
    checks.check(
        "the new heap is readable and writable",
        first == 0x5A && last == 0xA5,
        || format!("read back {first:#x} and {last:#x}"),
    );
    checks.equal("brk lowers the break", lowered, start as i64);
    checks.equal(
        "brk below the data segment is refused: the break stays",
        refused,
        start as i64,
    );
}

/// An anonymous private mapping of `pages` pages, read-write.
fn map(pages: u64) -> i64 {
    mmap(pages * PAGE, READ_WRITE, PRIVATE_ANONYMOUS, -1, 0)
}

fn anonymous_mappings(checks: &mut Checks) {
    let Some(address) = checks.success("mmap 3 anonymous pages", map(3)) else {
        return;
    };
    let address = address as u64;
    checks.equal("mmap returns a page-aligned address", address % PAGE, 0);
    let base = address as *mut u8;
    let length = 3 * PAGE as usize;
    // SAFETY: the mapping is this program's, 3 pages long, and not used elsewhere.
    let bytes = unsafe { std::slice::from_raw_parts_mut(base, length) };
    checks.check(
        "a new mapping is zero-filled",
        bytes.iter().all(|&byte| byte == 0),
        String::new,
    );
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = index as u8;
    }
    let kept = bytes
        .iter()
        .enumerate()
        .all(|(index, &byte)| byte == index as u8);
    checks.check("a mapping keeps what is written", kept, String::new);

    // SAFETY: the middle page is part of this program's own mapping, and `bytes` is not
    // used until it is read again below.
    let fixed = unsafe { mmap_fixed(address + PAGE, PAGE, READ_WRITE, PRIVATE_ANONYMOUS) };
    checks.equal(
        "MAP_FIXED maps exactly there",
        fixed,
        (address + PAGE) as i64,
    );
    // SAFETY: the mapping is still this program's.
    let bytes = unsafe { std::slice::from_raw_parts(base, length) };
    let page = PAGE as usize;
    checks.check(
        "MAP_FIXED replaces the page with a zeroed one",
        bytes[page..2 * page].iter().all(|&byte| byte == 0),
        String::new,
    );
    checks.check(
        "MAP_FIXED leaves the pages around it",
        bytes[page - 1] == (page - 1) as u8 && bytes[2 * page] == (2 * page) as u8,
        String::new,
    );

    let child = in_child(|| {
        // SAFETY: the child's copy of the mapping.
        unsafe { base.write_volatile(0xEE) };
        0
    });
    checks.equal(
        "a child writes its copy of a mapping",
        child.and_then(exit_code),
        Some(0),
    );
    // SAFETY: the parent's mapping.
    let after = unsafe { base.read_volatile() };
    checks.equal("the parent's mapping is untouched by the child", after, 0);

    // SAFETY: the mapping is not used after this; the second call comes before anything
    // could be mapped there again, so the range holds nothing.
    let (unmapped, again) = unsafe { (munmap(address, 3 * PAGE), munmap(address, 3 * PAGE)) };
    checks.equal("munmap", unmapped, 0);
    checks.equal("munmap of an unmapped range succeeds", again, 0);

    let large = 64 << 20;
    if let Some(address) = checks.success(
        "mmap 64 MiB",
        mmap(large, READ_WRITE, PRIVATE_ANONYMOUS, -1, 0),
    ) {
        let base = address as *mut u8;
        // SAFETY: first and last byte of this program's new mapping.
        let (first, last) = unsafe {
            base.write_volatile(1);
            base.add(large as usize - 1).write_volatile(2);
            (
                base.read_volatile(),
                base.add(large as usize - 1).read_volatile(),
            )
        };
        checks.check(
            "the ends of a large mapping are usable",
            first == 1 && last == 2,
            String::new,
        );
        // SAFETY: not used after this.
        checks.equal("munmap 64 MiB", unsafe { munmap(address as u64, large) }, 0);
    }
}

fn mapping_errors(checks: &mut Checks) {
    checks.fails_with(
        "mmap of length 0",
        mmap(0, READ_WRITE, PRIVATE_ANONYMOUS, -1, 0),
        libc::EINVAL,
    );
    checks.fails_with(
        "mmap neither private nor shared",
        mmap(PAGE, READ_WRITE, libc::MAP_ANONYMOUS, -1, 0),
        libc::EINVAL,
    );
    checks.fails_with(
        "mmap at an offset that is not page-aligned",
        mmap(PAGE, READ_WRITE, PRIVATE_ANONYMOUS, -1, 100),
        libc::EINVAL,
    );
    checks.fails_with(
        "mmap of a file with a bad descriptor",
        mmap(PAGE, libc::PROT_READ, libc::MAP_PRIVATE, 1000, 0),
        libc::EBADF,
    );
    // SAFETY: an unaligned or empty munmap is refused before anything is unmapped.
    checks.fails_with(
        "munmap of an address that is not page-aligned",
        unsafe { munmap(0x10_0001, PAGE) },
        libc::EINVAL,
    );
    // SAFETY: as above.
    checks.fails_with(
        "munmap of length 0",
        unsafe { munmap(0x10_0000, 0) },
        libc::EINVAL,
    );
    // SAFETY: an unaligned MAP_FIXED is refused before anything is mapped.
    checks.fails_with(
        "MAP_FIXED at an address that is not page-aligned",
        unsafe { mmap_fixed(0x10_0001, PAGE, READ_WRITE, PRIVATE_ANONYMOUS) },
        libc::EINVAL,
    );
    // SAFETY: an unaligned mprotect is refused before anything changes.
    checks.fails_with(
        "mprotect of an address that is not page-aligned",
        unsafe { mprotect(0x10_0001, PAGE, libc::PROT_READ) },
        libc::EINVAL,
    );
}

fn protection(checks: &mut Checks) {
    let Some(address) = checks.success("mmap a page to protect", map(1)) else {
        return;
    };
    let base = address as *mut u8;
    // SAFETY: this program's page.
    unsafe { base.write_volatile(0x33) };
    // SAFETY: the page is only read from now on (and written by the child meant to die).
    checks.equal(
        "mprotect read-only",
        unsafe { mprotect(address as u64, PAGE, libc::PROT_READ) },
        0,
    );
    // SAFETY: reading a read-only page.
    checks.equal(
        "a read-only page keeps its contents",
        unsafe { base.read_volatile() },
        0x33,
    );
    let status = in_child(|| {
        // SAFETY: not sound: the child writes a read-only page on purpose, to die of
        // SIGSEGV.
        unsafe { base.write_volatile(0x44) };
        0
    });
    checks.equal(
        "writing a read-only page kills with SIGSEGV",
        status.and_then(killed_by),
        Some(libc::SIGSEGV),
    );
    if let Some(fd) = checks.success(
        "openat /etc/passwd",
        openat(
            libc::AT_FDCWD,
            In::From(&c_string("/etc/passwd")),
            libc::O_RDONLY,
            0,
        ),
    ) {
        let fd = fd as c_int;
        // SAFETY: the kernel cannot write a read-only page, so the call changes nothing.
        let result = unsafe { raw(libc::SYS_read, [fd as u64, address as u64, 16, 0, 0, 0]) };
        checks.fails_with("read into a read-only page", result, libc::EFAULT);
        close(fd);
    }
    // SAFETY: not used after this.
    unsafe { munmap(address as u64, PAGE) };
}

/// Uses about 1 MiB of stack, so that the stack must grow.
#[inline(never)]
fn deep_stack() -> c_int {
    let block = std::hint::black_box([7u8; 1 << 20]);
    c_int::from(block[12345] != 7)
}

fn faults(checks: &mut Checks) {
    let status = in_child(|| {
        let Ok(address) = u64::try_from(map(1)) else {
            return 1;
        };
        // SAFETY: the page is unmapped here and not used again but for the faulting write.
        unsafe { munmap(address, PAGE) };
        // SAFETY: not sound: the child writes an unmapped page on purpose, to die of SIGSEGV.
        unsafe { (address as *mut u8).write_volatile(1) };
        0
    });
    checks.equal(
        "touching an unmapped page kills with SIGSEGV",
        status.and_then(killed_by),
        Some(libc::SIGSEGV),
    );
    let status = in_child(deep_stack);
    checks.equal(
        "the stack grows to 1 MiB",
        status.and_then(exit_code),
        Some(0),
    );
    checks.fails_with(
        "write from memory that is not mapped",
        write(1, In::Bad(Bad::KernelHalf)),
        libc::EFAULT,
    );
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    checks.equal(
        "clock_gettime into the program's memory",
        clock_gettime(libc::CLOCK_MONOTONIC, Out::To(&mut time)),
        0,
    );
    checks.fails_with(
        "clock_gettime into the null page",
        clock_gettime(libc::CLOCK_MONOTONIC, Out::Bad(Bad::NullPage)),
        libc::EFAULT,
    );
}
