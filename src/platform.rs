//! The board's hooks: clock, power, files, programs, system information.
//!
//! Contract: every hook has a default that answers qemu-ga's "not supported"
//! error, so a minimal board implements only what it has. Hooks never see
//! JSON: arguments arrive typed and validated, and results are given back
//! through small borrowed structs or visitor callbacks, so a board never
//! needs a heap to answer. Lists are visited entry by entry; a visitor
//! returns [`ControlFlow::Break`] when the agent's reply buffer is full and
//! the board should stop (the agent asks again later and skips the entries it
//! already has, so entries must come in a stable order).
//!
//! Hooks run inside [`crate::Agent::poll`] and should return promptly; long
//! work belongs in a program that runs across polls (see [`Programs`]).

use core::ops::{ControlFlow, Range};

use crate::error::HookError;
use crate::json::walk::{Decoded, Elements};

/// `guest-shutdown` modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownMode {
    /// Power off (the default).
    Powerdown,
    /// Halt without powering off.
    Halt,
    /// Reboot.
    Reboot,
}

/// `guest-suspend-*` modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuspendMode {
    /// Suspend to disk.
    Disk,
    /// Suspend to RAM.
    Ram,
    /// Both.
    Hybrid,
}

/// `guest-file-seek` origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whence {
    /// From the start of the file.
    Set,
    /// From the current position.
    Cur,
    /// From the end of the file.
    End,
}

/// An fopen() mode, parsed from qemu-ga's accepted set (`r rb w wb a ab r+
/// rb+ r+b w+ wb+ w+b a+ ab+ a+b`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenMode {
    /// Reads allowed.
    pub read: bool,
    /// Writes allowed.
    pub write: bool,
    /// Every write goes to the end of the file.
    pub append: bool,
    /// Create the file if missing.
    pub create: bool,
    /// Truncate on open.
    pub truncate: bool,
}

impl OpenMode {
    /// Parses a mode string exactly as qemu-ga's `find_open_flag` accepts it.
    pub fn parse(mode: &str) -> Option<OpenMode> {
        let m = |read, write, append, create, truncate| {
            Some(OpenMode {
                read,
                write,
                append,
                create,
                truncate,
            })
        };
        match mode {
            "r" | "rb" => m(true, false, false, false, false),
            "w" | "wb" => m(false, true, false, true, true),
            "a" | "ab" => m(false, true, true, true, false),
            "r+" | "rb+" | "r+b" => m(true, true, false, false, false),
            "w+" | "wb+" | "w+b" => m(true, true, false, true, true),
            "a+" | "ab+" | "a+b" => m(true, true, true, true, false),
            _ => None,
        }
    }
}

/// A board's identifier for an open file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FileId(pub u32);

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

/// A string argument of the request, decoded on demand.
///
/// Most strings have no escapes; [`Str::as_str`] then borrows them straight
/// from the request buffer.
#[derive(Clone, Debug)]
pub struct Str<'a> {
    buf: &'a [u8],
    tok: Range<usize>,
}

impl<'a> Str<'a> {
    pub(crate) fn new(buf: &'a [u8], tok: Range<usize>) -> Self {
        Str { buf, tok }
    }

    /// The decoded bytes (valid UTF-8).
    pub fn bytes(&self) -> Decoded<'a> {
        Decoded::new(self.buf, self.tok.clone())
    }

    /// The text, if it contains no escapes (no copy needed).
    pub fn as_str(&self) -> Option<&'a str> {
        let raw = self
            .buf
            .get(self.tok.start.saturating_add(1)..self.tok.end.saturating_sub(1))?;
        if raw.contains(&b'\\') || raw.contains(&0xC0) {
            return None;
        }
        core::str::from_utf8(raw).ok()
    }

    /// Decodes into `scratch`; `None` if it does not fit.
    pub fn decode_into<'b>(&self, scratch: &'b mut [u8]) -> Option<&'b str> {
        let mut n = 0usize;
        for b in self.bytes() {
            *scratch.get_mut(n)? = b;
            n = n.saturating_add(1);
        }
        core::str::from_utf8(scratch.get(..n)?).ok()
    }

    /// Decoded length in bytes.
    pub fn len(&self) -> usize {
        match self.as_str() {
            Some(s) => s.len(),
            None => self.bytes().count(),
        }
    }

    /// Whether the decoded text is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the decoded text equals `s`.
    pub fn eq_str(&self, s: &str) -> bool {
        self.bytes().eq(s.bytes())
    }
}

/// A list of strings from the request (`arg`, `env`, `mountpoints`).
#[derive(Clone, Debug, Default)]
pub struct StrList<'a> {
    buf: &'a [u8],
    list: Option<Range<usize>>,
}

impl<'a> StrList<'a> {
    pub(crate) fn new(buf: &'a [u8], list: Option<Range<usize>>) -> Self {
        StrList { buf, list }
    }

