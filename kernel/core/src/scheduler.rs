//! The run queues: 256 strict priority levels, round robin within a level, per-thread time
//! slices counted in timer ticks.
//!
//! Why this shape: it is the L4 scheduling model (`thread_schedule` sets a priority and a time
//! slice, `thread_switch` yields or donates), and it keeps the decision "who runs next" O(1): a
//! 256-bit bitmap says which levels hold a ready thread, so the highest one is found with at most
//! four `leading_zeros`, and its queue's head is the answer.
//!
//! The scheduler does not own threads. It knows them by an opaque handle `T` (the kernel uses a
//! thread-slot index) and keeps only what scheduling needs: priority, slice length, remaining
//! ticks, and the ready queues.
//!
//! # The current thread is not queued
//!
//! The running thread is kept *out* of the ready queues (the "Benno" discipline; see
//! `docs/design/kernel-core.md`). An IPC that blocks the sender and runs the receiver therefore
//! touches no queue at all, and [`Scheduler::make_blocked`] of the running thread costs one table
//! look-up. Consequently [`Scheduler::is_ready`] means "waiting in a ready queue", which the
//! running thread is not. The caller hands the running thread back to [`Scheduler::choose`] (as
//! `current`) while it is still runnable; `choose` puts it back into a queue only if it loses the
//! CPU.
//!
//! Blocking is *eager*: [`Scheduler::make_blocked`] of a queued thread removes it from its
//! queue at once (a scan of that one level's queue, which is short), so the queues never hold
//! stale entries, the bitmap is exact, and a handle that is removed and later reused for a new
//! thread can never be resurrected by an old queue entry. The lazy variant (leave blocked
//! threads queued, skip them in `choose`) buys nothing here, because the thread that blocks is
//! almost always the running one, which is not queued anyway.
//!
//! # Time
//!
//! [`Scheduler::tick`] is the *only* place where time is charged to a thread. Later
//! performance isolation (charging time to a group, budgets per clan) hooks in there and
//! nowhere else.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use core::fmt::Debug;

/// Number of priority levels: 0 is the lowest, 255 the highest.
pub const PRIORITY_LEVELS: usize = 256;

/// The L4 default time slice is 10 ms; the caller converts it into ticks of its timer.
pub const DEFAULT_TIME_SLICE_MICROSECONDS: u64 = 10_000;

/// A thread's scheduling parameters, as set by `thread_schedule`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SchedulingParameters {
    /// 0 (lowest) to 255 (highest).
    pub priority: u8,
    /// Ticks a thread may run before it goes to the tail of its level. Never zero: a requested
    /// slice of zero ticks is stored as one (see [`Scheduler::add`]).
    pub time_slice_ticks: u32,
}

/// What [`Scheduler::tick`] found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TickOutcome {
    /// The thread still has ticks left in its slice; it keeps the CPU.
    SliceContinues {
        /// Ticks left after this one.
        remaining_ticks: u32,
    },
    /// The slice is used up and has been refilled. The caller requeues the thread at the tail
    /// of its level ([`Scheduler::make_ready`]) and calls [`Scheduler::choose`] with `None`.
    SliceExpired,
    /// The thread is not registered with the scheduler; nothing was charged.
    UnknownThread,
}

/// What the scheduler keeps per thread.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct ThreadEntry {
    parameters: SchedulingParameters,
    remaining_ticks: u32,
    /// Ticks charged to the thread since it was registered.
    consumed_ticks: u64,
    /// Whether the thread is in the ready queue of `parameters.priority`.
    queued: bool,
}

/// Ready queues and per-thread scheduling parameters for threads named by `T`.
#[derive(Debug)]
pub struct Scheduler<T> {
    /// Bit `p % 64` of word `p / 64` is set exactly when `queues[p]` is non-empty.
    ready_levels: [u64; 4],
    /// One FIFO per priority level. Boxed so the scheduler itself stays small (8 KiB of queue
    /// headers would otherwise sit wherever the scheduler is moved).
    queues: Box<[VecDeque<T>; PRIORITY_LEVELS]>,
    threads: BTreeMap<T, ThreadEntry>,
    /// The highest level with a queued thread, -1 for none: the bitmap's answer, kept
    /// current on every queue change so that [`Scheduler::has_ready_above`] is one compare
    /// (crate-visible: the IPC fastpath's asm reads it at its offset).
    pub(crate) highest_ready: i16,
}

impl<T: Copy + Ord + Debug> Default for Scheduler<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy + Ord + Debug> Scheduler<T> {
    /// A scheduler with no threads; [`choose`](Self::choose) answers `None` (idle).
    pub fn new() -> Self {
        Self {
            ready_levels: [0; 4],
            queues: Box::new([const { VecDeque::new() }; PRIORITY_LEVELS]),
            threads: BTreeMap::new(),
            highest_ready: -1,
        }
    }

