#!/bin/sh
# Cargo runner: `cargo run --release [-- MACHINE [CHANNEL]]` builds the image
# and boots it in QEMU with the QGA channel on a unix socket
# (../support/qemu-run.sh).
#   MACHINE: q35 (default) or pc
#   CHANNEL: isa (default: -device isa-serial, like Proxmox's agent: type=isa)
#            or virtio (virtio-serial-pci, as libvirt wires it)
machine=${2:-q35}
exec sh "$(dirname "$0")/../support/qemu-run.sh" "$1" "x86_64-$machine" \
    "${3:-isa}" isa "-device isa-serial,chardev=qga0" virtio-serial-pci \
    qemu-system-x86_64 -machine "$machine"
