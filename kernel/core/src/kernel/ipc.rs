//! ipc: the send phase, the receive phase, and the transfer of a message between them.
//!
//! A transfer reads the sender's message (MR0..MR7 from its saved registers, the rest from its
//! UTCB — or a message the kernel composed for it, such as a page fault), carries out the
//! typed items (map and grant through the mapping database, strings copied between address
//! spaces), and writes the message into the receiver's registers and UTCB. A thread waiting
//! for the reply to a kernel-composed message (a faulting thread) takes that reply
//! differently: its registers are not overwritten; map items land in its space and an
//! exception reply may set its registers.
//!
//! Who runs afterwards: a woken partner is queued; when the caller blocks (a call), the
//! partner it woke runs next unless a higher-priority thread is ready (direct switch, as in
//! L4), so a call/reply pair costs no queue operations beyond the wake-up.

use alloc::boxed::Box;

use abi::call::Call;
use abi::call::ipc::{IpcArguments, ReceiveSpecifier};
use abi::error::CallError;
use abi::message::item::{Acceptor, StringItem, TypedItem};
use abi::message::{MessageTag, TagFlags};
use abi::thread_id::ThreadId;
use abi::timeout::Timeout;

use super::{
    Kernel, Machine, ReceiveFrom, SpaceTables, ThreadSlot, ThreadState, UserFault, space_id,
};
use crate::mapdb::{Page, Region, Rights};

/// Message registers: MR0 (the tag) plus 63 words.
pub(super) const MESSAGE_REGISTERS: usize = 64;
/// Words of a message beyond the tag.
pub(super) const MESSAGE_WORDS: usize = MESSAGE_REGISTERS - 1;
/// MR1..MR7 travel in x1..x7.
const REGISTER_WORDS: usize = 7;
const PAGE_SHIFT: u32 = 12;
/// The condition flags of PSTATE: all a handler may change (the mode stays EL0t).
const NZCV_MASK: u64 = 0xF000_0000;

/// A message the kernel composed on a thread's behalf, and what kind of reply it expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelMessage {
    /// The tag.
    pub tag: MessageTag,
    /// MR1.. (the first `tag.untyped_words()` are meaningful).
    pub words: [u64; MESSAGE_WORDS],
    /// How the reply is taken.
    pub reply: ReplyKind,
}

/// How a thread that sent a kernel-composed message takes the reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyKind {
    /// A page fault: map items in the reply land in the faulting space; the thread retries
    /// the faulting instruction.
    PageFault,
    /// An exception: as a page fault, and if the reply carries the whole register frame
    /// (`abi::protocol` layout), the thread's registers are set from it.
    Exception,
}

/// A message in flight: its tag and the kernel's word buffer, of which MR1..MR7 and the words
/// the tag names are meaningful.
struct Message<'words> {
    tag: MessageTag,
    words: &'words [u64; MESSAGE_WORDS],
}

/// Words of the receiver's copy of a message to replace: each map or grant item's fpage word
/// becomes what the receiver actually got (the destination fpage, or nil).
#[derive(Default)]
struct Rewrites {
    entries: [(usize, u64); MESSAGE_WORDS / 2],
    count: usize,
}

impl Rewrites {
    fn push(&mut self, index: usize, value: u64) {
        if let Some(slot) = self.entries.get_mut(self.count) {
            *slot = (index, value);
            self.count += 1;
        }
    }

    fn as_slice(&self) -> &[(usize, u64)] {
        &self.entries[..self.count]
    }
}

/// Why a transfer failed, with the error each side gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct TransferError {
    pub(super) sender: CallError,
    pub(super) receiver: CallError,
}

impl TransferError {
    const OVERFLOW: Self = Self {
        sender: CallError::SendMessageOverflow,
        receiver: CallError::ReceiveMessageOverflow,
    };
    const FAULT_IN_SENDER: Self = Self {
        sender: CallError::SendStringFaultInOwnSpace,
        receiver: CallError::ReceiveStringFaultInPartnerSpace,
    };
    const FAULT_IN_RECEIVER: Self = Self {
        sender: CallError::SendStringFaultInPartnerSpace,
        receiver: CallError::ReceiveStringFaultInOwnSpace,
    };
}

