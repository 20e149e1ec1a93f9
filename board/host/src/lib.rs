//! nanoqga on a Linux host: the agent served on a unix socket, stdio or a
//! character device, with the host's clock, files, programs and system
//! information behind the board hooks.
//!
//! Contract:
//! * One client at a time on `--unix`, as qemu-ga's `-m unix-listen`; each
//!   new client starts with a clean parser (unlike qemu-ga, whose parser
//!   state survives reconnects).
//! * The host is never changed unless a flag allows it: files only under
//!   `--file-root`, real programs only with `--allow-exec`, the clock only
//!   with `--allow-set-time`; `guest-shutdown` ends this process with status
//!   0, and freeze, trim, suspend, CPU and memory-block changes and passwords
//!   answer "not supported".
//! * SIGTERM exits with status 0. Bad flags, unusable paths and a socket path
//!   in use print one line on stderr and exit non-zero.
//! * Nothing but replies goes to the QGA channel; `--verbose` logs to stderr.

#![deny(clippy::undocumented_unsafe_blocks)]

/// Writes one line to stderr, ignoring failure: a closed or broken stderr
/// must never take the agent down (`eprintln!` would panic).
macro_rules! log {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod exec;
pub mod files;
pub mod io;
pub mod platform;
pub mod procfs;
pub mod sys;
pub mod sysinfo;

use std::ffi::OsString;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use nanoqga::{Agent, AgentConfig, Poll, Storage};

pub use platform::{HostPlatform, Settings};

/// Capacities of the host build: room for 3 MiB `guest-file-write` payloads
/// (4 MiB of base64), `guest-file-read` replies of up to 64 KiB in one piece
/// (larger ones stream), 64 open files and 16 programs with 64 KiB of output
/// each; a 64-slot duplicate-key table (objects with more than 32 members
/// are checked in rounds; the table is cleared for every object, so a large
/// one costs time on every request). Memory is only touched as it is used.
pub type HostStorage = Storage<{ 4 << 20 }, { 256 << 10 }, 64, 16, { 64 << 10 }, 64>;

/// The storage lives in a static (zero-initialised, so it costs nothing until
/// touched); the mutex hands it to the one agent of the process.
static STORAGE: Mutex<HostStorage> = Mutex::new(Storage::new());

static TERMINATE: AtomicBool = AtomicBool::new(false);

/// Where the agent listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// A unix socket, one client at a time.
    Unix(PathBuf),
    /// Standard input and output.
    Stdio,
    /// A character device (serial tty, virtio port), put in raw mode.
    Device(PathBuf),
}

/// Parsed command line.
#[derive(Clone, Debug)]
pub struct Options {
    /// The channel.
    pub transport: Transport,
    /// Root directory for `guest-file-*`; none disables file commands.
    pub file_root: Option<PathBuf>,
    /// Let `guest-exec` run real programs.
    pub allow_exec: bool,
    /// Let `guest-set-time` set the host clock.
    pub allow_set_time: bool,
    /// Agent settings (block and allow lists).
    pub config: AgentConfig<HostPlatform>,
    /// Log to stderr.
    pub verbose: bool,
}

const USAGE: &str = "\
Usage: nanoqga-host (--unix PATH | --stdio | --device PATH) [OPTIONS]

Serve the QEMU Guest Agent protocol (QGA 4.2 commands, qemu-ga 7.2 wire behaviour).

Channel (exactly one):
  -u, --unix PATH          listen on a unix socket, one client at a time
      --stdio              use standard input and output
  -d, --device PATH        use a character device (serial tty or virtio port)

Options:
  -f, --file-root DIR      enable guest-file-* for files under DIR
                           (a guest path /a/b means DIR/a/b)
      --allow-exec         let guest-exec run real programs, not only the built-ins
      --allow-set-time     let guest-set-time change the host clock
  -b, --block-rpcs LIST    comma-separated commands to disable
  -a, --allow-rpcs LIST    comma-separated commands to enable (all others disabled)
  -v, --verbose            log to stderr
  -V, --version            print the version
  -h, --help               print this help