    /// Registers `thread` with a priority and a slice length, not ready. Its slice starts full.
    /// A `time_slice_ticks` of zero is stored as one tick: every turn lasts at least one tick
    /// (an "infinite" L4 slice is expressed by the caller as `u32::MAX` ticks). Registering a
    /// thread that is already known first removes it, so it ends up not ready.
    pub fn add(&mut self, thread: T, priority: u8, time_slice_ticks: u32) {
        self.remove(thread);
        let time_slice_ticks = time_slice_ticks.max(1);
        self.threads.insert(
            thread,
            ThreadEntry {
                parameters: SchedulingParameters {
                    priority,
                    time_slice_ticks,
                },
                remaining_ticks: time_slice_ticks,
                consumed_ticks: 0,
                queued: false,
            },
        );
    }

    /// Forgets `thread` (it was deleted): out of its queue and out of the table. Unknown
    /// threads are ignored.
    pub fn remove(&mut self, thread: T) {
        self.dequeue(thread);
        self.threads.remove(&thread);
    }

    /// Puts `thread` at the tail of its level's queue. Idempotent: a thread already queued
    /// keeps its place, so it is never in a queue twice. Unknown threads are ignored.
    ///
    /// This is also how the caller requeues the running thread after
    /// [`TickOutcome::SliceExpired`]. Waking a thread never switches by itself: the caller asks
    /// [`preempts`](Self::preempts) and then calls [`choose`](Self::choose).
    pub fn make_ready(&mut self, thread: T) {
        self.enqueue(thread, QueueEnd::Tail);
    }

    /// Takes `thread` out of the ready queue (eagerly; see the module documentation). For the
    /// running thread, which is not queued, this is only a look-up. Unknown threads are ignored.
    pub fn make_blocked(&mut self, thread: T) {
        self.dequeue(thread);
    }

    /// Picks the thread to run next and takes it out of its queue.
    ///
    /// `current` is the running thread if it is still runnable (it is not in a queue); pass
    /// `None` when it blocked, was removed, just requeued itself, or the CPU was idle. The rule:
    ///
    /// 1. Let `h` be the highest level with a queued thread.
    /// 2. If `current` is a registered, unqueued thread and there is no queued thread or
    ///    `h <= priority(current)`, `current` keeps the CPU: it is returned and nothing changes.
    ///    Equal priority does not preempt; round robin happens only through
    ///    [`tick`](Self::tick) and [`yield_to`](Self::yield_to).
    /// 3. Otherwise the head of level `h` is dequeued and returned. A `current` that loses the
    ///    CPU this way was preempted, not finished: it goes to the *head* of its level with its
    ///    remaining ticks, so it resumes before its peers (as in seL4).
    /// 4. With nothing queued and no `current`, the answer is `None`: idle.
    ///
    /// A `current` that is unknown or already queued is treated as `None` (a queued one simply
    /// competes from its place in the queue).
    pub fn choose(&mut self, current: Option<T>) -> Option<T> {
        let current = current.and_then(|thread| {
            let entry = self.threads.get(&thread)?;
            (!entry.queued).then_some((thread, entry.parameters.priority))
        });
        let highest = self.highest_ready_level();
        if let Some((thread, priority)) = current
            && highest.is_none_or(|level| level <= priority)
        {
            return Some(thread);
        }
        let chosen = self.pop_head(highest?)?;
        if let Some((thread, _)) = current {
            self.enqueue(thread, QueueEnd::Head);
        }
        Some(chosen)
    }

    /// Charges one tick to the running thread `current`; the single place where time is
    /// accounted. When the slice is used up it is refilled and [`TickOutcome::SliceExpired`]
    /// is reported; the caller then calls [`make_ready`](Self::make_ready)`(current)` (tail of
    /// its level) and [`choose`](Self::choose)`(None)`. When the CPU is idle the caller does not
    /// call `tick`.
    pub fn tick(&mut self, current: T) -> TickOutcome {
        let Some(entry) = self.threads.get_mut(&current) else {
            return TickOutcome::UnknownThread;
        };
        entry.consumed_ticks = entry.consumed_ticks.saturating_add(1);
        entry.remaining_ticks = entry.remaining_ticks.saturating_sub(1);
        if entry.remaining_ticks == 0 {
            entry.remaining_ticks = entry.parameters.time_slice_ticks;
            TickOutcome::SliceExpired
        } else {
            TickOutcome::SliceContinues {
                remaining_ticks: entry.remaining_ticks,
            }
        }
    }

