//! Host tests of the kernel's event handlers against a fake machine with real semantics:
//! address spaces are page maps over a model of physical memory, user accesses check the
//! page's rights, interrupt masks are recorded.

use std::boxed::Box;
use std::collections::BTreeMap;
use std::vec;
use std::vec::Vec;

use abi::call::Call;
use abi::call::ipc::{IpcArguments, ReceiveSpecifier};
use abi::call::lthread_ex_regs::{ExchangeControl, LthreadExRegsArguments, RunControl};
use abi::call::task_new::{TaskCreation, TaskDeletion, TaskNewArguments};
use abi::error::CallError;
use abi::message::item::{Acceptor, MapItem, StringItem, TypedItem};
use abi::message::{Fpage, MessageTag, Rights as FpageRights};
use abi::thread_id::ThreadId;
use abi::timeout::{Timeout, Timeouts};

use super::*;

mod fastpath;
use crate::mapdb::{Frame, Page, Rights};

/// A page of the fake physical memory.
type FrameBytes = Box<[u8; 4096]>;

#[derive(Default)]
pub(super) struct FakeMachine {
    memory: BTreeMap<u64, FrameBytes>,
    next_kernel_frame: u64,
    masked: BTreeMap<u16, bool>,
    console: Vec<(ThreadId, Vec<u8>)>,
    spaces_created: usize,
    spaces_destroyed: usize,
    /// Spaces the fastpath may not switch to (as a space without a current ASID); change it
    /// only through `set_slow`, which starts a new switch epoch.
    slow_spaces: Vec<u64>,
    /// The switch epoch (as the ASID generation).
    epoch: u64,
    /// Whether system_power_off reached the machine.
    powered_off: bool,
}

impl FakeMachine {
    /// Whether the fastpath may switch to space `number` (as an ASID roll-over would retire
    /// a space's ASID): a new epoch.
    fn set_slow(&mut self, number: u64, slow: bool) {
        self.slow_spaces.retain(|&space| space != number);
        if slow {
            self.slow_spaces.push(number);
        }
        self.epoch += 1;
    }
}

#[derive(Default, Debug)]
pub(super) struct FakeSpace {
    /// The creation number: what the fastpath "loads" to switch to it.
    number: u64,
    pages: BTreeMap<u64, (u64, Rights)>,
}

impl FakeMachine {
    fn frame(&mut self, frame: u64) -> &mut [u8; 4096] {
        self.memory
            .entry(frame)
            .or_insert_with(|| Box::new([0; 4096]))
    }

    fn access(
        &mut self,
        space: &FakeSpace,
        address: u64,
        length: usize,
        needed: Rights,
    ) -> Result<Vec<(u64, usize, usize)>, UserFault> {
        let mut pieces = Vec::new();
        let mut done = 0usize;
        while done < length {
            let at = address
                .checked_add(done as u64)
                .ok_or(UserFault { address })?;
            let (frame, rights) = *space
                .pages
                .get(&(at >> 12))
                .ok_or(UserFault { address: at })?;
            if !rights.contains(needed) {
                return Err(UserFault { address: at });
            }
            let offset = (at & 0xfff) as usize;
            let take = (4096 - offset).min(length - done);
            pieces.push((frame, offset, take));
            done += take;
        }
        Ok(pieces)
    }
}

impl Machine for FakeMachine {
    type Space = FakeSpace;

    fn create_space(&mut self) -> Option<FakeSpace> {
        self.spaces_created += 1;
        Some(FakeSpace {
            number: self.spaces_created as u64,
            ..FakeSpace::default()
        })
    }

    fn destroy_space(&mut self, _space: FakeSpace) {
        self.spaces_destroyed += 1;
    }

    fn map_kernel_interface_page(
        &mut self,
        space: &mut FakeSpace,
        page: Page,
    ) -> Result<(), crate::mapdb::OutOfMemory> {
        space.pages.insert(page.0, (KIP_FRAME, Rights::READ));
        Ok(())
    }

    fn provide_kernel_page(
        &mut self,
        space: &mut FakeSpace,
        page: Page,
    ) -> Result<(), crate::mapdb::OutOfMemory> {
        // Kernel frames live far above the "RAM" the tests hand out.
        self.next_kernel_frame += 1;
        let frame = 0x10_0000 + self.next_kernel_frame;
        self.frame(frame);
        space
            .pages
            .insert(page.0, (frame, Rights::READ | Rights::WRITE));
        Ok(())
    }

    fn install(
        &mut self,
        space: &mut FakeSpace,
        page: Page,
        frame: Frame,
        rights: Rights,
    ) -> Result<(), crate::mapdb::OutOfMemory> {
        space.pages.insert(page.0, (frame.0, rights));
        Ok(())
    }

    fn protect(&mut self, space: &mut FakeSpace, page: Page, rights: Rights) {
        if let Some(entry) = space.pages.get_mut(&page.0) {
            entry.1 = rights;
        }
    }

    fn remove(&mut self, space: &mut FakeSpace, page: Page) {
        space.pages.remove(&page.0);
    }

    fn read_user(
        &mut self,
        space: &mut FakeSpace,
        address: u64,
        bytes: &mut [u8],
    ) -> Result<(), UserFault> {
        let mut done = 0;
        for (frame, offset, take) in self.access(space, address, bytes.len(), Rights::READ)? {
            bytes[done..done + take].copy_from_slice(&self.frame(frame)[offset..offset + take]);
            done += take;
        }
        Ok(())
    }

    fn write_user(
        &mut self,
        space: &mut FakeSpace,
        address: u64,
        bytes: &[u8],
    ) -> Result<(), UserFault> {
        let mut done = 0;
        for (frame, offset, take) in self.access(space, address, bytes.len(), Rights::WRITE)? {
            self.frame(frame)[offset..offset + take].copy_from_slice(&bytes[done..done + take]);
            done += take;
        }
        Ok(())
    }

    fn set_interrupt_masked(&mut self, line: u16, masked: bool) {
        self.masked.insert(line, masked);
    }

    fn sigma0_memory(&mut self, address: u64) -> Option<(Frame, Rights)> {
        // The fake machine gives sigma0 [0x8000_0000, 0x8010_0000).
        (0x8000_0000..0x8010_0000)
            .contains(&address)
            .then_some((Frame(address >> 12), Rights::ALL))
    }

    fn debug_write(&mut self, thread: ThreadId, text: &[u8]) {
        self.console.push((thread, text.to_vec()));
    }

    fn power_off(&mut self) {
        self.powered_off = true;
    }

    fn fast_switch_value(&self, space: &FakeSpace) -> Option<u64> {
        (!self.slow_spaces.contains(&space.number)).then_some(space.number)
    }

    fn switch_epoch(&self) -> u64 {
        self.epoch
    }
}

const UTCB_AREA: u64 = 0x7000_0000;
/// The fake machine's kernel interface page frame.
const KIP_FRAME: u64 = 0x0F_FFFF;
const SIGMA0: u16 = 1;
const ROOT: u16 = 2;

/// A kernel with sigma0 (task 1) and the root task (task 2), both chiefed by the kernel, each
/// with thread 0 started. sigma0 owns frames 0x40000..0x40100 at the same page numbers.
fn boot() -> (Kernel<FakeMachine>, ThreadSlot, ThreadSlot) {
    let mut kernel = Kernel::new(FakeMachine::default(), 100);
    kernel
        .create_task(SIGMA0, ThreadId::KERNEL_TASK, UTCB_AREA, UTCB_AREA_SIZE)
        .unwrap();
    kernel
        .create_task(ROOT, ThreadId::KERNEL_TASK, UTCB_AREA, UTCB_AREA_SIZE)
        .unwrap();
    let sigma0 = kernel
        .create_thread(SIGMA0, 0, ThreadId::NIL, ThreadId::NIL, ThreadId::NIL)
        .unwrap();
    let root = kernel
        .create_thread(ROOT, 0, sigma0, ThreadId::NIL, ThreadId::NIL)
        .unwrap();
    for page in 0x40000..0x40100 {
        kernel
            .insert_root_mapping(SIGMA0, Page(page), Frame(page), Rights::ALL)
            .unwrap();
    }
    let sigma0 = kernel.lookup(sigma0).unwrap();
    let root = kernel.lookup(root).unwrap();
    kernel.start_thread(sigma0, 0x1000, 0x2000);
    kernel.start_thread(root, 0x1000, 0x2000);
    kernel.schedule();
    (kernel, sigma0, root)
}

