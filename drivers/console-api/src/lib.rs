//! The console driver's protocol, defined once for the driver (`drivers/console`), the root
//! task that configures it and the OS server that writes and reads through it.
//!
//! | label                | from → to          | words                                          | answer                                  |
//! |----------------------|--------------------|------------------------------------------------|-----------------------------------------|
//! | [`CONFIGURATION_REQUEST_LABEL`] | driver → root task | none (a call to its pager)          | the configuration, below                |
//! | [`CONFIGURE_LABEL`]  | root task → driver | MR1 UART physical address, MR2 INTID, MR3 the UART's offset in its page; a map item of that page into [`UART_WINDOW`] | (it is an answer) |
//! | [`WRITE_LABEL`]      | client → driver    | MR1 byte count (0..=48), MR2..MR7 the bytes    | [`Answer::Written`]: MR1 = the count    |
//! | [`READ_LABEL`]       | client → driver    | none                                           | [`Answer::Received`] once a byte is there: MR1 = count (1..=48), MR2..MR7 the bytes |
//! | [`ERROR_LABEL`]      | driver → client    | MR1 an [`ErrorCode`]                           | (it is an answer)                       |
//!
//! Why it is shaped this way:
//!
//! - **Every message fits in the registers.** 48 bytes are six words, MR2..MR7, with the
//!   count in MR1: a WRITE or a READ is one ipc each way with no UTCB message register and no
//!   string item. A string item would need a receive buffer on the other side and both
//!   buffers mapped before the copy, which costs more than it saves for terminal traffic; a
//!   longer write is a few calls.
//! - **The driver never blocks on a client.** WRITE is answered at once (the driver polls the
//!   transmitter); READ is a call the driver answers later, when bytes arrive, with a send
//!   that does not wait: the reader waits in its call, so it is receiving. Only one READ may
//!   be outstanding, so the driver keeps no queue of readers; a second reader is refused at
//!   once with [`ErrorCode::ReaderBusy`].
//! - **Decoding is complete and canonical**: a message is checked whole (label, both word
//!   counts, every word, the bytes beyond the count zero) before anything acts on it, so one
//!   value has exactly one encoding and a confused client is answered with an [`ErrorCode`]
//!   instead of having half its message acted on.
//! - **The configuration comes as a message from the root task**, not as constants: where the
//!   UART is and which interrupt it raises come from the device tree, which the root task
//!   reads. The driver asks for it: its first action is a call to its pager, the root task,
//!   which answers with the configuration. Asking, rather than waiting for the root task to
//!   send, lets the root task stay in its open receive loop, where it also serves the page
//!   faults the driver takes before it gets that far; a root task that sent first would block
//!   in its send while the driver's first fault waits for it. MR3 repeats the UART's offset
//!   within its page (the low bits of MR1), so that a root task that maps the wrong page or
//!   mixes up the words is refused instead of letting the driver poke registers at the
//!   wrong place.
//!
//! Labels are in `0x4300..=0x43FF` ('C' for console), clear of the OS server's `0x5Cxx` and the
//! kernel's `0xFFxx`; successful answers have label 0.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use core::fmt;

use abi::call::ipc::REGISTER_WORDS;
use abi::message::item::MapItem;
use abi::{Fpage, MessageTag, Rights, ThreadId, TypedItem};

/// The root task's configuration message (see [`Configuration`]).
pub const CONFIGURE_LABEL: u16 = 0x4300;
/// A child's request for its configuration: its first message, a call with no words to its
/// pager, the root task, which answers with the configuration (for the driver, a
/// [`CONFIGURE_LABEL`] message).
pub const CONFIGURATION_REQUEST_LABEL: u16 = 0x4303;
/// A client's write (see [`Request::Write`]).
pub const WRITE_LABEL: u16 = 0x4301;
/// A client's read (see [`Request::Read`]).
pub const READ_LABEL: u16 = 0x4302;
/// The label of every successful answer.
pub const ANSWER_LABEL: u16 = 0;
/// The label of a refusal: MR1 = an [`ErrorCode`].
pub const ERROR_LABEL: u16 = 0x43FF;

