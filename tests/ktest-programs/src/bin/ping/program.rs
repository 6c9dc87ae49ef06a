//! ping's behaviour; built only for the bare-metal target (see main.rs).

use abi::Timeouts;
use ktest_programs::{
    ANSWER_LABEL, CALLS, DONE_LABEL, EXCEPTION_ANSWER, FAULT_ADDRESS, FP_CHECK_LABEL,
    FP_FILL_LABEL, LINUX_GETPID, PING, PONG, RAISE_INTERRUPT_CALL, REQUEST_LABEL, SEED,
    TEST_INTERRUPT, TIMEOUT_MICROSECONDS, TRAMPOLINE_ANSWER,
};
use libl4::debug_println;

/// The program: what `_start` runs on thread 0.
pub fn main() {
    debug_println!("ping: start");
    for number in 0..CALLS {
        let answer = match libl4::call(PONG, REQUEST_LABEL, [number]) {
            Ok(answer) => answer,
            Err(error) => fail(format_args!("call {number}: {error}")),
        };
        let expected = number.wrapping_add(1);
        if answer.from != PONG
            || answer.tag.label() != ANSWER_LABEL
            || answer.tag.untyped_words() != 1
            || answer.words[0] != expected
        {
            fail(format_args!(
                "call {number}: expected {expected} from {:?}, got {:?} {:?} from {:?}",
                PONG, answer.tag, answer.words[0], answer.from
            ));
        }
    }
    debug_println!("ping: {CALLS} calls ok");
    fp_registers_survive_switches();

    let seed = FAULT_ADDRESS as *const u64;
    // SAFETY: nothing is mapped at FAULT_ADDRESS (it lies outside ping's image, stack and
    // UTCB), so the load faults and the kernel calls ping's pager, pong, which maps a page
    // of its own there; the load then completes. The address is 8-byte aligned, the page
    // belongs to no Rust object of ping's, and the read is volatile, so the compiler assumes
    // nothing about its contents.
    let value = unsafe { seed.read_volatile() };
    if value != SEED {
        fail(format_args!(
            "read {value:#x} at {FAULT_ADDRESS:#x}, expected {SEED:#x}"
        ));
    }
    debug_println!("ping: read {value:#x} through a user-level pager");

    // A closed wait for pong, which never sends on its own: the receive timeout must expire.
    let timeout =
        abi::Timeout::from_microseconds(TIMEOUT_MICROSECONDS).unwrap_or(abi::Timeout::ZERO);
    let timeouts = Timeouts {
        send: abi::Timeout::NEVER,
        receive: timeout,
    };
    match libl4::receive(abi::call::ipc::ReceiveSpecifier::From(PONG), timeouts) {
        Err(abi::ReturnError::Call(abi::CallError::ReceiveTimeout)) => {
            debug_println!("ping: a {TIMEOUT_MICROSECONDS} us receive timeout expired")
        }
        other => fail(format_args!("a receive with a timeout returned {other:?}")),
    }

    syscall_paths();
    interrupts();

    if let Err(error) = libl4::send(PONG, DONE_LABEL, [], Timeouts::NEVER) {
        fail(format_args!("sending done: {error}"));
    }
    debug_println!("KTEST-USER PASS");
}

/// Both ping and pong keep values in every FP/SIMD register across calls to each other:
/// the kernel switches the registers lazily, on the first FP instruction after a switch.
fn fp_registers_survive_switches() {
    const MINE: u64 = 0x0123_4567_89AB_CDEF;
    const PONGS: u64 = 0xFEDC_BA98_7654_3211;
    ktest_programs::fp::fill(MINE);
    for round in 0..3 {
        let label = if round == 0 {
            FP_FILL_LABEL
        } else {
            FP_CHECK_LABEL
        };
        match libl4::call(PONG, label, [PONGS]) {
            Ok(answer) if answer.tag.label() == ANSWER_LABEL && answer.words[0] == 1 => {}
            other => fail(format_args!("FP round {round}: pong answered {other:?}")),
        }
        if !ktest_programs::fp::holds(MINE) {
            fail(format_args!("FP round {round}: my FP registers changed"));
        }
    }
    debug_println!("ping: FP/SIMD registers survive switches");
}

fn fail(reason: core::fmt::Arguments<'_>) -> ! {
    debug_println!("ping: FAIL {reason}");
    libl4::halt_myself()
}

