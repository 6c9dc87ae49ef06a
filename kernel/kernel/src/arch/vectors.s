// vectors.s: the EL1 exception vector table, the one path that saves and restores a trap
// frame for exceptions taken at EL1, the entry from and return to EL0, and the IPC fastpath's
// dispatch.
//
// Exceptions taken at EL1 (an IRQ while the kernel idles, a kernel fault) push a frame on
// the kernel stack (layout: aarch64::trap_frame::TrapFrame, offsets passed in as constants),
// call `handle_exception(frame, kind)` in Rust, and `exception_return` restores the frame.
//
// Exceptions from EL0 save the user registers straight into the running thread's context
// (kcore::kernel::UserContext), as seL4 does: while EL0 runs, SP_EL1 points at that context,
// so the entry needs no copy and no look-up. `restore_context` and the fastpath's exit
// (fastpath.s) are the only ways to EL0: both point SP_EL1 at the context they restore. After the save the entry moves SP_EL1 to the
// top of the kernel stack, which TPIDR_EL1 holds (set once at boot: `set_kernel_stack_top`);
// nothing on the kernel stack survives a return to EL0 (docs/design/kernel-core.md).
//
// A synchronous exception whose ESR_EL1 says `svc #1` (ipc) first goes to the IPC fastpath
// (fastpath.s), which returns to EL0 itself or comes back to el0_synchronous_general; then
// the general path `handle_el0_exception(context, kind, esr, far)` runs, which never returns
// here: it ends in `restore_context` of whichever thread runs next.

