//! The library's asm: the ipc to the server, the same ipc with the caller's state saved for
//! a fork child, the jump to a new program, and the stops.
//!
//! Register contract of the ipc (docs/kernel-api.md, "ipc"): x0 = [`SystemCall::TAG`],
//! x1 = the Linux number, x2..x7 = the arguments, x8 = x9 = the server (send, then a closed
//! wait for its answer), x10 = [`Timeouts::NEVER`]; back come x0 = the answer's tag,
//! x1 = its MR1, x9 = the error code (0 = success). x10..x30, SP, the flags and the FP/SIMD
//! registers survive the call; like libl4's stubs, these let the compiler assume x10..x17
//! changed too. Both return the reply in the shape [`crate::outcome`] takes: (MR0, MR1), or
//! ([`MessageTag::ERROR`], error code) for a failed ipc.

use abi::utcb::Utcb;
use abi::{Call, MessageTag, ThreadId, Timeouts};
use protocol::{SystemCall, save_area};

use crate::outcome::CHILD_RESULT_TAG;

/// MR0 and MR1 of a reply, or [`MessageTag::ERROR`] and the error code.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reply {
    /// MR0, or [`MessageTag::ERROR`].
    pub tag: u64,
    /// MR1, or the error code.
    pub word: u64,
}

impl Reply {
    /// The reply in x0, x1 with x9 = the error code.
    fn from_registers(tag: u64, word: u64, error: u64) -> Reply {
        if error == 0 {
            Reply { tag, word }
        } else {
            Reply {
                tag: MessageTag::ERROR.raw(),
                word: error,
            }
        }
    }
}

/// The word at `offset` in the running thread's UTCB.
///
/// # Safety
///
/// The thread must have a UTCB, as every thread on our kernel does (TPIDRRO_EL0 = its
/// address); `offset` must be a word of it.
pub(crate) unsafe fn utcb_word(offset: usize) -> u64 {
    let utcb: u64;
    // SAFETY: reading TPIDRRO_EL0 has no side effects.
    unsafe {
        core::arch::asm!(
            "mrs {utcb}, tpidrro_el0",
            utcb = out(reg) utcb,
            options(nomem, nostack, preserves_flags),
        )
    };
    // SAFETY: the caller guarantees the UTCB and the offset; the kernel writes some of its
    // words, hence the volatile read.
    unsafe { core::ptr::with_exposed_provenance::<u64>(utcb as usize + offset).read_volatile() }
}

/// The server: the thread's pager, mirrored in its UTCB.
///
/// # Safety
///
/// As for [`utcb_word`]: the thread has a UTCB.
pub(crate) unsafe fn server() -> ThreadId {
    // SAFETY: passed on to the caller.
    ThreadId::from_raw(unsafe { utcb_word(Utcb::OFFSET_PAGER) })
}

/// The system call by `svc #0`, as an unmodified program makes it (reflected to the
/// trampoline, or sent as an exception message): for `execve`, whose answer must land in
/// code that survives the exec (the trampoline page), not in this library, which the exec
/// unmaps with the rest of the old program.
///
/// # Safety
///
/// As for [`system_call`](crate::system_call).
pub(crate) unsafe fn trap(number: u64, arguments: [u64; 6]) -> u64 {
    let [first, second, third, fourth, fifth, sixth] = arguments;
    let result: u64;
    // SAFETY: `svc #0` is a Linux system call; the kernel and the server preserve every
    // register but x0; what the call does is the caller's obligation.
    unsafe {
        core::arch::asm!(
            "svc #0",
            inlateout("x0") first => result,
            in("x1") second,
            in("x2") third,
            in("x3") fourth,
            in("x4") fifth,
            in("x5") sixth,
            in("x8") number,
            options(nostack),
        )
    };
    result
}

/// Sends the system call to `server` and waits for its answer.
///
/// # Safety
///
/// The server performs the call in this process: it must not break memory Rust relies on
/// (see [`crate::system_call`]).
pub(crate) unsafe fn call(server: ThreadId, number: u64, arguments: [u64; 6]) -> Reply {
    let tag: u64;
    let word: u64;
    let error: u64;
    // SAFETY: the ipc registers as documented above; the kernel returns to the next
    // instruction with x0..x9 as results and x10..x30, SP, flags and FP/SIMD preserved; the
    // effects of the system call are the caller's obligation.
    unsafe {
        core::arch::asm!(
            "svc #{ipc}",
            ipc = const Call::Ipc.number(),
            inout("x0") SystemCall::TAG.raw() => tag,
            inout("x1") number => word,
            inout("x2") arguments[0] => _,
            inout("x3") arguments[1] => _,
            inout("x4") arguments[2] => _,
            inout("x5") arguments[3] => _,
            inout("x6") arguments[4] => _,
            inout("x7") arguments[5] => _,
            inout("x8") server.raw() => _,
            inout("x9") server.raw() => error,
            inout("x10") Timeouts::NEVER.to_register() => _,
            lateout("x11") _,
            lateout("x12") _,
            lateout("x13") _,
            lateout("x14") _,
            lateout("x15") _,
            lateout("x16") _,
            lateout("x17") _,
            options(nostack),
        );
    }
    Reply::from_registers(tag, word, error)
}

