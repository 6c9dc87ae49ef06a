//! The event handlers other than the ipc transfer itself: kernel-call dispatch, the six other
//! calls, page faults and exceptions turned into messages, interrupts, timeouts, blocking and
//! waking, clans and chiefs, task deletion.

use alloc::vec::Vec;

use abi::call::Call;
use abi::call::fpage_unmap::{FpageUnmapArguments, FpageUnmapReturnValues, UnmapScope};
use abi::call::id_nearest::{IdNearestArguments, IdNearestReturnValues, NearestKind};
use abi::call::kernel_debug_write::KernelDebugWriteArguments;
use abi::call::lthread_ex_regs::{
    LthreadExRegsArguments, LthreadExRegsReturnValues, RunControl, ThreadStatus,
};
use abi::call::task_new::{TaskNewArguments, TaskNewReturnValues};
use abi::call::thread_schedule::{ThreadScheduleArguments, ThreadScheduleReturnValues};
use abi::call::thread_switch::ThreadSwitchArguments;
use abi::call::{ReturnRegisters, SupervisorCall};
use abi::error::CallError;
use abi::thread_id::ThreadId;
use abi::timeout::Timeout;
use abi::user_registers::UserRegisters;

use super::ipc::{KernelMessage, MESSAGE_WORDS, ReplyKind};
use super::{
    CreateError, Kernel, Machine, Notice, ReceiveFrom, SpaceTables, ThreadSlot, ThreadState,
    space_id,
};
use crate::mapdb::{Page, Region, Rights, UnmapScope as MapdbScope};
use crate::timeouts::deadline_after;

/// How a page fault was caused (the access the thread attempted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A load.
    Read,
    /// A store.
    Write,
    /// An instruction fetch.
    Execute,
}

impl<M: Machine> Kernel<M> {
    /// `svc #immediate` by the current thread. Decodes the call, performs it, and picks the
    /// thread to resume ([`Kernel::current`]).
    pub fn kernel_call(&mut self, immediate: u16, syndrome: u64, fault_address: u64) {
        let Some(caller) = self.current() else { return };
        match SupervisorCall::decode(immediate) {
            SupervisorCall::Kernel(call) => self.perform(caller, call),
            SupervisorCall::LinuxSystemCall => {
                self.linux_system_call(caller, syndrome, fault_address)
            }
            SupervisorCall::UnknownDebugCall(_) => {
                let mut results = [0u64; 10];
                results[abi::call::ERROR_REGISTER] = CallError::NoSuchCall.code();
                self.set_results(caller, results);
            }
            SupervisorCall::Unknown(_) => self.exception(syndrome, fault_address),
        }
        self.reschedule();
    }

    fn perform(&mut self, caller: ThreadSlot, call: Call) {
        // The arguments are decoded straight from the saved registers: no copy of them (a
        // copy of 11 words was a memset and two memcpy calls, a fifth of a null call).
        let Some(registers) = self
            .thread(caller)
            .and_then(|thread| thread.context.x.first_chunk::<11>())
        else {
            return;
        };
        match call {
            Call::Ipc => self.ipc(caller),
            Call::IdNearest => match IdNearestArguments::decode(registers) {
                Ok(arguments) => self.id_nearest(caller, arguments),
                Err(error) => self.fail_call(caller, call, error),
            },
            Call::FpageUnmap => match FpageUnmapArguments::decode(registers) {
                Ok(arguments) => self.fpage_unmap(caller, arguments),
                Err(error) => self.fail_call(caller, call, error),
            },
            Call::ThreadSwitch => match ThreadSwitchArguments::decode(registers) {
                Ok(arguments) => self.thread_switch(caller, arguments),
                Err(error) => self.fail_call(caller, call, error),
            },
            Call::LthreadExRegs => match LthreadExRegsArguments::decode(registers) {
                Ok(arguments) => self.lthread_ex_regs(caller, arguments),
                Err(error) => self.fail_call(caller, call, error),
            },
            Call::ThreadSchedule => match ThreadScheduleArguments::decode(registers) {
                Ok(arguments) => self.thread_schedule(caller, arguments),
                Err(error) => self.fail_call(caller, call, error),
            },
            Call::TaskNew => match TaskNewArguments::decode(registers) {
                Ok(arguments) => self.task_new(caller, arguments),
                Err(error) => self.fail_call(caller, call, error),
            },
            Call::KernelDebugWrite => match KernelDebugWriteArguments::decode(registers) {
                Ok(arguments) => self.kernel_debug_write(caller, arguments),
                Err(error) => self.fail_call(caller, call, error),
            },
            Call::SystemPowerOff => self.system_power_off(caller),
        }
    }

    /// system_power_off: only a task the kernel is chief of (sigma0, the root task) may turn
    /// the machine off; everyone else asks it.
    fn system_power_off(&mut self, caller: ThreadSlot) {
        let privileged = self
            .thread(caller)
            .and_then(|tcb| self.tasks.get(&tcb.id.task()))
            .is_some_and(|task| task.chief == ThreadId::KERNEL_TASK);
        if !privileged {
            return self.fail_call(caller, Call::SystemPowerOff, CallError::NotPermitted);
        }
        self.machine.power_off();
        // A machine that cannot turn itself off (or a test's): the call succeeded anyway.
        self.set_results(caller, [0; 10]);
    }

    fn set_results(&mut self, thread: ThreadSlot, results: ReturnRegisters) {
        if let Some(thread) = self.thread_mut(thread) {
            thread.context.x[..results.len()].copy_from_slice(&results);
        }
    }

