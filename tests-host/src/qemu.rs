//! Booting board images in QEMU for end-to-end tests.
//!
//! Images are built once per test process with the board's own cargo
//! configuration. Each VM runs in its own temporary directory with its QGA
//! channel (and optionally a QMP monitor) on unix sockets there; QEMU is
//! killed by its own pid when the [`Vm`] drops, and also dies with the test
//! process (`PR_SET_PDEATHSIG`), so no run outlives its test.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::process::{Client, TempDir};

/// Path of the x86_64 system emulator.
pub const QEMU_X86_64: &str = "/usr/bin/qemu-system-x86_64";
/// Path of the aarch64 system emulator.
pub const QEMU_AARCH64: &str = "/usr/bin/qemu-system-aarch64";
/// Path of the riscv64 system emulator.
pub const QEMU_RISCV64: &str = "/usr/bin/qemu-system-riscv64";

/// `-machine virt`: the riscv64 board's machine (QEMU's bundled OpenSBI).
pub const RISCV64_VIRT: &[&str] = &["-machine", "virt"];

/// `-machine virt -cpu cortex-a57`: the aarch64 board's machine.
pub const AARCH64_VIRT: &[&str] = &["-machine", "virt", "-cpu", "cortex-a57"];

/// COM1 on the QGA socket, as Proxmox's `agent: type=isa` wires it.
pub const ISA_SERIAL: &[&str] = &[
    "-chardev",
    "socket,id=qga0,path={QGA},server=on,wait=off",
    "-device",
    "isa-serial,chardev=qga0",
];

/// The virt machines' first UART (aarch64's PL011, riscv64's NS16550A) on
/// the QGA socket.
pub const VIRT_SERIAL: &[&str] = &[
    "-chardev",
    "socket,id=qga0,path={QGA},server=on,wait=off",
    "-serial",
    "chardev:qga0",
];

/// A hand-written QEMU line's agent channel, as users of `qemu-run.sh`
/// and the boards' READMEs type it: the virtio-serial `controller` (its
/// `-device` driver), the port `org.qemu.guest_agent.0` on the QGA
/// socket, and no port id, so QEMU sends no `VSERPORT_CHANGE` events
/// (which, under TCG, also wake its main loop: the case libvirt's ids hide).
pub fn hand_written_channel(controller: &str) -> Vec<String> {
    vec![
        "-device".into(),
        format!("{controller},id=vs0"),
        "-chardev".into(),
        "socket,id=qga0,path={QGA},server=on,wait=off".into(),
        "-device".into(),
        "virtserialport,bus=vs0.0,nr=1,chardev=qga0,name=org.qemu.guest_agent.0".into(),
    ]
}

/// libvirt's device lines for a guest agent channel: the virtio-serial
/// controller (`controller` is its `-device` value), the agent port
/// `org.qemu.guest_agent.0` as `channel0` on the QGA socket, and an
/// unrelated second port `channel1` the agent must ignore.
pub fn libvirt_channel(controller: &str) -> Vec<String> {
    [
        "-device",
        controller,
        "-chardev",
        "socket,id=charchannel0,path={QGA},server=on,wait=off",
        "-device",
        "virtserialport,bus=virtio-serial0.0,nr=1,chardev=charchannel0,id=channel0,name=org.qemu.guest_agent.0",
        "-chardev",
        "socket,id=charchannel1,path={QGA}.other,server=on,wait=off",
        "-device",
        "virtserialport,bus=virtio-serial0.0,nr=2,chardev=charchannel1,id=channel1,name=com.example.other.0",
    ]
    .map(String::from)
    .to_vec()
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

/// Builds a board crate (release) and returns its image path. Builds happen
/// once per process and board.
pub fn build_board(board: &str, target: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<Vec<(String, PathBuf)>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new(Vec::new()));
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = built.iter().find(|(b, _)| b == board) {
        return p.clone();
    }
    let dir = repo_root().join("board").join(board);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--release", "--quiet"])
        .current_dir(&dir)
        // The board's .cargo/config.toml sets its target and flags; nothing
        // from the outer build may override them.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .output()
        .expect("run cargo build for the board");
    assert!(
        out.status.success(),
        "building {board} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let release = dir.join("target").join(target).join("release");
    let mut image = release.join(format!("nanoqga-{board}"));
    if !image.exists() {
        // A UEFI application is a PE image.
        image = release.join(format!("nanoqga-{board}.efi"));
    }
    assert!(image.exists(), "{} missing", image.display());
    built.push((board.to_string(), image.clone()));
    image
}

/// A running VM.
pub struct Vm {
    /// QEMU.
    pub child: Child,
    /// Its directory (sockets live here).
    pub dir: TempDir,
    /// The QGA channel's socket.
    pub qga: PathBuf,
    /// The QMP monitor's socket, if requested.
    pub qmp: Option<PathBuf>,
    /// When QEMU was started.
    pub started: Instant,
}

/// How to start a VM.
pub struct VmConfig<'a> {
    /// The emulator binary.
    pub qemu: &'a str,
    /// Machine arguments (`-machine q35`, `-cpu …`, …).
    pub machine: &'a [&'a str],
    /// The image passed to `-kernel`.
    pub image: &'a Path,
    /// Device arguments; `{QGA}` is replaced by the QGA socket path.
    pub devices: &'a [&'a str],
    /// Whether to add a QMP monitor socket.
    pub qmp: bool,
}

