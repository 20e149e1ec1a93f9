#!/bin/sh
# Cargo runner: `cargo run --release [-- CHANNEL]` builds the image and boots
# it in QEMU (virt, cortex-a57) with the QGA channel on a unix socket
# (../support/qemu-run.sh).
#   CHANNEL: pl011 (default: the UART, -serial chardev:…)
#            or virtio (virtio-serial-device, i.e. virtio-mmio)
exec sh "$(dirname "$0")/../support/qemu-run.sh" "$1" aarch64 "${2:-pl011}" \
    pl011 "-serial chardev:qga0" virtio-serial-device \
    qemu-system-aarch64 -machine virt -cpu cortex-a57
