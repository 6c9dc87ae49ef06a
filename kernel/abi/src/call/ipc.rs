//! ipc (`svc #1`): send a message, receive one, or both in one call.
//!
//! One call does a send phase (if x8 names a destination) and then a receive phase (if x9
//! names whom to receive from), so that a client's call (send, then wait for the answer)
//! and a server's reply-and-wait (answer one client, then wait for the next) cost one
//! kernel entry each.
//!
//! | register | in                                   | out                            |
//! |----------|--------------------------------------|--------------------------------|
//! | x0       | MR0, the tag of the sent message     | MR0, the received tag (or E)   |
//! | x1..x7   | MR1..MR7                             | MR1..MR7                       |
//! | x8       | destination (nil: no send phase)     | the sender ("from")            |
//! | x9       | receive specifier (nil: no receive)  | error code (0: success)        |
//! | x10      | timeouts: send 63..32, receive 31..0 | preserved                      |
//!
//! MR8..MR63 are in the sender's and the receiver's UTCBs.

use crate::call::{CallRegisters, ERROR_REGISTER, ReturnRegisters};
use crate::error::{CallError, ReturnError};
use crate::message::MessageTag;
use crate::thread_id::ThreadId;
use crate::timeout::Timeouts;

/// The message registers that travel in x1..x7.
pub const REGISTER_WORDS: usize = 7;

/// Whom the receive phase accepts a message from (x9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReceiveSpecifier {
    /// Nil: no receive phase.
    None,
    /// [`ThreadId::ANY`]: open wait, from any thread (and any interrupt attached to the
    /// caller).
    Any,
    /// Closed wait: only from this thread or interrupt.
    From(ThreadId),
}

impl ReceiveSpecifier {
    /// The value of x9.
    pub const fn to_register(self) -> u64 {
        match self {
            ReceiveSpecifier::None => ThreadId::NIL.raw(),
            ReceiveSpecifier::Any => ThreadId::ANY.raw(),
            ReceiveSpecifier::From(thread) => thread.raw(),
        }
    }

    /// Checks x9.
    pub const fn decode(value: u64) -> Result<ReceiveSpecifier, CallError> {
        match ThreadId::decode(value) {
            Ok(thread) if thread.is_nil() => Ok(ReceiveSpecifier::None),
            Ok(thread) if thread.is_any() => Ok(ReceiveSpecifier::Any),
            Ok(thread) => Ok(ReceiveSpecifier::From(thread)),
            Err(_) => Err(CallError::InvalidArgument),
        }
    }
}

/// The arguments of ipc, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpcArguments {
    /// Where to send; `None` (nil) for no send phase.
    pub destination: Option<ThreadId>,
    /// The tag of the sent message ([`MessageTag::EMPTY`] without a send phase: x0 is
    /// then ignored).
    pub tag: MessageTag,
    /// MR1..MR7.
    pub words: [u64; REGISTER_WORDS],
    /// Whom to receive from.
    pub receive: ReceiveSpecifier,
    /// Both timeouts.
    pub timeouts: Timeouts,
}

impl IpcArguments {
    /// A client's call: send to `destination`, then wait for its answer, both without
    /// timeout.
    pub const fn call(destination: ThreadId, tag: MessageTag, words: [u64; 7]) -> IpcArguments {
        IpcArguments {
            destination: Some(destination),
            tag,
            words,
            receive: ReceiveSpecifier::From(destination),
            timeouts: Timeouts::NEVER,
        }
    }

    /// A server's reply-and-wait: answer `client` without blocking, then wait for anyone.
    pub const fn reply_and_wait(
        client: ThreadId,
        tag: MessageTag,
        words: [u64; 7],
    ) -> IpcArguments {
        IpcArguments {
            destination: Some(client),
            tag,
            words,
            receive: ReceiveSpecifier::Any,
            timeouts: Timeouts::REPLY_AND_WAIT,
        }
    }

    /// A send only.
    pub const fn send(
        destination: ThreadId,
        tag: MessageTag,
        words: [u64; 7],
        timeouts: Timeouts,
    ) -> IpcArguments {
        IpcArguments {
            destination: Some(destination),
            tag,
            words,
            receive: ReceiveSpecifier::None,
            timeouts,
        }
    }

