//! Running code at EL0 and getting control back.
//!
//! Entering EL0 is returning from an exception that never happened: [`enter_user`] restores
//! a trap frame whose SPSR says EL0t with interrupts unmasked, with the kernel stack pointer
//! reset to the top of the stack, because no kernel state survives on the stack between
//! events (docs/design/kernel-core.md). Control comes back as an exception from the lower
//! Exception level: vectors.s saves the frame on the kernel stack, `exception.rs` hands it
//! here, and returning from the handler resumes EL0 with the (possibly changed) frame.
//!
//! **Test scaffolding.** The kernel core (`system.rs`) routes EL0 events whenever it runs;
//! the dispatcher here serves only the user-* test scenarios, which check EL0 entry, user
//! address spaces and ticks at EL0 without the core (they predate it; porting them onto the
//! core and deleting this dispatcher is a follow-up):
//!
//! - `svc #0xF001`, kernel_debug_write with x0 = user address and x1 = length (at most
//!   256; the ABI's final form reads the UTCB instead): the bytes, read with
//!   `user_space::copy_from_active_space`, are printed as `user: <text>` and x9 = 0; a
//!   buffer EL0 could not read itself is refused with `user: bad buffer ...` and x9 = 16
//!   (invalid argument).
//! - `svc #0xF002`, test only: exit with status x0. The supervisor hears
//!   [`UserEvent::Exited`].
//! - Every other exception from EL0 is reported in one line, `user fault: <syndrome> at
//!   pc=... far=...`, and the supervisor hears [`UserEvent::Faulted`].
//! - An IRQ taken from EL0 is dispatched like any IRQ; then the supervisor hears
//!   [`UserEvent::Interrupted`].
//!
//! The supervisor is a function a test scenario installs with [`set_supervisor`]: it may
//! return (the frame is resumed), enter other user code or end the run. When kcore's kernel
//! takes over, only [`enter_user`] and [`user_frame`] stay.

#![cfg_attr(
    not(feature = "ktest"),
    allow(
        dead_code,
        reason = "only the test scenarios run user code until kcore's kernel does"
    )
)]

use core::fmt;

use aarch64::exception::{ExceptionClass, Syndrome};
use aarch64::trap_frame::TrapFrame;
use spin::Mutex;

use crate::arch;
use crate::user_space::{BufferError, copy_from_active_space};

/// `svc` immediate of kernel_debug_write.
pub const DEBUG_WRITE: u16 = abi::call::Call::KernelDebugWrite.number();
/// `svc` immediate of the test-only exit call (in the ABI's debug range).
pub const TEST_EXIT: u16 = 0xF002;
/// The most bytes one kernel_debug_write prints.
pub const DEBUG_WRITE_LIMIT: usize = 256;

/// x9 after a call that succeeded.
const SUCCESS: u64 = abi::error::SUCCESS;
/// x9 after a call with a malformed argument.
const INVALID_ARGUMENT: u64 = abi::error::CallError::InvalidArgument.code();

/// The condition flags, SPSR_EL1 bits [31:28]: all of a user SPSR the kernel keeps.
const SPSR_CONDITION_FLAGS: u64 = 0xf << 28;

/// What EL0 did that the supervisor hears about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserEvent {
    /// The test-only exit call, with the status from x0.
    Exited {
        /// x0 at the call.
        status: u64,
    },
    /// Any exception other than the two calls (already reported on the console).
    Faulted {
        /// ESR_EL1.
        syndrome: Syndrome,
        /// The faulting instruction (for an `svc`, the `svc` itself).
        pc: u64,
        /// FAR_EL1, when the syndrome says it is valid.
        far: Option<u64>,
    },
    /// An IRQ arrived while EL0 ran; it has been handled.
    Interrupted,
}

/// Decides what happens after a [`UserEvent`]: returning resumes `frame` (after an exit
/// call, at the instruction after the `svc`); a supervisor that returns from a fault without
/// moving the frame's pc stops the thread, since resuming would only fault again.
pub type Supervisor = fn(UserEvent, &mut TrapFrame);

static SUPERVISOR: Mutex<Option<Supervisor>> = Mutex::new(None);

/// Install the function that hears every [`UserEvent`].
pub fn set_supervisor(supervisor: Supervisor) {
    arch::with_interrupts_masked(|| *SUPERVISOR.lock() = Some(supervisor));
}

/// The frame of a thread about to start at `pc` with stack pointer `sp`: all registers
/// zero, EL0t, interrupts unmasked.
pub fn user_frame(pc: u64, sp: u64) -> TrapFrame {
    TrapFrame {
        elr: pc,
        sp_el0: sp,
        spsr: 0,
        ..TrapFrame::zeroed()
    }
}

/// Run `frame` at EL0 in the active user space; control comes back only as an exception.
///
/// Only the condition flags of `frame.spsr` are used: the thread always runs in EL0t with
/// every interrupt unmasked, whatever the frame says. The kernel stack is abandoned (its
/// pointer restarts at the top); callers' lock guards are leaked, so drop them first. This
/// is safe to call from anywhere in the kernel because nothing refers to kernel stack memory
/// across events: no pinned data, no scoped threads, no stack address kept in a global.
pub fn enter_user(frame: &TrapFrame) -> ! {
    let entry = TrapFrame {
        spsr: frame.spsr & SPSR_CONDITION_FLAGS,
        ..*frame
    };
    // SAFETY: the SPSR selects EL0t (M[4:0] = 0); nothing on the kernel stack is needed
    // again (see above).
    unsafe { arch::user::enter_user(&entry) }
}

