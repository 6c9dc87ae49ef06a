//! The OS server's protocol, defined once for the server (`personality/server`), the
//! trampoline (`trampoline/`) and the client library (`personality/client`).
//!
//! A Linux system call reaches the server in one of three ways (docs/personality.md):
//! (a) the trampoline in the client's address space forwards a reflected `svc #0`,
//! (b) a relinked program calls the server directly through the client library, or
//! (c) the kernel sends the `svc #0` as an exception message, which the server answers by
//! setting registers. (a) and (b) use the same message, [`SystemCall`], and the same
//! answer, [`Answer`]. (c) uses the kernel's exception protocol (`abi::protocol`).
//!
//! The server is every client thread's pager and exception handler, so a client finds the
//! server's thread ID in its UTCB (`Utcb::OFFSET_PAGER`): nothing else needs configuring.
//!
//! Also here: the fixed part of every client's address space ([`layout`]), the per-process
//! save area the trampoline and the client library fill before a `fork` so that the child
//! can start with the parent's registers ([`save_area`]), and the auxiliary-vector key that
//! tells a new program's start-up code which system-call path to take.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use abi::MessageTag;
use abi::message::tag::TagError;

/// Label of a system call (paths a and b): MR1 = the Linux system call number (x8), MR2..MR7
/// = its arguments x0..x5.
pub const SYSTEM_CALL_LABEL: u16 = 0x5C00;
/// Label of an ordinary answer: MR1 = the value for x0 (a result, or -errno).
pub const RESULT_LABEL: u16 = 0;
/// Label of the answer to a successful `execve`: the calling program is gone; MR1 = the
/// new program's stack pointer. The caller continues at [`layout::TRAMPOLINE_START`] with
/// that stack pointer (the start-up code takes it from there).
pub const EXEC_LABEL: u16 = 0x5C01;

/// Words of a [`SystemCall`] message (MR1..MR7).
pub const SYSTEM_CALL_WORDS: usize = 7;

/// A system call as the trampoline or the client library sends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemCall {
    /// The Linux system call number (x8 at the `svc`).
    pub number: u64,
    /// x0..x5 at the `svc`.
    pub arguments: [u64; 6],
}

impl SystemCall {
    /// The message tag: [`SYSTEM_CALL_LABEL`], seven untyped words.
    pub const TAG: MessageTag = MessageTag::from_raw(
        ((SYSTEM_CALL_LABEL as u64) << MessageTag::LABEL_SHIFT) | SYSTEM_CALL_WORDS as u64,
    );

    /// MR1..MR7.
    pub const fn words(&self) -> [u64; SYSTEM_CALL_WORDS] {
        let a = self.arguments;
        [self.number, a[0], a[1], a[2], a[3], a[4], a[5]]
    }

    /// The system call in a received message, if it is one.
    pub fn decode(tag: MessageTag, words: &[u64]) -> Option<SystemCall> {
        if tag.label() != SYSTEM_CALL_LABEL
            || tag.untyped_words() != SYSTEM_CALL_WORDS
            || tag.typed_words() != 0
        {
            return None;
        }
        let words: &[u64; SYSTEM_CALL_WORDS] = words.get(..SYSTEM_CALL_WORDS)?.try_into().ok()?;
        Some(SystemCall {
            number: words[0],
            arguments: [words[1], words[2], words[3], words[4], words[5], words[6]],
        })
    }
}

/// The server's answer to a [`SystemCall`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Continue after the `svc` with x0 = this value (every other register unchanged).
    Result(u64),
    /// `execve` succeeded: continue at [`layout::TRAMPOLINE_START`] with this stack pointer.
    Exec {
        /// The new program's initial stack pointer (pointing at argc).
        stack_pointer: u64,
    },
}

impl Answer {
    /// Tag and MR1.
    pub fn encode(self) -> Result<(MessageTag, u64), TagError> {
        match self {
            Answer::Result(value) => Ok((MessageTag::new(RESULT_LABEL, 1, 0)?, value)),
            Answer::Exec { stack_pointer } => {
                Ok((MessageTag::new(EXEC_LABEL, 1, 0)?, stack_pointer))
            }
        }
    }

