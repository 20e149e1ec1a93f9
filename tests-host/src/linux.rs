//! Minimal Linux guests for end-to-end tests and benchmarks: Debian's
//! kernel, busybox, and an agent (nanoqga-linux or qemu-ga) in an
//! initramfs built here (`../shared/design/linux-guest.md` has the facts).
//!
//! Contract:
//! * [`kernel`] fetches the kernel package `linux-image-amd64` points at
//!   with `apt-get download` and unpacks it with `dpkg-deb -x` (never
//!   installs it), once, under the workspace's `target/linux-guest`.
//! * [`initramfs`] writes a `newc` cpio archive: busybox (applets as
//!   symlinks), the virtio modules in dependency order (read from each
//!   module's `.modinfo`; the package has no `modules.dep`), users in
//!   `/etc/passwd` and `/etc/shadow`, and an `/init` that mounts the
//!   pseudo file systems, loads the modules, mounts a data disk if there is
//!   one, and `exec`s the agent.
//! * Missing tools (apt-get, dpkg-deb, busybox, mkfs.ext4) are reported by
//!   [`crate::require_tool`]: a failure in CI, a skip with one line
//!   elsewhere.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use crate::qemu::repo_root;

/// Modules the guest loads (their dependencies are added first).
const MODULES: &[&str] = &[
    "virtio_pci",
    "virtio_console",
    "virtio_blk",
    "crc32c_generic",
    "ext4",
];

/// Busybox applets the guest gets as symlinks (programs for `guest-exec`,
/// and what `/init` uses).
const APPLETS: &[&str] = &[
    "sh", "mount", "umount", "insmod", "mkdir", "ln", "cat", "echo", "false", "true", "sleep",
    "touch", "dd", "ls", "hostname", "sync", "rm", "printf", "head", "wc", "env", "id", "date",
    "hwclock", "poweroff", "uptime", "mknod", "sed", "ip", "kill",
];

/// Where downloads and builds are kept between runs.
fn cache_dir() -> PathBuf {
    let d = repo_root().join("target").join("linux-guest");
    let _ = std::fs::create_dir_all(&d);
    d
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The unpacked kernel package: its root directory (with `boot/vmlinuz-*`
/// and `lib/modules/*`). `None` (after one line) when the tools are
/// missing outside CI.
pub fn kernel() -> Option<PathBuf> {
    static DONE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    for (tool, pkg) in [("/usr/bin/apt-get", "apt"), ("/usr/bin/dpkg-deb", "dpkg")] {
        if !crate::require_tool(tool, &format!("apt-get install -y {pkg}")) {
            return None;
        }
    }
    let r = DONE.get_or_init(|| {
        let dir = cache_dir();
        let root = dir.join("kernel");
        if root.join("boot").is_dir() {
            return Ok(root);
        }
        let deps = run(Command::new("apt-cache").args(["depends", "linux-image-amd64"]))?;
        let pkg = deps
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Depends: "))
            .find(|p| p.starts_with("linux-image-"))
            .ok_or_else(|| format!("no kernel package in {deps}"))?
            .to_string();
        run(Command::new("apt-get")
            .args(["download", "-q", &pkg])
            .current_dir(&dir))?;
        let deb = std::fs::read_dir(&dir)
            .map_err(|e| e.to_string())?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "deb"))
            .ok_or("apt-get download left no .deb")?;
        let tmp = dir.join("kernel.tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tmp))?;
        std::fs::rename(&tmp, &root).map_err(|e| e.to_string())?;
        let _ = std::fs::remove_file(&deb);
        Ok(root)
    });
    match r {
        Ok(p) => Some(p.clone()),
        Err(e) => panic!("kernel package: {e}"),
    }
}

/// The kernel image (`boot/vmlinuz-*`) of the unpacked package.
pub fn vmlinuz(root: &Path) -> PathBuf {
    std::fs::read_dir(root.join("boot"))
        .expect("boot dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
        .expect("vmlinuz")
}

/// The `depends=` modules of a `.ko` (from its `.modinfo` section).
fn depends(ko: &Path) -> Vec<String> {
    use object::{Object, ObjectSection};
    let data = std::fs::read(ko).expect("read module");
    let file = object::File::parse(&*data).expect("module ELF");
    let Some(info) = file.section_by_name(".modinfo") else {
        return Vec::new();
    };
    let bytes = info.data().unwrap_or(&[]);
    bytes
        .split(|&b| b == 0)
        .filter_map(|kv| std::str::from_utf8(kv).ok()?.strip_prefix("depends="))
        .flat_map(|d| d.split(','))
        .filter(|d| !d.is_empty())
        .map(|d| d.replace('-', "_"))
        .collect()
}

/// The modules to load, dependencies first, as (name, path).
fn module_order(root: &Path) -> Vec<(String, PathBuf)> {
    let mut by_name = BTreeMap::new();
    let mut stack = vec![root.join("lib/modules")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Some(n) = p
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".ko"))
            {
                by_name.insert(n.replace('-', "_"), p);
            }
        }
    }
    let mut order: Vec<(String, PathBuf)> = Vec::new();
    fn visit(
        name: &str,
        by_name: &BTreeMap<String, PathBuf>,
        order: &mut Vec<(String, PathBuf)>,
        depth: u32,
    ) {
        assert!(depth < 64, "module dependency loop at {name}");
        if order.iter().any(|(n, _)| n == name) {
            return;
        }
        // Not a module: built into the kernel.
        let Some(path) = by_name.get(name) else {
            return;
        };
        for d in depends(path) {
            visit(&d, by_name, order, depth + 1);
        }
        order.push((name.to_string(), path.clone()));
    }
    for m in MODULES {
        visit(m, &by_name, &mut order, 0);
    }
    order
}

