//! Thread IDs: task number, thread number and version in one 64-bit word.
//!
//! A thread ID is what every call names its partner with, so it must be cheap to pass (one
//! register), cheap to check (a compare against the stored ID catches a stale version),
//! and unambiguous. Layout:
//!
//! ```text
//!  63        48 47        32 31       20 19                0
//! +------------+------------+-----------+-------------------+
//! |  0 (16)    |  task (16) | thread(12)|   version (20)    |
//! +------------+------------+-----------+-------------------+
//! ```
//!
//! - **task**: the address space (1 to 65535). Task 0 is the kernel's: its only IDs are
//!   the interrupt IDs.
//! - **thread**: the thread within its task (0 to 4095); the task's UTCB area holds the
//!   thread's UTCB at `area base + thread * 4 KiB`.
//! - **version**: the incarnation of the task, chosen by task_new's caller (1 to 2^20 - 1).
//!   All threads of a task share it. Deleting and re-creating a task with a new version
//!   makes old IDs stale: the kernel compares the whole word. Version 0 is never a live
//!   thread, so that an ID built from task and thread numbers alone names nothing.
//!
//! Special values: [`ThreadId::NIL`] (0: "no thread") and [`ThreadId::ANY`] (all ones, only
//! valid as an ipc receive specifier: "from anyone"). An interrupt is the thread ID task 0,
//! thread = GIC interrupt ID (INTID 0 to 1019), version 1: a driver receives an empty
//! message from it when the interrupt fires.
//!
//! Every `ThreadId` value in this crate is valid: [`ThreadId::try_from`] checks reserved
//! bits and the rules above, so the kernel decodes a register once and then trusts it.

use core::fmt;

use crate::error::CallError;

/// A thread ID: task, thread and version. See the module documentation for the layout.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ThreadId(u64);

/// Why a value is not a thread ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ThreadIdError {
    /// Bits 63..48 are not zero (and the value is not [`ThreadId::ANY`]).
    ReservedBitsSet,
    /// The thread number does not fit in 12 bits.
    ThreadNumberTooLarge,
    /// The version does not fit in 20 bits.
    VersionTooLarge,
    /// Version 0 names no thread (task numbers 1 and up).
    VersionZero,
    /// Task 0 belongs to the kernel: its only IDs are interrupt IDs (version 1, thread at
    /// most 1019).
    KernelTask,
    /// The interrupt number is above 1019, the largest GIC INTID for an SPI.
    InterruptNumberTooLarge,
}

impl fmt::Display for ThreadIdError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            ThreadIdError::ReservedBitsSet => "reserved bits 63..48 of a thread ID are set",
            ThreadIdError::ThreadNumberTooLarge => "thread number above 4095",
            ThreadIdError::VersionTooLarge => "version above 2^20 - 1",
            ThreadIdError::VersionZero => "version 0 names no thread",
            ThreadIdError::KernelTask => "task 0 holds only interrupt IDs",
            ThreadIdError::InterruptNumberTooLarge => "interrupt number above 1019",
        })
    }
}

impl From<ThreadIdError> for CallError {
    /// A malformed thread ID is the caller's invalid argument.
    fn from(_: ThreadIdError) -> CallError {
        CallError::InvalidArgument
    }
}

impl ThreadId {
    /// No thread: "no send phase" as an ipc destination, "no receive phase" as a receive
    /// specifier, "none" as a pager or exception handler.
    pub const NIL: ThreadId = ThreadId(0);
    /// Any thread: only as an ipc receive specifier (open wait).
    pub const ANY: ThreadId = ThreadId(u64::MAX);

    /// Bit position of the version field.
    pub const VERSION_SHIFT: u32 = 0;
    /// Width of the version field.
    pub const VERSION_BITS: u32 = 20;
    /// Bit position of the thread number field.
    pub const THREAD_SHIFT: u32 = 20;
    /// Width of the thread number field.
    pub const THREAD_BITS: u32 = 12;
    /// Bit position of the task number field.
    pub const TASK_SHIFT: u32 = 32;
    /// Width of the task number field.
    pub const TASK_BITS: u32 = 16;
    /// Bits that must be zero in every thread ID but [`ThreadId::ANY`].
    pub const RESERVED_MASK: u64 = 0xFFFF_0000_0000_0000;

