//! What the library does with the server's reply: the one decision of the library that
//! needs no asm, kept apart so that it is tested on the host.
//!
//! The asm hands back two words, MR0 and MR1 of the reply. A failed ipc is reported in the
//! same two words: the error tag ([`MessageTag::ERROR`], which no answer can have) and the
//! error code, so the decision is one pure function of the pair.

use abi::{CallError, MessageTag};
use linux_abi::errno::Errno;
use protocol::Answer;

/// What comes after an ipc to the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Return this value to the caller: a result, or `-errno`.
    Return(u64),
    /// The call was an `execve` that succeeded: the calling program is gone; continue at
    /// [`protocol::layout::TRAMPOLINE_START`] with this stack pointer.
    Exec(u64),
    /// The send was cancelled (lthread_ex_regs by someone else): nothing was sent, so send
    /// the call again.
    SendAgain,
    /// The receive was cancelled after the server got the call: wait for its answer again
    /// (sending it twice would run it twice).
    ReceiveAgain,
    /// The server answered with something that is no [`Answer`]: a server bug the library
    /// reports by stopping at [`crate::breakpoint::UNKNOWN_ANSWER`].
    UnknownAnswer,
}

/// What a system call returns when the server cannot be reached (no pager, or the ipc failed
/// other than by a cancel): `-ENOSYS`, as the trampoline does.
pub const SERVER_UNREACHABLE_RESULT: u64 = Errno::ENOSYS.as_return();

/// MR0 of an [`Answer::Result`]: what the child's exit of a forking call returns as its
/// reply, with MR1 = 0.
#[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
pub(crate) const CHILD_RESULT_TAG: u64 = match MessageTag::new(protocol::RESULT_LABEL, 1, 0) {
    Ok(tag) => tag.raw(),
    Err(_) => panic!("one untyped word is a valid tag"),
};

/// The outcome of an ipc whose reply was `tag` (MR0) and `word` (MR1); for a failed ipc,
/// `tag` is [`MessageTag::ERROR`] and `word` the error code.
pub fn outcome(tag: u64, word: u64) -> Outcome {
    let tag = MessageTag::from_raw(tag);
    if tag.is_error() {
        return match CallError::try_from(word) {
            Ok(CallError::SendCancelled) => Outcome::SendAgain,
            Ok(CallError::ReceiveCancelled) => Outcome::ReceiveAgain,
            _ => Outcome::Return(SERVER_UNREACHABLE_RESULT),
        };
    }
    if tag.is_redirected() || tag.is_propagated() {
        return Outcome::UnknownAnswer;
    }
    match Answer::decode(tag, &[word]) {
        Some(Answer::Result(value)) => Outcome::Return(value),
        Some(Answer::Exec { stack_pointer }) => Outcome::Exec(stack_pointer),
        None => Outcome::UnknownAnswer,
    }
}

/// A system call's return value as Rust sees it: `Ok` with the value, or `Err` with the
/// error number for a value in `-4095..=-1`. A number there that Linux does not define can
/// only come from a broken server; it is reported as `EIO`.
pub fn result(value: i64) -> Result<u64, Errno> {
    let value = value as u64;
    if value > u64::MAX - linux_abi::errno::MAX_ERRNO {
        Err(Errno::from_return(value).unwrap_or(Errno::EIO))
    } else {
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(answer: Answer) -> (u64, u64) {
        let (tag, word) = answer.encode().unwrap();
        (tag.raw(), word)
    }

    #[test]
    fn a_result_answer_is_returned_as_is_errors_included() {
        let (tag, word) = encoded(Answer::Result(42));
        assert_eq!(outcome(tag, word), Outcome::Return(42));
        let enoent = Errno::ENOENT.as_return();
        let (tag, word) = encoded(Answer::Result(enoent));
        assert_eq!(outcome(tag, word), Outcome::Return(enoent));
    }

    #[test]
    fn the_child_of_a_fork_sees_a_result_of_zero() {
        assert_eq!(encoded(Answer::Result(0)).0, CHILD_RESULT_TAG);
        assert_eq!(outcome(CHILD_RESULT_TAG, 0), Outcome::Return(0));
    }

    #[test]
    fn an_exec_answer_carries_the_new_stack_pointer() {
        let (tag, word) = encoded(Answer::Exec {
            stack_pointer: 0x7DFF_FFFF_FF00,
        });
        assert_eq!(outcome(tag, word), Outcome::Exec(0x7DFF_FFFF_FF00));
    }

    #[test]
    fn cancels_are_retried_by_phase_and_other_failures_mean_enosys() {
        let error = MessageTag::ERROR.raw();
        let code = |error: CallError| error as u64;
        assert_eq!(
            outcome(error, code(CallError::SendCancelled)),
            Outcome::SendAgain
        );
        assert_eq!(
            outcome(error, code(CallError::ReceiveCancelled)),
            Outcome::ReceiveAgain
        );
        for failure in [
            CallError::SendNonexistentPartner,
            CallError::ReceiveNonexistentPartner,
            CallError::InvalidArgument,
        ] {
            assert_eq!(
                outcome(error, code(failure)),
                Outcome::Return(SERVER_UNREACHABLE_RESULT)
            );
        }
        assert_eq!(
            outcome(error, 9999),
            Outcome::Return(SERVER_UNREACHABLE_RESULT)
        );
    }

    #[test]
    fn anything_but_an_answer_is_unknown() {
        let other_label = MessageTag::new(0x1234, 1, 0).unwrap().raw();
        assert_eq!(outcome(other_label, 0), Outcome::UnknownAnswer);
        let two_words = MessageTag::new(protocol::RESULT_LABEL, 2, 0).unwrap().raw();
        assert_eq!(outcome(two_words, 0), Outcome::UnknownAnswer);
        let (tag, word) = encoded(Answer::Result(1));
        let redirected = tag
            | (u64::from(abi::message::tag::TagFlags::REDIRECTED.bits())
                << MessageTag::FLAGS_SHIFT);
        assert_eq!(outcome(redirected, word), Outcome::UnknownAnswer);
    }

    #[test]
    fn return_values_split_into_results_and_error_numbers() {
        assert_eq!(result(0), Ok(0));
        assert_eq!(result(4096), Ok(4096));
        assert_eq!(result(-2), Err(Errno::ENOENT));
        assert_eq!(result(-4095), Err(Errno::EIO));
        assert_eq!(result(-4096), Ok((-4096i64) as u64));
    }
}
