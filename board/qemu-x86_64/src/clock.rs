//! Wall clock: the CMOS RTC for seconds, the HPET counter in between.
//!
//! At boot the clock reads the RTC (whole seconds) and the HPET counter; the
//! time is then `rtc + (counter - counter_at_rtc) * period`. The RTC's
//! second is only known to within a second at boot, so while the agent polls
//! the clock watches for the RTC's seconds register to change and then
//! re-anchors on that edge: from then on the time is within the HPET's
//! precision of the RTC, without delaying boot. `guest-set-time` writes the
//! RTC (whole seconds) and keeps the sub-second part in the anchor. Without
//! an HPET the clock has one-second resolution.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::io::{inb, outb};
use nanoqga_board::WallClock;
use nanoqga_board::civil::{civil_from_days, days_from_civil};

/// While the clock looks for the RTC's second edge (at most a second after
/// boot), the main loop runs at least this often: the edge, and so the
/// wall clock, is known to within it.
const EDGE_WATCH_NS: u64 = 1_000_000;

/// HPET registers (byte offsets).
const HPET_CAP: u64 = 0x00;
const HPET_CONF: u64 = 0x10;
const HPET_COUNTER: u64 = 0xF0;

/// HPET base and period (fs per tick) for [`uptime_ns`]; 0 = none.
static HPET_BASE: AtomicU64 = AtomicU64::new(0);
static HPET_PERIOD_FS: AtomicU64 = AtomicU64::new(0);
static HPET_AT_BOOT: AtomicU64 = AtomicU64::new(0);

fn hpet_counter() -> Option<u64> {
    let base = HPET_BASE.load(Ordering::Relaxed);
    if base == 0 {
        return None;
    }
    // SAFETY: the HPET's registers are identity-mapped MMIO, found through
    // ACPI (or QEMU's fixed address) and checked at boot.
    Some(unsafe { core::ptr::read_volatile((base + HPET_COUNTER) as *const u64) })
}

fn ticks_to_ns(ticks: u64) -> u64 {
    let fs = HPET_PERIOD_FS.load(Ordering::Relaxed);
    (u128::from(ticks) * u128::from(fs) / 1_000_000) as u64
}

/// Nanoseconds since boot (0 without an HPET).
pub fn uptime_ns() -> u64 {
    match hpet_counter() {
        Some(c) => ticks_to_ns(c.wrapping_sub(HPET_AT_BOOT.load(Ordering::Relaxed))),
        None => 0,
    }
}

/// CMOS register read.
fn cmos(reg: u8) -> u8 {
    // SAFETY: 0x70/0x71 are the CMOS index and data ports; NMI stays enabled.
    unsafe {
        outb(0x70, reg & 0x7F);
        inb(0x71)
    }
}

