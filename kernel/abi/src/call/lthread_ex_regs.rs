//! lthread_ex_regs (`svc #5`): create, start, halt and redirect a thread; exchange its
//! stack pointer, instruction pointer, pager, exception handler and user handle.
//!
//! The one call for thread control, as in L4 V2: there is no separate "create thread".
//! Calling it on a thread number of the task that has no thread yet, with a stack and an
//! instruction pointer, creates that thread (its UTCB appears at `UTCB area base + thread
//! number * 4 KiB`). Every old value is returned in the register its new value came in, so
//! a caller can swap and restore.
//!
//! | register | in                            | out                               |
//! |----------|-------------------------------|-----------------------------------|
//! | x0       | destination thread            | destination thread                |
//! | x1       | control flags                 | old status ([`ThreadStatus`])     |
//! | x2       | stack pointer                 | old stack pointer                 |
//! | x3       | instruction pointer           | old instruction pointer           |
//! | x4       | pager (or interrupt handler)  | old pager (or interrupt handler)  |
//! | x5       | exception handler             | old exception handler             |
//! | x6       | user handle                   | old user handle                   |
//! | x9       | -                             | error code                        |
//!
//! A value is applied only if its `SET_*` flag is set; the old values are returned
//! whatever the flags. Two special uses:
//! - **interrupts**: with an interrupt ID as destination and only
//!   [`ExchangeControl::SET_PAGER`], x4 names the thread that receives the interrupt (nil
//!   detaches it); allowed to the tasks whose chief is the kernel (sigma0, the root task).
//! - **return from a reflected trap**: [`ExchangeControl::RESUME_REFLECTED_TRAP`] alone,
//!   with the caller as destination, loads the caller's x0..x30, SP, PC and NZCV from its
//!   UTCB's reflected-trap area and continues there: the trampoline's way back to the
//!   Linux program, since EL0 cannot restore all 31 registers and branch without a
//!   scratch register.

use core::fmt;

use crate::call::{CallRegisters, ERROR_REGISTER, ReturnRegisters};
use crate::error::{CallError, ReturnError};
use crate::thread_id::ThreadId;

/// The control flags of lthread_ex_regs (x1).
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ExchangeControl(u64);

impl ExchangeControl {
    /// No flag: only read the old values.
    pub const NONE: ExchangeControl = ExchangeControl(0);
    /// Stop the thread; it keeps its state and can be resumed.
    pub const HALT: ExchangeControl = ExchangeControl(1 << 0);
    /// Let a halted thread run again.
    pub const RESUME: ExchangeControl = ExchangeControl(1 << 1);
    /// Abort the thread's send phase: its ipc returns [`CallError::SendCancelled`].
    pub const CANCEL_SEND: ExchangeControl = ExchangeControl(1 << 2);
    /// Abort the thread's receive phase: its ipc returns [`CallError::ReceiveCancelled`].
    pub const CANCEL_RECEIVE: ExchangeControl = ExchangeControl(1 << 3);
    /// Set SP_EL0 from x2 (implies both cancels).
    pub const SET_STACK_POINTER: ExchangeControl = ExchangeControl(1 << 4);
    /// Set the PC from x3 (implies both cancels).
    pub const SET_INSTRUCTION_POINTER: ExchangeControl = ExchangeControl(1 << 5);
    /// Set the pager from x4 (for an interrupt: its handler).
    pub const SET_PAGER: ExchangeControl = ExchangeControl(1 << 6);
    /// Set the exception handler from x5.
    pub const SET_EXCEPTION_HANDLER: ExchangeControl = ExchangeControl(1 << 7);
    /// Set the UTCB's user handle from x6.
    pub const SET_USER_HANDLE: ExchangeControl = ExchangeControl(1 << 8);
    /// Only with the caller as destination and no other flag: continue at the caller's
    /// UTCB's reflected trap frame instead of returning.
    pub const RESUME_REFLECTED_TRAP: ExchangeControl = ExchangeControl(1 << 9);
    /// Every defined flag.
    pub const ALL: ExchangeControl = ExchangeControl((1 << 10) - 1);

    /// The register value.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Flags from a register value, if every bit set is defined.
    pub const fn from_bits(bits: u64) -> Option<ExchangeControl> {
        if bits & !ExchangeControl::ALL.0 == 0 {
            Some(ExchangeControl(bits))
        } else {
            None
        }
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: ExchangeControl) -> bool {
        self.0 & other.0 == other.0
    }

    /// The flags of both.
    pub const fn union(self, other: ExchangeControl) -> ExchangeControl {
        ExchangeControl(self.0 | other.0)
    }
}

