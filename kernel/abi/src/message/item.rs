//! Typed items (map, grant, string) and the receiver's acceptor.
//!
//! Typed items follow the untyped words of a message, two words each. The first word says
//! what the item is in bits 3..1 (L4 X.2's encoding); the second is a flexpage or an
//! address:
//!
//! ```text
//! map:    word 0: send base (63..12) | 0 (11..4) | 100 | 0     word 1: fpage
//! grant:  word 0: send base (63..12) | 0 (11..4) | 101 | 0     word 1: fpage
//! string: word 0: length (63..32)    | 0 (31..4) | 000 | 0     word 1: address
//! ```
//!
//! - **Map** gives the receiver the sender's pages in the fpage with at most the fpage's
//!   rights (and at most the sender's own); the sender keeps them and can take them back
//!   with fpage_unmap. **Grant** moves them: they leave the sender's space.
//! - The **send base** picks where the pages land when sender's fpage and receiver's window
//!   differ in size (see [`MapItem::placement`]); a pager answering a fault sets it to the
//!   fault address.
//! - A **string** is copied by the kernel into the receiver's next string buffer; at most
//!   [`MAX_STRING_LENGTH`] (1 MiB) bytes, so that one ipc holds the kernel for a bounded
//!   time and the kernel's copy loop needs no preemption points.
//! - Bit 0 (X.2's continuation bit for compound strings) is reserved: compound strings are
//!   not supported.
//!
//! The receiver declares what it accepts in BR0, an [`Acceptor`]: a receive window (an
//! fpage, nil = no mappings) and the S bit (strings accepted into the buffers BR2.., as
//! many as BR1 says).

use core::fmt;

use crate::error::CallError;
use crate::message::fpage::{ADDRESS_SPACE_BITS, Fpage, FpageError, PAGE_SIZE_LOG2, Rights};

/// Words per typed item.
pub const ITEM_WORDS: usize = 2;
/// The longest string item or string buffer, in bytes: 1 MiB.
pub const MAX_STRING_LENGTH: usize = 1 << 20;
/// The most string buffers a receiver can offer (BR2..BR33, two registers each).
pub const MAX_STRING_BUFFERS: usize = 16;

/// Why two words are not a typed item, or a value not an acceptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ItemError {
    /// Bits 3..1 hold a type other than map (100), grant (101) or string (000).
    UnknownType(u8),
    /// Reserved bits of the first word (or of an acceptor) are set.
    ReservedBitsSet,
    /// The send base lies outside the 48-bit user address space.
    SendBaseOutsideAddressSpace,
    /// The send base is not page-aligned.
    MisalignedSendBase,
    /// A string is longer than [`MAX_STRING_LENGTH`].
    StringTooLong(u64),
    /// A string reaches beyond the 48-bit user address space.
    StringOutsideAddressSpace,
    /// The fpage word is not a flexpage.
    Fpage(FpageError),
    /// BR1 asks for more than [`MAX_STRING_BUFFERS`] string buffers.
    TooManyStringBuffers(u64),
    /// A string buffer beyond those BR1 announces was asked for.
    NoSuchStringBuffer(usize),
}

impl fmt::Display for ItemError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemError::UnknownType(kind) => {
                write!(formatter, "unknown typed item type {kind:#05b}")
            }
            ItemError::ReservedBitsSet => formatter.write_str("reserved item bits are set"),
            ItemError::SendBaseOutsideAddressSpace => {
                formatter.write_str("send base outside the 48-bit address space")
            }
            ItemError::MisalignedSendBase => formatter.write_str("send base not page-aligned"),
            ItemError::StringTooLong(length) => {
                write!(formatter, "string of {length} bytes is longer than 1 MiB")
            }
            ItemError::StringOutsideAddressSpace => {
                formatter.write_str("string outside the 48-bit address space")
            }
            ItemError::Fpage(error) => error.fmt(formatter),
            ItemError::TooManyStringBuffers(count) => {
                write!(formatter, "{count} string buffers, more than 16")
            }
            ItemError::NoSuchStringBuffer(index) => {
                write!(formatter, "string buffer {index} is not announced in BR1")
            }
        }
    }
}

