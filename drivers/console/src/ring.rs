//! The receive ring: bytes that arrived while nobody was reading.
//!
//! A fixed array, no allocation: the driver has no heap, and a console needs no more than a
//! few lines of type-ahead. When it is full, new bytes are dropped (and counted by the
//! driver) rather than old ones overwritten: what a user typed first is what a shell will
//! read first, and a burst that overflows the ring loses its tail, as a UART's own FIFO does.

use console_api::{Bytes, MAX_BYTES};

/// How many received bytes the driver buffers.
pub const RING_CAPACITY: usize = 4096;

/// A first-in, first-out byte queue of [`RING_CAPACITY`] bytes.
#[derive(Clone)]
pub struct ReceiveRing {
    bytes: [u8; RING_CAPACITY],
    /// Index of the oldest byte.
    start: usize,
    /// How many bytes are queued, at most [`RING_CAPACITY`].
    length: usize,
}

impl core::fmt::Debug for ReceiveRing {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter
            .debug_struct("ReceiveRing")
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

impl Default for ReceiveRing {
    fn default() -> ReceiveRing {
        ReceiveRing::new()
    }
}

impl ReceiveRing {
    /// An empty ring.
    pub const fn new() -> ReceiveRing {
        ReceiveRing {
            bytes: [0; RING_CAPACITY],
            start: 0,
            length: 0,
        }
    }

    /// How many bytes are queued.
    pub const fn len(&self) -> usize {
        self.length
    }

    /// Whether no byte is queued.
    pub const fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Queue `byte` after the others; `false` if the ring is full and the byte was dropped.
    pub fn push(&mut self, byte: u8) -> bool {
        if self.length >= RING_CAPACITY {
            return false;
        }
        let index = (self.start + self.length) % RING_CAPACITY;
        match self.bytes.get_mut(index) {
            Some(slot) => {
                *slot = byte;
                self.length += 1;
                true
            }
            None => false,
        }
    }

    /// The oldest bytes, up to [`MAX_BYTES`], left in the ring: they leave it only when
    /// [`ReceiveRing::discard`] says they were delivered.
    pub fn peek(&self) -> Bytes {
        let mut oldest = [0; MAX_BYTES];
        let count = self.length.min(MAX_BYTES);
        for (offset, slot) in oldest.iter_mut().enumerate().take(count) {
            let index = (self.start + offset) % RING_CAPACITY;
            *slot = self.bytes.get(index).copied().unwrap_or(0);
        }
        Bytes::prefix(oldest.get(..count).unwrap_or(&[]))
    }

    /// Remove the oldest `count` bytes (all of them if there are fewer).
    pub fn discard(&mut self, count: usize) {
        let count = count.min(self.length);
        self.start = (self.start + count) % RING_CAPACITY;
        self.length -= count;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_come_out_in_the_order_they_went_in() {
        let mut ring = ReceiveRing::new();
        assert!(ring.is_empty());
        for byte in b"hello" {
            assert!(ring.push(*byte));
        }
        assert_eq!(ring.len(), 5);
        assert_eq!(ring.peek().as_slice(), b"hello");
        ring.discard(2);
        assert_eq!(ring.peek().as_slice(), b"llo");
        ring.discard(10);
        assert!(ring.is_empty());
        assert!(ring.peek().is_empty());
    }

    #[test]
    fn a_peek_holds_at_most_forty_eight_bytes_and_removes_none() {
        let mut ring = ReceiveRing::new();
        for byte in 0..100u8 {
            ring.push(byte);
        }
        let first = ring.peek();
        assert_eq!(first.len(), MAX_BYTES);
        assert_eq!(first.as_slice(), (0..48u8).collect::<Vec<_>>().as_slice());
        assert_eq!(ring.peek(), first);
        assert_eq!(ring.len(), 100);
    }

    #[test]
    fn a_full_ring_drops_new_bytes_and_keeps_the_old() {
        let mut ring = ReceiveRing::new();
        for index in 0..RING_CAPACITY {
            assert!(ring.push(index as u8));
        }
        assert!(!ring.push(0xEE));
        assert_eq!(ring.len(), RING_CAPACITY);
        assert_eq!(ring.peek().as_slice()[..3], [0, 1, 2]);
        ring.discard(1);
        assert!(ring.push(0xEE));
        ring.discard(RING_CAPACITY - 1);
        assert_eq!(ring.peek().as_slice(), [0xEE]);
    }

    #[test]
    fn the_ring_wraps_around_its_end() {
        let mut ring = ReceiveRing::new();
        for round in 0..3 * RING_CAPACITY / 40 {
            let text: Vec<u8> = (0..40).map(|offset| (round + offset) as u8).collect();
            for byte in &text {
                assert!(ring.push(*byte));
            }
            assert_eq!(ring.peek().as_slice(), text.as_slice());
            ring.discard(40);
            assert!(ring.is_empty());
        }
    }
}
