//! Running agents as processes: `nanoqga-host` and the reference qemu-ga.
//!
//! Every process lives in its own temporary directory, listens on a unix
//! socket there, and is killed by its own pid when the handle drops.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The commands that must never reach the real qemu-ga in tests: they would
/// change this machine.
pub const QEMU_GA_BLOCKED: &str = "guest-shutdown,guest-suspend-disk,guest-suspend-ram,guest-suspend-hybrid,\
guest-set-time,guest-fsfreeze-freeze,guest-fsfreeze-freeze-list,guest-fsfreeze-thaw,guest-fstrim,\
guest-set-vcpus,guest-set-memory-blocks,guest-set-user-password,guest-ssh-add-authorized-keys,\
guest-ssh-remove-authorized-keys";

/// The reference agent's path.
pub const QEMU_GA: &str = "/usr/sbin/qemu-ga";

/// A temporary directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new empty directory under the system temp dir.
    pub fn new(tag: &str) -> Self {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("nanoqga-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed (by its pid) when dropped.
pub struct Proc {
    /// The child.
    pub child: Child,
    /// Its socket.
    pub socket: PathBuf,
    /// Its directory.
    pub dir: TempDir,
}

impl Proc {
    /// Sends SIGTERM and waits up to `timeout` for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.wait(timeout)
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    /// Connects a client, retrying until the socket appears (up to 10 s).
    pub fn connect(&self) -> Client {
        Client::connect(&self.socket, Duration::from_secs(10))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the host agent binary `bin` on a socket in a fresh directory,
/// with `args` added. The working directory is that directory.
pub fn spawn_host(bin: &str, args: &[&str]) -> Proc {
    let dir = TempDir::new("host");
    let socket = dir.path().join("qga.sock");
    let child = Command::new(bin)
        .arg("--unix")
        .arg(&socket)
        .args(args)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn nanoqga-host");
    Proc { child, socket, dir }
}

/// Starts the reference qemu-ga on a socket with every state-changing
/// command blocked, working directory in a fresh directory.
pub fn spawn_qemu_ga(extra_block: &str) -> Proc {
    let dir = TempDir::new("qemu-ga");
    let socket = dir.path().join("qga.sock");
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).expect("state dir");
    let mut block = QEMU_GA_BLOCKED.to_string();
    if !extra_block.is_empty() {
        block.push(',');
        block.push_str(extra_block);
    }
    let child = Command::new(QEMU_GA)
        .args(["-m", "unix-listen", "-p"])
        .arg(&socket)
        .arg("-t")
        .arg(&state)
        .args(["-b", &block])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn qemu-ga");
    Proc { child, socket, dir }
}

/// A QGA client on a unix socket: raw bytes in, replies out.
pub struct Client {
    /// The connection.
    pub stream: UnixStream,
    buf: Vec<u8>,
}

impl Client {
    /// Connects, retrying until `timeout`.
    pub fn connect(path: &Path, timeout: Duration) -> Client {
        let end = Instant::now() + timeout;
        loop {
            match UnixStream::connect(path) {
                Ok(stream) => {
                    stream
                        .set_read_timeout(Some(Duration::from_secs(10)))
                        .expect("timeout");
                    return Client {
                        stream,
                        buf: Vec::new(),
                    };
                }
                Err(e) if Instant::now() < end => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("connect {}: {e}", path.display()),
            }
        }
    }

    /// Sends raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Reads one reply line as it came, 0xFF sentinel and newline included.
    /// Panics after the read timeout.
    pub fn raw_reply(&mut self) -> Vec<u8> {
        loop {
            if let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
                return self.buf.drain(..=nl).collect();
            }
            let mut chunk = [0u8; 65536];
            let n = self.stream.read(&mut chunk).expect("read reply");
            assert!(n > 0, "connection closed while waiting for a reply");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads one reply line (skipping a leading 0xFF sentinel), parsed.
    /// Panics after the read timeout.
    pub fn reply(&mut self) -> Value {
        let mut line = self.raw_reply();
        line.pop();
        if line.first() == Some(&0xFF) {
            line.remove(0);
        }
        serde_json::from_slice(&line)
            .unwrap_or_else(|e| panic!("bad reply {:?}: {e}", String::from_utf8_lossy(&line)))
    }

    /// Sends a request (JSON text plus newline) and returns its reply line
    /// exactly as it came.
    pub fn call_raw(&mut self, json: &str) -> Vec<u8> {
        self.send(json.as_bytes());
        self.send(b"\n");
        self.raw_reply()
    }

    /// Reads everything that arrives until `quiet` passes with no data.
    pub fn drain(&mut self, quiet: Duration) -> Vec<u8> {
        let _ = self.stream.set_read_timeout(Some(quiet));
        let mut out = std::mem::take(&mut self.buf);
        let mut chunk = [0u8; 65536];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
                Err(_) => break,
            }
        }
        let _ = self.stream.set_read_timeout(Some(Duration::from_secs(10)));
        out
    }

    /// Sends a request (JSON text plus newline) and returns its reply.
    pub fn call(&mut self, json: &str) -> Value {
        self.send(json.as_bytes());
        self.send(b"\n");
        self.reply()
    }

    /// The handshake as a patient client runs it (libvirt, `qemu-ga-client`):
    /// 0xFF + `guest-sync-delimited`, and when no matching reply comes
    /// within `attempt`, again with the next id, until `total` has passed
    /// (then it panics). Returns the id that was answered. Replies to
    /// earlier attempts come before the answered one and are discarded.
    pub fn resync_retrying(&mut self, first_id: i64, attempt: Duration, total: Duration) -> i64 {
        let end = Instant::now() + total;
        let mut id = first_id;
        loop {
            self.send(b"\xff");
            self.send(
                format!(r#"{{"execute":"guest-sync-delimited","arguments":{{"id":{id}}}}}"#)
                    .as_bytes(),
            );
            let give_up = (Instant::now() + attempt).min(end);
            loop {
                // Every complete reply after a sentinel: is it ours?
                while let Some(p) = self.buf.iter().position(|&b| b == 0xFF) {
                    let Some(nl) = self.buf[p..].iter().position(|&b| b == b'\n') else {
                        break;
                    };
                    let line: Vec<u8> = self.buf.drain(..=p + nl).skip(p + 1).collect();
                    let v: Option<Value> = serde_json::from_slice(&line[..line.len() - 1]).ok();
                    if v.and_then(|v| v.get("return").and_then(Value::as_i64)) == Some(id) {
                        let _ = self.stream.set_read_timeout(Some(Duration::from_secs(10)));
                        return id;
                    }
                }
                let now = Instant::now();
                if now >= give_up {
                    break;
                }
                let _ = self.stream.set_read_timeout(Some(give_up - now));
                let mut chunk = [0u8; 4096];
                match self.stream.read(&mut chunk) {
                    Ok(0) => panic!("closed during resync"),
                    Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                    Err(_) => break,
                }
            }
            assert!(
                Instant::now() < end,
                "no answer to guest-sync-delimited {first_id}..={id} within {total:?}; received: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            id += 1;
        }
    }

    /// The 0xFF + `guest-sync-delimited` handshake: discards everything up
    /// to the sentinel and checks the reply.
    pub fn resync(&mut self, id: i64) {
        self.send(b"\xff");
        self.send(
            format!(r#"{{"execute":"guest-sync-delimited","arguments":{{"id":{id}}}}}"#).as_bytes(),
        );
        loop {
            if let Some(p) = self.buf.iter().position(|&b| b == 0xFF) {
                self.buf.drain(..p);
                let r = self.reply();
                if r.get("return").and_then(Value::as_i64) == Some(id) {
                    return;
                }
                continue;
            }
            let mut chunk = [0u8; 4096];
            let n = match self.stream.read(&mut chunk) {
                Ok(n) => n,
                Err(e) => panic!(
                    "read during resync: {e}; received so far: {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            };
            assert!(n > 0, "closed during resync");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Resident memory of process `pid` in kB: `(VmRSS, VmHWM)` from
/// `/proc/PID/status` (zeros if it is gone).
pub fn rss_kb(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A process's user + system CPU time in seconds (from `/proc/PID/stat`;
/// 0 when it is gone).
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks / hz.max(1.0)
}

/// Percent of one core the process used over the next `span`.
pub fn idle_share(pid: u32, span: Duration) -> f64 {
    let c0 = cpu_seconds(pid);
    std::thread::sleep(span);
    (cpu_seconds(pid) - c0) / span.as_secs_f64() * 100.0
}
