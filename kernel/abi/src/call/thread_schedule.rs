//! thread_schedule (`svc #6`): set a thread's priority, time slice and processor; read its
//! status and the processor time it has used.
//!
//! Scheduling policy lives at user level: the kernel runs the highest-priority ready
//! thread, round-robin within a priority, each for its time slice. A task may set the
//! parameters of its own threads and of the threads of the tasks in its clan tree, up to
//! its *maximum controlled priority* (given by task_new). The consumed time it returns is
//! what a future user-level policy (performance isolation) charges to groups.
//!
//! | register | in                                   | out                          |
//! |----------|--------------------------------------|------------------------------|
//! | x0       | destination thread                   | old priority                 |
//! | x1       | priority 0..=255 (or unchanged)      | old time slice, µs           |
//! | x2       | time slice in µs, > 0 (or unchanged) | old processor                |
//! | x3       | processor (or unchanged)             | processor time consumed, µs  |
//! | x4       | -                                    | status ([`ThreadStatus`])    |
//! | x9       | -                                    | error code                   |
//!
//! [`UNCHANGED`] (all ones) in x1, x2 or x3 leaves that parameter as it is.

use crate::call::lthread_ex_regs::ThreadStatus;
use crate::call::{CallRegisters, ERROR_REGISTER, ReturnRegisters};
use crate::error::{CallError, ReturnError};
use crate::thread_id::ThreadId;

/// "Leave this parameter as it is."
pub const UNCHANGED: u64 = u64::MAX;
/// The highest priority.
pub const MAX_PRIORITY: u8 = u8::MAX;
/// The time slice a new thread gets: 10 ms.
pub const DEFAULT_TIME_SLICE_MICROSECONDS: u32 = 10_000;

/// The arguments of thread_schedule, checked. `None` leaves a parameter unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ThreadScheduleArguments {
    /// A user thread.
    pub destination: ThreadId,
    /// New priority (higher runs first).
    pub priority: Option<u8>,
    /// New time slice in microseconds, at least 1.
    pub time_slice_microseconds: Option<u32>,
    /// New processor; this kernel has one, number 0.
    pub processor: Option<u32>,
}

impl ThreadScheduleArguments {
    /// Arguments that change nothing: a read of the status and consumed time.
    pub const fn read(destination: ThreadId) -> ThreadScheduleArguments {
        ThreadScheduleArguments {
            destination,
            priority: None,
            time_slice_microseconds: None,
            processor: None,
        }
    }

    /// Checks x0..x3.
    pub const fn decode(registers: &CallRegisters) -> Result<ThreadScheduleArguments, CallError> {
        let destination = match ThreadId::decode(registers[0]) {
            Ok(thread) if thread.is_user_thread() => thread,
            _ => return Err(CallError::InvalidArgument),
        };
        let priority = match registers[1] {
            UNCHANGED => None,
            value if value <= MAX_PRIORITY as u64 => Some(value as u8),
            _ => return Err(CallError::InvalidArgument),
        };
        let time_slice_microseconds = match registers[2] {
            UNCHANGED => None,
            value if value >= 1 && value <= u32::MAX as u64 => Some(value as u32),
            _ => return Err(CallError::InvalidArgument),
        };
        let processor = match registers[3] {
            UNCHANGED => None,
            value if value <= u32::MAX as u64 => Some(value as u32),
            _ => return Err(CallError::InvalidArgument),
        };
        Ok(ThreadScheduleArguments {
            destination,
            priority,
            time_slice_microseconds,
            processor,
        })
    }

    /// x0..x10 for the call.
    pub const fn encode(&self) -> CallRegisters {
        let mut registers = [0; 11];
        registers[0] = self.destination.raw();
        registers[1] = match self.priority {
            Some(priority) => priority as u64,
            None => UNCHANGED,
        };
        registers[2] = match self.time_slice_microseconds {
            Some(microseconds) => microseconds as u64,
            None => UNCHANGED,
        };
        registers[3] = match self.processor {
            Some(processor) => processor as u64,
            None => UNCHANGED,
        };
        registers
    }
}