/// The most bytes one WRITE or one READ answer carries.
pub const MAX_BYTES: usize = 48;
/// The words that carry the bytes (MR2..MR7), eight bytes each, little-endian.
pub const BYTE_WORDS: usize = MAX_BYTES / 8;
/// The untyped words of a WRITE and of a READ answer: the count and the byte words.
pub const BYTES_MESSAGE_WORDS: usize = 1 + BYTE_WORDS;
/// The untyped words of the configuration message (MR1..MR3); its map item follows in MR4
/// and MR5.
pub const CONFIGURATION_WORDS: usize = 3;
/// The page size of the UART mapping: the configuration's map item is one page.
pub const PAGE_SIZE: u64 = 4096;
/// Where the driver receives the UART's register page: its receive window (one page) while
/// it asks for its configuration, and the send base of the configuration's map item. Clear of
/// the driver's image (from 0x40_0000), of its stack and UTCB area (near the top of the
/// address space) and of anything its pager maps for it.
pub const UART_WINDOW: u64 = 0x1000_0000;

const _: () = assert!(MAX_BYTES == BYTE_WORDS * 8);
const _: () = assert!(BYTES_MESSAGE_WORDS == REGISTER_WORDS);
const _: () = assert!(CONFIGURATION_WORDS + abi::message::item::ITEM_WORDS <= REGISTER_WORDS);

/// Why the driver refused a message: MR1 of an [`ERROR_LABEL`] answer to a client; for the
/// configuration, which the driver does not answer, the reason it logs before it stops.
#[repr(u64)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The label is none of the messages the driver takes at this point: no request, or, in
    /// answer to the configuration request, no configuration.
    UnknownRequest = 1,
    /// A known label with the wrong word counts, typed items where none belong, a count
    /// above [`MAX_BYTES`], or non-zero bytes beyond the count.
    MalformedRequest = 2,
    /// A READ while another reader's READ is outstanding.
    ReaderBusy = 3,
    /// A configuration whose values cannot be right: an INTID above 1019, a UART address
    /// that is not 4-byte aligned, or an offset (MR3) that does not match the address.
    InvalidConfiguration = 4,
    /// The configuration's map item brought no read-write page into the driver's window.
    NoRegisterPage = 5,
    /// A configuration message after the driver was configured.
    AlreadyConfigured = 6,
}

impl ErrorCode {
    /// Every code, in code order.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::UnknownRequest,
        ErrorCode::MalformedRequest,
        ErrorCode::ReaderBusy,
        ErrorCode::InvalidConfiguration,
        ErrorCode::NoRegisterPage,
        ErrorCode::AlreadyConfigured,
    ];

    /// The value of MR1.
    pub const fn code(self) -> u64 {
        self as u64
    }

    /// The name used in logs.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::UnknownRequest => "UnknownRequest",
            ErrorCode::MalformedRequest => "MalformedRequest",
            ErrorCode::ReaderBusy => "ReaderBusy",
            ErrorCode::InvalidConfiguration => "InvalidConfiguration",
            ErrorCode::NoRegisterPage => "NoRegisterPage",
            ErrorCode::AlreadyConfigured => "AlreadyConfigured",
        }
    }
}

impl TryFrom<u64> for ErrorCode {
    type Error = MalformedAnswer;

    fn try_from(code: u64) -> Result<ErrorCode, MalformedAnswer> {
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|error| error.code() == code)
            .ok_or(MalformedAnswer)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} (console error {})", self.name(), self.code())
    }
}

/// An answer that is none of the protocol's: a driver of another version, or no driver at
/// all. The client cannot know what happened to its request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MalformedAnswer;

impl fmt::Display for MalformedAnswer {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("not an answer of the console protocol")
    }
}

/// The tag of a message with `untyped` and `typed` words. Only called with the protocol's
/// constant counts, all within the 63 words a tag can announce (tested).
const fn tag(label: u16, untyped: usize, typed: usize) -> MessageTag {
    MessageTag::from_raw(
        ((label as u64) << MessageTag::LABEL_SHIFT)
            | ((typed as u64) << MessageTag::TYPED_SHIFT)
            | ((untyped as u64) << MessageTag::UNTYPED_SHIFT),
    )
}

/// Whether a received tag announces exactly `untyped` and `typed` words and `words` holds
/// them.
fn has_shape(tag: MessageTag, words: &[u64], untyped: usize, typed: usize) -> bool {
    tag.untyped_words() == untyped && tag.typed_words() == typed && words.len() >= untyped + typed
}

