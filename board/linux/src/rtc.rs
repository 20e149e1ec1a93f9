//! The system clock and the RTC, as `hwclock -w` and `hwclock -s` would set
//! them, without `hwclock`.
//!
//! Contract: [`set_time`] with a time sets `CLOCK_REALTIME`, then the RTC
//! (`/dev/rtc0`, `RTC_SET_TIME`, UTC, whole seconds); without one it sets
//! `CLOCK_REALTIME` from the RTC (`RTC_RD_TIME`), which is what `virsh
//! domtime --sync` asks for after a resume. A guest without an RTC device
//! still gets its system clock set when a time is given (qemu-ga's
//! `hwclock -w` failure is reported the same way: "Failed to set time to
//! guest" with the reason).

use nanoqga::error::{Errno, HookError};
use nanoqga::platform::SetTime;
use nanoqga_host::sys::hook_errno;

const RTC_DEVICE: &str = "/dev/rtc0";
/// `_IOR('p', 0x09, struct rtc_time)`
const RTC_RD_TIME: libc::c_ulong = 0x8024_7009;
/// `_IOW('p', 0x0a, struct rtc_time)`
const RTC_SET_TIME: libc::c_ulong = 0x4024_700a;

/// `struct rtc_time`: the first nine fields of `struct tm`.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct RtcTime {
    sec: libc::c_int,
    min: libc::c_int,
    hour: libc::c_int,
    mday: libc::c_int,
    mon: libc::c_int,
    year: libc::c_int,
    wday: libc::c_int,
    yday: libc::c_int,
    isdst: libc::c_int,
}

fn open_rtc(write: bool) -> Result<std::fs::File, HookError> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(write)
        .open(RTC_DEVICE)
        .map_err(|e| nanoqga_host::sys::io_error(&e))
}

/// The RTC's time, in nanoseconds since the epoch (it keeps UTC).
fn read_rtc() -> Result<i64, HookError> {
    use std::os::fd::AsRawFd;
    let f = open_rtc(false)?;
    let mut t = RtcTime::default();
    // SAFETY: RTC_RD_TIME fills a `struct rtc_time`, which `t` is.
    if unsafe { libc::ioctl(f.as_raw_fd(), RTC_RD_TIME as _, &mut t) } != 0 {
        return Err(hook_errno());
    }
    // SAFETY: `tm` is a plain C struct; timegm reads the fields set.
    let secs = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        tm.tm_sec = t.sec;
        tm.tm_min = t.min;
        tm.tm_hour = t.hour;
        tm.tm_mday = t.mday;
        tm.tm_mon = t.mon;
        tm.tm_year = t.year;
        libc::timegm(&mut tm)
    };
    // `time_t` is 64 bits on the targets built for, 32 on others.
    #[allow(clippy::useless_conversion)]
    let secs = i64::from(secs);
    Ok(secs.saturating_mul(1_000_000_000))
}

/// Writes `ns` (whole seconds, UTC) to the RTC.
fn write_rtc(ns: i64) -> Result<(), HookError> {
    use std::os::fd::AsRawFd;
    // musl calls its 64-bit `time_t` deprecated (a future change of name).
    #[allow(deprecated)]
    let secs = ns.div_euclid(1_000_000_000) as libc::time_t;
    // SAFETY: gmtime_r fills `tm` from a valid time_t.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::gmtime_r(&secs, &mut tm).is_null() {
            return Err(HookError::Errno(Errno::EINVAL));
        }
        tm
    };
    let t = RtcTime {
        sec: tm.tm_sec,
        min: tm.tm_min,
        hour: tm.tm_hour,
        mday: tm.tm_mday,
        mon: tm.tm_mon,
        year: tm.tm_year,
        wday: tm.tm_wday,
        yday: tm.tm_yday,
        isdst: 0,
    };
    let f = open_rtc(true)?;
    // SAFETY: RTC_SET_TIME reads a `struct rtc_time`, which `t` is.
    if unsafe { libc::ioctl(f.as_raw_fd(), RTC_SET_TIME as _, &t) } != 0 {
        return Err(hook_errno());
    }
    Ok(())
}

fn set_system(ns: i64) -> Result<(), HookError> {
    #[allow(deprecated)]
    let ts = libc::timespec {
        tv_sec: ns.div_euclid(1_000_000_000) as libc::time_t,
        tv_nsec: ns.rem_euclid(1_000_000_000) as libc::c_long,
    };
    // SAFETY: `ts` is a valid timespec.
    if unsafe { libc::clock_settime(libc::CLOCK_REALTIME, &ts) } != 0 {
        return Err(hook_errno());
    }
    Ok(())
}

/// `guest-set-time` (see the module documentation).
pub fn set_time(time: SetTime) -> Result<(), HookError> {
    match time {
        SetTime::To(ns) => {
            set_system(ns)?;
            write_rtc(ns)
        }
        SetTime::FromHardware => set_system(read_rtc()?),
    }
}
