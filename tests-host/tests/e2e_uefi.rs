//! End to end in the firmware stage: OVMF boots `nanoqga-uefi` from a boot
//! volume on q35, with the channel wired as libvirt (virtio-serial) and
//! Proxmox `type=isa` (COM1) wire it; one boot per scenario family.

use std::time::Duration;

use nanoqga_tests_host::process::Client;
use nanoqga_tests_host::qemu::{ISA_SERIAL, Qmp, libvirt_channel};
use nanoqga_tests_host::suite::TimeReference;
use nanoqga_tests_host::uefi::{self, Volume};
use nanoqga_tests_host::{b64decode, b64encode, linux, scenarios, suite};
use serde_json::Value;

/// OVMF takes seconds to reach the boot option under TCG.
const BOOT_PATIENCE: Duration = Duration::from_secs(120);

fn ok(c: &mut Client, json: &str) -> Value {
    let r = c.call(json);
    r.get("return")
        .cloned()
        .unwrap_or_else(|| panic!("{json} failed: {r}"))
}

fn virtio_devices() -> Vec<String> {
    libvirt_channel("virtio-serial-pci,id=virtio-serial0")
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Runs `path` with `args` and waits for it to finish: its status.
fn exec_wait(c: &mut Client, path: &str, args: &[&str]) -> Value {
    let req = serde_json::json!({
        "execute": "guest-exec",
        "arguments": {"path": path, "arg": args, "capture-output": true}
    });
    let pid = ok(c, &req.to_string())["pid"].as_i64().expect("pid");
    for _ in 0..2000 {
        let s = ok(
            c,
            &format!(r#"{{"execute":"guest-exec-status","arguments":{{"pid":{pid}}}}}"#),
        );
        if s["exited"] == true {
            return s;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("{path} never finished");
}

fn text(v: &Value) -> String {
    String::from_utf8(b64decode(v.as_str().unwrap_or(""))).expect("utf-8")
}

/// What the firmware stage reports about itself and its volume.
fn firmware_information(c: &mut Client, app_len: usize) {
    let os = ok(c, r#"{"execute":"guest-get-osinfo"}"#);
    assert_eq!(os["id"], "uefi", "{os}");
    assert_eq!(os["name"], "UEFI", "{os}");
    assert_eq!(os["kernel-version"], "EDK II", "{os}");
    assert!(
        os["pretty-name"]
            .as_str()
            .unwrap_or("")
            .starts_with("UEFI 2."),
        "{os}"
    );
    let fs = ok(c, r#"{"execute":"guest-get-fsinfo"}"#);
    let root = fs
        .as_array()
        .and_then(|a| a.iter().find(|f| f["mountpoint"] == "/"))
        .unwrap_or_else(|| panic!("no / in {fs}"))
        .clone();
    assert_eq!(root["type"], "vfat", "{root}");
    assert!(root["total-bytes"].as_u64().unwrap_or(0) > 0, "{root}");
    // MP services count both vCPUs of `-smp 2`.
    let cpus = ok(c, r#"{"execute":"guest-get-vcpus"}"#);
    assert_eq!(cpus.as_array().map(Vec::len), Some(2), "{cpus}");
    // The health check reports the firmware and its memory map first.
    let s = exec_wait(c, "/usr/libexec/nanoqga/health-check", &[]);
    assert_eq!(s["exitcode"], 0, "{s}");
    let out = text(&s["out-data"]);
    assert!(out.starts_with("firmware: UEFI 2."), "{out}");
    assert!(out.contains(" KiB free\n"), "{out}");
    assert!(out.ends_with("PASS\n"), "{out}");
    // The volume: a file the host put there, and the application itself.
    let h = ok(
        c,
        r#"{"execute":"guest-file-open","arguments":{"path":"/hello.txt"}}"#,
    );
    let r = ok(
        c,
        &format!(r#"{{"execute":"guest-file-read","arguments":{{"handle":{h}}}}}"#),
    );
    assert_eq!(text(&r["buf-b64"]), "hello from the host\n");
    ok(
        c,
        &format!(r#"{{"execute":"guest-file-close","arguments":{{"handle":{h}}}}}"#),
    );
    let h = ok(
        c,
        r#"{"execute":"guest-file-open","arguments":{"path":"/EFI/BOOT/BOOTX64.EFI"}}"#,
    );
    let end = ok(
        c,
        &format!(
            r#"{{"execute":"guest-file-seek","arguments":{{"handle":{h},"offset":0,"whence":"end"}}}}"#
        ),
    );
    assert_eq!(end["position"].as_u64(), Some(app_len as u64));
    ok(
        c,
        &format!(r#"{{"execute":"guest-file-close","arguments":{{"handle":{h}}}}}"#),
    );
    // Errors as qemu-ga words them.
    let r = c.call(r#"{"execute":"guest-file-open","arguments":{"path":"/no/such.txt"}}"#);
    assert!(
        r["error"]["desc"]
            .as_str()
            .unwrap_or("")
            .ends_with("No such file or directory"),
        "{r}"
    );
    let r = c.call(r#"{"execute":"guest-exec","arguments":{"path":"/no-such.efi"}}"#);
    assert!(
        r["error"]["desc"]
            .as_str()
            .unwrap_or("")
            .contains("Failed to execute child process"),
        "{r}"
    );
}

#[test]
fn virtio_port_on_a_directory_volume_serves_the_suite_sleeps_and_powers_off() {
    let files = vec![("hello.txt".to_string(), b"hello from the host\n".to_vec())];
    let devices = virtio_devices();
    let Some(mut fw) = uefi::boot(Volume::Directory, &files, &strs(&devices), "256M", true) else {
        return;
    };
    let app_len = std::fs::metadata(uefi::application()).expect("app").len() as usize;
    {
        let mut c = fw.vm.client();
        c.resync_retrying(1, Duration::from_secs(1), BOOT_PATIENCE);
        let mut qmp = Qmp::connect(fw.vm.qmp.as_ref().expect("QMP"));
        suite::run_as(&mut c, "x86_64", "uefi", TimeReference::Rtc(&mut qmp));
        suite::qapi_client(&c.stream);
        firmware_information(&mut c, app_len);
        let t = scenarios::read_trace(&mut c);
        assert!(t.contains("channel: virtio-serial port Some(1)"), "{t}");
        assert!(t.contains("firmware driver disconnected"), "{t}");
        scenarios::sleeping(&mut c, fw.vm.debug_log().as_deref());
    }
    scenarios::shutdown_exits_qemu(&mut fw.vm, "powerdown");
}

#[test]
fn com1_channel_serves_the_suite_with_the_firmware_console_silenced() {
    let files = vec![("hello.txt".to_string(), b"hello from the host\n".to_vec())];
    let Some(mut fw) = uefi::boot(Volume::Directory, &files, ISA_SERIAL, "256M", true) else {
        return;
    };
    {
        let mut c = fw.vm.client();
        // Boot noise of the firmware's console comes before the answer.
        c.resync_retrying(1, Duration::from_secs(1), BOOT_PATIENCE);
        let mut qmp = Qmp::connect(fw.vm.qmp.as_ref().expect("QMP"));
        suite::run_as(&mut c, "x86_64", "uefi", TimeReference::Rtc(&mut qmp));
        let t = scenarios::read_trace(&mut c);
        assert!(t.contains("COM1 taken from the firmware console"), "{t}");
        assert!(t.contains("serial ports: COM1 (channel: COM1)"), "{t}");
        // Once the agent owns the port nothing but replies comes out.
        c.resync(7);
        let stray = c.drain(Duration::from_millis(1500));
        assert!(stray.is_empty(), "{:?}", String::from_utf8_lossy(&stray));
    }
    scenarios::shutdown_exits_qemu(&mut fw.vm, "reboot");
}

/// Files written through QGA land on the boot volume; an image that fails
/// to start reports its status and the agent comes back on its port; a
/// Linux kernel's EFI stub booted with `guest-exec` takes over the port,
/// and its agent (nanoqga-linux in the initramfs) answers the same client.
#[test]
fn files_reach_the_volume_and_guest_exec_of_a_linux_stub_hands_the_port_over() {
    let Some(root) = linux::kernel() else { return };
    let work = nanoqga_tests_host::process::TempDir::new("uefi-linux");
    let initrd = work.path().join("initrd.cpio");
    linux::initramfs(&root, &linux::Agent::Nanoqga(Vec::new()), false, &initrd);
    let files = vec![
        ("hello.txt".to_string(), b"hello from the host\n".to_vec()),
        (
            "vmlinuz".to_string(),
            std::fs::read(linux::vmlinuz(&root)).expect("vmlinuz"),
        ),
        (
            "initrd.cpio".to_string(),
            std::fs::read(&initrd).expect("initrd"),
        ),
    ];
    let console = work.path().join("console.log");
    let mut devices = virtio_devices();
    devices.extend([
        "-chardev".to_string(),
        format!("file,id=con0,path={}", console.display()),
        "-device".to_string(),
        "isa-serial,chardev=con0".to_string(),
    ]);
    let Some(mut fw) = uefi::boot(Volume::Image, &files, &strs(&devices), "512M", true) else {
        return;
    };
    let mut qmp = Qmp::connect(fw.vm.qmp.as_ref().expect("QMP"));
    let mut c = fw.vm.client();
    c.resync_retrying(1, Duration::from_secs(1), BOOT_PATIENCE);

    // A new file, written in pieces, and an append to the host's file.
    let data: Vec<u8> = (0..5000u32).map(|i| (i * 13 + 1) as u8).collect();
    let h = ok(
        &mut c,
        r#"{"execute":"guest-file-open","arguments":{"path":"/written.bin","mode":"w"}}"#,
    );
    for part in data.chunks(1500) {
        let w = ok(
            &mut c,
            &format!(
                r#"{{"execute":"guest-file-write","arguments":{{"handle":{h},"buf-b64":"{}"}}}}"#,
                b64encode(part)
            ),
        );
        assert_eq!(w["count"].as_u64(), Some(part.len() as u64));
    }
    ok(
        &mut c,
        &format!(r#"{{"execute":"guest-file-close","arguments":{{"handle":{h}}}}}"#),
    );
    let h = ok(
        &mut c,
        r#"{"execute":"guest-file-open","arguments":{"path":"/hello.txt","mode":"a"}}"#,
    );
    ok(
        &mut c,
        &format!(
            r#"{{"execute":"guest-file-write","arguments":{{"handle":{h},"buf-b64":"{}"}}}}"#,
            b64encode(b"and from the guest\n")
        ),
    );
    ok(
        &mut c,
        &format!(r#"{{"execute":"guest-file-close","arguments":{{"handle":{h}}}}}"#),
    );
    // `w` cuts an existing file to nothing.
    let h = ok(
        &mut c,
        r#"{"execute":"guest-file-open","arguments":{"path":"/written.bin","mode":"w+"}}"#,
    );
    let r = ok(
        &mut c,
        &format!(r#"{{"execute":"guest-file-read","arguments":{{"handle":{h}}}}}"#),
    );
    assert_eq!(
        (r["count"].as_u64(), r["eof"].as_bool()),
        (Some(0), Some(true))
    );
    for part in data.chunks(1500) {
        ok(
            &mut c,
            &format!(
                r#"{{"execute":"guest-file-write","arguments":{{"handle":{h},"buf-b64":"{}"}}}}"#,
                b64encode(part)
            ),
        );
    }
    ok(
        &mut c,
        &format!(r#"{{"execute":"guest-file-close","arguments":{{"handle":{h}}}}}"#),
    );

    // Not an image: LoadImage fails, the status says so, and the agent is
    // back on its (restarted) port.
    let s = exec_wait(&mut c, "/hello.txt", &[]);
    assert_ne!(s["exitcode"], 0, "{s}");
    assert!(text(&s["err-data"]).starts_with("LoadImage: "), "{s}");
    c.resync_retrying(20, Duration::from_secs(1), Duration::from_secs(20));
    assert_eq!(
        ok(&mut c, r#"{"execute":"guest-sync","arguments":{"id":21}}"#),
        21
    );

    // The next stage: the kernel's EFI stub with its initrd from the volume.
    let pid = ok(
        &mut c,
        r#"{"execute":"guest-exec","arguments":{"path":"/vmlinuz","arg":["initrd=\\initrd.cpio","console=ttyS0","quiet","panic=-1"]}}"#,
    )["pid"]
        .as_i64()
        .expect("pid");
    assert!(pid > 0);
    // The firmware stage closes its side of the port before it lets go of
    // the device (libvirt sees the agent leave), and the kernel's agent
    // opens it again.
    qmp.wait_event(
        |e| {
            e["event"] == "VSERPORT_CHANGE"
                && e["data"]["id"] == "channel0"
                && e["data"]["open"] == false
        },
        Duration::from_secs(30),
    );
    c.resync_retrying(100, Duration::from_secs(1), BOOT_PATIENCE);
    let os = ok(&mut c, r#"{"execute":"guest-get-osinfo"}"#);
    assert_eq!(
        os["id"],
        "nanoqga-test",
        "{os}\nconsole:\n{}",
        std::fs::read_to_string(&console).unwrap_or_default()
    );
    assert_eq!(os["machine"], "x86_64");
    drop(c);
    scenarios::shutdown_exits_qemu(&mut fw.vm, "powerdown");

    // What the firmware stage wrote is on the volume.
    assert_eq!(
        uefi::read_image_file(&fw.volume, "written.bin").as_deref(),
        Some(&data[..])
    );
    assert_eq!(
        uefi::read_image_file(&fw.volume, "hello.txt").as_deref(),
        Some(&b"hello from the host\nand from the guest\n"[..])
    );
}
