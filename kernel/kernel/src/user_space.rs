//! User address spaces on the hardware: TTBR0 translation tables per space, tagged with an
//! ASID so that switching spaces never flushes the TLB.
//!
//! This is the machine side of what `kcore`'s mapping database decides: a [`UserSpace`] owns
//! a level 0 table and the tables below it (frames from the frame allocator, reached through
//! the linear map, built with `aarch64::page_table`), maps and unmaps single 4 KiB pages with
//! the rights it is given, and does the TLB maintenance each change needs. Policy (who may
//! map what where) is not decided here.
//!
//! - User addresses are the low half, `0 .. 2^48` (TCR_EL1.T0SZ = 16). Page 0 may be mapped:
//!   keeping null pointers unmapped is the policy of whoever builds a space (the OS server,
//!   sigma0), and some ABIs want page 0.
//! - Every user page is Normal memory, non-global (nG, tagged with the space's ASID) and
//!   accessible to EL0 as its [`Rights`] say. W^X is enforced: a page is never writable and
//!   executable. EL0-executable pages are PXN: the kernel never executes user memory.
//! - ASIDs come from one `kcore::asid::AsidAllocator` (8 or 16 bits, as
//!   ID_AA64MMFR0_EL1.ASIDBits says). [`UserSpace::activate`] loads TTBR0 with the root and
//!   the ASID in one write; only an ASID roll-over flushes the TLB.
//! - TLB maintenance: a descriptor that was invalid needs none (faulting translations are
//!   never cached), only DSB ISHST + ISB; a live descriptor that is cleared or changed is
//!   followed by TLBI VALE1IS for (ASID, VA), DSB ISH, ISB. A space that never held an ASID
//!   has no TLB entries at all.
//! - When no space is active, TTBR0 holds an empty level 0 table with ASID 0, so walks of
//!   the low half always find a table (TTBR0 walks stay enabled once the first space ran).
//! - Dropping a space switches TTBR0 away from it if it is active, frees its ASID (TLBI
//!   ASIDE1IS) and every table frame. The frames it mapped belong to whoever mapped them.
//!
//! [`copy_from_active_space`] is the one way the kernel reads user memory: it checks the
//! range against the active space's tables before touching anything, then reads the frames
//! through the linear map, never through the user address.

#![cfg_attr(
    not(feature = "ktest"),
    allow(
        dead_code,
        reason = "only the test scenarios run user code until kcore's kernel does"
    )
)]

use core::fmt;
use core::sync::atomic::{AtomicU16, AtomicU64, Ordering};

use aarch64::page_table::{
    self, Access, Attributes, BlockPolicy, Execute, Level, MapError, MemoryType, PAGE_SIZE,
    PageTable, STAGE1_TABLE_DESCRIPTOR, TableMemory,
};
use aarch64_cpu::registers::ID_AA64MMFR0_EL1;
use kcore::asid::{Activation, Asid, AsidAllocator};
use spin::Mutex;
use tock_registers::LocalRegisterCopy;
use tock_registers::interfaces::Readable;

use crate::layout::{LINEAR_MAP_LIMIT, linear};
use crate::{arch, memory};

/// One past the highest user virtual address: TTBR0 translates `0 .. 2^48`.
pub const USER_ADDRESS_LIMIT: u64 = 1 << page_table::VIRTUAL_ADDRESS_BITS;

/// What EL0 may do with a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rights {
    /// Loads.
    pub read: bool,
    /// Stores (needs `read`: aarch64 has no write-only pages).
    pub write: bool,
    /// Instruction fetches (never together with `write`).
    pub execute: bool,
}

impl Rights {
    /// Readable only.
    pub const READ_ONLY: Rights = Rights {
        read: true,
        write: false,
        execute: false,
    };
    /// Readable and writable: data, stacks.
    pub const READ_WRITE: Rights = Rights {
        read: true,
        write: true,
        execute: false,
    };
    /// Readable and executable: code.
    pub const READ_EXECUTE: Rights = Rights {
        read: true,
        write: false,
        execute: true,
    };