    /// Write the error return of `call` into `thread`'s registers.
    pub(super) fn fail_call(&mut self, thread: ThreadSlot, call: Call, error: CallError) {
        self.set_results(thread, call.error_registers(error));
    }

    // ---- blocking, waking, scheduling -------------------------------------------------

    /// `thread` stops running (it is blocked or halted).
    pub(super) fn block(&mut self, thread: ThreadSlot) {
        self.scheduler.make_blocked(thread);
        if self.current() == Some(thread) {
            self.set_current(None);
        }
        self.refresh_fast_sender(thread);
    }

    /// `thread`'s ipc is over: it becomes ready (queued unless it is the running thread).
    pub(super) fn wake(&mut self, thread: ThreadSlot) {
        self.cancel_timeout(thread);
        let Some(tcb) = self.thread_mut(thread) else {
            return;
        };
        tcb.state = ThreadState::Ready;
        tcb.pending_receive = None;
        tcb.fast_sender = ThreadId::NIL.raw();
        if self.current() != Some(thread) {
            self.scheduler.make_ready(thread);
        }
    }

    /// The running thread blocked after waking `partner` (a call): run the partner next
    /// unless a thread of higher priority is ready. L4's direct process switch.
    pub(super) fn switch_directly_to(&mut self, partner: Option<ThreadSlot>) {
        let Some(partner) = partner else { return };
        if self.thread(partner).map(|tcb| tcb.state) != Some(ThreadState::Ready) {
            return;
        }
        self.scheduler.make_blocked(partner);
        let chosen = self.scheduler.choose(Some(partner));
        self.set_current(chosen);
    }

    /// End of an event: keep the running thread unless a higher-priority one is ready.
    pub(super) fn reschedule(&mut self) {
        let running = self
            .current()
            .filter(|&slot| self.thread(slot).map(|tcb| tcb.state) == Some(ThreadState::Ready));
        let chosen = self.scheduler.choose(running);
        self.set_current(chosen);
    }

    pub(super) fn arm_timeout(&mut self, thread: ThreadSlot, timeout: Timeout) {
        if let Some(microseconds) = timeout.microseconds().filter(|_| !timeout.is_never()) {
            let deadline = deadline_after(self.now, u64::from(microseconds), self.ticks_per_second);
            self.timeouts.arm(thread, deadline);
            if let Some(tcb) = self.thread_mut(thread) {
                tcb.timeout_armed = true;
            }
        }
    }

    /// Disarm `thread`'s timeout, if one is armed.
    pub(super) fn cancel_timeout(&mut self, thread: ThreadSlot) {
        if let Some(tcb) = self.thread_mut(thread)
            && core::mem::take(&mut tcb.timeout_armed)
        {
            self.timeouts.cancel(thread);
        }
    }

    /// Set `thread`'s priority and time slice (in ticks).
    pub(super) fn set_scheduling(&mut self, thread: ThreadSlot, priority: u8, slice_ticks: u32) {
        self.scheduler.set_parameters(thread, priority, slice_ticks);
        if let Some(tcb) = self.thread_mut(thread) {
            tcb.priority = priority;
        }
    }

    /// A blocked thread's timeout ran out.
    pub(super) fn expire_timeout(&mut self, thread: ThreadSlot) {
        let error = match self.thread(thread).map(|tcb| tcb.state) {
            Some(ThreadState::Sending { to }) => {
                self.dequeue_sender(to, thread);
                CallError::SendTimeout
            }
            Some(ThreadState::Receiving { .. }) => CallError::ReceiveTimeout,
            _ => return,
        };
        self.abort_ipc(thread, error);
    }

    /// Take `sender` out of `receiver`'s send queue.
    pub(super) fn dequeue_sender(&mut self, receiver: ThreadSlot, sender: ThreadSlot) {
        if let Some(tcb) = self.thread_mut(receiver) {
            tcb.send_queue.retain(|&queued| queued != sender);
            tcb.queued_senders = u32::try_from(tcb.send_queue.len()).unwrap_or(u32::MAX);
        }
    }

    /// End `thread`'s ipc with `error` and make it ready. A thread waiting on a message the
    /// kernel composed for it (a fault) has its user registers untouched instead: it simply
    /// runs again and retries the faulting instruction (and faults again if nothing changed).
    pub(super) fn abort_ipc(&mut self, thread: ThreadSlot, error: CallError) {
        if let Some(tcb) = self.thread_mut(thread) {
            tcb.propagated_as = None;
        }
        let composed = self
            .thread_mut(thread)
            .and_then(|tcb| tcb.kernel_message.take())
            .is_some();
        if !composed {
            self.fail_call(thread, Call::Ipc, error);
        }
        self.wake(thread);
    }

    /// Abort whatever ipc `thread` is blocked in, with the cancel errors.
    pub(super) fn cancel_ipc(&mut self, thread: ThreadSlot, send: bool, receive: bool) {
        match self.thread(thread).map(|tcb| tcb.state) {
            Some(ThreadState::Sending { to }) if send => {
                self.dequeue_sender(to, thread);
                self.abort_ipc(thread, CallError::SendCancelled);
            }
            Some(ThreadState::Receiving { .. }) if receive => {
                self.abort_ipc(thread, CallError::ReceiveCancelled)
            }
            _ => {}
        }
    }

    // ---- clans and chiefs -------------------------------------------------------------

