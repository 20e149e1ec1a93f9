//! The UEFI board's platform: the shared bare-metal [`Board`] with the
//! boot volume, images as programs, and what the firmware knows.
//!
//! Contract, beside [`Board`]'s:
//! * Files: `/tmp/…` are RAM files and `/var/log/nanoqga.log` is the trace,
//!   as on every bare-metal board; every other path is a file on the boot
//!   volume ([`crate::volume`]).
//! * Programs: the built-in ones first; the health check also reports the
//!   firmware and the memory map's totals. Any other path naming a file on
//!   the boot volume is an image to boot ([`crate::image`]).
//! * `guest-get-osinfo`: id `uefi`, the UEFI revision as the version, the
//!   firmware vendor and revision as the kernel; `guest-get-fsinfo`: the
//!   boot volume (`/`) beside the RAM files.
//! * Sleeping: the firmware gives an application no device interrupts, so
//!   the board halts until the firmware's timer tick and then looks at its
//!   devices: OVMF's 10 ms tick while nothing happens, a 100 µs tick
//!   ([`crate::tick`]) for 5 ms after the agent last did work (a client's
//!   next request follows its last answer within that, and a UART's FIFO
//!   is refilled only once emptied). Nothing spins.
//! * Handover ([`Served::hand_over`]): the firmware gets back what the
//!   board took from it (the virtio consoles' drivers, the COM ports that
//!   do not carry the channel) while the image runs, and loses it again if
//!   the image returns.

use core::fmt::Write as _;
use core::ops::ControlFlow;

use heapless::String;
use nanoqga::error::{Errno, HookError};
use nanoqga::platform::{
    Clock, DiskInfo, DiskStats, Disks, ExecIo, ExecRequest, ExecState, ExecStatus, FileId,
    FileStore, FsInfo, Memory, Network, OpenMode, OsInfo, Platform, Power, Processors, Programs,
    SetClock, ShutdownMode, SystemInfo, Timezone, User, Whence,
};
use nanoqga::programs::HEALTH_CHECK_PATH;
use nanoqga_board::board::{Board, RamMap};
use nanoqga_board::files::{RAM_PREFIX, TRACE_PATH};
use nanoqga_board::serve::Served;
use nanoqga_board::{Machine, WallClock};
use uefi::boot::{self, MemoryType};
use uefi::mem::memory_map::MemoryMap;

use crate::firmware::{SerialHandles, VirtioHandles};
use crate::image::{self, Images, Outcome};
use crate::machine::Uefi;
use crate::volume::Volume;

/// State word 3 of a requested image (the board's programs use 1 and 2).
const TAG_IMAGE: u64 = 0x5546_4549;

/// What the firmware says about itself.
pub struct Firmware {
    /// `FirmwareVendor` of the system table (`EDK II`).
    pub vendor: String<64>,
    /// `FirmwareRevision`, as `0x00010000`.
    pub revision: String<12>,
    /// The UEFI revision the firmware implements (`2.70`).
    pub uefi: String<8>,
    /// `UEFI 2.70 (EDK II 0x00010000)`.
    pub pretty: String<96>,
}

impl Firmware {
    /// Reads the system table.
    pub fn read() -> Firmware {
        let mut vendor = String::new();
        for c in uefi::system::firmware_vendor().iter() {
            let _ = vendor.push(char::from(*c));
        }
        let mut revision = String::new();
        let _ = write!(revision, "{:#010x}", uefi::system::firmware_revision());
        let r = uefi::system::uefi_revision();
        let mut spec = String::new();
        let _ = write!(spec, "{}.{}", r.major(), r.minor());
        let mut pretty = String::new();
        let _ = write!(pretty, "UEFI {spec} ({vendor} {revision})");
        Firmware {
            vendor,
            revision,
            uefi: spec,
            pretty,
        }
    }
}

/// The memory map's RAM, for the board and the health check.
pub struct RamSummary {
    /// RAM regions, merged where they touch.
    pub map: RamMap,
    /// Bytes of RAM of any kind.
    pub total: u64,
    /// Bytes free (conventional memory).
    pub free: u64,
    /// Entries of the memory map.
    pub entries: usize,
}

