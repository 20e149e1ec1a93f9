//! The PVH entry: from QEMU's 32-bit protected mode to Rust in long mode.
//!
//! QEMU enters `pvh_start32` in 32-bit protected mode with paging off and
//! `ebx` holding the physical address of the PVH start_info block. The code
//! zeroes `.bss` (page tables and stack live there), identity-maps the first
//! 4 GiB with 2 MiB pages (RAM, and the MMIO of the HPET, the APICs and PCI
//! BARs below 4 GiB), enables PAE, long mode and paging, loads a flat GDT and
//! calls [`crate::rust_main`] with the start_info address. No IDT is loaded:
//! the agent takes no interrupts, and a fault resets the machine (a triple
//! fault), which brings the agent back.

use core::arch::naked_asm;

#[repr(C, align(4096))]
struct Table([u64; 512]);

#[unsafe(link_section = ".bss.pagetables")]
static mut PML4: Table = Table([0; 512]);
#[unsafe(link_section = ".bss.pagetables")]
static mut PDPT: Table = Table([0; 512]);
#[unsafe(link_section = ".bss.pagetables")]
static mut PD: [Table; 4] = [const { Table([0; 512]) }; 4];

pvh::xen_elfnote_phys32_entry!(pvh_start32);

/// The 32-bit PVH entry point.
///
/// # Safety
/// Only QEMU's PVH loader calls this, in the machine state the PVH ABI
/// describes.
#[unsafe(naked)]
#[unsafe(no_mangle)]
#[unsafe(link_section = ".text.boot32")]
pub unsafe extern "C" fn pvh_start32() -> ! {
    naked_asm!(
        ".code32",
        "cli",
        "cld",
        "movl %ebx, %esi",
        // Zero .bss.
        "movl $__bss_start, %edi",
        "movl $__bss_end, %ecx",
        "subl %edi, %ecx",
        "xorl %eax, %eax",
        "rep stosb",
        "movl $__stack_top, %esp",
        // PML4[0] -> PDPT; PDPT[0..4] -> PD[0..4].
        "movl ${pdpt}, %eax",
        "orl $3, %eax",
        "movl %eax, {pml4}",
        "movl ${pd}, %eax",
        "orl $3, %eax",
        "movl ${pdpt}, %edi",
        "movl $4, %ecx",
        "1:",
        "movl %eax, (%edi)",
        "addl $0x1000, %eax",
        "addl $8, %edi",
        "loop 1b",
        // 2048 entries of 2 MiB: present, writable, large.
        "movl ${pd}, %edi",
        "movl $0x83, %eax",
        "movl $2048, %ecx",
        "2:",
        "movl %eax, (%edi)",
        "addl $0x200000, %eax",
        "addl $8, %edi",
        "loop 2b",
        "movl ${pml4}, %eax",
        "movl %eax, %cr3",
        // PAE on, long mode on, then paging on.
        "movl %cr4, %eax",
        "orl $0x20, %eax",
        "movl %eax, %cr4",
        "movl $0xC0000080, %ecx",
        "rdmsr",
        "orl $0x100, %eax",
        "wrmsr",
        "movl %cr0, %eax",
        "orl $0x80000001, %eax",
        "movl %eax, %cr0",
        // Flat GDT: null, 64-bit code (0x08), data (0x10).
        ".pushsection .rodata.boot, \"a\"",
        ".balign 8",
        "5: .quad 0, 0x00AF9A000000FFFF, 0x00CF92000000FFFF",
        "6: .word 23",
        ".long 5b",
        ".popsection",
        "lgdt 6b",
        "pushl $0x08",
        "pushl $3f",
        "lret",
        ".code64",
        "3:",
        "movw $0x10, %ax",
        "movw %ax, %ds",
        "movw %ax, %es",
        "movw %ax, %ss",
        "movw %ax, %fs",
        "movw %ax, %gs",
        "movl %esi, %edi",
        "call {main}",
        "4:",
        "hlt",
        "jmp 4b",
        pml4 = sym PML4,
        pdpt = sym PDPT,
        pd = sym PD,
        main = sym crate::rust_main,
        options(att_syntax),
    )
}