    /// Where a message from `caller` to `destination` goes: the destination itself when it is
    /// in the caller's clan (the common case costs one comparison of chiefs), else thread 0 of
    /// the chief on the way. Returns the slot and whether it was redirected; `None` if the
    /// destination (or the chief) does not exist.
    pub(super) fn nearest(
        &self,
        caller: ThreadSlot,
        destination: ThreadId,
    ) -> Option<(ThreadSlot, bool)> {
        let target = self.lookup(destination)?;
        if self.in_one_clan(caller, target) {
            return Some((target, false));
        }
        let from = self.thread(caller)?.id.task();
        match self.nearest_task(from, destination.task())? {
            (_, NearestKind::Direct) => Some((target, false)),
            (task, _) => {
                let chief = *self.tasks.get(&task)?.threads.get(&0)?;
                Some((chief, chief != target))
            }
        }
    }

    /// The clan rules' direct cases (one task, siblings, parent, child), decided from the
    /// chiefs both TCBs keep, without the task map: the answer of `nearest_task` being
    /// `Direct`, cheaply.
    fn in_one_clan(&self, caller: ThreadSlot, target: ThreadSlot) -> bool {
        match (self.thread(caller), self.thread(target)) {
            (Some(sender), Some(receiver)) => sender.in_one_clan_with(receiver),
            _ => false,
        }
    }

    /// The task a message from task `from` to task `to` is delivered to, and how.
    fn nearest_task(&self, from: u16, to: u16) -> Option<(u16, NearestKind)> {
        let chief_of = |task: u16| self.tasks.get(&task).map(|task| task.chief);
        let from_chief = chief_of(from)?;
        let to_chief = chief_of(to)?;
        if from == to || from_chief == to_chief || to_chief == from || to == from_chief {
            return Some((to, NearestKind::Direct));
        }
        // Walk up from the destination: if the walk passes a task whose chief is the caller
        // (or the caller's chief), the destination is inside that clan.
        let mut member = to;
        for _ in 0..=self.tasks.len() {
            let chief = chief_of(member)?;
            if chief == from {
                return Some((member, NearestKind::InnerClan));
            }
            if chief == from_chief {
                return Some((member, NearestKind::InnerClan));
            }
            if chief == ThreadId::KERNEL_TASK {
                break;
            }
            member = chief;
        }
        if from_chief == ThreadId::KERNEL_TASK {
            // The caller is a top-level task and the destination is not below it: deliver to
            // the top-level task whose clan holds the destination (a member of the caller's).
            return Some((member, NearestKind::InnerClan));
        }
        Some((from_chief, NearestKind::OuterClan))
    }

    fn id_nearest(&mut self, caller: ThreadSlot, arguments: IdNearestArguments) {
        let destination = arguments.destination;
        let answer = if destination.is_interrupt() {
            Some((destination, NearestKind::Direct))
        } else {
            self.lookup(destination).and_then(|target| {
                if self.in_one_clan(caller, target) {
                    return Some((destination, NearestKind::Direct));
                }
                let from = self.thread(caller)?.id.task();
                let (task, kind) = self.nearest_task(from, destination.task())?;
                let nearest = match kind {
                    NearestKind::Direct => destination,
                    _ => self.thread(*self.tasks.get(&task)?.threads.get(&0)?)?.id,
                };
                Some((nearest, kind))
            })
        };
        match answer {
            Some((nearest, kind)) => {
                self.set_results(caller, IdNearestReturnValues { nearest, kind }.encode())
            }
            None => self.fail_call(caller, Call::IdNearest, CallError::InvalidThread),
        }
    }

    // ---- page faults, exceptions, Linux system calls -------------------------------------

    /// The current thread faulted on `address` at `pc`: it sends a page-fault message to its
    /// pager and waits for the reply (a call). Without a pager it is halted.
    pub fn page_fault(&mut self, address: u64, access: Access, pc: u64) {
        let Some(thread) = self.current() else { return };
        if self.sigma0_fault(thread, address) {
            return self.reschedule();
        }
        let access = match access {
            Access::Read => abi::message::Rights::READ,
            Access::Write => abi::message::Rights::WRITE,
            Access::Execute => abi::message::Rights::EXECUTE,
        };
        let fault = abi::protocol::PageFault {
            address,
            instruction_pointer: pc,
            access,
        };
        let mut words = [0u64; MESSAGE_WORDS];
        words[..abi::protocol::PageFault::WORDS].copy_from_slice(&fault.words());
        let tag = fault.tag();
        let pager = self.thread(thread).map_or(ThreadId::NIL, |tcb| tcb.pager);
        self.send_kernel_message(
            thread,
            pager,
            KernelMessage {
                tag,
                words,
                reply: ReplyKind::PageFault,
            },
        );
        self.reschedule();
    }

    /// sigma0's own faults are the kernel's to answer: its address space maps physical memory
    /// 1:1, and a fault on a page the machine lets it have (its conventional memory, the
    /// initrd, the device tree) installs that page as a root mapping. Returns whether the
    /// fault was resolved (the thread then retries the access).
    fn sigma0_fault(&mut self, thread: ThreadSlot, address: u64) -> bool {
        let Some(tcb) = self.thread(thread) else {
            return false;
        };
        if tcb.id.task() != ThreadId::SIGMA0.task() || !tcb.pager.is_nil() {
            return false;
        }
        let Some((frame, rights)) = self.machine.sigma0_memory(address) else {
            return false;
        };
        let page = Page(address >> 12);
        self.insert_root_mapping(ThreadId::SIGMA0.task(), page, frame, rights)
            .is_ok()
    }

