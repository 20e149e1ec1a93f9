//! The guest's capabilities: everything qemu-ga does in a Linux guest, done
//! directly (system calls, sysfs, `/etc/shadow`), with no helper programs.
//!
//! | capability | how |
//! |---|---|
//! | clock | `CLOCK_REALTIME`; set with `clock_settime` and the RTC ([`crate::rtc`]) |
//! | power | `sync()`, then `reboot(2)`: power off, halt, restart |
//! | suspend | `/sys/power/state` (and `/sys/power/disk` for hybrid), with qemu-ga's support checks |
//! | files | the guest's own files, opened as qemu-ga opens them |
//! | programs | real processes (no shell), stdio piped, zombies reaped |
//! | system information, disks, network | `nanoqga-host`'s readers of /proc and /sys |
//! | processors, memory blocks | read as on the host; set through sysfs `online` and `state` |
//! | freeze, trim | [`crate::freeze`] |
//! | passwords, ssh keys | [`crate::accounts`] |

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use nanoqga::error::{Errno, HookError};
use nanoqga::platform::{
    Clock, Disks, FileStore, Freeze, Memory, MemoryBlock, MemoryBlockResponse, Network, Passwords,
    Platform, Power, Processors, Programs, SetClock, SetTime, ShutdownMode, SshKeys, StrList,
    SuspendMode, SystemInfo, TrimResult, Vcpu,
};
use nanoqga_host::files::RootedFiles;
use nanoqga_host::sys::hook_errno;
use nanoqga_host::{HostPlatform, Settings, sysinfo};

/// The hooks of `nanoqga-linux`.
pub struct GuestPlatform {
    /// The host build's hooks, for what reading the machine needs (and its
    /// programs, with real processes allowed).
    host: HostPlatform,
    files: RootedFiles,
    /// When the freeze must end by itself (`--fsfreeze-timeout`).
    freeze_deadline: Option<Instant>,
    freeze_timeout: Option<Duration>,
    frozen: bool,
}

impl GuestPlatform {
    /// The guest's hooks; `freeze_timeout` thaws a freeze that lasts longer.
    pub fn new(verbose: bool, freeze_timeout: Option<Duration>) -> Result<Self, String> {
        let host = HostPlatform::new(&Settings {
            file_root: None,
            allow_exec: true,
            allow_set_time: false,
            verbose,
        })?;
        let files = RootedFiles::unconfined().map_err(|e| format!("/: {e}"))?;
        Ok(GuestPlatform {
            host,
            files,
            freeze_deadline: None,
            freeze_timeout,
            frozen: false,
        })
    }
}

impl nanoqga_host::Served for GuestPlatform {
    fn shutdown_requested(&self) -> bool {
        // guest-shutdown powers the guest off inside the call.
        false
    }

    fn quiet(&self) -> bool {
        self.frozen
    }

