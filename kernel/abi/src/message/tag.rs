//! The message tag (MR0, passed in x0): label, flags and word counts.
//!
//! ```text
//!  63          48 47                 16 15 14 13 12 11       6 5        0
//! +--------------+---------------------+--+--+--+--+----------+----------+
//! |  label (16)  |   reserved, zero    |E |X |0 |P | typed t  |untyped u |
//! +--------------+---------------------+--+--+--+--+----------+----------+
//! ```
//!
//! The low 16 bits are exactly L4 X.2's 64-bit tag (flags, t, u), so code can be read
//! beside the X.2 manual. The label is 16 bits (X.2 allows 48) and sits at the top: one
//! `lsr #48` extracts it without a mask, one `movz x0, #label, lsl #48` builds a label-only
//! tag (an interrupt's, a request without words), and any tag takes at most two
//! instructions (`movz` + `movk`). 16 bits are ample for protocol numbers; bits 47..16 are
//! reserved (must be zero) so that the label can later grow downwards or the flags grow
//! upwards without moving anything that exists.
//!
//! Flags: **E** (error) is set by the kernel in the tag it returns from a failed ipc;
//! **X** (cross-clan) is set by the kernel when a message was redirected to the receiver
//! because it is the chief of the sender's or the destination's clan; **P** (propagate) is
//! set by a sender that wants the message to appear to come from the UTCB's
//! `virtual_sender`. E and X are receive-only: a sent tag with either set is rejected.
//!
//! Word counts: `u + t <= 63` (the 64 message registers minus MR0) and `t` is even, since
//! every typed item is two words.

use core::fmt;

use crate::error::CallError;

/// The message tag. Values built here or decoded with [`MessageTag::try_from`] satisfy the
/// layout rules; [`MessageTag::validate_for_send`] adds the rules of a sent tag.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MessageTag(u64);

/// The four flag bits of a tag (bits 15..12), as a value from 0 to 15.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TagFlags(u8);

impl TagFlags {
    /// No flag.
    pub const NONE: TagFlags = TagFlags(0);
    /// P, bit 12: deliver as if sent by the UTCB's `virtual_sender` (sender sets it).
    pub const PROPAGATED: TagFlags = TagFlags(0b0001);
    /// Bit 13: reserved, must be zero.
    pub const RESERVED: TagFlags = TagFlags(0b0010);
    /// X, bit 14: the message was redirected across a clan boundary to this receiver, a
    /// chief (kernel sets it; the intended receiver is in the UTCB's `intended_receiver`).
    pub const REDIRECTED: TagFlags = TagFlags(0b0100);
    /// E, bit 15: the ipc failed; x9 holds the error code (kernel sets it).
    pub const ERROR: TagFlags = TagFlags(0b1000);

    /// The flags as bits 3..0 (tag bits 15..12).
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// The flags of the low four bits of `bits`.
    pub const fn from_bits_truncate(bits: u8) -> TagFlags {
        TagFlags(bits & 0xF)
    }

    /// Whether every flag of `other` is set in `self`.
    pub const fn contains(self, other: TagFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The flags of both.
    pub const fn union(self, other: TagFlags) -> TagFlags {
        TagFlags(self.0 | other.0)
    }
}

impl core::ops::BitOr for TagFlags {
    type Output = TagFlags;

    fn bitor(self, other: TagFlags) -> TagFlags {
        self.union(other)
    }
}

impl fmt::Debug for TagFlags {
    /// The set flags as letters, X.2 style: `EXrP` with `-` for a clear flag.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let letter = |flag: TagFlags, set: char| if self.contains(flag) { set } else { '-' };
        write!(
            formatter,
            "{}{}{}{}",
            letter(TagFlags::ERROR, 'E'),
            letter(TagFlags::REDIRECTED, 'X'),
            letter(TagFlags::RESERVED, 'r'),
            letter(TagFlags::PROPAGATED, 'P'),
        )
    }
}

/// Why a value is not a valid tag, or not a valid tag to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TagError {
    /// Bits 47..16 or flag bit 13 are set.
    ReservedBitsSet,
    /// `untyped + typed` is more than 63: the message does not fit the message registers.
    MessageOverflow {
        /// The untyped word count asked for.
        untyped: usize,
        /// The typed word count asked for.
        typed: usize,
    },
    /// The typed word count is odd: typed items are two words each.
    OddTypedWordCount(usize),
    /// A sent tag has E or X set; only the kernel sets them.
    ReceiveOnlyFlagSet,
}

