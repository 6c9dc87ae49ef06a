//! Typed ipc: the general call, and safe wrappers for untyped messages.
//!
//! [`ipc`] takes any `abi::call::ipc::IpcArguments`, typed items included, and is `unsafe`
//! because map and grant items change address spaces. The wrappers [`call`],
//! [`reply_and_wait`], [`send`] and [`receive`] build the tag themselves with no typed
//! words, so they only move words and are safe. Their words travel in x1..x7: at most seven,
//! checked at compile time, so no UTCB message register is involved on the sending side.

use abi::call::ipc::{IpcArguments, IpcReturnValues, REGISTER_WORDS, ReceiveSpecifier};
use abi::{MessageTag, ReturnError, ThreadId, Timeouts};

/// One ipc as described by `arguments`; the received message, or the error of x9.
///
/// # Errors
/// The ipc error the kernel returned (`abi::CallError`, with the phase in bit 0).
///
/// # Safety
///
/// The message's map and grant items and the caller's UTCB acceptor must not change memory
/// that Rust code relies on: a grant removes the caller's pages, a map lets the receiver
/// read (and, with write rights, change) the caller's pages, and a received map item lands
/// wherever the acceptor's window (BR0) allows. Words of the message beyond MR7 must have
/// been written into the UTCB's message registers.
pub unsafe fn ipc(arguments: &IpcArguments) -> Result<IpcReturnValues, ReturnError> {
    // SAFETY: the caller keeps the obligations of `raw::ipc` (this function's `# Safety`).
    let results = unsafe { crate::raw::ipc(&arguments.encode()) };
    IpcReturnValues::decode(&results)
}

/// A client's call: sends `label` with `words` (MR1..MRn, n at most 7) to `to` and waits for
/// its answer, both without timeout.
///
/// # Errors
/// The ipc error: `SendNonexistentPartner` for a stale ID, for example.
pub fn call<const WORDS: usize>(
    to: ThreadId,
    label: u16,
    words: [u64; WORDS],
) -> Result<IpcReturnValues, ReturnError> {
    let arguments = IpcArguments::call(to, untyped_tag::<WORDS>(label), registers(words));
    untyped(&arguments)
}

/// A server's reply-and-wait: answers `client` with `label` and `words` without blocking,
/// then waits for the next message from anyone.
///
/// # Errors
/// The ipc error: `SendTimeout` if the client was no longer waiting for the answer.
pub fn reply_and_wait<const WORDS: usize>(
    client: ThreadId,
    label: u16,
    words: [u64; WORDS],
) -> Result<IpcReturnValues, ReturnError> {
    let arguments =
        IpcArguments::reply_and_wait(client, untyped_tag::<WORDS>(label), registers(words));
    untyped(&arguments)
}

/// A send only: `label` and `words` to `to`, waiting at most the send timeout of `timeouts`.
///
/// # Errors
/// The ipc error of the send phase.
pub fn send<const WORDS: usize>(
    to: ThreadId,
    label: u16,
    words: [u64; WORDS],
    timeouts: Timeouts,
) -> Result<(), ReturnError> {
    let arguments = IpcArguments::send(to, untyped_tag::<WORDS>(label), registers(words), timeouts);
    untyped(&arguments).map(|_| ())
}

/// A receive only: waits for a message from `from` (`ReceiveSpecifier::Any` for an open
/// wait) at most the receive timeout of `timeouts`. A closed wait on the caller itself with a
/// timeout is a sleep, ending in `ReceiveTimeout`.
///
/// # Errors
/// The ipc error of the receive phase.
pub fn receive(from: ReceiveSpecifier, timeouts: Timeouts) -> Result<IpcReturnValues, ReturnError> {
    untyped(&IpcArguments::receive(from, timeouts))
}

/// An ipc whose sent message has no typed items.
fn untyped(arguments: &IpcArguments) -> Result<IpcReturnValues, ReturnError> {
    // SAFETY: the message carries no typed items (the tag was built with t = 0, or there is
    // no send phase), so nothing is mapped or granted from the caller; what the receive phase
    // may map or copy into the caller is bounded by its acceptor and string buffers, which
    // the crate-level invariant keeps away from memory in use. The words all travel in
    // x1..x7, so no message register in the UTCB has to be prepared.
    unsafe { ipc(arguments) }
}

/// The tag of an untyped message with `WORDS` words, all in registers.
fn untyped_tag<const WORDS: usize>(label: u16) -> MessageTag {
    const {
        assert!(
            WORDS <= REGISTER_WORDS,
            "at most seven words travel in registers"
        );
    }
    let counts = const {
        match MessageTag::new(0, WORDS, 0) {
            Ok(tag) => tag,
            Err(_) => panic!("at most seven words travel in registers"),
        }
    };
    counts.with_label(label)
}

/// `words` in MR1..MR7, the rest zero.
fn registers<const WORDS: usize>(words: [u64; WORDS]) -> [u64; REGISTER_WORDS] {
    let mut registers = [0; REGISTER_WORDS];
    for (register, word) in registers.iter_mut().zip(words) {
        *register = word;
    }
    registers
}
