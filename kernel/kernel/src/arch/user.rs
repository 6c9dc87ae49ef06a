//! The CPU operations behind user address spaces and EL0: entering EL0 through vectors.s,
//! loading TTBR0, TLB maintenance by page, ASID and all, instruction-cache maintenance for
//! code written through the data side, and probes of what EL0 can reach.
//!
//! Each is a few instructions with the barriers the Arm ARM asks for (DDI 0487, "TLB
//! maintenance requirements" and "Ordering and completion of TLB maintenance instructions");
//! the decisions of when to call them are in `user_space.rs` and `user_mode.rs`.
#![cfg_attr(
    not(feature = "ktest"),
    allow(
        dead_code,
        reason = "only the test scenarios run user code until kcore's kernel does"
    )
)]

use aarch64::trap_frame::TrapFrame;
use aarch64_cpu::registers::{PAR_EL1, TCR_EL1, TTBR0_EL1};
use core::arch::asm;
use kcore::kernel::{FpRegisters, UserContext};
use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};

use super::with_interrupts_masked;

unsafe extern "C" {
    /// vectors.s: point SP_EL1 at `context` and return to EL0 with its registers; see
    /// [`resume_user_context`].
    #[link_name = "restore_context"]
    fn restore_context_asm(context: *const UserContext) -> !;
}

/// Return to EL0 straight from a thread's saved registers (no frame is built or copied):
/// EL0t with interrupts unmasked and only the saved NZCV, the kernel stack abandoned. The
/// next exception from EL0 saves the registers back into `context` (vectors.s).
///
/// # Safety
/// `context` must stay valid, and be used for nothing else, until the next exception from
/// EL0 has saved into it and left it (interrupts are masked at once, and nothing else runs on
/// this CPU); nothing on the kernel stack may be needed again, the thread's address space
/// must be the active TTBR0 and its UTCB in TPIDRRO_EL0, and TPIDR_EL1 must hold the top of
/// the kernel stack ([`set_kernel_stack_top`]).
pub unsafe fn resume_user_context(context: *const UserContext) -> ! {
    // SAFETY: passed on from the caller; UserContext is 16-byte aligned by its type.
    unsafe { restore_context_asm(context) }
}

/// Where the EL0 entry moves the stack pointer after saving the user registers: the top of
/// the kernel stack, kept in TPIDR_EL1 (which nothing else uses). Called once at boot,
/// before anything runs at EL0.
pub fn set_kernel_stack_top() {
    let stack_top = crate::layout::image_sections().stack.end;
    // SAFETY: TPIDR_EL1 is a software register only vectors.s reads.
    unsafe {
        asm!("msr tpidr_el1, {0}", in(reg) stack_top, options(nostack, nomem, preserves_flags))
    };
}

/// A context for code that runs at EL0 outside the kernel core (the user-* test scenarios):
/// the EL0 entry saves into it, [`enter_user`] restores from it.
struct ScaffoldContext(core::cell::UnsafeCell<UserContext>);

// SAFETY: one CPU runs EL0 code, and only the exception path (IRQs masked) touches the
// context: `enter_user` writes it right before `eret`, the EL0 entry saves into it.
unsafe impl Sync for ScaffoldContext {}

static SCAFFOLD_CONTEXT: ScaffoldContext =
    ScaffoldContext(core::cell::UnsafeCell::new(UserContext {
        x: [0; 31],
        sp: 0,
        pc: 0,
        pstate: 0,
        tls: 0,
    }));

/// Run `frame` at EL0, abandoning everything on the kernel stack: the stack pointer restarts
/// at the top at the next exception (the kernel is event-driven: no kernel state lives on the
/// stack between events). IRQs are masked from here until the `eret` loads the SPSR, of which
/// only the condition flags are kept (EL0t, interrupts unmasked).
///
/// # Safety
/// Nothing on the kernel stack may be needed again: the caller's frames and every value they
/// own are dropped without running destructors (a lock guard among them would never release
/// its lock). The kernel core must not be running (it resumes its threads itself).
pub unsafe fn enter_user(frame: &TrapFrame) -> ! {
    let context = SCAFFOLD_CONTEXT.0.get();
    super::disable_interrupts();
    // SAFETY: interrupts are masked and this CPU is the only one running EL0 code; the
    // previous user of the context (an EL0 entry) has finished with it, since we run after it.
    unsafe {
        *context = UserContext {
            x: frame.x,
            sp: frame.sp_el0,
            pc: frame.elr,
            pstate: frame.spsr,
            tls: 0,
        };
        resume_user_context(context)
    }
}

