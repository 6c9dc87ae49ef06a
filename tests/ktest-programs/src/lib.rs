//! The protocol between the test tasks ping and pong, defined once for both.
//!
//! ping (task 4) calls pong (task 3) with [`REQUEST_LABEL`] and a number; pong answers with
//! label 0 and the number plus one. Then ping reads [`FAULT_ADDRESS`], which nothing maps:
//! the kernel turns the fault into a page-fault call to ping's pager, pong, which answers
//! with a map item for one of its own pages holding [`SEED`]. Last, ping sends
//! [`DONE_LABEL`] and pong halts. Between them they cover call, reply-and-wait, open and
//! closed waits, send-only ipc, kernel-generated page-fault messages and a user-level pager's
//! map reply, all through libl4 and rt. Both also keep values in every FP/SIMD register
//! across calls to each other (the `fp` module), which the kernel switches lazily.

#![cfg_attr(not(test), no_std)]
// Only the `fp` module needs `unsafe` (its asm), and says so.
#![deny(unsafe_code)]
#![warn(missing_docs)]

use abi::ThreadId;

/// pong, the server and ping's pager: thread 0 of task 3, version 1.
pub const PONG: ThreadId = thread_zero(3);
/// ping, the client: thread 0 of task 4, version 1.
pub const PING: ThreadId = thread_zero(4);
/// fuzz, which calls the kernel with random arguments beside them: thread 0 of task 5.
pub const FUZZ: ThreadId = thread_zero(5);
/// How many random kernel calls fuzz makes.
pub const FUZZ_CALLS: u64 = 100_000;
/// The Linux system call number ping issues with `svc #0` (getpid on aarch64).
pub const LINUX_GETPID: u64 = 172;
/// What pong, as ping's exception handler, answers to ping's `svc #0` (path c).
pub const EXCEPTION_ANSWER: u64 = 4242;
/// What pong answers to the getpid request ping's trampoline forwards (path a): ping's task.
pub const TRAMPOLINE_ANSWER: u64 = 4;
/// The interrupt pong attaches and ping raises (an SPI no QEMU `virt` device uses).
pub const TEST_INTERRUPT: u16 = 100;
/// The test image's debug call that makes an interrupt pending (x0 = its INTID).
pub const RAISE_INTERRUPT_CALL: u16 = 0xFFF0;
/// How long ping waits for a message pong never sends, to see a receive timeout expire.
pub const TIMEOUT_MICROSECONDS: u32 = 30_000;

/// A request: MR1 = a number; the answer has label [`ANSWER_LABEL`] and MR1 = number + 1.
pub const REQUEST_LABEL: u16 = 1;
/// The label of pong's answers.
pub const ANSWER_LABEL: u16 = 0;
/// The end of the test: pong prints `pong: done` and halts.
pub const DONE_LABEL: u16 = 2;
/// How many requests ping makes.
pub const CALLS: u64 = 1000;

/// The address ping reads: not in its image, stack or UTCB, so the first access faults to
/// its pager.
pub const FAULT_ADDRESS: u64 = 0x1000_0000;
/// What pong writes at the start of the page it lends, and ping expects to read.
pub const SEED: u64 = 0x5EED_CAFE;

const fn thread_zero(task: u16) -> ThreadId {
    match ThreadId::new(task, 0, 1) {
        Ok(thread) => thread,
        Err(_) => panic!("thread 0, version 1 of a user task is a valid thread ID"),
    }
}

/// Label of ping's FP requests: pong fills its FP/SIMD registers from MR1 and answers.
pub const FP_FILL_LABEL: u16 = 3;
/// Label of ping's FP checks: pong checks its FP/SIMD registers still hold MR1's pattern.
pub const FP_CHECK_LABEL: u16 = 4;

/// FP/SIMD registers at EL0, for the test of the kernel's lazy FP switching: every Q
/// register and FPCR get values derived from a pattern, and are checked later. Our EL0
/// programs are otherwise softfloat, so nothing else touches these registers.
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
#[allow(unsafe_code, reason = "FP/SIMD registers are reached only with asm")]
pub mod fp {
    /// Q0..Q31 and FPCR as 33 words (FPCR in the last, its rounding mode bits only).
    #[repr(C, align(16))]
    struct Registers([u128; 33]);

