// boot.s: the first instructions the kernel runs, from the arm64 Image header to Rust.
//
// Why this much assembly and no more: until the MMU is on, code runs at whatever physical
// address QEMU's loader chose, while Rust is linked for the high half. So this file does only
// what cannot run as Rust: leave EL2 if we were entered there, build throw-away page tables
// (kernel image at its link address in TTBR1, an identity map of the kernel's and the DTB's
// gigabytes in TTBR0), turn the MMU on, jump high, clear .bss and call `kernel_main`.
// Everything else (the real page tables with W^X, the linear map, devices) is Rust.
//
// Register contract on entry (Linux arm64 boot protocol, which QEMU follows for an Image):
//   x0 = physical address of the DTB, x1..x3 = 0, MMU off, caches off, IRQs masked,
//   EL2 or EL1. Secondary CPUs stay powered off in PSCI until someone calls CPU_ON.
// Registers kept across this file: x19 = DTB, x20 = exception level at entry,
//   x21 = physical base of the image.

.section .text.head, "ax"
.global _start
_start:
    // The arm64 Image header (Documentation/arch/arm64/booting.rst): QEMU recognises the
    // magic, loads the image 2 MiB aligned, passes the DTB and places the initrd.
    b       primary_entry               // code0
    .long   0                           // code1
    .quad   0                           // text_offset: load at a 2 MiB boundary
    .quad   __image_size                // image_size, .bss and boot tables included
    .quad   0xa                         // flags: little endian, 4 KiB pages, anywhere in RAM
    .quad   0, 0, 0                     // reserved
    .ascii  "ARM\x64"                   // magic
    .long   0                           // reserved (PE header offset)

.section .text.boot, "ax"
primary_entry:
    mov     x19, x0
    // Only the CPU with affinity 0 boots; any other CPU that gets here (a spin-table loader)
    // is parked. SMP comes later; under PSCI the secondaries never arrive.
    mrs     x1, mpidr_el1
    mov     x2, #0xffffff
    movk    x2, #0xff, lsl #32
    and     x1, x1, x2
    cbnz    x1, park

    mrs     x20, CurrentEL
    lsr     x20, x20, #2
    cmp     x20, #2
    b.ne    at_el1
    bl      leave_el2
at_el1:
    // A known SCTLR_EL1: MMU and caches off, RES1 bits set, little endian.
    ldr     x0, ={SCTLR_EL1_RESET}
    msr     sctlr_el1, x0
    isb

    adr     x21, _start
    // The image must sit on a 2 MiB boundary: the boot map uses 2 MiB blocks.
    tst     x21, #0x1fffff
    b.ne    park

    // Zero the boot page tables (they live past .bss, outside the loaded file).
    adrp    x0, __boot_tables_start
    adrp    x1, __boot_tables_end
