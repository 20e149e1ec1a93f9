//! guest-get-time, guest-set-time.
//!
//! `guest-set-time` checks in qemu-ga 7.2's order: a board without a
//! settable clock answers "not supported" first (as qemu-ga without
//! `hwclock`), then a time whose date is outside the years 1970 to 2069 is
//! `Invalid time`, and only then does the board set the clock.

use super::{Call, Flow, command, failed};
use crate::args::NoArgs;
use crate::arguments;
use crate::error::{HookError, QgaError};
use crate::platform::SetTime;

arguments! {
    /// `guest-set-time`.
    pub struct SetTimeArgs {
        /// Nanoseconds since the epoch; none: from the hardware clock.
        time: Option<i64> = "time",
    }
}

command!(
    /// `guest-get-time`: nanoseconds since the epoch.
    GUEST_GET_TIME = "guest-get-time", NoArgs, get_time
);
command!(
    /// `guest-set-time`.
    GUEST_SET_TIME = "guest-set-time", SetTimeArgs, set_time
);

fn get_time(call: &mut Call<'_, '_>, _: NoArgs) -> Result<Flow, QgaError> {
    let clock = call.platform.clock().ok_or_else(QgaError::unsupported)?;
    let t = clock
        .now_ns()
        .map_err(|e| failed(e, "failed to get time"))?;
    call.out.i64(t);
    Ok(Flow::Done)
}

/// Whether qemu-ga accepts `time_ns` for the clock: its date (seconds
/// truncated toward zero, as C divides) must fall in the years 1970 to 2069.
pub fn settable(time_ns: i64) -> bool {
    // Seconds truncated toward zero in 0 .. 2070-01-01T00:00:00Z, written
    // as a range of nanoseconds: no 64-bit division (a library routine on
    // 32-bit targets).
    const END_NS: i64 = 3_155_760_000 * 1_000_000_000;
    -1_000_000_000 < time_ns && time_ns < END_NS
}

fn set_time(call: &mut Call<'_, '_>, args: SetTimeArgs) -> Result<Flow, QgaError> {
    let clock = call
        .platform
        .set_clock()
        .ok_or_else(QgaError::unsupported)?;
    let time = match args.time {
        Some(t) if !settable(t) => return Err(QgaError::generic("Invalid time")),
        Some(t) => SetTime::To(t),
        None => SetTime::FromHardware,
    };
    clock
        .set_time(time)
        .map_err(|e: HookError| failed(e, "Failed to set time to guest"))?;
    call.out.str("{}");
    Ok(Flow::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settable_time_is_years_1970_to_2069() {
        assert!(settable(0));
        assert!(settable(1_795_904_065_870_159_000));
        // C truncates -1 ns to second 0: 1970.
        assert!(settable(-1));
        assert!(!settable(-1_000_000_000));
        assert!(!settable(3_155_760_000 * 1_000_000_000));
        assert!(!settable(i64::MAX));
    }
}
