//! End to end on bare metal: the x86_64 image booted by QEMU (PVH `-kernel`)
//! on q35 and pc, QGA on an ISA 16550 wired as Proxmox's `agent: type=isa`
//! and hand-written `-device isa-serial,chardev=…` lines do.

use std::time::Duration;

use nanoqga_tests_host::qemu::{ISA_SERIAL, QEMU_X86_64, Vm, VmConfig, build_board};
use nanoqga_tests_host::{require_tool, scenarios, suite};

fn vm(machine: &str, extra: &[&str]) -> Option<Vm> {
    vm_qmp(machine, extra, false)
}

fn vm_qmp(machine: &str, extra: &[&str], qmp: bool) -> Option<Vm> {
    if !require_tool(
        QEMU_X86_64,
        "apt-get install -y --no-install-recommends qemu-system-x86",
    ) {
        return None;
    }
    let image = build_board("qemu-x86_64", "x86_64-unknown-none");
    let mut m = vec!["-machine", machine];
    m.extend_from_slice(extra);
    Some(Vm::start(&VmConfig {
        qemu: QEMU_X86_64,
        machine: &m,
        image: &image,
        devices: ISA_SERIAL,
        qmp,
    }))
}

#[test]
fn isa_serial_on_q35_serves_the_suite_and_sleeps_between_requests() {
    let Some(vm) = vm("q35", &[]) else { return };
    let mut c = vm.client();
    suite::run(&mut c, "x86_64");
    suite::qapi_client(&c.stream);
    scenarios::sleeping(&mut c, vm.debug_log().as_deref());
}

/// Proxmox's `agent: type=isa` on a VM that already has a serial port: the
/// agent's 16550 is COM2, and COM1 carries a console where someone types.
/// The agent serves COM2 once a request arrives there, and stays there.
#[test]
fn agent_on_com2_beside_a_console_on_com1_is_served() {
    if !require_tool(
        QEMU_X86_64,
        "apt-get install -y --no-install-recommends qemu-system-x86",
    ) {
        return;
    }
    let image = build_board("qemu-x86_64", "x86_64-unknown-none");
    let vm = Vm::start(&VmConfig {
        qemu: QEMU_X86_64,
        machine: &["-machine", "q35"],
        image: &image,
        devices: &[
            "-chardev",
            "socket,id=console0,path={QGA}.console,server=on,wait=off",
            "-device",
            "isa-serial,chardev=console0",
            "-chardev",
            "socket,id=qga0,path={QGA},server=on,wait=off",
            "-device",
            "isa-serial,chardev=qga0",
        ],
        qmp: false,
    });
    let console_path = format!("{}.console", vm.qga.display());
    let mut console = nanoqga_tests_host::process::Client::connect(
        std::path::Path::new(&console_path),
        Duration::from_secs(20),
    );
    // Someone types on the console before and after the agent's client.
    console.send(b"root\r\nls -l\r\n{not json\r\n");
    let mut c = vm.client();
    suite::run(&mut c, "x86_64");
    console.send(b"\x1b[A\r\nexit\r\n");
    assert_eq!(
        c.call(r#"{"execute":"guest-ping"}"#)["return"],
        serde_json::json!({})
    );
    let t = scenarios::read_trace(&mut c);
    assert!(t.contains("serial ports: COM1 COM2"), "{t}");
    assert!(t.contains("channel: moved to COM2"), "{t}");
    assert!(!t.contains("channel: moved to COM1"), "{t}");
    // Nothing the agent says goes to the console.
    let stray = console.drain(Duration::from_millis(300));
    assert!(stray.is_empty(), "{:?}", String::from_utf8_lossy(&stray));
}

#[test]
fn isa_serial_on_pc_serves_the_suite() {
    let Some(vm) = vm("pc", &[]) else { return };
    let mut c = vm.client();
    suite::run(&mut c, "x86_64");
}

fn shutdown(machine: &str, mode: &str, extra: &[&str]) {
    let Some(mut vm) = vm(machine, extra) else {
        return;
    };
    scenarios::shutdown_exits_qemu(&mut vm, mode);
}

#[test]
fn q35_powerdown_exits_qemu() {
    shutdown("q35", "powerdown", &[]);
}

#[test]
fn pc_powerdown_exits_qemu() {
    shutdown("pc", "powerdown", &[]);
}

#[test]
fn q35_reboot_with_no_reboot_exits_qemu() {
    shutdown("q35", "reboot", &["-no-reboot"]);
}

#[test]
fn pc_reboot_with_no_reboot_exits_qemu() {
    shutdown("pc", "reboot", &["-no-reboot"]);
}

#[test]
fn q35_reboot_comes_back() {
    let Some(vm) = vm_qmp("q35", &[], true) else {
        return;
    };
    scenarios::reboot_comes_back_fresh(&vm);
}

#[test]
fn q35_halt_stops_answering_but_qemu_runs() {
    let Some(mut vm) = vm("q35", &[]) else { return };
    let mut c = vm.client();
    c.resync(1);
    c.send(br#"{"execute":"guest-shutdown","arguments":{"mode":"halt"}}"#);
    std::thread::sleep(Duration::from_millis(300));
    c.send(br#"{"execute":"guest-ping"}"#);
    assert_eq!(c.drain(Duration::from_millis(500)), b"");
    assert!(
        vm.wait_exit(Duration::from_millis(200)).is_none(),
        "QEMU must keep running after halt"
    );
}
