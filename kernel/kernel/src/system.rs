//! The running system: `kcore`'s kernel driven by the hardware.
//!
//! Every entry from EL0 saves the user registers straight into the running thread's context
//! (vectors.s). An ipc may then be finished by the fastpath ([`ipc_fastpath`], kcore's
//! guards in front of the general path); everything else lands in [`from_user`]: the event
//! (kernel call, page fault, exception, interrupt) goes to the kernel core, and [`resume`]
//! restores whichever thread the core chose, or idles. Interrupt handlers at
//! EL1 never touch the kernel core (its lock may be held): the timer counts ticks, and lines
//! attached to user drivers are masked and marked pending; [`resume`] feeds both into the
//! core before deciding who runs. One kernel stack, events run to completion
//! (docs/design/kernel-core.md).

use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

use aarch64::exception::{ExceptionClass, FaultStatus, Syndrome};
use alloc::boxed::Box;
use kcore::kernel::{Access, FpRegisters, Kernel, Notice, UserContext};
use spin::mutex::SpinMutex;

use crate::machine::HardwareMachine;
use crate::{arch, interrupts, timer};

static SYSTEM: SpinMutex<Option<Kernel<HardwareMachine>>> = SpinMutex::new(None);
/// The kernel inside [`SYSTEM`], for the IPC fastpath, which runs without the lock: set once
/// by [`start`] (the kernel never leaves `SYSTEM` and a static does not move), null before.
pub(crate) static FASTPATH_KERNEL: AtomicPtr<Kernel<HardwareMachine>> =
    AtomicPtr::new(core::ptr::null_mut());
static RUNNING: AtomicBool = AtomicBool::new(false);
/// Ticks already handed to the kernel core.
static TICKS_FED: AtomicU64 = AtomicU64::new(0);
/// Interrupt lines (INTID < 1024) that fired for user drivers and are not yet fed.
static PENDING_LINES: [AtomicU64; 16] = [const { AtomicU64::new(0) }; 16];
/// Whether any bit of [`PENDING_LINES`] may be set: spares the common entry the scan.
static ANY_LINE_PENDING: AtomicBool = AtomicBool::new(false);
/// Test images: check the kernel core's invariants after every event the general path
/// handles ([`audit_invariants`]).
static AUDIT: AtomicBool = AtomicBool::new(false);

/// Test images: from now on, check the kernel core's invariants (`Kernel::check_invariants`)
/// at every entry to the general path, and end the run with `KTEST FAIL` when one is broken.
/// The asm fastpath runs unchecked, but what it changed is checked at the next such entry
/// (every timer tick is one), so a state it got wrong cannot go unnoticed for long.
#[cfg_attr(
    not(feature = "ktest"),
    allow(dead_code, reason = "only the test scenarios audit")
)]
pub fn audit_invariants() {
    AUDIT.store(true, Ordering::Relaxed);
}

/// The check [`audit_invariants`] turns on; `when` says where in the event it ran. Inline,
/// so that it costs a load and a branch when off (the benchmarks run the test image).
#[inline(always)]
fn audit(kernel: &Kernel<HardwareMachine>, when: &str) {
    if cfg!(feature = "ktest") && AUDIT.load(Ordering::Relaxed) {
        check_invariants(kernel, when);
    }
}

#[cold]
#[inline(never)]
fn check_invariants(kernel: &Kernel<HardwareMachine>, when: &str) {
    if let Err(broken) = kernel.check_invariants() {
        kprintln!("KTEST FAIL kernel-core: {when}: {broken}");
        crate::psci::system_off();
    }
}

/// Whether EL0 exceptions belong to the kernel core (rather than the test scaffolding).
pub fn is_running() -> bool {
    RUNNING.load(Ordering::Acquire)
}

/// Hand the CPU to the kernel core for good.
pub fn start(kernel: Kernel<HardwareMachine>) -> ! {
    TICKS_FED.store(timer::ticks(), Ordering::Relaxed);
    interrupts::forward_unclaimed_to(user_line_fired);
    {
        let mut system = SYSTEM.lock();
        let kernel = system.insert(kernel);
        FASTPATH_KERNEL.store(kernel, Ordering::Release);
    }
    RUNNING.store(true, Ordering::Release);
    resume()
}

/// The kernel core masks or unmasks a user driver's line.
pub fn set_line_masked(line: u16, masked: bool) {
    interrupts::set_line_masked(u32::from(line), masked);
}

/// An interrupt no kernel handler claims: mask it and leave it for the kernel core.
fn user_line_fired(intid: u32) {
    interrupts::set_line_masked(intid, true);
    if let Some(word) = PENDING_LINES.get((intid / 64) as usize) {
        word.fetch_or(1 << (intid % 64), Ordering::AcqRel);
        ANY_LINE_PENDING.store(true, Ordering::Release);
    }
}