    /// The page-table attributes of a user page with these rights.
    fn attributes(self) -> Result<Attributes, Error> {
        let execute = if self.execute {
            Execute::User
        } else {
            Execute::Never
        };
        let access = match (self.read, self.write, self.execute) {
            (_, true, true) => return Err(Error::WritableAndExecutable),
            (true, true, false) => Access::ReadWrite,
            (true, false, _) | (false, false, true) => Access::ReadOnly,
            (false, true, false) | (false, false, false) => return Err(Error::UnsupportedRights),
        };
        Ok(Attributes {
            memory: MemoryType::Normal,
            access,
            execute,
            // Execute-only pages are mapped EL1-only for data (AP[1] = 0) and EL0-executable.
            user: self.read,
            global: false,
        })
    }

    /// The rights a user page with `attributes` gives EL0.
    fn of(attributes: Attributes) -> Rights {
        Rights {
            read: attributes.user,
            write: attributes.user && attributes.access == Access::ReadWrite,
            execute: attributes.execute == Execute::User,
        }
    }

    /// Whether every right of `other` is also one of these.
    pub fn includes(self, other: Rights) -> bool {
        (self.read || !other.read)
            && (self.write || !other.write)
            && (self.execute || !other.execute)
    }
}

impl fmt::Display for Rights {
    /// `rwx` style: `r-x`, `rw-`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let letter = |set, letter| if set { letter } else { '-' };
        write!(
            formatter,
            "{}{}{}",
            letter(self.read, 'r'),
            letter(self.write, 'w'),
            letter(self.execute, 'x')
        )
    }
}

/// Why a change to a [`UserSpace`] was refused. A refused call changed nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The virtual address is not in the user half `0 .. 2^48`.
    NotUserAddress,
    /// The virtual or physical address is not a multiple of 4 KiB.
    Misaligned,
    /// The frame lies beyond what a descriptor or the linear map can reach.
    FrameOutOfRange,
    /// Write and execute rights together: W^X.
    WritableAndExecutable,
    /// Rights aarch64 cannot express: write without read, or no rights at all (unmap
    /// instead).
    UnsupportedRights,
    /// The page is already mapped (unmap it first).
    AlreadyMapped,
    /// The page is not mapped.
    NotMapped,
    /// `protect_page` was asked for a right the page does not have: it only reduces rights.
    WouldAddRights,
    /// No frame for a translation table.
    OutOfMemory,
    /// The page-table layer refused for another reason (a bug here if it ever happens).
    Refused(MapError),
}

impl From<MapError> for Error {
    fn from(error: MapError) -> Error {
        match error {
            MapError::Misaligned => Error::Misaligned,
            MapError::AddressOutOfRange => Error::NotUserAddress,
            MapError::PhysicalAddressOutOfRange => Error::FrameOutOfRange,
            MapError::WritableAndExecutable => Error::WritableAndExecutable,
            MapError::AlreadyMapped { .. } => Error::AlreadyMapped,
            MapError::OutOfTableMemory => Error::OutOfMemory,
            other => Error::Refused(other),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotUserAddress => formatter.write_str("not a user address"),
            Error::Misaligned => formatter.write_str("address not page aligned"),
            Error::FrameOutOfRange => formatter.write_str("frame out of range"),
            Error::WritableAndExecutable => formatter.write_str("writable and executable refused"),
            Error::UnsupportedRights => formatter.write_str("rights not expressible"),
            Error::AlreadyMapped => formatter.write_str("page already mapped"),
            Error::NotMapped => formatter.write_str("page not mapped"),
            Error::WouldAddRights => formatter.write_str("protect would add rights"),
            Error::OutOfMemory => formatter.write_str("out of memory for translation tables"),
            Error::Refused(error) => write!(formatter, "page tables refused: {error}"),
        }
    }
}

/// Translation tables in frames from the frame allocator, reached through the linear map.
///
/// Only this module creates one, and only hands it, with a root this module allocated, to
/// `aarch64::page_table`, which asks only for that root and the tables its descriptors name.
struct FrameTables;

impl TableMemory for FrameTables {
    fn allocate_table(&mut self) -> Option<u64> {
        let frame = memory::with_frames(|frames| frames.allocate()).flatten()?;
        let table = linear(frame) as *mut PageTable;
        // SAFETY: the frame was just taken from the allocator, so nothing else uses it, and
        // the linear map covers all RAM read-write.
        unsafe { table.write(PageTable::new()) };
        Some(frame)
    }

    fn table(&mut self, table: u64) -> &mut PageTable {
        // SAFETY: `table` is a root or a table frame of a user space (see the type's
        // documentation): a RAM frame, 4 KiB aligned, covered read-write by the linear map.
        // A space's tables are reached only through `&mut UserSpace` or, for the active
        // space, with IRQs masked from the exception path, which never overlaps a change
        // (single CPU), so no other reference to the table is live.
        unsafe { &mut *(linear(table) as *mut PageTable) }
    }
}

