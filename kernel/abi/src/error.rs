//! Error codes: what the kernel returns in x9 after every kernel call.
//!
//! One code space for all calls, so that a code printed in a log names one error whatever
//! call returned it. The codes of ipc carry the *phase* in bit 0 (0 = send phase, 1 =
//! receive phase), as in L4 X.2: after a send-phase error nothing was received (and, except
//! for transfer errors, nothing was sent); after a receive-phase error the send phase of the
//! same call had completed. The generic codes (16 and up) mean the call did nothing at all:
//! every argument is decoded and checked before anything is changed.
//!
//! Each variant's documentation says who is to blame, so that a caller knows whether to fix
//! its own code, distrust its partner, or retry.

use core::fmt;

/// The value of x9 after a call that succeeded.
pub const SUCCESS: u64 = 0;

/// An error code returned in x9 (and copied into the UTCB's `error_code` word).
///
/// Codes 2 to 13 are ipc errors with the phase in bit 0; codes 16 and up are generic errors
/// that mean nothing happened. Codes 0 (success), 1, 14 and 15 are never errors.
#[repr(u64)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallError {
    /// ipc, send phase: the destination was not ready to receive before the send timeout
    /// expired. Nothing was sent. Blame: nobody (the partner was busy; retry or wait longer).
    SendTimeout = 2,
    /// ipc, receive phase: no message arrived before the receive timeout expired (also the
    /// normal end of a sleep). The send phase, if any, had completed. Blame: nobody.
    ReceiveTimeout = 3,
    /// ipc, send phase: the destination does not exist: no such task or thread, or its
    /// version is stale (the task was deleted and perhaps re-created). Nothing was sent.
    /// Blame: the caller, which holds an out-of-date thread ID.
    SendNonexistentPartner = 4,
    /// ipc, receive phase: the closed-wait partner does not exist, or it was deleted while
    /// the caller waited for it. Blame: the caller (stale ID) or the partner's chief.
    ReceiveNonexistentPartner = 5,
    /// ipc, send phase: another thread cancelled the send with lthread_ex_regs (or set the
    /// caller's stack or instruction pointer). Nothing was sent. Blame: nobody; the
    /// canceller had its reasons.
    SendCancelled = 6,
    /// ipc, receive phase: another thread cancelled the receive with lthread_ex_regs.
    /// Blame: nobody.
    ReceiveCancelled = 7,
    /// ipc, send phase: the message did not fit: the tag announced more than 63 words
    /// (nothing was sent; blame: the caller), or the receiver did not accept a string or map
    /// item the message carried (blame: the protocol between the two).
    SendMessageOverflow = 8,
    /// ipc, receive phase: the sender's message did not fit the caller's buffer registers
    /// (a string longer than its buffer, more strings than buffers, strings not accepted).
    /// Blame: the protocol between the two.
    ReceiveMessageOverflow = 9,
    /// ipc, send phase: copying a string item faulted in the caller's own address space
    /// (the source buffer was not mapped with read access). The kernel does not call a
    /// pager during a string copy. Blame: the caller.
    SendStringFaultInOwnSpace = 10,
    /// ipc, receive phase: copying a string item faulted in the caller's own address space
    /// (a receive buffer was not mapped with write access). Blame: the caller.
    ReceiveStringFaultInOwnSpace = 11,
    /// ipc, send phase: copying a string item faulted in the receiver's address space.
    /// Blame: the partner.
    SendStringFaultInPartnerSpace = 12,
    /// ipc, receive phase: copying a string item faulted in the sender's address space.
    /// Blame: the partner.
    ReceiveStringFaultInPartnerSpace = 13,
    /// Any call: an argument is malformed (reserved bits set, a thread ID that cannot name a
    /// thread, an invalid flexpage, conflicting flags, an out-of-range number). Nothing
    /// happened. Blame: the caller.
    InvalidArgument = 16,
    /// id_nearest, lthread_ex_regs, thread_schedule, task_new: the thread or task named does
    /// not exist (and the call cannot create it) or its version is stale. Nothing happened.
    /// Blame: the caller.
    InvalidThread = 17,
    /// Any call: the caller may not do this to that thread (not in its task or clan, a
    /// priority above its maximum controlled priority, an interrupt attached to another
    /// thread, a propagation it may not make). Nothing happened. Blame: the caller.
    NotPermitted = 18,
    /// task_new: the caller's task is not the chief of the task to delete, nor the owner of
    /// the inactive task to create or hand over. Nothing happened. Blame: the caller.
    NotChief = 19,
    /// task_new: the task to create is active; delete it first. Nothing happened. Blame:
    /// the caller.
    TaskActive = 20,
    /// task_new, lthread_ex_regs, ipc: the kernel ran out of memory for the new task or
    /// thread (page tables, thread control block, UTCB), or for what a map or grant item
    /// needs (found out before anything is transferred). Nothing happened. Blame: nobody;
    /// the system is full.
    OutOfMemory = 21,
    /// A debug call (`svc #0xF000` to `svc #0xFFFF`) that this kernel does not implement.
    /// Nothing happened. Blame: the caller, or a kernel built without debug calls.
    NoSuchCall = 22,
}

