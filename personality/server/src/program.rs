//! The server's threads: main (everything) and the console-input relay; built only for the
//! bare-metal target (see main.rs).

use alloc::vec::Vec;

use abi::call::ipc::{IpcArguments, IpcReturnValues};
use abi::protocol::{Exception, KernelMessage, PageFault};
use abi::{MessageTag, Rights, ThreadId, Timeout, Timeouts};
use libl4::debug_println;
use oscore::memory::Access;
use oscore::process::Pid;
use oscore::server::{Action, Config, Event, Nanoseconds, Reply, Server};
use protocol::{SystemCall, SystemCallPath};

use crate::kernel::{self, Processes, ServerFrames};

/// The server's heap: a buddy allocator over the start of its anonymous memory.
#[global_allocator]
static HEAP: buddy_system_allocator::LockedHeap<32> = buddy_system_allocator::LockedHeap::empty();
const HEAP_BASE: u64 = protocol::boot::SERVER_MEMORY;
const HEAP_SIZE: u64 = 64 << 20;
/// The console relay's stack (thread 1): 64 KiB above the heap.
const RELAY_STACK_TOP: u64 = HEAP_BASE + HEAP_SIZE + (64 << 10);
/// The frames given to clients: the rest of the anonymous memory.
const FRAMES_START: u64 = HEAP_BASE + (128 << 20);
const FRAMES_END: u64 = protocol::boot::SERVER_MEMORY + protocol::boot::SERVER_MEMORY_SIZE;

/// Label of the relay's messages to main: the bytes as console-api's READ answer carries them.
const CONSOLE_INPUT_LABEL: u16 = 0x5C30;

/// The first program and its environment.
const INIT: &[u8] = b"/sbin/init";
const INIT_ENVIRONMENT: &[&[u8]] = &[b"HOME=/", b"TERM=vt100"];

/// What the root task told the server.
#[derive(Clone, Copy, Debug)]
struct Configuration {
    initrd: &'static [u8],
    driver: Option<ThreadId>,
    path: SystemCallPath,
    seed: u64,
    /// The RAM sigma0 hands out: the server never has more frames than that.
    memory: u64,
}

