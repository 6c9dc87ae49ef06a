//! The protocol between the test tasks ping and pong, defined once for both.
//!
//! ping (task 4) calls pong (task 3) with [`REQUEST_LABEL`] and a number; pong answers with
//! label 0 and the number plus one. Then ping reads [`FAULT_ADDRESS`], which nothing maps:
//! the kernel turns the fault into a page-fault call to ping's pager, pong, which answers
//! with a map item for one of its own pages holding [`SEED`]. Last, ping sends
//! [`DONE_LABEL`] and pong halts. Between them they cover call, reply-and-wait, open and
//! closed waits, send-only ipc, kernel-generated page-fault messages and a user-level pager's
//! map reply, all through libl4 and rt.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
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
