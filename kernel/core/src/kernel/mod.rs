//! The kernel proper: tasks, threads and the events that change them, over a [`Machine`].
//!
//! Every kernel entry is one event handled to completion (docs/design/kernel-core.md): the EL1
//! glue saves the current thread's registers into its [`Thread::context`], calls one of
//! [`Kernel::kernel_call`], [`Kernel::page_fault`], [`Kernel::exception`],
//! [`Kernel::interrupt`] or [`Kernel::timer_tick`], and then resumes [`Kernel::current`] from
//! its context. Blocking is only a state; nothing here keeps a kernel stack.
//!
//! The [`Machine`] hides what needs hardware: address spaces (page tables), access to user
//! memory (UTCBs and string items), and interrupt masking. The host tests drive this module
//! through a fake machine with real semantics, so the IPC logic that runs at EL1 is the logic
//! the tests exercise.
//!
//! User input is an allegation: every call is decoded fully (with the `abi` decoders) before
//! anything changes, and no value that came from user space is used to index or to do
//! unchecked arithmetic.

mod calls;
// Addresses TCBs directly (see the crate documentation).
#[allow(unsafe_code)]
mod fastpath;
mod ipc;
mod task_table;
#[cfg(test)]
mod tests;
// Owns TCBs at fixed addresses (see the crate documentation).
#[allow(unsafe_code)]
mod thread_table;

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use abi::thread_id::ThreadId;

use crate::mapdb::{self, Frame, MappingDatabase, Page, Rights, SpaceId};
use crate::scheduler::Scheduler;
use crate::timeouts::Timeouts;

pub use calls::Access;
pub use fastpath::{FastSwitch, FastpathLayout, SLOW_TAG_BITS};
pub use ipc::{KernelMessage, ReplyKind};
use task_table::TaskTable;
use thread_table::ThreadTable;

/// Index of a thread control block in the kernel's thread table. `repr(transparent)`: the
/// fastpath's asm stores it as a `u32` (`FastpathLayout`).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ThreadSlot(u32);

impl ThreadSlot {
    fn index(self) -> usize {
        self.0 as usize
    }
}

/// A thread's user registers as the trap path saved them. `repr(C)`: the EL1 glue saves
/// into and restores from here directly (x0..x30, SP, PC, PSTATE, TLS in this order), and
/// 16-byte aligned because the kernel's stack pointer points at it while the thread runs.
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct UserContext {
    /// x0..x30.
    pub x: [u64; 31],
    /// SP_EL0.
    pub sp: u64,
    /// The address execution resumes at (ELR_EL1).
    pub pc: u64,
    /// The saved PSTATE (SPSR_EL1).
    pub pstate: u64,
    /// TPIDR_EL0, the thread's own TLS pointer (musl keeps its thread pointer there).
    pub tls: u64,
}

/// A thread's FP/SIMD registers (Q0..Q31, FPSR, FPCR), kept while another thread owns the
/// FP unit. The EL1 glue switches them lazily: a thread's first FP instruction after another
/// thread used the unit traps, and only then are the registers exchanged.
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FpRegisters {
    /// Q0..Q31.
    pub q: [u128; 32],
    /// FPSR.
    pub fpsr: u64,
    /// FPCR.
    pub fpcr: u64,
}

impl FpRegisters {
    /// The state a new thread starts with: all zero (FPCR 0: round to nearest, no traps).
    pub const ZERO: FpRegisters = FpRegisters {
        q: [0; 32],
        fpsr: 0,
        fpcr: 0,
    };
}

/// A user memory access the machine could not perform: the page is not mapped with the
/// needed right in that address space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserFault {
    /// The first address that failed.
    pub address: u64,
}

/// What the kernel needs from the hardware. The EL1 binary implements it with page tables and
/// the GIC; tests implement it with maps.
pub trait Machine {
    /// One address space (the EL1 binary: a TTBR0 root and an ASID).
    type Space;

