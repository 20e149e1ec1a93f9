//! End to end on aarch64: the qemu-aarch64-virt image booted by QEMU
//! (`-machine virt -cpu cortex-a57 -kernel`), QGA on the PL011 (`-serial`)
//! and on the virtio-serial port `org.qemu.guest_agent.0` of a
//! `virtio-serial-device` (virtio-mmio), wired as libvirt wires aarch64
//! guests: legacy and modern MMIO transports, a second unrelated port,
//! QMP's VSERPORT_CHANGE, a host that hangs up mid-request, power-off.

use nanoqga_tests_host::qemu::{QEMU_AARCH64, Vm, VmConfig, build_board};
use nanoqga_tests_host::{require_tool, scenarios, suite};

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

/// Starts paused and runs libvirt's channel scenario.
fn virtio_full(extra_machine: &[&str]) {
    let mut m = extra_machine.to_vec();
    m.push("-S");
    let Some(vm) = vm(&m, LIBVIRT, true) else {
        return;
    };
    scenarios::libvirt_channel_serves_the_suite(&vm, "aarch64");
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
    scenarios::host_disconnect_mid_request_then_resync_recovers(&vm);
}

fn shutdown(devices: &[&str], mode: &str, extra: &[&str]) {
    let Some(mut vm) = vm(extra, devices, false) else {
        return;
    };
    scenarios::shutdown_exits_qemu(&mut vm, mode);
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
    let Some(vm) = vm(&[], PL011, true) else {
        return;
    };
    scenarios::reboot_comes_back_fresh(&vm);
}
