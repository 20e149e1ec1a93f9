//! The capabilities every bare-metal board shares, over a small [`Machine`]
//! trait for what differs (clock, architecture name, power, debug output).
//!
//! Contract: [`Board`] is the core's `Platform` with the RAM file store and
//! trace, the built-in programs, and the truthful bare-metal answers:
//! processors and RAM as the board found them, UTC, nobody logged in, no
//! disks and no network devices (empty lists), and no load or CPU
//! accounting (not supported: nothing schedules). Power requests are
//! carried out by the board's main loop once the transport has sent what
//! came before.

use core::fmt::Write as _;
use core::ops::ControlFlow;

use nanoqga::Event;
use nanoqga::error::HookError;
use nanoqga::platform::{
    Clock, DiskInfo, DiskStats, Disks, FileStore, FsInfo, Memory, MemoryBlock, NetInterface,
    Network, OsInfo, Platform, Power, Processors, Programs, Route, SetClock, SetTime, ShutdownMode,
    SystemInfo, Timezone, User, Vcpu,
};

use crate::{BoardFiles, BoardPrograms, info};

/// Number of RAM files under `/tmp/`.
pub const RAM_FILES: usize = 8;
/// Largest RAM file.
pub const RAM_FILE_BYTES: usize = 16384;
/// RAM files: 8 of up to 16 KiB under /tmp/, and an 8 KiB trace ring.
pub type Files = BoardFiles<RAM_FILES, RAM_FILE_BYTES, 8, 8192>;

/// RAM regions (start, length); unused entries have length 0.
pub type RamMap = [(u64, u64); 16];

/// What differs between machines.
pub trait Machine: 'static {
    /// The architecture name `guest-get-osinfo` reports (`machine`).
    const ARCH: &'static str;
    /// Memory block size reported by `guest-get-memory-block-info`
    /// (Linux's block size on that architecture: 128 MiB on x86_64, on
    /// arm64 with 4 KiB pages and on riscv64, `SECTION_SIZE_BITS` 27).
    const MEMORY_BLOCK: u64 = 128 << 20;
    /// The wall clock's type.
    type Clock: WallClock;

    /// Nanoseconds since boot.
    fn uptime_ns(&self) -> u64;
    /// Mirrors a trace line to a debug output, if the machine has one.
    fn debug_line(&mut self, _line: core::fmt::Arguments<'_>) {}
    /// The wall clock.
    fn clock(&mut self) -> &mut Self::Clock;
    /// Powers off, reboots or halts, for `guest-shutdown`.
    fn power(&mut self, mode: ShutdownMode) -> !;
    /// Sleeps until an interrupt of an enabled device is pending, or at
    /// most `max_ns` (`None`: no limit; `Some(0)`: returns at once). The
    /// main loop calls it only when the agent and every device driver have
    /// nothing left to do. A device event since the drivers last looked
    /// must end the sleep at once (the check-then-sleep race is closed by
    /// the machine: a level that is still asserted, or an edge latched
    /// while the CPU was awake, wakes it).
    fn sleep(&mut self, max_ns: Option<u64>);
}

/// A board's wall clock: an RTC read at boot, kept by a free-running
/// counter between reads.
pub trait WallClock {
    /// Nanoseconds since the epoch.
    fn now_ns(&self) -> i64;
    /// Sets the wall clock (and the hardware clock, in whole seconds).
    fn set_ns(&mut self, ns: i64);
    /// Re-reads the wall clock from the hardware clock.
    fn resync(&mut self);
    /// Called on every main-loop round (e.g. to align the clock to the
    /// hardware clock's next second edge). Must be cheap. Returns how soon
    /// it wants to be called again (the loop wakes for it), or `None`.
    fn tick(&mut self) -> Option<u64> {
        None
    }
}

/// The board: a machine plus the shared hooks.
pub struct Board<M: Machine> {
    /// Clock and debug output.
    pub machine: M,
    /// Files and the trace ring.
    pub files: &'static mut Files,
    /// Programs.
    pub programs: BoardPrograms<'static>,
    /// Power request waiting for the transport to drain.
    pub power: Option<ShutdownMode>,
    /// Processors found.
    pub cpus: u32,
    /// RAM regions.
    pub ram: RamMap,
}

impl<M: Machine> Board<M> {
    /// Writes a line to the trace ring (and the machine's debug output),
    /// stamped with the uptime.
    pub fn trace(&mut self, args: core::fmt::Arguments<'_>) {
        let t = self.machine.uptime_ns();
        let (s, us) = (t / 1_000_000_000, t / 1000 % 1_000_000);
        self.machine
            .debug_line(format_args!("[{s:5}.{us:06}] {args}"));
        let _ = write!(self.files.trace, "[{s:5}.{us:06}] ");
        self.files.trace.line(args);
    }

    /// Traces an agent event.
    pub fn trace_event(&mut self, event: Event) {
        self.trace(format_args!("{event:?}"));
    }
}