/// An exception from EL0 while the kernel core runs: `synchronous` (with its ESR_EL1 and
/// FAR_EL1) or an IRQ. The running thread's registers are already in its context: vectors.s
/// saved them there.
pub fn from_user(synchronous: bool, esr: u64, far: u64) -> ! {
    if !synchronous {
        interrupts::dispatch();
    }
    if synchronous && let Some(kernel) = SYSTEM.lock().as_mut() {
        audit(kernel, "on entry");
        synchronous_event(kernel, esr, far);
        audit(kernel, "after the event");
    }
    resume()
}

/// vectors.s, for `svc #1` (ipc) from EL0 with the caller's registers saved in its context:
/// the IPC fastpath (kcore's `ipc_fastpath`). Returns the context of the thread to resume,
/// its address space and UTCB already loaded, or null when the general path must run. The
/// receiver's x0..x7 are the message, which vectors.s takes from the sender's context.
#[unsafe(no_mangle)]
extern "C" fn ipc_fastpath() -> *const UserContext {
    // No lock is taken: every holder of the lock runs to completion with IRQs masked before
    // anything returns to EL0, so on entry from EL0 it is free.
    debug_assert!(
        !SYSTEM.is_locked(),
        "the kernel lock is held on entry from EL0"
    );
    let kernel = FASTPATH_KERNEL.load(Ordering::Relaxed);
    if kernel.is_null() {
        return core::ptr::null();
    }
    // SAFETY: `kernel` is the kernel in SYSTEM (set by `start`, never moved or dropped). The
    // lock is free and cannot be taken while this runs (one CPU, IRQs masked since the
    // exception, and nothing here takes it), so this is the only reference to the kernel
    // until the function returns.
    let kernel = unsafe { &mut *kernel };
    match kernel.ipc_fastpath() {
        Some(switch) => {
            arch::user::switch_user_thread(switch.space, switch.utcb);
            arch::user::set_fp_access(switch.owns_fp_unit);
            // vectors.s loads the receiver's x0..x7 from the sender's context, which it still
            // holds in x19: `switch.message` is that context.
            switch.context
        }
        None => core::ptr::null(),
    }
}

/// Sort a synchronous exception from EL0 into the kernel core's events.
fn synchronous_event(kernel: &mut Kernel<HardwareMachine>, esr: u64, far: u64) {
    let syndrome = Syndrome::new(esr);
    // Only translation, permission and access-flag aborts are page faults a pager can fix.
    let pager_can_fix = |syndrome: Syndrome| {
        matches!(
            syndrome.fault_status(),
            Some(
                FaultStatus::Translation { .. }
                    | FaultStatus::Permission { .. }
                    | FaultStatus::AccessFlag { .. }
            )
        )
    };
    let (pc, first_argument) = kernel
        .current()
        .and_then(|current| kernel.thread(current))
        .map_or((0, 0), |thread| (thread.context.pc, thread.context.x[0]));
    match syndrome.class() {
        ExceptionClass::TrappedFloatingPointAccess => take_fp_unit(kernel),
        ExceptionClass::Svc64 => {
            let immediate = syndrome.immediate().unwrap_or(0);
            if cfg!(feature = "ktest") && immediate == TEST_RAISE_INTERRUPT {
                raise_for_test(kernel, first_argument);
            } else {
                kernel.kernel_call(immediate, esr, far);
            }
        }
        ExceptionClass::DataAbortLowerEL if pager_can_fix(syndrome) => {
            let access = if syndrome.is_write() {
                Access::Write
            } else {
                Access::Read
            };
            kernel.page_fault(far, access, pc);
        }
        ExceptionClass::InstructionAbortLowerEL if pager_can_fix(syndrome) => {
            kernel.page_fault(far, Access::Execute, pc)
        }
        _ => kernel.exception(esr, far),
    }
}

/// The running thread used FP/SIMD while another thread's registers were in the unit (lazy
/// switching): save those into their owner, load the running thread's (zero for a thread
/// that never used the unit), and let it retry the instruction with the unit enabled
/// ([`resume`] enables it for the owner only).
fn take_fp_unit(kernel: &mut Kernel<HardwareMachine>) {
    let Some(current) = kernel.current() else {
        return;
    };
    if kernel.fp_owner() == Some(current) {
        return;
    }
    if let Some(owner) = kernel.fp_owner()
        && let Some(thread) = kernel.thread_mut(owner)
    {
        let area = thread.fp.get_or_insert_with(|| Box::new(FpRegisters::ZERO));
        arch::user::save_fp_registers(area);
    }
    let saved = kernel
        .thread(current)
        .and_then(|thread| thread.fp.as_deref());
    arch::user::load_fp_registers(saved.unwrap_or(&FpRegisters::ZERO));
    kernel.set_fp_owner(Some(current));
}

