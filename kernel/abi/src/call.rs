//! Kernel calls: how a thread enters the kernel, the call numbers, and the register
//! contract every call shares.
//!
//! A kernel call is `svc #N` where the 16-bit immediate N is the call number; the kernel
//! reads it from ESR_EL1.ISS, so no register is spent on it and every argument register is
//! free. `svc #0` is never a kernel call: it is what Linux binaries execute, and the kernel
//! reflects it to the thread's trampoline (Linux-ABI mode) or turns it into an exception
//! message. Immediates 0xF000 to 0xFFFF are debug calls; any other unknown immediate is an
//! exception message too. [`SupervisorCall::decode`] sorts an immediate into these cases.
//!
//! Registers: arguments in x0..x10, results in x0..x9 with the error code in x9 (0 =
//! success). x10..x30, SP_EL0, NZCV and all FP/SIMD registers are preserved by every call;
//! x0..x9 are clobbered (hold unspecified values unless a call lists them as results). Each
//! call's module gives its arguments and return values as typed structs: `decode` checks
//! every argument before anything is done (the kernel's side), `encode` builds the
//! registers (the user library's side), and the return values go the other way.

pub mod fpage_unmap;
pub mod id_nearest;
pub mod ipc;
pub mod kernel_debug_write;
pub mod lthread_ex_regs;
pub mod task_new;
pub mod thread_schedule;
pub mod thread_switch;

use core::fmt;

use crate::error::CallError;
use crate::message::MessageTag;

/// Argument registers of a kernel call: x0..x10.
pub type CallRegisters = [u64; 11];
/// Result registers of a kernel call: x0..x9, with the error code in x9.
pub type ReturnRegisters = [u64; 10];
/// The index of the error code in [`ReturnRegisters`]: x9.
pub const ERROR_REGISTER: usize = 9;

/// The kernel calls, by `svc` immediate.
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Call {
    /// Send and/or receive a message: `svc #1`.
    Ipc = 1,
    /// The thread a message to a destination is actually delivered to: `svc #2`.
    IdNearest = 2,
    /// Take back mappings derived from the caller's pages: `svc #3`.
    FpageUnmap = 3,
    /// Give the processor to another thread, or yield: `svc #4`.
    ThreadSwitch = 4,
    /// Create, start, stop, redirect a thread; read and set its registers: `svc #5`.
    LthreadExRegs = 5,
    /// Set a thread's priority and time slice; read its state and time: `svc #6`.
    ThreadSchedule = 6,
    /// Create or delete a task: `svc #7`.
    TaskNew = 7,
    /// Debug: write a string from the caller's UTCB to the kernel console: `svc #0xF001`.
    KernelDebugWrite = 0xF001,
    /// Turn the machine off (tasks chiefed by the kernel only): `svc #0xF003`.
    SystemPowerOff = 0xF003,
}

impl Call {
    /// Every call, in number order: the list the reference-manual test walks.
    pub const ALL: &'static [Call] = &[
        Call::Ipc,
        Call::IdNearest,
        Call::FpageUnmap,
        Call::ThreadSwitch,
        Call::LthreadExRegs,
        Call::ThreadSchedule,
        Call::TaskNew,
        Call::KernelDebugWrite,
        Call::SystemPowerOff,
    ];

    /// The `svc` immediate of a Linux system call; never a kernel call.
    pub const LINUX_SYSTEM_CALL: u16 = 0;
    /// The first immediate of the debug-call range (to 0xFFFF).
    pub const FIRST_DEBUG_CALL: u16 = 0xF000;

    /// The `svc` immediate.
    pub const fn number(self) -> u16 {
        self as u16
    }

    /// The name used in the reference manual and in logs (L4's names for the seven).
    pub const fn name(self) -> &'static str {
        match self {
            Call::Ipc => "ipc",
            Call::IdNearest => "id_nearest",
            Call::FpageUnmap => "fpage_unmap",
            Call::ThreadSwitch => "thread_switch",
            Call::LthreadExRegs => "lthread_ex_regs",
            Call::ThreadSchedule => "thread_schedule",
            Call::TaskNew => "task_new",
            Call::KernelDebugWrite => "kernel_debug_write",
            Call::SystemPowerOff => "system_power_off",
        }
    }

    /// Whether this is a debug call, which a kernel may leave out.
    pub const fn is_debug(self) -> bool {
        self.number() >= Call::FIRST_DEBUG_CALL
    }

    /// The registers the kernel returns when the call fails with `error`: the code in x9,
    /// and for ipc the error tag ([`MessageTag::ERROR`]) in x0. The other registers are
    /// unspecified; this returns them as zero.
    pub const fn error_registers(self, error: CallError) -> ReturnRegisters {
        let mut registers = [0; 10];
        if matches!(self, Call::Ipc) {
            registers[0] = MessageTag::ERROR.raw();
        }
        registers[ERROR_REGISTER] = error.code();
        registers
    }

    const fn from_number(number: u16) -> Option<Call> {
        let mut index = 0;
        while index < Call::ALL.len() {
            if Call::ALL[index].number() == number {
                return Some(Call::ALL[index]);
            }
            index += 1;
        }
        None
    }
}

