#!/bin/sh
# Cargo runner: `cargo run --release [-- CHANNEL]` builds the image and boots
# it in QEMU (virt, cortex-a57) with the QGA channel on a unix socket.
#   CHANNEL: pl011 (default: the UART, -serial chardev:…)
#            or virtio (libvirt's virtio-serial port org.qemu.guest_agent.0
#            on virtio-serial-device, i.e. virtio-mmio)
# The socket path is printed first; override it with NANOQGA_SOCKET.
set -eu
image=$1
channel=${2:-pl011}
sock=${NANOQGA_SOCKET:-${TMPDIR:-/tmp}/nanoqga-aarch64-$channel.sock}
rm -f "$sock"
case $channel in
pl011)
    devices="-chardev socket,id=qga0,path=$sock,server=on,wait=off -serial chardev:qga0" ;;
virtio)
    devices="-device virtio-serial-device,id=virtio-serial0 -chardev socket,id=charchannel0,path=$sock,server=on,wait=off -device virtserialport,bus=virtio-serial0.0,nr=1,chardev=charchannel0,id=channel0,name=org.qemu.guest_agent.0" ;;
*)
    echo "unknown channel '$channel' (pl011 or virtio)" >&2; exit 2 ;;
esac
echo "QGA channel: $sock"
# shellcheck disable=SC2086
exec qemu-system-aarch64 -machine virt -cpu cortex-a57 -m 128M -nodefaults \
    -display none -no-user-config -kernel "$image" $devices
