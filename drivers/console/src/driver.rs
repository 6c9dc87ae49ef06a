//! The driver's decisions: what to do with each message, whom to answer, and with what.
//!
//! [`Console`] is the whole state of the driver after its configuration: the receive ring,
//! the one outstanding reader, and counts of what went wrong. [`Console::handle`] takes a
//! received message and returns the answer to send (if any); the program sends it in the
//! same ipc as its next open receive and reports with [`Console::finish`] whether it reached
//! its destination. Bytes leave the ring only when a READ answer carrying them was
//! delivered, so a reader that went away between its call and the answer (its call cancelled,
//! its thread halted) loses nothing: the next READ gets the same bytes.
//!
//! Nothing here enters the kernel, so every path is tested on the host against a [`Port`]
//! with real FIFO semantics.

use abi::call::ipc::IpcReturnValues;
use abi::error::Phase;
use abi::{Fpage, MessageTag, ReturnError, ThreadId};
use console_api::{Answer, Configuration, ErrorCode, PAGE_SIZE, Request};

use crate::ring::ReceiveRing;
use crate::uart::{Condition, Port};

/// What the driver learned from its configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Setup {
    /// The values the root task sent.
    pub configuration: Configuration,
    /// The virtual address of the PL011 register block: the window plus the offset.
    pub register_block: u64,
}

/// Checks a configuration message the driver received with `window` as its receive window.
///
/// # Errors
/// Those of [`Configuration::decode`]; also [`ErrorCode::NoRegisterPage`] if the page did
/// not land in `window`, and [`ErrorCode::InvalidConfiguration`] if the register block
/// would run past the end of the page.
pub fn accept_configuration(
    tag: MessageTag,
    words: &[u64],
    window: Fpage,
) -> Result<Setup, ErrorCode> {
    let received = Configuration::decode(tag, words)?;
    let page = received.register_page;
    if page.base() != window.base() || page.size() != window.size() {
        return Err(ErrorCode::NoRegisterPage);
    }
    let offset = received.configuration.register_offset();
    let end = offset.checked_add(pl011::REGISTER_BLOCK_SIZE as u64);
    if end.is_none_or(|end| end > PAGE_SIZE) {
        return Err(ErrorCode::InvalidConfiguration);
    }
    Ok(Setup {
        configuration: received.configuration,
        register_block: page.base() + offset,
    })
}

/// Whether an answer reached its destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// The destination took the message.
    Delivered,
    /// It did not: it was not waiting for the driver (a send timeout of zero), or it is gone.
    NotDelivered,
}

impl Delivery {
    /// Whether the send phase of an ipc whose result is `result` completed: it did unless the
    /// ipc failed before or in its send phase (an error of the send phase, or a generic error,
    /// after which nothing happened).
    pub fn of(result: &Result<IpcReturnValues, ReturnError>) -> Delivery {
        match result {
            Ok(_) => Delivery::Delivered,
            Err(ReturnError::Call(error)) if error.phase() == Some(Phase::Receive) => {
                Delivery::Delivered
            }
            Err(_) => Delivery::NotDelivered,
        }
    }
}

/// An answer the driver sends, with what it takes out of the ring once delivered.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "an answer must be sent and then given back to Console::finish"]
pub struct Reply {
    to: ThreadId,
    answer: Answer,
    /// Bytes of the ring the answer carries.
    consumed: usize,
}

impl Reply {
    /// An answer that carries nothing from the ring.
    fn new(to: ThreadId, answer: Answer) -> Reply {
        Reply {
            to,
            answer,
            consumed: 0,
        }
    }

    /// Where the answer goes.
    pub fn to(&self) -> ThreadId {
        self.to
    }

    /// The answer.
    pub fn answer(&self) -> &Answer {
        &self.answer
    }
}

