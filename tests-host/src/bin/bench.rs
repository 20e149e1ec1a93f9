//! The benchmark: nanoqga against qemu-ga 7.2 and the socket's own limit,
//! side by side, in one run. Prints Markdown tables with the median and the
//! min/max over repeated runs, the ratios and the targets met or not.
//!
//! Run: `cargo run --release -p nanoqga-tests-host --bin bench [-- --runs N] [--quick] [--in-process]`
//!
//! 1. In process, through `MockSerial` (no kernel in the way): requests per
//!    second, CPU ns per request and heap allocations per request (a
//!    counting allocator wraps this process's allocator) for guest-ping,
//!    guest-sync, guest-info, guest-file-read (4 KiB, 64 KiB) and
//!    guest-file-write (64 KiB), at the host build's capacities.
//! 2. Over a unix socket: `nanoqga-host`, qemu-ga (if installed; on a socket
//!    in a temporary directory, every state-changing command blocked) and an
//!    echo server that answers every line with a fixed reply (what the
//!    socket allows): sequential ping ops/s with p50/p99, pipelined ops/s at
//!    depth 16, the agent's CPU per ping (from /proc/PID/schedstat), reads
//!    of a 64 MiB file at 4 KiB / 64 KiB / 1 MiB (every byte checked),
//!    64 KiB writes of 64 MiB (checked on disk), resident memory after each
//!    phase.
//!
//! `bench echo-server --unix PATH` is the echo server (run as a child).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nanoqga::platform::{Clock, FileStore, Platform};
use nanoqga::{Agent, AgentConfig, Poll};
use nanoqga_host::HostStorage;
use nanoqga_tests_host::process::rss_kb;
use nanoqga_tests_host::process::{TempDir, spawn_qemu_ga};
use nanoqga_tests_host::{MemFiles, MockSerial};
use nanoqga_tests_host::{b64decode, b64encode};

// ---- counting allocator -------------------------------------------------

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// ---- statistics ---------------------------------------------------------

/// Median, min and max of a set of runs.
#[derive(Clone, Copy, Default)]
struct Stat {
    med: f64,
    min: f64,
    max: f64,
}

fn stat(mut v: Vec<f64>) -> Stat {
    if v.is_empty() {
        return Stat::default();
    }
    v.sort_by(f64::total_cmp);
    Stat {
        med: v[v.len() / 2],
        min: v[0],
        max: v[v.len() - 1],
    }
}

fn fmt(s: Stat, digits: usize) -> String {
    format!(
        "{:.*} [{:.*} .. {:.*}]",
        digits, s.med, digits, s.min, digits, s.max
    )
}

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

// ---- 1. in process ------------------------------------------------------

/// The in-process board: a clock and heap-backed files.
struct BenchPlatform {
    files: MemFiles,
}

impl Clock for BenchPlatform {
    fn now_ns(&mut self) -> Result<i64, nanoqga::error::HookError> {
        Ok(1_700_000_000_000_000_000)
    }
}

impl Platform for BenchPlatform {
    fn clock(&mut self) -> Option<&mut dyn Clock> {
        Some(self)
    }
    fn files(&mut self) -> Option<&mut dyn FileStore> {
        Some(&mut self.files)
    }
}

static STORAGE: Mutex<HostStorage> = Mutex::new(HostStorage::new());

struct InProcess<'s> {
    agent: Agent<'s, BenchPlatform>,
    serial: MockSerial,
}

impl InProcess<'_> {
    /// Sends one request and runs the agent until its reply is complete;
    /// returns the reply's length.
    fn call(&mut self, req: &[u8]) -> usize {
        self.serial.input.extend(req);
        loop {
            self.serial.new_poll();
            let r = self.agent.poll(&mut self.serial);
            if matches!(r, Ok(Poll::Idle)) && self.serial.output.last() == Some(&b'\n') {
                break;
            }
        }
        let n = self.serial.output.len();
        self.serial.output.clear();
        n
    }
}