    /// The current thread took an exception (undefined instruction, alignment, breakpoint, an
    /// `svc` that is no kernel call): it sends its whole register frame to its exception
    /// handler and waits for the reply, which may set new registers.
    pub fn exception(&mut self, syndrome: u64, fault_address: u64) {
        let Some(thread) = self.current() else { return };
        let Some(tcb) = self.thread(thread) else {
            return;
        };
        let mut words = [0u64; MESSAGE_WORDS];
        words[..31].copy_from_slice(&tcb.context.x);
        words[UserRegisters::SP_WORD] = tcb.context.sp;
        words[UserRegisters::PC_WORD] = tcb.context.pc;
        words[UserRegisters::PSTATE_WORD] = tcb.context.pstate;
        words[abi::protocol::exception_word::ESR] = syndrome;
        words[abi::protocol::exception_word::FAR] = fault_address;
        let tag = abi::protocol::Exception::TAG;
        let handler = tcb.exception_handler;
        self.send_kernel_message(
            thread,
            handler,
            KernelMessage {
                tag,
                words,
                reply: ReplyKind::Exception,
            },
        );
        self.reschedule();
    }

    /// `svc #0`: a Linux system call. A thread in Linux-ABI mode (its UTCB names a trampoline)
    /// gets it reflected: its registers are saved in its UTCB and it continues at the
    /// trampoline. Any other thread sends it to its exception handler.
    fn linux_system_call(&mut self, thread: ThreadSlot, syndrome: u64, fault_address: u64) {
        let Some(tcb) = self.thread(thread) else {
            return;
        };
        let utcb = tcb.utcb;
        let context = tcb.context;
        let mut entry = [0u64; 1];
        let trampoline = self
            .read_user_words(
                thread,
                utcb + abi::utcb::Utcb::OFFSET_TRAMPOLINE_ENTRY as u64,
                &mut entry,
            )
            .ok()
            .map(|()| entry[0])
            .filter(|&entry| entry != 0);
        let Some(trampoline) = trampoline else {
            return self.exception(syndrome, fault_address);
        };
        let mut frame = [0u64; UserRegisters::WORDS];
        frame[..31].copy_from_slice(&context.x);
        frame[UserRegisters::SP_WORD] = context.sp;
        frame[UserRegisters::PC_WORD] = context.pc;
        frame[UserRegisters::PSTATE_WORD] = context.pstate;
        if self
            .write_user_words(
                thread,
                utcb + abi::utcb::Utcb::OFFSET_REFLECTED_TRAP as u64,
                &frame,
            )
            .is_err()
        {
            return self.exception(syndrome, fault_address);
        }
        if let Some(tcb) = self.thread_mut(thread) {
            tcb.context.pc = trampoline;
        }
    }

    /// Send a kernel-composed message from `thread` to `handler` as a call: deliver it if the
    /// handler waits, else queue; then wait for the reply. No handler: halt the thread.
    fn send_kernel_message(
        &mut self,
        thread: ThreadSlot,
        handler: ThreadId,
        message: KernelMessage,
    ) {
        let Some(to) = self.lookup(handler).filter(|&to| to != thread) else {
            let pc = self.thread(thread).map_or(0, |tcb| tcb.context.pc);
            let id = self.thread(thread).map_or(ThreadId::NIL, |tcb| tcb.id);
            self.notices
                .push_back(Notice::HaltedWithoutHandler { thread: id, pc });
            if let Some(tcb) = self.thread_mut(thread) {
                tcb.state = ThreadState::Halted;
            }
            return self.block(thread);
        };
        if let Some(tcb) = self.thread_mut(thread) {
            tcb.kernel_message = Some(message);
        }
        let reply_from = Some((ReceiveFrom::Thread(to), Timeout::NEVER));
        if self.receiving_from(to, thread) {
            // A handler's errors are its own; the faulting thread just keeps waiting.
            if self.transfer(thread, to, false).is_ok() {
                self.wake(to);
                if let Some(tcb) = self.thread_mut(thread) {
                    tcb.state = ThreadState::Receiving {
                        from: ReceiveFrom::Thread(to),
                    };
                }
                self.block(thread);
                return self.switch_directly_to(Some(to));
            }
        }
        self.block_sending(thread, to, Timeout::NEVER, reply_from);
    }

    fn receiving_from(&self, receiver: ThreadSlot, sender: ThreadSlot) -> bool {
        matches!(
            self.thread(receiver).map(|tcb| tcb.state),
            Some(ThreadState::Receiving {
                from: ReceiveFrom::Any
            }) | Some(ThreadState::Receiving {
                from: ReceiveFrom::Thread(_)
            })
        ) && match self.thread(receiver).map(|tcb| tcb.state) {
            Some(ThreadState::Receiving {
                from: ReceiveFrom::Thread(partner),
            }) => partner == sender,
            _ => true,
        }
    }

    // ---- interrupts -----------------------------------------------------------------------

    /// Interrupt `line` fired. It is masked until its handler's next receive; the handler gets
    /// an empty message from the interrupt's thread ID.
    pub fn interrupt(&mut self, line: u16) {
        self.machine.set_interrupt_masked(line, true);
        let entry = self.interrupts.entry(line).or_default();
        let Some(owner) = entry.owner else {
            self.notices.push_back(Notice::UnclaimedInterrupt { line });
            return;
        };
        entry.pending = true;
        let accepts = match self.thread(owner).map(|tcb| tcb.state) {
            Some(ThreadState::Receiving {
                from: ReceiveFrom::Any,
            }) => true,
            Some(ThreadState::Receiving {
                from: ReceiveFrom::Interrupt(waited),
            }) => waited == line,
            _ => false,
        };
        if accepts {
            self.deliver_interrupt(owner, line);
            self.wake(owner);
        }
        self.reschedule();
    }