/// What went wrong so far, counted. The program logs a counter when it reaches a power of
/// two ([`Statistics::milestones`]), so that the log stays short whatever happens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Statistics {
    /// Bytes received intact or after an overrun, and queued.
    pub received: u64,
    /// Bytes received while the ring was full, and dropped.
    pub dropped: u64,
    /// Characters received with a framing or parity error or as a break, and dropped.
    pub corrupt: u64,
    /// Characters received after the UART's receive FIFO had overflowed (characters lost in
    /// the hardware before the driver could read them).
    pub overruns: u64,
    /// Messages refused with an error answer.
    pub refused: u64,
    /// Interrupt messages from an interrupt that is not the UART's.
    pub stray_interrupts: u64,
    /// Answers that did not reach their destination.
    pub undelivered: u64,
}

impl Statistics {
    /// The problem counters that reached a power of two since `before`: a description and
    /// the new value of each.
    pub fn milestones(&self, before: &Statistics) -> impl Iterator<Item = (&'static str, u64)> {
        [
            (
                "bytes dropped because the receive buffer was full",
                before.dropped,
                self.dropped,
            ),
            ("corrupt characters dropped", before.corrupt, self.corrupt),
            ("receive FIFO overruns", before.overruns, self.overruns),
            ("messages refused", before.refused, self.refused),
            (
                "stray interrupts",
                before.stray_interrupts,
                self.stray_interrupts,
            ),
            (
                "answers not delivered",
                before.undelivered,
                self.undelivered,
            ),
        ]
        .into_iter()
        .filter(|&(_, before, after)| crossed_power_of_two(before, after))
        .map(|(description, _, after)| (description, after))
    }
}

/// Whether counting from `before` up to `after` passed a power of two (1, 2, 4, ...).
pub fn crossed_power_of_two(before: u64, after: u64) -> bool {
    after > before && (before == 0 || after.ilog2() > before.ilog2())
}

/// The configured driver.
#[derive(Debug)]
pub struct Console<P> {
    port: P,
    /// The thread ID the UART's interrupt messages come from.
    interrupt: ThreadId,
    ring: ReceiveRing,
    /// The client whose READ waits for bytes.
    reader: Option<ThreadId>,
    statistics: Statistics,
}

impl<P: Port> Console<P> {
    /// The driver of `port`, whose interrupt messages come from `interrupt`. Nothing is done
    /// to the port until [`Console::start`].
    pub fn new(port: P, interrupt: ThreadId) -> Console<P> {
        Console {
            port,
            interrupt,
            ring: ReceiveRing::new(),
            reader: None,
            statistics: Statistics::default(),
        }
    }

    /// Take over reception: clear the receive interrupts, queue what the receive FIFO already
    /// holds (typed before the driver ran), then unmask the receive interrupts. A character
    /// arriving after the FIFO was drained sets the raw interrupt status, which raises the
    /// interrupt as soon as it is unmasked: nothing is left without an interrupt.
    pub fn start(&mut self) {
        self.receive_pending();
        self.port.enable_receive_interrupts();
    }

    /// What the driver does with a message received from `from`: the answer to send, if
    /// any. Give every answer back to [`Console::finish`] after sending it.
    pub fn handle(&mut self, from: ThreadId, tag: MessageTag, words: &[u64]) -> Option<Reply> {
        if from.is_interrupt() {
            if from == self.interrupt && abi::protocol::decode_interrupt(tag, from).is_ok() {
                return self.interrupt_arrived();
            }
            // An interrupt cannot be answered; the next receive acknowledges it.
            self.statistics.stray_interrupts += 1;
            return None;
        }
        match Request::decode(tag, words) {
            Ok(Request::Write(bytes)) => {
                for &byte in bytes.as_slice() {
                    self.port.transmit(byte);
                }
                Some(Reply::new(from, Answer::Written(bytes.len())))
            }
            Ok(Request::Read) => self.read(from),
            Err(error) => {
                self.statistics.refused += 1;
                Some(Reply::new(from, Answer::Refused(error)))
            }
        }
    }

    /// Account for an answer [`Console::handle`] returned, once the ipc that sent it is over:
    /// the bytes it carried leave the ring if it was delivered and stay for the next READ if
    /// not.
    pub fn finish(&mut self, reply: Reply, delivery: Delivery) {
        match delivery {
            Delivery::Delivered => self.ring.discard(reply.consumed),
            Delivery::NotDelivered => self.statistics.undelivered += 1,
        }
    }

