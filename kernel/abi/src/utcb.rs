//! The user thread control block (UTCB): the per-thread page shared by a thread and the
//! kernel.
//!
//! Each thread has one UTCB, a 4 KiB page the kernel allocates and maps read-write into the
//! thread's task at `UTCB area base + thread number * 4 KiB`. TPIDRRO_EL0 holds its address
//! (the kernel sets it on every switch), so EL0 code finds its UTCB with one `mrs` and no
//! call; TPIDR_EL0 stays the program's own thread pointer, as Linux and musl use it.
//!
//! Why 4 KiB: the message registers (512 bytes), buffer registers (272) and reflected trap
//! frame (272) already exceed 1 KiB, and a whole page per thread needs no sub-page
//! allocator, never shares a page between threads, and leaves room to grow (the tail is
//! reserved). Virtual address space is cheap: 4096 threads take a 16 MiB area.
//!
//! The kernel never trusts what it reads here: every word user level can write is decoded
//! like a register argument. The fields the kernel relies on for security (pager,
//! exception handler) are only *mirrors* here, written by the kernel; the real values live
//! in the kernel and change only through lthread_ex_regs.
//!
//! | offset | field               | written by | meaning                                   |
//! |--------|---------------------|------------|-------------------------------------------|
//! | 0      | message_registers   | both       | MR0..MR63 (ipc uses MR8..MR63 from here)  |
//! | 512    | buffer_registers    | user       | BR0 acceptor, BR1 count, BR2.. buffers    |
//! | 784    | my_thread_id        | kernel     | this thread's ID                          |
//! | 792    | pager               | kernel     | mirror of the pager                       |
//! | 800    | exception_handler   | kernel     | mirror of the exception handler           |
//! | 808    | user_handle         | user       | free for the thread's runtime             |
//! | 816    | error_code          | kernel     | x9 of the last failed call                |
//! | 824    | virtual_sender      | user       | the sender a P-flagged message claims     |
//! | 832    | actual_sender       | kernel     | the real sender of a received P message   |
//! | 840    | intended_receiver   | kernel     | the destination of a received X message   |
//! | 848    | preemption_flags    | user       | reserved (write 0)                        |
//! | 856    | trampoline_entry    | user       | Linux-ABI mode: where `svc #0` goes       |
//! | 864    | reflected_trap      | kernel     | registers at the reflected `svc #0`       |
//! | 1136   | reserved            | -          | zero; for future use                      |

use core::mem::{align_of, offset_of, size_of};

use crate::message::{
    ADDRESS_SPACE_BITS, Acceptor, Fpage, ITEM_WORDS, ItemError, MAX_STRING_BUFFERS, MessageTag,
    StringItem,
};
use crate::thread_id::{ThreadId, ThreadIdError};
use crate::user_registers::ReflectedTrap;

/// Message registers in a UTCB.
pub const MESSAGE_REGISTERS: usize = MessageTag::MESSAGE_REGISTERS;
/// Buffer registers in a UTCB: the acceptor, the count, 16 buffers of two registers.
pub const BUFFER_REGISTERS: usize = 2 + 2 * MAX_STRING_BUFFERS;
/// BR0: the [`Acceptor`].
pub const ACCEPTOR_REGISTER: usize = 0;
/// BR1: how many string buffers follow.
pub const STRING_BUFFER_COUNT_REGISTER: usize = 1;
/// BR2: the first string buffer's first word; buffer k is BR(2 + 2k), BR(3 + 2k).
pub const FIRST_STRING_BUFFER_REGISTER: usize = 2;
/// The message registers the kernel copies through x0..x7 rather than the UTCB.
pub const REGISTER_MESSAGE_REGISTERS: usize = 8;

