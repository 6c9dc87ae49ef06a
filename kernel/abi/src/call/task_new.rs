//! task_new (`svc #7`): create a task with its first thread, delete a task, or hand an
//! inactive task number to another task.
//!
//! Task numbers are a resource: each inactive task number is *owned* by one task (at boot
//! the root task owns all from [`ThreadId::FIRST_FREE_TASK`] on). The owner creates the
//! task and becomes its *chief*; only the chief deletes it, which deletes every task in its
//! clan too and leaves all their numbers inactive and owned by the deleter. An owner can
//! hand an inactive number to another task, which is how a chief gives a sub-system the
//! numbers it may use.
//!
//! | register | in (create: x1 is not nil)           | in (delete: x1 is nil)          |
//! |----------|--------------------------------------|---------------------------------|
//! | x0       | first thread's ID: task, thread 0,   | the task (thread 0, its         |
//! |          | the new version                      | current version if active)      |
//! | x1       | pager of the first thread            | nil                             |
//! | x2       | instruction pointer                  | -                               |
//! | x3       | stack pointer                        | -                               |
//! | x4       | UTCB area (fpage)                    | -                               |
//! | x5       | kernel interface page (fpage or nil) | -                               |
//! | x6       | maximum controlled priority          | -                               |
//! | x7       | -                                    | new owner (nil: the caller)     |
//! | x8       | exception handler of first thread    | -                               |
//!
//! Out: x0 = the task's first thread ID, x9 = error code.

use crate::call::{CallRegisters, ERROR_REGISTER, ReturnRegisters};
use crate::error::{CallError, ReturnError};
use crate::message::{Fpage, PAGE_SIZE_LOG2};
use crate::thread_id::ThreadId;

/// What task_new creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TaskCreation {
    /// Task number, thread 0, and the version of the new incarnation.
    pub first_thread: ThreadId,
    /// The first thread's pager: receives its page faults.
    pub pager: ThreadId,
    /// Where the first thread starts.
    pub instruction_pointer: u64,
    /// Its initial SP_EL0.
    pub stack_pointer: u64,
    /// Where the UTCBs of the task's threads are mapped: thread n's at `base + n * 4 KiB`.
    /// Its size bounds the number of threads; its rights are ignored.
    pub utcb_area: Fpage,
    /// Where the kernel interface page is mapped read-only (one page), or nil for none.
    /// Its rights are ignored.
    pub kernel_interface_page: Fpage,
    /// The highest priority the new task may give its threads and those of its clan; at
    /// most the caller's own.
    pub maximum_controlled_priority: u8,
    /// The first thread's exception handler (nil: none).
    pub exception_handler: ThreadId,
}

/// What task_new deletes or hands over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TaskDeletion {
    /// Thread 0 of the task: with its current version if the task is active (delete it);
    /// any version if inactive (hand the number over).
    pub task: ThreadId,
    /// A thread of the task that will own the inactive number (nil: the caller's task).
    pub new_owner: ThreadId,
}

/// The arguments of task_new, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskNewArguments {
    /// x1 names a pager: create the task.
    Create(TaskCreation),
    /// x1 is nil: delete the task, or hand an inactive number over.
    Delete(TaskDeletion),
}

impl TaskNewArguments {
    /// Checks x0..x8. For a creation: thread 0 of a user task, a user-thread pager, a
    /// non-nil UTCB area that is not the complete fpage, a one-page (or nil) kernel
    /// interface page outside the UTCB area, a priority up to 255, a nil or user-thread
    /// exception handler. For a deletion: thread 0 of a user task and a nil or user-thread
    /// new owner; the other registers are ignored.
    pub const fn decode(registers: &CallRegisters) -> Result<TaskNewArguments, CallError> {
        let first_thread = match ThreadId::decode(registers[0]) {
            Ok(thread) if thread.is_user_thread() && thread.thread() == 0 => thread,
            _ => return Err(CallError::InvalidArgument),
        };
        let pager = match ThreadId::decode(registers[1]) {
            Ok(pager) if pager.is_nil() || pager.is_user_thread() => pager,
            _ => return Err(CallError::InvalidArgument),
        };
        if pager.is_nil() {
            return match ThreadId::decode(registers[7]) {
                Ok(new_owner) if new_owner.is_nil() || new_owner.is_user_thread() => {
                    Ok(TaskNewArguments::Delete(TaskDeletion {
                        task: first_thread,
                        new_owner,
                    }))
                }
                _ => Err(CallError::InvalidArgument),
            };
        }
        let utcb_area = match Fpage::decode(registers[4]) {
            Ok(area) if !area.is_nil() && !area.is_complete() => area,
            _ => return Err(CallError::InvalidArgument),
        };
        let kernel_interface_page = match Fpage::decode(registers[5]) {
            Ok(page) if page.is_nil() => page,
            Ok(page) if page.size_log2() == PAGE_SIZE_LOG2 && !page.overlaps(utcb_area) => page,
            _ => return Err(CallError::InvalidArgument),
        };
        if registers[6] > u8::MAX as u64 {
            return Err(CallError::InvalidArgument);
        }
        let exception_handler = match ThreadId::decode(registers[8]) {
            Ok(handler) if handler.is_nil() || handler.is_user_thread() => handler,
            _ => return Err(CallError::InvalidArgument),
        };
        Ok(TaskNewArguments::Create(TaskCreation {
            first_thread,
            pager,
            instruction_pointer: registers[2],
            stack_pointer: registers[3],
            utcb_area,
            kernel_interface_page,
            maximum_controlled_priority: registers[6] as u8,
            exception_handler,
        }))
    }