    /// A pending interrupt `thread` accepts with `from`.
    pub(super) fn pending_interrupt_for(
        &self,
        thread: ThreadSlot,
        from: ReceiveFrom,
    ) -> Option<u16> {
        match from {
            ReceiveFrom::Thread(_) => None,
            ReceiveFrom::Interrupt(line) => self
                .interrupts
                .get(&line)
                .filter(|entry| entry.owner == Some(thread) && entry.pending)
                .map(|_| line),
            ReceiveFrom::Any => self
                .interrupts
                .iter()
                .find(|(_, entry)| entry.owner == Some(thread) && entry.pending)
                .map(|(&line, _)| line),
        }
    }

    /// The lines a receive with `from` acknowledges (unmasks).
    pub(super) fn lines_accepted_by(&self, thread: ThreadSlot, from: ReceiveFrom) -> Vec<u16> {
        match from {
            ReceiveFrom::Thread(_) => Vec::new(),
            ReceiveFrom::Interrupt(line) => alloc::vec![line],
            ReceiveFrom::Any => self
                .interrupts
                .iter()
                .filter(|(_, entry)| entry.owner == Some(thread))
                .map(|(&line, _)| line)
                .collect(),
        }
    }

    /// Hand the interrupt message to `thread`: tag with the interrupt label and no words, from
    /// the interrupt's ID.
    pub(super) fn deliver_interrupt(&mut self, thread: ThreadSlot, line: u16) {
        if let Some(entry) = self.interrupts.get_mut(&line) {
            entry.pending = false;
        }
        let from = ThreadId::interrupt(line).unwrap_or(ThreadId::NIL);
        if let Some(tcb) = self.thread_mut(thread) {
            tcb.context.x[0] = abi::protocol::INTERRUPT_TAG.raw();
            tcb.context.x[8] = from.raw();
            tcb.context.x[abi::call::ERROR_REGISTER] = 0;
        }
    }

    // ---- the other calls ------------------------------------------------------------------

    fn thread_switch(&mut self, caller: ThreadSlot, arguments: ThreadSwitchArguments) {
        let target = arguments.destination.and_then(|id| self.lookup(id));
        self.set_results(caller, [0; 10]);
        let chosen = self.scheduler.yield_to(caller, target);
        self.set_current(chosen);
    }

    fn thread_schedule(&mut self, caller: ThreadSlot, arguments: ThreadScheduleArguments) {
        let Some(target) = self.lookup(arguments.destination) else {
            return self.fail_call(caller, Call::ThreadSchedule, CallError::InvalidThread);
        };
        let caller_id = self.thread(caller).map_or(ThreadId::NIL, |tcb| tcb.id);
        let permitted = self
            .thread(target)
            .is_some_and(|tcb| tcb.scheduler == caller_id || tcb.scheduler.same_task(caller_id));
        let limit = self
            .tasks
            .get(&caller_id.task())
            .map_or(0, |task| task.maximum_priority);
        if !permitted || arguments.priority.is_some_and(|priority| priority > limit) {
            return self.fail_call(caller, Call::ThreadSchedule, CallError::NotPermitted);
        }
        if arguments.processor.is_some_and(|processor| processor != 0) {
            return self.fail_call(caller, Call::ThreadSchedule, CallError::InvalidArgument);
        }
        let Some(old) = self.scheduler.parameters(target) else {
            return self.fail_call(caller, Call::ThreadSchedule, CallError::InvalidThread);
        };
        let priority = arguments.priority.unwrap_or(old.priority);
        let slice =
            arguments
                .time_slice_microseconds
                .map_or(old.time_slice_ticks, |microseconds| {
                    u32::try_from(self.ticks_for(u64::from(microseconds)).max(1))
                        .unwrap_or(u32::MAX)
                });
        self.set_scheduling(target, priority, slice);
        let status = self.status_of(target);
        let old_slice =
            u32::try_from(u64::from(old.time_slice_ticks) * 1_000_000 / self.ticks_per_second)
                .unwrap_or(u32::MAX);
        let consumed_ticks = self.scheduler.consumed_ticks(target).unwrap_or(0);
        let results = ThreadScheduleReturnValues {
            priority: old.priority,
            time_slice_microseconds: old_slice,
            processor: 0,
            consumed_microseconds: consumed_ticks.saturating_mul(1_000_000) / self.ticks_per_second,
            status,
        };
        self.set_results(caller, results.encode());
    }

    fn status_of(&self, thread: ThreadSlot) -> ThreadStatus {
        match self.thread(thread).map(|tcb| tcb.state) {
            Some(ThreadState::Inactive) | None => ThreadStatus::INACTIVE,
            Some(ThreadState::Ready) => ThreadStatus::RUNNING,
            Some(ThreadState::Sending { .. }) => ThreadStatus::SENDING,
            Some(ThreadState::Receiving { .. }) => ThreadStatus::RECEIVING,
            Some(ThreadState::Halted) => ThreadStatus::HALTED,
        }
    }

