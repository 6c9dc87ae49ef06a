//! The kernel's binary interface: the one definition of every value that crosses between
//! the kernel and user level, shared by the kernel and every user-level library (libl4,
//! sigma0, the OS server, the trampoline).
//!
//! The kernel is an L4 second-generation microkernel (L4 X.2 is the model) with seven
//! calls: ipc, id_nearest, fpage_unmap, thread_switch, lthread_ex_regs, thread_schedule and
//! task_new. Defining the contract once, as typed values with checked decoding, means the
//! kernel and user level cannot disagree about a bit, and the kernel decodes every argument
//! fully before it acts. `docs/kernel-api.md` is the reference manual for the same
//! contract; a test checks that every call and error defined here appears there.
//!
//! - [`call`]: how a thread enters the kernel (`svc #N`), call numbers, and per call its
//!   register layout as typed arguments and return values.
//! - [`thread_id`]: thread IDs (task, thread, version), nil, any, interrupt IDs.
//! - [`message`]: the message tag, typed items (map, grant, string), flexpages, acceptor.
//! - [`timeout`]: ipc timeouts.
//! - [`error`]: the error codes returned in x9.
//! - [`utcb`]: the user thread control block layout.
//! - [`user_registers`]: an EL0 thread's register state as user level sees it.
//! - [`protocol`]: the messages the kernel generates (page fault, exception, interrupt).
//! - [`kernel_interface_page`]: the read-only page of kernel facts.
//!
//! Nothing here touches hardware; it is plain data, `no_std` without allocation, and
//! tested on the host with `cargo test -p abi`.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod call;
pub mod error;
pub mod kernel_interface_page;
pub mod message;
pub mod protocol;
pub mod thread_id;
pub mod timeout;
pub mod user_registers;
pub mod utcb;

pub use call::{Call, CallRegisters, ReturnRegisters, SupervisorCall};
pub use error::{CallError, ReturnError};
pub use message::{Fpage, MessageTag, Rights, TypedItem};
pub use thread_id::ThreadId;
pub use timeout::{Timeout, Timeouts};
pub use utcb::Utcb;

/// The version of this interface, in the kernel interface page. Any incompatible change
/// increments it.
pub const ABI_VERSION: u64 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference manual, kept in sync with this crate by the test below.
    const REFERENCE_MANUAL: &str = include_str!("../../../docs/kernel-api.md");

    #[test]
    fn every_call_and_error_appears_in_the_reference_manual() {
        let lowercase = REFERENCE_MANUAL.to_lowercase();
        for call in Call::ALL {
            let heading = format!("## {}", call.name());
            assert!(
                REFERENCE_MANUAL.contains(&heading),
                "docs/kernel-api.md has no section `{heading}`"
            );
            let immediate = format!("svc #{:#x}", call.number());
            let decimal = format!("svc #{}", call.number());
            assert!(
                lowercase.contains(&immediate) || lowercase.contains(&decimal),
                "docs/kernel-api.md never shows `{decimal}` for {}",
                call.name()
            );
        }
        for error in CallError::ALL {
            let row = format!("| {} | `{}` |", error.code(), error.name());
            assert!(
                REFERENCE_MANUAL.contains(&row),
                "docs/kernel-api.md has no error table row starting `{row}`"
            );
        }
    }

    #[test]
    fn the_reference_manual_states_the_implementation_status() {
        assert!(REFERENCE_MANUAL.contains("**Status**"));
    }

    #[test]
    fn the_kernel_message_labels_appear_in_the_reference_manual() {
        for label in [
            protocol::INTERRUPT_LABEL,
            protocol::PAGE_FAULT_LABEL,
            protocol::EXCEPTION_LABEL,
        ] {
            let text = format!("{label:#06X}").replace("0X", "0x");
            assert!(REFERENCE_MANUAL.contains(&text), "{text} missing");
        }
    }
}