impl<M: Machine> Kernel<M> {
    /// The ipc kernel call of `caller` (the running thread), arguments in its saved registers.
    pub(super) fn ipc(&mut self, caller: ThreadSlot) {
        let Some(thread) = self.thread(caller) else {
            return;
        };
        let mut registers = [0u64; 11];
        registers.copy_from_slice(&thread.context.x[..11]);
        let arguments = match IpcArguments::decode(&registers) {
            Ok(arguments) => arguments,
            Err(error) => return self.fail_call(caller, Call::Ipc, error),
        };
        // Propagation (flag P): the message goes out in the name of the UTCB's
        // virtual_sender, which must be a thread of the caller's task or of its subtree.
        let propagated_as = if arguments.destination.is_some() && arguments.tag.is_propagated() {
            match self.virtual_sender_of(caller) {
                Some(virtual_sender) => Some(virtual_sender),
                None => return self.fail_call(caller, Call::Ipc, CallError::NotPermitted),
            }
        } else {
            None
        };
        if let Some(thread) = self.thread_mut(caller) {
            thread.propagated_as = propagated_as;
        }
        // Decode fully before acting: the receive specifier must name something real.
        let receive = match arguments.receive {
            ReceiveSpecifier::None => None,
            ReceiveSpecifier::Any => Some(ReceiveFrom::Any),
            ReceiveSpecifier::From(id) => match self.receive_source(caller, id) {
                Ok(from) => Some(from),
                Err(error) => return self.fail_call(caller, Call::Ipc, error),
            },
        };
        let mut woken = None;
        if let Some(destination) = arguments.destination {
            let (to, redirected) = match self.nearest(caller, destination) {
                Some((to, _)) if to == caller => {
                    return self.fail_call(caller, Call::Ipc, CallError::InvalidArgument);
                }
                Some((to, redirected)) => (to, redirected),
                None => {
                    return self.fail_call(caller, Call::Ipc, CallError::SendNonexistentPartner);
                }
            };
            if self.accepts_from(to, caller) {
                if let Err(error) = self.transfer(caller, to, redirected) {
                    self.fail_call(to, Call::Ipc, error.receiver);
                    self.wake(to);
                    return self.fail_call(caller, Call::Ipc, error.sender);
                }
                self.wake(to);
                woken = Some(to);
            } else if arguments.timeouts.send.is_zero() {
                return self.fail_call(caller, Call::Ipc, CallError::SendTimeout);
            } else {
                let receive = receive.map(|from| (from, arguments.timeouts.receive));
                return self.block_sending(caller, to, arguments.timeouts.send, receive);
            }
        }
        match receive {
            Some(from) => {
                self.receive(caller, from, arguments.timeouts.receive);
                if self.current().is_none() {
                    self.switch_directly_to(woken);
                }
            }
            None => self.set_success(caller),
        }
    }

    /// x9 = 0 (the rest of the result registers were written by the transfer, if any).
    pub(super) fn set_success(&mut self, slot: ThreadSlot) {
        if let Some(thread) = self.thread_mut(slot) {
            thread.context.x[abi::call::ERROR_REGISTER] = 0;
        }
    }

    /// Whom a closed receive names: a thread (which must exist) or an interrupt line (which
    /// must be attached to the caller, see lthread_ex_regs).
    fn receive_source(&self, caller: ThreadSlot, id: ThreadId) -> Result<ReceiveFrom, CallError> {
        if let Some(line) = id.interrupt_number() {
            return match self.interrupts.get(&line).and_then(|entry| entry.owner) {
                Some(owner) if owner == caller => Ok(ReceiveFrom::Interrupt(line)),
                _ => Err(CallError::NotPermitted),
            };
        }
        match self.lookup(id) {
            Some(slot) if slot == caller => Err(CallError::InvalidArgument),
            Some(slot) => Ok(ReceiveFrom::Thread(slot)),
            None => Err(CallError::ReceiveNonexistentPartner),
        }
    }