/// A `newc` cpio archive being written.
struct Cpio {
    out: Vec<u8>,
    ino: u32,
}

impl Cpio {
    fn entry(&mut self, name: &str, mode: u32, data: &[u8], rdev: (u32, u32)) {
        self.ino += 1;
        let header = format!(
            "070701{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}",
            self.ino,
            mode,
            0,
            0,
            1,
            0,
            data.len(),
            0,
            0,
            rdev.0,
            rdev.1,
            name.len() + 1,
            0
        );
        self.out.extend_from_slice(header.as_bytes());
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
        self.out.extend_from_slice(data);
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }
    fn dir(&mut self, name: &str) {
        self.entry(name, 0o040755, &[], (0, 0));
    }
    fn file(&mut self, name: &str, mode: u32, data: &[u8]) {
        self.entry(name, 0o100000 | mode, data, (0, 0));
    }
    fn symlink(&mut self, name: &str, target: &str) {
        self.entry(name, 0o120777, target.as_bytes(), (0, 0));
    }
    fn chardev(&mut self, name: &str, major: u32, minor: u32) {
        self.entry(name, 0o020600, &[], (major, minor));
    }
    fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, &[], (0, 0));
        self.out
    }
}

/// The agent a guest runs.
#[derive(Clone, Debug)]
pub enum Agent {
    /// `nanoqga-linux` with these arguments.
    Nanoqga(Vec<String>),
    /// Debian's qemu-ga with its libraries, on the virtio port (through the
    /// `/dev/virtio-ports` link udev would make, which `/init` makes).
    QemuGa,
}

/// The static x86_64 `nanoqga-linux` (built once per process).
pub fn nanoqga_linux() -> PathBuf {
    static BUILT: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut b = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = b.as_ref() {
        return p.clone();
    }
    let p = build_nanoqga_linux("x86_64-unknown-linux-musl");
    *b = Some(p.clone());
    p
}

/// `path` with its debug information and symbols removed (what a guest
/// ships), in the cache: `rust-objcopy --strip-all` from the toolchain,
/// which handles every target's ELF.
pub fn stripped(path: &Path) -> PathBuf {
    let out = cache_dir().join(format!(
        "{}-{}.stripped",
        path.parent()
            .and_then(|p| p.parent())
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let sysroot = run(Command::new("rustc").args(["--print", "sysroot"])).expect("rustc");
    let host = run(Command::new("rustc").args(["--print", "host-tuple"]))
        .unwrap_or_else(|_| "x86_64-unknown-linux-gnu".into());
    let objcopy = Path::new(sysroot.trim())
        .join("lib/rustlib")
        .join(host.trim())
        .join("bin/rust-objcopy");
    run(Command::new(objcopy).arg("--strip-all").arg(path).arg(&out)).expect("rust-objcopy");
    out
}

/// Builds `nanoqga-linux` for `target` (release, static musl).
pub fn build_nanoqga_linux(target: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "nanoqga-linux",
            "--target",
            target,
        ])
        .current_dir(repo_root())
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET"))
    .unwrap_or_else(|e| {
        panic!("building nanoqga-linux ({target}; rustup target add {target}): {e}")
    });
    repo_root().join(format!("target/{target}/release/nanoqga-linux"))
}

/// The shared libraries `bin` loads (`ldd`), with the dynamic loader.
fn libraries(bin: &Path) -> Vec<PathBuf> {
    let out = run(Command::new("ldd").arg(bin)).expect("ldd");
    out.lines()
        .filter_map(|l| {
            let l = l.trim();
            let p = match l.split_once("=>") {
                Some((_, r)) => r.trim().split(' ').next()?,
                None => l.split(' ').next()?,
            };
            p.starts_with('/').then(|| PathBuf::from(p))
        })
        .collect()
}

