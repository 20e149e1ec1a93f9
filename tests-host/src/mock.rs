//! The mocked serial line and the mock board.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::ops::ControlFlow;

use nanoqga::Event;
use nanoqga::error::{Errno, HookError};
use nanoqga::platform::{
    ExecIo, ExecRequest, ExecState, ExecStatus, FileStore, FsInfo, IpAddress, IpKind, MemoryBlock,
    MemoryBlockResponse, NetInterface, NetStats, OsInfo, Platform, Programs, ShutdownMode, StrList,
    SuspendMode, Timezone, TrimResult, User, Vcpu,
};
use nanoqga::programs::{self, HEALTH_CHECK_PATH, MemTest};

use crate::Cycle;

/// A scripted byte transport.
#[derive(Debug, Default)]
pub struct MockSerial {
    /// Bytes the agent will read.
    pub input: VecDeque<u8>,
    /// Bytes the agent wrote.
    pub output: Vec<u8>,
    /// Largest read per `read` call (cycled).
    pub read_chunks: Cycle,
    /// Bytes accepted per poll (cycled; `0` means not writable this poll).
    pub tx_budget: Option<Cycle>,
    budget_left: usize,
    /// `read_ready` answers false this many more times.
    pub read_stall: u32,
    /// `write_ready` answers false this many more times.
    pub write_stall: u32,
    /// Number of `read` calls.
    pub reads: u64,
    /// Number of `write` calls.
    pub writes: u64,
}

impl MockSerial {
    /// An unlimited transport.
    pub fn new() -> Self {
        MockSerial {
            budget_left: usize::MAX,
            ..Default::default()
        }
    }

    /// Reads return at most these many bytes, in turn.
    pub fn with_read_chunks(mut self, sizes: &[usize]) -> Self {
        self.read_chunks = Cycle::new(sizes);
        self
    }

    /// Each poll accepts at most these many bytes, in turn.
    pub fn with_tx_budget(mut self, sizes: &[usize]) -> Self {
        self.tx_budget = Some(Cycle::new(sizes));
        self
    }

    /// Starts a new poll: refills the TX budget.
    pub fn new_poll(&mut self) {
        self.budget_left = match self.tx_budget.as_mut() {
            Some(c) => c.next_size(),
            None => usize::MAX,
        };
    }

    /// Whether the readiness stalls have run out.
    pub fn stalls_spent(&self) -> bool {
        self.read_stall == 0 && self.write_stall == 0
    }
}

impl embedded_io::ErrorType for MockSerial {
    type Error = Infallible;
}

impl embedded_io::Read for MockSerial {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        self.reads += 1;
        let n = buf
            .len()
            .min(self.input.len())
            .min(self.read_chunks.next_size());
        let (a, b) = self.input.as_slices();
        let from_a = n.min(a.len());
        buf[..from_a].copy_from_slice(&a[..from_a]);
        buf[from_a..n].copy_from_slice(&b[..n - from_a]);
        self.input.drain(..n);
        Ok(n)
    }
}

impl embedded_io::ReadReady for MockSerial {
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        if self.read_stall > 0 {
            self.read_stall -= 1;
            return Ok(false);
        }
        Ok(!self.input.is_empty())
    }
}

