//! The host's capabilities: what `nanoqga-host` can do without changing the
//! machine it runs on (and what its flags allow).
//!
//! | capability | host build |
//! |---|---|
//! | clock | `CLOCK_REALTIME` |
//! | settable clock | only with `--allow-set-time` |
//! | power | `guest-shutdown` ends this process (status 0); no suspend |
//! | files | only with `--file-root`, confined to it |
//! | programs | the built-ins; real processes with `--allow-exec` |
//! | system information, processors, memory, disks, network | read from the OS |
//! | SSH keys | read only (adding and removing would change the host) |
//! | freeze, passwords, CPU and memory changes | none (not supported) |

use std::ops::ControlFlow;
use std::path::Path;

use nanoqga::error::HookError;
use nanoqga::platform::{
    Clock, CpuStats, DiskInfo, DiskStats, Disks, FileStore, FsInfo, LoadAverage, Memory,
    MemoryBlock, NetInterface, Network, OsInfo, Platform, Power, Processors, Programs, Route,
    SetClock, SetTime, ShutdownMode, SshKeys, StrList, SystemInfo, Timezone, User, Vcpu,
};

use crate::exec::HostPrograms;
use crate::files::RootedFiles;
use crate::sys::{clock_ns, hook_errno};
use crate::{procfs, sysinfo};

/// What the command line allows.
#[derive(Clone, Debug, Default)]
pub struct Settings<'a> {
    /// Root directory for `guest-file-*`.
    pub file_root: Option<&'a Path>,
    /// Let `guest-exec` run real programs.
    pub allow_exec: bool,
    /// Let `guest-set-time` set the clock.
    pub allow_set_time: bool,
    /// Log to stderr.
    pub verbose: bool,
}

/// The host clock, settable only when allowed.
pub struct HostClock;

impl Clock for HostClock {
    fn now_ns(&mut self) -> Result<i64, HookError> {
        clock_ns(libc::CLOCK_REALTIME)
    }
}

impl SetClock for HostClock {
    fn set_time(&mut self, time: SetTime) -> Result<(), HookError> {
        let ns = match time {
            SetTime::To(t) => t,
            SetTime::FromHardware => sysinfo::rtc_ns().ok_or(HookError::Unsupported)?,
        };
        let ts = libc::timespec {
            tv_sec: ns.div_euclid(1_000_000_000),
            tv_nsec: ns.rem_euclid(1_000_000_000),
        };
        // SAFETY: `ts` is a valid timespec.
        if unsafe { libc::clock_settime(libc::CLOCK_REALTIME, &ts) } != 0 {
            return Err(hook_errno());
        }
        Ok(())
    }
}

/// The hooks of `nanoqga-host`.
pub struct HostPlatform {
    clock: HostClock,
    files: Option<RootedFiles>,
    programs: HostPrograms,
    allow_set_time: bool,
    shutdown: Option<ShutdownMode>,
    verbose: bool,
}

impl HostPlatform {
    /// Hooks configured from the command line.
    pub fn new(settings: &Settings<'_>) -> Result<Self, String> {
        let files = match settings.file_root {
            Some(root) => Some(
                RootedFiles::new(root)
                    .map_err(|e| format!("--file-root {}: {e}", root.display()))?,
            ),
            None => None,
        };
        Ok(HostPlatform {
            clock: HostClock,
            programs: HostPrograms::new(
                settings.allow_exec,
                files.as_ref().map(|f| f.root().to_path_buf()),
            ),
            files,
            allow_set_time: settings.allow_set_time,
            shutdown: None,
            verbose: settings.verbose,
        })
    }

    /// Whether `guest-shutdown` asked the process to end.
    pub fn shutdown_requested(&self) -> bool {
        self.shutdown.is_some()
    }
}

impl Platform for HostPlatform {
    fn clock(&mut self) -> Option<&mut dyn Clock> {
        Some(&mut self.clock)
    }
    fn set_clock(&mut self) -> Option<&mut dyn SetClock> {
        self.allow_set_time
            .then_some(&mut self.clock as &mut dyn SetClock)
    }
    fn power(&mut self) -> Option<&mut dyn Power> {
        Some(self)
    }
    fn files(&mut self) -> Option<&mut dyn FileStore> {
        self.files.as_mut().map(|f| f as &mut dyn FileStore)
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
    fn ssh_keys(&mut self) -> Option<&mut dyn SshKeys> {
        Some(self)
    }
}

impl Power for HostPlatform {
    fn shutdown(&mut self, mode: ShutdownMode) -> Result<(), HookError> {
        // Never the host: the process ends with status 0 (the serve loop
        // sees the flag right after this poll).
        if self.verbose {
            log!("nanoqga-host: guest-shutdown ({mode:?}): exiting");
        }
        self.shutdown = Some(mode);
        Ok(())
    }
}

impl SystemInfo for HostPlatform {
    fn host_name(&mut self, f: &mut dyn FnMut(&str)) -> Result<(), HookError> {
        let mut buf = [0u8; 256];
        f(sysinfo::host_name(&mut buf));
        Ok(())
    }

    fn os_info(&mut self, f: &mut dyn FnMut(&OsInfo<'_>)) -> Result<(), HookError> {
        sysinfo::os_info(f);
        Ok(())
    }

    fn timezone(&mut self, f: &mut dyn FnMut(&Timezone<'_>)) -> Result<(), HookError> {
        sysinfo::timezone(f);
        Ok(())
    }

    fn users(&mut self, f: &mut dyn FnMut(&User<'_>) -> ControlFlow<()>) -> Result<(), HookError> {
        sysinfo::users(f);
        Ok(())
    }

    fn load(&mut self) -> Result<LoadAverage, HookError> {
        procfs::load()
    }

    fn cpu_stats(
        &mut self,
        f: &mut dyn FnMut(&CpuStats) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        procfs::cpu_stats(f)
    }
}

impl Processors for HostPlatform {
    fn vcpus(&mut self, f: &mut dyn FnMut(&Vcpu) -> ControlFlow<()>) -> Result<(), HookError> {
        sysinfo::vcpus(f)
    }
}

impl Memory for HostPlatform {
    fn block_size(&mut self) -> Result<u64, HookError> {
        sysinfo::memory_block_size()
    }

    fn blocks(
        &mut self,
        f: &mut dyn FnMut(&MemoryBlock) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        sysinfo::memory_blocks(f)
    }
}

impl Disks for HostPlatform {
    fn fs_info(
        &mut self,
        f: &mut dyn FnMut(&FsInfo<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        sysinfo::fs_info(f)
    }

    fn disks(
        &mut self,
        f: &mut dyn FnMut(&DiskInfo<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        procfs::disks(f)
    }

    fn disk_stats(
        &mut self,
        f: &mut dyn FnMut(&DiskStats<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        procfs::disk_stats(f)
    }
}

impl Network for HostPlatform {
    fn interfaces(
        &mut self,
        f: &mut dyn FnMut(&NetInterface<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        sysinfo::network_interfaces(f)
    }

    fn routes(
        &mut self,
        f: &mut dyn FnMut(&Route<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        procfs::routes(f)
    }
}

impl SshKeys for HostPlatform {
    fn authorized_keys(
        &mut self,
        username: &str,
        f: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        for k in procfs::authorized_keys(username)? {
            if f(&k).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn add_keys(&mut self, _: &str, _: &StrList<'_>, _: bool) -> Result<(), HookError> {
        // Would change the host.
        Err(HookError::Unsupported)
    }

    fn remove_keys(&mut self, _: &str, _: &StrList<'_>) -> Result<(), HookError> {
        Err(HookError::Unsupported)
    }
}