    /// An empty list.
    pub const fn empty() -> Self {
        StrList {
            buf: &[],
            list: None,
        }
    }

    /// Whether the argument was given at all.
    pub fn is_present(&self) -> bool {
        self.list.is_some()
    }

    /// The strings, in order.
    pub fn iter(&self) -> impl Iterator<Item = Str<'a>> + 'a {
        let buf = self.buf;
        let start = self.list.as_ref().map(|r| r.start);
        start
            .into_iter()
            .flat_map(move |s| Elements::new(buf, s))
            .map(move |r| Str::new(buf, r))
    }

    /// Number of strings.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether the list is empty or absent.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

/// What a `guest-exec` program is asked to run.
#[derive(Clone, Debug)]
pub struct ExecRequest<'a> {
    /// The program path as the client gave it (`/bin/echo`).
    pub path: &'a str,
    /// Arguments (without the program name).
    pub args: StrList<'a>,
    /// Environment entries `NAME=value`.
    pub env: StrList<'a>,
    /// Decoded `input-data` (the program's stdin); empty if none. It is only
    /// available to [`Programs::start`]: a program that wants it later copies
    /// what it needs into its [`ExecState`].
    pub input: &'a [u8],
    /// Whether stdout/stderr are captured for `guest-exec-status`.
    pub capture: bool,
}

/// One captured output stream of a program.
///
/// Writes beyond the capture buffer are dropped and set `truncated`, which
/// `guest-exec-status` reports as `out-truncated`/`err-truncated`.
#[derive(Debug)]
pub struct Capture<'a> {
    buf: &'a mut [u8],
    len: &'a mut u32,
    truncated: &'a mut bool,
    enabled: bool,
}

impl<'a> Capture<'a> {
    pub(crate) fn new(
        buf: &'a mut [u8],
        len: &'a mut u32,
        truncated: &'a mut bool,
        enabled: bool,
    ) -> Self {
        Capture {
            buf,
            len,
            truncated,
            enabled,
        }
    }

    /// Appends output. Without `capture-output` the bytes are discarded.
    pub fn write(&mut self, data: &[u8]) {
        if !self.enabled {
            return;
        }
        let at = *self.len as usize;
        let room = self.buf.len().saturating_sub(at);
        let n = data.len().min(room);
        if let (Some(dst), Some(src)) = (self.buf.get_mut(at..at.saturating_add(n)), data.get(..n))
        {
            dst.copy_from_slice(src);
            *self.len = u32::try_from(at.saturating_add(n)).unwrap_or(u32::MAX);
        }
        if n < data.len() {
            *self.truncated = true;
        }
    }

    /// Appends `v` in decimal, zero-padded to at least `width` digits
    /// (`{:0width$}` without `core::fmt`).
    pub fn write_dec(&mut self, v: u64, width: usize) {
        let mut tmp = [0u8; 20];
        let digits = crate::json::out::fmt_u64(v, &mut tmp);
        for _ in digits.len()..width {
            self.write(b"0");
        }
        self.write(digits);
    }

    /// Appends `v` as `0x` and lowercase hex digits (`{:#x}`).
    pub fn write_hex(&mut self, mut v: u64) {
        let mut tmp = [0u8; 16];
        let mut i = tmp.len();
        while i > 0 {
            i = i.saturating_sub(1);
            if let (Some(slot), Some(&d)) = (
                tmp.get_mut(i),
                b"0123456789abcdef".get(usize::from(v.to_le_bytes()[0] & 15)),
            ) {
                *slot = d;
            }
            v >>= 4;
            if v == 0 {
                break;
            }
        }
        self.write(b"0x");
        self.write(tmp.get(i..).unwrap_or(&[]));
    }

    /// Flags the stream as truncated (output was produced but not kept).
    pub fn mark_truncated(&mut self) {
        if self.enabled {
            *self.truncated = true;
        }
    }

    /// Bytes captured so far.
    pub fn captured(&self) -> &[u8] {
        self.buf.get(..*self.len as usize).unwrap_or(&[])
    }

    /// Bytes that still fit.
    pub fn room(&self) -> usize {
        self.buf.len().saturating_sub(*self.len as usize)
    }
}

impl core::fmt::Write for Capture<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.write(s.as_bytes());
        Ok(())
    }
}

/// A running program's output streams.
#[derive(Debug)]
pub struct ExecIo<'a> {
    /// Standard output.
    pub stdout: Capture<'a>,
    /// Standard error.
    pub stderr: Capture<'a>,
}

/// Where a program is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecStatus {
    /// Still running; [`Programs::resume`] will be called on later polls.
    Running,
    /// Exited with this code.
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
}

/// Per-program state kept by the agent between polls (a program chooses what
/// the words mean).
pub type ExecState = [u64; 4];

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