    /// The thread a propagating `caller` names in its UTCB's `virtual_sender`, if it may send
    /// in its name: a live thread of the caller's task or of a task in its subtree.
    fn virtual_sender_of(&mut self, caller: ThreadSlot) -> Option<ThreadId> {
        let utcb = self.thread(caller)?.utcb;
        let mut word = [0u64; 1];
        let address = utcb + abi::utcb::Utcb::OFFSET_VIRTUAL_SENDER as u64;
        self.read_user_words(caller, address, &mut word).ok()?;
        let virtual_sender = ThreadId::decode(word[0]).ok()?;
        self.lookup(virtual_sender)?;
        let caller_task = self.thread(caller)?.id.task();
        // Walk up the chiefs from the virtual sender's task: the caller's task must be met.
        let mut task = virtual_sender.task();
        for _ in 0..=self.tasks.len() {
            if task == caller_task {
                return Some(virtual_sender);
            }
            task = self.tasks.get(&task)?.chief;
            if task == ThreadId::KERNEL_TASK {
                return None;
            }
        }
        None
    }

    /// Whom `sender`'s message claims to come from: the thread it propagates as, or itself.
    fn apparent_sender(&self, sender: ThreadSlot) -> Option<ThreadId> {
        let thread = self.thread(sender)?;
        match (thread.kernel_message.is_none(), thread.propagated_as) {
            (true, Some(virtual_sender)) => Some(virtual_sender),
            _ => Some(thread.id),
        }
    }

    /// Whether a receive from `from` accepts a message whose apparent sender is `sender`.
    fn receive_matches(&self, from: ReceiveFrom, sender: ThreadSlot) -> bool {
        match from {
            ReceiveFrom::Any => true,
            ReceiveFrom::Thread(partner) => {
                let partner = self.thread(partner).map(|tcb| tcb.id);
                partner.is_some() && partner == self.apparent_sender(sender)
            }
            ReceiveFrom::Interrupt(_) => false,
        }
    }

    /// Whether `receiver` is blocked in a receive that accepts a message from `sender` (a
    /// closed wait matches the sender the receiver will see).
    fn accepts_from(&self, receiver: ThreadSlot, sender: ThreadSlot) -> bool {
        match self.thread(receiver).map(|thread| thread.state) {
            Some(ThreadState::Receiving { from }) => self.receive_matches(from, sender),
            _ => false,
        }
    }

    /// Block `caller` in the send phase to `to`, remembering the receive phase to do after.
    pub(super) fn block_sending(
        &mut self,
        caller: ThreadSlot,
        to: ThreadSlot,
        timeout: Timeout,
        receive: Option<(ReceiveFrom, Timeout)>,
    ) {
        if let Some(thread) = self.thread_mut(caller) {
            thread.state = ThreadState::Sending { to };
            thread.pending_receive = receive;
        }
        if let Some(partner) = self.thread_mut(to) {
            partner.send_queue.push_back(caller);
            partner.queued_senders = u32::try_from(partner.send_queue.len()).unwrap_or(u32::MAX);
        }
        self.arm_timeout(caller, timeout);
        self.block(caller);
    }

    /// The receive phase of `thread`: take a pending interrupt or a queued sender's message,
    /// or block (or fail at once with a zero timeout). Works for the running thread and for a
    /// blocked thread whose send phase just completed.
    pub(super) fn receive(&mut self, thread: ThreadSlot, from: ReceiveFrom, timeout: Timeout) {
        if let Some(line) = self.pending_interrupt_for(thread, from) {
            self.deliver_interrupt(thread, line);
            return self.wake(thread);
        }
        if let ReceiveFrom::Thread(partner) = from
            && self.thread(partner).is_none()
        {
            self.fail_call(thread, Call::Ipc, CallError::ReceiveNonexistentPartner);
            return self.wake(thread);
        }
        // A receive that accepts its interrupts acknowledges them: they may fire again.
        for line in self.lines_accepted_by(thread, from) {
            self.machine.set_interrupt_masked(line, false);
        }
        let sender = self.thread(thread).and_then(|tcb| {
            tcb.send_queue
                .iter()
                .copied()
                .find(|&sender| self.receive_matches(from, sender))
        });
        match sender {
            Some(sender) => {
                self.take_from_queue(thread, sender);
                self.wake(thread);
            }
            None if timeout.is_zero() => {
                self.fail_call(thread, Call::Ipc, CallError::ReceiveTimeout);
                self.wake(thread);
            }
            None => {
                if let Some(tcb) = self.thread_mut(thread) {
                    tcb.state = ThreadState::Receiving { from };
                }
                self.arm_timeout(thread, timeout);
                self.block(thread);
            }
        }
    }