/// Up to [`MAX_BYTES`] bytes: the payload of a WRITE or of a READ answer.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bytes {
    /// The bytes, zero beyond `length`.
    buffer: [u8; MAX_BYTES],
    /// How many of `buffer` count, at most [`MAX_BYTES`].
    length: usize,
}

impl Bytes {
    /// No bytes.
    pub const EMPTY: Bytes = Bytes {
        buffer: [0; MAX_BYTES],
        length: 0,
    };

    /// `bytes` if there are at most [`MAX_BYTES`] of them.
    pub fn new(bytes: &[u8]) -> Option<Bytes> {
        (bytes.len() <= MAX_BYTES).then(|| Bytes::prefix(bytes))
    }

    /// The first [`MAX_BYTES`] of `bytes` (all of them if there are fewer): how a client cuts a
    /// longer write into messages.
    pub fn prefix(bytes: &[u8]) -> Bytes {
        let mut result = Bytes::EMPTY;
        for (slot, byte) in result.buffer.iter_mut().zip(bytes) {
            *slot = *byte;
            result.length += 1;
        }
        result
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.buffer.get(..self.length).unwrap_or(&[])
    }

    /// How many bytes there are.
    pub const fn len(&self) -> usize {
        self.length
    }

    /// Whether there are none.
    pub const fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// MR1..MR7: the count, then the bytes packed little-endian (byte 0 in the low byte of
    /// MR2), zero beyond the count.
    pub fn words(&self) -> [u64; BYTES_MESSAGE_WORDS] {
        let mut words = [0; BYTES_MESSAGE_WORDS];
        words[0] = self.length as u64;
        for (word, chunk) in words[1..].iter_mut().zip(self.buffer.chunks_exact(8)) {
            let mut bytes = [0; 8];
            bytes.copy_from_slice(chunk);
            *word = u64::from_le_bytes(bytes);
        }
        words
    }

    /// The bytes MR1..MR7 carry, if the count is at most [`MAX_BYTES`] and every byte beyond
    /// it is zero.
    pub fn from_words(words: &[u64]) -> Option<Bytes> {
        let (&count, byte_words) = words.split_first()?;
        let byte_words = byte_words.get(..BYTE_WORDS)?;
        let length = usize::try_from(count)
            .ok()
            .filter(|&count| count <= MAX_BYTES)?;
        let mut buffer = [0; MAX_BYTES];
        for (chunk, word) in buffer.chunks_exact_mut(8).zip(byte_words) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        if buffer.get(length..)?.iter().any(|&byte| byte != 0) {
            return None;
        }
        Some(Bytes { buffer, length })
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Bytes(b\"{}\")", self.as_slice().escape_ascii())
    }
}

/// A client's request to the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Request {
    /// Transmit these bytes, as they are (no newline translation: that is the tty's output
    /// processing, in the OS server). Answered with [`Answer::Written`] once every byte is in
    /// the UART's transmit FIFO.
    Write(Bytes),
    /// Answer with the received bytes, as soon as there is at least one (at once if some are
    /// buffered). Answered with [`Answer::Received`].
    Read,
}

impl Request {
    /// The tag and MR1..MR7 (zero beyond the tag's count). A WRITE is the same as
    /// `libl4::call(driver, WRITE_LABEL, bytes.words())`, a READ as
    /// `libl4::call(driver, READ_LABEL, [])`.
    pub fn encode(&self) -> (MessageTag, [u64; REGISTER_WORDS]) {
        match self {
            Request::Write(bytes) => (tag(WRITE_LABEL, BYTES_MESSAGE_WORDS, 0), bytes.words()),
            Request::Read => (tag(READ_LABEL, 0, 0), [0; REGISTER_WORDS]),
        }
    }

    /// The request in a message the configured driver received, checked whole.
    ///
    /// # Errors
    /// [`ErrorCode::UnknownRequest`] for a label that is no request,
    /// [`ErrorCode::AlreadyConfigured`] for a configuration message,
    /// [`ErrorCode::MalformedRequest`] for a request of the wrong shape.
    pub fn decode(tag: MessageTag, words: &[u64]) -> Result<Request, ErrorCode> {
        match tag.label() {
            WRITE_LABEL if has_shape(tag, words, BYTES_MESSAGE_WORDS, 0) => {
                Bytes::from_words(words)
                    .map(Request::Write)
                    .ok_or(ErrorCode::MalformedRequest)
            }
            READ_LABEL if has_shape(tag, words, 0, 0) => Ok(Request::Read),
            WRITE_LABEL | READ_LABEL => Err(ErrorCode::MalformedRequest),
            CONFIGURE_LABEL => Err(ErrorCode::AlreadyConfigured),
            _ => Err(ErrorCode::UnknownRequest),
        }
    }
}

