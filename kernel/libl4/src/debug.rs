//! Debug output through kernel_debug_write: text in pieces of at most 512 bytes.
//!
//! kernel_debug_write prints the first `length` bytes (at most 512) of the caller's UTCB, so
//! the kernel never follows a user pointer. Text therefore goes out in chunks of at most
//! [`DEBUG_WRITE_CAPACITY`] bytes, each copied into the UTCB's message registers before one
//! `svc #0xF001`. Formatted text is gathered in a [`DebugBuffer`] first, so a line of up to
//! 512 bytes is one kernel call: one thread's line cannot be split by another's.
//!
//! The chunking and the buffer are pure and host-tested; only [`debug_write_bytes`] and its
//! callers enter the kernel.

use core::fmt;

use abi::call::kernel_debug_write::MAX_DEBUG_WRITE_LENGTH;

/// The most bytes one kernel_debug_write prints: the 64 message registers.
pub const DEBUG_WRITE_CAPACITY: usize = MAX_DEBUG_WRITE_LENGTH;

/// `bytes` in the pieces kernel_debug_write takes: at most [`DEBUG_WRITE_CAPACITY`] bytes
/// each, in order, none empty.
pub fn debug_chunks(bytes: &[u8]) -> core::slice::Chunks<'_, u8> {
    bytes.chunks(DEBUG_WRITE_CAPACITY)
}

/// A fixed buffer of [`DEBUG_WRITE_CAPACITY`] bytes that formatted text is written into
/// (`core::fmt::Write`); whenever it is full, and on [`DebugBuffer::flush`], its contents
/// go to `sink` (on the target, one kernel_debug_write each). Text is passed on as bytes:
/// a UTF-8 sequence may be split between two pieces, which the console joins again.
#[derive(Debug)]
pub struct DebugBuffer<Sink: FnMut(&[u8])> {
    bytes: [u8; DEBUG_WRITE_CAPACITY],
    length: usize,
    sink: Sink,
}

impl<Sink: FnMut(&[u8])> DebugBuffer<Sink> {
    /// An empty buffer that hands full pieces to `sink`.
    pub const fn new(sink: Sink) -> Self {
        DebugBuffer {
            bytes: [0; DEBUG_WRITE_CAPACITY],
            length: 0,
            sink,
        }
    }

    /// Adds `bytes`, handing each piece that fills the buffer to the sink.
    pub fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let free = self.bytes.get_mut(self.length..).unwrap_or_default();
            let taken = free.len().min(bytes.len());
            let (now, later) = bytes.split_at(taken);
            if let Some(destination) = free.get_mut(..taken) {
                destination.copy_from_slice(now);
            }
            self.length += taken;
            bytes = later;
            if self.length == DEBUG_WRITE_CAPACITY {
                self.flush();
            }
        }
    }

    /// Hands what the buffer holds to the sink, if anything, and empties it.
    pub fn flush(&mut self) {
        if let Some(pending) = self.bytes.get(..self.length)
            && !pending.is_empty()
        {
            (self.sink)(pending);
        }
        self.length = 0;
    }

    /// The bytes waiting for the next flush.
    pub fn pending(&self) -> &[u8] {
        self.bytes.get(..self.length).unwrap_or_default()
    }
}

impl<Sink: FnMut(&[u8])> fmt::Write for DebugBuffer<Sink> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.push(text.as_bytes());
        Ok(())
    }
}

/// Writes `bytes` to the kernel console: each piece of [`debug_chunks`] is copied into the
/// UTCB's message registers and printed by one kernel_debug_write. This overwrites the
/// message registers in the UTCB: read the words of a received message (MR8 and up) first.
///
/// # Errors
/// The first call's error: `NoSuchCall` from a kernel built without debug calls.
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub fn debug_write_bytes(bytes: &[u8]) -> Result<(), abi::ReturnError> {
    use abi::call::kernel_debug_write::KernelDebugWriteArguments;
    let utcb = crate::utcb();
    for chunk in debug_chunks(bytes) {
        // SAFETY: the UTCB is this thread's own page, mapped read-write by the kernel for the
        // thread's lifetime at the address TPIDRRO_EL0 holds; its first 512 bytes are the
        // message registers, which no Rust reference points into (libl4 reaches the UTCB
        // only through raw pointers). `chunk` holds at most 512 bytes and lies in Rust
        // memory, not in the UTCB, so the ranges do not overlap.
        unsafe {
            core::ptr::copy_nonoverlapping(chunk.as_ptr(), utcb.cast::<u8>(), chunk.len());
        }
        let arguments = KernelDebugWriteArguments {
            length: chunk.len(),
        };
        // SAFETY: kernel_debug_write only reads the first `length` bytes of the caller's
        // UTCB and writes x9; it changes no memory and no thread.
        let results = unsafe { crate::raw::kernel_debug_write(&arguments.encode()) };
        KernelDebugWriteArguments::decode_return(&results)?;
    }
    Ok(())
}