impl From<FpageError> for ItemError {
    fn from(error: FpageError) -> ItemError {
        ItemError::Fpage(error)
    }
}

impl From<ItemError> for CallError {
    /// A malformed item in a sent message is the sender's invalid argument.
    fn from(_: ItemError) -> CallError {
        CallError::InvalidArgument
    }
}

/// The payload of a map or grant item: what to map and where it should land.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MapItem {
    send_base: u64,
    fpage: Fpage,
}

/// Where a map or grant item's pages come from and land: two regions of equal size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Placement {
    /// The part of the sender's fpage that is mapped, with the item's rights.
    pub source: Fpage,
    /// Where it lands in the receiver's space, same size and rights.
    pub destination: Fpage,
}

impl MapItem {
    /// A map or grant of `fpage`, landing according to `send_base` (page-aligned).
    pub const fn new(send_base: u64, fpage: Fpage) -> Result<MapItem, ItemError> {
        if send_base >> ADDRESS_SPACE_BITS != 0 {
            return Err(ItemError::SendBaseOutsideAddressSpace);
        }
        if send_base & ((1 << PAGE_SIZE_LOG2) - 1) != 0 {
            return Err(ItemError::MisalignedSendBase);
        }
        Ok(MapItem { send_base, fpage })
    }

    /// The send base.
    pub const fn send_base(self) -> u64 {
        self.send_base
    }

    /// The sender's region and the rights to give.
    pub const fn fpage(self) -> Fpage {
        self.fpage
    }

    /// Where the pages go when the receiver's window is `window` (L4 X.2's rule), or `None`
    /// when the fpage or the window is nil (nothing to map, or mappings not accepted).
    ///
    /// With the fpage `2^s` bytes and the window `2^r` bytes (the complete fpage counting
    /// as 2^48 at 0):
    /// - `s <= r`: the whole fpage lands in the window at offset `send base mod 2^r`,
    ///   rounded down to a multiple of `2^s`;
    /// - `s > r`: only the `2^r`-byte part of the fpage at offset `send base mod 2^s`
    ///   (rounded down to a multiple of `2^r`) is mapped, onto the whole window.
    pub const fn placement(self, window: Fpage) -> Option<Placement> {
        if self.fpage.is_nil() || window.is_nil() {
            return None;
        }
        let rights = self.fpage.rights();
        let sent_log2 = effective_size_log2(self.fpage);
        let window_log2 = effective_size_log2(window);
        let (source_base, destination_base, size_log2) = if sent_log2 <= window_log2 {
            let offset = self.send_base & low_mask(window_log2) & !low_mask(sent_log2);
            (self.fpage.base(), window.base() + offset, sent_log2)
        } else {
            let offset = self.send_base & low_mask(sent_log2) & !low_mask(window_log2);
            (self.fpage.base() + offset, window.base(), window_log2)
        };
        match (
            Fpage::new(source_base, size_log2, rights),
            Fpage::new(destination_base, size_log2, rights),
        ) {
            (Ok(source), Ok(destination)) => Some(Placement {
                source,
                destination,
            }),
            _ => None,
        }
    }
}

const fn effective_size_log2(fpage: Fpage) -> u32 {
    if fpage.is_complete() {
        ADDRESS_SPACE_BITS
    } else {
        fpage.size_log2()
    }
}

const fn low_mask(size_log2: u32) -> u64 {
    (1 << size_log2) - 1
}

/// A string: `length` bytes at `address`. As a buffer register pair, `length` is the
/// buffer's capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StringItem {
    address: u64,
    length: u32,
}

