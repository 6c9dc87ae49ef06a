//! The IPC fastpath: a register-only call or reply-and-wait to a thread that is already
//! waiting for it, done with a handful of checks and one switch.
//!
//! This is the common case of every client/server system (L4Linux's syscalls, a pager's
//! replies): a short untyped message, no typed items, no timeout to arm, and a partner
//! blocked in a receive that accepts the sender. Liedtke's observation ("Improving IPC by
//! Kernel Design") is that such a message needs no kernel buffer, no queue and no scheduler
//! decision: the sender's registers go straight to the receiver, which runs next.
//!
//! As in seL4, the fastpath is only a run of guards in front of the general path and has no
//! semantics of its own: [`Kernel::ipc_fastpath`] either does exactly what
//! [`Kernel::kernel_call`] would have done for the same ipc, or changes nothing and returns
//! `None`, and the caller takes the general path. The host tests check that equivalence
//! state for state, on chosen cases and on random event sequences.
//!
//! The guards, all decided before anything changes:
//! - the running thread's ipc sends a tag with at most 7 untyped words, no typed words and
//!   no flags, and receives with timeout never; either from the destination (a call) or from
//!   anyone (reply-and-wait) when nothing could be received at once (an empty send queue, no
//!   interrupt attached to it: an open wait also acknowledges those);
//! - the destination is found through a direct-mapped cache from thread IDs to TCB
//!   addresses (no table index, no bounds check: Liedtke's TCBs addressed directly), is not the
//!   sender, is in the sender's clan, waits in a receive that accepts the sender, with no
//!   timeout armed and no kernel-composed message (a page-fault or exception reply is taken
//!   differently);
//! - no ready thread has a higher priority than the destination (so running it is what the
//!   scheduler would choose: the sender blocks, the destination becomes the running thread,
//!   and no ready queue changes);
//! - the machine can switch to the destination's address space without extra work
//!   ([`Machine::fast_switch_value`]: on the EL1 binary, its ASID is current), a value the
//!   destination's TCB remembers for the current [`Machine::switch_epoch`].
//!
//! Clan membership is decided from copies of the chiefs kept in both TCBs, so intra-clan IPC
//! between tasks of one chief pays two loads and a compare for the clan rules; redirection
//! takes the general path.
//!
//! The EL1 binary runs the hit case in asm (`kernel/kernel/src/arch/fastpath.s`) over the
//! offsets and encodings [`FastpathLayout`] publishes, and calls [`Kernel::ipc_fastpath`]
//! whenever the asm's checks fail; this function stays the definition the host tests check.

use alloc::boxed::Box;

use abi::thread_id::ThreadId;
use abi::timeout::Timeout;

use super::thread_table::TcbAddress;
use super::{Kernel, Machine, ReceiveFrom, Thread, ThreadSlot, ThreadState, UserContext};

/// Tag bits that send the ipc down the general path: reserved bits, flags (propagation),
/// typed words, and untyped counts above 7 (MR8.. live in the UTCB).
pub const SLOW_TAG_BITS: u64 = 0x0000_FFFF_FFFF_FFF8;

/// What the glue needs to resume the receiver: where its registers are, the value that
/// activates its address space, and its UTCB address.
///
/// The message is not copied into the receiver's context: MR0..MR7 are the sender's x0..x7,
/// which the sender's context already holds, so the glue loads the receiver's x0..x7 from
/// [`FastSwitch::message`] and everything else (x8 = the sender, x9 = 0, and x10..x30, SP,
/// PC, PSTATE, TLS) from [`FastSwitch::context`]. The receiver's saved x0..x7 are stale
/// until its next kernel entry saves them again; nothing reads them in between, because the
/// receiver runs at once.
#[derive(Debug)]
pub struct FastSwitch<'kernel> {
    /// The receiver's registers, ready to be restored (but for x0..x7).
    pub context: &'kernel UserContext,
    /// The sender's registers: x0..x7 are the message, the receiver's x0..x7.
    pub message: &'kernel UserContext,
    /// [`Machine::fast_switch_value`] of the receiver's address space.
    pub space: u64,
    /// The receiver's UTCB (TPIDRRO_EL0).
    pub utcb: u64,
    /// Whether the FP unit holds the receiver's FP/SIMD registers (lazy switching: if not,
    /// the glue makes its FP instructions trap).
    pub owns_fp_unit: bool,
}