/// Writes `text` to the kernel console as it is (no newline added); see
/// [`debug_write_bytes`].
///
/// # Errors
/// As [`debug_write_bytes`].
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub fn debug_write(text: &str) -> Result<(), abi::ReturnError> {
    debug_write_bytes(text.as_bytes())
}

/// Formats `arguments` into a [`DebugBuffer`] and writes it to the kernel console: what
/// [`debug_print!`](macro@crate::debug_print) and [`debug_println!`](macro@crate::debug_println)
/// expand to. Errors are dropped: a console that fails has nowhere to report it.
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub fn debug_print(arguments: fmt::Arguments<'_>) {
    let mut buffer = DebugBuffer::new(|piece: &[u8]| {
        let _ = debug_write_bytes(piece);
    });
    let _ = fmt::Write::write_fmt(&mut buffer, arguments);
    buffer.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;
    use std::vec::Vec;

    fn collect(text_length: usize) -> Vec<Vec<u8>> {
        let text: Vec<u8> = (0..text_length).map(|index| (index % 251) as u8).collect();
        let mut pieces = Vec::new();
        let mut buffer = DebugBuffer::new(|piece: &[u8]| pieces.push(piece.to_vec()));
        buffer.push(&text);
        buffer.flush();
        pieces
    }

    #[test]
    fn text_is_cut_into_pieces_of_at_most_512_bytes() {
        let text = [b'x'; 1100];
        let lengths: Vec<usize> = debug_chunks(&text).map(<[u8]>::len).collect();
        assert_eq!(lengths, [512, 512, 76]);
        assert_eq!(debug_chunks(&text[..512]).count(), 1);
        assert_eq!(debug_chunks(&[]).count(), 0);
    }

    #[test]
    fn a_short_line_is_one_piece_at_flush() {
        let mut pieces = Vec::new();
        let mut buffer = DebugBuffer::new(|piece: &[u8]| pieces.push(piece.to_vec()));
        write!(buffer, "ping: {} calls ok", 1000).unwrap();
        buffer.write_char('\n').unwrap();
        assert_eq!(buffer.pending(), b"ping: 1000 calls ok\n");
        buffer.flush();
        assert_eq!(pieces, [b"ping: 1000 calls ok\n".to_vec()]);
    }

    #[test]
    fn a_full_buffer_goes_out_at_once_and_nothing_is_left_over() {
        let pieces = collect(512);
        assert_eq!(pieces.len(), 1);
        assert_eq!(pieces[0].len(), 512);
    }

    #[test]
    fn long_text_goes_out_in_order_in_512_byte_pieces() {
        let pieces = collect(1300);
        let lengths: Vec<usize> = pieces.iter().map(Vec::len).collect();
        assert_eq!(lengths, [512, 512, 276]);
        let joined: Vec<u8> = pieces.concat();
        let expected: Vec<u8> = (0..1300).map(|index| (index % 251) as u8).collect();
        assert_eq!(joined, expected);
    }

    #[test]
    fn flushing_an_empty_buffer_writes_nothing() {
        assert!(collect(0).is_empty());
        let mut calls = 0;
        {
            let mut buffer = DebugBuffer::new(|_: &[u8]| calls += 1);
            buffer.flush();
            buffer.flush();
        }
        assert_eq!(calls, 0);
    }

    #[test]
    fn many_small_writes_fill_one_piece() {
        let mut pieces = Vec::new();
        let mut buffer = DebugBuffer::new(|piece: &[u8]| pieces.push(piece.to_vec()));
        for _ in 0..600 {
            buffer.write_str("ab").unwrap();
        }
        buffer.flush();
        let lengths: Vec<usize> = pieces.iter().map(Vec::len).collect();
        assert_eq!(lengths, [512, 512, 176]);
    }
}