1:  stp     xzr, xzr, [x0], #16
    cmp     x0, x1
    b.lo    1b

    // TTBR1: L0[index of KERNEL_VIRTUAL_BASE] -> L1 -> L2 -> 2 MiB blocks of the image.
    adrp    x0, __boot_tables_start                 // L0 (high)
    add     x1, x0, #4096                           // L1 (high)
    add     x2, x0, #8192                           // L2 (high)
    orr     x3, x1, #{TABLE_DESCRIPTOR}
    str     x3, [x0, #{KERNEL_L0_INDEX} * 8]
    orr     x3, x2, #{TABLE_DESCRIPTOR}
    str     x3, [x1, #{KERNEL_L1_INDEX} * 8]
    ldr     x4, =__image_size
    add     x4, x4, #0x200, lsl #12
    sub     x4, x4, #1                              // round up to whole 2 MiB blocks
    lsr     x4, x4, #21                             // number of 2 MiB blocks
    mov     x5, x21
    ldr     x6, ={BLOCK_NORMAL}
    add     x7, x2, #{KERNEL_L2_INDEX} * 8
2:  orr     x3, x5, x6
    str     x3, [x7], #8
    add     x5, x5, #0x200000
    subs    x4, x4, #1
    b.ne    2b

    // TTBR0: identity map of the gigabyte holding the image and of the one holding the DTB,
    // with 1 GiB blocks, so that the instructions after the MMU switch and the first read
    // of the DTB work. Rust replaces all of this before any user space exists.
    add     x0, x0, #12288                          // L0 (low)
    add     x1, x0, #4096                           // L1 (low)
    orr     x3, x1, #{TABLE_DESCRIPTOR}
    str     x3, [x0]
    lsr     x4, x21, #39
    cbnz    x4, park                                // the image must sit below 512 GiB
    lsr     x4, x19, #39
    cbnz    x4, park                                // so must the DTB
    ldr     x6, ={BLOCK_NORMAL}
    lsr     x4, x21, #30
    lsl     x5, x4, #30
    orr     x3, x5, x6
    str     x3, [x1, x4, lsl #3]
    lsr     x4, x19, #30
    lsl     x5, x4, #30
    orr     x3, x5, x6
    str     x3, [x1, x4, lsl #3]

    // Translation control: 48-bit VAs in both halves, 4 KiB granules, write-back walks,
    // 16-bit ASIDs taken from TTBR0, physical address size as the CPU reports it.
    ldr     x0, ={MAIR_VALUE}
    msr     mair_el1, x0
    ldr     x0, ={TCR_VALUE}
    mrs     x1, id_aa64mmfr0_el1
    and     x1, x1, #0x7                            // PARange
    bfi     x0, x1, #32, #3                         // TCR_EL1.IPS
    msr     tcr_el1, x0
    adrp    x0, __boot_tables_start
    msr     ttbr1_el1, x0
    add     x0, x0, #12288
    msr     ttbr0_el1, x0
    tlbi    vmalle1
    dsb     nsh
    isb
    ldr     x0, ={SCTLR_EL1_MMU_ON}
    msr     sctlr_el1, x0
    isb
    ldr     x0, =high_entry
    br      x0

high_entry:
    // Now at the link address. Vectors first, so that any fault from here on is reported.
    adrp    x0, exception_vectors
    add     x0, x0, :lo12:exception_vectors
    msr     vbar_el1, x0
    adrp    x0, __stack_top
    mov     sp, x0
    adrp    x0, __bss_start
    add     x0, x0, :lo12:__bss_start
    adrp    x1, __bss_end
    add     x1, x1, :lo12:__bss_end
3:  cmp     x0, x1
    b.hs    4f
    stp     xzr, xzr, [x0], #16
    b       3b
4:  isb
    mov     x0, x19                                 // DTB, physical
    mov     x1, x21                                 // image base, physical
    mov     x2, x20                                 // exception level at entry
    bl      kernel_main
    b       park

// Drop from EL2 to EL1 (QEMU with virtualization=on). EL1 gets AArch64, the physical timer
// and counter, FP/SIMD untrapped at EL2, the GICv3 system registers if the CPU has them, and
// the real MIDR/MPIDR. Returns at EL1 to the caller (x30), with interrupts masked.
leave_el2:
    mov     x0, #(1 << 31)                          // HCR_EL2.RW: EL1 is AArch64
    msr     hcr_el2, x0
    mrs     x0, cnthctl_el2
    orr     x0, x0, #3                              // EL1PCTEN | EL1PCEN
    msr     cnthctl_el2, x0
    msr     cntvoff_el2, xzr
    mov     x0, #0x33ff                             // CPTR_EL2: RES1 bits, no traps
    msr     cptr_el2, x0
    msr     hstr_el2, xzr
    msr     vttbr_el2, xzr
    mrs     x0, midr_el1
    msr     vpidr_el2, x0
    mrs     x0, mpidr_el1
    msr     vmpidr_el2, x0
    mrs     x0, id_aa64pfr0_el1
    ubfx    x0, x0, #24, #4                         // GIC system register interface?
    cbz     x0, 5f
    mrs     x0, S3_4_C12_C9_5                       // ICC_SRE_EL2
    orr     x0, x0, #0x1                            // SRE
    orr     x0, x0, #0x8                            // Enable: EL1 may use ICC_SRE_EL1
    msr     S3_4_C12_C9_5, x0
    isb
5:  mov     x0, #0x3c5                              // EL1h, DAIF masked
    msr     spsr_el2, x0
    msr     elr_el2, x30
    eret

park:
    wfe
    b       park

// replace_ttbr1(x0 = physical address of the new TTBR1 root).
// Called at its *physical* (identity-mapped) address: while TTBR1 changes, no instruction may
// be fetched through TTBR1, and the old and new tables map the image with different block
// sizes, so the switch is break-before-make: invalidate between the two.
.global replace_ttbr1
replace_ttbr1:
    msr     ttbr1_el1, xzr
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    msr     ttbr1_el1, x0
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    ret