/// The driver's answer to a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Answer {
    /// To a WRITE: MR1 = how many bytes were written (all of them).
    Written(usize),
    /// To a READ: the bytes received, at least one.
    Received(Bytes),
    /// To anything the driver refuses: MR1 = why.
    Refused(ErrorCode),
}

impl Answer {
    /// The tag and MR1..MR7 (zero beyond the tag's count).
    pub fn encode(&self) -> (MessageTag, [u64; REGISTER_WORDS]) {
        let mut words = [0; REGISTER_WORDS];
        match self {
            Answer::Written(count) => {
                words[0] = *count as u64;
                (tag(ANSWER_LABEL, 1, 0), words)
            }
            Answer::Received(bytes) => (tag(ANSWER_LABEL, BYTES_MESSAGE_WORDS, 0), bytes.words()),
            Answer::Refused(error) => {
                words[0] = error.code();
                (tag(ERROR_LABEL, 1, 0), words)
            }
        }
    }

    /// The answer in a message a client received from the driver, checked whole.
    ///
    /// # Errors
    /// [`MalformedAnswer`] for anything that is not an answer of this protocol: another label,
    /// word counts of no answer, typed items, a written count above [`MAX_BYTES`], a READ
    /// answer with no bytes, an unknown error code.
    pub fn decode(tag: MessageTag, words: &[u64]) -> Result<Answer, MalformedAnswer> {
        let first = words.first().copied();
        match (tag.label(), tag.untyped_words(), tag.typed_words()) {
            (ANSWER_LABEL, 1, 0) => first
                .and_then(|count| usize::try_from(count).ok())
                .filter(|&count| count <= MAX_BYTES)
                .map(Answer::Written)
                .ok_or(MalformedAnswer),
            (ANSWER_LABEL, BYTES_MESSAGE_WORDS, 0) => Bytes::from_words(words)
                .filter(|bytes| !bytes.is_empty())
                .map(Answer::Received)
                .ok_or(MalformedAnswer),
            (ERROR_LABEL, 1, 0) => first
                .ok_or(MalformedAnswer)
                .and_then(ErrorCode::try_from)
                .map(Answer::Refused),
            _ => Err(MalformedAnswer),
        }
    }
}

/// What the root task tells the driver: where the UART is and which interrupt it raises.
///
/// The message (label [`CONFIGURE_LABEL`], three untyped words and one map item) answers the
/// driver's first message, a [`CONFIGURATION_REQUEST_LABEL`] call to its pager, the root
/// task; during that call the driver's receive window is the page at [`UART_WINDOW`]. Before
/// the driver runs, the root task attaches the interrupt to the driver's thread 0
/// (lthread_ex_regs with `SET_PAGER` on the interrupt ID), so that the first interrupt finds
/// its handler. A configuration the driver cannot use is logged and stops the driver: asking
/// again would bring the same answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Configuration {
    /// The physical address of the UART's register block (MR1).
    physical_address: u64,
    /// The GIC INTID of the UART's interrupt (MR2).
    interrupt: u16,
}

/// A configuration as the driver received it: the values, and where its window received the
/// register page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReceivedConfiguration {
    /// The values of MR1..MR3.
    pub configuration: Configuration,
    /// The page that arrived in the driver's receive window: the map item as the kernel
    /// rewrote it for the receiver. The driver checks that it is its window.
    pub register_page: Fpage,
}

impl Configuration {
    /// The message tag: [`CONFIGURE_LABEL`], three untyped words, one map item.
    pub const TAG: MessageTag = tag(
        CONFIGURE_LABEL,
        CONFIGURATION_WORDS,
        abi::message::item::ITEM_WORDS,
    );

