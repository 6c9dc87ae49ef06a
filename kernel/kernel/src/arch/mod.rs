//! The kernel's aarch64 glue: the two assembly files, the system-register values they load,
//! and the few CPU operations Rust needs (interrupt masking, waiting, SMC/HVC calls); the
//! operations for user address spaces and EL0 are in [`user`].
//!
//! Every value written to a system register is composed here from `aarch64-cpu` field
//! definitions, so that boot.s never carries a magic number of its own.

use aarch64_cpu::registers::{DAIF, SCTLR_EL1, TCR_EL1};
use core::arch::{asm, global_asm};
use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};

use crate::layout::KERNEL_VIRTUAL_BASE;
use aarch64::trap_frame;
use kcore::kernel::{FastpathLayout, Kernel, UserContext};

use crate::machine::HardwareMachine;

pub mod user;

/// SCTLR_EL1 with the MMU off: only the bits that are RES1 on Armv8.0 (29, 28, 23, 22, 20, 11).
const SCTLR_EL1_RESET: u64 = (1 << 29) | (1 << 28) | (1 << 23) | (1 << 22) | (1 << 20) | (1 << 11);

/// SCTLR_EL1 with the MMU, caches and stack alignment checks on (WXN comes later, with the
/// final page tables; boot.s's block mappings are writable and executable).
const SCTLR_EL1_MMU_ON: u64 = SCTLR_EL1_RESET
    | SCTLR_EL1::M::Enable.value
    | SCTLR_EL1::C::Cacheable.value
    | SCTLR_EL1::I::Cacheable.value
    | SCTLR_EL1::SA::Enable.value
    | SCTLR_EL1::SA0::Enable.value;

/// Translation control: 48-bit virtual addresses in both halves (T0SZ = T1SZ = 16), 4 KiB
/// granules, inner-shareable write-back table walks, 16-bit ASIDs from TTBR0. IPS is filled
/// in by boot.s from ID_AA64MMFR0_EL1.
const TCR_VALUE: u64 = TCR_EL1::T0SZ.val(16).value
    | TCR_EL1::IRGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable.value
    | TCR_EL1::ORGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable.value
    | TCR_EL1::SH0::Inner.value
    | TCR_EL1::TG0::KiB_4.value
    | TCR_EL1::T1SZ.val(16).value
    | TCR_EL1::IRGN1::WriteBack_ReadAlloc_WriteAlloc_Cacheable.value
    | TCR_EL1::ORGN1::WriteBack_ReadAlloc_WriteAlloc_Cacheable.value
    | TCR_EL1::SH1::Inner.value
    | TCR_EL1::TG1::KiB_4.value
    | TCR_EL1::AS::ASID16Bits.value
    | TCR_EL1::A1::TTBR0.value;

/// A table descriptor's low bits (valid, table).
const TABLE_DESCRIPTOR: u64 = 0b11;

/// The boot map's 2 MiB / 1 GiB block attributes: valid block, MAIR index 0 (normal
/// write-back), inner shareable, access flag set, EL1 read-write, executable. Used only
/// until Rust installs the real tables.
const BLOCK_NORMAL: u64 = 0b01 | (0b11 << 8) | (1 << 10);

const _: () = assert!(
    KERNEL_VIRTUAL_BASE.is_multiple_of(1 << 30),
    "boot.s maps the image from L2 index 0"
);

global_asm!(
    include_str!("boot.s"),
    SCTLR_EL1_RESET = const SCTLR_EL1_RESET,
    SCTLR_EL1_MMU_ON = const SCTLR_EL1_MMU_ON,
    TCR_VALUE = const TCR_VALUE,
    MAIR_VALUE = const aarch64::page_table::MAIR_EL1_VALUE,
    TABLE_DESCRIPTOR = const TABLE_DESCRIPTOR,
    BLOCK_NORMAL = const BLOCK_NORMAL,
    KERNEL_L0_INDEX = const (KERNEL_VIRTUAL_BASE >> 39) & 0x1ff,
    KERNEL_L1_INDEX = const (KERNEL_VIRTUAL_BASE >> 30) & 0x1ff,
    KERNEL_L2_INDEX = const (KERNEL_VIRTUAL_BASE >> 21) & 0x1ff,
);