/// `guest-get-osinfo` (every field optional, omitted when `None`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OsInfo<'a> {
    /// `kernel-release` (uname -r)
    pub kernel_release: Option<&'a str>,
    /// `kernel-version` (uname -v)
    pub kernel_version: Option<&'a str>,
    /// `machine` (uname -m)
    pub machine: Option<&'a str>,
    /// `id` (os-release ID)
    pub id: Option<&'a str>,
    /// `name`
    pub name: Option<&'a str>,
    /// `pretty-name`
    pub pretty_name: Option<&'a str>,
    /// `version`
    pub version: Option<&'a str>,
    /// `version-id`
    pub version_id: Option<&'a str>,
    /// `variant`
    pub variant: Option<&'a str>,
    /// `variant-id`
    pub variant_id: Option<&'a str>,
}

/// `guest-get-timezone`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timezone<'a> {
    /// Abbreviation (`UTC`), if known.
    pub zone: Option<&'a str>,
    /// Seconds east of UTC.
    pub offset: i64,
}

/// One `guest-get-users` entry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct User<'a> {
    /// User name.
    pub user: &'a str,
    /// Domain (Windows only in qemu-ga).
    pub domain: Option<&'a str>,
    /// Earliest login, seconds since the epoch.
    pub login_time: f64,
}

/// One `guest-get-vcpus` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vcpu {
    /// `logical-id`
    pub logical_id: i64,
    /// `online`
    pub online: bool,
    /// `can-offline`
    pub can_offline: Option<bool>,
}

/// One `guest-get-memory-blocks` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryBlock {
    /// `phys-index`
    pub phys_index: u64,
    /// `online`
    pub online: bool,
    /// `can-offline`
    pub can_offline: Option<bool>,
}

/// Result of onlining or offlining one memory block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryBlockResponse {
    /// `success`
    Success,
    /// `not-found`
    NotFound,
    /// `operation-not-supported`
    OperationNotSupported,
    /// `operation-failed`, with an optional error code.
    OperationFailed(Option<i64>),
}

/// PCI address of a disk controller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PciAddress {
    /// domain
    pub domain: i64,
    /// bus
    pub bus: i64,
    /// slot
    pub slot: i64,
    /// function
    pub function: i64,
}

/// One disk under a file system (`GuestDiskAddress`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskAddress<'a> {
    /// `pci-controller`
    pub pci_controller: PciAddress,
    /// `bus-type` (`ide`, `scsi`, `virtio`, `sata`, `unknown`, …)
    pub bus_type: &'a str,
    /// `bus`
    pub bus: i64,
    /// `target`
    pub target: i64,
    /// `unit`
    pub unit: i64,
    /// `serial`
    pub serial: Option<&'a str>,
    /// `dev`
    pub dev: Option<&'a str>,
}

/// One `guest-get-fsinfo` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsInfo<'a> {
    /// `name` (device name)
    pub name: &'a str,
    /// `mountpoint`
    pub mountpoint: &'a str,
    /// `type`
    pub fs_type: &'a str,
    /// `used-bytes`
    pub used_bytes: Option<u64>,
    /// `total-bytes`
    pub total_bytes: Option<u64>,
    /// `disk`
    pub disks: &'a [DiskAddress<'a>],
}

/// IP address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpKind {
    /// `ipv4`
    V4,
    /// `ipv6`
    V6,
}

/// One address of a network interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpAddress<'a> {
    /// `ip-address-type`
    pub kind: IpKind,
    /// `ip-address`
    pub address: &'a str,
    /// `prefix`
    pub prefix: i64,
}

/// Interface counters (`GuestNetworkInterfaceStat`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// rx-bytes
    pub rx_bytes: u64,
    /// rx-packets
    pub rx_packets: u64,
    /// rx-errs
    pub rx_errs: u64,
    /// rx-dropped
    pub rx_dropped: u64,
    /// tx-bytes
    pub tx_bytes: u64,
    /// tx-packets
    pub tx_packets: u64,
    /// tx-errs
    pub tx_errs: u64,
    /// tx-dropped
    pub tx_dropped: u64,
}

/// One `guest-network-get-interfaces` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetInterface<'a> {
    /// `name`
    pub name: &'a str,
    /// `hardware-address` (`aa:bb:cc:dd:ee:ff`)
    pub hardware_address: Option<&'a str>,
    /// `ip-addresses` (omitted when empty, as qemu-ga does)
    pub addresses: &'a [IpAddress<'a>],
    /// `statistics`
    pub statistics: Option<NetStats>,
}

/// One `guest-fstrim` result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrimResult<'a> {
    /// `path`
    pub path: &'a str,
    /// `trimmed` bytes
    pub trimmed: Option<i64>,
    /// `minimum` used
    pub minimum: Option<i64>,
    /// `error`
    pub error: Option<&'a str>,
}

