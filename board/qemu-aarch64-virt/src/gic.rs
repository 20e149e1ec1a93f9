//! Interrupts as wake-ups: the GIC (version 2, the virt machine's default,
//! or 3 with `gic-version=3`) and the generic timer, with `wfi`.
//!
//! Contract:
//! * IRQs stay masked at the CPU (PSTATE.I, as the boot code leaves it) and
//!   no handler ever runs. `wfi` ends when an enabled interrupt is pending
//!   at the GIC's CPU interface, masked or not, so the main loop's
//!   check-then-sleep race is closed by the hardware: an interrupt that
//!   became pending since the drivers last looked ends the sleep at once.
//! * Every interrupt used is level-sensitive (the PL011, virtio-mmio as
//!   QEMU drives it, the timer), so it stays pending exactly while its
//!   device asserts it. Nothing is acknowledged at the GIC: a driver that
//!   services its device drops the line.
//! * Interrupt numbers come from the device tree ([`Gic::from_dtb`]).
//! * The generic timer's virtual timer carries the agent's deadlines: armed
//!   for a sleep, disabled after it (which drops its line).

use core::arch::asm;

use nanoqga_board::dtb;

/// GIC distributor registers (byte offsets).
const GICD_CTLR: usize = 0x000;
const GICD_IGROUPR: usize = 0x080;
const GICD_ISENABLER: usize = 0x100;
const GICD_IPRIORITYR: usize = 0x400;
const GICD_ITARGETSR: usize = 0x800;
const GICD_ICFGR: usize = 0xC00;
const GICD_IROUTER: usize = 0x6000;
/// GICv2 CPU interface registers.
const GICC_CTLR: usize = 0x000;
const GICC_PMR: usize = 0x004;
/// GICv3 redistributor registers (the SGI/PPI frame is 64 KiB further).
const GICR_WAKER: usize = 0x0014;
const GICR_SGI: usize = 0x1_0000;

/// Priority of every interrupt used; the CPU interface lets through
/// anything more urgent than [`PRIORITY_MASK`].
const PRIORITY: u8 = 0x80;
const PRIORITY_MASK: u64 = 0xF0;

/// Which GIC the machine has.
#[derive(Clone, Copy, Debug)]
pub enum Gic {
    /// GICv2: distributor and CPU interface.
    V2 {
        /// Distributor base.
        dist: usize,
        /// CPU interface base.
        cpu: usize,
    },
    /// GICv3: distributor and CPU 0's redistributor; the CPU interface is
    /// system registers.
    V3 {
        /// Distributor base.
        dist: usize,
        /// Redistributor base (CPU 0's frames).
        redist: usize,
    },
}

fn read32(addr: usize) -> u32 {
    // SAFETY: GIC registers, identity-mapped as device memory; reads have
    // no side effects on these registers.
    unsafe { core::ptr::read_volatile(addr as *const u32) }
}

fn write32(addr: usize, v: u32) {
    // SAFETY: GIC registers, identity-mapped as device memory; this image
    // is their only user.
    unsafe { core::ptr::write_volatile(addr as *mut u32, v) }
}

fn write8(addr: usize, v: u8) {
    // SAFETY: as in `write32` (the priority and target registers are
    // byte-accessible).
    unsafe { core::ptr::write_volatile(addr as *mut u8, v) }
}

fn write64(addr: usize, v: u64) {
    // SAFETY: as in `write32` (GICD_IROUTER is 64 bits wide).
    unsafe { core::ptr::write_volatile(addr as *mut u64, v) }
}

/// The GIC interrupt id of a 3-cell `interrupts` specifier (`<type number
/// flags>`: type 0 is an SPI, 1 a PPI).
pub fn intid(kind: u32, number: u32) -> u32 {
    match kind {
        0 => number + 32,
        _ => number + 16,
    }
}

/// The first interrupt of a node's `interrupts` property.
pub fn node_intid(node: &fdt::node::FdtNode<'_, '_>) -> Option<u32> {
    let mut c = dtb::interrupts(node);
    Some(intid(c.next()?, c.next()?))
}

/// The virtual timer's interrupt: the third of the timer node's four.
pub fn timer_intid(fdt: &fdt::Fdt<'_>) -> Option<u32> {
    let node = fdt.find_compatible(&["arm,armv8-timer", "arm,armv7-timer"])?;
    let v: heapless::Vec<u32, 12> = dtb::interrupts(&node).collect();
    Some(intid(*v.get(6)?, *v.get(7)?))
}

/// Reads a `reg` entry's address.
fn reg(node: &fdt::node::FdtNode<'_, '_>, i: usize) -> Option<usize> {
    Some(node.reg()?.nth(i)?.starting_address as usize)
}

impl Gic {
    /// The GIC the device tree describes.
    pub fn from_dtb(fdt: &fdt::Fdt<'_>) -> Option<Gic> {
        if let Some(n) = fdt.find_compatible(&["arm,gic-v3"]) {
            return Some(Gic::V3 {
                dist: reg(&n, 0)?,
                redist: reg(&n, 1)?,
            });
        }
        let n = fdt.find_compatible(&["arm,cortex-a15-gic", "arm,gic-400", "arm,cortex-a9-gic"])?;
        Some(Gic::V2 {
            dist: reg(&n, 0)?,
            cpu: reg(&n, 1)?,
        })
    }

