//! sigma0's memory bookkeeping, kept apart from the program so that it is tested on the host.
//!
//! sigma0 hands out conventional RAM first come first served, one 4 KiB page per page fault,
//! and never the same page twice. The simplest structure that does that is a cursor walking
//! the kernel interface page's conventional descriptors in order: no free list, because
//! nothing is ever given back to sigma0 (unmapping is the receiver's business, and memory a
//! task lost stays lost until sigma0 learns to reclaim it).

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use abi::kernel_interface_page::{MemoryDescriptor, MemoryKind};

/// The page size sigma0 hands out.
pub const PAGE_SIZE: u64 = 4096;

/// Bytes of conventional memory in `descriptors`: what sigma0 may hand out.
pub fn conventional_bytes(descriptors: &[MemoryDescriptor]) -> u64 {
    descriptors
        .iter()
        .filter(|descriptor| descriptor.kind() == Some(MemoryKind::Conventional))
        .fold(0, |total, descriptor| total.saturating_add(descriptor.size))
}

/// The next free page: walks the conventional descriptors in order, one page at a time.
///
/// The cursor only moves up, so even a map that breaks the kernel interface page's promise
/// (sorted, disjoint) cannot make it hand out a page twice; pages of a descriptor that do not
/// lie wholly inside it on a 4 KiB boundary are skipped.
#[derive(Clone, Debug)]
pub struct PageCursor<'a> {
    descriptors: &'a [MemoryDescriptor],
    /// The descriptor being handed out.
    index: usize,
    /// The lowest address that may still be handed out.
    next: u64,
}

impl<'a> PageCursor<'a> {
    /// A cursor at the first page of the first conventional descriptor.
    pub const fn new(descriptors: &'a [MemoryDescriptor]) -> PageCursor<'a> {
        PageCursor {
            descriptors,
            index: 0,
            next: 0,
        }
    }

    /// The physical address of the next free page, or `None` when conventional memory is
    /// exhausted.
    pub fn next_page(&mut self) -> Option<u64> {
        while let Some(descriptor) = self.descriptors.get(self.index) {
            if descriptor.kind() == Some(MemoryKind::Conventional) {
                let end = descriptor.base.saturating_add(descriptor.size);
                let page = self
                    .next
                    .max(descriptor.base)
                    .checked_next_multiple_of(PAGE_SIZE);
                if let Some(page) = page
                    && let Some(page_end) = page.checked_add(PAGE_SIZE)
                    && page_end <= end
                {
                    self.next = page_end;
                    return Some(page);
                }
            }
            self.index += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAM: MemoryKind = MemoryKind::Conventional;

    fn pages(descriptors: &[MemoryDescriptor]) -> Vec<u64> {
        let mut cursor = PageCursor::new(descriptors);
        core::iter::from_fn(|| cursor.next_page()).collect()
    }

    #[test]
    fn pages_come_in_order_from_conventional_regions_only() {
        let map = [
            MemoryDescriptor::new(0x4000_0000, 0x2000, RAM),
            MemoryDescriptor::new(0x4000_2000, 0x1000, MemoryKind::Reserved),
            MemoryDescriptor::new(0x4000_3000, 0x1000, MemoryKind::InitialRamDisk),
            MemoryDescriptor::new(0x4000_4000, 0x1000, MemoryKind::DeviceTree),
            MemoryDescriptor::new(0x4001_0000, 0x1000, RAM),
        ];
        assert_eq!(pages(&map), [0x4000_0000, 0x4000_1000, 0x4001_0000]);
        assert_eq!(conventional_bytes(&map), 0x3000);
    }

    #[test]
    fn exhausted_stays_exhausted() {
        let map = [MemoryDescriptor::new(0x4000_0000, 0x1000, RAM)];
        let mut cursor = PageCursor::new(&map);
        assert_eq!(cursor.next_page(), Some(0x4000_0000));
        assert_eq!(cursor.next_page(), None);
        assert_eq!(cursor.next_page(), None);
        assert_eq!(PageCursor::new(&[]).next_page(), None);
    }

    #[test]
    fn partial_pages_are_skipped() {
        let map = [
            MemoryDescriptor::new(0x4000_0800, 0x2000, RAM),
            MemoryDescriptor::new(0x5000_0000, 0x800, RAM),
            MemoryDescriptor::new(u64::MAX - 0xFFF, 0x1000, RAM),
        ];
        assert_eq!(pages(&map), [0x4000_1000]);
    }

    #[test]
    fn overlapping_or_unsorted_maps_never_repeat_a_page() {
        let map = [
            MemoryDescriptor::new(0x4000_0000, 0x2000, RAM),
            MemoryDescriptor::new(0x4000_1000, 0x2000, RAM),
            MemoryDescriptor::new(0x3000_0000, 0x1000, RAM),
        ];
        assert_eq!(pages(&map), [0x4000_0000, 0x4000_1000, 0x4000_2000]);
    }

    #[test]
    fn the_total_saturates() {
        let map = [
            MemoryDescriptor::new(0, u64::MAX, RAM),
            MemoryDescriptor::new(0, u64::MAX, RAM),
        ];
        assert_eq!(conventional_bytes(&map), u64::MAX);
    }
}