/// The fastpath's switch to another thread: load its address space (TTBR0_EL1, root and
/// ASID in one write) and its UTCB (TPIDRRO_EL0). No barrier: the `eret` that follows is
/// context-synchronising, and the kernel touches no user memory in between.
pub fn switch_user_thread(translation_table_base: u64, utcb: u64) {
    // SAFETY: `translation_table_base` is what `UserSpace::fast_switch_value` composed from a
    // live space's root and its current ASID (the same value `load_user_tables` writes); the
    // UTCB register only matters to EL0.
    unsafe {
        asm!(
            "msr ttbr0_el1, {0}",
            "msr tpidrro_el0, {1}",
            in(reg) translation_table_base,
            in(reg) utcb,
            options(nostack, nomem, preserves_flags)
        )
    };
}

/// Make page-table writes visible to the table walker (DSB ISHST) and synchronise the
/// context (ISB): enough after filling a descriptor that was invalid, since the
/// architecture does not cache faulting translations in a TLB.
pub fn publish_table_writes() {
    // SAFETY: barriers only.
    unsafe { asm!("dsb ishst", "isb", options(nostack, preserves_flags)) };
}

/// The operand of the TLBI ...VA... and ASID instructions: ASID in bits [63:48], VA[55:12] in
/// bits [43:0].
fn tlbi_operand(asid: u16, virt: u64) -> u64 {
    (u64::from(asid) << 48) | ((virt >> 12) & ((1 << 44) - 1))
}

/// After changing or clearing the level 3 descriptor of user page `virt` in the tables
/// tagged `asid`: publish the write, drop the page's last-level TLB entries for that ASID in
/// the Inner Shareable domain (TLBI VALE1IS), wait for completion (DSB ISH), ISB.
pub fn invalidate_user_page(asid: u16, virt: u64) {
    let operand = tlbi_operand(asid, virt);
    // SAFETY: TLB maintenance and barriers only; dropping TLB entries never breaks a
    // translation, it only makes the walker read the tables again.
    unsafe {
        asm!(
            "dsb ishst",
            "tlbi vale1is, {0}",
            "dsb ish",
            "isb",
            in(reg) operand,
            options(nostack, preserves_flags)
        )
    };
}

/// Drop every TLB entry tagged `asid` (TLBI ASIDE1IS), including walk-cache entries, and
/// wait for completion: for an ASID that is freed or whose tables are about to be freed.
pub fn invalidate_asid(asid: u16) {
    let operand = tlbi_operand(asid, 0);
    // SAFETY: as in invalidate_user_page.
    unsafe {
        asm!(
            "dsb ishst",
            "tlbi aside1is, {0}",
            "dsb ish",
            "isb",
            in(reg) operand,
            options(nostack, preserves_flags)
        )
    };
}

/// Drop every EL1&0 TLB entry of this CPU (TLBI VMALLE1), for an ASID roll-over.
pub fn invalidate_all_local() {
    // SAFETY: as in invalidate_user_page.
    unsafe {
        asm!(
            "dsb ishst",
            "tlbi vmalle1",
            "dsb nsh",
            "isb",
            options(nostack, preserves_flags)
        )
    };
}

/// Load TTBR0_EL1 with the level 0 table at physical address `root`, tagged `asid`, and
/// synchronise. ASID and table base change in one register write (TCR_EL1.A1 = 0 selects
/// TTBR0's ASID), so no TLB maintenance is needed for the switch itself.
///
/// # Safety
/// `root` must be a 4 KiB-aligned level 0 table in RAM that stays a valid translation table
/// (all its descriptors valid tables or pages over RAM, or invalid) for as long as it is
/// loaded, and the TLB must hold no stale entries tagged `asid` (the ASID allocator's
/// invariant).
pub unsafe fn load_user_tables(root: u64, asid: u16) {
    TTBR0_EL1.write(TTBR0_EL1::ASID.val(u64::from(asid)) + TTBR0_EL1::BADDR.val(root >> 1));
    // SAFETY: context synchronisation after writing TTBR0_EL1.
    unsafe { asm!("isb", options(nostack, preserves_flags)) };
}

