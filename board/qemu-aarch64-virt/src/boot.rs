//! Entry from QEMU's `-kernel` loader: EL1, MMU off, on every CPU.
//!
//! CPU 0 enables FP/SIMD (the target uses NEON for copies), sets the stack,
//! zeroes .bss, installs the exception vectors and calls `rust_main`; the
//! others park. Exceptions (none are expected: no interrupts are enabled)
//! report the syndrome on the UART and reset the machine.

use core::arch::global_asm;

global_asm!(
    r#"
    .section .text.boot, "ax"
    .global _start
_start:
    mrs     x1, mpidr_el1
    and     x1, x1, #0xff
    cbnz    x1, 3f
    mov     x1, #(3 << 20)
    msr     cpacr_el1, x1
    isb
    adrp    x1, __stack_top
    add     x1, x1, :lo12:__stack_top
    mov     sp, x1
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
1:  cmp     x1, x2
    b.hs    2f
    str     xzr, [x1], #8
    b       1b
2:  adrp    x1, __vectors
    add     x1, x1, :lo12:__vectors
    msr     vbar_el1, x1
    isb
    bl      rust_main
3:  wfe
    b       3b

    .section .text.vectors, "ax"
    .balign 0x800
__vectors:
    .set i, 0
    .rept 16
    .balign 0x80
    mov     x0, #i
    mrs     x1, esr_el1
    mrs     x2, elr_el1
    mrs     x3, far_el1
    b       exception
    .set i, i + 1
    .endr
"#
);