/// Two of the three ways a Linux system call reaches a server, both with an unmodified
/// `svc #0`: (c) as an exception message to the thread's exception handler, whose reply
/// sets x0; (a) reflected by the kernel to a trampoline in the caller's own space, which
/// forwards it by ipc and resumes the caller from the frame the kernel saved in the UTCB.
fn syscall_paths() {
    let exception_handler = abi::call::lthread_ex_regs::LthreadExRegsArguments {
        destination: PING,
        run: abi::call::lthread_ex_regs::RunControl::Unchanged,
        cancel_send: false,
        cancel_receive: false,
        stack_pointer: None,
        instruction_pointer: None,
        pager: None,
        exception_handler: Some(PONG),
        user_handle: None,
        resume_reflected_trap: false,
    };
    // SAFETY: only ping's exception handler changes; no memory or thread state Rust relies on.
    let results = unsafe { libl4::raw::lthread_ex_regs(&exception_handler.encode()) };
    if results[abi::call::ERROR_REGISTER] != 0 {
        fail(format_args!(
            "setting the exception handler: error {}",
            results[9]
        ));
    }
    let (result, kept) = linux_getpid();
    if result != EXCEPTION_ANSWER || kept != KEPT {
        fail(format_args!(
            "svc #0 as an exception: x0 = {result}, x19 = {kept:#x}"
        ));
    }
    debug_println!("ping: svc #0 became an exception message; its handler answered {result}");

    // SAFETY: the UTCB is ping's own; the trampoline entry is a word the kernel reads when it
    // reflects a `svc #0`, and `trampoline_entry` is an instruction address of this program.
    unsafe { (*libl4::utcb()).trampoline_entry = trampoline_entry as *const () as u64 };
    let (result, kept) = linux_getpid();
    // SAFETY: as above; back to exception messages for any later `svc #0`.
    unsafe { (*libl4::utcb()).trampoline_entry = 0 };
    if result != TRAMPOLINE_ANSWER || kept != KEPT {
        fail(format_args!(
            "svc #0 through the trampoline: x0 = {result}, x19 = {kept:#x}"
        ));
    }
    debug_println!("ping: svc #0 reflected to the trampoline and answered by pong: {result}");
}

/// A value in a callee-saved register across the `svc #0`, to see that it survives.
const KEPT: u64 = 0x1234_5678;

/// `svc #0` with x8 = getpid, as an unmodified Linux binary issues it; returns x0 and x19.
fn linux_getpid() -> (u64, u64) {
    let result: u64;
    let kept: u64;
    // SAFETY: the kernel turns the trap into an exception message or a trampoline call; either
    // way ping resumes after the `svc` with x0 set and every other register as it was (x19
    // saved and restored around the block, as the asm requires).
    unsafe {
        core::arch::asm!(
            "stp x19, x20, [sp, #-16]!",
            "mov x19, {kept}",
            "svc #0",
            "mov {kept_after}, x19",
            "ldp x19, x20, [sp], #16",
            kept = in(reg) KEPT,
            kept_after = lateout(reg) kept,
            in("x8") LINUX_GETPID,
            lateout("x0") result,
        )
    };
    (result, kept)
}

core::arch::global_asm!(
    ".global trampoline_entry",
    "trampoline_entry:",
    // The kernel put ping here with every register as at the `svc`: keep clear of the
    // interrupted code's stack below SP, then run the forwarding in Rust.
    "sub sp, sp, #256",
    "bl trampoline_forward",
    "brk #1",
);

unsafe extern "C" {
    fn trampoline_entry();
}

/// The trampoline's Rust half: forward the reflected system call to pong by ipc, put the
/// answer in the saved frame's x0, and resume the frame. Never returns.
#[unsafe(no_mangle)]
extern "C" fn trampoline_forward() -> ! {
    // SAFETY: the UTCB is ping's own; the kernel wrote the reflected frame before it started
    // the trampoline.
    let number = unsafe { (*libl4::utcb()).reflected_trap.x[8] };
    let answer = match libl4::call(PONG, number as u16, []) {
        Ok(answer) => answer.words[0],
        Err(error) => fail(format_args!("forwarding system call {number}: {error}")),
    };
    // SAFETY: as above; x0 of the saved frame is the system call's result.
    unsafe { (*libl4::utcb()).reflected_trap.x[0] = answer };
    let resume = abi::call::lthread_ex_regs::LthreadExRegsArguments::resume_reflected_trap(PING);
    // SAFETY: the kernel loads the saved frame (the state at the `svc`, with the new x0) and
    // continues there; this stack frame is abandoned, which is what a trampoline does.
    unsafe { libl4::raw::lthread_ex_regs(&resume.encode()) };
    fail(format_args!("resuming the reflected frame returned"))
}

/// Raise pong's interrupt twice (the test image's trigger), each time followed by a call, so
/// that pong handles the interrupt message, acknowledges it with its next receive, and
/// answers; the second delivery shows the line was unmasked again.
fn interrupts() {
    for round in 0..2u64 {
        let error: u64;
        // SAFETY: the test image's debug call only makes an interrupt pending; it touches no
        // memory of ping's.
        unsafe {
            core::arch::asm!(
                "svc #{call}",
                call = const RAISE_INTERRUPT_CALL,
                inout("x0") u64::from(TEST_INTERRUPT) => _,
                lateout("x9") error,
            )
        };
        if error != 0 {
            fail(format_args!(
                "raising interrupt {TEST_INTERRUPT}: error {error}"
            ));
        }
        match libl4::call(PONG, REQUEST_LABEL, [round]) {
            Ok(answer) if answer.words[0] == round + 1 => {}
            other => fail(format_args!("the call after interrupt {round}: {other:?}")),
        }
    }
    debug_println!("ping: raised interrupt {TEST_INTERRUPT} twice");
}
