//! `nanoqga-linux`: the QEMU guest agent for Linux guests, as one static
//! binary (musl), a drop-in for qemu-ga in initramfs systems and minimal
//! distributions.
//!
//! Contract:
//! * With no arguments it serves the virtio-serial port named
//!   `org.qemu.guest_agent.0`, found through sysfs with no udev (see
//!   [`port`]), waiting for it to appear and finding it again if it goes
//!   away. `--device PATH` serves a tty instead (ttyS0–3 for Proxmox's
//!   `type=isa`, hvc0) or any port by its device node.
//! * It does what qemu-ga does in the guest, itself: power, the clock and
//!   the RTC, freeze and trim, suspend, processors and memory blocks,
//!   passwords and ssh keys, real programs, the guest's files (see
//!   [`guest`]). Nothing changes the guest but a client's request.
//! * SIGTERM or SIGINT ends it with status 0; bad flags print one line and
//!   exit 2.

mod accounts;
mod freeze;
mod guest;
mod port;
mod rtc;

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use nanoqga::{Agent, AgentConfig};
use nanoqga_host::{End, HostStorage, io, log_if, serve, terminating};

use crate::guest::GuestPlatform;

const USAGE: &str = "\
Usage: nanoqga-linux [OPTIONS]

The QEMU guest agent for this Linux guest (qemu-ga's commands, qemu-ga 7.2
wire behaviour). With no --device it serves the virtio-serial port named
org.qemu.guest_agent.0, waiting for it to appear.

Options:
  -d, --device PATH        serve this device instead (a tty such as /dev/ttyS0
                           for Proxmox's type=isa, /dev/hvc0, or a virtio port)
  -b, --block-rpcs LIST    comma-separated commands to disable
  -a, --allow-rpcs LIST    comma-separated commands to enable (all others disabled)
      --fsfreeze-timeout S thaw a freeze by itself after S seconds (default: never)
  -v, --verbose            log to stderr (paused while file systems are frozen)
  -V, --version            print the version
  -h, --help               print this help
";

/// Parsed command line.
struct Options {
    device: Option<PathBuf>,
    config: AgentConfig<GuestPlatform>,
    freeze_timeout: Option<Duration>,
    verbose: bool,
}

fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Options, (String, i32)> {
    let mut args = args.into_iter();
    let mut opts = Options {
        device: None,
        config: AgentConfig::default(),
        freeze_timeout: None,
        verbose: false,
    };
    let mut blocked = String::new();
    let mut allowed: Option<String> = None;
    fn usage<T>(m: String) -> Result<T, (String, i32)> {
        Err((
            format!("nanoqga-linux: {m}\nTry 'nanoqga-linux --help'."),
            2,
        ))
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
        match flag.as_str() {
            "-d" | "--device" | "-p" | "--path" => opts.device = Some(value("--device")?.into()),
            "-b" | "--block-rpcs" | "--blacklist" => {
                blocked.push(',');
                blocked.push_str(&value("--block-rpcs")?);
            }
            "-a" | "--allow-rpcs" => {
                let a = allowed.get_or_insert_with(String::new);
                a.push(',');
                a.push_str(&value("--allow-rpcs")?);
            }
            "--fsfreeze-timeout" => {
                let v = value("--fsfreeze-timeout")?;
                match v.parse::<u64>() {
                    Ok(s) if s > 0 => opts.freeze_timeout = Some(Duration::from_secs(s)),
                    _ => return usage(format!("--fsfreeze-timeout '{v}': give whole seconds")),
                }
            }
            "-v" | "--verbose" => opts.verbose = true,
            "-V" | "--version" => {
                return Err((
                    format!(
                        "nanoqga-linux {} (qemu-ga {} wire protocol)",
                        env!("CARGO_PKG_VERSION"),
                        AgentConfig::<GuestPlatform>::default().version
                    ),
                    0,
                ));
            }
            "-h" | "--help" => return Err((USAGE.trim_end().to_string(), 0)),
            other => return usage(format!("unknown option '{other}'")),
        }
    }
    let _ = opts.config.block(&blocked);
    if let Some(a) = allowed {
        let _ = opts.config.allow(&a);
    }
    Ok(opts)
}

/// The agent's storage: the host build's capacities, in a static that is
/// only touched as it is used.
static STORAGE: Mutex<HostStorage> = Mutex::new(nanoqga::Storage::new());

fn run(opts: Options) -> Result<(), String> {
    nanoqga_host::install_signals();
    let log = log_if(opts.verbose);
    let platform = GuestPlatform::new(opts.verbose, opts.freeze_timeout)?;
    let mut guard = STORAGE.lock().unwrap_or_else(|e| e.into_inner());
    let mut agent = Agent::new(&mut *guard, platform, opts.config);
    loop {
        let path = match &opts.device {
            Some(p) => p.clone(),
            None => match port::wait_for_port(port::AGENT_PORT, &terminating) {
                Some(p) => p,
                None => return Ok(()),
            },
        };
        let file = match io::open_device(&path) {
            Ok(f) => f,
            Err(e) if opts.device.is_some() => return Err(format!("{}: {e}", path.display())),
            Err(e) => {
                // The port went away between finding and opening it.
                log(format_args!("{}: {e}; looking again", path.display()));
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        log(format_args!("serving {}", path.display()));
        let mut conn = io::Conn::device(file);
        let end = serve(&mut agent, &mut conn, &log);
        agent.reset_connection();
        match end {
            End::Terminated | End::Shutdown => return Ok(()),
            End::ClientLeft | End::Error if opts.device.is_none() => {
                log(format_args!(
                    "{} went away; looking for the port again",
                    path.display()
                ));
            }
            End::ClientLeft | End::Error => {
                return Err(format!("{}: the device failed", path.display()));
            }
        }
    }
}

fn main() {
    let code = match parse_args(std::env::args_os().skip(1)) {
        Ok(opts) => match run(opts) {
            Ok(()) => 0,
            Err(msg) => {
                use std::io::Write as _;
                let _ = writeln!(std::io::stderr(), "nanoqga-linux: {msg}");
                1
            }
        },
        Err((msg, code)) => {
            use std::io::Write as _;
            if code == 0 {
                let _ = writeln!(std::io::stdout(), "{msg}");
            } else {
                let _ = writeln!(std::io::stderr(), "{msg}");
            }
            code
        }
    };
    std::process::exit(code);
}