    /// `receiver` takes the message of `sender`, which was queued sending to it. The sender's
    /// send phase is then complete: it enters its own receive phase or becomes ready.
    fn take_from_queue(&mut self, receiver: ThreadSlot, sender: ThreadSlot) {
        self.dequeue_sender(receiver, sender);
        self.cancel_timeout(sender);
        let redirected = self
            .thread(sender)
            .is_some_and(|tcb| tcb.kernel_message.is_none())
            && self.queued_redirected(sender, receiver);
        let pending_receive = self
            .thread_mut(sender)
            .and_then(|tcb| tcb.pending_receive.take());
        let composed = self
            .thread(sender)
            .is_some_and(|tcb| tcb.kernel_message.is_some());
        match self.transfer(sender, receiver, redirected) {
            Ok(()) => {
                if !composed {
                    self.set_success(sender);
                }
                match pending_receive {
                    Some((from, timeout)) => {
                        if let Some(tcb) = self.thread_mut(sender) {
                            tcb.state = ThreadState::Ready;
                        }
                        self.receive(sender, from, timeout);
                    }
                    None => self.wake(sender),
                }
            }
            Err(error) => {
                self.abort_ipc(sender, error.sender);
                self.fail_call(receiver, Call::Ipc, error.receiver);
            }
        }
    }

    /// Whether a queued sender's message reaches `receiver` only through clan redirection.
    fn queued_redirected(&self, sender: ThreadSlot, receiver: ThreadSlot) -> bool {
        let (Some(sender), Some(receiver)) = (self.thread(sender), self.thread(receiver)) else {
            return false;
        };
        ThreadId::decode(sender.context.x[8]).is_ok_and(|intended| intended != receiver.id)
    }

    /// Move a message from `sender` to `receiver` (the caller checked that the receiver accepts
    /// it). On success the receiver holds the message.
    pub(super) fn transfer(
        &mut self,
        sender: ThreadSlot,
        receiver: ThreadSlot,
        redirected: bool,
    ) -> Result<(), TransferError> {
        // The words travel in one buffer the kernel keeps, moved in and out by pointer: no
        // message-sized value is zeroed or copied per transfer, only the words the tag names.
        let mut words = self
            .message_buffer
            .take()
            .unwrap_or_else(|| Box::new([0; MESSAGE_WORDS]));
        let result = self.transfer_through(sender, receiver, redirected, &mut words);
        self.message_buffer = Some(words);
        // The send phase is over, delivered or failed: the sender propagates no more.
        if let Some(thread) = self.thread_mut(sender) {
            thread.propagated_as = None;
        }
        result
    }

    fn transfer_through(
        &mut self,
        sender: ThreadSlot,
        receiver: ThreadSlot,
        redirected: bool,
        words: &mut [u64; MESSAGE_WORDS],
    ) -> Result<(), TransferError> {
        let tag = self.read_message(sender, words)?;
        let real_sender = self.thread(sender).map_or(ThreadId::NIL, |tcb| tcb.id);
        let sender_id = self.apparent_sender(sender).unwrap_or(ThreadId::NIL);
        let reply_kind = self
            .thread(receiver)
            .and_then(|tcb| tcb.kernel_message.as_ref())
            .map(|composed| composed.reply);
        let rewrites = self.carry_out_items(
            sender,
            receiver,
            &Message { tag, words },
            reply_kind.is_some(),
        )?;
        for &(index, value) in rewrites.as_slice() {
            if let Some(word) = words.get_mut(index) {
                *word = value;
            }
        }
        let message = Message { tag, words };
        match reply_kind {
            Some(kind) => {
                self.take_reply(receiver, kind, &message);
                if let Some(tcb) = self.thread_mut(receiver) {
                    tcb.kernel_message = None;
                }
            }
            None => {
                let mut tag = message.tag;
                if redirected {
                    tag = tag.with_flags(tag.flags().union(TagFlags::REDIRECTED));
                    self.tell_intended_receiver(sender, receiver)?;
                }
                if tag.is_propagated() {
                    // A propagated message: the receiver learns the real sender from its UTCB.
                    let utcb = self.thread(receiver).map_or(0, |tcb| tcb.utcb);
                    let address = utcb + abi::utcb::Utcb::OFFSET_ACTUAL_SENDER as u64;
                    self.write_user_words(receiver, address, &[real_sender.raw()])
                        .map_err(|_| TransferError::FAULT_IN_RECEIVER)?;
                }
                self.write_message(receiver, tag, message.words, sender_id)?;
            }
        }
        // A composed message has been delivered; its sender now waits for the reply.
        Ok(())
    }

