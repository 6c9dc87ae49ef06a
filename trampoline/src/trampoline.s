// trampoline.s: the code page every Linux client runs: program start-up, the svc #0
// trampoline, and the way a forked child gets its parent's registers back.
//
// The OS server maps the page that holds this code, read-execute, into every client at
// protocol::layout::TRAMPOLINE_CODE. Hence its rules:
// - position-independent: the same bytes run at the server's link address and at
//   TRAMPOLINE_CODE (adr only; no absolute address of a label);
// - alone in its page: a 4 KiB-aligned section of its own, padded to 4 KiB with zero words
//   (udf #0), so no other code or data of the server leaks into the clients;
// - no data, no stack: everything it needs is in registers, in the UTCB (TPIDRRO_EL0) or in
//   the save area at a fixed address; the client's stack below SP is never touched.
// Every constant is a Rust constant passed as an operand (lib.rs), so the code cannot
// disagree with the abi and protocol crates.
//
// The three entry points sit at fixed offsets, like a vector table; the cold two branch to
// bodies further down, the hot one (the trampoline proper) runs straight through:
//   +0x000  start        a new program: SP at argc of a Linux initial stack
//   +0x100  fork_child   a forked child: everything comes from the save area
//   +0x200  entry        where the kernel resumes a thread after svc #0 (Linux-ABI mode)
//   +0xF00  exception_fork  a path-(c) process's clone, sent here by the server (cold: last)

    .section .text.trampoline, "ax", %progbits
    .balign {page_size}
    .arch_extension fp
    .arch_extension simd

// A 64-bit constant into a register: movz for the low half, movk for each other non-zero
// half, so small values cost one instruction and none is ever truncated.
    .macro trampoline_load_constant register, value
    movz \register, #((\value) & 0xffff)
    .if (((\value) >> 16) & 0xffff) != 0
    movk \register, #(((\value) >> 16) & 0xffff), lsl #16
    .endif
    .if (((\value) >> 32) & 0xffff) != 0
    movk \register, #(((\value) >> 32) & 0xffff), lsl #32
    .endif
    .if (((\value) >> 48) & 0xffff) != 0
    movk \register, #(((\value) >> 48) & 0xffff), lsl #48
    .endif
    .endm

    .global trampoline_code_page
    .hidden trampoline_code_page
trampoline_code_page:

// ---------------------------------------------------------------------------------------
// start (+0x000). The server starts a program's first thread here, after exec, with SP at
// argc; a trampoline or client library that got an exec answer jumps here with the new SP.
// In: SP = the initial stack (argc, argv[], NULL, envp[], NULL, auxv pairs up to AT_NULL).
// Out: at AT_ENTRY with SP unchanged, x0..x30 zero but x16 (which holds the entry: IP0, the
// register a branch to a "bti c" landing pad may use, and one no start-up code reads),
// NZCV, FP/SIMD registers, FPSR, FPCR and TPIDR_EL0 zero, as Linux starts a program; the
// UTCB's trampoline_entry set for the path AT_SYSTEM_CALL_PATH names (the trampoline when
// the key is missing). A missing AT_ENTRY or an unknown path is a brk the server sees as an
// exception.
    .global trampoline_start
    .hidden trampoline_start
trampoline_start:
.Ltrampoline_start:
    b .Ltrampoline_start_body

// ---------------------------------------------------------------------------------------
// fork_child (+0x100). The server starts a forked child here with nothing but a copy of
// its parent's address space, whose save area holds the parent's registers (stored by the
// trampoline or the client library before the fork call, or by the server for path (c)).
// Out: at the saved PC with the saved x1..x30, SP, NZCV, FP/SIMD registers, FPSR, FPCR and
// TPIDR_EL0, x0 = 0, and the saved trampoline_entry in the UTCB.
    .org {fork_child_offset}, 0
    .global trampoline_fork_child
    .hidden trampoline_fork_child
trampoline_fork_child:
    b .Ltrampoline_fork_child_body