/// A new task chiefed by `chief` with thread 0 started, paged by `pager`.
fn spawn(kernel: &mut Kernel<FakeMachine>, task: u16, chief: u16, pager: ThreadId) -> ThreadSlot {
    kernel
        .create_task(task, chief, UTCB_AREA, UTCB_AREA_SIZE)
        .unwrap();
    let id = kernel
        .create_thread(task, 0, pager, pager, ThreadId::NIL)
        .unwrap();
    let slot = kernel.lookup(id).unwrap();
    kernel.start_thread(slot, 0x1000, 0x2000);
    slot
}

fn id(kernel: &Kernel<FakeMachine>, slot: ThreadSlot) -> ThreadId {
    kernel.thread(slot).unwrap().id
}

/// Make `slot` the running thread (as if the scheduler had picked it).
fn run(kernel: &mut Kernel<FakeMachine>, slot: ThreadSlot) {
    if let Some(current) = kernel.current()
        && current != slot
        && kernel.thread(current).unwrap().state == ThreadState::Ready
    {
        kernel.scheduler.make_ready(current);
    }
    assert_eq!(
        kernel.thread(slot).unwrap().state,
        ThreadState::Ready,
        "only a ready thread can run"
    );
    kernel.scheduler.make_blocked(slot);
    kernel.set_current(Some(slot));
}

/// `slot` executes `svc #1` with these ipc arguments.
fn ipc(kernel: &mut Kernel<FakeMachine>, slot: ThreadSlot, arguments: IpcArguments) {
    run(kernel, slot);
    let registers = arguments.encode();
    kernel.thread_mut(slot).unwrap().context.x[..11].copy_from_slice(&registers);
    kernel.kernel_call(Call::Ipc.number(), 0, 0);
    kernel.check_invariants().unwrap();
}

fn state(kernel: &Kernel<FakeMachine>, slot: ThreadSlot) -> ThreadState {
    kernel.thread(slot).unwrap().state
}

fn x(kernel: &Kernel<FakeMachine>, slot: ThreadSlot, register: usize) -> u64 {
    kernel.thread(slot).unwrap().context.x[register]
}

fn error_of(kernel: &Kernel<FakeMachine>, slot: ThreadSlot) -> u64 {
    x(kernel, slot, 9)
}

fn tag(label: u16, untyped: usize, typed: usize) -> MessageTag {
    MessageTag::new(label, untyped, typed).unwrap()
}

fn open_wait() -> IpcArguments {
    IpcArguments::receive(ReceiveSpecifier::Any, Timeouts::NEVER)
}

fn write_utcb_word(kernel: &mut Kernel<FakeMachine>, slot: ThreadSlot, offset: usize, word: u64) {
    let address = kernel.thread(slot).unwrap().utcb + offset as u64;
    kernel.write_user_words(slot, address, &[word]).unwrap();
}

fn read_utcb_word(kernel: &mut Kernel<FakeMachine>, slot: ThreadSlot, offset: usize) -> u64 {
    let address = kernel.thread(slot).unwrap().utcb + offset as u64;
    let mut word = [0];
    kernel.read_user_words(slot, address, &mut word).unwrap();
    word[0]
}

#[test]
fn a_call_and_its_reply_cross_two_address_spaces() {
    let (mut kernel, sigma0, root) = boot();
    ipc(&mut kernel, sigma0, open_wait());
    assert_eq!(
        state(&kernel, sigma0),
        ThreadState::Receiving {
            from: ReceiveFrom::Any
        }
    );
    let server = id(&kernel, sigma0);
    ipc(
        &mut kernel,
        root,
        IpcArguments::call(server, tag(7, 3, 0), [11, 22, 33, 0, 0, 0, 0]),
    );
    assert_eq!(
        kernel.current(),
        Some(sigma0),
        "the server runs at once (direct switch)"
    );
    assert_eq!(
        state(&kernel, root),
        ThreadState::Receiving {
            from: ReceiveFrom::Thread(sigma0)
        }
    );
    assert_eq!(MessageTag::from_raw(x(&kernel, sigma0, 0)).label(), 7);
    assert_eq!(
        [
            x(&kernel, sigma0, 1),
            x(&kernel, sigma0, 2),
            x(&kernel, sigma0, 3)
        ],
        [11, 22, 33]
    );
    assert_eq!(x(&kernel, sigma0, 8), id(&kernel, root).raw());
    assert_eq!(error_of(&kernel, sigma0), 0);

    let client = id(&kernel, root);
    ipc(
        &mut kernel,
        sigma0,
        IpcArguments::reply_and_wait(client, tag(0, 1, 0), [42, 0, 0, 0, 0, 0, 0]),
    );
    assert_eq!(
        state(&kernel, sigma0),
        ThreadState::Receiving {
            from: ReceiveFrom::Any
        }
    );
    assert_eq!(kernel.current(), Some(root));
    assert_eq!((x(&kernel, root, 1), error_of(&kernel, root)), (42, 0));
    assert_eq!(x(&kernel, root, 8), server.raw());
}

#[test]
fn a_sender_that_comes_first_waits_in_the_queue_and_is_served_in_order() {
    let (mut kernel, sigma0, root) = boot();
    let third = spawn(&mut kernel, 3, ThreadId::KERNEL_TASK, ThreadId::NIL);
    let server = id(&kernel, sigma0);
    ipc(
        &mut kernel,
        root,
        IpcArguments::send(server, tag(1, 0, 0), [0; 7], Timeouts::NEVER),
    );
    ipc(
        &mut kernel,
        third,
        IpcArguments::send(server, tag(2, 0, 0), [0; 7], Timeouts::NEVER),
    );
    assert_eq!(state(&kernel, root), ThreadState::Sending { to: sigma0 });
    ipc(&mut kernel, sigma0, open_wait());
    assert_eq!(MessageTag::from_raw(x(&kernel, sigma0, 0)).label(), 1);
    assert_eq!(state(&kernel, root), ThreadState::Ready);
    assert_eq!(error_of(&kernel, root), 0);
    ipc(&mut kernel, sigma0, open_wait());
    assert_eq!(MessageTag::from_raw(x(&kernel, sigma0, 0)).label(), 2);
    assert_eq!(state(&kernel, third), ThreadState::Ready);
}

#[test]
fn long_messages_travel_through_the_utcbs() {
    let (mut kernel, sigma0, root) = boot();
    ipc(&mut kernel, sigma0, open_wait());
    let mr = |index: usize| abi::utcb::Utcb::message_register_offset(index);
    for index in 8..=40 {
        write_utcb_word(&mut kernel, root, mr(index), 1000 + index as u64);
    }
    let server = id(&kernel, sigma0);
    ipc(
        &mut kernel,
        root,
        IpcArguments::send(
            server,
            tag(5, 40, 0),
            [1, 2, 3, 4, 5, 6, 7],
            Timeouts::NEVER,
        ),
    );
    assert_eq!(x(&kernel, sigma0, 7), 7);
    for index in 8..=40 {
        assert_eq!(
            read_utcb_word(&mut kernel, sigma0, mr(index)),
            1000 + index as u64
        );
    }
}

#[test]
fn sending_to_a_missing_or_stale_thread_fails_and_nothing_is_sent() {
    let (mut kernel, _sigma0, root) = boot();
    let nobody = ThreadId::new(9, 0, 1).unwrap();
    ipc(
        &mut kernel,
        root,
        IpcArguments::send(nobody, tag(1, 0, 0), [0; 7], Timeouts::NEVER),
    );
    assert_eq!(
        error_of(&kernel, root),
        CallError::SendNonexistentPartner.code()
    );
    assert!(MessageTag::from_raw(x(&kernel, root, 0)).is_error());
    let victim = spawn(&mut kernel, 4, ROOT, ThreadId::NIL);
    let stale = id(&kernel, victim);
    kernel.delete_task(4);
    spawn(&mut kernel, 4, ROOT, ThreadId::NIL);
    assert_ne!(
        kernel.lookup(stale),
        kernel.lookup(stale.with_version(stale.version() + 1).unwrap())
    );
    ipc(
        &mut kernel,
        root,
        IpcArguments::send(stale, tag(1, 0, 0), [0; 7], Timeouts::NEVER),
    );
    assert_eq!(
        error_of(&kernel, root),
        CallError::SendNonexistentPartner.code(),
        "a stale version is rejected"
    );
}

