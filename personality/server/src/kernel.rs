//! The server's kernel-facing module: the only code of the server that makes kernel calls.
//!
//! What a guest OS's architecture-dependent part does on hardware, this module does with L4
//! calls (docs/porting-a-guest.md): page tables become map items and fpage_unmap of the
//! server's own pages ([`ServerFrames`]); creating and destroying an address space becomes
//! task_new ([`Processes`]); returning to user mode becomes an answer to a waiting client;
//! the console is a driver task reached by ipc; the clock is the virtual counter.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use abi::call::fpage_unmap::{FpageUnmapArguments, UnmapScope};
use abi::call::ipc::{IpcArguments, IpcReturnValues};
use abi::call::task_new::{TaskCreation, TaskDeletion, TaskNewArguments};
use abi::{Fpage, MessageTag, Rights, ThreadId, Timeout, Timeouts, TypedItem};
use oscore::memory::{Frames, Mapping, PAGE_SIZE};
use oscore::process::Pid;

/// A client process's task: `PROCESS_TASK_BASE + pid`, thread 0.
pub const PROCESS_TASK_BASE: u16 = *protocol::boot::PROCESS_TASKS.start();

/// Converts the server's page rights into flexpage rights.
fn fpage_rights(rights: oscore::memory::Rights) -> Rights {
    Rights::from_bits_truncate(u64::from(rights.bits()))
}

/// The server's memory for clients: pages of a region of its own address space, which its
/// pager (the root task) backs with fresh zeroed RAM on first touch. A frame is the page's
/// address in the server; mapping it into a client is a map item of that page.
#[derive(Debug)]
pub struct ServerFrames {
    start: u64,
    next: u64,
    end: u64,
    free: Vec<u64>,
}

impl ServerFrames {
    /// Frames from `[start, end)` of the server's address space.
    pub fn new(start: u64, end: u64) -> Self {
        Self {
            start,
            next: start,
            end,
            free: Vec::new(),
        }
    }
}

/// Take away `rights` from every client mapping of the server's page `page` (the server's
/// own mapping stays): fpage_unmap with the recipients-only scope.
fn unmap_from_clients(page: u64, rights: Rights) {
    let Ok(fpage) = Fpage::page(page, rights) else {
        return;
    };
    let arguments = FpageUnmapArguments {
        fpage,
        scope: UnmapScope::Recipients,
    };
    // SAFETY: fpage_unmap of the server's own page with the recipients-only scope changes
    // only clients' mappings of it; the server's view and its Rust objects stay.
    unsafe { libl4::raw::fpage_unmap(&arguments.encode()) };
}

impl Frames for ServerFrames {
    type Frame = u64;

    fn allocate(&mut self) -> Option<u64> {
        let page = match self.free.pop() {
            Some(page) => page,
            None if self.next < self.end => {
                let page = self.next;
                self.next += PAGE_SIZE;
                page
            }
            None => return None,
        };
        self.bytes_mut(page).fill(0);
        Some(page)
    }

    fn free(&mut self, frame: u64) {
        unmap_from_clients(frame, Rights::ALL);
        self.free.push(frame);
    }

    fn revoke(&mut self, frame: u64, rights: oscore::memory::Rights) {
        unmap_from_clients(frame, fpage_rights(rights));
    }

    fn statistics(&self) -> Option<oscore::memory::FrameStatistics> {
        Some(oscore::memory::FrameStatistics {
            total: (self.end - self.start) / PAGE_SIZE,
            free: self.free.len() as u64 + (self.end - self.next) / PAGE_SIZE,
        })
    }

    fn bytes(&self, frame: u64) -> &[u8; 4096] {
        // SAFETY: `frame` is a page of the frame region this value handed out (the oscore
        // contract: only allocated frames are passed back); the region is the server's
        // alone, and its pager maps a page there on first touch.
        unsafe { &*(frame as *const [u8; 4096]) }
    }

    fn bytes_mut(&mut self, frame: u64) -> &mut [u8; 4096] {
        // SAFETY: as in `bytes`; `&mut self` makes this the only reference the server holds.
        unsafe { &mut *(frame as *mut [u8; 4096]) }
    }
}

/// The tasks of the server's processes.
#[derive(Debug, Default)]
pub struct Processes {
    /// The last version of each task number the server used (a new incarnation takes the next).
    versions: BTreeMap<u16, u32>,
    /// Running processes: pid → thread 0 of the task.
    threads: BTreeMap<Pid, ThreadId>,
    /// Inactive task numbers the server owns (it deleted their tasks); any other number it
    /// first asks the root task for, which owns them all at boot.
    owned: BTreeSet<u16>,
}

