//! The MMU with an identity map, so memory types and alignment rules are
//! those of real hardware: with the MMU off every access is Device memory,
//! where unaligned accesses and exclusives (atomics) are not allowed.
//!
//! One level-1 table of 1 GiB blocks covers the 4 GiB the virt machine uses
//! below its high PCIe window: 0–1 GiB devices (flash, GIC, UART, RTC,
//! virtio-mmio), 1–2 GiB RAM as normal write-back memory, 2–4 GiB devices
//! (PCIe).

use core::arch::asm;

/// Level-1 translation table (only the first 4 entries are used: T0SZ=32).
#[repr(C, align(4096))]
struct Table([u64; 512]);

#[unsafe(link_section = ".bss.pagetables")]
static mut L1: Table = Table([0; 512]);

const VALID_BLOCK: u64 = 0b01;
const ATTR_DEVICE: u64 = 0 << 2;
const ATTR_NORMAL: u64 = 1 << 2;
const INNER_SHAREABLE: u64 = 0b11 << 8;
const ACCESS_FLAG: u64 = 1 << 10;
const PXN: u64 = 1 << 53;
const UXN: u64 = 1 << 54;

/// MAIR: attribute 0 Device-nGnRnE, attribute 1 Normal write-back.
const MAIR: u64 = 0xFF << 8;
/// TCR: T0SZ=32 (4 GiB, walks start at level 1), inner/outer write-back
/// walks, inner shareable, 4 KiB granule, no TTBR1 walks, 36-bit PA.
const TCR: u64 = 32 | (0b01 << 8) | (0b01 << 10) | (0b11 << 12) | (1 << 23) | (0b001 << 32);

/// Builds the map and turns the MMU and caches on.
///
/// # Safety
/// Called once, early, at EL1 with the MMU off; RAM is 1–2 GiB.
pub unsafe fn enable() {
    let device = VALID_BLOCK | ATTR_DEVICE | ACCESS_FLAG | PXN | UXN;
    let normal = VALID_BLOCK | ATTR_NORMAL | INNER_SHAREABLE | ACCESS_FLAG;
    // SAFETY: nothing else uses the table; the MMU is off, so no walk sees
    // it half-written.
    let table = unsafe { &mut *core::ptr::addr_of_mut!(L1) };
    table.0[0] = device;
    table.0[1] = (1 << 30) | normal;
    table.0[2] = (2 << 30) | device;
    table.0[3] = (3 << 30) | device;
    let ttbr = core::ptr::addr_of!(L1) as u64;
    // SAFETY: standard EL1 MMU enable sequence; the identity map covers the
    // code, stack and data that run across the switch.
    unsafe {
        asm!(
            "msr mair_el1, {mair}",
            "msr tcr_el1, {tcr}",
            "msr ttbr0_el1, {ttbr}",
            "dsb ish",
            "tlbi vmalle1",
            "dsb ish",
            "isb",
            "mrs {t}, sctlr_el1",
            // M (MMU), C (data cache), I (instruction cache) on; A
            // (alignment check) off: normal memory allows unaligned access.
            "orr {t}, {t}, #(1 << 0)",
            "orr {t}, {t}, #(1 << 2)",
            "orr {t}, {t}, #(1 << 12)",
            "bic {t}, {t}, #(1 << 1)",
            "msr sctlr_el1, {t}",
            "isb",
            mair = in(reg) MAIR,
            tcr = in(reg) TCR,
            ttbr = in(reg) ttbr,
            t = out(reg) _,
            options(nostack),
        );
    }
}