    /// The configuration of a UART at `physical_address` that raises INTID `interrupt`.
    ///
    /// # Errors
    /// [`ErrorCode::InvalidConfiguration`] if the INTID is above 1019 (no GIC interrupt) or
    /// the address is not 4-byte aligned (no PL011 register block).
    pub fn new(physical_address: u64, interrupt: u16) -> Result<Configuration, ErrorCode> {
        if ThreadId::interrupt(interrupt).is_err() || !physical_address.is_multiple_of(4) {
            return Err(ErrorCode::InvalidConfiguration);
        }
        Ok(Configuration {
            physical_address,
            interrupt,
        })
    }

    /// The physical address of the UART's register block.
    pub const fn physical_address(&self) -> u64 {
        self.physical_address
    }

    /// The GIC INTID of the UART's interrupt.
    pub const fn interrupt(&self) -> u16 {
        self.interrupt
    }

    /// The thread ID the interrupt's messages come from.
    pub const fn interrupt_thread(&self) -> ThreadId {
        // `new` and `decode` only let INTIDs up to 1019 in, each of which is an interrupt ID.
        match ThreadId::interrupt(self.interrupt) {
            Ok(thread) => thread,
            Err(_) => ThreadId::NIL,
        }
    }

    /// Where the register block lies within its page (MR3).
    pub const fn register_offset(&self) -> u64 {
        self.physical_address % PAGE_SIZE
    }

    /// MR1..MR5 of the message (zero beyond), whose map item gives the driver
    /// `register_page`: the page of the sender's space where the sender has the UART's
    /// page mapped, 4 KiB with read and write rights (send base [`UART_WINDOW`]). Sent with
    /// [`Configuration::TAG`], as the answer to the driver's configuration request.
    ///
    /// # Errors
    /// [`ErrorCode::NoRegisterPage`] if `register_page` is not a single page with read and
    /// write rights.
    pub fn words(&self, register_page: Fpage) -> Result<[u64; REGISTER_WORDS], ErrorCode> {
        if !is_register_page(register_page) {
            return Err(ErrorCode::NoRegisterPage);
        }
        let item =
            MapItem::new(UART_WINDOW, register_page).map_err(|_| ErrorCode::NoRegisterPage)?;
        let [first, second] = TypedItem::Map(item).encode();
        Ok([
            self.physical_address,
            u64::from(self.interrupt),
            self.register_offset(),
            first,
            second,
            0,
            0,
        ])
    }

    /// The configuration in a message the driver received, checked whole.
    ///
    /// # Errors
    /// [`ErrorCode::UnknownRequest`] for another label,
    /// [`ErrorCode::MalformedRequest`] for the wrong shape, [`ErrorCode::InvalidConfiguration`]
    /// for values that cannot be right, [`ErrorCode::NoRegisterPage`] if the item brought no
    /// read-write page.
    pub fn decode(tag: MessageTag, words: &[u64]) -> Result<ReceivedConfiguration, ErrorCode> {
        if tag.label() != CONFIGURE_LABEL {
            return Err(ErrorCode::UnknownRequest);
        }
        let item_words = abi::message::item::ITEM_WORDS;
        if !has_shape(tag, words, CONFIGURATION_WORDS, item_words) {
            return Err(ErrorCode::MalformedRequest);
        }
        let (Some(&[physical_address, interrupt, offset]), Some(&[first, second])) = (
            words.get(..CONFIGURATION_WORDS),
            words.get(CONFIGURATION_WORDS..CONFIGURATION_WORDS + item_words),
        ) else {
            return Err(ErrorCode::MalformedRequest);
        };
        let interrupt = u16::try_from(interrupt).map_err(|_| ErrorCode::InvalidConfiguration)?;
        let configuration = Configuration::new(physical_address, interrupt)?;
        if offset != configuration.register_offset() {
            return Err(ErrorCode::InvalidConfiguration);
        }
        match TypedItem::decode([first, second]) {
            Ok(TypedItem::Map(item)) if is_register_page(item.fpage()) => {
                Ok(ReceivedConfiguration {
                    configuration,
                    register_page: item.fpage(),
                })
            }
            _ => Err(ErrorCode::NoRegisterPage),
        }
    }
}