    /// `thread_schedule`: sets `thread`'s priority and slice length and returns the old ones
    /// (`None` for an unknown thread, which is left alone). A zero slice is stored as one tick.
    ///
    /// A queued thread whose priority changes moves to the tail of its new level; one whose
    /// priority stays keeps its place. The remaining ticks are cut to the new slice length if
    /// that is shorter. The caller re-decides afterwards: if `thread` is the running one, with
    /// `choose(Some(thread))` (its priority may have dropped below a queued thread's); if it is
    /// queued, with [`preempts`](Self::preempts)`(thread, current)`.
    pub fn set_parameters(
        &mut self,
        thread: T,
        priority: u8,
        time_slice_ticks: u32,
    ) -> Option<SchedulingParameters> {
        let entry = self.threads.get(&thread).copied()?;
        let moves = entry.queued && entry.parameters.priority != priority;
        if moves {
            self.dequeue(thread);
        }
        let time_slice_ticks = time_slice_ticks.max(1);
        if let Some(stored) = self.threads.get_mut(&thread) {
            stored.parameters = SchedulingParameters {
                priority,
                time_slice_ticks,
            };
            stored.remaining_ticks = stored.remaining_ticks.min(time_slice_ticks);
        }
        if moves {
            self.enqueue(thread, QueueEnd::Tail);
        }
        Some(entry.parameters)
    }

    /// `thread_switch`, called by the running thread `current`; returns the thread to run next.
    ///
    /// - `target` is `None`, or not queued (blocked, running, unknown, or `current` itself): a
    ///   plain yield. `current` forfeits the rest of its slice (it is refilled) and goes to the
    ///   tail of its level; then [`choose`](Self::choose)`(None)` decides, so `current` runs again
    ///   only if nothing of its priority or higher is queued.
    /// - `target` is queued: donation. `target` is dequeued and runs next *regardless of
    ///   priority*, for exactly the ticks `current` had left (they replace `target`'s own
    ///   remaining ticks). When those run out, [`tick`](Self::tick) reports
    ///   [`TickOutcome::SliceExpired`] and refills `target` with its *own* slice length, and
    ///   normal scheduling resumes. `current` is refilled and goes to the tail of its level, as
    ///   in a plain yield. The donation also ends at the next `choose(Some(target))`, which
    ///   applies the normal rule: the caller makes that call after a wake-up that
    ///   [`preempts`](Self::preempts) `target` (and then the highest queued thread runs, which
    ///   need not be the woken one; `target` goes to the head of its level keeping the ticks
    ///   it has left). So a donation delays a higher-priority queued thread by at most the
    ///   donated ticks. The tick path must therefore call `choose` only on
    ///   [`TickOutcome::SliceExpired`] or after a wake-up, not on every tick.
    pub fn yield_to(&mut self, current: T, target: Option<T>) -> Option<T> {
        let donated_ticks = self.threads.get_mut(&current).map(|entry| {
            let remaining = entry.remaining_ticks;
            entry.remaining_ticks = entry.parameters.time_slice_ticks;
            remaining
        });
        self.enqueue(current, QueueEnd::Tail);
        if let Some(target) = target.filter(|&target| target != current && self.is_ready(target)) {
            self.dequeue(target);
            if let (Some(ticks), Some(entry)) = (donated_ticks, self.threads.get_mut(&target)) {
                entry.remaining_ticks = ticks;
            }
            return Some(target);
        }
        self.choose(None)
    }

    /// Whether waking `woken` should preempt the running `current`: strictly higher priority.
    /// `false` if either is unknown.
    pub fn preempts(&self, woken: T, current: T) -> bool {
        match (self.priority(woken), self.priority(current)) {
            (Some(woken), Some(current)) => woken > current,
            _ => false,
        }
    }

    /// Whether `thread` waits in a ready queue. The running thread is not queued, so this is
    /// `false` for it.
    pub fn is_ready(&self, thread: T) -> bool {
        self.threads.get(&thread).is_some_and(|entry| entry.queued)
    }

    /// `thread`'s priority, `None` if it is not registered.
    pub fn priority(&self, thread: T) -> Option<u8> {
        self.parameters(thread)
            .map(|parameters| parameters.priority)
    }

    /// `thread`'s priority and slice length, `None` if it is not registered.
    pub fn parameters(&self, thread: T) -> Option<SchedulingParameters> {
        self.threads.get(&thread).map(|entry| entry.parameters)
    }

    /// Ticks charged to `thread` since it was registered (its consumed time, in ticks),
    /// `None` if it is not registered.
    pub fn consumed_ticks(&self, thread: T) -> Option<u64> {
        self.threads.get(&thread).map(|entry| entry.consumed_ticks)
    }

