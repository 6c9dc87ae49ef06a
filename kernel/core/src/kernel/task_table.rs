//! The task table: tasks by number, kept in stable slots.
//!
//! Tasks are found by number (a 16-bit name from a thread ID) through an ordered map, as
//! before; the task itself lives in a slot of a vector that does not move while the task
//! exists. A thread records its task's slot, so the IPC fastpath reaches the destination's
//! address space with one index instead of a map walk. Slots of deleted tasks are reused.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::Task;

/// Tasks by number, in stable slots.
#[derive(Debug)]
pub(super) struct TaskTable<S> {
    numbers: BTreeMap<u16, u32>,
    slots: Vec<Option<Task<S>>>,
    free: Vec<u32>,
}

impl<S> TaskTable<S> {
    pub(super) fn new() -> Self {
        Self {
            numbers: BTreeMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Task `number`.
    pub(super) fn get(&self, number: &u16) -> Option<&Task<S>> {
        self.by_slot(*self.numbers.get(number)?)
    }

    /// Task `number`, mutably.
    pub(super) fn get_mut(&mut self, number: &u16) -> Option<&mut Task<S>> {
        let slot = *self.numbers.get(number)?;
        self.slots.get_mut(slot as usize)?.as_mut()
    }

    /// The task in `slot` (a thread's `task_slot`).
    pub(super) fn by_slot(&self, slot: u32) -> Option<&Task<S>> {
        self.slots.get(slot as usize)?.as_ref()
    }

    /// The slot of task `number`.
    pub(super) fn slot_of(&self, number: u16) -> Option<u32> {
        self.numbers.get(&number).copied()
    }

    pub(super) fn contains_key(&self, number: &u16) -> bool {
        self.numbers.contains_key(number)
    }

    pub(super) fn len(&self) -> usize {
        self.numbers.len()
    }

    /// Add task `number`, replacing one of that number if there was one.
    pub(super) fn insert(&mut self, number: u16, task: Task<S>) {
        if let Some(&slot) = self.numbers.get(&number)
            && let Some(entry) = self.slots.get_mut(slot as usize)
        {
            *entry = Some(task);
            return;
        }
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        if let Some(entry) = self.slots.get_mut(slot as usize) {
            *entry = Some(task);
            self.numbers.insert(number, slot);
        }
    }

    /// Take task `number` out; its slot becomes free.
    pub(super) fn remove(&mut self, number: &u16) -> Option<Task<S>> {
        let slot = self.numbers.remove(number)?;
        let task = self.slots.get_mut(slot as usize)?.take();
        self.free.push(slot);
        task
    }

    /// Every task with its number, in number order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&u16, &Task<S>)> {
        self.numbers
            .iter()
            .filter_map(|(number, &slot)| Some((number, self.by_slot(slot)?)))
    }
}
