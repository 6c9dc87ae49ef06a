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
//! - the destination is found through a direct-mapped cache of thread IDs, is not the
//!   sender, is in the sender's clan, waits in a receive that accepts the sender, with no
//!   timeout armed and no kernel-composed message (a page-fault or exception reply is taken
//!   differently);
//! - no ready thread has a higher priority than the destination (so running it is what the
//!   scheduler would choose: the sender blocks, the destination becomes the running thread,
//!   and no ready queue changes);
//! - the machine can switch to the destination's address space without extra work
//!   ([`Machine::fast_switch_value`]: on the EL1 binary, its ASID is current).
//!
//! Clan membership is decided from copies of the chiefs kept in both TCBs, so intra-clan IPC
//! pays four comparisons for the clan rules; redirection takes the general path.

use alloc::boxed::Box;

use abi::thread_id::ThreadId;
use abi::timeout::Timeout;

use super::{Kernel, Machine, ReceiveFrom, ThreadSlot, ThreadState, UserContext};

/// Tag bits that send the ipc down the general path: reserved bits, flags (propagation),
/// typed words, and untyped counts above 7 (MR8.. live in the UTCB).
const SLOW_TAG_BITS: u64 = 0x0000_FFFF_FFFF_FFF8;

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

/// A direct-mapped cache from thread IDs to slots. An entry is only a hint: the fastpath
/// compares the full ID (with its version) against the thread in the slot, so a stale entry
/// (a deleted thread, a reused slot, a collision) costs a trip down the general path and is
/// never wrong. Threads are entered when they are created.
#[derive(Debug)]
pub(super) struct IdCache {
    slots: Box<[u32; ID_CACHE_ENTRIES]>,
}

impl IdCache {
    const EMPTY: u32 = u32::MAX;

    pub(super) fn new() -> Self {
        Self {
            slots: Box::new([Self::EMPTY; ID_CACHE_ENTRIES]),
        }
    }

    /// Where a thread ID's entry lives: the thread number in the low bits, the task number
    /// folded in above (tasks with few threads then take neighbouring entries).
    fn index(raw: u64) -> usize {
        let thread = raw >> ThreadId::THREAD_SHIFT;
        let task = raw >> (ThreadId::TASK_SHIFT - 3);
        (thread ^ task) as usize % ID_CACHE_ENTRIES
    }

    pub(super) fn insert(&mut self, id: ThreadId, slot: ThreadSlot) {
        self.slots[Self::index(id.raw())] = slot.0;
    }

    /// The slot `raw` may name (to be verified against the thread there).
    fn get(&self, raw: u64) -> Option<ThreadSlot> {
        let slot = self.slots[Self::index(raw)];
        (slot != Self::EMPTY).then_some(ThreadSlot(slot))
    }
}

impl<M: Machine> Kernel<M> {
    /// The running thread's `svc #1` (ipc), if it is the common case described in the module
    /// documentation: performs it completely and returns what the glue needs to resume the
    /// receiver, which is now [`Kernel::current`]. Otherwise changes nothing and returns
    /// `None`: the glue then calls [`Kernel::kernel_call`] as for any other call.
    ///
    /// The running thread's registers must have been saved into its context, as for every
    /// kernel entry.
    pub fn ipc_fastpath(&mut self) -> Option<FastSwitch<'_>> {
        let current = self.current?;
        let target = {
            let sender = self.threads.get(current.index())?.as_ref()?;
            self.fast_ids.get(sender.context.x[8])?
        };
        // Both TCBs at once: distinct slots (a send to oneself goes the general way).
        let [Some(sender), Some(receiver)] = self
            .threads
            .get_disjoint_mut([current.index(), target.index()])
            .ok()?
        else {
            return None;
        };
        let registers = &sender.context.x;
        let (tag, destination, specifier, timeouts) =
            (registers[0], registers[8], registers[9], registers[10]);
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
        if tag & SLOW_TAG_BITS != 0
            || timeouts as u32 != Timeout::NEVER.raw()
            || receiver.id.raw() != destination
            || !accepts
        {
            return None;
        }
        if !call
            && (specifier != ThreadId::ANY.raw()
                || !sender.send_queue.is_empty()
                || sender.attached_interrupts != 0)
        {
            return None;
        }
        let (from, to) = (sender.id.task(), receiver.id.task());
        let same_clan = from == to
            || sender.clan_chief == receiver.clan_chief
            || receiver.clan_chief == from
            || sender.clan_chief == to;
        if !same_clan || self.scheduler.has_ready_above(receiver.priority) {
            return None;
        }
        let space = &self.tasks.by_slot(receiver.task_slot)?.space;
        let space = self.machine.fast_switch_value(space)?;

        // Every check passed: commit. Nothing below can fail.
        let (waits_for, fast_sender) = if call {
            (ReceiveFrom::Thread(target), destination)
        } else {
            (ReceiveFrom::Any, ThreadId::ANY.raw())
        };
        sender.state = ThreadState::Receiving { from: waits_for };
        sender.fast_sender = fast_sender;
        receiver.state = ThreadState::Ready;
        receiver.fast_sender = ThreadId::NIL.raw();
        receiver.context.x[8] = sender_id;
        receiver.context.x[abi::call::ERROR_REGISTER] = 0;
        self.current = Some(target);
        Some(FastSwitch {
            context: &receiver.context,
            message: &sender.context,
            space,
            utcb: receiver.utcb,
            owns_fp_unit: self.fp_owner == Some(target),
        })
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
        if attached != usize::from(thread.attached_interrupts) {
            return Err("a thread's count of attached interrupts is stale");
        }
        if thread.fast_sender != self.fast_sender_of(thread) {
            return Err("a thread's fast_sender is stale");
        }
        Ok(())
    }
}