impl core::ops::BitOr for ExchangeControl {
    type Output = ExchangeControl;

    fn bitor(self, other: ExchangeControl) -> ExchangeControl {
        self.union(other)
    }
}

impl fmt::Debug for ExchangeControl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "ExchangeControl({:#x})", self.0)
    }
}

/// What a thread was doing, as lthread_ex_regs and thread_schedule report it (a set of
/// flags; none set means running or ready to run).
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ThreadStatus(u64);

impl ThreadStatus {
    /// Running or ready.
    pub const RUNNING: ThreadStatus = ThreadStatus(0);
    /// Halted, by lthread_ex_regs or because a fault had no pager or exception handler.
    pub const HALTED: ThreadStatus = ThreadStatus(1 << 0);
    /// In an ipc send phase (waiting for its partner or transferring).
    pub const SENDING: ThreadStatus = ThreadStatus(1 << 1);
    /// In an ipc receive phase.
    pub const RECEIVING: ThreadStatus = ThreadStatus(1 << 2);
    /// The thread did not exist (lthread_ex_regs: this call created it).
    pub const INACTIVE: ThreadStatus = ThreadStatus(1 << 3);
    /// Every defined flag.
    pub const ALL: ThreadStatus = ThreadStatus(0b1111);

    /// The register value.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// A status from a register value, if every bit set is defined.
    pub const fn from_bits(bits: u64) -> Option<ThreadStatus> {
        if bits & !ThreadStatus::ALL.0 == 0 {
            Some(ThreadStatus(bits))
        } else {
            None
        }
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: ThreadStatus) -> bool {
        self.0 & other.0 == other.0
    }

    /// The flags of both.
    pub const fn union(self, other: ThreadStatus) -> ThreadStatus {
        ThreadStatus(self.0 | other.0)
    }
}

impl core::ops::BitOr for ThreadStatus {
    type Output = ThreadStatus;

    fn bitor(self, other: ThreadStatus) -> ThreadStatus {
        self.union(other)
    }
}

impl fmt::Debug for ThreadStatus {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "ThreadStatus({:#06b})", self.0)
    }
}

/// Whether to halt or resume the thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RunControl {
    /// Leave it as it is.
    Unchanged,
    /// [`ExchangeControl::HALT`].
    Halt,
    /// [`ExchangeControl::RESUME`].
    Resume,
}

/// The arguments of lthread_ex_regs, checked. Each `Option` is `Some` exactly when its
/// `SET_*` flag was set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LthreadExRegsArguments {
    /// The thread (or interrupt) to act on.
    pub destination: ThreadId,
    /// Halt or resume.
    pub run: RunControl,
    /// Abort its send phase.
    pub cancel_send: bool,
    /// Abort its receive phase.
    pub cancel_receive: bool,
    /// New SP_EL0.
    pub stack_pointer: Option<u64>,
    /// New PC.
    pub instruction_pointer: Option<u64>,
    /// New pager (nil: none; faults then halt the thread). For an interrupt: its handler.
    pub pager: Option<ThreadId>,
    /// New exception handler (nil: none; exceptions then halt the thread).
    pub exception_handler: Option<ThreadId>,
    /// New user handle (the UTCB word, for the thread's own use).
    pub user_handle: Option<u64>,
    /// Continue at the caller's reflected trap frame.
    pub resume_reflected_trap: bool,
}

impl LthreadExRegsArguments {
    /// Arguments that only read the destination's values.
    pub const fn read(destination: ThreadId) -> LthreadExRegsArguments {
        LthreadExRegsArguments {
            destination,
            run: RunControl::Unchanged,
            cancel_send: false,
            cancel_receive: false,
            stack_pointer: None,
            instruction_pointer: None,
            pager: None,
            exception_handler: None,
            user_handle: None,
            resume_reflected_trap: false,
        }
    }

    /// Arguments that create (or restart) `destination` at `instruction_pointer` with
    /// `stack_pointer`, keeping the default pager and exception handler.
    pub const fn start(
        destination: ThreadId,
        instruction_pointer: u64,
        stack_pointer: u64,
    ) -> LthreadExRegsArguments {
        let mut arguments = LthreadExRegsArguments::read(destination);
        arguments.stack_pointer = Some(stack_pointer);
        arguments.instruction_pointer = Some(instruction_pointer);
        arguments
    }

