//! thread_switch (`svc #4`): give the rest of the caller's time slice to another thread,
//! or yield it.
//!
//! A thread that waits for another to make progress (a lock holder, a server that must
//! run first) donates its time instead of spinning. If the destination is not ready to run,
//! the call is a plain yield. It never blocks and never fails for a well-formed argument:
//! a destination that does not exist just makes it a yield.
//!
//! | register | in                         | out        |
//! |----------|----------------------------|------------|
//! | x0       | destination (nil: yield)   | -          |
//! | x9       | -                          | error code |

use crate::call::{CallRegisters, ERROR_REGISTER, ReturnRegisters};
use crate::error::{CallError, ReturnError};
use crate::thread_id::ThreadId;

/// The argument of thread_switch, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ThreadSwitchArguments {
    /// The thread to run on the rest of the time slice; `None` (nil) to yield to the
    /// scheduler.
    pub destination: Option<ThreadId>,
}

impl ThreadSwitchArguments {
    /// Checks x0: nil or a user thread.
    pub const fn decode(registers: &CallRegisters) -> Result<ThreadSwitchArguments, CallError> {
        match ThreadId::decode(registers[0]) {
            Ok(thread) if thread.is_nil() => Ok(ThreadSwitchArguments { destination: None }),
            Ok(thread) if thread.is_user_thread() => Ok(ThreadSwitchArguments {
                destination: Some(thread),
            }),
            _ => Err(CallError::InvalidArgument),
        }
    }

    /// x0..x10 for the call.
    pub const fn encode(&self) -> CallRegisters {
        let mut registers = [0; 11];
        if let Some(thread) = self.destination {
            registers[0] = thread.raw();
        }
        registers
    }

    /// Decodes x0..x9 after the call: only the error code.
    pub const fn decode_return(registers: &ReturnRegisters) -> Result<(), ReturnError> {
        CallError::check(registers[ERROR_REGISTER])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::Call;

    #[test]
    fn a_yield_is_a_nil_destination() {
        let yield_ = ThreadSwitchArguments { destination: None };
        assert_eq!(yield_.encode()[0], 0);
        assert_eq!(ThreadSwitchArguments::decode(&yield_.encode()), Ok(yield_));
    }

    #[test]
    fn a_donation_names_a_user_thread() {
        let donation = ThreadSwitchArguments {
            destination: Some(ThreadId::new(3, 2, 1).unwrap()),
        };
        assert_eq!(
            ThreadSwitchArguments::decode(&donation.encode()),
            Ok(donation)
        );
    }

    #[test]
    fn any_and_interrupts_cannot_run() {
        for raw in [u64::MAX, ThreadId::interrupt(1).unwrap().raw(), 1 << 63 | 1] {
            let mut registers = [0; 11];
            registers[0] = raw;
            assert_eq!(
                ThreadSwitchArguments::decode(&registers),
                Err(CallError::InvalidArgument)
            );
        }
    }

    #[test]
    fn the_return_is_only_an_error_code() {
        assert_eq!(ThreadSwitchArguments::decode_return(&[0; 10]), Ok(()));
        assert_eq!(
            ThreadSwitchArguments::decode_return(
                &Call::ThreadSwitch.error_registers(CallError::InvalidArgument)
            ),
            Err(ReturnError::Call(CallError::InvalidArgument))
        );
    }
}