/// Turn TTBR0 walks on (TCR_EL1.EPD0 = 0), which `replace_kernel_tables` turned off at boot,
/// and drop every TLB entry of this CPU once, since TCR_EL1 fields may be cached in TLB
/// entries. Called once, after the first user tables were loaded.
pub fn enable_user_table_walks() {
    TCR_EL1.modify(TCR_EL1::EPD0::EnableTTBR0Walks);
    // SAFETY: context synchronisation after changing TCR_EL1.
    unsafe { asm!("isb", options(nostack, preserves_flags)) };
    invalidate_all_local();
}

/// Make `length` bytes of instructions at kernel address `start`, just written through the
/// data side (for example into a user code frame through the linear map), visible to
/// instruction fetches from any alias: clean the data cache lines to the Point of
/// Unification (DC CVAU), then invalidate all instruction caches (IC IALLUIS), which also
/// covers aliasing instruction caches.
pub fn make_instructions_visible(start: u64, length: u64) {
    let cache_type: u64;
    // SAFETY: reads the Cache Type Register.
    unsafe { asm!("mrs {0}, ctr_el0", out(reg) cache_type, options(nostack, nomem)) };
    // CTR_EL0.DminLine, bits [19:16]: log2 of the smallest data cache line in words.
    let line = 4u64 << ((cache_type >> 16) & 0xf);
    let end = start.saturating_add(length);
    let mut address = start & !(line - 1);
    while address < end {
        // SAFETY: cleaning a cache line by a mapped kernel address changes no memory
        // contents.
        unsafe { asm!("dc cvau, {0}", in(reg) address, options(nostack, preserves_flags)) };
        address += line;
    }
    // SAFETY: barriers and instruction cache invalidation only.
    unsafe {
        asm!(
            "dsb ish",
            "ic ialluis",
            "dsb ish",
            "isb",
            options(nostack, preserves_flags)
        )
    };
}

/// Address translation probe for EL0: the physical address EL0 would reach reading
/// (`write == false`, AT S1E0R) or writing (AT S1E0W) `address` through the current TTBR0
/// tables and ASID, as the MMU itself answers; None when the access would fault.
pub fn user_translation(address: u64, write: bool) -> Option<u64> {
    with_interrupts_masked(|| {
        // SAFETY: AT instructions only update PAR_EL1, which is read right after; IRQs are
        // masked so no handler's AT can overwrite it in between.
        unsafe {
            if write {
                asm!("at s1e0w, {0}", "isb", in(reg) address, options(nostack));
            } else {
                asm!("at s1e0r, {0}", "isb", in(reg) address, options(nostack));
            }
        }
        let result = PAR_EL1.get();
        // PAR_EL1.F, bit [0]: the translation faulted. PA, bits [47:12], otherwise.
        (result & 1 == 0).then_some((result & 0x0000_FFFF_FFFF_F000) | (address & 0xfff))
    })
}

/// Load the 64-bit word at user address `address` with EL0's permissions (LDTR), through
/// the current TTBR0 tables and the TLB, as EL0 code would see it.
///
/// # Safety
/// `address` must be 8-byte aligned and mapped readable for EL0 in the current user tables
/// (check with [`user_translation`]); otherwise the load faults at EL1, which is fatal.
pub unsafe fn read_as_user(address: u64) -> u64 {
    let value: u64;
    // SAFETY: the caller guarantees an EL0-readable mapping; the load reads user memory only.
    unsafe {
        asm!(
            "ldtr {0}, [{1}]",
            out(reg) value,
            in(reg) address,
            options(nostack, readonly, preserves_flags)
        )
    };
    value
}

/// Load the thread register EL0 reads but its saved context does not hold: TPIDRRO_EL0, the
/// thread's UTCB address (read-only to EL0). TPIDR_EL0, its TLS pointer, travels with the
/// context.
pub fn load_utcb_register(utcb: u64) {
    // SAFETY: the register only matters to EL0; writing it changes no kernel state.
    unsafe { asm!("msr tpidrro_el0, {0}", in(reg) utcb, options(nostack, nomem, preserves_flags)) };
}

/// The user translation table root TTBR0_EL1 holds (its BADDR field), and its ASID.
pub fn loaded_user_tables() -> (u64, u16) {
    let value = TTBR0_EL1.get();
    (
        TTBR0_EL1::BADDR.read(value) << 1,
        TTBR0_EL1::ASID.read(value) as u16,
    )
}

/// CPACR_EL1.FPEN: FP/SIMD instructions at EL0 trap (0b01; EL1 never traps), or run (0b11).
pub(crate) const FPEN_TRAP_EL0: u64 = 0b01 << 20;
pub(crate) const FPEN_NO_TRAP: u64 = 0b11 << 20;