/// Reads the memory map (into pool memory the `uefi` crate frees again).
pub fn ram() -> RamSummary {
    let mut s = RamSummary {
        map: [(0, 0); 16],
        total: 0,
        free: 0,
        entries: 0,
    };
    let Ok(mm) = boot::memory_map(MemoryType::LOADER_DATA) else {
        return s;
    };
    let mut used = 0;
    for d in mm.entries() {
        s.entries += 1;
        let ram = matches!(
            d.ty,
            MemoryType::CONVENTIONAL
                | MemoryType::LOADER_CODE
                | MemoryType::LOADER_DATA
                | MemoryType::BOOT_SERVICES_CODE
                | MemoryType::BOOT_SERVICES_DATA
                | MemoryType::RUNTIME_SERVICES_CODE
                | MemoryType::RUNTIME_SERVICES_DATA
                | MemoryType::ACPI_RECLAIM
                | MemoryType::ACPI_NON_VOLATILE
                | MemoryType::PERSISTENT_MEMORY
        );
        if !ram {
            continue;
        }
        let len = d.page_count.saturating_mul(4096);
        s.total = s.total.saturating_add(len);
        if d.ty == MemoryType::CONVENTIONAL {
            s.free = s.free.saturating_add(len);
        }
        // Merge with the previous region when they touch.
        match used {
            0 => {
                s.map[0] = (d.phys_start, len);
                used = 1;
            }
            n => {
                let room = n < s.map.len();
                let last = &mut s.map[n - 1];
                if last.0.saturating_add(last.1) == d.phys_start {
                    last.1 = last.1.saturating_add(len);
                } else if !room {
                    // Out of room: the last region stretches to cover it.
                    last.1 = d.phys_start.saturating_add(len).saturating_sub(last.0);
                } else {
                    s.map[n] = (d.phys_start, len);
                    used += 1;
                }
            }
        }
    }
    s
}

/// The platform.
pub struct UefiPlatform {
    /// The shared bare-metal hooks.
    pub board: Board<Uefi>,
    /// The boot volume.
    pub volume: Volume,
    /// Images requested through `guest-exec`.
    pub images: &'static mut Images,
    /// Virtio consoles taken from the firmware's drivers.
    pub virtio: VirtioHandles,
    /// COM ports taken out of the firmware's console.
    pub serial: SerialHandles,
    /// The firmware's name and revision.
    pub firmware: Firmware,
    /// Uptime of the last round the agent did work in.
    pub last_busy: u64,
}

/// How long after the agent's last work the firmware ticks fast (a
/// client's next request follows its last answer within that, and a UART's
/// FIFO is refilled only once emptied).
const ACTIVE_NS: u64 = 5_000_000;

impl UefiPlatform {
    /// The health check's first lines: the firmware and its memory map.
    fn health_header(&self, io: &mut ExecIo<'_>) {
        let r = ram();
        let out = io.stdout();
        let _ = writeln!(out, "firmware: {}", self.firmware.pretty);
        let _ = writeln!(
            out,
            "memory map: {} entries, {} KiB RAM, {} KiB free",
            r.entries,
            r.total / 1024,
            r.free / 1024
        );
    }
}

impl Platform for UefiPlatform {
    fn clock(&mut self) -> Option<&mut dyn Clock> {
        self.board.clock()
    }
    fn set_clock(&mut self) -> Option<&mut dyn SetClock> {
        self.board.set_clock()
    }
    fn power(&mut self) -> Option<&mut dyn Power> {
        self.board.power()
    }
    fn files(&mut self) -> Option<&mut dyn FileStore> {
        Some(self)
    }
    fn programs(&mut self) -> Option<&mut dyn Programs> {
        Some(self)
    }
    fn system(&mut self) -> Option<&mut dyn SystemInfo> {
        Some(self)
    }
    fn processors(&mut self) -> Option<&mut dyn Processors> {
        self.board.processors()
    }
    fn memory(&mut self) -> Option<&mut dyn Memory> {
        self.board.memory()
    }
    fn disks(&mut self) -> Option<&mut dyn Disks> {
        Some(self)
    }
    fn network(&mut self) -> Option<&mut dyn Network> {
        self.board.network()
    }
}

/// Whether `path` is the board's own (RAM files, the trace).
fn board_path(path: &str) -> bool {
    path == TRACE_PATH || path.starts_with(RAM_PREFIX)
}

impl FileStore for UefiPlatform {
    fn open(&mut self, path: &str, mode: OpenMode) -> Result<FileId, HookError> {
        if board_path(path) {
            return self.board.files.open(path, mode);
        }
        self.volume.open(path, mode)
    }

    fn read(&mut self, file: FileId, buf: &mut [u8]) -> Result<usize, HookError> {
        if Volume::owns(file) {
            return self.volume.read(file, buf);
        }
        self.board.files.read(file, buf)
    }

    fn write(&mut self, file: FileId, data: &[u8]) -> Result<usize, HookError> {
        if Volume::owns(file) {
            return self.volume.write(file, data);
        }
        self.board.files.write(file, data)
    }

    fn seek(&mut self, file: FileId, offset: i64, whence: Whence) -> Result<u64, HookError> {
        if Volume::owns(file) {
            return self.volume.seek(file, offset, whence);
        }
        self.board.files.seek(file, offset, whence)
    }

    fn flush(&mut self, file: FileId) -> Result<(), HookError> {
        if Volume::owns(file) {
            return self.volume.flush(file);
        }
        self.board.files.flush(file)
    }

    fn close(&mut self, file: FileId) -> Result<(), HookError> {
        if Volume::owns(file) {
            return self.volume.close(file);
        }
        self.board.files.close(file)
    }
}

