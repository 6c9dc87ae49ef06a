//! fpage_unmap (`svc #3`): take back, or reduce the rights of, mappings derived from the
//! caller's pages.
//!
//! Every page a task maps or grants to another is recorded; fpage_unmap walks that record
//! from the caller's pages in the fpage and removes the fpage's rights bits from every
//! mapping derived from them, recursively (the pages a recipient passed on lose them too).
//! With the scope [`UnmapScope::RecipientsAndCaller`] the caller's own mappings lose them
//! as well. A pager revokes a page with all rights set (a *flush*), and makes a page
//! copy-on-write by removing write.
//!
//! | register | in                                            | out                     |
//! |----------|-----------------------------------------------|-------------------------|
//! | x0       | fpage: region, and the rights to remove       | the region, with the    |
//! |          |                                               | access status as rights |
//! | x1       | control: bit 0 = also the caller's own pages  | -                       |
//! | x9       | -                                             | error code              |

use crate::call::{CallRegisters, ERROR_REGISTER, ReturnRegisters};
use crate::error::{CallError, ReturnError};
use crate::message::{Fpage, Rights};

/// Whose mappings lose the rights.
#[repr(u64)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnmapScope {
    /// Only the mappings derived from the caller's: what it mapped to others, and what
    /// they mapped on. Control value 0.
    Recipients = 0,
    /// Those and the caller's own mappings in the fpage. Control value 1.
    RecipientsAndCaller = 1,
}

/// The arguments of fpage_unmap, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FpageUnmapArguments {
    /// The region; its rights are the rights to remove (all three: remove the mappings).
    pub fpage: Fpage,
    /// Whose mappings.
    pub scope: UnmapScope,
}

impl FpageUnmapArguments {
    /// Checks x0 (a flexpage) and x1 (0 or 1).
    pub const fn decode(registers: &CallRegisters) -> Result<FpageUnmapArguments, CallError> {
        let fpage = match Fpage::decode(registers[0]) {
            Ok(fpage) => fpage,
            Err(_) => return Err(CallError::InvalidArgument),
        };
        let scope = match registers[1] {
            0 => UnmapScope::Recipients,
            1 => UnmapScope::RecipientsAndCaller,
            _ => return Err(CallError::InvalidArgument),
        };
        Ok(FpageUnmapArguments { fpage, scope })
    }

    /// x0..x10 for the call.
    pub const fn encode(&self) -> CallRegisters {
        let mut registers = [0; 11];
        registers[0] = self.fpage.raw();
        registers[1] = self.scope as u64;
        registers
    }
}

/// What fpage_unmap returns: the region, with rights that say how the pages were used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FpageUnmapReturnValues {
    /// The caller's region with the access status in place of the rights: read =
    /// referenced, write = written, execute = executed, by any of the mappings the call
    /// touched since the caller last asked. The status is conservative: a bit may be set
    /// for a page that was not so used, never clear for one that was. This kernel does not
    /// track access (Cortex-A72 has no hardware dirty-bit management) and reports every
    /// bit set for a non-nil region.
    pub status: Fpage,
}

impl FpageUnmapReturnValues {
    /// The access status.
    pub const fn accessed(&self) -> Rights {
        self.status.rights()
    }

    /// x0..x9 of a successful return.
    pub const fn encode(&self) -> ReturnRegisters {
        let mut registers = [0; 10];
        registers[0] = self.status.raw();
        registers
    }

    /// Decodes x0..x9 after the call.
    pub const fn decode(
        registers: &ReturnRegisters,
    ) -> Result<FpageUnmapReturnValues, ReturnError> {
        if let Err(error) = CallError::check(registers[ERROR_REGISTER]) {
            return Err(error);
        }
        Ok(FpageUnmapReturnValues {
            status: Fpage::from_raw(registers[0]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flush_and_a_write_protect_round_trip() {
        let page = Fpage::page(0x40_0000, Rights::ALL).unwrap();
        let flush = FpageUnmapArguments {
            fpage: page,
            scope: UnmapScope::Recipients,
        };
        assert_eq!(FpageUnmapArguments::decode(&flush.encode()), Ok(flush));
        let copy_on_write = FpageUnmapArguments {
            fpage: page.with_rights(Rights::WRITE),
            scope: UnmapScope::RecipientsAndCaller,
        };
        let registers = copy_on_write.encode();
        assert_eq!(registers[1], 1);
        assert_eq!(FpageUnmapArguments::decode(&registers), Ok(copy_on_write));
    }

    #[test]
    fn unmapping_everything_uses_the_complete_fpage() {
        let everything = FpageUnmapArguments {
            fpage: Fpage::complete(Rights::ALL),
            scope: UnmapScope::RecipientsAndCaller,
        };
        assert_eq!(
            FpageUnmapArguments::decode(&everything.encode()),
            Ok(everything)
        );
    }

    #[test]
    fn a_malformed_fpage_or_control_word_is_invalid() {
        let mut registers = [0; 11];
        registers[0] = 0x1000 | 13 << 4; // misaligned
        assert_eq!(
            FpageUnmapArguments::decode(&registers),
            Err(CallError::InvalidArgument)
        );
        registers[0] = Fpage::page(0, Rights::ALL).unwrap().raw();
        registers[1] = 2;
        assert_eq!(
            FpageUnmapArguments::decode(&registers),
            Err(CallError::InvalidArgument)
        );
    }

    #[test]
    fn the_status_comes_back_as_the_rights_of_the_region() {
        let values = FpageUnmapReturnValues {
            status: Fpage::page(0x1000, Rights::READ_WRITE).unwrap(),
        };
        let decoded = FpageUnmapReturnValues::decode(&values.encode()).unwrap();
        assert_eq!(decoded, values);
        assert_eq!(decoded.accessed(), Rights::READ_WRITE);
        let mut failed = values.encode();
        failed[9] = CallError::InvalidArgument.code();
        assert_eq!(
            FpageUnmapReturnValues::decode(&failed),
            Err(ReturnError::Call(CallError::InvalidArgument))
        );
    }
}
