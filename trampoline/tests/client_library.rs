//! The client library (`personality/client`, path b) under qemu-user, on the emulated machine
//! of `emulation`: its ipc to the server, what it makes of the answers, and its fork and exec,
//! which end in this crate's page (fork_child and start). The library's `svc #1` in this
//! program's text are turned into the handler's `brk`s, like the trampoline's in its copy
//! (see `qemu_user.rs` for why and for what this cannot show).
//!
//! A fork is played as the kernel and the server would: at the ipc the handler keeps a copy
//! of the stack the call runs on (the child's copy of the address space), the parent goes on
//! and returns, then the copy is put back and the "child" starts at fork_child with other
//! registers. It must come back from the same call with 0 and every callee-saved register,
//! SP and TPIDR_EL0 of its parent.

#![cfg(all(target_arch = "aarch64", target_os = "linux"))]

mod emulation;

use std::sync::MutexGuard;

use abi::utcb::Utcb;
use abi::{CallError, ThreadId, Timeouts};
use client::Errno;
use emulation::*;
use protocol::layout::TRAMPOLINE_FORK_CHILD;
use protocol::{Answer, SystemCall, save_area};
use trampoline::ENTRY;

/// The machine of `emulation`, with this program's own kernel calls patched once.
fn client_machine() -> MutexGuard<'static, ()> {
    let guard = machine();
    static PATCH: std::sync::Once = std::sync::Once::new();
    PATCH.call_once(|| {
        let patched = patch_own_kernel_calls(client::getpid as *const () as u64);
        // The library's call, receive and forking call, and the original page's three.
        assert!(patched >= 6, "patched {patched} kernel calls");
    });
    guard
}

/// The ipc registers of `number` with `arguments`, as the library must send them.
fn expected_call(number: u64, arguments: [u64; 6]) -> [u64; 11] {
    let words = SystemCall { number, arguments }.words();
    [
        SystemCall::TAG.raw(),
        words[0],
        words[1],
        words[2],
        words[3],
        words[4],
        words[5],
        words[6],
        SERVER,
        SERVER,
        Timeouts::NEVER.to_register(),
    ]
}

#[test]
fn getpid_is_one_call_to_the_server_that_returns_its_answer() {
    let _machine = client_machine();
    script(&[Reply::answer(Answer::Result(1234))]);
    assert_eq!(client::getpid(), Ok(1234));
    assert_eq!(KERNEL.get().ipc_calls, [expected_call(172, [0; 6])]);
}

#[test]
fn write_sends_the_descriptor_the_address_and_the_length() {
    let _machine = client_machine();
    script(&[Reply::answer(Answer::Result(5))]);
    let text = b"hello";
    assert_eq!(client::write(1, text), Ok(5));
    let arguments = [1, text.as_ptr() as u64, 5, 0, 0, 0];
    assert_eq!(KERNEL.get().ipc_calls, [expected_call(64, arguments)]);
}

#[test]
fn an_error_answer_becomes_its_errno() {
    let _machine = client_machine();
    script(&[Reply::answer(Answer::Result(Errno::EBADF.as_return()))]);
    assert_eq!(client::write(9, b"x"), Err(Errno::EBADF));
}

#[test]
fn without_a_server_every_call_fails_with_enosys_and_nothing_is_sent() {
    let _machine = client_machine();
    set_utcb_word(Utcb::OFFSET_PAGER, ThreadId::NIL.raw());
    assert_eq!(client::getpid(), Err(Errno::ENOSYS));
    assert!(KERNEL.get().ipc_calls.is_empty());
}

#[test]
fn a_server_that_is_gone_makes_the_call_fail_with_enosys() {
    let _machine = client_machine();
    script(&[Reply::Failure(CallError::SendNonexistentPartner)]);
    assert_eq!(client::getpid(), Err(Errno::ENOSYS));
}

#[test]
fn a_cancelled_send_is_sent_again_and_a_cancelled_receive_waits_again() {
    let _machine = client_machine();
    script(&[
        Reply::Failure(CallError::SendCancelled),
        Reply::Failure(CallError::ReceiveCancelled),
        Reply::answer(Answer::Result(7)),
    ]);
    assert_eq!(client::getpid(), Ok(7));
    let calls = &KERNEL.get().ipc_calls;
    let call = expected_call(172, [0; 6]);
    assert_eq!(calls[..2], [call, call]);
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[2][8], ThreadId::NIL.raw());
    assert_eq!(calls[2][9], SERVER);
    assert_eq!(calls[2][10], Timeouts::NEVER.to_register());
}

/// Runs `shim` on a stack of its own (with clean FP control and the real thread pointer)
/// until it leaves the run; returns how, and the stack.
fn run_shim(shim: extern "C" fn() -> !) -> (u64, TestStack) {
    let stack = TestStack::new();
    let mut input = State::zeroed();
    input.sp = stack.address(4096);
    input.tpidr = read_tpidr();
    *HARNESS_INPUT.get() = input;
    *HARNESS_TARGET.get() = shim as *const () as u64;
    (run(), stack)
}

extern "C" fn getpid_then_leave() -> ! {
    let pid = client::getpid();
    // SAFETY: the run was started by harness_run, whose context harness_leave restores.
    unsafe { harness_leave(pid.map_or(0, u64::from)) }
}

