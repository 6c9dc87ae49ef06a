//! Memory: `brk`, `mmap`, `munmap`, `mprotect`, `madvise`, and the two ways a client's
//! memory access reaches the server unasked: page faults and exceptions.
//!
//! The address space (`crate::memory`) decides everything about areas; this file decodes
//! the calls, refuses file mappings (`ENODEV`, after the descriptor's `EBADF`, as Linux
//! orders them), and turns faults into map items or deaths. A fault that no area allows
//! kills the process with `SIGSEGV` (`SIGKILL` when the server is out of memory, as the OOM
//! killer would); an exception that is not `svc #0` kills it with the signal Linux raises
//! for it (`SIGILL`, `SIGBUS`, `SIGTRAP`, `SIGFPE`, `SIGSEGV`). The parent learns either way
//! through `wait4`. Signal handlers for these come with signal delivery.

use aarch64::exception::{ExceptionClass, FaultStatus, Syndrome};
use abi::protocol::Exception;
use linux_abi::errno::Errno;
use linux_abi::memory::{
    MADV_DONTNEED, MADV_FREE, MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED,
    MAP_ANONYMOUS,
};
use linux_abi::process::{CoreDump, signalled_status};
use linux_abi::signal::Signal;
use protocol::layout::{TRAMPOLINE_CODE, TRAMPOLINE_CODE_SIZE};

use super::record::Via;
use super::{Action, Actions, Notice, Server, running};
use crate::memory::{Access, FaultError, Frames, is_page_aligned};
use crate::process::Pid;

/// `MADV_DONTFORK`, `MADV_DOFORK`, `MADV_MERGEABLE`, `MADV_UNMERGEABLE`, `MADV_HUGEPAGE`,
/// `MADV_NOHUGEPAGE`, `MADV_DONTDUMP`, `MADV_DODUMP`: advice that changes nothing here.
const HARMLESS_ADVICE: [u32; 8] = [10, 11, 12, 13, 14, 15, 16, 17];

/// The signal a fatal exception of `syndrome` raises, as Linux's arm64 fault handlers
/// choose it.
pub(super) fn exception_signal(syndrome: Syndrome) -> Signal {
    match syndrome.class() {
        ExceptionClass::PcAlignmentFault | ExceptionClass::SpAlignmentFault => Signal::SIGBUS,
        ExceptionClass::DataAbortLowerEL | ExceptionClass::DataAbortCurrentEL => {
            match syndrome.fault_status() {
                Some(
                    FaultStatus::Alignment
                    | FaultStatus::SynchronousExternal
                    | FaultStatus::SynchronousExternalOnTableWalk { .. }
                    | FaultStatus::SynchronousParityOrEcc
                    | FaultStatus::SynchronousParityOrEccOnTableWalk { .. },
                ) => Signal::SIGBUS,
                _ => Signal::SIGSEGV,
            }
        }
        ExceptionClass::InstructionAbortLowerEL | ExceptionClass::InstructionAbortCurrentEL => {
            Signal::SIGSEGV
        }
        ExceptionClass::Brk64
        | ExceptionClass::BreakpointLowerEL
        | ExceptionClass::BreakpointCurrentEL
        | ExceptionClass::SoftwareStepLowerEL
        | ExceptionClass::SoftwareStepCurrentEL
        | ExceptionClass::WatchpointLowerEL
        | ExceptionClass::WatchpointCurrentEL => Signal::SIGTRAP,
        ExceptionClass::TrappedFloatingPointException => Signal::SIGFPE,
        _ => Signal::SIGILL,
    }
}