#[test]
fn zero_timeouts_fail_at_once_instead_of_blocking() {
    let (mut kernel, sigma0, root) = boot();
    let busy = id(&kernel, sigma0);
    ipc(
        &mut kernel,
        root,
        IpcArguments::send(busy, tag(1, 0, 0), [0; 7], Timeouts::ZERO),
    );
    assert_eq!(error_of(&kernel, root), CallError::SendTimeout.code());
    assert_eq!(state(&kernel, root), ThreadState::Ready);
    ipc(
        &mut kernel,
        root,
        IpcArguments::receive(ReceiveSpecifier::Any, Timeouts::ZERO),
    );
    assert_eq!(error_of(&kernel, root), CallError::ReceiveTimeout.code());
}

#[test]
fn a_receive_timeout_expires_after_the_ticks_it_asked_for_and_not_before() {
    let (mut kernel, _sigma0, root) = boot();
    let timeouts = Timeouts {
        send: Timeout::NEVER,
        receive: Timeout::from_microseconds(25_000).unwrap(),
    };
    ipc(
        &mut kernel,
        root,
        IpcArguments::receive(ReceiveSpecifier::Any, timeouts),
    );
    for _ in 0..2 {
        kernel.timer_tick();
        assert!(matches!(
            state(&kernel, root),
            ThreadState::Receiving { .. }
        ));
    }
    kernel.timer_tick();
    assert_eq!(
        state(&kernel, root),
        ThreadState::Ready,
        "25 ms at 100 Hz is 3 ticks"
    );
    assert_eq!(error_of(&kernel, root), CallError::ReceiveTimeout.code());
    kernel.check_invariants().unwrap();
}

#[test]
fn a_send_timeout_takes_the_sender_out_of_the_queue() {
    let (mut kernel, sigma0, root) = boot();
    let timeouts = Timeouts {
        send: Timeout::from_microseconds(10_000).unwrap(),
        receive: Timeout::NEVER,
    };
    let server = id(&kernel, sigma0);
    ipc(
        &mut kernel,
        root,
        IpcArguments::send(server, tag(1, 0, 0), [0; 7], timeouts),
    );
    kernel.timer_tick();
    assert_eq!(error_of(&kernel, root), CallError::SendTimeout.code());
    assert!(kernel.thread(sigma0).unwrap().send_queue.is_empty());
    kernel.check_invariants().unwrap();
}

#[test]
fn a_closed_wait_accepts_only_the_named_partner() {
    let (mut kernel, sigma0, root) = boot();
    let third = spawn(&mut kernel, 3, ThreadId::KERNEL_TASK, ThreadId::NIL);
    let partner = id(&kernel, third);
    ipc(
        &mut kernel,
        sigma0,
        IpcArguments::receive(ReceiveSpecifier::From(partner), Timeouts::NEVER),
    );
    let server = id(&kernel, sigma0);
    ipc(
        &mut kernel,
        root,
        IpcArguments::send(server, tag(1, 0, 0), [0; 7], Timeouts::NEVER),
    );
    assert_eq!(
        state(&kernel, root),
        ThreadState::Sending { to: sigma0 },
        "the wrong sender waits"
    );
    ipc(
        &mut kernel,
        third,
        IpcArguments::send(server, tag(3, 0, 0), [0; 7], Timeouts::NEVER),
    );
    assert_eq!(MessageTag::from_raw(x(&kernel, sigma0, 0)).label(), 3);
    assert_eq!(state(&kernel, root), ThreadState::Sending { to: sigma0 });
}

#[test]
fn ipc_to_oneself_is_refused_without_blocking() {
    let (mut kernel, _sigma0, root) = boot();
    let me = id(&kernel, root);
    ipc(
        &mut kernel,
        root,
        IpcArguments::call(me, tag(1, 0, 0), [0; 7]),
    );
    assert_eq!(error_of(&kernel, root), CallError::InvalidArgument.code());
    assert_eq!(state(&kernel, root), ThreadState::Ready);
}

#[test]
fn malformed_arguments_are_refused_before_anything_happens() {
    let (mut kernel, sigma0, root) = boot();
    run(&mut kernel, root);
    let server = id(&kernel, sigma0).raw();
    let context = &mut kernel.thread_mut(root).unwrap().context;
    context.x[0] = u64::MAX; // a tag with reserved bits
    context.x[8] = server;
    kernel.kernel_call(Call::Ipc.number(), 0, 0);
    assert_ne!(error_of(&kernel, root), 0);
    kernel.thread_mut(root).unwrap().context.x[8] = 0xFFFF_0000_0000_0001; // reserved ID bits
    run(&mut kernel, root);
    kernel.kernel_call(Call::Ipc.number(), 0, 0);
    assert_eq!(error_of(&kernel, root), CallError::InvalidArgument.code());
    kernel.check_invariants().unwrap();
}

/// BR0 of `slot` accepts mappings into `window` (and strings if `strings`).
fn accept(kernel: &mut Kernel<FakeMachine>, slot: ThreadSlot, window: Fpage, strings: bool) {
    let acceptor = if strings {
        Acceptor::window(window).with_strings()
    } else {
        Acceptor::window(window)
    };
    write_utcb_word(
        kernel,
        slot,
        abi::utcb::Utcb::buffer_register_offset(0),
        acceptor.raw(),
    );
}

fn map_item_words(send_base: u64, fpage: Fpage, grant: bool) -> [u64; 2] {
    let item = MapItem::new(send_base, fpage).unwrap();
    if grant {
        TypedItem::Grant(item).encode()
    } else {
        TypedItem::Map(item).encode()
    }
}

#[test]
fn a_map_item_gives_the_receiver_the_senders_pages_with_at_most_its_rights() {
    let (mut kernel, sigma0, root) = boot();
    accept(
        &mut kernel,
        root,
        Fpage::new(0x1000_0000, 24, FpageRights::ALL).unwrap(),
        false,
    );
    ipc(&mut kernel, root, open_wait());
    let item = map_item_words(
        0,
        Fpage::new(0x4000_0000, 14, FpageRights::READ).unwrap(),
        false,
    );
    let client = id(&kernel, root);
    ipc(
        &mut kernel,
        sigma0,
        IpcArguments::send(
            client,
            tag(9, 0, 2),
            [item[0], item[1], 0, 0, 0, 0, 0],
            Timeouts::NEVER,
        ),
    );
    assert_eq!(error_of(&kernel, sigma0), 0);
    for page in 0..4 {
        let (frame, rights) = kernel
            .lookup_mapping(ROOT, Page(0x1_0000 + page))
            .expect("mapped");
        assert_eq!((frame, rights), (Frame(0x40000 + page), Rights::READ));
    }
    assert_eq!(
        kernel.lookup_mapping(ROOT, Page(0x1_0004)),
        None,
        "a 16 KiB fpage maps four pages"
    );
    assert!(
        kernel.lookup_mapping(SIGMA0, Page(0x40000)).is_some(),
        "the sender keeps a mapped page"
    );
}

#[test]
fn a_grant_item_moves_the_page_out_of_the_senders_space() {
    let (mut kernel, sigma0, root) = boot();
    accept(&mut kernel, root, Fpage::complete(FpageRights::ALL), false);
    ipc(&mut kernel, root, open_wait());
    let item = map_item_words(
        0x5000_0000,
        Fpage::page(0x4000_0000, FpageRights::ALL).unwrap(),
        true,
    );
    let client = id(&kernel, root);
    ipc(
        &mut kernel,
        sigma0,
        IpcArguments::send(
            client,
            tag(9, 0, 2),
            [item[0], item[1], 0, 0, 0, 0, 0],
            Timeouts::NEVER,
        ),
    );
    assert_eq!(
        kernel.lookup_mapping(ROOT, Page(0x5_0000)),
        Some((Frame(0x40000), Rights::ALL))
    );
    assert_eq!(kernel.lookup_mapping(SIGMA0, Page(0x40000)), None);
}

#[test]
fn a_receiver_that_accepts_no_mappings_gets_a_message_overflow_and_the_sender_too() {
    let (mut kernel, sigma0, root) = boot();
    ipc(&mut kernel, root, open_wait());
    let item = map_item_words(
        0,
        Fpage::page(0x4000_0000, FpageRights::ALL).unwrap(),
        false,
    );
    let client = id(&kernel, root);
    ipc(
        &mut kernel,
        sigma0,
        IpcArguments::send(
            client,
            tag(9, 0, 2),
            [item[0], item[1], 0, 0, 0, 0, 0],
            Timeouts::NEVER,
        ),
    );
    assert_eq!(
        error_of(&kernel, sigma0),
        CallError::SendMessageOverflow.code()
    );
    assert_eq!(
        error_of(&kernel, root),
        CallError::ReceiveMessageOverflow.code()
    );
    assert_eq!(state(&kernel, root), ThreadState::Ready);
}