/// Writes the guest's initramfs to `out`: see the module documentation.
/// `disk` says whether `/init` waits for `/dev/vda` and mounts it on
/// `/mnt/data`.
pub fn initramfs(kernel: &Path, agent: &Agent, disk: bool, out: &Path) {
    let mut c = Cpio {
        out: Vec::new(),
        ino: 0,
    };
    for d in [
        "bin",
        "sbin",
        "dev",
        "proc",
        "sys",
        "tmp",
        "run",
        "etc",
        "lib",
        "lib64",
        "usr",
        "usr/bin",
        "usr/sbin",
        "lib/modules",
        "mnt",
        "mnt/data",
        "root",
        "home",
        "home/alice",
        "var",
    ] {
        c.dir(d);
    }
    c.symlink("var/run", "/run");
    c.chardev("dev/console", 5, 1);
    let busybox = std::fs::read("/bin/busybox").expect("busybox");
    c.file("bin/busybox", 0o755, &busybox);
    for a in APPLETS {
        c.symlink(&format!("bin/{a}"), "busybox");
    }
    let mut order = String::new();
    for (name, path) in module_order(kernel) {
        let data = std::fs::read(&path).expect("module");
        c.file(&format!("lib/modules/{name}.ko"), 0o644, &data);
        order.push_str(&name);
        order.push('\n');
    }
    c.file("etc/modules.order", 0o644, order.as_bytes());
    c.file(
        "etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\n",
    );
    c.file("etc/group", 0o644, b"root:x:0:\nalice:x:1000:\n");
    c.file(
        "etc/shadow",
        0o640,
        b"root:*:19000:0:99999:7:::\nalice:!:19000:0:99999:7:::\n",
    );
    c.file(
        "etc/os-release",
        0o644,
        b"ID=nanoqga-test\nNAME=\"nanoqga test guest\"\nVERSION_ID=1\nPRETTY_NAME=\"nanoqga test guest 1\"\n",
    );
    let start = match agent {
        Agent::Nanoqga(args) => {
            let bin = std::fs::read(stripped(&nanoqga_linux())).expect("agent");
            c.file("usr/bin/nanoqga-linux", 0o755, &bin);
            format!("exec /usr/bin/nanoqga-linux {}", args.join(" "))
        }
        Agent::QemuGa => {
            let bin = Path::new("/usr/sbin/qemu-ga");
            c.file(
                "usr/sbin/qemu-ga",
                0o755,
                &std::fs::read(bin).expect("qemu-ga"),
            );
            for lib in libraries(bin) {
                let name = lib.to_string_lossy().trim_start_matches('/').to_string();
                let parent = Path::new(&name)
                    .parent()
                    .map(|p| p.to_string_lossy().into_owned());
                if let Some(p) = parent
                    && p != "lib"
                    && p != "lib64"
                {
                    // The library's own directory (lib/x86_64-linux-gnu).
                    c.dir(&p);
                }
                let real = std::fs::canonicalize(&lib).unwrap_or(lib.clone());
                c.file(&name, 0o755, &std::fs::read(real).expect("library"));
            }
            r#"mkdir -p /dev/virtio-ports
i=0
while [ ! -e /dev/virtio-ports/org.qemu.guest_agent.0 ] && [ $i -lt 200 ]; do
  for d in /sys/class/virtio-ports/*; do
    n=$(cat $d/name 2>/dev/null)
    [ -n "$n" ] && ln -sf /dev/${d##*/} /dev/virtio-ports/$n
  done
  sleep 0.05; i=$((i+1))
done
exec /usr/sbin/qemu-ga -m virtio-serial -p /dev/virtio-ports/org.qemu.guest_agent.0 -t /run"#
                .to_string()
        }
    };
    let wait_disk = if disk {
        r#"i=0
while [ ! -e /dev/vda ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
mount -t ext4 /dev/vda /mnt/data"#
    } else {
        ""
    };
    let init = format!(
        r#"#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
for m in $(cat /etc/modules.order); do insmod /lib/modules/$m.ko; done
hostname nanoqga-guest
ip link set lo up
{wait_disk}
{start}
"#
    );
    c.file("init", 0o755, init.as_bytes());
    let mut f = std::fs::File::create(out).expect("initramfs");
    f.write_all(&c.finish()).expect("write initramfs");
}