/// The phase of an ipc in which an error happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Before or while sending: nothing was received.
    Send,
    /// While receiving: the send phase (if there was one) had completed.
    Receive,
}

impl CallError {
    /// Every error code, in code order: the list the reference-manual test walks.
    pub const ALL: &'static [CallError] = &[
        CallError::SendTimeout,
        CallError::ReceiveTimeout,
        CallError::SendNonexistentPartner,
        CallError::ReceiveNonexistentPartner,
        CallError::SendCancelled,
        CallError::ReceiveCancelled,
        CallError::SendMessageOverflow,
        CallError::ReceiveMessageOverflow,
        CallError::SendStringFaultInOwnSpace,
        CallError::ReceiveStringFaultInOwnSpace,
        CallError::SendStringFaultInPartnerSpace,
        CallError::ReceiveStringFaultInPartnerSpace,
        CallError::InvalidArgument,
        CallError::InvalidThread,
        CallError::NotPermitted,
        CallError::NotChief,
        CallError::TaskActive,
        CallError::OutOfMemory,
        CallError::NoSuchCall,
    ];

    /// The first generic (phase-less) code.
    pub const FIRST_GENERIC_CODE: u64 = 16;

    /// The code the kernel puts in x9.
    pub const fn code(self) -> u64 {
        self as u64
    }

    /// The name used in the reference manual and in logs.
    pub const fn name(self) -> &'static str {
        match self {
            CallError::SendTimeout => "SendTimeout",
            CallError::ReceiveTimeout => "ReceiveTimeout",
            CallError::SendNonexistentPartner => "SendNonexistentPartner",
            CallError::ReceiveNonexistentPartner => "ReceiveNonexistentPartner",
            CallError::SendCancelled => "SendCancelled",
            CallError::ReceiveCancelled => "ReceiveCancelled",
            CallError::SendMessageOverflow => "SendMessageOverflow",
            CallError::ReceiveMessageOverflow => "ReceiveMessageOverflow",
            CallError::SendStringFaultInOwnSpace => "SendStringFaultInOwnSpace",
            CallError::ReceiveStringFaultInOwnSpace => "ReceiveStringFaultInOwnSpace",
            CallError::SendStringFaultInPartnerSpace => "SendStringFaultInPartnerSpace",
            CallError::ReceiveStringFaultInPartnerSpace => "ReceiveStringFaultInPartnerSpace",
            CallError::InvalidArgument => "InvalidArgument",
            CallError::InvalidThread => "InvalidThread",
            CallError::NotPermitted => "NotPermitted",
            CallError::NotChief => "NotChief",
            CallError::TaskActive => "TaskActive",
            CallError::OutOfMemory => "OutOfMemory",
            CallError::NoSuchCall => "NoSuchCall",
        }
    }

    /// The ipc phase the error happened in; `None` for generic errors, after which nothing
    /// happened at all.
    pub const fn phase(self) -> Option<Phase> {
        let code = self.code();
        if code >= CallError::FIRST_GENERIC_CODE {
            None
        } else if code & 1 == 0 {
            Some(Phase::Send)
        } else {
            Some(Phase::Receive)
        }
    }

    /// Decodes the value of x9 after a call: `Ok(())` for [`SUCCESS`], the error otherwise.
    pub const fn check(code: u64) -> Result<(), ReturnError> {
        if code == SUCCESS {
            return Ok(());
        }
        match CallError::from_code(code) {
            Some(error) => Err(ReturnError::Call(error)),
            None => Err(ReturnError::UnknownCode(code)),
        }
    }

    const fn from_code(code: u64) -> Option<CallError> {
        let mut index = 0;
        while index < CallError::ALL.len() {
            if CallError::ALL[index].code() == code {
                return Some(CallError::ALL[index]);
            }
            index += 1;
        }
        None
    }
}