#[test]
fn a_page_fault_becomes_a_call_to_the_pager_whose_map_reply_resumes_the_thread_unchanged() {
    let (mut kernel, sigma0, root) = boot();
    ipc(&mut kernel, sigma0, open_wait());
    run(&mut kernel, root);
    let before = kernel.thread(root).unwrap().context;
    kernel.page_fault(0x4000_2345, Access::Write, 0x1234);
    kernel.check_invariants().unwrap();
    assert_eq!(kernel.current(), Some(sigma0), "the pager runs at once");
    let fault_tag = MessageTag::from_raw(x(&kernel, sigma0, 0));
    let fault = abi::protocol::PageFault::decode(
        fault_tag,
        &[x(&kernel, sigma0, 1), x(&kernel, sigma0, 2)],
    )
    .unwrap();
    assert_eq!(
        (fault.address, fault.instruction_pointer, fault.access),
        (0x4000_2345, 0x1234, FpageRights::WRITE)
    );
    assert_eq!(x(&kernel, sigma0, 8), id(&kernel, root).raw());

    let item = map_item_words(
        0x4000_2000,
        Fpage::page(0x4000_2000, FpageRights::ALL).unwrap(),
        false,
    );
    let client = id(&kernel, root);
    ipc(
        &mut kernel,
        sigma0,
        IpcArguments::reply_and_wait(client, tag(0, 0, 2), [item[0], item[1], 0, 0, 0, 0, 0]),
    );
    assert_eq!(state(&kernel, root), ThreadState::Ready);
    assert_eq!(
        kernel.thread(root).unwrap().context,
        before,
        "no register of the faulting thread changed"
    );
    assert_eq!(
        kernel.lookup_mapping(ROOT, Page(0x4_0002)),
        Some((Frame(0x40002), Rights::ALL))
    );
}

#[test]
fn a_fault_that_waits_for_a_busy_pager_is_queued_and_served_later() {
    let (mut kernel, sigma0, root) = boot();
    run(&mut kernel, root);
    kernel.page_fault(0x4000_0000, Access::Read, 0x1000);
    assert_eq!(state(&kernel, root), ThreadState::Sending { to: sigma0 });
    ipc(&mut kernel, sigma0, open_wait());
    assert_eq!(
        MessageTag::from_raw(x(&kernel, sigma0, 0)).label() & !7,
        abi::protocol::PAGE_FAULT_LABEL
    );
    assert_eq!(
        state(&kernel, root),
        ThreadState::Receiving {
            from: ReceiveFrom::Thread(sigma0)
        }
    );
    assert_eq!(
        error_of(&kernel, root),
        0,
        "x9 of the faulting thread is its own, untouched"
    );
}

#[test]
fn a_thread_without_a_pager_is_halted_and_reported_and_nothing_else_is_affected() {
    let (mut kernel, sigma0, _root) = boot();
    run(&mut kernel, sigma0);
    kernel.thread_mut(sigma0).unwrap().context.pc = 0x4444;
    kernel.page_fault(0xdead_0000, Access::Read, 0x4444);
    assert_eq!(state(&kernel, sigma0), ThreadState::Halted);
    assert!(matches!(
        kernel.take_notice(),
        Some(Notice::HaltedWithoutHandler { pc: 0x4444, .. })
    ));
    assert!(kernel.current().is_some(), "another thread runs");
    kernel.check_invariants().unwrap();
}

#[test]
fn an_exception_sends_the_whole_frame_and_a_one_word_reply_sets_x0_only() {
    let (mut kernel, sigma0, root) = boot();
    ipc(&mut kernel, sigma0, open_wait());
    let handler = id(&kernel, sigma0);
    run(&mut kernel, root);
    {
        let tcb = kernel.thread_mut(root).unwrap();
        tcb.exception_handler = handler;
        for (index, register) in tcb.context.x.iter_mut().enumerate() {
            *register = 100 + index as u64;
        }
        tcb.context.x[8] = 172; // the Linux system call number of getpid
        tcb.context.pc = 0x2004;
    }
    // svc #0 of a thread not in Linux-ABI mode: an exception message (syscall path c).
    kernel.kernel_call(0, 0x5600_0000, 0);
    let mut words = vec![0u64; 36];
    for (index, word) in words.iter_mut().enumerate().take(7) {
        *word = x(&kernel, sigma0, index + 1);
    }
    let utcb = kernel.thread(sigma0).unwrap().utcb;
    kernel
        .read_user_words(
            sigma0,
            super::ipc::message_register_address(utcb, 8),
            &mut words[7..],
        )
        .unwrap();
    let tag = MessageTag::from_raw(x(&kernel, sigma0, 0));
    let exception = abi::protocol::Exception::decode(tag, &words).unwrap();
    assert_eq!(exception.registers.x[8], 172);
    assert_eq!(
        (exception.registers.pc, exception.esr),
        (0x2004, 0x5600_0000)
    );

    let client = id(&kernel, root);
    ipc(
        &mut kernel,
        sigma0,
        IpcArguments::reply_and_wait(client, tag_with(0, 1), [4242, 0, 0, 0, 0, 0, 0]),
    );
    let context = kernel.thread(root).unwrap().context;
    assert_eq!(context.x[0], 4242);
    assert_eq!((context.x[1], context.x[8], context.pc), (101, 172, 0x2004));
}

fn tag_with(label: u16, untyped: usize) -> MessageTag {
    tag(label, untyped, 0)
}

#[test]
fn svc_0_of_a_thread_in_linux_abi_mode_is_reflected_to_its_trampoline_and_resumed_from_the_utcb() {
    let (mut kernel, _sigma0, root) = boot();
    write_utcb_word(
        &mut kernel,
        root,
        abi::utcb::Utcb::OFFSET_TRAMPOLINE_ENTRY,
        0x7777_0000,
    );
    run(&mut kernel, root);
    {
        let tcb = kernel.thread_mut(root).unwrap();
        tcb.context.x[0] = 1;
        tcb.context.x[8] = 64; // write
        tcb.context.pc = 0x2004;
        tcb.context.sp = 0x9000;
    }
    kernel.kernel_call(0, 0x5600_0000, 0);
    let context = kernel.thread(root).unwrap().context;
    assert_eq!(
        context.pc, 0x7777_0000,
        "the thread continues at its trampoline"
    );
    assert_eq!(context.x[8], 64, "with its registers as they were");
    let frame_pc = read_utcb_word(
        &mut kernel,
        root,
        abi::utcb::Utcb::OFFSET_REFLECTED_TRAP + 8 * 32,
    );
    assert_eq!(frame_pc, 0x2004);
    // The trampoline changed x0 (the result) in the saved frame, then resumes it.
    write_utcb_word(
        &mut kernel,
        root,
        abi::utcb::Utcb::OFFSET_REFLECTED_TRAP,
        99,
    );
    let me = id(&kernel, root);
    run(&mut kernel, root);
    let registers = LthreadExRegsArguments::resume_reflected_trap(me).encode();
    kernel.thread_mut(root).unwrap().context.x[..11].copy_from_slice(&registers);
    kernel.kernel_call(Call::LthreadExRegs.number(), 0, 0);
    let context = kernel.thread(root).unwrap().context;
    assert_eq!(
        (context.x[0], context.x[8], context.pc, context.sp),
        (99, 64, 0x2004, 0x9000)
    );
}

#[test]
fn an_interrupt_reaches_its_attached_handler_and_stays_masked_until_the_next_receive() {
    let (mut kernel, sigma0, root) = boot();
    let driver = id(&kernel, root);
    let line = 33;
    let irq = ThreadId::interrupt(line).unwrap();
    run(&mut kernel, sigma0);
    let attach = LthreadExRegsArguments::attach_interrupt(irq, driver).encode();
    kernel.thread_mut(sigma0).unwrap().context.x[..11].copy_from_slice(&attach);
    kernel.kernel_call(Call::LthreadExRegs.number(), 0, 0);
    assert_eq!(error_of(&kernel, sigma0), 0);
    assert_eq!(kernel.machine.masked.get(&line), Some(&true));
    ipc(
        &mut kernel,
        root,
        IpcArguments::receive(ReceiveSpecifier::From(irq), Timeouts::NEVER),
    );
    assert_eq!(
        kernel.machine.masked.get(&line),
        Some(&false),
        "receiving acknowledges"
    );
    kernel.interrupt(line);
    assert_eq!(kernel.machine.masked.get(&line), Some(&true));
    assert_eq!(state(&kernel, root), ThreadState::Ready);
    assert_eq!(x(&kernel, root, 8), irq.raw());
    assert_eq!(
        MessageTag::from_raw(x(&kernel, root, 0)).label(),
        abi::protocol::INTERRUPT_LABEL
    );
    // Fires again while the driver is busy: kept pending, delivered at the next receive.
    kernel.interrupt(line);
    ipc(
        &mut kernel,
        root,
        IpcArguments::receive(ReceiveSpecifier::From(irq), Timeouts::NEVER),
    );
    assert_eq!(state(&kernel, root), ThreadState::Ready);
    assert_eq!(x(&kernel, root, 8), irq.raw());
}