guest-shutdown ends this process with status 0; it never powers off the host.
";

/// Parses arguments. `Err` holds the message and the exit status.
pub fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Options, (String, i32)> {
    let mut args = args.into_iter();
    let mut transport = None;
    let mut opts = Options {
        transport: Transport::Stdio,
        file_root: None,
        allow_exec: false,
        allow_set_time: false,
        config: AgentConfig::default(),
        verbose: false,
    };
    let mut blocked = String::new();
    let mut allowed: Option<String> = None;
    fn usage<T>(m: String) -> Result<T, (String, i32)> {
        Err((format!("nanoqga-host: {m}\nTry 'nanoqga-host --help'."), 2))
    }
    while let Some(arg) = args.next() {
        let arg = arg.to_string_lossy().into_owned();
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, (String, i32)> {
            match inline
                .clone()
                .or_else(|| args.next().map(|v| v.to_string_lossy().into_owned()))
            {
                Some(v) => Ok(v),
                None => usage(format!("option '{name}' needs a value")),
            }
        };
        let mut set_transport = |t: Transport| -> Result<(), (String, i32)> {
            if transport.is_some() {
                return usage("give only one of --unix, --stdio, --device".into());
            }
            transport = Some(t);
            Ok(())
        };
        match flag.as_str() {
            "-u" | "--unix" => set_transport(Transport::Unix(value("--unix")?.into()))?,
            "--stdio" => set_transport(Transport::Stdio)?,
            "-d" | "--device" => set_transport(Transport::Device(value("--device")?.into()))?,
            "-f" | "--file-root" => opts.file_root = Some(value("--file-root")?.into()),
            "--allow-exec" => opts.allow_exec = true,
            "--allow-set-time" => opts.allow_set_time = true,
            "-b" | "--block-rpcs" | "--blacklist" => {
                blocked.push(',');
                blocked.push_str(&value("--block-rpcs")?);
            }
            "-a" | "--allow-rpcs" => {
                let a = allowed.get_or_insert_with(String::new);
                a.push(',');
                a.push_str(&value("--allow-rpcs")?);
            }
            "-v" | "--verbose" => opts.verbose = true,
            "-V" | "--version" => {
                return Err((
                    format!(
                        "nanoqga-host {} (QGA {} command set, qemu-ga 7.2 wire protocol)",
                        env!("CARGO_PKG_VERSION"),
                        AgentConfig::<HostPlatform>::default().version
                    ),
                    0,
                ));
            }
            "-h" | "--help" => return Err((USAGE.trim_end().to_string(), 0)),
            other => return usage(format!("unknown option '{other}'")),
        }
    }
    let Some(t) = transport else {
        return usage("give a channel: --unix PATH, --stdio or --device PATH".into());
    };
    opts.transport = t;
    let unknown = opts.config.block(&blocked);
    if let Some(a) = allowed {
        let _ = opts.config.allow(&a);
    }
    if unknown > 0 && opts.verbose {
        log!("nanoqga-host: ignoring {unknown} unknown command name(s) in --block-rpcs");
    }
    if let Some(root) = &opts.file_root {
        match std::fs::metadata(root) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err((
                    format!(
                        "nanoqga-host: --file-root {}: not a directory",
                        root.display()
                    ),
                    1,
                ));
            }
            Err(e) => {
                return Err((
                    format!("nanoqga-host: --file-root {}: {e}", root.display()),
                    1,
                ));
            }
        }
    }
    Ok(opts)
}

/// The program: parses `args`, serves until told to stop, returns the exit
/// status.
pub fn main(args: impl IntoIterator<Item = OsString>) -> i32 {
    let opts = match parse_args(args) {
        Ok(o) => o,
        Err((msg, code)) => {
            if code == 0 {
                // `--help | head` closes the pipe early: not an error.
                use std::io::Write as _;
                let _ = writeln!(std::io::stdout(), "{msg}");
            } else {
                log!("{msg}");
            }
            return code;
        }
    };
    match run(opts) {
        Ok(()) => 0,
        Err(msg) => {
            log!("nanoqga-host: {msg}");
            1
        }
    }
}