    /// The counts so far.
    pub fn statistics(&self) -> Statistics {
        self.statistics
    }

    /// The client whose READ is outstanding.
    pub fn reader(&self) -> Option<ThreadId> {
        self.reader
    }

    /// How many received bytes wait for a reader.
    pub fn buffered(&self) -> usize {
        self.ring.len()
    }

    /// The UART raised its interrupt: queue what arrived and answer the reader if there is
    /// one and now something to read.
    fn interrupt_arrived(&mut self) -> Option<Reply> {
        self.receive_pending();
        let reader = self.reader.take()?;
        let reply = self.answer_reader(reader);
        if reply.is_none() {
            // Only corrupt characters arrived: keep waiting.
            self.reader = Some(reader);
        }
        reply
    }

    /// A READ from `from`: answered at once if bytes are queued, otherwise `from` becomes the
    /// reader. Another reader's outstanding READ refuses it; a READ from the reader itself
    /// means its earlier call was abandoned (a thread is in one ipc at a time), so the new
    /// call replaces it.
    fn read(&mut self, from: ThreadId) -> Option<Reply> {
        if self.reader.is_some_and(|reader| reader != from) {
            self.statistics.refused += 1;
            return Some(Reply::new(from, Answer::Refused(ErrorCode::ReaderBusy)));
        }
        let reply = self.answer_reader(from);
        self.reader = if reply.is_some() { None } else { Some(from) };
        reply
    }

    /// The READ answer for `reader` with the oldest queued bytes, if there are any.
    fn answer_reader(&self, reader: ThreadId) -> Option<Reply> {
        let bytes = self.ring.peek();
        (!bytes.is_empty()).then(|| Reply {
            to: reader,
            answer: Answer::Received(bytes),
            consumed: bytes.len(),
        })
    }