    /// A new, empty address space; `None` when out of memory.
    fn create_space(&mut self) -> Option<Self::Space>;
    /// Release an address space and every table and kernel-owned page (UTCBs) it holds.
    fn destroy_space(&mut self, space: Self::Space);
    /// Map the kernel interface page (one frame the kernel filled at boot, shared by every
    /// task) read-only at `page`; `OutOfMemory` also when the machine has none (test images
    /// that skip the normal boot).
    fn map_kernel_interface_page(
        &mut self,
        space: &mut Self::Space,
        page: Page,
    ) -> Result<(), mapdb::OutOfMemory>;
    /// Back the page at `page` with a zeroed kernel-owned frame, user read-write: UTCBs.
    fn provide_kernel_page(
        &mut self,
        space: &mut Self::Space,
        page: Page,
    ) -> Result<(), mapdb::OutOfMemory>;
    /// Install `page -> frame` with `rights` (replacing what was there).
    fn install(
        &mut self,
        space: &mut Self::Space,
        page: Page,
        frame: Frame,
        rights: Rights,
    ) -> Result<(), mapdb::OutOfMemory>;
    /// Reduce the rights of an installed page.
    fn protect(&mut self, space: &mut Self::Space, page: Page, rights: Rights);
    /// Remove an installed page (with TLB maintenance).
    fn remove(&mut self, space: &mut Self::Space, page: Page);
    /// Read user memory as the thread would (needs user read permission).
    fn read_user(
        &mut self,
        space: &mut Self::Space,
        address: u64,
        bytes: &mut [u8],
    ) -> Result<(), UserFault>;
    /// Write user memory as the thread would (needs user write permission).
    fn write_user(
        &mut self,
        space: &mut Self::Space,
        address: u64,
        bytes: &[u8],
    ) -> Result<(), UserFault>;
    /// Mask or unmask an interrupt line at the interrupt controller.
    fn set_interrupt_masked(&mut self, line: u16, masked: bool);
    /// What sigma0 may have at physical address `address`, mapped 1:1: the frame and the
    /// rights of its root mapping, or `None` if the address is not memory the kernel gave it.
    fn sigma0_memory(&mut self, address: u64) -> Option<(Frame, Rights)>;
    /// kernel_debug_write: show `text` from `thread` on the kernel console.
    fn debug_write(&mut self, thread: ThreadId, text: &[u8]);
    /// For the IPC fastpath: the value that makes `space` the active address space with no
    /// further work (the EL1 binary: TTBR0_EL1 with the space's root and its ASID), or `None`
    /// if switching to it needs more (the EL1 binary: the space has no current ASID, because
    /// it never ran or a roll-over retired it). The fastpath then leaves the ipc to the
    /// general path, after which the glue activates the space in full.
    fn fast_switch_value(&self, space: &Self::Space) -> Option<u64>;
    /// The epoch of [`fast_switch_value`](Self::fast_switch_value)'s answers: a value that
    /// changes whenever an answer that was `Some` may change (the EL1 binary: the ASID
    /// generation, bumped at a roll-over). The fastpath keeps a thread's switch value and
    /// reuses it while the epoch stays the same. Never `u64::MAX`.
    fn switch_epoch(&self) -> u64;
    /// system_power_off: turn the machine off (the EL1 binary: PSCI SYSTEM_OFF, which does
    /// not return).
    fn power_off(&mut self);
}

/// What a thread is doing.
///
/// `repr(u8)` with fixed discriminants: the layout is defined (a `u8` tag, then the
/// variant's fields as in a `repr(C)` struct), because the fastpath's asm writes `Ready` and
/// `Receiving` (`FastpathLayout`).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadState {
    /// Exists but has never been started (no instruction pointer yet).
    Inactive = 0,
    /// Runnable: running, or waiting for the CPU.
    Ready = 1,
    /// Blocked in the send phase of an ipc to `to`, queued in `to`'s send queue.
    Sending {
        /// The destination.
        to: ThreadSlot,
    } = 2,
    /// Blocked in the receive phase of an ipc.
    Receiving {
        /// Whom it accepts a message from.
        from: ReceiveFrom,
    } = 3,
    /// Stopped by the kernel (a fault with no pager or handler) or by lthread_ex_regs.
    Halted = 4,
}

/// Whom a receiving thread accepts a message from. `repr(u8)`, as [`ThreadState`].
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiveFrom {
    /// Any thread, and any interrupt attached to the receiver.
    Any = 0,
    /// Only this thread.
    Thread(ThreadSlot) = 1,
    /// Only this interrupt line.
    Interrupt(u16) = 2,
}

