//! What only runs on the kernel: the counter (the only asm of the benchmarks) and the server
//! loop that both the server task and the client's second thread run.
//!
//! The timed loops call the kernel through libl4's raw stubs with argument registers encoded
//! once, outside the loop, so that what a figure measures beyond the kernel is the stub's
//! register moves and a few instructions of loop, not message decoding in Rust.

use abi::call::ERROR_REGISTER;
use abi::call::ipc::{IpcArguments, ReceiveSpecifier};
use abi::message::item::MapItem;
use abi::protocol::{PAGE_FAULT_LABEL, PageFault};
use abi::{Fpage, MessageTag, ThreadId, Timeouts, TypedItem};
use libl4::debug_println;

use crate::{ANSWER_LABEL, DONE_LABEL, ONE_WAY_LABEL, REQUEST_LABEL};

/// CNTVCT_EL0, the virtual counter (EL0 may read it: `CNTKCTL_EL1.EL0VCTEN`). The `isb`
/// keeps it from being read early; the asm is a compiler barrier for memory too, so the
/// timed loop's kernel calls stay between two reads.
#[inline(always)]
pub fn read_counter() -> u64 {
    let ticks: u64;
    // SAFETY: reading CNTVCT_EL0 is permitted at EL0 on this kernel and has no side effect;
    // `isb` only orders the read. Neither touches the stack or the flags.
    unsafe {
        core::arch::asm!(
            "isb",
            "mrs {ticks}, cntvct_el0",
            ticks = out(reg) ticks,
            options(nostack, preserves_flags),
        );
    }
    ticks
}

/// `value`, hidden from the optimiser (an empty asm that might change it), so that a timed
/// loop runs every iteration however empty its body is. Costs no instruction.
#[inline(always)]
pub fn opaque(mut value: u64) -> u64 {
    // SAFETY: an empty asm: it executes nothing and touches no memory, stack or flags.
    unsafe {
        core::arch::asm!(
            "/* {value} */",
            value = inout(reg) value,
            options(nomem, nostack, preserves_flags),
        );
    }
    value
}

/// CNTFRQ_EL0: the counter's frequency in Hz (readable at EL0 whenever the counter is).
pub fn counter_frequency() -> u64 {
    let frequency: u64;
    // SAFETY: reading CNTFRQ_EL0 is permitted at EL0 when a counter is, has no side effect,
    // and touches neither memory, the stack nor the flags.
    unsafe {
        core::arch::asm!(
            "mrs {frequency}, cntfrq_el0",
            frequency = out(reg) frequency,
            options(nomem, nostack, preserves_flags),
        );
    }
    frequency
}

/// The tag of an answer: [`ANSWER_LABEL`], one untyped word.
const ANSWER_TAG: MessageTag = tag(ANSWER_LABEL, 1, 0);
/// The tag of a map reply: [`ANSWER_LABEL`], one map item (two typed words).
const MAP_REPLY_TAG: MessageTag = tag(ANSWER_LABEL, 0, 2);

/// A tag with `untyped` and `typed` words, checked at compile time.
pub const fn tag(label: u16, untyped: usize, typed: usize) -> MessageTag {
    match MessageTag::new(label, untyped, typed) {
        Ok(tag) => tag,
        Err(_) => panic!("a valid tag"),
    }
}

/// Serves forever (until [`DONE_LABEL`], which halts the thread): answers a
/// [`REQUEST_LABEL`] with its MR1 + 1 by reply-and-wait, takes a [`ONE_WAY_LABEL`] message
/// with the next open receive, and, if `lent_page` is given, answers a page fault with a map
/// item that puts that page at the faulting page. Every kernel entry is a raw stub with its
/// registers encoded once.
pub fn serve(name: &str, lent_page: Option<Fpage>) -> ! {
    let receive = IpcArguments::receive(ReceiveSpecifier::Any, Timeouts::NEVER).encode();
    let mut reply = IpcArguments::reply_and_wait(ThreadId::NIL, ANSWER_TAG, [0; 7]).encode();
    // SAFETY: an open receive with the UTCB's acceptor as the kernel left it (no receive
    // window): nothing can be mapped into this task, and no memory of it changes but the
    // returned registers.
    let mut results = unsafe { libl4::raw::ipc(&receive) };
    loop {
        if results[ERROR_REGISTER] != 0 {
            fail(
                name,
                format_args!("ipc error {:#x}", results[ERROR_REGISTER]),
            );
        }
        let tag = MessageTag::from_raw(results[0]);
        let label = tag.label();
        results = if label == REQUEST_LABEL {
            reply[1] = results[1].wrapping_add(1);
            reply[8] = results[8];
            // SAFETY: an untyped reply (nothing mapped from this task) and an open receive
            // with no receive window, as above.
            unsafe { libl4::raw::ipc(&reply) }
        } else if label == ONE_WAY_LABEL {
            // SAFETY: as the first receive.
            unsafe { libl4::raw::ipc(&receive) }
        } else if label & !0b111 == PAGE_FAULT_LABEL
            && let Some(page) = lent_page
        {
            lend(name, &results, page)
        } else if label == DONE_LABEL {
            libl4::halt_myself()
        } else {
            fail(
                name,
                format_args!(
                    "unexpected label {label:#x} from {:?}",
                    ThreadId::from_raw(results[8])
                ),
            )
        };
    }
}

/// Answers the page fault in `results` with a map item that puts `page` at the faulting
/// page, and waits for the next message.
fn lend(name: &str, results: &abi::ReturnRegisters, page: Fpage) -> abi::ReturnRegisters {
    let tag = MessageTag::from_raw(results[0]);
    let fault = match PageFault::decode(tag, &results[1..8]) {
        Ok(fault) => fault,
        Err(error) => fail(name, format_args!("malformed page fault: {error:?}")),
    };
    let item = match MapItem::new(fault.address & !0xFFF, page) {
        Ok(item) => item,
        Err(error) => fail(name, format_args!("no map item: {error:?}")),
    };
    let [first, second] = TypedItem::Map(item).encode();
    let reply = IpcArguments::reply_and_wait(
        ThreadId::from_raw(results[8]),
        MAP_REPLY_TAG,
        [first, second, 0, 0, 0, 0, 0],
    )
    .encode();
    // SAFETY: the map item lends `page`, which its owner wrote once before serving and never
    // touches again, so the faulting task's accesses cannot race with Rust code here; the
    // open receive has no receive window, so nothing is mapped into this task.
    unsafe { libl4::raw::ipc(&reply) }
}

/// Says what went wrong (`<name>: FAIL <reason>`) and halts the thread.
pub fn fail(name: &str, reason: core::fmt::Arguments<'_>) -> ! {
    debug_println!("{name}: FAIL {reason}");
    libl4::halt_myself()
}
