//! Flexpages: naturally aligned power-of-two regions of an address space, with rights.
//!
//! A flexpage names what map, grant and fpage_unmap act on, the receive window of an
//! acceptor, and a task's UTCB and kernel-interface-page areas. Layout (L4 X.2's 64-bit
//! fpage):
//!
//! ```text
//!  63                                   10 9          4  3  2  1  0
//! +---------------------------------------+------------+--+--+--+--+
//! |             base / 1024               | size log2  | 0| r| w| x|
//! +---------------------------------------+------------+--+--+--+--+
//! ```
//!
//! - The base is the address itself with its low 10 bits cleared: `raw & !0x3FF`. It must
//!   be aligned to the size, and the region must lie in the 48-bit user address space.
//! - The size is `2^s` bytes with `s` from 12 (one 4 KiB page) to 48 (the whole user
//!   address space). `s = 1` with base 0 is the *complete* fpage: every address, whatever
//!   it is (L4's `CompleteAddressSpace`); it differs from the aligned 2^48 fpage only in
//!   intent, and is what an unmap of "everything" or an accept-anywhere window uses.
//! - The rights are read (4), write (2) and execute (1), the same bits as a page fault's
//!   access bits. In fpage_unmap they name the rights to *remove*; in the status it returns,
//!   the access the pages saw.
//! - The all-zero word is the *nil* fpage: no region.

use core::fmt;

use crate::error::CallError;

/// Bits of a user virtual address (TTBR0_EL1 with a 48-bit VA range).
pub const ADDRESS_SPACE_BITS: u32 = 48;
/// log2 of the smallest fpage, one 4 KiB page.
pub const PAGE_SIZE_LOG2: u32 = 12;

/// Access rights: read, write, execute.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rights(u8);

impl Rights {
    /// No access.
    pub const NONE: Rights = Rights(0);
    /// Execute, bit 0.
    pub const EXECUTE: Rights = Rights(0b001);
    /// Write, bit 1.
    pub const WRITE: Rights = Rights(0b010);
    /// Read, bit 2.
    pub const READ: Rights = Rights(0b100);
    /// Read and execute: code.
    pub const READ_EXECUTE: Rights = Rights(0b101);
    /// Read and write: data.
    pub const READ_WRITE: Rights = Rights(0b110);
    /// Every right.
    pub const ALL: Rights = Rights(0b111);

    /// The rights of the low three bits of `bits`.
    pub const fn from_bits_truncate(bits: u64) -> Rights {
        Rights((bits & 0b111) as u8)
    }

    /// The rights as bits 2..0.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every right of `other` is in `self`.
    pub const fn contains(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }

    /// The rights in either.
    pub const fn union(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }

    /// The rights in both.
    pub const fn intersection(self, other: Rights) -> Rights {
        Rights(self.0 & other.0)
    }

    /// The rights of `self` that are not in `other`.
    pub const fn without(self, other: Rights) -> Rights {
        Rights(self.0 & !other.0)
    }

    /// Whether there is no right.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl core::ops::BitOr for Rights {
    type Output = Rights;

    fn bitor(self, other: Rights) -> Rights {
        self.union(other)
    }
}

impl fmt::Display for Rights {
    /// `rwx` with `-` for a missing right, as `ls -l` prints them.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let letter = |right: Rights, set: char| if self.contains(right) { set } else { '-' };
        write!(
            formatter,
            "{}{}{}",
            letter(Rights::READ, 'r'),
            letter(Rights::WRITE, 'w'),
            letter(Rights::EXECUTE, 'x')
        )
    }
}

impl fmt::Debug for Rights {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Rights({self})")
    }
}

/// A flexpage. Every value is valid: built by the constructors or checked by
/// [`Fpage::try_from`].
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Fpage(u64);

/// Why a value is not a flexpage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FpageError {
    /// Bit 3 is set.
    ReservedBitsSet,
    /// The size is below one page (`s` from 0 to 11, other than the complete fpage's 1).
    SizeTooSmall(u32),
    /// The size is above the address space (`s` above 48).
    SizeTooLarge(u32),
    /// The base is not aligned to the size (or a complete fpage has a non-zero base).
    Misaligned,
    /// The region reaches beyond the 48-bit user address space.
    OutsideAddressSpace,
}

