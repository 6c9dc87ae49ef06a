//! ping's behaviour; built only for the bare-metal target (see main.rs).

use abi::Timeouts;
use ktest_programs::{
    ANSWER_LABEL, CALLS, DONE_LABEL, FAULT_ADDRESS, PONG, REQUEST_LABEL, SEED, TIMEOUT_MICROSECONDS,
};
use libl4::debug_println;

/// The program: what `_start` runs on thread 0.
pub fn main() {
    debug_println!("ping: start");
    for number in 0..CALLS {
        let answer = match libl4::call(PONG, REQUEST_LABEL, [number]) {
            Ok(answer) => answer,
            Err(error) => fail(format_args!("call {number}: {error}")),
        };
        let expected = number.wrapping_add(1);
        if answer.from != PONG
            || answer.tag.label() != ANSWER_LABEL
            || answer.tag.untyped_words() != 1
            || answer.words[0] != expected
        {
            fail(format_args!(
                "call {number}: expected {expected} from {:?}, got {:?} {:?} from {:?}",
                PONG, answer.tag, answer.words[0], answer.from
            ));
        }
    }
    debug_println!("ping: {CALLS} calls ok");

    let seed = FAULT_ADDRESS as *const u64;
    // SAFETY: nothing is mapped at FAULT_ADDRESS (it lies outside ping's image, stack and
    // UTCB), so the load faults and the kernel calls ping's pager, pong, which maps a page
    // of its own there; the load then completes. The address is 8-byte aligned, the page
    // belongs to no Rust object of ping's, and the read is volatile, so the compiler assumes
    // nothing about its contents.
    let value = unsafe { seed.read_volatile() };
    if value != SEED {
        fail(format_args!(
            "read {value:#x} at {FAULT_ADDRESS:#x}, expected {SEED:#x}"
        ));
    }
    debug_println!("ping: read {value:#x} through a user-level pager");

    // A closed wait for pong, which never sends on its own: the receive timeout must expire.
    let timeout =
        abi::Timeout::from_microseconds(TIMEOUT_MICROSECONDS).unwrap_or(abi::Timeout::ZERO);
    let timeouts = Timeouts {
        send: abi::Timeout::NEVER,
        receive: timeout,
    };
    match libl4::receive(abi::call::ipc::ReceiveSpecifier::From(PONG), timeouts) {
        Err(abi::ReturnError::Call(abi::CallError::ReceiveTimeout)) => {
            debug_println!("ping: a {TIMEOUT_MICROSECONDS} us receive timeout expired")
        }
        other => fail(format_args!("a receive with a timeout returned {other:?}")),
    }

    if let Err(error) = libl4::send(PONG, DONE_LABEL, [], Timeouts::NEVER) {
        fail(format_args!("sending done: {error}"));
    }
    debug_println!("KTEST-USER PASS");
}

fn fail(reason: core::fmt::Arguments<'_>) -> ! {
    debug_println!("ping: FAIL {reason}");
    libl4::halt_myself()
}
