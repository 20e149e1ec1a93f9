//! `guest-exec` on the host: the shared built-in programs, and real
//! processes only with `--allow-exec`.
//!
//! Without `--allow-exec`, the built-ins: `/bin/echo`, `/bin/cat`
//! (input-data, or files under `--file-root`), `/bin/true`, `/bin/false`,
//! `/bin/uptime`, `/bin/sleep` (stepped on its deadline, not holding the
//! agent) and `/usr/libexec/nanoqga/health-check` (a memory test over a
//! 1 MiB buffer). With `--allow-exec`, every path but the health check (or a
//! bare name, looked up in PATH as qemu-ga does) runs as a real process with
//! piped, non-blocking stdio; its
//! output is collected on each poll and the status is reported once both
//! pipes are closed and the process has exited. `env`, when given, is the
//! whole environment, as in qemu-ga.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Stdio};

use nanoqga::error::{Errno, HookError};
use nanoqga::platform::{CaptureMode, ExecIo, ExecRequest, ExecState, ExecStatus, Programs};
use nanoqga::programs::{self, HEALTH_CHECK_PATH, MemTest, SLEEP_PATH, Sleep, UPTIME_PATH};

use crate::files::RootedFiles;

/// Tags in state word 3.
const TAG_HEALTH: u64 = 1;
const TAG_PROCESS: u64 = 2;
/// State word 3 of the built-in sleep.
const TAG_SLEEP: u64 = 3;

/// Bytes the health check tests.
const HEALTH_REGION: usize = 1 << 20;

/// How often a real process's pipes and status are looked at while it runs.
const PROCESS_POLL: std::time::Duration = std::time::Duration::from_millis(10);

struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    input: Vec<u8>,
    written: usize,
    status: Option<std::process::ExitStatus>,
}

/// The host's programs.
pub struct HostPrograms {
    allow_exec: bool,
    files: Option<RootedFiles>,
    region: Vec<u8>,
    procs: Vec<Option<Proc>>,
}

impl HostPrograms {
    /// The programs: real processes when `allow_exec` (the built-ins then
    /// only where no real program has the path: the health check), else
    /// the built-ins; `/bin/cat` of files reads under `root`.
    pub fn new(allow_exec: bool, root: Option<PathBuf>) -> Self {
        HostPrograms {
            allow_exec,
            files: root.and_then(|r| RootedFiles::new(&r).ok()),
            region: Vec::new(),
            procs: Vec::new(),
        }
    }

