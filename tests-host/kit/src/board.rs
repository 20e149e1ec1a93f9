//! The mock board: every capability, with fixed answers and recorded
//! requests, each switchable off.

use std::ops::ControlFlow;
use std::time::Duration;

use nanoqga::error::{Errno, HookError};
use nanoqga::platform::{
    Clock, CpuStats, DiskAddress, DiskCounters, DiskInfo, DiskStats, Disks, ExecIo, ExecRequest,
    ExecState, ExecStatus, FileId, FileStore, Freeze, FsInfo, IpAddress, IpKind, LoadAverage,
    Memory, MemoryBlock, MemoryBlockResponse, NetInterface, NetStats, Network, OpenMode, OsInfo,
    Passwords, PciAddress, Platform, Power, Processors, Programs, Route, SetClock, SetTime,
    ShutdownMode, SshKeys, StrList, SuspendMode, SystemInfo, Timezone, TrimResult, User, Vcpu,
    Whence,
};
use nanoqga::programs::{self, HEALTH_CHECK_PATH, MemTest};

/// Files of the mock board: any path, any size, in memory, with fopen
/// semantics (the same contract as `nanoqga::ramfs::RamFs`, which has its
/// own tests; this one is heap-backed so tests can use large files).
#[derive(Default)]
pub struct MemFiles {
    /// Contents by path.
    pub files: std::collections::HashMap<String, Vec<u8>>,
    open: Vec<Option<(String, u64, OpenMode)>>,
    /// Paths that fail to open with EACCES.
    pub denied: Vec<String>,
}

impl FileStore for MemFiles {
    fn open(&mut self, path: &str, mode: OpenMode) -> Result<FileId, HookError> {
        if self.denied.iter().any(|d| d == path) {
            return Err(HookError::Errno(Errno::EACCES));
        }
        if !self.files.contains_key(path) {
            if !mode.create {
                return Err(HookError::Errno(Errno::ENOENT));
            }
            self.files.insert(path.to_string(), Vec::new());
        }
        if mode.truncate {
            self.files.insert(path.to_string(), Vec::new());
        }
        let slot = self
            .open
            .iter()
            .position(Option::is_none)
            .unwrap_or_else(|| {
                self.open.push(None);
                self.open.len() - 1
            });
        self.open[slot] = Some((path.to_string(), 0, mode));
        Ok(FileId(slot as u32))
    }

    fn read(&mut self, id: FileId, buf: &mut [u8]) -> Result<usize, HookError> {
        let Some(Some((path, pos, mode))) = self.open.get_mut(id.0 as usize) else {
            return Err(HookError::Errno(Errno::EBADF));
        };
        if !mode.read {
            return Err(HookError::Errno(Errno::EBADF));
        }
        let data = &self.files[path.as_str()];
        let start = (*pos as usize).min(data.len());
        let n = (data.len() - start).min(buf.len());
        buf[..n].copy_from_slice(&data[start..start + n]);
        *pos += n as u64;
        Ok(n)
    }

    fn write(&mut self, id: FileId, bytes: &[u8]) -> Result<usize, HookError> {
        let Some(Some((path, pos, mode))) = self.open.get_mut(id.0 as usize) else {
            return Err(HookError::Errno(Errno::EBADF));
        };
        if !mode.write {
            return Err(HookError::Errno(Errno::EBADF));
        }
        let data = self.files.get_mut(path.as_str()).expect("open file exists");
        let at = if mode.append {
            data.len()
        } else {
            *pos as usize
        };
        if data.len() < at + bytes.len() {
            data.resize(at + bytes.len(), 0);
        }
        data[at..at + bytes.len()].copy_from_slice(bytes);
        *pos = (at + bytes.len()) as u64;
        Ok(bytes.len())
    }

    fn seek(&mut self, id: FileId, offset: i64, whence: Whence) -> Result<u64, HookError> {
        let Some(Some((path, pos, _))) = self.open.get_mut(id.0 as usize) else {
            return Err(HookError::Errno(Errno::EBADF));
        };
        let len = self.files[path.as_str()].len() as i64;
        let base = match whence {
            Whence::Set => 0,
            Whence::Cur => *pos as i64,
            Whence::End => len,
        };
        let new = base
            .checked_add(offset)
            .filter(|p| *p >= 0)
            .ok_or(HookError::Errno(Errno::EINVAL))?;
        *pos = new as u64;
        Ok(*pos)
    }