    /// The largest version.
    pub const MAX_VERSION: u32 = (1 << ThreadId::VERSION_BITS) - 1;
    /// The largest thread number in a task; a task has at most 4096 threads.
    pub const MAX_THREAD: u16 = (1 << ThreadId::THREAD_BITS) - 1;
    /// The largest task number.
    pub const MAX_TASK: u16 = u16::MAX;
    /// The kernel's task number; its thread IDs are the interrupt IDs.
    pub const KERNEL_TASK: u16 = 0;
    /// The version of every interrupt ID.
    pub const INTERRUPT_VERSION: u32 = 1;
    /// The largest interrupt number: GIC INTIDs 1020 to 1023 are special, and larger ones
    /// (LPIs) are not supported.
    pub const MAX_INTERRUPT: u16 = 1019;

    /// sigma0's first thread, started by the kernel at boot: task 1, thread 0, version 1.
    pub const SIGMA0: ThreadId = ThreadId::from_fields(1, 0, 1);
    /// The root task's first thread, started by the kernel at boot: task 2, thread 0,
    /// version 1. Every task number from [`ThreadId::FIRST_FREE_TASK`] on is initially an
    /// inactive task owned by the root task.
    pub const ROOT_TASK: ThreadId = ThreadId::from_fields(2, 0, 1);
    /// The first task number that no boot task uses.
    pub const FIRST_FREE_TASK: u16 = 3;

    const fn from_fields(task: u16, thread: u16, version: u32) -> ThreadId {
        ThreadId(
            ((task as u64) << ThreadId::TASK_SHIFT)
                | ((thread as u64) << ThreadId::THREAD_SHIFT)
                | ((version as u64) << ThreadId::VERSION_SHIFT),
        )
    }

    /// The ID of thread `thread` of task `task` (1 and up) in incarnation `version`.
    pub const fn new(task: u16, thread: u16, version: u32) -> Result<ThreadId, ThreadIdError> {
        if task == ThreadId::KERNEL_TASK {
            return Err(ThreadIdError::KernelTask);
        }
        if thread > ThreadId::MAX_THREAD {
            return Err(ThreadIdError::ThreadNumberTooLarge);
        }
        if version > ThreadId::MAX_VERSION {
            return Err(ThreadIdError::VersionTooLarge);
        }
        if version == 0 {
            return Err(ThreadIdError::VersionZero);
        }
        Ok(ThreadId::from_fields(task, thread, version))
    }

    /// The ID of GIC interrupt `number` (INTID 0 to 1019).
    pub const fn interrupt(number: u16) -> Result<ThreadId, ThreadIdError> {
        if number > ThreadId::MAX_INTERRUPT {
            return Err(ThreadIdError::InterruptNumberTooLarge);
        }
        Ok(ThreadId::from_fields(
            ThreadId::KERNEL_TASK,
            number,
            ThreadId::INTERRUPT_VERSION,
        ))
    }

    /// Wraps a value that came from the kernel (x8 after ipc, the UTCB's `my_thread_id`)
    /// without checking it. Values that come from user space are decoded with
    /// [`ThreadId::try_from`].
    pub const fn from_raw(raw: u64) -> ThreadId {
        ThreadId(raw)
    }

    /// Checks and wraps a register value; see the module documentation for the rules.
    pub const fn decode(raw: u64) -> Result<ThreadId, ThreadIdError> {
        if raw == 0 || raw == u64::MAX {
            return Ok(ThreadId(raw));
        }
        if raw & ThreadId::RESERVED_MASK != 0 {
            return Err(ThreadIdError::ReservedBitsSet);
        }
        let id = ThreadId(raw);
        if id.task() == ThreadId::KERNEL_TASK {
            if id.version() != ThreadId::INTERRUPT_VERSION {
                return Err(ThreadIdError::KernelTask);
            }
            if id.thread() > ThreadId::MAX_INTERRUPT {
                return Err(ThreadIdError::InterruptNumberTooLarge);
            }
        } else if id.version() == 0 {
            return Err(ThreadIdError::VersionZero);
        }
        Ok(id)
    }

    /// The register value.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// The task number (0 for nil and interrupts).
    pub const fn task(self) -> u16 {
        ((self.0 >> ThreadId::TASK_SHIFT) & 0xFFFF) as u16
    }

    /// The thread number within the task (the INTID for an interrupt).
    pub const fn thread(self) -> u16 {
        ((self.0 >> ThreadId::THREAD_SHIFT) & ThreadId::MAX_THREAD as u64) as u16
    }

    /// The version.
    pub const fn version(self) -> u32 {
        ((self.0 >> ThreadId::VERSION_SHIFT) & ThreadId::MAX_VERSION as u64) as u32
    }

    /// Whether this is [`ThreadId::NIL`].
    pub const fn is_nil(self) -> bool {
        self.0 == ThreadId::NIL.0
    }