    /// Ticks left in `thread`'s current slice (`thread_schedule` reports it), `None` if it is
    /// not registered.
    pub fn remaining_ticks(&self, thread: T) -> Option<u32> {
        self.threads.get(&thread).map(|entry| entry.remaining_ticks)
    }

    /// The threads queued at `priority`, head first (for the kernel debugger and tests).
    pub fn queued_at(&self, priority: u8) -> impl Iterator<Item = T> + '_ {
        self.queues[usize::from(priority)].iter().copied()
    }

    /// The highest level with a queued thread: the highest set bit of the 256-bit bitmap.
    /// Whether a thread of priority higher than `priority` is queued: whether a thread of
    /// that priority would lose the CPU to a ready one (the IPC fastpath's check, a few
    /// instructions on the bitmap).
    pub fn has_ready_above(&self, priority: u8) -> bool {
        self.highest_ready > i16::from(priority)
    }

    fn highest_ready_level(&self) -> Option<u8> {
        self.ready_levels
            .iter()
            .enumerate()
            .rev()
            .find(|&(_, &word)| word != 0)
            .and_then(|(index, &word)| {
                u8::try_from(index * 64 + 63 - word.leading_zeros() as usize).ok()
            })
    }

    fn pop_head(&mut self, priority: u8) -> Option<T> {
        let thread = self.queues[usize::from(priority)].pop_front()?;
        self.after_queue_change(priority);
        if let Some(entry) = self.threads.get_mut(&thread) {
            entry.queued = false;
        }
        Some(thread)
    }

    fn enqueue(&mut self, thread: T, end: QueueEnd) {
        let Some(entry) = self.threads.get_mut(&thread) else {
            return;
        };
        if entry.queued {
            return;
        }
        entry.queued = true;
        let priority = entry.parameters.priority;
        let queue = &mut self.queues[usize::from(priority)];
        match end {
            QueueEnd::Head => queue.push_front(thread),
            QueueEnd::Tail => queue.push_back(thread),
        }
        self.after_queue_change(priority);
    }

    fn dequeue(&mut self, thread: T) {
        let Some(entry) = self.threads.get_mut(&thread) else {
            return;
        };
        if !entry.queued {
            return;
        }
        entry.queued = false;
        let priority = entry.parameters.priority;
        let queue = &mut self.queues[usize::from(priority)];
        if let Some(position) = queue.iter().position(|&queued| queued == thread) {
            queue.remove(position);
        }
        self.after_queue_change(priority);
    }

    /// Makes the bitmap bit of `priority` say whether its queue is non-empty, and the cached
    /// highest level follow.
    fn after_queue_change(&mut self, priority: u8) {
        let word = &mut self.ready_levels[usize::from(priority / 64)];
        let bit = 1u64 << (priority % 64);
        if self.queues[usize::from(priority)].is_empty() {
            *word &= !bit;
        } else {
            *word |= bit;
        }
        self.highest_ready = self.highest_ready_level().map_or(-1, i16::from);
    }
}

#[derive(Clone, Copy)]
enum QueueEnd {
    Head,
    Tail,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    /// Runs the caller's side of a timer tick that wakes nobody: charge it, and only on expiry
    /// requeue and re-choose.
    fn timer_tick(scheduler: &mut Scheduler<u32>, current: u32) -> Option<u32> {
        match scheduler.tick(current) {
            TickOutcome::SliceExpired => {
                scheduler.make_ready(current);
                scheduler.choose(None)
            }
            _ => Some(current),
        }
    }

    #[test]
    fn every_tick_is_charged_to_the_running_thread_as_consumed_time() {
        let mut scheduler = ready_scheduler(&[(1, 10, 3), (2, 10, 3)]);
        let mut running = scheduler.choose(None);
        for _ in 0..7 {
            running = timer_tick(&mut scheduler, running.unwrap());
        }
        let (first, second) = (scheduler.consumed_ticks(1), scheduler.consumed_ticks(2));
        assert_eq!(first.unwrap() + second.unwrap(), 7);
        assert_eq!(
            (first, second),
            (Some(4), Some(3)),
            "round robin in slices of 3"
        );
        assert_eq!(scheduler.consumed_ticks(3), None);
    }

    #[test]
    fn has_ready_above_agrees_with_the_highest_queued_level_at_every_priority() {
        for queued in [0u8, 1, 62, 63, 64, 100, 127, 128, 191, 192, 254, 255] {
            let scheduler = ready_scheduler(&[(1, queued, 1)]);
            for priority in 0..=255u8 {
                assert_eq!(
                    scheduler.has_ready_above(priority),
                    queued > priority,
                    "queued at {queued}, asking above {priority}"
                );
            }
        }
        let empty = Scheduler::<u32>::new();
        assert!((0..=255u8).all(|priority| !empty.has_ready_above(priority)));
    }