    /// A receive only.
    pub const fn receive(from: ReceiveSpecifier, timeouts: Timeouts) -> IpcArguments {
        IpcArguments {
            destination: None,
            tag: MessageTag::EMPTY,
            words: [0; 7],
            receive: from,
            timeouts,
        }
    }

    /// Checks x0..x10: the destination and the sent tag (if there is a send phase) and the
    /// receive specifier. Whether the partners exist is the kernel's to find out.
    pub const fn decode(registers: &CallRegisters) -> Result<IpcArguments, CallError> {
        let destination = match ThreadId::decode(registers[8]) {
            Ok(thread) if thread.is_nil() => None,
            // Interrupt threads never receive: an interrupt is acknowledged by the
            // handler's next receive, not by a message to it.
            Ok(thread) if thread.is_user_thread() => Some(thread),
            _ => return Err(CallError::InvalidArgument),
        };
        let tag = if destination.is_some() {
            match MessageTag::validate_for_send(registers[0]) {
                Ok(tag) => tag,
                Err(error) => return Err(error.call_error()),
            }
        } else {
            MessageTag::EMPTY
        };
        let receive = match ReceiveSpecifier::decode(registers[9]) {
            Ok(receive) => receive,
            Err(error) => return Err(error),
        };
        Ok(IpcArguments {
            destination,
            tag,
            words: [
                registers[1],
                registers[2],
                registers[3],
                registers[4],
                registers[5],
                registers[6],
                registers[7],
            ],
            receive,
            timeouts: Timeouts::from_register(registers[10]),
        })
    }

    /// x0..x10 for the call.
    pub const fn encode(&self) -> CallRegisters {
        let destination = match self.destination {
            Some(thread) => thread.raw(),
            None => ThreadId::NIL.raw(),
        };
        let words = self.words;
        [
            self.tag.raw(),
            words[0],
            words[1],
            words[2],
            words[3],
            words[4],
            words[5],
            words[6],
            destination,
            self.receive.to_register(),
            self.timeouts.to_register(),
        ]
    }
}

/// What a successful ipc returns. After a send-only ipc only success matters; the other
/// fields are unspecified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpcReturnValues {
    /// The received message's tag (flags X and P may be set).
    pub tag: MessageTag,
    /// MR1..MR7 of the received message.
    pub words: [u64; REGISTER_WORDS],
    /// The sender: a thread, an interrupt, or the virtual sender of a propagated message.
    pub from: ThreadId,
}

impl IpcReturnValues {
    /// x0..x9 of a successful return.
    pub const fn encode(&self) -> ReturnRegisters {
        let words = self.words;
        [
            self.tag.raw(),
            words[0],
            words[1],
            words[2],
            words[3],
            words[4],
            words[5],
            words[6],
            self.from.raw(),
            0,
        ]
    }

