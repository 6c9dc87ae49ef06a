// vectors.s: the EL1 exception vector table and the one path that saves and restores a
// trap frame.
//
// Each of the 16 entries saves x0/x1, records which entry was taken in x1, and branches to
// `trap_entry`, which saves the rest of the frame (layout: aarch64::trap_frame::TrapFrame,
// offsets passed in as constants) and calls `handle_exception(frame, kind)` in Rust. On
// return the (possibly modified) frame is restored by `exception_return` and `eret` resumes
// the interrupted code. The IPC fastpath of the kernel-core issue will sit beside this file.
//
// Entering EL0 for the first time (or after the kernel chose another thread) goes through the
// same restore path: `enter_user_frame` moves a frame to the top of the kernel stack and
// jumps to `exception_return`, so SP_EL1 is back at the top when EL0 next traps. Nothing else
// on the kernel stack survives that: the kernel is event-driven (docs/design/kernel-core.md).

.macro VECTOR kind
    .balign 0x80
    sub     sp, sp, #{FRAME_SIZE}
    stp     x0, x1, [sp, #0]
    mov     x1, #\kind
    b       trap_entry
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
    VECTOR 8    // lower EL, AArch64:  synchronous
    VECTOR 9    //                     IRQ
    VECTOR 10   //                     FIQ
    VECTOR 11   //                     SError
    VECTOR 12   // lower EL, AArch32:  synchronous
    VECTOR 13   //                     IRQ
    VECTOR 14   //                     FIQ
    VECTOR 15   //                     SError

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

// enter_user_frame(frame: *const TrapFrame, stack_top: u64) -> !
//
// x0: the frame to restore (8-byte aligned, anywhere in kernel memory, even on the stack
//     being abandoned); x1: the top of the kernel stack (16-byte aligned).
// Masks IRQs, copies the frame to [stack_top - FRAME_SIZE, stack_top) as memmove does (the
// direction chosen so that an overlapping source is read before it is overwritten), points
// sp at the copy and restores it through `exception_return`. Its SPSR decides where `eret`
// goes; the Rust caller (arch::enter_user) guarantees EL0t.
.global enter_user_frame
enter_user_frame:
    msr     daifset, #0b0010
    sub     x2, x1, #{FRAME_SIZE}
    mov     x3, #{FRAME_SIZE}
    cmp     x0, x2
    b.lo    2f
1:  // source at or above the destination: copy upwards
    ldp     x4, x5, [x0], #16
    stp     x4, x5, [x2], #16
    subs    x3, x3, #16
    b.ne    1b
    b       3f
2:  // source below the destination: copy downwards
    add     x0, x0, x3
    add     x2, x2, x3
4:  ldp     x4, x5, [x0, #-16]!
    stp     x4, x5, [x2, #-16]!
    subs    x3, x3, #16
    b.ne    4b
3:  sub     sp, x1, #{FRAME_SIZE}
    b       exception_return

// resume_user_context(context: *const UserContext, stack_top: u64) -> !
//
// x0: a thread's saved user registers (kcore::kernel::UserContext: x0..x30, then SP, PC,
//     PSTATE at the offsets passed in); x1: the top of the kernel stack.
// Restores the thread straight from where the kernel core keeps it, without copying a frame:
// masks IRQs, resets SP_EL1 to the top of the stack (nothing on it survives an event), loads
// ELR, SPSR (only NZCV of the saved PSTATE: EL0t with interrupts unmasked, always), SP_EL0
// and the general registers, and returns to EL0.
.global resume_user_context
resume_user_context:
    msr     daifset, #0b0010
    mov     sp, x1
    ldp     x2, x3, [x0, #{CONTEXT_PC}]
    and     x3, x3, #0xf0000000
    msr     elr_el1, x2
    msr     spsr_el1, x3
    ldr     x2, [x0, #{CONTEXT_SP}]
    msr     sp_el0, x2
    ldp     x2, x3, [x0, #16 * 1]
    ldp     x4, x5, [x0, #16 * 2]
    ldp     x6, x7, [x0, #16 * 3]
    ldp     x8, x9, [x0, #16 * 4]
    ldp     x10, x11, [x0, #16 * 5]
    ldp     x12, x13, [x0, #16 * 6]
    ldp     x14, x15, [x0, #16 * 7]
    ldp     x16, x17, [x0, #16 * 8]
    ldp     x18, x19, [x0, #16 * 9]
    ldp     x20, x21, [x0, #16 * 10]
    ldp     x22, x23, [x0, #16 * 11]
    ldp     x24, x25, [x0, #16 * 12]
    ldp     x26, x27, [x0, #16 * 13]
    ldp     x28, x29, [x0, #16 * 14]
    ldr     x30, [x0, #16 * 15]
    ldp     x0, x1, [x0]
    eret