/// One thread's UTCB. See the module documentation for the layout and who writes what.
#[repr(C, align(4096))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utcb {
    /// MR0..MR63. ipc reads MR8..MR(u+t) of the sender and writes those of the receiver
    /// here; MR0..MR7 travel in x0..x7 and their slots here are free for the user library
    /// (the kernel neither reads nor writes them during ipc).
    pub message_registers: [u64; MESSAGE_REGISTERS],
    /// BR0..BR33: BR0 the [`Acceptor`], BR1 the string buffer count (0..=16), BR2.. the
    /// string buffers as string items (length = capacity). Read by the kernel when a
    /// message with typed items arrives.
    pub buffer_registers: [u64; BUFFER_REGISTERS],
    /// This thread's ID (kernel writes it when the thread is created).
    pub my_thread_id: u64,
    /// The pager (kernel mirror; set it with lthread_ex_regs).
    pub pager: u64,
    /// The exception handler (kernel mirror; set it with lthread_ex_regs).
    pub exception_handler: u64,
    /// Free for the thread's runtime (a pointer to its thread structure, say); also set
    /// by lthread_ex_regs. The kernel never interprets it.
    pub user_handle: u64,
    /// The error code of the last failed call (the kernel writes x9 here too when it is
    /// not 0; successful calls leave it).
    pub error_code: u64,
    /// The thread a message sent with the P flag claims to come from (read by the kernel
    /// on such a send).
    pub virtual_sender: u64,
    /// The real sender of a received message whose tag has P set (written by the kernel;
    /// x8 then holds the virtual sender).
    pub actual_sender: u64,
    /// The destination a redirected message (X set in the received tag) was sent to
    /// (written by the kernel).
    pub intended_receiver: u64,
    /// Reserved for preemption control (L4 X.2's signal and delay bits); the kernel ignores
    /// it until preemption messages exist. Write 0.
    pub preemption_flags: u64,
    /// Linux-ABI mode: 0 = off (`svc #0` becomes an exception message); otherwise the
    /// address the kernel resumes the thread at when it executes `svc #0`. Written by the
    /// code in the thread's own task (the trampoline's start-up), read by the kernel at
    /// every `svc #0`. An address that is not 4-byte aligned or lies outside the user
    /// address space counts as 0.
    pub trampoline_entry: u64,
    /// The registers at the `svc #0` the kernel last reflected (PC after the `svc`).
    pub reflected_trap: ReflectedTrap,
    /// Zero; for future use.
    pub reserved: [u64; Utcb::RESERVED_WORDS],
}

impl Utcb {
    /// Bytes in a UTCB: one page.
    pub const SIZE: usize = 4096;
    /// log2 of [`Utcb::SIZE`].
    pub const SIZE_LOG2: u32 = 12;
    const RESERVED_WORDS: usize = 370;

    /// Offset of MR0; MRn is at `OFFSET_MESSAGE_REGISTERS + 8 * n`.
    pub const OFFSET_MESSAGE_REGISTERS: usize = offset_of!(Utcb, message_registers);
    /// Offset of BR0; BRn is at `OFFSET_BUFFER_REGISTERS + 8 * n`.
    pub const OFFSET_BUFFER_REGISTERS: usize = offset_of!(Utcb, buffer_registers);
    /// Offset of `my_thread_id`.
    pub const OFFSET_MY_THREAD_ID: usize = offset_of!(Utcb, my_thread_id);
    /// Offset of `pager`.
    pub const OFFSET_PAGER: usize = offset_of!(Utcb, pager);
    /// Offset of `exception_handler`.
    pub const OFFSET_EXCEPTION_HANDLER: usize = offset_of!(Utcb, exception_handler);
    /// Offset of `user_handle`.
    pub const OFFSET_USER_HANDLE: usize = offset_of!(Utcb, user_handle);
    /// Offset of `error_code`.
    pub const OFFSET_ERROR_CODE: usize = offset_of!(Utcb, error_code);
    /// Offset of `virtual_sender`.
    pub const OFFSET_VIRTUAL_SENDER: usize = offset_of!(Utcb, virtual_sender);
    /// Offset of `actual_sender`.
    pub const OFFSET_ACTUAL_SENDER: usize = offset_of!(Utcb, actual_sender);
    /// Offset of `intended_receiver`.
    pub const OFFSET_INTENDED_RECEIVER: usize = offset_of!(Utcb, intended_receiver);
    /// Offset of `preemption_flags`.
    pub const OFFSET_PREEMPTION_FLAGS: usize = offset_of!(Utcb, preemption_flags);
    /// Offset of `trampoline_entry`.
    pub const OFFSET_TRAMPOLINE_ENTRY: usize = offset_of!(Utcb, trampoline_entry);
    /// Offset of `reflected_trap`.
    pub const OFFSET_REFLECTED_TRAP: usize = offset_of!(Utcb, reflected_trap);
    /// Offset of the reserved tail.
    pub const OFFSET_RESERVED: usize = offset_of!(Utcb, reserved);

