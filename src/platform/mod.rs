//! The board side: one small trait per capability, and [`Platform`], which
//! hands the agent the capabilities a board has.
//!
//! Contract:
//! * A board implements the capability traits for what it has and returns
//!   them from the matching [`Platform`] accessor. Every accessor defaults to
//!   `None`, and every command whose capability is missing answers qemu-ga's
//!   "this feature or command is not currently supported" with no code in
//!   the board. Inside a capability, optional methods default to
//!   [`HookError::Unsupported`] as well.
//! * Hooks never see JSON. The core validates and decodes arguments first
//!   (the settable time range included), so a hook only does the work, and
//!   it reports results through small borrowed records or visitor callbacks:
//!   no heap is needed to answer. A visitor returns [`ControlFlow::Break`]
//!   when the reply buffer is full; the agent asks again later and skips the
//!   entries it already has, so a board must visit entries in a stable order
//!   and without side effects.
//! * Hooks run inside [`crate::Agent::poll`] and should return promptly;
//!   long work belongs in a program that runs across polls ([`Programs`]).
//!
//! | capability | commands |
//! |---|---|
//! | [`Clock`] | guest-get-time |
//! | [`SetClock`] | guest-set-time |
//! | [`Power`] | guest-shutdown, guest-suspend-* |
//! | [`FileStore`] | guest-file-* |
//! | [`Programs`] | guest-exec, guest-exec-status |
//! | [`SystemInfo`] | guest-get-host-name, -osinfo, -timezone, -users, -load, -cpustats, -devices |
//! | [`Processors`] | guest-get-vcpus, guest-set-vcpus |
//! | [`Memory`] | guest-get-memory-blocks, -memory-block-info, guest-set-memory-blocks |
//! | [`Disks`] | guest-get-fsinfo, -disks, -diskstats |
//! | [`Network`] | guest-network-get-interfaces, -route |
//! | [`Freeze`] | guest-fsfreeze-freeze, -freeze-list, -thaw, guest-fstrim |
//! | [`Passwords`] | guest-set-user-password |
//! | [`SshKeys`] | guest-ssh-get-authorized-keys, -add-, -remove- |
//!
//! Diagnostics are not a capability: the agent queues what it did as
//! [`crate::Event`]s, which a board takes with [`crate::Agent::take_event`]
//! when it likes (into a trace ring, a log, or nowhere).

mod types;

use core::ops::ControlFlow;

pub use types::*;

use crate::error::HookError;

/// The wall clock (`guest-get-time`).
pub trait Clock {
    /// Nanoseconds since the epoch.
    fn now_ns(&mut self) -> Result<i64, HookError>;
}

/// A settable clock (`guest-set-time`). A board without one answers "not
/// supported" before any argument check, as qemu-ga without `hwclock` does.
pub trait SetClock {
    /// Sets the system clock, and the hardware clock where there is one.
    ///
    /// ### Return values
    /// * `Ok(())`: done.
    /// * `Err(HookError::Errno(e))`: answered as `Failed to set time to
    ///   guest: <strerror(e)>`.
    fn set_time(&mut self, time: SetTime) -> Result<(), HookError>;
}

/// Power control (`guest-shutdown`, `guest-suspend-*`). Success is never
/// answered on the wire (qemu-ga's `success-response: false`).
pub trait Power {
    /// Shuts down, halts or reboots. Called once the agent's earlier replies
    /// have been handed to the transport. May not return; `Ok(())` means the
    /// request was accepted (a board typically carries it out after the
    /// transport has drained).
    fn shutdown(&mut self, mode: ShutdownMode) -> Result<(), HookError>;

    /// Suspends. A board with some suspend modes answers
    /// `HookError::Message("the requested suspend mode is not supported by
    /// the guest")` for the others, as qemu-ga does.
    fn suspend(&mut self, mode: SuspendMode) -> Result<(), HookError> {
        let _ = mode;
        Err(HookError::Unsupported)
    }
}

/// The board's files (`guest-file-*`).
///
/// The agent owns the table that maps qemu-ga handles (1000, 1001, …) to
/// [`FileId`]s; the store only opens, reads, writes, seeks and closes.
pub trait FileStore {
    /// Opens `path` with `mode`.
    ///
    /// ### Return values
    /// * `Ok(id)`: the file is open.
    /// * `Err(HookError::Errno(e))`: answered as qemu-ga's
    ///   `failed to open file '<path>' (mode: '<mode>'): <strerror(e)>`.
    fn open(&mut self, path: &str, mode: OpenMode) -> Result<FileId, HookError>;

    /// Reads into `buf` from the current position, filling it as far as the
    /// file allows. A count shorter than `buf.len()` means end of file (this
    /// is how `eof` is reported, as with `fread`).
    fn read(&mut self, file: FileId, buf: &mut [u8]) -> Result<usize, HookError>;

    /// Writes `data` at the current position (or the end, in append mode) and
    /// returns how much was written.
    fn write(&mut self, file: FileId, data: &[u8]) -> Result<usize, HookError>;

