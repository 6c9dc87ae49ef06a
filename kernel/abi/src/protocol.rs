//! Kernel-generated messages: page faults, exceptions and interrupts.
//!
//! The kernel turns events into ipc so that the policy for them lives at user level: a page
//! fault becomes a call from the faulting thread to its pager, an exception a call to its
//! exception handler, an interrupt a message from the interrupt's thread ID to the thread
//! attached to it. Their labels are L4 X.2's: small negative numbers shifted left by four
//! (the low four bits carry detail), so they sit at the top of the 16-bit label space.
//! Labels 0xFF00 to 0xFFFF are reserved for kernel and system protocols; user protocols
//! use the rest.
//!
//! | label            | message     | words                                            |
//! |------------------|-------------|--------------------------------------------------|
//! | 0xFFF0           | interrupt   | none; the sender is the interrupt ID             |
//! | 0xFFE0 \| rwx    | page fault  | MR1 fault address, MR2 faulting PC               |
//! | 0xFFD0           | preemption  | reserved; not generated yet                      |
//! | 0xFFB0           | exception   | MR1..MR36: x0..x30, SP, PC, PSTATE, ESR, FAR     |
//! | 0xFFA0           | sigma0      | reserved for the sigma0 protocol                 |
//!
//! Page faults and exceptions are *calls*: the faulting thread waits, with no timeout, for
//! the reply of the thread it sent to, and the reply decides how it continues. A Linux
//! system call reflected to the trampoline is no message at all (see the UTCB).

use core::fmt;

use crate::message::{MessageTag, Rights};
use crate::thread_id::ThreadId;
use crate::user_registers::UserRegisters;

/// The label of an interrupt message (X.2: -1 << 4).
pub const INTERRUPT_LABEL: u16 = 0xFFF0;
/// The label of a page fault, before the access bits are or-ed in (X.2: -2 << 4).
pub const PAGE_FAULT_LABEL: u16 = 0xFFE0;
/// The label of a preemption message (X.2: -3 << 4); reserved.
pub const PREEMPTION_LABEL: u16 = 0xFFD0;
/// The label of an exception message (X.2's architecture-specific exception: -5 << 4).
pub const EXCEPTION_LABEL: u16 = 0xFFB0;
/// The label reserved for the sigma0 protocol (X.2: -6 << 4).
pub const SIGMA0_LABEL: u16 = 0xFFA0;
/// The first label reserved for kernel and system protocols.
pub const FIRST_RESERVED_LABEL: u16 = 0xFF00;

/// The tag of an interrupt message.
pub const INTERRUPT_TAG: MessageTag = MessageTag::from_label(INTERRUPT_LABEL);

/// Which kernel-generated message a tag is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelMessage {
    /// [`INTERRUPT_LABEL`].
    Interrupt,
    /// [`PAGE_FAULT_LABEL`] with access bits.
    PageFault,
    /// [`PREEMPTION_LABEL`].
    Preemption,
    /// [`EXCEPTION_LABEL`].
    Exception,
}

impl KernelMessage {
    /// Classifies a received tag by its label; `None` for any other label.
    pub const fn classify(tag: MessageTag) -> Option<KernelMessage> {
        match tag.label() {
            INTERRUPT_LABEL => Some(KernelMessage::Interrupt),
            label if label & !0b0111 == PAGE_FAULT_LABEL => Some(KernelMessage::PageFault),
            PREEMPTION_LABEL => Some(KernelMessage::Preemption),
            EXCEPTION_LABEL => Some(KernelMessage::Exception),
            _ => None,
        }
    }
}

/// Why a message is not the kernel message it was decoded as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProtocolError {
    /// The label is not the message's.
    WrongLabel(u16),
    /// The untyped word count is not the message's, or fewer words were given.
    WrongWordCount {
        /// The count the message has.
        expected: usize,
        /// The count found.
        found: usize,
    },
    /// The message carries typed items; kernel messages never do.
    TypedItemsPresent,
    /// A page fault with no access bit.
    NoAccess,
    /// The sender of an interrupt message is not an interrupt ID.
    NotAnInterrupt,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::WrongLabel(label) => write!(formatter, "unexpected label {label:#06x}"),
            ProtocolError::WrongWordCount { expected, found } => {
                write!(
                    formatter,
                    "{found} untyped words where {expected} were expected"
                )
            }
            ProtocolError::TypedItemsPresent => formatter.write_str("unexpected typed items"),
            ProtocolError::NoAccess => formatter.write_str("page fault without access bits"),
            ProtocolError::NotAnInterrupt => {
                formatter.write_str("interrupt message from a non-interrupt sender")
            }
        }
    }
}