#[test]
fn only_tasks_chiefed_by_the_kernel_may_attach_interrupts_and_only_the_handler_may_wait_for_one() {
    let (mut kernel, _sigma0, root) = boot();
    let child = spawn(&mut kernel, 5, ROOT, ThreadId::NIL);
    let irq = ThreadId::interrupt(40).unwrap();
    run(&mut kernel, child);
    let me = id(&kernel, child);
    let attach = LthreadExRegsArguments::attach_interrupt(irq, me).encode();
    kernel.thread_mut(child).unwrap().context.x[..11].copy_from_slice(&attach);
    kernel.kernel_call(Call::LthreadExRegs.number(), 0, 0);
    assert_eq!(error_of(&kernel, child), CallError::NotPermitted.code());
    ipc(
        &mut kernel,
        root,
        IpcArguments::receive(ReceiveSpecifier::From(irq), Timeouts::NEVER),
    );
    assert_eq!(error_of(&kernel, root), CallError::NotPermitted.code());
    kernel.interrupt(40);
    assert!(matches!(
        kernel.take_notice(),
        Some(Notice::UnclaimedInterrupt { line: 40 })
    ));
}

#[test]
fn lthread_ex_regs_creates_a_thread_and_cancels_a_blocked_receive() {
    let (mut kernel, _sigma0, root) = boot();
    let me = id(&kernel, root);
    let worker = me.with_thread(1).unwrap();
    run(&mut kernel, root);
    let start = LthreadExRegsArguments::start(worker, 0x3000, 0x8000).encode();
    kernel.thread_mut(root).unwrap().context.x[..11].copy_from_slice(&start);
    kernel.kernel_call(Call::LthreadExRegs.number(), 0, 0);
    assert_eq!(error_of(&kernel, root), 0);
    let slot = kernel.lookup(worker).expect("created");
    assert_eq!(
        kernel.thread(slot).unwrap().pager,
        kernel.thread(root).unwrap().pager,
        "thread 0's pager"
    );
    ipc(&mut kernel, slot, open_wait());
    assert!(matches!(
        state(&kernel, slot),
        ThreadState::Receiving { .. }
    ));
    run(&mut kernel, root);
    let cancel = LthreadExRegsArguments {
        destination: worker,
        run: RunControl::Unchanged,
        cancel_send: false,
        cancel_receive: true,
        stack_pointer: None,
        instruction_pointer: None,
        pager: None,
        exception_handler: None,
        user_handle: None,
        resume_reflected_trap: false,
    };
    kernel.thread_mut(root).unwrap().context.x[..11].copy_from_slice(&cancel.encode());
    kernel.kernel_call(Call::LthreadExRegs.number(), 0, 0);
    assert_eq!(error_of(&kernel, slot), CallError::ReceiveCancelled.code());
    assert_eq!(state(&kernel, slot), ThreadState::Ready);
    let _ = ExchangeControl::NONE;
    kernel.check_invariants().unwrap();
}

#[test]
fn deleting_a_task_in_the_middle_of_ipc_fails_its_partners_and_frees_everything() {
    let (mut kernel, sigma0, root) = boot();
    let pager = id(&kernel, sigma0);
    let server = spawn(&mut kernel, 6, ROOT, pager);
    let server_id = id(&kernel, server);
    ipc(
        &mut kernel,
        root,
        IpcArguments::call(server_id, tag(1, 0, 0), [0; 7]),
    );
    assert_eq!(state(&kernel, root), ThreadState::Sending { to: server });
    kernel.delete_task(6);
    kernel.check_invariants().unwrap();
    assert_eq!(
        error_of(&kernel, root),
        CallError::SendNonexistentPartner.code()
    );
    assert_eq!(state(&kernel, root), ThreadState::Ready);
    assert_eq!(kernel.lookup(server_id), None);
    assert_eq!(kernel.machine.spaces_destroyed, 1);
    // And a partner that was already waiting for the reply.
    let server = spawn(&mut kernel, 6, ROOT, ThreadId::NIL);
    let server_id = id(&kernel, server);
    ipc(&mut kernel, server, open_wait());
    ipc(
        &mut kernel,
        root,
        IpcArguments::call(server_id, tag(1, 0, 0), [0; 7]),
    );
    assert_eq!(
        state(&kernel, root),
        ThreadState::Receiving {
            from: ReceiveFrom::Thread(server)
        }
    );
    kernel.delete_task(6);
    kernel.check_invariants().unwrap();
    assert_eq!(
        error_of(&kernel, root),
        CallError::ReceiveNonexistentPartner.code()
    );
}

#[test]
fn messages_leaving_a_clan_go_to_its_chief_and_intra_clan_messages_go_directly() {
    let (mut kernel, sigma0, root) = boot();
    let child = spawn(&mut kernel, 7, ROOT, ThreadId::NIL);
    let sibling = spawn(&mut kernel, 8, ROOT, ThreadId::NIL);
    ipc(&mut kernel, sibling, open_wait());
    let sibling_id = id(&kernel, sibling);
    ipc(
        &mut kernel,
        child,
        IpcArguments::send(sibling_id, tag(1, 0, 0), [0; 7], Timeouts::NEVER),
    );
    assert_eq!(
        state(&kernel, sibling),
        ThreadState::Ready,
        "same clan: delivered directly"
    );
    assert!(!MessageTag::from_raw(x(&kernel, sibling, 0)).is_redirected());
    // child -> sigma0 leaves the root task's clan: it reaches the root task, its chief.
    ipc(&mut kernel, root, open_wait());
    let sigma0_id = id(&kernel, sigma0);
    ipc(
        &mut kernel,
        child,
        IpcArguments::send(sigma0_id, tag(2, 0, 0), [0; 7], Timeouts::NEVER),
    );
    assert_eq!(state(&kernel, root), ThreadState::Ready);
    assert!(MessageTag::from_raw(x(&kernel, root, 0)).is_redirected());
    assert_eq!(x(&kernel, root, 8), id(&kernel, child).raw());
    assert_eq!(
        read_utcb_word(&mut kernel, root, abi::utcb::Utcb::OFFSET_INTENDED_RECEIVER),
        sigma0_id.raw(),
        "the chief learns whom the message was for"
    );
}

#[test]
fn a_string_item_is_copied_into_the_receivers_buffer_and_a_bad_source_is_the_senders_fault() {
    let (mut kernel, sigma0, root) = boot();
    // sigma0 has RAM at 0x4000_0000 identity-mapped; put text there.
    let text = b"hello, string item";
    let space = &mut kernel.tasks.get_mut(&SIGMA0).unwrap().space;
    kernel.machine.write_user(space, 0x4000_0100, text).unwrap();
    // root receives into a buffer in its UTCB page (kernel-provided, writable).
    let buffer = kernel.thread(root).unwrap().utcb + 0xF00;
    write_utcb_word(
        &mut kernel,
        root,
        abi::utcb::Utcb::buffer_register_offset(abi::utcb::STRING_BUFFER_COUNT_REGISTER),
        1,
    );
    let target = StringItem::new(buffer, 64).unwrap().encode();
    write_utcb_word(
        &mut kernel,
        root,
        abi::utcb::Utcb::buffer_register_offset(abi::utcb::FIRST_STRING_BUFFER_REGISTER),
        target[0],
    );
    write_utcb_word(
        &mut kernel,
        root,
        abi::utcb::Utcb::buffer_register_offset(abi::utcb::FIRST_STRING_BUFFER_REGISTER + 1),
        target[1],
    );
    accept(&mut kernel, root, Fpage::from_raw(0), true);
    ipc(&mut kernel, root, open_wait());
    let item = TypedItem::String(StringItem::new(0x4000_0100, text.len()).unwrap()).encode();
    let client = id(&kernel, root);
    ipc(
        &mut kernel,
        sigma0,
        IpcArguments::send(
            client,
            tag(3, 0, 2),
            [item[0], item[1], 0, 0, 0, 0, 0],
            Timeouts::NEVER,
        ),
    );
    assert_eq!(error_of(&kernel, sigma0), 0);
    let mut received = vec![0u8; text.len()];
    let space = &mut kernel.tasks.get_mut(&ROOT).unwrap().space;
    kernel
        .machine
        .read_user(space, buffer, &mut received)
        .unwrap();
    assert_eq!(&received, text);

    ipc(&mut kernel, root, open_wait());
    let unmapped = TypedItem::String(StringItem::new(0x9999_0000, 8).unwrap()).encode();
    ipc(
        &mut kernel,
        sigma0,
        IpcArguments::send(
            client,
            tag(3, 0, 2),
            [unmapped[0], unmapped[1], 0, 0, 0, 0, 0],
            Timeouts::NEVER,
        ),
    );
    assert_eq!(
        error_of(&kernel, sigma0),
        CallError::SendStringFaultInOwnSpace.code()
    );
    assert_eq!(
        error_of(&kernel, root),
        CallError::ReceiveStringFaultInPartnerSpace.code()
    );
}

