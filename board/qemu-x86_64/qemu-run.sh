#!/bin/sh
# Cargo runner: `cargo run --release [-- MACHINE [CHANNEL]]` builds the image
# and boots it in QEMU with the QGA channel on a unix socket.
#   MACHINE: q35 (default) or pc
#   CHANNEL: isa (default: -device isa-serial, like Proxmox's agent: type=isa)
#            or virtio (libvirt's virtio-serial port org.qemu.guest_agent.0)
# The socket path is printed first; override it with NANOQGA_SOCKET.
set -eu
image=$1
machine=${2:-q35}
channel=${3:-isa}
sock=${NANOQGA_SOCKET:-${TMPDIR:-/tmp}/nanoqga-x86_64-$machine-$channel.sock}
rm -f "$sock"
case $channel in
isa)
    devices="-chardev socket,id=qga0,path=$sock,server=on,wait=off -device isa-serial,chardev=qga0" ;;
virtio)
    devices="-device virtio-serial-pci,id=virtio-serial0 -chardev socket,id=charchannel0,path=$sock,server=on,wait=off -device virtserialport,bus=virtio-serial0.0,nr=1,chardev=charchannel0,id=channel0,name=org.qemu.guest_agent.0" ;;
*)
    echo "unknown channel '$channel' (isa or virtio)" >&2; exit 2 ;;
esac
echo "QGA channel: $sock"
# shellcheck disable=SC2086
exec qemu-system-x86_64 -machine "$machine" -m 128M -nodefaults -display none \
    -no-user-config -kernel "$image" $devices
