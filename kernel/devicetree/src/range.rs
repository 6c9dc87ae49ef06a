//! Physical address ranges and a fixed-capacity, always sorted and merged list of them.
//!
//! RAM and MMIO ranges are separate types so that a device's registers can never be handed to
//! the frame allocator by mistake. The list has a fixed capacity because the kernel reads the
//! DTB before it has a heap; when it is full, `push` says so instead of dropping a range.

use core::fmt;

/// Declares a `{ base, size }` range type with the same helpers for RAM and MMIO.
macro_rules! address_range {
    ($(#[$attribute:meta])* $name:ident) => {
        $(#[$attribute])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name {
            /// First address of the range.
            pub base: u64,
            /// Length in bytes.
            pub size: u64,
        }

        impl $name {
            /// A range of `size` bytes starting at `base`.
            pub const fn new(base: u64, size: u64) -> Self {
                Self { base, size }
            }

            /// First address past the range. Saturates at `u64::MAX` for a range that
            /// reaches the top of the address space ([`crate::parse`] never returns one).
            pub const fn end(&self) -> u64 {
                self.base.saturating_add(self.size)
            }

            /// Whether the range is zero bytes long.
            pub const fn is_empty(&self) -> bool {
                self.size == 0
            }

            /// Whether `address` lies inside the range.
            pub const fn contains(&self, address: u64) -> bool {
                address >= self.base && address - self.base < self.size
            }

            /// Whether the two ranges share at least one byte.
            pub const fn overlaps(&self, other: &Self) -> bool {
                self.base < other.end() && other.base < self.end()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(formatter, "{}({:#x}..{:#x})", stringify!($name), self.base, self.end())
            }
        }
    };
}

address_range!(
    /// A range of physical memory (RAM, reserved RAM, the initrd, the DTB).
    PhysRange
);

address_range!(
    /// A range of device registers in the physical address space.
    MmioRange
);

/// How many disjoint ranges a [`RangeList`] holds.
pub const RANGE_LIST_CAPACITY: usize = 16;

/// Returned by [`RangeList::push`] when the range would need a new slot and none is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListFull;

/// Up to [`RANGE_LIST_CAPACITY`] disjoint physical ranges, sorted by base address, where
/// overlapping or touching ranges are always merged into one.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RangeList {
    ranges: [PhysRange; RANGE_LIST_CAPACITY],
    length: usize,
}

impl RangeList {
    /// How many disjoint ranges the list can hold.
    pub const CAPACITY: usize = RANGE_LIST_CAPACITY;

    /// An empty list.
    pub const fn new() -> Self {
        Self {
            ranges: [PhysRange::new(0, 0); RANGE_LIST_CAPACITY],
            length: 0,
        }
    }

    /// Adds `range`, merging it with every range it overlaps or touches and keeping the list
    /// sorted. Empty ranges are ignored.
    ///
    /// Errors: [`ListFull`] if the range is disjoint from all others and the list is full; the
    /// list is then left as it was.
    pub fn push(&mut self, range: PhysRange) -> Result<(), ListFull> {
        if range.is_empty() {
            return Ok(());
        }
        let mut merged = range;
        let mut kept = [PhysRange::new(0, 0); RANGE_LIST_CAPACITY];
        let mut kept_length = 0;
        // The list is sorted and its ranges neither overlap nor touch, so one pass suffices:
        // growing `merged` by a range it touches can never make it reach a range kept earlier.
        for existing in self.iter() {
            if existing.base <= merged.end() && merged.base <= existing.end() {
                let end = existing.end().max(merged.end());
                merged.base = existing.base.min(merged.base);
                merged.size = end - merged.base;
            } else if let Some(slot) = kept.get_mut(kept_length) {
                *slot = *existing;
                kept_length += 1;
            }
        }
        if kept_length >= RANGE_LIST_CAPACITY {
            return Err(ListFull);
        }
        let position = kept
            .iter()
            .take(kept_length)
            .position(|existing| existing.base > merged.base)
            .unwrap_or(kept_length);
        let mut result = Self::new();
        for range in kept
            .iter()
            .take(position)
            .chain(core::iter::once(&merged))
            .chain(kept.iter().take(kept_length).skip(position))
        {
            if let Some(slot) = result.ranges.get_mut(result.length) {
                *slot = *range;
                result.length += 1;
            }
        }
        *self = result;
        Ok(())
    }

    /// The ranges, sorted by base address.
    pub fn as_slice(&self) -> &[PhysRange] {
        self.ranges.get(..self.length).unwrap_or(&[])
    }

    /// Iterates over the ranges in ascending address order.
    pub fn iter(&self) -> core::slice::Iter<'_, PhysRange> {
        self.as_slice().iter()
    }

    /// How many disjoint ranges the list holds.
    pub fn len(&self) -> usize {
        self.length
    }

    /// Whether the list holds no range.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The sum of the sizes of all ranges (saturating).
    pub fn total_size(&self) -> u64 {
        self.iter()
            .fold(0u64, |total, range| total.saturating_add(range.size))
    }

    /// Whether some range contains `address`.
    pub fn contains(&self, address: u64) -> bool {
        self.iter().any(|range| range.contains(address))
    }
}

