//! id_nearest (`svc #2`): the thread a message to a destination is actually delivered to.
//!
//! Clans confine communication: a message that leaves the sender's clan goes to the
//! sender's chief, and one that enters an inner clan goes to that clan's chief (see the
//! reference manual, "Clans and chiefs"). id_nearest tells a thread in advance where its
//! message would go, without sending it.
//!
//! | register | in          | out                                  |
//! |----------|-------------|--------------------------------------|
//! | x0       | destination | the nearest thread                   |
//! | x1       | -           | kind: 0 direct, 1 inner, 2 outer     |
//! | x9       | -           | error code                           |

use crate::call::{CallRegisters, ERROR_REGISTER, ReturnRegisters};
use crate::error::{CallError, ReturnError};
use crate::thread_id::ThreadId;

/// How the destination relates to the caller's clan.
#[repr(u64)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NearestKind {
    /// L4's "same clan": delivered directly. The destination is in the caller's task, in
    /// its clan, is its chief, or is in the clan the caller's task is chief of (or is an
    /// interrupt). The nearest thread is the destination itself.
    Direct = 0,
    /// The destination is deeper in the caller's task's subtree than the clan it heads: the
    /// nearest thread is thread 0 of the task in that clan whose subtree contains the
    /// destination (the chief of the inner clan that holds it).
    InnerClan = 1,
    /// The destination is outside the caller's clan and subtree: the nearest thread is
    /// thread 0 of the caller's chief.
    OuterClan = 2,
}

impl NearestKind {
    /// Decodes x1.
    pub const fn decode(value: u64) -> Option<NearestKind> {
        match value {
            0 => Some(NearestKind::Direct),
            1 => Some(NearestKind::InnerClan),
            2 => Some(NearestKind::OuterClan),
            _ => None,
        }
    }
}

/// The argument of id_nearest, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IdNearestArguments {
    /// A user thread or an interrupt.
    pub destination: ThreadId,
}

impl IdNearestArguments {
    /// Checks x0: neither nil nor any.
    pub const fn decode(registers: &CallRegisters) -> Result<IdNearestArguments, CallError> {
        match ThreadId::decode(registers[0]) {
            Ok(destination) if destination.is_user_thread() || destination.is_interrupt() => {
                Ok(IdNearestArguments { destination })
            }
            _ => Err(CallError::InvalidArgument),
        }
    }

    /// x0..x10 for the call.
    pub const fn encode(&self) -> CallRegisters {
        let mut registers = [0; 11];
        registers[0] = self.destination.raw();
        registers
    }
}

/// What id_nearest returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IdNearestReturnValues {
    /// Where a message to the destination would be delivered.
    pub nearest: ThreadId,
    /// Why there.
    pub kind: NearestKind,
}

impl IdNearestReturnValues {
    /// x0..x9 of a successful return.
    pub const fn encode(&self) -> ReturnRegisters {
        let mut registers = [0; 10];
        registers[0] = self.nearest.raw();
        registers[1] = self.kind as u64;
        registers
    }

    /// Decodes x0..x9 after the call.
    pub const fn decode(registers: &ReturnRegisters) -> Result<IdNearestReturnValues, ReturnError> {
        if let Err(error) = CallError::check(registers[ERROR_REGISTER]) {
            return Err(error);
        }
        match NearestKind::decode(registers[1]) {
            Some(kind) => Ok(IdNearestReturnValues {
                nearest: ThreadId::from_raw(registers[0]),
                kind,
            }),
            None => Err(ReturnError::MalformedReturnValue),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::Call;

    #[test]
    fn arguments_round_trip_for_threads_and_interrupts() {
        for destination in [
            ThreadId::new(7, 3, 2).unwrap(),
            ThreadId::interrupt(40).unwrap(),
        ] {
            let arguments = IdNearestArguments { destination };
            assert_eq!(
                IdNearestArguments::decode(&arguments.encode()),
                Ok(arguments)
            );
        }
    }

    #[test]
    fn nil_any_and_malformed_destinations_are_invalid() {
        for raw in [0, u64::MAX, 1 << 60] {
            let mut registers = [0; 11];
            registers[0] = raw;
            assert_eq!(
                IdNearestArguments::decode(&registers),
                Err(CallError::InvalidArgument)
            );
        }
    }

    #[test]
    fn return_values_round_trip_for_every_kind() {
        for kind in [
            NearestKind::Direct,
            NearestKind::InnerClan,
            NearestKind::OuterClan,
        ] {
            let values = IdNearestReturnValues {
                nearest: ThreadId::ROOT_TASK,
                kind,
            };
            assert_eq!(IdNearestReturnValues::decode(&values.encode()), Ok(values));
        }
    }

    #[test]
    fn an_undefined_kind_or_an_error_is_reported() {
        let mut registers = IdNearestReturnValues {
            nearest: ThreadId::ROOT_TASK,
            kind: NearestKind::Direct,
        }
        .encode();
        registers[1] = 3;
        assert_eq!(
            IdNearestReturnValues::decode(&registers),
            Err(ReturnError::MalformedReturnValue)
        );
        let failed = Call::IdNearest.error_registers(CallError::InvalidThread);
        assert_eq!(
            IdNearestReturnValues::decode(&failed),
            Err(ReturnError::Call(CallError::InvalidThread))
        );
    }
}
