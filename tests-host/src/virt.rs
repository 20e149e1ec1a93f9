//! The `virt` machines' boards (aarch64, riscv64): booting an image with
//! the device lines a test chooses, and the end-to-end tests every such
//! board runs alike ([`crate::virt_board_tests!`]): libvirt's virtio-mmio
//! channel on legacy and modern transports, a host that hangs up
//! mid-request, power-off and reboot, a hand-written virtio line.

use crate::qemu::{Vm, VmConfig, build_board, libvirt_channel};
use crate::{require_tool, scenarios};

/// A board for a `virt` machine.
pub struct VirtBoard {
    /// The QEMU binary.
    pub qemu: &'static str,
    /// The machine's arguments (`-machine virt`, a CPU).
    pub machine: &'static [&'static str],
    /// The board crate (`board/NAME`) and its target.
    pub board: &'static str,
    /// The board crate's target triple.
    pub target: &'static str,
    /// The architecture `guest-get-osinfo` reports.
    pub arch: &'static str,
    /// The Debian package with the QEMU binary.
    pub package: &'static str,
}

impl VirtBoard {
    /// Boots the image with `extra_machine` added to the machine's
    /// arguments and `devices`; `None` (the test is skipped, saying so)
    /// when the QEMU binary is missing.
    pub fn vm(&self, extra_machine: &[&str], devices: &[impl AsRef<str>], qmp: bool) -> Option<Vm> {
        if !require_tool(
            self.qemu,
            &format!(
                "apt-get install -y --no-install-recommends {}",
                self.package
            ),
        ) {
            return None;
        }
        let image = build_board(self.board, self.target);
        let mut m = self.machine.to_vec();
        m.extend_from_slice(extra_machine);
        let devices: Vec<&str> = devices.iter().map(AsRef::as_ref).collect();
        Some(Vm::start(&VmConfig {
            qemu: self.qemu,
            machine: &m,
            image: &image,
            devices: &devices,
            qmp,
        }))
    }
}

/// libvirt's lines for a `virt` guest's agent channel (the controller is
/// virtio-mmio), plus an unrelated second port.
pub fn libvirt() -> Vec<String> {
    libvirt_channel("virtio-serial-device,id=virtio-serial0")
}

/// Starts paused and runs libvirt's channel scenario.
pub fn virtio_full(b: &VirtBoard, extra_machine: &[&str]) {
    let mut m = extra_machine.to_vec();
    m.push("-S");
    let Some(vm) = b.vm(&m, &libvirt(), true) else {
        return;
    };
    scenarios::libvirt_channel_serves_the_suite(&vm, b.arch);
}

/// Boots with `devices` and checks that `guest-shutdown` `mode` ends QEMU.
pub fn shutdown(b: &VirtBoard, devices: &[impl AsRef<str>], mode: &str, extra: &[&str]) {
    let Some(mut vm) = b.vm(extra, devices, false) else {
        return;
    };
    scenarios::shutdown_exits_qemu(&mut vm, mode);
}

/// The tests every `virt` board runs alike, for the board `$board` (a
/// [`VirtBoard`]); the UART tests' names (the UART differs) are given.
#[macro_export]
macro_rules! virt_board_tests {
    ($board:expr, uart_powerdown: $p:ident, uart_reboot_no_reboot: $r:ident, uart_reboot_fresh: $f:ident $(,)?) => {
        #[test]
        fn legacy_mmio_libvirt_port_serves_the_suite() {
            $crate::virt::virtio_full(&$board, &[]);
        }

        #[test]
        fn modern_mmio_libvirt_port_serves_the_suite() {
            $crate::virt::virtio_full(&$board, &["-global", "virtio-mmio.force-legacy=false"]);
        }

        #[test]
        fn virtio_host_disconnect_mid_request_then_resync_recovers() {
            let Some(vm) = $board.vm(&[], &$crate::virt::libvirt(), false) else {
                return;
            };
            $crate::scenarios::host_disconnect_mid_request_then_resync_recovers(&vm);
        }

        #[test]
        fn $p() {
            $crate::virt::shutdown(&$board, $crate::qemu::VIRT_SERIAL, "powerdown", &[]);
        }

        #[test]
        fn virtio_powerdown_exits_qemu() {
            $crate::virt::shutdown(&$board, &$crate::virt::libvirt(), "powerdown", &[]);
        }

        #[test]
        fn $r() {
            $crate::virt::shutdown(
                &$board,
                $crate::qemu::VIRT_SERIAL,
                "reboot",
                &["-no-reboot"],
            );
        }

        #[test]
        fn $f() {
            let Some(vm) = $board.vm(&[], $crate::qemu::VIRT_SERIAL, true) else {
                return;
            };
            $crate::scenarios::reboot_comes_back_fresh(&vm);
        }

        #[test]
        fn hand_written_virtio_line_answers_a_client_connected_at_boot() {
            let devices = $crate::qemu::hand_written_channel("virtio-serial-device");
            let Some(vm) = $board.vm(&[], &devices, false) else {
                return;
            };
            $crate::scenarios::client_connected_at_boot_is_answered(&vm);
        }
    };
}