    /// Clear the receive interrupts, then read the receive FIFO until it is empty. In this
    /// order, a character that arrives after the clear raises the interrupt again even if
    /// this drain already took it (a spurious interrupt finds the FIFO empty), while the other
    /// order could clear the interrupt of a character the drain missed.
    fn receive_pending(&mut self) {
        self.port.clear_receive_interrupts();
        while let Some(received) = self.port.receive() {
            match received.condition {
                Condition::Corrupt => {
                    self.statistics.corrupt += 1;
                    continue;
                }
                Condition::AfterOverrun => self.statistics.overruns += 1,
                Condition::Intact => {}
            }
            if self.ring.push(received.byte) {
                self.statistics.received += 1;
            } else {
                self.statistics.dropped += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::RING_CAPACITY;
    use crate::uart::Received;
    use abi::{CallError, Rights};
    use console_api::{Bytes, MAX_BYTES, UART_WINDOW};
    use std::collections::VecDeque;

    /// A UART with the semantics the driver relies on: a receive FIFO, a raw receive
    /// interrupt status that arriving characters set and only a clear resets, a mask, and a
    /// transmitter that records what it sent.
    #[derive(Debug, Default)]
    struct FakePort {
        fifo: VecDeque<Received>,
        raised: bool,
        unmasked: bool,
        transmitted: Vec<u8>,
    }

    impl FakePort {
        fn arrive(&mut self, bytes: &[u8]) {
            for &byte in bytes {
                self.arrive_with(byte, Condition::Intact);
            }
        }

        fn arrive_with(&mut self, byte: u8, condition: Condition) {
            self.fifo.push_back(Received { byte, condition });
            self.raised = true;
        }

        /// Whether the interrupt line is asserted.
        fn interrupting(&self) -> bool {
            self.raised && self.unmasked
        }
    }

    impl Port for FakePort {
        fn enable_receive_interrupts(&mut self) {
            self.unmasked = true;
        }

        fn clear_receive_interrupts(&mut self) {
            self.raised = false;
        }

        fn receive(&mut self) -> Option<Received> {
            self.fifo.pop_front()
        }

        fn transmit(&mut self, byte: u8) {
            self.transmitted.push(byte);
        }
    }

    const INTID: u16 = 33;

    fn interrupt() -> ThreadId {
        ThreadId::interrupt(INTID).unwrap()
    }

    fn client(thread: u16) -> ThreadId {
        ThreadId::new(4, thread, 1).unwrap()
    }

    fn console() -> Console<FakePort> {
        let mut console = Console::new(FakePort::default(), interrupt());
        console.start();
        console
    }

    fn fire(console: &mut Console<FakePort>) -> Option<Reply> {
        console.handle(interrupt(), abi::protocol::INTERRUPT_TAG, &[])
    }

    fn request(console: &mut Console<FakePort>, from: ThreadId, request: Request) -> Option<Reply> {
        let (tag, words) = request.encode();
        console.handle(from, tag, &words)
    }

    fn received(reply: &Reply) -> &[u8] {
        match reply.answer() {
            Answer::Received(bytes) => bytes.as_slice(),
            other => panic!("not a READ answer: {other:?}"),
        }
    }

    #[test]
    fn starting_queues_what_was_typed_before_and_unmasks_reception() {
        let mut port = FakePort::default();
        port.arrive(b"early");
        let mut console = Console::new(port, interrupt());
        assert!(!console.port.unmasked);
        console.start();
        assert!(console.port.unmasked);
        assert!(!console.port.interrupting());
        assert_eq!(console.buffered(), 5);
        let reply = request(&mut console, client(0), Request::Read).unwrap();
        assert_eq!(received(&reply), b"early");
    }

    #[test]
    fn a_write_transmits_every_byte_as_it_is_and_answers_the_count() {
        let mut console = console();
        let text = Bytes::prefix(b"a\nb\r\n");
        let reply = request(&mut console, client(1), Request::Write(text)).unwrap();
        assert_eq!(reply.to(), client(1));
        assert_eq!(reply.answer(), &Answer::Written(5));
        assert_eq!(console.port.transmitted, b"a\nb\r\n");
        console.finish(reply, Delivery::Delivered);
        let empty = request(&mut console, client(1), Request::Write(Bytes::EMPTY)).unwrap();
        assert_eq!(empty.answer(), &Answer::Written(0));
    }

    #[test]
    fn a_read_with_bytes_buffered_is_answered_at_once() {
        let mut console = console();
        console.port.arrive(b"ls\r");
        assert!(fire(&mut console).is_none());
        assert!(!console.port.interrupting());
        let reply = request(&mut console, client(1), Request::Read).unwrap();
        assert_eq!((reply.to(), received(&reply)), (client(1), &b"ls\r"[..]));
        console.finish(reply, Delivery::Delivered);
        assert_eq!(console.buffered(), 0);
        assert_eq!(console.reader(), None);
    }

    #[test]
    fn a_read_waits_for_the_interrupt_that_brings_bytes() {
        let mut console = console();
        assert!(request(&mut console, client(1), Request::Read).is_none());
        assert_eq!(console.reader(), Some(client(1)));
        console.port.arrive(b"x");
        assert!(console.port.interrupting());
        let reply = fire(&mut console).unwrap();
        assert!(!console.port.interrupting());
        assert_eq!((reply.to(), received(&reply)), (client(1), &b"x"[..]));
        assert_eq!(console.reader(), None);
        console.finish(reply, Delivery::Delivered);
        assert_eq!(console.buffered(), 0);
    }

    #[test]
    fn a_second_reader_is_refused_while_the_first_waits() {
        let mut console = console();
        assert!(request(&mut console, client(1), Request::Read).is_none());
        let refusal = request(&mut console, client(2), Request::Read).unwrap();
        assert_eq!(refusal.to(), client(2));
        assert_eq!(refusal.answer(), &Answer::Refused(ErrorCode::ReaderBusy));
        assert_eq!(console.reader(), Some(client(1)));
        assert_eq!(console.statistics().refused, 1);
    }

    #[test]
    fn a_new_read_from_the_waiting_reader_replaces_its_abandoned_one() {
        let mut console = console();
        assert!(request(&mut console, client(1), Request::Read).is_none());
        assert!(request(&mut console, client(1), Request::Read).is_none());
        assert_eq!(console.reader(), Some(client(1)));
        assert_eq!(console.statistics().refused, 0);
    }

    #[test]
    fn bytes_of_an_answer_that_was_not_delivered_go_to_the_next_reader() {
        let mut console = console();
        assert!(request(&mut console, client(1), Request::Read).is_none());
        console.port.arrive(b"keep");
        let lost = fire(&mut console).unwrap();
        console.finish(lost, Delivery::NotDelivered);
        assert_eq!(console.reader(), None);
        assert_eq!(console.buffered(), 4);
        assert_eq!(console.statistics().undelivered, 1);
        let reply = request(&mut console, client(2), Request::Read).unwrap();
        assert_eq!(received(&reply), b"keep");
    }

    #[test]
    fn a_long_input_is_read_forty_eight_bytes_at_a_time() {
        let mut console = console();
        let input: Vec<u8> = (0..100u8).collect();
        console.port.arrive(&input);
        assert!(fire(&mut console).is_none());
        let mut read = Vec::new();
        while console.buffered() > 0 {
            let reply = request(&mut console, client(1), Request::Read).unwrap();
            assert!(received(&reply).len() <= MAX_BYTES);
            read.extend_from_slice(received(&reply));
            console.finish(reply, Delivery::Delivered);
        }
        assert_eq!(read, input);
    }

    #[test]
    fn bytes_beyond_the_ring_are_dropped_and_counted() {
        let mut console = console();
        console.port.arrive(&vec![b'y'; RING_CAPACITY + 10]);
        assert!(fire(&mut console).is_none());
        assert_eq!(console.buffered(), RING_CAPACITY);
        assert_eq!(console.statistics().received, RING_CAPACITY as u64);
        assert_eq!(console.statistics().dropped, 10);
    }

    #[test]
    fn corrupt_characters_are_dropped_and_the_reader_keeps_waiting() {
        let mut console = console();
        assert!(request(&mut console, client(1), Request::Read).is_none());
        console.port.arrive_with(0, Condition::Corrupt);
        assert!(fire(&mut console).is_none());
        assert_eq!(console.reader(), Some(client(1)));
        assert_eq!(console.statistics().corrupt, 1);
        console.port.arrive_with(b'o', Condition::AfterOverrun);
        let reply = fire(&mut console).unwrap();
        assert_eq!(received(&reply), b"o");
        assert_eq!(console.statistics().overruns, 1);
    }

    #[test]
    fn malformed_and_unknown_requests_are_refused_with_their_reason() {
        let mut console = console();
        let unknown = MessageTag::new(0x1234, 0, 0).unwrap();
        let reply = console.handle(client(1), unknown, &[]).unwrap();
        assert_eq!(reply.answer(), &Answer::Refused(ErrorCode::UnknownRequest));
        let (tag, mut words) = Request::Write(Bytes::prefix(b"abc")).encode();
        words[0] = 100;
        let reply = console.handle(client(1), tag, &words).unwrap();
        assert_eq!(
            reply.answer(),
            &Answer::Refused(ErrorCode::MalformedRequest)
        );
        let reply = console
            .handle(client(1), Configuration::TAG, &[0; 7])
            .unwrap();
        assert_eq!(
            reply.answer(),
            &Answer::Refused(ErrorCode::AlreadyConfigured)
        );
        assert!(console.port.transmitted.is_empty());
        assert_eq!(console.statistics().refused, 3);
    }

    #[test]
    fn an_interrupt_label_from_a_thread_is_no_interrupt() {
        let mut console = console();
        console.port.arrive(b"z");
        let reply = console
            .handle(client(1), abi::protocol::INTERRUPT_TAG, &[])
            .unwrap();
        assert_eq!(reply.answer(), &Answer::Refused(ErrorCode::UnknownRequest));
        assert!(console.port.interrupting());
    }

    #[test]
    fn another_interrupt_is_counted_and_not_answered() {
        let mut console = console();
        let other = ThreadId::interrupt(34).unwrap();
        assert!(
            console
                .handle(other, abi::protocol::INTERRUPT_TAG, &[])
                .is_none()
        );
        assert_eq!(console.statistics().stray_interrupts, 1);
    }

    #[test]
    fn delivery_depends_on_the_phase_that_failed() {
        let ok = Ok(IpcReturnValues {
            tag: MessageTag::EMPTY,
            words: [0; 7],
            from: client(1),
        });
        assert_eq!(Delivery::of(&ok), Delivery::Delivered);
        let cancelled = Err(ReturnError::Call(CallError::ReceiveCancelled));
        assert_eq!(Delivery::of(&cancelled), Delivery::Delivered);
        let timeout = Err(ReturnError::Call(CallError::SendTimeout));
        assert_eq!(Delivery::of(&timeout), Delivery::NotDelivered);
        let gone = Err(ReturnError::Call(CallError::SendNonexistentPartner));
        assert_eq!(Delivery::of(&gone), Delivery::NotDelivered);
        let invalid = Err(ReturnError::Call(CallError::InvalidArgument));
        assert_eq!(Delivery::of(&invalid), Delivery::NotDelivered);
        assert_eq!(
            Delivery::of(&Err(ReturnError::UnknownCode(99))),
            Delivery::NotDelivered
        );
    }

    fn window() -> Fpage {
        Fpage::page(UART_WINDOW, Rights::READ_WRITE).unwrap()
    }

    /// The configuration message as it arrives: the map item rewritten to what landed.
    fn configuration_message(physical_address: u64, landed: Fpage) -> [u64; 7] {
        let configuration = Configuration::new(physical_address, INTID).unwrap();
        let sender_page = Fpage::page(0x3000_0000, Rights::READ_WRITE).unwrap();
        let mut words = configuration.words(sender_page).unwrap();
        words[4] = landed.raw();
        words
    }

    #[test]
    fn a_configuration_puts_the_registers_at_the_window_plus_the_offset() {
        let words = configuration_message(0x0900_0000, window());
        let setup = accept_configuration(Configuration::TAG, &words, window()).unwrap();
        assert_eq!(setup.register_block, UART_WINDOW);
        assert_eq!(setup.configuration.interrupt_thread(), interrupt());
        let words = configuration_message(0x1c09_0400, window());
        let setup = accept_configuration(Configuration::TAG, &words, window()).unwrap();
        assert_eq!(setup.register_block, UART_WINDOW + 0x400);
    }

    #[test]
    fn a_page_elsewhere_than_the_window_is_no_register_page() {
        let elsewhere = Fpage::page(0x2000_0000, Rights::READ_WRITE).unwrap();
        let words = configuration_message(0x0900_0000, elsewhere);
        assert_eq!(
            accept_configuration(Configuration::TAG, &words, window()),
            Err(ErrorCode::NoRegisterPage)
        );
    }

    #[test]
    fn a_register_block_running_past_its_page_is_refused() {
        let words = configuration_message(0x0900_0FC0, window());
        assert_eq!(
            accept_configuration(Configuration::TAG, &words, window()),
            Err(ErrorCode::InvalidConfiguration)
        );
        let words = configuration_message(0x0900_0FB8, window());
        assert!(accept_configuration(Configuration::TAG, &words, window()).is_ok());
    }

    #[test]
    fn counters_are_reported_at_powers_of_two() {
        let reported: Vec<u64> = (0..20u64)
            .filter(|&count| crossed_power_of_two(count, count + 1))
            .map(|count| count + 1)
            .collect();
        assert_eq!(reported, [1, 2, 4, 8, 16]);
        assert!(crossed_power_of_two(5, 9));
        assert!(!crossed_power_of_two(9, 15));
        assert!(!crossed_power_of_two(3, 3));
        let before = Statistics::default();
        let after = Statistics {
            dropped: 3,
            refused: 1,
            received: 1000,
            ..Statistics::default()
        };
        let milestones: Vec<_> = after.milestones(&before).collect();
        assert_eq!(milestones.len(), 2);
        assert_eq!(milestones[0].1, 3);
        assert_eq!(milestones[1].1, 1);
    }
}