    /// A message reaches `receiver` (a chief) only by clan redirection: write whom the sender
    /// meant, its destination (x8 at its ipc), into the receiver's UTCB `intended_receiver`.
    fn tell_intended_receiver(
        &mut self,
        sender: ThreadSlot,
        receiver: ThreadSlot,
    ) -> Result<(), TransferError> {
        let intended = self.thread(sender).map_or(0, |tcb| tcb.context.x[8]);
        let utcb = self.thread(receiver).map_or(0, |tcb| tcb.utcb);
        let address = utcb + abi::utcb::Utcb::OFFSET_INTENDED_RECEIVER as u64;
        self.write_user_words(receiver, address, &[intended])
            .map_err(|_| TransferError::FAULT_IN_RECEIVER)
    }

    /// Read the sender's message into `words` and return its tag: a kernel-composed message,
    /// or its registers and UTCB. Fills MR1..MR7 always (from registers) and beyond that only
    /// the words the tag names.
    fn read_message(
        &mut self,
        sender: ThreadSlot,
        words: &mut [u64; MESSAGE_WORDS],
    ) -> Result<MessageTag, TransferError> {
        let thread = self.thread(sender).ok_or(TransferError::OVERFLOW)?;
        if let Some(composed) = thread.kernel_message.as_ref() {
            let count = composed.tag.words().clamp(REGISTER_WORDS, MESSAGE_WORDS);
            words[..count].copy_from_slice(&composed.words[..count]);
            return Ok(composed.tag);
        }
        let tag = MessageTag::validate_for_send(thread.context.x[0])
            .map_err(|_| TransferError::OVERFLOW)?;
        words[..REGISTER_WORDS].copy_from_slice(&thread.context.x[1..=REGISTER_WORDS]);
        let count = tag.words();
        if count > REGISTER_WORDS {
            let address = message_register_address(thread.utcb, REGISTER_WORDS + 1);
            let rest = words
                .get_mut(REGISTER_WORDS..count)
                .ok_or(TransferError::OVERFLOW)?;
            self.read_user_words(sender, address, rest)
                .map_err(|_| TransferError::FAULT_IN_SENDER)?;
        }
        Ok(tag)
    }

    /// Write a message into a receiver: MR0..MR7 into x0..x7, the rest into its UTCB, the
    /// sender into x8, success into x9.
    fn write_message(
        &mut self,
        receiver: ThreadSlot,
        tag: MessageTag,
        words: &[u64; MESSAGE_WORDS],
        sender: ThreadId,
    ) -> Result<(), TransferError> {
        let count = tag.words();
        if count > REGISTER_WORDS {
            let utcb = self.thread(receiver).map_or(0, |tcb| tcb.utcb);
            let rest = words
                .get(REGISTER_WORDS..count)
                .ok_or(TransferError::OVERFLOW)?;
            self.write_user_words(
                receiver,
                message_register_address(utcb, REGISTER_WORDS + 1),
                rest,
            )
            .map_err(|_| TransferError::FAULT_IN_RECEIVER)?;
        }
        let thread = self.thread_mut(receiver).ok_or(TransferError::OVERFLOW)?;
        thread.context.x[0] = tag.raw();
        thread.context.x[1..=REGISTER_WORDS].copy_from_slice(&words[..REGISTER_WORDS]);
        thread.context.x[8] = sender.raw();
        thread.context.x[abi::call::ERROR_REGISTER] = 0;
        Ok(())
    }