    /// Arguments that attach `interrupt` to `handler` (nil: detach).
    pub const fn attach_interrupt(
        interrupt: ThreadId,
        handler: ThreadId,
    ) -> LthreadExRegsArguments {
        let mut arguments = LthreadExRegsArguments::read(interrupt);
        arguments.pager = Some(handler);
        arguments
    }

    /// The trampoline's return to the Linux program: `myself` is the caller.
    pub const fn resume_reflected_trap(myself: ThreadId) -> LthreadExRegsArguments {
        let mut arguments = LthreadExRegsArguments::read(myself);
        arguments.resume_reflected_trap = true;
        arguments
    }

    /// The control flags these arguments encode to.
    pub const fn control(&self) -> ExchangeControl {
        let mut bits = 0;
        bits |= match self.run {
            RunControl::Unchanged => 0,
            RunControl::Halt => ExchangeControl::HALT.0,
            RunControl::Resume => ExchangeControl::RESUME.0,
        };
        if self.cancel_send {
            bits |= ExchangeControl::CANCEL_SEND.0;
        }
        if self.cancel_receive {
            bits |= ExchangeControl::CANCEL_RECEIVE.0;
        }
        if self.stack_pointer.is_some() {
            bits |= ExchangeControl::SET_STACK_POINTER.0;
        }
        if self.instruction_pointer.is_some() {
            bits |= ExchangeControl::SET_INSTRUCTION_POINTER.0;
        }
        if self.pager.is_some() {
            bits |= ExchangeControl::SET_PAGER.0;
        }
        if self.exception_handler.is_some() {
            bits |= ExchangeControl::SET_EXCEPTION_HANDLER.0;
        }
        if self.user_handle.is_some() {
            bits |= ExchangeControl::SET_USER_HANDLE.0;
        }
        if self.resume_reflected_trap {
            bits |= ExchangeControl::RESUME_REFLECTED_TRAP.0;
        }
        ExchangeControl(bits)
    }

    /// Checks x0..x6: a user thread or interrupt as destination, defined and consistent
    /// flags, and well-formed pager and exception handler when they are to be set.
    pub const fn decode(registers: &CallRegisters) -> Result<LthreadExRegsArguments, CallError> {
        let destination = match ThreadId::decode(registers[0]) {
            Ok(thread) if thread.is_user_thread() || thread.is_interrupt() => thread,
            _ => return Err(CallError::InvalidArgument),
        };
        let control = match ExchangeControl::from_bits(registers[1]) {
            Some(control) => control,
            None => return Err(CallError::InvalidArgument),
        };
        if control.contains(ExchangeControl::HALT.union(ExchangeControl::RESUME)) {
            return Err(CallError::InvalidArgument);
        }
        if control.contains(ExchangeControl::RESUME_REFLECTED_TRAP)
            && control.0 != ExchangeControl::RESUME_REFLECTED_TRAP.0
        {
            return Err(CallError::InvalidArgument);
        }
        if destination.is_interrupt() && control.0 & !ExchangeControl::SET_PAGER.0 != 0 {
            return Err(CallError::InvalidArgument);
        }
        let pager = if control.contains(ExchangeControl::SET_PAGER) {
            match decode_partner(registers[4]) {
                Ok(pager) => Some(pager),
                Err(error) => return Err(error),
            }
        } else {
            None
        };
        let exception_handler = if control.contains(ExchangeControl::SET_EXCEPTION_HANDLER) {
            match decode_partner(registers[5]) {
                Ok(handler) => Some(handler),
                Err(error) => return Err(error),
            }
        } else {
            None
        };
        let run = if control.contains(ExchangeControl::HALT) {
            RunControl::Halt
        } else if control.contains(ExchangeControl::RESUME) {
            RunControl::Resume
        } else {
            RunControl::Unchanged
        };
        Ok(LthreadExRegsArguments {
            destination,
            run,
            cancel_send: control.contains(ExchangeControl::CANCEL_SEND),
            cancel_receive: control.contains(ExchangeControl::CANCEL_RECEIVE),
            stack_pointer: if control.contains(ExchangeControl::SET_STACK_POINTER) {
                Some(registers[2])
            } else {
                None
            },
            instruction_pointer: if control.contains(ExchangeControl::SET_INSTRUCTION_POINTER) {
                Some(registers[3])
            } else {
                None
            },
            pager,
            exception_handler,
            user_handle: if control.contains(ExchangeControl::SET_USER_HANDLE) {
                Some(registers[6])
            } else {
                None
            },
            resume_reflected_trap: control.contains(ExchangeControl::RESUME_REFLECTED_TRAP),
        })
    }

