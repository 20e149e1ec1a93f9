//! guest-get-time, guest-set-time.
//!
//! `guest-set-time` checks in qemu-ga 7.2's order: a board without a
//! settable clock answers "not supported" first (as qemu-ga without
//! `hwclock`), then a time whose date is outside the years 1970 to 2069 is
//! `Invalid time`, and only then does the board set the clock.

use super::{Call, Outcome, command, failed, unsupported};
use crate::args::NoArgs;
use crate::arguments;

use crate::platform::{Platform, SetTime};

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

fn get_time<P: Platform>(call: &mut Call<'_, '_, P>, _: NoArgs) -> Outcome {
    let Some(clock) = call.platform.clock() else {
        return unsupported(call.err);
    };
    match clock.now_ns() {
        Ok(t) => {
            call.out.i64(t);
            Outcome::Done
        }
        Err(e) => failed(call.err, e, "failed to get time"),
    }
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

fn set_time<P: Platform>(call: &mut Call<'_, '_, P>, args: SetTimeArgs) -> Outcome {
    let Some(clock) = call.platform.set_clock() else {
        return unsupported(call.err);
    };
    let time = match args.time {
        Some(t) if !settable(t) => {
            call.err.generic("Invalid time");
            return Outcome::Failed;
        }
        Some(t) => SetTime::To(t),
        None => SetTime::FromHardware,
    };
    match clock.set_time(time) {
        Ok(()) => {
            call.out.str("{}");
            Outcome::Done
        }
        Err(e) => failed(call.err, e, "Failed to set time to guest"),
    }
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
