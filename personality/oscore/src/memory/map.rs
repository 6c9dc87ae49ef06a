//! `mmap`, `munmap`, `mprotect` and `brk` on an address space, with Linux's arguments, checks
//! and error numbers.
//!
//! Each call decodes and checks everything first and only then changes the address space,
//! so a refused call leaves it exactly as it was. Where Linux changes part of a range before
//! failing (`mprotect` across a hole), we refuse the whole call instead; the difference is
//! invisible to programs that check the result, and a half-applied call is hard to reason
//! about. File mappings are the dispatcher's business: it decides about the file (`EBADF`,
//! `EACCES`, `ENODEV`) before any address-space work, so `mmap` here refuses requests
//! without `MAP_ANONYMOUS` with `ENODEV`.

use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use core::cell::RefCell;
use core::fmt;
use core::ops::Range;

use linux_abi::errno::Errno;
use linux_abi::memory::{
    MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_GROWSDOWN, MAP_POPULATE, MAP_PRIVATE,
    MAP_SHARED, MAP_TYPE,
};

use super::area::{Area, Backing, SharedMemory};
use super::frames::Frames;
use super::rights::{Access, Protection};
use super::space::AddressSpace;
use super::{PAGE_SIZE, is_page_aligned, page_ceiling};

/// `MAP_LOCKED`: lock the pages in memory; populated here, as nothing is ever swapped.
const MAP_LOCKED: u32 = 0x2000;
/// `MAP_HUGETLB`: huge pages, which are not offered.
const MAP_HUGETLB: u32 = 0x4_0000;

/// Where a mapping goes, decided before anything changes.
#[derive(Debug)]
enum Placement {
    /// At a free range.
    Free(u64),
    /// At a fixed range, replacing whatever is there.
    Replacing(u64),
}