    fn lthread_ex_regs(&mut self, caller: ThreadSlot, arguments: LthreadExRegsArguments) {
        let Some(caller_id) = self.thread(caller).map(|tcb| tcb.id) else {
            return;
        };
        let destination = arguments.destination;
        if let Some(line) = destination.interrupt_number() {
            return self.attach_interrupt(caller, caller_id, line, arguments);
        }
        if arguments.resume_reflected_trap {
            // Only a thread's own trampoline resumes its own reflected frame.
            if destination != caller_id {
                return self.fail_call(caller, Call::LthreadExRegs, CallError::InvalidArgument);
            }
            return self.resume_reflected_trap(caller);
        }
        // The caller's own task, or one its task is chief of (the OS server starts its clients).
        let Some(task) = self.tasks.get(&destination.task()) else {
            return self.fail_call(caller, Call::LthreadExRegs, CallError::InvalidThread);
        };
        if destination.task() != caller_id.task() && task.chief != caller_id.task() {
            return self.fail_call(caller, Call::LthreadExRegs, CallError::NotPermitted);
        }
        if destination.version() != task.version {
            return self.fail_call(caller, Call::LthreadExRegs, CallError::InvalidThread);
        }
        let first_thread = task
            .threads
            .get(&0)
            .and_then(|&slot| self.thread(slot))
            .map(|tcb| (tcb.pager, tcb.exception_handler));
        let target = match self
            .tasks
            .get(&destination.task())
            .and_then(|task| task.threads.get(&destination.thread()).copied())
        {
            Some(slot) => slot,
            None => {
                // A new thread: it needs both a stack and an instruction pointer.
                if arguments.stack_pointer.is_none() || arguments.instruction_pointer.is_none() {
                    return self.fail_call(caller, Call::LthreadExRegs, CallError::InvalidThread);
                }
                // Unless given, a new thread shares thread 0's pager and exception handler.
                let (pager, handler) = first_thread.unwrap_or((ThreadId::NIL, ThreadId::NIL));
                let pager = arguments.pager.unwrap_or(pager);
                let handler = arguments.exception_handler.unwrap_or(handler);
                match self.create_thread(
                    destination.task(),
                    destination.thread(),
                    pager,
                    handler,
                    caller_id,
                ) {
                    Ok(id) => match self.lookup(id) {
                        Some(slot) => slot,
                        None => {
                            return self.fail_call(
                                caller,
                                Call::LthreadExRegs,
                                CallError::OutOfMemory,
                            );
                        }
                    },
                    Err(CreateError::OutOfMemory) => {
                        return self.fail_call(caller, Call::LthreadExRegs, CallError::OutOfMemory);
                    }
                    Err(_) => {
                        return self.fail_call(
                            caller,
                            Call::LthreadExRegs,
                            CallError::InvalidThread,
                        );
                    }
                }
            }
        };
        let Some(tcb) = self.thread(target) else {
            return;
        };
        let utcb = tcb.utcb;
        let mut handle = [0u64; 1];
        let _ = self.read_user_words(
            target,
            utcb + abi::utcb::Utcb::OFFSET_USER_HANDLE as u64,
            &mut handle,
        );
        let Some(tcb) = self.thread(target) else {
            return;
        };
        let old = LthreadExRegsReturnValues {
            thread: tcb.id,
            status: self.status_of(target),
            stack_pointer: tcb.context.sp,
            instruction_pointer: tcb.context.pc,
            pager: tcb.pager,
            exception_handler: tcb.exception_handler,
            user_handle: handle[0],
        };
        let moves = arguments.stack_pointer.is_some() || arguments.instruction_pointer.is_some();
        self.cancel_ipc(
            target,
            arguments.cancel_send || moves,
            arguments.cancel_receive || moves,
        );
        if let Some(user_handle) = arguments.user_handle {
            let _ = self.write_user_words(
                target,
                utcb + abi::utcb::Utcb::OFFSET_USER_HANDLE as u64,
                &[user_handle],
            );
        }
        let was_inactive = self.thread(target).map(|tcb| tcb.state) == Some(ThreadState::Inactive);
        if let Some(tcb) = self.thread_mut(target) {
            if let Some(sp) = arguments.stack_pointer {
                tcb.context.sp = sp;
            }
            if let Some(pc) = arguments.instruction_pointer {
                tcb.context.pc = pc;
            }
            if let Some(pager) = arguments.pager {
                tcb.pager = pager;
            }
            if let Some(handler) = arguments.exception_handler {
                tcb.exception_handler = handler;
            }
        }
        self.write_utcb_mirrors(target);
        match arguments.run {
            RunControl::Halt => {
                // A halted thread is in no ipc: whatever it was blocked in is cancelled.
                self.cancel_ipc(target, true, true);
                if let Some(tcb) = self.thread_mut(target) {
                    tcb.state = ThreadState::Halted;
                }
                self.block(target);
            }
            RunControl::Resume => self.resume(target),
            RunControl::Unchanged if was_inactive && moves => self.resume(target),
            RunControl::Unchanged => {}
        }
        self.set_results(caller, old.encode());
    }

    /// A halted or inactive thread runs again (one blocked in ipc stays blocked).
    pub(super) fn resume(&mut self, thread: ThreadSlot) {
        if matches!(
            self.thread(thread).map(|tcb| tcb.state),
            Some(ThreadState::Halted | ThreadState::Inactive)
        ) {
            if let Some(tcb) = self.thread_mut(thread) {
                tcb.context.pstate = 0;
            }
            self.wake(thread);
        }
    }

