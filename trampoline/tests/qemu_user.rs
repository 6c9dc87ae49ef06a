//! The trampoline's real code, run under Linux user-mode emulation (`qemu-aarch64`), with
//! this test playing the kernel and the OS server.
//!
//! Why this works, and where it stops:
//!
//! - Under qemu-user, TPIDRRO_EL0 reads 0 and the guest may map page 0: so a page mapped at
//!   0 *is* the UTCB the code finds. The save area and a copy of the code page are mapped at
//!   their protocol addresses, so the code runs exactly where it runs in a client — and once
//!   more in this program's own image, at another address, which shows it is
//!   position-independent.
//! - qemu-user treats every `svc` as a Linux system call, so the copy's two `svc #1` (ipc) and
//!   one `svc #5` (lthread_ex_regs) are patched into `brk`s, and the test code uses a `brk`
//!   where a Linux program would execute `svc #0`. A SIGTRAP handler then does what the
//!   kernel does (docs/kernel-api.md): reflect the "svc #0" into the UTCB's `reflected_trap`
//!   and continue at `trampoline_entry`; record an ipc's registers and answer it as a
//!   scripted server would; resume the reflected frame for `RESUME_REFLECTED_TRAP`. The
//!   handler runs on an alternate signal stack, so the test can check that the code never
//!   touches the stack it runs on.
//! - Everything else is the real code on a real (emulated) CPU: the marshalling, the answers,
//!   the save area, the FP/SIMD registers, the start-up's walk of the initial stack.
//!   What this cannot show is the kernel's side: that our kernel reflects, calls and resumes
//!   as documented. The kernel's own QEMU tests and the OS server's tests cover that.
//!
//! Run with (this runs `client_library.rs` too; qemu-aarch64 is Debian's `qemu-user`):
//!
//! ```text
//! CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld \
//! CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUNNER=qemu-aarch64 \
//! cargo test -p trampoline --target aarch64-unknown-linux-musl
//! ```

#![cfg(all(target_arch = "aarch64", target_os = "linux"))]

mod emulation;

use abi::call::lthread_ex_regs::ExchangeControl;
use abi::utcb::Utcb;
use abi::{CallError, MessageTag, ThreadId, Timeouts};
use emulation::*;
use linux_abi::auxv::{AT_ENTRY, AT_PAGESZ};
use protocol::layout::{SAVE_AREA, TRAMPOLINE_CODE, TRAMPOLINE_FORK_CHILD, TRAMPOLINE_START};
use protocol::{Answer, SystemCall, SystemCallPath, save_area};
use trampoline::{ENTRY, ENTRY_OFFSET, FORK_CHILD_OFFSET, PAGE_SIZE, breakpoint};

#[test]
fn the_page_holds_two_ipcs_one_resume_and_no_other_kernel_call() {
    let page = trampoline::code_page();
    assert_eq!(page.as_ptr() as u64 % PAGE_SIZE as u64, 0);
    let words: Vec<u32> = page
        .chunks_exact(4)
        .map(|chunk| u32::from_le_bytes(chunk.try_into().unwrap()))
        .collect();
    let is_svc = |word: &&u32| **word & 0xFFE0_001F == 0xD400_0001;
    let mut calls: Vec<u32> = words.iter().filter(is_svc).copied().collect();
    calls.sort_unstable();
    assert_eq!(calls, [svc(1), svc(1), svc(5)]);
    // Code at each entry point, and zero words (udf #0) after the code up to the page end.
    for offset in [0, FORK_CHILD_OFFSET, ENTRY_OFFSET] {
        assert_ne!(words[offset as usize / 4], 0, "code at {offset:#x}");
    }
    let last = words.iter().rposition(|&word| word != 0).unwrap();
    assert!(last < words.len() - 1, "the code fills the whole page");
}

#[test]
fn start_finds_the_entry_sets_the_trampoline_path_and_clears_every_register() {
    let _machine = machine();
    set_trampoline_entry_word(0);
    let auxiliary = [(AT_PAGESZ, 4096), (AT_ENTRY, landing())];
    let (left, sp, stack) = run_start(TRAMPOLINE_START, &auxiliary);
    assert_eq!(left, LEFT_NORMALLY, "stopped at {:x?}", KERNEL.get().stop);
    assert_started_like_linux(&observed(), sp);
    assert_eq!(trampoline_entry_word(), ENTRY);
    // Nothing but the landing's own scratch word below SP changed on the stack.
    assert_eq!(stack.touched(4094..4200), Vec::<usize>::new());
}