    /// Moves the position and returns the new one.
    fn seek(&mut self, file: FileId, offset: i64, whence: Whence) -> Result<u64, HookError>;

    /// Pushes buffered writes down.
    fn flush(&mut self, file: FileId) -> Result<(), HookError> {
        let _ = file;
        Ok(())
    }

    /// Closes the file; the id is not used again until `open` returns it.
    fn close(&mut self, file: FileId) -> Result<(), HookError>;
}

/// The board's programs (`guest-exec`).
pub trait Programs {
    /// Starts the program named by `req.path`.
    ///
    /// ### Return values
    /// * `Ok(status)`: started (and perhaps already finished).
    /// * `Err(HookError::Errno(ENOENT))` for an unknown path: answered as
    ///   qemu-ga's `Guest agent command failed, error was 'Failed to execute
    ///   child process “<path>” (No such file or directory)'`, at `guest-exec`
    ///   time, never as a pid that fails later.
    fn start(
        &mut self,
        req: &ExecRequest<'_>,
        state: &mut ExecState,
        io: &mut ExecIo<'_>,
    ) -> Result<ExecStatus, HookError>;

    /// Continues a program that returned [`ExecStatus::Running`]. Called on
    /// later polls; should do a bounded amount of work.
    fn resume(&mut self, state: &mut ExecState, io: &mut ExecIo<'_>) -> ExecStatus;
}

/// What the guest is: names, time zone, users, load, CPU time, devices.
/// Every method defaults to "not supported".
#[allow(unused_variables)]
pub trait SystemInfo {
    /// Calls `f` with the host name (`guest-get-host-name`).
    fn host_name(&mut self, f: &mut dyn FnMut(&str)) -> Result<(), HookError> {
        Err(HookError::Unsupported)
    }