impl StringItem {
    /// `length` bytes (at most [`MAX_STRING_LENGTH`]) at `address`.
    pub const fn new(address: u64, length: usize) -> Result<StringItem, ItemError> {
        if length > MAX_STRING_LENGTH {
            return Err(ItemError::StringTooLong(length as u64));
        }
        match address.checked_add(length as u64) {
            Some(end) if end <= 1 << ADDRESS_SPACE_BITS => Ok(StringItem {
                address,
                length: length as u32,
            }),
            _ => Err(ItemError::StringOutsideAddressSpace),
        }
    }

    /// The first byte.
    pub const fn address(self) -> u64 {
        self.address
    }

    /// The length in bytes.
    pub const fn length(self) -> usize {
        self.length as usize
    }
}

/// One typed item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TypedItem {
    /// Map the fpage into the receiver; the sender keeps it.
    Map(MapItem),
    /// Map the fpage into the receiver and remove it from the sender.
    Grant(MapItem),
    /// Copy the bytes into the receiver's next string buffer.
    String(StringItem),
}

impl TypedItem {
    /// Bit position of the type field in word 0.
    pub const TYPE_SHIFT: u32 = 1;
    /// The type field of a map item.
    pub const MAP_TYPE: u8 = 0b100;
    /// The type field of a grant item.
    pub const GRANT_TYPE: u8 = 0b101;
    /// The type field of a string item.
    pub const STRING_TYPE: u8 = 0b000;
    /// Bit position of a string's length in word 0.
    pub const STRING_LENGTH_SHIFT: u32 = 32;
    /// Reserved bits of a map or grant item's word 0.
    pub const MAP_RESERVED_MASK: u64 = 0xFF0 | 1;
    /// Reserved bits of a string item's word 0.
    pub const STRING_RESERVED_MASK: u64 = 0xFFFF_FFF0 | 1;

    /// The two message-register words.
    pub const fn encode(self) -> [u64; ITEM_WORDS] {
        match self {
            TypedItem::Map(item) => [
                item.send_base | ((TypedItem::MAP_TYPE as u64) << TypedItem::TYPE_SHIFT),
                item.fpage.raw(),
            ],
            TypedItem::Grant(item) => [
                item.send_base | ((TypedItem::GRANT_TYPE as u64) << TypedItem::TYPE_SHIFT),
                item.fpage.raw(),
            ],
            TypedItem::String(item) => [
                (item.length as u64) << TypedItem::STRING_LENGTH_SHIFT,
                item.address,
            ],
        }
    }

    /// Checks and decodes two message-register words.
    pub const fn decode(words: [u64; ITEM_WORDS]) -> Result<TypedItem, ItemError> {
        let [first, second] = words;
        let kind = ((first >> TypedItem::TYPE_SHIFT) & 0b111) as u8;
        match kind {
            TypedItem::MAP_TYPE | TypedItem::GRANT_TYPE => {
                if first & TypedItem::MAP_RESERVED_MASK != 0 {
                    return Err(ItemError::ReservedBitsSet);
                }
                let fpage = match Fpage::decode(second) {
                    Ok(fpage) => fpage,
                    Err(error) => return Err(ItemError::Fpage(error)),
                };
                let item = match MapItem::new(first & !0xFFF, fpage) {
                    Ok(item) => item,
                    Err(error) => return Err(error),
                };
                if kind == TypedItem::MAP_TYPE {
                    Ok(TypedItem::Map(item))
                } else {
                    Ok(TypedItem::Grant(item))
                }
            }
            TypedItem::STRING_TYPE => match StringItem::decode(words) {
                Ok(item) => Ok(TypedItem::String(item)),
                Err(error) => Err(error),
            },
            _ => Err(ItemError::UnknownType(kind)),
        }
    }
}

impl StringItem {
    /// The two words of a string item or of a string buffer register pair.
    pub const fn encode(self) -> [u64; ITEM_WORDS] {
        TypedItem::String(self).encode()
    }