.macro VECTOR kind
    .balign 0x80
    sub     sp, sp, #{FRAME_SIZE}
    stp     x0, x1, [sp, #0]
    mov     x1, #\kind
    b       trap_entry
.endm

// An exception from EL0: SP_EL1 is the running thread's context.
.macro EL0_VECTOR kind, target
    .balign 0x80
    stp     x0, x1, [sp, #16 * 0]
    mov     x1, #\kind
    b       \target
.endm

.section .text.vectors, "ax"
.balign 0x800
.global exception_vectors
exception_vectors:
    VECTOR 0    // current EL, SP_EL0: synchronous
    VECTOR 1    //                     IRQ
    VECTOR 2    //                     FIQ
    VECTOR 3    //                     SError
    VECTOR 4    // current EL, SP_ELx: synchronous
    VECTOR 5    //                     IRQ
    VECTOR 6    //                     FIQ
    VECTOR 7    //                     SError
    EL0_VECTOR 8, el0_synchronous   // lower EL, AArch64: synchronous
    EL0_VECTOR 9, el0_other         //                    IRQ
    EL0_VECTOR 10, el0_other        //                    FIQ
    EL0_VECTOR 11, el0_other        //                    SError
    EL0_VECTOR 12, el0_other        // lower EL, AArch32: synchronous
    EL0_VECTOR 13, el0_other        //                    IRQ
    EL0_VECTOR 14, el0_other        //                    FIQ
    EL0_VECTOR 15, el0_other        //                    SError

// Save x2..x30, SP_EL0, ELR, SPSR and TPIDR_EL0 into the context at sp (x0/x1 are saved by
// the vector), keep the context in x19 and switch sp to the kernel stack. Clobbers x2, x3.
.macro SAVE_CONTEXT
    stp     x2, x3, [sp, #16 * 1]
    stp     x4, x5, [sp, #16 * 2]
    stp     x6, x7, [sp, #16 * 3]
    stp     x8, x9, [sp, #16 * 4]
    stp     x10, x11, [sp, #16 * 5]
    stp     x12, x13, [sp, #16 * 6]
    stp     x14, x15, [sp, #16 * 7]
    stp     x16, x17, [sp, #16 * 8]
    stp     x18, x19, [sp, #16 * 9]
    stp     x20, x21, [sp, #16 * 10]
    stp     x22, x23, [sp, #16 * 11]
    stp     x24, x25, [sp, #16 * 12]
    stp     x26, x27, [sp, #16 * 13]
    stp     x28, x29, [sp, #16 * 14]
    mrs     x2, sp_el0
    stp     x30, x2, [sp, #{CONTEXT_X30}]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x2, x3, [sp, #{CONTEXT_PC}]
    mrs     x2, tpidr_el0
    str     x2, [sp, #{CONTEXT_TLS}]
    mov     x19, sp
    mrs     x2, tpidr_el1
    mov     sp, x2
.endm

// The part of returning to EL0 that restore_context and the fastpath's exit share: from the
// context at sp, ELR, SPSR (only NZCV of the saved PSTATE: EL0t with interrupts unmasked,
// always), x30, SP_EL0, TPIDR_EL0, and x8..x17, x20..x29. Clobbers x2, x3.
.macro LOAD_CONTEXT_COMMON
    ldp     x2, x3, [sp, #{CONTEXT_PC}]
    and     x3, x3, #0xf0000000
    msr     elr_el1, x2
    msr     spsr_el1, x3
    ldp     x30, x2, [sp, #{CONTEXT_X30}]
    msr     sp_el0, x2
    ldr     x2, [sp, #{CONTEXT_TLS}]
    msr     tpidr_el0, x2
    ldp     x8, x9, [sp, #16 * 4]
    ldp     x10, x11, [sp, #16 * 5]
    ldp     x12, x13, [sp, #16 * 6]
    ldp     x14, x15, [sp, #16 * 7]
    ldp     x16, x17, [sp, #16 * 8]
    ldp     x20, x21, [sp, #16 * 10]
    ldp     x22, x23, [sp, #16 * 11]
    ldp     x24, x25, [sp, #16 * 12]
    ldp     x26, x27, [sp, #16 * 13]
    ldp     x28, x29, [sp, #16 * 14]
.endm

el0_synchronous:
    SAVE_CONTEXT
    mrs     x2, esr_el1
    movz    x3, #{SVC_IPC_ESR_HIGH}, lsl #16
    movk    x3, #{SVC_IPC_ESR_LOW}
    cmp     x2, x3
    b.eq    ipc_fast                            // fastpath.s
el0_synchronous_general:
    mov     x1, #8
    b       1f
el0_other:
    SAVE_CONTEXT
1:  mov     x0, x19
    mrs     x2, esr_el1
    mrs     x3, far_el1
    bl      handle_el0_exception
    // handle_el0_exception never returns.
    brk     #0

// restore_context(context: *const UserContext) -> !
//
// x0: the saved user registers of the thread to run (kcore::kernel::UserContext, 16-byte
// aligned), which stay valid until the next entry from EL0 saves into them again. Its
// address space must be the active TTBR0 and its UTCB in TPIDRRO_EL0. Masks IRQs, points
// SP_EL1 at the context, loads ELR, SPSR (only NZCV of the saved PSTATE: EL0t with interrupts
// unmasked, always), SP_EL0, TPIDR_EL0 and the general registers, and returns to EL0.
.global restore_context
restore_context:
    msr     daifset, #0b0010
    mov     sp, x0
    LOAD_CONTEXT_COMMON
    ldp     x2, x3, [sp, #16 * 1]
    ldp     x4, x5, [sp, #16 * 2]
    ldp     x6, x7, [sp, #16 * 3]
    ldp     x18, x19, [sp, #16 * 9]
    ldp     x0, x1, [sp, #16 * 0]
    eret

trap_entry:
    stp     x2, x3, [sp, #16 * 1]
    stp     x4, x5, [sp, #16 * 2]
    stp     x6, x7, [sp, #16 * 3]
    stp     x8, x9, [sp, #16 * 4]
    stp     x10, x11, [sp, #16 * 5]
    stp     x12, x13, [sp, #16 * 6]
    stp     x14, x15, [sp, #16 * 7]
    stp     x16, x17, [sp, #16 * 8]
    stp     x18, x19, [sp, #16 * 9]
    stp     x20, x21, [sp, #16 * 10]
    stp     x22, x23, [sp, #16 * 11]
    stp     x24, x25, [sp, #16 * 12]
    stp     x26, x27, [sp, #16 * 13]
    stp     x28, x29, [sp, #16 * 14]
    mrs     x2, sp_el0
    stp     x30, x2, [sp, #{OFFSET_X30}]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x2, x3, [sp, #{OFFSET_ELR}]
    mrs     x2, esr_el1
    mrs     x3, far_el1
    stp     x2, x3, [sp, #{OFFSET_ESR}]
    mov     x0, sp
    bl      handle_exception

// Restore the frame at sp, pop it and return from the exception. Entered with IRQs masked.
exception_return:
    ldp     x2, x3, [sp, #{OFFSET_ELR}]
    msr     elr_el1, x2
    msr     spsr_el1, x3
    ldp     x30, x2, [sp, #{OFFSET_X30}]
    msr     sp_el0, x2
    ldp     x0, x1, [sp, #16 * 0]
    ldp     x2, x3, [sp, #16 * 1]
    ldp     x4, x5, [sp, #16 * 2]
    ldp     x6, x7, [sp, #16 * 3]
    ldp     x8, x9, [sp, #16 * 4]
    ldp     x10, x11, [sp, #16 * 5]
    ldp     x12, x13, [sp, #16 * 6]
    ldp     x14, x15, [sp, #16 * 7]
    ldp     x16, x17, [sp, #16 * 8]
    ldp     x18, x19, [sp, #16 * 9]
    ldp     x20, x21, [sp, #16 * 10]
    ldp     x22, x23, [sp, #16 * 11]
    ldp     x24, x25, [sp, #16 * 12]
    ldp     x26, x27, [sp, #16 * 13]
    ldp     x28, x29, [sp, #16 * 14]
    add     sp, sp, #{FRAME_SIZE}
    eret