impl TryFrom<u16> for Call {
    type Error = UnknownCall;

    fn try_from(number: u16) -> Result<Call, UnknownCall> {
        Call::from_number(number).ok_or(UnknownCall(number))
    }
}

impl fmt::Display for Call {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// An `svc` immediate that is no kernel call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UnknownCall(pub u16);

impl fmt::Display for UnknownCall {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "svc #{:#x} is no kernel call", self.0)
    }
}

/// What an `svc` immediate asks for, before the thread's mode is considered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SupervisorCall {
    /// A kernel call.
    Kernel(Call),
    /// `svc #0`, a Linux system call: reflected to the trampoline for a thread in
    /// Linux-ABI mode, an exception message otherwise.
    LinuxSystemCall,
    /// An immediate in the debug range that this ABI does not define: the call returns
    /// [`CallError::NoSuchCall`].
    UnknownDebugCall(u16),
    /// Any other immediate: an exception message to the thread's exception handler.
    Unknown(u16),
}

impl SupervisorCall {
    /// Sorts an `svc` immediate (ESR_EL1.ISS[15:0]).
    pub const fn decode(immediate: u16) -> SupervisorCall {
        if immediate == Call::LINUX_SYSTEM_CALL {
            return SupervisorCall::LinuxSystemCall;
        }
        match Call::from_number(immediate) {
            Some(call) => SupervisorCall::Kernel(call),
            None if immediate >= Call::FIRST_DEBUG_CALL => {
                SupervisorCall::UnknownDebugCall(immediate)
            }
            None => SupervisorCall::Unknown(immediate),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_numbers_are_the_l4_order_from_one() {
        let numbers: Vec<u16> = Call::ALL.iter().map(|call| call.number()).collect();
        assert_eq!(numbers, [1, 2, 3, 4, 5, 6, 7, 0xF001, 0xF003]);
        for &call in Call::ALL {
            assert_eq!(Call::try_from(call.number()), Ok(call));
        }
    }

    #[test]
    fn unknown_numbers_are_not_calls() {
        for number in [0, 8, 0x100, 0xF000, 0xF002, 0xFFFF] {
            assert_eq!(Call::try_from(number), Err(UnknownCall(number)));
        }
    }

    #[test]
    fn svc_zero_is_always_a_linux_system_call() {
        assert_eq!(SupervisorCall::decode(0), SupervisorCall::LinuxSystemCall);
    }

    #[test]
    fn immediates_sort_into_calls_debug_calls_and_exceptions() {
        assert_eq!(SupervisorCall::decode(1), SupervisorCall::Kernel(Call::Ipc));
        assert_eq!(
            SupervisorCall::decode(7),
            SupervisorCall::Kernel(Call::TaskNew)
        );
        assert_eq!(
            SupervisorCall::decode(0xF001),
            SupervisorCall::Kernel(Call::KernelDebugWrite)
        );
        assert_eq!(SupervisorCall::decode(8), SupervisorCall::Unknown(8));
        assert_eq!(
            SupervisorCall::decode(0xEFFF),
            SupervisorCall::Unknown(0xEFFF)
        );
        assert_eq!(
            SupervisorCall::decode(0xF000),
            SupervisorCall::UnknownDebugCall(0xF000)
        );
        assert_eq!(
            SupervisorCall::decode(0xFFFF),
            SupervisorCall::UnknownDebugCall(0xFFFF)
        );
    }

    #[test]
    fn the_debug_write_and_the_power_off_are_the_debug_calls() {
        let debug: Vec<Call> = Call::ALL
            .iter()
            .copied()
            .filter(|call| call.is_debug())
            .collect();
        assert_eq!(debug, [Call::KernelDebugWrite, Call::SystemPowerOff]);
    }

    #[test]
    fn names_are_l4_snake_case() {
        let names: Vec<&str> = Call::ALL.iter().map(|call| call.name()).collect();
        assert_eq!(
            names,
            [
                "ipc",
                "id_nearest",
                "fpage_unmap",
                "thread_switch",
                "lthread_ex_regs",
                "thread_schedule",
                "task_new",
                "kernel_debug_write",
                "system_power_off"
            ]
        );
        assert_eq!(Call::TaskNew.to_string(), "task_new");
    }

    #[test]
    fn a_failed_ipc_returns_the_error_tag_and_others_only_the_code() {
        let ipc = Call::Ipc.error_registers(CallError::ReceiveTimeout);
        assert_eq!(ipc[0], MessageTag::ERROR.raw());
        assert_eq!(ipc[ERROR_REGISTER], 3);
        let task_new = Call::TaskNew.error_registers(CallError::NotChief);
        assert_eq!(task_new[0], 0);
        assert_eq!(task_new[ERROR_REGISTER], CallError::NotChief.code());
    }
}