    fn deadline(&self) -> Option<Duration> {
        self.freeze_deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    fn tick(&mut self) -> bool {
        match self.freeze_deadline {
            Some(d) if Instant::now() >= d => {
                let _ = crate::freeze::thaw();
                self.frozen = false;
                self.freeze_deadline = None;
                true
            }
            _ => false,
        }
    }
}

impl Platform for GuestPlatform {
    fn clock(&mut self) -> Option<&mut dyn Clock> {
        self.host.clock()
    }
    fn set_clock(&mut self) -> Option<&mut dyn SetClock> {
        Some(self)
    }
    fn power(&mut self) -> Option<&mut dyn Power> {
        Some(self)
    }
    fn files(&mut self) -> Option<&mut dyn FileStore> {
        Some(&mut self.files)
    }
    fn programs(&mut self) -> Option<&mut dyn Programs> {
        self.host.programs()
    }
    fn system(&mut self) -> Option<&mut dyn SystemInfo> {
        self.host.system()
    }
    fn processors(&mut self) -> Option<&mut dyn Processors> {
        Some(self)
    }
    fn memory(&mut self) -> Option<&mut dyn Memory> {
        Some(self)
    }
    fn disks(&mut self) -> Option<&mut dyn Disks> {
        Platform::disks(&mut self.host)
    }
    fn network(&mut self) -> Option<&mut dyn Network> {
        self.host.network()
    }
    fn freeze(&mut self) -> Option<&mut dyn Freeze> {
        Some(self)
    }
    fn passwords(&mut self) -> Option<&mut dyn Passwords> {
        Some(self)
    }
    fn ssh_keys(&mut self) -> Option<&mut dyn SshKeys> {
        Some(self)
    }
}

impl SetClock for GuestPlatform {
    fn set_time(&mut self, time: SetTime) -> Result<(), HookError> {
        crate::rtc::set_time(time)
    }
}

impl Power for GuestPlatform {
    fn shutdown(&mut self, mode: ShutdownMode) -> Result<(), HookError> {
        let cmd = match mode {
            ShutdownMode::Powerdown => libc::RB_POWER_OFF,
            ShutdownMode::Halt => libc::RB_HALT_SYSTEM,
            ShutdownMode::Reboot => libc::RB_AUTOBOOT,
        };
        // SAFETY: sync and reboot take no pointers; reboot returns only on
        // failure.
        unsafe {
            libc::sync();
            if libc::reboot(cmd) != 0 {
                return Err(hook_errno());
            }
        }
        Ok(())
    }

    fn suspend(&mut self, mode: SuspendMode) -> Result<(), HookError> {
        const UNSUPPORTED: HookError =
            HookError::Message("the requested suspend mode is not supported by the guest");
        let states = std::fs::read_to_string("/sys/power/state").unwrap_or_default();
        let has = |w: &str, text: &str| text.split_whitespace().any(|s| s == w);
        let disk = std::fs::read_to_string("/sys/power/disk").unwrap_or_default();
        let state = match mode {
            SuspendMode::Ram if has("mem", &states) => "mem",
            SuspendMode::Disk if has("disk", &states) => "disk",
            SuspendMode::Hybrid
                if has("disk", &states)
                    && disk
                        .split_whitespace()
                        .any(|s| s.trim_matches(['[', ']']) == "suspend") =>
            {
                std::fs::write("/sys/power/disk", "suspend")
                    .map_err(|e| nanoqga_host::sys::io_error(&e))?;
                "disk"
            }
            _ => return Err(UNSUPPORTED),
        };
        // SAFETY: sync takes no arguments.
        unsafe { libc::sync() };
        // Returns once the guest has resumed.
        std::fs::write("/sys/power/state", state).map_err(|e| nanoqga_host::sys::io_error(&e))
    }
}

/// qemu-ga's "logical processor #<n> can't be offlined", kept once per
/// processor id (bounded by the processors the guest has).
fn cannot_offline(id: i64) -> &'static str {
    use std::sync::Mutex;
    static TEXTS: Mutex<Vec<(i64, &'static str)>> = Mutex::new(Vec::new());
    let mut texts = TEXTS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, t)) = texts.iter().find(|(i, _)| *i == id) {
        return t;
    }
    let t: &'static str =
        Box::leak(format!("logical processor #{id} can't be offlined").into_boxed_str());
    texts.push((id, t));
    t
}

impl Processors for GuestPlatform {
    fn vcpus(&mut self, f: &mut dyn FnMut(&Vcpu) -> ControlFlow<()>) -> Result<(), HookError> {
        sysinfo::vcpus(f)
    }