/// A thread control block.
///
/// `repr(C)`, its registers first: while the thread runs at EL0, SP_EL1 points at
/// `context`, which is then also the TCB's address, and the fastpath's asm reads and writes
/// the fields `FastpathLayout` names at their offsets.
#[repr(C)]
#[derive(Debug)]
pub struct Thread {
    /// Registers, saved while not running.
    pub context: UserContext,
    /// Its ID (task, thread, version).
    pub id: ThreadId,
    /// Whom the fastpath may deliver to it: the ID of the thread it waits for, `ANY` in an
    /// open wait, nil when it is not in a receive the fastpath can complete (not receiving,
    /// a timeout armed, or waiting for the reply to a kernel-composed message). Refreshed
    /// whenever it blocks or wakes.
    ///
    /// This and the fields up to `timeout_armed` are what the fastpath's asm reads or
    /// writes, kept right after the registers so that it reaches them with short offsets.
    /// Those marked "copy" are kept for the fastpath so that it decides without a map
    /// look-up; `check_invariants` compares each with its source of truth.
    fast_sender: u64,
    /// The machine's fast switch value of its address space, remembered by the fastpath (a
    /// cache: valid only in the epoch it was taken in).
    switch: fastpath::SwitchCache,
    /// What it is doing (8-byte aligned: the asm stores 8 bytes of it at once).
    pub state: ThreadState,
    /// Its own slot (fixed).
    slot: ThreadSlot,
    /// Copy: how many threads wait in `send_queue`.
    queued_senders: u32,
    /// Copy: how many interrupt lines are attached to it (next to `queued_senders`: the asm
    /// reads both with one load).
    attached_interrupts: u32,
    /// Copy: the slot of its task in the task table.
    task_slot: u32,
    /// Copy: its task's chief (fixed when the task is created).
    clan_chief: u16,
    /// Copy: its priority (the scheduler's).
    priority: u8,
    /// Copy: whether a timeout is armed for it (the timeout list's).
    timeout_armed: bool,
    /// User address of its UTCB.
    pub utcb: u64,
    /// Receives its page faults.
    pub pager: ThreadId,
    /// Receives its exceptions.
    pub exception_handler: ThreadId,
    /// May set its priority and time slice.
    pub scheduler: ThreadId,
    /// Threads blocked sending to this one, first come first served.
    send_queue: VecDeque<ThreadSlot>,
    /// While `Sending`: the receive phase to enter once the send completes.
    pending_receive: Option<(ReceiveFrom, abi::timeout::Timeout)>,
    /// A message the kernel composed on this thread's behalf (page fault, exception), sent
    /// instead of its registers, and how to take the reply.
    kernel_message: Option<KernelMessage>,
    /// While it sends a propagated message (flag P): the thread it sends in the name of
    /// (checked when the ipc began), whom the receiver sees and a closed wait matches.
    propagated_as: Option<ThreadId>,
    /// Its FP/SIMD registers while another thread owns the FP unit (`None`: never saved,
    /// all zero).
    pub fp: Option<alloc::boxed::Box<FpRegisters>>,
}

impl Thread {
    /// Whether a message from this thread to `receiver` is direct under the clan rules (one
    /// task, siblings, parent, child), decided from the chiefs both TCBs keep: intra-clan
    /// IPC pays these compares and no look-up.
    fn in_one_clan_with(&self, receiver: &Thread) -> bool {
        let (from, to) = (self.id.task(), receiver.id.task());
        self.clan_chief == receiver.clan_chief
            || from == to
            || receiver.clan_chief == from
            || self.clan_chief == to
    }

    /// A new thread `id` in `slot`, inactive, with its UTCB at `utcb`, no pager, exception
    /// handler or scheduler, the default priority, and its task's slot and chief still 0
    /// (the creator fills them in).
    fn new(id: ThreadId, slot: ThreadSlot, utcb: u64) -> Self {
        Self {
            id,
            context: UserContext::default(),
            state: ThreadState::Inactive,
            pager: ThreadId::NIL,
            exception_handler: ThreadId::NIL,
            scheduler: ThreadId::NIL,
            utcb,
            send_queue: VecDeque::new(),
            pending_receive: None,
            kernel_message: None,
            task_slot: 0,
            queued_senders: 0,
            clan_chief: 0,
            priority: DEFAULT_PRIORITY,
            timeout_armed: false,
            attached_interrupts: 0,
            fast_sender: ThreadId::NIL.raw(),
            slot,
            switch: fastpath::SwitchCache::EMPTY,
            propagated_as: None,
            fp: None,
        }
    }
}

