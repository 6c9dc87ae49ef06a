//! bench-client's behaviour; built only for the bare-metal target (see main.rs).
//!
//! Every figure is one loop of N operations between two reads of the virtual counter:
//! instructions per operation = ticks × (1e9 / CNTFRQ) / N, minus the same for the empty
//! loop. Each loop is preceded by one untimed operation, so that what happens once (a
//! thread's first run, a page table for the first page of a region) is not counted. The
//! results of every operation are checked after the loop (folded into one word inside it,
//! which costs an instruction or two), so a figure never comes from calls that failed.

use abi::call::ERROR_REGISTER;
use abi::call::id_nearest::IdNearestArguments;
use abi::call::ipc::{IpcArguments, ReceiveSpecifier};
use abi::call::lthread_ex_regs::LthreadExRegsArguments;
use abi::{CallRegisters, ThreadId, Timeouts};
use bench_programs::target::{counter_frequency, fail, opaque, read_counter, serve, tag};
use bench_programs::{
    DONE_LABEL, FAULT_REGION, FAULT_REGION_PAGES, INTERRUPT_LINE, INTERRUPT_PENDING_BIT,
    INTERRUPT_PENDING_REGISTER, ONE_WAY_LABEL, PAGE_SIZE, REQUEST_LABEL, SAME_SPACE_SERVER_THREAD,
    SEED, SERVER, distributor_mapped, instructions_per_operation, iterations_from_handle,
    milli_instructions,
};
use libl4::debug_println;

const NAME: &str = "bench-client";

/// The stack of the client's second thread (the same-space server): its own pages in .bss.
#[repr(C, align(4096))]
struct Stack([u8; 16 * 1024]);

static mut SECOND_STACK: Stack = Stack([0; 16 * 1024]);

/// The measurement context: iteration count, counter frequency, loop overhead.
struct Bench {
    iterations: u64,
    frequency: u64,
    /// The empty loop, in thousandths of an instruction per iteration.
    overhead: u64,
}

impl Bench {
    /// Prints `BENCH <name> <instructions per operation> ticks=<t> iterations=<n>`, the loop
    /// overhead subtracted; returns the unsubtracted figure in thousandths.
    fn report(&self, name: &str, ticks: u64, iterations: u64) -> u64 {
        let milli = milli_instructions(ticks, iterations, self.frequency);
        let figure = instructions_per_operation(milli, self.overhead);
        debug_println!("BENCH {name} {figure} ticks={ticks} iterations={iterations}");
        milli
    }
}

/// Runs `operation(i)` for i in 0..iterations between two counter reads; returns the ticks.
#[inline(always)]
fn time(iterations: u64, mut operation: impl FnMut(u64)) -> u64 {
    let start = read_counter();
    let mut index = 0;
    while index < iterations {
        operation(opaque(index));
        index += 1;
    }
    read_counter().wrapping_sub(start)
}

/// The program: what `_start` runs on thread 0.
pub fn main() {
    let utcb = libl4::utcb();
    // SAFETY: the UTCB is this thread's, mapped for its life; `user_handle` is an aligned
    // u64 in it, which the kernel's bench scenario set before the thread started.
    let handle = unsafe { core::ptr::addr_of!((*utcb).user_handle).read_volatile() };
    let iterations = iterations_from_handle(handle);
    let frequency = counter_frequency();
    debug_println!("BENCH-START iterations={iterations} counter_frequency={frequency}");
    let mut bench = Bench {
        iterations,
        frequency,
        overhead: 0,
    };

    let empty = time(iterations, |_| {});
    bench.overhead = bench.report("empty_loop", empty, iterations);

    null_call(&bench);
    yield_without_switch(&bench);
    call_reply_two_spaces(&bench);
    call_reply_same_space(&bench);
    one_way(&bench);
    page_fault(&bench);
    if distributor_mapped(handle) {
        interrupt_delivery(&bench);
    } else {
        debug_println!("BENCH-SKIP interrupt_delivery: the GIC distributor is not mapped");
    }

    send(SERVER, DONE_LABEL);
    debug_println!("BENCH-DONE");
}

