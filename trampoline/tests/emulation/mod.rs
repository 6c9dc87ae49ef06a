//! The emulated machine the qemu-user tests run on: a fake UTCB at 0, the save area, the
//! trampoline's page copied to where clients have it, and a signal handler that plays the
//! kernel and a scripted server. Shared by `qemu_user.rs` (the trampoline) and
//! `client_library.rs` (the client library), which each use a part of it; see
//! `qemu_user.rs` for why it works and where it stops.

#![allow(dead_code)] // Each test program uses part of the machine.

use std::cell::UnsafeCell;
use std::sync::Mutex;

use abi::call::lthread_ex_regs::ExchangeControl;
use abi::utcb::Utcb;
use abi::{CallError, MessageTag, ThreadId};
use linux_abi::auxv::AT_NULL;
use protocol::Answer;
use protocol::layout::{SAVE_AREA, TRAMPOLINE_CODE};
use trampoline::PAGE_SIZE;

/// The server's thread ID, as the fake UTCB's pager.
pub const SERVER: u64 = ThreadId::from_raw(0x0004_0000_0001).raw();
/// The client's own thread ID, as the fake UTCB's `my_thread_id`.
pub const CLIENT: u64 = ThreadId::from_raw(0x03EA_0000_0001).raw();

/// The `brk` immediates that stand for `svc #0`, `svc #1` and `svc #5`.
pub const SVC_0: u16 = 0xE000;
pub const SVC_IPC: u16 = 0xE001;
pub const SVC_LTHREAD_EX_REGS: u16 = 0xE005;

/// What `harness_leave` returns, by how the run ended.
pub const LEFT_NORMALLY: u64 = 1;
pub const LEFT_BY_BRK: u64 = 0x1_0000;
pub const LEFT_BY_SIGNAL: u64 = 0x2_0000;
pub const LEFT_BY_UNREFLECTED_SVC: u64 = 0x3_0000;

/// A thread's state as the harness loads it before a run and records it after.
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct State {
    pub x: [u64; 31],
    pub sp: u64,
    pub nzcv: u64,
    pub fpsr: u64,
    pub fpcr: u64,
    pub tpidr: u64,
    pub q: [u128; 32],
}

impl State {
    pub const fn zeroed() -> State {
        State {
            x: [0; 31],
            sp: 0,
            nzcv: 0,
            fpsr: 0,
            fpcr: 0,
            tpidr: 0,
            q: [0; 32],
        }
    }

    /// Every register a distinct value: x0..x30 and Q0..Q31 recognisable, flags N and C set,
    /// FPSR's cumulative flags and FPCR's rounding mode non-zero.
    pub fn distinct(sp: u64) -> State {
        let mut state = State::zeroed();
        for (index, register) in state.x.iter_mut().enumerate() {
            *register = 0x5EED_0000_0000_0000 | ((index as u64) << 8) | 0xA5;
        }
        for (index, register) in state.q.iter_mut().enumerate() {
            *register = 0x0F0F_0000_0000_0000_0000_0000_0000_0000 | ((index as u128) << 64) | 0x77;
        }
        state.sp = sp;
        state.nzcv = 0xA000_0000;
        state.fpsr = 0x0000_0011;
        state.fpcr = 0x00C0_0000;
        state.tpidr = read_tpidr();
        state
    }
}

/// A cell the signal handler and the test share; every test holds [`SERIAL`] while it uses
/// one, and the handler runs on the test's own thread, so there is never more than one user.
pub struct Shared<T>(pub UnsafeCell<T>);

// SAFETY: access is serialised by SERIAL (see the type's documentation).
unsafe impl<T> Sync for Shared<T> {}

impl<T> Shared<T> {
    #[allow(clippy::mut_from_ref)] // The serialisation above makes the reference unique.
    pub fn get(&self) -> &mut T {
        // SAFETY: one user at a time (see the type's documentation).
        unsafe { &mut *self.0.get() }
    }
}