impl Default for RangeList {
    fn default() -> Self {
        Self::new()
    }
}

impl<'list> IntoIterator for &'list RangeList {
    type Item = &'list PhysRange;
    type IntoIter = core::slice::Iter<'list, PhysRange>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl fmt::Debug for RangeList {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list_of(ranges: &[(u64, u64)]) -> RangeList {
        let mut list = RangeList::new();
        for &(base, size) in ranges {
            list.push(PhysRange::new(base, size)).unwrap();
        }
        list
    }

    fn pairs(list: &RangeList) -> Vec<(u64, u64)> {
        list.iter().map(|range| (range.base, range.size)).collect()
    }

    #[test]
    fn ranges_pushed_out_of_order_come_out_sorted() {
        let list = list_of(&[(0x9000, 0x100), (0x1000, 0x100), (0x5000, 0x100)]);
        assert_eq!(
            pairs(&list),
            vec![(0x1000, 0x100), (0x5000, 0x100), (0x9000, 0x100)]
        );
    }

    #[test]
    fn touching_ranges_are_merged_into_one() {
        let list = list_of(&[(0x1000, 0x1000), (0x2000, 0x1000)]);
        assert_eq!(pairs(&list), vec![(0x1000, 0x2000)]);
    }

    #[test]
    fn overlapping_ranges_are_merged_into_one() {
        let list = list_of(&[(0x1000, 0x2000), (0x2000, 0x4000)]);
        assert_eq!(pairs(&list), vec![(0x1000, 0x5000)]);
    }

    #[test]
    fn a_range_bridging_two_others_merges_all_three() {
        let list = list_of(&[(0x1000, 0x1000), (0x4000, 0x1000), (0x1800, 0x3000)]);
        assert_eq!(pairs(&list), vec![(0x1000, 0x4000)]);
    }

    #[test]
    fn a_range_inside_another_changes_nothing() {
        let list = list_of(&[(0x1000, 0x4000), (0x2000, 0x100)]);
        assert_eq!(pairs(&list), vec![(0x1000, 0x4000)]);
    }

    #[test]
    fn empty_ranges_are_ignored() {
        let list = list_of(&[(0x1000, 0)]);
        assert!(list.is_empty());
    }

    #[test]
    fn a_full_list_refuses_a_disjoint_range_and_stays_unchanged() {
        let mut list = RangeList::new();
        for slot in 0..RangeList::CAPACITY as u64 {
            list.push(PhysRange::new(slot * 0x10000, 0x1000)).unwrap();
        }
        let before = list;
        assert_eq!(
            list.push(PhysRange::new(0x1000_0000, 0x1000)),
            Err(ListFull)
        );
        assert_eq!(list, before);
    }

    #[test]
    fn a_full_list_still_accepts_a_range_that_merges() {
        let mut list = RangeList::new();
        for slot in 0..RangeList::CAPACITY as u64 {
            list.push(PhysRange::new(slot * 0x10000, 0x1000)).unwrap();
        }
        list.push(PhysRange::new(0x1000, 0xf000)).unwrap();
        assert_eq!(list.len(), RangeList::CAPACITY - 1);
        assert_eq!(list.as_slice()[0], PhysRange::new(0, 0x11000));
    }

    #[test]
    fn a_range_reaching_the_top_of_memory_does_not_overflow() {
        let top = PhysRange::new(u64::MAX - 0xfff, 0x1000);
        assert_eq!(top.end(), u64::MAX);
        assert!(top.contains(u64::MAX));
        let list = list_of(&[(u64::MAX - 0xfff, 0x1000), (u64::MAX - 0x1fff, 0x1000)]);
        assert_eq!(list.len(), 1);
    }

    #[test]
    fn contains_excludes_the_end_address() {
        let range = PhysRange::new(0x4000_0000, 0x1000);
        assert!(range.contains(0x4000_0000));
        assert!(range.contains(0x4000_0fff));
        assert!(!range.contains(0x4000_1000));
        assert!(!range.contains(0x3fff_ffff));
    }

    #[test]
    fn overlaps_is_false_for_touching_ranges() {
        let first = MmioRange::new(0x1000, 0x1000);
        assert!(!first.overlaps(&MmioRange::new(0x2000, 0x1000)));
        assert!(first.overlaps(&MmioRange::new(0x1fff, 0x1000)));
    }

    #[test]
    fn total_size_adds_up_every_range() {
        let list = list_of(&[(0x1000, 0x1000), (0x8000, 0x2000)]);
        assert_eq!(list.total_size(), 0x3000);
        assert!(list.contains(0x8001));
        assert!(!list.contains(0x3000));
    }

    #[test]
    fn debug_output_shows_hexadecimal_bounds() {
        let list = list_of(&[(0x4000_0000, 0x2000_0000)]);
        assert_eq!(format!("{list:?}"), "[PhysRange(0x40000000..0x60000000)]");
    }
}