impl<Frame: Copy + Eq + Ord + fmt::Debug> AddressSpace<Frame> {
    /// `mmap` of anonymous memory: maps `length` bytes (rounded up to pages) with protection
    /// `prot` and returns the address.
    ///
    /// `flags` must contain `MAP_ANONYMOUS` and have `MAP_PRIVATE` or `MAP_SHARED` as its
    /// type (Linux refuses `MAP_SHARED_VALIDATE` for anonymous memory too; it only validates
    /// file mappings). Without `MAP_FIXED` the address is
    /// a hint, used (rounded up to a page) when the range there is free, otherwise the highest
    /// free range below the `mmap` base is taken. `MAP_FIXED` places the mapping exactly at
    /// the (page-aligned) address and removes what was there, freeing its pages;
    /// `MAP_FIXED_NOREPLACE` does the same but refuses to replace. `MAP_GROWSDOWN` makes a
    /// private mapping grow down on faults below it, like the stack. `MAP_POPULATE` and
    /// `MAP_LOCKED` populate the pages at once, as far as frames last (best effort, as on
    /// Linux); other flags (`MAP_STACK`, `MAP_NORESERVE`, `MAP_DENYWRITE`, unknown ones) are
    /// ignored, as Linux ignores them for the legacy mapping types.
    ///
    /// Shared anonymous memory is really shared: its pages belong to an object that fork
    /// hands to the child, so parent and child see each other's stores.
    ///
    /// # Errors
    /// - `ENODEV`: not `MAP_ANONYMOUS` (file mappings are decided by the dispatcher, which
    ///   checks the file first, as Linux does).
    /// - `EINVAL`: `length` 0; a mapping type other than `MAP_PRIVATE` and `MAP_SHARED`;
    ///   unknown `prot` bits; an unaligned `MAP_FIXED` address; `MAP_GROWSDOWN` with
    ///   `MAP_SHARED`; `MAP_HUGETLB` (no huge pages here).
    /// - `EPERM`: a fixed address below the minimum address (`vm.mmap_min_addr`).
    /// - `ENOMEM`: the length overflows or exceeds the usable range, a fixed range leaves it or
    ///   touches a reserved range, or no free range is large enough.
    /// - `EEXIST`: `MAP_FIXED_NOREPLACE` and something is mapped in the range.
    pub fn mmap<F: Frames<Frame = Frame>>(
        &mut self,
        frames: &mut F,
        address: u64,
        length: u64,
        prot: u32,
        flags: u32,
    ) -> Result<u64, Errno> {
        if flags & MAP_ANONYMOUS == 0 {
            return Err(Errno::ENODEV);
        }
        if length == 0 {
            return Err(Errno::EINVAL);
        }
        let shared = match flags & MAP_TYPE {
            MAP_PRIVATE => false,
            MAP_SHARED => true,
            _ => return Err(Errno::EINVAL),
        };
        let protection = Protection::from_bits(prot).ok_or(Errno::EINVAL)?;
        if flags & MAP_HUGETLB != 0 {
            return Err(Errno::EINVAL);
        }
        let grows_down = flags & MAP_GROWSDOWN != 0;
        if shared && grows_down {
            return Err(Errno::EINVAL);
        }
        let length = page_ceiling(length)
            .filter(|&length| length <= self.layout.user_end())
            .ok_or(Errno::ENOMEM)?;

        let placement = if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0 {
            if !is_page_aligned(address) {
                return Err(Errno::EINVAL);
            }
            if address < self.layout.minimum_address() {
                return Err(Errno::EPERM);
            }
            let range = address
                .checked_add(length)
                .filter(|&end| end <= self.layout.user_end())
                .map(|end| address..end)
                .ok_or(Errno::ENOMEM)?;
            if self.layout.overlaps_reserved(&range) {
                return Err(Errno::ENOMEM);
            }
            if flags & MAP_FIXED_NOREPLACE != 0 && self.overlaps_area(&range) {
                return Err(Errno::EEXIST);
            }
            Placement::Replacing(address)
        } else {
            Placement::Free(self.place(address, length).ok_or(Errno::ENOMEM)?)
        };

        let start = match placement {
            Placement::Free(start) => start,
            Placement::Replacing(start) => {
                self.remove_range(frames, start..start + length);
                start
            }
        };
        let backing = if shared {
            Backing::Shared {
                memory: Rc::new(RefCell::new(SharedMemory {
                    pages: BTreeMap::new(),
                })),
                offset: 0,
            }
        } else {
            Backing::Anonymous
        };
        self.insert_area(
            start,
            Area {
                end: start + length,
                protection,
                backing,
                grows_down,
            },
        );
        if flags & (MAP_POPULATE | MAP_LOCKED) != 0 && protection != Protection::NONE {
            self.populate(frames, start..start + length);
        }
        Ok(start)
    }

    /// Where a non-fixed mapping of `length` bytes goes: at the hint if it is free there,
    /// else top-down below the `mmap` base.
    fn place(&self, hint: u64, length: u64) -> Option<u64> {
        if hint != 0
            && let Some(start) =
                page_ceiling(hint).map(|start| start.max(self.layout.minimum_address()))
            && let Some(end) = start.checked_add(length)
            && end <= self.layout.user_end()
            && self.lowest_obstacle(&(start..end)).is_none()
        {
            return Some(start);
        }
        self.find_free_top_down(length)
    }

    /// Populates the pages of `range` for reading, stopping quietly when frames run out.
    fn populate<F: Frames<Frame = Frame>>(&mut self, frames: &mut F, range: Range<u64>) {
        let mut page = range.start;
        while page < range.end {
            if self.resolve(frames, page, Access::Read).is_err() {
                return;
            }
            page += PAGE_SIZE;
        }
    }