    fn ready_scheduler(threads: &[(u32, u8, u32)]) -> Scheduler<u32> {
        let mut scheduler = Scheduler::new();
        for &(thread, priority, slice) in threads {
            scheduler.add(thread, priority, slice);
            scheduler.make_ready(thread);
        }
        scheduler
    }

    #[test]
    fn an_empty_scheduler_is_idle() {
        let mut scheduler: Scheduler<u32> = Scheduler::new();
        assert_eq!(scheduler.choose(None), None);
    }

    #[test]
    fn the_highest_priority_ready_thread_runs_first() {
        let mut scheduler = ready_scheduler(&[(1, 10, 5), (2, 200, 5), (3, 100, 5)]);
        assert_eq!(scheduler.choose(None), Some(2));
        assert_eq!(scheduler.choose(None), Some(3));
        assert_eq!(scheduler.choose(None), Some(1));
        assert_eq!(scheduler.choose(None), None);
    }

    #[test]
    fn threads_of_one_level_take_turns_when_their_slices_expire() {
        let mut scheduler = ready_scheduler(&[(1, 50, 1), (2, 50, 1), (3, 50, 1)]);
        let mut running = scheduler.choose(None).unwrap();
        let mut order = vec![running];
        for _ in 0..5 {
            running = timer_tick(&mut scheduler, running).unwrap();
            order.push(running);
        }
        assert_eq!(order, [1, 2, 3, 1, 2, 3]);
    }

    #[test]
    fn a_thread_keeps_the_cpu_for_its_whole_slice() {
        let mut scheduler = ready_scheduler(&[(1, 50, 3), (2, 50, 3)]);
        let mut running = scheduler.choose(None).unwrap();
        let mut order = vec![];
        for _ in 0..7 {
            order.push(running);
            running = timer_tick(&mut scheduler, running).unwrap();
        }
        assert_eq!(order, [1, 1, 1, 2, 2, 2, 1]);
    }

    #[test]
    fn ticks_report_the_remaining_slice_until_it_expires_and_is_refilled() {
        let mut scheduler = ready_scheduler(&[(1, 50, 3)]);
        assert_eq!(
            scheduler.tick(1),
            TickOutcome::SliceContinues { remaining_ticks: 2 }
        );
        assert_eq!(
            scheduler.tick(1),
            TickOutcome::SliceContinues { remaining_ticks: 1 }
        );
        assert_eq!(scheduler.tick(1), TickOutcome::SliceExpired);
        assert_eq!(scheduler.remaining_ticks(1), Some(3));
        assert_eq!(scheduler.tick(9), TickOutcome::UnknownThread);
    }

    #[test]
    fn a_zero_tick_slice_is_stored_as_one_tick() {
        let mut scheduler = ready_scheduler(&[(1, 50, 0)]);
        assert_eq!(scheduler.parameters(1).unwrap().time_slice_ticks, 1);
        assert_eq!(scheduler.tick(1), TickOutcome::SliceExpired);
    }

