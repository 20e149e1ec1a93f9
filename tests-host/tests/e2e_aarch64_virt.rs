//! End to end on aarch64: the qemu-aarch64-virt image booted by QEMU
//! (`-machine virt -cpu cortex-a57 -kernel`), QGA on the PL011 (`-serial`)
//! and on the virtio-serial port `org.qemu.guest_agent.0` of a
//! `virtio-serial-device` (virtio-mmio), wired as libvirt wires aarch64
//! guests: legacy and modern MMIO transports, a second unrelated port,
//! QMP's VSERPORT_CHANGE, a host that hangs up mid-request, power-off.

use nanoqga_tests_host::qemu::{AARCH64_VIRT, QEMU_AARCH64, VIRT_SERIAL};
use nanoqga_tests_host::virt::VirtBoard;
use nanoqga_tests_host::{scenarios, suite, virt_board_tests};

const BOARD: VirtBoard = VirtBoard {
    qemu: QEMU_AARCH64,
    machine: AARCH64_VIRT,
    board: "qemu-aarch64-virt",
    target: "aarch64-unknown-none",
    arch: "aarch64",
    package: "qemu-system-arm",
};

virt_board_tests!(
    BOARD,
    uart_powerdown: pl011_powerdown_exits_qemu,
    uart_reboot_no_reboot: pl011_reboot_with_no_reboot_exits_qemu,
    uart_reboot_fresh: pl011_reboot_comes_back_fresh,
);

#[test]
fn pl011_channel_serves_the_suite_and_sleeps_between_requests() {
    let Some(vm) = BOARD.vm(&[], VIRT_SERIAL, false) else {
        return;
    };
    let mut c = vm.client();
    suite::run(&mut c, "aarch64");
    suite::qapi_client(&c.stream);
    scenarios::sleeping(&mut c, None);
}

/// `gic-version=3`: the GIC's distributor, redistributor and system
/// register interface instead of GICv2's memory-mapped CPU interface.
#[test]
fn gic_v3_machine_serves_the_pl011_and_sleeps() {
    let Some(vm) = BOARD.vm(&["-machine", "gic-version=3"], VIRT_SERIAL, false) else {
        return;
    };
    let mut c = vm.client();
    suite::run(&mut c, "aarch64");
    scenarios::sleeping(&mut c, None);
    let t = scenarios::read_trace(&mut c);
    assert!(t.contains("V3 {"), "{t}");
}