/// The state shared by every space: the ASID allocator, the empty table TTBR0 holds when no
/// space is active, and which space is.
struct Shared {
    asids: Option<AsidAllocator>,
    empty_root: Option<u64>,
    walks_enabled: bool,
}

static SHARED: Mutex<Shared> = Mutex::new(Shared {
    asids: None,
    empty_root: None,
    walks_enabled: false,
});

/// The ASID allocator's current generation, for [`UserSpace::fast_switch_value`] (which runs
/// without the lock): a space's ASID is valid while its generation is this one.
pub(crate) static ASID_GENERATION: AtomicU64 = AtomicU64::new(0);

/// The ASID allocator's current generation: a space's ASID, once it has one, changes only
/// when this does (the kernel core's switch epoch). It counts roll-overs, so it never
/// reaches `u64::MAX`.
pub fn asid_generation() -> u64 {
    ASID_GENERATION.load(Ordering::Relaxed)
}

impl Shared {
    /// The user space TTBR0 holds, read from the register itself (the IPC fastpath switches
    /// TTBR0 without this module): its root and ASID, or `None` for the empty table.
    fn active(&self) -> Option<(u64, u16)> {
        let (root, asid) = arch::user::loaded_user_tables();
        (self.walks_enabled && Some(root) != self.empty_root).then_some((root, asid))
    }

    fn active_root(&self) -> Option<u64> {
        self.active().map(|(root, _)| root)
    }
}

fn with_shared<T>(body: impl FnOnce(&mut Shared) -> T) -> T {
    arch::with_interrupts_masked(|| body(&mut SHARED.lock()))
}

/// The highest ASID handed out (test images: `ktest.asids=N`, to force roll-overs).
static ASID_LIMIT: AtomicU16 = AtomicU16::new(u16::MAX);

/// Test images: hand out only ASIDs 1..=`limit` (at least 2), so that a few address spaces
/// roll the ASIDs over again and again. Must come before the first address space is made.
#[cfg_attr(
    not(feature = "ktest"),
    allow(dead_code, reason = "only test images limit the ASIDs")
)]
pub fn limit_asids(limit: u16) {
    ASID_LIMIT.store(limit, Ordering::Relaxed);
}

fn new_asid_allocator() -> AsidAllocator {
    AsidAllocator::with_limit(asid_bits(), ASID_LIMIT.load(Ordering::Relaxed))
}

/// The ASID width the CPU implements (ID_AA64MMFR0_EL1.ASIDBits).
pub fn asid_bits() -> u8 {
    match ID_AA64MMFR0_EL1.read_as_enum(ID_AA64MMFR0_EL1::ASIDBits) {
        Some(ID_AA64MMFR0_EL1::ASIDBits::Value::Bits_16) => 16,
        _ => 8,
    }
}

/// Set up what every space shares: the ASID allocator and the empty level 0 table. Done by
/// the first [`UserSpace::new`] if not before; calling it early keeps that first space's
/// allocations (a frame, the allocator's bitmap on the heap) out of later measurements.
pub fn initialise() -> Result<(), Error> {
    with_shared(|shared| {
        if shared.empty_root.is_none() {
            shared.empty_root = Some(FrameTables.allocate_table().ok_or(Error::OutOfMemory)?);
        }
        if shared.asids.is_none() {
            shared.asids = Some(new_asid_allocator());
        }
        Ok(())
    })
}

/// A user address space: its level 0 table and, once it ran, its ASID.
#[derive(Debug)]
pub struct UserSpace {
    /// Physical address of the TTBR0 level 0 table.
    root: u64,
    /// The ASID from the last activation (perhaps of an older generation).
    asid: Option<Asid>,
}

impl UserSpace {
    /// An empty address space; None when no frame is left for its root table.
    pub fn new() -> Option<UserSpace> {
        initialise().ok()?;
        let root = FrameTables.allocate_table()?;
        Some(UserSpace { root, asid: None })
    }

    /// Physical address of the level 0 table.
    pub fn root(&self) -> u64 {
        self.root
    }

    /// The ASID of the last activation, if the space ran.
    pub fn asid(&self) -> Option<Asid> {
        self.asid
    }