extern "C" fn on_sigterm(_: libc::c_int) {
    TERMINATE.store(true, Ordering::SeqCst);
}

/// Sets SIGTERM and SIGINT to end the serve loop (status 0), and ignores
/// SIGPIPE.
pub fn install_signals() {
    // SAFETY: `on_sigterm` only stores to an atomic, which is
    // async-signal-safe; the sigaction struct is fully initialised. No
    // SA_RESTART, so a blocking read returns EINTR and the loop sees the flag.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigterm as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = 0;
        libc::sigaction(libc::SIGTERM, &sa, std::ptr::null_mut());
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// Whether SIGTERM or SIGINT arrived.
pub fn terminating() -> bool {
    TERMINATE.load(Ordering::SeqCst)
}

/// Serves until shutdown, SIGTERM, or (stdio) end of input.
pub fn run(opts: Options) -> Result<(), String> {
    install_signals();
    let listener = match &opts.transport {
        Transport::Unix(path) => Some(bind_unix(path)?),
        _ => None,
    };
    let device = match &opts.transport {
        Transport::Device(path) => {
            Some(io::open_device(path).map_err(|e| format!("{}: {e}", path.display()))?)
        }
        _ => None,
    };
    let platform = HostPlatform::new(&Settings {
        file_root: opts.file_root.as_deref(),
        allow_exec: opts.allow_exec,
        allow_set_time: opts.allow_set_time,
        verbose: opts.verbose,
    })?;
    let mut guard = STORAGE.lock().unwrap_or_else(|e| e.into_inner());
    let mut agent = Agent::new(&mut *guard, platform, opts.config);
    if opts.verbose {
        log!("nanoqga-host: serving on {:?}", opts.transport);
    }
    match (listener, device) {
        (Some(l), _) => loop {
            let stream = loop {
                // std's accept() retries on EINTR, so wait in poll(2) first,
                // where a signal shows.
                if !wait_readable(&l) {
                    if terminating() {
                        return Ok(());
                    }
                    continue;
                }
                match l.accept() {
                    Ok((s, _)) => break s,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                        if terminating() {
                            return Ok(());
                        }
                    }
                    Err(e) => return Err(format!("accept: {e}")),
                }
            };
            if opts.verbose {
                log!("nanoqga-host: client connected");
            }
            let mut conn = io::Conn::socket(stream);
            let end = serve(&mut agent, &mut conn, &log_if(opts.verbose));
            agent.reset_connection();
            if opts.verbose {
                log!("nanoqga-host: client left ({end:?})");
            }
            if end != End::ClientLeft {
                return Ok(());
            }
        },
        (None, Some(dev)) => {
            let mut conn = io::Conn::device(dev);
            serve(&mut agent, &mut conn, &log_if(opts.verbose));
            Ok(())
        }
        (None, None) => {
            let mut conn = io::Conn::stdio();
            serve(&mut agent, &mut conn, &log_if(opts.verbose));
            Ok(())
        }
    }
}

