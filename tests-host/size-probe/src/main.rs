//! The smallest complete agent, to measure the core's size: the whole
//! command table (or, with the `health` feature, `Commands::HEALTH`), the
//! RAM file store, the standard programs, a clock, power, and a UART at a
//! fixed address (reads are volatile, so nothing is optimised away). The
//! storage is a zeroed static, as the boards keep it. Commands whose
//! capability this board lacks (system information, disks, network, ...)
//! answer "not supported" and their rendering is not linked, exactly as on
//! a real board without them. The footprint report builds it for small
//! targets and reads its section sizes; it is never run.
#![no_std]
#![no_main]

#[allow(unused_imports)]
use nanoqga::error::{Errno, HookError};
#[allow(unused_imports)]
use nanoqga::platform::{
    Clock, ExecIo, ExecRequest, ExecState, ExecStatus, FileStore, Platform, Power, Programs,
    ShutdownMode,
};
#[cfg(not(feature = "health"))]
use nanoqga::ramfs::RamFs;
use nanoqga::{Agent, AgentConfig, Storage};
use static_cell::ConstStaticCell;

/// The agent's buffers, in a static as the boards keep them (zeroed
/// memory: no code builds them).
static STORAGE: ConstStaticCell<Storage> = ConstStaticCell::new(Storage::new());

/// A memory-mapped UART: data register, and a status register whose bit 0
/// means "byte received" and bit 1 "room to send".
const UART: usize = 0x4000_0000;

struct Uart;

fn status() -> u32 {
    // SAFETY: never run; stands for a device register read.
    unsafe { core::ptr::read_volatile((UART + 4) as *const u32) }
}

impl embedded_io::ErrorType for Uart {
    type Error = core::convert::Infallible;
}

impl embedded_io::ReadReady for Uart {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(status() & 1 != 0)
    }
}

impl embedded_io::Read for Uart {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let Some(b) = buf.first_mut() else {
            return Ok(0);
        };
        // SAFETY: as in `status`.
        *b = unsafe { core::ptr::read_volatile(UART as *const u32) } as u8;
        Ok(1)
    }
}

impl embedded_io::WriteReady for Uart {
    fn write_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(status() & 2 != 0)
    }
}

impl embedded_io::Write for Uart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        let Some(&b) = buf.first() else { return Ok(0) };
        // SAFETY: as in `status`.
        unsafe { core::ptr::write_volatile(UART as *mut u32, u32::from(b)) };
        Ok(1)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[cfg(not(feature = "health"))]
struct StdPrograms;

#[cfg(not(feature = "health"))]
impl Programs for StdPrograms {
    fn start(
        &mut self,
        req: &ExecRequest<'_>,
        _state: &mut ExecState,
        io: &mut ExecIo<'_>,
    ) -> Result<ExecStatus, HookError> {
        nanoqga::programs::start_standard(req, io).ok_or(HookError::Errno(Errno::ENOENT))
    }

    fn resume(&mut self, _state: &mut ExecState, _io: &mut ExecIo<'_>) -> ExecStatus {
        ExecStatus::Exited(0)
    }
}

struct Rtc;

impl Clock for Rtc {
    fn now_ns(&mut self) -> Result<i64, HookError> {
        Ok(i64::from(status()) * 1_000_000_000)
    }
}

struct Pmu;

impl Power for Pmu {
    fn shutdown(&mut self, mode: ShutdownMode) -> Result<(), HookError> {
        // SAFETY: as in `status`: a power controller's register.
        unsafe { core::ptr::write_volatile((UART + 8) as *mut u32, mode as u32) };
        Ok(())
    }
}

/// The whole board: clock, power, RAM files and the standard programs.
#[cfg(not(feature = "health"))]
struct Probe {
    rtc: Rtc,
    pmu: Pmu,
    files: RamFs<4, 4096, 4>,
    programs: StdPrograms,
}

#[cfg(not(feature = "health"))]
impl Platform for Probe {
    fn clock(&mut self) -> Option<&mut dyn Clock> {
        Some(&mut self.rtc)
    }

    fn power(&mut self) -> Option<&mut dyn Power> {
        Some(&mut self.pmu)
    }

    fn files(&mut self) -> Option<&mut dyn FileStore> {
        Some(&mut self.files)
    }

    fn programs(&mut self) -> Option<&mut dyn Programs> {
        Some(&mut self.programs)
    }
}

#[cfg(not(feature = "health"))]
const TABLE: nanoqga::commands::Table<Probe> = nanoqga::commands::Commands::ALL;

#[cfg(not(feature = "health"))]
fn probe() -> Probe {
    Probe {
        rtc: Rtc,
        pmu: Pmu,
        files: RamFs::new("/tmp/"),
        programs: StdPrograms,
    }
}

/// A health-check board: a clock and power control.
#[cfg(feature = "health")]
struct Probe {
    rtc: Rtc,
    pmu: Pmu,
}

#[cfg(feature = "health")]
impl Platform for Probe {
    fn clock(&mut self) -> Option<&mut dyn Clock> {
        Some(&mut self.rtc)
    }

    fn power(&mut self) -> Option<&mut dyn Power> {
        Some(&mut self.pmu)
    }
}

#[cfg(feature = "health")]
const TABLE: nanoqga::commands::Table<Probe> = nanoqga::commands::Commands::HEALTH;

#[cfg(feature = "health")]
fn probe() -> Probe {
    Probe { rtc: Rtc, pmu: Pmu }
}

/// The entry.
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let probe = probe();
    let mut agent = Agent::new(STORAGE.take(), probe, AgentConfig::new(TABLE));
    let mut uart = Uart;
    loop {
        let _ = agent.poll(&mut uart);
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