impl fmt::Display for TagError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagError::ReservedBitsSet => formatter.write_str("reserved tag bits are set"),
            TagError::MessageOverflow { untyped, typed } => write!(
                formatter,
                "{untyped} untyped and {typed} typed words exceed 63 message registers"
            ),
            TagError::OddTypedWordCount(typed) => {
                write!(formatter, "odd typed word count {typed}")
            }
            TagError::ReceiveOnlyFlagSet => {
                formatter.write_str("a sent tag has the E or X flag set")
            }
        }
    }
}

impl TagError {
    /// The error an ipc returns for a bad sent tag: overflow for too many words, invalid
    /// argument for anything else.
    pub const fn call_error(self) -> CallError {
        match self {
            TagError::MessageOverflow { .. } => CallError::SendMessageOverflow,
            TagError::ReservedBitsSet
            | TagError::OddTypedWordCount(_)
            | TagError::ReceiveOnlyFlagSet => CallError::InvalidArgument,
        }
    }
}

impl From<TagError> for CallError {
    fn from(error: TagError) -> CallError {
        error.call_error()
    }
}

impl MessageTag {
    /// A tag with no label, no flags and no words.
    pub const EMPTY: MessageTag = MessageTag(0);
    /// The tag the kernel returns in x0 from a failed ipc: only E set.
    pub const ERROR: MessageTag = MessageTag((TagFlags::ERROR.0 as u64) << MessageTag::FLAGS_SHIFT);

    /// Bit position of the label.
    pub const LABEL_SHIFT: u32 = 48;
    /// Bit position of the flags.
    pub const FLAGS_SHIFT: u32 = 12;
    /// Bit position of the typed word count.
    pub const TYPED_SHIFT: u32 = 6;
    /// Bit position of the untyped word count.
    pub const UNTYPED_SHIFT: u32 = 0;
    /// Mask of a word count field (after shifting).
    pub const COUNT_MASK: u64 = 0x3F;
    /// Bits that must be zero: 47..16 and flag bit 13.
    pub const RESERVED_MASK: u64 = 0x0000_FFFF_FFFF_0000 | (1 << 13);
    /// The number of message registers, MR0..MR63.
    pub const MESSAGE_REGISTERS: usize = 64;
    /// The most words a message carries after its tag.
    pub const MAX_WORDS: usize = MessageTag::MESSAGE_REGISTERS - 1;

    /// A tag with `label`, `untyped` untyped words and `typed` typed words (two per item).
    pub const fn new(label: u16, untyped: usize, typed: usize) -> Result<MessageTag, TagError> {
        if !typed.is_multiple_of(2) {
            return Err(TagError::OddTypedWordCount(typed));
        }
        if untyped > MessageTag::MAX_WORDS
            || typed > MessageTag::MAX_WORDS
            || untyped + typed > MessageTag::MAX_WORDS
        {
            return Err(TagError::MessageOverflow { untyped, typed });
        }
        Ok(MessageTag(
            ((label as u64) << MessageTag::LABEL_SHIFT)
                | ((typed as u64) << MessageTag::TYPED_SHIFT)
                | ((untyped as u64) << MessageTag::UNTYPED_SHIFT),
        ))
    }

    /// A tag with `label` and no words.
    pub const fn from_label(label: u16) -> MessageTag {
        MessageTag((label as u64) << MessageTag::LABEL_SHIFT)
    }

    /// Wraps a value that came from the kernel (x0 after ipc) without checking it.
    pub const fn from_raw(raw: u64) -> MessageTag {
        MessageTag(raw)
    }

    /// Checks a register value against the layout rules (reserved bits, counts). E and X
    /// may be set: this decodes received tags too.
    pub const fn decode(raw: u64) -> Result<MessageTag, TagError> {
        if raw & MessageTag::RESERVED_MASK != 0 {
            return Err(TagError::ReservedBitsSet);
        }
        let tag = MessageTag(raw);
        match MessageTag::new(tag.label(), tag.untyped_words(), tag.typed_words()) {
            Ok(_) => Ok(tag),
            Err(error) => Err(error),
        }
    }

    /// Checks a tag that a thread sends: the layout rules, and E and X clear.
    pub const fn validate_for_send(raw: u64) -> Result<MessageTag, TagError> {
        match MessageTag::decode(raw) {
            Ok(tag) => {
                if tag.flags().contains(TagFlags::ERROR)
                    || tag.flags().contains(TagFlags::REDIRECTED)
                {
                    Err(TagError::ReceiveOnlyFlagSet)
                } else {
                    Ok(tag)
                }
            }
            Err(error) => Err(error),
        }
    }