/// Entries of the thread-ID cache: a power of two.
const ID_CACHE_ENTRIES: usize = 1024;

/// The shifts of the cache's index function: the thread number in the low bits, the task
/// number folded in three bits above.
const ID_CACHE_SHIFTS: (u32, u32) = (ThreadId::THREAD_SHIFT, ThreadId::TASK_SHIFT - 3);

/// A direct-mapped cache from thread IDs to TCB addresses. An entry is only a hint as to
/// which thread an ID names: the fastpath compares the full ID (with its version) against
/// the thread there, so a collision costs a trip down the general path and is never wrong.
/// But an entry is always the address of a live TCB: threads are entered when they are
/// created and taken out before their TCB is freed (`check_invariants` checks both).
#[derive(Debug)]
pub(super) struct IdCache {
    entries: Box<[Option<TcbAddress>; ID_CACHE_ENTRIES]>,
}

impl IdCache {
    pub(super) fn new() -> Self {
        Self {
            entries: Box::new([None; ID_CACHE_ENTRIES]),
        }
    }

    /// Where a thread ID's entry lives: the thread number in the low bits, the task number
    /// folded in above (tasks with few threads then take neighbouring entries).
    fn index(raw: u64) -> usize {
        let thread = raw >> ID_CACHE_SHIFTS.0;
        let task = raw >> ID_CACHE_SHIFTS.1;
        (thread ^ task) as usize % ID_CACHE_ENTRIES
    }

    /// Enter a new thread (replacing whoever shared its entry).
    pub(super) fn insert(&mut self, id: ThreadId, thread: TcbAddress) {
        self.entries[Self::index(id.raw())] = Some(thread);
    }

    /// Take a thread out before its TCB is freed.
    pub(super) fn remove(&mut self, id: ThreadId, thread: TcbAddress) {
        let entry = &mut self.entries[Self::index(id.raw())];
        if *entry == Some(thread) {
            *entry = None;
        }
    }

    /// The live TCB `raw` may name (to be verified against its ID).
    fn get(&self, raw: u64) -> Option<TcbAddress> {
        self.entries[Self::index(raw)]
    }
}

/// A thread's remembered [`Machine::fast_switch_value`]: `value` is valid while the machine's
/// [`Machine::switch_epoch`] is `epoch`. `repr(C)`: the asm reads both.
#[repr(C)]
#[derive(Clone, Copy)]
pub(super) struct SwitchCache {
    value: u64,
    epoch: u64,
}

impl SwitchCache {
    /// Nothing remembered (no epoch is `u64::MAX`).
    pub(super) const EMPTY: Self = Self {
        value: 0,
        epoch: u64::MAX,
    };
}

/// A cache, not state: shown as nothing, so that a kernel that took the fastpath and one that
/// did not compare equal in the equivalence tests.
impl core::fmt::Debug for SwitchCache {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str("SwitchCache")
    }
}

