//! IPC timeouts: which blocked thread gives up waiting at which timer tick.
//!
//! Why a deadline-ordered set plus a reverse map: the timer interrupt needs "everything due by
//! now, earliest first" and "when is the next one due" (to program the timer), which an ordered
//! set of `(deadline, thread)` answers from its front; and most timeouts never fire, because the
//! partner arrives first, so *cancelling* must be cheap too. The map from thread to deadline
//! finds the set entry to remove, making arm, cancel and each expiry O(log n). A timer wheel
//! would make arming O(1) but needs a fixed horizon and a sweep per tick; the numbers of
//! blocked threads here do not justify it.
//!
//! Deadlines are absolute, in ticks of whatever clock the caller uses (the periodic timer
//! interrupt, or the system counter itself); [`deadline_after`] converts a relative L4 timeout
//! in microseconds. A thread has at most one deadline: it can only block in one IPC at a time.

use alloc::collections::{BTreeMap, BTreeSet};
use core::fmt::Debug;

const MICROSECONDS_PER_SECOND: u128 = 1_000_000;

/// The pending timeouts of threads named by `T`.
#[derive(Debug)]
pub struct Timeouts<T> {
    /// Ordered by deadline, then by thread (so two threads due at one tick expire in thread
    /// order, deterministically).
    by_deadline: BTreeSet<(u64, T)>,
    by_thread: BTreeMap<T, u64>,
}

impl<T: Copy + Ord + Debug> Default for Timeouts<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy + Ord + Debug> Timeouts<T> {
    /// No pending timeouts.
    pub const fn new() -> Self {
        Self {
            by_deadline: BTreeSet::new(),
            by_thread: BTreeMap::new(),
        }
    }

    /// Makes `thread` time out at tick `deadline`, replacing any deadline it had.
    pub fn arm(&mut self, thread: T, deadline: u64) {
        self.cancel(thread);
        self.by_deadline.insert((deadline, thread));
        self.by_thread.insert(thread, deadline);
    }

    /// Removes `thread`'s timeout (its IPC partner arrived, or it was deleted). Returns whether
    /// it had one.
    pub fn cancel(&mut self, thread: T) -> bool {
        match self.by_thread.remove(&thread) {
            Some(deadline) => {
                self.by_deadline.remove(&(deadline, thread));
                true
            }
            None => false,
        }
    }

    /// Hands every thread whose deadline is `<= now` to `on_expiry`, earliest deadline first
    /// (ties in thread order). Each thread's timeout is removed *before* its callback runs, so
    /// the callback sees a consistent state and a thread is reported once.
    pub fn expire(&mut self, now: u64, mut on_expiry: impl FnMut(T)) {
        while let Some(&(deadline, thread)) = self.by_deadline.first() {
            if deadline > now {
                break;
            }
            self.by_deadline.pop_first();
            self.by_thread.remove(&thread);
            on_expiry(thread);
        }
    }

    /// The earliest pending deadline, to program the next timer interrupt; `None` if nothing
    /// is pending.
    pub fn next_deadline(&self) -> Option<u64> {
        self.by_deadline.first().map(|&(deadline, _)| deadline)
    }

    /// `thread`'s pending deadline, if it has one.
    pub fn deadline_of(&self, thread: T) -> Option<u64> {
        self.by_thread.get(&thread).copied()
    }

    /// Number of pending timeouts.
    pub fn len(&self) -> usize {
        self.by_thread.len()
    }

    /// Whether no timeout is pending.
    pub fn is_empty(&self) -> bool {
        self.by_thread.is_empty()
    }
}

