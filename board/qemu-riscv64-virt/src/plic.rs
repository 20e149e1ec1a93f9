//! Interrupts as wake-ups: the PLIC and the supervisor timer, with `wfi`.
//!
//! Contract:
//! * Interrupts stay disabled at the hart (`sstatus.SIE` = 0, as OpenSBI
//!   enters) and no handler ever runs; `sie` enables the external and
//!   timer interrupts, so `wfi` ends when either is pending.
//! * The PLIC context is the boot hart's S-mode one (from the device tree:
//!   the entry of the PLIC's `interrupts-extended` that names the hart's
//!   interrupt controller with cause 9). Every source used (the NS16550,
//!   virtio-mmio) has priority 1, threshold 0.
//! * QEMU's PLIC has changed what claiming means (7.2 lets a source's
//!   pending bit follow its line; later versions latch it until claimed),
//!   so [`sleep`] works with both: it first claims and completes
//!   everything pending and, if there was anything, returns at once, so
//!   the main loop services the devices before it sleeps. A source that
//!   becomes pending after that ends the `wfi` at once: the check-then-sleep
//!   race is closed.
//! * The timer carries the agent's deadlines: armed through SBI for a
//!   sleep, disarmed after it (which clears its pending bit).

use core::arch::asm;

use crate::sbi;

/// The register map (the RISC-V PLIC specification's layout), as byte
/// offsets from the base.
mod reg {
    /// Source `irq`'s priority (0 never interrupts).
    pub const fn priority(irq: usize) -> usize {
        4 * irq
    }

    /// The enable word holding source `irq`'s bit for `context`.
    pub const fn enable(context: usize, irq: usize) -> usize {
        0x2000 + 0x80 * context + irq / 32 * 4
    }

    /// `context`'s priority threshold (a source interrupts above it).
    pub const fn threshold(context: usize) -> usize {
        0x20_0000 + 0x1000 * context
    }

    /// `context`'s claim/complete register: a read claims the highest
    /// pending source, writing its number back completes it.
    pub const fn claim(context: usize) -> usize {
        threshold(context) + 4
    }
}

/// `sie` bits: supervisor timer and external interrupts.
const SIE_STIE: usize = 1 << 5;
const SIE_SEIE: usize = 1 << 9;

/// The PLIC, as one hart's S-mode context sees it.
#[derive(Clone, Copy, Debug)]
pub struct Plic {
    /// Register base.
    pub base: usize,
    /// The context (on virt: 2 × hart + 1).
    pub context: usize,
}

fn read32(addr: usize) -> u32 {
    // SAFETY: PLIC registers, identity-mapped (the MMU is off); claim reads
    // are the only ones with an effect, and only this image makes them.
    unsafe { core::ptr::read_volatile(addr as *const u32) }
}

fn write32(addr: usize, v: u32) {
    // SAFETY: PLIC registers; this image is their only S-mode user.
    unsafe { core::ptr::write_volatile(addr as *mut u32, v) }
}

impl Plic {
    /// The boot hart's context at `base` (threshold 0), with the timer and
    /// external interrupts enabled in `sie`.
    pub fn init(base: usize, context: usize) -> Plic {
        let p = Plic { base, context };
        write32(base + reg::threshold(context), 0);
        // SAFETY: enabling interrupt sources in `sie` with `sstatus.SIE`
        // clear only lets them end `wfi`; no trap is taken.
        unsafe { asm!("csrs sie, {}", in(reg) SIE_STIE | SIE_SEIE, options(nomem, nostack)) };
        p
    }

    /// Enables source `irq` for this context.
    pub fn enable(&self, irq: u32) {
        let irq = irq as usize;
        write32(self.base + reg::priority(irq), 1);
        let word = self.base + reg::enable(self.context, irq);
        write32(word, read32(word) | 1 << (irq % 32));
    }

    /// Claims and completes every pending source; how many there were.
    fn acknowledge(&self) -> usize {
        let mut n = 0;
        let claim = self.base + reg::claim(self.context);
        // Bounded: a source re-pends only when its device asserts anew.
        for _ in 0..64 {
            let id = read32(claim);
            if id == 0 {
                break;
            }
            write32(claim, id);
            n += 1;
        }
        n
    }
}

/// The `time` counter.
pub fn time() -> u64 {
    let t: u64;
    // SAFETY: reading the time CSR has no side effects.
    unsafe { asm!("rdtime {}", out(reg) t, options(nomem, nostack)) };
    t
}

/// Sleeps until a source is pending or at most `max_ns` (see the module
/// contract); `ticks_per_s` is the `time` counter's rate.
pub fn sleep(plic: &Plic, max_ns: Option<u64>, ticks_per_s: u64, time_ext: bool) {
    if max_ns == Some(0) || plic.acknowledge() > 0 {
        return;
    }
    if let Some(ns) = max_ns {
        let ticks = (u128::from(ns) * u128::from(ticks_per_s) / 1_000_000_000).max(1);
        let ticks = u64::try_from(ticks).unwrap_or(u64::MAX);
        sbi::set_timer(time().saturating_add(ticks), time_ext);
    }
    // SAFETY: `wfi` waits for a pending interrupt enabled in `sie`
    // (`sstatus.SIE` is clear, so none is taken).
    unsafe { asm!("wfi", options(nomem, nostack)) };
    if max_ns.is_some() {
        sbi::set_timer(u64::MAX, time_ext);
    }
}