/// Where the EL1 binary's asm hit path (`arch/fastpath.s`) finds what it reads and writes:
/// byte offsets into the kernel and into a TCB, and the encodings it stores. All computed
/// by the compiler from the definitions here, so that the asm cannot drift from them; the
/// host tests check the two hand-derived facts (the encoding of [`ThreadState`] and the
/// cache's index function).
///
/// The asm implements [`Kernel::ipc_fastpath`]'s hit case only, on this contract: on any
/// doubt it calls [`Kernel::ipc_fastpath`] itself, which decides (and refreshes the switch
/// caches the asm only reads).
#[derive(Clone, Copy, Debug)]
pub struct FastpathLayout {
    /// `Kernel::current_tcb`: `Option<TcbAddress>`, a nullable TCB address.
    pub kernel_current_tcb: usize,
    /// `Kernel::current_slot`: `u32`.
    pub kernel_current_slot: usize,
    /// `Kernel::fp_owner_tcb`: a nullable TCB address.
    pub kernel_fp_owner_tcb: usize,
    /// Where the kernel keeps the address of the ID cache's entries, an array of
    /// `ID_CACHE_ENTRIES` nullable TCB addresses.
    pub kernel_id_cache: usize,
    /// The scheduler's highest ready priority: `i16`, -1 for none.
    pub kernel_highest_ready: usize,
    /// `Thread::id`: `u64`.
    pub thread_id: usize,
    /// `Thread::state`: [`ThreadState`], 8-byte aligned.
    pub thread_state: usize,
    /// `Thread::slot`: `u32`.
    pub thread_slot: usize,
    /// `Thread::queued_senders` and `Thread::attached_interrupts`, two adjacent `u32`,
    /// 8-byte aligned (one 64-bit load reads both).
    pub thread_queued_senders: usize,
    /// `Thread::clan_chief`: `u16`.
    pub thread_clan_chief: usize,
    /// `Thread::priority`: `u8`.
    pub thread_priority: usize,
    /// `Thread::fast_sender`: `u64`.
    pub thread_fast_sender: usize,
    /// `Thread::switch`: the value, then the epoch (two `u64`).
    pub thread_switch: usize,
    /// `Thread::utcb`: `u64`.
    pub thread_utcb: usize,
    /// The `u8` that makes a [`ThreadState`] `Ready`.
    pub state_ready: u8,
    /// The first 8 bytes of `Receiving { from: Any }` (its padding zero).
    pub state_receiving_from_any: u64,
    /// What turns the first 8 bytes of `Receiving { from: Any }` into those of
    /// `Receiving { from: Thread(_) }` by exclusive or (a single bit); the slot follows at
    /// [`FastpathLayout::state_receiving_slot`].
    pub state_receiving_from_thread_bit: u64,
    /// Where the slot of `Receiving { from: Thread(slot) }` lies in the state.
    pub state_receiving_slot: usize,
    /// Entries of the ID cache (a power of two).
    pub id_cache_entries: usize,
    /// The cache's index of a raw ID: `((id >> a) ^ (id >> b)) % entries`, with these `a`
    /// and `b`.
    pub id_cache_shifts: (u32, u32),
}

/// The encoding of [`ThreadState`] (`repr(u8)`, so: a tag byte, then the variant's fields as
/// a `repr(C)` struct): `Receiving { from }` keeps `from` (`repr(u8)` [`ReceiveFrom`], align
/// 4) at offset 4, whose `Thread(slot)` keeps the slot at 4 within it.
const STATE_TAG_READY: u8 = 1;
const STATE_TAG_RECEIVING: u64 = 3;
const RECEIVE_FROM_TAG_ANY: u64 = 0;
const RECEIVE_FROM_TAG_THREAD: u64 = 1;
const STATE_RECEIVE_FROM: usize = 4;

const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    assert!(size_of::<ThreadState>() == 12 && align_of::<ThreadState>() == 4);
    assert!(size_of::<ReceiveFrom>() == 8 && align_of::<ReceiveFrom>() == 4);
    assert!(offset_of!(Thread, context) == 0);
    assert!(offset_of!(Thread, state).is_multiple_of(8));
    assert!(offset_of!(Thread, attached_interrupts) == offset_of!(Thread, queued_senders) + 4);
    assert!(offset_of!(Thread, queued_senders).is_multiple_of(8));
    assert!(offset_of!(SwitchCache, epoch) == offset_of!(SwitchCache, value) + 8);
    assert!(size_of::<Option<TcbAddress>>() == 8);
    assert!(ID_CACHE_ENTRIES.is_power_of_two());
    assert!((RECEIVE_FROM_TAG_ANY ^ RECEIVE_FROM_TAG_THREAD).is_power_of_two());
};