const fn check_shape(tag: MessageTag, words: &[u64], expected: usize) -> Result<(), ProtocolError> {
    if tag.typed_words() != 0 {
        return Err(ProtocolError::TypedItemsPresent);
    }
    if tag.untyped_words() != expected {
        return Err(ProtocolError::WrongWordCount {
            expected,
            found: tag.untyped_words(),
        });
    }
    if words.len() < expected {
        return Err(ProtocolError::WrongWordCount {
            expected,
            found: words.len(),
        });
    }
    Ok(())
}

/// A page fault: the faulting thread's call to its pager.
///
/// The reply carries map or grant items (usually one, with the send base at the fault
/// address) which the kernel maps into the faulting thread's space with the complete
/// address space as receive window; its untyped words and label are ignored. Then the
/// thread retries the access, and faults again if the reply did not cover it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageFault {
    /// The faulting address (FAR_EL1; the PC for an instruction fetch).
    pub address: u64,
    /// The PC of the faulting instruction.
    pub instruction_pointer: u64,
    /// The access that faulted: one of read, write, execute.
    pub access: Rights,
}

impl PageFault {
    /// Untyped words in the message.
    pub const WORDS: usize = 2;

    /// The message tag: label `0xFFE0 | access`, two untyped words.
    pub const fn tag(&self) -> MessageTag {
        MessageTag::from_label(PAGE_FAULT_LABEL | self.access.bits() as u16)
            .with_counts_unchecked(PageFault::WORDS)
    }

    /// MR1 and MR2.
    pub const fn words(&self) -> [u64; PageFault::WORDS] {
        [self.address, self.instruction_pointer]
    }

    /// Decodes a received page fault message from its tag and MR1.. .
    pub const fn decode(tag: MessageTag, words: &[u64]) -> Result<PageFault, ProtocolError> {
        let label = tag.label();
        if label & !0b0111 != PAGE_FAULT_LABEL {
            return Err(ProtocolError::WrongLabel(label));
        }
        if let Err(error) = check_shape(tag, words, PageFault::WORDS) {
            return Err(error);
        }
        let access = Rights::from_bits_truncate(label as u64);
        if access.is_empty() {
            return Err(ProtocolError::NoAccess);
        }
        Ok(PageFault {
            address: words[0],
            instruction_pointer: words[1],
            access,
        })
    }
}

/// The order of an exception message's untyped words, MR1 = word 0. Also the order in
/// which an exception reply's words set registers.
pub mod exception_word {
    /// x0; xN is word N.
    pub const X0: usize = 0;
    /// x30, the link register.
    pub const X30: usize = 30;
    /// SP_EL0.
    pub const SP: usize = 31;
    /// PC (ELR_EL1).
    pub const PC: usize = 32;
    /// PSTATE (SPSR_EL1).
    pub const PSTATE: usize = 33;
    /// ESR_EL1: why the exception was taken.
    pub const ESR: usize = 34;
    /// FAR_EL1: the faulting address, where the syndrome says it is valid.
    pub const FAR: usize = 35;
    /// Words in an exception message.
    pub const COUNT: usize = 36;
    /// Words a reply can set: x0..x30, SP, PC, PSTATE (of which only NZCV).
    pub const SETTABLE: usize = 34;
}

/// An exception: the excepting thread's call to its exception handler, with its whole
/// register state.
///
/// Everything synchronous at EL0 that is neither a kernel call nor a page fault becomes an
/// exception: `svc #0` of a thread not in Linux-ABI mode, an `svc` with an unknown
/// immediate, undefined instructions, `brk`, PC and SP alignment faults, aborts other than
/// translation, access-flag and permission faults. After an `svc` the PC points after it.
///
/// The reply's untyped words set the thread's registers in message order: a reply with
/// `u` words sets the first `min(u, 34)` of x0..x30, SP, PC, PSTATE (only NZCV of PSTATE;
/// words 35 and 36 are ignored). So a reply with one word sets x0, the return value of an
/// emulated system call, and a reply with no words resumes the thread unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Exception {
    /// x0..x30, SP, PC, PSTATE.
    pub registers: UserRegisters,
    /// ESR_EL1.
    pub esr: u64,
    /// FAR_EL1.
    pub far: u64,
}