    /// The answer in a received message, if it is one.
    pub fn decode(tag: MessageTag, words: &[u64]) -> Option<Answer> {
        if tag.untyped_words() != 1 || tag.typed_words() != 0 {
            return None;
        }
        let value = *words.first()?;
        match tag.label() {
            RESULT_LABEL => Some(Answer::Result(value)),
            EXEC_LABEL => Some(Answer::Exec {
                stack_pointer: value,
            }),
            _ => None,
        }
    }
}

/// Which way a process's `svc #0` reaches the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SystemCallPath {
    /// (a) Reflected to the trampoline, which calls the server: L4Linux's path for
    /// unmodified binaries. The default.
    Trampoline,
    /// (c) Sent by the kernel as an exception message; the server's reply sets x0.
    ExceptionIpc,
}

impl SystemCallPath {
    /// The value of [`AT_SYSTEM_CALL_PATH`] for this path.
    pub const fn auxiliary_value(self) -> u64 {
        match self {
            SystemCallPath::Trampoline => 1,
            SystemCallPath::ExceptionIpc => 2,
        }
    }

    /// The path an [`AT_SYSTEM_CALL_PATH`] value names.
    pub const fn from_auxiliary_value(value: u64) -> Option<SystemCallPath> {
        match value {
            1 => Some(SystemCallPath::Trampoline),
            2 => Some(SystemCallPath::ExceptionIpc),
            _ => None,
        }
    }

    /// The name used by the boot option and the per-exec setting (`trampoline`, `exception`).
    pub const fn name(self) -> &'static str {
        match self {
            SystemCallPath::Trampoline => "trampoline",
            SystemCallPath::ExceptionIpc => "exception",
        }
    }

    /// The path a name denotes.
    pub fn from_name(name: &[u8]) -> Option<SystemCallPath> {
        match name {
            b"trampoline" => Some(SystemCallPath::Trampoline),
            b"exception" => Some(SystemCallPath::ExceptionIpc),
            _ => None,
        }
    }
}

/// An auxiliary-vector key of ours (Linux uses keys below 64 and ignores unknown ones): the
/// [`SystemCallPath::auxiliary_value`] the start-up code must set up. Without it, the
/// start-up code uses the trampoline.
pub const AT_SYSTEM_CALL_PATH: u64 = 0x4C34_0001;

/// The environment variable that chooses the path of the program an `execve` starts
/// (`L4_SYSCALL_PATH=exception`); the boot option `personality.syscall_path=` sets the default.
pub const SYSTEM_CALL_PATH_VARIABLE: &[u8] = b"L4_SYSCALL_PATH";

/// The fixed part of every client's address space: the server reserves it (no `mmap` ever
/// lands there) and maps it itself.
pub mod layout {
    /// The UTCB area given to task_new: one 4 KiB UTCB per thread.
    pub const UTCB_AREA: u64 = 0x7F00_0000_0000;
    /// log2 of the UTCB area's size: 1 MiB, 256 threads.
    pub const UTCB_AREA_SIZE_LOG2: u32 = 20;
    /// The trampoline's code page: the same page of the server's image, mapped read-execute
    /// into every client. Every client thread starts here ([`TRAMPOLINE_START`]).
    pub const TRAMPOLINE_CODE: u64 = 0x7F00_1000_0000;
    /// Bytes of trampoline code: one page.
    pub const TRAMPOLINE_CODE_SIZE: u64 = 0x1000;
    /// Where a new program starts: the trampoline's start-up code, which reads
    /// [`AT_SYSTEM_CALL_PATH`](super::AT_SYSTEM_CALL_PATH) and `AT_ENTRY` from the initial
    /// stack at SP, sets the UTCB's `trampoline_entry` for the trampoline path, zeroes every
    /// register and jumps to the program's entry with SP unchanged, as Linux starts a program.
    pub const TRAMPOLINE_START: u64 = TRAMPOLINE_CODE;
    /// Where a forked child starts: the trampoline's fork code, which restores the registers
    /// the parent saved in the [`save_area`](super::save_area) (x0 = 0) and continues there.
    pub const TRAMPOLINE_FORK_CHILD: u64 = TRAMPOLINE_CODE + 0x100;
    /// Where a process of path (c) continues when it calls `clone`: the server wrote its
    /// frame (from the exception message) into the [`save_area`](super::save_area) and
    /// answered the exception by moving its PC here, every other register as at the `svc`.
    /// The code adds what an exception message cannot carry (FP/SIMD registers, FPSR, FPCR,
    /// TPIDR_EL0) to the save area and forwards the call like the trampoline; the answer
    /// resumes the frame. So a path-(c) child starts with its parent's whole state too.
    pub const TRAMPOLINE_EXCEPTION_FORK: u64 = TRAMPOLINE_CODE + 0xF00;
    /// The first address the server reserves in every client (to 2^47).
    pub const RESERVED_START: u64 = UTCB_AREA;
    /// One past the last user address the server hands out (2^47).
    pub const USER_END: u64 = 1 << 47;
    /// The per-process save area: one private read-write page, an ordinary anonymous area
    /// of the process (so `fork` copies it), below the reserved range.
    pub const SAVE_AREA: u64 = 0x7E00_0000_0000;