    /// lthread_ex_regs on an interrupt ID: attach it to (or detach it from) a thread. Only
    /// tasks whose chief is the kernel (sigma0, the root task) may.
    fn attach_interrupt(
        &mut self,
        caller: ThreadSlot,
        caller_id: ThreadId,
        line: u16,
        arguments: LthreadExRegsArguments,
    ) {
        let privileged = self
            .tasks
            .get(&caller_id.task())
            .is_some_and(|task| task.chief == ThreadId::KERNEL_TASK);
        if !privileged {
            return self.fail_call(caller, Call::LthreadExRegs, CallError::NotPermitted);
        }
        let old_owner = self
            .interrupts
            .get(&line)
            .and_then(|entry| entry.owner)
            .and_then(|slot| self.thread(slot))
            .map_or(ThreadId::NIL, |tcb| tcb.id);
        if let Some(handler) = arguments.pager {
            let owner = if handler.is_nil() {
                None
            } else {
                match self.lookup(handler) {
                    Some(slot) => Some(slot),
                    None => {
                        return self.fail_call(
                            caller,
                            Call::LthreadExRegs,
                            CallError::InvalidThread,
                        );
                    }
                }
            };
            let entry = self.interrupts.entry(line).or_default();
            let previous = core::mem::replace(&mut entry.owner, owner);
            entry.pending = false;
            if let Some(tcb) = previous.and_then(|slot| self.thread_mut(slot)) {
                tcb.attached_interrupts = tcb.attached_interrupts.saturating_sub(1);
            }
            if let Some(tcb) = owner.and_then(|slot| self.thread_mut(slot)) {
                tcb.attached_interrupts = tcb.attached_interrupts.saturating_add(1);
            }
            // Masked until the handler's first receive from it.
            self.machine.set_interrupt_masked(line, true);
        }
        let results = LthreadExRegsReturnValues {
            thread: ThreadId::interrupt(line).unwrap_or(ThreadId::NIL),
            status: ThreadStatus::RUNNING,
            stack_pointer: 0,
            instruction_pointer: 0,
            pager: old_owner,
            exception_handler: ThreadId::NIL,
            user_handle: 0,
        };
        self.set_results(caller, results.encode());
    }

    /// The trampoline's way back: load the registers saved at the reflection.
    fn resume_reflected_trap(&mut self, caller: ThreadSlot) {
        let utcb = self.thread(caller).map_or(0, |tcb| tcb.utcb);
        let mut frame = [0u64; UserRegisters::WORDS];
        if self
            .read_user_words(
                caller,
                utcb + abi::utcb::Utcb::OFFSET_REFLECTED_TRAP as u64,
                &mut frame,
            )
            .is_err()
        {
            return self.fail_call(caller, Call::LthreadExRegs, CallError::InvalidArgument);
        }
        if let Some(tcb) = self.thread_mut(caller) {
            tcb.context.x.copy_from_slice(&frame[..31]);
            tcb.context.sp = frame[UserRegisters::SP_WORD];
            tcb.context.pc = frame[UserRegisters::PC_WORD];
            tcb.context.pstate = frame[UserRegisters::PSTATE_WORD] & 0xF000_0000;
        }
    }

    fn task_new(&mut self, caller: ThreadSlot, arguments: TaskNewArguments) {
        let Some(caller_task) = self.thread(caller).map(|tcb| tcb.id.task()) else {
            return;
        };
        match arguments {
            TaskNewArguments::Create(creation) => {
                let task = creation.first_thread.task();
                if self.tasks.contains_key(&task) {
                    return self.fail_call(caller, Call::TaskNew, CallError::TaskActive);
                }
                let owner = self.owner_of_inactive(task);
                if owner.is_some_and(|owner| owner != caller_task) {
                    return self.fail_call(caller, Call::TaskNew, CallError::NotChief);
                }
                let maximum = self
                    .tasks
                    .get(&caller_task)
                    .map_or(0, |task| task.maximum_priority);
                if creation.maximum_controlled_priority > maximum {
                    return self.fail_call(caller, Call::TaskNew, CallError::NotPermitted);
                }
                let caller_id = self.thread(caller).map_or(ThreadId::NIL, |tcb| tcb.id);
                let created = self
                    .create_task(
                        task,
                        caller_task,
                        creation.utcb_area.base(),
                        creation.utcb_area.size(),
                    )
                    .and_then(|()| {
                        if let Some(new) = self.tasks.get_mut(&task) {
                            new.maximum_priority = creation.maximum_controlled_priority;
                        }
                        self.create_thread(
                            task,
                            0,
                            creation.pager,
                            creation.exception_handler,
                            caller_id,
                        )
                    })
                    .and_then(|id| {
                        let kip = creation.kernel_interface_page;
                        if !kip.is_nil() {
                            self.give_kernel_interface_page(task, kip.base())?;
                        }
                        Ok(id)
                    });
                let id = match created {
                    Ok(id) => id,
                    Err(error) => {
                        if error != CreateError::Exists {
                            self.remove_task(task);
                        }
                        let code = if error == CreateError::OutOfMemory {
                            CallError::OutOfMemory
                        } else {
                            CallError::InvalidArgument
                        };
                        return self.fail_call(caller, Call::TaskNew, code);
                    }
                };
                self.inactive_owners.remove(&task);
                if let Some(slot) = self.lookup(id) {
                    self.start_thread(slot, creation.instruction_pointer, creation.stack_pointer);
                    // x0: where the kernel interface page is (0: none).
                    let kip = creation.kernel_interface_page;
                    if let Some(thread) = self.thread_mut(slot) {
                        thread.context.x[0] = if kip.is_nil() { 0 } else { kip.base() };
                    }
                }
                self.set_results(caller, TaskNewReturnValues { first_thread: id }.encode());
            }
            TaskNewArguments::Delete(deletion) => {
                let task = deletion.task.task();
                let new_owner = if deletion.new_owner.is_nil() {
                    caller_task
                } else if self.lookup(deletion.new_owner).is_some() {
                    deletion.new_owner.task()
                } else {
                    return self.fail_call(caller, Call::TaskNew, CallError::InvalidThread);
                };
                match self.tasks.get(&task) {
                    Some(existing) => {
                        if existing.chief != caller_task {
                            return self.fail_call(caller, Call::TaskNew, CallError::NotChief);
                        }
                        if self.lookup(deletion.task).is_none() {
                            return self.fail_call(caller, Call::TaskNew, CallError::InvalidThread);
                        }
                        self.delete_task(task);
                    }
                    None => {
                        let owner = self.owner_of_inactive(task).unwrap_or(caller_task);
                        if owner != caller_task {
                            return self.fail_call(caller, Call::TaskNew, CallError::NotChief);
                        }
                    }
                }
                self.inactive_owners.insert(task, new_owner);
                self.set_results(
                    caller,
                    TaskNewReturnValues {
                        first_thread: deletion.task,
                    }
                    .encode(),
                );
            }
        }
    }