    /// Whether this is [`ThreadId::ANY`].
    pub const fn is_any(self) -> bool {
        self.0 == ThreadId::ANY.0
    }

    /// Whether this names an interrupt.
    pub const fn is_interrupt(self) -> bool {
        !self.is_nil() && !self.is_any() && self.task() == ThreadId::KERNEL_TASK
    }

    /// Whether this names a thread of a user task (neither nil, any, nor an interrupt).
    pub const fn is_user_thread(self) -> bool {
        !self.is_nil() && !self.is_any() && self.task() != ThreadId::KERNEL_TASK
    }

    /// The GIC INTID, if this names an interrupt.
    pub const fn interrupt_number(self) -> Option<u16> {
        if self.is_interrupt() {
            Some(self.thread())
        } else {
            None
        }
    }

    /// Whether both name threads of the same incarnation of the same user task.
    pub const fn same_task(self, other: ThreadId) -> bool {
        self.is_user_thread()
            && other.is_user_thread()
            && self.task() == other.task()
            && self.version() == other.version()
    }

    /// Another thread of the same task incarnation (same task and version).
    pub const fn with_thread(self, thread: u16) -> Result<ThreadId, ThreadIdError> {
        ThreadId::new(self.task(), thread, self.version())
    }

    /// The same task and thread in another incarnation.
    pub const fn with_version(self, version: u32) -> Result<ThreadId, ThreadIdError> {
        ThreadId::new(self.task(), self.thread(), version)
    }

    /// The version that follows `version` for a re-created task: counts up and wraps from
    /// [`ThreadId::MAX_VERSION`] to 1, skipping 0. (After 2^20 - 1 re-creations an old ID
    /// can become valid again; a task number's owner that cares keeps its own count.)
    pub const fn next_version(version: u32) -> u32 {
        if version >= ThreadId::MAX_VERSION {
            1
        } else {
            version + 1
        }
    }
}

impl TryFrom<u64> for ThreadId {
    type Error = ThreadIdError;

    fn try_from(raw: u64) -> Result<ThreadId, ThreadIdError> {
        ThreadId::decode(raw)
    }
}

impl From<ThreadId> for u64 {
    fn from(id: ThreadId) -> u64 {
        id.raw()
    }
}

impl fmt::Display for ThreadId {
    /// `nil`, `any`, `irq33`, or `task.thread/vversion` in decimal, e.g. `3.1/v7`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_nil() {
            formatter.write_str("nil")
        } else if self.is_any() {
            formatter.write_str("any")
        } else if let Some(number) = self.interrupt_number() {
            write!(formatter, "irq{number}")
        } else {
            write!(
                formatter,
                "{}.{}/v{}",
                self.task(),
                self.thread(),
                self.version()
            )
        }
    }
}