impl TryFrom<u64> for CallError {
    type Error = UnknownErrorCode;

    fn try_from(code: u64) -> Result<CallError, UnknownErrorCode> {
        CallError::from_code(code).ok_or(UnknownErrorCode(code))
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} (error {})", self.name(), self.code())
    }
}

/// A value of x9 that is no error code of this ABI (0 is success, not an error).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UnknownErrorCode(pub u64);

impl fmt::Display for UnknownErrorCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "unknown error code {}", self.0)
    }
}

/// What a caller learns from a non-zero x9: an error of this ABI, or a code it does not
/// know (a kernel built from a different version of this crate).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReturnError {
    /// An error code of this ABI.
    Call(CallError),
    /// A code this ABI does not define.
    UnknownCode(u64),
    /// x9 said success, but another return register holds a value this ABI does not define
    /// (a kernel built from a different version of this crate).
    MalformedReturnValue,
}

impl From<CallError> for ReturnError {
    fn from(error: CallError) -> ReturnError {
        ReturnError::Call(error)
    }
}

impl fmt::Display for ReturnError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReturnError::Call(error) => error.fmt(formatter),
            ReturnError::UnknownCode(code) => UnknownErrorCode(*code).fmt(formatter),
            ReturnError::MalformedReturnValue => {
                formatter.write_str("a return register holds an undefined value")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_round_trips_through_its_number() {
        for &error in CallError::ALL {
            assert_eq!(CallError::try_from(error.code()), Ok(error));
            assert_eq!(
                CallError::check(error.code()),
                Err(ReturnError::Call(error))
            );
        }
    }

    #[test]
    fn the_list_of_all_errors_is_complete_sorted_and_unique() {
        // A variant missing from ALL would not decode: walk the whole code range.
        let decodable = (0..=255u64)
            .filter(|&code| CallError::try_from(code).is_ok())
            .count();
        assert_eq!(decodable, CallError::ALL.len());
        assert!(
            CallError::ALL
                .windows(2)
                .all(|pair| pair[0].code() < pair[1].code())
        );
    }

    #[test]
    fn success_and_gaps_are_not_error_codes() {
        assert_eq!(CallError::check(SUCCESS), Ok(()));
        for code in [0, 1, 14, 15, 23, u64::MAX] {
            assert_eq!(CallError::try_from(code), Err(UnknownErrorCode(code)));
        }
        assert_eq!(CallError::check(1), Err(ReturnError::UnknownCode(1)));
    }

    #[test]
    fn ipc_errors_carry_their_phase_in_bit_zero() {
        assert_eq!(CallError::SendTimeout.phase(), Some(Phase::Send));
        assert_eq!(CallError::ReceiveTimeout.phase(), Some(Phase::Receive));
        for &error in CallError::ALL {
            let name = error.name();
            match error.phase() {
                Some(Phase::Send) => assert!(name.starts_with("Send"), "{name}"),
                Some(Phase::Receive) => assert!(name.starts_with("Receive"), "{name}"),
                None => assert!(error.code() >= CallError::FIRST_GENERIC_CODE),
            }
        }
    }

    #[test]
    fn names_match_the_variants_debug_form() {
        for &error in CallError::ALL {
            assert_eq!(format!("{error:?}"), error.name());
        }
    }

    #[test]
    fn errors_display_with_name_and_code() {
        assert_eq!(CallError::NotChief.to_string(), "NotChief (error 19)");
        assert_eq!(
            ReturnError::UnknownCode(99).to_string(),
            "unknown error code 99"
        );
    }
}
