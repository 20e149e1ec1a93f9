//! End to end on aarch64: the qemu-aarch64-virt image booted by QEMU
//! (`-machine virt -cpu cortex-a57 -kernel`), QGA on the PL011 (`-serial`)
//! and on the virtio-serial port `org.qemu.guest_agent.0` of a
//! `virtio-serial-device` (virtio-mmio), wired as libvirt wires aarch64
//! guests: legacy and modern MMIO transports, a second unrelated port,
//! QMP's VSERPORT_CHANGE, a host that hangs up mid-request, power-off.

use std::time::Duration;

use nanoqga_tests_host::process::Client;
use nanoqga_tests_host::qemu::{QEMU_AARCH64, Qmp, Vm, VmConfig, build_board};
use nanoqga_tests_host::{require_tool, suite};

const MACHINE: &[&str] = &["-machine", "virt", "-cpu", "cortex-a57"];

const PL011: &[&str] = &[
    "-chardev",
    "socket,id=qga0,path={QGA},server=on,wait=off",
    "-serial",
    "chardev:qga0",
];

/// libvirt's lines for an aarch64 guest's agent channel (the controller is
/// virtio-mmio), plus an unrelated second port.
const LIBVIRT: &[&str] = &[
    "-device",
    "virtio-serial-device,id=virtio-serial0",
    "-chardev",
    "socket,id=charchannel0,path={QGA},server=on,wait=off",
    "-device",
    "virtserialport,bus=virtio-serial0.0,nr=1,chardev=charchannel0,id=channel0,name=org.qemu.guest_agent.0",
    "-chardev",
    "socket,id=charchannel1,path={QGA}.other,server=on,wait=off",
    "-device",
    "virtserialport,bus=virtio-serial0.0,nr=2,chardev=charchannel1,id=channel1,name=com.example.other.0",
];

fn vm(extra_machine: &[&str], devices: &[&str], qmp: bool) -> Option<Vm> {
    if !require_tool(
        QEMU_AARCH64,
        "apt-get install -y --no-install-recommends qemu-system-arm",
    ) {
        return None;
    }
    let image = build_board("qemu-aarch64-virt", "aarch64-unknown-none");
    let mut m = MACHINE.to_vec();
    m.extend_from_slice(extra_machine);
    Some(Vm::start(&VmConfig {
        qemu: QEMU_AARCH64,
        machine: &m,
        image: &image,
        devices,
        qmp,
    }))
}

#[test]
fn pl011_channel_serves_the_suite() {
    let Some(vm) = vm(&[], PL011, false) else {
        return;
    };
    let mut c = vm.client();
    suite::run(&mut c, "aarch64");
    suite::qapi_client(&c.stream);
}

fn trace(c: &mut Client) -> String {
    c.resync(5);
    let h = c.call(r#"{"execute":"guest-file-open","arguments":{"path":"/var/log/nanoqga.log"}}"#)
        ["return"]
        .as_i64()
        .expect("handle");
    let r = c.call(&format!(
        r#"{{"execute":"guest-file-read","arguments":{{"handle":{h},"count":65536}}}}"#
    ));
    String::from_utf8(nanoqga_tests_host::b64decode(
        r["return"]["buf-b64"].as_str().expect("buf"),
    ))
    .expect("utf-8 trace")
}

/// Starts paused, checks libvirt's "agent connected" signal, runs the suite.
fn virtio_full(extra_machine: &[&str]) {
    let mut m = extra_machine.to_vec();
    m.push("-S");
    let Some(vm) = vm(&m, LIBVIRT, true) else {
        return;
    };
    let mut qmp = Qmp::connect(vm.qmp.as_ref().expect("qmp"));
    qmp.command(r#"{"execute":"cont"}"#);
    let ev = qmp.wait_event(
        |e| {
            e["event"] == "VSERPORT_CHANGE"
                && e["data"]["id"] == "channel0"
                && e["data"]["open"] == true
        },
        Duration::from_secs(20),
    );
    assert_eq!(ev["data"]["open"], true);
    let mut c = vm.client();
    suite::run(&mut c, "aarch64");
    suite::qapi_client(&c.stream);
    assert!(
        !qmp.events
            .iter()
            .any(|e| e["event"] == "VSERPORT_CHANGE" && e["data"]["id"] == "channel1"),
        "{:?}",
        qmp.events
    );
    let t = trace(&mut c);
    assert!(t.contains("channel: virtio-serial port Some(1)"), "{t}");
}

#[test]
fn legacy_mmio_libvirt_port_serves_the_suite() {
    virtio_full(&[]);
}

#[test]
fn modern_mmio_libvirt_port_serves_the_suite() {
    virtio_full(&["-global", "virtio-mmio.force-legacy=false"]);
}

#[test]
fn virtio_host_disconnect_mid_request_then_resync_recovers() {
    let Some(vm) = vm(&[], LIBVIRT, false) else {
        return;
    };
    let mut c = vm.client();
    c.resync(1);
    c.send(br#"{"execute":"guest-sync","arguments":{"id":"#);
    drop(c);
    std::thread::sleep(Duration::from_millis(200));
    for round in 0..3 {
        let mut c = Client::connect(&vm.qga, Duration::from_secs(10));
        c.resync(100 + round);
        assert_eq!(
            c.call(r#"{"execute":"guest-sync","arguments":{"id":9}}"#)["return"],
            9
        );
        c.send(br#"{"execute":"guest-info"}"#);
        drop(c);
    }
}

fn shutdown(devices: &[&str], mode: &str, extra: &[&str]) {
    let Some(mut vm) = vm(extra, devices, false) else {
        return;
    };
    let mut c = vm.client();
    c.resync(1);
    c.send(format!(r#"{{"execute":"guest-shutdown","arguments":{{"mode":"{mode}"}}}}"#).as_bytes());
    let status = vm
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("QEMU still running after {mode}"));
    assert_eq!(status.code(), Some(0), "{}", vm.stderr());
    assert!(
        !c.drain(Duration::from_millis(100)).contains(&b'{'),
        "no reply on success"
    );
}

#[test]
fn pl011_powerdown_exits_qemu() {
    shutdown(PL011, "powerdown", &[]);
}

#[test]
fn virtio_powerdown_exits_qemu() {
    shutdown(LIBVIRT, "powerdown", &[]);
}

#[test]
fn pl011_reboot_with_no_reboot_exits_qemu() {
    shutdown(PL011, "reboot", &["-no-reboot"]);
}

#[test]
fn pl011_reboot_comes_back_fresh() {
    let Some(vm) = vm(&[], PL011, false) else {
        return;
    };
    let mut c = vm.client();
    c.resync(1);
    let fh = c.call(r#"{"execute":"guest-file-open","arguments":{"path":"/tmp/x","mode":"w"}}"#)
        ["return"]
        .as_i64();
    assert_eq!(fh, Some(1000));
    c.send(br#"{"execute":"guest-shutdown","arguments":{"mode":"reboot"}}"#);
    std::thread::sleep(Duration::from_millis(500));
    c.resync(2);
    let r = c.call(r#"{"execute":"guest-file-open","arguments":{"path":"/tmp/x","mode":"r"}}"#);
    assert!(
        r["error"]["desc"]
            .as_str()
            .unwrap_or("")
            .contains("No such file"),
        "{r}"
    );
}