/// How QEMU boots a VM.
pub struct Boot<'a> {
    /// The emulator binary.
    pub qemu: &'a str,
    /// Machine arguments.
    pub machine: &'a [&'a str],
    /// Guest RAM (`-m`).
    pub memory: &'a str,
    /// What it boots (`-kernel IMAGE`, or firmware and drives).
    pub boot: &'a [String],
}

impl Vm {
    /// Starts QEMU.
    pub fn start(cfg: &VmConfig<'_>) -> Vm {
        let boot = ["-kernel".to_string(), cfg.image.display().to_string()];
        Vm::start_in(
            TempDir::new("vm"),
            &Boot {
                qemu: cfg.qemu,
                machine: cfg.machine,
                memory: "128M",
                boot: &boot,
            },
            cfg.devices,
            cfg.qmp,
        )
    }

    /// Starts QEMU in `dir` (which the caller may have filled, e.g. with
    /// a boot volume), booting as `boot` says.
    pub fn start_in(dir: TempDir, boot: &Boot<'_>, devices: &[&str], qmp: bool) -> Vm {
        let qga = dir.path().join("qga.sock");
        let qmp = qmp.then(|| dir.path().join("qmp.sock"));
        let mut cmd = Command::new(boot.qemu);
        cmd.args(boot.machine)
            .args([
                "-m",
                boot.memory,
                "-nodefaults",
                "-display",
                "none",
                "-no-user-config",
            ])
            .args(boot.boot);
        for d in devices {
            cmd.arg(d.replace("{QGA}", qga.to_str().expect("utf-8 path")));
        }
        if boot.qemu == QEMU_X86_64 {
            // The image mirrors its trace to port 0xE9; shown if a test fails.
            cmd.arg("-debugcon")
                .arg(format!("file:{}", dir.path().join("debug.log").display()));
        }
        if let Some(q) = &qmp {
            cmd.arg("-qmp")
                .arg(format!("unix:{},server=on,wait=off", q.display()));
        }
        cmd.current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // SAFETY: prctl in the child between fork and exec; async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let started = Instant::now();
        let child = cmd.spawn().expect("start QEMU");
        Vm {
            child,
            dir,
            qga,
            qmp,
            started,
        }
    }

    /// The guest's trace mirror on the host (x86's debug console), if the
    /// board has one.
    pub fn debug_log(&self) -> Option<PathBuf> {
        let p = self.dir.path().join("debug.log");
        p.exists().then_some(p)
    }

    /// Connects to the QGA channel (waiting up to 20 s for the socket).
    pub fn client(&self) -> Client {
        Client::connect(&self.qga, Duration::from_secs(20))
    }

    /// Waits up to `timeout` for QEMU to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// QEMU's stderr so far (after it exited).
    pub fn stderr(&mut self) -> String {
        use std::io::Read;
        let mut s = String::new();
        if let Some(e) = self.child.stderr.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Ok(log) = std::fs::read_to_string(self.dir.path().join("debug.log"))
        {
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- guest trace (last 40 lines) ---");
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A QMP client: capabilities negotiated, events collected.
pub struct Qmp {
    stream: std::io::BufReader<std::os::unix::net::UnixStream>,
    writer: std::os::unix::net::UnixStream,
    /// Events seen so far.
    pub events: Vec<serde_json::Value>,
}

impl Qmp {
    /// Connects and negotiates.
    pub fn connect(path: &Path) -> Qmp {
        let end = Instant::now() + Duration::from_secs(20);
        let s = loop {
            match std::os::unix::net::UnixStream::connect(path) {
                Ok(s) => break s,
                Err(_) if Instant::now() < end => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => panic!("QMP connect: {e}"),
            }
        };
        s.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut q = Qmp {
            writer: s.try_clone().expect("clone"),
            stream: std::io::BufReader::new(s),
            events: Vec::new(),
        };
        let greeting = q.line();
        assert!(greeting.get("QMP").is_some(), "QMP greeting: {greeting}");
        q.command(r#"{"execute":"qmp_capabilities"}"#);
        q
    }

    fn line(&mut self) -> serde_json::Value {
        use std::io::BufRead;
        let mut l = String::new();
        self.stream.read_line(&mut l).expect("QMP read");
        serde_json::from_str(&l).unwrap_or_else(|e| panic!("QMP line {l:?}: {e}"))
    }

    /// Runs a command and returns its `return`, collecting events meanwhile.
    pub fn command(&mut self, json: &str) -> serde_json::Value {
        use std::io::Write;
        self.writer.write_all(json.as_bytes()).expect("QMP write");
        loop {
            let v = self.line();
            if v.get("event").is_some() {
                self.events.push(v);
                continue;
            }
            return v
                .get("return")
                .cloned()
                .unwrap_or_else(|| panic!("QMP {json}: {v}"));
        }
    }

    /// Waits for an event satisfying `pred` (checking those already seen).
    pub fn wait_event(
        &mut self,
        pred: impl Fn(&serde_json::Value) -> bool,
        timeout: Duration,
    ) -> serde_json::Value {
        if let Some(e) = self.events.iter().find(|e| pred(e)) {
            return e.clone();
        }
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            let v = self.line();
            if v.get("event").is_some() {
                self.events.push(v.clone());
                if pred(&v) {
                    return v;
                }
            }
        }
        panic!("QMP event not seen; events: {:?}", self.events);
    }
}
