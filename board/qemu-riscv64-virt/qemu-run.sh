#!/bin/sh
# Cargo runner: `cargo run --release [-- CHANNEL]` builds the image and boots
# it in QEMU (virt, under the bundled OpenSBI) with the QGA channel on a
# unix socket.
#   CHANNEL: uart (default: the NS16550A, -serial chardev:…)
#            or virtio (libvirt's virtio-serial port org.qemu.guest_agent.0
#            on virtio-serial-device, i.e. virtio-mmio)
# The socket path is printed first; override it with NANOQGA_SOCKET.
set -eu
image=$1
channel=${2:-uart}
sock=${NANOQGA_SOCKET:-${TMPDIR:-/tmp}/nanoqga-riscv64-$channel.sock}
rm -f "$sock"
case $channel in
uart)
    devices="-chardev socket,id=qga0,path=$sock,server=on,wait=off -serial chardev:qga0" ;;
virtio)
    devices="-device virtio-serial-device,id=virtio-serial0 -chardev socket,id=charchannel0,path=$sock,server=on,wait=off -device virtserialport,bus=virtio-serial0.0,nr=1,chardev=charchannel0,id=channel0,name=org.qemu.guest_agent.0" ;;
*)
    echo "unknown channel '$channel' (uart or virtio)" >&2; exit 2 ;;
esac
echo "QGA channel: $sock"
# shellcheck disable=SC2086
exec qemu-system-riscv64 -machine virt -m 128M -nodefaults \
    -display none -no-user-config -kernel "$image" $devices