/// Waits for the answer to a call the server already has (after a cancelled receive).
///
/// # Safety
///
/// As for [`call`]: the answer may be the end of a call that changed the process.
pub(crate) unsafe fn receive(server: ThreadId) -> Reply {
    let tag: u64;
    let word: u64;
    let error: u64;
    // SAFETY: a receive-only ipc (nil destination, closed wait on the server); otherwise as
    // in `call`.
    unsafe {
        core::arch::asm!(
            "svc #{ipc}",
            ipc = const Call::Ipc.number(),
            lateout("x0") tag,
            lateout("x1") word,
            lateout("x2") _,
            lateout("x3") _,
            lateout("x4") _,
            lateout("x5") _,
            lateout("x6") _,
            lateout("x7") _,
            inout("x8") ThreadId::NIL.raw() => _,
            inout("x9") server.raw() => error,
            inout("x10") Timeouts::NEVER.to_register() => _,
            lateout("x11") _,
            lateout("x12") _,
            lateout("x13") _,
            lateout("x14") _,
            lateout("x15") _,
            lateout("x16") _,
            lateout("x17") _,
            options(nostack),
        );
    }
    Reply::from_registers(tag, word, error)
}

/// The ipc of a call that creates a process from this one (`clone`, `clone3`), with this
/// thread's state stored in the save area first, so that the child can start from it.
///
/// The frame saved is the state at this function's entry, with the PC at its child exit:
/// x0..x30 as they are (the callee-saved x19..x29, the return address x30), SP, PSTATE 0
/// (no flag survives a call), all of Q0..Q31 (so D8..D15, the callee-saved part, with them),
/// FPSR, FPCR, the UTCB's `trampoline_entry` and TPIDR_EL0. The child, started by the
/// trampoline's fork_child from that frame, executes the child exit: it returns from this
/// function to the same caller, on the same stack, with the reply of an `Answer::Result(0)`.
/// The parent returns with the server's reply. The function never touches the stack, so
/// the stack the child finds is the parent's at the call.
///
/// # Safety
///
/// As for [`call`]; the child continues in a copy of the address space, or, with
/// `CLONE_VM`, in the same one (then the parent must not run until the child has left it,
/// as with `vfork`). A new stack for the child (`clone`'s second argument) cannot work:
/// the child returns into its caller's frame, which is on the old stack.
#[unsafe(naked)]
#[allow(clippy::too_many_arguments)] // The eight argument registers of the ipc, in order.
pub(crate) unsafe extern "C" fn forking_call(
    server: u64,
    number: u64,
    argument0: u64,
    argument1: u64,
    argument2: u64,
    argument3: u64,
    argument4: u64,
    argument5: u64,
) -> Reply {
    core::arch::naked_asm!(
        ".arch_extension fp",
        ".arch_extension simd",
        "mrs x16, tpidrro_el0",
        "movz x17, #{save_area_0}",
        "movk x17, #{save_area_1}, lsl #16",
        "movk x17, #{save_area_2}, lsl #32",
        "movk x17, #{save_area_3}, lsl #48",
        "stp x0, x1, [x17, #{frame} + 0]",
        "stp x2, x3, [x17, #{frame} + 16]",
        "stp x4, x5, [x17, #{frame} + 32]",
        "stp x6, x7, [x17, #{frame} + 48]",
        "stp x8, x9, [x17, #{frame} + 64]",
        "stp x10, x11, [x17, #{frame} + 80]",
        "stp x12, x13, [x17, #{frame} + 96]",
        "stp x14, x15, [x17, #{frame} + 112]",
        "stp x16, x17, [x17, #{frame} + 128]",
        "stp x18, x19, [x17, #{frame} + 144]",
        "stp x20, x21, [x17, #{frame} + 160]",
        "stp x22, x23, [x17, #{frame} + 176]",
        "stp x24, x25, [x17, #{frame} + 192]",
        "stp x26, x27, [x17, #{frame} + 208]",
        "stp x28, x29, [x17, #{frame} + 224]",
        "mov x9, sp",
        "stp x30, x9, [x17, #{frame} + 240]",
        "adr x9, 3f",
        "stp x9, xzr, [x17, #{frame} + 256]",
        "add x9, x17, #{fp}",
        "stp q0, q1, [x9, #0]",
        "stp q2, q3, [x9, #32]",
        "stp q4, q5, [x9, #64]",
        "stp q6, q7, [x9, #96]",
        "stp q8, q9, [x9, #128]",
        "stp q10, q11, [x9, #160]",
        "stp q12, q13, [x9, #192]",
        "stp q14, q15, [x9, #224]",
        "stp q16, q17, [x9, #256]",
        "stp q18, q19, [x9, #288]",
        "stp q20, q21, [x9, #320]",
        "stp q22, q23, [x9, #352]",
        "stp q24, q25, [x9, #384]",
        "stp q26, q27, [x9, #416]",
        "stp q28, q29, [x9, #448]",
        "stp q30, q31, [x9, #480]",
        "mrs x9, fpsr",
        "str x9, [x17, #{fpsr}]",
        "mrs x9, fpcr",
        "str x9, [x17, #{fpcr}]",
        "ldr x9, [x16, #{utcb_trampoline_entry}]",
        "str x9, [x17, #{trampoline_entry}]",
        "mrs x9, tpidr_el0",
        "str x9, [x17, #{thread_pointer}]",
        // The ipc: x1..x7 already hold the number and the arguments.
        "mov x8, x0",
        "mov x9, x0",
        "movz x0, #{tag_0}",
        "movk x0, #{tag_1}, lsl #16",
        "movk x0, #{tag_2}, lsl #32",
        "movk x0, #{tag_3}, lsl #48",
        "movz x10, #{never_0}",
        "movk x10, #{never_1}, lsl #16",
        "movk x10, #{never_2}, lsl #32",
        "movk x10, #{never_3}, lsl #48",
        "svc #{ipc}",
        "cbz x9, 2f",
        "mov x0, #{error_tag}",
        "mov x1, x9",
        "2:",
        "ret",
        // The child's exit: an Answer::Result(0).
        "3:",
        "mov x0, #{result_tag}",
        "mov x1, #0",
        "ret",
        save_area_0 = const protocol::layout::SAVE_AREA & 0xFFFF,
        save_area_1 = const (protocol::layout::SAVE_AREA >> 16) & 0xFFFF,
        save_area_2 = const (protocol::layout::SAVE_AREA >> 32) & 0xFFFF,
        save_area_3 = const (protocol::layout::SAVE_AREA >> 48) & 0xFFFF,
        frame = const save_area::FRAME,
        fp = const save_area::FP,
        fpsr = const save_area::FPSR,
        fpcr = const save_area::FPCR,
        trampoline_entry = const save_area::TRAMPOLINE_ENTRY,
        thread_pointer = const save_area::THREAD_POINTER,
        utcb_trampoline_entry = const Utcb::OFFSET_TRAMPOLINE_ENTRY,
        tag_0 = const SystemCall::TAG.raw() & 0xFFFF,
        tag_1 = const (SystemCall::TAG.raw() >> 16) & 0xFFFF,
        tag_2 = const (SystemCall::TAG.raw() >> 32) & 0xFFFF,
        tag_3 = const (SystemCall::TAG.raw() >> 48) & 0xFFFF,
        never_0 = const Timeouts::NEVER.to_register() & 0xFFFF,
        never_1 = const (Timeouts::NEVER.to_register() >> 16) & 0xFFFF,
        never_2 = const (Timeouts::NEVER.to_register() >> 32) & 0xFFFF,
        never_3 = const (Timeouts::NEVER.to_register() >> 48) & 0xFFFF,
        ipc = const Call::Ipc.number(),
        error_tag = const MessageTag::ERROR.raw(),
        result_tag = const CHILD_RESULT_TAG,
    )
}

