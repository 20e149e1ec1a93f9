#!/bin/sh
# Cargo runner: `cargo run --release [-- CHANNEL]` builds the image and boots
# it in QEMU (virt, under the bundled OpenSBI) with the QGA channel on a
# unix socket (../support/qemu-run.sh).
#   CHANNEL: uart (default: the NS16550A, -serial chardev:…)
#            or virtio (virtio-serial-device, i.e. virtio-mmio)
exec sh "$(dirname "$0")/../support/qemu-run.sh" "$1" riscv64 "${2:-uart}" \
    uart "-serial chardev:qga0" virtio-serial-device \
    qemu-system-riscv64 -machine virt