    /// Map the 4 KiB frame at physical address `frame` at user address `virt` with
    /// `rights`, taking table frames from the frame allocator as needed.
    ///
    /// # Errors
    /// [`Error::NotUserAddress`], [`Error::Misaligned`], [`Error::FrameOutOfRange`],
    /// [`Error::WritableAndExecutable`], [`Error::UnsupportedRights`],
    /// [`Error::AlreadyMapped`], [`Error::OutOfMemory`]; nothing was mapped.
    ///
    /// # Safety
    /// `frame` must be a RAM frame that the kernel keeps for this purpose while it is mapped
    /// (taken from the frame allocator for user memory, not kernel data, tables or the
    /// image): EL0 can read it, and with `write` change it at any time.
    pub unsafe fn map_page(&mut self, virt: u64, frame: u64, rights: Rights) -> Result<(), Error> {
        // SAFETY: passed on from the caller.
        unsafe { self.map_page_as(virt, frame, rights, MemoryType::Normal) }
    }

    /// [`map_page`](Self::map_page) for device registers: Device-nGnRE memory (never
    /// cached, never executable: an executable request is refused).
    ///
    /// # Safety
    /// `frame` must be device MMIO the kernel does not drive itself.
    pub unsafe fn map_device_page(
        &mut self,
        virt: u64,
        frame: u64,
        rights: Rights,
    ) -> Result<(), Error> {
        // SAFETY: passed on from the caller.
        unsafe { self.map_page_as(virt, frame, rights, MemoryType::Device) }
    }

    /// # Safety
    /// As for [`map_page`](Self::map_page) or [`map_device_page`](Self::map_device_page).
    unsafe fn map_page_as(
        &mut self,
        virt: u64,
        frame: u64,
        rights: Rights,
        memory: MemoryType,
    ) -> Result<(), Error> {
        let attributes = Attributes {
            memory,
            ..rights.attributes()?
        };
        check_user_page(virt)?;
        if !frame.is_multiple_of(PAGE_SIZE) {
            return Err(Error::Misaligned);
        }
        if frame >= LINEAR_MAP_LIMIT {
            return Err(Error::FrameOutOfRange);
        }
        page_table::map(
            self.root,
            &mut FrameTables,
            virt,
            frame,
            PAGE_SIZE,
            attributes,
            BlockPolicy::PagesOnly,
        )?;
        // The descriptor was invalid, so no TLB holds it: publishing the write is enough.
        arch::user::publish_table_writes();
        Ok(())
    }

    /// Unmap the page at user address `virt`; returns the frame it mapped.
    ///
    /// # Errors
    /// [`Error::NotUserAddress`], [`Error::Misaligned`], [`Error::NotMapped`].
    pub fn unmap_page(&mut self, virt: u64) -> Result<u64, Error> {
        check_user_page(virt)?;
        let (frame, _) = self.lookup(virt).ok_or(Error::NotMapped)?;
        page_table::unmap(self.root, &mut FrameTables, virt, PAGE_SIZE)?;
        self.invalidate(virt);
        Ok(frame)
    }

    /// Reduce the rights of the page at user address `virt` to `rights` (which must not add
    /// any). Break-before-make: the descriptor is cleared and its TLB entries dropped
    /// before the new one is written, so no CPU ever holds both.
    ///
    /// # Errors
    /// [`Error::NotUserAddress`], [`Error::Misaligned`], [`Error::NotMapped`],
    /// [`Error::WouldAddRights`], [`Error::UnsupportedRights`] (for no rights at all: unmap
    /// instead); nothing was changed.
    pub fn protect_page(&mut self, virt: u64, rights: Rights) -> Result<(), Error> {
        check_user_page(virt)?;
        let translation =
            page_table::translate(self.root, &mut FrameTables, virt).ok_or(Error::NotMapped)?;
        let current = Rights::of(translation.attributes);
        rights.attributes()?;
        if !current.includes(rights) {
            return Err(Error::WouldAddRights);
        }
        if current == rights {
            return Ok(());
        }
        page_table::unmap(self.root, &mut FrameTables, virt, PAGE_SIZE)?;
        self.invalidate(virt);
        // The tables down to the page exist (the page was mapped a moment ago) and the
        // request was checked above, so this write allocates nothing and cannot fail.
        // SAFETY: the same frame as before, with fewer rights and its memory type unchanged
        // (device registers stay device memory, RAM stays RAM): the caller of the original
        // mapping vouched for it.
        unsafe {
            self.map_page_as(
                virt,
                translation.unit_phys_base(),
                rights,
                translation.attributes.memory,
            )
        }
    }

