//! What is aarch64-specific in the board hooks: the clock, sleeping and PSCI
//! power.
//! Everything else is `nanoqga_board::Board`.

use nanoqga::platform::ShutdownMode;
use nanoqga_board::Machine;

use crate::clock::{Clock, uptime_ns};
use crate::psci;

/// The aarch64 virt machine: PL031 + generic timer clock, PSCI power.
pub struct Aarch64 {
    /// Wall clock.
    pub clock: Clock,
}

impl Machine for Aarch64 {
    const ARCH: &'static str = "aarch64";
    type Clock = Clock;

    fn uptime_ns(&self) -> u64 {
        uptime_ns()
    }

    fn clock(&mut self) -> &mut Clock {
        &mut self.clock
    }

    fn sleep(&mut self, max_ns: Option<u64>) {
        crate::gic::sleep(max_ns);
    }

    fn power(&mut self, mode: ShutdownMode) -> ! {
        match mode {
            ShutdownMode::Powerdown => psci::power_off(),
            ShutdownMode::Reboot => psci::reboot(),
            ShutdownMode::Halt => psci::halt(),
        }
    }
}