    /// The register value.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// The label: what the message means, by the protocol between sender and receiver.
    pub const fn label(self) -> u16 {
        (self.0 >> MessageTag::LABEL_SHIFT) as u16
    }

    /// The flags.
    pub const fn flags(self) -> TagFlags {
        TagFlags(((self.0 >> MessageTag::FLAGS_SHIFT) & 0xF) as u8)
    }

    /// The number of untyped words, MR1..MRu.
    pub const fn untyped_words(self) -> usize {
        ((self.0 >> MessageTag::UNTYPED_SHIFT) & MessageTag::COUNT_MASK) as usize
    }

    /// The number of typed words, MRu+1..MRu+t.
    pub const fn typed_words(self) -> usize {
        ((self.0 >> MessageTag::TYPED_SHIFT) & MessageTag::COUNT_MASK) as usize
    }

    /// The number of typed items, `t / 2`.
    pub const fn typed_items(self) -> usize {
        self.typed_words() / 2
    }

    /// The number of words after the tag, `u + t`.
    pub const fn words(self) -> usize {
        self.untyped_words() + self.typed_words()
    }

    /// The same tag with `flags` instead of its flags.
    pub const fn with_flags(self, flags: TagFlags) -> MessageTag {
        MessageTag(
            (self.0 & !(0xF << MessageTag::FLAGS_SHIFT))
                | ((flags.0 as u64) << MessageTag::FLAGS_SHIFT),
        )
    }

    /// The same tag with `untyped` untyped words (truncated to six bits) and no typed
    /// words; for the kernel messages' constant shapes, which the tests check.
    pub(crate) const fn with_counts_unchecked(self, untyped: usize) -> MessageTag {
        MessageTag(
            (self.0 & !0xFFF)
                | ((untyped as u64 & MessageTag::COUNT_MASK) << MessageTag::UNTYPED_SHIFT),
        )
    }

    /// The same tag with another label.
    pub const fn with_label(self, label: u16) -> MessageTag {
        MessageTag(
            (self.0 & !(0xFFFF << MessageTag::LABEL_SHIFT))
                | ((label as u64) << MessageTag::LABEL_SHIFT),
        )
    }

    /// Whether E is set: the ipc failed and x9 says why.
    pub const fn is_error(self) -> bool {
        self.flags().contains(TagFlags::ERROR)
    }

    /// Whether X is set: the message was redirected to this receiver, a chief.
    pub const fn is_redirected(self) -> bool {
        self.flags().contains(TagFlags::REDIRECTED)
    }

    /// Whether P is set: the message is (or was sent as) a propagated one.
    pub const fn is_propagated(self) -> bool {
        self.flags().contains(TagFlags::PROPAGATED)
    }
}

impl TryFrom<u64> for MessageTag {
    type Error = TagError;

    fn try_from(raw: u64) -> Result<MessageTag, TagError> {
        MessageTag::decode(raw)
    }
}

impl fmt::Debug for MessageTag {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "MessageTag(label {:#06x}, flags {:?}, u {}, t {})",
            self.label(),
            self.flags(),
            self.untyped_words(),
            self.typed_words()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_through_the_word() {
        let tag = MessageTag::new(0x1234, 5, 4).unwrap();
        assert_eq!(tag.raw(), 0x1234_0000_0000_0105);
        assert_eq!(tag.label(), 0x1234);
        assert_eq!((tag.untyped_words(), tag.typed_words()), (5, 4));
        assert_eq!((tag.typed_items(), tag.words()), (2, 9));
        assert_eq!(MessageTag::try_from(tag.raw()), Ok(tag));
    }

    #[test]
    fn the_low_sixteen_bits_match_l4_x2() {
        // X.2: u in bits 5..0, t in 11..6, flags in 15..12 with E at 15 and P at 12.
        let tag = MessageTag::new(0, 1, 2)
            .unwrap()
            .with_flags(TagFlags::PROPAGATED);
        assert_eq!(tag.raw(), 0b0001_000010_000001);
        assert_eq!(MessageTag::ERROR.raw(), 0x8000);
        assert_eq!(MessageTag::from_label(0xFFF0).raw(), 0xFFF0_0000_0000_0000);
    }

