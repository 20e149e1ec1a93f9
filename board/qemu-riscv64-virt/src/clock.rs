//! Time: the `time` counter for uptime and the agent's deadlines, the
//! goldfish RTC (virt's `google,goldfish-rtc`) for the wall clock.
//!
//! Contract: the RTC counts nanoseconds since the epoch (UTC) on QEMU's
//! clock, so `now_ns` reads it directly (low word first, which latches the
//! high word); `set_ns` writes it (high word, then low, which sets it), so
//! `guest-get-time` returns what was set plus elapsed time. QEMU starts it
//! from the host's time in whole seconds.

use core::sync::atomic::{AtomicU64, Ordering};

use nanoqga_board::WallClock;

use crate::plic;

/// The `time` counter's rate (the device tree's `timebase-frequency`;
/// QEMU's virt runs it at 10 MHz).
static TIMEBASE: AtomicU64 = AtomicU64::new(10_000_000);

const TIME_LOW: usize = 0x00;
const TIME_HIGH: usize = 0x04;

/// Sets the `time` counter's rate.
pub fn set_timebase(hz: u64) {
    TIMEBASE.store(hz.max(1), Ordering::Relaxed);
}

/// The `time` counter's rate.
pub fn timebase() -> u64 {
    TIMEBASE.load(Ordering::Relaxed)
}

/// Nanoseconds since the machine started (the counter starts at 0).
pub fn uptime_ns() -> u64 {
    (u128::from(plic::time()) * 1_000_000_000 / u128::from(timebase())) as u64
}

/// The wall clock: the goldfish RTC.
pub struct Clock {
    base: usize,
}

impl Clock {
    /// The RTC at `base`.
    ///
    /// # Safety
    /// `base` must be a goldfish RTC's registers, identity-mapped, used by
    /// nothing else.
    pub unsafe fn new(base: usize) -> Clock {
        Clock { base }
    }

    fn read(&self, reg: usize) -> u32 {
        // SAFETY: `new`'s contract.
        unsafe { core::ptr::read_volatile((self.base + reg) as *const u32) }
    }

    fn write(&self, reg: usize, v: u32) {
        // SAFETY: `new`'s contract.
        unsafe { core::ptr::write_volatile((self.base + reg) as *mut u32, v) }
    }
}

impl WallClock for Clock {
    fn now_ns(&self) -> i64 {
        let low = self.read(TIME_LOW);
        let high = self.read(TIME_HIGH);
        ((u64::from(high) << 32) | u64::from(low)) as i64
    }

    fn set_ns(&mut self, ns: i64) {
        let ns = ns.max(0) as u64;
        self.write(TIME_HIGH, (ns >> 32) as u32);
        self.write(TIME_LOW, ns as u32);
    }

    fn resync(&mut self) {
        // The RTC is the clock: nothing to re-read.
    }
}