    /// Checks and decodes a string item or a string buffer register pair.
    pub const fn decode(words: [u64; ITEM_WORDS]) -> Result<StringItem, ItemError> {
        let [first, address] = words;
        let kind = ((first >> TypedItem::TYPE_SHIFT) & 0b111) as u8;
        if kind != TypedItem::STRING_TYPE {
            return Err(ItemError::UnknownType(kind));
        }
        if first & TypedItem::STRING_RESERVED_MASK != 0 {
            return Err(ItemError::ReservedBitsSet);
        }
        let length = first >> TypedItem::STRING_LENGTH_SHIFT;
        if length > MAX_STRING_LENGTH as u64 {
            return Err(ItemError::StringTooLong(length));
        }
        StringItem::new(address, length as usize)
    }
}

/// BR0: what a receiver accepts. The receive window (bits 63..4, an fpage without rights)
/// and the S bit (bit 0): strings accepted into the string buffers.
///
/// ```text
///  63                      10 9        4  3  2  1  0
/// +--------------------------+----------+--+--+--+--+
/// |  window base / 1024      |window log2| 0| 0| 0| S|
/// +--------------------------+----------+--+--+--+--+
/// ```
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Acceptor(u64);

impl Acceptor {
    /// Accepts neither mappings nor strings.
    pub const NONE: Acceptor = Acceptor(0);
    /// Accepts strings only.
    pub const STRINGS_ONLY: Acceptor = Acceptor(Acceptor::STRINGS_BIT);
    /// The S bit.
    pub const STRINGS_BIT: u64 = 1;
    /// Bits that must be zero.
    pub const RESERVED_MASK: u64 = 0b1110;

    /// Accepts mappings into `window` (its rights are ignored; nil accepts none), no
    /// strings.
    pub const fn window(window: Fpage) -> Acceptor {
        Acceptor(window.with_rights(Rights::NONE).raw())
    }

    /// The same acceptor, also accepting strings.
    pub const fn with_strings(self) -> Acceptor {
        Acceptor(self.0 | Acceptor::STRINGS_BIT)
    }

    /// Checks a BR0 value.
    pub const fn decode(raw: u64) -> Result<Acceptor, ItemError> {
        if raw & Acceptor::RESERVED_MASK != 0 {
            return Err(ItemError::ReservedBitsSet);
        }
        match Fpage::decode(raw & !Acceptor::STRINGS_BIT) {
            Ok(_) => Ok(Acceptor(raw)),
            Err(error) => Err(ItemError::Fpage(error)),
        }
    }

    /// The register value.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// The receive window (nil: mappings not accepted).
    pub const fn receive_window(self) -> Fpage {
        Fpage::from_raw(self.0 & !Acceptor::STRINGS_BIT)
    }

    /// Whether strings are accepted.
    pub const fn accepts_strings(self) -> bool {
        self.0 & Acceptor::STRINGS_BIT != 0
    }
}

impl TryFrom<u64> for Acceptor {
    type Error = ItemError;

    fn try_from(raw: u64) -> Result<Acceptor, ItemError> {
        Acceptor::decode(raw)
    }
}