    /// A UTCB of zeroes.
    pub const fn zeroed() -> Utcb {
        Utcb {
            message_registers: [0; MESSAGE_REGISTERS],
            buffer_registers: [0; BUFFER_REGISTERS],
            my_thread_id: 0,
            pager: 0,
            exception_handler: 0,
            user_handle: 0,
            error_code: 0,
            virtual_sender: 0,
            actual_sender: 0,
            intended_receiver: 0,
            preemption_flags: 0,
            trampoline_entry: 0,
            reflected_trap: ReflectedTrap::zeroed(),
            reserved: [0; Utcb::RESERVED_WORDS],
        }
    }

    /// The offset of MRn.
    pub const fn message_register_offset(index: usize) -> usize {
        Utcb::OFFSET_MESSAGE_REGISTERS + 8 * index
    }

    /// The offset of BRn.
    pub const fn buffer_register_offset(index: usize) -> usize {
        Utcb::OFFSET_BUFFER_REGISTERS + 8 * index
    }

    /// This thread's ID, as the kernel wrote it.
    pub const fn my_thread_id(&self) -> ThreadId {
        ThreadId::from_raw(self.my_thread_id)
    }

    /// The virtual sender, decoded.
    pub const fn virtual_sender(&self) -> Result<ThreadId, ThreadIdError> {
        ThreadId::decode(self.virtual_sender)
    }

    /// The acceptor in BR0, decoded.
    pub const fn acceptor(&self) -> Result<Acceptor, ItemError> {
        Acceptor::decode(self.buffer_registers[ACCEPTOR_REGISTER])
    }

    /// The number of string buffers BR1 announces, checked against the maximum of 16.
    pub const fn string_buffer_count(&self) -> Result<usize, ItemError> {
        let count = self.buffer_registers[STRING_BUFFER_COUNT_REGISTER];
        if count > MAX_STRING_BUFFERS as u64 {
            Err(ItemError::TooManyStringBuffers(count))
        } else {
            Ok(count as usize)
        }
    }

    /// String buffer `index` (from 0), decoded.
    pub const fn string_buffer(&self, index: usize) -> Result<StringItem, ItemError> {
        match self.string_buffer_count() {
            Ok(count) if index < count => {
                let register = FIRST_STRING_BUFFER_REGISTER + ITEM_WORDS * index;
                StringItem::decode([
                    self.buffer_registers[register],
                    self.buffer_registers[register + 1],
                ])
            }
            Ok(_) => Err(ItemError::NoSuchStringBuffer(index)),
            Err(error) => Err(error),
        }
    }

    /// Offers `buffers` (at most 16) as string buffers: writes BR1 and BR2.., leaving BR0.
    pub fn set_string_buffers(&mut self, buffers: &[StringItem]) -> Result<(), ItemError> {
        if buffers.len() > MAX_STRING_BUFFERS {
            return Err(ItemError::TooManyStringBuffers(buffers.len() as u64));
        }
        self.buffer_registers[STRING_BUFFER_COUNT_REGISTER] = buffers.len() as u64;
        let registers =
            self.buffer_registers[FIRST_STRING_BUFFER_REGISTER..].chunks_exact_mut(ITEM_WORDS);
        for (pair, buffer) in registers.zip(buffers) {
            pair.copy_from_slice(&buffer.encode());
        }
        Ok(())
    }

    /// Where `svc #0` sends this thread, or `None` if it is not in Linux-ABI mode (0, or
    /// an address the kernel cannot resume at).
    pub const fn trampoline_entry(&self) -> Option<u64> {
        let entry = self.trampoline_entry;
        if entry == 0 || !entry.is_multiple_of(4) || entry >> ADDRESS_SPACE_BITS != 0 {
            None
        } else {
            Some(entry)
        }
    }

    /// The message registers as bytes, little-endian: the text of kernel_debug_write.
    pub fn message_bytes(&self) -> [u8; MESSAGE_REGISTERS * 8] {
        let mut bytes = [0; MESSAGE_REGISTERS * 8];
        for (chunk, register) in bytes.chunks_exact_mut(8).zip(&self.message_registers) {
            chunk.copy_from_slice(&register.to_le_bytes());
        }
        bytes
    }

    /// Stores `bytes` (at most 512; the rest is dropped) in the message registers as
    /// kernel_debug_write reads them, and returns how many were stored.
    pub fn set_message_bytes(&mut self, bytes: &[u8]) -> usize {
        let length = bytes.len().min(MESSAGE_REGISTERS * 8);
        let mut buffer = self.message_bytes();
        buffer[..length].copy_from_slice(&bytes[..length]);
        for (register, chunk) in self
            .message_registers
            .iter_mut()
            .zip(buffer.chunks_exact(8))
        {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            *register = u64::from_le_bytes(word);
        }
        length
    }
}