    /// x0..x10 for the call.
    pub const fn encode(&self) -> CallRegisters {
        let mut registers = [0; 11];
        registers[0] = self.destination.raw();
        registers[1] = self.control().bits();
        if let Some(stack_pointer) = self.stack_pointer {
            registers[2] = stack_pointer;
        }
        if let Some(instruction_pointer) = self.instruction_pointer {
            registers[3] = instruction_pointer;
        }
        if let Some(pager) = self.pager {
            registers[4] = pager.raw();
        }
        if let Some(handler) = self.exception_handler {
            registers[5] = handler.raw();
        }
        if let Some(user_handle) = self.user_handle {
            registers[6] = user_handle;
        }
        registers
    }
}

/// A pager or exception handler: nil or a user thread.
const fn decode_partner(raw: u64) -> Result<ThreadId, CallError> {
    match ThreadId::decode(raw) {
        Ok(thread) if thread.is_nil() || thread.is_user_thread() => Ok(thread),
        _ => Err(CallError::InvalidArgument),
    }
}

/// What lthread_ex_regs returns: the values before the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LthreadExRegsReturnValues {
    /// The destination.
    pub thread: ThreadId,
    /// What it was doing.
    pub status: ThreadStatus,
    /// Its SP_EL0.
    pub stack_pointer: u64,
    /// Its PC.
    pub instruction_pointer: u64,
    /// Its pager (for an interrupt: its handler).
    pub pager: ThreadId,
    /// Its exception handler.
    pub exception_handler: ThreadId,
    /// Its user handle.
    pub user_handle: u64,
}

impl LthreadExRegsReturnValues {
    /// x0..x9 of a successful return.
    pub const fn encode(&self) -> ReturnRegisters {
        [
            self.thread.raw(),
            self.status.bits(),
            self.stack_pointer,
            self.instruction_pointer,
            self.pager.raw(),
            self.exception_handler.raw(),
            self.user_handle,
            0,
            0,
            0,
        ]
    }