/// Blocks until `l` has a connection; false if a signal interrupted.
fn wait_readable(l: &UnixListener) -> bool {
    use std::os::fd::AsRawFd;
    let mut pfd = libc::pollfd {
        fd: l.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, count 1.
    unsafe { libc::poll(&mut pfd, 1, -1) > 0 }
}

fn bind_unix(path: &std::path::Path) -> Result<UnixListener, String> {
    match UnixListener::bind(path) {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            // A live server answers connect(); a stale socket file does not.
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(format!(
                    "{}: socket path in use by another server",
                    path.display()
                ));
            }
            let meta =
                std::fs::symlink_metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
            use std::os::unix::fs::FileTypeExt;
            if !meta.file_type().is_socket() {
                return Err(format!("{}: exists and is not a socket", path.display()));
            }
            std::fs::remove_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
            UnixListener::bind(path).map_err(|e| format!("{}: {e}", path.display()))
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Why serving a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The client closed the channel (a socket or stdio).
    ClientLeft,
    /// `guest-shutdown` asked the process to end.
    Shutdown,
    /// SIGTERM or SIGINT.
    Terminated,
    /// The channel failed (the device went away).
    Error,
}

/// What the serve loop asks of a platform.
pub trait Served: nanoqga::Platform {
    /// Whether `guest-shutdown` asked the serve loop to end.
    fn shutdown_requested(&self) -> bool;
    /// Whether logging must pause (file systems are frozen: a write to the
    /// log could block the agent).
    fn quiet(&self) -> bool {
        false
    }
    /// How soon the platform's own timed work is due (a freeze timeout).
    fn deadline(&self) -> Option<std::time::Duration> {
        None
    }
    /// Does the platform's timed work; true if it thawed the file systems
    /// (the agent is told).
    fn tick(&mut self) -> bool {
        false
    }
}

impl Served for HostPlatform {
    fn shutdown_requested(&self) -> bool {
        HostPlatform::shutdown_requested(self)
    }
}

/// A logger for [`serve`]: lines on stderr with the program's name, or
/// nothing.
pub fn log_if(verbose: bool) -> impl Fn(core::fmt::Arguments<'_>) {
    let name = program_name();
    move |line| {
        if verbose {
            log!("{name}: {line}");
        }
    }
}

/// The running program's name (`nanoqga-host`, `nanoqga-linux`).
fn program_name() -> String {
    std::env::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "nanoqga".into())
}

/// Runs the agent on one channel until the client leaves (a socket or
/// stdio), `guest-shutdown`, a signal or a channel error. A virtio port's
/// host leaving resets the agent and serving goes on for the next host.
/// `log` gets the agent's events and the channel's changes (not while the
/// platform is [`Served::quiet`]).
pub fn serve<P: Served>(
    agent: &mut Agent<'_, P>,
    conn: &mut io::Conn,
    log: &dyn Fn(core::fmt::Arguments<'_>),
) -> End {
    loop {
        if terminating() {
            return End::Terminated;
        }
        let result = agent.poll(conn);
        while let Some(e) = agent.take_event() {
            if !agent.platform().quiet() {
                log(format_args!("{e:?}"));
            }
        }
        if agent.platform().shutdown_requested() {
            return End::Shutdown;
        }
        if agent.platform().tick() {
            log(format_args!("file systems thawed by the freeze timeout"));
            agent.thawed_by_board();
        }
        match result {
            Ok(Poll::Busy) => continue,
            Ok(Poll::Eof) => return End::ClientLeft,
            Ok(Poll::Idle) => {}
            Err(e) if e.would_block => {}
            Err(e) => {
                log(format_args!("channel error: {e:?}"));
                return End::ClientLeft;
            }
        }
        // Idle: wait for output room or input, or until a running
        // program's next step is due.
        let due = match (agent.poll_delay(), agent.platform().deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timeout = match due {
            None => -1,
            // Rounded up: a deadline must not wake the loop early, in a
            // loop of zero-length waits.
            Some(d) => i32::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX),
        };
        let hangup = if agent.has_output() {
            match conn.wait_writable(timeout) {
                io::Ready::Hangup => true,
                io::Ready::Gone => return End::Error,
                _ => false,
            }
        } else {
            match conn.receive(agent.input_space(), timeout) {
                io::Received::Bytes(n) => {
                    agent.input_received(n);
                    false
                }
                io::Received::Nothing => false,
                io::Received::Hangup => true,
                io::Received::Eof => return End::ClientLeft,
                io::Received::Error => return End::Error,
            }
        };
        if hangup {
            log(format_args!("host left the port; waiting for the next"));
            agent.reset_connection();
        }
    }
}