fn in_process(runs: usize, quick: bool) -> Vec<(String, Stat, Stat, Stat)> {
    let mut guard = STORAGE.lock().unwrap_or_else(|e| e.into_inner());
    let platform = BenchPlatform {
        files: MemFiles::default(),
    };
    let mut p = InProcess {
        agent: Agent::new(&mut *guard, platform, AgentConfig::default()),
        serial: MockSerial::new(),
    };
    p.serial.input.reserve(1 << 20);
    p.serial.output.reserve(1 << 20);
    // A 16 MiB file to read, written through the agent.
    let h = {
        p.serial
            .input
            .extend(br#"{"execute":"guest-file-open","arguments":{"path":"/bench","mode":"w+"}}"#);
        loop {
            p.serial.new_poll();
            let _ = p.agent.poll(&mut p.serial);
            if p.serial.output.last() == Some(&b'\n') {
                break;
            }
        }
        let v: serde_json::Value = serde_json::from_slice(&p.serial.output).expect("open reply");
        p.serial.output.clear();
        v["return"].as_i64().expect("handle")
    };
    let chunk = vec![0xA5u8; 65536];
    let write_req = format!(
        r#"{{"execute":"guest-file-write","arguments":{{"handle":{h},"buf-b64":"{}"}}}}"#,
        b64encode(&chunk)
    );
    let seek0 = format!(
        r#"{{"execute":"guest-file-seek","arguments":{{"handle":{h},"offset":0,"whence":"set"}}}}"#
    );
    for _ in 0..256 {
        p.call(write_req.as_bytes());
    }
    p.call(seek0.as_bytes());
    let read4k =
        format!(r#"{{"execute":"guest-file-read","arguments":{{"handle":{h},"count":4096}}}}"#);
    let read64k =
        format!(r#"{{"execute":"guest-file-read","arguments":{{"handle":{h},"count":65536}}}}"#);
    let ops: Vec<(&'static str, Vec<u8>, u64, usize)> = vec![
        (
            "guest-ping",
            br#"{"execute":"guest-ping"}"#.to_vec(),
            200_000,
            0,
        ),
        (
            "guest-sync",
            br#"{"execute":"guest-sync","arguments":{"id":1234567}}"#.to_vec(),
            200_000,
            0,
        ),
        (
            "guest-info",
            br#"{"execute":"guest-info"}"#.to_vec(),
            20_000,
            0,
        ),
        ("guest-file-read 4 KiB", read4k.into_bytes(), 50_000, 4096),
        ("guest-file-read 64 KiB", read64k.into_bytes(), 5_000, 65536),
        (
            "guest-file-write 64 KiB",
            write_req.into_bytes(),
            2_000,
            65536,
        ),
    ];
    let file_len = 256 * 65536;
    let mut table = Vec::new();
    for (name, req, n, step) in ops {
        let n = if quick { (n / 20).max(50) } else { n };
        let mut rps = Vec::new();
        let mut cpu = Vec::new();
        let mut allocs = Vec::new();
        for run in 0..=runs {
            p.call(seek0.as_bytes());
            let mut pos = 0usize;
            let a0 = ALLOCS.load(Ordering::Relaxed);
            let c0 = thread_cpu_ns();
            let t0 = Instant::now();
            for _ in 0..n {
                if step > 0 && pos + step > file_len {
                    p.call(seek0.as_bytes());
                    pos = 0;
                }
                p.call(&req);
                pos += step;
            }
            let wall = t0.elapsed().as_secs_f64();
            let c = thread_cpu_ns() - c0;
            let a = ALLOCS.load(Ordering::Relaxed) - a0;
            if run == 0 {
                continue; // warm-up
            }
            rps.push(n as f64 / wall);
            cpu.push(c as f64 / n as f64);
            allocs.push(a as f64 / n as f64);
        }
        table.push((name.to_string(), stat(rps), stat(cpu), stat(allocs)));
    }
    table
}

// ---- 2. over a socket ---------------------------------------------------

fn echo_server(path: &Path) {
    let l = UnixListener::bind(path).expect("bind echo socket");
    for s in l.incoming() {
        let Ok(s) = s else { continue };
        std::thread::spawn(move || {
            let mut w = s.try_clone().expect("clone");
            let mut r = BufReader::with_capacity(65536, s);
            let mut line = Vec::new();
            loop {
                line.clear();
                match r.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                // Reply once per buffered batch of complete lines.
                let mut n = 1;
                while r.buffer().contains(&b'\n') {
                    line.clear();
                    let _ = r.read_until(b'\n', &mut line);
                    n += 1;
                }
                let reply = b"{\"return\": {}}\n".repeat(n);
                if w.write_all(&reply).is_err() {
                    return;
                }
            }
        });
    }
}

/// Keeps an agent process alive; kills it (by its pid) when dropped.
enum Owner {
    Child(Child),
    Proc(#[allow(dead_code, reason = "held for its Drop")] nanoqga_tests_host::process::Proc),
}

impl Drop for Owner {
    fn drop(&mut self) {
        if let Owner::Child(c) = self {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// An agent process under test.
struct Agent2 {
    name: &'static str,
    pid: u32,
    _owner: Owner,
    socket: PathBuf,
    /// How the agent names a file in `dir`.
    path_of: fn(&Path, &str) -> String,
    is_echo: bool,
}

/// CPU time of every thread of `pid`, in ns (/proc/PID/task/*/schedstat).
fn schedstat_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| {
            s.split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
        })
        .sum()
}

struct Conn {
    w: UnixStream,
    r: UnixStream,
    /// Receive buffer; `buf[start..filled]` is not yet returned.
    buf: Vec<u8>,
    start: usize,
    filled: usize,
    /// Where the next search for a newline begins.
    scanned: usize,
    line: Vec<u8>,
}

impl Conn {
    fn open(path: &Path) -> Conn {
        let end = Instant::now() + Duration::from_secs(10);
        let s = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(_) if Instant::now() < end => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => panic!("connect {}: {e}", path.display()),
            }
        };
        s.set_read_timeout(Some(Duration::from_secs(60))).ok();
        Conn {
            w: s.try_clone().expect("clone"),
            r: s,
            buf: vec![0; 4 << 20],
            start: 0,
            filled: 0,
            scanned: 0,
            line: Vec::new(),
        }
    }

    fn send(&mut self, b: &[u8]) {
        self.w.write_all(b).expect("send");
    }

    /// Reads one reply line (without 0xFF and the newline); returns it.
    /// Reads straight into one large buffer and searches only new bytes:
    /// the client must cost less than the agents it measures.
    fn line(&mut self) -> &[u8] {
        use std::io::Read;
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[self.scanned..self.filled]) {
                let end = self.scanned + i;
                let begin = self.start + usize::from(self.buf[self.start] == 0xFF);
                self.line.clear();
                self.line.extend_from_slice(&self.buf[begin..end]);
                self.start = end + 1;
                self.scanned = self.start;
                if self.start == self.filled {
                    self.start = 0;
                    self.scanned = 0;
                    self.filled = 0;
                }
                return &self.line;
            }
            self.scanned = self.filled;
            if self.buf.len() - self.filled < 1 << 20 {
                self.buf.copy_within(self.start..self.filled, 0);
                self.filled -= self.start;
                self.scanned -= self.start;
                self.start = 0;
                if self.buf.len() - self.filled < 1 << 20 {
                    let grow = self.buf.len();
                    self.buf.resize(grow * 2, 0);
                }
            }
            let n = self
                .r
                .read(&mut self.buf[self.filled..])
                .expect("read reply");
            assert!(n > 0, "agent closed the connection");
            self.filled += n;
        }
    }

    fn call(&mut self, req: &str) -> serde_json::Value {
        self.send(req.as_bytes());
        self.send(b"\n");
        serde_json::from_slice(self.line()).expect("json reply")
    }

    fn sync(&mut self) {
        self.send(b"\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":4242}}\n");
        loop {
            let l = self.line().to_vec();
            if l.starts_with(b"{\"return\": 4242}") {
                return;
            }
        }
    }
}