/// A synchronous exception from EL0 (vector 8).
pub fn handle_synchronous(frame: &mut TrapFrame) {
    let syndrome = frame.syndrome();
    match (syndrome.class(), syndrome.immediate()) {
        (ExceptionClass::Svc64, Some(DEBUG_WRITE)) => debug_write(frame),
        (ExceptionClass::Svc64, Some(TEST_EXIT)) => {
            let status = frame.x[0];
            supervise(UserEvent::Exited { status }, frame);
        }
        _ => fault(frame),
    }
}

/// An IRQ taken from EL0 (vector 9), after the interrupt was dispatched.
pub fn handle_interrupted(frame: &mut TrapFrame) {
    supervise(UserEvent::Interrupted, frame);
}

/// Why kernel_debug_write refused its buffer.
#[derive(Clone, Copy, Debug)]
enum DebugWriteError {
    TooLong(u64),
    Buffer(BufferError),
}

impl fmt::Display for DebugWriteError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DebugWriteError::TooLong(length) => {
                write!(formatter, "{length} bytes, more than {DEBUG_WRITE_LIMIT}")
            }
            DebugWriteError::Buffer(error) => write!(formatter, "{error}"),
        }
    }
}

/// kernel_debug_write: decode (length, then the whole buffer), then print.
fn debug_write(frame: &mut TrapFrame) {
    let (address, length) = (frame.x[0], frame.x[1]);
    let mut bytes = [0u8; DEBUG_WRITE_LIMIT];
    let result = usize::try_from(length)
        .ok()
        .filter(|length| *length <= DEBUG_WRITE_LIMIT)
        .ok_or(DebugWriteError::TooLong(length))
        .and_then(|length| {
            copy_from_active_space(address, &mut bytes[..length])
                .map(|()| length)
                .map_err(DebugWriteError::Buffer)
        });
    match result {
        Ok(length) => {
            kprintln!("user: {}", Text(&bytes[..length]));
            frame.x[9] = SUCCESS;
        }
        Err(error) => {
            kprintln!(
                "user: bad buffer for kernel_debug_write at pc={:#x}: {error}",
                instruction_address(frame)
            );
            frame.x[9] = INVALID_ARGUMENT;
        }
    }
}

/// Report an exception EL0 caused, then let the supervisor decide.
fn fault(frame: &mut TrapFrame) {
    let syndrome = frame.syndrome();
    let far = syndrome.far_is_valid().then_some(frame.far);
    let pc = instruction_address(frame);
    match far {
        Some(far) => kprintln!("user fault: {syndrome} at pc={pc:#x} far={far:#x}"),
        None => kprintln!("user fault: {syndrome} at pc={pc:#x} far=unknown"),
    }
    supervise(UserEvent::Faulted { syndrome, pc, far }, frame);
}

/// The address of the instruction that caused the exception: ELR_EL1, except after an
/// `svc`, whose preferred return address is the next instruction.
fn instruction_address(frame: &TrapFrame) -> u64 {
    match frame.syndrome().class() {
        ExceptionClass::Svc64 => frame.elr.wrapping_sub(4),
        _ => frame.elr,
    }
}

fn supervise(event: UserEvent, frame: &mut TrapFrame) {
    let supervisor = arch::with_interrupts_masked(|| *SUPERVISOR.lock());
    let pc = frame.elr;
    match (supervisor, event) {
        (Some(supervisor), _) => {
            supervisor(event, frame);
            if matches!(event, UserEvent::Faulted { .. }) && frame.elr == pc {
                stop_thread()
            }
        }
        (None, UserEvent::Interrupted) => {}
        (None, UserEvent::Exited { status }) => {
            kprintln!("user: exited with status {status}");
            stop_thread()
        }
        (None, UserEvent::Faulted { .. }) => stop_thread(),
    }
}

/// Nothing else can run at EL0 (there is no scheduler yet): keep taking interrupts.
fn stop_thread() -> ! {
    log::warn!("user thread stopped; nothing else to run");
    arch::enable_interrupts();
    loop {
        arch::wait_for_interrupt();
    }
}

/// User bytes for the console: UTF-8 as it is, other bytes as `\xNN`, control characters
/// (but tab) escaped, one trailing newline dropped.
struct Text<'bytes>(&'bytes [u8]);

impl fmt::Display for Text<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;

        let bytes = self.0.strip_suffix(b"\n").unwrap_or(self.0);
        for chunk in bytes.utf8_chunks() {
            for character in chunk.valid().chars() {
                if character.is_control() && character != '\t' {
                    write!(formatter, "{}", character.escape_default())?;
                } else {
                    formatter.write_char(character)?;
                }
            }
            for byte in chunk.invalid() {
                write!(formatter, "\\x{byte:02x}")?;
            }
        }
        Ok(())
    }
}
