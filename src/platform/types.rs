//! The values that cross the board boundary: arguments the core hands to a
//! capability, and the records a capability reports back.
//!
//! Contract: nothing here is JSON. Arguments arrive decoded and validated
//! (a [`Str`] is a checked string token of the request, decoded on demand),
//! and records borrow the board's own data (`&str`, slices), so a board
//! answers without a heap. Every record mirrors one struct of qemu-ga's
//! schema field by field; `Option` fields are the schema's optional members
//! and are left out of the reply when `None`.

use core::ops::Range;
use core::time::Duration;

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

/// What `guest-set-time` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetTime {
    /// Set the system clock to this many nanoseconds since the epoch (and
    /// the hardware clock from it). The core has checked the range (years
    /// 1970 to 2069, as qemu-ga does).
    To(i64),
    /// No time given: set the system clock from the hardware clock
    /// (`virsh domtime --sync`).
    FromHardware,
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
    /// Read-only (`r`).
    pub const READ: OpenMode = OpenMode {
        read: true,
        write: false,
        append: false,
        create: false,
        truncate: false,
    };

    /// Parses a mode string exactly as qemu-ga's `find_open_flag` accepts it.
    pub fn parse(mode: &[u8]) -> Option<OpenMode> {
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
            b"r" | b"rb" => m(true, false, false, false, false),
            b"w" | b"wb" => m(false, true, false, true, true),
            b"a" | b"ab" => m(false, true, true, true, false),
            b"r+" | b"rb+" | b"r+b" => m(true, true, false, false, false),
            b"w+" | b"wb+" | b"w+b" => m(true, true, false, true, true),
            b"a+" | b"ab+" | b"a+b" => m(true, true, true, true, false),
            _ => None,
        }
    }
}

/// A board's identifier for an open file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FileId(pub u32);

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

    /// The string token in the request buffer, quotes included.
    pub(crate) fn token(&self) -> Range<usize> {
        self.tok.clone()
    }

    /// The decoded bytes (valid UTF-8).
    pub fn bytes(&self) -> Decoded<'a> {
        Decoded::new(self.buf, self.tok.clone())
    }

    /// The text, if it contains no escapes (no copy needed).
    pub fn as_str(&self) -> Option<&'a str> {
        let raw = self
            .buf
            .get(self.tok.start.wrapping_add(1)..self.tok.end.saturating_sub(1))?;
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
            n = n.wrapping_add(1);
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

/// A list of strings from the request (`arg`, `env`, `mountpoints`, `keys`).
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

/// Which output streams of a program `guest-exec-status` reports
/// (qemu-ga 8.1's `GuestExecCaptureOutputMode`; the boolean form maps
/// `true` to [`CaptureMode::Separated`] and `false` to [`CaptureMode::None`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CaptureMode {
    /// Nothing is captured (the default).
    #[default]
    None,
    /// Only standard output.
    Stdout,
    /// Only standard error.
    Stderr,
    /// Both, reported as `out-data` and `err-data`.
    Separated,
    /// Both into one stream, reported as `out-data`.
    Merged,
}

impl CaptureMode {
    /// Whether standard output is kept.
    pub fn stdout(self) -> bool {
        matches!(
            self,
            CaptureMode::Stdout | CaptureMode::Separated | CaptureMode::Merged
        )
    }

    /// Whether standard error is kept (in its own stream or, when merged,
    /// in the output stream).
    pub fn stderr(self) -> bool {
        matches!(
            self,
            CaptureMode::Stderr | CaptureMode::Separated | CaptureMode::Merged
        )
    }
}

/// What a `guest-exec` program is asked to run.
#[derive(Clone, Debug)]
pub struct ExecRequest<'a> {
    /// The program path as the client gave it (`/bin/echo`).
    pub path: &'a str,
    /// Arguments (without the program name).
    pub args: StrList<'a>,
    /// Environment entries `NAME=value`; when present they are the whole
    /// environment, as in qemu-ga.
    pub env: StrList<'a>,
    /// Decoded `input-data` (the program's stdin); empty if none. It is only
    /// available to [`super::Programs::start`]: a program that wants it later
    /// copies what it needs into its [`ExecState`].
    pub input: &'a [u8],
    /// What is captured for `guest-exec-status`.
    pub capture: CaptureMode,
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

    /// Appends output. A stream that is not captured discards it.
    pub fn write(&mut self, data: &[u8]) {
        if !self.enabled {
            return;
        }
        let at = *self.len as usize;
        let room = self.buf.len().saturating_sub(at);
        let n = data.len().min(room);
        if let (Some(dst), Some(src)) = (self.buf.get_mut(at..at.wrapping_add(n)), data.get(..n)) {
            dst.copy_from_slice(src);
            *self.len = u32::try_from(at.wrapping_add(n)).unwrap_or(u32::MAX);
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

    /// Whether this stream is captured at all.
    pub fn enabled(&self) -> bool {
        self.enabled
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
    out: Capture<'a>,
    err: Capture<'a>,
    merged: bool,
}

impl<'a> ExecIo<'a> {
    pub(crate) fn new(out: Capture<'a>, err: Capture<'a>, merged: bool) -> Self {
        ExecIo { out, err, merged }
    }

    /// Standard output.
    pub fn stdout(&mut self) -> &mut Capture<'a> {
        &mut self.out
    }

    /// Standard error (standard output's stream when the client asked for
    /// `merged`).
    pub fn stderr(&mut self) -> &mut Capture<'a> {
        if self.merged {
            &mut self.out
        } else {
            &mut self.err
        }
    }
}