    fn spawn(
        &mut self,
        req: &ExecRequest<'_>,
        state: &mut ExecState,
    ) -> Result<ExecStatus, HookError> {
        let decode = |s: nanoqga::platform::Str<'_>| {
            String::from_utf8_lossy(&s.bytes().collect::<Vec<u8>>()).into_owned()
        };
        let mut cmd = Command::new(req.path);
        cmd.args(req.args.iter().map(decode));
        if req.env.is_present() {
            cmd.env_clear();
            for e in req.env.iter().map(decode) {
                match e.split_once('=') {
                    Some((k, v)) => cmd.env(k, v),
                    None => cmd.env(e, ""),
                };
            }
        }
        cmd.stdin(if req.input.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        });
        let pipe = |on: bool| if on { Stdio::piped() } else { Stdio::null() };
        // Merged: stderr goes down the same pipe as stdout, as qemu-ga does
        // it (its child dup2()s the pipe over both).
        let merged = req.capture == CaptureMode::Merged;
        cmd.stdout(pipe(req.capture.stdout()));
        cmd.stderr(pipe(req.capture.stderr() && !merged));
        if merged {
            use std::os::unix::process::CommandExt;
            // SAFETY: dup2 is async-signal-safe; it runs in the child
            // between fork and exec, on descriptors the child owns.
            unsafe {
                cmd.pre_exec(|| {
                    if libc::dup2(1, 2) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| HookError::Errno(Errno(e.raw_os_error().unwrap_or(libc::ENOENT))))?;
        let set_nonblock = |fd: i32| {
            // SAFETY: fcntl on a pipe descriptor we own.
            unsafe {
                let fl = libc::fcntl(fd, libc::F_GETFL);
                libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
            }
        };
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        stdin.iter().for_each(|p| set_nonblock(p.as_raw_fd()));
        stdout.iter().for_each(|p| set_nonblock(p.as_raw_fd()));
        stderr.iter().for_each(|p| set_nonblock(p.as_raw_fd()));
        let proc = Proc {
            child,
            stdin,
            stdout,
            stderr,
            input: req.input.to_vec(),
            written: 0,
            status: None,
        };
        let index = match self.procs.iter().position(Option::is_none) {
            Some(i) => {
                self.procs[i] = Some(proc);
                i
            }
            None => {
                self.procs.push(Some(proc));
                self.procs.len() - 1
            }
        };
        state[0] = index as u64;
        state[3] = TAG_PROCESS;
        Ok(ExecStatus::Running(PROCESS_POLL))
    }

    fn step_process(&mut self, index: usize, io: &mut ExecIo<'_>) -> ExecStatus {
        let Some(Some(p)) = self.procs.get_mut(index) else {
            return ExecStatus::Exited(127);
        };
        if let Some(stdin) = p.stdin.as_mut() {
            match stdin.write(&p.input[p.written..]) {
                Ok(n) => p.written += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => p.written = p.input.len(),
            }
            if p.written >= p.input.len() {
                p.stdin = None;
            }
        }
        let mut buf = [0u8; 8192];
        for (pipe, capture) in [(&mut p.stdout as &mut dyn PipeSlot, 0), (&mut p.stderr, 1)] {
            let capture = if capture == 0 {
                io.stdout()
            } else {
                io.stderr()
            };
            while let Some(r) = pipe.reader() {
                match r.read(&mut buf) {
                    Ok(0) => {
                        pipe.close();
                        break;
                    }
                    Ok(n) => capture.write(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        pipe.close();
                        break;
                    }
                }
            }
        }
        if p.status.is_none() {
            p.status = p.child.try_wait().ok().flatten();
        }
        match p.status {
            Some(st) if p.stdout.is_none() && p.stderr.is_none() => {
                let result = match (st.code(), st.signal()) {
                    (Some(c), _) => ExecStatus::Exited(c),
                    (None, Some(s)) => ExecStatus::Signaled(s),
                    _ => ExecStatus::Exited(0),
                };
                self.procs[index] = None;
                result
            }
            _ => ExecStatus::Running(PROCESS_POLL),
        }
    }
}

/// A child's output pipe, readable until closed.
trait PipeSlot {
    fn reader(&mut self) -> Option<&mut dyn Read>;
    fn close(&mut self);
}

impl<T: Read> PipeSlot for Option<T> {
    fn reader(&mut self) -> Option<&mut dyn Read> {
        self.as_mut().map(|r| r as &mut dyn Read)
    }
    fn close(&mut self) {
        *self = None;
    }
}

fn boot_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

impl Programs for HostPrograms {
    fn start(
        &mut self,
        req: &ExecRequest<'_>,
        state: &mut ExecState,
        io: &mut ExecIo<'_>,
    ) -> Result<ExecStatus, HookError> {
        match req.path {
            HEALTH_CHECK_PATH => {
                if self.region.is_empty() {
                    self.region = vec![0; HEALTH_REGION];
                }
                state[3] = TAG_HEALTH;
                return Ok(MemTest::start(&self.region, state, io));
            }
            UPTIME_PATH if !self.allow_exec => return Ok(programs::uptime(io, boot_ns())),
            SLEEP_PATH if !self.allow_exec => {
                state[3] = TAG_SLEEP;
                return Ok(Sleep::start(req, boot_ns(), state, io));
            }
            "/bin/cat" if !self.allow_exec => {
                return Ok(programs::cat(
                    req,
                    io,
                    self.files
                        .as_mut()
                        .map(|f| f as &mut dyn nanoqga::platform::FileStore),
                ));
            }
            _ => {}
        }
        if self.allow_exec {
            return self.spawn(req, state);
        }
        programs::start_standard(req, io).ok_or(HookError::Errno(Errno::ENOENT))
    }

    fn resume(&mut self, state: &mut ExecState, io: &mut ExecIo<'_>) -> ExecStatus {
        match state[3] {
            TAG_HEALTH => MemTest::resume(&mut self.region, state, io),
            TAG_SLEEP => Sleep::resume(boot_ns(), state),
            TAG_PROCESS => self.step_process(state[0] as usize, io),
            _ => ExecStatus::Exited(0),
        }
    }
}