impl<M: Machine> Kernel<M> {
    /// The layout the fastpath's asm works on, for this kernel type.
    pub const FASTPATH_LAYOUT: FastpathLayout = {
        use core::mem::offset_of;
        FastpathLayout {
            kernel_current_tcb: offset_of!(Self, current_tcb),
            kernel_current_slot: offset_of!(Self, current_slot),
            kernel_fp_owner_tcb: offset_of!(Self, fp_owner_tcb),
            kernel_id_cache: offset_of!(Self, fast_ids.entries),
            kernel_highest_ready: offset_of!(Self, scheduler.highest_ready),
            thread_id: offset_of!(Thread, id),
            thread_state: offset_of!(Thread, state),
            thread_slot: offset_of!(Thread, slot),
            thread_queued_senders: offset_of!(Thread, queued_senders),
            thread_clan_chief: offset_of!(Thread, clan_chief),
            thread_priority: offset_of!(Thread, priority),
            thread_fast_sender: offset_of!(Thread, fast_sender),
            thread_switch: offset_of!(Thread, switch),
            thread_utcb: offset_of!(Thread, utcb),
            state_ready: STATE_TAG_READY,
            state_receiving_from_any: STATE_TAG_RECEIVING
                | (RECEIVE_FROM_TAG_ANY << (8 * STATE_RECEIVE_FROM)),
            state_receiving_from_thread_bit: (RECEIVE_FROM_TAG_ANY ^ RECEIVE_FROM_TAG_THREAD)
                << (8 * STATE_RECEIVE_FROM),
            state_receiving_slot: STATE_RECEIVE_FROM + 4,
            id_cache_entries: ID_CACHE_ENTRIES,
            id_cache_shifts: ID_CACHE_SHIFTS,
        }
    };
}

impl<M: Machine> Kernel<M> {
    /// The running thread's `svc #1` (ipc), if it is the common case described in the module
    /// documentation: performs it completely and returns what the glue needs to resume the
    /// receiver, which is now [`Kernel::current`]. Otherwise changes nothing (but caches)
    /// and returns `None`: the glue then calls [`Kernel::kernel_call`] as for any other call.
    ///
    /// The running thread's registers must have been saved into its context, as for every
    /// kernel entry.
    pub fn ipc_fastpath(&mut self) -> Option<FastSwitch<'_>> {
        let sender = self.current_tcb?;
        // SAFETY: a live TCB (the table's); no reference to any TCB exists while `&mut self`
        // is held here but the ones this function makes.
        let registers = unsafe { &(*sender.as_ptr()).context.x };
        let (tag, destination, specifier, timeouts) =
            (registers[0], registers[8], registers[9], registers[10]);
        if tag & SLOW_TAG_BITS != 0 || timeouts as u32 != Timeout::NEVER.raw() {
            return None;
        }
        let receiver_address = self.fast_ids.get(destination)?;
        if receiver_address == sender {
            // An ipc to oneself: the general path refuses it.
            return None;
        }
        // SAFETY: two distinct live TCBs (the cache holds only live ones), and no other
        // reference to a TCB exists while `&mut self` is held here.
        let (sender, receiver) =
            unsafe { (&mut *sender.as_ptr(), &mut *receiver_address.as_ptr()) };
        debug_assert!(
            sender.kernel_message.is_none(),
            "a ready thread composes nothing"
        );
        let call = specifier == destination;
        // The receiver waits for this sender or anyone, without a timeout or a pending fault
        // reply (`fast_sender`); the running sender holds no kernel-composed message (a
        // ready thread never does: `check_invariants`).
        let sender_id = sender.id.raw();
        let accepts =
            receiver.fast_sender == sender_id || receiver.fast_sender == ThreadId::ANY.raw();
        if receiver.id.raw() != destination || !accepts {
            return None;
        }
        if !call
            && (specifier != ThreadId::ANY.raw()
                || sender.queued_senders != 0
                || sender.attached_interrupts != 0)
        {
            return None;
        }
        if !sender.in_one_clan_with(receiver) || self.scheduler.has_ready_above(receiver.priority) {
            return None;
        }
        let epoch = self.machine.switch_epoch();
        if receiver.switch.epoch != epoch {
            let space = &self.tasks.by_slot(receiver.task_slot)?.space;
            receiver.switch = SwitchCache {
                value: self.machine.fast_switch_value(space)?,
                epoch,
            };
        }