#[test]
fn start_runs_anywhere_and_points_the_trampoline_entry_at_its_own_copy() {
    let _machine = machine();
    let page = trampoline::code_page().as_ptr() as u64;
    let auxiliary = [(AT_ENTRY, landing())];
    let (left, sp, _) = run_start(page, &auxiliary);
    assert_eq!(left, LEFT_NORMALLY, "stopped at {:x?}", KERNEL.get().stop);
    assert_started_like_linux(&observed(), sp);
    assert_eq!(trampoline_entry_word(), page + ENTRY_OFFSET);
}

#[test]
fn start_leaves_the_exception_path_with_no_trampoline_entry() {
    let _machine = machine();
    set_trampoline_entry_word(ENTRY);
    let path = SystemCallPath::ExceptionIpc.auxiliary_value();
    let auxiliary = [(protocol::AT_SYSTEM_CALL_PATH, path), (AT_ENTRY, landing())];
    let (left, sp, _) = run_start(TRAMPOLINE_START, &auxiliary);
    assert_eq!(left, LEFT_NORMALLY, "stopped at {:x?}", KERNEL.get().stop);
    assert_started_like_linux(&observed(), sp);
    assert_eq!(trampoline_entry_word(), 0);
}

#[test]
fn start_takes_the_trampoline_path_when_the_vector_names_it() {
    let _machine = machine();
    let path = SystemCallPath::Trampoline.auxiliary_value();
    let auxiliary = [(AT_ENTRY, landing()), (protocol::AT_SYSTEM_CALL_PATH, path)];
    let (left, _, _) = run_start(TRAMPOLINE_START, &auxiliary);
    assert_eq!(left, LEFT_NORMALLY, "stopped at {:x?}", KERNEL.get().stop);
    assert_eq!(trampoline_entry_word(), ENTRY);
}

#[test]
fn start_without_an_entry_or_with_an_unknown_path_stops_at_a_breakpoint() {
    let _machine = machine();
    let (left, _, _) = run_start(TRAMPOLINE_START, &[(AT_PAGESZ, 4096)]);
    assert_eq!(left, LEFT_BY_BRK | u64::from(breakpoint::MISSING_ENTRY));
    let auxiliary = [(AT_ENTRY, landing()), (protocol::AT_SYSTEM_CALL_PATH, 7)];
    let (left, _, _) = run_start(TRAMPOLINE_START, &auxiliary);
    assert_eq!(
        left,
        LEFT_BY_BRK | u64::from(breakpoint::UNKNOWN_SYSTEM_CALL_PATH)
    );
    let stop_pc = KERNEL.get().stop.unwrap().0;
    assert!((TRAMPOLINE_CODE..TRAMPOLINE_CODE + PAGE_SIZE as u64).contains(&stop_pc));
}

/// Runs the stand-in `svc #0` with `number` in x8 and distinct values everywhere else,
/// through the trampoline at ENTRY. Returns how the run ended, the input, and the stack.
fn system_call(number: u64) -> (u64, State, TestStack) {
    set_trampoline_entry_word(ENTRY);
    let stack = TestStack::new();
    let mut input = State::distinct(stack.address(4096));
    input.x[8] = number;
    *HARNESS_INPUT.get() = input;
    let left = run_system_call();
    (left, input, stack)
}

