//! The address space of one client process: its areas, its page table, the page-fault path,
//! fork's copy and the release of everything at `exit` and `exec`.
//!
//! Areas and pages are two ordered maps keyed by address. An area says what *may* be at an
//! address; the page table says what *is* there. A page is populated on its first use — the
//! client's fault or a server copy to or from user memory — from its area's backing, and
//! from then on the page-table entry is the truth: its frame, the rights this address space
//! gives the client for it (at most the area's, later less under copy-on-write), and whether
//! the page table owns the frame (private memory, freed with the page) or only refers to it
//! (shared memory, freed with its object).
//!
//! The system-call-shaped operations (`mmap`, `munmap`, `mprotect`, `brk`) are in
//! `map.rs` and the user-memory copies in `user.rs`; they are built from the few
//! primitives here: find an obstacle, split, merge, remove a range, resolve a page.

use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use core::fmt;
use core::ops::Range;

use linux_abi::errno::Errno;

use super::area::{Area, AreaInfo, Backing, fill_from_image};
use super::frames::Frames;
use super::layout::Layout;
use super::rights::{Access, Rights};
use super::{is_page_aligned, page_ceiling, page_floor};

/// `SEGV_MAPERR`: the `si_code` of a `SIGSEGV` for an address where nothing is mapped.
pub const SEGV_MAPERR: i32 = 1;
/// `SEGV_ACCERR`: the `si_code` of a `SIGSEGV` for an access the mapping does not permit.
pub const SEGV_ACCERR: i32 = 2;

/// The default stack limit (`RLIMIT_STACK`): 8 MiB, as Linux's `_STK_LIM`.
pub const DEFAULT_STACK_LIMIT: u64 = 8 << 20;

/// The resource limits an address space enforces, as `setrlimit` sets them; `u64::MAX` is
/// `RLIM_INFINITY`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryLimits {
    /// `RLIMIT_STACK`: the largest size a growing-down area may reach.
    pub stack: u64,
    /// `RLIMIT_DATA`: the largest size of the `brk` heap (Linux also counts the data segment
    /// and private writable mappings; this counts the heap only).
    pub data: u64,
}

impl Default for MemoryLimits {
    fn default() -> Self {
        Self {
            stack: DEFAULT_STACK_LIMIT,
            data: u64::MAX,
        }
    }
}

/// What the glue must map into the client to resolve a fault: one page of the server's
/// memory at a client page with some rights.
///
/// The glue answers the fault with a map item of `frame` (a page of the server's address
/// space) at `page_address` in the client. When `rights` contain execute, the frame's
/// contents may have been written by the server since the client last executed them (it
/// populates image pages by copying), so the data cache must be cleaned to the point of
/// unification and the instruction cache invalidated for that page before the client runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping<Frame> {
    /// The client page (page aligned).
    pub page_address: u64,
    /// The server frame to map there.
    pub frame: Frame,
    /// The rights to map it with.
    pub rights: Rights,
}

/// Why a page fault (or a server access to user memory) cannot be resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultError {
    /// No area holds the address and no stack may grow to it: `SIGSEGV` with `SEGV_MAPERR`.
    Unmapped,
    /// An area holds the address but its protection forbids the access: `SIGSEGV` with
    /// `SEGV_ACCERR`.
    AccessDenied,
    /// The server has no frame to populate the page with. Linux would run the OOM killer;
    /// the glue should kill the process (`SIGKILL`).
    OutOfMemory,
}

impl FaultError {
    /// The `si_code` of the `SIGSEGV` this fault raises, or `None` for [`Self::OutOfMemory`].
    pub const fn segv_code(self) -> Option<i32> {
        match self {
            Self::Unmapped => Some(SEGV_MAPERR),
            Self::AccessDenied => Some(SEGV_ACCERR),
            Self::OutOfMemory => None,
        }
    }

    /// The error a system call returns when its user pointer faults this way: `EFAULT`, or
    /// `ENOMEM` when the server is out of memory.
    pub const fn errno(self) -> Errno {
        match self {
            Self::Unmapped | Self::AccessDenied => Errno::EFAULT,
            Self::OutOfMemory => Errno::ENOMEM,
        }
    }
}

impl fmt::Display for FaultError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Unmapped => "no mapping at the address",
            Self::AccessDenied => "the mapping does not permit the access",
            Self::OutOfMemory => "no frame to populate the page",
        })
    }
}