/// The board's hooks. Every method has a "not supported" default.
#[allow(unused_variables)]
pub trait Platform {
    // ---- clock --------------------------------------------------------

    /// Current time in nanoseconds since the epoch (`guest-get-time`).
    fn now_ns(&mut self) -> Result<i64, HookError> {
        Err(HookError::Unsupported)
    }

    /// Sets the clock (`guest-set-time`): `Some(ns)` sets that time (and the
    /// hardware clock), `None` sets the system time from the hardware clock.
    /// Boards check the range with [`crate::commands::check_settable_time`].
    fn set_time(&mut self, time_ns: Option<i64>) -> Result<(), HookError> {
        Err(HookError::Unsupported)
    }

    // ---- power --------------------------------------------------------

    /// Shuts down, halts or reboots (`guest-shutdown`). Called once the
    /// agent's earlier replies have been handed to the transport. May not
    /// return; `Ok(())` means the request was accepted (qemu-ga sends no
    /// reply on success).
    fn shutdown(&mut self, mode: ShutdownMode) -> Result<(), HookError> {
        Err(HookError::Unsupported)
    }

    /// Suspends (`guest-suspend-*`); no reply on success.
    fn suspend(&mut self, mode: SuspendMode) -> Result<(), HookError> {
        Err(HookError::Unsupported)
    }

    // ---- files and programs -------------------------------------------

    /// The board's files, if it has any.
    fn files(&mut self) -> Option<&mut dyn FileStore> {
        None
    }

    /// The board's programs for `guest-exec`, if it has any.
    fn programs(&mut self) -> Option<&mut dyn Programs> {
        None
    }

    // ---- system information -------------------------------------------

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

    /// Visits logical CPUs (`guest-get-vcpus`).
    fn vcpus(&mut self, f: &mut dyn FnMut(&Vcpu) -> ControlFlow<()>) -> Result<(), HookError> {
        Err(HookError::Unsupported)
    }

    /// Onlines or offlines one CPU (`guest-set-vcpus`, called per entry).
    fn set_vcpu(&mut self, logical_id: i64, online: bool) -> Result<(), HookError> {
        Err(HookError::Unsupported)
    }

    /// Memory block size in bytes (`guest-get-memory-block-info`).
    fn memory_block_size(&mut self) -> Result<u64, HookError> {
        Err(HookError::Unsupported)
    }

    /// Visits memory blocks (`guest-get-memory-blocks`).
    fn memory_blocks(
        &mut self,
        f: &mut dyn FnMut(&MemoryBlock) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        Err(HookError::Unsupported)
    }

    /// Onlines or offlines one memory block (`guest-set-memory-blocks`,
    /// called per entry).
    fn set_memory_block(
        &mut self,
        phys_index: u64,
        online: bool,
    ) -> Result<MemoryBlockResponse, HookError> {
        Err(HookError::Unsupported)
    }

    /// Visits mounted file systems (`guest-get-fsinfo`).
    fn fs_info(
        &mut self,
        f: &mut dyn FnMut(&FsInfo<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        Err(HookError::Unsupported)
    }

    /// Visits network interfaces (`guest-network-get-interfaces`).
    fn network_interfaces(
        &mut self,
        f: &mut dyn FnMut(&NetInterface<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        Err(HookError::Unsupported)
    }

    // ---- freeze, trim, passwords ---------------------------------------

    /// Freezes file systems (`guest-fsfreeze-freeze[-list]`): all of them, or
    /// those in `mountpoints` when given. Returns how many were frozen.
    fn fsfreeze_freeze(&mut self, mountpoints: &StrList<'_>) -> Result<i64, HookError> {
        Err(HookError::Unsupported)
    }

    /// Thaws file systems (`guest-fsfreeze-thaw`); returns how many.
    fn fsfreeze_thaw(&mut self) -> Result<i64, HookError> {
        Err(HookError::Unsupported)
    }

    /// Trims file systems (`guest-fstrim`), visiting one result per path.
    fn fstrim(
        &mut self,
        minimum: Option<i64>,
        f: &mut dyn FnMut(&TrimResult<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        Err(HookError::Unsupported)
    }

    /// Sets a user's password (`guest-set-user-password`); `password` is the
    /// decoded bytes, `crypted` says whether it is already hashed.
    fn set_user_password(
        &mut self,
        username: &str,
        password: &[u8],
        crypted: bool,
    ) -> Result<(), HookError> {
        Err(HookError::Unsupported)
    }

    // ---- diagnostics ----------------------------------------------------

    /// Told about each thing the agent does (for a trace ring or counters;
    /// the QGA channel itself carries nothing but replies). Default: nothing.
    fn event(&mut self, event: crate::agent::Event) {}
}
