//! The machine under UEFI: the TSC and runtime-services clock, power
//! through `ResetSystem`, sleeping on a firmware timer event, and QEMU's
//! debug console.
//!
//! Contract: the firmware routes no device interrupts to an application,
//! so the channel's devices are looked at on a timer: [`Uefi::sleep`] waits
//! on a one-shot timer event (`WaitForEvent` halts the CPU until the
//! firmware's timer interrupt, so a sleep rounds up to the next tick of
//! [`crate::tick`]); nothing spins.

use core::time::Duration;

use nanoqga::platform::ShutdownMode;
use nanoqga_board::Machine;
use uefi::boot::{self, EventType, TimerTrigger, Tpl};
use uefi::runtime::{self, ResetType};
use uefi::{Event, Status};

use crate::clock::{self, Clock};
use crate::tick::Tick;

/// The longest sleep when the caller gives no limit.
pub const POLL_NS: u64 = 10_000_000;

/// The machine.
pub struct Uefi {
    /// Wall clock.
    pub clock: Clock,
    /// The timer the agent sleeps on (`None` if the firmware gave none:
    /// then the board stalls for [`POLL_NS`] instead).
    timer: Option<Event>,
    /// The firmware's tick.
    pub tick: Tick,
}

impl Uefi {
    /// The machine with its wall clock.
    pub fn new(clock: Clock) -> Uefi {
        // SAFETY: a plain timer event: no notification function, so
        // nothing runs at TPL_CALLBACK on our behalf.
        let timer = unsafe { boot::create_event(EventType::TIMER, Tpl::CALLBACK, None, None) }.ok();
        Uefi {
            clock,
            timer,
            tick: Tick::find(),
        }
    }
}

/// QEMU's debug console (`-debugcon file:…`, port 0xE9): the trace is
/// mirrored there, as on the bare-metal x86_64 board.
struct DebugCon;

impl core::fmt::Write for DebugCon {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            // SAFETY: port 0xE9 is QEMU's debug console when configured and
            // an unclaimed port otherwise; writes have no other effect.
            unsafe { nanoqga_board::x86::io::outb(0xE9, b) };
        }
        Ok(())
    }
}

/// Stops the CPU for good (interrupts off, so nothing wakes it).
fn halt() -> ! {
    loop {
        // SAFETY: the agent is done; masking interrupts and halting only
        // stops this CPU, which is what `guest-shutdown` `halt` asks.
        unsafe { core::arch::asm!("cli", "hlt", options(nomem, nostack)) };
    }
}

impl Machine for Uefi {
    const ARCH: &'static str = "x86_64";
    type Clock = Clock;

    fn uptime_ns(&self) -> u64 {
        clock::uptime_ns()
    }

    fn debug_line(&mut self, line: core::fmt::Arguments<'_>) {
        let _ = core::fmt::Write::write_fmt(&mut DebugCon, format_args!("{line}\n"));
    }

    fn clock(&mut self) -> &mut Clock {
        &mut self.clock
    }

    fn power(&mut self, mode: ShutdownMode) -> ! {
        match mode {
            ShutdownMode::Powerdown => runtime::reset(ResetType::SHUTDOWN, Status::SUCCESS, None),
            ShutdownMode::Reboot => runtime::reset(ResetType::COLD, Status::SUCCESS, None),
            ShutdownMode::Halt => halt(),
        }
    }

    fn sleep(&mut self, max_ns: Option<u64>) {
        let ns = max_ns.unwrap_or(POLL_NS);
        if ns == 0 {
            return;
        }
        let Some(timer) = &self.timer else {
            boot::stall(Duration::from_nanos(ns));
            return;
        };
        if boot::set_timer(timer, TimerTrigger::Relative(Duration::from_nanos(ns))).is_err() {
            boot::stall(Duration::from_nanos(ns));
            return;
        }
        let _ = boot::wait_for_event(core::slice::from_ref(timer));
    }
}
