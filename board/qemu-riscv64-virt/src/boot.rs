//! Entry from OpenSBI: S-mode, MMU off, `a0` = hart id, `a1` = the device
//! tree's address.
//!
//! The boot hart sets the stack, switches the FPU on (`sstatus.FS` =
//! Initial: the target is rv64gc, and the FPU is off at entry), points
//! `stvec` at a handler that reports and resets (no trap is expected:
//! interrupts only end `wfi`, `sstatus.SIE` stays 0), zeroes .bss and calls
//! `rust_main(hart, dtb)`. OpenSBI starts no other hart.

use core::arch::global_asm;

global_asm!(
    r#"
    .section .text.boot, "ax"
    .global _start
_start:
    la      sp, __stack_top
    li      t0, 0x2000
    csrs    sstatus, t0
    la      t0, 3f
    csrw    stvec, t0
    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sd      zero, 0(t0)
    addi    t0, t0, 8
    j       1b
2:  call    rust_main
    .balign 4
3:  csrr    a0, scause
    csrr    a1, sepc
    csrr    a2, stval
    j       trap
"#
);
