//! The kernel microbenchmarks of `make bench`: what the two tasks agree on, and the arithmetic
//! of a figure.
//!
//! `bench-client` (task 4) times loops of kernel operations with the virtual counter and
//! prints one line per figure, `BENCH <name> <instructions per operation> ticks=<t>
//! iterations=<n>`, then `BENCH-DONE`. `bench-server` (task 3) answers its calls with
//! reply-and-wait, takes its one-way messages with open receives, and is its pager: it
//! answers every page fault with a map item for one page of its own `.bss`. The kernel's
//! `bench` scenario starts both from the initrd and writes the iteration count (boot argument
//! `bench.iterations=`) into the client's UTCB user handle; 0 there means
//! [`DEFAULT_ITERATIONS`].
//!
//! Under `qemu-system-aarch64 -icount shift=0` one retired instruction is one virtual
//! nanosecond, so a counter tick is `1e9 / CNTFRQ_EL0` instructions (16 at QEMU's 62.5 MHz);
//! see docs/performance.md for the method and what each figure includes.

#![cfg_attr(not(test), no_std)]
#![warn(missing_docs)]

use abi::ThreadId;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod target;

/// The server and pager: thread 0 of task 3, version 1.
pub const SERVER: ThreadId = thread_zero(SERVER_TASK);
/// The client that measures: thread 0 of task 4, version 1.
pub const CLIENT: ThreadId = thread_zero(CLIENT_TASK);
/// The server's task number.
pub const SERVER_TASK: u16 = 3;
/// The client's task number.
pub const CLIENT_TASK: u16 = 4;
/// The thread number of the client's second thread, the server of the same-space round trip.
pub const SAME_SPACE_SERVER_THREAD: u16 = 1;

/// A request: MR1 = a number; the answer has label [`ANSWER_LABEL`] and MR1 = number + 1.
pub const REQUEST_LABEL: u16 = 1;
/// The label of answers (and of the pager's map replies).
pub const ANSWER_LABEL: u16 = 0;
/// The end: the receiving server thread halts.
pub const DONE_LABEL: u16 = 2;
/// A one-way message: the server receives it and waits for the next, answering nothing.
pub const ONE_WAY_LABEL: u16 = 3;

/// Iterations of each loop when the kernel passed none.
pub const DEFAULT_ITERATIONS: u64 = 100_000;
/// The boot argument that sets the iteration count (read by the kernel's `bench` scenario).
pub const ITERATIONS_BOOT_ARGUMENT: &str = "bench.iterations";

/// The region the client touches page by page: nothing maps it until the pager does.
pub const FAULT_REGION: u64 = 0x1000_0000;
/// Its size: 64 MiB.
pub const FAULT_REGION_SIZE: u64 = 64 << 20;
/// Its pages: at most this many page faults are timed, whatever the iteration count.
pub const FAULT_REGION_PAGES: u64 = FAULT_REGION_SIZE / PAGE_SIZE;
/// What the server writes at the start of the page it lends; every touch must read it.
pub const SEED: u64 = 0x5EED_CAFE;
/// The page size.
pub const PAGE_SIZE: u64 = 4096;

/// The interrupt line (INTID) of the interrupt-delivery figure: SPI 218, which no device of
/// QEMU's `virt` board uses (its GIC has 288 lines either version).
pub const INTERRUPT_LINE: u16 = 250;
/// Where the kernel's `bench` scenario maps the first page of the GIC distributor into the
/// client, read-write, so that it can make [`INTERRUPT_LINE`] pending by writing
/// `GICD_ISPENDR` (a software-triggered interrupt; a benchmark-only arrangement).
pub const GIC_DISTRIBUTOR_WINDOW: u64 = 0x2000_0000;
/// The `GICD_ISPENDR<n>` register and bit that make [`INTERRUPT_LINE`] pending (the same
/// offsets in GICv2 and GICv3 distributors).
pub const INTERRUPT_PENDING_REGISTER: u64 =
    GIC_DISTRIBUTOR_WINDOW + 0x200 + 4 * (INTERRUPT_LINE as u64 / 32);
/// The bit of [`INTERRUPT_LINE`] in [`INTERRUPT_PENDING_REGISTER`].
pub const INTERRUPT_PENDING_BIT: u32 = 1 << (INTERRUPT_LINE % 32);
/// Set in the user handle when the kernel mapped [`GIC_DISTRIBUTOR_WINDOW`]; the iteration
/// count is in the low 32 bits.
pub const HANDLE_DISTRIBUTOR_MAPPED: u64 = 1 << 63;