impl Programs for UefiPlatform {
    fn start(
        &mut self,
        req: &ExecRequest<'_>,
        state: &mut ExecState,
        io: &mut ExecIo<'_>,
    ) -> Result<ExecStatus, HookError> {
        if req.path == HEALTH_CHECK_PATH {
            self.health_header(io);
        }
        match self.board.programs.start(req, state, io) {
            Err(HookError::Errno(Errno::ENOENT)) if self.volume.is_file(req.path) => {
                state[0] = self.images.request(req)?;
                state[3] = TAG_IMAGE;
                Ok(ExecStatus::Running(image::WAITING))
            }
            r => r,
        }
    }

    fn resume(&mut self, state: &mut ExecState, io: &mut ExecIo<'_>) -> ExecStatus {
        if state[3] == TAG_IMAGE {
            return self.images.status(state[0], io);
        }
        self.board.programs.resume(state, io)
    }
}

impl SystemInfo for UefiPlatform {
    fn host_name(&mut self, f: &mut dyn FnMut(&str)) -> Result<(), HookError> {
        self.board.host_name(f)
    }

    fn os_info(&mut self, f: &mut dyn FnMut(&OsInfo<'_>)) -> Result<(), HookError> {
        let fw = &self.firmware;
        f(&OsInfo {
            kernel_release: Some(&fw.revision),
            kernel_version: Some(&fw.vendor),
            machine: Some(Uefi::ARCH),
            id: Some("uefi"),
            name: Some("UEFI"),
            pretty_name: Some(&fw.pretty),
            version: Some(&fw.uefi),
            version_id: Some(&fw.uefi),
            variant: Some("nanoqga firmware stage"),
            variant_id: Some("nanoqga"),
        });
        Ok(())
    }

    fn timezone(&mut self, f: &mut dyn FnMut(&Timezone<'_>)) -> Result<(), HookError> {
        self.board.timezone(f)
    }

    fn users(&mut self, f: &mut dyn FnMut(&User<'_>) -> ControlFlow<()>) -> Result<(), HookError> {
        self.board.users(f)
    }
}

impl Disks for UefiPlatform {
    fn fs_info(
        &mut self,
        f: &mut dyn FnMut(&FsInfo<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        if self.volume.present() {
            let usage = self.volume.usage();
            let flow = f(&FsInfo {
                name: "fs0",
                mountpoint: "/",
                fs_type: "vfat",
                used_bytes: usage.map(|u| u.0),
                total_bytes: usage.map(|u| u.1),
                disks: &[],
            });
            if flow.is_break() {
                return Ok(());
            }
        }
        self.board.fs_info(f)
    }

    fn disks(
        &mut self,
        f: &mut dyn FnMut(&DiskInfo<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        Disks::disks(&mut self.board, f)
    }

    fn disk_stats(
        &mut self,
        f: &mut dyn FnMut(&DiskStats<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        self.board.disk_stats(f)
    }
}

impl Served for UefiPlatform {
    fn trace(&mut self, args: core::fmt::Arguments<'_>) {
        self.board.trace(args);
    }

    fn tick(&mut self) -> Option<u64> {
        self.board.machine.clock.tick()
    }

    fn take_power(&mut self) -> Option<ShutdownMode> {
        self.board.power.take()
    }

    fn shut_down(&mut self, mode: ShutdownMode) -> ! {
        self.board.machine.power(mode)
    }

    fn sleep(&mut self, max_ns: Option<u64>) {
        let since = crate::clock::uptime_ns().saturating_sub(self.last_busy);
        let active = since < ACTIVE_NS;
        let m = &mut self.board.machine;
        m.tick.set_fast(active);
        let limit = match (active && m.tick.available(), m.tick.normal_ns()) {
            (true, _) => crate::tick::FAST_NS,
            (false, 0) => crate::machine::POLL_NS,
            (false, normal) => normal,
        };
        m.sleep(Some(max_ns.unwrap_or(limit).min(limit)));
    }

    fn busy(&mut self) {
        self.last_busy = crate::clock::uptime_ns();
    }

    fn handover_pending(&self) -> bool {
        self.images.waiting()
    }

    fn hand_over(&mut self, channel: &str) {
        let keep = nanoqga_board::x86::com::PORTS
            .iter()
            .map(|&(base, _)| base)
            .find(|&b| nanoqga_board::x86::com::name(b) == channel);
        self.board.trace(format_args!(
            "handover: starting the image (channel {channel})"
        ));
        self.board.machine.tick.restore();
        self.serial.give_back(keep);
        self.virtio.give_back();
        let outcome = self.images.run(self.volume.device);
        let mut notes = String::<256>::new();
        self.virtio.take(&mut notes);
        self.serial.retake();
        match outcome {
            Some(Outcome::Returned(s)) => self
                .board
                .trace(format_args!("handover: the image returned {s:?}; {notes}")),
            Some(Outcome::NotLoaded(s)) => self
                .board
                .trace(format_args!("handover: LoadImage failed: {s:?}; {notes}")),
            None => {}
        }
    }
}