    /// `munmap`: removes the mappings in `length` bytes (rounded up to pages) at `address`,
    /// splitting areas that cross the ends and freeing the pages. Unmapping a range where
    /// nothing is mapped succeeds.
    ///
    /// # Errors
    /// `EINVAL` for an unaligned address, a zero length, or a range that wraps around or
    /// leaves the usable range.
    pub fn munmap<F: Frames<Frame = Frame>>(
        &mut self,
        frames: &mut F,
        address: u64,
        length: u64,
    ) -> Result<(), Errno> {
        if !is_page_aligned(address) || length == 0 {
            return Err(Errno::EINVAL);
        }
        let end = page_ceiling(length)
            .and_then(|length| address.checked_add(length))
            .filter(|&end| end <= self.layout.user_end())
            .ok_or(Errno::EINVAL)?;
        self.remove_range(frames, address..end);
        Ok(())
    }

    /// `mprotect`: sets the protection of `length` bytes (rounded up to pages) at `address`,
    /// splitting areas at the ends. Present pages whose rights shrink lose them at once through
    /// [`Frames::revoke`] (the glue unmaps them in the client); rights that grow are given on
    /// the next fault.
    ///
    /// # Errors
    /// - `EINVAL`: an unaligned address or unknown `prot` bits.
    /// - `ENOMEM`: the range wraps around, leaves the usable range, or is not completely
    ///   mapped (then nothing changes; Linux changes the part before the hole).
    pub fn mprotect<F: Frames<Frame = Frame>>(
        &mut self,
        frames: &mut F,
        address: u64,
        length: u64,
        prot: u32,
    ) -> Result<(), Errno> {
        if !is_page_aligned(address) {
            return Err(Errno::EINVAL);
        }
        let protection = Protection::from_bits(prot).ok_or(Errno::EINVAL)?;
        if length == 0 {
            return Ok(());
        }
        let range = page_ceiling(length)
            .and_then(|length| address.checked_add(length))
            .filter(|&end| end <= self.layout.user_end())
            .map(|end| address..end)
            .ok_or(Errno::ENOMEM)?;
        if !self.is_covered(&range) {
            return Err(Errno::ENOMEM);
        }

        self.split_at(range.start);
        self.split_at(range.end);
        for (_, area) in self.areas.range_mut(range.clone()) {
            area.protection = protection;
        }
        let allowed = protection.rights();
        for (_, entry) in self.pages.range_mut(range.clone()) {
            let removed = entry.rights.without(allowed);
            if !removed.is_empty() {
                frames.revoke(entry.frame, removed);
                entry.rights = entry.rights & allowed;
            }
        }
        self.merge_range(range);
        Ok(())
    }

    /// `brk`: moves the program break to `requested` and returns the new break, or returns
    /// the current break unchanged when `requested` is 0, lies below the heap's start, would
    /// exceed the data limit, or would grow the heap into another area, the guard gap below a
    /// stack, a reserved range or past the usable range (Linux's `brk` reports failure this
    /// way, not with an error). Growing maps anonymous read-write memory from the page after
    /// the old break; shrinking frees the pages beyond the new one.
    pub fn brk<F: Frames<Frame = Frame>>(&mut self, frames: &mut F, requested: u64) -> u64 {
        if self.break_start == 0 || requested < self.break_start {
            return self.break_end;
        }
        if requested - self.break_start > self.limits.data {
            return self.break_end;
        }
        let (Some(new_end), Some(old_end)) =
            (page_ceiling(requested), page_ceiling(self.break_end))
        else {
            return self.break_end;
        };
        if new_end < old_end {
            self.remove_range(frames, new_end..old_end);
        } else if new_end > old_end {
            // Linux keeps one more page free above the heap, so the heap never touches the
            // next mapping.
            let Some(checked_end) = new_end.checked_add(PAGE_SIZE) else {
                return self.break_end;
            };
            let checked = old_end..checked_end;
            if checked_end > self.layout.user_end()
                || !self.layout.is_usable(&(old_end..new_end))
                || self.lowest_obstacle(&checked).is_some()
            {
                return self.break_end;
            }
            self.insert_area(
                old_end,
                Area {
                    end: new_end,
                    protection: Protection::READ_WRITE,
                    backing: Backing::Anonymous,
                    grows_down: false,
                },
            );
        }
        self.break_end = requested;
        requested
    }
}