    fn close(&mut self, id: FileId) -> Result<(), HookError> {
        match self.open.get_mut(id.0 as usize) {
            Some(slot @ Some(_)) => {
                *slot = None;
                Ok(())
            }
            _ => Err(HookError::Errno(Errno::EBADF)),
        }
    }
}

/// Open files of the mock store (for leak checks).
impl MemFiles {
    /// Number of open files.
    pub fn open_count(&self) -> usize {
        self.open.iter().filter(|o| o.is_some()).count()
    }
}

/// Programs of the mock board.
pub struct MockPrograms {
    /// Memory for the health check.
    pub region: Vec<u8>,
    /// Polls `/bin/slow` runs for.
    pub slow_polls: u64,
}

const TAG_SLOW: u64 = 1;
const TAG_HEALTH: u64 = 2;
const TAG_SLEEP: u64 = 3;

/// The delay `/bin/sleep` asks for between steps.
pub const SLEEP_STEP: Duration = Duration::from_millis(50);

impl Programs for MockPrograms {
    fn start(
        &mut self,
        req: &ExecRequest<'_>,
        state: &mut ExecState,
        io: &mut ExecIo<'_>,
    ) -> Result<ExecStatus, HookError> {
        if let Some(s) = programs::start_standard(req, io) {
            return Ok(s);
        }
        match req.path {
            // Runs `slow_polls` polls, printing a line each step.
            "/bin/slow" => {
                *state = [0, self.slow_polls, 0, TAG_SLOW];
                Ok(ExecStatus::Running(Duration::ZERO))
            }
            // Sleeps: runs `slow_polls` steps, asking for 50 ms between them.
            "/bin/sleep" => {
                *state = [0, self.slow_polls, 0, TAG_SLEEP];
                Ok(ExecStatus::Running(SLEEP_STEP))
            }
            // Writes "out" to stdout and "err" to stderr.
            "/bin/both" => {
                io.stdout().write(b"out\n");
                io.stderr().write(b"err\n");
                Ok(ExecStatus::Exited(0))
            }
            // Prints its arguments to stderr and exits with the first as code.
            "/bin/fail" => {
                for a in req.args.iter() {
                    for b in a.bytes() {
                        io.stderr().write(&[b]);
                    }
                }
                let code = req
                    .args
                    .iter()
                    .next()
                    .and_then(|a| a.as_str().and_then(|s| s.parse().ok()))
                    .unwrap_or(3);
                Ok(ExecStatus::Exited(code))
            }
            "/bin/kill-me" => Ok(ExecStatus::Signaled(9)),
            // Writes `input-data` 1000 times (to overflow the capture).
            "/bin/spew" => {
                for _ in 0..1000 {
                    io.stdout().write(req.input);
                }
                Ok(ExecStatus::Exited(0))
            }
            // Echoes its environment, one entry per line.
            "/usr/bin/env" => {
                for e in req.env.iter() {
                    for b in e.bytes() {
                        io.stdout().write(&[b]);
                    }
                    io.stdout().write(b"\n");
                }
                Ok(ExecStatus::Exited(0))
            }
            HEALTH_CHECK_PATH => {
                state[3] = TAG_HEALTH;
                Ok(MemTest::start(&self.region, state, io))
            }
            _ => Err(HookError::Errno(Errno::ENOENT)),
        }
    }

    fn resume(&mut self, state: &mut ExecState, io: &mut ExecIo<'_>) -> ExecStatus {
        match state[3] {
            TAG_SLOW => {
                state[0] += 1;
                use std::fmt::Write as _;
                let _ = writeln!(io.stdout(), "step {}", state[0]);
                if state[0] >= state[1] {
                    ExecStatus::Exited(0)
                } else {
                    ExecStatus::Running(Duration::ZERO)
                }
            }
            TAG_SLEEP => {
                state[0] += 1;
                if state[0] >= state[1] {
                    ExecStatus::Exited(0)
                } else {
                    ExecStatus::Running(SLEEP_STEP)
                }
            }
            TAG_HEALTH => MemTest::resume(&mut self.region, state, io),
            _ => ExecStatus::Exited(0),
        }
    }
}