// The vectors save x30 and SP_EL0 with one `stp`, ELR/SPSR and ESR/FAR likewise.
const OFFSET_X30: usize = trap_frame::OFFSET_X + 30 * 8;
const _: () = assert!(trap_frame::OFFSET_SP_EL0 == OFFSET_X30 + 8);
const _: () = assert!(trap_frame::OFFSET_SPSR == trap_frame::OFFSET_ELR + 8);
const _: () = assert!(trap_frame::OFFSET_FAR == trap_frame::OFFSET_ESR + 8);
const _: () = assert!(trap_frame::TRAP_FRAME_SIZE.is_multiple_of(16));

// restore_context and the EL0 entry load and store x0..x30 with `ldp`/`stp` pairs from offset 0,
// x30 and SP as a pair, PC and PSTATE as a pair; SP_EL1 points at a context while EL0 runs,
// so a context is 16-byte aligned (SCTLR_EL1.SA).
const CONTEXT_X30: usize = core::mem::offset_of!(UserContext, x) + 30 * 8;
const _: () = assert!(core::mem::offset_of!(UserContext, x) == 0);
const _: () = assert!(core::mem::offset_of!(UserContext, sp) == CONTEXT_X30 + 8);
const _: () = assert!(
    core::mem::offset_of!(UserContext, pstate) == core::mem::offset_of!(UserContext, pc) + 8
);
const _: () = assert!(core::mem::align_of::<UserContext>() == 16);

/// ESR_EL1 of `svc #1` (ipc) from AArch64 EL0: EC 0x15 (SVC64), IL = 1 (a 32-bit
/// instruction), ISS = the immediate. The entry compares the whole register with it.
const SVC_IPC_ESR: u64 = (0x15 << 26) | (1 << 25) | abi::call::Call::Ipc.number() as u64;

/// Where the fastpath's asm finds the kernel's and the TCBs' fields (kcore computes them).
const FASTPATH: FastpathLayout = Kernel::<HardwareMachine>::FASTPATH_LAYOUT;

// What fastpath.s assumes beyond the layout: the ID encodings it tests with `ccmn #1` and
// `xzr`, the receive timeout it tests with `cmn w, #1`, the error register it clears, and
// offsets its load and store pairs can encode (a multiple of 8 up to 504).
const _: () = {
    assert!(abi::ThreadId::ANY.raw() == u64::MAX && abi::ThreadId::NIL.raw() == 0);
    assert!(abi::timeout::Timeout::NEVER.raw() == u32::MAX);
    assert!(abi::call::ERROR_REGISTER == 9);
    assert!(FASTPATH.thread_switch.is_multiple_of(8) && FASTPATH.thread_switch <= 504);
    assert!(FASTPATH.kernel_highest_ready < 8192);
};