const PING: &[u8] = b"{\"execute\":\"guest-ping\"}\n";

struct PingResult {
    ops: f64,
    p50_us: f64,
    p99_us: f64,
    cpu_us: f64,
}

fn ping(a: &Agent2, n: usize) -> PingResult {
    let mut c = Conn::open(&a.socket);
    if !a.is_echo {
        c.sync();
    }
    for _ in 0..200 {
        c.send(PING);
        c.line();
    }
    let mut lat = Vec::with_capacity(n);
    let cpu0 = schedstat_ns(a.pid);
    let t0 = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        c.send(PING);
        let l = c.line();
        debug_assert!(l.starts_with(b"{\"return\""));
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = schedstat_ns(a.pid) - cpu0;
    lat.sort_by(f64::total_cmp);
    PingResult {
        ops: n as f64 / wall,
        p50_us: lat[n / 2],
        p99_us: lat[n * 99 / 100],
        cpu_us: cpu as f64 / 1e3 / n as f64,
    }
}

fn pipeline(a: &Agent2, n: usize, depth: usize) -> (f64, f64) {
    let mut c = Conn::open(&a.socket);
    if !a.is_echo {
        c.sync();
    }
    let cpu0 = schedstat_ns(a.pid);
    let t0 = Instant::now();
    let mut sent = 0;
    let mut got = 0;
    let mut batch = Vec::new();
    while sent < depth.min(n) {
        batch.extend_from_slice(PING);
        sent += 1;
    }
    c.send(&batch);
    while got < n {
        let l = c.line();
        assert!(
            l.starts_with(b"{\"return\""),
            "{}",
            String::from_utf8_lossy(l)
        );
        got += 1;
        if sent < n {
            c.send(PING);
            sent += 1;
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = schedstat_ns(a.pid) - cpu0;
    (n as f64 / wall, cpu as f64 / 1e3 / n as f64)
}

/// Finds `"key": "` in `line` and returns the string value.
fn str_field<'a>(line: &'a [u8], key: &[u8]) -> &'a [u8] {
    let mut pat = Vec::with_capacity(key.len() + 5);
    pat.extend_from_slice(b"\"");
    pat.extend_from_slice(key);
    pat.extend_from_slice(b"\": \"");
    let Some(at) = line.windows(pat.len()).position(|w| w == pat.as_slice()) else {
        panic!(
            "no {} in {}",
            String::from_utf8_lossy(key),
            String::from_utf8_lossy(&line[..line.len().min(200)])
        );
    };
    let rest = &line[at + pat.len()..];
    let end = rest.iter().position(|&b| b == b'"').expect("closing quote");
    &rest[..end]
}