/// An interface address: family, text, prefix.
pub type MockAddress = (IpKind, String, i64);

/// A mock board. Every field is public so tests can set or inspect it.
pub struct MockPlatform {
    /// Time `guest-get-time` answers; `None`: no clock.
    pub time_ns: Option<i64>,
    /// Whether the clock is settable.
    pub settable: bool,
    /// Calls to `set_time`.
    pub set_times: Vec<SetTime>,
    /// Shutdown requests.
    pub shutdowns: Vec<ShutdownMode>,
    /// Suspend requests.
    pub suspends: Vec<SuspendMode>,
    /// Whether power control is there.
    pub power: bool,
    /// Files (any path), or none.
    pub files: Option<MemFiles>,
    /// Programs, or none.
    pub programs: Option<MockPrograms>,
    /// Whether system information (and processors, memory, disks, network)
    /// is there.
    pub sysinfo: bool,
    /// vCPUs to report.
    pub vcpus: Vec<Vcpu>,
    /// Users to report.
    pub users: Vec<(String, f64)>,
    /// Interfaces to report (name, addresses).
    pub interfaces: Vec<(String, Vec<MockAddress>)>,
    /// Memory blocks.
    pub memory_blocks: Vec<MemoryBlock>,
    /// Host name.
    pub host_name: String,
    /// Whether the administrative capabilities (freeze, CPU and memory
    /// changes, passwords, SSH keys) are there.
    pub control: bool,
    /// File systems frozen by the last freeze.
    pub frozen: i64,
    /// Mount points passed to the last freeze-list.
    pub freeze_list: Option<Vec<String>>,
    /// CPU changes applied.
    pub vcpu_changes: Vec<(i64, bool)>,
    /// The logical id whose change fails.
    pub vcpu_fails: Option<i64>,
    /// Password changes applied.
    pub passwords: Vec<(String, Vec<u8>, bool)>,
    /// Authorized keys by user (users not here do not exist).
    pub ssh_keys: Vec<(String, Vec<String>)>,
}

impl MockPlatform {
    /// A board that has every capability.
    pub fn new() -> Self {
        MockPlatform {
            time_ns: Some(1_795_904_065_870_159_000),
            settable: true,
            set_times: Vec::new(),
            shutdowns: Vec::new(),
            suspends: Vec::new(),
            power: true,
            files: Some(MemFiles::default()),
            programs: Some(MockPrograms {
                region: vec![0; 64 << 10],
                slow_polls: 5,
            }),
            sysinfo: true,
            vcpus: vec![
                Vcpu {
                    logical_id: 1,
                    online: true,
                    can_offline: Some(true),
                },
                Vcpu {
                    logical_id: 0,
                    online: true,
                    can_offline: Some(false),
                },
            ],
            users: vec![("root".into(), 1_700_000_000.5)],
            interfaces: vec![
                (
                    "lo".into(),
                    vec![
                        (IpKind::V4, "127.0.0.1".into(), 8),
                        (IpKind::V6, "::1".into(), 128),
                    ],
                ),
                ("eth0".into(), vec![(IpKind::V4, "10.0.2.15".into(), 24)]),
            ],
            memory_blocks: vec![MemoryBlock {
                phys_index: 188,
                online: true,
                can_offline: Some(true),
            }],
            host_name: "mock-guest".into(),
            control: true,
            frozen: 0,
            freeze_list: None,
            vcpu_changes: Vec::new(),
            vcpu_fails: None,
            passwords: Vec::new(),
            ssh_keys: vec![(
                "root".into(),
                vec![
                    "ssh-ed25519 AAAAkey1 a@b".into(),
                    "ssh-rsa AAAAkey2 c@d".into(),
                ],
            )],
        }
    }