/// The absolute deadline, in ticks, of a timeout `microseconds` after `now_tick` on a clock of
/// `ticks_per_second`.
///
/// The duration is rounded *up* to whole ticks, so a timeout never expires before its duration
/// has passed on the tick clock: 1 µs at 100 Hz is one tick. Everything saturates at
/// `u64::MAX`, which callers may treat as "never" (that many ticks of a 1 GHz clock is 584
/// years). A zero duration gives `now_tick` itself (already due). A clock of zero ticks per
/// second is a configuration error; its durations are zero ticks, so the result is `now_tick`.
///
/// The rounding cannot see where between two ticks "now" lies. If `now_tick` counts periodic
/// timer interrupts, a timeout of `d` ticks may fire up to one tick period early, measured in
/// real time from the call; a caller that must never fire early either passes the system
/// counter as the clock (phase error of one counter period) or adds one tick.
pub fn deadline_after(now_tick: u64, microseconds: u64, ticks_per_second: u64) -> u64 {
    let exact = u128::from(microseconds) * u128::from(ticks_per_second);
    let ticks = exact.div_ceil(MICROSECONDS_PER_SECOND);
    let ticks = u64::try_from(ticks).unwrap_or(u64::MAX);
    now_tick.saturating_add(ticks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn expired(timeouts: &mut Timeouts<u32>, now: u64) -> Vec<u32> {
        let mut threads = Vec::new();
        timeouts.expire(now, |thread| threads.push(thread));
        threads
    }

    #[test]
    fn nothing_expires_before_its_deadline_and_everything_due_expires_in_deadline_order() {
        let mut timeouts = Timeouts::new();
        timeouts.arm(1, 30);
        timeouts.arm(2, 10);
        timeouts.arm(3, 20);
        timeouts.arm(4, 40);
        assert_eq!(timeouts.next_deadline(), Some(10));
        assert_eq!(expired(&mut timeouts, 9), []);
        assert_eq!(expired(&mut timeouts, 30), [2, 3, 1]);
        assert_eq!(timeouts.next_deadline(), Some(40));
        assert_eq!(timeouts.len(), 1);
        assert_eq!(expired(&mut timeouts, u64::MAX), [4]);
        assert!(timeouts.is_empty());
        assert_eq!(timeouts.next_deadline(), None);
    }

    #[test]
    fn a_deadline_equal_to_now_expires() {
        let mut timeouts = Timeouts::new();
        timeouts.arm(1, 5);
        assert_eq!(expired(&mut timeouts, 5), [1]);
    }

    #[test]
    fn rearming_replaces_the_earlier_deadline() {
        let mut timeouts = Timeouts::new();
        timeouts.arm(1, 10);
        timeouts.arm(1, 50);
        assert_eq!(timeouts.deadline_of(1), Some(50));
        assert_eq!(timeouts.len(), 1);
        assert_eq!(expired(&mut timeouts, 20), []);
        timeouts.arm(1, 15);
        assert_eq!(timeouts.next_deadline(), Some(15));
        assert_eq!(expired(&mut timeouts, 20), [1]);
        assert_eq!(expired(&mut timeouts, 100), []);
    }

    #[test]
    fn a_cancelled_timeout_never_expires() {
        let mut timeouts = Timeouts::new();
        timeouts.arm(1, 10);
        timeouts.arm(2, 10);
        assert!(timeouts.cancel(1));
        assert!(!timeouts.cancel(1));
        assert!(!timeouts.cancel(7));
        assert_eq!(timeouts.deadline_of(1), None);
        assert_eq!(expired(&mut timeouts, 100), [2]);
    }

    #[test]
    fn two_threads_with_the_same_deadline_both_expire_in_thread_order() {
        let mut timeouts = Timeouts::new();
        timeouts.arm(9, 10);
        timeouts.arm(3, 10);
        assert_eq!(timeouts.len(), 2);
        assert_eq!(expired(&mut timeouts, 10), [3, 9]);
    }

    #[test]
    fn each_timeout_is_removed_before_its_callback_runs() {
        let mut timeouts = Timeouts::new();
        timeouts.arm(1, 1);
        timeouts.arm(2, 2);
        let mut seen_pending = Vec::new();
        let mut pending = timeouts.len();
        timeouts.expire(2, |_| {
            pending -= 1;
            seen_pending.push(pending);
        });
        assert_eq!(seen_pending, [1, 0]);
        assert!(timeouts.is_empty());
    }

    #[test]
    fn microseconds_round_up_to_the_next_whole_tick() {
        assert_eq!(deadline_after(1000, 1, 100), 1001);
        assert_eq!(deadline_after(1000, 10_000, 100), 1001);
        assert_eq!(deadline_after(1000, 10_001, 100), 1002);
        assert_eq!(deadline_after(0, 1_000_000, 62_500_000), 62_500_000);
        assert_eq!(deadline_after(0, 1, 62_500_000), 63);
        assert_eq!(deadline_after(7, 0, 100), 7);
        assert_eq!(deadline_after(7, 5, 0), 7);
    }

    #[test]
    fn deadlines_saturate_instead_of_wrapping() {
        assert_eq!(deadline_after(u64::MAX - 1, 1_000_000, 100), u64::MAX);
        assert_eq!(deadline_after(0, u64::MAX, u64::MAX), u64::MAX);
        assert_eq!(deadline_after(u64::MAX, 1, 1), u64::MAX);
    }

    #[test]
    fn random_operations_match_a_simple_model() {
        let mut timeouts = Timeouts::new();
        let mut model: Vec<(u32, u64)> = Vec::new();
        let mut state = 0x1234_5678_9ABC_DEF1u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut now = 0u64;
        for _ in 0..10_000 {
            let thread = (next() % 32) as u32;
            match next() % 4 {
                0 | 1 => {
                    let deadline = now + next() % 50;
                    timeouts.arm(thread, deadline);
                    model.retain(|entry| entry.0 != thread);
                    model.push((thread, deadline));
                }
                2 => {
                    let had = model.iter().any(|entry| entry.0 == thread);
                    model.retain(|entry| entry.0 != thread);
                    assert_eq!(timeouts.cancel(thread), had);
                }
                _ => {
                    now += next() % 10;
                    let mut due: Vec<(u64, u32)> = model
                        .iter()
                        .filter(|entry| entry.1 <= now)
                        .map(|&(thread, deadline)| (deadline, thread))
                        .collect();
                    due.sort();
                    model.retain(|entry| entry.1 > now);
                    let expected: Vec<u32> = due.into_iter().map(|entry| entry.1).collect();
                    assert_eq!(expired(&mut timeouts, now), expected);
                }
            }
            assert_eq!(timeouts.len(), model.len());
            assert_eq!(
                timeouts.next_deadline(),
                model.iter().map(|entry| entry.1).min()
            );
            for &(thread, deadline) in &model {
                assert_eq!(timeouts.deadline_of(thread), Some(deadline));
            }
        }
    }
}