        // Every check passed: commit. Nothing below can fail.
        let (waits_for, fast_sender) = if call {
            (ReceiveFrom::Thread(receiver.slot), destination)
        } else {
            (ReceiveFrom::Any, ThreadId::ANY.raw())
        };
        sender.state = ThreadState::Receiving { from: waits_for };
        sender.fast_sender = fast_sender;
        receiver.state = ThreadState::Ready;
        receiver.fast_sender = ThreadId::NIL.raw();
        receiver.context.x[8] = sender_id;
        receiver.context.x[abi::call::ERROR_REGISTER] = 0;
        self.current_tcb = Some(receiver_address);
        self.current_slot = receiver.slot.0;
        Some(FastSwitch {
            context: &receiver.context,
            message: &sender.context,
            space: receiver.switch.value,
            utcb: receiver.utcb,
            owns_fp_unit: self.fp_owner == Some(receiver.slot),
        })
    }

    /// The slot of thread `id` if the ID cache knows it: one hashed load and a compare
    /// instead of two map look-ups (`Kernel::lookup` tries this first). `None` says only
    /// that the cache does not know it.
    pub(super) fn cached_slot(&self, id: ThreadId) -> Option<ThreadSlot> {
        let address = self.fast_ids.get(id.raw())?;
        // SAFETY: the cache holds only addresses of live TCBs (`check_invariants`), and
        // `&self` keeps every `&mut` to the thread table away while this reads.
        let thread = unsafe { &*address.as_ptr() };
        (thread.id == id).then_some(thread.slot)
    }

    /// The cache holds only live threads, each in its own ID's entry.
    pub(super) fn check_id_cache(&self) -> Result<(), &'static str> {
        let occupied = self.fast_ids.entries.iter().flatten().count();
        let own = self
            .threads
            .iter()
            .filter(|&(slot, thread)| {
                let entry = self.fast_ids.get(thread.id.raw());
                entry.is_some_and(|entry| self.threads.pointer(slot) == Some(entry))
            })
            .count();
        if occupied == own {
            Ok(())
        } else {
            Err("the fastpath's ID cache holds a thread that is gone or misplaced")
        }
    }

    /// Recompute `thread`'s `fast_sender` from its state (after it blocked).
    pub(super) fn refresh_fast_sender(&mut self, slot: ThreadSlot) {
        let Some(thread) = self.thread(slot) else {
            return;
        };
        let fast_sender = self.fast_sender_of(thread);
        if let Some(thread) = self.thread_mut(slot) {
            thread.fast_sender = fast_sender;
        }
    }

    /// What `thread`'s `fast_sender` must be.
    fn fast_sender_of(&self, thread: &super::Thread) -> u64 {
        if thread.timeout_armed || thread.kernel_message.is_some() {
            return ThreadId::NIL.raw();
        }
        match thread.state {
            ThreadState::Receiving {
                from: ReceiveFrom::Any,
            } => ThreadId::ANY.raw(),
            ThreadState::Receiving {
                from: ReceiveFrom::Thread(partner),
            } => self
                .thread(partner)
                .map_or(ThreadId::NIL.raw(), |partner| partner.id.raw()),
            _ => ThreadId::NIL.raw(),
        }
    }

    /// The fastpath's copies in `thread` (in `slot`) agree with their sources.
    pub(super) fn check_fastpath_copies(
        &self,
        slot: ThreadSlot,
        thread: &super::Thread,
    ) -> Result<(), &'static str> {
        let task = self.tasks.get(&thread.id.task());
        if self.tasks.slot_of(thread.id.task()) != Some(thread.task_slot) {
            return Err("a thread's task slot is stale");
        }
        if task.map(|task| task.chief) != Some(thread.clan_chief) {
            return Err("a thread's copy of its chief is stale");
        }
        if self.scheduler.priority(slot) != Some(thread.priority) {
            return Err("a thread's copy of its priority is stale");
        }
        if self.timeouts.deadline_of(slot).is_some() != thread.timeout_armed {
            return Err("a thread's timeout flag is stale");
        }
        let attached = self
            .interrupts
            .values()
            .filter(|line| line.owner == Some(slot))
            .count();
        if u32::try_from(attached) != Ok(thread.attached_interrupts) {
            return Err("a thread's count of attached interrupts is stale");
        }
        if u32::try_from(thread.send_queue.len()) != Ok(thread.queued_senders) {
            return Err("a thread's count of queued senders is stale");
        }
        if thread.slot != slot {
            return Err("a thread's copy of its slot is stale");
        }
        if thread.fast_sender != self.fast_sender_of(thread) {
            return Err("a thread's fast_sender is stale");
        }
        Ok(())
    }
}