/// Where a program is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecStatus {
    /// Still running: [`super::Programs::resume`] is called again on a later
    /// poll, at the latest after this long ([`Duration::ZERO`]: as soon as
    /// possible, for a program that works in slices). The agent reports the
    /// shortest such delay from [`crate::Agent::poll_delay`], so a board
    /// that sleeps wakes in time.
    Running(Duration),
    /// Exited with this code.
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
}

/// Per-program state kept by the agent between polls (a program chooses what
/// the words mean).
pub type ExecState = [u64; 4];

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

/// `guest-get-load` (`GuestLoadAverage`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LoadAverage {
    /// `load1m`
    pub load1m: f64,
    /// `load5m`
    pub load5m: f64,
    /// `load15m`
    pub load15m: f64,
}

/// One `guest-get-cpustats` entry (`GuestCpuStats`, type `linux`): times in
/// milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuStats {
    /// `cpu`: the CPU's index.
    pub cpu: i64,
    /// `user`
    pub user: u64,
    /// `nice`
    pub nice: u64,
    /// `system`
    pub system: u64,
    /// `idle`
    pub idle: u64,
    /// `iowait`
    pub iowait: Option<u64>,
    /// `irq`
    pub irq: Option<u64>,
    /// `softirq`
    pub softirq: Option<u64>,
    /// `steal`
    pub steal: Option<u64>,
    /// `guest`
    pub guest: Option<u64>,
    /// `guestnice`
    pub guestnice: Option<u64>,
}

/// One `guest-get-devices` entry (`GuestDeviceInfo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceInfo<'a> {
    /// `driver-name`
    pub driver_name: &'a str,
    /// `driver-date`, nanoseconds since the epoch
    pub driver_date: Option<i64>,
    /// `driver-version`
    pub driver_version: Option<&'a str>,
    /// `id` of type `pci`: (vendor-id, device-id)
    pub pci_id: Option<(u16, u16)>,
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

/// PCI address of a disk controller (`GuestPCIAddress`; -1 where unknown).
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

/// Where a disk sits (`GuestDiskAddress`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskAddress<'a> {
    /// `pci-controller`
    pub pci_controller: PciAddress,
    /// `bus-type` (`ide`, `scsi`, `virtio`, `sata`, `nvme`, `unknown`, …)
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

/// One `guest-get-disks` entry (`GuestDiskInfo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskInfo<'a> {
    /// `name`: the device node (`/dev/vda`)
    pub name: &'a str,
    /// `partition`
    pub partition: bool,
    /// `dependencies` (for a partition, its disk; for a device-mapper
    /// volume, what it is built on)
    pub dependencies: Option<&'a [&'a str]>,
    /// `address`
    pub address: Option<DiskAddress<'a>>,
    /// `alias` (device-mapper name)
    pub alias: Option<&'a str>,
}

/// I/O counters of a disk (`GuestDiskStats`; `None` where the kernel does not
/// report the counter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskCounters {
    /// `read-ios`
    pub read_ios: Option<u64>,
    /// `read-merges`
    pub read_merges: Option<u64>,
    /// `read-sectors`
    pub read_sectors: Option<u64>,
    /// `read-ticks`
    pub read_ticks: Option<u64>,
    /// `write-ios`
    pub write_ios: Option<u64>,
    /// `write-merges`
    pub write_merges: Option<u64>,
    /// `write-sectors`
    pub write_sectors: Option<u64>,
    /// `write-ticks`
    pub write_ticks: Option<u64>,
    /// `ios-pgr`
    pub ios_pgr: Option<u64>,
    /// `total-ticks`
    pub total_ticks: Option<u64>,
    /// `weight-ticks`
    pub weight_ticks: Option<u64>,
    /// `discard-ios`
    pub discard_ios: Option<u64>,
    /// `discard-merges`
    pub discard_merges: Option<u64>,
    /// `discard-sectors`
    pub discard_sectors: Option<u64>,
    /// `discard-ticks`
    pub discard_ticks: Option<u64>,
    /// `flush-ios`
    pub flush_ios: Option<u64>,
    /// `flush-ticks`
    pub flush_ticks: Option<u64>,
}

/// One `guest-get-diskstats` entry (`GuestDiskStatsInfo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskStats<'a> {
    /// `name`
    pub name: &'a str,
    /// `major`
    pub major: u64,
    /// `minor`
    pub minor: u64,
    /// `stats`
    pub stats: DiskCounters,
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

/// One `guest-network-get-route` entry (`GuestNetworkRoute`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Route<'a> {
    /// `iface`
    pub iface: &'a str,
    /// `destination`
    pub destination: &'a str,
    /// `metric`
    pub metric: i64,
    /// `gateway`
    pub gateway: Option<&'a str>,
    /// `mask` (IPv4)
    pub mask: Option<&'a str>,
    /// `irtt` (IPv4)
    pub irtt: Option<i64>,
    /// `flags`
    pub flags: Option<u64>,
    /// `refcnt`
    pub refcnt: Option<i64>,
    /// `use`
    pub use_count: Option<i64>,
    /// `window` (IPv4)
    pub window: Option<i64>,
    /// `mtu`
    pub mtu: Option<i64>,
    /// `desprefixlen` (IPv6)
    pub desprefixlen: Option<&'a str>,
    /// `source` (IPv6)
    pub source: Option<&'a str>,
    /// `srcprefixlen` (IPv6)
    pub srcprefixlen: Option<&'a str>,
    /// `nexthop` (IPv6)
    pub nexthop: Option<&'a str>,
    /// `version`: 4 or 6
    pub version: i64,
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