/// Who frees a page's frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ownership {
    /// This page table: the frame is freed when the page goes.
    Private,
    /// A shared object: the page only refers to the frame.
    Shared,
}

/// A present page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PageEntry<Frame> {
    /// The server frame holding the page.
    pub(crate) frame: Frame,
    /// The rights this address space gives the client for the page.
    pub(crate) rights: Rights,
    /// Who frees the frame.
    pub(crate) ownership: Ownership,
}

/// One client process's address space. Dropping it without [`AddressSpace::clear`] leaks
/// its frames: releasing them needs the [`Frames`] pool, which a destructor does not have.
#[derive(Debug)]
pub struct AddressSpace<Frame> {
    pub(crate) layout: Layout,
    /// Areas by start address; non-overlapping, page aligned, within the usable range.
    pub(crate) areas: BTreeMap<u64, Area<Frame>>,
    /// Present pages by client page address; every one lies in an area.
    pub(crate) pages: BTreeMap<u64, PageEntry<Frame>>,
    /// How many entries of `pages` are [`Ownership::Private`].
    pub(crate) owned_frames: usize,
    /// Where the heap starts (page aligned); 0 before a program is loaded.
    pub(crate) break_start: u64,
    /// The current program break, as `brk` returns it.
    pub(crate) break_end: u64,
    pub(crate) limits: MemoryLimits,
}

impl<Frame: Copy + Eq + Ord + fmt::Debug> AddressSpace<Frame> {
    /// An empty address space with no program break.
    pub fn new(layout: Layout) -> AddressSpace<Frame> {
        AddressSpace {
            layout,
            areas: BTreeMap::new(),
            pages: BTreeMap::new(),
            owned_frames: 0,
            break_start: 0,
            break_end: 0,
            limits: MemoryLimits::default(),
        }
    }

    /// The layout this address space follows.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The resource limits in force.
    pub fn limits(&self) -> MemoryLimits {
        self.limits
    }

    /// Sets the resource limits (`setrlimit`). A smaller stack limit does not shrink a stack
    /// that is already larger; it only stops further growth, as on Linux.
    pub fn set_limits(&mut self, limits: MemoryLimits) {
        self.limits = limits;
    }

    /// The current program break (what `brk(0)` returns); 0 before a program is loaded.
    pub fn program_break(&self) -> u64 {
        self.break_end
    }

    /// Where the heap starts: the page after the program image; 0 before one is loaded.
    pub fn break_start(&self) -> u64 {
        self.break_start
    }