/// Test image only: `svc #0xFFF0` with x0 = an SPI's INTID makes that interrupt pending, a
/// deterministic interrupt source for the interrupt-IPC test. Not part of the ABI (a normal
/// kernel answers it like any unknown debug call, with NoSuchCall).
const TEST_RAISE_INTERRUPT: u16 = 0xFFF0;

fn raise_for_test(kernel: &mut Kernel<HardwareMachine>, intid: u64) {
    let result = match u32::try_from(intid) {
        Ok(intid @ 32..=1019) => {
            interrupts::raise(intid);
            0
        }
        _ => abi::CallError::InvalidArgument.code(),
    };
    if let Some(thread) = kernel
        .current()
        .and_then(|current| kernel.thread_mut(current))
    {
        thread.context.x[abi::call::ERROR_REGISTER] = result;
    }
}

/// Feed ticks and user interrupts into the core, log its notices.
fn feed_events(kernel: &mut Kernel<HardwareMachine>) {
    let now = timer::ticks();
    while TICKS_FED.load(Ordering::Relaxed) < now {
        TICKS_FED.fetch_add(1, Ordering::Relaxed);
        kernel.timer_tick();
    }
    let lines_pending = ANY_LINE_PENDING.swap(false, Ordering::AcqRel);
    for (index, word) in PENDING_LINES.iter().enumerate().filter(|_| lines_pending) {
        let mut lines = word.swap(0, Ordering::AcqRel);
        while lines != 0 {
            let bit = lines.trailing_zeros();
            lines &= lines - 1;
            kernel.interrupt((index as u32 * 64 + bit) as u16);
        }
    }
    while let Some(notice) = kernel.take_notice() {
        report(notice);
    }
}

/// Run the current thread, or idle until an interrupt gives one something to do.
pub fn resume() -> ! {
    loop {
        let entry = arch::with_interrupts_masked(|| {
            let mut guard = SYSTEM.lock();
            let kernel = guard.as_mut()?;
            feed_events(kernel);
            audit(kernel, "after ticks and interrupts");
            let current = kernel.current()?;
            kernel.space_mut(current)?.user_space().activate();
            arch::user::set_fp_access(kernel.fp_owner() == Some(current));
            let thread = kernel.thread(current)?;
            arch::user::load_utcb_register(thread.utcb);
            Some(&thread.context as *const UserContext)
        });
        match entry {
            // SAFETY: the context belongs to the kernel core kept in SYSTEM, which only event
            // handlers change; none runs before the `eret` (this CPU is alone and masks IRQs),
            // so the pointer stays valid. The lock was released at the end of the closure; the
            // thread's space is active and its TPIDRRO_EL0/TPIDR_EL0 are loaded; nothing on
            // the kernel stack is needed again.
            Some(context) => unsafe { arch::user::resume_user_context(context) },
            None => idle_once(),
        }
    }
}

/// Nothing to run: wait for an interrupt. A test image with no thread left to run and no
/// way for one to wake ends the run.
fn idle_once() {
    if cfg!(feature = "ktest") {
        let finished = SYSTEM
            .lock()
            .as_ref()
            .is_some_and(|kernel| kernel.is_quiescent());
        if finished {
            kprintln!(
                "ktest: ASID generation {}",
                crate::user_space::asid_generation()
            );
            kprintln!("ktest: no thread can run any more");
            crate::psci::system_off();
        }
    }
    // WFI with IRQs masked still wakes on a pending interrupt, so none is lost between the
    // check above and the sleep; then it is taken (counted or marked pending) and masked again.
    arch::wait_for_interrupt();
    arch::enable_interrupts();
    arch::disable_interrupts();
}

/// Notices logged at warning level before the rest go to debug level, so that a task that
/// faults in a loop cannot flood the console.
const LOUD_NOTICES: u64 = 16;
static NOTICES: AtomicU64 = AtomicU64::new(0);

/// Log one notice of the kernel core: a line naming the thread and where, once per event.
fn report(notice: Notice) {
    let count = NOTICES.fetch_add(1, Ordering::Relaxed);
    let level = if count < LOUD_NOTICES {
        log::Level::Warn
    } else {
        log::Level::Debug
    };
    if count == LOUD_NOTICES {
        log::warn!("further faults and unclaimed interrupts are logged at debug level");
    }
    match notice {
        Notice::HaltedWithoutHandler { thread, pc } => {
            log::log!(
                level,
                "thread {thread} faulted at {pc:#x} with no pager or exception handler: halted"
            )
        }
        Notice::UnclaimedInterrupt { line } => {
            log::log!(
                level,
                "interrupt {line} fired with no handler attached; left masked"
            )
        }
    }
}