/// The ipc the trampoline made for `input`: the SystemCall to the server, waiting for it.
fn expected_call(input: &State) -> [u64; 11] {
    let call = SystemCall {
        number: input.x[8],
        arguments: [
            input.x[0], input.x[1], input.x[2], input.x[3], input.x[4], input.x[5],
        ],
    };
    let words = call.words();
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

/// The state after the call: the input with x0 = `result`.
fn assert_resumed_with(input: &State, result: u64) {
    let mut expected = *input;
    expected.x[0] = result;
    let after = observed();
    assert_eq!(after, expected);
}

#[test]
fn a_system_call_reaches_the_server_and_returns_its_result_with_every_other_register_intact() {
    let _machine = machine();
    script(&[Reply::answer(Answer::Result(4242))]);
    let (left, input, stack) = system_call(172);
    assert_eq!(left, LEFT_NORMALLY, "stopped at {:x?}", KERNEL.get().stop);
    let kernel = KERNEL.get();
    assert_eq!(kernel.ipc_calls, [expected_call(&input)]);
    assert_eq!(
        kernel.exchange_calls,
        [[CLIENT, ExchangeControl::RESUME_REFLECTED_TRAP.bits()]]
    );
    assert_resumed_with(&input, 4242);
    // The resumed PC was right after the svc, and no stack word was touched but the
    // harness's own scratch below SP.
    assert_eq!(
        kernel.reflections[0][32],
        harness_after_system_call as *const () as u64
    );
    assert_eq!(stack.touched(4094..4096), Vec::<usize>::new());
    // Not a fork: the save area stays untouched.
    assert_eq!(save_area_word(save_area::TRAMPOLINE_ENTRY), 0);
    assert_eq!(save_area_word(save_area::THREAD_POINTER), 0);
}

#[test]
fn a_negative_result_comes_back_as_is() {
    let _machine = machine();
    let enoent = linux_abi::errno::Errno::ENOENT.as_return();
    script(&[Reply::answer(Answer::Result(enoent))]);
    let (left, input, _) = system_call(56);
    assert_eq!(left, LEFT_NORMALLY, "stopped at {:x?}", KERNEL.get().stop);
    assert_resumed_with(&input, enoent);
}

#[test]
fn without_a_server_the_call_fails_with_enosys_and_nothing_is_sent() {
    let _machine = machine();
    set_utcb_word(Utcb::OFFSET_PAGER, ThreadId::NIL.raw());
    let (left, input, _) = system_call(172);
    assert_eq!(left, LEFT_NORMALLY, "stopped at {:x?}", KERNEL.get().stop);
    assert!(KERNEL.get().ipc_calls.is_empty());
    assert_resumed_with(&input, trampoline::SERVER_UNREACHABLE_RESULT);
}

#[test]
fn a_server_that_is_gone_makes_the_call_fail_with_enosys() {
    let _machine = machine();
    script(&[Reply::Failure(CallError::SendNonexistentPartner)]);
    let (left, input, _) = system_call(63);
    assert_eq!(left, LEFT_NORMALLY, "stopped at {:x?}", KERNEL.get().stop);
    assert_eq!(KERNEL.get().ipc_calls.len(), 1);
    assert_resumed_with(&input, trampoline::SERVER_UNREACHABLE_RESULT);
}

#[test]
fn a_cancelled_send_is_sent_again_from_the_saved_frame() {
    let _machine = machine();
    script(&[
        Reply::Failure(CallError::SendCancelled),
        Reply::answer(Answer::Result(7)),
    ]);
    let (left, input, _) = system_call(64);
    assert_eq!(left, LEFT_NORMALLY, "stopped at {:x?}", KERNEL.get().stop);
    let call = expected_call(&input);
    assert_eq!(KERNEL.get().ipc_calls, [call, call]);
    assert_resumed_with(&input, 7);
}

#[test]
fn a_cancelled_receive_only_waits_again_for_the_answer() {
    let _machine = machine();
    script(&[
        Reply::Failure(CallError::ReceiveCancelled),
        Reply::answer(Answer::Result(9)),
    ]);
    let (left, input, _) = system_call(64);
    assert_eq!(left, LEFT_NORMALLY, "stopped at {:x?}", KERNEL.get().stop);
    let calls = &KERNEL.get().ipc_calls;
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0], expected_call(&input));
    // No send phase (nil destination), a closed wait on the server, never timing out.
    assert_eq!(calls[1][8], ThreadId::NIL.raw());
    assert_eq!(calls[1][9], SERVER);
    assert_eq!(calls[1][10], Timeouts::NEVER.to_register());
    assert_resumed_with(&input, 9);
}

#[test]
fn an_answer_that_is_not_one_stops_at_a_breakpoint() {
    let _machine = machine();
    let unknown_label = MessageTag::new(0x1234, 1, 0).unwrap().raw();
    let two_words = MessageTag::new(protocol::RESULT_LABEL, 2, 0).unwrap().raw();
    for tag in [unknown_label, two_words] {
        script(&[Reply::Message(tag, 5)]);
        KERNEL.get().next_reply = 0;
        let (left, _, _) = system_call(172);
        assert_eq!(left, LEFT_BY_BRK | u64::from(breakpoint::UNKNOWN_ANSWER));
    }
}

#[test]
fn a_refused_resume_stops_at_a_breakpoint() {
    let _machine = machine();
    script(&[Reply::answer(Answer::Result(0))]);
    KERNEL.get().refuse_exchange = Some(CallError::InvalidArgument);
    let (left, _, _) = system_call(172);
    assert_eq!(left, LEFT_BY_BRK | u64::from(breakpoint::RESUME_REFUSED));
}

#[test]
fn an_exec_answer_starts_the_new_program_on_its_stack() {
    let _machine = machine();
    let mut new_stack = TestStack::new();
    let (new_sp, _) = initial_stack(&mut new_stack, 6000, &[(AT_ENTRY, landing())]);
    script(&[Reply::answer(Answer::Exec {
        stack_pointer: new_sp,
    })]);
    let (left, _, _) = system_call(221);
    assert_eq!(left, LEFT_NORMALLY, "stopped at {:x?}", KERNEL.get().stop);
    assert!(KERNEL.get().exchange_calls.is_empty());
    assert_started_like_linux(&observed(), new_sp);
    assert_eq!(trampoline_entry_word(), ENTRY);
}