fn cmos_write(reg: u8, value: u8) {
    // SAFETY: as for `cmos`.
    unsafe {
        outb(0x70, reg & 0x7F);
        outb(0x71, value);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct RtcTime {
    sec: u8,
    min: u8,
    hour: u8,
    day: u8,
    mon: u8,
    year: u8,
    century: u8,
}

fn read_raw() -> RtcTime {
    // Wait out an update in progress, then read until two reads agree.
    loop {
        while cmos(0x0A) & 0x80 != 0 {
            core::hint::spin_loop();
        }
        let t = RtcTime {
            sec: cmos(0x00),
            min: cmos(0x02),
            hour: cmos(0x04),
            day: cmos(0x07),
            mon: cmos(0x08),
            year: cmos(0x09),
            century: cmos(0x32),
        };
        if cmos(0x0A) & 0x80 == 0 && t.sec == cmos(0x00) {
            return t;
        }
    }
}

fn bcd(v: u8) -> u8 {
    (v >> 4) * 10 + (v & 0x0F)
}

fn to_bcd(v: u8) -> u8 {
    ((v / 10) << 4) | (v % 10)
}

/// The RTC's time in seconds since the epoch.
fn rtc_seconds() -> i64 {
    let r = read_raw();
    let b = cmos(0x0B);
    let conv = |v: u8| if b & 0x04 != 0 { v } else { bcd(v) };
    let pm = r.hour & 0x80 != 0;
    let mut hour = conv(r.hour & 0x7F);
    if b & 0x02 == 0 {
        // 12-hour mode.
        hour %= 12;
        if pm {
            hour += 12;
        }
    }
    let century = match conv(r.century) {
        c @ 19..=21 => i64::from(c),
        _ => 20,
    };
    let year = century * 100 + i64::from(conv(r.year));
    let days = days_from_civil(year, i64::from(conv(r.mon)), i64::from(conv(r.day)));
    days * 86_400 + i64::from(hour) * 3600 + i64::from(conv(r.min)) * 60 + i64::from(conv(r.sec))
}

fn write_rtc(secs: i64) {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let b = cmos(0x0B);
    let conv = |v: u8| if b & 0x04 != 0 { v } else { to_bcd(v) };
    let hour = (s / 3600) as u8;
    let hour = if b & 0x02 != 0 {
        conv(hour)
    } else {
        // 12-hour mode: 12 for midnight and noon, bit 7 for PM.
        let h12 = if hour.is_multiple_of(12) {
            12
        } else {
            hour % 12
        };
        conv(h12) | if hour >= 12 { 0x80 } else { 0 }
    };
    cmos_write(0x0B, b | 0x80); // SET: stop updates while writing
    cmos_write(0x00, conv((s % 60) as u8));
    cmos_write(0x02, conv((s / 60 % 60) as u8));
    cmos_write(0x04, hour);
    cmos_write(0x07, conv(d as u8));
    cmos_write(0x08, conv(m as u8));
    cmos_write(0x09, conv((y % 100) as u8));
    cmos_write(0x32, conv((y / 100) as u8));
    cmos_write(0x0B, b & !0x80);
}

/// The wall clock.
pub struct Clock {
    /// Epoch nanoseconds at `anchor_ticks`.
    anchor_ns: i64,
    anchor_ticks: u64,
    /// Aligned to an RTC second edge (or set by the client).
    synced: bool,
    last_rtc_sec: u8,
}

impl Clock {
    /// Starts the HPET (if `hpet` is given and answers) and reads the RTC.
    pub fn init(hpet: Option<u64>) -> Clock {
        if let Some(base) = hpet {
            // SAFETY: the HPET's registers are identity-mapped MMIO at the
            // address ACPI reports.
            let cap = unsafe { core::ptr::read_volatile((base + HPET_CAP) as *const u64) };
            let period = cap >> 32;
            // A valid period is nonzero and at most 100 ns (10^8 fs).
            if period != 0 && period <= 100_000_000 {
                // SAFETY: as above; setting ENABLE_CNF starts the counter.
                unsafe {
                    let conf = core::ptr::read_volatile((base + HPET_CONF) as *const u64);
                    core::ptr::write_volatile((base + HPET_CONF) as *mut u64, conf | 1);
                }
                HPET_PERIOD_FS.store(period, Ordering::Relaxed);
                HPET_BASE.store(base, Ordering::Relaxed);
                HPET_AT_BOOT.store(hpet_counter().unwrap_or(0), Ordering::Relaxed);
            }
        }
        let mut c = Clock {
            anchor_ns: 0,
            anchor_ticks: 0,
            synced: false,
            last_rtc_sec: cmos(0x00),
        };
        c.anchor_now(rtc_seconds());
        c
    }

    fn anchor_now(&mut self, secs: i64) {
        self.anchor_ns = secs.saturating_mul(1_000_000_000);
        self.anchor_ticks = hpet_counter().unwrap_or(0);
    }
}

impl WallClock for Clock {
    /// Watches for the RTC's next second edge until the clock is aligned
    /// (asking to be called again within [`EDGE_WATCH_NS`], so a sleeping
    /// board still catches the edge to within that). Cheap (one CMOS read)
    /// and a no-op once aligned.
    fn tick(&mut self) -> Option<u64> {
        if self.synced {
            return None;
        }
        let s = cmos(0x00);
        if s != self.last_rtc_sec && cmos(0x0A) & 0x80 == 0 {
            self.anchor_now(rtc_seconds());
            self.synced = true;
            return None;
        }
        self.last_rtc_sec = s;
        Some(EDGE_WATCH_NS)
    }

    /// Nanoseconds since the epoch.
    fn now_ns(&self) -> i64 {
        match hpet_counter() {
            Some(c) => {
                let dt = ticks_to_ns(c.wrapping_sub(self.anchor_ticks));
                self.anchor_ns
                    .saturating_add(i64::try_from(dt).unwrap_or(i64::MAX))
            }
            None => rtc_seconds().saturating_mul(1_000_000_000),
        }
    }

    /// Sets the time: the RTC gets the whole seconds, the anchor keeps the
    /// rest.
    fn set_ns(&mut self, ns: i64) {
        write_rtc(ns.div_euclid(1_000_000_000));
        self.anchor_ns = ns;
        self.anchor_ticks = hpet_counter().unwrap_or(0);
        self.synced = true;
        self.last_rtc_sec = cmos(0x00);
    }

    /// Re-reads the RTC (`guest-set-time` without a time: "from the
    /// hardware clock").
    fn resync(&mut self) {
        self.anchor_now(rtc_seconds());
        self.synced = false;
        self.last_rtc_sec = cmos(0x00);
    }
}