/// Whether the running thread may use the FP unit without a trap: yes when it owns the
/// registers in it (lazy switching: `system.rs`). EL1 never traps, so the kernel can always
/// save and load them. No barrier: the `eret` to EL0 synchronises.
pub fn set_fp_access(enabled: bool) {
    let value = if enabled { FPEN_NO_TRAP } else { FPEN_TRAP_EL0 };
    // SAFETY: CPACR_EL1 only decides which FP/SIMD accesses trap; the kernel itself uses FP
    // instructions only in `save_fp_registers`/`load_fp_registers`, which FPEN never traps.
    unsafe { asm!("msr cpacr_el1, {0}", in(reg) value, options(nostack, nomem, preserves_flags)) };
}

/// Store Q0..Q31, FPSR and FPCR into `area`.
pub fn save_fp_registers(area: &mut FpRegisters) {
    let base = core::ptr::from_mut(area);
    // SAFETY: `area` is a valid, 16-byte aligned FpRegisters (32 × 16 bytes of Q registers,
    // then FPSR and FPCR) that this function has exclusive access to; EL1 FP accesses never
    // trap (set_fp_access); the kernel itself keeps nothing in FP registers.
    unsafe {
        asm!(
            ".arch_extension fp",
            ".arch_extension simd",
            "stp q0, q1, [{base}, #32 * 0]",
            "stp q2, q3, [{base}, #32 * 1]",
            "stp q4, q5, [{base}, #32 * 2]",
            "stp q6, q7, [{base}, #32 * 3]",
            "stp q8, q9, [{base}, #32 * 4]",
            "stp q10, q11, [{base}, #32 * 5]",
            "stp q12, q13, [{base}, #32 * 6]",
            "stp q14, q15, [{base}, #32 * 7]",
            "stp q16, q17, [{base}, #32 * 8]",
            "stp q18, q19, [{base}, #32 * 9]",
            "stp q20, q21, [{base}, #32 * 10]",
            "stp q22, q23, [{base}, #32 * 11]",
            "stp q24, q25, [{base}, #32 * 12]",
            "stp q26, q27, [{base}, #32 * 13]",
            "stp q28, q29, [{base}, #32 * 14]",
            "stp q30, q31, [{base}, #32 * 15]",
            "mrs {status}, fpsr",
            "mrs {control}, fpcr",
            "str {status}, [{base}, #512]",
            "str {control}, [{base}, #520]",
            base = in(reg) base,
            status = out(reg) _,
            control = out(reg) _,
            options(nostack, preserves_flags)
        )
    };
}

/// Load Q0..Q31, FPSR and FPCR from `area`.
pub fn load_fp_registers(area: &FpRegisters) {
    let base = core::ptr::from_ref(area);
    // SAFETY: as in save_fp_registers; reading `area` only.
    unsafe {
        asm!(
            ".arch_extension fp",
            ".arch_extension simd",
            "ldp q0, q1, [{base}, #32 * 0]",
            "ldp q2, q3, [{base}, #32 * 1]",
            "ldp q4, q5, [{base}, #32 * 2]",
            "ldp q6, q7, [{base}, #32 * 3]",
            "ldp q8, q9, [{base}, #32 * 4]",
            "ldp q10, q11, [{base}, #32 * 5]",
            "ldp q12, q13, [{base}, #32 * 6]",
            "ldp q14, q15, [{base}, #32 * 7]",
            "ldp q16, q17, [{base}, #32 * 8]",
            "ldp q18, q19, [{base}, #32 * 9]",
            "ldp q20, q21, [{base}, #32 * 10]",
            "ldp q22, q23, [{base}, #32 * 11]",
            "ldp q24, q25, [{base}, #32 * 12]",
            "ldp q26, q27, [{base}, #32 * 13]",
            "ldp q28, q29, [{base}, #32 * 14]",
            "ldp q30, q31, [{base}, #32 * 15]",
            "ldr {status}, [{base}, #512]",
            "ldr {control}, [{base}, #520]",
            "msr fpsr, {status}",
            "msr fpcr, {control}",
            base = in(reg) base,
            status = out(reg) _,
            control = out(reg) _,
            options(nostack, readonly, preserves_flags)
        )
    };
}

// save/load_fp_registers address FPSR and FPCR at offset 512, after the Q registers.
const _: () = assert!(core::mem::offset_of!(FpRegisters, fpsr) == 512);
const _: () = assert!(core::mem::offset_of!(FpRegisters, fpcr) == 520);
