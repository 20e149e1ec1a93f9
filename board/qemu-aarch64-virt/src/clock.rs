//! Time: the generic timer's virtual counter for uptime and sub-second
//! steps, the PL031 RTC (0x0901_0000, whole seconds, UTC) for the wall clock.
//!
//! Contract: `now_ns` is the RTC's seconds at boot plus counter time since,
//! aligned to the RTC's next second edge once `tick` has seen one (so the
//! wall clock is not up to a second behind); `set_ns` writes the RTC's
//! whole seconds and keeps the rest in the anchor, so `guest-get-time`
//! returns what was set plus elapsed time.

use core::arch::asm;

use nanoqga_board::WallClock;

/// While the clock looks for the RTC's second edge (at most a second after
/// boot), the main loop runs at least this often: the edge, and so the
/// wall clock, is known to within it.
const EDGE_WATCH_NS: u64 = 1_000_000;

const RTC: usize = 0x0901_0000;
const RTC_DR: usize = 0x00;
const RTC_LR: usize = 0x08;
const RTC_CR: usize = 0x0C;

/// The virtual counter.
fn counter() -> u64 {
    let v: u64;
    // SAFETY: reading CNTVCT_EL0 is allowed at EL1 and has no side effects;
    // the isb keeps it from being read early.
    unsafe { asm!("isb", "mrs {}, cntvct_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// The counter's frequency in Hz.
fn frequency() -> u64 {
    let v: u64;
    // SAFETY: reading CNTFRQ_EL0 has no side effects.
    unsafe { asm!("mrs {}, cntfrq_el0", out(reg) v, options(nomem, nostack)) };
    v.max(1)
}

fn ticks_to_ns(ticks: u64) -> u64 {
    (u128::from(ticks) * 1_000_000_000 / u128::from(frequency())) as u64
}

/// Nanoseconds since the machine started (the counter starts at 0).
pub fn uptime_ns() -> u64 {
    ticks_to_ns(counter())
}

fn rtc_read() -> u32 {
    // SAFETY: the PL031's data register, identity-mapped device memory.
    unsafe { core::ptr::read_volatile((RTC + RTC_DR) as *const u32) }
}

fn rtc_write(offset: usize, value: u32) {
    // SAFETY: a PL031 register; this image is the RTC's only user.
    unsafe { core::ptr::write_volatile((RTC + offset) as *mut u32, value) }
}

/// The wall clock.
pub struct Clock {
    anchor_ns: i64,
    anchor_ticks: u64,
    synced: bool,
    last_sec: u32,
}

impl Clock {
    /// Starts the RTC (if stopped) and reads it.
    pub fn init() -> Clock {
        rtc_write(RTC_CR, 1);
        let s = rtc_read();
        Clock {
            anchor_ns: i64::from(s) * 1_000_000_000,
            anchor_ticks: counter(),
            synced: false,
            last_sec: s,
        }
    }
}

impl WallClock for Clock {
    /// Watches for the RTC's next second edge until aligned (asking to be
    /// called again within [`EDGE_WATCH_NS`], so a sleeping board still
    /// catches the edge to within that). Cheap (one register read) and a
    /// no-op once aligned.
    fn tick(&mut self) -> Option<u64> {
        if self.synced {
            return None;
        }
        let s = rtc_read();
        if s != self.last_sec {
            self.anchor_ns = i64::from(s) * 1_000_000_000;
            self.anchor_ticks = counter();
            self.synced = true;
            return None;
        }
        self.last_sec = s;
        Some(EDGE_WATCH_NS)
    }

    /// Nanoseconds since the epoch.
    fn now_ns(&self) -> i64 {
        let dt = ticks_to_ns(counter().wrapping_sub(self.anchor_ticks));
        self.anchor_ns
            .saturating_add(i64::try_from(dt).unwrap_or(i64::MAX))
    }

    /// Sets the time: the RTC gets the whole seconds (it holds 32 bits,
    /// until 2106), the anchor keeps the rest.
    fn set_ns(&mut self, ns: i64) {
        let secs = ns.div_euclid(1_000_000_000);
        rtc_write(RTC_LR, u32::try_from(secs).unwrap_or(u32::MAX));
        self.anchor_ns = ns;
        self.anchor_ticks = counter();
        self.synced = true;
        self.last_sec = rtc_read();
    }

    /// Re-reads the RTC (`guest-set-time` without a time).
    fn resync(&mut self) {
        let s = rtc_read();
        self.anchor_ns = i64::from(s) * 1_000_000_000;
        self.anchor_ticks = counter();
        self.synced = false;
        self.last_sec = s;
    }
}
