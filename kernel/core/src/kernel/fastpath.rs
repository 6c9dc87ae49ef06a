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

/// What the glue needs to resume the receiver: its saved registers (the message is in
/// x0..x9), the value that activates its address space, and its UTCB address.
#[derive(Debug)]
pub struct FastSwitch<'kernel> {
    /// The receiver's registers, ready to be restored.
    pub context: &'kernel UserContext,
    /// [`Machine::fast_switch_value`] of the receiver's address space.
    pub space: u64,
    /// The receiver's UTCB (TPIDRRO_EL0).
    pub utcb: u64,
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
        let call = specifier == destination;
        let accepts = match receiver.state {
            ThreadState::Receiving {
                from: ReceiveFrom::Any,
            } => true,
            ThreadState::Receiving {
                from: ReceiveFrom::Thread(partner),
            } => partner == current,
            _ => false,
        };
        if tag & SLOW_TAG_BITS != 0
            || timeouts as u32 != Timeout::NEVER.raw()
            || receiver.id.raw() != destination
            || !accepts
            || receiver.timeout_armed
            || receiver.kernel_message.is_some()
            || sender.kernel_message.is_some()
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
        sender.state = ThreadState::Receiving {
            from: if call {
                ReceiveFrom::Thread(target)
            } else {
                ReceiveFrom::Any
            },
        };
        receiver.state = ThreadState::Ready;
        // Word by word: a slice copy would become a call to memcpy.
        let (message, words) = (&mut receiver.context.x, &sender.context.x);
        message[0] = tag;
        message[1] = words[1];
        message[2] = words[2];
        message[3] = words[3];
        message[4] = words[4];
        message[5] = words[5];
        message[6] = words[6];
        message[7] = words[7];
        message[8] = sender.id.raw();
        message[abi::call::ERROR_REGISTER] = 0;
        self.current = Some(target);
        Some(FastSwitch {
            context: &receiver.context,
            space,
            utcb: receiver.utcb,
        })
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
        Ok(())
    }
}