impl Exception {
    /// The message tag: [`EXCEPTION_LABEL`], 36 untyped words.
    pub const TAG: MessageTag =
        MessageTag::from_label(EXCEPTION_LABEL).with_counts_unchecked(exception_word::COUNT);

    /// MR1..MR36.
    pub const fn to_words(&self) -> [u64; exception_word::COUNT] {
        let registers = self.registers.to_words();
        let mut words = [0; exception_word::COUNT];
        let mut index = 0;
        while index < UserRegisters::WORDS {
            words[index] = registers[index];
            index += 1;
        }
        words[exception_word::ESR] = self.esr;
        words[exception_word::FAR] = self.far;
        words
    }

    /// Decodes a received exception message from its tag and MR1.. .
    pub const fn decode(tag: MessageTag, words: &[u64]) -> Result<Exception, ProtocolError> {
        if tag.label() != EXCEPTION_LABEL {
            return Err(ProtocolError::WrongLabel(tag.label()));
        }
        if let Err(error) = check_shape(tag, words, exception_word::COUNT) {
            return Err(error);
        }
        let mut registers = [0; UserRegisters::WORDS];
        let mut index = 0;
        while index < UserRegisters::WORDS {
            registers[index] = words[index];
            index += 1;
        }
        Ok(Exception {
            registers: UserRegisters::from_words(&registers),
            esr: words[exception_word::ESR],
            far: words[exception_word::FAR],
        })
    }
}

