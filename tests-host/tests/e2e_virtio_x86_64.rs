//! End to end over virtio-serial on x86_64, wired exactly as libvirt and
//! Proxmox wire the guest agent: a `virtserialport` named
//! `org.qemu.guest_agent.0` (port 1) on a virtio-serial-pci controller, on
//! q35's root bus (transitional device), behind a pcie-root-port
//! (modern-only device), and on pc; plus `virtconsole` on port 0 and the
//! single-port (no MULTIPORT) fallback.

use std::time::Duration;

use nanoqga_tests_host::process::Client;
use nanoqga_tests_host::qemu::{
    QEMU_X86_64, Vm, VmConfig, build_board, hand_written_channel, libvirt_channel,
};
use nanoqga_tests_host::{require_tool, scenarios, suite};

/// libvirt's lines for `<channel type='unix'><target type='virtio'
/// name='org.qemu.guest_agent.0'/>`, plus an unrelated second port.
fn libvirt(controller_extra: &str) -> Vec<String> {
    libvirt_channel(&format!(
        "virtio-serial-pci,id=virtio-serial0{controller_extra}"
    ))
}

fn boot(machine: &[&str], devices: &[String], qmp: bool) -> Option<Vm> {
    if !require_tool(
        QEMU_X86_64,
        "apt-get install -y --no-install-recommends qemu-system-x86",
    ) {
        return None;
    }
    let image = build_board("qemu-x86_64", "x86_64-unknown-none");
    let devices: Vec<&str> = devices.iter().map(String::as_str).collect();
    Some(Vm::start(&VmConfig {
        qemu: QEMU_X86_64,
        machine,
        image: &image,
        devices: &devices,
        qmp,
    }))
}

/// Starts paused, checks libvirt's "agent connected" signal, runs the suite.
fn full(machine: &[&str], devices: Vec<String>) {
    let mut m = machine.to_vec();
    m.push("-S");
    let Some(vm) = boot(&m, &devices, true) else {
        return;
    };
    scenarios::libvirt_channel_serves_the_suite(&vm, "x86_64");
}

#[test]
fn transitional_device_on_q35_root_bus_serves_the_suite() {
    full(&["-machine", "q35"], libvirt(""));
}

#[test]
fn modern_device_behind_pcie_root_port_serves_the_suite() {
    let mut d = vec![
        "-device".to_string(),
        "pcie-root-port,id=rp0,chassis=1".to_string(),
    ];
    d.extend(libvirt(",bus=rp0"));
    full(&["-machine", "q35"], d);
}

#[test]
fn virtio_serial_on_pc_serves_the_suite() {
    full(&["-machine", "pc"], libvirt(""));
}

#[test]
fn host_disconnect_mid_request_then_resync_recovers() {
    let Some(vm) = boot(&["-machine", "q35"], &libvirt(""), false) else {
        return;
    };
    scenarios::host_disconnect_mid_request_then_resync_recovers(&vm);
}

#[test]
fn throttled_host_does_not_wedge_the_agent() {
    let Some(vm) = boot(&["-machine", "q35"], &libvirt(""), false) else {
        return;
    };
    // QEMU keeps (and never returns) the buffer it was stuck on when a
    // throttled client hangs up; rounds after the first find the driver
    // restarting the device between clients.
    for round in 0..4 {
        let mut c = Client::connect(&vm.qga, Duration::from_secs(10));
        c.resync(10 + round);
        // Ask for far more output than the socket buffers hold, read none.
        let burst = br#"{"execute":"guest-info"}"#.repeat(400);
        c.send(&burst);
        std::thread::sleep(Duration::from_millis(700));
        drop(c);
        if round % 2 == 1 {
            // Give the hang-up time to arrive alone (the restart path);
            // even rounds reconnect at once (hang-up and reconnect arrive
            // together: nothing is dropped, the new client resyncs).
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    // A new client is served normally.
    let mut c = Client::connect(&vm.qga, Duration::from_secs(10));
    c.resync(2);
    assert!(
        c.call(r#"{"execute":"guest-ping"}"#)
            .get("return")
            .is_some()
    );
}

#[test]
fn virtio_powerdown_exits_qemu() {
    let Some(mut vm) = boot(&["-machine", "q35"], &libvirt(""), false) else {
        return;
    };
    scenarios::shutdown_exits_qemu(&mut vm, "powerdown");
}

#[test]
fn virtconsole_on_port_0_named_agent_is_served() {
    let d: Vec<String> = [
        "-device",
        "virtio-serial-pci,id=vs0",
        "-chardev",
        "socket,id=qga0,path={QGA},server=on,wait=off",
        "-device",
        "virtconsole,bus=vs0.0,chardev=qga0,name=org.qemu.guest_agent.0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let Some(vm) = boot(&["-machine", "q35"], &d, false) else {
        return;
    };
    let mut c = vm.client();
    suite::run(&mut c, "x86_64");
}

#[test]
fn single_port_device_without_multiport_is_served() {
    // max_ports=1: QEMU does not offer MULTIPORT; port 0 is the only port.
    let d: Vec<String> = [
        "-device",
        "virtio-serial-pci,id=vs0,max_ports=1",
        "-chardev",
        "socket,id=qga0,path={QGA},server=on,wait=off",
        "-device",
        "virtconsole,bus=vs0.0,chardev=qga0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let Some(vm) = boot(&["-machine", "q35"], &d, false) else {
        return;
    };
    let mut c = vm.client();
    c.resync(3);
    assert_eq!(
        c.call(r#"{"execute":"guest-sync","arguments":{"id":4}}"#)["return"],
        4
    );
}

#[test]
fn hand_written_virtio_line_answers_a_client_connected_at_boot() {
    let Some(vm) = boot(
        &["-machine", "q35"],
        &hand_written_channel("virtio-serial-pci"),
        false,
    ) else {
        return;
    };
    scenarios::client_connected_at_boot_is_answered(&vm);
}