/// Why a process could not be started.
#[derive(Clone, Copy, Debug)]
pub enum StartError {
    /// The pid has no task number, or the root task did not hand it over.
    NoTaskNumber,
    /// The kernel refused (error code).
    Kernel(u64),
}

impl Processes {
    /// The pid of a client thread, if it is one of ours.
    pub fn pid_of(&self, thread: ThreadId) -> Option<Pid> {
        let pid = Pid::new(i32::from(thread.task().checked_sub(PROCESS_TASK_BASE)?))?;
        (self.threads.get(&pid) == Some(&thread)).then_some(pid)
    }

    /// Thread 0 of process `pid`.
    pub fn thread_of(&self, pid: Pid) -> Option<ThreadId> {
        self.threads.get(&pid).copied()
    }

    /// Create the task of process `pid`: thread 0 at `entry` with `stack_pointer`, paged and
    /// handled by this thread.
    pub fn start(
        &mut self,
        pid: Pid,
        entry: u64,
        stack_pointer: u64,
    ) -> Result<ThreadId, StartError> {
        let task = u16::try_from(pid.number())
            .ok()
            .and_then(|pid| pid.checked_add(PROCESS_TASK_BASE))
            .ok_or(StartError::NoTaskNumber)?;
        let version = self
            .versions
            .get(&task)
            .map_or(1, |&old| ThreadId::next_version(old));
        let thread = ThreadId::new(task, 0, version).map_err(|_| StartError::NoTaskNumber)?;
        if !self.owned.contains(&task) {
            request_task_number(task)?;
            self.owned.insert(task);
        }
        let utcb_area = Fpage::new(
            protocol::layout::UTCB_AREA,
            protocol::layout::UTCB_AREA_SIZE_LOG2,
            Rights::NONE,
        )
        .map_err(|_| StartError::NoTaskNumber)?;
        let me = libl4::my_thread_id();
        let creation = TaskNewArguments::Create(TaskCreation {
            first_thread: thread,
            pager: me,
            instruction_pointer: entry,
            stack_pointer,
            utcb_area,
            kernel_interface_page: Fpage::NIL,
            maximum_controlled_priority: 100,
            exception_handler: me,
        });
        // SAFETY: task_new creates a task; nothing of the server changes.
        let results = unsafe { libl4::raw::task_new(&creation.encode()) };
        let error = results[abi::call::ERROR_REGISTER];
        if error != 0 {
            return Err(StartError::Kernel(error));
        }
        self.owned.remove(&task);
        self.versions.insert(task, version);
        self.threads.insert(pid, thread);
        Ok(thread)
    }

    /// Delete the task of process `pid` (its mappings go with it).
    pub fn delete(&mut self, pid: Pid) {
        let Some(thread) = self.threads.remove(&pid) else {
            return;
        };
        let deletion = TaskNewArguments::Delete(TaskDeletion {
            task: thread,
            new_owner: ThreadId::NIL,
        });
        // SAFETY: task_new deletes a client task of the server's clan; nothing of the server's
        // own memory changes (mappings the client got from the server are removed in the
        // client only).
        let results = unsafe { libl4::raw::task_new(&deletion.encode()) };
        if results[abi::call::ERROR_REGISTER] == 0 {
            // The deleter owns the number now.
            self.owned.insert(thread.task());
        }
    }
}

/// Ask the root task (the server's pager) to hand task number `task` to the server.
fn request_task_number(task: u16) -> Result<(), StartError> {
    let answer = libl4::call(
        pager(),
        protocol::boot::TASK_NUMBER_REQUEST_LABEL,
        [u64::from(task)],
    )
    .map_err(|_| StartError::NoTaskNumber)?;
    match (answer.tag.label(), answer.words.first()) {
        (protocol::boot::TASK_NUMBER_ANSWER_LABEL, Some(0)) => Ok(()),
        (protocol::boot::TASK_NUMBER_ANSWER_LABEL, Some(&code)) => Err(StartError::Kernel(code)),
        _ => Err(StartError::NoTaskNumber),
    }
}

/// A message to a client: its tag and MR1.. (at most 63 words).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The tag.
    pub tag: MessageTag,
    /// MR1...
    pub words: Vec<u64>,
}

/// MR1..MR7 of `words` for the registers; MR8.. go into the server's UTCB, where the kernel
/// reads a message's words beyond the seventh.
fn message_registers(words: &[u64]) -> [u64; 7] {
    let mut registers = [0u64; 7];
    for (index, &word) in words.iter().enumerate() {
        match registers.get_mut(index) {
            Some(register) => *register = word,
            None => {
                // SAFETY: MR8.. of the server's own UTCB, which only this thread uses; an
                // index beyond MR63 is skipped by `get_mut` (no message has that many).
                unsafe {
                    if let Some(slot) = (*libl4::utcb()).message_registers.get_mut(index + 1) {
                        *slot = word;
                    }
                }
            }
        }
    }
    registers
}