    /// The areas in address order.
    pub fn areas(&self) -> impl Iterator<Item = AreaInfo> + '_ {
        self.areas.iter().map(|(&start, area)| area.info(start))
    }

    /// Every present page, in address order, with the rights it may be mapped with: what the
    /// glue needs to map a whole address space eagerly or to check it.
    pub fn mappings(&self) -> impl Iterator<Item = Mapping<Frame>> + '_ {
        self.pages.iter().map(|(&page_address, entry)| Mapping {
            page_address,
            frame: entry.frame,
            rights: entry.rights,
        })
    }

    /// The present page holding `address`, if any; never populates.
    pub fn mapping(&self, address: u64) -> Option<Mapping<Frame>> {
        let page_address = page_floor(address);
        self.pages.get(&page_address).map(|entry| Mapping {
            page_address,
            frame: entry.frame,
            rights: entry.rights,
        })
    }

    /// How many frames this address space owns and will free (its private present pages).
    pub fn owned_frame_count(&self) -> usize {
        self.owned_frames
    }

    /// How many pages are present, private or shared.
    pub fn resident_page_count(&self) -> usize {
        self.pages.len()
    }

    /// The page-fault path: resolves a client's `access` at `address` and says what to map.
    ///
    /// The address must lie in an area, or just below a growing-down area within its limit
    /// (the area then grows down to the page), and the area's protection must allow the
    /// access. An absent page is populated from the area's backing. The mapping's rights are
    /// the area's protection as [`super::Protection::rights`] gives them: a fault for a read
    /// still maps a writable page writable, so the client does not fault again on its first
    /// store.
    ///
    /// # Errors
    /// [`FaultError::Unmapped`], [`FaultError::AccessDenied`] or [`FaultError::OutOfMemory`].
    pub fn fault<F: Frames<Frame = Frame>>(
        &mut self,
        frames: &mut F,
        address: u64,
        access: Access,
    ) -> Result<Mapping<Frame>, FaultError> {
        let (page_address, entry) = self.resolve(frames, address, access)?;
        Ok(Mapping {
            page_address,
            frame: entry.frame,
            rights: entry.rights,
        })
    }

    /// Makes the page at `address` present for `access` and returns its page address and
    /// entry: the fault path, shared with the user-memory copies.
    pub(crate) fn resolve<F: Frames<Frame = Frame>>(
        &mut self,
        frames: &mut F,
        address: u64,
        access: Access,
    ) -> Result<(u64, PageEntry<Frame>), FaultError> {
        let start = match self.area_containing(address) {
            Some(start) => start,
            None => self.grow_down(address).ok_or(FaultError::Unmapped)?,
        };
        let area = self.areas.get(&start).ok_or(FaultError::Unmapped)?;
        if !area.protection.allows(access) {
            return Err(FaultError::AccessDenied);
        }
        let rights = area.protection.rights();
        let page_address = page_floor(address);
        if let Some(entry) = self.pages.get_mut(&page_address) {
            // Present: give the area's rights (more than before after an mprotect that added
            // some). Copy-on-write will keep a shared private frame read-only here.
            entry.rights = rights;
            return Ok((page_address, *entry));
        }
        let entry = match &area.backing {
            Backing::Anonymous => PageEntry {
                frame: frames.allocate().ok_or(FaultError::OutOfMemory)?,
                rights,
                ownership: Ownership::Private,
            },
            Backing::Image(pieces) => {
                let frame = frames.allocate().ok_or(FaultError::OutOfMemory)?;
                fill_from_image(pieces, page_address, frames.bytes_mut(frame));
                PageEntry {
                    frame,
                    rights,
                    ownership: Ownership::Private,
                }
            }
            Backing::Shared { memory, offset } => {
                let key = offset + (page_address - start);
                let mut shared = memory.borrow_mut();
                let frame = match shared.pages.get(&key) {
                    Some(&frame) => frame,
                    None => {
                        let frame = frames.allocate().ok_or(FaultError::OutOfMemory)?;
                        shared.pages.insert(key, frame);
                        frame
                    }
                };
                PageEntry {
                    frame,
                    rights,
                    ownership: Ownership::Shared,
                }
            }
        };
        if entry.ownership == Ownership::Private {
            self.owned_frames += 1;
        }
        self.pages.insert(page_address, entry);
        Ok((page_address, entry))
    }

    /// A copy of this address space for a forked child: the same areas, and every present
    /// private page copied into a new frame (eagerly; copy-on-write comes later). Shared
    /// areas stay shared: the child refers to the same objects and finds their pages there.
    ///
    /// # Errors
    /// `ENOMEM` when frames run out; then every frame taken for the copy is freed again and
    /// nothing else changed.
    pub fn fork<F: Frames<Frame = Frame>>(
        &self,
        frames: &mut F,
    ) -> Result<AddressSpace<Frame>, Errno> {
        let mut child = AddressSpace {
            layout: self.layout.clone(),
            areas: BTreeMap::new(),
            pages: BTreeMap::new(),
            owned_frames: 0,
            break_start: self.break_start,
            break_end: self.break_end,
            limits: self.limits,
        };
        for (&start, area) in &self.areas {
            child.areas.insert(
                start,
                Area {
                    end: area.end,
                    protection: area.protection,
                    backing: area.backing.clone(),
                    grows_down: area.grows_down,
                },
            );
        }
        for (&page_address, entry) in &self.pages {
            if entry.ownership == Ownership::Shared {
                continue;
            }
            let Some(frame) = frames.allocate() else {
                child.clear(frames);
                return Err(Errno::ENOMEM);
            };
            frames.copy(entry.frame, frame);
            child.pages.insert(
                page_address,
                PageEntry {
                    frame,
                    rights: entry.rights,
                    ownership: Ownership::Private,
                },
            );
            child.owned_frames += 1;
        }
        Ok(child)
    }

    /// Releases everything (`exit`, and the old image at `exec`): frees every owned frame,
    /// drops every area (freeing shared objects nobody else maps) and forgets the program
    /// break. The address space is empty afterwards and may be dropped or reused.
    pub fn clear<F: Frames<Frame = Frame>>(&mut self, frames: &mut F) {
        let pages = core::mem::take(&mut self.pages);
        for entry in pages.into_values() {
            release_page(frames, entry);
        }
        self.owned_frames = 0;
        let areas = core::mem::take(&mut self.areas);
        for area in areas.into_values() {
            release_backing(frames, area.backing);
        }
        self.break_start = 0;
        self.break_end = 0;
    }

    // -----------------------------------------------------------------------------------------
    // Primitives for map.rs, user.rs and exec.rs
    // -----------------------------------------------------------------------------------------

    /// The start of the area holding `address`.
    pub(crate) fn area_containing(&self, address: u64) -> Option<u64> {
        self.areas
            .range(..=address)
            .next_back()
            .filter(|(_, area)| address < area.end)
            .map(|(&start, _)| start)
    }

    /// Grows the growing-down area just above `address` down to its page, if the stack limit,
    /// the usable range, the reserved ranges and the guard gap above the next lower area allow
    /// it; returns the area's new start. `address` lies in no area.
    fn grow_down(&mut self, address: u64) -> Option<u64> {
        if address >= self.layout.user_end() {
            return None;
        }
        let page = page_floor(address);
        let (&start, area) = self.areas.range(page..).next()?;
        if !area.grows_down || area.end - page > self.limits.stack {
            return None;
        }
        if page < self.layout.minimum_address() || self.layout.overlaps_reserved(&(page..start)) {
            return None;
        }
        if let Some((_, below)) = self.areas.range(..page).next_back()
            && !below.grows_down
            && below.end.saturating_add(self.layout.stack_guard_gap()) > page
        {
            return None;
        }
        // Growing-down areas are anonymous private (mmap refuses shared ones), so moving the
        // start changes nothing about the backing.
        let area = self.areas.remove(&start)?;
        self.areas.insert(page, area);
        Some(page)
    }

    /// The lowest address where something `range` must not overlap begins, or `None` if it is
    /// free: an area, the guard gap below a growing-down area, or a reserved range. Used to
    /// place new mappings (not for `MAP_FIXED`, which may replace areas).
    pub(crate) fn lowest_obstacle(&self, range: &Range<u64>) -> Option<u64> {
        let gap = self.layout.stack_guard_gap();
        let mut lowest = self.layout.lowest_reserved_overlap(range);
        for (&start, area) in self.areas.range(..range.end.saturating_add(gap)).rev() {
            if area.end <= range.start {
                break;
            }
            let effective_start = if area.grows_down {
                start.saturating_sub(gap)
            } else {
                start
            };
            if effective_start < range.end {
                lowest = Some(lowest.map_or(effective_start, |other| other.min(effective_start)));
            }
        }
        lowest
    }

    /// Whether any area overlaps `range`.
    pub(crate) fn overlaps_area(&self, range: &Range<u64>) -> bool {
        self.areas
            .range(..range.end)
            .next_back()
            .is_some_and(|(_, area)| area.end > range.start)
    }

    /// Whether `range` is covered by areas without a hole.
    pub(crate) fn is_covered(&self, range: &Range<u64>) -> bool {
        let mut covered_to = range.start;
        while covered_to < range.end {
            match self.area_containing(covered_to) {
                Some(start) => match self.areas.get(&start) {
                    Some(area) => covered_to = area.end,
                    None => return false,
                },
                None => return false,
            }
        }
        true
    }

    /// The highest free range of `length` bytes below the `mmap` base, if any.
    pub(crate) fn find_free_top_down(&self, length: u64) -> Option<u64> {
        let mut end = self.layout.mmap_base();
        loop {
            let start = end.checked_sub(length)?;
            if start < self.layout.minimum_address() {
                return None;
            }
            match self.lowest_obstacle(&(start..end)) {
                None => return Some(start),
                // The obstacle starts inside the candidate, so `end` strictly decreases.
                Some(obstacle) => end = page_floor(obstacle),
            }
        }
    }

    /// Splits the area that holds `address` strictly inside, so an area boundary lies there.
    pub(crate) fn split_at(&mut self, address: u64) {
        let Some((&start, area)) = self.areas.range_mut(..address).next_back() else {
            return;
        };
        if area.end > address {
            let upper = area.split_off(start, address);
            self.areas.insert(address, upper);
        }
    }

    /// Joins neighbouring areas that [`Area::continues_into`] each other, from the area
    /// before `range` to the area starting at its end.
    pub(crate) fn merge_range(&mut self, range: Range<u64>) {
        let mut cursor = self
            .areas
            .range(..range.start)
            .next_back()
            .map_or(range.start, |(&start, _)| start);
        while let Some((&start, area)) = self.areas.range(cursor..).next() {
            if start > range.end {
                break;
            }
            let end = area.end;
            let mergeable = self
                .areas
                .get(&end)
                .is_some_and(|upper| area.continues_into(start, upper));
            if !mergeable {
                cursor = end;
                continue;
            }
            if let Some(upper) = self.areas.remove(&end)
                && let Some(lower) = self.areas.get_mut(&start)
            {
                lower.end = upper.end;
            }
        }
    }

    /// Adds an area at a free range and merges it with its neighbours.
    pub(crate) fn insert_area(&mut self, start: u64, area: Area<Frame>) {
        let end = area.end;
        self.areas.insert(start, area);
        self.merge_range(start..end);
    }

    /// Removes every area and page in `range` (page aligned), splitting areas that cross its
    /// ends, freeing private frames and shared objects that nothing maps any more.
    pub(crate) fn remove_range<F: Frames<Frame = Frame>>(
        &mut self,
        frames: &mut F,
        range: Range<u64>,
    ) {
        if range.start >= range.end {
            return;
        }
        self.split_at(range.start);
        self.split_at(range.end);
        self.release_pages(frames, range.clone());
        for (_, area) in self.areas.extract_if(range, |_, _| true) {
            release_backing(frames, area.backing);
        }
    }

    /// Drops every present page in `range`: private frames are freed, shared ones only lose
    /// this client's mapping (and, through the frame, every client's, which fault back in).
    pub(crate) fn release_pages<F: Frames<Frame = Frame>>(
        &mut self,
        frames: &mut F,
        range: Range<u64>,
    ) {
        if range.start >= range.end {
            return;
        }
        for (_, entry) in self.pages.extract_if(range, |_, _| true) {
            if entry.ownership == Ownership::Private {
                self.owned_frames -= 1;
            }
            release_page(frames, entry);
        }
    }

    /// Starts the heap at `start` (page aligned): the break is there and nothing is mapped.
    pub(crate) fn set_break_start(&mut self, start: u64) {
        self.break_start = start;
        self.break_end = start;
    }

    /// `MADV_DONTNEED`: drops the present pages of `length` bytes at `address`, so private
    /// pages read back as zero (anonymous) or as the file's bytes (image) on their next use;
    /// shared pages keep their contents. Unlike `munmap`, the areas stay.
    ///
    /// # Errors
    /// `EINVAL` for an unaligned address or a range that wraps or leaves the usable range;
    /// `ENOMEM` when part of the range is not mapped (the mapped parts are still dropped, as
    /// on Linux).
    pub fn discard<F: Frames<Frame = Frame>>(
        &mut self,
        frames: &mut F,
        address: u64,
        length: u64,
    ) -> Result<(), Errno> {
        if !is_page_aligned(address) {
            return Err(Errno::EINVAL);
        }
        if length == 0 {
            return Ok(());
        }
        let end = page_ceiling(length)
            .and_then(|length| address.checked_add(length))
            .filter(|&end| end <= self.layout.user_end())
            .ok_or(Errno::EINVAL)?;
        let covered = self.is_covered(&(address..end));
        self.release_pages(frames, address..end);
        if covered { Ok(()) } else { Err(Errno::ENOMEM) }
    }
}

/// Gives up one page-table entry's hold on its frame.
fn release_page<F: Frames>(frames: &mut F, entry: PageEntry<F::Frame>) {
    match entry.ownership {
        Ownership::Private => frames.free(entry.frame),
        Ownership::Shared => frames.revoke(entry.frame, Rights::ALL),
    }
}

/// Drops an area's backing; a shared object that this was the last reference to is freed.
fn release_backing<F: Frames>(frames: &mut F, backing: Backing<F::Frame>) {
    if let Backing::Shared { memory, .. } = backing
        && let Ok(object) = Rc::try_unwrap(memory)
    {
        for frame in object.into_inner().pages.into_values() {
            frames.free(frame);
        }
    }
}
