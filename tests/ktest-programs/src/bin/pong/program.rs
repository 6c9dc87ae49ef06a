//! pong's behaviour; built only for the bare-metal target (see main.rs).

use abi::call::ipc::{IpcArguments, IpcReturnValues, ReceiveSpecifier};
use abi::message::item::MapItem;
use abi::protocol::{
    EXCEPTION_LABEL, INTERRUPT_LABEL, PAGE_FAULT_LABEL, PageFault, exception_word,
};
use abi::{Fpage, MessageTag, ReturnError, Rights, Timeouts, TypedItem};
use ktest_programs::{
    ANSWER_LABEL, DONE_LABEL, EXCEPTION_ANSWER, FP_CHECK_LABEL, FP_FILL_LABEL, LINUX_GETPID, PING,
    PONG, REQUEST_LABEL, SEED, TEST_INTERRUPT, TRAMPOLINE_ANSWER,
};
use libl4::debug_println;

/// The page pong lends to ping. In .bss: the kernel loaded it zero-filled and mapped.
#[repr(C, align(4096))]
struct Page([u8; 4096]);

static mut LENT_PAGE: Page = Page([0; 4096]);

/// The program: what `_start` runs on thread 0.
pub fn main() {
    debug_println!("pong: ready");
    attach_interrupt();
    let page = prepare_lent_page();
    let mut received = libl4::receive(ReceiveSpecifier::Any, Timeouts::NEVER);
    loop {
        let message = match received {
            Ok(message) => message,
            Err(error) => fail(format_args!("ipc failed: {error}")),
        };
        received = match message.tag.label() {
            REQUEST_LABEL => answer(&message),
            FP_FILL_LABEL => {
                ktest_programs::fp::fill(message.words[0]);
                libl4::reply_and_wait(message.from, ANSWER_LABEL, [1])
            }
            FP_CHECK_LABEL => {
                let intact = ktest_programs::fp::holds(message.words[0]);
                libl4::reply_and_wait(message.from, ANSWER_LABEL, [u64::from(intact)])
            }
            DONE_LABEL => {
                debug_println!("pong: done");
                libl4::halt_myself()
            }
            label if label & !0b111 == PAGE_FAULT_LABEL => lend_page(&message, page),
            EXCEPTION_LABEL => answer_exception(&message),
            INTERRUPT_LABEL if message.from.interrupt_number() == Some(TEST_INTERRUPT) => {
                debug_println!("pong: interrupt {TEST_INTERRUPT} arrived as a message");
                // The next receive acknowledges it: the kernel unmasks the line.
                libl4::receive(ReceiveSpecifier::Any, Timeouts::NEVER)
            }
            label if u64::from(label) == LINUX_GETPID => {
                libl4::reply_and_wait(message.from, ANSWER_LABEL, [TRAMPOLINE_ANSWER])
            }
            label => fail(format_args!(
                "unexpected label {label:#x} from {:?}",
                message.from
            )),
        };
    }
}

/// Answers a request with label 0 and MR1 + 1, and waits for the next message.
fn answer(request: &IpcReturnValues) -> Result<IpcReturnValues, ReturnError> {
    if request.tag.untyped_words() != 1 || request.tag.typed_words() != 0 {
        fail(format_args!("malformed request {:?}", request.tag));
    }
    let number = request.words[0].wrapping_add(1);
    libl4::reply_and_wait(request.from, ANSWER_LABEL, [number])
}

/// Writes the seed at the start of the lent page and returns the page, as an fpage with
/// read and write rights.
fn prepare_lent_page() -> Fpage {
    let page = &raw mut LENT_PAGE;
    // SAFETY: `page` points to a static of 4096 bytes, aligned to 4096, which this
    // single-threaded program touches only here, before it lends the page; the first eight
    // bytes are an aligned u64.
    unsafe { page.cast::<u64>().write_volatile(SEED) };
    match Fpage::page(page as u64, Rights::READ_WRITE) {
        Ok(fpage) => fpage,
        Err(error) => fail(format_args!("no fpage for the lent page: {error}")),
    }
}

/// Answers ping's page fault with a map item that puts `page` at the fault address's page,
/// and waits for the next message.
fn lend_page(message: &IpcReturnValues, page: Fpage) -> Result<IpcReturnValues, ReturnError> {
    if message.from != PING {
        fail(format_args!(
            "a page fault from {:?}, not ping",
            message.from
        ));
    }
    let fault = match PageFault::decode(message.tag, &message.words) {
        Ok(fault) => fault,
        Err(error) => fail(format_args!("malformed page fault: {error}")),
    };
    let send_base = fault.address & !0xFFF;
    let item = match MapItem::new(send_base, page) {
        Ok(item) => item,
        Err(error) => fail(format_args!(
            "no map item for {:#x}: {error}",
            fault.address
        )),
    };
    let [first, second] = TypedItem::Map(item).encode();
    let tag = match MessageTag::new(ANSWER_LABEL, 0, 2) {
        Ok(tag) => tag,
        Err(error) => fail(format_args!("no tag for a map reply: {error}")),
    };
    debug_println!("pong: mapped a page for {:#x}", fault.address);
    let reply = IpcArguments::reply_and_wait(message.from, tag, [first, second, 0, 0, 0, 0, 0]);
    // SAFETY: the one map item gives ping read and write access to LENT_PAGE, which pong
    // wrote once before and never reads or writes again, so ping's accesses cannot race with
    // Rust code here. Pong's acceptor is the kernel's initial nil window: nothing received
    // can be mapped into pong.
    unsafe { libl4::ipc(&reply) }
}

/// Attach [`TEST_INTERRUPT`] to pong: boot programs are chiefed by the kernel, so they may.
fn attach_interrupt() {
    let Ok(line) = abi::ThreadId::interrupt(TEST_INTERRUPT) else {
        fail(format_args!("no interrupt ID for line {TEST_INTERRUPT}"))
    };
    let attach = abi::call::lthread_ex_regs::LthreadExRegsArguments::attach_interrupt(line, PONG);
    // SAFETY: attaching an interrupt changes no memory or thread of pong's.
    let results = unsafe { libl4::raw::lthread_ex_regs(&attach.encode()) };
    if results[abi::call::ERROR_REGISTER] != 0 {
        fail(format_args!(
            "attaching interrupt {TEST_INTERRUPT}: error {}",
            results[9]
        ));
    }
}

/// As ping's exception handler: its `svc #0` arrives as an exception message with its whole
/// register frame (x8 in MR9, which the kernel put in pong's UTCB); a one-word reply sets
/// ping's x0, the system call's result (syscall path c).
fn answer_exception(message: &IpcReturnValues) -> Result<IpcReturnValues, ReturnError> {
    if message.from != PING || message.tag.untyped_words() != exception_word::COUNT {
        fail(format_args!(
            "a malformed exception message {:?} from {:?}",
            message.tag, message.from
        ));
    }
    // SAFETY: the UTCB is this thread's own, mapped for its lifetime; MR9 (x8 of the frame) is
    // an aligned word the kernel wrote before this receive returned.
    let number = unsafe { (*libl4::utcb()).message_registers[1 + 8] };
    if number != LINUX_GETPID {
        fail(format_args!(
            "the exception frame says x8 = {number}, not {LINUX_GETPID}"
        ));
    }
    debug_println!("pong: answered ping's svc #0 as its exception handler");
    libl4::reply_and_wait(message.from, ANSWER_LABEL, [EXCEPTION_ANSWER])
}

fn fail(reason: core::fmt::Arguments<'_>) -> ! {
    debug_println!("pong: FAIL {reason}");
    libl4::halt_myself()
}
