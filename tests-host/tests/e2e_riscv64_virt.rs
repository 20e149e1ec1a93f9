//! End to end on riscv64: the qemu-riscv64-virt image booted by QEMU
//! (`-machine virt -kernel`, under its bundled OpenSBI), QGA on the
//! NS16550A (`-serial`) and on the virtio-serial port `org.qemu.guest_agent.0` of a
//! `virtio-serial-device` (virtio-mmio), wired as libvirt wires riscv64
//! guests: legacy and modern MMIO transports, a second unrelated port,
//! QMP's VSERPORT_CHANGE, a host that hangs up mid-request, power-off.

use nanoqga_tests_host::qemu::{
    QEMU_RISCV64, RISCV64_VIRT, VIRT_SERIAL, Vm, VmConfig, build_board, hand_written_channel,
    libvirt_channel,
};
use nanoqga_tests_host::{require_tool, scenarios, suite};

/// libvirt's lines for a riscv64 guest's agent channel (the controller is
/// virtio-mmio), plus an unrelated second port.
fn libvirt() -> Vec<String> {
    libvirt_channel("virtio-serial-device,id=virtio-serial0")
}

fn vm(extra_machine: &[&str], devices: &[impl AsRef<str>], qmp: bool) -> Option<Vm> {
    if !require_tool(
        QEMU_RISCV64,
        "apt-get install -y --no-install-recommends qemu-system-misc",
    ) {
        return None;
    }
    let image = build_board("qemu-riscv64-virt", "riscv64gc-unknown-none-elf");
    let mut m = RISCV64_VIRT.to_vec();
    m.extend_from_slice(extra_machine);
    let devices: Vec<&str> = devices.iter().map(AsRef::as_ref).collect();
    Some(Vm::start(&VmConfig {
        qemu: QEMU_RISCV64,
        machine: &m,
        image: &image,
        devices: &devices,
        qmp,
    }))
}

#[test]
fn uart_channel_serves_the_suite_and_sleeps_between_requests() {
    let Some(vm) = vm(&[], VIRT_SERIAL, false) else {
        return;
    };
    let mut c = vm.client();
    suite::run(&mut c, "riscv64");
    suite::qapi_client(&c.stream);
    scenarios::sleeping(&mut c, None);
}

/// Starts paused and runs libvirt's channel scenario.
fn virtio_full(extra_machine: &[&str]) {
    let mut m = extra_machine.to_vec();
    m.push("-S");
    let Some(vm) = vm(&m, &libvirt(), true) else {
        return;
    };
    scenarios::libvirt_channel_serves_the_suite(&vm, "riscv64");
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
    let Some(vm) = vm(&[], &libvirt(), false) else {
        return;
    };
    scenarios::host_disconnect_mid_request_then_resync_recovers(&vm);
}

fn shutdown(devices: &[impl AsRef<str>], mode: &str, extra: &[&str]) {
    let Some(mut vm) = vm(extra, devices, false) else {
        return;
    };
    scenarios::shutdown_exits_qemu(&mut vm, mode);
}

#[test]
fn uart_powerdown_exits_qemu() {
    shutdown(VIRT_SERIAL, "powerdown", &[]);
}

#[test]
fn virtio_powerdown_exits_qemu() {
    shutdown(&libvirt(), "powerdown", &[]);
}

#[test]
fn uart_reboot_with_no_reboot_exits_qemu() {
    shutdown(VIRT_SERIAL, "reboot", &["-no-reboot"]);
}

#[test]
fn uart_reboot_comes_back_fresh() {
    let Some(vm) = vm(&[], VIRT_SERIAL, true) else {
        return;
    };
    scenarios::reboot_comes_back_fresh(&vm);
}

#[test]
fn hand_written_virtio_line_answers_a_client_connected_at_boot() {
    let Some(vm) = vm(&[], &hand_written_channel("virtio-serial-device"), false) else {
        return;
    };
    scenarios::client_connected_at_boot_is_answered(&vm);
}
