// fastpath.s: the IPC fastpath's hit case, and the way back to EL0 from any fastpath.
//
// kcore's `Kernel::ipc_fastpath` is the fastpath's definition and is host-tested against the
// general path. This is its common case done again in asm over the layout kcore publishes
// (`kcore::kernel::FastpathLayout`, every offset and encoding passed in as a constant): a
// register-only call or reply-and-wait to a thread that waits for it, found through the ID
// cache. It takes no lock and calls nothing. When any check fails it changes nothing and
// calls `ipc_fastpath` (Rust), which decides again: it completes the cases this code leaves
// out (a stale switch cache, which only Rust refreshes) or declines, and then the general
// path runs.
//
// Entered from el0_synchronous (vectors.s) for `svc #1`, after SAVE_CONTEXT, with
//   x19 = the sender's context, which is also its TCB (kcore: `Thread` is repr(C), its
//         context first), and the current thread;
//   x0 = the tag (MR0), x4..x7 = MR4..MR7, x8 = destination, x9 = receive specifier,
//   x10 = timeouts, as the sender left them (SAVE_CONTEXT and the vector used x1..x3).
// Scratch: x11..x17 (the receiver's come back from its context at the exit).
//
// The checks, all of kcore's (fastpath.rs has the reasons):
//   tag: at most 7 untyped words, nothing typed, no flags; receive timeout never;
//   the cache entry of the destination names a live thread other than the sender whose ID
//   is the destination, and it waits for the sender or for anyone (`fast_sender`);
//   a call (specifier = destination), or an open wait with nothing queued or attached;
//   sender and receiver in one clan; nobody ready above the receiver's priority; the
//   receiver's remembered TTBR0 value from this ASID generation.

ipc_fast:
    tst     x0, #{SLOW_TAG_BITS}
    b.ne    ipc_fast_miss
    cmn     w10, #1                             // receive timeout (low half) never?
    b.ne    ipc_fast_miss
    adrp    x11, {FASTPATH_KERNEL}
    ldr     x11, [x11, :lo12:{FASTPATH_KERNEL}]
    cbz     x11, ipc_fast_miss                  // x11: the kernel (null: not running yet)
    ldr     x12, [x11, #{K_ID_CACHE}]
    lsr     x13, x8, #{ID_SHIFT_A}
    eor     x13, x13, x8, lsr #{ID_SHIFT_B}
    and     x13, x13, #{ID_CACHE_MASK}
    ldr     x12, [x12, x13, lsl #3]             // x12: the receiver's TCB, or 0
    cbz     x12, ipc_fast_miss
    cmp     x12, x19
    b.eq    ipc_fast_miss
    ldr     x13, [x12, #{T_ID}]
    cmp     x13, x8
    b.ne    ipc_fast_miss
    ldr     x14, [x19, #{T_ID}]                 // x14: the sender's ID
    ldr     x13, [x12, #{T_FAST_SENDER}]
    cmp     x13, x14
    ccmn    x13, #1, #0b0100, ne                // ... or ANY (all ones)
    b.ne    ipc_fast_miss
    cmp     x9, x8
    b.ne    ipc_fast_open_wait
ipc_fast_clan:
    ldrh    w15, [x19, #{T_CLAN_CHIEF}]
    ldrh    w16, [x12, #{T_CLAN_CHIEF}]
    cmp     w15, w16
    b.ne    ipc_fast_clan_other
ipc_fast_priority:
    ldrb    w15, [x12, #{T_PRIORITY}]
    ldrsh   w16, [x11, #{K_HIGHEST_READY}]
    cmp     w16, w15
    b.gt    ipc_fast_miss
    ldp     x15, x16, [x12, #{T_SWITCH}]        // x15: TTBR0 value, x16: its epoch
    adrp    x17, {ASID_GENERATION}
    ldr     x17, [x17, :lo12:{ASID_GENERATION}]
    cmp     x16, x17
    b.ne    ipc_fast_miss

    // Commit: nothing below fails. The sender waits for the receiver (a call) or anyone.
    ldr     w16, [x12, #{T_SLOT}]
    mov     x13, #{STATE_RECEIVING_FROM_ANY}
    eor     x17, x13, #{STATE_RECEIVING_FROM_THREAD_BIT}
    cmp     x9, x8
    csel    x13, x17, x13, eq
    csinv   x17, x8, xzr, eq                    // fast_sender: the receiver, or ANY
    str     x13, [x19, #{T_STATE}]
    str     w16, [x19, #{T_STATE_SLOT}]
    str     x17, [x19, #{T_FAST_SENDER}]
    // The receiver runs, with x8 = the sender and x9 = 0 (no error).
    mov     w13, #{STATE_READY}
    strb    w13, [x12, #{T_STATE}]
    str     xzr, [x12, #{T_FAST_SENDER}]        // NIL
    stp     x14, xzr, [x12, #{CONTEXT_X8}]
    str     x12, [x11, #{K_CURRENT_TCB}]
    str     w16, [x11, #{K_CURRENT_SLOT}]
    // Its address space, UTCB and FP access (the FP unit may hold someone else's).
    msr     ttbr0_el1, x15
    ldr     x13, [x12, #{T_UTCB}]
    msr     tpidrro_el0, x13
    ldr     x13, [x11, #{K_FP_OWNER_TCB}]
    mov     x16, #{FPEN_TRAP_EL0}
    mov     x17, #{FPEN_NO_TRAP}
    cmp     x13, x12
    csel    x16, x17, x16, eq
    msr     cpacr_el1, x16
    mov     sp, x12

// The way back to EL0 after a fastpath: sp = the receiver's context, x19 = the sender's,
// whose x0..x7 are the message, the receiver's x0..x7 (kcore::kernel::FastSwitch).
// Everything else comes from the receiver's context, as in restore_context; IRQs are still
// masked from the exception entry.
fastpath_exit:
    LOAD_CONTEXT_COMMON
    ldp     x0, x1, [x19, #16 * 0]
    ldp     x2, x3, [x19, #16 * 1]
    ldp     x4, x5, [x19, #16 * 2]
    ldp     x6, x7, [x19, #16 * 3]
    ldp     x18, x19, [sp, #16 * 9]
    eret

// A reply-and-wait: the receive must be an open wait with nothing to take at once.
ipc_fast_open_wait:
    cmn     x9, #1
    b.ne    ipc_fast_miss
    ldr     x15, [x19, #{T_QUEUED_SENDERS}]     // queued senders, attached interrupts
    cbnz    x15, ipc_fast_miss
    b       ipc_fast_clan

// Different chiefs (w15: the sender's, w16: the receiver's): still one clan if the sender's
// task is the receiver's chief, the receiver's task the sender's chief, or both one task.
ipc_fast_clan_other:
    ubfx    x17, x14, #{TASK_SHIFT}, #16        // the sender's task
    cmp     w16, w17
    b.eq    ipc_fast_priority
    ubfx    x13, x8, #{TASK_SHIFT}, #16         // the receiver's task
    cmp     w15, w13
    b.eq    ipc_fast_priority
    cmp     w17, w13
    b.eq    ipc_fast_priority

// Not the hit case: kcore decides (x19 survives the call). It returns the receiver's
// context with everything switched, or null for the general path.
ipc_fast_miss:
    bl      ipc_fastpath
    cbz     x0, el0_synchronous_general
    mov     sp, x0
    b       fastpath_exit