/// Answer `client`, which waits in its call to the server: a send with timeout zero, so that
/// a client that is gone (or not waiting) costs nothing. `words` are MR1..; more than seven
/// go through the server's UTCB.
pub fn answer(client: ThreadId, tag: MessageTag, words: &[u64]) -> bool {
    let registers = message_registers(words);
    let arguments = IpcArguments::send(
        client,
        tag,
        registers,
        Timeouts {
            send: Timeout::ZERO,
            receive: Timeout::NEVER,
        },
    );
    // SAFETY: an untyped message (or map items of frames the server handed to this client):
    // nothing of the server's changes but its registers.
    unsafe { libl4::ipc(&arguments) }.is_ok()
}

/// Answer the message just received from `client` (if any) and wait for the next one, in one
/// kernel entry: reply-and-wait, the IPC fastpath's case when the answer is short. A client
/// that is gone fails the send phase, and then the server only waits. `receive` bounds the
/// wait (the earliest sleeper).
pub fn reply_and_wait(
    reply: Option<(ThreadId, Message)>,
    receive: Timeout,
) -> Result<IpcReturnValues, abi::ReturnError> {
    let wait = || {
        libl4::receive(
            abi::call::ipc::ReceiveSpecifier::Any,
            Timeouts {
                send: Timeout::NEVER,
                receive,
            },
        )
    };
    let Some((client, message)) = reply else {
        return wait();
    };
    let mut arguments =
        IpcArguments::reply_and_wait(client, message.tag, message_registers(&message.words));
    arguments.timeouts.receive = receive;
    // SAFETY: an untyped answer, or map items of frames the server handed to this client:
    // nothing of the server's changes but its registers.
    match unsafe { libl4::ipc(&arguments) } {
        Err(abi::ReturnError::Call(error)) if error.phase() == Some(abi::error::Phase::Send) => {
            wait()
        }
        other => other,
    }
}

/// The answer to a page fault of `client`: map `mapping`'s frame at its page.
pub fn map_message(mapping: &Mapping<u64>) -> Option<Message> {
    map_page_message(
        mapping.frame,
        mapping.page_address,
        fpage_rights(mapping.rights),
    )
}

/// The answer to a page fault: map the server's page `page` at `target` with `rights`.
pub fn map_page_message(page: u64, target: u64, rights: Rights) -> Option<Message> {
    let fpage = Fpage::page(page, rights).ok()?;
    let item = abi::message::item::MapItem::new(target, fpage).ok()?;
    let [first, second] = TypedItem::Map(item).encode();
    let tag = MessageTag::new(0, 0, 2).ok()?;
    Some(Message {
        tag,
        words: alloc::vec![first, second],
    })
}

/// The time since boot, in nanoseconds, from the virtual counter (which EL0 may read).
pub fn now() -> u64 {
    let (ticks, frequency): (u64, u64);
    // SAFETY: reads the virtual counter and its frequency; no memory is touched.
    unsafe {
        core::arch::asm!(
            "isb",
            "mrs {ticks}, cntvct_el0",
            "mrs {frequency}, cntfrq_el0",
            ticks = out(reg) ticks,
            frequency = out(reg) frequency,
            options(nomem, nostack, preserves_flags)
        )
    };
    if frequency == 0 {
        return 0;
    }
    ((u128::from(ticks) * 1_000_000_000) / u128::from(frequency)) as u64
}

/// Write `bytes` to the console through the driver (in WRITE messages of at most 48 bytes).
pub fn console_write(driver: ThreadId, bytes: &[u8]) {
    for chunk in bytes.chunks(console_api::MAX_BYTES) {
        let (tag, words) = console_api::Request::Write(console_api::Bytes::prefix(chunk)).encode();
        let arguments = IpcArguments::call(driver, tag, words);
        // SAFETY: an untyped call; nothing of the server's changes but its registers.
        if unsafe { libl4::ipc(&arguments) }.is_err() {
            return;
        }
    }
}

/// Ask the root task (the server's pager) to turn the machine off.
pub fn power_off() {
    let pager = pager();
    let _ = libl4::send(pager, protocol::boot::POWER_OFF_LABEL, [], Timeouts::NEVER);
}

/// The server's pager, the root task (the kernel's mirror in the UTCB).
pub fn pager() -> ThreadId {
    // SAFETY: reads the server's own UTCB, which the kernel keeps mapped.
    ThreadId::from_raw(unsafe { (*libl4::utcb()).pager })
}