    // The fixed layout stays inside the user half, in this order, out of each other's way.
    const _: () = assert!(UTCB_AREA.is_multiple_of(1 << UTCB_AREA_SIZE_LOG2));
    const _: () = assert!(TRAMPOLINE_CODE >= UTCB_AREA + (1 << UTCB_AREA_SIZE_LOG2));
    const _: () = assert!(TRAMPOLINE_FORK_CHILD < TRAMPOLINE_CODE + TRAMPOLINE_CODE_SIZE);
    const _: () = assert!(TRAMPOLINE_EXCEPTION_FORK < TRAMPOLINE_CODE + TRAMPOLINE_CODE_SIZE);
    const _: () = assert!(TRAMPOLINE_CODE + TRAMPOLINE_CODE_SIZE <= USER_END);
    const _: () = assert!(SAVE_AREA + 4096 <= RESERVED_START);
}

/// The save area's layout: what the trampoline (or the client library) stores before
/// forwarding a `fork`/`clone`/`vfork`, so that the child, which starts at
/// [`layout::TRAMPOLINE_FORK_CHILD`], continues with the parent's registers.
pub mod save_area {
    /// Offset of x0..x30, SP, PC, PSTATE (34 words; the UTCB's `reflected_trap` order).
    pub const FRAME: u64 = 0;
    /// Words in the frame.
    pub const FRAME_WORDS: usize = 34;
    /// Offset of Q0..Q31 (16 bytes each), then FPSR and FPCR (8 bytes each).
    pub const FP: u64 = 512;
    /// Offset of FPSR.
    pub const FPSR: u64 = FP + 32 * 16;
    /// Offset of FPCR.
    pub const FPCR: u64 = FPSR + 8;
    /// Offset of the word the child's fork code stores into its UTCB's `trampoline_entry`:
    /// the parent's own `trampoline_entry` at the fork (the trampoline and the client library
    /// copy it from their UTCB; the server writes 0 for a path (c) parent). So a child keeps
    /// its parent's system-call path, whichever code made the fork.
    pub const TRAMPOLINE_ENTRY: u64 = FPCR + 8;
    /// Offset of the parent's TPIDR_EL0, the C library's thread pointer, which the child's
    /// fork code restores: Linux's fork keeps it, and no kernel call sets it for another
    /// thread. (The exception message of path (c) does not carry it: the server writes 0.)
    pub const THREAD_POINTER: u64 = TRAMPOLINE_ENTRY + 8;
    /// Bytes used.
    pub const SIZE: u64 = THREAD_POINTER + 8;
    const _: () = assert!(FRAME + 8 * FRAME_WORDS as u64 <= FP);
    // Q registers move in 16-byte `ldp`/`stp` pairs: keep them 16-byte aligned.
    const _: () = assert!(FP.is_multiple_of(16));
    const _: () = assert!(SIZE <= 4096);
}