#[test]
fn waking_a_higher_priority_thread_preempts_the_sender() {
    let (mut kernel, sigma0, root) = boot();
    kernel.set_scheduling(sigma0, 200, 1);
    ipc(&mut kernel, sigma0, open_wait());
    let server = id(&kernel, sigma0);
    ipc(
        &mut kernel,
        root,
        IpcArguments::send(server, tag(1, 0, 0), [0; 7], Timeouts::NEVER),
    );
    assert_eq!(kernel.current(), Some(sigma0));
    assert_eq!(state(&kernel, root), ThreadState::Ready);
}

#[test]
fn threads_of_one_priority_take_turns_on_timer_ticks() {
    let (mut kernel, sigma0, root) = boot();
    let first = kernel.current().unwrap();
    let second = if first == sigma0 { root } else { sigma0 };
    let slice = kernel.scheduler.parameters(first).unwrap().time_slice_ticks;
    for _ in 0..slice {
        kernel.timer_tick();
    }
    assert_eq!(kernel.current(), Some(second));
}

#[test]
fn kernel_debug_write_shows_the_message_registers_and_refuses_bad_lengths() {
    let (mut kernel, _sigma0, root) = boot();
    let utcb = kernel.thread(root).unwrap().utcb;
    let space = &mut kernel.tasks.get_mut(&ROOT).unwrap().space;
    kernel
        .machine
        .write_user(
            space,
            utcb + abi::utcb::Utcb::OFFSET_MESSAGE_REGISTERS as u64,
            b"hi there",
        )
        .unwrap();
    run(&mut kernel, root);
    kernel.thread_mut(root).unwrap().context.x[0] = 8;
    kernel.kernel_call(Call::KernelDebugWrite.number(), 0, 0);
    assert_eq!(
        kernel.machine.console,
        vec![(id(&kernel, root), b"hi there".to_vec())]
    );
    kernel.thread_mut(root).unwrap().context.x[0] = 100_000;
    kernel.kernel_call(Call::KernelDebugWrite.number(), 0, 0);
    assert_eq!(error_of(&kernel, root), CallError::InvalidArgument.code());
}

#[test]
fn a_fuzzer_calling_the_kernel_with_random_arguments_never_breaks_its_invariants() {
    let (mut kernel, sigma0, root) = boot();
    let mut slots = vec![sigma0, root];
    let pager = id(&kernel, sigma0);
    for task in 3..6 {
        slots.push(spawn(&mut kernel, task, ROOT, pager));
    }
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let ids: Vec<u64> = slots.iter().map(|&slot| id(&kernel, slot).raw()).collect();
    for round in 0..100_000u32 {
        if round == 50_000 {
            // The second half under V2's ownership of task numbers, as the normal boot runs.
            kernel.give_unused_task_numbers_to(ROOT);
        }
        let Some(current) = kernel.current() else {
            kernel.timer_tick();
            // Everyone may be blocked: wake a random thread the way lthread_ex_regs would.
            let victim = slots[(next() % slots.len() as u64) as usize];
            if kernel.thread(victim).is_some() {
                kernel.cancel_ipc(victim, true, true);
                kernel.resume(victim);
                kernel.reschedule();
            }
            continue;
        };
        let tcb = kernel.thread_mut(current).unwrap();
        for register in tcb.context.x.iter_mut().take(11) {
            *register = match next() % 4 {
                0 => next(),
                1 => ids[(next() % ids.len() as u64) as usize],
                2 => next() % 64,
                _ => 0,
            };
        }
        if next() % 4 == 0 {
            // Sometimes a virtual sender worth propagating as (flag P is a random bit).
            let word = ids[(next() % ids.len() as u64) as usize];
            write_utcb_word(
                &mut kernel,
                current,
                abi::utcb::Utcb::OFFSET_VIRTUAL_SENDER,
                word,
            );
        }
        match next() % 10 {
            0 => kernel.page_fault(next() % 0x1_0000_0000, Access::Read, next()),
            1 => kernel.timer_tick(),
            2 => kernel.interrupt((next() % 64) as u16),
            3 => kernel.kernel_call((next() % 9) as u16, next(), next()),
            _ => kernel.kernel_call(1 + (next() % 7) as u16, 0, 0),
        }
        if let Err(violation) = kernel.check_invariants() {
            panic!("round {round}: {violation}");
        }
    }
    assert!(kernel.thread(sigma0).is_some() || kernel.thread(root).is_some());
}

#[test]
fn deleting_a_chief_deletes_its_whole_clan() {
    let (mut kernel, _sigma0, _root) = boot();
    spawn(&mut kernel, 10, ROOT, ThreadId::NIL);
    let grandchild = spawn(&mut kernel, 11, 10, ThreadId::NIL);
    let grandchild_id = id(&kernel, grandchild);
    kernel.delete_task(10);
    assert_eq!(kernel.lookup(grandchild_id), None);
    assert!(!kernel.tasks.contains_key(&11));
    kernel.check_invariants().unwrap();
}

#[test]
fn the_utcb_holds_the_threads_own_id_and_mirrors_of_its_pager_and_handler() {
    let (mut kernel, sigma0, root) = boot();
    let me = id(&kernel, root).raw();
    assert_eq!(
        read_utcb_word(&mut kernel, root, abi::utcb::Utcb::OFFSET_MY_THREAD_ID),
        me
    );
    assert_eq!(
        read_utcb_word(&mut kernel, root, abi::utcb::Utcb::OFFSET_PAGER),
        id(&kernel, sigma0).raw()
    );
}

/// A tag with flag P (propagation).
fn propagated(label: u16, untyped: usize) -> MessageTag {
    tag(label, untyped, 0).with_flags(abi::message::TagFlags::PROPAGATED)
}

#[test]
fn a_chief_propagates_in_the_name_of_a_thread_of_its_clan_and_a_closed_wait_on_that_thread_takes_it()
 {
    let (mut kernel, sigma0, root) = boot();
    // Task 10, chiefed by the root task: the root task may send in its thread's name.
    let member = spawn(&mut kernel, 10, ROOT, ThreadId::NIL);
    let member_id = id(&kernel, member);
    let (server, root_id) = (id(&kernel, sigma0), id(&kernel, root));
    ipc(
        &mut kernel,
        sigma0,
        IpcArguments::receive(ReceiveSpecifier::From(member_id), Timeouts::NEVER),
    );
    write_utcb_word(
        &mut kernel,
        root,
        abi::utcb::Utcb::OFFSET_VIRTUAL_SENDER,
        member_id.raw(),
    );
    ipc(
        &mut kernel,
        root,
        IpcArguments::send(
            server,
            propagated(5, 1),
            [77, 0, 0, 0, 0, 0, 0],
            Timeouts::ZERO,
        ),
    );
    assert_eq!(error_of(&kernel, root), 0);
    assert_eq!(state(&kernel, sigma0), ThreadState::Ready);
    assert_eq!(
        x(&kernel, sigma0, 8),
        member_id.raw(),
        "x8: the virtual sender"
    );
    assert_eq!(x(&kernel, sigma0, 1), 77);
    assert!(MessageTag::from_raw(x(&kernel, sigma0, 0)).is_propagated());
    assert_eq!(
        read_utcb_word(&mut kernel, sigma0, abi::utcb::Utcb::OFFSET_ACTUAL_SENDER),
        root_id.raw()
    );

    // Queued: the send waits until the receiver waits for the thread it will see.
    ipc(
        &mut kernel,
        root,
        IpcArguments::send(server, propagated(6, 0), [0; 7], Timeouts::NEVER),
    );
    assert_eq!(state(&kernel, root), ThreadState::Sending { to: sigma0 });
    // A closed wait on the real sender does not take it ...
    ipc(
        &mut kernel,
        sigma0,
        IpcArguments::receive(ReceiveSpecifier::From(root_id), Timeouts::ZERO),
    );
    assert_eq!(error_of(&kernel, sigma0), CallError::ReceiveTimeout.code());
    // ... a closed wait on the virtual sender does.
    ipc(
        &mut kernel,
        sigma0,
        IpcArguments::receive(ReceiveSpecifier::From(member_id), Timeouts::ZERO),
    );
    assert_eq!(error_of(&kernel, sigma0), 0);
    assert_eq!(x(&kernel, sigma0, 8), member_id.raw());
    assert_eq!(MessageTag::from_raw(x(&kernel, sigma0, 0)).label(), 6);
    assert_eq!(state(&kernel, root), ThreadState::Ready);
    assert_eq!(kernel.thread(root).unwrap().propagated_as, None);
}