    /// x0..x10 for the call.
    pub const fn encode(&self) -> CallRegisters {
        let mut registers = [0; 11];
        match self {
            TaskNewArguments::Create(creation) => {
                registers[0] = creation.first_thread.raw();
                registers[1] = creation.pager.raw();
                registers[2] = creation.instruction_pointer;
                registers[3] = creation.stack_pointer;
                registers[4] = creation.utcb_area.raw();
                registers[5] = creation.kernel_interface_page.raw();
                registers[6] = creation.maximum_controlled_priority as u64;
                registers[8] = creation.exception_handler.raw();
            }
            TaskNewArguments::Delete(deletion) => {
                registers[0] = deletion.task.raw();
                registers[7] = deletion.new_owner.raw();
            }
        }
        registers
    }
}

/// What task_new returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TaskNewReturnValues {
    /// The task's first thread, as given.
    pub first_thread: ThreadId,
}

impl TaskNewReturnValues {
    /// x0..x9 of a successful return.
    pub const fn encode(&self) -> ReturnRegisters {
        let mut registers = [0; 10];
        registers[0] = self.first_thread.raw();
        registers
    }

    /// Decodes x0..x9 after the call.
    pub const fn decode(registers: &ReturnRegisters) -> Result<TaskNewReturnValues, ReturnError> {
        if let Err(error) = CallError::check(registers[ERROR_REGISTER]) {
            return Err(error);
        }
        Ok(TaskNewReturnValues {
            first_thread: ThreadId::from_raw(registers[0]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::Call;
    use crate::message::Rights;

    fn creation() -> TaskCreation {
        TaskCreation {
            first_thread: ThreadId::new(10, 0, 1).unwrap(),
            pager: ThreadId::new(4, 0, 1).unwrap(),
            instruction_pointer: 0x40_0000,
            stack_pointer: 0x7FFF_0000,
            utcb_area: Fpage::new(0x7F00_0000, 24, Rights::NONE).unwrap(),
            kernel_interface_page: Fpage::page(0x7EFF_F000, Rights::NONE).unwrap(),
            maximum_controlled_priority: 100,
            exception_handler: ThreadId::new(4, 0, 1).unwrap(),
        }
    }

    #[test]
    fn a_creation_round_trips() {
        let arguments = TaskNewArguments::Create(creation());
        let registers = arguments.encode();
        assert_eq!(registers[7], 0);
        assert_eq!(TaskNewArguments::decode(&registers), Ok(arguments));
        let without_page = TaskNewArguments::Create(TaskCreation {
            kernel_interface_page: Fpage::NIL,
            exception_handler: ThreadId::NIL,
            maximum_controlled_priority: 255,
            ..creation()
        });
        assert_eq!(
            TaskNewArguments::decode(&without_page.encode()),
            Ok(without_page)
        );
    }

    #[test]
    fn a_nil_pager_makes_a_deletion_and_ignores_the_creation_registers() {
        let deletion = TaskNewArguments::Delete(TaskDeletion {
            task: ThreadId::new(10, 0, 1).unwrap(),
            new_owner: ThreadId::new(4, 0, 1).unwrap(),
        });
        let mut registers = deletion.encode();
        assert_eq!(registers[1], 0);
        assert_eq!(TaskNewArguments::decode(&registers), Ok(deletion));
        registers[4] = u64::MAX;
        registers[6] = 1000;
        assert_eq!(TaskNewArguments::decode(&registers), Ok(deletion));
    }

    #[test]
    fn the_task_is_named_by_its_thread_zero() {
        let mut registers = TaskNewArguments::Create(creation()).encode();
        registers[0] = ThreadId::new(10, 1, 1).unwrap().raw();
        assert_eq!(
            TaskNewArguments::decode(&registers),
            Err(CallError::InvalidArgument)
        );
        for raw in [0, u64::MAX, ThreadId::interrupt(0).unwrap().raw()] {
            registers[0] = raw;
            assert_eq!(
                TaskNewArguments::decode(&registers),
                Err(CallError::InvalidArgument)
            );
        }
    }

    #[test]
    fn a_creation_checks_its_areas_priority_and_partners() {
        let base = TaskNewArguments::Create(creation()).encode();
        let utcb_area = creation().utcb_area;
        let cases = [
            (4, Fpage::NIL.raw()),
            (4, Fpage::complete(Rights::ALL).raw()),
            (4, 0x1000 | 13 << 4),
            (5, Fpage::new(0x8000_0000, 13, Rights::NONE).unwrap().raw()),
            (
                5,
                Fpage::page(utcb_area.base(), Rights::NONE).unwrap().raw(),
            ),
            (6, 256),
            (8, ThreadId::ANY.raw()),
            (1, ThreadId::ANY.raw()),
            (1, ThreadId::interrupt(5).unwrap().raw()),
        ];
        for (register, value) in cases {
            let mut registers = base;
            registers[register] = value;
            assert_eq!(
                TaskNewArguments::decode(&registers),
                Err(CallError::InvalidArgument),
                "x{register} = {value:#x}"
            );
        }
        let mut registers = TaskNewArguments::Delete(TaskDeletion {
            task: creation().first_thread,
            new_owner: ThreadId::NIL,
        })
        .encode();
        registers[7] = ThreadId::ANY.raw();
        assert_eq!(
            TaskNewArguments::decode(&registers),
            Err(CallError::InvalidArgument)
        );
    }

    #[test]
    fn the_return_value_is_the_first_thread() {
        let values = TaskNewReturnValues {
            first_thread: creation().first_thread,
        };
        assert_eq!(TaskNewReturnValues::decode(&values.encode()), Ok(values));
        assert_eq!(
            TaskNewReturnValues::decode(&Call::TaskNew.error_registers(CallError::TaskActive)),
            Err(ReturnError::Call(CallError::TaskActive))
        );
    }
}