    /// A board with no capabilities at all.
    pub fn bare() -> Self {
        MockPlatform {
            time_ns: None,
            settable: false,
            power: false,
            files: None,
            programs: None,
            sysinfo: false,
            control: false,
            ..MockPlatform::new()
        }
    }

    fn user_keys(&mut self, user: &str) -> Result<&mut Vec<String>, HookError> {
        self.ssh_keys
            .iter_mut()
            .find(|(u, _)| u == user)
            .map(|(_, k)| k)
            .ok_or(HookError::NoUser)
    }
}

impl Default for MockPlatform {
    fn default() -> Self {
        Self::new()
    }
}

fn decoded(s: &nanoqga::platform::Str<'_>) -> String {
    String::from_utf8(s.bytes().collect()).unwrap_or_default()
}

impl Platform for MockPlatform {
    fn clock(&mut self) -> Option<&mut dyn Clock> {
        self.time_ns.is_some().then_some(self as &mut dyn Clock)
    }
    fn set_clock(&mut self) -> Option<&mut dyn SetClock> {
        self.settable.then_some(self as &mut dyn SetClock)
    }
    fn power(&mut self) -> Option<&mut dyn Power> {
        self.power.then_some(self as &mut dyn Power)
    }
    fn files(&mut self) -> Option<&mut dyn FileStore> {
        self.files.as_mut().map(|f| f as &mut dyn FileStore)
    }
    fn programs(&mut self) -> Option<&mut dyn Programs> {
        self.programs.as_mut().map(|p| p as &mut dyn Programs)
    }
    fn system(&mut self) -> Option<&mut dyn SystemInfo> {
        self.sysinfo.then_some(self as &mut dyn SystemInfo)
    }
    fn processors(&mut self) -> Option<&mut dyn Processors> {
        self.sysinfo.then_some(self as &mut dyn Processors)
    }
    fn memory(&mut self) -> Option<&mut dyn Memory> {
        self.sysinfo.then_some(self as &mut dyn Memory)
    }
    fn disks(&mut self) -> Option<&mut dyn Disks> {
        self.sysinfo.then_some(self as &mut dyn Disks)
    }
    fn network(&mut self) -> Option<&mut dyn Network> {
        self.sysinfo.then_some(self as &mut dyn Network)
    }
    fn freeze(&mut self) -> Option<&mut dyn Freeze> {
        self.control.then_some(self as &mut dyn Freeze)
    }
    fn passwords(&mut self) -> Option<&mut dyn Passwords> {
        self.control.then_some(self as &mut dyn Passwords)
    }
    fn ssh_keys(&mut self) -> Option<&mut dyn SshKeys> {
        self.control.then_some(self as &mut dyn SshKeys)
    }
}

impl Clock for MockPlatform {
    fn now_ns(&mut self) -> Result<i64, HookError> {
        self.time_ns.ok_or(HookError::Unsupported)
    }
}

impl SetClock for MockPlatform {
    fn set_time(&mut self, time: SetTime) -> Result<(), HookError> {
        if let SetTime::To(t) = time {
            self.time_ns = Some(t);
        }
        self.set_times.push(time);
        Ok(())
    }
}

impl Power for MockPlatform {
    fn shutdown(&mut self, mode: ShutdownMode) -> Result<(), HookError> {
        self.shutdowns.push(mode);
        Ok(())
    }

    fn suspend(&mut self, mode: SuspendMode) -> Result<(), HookError> {
        if mode == SuspendMode::Hybrid {
            return Err(HookError::Message(
                "the requested suspend mode is not supported by the guest",
            ));
        }
        self.suspends.push(mode);
        Ok(())
    }
}

impl SystemInfo for MockPlatform {
    fn host_name(&mut self, f: &mut dyn FnMut(&str)) -> Result<(), HookError> {
        f(&self.host_name);
        Ok(())
    }

