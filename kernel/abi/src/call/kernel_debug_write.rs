//! kernel_debug_write (`svc #0xF001`): write bytes from the caller's UTCB to the kernel
//! console. A debug call, for test tasks that run before any console driver exists.
//!
//! The bytes are the first `length` bytes of the UTCB (the message registers MR0..MR63 read
//! as bytes, little-endian), so the kernel reads them from memory it owns and never touches
//! a user pointer. They are written as they are: no newline is added, nothing is checked
//! for UTF-8. A kernel built without debug calls returns [`CallError::NoSuchCall`].
//!
//! | register | in                       | out        |
//! |----------|--------------------------|------------|
//! | x0       | length, 0..=512 bytes    | -          |
//! | x9       | -                        | error code |

use crate::call::{CallRegisters, ERROR_REGISTER, ReturnRegisters};
use crate::error::{CallError, ReturnError};

/// The most bytes one call writes: the 64 message registers.
pub const MAX_DEBUG_WRITE_LENGTH: usize = 64 * 8;

/// The argument of kernel_debug_write, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KernelDebugWriteArguments {
    /// How many bytes from the start of the UTCB.
    pub length: usize,
}

impl KernelDebugWriteArguments {
    /// Checks x0.
    pub const fn decode(registers: &CallRegisters) -> Result<KernelDebugWriteArguments, CallError> {
        if registers[0] > MAX_DEBUG_WRITE_LENGTH as u64 {
            Err(CallError::InvalidArgument)
        } else {
            Ok(KernelDebugWriteArguments {
                length: registers[0] as usize,
            })
        }
    }

    /// x0..x10 for the call.
    pub const fn encode(&self) -> CallRegisters {
        let mut registers = [0; 11];
        registers[0] = self.length as u64;
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

    #[test]
    fn lengths_up_to_the_message_registers_are_accepted() {
        for length in [0, 1, 512] {
            let arguments = KernelDebugWriteArguments { length };
            assert_eq!(
                KernelDebugWriteArguments::decode(&arguments.encode()),
                Ok(arguments)
            );
        }
        let mut registers = [0; 11];
        registers[0] = 513;
        assert_eq!(
            KernelDebugWriteArguments::decode(&registers),
            Err(CallError::InvalidArgument)
        );
    }

    #[test]
    fn a_kernel_without_debug_calls_says_no_such_call() {
        let mut registers = [0; 10];
        registers[9] = CallError::NoSuchCall.code();
        assert_eq!(
            KernelDebugWriteArguments::decode_return(&registers),
            Err(ReturnError::Call(CallError::NoSuchCall))
        );
        assert_eq!(KernelDebugWriteArguments::decode_return(&[0; 10]), Ok(()));
    }
}
