//! The SBI calls the board makes (OpenSBI's timer, system reset and the
//! extension probe), through the `sbi-rt` crate.
//!
//! Contract: the probes run once at boot; [`set_timer`] uses the TIME
//! extension when the firmware has it, else the SBI v0.1 call; [`reset`]
//! returns only if the firmware has no SRST or refused.

use sbi_rt::{ColdReboot, NoReason, Reset as Srst, Shutdown, Timer};

/// How [`reset`] resets.
#[derive(Clone, Copy, Debug)]
pub enum Reset {
    /// Power off (QEMU exits 0).
    Shutdown,
    /// A cold reboot.
    ColdReboot,
}

/// Whether the timer extension is there (else the legacy call is used).
pub fn has_time() -> bool {
    sbi_rt::probe_extension(Timer).is_available()
}

/// Whether system reset is there.
pub fn has_srst() -> bool {
    sbi_rt::probe_extension(Srst).is_available()
}

/// Arms the supervisor timer for `stime` (in `time` ticks; `u64::MAX`
/// disarms it). Clears a pending timer interrupt.
pub fn set_timer(stime: u64, time_ext: bool) {
    if time_ext {
        let _ = sbi_rt::set_timer(stime);
    } else {
        #[allow(deprecated, reason = "the fallback for SBI v0.1 firmware")]
        let _ = sbi_rt::legacy::set_timer(stime);
    }
}

/// Resets the system as `kind` says; returns only if the firmware refused.
pub fn reset(kind: Reset) {
    let _ = match kind {
        Reset::Shutdown => sbi_rt::system_reset(Shutdown, NoReason),
        Reset::ColdReboot => sbi_rt::system_reset(ColdReboot, NoReason),
    };
}
