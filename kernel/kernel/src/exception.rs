//! Exception entry from vectors.s: IRQs go to the interrupt dispatcher, exceptions from EL0 to
//! the kernel core (`system.rs`) once it runs; anything the kernel does not expect is
//! reported, decoded, and the kernel stops.
//!
//! The report names the vector taken, the exception class and fault status decoded from
//! ESR_EL1, FAR_EL1 (when valid), ELR_EL1, SPSR_EL1 and all general registers, so that a
//! kernel bug can be understood from the serial log alone. While the kernel core runs, every
//! EL0 exception and IRQ goes to `system::from_user`; the user-* test scenarios, which run
//! EL0 code without the core, use `user_mode`'s small dispatcher instead. An FIQ or SError
//! from EL0 is still fatal: neither is used, so either means a broken machine or kernel.

use aarch64::exception::{SavedProgramStatus, Syndrome};
use aarch64::trap_frame::TrapFrame;
use kcore::kernel::UserContext;

use crate::console::print_in_emergency;

/// Which of the 16 vector entries was taken (the `kind` vectors.s passes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Vector {
    CurrentElSpEl0(Kind),
    CurrentElSpElx(Kind),
    LowerElAarch64(Kind),
    LowerElAarch32(Kind),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Synchronous,
    Irq,
    Fiq,
    SError,
}

impl Vector {
    fn from_entry(entry: u64) -> Self {
        let kind = match entry % 4 {
            0 => Kind::Synchronous,
            1 => Kind::Irq,
            2 => Kind::Fiq,
            _ => Kind::SError,
        };
        match entry / 4 {
            0 => Self::CurrentElSpEl0(kind),
            1 => Self::CurrentElSpElx(kind),
            2 => Self::LowerElAarch64(kind),
            _ => Self::LowerElAarch32(kind),
        }
    }

    fn describe(self) -> (&'static str, Kind) {
        match self {
            Self::CurrentElSpEl0(kind) => ("EL1 with SP_EL0", kind),
            Self::CurrentElSpElx(kind) => ("EL1", kind),
            Self::LowerElAarch64(kind) => ("EL0 (AArch64)", kind),
            Self::LowerElAarch32(kind) => ("EL0 (AArch32)", kind),
        }
    }
}

/// Called by vectors.s for an exception taken at EL1, with the frame saved on the kernel
/// stack and the vector entry number (0..8).
#[unsafe(no_mangle)]
extern "C" fn handle_exception(frame: &mut TrapFrame, entry: u64) {
    match Vector::from_entry(entry) {
        Vector::CurrentElSpElx(Kind::Irq) => crate::interrupts::dispatch(),
        vector => fatal(vector, frame),
    }
}

/// Called by vectors.s for an exception from EL0 (vector entries 8..16), with the user
/// registers saved in `context` (the running thread's, or the test scaffolding's), ESR_EL1
/// and FAR_EL1. Never returns: it ends by resuming EL0 code, or stops the kernel.
#[unsafe(no_mangle)]
extern "C" fn handle_el0_exception(context: *mut UserContext, entry: u64, esr: u64, far: u64) -> ! {
    let vector = Vector::from_entry(entry);
    match vector {
        Vector::LowerElAarch64(Kind::Irq) if crate::system::is_running() => {
            crate::system::from_user(false, esr, far)
        }
        Vector::LowerElAarch64(Kind::Synchronous) if crate::system::is_running() => {
            crate::system::from_user(true, esr, far)
        }
        _ => {}
    }
    // SAFETY: vectors.s passes the context it saved into: the scaffolding's while the kernel
    // core does not run (handled below), valid and not otherwise referenced during this call.
    let saved = unsafe { &*context };
    let mut frame = TrapFrame {
        x: saved.x,
        sp_el0: saved.sp,
        elr: saved.pc,
        spsr: saved.pstate,
        esr,
        far,
    };
    match vector {
        Vector::LowerElAarch64(Kind::Irq) => {
            crate::interrupts::dispatch();
            crate::user_mode::handle_interrupted(&mut frame);
        }
        Vector::LowerElAarch64(Kind::Synchronous) => {
            crate::user_mode::handle_synchronous(&mut frame)
        }
        vector => fatal(vector, &frame),
    }
    crate::user_mode::enter_user(&frame)
}

fn fatal(vector: Vector, frame: &TrapFrame) -> ! {
    let (origin, kind) = vector.describe();
    let syndrome = Syndrome::new(frame.esr);
    print_in_emergency(format_args!(
        "\nKERNEL FAULT: {kind:?} exception from {origin}\n"
    ));
    if kind == Kind::Synchronous || kind == Kind::SError {
        print_in_emergency(format_args!("  cause: {syndrome}\n"));
    }
    let far = if syndrome.far_is_valid() {
        ""
    } else {
        " (not valid for this exception)"
    };
    print_in_emergency(format_args!(
        "  ESR_EL1  = {:#018x}\n  FAR_EL1  = {:#018x}{far}\n",
        frame.esr, frame.far
    ));
    print_in_emergency(format_args!(
        "  ELR_EL1  = {:#018x}\n  SPSR_EL1 = {:#010x} ({})\n  SP_EL0   = {:#018x}\n",
        frame.elr,
        frame.spsr,
        SavedProgramStatus::new(frame.spsr),
        frame.sp_el0
    ));
    print_in_emergency(format_args!("{}\n", frame.general_registers()));
    crate::stop("kernel stopped after a fatal exception")
}