#[cfg(test)]
mod layout_tests {
    use super::*;

    /// What the asm stores makes the state it means, and `Receiving`'s fields lie where it
    /// stores them.
    #[test]
    fn the_asm_encoding_of_thread_states_is_rusts() {
        #[repr(C, align(8))]
        struct Aligned(ThreadState);
        let layout = Kernel::<super::super::tests::FakeMachine>::FASTPATH_LAYOUT;
        let mut state = Aligned(ThreadState::Halted);
        let base = (&raw mut state.0).cast::<u8>();
        // SAFETY: `state` is 12 bytes, 8-aligned; the writes cover bytes 0..12 with valid
        // tags and a slot, which is what the asm writes into a TCB.
        unsafe {
            base.cast::<u64>()
                .write(layout.state_receiving_from_any ^ layout.state_receiving_from_thread_bit);
            base.add(layout.state_receiving_slot)
                .cast::<u32>()
                .write(0x1234_5678);
        }
        assert_eq!(
            state.0,
            ThreadState::Receiving {
                from: ReceiveFrom::Thread(ThreadSlot(0x1234_5678))
            }
        );
        // SAFETY: as above, 8 bytes of tags and padding.
        unsafe { base.cast::<u64>().write(layout.state_receiving_from_any) };
        assert_eq!(
            state.0,
            ThreadState::Receiving {
                from: ReceiveFrom::Any
            }
        );
        // SAFETY: one tag byte.
        unsafe { base.write(layout.state_ready) };
        assert_eq!(state.0, ThreadState::Ready);
    }

    /// The asm's index: two shifts, an exclusive or, a mask.
    #[test]
    fn the_cache_index_is_the_documented_function() {
        let layout = Kernel::<super::super::tests::FakeMachine>::FASTPATH_LAYOUT;
        let (a, b) = layout.id_cache_shifts;
        for raw in [
            0,
            u64::MAX,
            0x0002_0000_0010_0001,
            0xFFFF_0000_0FF0_0003,
            1 << 47,
        ] {
            let asm = ((raw >> a) ^ (raw >> b)) & (layout.id_cache_entries as u64 - 1);
            assert_eq!(IdCache::index(raw), asm as usize);
        }
    }
}