/// Every figure the client prints, in order. `empty_loop` is the loop overhead itself; every
/// other figure has it subtracted.
pub const FIGURES: [&str; 8] = [
    "empty_loop",
    "null_call",
    "thread_switch_yield",
    "ipc_call_reply_two_spaces",
    "ipc_call_reply_same_space",
    "ipc_one_way",
    "page_fault_user_pager",
    "interrupt_delivery",
];

/// Instructions per operation in thousandths, from `ticks` of a counter running at
/// `frequency` Hz over `iterations` operations, taking one instruction per nanosecond
/// (`-icount shift=0`). 0 for no iterations or no frequency.
pub const fn milli_instructions(ticks: u64, iterations: u64, frequency: u64) -> u64 {
    if iterations == 0 || frequency == 0 {
        return 0;
    }
    // ticks * (1e9 / frequency) instructions, times 1000, over the iterations.
    let numerator = ticks as u128 * 1_000_000_000_000;
    let denominator = frequency as u128 * iterations as u128;
    let value = numerator / denominator;
    if value > u64::MAX as u128 {
        u64::MAX
    } else {
        value as u64
    }
}

/// The figure printed: `measured` minus the empty loop's `overhead` (both in thousandths),
/// rounded to the nearest instruction; never below zero.
pub const fn instructions_per_operation(measured: u64, overhead: u64) -> u64 {
    measured.saturating_sub(overhead).saturating_add(500) / 1000
}

/// The iteration count from the client's UTCB user handle (its low 32 bits): 0 means the
/// default.
pub const fn iterations_from_handle(handle: u64) -> u64 {
    match handle & 0xFFFF_FFFF {
        0 => DEFAULT_ITERATIONS,
        count => count,
    }
}

/// Whether the user handle says the GIC distributor is mapped at [`GIC_DISTRIBUTOR_WINDOW`].
pub const fn distributor_mapped(handle: u64) -> bool {
    handle & HANDLE_DISTRIBUTOR_MAPPED != 0
}

const fn thread_zero(task: u16) -> ThreadId {
    match ThreadId::new(task, 0, 1) {
        Ok(thread) => thread,
        Err(_) => panic!("thread 0, version 1 of a user task is a valid thread ID"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixteen_instructions_per_tick_at_qemus_frequency() {
        // 100 000 operations in 50 000 ticks of 62.5 MHz: 8 instructions each.
        assert_eq!(milli_instructions(50_000, 100_000, 62_500_000), 8_000);
        assert_eq!(milli_instructions(1, 3, 62_500_000), 5_333);
        assert_eq!(milli_instructions(5, 0, 62_500_000), 0);
        assert_eq!(milli_instructions(5, 1, 0), 0);
    }

    #[test]
    fn the_overhead_is_subtracted_and_the_result_rounded() {
        assert_eq!(instructions_per_operation(1_250_500, 6_000), 1_245);
        assert_eq!(instructions_per_operation(1_250_499, 6_000), 1_244);
        assert_eq!(instructions_per_operation(5_000, 6_000), 0);
    }

    #[test]
    fn no_handle_means_the_default_count() {
        assert_eq!(iterations_from_handle(0), DEFAULT_ITERATIONS);
        assert_eq!(iterations_from_handle(100), 100);
        let handle = 100 | HANDLE_DISTRIBUTOR_MAPPED;
        assert_eq!(iterations_from_handle(handle), 100);
        assert!(distributor_mapped(handle) && !distributor_mapped(100));
    }

    #[test]
    fn the_interrupt_is_an_unused_spi_pended_through_ispendr() {
        const { assert!(INTERRUPT_LINE >= 32 && INTERRUPT_LINE < 288) };
        assert_eq!(INTERRUPT_PENDING_REGISTER, GIC_DISTRIBUTOR_WINDOW + 0x21c);
        assert_eq!(INTERRUPT_PENDING_BIT, 1 << 26);
    }

    #[test]
    fn the_region_holds_sixteen_thousand_pages() {
        assert_eq!(FAULT_REGION_PAGES, 16_384);
        assert!(FAULT_REGION.is_multiple_of(PAGE_SIZE));
    }

    #[test]
    fn the_labels_stay_out_of_the_kernel_range() {
        for label in [REQUEST_LABEL, ANSWER_LABEL, DONE_LABEL, ONE_WAY_LABEL] {
            assert!(label < abi::protocol::FIRST_RESERVED_LABEL);
        }
        assert_eq!((SERVER.task(), CLIENT.task()), (SERVER_TASK, CLIENT_TASK));
    }
}