impl fmt::Display for FpageError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FpageError::ReservedBitsSet => formatter.write_str("reserved fpage bit 3 is set"),
            FpageError::SizeTooSmall(size) => {
                write!(formatter, "fpage size 2^{size} is below one page")
            }
            FpageError::SizeTooLarge(size) => {
                write!(formatter, "fpage size 2^{size} is above 2^48")
            }
            FpageError::Misaligned => formatter.write_str("fpage base not aligned to its size"),
            FpageError::OutsideAddressSpace => {
                formatter.write_str("fpage outside the 48-bit address space")
            }
        }
    }
}

impl From<FpageError> for CallError {
    /// A malformed flexpage is the caller's invalid argument.
    fn from(_: FpageError) -> CallError {
        CallError::InvalidArgument
    }
}

impl Fpage {
    /// No region.
    pub const NIL: Fpage = Fpage(0);
    /// Mask of the base field.
    pub const BASE_MASK: u64 = !0x3FF;
    /// Bit position of the size field.
    pub const SIZE_SHIFT: u32 = 4;
    /// Mask of the size field (after shifting).
    pub const SIZE_MASK: u64 = 0x3F;
    /// The reserved bit 3.
    pub const RESERVED_BIT: u64 = 1 << 3;
    /// The size field of the complete fpage.
    pub const COMPLETE_SIZE: u32 = 1;
    /// The largest size, log2: the whole user address space.
    pub const MAX_SIZE_LOG2: u32 = ADDRESS_SPACE_BITS;

    /// The complete address space, with `rights`.
    pub const fn complete(rights: Rights) -> Fpage {
        Fpage(((Fpage::COMPLETE_SIZE as u64) << Fpage::SIZE_SHIFT) | rights.0 as u64)
    }

    /// The `2^size_log2`-byte region at `base`, with `rights`.
    pub const fn new(base: u64, size_log2: u32, rights: Rights) -> Result<Fpage, FpageError> {
        if size_log2 < PAGE_SIZE_LOG2 {
            return Err(FpageError::SizeTooSmall(size_log2));
        }
        if size_log2 > Fpage::MAX_SIZE_LOG2 {
            return Err(FpageError::SizeTooLarge(size_log2));
        }
        if base >> ADDRESS_SPACE_BITS != 0 {
            return Err(FpageError::OutsideAddressSpace);
        }
        if base & ((1 << size_log2) - 1) != 0 {
            return Err(FpageError::Misaligned);
        }
        Ok(Fpage(
            base | ((size_log2 as u64) << Fpage::SIZE_SHIFT) | rights.0 as u64,
        ))
    }

    /// The 4 KiB page that holds `address`, with `rights`.
    pub const fn page(address: u64, rights: Rights) -> Result<Fpage, FpageError> {
        Fpage::new(
            address & !((1 << PAGE_SIZE_LOG2) - 1),
            PAGE_SIZE_LOG2,
            rights,
        )
    }

    /// Checks a register value.
    pub const fn decode(raw: u64) -> Result<Fpage, FpageError> {
        if raw == 0 {
            return Ok(Fpage::NIL);
        }
        if raw & Fpage::RESERVED_BIT != 0 {
            return Err(FpageError::ReservedBitsSet);
        }
        let size_log2 = ((raw >> Fpage::SIZE_SHIFT) & Fpage::SIZE_MASK) as u32;
        let rights = Rights::from_bits_truncate(raw);
        let base = raw & Fpage::BASE_MASK;
        if size_log2 == Fpage::COMPLETE_SIZE {
            return if base == 0 {
                Ok(Fpage::complete(rights))
            } else {
                Err(FpageError::Misaligned)
            };
        }
        Fpage::new(base, size_log2, rights)
    }

    /// Wraps a value that came from the kernel (fpage_unmap's status) without checking it.
    pub const fn from_raw(raw: u64) -> Fpage {
        Fpage(raw)
    }

    /// The register value.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// Whether this is the nil fpage.
    pub const fn is_nil(self) -> bool {
        self.0 == 0
    }

    /// Whether this is the complete address space.
    pub const fn is_complete(self) -> bool {
        self.size_log2() == Fpage::COMPLETE_SIZE
    }

    /// The first address (0 for nil and complete).
    pub const fn base(self) -> u64 {
        self.0 & Fpage::BASE_MASK
    }