    #[test]
    fn a_higher_priority_thread_made_ready_preempts_and_the_preempted_one_resumes_first() {
        let mut scheduler = ready_scheduler(&[(1, 10, 5), (2, 10, 5)]);
        scheduler.add(3, 20, 5);
        scheduler.add(4, 10, 5);
        assert_eq!(scheduler.choose(None), Some(1));
        scheduler.tick(1);
        assert!(scheduler.preempts(3, 1));
        assert!(!scheduler.preempts(4, 1), "equal priority does not preempt");
        assert!(!scheduler.preempts(1, 3));
        scheduler.make_ready(3);
        assert_eq!(scheduler.choose(Some(1)), Some(3));
        assert_eq!(scheduler.queued_at(10).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(scheduler.remaining_ticks(1), Some(4));
        scheduler.make_blocked(3);
        assert_eq!(scheduler.choose(None), Some(1));
    }

    #[test]
    fn the_current_thread_keeps_the_cpu_against_equal_or_lower_priorities() {
        let mut scheduler = ready_scheduler(&[(1, 10, 5), (2, 10, 5)]);
        scheduler.add(3, 10, 5);
        assert_eq!(scheduler.choose(Some(3)), Some(3));
        assert_eq!(scheduler.queued_at(10).collect::<Vec<_>>(), [1, 2]);
        scheduler.add(4, 11, 5);
        assert_eq!(scheduler.choose(Some(4)), Some(4));
    }

    #[test]
    fn choosing_with_an_empty_queue_keeps_the_current_thread_or_idles() {
        let mut scheduler: Scheduler<u32> = Scheduler::new();
        scheduler.add(1, 0, 5);
        assert_eq!(scheduler.choose(Some(1)), Some(1));
        assert_eq!(scheduler.choose(None), None);
        assert_eq!(
            scheduler.choose(Some(7)),
            None,
            "unknown current is ignored"
        );
    }

    #[test]
    fn making_a_thread_ready_twice_queues_it_once() {
        let mut scheduler = ready_scheduler(&[(1, 5, 5), (2, 5, 5)]);
        scheduler.make_ready(1);
        scheduler.make_ready(1);
        assert_eq!(scheduler.queued_at(5).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(scheduler.choose(None), Some(1));
        assert_eq!(scheduler.choose(None), Some(2));
        assert_eq!(scheduler.choose(None), None);
    }

    #[test]
    fn removing_a_queued_thread_takes_it_out_of_its_queue_and_table() {
        let mut scheduler = ready_scheduler(&[(1, 5, 5), (2, 5, 5), (3, 9, 5)]);
        scheduler.remove(1);
        scheduler.remove(3);
        scheduler.remove(42);
        assert!(!scheduler.is_ready(1));
        assert_eq!(scheduler.priority(1), None);
        assert_eq!(scheduler.choose(None), Some(2));
        assert_eq!(scheduler.choose(None), None);
        scheduler.make_ready(1);
        assert_eq!(
            scheduler.choose(None),
            None,
            "a removed thread cannot be woken"
        );
    }

    #[test]
    fn blocking_a_queued_thread_takes_it_out_of_its_queue() {
        let mut scheduler = ready_scheduler(&[(1, 5, 5), (2, 5, 5)]);
        scheduler.make_blocked(1);
        assert!(!scheduler.is_ready(1));
        assert!(scheduler.is_ready(2));
        assert_eq!(scheduler.choose(None), Some(2));
        assert_eq!(scheduler.choose(None), None);
    }

    #[test]
    fn changing_the_priority_of_a_ready_thread_moves_it_to_the_tail_of_its_new_level() {
        let mut scheduler = ready_scheduler(&[(1, 5, 5), (2, 5, 5), (3, 9, 5)]);
        let old = scheduler.set_parameters(1, 9, 2);
        assert_eq!(
            old,
            Some(SchedulingParameters {
                priority: 5,
                time_slice_ticks: 5
            })
        );
        assert_eq!(scheduler.queued_at(5).collect::<Vec<_>>(), [2]);
        assert_eq!(scheduler.queued_at(9).collect::<Vec<_>>(), [3, 1]);
        assert_eq!(scheduler.remaining_ticks(1), Some(2));
        assert_eq!(scheduler.choose(None), Some(3));
        assert_eq!(scheduler.choose(None), Some(1));
        assert_eq!(scheduler.choose(None), Some(2));
        assert_eq!(scheduler.set_parameters(8, 1, 1), None);
    }

    #[test]
    fn changing_only_the_slice_of_a_ready_thread_keeps_its_place() {
        let mut scheduler = ready_scheduler(&[(1, 5, 5), (2, 5, 5)]);
        scheduler.set_parameters(1, 5, 10);
        assert_eq!(scheduler.queued_at(5).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(scheduler.remaining_ticks(1), Some(5));
    }

    #[test]
    fn a_plain_yield_sends_the_caller_to_the_tail_of_its_level() {
        let mut scheduler = ready_scheduler(&[(1, 5, 5), (2, 5, 5), (3, 5, 5)]);
        let running = scheduler.choose(None).unwrap();
        scheduler.tick(running);
        assert_eq!(scheduler.yield_to(running, None), Some(2));
        assert_eq!(scheduler.queued_at(5).collect::<Vec<_>>(), [3, 1]);
        assert_eq!(
            scheduler.remaining_ticks(1),
            Some(5),
            "the rest is forfeited"
        );
    }

    #[test]
    fn a_lone_thread_that_yields_runs_again() {
        let mut scheduler = ready_scheduler(&[(1, 5, 5)]);
        let running = scheduler.choose(None).unwrap();
        assert_eq!(scheduler.yield_to(running, None), Some(1));
        assert!(!scheduler.is_ready(1));
    }

    #[test]
    fn yielding_to_a_ready_thread_donates_the_rest_of_the_slice() {
        let mut scheduler = ready_scheduler(&[(1, 5, 4), (2, 5, 7), (3, 200, 7), (4, 1, 9)]);
        scheduler.make_blocked(3);
        let running = scheduler.choose(None).unwrap();
        assert_eq!(running, 1);
        scheduler.tick(1);
        // Donation ignores priority: the low-priority thread 4 runs next.
        assert_eq!(scheduler.yield_to(1, Some(4)), Some(4));
        assert_eq!(scheduler.remaining_ticks(4), Some(3));
        assert_eq!(scheduler.remaining_ticks(1), Some(4));
        assert_eq!(scheduler.queued_at(5).collect::<Vec<_>>(), [2, 1]);
        assert_eq!(timer_tick(&mut scheduler, 4), Some(4));
        assert_eq!(timer_tick(&mut scheduler, 4), Some(4));
        // The donated ticks are gone: normal scheduling resumes, 4 gets its own slice back.
        assert_eq!(timer_tick(&mut scheduler, 4), Some(2));
        assert_eq!(scheduler.remaining_ticks(4), Some(9));
    }

    #[test]
    fn yielding_to_a_thread_that_is_not_ready_is_a_plain_yield() {
        let mut scheduler = ready_scheduler(&[(1, 5, 5), (2, 5, 5)]);
        scheduler.add(3, 250, 5);
        let running = scheduler.choose(None).unwrap();
        assert_eq!(scheduler.yield_to(running, Some(3)), Some(2));
        assert_eq!(scheduler.yield_to(2, Some(2)), Some(1));
        assert_eq!(scheduler.yield_to(1, Some(77)), Some(2));
    }

    #[test]
    fn the_lowest_and_highest_levels_both_work() {
        let mut scheduler = ready_scheduler(&[(1, 0, 1), (2, 255, 1), (3, 63, 1), (4, 64, 1)]);
        assert_eq!(scheduler.choose(None), Some(2));
        assert_eq!(scheduler.choose(None), Some(4));
        assert_eq!(scheduler.choose(None), Some(3));
        assert_eq!(scheduler.choose(Some(2)), Some(2));
        assert_eq!(scheduler.choose(None), Some(1));
        assert_eq!(scheduler.choose(None), None);
        scheduler.make_ready(1);
        assert!(scheduler.preempts(2, 1));
        assert_eq!(scheduler.choose(Some(2)), Some(2));
        assert_eq!(scheduler.queued_at(0).collect::<Vec<_>>(), [1]);
    }

    /// The same rules, written with plain vectors and linear scans.
    #[derive(Default)]
    struct Model {
        /// (thread, priority, slice, remaining)
        threads: Vec<(u32, u8, u32, u32)>,
        /// Ready threads per level, head first.
        queues: Vec<Vec<u32>>,
    }

    impl Model {
        fn new() -> Self {
            Self {
                threads: Vec::new(),
                queues: vec![Vec::new(); PRIORITY_LEVELS],
            }
        }
        fn find(&self, thread: u32) -> Option<usize> {
            self.threads.iter().position(|entry| entry.0 == thread)
        }
        /// A thread is only ever queued at its own priority (`unqueue` runs before it changes).
        fn queued(&self, thread: u32) -> bool {
            self.find(thread).is_some_and(|index| {
                self.queues[usize::from(self.threads[index].1)].contains(&thread)
            })
        }
        fn unqueue(&mut self, thread: u32) {
            for queue in &mut self.queues {
                queue.retain(|&queued| queued != thread);
            }
        }
        fn enqueue(&mut self, thread: u32, at_head: bool) {
            let Some(index) = self.find(thread) else {
                return;
            };
            if self.queued(thread) {
                return;
            }
            let queue = &mut self.queues[usize::from(self.threads[index].1)];
            if at_head {
                queue.insert(0, thread);
            } else {
                queue.push(thread);
            }
        }
        fn add(&mut self, thread: u32, priority: u8, slice: u32) {
            self.remove(thread);
            let slice = slice.max(1);
            self.threads.push((thread, priority, slice, slice));
        }
        fn remove(&mut self, thread: u32) {
            self.unqueue(thread);
            self.threads.retain(|entry| entry.0 != thread);
        }
        fn highest(&self) -> Option<usize> {
            (0..PRIORITY_LEVELS)
                .rev()
                .find(|&level| !self.queues[level].is_empty())
        }
        fn choose(&mut self, current: Option<u32>) -> Option<u32> {
            let current =
                current.filter(|&thread| self.find(thread).is_some() && !self.queued(thread));
            let highest = self.highest();
            if let Some(thread) = current {
                let priority = usize::from(self.threads[self.find(thread).unwrap()].1);
                if highest.is_none_or(|level| level <= priority) {
                    return Some(thread);
                }
            }
            let chosen = self.queues[highest?].remove(0);
            if let Some(thread) = current {
                self.enqueue(thread, true);
            }
            Some(chosen)
        }
        fn tick(&mut self, thread: u32) -> TickOutcome {
            let Some(index) = self.find(thread) else {
                return TickOutcome::UnknownThread;
            };
            let entry = &mut self.threads[index];
            entry.3 -= 1;
            if entry.3 == 0 {
                entry.3 = entry.2;
                TickOutcome::SliceExpired
            } else {
                TickOutcome::SliceContinues {
                    remaining_ticks: entry.3,
                }
            }
        }
        fn set_parameters(&mut self, thread: u32, priority: u8, slice: u32) {
            let Some(index) = self.find(thread) else {
                return;
            };
            let slice = slice.max(1);
            let moves = self.queued(thread) && self.threads[index].1 != priority;
            if moves {
                self.unqueue(thread);
            }
            let entry = &mut self.threads[index];
            entry.1 = priority;
            entry.2 = slice;
            entry.3 = entry.3.min(slice);
            if moves {
                self.enqueue(thread, false);
            }
        }
        fn yield_to(&mut self, current: u32, target: Option<u32>) -> Option<u32> {
            let mut donated = None;
            if let Some(index) = self.find(current) {
                donated = Some(self.threads[index].3);
                self.threads[index].3 = self.threads[index].2;
            }
            self.enqueue(current, false);
            if let Some(target) = target.filter(|&target| target != current && self.queued(target))
            {
                self.unqueue(target);
                if let (Some(ticks), Some(index)) = (donated, self.find(target)) {
                    self.threads[index].3 = ticks;
                }
                return Some(target);
            }
            self.choose(None)
        }
    }

    #[test]
    fn random_operations_match_a_simple_model() {
        let mut scheduler: Scheduler<u32> = Scheduler::new();
        let mut model = Model::new();
        let mut current: Option<u32> = None;
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        // Few levels, including both ends, so that round robin and preemption both happen.
        let levels = [0u8, 1, 63, 64, 127, 200, 255];
        for step in 0..20_000 {
            let thread = (next() % 24) as u32;
            let priority = levels[(next() % levels.len() as u64) as usize];
            let slice = (next() % 4) as u32;
            match next() % 10 {
                0 => {
                    scheduler.add(thread, priority, slice);
                    model.add(thread, priority, slice);
                    if current == Some(thread) {
                        current = None;
                    }
                }
                1 => {
                    scheduler.remove(thread);
                    model.remove(thread);
                    if current == Some(thread) {
                        current = None;
                    }
                }
                2 | 3 => {
                    if current != Some(thread) {
                        scheduler.make_ready(thread);
                        model.enqueue(thread, false);
                        if let Some(running) = current
                            && scheduler.preempts(thread, running)
                        {
                            let chosen = scheduler.choose(current);
                            assert_eq!(chosen, model.choose(current), "step {step}");
                            current = chosen;
                        }
                    }
                }
                4 => {
                    scheduler.make_blocked(thread);
                    model.unqueue(thread);
                    if current == Some(thread) {
                        current = None;
                    }
                }
                5 => {
                    let chosen = scheduler.choose(current);
                    assert_eq!(chosen, model.choose(current), "step {step}");
                    current = chosen;
                }
                6 | 7 => {
                    if let Some(running) = current {
                        let outcome = scheduler.tick(running);
                        assert_eq!(outcome, model.tick(running), "step {step}");
                        if outcome == TickOutcome::SliceExpired {
                            scheduler.make_ready(running);
                            model.enqueue(running, false);
                            current = None;
                        }
                    }
                    let chosen = scheduler.choose(current);
                    assert_eq!(chosen, model.choose(current), "step {step}");
                    current = chosen;
                }
                8 => {
                    scheduler.set_parameters(thread, priority, slice);
                    model.set_parameters(thread, priority, slice);
                    let chosen = scheduler.choose(current);
                    assert_eq!(chosen, model.choose(current), "step {step}");
                    current = chosen;
                }
                _ => {
                    if let Some(running) = current {
                        let target = (next() % 2 == 0).then_some(thread);
                        let chosen = scheduler.yield_to(running, target);
                        assert_eq!(chosen, model.yield_to(running, target), "step {step}");
                        current = chosen;
                    }
                }
            }
            // The levels in use every step, all of them now and then (they must stay empty).
            let checked: Vec<u8> = if step % 1000 == 0 {
                (0..=255).collect()
            } else {
                levels.to_vec()
            };
            for level in checked {
                assert_eq!(
                    scheduler.queued_at(level).collect::<Vec<_>>(),
                    model.queues[usize::from(level)],
                    "step {step} level {level}"
                );
            }
            for thread in 0..24 {
                let index = model.find(thread);
                assert_eq!(scheduler.is_ready(thread), model.queued(thread));
                assert_eq!(
                    scheduler.priority(thread),
                    index.map(|i| model.threads[i].1)
                );
                assert_eq!(
                    scheduler.remaining_ticks(thread),
                    index.map(|i| model.threads[i].3)
                );
            }
            if let Some(running) = current {
                assert!(
                    !scheduler.is_ready(running),
                    "the running thread is never queued"
                );
            }
        }
    }
}