    fn os_info(&mut self, f: &mut dyn FnMut(&OsInfo<'_>)) -> Result<(), HookError> {
        f(&OsInfo {
            kernel_release: Some("0.1.0"),
            kernel_version: None,
            machine: Some("x86_64"),
            id: Some("nanoqga"),
            name: Some("nanoqga mock"),
            pretty_name: Some("nanoqga mock board"),
            version: None,
            version_id: Some("1"),
            variant: Some("Unit test \"'$`\\ and \\\\ etc."),
            variant_id: None,
        });
        Ok(())
    }

    fn timezone(&mut self, f: &mut dyn FnMut(&Timezone<'_>)) -> Result<(), HookError> {
        f(&Timezone {
            zone: Some("UTC"),
            offset: 0,
        });
        Ok(())
    }

    fn users(&mut self, f: &mut dyn FnMut(&User<'_>) -> ControlFlow<()>) -> Result<(), HookError> {
        for (u, t) in &self.users {
            let user = User {
                user: u,
                domain: None,
                login_time: *t,
            };
            if f(&user).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn load(&mut self) -> Result<LoadAverage, HookError> {
        Ok(LoadAverage {
            load1m: 0.25,
            load5m: 0.5,
            load15m: 1.0,
        })
    }

    fn cpu_stats(
        &mut self,
        f: &mut dyn FnMut(&CpuStats) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        for cpu in 0..2 {
            let c = CpuStats {
                cpu,
                user: 100,
                nice: 0,
                system: 50,
                idle: 1000,
                iowait: Some(1),
                irq: Some(2),
                softirq: Some(3),
                steal: Some(0),
                guest: Some(0),
                guestnice: None,
            };
            if f(&c).is_break() {
                break;
            }
        }
        Ok(())
    }
}

impl Processors for MockPlatform {
    fn vcpus(&mut self, f: &mut dyn FnMut(&Vcpu) -> ControlFlow<()>) -> Result<(), HookError> {
        for v in &self.vcpus {
            if f(v).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn set_vcpu(&mut self, logical_id: i64, online: bool) -> Result<(), HookError> {
        if !self.control {
            return Err(HookError::Unsupported);
        }
        if self.vcpu_fails == Some(logical_id) {
            return Err(HookError::Message("logical processor #1 can't be offlined"));
        }
        self.vcpu_changes.push((logical_id, online));
        Ok(())
    }
}

impl Memory for MockPlatform {
    fn block_size(&mut self) -> Result<u64, HookError> {
        Ok(134_217_728)
    }

    fn blocks(
        &mut self,
        f: &mut dyn FnMut(&MemoryBlock) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        for m in &self.memory_blocks {
            if f(m).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn set_block(
        &mut self,
        phys_index: u64,
        _online: bool,
    ) -> Result<MemoryBlockResponse, HookError> {
        if !self.control {
            return Err(HookError::Unsupported);
        }
        Ok(
            if self
                .memory_blocks
                .iter()
                .any(|m| m.phys_index == phys_index)
            {
                MemoryBlockResponse::Success
            } else {
                MemoryBlockResponse::NotFound
            },
        )
    }
}

/// The mock's one disk address (a virtio disk at 00:05.0).
pub const MOCK_DISK: DiskAddress<'static> = DiskAddress {
    pci_controller: PciAddress {
        domain: 0,
        bus: 0,
        slot: 5,
        function: 0,
    },
    bus_type: "virtio",
    bus: 0,
    target: 0,
    unit: 0,
    serial: Some("MOCK-SERIAL"),
    dev: Some("/dev/vda"),
};

impl Disks for MockPlatform {
    fn fs_info(
        &mut self,
        f: &mut dyn FnMut(&FsInfo<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        let _ = f(&FsInfo {
            name: "vda1",
            mountpoint: "/",
            fs_type: "ext4",
            used_bytes: Some(1 << 30),
            total_bytes: Some(4 << 30),
            disks: &[MOCK_DISK],
        });
        Ok(())
    }

    fn disks(
        &mut self,
        f: &mut dyn FnMut(&DiskInfo<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        let parts: [&str; 1] = ["/dev/vda"];
        let disks = [
            DiskInfo {
                name: "/dev/vda1",
                partition: true,
                dependencies: Some(&parts),
                address: None,
                alias: None,
            },
            DiskInfo {
                name: "/dev/vda",
                partition: false,
                dependencies: Some(&[]),
                address: Some(MOCK_DISK),
                alias: None,
            },
        ];
        for d in &disks {
            if f(d).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn disk_stats(
        &mut self,
        f: &mut dyn FnMut(&DiskStats<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        let _ = f(&DiskStats {
            name: "vda",
            major: 254,
            minor: 0,
            stats: DiskCounters {
                read_ios: Some(10),
                read_sectors: Some(80),
                write_ios: Some(5),
                write_sectors: Some(40),
                ..DiskCounters::default()
            },
        });
        Ok(())
    }
}

impl Network for MockPlatform {
    fn interfaces(
        &mut self,
        f: &mut dyn FnMut(&NetInterface<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        for (name, addrs) in &self.interfaces {
            let a: Vec<IpAddress<'_>> = addrs
                .iter()
                .map(|(k, s, p)| IpAddress {
                    kind: *k,
                    address: s,
                    prefix: *p,
                })
                .collect();
            let hw = if name == "lo" {
                "00:00:00:00:00:00"
            } else {
                "52:54:00:12:34:56"
            };
            let stats = NetStats {
                rx_bytes: 1,
                rx_packets: 2,
                tx_bytes: 3,
                tx_packets: 4,
                ..Default::default()
            };
            let n = NetInterface {
                name,
                hardware_address: Some(hw),
                addresses: &a,
                statistics: Some(stats),
            };
            if f(&n).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn routes(
        &mut self,
        f: &mut dyn FnMut(&Route<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        let _ = f(&Route {
            iface: "eth0",
            destination: "0.0.0.0",
            metric: 100,
            gateway: Some("10.0.2.2"),
            mask: Some("0.0.0.0"),
            irtt: Some(0),
            flags: Some(3),
            refcnt: Some(0),
            use_count: Some(0),
            window: Some(0),
            mtu: Some(0),
            version: 4,
            ..Route::default()
        });
        Ok(())
    }
}

impl Freeze for MockPlatform {
    fn freeze(&mut self, mountpoints: &StrList<'_>) -> Result<i64, HookError> {
        self.freeze_list = mountpoints
            .is_present()
            .then(|| mountpoints.iter().map(|s| decoded(&s)).collect());
        self.frozen = match &self.freeze_list {
            Some(l) => l.iter().filter(|m| *m == "/").count() as i64,
            None => 1,
        };
        Ok(self.frozen)
    }

    fn thaw(&mut self) -> Result<i64, HookError> {
        let n = self.frozen;
        self.frozen = 0;
        Ok(n)
    }

    fn trim(
        &mut self,
        minimum: Option<i64>,
        f: &mut dyn FnMut(&TrimResult<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        let _ = f(&TrimResult {
            path: "/",
            trimmed: Some(4096),
            minimum,
            error: None,
        });
        let _ = f(&TrimResult {
            path: "/boot",
            trimmed: None,
            minimum: None,
            error: Some("trim not supported"),
        });
        Ok(())
    }
}

impl Passwords for MockPlatform {
    fn set_password(
        &mut self,
        username: &str,
        password: &[u8],
        crypted: bool,
    ) -> Result<(), HookError> {
        self.passwords
            .push((username.into(), password.into(), crypted));
        Ok(())
    }
}

impl SshKeys for MockPlatform {
    fn authorized_keys(
        &mut self,
        username: &str,
        f: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        for k in self.user_keys(username)?.iter().rev() {
            if f(k).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn add_keys(
        &mut self,
        username: &str,
        keys: &StrList<'_>,
        reset: bool,
    ) -> Result<(), HookError> {
        let list = self.user_keys(username)?;
        if reset {
            list.clear();
        }
        for k in keys.iter().map(|k| decoded(&k)) {
            if !list.contains(&k) {
                list.push(k);
            }
        }
        Ok(())
    }

    fn remove_keys(&mut self, username: &str, keys: &StrList<'_>) -> Result<(), HookError> {
        let gone: Vec<String> = keys.iter().map(|k| decoded(&k)).collect();
        self.user_keys(username)?.retain(|k| !gone.contains(k));
        Ok(())
    }
}