    /// The virt machine's GICv2 at its fixed addresses (no device tree).
    pub const VIRT_V2: Gic = Gic::V2 {
        dist: 0x0800_0000,
        cpu: 0x0801_0000,
    };

    /// Enables the distributor and CPU 0's interface; no interrupt is
    /// enabled yet.
    pub fn init(&self) {
        match *self {
            Gic::V2 { dist, cpu } => {
                write32(dist + GICD_CTLR, 1);
                write32(cpu + GICC_PMR, PRIORITY_MASK as u32);
                write32(cpu + GICC_CTLR, 1);
            }
            Gic::V3 { dist, redist } => {
                // Affinity routing, both groups (single security state).
                write32(dist + GICD_CTLR, 1 << 4);
                wait_rwp(dist);
                write32(dist + GICD_CTLR, (1 << 4) | 0b11);
                wait_rwp(dist);
                // Wake CPU 0's redistributor.
                let waker = read32(redist + GICR_WAKER) & !(1 << 1);
                write32(redist + GICR_WAKER, waker);
                for _ in 0..1_000_000 {
                    if read32(redist + GICR_WAKER) & (1 << 2) == 0 {
                        break;
                    }
                    core::hint::spin_loop();
                }
                // SAFETY: the GICv3 CPU interface registers at EL1: system
                // register access on, priority mask, group 1 signalled.
                unsafe {
                    let mut sre: u64;
                    asm!("mrs {}, S3_0_C12_C12_5", out(reg) sre, options(nomem, nostack));
                    sre |= 1;
                    asm!("msr S3_0_C12_C12_5, {}", "isb", in(reg) sre, options(nomem, nostack));
                    asm!("msr S3_0_C4_C6_0, {}", in(reg) PRIORITY_MASK, options(nomem, nostack));
                    asm!("msr S3_0_C12_C12_7, {}", "isb", in(reg) 1u64, options(nomem, nostack));
                }
            }
        }
    }

    /// Lets interrupt `id` (a PPI or SPI) wake the CPU: level-sensitive,
    /// routed to CPU 0.
    pub fn enable(&self, id: u32) {
        let i = id as usize;
        let (word, bit) = (i / 32 * 4, 1u32 << (i % 32));
        match *self {
            Gic::V2 { dist, .. } => {
                write8(dist + GICD_IPRIORITYR + i, PRIORITY);
                if id >= 32 {
                    write8(dist + GICD_ITARGETSR + i, 0x01);
                    level(dist, i);
                }
                write32(dist + GICD_ISENABLER + word, bit);
            }
            Gic::V3 { dist, redist } => {
                if id < 32 {
                    let sgi = redist + GICR_SGI;
                    write32(sgi + GICD_IGROUPR, read32(sgi + GICD_IGROUPR) | bit);
                    write8(sgi + GICD_IPRIORITYR + i, PRIORITY);
                    write32(sgi + GICD_ISENABLER, bit);
                } else {
                    write32(
                        dist + GICD_IGROUPR + word,
                        read32(dist + GICD_IGROUPR + word) | bit,
                    );
                    write8(dist + GICD_IPRIORITYR + i, PRIORITY);
                    level(dist, i);
                    write64(dist + GICD_IROUTER + i * 8, 0);
                    write32(dist + GICD_ISENABLER + word, bit);
                    wait_rwp(dist);
                }
            }
        }
    }
}

/// Marks SPI `i` level-sensitive (two configuration bits per interrupt;
/// the high one set means edge).
fn level(dist: usize, i: usize) {
    let addr = dist + GICD_ICFGR + i / 16 * 4;
    write32(addr, read32(addr) & !(2 << (i % 16 * 2)));
}

/// Waits for a GICv3 distributor write to take effect (bounded).
fn wait_rwp(dist: usize) {
    for _ in 0..1_000_000 {
        if read32(dist + GICD_CTLR) & (1 << 31) == 0 {
            return;
        }
        core::hint::spin_loop();
    }
}

/// Sleeps until an enabled interrupt is pending or `max_ns` passes (see the
/// module documentation).
pub fn sleep(max_ns: Option<u64>) {
    match max_ns {
        Some(0) => return,
        Some(ns) => {
            let freq: u64;
            let now: u64;
            // SAFETY: reading the counter and its frequency has no side
            // effects.
            unsafe {
                asm!("mrs {}, cntfrq_el0", out(reg) freq, options(nomem, nostack));
                asm!("isb", "mrs {}, cntvct_el0", out(reg) now, options(nomem, nostack));
            }
            let ticks = (u128::from(ns) * u128::from(freq.max(1)) / 1_000_000_000)
                .clamp(1, u128::from(u32::MAX)) as u64;
            // SAFETY: the virtual timer belongs to this image: compare
            // value, then enabled with its interrupt unmasked.
            unsafe {
                asm!("msr cntv_cval_el0, {}", in(reg) now.wrapping_add(ticks), options(nomem, nostack));
                asm!("msr cntv_ctl_el0, {}", "isb", in(reg) 1u64, options(nomem, nostack));
            }
        }
        None => {}
    }
    // SAFETY: `wfi` waits for a pending interrupt (IRQs stay masked, so
    // none is taken); then the timer is switched off, dropping its line.
    unsafe {
        asm!("dsb sy", "wfi", options(nomem, nostack));
        asm!("msr cntv_ctl_el0, {}", "isb", in(reg) 0u64, options(nomem, nostack));
    }
}