/// The interrupt number of an interrupt message received from `from`.
pub const fn decode_interrupt(tag: MessageTag, from: ThreadId) -> Result<u16, ProtocolError> {
    if tag.label() != INTERRUPT_LABEL {
        return Err(ProtocolError::WrongLabel(tag.label()));
    }
    if let Err(error) = check_shape(tag, &[], 0) {
        return Err(error);
    }
    match from.interrupt_number() {
        Some(number) => Ok(number),
        None => Err(ProtocolError::NotAnInterrupt),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::TagFlags;

    #[test]
    fn labels_are_l4_x2_negative_numbers_shifted_by_four() {
        assert_eq!(INTERRUPT_LABEL, (-1i16 << 4) as u16);
        assert_eq!(PAGE_FAULT_LABEL, (-2i16 << 4) as u16);
        assert_eq!(PREEMPTION_LABEL, (-3i16 << 4) as u16);
        assert_eq!(EXCEPTION_LABEL, (-5i16 << 4) as u16);
        assert_eq!(SIGMA0_LABEL, (-6i16 << 4) as u16);
        for label in [
            INTERRUPT_LABEL,
            PAGE_FAULT_LABEL,
            EXCEPTION_LABEL,
            SIGMA0_LABEL,
        ] {
            assert!(label >= FIRST_RESERVED_LABEL);
        }
    }

    #[test]
    fn a_write_fault_round_trips_with_its_access_bit_in_the_label() {
        let fault = PageFault {
            address: 0x1234_5678,
            instruction_pointer: 0x40_0100,
            access: Rights::WRITE,
        };
        let tag = fault.tag();
        assert_eq!(tag.label(), 0xFFE2);
        assert_eq!((tag.untyped_words(), tag.typed_words()), (2, 0));
        assert_eq!(tag.raw(), 0xFFE2_0000_0000_0002);
        assert_eq!(PageFault::decode(tag, &fault.words()), Ok(fault));
        assert_eq!(KernelMessage::classify(tag), Some(KernelMessage::PageFault));
    }

    #[test]
    fn read_and_execute_faults_use_bits_four_and_one() {
        for (access, label) in [(Rights::READ, 0xFFE4), (Rights::EXECUTE, 0xFFE1)] {
            let fault = PageFault {
                address: 0x1000,
                instruction_pointer: 0x1000,
                access,
            };
            assert_eq!(fault.tag().label(), label);
            assert_eq!(PageFault::decode(fault.tag(), &fault.words()), Ok(fault));
        }
    }

    #[test]
    fn a_malformed_page_fault_is_rejected() {
        let words = [0x1000, 0x2000];
        let no_access = MessageTag::new(PAGE_FAULT_LABEL, 2, 0).unwrap();
        assert_eq!(
            PageFault::decode(no_access, &words),
            Err(ProtocolError::NoAccess)
        );
        let three_words = MessageTag::new(0xFFE4, 3, 0).unwrap();
        assert_eq!(
            PageFault::decode(three_words, &[1, 2, 3]),
            Err(ProtocolError::WrongWordCount {
                expected: 2,
                found: 3
            })
        );
        let tag = MessageTag::new(0xFFE4, 2, 0).unwrap();
        assert_eq!(
            PageFault::decode(tag, &words[..1]),
            Err(ProtocolError::WrongWordCount {
                expected: 2,
                found: 1
            })
        );
        let with_items = MessageTag::new(0xFFE4, 2, 2).unwrap();
        assert_eq!(
            PageFault::decode(with_items, &[1, 2, 3, 4]),
            Err(ProtocolError::TypedItemsPresent)
        );
        assert_eq!(
            PageFault::decode(MessageTag::new(0xFFE8, 2, 0).unwrap(), &words),
            Err(ProtocolError::WrongLabel(0xFFE8))
        );
    }

    #[test]
    fn an_exception_carries_thirty_six_words_in_trap_frame_order() {
        let mut registers = UserRegisters::zeroed();
        for (number, register) in registers.x.iter_mut().enumerate() {
            *register = number as u64;
        }
        registers.sp = 0x7FFF_0000;
        registers.pc = 0x40_0004;
        registers.pstate = 0x6000_0000;
        let exception = Exception {
            registers,
            esr: 0x5600_0000,
            far: 0,
        };
        let words = exception.to_words();
        assert_eq!(words[exception_word::X0], 0);
        assert_eq!(words[exception_word::X30], 30);
        assert_eq!(words[exception_word::SP], 0x7FFF_0000);
        assert_eq!(words[exception_word::PC], 0x40_0004);
        assert_eq!(words[exception_word::PSTATE], 0x6000_0000);
        assert_eq!(words[exception_word::ESR], 0x5600_0000);
        assert_eq!(words[exception_word::FAR], 0);
        assert_eq!(Exception::TAG.label(), EXCEPTION_LABEL);
        assert_eq!(Exception::TAG.untyped_words(), 36);
        assert_eq!(Exception::decode(Exception::TAG, &words), Ok(exception));
        assert_eq!(
            KernelMessage::classify(Exception::TAG),
            Some(KernelMessage::Exception)
        );
    }

    #[test]
    fn the_settable_words_are_the_user_registers() {
        assert_eq!(exception_word::SETTABLE, UserRegisters::WORDS);
        assert_eq!(exception_word::SP, UserRegisters::SP_WORD);
        assert_eq!(exception_word::PC, UserRegisters::PC_WORD);
        assert_eq!(exception_word::PSTATE, UserRegisters::PSTATE_WORD);
    }

    #[test]
    fn a_short_exception_message_is_rejected() {
        let tag = MessageTag::new(EXCEPTION_LABEL, 35, 0).unwrap();
        assert_eq!(
            Exception::decode(tag, &[0; 35]),
            Err(ProtocolError::WrongWordCount {
                expected: 36,
                found: 35
            })
        );
    }

    #[test]
    fn an_interrupt_is_an_empty_message_from_an_interrupt_id() {
        let timer = ThreadId::interrupt(30).unwrap();
        assert_eq!(INTERRUPT_TAG.raw(), 0xFFF0_0000_0000_0000);
        assert_eq!(decode_interrupt(INTERRUPT_TAG, timer), Ok(30));
        assert_eq!(
            decode_interrupt(INTERRUPT_TAG, ThreadId::SIGMA0),
            Err(ProtocolError::NotAnInterrupt)
        );
        assert_eq!(
            decode_interrupt(MessageTag::new(INTERRUPT_LABEL, 1, 0).unwrap(), timer),
            Err(ProtocolError::WrongWordCount {
                expected: 0,
                found: 1
            })
        );
        assert_eq!(
            KernelMessage::classify(INTERRUPT_TAG),
            Some(KernelMessage::Interrupt)
        );
    }

    #[test]
    fn other_labels_are_not_kernel_messages() {
        for label in [0, 1, 0x7FFF, 0xFFA0, 0xFFE8, 0xFFFF] {
            let tag = MessageTag::from_label(label).with_flags(TagFlags::NONE);
            assert_eq!(KernelMessage::classify(tag), None, "{label:#x}");
        }
        assert_eq!(
            KernelMessage::classify(MessageTag::from_label(PREEMPTION_LABEL)),
            Some(KernelMessage::Preemption)
        );
    }
}