/// A task: an address space and its threads.
#[derive(Debug)]
pub struct Task<S> {
    /// The address space.
    pub space: S,
    /// The task whose chief this task's creator was: messages leaving the clan go there.
    pub chief: u16,
    /// Threads by thread number.
    threads: BTreeMap<u16, ThreadSlot>,
    /// Where the UTCB area starts (thread n's UTCB at `utcb_base + n * UTCB_SIZE`).
    pub utcb_base: u64,
    /// The UTCB area's size: it bounds the thread numbers the task may have, and no map
    /// item may land in it.
    pub utcb_size: u64,
    /// Where the kernel interface page is mapped (no map item may land on it), if anywhere.
    pub kernel_interface_page: Option<u64>,
    /// The highest priority this task may give threads (thread_schedule, task_new).
    pub maximum_priority: u8,
    /// This incarnation's version, shared by all its threads' IDs.
    pub version: u32,
}

/// An interrupt line as the kernel tracks it.
#[derive(Clone, Copy, Debug, Default)]
struct InterruptLine {
    /// The thread attached to it.
    owner: Option<ThreadSlot>,
    /// Fired and not yet delivered.
    pending: bool,
}

/// Why the kernel could not create a task or thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateError {
    /// The ID is nil, an interrupt, or out of range.
    InvalidId,
    /// Already exists.
    Exists,
    /// The owning task does not exist.
    NoSuchTask,
    /// The machine or the kernel heap is out of memory.
    OutOfMemory,
}

/// Something the kernel noticed that an operator should know about: logged once by the glue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A thread faulted and has no pager or exception handler to take it: halted.
    HaltedWithoutHandler {
        /// The thread.
        thread: ThreadId,
        /// The faulting instruction.
        pc: u64,
    },
    /// An interrupt fired with nobody attached: left masked.
    UnclaimedInterrupt {
        /// The line.
        line: u16,
    },
}

/// The `current_slot` of no thread.
const NO_SLOT: u32 = u32::MAX;

/// Ticks per second of the kernel's timer (the glue passes the real value).
pub const DEFAULT_TICKS_PER_SECOND: u64 = 100;

/// The priority a new thread starts with (L4's default).
pub const DEFAULT_PRIORITY: u8 = 100;

/// Default time slice: 10 ms.
pub const DEFAULT_TIME_SLICE_MICROSECONDS: u64 = 10_000;

/// The kernel.
pub struct Kernel<M: Machine> {
    /// The hardware.
    pub machine: M,
    threads: ThreadTable,
    tasks: TaskTable<M::Space>,
    /// Last incarnation version per task number: every thread of a task carries its task's
    /// version, and a re-created task gets the next one, so stale IDs are refused.
    versions: BTreeMap<u16, u32>,
    scheduler: Scheduler<ThreadSlot>,
    timeouts: Timeouts<ThreadSlot>,
    mapdb: MappingDatabase,
    interrupts: BTreeMap<u16, InterruptLine>,
    /// Who may create each inactive task number (set when a task is deleted or handed over);
    inactive_owners: BTreeMap<u16, u16>,
    /// and who owns the numbers never used (the root task, once the glue says so; before,
    /// any task may create them).
    unused_numbers_owner: Option<u16>,
    /// The running thread (or the one to run next): its TCB's address and its slot
    /// ([`NO_SLOT`] for none). Two fields rather than an `Option<ThreadSlot>` because the
    /// fastpath's asm writes them (`FastpathLayout`); `set_current` keeps them together.
    current_tcb: Option<thread_table::TcbAddress>,
    current_slot: u32,
    /// The words of the message in flight (see `ipc::transfer`), kept between transfers.
    message_buffer: Option<alloc::boxed::Box<[u64; ipc::MESSAGE_WORDS]>>,
    /// The fastpath's thread look-up: a direct-mapped cache from thread IDs to slots.
    fast_ids: fastpath::IdCache,
    /// The thread whose FP/SIMD registers are in the FP unit (the glue switches lazily), and
    /// its TCB's address, which the fastpath's asm compares with the receiver's.
    fp_owner: Option<ThreadSlot>,
    fp_owner_tcb: Option<thread_table::TcbAddress>,
    now: u64,
    ticks_per_second: u64,
    notices: VecDeque<Notice>,
}