    /// Carry out the typed items of `message`: map and grant items through the mapping
    /// database into the receiver's window, string items into its string buffers. A faulting
    /// thread taking a reply accepts mappings anywhere in its space (its pager decides).
    fn carry_out_items(
        &mut self,
        sender: ThreadSlot,
        receiver: ThreadSlot,
        message: &Message,
        fault_reply: bool,
    ) -> Result<Rewrites, TransferError> {
        let mut rewrites = Rewrites::default();
        let typed = message.tag.typed_words();
        if typed == 0 {
            return Ok(rewrites);
        }
        let first = message.tag.untyped_words();
        let items = message
            .words
            .get(first..first + typed)
            .ok_or(TransferError::OVERFLOW)?;
        let acceptor = if fault_reply {
            Acceptor::window(abi::message::fpage::Fpage::complete(
                abi::message::fpage::Rights::ALL,
            ))
        } else {
            self.acceptor_of(receiver)?
        };
        let mut string_buffer = 0usize;
        for (index, pair) in items.chunks_exact(2).enumerate() {
            let item =
                TypedItem::decode([pair[0], pair[1]]).map_err(|_| TransferError::OVERFLOW)?;
            match item {
                TypedItem::Map(map) | TypedItem::Grant(map) => {
                    let grant = matches!(item, TypedItem::Grant(_));
                    let Some(placement) = map.placement(acceptor.receive_window()) else {
                        return Err(TransferError::OVERFLOW);
                    };
                    let pages = self.map_fpage(
                        sender,
                        receiver,
                        placement.source,
                        placement.destination,
                        grant,
                    );
                    // The receiver's copy says what it got: the destination fpage, or nil.
                    let got = if pages == 0 {
                        abi::message::fpage::Fpage::NIL
                    } else {
                        placement.destination
                    };
                    rewrites.push(first + 2 * index + 1, got.raw());
                }
                TypedItem::String(string) => {
                    if !acceptor.accepts_strings() {
                        return Err(TransferError::OVERFLOW);
                    }
                    string_buffer += 1;
                    self.copy_string(sender, receiver, string, string_buffer)?;
                }
            }
        }
        Ok(rewrites)
    }

    /// Map (or grant) the pages of `source` in the sender's space to `destination` in the
    /// receiver's, with the source fpage's rights. Pages outside the user half or inside the
    /// receiver's UTCB area are never touched (the database skips unmapped source pages).
    fn map_fpage(
        &mut self,
        sender: ThreadSlot,
        receiver: ThreadSlot,
        source: abi::message::fpage::Fpage,
        destination: abi::message::fpage::Fpage,
        grant: bool,
    ) -> u64 {
        let (Some(from), Some(to)) = (
            self.thread(sender).map(|tcb| tcb.id.task()),
            self.thread(receiver).map(|tcb| tcb.id.task()),
        ) else {
            return 0;
        };
        let rights = Rights::from_bits_truncate(source.rights().bits());
        let pages = source.size() >> PAGE_SHIFT;
        let region = Region::new(space_id(from), Page(source.base() >> PAGE_SHIFT), pages);
        let to_page = Page(destination.base() >> PAGE_SHIFT);
        if self.overlaps_kernel_pages(to, destination.base(), destination.size()) {
            return 0;
        }
        let lazy_roots = self.is_sigma0_proper(sender);
        // In chunks the database accepts. A refusal (out of memory) maps nothing more; the
        // message still arrives, as in L4, and the receiver finds the pages missing.
        let mut offset = 0;
        let mut mapped = 0;
        while offset < region.count {
            let count = (region.count - offset).min(crate::mapdb::MAX_PAGES_PER_CALL);
            let chunk = Region::new(region.space, Page(region.first.0 + offset), count);
            if lazy_roots {
                self.insert_sigma0_roots(chunk);
            }
            let mut tables = SpaceTables {
                machine: &mut self.machine,
                tasks: &mut self.tasks,
            };
            let destination = Page(to_page.0 + offset);
            let result = if grant {
                self.mapdb
                    .grant(&mut tables, chunk, space_id(to), destination, rights)
            } else {
                self.mapdb
                    .map(&mut tables, chunk, space_id(to), destination, rights)
            };
            match result {
                Ok(done) => mapped += done,
                Err(_) => break,
            }
            offset += count;
        }
        mapped
    }

    /// Whether `thread` is sigma0 itself (task 1 with no pager), whose address space is the
    /// physical memory the machine lets it have.
    pub(super) fn is_sigma0_proper(&self, thread: ThreadSlot) -> bool {
        self.thread(thread)
            .is_some_and(|tcb| tcb.id.task() == ThreadId::SIGMA0.task() && tcb.pager.is_nil())
    }

