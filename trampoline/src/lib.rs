//! The trampoline: the one page of code every Linux client of the OS server runs besides its
//! own program. It starts programs, forwards reflected `svc #0` traps to the server, and gives
//! a forked child its parent's registers back (docs/design/os-server.md).
//!
//! Why it is shaped this way:
//!
//! - **One page, mapped into every client.** The server maps the page of its own image that
//!   holds the code, read-execute, at [`protocol::layout::TRAMPOLINE_CODE`] in each client, so
//!   there is one copy of the code in memory and nothing to load per process. Hence the code
//!   is position-independent, alone in a page-aligned section padded to a page
//!   (`.text.trampoline`), and uses no data and no stack: only registers, the UTCB (found
//!   through TPIDRRO_EL0) and the save area at a fixed address.
//! - **Assembly, in one file** (`trampoline.s`), because no compiled code can be trusted to
//!   leave the interrupted program's registers alone and keep off its stack; every number in
//!   it is a Rust constant passed as an operand (the UTCB offsets from `abi`, the message and
//!   the layout from `protocol`, Linux's numbers from `linux-abi`), so the three cannot
//!   disagree.
//! - **Fixed entry points, like a vector table**: [`START_OFFSET`] (where every program
//!   starts), [`FORK_CHILD_OFFSET`] (where a forked child starts) and [`ENTRY_OFFSET`] (the
//!   trampoline proper, whose address the start-up code writes into the UTCB's
//!   `trampoline_entry`). The first two are `protocol::layout`'s; the third is ours, fixed
//!   so that the server and the tests know [`ENTRY`] without reading the code.
//! - **Failures the code cannot answer are `brk`s** with an immediate from [`breakpoint`]:
//!   the server, the client's exception handler, receives them as exception messages whose
//!   ESR names the cause.
//!
//! The three pieces, in short (the register contracts are in `trampoline.s`):
//!
//! - **start**: walks the initial stack at SP to the auxiliary vector, takes `AT_ENTRY` and
//!   [`protocol::AT_SYSTEM_CALL_PATH`], sets `trampoline_entry` (to [`ENTRY`] for the
//!   trampoline path, 0 for exception IPC), zeroes the FP/SIMD state, TPIDR_EL0, the flags
//!   and every general register but x16, which carries the branch to `AT_ENTRY`.
//! - **entry**: sends [`protocol::SystemCall`] (x8, x0..x5) to the UTCB's pager, the server,
//!   and waits. A result goes into the saved frame's x0 and the frame is resumed with
//!   lthread_ex_regs `RESUME_REFLECTED_TRAP`; an exec answer restarts at start with the new
//!   SP. Before `clone` and `clone3` it first stores the frame, the FP/SIMD registers, its
//!   `trampoline_entry` and TPIDR_EL0 in the save area ([`protocol::save_area`]). A cancelled send is sent
//!   again, a cancelled receive waits again; a server that cannot be reached (pager nil or
//!   gone) makes the call fail with `ENOSYS` ([`SERVER_UNREACHABLE_RESULT`]).
//! - **fork_child**: loads the FP/SIMD registers and TPIDR_EL0 from the save area, copies
//!   its frame into the UTCB's `reflected_trap` with x0 = 0, restores `trampoline_entry`, and
//!   resumes.
//!
//! The code exists on aarch64 only; elsewhere the crate is its constants and their tests.
//! `tests/qemu_user.rs` runs the real code under qemu-aarch64, playing the kernel and the
//! server in a signal handler.

#![cfg_attr(not(test), no_std)]
#![warn(missing_docs)]

use abi::MessageTag;
use abi::utcb::Utcb;
use linux_abi::errno::Errno;
use linux_abi::syscall::Syscall;
use protocol::layout;

#[cfg(target_arch = "aarch64")]
mod code;

#[cfg(target_arch = "aarch64")]
pub use code::code_page;

/// Bytes of the code page: one 4 KiB page, [`protocol::layout::TRAMPOLINE_CODE_SIZE`].
pub const PAGE_SIZE: usize = 4096;

/// Offset of start in the page: where the server starts every program, with SP at argc.
pub const START_OFFSET: u64 = layout::TRAMPOLINE_START - layout::TRAMPOLINE_CODE;

/// Offset of fork_child in the page: where the server starts a forked child.
pub const FORK_CHILD_OFFSET: u64 = layout::TRAMPOLINE_FORK_CHILD - layout::TRAMPOLINE_CODE;

/// Offset of the trampoline proper, where the kernel resumes a thread after `svc #0`.
pub const ENTRY_OFFSET: u64 = 0x200;

/// Offset of exception_fork: where a path-(c) process continues its `clone`
/// ([`protocol::layout::TRAMPOLINE_EXCEPTION_FORK`]).
pub const EXCEPTION_FORK_OFFSET: u64 = layout::TRAMPOLINE_EXCEPTION_FORK - layout::TRAMPOLINE_CODE;

/// The trampoline's address in a client: the value start writes into the UTCB's
/// `trampoline_entry` for the trampoline path.
pub const ENTRY: u64 = layout::TRAMPOLINE_CODE + ENTRY_OFFSET;

/// The Linux system calls that create a process or thread from the caller's registers: the
/// trampoline saves the caller's state in the save area before forwarding them. (arm64 has
/// no `fork` or `vfork` numbers; C libraries make them with `clone`.)
pub const FORKING_CALLS: [Syscall; 2] = [Syscall::Clone, Syscall::Clone3];

/// What a system call returns when the trampoline cannot reach the server (the pager is nil,
/// or the ipc failed other than by a cancel): `-ENOSYS`, the answer of a kernel that has no
/// such call.
pub const SERVER_UNREACHABLE_RESULT: u64 = Errno::ENOSYS.as_return();