/// A number field `"key": N` within the first bytes of a reply.
fn num_field(line: &[u8], key: &[u8]) -> Option<u64> {
    let mut pat = Vec::with_capacity(key.len() + 4);
    pat.extend_from_slice(b"\"");
    pat.extend_from_slice(key);
    pat.extend_from_slice(b"\": ");
    let head = &line[..line.len().min(96)];
    let tail_start = line.len().saturating_sub(96);
    let (hay, base) = match memchr::memmem::find(head, &pat) {
        Some(at) => (head, at),
        None => (
            &line[tail_start..],
            memchr::memmem::find(&line[tail_start..], &pat)?,
        ),
    };
    let digits = &hay[base + pat.len()..];
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

fn read_file(a: &Agent2, dir: &Path, data: &[u8], chunk: usize) -> f64 {
    let mut c = Conn::open(&a.socket);
    c.sync();
    let path = (a.path_of)(dir, "read.bin");
    let h = c.call(&format!(
        r#"{{"execute":"guest-file-open","arguments":{{"path":"{path}","mode":"r"}}}}"#
    ))["return"]
        .as_i64()
        .expect("open for read");
    let req = format!(
        "{{\"execute\":\"guest-file-read\",\"arguments\":{{\"handle\":{h},\"count\":{chunk}}}}}\n"
    );
    // Every byte is checked against the expected base64 of its chunk,
    // encoded before the clock starts: both agents send standard padded
    // base64 (glib's and ours), so comparing the text checks every byte
    // (and its canonical encoding) at memcmp cost, and the client's own
    // decoding does not pace the agents under test. A reply of another
    // length is decoded and compared instead.
    let expected: Vec<String> = data.chunks(chunk).map(b64encode).collect();
    let mut checked = 0usize;
    let mut check = |pos: usize, line: &[u8]| {
        let text = str_field(line, b"buf-b64");
        let at = pos / chunk;
        if pos.is_multiple_of(chunk) && expected.get(at).map(|e| e.len()) == Some(text.len()) {
            assert!(
                expected[at].as_bytes() == text,
                "{} read differs in the chunk at {pos}",
                a.name
            );
            checked += data[pos..].len().min(chunk);
        } else {
            let bytes = b64decode(std::str::from_utf8(text).expect("ascii"));
            assert_eq!(
                &data[pos..pos + bytes.len()],
                &bytes[..],
                "{} read differs at {pos}",
                a.name
            );
            checked += bytes.len();
        }
    };
    let t0 = Instant::now();
    let cpu0 = schedstat_ns(a.pid);
    let ccpu0 = thread_cpu_ns();
    let mut pos = 0;
    loop {
        c.send(req.as_bytes());
        let line = c.line();
        let n = num_field(line, b"count").expect("count") as usize;
        if n == 0 {
            break;
        }
        check(pos, line);
        pos += n;
        if pos >= data.len() {
            // qemu-ga reports eof only on the next read; count that one too.
            c.send(req.as_bytes());
            let _ = c.line();
            break;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    if std::env::var_os("BENCH_DEBUG").is_some() {
        let reqs = data.len().div_ceil(chunk) as f64;
        eprintln!(
            "{} read chunk {chunk}: agent CPU {:.1} µs/request, client CPU {:.1} µs/request, wall {:.1} µs/request",
            a.name,
            (schedstat_ns(a.pid) - cpu0) as f64 / 1e3 / reqs,
            (thread_cpu_ns() - ccpu0) as f64 / 1e3 / reqs,
            secs * 1e6 / reqs
        );
    }
    assert_eq!(
        checked,
        data.len(),
        "{} read {checked} of {} bytes",
        a.name,
        data.len()
    );
    c.call(&format!(
        r#"{{"execute":"guest-file-close","arguments":{{"handle":{h}}}}}"#
    ));
    data.len() as f64 / 1e6 / secs
}

fn write_file(a: &Agent2, dir: &Path, data: &[u8], chunk: usize) -> f64 {
    let mut c = Conn::open(&a.socket);
    c.sync();
    let path = (a.path_of)(dir, "write.bin");
    let h = c.call(&format!(
        r#"{{"execute":"guest-file-open","arguments":{{"path":"{path}","mode":"w"}}}}"#
    ))["return"]
        .as_i64()
        .expect("open for write");
    // Requests are built before the clock starts (the client's cost).
    let reqs: Vec<Vec<u8>> = data
        .chunks(chunk)
        .map(|p| {
            format!(
                "{{\"execute\":\"guest-file-write\",\"arguments\":{{\"handle\":{h},\"buf-b64\":\"{}\"}}}}\n",
                b64encode(p)
            )
            .into_bytes()
        })
        .collect();
    let t0 = Instant::now();
    let cpu0 = schedstat_ns(a.pid);
    for r in &reqs {
        c.send(r);
        let l = c.line();
        assert!(
            l.starts_with(b"{\"return\""),
            "{}",
            String::from_utf8_lossy(l)
        );
    }
    c.call(&format!(
        r#"{{"execute":"guest-file-close","arguments":{{"handle":{h}}}}}"#
    ));
    let secs = t0.elapsed().as_secs_f64();
    if std::env::var_os("BENCH_DEBUG").is_some() {
        eprintln!(
            "{} write chunk {chunk}: agent CPU {:.1} µs/request, wall {:.1} µs/request",
            a.name,
            (schedstat_ns(a.pid) - cpu0) as f64 / 1e3 / reqs.len() as f64,
            secs * 1e6 / reqs.len() as f64
        );
    }
    let on_disk = std::fs::read(dir.join("write.bin")).expect("written file");
    assert!(on_disk == data, "{}: written file differs", a.name);
    let _ = std::fs::remove_file(dir.join("write.bin"));
    data.len() as f64 / 1e6 / secs
}

fn self_exe_sibling(name: &str) -> PathBuf {
    let me = std::env::current_exe().expect("current exe");
    me.with_file_name(name)
}

fn start_nanoqga(dir: &Path) -> Agent2 {
    let socket = dir.join("nanoqga.sock");
    let child = Command::new(self_exe_sibling("nanoqga-host-test"))
        .arg("--unix")
        .arg(&socket)
        .arg("--file-root")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start nanoqga-host (build with: cargo build --release -p nanoqga-tests-host)");
    Agent2 {
        name: "nanoqga",
        pid: child.id(),
        _owner: Owner::Child(child),
        socket,
        path_of: |_, name| format!("/{name}"),
        is_echo: false,
    }
}

fn start_qemu_ga() -> Option<Agent2> {
    if !Path::new(nanoqga_tests_host::process::QEMU_GA).exists() {
        eprintln!(
            "qemu-ga not installed (apt-get install -y --no-install-recommends qemu-guest-agent): its column is left out"
        );
        return None;
    }
    let p = spawn_qemu_ga("guest-exec,guest-exec-status,guest-fsfreeze-status");
    Some(Agent2 {
        name: "qemu-ga",
        pid: p.child.id(),
        socket: p.socket.clone(),
        _owner: Owner::Proc(p),
        path_of: |dir, name| dir.join(name).display().to_string(),
        is_echo: false,
    })
}

fn start_echo(dir: &Path) -> Agent2 {
    let socket = dir.join("echo.sock");
    let child = Command::new(std::env::current_exe().expect("exe"))
        .arg("echo-server")
        .arg("--unix")
        .arg(&socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start echo server");
    Agent2 {
        name: "echo",
        pid: child.id(),
        _owner: Owner::Child(child),
        socket,
        path_of: |_, n| n.to_string(),
        is_echo: true,
    }
}

#[derive(Default)]
struct Figures {
    ping_ops: Vec<f64>,
    p50: Vec<f64>,
    p99: Vec<f64>,
    cpu_ping: Vec<f64>,
    pipe_ops: Vec<f64>,
    pipe_cpu: Vec<f64>,
    read: [Vec<f64>; 3],
    write: Vec<f64>,
    rss: Vec<(String, u64, u64)>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("echo-server") {
        let path = args.get(2).expect("bench echo-server --unix PATH");
        echo_server(Path::new(path));
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let runs: usize = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 1 } else { 5 });

    println!("# nanoqga benchmark\n");
    println!(
        "Machine: {} CPU(s), {}; {} run(s) per figure, median [min .. max].\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(
                |s| s.lines().find(|l| l.starts_with("model name")).map(|l| l
                    .split(':')
                    .nth(1)
                    .unwrap_or("")
                    .trim()
                    .to_string())
            )
            .unwrap_or_default(),
        runs
    );

    // 1. In process.
    println!("## In process (MockSerial, host capacities)\n");
    println!(
        "| request | requests/s | CPU ns/request | heap allocations/request |\n|---|---|---|---|"
    );
    for (name, rps, cpu, allocs) in in_process(runs, quick) {
        println!(
            "| {name} | {} | {} | {} |",
            fmt(rps, 0),
            fmt(cpu, 0),
            fmt(allocs, 2)
        );
    }

    if args.iter().any(|a| a == "--in-process") {
        return;
    }

    // 2. Over a socket.
    let dir = TempDir::new("bench");
    let size = if quick { 4 << 20 } else { 64 << 20 };
    let mut data = vec![0u8; size];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(dir.path().join("read.bin"), &data).expect("test file");
    let (n_ping, n_pipe, n_pipe_echo) = if quick {
        (2_000, 4_000, 20_000)
    } else {
        (20_000, 20_000, 200_000)
    };

    let mut agents = vec![start_nanoqga(dir.path())];
    if let Some(q) = start_qemu_ga() {
        agents.push(q);
    }
    agents.push(start_echo(dir.path()));
    let mut figs: Vec<Figures> = agents.iter().map(|_| Figures::default()).collect();
    for (a, f) in agents.iter().zip(figs.iter_mut()) {
        let _ = Conn::open(&a.socket);
        f.rss
            .push(("idle".into(), rss_kb(a.pid).0, rss_kb(a.pid).1));
    }
    for _ in 0..runs {
        for (a, f) in agents.iter().zip(figs.iter_mut()) {
            let p = ping(a, n_ping);
            f.ping_ops.push(p.ops);
            f.p50.push(p.p50_us);
            f.p99.push(p.p99_us);
            f.cpu_ping.push(p.cpu_us);
            let n = if a.is_echo { n_pipe_echo } else { n_pipe };
            let (ops, cpu) = pipeline(a, n, 16);
            f.pipe_ops.push(ops);
            f.pipe_cpu.push(cpu);
        }
    }
    for (a, f) in agents.iter().zip(figs.iter_mut()) {
        let (rss, hwm) = rss_kb(a.pid);
        f.rss.push(("after pings".into(), rss, hwm));
    }
    for _ in 0..runs {
        for (a, f) in agents.iter().zip(figs.iter_mut()) {
            if a.is_echo {
                continue;
            }
            for (i, chunk) in [4096, 65536, 1 << 20].into_iter().enumerate() {
                f.read[i].push(read_file(a, dir.path(), &data, chunk));
            }
        }
    }
    for (a, f) in agents.iter().zip(figs.iter_mut()) {
        let (rss, hwm) = rss_kb(a.pid);
        f.rss.push(("after reads".into(), rss, hwm));
    }
    for _ in 0..runs {
        for (a, f) in agents.iter().zip(figs.iter_mut()) {
            if a.is_echo {
                continue;
            }
            f.write.push(write_file(a, dir.path(), &data, 65536));
        }
    }
    for (a, f) in agents.iter().zip(figs.iter_mut()) {
        let (rss, hwm) = rss_kb(a.pid);
        f.rss.push(("after writes".into(), rss, hwm));
    }

    // Tables.
    let names: Vec<&str> = agents.iter().map(|a| a.name).collect();
    let col = |name: &str| names.iter().position(|n| *n == name);
    let (nq, qg, echo) = (col("nanoqga"), col("qemu-ga"), col("echo"));
    let med = |i: Option<usize>, get: &dyn Fn(&Figures) -> &Vec<f64>| -> Option<f64> {
        i.map(|i| stat(get(&figs[i]).clone()).med)
    };
    println!(
        "\n## Over a unix socket ({} MiB file, ping n={n_ping}, pipeline n={n_pipe} (echo {n_pipe_echo}))\n",
        size >> 20
    );
    print!("| metric |");
    for n in &names {
        print!(" {n} |");
    }
    println!(" nanoqga/qemu-ga | nanoqga/echo |");
    print!("|---|");
    for _ in &names {
        print!("---|");
    }
    println!("---|---|");
    type Getter = Box<dyn Fn(&Figures) -> &Vec<f64>>;
    let rows: Vec<(&str, usize, Getter)> = vec![
        ("ping ops/s", 0, Box::new(|f: &Figures| &f.ping_ops)),
        ("ping p50 µs", 1, Box::new(|f: &Figures| &f.p50)),
        ("ping p99 µs", 1, Box::new(|f: &Figures| &f.p99)),
        ("agent CPU µs/ping", 1, Box::new(|f: &Figures| &f.cpu_ping)),
        (
            "pipeline depth 16 ops/s",
            0,
            Box::new(|f: &Figures| &f.pipe_ops),
        ),
        (
            "agent CPU µs/op, pipelined",
            2,
            Box::new(|f: &Figures| &f.pipe_cpu),
        ),
        (
            "read MB/s, chunk 4 KiB",
            1,
            Box::new(|f: &Figures| &f.read[0]),
        ),
        (
            "read MB/s, chunk 64 KiB",
            1,
            Box::new(|f: &Figures| &f.read[1]),
        ),
        (
            "read MB/s, chunk 1 MiB",
            1,
            Box::new(|f: &Figures| &f.read[2]),
        ),
        (
            "write MB/s, chunk 64 KiB",
            1,
            Box::new(|f: &Figures| &f.write),
        ),
    ];
    for (label, digits, get) in &rows {
        print!("| {label} |");
        for f in &figs {
            let v = get(f);
            if v.is_empty() {
                print!(" - |");
            } else {
                print!(" {} |", fmt(stat(v.clone()), *digits));
            }
        }
        let ratio = |other: Option<usize>| match (med(nq, get.as_ref()), med(other, get.as_ref())) {
            (Some(a), Some(b)) if b > 0.0 && a > 0.0 => format!("{:.2}", a / b),
            _ => "-".into(),
        };
        println!(" {} | {} |", ratio(qg), ratio(echo));
    }
    println!(
        "\n| resident memory (VmRSS / VmHWM kB) |{}",
        names.iter().map(|n| format!(" {n} |")).collect::<String>()
    );
    println!("|---|{}", names.iter().map(|_| "---|").collect::<String>());
    for (i, (phase, _, _)) in figs[0].rss.iter().enumerate() {
        print!("| {phase} |");
        for f in &figs {
            let (_, rss, hwm) = &f.rss[i];
            print!(" {rss} / {hwm} |");
        }
        println!();
    }

    // Targets.
    println!("\n## Targets\n");
    let get = |i: Option<usize>, k: &dyn Fn(&Figures) -> &Vec<f64>| med(i, k).unwrap_or(f64::NAN);
    let check = |label: &str, value: f64, goal: f64, higher: bool, unit: &str| {
        let met = if higher { value >= goal } else { value <= goal };
        println!(
            "| {label} | {value:.2}{unit} | {} {goal:.2}{unit} | {} |",
            if higher { "≥" } else { "≤" },
            if value.is_nan() || goal.is_nan() {
                "not measured"
            } else if met {
                "met"
            } else {
                "NOT met"
            }
        );
    };
    println!("| target | nanoqga | goal | |\n|---|---|---|---|");
    let echo_ping = get(echo, &|f| &f.ping_ops);
    let echo_pipe = get(echo, &|f| &f.pipe_ops);
    let echo_cpu = get(echo, &|f| &f.cpu_ping);
    check(
        "ping ops/s vs 0.8 × echo",
        get(nq, &|f| &f.ping_ops),
        0.8 * echo_ping,
        true,
        "",
    );
    check(
        "pipelined d16 ops/s vs 0.5 × echo",
        get(nq, &|f| &f.pipe_ops),
        0.5 * echo_pipe,
        true,
        "",
    );
    check(
        "agent CPU per ping vs 1.3 × echo",
        get(nq, &|f| &f.cpu_ping),
        1.3 * echo_cpu,
        false,
        " µs",
    );
    if qg.is_some() {
        check(
            "read MB/s at 64 KiB vs 5 × qemu-ga",
            get(nq, &|f| &f.read[1]),
            5.0 * get(qg, &|f| &f.read[1]),
            true,
            "",
        );
        check(
            "write MB/s at 64 KiB vs 10 × qemu-ga",
            get(nq, &|f| &f.write),
            10.0 * get(qg, &|f| &f.write),
            true,
            "",
        );
    }
    drop(agents);
}