impl<M: Machine> Platform for Board<M> {
    fn clock(&mut self) -> Option<&mut dyn Clock> {
        Some(self)
    }
    fn set_clock(&mut self) -> Option<&mut dyn SetClock> {
        Some(self)
    }
    fn power(&mut self) -> Option<&mut dyn Power> {
        Some(self)
    }
    fn files(&mut self) -> Option<&mut dyn FileStore> {
        Some(self.files)
    }
    fn programs(&mut self) -> Option<&mut dyn Programs> {
        Some(&mut self.programs)
    }
    fn system(&mut self) -> Option<&mut dyn SystemInfo> {
        Some(self)
    }
    fn processors(&mut self) -> Option<&mut dyn Processors> {
        Some(self)
    }
    fn memory(&mut self) -> Option<&mut dyn Memory> {
        Some(self)
    }
    fn disks(&mut self) -> Option<&mut dyn Disks> {
        Some(self)
    }
    fn network(&mut self) -> Option<&mut dyn Network> {
        Some(self)
    }
}

impl<M: Machine> Clock for Board<M> {
    fn now_ns(&mut self) -> Result<i64, HookError> {
        Ok(self.machine.clock().now_ns())
    }
}

impl<M: Machine> SetClock for Board<M> {
    fn set_time(&mut self, time: SetTime) -> Result<(), HookError> {
        match time {
            SetTime::To(t) => self.machine.clock().set_ns(t),
            SetTime::FromHardware => self.machine.clock().resync(),
        }
        Ok(())
    }
}

impl<M: Machine> Power for Board<M> {
    fn shutdown(&mut self, mode: ShutdownMode) -> Result<(), HookError> {
        // Carried out by the main loop once the transport has drained.
        self.power = Some(mode);
        Ok(())
    }
}

impl<M: Machine> SystemInfo for Board<M> {
    fn host_name(&mut self, f: &mut dyn FnMut(&str)) -> Result<(), HookError> {
        f(option_env!("NANOQGA_HOSTNAME").unwrap_or("nanoqga"));
        Ok(())
    }

    fn os_info(&mut self, f: &mut dyn FnMut(&OsInfo<'_>)) -> Result<(), HookError> {
        f(&info::os_info(M::ARCH));
        Ok(())
    }

    fn timezone(&mut self, f: &mut dyn FnMut(&Timezone<'_>)) -> Result<(), HookError> {
        // The hardware clocks keep UTC.
        f(&Timezone {
            zone: Some("UTC"),
            offset: 0,
        });
        Ok(())
    }

    fn users(&mut self, _f: &mut dyn FnMut(&User<'_>) -> ControlFlow<()>) -> Result<(), HookError> {
        // Nobody logs in to a bare-metal agent.
        Ok(())
    }
}

impl<M: Machine> Processors for Board<M> {
    fn vcpus(&mut self, f: &mut dyn FnMut(&Vcpu) -> ControlFlow<()>) -> Result<(), HookError> {
        for id in 0..self.cpus.max(1) {
            // The agent runs on CPU 0; the others stay parked.
            let v = Vcpu {
                logical_id: i64::from(id),
                online: true,
                can_offline: Some(false),
            };
            if f(&v).is_break() {
                break;
            }
        }
        Ok(())
    }
}

impl<M: Machine> Memory for Board<M> {
    fn block_size(&mut self) -> Result<u64, HookError> {
        Ok(M::MEMORY_BLOCK)
    }

    fn blocks(
        &mut self,
        f: &mut dyn FnMut(&MemoryBlock) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        let mut last = None;
        for &(start, len) in self.ram.iter().filter(|r| r.1 != 0) {
            let first = start / M::MEMORY_BLOCK;
            let end = start.saturating_add(len).div_ceil(M::MEMORY_BLOCK);
            for index in first..end {
                if last == Some(index) {
                    continue;
                }
                last = Some(index);
                let block = MemoryBlock {
                    phys_index: index,
                    online: true,
                    can_offline: Some(false),
                };
                if f(&block) == ControlFlow::Break(()) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

impl<M: Machine> Disks for Board<M> {
    fn fs_info(
        &mut self,
        f: &mut dyn FnMut(&FsInfo<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        let used = self.files.ram.used_bytes() as u64;
        let _ = f(&FsInfo {
            name: "ramfs",
            mountpoint: "/tmp",
            fs_type: "ramfs",
            used_bytes: Some(used),
            total_bytes: Some((RAM_FILES * RAM_FILE_BYTES) as u64),
            disks: &[],
        });
        Ok(())
    }

    fn disks(
        &mut self,
        _f: &mut dyn FnMut(&DiskInfo<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        // No block devices are driven.
        Ok(())
    }

    fn disk_stats(
        &mut self,
        _f: &mut dyn FnMut(&DiskStats<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        Ok(())
    }
}

impl<M: Machine> Network for Board<M> {
    fn interfaces(
        &mut self,
        _f: &mut dyn FnMut(&NetInterface<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        // No network devices are driven.
        Ok(())
    }

    fn routes(
        &mut self,
        _f: &mut dyn FnMut(&Route<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        Ok(())
    }
}