/// Every bit of a tag but the label: flags, reserved bits and word counts.
#[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
const TAG_SHAPE_MASK: u64 = (1 << MessageTag::LABEL_SHIFT) - 1;

/// The shape of every [`protocol::Answer`]'s tag: no flags, one untyped word, no typed
/// words. The trampoline checks it before it looks at the label.
#[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
const ANSWER_SHAPE: u64 = 1 << MessageTag::UNTYPED_SHIFT;

/// The `brk` immediates of the trampoline's failures. The server receives each as an
/// exception message (ESR_EL1's ISS holds the immediate) from a PC inside the code page.
pub mod breakpoint {
    /// start found no `AT_ENTRY` (or a zero one) in the auxiliary vector.
    pub const MISSING_ENTRY: u16 = 0x5C20;
    /// start found an `AT_SYSTEM_CALL_PATH` value that names no path.
    pub const UNKNOWN_SYSTEM_CALL_PATH: u16 = 0x5C21;
    /// The server answered with a message that is no [`protocol::Answer`].
    pub const UNKNOWN_ANSWER: u16 = 0x5C22;
    /// lthread_ex_regs `RESUME_REFLECTED_TRAP` returned: the kernel refused it.
    pub const RESUME_REFUSED: u16 = 0x5C23;
}

// The entry points lie where protocol::layout says, in order, inside one page; the offsets
// are `.org` directives in trampoline.s, which fail to assemble if the code before them
// grows past them.
const _: () = assert!(PAGE_SIZE as u64 == layout::TRAMPOLINE_CODE_SIZE);
const _: () = assert!(layout::TRAMPOLINE_CODE.is_multiple_of(PAGE_SIZE as u64));
const _: () = assert!(START_OFFSET == 0);
const _: () = assert!(START_OFFSET < FORK_CHILD_OFFSET && FORK_CHILD_OFFSET < ENTRY_OFFSET);
const _: () = assert!(ENTRY_OFFSET < EXCEPTION_FORK_OFFSET);
const _: () = assert!(EXCEPTION_FORK_OFFSET < PAGE_SIZE as u64);
// The kernel accepts a trampoline_entry only if it is 4-byte aligned.
const _: () = assert!(ENTRY.is_multiple_of(4));
// The trampoline moves the frame with 16-byte `ldp`/`stp` pairs and addresses the UTCB
// and the save area with unsigned immediate offsets.
const _: () = assert!(Utcb::OFFSET_REFLECTED_TRAP.is_multiple_of(16));
const _: () = assert!(protocol::save_area::FRAME.is_multiple_of(16));
const _: () = assert!(protocol::save_area::FP.is_multiple_of(16));
const _: () = assert!(protocol::save_area::SIZE <= PAGE_SIZE as u64);
// `add` and `ldr`/`str` immediates: 12 bits (scaled by 8 for loads and stores).
const _: () = assert!(Utcb::OFFSET_REFLECTED_TRAP < 4096);
const _: () = assert!(protocol::save_area::FP < 4096);
const _: () = assert!(protocol::save_area::THREAD_POINTER < 8 * 4096);
// `stp`/`ldp` of X registers reach 504 bytes: the last pair of the frame in the save area.
const _: () =
    assert!(protocol::save_area::FRAME + 8 * (protocol::save_area::FRAME_WORDS as u64 - 2) <= 504);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_points_are_where_the_protocol_puts_them() {
        assert_eq!(
            layout::TRAMPOLINE_CODE + START_OFFSET,
            layout::TRAMPOLINE_START
        );
        assert_eq!(
            layout::TRAMPOLINE_CODE + FORK_CHILD_OFFSET,
            layout::TRAMPOLINE_FORK_CHILD
        );
        assert_eq!(ENTRY, layout::TRAMPOLINE_CODE + 0x200);
    }

    #[test]
    fn every_answer_has_the_shape_the_trampoline_checks_and_its_label_above_it() {
        use protocol::Answer;
        for answer in [
            Answer::Result(u64::MAX),
            Answer::Exec {
                stack_pointer: 0x7E00_0000_0000,
            },
        ] {
            let (tag, _) = answer.encode().unwrap();
            assert_eq!(tag.raw() & TAG_SHAPE_MASK, ANSWER_SHAPE);
            assert_eq!(tag.raw() >> MessageTag::LABEL_SHIFT, u64::from(tag.label()));
        }
        let error = MessageTag::ERROR.raw();
        assert_ne!(error & TAG_SHAPE_MASK, ANSWER_SHAPE);
    }

    #[test]
    fn the_trampoline_entry_is_one_the_kernel_accepts() {
        let mut utcb = Utcb::zeroed();
        utcb.trampoline_entry = ENTRY;
        assert_eq!(utcb.trampoline_entry(), Some(ENTRY));
    }

    #[test]
    fn the_forking_calls_are_arm64s_clone_and_clone3() {
        let numbers = FORKING_CALLS.map(Syscall::number);
        assert_eq!(numbers, [220, 435]);
    }

    #[test]
    fn an_unreachable_server_makes_the_call_fail_with_enosys() {
        assert_eq!(SERVER_UNREACHABLE_RESULT as i64, -38);
        assert_eq!(
            Errno::from_return(SERVER_UNREACHABLE_RESULT),
            Some(Errno::ENOSYS)
        );
    }

    #[test]
    fn the_breakpoint_immediates_are_distinct() {
        let codes = [
            breakpoint::MISSING_ENTRY,
            breakpoint::UNKNOWN_SYSTEM_CALL_PATH,
            breakpoint::UNKNOWN_ANSWER,
            breakpoint::RESUME_REFUSED,
        ];
        for (index, code) in codes.iter().enumerate() {
            assert!(!codes[index + 1..].contains(code));
        }
    }
}