impl<F: Frames> Server<F> {
    /// `brk(address)`: the new break, or the old one when it cannot move.
    pub(super) fn brk(&mut self, pid: Pid, address: u64) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        Ok(process.space.brk(&mut self.frames, address))
    }

    /// `mmap(address, length, prot, flags, fd, offset)`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn mmap(
        &mut self,
        pid: Pid,
        address: u64,
        length: u64,
        prot: u32,
        flags: u32,
        fd: i32,
        offset: u64,
    ) -> Result<u64, Errno> {
        // arm64's sys_mmap refuses an offset that is not a whole number of pages first.
        if !is_page_aligned(offset) {
            return Err(Errno::EINVAL);
        }
        let process = running(&mut self.processes, pid)?;
        if flags & MAP_ANONYMOUS == 0 {
            // The descriptor is checked first; no file here can be mapped yet.
            process.descriptors.get(fd)?;
            return Err(Errno::ENODEV);
        }
        process
            .space
            .mmap(&mut self.frames, address, length, prot, flags)
    }

    /// `munmap(address, length)`.
    pub(super) fn munmap(&mut self, pid: Pid, address: u64, length: u64) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        process
            .space
            .munmap(&mut self.frames, address, length)
            .map(|()| 0)
    }

    /// `mprotect(address, length, prot)`.
    pub(super) fn mprotect(
        &mut self,
        pid: Pid,
        address: u64,
        length: u64,
        prot: u32,
    ) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        process
            .space
            .mprotect(&mut self.frames, address, length, prot)
            .map(|()| 0)
    }

    /// `madvise(address, length, advice)`: `MADV_DONTNEED` and `MADV_FREE` drop the pages
    /// (they read back as zero or as the file's bytes); hints change nothing; other advice
    /// is `EINVAL`.
    pub(super) fn madvise(
        &mut self,
        pid: Pid,
        address: u64,
        length: u64,
        advice: u32,
    ) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        match advice {
            MADV_DONTNEED | MADV_FREE => process
                .space
                .discard(&mut self.frames, address, length)
                .map(|()| 0),
            MADV_NORMAL | MADV_RANDOM | MADV_SEQUENTIAL | MADV_WILLNEED => {
                if is_page_aligned(address) {
                    Ok(0)
                } else {
                    Err(Errno::EINVAL)
                }
            }
            advice if HARMLESS_ADVICE.contains(&advice) && is_page_aligned(address) => Ok(0),
            _ => Err(Errno::EINVAL),
        }
    }

    /// A client's page fault: a map item for the page, the trampoline, or death.
    pub(super) fn page_fault(
        &mut self,
        pid: Pid,
        address: u64,
        access: Access,
        instruction_pointer: u64,
        actions: &mut Actions<F::Frame>,
    ) {
        let Some(process) = self.processes.get_mut(pid) else {
            actions.push(Action::Log(Notice::UnknownProcess { pid }));
            return;
        };
        let in_trampoline =
            (TRAMPOLINE_CODE..TRAMPOLINE_CODE + TRAMPOLINE_CODE_SIZE).contains(&address);
        let result = if in_trampoline {
            match access {
                Access::Read | Access::Execute => {
                    actions.push(Action::MapTrampoline { pid });
                    return;
                }
                Access::Write => Err(FaultError::AccessDenied),
            }
        } else {
            process.space.fault(&mut self.frames, address, access)
        };
        match result {
            Ok(mapping) => {
                process
                    .accounting
                    .note_fault(process.space.resident_page_count());
                actions.push(Action::Map { pid, mapping });
            }
            Err(error) => {
                let signal = match error {
                    FaultError::OutOfMemory => Signal::SIGKILL,
                    FaultError::Unmapped | FaultError::AccessDenied => Signal::SIGSEGV,
                };
                actions.push(Action::Log(Notice::FatalPageFault {
                    pid,
                    address,
                    access,
                    instruction_pointer,
                    signal,
                }));
                self.terminate(pid, signalled_status(signal, CoreDump::NotDumped), actions);
            }
        }
    }

    /// A client's exception: `svc #0` of a path (c) process is a system call (x8 the
    /// number, x0..x5 the arguments); anything else is fatal.
    pub(super) fn exception(
        &mut self,
        pid: Pid,
        exception: &Exception,
        actions: &mut Actions<F::Frame>,
    ) {
        if self.processes.get(pid).is_none() {
            actions.push(Action::Log(Notice::UnknownProcess { pid }));
            return;
        }
        let syndrome = Syndrome::new(exception.esr);
        let registers = &exception.registers;
        if syndrome.class() == ExceptionClass::Svc64 && syndrome.immediate() == Some(0) {
            let arguments = [
                registers.x[0],
                registers.x[1],
                registers.x[2],
                registers.x[3],
                registers.x[4],
                registers.x[5],
            ];
            self.system_call(
                pid,
                Via::Exception,
                registers.x[8],
                arguments,
                Some(registers),
                actions,
            );
            return;
        }
        let signal = exception_signal(syndrome);
        actions.push(Action::Log(Notice::FatalException {
            pid,
            esr: exception.esr,
            instruction_pointer: registers.pc,
            signal,
        }));
        self.terminate(pid, signalled_status(signal, CoreDump::NotDumped), actions);
    }
}