    /// Decodes x0..x9 after the call.
    pub const fn decode(registers: &ReturnRegisters) -> Result<IpcReturnValues, ReturnError> {
        if let Err(error) = CallError::check(registers[ERROR_REGISTER]) {
            return Err(error);
        }
        Ok(IpcReturnValues {
            tag: MessageTag::from_raw(registers[0]),
            words: [
                registers[1],
                registers[2],
                registers[3],
                registers[4],
                registers[5],
                registers[6],
                registers[7],
            ],
            from: ThreadId::from_raw(registers[8]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::Call;
    use crate::message::TagFlags;
    use crate::timeout::Timeout;

    fn server() -> ThreadId {
        ThreadId::new(5, 0, 1).unwrap()
    }

    #[test]
    fn a_call_round_trips_through_the_registers() {
        let tag = MessageTag::new(0x42, 3, 0).unwrap();
        let arguments = IpcArguments::call(server(), tag, [1, 2, 3, 0, 0, 0, 0]);
        let registers = arguments.encode();
        assert_eq!(registers[0], 0x0042_0000_0000_0003);
        assert_eq!(&registers[1..4], &[1, 2, 3]);
        assert_eq!(registers[8], server().raw());
        assert_eq!(registers[9], server().raw());
        assert_eq!(registers[10], u64::MAX);
        assert_eq!(IpcArguments::decode(&registers), Ok(arguments));
    }

    #[test]
    fn a_reply_and_wait_sends_without_blocking_and_waits_for_anyone() {
        let arguments = IpcArguments::reply_and_wait(server(), MessageTag::EMPTY, [0; 7]);
        let registers = arguments.encode();
        assert_eq!(registers[9], u64::MAX);
        assert_eq!(registers[10], 0x0000_0000_FFFF_FFFF);
        assert_eq!(IpcArguments::decode(&registers), Ok(arguments));
    }

    #[test]
    fn a_receive_only_ignores_the_tag_register() {
        let arguments = IpcArguments::receive(ReceiveSpecifier::Any, Timeouts::NEVER);
        let mut registers = arguments.encode();
        registers[0] = u64::MAX; // garbage, but there is no send phase
        let decoded = IpcArguments::decode(&registers).unwrap();
        assert_eq!(decoded.destination, None);
        assert_eq!(decoded.tag, MessageTag::EMPTY);
        assert_eq!(decoded.receive, ReceiveSpecifier::Any);
    }

    #[test]
    fn a_send_only_has_a_nil_receive_specifier() {
        let timeouts = Timeouts {
            send: Timeout::from_microseconds(100).unwrap(),
            receive: Timeout::ZERO,
        };
        let arguments = IpcArguments::send(server(), MessageTag::from_label(1), [0; 7], timeouts);
        let registers = arguments.encode();
        assert_eq!(registers[9], 0);
        assert_eq!(registers[10], 100 << 32);
        assert_eq!(IpcArguments::decode(&registers), Ok(arguments));
    }

    #[test]
    fn waiting_for_an_interrupt_is_a_closed_wait_on_its_id() {
        let timer = ThreadId::interrupt(30).unwrap();
        let arguments = IpcArguments::receive(ReceiveSpecifier::From(timer), Timeouts::NEVER);
        let decoded = IpcArguments::decode(&arguments.encode()).unwrap();
        assert_eq!(decoded.receive, ReceiveSpecifier::From(timer));
    }

    #[test]
    fn a_malformed_destination_or_specifier_is_an_invalid_argument() {
        let mut registers = IpcArguments::call(server(), MessageTag::EMPTY, [0; 7]).encode();
        registers[8] = ThreadId::ANY.raw();
        assert_eq!(
            IpcArguments::decode(&registers),
            Err(CallError::InvalidArgument)
        );
        registers[8] = ThreadId::interrupt(33).unwrap().raw();
        assert_eq!(
            IpcArguments::decode(&registers),
            Err(CallError::InvalidArgument)
        );
        registers[8] = 1 << 50;
        assert_eq!(
            IpcArguments::decode(&registers),
            Err(CallError::InvalidArgument)
        );
        registers[8] = server().raw();
        registers[9] = 1 << 50;
        assert_eq!(
            IpcArguments::decode(&registers),
            Err(CallError::InvalidArgument)
        );
    }

    #[test]
    fn a_sent_tag_is_checked_and_an_overlong_one_overflows() {
        let mut registers = IpcArguments::call(server(), MessageTag::EMPTY, [0; 7]).encode();
        registers[0] = 0b000010_111111; // u = 63, t = 2
        assert_eq!(
            IpcArguments::decode(&registers),
            Err(CallError::SendMessageOverflow)
        );
        registers[0] = MessageTag::ERROR.raw();
        assert_eq!(
            IpcArguments::decode(&registers),
            Err(CallError::InvalidArgument)
        );
        registers[0] = 1 << 20;
        assert_eq!(
            IpcArguments::decode(&registers),
            Err(CallError::InvalidArgument)
        );
        registers[0] = MessageTag::EMPTY.with_flags(TagFlags::PROPAGATED).raw();
        assert!(IpcArguments::decode(&registers).is_ok());
    }

    #[test]
    fn return_values_round_trip_and_errors_come_from_x9() {
        let values = IpcReturnValues {
            tag: MessageTag::new(9, 2, 0).unwrap(),
            words: [10, 20, 0, 0, 0, 0, 0],
            from: server(),
        };
        let registers = values.encode();
        assert_eq!(registers[8], server().raw());
        assert_eq!(registers[9], 0);
        assert_eq!(IpcReturnValues::decode(&registers), Ok(values));

        let failed = Call::Ipc.error_registers(CallError::SendNonexistentPartner);
        assert_eq!(
            IpcReturnValues::decode(&failed),
            Err(ReturnError::Call(CallError::SendNonexistentPartner))
        );
        let mut unknown = registers;
        unknown[9] = 1;
        assert_eq!(
            IpcReturnValues::decode(&unknown),
            Err(ReturnError::UnknownCode(1))
        );
    }
}