    /// The frame mapped at user address `virt` and EL0's rights on it, as the tables say.
    pub fn lookup(&mut self, virt: u64) -> Option<(u64, Rights)> {
        if virt >= USER_ADDRESS_LIMIT {
            return None;
        }
        let translation = page_table::translate(self.root, &mut FrameTables, virt)?;
        Some((
            translation.unit_phys_base(),
            Rights::of(translation.attributes),
        ))
    }

    /// Make this the space EL0 runs in: get a valid ASID (flushing the whole TLB only when
    /// the ASIDs rolled over) and load TTBR0_EL1 with the root and the ASID. Switching to a
    /// space whose ASID is still valid flushes nothing. Returns what the allocator decided.
    pub fn activate(&mut self) -> Activation {
        // The common case: TTBR0 already holds this space under an ASID of the current
        // generation (the same thread runs on, or the IPC fastpath switched here). Nothing to
        // load, and nothing for the allocator: it learns what TTBR0 holds from the register
        // the next time it runs (below), before any roll-over.
        if let Some(asid) = self.asid
            && asid.generation == ASID_GENERATION.load(Ordering::Relaxed)
            && arch::user::loaded_user_tables() == (self.root, asid.value)
        {
            return Activation::Valid(asid.value);
        }
        with_shared(|shared| {
            let running = shared.active().map(|(_, value)| value);
            let asids = shared.asids.get_or_insert_with(new_asid_allocator);
            // Whatever TTBR0 holds was loaded with an ASID of the current generation (a
            // roll-over happens only here, and loads the new space right after).
            let generation = asids.generation();
            asids.note_active(running.map(|value| Asid { value, generation }));
            let activation = asids.activate(&mut self.asid);
            ASID_GENERATION.store(asids.generation(), Ordering::Relaxed);
            if activation.needs_full_flush() {
                arch::user::invalidate_all_local();
            }
            // SAFETY: the root is this space's level 0 table, whose descriptors only this
            // module writes (tables and user pages of RAM); it stays a table until `drop`,
            // which switches TTBR0 away before freeing it. The allocator hands out only ASIDs
            // without TLB entries (flushed above on a roll-over).
            unsafe { arch::user::load_user_tables(self.root, activation.value()) };
            if !shared.walks_enabled {
                arch::user::enable_user_table_walks();
                shared.walks_enabled = true;
            }
            activation
        })
    }

    /// What the IPC fastpath loads into TTBR0_EL1 to switch to this space (root and ASID in
    /// one value, as [`activate`](Self::activate) writes them), if the space holds an ASID of
    /// the current generation; `None` when only `activate` can switch to it.
    pub fn fast_switch_value(&self) -> Option<u64> {
        let asid = self.asid?;
        (asid.generation == ASID_GENERATION.load(Ordering::Relaxed))
            .then_some((u64::from(asid.value) << 48) | self.root)
    }

    /// Whether this is the space TTBR0 holds.
    pub fn is_active(&self) -> bool {
        with_shared(|shared| shared.active_root() == Some(self.root))
    }

    /// Drop the TLB entries of `virt` after its descriptor was cleared. Without an ASID the
    /// space never ran and nothing is cached; with a stale one the roll-over flushed its
    /// entries, and invalidating a number now used by another space costs only refills.
    fn invalidate(&self, virt: u64) {
        match self.asid {
            Some(asid) => arch::user::invalidate_user_page(asid.value, virt),
            None => arch::user::publish_table_writes(),
        }
    }

    /// Delete the space: the same as dropping it.
    pub fn destroy(self) {
        drop(self);
    }
}

impl Drop for UserSpace {
    /// Switch TTBR0 to the empty table if this space is active, free the ASID (dropping its
    /// TLB entries), then free every table frame.
    fn drop(&mut self) {
        with_shared(|shared| {
            if shared.active_root() == Some(self.root)
                && let Some(empty_root) = shared.empty_root
            {
                // SAFETY: the empty root is a zeroed level 0 table that is never freed or
                // written; ASID 0 is never handed out, so no entries are tagged with it
                // (walks of an empty table cache nothing).
                unsafe { arch::user::load_user_tables(empty_root, 0) };
            }
            if let (Some(asid), Some(asids)) = (self.asid.take(), shared.asids.as_mut())
                && let Some(value) = asids.release(asid)
            {
                arch::user::invalidate_asid(value);
            }
        });
        free_tables(self.root, Level::Zero);
    }
}