    #[test]
    fn sixty_three_words_fit_and_sixty_four_overflow() {
        assert!(MessageTag::new(0, 63, 0).is_ok());
        assert!(MessageTag::new(0, 1, 62).is_ok());
        assert!(MessageTag::new(0, 33, 30).is_ok());
        assert_eq!(
            MessageTag::new(0, 34, 30),
            Err(TagError::MessageOverflow {
                untyped: 34,
                typed: 30
            })
        );
        assert_eq!(
            MessageTag::new(0, 64, 0),
            Err(TagError::MessageOverflow {
                untyped: 64,
                typed: 0
            })
        );
        // u = 63 and t = 2 encode in the fields but exceed the registers.
        assert_eq!(
            MessageTag::try_from(0b000010_111111),
            Err(TagError::MessageOverflow {
                untyped: 63,
                typed: 2
            })
        );
        // u = 1 and t = 62 is the fullest message with typed items.
        assert_eq!(MessageTag::try_from(0b111110_000001).unwrap().words(), 63);
    }

    #[test]
    fn typed_words_come_in_pairs() {
        assert_eq!(
            MessageTag::new(0, 0, 3),
            Err(TagError::OddTypedWordCount(3))
        );
        assert_eq!(
            MessageTag::try_from(0b000001_000000),
            Err(TagError::OddTypedWordCount(1))
        );
        assert_eq!(MessageTag::new(0, 0, 62).unwrap().typed_items(), 31);
    }

    #[test]
    fn reserved_bits_are_rejected() {
        assert_eq!(
            MessageTag::try_from(1 << 16),
            Err(TagError::ReservedBitsSet)
        );
        assert_eq!(
            MessageTag::try_from(1 << 47),
            Err(TagError::ReservedBitsSet)
        );
        assert_eq!(
            MessageTag::try_from(1 << 13),
            Err(TagError::ReservedBitsSet)
        );
    }

    #[test]
    fn received_tags_may_carry_e_and_x_but_sent_tags_may_not() {
        let redirected = MessageTag::new(7, 1, 0)
            .unwrap()
            .with_flags(TagFlags::REDIRECTED);
        assert_eq!(MessageTag::try_from(redirected.raw()), Ok(redirected));
        assert!(redirected.is_redirected() && !redirected.is_error());
        assert_eq!(
            MessageTag::validate_for_send(redirected.raw()),
            Err(TagError::ReceiveOnlyFlagSet)
        );
        assert_eq!(
            MessageTag::validate_for_send(MessageTag::ERROR.raw()),
            Err(TagError::ReceiveOnlyFlagSet)
        );
        let propagated = MessageTag::new(7, 1, 0)
            .unwrap()
            .with_flags(TagFlags::PROPAGATED);
        assert_eq!(
            MessageTag::validate_for_send(propagated.raw()),
            Ok(propagated)
        );
        assert!(propagated.is_propagated());
    }

    #[test]
    fn tag_errors_become_call_errors() {
        assert_eq!(
            CallError::from(TagError::MessageOverflow {
                untyped: 64,
                typed: 0
            }),
            CallError::SendMessageOverflow
        );
        assert_eq!(
            CallError::from(TagError::ReservedBitsSet),
            CallError::InvalidArgument
        );
        assert_eq!(
            CallError::from(TagError::OddTypedWordCount(1)),
            CallError::InvalidArgument
        );
        assert_eq!(
            CallError::from(TagError::ReceiveOnlyFlagSet),
            CallError::InvalidArgument
        );
    }

    #[test]
    fn labels_and_flags_can_be_replaced_without_touching_the_counts() {
        let tag = MessageTag::new(1, 2, 2).unwrap();
        let relabelled = tag
            .with_label(0xFFFF)
            .with_flags(TagFlags::ERROR | TagFlags::REDIRECTED);
        assert_eq!(relabelled.label(), 0xFFFF);
        assert_eq!(relabelled.flags(), TagFlags::from_bits_truncate(0b1100));
        assert_eq!(
            (relabelled.untyped_words(), relabelled.typed_words()),
            (2, 2)
        );
        assert_eq!(relabelled.with_flags(TagFlags::NONE).with_label(1), tag);
    }

    #[test]
    fn tags_debug_print_their_fields() {
        let tag = MessageTag::new(0xFFE0, 2, 0)
            .unwrap()
            .with_flags(TagFlags::ERROR | TagFlags::PROPAGATED);
        assert_eq!(
            format!("{tag:?}"),
            "MessageTag(label 0xffe0, flags E--P, u 2, t 0)"
        );
    }
}
