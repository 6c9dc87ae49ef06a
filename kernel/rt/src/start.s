/* start.s: the first instructions of every EL0 program of ours.
 *
 * The kernel starts thread 0 here (the ELF entry, ENTRY(_start) in link.ld) with
 *   SP_EL0      = the top of the thread's stack,
 *   x0          = the address of the kernel interface page, or 0 if the task has none,
 *   TPIDRRO_EL0 = the thread's UTCB,
 * and every other register zero. Segments are loaded and .bss is zero: nothing to set up
 * but the call into Rust. __rt_start never returns (it halts the thread). */

    .section .text._start, "ax", %progbits
    .global _start
    .type _start, %function
_start:
    mov     x29, xzr                /* no caller frame: backtraces end here */
    mov     x30, xzr
    mov     x1, sp                  /* the AAPCS64 wants SP 16-byte aligned at every call */
    and     x1, x1, #~0xf
    mov     sp, x1
    bl      __rt_start              /* x0 = kernel interface page address or 0 */
1:  brk     #0                      /* unreachable: __rt_start returns `!` */
    b       1b
    .size _start, . - _start