/// Free the table at `table` (of `level`) and every table below it. Level 3 tables hold
/// only page descriptors; the frames they map are not the space's to free.
fn free_tables(table: u64, level: Level) {
    if let Some(next) = level.next() {
        for index in 0..page_table::ENTRIES_PER_TABLE {
            let descriptor = LocalRegisterCopy::<u64, STAGE1_TABLE_DESCRIPTOR::Register>::new(
                FrameTables.table(table).entries[index],
            );
            if descriptor.is_set(STAGE1_TABLE_DESCRIPTOR::VALID)
                && descriptor.matches_all(STAGE1_TABLE_DESCRIPTOR::TYPE::Table)
            {
                let below =
                    descriptor.read(STAGE1_TABLE_DESCRIPTOR::NEXT_LEVEL_TABLE_ADDRESS) * PAGE_SIZE;
                free_tables(below, next);
            }
        }
    }
    match memory::with_frames(|frames| frames.free(table)) {
        Some(Ok(())) => {}
        _ => log::error!("user space: table frame {table:#x} could not be freed"),
    }
}

/// Refuse an address that is not a page of the user half.
fn check_user_page(virt: u64) -> Result<(), Error> {
    if virt >= USER_ADDRESS_LIMIT {
        return Err(Error::NotUserAddress);
    }
    if !virt.is_multiple_of(PAGE_SIZE) {
        return Err(Error::Misaligned);
    }
    Ok(())
}

/// Why [`copy_from_active_space`] refused a user buffer. Nothing was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferError {
    /// No user space is active.
    NoActiveSpace,
    /// The buffer does not lie within the user half `0 .. 2^48`.
    OutsideUserHalf,
    /// The page holding `address` is not mapped readable for EL0.
    NotReadable {
        /// The first address of the buffer that EL0 could not read.
        address: u64,
    },
}

impl fmt::Display for BufferError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BufferError::NoActiveSpace => formatter.write_str("no user space is active"),
            BufferError::OutsideUserHalf => formatter.write_str("not within the user half"),
            BufferError::NotReadable { address } => {
                write!(formatter, "{address:#x} is not mapped readable for EL0")
            }
        }
    }
}

/// Copy `buffer.len()` bytes from user address `address` of the active space into
/// `buffer`. Every page of the range is checked first (mapped, readable by EL0, Normal
/// memory); only then are the frames read, through the linear map. The user address itself
/// is never dereferenced, so a bad buffer can never fault the kernel.
pub fn copy_from_active_space(address: u64, buffer: &mut [u8]) -> Result<(), BufferError> {
    let root = with_shared(|shared| shared.active_root()).ok_or(BufferError::NoActiveSpace)?;
    let end = address
        .checked_add(buffer.len() as u64)
        .filter(|end| *end <= USER_ADDRESS_LIMIT)
        .ok_or(BufferError::OutsideUserHalf)?;
    let readable_frame = |virt: u64| {
        page_table::translate(root, &mut FrameTables, virt)
            .filter(|translation| {
                translation.attributes.user
                    && translation.attributes.memory == MemoryType::Normal
                    && translation.phys < LINEAR_MAP_LIMIT
            })
            .map(|translation| translation.phys)
            .ok_or(BufferError::NotReadable { address: virt })
    };
    // Decode fully: every page of the range must be readable before anything is read.
    let mut page = address & !(PAGE_SIZE - 1);
    while page < end {
        readable_frame(page.max(address))?;
        page += PAGE_SIZE;
    }
    let mut copied = 0;
    while copied < buffer.len() {
        let virt = address + copied as u64;
        let physical = readable_frame(virt)?;
        let in_page = ((PAGE_SIZE - virt % PAGE_SIZE) as usize).min(buffer.len() - copied);
        for (offset, byte) in buffer[copied..copied + in_page].iter_mut().enumerate() {
            let source = (linear(physical) + offset as u64) as *const u8;
            // SAFETY: `physical .. physical + in_page` lies in one page that the active
            // space maps EL0-readable as Normal memory, so it is RAM (map_page's contract)
            // that the linear map covers; the read is volatile because EL0 owns the bytes.
            *byte = unsafe { source.read_volatile() };
        }
        copied += in_page;
    }
    Ok(())
}