    /// Calls `f` with the OS information (`guest-get-osinfo`).
    fn os_info(&mut self, f: &mut dyn FnMut(&OsInfo<'_>)) -> Result<(), HookError> {
        Err(HookError::Unsupported)
    }

    /// Calls `f` with the time zone (`guest-get-timezone`).
    fn timezone(&mut self, f: &mut dyn FnMut(&Timezone<'_>)) -> Result<(), HookError> {
        Err(HookError::Unsupported)
    }

    /// Visits logged-in users (`guest-get-users`).
    fn users(&mut self, f: &mut dyn FnMut(&User<'_>) -> ControlFlow<()>) -> Result<(), HookError> {
        Err(HookError::Unsupported)
    }

    /// The load averages (`guest-get-load`).
    fn load(&mut self) -> Result<LoadAverage, HookError> {
        Err(HookError::Unsupported)
    }

    /// Visits the CPUs' time counters (`guest-get-cpustats`).
    fn cpu_stats(
        &mut self,
        f: &mut dyn FnMut(&CpuStats) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        Err(HookError::Unsupported)
    }

    /// Visits device drivers (`guest-get-devices`; qemu-ga has it on Windows
    /// only).
    fn devices(
        &mut self,
        f: &mut dyn FnMut(&DeviceInfo<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        Err(HookError::Unsupported)
    }
}

/// The logical CPUs (`guest-get-vcpus`, `guest-set-vcpus`).
pub trait Processors {
    /// Visits logical CPUs.
    fn vcpus(&mut self, f: &mut dyn FnMut(&Vcpu) -> ControlFlow<()>) -> Result<(), HookError>;

    /// Onlines or offlines one CPU (called per entry of `guest-set-vcpus`).
    fn set_vcpu(&mut self, logical_id: i64, online: bool) -> Result<(), HookError> {
        let _ = (logical_id, online);
        Err(HookError::Unsupported)
    }
}

/// Memory blocks (`guest-get-memory-blocks`, `-memory-block-info`,
/// `guest-set-memory-blocks`).
pub trait Memory {
    /// Memory block size in bytes.
    fn block_size(&mut self) -> Result<u64, HookError>;

    /// Visits memory blocks.
    fn blocks(
        &mut self,
        f: &mut dyn FnMut(&MemoryBlock) -> ControlFlow<()>,
    ) -> Result<(), HookError>;

    /// Onlines or offlines one block (called per entry).
    fn set_block(
        &mut self,
        phys_index: u64,
        online: bool,
    ) -> Result<MemoryBlockResponse, HookError> {
        let _ = (phys_index, online);
        Err(HookError::Unsupported)
    }
}

/// File systems and block devices (`guest-get-fsinfo`, `-disks`,
/// `-diskstats`). Every method defaults to "not supported".
#[allow(unused_variables)]
pub trait Disks {
    /// Visits mounted file systems.
    fn fs_info(
        &mut self,
        f: &mut dyn FnMut(&FsInfo<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        Err(HookError::Unsupported)
    }

    /// Visits disks and partitions. A guest without disks visits nothing.
    fn disks(
        &mut self,
        f: &mut dyn FnMut(&DiskInfo<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        Err(HookError::Unsupported)
    }

    /// Visits the I/O counters of block devices.
    fn disk_stats(
        &mut self,
        f: &mut dyn FnMut(&DiskStats<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        Err(HookError::Unsupported)
    }
}

/// The network (`guest-network-get-interfaces`, `-route`). Every method
/// defaults to "not supported".
#[allow(unused_variables)]
pub trait Network {
    /// Visits network interfaces.
    fn interfaces(
        &mut self,
        f: &mut dyn FnMut(&NetInterface<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        Err(HookError::Unsupported)
    }

    /// Visits routes.
    fn routes(
        &mut self,
        f: &mut dyn FnMut(&Route<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        Err(HookError::Unsupported)
    }
}

/// Freezing and trimming file systems (`guest-fsfreeze-*`, `guest-fstrim`).
/// The agent keeps the frozen state itself, as qemu-ga does.
pub trait Freeze {
    /// Freezes file systems: all of them, or those in `mountpoints` when the
    /// list is present (unknown ones are ignored). Returns how many were
    /// frozen; on an error, everything is thawed first.
    fn freeze(&mut self, mountpoints: &StrList<'_>) -> Result<i64, HookError>;

    /// Thaws file systems; returns how many.
    fn thaw(&mut self) -> Result<i64, HookError>;

    /// Trims file systems, visiting one result per path.
    fn trim(
        &mut self,
        minimum: Option<i64>,
        f: &mut dyn FnMut(&TrimResult<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        let _ = (minimum, f);
        Err(HookError::Unsupported)
    }
}

/// User passwords (`guest-set-user-password`).
pub trait Passwords {
    /// Sets `username`'s password; `password` is the decoded bytes (the core
    /// has refused a newline in a raw password and `:` or a newline in the
    /// user name), `crypted` says whether it is already hashed.
    fn set_password(
        &mut self,
        username: &str,
        password: &[u8],
        crypted: bool,
    ) -> Result<(), HookError>;
}

/// SSH authorized keys (`guest-ssh-*-authorized-keys`).
pub trait SshKeys {
    /// Visits the keys in `username`'s `authorized_keys`, one per line (blank
    /// lines and comments skipped).
    fn authorized_keys(
        &mut self,
        username: &str,
        f: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<(), HookError>;

    /// Adds keys not already present (`reset`: replaces the file's keys).
    fn add_keys(
        &mut self,
        username: &str,
        keys: &StrList<'_>,
        reset: bool,
    ) -> Result<(), HookError>;

    /// Removes keys; keys that are not there are not an error.
    fn remove_keys(&mut self, username: &str, keys: &StrList<'_>) -> Result<(), HookError>;
}

/// A board: the capabilities it has. Every accessor defaults to `None`
/// (the commands of that capability answer "not supported").
///
/// The agent's commands are compiled for the platform type, so an
/// accessor left at its default makes that capability's commands fold to
/// "not supported" with none of their rendering code linked. A platform
/// owns its devices or holds `'static` references to them (the command
/// tables are `'static` data of the platform's type).
///
/// ```
/// use nanoqga::error::HookError;
/// use nanoqga::platform::{Clock, Platform};
///
/// struct Rtc;
/// impl Clock for Rtc {
///     fn now_ns(&mut self) -> Result<i64, HookError> {
///         Ok(1_700_000_000_000_000_000)
///     }
/// }
///
/// struct Board {
///     rtc: Rtc,
/// }
/// impl Platform for Board {
///     fn clock(&mut self) -> Option<&mut dyn Clock> {
///         Some(&mut self.rtc)
///     }
/// }
/// ```
pub trait Platform: 'static {
    /// The wall clock.
    fn clock(&mut self) -> Option<&mut dyn Clock> {
        None
    }
    /// A settable clock.
    fn set_clock(&mut self) -> Option<&mut dyn SetClock> {
        None
    }
    /// Power control.
    fn power(&mut self) -> Option<&mut dyn Power> {
        None
    }
    /// Files.
    fn files(&mut self) -> Option<&mut dyn FileStore> {
        None
    }
    /// Programs.
    fn programs(&mut self) -> Option<&mut dyn Programs> {
        None
    }
    /// System information.
    fn system(&mut self) -> Option<&mut dyn SystemInfo> {
        None
    }
    /// Logical CPUs.
    fn processors(&mut self) -> Option<&mut dyn Processors> {
        None
    }
    /// Memory blocks.
    fn memory(&mut self) -> Option<&mut dyn Memory> {
        None
    }
    /// File systems and disks.
    fn disks(&mut self) -> Option<&mut dyn Disks> {
        None
    }
    /// Network.
    fn network(&mut self) -> Option<&mut dyn Network> {
        None
    }
    /// Freeze and trim.
    fn freeze(&mut self) -> Option<&mut dyn Freeze> {
        None
    }
    /// Passwords.
    fn passwords(&mut self) -> Option<&mut dyn Passwords> {
        None
    }
    /// SSH keys.
    fn ssh_keys(&mut self) -> Option<&mut dyn SshKeys> {
        None
    }
}