// The frame's last pair (PC, PSTATE) is within reach of `stp`'s immediate (504), and the
// unsigned offsets of `str` and `add` hold the rest.
const _: () = assert!(save_area::FRAME + 256 <= 504);
const _: () = assert!(save_area::FP < 4096 && save_area::THREAD_POINTER < 8 * 4096);
// `mov` of a 16-bit immediate.
const _: () = assert!(MessageTag::ERROR.raw() < 0x1_0000 && CHILD_RESULT_TAG < 0x1_0000);

/// Continues at the trampoline's start with `stack_pointer`: what the answer to a successful
/// `execve` asks. The calling program is gone.
pub(crate) fn exec(stack_pointer: u64) -> ! {
    // SAFETY: nothing of the calling program is used again: the server replaced the address
    // space; the new program's start-up code needs only SP.
    unsafe {
        core::arch::asm!(
            "mov sp, {stack_pointer}",
            "br {start}",
            stack_pointer = in(reg) stack_pointer,
            start = in(reg) protocol::layout::TRAMPOLINE_START,
            options(noreturn),
        )
    }
}

/// Stops at `brk #IMMEDIATE`, again and again: the server, the thread's exception handler,
/// sees an exception message with the immediate in ESR (a thread without a handler is halted
/// by the kernel).
pub(crate) fn stop<const IMMEDIATE: u16>() -> ! {
    loop {
        // SAFETY: `brk` only raises an exception; the loop never returns whatever the handler
        // does with the thread.
        unsafe {
            core::arch::asm!("brk #{immediate}", immediate = const IMMEDIATE, options(nomem, nostack))
        };
    }
}