/// What the root task and the OS server say to each other.
pub mod boot {
    /// A child of the root task asks for its configuration (its first message, a call to its
    /// pager, the root task); the reply is the configuration: [`SERVER_CONFIGURATION_LABEL`]
    /// for the server, `console_api::CONFIGURE_LABEL` for the console driver.
    pub const CONFIGURATION_REQUEST_LABEL: u16 = 0x5C12;
    /// The root task's answer to the server's [`CONFIGURATION_REQUEST_LABEL`]: MR1 = where the initrd is mapped in the server
    /// (read-only), MR2 = its size in bytes, MR3 = the console driver's thread ID (nil: no
    /// console), MR4 = the default system-call path
    /// ([`SystemCallPath::auxiliary_value`](super::SystemCallPath::auxiliary_value)),
    /// MR5 = a seed for `getrandom` (not a secret: the machine has no entropy source we trust),
    /// MR6 = the bytes of RAM sigma0 hands out (what the server's frames can at most be).
    pub const SERVER_CONFIGURATION_LABEL: u16 = 0x5C10;
    /// Words of the server's configuration.
    pub const SERVER_CONFIGURATION_WORDS: usize = 6;
    /// The server asks the root task to turn the machine off (init exited, or `poweroff`).
    pub const POWER_OFF_LABEL: u16 = 0x5C11;
    /// The server asks the root task for a task number, MR1 (docs/kernel-api.md: the root
    /// task owns every number at boot; only the owner of an inactive number may create a
    /// task with it). The root task hands the number over with task_new and answers with
    /// [`TASK_NUMBER_ANSWER_LABEL`], MR1 = task_new's error code (0: the server owns it now).
    /// Only numbers of [`PROCESS_TASKS`] are handed out. A number the server deleted a task
    /// of is the server's already: it asks once per number.
    pub const TASK_NUMBER_REQUEST_LABEL: u16 = 0x5C13;
    /// The answer to [`TASK_NUMBER_REQUEST_LABEL`].
    pub const TASK_NUMBER_ANSWER_LABEL: u16 = 0x5C14;
    /// The task numbers of client processes: process `pid` is task `PROCESS_TASKS.start() +
    /// pid` (pids are below Linux's `pid_max`, 32768).
    pub const PROCESS_TASKS: core::ops::RangeInclusive<u16> = 1000..=1000 + 32767;
    /// Where the root task maps the initrd into the server: read-only, at the same offsets.
    pub const SERVER_INITRD: u64 = 0x4000_0000_0000;
    /// The server's anonymous memory (heap, frames for clients, stacks): the root task backs
    /// every page of it with a fresh zeroed page on first touch.
    pub const SERVER_MEMORY: u64 = 0x1000_0000_0000;
    /// Size of that region.
    pub const SERVER_MEMORY_SIZE: u64 = 0x1000_0000_0000;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_system_call_survives_its_encoding() {
        let call = SystemCall {
            number: 64,
            arguments: [1, 0x4000_0000, 5, 0, 0, 0],
        };
        assert_eq!(SystemCall::TAG.label(), SYSTEM_CALL_LABEL);
        assert_eq!(SystemCall::TAG.untyped_words(), 7);
        assert_eq!(
            SystemCall::decode(SystemCall::TAG, &call.words()),
            Some(call)
        );
        let wrong = MessageTag::new(SYSTEM_CALL_LABEL, 6, 0).unwrap();
        assert_eq!(SystemCall::decode(wrong, &call.words()), None);
        assert_eq!(SystemCall::decode(SystemCall::TAG, &[0; 3]), None);
    }

    #[test]
    fn answers_survive_their_encoding_and_unknown_labels_are_refused() {
        for answer in [
            Answer::Result(u64::MAX - 1),
            Answer::Exec {
                stack_pointer: 0x7EFF_FFFF_F000,
            },
        ] {
            let (tag, word) = answer.encode().unwrap();
            assert_eq!(Answer::decode(tag, &[word]), Some(answer));
        }
        let other = MessageTag::new(0x1234, 1, 0).unwrap();
        assert_eq!(Answer::decode(other, &[0]), None);
    }

    #[test]
    fn the_system_call_path_round_trips_through_its_names_and_values() {
        for path in [SystemCallPath::Trampoline, SystemCallPath::ExceptionIpc] {
            assert_eq!(
                SystemCallPath::from_auxiliary_value(path.auxiliary_value()),
                Some(path)
            );
            assert_eq!(
                SystemCallPath::from_name(path.name().as_bytes()),
                Some(path)
            );
        }
        assert_eq!(SystemCallPath::from_auxiliary_value(0), None);
        assert_eq!(SystemCallPath::from_name(b"fast"), None);
    }

    #[test]
    fn the_save_area_holds_frame_fp_registers_trampoline_entry_and_thread_pointer() {
        use save_area::*;
        assert_eq!(FRAME, 0);
        assert_eq!(FPSR, FP + 32 * 16);
        assert_eq!(FPCR, FPSR + 8);
        assert_eq!(TRAMPOLINE_ENTRY, FPCR + 8);
        assert_eq!(THREAD_POINTER, TRAMPOLINE_ENTRY + 8);
        assert_eq!(SIZE, THREAD_POINTER + 8);
    }
}