/// The program: what `_start` runs on thread 0.
pub fn main() {
    // SAFETY: the heap region is the server's alone (its pager backs it with fresh pages),
    // given to the allocator once, before anything allocates.
    unsafe { HEAP.lock().init(HEAP_BASE as usize, HEAP_SIZE as usize) };
    let configuration = configuration();
    let mut seed = [0u8; 32];
    for (index, chunk) in seed.chunks_exact_mut(8).enumerate() {
        let word = configuration
            .seed
            .rotate_left(index as u32 * 16)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    let config = Config::new(configuration.path, seed);
    let frames_end = FRAMES_START
        .saturating_add(configuration.memory & !0xFFF)
        .min(FRAMES_END);
    let frames = ServerFrames::new(FRAMES_START, frames_end);
    let mut server = match Server::new(frames, configuration.initrd, config) {
        Ok(server) => server,
        Err(error) => fail(format_args!("the root file system is unusable: {error:?}")),
    };
    debug_println!(
        "server: the initrd ({} KiB) is the root file system; system calls by {} by default",
        configuration.initrd.len() / 1024,
        configuration.path.name()
    );
    if let Some(driver) = configuration.driver {
        start_relay(driver);
    }
    // A map item passes on only what the server has: fault the trampoline's page in first.
    let code = trampoline::code_page();
    // SAFETY: reads one byte of the trampoline's code page, a static of the server's image.
    let _ = unsafe { core::ptr::read_volatile(code.as_ptr()) };
    let mut glue = Glue {
        processes: Processes::default(),
        driver: configuration.driver,
    };
    match server.start_init(INIT, &[INIT], INIT_ENVIRONMENT, now()) {
        Ok(actions) => {
            let _ = glue.perform(actions, None);
        }
        Err(error) => fail(format_args!(
            "init ({}) did not start: {error:?}",
            "/sbin/init"
        )),
    }
    // The answer to the last message's sender goes out with the next wait (reply-and-wait).
    let mut reply = None;
    loop {
        let timeout = match server.next_deadline() {
            None => Timeout::NEVER,
            Some(deadline) => {
                let microseconds = deadline.saturating_sub(now()).0.div_ceil(1000).max(1);
                u32::try_from(microseconds)
                    .ok()
                    .and_then(|microseconds| Timeout::from_microseconds(microseconds).ok())
                    .unwrap_or(Timeout::NEVER)
            }
        };
        let received = kernel::reply_and_wait(reply.take(), timeout);
        let (event, sender) = match received {
            Ok(message) => (glue.event(&message), glue.processes.pid_of(message.from)),
            Err(abi::ReturnError::Call(abi::CallError::ReceiveTimeout)) => {
                (Some(Event::Tick), None)
            }
            Err(_) => (None, None),
        };
        if let Some(event) = event {
            let actions = server.handle(event, now());
            reply = glue.perform(actions, sender);
        }
    }
}

/// The monotonic time, as the dispatcher counts it.
fn now() -> Nanoseconds {
    Nanoseconds(kernel::now())
}

/// The kernel side of the main loop: messages into events, actions into kernel calls.
struct Glue {
    processes: Processes,
    driver: Option<ThreadId>,
}

impl Glue {
    /// The event a message is, if any.
    fn event(&mut self, message: &IpcReturnValues) -> Option<Event> {
        if message.tag.label() == CONSOLE_INPUT_LABEL {
            let bytes = console_api::Bytes::from_words(&message.words)?;
            return Some(Event::ConsoleInput(bytes.as_slice().to_vec()));
        }
        let Some(pid) = self.processes.pid_of(message.from) else {
            debug_println!(
                "server: ignored a message with label {:#x} from {}",
                message.tag.label(),
                message.from
            );
            return None;
        };
        if let Some(call) = SystemCall::decode(message.tag, &message.words) {
            return Some(Event::SystemCall { pid, call });
        }
        match KernelMessage::classify(message.tag)? {
            KernelMessage::PageFault => {
                let fault = PageFault::decode(message.tag, &message.words).ok()?;
                let access = if fault.access.contains(Rights::WRITE) {
                    Access::Write
                } else if fault.access.contains(Rights::EXECUTE) {
                    Access::Execute
                } else {
                    Access::Read
                };
                Some(Event::PageFault {
                    pid,
                    address: fault.address,
                    access,
                    instruction_pointer: fault.instruction_pointer,
                })
            }
            KernelMessage::Exception => {
                let words = exception_words(message);
                let exception = Exception::decode(message.tag, &words).ok()?;
                Some(Event::Exception { pid, exception })
            }
            _ => None,
        }
    }

    /// Carry out the dispatcher's actions, in order, but for the answer to `sender` (the
    /// process whose message this was): that one is returned, to go out with the next wait
    /// as one reply-and-wait. (Answering last changes no outcome: the sender was waiting.)
    fn perform(
        &mut self,
        actions: Vec<Action<u64>>,
        sender: Option<Pid>,
    ) -> Option<(ThreadId, kernel::Message)> {
        let sender_stays = sender.is_some_and(|pid| {
            !actions
                .iter()
                .any(|action| matches!(action, Action::DeleteProcess { pid: gone } if *gone == pid))
        });
        let deferred = actions.iter().rposition(|action| {
            sender_stays && answer_to(action) == sender && answer_to(action).is_some()
        });
        let mut reply = None;
        for (index, action) in actions.into_iter().enumerate() {
            let Some(pid) = answer_to(&action) else {
                self.perform_other(action);
                continue;
            };
            let (Some(thread), Some(message)) = (self.processes.thread_of(pid), answer(&action))
            else {
                continue;
            };
            if Some(index) == deferred {
                reply = Some((thread, message));
            } else {
                kernel::answer(thread, message.tag, &message.words);
            }
        }
        reply
    }

    /// Carry out an action that answers nobody.
    fn perform_other(&mut self, action: Action<u64>) {
        match action {
            Action::StartProcess {
                pid,
                entry,
                stack_pointer,
                path: _,
            } => match self.processes.start(pid, entry, stack_pointer) {
                Ok(_) => {}
                Err(kernel::StartError::NoTaskNumber) => {
                    debug_println!("server: process {pid} has no task number")
                }
                Err(kernel::StartError::Kernel(code)) => {
                    debug_println!("server: the kernel did not start process {pid}: error {code}")
                }
            },
            Action::DeleteProcess { pid } => self.processes.delete(pid),
            Action::ConsoleWrite(bytes) => match self.driver {
                Some(driver) => kernel::console_write(driver, &bytes),
                None => {
                    let _ = libl4::debug_write_bytes(&bytes);
                }
            },
            Action::Log(notice) => debug_println!("server: {notice}"),
            Action::PowerOff | Action::Restart => {
                debug_println!("server: init is gone or the machine was asked to stop");
                kernel::power_off();
            }
            Action::Reply { .. } | Action::Map { .. } | Action::MapTrampoline { .. } => {}
        }
    }
}

/// The process an action answers (a system call's reply, a page fault's mapping), if any.
fn answer_to(action: &Action<u64>) -> Option<Pid> {
    match action {
        Action::Reply { pid, .. } | Action::Map { pid, .. } | Action::MapTrampoline { pid } => {
            Some(*pid)
        }
        _ => None,
    }
}

/// The message an answering action sends.
fn answer(action: &Action<u64>) -> Option<kernel::Message> {
    match action {
        Action::Reply { reply, .. } => match reply {
            Reply::Message(answer) => {
                let (tag, word) = answer.encode().ok()?;
                Some(kernel::Message {
                    tag,
                    words: alloc::vec![word],
                })
            }
            Reply::ExceptionResult(value) => Some(kernel::Message {
                tag: MessageTag::new(0, 1, 0).ok()?,
                words: alloc::vec![*value],
            }),
            Reply::ExceptionRegisters(registers) => {
                let words = registers.to_words();
                Some(kernel::Message {
                    tag: MessageTag::new(0, words.len(), 0).ok()?,
                    words: words.to_vec(),
                })
            }
        },
        Action::Map { mapping, .. } => kernel::map_message(mapping),
        Action::MapTrampoline { .. } => kernel::map_page_message(
            trampoline::code_page().as_ptr() as u64,
            protocol::layout::TRAMPOLINE_CODE,
            Rights::READ.union(Rights::EXECUTE),
        ),
        _ => None,
    }
}

/// MR1..MR36 of an exception message: seven from the registers, the rest from the UTCB.
fn exception_words(message: &IpcReturnValues) -> [u64; abi::protocol::exception_word::COUNT] {
    let mut words = [0u64; abi::protocol::exception_word::COUNT];
    words[..7].copy_from_slice(&message.words);
    for (index, word) in words.iter_mut().enumerate().skip(7) {
        // SAFETY: MR8.. of the server's own UTCB, where the kernel just wrote the message.
        *word = unsafe { (*libl4::utcb()).message_registers[index + 1] };
    }
    words
}

/// Ask the root task (the pager) for the configuration: the server's first message.
fn configuration() -> Configuration {
    let pager = kernel::pager();
    let reply = match libl4::call(pager, protocol::boot::CONFIGURATION_REQUEST_LABEL, []) {
        Ok(reply) if reply.tag.label() == protocol::boot::SERVER_CONFIGURATION_LABEL => reply,
        other => fail(format_args!(
            "no configuration from the root task: {other:?}"
        )),
    };
    let [address, size, driver, path, seed, memory, ..] = reply.words;
    // SAFETY: the root task maps the initrd read-only at `address` for the server's lifetime
    // (protocol::boot::SERVER_INITRD), faulted in on first touch; nobody writes it.
    let initrd = unsafe { core::slice::from_raw_parts(address as *const u8, size as usize) };
    let driver = ThreadId::from_raw(driver);
    Configuration {
        initrd,
        driver: (!driver.is_nil()).then_some(driver),
        path: SystemCallPath::from_auxiliary_value(path).unwrap_or(SystemCallPath::Trampoline),
        seed,
        memory,
    }
}

/// The console driver the relay reads from.
static DRIVER: spin::Once<ThreadId> = spin::Once::new();

/// Start thread 1, the console-input relay.
fn start_relay(driver: ThreadId) {
    DRIVER.call_once(|| driver);
    let Ok(relay) = libl4::my_thread_id().with_thread(1) else {
        fail(format_args!("no thread ID for the relay"))
    };
    let arguments = abi::call::lthread_ex_regs::LthreadExRegsArguments::start(
        relay,
        relay_main as *const () as u64,
        RELAY_STACK_TOP,
    );
    // SAFETY: creates thread 1 of the server on its own stack (a region nothing else uses),
    // running `relay_main`, which shares nothing mutable with thread 0.
    let results = unsafe { libl4::raw::lthread_ex_regs(&arguments.encode()) };
    if results[abi::call::ERROR_REGISTER] != 0 {
        fail(format_args!("could not start the console relay"));
    }
}

/// Thread 1: read from the driver (a call it answers when bytes arrive), pass them to main
/// (a send that waits until main receives: main never calls thread 1, so this cannot
/// deadlock), and read again.
extern "C" fn relay_main() -> ! {
    let driver = DRIVER.get().copied().unwrap_or(ThreadId::NIL);
    let main = libl4::my_thread_id()
        .with_thread(0)
        .unwrap_or(ThreadId::NIL);
    loop {
        let (tag, words) = console_api::Request::Read.encode();
        let arguments = IpcArguments::call(driver, tag, words);
        // SAFETY: an untyped call; nothing of the server's changes but registers.
        let Ok(reply) = (unsafe { libl4::ipc(&arguments) }) else {
            continue;
        };
        let Ok(console_api::Answer::Received(bytes)) =
            console_api::Answer::decode(reply.tag, &reply.words)
        else {
            continue;
        };
        let Ok(tag) = MessageTag::new(CONSOLE_INPUT_LABEL, console_api::BYTES_MESSAGE_WORDS, 0)
        else {
            continue;
        };
        let arguments = IpcArguments::send(main, tag, bytes.words(), Timeouts::NEVER);
        // SAFETY: an untyped send to the server's own main thread.
        let _ = unsafe { libl4::ipc(&arguments) };
    }
}

fn fail(reason: core::fmt::Arguments<'_>) -> ! {
    debug_println!("server: FAIL {reason}");
    libl4::halt_myself()
}
