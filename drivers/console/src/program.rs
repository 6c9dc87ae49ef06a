//! The console driver's behaviour; built only for the bare-metal target (see main.rs). Every
//! decision is in the library (`console::Console`); this file holds the kernel calls and the
//! unsafe steps around them: the receive window, the register block, the UTCB.

use abi::call::ipc::{IpcArguments, IpcReturnValues, ReceiveSpecifier};
use abi::message::item::Acceptor;
use abi::{Fpage, ReturnError, Rights, ThreadId, Timeouts};
use console::{Console, Delivery, Setup, Statistics, Uart};
use console_api::{Answer, CONFIGURATION_REQUEST_LABEL, UART_WINDOW};
use libl4::debug_println;

/// The program: what `_start` runs on thread 0.
pub fn main() {
    let setup = configure();
    // SAFETY: `accept_configuration` checked that a read-write page of the root task's (the
    // UART's register page, by the configuration protocol) landed in the window and that the
    // register block at `register_block` lies wholly inside it and is 4-byte aligned. The page
    // stays mapped for the driver's life (its pager, the root task, has no reason to take it
    // back), the acceptor is nil again so no mapping can replace it, and no Rust object lives
    // in the window. Every register access goes through `tock-registers` cells (volatile).
    let registers = unsafe { &*(setup.register_block as *const pl011::Registers) };
    let interrupt = setup.configuration.interrupt_thread();
    let mut console = Console::new(Uart::new(registers), interrupt);
    console.start();
    debug_println!(
        "console: PL011 at {:#x} on {interrupt}, receiving by interrupt",
        setup.configuration.physical_address()
    );
    let mut received = libl4::receive(ReceiveSpecifier::Any, Timeouts::NEVER);
    let mut failures = 0u64;
    loop {
        let message = match received {
            Ok(message) => message,
            Err(error) => {
                // A message that did not fit (a client sent items) or a cancelled receive:
                // nothing to answer, wait again.
                failures += 1;
                if failures.is_power_of_two() {
                    debug_println!("console: {failures} failed receives, the latest: {error}");
                }
                received = libl4::receive(ReceiveSpecifier::Any, Timeouts::NEVER);
                continue;
            }
        };
        let before = console.statistics();
        let reply = console.handle(message.from, message.tag, &message.words);
        report(&before, &console.statistics());
        received = match reply {
            Some(reply) => {
                let result = answer_and_wait(reply.to(), reply.answer());
                console.finish(reply, Delivery::of(&result));
                result
            }
            None => libl4::receive(ReceiveSpecifier::Any, Timeouts::NEVER),
        };
    }
}

/// Ask the pager, the root task, for the configuration, with the receive window open on
/// [`UART_WINDOW`] for the register page, and return what it says. A configuration that
/// cannot be used stops the driver: asking again would bring the same answer.
fn configure() -> Setup {
    let root_task = pager();
    if root_task.is_nil() {
        fail("no pager to ask for the configuration");
    }
    let Ok(window) = Fpage::page(UART_WINDOW, Rights::READ_WRITE) else {
        fail("no fpage for the register window")
    };
    set_acceptor(Acceptor::window(window));
    let answer = libl4::call(root_task, CONFIGURATION_REQUEST_LABEL, []);
    // From now on nobody can map anything into the driver: a second page in the window would
    // replace the registers under the driver's feet.
    set_acceptor(Acceptor::NONE);
    let message = match answer {
        Ok(message) => message,
        Err(error) => {
            debug_println!("console: FAIL asking {root_task} for the configuration: {error}");
            libl4::halt_myself()
        }
    };
    match console::accept_configuration(message.tag, &message.words, window) {
        Ok(setup) => setup,
        Err(error) => {
            debug_println!("console: FAIL the configuration from {root_task} is refused: {error}");
            libl4::halt_myself()
        }
    }
}

/// Send `answer` to `to` without waiting (the partner waits in its call, or it does not get
/// the answer), then wait for the next message from anyone: one kernel entry.
fn answer_and_wait(to: ThreadId, answer: &Answer) -> Result<IpcReturnValues, ReturnError> {
    let (tag, words) = answer.encode();
    let arguments = IpcArguments::reply_and_wait(to, tag, words);
    // SAFETY: an answer carries no typed items (`Answer::encode` builds tags with t = 0), so
    // nothing of the driver is mapped or granted; its words travel in x1..x7. The receive
    // phase maps nothing into the driver: its acceptor is nil since the configuration.
    unsafe { libl4::ipc(&arguments) }
}

/// Log the problem counters that reached a power of two.
fn report(before: &Statistics, after: &Statistics) {
    for (description, count) in after.milestones(before) {
        debug_println!("console: {count} {description}");
    }
}

/// The driver's pager, from the kernel's mirror in the UTCB: the root task, which starts the
/// driver and configures it.
fn pager() -> ThreadId {
    let utcb = libl4::utcb();
    // SAFETY: `utcb` is this thread's UTCB, mapped readable for the thread's life
    // (`libl4::utcb`); `pager` is an aligned u64 inside it, written only by the kernel.
    let raw = unsafe { (&raw const (*utcb).pager).read_volatile() };
    ThreadId::from_raw(raw)
}

/// Set BR0, what the next receive phases accept.
fn set_acceptor(acceptor: Acceptor) {
    let utcb = libl4::utcb();
    // SAFETY: BR0 is an aligned u64 of this thread's own UTCB, mapped read-write for its
    // life; the kernel reads it only during this thread's ipc, which is not running. The
    // acceptors this program sets open at most the register window, where no Rust object
    // lives (the crate-level invariant of libl4's safe wrappers).
    unsafe {
        (&raw mut (*utcb).buffer_registers[abi::utcb::ACCEPTOR_REGISTER])
            .write_volatile(acceptor.raw())
    };
}

fn fail(reason: &str) -> ! {
    debug_println!("console: FAIL {reason}");
    libl4::halt_myself()
}