    /// sigma0's root mappings are made when first used: before sigma0 maps pages on, each
    /// page of `chunk` it does not hold yet but may have (`Machine::sigma0_memory`: its RAM,
    /// the initrd, the device tree, device registers of any size) becomes a root mapping, so
    /// that large device regions (flash, PCIe configuration space) cost nothing until a
    /// driver asks for a page of them, and sigma0 never touches a register to fault it in.
    fn insert_sigma0_roots(&mut self, chunk: Region) {
        let sigma0 = ThreadId::SIGMA0.task();
        for page in (0..chunk.count).map(|index| Page(chunk.first.0 + index)) {
            if self.mapdb.lookup(space_id(sigma0), page).is_some() {
                continue;
            }
            let Some(address) = page.0.checked_mul(1 << PAGE_SHIFT) else {
                continue;
            };
            if let Some((frame, rights)) = self.machine.sigma0_memory(address) {
                // Out of memory: the page stays missing and the map skips it, as any page
                // the sender does not hold.
                let _ = self.insert_root_mapping(sigma0, page, frame, rights);
            }
        }
    }

    /// Whether `[base, base + size)` in `task` overlaps its UTCB area or its kernel interface
    /// page (kernel-owned pages no mapping may replace).
    pub(super) fn overlaps_kernel_pages(&self, task: u16, base: u64, size: u64) -> bool {
        let Some(owner) = self.tasks.get(&task) else {
            return true;
        };
        let end = base.saturating_add(size);
        let area_end = owner.utcb_base.saturating_add(owner.utcb_size);
        let in_utcb_area = base < area_end && owner.utcb_base < end;
        let on_kip = owner
            .kernel_interface_page
            .is_some_and(|page| base < page.saturating_add(super::PAGE_SIZE) && page < end);
        in_utcb_area || on_kip
    }

    /// The receiver's acceptor (BR0 in its UTCB).
    fn acceptor_of(&mut self, receiver: ThreadSlot) -> Result<Acceptor, TransferError> {
        let utcb = self.thread(receiver).map_or(0, |tcb| tcb.utcb);
        let mut raw = [0u64; 1];
        self.read_user_words(receiver, buffer_register_address(utcb, 0), &mut raw)
            .map_err(|_| TransferError::OVERFLOW)?;
        Acceptor::decode(raw[0]).map_err(|_| TransferError::OVERFLOW)
    }

    /// Copy one string item into the receiver's `buffer`-th string buffer (1-based): the
    /// string items in BR2, BR3 (first buffer), BR4, BR5, ...; BR1 says how many there are.
    fn copy_string(
        &mut self,
        sender: ThreadSlot,
        receiver: ThreadSlot,
        string: StringItem,
        buffer: usize,
    ) -> Result<(), TransferError> {
        let utcb = self.thread(receiver).map_or(0, |tcb| tcb.utcb);
        let mut count = [0u64; 1];
        self.read_user_words(
            receiver,
            buffer_register_address(utcb, abi::utcb::STRING_BUFFER_COUNT_REGISTER),
            &mut count,
        )
        .map_err(|_| TransferError::OVERFLOW)?;
        let available = usize::try_from(count[0])
            .unwrap_or(usize::MAX)
            .min(abi::message::item::MAX_STRING_BUFFERS);
        if buffer > available {
            return Err(TransferError::OVERFLOW);
        }
        let mut raw = [0u64; 2];
        let register = abi::utcb::FIRST_STRING_BUFFER_REGISTER + 2 * (buffer - 1);
        self.read_user_words(receiver, buffer_register_address(utcb, register), &mut raw)
            .map_err(|_| TransferError::OVERFLOW)?;
        let target = StringItem::decode(raw).map_err(|_| TransferError::OVERFLOW)?;
        if string.length() > target.length() {
            return Err(TransferError::OVERFLOW);
        }
        let mut chunk = [0u8; 256];
        let mut done = 0usize;
        while done < string.length() {
            let length = (string.length() - done).min(chunk.len());
            let offset = done as u64;
            let bytes = &mut chunk[..length];
            let from = string
                .address()
                .checked_add(offset)
                .ok_or(TransferError::FAULT_IN_SENDER)?;
            let to = target
                .address()
                .checked_add(offset)
                .ok_or(TransferError::FAULT_IN_RECEIVER)?;
            self.read_user_bytes(sender, from, bytes)
                .map_err(|_| TransferError::FAULT_IN_SENDER)?;
            self.write_user_bytes(receiver, to, bytes)
                .map_err(|_| TransferError::FAULT_IN_RECEIVER)?;
            done += length;
        }
        Ok(())
    }

