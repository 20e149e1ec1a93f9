//! Calls into the SBI firmware (OpenSBI): the timer, system reset, and the
//! probe for extensions.

use core::arch::asm;

/// The base extension.
const BASE: usize = 0x10;
/// The timer extension ("TIME").
const TIME: usize = 0x5449_4D45;
/// The system reset extension ("SRST").
const SRST: usize = 0x5352_5354;
/// The legacy timer call (SBI v0.1).
const LEGACY_SET_TIMER: usize = 0;

/// SRST reset types.
pub const SHUTDOWN: usize = 0;
/// A cold reboot.
pub const COLD_REBOOT: usize = 1;

/// `ecall` with extension `eid`, function `fid` and two arguments: (error,
/// value).
fn call(eid: usize, fid: usize, a0: usize, a1: usize) -> (isize, usize) {
    let (error, value): (isize, usize);
    // SAFETY: an SBI call; the firmware touches no memory of ours for the
    // calls made here (timer, reset, probe) and returns in a0/a1.
    unsafe {
        asm!("ecall",
             inlateout("a0") a0 => error, inlateout("a1") a1 => value,
             in("a6") fid, in("a7") eid, options(nostack));
    }
    (error, value)
}

/// Whether the firmware implements extension `eid`.
pub fn has(eid: usize) -> bool {
    let (error, value) = call(BASE, 3, eid, 0);
    error == 0 && value != 0
}

/// Whether the timer extension is there (else the legacy call is used).
pub fn has_time() -> bool {
    has(TIME)
}

/// Whether system reset is there.
pub fn has_srst() -> bool {
    has(SRST)
}

/// Arms the supervisor timer for `stime` (in `time` ticks; `u64::MAX`
/// disarms it). Clears a pending timer interrupt.
pub fn set_timer(stime: u64, time_ext: bool) {
    if time_ext {
        call(TIME, 0, stime as usize, 0);
    } else {
        call(LEGACY_SET_TIMER, 0, stime as usize, 0);
    }
}

/// Resets the system (`SHUTDOWN` or `COLD_REBOOT`); returns only if the
/// firmware refused.
pub fn reset(kind: usize) {
    call(SRST, 0, kind, 0);
}