#[test]
fn propagating_outside_the_own_subtree_is_not_permitted() {
    let (mut kernel, sigma0, root) = boot();
    let member = spawn(&mut kernel, 10, ROOT, ThreadId::NIL);
    let member_id = id(&kernel, member);
    let (server, root_id) = (id(&kernel, sigma0), id(&kernel, root));
    let send = IpcArguments::send(server, propagated(1, 0), [0; 7], Timeouts::ZERO);
    // sigma0 is not task 10's chief; the member cannot speak for its chief; nobody for a
    // thread that does not exist.
    write_utcb_word(
        &mut kernel,
        sigma0,
        abi::utcb::Utcb::OFFSET_VIRTUAL_SENDER,
        member_id.raw(),
    );
    ipc(
        &mut kernel,
        sigma0,
        IpcArguments::send(root_id, propagated(1, 0), [0; 7], Timeouts::ZERO),
    );
    assert_eq!(error_of(&kernel, sigma0), CallError::NotPermitted.code());
    write_utcb_word(
        &mut kernel,
        member,
        abi::utcb::Utcb::OFFSET_VIRTUAL_SENDER,
        root_id.raw(),
    );
    ipc(&mut kernel, member, send);
    assert_eq!(error_of(&kernel, member), CallError::NotPermitted.code());
    let ghost = ThreadId::new(10, 5, 1).unwrap();
    write_utcb_word(
        &mut kernel,
        root,
        abi::utcb::Utcb::OFFSET_VIRTUAL_SENDER,
        ghost.raw(),
    );
    ipc(&mut kernel, root, send);
    assert_eq!(error_of(&kernel, root), CallError::NotPermitted.code());
}

#[test]
fn sigma0s_own_faults_map_its_memory_one_to_one_and_nothing_else() {
    let (mut kernel, sigma0, _root) = boot();
    run(&mut kernel, sigma0);
    kernel.page_fault(0x8000_5123, Access::Write, 0x1000);
    assert_eq!(
        state(&kernel, sigma0),
        ThreadState::Ready,
        "resolved by the kernel"
    );
    assert_eq!(
        kernel.lookup_mapping(SIGMA0, Page(0x8_0005)),
        Some((Frame(0x8_0005), Rights::ALL))
    );
    kernel.page_fault(0x9000_0000, Access::Read, 0x1000);
    assert_eq!(
        state(&kernel, sigma0),
        ThreadState::Halted,
        "outside its memory: halted"
    );
    kernel.check_invariants().unwrap();
}

#[test]
fn the_receivers_copy_of_a_map_item_says_what_it_got() {
    let (mut kernel, sigma0, root) = boot();
    accept(
        &mut kernel,
        root,
        Fpage::new(0x1000_0000, 24, FpageRights::ALL).unwrap(),
        false,
    );
    ipc(&mut kernel, root, open_wait());
    let client = id(&kernel, root);
    let item = map_item_words(
        0,
        Fpage::new(0x4000_0000, 13, FpageRights::READ).unwrap(),
        false,
    );
    ipc(
        &mut kernel,
        sigma0,
        IpcArguments::send(
            client,
            tag(9, 0, 2),
            [item[0], item[1], 0, 0, 0, 0, 0],
            Timeouts::NEVER,
        ),
    );
    assert_eq!(
        x(&kernel, root, 2),
        Fpage::new(0x1000_0000, 13, FpageRights::READ)
            .unwrap()
            .raw()
    );
    // A page the sender does not have: nothing is mapped, and the copy says nil.
    ipc(&mut kernel, root, open_wait());
    let nothing = map_item_words(
        0,
        Fpage::page(0x9000_0000, FpageRights::READ).unwrap(),
        false,
    );
    ipc(
        &mut kernel,
        sigma0,
        IpcArguments::send(
            client,
            tag(9, 0, 2),
            [nothing[0], nothing[1], 0, 0, 0, 0, 0],
            Timeouts::NEVER,
        ),
    );
    assert_eq!(x(&kernel, root, 2), Fpage::NIL.raw());
}

#[test]
fn a_deleted_threads_fp_registers_are_never_handed_to_the_thread_that_reuses_its_slot() {
    let (mut kernel, _sigma0, _root) = boot();
    let doomed = spawn(&mut kernel, 10, ROOT, ThreadId::NIL);
    kernel.set_fp_owner(Some(doomed));
    kernel.delete_task(10);
    assert_eq!(kernel.fp_owner(), None);
    let reborn = spawn(&mut kernel, 11, ROOT, ThreadId::NIL);
    assert_eq!(reborn, doomed, "the slot is reused");
    assert_eq!(kernel.fp_owner(), None);
    assert!(kernel.thread(reborn).unwrap().fp.is_none());
}

#[test]
fn only_a_task_chiefed_by_the_kernel_may_power_the_machine_off() {
    let (mut kernel, _sigma0, root) = boot();
    let client = spawn(&mut kernel, 10, ROOT, ThreadId::NIL);
    run(&mut kernel, client);
    kernel.kernel_call(Call::SystemPowerOff.number(), 0, 0);
    assert_eq!(error_of(&kernel, client), CallError::NotPermitted.code());
    assert!(!kernel.machine.powered_off);
    run(&mut kernel, root);
    kernel.kernel_call(Call::SystemPowerOff.number(), 0, 0);
    assert!(kernel.machine.powered_off);
    assert_eq!(error_of(&kernel, root), 0);
}

#[test]
fn sigma0_maps_on_memory_it_never_touched_and_nothing_it_may_not_have() {
    let (mut kernel, sigma0, root) = boot();
    accept(
        &mut kernel,
        root,
        Fpage::new(0x1000_0000, 24, FpageRights::ALL).unwrap(),
        false,
    );
    assert_eq!(kernel.lookup_mapping(SIGMA0, Page(0x8_0005)), None);
    let client = id(&kernel, root);
    for (source, expected) in [(0x8000_5000u64, true), (0x9000_0000, false)] {
        ipc(&mut kernel, root, open_wait());
        let item = map_item_words(
            0,
            Fpage::page(source, FpageRights::READ_WRITE).unwrap(),
            false,
        );
        ipc(
            &mut kernel,
            sigma0,
            IpcArguments::send(
                client,
                tag(9, 0, 2),
                [item[0], item[1], 0, 0, 0, 0, 0],
                Timeouts::NEVER,
            ),
        );
        let got = kernel.lookup_mapping(ROOT, Page(0x1_0000));
        if expected {
            assert_eq!(got, Some((Frame(0x8_0005), Rights::READ | Rights::WRITE)));
            assert!(kernel.lookup_mapping(SIGMA0, Page(0x8_0005)).is_some());
        } else {
            assert_eq!(
                got,
                Some((Frame(0x8_0005), Rights::READ | Rights::WRITE)),
                "unchanged"
            );
            assert_eq!(kernel.lookup_mapping(SIGMA0, Page(0x9_0000)), None);
            assert_eq!(
                x(&kernel, root, 2),
                Fpage::NIL.raw(),
                "the item says nothing came"
            );
        }
    }
}