impl<M: Machine> core::fmt::Debug for Kernel<M> {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter
            .debug_struct("Kernel")
            .field("threads", &self.threads.iter().count())
            .field("tasks", &self.tasks.len())
            .field("current", &self.current())
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// Size of one UTCB in the UTCB area.
pub const UTCB_SIZE: u64 = abi::utcb::Utcb::SIZE as u64;

/// Size of a task's UTCB area: one UTCB per possible thread number.
pub const UTCB_AREA_SIZE: u64 = UTCB_SIZE * (ThreadId::MAX_THREAD as u64 + 1);

const PAGE_SIZE: u64 = 4096;

impl<M: Machine> Kernel<M> {
    /// A kernel with no tasks, on `machine`, whose timer ticks `ticks_per_second` times a second.
    pub fn new(machine: M, ticks_per_second: u64) -> Self {
        Self {
            machine,
            threads: ThreadTable::new(),
            tasks: TaskTable::new(),
            versions: BTreeMap::new(),
            scheduler: Scheduler::new(),
            timeouts: Timeouts::new(),
            mapdb: MappingDatabase::new(),
            interrupts: BTreeMap::new(),
            inactive_owners: BTreeMap::new(),
            unused_numbers_owner: None,
            current_tcb: None,
            current_slot: NO_SLOT,
            message_buffer: None,
            fast_ids: fastpath::IdCache::new(),
            fp_owner: None,
            fp_owner_tcb: None,
            now: 0,
            ticks_per_second: ticks_per_second.max(1),
            notices: VecDeque::new(),
        }
    }

    /// The thread to resume (None: idle).
    pub fn current(&self) -> Option<ThreadSlot> {
        (self.current_slot != NO_SLOT).then_some(ThreadSlot(self.current_slot))
    }

    /// A thread by slot.
    pub fn thread(&self, slot: ThreadSlot) -> Option<&Thread> {
        self.threads.get(slot)
    }

    /// A thread by slot, mutably (the glue saves and restores contexts through this).
    pub fn thread_mut(&mut self, slot: ThreadSlot) -> Option<&mut Thread> {
        self.threads.get_mut(slot)
    }

    /// V2's ownership of task numbers: from now on every task number that was never used
    /// belongs to task `owner` (the root task, at boot). Only the owner of an inactive number
    /// may create a task with it or hand it to another task; deleting a task makes the
    /// deleter the owner of its number. Until this is called, any task may use a number that
    /// was never used (test images that start without a root task).
    pub fn give_unused_task_numbers_to(&mut self, owner: u16) {
        self.unused_numbers_owner = Some(owner);
    }

    /// Who owns inactive task number `task`: `None` if anyone may use it.
    fn owner_of_inactive(&self, task: u16) -> Option<u16> {
        self.inactive_owners
            .get(&task)
            .copied()
            .or(self.unused_numbers_owner)
    }

    /// Make `current` the thread to resume.
    fn set_current(&mut self, current: Option<ThreadSlot>) {
        self.current_tcb = current.and_then(|slot| self.threads.pointer(slot));
        self.current_slot = match self.current_tcb {
            Some(_) => current.map_or(NO_SLOT, |slot| slot.0),
            None => NO_SLOT,
        };
    }

    /// The thread whose FP/SIMD registers the FP unit holds, if it still exists.
    pub fn fp_owner(&self) -> Option<ThreadSlot> {
        self.fp_owner
    }

    /// Record that the FP unit now holds `owner`'s registers (the glue has switched them).
    pub fn set_fp_owner(&mut self, owner: Option<ThreadSlot>) {
        self.fp_owner_tcb = owner.and_then(|slot| self.threads.pointer(slot));
        self.fp_owner = owner.filter(|_| self.fp_owner_tcb.is_some());
    }

    /// The address space of a thread's task.
    pub fn space_of(&self, slot: ThreadSlot) -> Option<&M::Space> {
        let task = self.thread(slot)?.id.task();
        self.tasks.get(&task).map(|task| &task.space)
    }

    /// The address space of a thread's task, mutably (the glue activates it to run the thread,
    /// and puts the boot programs' pages into it).
    pub fn space_mut(&mut self, slot: ThreadSlot) -> Option<&mut M::Space> {
        let task = self.thread(slot)?.id.task();
        self.tasks.get_mut(&task).map(|task| &mut task.space)
    }