/// A 64 MiB ext4 image for the guest's data disk, at `path`.
pub fn ext4_image(path: &Path) -> Option<()> {
    if !crate::require_tool("/usr/sbin/mkfs.ext4", "apt-get install -y e2fsprogs") {
        return None;
    }
    let f = std::fs::File::create(path).expect("image");
    f.set_len(64 << 20).expect("size image");
    run(Command::new("/usr/sbin/mkfs.ext4")
        .args(["-F", "-q"])
        .arg(path))
    .expect("mkfs.ext4");
    Some(())
}

/// How the agent's channel is wired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wiring {
    /// libvirt's: a virtio-serial-pci controller, the agent port
    /// `org.qemu.guest_agent.0` (nr 1) and an unrelated second port; the
    /// console on ttyS0.
    Virtio,
    /// Proxmox's `type=isa`: the agent on ttyS0 (`isa-serial`), the
    /// console moved to ttyS1.
    Ttys0,
}

/// A Linux guest booted in QEMU, and its files.
pub struct Guest {
    /// The VM (its QGA socket is `vm.qga`).
    pub vm: crate::qemu::Vm,
    /// The initramfs.
    pub initrd: PathBuf,
    /// The console's output.
    pub console: PathBuf,
    /// Where the initramfs, the disk image and the console log live.
    _files: crate::process::TempDir,
}

impl Guest {
    /// What the guest's console printed so far.
    pub fn console(&self) -> String {
        std::fs::read_to_string(&self.console).unwrap_or_default()
    }
}

/// Boots a guest with `agent` on `wiring`, with an ext4 data disk (serial
/// `NANOQGA-DATA`) when `disk`. `None` when tools are missing outside CI.
pub fn boot(agent: &Agent, wiring: Wiring, disk: bool, qmp: bool) -> Option<Guest> {
    if !crate::require_tool(
        crate::qemu::QEMU_X86_64,
        "apt-get install -y --no-install-recommends qemu-system-x86",
    ) || !crate::require_tool("/bin/busybox", "apt-get install -y busybox-static")
    {
        return None;
    }
    let root = kernel()?;
    let files = crate::process::TempDir::new("linux");
    let initrd = files.path().join("initrd.cpio");
    initramfs(&root, agent, disk, &initrd);
    let console = files.path().join("console.log");
    let image = files.path().join("data.img");
    if disk {
        ext4_image(&image)?;
    }
    let kernel_image = vmlinuz(&root);
    let append = match wiring {
        Wiring::Virtio => "quiet panic=-1 console=ttyS0",
        Wiring::Ttys0 => "quiet panic=-1 console=ttyS1",
    };
    let mut machine: Vec<String> = [
        "-machine",
        "q35",
        "-accel",
        "tcg",
        "-m",
        "256M",
        "-no-reboot",
        "-initrd",
    ]
    .map(String::from)
    .to_vec();
    machine.push(initrd.display().to_string());
    machine.push("-append".into());
    machine.push(append.into());
    let mut devices: Vec<String> = Vec::new();
    let con = format!("file,id=con0,path={}", console.display());
    match wiring {
        Wiring::Virtio => {
            devices.extend([
                "-chardev".into(),
                con,
                "-device".into(),
                "isa-serial,chardev=con0".into(),
            ]);
            devices.extend(crate::qemu::libvirt_channel(
                "virtio-serial-pci,id=virtio-serial0",
            ));
        }
        Wiring::Ttys0 => {
            devices.extend(crate::qemu::ISA_SERIAL.iter().map(|s| s.to_string()));
            devices.extend([
                "-chardev".into(),
                con,
                "-device".into(),
                "isa-serial,chardev=con0".into(),
            ]);
        }
    }
    if disk {
        devices.extend([
            "-drive".into(),
            format!("file={},if=none,id=d0,format=raw", image.display()),
            "-device".into(),
            "virtio-blk-pci,drive=d0,serial=NANOQGA-DATA".into(),
        ]);
    }
    let m: Vec<&str> = machine.iter().map(String::as_str).collect();
    let d: Vec<&str> = devices.iter().map(String::as_str).collect();
    let vm = crate::qemu::Vm::start(&crate::qemu::VmConfig {
        qemu: crate::qemu::QEMU_X86_64,
        machine: &m,
        image: &kernel_image,
        devices: &d,
        qmp,
    });
    Some(Guest {
        vm,
        initrd,
        console,
        _files: files,
    })
}

fn ok(c: &mut crate::process::Client, json: &str) -> serde_json::Value {
    let r = c.call(json);
    match r.get("return") {
        Some(v) => v.clone(),
        None => panic!("{json}: {r}"),
    }
}

fn err(c: &mut crate::process::Client, json: &str) -> String {
    let r = c.call(json);
    r["error"]["desc"]
        .as_str()
        .unwrap_or_else(|| panic!("{json}: expected an error, got {r}"))
        .to_string()
}

