//! The smallest complete agent: every command of the table linked, the RAM
//! file store, the standard programs, a clock, and a UART at a fixed
//! address (reads are volatile, so nothing is optimised away). The footprint
//! report builds it for small targets and reads its section sizes; it is
//! never run.
#![no_std]
#![no_main]

use nanoqga::error::{Errno, HookError};
use nanoqga::platform::{
    ExecIo, ExecRequest, ExecState, ExecStatus, FileStore, Platform, Programs,
};
use nanoqga::ramfs::RamFs;
use nanoqga::{Agent, AgentConfig, Storage};

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

struct StdPrograms;

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

struct Probe {
    files: RamFs<4, 4096, 4>,
    programs: StdPrograms,
}

impl Platform for Probe {
    fn now_ns(&mut self) -> Result<i64, HookError> {
        Ok(i64::from(status()) * 1_000_000_000)
    }

    fn files(&mut self) -> Option<&mut dyn FileStore> {
        Some(&mut self.files)
    }

    fn programs(&mut self) -> Option<&mut dyn Programs> {
        Some(&mut self.programs)
    }
}

/// The entry.
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let mut storage: Storage = Storage::new();
    let probe = Probe {
        files: RamFs::new("/tmp/"),
        programs: StdPrograms,
    };
    let mut agent = Agent::new(&mut storage, probe, AgentConfig::default());
    let mut uart = Uart;
    loop {
        let _ = agent.poll(&mut uart);
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
