//! End to end on riscv64: the qemu-riscv64-virt image booted by QEMU
//! (`-machine virt -kernel`, under its bundled OpenSBI), QGA on the
//! NS16550A (`-serial`) and on the virtio-serial port `org.qemu.guest_agent.0` of a
//! `virtio-serial-device` (virtio-mmio), wired as libvirt wires riscv64
//! guests: legacy and modern MMIO transports, a second unrelated port,
//! QMP's VSERPORT_CHANGE, a host that hangs up mid-request, power-off.

use nanoqga_tests_host::qemu::{QEMU_RISCV64, RISCV64_VIRT, VIRT_SERIAL};
use nanoqga_tests_host::virt::VirtBoard;
use nanoqga_tests_host::{scenarios, suite, virt_board_tests};

const BOARD: VirtBoard = VirtBoard {
    qemu: QEMU_RISCV64,
    machine: RISCV64_VIRT,
    board: "qemu-riscv64-virt",
    target: "riscv64gc-unknown-none-elf",
    arch: "riscv64",
    package: "qemu-system-misc",
};

virt_board_tests!(
    BOARD,
    uart_powerdown: uart_powerdown_exits_qemu,
    uart_reboot_no_reboot: uart_reboot_with_no_reboot_exits_qemu,
    uart_reboot_fresh: uart_reboot_comes_back_fresh,
);

#[test]
fn uart_channel_serves_the_suite_and_sleeps_between_requests() {
    let Some(vm) = BOARD.vm(&[], VIRT_SERIAL, false) else {
        return;
    };
    let mut c = vm.client();
    suite::run(&mut c, "riscv64");
    suite::qapi_client(&c.stream);
    scenarios::sleeping(&mut c, None);
}
