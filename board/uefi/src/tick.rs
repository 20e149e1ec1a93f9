//! The firmware's timer tick, made faster while a client is being served.
//!
//! Contract: UEFI gives an application no device interrupts, so the board
//! looks at its devices when the firmware's timer interrupt ends its sleep.
//! OVMF ticks every 10 ms. [`Tick::set_fast`] asks the Timer architectural
//! protocol for a 100 µs tick while the agent is busy (for a while after
//! its last work: a 16550's FIFO holds 14 bytes, so a COM port moves about
//! 140 KB/s at that tick) and gives the firmware its own period back
//! afterwards and before another image runs ([`Tick::restore`]). Without the protocol
//! nothing changes and [`Tick::available`] is false.
//!
//! The protocol is declared here with the functions used (the `uefi` crate
//! has no wrapper for it).

use uefi::Status;
use uefi::boot::{self, OpenProtocolAttributes, OpenProtocolParams, ScopedProtocol};
use uefi::proto::unsafe_protocol;

/// The tick while serving, in 100 ns units (100 µs).
const FAST: u64 = 1_000;
/// The tick while serving, in nanoseconds.
pub const FAST_NS: u64 = FAST * 100;

/// `EFI_TIMER_ARCH_PROTOCOL`.
#[repr(C)]
#[unsafe_protocol("26baccb3-6f42-11d4-bce7-0080c73c8881")]
struct TimerArch {
    register_handler: usize,
    set_timer_period: unsafe extern "efiapi" fn(this: *mut TimerArch, period: u64) -> Status,
    get_timer_period: unsafe extern "efiapi" fn(this: *mut TimerArch, period: *mut u64) -> Status,
    generate_soft_interrupt: usize,
}

/// The firmware's tick.
pub struct Tick {
    timer: Option<ScopedProtocol<TimerArch>>,
    /// The firmware's own period (100 ns units).
    normal: u64,
    fast: bool,
}

impl Tick {
    /// Opens the protocol and reads the firmware's period.
    pub fn find() -> Tick {
        let mut timer = boot::get_handle_for_protocol::<TimerArch>()
            .ok()
            .and_then(|handle| {
                // SAFETY: GetProtocol takes the protocol from nobody; the
                // architectural protocols stay while boot services run.
                unsafe {
                    boot::open_protocol::<TimerArch>(
                        OpenProtocolParams {
                            handle,
                            agent: boot::image_handle(),
                            controller: None,
                        },
                        OpenProtocolAttributes::GetProtocol,
                    )
                }
                .ok()
            });
        let mut normal = 0;
        if let Some(t) = timer.as_mut() {
            let this: *mut TimerArch = &mut **t;
            // SAFETY: the live protocol; the period is written to `normal`.
            let ok = unsafe { ((*this).get_timer_period)(this, &mut normal) }.is_success();
            if !ok || normal == 0 {
                timer = None;
            }
        }
        Tick {
            timer,
            normal,
            fast: false,
        }
    }

    /// Whether the tick can be changed.
    pub fn available(&self) -> bool {
        self.timer.is_some()
    }

    /// The firmware's own tick in nanoseconds (0 if unknown).
    pub fn normal_ns(&self) -> u64 {
        self.normal * 100
    }

    /// The fast tick (`true`) or the firmware's own.
    pub fn set_fast(&mut self, fast: bool) {
        if fast == self.fast {
            return;
        }
        let Some(t) = self.timer.as_mut() else { return };
        let this: *mut TimerArch = &mut **t;
        let period = if fast {
            FAST.min(self.normal)
        } else {
            self.normal
        };
        // SAFETY: the live protocol; a period the firmware's driver accepts
        // (it programs its timer for it).
        if unsafe { ((*this).set_timer_period)(this, period) }.is_success() {
            self.fast = fast;
        }
    }

    /// The firmware's own tick again (before another image runs).
    pub fn restore(&mut self) {
        self.set_fast(false);
    }
}