    /// The address space of task `task`, mutably.
    pub fn task_space_mut(&mut self, task: u16) -> Option<&mut M::Space> {
        self.tasks.get_mut(&task).map(|task| &mut task.space)
    }

    /// Whether nothing can ever run again: no thread running or ready, no timeout armed, no
    /// interrupt handler waiting for its interrupt (a test image ends its run then).
    pub fn is_quiescent(&self) -> bool {
        let ready = self
            .threads
            .iter()
            .any(|(_, thread)| thread.state == ThreadState::Ready);
        // An interrupt can wake only a handler that is waiting in a receive.
        let wakeable = self
            .interrupts
            .values()
            .filter_map(|line| line.owner)
            .any(|owner| {
                matches!(
                    self.thread(owner).map(|thread| thread.state),
                    Some(ThreadState::Receiving { .. })
                )
            });
        !ready && self.timeouts.is_empty() && !wakeable
    }

    /// The next notice for the log, if any.
    pub fn take_notice(&mut self) -> Option<Notice> {
        self.notices.pop_front()
    }

    /// The slot of the thread `id` names, if it exists with that exact version.
    pub fn lookup(&self, id: ThreadId) -> Option<ThreadSlot> {
        if !id.is_user_thread() {
            return None;
        }
        if let Some(slot) = self.cached_slot(id) {
            return Some(slot);
        }
        let slot = *self.tasks.get(&id.task())?.threads.get(&id.thread())?;
        (self.thread(slot)?.id == id).then_some(slot)
    }

    /// Create a task with an empty address space and the UTCB area `[utcb_base, utcb_base +
    /// utcb_size)` (at most [`UTCB_AREA_SIZE`]: room for every thread number). Used at boot for
    /// sigma0 and the root task, and by task_new.
    pub fn create_task(
        &mut self,
        task: u16,
        chief: u16,
        utcb_base: u64,
        utcb_size: u64,
    ) -> Result<(), CreateError> {
        if task == ThreadId::KERNEL_TASK
            || !utcb_base.is_multiple_of(PAGE_SIZE)
            || utcb_size < UTCB_SIZE
            || utcb_base.checked_add(utcb_size).is_none()
        {
            return Err(CreateError::InvalidId);
        }
        let utcb_size = utcb_size.min(UTCB_AREA_SIZE);
        if self.tasks.contains_key(&task) {
            return Err(CreateError::Exists);
        }
        let space = self
            .machine
            .create_space()
            .ok_or(CreateError::OutOfMemory)?;
        let version = self
            .versions
            .get(&task)
            .map_or(1, |&old| ThreadId::next_version(old));
        self.versions.insert(task, version);
        self.tasks.insert(
            task,
            Task {
                space,
                chief,
                threads: BTreeMap::new(),
                utcb_base,
                utcb_size,
                kernel_interface_page: None,
                maximum_priority: u8::MAX,
                version,
            },
        );
        Ok(())
    }

    /// Map the kernel interface page read-only at `address` in `task` (a page outside its
    /// UTCB area; at most one per task). Used at boot for sigma0 and the root task, and by
    /// task_new.
    pub fn give_kernel_interface_page(
        &mut self,
        task: u16,
        address: u64,
    ) -> Result<(), CreateError> {
        if !address.is_multiple_of(PAGE_SIZE)
            || self.overlaps_kernel_pages(task, address, PAGE_SIZE)
        {
            return Err(CreateError::InvalidId);
        }
        let owner = self.tasks.get_mut(&task).ok_or(CreateError::NoSuchTask)?;
        self.machine
            .map_kernel_interface_page(&mut owner.space, Page(address / PAGE_SIZE))
            .map_err(|_| CreateError::OutOfMemory)?;
        owner.kernel_interface_page = Some(address);
        Ok(())
    }

