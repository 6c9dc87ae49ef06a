//! Messages: the tag in MR0, the typed items after the untyped words, and flexpages.
//!
//! A message is up to 64 message registers: MR0 is the [`MessageTag`] (label and word
//! counts), then `u` untyped words (MR1..MRu, copied verbatim), then `t` typed words
//! (MRu+1..MRu+t) that hold `t / 2` two-word [`TypedItem`]s the kernel interprets: map and
//! grant items carry a [`Fpage`] to map into the receiver, string items a buffer to copy.
//! MR0..MR7 travel in x0..x7; MR8..MR63 live in the sender's and receiver's UTCBs.
//!
//! The receiver says what it accepts in its buffer registers: BR0 is an [`Acceptor`]
//! (the window that mappings may land in, and whether strings are accepted), BR1 the number
//! of string buffers, BR2.. the buffers as string items.

pub mod fpage;
pub mod item;
pub mod tag;

pub use fpage::{ADDRESS_SPACE_BITS, Fpage, FpageError, PAGE_SIZE_LOG2, Rights};
pub use item::{
    Acceptor, ITEM_WORDS, ItemError, MAX_STRING_BUFFERS, MAX_STRING_LENGTH, MapItem, Placement,
    StringItem, TypedItem,
};
pub use tag::{MessageTag, TagError, TagFlags};