/// What thread_schedule returns: the parameters before the call, and the thread's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ThreadScheduleReturnValues {
    /// Its priority.
    pub priority: u8,
    /// Its time slice, µs.
    pub time_slice_microseconds: u32,
    /// Its processor.
    pub processor: u32,
    /// The processor time it has used since it was created, µs.
    pub consumed_microseconds: u64,
    /// What it is doing.
    pub status: ThreadStatus,
}

impl ThreadScheduleReturnValues {
    /// x0..x9 of a successful return.
    pub const fn encode(&self) -> ReturnRegisters {
        let mut registers = [0; 10];
        registers[0] = self.priority as u64;
        registers[1] = self.time_slice_microseconds as u64;
        registers[2] = self.processor as u64;
        registers[3] = self.consumed_microseconds;
        registers[4] = self.status.bits();
        registers
    }

    /// Decodes x0..x9 after the call.
    pub const fn decode(
        registers: &ReturnRegisters,
    ) -> Result<ThreadScheduleReturnValues, ReturnError> {
        if let Err(error) = CallError::check(registers[ERROR_REGISTER]) {
            return Err(error);
        }
        let status = match ThreadStatus::from_bits(registers[4]) {
            Some(status) => status,
            None => return Err(ReturnError::MalformedReturnValue),
        };
        if registers[0] > MAX_PRIORITY as u64
            || registers[1] > u32::MAX as u64
            || registers[2] > u32::MAX as u64
        {
            return Err(ReturnError::MalformedReturnValue);
        }
        Ok(ThreadScheduleReturnValues {
            priority: registers[0] as u8,
            time_slice_microseconds: registers[1] as u32,
            processor: registers[2] as u32,
            consumed_microseconds: registers[3],
            status,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread() -> ThreadId {
        ThreadId::new(8, 0, 1).unwrap()
    }

    #[test]
    fn parameters_round_trip_and_unchanged_is_all_ones() {
        let read = ThreadScheduleArguments::read(thread());
        let registers = read.encode();
        assert_eq!(&registers[1..4], &[UNCHANGED; 3]);
        assert_eq!(ThreadScheduleArguments::decode(&registers), Ok(read));

        let set = ThreadScheduleArguments {
            destination: thread(),
            priority: Some(255),
            time_slice_microseconds: Some(u32::MAX),
            processor: Some(0),
        };
        assert_eq!(ThreadScheduleArguments::decode(&set.encode()), Ok(set));
        let lowest = ThreadScheduleArguments {
            priority: Some(0),
            time_slice_microseconds: Some(1),
            ..read
        };
        assert_eq!(
            ThreadScheduleArguments::decode(&lowest.encode()),
            Ok(lowest)
        );
    }

    #[test]
    fn out_of_range_parameters_are_invalid() {
        let base = ThreadScheduleArguments::read(thread()).encode();
        for (register, value) in [(1, 256), (2, 0), (2, 1 << 32), (3, 1 << 32)] {
            let mut registers = base;
            registers[register] = value;
            assert_eq!(
                ThreadScheduleArguments::decode(&registers),
                Err(CallError::InvalidArgument),
                "x{register} = {value:#x}"
            );
        }
        let mut registers = base;
        registers[0] = ThreadId::interrupt(1).unwrap().raw();
        assert_eq!(
            ThreadScheduleArguments::decode(&registers),
            Err(CallError::InvalidArgument)
        );
    }

    #[test]
    fn return_values_round_trip_and_reject_undefined_values() {
        let values = ThreadScheduleReturnValues {
            priority: 100,
            time_slice_microseconds: DEFAULT_TIME_SLICE_MICROSECONDS,
            processor: 0,
            consumed_microseconds: 123_456_789,
            status: ThreadStatus::RECEIVING,
        };
        let registers = values.encode();
        assert_eq!(ThreadScheduleReturnValues::decode(&registers), Ok(values));
        let mut malformed = registers;
        malformed[0] = 256;
        assert_eq!(
            ThreadScheduleReturnValues::decode(&malformed),
            Err(ReturnError::MalformedReturnValue)
        );
        let mut malformed = registers;
        malformed[4] = 1 << 5;
        assert_eq!(
            ThreadScheduleReturnValues::decode(&malformed),
            Err(ReturnError::MalformedReturnValue)
        );
    }
}