global_asm!(
    include_str!("vectors.s"),
    include_str!("fastpath.s"),
    FRAME_SIZE = const trap_frame::TRAP_FRAME_SIZE,
    OFFSET_X30 = const OFFSET_X30,
    OFFSET_ELR = const trap_frame::OFFSET_ELR,
    OFFSET_ESR = const trap_frame::OFFSET_ESR,
    CONTEXT_X30 = const CONTEXT_X30,
    CONTEXT_X8 = const core::mem::offset_of!(UserContext, x) + 8 * 8,
    CONTEXT_PC = const core::mem::offset_of!(UserContext, pc),
    CONTEXT_TLS = const core::mem::offset_of!(UserContext, tls),
    SVC_IPC_ESR_HIGH = const SVC_IPC_ESR >> 16,
    SVC_IPC_ESR_LOW = const SVC_IPC_ESR & 0xFFFF,
    SLOW_TAG_BITS = const kcore::kernel::SLOW_TAG_BITS,
    FASTPATH_KERNEL = sym crate::system::FASTPATH_KERNEL,
    ASID_GENERATION = sym crate::user_space::ASID_GENERATION,
    K_ID_CACHE = const FASTPATH.kernel_id_cache,
    K_HIGHEST_READY = const FASTPATH.kernel_highest_ready,
    K_CURRENT_TCB = const FASTPATH.kernel_current_tcb,
    K_CURRENT_SLOT = const FASTPATH.kernel_current_slot,
    K_FP_OWNER_TCB = const FASTPATH.kernel_fp_owner_tcb,
    ID_SHIFT_A = const FASTPATH.id_cache_shifts.0,
    ID_SHIFT_B = const FASTPATH.id_cache_shifts.1,
    ID_CACHE_MASK = const FASTPATH.id_cache_entries - 1,
    TASK_SHIFT = const abi::ThreadId::TASK_SHIFT,
    T_ID = const FASTPATH.thread_id,
    T_FAST_SENDER = const FASTPATH.thread_fast_sender,
    T_CLAN_CHIEF = const FASTPATH.thread_clan_chief,
    T_PRIORITY = const FASTPATH.thread_priority,
    T_SWITCH = const FASTPATH.thread_switch,
    T_SLOT = const FASTPATH.thread_slot,
    T_STATE = const FASTPATH.thread_state,
    T_STATE_SLOT = const FASTPATH.thread_state + FASTPATH.state_receiving_slot,
    T_QUEUED_SENDERS = const FASTPATH.thread_queued_senders,
    T_UTCB = const FASTPATH.thread_utcb,
    STATE_READY = const FASTPATH.state_ready,
    STATE_RECEIVING_FROM_ANY = const FASTPATH.state_receiving_from_any,
    STATE_RECEIVING_FROM_THREAD_BIT = const FASTPATH.state_receiving_from_thread_bit,
    FPEN_TRAP_EL0 = const user::FPEN_TRAP_EL0,
    FPEN_NO_TRAP = const user::FPEN_NO_TRAP,
);

unsafe extern "C" {
    /// boot.s: switch TTBR1_EL1 to `root` (a physical address) break-before-make. Must be
    /// called at its identity-mapped physical address; see [`replace_kernel_tables`].
    fn replace_ttbr1(root: u64);
}

/// Switch the kernel half of the address space to the tables rooted at `root`, then retire
/// boot.s's identity map: TTBR0 walks are disabled until user address spaces exist.
///
/// # Safety
/// `root` must map the kernel image at its link address with the same physical backing, the
/// stack, and everything the caller will touch afterwards; interrupts must be masked; the
/// boot identity map must still be live (this runs `replace_ttbr1` through it).
pub unsafe fn replace_kernel_tables(root: u64, image_physical_base: u64) {
    let link_address = replace_ttbr1 as *const () as u64;
    let physical = link_address - KERNEL_VIRTUAL_BASE + image_physical_base;
    // SAFETY: `physical` is where boot.s's identity map (executable, TTBR0) holds the routine;
    // the routine touches no memory and returns through x30 to our TTBR1 address, which `root`
    // maps as the caller promised.
    unsafe {
        let routine: unsafe extern "C" fn(u64) = core::mem::transmute(physical as usize);
        routine(root);
    }
    TCR_EL1.modify(TCR_EL1::EPD0::DisableTTBR0Walks);
    aarch64_cpu::registers::TTBR0_EL1.set(0);
    // SAFETY: the identity map's TLB entries are dropped after TTBR0 walks are disabled;
    // barriers order the change before any later access.
    unsafe { asm!("isb", "tlbi vmalle1", "dsb nsh", "isb", options(nostack)) };
    // From now on writable memory is never executable, whatever a descriptor says.
    SCTLR_EL1.modify(SCTLR_EL1::WXN::Enable);
    // SAFETY: context synchronisation after changing SCTLR_EL1.
    unsafe { asm!("isb", options(nostack)) };
}