    /// The size field: log2 of the size, 1 for the complete fpage, 0 for nil.
    pub const fn size_log2(self) -> u32 {
        ((self.0 >> Fpage::SIZE_SHIFT) & Fpage::SIZE_MASK) as u32
    }

    /// The size in bytes: 0 for nil, 2^48 for the complete fpage.
    pub const fn size(self) -> u64 {
        match self.size_log2() {
            0 => 0,
            Fpage::COMPLETE_SIZE => 1 << ADDRESS_SPACE_BITS,
            size_log2 => 1 << size_log2,
        }
    }

    /// The address after the last byte.
    pub const fn end(self) -> u64 {
        self.base() + self.size()
    }

    /// The rights.
    pub const fn rights(self) -> Rights {
        Rights::from_bits_truncate(self.0)
    }

    /// The same region with `rights` (nil stays nil).
    pub const fn with_rights(self, rights: Rights) -> Fpage {
        if self.is_nil() {
            self
        } else {
            Fpage((self.0 & !0b111) | rights.0 as u64)
        }
    }

    /// Whether `address` lies in the region.
    pub const fn contains(self, address: u64) -> bool {
        address >= self.base() && address < self.end()
    }

    /// Whether the two regions share an address.
    pub const fn overlaps(self, other: Fpage) -> bool {
        !self.is_nil() && !other.is_nil() && self.base() < other.end() && other.base() < self.end()
    }
}

impl TryFrom<u64> for Fpage {
    type Error = FpageError;

    fn try_from(raw: u64) -> Result<Fpage, FpageError> {
        Fpage::decode(raw)
    }
}