    /// Create thread `thread` in `task`, inactive, with the given pager and exception handler;
    /// its UTCB page is provided by the machine. Returns its ID (with a fresh version).
    pub fn create_thread(
        &mut self,
        task: u16,
        thread: u16,
        pager: ThreadId,
        exception_handler: ThreadId,
        scheduler: ThreadId,
    ) -> Result<ThreadId, CreateError> {
        let version = self
            .tasks
            .get(&task)
            .ok_or(CreateError::NoSuchTask)?
            .version;
        let id = ThreadId::new(task, thread, version).map_err(|_| CreateError::InvalidId)?;
        let task_slot = self.tasks.slot_of(task).ok_or(CreateError::NoSuchTask)?;
        let owner = self.tasks.get_mut(&task).ok_or(CreateError::NoSuchTask)?;
        let clan_chief = owner.chief;
        if owner.threads.contains_key(&thread) {
            return Err(CreateError::Exists);
        }
        // The thread's UTCB must lie inside the task's UTCB area: beyond it, the kernel's
        // page would land on the task's own memory.
        let utcb = u64::from(thread)
            .checked_mul(UTCB_SIZE)
            .filter(|&offset| offset + UTCB_SIZE <= owner.utcb_size)
            .and_then(|offset| owner.utcb_base.checked_add(offset))
            .ok_or(CreateError::InvalidId)?;
        self.machine
            .provide_kernel_page(&mut owner.space, Page(utcb / PAGE_SIZE))
            .map_err(|_| CreateError::OutOfMemory)?;
        let slot = self.threads.next_slot().ok_or(CreateError::OutOfMemory)?;
        let mut tcb = Thread::new(id, slot, utcb);
        tcb.pager = pager;
        tcb.exception_handler = exception_handler;
        tcb.scheduler = scheduler;
        tcb.task_slot = task_slot;
        tcb.clan_chief = clan_chief;
        let address = self.threads.insert(tcb);
        owner.threads.insert(thread, slot);
        self.fast_ids.insert(id, address);
        self.write_utcb_mirrors(slot);
        let slice = self.ticks_for(DEFAULT_TIME_SLICE_MICROSECONDS).max(1);
        self.scheduler.add(
            slot,
            DEFAULT_PRIORITY,
            u32::try_from(slice).unwrap_or(u32::MAX),
        );
        Ok(id)
    }

    /// Write the kernel-owned words of a thread's UTCB: its own ID, and mirrors of its pager
    /// and exception handler (the real values live in the TCB; the client cannot change them).
    pub(super) fn write_utcb_mirrors(&mut self, slot: ThreadSlot) {
        use abi::utcb::Utcb;
        let Some(thread) = self.thread(slot) else {
            return;
        };
        let (utcb, words) = (
            thread.utcb,
            [
                (Utcb::OFFSET_MY_THREAD_ID, thread.id.raw()),
                (Utcb::OFFSET_PAGER, thread.pager.raw()),
                (
                    Utcb::OFFSET_EXCEPTION_HANDLER,
                    thread.exception_handler.raw(),
                ),
            ],
        );
        for (offset, word) in words {
            // The UTCB page was just provided by the machine; a failure leaves only a stale mirror.
            let _ = self.write_user_words(slot, utcb + offset as u64, &[word]);
        }
    }

    /// Start an inactive (or halted) thread at `pc` with stack `sp`: it becomes ready.
    pub fn start_thread(&mut self, slot: ThreadSlot, pc: u64, sp: u64) -> bool {
        let Some(thread) = self.thread_mut(slot) else {
            return false;
        };
        thread.context.pc = pc;
        thread.context.sp = sp;
        thread.context.pstate = 0; // EL0t, interrupts unmasked
        thread.state = ThreadState::Ready;
        self.scheduler.make_ready(slot);
        true
    }

    /// Give `space`'s task the root mapping of `frame` at `page` (sigma0's memory, devices).
    pub fn insert_root_mapping(
        &mut self,
        task: u16,
        page: Page,
        frame: Frame,
        rights: Rights,
    ) -> Result<(), mapdb::MapdbError> {
        let mut tables = SpaceTables {
            machine: &mut self.machine,
            tasks: &mut self.tasks,
        };
        self.mapdb
            .insert_root(&mut tables, space_id(task), page, frame, rights)
    }

    /// What the mapping database says `task` has at `page`.
    pub fn lookup_mapping(&self, task: u16, page: Page) -> Option<(Frame, Rights)> {
        self.mapdb.lookup(space_id(task), page)
    }

    /// Pick the thread to run if none is chosen yet (boot, or after the current one blocked).
    pub fn schedule(&mut self) {
        self.reschedule();
    }

