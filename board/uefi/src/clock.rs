//! Time under UEFI: the TSC for uptime, runtime services for the wall clock.
//!
//! Contract:
//! * [`uptime_ns`] counts from [`calibrate`], which measures the TSC against
//!   the firmware's `Stall` at start-up (the shortest of five 2 ms rounds).
//!   Before calibration it is 0.
//! * [`Clock`] is the wall clock. `GetTime` has one-second resolution (on
//!   QEMU it reads the CMOS RTC), so the clock anchors on `GetTime` once and
//!   runs on the TSC from there; while the agent polls it watches `GetTime`
//!   for the next second edge, at most once per millisecond and for about a
//!   second from its first look, and re-anchors on it. An edge seen more
//!   than 20 ms after the previous look (the loop was busy) re-anchors too,
//!   and the one after it is watched for. `guest-set-time` anchors on the time
//!   given and writes it with `SetTime` (whole seconds; the sub-second part
//!   stays in the anchor). A `GetTime` time zone offset is honoured; an
//!   unspecified one means UTC (QEMU's RTC keeps UTC).

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

use nanoqga_board::WallClock;
use nanoqga_board::civil::{civil_from_days, days_from_civil};
use uefi::runtime::{self, Daylight, Time, TimeParams};

/// How often the second edge is looked for (the wall clock is that precise).
const EDGE_WATCH_NS: u64 = 1_000_000;
/// How long the edge is looked for, from the first look after an anchor
/// on `GetTime` (the set-up between the anchor and the first look can
/// take longer than a second on a busy host).
const EDGE_WINDOW_NS: u64 = 1_100_000_000;
/// An edge seen within this long of the previous look anchors the clock
/// for good (idle, the loop wakes on the firmware's 10 ms tick); one seen
/// after a longer gap anchors it as well as the gap allows, and the next
/// edge is watched for.
const EDGE_PRECISE_NS: u64 = 20_000_000;

static TSC_AT_START: AtomicU64 = AtomicU64::new(0);
/// TSC ticks per millisecond (0: not calibrated).
static TSC_PER_MS: AtomicU64 = AtomicU64::new(0);

fn tsc() -> u64 {
    // SAFETY: RDTSC has no side effects; every x86_64 CPU has it.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Calibration rounds, and the `Stall` each measures the TSC across.
const CALIBRATION_ROUNDS: u32 = 5;
const CALIBRATION_STALL_US: u64 = 2_000;

/// Measures the TSC's rate against the firmware's `Stall` (OVMF's counts
/// the ACPI PM timer): the shortest of five 2 ms rounds. A `Stall` can only
/// overrun (the vCPU descheduled as it ends on a busy host), never end
/// early, so the shortest round is the truest; one overrun round would
/// otherwise slow the clock for the whole run.
pub fn calibrate() {
    let mut best = u64::MAX;
    let t0 = tsc();
    for _ in 0..CALIBRATION_ROUNDS {
        let start = tsc();
        uefi::boot::stall(Duration::from_micros(CALIBRATION_STALL_US));
        best = best.min(tsc().wrapping_sub(start));
    }
    let per_ms = (best * 1000 / CALIBRATION_STALL_US).max(1);
    TSC_AT_START.store(t0, Ordering::Relaxed);
    TSC_PER_MS.store(per_ms, Ordering::Relaxed);
}

/// Nanoseconds since [`calibrate`].
pub fn uptime_ns() -> u64 {
    let per_ms = TSC_PER_MS.load(Ordering::Relaxed);
    if per_ms == 0 {
        return 0;
    }
    let ticks = tsc().wrapping_sub(TSC_AT_START.load(Ordering::Relaxed));
    (u128::from(ticks) * 1_000_000 / u128::from(per_ms)) as u64
}

/// `GetTime` as seconds since the epoch (UTC), or `None` if it failed.
fn firmware_seconds() -> Option<i64> {
    let t = runtime::get_time().ok()?;
    let days = days_from_civil(
        i64::from(t.year()),
        i64::from(t.month()),
        i64::from(t.day()),
    );
    let local = days * 86_400
        + i64::from(t.hour()) * 3600
        + i64::from(t.minute()) * 60
        + i64::from(t.second());
    // UEFI: local time = UTC + offset (minutes).
    Some(local - i64::from(t.time_zone().unwrap_or(0)) * 60)
}

/// `SetTime` to `secs` since the epoch (UTC, kept as such).
fn set_firmware_seconds(secs: i64, nanos: u32) {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let Ok(year) = u16::try_from(y) else { return };
    let params = TimeParams {
        year,
        month: m as u8,
        day: d as u8,
        hour: (s / 3600) as u8,
        minute: (s / 60 % 60) as u8,
        second: (s % 60) as u8,
        nanosecond: nanos,
        time_zone: None,
        daylight: Daylight::empty(),
    };
    if let Ok(t) = Time::new(params) {
        // SAFETY: `t` is a valid time; SetTime is a runtime service called
        // from the one thread the firmware runs.
        let _ = unsafe { runtime::set_time(&t) };
    }
}

/// The wall clock.
pub struct Clock {
    /// Epoch nanoseconds at `anchor_up`.
    anchor_ns: i64,
    /// Uptime of the anchor.
    anchor_up: u64,
    /// The `GetTime` second of the anchor, while its edge is watched.
    watching: Option<i64>,
    /// When the edge was first looked for since that anchor.
    watch_from: Option<u64>,
    /// When the edge was last looked for.
    last_look: u64,
}

impl Clock {
    /// Reads the wall clock from the firmware.
    pub fn init() -> Clock {
        let mut c = Clock {
            anchor_ns: 0,
            anchor_up: 0,
            watching: None,
            watch_from: None,
            last_look: 0,
        };
        c.resync();
        c
    }
}

impl WallClock for Clock {
    fn now_ns(&self) -> i64 {
        let since = uptime_ns().saturating_sub(self.anchor_up);
        self.anchor_ns
            .saturating_add(i64::try_from(since).unwrap_or(i64::MAX))
    }

    fn set_ns(&mut self, ns: i64) {
        self.anchor_ns = ns;
        self.anchor_up = uptime_ns();
        self.watching = None;
        set_firmware_seconds(
            ns.div_euclid(1_000_000_000),
            ns.rem_euclid(1_000_000_000) as u32,
        );
    }

    fn resync(&mut self) {
        let now = uptime_ns();
        let secs = firmware_seconds().unwrap_or(0);
        self.anchor_ns = secs.saturating_mul(1_000_000_000);
        self.anchor_up = now;
        self.watching = Some(secs);
        self.watch_from = None;
        self.last_look = now;
    }

    fn tick(&mut self) -> Option<u64> {
        let old = self.watching?;
        let now = uptime_ns();
        let from = *self.watch_from.get_or_insert(now);
        if now.saturating_sub(from) > EDGE_WINDOW_NS {
            self.watching = None;
            return None;
        }
        let gap = now.saturating_sub(self.last_look);
        if gap >= EDGE_WATCH_NS {
            self.last_look = now;
            if let Some(secs) = firmware_seconds()
                && secs != old
            {
                self.anchor_ns = secs.saturating_mul(1_000_000_000);
                self.anchor_up = now;
                if gap <= EDGE_PRECISE_NS {
                    self.watching = None;
                    return None;
                }
                self.watching = Some(secs);
                self.watch_from = Some(now);
            }
        }
        Some(EDGE_WATCH_NS)
    }
}