/// The state the harness loads (`harness_run`, `harness_system_call`).
#[unsafe(no_mangle)]
pub static HARNESS_INPUT: Shared<State> = Shared(UnsafeCell::new(State::zeroed()));
/// The state the harness recorded (after the stand-in `svc #0`, or at a landing).
#[unsafe(no_mangle)]
pub static HARNESS_OBSERVED: Shared<State> = Shared(UnsafeCell::new(State::zeroed()));
/// x19..x30, SP, TPIDR_EL0 and D8..D15 of the Rust code that started a run.
#[unsafe(no_mangle)]
pub static HARNESS_CONTEXT: Shared<[u64; 22]> = Shared(UnsafeCell::new([0; 22]));

/// One reply of the scripted server (or of the kernel, for an ipc that fails).
#[derive(Clone, Copy, Debug)]
pub enum Reply {
    /// The ipc succeeds with this tag and MR1.
    Message(u64, u64),
    /// The ipc fails with this error code.
    Failure(CallError),
}

impl Reply {
    pub fn answer(answer: Answer) -> Reply {
        let (tag, word) = answer.encode().unwrap();
        Reply::Message(tag.raw(), word)
    }
}

/// What the emulated kernel saw and what it is to do.
pub struct Kernel {
    pub replies: [Option<Reply>; 4],
    pub next_reply: usize,
    /// x0..x10 of each ipc.
    pub ipc_calls: Vec<[u64; 11]>,
    /// x0, x1 of each lthread_ex_regs.
    pub exchange_calls: Vec<[u64; 2]>,
    /// Refuse lthread_ex_regs with this error instead of performing it.
    pub refuse_exchange: Option<CallError>,
    /// The registers at each reflected "svc #0".
    pub reflections: Vec<[u64; 34]>,
    /// The PC and immediate of a brk that ended a run, or the PC and fault address of a
    /// signal that did.
    pub stop: Option<(u64, u64)>,
    /// One past the top of the stack a run uses, or 0: at each ipc the kernel then keeps a
    /// copy of the stack from SP up, as a fork's copy of the address space would.
    pub stack_top: u64,
    /// The stack from SP to `stack_top` at the last ipc, and that SP.
    pub snapshot: (u64, Vec<u64>),
}

pub static KERNEL: Shared<Kernel> = Shared(UnsafeCell::new(Kernel {
    replies: [None; 4],
    next_reply: 0,
    ipc_calls: Vec::new(),
    exchange_calls: Vec::new(),
    refuse_exchange: None,
    reflections: Vec::new(),
    stop: None,
    stack_top: 0,
    snapshot: (0, Vec::new()),
}));

pub static SERIAL: Mutex<()> = Mutex::new(());

pub fn read_tpidr() -> u64 {
    let value: u64;
    // SAFETY: reading TPIDR_EL0 has no side effects.
    unsafe { core::arch::asm!("mrs {value}, tpidr_el0", value = out(reg) value) };
    value
}