#[test]
fn thread_schedule_reports_the_time_a_thread_consumed() {
    use abi::call::thread_schedule::{ThreadScheduleArguments, ThreadScheduleReturnValues};
    let (mut kernel, _sigma0, root) = boot();
    // A thread whose scheduler is the root task, which runs for five ticks.
    kernel
        .create_task(10, ROOT, UTCB_AREA, UTCB_AREA_SIZE)
        .unwrap();
    let worker = kernel
        .create_thread(10, 0, ThreadId::NIL, ThreadId::NIL, id(&kernel, root))
        .unwrap();
    let slot = kernel.lookup(worker).unwrap();
    kernel.start_thread(slot, 0x1000, 0x2000);
    run(&mut kernel, slot);
    for _ in 0..5 {
        kernel.timer_tick();
        run(&mut kernel, slot);
    }
    run(&mut kernel, root);
    let registers = ThreadScheduleArguments::read(worker).encode();
    kernel.thread_mut(root).unwrap().context.x[..11].copy_from_slice(&registers);
    kernel.kernel_call(Call::ThreadSchedule.number(), 0, 0);
    let mut returned = [0u64; 10];
    returned.copy_from_slice(&kernel.thread(root).unwrap().context.x[..10]);
    let values = ThreadScheduleReturnValues::decode(&returned).unwrap();
    // Five ticks of a 100 Hz timer.
    assert_eq!(values.consumed_microseconds, 50_000);
}

#[test]
fn a_thread_number_beyond_the_utcb_area_is_refused_and_maps_stay_out_of_the_area() {
    let (mut kernel, _sigma0, _root) = boot();
    // Two UTCBs' worth of area: threads 0 and 1 fit, thread 2 would land beyond it.
    kernel
        .create_task(10, ROOT, UTCB_AREA, 2 * UTCB_SIZE)
        .unwrap();
    for thread in 0..2 {
        assert!(
            kernel
                .create_thread(10, thread, ThreadId::NIL, ThreadId::NIL, ThreadId::NIL)
                .is_ok()
        );
    }
    assert_eq!(
        kernel.create_thread(10, 2, ThreadId::NIL, ThreadId::NIL, ThreadId::NIL),
        Err(CreateError::InvalidId)
    );
    // The page just past the area is the task's own to map again.
    assert!(!kernel.overlaps_kernel_pages(10, UTCB_AREA + 2 * UTCB_SIZE, 4096));
    assert!(kernel.overlaps_kernel_pages(10, UTCB_AREA + UTCB_SIZE, 4096));
    assert_eq!(
        kernel.create_task(11, ROOT, UTCB_AREA, 0),
        Err(CreateError::InvalidId),
        "an empty UTCB area"
    );
}

/// `slot` calls task_new; returns the error code (0: success) and x0.
fn task_new(
    kernel: &mut Kernel<FakeMachine>,
    slot: ThreadSlot,
    arguments: TaskNewArguments,
) -> (u64, u64) {
    run(kernel, slot);
    let registers = arguments.encode();
    kernel.thread_mut(slot).unwrap().context.x[..registers.len()].copy_from_slice(&registers);
    kernel.kernel_call(Call::TaskNew.number(), 0, 0);
    kernel.check_invariants().unwrap();
    (error_of(kernel, slot), x(kernel, slot, 0))
}

fn create(task: u16, version: u32, pager: ThreadId) -> TaskNewArguments {
    TaskNewArguments::Create(TaskCreation {
        first_thread: ThreadId::new(task, 0, version).unwrap(),
        pager,
        instruction_pointer: 0x40_0000,
        stack_pointer: 0x80_0000,
        utcb_area: Fpage::new(UTCB_AREA, 16, FpageRights::NONE).unwrap(),
        kernel_interface_page: Fpage::NIL,
        maximum_controlled_priority: 100,
        exception_handler: ThreadId::NIL,
    })
}

fn delete(task: ThreadId, new_owner: ThreadId) -> TaskNewArguments {
    TaskNewArguments::Delete(TaskDeletion { task, new_owner })
}

#[test]
fn task_numbers_belong_to_the_root_task_until_it_hands_them_over() {
    let (mut kernel, sigma0, root) = boot();
    kernel.give_unused_task_numbers_to(ROOT);
    let root_id = id(&kernel, root);
    let sigma0_id = id(&kernel, sigma0);
    let not_chief = CallError::NotChief.code();
    // sigma0 owns no number; the root task owns them all.
    assert_eq!(
        task_new(&mut kernel, sigma0, create(10, 1, sigma0_id)).0,
        not_chief
    );
    let (error, child) = task_new(&mut kernel, root, create(10, 1, root_id));
    assert_eq!(error, 0);
    let child = ThreadId::from_raw(child);
    assert_eq!(child.task(), 10);
    assert_eq!(kernel.tasks.get(&10).unwrap().chief, ROOT);
    // An active number: TaskActive for anyone.
    assert_eq!(
        task_new(&mut kernel, sigma0, create(10, 2, sigma0_id)).0,
        CallError::TaskActive.code()
    );
    // The child owns no numbers either.
    let child_slot = kernel.lookup(child).unwrap();
    assert_eq!(
        task_new(&mut kernel, child_slot, create(11, 1, child)).0,
        not_chief
    );
    // Handing number 11 to the child: only the owner may, and only to a thread that exists.
    let eleven = ThreadId::new(11, 0, 1).unwrap();
    assert_eq!(
        task_new(&mut kernel, sigma0, delete(eleven, sigma0_id)).0,
        not_chief
    );
    let ghost = ThreadId::new(77, 0, 1).unwrap();
    assert_eq!(
        task_new(&mut kernel, root, delete(eleven, ghost)).0,
        CallError::InvalidThread.code()
    );
    assert_eq!(task_new(&mut kernel, root, delete(eleven, child)).0, 0);
    assert_eq!(
        task_new(&mut kernel, root, create(11, 1, root_id)).0,
        not_chief
    );
    let (error, grandchild) = task_new(&mut kernel, child_slot, create(11, 1, child));
    assert_eq!(error, 0);
    assert_eq!(kernel.tasks.get(&11).unwrap().chief, 10);
    // Deleting a task (its chief only) gives its number to the deleter, and the deleted
    // clan's numbers too.
    let grandchild = ThreadId::from_raw(grandchild);
    assert_eq!(
        task_new(&mut kernel, root, delete(grandchild, ThreadId::NIL)).0,
        not_chief
    );
    assert_eq!(
        task_new(&mut kernel, root, delete(child, ThreadId::NIL)).0,
        0
    );
    assert!(kernel.tasks.get(&10).is_none() && kernel.tasks.get(&11).is_none());
    assert_eq!(
        task_new(&mut kernel, sigma0, create(10, 2, sigma0_id)).0,
        not_chief
    );
    let (error, again) = task_new(&mut kernel, root, create(10, 2, root_id));
    assert_eq!(error, 0);
    assert_ne!(
        ThreadId::from_raw(again),
        child,
        "a re-created task has a new version"
    );
}

#[test]
fn without_an_owner_of_unused_numbers_any_task_may_use_them() {
    let (mut kernel, sigma0, _root) = boot();
    let sigma0_id = id(&kernel, sigma0);
    assert_eq!(task_new(&mut kernel, sigma0, create(12, 1, sigma0_id)).0, 0);
    assert_eq!(kernel.tasks.get(&12).unwrap().chief, SIGMA0);
}

#[test]
fn task_new_maps_the_kernel_interface_page_where_asked_and_no_map_item_replaces_it() {
    let (mut kernel, _sigma0, root) = boot();
    let root_id = id(&kernel, root);
    let kip = 0x5000_0000;
    let TaskNewArguments::Create(mut creation) = create(10, 1, root_id) else {
        unreachable!()
    };
    creation.kernel_interface_page = Fpage::page(kip, FpageRights::NONE).unwrap();
    let (error, child) = task_new(&mut kernel, root, TaskNewArguments::Create(creation));
    assert_eq!(error, 0);
    let child = kernel.lookup(ThreadId::from_raw(child)).unwrap();
    assert_eq!(x(&kernel, child, 0), kip, "x0 = the kernel interface page");
    assert_eq!(
        kernel
            .tasks
            .get(&10)
            .unwrap()
            .space
            .pages
            .get(&(kip / 4096)),
        Some(&(KIP_FRAME, Rights::READ))
    );
    assert!(kernel.overlaps_kernel_pages(10, kip, 4096));
    assert!(kernel.overlaps_kernel_pages(10, kip - 0x10_0000, 0x20_0000));
    assert!(!kernel.overlaps_kernel_pages(10, kip + 4096, 4096));
    // Without one, x0 is 0.
    let (error, other) = task_new(&mut kernel, root, create(11, 1, root_id));
    assert_eq!(error, 0);
    let other = kernel.lookup(ThreadId::from_raw(other)).unwrap();
    assert_eq!(x(&kernel, other, 0), 0);
    assert_eq!(kernel.tasks.get(&11).unwrap().kernel_interface_page, None);
    // Inside the UTCB area: refused.
    assert_eq!(
        kernel.give_kernel_interface_page(11, UTCB_AREA),
        Err(CreateError::InvalidId)
    );
}