// ---------------------------------------------------------------------------------------
// entry (+0x200): the trampoline proper. The kernel stored x0..x30, SP, the PC after the
// svc #0 and PSTATE in the UTCB's reflected_trap and resumed the thread here with every
// register as it was: x8 = the Linux system call number, x0..x5 = its arguments.
// Every general register and NZCV come back from reflected_trap when the thread resumes,
// so all of them are free here; the FP/SIMD registers do not, so they are only read.
    .org {entry_offset}, 0
    .global trampoline_entry
    .hidden trampoline_entry
trampoline_entry:
.Ltrampoline_entry:
    cmp x8, #{clone}
    b.eq .Ltrampoline_save_for_fork
    cmp x8, #{clone3}
    b.eq .Ltrampoline_save_for_fork
.Ltrampoline_forward:
    // ipc call to the server: MR0 = the SystemCall tag, MR1 = the number, MR2..MR7 = x0..x5.
    // Moved from the top down, so that no argument is overwritten before it is moved.
    mov x7, x5
    mov x6, x4
    mov x5, x3
    mov x4, x2
    mov x3, x1
    mov x2, x0
    mov x1, x8
    trampoline_load_constant x0, {system_call_tag}
    mrs x16, tpidrro_el0
    ldr x8, [x16, #{utcb_pager}]
    cbz x8, .Ltrampoline_server_unreachable
    mov x9, x8
    trampoline_load_constant x10, {timeouts_never}
    svc #{ipc}
.Ltrampoline_answered:
    // x9 = error code; otherwise x0 = the answer's tag, x1 = its MR1.
    cbnz x9, .Ltrampoline_call_failed
    and x12, x0, #{tag_shape_mask}
    cmp x12, #{answer_shape}
    b.ne .Ltrampoline_unknown_answer
    lsr x11, x0, #{label_shift}
    cmp x11, #{result_label}
    b.ne .Ltrampoline_not_a_result
.Ltrampoline_result:
    // x1 = the value for x0.
    mrs x16, tpidrro_el0
    str x1, [x16, #{utcb_reflected_trap}]
.Ltrampoline_resume:
    // x16 = the UTCB. lthread_ex_regs(myself, RESUME_REFLECTED_TRAP) does not return.
    ldr x0, [x16, #{utcb_my_thread_id}]
    trampoline_load_constant x1, {resume_reflected_trap}
    svc #{lthread_ex_regs}
    brk #{resume_refused}

.Ltrampoline_not_a_result:
    trampoline_load_constant x13, {exec_label}
    cmp x11, x13
    b.ne .Ltrampoline_unknown_answer
    // execve succeeded: the calling program is gone; x1 = the new program's SP.
    mov sp, x1
    b .Ltrampoline_start

.Ltrampoline_unknown_answer:
    brk #{unknown_answer}

.Ltrampoline_call_failed:
    // Cancelled by lthread_ex_regs without being redirected: a cancelled send sent nothing,
    // so send again; a cancelled receive comes after the server got the call, so only wait
    // for its answer again (sending twice would run the call twice). Any other error means
    // the server is gone or is not a thread: the call fails with ENOSYS.
    cmp x9, #{send_cancelled}
    b.eq .Ltrampoline_send_again
    cmp x9, #{receive_cancelled}
    b.eq .Ltrampoline_receive_again
.Ltrampoline_server_unreachable:
    mov x1, #{server_unreachable_result}
    b .Ltrampoline_result

.Ltrampoline_send_again:
    mrs x16, tpidrro_el0
    add x15, x16, #{utcb_reflected_trap}
    ldp x0, x1, [x15, #0]
    ldp x2, x3, [x15, #16]
    ldp x4, x5, [x15, #32]
    ldr x8, [x15, #64]
    b .Ltrampoline_forward

.Ltrampoline_receive_again:
    mrs x16, tpidrro_el0
    mov x8, #{nil}
    ldr x9, [x16, #{utcb_pager}]
    cbz x9, .Ltrampoline_server_unreachable
    trampoline_load_constant x10, {timeouts_never}
    svc #{ipc}
    b .Ltrampoline_answered

.Ltrampoline_save_for_fork:
    // clone or clone3: store the frame at the svc, the FP/SIMD registers, this thread's
    // trampoline_entry and its TPIDR_EL0 in the save area, for the child's fork_child. x0..x5
    // and x8 stay untouched for the forward.
    mrs x16, tpidrro_el0
    trampoline_load_constant x17, {save_area}
    add x15, x16, #{utcb_reflected_trap}
    .irp offset, 0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256
    ldp x9, x10, [x15, #\offset]
    stp x9, x10, [x17, #{save_frame} + \offset]
    .endr
.Ltrampoline_save_state_and_forward:
    // x16 = the UTCB, x17 = the save area; the frame is in place in both.
    add x15, x17, #{save_fp}
    stp q0, q1, [x15, #0]
    stp q2, q3, [x15, #32]
    stp q4, q5, [x15, #64]
    stp q6, q7, [x15, #96]
    stp q8, q9, [x15, #128]
    stp q10, q11, [x15, #160]
    stp q12, q13, [x15, #192]
    stp q14, q15, [x15, #224]
    stp q16, q17, [x15, #256]
    stp q18, q19, [x15, #288]
    stp q20, q21, [x15, #320]
    stp q22, q23, [x15, #352]
    stp q24, q25, [x15, #384]
    stp q26, q27, [x15, #416]
    stp q28, q29, [x15, #448]
    stp q30, q31, [x15, #480]
    mrs x9, fpsr
    str x9, [x17, #{save_fpsr}]
    mrs x9, fpcr
    str x9, [x17, #{save_fpcr}]
    ldr x9, [x16, #{utcb_trampoline_entry}]
    str x9, [x17, #{save_trampoline_entry}]
    mrs x9, tpidr_el0
    str x9, [x17, #{save_thread_pointer}]
    b .Ltrampoline_forward

// ---------------------------------------------------------------------------------------
.Ltrampoline_fork_child_body:
    // FP/SIMD registers and TPIDR_EL0 from the save area; the frame into reflected_trap with
    // x0 = 0 (the child's result of the fork); the parent's trampoline_entry; then resume.
    mrs x16, tpidrro_el0
    trampoline_load_constant x17, {save_area}
    add x15, x17, #{save_fp}
    ldp q0, q1, [x15, #0]
    ldp q2, q3, [x15, #32]
    ldp q4, q5, [x15, #64]
    ldp q6, q7, [x15, #96]
    ldp q8, q9, [x15, #128]
    ldp q10, q11, [x15, #160]
    ldp q12, q13, [x15, #192]
    ldp q14, q15, [x15, #224]
    ldp q16, q17, [x15, #256]
    ldp q18, q19, [x15, #288]
    ldp q20, q21, [x15, #320]
    ldp q22, q23, [x15, #352]
    ldp q24, q25, [x15, #384]
    ldp q26, q27, [x15, #416]
    ldp q28, q29, [x15, #448]
    ldp q30, q31, [x15, #480]
    ldr x9, [x17, #{save_fpsr}]
    msr fpsr, x9
    ldr x9, [x17, #{save_fpcr}]
    msr fpcr, x9
    ldr x9, [x17, #{save_thread_pointer}]
    msr tpidr_el0, x9
    add x15, x16, #{utcb_reflected_trap}
    .irp offset, 0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256
    ldp x9, x10, [x17, #{save_frame} + \offset]
    stp x9, x10, [x15, #\offset]
    .endr
    str xzr, [x15, #0]
    ldr x9, [x17, #{save_trampoline_entry}]
    str x9, [x16, #{utcb_trampoline_entry}]
    b .Ltrampoline_resume

// ---------------------------------------------------------------------------------------
.Ltrampoline_start_body:
    // Walk the initial stack to the auxiliary vector: past argc, argv[] and its NULL, envp[]
    // and its NULL. A garbage stack faults here, which the server sees as a page fault.
    mov x9, sp
    ldr x10, [x9], #8
    add x9, x9, x10, lsl #3
    add x9, x9, #8
.Ltrampoline_skip_environment:
    ldr x10, [x9], #8
    cbnz x10, .Ltrampoline_skip_environment
    // x12 = AT_ENTRY (0: none), x13 = AT_SYSTEM_CALL_PATH (the trampoline when missing).
    mov x12, #0
    mov x13, #{path_trampoline}
    trampoline_load_constant x14, {at_system_call_path}
.Ltrampoline_next_auxiliary_pair:
    ldp x10, x11, [x9], #16
    cbz x10, .Ltrampoline_auxiliary_end
    cmp x10, #{at_entry}
    csel x12, x11, x12, eq
    cmp x10, x14
    csel x13, x11, x13, eq
    b .Ltrampoline_next_auxiliary_pair
.Ltrampoline_auxiliary_end:
    cbz x12, .Ltrampoline_missing_entry
    adr x15, .Ltrampoline_entry
    cmp x13, #{path_trampoline}
    b.eq .Ltrampoline_path_chosen
    mov x15, #0
    cmp x13, #{path_exception}
    b.ne .Ltrampoline_unknown_path
.Ltrampoline_path_chosen:
    mrs x16, tpidrro_el0
    str x15, [x16, #{utcb_trampoline_entry}]
    // What a new program finds: zeroed FP/SIMD state and thread pointer (after an exec, the
    // old program's values would still be there), zeroed registers and flags.
    movi v0.2d, #0
    movi v1.2d, #0
    movi v2.2d, #0
    movi v3.2d, #0
    movi v4.2d, #0
    movi v5.2d, #0
    movi v6.2d, #0
    movi v7.2d, #0
    movi v8.2d, #0
    movi v9.2d, #0
    movi v10.2d, #0
    movi v11.2d, #0
    movi v12.2d, #0
    movi v13.2d, #0
    movi v14.2d, #0
    movi v15.2d, #0
    movi v16.2d, #0
    movi v17.2d, #0
    movi v18.2d, #0
    movi v19.2d, #0
    movi v20.2d, #0
    movi v21.2d, #0
    movi v22.2d, #0
    movi v23.2d, #0
    movi v24.2d, #0
    movi v25.2d, #0
    movi v26.2d, #0
    movi v27.2d, #0
    movi v28.2d, #0
    movi v29.2d, #0
    movi v30.2d, #0
    movi v31.2d, #0
    msr fpsr, xzr
    msr fpcr, xzr
    msr tpidr_el0, xzr
    mov x16, x12
    .irp register, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30
    mov x\register, #0
    .endr
    msr nzcv, xzr
    br x16

.Ltrampoline_missing_entry:
    brk #{missing_entry}
.Ltrampoline_unknown_path:
    brk #{unknown_path}

// ---------------------------------------------------------------------------------------
// exception_fork (+0xF00). A process on path (c) called clone or clone3: its svc #0 came to
// the server as an exception message, which carries the general registers but not the
// FP/SIMD registers or TPIDR_EL0. The server wrote the frame (the PC after the svc) into the
// save area and answered the exception by moving the PC here; every register is as at the
// svc. Copy the frame into the UTCB's reflected_trap (the trampoline's answer path resumes
// from there, with x0 = the result), add the state the message lacked to the save area, and
// forward the call as the trampoline does: the server then forks from a complete save area.
// This thread's trampoline_entry is 0 (path c), which the child inherits.
    .org {exception_fork_offset}, 0
    .global trampoline_exception_fork
    .hidden trampoline_exception_fork
trampoline_exception_fork:
    mrs x16, tpidrro_el0
    trampoline_load_constant x17, {save_area}
    add x15, x16, #{utcb_reflected_trap}
    .irp offset, 0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256
    ldp x9, x10, [x17, #{save_frame} + \offset]
    stp x9, x10, [x15, #\offset]
    .endr
    b .Ltrampoline_save_state_and_forward

    .purgem trampoline_load_constant
    .org {page_size}, 0