core::arch::global_asm!(
    r#"
    .arch_extension fp
    .arch_extension simd

    .macro harness_address register, symbol
    adrp \register, \symbol
    add \register, \register, :lo12:\symbol
    .endm

    // x19..x30, SP, TPIDR_EL0, D8..D15 into HARNESS_CONTEXT (clobbers x9, x10).
    .macro harness_save_context
    harness_address x9, {context}
    stp x19, x20, [x9, #0]
    stp x21, x22, [x9, #16]
    stp x23, x24, [x9, #32]
    stp x25, x26, [x9, #48]
    stp x27, x28, [x9, #64]
    stp x29, x30, [x9, #80]
    mov x10, sp
    str x10, [x9, #96]
    mrs x10, tpidr_el0
    str x10, [x9, #104]
    stp d8, d9, [x9, #112]
    stp d10, d11, [x9, #128]
    stp d12, d13, [x9, #144]
    stp d14, d15, [x9, #160]
    .endm

    // Every register from HARNESS_INPUT but x17 (which is left free).
    .macro harness_load_input
    harness_address x17, {input}
    ldr x9, [x17, #280]
    msr tpidr_el0, x9
    ldr x9, [x17, #256]
    msr nzcv, x9
    ldr x9, [x17, #264]
    msr fpsr, x9
    ldr x9, [x17, #272]
    msr fpcr, x9
    add x9, x17, #288
    ldp q0, q1, [x9, #0]
    ldp q2, q3, [x9, #32]
    ldp q4, q5, [x9, #64]
    ldp q6, q7, [x9, #96]
    ldp q8, q9, [x9, #128]
    ldp q10, q11, [x9, #160]
    ldp q12, q13, [x9, #192]
    ldp q14, q15, [x9, #224]
    ldp q16, q17, [x9, #256]
    ldp q18, q19, [x9, #288]
    ldp q20, q21, [x9, #320]
    ldp q22, q23, [x9, #352]
    ldp q24, q25, [x9, #384]
    ldp q26, q27, [x9, #416]
    ldp q28, q29, [x9, #448]
    ldp q30, q31, [x9, #480]
    ldr x9, [x17, #248]
    mov sp, x9
    ldp x0, x1, [x17, #0]
    ldp x2, x3, [x17, #16]
    ldp x4, x5, [x17, #32]
    ldp x6, x7, [x17, #48]
    ldp x8, x9, [x17, #64]
    ldp x10, x11, [x17, #80]
    ldp x12, x13, [x17, #96]
    ldp x14, x15, [x17, #112]
    ldr x16, [x17, #128]
    ldp x18, x19, [x17, #144]
    ldp x20, x21, [x17, #160]
    ldp x22, x23, [x17, #176]
    ldp x24, x25, [x17, #192]
    ldp x26, x27, [x17, #208]
    ldp x28, x29, [x17, #224]
    ldr x30, [x17, #240]
    .endm

    // Every register into HARNESS_OBSERVED; x0 goes through the 16 bytes below SP.
    .macro harness_record
    str x0, [sp, #-16]
    harness_address x0, {observed}
    str x1, [x0, #8]
    stp x2, x3, [x0, #16]
    stp x4, x5, [x0, #32]
    stp x6, x7, [x0, #48]
    stp x8, x9, [x0, #64]
    stp x10, x11, [x0, #80]
    stp x12, x13, [x0, #96]
    stp x14, x15, [x0, #112]
    stp x16, x17, [x0, #128]
    stp x18, x19, [x0, #144]
    stp x20, x21, [x0, #160]
    stp x22, x23, [x0, #176]
    stp x24, x25, [x0, #192]
    stp x26, x27, [x0, #208]
    stp x28, x29, [x0, #224]
    str x30, [x0, #240]
    ldr x1, [sp, #-16]
    str x1, [x0, #0]
    mov x1, sp
    str x1, [x0, #248]
    mrs x1, nzcv
    str x1, [x0, #256]
    mrs x1, fpsr
    str x1, [x0, #264]
    mrs x1, fpcr
    str x1, [x0, #272]
    mrs x1, tpidr_el0
    str x1, [x0, #280]
    add x1, x0, #288
    stp q0, q1, [x1, #0]
    stp q2, q3, [x1, #32]
    stp q4, q5, [x1, #64]
    stp q6, q7, [x1, #96]
    stp q8, q9, [x1, #128]
    stp q10, q11, [x1, #160]
    stp q12, q13, [x1, #192]
    stp q14, q15, [x1, #224]
    stp q16, q17, [x1, #256]
    stp q18, q19, [x1, #288]
    stp q20, q21, [x1, #320]
    stp q22, q23, [x1, #352]
    stp q24, q25, [x1, #384]
    stp q26, q27, [x1, #416]
    stp q28, q29, [x1, #448]
    stp q30, q31, [x1, #480]
    .endm

    .text
    .balign 4

    // u64 harness_run(void): load HARNESS_INPUT but x17 and branch to HARNESS_TARGET with
    // x17. Returns what the run passes to harness_leave.
    .global harness_run
harness_run:
    harness_save_context
    harness_load_input
    harness_address x17, {target}
    ldr x17, [x17]
    br x17

    // u64 harness_system_call(void): load HARNESS_INPUT, execute the stand-in for svc #0,
    // record every register into HARNESS_OBSERVED and return LEFT_NORMALLY.
    .global harness_system_call
harness_system_call:
    harness_save_context
    harness_load_input
    ldr x17, [x17, #136]
    brk #{svc_0}
    .global harness_after_system_call
harness_after_system_call:
    harness_record
    mov x0, #{left_normally}
    b harness_leave

    // Where start's tests set AT_ENTRY: record every register, then leave.
    .global harness_landing
harness_landing:
    harness_record
    mov x0, #{left_normally}
    b harness_leave

    // Back to the Rust code that started the run, returning x0.
    .global harness_leave
harness_leave:
    harness_address x9, {context}
    ldp x19, x20, [x9, #0]
    ldp x21, x22, [x9, #16]
    ldp x23, x24, [x9, #32]
    ldp x25, x26, [x9, #48]
    ldp x27, x28, [x9, #64]
    ldp x29, x30, [x9, #80]
    ldr x10, [x9, #96]
    mov sp, x10
    ldr x10, [x9, #104]
    msr tpidr_el0, x10
    ldp d8, d9, [x9, #112]
    ldp d10, d11, [x9, #128]
    ldp d12, d13, [x9, #144]
    ldp d14, d15, [x9, #160]
    ret

    .purgem harness_address
    .purgem harness_save_context
    .purgem harness_load_input
    .purgem harness_record
    "#,
    context = sym HARNESS_CONTEXT,
    input = sym HARNESS_INPUT,
    observed = sym HARNESS_OBSERVED,
    target = sym HARNESS_TARGET,
    svc_0 = const SVC_0,
    left_normally = const LEFT_NORMALLY,
);

/// Where `harness_run` branches (read after every register is loaded).
#[unsafe(no_mangle)]
pub static HARNESS_TARGET: Shared<u64> = Shared(UnsafeCell::new(0));

unsafe extern "C" {
    pub fn harness_run() -> u64;
    pub fn harness_system_call() -> u64;
    pub fn harness_after_system_call();
    pub fn harness_landing();
    /// Back to the Rust code that started the run, which returns `value`.
    pub fn harness_leave(value: u64) -> !;
}

/// The brk immediate at `pc`, if the instruction there is a `brk`.
pub fn brk_immediate(pc: u64) -> Option<u16> {
    // SAFETY: `pc` is where the CPU just took a SIGTRAP for a `brk`, so it is a mapped,
    // readable instruction (the harness's text or the trampoline's copy).
    let instruction = unsafe { std::ptr::with_exposed_provenance::<u32>(pc as usize).read() };
    (instruction & 0xFFE0_001F == 0xD420_0000).then_some((instruction >> 5) as u16)
}

/// Whether `address` is a word of the fake UTCB (not its first, whose address is null) or
/// of the save area: the two pages [`machine`] maps for the whole run of the tests.
pub fn in_fixed_pages(address: u64, bytes: u64) -> bool {
    let utcb = 8..Utcb::SIZE as u64;
    let save = SAVE_AREA..SAVE_AREA + PAGE_SIZE as u64;
    let end = address + bytes - 1;
    (utcb.contains(&address) && utcb.contains(&end))
        || (save.contains(&address) && save.contains(&end))
}

/// The word at `address` of the fake UTCB or the save area.
pub fn peek(address: u64) -> u64 {
    assert!(
        in_fixed_pages(address, 8) && address.is_multiple_of(8),
        "{address:#x}"
    );
    // SAFETY: checked above: a word of a page machine() mapped and never unmaps; the tests
    // run one at a time (SERIAL), so nothing writes it meanwhile but the code under test on
    // this very thread.
    unsafe { std::ptr::with_exposed_provenance::<u64>(address as usize).read_volatile() }
}

/// Writes the word at `address` of the fake UTCB or the save area.
pub fn poke(address: u64, value: u64) {
    assert!(
        in_fixed_pages(address, 8) && address.is_multiple_of(8),
        "{address:#x}"
    );
    // SAFETY: as for peek.
    unsafe { std::ptr::with_exposed_provenance_mut::<u64>(address as usize).write_volatile(value) }
}

/// The 16 bytes at `address` of the save area, as one Q register.
pub fn peek_quadword(address: u64) -> u128 {
    u128::from(peek(address)) | (u128::from(peek(address + 8)) << 64)
}

/// The UTCB word at `offset` (the UTCB is at 0 under qemu-user).
pub fn utcb_word(offset: usize) -> u64 {
    peek(offset as u64)
}

pub fn set_utcb_word(offset: usize, value: u64) {
    poke(offset as u64, value)
}

pub fn reflected_trap() -> [u64; 34] {
    std::array::from_fn(|index| utcb_word(Utcb::OFFSET_REFLECTED_TRAP + 8 * index))
}

pub fn set_reflected_trap(frame: [u64; 34]) {
    for (index, word) in frame.into_iter().enumerate() {
        set_utcb_word(Utcb::OFFSET_REFLECTED_TRAP + 8 * index, word);
    }
}

pub fn save_area_word(offset: u64) -> u64 {
    peek(SAVE_AREA + offset)
}

pub fn set_save_area_word(offset: u64, value: u64) {
    poke(SAVE_AREA + offset, value)
}

/// Runs HARNESS_INPUT from HARNESS_TARGET until something leaves the run.
pub fn run() -> u64 {
    // SAFETY: harness_run saves the Rust caller's callee-saved registers, SP and TPIDR_EL0,
    // and every way out of a run (harness_leave, directly or through the signal handler)
    // restores them before it returns: to Rust it is an ordinary extern "C" call. The code it
    // runs touches only the fixed pages, the test's stacks and HARNESS_OBSERVED.
    unsafe { harness_run() }
}

/// Executes the stand-in `svc #0` with HARNESS_INPUT's registers; returns as [`run`] does.
pub fn run_system_call() -> u64 {
    // SAFETY: as for run.
    unsafe { harness_system_call() }
}

/// Leaves the run at `harness_leave` with `value` in x0.
pub fn leave(context: &mut libc::mcontext_t, value: u64) {
    context.regs[0] = value;
    context.pc = harness_leave as *const () as u64;
}

/// The emulated kernel: SIGTRAP for the stand-in `svc`s and the trampoline's own `brk`s,
/// SIGSEGV, SIGBUS and SIGILL for faults.
extern "C" fn on_signal(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // SAFETY: the kernel (here qemu) passes an SA_SIGINFO handler the interrupted context,
    // which the handler may change to change how the thread continues.
    let context = unsafe { &mut (*context.cast::<libc::ucontext_t>()).uc_mcontext };
    let kernel = KERNEL.get();
    let pc = context.pc;
    if signal != libc::SIGTRAP {
        // SAFETY: `info` is the siginfo of this fault, valid during the handler.
        let address = unsafe { (*info).si_addr() } as u64;
        kernel.stop = Some((pc, address));
        return leave(context, LEFT_BY_SIGNAL | signal as u64);
    }
    match brk_immediate(pc) {
        Some(SVC_0) => {
            let entry = utcb_word(Utcb::OFFSET_TRAMPOLINE_ENTRY);
            let mut frame = [0; 34];
            frame[..31].copy_from_slice(&context.regs);
            frame[31] = context.sp;
            frame[32] = pc + 4;
            frame[33] = context.pstate;
            kernel.reflections.push(frame);
            // The kernel's rule for a usable entry.
            let mut utcb = Utcb::zeroed();
            utcb.trampoline_entry = entry;
            let Some(entry) = utcb.trampoline_entry() else {
                kernel.stop = Some((pc, 0));
                return leave(context, LEFT_BY_UNREFLECTED_SVC);
            };
            set_reflected_trap(frame);
            context.pc = entry;
        }
        Some(SVC_IPC) => {
            let mut registers = [0; 11];
            registers.copy_from_slice(&context.regs[..11]);
            kernel.ipc_calls.push(registers);
            if kernel.stack_top > context.sp {
                let words = ((kernel.stack_top - context.sp) / 8) as usize;
                // SAFETY: [SP, stack_top) is the test's own stack for this run, which the
                // test keeps alive and the interrupted code is not writing.
                let stack = unsafe {
                    std::slice::from_raw_parts(
                        std::ptr::with_exposed_provenance::<u64>(context.sp as usize),
                        words,
                    )
                };
                kernel.snapshot = (context.sp, stack.to_vec());
            }
            let reply = kernel.replies.get(kernel.next_reply).copied().flatten();
            kernel.next_reply += 1;
            match reply {
                Some(Reply::Message(tag, word)) => {
                    context.regs[0] = tag;
                    context.regs[1] = word;
                    context.regs[8] = SERVER;
                    context.regs[9] = 0;
                }
                Some(Reply::Failure(error)) => {
                    context.regs[0] = MessageTag::ERROR.raw();
                    context.regs[9] = error as u64;
                }
                None => {
                    kernel.stop = Some((pc, 0));
                    return leave(context, LEFT_BY_BRK | u64::from(SVC_IPC));
                }
            }
            context.pc = pc + 4;
        }
        Some(SVC_LTHREAD_EX_REGS) => {
            kernel
                .exchange_calls
                .push([context.regs[0], context.regs[1]]);
            let own = utcb_word(Utcb::OFFSET_MY_THREAD_ID);
            let resume = ExchangeControl::RESUME_REFLECTED_TRAP.bits();
            let refusal = kernel
                .refuse_exchange
                .or((context.regs[0] != own || context.regs[1] != resume)
                    .then_some(CallError::InvalidArgument));
            if let Some(error) = refusal {
                context.regs[9] = error as u64;
                context.pc = pc + 4;
                return;
            }
            let frame = reflected_trap();
            context.regs.copy_from_slice(&frame[..31]);
            context.sp = frame[31];
            context.pc = frame[32];
            context.pstate = (context.pstate & !0xF000_0000) | (frame[33] & 0xF000_0000);
        }
        Some(immediate) => {
            kernel.stop = Some((pc, u64::from(immediate)));
            leave(context, LEFT_BY_BRK | u64::from(immediate));
        }
        None => {
            kernel.stop = Some((pc, 0));
            leave(context, LEFT_BY_SIGNAL | signal as u64);
        }
    }
}

/// Maps `size` bytes at `address` (exactly there), readable and writable, zeroed.
pub fn map_fixed(address: u64, size: usize) {
    // SAFETY: the protocol's fixed addresses and page 0 are far from anything this program
    // has mapped (Rust never places data there), so MAP_FIXED replaces nothing in use.
    let result = unsafe {
        libc::mmap(
            std::ptr::with_exposed_provenance_mut(address as usize),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
            -1,
            0,
        )
    };
    assert_eq!(result as u64, address, "mmap at {address:#x}");
}

/// The instruction words of `svc #n` and `brk #n`.
pub const fn svc(immediate: u16) -> u32 {
    0xD400_0001 | (immediate as u32) << 5
}
pub const fn brk(immediate: u16) -> u32 {
    0xD420_0000 | (immediate as u32) << 5
}

/// The machine every test starts from: the signal handlers on an alternate stack, a zeroed
/// UTCB at 0 with the client's ID and the server as pager, a zeroed save area, and the code
/// page copied to TRAMPOLINE_CODE with its kernel calls turned into the handler's `brk`s.
/// Returns the lock that keeps other tests out.
pub fn machine() -> std::sync::MutexGuard<'static, ()> {
    let guard = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        map_fixed(0, Utcb::SIZE);
        map_fixed(SAVE_AREA, PAGE_SIZE);
        map_fixed(TRAMPOLINE_CODE, PAGE_SIZE);
        for signal in [libc::SIGTRAP, libc::SIGSEGV, libc::SIGBUS, libc::SIGILL] {
            // SAFETY: all-zero is a valid sigaction (no flags, empty mask), completed below.
            let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
            action.sa_sigaction = on_signal as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
            // SAFETY: on_signal is an SA_SIGINFO handler with the matching signature; it runs
            // only for the faults and brks of the runs (see its documentation).
            let installed = unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) };
            assert_eq!(installed, 0);
        }
    });
    // The alternate stack is per thread, and every test runs on a thread of its own.
    let alternate = Box::leak(vec![0u8; 256 * 1024].into_boxed_slice());
    let stack = libc::stack_t {
        ss_sp: alternate.as_mut_ptr().cast(),
        ss_flags: 0,
        ss_size: alternate.len(),
    };
    // SAFETY: the stack is leaked, so it outlives the thread that uses it.
    let installed = unsafe { libc::sigaltstack(&stack, std::ptr::null_mut()) };
    assert_eq!(installed, 0);
    // A fresh UTCB and save area.
    for offset in (8..Utcb::SIZE).step_by(8) {
        set_utcb_word(offset, 0);
    }
    set_utcb_word(Utcb::OFFSET_MY_THREAD_ID, CLIENT);
    set_utcb_word(Utcb::OFFSET_PAGER, SERVER);
    for offset in (0..PAGE_SIZE as u64).step_by(8) {
        set_save_area_word(offset, 0);
    }
    // The code page where clients have it, with the kernel calls the handler's to play.
    let mut page = *trampoline::code_page();
    for chunk in page.chunks_exact_mut(4) {
        let word = u32::from_le_bytes(chunk.try_into().unwrap());
        let patched = match word {
            word if word == svc(1) => brk(SVC_IPC),
            word if word == svc(5) => brk(SVC_LTHREAD_EX_REGS),
            word => word,
        };
        chunk.copy_from_slice(&patched.to_le_bytes());
    }
    // SAFETY: TRAMPOLINE_CODE is the page map_fixed mapped for the copy; it is made writable,
    // overwritten while no run executes it (SERIAL), and made read-execute again.
    unsafe {
        assert_eq!(
            libc::mprotect(
                std::ptr::with_exposed_provenance_mut(TRAMPOLINE_CODE as usize),
                PAGE_SIZE,
                libc::PROT_READ | libc::PROT_WRITE
            ),
            0
        );
        std::ptr::copy_nonoverlapping(
            page.as_ptr(),
            std::ptr::with_exposed_provenance_mut(TRAMPOLINE_CODE as usize),
            PAGE_SIZE,
        );
        assert_eq!(
            libc::mprotect(
                std::ptr::with_exposed_provenance_mut(TRAMPOLINE_CODE as usize),
                PAGE_SIZE,
                libc::PROT_READ | libc::PROT_EXEC
            ),
            0
        );
    }
    let kernel = KERNEL.get();
    kernel.replies = [None; 4];
    kernel.next_reply = 0;
    kernel.ipc_calls.clear();
    kernel.exchange_calls.clear();
    kernel.refuse_exchange = None;
    kernel.reflections.clear();
    kernel.stop = None;
    kernel.stack_top = 0;
    kernel.snapshot = (0, Vec::new());
    guard
}

pub fn script(replies: &[Reply]) {
    let kernel = KERNEL.get();
    for (slot, reply) in kernel.replies.iter_mut().zip(replies) {
        *slot = Some(*reply);
    }
}

/// A stack for one run: 64 KiB filled with a pattern, 16-byte aligned. Its top part holds
/// what the test puts there (an initial stack); SP points into the middle.
pub struct TestStack {
    words: Box<[u64]>,
}

pub const STACK_WORDS: usize = 8192;
pub const STACK_PATTERN: u64 = 0xDEAD_BEEF_CAFE_F00D;

impl TestStack {
    pub fn new() -> TestStack {
        TestStack {
            words: vec![STACK_PATTERN; STACK_WORDS].into_boxed_slice(),
        }
    }

    /// The address of word `index` (16-byte aligned for even indexes: the box is).
    pub fn address(&self, index: usize) -> u64 {
        assert_eq!(self.words.as_ptr() as u64 % 16, 0);
        self.words.as_ptr() as u64 + 8 * index as u64
    }

    /// Writes `words` at word `index` and returns their address.
    pub fn place(&mut self, index: usize, words: &[u64]) -> u64 {
        self.words[index..index + words.len()].copy_from_slice(words);
        self.address(index)
    }

    /// The words that differ from the pattern, outside `keep` (the words the test wrote).
    pub fn touched(&self, keep: std::ops::Range<usize>) -> Vec<usize> {
        (0..STACK_WORDS)
            .filter(|index| !keep.contains(index))
            .filter(|&index| self.words[index] != STACK_PATTERN)
            .collect()
    }
}

/// A Linux initial stack at word `index`: argc, argv (pointers to "prog", "arg"), NULL,
/// envp ("A=1"), NULL, then `auxiliary` pairs and AT_NULL. Returns SP and the words' range.
pub fn initial_stack(
    stack: &mut TestStack,
    index: usize,
    auxiliary: &[(u64, u64)],
) -> (u64, std::ops::Range<usize>) {
    static STRINGS: &[u8] = b"prog\0arg\0A=1\0";
    let base = STRINGS.as_ptr() as u64;
    let mut words = vec![2, base, base + 5, 0, base + 9, 0];
    for &(key, value) in auxiliary {
        words.extend([key, value]);
    }
    words.extend([AT_NULL, 0]);
    let sp = stack.place(index, &words);
    (sp, index..index + words.len())
}

pub fn observed() -> State {
    *HARNESS_OBSERVED.get()
}

/// Runs `start` at `code` (a copy of the page's start) with every register dirty and SP at
/// an initial stack with `auxiliary`; returns how the run ended and the stack.
pub fn run_start(code: u64, auxiliary: &[(u64, u64)]) -> (u64, u64, TestStack) {
    let mut stack = TestStack::new();
    let (sp, _) = initial_stack(&mut stack, 4096, auxiliary);
    *HARNESS_INPUT.get() = State::distinct(sp);
    *HARNESS_TARGET.get() = code;
    let left = run();
    (left, sp, stack)
}

pub fn landing() -> u64 {
    harness_landing as *const () as u64
}

/// What a program finds at its entry: every register zero but x16 (the entry), SP at argc,
/// flags, FP/SIMD state and TPIDR_EL0 zero.
pub fn assert_started_like_linux(state: &State, sp: u64) {
    for (index, &value) in state.x.iter().enumerate() {
        let expected = if index == 16 { landing() } else { 0 };
        assert_eq!(value, expected, "x{index} at the program's entry");
    }
    assert_eq!(state.sp, sp);
    assert_eq!(state.nzcv, 0);
    assert_eq!(state.fpsr, 0);
    assert_eq!(state.fpcr, 0);
    assert_eq!(state.tpidr, 0);
    assert_eq!(state.q, [0; 32]);
}

pub fn trampoline_entry_word() -> u64 {
    utcb_word(Utcb::OFFSET_TRAMPOLINE_ENTRY)
}

pub fn set_trampoline_entry_word(value: u64) {
    set_utcb_word(Utcb::OFFSET_TRAMPOLINE_ENTRY, value)
}

/// Writes the stack the kernel copied at the last ipc back where it was: what a forked
/// child finds in its copy of the address space.
///
/// # Safety
///
/// The stack must still be the test's, and nothing may use the part being overwritten.
pub unsafe fn restore_snapshot() {
    let (base, words) = &KERNEL.get().snapshot;
    // SAFETY: passed on to the caller; the copy came from exactly this range.
    unsafe {
        std::ptr::copy_nonoverlapping(
            words.as_ptr(),
            std::ptr::with_exposed_provenance_mut::<u64>(*base as usize),
            words.len(),
        )
    };
}

/// Turns every `svc #1` and `svc #5` in the executable mapping of this program that holds
/// `anchor` (an address of its code) into the `brk`s the handler plays the kernel for, once.
/// Returns how many instructions were patched. (qemu-user would take any `svc` for a Linux
/// system call.)
pub fn patch_own_kernel_calls(anchor: u64) -> usize {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let range = maps.lines().find_map(|line| {
        let (range, rest) = line.split_once(' ')?;
        let (start, end) = range.split_once('-')?;
        let start = u64::from_str_radix(start, 16).ok()?;
        let end = u64::from_str_radix(end, 16).ok()?;
        (rest.starts_with("r-x") && (start..end).contains(&anchor)).then_some((start, end))
    });
    let Some((start, end)) = range else {
        return 0;
    };
    let length = (end - start) as usize;
    let address = std::ptr::with_exposed_provenance_mut::<u8>(start as usize);
    // SAFETY: the mapping is this program's own text; it is made writable while nothing
    // else runs (the caller holds SERIAL, the tests' lock), patched word by word (an `svc`
    // becomes a `brk`, which the handler completes as the kernel would have), and made
    // read-execute again.
    unsafe {
        assert_eq!(
            libc::mprotect(
                address.cast(),
                length,
                libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC
            ),
            0
        );
        let words = std::slice::from_raw_parts_mut(address.cast::<u32>(), length / 4);
        let mut patched = 0;
        for word in words.iter_mut() {
            if *word == svc(1) {
                *word = brk(SVC_IPC);
                patched += 1;
            } else if *word == svc(5) {
                *word = brk(SVC_LTHREAD_EX_REGS);
                patched += 1;
            }
        }
        assert_eq!(
            libc::mprotect(address.cast(), length, libc::PROT_READ | libc::PROT_EXEC),
            0
        );
        patched
    }
}
