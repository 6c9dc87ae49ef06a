//! The thread table: thread control blocks in slots, each TCB at an address that never
//! changes while the thread exists.
//!
//! The general path finds a thread by slot ([`ThreadTable::get`], [`ThreadTable::get_mut`]).
//! The IPC fastpath finds its destination through a cache of TCB addresses
//! (`fastpath::IdCache`) and reaches both TCBs without an index, a bounds check or a
//! discriminant: the cost Liedtke's "Improving IPC by Kernel Design" removes by addressing
//! TCBs directly. So a TCB is allocated on its own and the table keeps only its address: a
//! growing table moves no TCB.
//!
//! The table owns every TCB as a `Box` would (allocated by `Box::into_raw`, freed by
//! `Box::from_raw` on removal or drop) but stores raw pointers, so that the addresses the
//! cache keeps stay valid to use next to the table's own accesses. References handed out
//! borrow the table, so safe code never holds two to the same TCB; [`ThreadTable::pointer`]
//! gives the address itself to the one unsafe user, the fastpath, which holds `&mut` to the
//! whole kernel while it dereferences.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::ptr::NonNull;

use super::{Thread, ThreadSlot};

/// The address of a live TCB of the table, as the fastpath keeps it (the ID cache, the
/// running thread). Only an address: using it is unsafe, and valid only while the thread
/// exists.
/// `repr(transparent)` over `NonNull`, so that `Option<TcbAddress>` is a nullable pointer
/// (the layout the fastpath's asm reads and writes).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct TcbAddress(NonNull<Thread>);

// SAFETY: an address into the thread table, which is `Send`; it is dereferenced only by the
// fastpath through `&mut Kernel`, which owns the table, so it gives no other CPU access.
unsafe impl Send for TcbAddress {}

impl TcbAddress {
    pub(super) fn as_ptr(self) -> *mut Thread {
        self.0.as_ptr()
    }
}

/// Thread control blocks by slot; slots of deleted threads are reused.
pub(super) struct ThreadTable {
    slots: Vec<Option<NonNull<Thread>>>,
    free: Vec<ThreadSlot>,
}

// SAFETY: the table owns its TCBs exclusively, as `Vec<Option<Box<Thread>>>` would, and
// `Thread` is `Send`; moving the table to another CPU moves that ownership with it.
unsafe impl Send for ThreadTable {}

impl ThreadTable {
    pub(super) const fn new() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    /// The slot the next [`insert`](Self::insert) will use, or `None` if there are already
    /// `u32::MAX` slots (slot `u32::MAX` is never used: the kernel's "no thread").
    pub(super) fn next_slot(&self) -> Option<ThreadSlot> {
        match self.free.last() {
            Some(&slot) => Some(slot),
            None => u32::try_from(self.slots.len())
                .ok()
                .filter(|&index| index != u32::MAX)
                .map(ThreadSlot),
        }
    }

    /// Store `thread` in the slot [`next_slot`](Self::next_slot) named; returns its address.
    ///
    /// # Panics
    /// If there is no next slot (callers ask [`next_slot`](Self::next_slot) first).
    pub(super) fn insert(&mut self, thread: Thread) -> TcbAddress {
        let slot = self.next_slot().expect("the caller checked next_slot");
        let pointer = NonNull::from(Box::leak(Box::new(thread)));
        if self.free.last() == Some(&slot) {
            self.free.pop();
            self.slots[slot.index()] = Some(pointer);
        } else {
            self.slots.push(Some(pointer));
        }
        TcbAddress(pointer)
    }

    /// Take the thread out of `slot` (its address becomes invalid); the slot is reused.
    pub(super) fn remove(&mut self, slot: ThreadSlot) -> Option<Box<Thread>> {
        let pointer = self.slots.get_mut(slot.index())?.take()?;
        self.free.push(slot);
        // SAFETY: `pointer` came from `Box::leak` in `insert` and was just taken out of the
        // table, so this is its only owner; references into it borrowed the table and are gone.
        Some(unsafe { Box::from_raw(pointer.as_ptr()) })
    }

    /// The TCB's address, for the fastpath (see the module documentation).
    pub(super) fn pointer(&self, slot: ThreadSlot) -> Option<TcbAddress> {
        self.slots.get(slot.index())?.map(TcbAddress)
    }

    pub(super) fn get(&self, slot: ThreadSlot) -> Option<&Thread> {
        let pointer = (*self.slots.get(slot.index())?)?;
        // SAFETY: a live TCB the table owns; the reference borrows the table, so no `&mut`
        // from `get_mut` can exist at the same time.
        Some(unsafe { pointer.as_ref() })
    }

    pub(super) fn get_mut(&mut self, slot: ThreadSlot) -> Option<&mut Thread> {
        let mut pointer = (*self.slots.get(slot.index())?)?;
        // SAFETY: a live TCB the table owns; the reference borrows the table mutably, so it
        // is the only one.
        Some(unsafe { pointer.as_mut() })
    }

    /// Every thread with its slot, in slot order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (ThreadSlot, &Thread)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(index, pointer)| {
                // SAFETY: as in `get`.
                let thread = unsafe { pointer.as_ref()?.as_ref() };
                Some((ThreadSlot(index as u32), thread))
            })
    }
}

impl Drop for ThreadTable {
    fn drop(&mut self) {
        for pointer in self.slots.drain(..).flatten() {
            // SAFETY: as in `remove`: the table was the only owner.
            drop(unsafe { Box::from_raw(pointer.as_ptr()) });
        }
    }
}

impl fmt::Debug for ThreadTable {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::thread_id::ThreadId;

    fn thread(number: u16) -> Thread {
        let id = ThreadId::new(5, number, 1).unwrap();
        Thread::new(id, ThreadSlot(0), 0)
    }

    #[test]
    fn slots_are_reused_and_addresses_stay_put_while_the_table_grows() {
        let mut table = ThreadTable::new();
        let first = table.next_slot().unwrap();
        let address = table.insert(thread(0));
        for number in 1..100 {
            table.insert(thread(number));
        }
        assert_eq!(table.pointer(first), Some(address));
        assert_eq!(table.get(first).unwrap().id.thread(), 0);
        let removed = table.remove(ThreadSlot(7)).unwrap();
        assert_eq!(removed.id.thread(), 7);
        assert!(table.get(ThreadSlot(7)).is_none());
        assert_eq!(table.next_slot(), Some(ThreadSlot(7)));
        table.insert(thread(200));
        assert_eq!(table.get(ThreadSlot(7)).unwrap().id.thread(), 200);
        assert_eq!(table.iter().count(), 100);
        assert_eq!(table.next_slot(), Some(ThreadSlot(100)));
    }
}