    /// As qemu-ga: `/sys/devices/system/cpu/cpuN/online` gets `1` or `0`
    /// when it differs; a processor without that file (cpu0) is always on.
    fn set_vcpu(&mut self, logical_id: i64, online: bool) -> Result<(), HookError> {
        let dir = format!("/sys/devices/system/cpu/cpu{logical_id}");
        if !std::path::Path::new(&dir).is_dir() {
            return Err(HookError::Errno(Errno::ENOENT));
        }
        let file = format!("{dir}/online");
        match std::fs::read_to_string(&file) {
            Ok(now) => {
                let want = if online { "1" } else { "0" };
                if now.trim() != want {
                    std::fs::write(&file, want).map_err(|e| nanoqga_host::sys::io_error(&e))?;
                }
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if online {
                    Ok(())
                } else {
                    Err(HookError::Message(cannot_offline(logical_id)))
                }
            }
            Err(e) => Err(nanoqga_host::sys::io_error(&e)),
        }
    }
}

impl Memory for GuestPlatform {
    fn block_size(&mut self) -> Result<u64, HookError> {
        sysinfo::memory_block_size()
    }

    fn blocks(
        &mut self,
        f: &mut dyn FnMut(&MemoryBlock) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        sysinfo::memory_blocks(f)
    }

    /// As qemu-ga: a block without a sysfs directory is not found; offlining
    /// a block that is not removable is not supported; a failed write
    /// reports its errno.
    fn set_block(
        &mut self,
        phys_index: u64,
        online: bool,
    ) -> Result<MemoryBlockResponse, HookError> {
        let dir = format!("/sys/devices/system/memory/memory{phys_index}");
        if !std::path::Path::new(&dir).is_dir() {
            return Ok(MemoryBlockResponse::NotFound);
        }
        let state = std::fs::read_to_string(format!("{dir}/state")).unwrap_or_default();
        let is_online = state.trim() != "offline";
        if is_online == online {
            return Ok(MemoryBlockResponse::Success);
        }
        if !online {
            let removable = std::fs::read_to_string(format!("{dir}/removable")).unwrap_or_default();
            if removable.trim() == "0" {
                return Ok(MemoryBlockResponse::OperationNotSupported);
            }
        }
        match std::fs::write(
            format!("{dir}/state"),
            if online { "online" } else { "offline" },
        ) {
            Ok(()) => Ok(MemoryBlockResponse::Success),
            Err(e) => Ok(MemoryBlockResponse::OperationFailed(Some(i64::from(
                e.raw_os_error().unwrap_or(libc::EIO),
            )))),
        }
    }
}

impl Freeze for GuestPlatform {
    fn freeze(&mut self, mountpoints: &StrList<'_>) -> Result<i64, HookError> {
        // Quiet first: a log write to a frozen file system would block.
        self.frozen = true;
        let r = crate::freeze::freeze(mountpoints);
        match r {
            Ok(n) if n > 0 => {
                self.freeze_deadline = self.freeze_timeout.map(|t| Instant::now() + t);
            }
            _ => self.frozen = false,
        }
        r
    }

    fn thaw(&mut self) -> Result<i64, HookError> {
        let r = crate::freeze::thaw();
        self.frozen = false;
        self.freeze_deadline = None;
        r
    }

    fn trim(
        &mut self,
        minimum: Option<i64>,
        f: &mut dyn FnMut(&TrimResult<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        crate::freeze::trim(minimum, f)
    }
}

impl Passwords for GuestPlatform {
    fn set_password(
        &mut self,
        username: &str,
        password: &[u8],
        crypted: bool,
    ) -> Result<(), HookError> {
        crate::accounts::set_password(username, password, crypted)
    }
}

impl SshKeys for GuestPlatform {
    fn authorized_keys(
        &mut self,
        username: &str,
        f: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        self.host.authorized_keys(username, f)
    }

    fn add_keys(
        &mut self,
        username: &str,
        keys: &StrList<'_>,
        reset: bool,
    ) -> Result<(), HookError> {
        crate::accounts::add_keys(username, keys, reset)
    }

    fn remove_keys(&mut self, username: &str, keys: &StrList<'_>) -> Result<(), HookError> {
        crate::accounts::remove_keys(username, keys)
    }
}