    /// The timer: advance time, expire timeouts, account the tick to the running thread.
    pub fn timer_tick(&mut self) {
        self.now += 1;
        let mut expired = Vec::new();
        self.timeouts.expire(self.now, |slot| expired.push(slot));
        for slot in expired {
            if let Some(thread) = self.thread_mut(slot) {
                thread.timeout_armed = false;
            }
            self.expire_timeout(slot);
        }
        if let Some(current) = self.current()
            && let crate::scheduler::TickOutcome::SliceExpired = self.scheduler.tick(current)
        {
            self.scheduler.make_ready(current);
            self.set_current(None);
        }
        self.reschedule();
    }

    fn ticks_for(&self, microseconds: u64) -> u64 {
        microseconds
            .saturating_mul(self.ticks_per_second)
            .div_ceil(1_000_000)
    }

    /// Check the kernel's invariants (tests and the fuzz mode): every queued sender is
    /// `Sending` to the queue's owner, every blocked thread's timeout is armed only while it
    /// is blocked, the mapping database is consistent.
    pub fn check_invariants(&self) -> Result<(), &'static str> {
        for (slot, thread) in self.threads.iter() {
            for &sender in &thread.send_queue {
                match self.thread(sender).map(|sender| sender.state) {
                    Some(ThreadState::Sending { to }) if to == slot => {}
                    _ => return Err("a queued sender is not sending to the queue's owner"),
                }
            }
            if let ThreadState::Sending { to } = thread.state {
                let queued = self
                    .thread(to)
                    .is_some_and(|partner| partner.send_queue.contains(&slot));
                if !queued {
                    return Err("a sending thread is missing from its partner's send queue");
                }
            }
            let blocked = matches!(
                thread.state,
                ThreadState::Sending { .. } | ThreadState::Receiving { .. }
            );
            if !blocked && self.timeouts.deadline_of(slot).is_some() {
                return Err("a timeout is armed for a thread that is not blocked");
            }
            if self.lookup(thread.id) != Some(slot) {
                return Err("a thread is not reachable by its own ID");
            }
            self.check_fastpath_copies(slot, thread)?;
        }
        if let Some(current) = self.current()
            && self.thread(current).map(|thread| thread.state) != Some(ThreadState::Ready)
        {
            return Err("the current thread is not ready");
        }
        if self.current_tcb != self.current().and_then(|slot| self.threads.pointer(slot)) {
            return Err("the current thread's TCB address is stale");
        }
        if self.fp_owner_tcb != self.fp_owner.and_then(|slot| self.threads.pointer(slot)) {
            return Err("the FP owner's TCB address is stale");
        }
        let composing_ready = self.threads.iter().any(|(_, thread)| {
            thread.state == ThreadState::Ready && thread.kernel_message.is_some()
        });
        if composing_ready {
            return Err("a ready thread still holds a kernel-composed message");
        }
        self.check_id_cache()?;
        self.mapdb
            .check_invariants()
            .map_err(|_| "mapping database inconsistent")
    }
}

fn space_id(task: u16) -> SpaceId {
    SpaceId(u32::from(task))
}

/// The mapping database's view of the page tables: by task number, through the machine.
struct SpaceTables<'a, M: Machine> {
    machine: &'a mut M,
    tasks: &'a mut TaskTable<M::Space>,
}

impl<M: Machine> mapdb::PageTables for SpaceTables<'_, M> {
    fn install(
        &mut self,
        space: SpaceId,
        page: Page,
        frame: Frame,
        rights: Rights,
    ) -> Result<(), mapdb::OutOfMemory> {
        match task_of(self.tasks, space) {
            Some(task) => self.machine.install(&mut task.space, page, frame, rights),
            // The database only names spaces of live tasks; nothing to install into otherwise.
            None => Err(mapdb::OutOfMemory),
        }
    }

    fn protect(&mut self, space: SpaceId, page: Page, rights: Rights) {
        if let Some(task) = task_of(self.tasks, space) {
            self.machine.protect(&mut task.space, page, rights);
        }
    }

    fn remove(&mut self, space: SpaceId, page: Page) {
        if let Some(task) = task_of(self.tasks, space) {
            self.machine.remove(&mut task.space, page);
        }
    }
}

fn task_of<S>(tasks: &mut TaskTable<S>, space: SpaceId) -> Option<&mut Task<S>> {
    let task = u16::try_from(space.0).ok()?;
    tasks.get_mut(&task)
}