impl embedded_io::Write for MockSerial {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.writes += 1;
        let n = buf.len().min(self.budget_left);
        assert!(n > 0 || buf.is_empty(), "agent wrote without write_ready");
        self.output.extend_from_slice(&buf[..n]);
        self.budget_left -= n;
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

impl embedded_io::WriteReady for MockSerial {
    fn write_ready(&mut self) -> Result<bool, Infallible> {
        if self.write_stall > 0 {
            self.write_stall -= 1;
            return Ok(false);
        }
        Ok(self.budget_left > 0)
    }
}

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

use nanoqga::platform::{FileId, OpenMode, Whence};

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
                Ok(ExecStatus::Running)
            }
            // Prints its arguments to stderr and exits with the first as code.
            "/bin/fail" => {
                for a in req.args.iter() {
                    for b in a.bytes() {
                        io.stderr.write(&[b]);
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
                    io.stdout.write(req.input);
                }
                Ok(ExecStatus::Exited(0))
            }
            // Echoes its environment, one entry per line.
            "/usr/bin/env" => {
                for e in req.env.iter() {
                    for b in e.bytes() {
                        io.stdout.write(&[b]);
                    }
                    io.stdout.write(b"\n");
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
                let _ = writeln!(io.stdout, "step {}", state[0]);
                if state[0] >= state[1] {
                    ExecStatus::Exited(0)
                } else {
                    ExecStatus::Running
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
    /// Time `guest-get-time` answers; `None` = not supported.
    pub time_ns: Option<i64>,
    /// Whether `guest-set-time` is supported.
    pub settable: bool,
    /// Calls to `set_time`.
    pub set_times: Vec<Option<i64>>,
    /// Shutdown requests.
    pub shutdowns: Vec<ShutdownMode>,
    /// Suspend requests.
    pub suspends: Vec<SuspendMode>,
    /// Whether power hooks are supported.
    pub power: bool,
    /// Files (any path), or none.
    pub files: Option<MemFiles>,
    /// Programs, or none.
    pub programs: Option<MockPrograms>,
    /// Whether system information hooks are supported.
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
    /// Whether freeze/trim/vcpu/memory/password hooks are supported.
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
    /// Events the agent reported.
    pub events: Vec<Event>,
}

impl MockPlatform {
    /// A board that supports everything.
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
            events: Vec::new(),
        }
    }

    /// A board with no hooks at all.
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

    fn sys(&self) -> Result<(), HookError> {
        if self.sysinfo {
            Ok(())
        } else {
            Err(HookError::Unsupported)
        }
    }

    fn ctl(&self) -> Result<(), HookError> {
        if self.control {
            Ok(())
        } else {
            Err(HookError::Unsupported)
        }
    }
}

impl Default for MockPlatform {
    fn default() -> Self {
        Self::new()
    }
}

impl Platform for MockPlatform {
    fn now_ns(&mut self) -> Result<i64, HookError> {
        self.time_ns.ok_or(HookError::Unsupported)
    }

    fn set_time(&mut self, time_ns: Option<i64>) -> Result<(), HookError> {
        if !self.settable {
            return Err(HookError::Unsupported);
        }
        if let Some(t) = time_ns {
            nanoqga::commands::check_settable_time(t)?;
            self.time_ns = Some(t);
        }
        self.set_times.push(time_ns);
        Ok(())
    }

    fn shutdown(&mut self, mode: ShutdownMode) -> Result<(), HookError> {
        if !self.power {
            return Err(HookError::Unsupported);
        }
        self.shutdowns.push(mode);
        Ok(())
    }

    fn suspend(&mut self, mode: SuspendMode) -> Result<(), HookError> {
        if !self.power {
            return Err(HookError::Unsupported);
        }
        self.suspends.push(mode);
        Ok(())
    }

    fn files(&mut self) -> Option<&mut dyn FileStore> {
        self.files.as_mut().map(|f| f as &mut dyn FileStore)
    }

    fn programs(&mut self) -> Option<&mut dyn Programs> {
        self.programs.as_mut().map(|p| p as &mut dyn Programs)
    }

    fn host_name(&mut self, f: &mut dyn FnMut(&str)) -> Result<(), HookError> {
        self.sys()?;
        f(&self.host_name);
        Ok(())
    }

    fn os_info(&mut self, f: &mut dyn FnMut(&OsInfo<'_>)) -> Result<(), HookError> {
        self.sys()?;
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
        self.sys()?;
        f(&Timezone {
            zone: Some("UTC"),
            offset: 0,
        });
        Ok(())
    }

    fn users(&mut self, f: &mut dyn FnMut(&User<'_>) -> ControlFlow<()>) -> Result<(), HookError> {
        self.sys()?;
        for (u, t) in &self.users {
            if f(&User {
                user: u,
                domain: None,
                login_time: *t,
            })
            .is_break()
            {
                break;
            }
        }
        Ok(())
    }

    fn vcpus(&mut self, f: &mut dyn FnMut(&Vcpu) -> ControlFlow<()>) -> Result<(), HookError> {
        self.sys()?;
        for v in &self.vcpus {
            if f(v).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn set_vcpu(&mut self, logical_id: i64, online: bool) -> Result<(), HookError> {
        self.ctl()?;
        if self.vcpu_fails == Some(logical_id) {
            return Err(HookError::Message("logical processor #1 can't be offlined"));
        }
        self.vcpu_changes.push((logical_id, online));
        Ok(())
    }

    fn memory_block_size(&mut self) -> Result<u64, HookError> {
        self.sys()?;
        Ok(134_217_728)
    }

    fn memory_blocks(
        &mut self,
        f: &mut dyn FnMut(&MemoryBlock) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        self.sys()?;
        for m in &self.memory_blocks {
            if f(m).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn set_memory_block(
        &mut self,
        phys_index: u64,
        online: bool,
    ) -> Result<MemoryBlockResponse, HookError> {
        self.ctl()?;
        let _ = online;
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

    fn fs_info(
        &mut self,
        f: &mut dyn FnMut(&FsInfo<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        self.sys()?;
        let _ = f(&FsInfo {
            name: "vda1",
            mountpoint: "/",
            fs_type: "ext4",
            used_bytes: Some(1 << 30),
            total_bytes: Some(4 << 30),
            disks: &[],
        });
        Ok(())
    }

    fn network_interfaces(
        &mut self,
        f: &mut dyn FnMut(&NetInterface<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        self.sys()?;
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
            if f(&NetInterface {
                name,
                hardware_address: Some(hw),
                addresses: &a,
                statistics: Some(stats),
            })
            .is_break()
            {
                break;
            }
        }
        Ok(())
    }

    fn fsfreeze_freeze(&mut self, mountpoints: &StrList<'_>) -> Result<i64, HookError> {
        self.ctl()?;
        self.freeze_list = mountpoints.is_present().then(|| {
            mountpoints
                .iter()
                .map(|s| String::from_utf8(s.bytes().collect()).unwrap_or_default())
                .collect()
        });
        self.frozen = match &self.freeze_list {
            Some(l) => l.iter().filter(|m| *m == "/").count() as i64,
            None => 1,
        };
        Ok(self.frozen)
    }

    fn fsfreeze_thaw(&mut self) -> Result<i64, HookError> {
        self.ctl()?;
        let n = self.frozen;
        self.frozen = 0;
        Ok(n)
    }

    fn fstrim(
        &mut self,
        minimum: Option<i64>,
        f: &mut dyn FnMut(&TrimResult<'_>) -> ControlFlow<()>,
    ) -> Result<(), HookError> {
        self.ctl()?;
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

    fn set_user_password(
        &mut self,
        username: &str,
        password: &[u8],
        crypted: bool,
    ) -> Result<(), HookError> {
        self.ctl()?;
        self.passwords
            .push((username.into(), password.into(), crypted));
        Ok(())
    }

    fn event(&mut self, event: Event) {
        if self.events.len() < 10_000 {
            self.events.push(event);
        }
    }
}