    /// Delete a task and everything it holds: its threads (partners blocked on them get
    /// errors), its mappings and everything derived from them, its interrupts, its space.
    pub fn delete_task(&mut self, task: u16) {
        // The tasks it is chief of go first, and theirs before them: a clan never outlives its chief.
        let members: Vec<u16> = self
            .tasks
            .iter()
            .filter(|(_, member)| member.chief == task)
            .map(|(&number, _)| number)
            .collect();
        for member in members {
            if member != task {
                self.delete_task(member);
            }
        }
        let slots: Vec<ThreadSlot> = self
            .tasks
            .get(&task)
            .map(|task| task.threads.values().copied().collect())
            .unwrap_or_default();
        for slot in slots {
            self.delete_thread(slot);
        }
        let mut tables = SpaceTables {
            machine: &mut self.machine,
            tasks: &mut self.tasks,
        };
        self.mapdb.remove_space(&mut tables, space_id(task));
        self.remove_task(task);
    }

    fn remove_task(&mut self, task: u16) {
        if let Some(removed) = self.tasks.remove(&task) {
            self.machine.destroy_space(removed.space);
        }
    }

    fn delete_thread(&mut self, slot: ThreadSlot) {
        let Some(thread) = self.thread(slot) else {
            return;
        };
        let id = thread.id;
        let queued: Vec<ThreadSlot> = thread.send_queue.iter().copied().collect();
        if let ThreadState::Sending { to } = thread.state {
            self.dequeue_sender(to, slot);
        }
        // Senders waiting for it: their send fails.
        for sender in queued {
            self.abort_ipc(sender, CallError::SendNonexistentPartner);
        }
        // Receivers in a closed wait for it: their receive fails.
        let waiting: Vec<ThreadSlot> = self
            .threads
            .iter()
            .filter_map(|(waiting, tcb)| {
                (tcb.state
                    == ThreadState::Receiving {
                        from: ReceiveFrom::Thread(slot),
                    })
                .then_some(waiting)
            })
            .collect();
        for receiver in waiting {
            self.abort_ipc(receiver, CallError::ReceiveNonexistentPartner);
        }
        for entry in self.interrupts.values_mut() {
            if entry.owner == Some(slot) {
                entry.owner = None;
                entry.pending = false;
            }
        }
        self.cancel_timeout(slot);
        self.scheduler.remove(slot);
        // Its FP registers die with it; a thread that reuses the slot must not find them.
        if self.fp_owner == Some(slot) {
            self.set_fp_owner(None);
        }
        if self.current() == Some(slot) {
            self.set_current(None);
        }
        if let Some(task) = self.tasks.get_mut(&id.task()) {
            task.threads.remove(&id.thread());
        }
        if let Some(address) = self.threads.pointer(slot) {
            self.fast_ids.remove(id, address);
        }
        self.threads.remove(slot);
    }

    fn fpage_unmap(&mut self, caller: ThreadSlot, arguments: FpageUnmapArguments) {
        let Some(task) = self.thread(caller).map(|tcb| tcb.id.task()) else {
            return;
        };
        let fpage = arguments.fpage;
        let (first, count) = if fpage.is_complete() {
            (0, 1u64 << (48 - 12))
        } else {
            (fpage.base() >> 12, fpage.size() >> 12)
        };
        let rights = Rights::from_bits_truncate(fpage.rights().bits());
        let scope = match arguments.scope {
            UnmapScope::Recipients => MapdbScope::Descendants,
            UnmapScope::RecipientsAndCaller => MapdbScope::OwnAndDescendants,
        };
        let mut tables = SpaceTables {
            machine: &mut self.machine,
            tasks: &mut self.tasks,
        };
        // The database walks only the pages the space has, however large the region.
        self.mapdb.unmap(
            &mut tables,
            Region::new(space_id(task), Page(first), count),
            rights,
            scope,
        );
        // No access tracking (no hardware dirty bits): the status is conservative, all set.
        let status = if fpage.is_nil() {
            fpage
        } else {
            fpage.with_rights(abi::message::Rights::ALL)
        };
        self.set_results(caller, FpageUnmapReturnValues { status }.encode());
    }

    fn kernel_debug_write(&mut self, caller: ThreadSlot, arguments: KernelDebugWriteArguments) {
        let utcb = self.thread(caller).map_or(0, |tcb| tcb.utcb)
            + abi::utcb::Utcb::OFFSET_MESSAGE_REGISTERS as u64;
        let mut bytes = [0u8; abi::call::kernel_debug_write::MAX_DEBUG_WRITE_LENGTH];
        let Some(text) = bytes.get_mut(..arguments.length) else {
            return self.fail_call(caller, Call::KernelDebugWrite, CallError::InvalidArgument);
        };
        let Some(task) = self.thread(caller).map(|tcb| tcb.id.task()) else {
            return;
        };
        let Some(space) = self.tasks.get_mut(&task).map(|task| &mut task.space) else {
            return;
        };
        if self.machine.read_user(space, utcb, text).is_err() {
            return self.fail_call(caller, Call::KernelDebugWrite, CallError::InvalidArgument);
        }
        let id = self.thread(caller).map_or(ThreadId::NIL, |tcb| tcb.id);
        self.machine.debug_write(id, text);
        self.set_results(caller, [0; 10]);
    }
}
