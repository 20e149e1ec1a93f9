//! What is riscv64-specific in the board hooks: the clock, sleeping, and
//! power through SBI. Everything else is `nanoqga_board::Board`.

use nanoqga::platform::ShutdownMode;
use nanoqga_board::Machine;

use crate::clock::{self, Clock};
use crate::plic::{self, Plic};
use crate::sbi;

/// The SiFive test device's commands (power off, reset).
const TEST_PASS: u32 = 0x5555;
const TEST_RESET: u32 = 0x7777;

/// The riscv64 virt machine.
pub struct Riscv64 {
    /// Wall clock.
    pub clock: Clock,
    /// The interrupt controller.
    pub plic: Plic,
    /// Whether SBI has the timer extension.
    pub time_ext: bool,
    /// Whether SBI has system reset.
    pub srst: bool,
    /// The SiFive test device (power fallback), if the device tree has one.
    pub test: Option<usize>,
}

impl Riscv64 {
    fn test_write(&self, value: u32) {
        if let Some(addr) = self.test {
            // SAFETY: the SiFive test device's register from the device
            // tree (identity-mapped); the write powers off or resets.
            unsafe { core::ptr::write_volatile(addr as *mut u32, value) };
        }
    }
}

/// Stops this hart for good (QEMU keeps running).
pub fn halt() -> ! {
    loop {
        // SAFETY: no interrupt is enabled in `sie` any more, so `wfi` only
        // waits.
        unsafe {
            core::arch::asm!("csrw sie, zero", "wfi", options(nomem, nostack));
        }
    }
}

impl Machine for Riscv64 {
    const ARCH: &'static str = "riscv64";
    type Clock = Clock;

    fn uptime_ns(&self) -> u64 {
        clock::uptime_ns()
    }

    fn clock(&mut self) -> &mut Clock {
        &mut self.clock
    }

    fn sleep(&mut self, max_ns: Option<u64>) {
        plic::sleep(&self.plic, max_ns, clock::timebase(), self.time_ext);
    }

    fn power(&mut self, mode: ShutdownMode) -> ! {
        match mode {
            ShutdownMode::Powerdown => {
                if self.srst {
                    sbi::reset(sbi::Reset::Shutdown);
                }
                self.test_write(TEST_PASS);
                halt()
            }
            ShutdownMode::Reboot => {
                if self.srst {
                    sbi::reset(sbi::Reset::ColdReboot);
                }
                self.test_write(TEST_RESET);
                halt()
            }
            ShutdownMode::Halt => halt(),
        }
    }
}
