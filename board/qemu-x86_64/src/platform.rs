//! What is x86_64-specific in the board hooks: the clock, sleeping, and
//! QEMU's debug console. Everything else is `nanoqga_board::Board`.

use nanoqga::platform::ShutdownMode;
use nanoqga_board::Machine;

use crate::acpi::Acpi;
use crate::clock::{Clock, uptime_ns};
use crate::power;

/// The x86_64 machine: CMOS RTC + HPET clock, ACPI power, debug console
/// at 0xE9.
pub struct X86 {
    /// Wall clock.
    pub clock: Clock,
    /// Power-off and reset registers.
    pub acpi: Acpi,
}

/// QEMU's debug console (`-debugcon file:…`, port 0xE9): the trace is
/// mirrored there so a guest that never answers can still be diagnosed.
struct DebugCon;

impl core::fmt::Write for DebugCon {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            // SAFETY: port 0xE9 is QEMU's debug console when configured and
            // an unclaimed port otherwise; writes have no other effect.
            unsafe { crate::io::outb(0xE9, b) };
        }
        Ok(())
    }
}

impl Machine for X86 {
    const ARCH: &'static str = "x86_64";
    type Clock = Clock;

    fn uptime_ns(&self) -> u64 {
        uptime_ns()
    }

    fn clock(&mut self) -> &mut Clock {
        &mut self.clock
    }

    fn power(&mut self, mode: ShutdownMode) -> ! {
        match mode {
            ShutdownMode::Powerdown => power::power_off(&self.acpi),
            ShutdownMode::Reboot => power::reboot(&self.acpi),
            ShutdownMode::Halt => power::halt(),
        }
    }

    fn sleep(&mut self, max_ns: Option<u64>) {
        crate::irq::sleep(max_ns);
    }

    fn debug_line(&mut self, line: core::fmt::Arguments<'_>) {
        let _ = core::fmt::Write::write_fmt(&mut DebugCon, format_args!("{line}\n"));
    }
}