/// id_nearest on the caller's own ID: decoded, looked up, answered "direct", nothing else.
fn null_call(bench: &Bench) {
    let arguments = IdNearestArguments {
        destination: libl4::my_thread_id(),
    }
    .encode();
    let mut errors = 0;
    // SAFETY: id_nearest only reads the kernel's clan structure.
    let mut call = |_| errors |= unsafe { libl4::raw::id_nearest(&arguments) }[ERROR_REGISTER];
    call(0);
    let ticks = time(bench.iterations, call);
    if errors != 0 {
        fail(NAME, format_args!("id_nearest failed: {errors:#x}"));
    }
    bench.report("null_call", ticks, bench.iterations);
}

/// thread_switch to nobody (yield) while no other thread of the client's priority is ready
/// (the server waits in a receive): the kernel finds nobody to give the time to and returns.
/// seL4's figure for the same ("yield, no switch") is in BENCHMARKING.md.
fn yield_without_switch(bench: &Bench) {
    let mut errors = 0;
    let mut call = |_| {
        errors |= match libl4::thread_switch(None) {
            Ok(()) => 0,
            Err(_) => 1,
        }
    };
    call(0);
    let ticks = time(bench.iterations, call);
    if errors != 0 {
        fail(NAME, format_args!("thread_switch failed"));
    }
    bench.report("thread_switch_yield", ticks, bench.iterations);
}

/// N calls to `server`, each answered by reply-and-wait with MR1 + 1; register-only
/// messages of one word each way.
fn call_reply(bench: &Bench, name: &str, server: ThreadId) {
    let mut arguments = IpcArguments::call(server, tag(REQUEST_LABEL, 1, 0), [0; 7]).encode();
    let mut wrong = 0;
    let mut call = |number: u64| {
        arguments[1] = number;
        let results = ipc(&arguments);
        wrong |= results[ERROR_REGISTER] | (results[1] ^ number.wrapping_add(1));
    };
    call(0);
    let ticks = time(bench.iterations, call);
    if wrong != 0 {
        fail(
            NAME,
            format_args!("{name}: a call failed or was answered wrongly"),
        );
    }
    bench.report(name, ticks, bench.iterations);
}

fn call_reply_two_spaces(bench: &Bench) {
    call_reply(bench, "ipc_call_reply_two_spaces", SERVER);
}

/// The same round trip with a second thread of this task as the server.
fn call_reply_same_space(bench: &Bench) {
    let server = match libl4::my_thread_id().with_thread(SAME_SPACE_SERVER_THREAD) {
        Ok(thread) => thread,
        Err(error) => fail(NAME, format_args!("no ID for the second thread: {error:?}")),
    };
    let stack = &raw mut SECOND_STACK;
    let stack_top = stack as u64 + size_of::<Stack>() as u64;
    let arguments =
        LthreadExRegsArguments::start(server, same_space_server as *const () as u64, stack_top)
            .encode();
    // SAFETY: creates thread 1 of this task on SECOND_STACK, which nothing else uses, running
    // `same_space_server`, which never returns and shares no mutable state with this thread.
    let results = unsafe { libl4::raw::lthread_ex_regs(&arguments) };
    if results[ERROR_REGISTER] != 0 {
        fail(
            NAME,
            format_args!(
                "creating the second thread: error {:#x}",
                results[ERROR_REGISTER]
            ),
        );
    }
    call_reply(bench, "ipc_call_reply_same_space", server);
    send(server, DONE_LABEL);
}

/// The second thread: the same-space server.
extern "C" fn same_space_server() -> ! {
    serve("bench-client thread 1", None)
}

/// N send-only ipcs to the server, which loops on open receives at the same priority.
fn one_way(bench: &Bench) {
    let mut arguments = send_arguments(SERVER, ONE_WAY_LABEL);
    let mut errors = 0;
    let mut send = |number: u64| {
        arguments[1] = number;
        errors |= ipc(&arguments)[ERROR_REGISTER];
    };
    send(0);
    let ticks = time(bench.iterations, send);
    if errors != 0 {
        fail(NAME, format_args!("a one-way send failed: {errors:#x}"));
    }
    bench.report("ipc_one_way", ticks, bench.iterations);
}

