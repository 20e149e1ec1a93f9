//! The board hooks of nanoqga on QEMU x86_64.

use core::fmt::Write as _;
use core::ops::ControlFlow;

use nanoqga::Event;
use nanoqga::error::HookError;
use nanoqga::platform::{
    FileStore, FsInfo, MemoryBlock, NetInterface, OsInfo, Platform, Programs, ShutdownMode,
    Timezone, User, Vcpu,
};
use nanoqga_board::{BoardFiles, BoardPrograms, info};

use crate::clock::{Clock, uptime_ns};

/// RAM files: 8 of up to 16 KiB under /tmp/, and an 8 KiB trace ring.
pub type Files = BoardFiles<8, 16384, 8, 8192>;

/// Memory blocks are reported in Linux's x86 block size.
pub const MEMORY_BLOCK: u64 = 128 << 20;

/// RAM regions from the PVH memory map (start, length).
pub type RamMap = [(u64, u64); 16];

/// The board.
pub struct Board {
    /// Wall clock.
    pub clock: Clock,
    /// Files and the trace ring.
    pub files: &'static mut Files,
    /// Programs.
    pub programs: BoardPrograms<'static>,
    /// Power request waiting for the UART to drain.
    pub power: Option<ShutdownMode>,
    /// Processors from the MADT.
    pub cpus: u32,
    /// RAM regions.
    pub ram: RamMap,
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

impl Board {
    /// Writes a line to the trace ring, stamped with the uptime, and to
    /// the debug console.
    pub fn trace(&mut self, args: core::fmt::Arguments<'_>) {
        let t = uptime_ns();
        let _ = writeln!(
            DebugCon,
            "[{:5}.{:06}] {args}",
            t / 1_000_000_000,
            t / 1000 % 1_000_000
        );
        let _ = write!(
            self.files.trace,
            "[{:5}.{:06}] ",
            t / 1_000_000_000,
            t / 1000 % 1_000_000
        );
        self.files.trace.line(args);
    }
}

impl Platform for Board {
    fn now_ns(&mut self) -> Result<i64, HookError> {
        Ok(self.clock.now_ns())
    }

    fn set_time(&mut self, time_ns: Option<i64>) -> Result<(), HookError> {
        match time_ns {
            Some(t) => {
                nanoqga::commands::check_settable_time(t)?;
                self.clock.set_ns(t);
            }
            None => self.clock.resync(),
        }
        Ok(())
    }

    fn shutdown(&mut self, mode: ShutdownMode) -> Result<(), HookError> {
        // Carried out by the main loop once the UART has sent everything.
        self.power = Some(mode);
        Ok(())
    }

    fn files(&mut self) -> Option<&mut dyn FileStore> {
        Some(self.files)
    }

    fn programs(&mut self) -> Option<&mut dyn Programs> {
        Some(&mut self.programs)
    }

    fn host_name(&mut self, f: &mut dyn FnMut(&str)) -> Result<(), HookError> {
        f(option_env!("NANOQGA_HOSTNAME").unwrap_or("nanoqga"));
        Ok(())
    }

    fn os_info(&mut self, f: &mut dyn FnMut(&OsInfo<'_>)) -> Result<(), HookError> {
        f(&info::os_info("x86_64"));
        Ok(())
    }

    fn timezone(&mut self, f: &mut dyn FnMut(&Timezone<'_>)) -> Result<(), HookError> {
        // The RTC keeps UTC.
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

    fn vcpus(&mut self, f: &mut dyn FnMut(&Vcpu) -> ControlFlow<()>) -> Result<(), HookError> {
        for id in 0..self.cpus.max(1) {
            // The agent runs on CPU 0; the others stay parked by firmware.
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

    fn memory_block_size(&mut self) -> Result<u64, HookError> {
        Ok(MEMORY_BLOCK)
    }

    fn memory_blocks(
        &mut self,
        f: &mut dyn FnMut(&MemoryBlock) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        let mut last = None;
        for &(start, len) in self.ram.iter().filter(|r| r.1 != 0) {
            let first = start / MEMORY_BLOCK;
            let end = (start + len).div_ceil(MEMORY_BLOCK);
            for index in first..end {
                if last == Some(index) {
                    continue;
                }
                last = Some(index);
                if f(&MemoryBlock {
                    phys_index: index,
                    online: true,
                    can_offline: Some(false),
                })
                .is_break()
                {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

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
            total_bytes: Some(8 * 16384),
            disks: &[],
        });
        Ok(())
    }

    fn network_interfaces(
        &mut self,
        _f: &mut dyn FnMut(&NetInterface<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        // No network devices are driven.
        Ok(())
    }

    fn event(&mut self, event: Event) {
        self.trace(format_args!("{event:?}"));
    }
}