impl fmt::Debug for Acceptor {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "Acceptor(window {:?}, strings {})",
            self.receive_window(),
            if self.accepts_strings() {
                "accepted"
            } else {
                "refused"
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fpage(base: u64, size_log2: u32, rights: Rights) -> Fpage {
        Fpage::new(base, size_log2, rights).unwrap()
    }

    #[test]
    fn map_and_grant_items_round_trip_with_x2_type_bits() {
        let item = MapItem::new(0x7000, fpage(0x4000_0000, 12, Rights::READ_WRITE)).unwrap();
        let map = TypedItem::Map(item).encode();
        assert_eq!(map, [0x7000 | 0b1000, 0x4000_0000 | 12 << 4 | 0b110]);
        assert_eq!(TypedItem::decode(map), Ok(TypedItem::Map(item)));
        let grant = TypedItem::Grant(item).encode();
        assert_eq!(grant[0], 0x7000 | 0b1010);
        assert_eq!(TypedItem::decode(grant), Ok(TypedItem::Grant(item)));
    }

    #[test]
    fn string_items_round_trip_with_the_length_in_the_high_word() {
        let item = StringItem::new(0x1000_0000, 256).unwrap();
        let words = TypedItem::String(item).encode();
        assert_eq!(words, [256 << 32, 0x1000_0000]);
        assert_eq!(TypedItem::decode(words), Ok(TypedItem::String(item)));
        assert_eq!(StringItem::decode(item.encode()), Ok(item));
        assert_eq!((item.address(), item.length()), (0x1000_0000, 256));
    }

    #[test]
    fn a_string_of_one_mebibyte_fits_and_one_byte_more_does_not() {
        let longest = StringItem::new(0, MAX_STRING_LENGTH).unwrap();
        assert_eq!(
            TypedItem::decode(longest.encode()),
            Ok(TypedItem::String(longest))
        );
        assert_eq!(
            StringItem::new(0, MAX_STRING_LENGTH + 1),
            Err(ItemError::StringTooLong(MAX_STRING_LENGTH as u64 + 1))
        );
        assert_eq!(
            TypedItem::decode([(MAX_STRING_LENGTH as u64 + 1) << 32, 0]),
            Err(ItemError::StringTooLong(MAX_STRING_LENGTH as u64 + 1))
        );
        let empty = StringItem::new(0x1234, 0).unwrap();
        assert_eq!(TypedItem::decode([0, 0x1234]), Ok(TypedItem::String(empty)));
    }

    #[test]
    fn strings_must_lie_in_the_user_address_space() {
        let end = 1u64 << 48;
        assert!(StringItem::new(end - 16, 16).is_ok());
        assert_eq!(
            StringItem::new(end - 16, 17),
            Err(ItemError::StringOutsideAddressSpace)
        );
        assert_eq!(
            StringItem::new(u64::MAX, 1),
            Err(ItemError::StringOutsideAddressSpace)
        );
        assert_eq!(
            TypedItem::decode([1 << 32, u64::MAX]),
            Err(ItemError::StringOutsideAddressSpace)
        );
    }

    #[test]
    fn unknown_types_and_reserved_bits_are_rejected() {
        for kind in [0b001u64, 0b010, 0b011, 0b110, 0b111] {
            assert_eq!(
                TypedItem::decode([kind << 1, 0]),
                Err(ItemError::UnknownType(kind as u8))
            );
        }
        // Bit 0, X.2's continuation bit.
        assert_eq!(TypedItem::decode([1, 0]), Err(ItemError::ReservedBitsSet));
        assert_eq!(
            TypedItem::decode([0b1001, 0]),
            Err(ItemError::ReservedBitsSet)
        );
        // Bits 11..4 of a map item, bits 31..4 of a string item.
        assert_eq!(
            TypedItem::decode([0b1000 | 0x10, 0]),
            Err(ItemError::ReservedBitsSet)
        );
        assert_eq!(
            TypedItem::decode([0x8000_0000, 0]),
            Err(ItemError::ReservedBitsSet)
        );
    }

    #[test]
    fn a_map_item_checks_its_fpage_and_send_base() {
        assert_eq!(
            TypedItem::decode([0b1000, 0x1000 | 11 << 4]),
            Err(ItemError::Fpage(FpageError::SizeTooSmall(11)))
        );
        assert_eq!(
            TypedItem::decode([1 << 48 | 0b1000, 0]),
            Err(ItemError::SendBaseOutsideAddressSpace)
        );
        assert_eq!(
            MapItem::new(0x800, Fpage::NIL),
            Err(ItemError::MisalignedSendBase)
        );
        // Mapping the nil fpage is legal and maps nothing.
        let nothing = MapItem::new(0, Fpage::NIL).unwrap();
        assert_eq!(TypedItem::decode([0b1000, 0]), Ok(TypedItem::Map(nothing)));
        assert_eq!(nothing.placement(Fpage::complete(Rights::NONE)), None);
    }

    #[test]
    fn a_small_fpage_lands_in_a_large_window_at_the_send_base() {
        let item = MapItem::new(0x0012_3000, fpage(0x8000_0000, 12, Rights::READ)).unwrap();
        let placement = item.placement(Fpage::complete(Rights::NONE)).unwrap();
        assert_eq!(placement.source, fpage(0x8000_0000, 12, Rights::READ));
        assert_eq!(placement.destination, fpage(0x0012_3000, 12, Rights::READ));

        // A 1 MiB window at 0x4000_0000: the send base counts modulo the window.
        let window = fpage(0x4000_0000, 20, Rights::NONE);
        let placement = item.placement(window).unwrap();
        assert_eq!(placement.destination, fpage(0x4002_3000, 12, Rights::READ));
    }

    #[test]
    fn a_large_fpage_sends_only_the_window_sized_part_at_the_send_base() {
        // A 2 MiB fpage into a 4 KiB window: the page at send base mod 2 MiB.
        let item = MapItem::new(0x0015_5000, fpage(0x4000_0000, 21, Rights::READ_WRITE)).unwrap();
        let placement = item.placement(fpage(0x7000, 12, Rights::NONE)).unwrap();
        assert_eq!(placement.source, fpage(0x4015_5000, 12, Rights::READ_WRITE));
        assert_eq!(placement.destination, fpage(0x7000, 12, Rights::READ_WRITE));
    }

    #[test]
    fn a_complete_fpage_sent_to_a_complete_window_maps_everything_in_place() {
        let item = MapItem::new(0, Fpage::complete(Rights::ALL)).unwrap();
        let placement = item.placement(Fpage::complete(Rights::NONE)).unwrap();
        assert_eq!(placement.source, fpage(0, 48, Rights::ALL));
        assert_eq!(placement.destination, fpage(0, 48, Rights::ALL));
    }

    #[test]
    fn a_nil_window_accepts_no_mapping() {
        let item = MapItem::new(0, fpage(0x1000, 12, Rights::READ)).unwrap();
        assert_eq!(item.placement(Fpage::NIL), None);
    }

    #[test]
    fn acceptors_round_trip_window_and_string_bit() {
        let window = fpage(0x4000_0000, 30, Rights::ALL);
        let acceptor = Acceptor::window(window).with_strings();
        assert_eq!(acceptor.raw(), 0x4000_0000 | 30 << 4 | 1);
        assert_eq!(acceptor.receive_window(), window.with_rights(Rights::NONE));
        assert!(acceptor.accepts_strings());
        assert_eq!(Acceptor::try_from(acceptor.raw()), Ok(acceptor));

        assert_eq!(Acceptor::try_from(0), Ok(Acceptor::NONE));
        assert!(Acceptor::NONE.receive_window().is_nil() && !Acceptor::NONE.accepts_strings());
        assert!(Acceptor::STRINGS_ONLY.receive_window().is_nil());
        assert!(Acceptor::STRINGS_ONLY.accepts_strings());
        let anywhere = Acceptor::window(Fpage::complete(Rights::ALL));
        assert!(anywhere.receive_window().is_complete());
    }

    #[test]
    fn acceptors_reject_rights_bits_and_bad_windows() {
        assert_eq!(Acceptor::try_from(0b0100), Err(ItemError::ReservedBitsSet));
        assert_eq!(Acceptor::try_from(0b1000), Err(ItemError::ReservedBitsSet));
        assert_eq!(
            Acceptor::try_from(0x1000 | 13 << 4),
            Err(ItemError::Fpage(FpageError::Misaligned))
        );
    }

    #[test]
    fn item_errors_are_the_senders_invalid_argument() {
        assert_eq!(
            CallError::from(ItemError::UnknownType(3)),
            CallError::InvalidArgument
        );
    }
}