/// Reads the first word of fresh pages of [`FAULT_REGION`]: each read faults, the kernel
/// sends the fault to the pager (the server), whose map reply lends a page of its own.
fn page_fault(bench: &Bench) {
    let pages = bench.iterations.min(FAULT_REGION_PAGES - 1);
    let mut sum = 0u64;
    let mut touch = |page: u64| {
        let address = (FAULT_REGION + page * PAGE_SIZE) as *const u64;
        // SAFETY: nothing of this program lies in FAULT_REGION, so the read faults to the
        // pager, which maps a page there that only it wrote (before serving); the read is
        // volatile, so the compiler assumes nothing about the contents.
        sum = sum.wrapping_add(unsafe { address.read_volatile() });
    };
    // The untimed first touch: the last page of the region, which the loop does not reach.
    touch(FAULT_REGION_PAGES - 1);
    let ticks = time(pages, touch);
    if sum != SEED.wrapping_mul(pages + 1) {
        fail(
            NAME,
            format_args!("the lent pages did not all read {SEED:#x}"),
        );
    }
    bench.report("page_fault_user_pager", ticks, pages);
}

/// The handler pends its own interrupt line at the GIC distributor (one store to
/// `GICD_ISPENDR`), then waits for it with a closed receive: the kernel unmasks the line and
/// blocks the thread, idles, takes the IRQ, masks the line and delivers the interrupt
/// message, which wakes the thread.
fn interrupt_delivery(bench: &Bench) {
    let line = match ThreadId::interrupt(INTERRUPT_LINE) {
        Ok(line) => line,
        Err(error) => fail(NAME, format_args!("no interrupt ID: {error:?}")),
    };
    attach(line, libl4::my_thread_id());
    let pending = INTERRUPT_PENDING_REGISTER as *mut u32;
    let receive = IpcArguments::receive(ReceiveSpecifier::From(line), Timeouts::NEVER).encode();
    let mut wrong = 0;
    let mut interrupt = |_| {
        // SAFETY: the kernel's bench scenario mapped the GIC distributor's first page at
        // GIC_DISTRIBUTOR_WINDOW for this benchmark; setting a pending bit of the line this
        // thread owns changes no memory of this program.
        unsafe { pending.write_volatile(INTERRUPT_PENDING_BIT) };
        let results = ipc(&receive);
        wrong |= results[ERROR_REGISTER] | (results[8] ^ line.raw());
    };
    interrupt(0);
    let ticks = time(bench.iterations, interrupt);
    attach(line, ThreadId::NIL);
    if wrong != 0 {
        fail(
            NAME,
            format_args!("an interrupt was not delivered as expected"),
        );
    }
    bench.report("interrupt_delivery", ticks, bench.iterations);
}

/// Attaches `line` to `handler` (nil: detaches it).
fn attach(line: ThreadId, handler: ThreadId) {
    let arguments = LthreadExRegsArguments::attach_interrupt(line, handler).encode();
    // SAFETY: attaching or detaching an interrupt line changes no memory of this program.
    let results = unsafe { libl4::raw::lthread_ex_regs(&arguments) };
    if results[ERROR_REGISTER] != 0 {
        fail(
            NAME,
            format_args!(
                "attaching {line:?} to {handler:?}: error {:#x}",
                results[ERROR_REGISTER]
            ),
        );
    }
}

/// The registers of a send-only ipc of `label` and one word, without timeout.
fn send_arguments(to: ThreadId, label: u16) -> CallRegisters {
    IpcArguments::send(to, tag(label, 1, 0), [0; 7], Timeouts::NEVER).encode()
}

/// One send-only message of `label`; failure ends the program.
fn send(to: ThreadId, label: u16) {
    let results = ipc(&send_arguments(to, label));
    if results[ERROR_REGISTER] != 0 {
        fail(
            NAME,
            format_args!(
                "sending {label} to {to:?}: error {:#x}",
                results[ERROR_REGISTER]
            ),
        );
    }
}

/// An untyped ipc through the raw stub.
#[inline(always)]
fn ipc(arguments: &CallRegisters) -> abi::ReturnRegisters {
    // SAFETY: every message this program sends is untyped (nothing is mapped or granted from
    // it) and its acceptor is the kernel's initial nil window, so a receive maps nothing into
    // it; only the result registers change.
    unsafe { libl4::raw::ipc(arguments) }
}