    /// Decodes x0..x9 after the call.
    pub const fn decode(
        registers: &ReturnRegisters,
    ) -> Result<LthreadExRegsReturnValues, ReturnError> {
        if let Err(error) = CallError::check(registers[ERROR_REGISTER]) {
            return Err(error);
        }
        let status = match ThreadStatus::from_bits(registers[1]) {
            Some(status) => status,
            None => return Err(ReturnError::MalformedReturnValue),
        };
        Ok(LthreadExRegsReturnValues {
            thread: ThreadId::from_raw(registers[0]),
            status,
            stack_pointer: registers[2],
            instruction_pointer: registers[3],
            pager: ThreadId::from_raw(registers[4]),
            exception_handler: ThreadId::from_raw(registers[5]),
            user_handle: registers[6],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker() -> ThreadId {
        ThreadId::new(6, 1, 2).unwrap()
    }

    #[test]
    fn starting_a_thread_sets_stack_and_instruction_pointer() {
        let arguments = LthreadExRegsArguments::start(worker(), 0x40_1000, 0x7FFF_F000);
        let registers = arguments.encode();
        assert_eq!(
            registers[1],
            (ExchangeControl::SET_STACK_POINTER | ExchangeControl::SET_INSTRUCTION_POINTER).bits()
        );
        assert_eq!((registers[2], registers[3]), (0x7FFF_F000, 0x40_1000));
        assert_eq!(LthreadExRegsArguments::decode(&registers), Ok(arguments));
    }

    #[test]
    fn every_field_round_trips() {
        let arguments = LthreadExRegsArguments {
            destination: worker(),
            run: RunControl::Halt,
            cancel_send: true,
            cancel_receive: true,
            stack_pointer: Some(0x1000),
            instruction_pointer: Some(0x2000),
            pager: Some(ThreadId::ROOT_TASK),
            exception_handler: Some(ThreadId::NIL),
            user_handle: Some(0xDEAD_BEEF),
            resume_reflected_trap: false,
        };
        let registers = arguments.encode();
        assert_eq!(registers[1], 0b1_1111_1101);
        assert_eq!(LthreadExRegsArguments::decode(&registers), Ok(arguments));
        let resumed = LthreadExRegsArguments {
            run: RunControl::Resume,
            ..LthreadExRegsArguments::read(worker())
        };
        assert_eq!(
            LthreadExRegsArguments::decode(&resumed.encode()),
            Ok(resumed)
        );
    }

    #[test]
    fn values_without_their_flag_are_ignored() {
        let mut registers = LthreadExRegsArguments::read(worker()).encode();
        registers[2] = 0x1234;
        registers[4] = u64::MAX; // would be invalid as a pager, but is not applied
        let decoded = LthreadExRegsArguments::decode(&registers).unwrap();
        assert_eq!(decoded, LthreadExRegsArguments::read(worker()));
    }

    #[test]
    fn undefined_or_conflicting_flags_are_invalid() {
        let mut registers = LthreadExRegsArguments::read(worker()).encode();
        for control in [
            1 << 10,
            u64::MAX,
            (ExchangeControl::HALT | ExchangeControl::RESUME).bits(),
            (ExchangeControl::RESUME_REFLECTED_TRAP | ExchangeControl::HALT).bits(),
        ] {
            registers[1] = control;
            assert_eq!(
                LthreadExRegsArguments::decode(&registers),
                Err(CallError::InvalidArgument),
                "{control:#x}"
            );
        }
    }

    #[test]
    fn a_pager_must_be_nil_or_a_user_thread() {
        for pager in [
            ThreadId::ANY.raw(),
            ThreadId::interrupt(3).unwrap().raw(),
            1 << 60,
        ] {
            let mut registers = LthreadExRegsArguments::read(worker()).encode();
            registers[1] = ExchangeControl::SET_PAGER.bits();
            registers[4] = pager;
            assert_eq!(
                LthreadExRegsArguments::decode(&registers),
                Err(CallError::InvalidArgument)
            );
            registers[1] = ExchangeControl::SET_EXCEPTION_HANDLER.bits();
            registers[5] = pager;
            assert_eq!(
                LthreadExRegsArguments::decode(&registers),
                Err(CallError::InvalidArgument)
            );
        }
    }

    #[test]
    fn an_interrupt_only_takes_a_handler() {
        let interrupt = ThreadId::interrupt(33).unwrap();
        let attach = LthreadExRegsArguments::attach_interrupt(interrupt, worker());
        assert_eq!(LthreadExRegsArguments::decode(&attach.encode()), Ok(attach));
        let detach = LthreadExRegsArguments::attach_interrupt(interrupt, ThreadId::NIL);
        assert_eq!(LthreadExRegsArguments::decode(&detach.encode()), Ok(detach));
        let start = LthreadExRegsArguments::start(interrupt, 0x1000, 0x2000);
        assert_eq!(
            LthreadExRegsArguments::decode(&start.encode()),
            Err(CallError::InvalidArgument)
        );
    }

    #[test]
    fn resuming_a_reflected_trap_stands_alone() {
        let arguments = LthreadExRegsArguments::resume_reflected_trap(worker());
        let registers = arguments.encode();
        assert_eq!(registers[1], ExchangeControl::RESUME_REFLECTED_TRAP.bits());
        assert_eq!(LthreadExRegsArguments::decode(&registers), Ok(arguments));
    }

    #[test]
    fn nil_and_any_are_no_destination() {
        for raw in [0, u64::MAX] {
            let mut registers = [0; 11];
            registers[0] = raw;
            assert_eq!(
                LthreadExRegsArguments::decode(&registers),
                Err(CallError::InvalidArgument)
            );
        }
    }

    #[test]
    fn old_values_come_back_in_the_registers_of_the_new_ones() {
        let values = LthreadExRegsReturnValues {
            thread: worker(),
            status: ThreadStatus::RECEIVING | ThreadStatus::SENDING,
            stack_pointer: 0x7000,
            instruction_pointer: 0x8000,
            pager: ThreadId::SIGMA0,
            exception_handler: ThreadId::NIL,
            user_handle: 42,
        };
        let registers = values.encode();
        assert_eq!(
            (registers[2], registers[3], registers[4], registers[6]),
            (0x7000, 0x8000, ThreadId::SIGMA0.raw(), 42)
        );
        assert_eq!(LthreadExRegsReturnValues::decode(&registers), Ok(values));
        let mut malformed = registers;
        malformed[1] = 1 << 4;
        assert_eq!(
            LthreadExRegsReturnValues::decode(&malformed),
            Err(ReturnError::MalformedReturnValue)
        );
    }

    #[test]
    fn status_flags_combine_and_check_their_bits() {
        let status = ThreadStatus::HALTED | ThreadStatus::RECEIVING;
        assert!(status.contains(ThreadStatus::HALTED));
        assert!(!status.contains(ThreadStatus::SENDING));
        assert_eq!(ThreadStatus::from_bits(status.bits()), Some(status));
        assert_eq!(ThreadStatus::from_bits(16), None);
        assert_eq!(ThreadStatus::default(), ThreadStatus::RUNNING);
    }
}