/// Whether `fpage` is one 4 KiB page with read and write rights.
fn is_register_page(fpage: Fpage) -> bool {
    !fpage.is_nil()
        && !fpage.is_complete()
        && fpage.size() == PAGE_SIZE
        && fpage.rights().contains(Rights::READ_WRITE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(address: u64) -> Fpage {
        Fpage::page(address, Rights::READ_WRITE).unwrap()
    }

    fn decode_request(message: (MessageTag, [u64; REGISTER_WORDS])) -> Result<Request, ErrorCode> {
        Request::decode(message.0, &message.1)
    }

    fn decode_answer(
        message: (MessageTag, [u64; REGISTER_WORDS]),
    ) -> Result<Answer, MalformedAnswer> {
        Answer::decode(message.0, &message.1)
    }

    #[test]
    fn the_protocol_tags_are_the_ones_the_abi_builds() {
        assert_eq!(
            Request::Write(Bytes::EMPTY).encode().0,
            MessageTag::new(WRITE_LABEL, 7, 0).unwrap()
        );
        assert_eq!(
            Request::Read.encode().0,
            MessageTag::new(READ_LABEL, 0, 0).unwrap()
        );
        assert_eq!(
            Configuration::TAG,
            MessageTag::new(CONFIGURE_LABEL, 3, 2).unwrap()
        );
        assert_eq!(
            Answer::Written(3).encode().0,
            MessageTag::new(ANSWER_LABEL, 1, 0).unwrap()
        );
        assert_eq!(
            Answer::Received(Bytes::prefix(b"x")).encode().0,
            MessageTag::new(ANSWER_LABEL, 7, 0).unwrap()
        );
        assert_eq!(
            Answer::Refused(ErrorCode::ReaderBusy).encode().0,
            MessageTag::new(ERROR_LABEL, 1, 0).unwrap()
        );
    }

    #[test]
    fn the_labels_are_user_labels_and_distinct() {
        let labels = [
            CONFIGURE_LABEL,
            CONFIGURATION_REQUEST_LABEL,
            WRITE_LABEL,
            READ_LABEL,
            ANSWER_LABEL,
            ERROR_LABEL,
        ];
        for (index, label) in labels.iter().enumerate() {
            assert!(*label < abi::protocol::FIRST_RESERVED_LABEL);
            assert!(!labels[index + 1..].contains(label));
        }
    }

    #[test]
    fn bytes_are_packed_little_endian_after_the_count() {
        let words = Bytes::prefix(b"0123456789").words();
        assert_eq!(words[0], 10);
        assert_eq!(words[1], u64::from_le_bytes(*b"01234567"));
        assert_eq!(words[2], u64::from_le_bytes(*b"89\0\0\0\0\0\0"));
        assert_eq!(&words[3..], &[0; 4]);
    }

    #[test]
    fn bytes_of_every_length_round_trip_through_the_words() {
        let source: Vec<u8> = (0..=255u8).rev().collect();
        for length in 0..=MAX_BYTES {
            let bytes = Bytes::new(&source[..length]).unwrap();
            assert_eq!(bytes.len(), length);
            assert_eq!(bytes.as_slice(), &source[..length]);
            assert_eq!(Bytes::from_words(&bytes.words()), Some(bytes));
        }
    }

    #[test]
    fn more_than_forty_eight_bytes_are_no_bytes_but_have_a_prefix() {
        let long = [7u8; MAX_BYTES + 1];
        assert_eq!(Bytes::new(&long), None);
        assert_eq!(Bytes::prefix(&long).as_slice(), &long[..MAX_BYTES]);
        assert_eq!(Bytes::prefix(b"ab").as_slice(), b"ab");
    }

    #[test]
    fn a_count_above_forty_eight_or_garbage_beyond_the_count_is_refused() {
        let mut words = Bytes::prefix(b"abc").words();
        words[0] = MAX_BYTES as u64 + 1;
        assert_eq!(Bytes::from_words(&words), None);
        words[0] = u64::MAX;
        assert_eq!(Bytes::from_words(&words), None);
        let mut words = Bytes::prefix(b"abc").words();
        words[1] |= 0xFF << 24;
        assert_eq!(Bytes::from_words(&words), None);
        let mut words = Bytes::prefix(b"abc").words();
        words[6] = 1;
        assert_eq!(Bytes::from_words(&words), None);
        assert_eq!(Bytes::from_words(&words[..6]), None);
        assert_eq!(Bytes::from_words(&[]), None);
    }

    #[test]
    fn requests_round_trip() {
        for request in [
            Request::Read,
            Request::Write(Bytes::EMPTY),
            Request::Write(Bytes::prefix(b"hello, world\n")),
            Request::Write(Bytes::prefix(&[0xFF; MAX_BYTES])),
        ] {
            assert_eq!(decode_request(request.encode()), Ok(request));
        }
    }

    #[test]
    fn malformed_requests_are_refused_with_their_reason() {
        let (write_tag, words) = Request::Write(Bytes::prefix(b"hi")).encode();
        let six_words = MessageTag::new(WRITE_LABEL, 6, 0).unwrap();
        assert_eq!(
            Request::decode(six_words, &words),
            Err(ErrorCode::MalformedRequest)
        );
        assert_eq!(
            Request::decode(write_tag, &words[..6]),
            Err(ErrorCode::MalformedRequest)
        );
        let with_item = MessageTag::new(WRITE_LABEL, 5, 2).unwrap();
        assert_eq!(
            Request::decode(with_item, &words),
            Err(ErrorCode::MalformedRequest)
        );
        let read_with_word = MessageTag::new(READ_LABEL, 1, 0).unwrap();
        assert_eq!(
            Request::decode(read_with_word, &[0]),
            Err(ErrorCode::MalformedRequest)
        );
        let mut too_many = words;
        too_many[0] = 49;
        assert_eq!(
            Request::decode(write_tag, &too_many),
            Err(ErrorCode::MalformedRequest)
        );
        assert_eq!(
            Request::decode(MessageTag::new(0x1234, 0, 0).unwrap(), &[]),
            Err(ErrorCode::UnknownRequest)
        );
        assert_eq!(
            Request::decode(Configuration::TAG, &[0; 7]),
            Err(ErrorCode::AlreadyConfigured)
        );
    }

    #[test]
    fn answers_round_trip() {
        let mut answers = vec![
            Answer::Received(Bytes::prefix(b"q")),
            Answer::Received(Bytes::prefix(&[0xAB; MAX_BYTES])),
        ];
        answers.extend((0..=MAX_BYTES).map(Answer::Written));
        answers.extend(ErrorCode::ALL.iter().copied().map(Answer::Refused));
        for answer in answers {
            assert_eq!(decode_answer(answer.encode()), Ok(answer));
        }
    }

    #[test]
    fn malformed_answers_are_recognised() {
        let written = MessageTag::new(ANSWER_LABEL, 1, 0).unwrap();
        assert_eq!(Answer::decode(written, &[49]), Err(MalformedAnswer));
        assert_eq!(Answer::decode(written, &[]), Err(MalformedAnswer));
        assert_eq!(
            decode_answer(Answer::Received(Bytes::EMPTY).encode()),
            Err(MalformedAnswer)
        );
        let error = MessageTag::new(ERROR_LABEL, 1, 0).unwrap();
        assert_eq!(Answer::decode(error, &[0]), Err(MalformedAnswer));
        assert_eq!(Answer::decode(error, &[999]), Err(MalformedAnswer));
        let two_words = MessageTag::new(ANSWER_LABEL, 2, 0).unwrap();
        assert_eq!(Answer::decode(two_words, &[1, 2]), Err(MalformedAnswer));
        let other_label = MessageTag::new(WRITE_LABEL, 1, 0).unwrap();
        assert_eq!(Answer::decode(other_label, &[1]), Err(MalformedAnswer));
        let typed = MessageTag::new(ANSWER_LABEL, 0, 2).unwrap();
        assert_eq!(Answer::decode(typed, &[0, 0]), Err(MalformedAnswer));
        let empty = MessageTag::new(ANSWER_LABEL, 0, 0).unwrap();
        assert_eq!(Answer::decode(empty, &[]), Err(MalformedAnswer));
    }

    #[test]
    fn error_codes_round_trip_through_their_numbers() {
        for &error in ErrorCode::ALL {
            assert_eq!(ErrorCode::try_from(error.code()), Ok(error));
            assert!(error.to_string().contains(error.name()));
        }
        assert_eq!(ErrorCode::try_from(0), Err(MalformedAnswer));
    }

    /// The configuration message as the driver receives it: the kernel rewrites the map
    /// item's fpage to the page that landed in the driver's window.
    fn received(words: [u64; REGISTER_WORDS], window: Fpage) -> [u64; REGISTER_WORDS] {
        let mut words = words;
        words[CONFIGURATION_WORDS + 1] = window.raw();
        words
    }

    #[test]
    fn a_configuration_round_trips_with_the_page_the_window_received() {
        let configuration = Configuration::new(0x0900_0000, 33).unwrap();
        assert_eq!(configuration.register_offset(), 0);
        assert_eq!(
            configuration.interrupt_thread(),
            ThreadId::interrupt(33).unwrap()
        );
        let words = configuration.words(page(0x3000_0000)).unwrap();
        assert_eq!(&words[..3], &[0x0900_0000, 33, 0]);
        let item = MapItem::new(UART_WINDOW, page(0x3000_0000)).unwrap();
        assert_eq!(words[3..5], TypedItem::Map(item).encode());
        let window = page(UART_WINDOW);
        assert_eq!(
            Configuration::decode(Configuration::TAG, &received(words, window)),
            Ok(ReceivedConfiguration {
                configuration,
                register_page: window
            })
        );
    }

    #[test]
    fn a_uart_in_the_middle_of_its_page_has_its_offset_in_mr3() {
        let configuration = Configuration::new(0x1c09_0800, 37).unwrap();
        let words = configuration.words(page(0x3000_0000)).unwrap();
        assert_eq!(words[2], 0x800);
        let mut wrong = received(words, page(UART_WINDOW));
        wrong[2] = 0;
        assert_eq!(
            Configuration::decode(Configuration::TAG, &wrong),
            Err(ErrorCode::InvalidConfiguration)
        );
    }

    #[test]
    fn impossible_configurations_are_refused() {
        assert_eq!(
            Configuration::new(0x0900_0000, 1020),
            Err(ErrorCode::InvalidConfiguration)
        );
        assert_eq!(
            Configuration::new(0x0900_0002, 33),
            Err(ErrorCode::InvalidConfiguration)
        );
        let configuration = Configuration::new(0x0900_0000, 33).unwrap();
        let mut words = received(configuration.words(page(0)).unwrap(), page(UART_WINDOW));
        words[1] = 0x1_0021;
        assert_eq!(
            Configuration::decode(Configuration::TAG, &words),
            Err(ErrorCode::InvalidConfiguration)
        );
    }

    #[test]
    fn a_configuration_without_a_read_write_page_is_refused() {
        let configuration = Configuration::new(0x0900_0000, 33).unwrap();
        let read_only = Fpage::page(0x3000_0000, Rights::READ).unwrap();
        let two_pages = Fpage::new(0x3000_0000, 13, Rights::READ_WRITE).unwrap();
        assert_eq!(
            configuration.words(read_only),
            Err(ErrorCode::NoRegisterPage)
        );
        assert_eq!(
            configuration.words(two_pages),
            Err(ErrorCode::NoRegisterPage)
        );
        assert_eq!(
            configuration.words(Fpage::NIL),
            Err(ErrorCode::NoRegisterPage)
        );
        let words = configuration.words(page(0x3000_0000)).unwrap();
        // Nothing landed (the sender had no page there): the kernel rewrote the item to nil.
        assert_eq!(
            Configuration::decode(Configuration::TAG, &received(words, Fpage::NIL)),
            Err(ErrorCode::NoRegisterPage)
        );
        let mut string = words;
        string[3] = 0;
        assert_eq!(
            Configuration::decode(Configuration::TAG, &string),
            Err(ErrorCode::NoRegisterPage)
        );
    }

    #[test]
    fn a_configuration_of_the_wrong_shape_or_label_is_refused() {
        let configuration = Configuration::new(0x0900_0000, 33).unwrap();
        let words = received(configuration.words(page(0)).unwrap(), page(UART_WINDOW));
        let no_item = MessageTag::new(CONFIGURE_LABEL, 3, 0).unwrap();
        assert_eq!(
            Configuration::decode(no_item, &words),
            Err(ErrorCode::MalformedRequest)
        );
        assert_eq!(
            Configuration::decode(Configuration::TAG, &words[..4]),
            Err(ErrorCode::MalformedRequest)
        );
        let (write, write_words) = Request::Write(Bytes::prefix(b"early")).encode();
        assert_eq!(
            Configuration::decode(write, &write_words),
            Err(ErrorCode::UnknownRequest)
        );
        assert_eq!(
            Configuration::decode(Request::Read.encode().0, &[]),
            Err(ErrorCode::UnknownRequest)
        );
        assert_eq!(
            Configuration::decode(MessageTag::new(0x77, 0, 0).unwrap(), &[]),
            Err(ErrorCode::UnknownRequest)
        );
    }
}