#[test]
fn an_answer_that_is_not_one_stops_at_the_library_s_breakpoint() {
    let _machine = client_machine();
    let unknown = abi::MessageTag::new(0x1234, 1, 0).unwrap().raw();
    script(&[Reply::Message(unknown, 0)]);
    let (left, _stack) = run_shim(getpid_then_leave);
    assert_eq!(
        left,
        LEFT_BY_BRK | u64::from(client::breakpoint::UNKNOWN_ANSWER)
    );
}

#[test]
fn execve_goes_by_svc_0_and_never_to_the_server_by_ipc() {
    // A successful exec unmaps the library with the old program, so its answer must land in
    // the trampoline page: the library makes execve (and execveat) by svc #0. Under
    // qemu-aarch64 that reaches Linux itself, which refuses a null path with EFAULT.
    let _machine = client_machine();
    script(&[]);
    // SAFETY: a null path: the exec fails before anything changes.
    let result = unsafe { client::system_call(221, [0; 6]) };
    assert_eq!(result, -i64::from(libc::EFAULT));
    // execveat too; qemu-aarch64 7.2 does not implement it (ENOSYS), Linux says EFAULT.
    // SAFETY: as above.
    let result = unsafe { client::system_call(281, [0; 6]) };
    assert!(
        [-i64::from(libc::EFAULT), -i64::from(libc::ENOSYS)].contains(&result),
        "{result}"
    );
    assert!(KERNEL.get().ipc_calls.is_empty());
}

/// `clone(SIGCHLD, 0, …)` through the library, as a C function for the probe below.
extern "C" fn clone_through_the_library() -> i64 {
    // SAFETY: a fork-like clone (no new stack, no shared memory); the emulated kernel makes
    // no process, it only answers.
    unsafe { client::system_call(220, [libc::SIGCHLD as u64, 0, 0, 0, 0, 0]) }
}

core::arch::global_asm!(
    // Entered by harness_run with HARNESS_INPUT's registers: calls the library's clone and
    // records every register after it returns (harness_after_system_call), in the parent and
    // again in the child.
    ".global client_fork_probe",
    "client_fork_probe:",
    "bl {clone}",
    "b harness_after_system_call",
    clone = sym clone_through_the_library,
);

unsafe extern "C" {
    fn client_fork_probe();
}

#[test]
fn a_forked_child_returns_zero_from_the_call_with_its_parent_s_registers() {
    let _machine = client_machine();
    set_trampoline_entry_word(ENTRY);
    // The parent: distinct callee-saved registers (the rest is the library's to clobber),
    // clean FP control, the real thread pointer.
    let stack = TestStack::new();
    let mut input = State::distinct(stack.address(4096));
    input.fpcr = 0;
    input.fpsr = 0;
    *HARNESS_INPUT.get() = input;
    *HARNESS_TARGET.get() = client_fork_probe as *const () as u64;
    KERNEL.get().stack_top = input.sp;
    script(&[Reply::answer(Answer::Result(77))]);
    assert_eq!(run(), LEFT_NORMALLY, "stopped at {:x?}", KERNEL.get().stop);
    let parent = observed();
    assert_eq!(parent.x[0], 77);
    assert_callee_saved_kept(&parent, &input);
    assert_eq!(KERNEL.get().ipc_calls.len(), 1);
    assert_eq!(KERNEL.get().ipc_calls[0][1], 220);
    assert_eq!(
        save_area_word(save_area::THREAD_POINTER),
        read_tpidr(),
        "the parent's thread pointer"
    );
    assert_eq!(save_area_word(save_area::TRAMPOLINE_ENTRY), ENTRY);

    // The child: its copy of the stack, a fresh UTCB, other registers everywhere, no thread
    // pointer; the server starts it at fork_child.
    // SAFETY: the stack is the test's, and the parent is done with it.
    unsafe { restore_snapshot() };
    set_trampoline_entry_word(0);
    let mut garbage = State::distinct(0x1000);
    garbage.x = [0xBAD; 31];
    garbage.q = [0xBAD; 32];
    garbage.tpidr = 0;
    *HARNESS_INPUT.get() = garbage;
    *HARNESS_TARGET.get() = TRAMPOLINE_FORK_CHILD;
    assert_eq!(run(), LEFT_NORMALLY, "stopped at {:x?}", KERNEL.get().stop);
    let child = observed();
    assert_eq!(child.x[0], 0, "the child's result");
    assert_callee_saved_kept(&child, &input);
    assert_eq!(child.tpidr, read_tpidr());
    assert_eq!(trampoline_entry_word(), ENTRY);
    // Only the parent called the server.
    assert_eq!(KERNEL.get().ipc_calls.len(), 1);
}

/// x19..x29, SP, D8..D15 (the low halves of Q8..Q15) and FPCR as in `input`: what a function
/// call must keep.
fn assert_callee_saved_kept(after: &State, input: &State) {
    assert_eq!(after.x[19..30], input.x[19..30]);
    assert_eq!(after.sp, input.sp);
    for register in 8..16 {
        assert_eq!(
            after.q[register] as u64, input.q[register] as u64,
            "d{register}"
        );
    }
    assert_eq!(after.fpcr, input.fpcr);
}