    /// A faulting thread takes its handler's reply: for an exception reply carrying the whole
    /// register frame (`abi::user_registers::UserRegisters` word order), its registers are set
    /// from it, except that PSTATE keeps EL0 with interrupts unmasked (only NZCV is taken);
    /// nothing else of the message touches it.
    fn take_reply(&mut self, receiver: ThreadSlot, kind: ReplyKind, message: &Message) {
        use abi::protocol::exception_word;
        if kind != ReplyKind::Exception {
            return;
        }
        let count = message.tag.untyped_words().min(exception_word::SETTABLE);
        let Some(thread) = self.thread_mut(receiver) else {
            return;
        };
        for (index, &word) in message.words.iter().enumerate().take(count) {
            match index {
                exception_word::SP => thread.context.sp = word,
                exception_word::PC => thread.context.pc = word,
                exception_word::PSTATE => {
                    thread.context.pstate =
                        (thread.context.pstate & !NZCV_MASK) | (word & NZCV_MASK)
                }
                register => {
                    if let Some(slot) = thread.context.x.get_mut(register) {
                        *slot = word;
                    }
                }
            }
        }
    }

    /// Read user words of `thread`'s task at `address`.
    pub(super) fn read_user_words(
        &mut self,
        thread: ThreadSlot,
        address: u64,
        words: &mut [u64],
    ) -> Result<(), UserFault> {
        let mut bytes = [0u8; MESSAGE_REGISTERS * 8];
        let bytes = bytes
            .get_mut(..words.len() * 8)
            .ok_or(UserFault { address })?;
        self.read_user_bytes(thread, address, bytes)?;
        for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut raw = [0u8; 8];
            raw.copy_from_slice(chunk);
            *word = u64::from_le_bytes(raw);
        }
        Ok(())
    }

    /// Write user words of `thread`'s task at `address`.
    pub(super) fn write_user_words(
        &mut self,
        thread: ThreadSlot,
        address: u64,
        words: &[u64],
    ) -> Result<(), UserFault> {
        let mut bytes = [0u8; MESSAGE_REGISTERS * 8];
        let bytes = bytes
            .get_mut(..words.len() * 8)
            .ok_or(UserFault { address })?;
        for (chunk, word) in bytes.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        self.write_user_bytes(thread, address, bytes)
    }

    fn read_user_bytes(
        &mut self,
        thread: ThreadSlot,
        address: u64,
        bytes: &mut [u8],
    ) -> Result<(), UserFault> {
        let (machine, space) = self.machine_and_space(thread, address)?;
        machine.read_user(space, address, bytes)
    }

    fn write_user_bytes(
        &mut self,
        thread: ThreadSlot,
        address: u64,
        bytes: &[u8],
    ) -> Result<(), UserFault> {
        let (machine, space) = self.machine_and_space(thread, address)?;
        machine.write_user(space, address, bytes)
    }

    /// The machine and the address space of `thread`'s task, borrowed together for one user
    /// memory access (a fault at `address` if the thread or its task is gone).
    fn machine_and_space(
        &mut self,
        thread: ThreadSlot,
        address: u64,
    ) -> Result<(&mut M, &mut M::Space), UserFault> {
        let task = self
            .thread(thread)
            .map(|tcb| tcb.id.task())
            .ok_or(UserFault { address })?;
        let space = &mut self
            .tasks
            .get_mut(&task)
            .ok_or(UserFault { address })?
            .space;
        Ok((&mut self.machine, space))
    }
}

/// User address of MR`index` in the UTCB at `utcb`.
pub(super) fn message_register_address(utcb: u64, index: usize) -> u64 {
    utcb + abi::utcb::Utcb::OFFSET_MESSAGE_REGISTERS as u64 + index as u64 * 8
}

/// User address of BR`index` in the UTCB at `utcb`.
pub(super) fn buffer_register_address(utcb: u64, index: usize) -> u64 {
    utcb + abi::utcb::Utcb::OFFSET_BUFFER_REGISTERS as u64 + index as u64 * 8
}