/// Run `body` with IRQs masked on this CPU, restoring the previous mask afterwards.
pub fn with_interrupts_masked<T>(body: impl FnOnce() -> T) -> T {
    let saved = DAIF.get();
    DAIF.write(DAIF::I::Masked);
    let result = body();
    DAIF.set(saved);
    result
}

/// Unmask IRQs on this CPU.
pub fn enable_interrupts() {
    DAIF.modify(DAIF::I::Unmasked);
}

/// Mask IRQs on this CPU.
pub fn disable_interrupts() {
    DAIF.modify(DAIF::I::Masked);
}

/// Sleep until an interrupt (or event) arrives.
pub fn wait_for_interrupt() {
    aarch64_cpu::asm::wfi();
}

/// Stop this CPU for good: interrupts masked, waiting forever.
pub fn halt() -> ! {
    DAIF.write(DAIF::D::Masked + DAIF::A::Masked + DAIF::I::Masked + DAIF::F::Masked);
    loop {
        aarch64_cpu::asm::wfe();
    }
}

/// How an SMC Calling Convention call reaches the firmware (PSCI's `method` property).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conduit {
    /// `hvc #0`: firmware at EL2 (QEMU without EL2 emulation).
    Hypervisor,
    /// `smc #0`: firmware at EL3 (QEMU with `virtualization=on`).
    SecureMonitor,
}

/// An SMCCC call with up to three arguments; returns x0.
pub fn firmware_call(conduit: Conduit, function: u32, arguments: [u64; 3]) -> u64 {
    let mut result = u64::from(function);
    // SAFETY: SMCCC calls preserve x18-x30 and the stack; x0-x17 may be clobbered and are
    // declared so. The firmware services PSCI functions only; it does not touch our memory
    // except as the called function documents.
    unsafe {
        match conduit {
            Conduit::Hypervisor => asm!(
                "hvc #0",
                inout("x0") result, inout("x1") arguments[0] => _, inout("x2") arguments[1] => _,
                inout("x3") arguments[2] => _, out("x4") _, out("x5") _, out("x6") _, out("x7") _,
                out("x8") _, out("x9") _, out("x10") _, out("x11") _, out("x12") _, out("x13") _,
                out("x14") _, out("x15") _, out("x16") _, out("x17") _, options(nostack)
            ),
            Conduit::SecureMonitor => asm!(
                "smc #0",
                inout("x0") result, inout("x1") arguments[0] => _, inout("x2") arguments[1] => _,
                inout("x3") arguments[2] => _, out("x4") _, out("x5") _, out("x6") _, out("x7") _,
                out("x8") _, out("x9") _, out("x10") _, out("x11") _, out("x12") _, out("x13") _,
                out("x14") _, out("x15") _, out("x16") _, out("x17") _, options(nostack)
            ),
        }
    }
    result
}

#[cfg_attr(
    not(feature = "ktest"),
    allow(dead_code, reason = "used by the test scenarios")
)]
/// Address translation probe: whether EL1 could write (`write == true`) or read `address`
/// through the current tables, as the MMU itself answers (AT S1E1W / AT S1E1R).
pub fn kernel_can_access(address: u64, write: bool) -> bool {
    // SAFETY: AT instructions only update PAR_EL1, which is read right after.
    unsafe {
        if write {
            asm!("at s1e1w, {0}", "isb", in(reg) address, options(nostack));
        } else {
            asm!("at s1e1r, {0}", "isb", in(reg) address, options(nostack));
        }
    }
    aarch64_cpu::registers::PAR_EL1.get() & 1 == 0
}