    fn expected(pattern: u64) -> Registers {
        let mut registers = Registers([0; 33]);
        for (index, register) in registers.0.iter_mut().enumerate().take(32) {
            let low = pattern.rotate_left(index as u32) ^ index as u64;
            *register = (u128::from(!low) << 64) | u128::from(low);
        }
        // FPCR.RMode (bits 23:22) = pattern's low two bits.
        registers.0[32] = u128::from((pattern & 0b11) << 22);
        registers
    }

    /// Fill Q0..Q31 and FPCR.RMode from `pattern`.
    pub fn fill(pattern: u64) {
        let registers = expected(pattern);
        let base = registers.0.as_ptr();
        // SAFETY: `base` points at 33 aligned 16-byte values; the asm reads 32 of them into
        // the Q registers and the last word's low half into FPCR. Nothing in this program
        // keeps values in FP registers (softfloat), so clobbering them is harmless.
        unsafe {
            core::arch::asm!(
                ".arch_extension fp",
                ".arch_extension simd",
                "ldp q0, q1, [{base}, #32 * 0]",
                "ldp q2, q3, [{base}, #32 * 1]",
                "ldp q4, q5, [{base}, #32 * 2]",
                "ldp q6, q7, [{base}, #32 * 3]",
                "ldp q8, q9, [{base}, #32 * 4]",
                "ldp q10, q11, [{base}, #32 * 5]",
                "ldp q12, q13, [{base}, #32 * 6]",
                "ldp q14, q15, [{base}, #32 * 7]",
                "ldp q16, q17, [{base}, #32 * 8]",
                "ldp q18, q19, [{base}, #32 * 9]",
                "ldp q20, q21, [{base}, #32 * 10]",
                "ldp q22, q23, [{base}, #32 * 11]",
                "ldp q24, q25, [{base}, #32 * 12]",
                "ldp q26, q27, [{base}, #32 * 13]",
                "ldp q28, q29, [{base}, #32 * 14]",
                "ldp q30, q31, [{base}, #32 * 15]",
                "ldr {control}, [{base}, #512]",
                "msr fpcr, {control}",
                base = in(reg) base,
                control = out(reg) _,
                options(nostack, readonly, preserves_flags)
            )
        };
    }

    /// Whether Q0..Q31 and FPCR.RMode still hold what `fill(pattern)` put there.
    pub fn holds(pattern: u64) -> bool {
        let mut registers = Registers([0; 33]);
        let base = registers.0.as_mut_ptr();
        // SAFETY: `base` points at 33 aligned 16-byte values this function owns; the asm
        // writes the Q registers into the first 32 and FPCR into the last.
        unsafe {
            core::arch::asm!(
                ".arch_extension fp",
                ".arch_extension simd",
                "stp q0, q1, [{base}, #32 * 0]",
                "stp q2, q3, [{base}, #32 * 1]",
                "stp q4, q5, [{base}, #32 * 2]",
                "stp q6, q7, [{base}, #32 * 3]",
                "stp q8, q9, [{base}, #32 * 4]",
                "stp q10, q11, [{base}, #32 * 5]",
                "stp q12, q13, [{base}, #32 * 6]",
                "stp q14, q15, [{base}, #32 * 7]",
                "stp q16, q17, [{base}, #32 * 8]",
                "stp q18, q19, [{base}, #32 * 9]",
                "stp q20, q21, [{base}, #32 * 10]",
                "stp q22, q23, [{base}, #32 * 11]",
                "stp q24, q25, [{base}, #32 * 12]",
                "stp q26, q27, [{base}, #32 * 13]",
                "stp q28, q29, [{base}, #32 * 14]",
                "stp q30, q31, [{base}, #32 * 15]",
                "mrs {control}, fpcr",
                "str {control}, [{base}, #512]",
                base = in(reg) base,
                control = out(reg) _,
                options(nostack, preserves_flags)
            )
        };
        let mut wanted = expected(pattern);
        registers.0[32] &= 0b11 << 22;
        wanted.0[32] &= 0b11 << 22;
        registers.0 == wanted.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partners_are_thread_zero_of_tasks_three_and_four() {
        assert_eq!((PONG.task(), PONG.thread(), PONG.version()), (3, 0, 1));
        assert_eq!((PING.task(), PING.thread(), PING.version()), (4, 0, 1));
    }

    #[test]
    fn the_labels_stay_out_of_the_kernel_range() {
        for label in [REQUEST_LABEL, ANSWER_LABEL, DONE_LABEL] {
            assert!(label < abi::protocol::FIRST_RESERVED_LABEL);
        }
    }
}
