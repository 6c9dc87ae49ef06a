//! The user-side call stubs: the only place libl4 executes `svc`, and the only asm in it.
//!
//! One stub per kernel call, each `svc #N` with the immediate `N` from
//! [`abi::Call::number`] (the kernel reads the call number from ESR_EL1.ISS, so it must be
//! an immediate, not a register). The stubs do no encoding: they take the argument
//! registers an `abi` `…Arguments::encode` built and return the result registers for its
//! `…ReturnValues::decode`.
//!
//! Register contract (docs/kernel-api.md, "Registers"):
//!
//! | registers | in                    | out                                     |
//! |-----------|-----------------------|-----------------------------------------|
//! | x0..x9    | arguments x0..x9      | results, x9 = error code                |
//! | x10       | argument x10          | preserved by the kernel                 |
//! | x11..x17  | -                     | preserved by the kernel                 |
//! | x18..x30, SP_EL0, NZCV, FP/SIMD | - | preserved by the kernel              |
//!
//! The stubs are conservative and let the compiler assume x10..x17 and the flags are
//! clobbered too, so a kernel that broke its promise there could not corrupt a value the
//! compiler kept in them. x18..x30 are trusted to survive, as the kernel's trap entry saves
//! and restores them in one frame: the compiler keeps values in them across a call (on
//! `aarch64-unknown-none` x18 is an ordinary register), and x19 and x29 could not be named
//! as operands anyway. No stub uses the stack (`nostack`), but every one may read and write
//! memory: ipc writes the UTCB's message registers and maps pages, kernel_debug_write reads
//! the UTCB, lthread_ex_regs and task_new change threads and address spaces.
//!
//! Thread-local state is found without a call: [`read_utcb_address`] reads TPIDRRO_EL0, which
//! the kernel sets to the running thread's UTCB.

use abi::{Call, CallRegisters, ReturnRegisters};

/// Defines one stub: `svc #call.number()` with x0..x10 in and x0..x9 out.
macro_rules! kernel_call_stub {
    ($(#[$documentation:meta])* $name:ident => $call:expr) => {
        $(#[$documentation])*
        ///
        /// # Safety
        ///
        /// The kernel performs the call as given. The caller must make sure that its effects
        /// on the calling task cannot invalidate memory that Rust code relies on: pages
        /// mapped, granted away or unmapped, UTCB words rewritten, threads of the task
        /// halted, redirected or given a new stack (the call's section of
        /// docs/kernel-api.md lists what it can do).
        #[inline(always)]
        pub unsafe fn $name(arguments: &CallRegisters) -> ReturnRegisters {
            let mut results: ReturnRegisters = [0; 10];
            // SAFETY: `svc` enters the kernel, which returns to the next instruction with
            // x0..x9 as the results and every other register preserved; the operands below
            // tell the compiler that x0..x17 and the flags may have changed and that memory
            // may have been read and written. What the call does to the task is the
            // caller's obligation (see `# Safety`).
            unsafe {
                core::arch::asm!(
                    "svc #{number}",
                    number = const $call.number(),
                    inout("x0") arguments[0] => results[0],
                    inout("x1") arguments[1] => results[1],
                    inout("x2") arguments[2] => results[2],
                    inout("x3") arguments[3] => results[3],
                    inout("x4") arguments[4] => results[4],
                    inout("x5") arguments[5] => results[5],
                    inout("x6") arguments[6] => results[6],
                    inout("x7") arguments[7] => results[7],
                    inout("x8") arguments[8] => results[8],
                    inout("x9") arguments[9] => results[9],
                    inout("x10") arguments[10] => _,
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
            results
        }
    };
}

kernel_call_stub!(
    /// ipc, `svc #1`: send and/or receive a message (`abi::call::ipc`).
    ipc => Call::Ipc
);
kernel_call_stub!(
    /// id_nearest, `svc #2`: where a message to a destination would go
    /// (`abi::call::id_nearest`).
    id_nearest => Call::IdNearest
);
kernel_call_stub!(
    /// fpage_unmap, `svc #3`: take back mappings derived from the caller's pages
    /// (`abi::call::fpage_unmap`).
    fpage_unmap => Call::FpageUnmap
);
kernel_call_stub!(
    /// thread_switch, `svc #4`: give the processor to another thread, or yield
    /// (`abi::call::thread_switch`).
    thread_switch => Call::ThreadSwitch
);
kernel_call_stub!(
    /// lthread_ex_regs, `svc #5`: create, halt, resume, redirect a thread
    /// (`abi::call::lthread_ex_regs`). With `RESUME_REFLECTED_TRAP` it does not return.
    lthread_ex_regs => Call::LthreadExRegs
);
kernel_call_stub!(
    /// thread_schedule, `svc #6`: scheduling parameters and consumed time
    /// (`abi::call::thread_schedule`).
    thread_schedule => Call::ThreadSchedule
);
kernel_call_stub!(
    /// task_new, `svc #7`: create, delete or hand over a task (`abi::call::task_new`).
    task_new => Call::TaskNew
);
kernel_call_stub!(
    /// kernel_debug_write, `svc #0xF001`: write the first x0 bytes of the caller's UTCB to
    /// the kernel console (`abi::call::kernel_debug_write`).
    kernel_debug_write => Call::KernelDebugWrite
);
kernel_call_stub!(
    /// system_power_off, `svc #0xF003`: turn the machine off; only tasks chiefed by the
    /// kernel may (`docs/kernel-api.md`).
    system_power_off => Call::SystemPowerOff
);

/// The address of the running thread's UTCB: TPIDRRO_EL0, which the kernel sets on every
/// switch to a thread. EL0 can read the register but not write it.
#[inline(always)]
pub fn read_utcb_address() -> u64 {
    let address: u64;
    // SAFETY: reading TPIDRRO_EL0 is permitted at EL0 and has no side effects; it touches
    // neither memory nor the stack nor the flags.
    unsafe {
        core::arch::asm!(
            "mrs {address}, tpidrro_el0",
            address = out(reg) address,
            options(nomem, nostack, preserves_flags),
        );
    }
    address
}
