//! The host's board hooks.

use std::ops::ControlFlow;

use nanoqga::error::{Errno, HookError};
use nanoqga::platform::{
    FileStore, FsInfo, MemoryBlock, NetInterface, OsInfo, Platform, Programs, ShutdownMode,
    Timezone, User, Vcpu,
};

use crate::Options;
use crate::exec::HostPrograms;
use crate::files::RootedFiles;
use crate::sysinfo;

/// The hooks of `nanoqga-host`.
pub struct HostPlatform {
    files: Option<RootedFiles>,
    programs: HostPrograms,
    allow_set_time: bool,
    shutdown: Option<ShutdownMode>,
    verbose: bool,
}

pub(crate) fn last_errno() -> Errno {
    Errno(
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO),
    )
}

impl HostPlatform {
    /// Hooks configured from the command line.
    pub fn new(opts: &Options) -> Result<Self, String> {
        let files = match &opts.file_root {
            Some(root) => Some(
                RootedFiles::new(root)
                    .map_err(|e| format!("--file-root {}: {e}", root.display()))?,
            ),
            None => None,
        };
        Ok(HostPlatform {
            programs: HostPrograms::new(
                opts.allow_exec,
                files.as_ref().map(|f| f.root().to_path_buf()),
            ),
            files,
            allow_set_time: opts.allow_set_time,
            shutdown: None,
            verbose: opts.verbose,
        })
    }

    /// Whether `guest-shutdown` asked the process to end.
    pub fn shutdown_requested(&self) -> bool {
        self.shutdown.is_some()
    }
}

fn realtime_ns() -> Result<i64, HookError> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) } != 0 {
        return Err(HookError::Errno(last_errno()));
    }
    Ok(ts
        .tv_sec
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec))
}

impl Platform for HostPlatform {
    fn now_ns(&mut self) -> Result<i64, HookError> {
        realtime_ns()
    }

    fn set_time(&mut self, time_ns: Option<i64>) -> Result<(), HookError> {
        if !self.allow_set_time {
            return Err(HookError::Unsupported);
        }
        let ns = match time_ns {
            Some(t) => {
                nanoqga::commands::check_settable_time(t)?;
                t
            }
            // No time given: take it from the hardware clock.
            None => sysinfo::rtc_ns().ok_or(HookError::Unsupported)?,
        };
        let ts = libc::timespec {
            tv_sec: ns.div_euclid(1_000_000_000),
            tv_nsec: ns.rem_euclid(1_000_000_000),
        };
        // SAFETY: `ts` is a valid timespec.
        if unsafe { libc::clock_settime(libc::CLOCK_REALTIME, &ts) } != 0 {
            return Err(HookError::Errno(last_errno()));
        }
        Ok(())
    }

    fn shutdown(&mut self, mode: ShutdownMode) -> Result<(), HookError> {
        // Never the host: the process ends with status 0 (the serve loop
        // sees the flag right after this poll).
        if self.verbose {
            log!("nanoqga-host: guest-shutdown ({mode:?}): exiting");
        }
        self.shutdown = Some(mode);
        Ok(())
    }

    fn files(&mut self) -> Option<&mut dyn FileStore> {
        self.files.as_mut().map(|f| f as &mut dyn FileStore)
    }

    fn programs(&mut self) -> Option<&mut dyn Programs> {
        Some(&mut self.programs)
    }

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

    fn vcpus(&mut self, f: &mut dyn FnMut(&Vcpu) -> ControlFlow<()>) -> Result<(), HookError> {
        sysinfo::vcpus(f)
    }

    fn memory_block_size(&mut self) -> Result<u64, HookError> {
        sysinfo::memory_block_size()
    }

    fn memory_blocks(
        &mut self,
        f: &mut dyn FnMut(&MemoryBlock) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        sysinfo::memory_blocks(f)
    }

    fn fs_info(
        &mut self,
        f: &mut dyn FnMut(&FsInfo<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        sysinfo::fs_info(f)
    }

    fn network_interfaces(
        &mut self,
        f: &mut dyn FnMut(&NetInterface<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        sysinfo::network_interfaces(f)
    }

    fn event(&mut self, event: nanoqga::Event) {
        if self.verbose {
            log!("nanoqga-host: {event:?}");
        }
    }
}