/// The address of thread `thread`'s UTCB in a task whose UTCB area is `area`, or `None`
/// if the area is too small for that thread (or nil, or the complete fpage).
pub const fn utcb_address(area: Fpage, thread: u16) -> Option<u64> {
    if thread as usize >= max_threads(area) {
        return None;
    }
    Some(area.base() + thread as u64 * Utcb::SIZE as u64)
}

/// How many threads a UTCB area holds: its size in pages, at most 4096 (0 for nil and the
/// complete fpage, which task_new refuses as an area).
pub const fn max_threads(area: Fpage) -> usize {
    if area.is_nil() || area.is_complete() {
        return 0;
    }
    let pages = area.size() >> Utcb::SIZE_LOG2;
    let limit = ThreadId::MAX_THREAD as u64 + 1;
    if pages > limit {
        limit as usize
    } else {
        pages as usize
    }
}

const _: () = assert!(size_of::<Utcb>() == Utcb::SIZE);
const _: () = assert!(align_of::<Utcb>() == Utcb::SIZE);
const _: () = assert!(1 << Utcb::SIZE_LOG2 == Utcb::SIZE);
const _: () = assert!(Utcb::OFFSET_MESSAGE_REGISTERS == 0);
const _: () = assert!(Utcb::OFFSET_BUFFER_REGISTERS == 512);
const _: () = assert!(Utcb::OFFSET_MY_THREAD_ID == 784);
const _: () = assert!(Utcb::OFFSET_TRAMPOLINE_ENTRY == 856);
// The trampoline moves the frame with `ldp`/`stp` pairs: keep it 16-byte aligned.
const _: () = assert!(Utcb::OFFSET_REFLECTED_TRAP == 864);
const _: () = assert!(Utcb::OFFSET_REFLECTED_TRAP.is_multiple_of(16));
// No hidden padding: the reserved tail ends the page exactly.
const _: () = assert!(Utcb::OFFSET_RESERVED == Utcb::OFFSET_REFLECTED_TRAP + 34 * 8);
const _: () = assert!(Utcb::OFFSET_RESERVED + Utcb::RESERVED_WORDS * 8 == Utcb::SIZE);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Rights;

    #[test]
    fn a_utcb_is_one_page_aligned_to_a_page() {
        assert_eq!(size_of::<Utcb>(), 4096);
        assert_eq!(align_of::<Utcb>(), 4096);
    }

    #[test]
    fn offsets_follow_the_documented_layout() {
        let offsets = [
            Utcb::OFFSET_MESSAGE_REGISTERS,
            Utcb::OFFSET_BUFFER_REGISTERS,
            Utcb::OFFSET_MY_THREAD_ID,
            Utcb::OFFSET_PAGER,
            Utcb::OFFSET_EXCEPTION_HANDLER,
            Utcb::OFFSET_USER_HANDLE,
            Utcb::OFFSET_ERROR_CODE,
            Utcb::OFFSET_VIRTUAL_SENDER,
            Utcb::OFFSET_ACTUAL_SENDER,
            Utcb::OFFSET_INTENDED_RECEIVER,
            Utcb::OFFSET_PREEMPTION_FLAGS,
            Utcb::OFFSET_TRAMPOLINE_ENTRY,
            Utcb::OFFSET_REFLECTED_TRAP,
            Utcb::OFFSET_RESERVED,
        ];
        assert_eq!(
            offsets,
            [
                0, 512, 784, 792, 800, 808, 816, 824, 832, 840, 848, 856, 864, 1136
            ]
        );
        assert_eq!(Utcb::message_register_offset(8), 64);
        assert_eq!(Utcb::message_register_offset(63), 504);
        assert_eq!(Utcb::buffer_register_offset(33), 512 + 264);
    }

    #[test]
    fn the_utcb_area_holds_one_page_per_thread() {
        let area = Fpage::new(0x7F00_0000, 16, Rights::NONE).unwrap(); // 16 pages
        assert_eq!(max_threads(area), 16);
        assert_eq!(utcb_address(area, 0), Some(0x7F00_0000));
        assert_eq!(utcb_address(area, 15), Some(0x7F00_F000));
        assert_eq!(utcb_address(area, 16), None);
        let huge = Fpage::new(0, 40, Rights::NONE).unwrap();
        assert_eq!(max_threads(huge), 4096);
        assert_eq!(utcb_address(huge, 4095), Some(4095 * 4096));
        assert_eq!(max_threads(Fpage::NIL), 0);
        assert_eq!(utcb_address(Fpage::complete(Rights::NONE), 0), None);
    }

    #[test]
    fn string_buffers_are_counted_in_br1_and_paired_from_br2() {
        let mut utcb = Utcb::zeroed();
        let buffers = [
            StringItem::new(0x1000, 100).unwrap(),
            StringItem::new(0x2000, 1 << 20).unwrap(),
        ];
        utcb.set_string_buffers(&buffers).unwrap();
        assert_eq!(utcb.buffer_registers[1], 2);
        assert_eq!(utcb.buffer_registers[2], 100 << 32);
        assert_eq!(utcb.buffer_registers[3], 0x1000);
        assert_eq!(utcb.string_buffer_count(), Ok(2));
        assert_eq!(utcb.string_buffer(1), Ok(buffers[1]));
        assert_eq!(utcb.string_buffer(2), Err(ItemError::NoSuchStringBuffer(2)));
    }

    #[test]
    fn sixteen_string_buffers_fit_and_seventeen_do_not() {
        let mut utcb = Utcb::zeroed();
        let buffers = [StringItem::new(0x1000, 8).unwrap(); 17];
        assert!(utcb.set_string_buffers(&buffers[..16]).is_ok());
        assert_eq!(utcb.string_buffer(15), Ok(buffers[15]));
        assert_eq!(
            utcb.set_string_buffers(&buffers),
            Err(ItemError::TooManyStringBuffers(17))
        );
        utcb.buffer_registers[STRING_BUFFER_COUNT_REGISTER] = 17;
        assert_eq!(
            utcb.string_buffer_count(),
            Err(ItemError::TooManyStringBuffers(17))
        );
        assert_eq!(
            utcb.string_buffer(0),
            Err(ItemError::TooManyStringBuffers(17))
        );
    }

    #[test]
    fn user_written_words_are_decoded_before_use() {
        let mut utcb = Utcb::zeroed();
        utcb.buffer_registers[ACCEPTOR_REGISTER] = 0b0110;
        assert_eq!(utcb.acceptor(), Err(ItemError::ReservedBitsSet));
        utcb.buffer_registers[ACCEPTOR_REGISTER] = Acceptor::STRINGS_ONLY.raw();
        assert_eq!(utcb.acceptor(), Ok(Acceptor::STRINGS_ONLY));
        utcb.virtual_sender = 1 << 50;
        assert_eq!(utcb.virtual_sender(), Err(ThreadIdError::ReservedBitsSet));
        utcb.virtual_sender = ThreadId::ROOT_TASK.raw();
        assert_eq!(utcb.virtual_sender(), Ok(ThreadId::ROOT_TASK));
    }

    #[test]
    fn linux_abi_mode_needs_a_usable_trampoline_entry() {
        let mut utcb = Utcb::zeroed();
        assert_eq!(utcb.trampoline_entry(), None);
        utcb.trampoline_entry = 0x7000_1000;
        assert_eq!(utcb.trampoline_entry(), Some(0x7000_1000));
        utcb.trampoline_entry = 0x7000_1002;
        assert_eq!(utcb.trampoline_entry(), None);
        utcb.trampoline_entry = 0xFFFF_0000_0000_1000;
        assert_eq!(utcb.trampoline_entry(), None);
    }

    #[test]
    fn debug_text_is_stored_little_endian_in_the_message_registers() {
        let mut utcb = Utcb::zeroed();
        assert_eq!(utcb.set_message_bytes(b"hello, kernel"), 13);
        assert_eq!(utcb.message_registers[0], u64::from_le_bytes(*b"hello, k"));
        assert_eq!(&utcb.message_bytes()[..13], b"hello, kernel");
        let long = [b'x'; 600];
        assert_eq!(utcb.set_message_bytes(&long), 512);
        assert_eq!(utcb.message_registers[63], u64::from_le_bytes(*b"xxxxxxxx"));
    }

    #[test]
    fn the_thread_id_comes_from_the_kernel_written_word() {
        let mut utcb = Utcb::zeroed();
        utcb.my_thread_id = ThreadId::SIGMA0.raw();
        assert_eq!(utcb.my_thread_id(), ThreadId::SIGMA0);
    }
}