impl fmt::Debug for Fpage {
    /// `Fpage(nil)`, `Fpage(complete, rwx)` or `Fpage(0x40000000 + 2^21, rw-)`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_nil() {
            formatter.write_str("Fpage(nil)")
        } else if self.is_complete() {
            write!(formatter, "Fpage(complete, {})", self.rights())
        } else {
            write!(
                formatter,
                "Fpage({:#x} + 2^{}, {})",
                self.base(),
                self.size_log2(),
                self.rights()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_through_the_word() {
        let fpage = Fpage::new(0x4020_0000, 21, Rights::READ_WRITE).unwrap();
        assert_eq!(fpage.raw(), 0x4020_0000 | 21 << 4 | 0b110);
        assert_eq!(fpage.base(), 0x4020_0000);
        assert_eq!(fpage.size_log2(), 21);
        assert_eq!(fpage.size(), 2 << 20);
        assert_eq!(fpage.rights(), Rights::READ_WRITE);
        assert_eq!(Fpage::try_from(fpage.raw()), Ok(fpage));
    }

    #[test]
    fn the_smallest_fpage_is_one_page_and_the_largest_the_address_space() {
        let page = Fpage::page(0x1234_5678, Rights::READ).unwrap();
        assert_eq!((page.base(), page.size()), (0x1234_5000, 4096));
        let whole = Fpage::new(0, 48, Rights::ALL).unwrap();
        assert_eq!(whole.size(), 1 << 48);
        assert_eq!(whole.end(), 1 << 48);
        assert_eq!(Fpage::try_from(whole.raw()), Ok(whole));
        assert!(!whole.is_complete());
    }

    #[test]
    fn sizes_outside_twelve_to_forty_eight_are_rejected() {
        assert_eq!(
            Fpage::new(0, 11, Rights::ALL),
            Err(FpageError::SizeTooSmall(11))
        );
        assert_eq!(
            Fpage::new(0, 49, Rights::ALL),
            Err(FpageError::SizeTooLarge(49))
        );
        assert_eq!(
            Fpage::try_from(0x1000 | 2 << 4),
            Err(FpageError::SizeTooSmall(2))
        );
        assert_eq!(Fpage::try_from(63 << 4), Err(FpageError::SizeTooLarge(63)));
        // Size 0 with rights set is not the nil fpage.
        assert_eq!(Fpage::try_from(0b100), Err(FpageError::SizeTooSmall(0)));
    }

    #[test]
    fn a_base_must_be_aligned_to_the_size() {
        assert_eq!(
            Fpage::new(0x1000, 13, Rights::READ),
            Err(FpageError::Misaligned)
        );
        // Bits 11..10 lie in the base field: a set one misaligns every legal size.
        assert_eq!(
            Fpage::try_from(0x400 | 12 << 4),
            Err(FpageError::Misaligned)
        );
    }

    #[test]
    fn a_region_must_lie_in_the_user_address_space() {
        assert_eq!(
            Fpage::new(1 << 48, 12, Rights::READ),
            Err(FpageError::OutsideAddressSpace)
        );
        assert_eq!(
            Fpage::try_from(0xFFFF_0000_0000_0000 | 12 << 4),
            Err(FpageError::OutsideAddressSpace)
        );
        let last = Fpage::new((1 << 48) - 4096, 12, Rights::READ).unwrap();
        assert_eq!(last.end(), 1 << 48);
    }

    #[test]
    fn the_reserved_bit_is_rejected() {
        assert_eq!(
            Fpage::try_from(0x1000 | 12 << 4 | 0b1000),
            Err(FpageError::ReservedBitsSet)
        );
    }

    #[test]
    fn the_complete_fpage_is_size_one_with_base_zero() {
        let complete = Fpage::complete(Rights::ALL);
        assert_eq!(complete.raw(), 0b01_0000 | 0b111);
        assert!(complete.is_complete() && !complete.is_nil());
        assert_eq!(complete.base(), 0);
        assert_eq!(complete.size(), 1 << 48);
        assert!(complete.contains(0) && complete.contains((1 << 48) - 1));
        assert_eq!(Fpage::try_from(complete.raw()), Ok(complete));
        assert_eq!(
            Fpage::try_from(0x1000 | 1 << 4),
            Err(FpageError::Misaligned)
        );
    }

    #[test]
    fn the_nil_fpage_is_zero_and_covers_nothing() {
        assert_eq!(Fpage::try_from(0), Ok(Fpage::NIL));
        assert!(Fpage::NIL.is_nil() && !Fpage::NIL.is_complete());
        assert_eq!(Fpage::NIL.size(), 0);
        assert!(!Fpage::NIL.contains(0));
        assert_eq!(Fpage::NIL.with_rights(Rights::ALL), Fpage::NIL);
        assert!(!Fpage::NIL.overlaps(Fpage::complete(Rights::NONE)));
    }

    #[test]
    fn regions_know_what_they_contain_and_overlap() {
        let low = Fpage::new(0x10_0000, 20, Rights::NONE).unwrap();
        let inside = Fpage::new(0x18_0000, 12, Rights::NONE).unwrap();
        let next = Fpage::new(0x20_0000, 20, Rights::NONE).unwrap();
        assert!(low.contains(0x10_0000) && low.contains(0x1F_FFFF));
        assert!(!low.contains(0x20_0000) && !low.contains(0xF_FFFF));
        assert!(low.overlaps(inside) && inside.overlaps(low));
        assert!(!low.overlaps(next) && !next.overlaps(low));
        assert!(Fpage::complete(Rights::NONE).overlaps(next));
    }

    #[test]
    fn rights_combine_as_sets() {
        assert_eq!(Rights::READ | Rights::WRITE, Rights::READ_WRITE);
        assert_eq!(Rights::ALL.without(Rights::WRITE), Rights::READ_EXECUTE);
        assert_eq!(
            Rights::READ_WRITE.intersection(Rights::READ_EXECUTE),
            Rights::READ
        );
        assert!(Rights::ALL.contains(Rights::READ_WRITE));
        assert!(!Rights::READ.contains(Rights::READ_WRITE));
        assert!(Rights::NONE.is_empty());
        assert_eq!(Rights::from_bits_truncate(0xFF), Rights::ALL);
        let fpage = Fpage::page(0, Rights::ALL).unwrap();
        assert_eq!(fpage.with_rights(Rights::READ).rights(), Rights::READ);
        assert_eq!(fpage.with_rights(Rights::READ).base(), 0);
    }

    #[test]
    fn fpages_and_rights_print_readably() {
        assert_eq!(Rights::READ_EXECUTE.to_string(), "r-x");
        assert_eq!(
            format!(
                "{:?}",
                Fpage::new(0x4000_0000, 21, Rights::READ_WRITE).unwrap()
            ),
            "Fpage(0x40000000 + 2^21, rw-)"
        );
        assert_eq!(
            format!("{:?}", Fpage::complete(Rights::ALL)),
            "Fpage(complete, rwx)"
        );
        assert_eq!(format!("{:?}", Fpage::NIL), "Fpage(nil)");
    }
}