fn host_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Runs `path` with `args` (and `input`) to completion: the status.
pub fn exec(
    c: &mut crate::process::Client,
    path: &str,
    args: &[&str],
    input: Option<&[u8]>,
) -> serde_json::Value {
    let mut a = serde_json::json!({"path": path, "arg": args, "capture-output": true});
    if let Some(i) = input {
        a["input-data"] = serde_json::Value::String(crate::b64encode(i));
    }
    exec_with(c, &a)
}

/// Runs `guest-exec` with the arguments `a` (a JSON object) and waits for
/// its status (polling every 50 ms, at most 30 s).
pub fn exec_with(c: &mut crate::process::Client, a: &serde_json::Value) -> serde_json::Value {
    let pid = ok(c, &format!(r#"{{"execute":"guest-exec","arguments":{a}}}"#))["pid"]
        .as_i64()
        .expect("pid");
    wait_exited(c, pid).unwrap_or_else(|| panic!("{a} did not finish"))
}

/// Polls `guest-exec-status` of `pid` every 50 ms until it has exited (at
/// most 30 s); its status, or `None`.
fn wait_exited(c: &mut crate::process::Client, pid: i64) -> Option<serde_json::Value> {
    for _ in 0..600 {
        let s = ok(
            c,
            &format!(r#"{{"execute":"guest-exec-status","arguments":{{"pid":{pid}}}}}"#),
        );
        if s["exited"] == true {
            return Some(s);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    None
}

/// Stdout of an exit status, as text.
pub fn out(s: &serde_json::Value) -> String {
    String::from_utf8_lossy(&crate::b64decode(s["out-data"].as_str().unwrap_or(""))).into_owned()
}

/// A guest file's contents, read through the agent.
pub fn read_file(c: &mut crate::process::Client, path: &str) -> Vec<u8> {
    let h = ok(
        c,
        &format!(r#"{{"execute":"guest-file-open","arguments":{{"path":"{path}"}}}}"#),
    )
    .as_i64()
    .expect("handle");
    let r = ok(
        c,
        &format!(r#"{{"execute":"guest-file-read","arguments":{{"handle":{h},"count":1048576}}}}"#),
    );
    ok(
        c,
        &format!(r#"{{"execute":"guest-file-close","arguments":{{"handle":{h}}}}}"#),
    );
    crate::b64decode(r["buf-b64"].as_str().expect("data"))
}

/// What every nanoqga-linux guest must do, whatever the channel: the
/// envelope and `guest-info`, the clock and the RTC, real files, real
/// programs (busybox applets) with input, capture, exit codes and signals,
/// the guest's information, accounts, processors and memory blocks, and a
/// client that writes its requests in two bursts.
pub fn suite(c: &mut crate::process::Client) {
    use serde_json::json;
    assert_eq!(
        ok(c, r#"{"execute":"guest-sync","arguments":{"id":77}}"#),
        77
    );
    let info = ok(c, r#"{"execute":"guest-info"}"#);
    assert_eq!(info["version"], "7.2.0");
    let enabled: Vec<&str> = info["supported_commands"]
        .as_array()
        .expect("commands")
        .iter()
        .filter(|c| c["enabled"] == true)
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(enabled.len(), nanoqga::commands::ALL_COUNT);
    // What KubeVirt requires before it calls an agent supported.
    for k in [
        "guest-ping",
        "guest-get-time",
        "guest-info",
        "guest-shutdown",
        "guest-network-get-interfaces",
        "guest-get-fsinfo",
        "guest-get-host-name",
        "guest-get-users",
        "guest-get-timezone",
        "guest-get-osinfo",
    ] {
        assert!(enabled.contains(&k), "{k}");
    }

    // The clock, and the RTC behind it.
    let t = ok(c, r#"{"execute":"guest-get-time"}"#)
        .as_i64()
        .expect("time");
    assert!(
        (t - host_ns()).abs() < 3_000_000_000,
        "guest clock off by {} ms",
        (t - host_ns()) / 1_000_000
    );
    let target = host_ns() + 86_400 * 1_000_000_000;
    ok(
        c,
        &format!(r#"{{"execute":"guest-set-time","arguments":{{"time":{target}}}}}"#),
    );
    let t = ok(c, r#"{"execute":"guest-get-time"}"#)
        .as_i64()
        .expect("time");
    assert!(
        (t - target).abs() < 3_000_000_000,
        "after set-time: off by {} ms",
        (t - target) / 1_000_000
    );
    let rtc: i64 = String::from_utf8_lossy(&read_file(c, "/sys/class/rtc/rtc0/since_epoch"))
        .trim()
        .parse()
        .expect("rtc seconds");
    assert!(
        (rtc - target / 1_000_000_000).abs() <= 3,
        "RTC at {rtc}, set {target}"
    );
    // From the RTC (what `virsh domtime --sync` sends).
    ok(c, r#"{"execute":"guest-set-time"}"#);
    let t = ok(c, r#"{"execute":"guest-get-time"}"#)
        .as_i64()
        .expect("time");
    assert!(
        (t - target).abs() < 4_000_000_000,
        "from the RTC: off by {} ms",
        (t - target) / 1_000_000
    );
    ok(
        c,
        &format!(
            r#"{{"execute":"guest-set-time","arguments":{{"time":{}}}}}"#,
            host_ns()
        ),
    );

    // The guest's own files.
    assert!(String::from_utf8_lossy(&read_file(c, "/etc/passwd")).contains("alice:x:1000"));
    let data: Vec<u8> = (0..5000u32).map(|i| (i * 13 + 1) as u8).collect();
    let h = ok(
        c,
        r#"{"execute":"guest-file-open","arguments":{"path":"/tmp/agent.bin","mode":"w+"}}"#,
    )
    .as_i64()
    .expect("handle");
    ok(
        c,
        &format!(
            r#"{{"execute":"guest-file-write","arguments":{{"handle":{h},"buf-b64":"{}"}}}}"#,
            crate::b64encode(&data)
        ),
    );
    ok(
        c,
        &format!(r#"{{"execute":"guest-file-close","arguments":{{"handle":{h}}}}}"#),
    );
    assert_eq!(read_file(c, "/tmp/agent.bin"), data);
    assert_eq!(
        err(
            c,
            r#"{"execute":"guest-file-open","arguments":{"path":"/no/such/file"}}"#
        ),
        "failed to open file '/no/such/file' (mode: 'r'): No such file or directory"
    );

    // Real programs: busybox applets, no shell in between.
    let s = exec(c, "/bin/echo", &["-n", "hi", "there"], None);
    assert_eq!(
        (out(&s).as_str(), s["exitcode"].as_i64()),
        ("hi there", Some(0))
    );
    let s = exec(c, "/bin/cat", &[], Some(b"from input-data\n"));
    assert_eq!(out(&s), "from input-data\n");
    let s = exec(c, "/bin/ls", &["/no/such"], None);
    assert_ne!(s["exitcode"], 0);
    assert!(
        String::from_utf8_lossy(&crate::b64decode(s["err-data"].as_str().unwrap_or("")))
            .contains("No such file"),
        "{s}"
    );
    assert_eq!(exec(c, "/bin/false", &[], None)["exitcode"], 1);
    let s = exec(c, "/bin/sh", &["-c", "kill -9 $$"], None);
    assert_eq!(s["signal"], 9, "{s}");
    let env = json!({"path": "/bin/env", "env": ["ONLY=1"], "capture-output": true});
    let s = exec_with(c, &env);
    assert_eq!(out(&s), "ONLY=1\n");
    let merged = json!({"path": "/bin/sh", "arg": ["-c", "echo out; echo err >&2"], "capture-output": "merged"});
    let s = exec_with(c, &merged);
    assert_eq!(out(&s), "out\nerr\n", "{s}");
    assert!(
        err(
            c,
            r#"{"execute":"guest-exec","arguments":{"path":"/no/such/program"}}"#
        )
        .contains("No such file or directory")
    );

    // The guest, as it is.
    assert_eq!(
        ok(c, r#"{"execute":"guest-get-host-name"}"#)["host-name"],
        "nanoqga-guest"
    );
    let os = ok(c, r#"{"execute":"guest-get-osinfo"}"#);
    assert_eq!(
        (os["id"].as_str(), os["machine"].as_str()),
        (Some("nanoqga-test"), Some("x86_64"))
    );
    assert!(
        os["kernel-release"]
            .as_str()
            .is_some_and(|k| k.starts_with("6.")),
        "{os}"
    );
    assert_eq!(ok(c, r#"{"execute":"guest-get-users"}"#), json!([]));
    assert!(ok(c, r#"{"execute":"guest-get-timezone"}"#)["offset"].is_i64());
    let lo = ok(c, r#"{"execute":"guest-network-get-interfaces"}"#);
    assert!(
        lo.as_array()
            .expect("interfaces")
            .iter()
            .any(|i| i["name"] == "lo"
                && i["ip-addresses"].as_array().is_some_and(|a| a
                    .iter()
                    .any(|a| a["ip-address"] == "127.0.0.1" && a["prefix"] == 8))),
        "{lo}"
    );
    assert!(ok(c, r#"{"execute":"guest-network-get-route"}"#).is_array());
    assert!(
        !ok(c, r#"{"execute":"guest-get-vcpus"}"#)
            .as_array()
            .expect("vcpus")
            .is_empty()
    );
    assert!(
        !ok(c, r#"{"execute":"guest-get-cpustats"}"#)
            .as_array()
            .expect("cpustats")
            .is_empty()
    );
    assert!(ok(c, r#"{"execute":"guest-get-load"}"#)["load1m"].is_number());
    assert!(
        ok(c, r#"{"execute":"guest-get-memory-block-info"}"#)["size"]
            .as_u64()
            .unwrap_or(0)
            > 0
    );
    assert!(
        !ok(c, r#"{"execute":"guest-get-memory-blocks"}"#)
            .as_array()
            .expect("blocks")
            .is_empty()
    );
    let r = ok(
        c,
        r#"{"execute":"guest-set-memory-blocks","arguments":{"mem-blks":[{"phys-index":999999,"online":true}]}}"#,
    );
    assert_eq!(r[0]["response"], "not-found", "{r}");
    assert_eq!(
        err(
            c,
            r#"{"execute":"guest-set-vcpus","arguments":{"vcpus":[{"logical-id":0,"online":false}]}}"#
        ),
        "logical processor #0 can't be offlined"
    );
    assert_eq!(
        ok(
            c,
            r#"{"execute":"guest-set-vcpus","arguments":{"vcpus":[{"logical-id":0,"online":true}]}}"#
        ),
        1
    );

    // Accounts.
    ok(
        c,
        r#"{"execute":"guest-set-user-password","arguments":{"username":"alice","password":"c2VjcmV0","crypted":false}}"#,
    );
    let shadow = String::from_utf8_lossy(&read_file(c, "/etc/shadow")).into_owned();
    assert!(shadow.contains("alice:$6$"), "{shadow}");
    assert!(shadow.contains("root:*:19000:"), "{shadow}");
    ok(
        c,
        &format!(
            r#"{{"execute":"guest-set-user-password","arguments":{{"username":"alice","password":"{}","crypted":true}}}}"#,
            crate::b64encode(b"$6$abcdefgh$ready.made.hash")
        ),
    );
    assert!(
        String::from_utf8_lossy(&read_file(c, "/etc/shadow"))
            .contains("alice:$6$abcdefgh$ready.made.hash:")
    );
    assert_eq!(
        err(
            c,
            r#"{"execute":"guest-set-user-password","arguments":{"username":"nobody","password":"eA==","crypted":false}}"#
        ),
        "child process has failed to set user password"
    );
    let key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVkMjU1MTkgdGVzdCBrZXkgZm9yIG5hbm9xZ2E alice@test";
    ok(
        c,
        &format!(
            r#"{{"execute":"guest-ssh-add-authorized-keys","arguments":{{"username":"alice","keys":["{key}"]}}}}"#
        ),
    );
    assert_eq!(
        ok(
            c,
            r#"{"execute":"guest-ssh-get-authorized-keys","arguments":{"username":"alice"}}"#
        )["keys"],
        json!([key])
    );
    let s = exec(c, "/bin/ls", &["-ln", "/home/alice/.ssh"], None);
    assert!(
        out(&s).contains("-rw-------    1 1000     1000"),
        "{}",
        out(&s)
    );
    ok(
        c,
        &format!(
            r#"{{"execute":"guest-ssh-remove-authorized-keys","arguments":{{"username":"alice","keys":["{key}"]}}}}"#
        ),
    );
    assert_eq!(
        ok(
            c,
            r#"{"execute":"guest-ssh-get-authorized-keys","arguments":{"username":"alice"}}"#
        )["keys"],
        json!([])
    );

    // Two bursts: 120 pings in one write, 80 in the next; every answer.
    let mut burst = Vec::new();
    for _ in 0..120 {
        burst.extend_from_slice(br#"{"execute":"guest-ping"}"#);
    }
    c.send(&burst);
    let mut burst = Vec::new();
    for _ in 0..80 {
        burst.extend_from_slice(b"{\"execute\":\"guest-ping\"}\n");
    }
    c.send(&burst);
    for i in 0..200 {
        let r = c.reply();
        assert_eq!(r["return"], json!({}), "answer {i}: {r}");
    }
    assert_eq!(
        ok(c, r#"{"execute":"guest-sync","arguments":{"id":78}}"#),
        78
    );
}

/// fsfreeze and fstrim on the guest's ext4 data disk (`/mnt/data`), and
/// the disk as libvirt reads it (fsinfo, disks, diskstats). A write that a
/// program issues while the file system is frozen completes only after
/// the thaw.
pub fn freeze(c: &mut crate::process::Client) {
    use serde_json::json;
    let fs = ok(c, r#"{"execute":"guest-get-fsinfo"}"#);
    let data = fs
        .as_array()
        .expect("fsinfo")
        .iter()
        .find(|f| f["mountpoint"] == "/mnt/data")
        .unwrap_or_else(|| panic!("{fs}"))
        .clone();
    assert_eq!(
        (data["type"].as_str(), data["name"].as_str()),
        (Some("ext4"), Some("vda")),
        "{data}"
    );
    let disk = &data["disk"][0];
    assert_eq!(
        (
            disk["bus-type"].as_str(),
            disk["dev"].as_str(),
            disk["serial"].as_str()
        ),
        (Some("virtio"), Some("/dev/vda"), Some("NANOQGA-DATA")),
        "{data}"
    );
    assert!(disk["pci-controller"]["slot"].as_i64().is_some(), "{data}");
    assert!(
        data["total-bytes"].as_u64().unwrap_or(0) > 50 << 20,
        "{data}"
    );
    let disks = ok(c, r#"{"execute":"guest-get-disks"}"#);
    assert!(
        disks
            .as_array()
            .expect("disks")
            .iter()
            .any(|d| d["name"] == "/dev/vda"),
        "{disks}"
    );
    let stats = ok(c, r#"{"execute":"guest-get-diskstats"}"#);
    assert!(
        stats
            .as_array()
            .expect("stats")
            .iter()
            .any(|d| d["name"] == "vda"),
        "{stats}"
    );
    let trim = ok(c, r#"{"execute":"guest-fstrim"}"#);
    assert!(
        trim["paths"]
            .as_array()
            .expect("paths")
            .iter()
            .any(|p| p["path"] == "/mnt/data"),
        "{trim}"
    );

    assert_eq!(ok(c, r#"{"execute":"guest-fsfreeze-status"}"#), "thawed");
    // A writer that starts writing while the file system is frozen.
    let writer = json!({"path": "/bin/sh", "arg": ["-c", "sleep 1; echo written > /mnt/data/during-freeze; sync"]});
    let pid = ok(
        c,
        &format!(r#"{{"execute":"guest-exec","arguments":{writer}}}"#),
    )["pid"]
        .as_i64()
        .expect("pid");
    assert_eq!(ok(c, r#"{"execute":"guest-fsfreeze-freeze"}"#), 1);
    assert_eq!(ok(c, r#"{"execute":"guest-fsfreeze-status"}"#), "frozen");
    assert_eq!(
        c.call(r#"{"execute":"guest-exec-status","arguments":{"pid":1}}"#)["error"]["desc"],
        "Command guest-exec-status has been disabled: the agent is in frozen state"
    );
    std::thread::sleep(std::time::Duration::from_secs(3));
    // (The guest's clock follows the host's: the suite set it so.)
    let thawed_at = host_ns() / 1_000_000_000;
    assert_eq!(ok(c, r#"{"execute":"guest-fsfreeze-thaw"}"#), 1);
    let s = wait_exited(c, pid).expect("the write after the thaw finished");
    assert_eq!(s["exitcode"], 0, "{s}");
    assert_eq!(read_file(c, "/mnt/data/during-freeze"), b"written\n");
    // The write waited for the thaw: its time is not before it.
    let mtime: i64 = out(&exec(
        c,
        "/bin/date",
        &["-r", "/mnt/data/during-freeze", "+%s"],
        None,
    ))
    .trim()
    .parse()
    .expect("mtime");
    assert!(
        mtime >= thawed_at - 2,
        "written at {mtime}, thawed at {thawed_at}"
    );
    // Only the listed mount points; unknown ones are ignored.
    assert_eq!(
        ok(
            c,
            r#"{"execute":"guest-fsfreeze-freeze-list","arguments":{"mountpoints":["/no/such"]}}"#
        ),
        0
    );
    assert_eq!(ok(c, r#"{"execute":"guest-fsfreeze-status"}"#), "thawed");
    assert_eq!(
        ok(
            c,
            r#"{"execute":"guest-fsfreeze-freeze-list","arguments":{"mountpoints":["/mnt/data"]}}"#
        ),
        1
    );
    assert_eq!(ok(c, r#"{"execute":"guest-fsfreeze-thaw"}"#), 1);
    assert_eq!(ok(c, r#"{"execute":"guest-fsfreeze-thaw"}"#), 0);
}

/// qemu-ga's size in a guest: its binary and the shared libraries it
/// loads, in bytes.
pub fn qemu_ga_footprint() -> u64 {
    let bin = Path::new("/usr/sbin/qemu-ga");
    std::iter::once(bin.to_path_buf())
        .chain(libraries(bin))
        .filter_map(|p| std::fs::metadata(std::fs::canonicalize(&p).unwrap_or(p)).ok())
        .map(|m| m.len())
        .sum()
}