#[test]
fn clone_saves_the_parent_and_the_child_resumes_with_zero_and_the_parents_registers() {
    let _machine = machine();
    let child_pid = 77;
    script(&[Reply::answer(Answer::Result(child_pid))]);
    // The stack lives on: the child resumes on it.
    let (left, input, _stack) = system_call(220);
    assert_eq!(left, LEFT_NORMALLY, "stopped at {:x?}", KERNEL.get().stop);
    assert_resumed_with(&input, child_pid);
    // The save area holds the frame at the svc, the FP/SIMD state and the parent's
    // trampoline_entry.
    let frame = KERNEL.get().reflections[0];
    for (index, &word) in frame.iter().enumerate() {
        let saved = save_area_word(save_area::FRAME + 8 * index as u64);
        assert_eq!(saved, word, "frame word {index}");
    }
    for (index, &register) in input.q.iter().enumerate() {
        let saved = peek_quadword(SAVE_AREA + save_area::FP + 16 * index as u64);
        assert_eq!(saved, register, "q{index}");
    }
    assert_eq!(save_area_word(save_area::FPSR), input.fpsr);
    assert_eq!(save_area_word(save_area::FPCR), input.fpcr);
    assert_eq!(save_area_word(save_area::TRAMPOLINE_ENTRY), ENTRY);
    assert_eq!(save_area_word(save_area::THREAD_POINTER), input.tpidr);

    // The child: a fresh UTCB (no trampoline entry, garbage where the frame goes) and
    // registers that are not its parent's, TPIDR_EL0 included; the server starts it at
    // fork_child.
    set_trampoline_entry_word(0);
    set_reflected_trap([0xBAD; 34]);
    let mut garbage = State::distinct(0x1000);
    garbage.q = [0x1234; 32];
    garbage.fpcr = 0;
    garbage.fpsr = 0;
    garbage.tpidr = 0;
    *HARNESS_INPUT.get() = garbage;
    *HARNESS_TARGET.get() = TRAMPOLINE_FORK_CHILD;
    let left = run();
    assert_eq!(left, LEFT_NORMALLY, "stopped at {:x?}", KERNEL.get().stop);
    assert_resumed_with(&input, 0);
    assert_eq!(trampoline_entry_word(), ENTRY);
}

#[test]
fn clone3_saves_the_parent_too() {
    let _machine = machine();
    script(&[Reply::answer(Answer::Result(5))]);
    let (left, input, _) = system_call(435);
    assert_eq!(left, LEFT_NORMALLY, "stopped at {:x?}", KERNEL.get().stop);
    assert_resumed_with(&input, 5);
    assert_eq!(save_area_word(8 * 8), 435);
}

#[test]
fn a_child_of_an_exception_path_parent_keeps_no_trampoline_entry() {
    let _machine = machine();
    // The server wrote the save area for a path (c) parent: a frame, zero FP state, a zero
    // trampoline_entry, and a thread pointer (here the test's own, which its signal handler
    // needs).
    let mut frame = [0u64; 34];
    let stack = TestStack::new();
    for (index, word) in frame.iter_mut().enumerate().take(31) {
        *word = 0x1000 + index as u64;
    }
    frame[31] = stack.address(4096);
    frame[32] = harness_after_system_call as *const () as u64;
    frame[33] = 0x6000_0000;
    for (index, &word) in frame.iter().enumerate() {
        set_save_area_word(8 * index as u64, word);
    }
    set_save_area_word(save_area::THREAD_POINTER, read_tpidr());
    set_trampoline_entry_word(ENTRY);
    let mut input = State::distinct(0x1000);
    input.tpidr = 0;
    *HARNESS_INPUT.get() = input;
    *HARNESS_TARGET.get() = TRAMPOLINE_FORK_CHILD;
    let left = run();
    assert_eq!(left, LEFT_NORMALLY, "stopped at {:x?}", KERNEL.get().stop);
    let after = observed();
    assert_eq!(after.x[0], 0);
    assert_eq!(after.x[1..], frame[1..31]);
    assert_eq!(after.sp, frame[31]);
    assert_eq!(after.nzcv, 0x6000_0000);
    assert_eq!(after.q, [0; 32]);
    assert_eq!(after.tpidr, read_tpidr());
    assert_eq!(trampoline_entry_word(), 0);
}