impl fmt::Debug for ThreadId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "ThreadId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_through_the_word() {
        let id = ThreadId::new(3, 1, 7).unwrap();
        assert_eq!(id.raw(), 0x0000_0003_0010_0007);
        assert_eq!((id.task(), id.thread(), id.version()), (3, 1, 7));
        assert_eq!(ThreadId::try_from(id.raw()), Ok(id));
        assert!(id.is_user_thread() && !id.is_interrupt() && !id.is_nil());
    }

    #[test]
    fn the_largest_task_thread_and_version_fit() {
        let id = ThreadId::new(u16::MAX, 4095, 0xF_FFFF).unwrap();
        assert_eq!(id.raw(), 0x0000_FFFF_FFFF_FFFF);
        assert_eq!(
            (id.task(), id.thread(), id.version()),
            (65535, 4095, 0xF_FFFF)
        );
        assert_eq!(ThreadId::try_from(id.raw()), Ok(id));
    }

    #[test]
    fn out_of_range_fields_are_rejected() {
        assert_eq!(
            ThreadId::new(1, 4096, 1),
            Err(ThreadIdError::ThreadNumberTooLarge)
        );
        assert_eq!(
            ThreadId::new(1, 0, 0x10_0000),
            Err(ThreadIdError::VersionTooLarge)
        );
        assert_eq!(ThreadId::new(1, 0, 0), Err(ThreadIdError::VersionZero));
        assert_eq!(ThreadId::new(0, 5, 1), Err(ThreadIdError::KernelTask));
    }

    #[test]
    fn decoding_rejects_reserved_bits_but_accepts_nil_and_any() {
        assert_eq!(ThreadId::try_from(0), Ok(ThreadId::NIL));
        assert_eq!(ThreadId::try_from(u64::MAX), Ok(ThreadId::ANY));
        assert_eq!(
            ThreadId::try_from(1 << 48 | 0x1_0010_0001),
            Err(ThreadIdError::ReservedBitsSet)
        );
        assert_eq!(
            ThreadId::try_from(u64::MAX - 1),
            Err(ThreadIdError::ReservedBitsSet)
        );
        assert_eq!(
            ThreadId::try_from(0x5_0010_0000),
            Err(ThreadIdError::VersionZero)
        );
    }

    #[test]
    fn task_zero_holds_only_interrupt_ids() {
        // Thread 5 of task 0 with version 2: not an interrupt, not anything.
        assert_eq!(
            ThreadId::try_from(0x0050_0002),
            Err(ThreadIdError::KernelTask)
        );
        // INTID 1020 is beyond the SPI range.
        assert_eq!(
            ThreadId::try_from(1020 << 20 | 1),
            Err(ThreadIdError::InterruptNumberTooLarge)
        );
    }

    #[test]
    fn interrupt_ids_are_task_zero_version_one() {
        let timer = ThreadId::interrupt(27).unwrap();
        assert_eq!(timer.raw(), 27 << 20 | 1);
        assert!(timer.is_interrupt() && !timer.is_user_thread());
        assert_eq!(timer.interrupt_number(), Some(27));
        assert_eq!(ThreadId::try_from(timer.raw()), Ok(timer));

        let first = ThreadId::interrupt(0).unwrap();
        assert_eq!(first.raw(), 1);
        assert!(first.is_interrupt() && !first.is_nil());

        let last = ThreadId::interrupt(1019).unwrap();
        assert_eq!(last.interrupt_number(), Some(1019));
        assert_eq!(
            ThreadId::interrupt(1020),
            Err(ThreadIdError::InterruptNumberTooLarge)
        );
        assert_eq!(ThreadId::SIGMA0.interrupt_number(), None);
    }

    #[test]
    fn nil_and_any_are_neither_user_threads_nor_interrupts() {
        for id in [ThreadId::NIL, ThreadId::ANY] {
            assert!(!id.is_interrupt() && !id.is_user_thread());
            assert_eq!(id.interrupt_number(), None);
        }
        assert!(ThreadId::NIL.is_nil() && ThreadId::ANY.is_any());
        assert_eq!(ThreadId::default(), ThreadId::NIL);
    }

    #[test]
    fn versions_wrap_from_the_largest_to_one_skipping_zero() {
        assert_eq!(ThreadId::next_version(1), 2);
        assert_eq!(ThreadId::next_version(0), 1);
        assert_eq!(ThreadId::next_version(ThreadId::MAX_VERSION - 1), 0xF_FFFF);
        assert_eq!(ThreadId::next_version(ThreadId::MAX_VERSION), 1);
        let old = ThreadId::new(9, 0, ThreadId::MAX_VERSION).unwrap();
        let new = old
            .with_version(ThreadId::next_version(old.version()))
            .unwrap();
        assert_eq!(new, ThreadId::new(9, 0, 1).unwrap());
        assert_ne!(old, new);
    }

    #[test]
    fn threads_of_one_incarnation_share_task_and_version() {
        let first = ThreadId::new(4, 0, 3).unwrap();
        let second = first.with_thread(1).unwrap();
        assert!(first.same_task(second));
        assert!(!first.same_task(first.with_version(4).unwrap()));
        assert!(!first.same_task(ThreadId::new(5, 0, 3).unwrap()));
        assert_eq!(
            first.with_thread(4096),
            Err(ThreadIdError::ThreadNumberTooLarge)
        );
    }

    #[test]
    fn the_boot_tasks_have_fixed_ids() {
        assert_eq!(ThreadId::SIGMA0, ThreadId::new(1, 0, 1).unwrap());
        assert_eq!(ThreadId::ROOT_TASK, ThreadId::new(2, 0, 1).unwrap());
        assert!(ThreadId::FIRST_FREE_TASK > ThreadId::ROOT_TASK.task());
    }

    #[test]
    fn ids_display_as_task_thread_and_version() {
        assert_eq!(ThreadId::new(3, 1, 7).unwrap().to_string(), "3.1/v7");
        assert_eq!(ThreadId::interrupt(33).unwrap().to_string(), "irq33");
        assert_eq!(ThreadId::NIL.to_string(), "nil");
        assert_eq!(ThreadId::ANY.to_string(), "any");
        assert_eq!(format!("{:?}", ThreadId::SIGMA0), "ThreadId(1.0/v1)");
    }
}
